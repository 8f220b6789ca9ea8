/* node/relay_link.c: relay links: one per relay for every peer (pair sessions) and invite
 * (inboxes); connect, read, reconnect. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "net/bssl.h"
#include "node/internal.h"
#include "node/lazy.h"
#include "node/overlay.h"
#include "node/session_id.h"

static void pair_session(struct node *node, char out[72], const char *a, const char *b);
static void link_run(void *arg);

/* One send on l's client, counted so that link_run does not free the
 * client under it. May suspend. */
static int link_send(struct node_link *l, const uint8_t *pkt, size_t n)
{
	struct relay_client *c = l->c;
	node_overlay_flush(l->node); /* the send may wait (node/overlay.h) */
	l->sending++;
	int r = relay_client_send(c, pkt, n, false, 2000);
	l->sending--;
	return r;
}

/* Whether p has a relay link, up or still connecting. */
bool node_peer_has_links(struct node *node, const struct node_peer *p)
{
	for (size_t i = 0; i < node->links_hi; i++)
		if (node->links[i].used && node->links[i].peer == p && !node->links[i].closing)
			return true;
	return false;
}

/* Sends pkt on every link of p that is up (an initiation: the first
 * answer wins). */
void node_send_on_links(struct node *node, struct node_peer *p, const uint8_t *pkt, size_t n)
{
	for (size_t i = 0; i < node->links_hi; i++) {
		struct node_link *l = &node->links[i];
		if (l->used && l->peer == p && l->up && !l->closing && l->c)
			link_send(l, pkt, n);
	}
}

int node_send_on_link(struct node_link *l, const uint8_t *pkt, size_t n)
{
	if (!l || !l->up || !l->c)
		return -ENOTCONN;
	return link_send(l, pkt, n);
}

static void pair_session(struct node *node, char out[72], const char *a, const char *b)
{
	node_pair_session_id(out, node->st->secret, a, b);
}

void node_inbox_session(char out[72], const uint8_t invite_key[32])
{
	node_inbox_session_id(out, invite_key);
}

struct node_link *node_link_open(struct node *node, const char *url, const char *session, bool inbox, struct node_peer *peer)
{
	for (size_t i = 0; i < node->links_hi; i++)
		if (node->links[i].used && !strcmp(node->links[i].session, session) && !strcmp(node->links[i].url, url))
			return &node->links[i];
	/* First free: the slots in use stay low, and links_hi with them. */
	for (size_t i = 0; i < NODE_MAX_LINKS; i++)
		if (!node->links[i].used) {
			struct node_link *l = &node->links[i];
			memset(l, 0, sizeof *l);
			l->used = true;
			if (i >= node->links_hi)
				node->links_hi = i + 1;
			node_copy_str(l->url, sizeof l->url, url);
			node_copy_str(l->session, sizeof l->session, session);
			l->inbox = inbox;
			l->node = node;
			l->peer = peer;
			core_spawn(link_run, l);
			return l;
		}
	return NULL;
}

void node_link_open_inbox(struct node *node, const char *url, const char *session, uint64_t expires_at)
{
	struct node_link *l = node_link_open(node, url, session, true, NULL);
	if (l && l->inbox)
		l->until_unix = expires_at;
}

void node_link_close(struct node_link *l)
{
	l->closing = true;
	if (l->c)
		relay_client_interrupt(l->c);
	else if (l->co)
		core_task_interrupt(l->co); /* connecting, or in its backoff */
}

void node_links_expire(struct node *node, uint64_t now_unix)
{
	for (size_t i = 0; i < node->links_hi; i++) {
		struct node_link *l = &node->links[i];
		if (!l->used || l->closing || !l->inbox || !l->until_unix || now_unix < l->until_unix)
			continue;
		core_log(CORE_LOG_INFO, "relay %s: an invite expired: its inbox closes", l->url);
		node_link_close(l);
	}
}

