/* node/message.c: node messages inside a session: HELLO (candidates), OBSERVED, PUNCH, PING,
 * TEXT, PROBE (to node/hardnat.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "net/b64.h"
#include "net/bssl.h"
#include "node/family.h"
#include "node/internal.h"
#include "node/lazy.h"
#include "node/overlay.h"
#include "node/punch.h"

static void on_hello(struct node *node, struct node_peer *p, json_object *o);
static void deliver_text(struct node *node, struct node_peer *p, const uint8_t *m, size_t n);
static void on_keep(struct node *node, struct node_peer *p, const uint8_t *m, size_t n,
		    const struct sockaddr_storage *from);

void node_send_hello(struct node *node, struct node_peer *p)
{
	p->hello_sent = true;
	/* Open our own NAT's mappings towards the peer's candidates before it
	 * learns ours and starts punching (TTL 2: see node_handshake_start). */
	for (int i = 0; i < p->num_cand && !node->o->relay_only; i++)
		node_peer_send_to(node, p, NODE_MSG_KEEP, NULL, 0, &p->cand[i], p->cand_len[i], 2);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "node_id", json_object_new_string(node->st->node_id));
	json_object_object_add(o, "name", json_object_new_string(node->st->node_name));
	json_object_object_add(o, "candidates", node_candidates_json(node));
	/* Our NAT's kind: saying it is agreeing to hard-NAT probing
	 * (node/birthday.h); an older node says nothing and is never probed. */
	if (!node->o->relay_only)
		json_object_object_add(o, "nat", json_object_new_string(node_nat_name(node->nat_kind)));
	/* The Ed25519 key our admission binds (node/member.h). */
	char sp[64];
	size_t sl;
	net_b64_encode(sp, sizeof sp, &sl, node->sign_pub, sizeof node->sign_pub, NET_B64_STD, true);
	json_object_object_add(o, "sign_pub", json_object_new_string(sp));
	/* Which start of ours this is: a HELLO with the same boot and no new
	 * candidate is a rekey's, and starts no punch (on_hello). */
	char boot[17];
	snprintf(boot, sizeof boot, "%016llx", (unsigned long long)node->boot_id);
	json_object_object_add(o, "boot", json_object_new_string(boot));
	node_peer_send_json(node, p, NODE_MSG_HELLO, o);
	node_gossip_session(node, p);
}

/* Tells p where its direct packets come from, as we see them. */
void node_send_observed(struct node *node, struct node_peer *p)
{
	char a[64];
	node_fmt_addr(&p->direct, a, sizeof a);
	node_peer_send(node, p, NODE_MSG_OBSERVED, a, strlen(a));
}

/* The HELLO's "boot" (node_send_hello), 0 when it has none (an older node)
 * or a malformed one. */
static uint64_t hello_boot(json_object *o)
{
	json_object *v;
	if (!json_object_object_get_ex(o, "boot", &v) || !json_object_is_type(v, json_type_string))
		return 0;
	const char *s = json_object_get_string(v);
	if (strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16)
		return 0;
	return strtoull(s, NULL, 16);
}

