/* node/handshake.c: e2e handshakes: starting and retrying initiations, and every packet that
 * arrives (initiation, response, data). */
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "net/bssl.h"
#include "node/internal.h"
#include "node/lazy.h"

/* Makes ns the session we send on; the one it replaces still receives. */
void node_peer_install_session(struct node_peer *p, const struct node_e2e_session *ns)
{
	node_sessions_install(&p->ss, ns);
	p->hs_tries = 0;
}

void node_handshake_start(struct node *node, struct node_peer *p, const uint8_t *app)
{
	uint8_t eph[32], ts[NODE_E2E_TIMESTAMP_LEN];
	uint32_t idx;
	struct timespec rt;
	RAND_bytes(eph, sizeof eph);
	RAND_bytes((uint8_t *)&idx, sizeof idx);
	clock_gettime(CLOCK_REALTIME, &rt);
	node_e2e_tai64n(ts, (uint64_t)rt.tv_sec, (uint32_t)rt.tv_nsec);
	if (p->hs_live)
		node_e2e_handshake_cleanup(&p->hs);
	if (node_e2e_init_create(&p->hs, p->hs_init, &node->kp, p->pub, eph, idx, ts, app) != NODE_E2E_OK) {
		OPENSSL_cleanse(eph, sizeof eph);
		return;
	}
	OPENSSL_cleanse(eph, sizeof eph);
	p->hs_live = true;
	p->hs_sent_ms = node_now_ms();
	p->hs_tries++;
	/* The same initiation on every path at once: the first answer wins.
	 * While a relay can carry it, UDP copies go out with TTL 2: they open
	 * our own NAT's mapping but stop before the peer's NAT, where an
	 * unsolicited packet would leave a conntrack entry that makes a Linux
	 * masquerade move the peer's later punches to another port (the trap in
	 * docs/NAT-LAB.md). Without a relay, or after two silent tries, they go
	 * out whole: that is the direct-to-public-endpoint attempt. */
	int ttl = (node_peer_has_links(node, p) && p->hs_tries <= 2) ? 2 : 0;
	for (int i = 0; i < p->num_cand; i++)
		node_send_udp(node, &p->cand[i], p->cand_len[i], p->hs_init, sizeof p->hs_init, ttl);
	if (p->direct_ok)
		node_send_udp_on(node, p->direct_sock, &p->direct, p->direct_len, p->hs_init, sizeof p->hs_init, 0);
	node_send_on_links(node, p, p->hs_init, sizeof p->hs_init);
}

/* Starts a handshake with p unless it has a session or one is under way;
 * a join carries its claim. */
void node_handshake_kick(struct node *node, struct node_peer *p, struct node_link *l)
{
	uint8_t app[NODE_E2E_INIT_APP_LEN] = {0};
	if (!p || p->ss.have_s)
		return;
	if (p->hs_live) {
		/* One is under way: send its initiation this way too. */
		node_send_on_link(l, p->hs_init, sizeof p->hs_init);
		return;
	}
	bool join = node->joining && p == node->issuer;
	if (join)
		node_token_claim(app, &node->tok);
	node_handshake_start(node, p, join ? app : NULL);
}

/* One e2e packet from a UDP source (from != NULL; rx: the socket it came
 * in on, NULL for node->udp) or a relay link. */
