/* node/short_code.c: the inviting node's side of a short-code join
 * (node/pake.h has the protocol, docs/TOKENS.md the policy).
 *
 * Each code `atmosphere join` issues becomes an *offer*: the node waits on
 * the rendezvous session its short code selects, on every relay of the
 * mesh, and answers the first START with SPAKE2. Policy, all here:
 *   - one exchange at a time, NODE_PAKE_MAX_TRIES in all: a START takes
 *     the code; the exchange ends in a sealed full code (the code is used)
 *     or in a failure (wrong code, a tampered or malformed message, the
 *     joiner leaving, NODE_PAKE_STEP_MS passing) that costs one try; after
 *     the last try's failure the code is void. STARTs the policy does not
 *     take get REFUSED.
 *   - the offer lives until its expiry (default 10 min), then its links
 *     close. A full-code join with the same invite retires it (the short
 *     code is read aloud to compare; from then on it must open nothing).
 *   - offers live in memory only: a restart of the node voids them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "net/bssl.h"
#include "node/internal.h"

/* "MESH-XXXX-…": the public part of a code, for logs (the rest is the
 * password). */
static void public_part(char out[16], const struct node_offer *o)
{
	memcpy(out, o->code, 9);
	memcpy(out + 9, "-…", sizeof "-…");
}

static void close_links(struct node *node, struct node_offer *o)
{
	for (size_t i = 0; i < node->links_hi; i++) {
		struct node_link *l = &node->links[i];
		if (!l->used || l->offer != o)
			continue;
		l->offer = NULL;
		node_pake_free(l->pake);
		l->pake = NULL;
		node_link_close(l);
	}
}

static void offer_free(struct node *node, struct node_offer *o)
{
	close_links(node, o);
	if (o->full) {
		OPENSSL_cleanse(o->full, o->full_len);
		free(o->full);
	}
	OPENSSL_cleanse(o, sizeof *o);
}

/* The exchange on l ends: the code is used (ok), or one try is spent. */
static void end_exchange(struct node_link *l, bool ok, const char *why)
{
	struct node_offer *o = l->offer;
	char pub[16];
	node_pake_free(l->pake);
	l->pake = NULL;
	if (!o)
		return;
	public_part(pub, o);
	node_pake_offer_end(&o->pol, ok);
	unsigned left = node_pake_offer_tries_left(&o->pol);
	if (ok) {
		core_log(CORE_LOG_INFO, "short code %s: the full code went to the joiner through %s", pub, l->url);
	} else if (left) {
		core_log(CORE_LOG_WARN, "short code %s: a join attempt through %s failed (%s); %u %s left", pub, l->url,
			 why, left, left == 1 ? "try" : "tries");
	} else {
		core_log(CORE_LOG_WARN, "short code %s: a join attempt through %s failed (%s); that was its last try, the "
					"code is void now: give the joiner a new one ('atmosphere join')",
			 pub, l->url, why);
	}
	if (!left && o->full) {
		OPENSSL_cleanse(o->full, o->full_len);
		free(o->full);
		o->full = NULL;
	}
}

static void send_msg(struct node_link *l, const struct node_pake_msg *m)
{
	uint8_t buf[NODE_PAKE_MAX_MSG];
	size_t n = 0;
	if (node_pake_msg_write(buf, sizeof buf, &n, m) == NODE_PAKE_OK)
		node_send_on_link(l, buf, n);
}

int node_offer_add(struct node *node, const char code[static NODE_PAKE_CODE_LEN + 1], const char *full, size_t full_len,
		   const uint8_t invite_id[static NODE_TOKEN_INVITE_ID_LEN], uint64_t ttl_ms)
{
	struct node_offer *o = NULL, *oldest = NULL;
	char sid[NODE_PAKE_SESSION_ID_LEN + 1];
	if (!node->st->num_relays || !node->udp)
		return -ENOTCONN;
	node_pake_session_id(sid, code);
	for (size_t i = 0; i < NODE_PAKE_MAX_OFFERS; i++) {
		struct node_offer *x = &node->offers[i];
		/* Two offers cannot share a rendezvous (1 in 2^20 per pair):
		 * the new one takes it. */
		if (x->used && !strcmp(x->sid, sid))
			offer_free(node, x);
		if (!x->used && !o)
			o = x;
		if (x->used && (!oldest || x->pol.expires_ms < oldest->pol.expires_ms))
			oldest = x;
	}
	if (!o) { /* full: the one that expires first goes */
		offer_free(node, oldest);
		o = oldest;
	}
	char *copy = malloc(full_len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, full, full_len);
	memset(o, 0, sizeof *o);
	o->used = true;
	memcpy(o->code, code, sizeof o->code);
	memcpy(o->sid, sid, sizeof o->sid);
	o->full = copy;
	o->full_len = full_len;
	memcpy(o->invite_id, invite_id, sizeof o->invite_id);
	node_pake_offer_init(&o->pol, node_now_ms(), ttl_ms);
	for (size_t i = 0; i < node->st->num_relays; i++) {
		struct node_link *l = node_link_open(node, node->st->relays[i], sid, false, NULL);
		if (l)
			l->offer = o;
	}
	return 0;
}