static void on_hello(struct node *node, struct node_peer *p, json_object *o)
{
	json_object *v, *arr;
	/* Something to punch for: the first HELLO, a peer that restarted (or
	 * says nothing of it), a candidate we did not know. Otherwise it is
	 * the HELLO of a rekey (every NODE_E2E_REKEY_AFTER_MS): the path and
	 * the background re-punch go on as they were, so that a relayed pair
	 * is not punched for a whole window, its re-punch backoff reset, every
	 * two minutes. */
	uint64_t boot = hello_boot(o);
	bool fresh = !boot || boot != p->peer_boot; /* peer_boot 0: no HELLO yet */
	if (p->peer_boot && boot != p->peer_boot) {
		p->hello_sent = false; /* it restarted: it gets ours again */
		p->keep_answers = false; /* perhaps as an older node: the fast pace until it shows it answers */
	}
	p->peer_boot = boot;
	/* A member's id and name are the ones its signed entry gives; a
	 * HELLO cannot claim another member's id (`send ID` would go to it). */
	if (!node_gossip_pin_names(node, p)) {
		if (json_object_object_get_ex(o, "node_id", &v) && !node_gossip_id_taken(node, p, json_object_get_string(v)))
			snprintf(p->node_id, sizeof p->node_id, "%s", json_object_get_string(v));
		if (json_object_object_get_ex(o, "name", &v))
			snprintf(p->name, sizeof p->name, "%s", json_object_get_string(v));
	}
	if (json_object_object_get_ex(o, "sign_pub", &v) && json_object_is_type(v, json_type_string)) {
		uint8_t sp[40];
		size_t sl = 0;
		const char *s = json_object_get_string(v);
		if (net_b64_decode(sp, sizeof sp, &sl, s, strlen(s)) == 0 && sl == 32) {
			memcpy(p->sign_pub, sp, 32);
			p->have_sign_pub = true;
		}
	}
	if (json_object_object_get_ex(o, "candidates", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			struct sockaddr_storage a;
			socklen_t al;
			json_object *c = json_object_array_get_idx(arr, i);
			/* Never an overlay address (it would tunnel the overlay
			 * through itself), and only IPv6 with global reach. */
			if (!node_cand_accept(node, p, json_object_is_type(c, json_type_string) ? json_object_get_string(c) : NULL,
					      &a, &al))
				continue;
			if (node_peer_add_candidate(p, &a, al))
				fresh = true;
		}
	p->peer_nat = json_object_object_get_ex(o, "nat", &v) && json_object_is_type(v, json_type_string)
			      ? node_nat_parse(json_object_get_string(v))
			      : NODE_NAT_UNKNOWN;
	if (!p->hello_sent)
		node_send_hello(node, p); /* the responder answers the initiator's */
	/* Punch: both sides do this as soon as each has the other's list; the
	 * background sequence starts again after this window. */
	uint64_t t = node_now_ms();
	if (fresh) {
		p->repunch_gap_ms = 0;
		p->next_repunch_ms = t + NODE_PUNCH_WINDOW_MS;
		node_punch_start(p, t, NODE_PUNCH_WINDOW_MS);
		node_bday_schedule(&p->bday, t); /* hard-NAT probing, if this punch fails */
	}
	if (p->joiner && !p->welcomed) {
		/* Admit it: the mesh's secret and members, over the e2e session. */
		json_object *w = json_object_new_object();
		char sec[64];
		size_t sl;
		net_b64_encode(sec, sizeof sec, &sl, node->st->secret, sizeof node->st->secret, NET_B64_STD, true);
		json_object_object_add(w, "mesh_id", json_object_new_string(node->st->mesh_id));
		json_object_object_add(w, "mesh_name", json_object_new_string(node->st->mesh_name));
		json_object_object_add(w, "secret", json_object_new_string(sec));
		OPENSSL_cleanse(sec, sizeof sec);
		/* After a rotation: the PSK's root (epoch 0) and the epoch. */
		if (node->st->secret_epoch) {
			net_b64_encode(sec, sizeof sec, &sl, node->st->mesh_key, sizeof node->st->mesh_key, NET_B64_STD, true);
			json_object_object_add(w, "mesh_key", json_object_new_string(sec));
			OPENSSL_cleanse(sec, sizeof sec);
		}
		json_object *rl = json_object_new_array();
		for (size_t i = 0; i < node->st->num_relays; i++)
			json_object_array_add(rl, json_object_new_string(node->st->relays[i]));
		json_object_object_add(w, "relays", rl);
		/* The keys of mesh-token relays: the new member needs them to
		 * reach the mesh there (the WELCOME travels encrypted). */
		if (node->st->num_relay_keys) {
			json_object *rk = json_object_new_object();
			for (size_t i = 0; i < node->st->num_relay_keys; i++)
				json_object_object_add(rk, node->st->relay_keys[i].url,
						       json_object_new_string(node->st->relay_keys[i].key));
			json_object_object_add(w, "relay_keys", rk);
		}
		json_object *sv = json_object_new_array();
		for (size_t i = 0; i < node->st->num_stun; i++)
			json_object_array_add(sv, json_object_new_string(node->st->stun[i]));
		json_object_object_add(w, "stun", sv);
		node_gossip_welcome(node, p, w);
		node_peer_send_json(node, p, NODE_MSG_WELCOME, w);
		p->welcomed = true;
		p->joiner = false;
		memcpy(p->psk, node->mesh_psk, 32);
		node_peer_remember(node, p);
		core_log(CORE_LOG_INFO, "admitted %s (%s) to mesh %s", p->name, p->node_id, node->st->mesh_name);
		p->want_ms = node_now_ms(); /* it learns the mesh from us (node/lazy.h) */
		node_link_open_pair(node, p);
	} else if (!p->joiner) {
		node_peer_remember(node, p);
	}
	/* Both ends of every session compare membership (node/gossip.c). */
	node_gossip_session(node, p);
}

static void deliver_text(struct node *node, struct node_peer *p, const uint8_t *m, size_t n)
{
	struct node_text_msg tm;
	snprintf(tm.from, sizeof tm.from, "%s", node_peer_name(p));
	tm.text = malloc(n + 1);
	if (!tm.text)
		return;
	memcpy(tm.text, m, n);
	tm.text[n] = 0;
	/* Followers get it at once; otherwise it waits for `atmosphere recv`. */
	if (node->followers) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "from", json_object_new_string(tm.from));
		json_object_object_add(o, "text", json_object_new_string(tm.text));
		const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		size_t l = strlen(s);
		char *line = malloc(l + 2);
		memcpy(line, s, l);
		line[l] = '\n';
		node_overlay_flush(node); /* the sends below may wait on a slow reader */
		for (struct node_follower *f = node->followers; f; f = f->next)
			core_sock_send(f->s, line, l + 1, 1000);
		free(line);
		json_object_put(o);
		free(tm.text);
		return;
	}
	if (node->inbox_len == NODE_MAX_INBOX_MSGS) {
		free(node->inbox[node->inbox_head].text);
		node->inbox_head = (node->inbox_head + 1) % NODE_MAX_INBOX_MSGS;
		node->inbox_len--;
	}
	node->inbox[(node->inbox_head + node->inbox_len++) % NODE_MAX_INBOX_MSGS] = tm;
}

