/* node/path.c: path selection: which direct address and which relay link carry a peer's traffic. */
#include <string.h>

#include "core/log.h"
#include "node/family.h"
#include "node/internal.h"
#include "node/lazy.h"
#include "node/overlay.h"

static const char *const path_names[] = {"none", "relay", "direct", "lan"};

const char *node_path_name(enum node_path_kind k)
{
	return (size_t)k < sizeof path_names / sizeof path_names[0] ? path_names[k] : "none";
}

enum node_path_kind node_path_choose(bool direct_ok, bool direct_lan, bool relay_ok)
{
	if (direct_ok)
		return direct_lan ? NODE_PATH_LAN : NODE_PATH_DIRECT;
	return relay_ok ? NODE_PATH_RELAY : NODE_PATH_NONE;
}

bool node_path_direct_moves(bool cur_lan, bool from_lan, uint64_t cur_quiet_ms)
{
	return (from_lan && !cur_lan) || cur_quiet_ms > NODE_DIRECT_STALE_MS;
}

bool node_path_relay_better(bool paired, size_t rank, bool best_paired, size_t best_rank)
{
	return (paired && !best_paired) || (paired == best_paired && rank < best_rank);
}

enum node_path_kind node_peer_path(const struct node_peer *p)
{
	return node_path_choose(p->direct_ok, p->direct_ok && node_is_lan(&p->direct),
				p->ss.have_s && p->relay && p->relay->up && p->relay->peer == p);
}

/* A direct address's class (node/family.h): LAN, then IPv6, then public IPv4. */
static unsigned direct_rank(const struct sockaddr_storage *a)
{
	return node_family_direct_rank(node_is_lan(a), a->ss_family == AF_INET6);
}

/* rx: the socket the packet came in on (NULL: node->udp). The direct path
 * takes it with the address: replies must leave by the mapping the packet
 * came through, which for a hard-NAT probing socket is that socket's own
 * (node/hardnat.c). */
void node_mark_direct(struct node *node, struct node_peer *p, const struct sockaddr_storage *from, socklen_t len,
		      struct node_usock *rx, bool asks)
{
	if (node_overlay_owns(node, from))
		return; /* the overlay inside itself: never a direct path */
	if (node->o->relay_only)
		return; /* serve --relay-only: the relay carries everything */
	uint64_t t = node_now_ms();
	bool was = p->direct_ok;
	enum node_path_kind before = node_peer_path(p);
	/* Keep the address in use while it works. A peer reachable at two
	 * addresses (two LAN interfaces, or LAN and public) sends from both
	 * while punching, and following every packet made the path flap. Move
	 * only to a strictly better class (LAN over IPv6 over public IPv4,
	 * node/family.h), or to an address
	 * that works once the current one has been quiet for NODE_DIRECT_STALE_MS
	 * (NAT rebinding, roaming), quiet as node_path_direct_quiet counts it. */
	struct node_path_live live = node_direct_live(p);
	bool move = was && !node_same_addr(&p->direct, from) &&
		    node_family_direct_moves(direct_rank(&p->direct), direct_rank(from),
					     node_path_direct_quiet(&live, t, asks));
	if (move) {
		char a[64], b2[64];
		node_fmt_addr(&p->direct, a, sizeof a);
		node_fmt_addr(from, b2, sizeof b2);
		core_log(CORE_LOG_INFO, "peer %s: direct path moved from %s to %s", p->name, a, b2);
	}
	if (!was || move) {
		p->direct = *from;
		p->direct_len = len;
		p->direct_ok = true;
		p->direct_sock = rx;
		/* A new path is measured afresh; without one the figure is
		 * unused (node_pmtu_path gives 1280 off a direct path). */
		node_pmtu_reset(&p->pmtu);
	}
	if (!was) {
		p->direct_wait_ms = 0; /* a lost path's wait is not the new one's */
		p->direct_since_unix_ms = node_wall_ms();
	}
	if (node_same_addr(&p->direct, from))
		p->direct_rx_ms = t;
	node_cand_mark(p, from, NODE_CAND_ANSWERED);
	if (!was) {
		char a[64];
		node_fmt_addr(&p->direct, a, sizeof a);
		core_log(CORE_LOG_INFO, "peer %s: %s path open to %s (was %s)", node_peer_name(p),
			 node_path_name(node_peer_path(p)), a, node_path_name(before));
		if (node->joining && p == node->issuer && !node->said_direct && !node->said_relay) {
			node->said_direct = true;
			node_say(node, "✓ P2P connection established!");
			node_join_finish(node);
		}
		/* Tell the peer at once so it learns the path too. */
		node_peer_send_via(node, p, rx, NODE_MSG_KEEP, NULL, 0, from, len, 0);
	}
	if (!was || move)
		node_send_observed(node, p);
}

