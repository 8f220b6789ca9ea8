/* node/lazy.c: lazy relay links, doorbells and calls for large meshes; see lazy.h. */
#include "node/lazy.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "node/internal.h"
#include "node/session_id.h"
#include "node/wire.h"

static int by_id(const void *a, const void *b, void *ctx)
{
	const char *const *ids = ctx;
	return strcmp(ids[*(const size_t *)a], ids[*(const size_t *)b]);
}

void node_lazy_ring_marks(const char *const *ids, size_t n, size_t self, size_t k, size_t *order, bool *mark)
{
	for (size_t i = 0; i < n; i++) {
		order[i] = i;
		mark[i] = false;
	}
	if (n < 2 || !k || self >= n)
		return;
	qsort_r(order, n, sizeof *order, by_id, (void *)ids);
	size_t pos = 0;
	while (order[pos] != self)
		pos++;
	for (size_t d = 1; d <= k && d < n; d++) {
		mark[order[(pos + d) % n]] = true;
		mark[order[(pos + n - d) % n]] = true;
	}
	mark[self] = false;
}

bool node_lazy_wants(bool ring, uint64_t last_ms, uint64_t t, uint64_t idle_ms)
{
	return ring || (last_ms && t < last_ms + idle_ms);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	char *end;
	if (!v || !*v)
		return def;
	unsigned long long x = strtoull(v, &end, 10);
	return *end ? def : (uint64_t)x;
}

bool node_lazy(const struct node *node) { return node->lazy; }

bool node_lazy_is_pair_link(const struct node_link *l)
{
	return l->used && !l->inbox && !l->join && !l->doorbell && !l->call && !l->catchup && !l->offer;
}

bool node_lazy_carries_traffic(const struct node_link *l)
{
	return !l->doorbell && !l->call;
}

/* Whether p has a pair link (any state but closing). */
static bool has_pair_link(struct node *node, const struct node_peer *p, bool paired)
{
	for (size_t i = 0; i < node->links_hi; i++) {
		const struct node_link *l = &node->links[i];
		if (node_lazy_is_pair_link(l) && l->peer == p && !l->closing && (!paired || node_link_paired(l)))
			return true;
	}
	return false;
}

/* Our doorbell on every relay of the mesh (node_link_open finds one that is
 * there already). */
static void open_doorbells(struct node *node)
{
	char sid[NODE_SESSION_ID_LEN + 1];
	if (!node->st->have_mesh)
		return;
	node_doorbell_session_id(sid, node->st->secret, node->st->node_id);
	for (size_t i = 0; i < node->st->num_relays; i++) {
		struct node_link *l = node_link_open(node, node->st->relays[i], sid, false, NULL);
		if (l)
			l->doorbell = true;
	}
}

void node_lazy_update(struct node *node)
{
	if (!node->lazy_env) {
		node->lazy_env = true;
		node->lazy_at = env_u64("ATMOSPHERE_LAZY_LINKS_AT", NODE_LAZY_AT);
		node->lazy_idle_ms = env_u64("ATMOSPHERE_LAZY_IDLE_MS", NODE_LAZY_IDLE_MS);
		node->lazy_ring = env_u64("ATMOSPHERE_LAZY_RING", NODE_LAZY_RING);
		node->lazy_max_linked = env_u64("ATMOSPHERE_LAZY_MAX_LINKED", NODE_LAZY_MAX_LINKED);
	}
	/* Other members: the largest of the peers we hold, the ones saved on
	 * disk and the membership table's members in good standing (at a
	 * start, before a peer exists for each of them). */
	size_t members = 0, table = 0;
	for (size_t i = 0; i < node->peers_hi; i++)
		members += node->peers[i].used && node->peers[i].node_id[0];
	if (members < node->st->num_peers)
		members = node->st->num_peers;
	for (size_t i = 0; node->mem && i < node->mem->num; i++)
		table += node_members_good(node->mem, (int)i);
	if (table && table - 1 > members)
		members = table - 1;
	node->lazy_members = members;
	/* Hysteresis: lazy above lazy_at, eager again only at 7/8 of it, so a
	 * member joining and leaving at the line does not open and close every
	 * pair link. */
	uint64_t line = node->lazy ? node->lazy_at - node->lazy_at / 8 : node->lazy_at;
	bool lazy = node->st->have_mesh && node->st->num_relays && members > line;
	if (lazy == node->lazy)
		return;
	node->lazy = lazy;
	core_log(CORE_LOG_INFO, "relay links: %s (%zu members, lazy above %llu)", lazy ? "lazy, with a doorbell" : "eager",
		 members, (unsigned long long)node->lazy_at);
	node->lazy_next_ms = 0;
	if (lazy) {
		open_doorbells(node);
		return;
	}
	for (size_t i = 0; i < node->links_hi; i++)
		if (node->links[i].used && (node->links[i].doorbell || node->links[i].call) && !node->links[i].closing)
			node_link_close(&node->links[i]);
	for (size_t i = 0; i < node->peers_hi; i++) {
		struct node_peer *p = &node->peers[i];
		if (p->used && p->node_id[0] && !p->joiner)
			node_link_open_pair(node, p);
	}
}