/* A KEEP with a body (node/wire.h): the peer answers keepalives and may be
 * kept at the idle pace. One that asks is answered on the direct path, the
 * answer counting as our send (no keepalive of ours is due for a pace); it
 * came by UDP, so node_mark_direct has just run for it. An empty KEEP (a
 * punch, a confirmation, an older node's keepalive) needs nothing more. */
static void on_keep(struct node *node, struct node_peer *p, const uint8_t *m, size_t n,
		    const struct sockaddr_storage *from)
{
	if (n != 1 || (m[0] != NODE_KEEP_ASK && m[0] != NODE_KEEP_ANSWER))
		return;
	p->keep_answers = true;
	if (m[0] == NODE_KEEP_ASK && from && p->direct_ok) {
		static const uint8_t answer = NODE_KEEP_ANSWER;
		node_peer_send(node, p, NODE_MSG_KEEP, &answer, 1);
	}
}

/* A PMTU message (node/pmtu.h): a probe that came by UDP from the direct
 * path in use is answered there with its size; an answer feeds the running
 * measurement. A probe by the relay, or from another address, says nothing
 * about the path and is not answered. */
static void on_pmtu(struct node *node, struct node_peer *p, const uint8_t *m, size_t n,
		    const struct sockaddr_storage *from)
{
	uint8_t kind;
	uint16_t size;
	if (!node_pmtu_parse(m, n, &kind, &size))
		return;
	if (kind == NODE_PMTU_ANSWER) {
		node_pmtu_answer(&p->pmtu, size);
	} else if (from && p->direct_ok && node_same_addr(&p->direct, from)) {
		uint8_t answer[NODE_PMTU_HEAD_LEN] = {NODE_PMTU_ANSWER, (uint8_t)(size >> 8), (uint8_t)size};
		node_peer_send(node, p, NODE_MSG_PMTU, answer, sizeof answer);
	}
}