/* The pair session with p on every relay of the mesh; and, while p has not
 * shown it has the current secret (state.h, catchup_*), the previous
 * epoch's too: a member that was away during the rotation looks for us
 * there, and is handed the new secret in the session it finds. */
void node_link_open_pair(struct node *node, struct node_peer *p)
{
	struct node_state *st = node->st;
	char sid[72];
	if (!st->num_relays || !p->node_id[0])
		return;
	if (!node_lazy_link_wanted(node, p) || !node_lazy_room(node, p)) {
		node_pick_relay(node, p);
		return; /* a large mesh: links when a session is wanted, up to a cap (node/lazy.h) */
	}
	pair_session(node, sid, st->node_id, p->node_id);
	for (size_t i = 0; i < st->num_relays; i++)
		node_link_open(node, st->relays[i], sid, false, p);
	if (node_state_catchup_has(st, p->pub, (uint64_t)time(NULL)) && !node_gossip_refuses(node, p->pub)) {
		node_pair_session_id(sid, st->catchup_secret, st->node_id, p->node_id);
		for (size_t i = 0; i < st->num_relays; i++) {
			struct node_link *l = node_link_open(node, st->relays[i], sid, false, p);
			if (l)
				l->catchup = true;
		}
		core_log(CORE_LOG_DEBUG, "relay: %s may still be on epoch %u: waiting on that epoch's pair session too",
			 node_peer_name(p), st->catchup_epoch);
	}
	node_pick_relay(node, p);
}

/* Closes the previous epoch's links with p (NULL: with everyone). By
 * session id, not by l->peer: a handshake on the link may have bound it
 * elsewhere. */
void node_link_close_catchup(struct node *node, const struct node_peer *p)
{
	char sid[72] = "";
	if (p)
		node_pair_session_id(sid, node->st->catchup_secret, node->st->node_id, p->node_id);
	for (size_t i = 0; i < node->links_hi; i++) {
		struct node_link *l = &node->links[i];
		if (!l->used || !l->catchup || l->closing || (p && l->peer != p && strcmp(l->session, sid)))
			continue;
		node_link_close(l);
	}
}

/* How many of p's links are on the previous epoch's pair session. */
size_t node_peer_catchup_links(struct node *node, const struct node_peer *p)
{
	size_t n = 0;
	for (size_t i = 0; i < node->links_hi; i++)
		n += node->links[i].used && node->links[i].catchup && !node->links[i].closing && node->links[i].peer == p;
	return n;
}