/* When traffic or a knock last wanted a session with p. */
static uint64_t last_want(const struct node_peer *p)
{
	return p->want_ms > p->traffic_ms ? p->want_ms : p->traffic_ms;
}

/* Members kept linked for the mesh's own shape: a ring neighbour, our
 * issuer while we join. They are not counted against the cap. */
static bool uncounted(const struct node *node, const struct node_peer *p)
{
	return p->ring || (node->joining && p == node->issuer);
}

/* Members linked even at the cap: those uncounted, and those with a
 * membership sync under way (entries owed, a digest). They count, and
 * never make room. A summary owed is not a sync under way: every new
 * session owes one, and a caller's knock is a new session, so every
 * caller would pass a callee's cap. */
static bool past_cap(const struct node *node, const struct node_peer *p)
{
	return uncounted(node, p) || p->want_any || p->dig_active;
}

/* Whether p's pair links are kept whatever the traffic: past the cap, or a
 * summary owed (it goes on the links once they are up). */
static bool kept_anyway(const struct node *node, const struct node_peer *p)
{
	return past_cap(node, p) || p->sum_due;
}

/* The relays of the mesh (at least one): caps on links count per relay. */
static size_t relays(const struct node *node)
{
	return node->st->num_relays ? node->st->num_relays : 1;
}

bool node_lazy_link_wanted(struct node *node, const struct node_peer *p)
{
	if (!node->lazy || kept_anyway(node, p))
		return true;
	return !p->idle.evict && node_lazy_wants(false, last_want(p), node_now_ms(), node->lazy_idle_ms);
}

/* What the cap's check found: a place, a member asked to make one, or
 * neither (every member linked was used lately or is kept anyway). */
enum room { ROOM, MAKING_ROOM, NO_ROOM };

/* The cap's decision for p. caller: p called us (a knock), and only a place
 * lets it in: a membership sync under way with it does not, since its
 * knock's own session starts one (node_gossip_session). fresh: scan even
 * within NODE_LAZY_FULL_MS of a refusal. */
