#ifndef NODE_LAZY_H
#define NODE_LAZY_H
/* node/lazy.h: lazy relay links for large meshes (docs/NODE.md, "How many
 * members").
 *
 * Below NODE_LAZY_AT members a node keeps a link to its pair session with
 * every member on every relay of the mesh (eager). Past it, that costs N
 * WebSockets per relay per node, more than a relay's default per-address
 * cap allows; the node then keeps pair links only with
 *  - its ring neighbours: the NODE_LAZY_RING members after it and before
 *    it in node-id order (the relation is symmetric, and the ring keeps
 *    every member reachable for membership sync), and
 *  - members it wants a session with: traffic either way, or a knock,
 *    within the idle time (NODE_LAZY_IDLE_MS).
 * Every lazy node waits on its own *doorbell* session on each relay,
 * HMAC(secret, "doorbell" || node id) (node/session_id.h). A node that wants
 * a member it has no link with opens its pair links and *calls*: a link to
 * the member's doorbell, where its handshake initiation is the knock. The
 * member answers on the doorbell, opens its own pair links, and after
 * NODE_DOORBELL_HOLD_MS (or once a pair link is paired) drops the doorbell
 * connection and waits on a fresh one for the next caller, as an invite's
 * inbox does. The caller's call link closes itself the same way.
 *
 * Idle pair links close on both sides or on neither: a node whose links
 * with a member went idle on a relay path asks it (NODE_MSG_IDLE) and holds
 * them (a `send`, a `ping` or an overlay packet waits for the answer:
 * node_lazy_reachable is false meanwhile) until the member closes
 * its own (it is idle too: the relay then closes ours), answers that it
 * still uses them (kept another idle time), or NODE_IDLE_WAIT_MS passes (an
 * older node).
 * Closing one side alone lost whatever the other had in flight.
 *
 * Environment (for tests and measurements): ATMOSPHERE_LAZY_LINKS_AT (members
 * above which links are lazy; 0: always), ATMOSPHERE_LAZY_IDLE_MS,
 * ATMOSPHERE_LAZY_RING (neighbours on each side; 0: none),
 * ATMOSPHERE_LAZY_MAX_LINKED (members linked on demand at once). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NODE_LAZY_AT 64
#define NODE_LAZY_RING 2
#define NODE_LAZY_IDLE_MS 300000u
#define NODE_DOORBELL_HOLD_MS 3000u
#define NODE_CALL_HOLD_MS 15000u
#define NODE_CALL_RETRY_MS 3000u       /* a member that does not answer is called again after this */
#define NODE_LAZY_CONNECT_MS 5000u     /* `send`/`ping` to a member without a session waits this long */
#define NODE_IDLE_WAIT_MS 2000u        /* an idle question unanswered this long: the links close */
/* Members linked on demand at once (ring neighbours not counted): a relay's
 * default cap of 256 connections per address leaves room for the doorbell,
 * the ring, calls and catch-up links beside them. */
#define NODE_LAZY_MAX_LINKED 128u
#define NODE_LAZY_MAX_CALLS 16u        /* members called at once */
#define NODE_LAZY_EVICT_AFTER_MS 10000u /* a member wanted within this long keeps its links at the cap */
#define NODE_LAZY_FULL_MS 100u         /* after a refusal at the cap, wants wait this long before looking again */

struct node;
struct node_peer;
struct node_link;

/* node_lazy_ring_marks: ids[0..n) are node ids (any order, self among
 * them at index self); sets mark[i] for the k members after self and the k
 * before it in sorted order, wrapping, never self. order[0..n) is scratch.
 * Pure: unit-tested in tests/node/test_lazy.c. */
void node_lazy_ring_marks(const char *const *ids, size_t n, size_t self, size_t k, size_t *order, bool *mark);

/* node_lazy_wants: whether a lazy node keeps pair links with a member: a
 * ring neighbour, or one wanted (traffic or a knock at last_ms) within
 * idle_ms of t. Pure. */
bool node_lazy_wants(bool ring, uint64_t last_ms, uint64_t t, uint64_t idle_ms);

/* Whether l is a pair link of this epoch: not an inbox, a join, a
 * doorbell, a call, a catch-up or a short code's rendezvous. */
bool node_lazy_is_pair_link(const struct node_link *l);
/* Whether l is a link traffic may take: not a doorbell or a call, which
 * only knock (node_pick_relay passes them over while one that may is
 * paired). */
bool node_lazy_carries_traffic(const struct node_link *l);
/* Whether node's relay links are lazy now (node_lazy_update decides). */
bool node_lazy(const struct node *node);
/* Re-reads the member count and the environment; opens the doorbells when
 * the node turns lazy and every pair link when it turns eager again. */
void node_lazy_update(struct node *node);
/* Whether node keeps pair links with p now (always when eager). */
bool node_lazy_link_wanted(struct node *node, const struct node_peer *p);
/* Whether p may have pair links opened: always when eager, a ring
 * neighbour or already linked; otherwise while fewer than
 * NODE_LAZY_MAX_LINKED members (ATMOSPHERE_LAZY_MAX_LINKED) are linked on
 * demand. At the cap the refusal is counted, and the member wanted least
 * recently, not within NODE_LAZY_EVICT_AFTER_MS, is made idle to free a
 * place (its links close as idle ones do: it is asked first). */
