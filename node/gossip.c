/* node/gossip.c: membership in the daemon: this node's own entry, spreading entries and
 * removals to every member, anti-entropy when a session starts, accepting
 * members we learned of, and `atmosphere remove` (node/member.h has the
 * records and rules, docs/NODE.md "Membership" the design).
 *
 * Spreading: a record that changes our table is queued (a bit per slot) for
 * every other peer with a session, and the ticker sends a few per peer per
 * tick. A peer that already has it finds it unchanged and stops there, so a
 * change crosses each session about once. Anti-entropy: both sides of a
 * session send a summary (count and hash); a peer whose summary differs
 * gets our digest in key ranges, compares it with its table and queues for
 * us what we lack; a digest received also starts ours once, so both
 * directions repair. A rekey (120 s) sends the summaries again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "net/b64.h"
#include "net/bssl.h"
#include "node/internal.h"
#include "node/session_id.h"
#include "overlay/addr.h"

/* Membership flows with members only: not with a joiner before it is
 * admitted, nor to the issuer before it admitted us. */
static bool sync_ok(struct node *node, const struct node_peer *p)
{
	return node->mem && p->used && !p->joiner && p->node_id[0] && node_peer_ready(p) &&
	       node_peer_path(p) != NODE_PATH_NONE && !(node->joining && p == node->issuer && !node->welcomed);
}

static int self_slot(struct node *node)
{
	return node->mem ? node_members_find(node->mem, node->st->pub) : -1;
}

static void set_bit(uint8_t *bits, int i)
{
	bits[i / 8] = (uint8_t)(bits[i / 8] | (1u << (i % 8)));
}

/* Queues slot i (its entry, or its removal) for every member we have a
 * session with but `except`. Returns how many. */
static size_t flood(struct node *node, int i, bool removal, const struct node_peer *except)
{
	size_t n = 0;
	for (size_t k = 0; k < node->peers_hi; k++) {
		struct node_peer *q = &node->peers[k];
		if (q == except || !sync_ok(node, q))
			continue;
		set_bit(removal ? q->want_removal : q->want_entry, i);
		q->want_any = true;
		n++;
	}
	node->mem_dirty = true;
	return n;
}

static uint64_t unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Fills m's id, name, endpoints (IPv4, then IPv6) and relays from what
 * this node announces now. */
static void own_fields(struct node *node, struct node_member *m)
{
	struct node_state *st = node->st;
	memset(m, 0, sizeof *m);
	memcpy(m->pub, st->pub, 32);
	memcpy(m->sign_pub, node->sign_pub, 32);
	node_copy_str(m->node_id, sizeof m->node_id, st->node_id);
	node_copy_str(m->name, sizeof m->name, st->node_name);
	/* Endpoints: the public one first, then the interfaces' (as HELLO). */
	json_object *cands = node_candidates_json(node);
	const char *first = node->public_ep;
	/* IPv6: the list HELLO and join codes carry (node_udp6_candidates:
	 * global addresses with the IPv6 port, then the server-reflexive one),
	 * at most NODE_MEMBER_MAX_EPS6; format 2 when there is one. */
	for (size_t i = 0; i <= json_object_array_length(cands); i++) {
		const char *e = i == 0 ? first : json_object_get_string(json_object_array_get_idx(cands, i - 1));
		struct sockaddr_storage a;
		socklen_t al;
		if (!e || !e[0] || strlen(e) > NODE_TOKEN_MAX_ENDPOINT_LEN || !node_parse_ep(e, &a, &al))
			continue;
		bool v6 = a.ss_family == AF_INET6;
		char (*list)[NODE_TOKEN_MAX_ENDPOINT_LEN + 1] = v6 ? m->eps6 : m->eps;
		size_t *num = v6 ? &m->num_eps6 : &m->num_eps;
		if (*num == (v6 ? NODE_MEMBER_MAX_EPS6 : NODE_MEMBER_MAX_EPS) || (a.ss_family != AF_INET && !v6))
			continue;
		bool dup = false;
		for (size_t k = 0; k < *num; k++)
			dup = dup || !strcmp(list[k], e);
		if (!dup)
			node_copy_str(list[(*num)++], sizeof list[0], e);
	}
	json_object_put(cands);
	for (size_t i = 0; i < st->num_relays && i < NODE_MEMBER_MAX_RELAYS; i++)
		node_copy_str(m->relays[m->num_relays++], sizeof m->relays[0], st->relays[i]);
}

/* Whether two entries announce the same: name, endpoints of both families
 * and relays (versions, signatures and admissions aside). */
static bool same_fields(const struct node_member *a, const struct node_member *b)
{
	if (strcmp(a->name, b->name) || a->num_eps != b->num_eps || a->num_eps6 != b->num_eps6 ||
	    a->num_relays != b->num_relays || a->n != b->n)
		return false;
	for (size_t i = 0; i < a->num_eps; i++)
		if (strcmp(a->eps[i], b->eps[i]))
			return false;
	for (size_t i = 0; i < a->num_eps6; i++)
		if (strcmp(a->eps6[i], b->eps6[i]))
			return false;
	for (size_t i = 0; i < a->num_relays; i++)
		if (strcmp(a->relays[i], b->relays[i]))
			return false;
	return true;
}