static enum room room_for(struct node *node, struct node_peer *p, bool caller, bool fresh)
{
	/* Members past the cap are bounded by the membership's own limits, and
	 * needed for the mesh to hold together. */
	if (!node->lazy || (caller ? uncounted(node, p) : past_cap(node, p)) || has_pair_link(node, p, false))
		return ROOM;
	uint64_t t = node_now_ms();
	/* At the cap a moment ago: every overlay packet to an unlinked member
	 * asks, so the scan below runs at most every NODE_LAZY_FULL_MS. */
	if (!fresh && node->lazy_refused_ms && t - node->lazy_refused_ms < NODE_LAZY_FULL_MS)
		return NO_ROOM;
	size_t cap = (size_t)node->lazy_max_linked * relays(node), n = 0;
	bool freeing = false;
	struct node_peer *old = NULL;
	for (size_t i = 0; i < node->links_hi; i++) {
		const struct node_link *l = &node->links[i];
		struct node_peer *q = l->peer;
		if (!node_lazy_is_pair_link(l) || l->closing || !q || uncounted(node, q))
			continue;
		n++;
		freeing |= q->idle.evict;
		if (q->idle.evict || q->idle.kept || q->idle.waiting || kept_anyway(node, q) ||
		    t - last_want(q) < NODE_LAZY_EVICT_AFTER_MS)
			continue;
		if (!old || last_want(q) < last_want(old))
			old = q;
	}
	if (n < cap)
		return ROOM;
	node->lazy_refused++;
	node->lazy_refused_ms = t;
	if (!freeing && old) {
		old->idle.evict = true;
		freeing = true;
		core_log(CORE_LOG_DEBUG, "relay links: %s, unused for %llu s, goes idle to make room for %s",
			 node_peer_name(old), (unsigned long long)((t - last_want(old)) / 1000), node_peer_name(p));
	}
	/* Said once per NODE_LAZY_EVICT_AFTER_MS: a waiting `send` asks again
	 * every 50 ms, and the count is in `peers --json`. */
	if (!node->lazy_refused_said_ms || t - node->lazy_refused_said_ms >= NODE_LAZY_EVICT_AFTER_MS) {
		node->lazy_refused_said_ms = t;
		core_log(CORE_LOG_INFO,
			 "relay links: %llu members linked at once, the most (ATMOSPHERE_LAZY_MAX_LINKED): %s waits for a place",
			 (unsigned long long)node->lazy_max_linked, node_peer_name(p));
	}
	return freeing ? MAKING_ROOM : NO_ROOM;
}

bool node_lazy_room(struct node *node, struct node_peer *p)
{
	return room_for(node, p, false, false) == ROOM;
}

/* A caller owed a place gets it: its pair link opens (why: for the log). */
static void link_caller(struct node *node, struct node_peer *p, const char *why)
{
	p->idle.owed = false;
	core_log(CORE_LOG_DEBUG, "relay links: a place is free%s: linking %s, who called", why, node_peer_name(p));
	node_link_open_pair(node, p);
}

/* Members that knocked while we were at the cap: their pair links open
 * when a place is free, within NODE_LAZY_CONNECT_MS of the knock (what a
 * caller's `send` waits; later, no one waits on the other side, and a
 * place made for it would be taken from a member in use). */
static void pay_owed(struct node *node)
{
	uint64_t t = node_now_ms(); /* nothing below suspends: no knock is later */
	for (size_t i = 0; i < node->peers_hi; i++) {
		struct node_peer *p = &node->peers[i];
		if (!p->used || !p->idle.owed)
			continue;
		if (t - p->want_ms >= NODE_LAZY_CONNECT_MS || !node_lazy_link_wanted(node, p) ||
		    has_pair_link(node, p, false)) {
			p->idle.owed = false;
			continue;
		}
		if (room_for(node, p, true, false) != ROOM)
			return; /* still full: the others wait too */
		link_caller(node, p, "");
	}
}

/* A call: a link to p's doorbell on every relay, bound to p; its
 * initiation is the knock (node_lazy_call_up). */
static void call(struct node *node, struct node_peer *p, uint64_t t)
{
	char sid[NODE_SESSION_ID_LEN + 1];
	node_doorbell_session_id(sid, node->st->secret, p->node_id);
	for (size_t i = 0; i < node->st->num_relays; i++) {
		struct node_link *l = node_link_open(node, node->st->relays[i], sid, false, p);
		if (l && !l->call) {
			l->call = true;
			l->opened_ms = t;
		}
	}
	core_log(CORE_LOG_DEBUG, "relay links: calling %s at its doorbell", node_peer_name(p));
}

/* Call links open (one per relay for each member called). */
static size_t calls(const struct node *node)
{
	size_t n = 0;
	for (size_t i = 0; i < node->links_hi; i++)
		n += node->links[i].used && node->links[i].call && !node->links[i].closing;
	return n;
}

/* Whether a call to p is open. */
static bool calling(struct node *node, const struct node_peer *p)
{
	for (size_t i = 0; i < node->links_hi; i++)
		if (node->links[i].used && node->links[i].call && node->links[i].peer == p && !node->links[i].closing)
			return true;
	return false;
}