bool node_lazy_room(struct node *node, struct node_peer *p);
/* A pair link of p closed (or is closing): once p has none left, a place
 * it was asked to make is made. */
void node_lazy_link_gone(struct node *node, struct node_peer *p);
/* Traffic wants a session with p: when lazy and p has no pair link, opens
 * them and calls p's doorbell (at most NODE_LAZY_MAX_CALLS members at
 * once, and while node_lazy_room allows). Cheap when p already has links. */
void node_lazy_want(struct node *node, struct node_peer *p);
/* Call link l is up (or the member came to its doorbell): knock, with the
 * handshake under way or a new one. */
void node_lazy_call_up(struct node *node, struct node_link *l);
/* Idle pair links with a member over a relay path close on both sides or
 * neither: the question we asked it, per member. */
struct node_idle_ask {
	uint64_t ask_ms; /* when we last asked (0: never) */
	bool waiting;    /* asked, no answer yet: `send` and `ping` wait for it */
	bool kept;       /* it answered that it still uses them */
	bool evict;      /* to make room (node_lazy_room): idle now, whatever the time */
	uint8_t full;    /* caller: the member's answer to our knock at its cap, a
			  * NODE_FULL_* (node/wire.h); 0 none (cleared when a
			  * `send` or `ping` begins to wait) */
	bool owed;       /* callee: it knocked while we were at the cap; its pair
			  * link opens if a place is free within
			  * NODE_LAZY_CONNECT_MS (node_lazy_tick) */
	bool told;       /* callee: that caller heard why (once a knock) */
};
enum node_idle_act { NODE_IDLE_HOLD, NODE_IDLE_ASK_NOW, NODE_IDLE_CLOSE };
/* node_lazy_idle_act: at a tick, what becomes of the pair links with a
 * member: HOLD (wanted, or the answer is awaited, or the member said it
 * still uses them, for one idle time after the question), ASK_NOW (idle,
 * and not asked since last_want_ms or for an idle time: may_ask says a
 * question can be sent -- a session, no direct path, a link paired), or
 * CLOSE. paired: a pair link with it is paired. Updates q (an unanswered
 * question ends after NODE_IDLE_WAIT_MS or when the member's side closed;
 * ASK_NOW marks q as asked at t). Pure: tests/node/test_lazy.c. */
enum node_idle_act node_lazy_idle_act(struct node_idle_ask *q, bool wanted, uint64_t last_want_ms, bool paired,
				      bool may_ask, uint64_t t, uint64_t idle_ms);
/* node_lazy_idle_stays: whether a node answers an idle question with
 * "still in use". lazy: its links are lazy (an eager node always keeps
 * them: it would never reopen them); room: the asker is at its cap of
 * linked members; wanted: node_lazy_link_wanted; busy: used within
 * NODE_LAZY_EVICT_AFTER_MS, or kept for a ring, a membership sync or a
 * join. Pure: tests/node/test_lazy.c. */
bool node_lazy_idle_stays(bool lazy, bool room, bool wanted, bool busy);
/* A NODE_MSG_IDLE message from p (node/wire.h): a question is answered, an
 * answer ends our wait. */
void node_lazy_on_idle(struct node *node, struct node_peer *p, const uint8_t *m, size_t n);
/* Whether we asked p whether idle pair links may close and wait for the
 * answer (at most NODE_IDLE_WAIT_MS). */
bool node_lazy_asking(const struct node_peer *p);
/* The relay closed pair link l (a Close frame). While we ask its member
 * whether idle links may close, that is the member's answer: once its
 * last pair link (one per relay) is gone, what waits for the answer (a
 * `send`, staged overlay packets) goes on at once, by a new call if it
 * still wants the member, not when NODE_IDLE_WAIT_MS runs out. Returns
 * whether l closes for good (asked, and not wanted since); false: it
 * reconnects as after any other end. l must be down already. */
bool node_lazy_closed_on_its_side(struct node *node, struct node_link *l);
/* Whether p can be sent to now: a session, and a direct path or a relay
 * link where p is there too (paired) that carries traffic: a pair link (or
 * a catch-up one), not the doorbell or the call that brought the two
 * together, which the member behind the doorbell frees once its pair link
 * pairs -- a message sent there then would be lost -- and not while we
 * asked p whether idle links may close. */
bool node_lazy_reachable(const struct node_peer *p);
/* A handshake initiation from p arrived on doorbell link l. At our cap of
 * linked members, p's pair link waits for a place. */
void node_lazy_knocked(struct node *node, struct node_link *l, struct node_peer *p);
/* A message from p came on link l (any kind of link): if l is our doorbell
 * and p knocked while we were at the cap, p hears why, once a knock
 * (NODE_IDLE_FULL, node/wire.h). The caller confirms its session there
 * with a KEEP: a responder cannot send before. May suspend: l and p are
 * not to be used after it. */
void node_lazy_doorbell_heard(struct node *node, struct node_link *l, struct node_peer *p);
/* Every tick: ring neighbours, idle pair links closed, doorbells freed,
 * calls ended. */
void node_lazy_tick(struct node *node, uint64_t t);

#endif