/* The overlay collision counter this node's entry should carry: the one it
 * has (0 before its first entry), or, when one of its overlay addresses
 * equals that of a member that precedes it, the smallest free one
 * (node_members_overlay_n; docs/OVERLAY.md, "Collisions"). */
static uint32_t own_n(struct node *node)
{
	int me = self_slot(node);
	uint32_t cur = me >= 0 && node->mem->slots[me].has_entry ? node->mem->slots[me].m.n : 0;
	uint32_t n = node_members_overlay_n(node->mem, node->st->pub, node->st->node_id, cur);
	if (n != cur)
		core_log(CORE_LOG_INFO, "overlay: this node's address (counter %u) collides with a member's that precedes it: "
			 "it moves to counter %u", cur, n);
	return n;
}

/* This node's entry, newly versioned and signed, into the table and out to
 * every member. Without an admission yet (a joiner that has not learnt its
 * admitter's entry) the merge fails and is retried when the table grows.
 * With only_if_changed, nothing happens when the entry in the table
 * announces the same already (the IPv6 list settled, not changed). */
static void publish(struct node *node, bool only_if_changed)
{
	struct node_state *st = node->st;
	if (!node->mem)
		return;
	bool founder = !CRYPTO_memcmp(st->pub, node->mem->founder, 32);
	if (!founder && !st->have_admission)
		return;
	struct node_member m;
	own_fields(node, &m);
	m.n = own_n(node);
	int me = self_slot(node);
	if (only_if_changed && me >= 0 && node->mem->slots[me].has_entry && same_fields(&node->mem->slots[me].m, &m))
		return;
	m.version = unix_ms();
	if (me >= 0 && node->mem->slots[me].has_entry && m.version <= node->mem->slots[me].m.version)
		m.version = node->mem->slots[me].m.version + 1;
	if (founder) {
		memcpy(m.admitter, st->pub, 32);
		node_member_admit(m.admit_sig, node->sign_priv, node->mem->mesh_id, m.pub, m.sign_pub, m.node_id);
	} else {
		memcpy(m.admitter, st->admitter, 32);
		memcpy(m.admit_sig, st->admit_sig, 64);
	}
	if (node_member_sign(&m, node->sign_priv, node->mem->mesh_id) != 0) {
		core_log(CORE_LOG_WARN, "membership: cannot sign this node's entry (name '%s' or an endpoint is not valid)",
			 m.name);
		return;
	}
	int slot, r = node_members_merge_entry(node->mem, &m, &slot);
	if (r == NODE_MEMBER_CHANGED)
		flood(node, slot, false, NULL);
	else if (r < 0)
		core_log(CORE_LOG_DEBUG, "membership: our own entry waits: %s", node_member_strerror(r));
}

void node_gossip_publish(struct node *node)
{
	publish(node, false);
}

void node_gossip_republish(struct node *node)
{
	publish(node, true);
}

void node_gossip_start(struct node *node)
{
	struct node_state *st = node->st;
	char err[300];
	if (node->mem || !st->have_mesh || !st->have_founder)
		return; /* a mesh from before membership keeps to its known peers */
	node->mem = node_members_new(st->mesh_id, st->founder);
	if (!node->mem) {
		core_log(CORE_LOG_ERR, "membership: no memory for the table of mesh %s", st->mesh_id);
		return;
	}
	node->mem_tokens = NODE_MEMBER_RX_NODE_PER_S;
	int n = node_members_load(st, node->mem, err, sizeof err);
	if (n < 0)
		core_log(CORE_LOG_WARN, "membership: %s; starting from this node's own entry", err);
	else if (n)
		core_log(CORE_LOG_INFO, "membership: %zu members and removals from members.json", node->mem->num);
	node_gossip_publish(node);
}

/* Sends the owed summary to p when it can go (at most one a
 * NODE_MEMBER_SUMMARY_GAP_MS); the ticker retries until it went. */
static void send_summary(struct node *node, struct node_peer *p, uint64_t t)
{
	uint8_t buf[64], h[32];
	uint32_t c;
	size_t n;
	if (!p->sum_due || !sync_ok(node, p) || (p->sum_sent_ms && t - p->sum_sent_ms < NODE_MEMBER_SUMMARY_GAP_MS))
		return;
	node_members_summary(node->mem, &c, h);
	if (node_member_encode_summary(buf, sizeof buf, &n, c, node->st->secret_epoch, h) == 0 &&
	    node_peer_send(node, p, NODE_MSG_MEMBER, buf, n) == 0) {
		p->sum_sent_ms = t;
		p->sum_due = false;
		p->sum_tries++;
		core_log(CORE_LOG_DEBUG, "membership: summary to %s (%u records, epoch %u)", node_peer_name(p), c,
			 node->st->secret_epoch);
	}
}

/* A session with p (re)started, or we were just admitted: compare tables.
 * The path may not be ready yet (a join's links close as it ends): the
 * summary then waits for the ticker. */
void node_gossip_session(struct node *node, struct node_peer *p)
{
	p->sum_due = true;
	p->sum_heard = false;
	p->sum_tries = 0;
	p->dig_started_ms = 0; /* a new session may compare at once */
	send_summary(node, p, node_now_ms());
}