void node_lazy_want(struct node *node, struct node_peer *p)
{
	if (!node->lazy || !p || !p->used || !p->node_id[0] || p->joiner)
		return;
	uint64_t t = node_now_ms();
	p->want_ms = t;
	/* A call at most every NODE_CALL_RETRY_MS, and only while no pair link
	 * is paired and none is open: one that failed (the member was away,
	 * its doorbell busy) is tried again. */
	if (p->call_ms && t - p->call_ms < NODE_CALL_RETRY_MS)
		return;
	if (has_pair_link(node, p, true) || calling(node, p))
		return;
	p->idle.evict = false;
	if (calls(node) >= NODE_LAZY_MAX_CALLS * relays(node) ||
	    !node_lazy_room(node, p))
		return; /* tried again at the next want */
	p->call_ms = t;
	node_link_open_pair(node, p);
	call(node, p, t);
}

void node_lazy_call_up(struct node *node, struct node_link *l)
{
	struct node_peer *p = l->peer;
	if (!l->call || !p || !p->used)
		return;
	/* The knock is an initiation even when a session exists: the member
	 * behind the doorbell learns who calls only from one. */
	if (p->hs_live)
		node_send_on_link(l, p->hs_init, sizeof p->hs_init);
	else
		node_handshake_start(node, p, NULL);
}

bool node_lazy_asking(const struct node_peer *p)
{
	return p->idle.waiting && node_now_ms() - p->idle.ask_ms < NODE_IDLE_WAIT_MS;
}

bool node_lazy_closed_on_its_side(struct node *node, struct node_link *l)
{
	struct node_peer *p = l->peer;
	if (!node->lazy || !node_lazy_is_pair_link(l) || !p || l->closing || !node_lazy_asking(p))
		return false;
	/* l is down: has_pair_link sees only the other relays' links. */
	if (!has_pair_link(node, p, true))
		p->idle.waiting = false;
	if (node_lazy_link_wanted(node, p))
		return false;
	core_log(CORE_LOG_DEBUG, "relay links: %s idle: its pair link on %s closes (closed on its side)", node_peer_name(p),
		 l->url);
	return true;
}

bool node_lazy_reachable(const struct node_peer *p)
{
	return node_peer_ready(p) && (p->direct_ok || (!node_lazy_asking(p) && p->relay && p->relay->peer == p &&
							 node_link_paired(p->relay) && node_lazy_carries_traffic(p->relay)));
}

void node_lazy_knocked(struct node *node, struct node_link *l, struct node_peer *p)
{
	if (!l->doorbell || !p || !p->used || l->peer != p)
		return; /* the answer's send suspended: p may be gone */
	l->bound_ms = node_now_ms();
	p->want_ms = l->bound_ms;
	p->idle.evict = false; /* it wants us: not the one to make room */
	core_log(CORE_LOG_DEBUG, "relay links: %s knocked at our doorbell on %s", node_peer_name(p), l->url);
	enum room r = room_for(node, p, true, false);
	if (r == ROOM) {
		p->idle.owed = false;
		node_link_open_pair(node, p);
		return;
	}
	/* At our cap: its pair link opens here once a place is free, and the
	 * caller hears why once it confirms the session (a responder cannot
	 * send before: node_lazy_doorbell_heard). */
	p->idle.owed = true;
	p->idle.told = false;
	core_log(CORE_LOG_DEBUG, "relay links: %s called, but %llu members are linked at once already, the most: %s",
		 node_peer_name(p), (unsigned long long)node->lazy_max_linked,
		 r == MAKING_ROOM ? "one makes room" : "none can make room now");
}

void node_lazy_doorbell_heard(struct node *node, struct node_link *l, struct node_peer *p)
{
	if (!l->doorbell || !l->used || l->peer != p || !p->idle.owed || p->idle.told)
		return;
	p->idle.told = true;
	/* Decided now, not at the knock: a place may have been made since. */
	enum room r = room_for(node, p, true, true);
	if (r == ROOM) {
		link_caller(node, p, " already");
		return; /* its pair link pairs: nothing to tell */
	}
	uint8_t full[2] = {NODE_IDLE_FULL, r == MAKING_ROOM ? NODE_FULL_MAKING_ROOM : NODE_FULL_NONE_IDLE};
	if (r == NO_ROOM) {
		/* It gives up at once: no place is made for it, and the doorbell
		 * is free for the next caller at the next tick. */
		p->idle.owed = false;
		l->bound_ms = 1;
	}
	/* On the doorbell link: traffic never goes there, but this is no
	 * traffic, and the caller waits on its call link. Last: it may
	 * suspend. */
	node_peer_send_on_link(node, p, l, NODE_MSG_IDLE, full, sizeof full);
}