/* Every peer has a link on every relay of the mesh (and, while joining, on
 * every relay of the code): all of them receive, one sends. A link is
 * usable when the relay said the other side is there (paired). The one in
 * use is kept while it stays usable (node/relay_rtt.c moves it to a relay
 * measured clearly faster); otherwise the usable one with the lowest
 * measured RTT, or, before any is measured, the first usable in the mesh's
 * relay order (the same on both sides, so both usually pick the same
 * relay), pair sessions before join inboxes (node_rank_prefer). */
bool node_link_paired(const struct node_link *l)
{
	return l->used && l->up && l->c && !l->closing && relay_client_paired(l->c);
}

/* A link's place in the mesh's relay order (pair sessions; inbox and join
 * links after them): the tie-break of node/relay_rank.h. */
size_t node_link_rank(struct node *node, const struct node_link *l)
{
	if (!l->inbox && !l->join && !l->doorbell && !l->call)
		for (size_t i = 0; i < node->st->num_relays; i++)
			if (!strcmp(node->st->relays[i], l->url))
				return i;
	return NODE_TOKEN_MAX_RELAYS;
}

size_t node_path_relay_pick(const struct node_relay_cand *c, size_t n, size_t cur)
{
	const struct node_relay_cand *k = cur < n ? &c[cur] : NULL;
	bool keep = k && k->rank.usable && !k->silent;
	if (keep && k->carries)
		return cur;
	bool pair_ready = false;
	for (size_t i = 0; i < n && !pair_ready; i++)
		pair_ready = c[i].carries && c[i].rank.usable;
	if (keep && !pair_ready)
		return cur;
	size_t best = n;
	for (int pass = 0; pass < 2 && best == n; pass++)
		for (size_t i = 0; i < n; i++) {
			if (!c[i].up || c[i].closing || (!pass && c[i].silent))
				continue;
			if (pair_ready && !(c[i].carries && c[i].rank.usable))
				continue;
			if (best == n || node_rank_prefer(&c[i].rank, &c[best].rank))
				best = i;
		}
	if (best == n || best == cur || (k && k->up && !c[best].rank.usable && !k->silent))
		return cur < n ? cur : n;
	return best;
}

/* Links up for one peer: on each relay a pair link, a catch-up one, a call
 * and our doorbell bound to it, and a join's; past this many the rest are
 * not considered (the current one always is). */
#define PICK_MAX (4 * NODE_TOKEN_MAX_RELAYS + 4)

void node_pick_relay(struct node *node, struct node_peer *p)
{
	if (!p)
		return;
	struct node_link *cur = p->relay;
	if (cur && (!cur->used || cur->peer != p)) {
		/* Discarded, or its slot now serves another session: never send
		 * on it again, whether or not a replacement is found below. */
		cur = NULL;
		p->relay = NULL;
	}
	uint64_t t = node_now_ms();
	if (cur && node_lazy_carries_traffic(cur) && cur->silent_until_ms <= t && node_link_paired(cur))
		return; /* the common case, every packet: no scan */
	struct node_link *ls[PICK_MAX];
	struct node_relay_cand c[PICK_MAX];
	size_t n = 0;
	/* The current link first, so that it is there whatever the bound;
	 * then the others that could carry anything. */
	if (cur)
		ls[n++] = cur;
	for (size_t i = 0; i < node->links_hi && n < PICK_MAX; i++) {
		struct node_link *l = &node->links[i];
		if (l->used && l->peer == p && l != cur && l->up && !l->closing)
			ls[n++] = l;
	}
	for (size_t i = 0; i < n; i++) {
		c[i].up = ls[i]->up;
		c[i].closing = ls[i]->closing;
		c[i].silent = ls[i]->silent_until_ms > t;
		c[i].carries = node_lazy_carries_traffic(ls[i]);
		node_link_rank_cand(node, ls[i], &c[i].rank);
	}
	size_t k = node_path_relay_pick(c, n, cur ? 0 : n);
	if (k >= n || ls[k] == cur)
		return; /* nothing better: keep what there is */
	if (cur && strcmp(cur->url, ls[k]->url))
		core_log(CORE_LOG_INFO, "peer %s: relay path moved from %s to %s", node_peer_name(p), cur->url,
			 ls[k]->url);
	p->relay = ls[k];
}

