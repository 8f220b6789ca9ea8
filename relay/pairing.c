/* Sessions: the per-thread table of session ids, joining (101, 409, 503),
 * pairing (the notice and the held frames), and a connection's teardown. */
#include "relay/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "relay/http.h"

uint64_t relay_session_hash(const struct relay_server *srv, const char *id, size_t len)
{
	/* FNV-1a from a random per-process seed, so strangers cannot aim many
	 * ids at one bucket or one reactor without knowing it. */
	uint64_t h = 14695981039346656037ull ^ srv->hash_seed;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)id[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

/* ---- the per-thread session table ---- */

static struct relay_session **bucket_of(struct relay_thread *th, uint64_t h)
{
	/* The low bits chose the thread; use the high ones here. */
	return &th->buckets[(h >> 32) & (th->num_buckets - 1)];
}

static int table_grow(struct relay_thread *th)
{
	unsigned n = th->num_buckets ? th->num_buckets * 2 : 1024;
	struct relay_session **b = calloc(n, sizeof *b);
	if (!b)
		return -ENOMEM;
	struct relay_session **old = th->buckets;
	unsigned old_n = th->num_buckets;
	th->buckets = b;
	th->num_buckets = n;
	for (unsigned i = 0; i < old_n; i++)
		while (old[i]) {
			struct relay_session *s = old[i];
			old[i] = s->next;
			struct relay_session **pp = bucket_of(th, s->hash);
			s->next = *pp;
			*pp = s;
		}
	free(old);
	return 0;
}

static struct relay_session *table_find(struct relay_thread *th, uint64_t h, const char *id, size_t len)
{
	if (!th->num_buckets)
		return NULL;
	for (struct relay_session *s = *bucket_of(th, h); s; s = s->next)
		if (s->hash == h && s->id_len == len && !memcmp(s->id, id, len))
			return s;
	return NULL;
}

static void table_remove(struct relay_thread *th, struct relay_session *s)
{
	if (!s->in_table)
		return;
	struct relay_session **pp = bucket_of(th, s->hash);
	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	s->in_table = false;
	th->num_sessions--;
	struct relay_server *srv = th->srv;
	atomic_fetch_sub(&srv->sessions_now, 1);
	if (s->paired) {
		atomic_fetch_sub(&srv->active, 1);
		relay_thread_count(&th->sessions_active, -1);
	} else {
		atomic_fetch_sub(&srv->waiting, 1);
		relay_thread_count(&th->sessions_waiting, -1);
	}
}

/* ---- pairing ---- */

/* Writes the paired notice of session s as a whole text frame into frame
 * and returns its length. */
static int paired_frame(uint8_t frame[static RELAY_WS_MAX_HEADER_LEN + 200], const struct relay_session *s)
{
	char msg[200];
	int n = snprintf(msg, sizeof msg, RELAY_PAIRED_MESSAGE_FMT, s->id);
	return relay_ws_frame_build(frame, RELAY_WS_MAX_HEADER_LEN + 200, true, RELAY_WS_OP_TEXT, (uint8_t *)msg,
				    (size_t)n, NULL);
}

/* Runs in the second client's coroutine: notices, held frames, then links
 * the two so the first one's coroutine forwards directly. */
static int pair(struct relay_session *s)
{
	struct relay_conn *a = &s->conn[0], *b = &s->conn[1];
	struct relay_server *srv = b->th->srv;
	int timeout = (int)srv->o.write_ms;

	if (net_stream_lock_write(b->st, timeout) != 0)
		return -ETIMEDOUT;
	if (a->ended) {
		/* The first client left while our 101 went out (a balancer
		 * cutting a retried attempt, say): no notice for a session that
		 * is gone. Its teardown has told us to end; we reconnect. */
		net_stream_unlock_write(b->st);
		return -EPIPE;
	}
	uint8_t frame[RELAY_WS_MAX_HEADER_LEN + 200];
	int fl = paired_frame(frame, s);
	struct iovec iov = {.iov_base = frame, .iov_len = (size_t)fl};
	int r = net_stream_sendv_locked(b->st, &iov, 1, timeout);
	/* a may add to the hold while we send it: loop until it is empty. */
	while (r == 0 && s->hold_len) {
		uint8_t *h = s->hold;
		size_t hl = s->hold_len, cap = s->hold_cap;
		s->hold = NULL;
		s->hold_len = s->hold_cap = 0;
		iov.iov_base = h;
		iov.iov_len = hl;
		r = net_stream_sendv_locked(b->st, &iov, 1, timeout);
		relay_hold_free(srv, h, cap);
	}
	if (r == 0 && !a->ended) {
		a->peer = b;
		b->peer = a;
		atomic_fetch_add_explicit(&b->th->bytes, s->hold_payload, memory_order_relaxed);
		s->hold_payload = 0;
	}
	net_stream_unlock_write(b->st);
	if (r != 0 || !b->peer)
		return r ? r : -EPIPE;
	if (net_stream_send(a->st, frame, (size_t)paired_frame(frame, s), timeout) != 0)
		core_log(CORE_LOG_DEBUG, "session %s: paired notice to the first client failed", s->id);
	if (a->parked)
		net_stream_interrupt(a->st); /* out of its wait for a hang-up */
	return 0;
}

/* ---- teardown ---- */

void relay_conn_end(struct relay_conn *c, uint16_t own_code, const char *own_reason, uint16_t peer_code)
{
	struct relay_session *s = c->sess;
	struct relay_thread *th = c->th;
	struct relay_server *srv = th->srv;
	struct relay_conn *p = c->peer;

	c->ended = true;
	table_remove(th, s);
	/* Unlink first so the peer stops forwarding to us. */
	if (p) {
		c->peer = NULL;
		p->peer = NULL;
	}
	/* The other client, paired or not yet: the session leaves the table
	 * with us, so one still waiting would wait outside it, forever, while
	 * its partner's next attempt opens a new session. Tell it either way
	 * (a second client that fails while joining -- its 101 or the paired
	 * notice cannot be sent -- ends the first one too; it reconnects). */
	struct relay_conn *q = p ? p : c == &s->conn[0] ? &s->conn[1] : &s->conn[0];
	if (p || (q->active && !q->ended)) {
		q->peer_gone = true;
		q->peer_code = peer_code;
		net_stream_interrupt(q->st);
	}
	if (own_code && relay_conn_send_close(c, own_code, own_reason) == 0) {
		/* Let the client answer our Close, then close TCP ourselves. */
		net_stream_shutdown(c->st);
		uint64_t deadline = core_deadline_ns(RELAY_LINGER_MS);
		for (;;) {
			int left = core_deadline_left_ms(deadline);
			if (left == 0)
				break;
			struct net_chunk ch;
			int n = net_stream_recv(c->st, &ch, left);
			if (n <= 0)
				break;
			net_stream_release(c->st, &ch);
		}
	}
	/* Break any send to us still in flight, then wait for it to let go. */
	shutdown(core_sock_fd(net_stream_sock(c->st)), SHUT_RDWR);
	net_stream_lock_write(c->st, -1);
	net_stream_unlock_write(c->st);
	net_stream_close(c->st);
	c->st = NULL;
	c->in_frame = false; /* nothing more is read: the buffer goes whatever it held */
	relay_conn_ctl_free(c);

	if (c->prev_all)
		c->prev_all->next_all = c->next_all;
	else
		th->conns = c->next_all;
	if (c->next_all)
		c->next_all->prev_all = c->prev_all;
	relay_release(srv, c->ip);
	if (--s->live == 0) {
		if (srv->o.log_sessions) {
			uint64_t ms = (core_now_ns() - s->started_ns) / 1000000u;
			core_log(CORE_LOG_INFO, "session %s end: %s, %llu ms, in %llu+%llu bytes, %llu+%llu messages", s->id,
				 s->paired ? "paired" : "never paired", (unsigned long long)ms,
				 (unsigned long long)s->conn[0].bytes_in, (unsigned long long)s->conn[1].bytes_in,
				 (unsigned long long)s->conn[0].msgs_in, (unsigned long long)s->conn[1].msgs_in);
		}
		relay_hold_free(srv, s->hold, s->hold_cap);
		free(s);
	}
}

struct relay_conn *relay_session_join(struct relay_thread *th, struct net_stream *st, const char *id, size_t id_len,
				      const char *accept, const uint8_t ip[16])
{
	struct relay_server *srv = th->srv;
	uint64_t h = relay_session_hash(srv, id, id_len);
	struct relay_session *sess = table_find(th, h, id, id_len);
	uint8_t resp[256];
	int n;

	if (th->stopping)
		goto refuse_503;
	if (sess && (sess->conn[1].active || sess->paired)) {
		atomic_fetch_add(&srv->rejected_409, 1);
		char ips[46];
		core_log_limited(&relay_log_refused, CORE_LOG_INFO, "relay: refused %s: 409 Conflict (session %.*s is full)",
				 relay_addr_key_str(ip, ips), (int)id_len, id);
		static const char body[] = RELAY_BODY_SESSION_FULL;
		struct relay_http_response rr = {.status = 409, .content_type = "text/plain",
						 .body = (const uint8_t *)body, .body_len = sizeof body - 1};
		n = relay_http_response_build(resp, sizeof resp, &rr);
		goto refuse;
	}
	bool created = false;
	if (!sess && !relay_budget_admit(srv)) {
		/* New sessions only: the second client of a waiting one still
		 * joins it. */
		static const char body[] = RELAY_BODY_BUDGET;
		struct relay_http_response rr = {.status = 503, .content_type = "text/plain",
						 .body = (const uint8_t *)body, .body_len = sizeof body - 1};
		char ips[46];
		core_log_limited(&relay_log_refused, CORE_LOG_INFO,
				 "relay: refused %s: 503 Service Unavailable (byte budget used up for this period)",
				 relay_addr_key_str(ip, ips));
		n = relay_http_response_build(resp, sizeof resp, &rr);
		goto refuse;
	}
	if (!sess) {
		/* Reserve the slot first: the check and the count are one atomic
		 * step, whichever reactor the next session lands on. */
		if (atomic_fetch_add(&srv->sessions_now, 1) >= srv->o.max_sessions) {
			atomic_fetch_sub(&srv->sessions_now, 1);
			goto refuse_503;
		}
		if ((th->num_sessions + 1 > th->num_buckets && table_grow(th) != 0) ||
		    !(sess = calloc(1, sizeof *sess + id_len + 1))) {
			atomic_fetch_sub(&srv->sessions_now, 1);
			goto refuse_503;
		}
		sess->hash = h;
		memcpy(sess->id, id, id_len);
		sess->id[id_len] = 0;
		sess->id_len = (uint8_t)id_len;
		sess->started_ns = core_now_ns();
		/* In the table before the 101 goes out, so a second client that
		 * arrives meanwhile finds it. */
		struct relay_session **pp = bucket_of(th, h);
		sess->next = *pp;
		*pp = sess;
		sess->in_table = true;
		th->num_sessions++;
		atomic_fetch_add(&srv->waiting, 1);
		relay_thread_count(&th->sessions_waiting, 1);
		created = true;
	}
	struct relay_conn *c = sess->conn[0].active ? &sess->conn[1] : &sess->conn[0];
	memset(c, 0, sizeof *c);
	c->active = true;
	c->st = st;
	c->sess = sess;
	c->th = th;
	c->co = core_coro_current();
	memcpy(c->ip, ip, 16);
	if (srv->q.ip.rate)
		c->q_ip = relay_ip_entry(srv, ip);
	relay_ws_msg_init(&c->ms, srv->o.max_message);
	c->next_all = th->conns;
	if (th->conns)
		th->conns->prev_all = c;
	th->conns = c;
	sess->live++;
	n = relay_http_upgrade_response_build(resp, sizeof resp, accept);
	if (net_stream_send(st, resp, (size_t)n, (int)srv->o.write_ms) != 0) {
		relay_conn_end(c, 0, NULL, RELAY_WS_CLOSE_GOING_AWAY);
		return NULL;
	}
	if (created) {
		if (srv->o.log_sessions) {
			char ips[46];
			core_log(CORE_LOG_INFO, "session %s start: first client %s waiting", sess->id,
				 relay_addr_key_str(ip, ips));
		}
	} else {
		int pr = pair(sess);
		if (pr == 0) {
			sess->paired = true;
			atomic_fetch_sub(&srv->waiting, 1);
			atomic_fetch_add(&srv->active, 1);
			relay_thread_count(&th->sessions_waiting, -1);
			relay_thread_count(&th->sessions_active, 1);
			relay_hist_observe(&th->pair_hist, &relay_hist_pairing_bounds, core_now_ns() - sess->started_ns);
			atomic_fetch_add(&srv->total_sessions, 1);
			if (srv->o.log_sessions) {
				char ips[46];
				core_log(CORE_LOG_INFO, "session %s paired: second client %s", sess->id,
					 relay_addr_key_str(ip, ips));
			}
		}
	}
	return c;

refuse_503:
	{
		static const char body[] = RELAY_BODY_BUSY;
		struct relay_http_response rr = {.status = 503, .content_type = "text/plain",
						 .body = (const uint8_t *)body, .body_len = sizeof body - 1};
		atomic_fetch_add(&srv->rejected_limit, 1);
		char ips[46];
		core_log_limited(&relay_log_refused, CORE_LOG_INFO, "relay: refused %s: 503 Service Unavailable (%s)",
				 relay_addr_key_str(ip, ips), th->stopping ? "shutting down" : "--max-sessions reached");
		n = relay_http_response_build(resp, sizeof resp, &rr);
	}
refuse:
	if (n > 0)
		net_stream_send(st, resp, (size_t)n, 1000);
	net_stream_close(st);
	relay_release(srv, ip);
	return NULL;
}

void relay_thread_stop_conns(struct relay_thread *th)
{
	for (struct relay_conn *c = th->conns; c; c = c->next_all) {
		if (c->st)
			net_stream_interrupt(c->st);
	}
}