static void start_digest(struct node_peer *p, uint64_t t)
{
	if (p->dig_active || (p->dig_started_ms && t - p->dig_started_ms < NODE_MEMBER_DIGEST_GAP_MS))
		return;
	p->dig_active = true;
	p->dig_started_ms = t;
	memset(p->dig_lo, 0, sizeof p->dig_lo);
}

bool node_gossip_refuses(struct node *node, const uint8_t pub[32])
{
	int i = node->mem ? node_members_find(node->mem, pub) : -1;
	if (i < 0)
		return false;
	const struct node_member_slot *s = &node->mem->slots[i];
	return s->removed || (s->has_entry && !node_members_good(node->mem, i));
}

/* Fills p's id, name and candidates from member slot i: the IPv4
 * endpoints, then the IPv6 ones, each through node_cand_accept (a hostile
 * member's loopback, multicast or link-local IPv6 endpoint, or one of our
 * overlay's addresses, is refused, logged and counted as a HELLO's is).
 * Returns how many IPv6 candidates were taken. */
size_t node_gossip_entry_candidates(struct node *node, struct node_peer *p, const struct node_member *m)
{
	size_t v6 = 0;
	node_copy_str(p->node_id, sizeof p->node_id, m->node_id);
	node_copy_str(p->name, sizeof p->name, m->name);
	for (size_t k = 0; k < m->num_eps + m->num_eps6; k++) {
		struct sockaddr_storage a;
		socklen_t al;
		const char *e = k < m->num_eps ? m->eps[k] : m->eps6[k - m->num_eps];
		if (!node_cand_accept(node, p, e, &a, &al) || (k >= m->num_eps) != (a.ss_family == AF_INET6))
			continue;
		node_peer_add_candidate(p, &a, al);
		v6 += a.ss_family == AF_INET6;
	}
	return v6;
}

struct node_peer *node_gossip_peer(struct node *node, const uint8_t pub[32])
{
	int i = node->mem ? node_members_find(node->mem, pub) : -1;
	if (i < 0 || node->removed || !node_members_good(node->mem, i) || !CRYPTO_memcmp(pub, node->st->pub, 32))
		return NULL;
	struct node_peer *p = node_peer_by_pub(node, pub);
	if (p)
		return p;
	p = node_peer_new(node, pub);
	if (!p) {
		core_log(CORE_LOG_WARN, "membership: peer table full (%d): %s is not connected", NODE_MAX_PEERS,
			 node->mem->slots[i].m.node_id);
		return NULL;
	}
	node_gossip_entry_candidates(node, p, &node->mem->slots[i].m);
	node_link_open_pair(node, p);
	return p;
}

/* Sets p's id and name from its entry when it has one in the table; false
 * when it has none (a joiner, or a mesh without membership). */
bool node_gossip_pin_names(struct node *node, struct node_peer *p)
{
	int i = node->mem ? node_members_find(node->mem, p->pub) : -1;
	if (i < 0 || !node->mem->slots[i].has_entry)
		return false;
	node_copy_str(p->node_id, sizeof p->node_id, node->mem->slots[i].m.node_id);
	node_copy_str(p->name, sizeof p->name, node->mem->slots[i].m.name);
	return true;
}

/* Whether id belongs to another member than p (by the table), or to
 * another peer we hold. */
bool node_gossip_id_taken(struct node *node, const struct node_peer *p, const char *id)
{
	if (!id)
		return true;
	for (size_t i = 0; node->mem && i < node->mem->num; i++) {
		const struct node_member_slot *s = &node->mem->slots[i];
		if (s->has_entry && !strcmp(s->m.node_id, id) && CRYPTO_memcmp(s->m.pub, p->pub, 32))
			return true;
	}
	for (size_t k = 0; k < node->peers_hi; k++) {
		const struct node_peer *q = &node->peers[k];
		if (q != p && q->used && !strcmp(q->node_id, id))
			return true;
	}
	return !strcmp(id, node->st->node_id);
}

/* Member slot i's entry changed: when it derives one of our overlay
 * addresses and precedes us, we move (a new counter, re-signed and
 * spread; the overlay follows at its next tick). Two SHA-256 pairs per
 * entry; the full search runs only on a collision. */
static void check_collision(struct node *node, int i)
{
	int me = self_slot(node);
	if (me < 0 || i == me || !node->mem->slots[me].has_entry)
		return;
	const char *mesh = node->mem->mesh_id;
	const struct node_member *o = &node->mem->slots[i].m, *self = &node->mem->slots[me].m;
	uint8_t a[16], b[16];
	overlay_addr6(mesh, o->node_id, o->n, a);
	overlay_addr6(mesh, self->node_id, self->n, b);
	if (overlay_addr4(mesh, o->node_id, o->n) != overlay_addr4(mesh, self->node_id, self->n) && memcmp(a, b, 16))
		return;
	core_log(CORE_LOG_INFO, "overlay: member %s (counter %u) derives an address of this node (counter %u)", o->node_id,
		 o->n, self->n);
	if (node_members_overlay_n(node->mem, node->st->pub, node->st->node_id, self->n) != self->n)
		publish(node, false);
}