enum node_idle_act node_lazy_idle_act(struct node_idle_ask *q, bool wanted, uint64_t last_want_ms, bool paired,
				      bool may_ask, uint64_t t, uint64_t idle_ms)
{
	if (q->waiting && (t - q->ask_ms >= NODE_IDLE_WAIT_MS || !paired))
		q->waiting = false; /* no answer (an older node), or it closed its side */
	if (q->waiting || wanted)
		return NODE_IDLE_HOLD;
	bool asked = q->ask_ms && q->ask_ms >= last_want_ms && t - q->ask_ms < idle_ms;
	if (asked && q->kept && paired)
		return NODE_IDLE_HOLD; /* it asks us when it is done */
	q->kept = false;
	if (asked || !may_ask)
		return NODE_IDLE_CLOSE;
	q->ask_ms = t;
	q->waiting = true;
	return NODE_IDLE_ASK_NOW;
}

/* Pair link l of p at the tick: kept while wanted; idle, it closes, but
 * over a relay path only once p has had its say (node/lazy.h). */
static void idle_link(struct node *node, struct node_link *l, struct node_peer *p, uint64_t t)
{
	bool paired = has_pair_link(node, p, true);
	enum node_idle_act a = node_lazy_idle_act(&p->idle, node_lazy_link_wanted(node, p), last_want(p), paired,
						  paired && node_peer_ready(p) && !p->direct_ok, t, node->lazy_idle_ms);
	if (a == NODE_IDLE_HOLD)
		return;
	if (a == NODE_IDLE_ASK_NOW) {
		const uint8_t ask = p->idle.evict ? NODE_IDLE_ASK_ROOM : NODE_IDLE_ASK;
		core_log(CORE_LOG_DEBUG, "relay links: %s idle: asking whether it still uses the pair links", node_peer_name(p));
		/* Whatever the send did, it may have suspended: l and p are not
		 * touched after it. Unsent, the wait runs out and the next tick
		 * closes the links. */
		node_peer_send(node, p, NODE_MSG_IDLE, &ask, 1);
		return;
	}
	core_log(CORE_LOG_DEBUG, "relay links: %s idle: its pair link on %s closes", node_peer_name(p), l->url);
	node_link_close(l);
	node_lazy_link_gone(node, p);
}

void node_lazy_link_gone(struct node *node, struct node_peer *p)
{
	/* Made room (or none was needed): p is a member like any other again. */
	if (p && !has_pair_link(node, p, false))
		p->idle.evict = false;
}

bool node_lazy_idle_stays(bool lazy, bool room, bool wanted, bool busy)
{
	return !lazy || (wanted && (!room || busy));
}

void node_lazy_on_idle(struct node *node, struct node_peer *p, const uint8_t *m, size_t n)
{
	if (n == 2 && m[0] == NODE_IDLE_FULL && (m[1] == NODE_FULL_NONE_IDLE || m[1] == NODE_FULL_MAKING_ROOM)) {
		p->idle.full = m[1];
		core_log(CORE_LOG_DEBUG, "relay links: %s is at its cap of linked members: %s", node_peer_name(p),
			 m[1] == NODE_FULL_MAKING_ROOM ? "it makes room" : "none is idle");
		return;
	}
	if (n != 1)
		return;
	if (m[0] == NODE_IDLE_STAY) {
		if (p->idle.waiting) {
			p->idle.waiting = false;
			p->idle.kept = true;
			p->idle.evict = false; /* the cap takes another */
			core_log(CORE_LOG_DEBUG, "relay links: %s still uses the pair links: kept", node_peer_name(p));
		}
		return;
	}
	if (m[0] != NODE_IDLE_ASK && m[0] != NODE_IDLE_ASK_ROOM)
		return;
	bool busy = kept_anyway(node, p) || node_now_ms() - last_want(p) < NODE_LAZY_EVICT_AFTER_MS;
	if (node_lazy_idle_stays(node->lazy, m[0] == NODE_IDLE_ASK_ROOM, node_lazy_link_wanted(node, p), busy)) {
		static const uint8_t answer = NODE_IDLE_STAY;
		node_peer_send(node, p, NODE_MSG_IDLE, &answer, 1);
		return;
	}
	/* Idle on both sides: ours close now, and the relay closes p's. What
	 * we send p from here on calls it again. */
	core_log(CORE_LOG_DEBUG, "relay links: %s idle on both sides%s: the pair links close", node_peer_name(p),
		 m[0] == NODE_IDLE_ASK_ROOM ? " (it needs the room)" : "");
	p->idle.waiting = false;
	p->idle.kept = false;
	p->idle.evict = false;
	for (size_t i = 0; i < node->links_hi; i++) {
		struct node_link *l = &node->links[i];
		if (node_lazy_is_pair_link(l) && l->peer == p && !l->closing)
			node_link_close(l);
	}
}