void node_handle_plain(struct node *node, struct node_peer *p, const uint8_t *m, size_t n, const struct sockaddr_storage *from,
		       struct node_link *l)
{
	uint8_t type = m[0];
	m++;
	n--;
	if (type == NODE_MSG_HELLO || type == NODE_MSG_WELCOME) {
		json_tokener *tk = json_tokener_new_ex(4);
		json_object *o = json_tokener_parse_ex(tk, (const char *)m, (int)n);
		json_tokener_free(tk);
		if (!o || !json_object_is_type(o, json_type_object)) {
			json_object_put(o);
			return;
		}
		if (type == NODE_MSG_HELLO)
			on_hello(node, p, o);
		else
			node_on_welcome(node, p, o);
		json_object_put(o);
	} else if (type == NODE_MSG_PING && n == 16) {
		node_peer_send(node, p, NODE_MSG_PONG, m, n);
	} else if (type == NODE_MSG_PONG && n == 16) {
		uint64_t id, sent;
		memcpy(&id, m, 8);
		memcpy(&sent, m + 8, 8);
		if (id == p->ping_id) {
			p->rtt_ms = (double)(core_now_ns() - sent) / 1e6;
			if (p->ping_waiter)
				core_unpark(p->ping_waiter, 0);
		}
	} else if (type == NODE_MSG_MEMBER) {
		node_gossip_on_message(node, p, m, n);
	} else if (type == NODE_MSG_TEXT) {
		deliver_text(node, p, m, n);
	} else if (type == NODE_MSG_IP) {
		node_overlay_deliver(node, p, m, n);
	} else if (type == NODE_MSG_PUNCH && n == 0) {
		/* The leader's background attempt: punch with it, now. At most one
		 * such window per half first gap, and none while one runs: a peer
		 * cannot make us a packet reflector by repeating it. */
		uint64_t t = node_now_ms();
		if (node_punch_request_ok(p->direct_ok, p->num_cand > 0, t, p->punch_until_ms, p->last_punch_req_ms)) {
			p->last_punch_req_ms = t;
			node_punch_start(p, t, NODE_REPUNCH_WINDOW_MS);
		}
	} else if (type == NODE_MSG_KEEP) {
		on_keep(node, p, m, n, from);
	} else if (type == NODE_MSG_IDLE) {
		node_lazy_on_idle(node, p, m, n);
	} else if (type == NODE_MSG_PMTU) {
		on_pmtu(node, p, m, n, from);
	} else if (type == NODE_MSG_LINK_PROBE) {
		node_relay_rtt_on_message(node, p, l, m, n);
	} else if (type == NODE_MSG_PROBE) {
		node_hardnat_on_message(node, p, m, n);
	} else if (type == NODE_MSG_OBSERVED && n > 0 && n < sizeof p->observed) {
		char a[sizeof p->observed];
		struct sockaddr_storage sa;
		socklen_t sl;
		memcpy(a, m, n);
		a[n] = 0;
		/* A LAN peer's view says nothing about our public mapping; a
		 * symmetric NAT gives each peer its own port, so only a change in
		 * what one peer sees is a sign that our mapping moved. Nor does
		 * an IPv6 view (no NAT there, node/family.h): a path moving to
		 * IPv6 must not look like an IPv4 mapping change. */
		if (!node_parse_ep(a, &sa, &sl) || node_is_lan(&sa) || sa.ss_family != AF_INET)
			return;
		if (p->observed[0] && strcmp(p->observed, a)) {
			char why[400];
			snprintf(why, sizeof why, "peer %s now sees us at %s (was %s)", node_peer_name(p), a,
				 p->observed);
			node_want_stun_refresh(node, why);
		}
		node_copy_str(p->observed, sizeof p->observed, a);
	}
}