/* A member we now know (or know better): a peer to reach. */
static void learned(struct node *node, int i, const struct node_peer *from)
{
	const struct node_member *m = &node->mem->slots[i].m;
	if (!CRYPTO_memcmp(m->pub, node->st->pub, 32) || node->removed || !node_members_good(node->mem, i))
		return;
	struct node_peer *p = node_peer_by_pub(node, m->pub);
	if (p) {
		/* Its new endpoints; its name may have changed. Not met yet,
		 * or met but with no direct path now (it may have renumbered
		 * while our path to it went silent), and it has IPv6
		 * candidates: greet them at once (below). Our initiation is
		 * what opens our IPv6 firewall to its new address; its own
		 * packets to us are dropped there until we send. */
		size_t v6 = node_gossip_entry_candidates(node, p, m);
		if ((!p->ss.have_s || !p->direct_ok) && v6 && node->udp6 && !node->o->relay_only)
			node_handshake_start(node, p, NULL);
		return;
	}
	p = node_gossip_peer(node, m->pub);
	if (!p)
		return;
	size_t v6 = 0;
	for (int k = 0; k < p->num_cand; k++)
		v6 += p->cand[k].ss_family == AF_INET6;
	core_log(CORE_LOG_INFO, "membership: learned of %s (%s) from %s (%d candidates, %zu IPv6)", node_peer_name(p),
		 p->node_id, from ? node_peer_name(from) : "members.json", p->num_cand, v6);
	/* The smaller id starts (a relay link that comes up starts one too).
	 * A member with IPv6 candidates is greeted from both sides: each
	 * side's initiation opens its own IPv6 firewall to the other (as a
	 * punch window's opener does), so two members behind home-router
	 * firewalls meet over IPv6 without a relay; crossed handshakes are
	 * the normal case (node/session.h). */
	if (strcmp(node->st->node_id, p->node_id) < 0 || (v6 && node->udp6 && !node->o->relay_only))
		node_handshake_start(node, p, NULL);
}

/* Stops talking to p: sessions wiped, relay links closed, forgotten on disk. */
void node_peer_forget(struct node *node, struct node_peer *p)
{
	for (size_t i = 0; i < node->links_hi; i++) {
		struct node_link *l = &node->links[i];
		if (!l->used || l->peer != p)
			continue;
		l->peer = NULL;
		if (l->doorbell && l->c)
			relay_client_interrupt(l->c); /* ours: reopened for the next caller */
		else
			node_link_close(l);
	}
	node_sessions_cleanup(&p->ss);
	if (p->hs_live)
		node_e2e_handshake_cleanup(&p->hs);
	p->hs_live = false;
	p->relay = NULL;
	p->direct_ok = false;
	if (p->ping_waiter)
		core_unpark(p->ping_waiter, 0);
	bool was_known = node_state_remove_peer(node->st, p->pub);
	if (node_state_catchup_drop(node->st, p->pub) || was_known)
		node_save_state(node);
	if (node->issuer == p)
		node->issuer = NULL;
	p->used = false;
}

/* After a removal: every peer that is no longer a member in good standing
 * (the target, and members whose admission went through it and found no
 * re-admission) is dropped. */
static void drop_outcasts(struct node *node)
{
	for (size_t k = 0; k < node->peers_hi; k++) {
		struct node_peer *q = &node->peers[k];
		if (q->used && node_gossip_refuses(node, q->pub)) {
			core_log(CORE_LOG_INFO, "membership: %s (%s) is no longer a member: dropped", node_peer_name(q), q->node_id);
			node_peer_forget(node, q);
		}
	}
}

/* ---- the mesh secret ---- */

/* Catch-up (docs/NODE.md, "Removing a member"): before a new secret
 * replaces ours, ours becomes the previous one, kept for the members in
 * good standing we hold as peers (but the rotator and the one that told
 * us: they have the new one), at most NODE_CATCHUP_MAX_PEERS of them,
 * those without a session first (the ones likely away); each keeps a relay
 * link on the old epoch's pair session until it shows it has the new
 * epoch. A previous catch-up ends here: only one epoch back is kept. */
static void keep_catchup(struct node *node, const uint8_t rotator[32], const struct node_peer *from)
{
	struct node_state *st = node->st;
	node_state_catchup_clear(st);
	/* With lazy relay links (node/lazy.h) the ring neighbours come first:
	 * theirs are the links a member that was away looks for us on. */
	for (int pass = 0; pass < 3; pass++)
		for (size_t k = 0; k < node->peers_hi; k++) {
			struct node_peer *q = &node->peers[k];
			int i = q->used ? node_members_find(node->mem, q->pub) : -1;
			bool ring = node->lazy && q->ring;
			if (st->num_catchup == NODE_CATCHUP_MAX_PEERS)
				break;
			if (i < 0 || q == from || q->joiner || !q->node_id[0] || !node_members_good(node->mem, i) ||
			    !CRYPTO_memcmp(q->pub, rotator, 32) ||
			    (pass == 0 ? !ring : ring || sync_ok(node, q) != (pass == 2)))
				continue;
			memcpy(st->catchup_peers[st->num_catchup++], q->pub, 32);
		}
	if (!st->num_catchup)
		return;
	memcpy(st->catchup_secret, st->secret, sizeof st->catchup_secret);
	st->catchup_epoch = st->secret_epoch;
	st->catchup_until = (uint64_t)time(NULL) + NODE_CATCHUP_KEEP_S;
}