/* Ring neighbours, from every member we hold a peer record for. */
static void ring(struct node *node)
{
	size_t n = 0, self;
	const char **ids = malloc((node->peers_hi + 1) * sizeof *ids);
	size_t *idx = malloc((node->peers_hi + 1) * sizeof *idx);
	size_t *order = malloc((node->peers_hi + 1) * sizeof *order);
	bool *mark = malloc(node->peers_hi + 1);
	if (!ids || !idx || !order || !mark)
		goto out;
	for (size_t i = 0; i < node->peers_hi; i++) {
		node->peers[i].ring = false;
		if (node->peers[i].used && node->peers[i].node_id[0] && !node->peers[i].joiner) {
			idx[n] = i;
			ids[n++] = node->peers[i].node_id;
		}
	}
	self = n;
	ids[n++] = node->st->node_id;
	node_lazy_ring_marks(ids, n, self, node->lazy_ring, order, mark);
	for (size_t j = 0; j < self; j++)
		if (mark[j]) {
			struct node_peer *p = &node->peers[idx[j]];
			p->ring = true;
			if (!has_pair_link(node, p, false))
				node_link_open_pair(node, p);
		}
out:
	free(ids);
	free(idx);
	free(order);
	free(mark);
}

void node_lazy_tick(struct node *node, uint64_t t)
{
	if (t < node->lazy_next_ms)
		return;
	node->lazy_next_ms = t + 1000;
	node_lazy_update(node);
	if (!node->lazy)
		return;
	if (t >= node->lazy_ring_ms) {
		node->lazy_ring_ms = t + 10000;
		ring(node);
	}
	open_doorbells(node); /* after a rotation, a relay added, or a doorbell that closed */
	pay_owed(node);
	for (size_t i = 0; i < node->links_hi; i++) {
		struct node_link *l = &node->links[i];
		if (!l->used || l->closing)
			continue;
		/* Fresh: an earlier link's send may have suspended, and a knock
		 * handled meanwhile is later than the round's t (the unsigned
		 * differences below would wrap). */
		t = node_now_ms();
		struct node_peer *p = l->peer;
		if (l->doorbell) {
			/* Free the doorbell for the next caller once this one has
			 * its pair link, or after the hold, counted from the knock,
			 * the first packet that bound it, or the other side's
			 * arrival: whoever pairs with it and never knocks (a member
			 * can name it, and so can the relay) is sent away too. */
			if ((p || node_link_paired(l)) && !l->bound_ms)
				l->bound_ms = t;
			if (l->bound_ms && l->c &&
			    (t - l->bound_ms >= NODE_DOORBELL_HOLD_MS || (p && has_pair_link(node, p, true)))) {
				relay_client_interrupt(l->c);
			}
		} else if (l->call) {
			if (!p || !p->used || t - l->opened_ms >= NODE_CALL_HOLD_MS ||
			    (node_peer_ready(p) && has_pair_link(node, p, true)))
				node_link_close(l);
		} else if (node_lazy_is_pair_link(l) && p) {
			idle_link(node, l, p, t);
		}
	}
}