static bool live_waiting(const struct node_path_live *l)
{
	return l->wait_ms && l->rx_ms < l->wait_ms;
}

void node_path_sent(struct node_path_live *l, uint64_t t)
{
	if (!live_waiting(l))
		l->wait_ms = t;
}

/* The two-regime pace of node/wire.h: fast with traffic within busy_ms, for
 * one closing send after that window, and while a send waits; else idle. */
static uint64_t live_every(const struct node_path_live *l, uint64_t t, uint64_t fast, uint64_t idle, uint64_t busy_ms)
{
	bool busy = l->traffic_ms && t - l->traffic_ms < busy_ms;
	/* The window closes with one more send that asks, so that a path that
	 * died after the window's last answer is still noticed at the fast
	 * pace. */
	bool closing = l->traffic_ms && l->wait_ms < l->traffic_ms + busy_ms;
	return busy || closing || live_waiting(l) ? fast : idle;
}

/* Silence counts from the first unanswered send, never from the regime. */
static bool live_silent(const struct node_path_live *l, uint64_t t, uint64_t limit_ms)
{
	return live_waiting(l) && t > l->wait_ms && t - l->wait_ms > limit_ms;
}

uint64_t node_path_relay_every(const struct node_path_live *l, uint64_t t)
{
	return live_every(l, t, NODE_RELAY_PROBE_MS, NODE_RELAY_PROBE_IDLE_MS, NODE_RELAY_BUSY_MS);
}

bool node_path_relay_silent(const struct node_path_live *l, uint64_t t)
{
	return live_silent(l, t, NODE_RELAY_SILENT_MS);
}

uint64_t node_path_direct_every(const struct node_path_live *l, uint64_t t, bool answers)
{
	if (!answers)
		return NODE_KEEPALIVE_MS;
	return live_every(l, t, NODE_KEEPALIVE_MS, NODE_KEEPALIVE_IDLE_MS, NODE_DIRECT_BUSY_MS);
}

uint64_t node_path_direct_quiet(const struct node_path_live *l, uint64_t t, bool asks)
{
	return (asks || live_waiting(l)) && t > l->rx_ms ? t - l->rx_ms : 0;
}

bool node_path_direct_dead(const struct node_path_live *l, uint64_t t)
{
	return live_silent(l, t, NODE_DIRECT_DEAD_MS);
}

struct node_path_live node_link_live(const struct node_peer *p, const struct node_link *l)
{
	return (struct node_path_live){.traffic_ms = p->traffic_ms, .rx_ms = l->rx_ms, .wait_ms = l->wait_ms};
}

void node_link_sent_waits(struct node_peer *p, struct node_link *l, uint64_t t)
{
	struct node_path_live live = node_link_live(p, l);
	node_path_sent(&live, t);
	l->wait_ms = live.wait_ms;
}

struct node_path_live node_direct_live(const struct node_peer *p)
{
	return (struct node_path_live){
		.traffic_ms = p->traffic_ms, .rx_ms = p->direct_rx_ms, .wait_ms = p->direct_wait_ms};
}

void node_direct_sent_waits(struct node_peer *p, uint64_t t)
{
	struct node_path_live live = node_direct_live(p);
	node_path_sent(&live, t);
	p->direct_wait_ms = live.wait_ms;
}
