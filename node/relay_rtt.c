/* node/relay_rtt.c: the RTT of each relay path to a peer, and the choice of
 * relay by it (node/relay_rank.h has the rule).
 *
 * Every paired link of a peer carries a probe (NODE_MSG_LINK_PROBE 'P' + an
 * 8-byte id) while the peer is on the relay path, at the pace of
 * node_path_relay_every (2 s with traffic or an unanswered send, else 30 s;
 * 2 s for a link's first 2 x NODE_RANK_ROUNDS samples; it stands in for that
 * link's keepalive), and every NODE_RELAY_PROBE_IDLE_MS
 * otherwise; the peer answers ('A', the same id) on the link the probe came
 * in by, so each sample is the RTT of node -> relay -> peer -> relay -> node
 * through that one relay. An older peer ignores the probe: its links stay
 * unmeasured and the mesh's relay order decides, as before. */
#include <string.h>

#include "core/log.h"
#include "net/bssl.h"
#include "node/internal.h"
#include "node/relay_rank.h"

/* Enough for a peer's pair links on every relay plus a join or inbox link
 * each; more (never seen) are left out of the ranking. */
#define MAX_CANDS (2 * NODE_TOKEN_MAX_RELAYS)

void node_link_rank_cand(struct node *node, const struct node_link *l, struct node_rank_cand *out)
{
	out->usable = node_link_paired(l);
	out->rtt_ms = l->rtt.ewma_ms;
	out->last_ms = l->rtt.last_ms;
	out->samples = l->rtt.samples;
	out->order = node_link_rank(node, l);
}

/* On the relay path the probe is the link's keepalive (node/ticker.c,
 * relay_liveness): it counts as sent and starts the link's wait for an
 * answer (node_path_sent), whose silence tells a frozen relay.
 * Otherwise it must not look like one: an unanswered probe (an older peer)
 * would make the link silent the moment the peer falls back to the relay. */
static void send_probe(struct node *node, struct node_peer *p, struct node_link *l, bool relayed, uint64_t t)
{
	uint8_t body[1 + 8];
	uint64_t tx = l->tx_ms;
	if (relayed)
		node_link_sent_waits(p, l, t);
	RAND_bytes((uint8_t *)&l->probe_id, sizeof l->probe_id);
	body[0] = 'P';
	memcpy(body + 1, &l->probe_id, 8);
	l->probe_sent_ns = core_now_ns();
	node_peer_send_on_link(node, p, l, NODE_MSG_LINK_PROBE, body, sizeof body);
	if (!relayed)
		l->tx_ms = tx;
}

void node_relay_rtt_tick(struct node *node, struct node_peer *p, uint64_t t)
{
	if (!p->ss.have_s)
		return;
	bool relayed = node_peer_path(p) == NODE_PATH_RELAY;
	struct node_rank_cand c[MAX_CANDS];
	struct node_link *ls[MAX_CANDS];
	size_t n = 0;
	for (size_t i = 0; i < node->links_hi; i++) {
		struct node_link *l = &node->links[i];
		if (!l->used || l->peer != p)
			continue;
		if (!node_link_paired(l)) {
			/* Down or alone: what it measured no longer holds. */
			memset(&l->rtt, 0, sizeof l->rtt);
			l->probe_sent_ns = 0;
			continue;
		}
		uint64_t every = NODE_RELAY_PROBE_IDLE_MS;
		if (relayed) {
			/* Traffic, or a send waiting for its answer: the fast pace
			 * at once (node/wire.h). */
			struct node_path_live live = node_link_live(p, l);
			every = node_path_relay_every(&live, t);
			/* A new link is measured at the fast pace until the ranking
			 * has had its rounds, as it was before the idle pace: else it
			 * would first rank a relay a minute later, in the middle of
			 * whatever happens then. */
			if (l->rtt.samples < 2 * NODE_RANK_ROUNDS)
				every = NODE_RELAY_PROBE_MS;
			if (l->next_probe_ms > t + every)
				l->next_probe_ms = t;
		} else {
			l->wait_ms = 0; /* off the relay path nothing waits */
		}
		if (t >= l->next_probe_ms) {
			l->next_probe_ms = t + every;
			send_probe(node, p, l, relayed, t); /* may suspend */
			if (!l->used || l->peer != p)
				continue;
		}
		if (n < MAX_CANDS) {
			node_link_rank_cand(node, l, &c[n]);
			c[n].usable = c[n].usable && l->silent_until_ms <= t;
			ls[n++] = l;
		}
	}
	size_t cur = n;
	for (size_t i = 0; i < n; i++)
		if (ls[i] == p->relay)
			cur = i;
	size_t k = node_rank_step(&p->relay_hyst, c, n, cur);
	/* Only a move away from a working relay is ours; a failed one is
	 * node_pick_relay's (at once, without hysteresis). */
	if (cur < n && c[cur].usable && k < n && k != cur) {
		core_log(CORE_LOG_INFO, "peer %s: relay path moved from %s (%.1f ms) to %s (%.1f ms): faster",
			 node_peer_name(p), ls[cur]->url, c[cur].rtt_ms, ls[k]->url, c[k].rtt_ms);
		p->relay = ls[k];
	}
}

void node_relay_rtt_on_message(struct node *node, struct node_peer *p, struct node_link *l, const uint8_t *m, size_t n)
{
	if (!l || n != 1 + 8)
		return; /* probes travel by relay only */
	if (m[0] == 'P') {
		uint8_t body[1 + 8];
		body[0] = 'A';
		memcpy(body + 1, m + 1, 8);
		node_peer_send_on_link(node, p, l, NODE_MSG_LINK_PROBE, body, sizeof body);
	} else if (m[0] == 'A' && l->probe_sent_ns && !memcmp(m + 1, &l->probe_id, 8)) {
		node_rtt_add(&l->rtt, (double)(core_now_ns() - l->probe_sent_ns) / 1e6);
		l->probe_sent_ns = 0;
	}
}

json_object *node_relay_rtts_json(struct node *node, const struct node_peer *p)
{
	json_object *o = json_object_new_object();
	for (size_t i = 0; i < node->links_hi; i++) {
		const struct node_link *l = &node->links[i];
		if (l->used && l->peer == p && !l->inbox && !l->join && !l->doorbell && !l->call)
			json_object_object_add(o, l->url, l->rtt.samples ? json_object_new_double(l->rtt.ewma_ms) : NULL);
	}
	return o;
}