/* p showed it has our epoch (or is gone): its catch-up link closes, and
 * the previous secret goes with the last one. */
static void catchup_done(struct node *node, struct node_peer *p, const char *why)
{
	struct node_state *st = node->st;
	if (!node_state_catchup_has(st, p->pub, (uint64_t)time(NULL)))
		return;
	uint32_t old = st->catchup_epoch;
	node_link_close_catchup(node, p);
	node_state_catchup_drop(st, p->pub);
	node_save_state(node);
	core_log(CORE_LOG_INFO, "membership: %s %s %u: its links on epoch %u's pair session closed (%zu members left)",
		 node_peer_name(p), why, st->secret_epoch, old, st->num_catchup);
}

/* The previous secret is kept NODE_CATCHUP_KEEP_S at most. */
static void catchup_tick(struct node *node)
{
	struct node_state *st = node->st;
	if (!st->num_catchup || (uint64_t)time(NULL) < st->catchup_until)
		return;
	core_log(CORE_LOG_INFO, "membership: %zu members never showed they have epoch %u in %u days: the links on epoch "
		 "%u's pair sessions close", st->num_catchup, st->secret_epoch, NODE_CATCHUP_KEEP_S / 86400, st->catchup_epoch);
	node_link_close_catchup(node, NULL);
	node_state_catchup_clear(st);
	node_save_state(node);
}

/* Sends p the last rotation (the secret inside the e2e session), if p is a
 * member in good standing. */
static void send_rotation(struct node *node, struct node_peer *p)
{
	struct node_state *st = node->st;
	uint8_t buf[NODE_MEMBER_MAX_MSG];
	size_t n;
	int i = node_members_find(node->mem, p->pub);
	if (!st->secret_epoch || i < 0 || !node_members_good(node->mem, i))
		return;
	if (node_member_encode_rotation(buf, sizeof buf, &n, st->secret_epoch, st->secret, st->rot_rotator, st->rot_sig) == 0)
		node_peer_send(node, p, NODE_MSG_MEMBER, buf, n);
	OPENSSL_cleanse(buf, sizeof buf);
}

/* Takes a (checked) newer secret: saved, relay pair sessions moved to the
 * ids it gives, the invites made under the old one voided, and passed to
 * every other member in good standing we have a session with. Returns how
 * many were told. */
static size_t adopt_secret(struct node *node, uint32_t epoch, const uint8_t secret[32], const uint8_t rotator[32],
			   const uint8_t sig[64], const struct node_peer *from)
{
	struct node_state *st = node->st;
	keep_catchup(node, rotator, from);
	memcpy(st->secret, secret, sizeof st->secret);
	st->secret_epoch = epoch;
	memcpy(st->rot_rotator, rotator, 32);
	memcpy(st->rot_sig, sig, 64);
	/* Codes issued under the old secret no longer derive: void them. */
	st->num_invites = 0;
	node_save_state(node);
	/* Tell the members first, while the paths we have still work (a pair
	 * that meets only on a relay must hear of it on the old session). */
	size_t told = 0;
	for (size_t k = 0; k < node->peers_hi; k++) {
		struct node_peer *q = &node->peers[k];
		int i = q->used ? node_members_find(node->mem, q->pub) : -1;
		if (q != from && i >= 0 && sync_ok(node, q) && node_members_good(node->mem, i)) {
			send_rotation(node, q);
			told++;
		}
	}
	/* Then move every relay link to the session the new secret names. A
	 * link on the old session with a peer that has yet to show it has the
	 * new secret stays, as its catch-up link (node_link_open_pair); the
	 * catch-up links of the epoch before go. */
	for (size_t i = 0; i < node->links_hi; i++) {
		struct node_link *l = &node->links[i];
		char sid[72];
		if (!l->used || l->join || l->closing)
			continue;
		if (!l->catchup && !l->inbox && l->peer && node_state_catchup_has(st, l->peer->pub, (uint64_t)time(NULL))) {
			node_pair_session_id(sid, st->catchup_secret, st->node_id, l->peer->node_id);
			if (!strcmp(sid, l->session)) {
				l->catchup = true;
				continue;
			}
		}
		node_link_close(l);
	}
	for (size_t k = 0; k < node->peers_hi; k++) {
		struct node_peer *q = &node->peers[k];
		if (q->used && q->node_id[0] && !q->joiner)
			node_link_open_pair(node, q);
	}
	/* Every member we have a session with hears our epoch now (a summary),
	 * so that it lets go of its catch-up link with us at once. */
	for (size_t k = 0; k < node->peers_hi; k++)
		if (sync_ok(node, &node->peers[k]))
			node->peers[k].sum_due = true;
	int ri = node_members_find(node->mem, rotator);
	core_log(CORE_LOG_INFO, "membership: mesh secret rotated to epoch %u by %s; relay sessions moved; told %zu members",
		 epoch, ri >= 0 ? node->mem->slots[ri].m.node_id : "?", told);
	if (st->num_catchup)
		core_log(CORE_LOG_INFO, "membership: keeping a link on epoch %u's pair session for %zu members until they show "
			 "they have epoch %u (at most %u days)", st->catchup_epoch, st->num_catchup, epoch,
			 NODE_CATCHUP_KEEP_S / 86400);
	return told;
}

