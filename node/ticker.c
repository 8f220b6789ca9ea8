/* node/ticker.c: the 200 ms ticker: path liveness, punching, keepalives, RTT, rekeying and
 * handshake retries, the join's deadlines. */
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "net/bssl.h"
#include "node/internal.h"
#include "node/lazy.h"
#include "node/overlay.h"
#include "node/punch.h"

/* How long after the last coalesced UDP GRO receive the ticker gives the
 * receive buffers' pages back (node/daemon.c). */
#define NODE_GRO_TRIM_MS 2000

/* On the relay path: a keepalive on every paired link of the peer (both
 * sides do it; the RTT probe stands in for it) at the link's pace
 * (node_path_relay_every), so that each link's own silence means something.
 * A link the relay keeps open but that carries nothing back for
 * NODE_RELAY_SILENT_MS after a probe or traffic sent on it (a hung or broken
 * relay closes nothing: only silence tells) is passed over for
 * NODE_RELAY_SILENT_HOLD_MS, and the traffic moves if it was the one in use.
 * Per link, because the two sides may send on different relays: silence
 * from the peer says which relay failed only link by link. */
static void relay_liveness(struct node *node, struct node_peer *p, uint64_t t)
{
	for (size_t i = 0; i < node->links_hi; i++) {
		struct node_link *l = &node->links[i];
		if (l->peer != p || !node_link_paired(l))
			continue;
		struct node_path_live live = node_link_live(p, l);
		if (t - l->tx_ms >= node_path_relay_every(&live, t))
			node_peer_send_on_link(node, p, l, NODE_MSG_KEEP, NULL, 0);
		live = node_link_live(p, l); /* the send may have suspended */
		if (node_path_relay_silent(&live, t) && l->silent_until_ms <= t) {
			l->silent_until_ms = t + NODE_RELAY_SILENT_HOLD_MS;
			core_log(l == p->relay ? CORE_LOG_WARN : CORE_LOG_INFO,
				 "peer %s: relay %s carried nothing back for %.1f s%s", node_peer_name(p),
				 l->url, (double)(t - l->wait_ms) / 1000.0, l == p->relay ? "; trying another" : "");
		}
	}
	if (p->relay && p->relay->silent_until_ms > t)
		node_pick_relay(node, p);
}

/* On a direct path: a keepalive that asks for an answer once nothing has
 * been sent on it for the pace (node/wire.h, NODE_KEEPALIVE_IDLE_MS); it
 * starts the wait whose silence is the path's death (node_ticker). */
static void direct_keepalive(struct node *node, struct node_peer *p, uint64_t t)
{
	struct node_path_live live = node_direct_live(p);
	if (t - p->tx_direct_ms < node_path_direct_every(&live, t, p->keep_answers))
		return;
	static const uint8_t ask = NODE_KEEP_ASK;
	node_direct_sent_waits(p, t);
	node_peer_send(node, p, NODE_MSG_KEEP, &ask, 1);
}

/* A direct path's MTU (node/pmtu.h): a round of probes when one is due,
 * the largest size answered once the wait is over. A path measured before
 * is measured again only if it carried traffic since: an idle peer costs no
 * probes beyond its first (about 10 KB). */
static void path_mtu(struct node *node, struct node_peer *p, uint64_t t)
{
	struct node_pmtu *s = &p->pmtu;
	if (node_pmtu_tick(s, t) && s->mtu != s->best_logged) {
		s->best_logged = s->mtu;
		char a[64];
		node_fmt_addr(&p->direct, a, sizeof a);
		core_log(CORE_LOG_INFO, "peer %s: direct path %s carries overlay packets of %u bytes%s",
			 node_peer_name(p), a, node_pmtu_path(s, true),
			 s->mtu ? "" : " (no probe answered: an older node, or nothing larger fits)");
	}
	struct node_path_live live = node_direct_live(p);
	if (!node_pmtu_round(s, t) || (!s->start_ms && s->next_ms && t - live.traffic_ms > NODE_PMTU_EVERY_MS))
		return;
	uint16_t above = s->start_ms ? s->best : 0; /* a second round: only what is not answered yet */
	node_pmtu_sent(s, t);
	uint8_t body[NODE_PMTU_MAX];
	for (size_t i = 0; i < NODE_PMTU_NUM_SIZES && p->direct_ok; i++) {
		uint16_t size = node_pmtu_sizes[i];
		if (size <= above)
			break;
		node_pmtu_probe_body(size, body);
		node_peer_send(node, p, NODE_MSG_PMTU, body, size);
	}
}

/* The wait before resending an unanswered initiation (node/wire.h). */
static uint64_t retry_gap(unsigned tries)
{
	uint64_t gap = NODE_HANDSHAKE_RETRY_MS;
	for (unsigned i = NODE_HANDSHAKE_FAST_TRIES; i < tries && gap < NODE_HANDSHAKE_RETRY_MAX_MS; i++)
		gap *= 2;
	return gap < NODE_HANDSHAKE_RETRY_MAX_MS ? gap : NODE_HANDSHAKE_RETRY_MAX_MS;
}