static void link_run(void *arg)
{
	core_task_set_name("relay link");
	struct node_link *l = arg;
	struct node *node = l->node;
	unsigned backoff = 500;
	char err[512];
	bool failing = false; /* said so once: the retries are debug lines */
	l->co = core_coro_current();
	while (!node->stopping && !l->closing) {
		struct relay_client_opts o = {.max_message = 70000, .deliver_notices = true};
		/* A mesh-token relay: a fresh ticket under its key each time. */
		struct relay_key rk;
		if (node_relay_key_find(node->st, l->url, &rk))
			o.ticket_key = &rk;
		int r = relay_client_connect(&l->c, l->url, l->session, &o, 5000, err, sizeof err);
		relay_key_cleanup(&rk);
		if (r) {
			/* Said at the default level, once per outage of this link and
			 * through a node-wide limit (a mesh has a link per peer per
			 * relay: one relay going down must not flood the log). */
			if (!failing)
				core_log_limited(&node->relay_log, CORE_LOG_WARN, "relay %s: cannot connect: %s (retrying)",
						 l->url, err);
			else
				core_log(CORE_LOG_DEBUG, "relay %s: %s", l->url, err);
			failing = true;
			if (node->stopping || l->closing)
				break; /* the stop interrupted the connect */
			core_sleep(backoff);
			backoff = backoff < 8000 ? backoff * 2 : 10000;
			continue;
		}
		if (failing)
			core_log_limited(&node->relay_log, CORE_LOG_INFO, "relay %s: connected again", l->url);
		failing = false;
		backoff = 500;
		l->up = true;
		node_pick_relay(node, l->peer);
		core_log(CORE_LOG_DEBUG, "relay link %s session %.8s... up (%s)", l->url, l->session,
			 l->inbox ? "inbox" : l->peer ? l->peer->node_id : "unbound");
		/* A peer behind this link may be reachable only through it:
		 * start a handshake now, and again when the relay says the other
		 * side is there (the paired notice), unless one is under way. */
		if (l->call)
			node_lazy_call_up(node, l);
		else
			node_handshake_kick(node, l->peer, l);
		for (;;) {
			struct relay_msg m;
			int n = relay_client_recv(l->c, &m, -1);
			if (n < 0)
				break;
			/* This message and those already received behind it are
			 * one batch, as the UDP readers' datagrams (node/daemon.c):
			 * the overlay may coalesce their packets for the TUN and
			 * writes them before the next wait. */
			node_overlay_batch_begin(node);
			do {
				if (!m.text && l->offer) {
					node_offer_on_message(node, l, m.data, m.len);
				} else if (!m.text) {
					node_on_packet(node, m.data, m.len, NULL, 0, l, NULL);
				} else if (relay_client_paired(l->c)) {
					node_pick_relay(node, l->peer);
					if (l->call)
						node_lazy_call_up(node, l);
					else
						node_handshake_kick(node, l->peer, l);
				}
				/* Closed while handling a message that came this way
				 * (a join link carrying the WELCOME): the interrupt
				 * found us busy. */
				if (l->closing || node->stopping)
					break;
			} while ((n = relay_client_try_recv(l->c, &m)) >= 0);
			node_overlay_batch_end(node);
			/* -EAGAIN: nothing more without waiting (or a ping or
			 * Close next, which the waiting receive handles). */
			if (l->closing || node->stopping || (n < 0 && n != -EAGAIN))
				break;
		}
		l->up = false;
		/* A Close frame is the relay's word (the peer left, the relay
		 * stops, an idle session ended): routine. No Close at all is the
		 * connection breaking: worth saying. */
		bool relay_closed = relay_client_close_code(l->c) != 0;
		if (!node->stopping && !l->closing && !relay_closed)
			core_log_limited(&node->relay_log, CORE_LOG_WARN, "relay %s: connection lost; reconnecting", l->url);
		/* Sends suspended in the client end (interrupted) before it goes. */
		if (l->sending) {
			relay_client_interrupt(l->c);
			while (l->sending)
				core_sleep(10);
		}
		relay_client_close(l->c);
		l->c = NULL;
		node_offer_link_down(node, l);
		/* Traffic that went this way moves to another relay at once. */
		struct node_peer *was = l->peer;
		/* An inbox that carried a join, or a doorbell a call, is reopened
		 * empty for the next one; a call is one connection. */
		if (l->inbox || l->doorbell) {
			l->peer = NULL;
			l->bound_ms = 0;
		}
		if (l->call)
			l->closing = true;
		/* Our idle question answered by the other side closing (the relay
		 * says so): the link is gone now, not reconnected only to be
		 * closed at the next tick. Any other end (a relay restart, a
		 * broken connection) reconnects as before: the other side may
		 * still use the link. */
		if (relay_closed && !node->stopping && node_lazy_closed_on_its_side(node, l))
			l->closing = true;
		if (was && was->relay == l) {
			if (!l->peer)
				was->relay = NULL;
			node_pick_relay(node, was);
		}
		if (!node->stopping && !l->closing)
			core_sleep(200);
	}
	if (l->peer && l->peer->relay == l)
		l->peer->relay = NULL;
	node_pake_free(l->pake);
	l->pake = NULL;
	l->offer = NULL;
	bool pair = node_lazy_is_pair_link(l);
	l->used = false;
	node_pick_relay(node, l->peer);
	if (pair)
		node_lazy_link_gone(node, l->peer);
}