void node_on_packet(struct node *node, const uint8_t *pkt, size_t len, const struct sockaddr_storage *from, socklen_t from_len,
		      struct node_link *l, struct node_usock *rx)
{
	uint32_t ridx = 0;
	int type = node_e2e_classify(pkt, len, &ridx);
	uint64_t t = node_now_ms();
	if (type < 0)
		return; /* garbage: dropped before any crypto */
	if (core_log_enabled(CORE_LOG_DEBUG)) {
		char a[64] = "relay";
		if (from)
			node_fmt_addr(from, a, sizeof a);
		core_log(CORE_LOG_DEBUG, "e2e packet type %d (%zu bytes) from %s", type, len, a);
	}
	if (type == NODE_E2E_MSG_INIT) {
		if (!node_ratelimit_take(&node->init_rl, t))
			return; /* over the rate: dropped before any crypto */
		struct node_e2e_handshake hs;
		struct node_e2e_init_info info;
		if (node_e2e_init_consume(&hs, &info, &node->kp, pkt, len) != NODE_E2E_OK)
			return;
		struct node_peer *p = node_peer_by_pub(node, info.remote_static);
		uint8_t psk[32];
		bool joiner = false;
		static const uint8_t zero[NODE_E2E_INIT_APP_LEN];
		if (node_gossip_refuses(node, info.remote_static)) {
			node_e2e_handshake_cleanup(&hs);
			return; /* a removed member: silence */
		}
		/* A member we learned of from another (node/gossip.c). */
		if (!p && !memcmp(info.app, zero, sizeof zero))
			p = node_gossip_peer(node, info.remote_static);
		if (p && !p->joiner) {
			memcpy(psk, node->mesh_psk, 32);
		} else if (memcmp(info.app, zero, sizeof zero)) {
			/* A join: the claim must be one of our invites, in date. */
			bool ours = false;
			for (size_t i = 0; i < node->st->num_invites; i++)
				if (!memcmp(node->st->invites[i].id, info.app, NODE_TOKEN_INVITE_ID_LEN))
					ours = true;
			if (!ours || node_token_claim_psk(psk, info.app, node->st->secret, node->st->mesh_id,
							 (uint64_t)time(NULL)) != NODE_TOKEN_OK) {
				node_e2e_handshake_cleanup(&hs);
				core_log(CORE_LOG_WARN, "refused a join: unknown, revoked or expired invite");
				return;
			}
			joiner = true;
			/* Its full code is in use: the short code of the same
			 * invite, read aloud to compare, must open nothing now. */
			node_offer_retire(node, info.app);
		} else {
			node_e2e_handshake_cleanup(&hs);
			return; /* a stranger without a claim: silence */
		}
		if (p && memcmp(info.timestamp, p->last_ts, sizeof p->last_ts) <= 0) {
			node_e2e_handshake_cleanup(&hs);
			return; /* replayed or duplicate initiation */
		}
		if (!p) {
			p = node_peer_new(node, info.remote_static);
			if (!p) {
				node_e2e_handshake_cleanup(&hs);
				return;
			}
		}
		memcpy(p->last_ts, info.timestamp, sizeof p->last_ts);
		memcpy(p->psk, psk, 32);
		OPENSSL_cleanse(psk, sizeof psk);
		p->joiner = p->joiner || joiner;
		uint8_t eph[32], resp[NODE_E2E_RESPONSE_LEN];
		uint32_t idx;
		RAND_bytes(eph, sizeof eph);
		RAND_bytes((uint8_t *)&idx, sizeof idx);
		struct node_e2e_session s;
		int r = node_e2e_response_create(&hs, resp, &s, p->psk, eph, idx, t);
		OPENSSL_cleanse(eph, sizeof eph);
		if (r != NODE_E2E_OK)
			return;
		/* Our own initiation, if one is out, stays live: when its
		 * response comes, that session becomes the one we send on. */
		node_peer_install_session(p, &s);
		if (l) {
			l->peer = p;
			node_pick_relay(node, p);
			node_send_on_link(l, resp, sizeof resp);
			if (l->doorbell)
				node_lazy_knocked(node, l, p);
		} else {
			node_peer_add_candidate(p, from, from_len);
			node_send_udp_on(node, rx, from, from_len, resp, sizeof resp, 0);
		}
		return;
	}
	/* Response or data: find who it is for by the receiver index. */
	struct node_peer *p = NULL;
	for (size_t i = 0; i < node->peers_hi; i++) {
		struct node_peer *q = &node->peers[i];
		if (!q->used)
			continue;
		if (type == NODE_E2E_MSG_RESPONSE && q->hs_live && q->hs.local_index == ridx)
			p = q;
		if (type == NODE_E2E_MSG_DATA && node_sessions_find(&q->ss, ridx))
			p = q;
	}
	if (!p)
		return;
	if (type == NODE_E2E_MSG_RESPONSE) {
		struct node_e2e_session s;
		if (node_e2e_response_consume(&p->hs, &s, pkt, len, p->psk, t) != NODE_E2E_OK)
			return;
		p->hs_live = false;
		node_peer_install_session(p, &s);
		p->rx_ms = t;
		if (!p->first_session_unix_ms)
			p->first_session_unix_ms = node_wall_ms();
		if (node->joining && p == node->issuer && !node->issuer_session_ms)
			node->issuer_session_ms = t;
		if (l) {
			l->peer = p;
			l->rx_ms = t;
			node_pick_relay(node, p);
		} else {
			node_mark_direct(node, p, from, from_len, rx, false);
		}
		/* Confirm the session at once, on the path the answer came by. */
		if (from)
			node_peer_send_via(node, p, rx, NODE_MSG_KEEP, NULL, 0, from, from_len, 0);
		uint8_t pub[32];
		memcpy(pub, p->pub, sizeof pub);
		node_send_hello(node, p);
		/* On a call link too, whichever path the HELLO took: a callee at
		 * its cap can say so only once the session is confirmed
		 * (node_lazy_doorbell_heard). The HELLO's send may have
		 * suspended: only if l and p are still the same. */
		if (l && l->used && l->call && l->peer == p && node_peer_holds(p, pub))
			node_peer_send_on_link(node, p, l, NODE_MSG_KEEP, NULL, 0);
		return;
	}
	/* Node messages are small (sends are capped at 2 KiB): a larger
	 * packet does not fit and is dropped. */
	uint8_t plain[NODE_MAX_MESSAGE_LEN + 64];
	size_t pl;
	if (len > sizeof plain + NODE_E2E_DATA_OVERHEAD)
		return;
	struct node_e2e_session *rs = node_sessions_find(&p->ss, ridx);
	if (node_e2e_decrypt(rs, plain, sizeof plain, &pl, pkt, len, t) != NODE_E2E_OK)
		return;
	/* The peer sends on the older session and we cannot send on the newer
	 * one yet: the older one is the pair's, use it. */
	node_sessions_heard_on(&p->ss, rs);
	p->rx_ms = t;
	p->last_seen_unix = (uint64_t)time(NULL);
	if (!p->first_session_unix_ms)
		p->first_session_unix_ms = node_wall_ms();
	p->bytes_in += len;
	if (pl && node_msg_is_traffic(plain[0]))
		p->traffic_ms = t;
	if (from) {
		node_mark_direct(node, p, from, from_len, rx,
				 pl == 2 && plain[0] == NODE_MSG_KEEP && plain[1] == NODE_KEEP_ASK);
	} else if (l) {
		l->peer = p;
		l->rx_ms = t;
		node_pick_relay(node, p);
	}
	if (pl)
		node_handle_plain(node, p, plain, pl, from, from ? NULL : l);
	OPENSSL_cleanse(plain, pl);
	if (l && !from)
		node_lazy_doorbell_heard(node, l, p); /* last: it may suspend */
}
