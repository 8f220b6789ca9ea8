#ifndef NODE_PATH_H
#define NODE_PATH_H
/* node/path.h: which path carries a peer's traffic. The decisions are pure
 * functions of a peer's path state, so they are tested without sockets;
 * node/path.c applies them to the daemon's peers and relay links.
 *
 * A direct path (UDP, "lan" for private, loopback and link-local IPv4, else
 * "direct") beats the relay; the relay carries traffic only with a session
 * and a link on which the relay paired us with the peer. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/relay_rank.h"

enum node_path_kind { NODE_PATH_NONE, NODE_PATH_RELAY, NODE_PATH_DIRECT, NODE_PATH_LAN };

/* node_path_name returns "none", "relay", "direct" or "lan" (static storage). */
const char *node_path_name(enum node_path_kind k);

/* node_path_choose returns the path in use: direct_ok is a verified direct
 * address (direct_lan: a private one); relay_ok a session plus a link of the
 * peer that is up. */
enum node_path_kind node_path_choose(bool direct_ok, bool direct_lan, bool relay_ok);

/* node_path_direct_moves says whether a verified packet from another address
 * than the direct one in use (cur) moves the direct path there: only to a
 * strictly better class (LAN over public), or once cur has been quiet for
 * more than NODE_DIRECT_STALE_MS (NAT rebinding, roaming). An address that
 * works is never left for another that merely also works (no flapping). */
bool node_path_direct_moves(bool cur_lan, bool from_lan, uint64_t cur_quiet_ms);

/* node_path_relay_better says whether a link (paired: the relay says the
 * peer is there; rank: its place in the mesh's relay order, lower first)
 * beats the best found so far. */
bool node_path_relay_better(bool paired, size_t rank, bool best_paired, size_t best_rank);

/* One of a peer's relay links, as node_path_relay_pick sees it. */
struct node_relay_cand {
	bool up;                    /* connected to the relay */
	bool closing;               /* being closed */
	bool silent;                /* went silent lately (node_path_relay_silent) */
	bool carries;               /* may carry traffic: not a doorbell or a call (node/lazy.h) */
	struct node_rank_cand rank; /* rank.usable: paired (the peer is there too; implies up) */
};

/* node_path_relay_pick returns which of a peer's n links (c) carries its
 * traffic, given cur, the one that carries it now (n: none); cur (or n)
 * means keep what there is. A paired link in use that has not gone silent
 * is kept; a doorbell or a call only knocks, so traffic leaves one as soon
 * as a link that carries traffic is paired, and then only such links are
 * candidates. Otherwise the best by node_rank_prefer of the links up and
 * not closing, silent ones only when every one is; an unpaired best does
 * not replace a current link that is up and not silent. Pure. */
size_t node_path_relay_pick(const struct node_relay_cand *c, size_t n, size_t cur);

/* The liveness of a path: one relay link on the relay path, or the direct
 * path (node/wire.h, NODE_RELAY_* and NODE_KEEPALIVE_*); times in ms of the
 * node's clock, 0: never. */
struct node_path_live {
	uint64_t traffic_ms; /* the peer's last text or overlay packet, either way, any path */
	uint64_t rx_ms;      /* the peer's last packet on the path */
	uint64_t wait_ms;    /* our first send asking for an answer since rx_ms */
};

/* node_path_sent notes, at t, a send on the path that asks for an answer (a
 * probe or asking keepalive, the user's traffic): it starts the wait unless
 * one runs. */
void node_path_sent(struct node_path_live *l, uint64_t t);

/* node_path_relay_every returns the probe pace at t: NODE_RELAY_PROBE_MS
 * while traffic is younger than NODE_RELAY_BUSY_MS, until a wait has started
 * after that window (one closing probe), or while a send waits for its
 * answer; else NODE_RELAY_PROBE_IDLE_MS. */
uint64_t node_path_relay_every(const struct node_path_live *l, uint64_t t);

/* node_path_relay_silent says whether the link has brought nothing back for
 * more than NODE_RELAY_SILENT_MS since the first send that waits. */
bool node_path_relay_silent(const struct node_path_live *l, uint64_t t);

/* node_path_direct_every returns the direct keepalive pace at t by the same
 * rule: NODE_KEEPALIVE_MS while traffic is younger than NODE_DIRECT_BUSY_MS,
 * until a wait has started after that window, or while a send waits; else
 * NODE_KEEPALIVE_IDLE_MS. A peer that has not shown it answers keepalives
 * (answers false: an older node, which only sends its own every 2 s and
 * counts its silence from its last packet in) always gets NODE_KEEPALIVE_MS. */
uint64_t node_path_direct_every(const struct node_path_live *l, uint64_t t, bool answers);

/* node_path_direct_quiet returns how long the direct address in use counts
 * as quiet for node_path_direct_moves when a verified packet comes from
 * another address at t: the time since it was last heard, but only while a
 * send of ours on it waits for its answer, or when that packet is the peer's
 * own keepalive asking for an answer (asks: its direct path to us comes from
 * there now); else 0. On an idle path the address in use is unconfirmed
 * beyond its last answer (12 s apart): a punch packet from another address
 * must not take the path from it (no flapping), but the peer that roamed
 * while idle is followed at its first keepalive from the new address. */
uint64_t node_path_direct_quiet(const struct node_path_live *l, uint64_t t, bool asks);

/* node_path_direct_dead says whether the direct path has brought nothing
 * back for more than NODE_DIRECT_DEAD_MS since the first send that waits. */
bool node_path_direct_dead(const struct node_path_live *l, uint64_t t);

#endif