/* Takes one membership message from the budget of p and of the node. */
static bool take_token(double *tokens, uint64_t *last, uint64_t t, double rate, double burst)
{
	*tokens += (double)(t - *last) * rate / 1000.0;
	if (*tokens > burst)
		*tokens = burst;
	*last = t;
	if (*tokens < 1)
		return false;
	*tokens -= 1;
	return true;
}

void node_gossip_on_message(struct node *node, struct node_peer *p, const uint8_t *body, size_t len)
{
	uint64_t t = node_now_ms();
	if (!sync_ok(node, p))
		return;
	if (!take_token(&p->mem_tokens, &p->mem_rx_ms, t, NODE_MEMBER_RX_PER_S, NODE_MEMBER_RX_BURST) ||
	    !take_token(&node->mem_tokens, &node->mem_rx_ms, t, NODE_MEMBER_RX_NODE_PER_S, NODE_MEMBER_RX_NODE_PER_S))
		return; /* over the budget: dropped before any signature check */
	struct node_member_msg *m = malloc(sizeof *m);
	if (!m)
		return;
	int r = node_member_parse(m, body, len), slot = -1;
	if (r) {
		core_log(CORE_LOG_DEBUG, "membership: bad message from %s: %s", node_peer_name(p), node_member_strerror(r));
		goto out;
	}
	struct node_members *mem = node->mem;
	core_log(CORE_LOG_DEBUG, "membership: '%c' from %s (%zu bytes)", m->kind, node_peer_name(p), len);
	switch (m->kind) {
	case 'S': {
		uint8_t h[32];
		uint32_t c;
		p->sum_heard = true;
		if (m->summary.epoch >= node->st->secret_epoch)
			catchup_done(node, p, "has epoch");
		if (!p->sum_tries) {
			p->sum_due = true; /* ours was lost, or not sent yet */
			send_summary(node, p, t);
		}
		/* A member behind on the secret gets the last rotation. */
		if (m->summary.epoch < node->st->secret_epoch)
			send_rotation(node, p);
		node_members_summary(mem, &c, h);
		if (c != m->summary.count || CRYPTO_memcmp(h, m->summary.hash, 32))
			start_digest(p, t);
		break;
	}
	case 'D':
		if (node_members_compare(mem, m, p->want_entry, p->want_removal))
			p->want_any = true;
		/* Its digest shows something we lack: ours goes back, so a
		 * summary lost or early does not leave us behind. */
		if (node_members_lacks(mem, m))
			start_digest(p, t);
		break;
	case 'K':
		if (m->rotation.epoch <= node->st->secret_epoch)
			break; /* known, or older */
		r = node_members_check_rotation(mem, m->rotation.epoch, m->rotation.secret, m->rotation.rotator, m->rotation.sig);
		if (r) {
			core_log(CORE_LOG_DEBUG, "membership: new secret from %s refused: %s", node_peer_name(p), node_member_strerror(r));
			break;
		}
		adopt_secret(node, m->rotation.epoch, m->rotation.secret, m->rotation.rotator, m->rotation.sig, p);
		break;
	case 'E':
		r = node_members_merge_entry(mem, &m->entry, &slot);
		if (r == NODE_MEMBER_CHANGED) {
			flood(node, slot, false, p);
			learned(node, slot, p);
			check_collision(node, slot);
			if (node_members_find(mem, node->st->pub) < 0)
				node_gossip_publish(node); /* our admitter may be known now */
		} else if (r < 0) {
			core_log(CORE_LOG_DEBUG, "membership: entry of %s from %s refused: %s", m->entry.node_id,
				 node_peer_name(p), node_member_strerror(r));
		}
		break;
	case 'R':
		r = node_members_merge_removal(mem, m->removal.target, m->removal.remover, m->removal.sig, &slot);
		if (r == NODE_MEMBER_CHANGED) {
			flood(node, slot, true, p);
			int ri = node_members_find(mem, m->removal.remover);
			const char *by = ri >= 0 ? mem->slots[ri].m.node_id : "?";
			const struct node_member_slot *s = &mem->slots[slot];
			if (!CRYPTO_memcmp(m->removal.target, node->st->pub, 32)) {
				/* The others refuse us from now on; stop knocking. */
				node->removed = true;
				core_log(CORE_LOG_WARN, "membership: this node was removed from mesh %s by %s; it drops every peer",
					 node->st->mesh_name, by);
				for (size_t k = 0; k < node->peers_hi; k++)
					if (node->peers[k].used)
						node_peer_forget(node, &node->peers[k]);
				goto out;
			} else {
				core_log(CORE_LOG_INFO, "membership: %s removed by %s", s->has_entry ? s->m.node_id : "a member", by);
			}
			drop_outcasts(node);
		} else if (r < 0) {
			core_log(CORE_LOG_DEBUG, "membership: removal from %s refused: %s", node_peer_name(p), node_member_strerror(r));
		}
		break;
	}
out:
	OPENSSL_cleanse(m, sizeof *m);
	free(m);
}

/* Sends p the next records it lacks, at most NODE_MEMBER_SEND_PER_TICK;
 * a record whose send fails stays queued. */