void node_ticker(void *arg)
{
	core_task_set_name("ticker");
	struct node *node = arg;
	while (!node->stopping) {
		core_sleep(NODE_TICK_MS);
		uint64_t t = node_now_ms();
		node_overlay_tick(node);
		/* Coalesced receives fill whole 64 KiB GRO buffers, and the ring
		 * is used round-robin: once traffic pauses, their pages go back
		 * (one madvise per run of free buffers), so an idle node does not
		 * keep what a transfer touched. */
		if (node->gro_trim_due && t - node->gro_last_ms >= NODE_GRO_TRIM_MS) {
			node->gro_trim_due = false;
			core_buf_trim();
		}
		node_offer_tick(node, t);
		node_links_expire(node, (uint64_t)time(NULL));
		for (size_t i = 0; i < node->peers_hi; i++) {
			struct node_peer *p = &node->peers[i];
			if (!p->used)
				continue;
			struct node_path_live dl = node_direct_live(p);
			if (p->direct_ok && node_path_direct_dead(&dl, t)) {
				char a[64];
				node_fmt_addr(&p->direct, a, sizeof a);
				p->direct_ok = false;
				p->direct_wait_ms = 0;
				node_hardnat_direct_lost(p, t); /* a probing socket it used closes */
				core_log(CORE_LOG_INFO, "peer %s: direct path %s went silent (nothing back for %.1f s); using %s",
					 p->name, a, (double)(t - dl.wait_ms) / 1000.0, node_path_name(node_peer_path(p)));
				p->next_repunch_ms = t;
				p->repunch_gap_ms = 0;
				/* Perhaps our own NAT dropped or moved our mapping. */
				if (!node_is_lan(&p->direct))
					node_want_stun_refresh(node, "a direct path went silent");
			}
			if (p->relay && !node_link_paired(p->relay))
				node_pick_relay(node, p);
			if (t < p->punch_until_ms)
				node_punch(node, p, t);
			else if (!p->direct_ok && p->ss.have_s && p->num_cand && t >= p->next_repunch_ms) {
				/* Keep trying direct in the background while on the relay;
				 * the lower node id leads and starts the other side. */
				p->repunch_gap_ms = node_punch_next_gap(p->repunch_gap_ms);
				p->next_repunch_ms = t + p->repunch_gap_ms;
				if (node_punch_leads(node->st->node_id, p->node_id)) {
					node_peer_send(node, p, NODE_MSG_PUNCH, NULL, 0);
					node_punch_start(p, t, NODE_REPUNCH_WINDOW_MS);
				}
			}
			node_hardnat_tick(node, p, t);
			if (p->direct_ok && p->ss.have_s) {
				direct_keepalive(node, p, t);
				path_mtu(node, p, t);
			}
			node_relay_rtt_tick(node, p, t); /* before the keepalives it stands in for */
			if (node_peer_path(p) == NODE_PATH_RELAY)
				relay_liveness(node, p, t);
			if (p->ss.have_s && node_peer_path(p) != NODE_PATH_NONE && t >= p->next_rtt_ms && !p->ping_waiter) {
				uint8_t body[16];
				uint64_t sent = core_now_ns();
				p->next_rtt_ms = t + NODE_RTT_EVERY_MS;
				RAND_bytes((uint8_t *)&p->ping_id, 8);
				memcpy(body, &p->ping_id, 8);
				memcpy(body + 8, &sent, 8);
				node_peer_send(node, p, NODE_MSG_PING, body, 16);
			}
			if (p->ss.have_s && node_e2e_needs_rekey(&p->ss.s, t) && !p->hs_live)
				node_handshake_start(node, p, NULL);
			if (p->hs_live && t - p->hs_sent_ms > retry_gap(p->hs_tries)) {
				/* Resend the initiation (a fresh one: new timestamp). */
				uint8_t app[NODE_E2E_INIT_APP_LEN] = {0};
				bool join = node->joining && p == node->issuer;
				if (join)
					node_token_claim(app, &node->tok);
				node_handshake_start(node, p, join ? app : NULL);
			}
		}
		node_gossip_tick(node, t);
		node_lazy_tick(node, t);
		/* Punching starts once the session is up (candidates are exchanged
		 * inside it): give it punch_ms from then. */
		if (node->joining && !node->said_relay && !node->said_direct && node->issuer && node->issuer_session_ms &&
		    t - node->issuer_session_ms > node->o->punch_ms && node->issuer->relay && node->issuer->relay->up) {
			node->said_relay = true;
			node_say(node, "✗ P2P failed, trying relay...");
			node_say(node, "✓ Connected via relay: %s", node->issuer->relay->url);
			node_join_finish(node);
		}
		if (node->joining && t - node->join_started_ms > NODE_JOIN_TIMEOUT_MS) {
			node_say(node, "✗ The mesh did not answer within 60 s: the issuing node may be offline or unreachable, "
			    "or it did not accept this code (expired, revoked, or not one it issued)");
			node->join_failed = true;
			node->joining = false;
			node->exit_code = 1;
			if (node->join_out) {
				const char *e = "{\"error\":\"timed out\"}\n";
				core_sock_send(node->join_out, e, strlen(e), 1000);
				core_sock_close(node->join_out);
				node->join_out = NULL;
			} else {
				core_rt_shutdown(node->rt);
			}
		}
	}
}