void node_offer_on_message(struct node *node, struct node_link *l, const uint8_t *data, size_t len)
{
	struct node_offer *o = l->offer;
	struct node_pake_msg m;
	(void)node;
	if (!o)
		return;
	/* Bytes that are no message of ours: silence, and they cost the code
	 * only when they break an exchange under way on this link. */
	int r = node_pake_msg_parse(&m, data, len);
	if (r != NODE_PAKE_OK) {
		if (l->pake)
			end_exchange(l, false, node_pake_strerror(r));
		return;
	}
	if (m.type == NODE_PAKE_START) {
		/* This START takes the code, or is refused: whatever happens
		 * next, it was one guess. */
		int why = l->pake ? NODE_PAKE_REFUSE_BUSY : node_pake_offer_take(&o->pol, node_now_ms());
		if (why) {
			send_msg(l, &(struct node_pake_msg){.type = NODE_PAKE_REFUSED, .reason = (uint8_t)why});
			return;
		}
		int e;
		uint8_t mine[NODE_PAKE_SPAKE_LEN], confirm[NODE_PAKE_CONFIRM_LEN];
		l->pake = node_pake_new(NODE_PAKE_INVITER, o->code, &e);
		if (!l->pake) {
			end_exchange(l, false, node_pake_strerror(e));
			return;
		}
		l->pake_deadline_ms = node_now_ms() + NODE_PAKE_STEP_MS;
		if ((r = node_pake_start(l->pake, mine)) != NODE_PAKE_OK || (r = node_pake_finish(l->pake, m.spake)) != NODE_PAKE_OK ||
		    (r = node_pake_confirm(l->pake, confirm)) != NODE_PAKE_OK) {
			end_exchange(l, false, node_pake_strerror(r));
			return;
		}
		send_msg(l, &(struct node_pake_msg){.type = NODE_PAKE_REPLY, .spake = mine, .confirm = confirm});
		OPENSSL_cleanse(confirm, sizeof confirm);
		return;
	}
	if (m.type != NODE_PAKE_CONFIRM || !l->pake)
		return;
	if ((r = node_pake_check(l->pake, m.confirm)) != NODE_PAKE_OK) {
		end_exchange(l, false, "wrong code: the joiner's confirmation does not match");
		return;
	}
	uint8_t sealed[NODE_PAKE_MAX_SEALED];
	size_t sl = 0;
	if (!o->full || (r = node_pake_seal(l->pake, sealed, sizeof sealed, &sl, (const uint8_t *)o->full, o->full_len)) !=
			    NODE_PAKE_OK) {
		end_exchange(l, false, node_pake_strerror(r));
		return;
	}
	send_msg(l, &(struct node_pake_msg){.type = NODE_PAKE_SEALED, .sealed = sealed, .sealed_len = sl});
	end_exchange(l, true, NULL);
}

void node_offer_link_down(struct node *node, struct node_link *l)
{
	(void)node;
	/* The joiner left (or the relay broke) in the middle: that exchange
	 * cost a try. */
	if (l->pake)
		end_exchange(l, false, "the joiner left before confirming");
}

void node_offer_retire(struct node *node, const uint8_t invite_id[static NODE_TOKEN_INVITE_ID_LEN])
{
	for (size_t i = 0; i < NODE_PAKE_MAX_OFFERS; i++) {
		struct node_offer *o = &node->offers[i];
		if (o->used && o->pol.state == NODE_PAKE_OFFER_OPEN && !memcmp(o->invite_id, invite_id, sizeof o->invite_id)) {
			node_pake_offer_retire(&o->pol);
			OPENSSL_cleanse(o->full, o->full_len);
			free(o->full);
			o->full = NULL;
		}
	}
}

void node_offer_tick(struct node *node, uint64_t t)
{
	for (size_t i = 0; i < node->links_hi; i++) {
		struct node_link *l = &node->links[i];
		if (l->used && l->pake && t >= l->pake_deadline_ms) {
			end_exchange(l, false, "the joiner did not confirm in time");
			if (l->c)
				relay_client_interrupt(l->c); /* a fresh session for the REFUSED */
		}
	}
	for (size_t i = 0; i < NODE_PAKE_MAX_OFFERS; i++) {
		struct node_offer *o = &node->offers[i];
		if (o->used && node_pake_offer_expired(&o->pol, t)) {
			char pub[16];
			public_part(pub, o);
			core_log(CORE_LOG_INFO, "short code %s expired%s", pub,
				 o->pol.state == NODE_PAKE_OFFER_OPEN ? " unused" : "");
			offer_free(node, o);
		}
	}
}

void node_offers_cleanup(struct node *node)
{
	for (size_t i = 0; i < node->links_hi; i++) {
		node_pake_free(node->links[i].pake);
		node->links[i].pake = NULL;
	}
	for (size_t i = 0; i < NODE_PAKE_MAX_OFFERS; i++)
		if (node->offers[i].full) {
			OPENSSL_cleanse(node->offers[i].full, node->offers[i].full_len);
			free(node->offers[i].full);
		}
	OPENSSL_cleanse(node->offers, sizeof node->offers);
}