static void send_wanted(struct node *node, struct node_peer *p)
{
	uint8_t buf[NODE_MEMBER_MAX_MSG];
	size_t n, sent = 0;
	bool left = false;
	for (int pass = 0; pass < 2; pass++) {
		uint8_t *bits = pass ? p->want_removal : p->want_entry;
		for (size_t i = 0; i < node->mem->num; i++) {
			if (!(bits[i / 8] & (1u << (i % 8))))
				continue;
			if (sent == NODE_MEMBER_SEND_PER_TICK) {
				left = true;
				break;
			}
			const struct node_member_slot *s = &node->mem->slots[i];
			int r = pass ? node_member_encode_removal(buf, sizeof buf, &n, s->m.pub, s->remover, s->remove_sig)
				     : node_member_encode_entry(buf, sizeof buf, &n, &s->m);
			if (r == 0 && (pass ? s->removed : s->has_entry) && node_peer_send(node, p, NODE_MSG_MEMBER, buf, n) != 0) {
				left = true;
				break;
			}
			bits[i / 8] = (uint8_t)(bits[i / 8] & ~(1u << (i % 8)));
			sent++;
			if (!p->used)
				return;
		}
		if (left)
			break;
	}
	p->want_any = left;
}

void node_gossip_tick(struct node *node, uint64_t t)
{
	char err[300];
	if (!node->mem)
		return;
	catchup_tick(node);
	for (size_t k = 0; k < node->peers_hi; k++) {
		struct node_peer *p = &node->peers[k];
		if (!sync_ok(node, p))
			continue;
		if (!p->sum_heard && p->sum_tries && p->sum_tries < NODE_MEMBER_SUMMARY_TRIES &&
		    t - p->sum_sent_ms >= NODE_MEMBER_SUMMARY_RETRY_MS)
			p->sum_due = true;
		send_summary(node, p, t);
		for (int c = 0; p->dig_active && c < NODE_MEMBER_DIGEST_PER_TICK; c++) {
			uint8_t buf[NODE_MEMBER_MAX_MSG], next[32];
			size_t n;
			bool last = node_members_digest(node->mem, p->dig_lo, buf, sizeof buf, &n, next);
			if (!n || node_peer_send(node, p, NODE_MSG_MEMBER, buf, n) != 0)
				break;
			memcpy(p->dig_lo, next, 32);
			if (last)
				p->dig_active = false;
		}
		if (p->used && p->want_any)
			send_wanted(node, p);
	}
	if (node->mem_dirty && t - node->mem_saved_ms >= NODE_MEMBER_SAVE_MS) {
		node->mem_dirty = false;
		node->mem_saved_ms = t;
		if (node_members_save(node->st, node->mem, err, sizeof err) != 0)
			core_log(CORE_LOG_ERR, "membership: cannot save: %s", err);
	}
}

/* Every member in good standing we know of gets a peer (and its relay
 * links); at start-up, after the known peers. */
void node_gossip_connect_all(struct node *node)
{
	if (!node->mem)
		return;
	for (size_t i = 0; i < node->mem->num; i++)
		if (node->mem->slots[i].has_entry && !node_peer_by_pub(node, node->mem->slots[i].m.pub))
			learned(node, (int)i, NULL);
}

/* ---- joining: the admission travels in WELCOME ---- */

static void put_b64(json_object *o, const char *k, const uint8_t *d, size_t n)
{
	char buf[128];
	size_t l;
	net_b64_encode(buf, sizeof buf, &l, d, n, NET_B64_STD, true);
	json_object_object_add(o, k, json_object_new_string(buf));
}

static bool get_b64(json_object *o, const char *k, uint8_t *out, size_t n)
{
	json_object *v;
	size_t l = 0;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return false;
	const char *s = json_object_get_string(v);
	return net_b64_decode(out, n, &l, s, strlen(s)) == 0 && l == n;
}

/* The issuer's side: admits the joiner p (its sign key came in its HELLO)
 * by adding founder, admitter and admit_sig to WELCOME w. */
void node_gossip_welcome(struct node *node, struct node_peer *p, json_object *w)
{
	int me = self_slot(node);
	uint8_t sig[64];
	if (!node->mem || !p->have_sign_pub)
		return;
	if (me < 0 || !node_members_good(node->mem, me)) {
		core_log(CORE_LOG_WARN, "membership: cannot admit %s: this node is not a member in good standing yet", p->node_id);
		return;
	}
	if (node_member_admit(sig, node->sign_priv, node->mem->mesh_id, p->pub, p->sign_pub, p->node_id) != 0)
		return;
	put_b64(w, "founder", node->mem->founder, 32);
	put_b64(w, "admitter", node->st->pub, 32);
	put_b64(w, "admit_sig", sig, 64);
}

/* The joiner's side: takes the admission from WELCOME o into the state
 * (saved by the caller) and starts membership. Returns whether there was one. */
bool node_gossip_on_welcome(struct node *node, json_object *o)
{
	struct node_state *st = node->st;
	uint8_t f[32], a[32], s[64];
	if (!get_b64(o, "founder", f, 32) || !get_b64(o, "admitter", a, 32) || !get_b64(o, "admit_sig", s, 64))
		return false;
	memcpy(st->founder, f, 32);
	memcpy(st->admitter, a, 32);
	memcpy(st->admit_sig, s, 64);
	st->have_founder = st->have_admission = true;
	node_members_free(node->mem);
	node->mem = NULL;
	node_gossip_start(node);
	return true;
}

/* ---- atmosphere remove ---- */

static json_object *err_json(const char *fmt, const char *arg)
{
	char m[300];
	json_object *o = json_object_new_object();
	snprintf(m, sizeof m, fmt, arg);
	json_object_object_add(o, "error", json_object_new_string(m));
	return o;
}

json_object *node_gossip_remove(struct node *node, const char *who)
{
	struct node_members *mem = node->mem;
	if (!mem)
		return err_json("mesh %s has no membership records (it was created before them): re-create it with "
				"'atmosphere init' to remove members", node->st->mesh_name);
	int target = -1, named = 0;
	for (size_t i = 0; i < mem->num; i++) {
		const struct node_member_slot *s = &mem->slots[i];
		if (!s->has_entry)
			continue;
		if (!strcmp(s->m.node_id, who)) {
			target = (int)i;
			named = 1;
			break;
		}
		if (!strcmp(s->m.name, who)) {
			target = (int)i;
			named++;
		}
	}
	if (target < 0)
		return err_json("no member '%s' (see atmosphere peers)", who);
	if (named > 1)
		return err_json("several members are named '%s': give the node id", who);
	struct node_member_slot *ts = &mem->slots[target];
	int me = self_slot(node);
	if (target == me)
		return err_json("'%s' is this node: another member must remove it", who);
	if (ts->removed)
		return err_json("'%s' was removed already", who);
	if (me < 0 || !node_members_good(mem, me))
		return err_json("this node is not a member in good standing of mesh %s", node->st->mesh_name);
	/* Members admitted through the target keep their standing through a
	 * re-admission by us; it goes out with the removal. */
	int readmit[NODE_MEMBER_MAX], nr = 0;
	for (size_t i = 0; i < mem->num; i++) {
		struct node_member_slot *s = &mem->slots[i];
		if ((int)i == target || (int)i == me || !s->has_entry || s->removed || !node_members_through(mem, (int)i, target))
			continue;
		struct node_member m2 = s->m;
		memcpy(m2.admitter, node->st->pub, 32);
		if (node_member_admit(m2.admit_sig, node->sign_priv, mem->mesh_id, m2.pub, m2.sign_pub, m2.node_id) == 0 &&
		    node_members_merge_entry(mem, &m2, NULL) >= 0)
			readmit[nr++] = (int)i;
	}
	uint8_t sig[64];
	char id[NODE_TOKEN_MAX_ID_LEN + 1], name[NODE_TOKEN_MAX_NAME_LEN + 1];
	node_copy_str(id, sizeof id, ts->m.node_id);
	node_copy_str(name, sizeof name, ts->m.name);
	node_member_remove_sign(sig, node->sign_priv, mem->mesh_id, ts->m.pub, node->st->pub);
	int r = node_members_merge_removal(mem, ts->m.pub, node->st->pub, sig, NULL);
	if (r < 0)
		return err_json("cannot remove it: %s", node_member_strerror(r));
	/* The target is told too (it then stops knocking), but not counted. */
	struct node_peer *tp = node_peer_by_pub(node, ts->m.pub);
	size_t told = flood(node, target, true, NULL);
	if (tp && sync_ok(node, tp)) {
		/* Now: its session goes with drop_outcasts below. */
		uint8_t buf[NODE_MEMBER_MAX_MSG];
		size_t n;
		if (node_member_encode_removal(buf, sizeof buf, &n, ts->m.pub, node->st->pub, sig) == 0)
			node_peer_send(node, tp, NODE_MSG_MEMBER, buf, n);
		told--;
	}
	for (int k = 0; k < nr; k++)
		flood(node, readmit[k], false, NULL);
	core_log(CORE_LOG_INFO, "membership: removed %s (%s); %d members re-admitted by this node", name, id, nr);
	drop_outcasts(node);
	char err[300];
	node->mem_dirty = false;
	node->mem_saved_ms = node_now_ms();
	if (node_members_save(node->st, mem, err, sizeof err) != 0)
		core_log(CORE_LOG_ERR, "membership: cannot save: %s", err);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "removed", json_object_new_string(id));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "told", json_object_new_int64((int64_t)told));
	json_object_object_add(o, "readmitted", json_object_new_int(nr));
	return o;
}

/* ---- atmosphere rotate-secret ---- */

json_object *node_gossip_rotate(struct node *node)
{
	struct node_state *st = node->st;
	int me = self_slot(node);
	if (!node->mem || me < 0 || !node_members_good(node->mem, me))
		return err_json("this node is not a member in good standing of mesh %s", st->mesh_name);
	uint8_t secret[32], sig[64];
	RAND_bytes(secret, sizeof secret);
	uint32_t epoch = st->secret_epoch + 1;
	node_member_rotation_sign(sig, node->sign_priv, node->mem->mesh_id, epoch, secret, st->pub);
	size_t told = adopt_secret(node, epoch, secret, st->pub, sig, NULL);
	OPENSSL_cleanse(secret, sizeof secret);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "epoch", json_object_new_int64(epoch));
	json_object_object_add(o, "told", json_object_new_int64((int64_t)told));
	return o;
}
