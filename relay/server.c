/* The relay server: listeners, the HTTP handshake, the status endpoints and
 * the hand-off of a connection to the reactor that owns its session. The
 * sessions themselves are in relay/session.c. */
#include "relay/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "net/bssl.h"
#include "relay/http.h"

/* ---- per-IP connection counts ---- */

void relay_addr_key(const struct sockaddr_storage *a, uint8_t out[16])
{
	memset(out, 0, 16);
	if (a->ss_family == AF_INET)
		memcpy(out + 12, &((const struct sockaddr_in *)a)->sin_addr, 4);
	else if (a->ss_family == AF_INET6)
		memcpy(out, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
}

static unsigned addr_bucket(const uint8_t k[16])
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ k[i]) * 16777619u;
	return h % 4096u;
}

/* Returns false when the source is over its limit. */
static bool ip_acquire(struct relay_server *srv, const struct sockaddr_storage *addr)
{
	uint8_t k[16];
	bool ok = true;
	relay_addr_key(addr, k);
	unsigned b = addr_bucket(k);
	pthread_mutex_lock(&srv->ip_lock);
	struct ip_count *c = srv->ips[b];
	while (c && memcmp(c->addr, k, 16))
		c = c->next;
	if (!c) {
		c = calloc(1, sizeof *c);
		if (c) {
			memcpy(c->addr, k, 16);
			c->next = srv->ips[b];
			srv->ips[b] = c;
		}
	}
	if (!c || c->count >= srv->o.max_conns_per_ip)
		ok = false;
	else
		c->count++;
	pthread_mutex_unlock(&srv->ip_lock);
	return ok;
}

void relay_ip_release(struct relay_server *srv, const struct sockaddr_storage *addr)
{
	uint8_t k[16];
	relay_addr_key(addr, k);
	relay_ip_release_key(srv, k);
}

void relay_ip_release_key(struct relay_server *srv, const uint8_t k[16])
{
	unsigned b = addr_bucket(k);
	pthread_mutex_lock(&srv->ip_lock);
	struct ip_count **pp = &srv->ips[b];
	while (*pp && memcmp((*pp)->addr, k, 16))
		pp = &(*pp)->next;
	if (*pp && --(*pp)->count == 0) {
		struct ip_count *dead = *pp;
		*pp = dead->next;
		free(dead);
	}
	pthread_mutex_unlock(&srv->ip_lock);
}

/* ---- status endpoints ---- */

void relay_server_stats(const struct relay_server *srv, struct relay_stats *out)
{
	struct relay_server *s = (struct relay_server *)srv;
	memset(out, 0, sizeof *out);
	out->total_sessions = atomic_load(&s->total_sessions);
	out->active_sessions = atomic_load(&s->active);
	out->waiting_sessions = atomic_load(&s->waiting);
	out->connections = atomic_load(&s->connections);
	out->total_connections = atomic_load(&s->total_connections);
	for (unsigned i = 0; i < srv->o.threads; i++) {
		out->total_bytes_relayed += atomic_load_explicit(&s->th[i].bytes, memory_order_relaxed);
		out->total_messages_relayed += atomic_load_explicit(&s->th[i].msgs, memory_order_relaxed);
	}
	out->rejected_409 = atomic_load(&s->rejected_409);
	out->rejected_400 = atomic_load(&s->rejected_400);
	out->rejected_limit = atomic_load(&s->rejected_limit);
	out->handshake_timeouts = atomic_load(&s->handshake_timeouts);
	out->protocol_errors = atomic_load(&s->protocol_errors);
	out->too_big = atomic_load(&s->too_big);
	out->keepalive_timeouts = atomic_load(&s->keepalive_timeouts);
	out->held_bytes = atomic_load(&s->held);
	out->handshakes = atomic_load(&s->handshakes);
	out->shed = atomic_load(&s->shed);
	out->max_connections = s->max_conns;
	out->max_handshakes = s->o.max_handshakes;
	out->uptime_s = (core_now_ns() - srv->started_ns) / 1000000000u;
}

static int body_health(const struct relay_stats *st, char *b, size_t cap)
{
	/* Exactly the seed's shape: {"status": "ok", "sessions": N, "timestamp": T} */
	return snprintf(b, cap, "{\"status\": \"ok\", \"sessions\": %" PRIu64 ", \"timestamp\": %lld}",
			st->active_sessions + st->waiting_sessions, (long long)time(NULL));
}

static int body_stats(const struct relay_stats *st, char *b, size_t cap)
{
	return snprintf(b, cap,
			"{\"total_sessions\": %" PRIu64 ", \"active_sessions\": %" PRIu64
			", \"waiting_sessions\": %" PRIu64 ", \"connections\": %" PRIu64
			", \"total_connections\": %" PRIu64 ", \"total_bytes_relayed\": %" PRIu64
			", \"total_messages_relayed\": %" PRIu64 ", \"uptime_s\": %" PRIu64
			", \"rejected\": {\"session_full\": %" PRIu64 ", \"bad_request\": %" PRIu64
			", \"limits\": %" PRIu64 ", \"handshake_timeout\": %" PRIu64 ", \"shed\": %" PRIu64 "}"
			", \"protocol_errors\": %" PRIu64 ", \"too_big\": %" PRIu64
			", \"keepalive_timeouts\": %" PRIu64 ", \"held_bytes\": %" PRIu64 ", \"handshakes\": %" PRIu64
			", \"max_connections\": %" PRIu64 ", \"max_handshakes\": %" PRIu64 "}",
			st->total_sessions, st->active_sessions, st->waiting_sessions, st->connections,
			st->total_connections, st->total_bytes_relayed, st->total_messages_relayed, st->uptime_s,
			st->rejected_409, st->rejected_400, st->rejected_limit, st->handshake_timeouts, st->shed,
			st->protocol_errors, st->too_big, st->keepalive_timeouts, st->held_bytes, st->handshakes,
			st->max_connections, st->max_handshakes);
}

static int body_metrics(const struct relay_stats *st, char *b, size_t cap)
{
	return snprintf(
		b, cap,
		"# HELP atmosphere_relay_sessions_total Sessions paired since start.\n"
		"# TYPE atmosphere_relay_sessions_total counter\n"
		"atmosphere_relay_sessions_total %" PRIu64 "\n"
		"# HELP atmosphere_relay_sessions Sessions now, by state.\n"
		"# TYPE atmosphere_relay_sessions gauge\n"
		"atmosphere_relay_sessions{state=\"active\"} %" PRIu64 "\n"
		"atmosphere_relay_sessions{state=\"waiting\"} %" PRIu64 "\n"
		"# HELP atmosphere_relay_connections Open client connections.\n"
		"# TYPE atmosphere_relay_connections gauge\n"
		"atmosphere_relay_connections %" PRIu64 "\n"
		"# HELP atmosphere_relay_connections_total Connections accepted since start.\n"
		"# TYPE atmosphere_relay_connections_total counter\n"
		"atmosphere_relay_connections_total %" PRIu64 "\n"
		"# HELP atmosphere_relay_bytes_relayed_total Payload bytes forwarded.\n"
		"# TYPE atmosphere_relay_bytes_relayed_total counter\n"
		"atmosphere_relay_bytes_relayed_total %" PRIu64 "\n"
		"# HELP atmosphere_relay_messages_relayed_total Messages forwarded.\n"
		"# TYPE atmosphere_relay_messages_relayed_total counter\n"
		"atmosphere_relay_messages_relayed_total %" PRIu64 "\n"
		"# HELP atmosphere_relay_rejected_total Requests refused, by reason.\n"
		"# TYPE atmosphere_relay_rejected_total counter\n"
		"atmosphere_relay_rejected_total{reason=\"session_full\"} %" PRIu64 "\n"
		"atmosphere_relay_rejected_total{reason=\"bad_request\"} %" PRIu64 "\n"
		"atmosphere_relay_rejected_total{reason=\"limits\"} %" PRIu64 "\n"
		"atmosphere_relay_rejected_total{reason=\"handshake_timeout\"} %" PRIu64 "\n"
		"atmosphere_relay_rejected_total{reason=\"shed\"} %" PRIu64 "\n"
		"# HELP atmosphere_relay_closes_total Connections failed by the relay, by reason.\n"
		"# TYPE atmosphere_relay_closes_total counter\n"
		"atmosphere_relay_closes_total{reason=\"protocol_error\"} %" PRIu64 "\n"
		"atmosphere_relay_closes_total{reason=\"too_big\"} %" PRIu64 "\n"
		"atmosphere_relay_closes_total{reason=\"keepalive_timeout\"} %" PRIu64 "\n"
		"# HELP atmosphere_relay_held_bytes Bytes held for clients whose peer has not arrived.\n"
		"# TYPE atmosphere_relay_held_bytes gauge\n"
		"atmosphere_relay_held_bytes %" PRIu64 "\n"
		"# HELP atmosphere_relay_handshakes Connections still sending their HTTP request.\n"
		"# TYPE atmosphere_relay_handshakes gauge\n"
		"atmosphere_relay_handshakes %" PRIu64 "\n"
		"# HELP atmosphere_relay_uptime_seconds Seconds since start.\n"
		"# TYPE atmosphere_relay_uptime_seconds gauge\n"
		"atmosphere_relay_uptime_seconds %" PRIu64 "\n",
		st->total_sessions, st->active_sessions, st->waiting_sessions, st->connections, st->total_connections,
		st->total_bytes_relayed, st->total_messages_relayed, st->rejected_409, st->rejected_400,
		st->rejected_limit, st->handshake_timeouts, st->shed, st->protocol_errors, st->too_big,
		st->keepalive_timeouts, st->held_bytes, st->handshakes, st->uptime_s);
}

static void send_plain(struct net_stream *s, int status, const char *ctype, const char *body, size_t body_len)
{
	uint8_t out[8192];
	struct relay_http_response r = {.status = status, .content_type = ctype, .body = (const uint8_t *)body,
					.body_len = body_len};
	int n = relay_http_response_build(out, sizeof out, &r);
	if (n > 0)
		net_stream_send(s, out, (size_t)n, 5000);
}

struct core_log_limit relay_log_refused = {.burst = 10};
struct core_log_limit relay_log_protocol = {.burst = 10};
struct core_log_limit relay_log_accept = {.burst = 1};

const char *relay_addr_key_str(const uint8_t key[16], char out[static 46])
{
	static const uint8_t v4[12]; /* relay_addr_key: IPv4 in the last four bytes */
	if (!memcmp(key, v4, 12))
		inet_ntop(AF_INET, key + 12, out, 46);
	else
		inet_ntop(AF_INET6, key, out, 46);
	return out;
}

/* Answers a refused request with its status and logs who and why. */
static void send_http_error(struct net_stream *s, int err, const struct sockaddr_storage *addr)
{
	uint8_t out[1024];
	uint8_t key[16];
	char ip[46];
	int n = relay_http_error_response_build(out, sizeof out, err);
	relay_addr_key(addr, key);
	int status = relay_http_err_status(err);
	core_log_limited(&relay_log_refused, CORE_LOG_INFO, "relay: refused %s: %d %s (%s)", relay_addr_key_str(key, ip),
			 status, relay_http_reason(status), relay_http_strerror(err));
	if (n > 0)
		net_stream_send(s, out, (size_t)n, 5000);
}

/* ---- hand-off to the owning reactor ---- */

struct handoff {
	struct relay_server *srv;
	struct net_stream *st;
	char id[129];
	size_t id_len;
	char accept[RELAY_HTTP_ACCEPT_LEN + 1];
	struct sockaddr_storage addr;
};

/* Joins the handed-off stream; its copy of h stays in this frame, off the
 * stack of the running session (see relay_session_join). */
static __attribute__((noinline)) struct relay_conn *join_handoff(struct relay_thread *th, struct handoff *h)
{
	struct handoff copy = *h;
	free(h);
	return relay_session_join(th, copy.st, copy.id, copy.id_len, copy.accept, &copy.addr);
}

static void handoff_arrive(void *arg)
{
	struct handoff *h = arg;
	struct relay_thread *th = &h->srv->th[core_reactor_index(core_self())];
	if (net_stream_attach(h->st) != 0) {
		net_stream_close(h->st);
		atomic_fetch_sub(&h->srv->connections, 1);
		relay_ip_release(h->srv, &h->addr);
		free(h);
		return;
	}
	struct relay_conn *c = join_handoff(th, h);
	if (c)
		relay_session_run(c);
}

/* ---- handshake ---- */

struct hs_arg {
	struct relay_thread *th;
	int fd;
	bool tls;
	struct sockaddr_storage addr;
};

/* Handshakes that have not finished their HTTP head yet, per thread, oldest
 * first: the accept loop sheds the oldest when too many are open at once
 * (--max-handshakes, or the descriptor budget) -- slowloris from many
 * addresses, each under --max-conns-per-ip. On the heap: a waiting
 * handshake's stack is given back (hibernation). */
struct relay_hs {
	struct relay_hs *prev, *next;
	struct net_stream *st;
	uint64_t started_ns;
	bool shed;                      /* interrupted by hs_shed_oldest */
};

static void hs_track(struct relay_thread *th, struct relay_hs *h)
{
	h->prev = th->hs_tail;
	h->next = NULL;
	if (th->hs_tail)
		th->hs_tail->next = h;
	else
		th->hs_head = h;
	th->hs_tail = h;
	atomic_fetch_add(&th->srv->handshakes, 1);
}

static void hs_untrack(struct relay_thread *th, struct relay_hs *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		th->hs_head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else
		th->hs_tail = h->prev;
	h->prev = h->next = NULL;
	atomic_fetch_sub(&th->srv->handshakes, 1);
}

/* Ends this thread's oldest handshake still reading its head. Returns
 * whether there was one (its descriptor is closed once its coroutine runs). */
static bool hs_shed_oldest(struct relay_thread *th)
{
	struct relay_hs *h = th->hs_head;
	while (h && h->shed)
		h = h->next;
	if (!h)
		return false;
	h->shed = true;
	net_stream_interrupt(h->st);
	atomic_fetch_add(&th->srv->shed, 1);
	return true;
}

static struct net_tls_ctx *current_tls(struct relay_server *srv)
{
	pthread_mutex_lock(&srv->tls_lock);
	struct net_tls_ctx *c = srv->tls ? net_tls_ctx_ref(srv->tls) : NULL;
	pthread_mutex_unlock(&srv->tls_lock);
	return c;
}

static void serve_status(struct relay_server *srv, struct net_stream *st, int route)
{
	struct relay_stats stats;
	char body[4096];
	int bl;
	relay_server_stats(srv, &stats);
	if (route == RELAY_HTTP_ROUTE_HEALTH) {
		bl = body_health(&stats, body, sizeof body);
		send_plain(st, 200, "application/json", body, (size_t)bl);
	} else if (route == RELAY_HTTP_ROUTE_STATS) {
		bl = body_stats(&stats, body, sizeof body);
		send_plain(st, 200, "application/json", body, (size_t)bl);
	} else {
		bl = body_metrics(&stats, body, sizeof body);
		send_plain(st, 200, "text/plain; version=0.0.4", body, (size_t)bl);
	}
}

/* How the head's reading ended, besides a head length (> 0) or a
 * relay_http error (< 0, answered with its status). */
enum { HEAD_GONE = -1000, HEAD_TIMEOUT, HEAD_SHED };

/* Time after which a handshake still waiting for its head waits without a
 * stack (a client sends its request right after connecting; one that has
 * not is slow, or slowloris). */
#define HS_HIBERNATE_AFTER_NS (100ull * 1000000u)
#define HS_HEAD_MIN 256

/* Reads the HTTP head into *head (grown as bytes come, up to max_header:
 * a trickle costs what it sent, not 8 KiB), bounded in time. Returns the
 * head's length, whose end is its blank line, with any bytes after it
 * fed back to the stream; or a HEAD_ or RELAY_HTTP_E_TOO_LARGE code. Its
 * frame is small: the parse happens in finish_upgrade. */
static __attribute__((noinline)) int read_head(struct relay_thread *th, struct relay_hs *h, uint8_t **head,
					       size_t *len, size_t *cap, uint64_t deadline)
{
	struct relay_server *srv = th->srv;
	struct net_stream *st = h->st;
	uint64_t quiet_at = core_now_ns() + HS_HIBERNATE_AFTER_NS;
	for (;;) {
		uint64_t now = core_now_ns();
		if (h->shed)
			return HEAD_SHED;
		if (th->stopping)
			return HEAD_GONE;
		if (now >= deadline)
			return HEAD_TIMEOUT;
		uint64_t at = deadline;
		bool quiet = now >= quiet_at;
		if (!quiet && at > quiet_at)
			at = quiet_at;
		if (quiet)
			core_task_hibernate_next_wait(true);
		struct net_chunk b;
		int n = net_stream_recv(st, &b, core_deadline_left_ms(at));
		if (quiet)
			core_task_hibernate_next_wait(false);
		if (n == -ETIMEDOUT || n == -ECANCELED)
			continue;
		if (n <= 0)
			return HEAD_GONE;
		size_t take = b.len, was = *len;
		bool overflow = false;
		if (was + take > srv->o.max_header) {
			take = srv->o.max_header - was;
			overflow = true;
		}
		if (was + take > *cap) {
			size_t c = *cap ? *cap : HS_HEAD_MIN;
			while (c < was + take)
				c *= 2;
			if (c > srv->o.max_header)
				c = srv->o.max_header;
			uint8_t *p = realloc(*head, c);
			if (!p) {
				net_stream_release(st, &b);
				return HEAD_GONE;
			}
			*head = p;
			*cap = c;
		}
		memcpy(*head + was, b.data, take);
		*len = was + take;
		/* The head ends at its first blank line (RFC 9112 section 2.2). */
		size_t from = was >= 3 ? was - 3 : 0, end = 0;
		for (size_t i = from; i + 4 <= *len; i++)
			if (!memcmp(*head + i, "\r\n\r\n", 4)) {
				end = i + 4;
				break;
			}
		if (!end) {
			net_stream_release(st, &b);
			if (overflow || *len == srv->o.max_header)
				return RELAY_HTTP_E_TOO_LARGE;
			continue;
		}
		/* The bytes after it are the first WebSocket bytes: give them
		 * back so the session reads them first (head's, then b's). */
		int fr = net_stream_feed(st, b.data + take, b.len - take);
		if (fr == 0)
			fr = net_stream_feed(st, *head + end, *len - end);
		net_stream_release(st, &b);
		return fr == 0 ? (int)end : HEAD_GONE;
	}
}

/* Parses the complete head[0..n), answers status requests and errors, and
 * hands an upgrade to its session (here, or on the reactor that owns it).
 * Takes st and head. Returns the joined connection, or NULL (st closed and
 * the connection released, or handed off). */
static __attribute__((noinline)) struct relay_conn *finish_upgrade(struct relay_thread *th, struct net_stream *st,
								   uint8_t *head, int n,
								   const struct sockaddr_storage *addr)
{
	struct relay_server *srv = th->srv;
	struct relay_http_req req;
	int r = relay_http_parse_request(&req, head, (size_t)n);
	if (r < 0)
		goto refuse;
	struct relay_http_span sid;
	r = relay_http_route(&sid, &req);
	if (r < 0)
		goto refuse;
	if (r != RELAY_HTTP_ROUTE_RELAY) {
		serve_status(srv, st, r);
		goto done;
	}
	char accept[RELAY_HTTP_ACCEPT_LEN + 1];
	r = relay_http_check_upgrade(accept, &req);
	if (r < 0)
		goto refuse;
	char id[RELAY_HTTP_MAX_SESSION_ID + 1];
	memcpy(id, sid.ptr, sid.len);
	id[sid.len] = 0;
	free(head); /* req and sid point into it: not used past here */
	head = NULL;
	unsigned owner = (unsigned)(relay_session_hash(srv, id, sid.len) % srv->o.threads);
	if (owner == th->idx) /* the session owns st and the connection count now */
		return relay_session_join(th, st, id, sid.len, accept, addr);
	/* Another reactor owns this session: move the stream there. */
	struct handoff *h = calloc(1, sizeof *h);
	if (!h)
		goto done;
	if (net_stream_detach(st) != 0) {
		free(h);
		goto done;
	}
	h->srv = srv;
	h->st = st;
	memcpy(h->id, id, sid.len + 1);
	h->id_len = sid.len;
	memcpy(h->accept, accept, sizeof accept);
	h->addr = *addr;
	if (core_rt_post(srv->rt, owner, handoff_arrive, h) != 0) {
		free(h);
		goto done;
	}
	return NULL;
refuse:
	atomic_fetch_add(&srv->rejected_400, 1);
	send_http_error(st, r, addr);
done:
	free(head);
	net_stream_close(st);
	atomic_fetch_sub(&srv->connections, 1);
	relay_ip_release(srv, addr);
	return NULL;
}

/* Reads the HTTP head (bounded in size and time: slowloris), then
 * finish_upgrade. Returns the joined connection for handshake() to run
 * once these frames (the parsed request, the TLS handshake's depth) are off
 * the stack, or NULL. */
static __attribute__((noinline)) struct relay_conn *read_upgrade(void *arg)
{
	struct hs_arg *a = arg;
	struct relay_thread *th = a->th;
	struct relay_server *srv = th->srv;
	struct sockaddr_storage addr = a->addr;
	uint8_t *head = NULL;
	size_t len = 0, cap = 0;
	int err = 0, n = HEAD_GONE;
	struct net_tls_ctx *tls = a->tls ? current_tls(srv) : NULL;
	struct core_sock *sock = core_sock_new(a->fd, &err);
	struct net_stream *st = NULL;
	struct relay_hs *h = NULL;
	bool tls_wanted = a->tls;

	free(a);
	if (!sock) {
		net_tls_ctx_free(tls);
		goto release;
	}
	st = net_stream_new(sock, tls, true, NULL, &err);
	net_tls_ctx_free(tls);
	if (!st)
		goto release;
	if ((tls_wanted && !tls) || !(h = calloc(1, sizeof *h)))
		goto done;
	h->st = st;
	h->started_ns = core_now_ns();
	hs_track(th, h);
	uint64_t deadline = h->started_ns + (uint64_t)srv->o.handshake_ms * 1000000u;
	int tr = net_stream_is_tls(st) ? net_stream_handshake(st, (int)srv->o.handshake_ms) : 0;
	if (tr == 0)
		n = read_head(th, h, &head, &len, &cap, deadline);
	else if (h->shed)
		n = HEAD_SHED;
	else if (tr == -ETIMEDOUT)
		n = HEAD_TIMEOUT;
	else if (tr == -EPROTO)
		core_log(CORE_LOG_DEBUG, "relay: %s", net_stream_tls_error(st));
	hs_untrack(th, h);
	if (n > 0) {
		free(h);
		return finish_upgrade(th, st, head, n, &addr);
	}
	uint8_t key[16];
	char ip[46];
	relay_addr_key(&addr, key);
	if (n == HEAD_TIMEOUT) {
		atomic_fetch_add(&srv->handshake_timeouts, 1);
		core_log_limited(&relay_log_refused, CORE_LOG_INFO, "relay: refused %s: 408 handshake timeout (%zu bytes in %u ms)",
				 relay_addr_key_str(key, ip), len, srv->o.handshake_ms);
		send_plain(st, 408, "text/plain", "handshake timeout\n", 18);
	} else if (n == HEAD_SHED) {
		core_log_limited(&relay_log_refused, CORE_LOG_INFO,
				 "relay: shed the handshake of %s after %llu ms (%zu bytes): too many handshakes at once",
				 relay_addr_key_str(key, ip),
				 (unsigned long long)((core_now_ns() - h->started_ns) / 1000000u), len);
	} else if (n == RELAY_HTTP_E_TOO_LARGE) {
		atomic_fetch_add(&srv->rejected_400, 1);
		send_http_error(st, n, &addr);
	}
	free(h);
done:
	net_stream_close(st);
release:
	free(head);
	atomic_fetch_sub(&srv->connections, 1);
	relay_ip_release(srv, &addr);
	return NULL;
}

/* A connection's coroutine: the upgrade, then the session from this
 * shallow frame. */
static void handshake(void *arg)
{
	struct relay_conn *c = read_upgrade(arg);
	if (c)
		relay_session_run(c);
}

/* ---- accept loop ---- */

static void refuse_now(int fd, const char *status_line)
{
	char buf[256];
	int n = snprintf(buf, sizeof buf, "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status_line);
	if (send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* it is being refused anyway */
	}
	close(fd);
}

static void on_stop(void *arg)
{
	struct relay_thread *th = arg;
	th->stopping = true;
	core_listener_interrupt(th->l[0]);
	core_listener_interrupt(th->l[1]);
	for (struct relay_hs *h = th->hs_head; h; h = h->next)
		net_stream_interrupt(h->st);
	relay_thread_stop_conns(th);
	if (th->trimmer)
		core_unpark(th->trimmer, -ECANCELED);
}

struct accept_arg {
	struct relay_thread *th;
	int which;      /* 0: --port, 1: --plain-port */
	bool tls;
};

static void accept_loop(void *arg)
{
	struct accept_arg aa = *(struct accept_arg *)arg;
	struct relay_thread *th = aa.th;
	struct relay_server *srv = th->srv;
	free(arg);
	struct core_listener *l = th->l[aa.which];
	while (!th->stopping) {
		int fd = core_listener_accept(l, -1);
		if (fd == -ECANCELED)
			break;
		if (fd < 0) {
			/* EMFILE/ENFILE: out of descriptors; back off briefly. */
			core_log_limited(&relay_log_accept, CORE_LOG_WARN, "relay: accept: %s", strerror(-fd));
			core_sleep(50);
			continue;
		}
		struct hs_arg *a = malloc(sizeof *a);
		socklen_t al = sizeof a->addr;
		if (!a || getpeername(fd, (struct sockaddr *)&a->addr, &al) != 0) {
			free(a);
			close(fd);
			continue;
		}
		/* Past the descriptor budget, or too many heads being read: the
		 * oldest handshake of this thread makes room (slowloris from
		 * many addresses must not lock legitimate clients out until
		 * its handshakes time out). */
		bool too_many = atomic_load(&srv->connections) >= srv->max_conns;
		if ((too_many || atomic_load(&srv->handshakes) >= srv->o.max_handshakes) && hs_shed_oldest(th))
			too_many = false;
		if (too_many || !ip_acquire(srv, &a->addr)) {
			uint8_t key[16];
			char ip[46];
			relay_addr_key(&a->addr, key);
			core_log_limited(&relay_log_refused, CORE_LOG_INFO, "relay: refused %s: 429 Too Many Requests (%s)",
					 relay_addr_key_str(key, ip),
					 too_many ? "connection limit" : "--max-conns-per-ip reached");
			atomic_fetch_add(&srv->rejected_limit, 1);
			refuse_now(fd, "429 Too Many Requests");
			free(a);
			continue;
		}
		atomic_fetch_add(&srv->connections, 1);
		atomic_fetch_add(&srv->total_connections, 1);
		/* Forwarded messages go out at once: Nagle's wait for an ACK
		 * (delayed by up to 40 ms) would add to every small message. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		/* A bounded kernel queue per client (RELAY_DEFAULT_RCVBUF): what a
		 * stranger can make the kernel hold for us, and what keeps a
		 * thousand busy sessions out of tcp_mem pressure. */
		if (srv->o.rcvbuf != RELAY_RCVBUF_AUTO) {
			int sz = (int)(srv->o.rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 : srv->o.rcvbuf);
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
		}
		if (srv->o.sndbuf != RELAY_RCVBUF_AUTO) {
			int sz = (int)(srv->o.sndbuf > INT32_MAX / 2 ? INT32_MAX / 2 : srv->o.sndbuf);
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
		}
		a->th = th;
		a->fd = fd;
		a->tls = aa.tls;
		if (core_spawn(handshake, a) != 0) {
			atomic_fetch_sub(&srv->connections, 1);
			relay_ip_release(srv, &a->addr);
			close(fd);
			free(a);
		}
	}
	th->l[aa.which] = NULL;
	core_listener_close(l);
}

/* Gives freed heap back to the kernel after load or an attack has gone:
 * glibc keeps what 20,000 half-open connections or a held-data flood freed
 * (RSS stayed at 106-145 MB after such an attack, against 11 MB before).
 * On reactor 0, every TRIM_EVERY_MS: when the connections are down to half
 * of the most seen since the last trim, and that was a real crowd. */
#define TRIM_EVERY_MS 5000
#define TRIM_MIN_PEAK 256

static void trim_rings(void *arg)
{
	(void)arg;
	core_buf_trim();
}

static void trimmer(void *arg)
{
	struct relay_thread *th = arg;
	struct relay_server *srv = th->srv;
	uint64_t peak = 0, held_peak = 0;
	th->trimmer = core_coro_current();
	while (!th->stopping) {
		uint64_t now = atomic_load(&srv->connections), held = atomic_load(&srv->held);
		if (now > peak)
			peak = now;
		if (held > held_peak)
			held_peak = held;
		if ((peak >= TRIM_MIN_PEAK && now <= peak / 2) || (held_peak >= (16u << 20) && held <= held_peak / 2)) {
			malloc_trim(0);
			/* The rings' buffers that a crowd filled stay resident
			 * (8 MB after 20,000 half-open connections): each reactor
			 * gives back the pages of its free ones. */
			core_buf_trim();
			for (unsigned i = 1; i < srv->o.threads; i++)
				core_rt_post(srv->rt, i, trim_rings, NULL);
			core_log(CORE_LOG_DEBUG, "relay: gave freed memory back (connections %llu, most %llu)",
				 (unsigned long long)now, (unsigned long long)peak);
			peak = now;
			held_peak = held;
		}
		if (core_sleep(TRIM_EVERY_MS) == -ECANCELED)
			break;
	}
	th->trimmer = NULL;
}

static void reactor_main(void *arg)
{
	struct relay_server *srv = arg;
	unsigned idx = core_reactor_index(core_self());
	struct relay_thread *th = &srv->th[idx];
	int err = 0;

	for (int w = 0; w < 2; w++) {
		int fd = srv->listen_fds[idx * 2 + w];
		if (fd < 0)
			continue;
		srv->listen_fds[idx * 2 + w] = -1;
		th->l[w] = core_listener_new(fd, &err);
		struct accept_arg *aa = malloc(sizeof *aa);
		if (!th->l[w] || !aa) {
			free(aa);
			core_log(CORE_LOG_ERR, "relay: reactor %u: %s", idx, strerror(ENOMEM));
			core_rt_shutdown(srv->rt);
			return;
		}
		aa->th = th;
		aa->which = w;
		aa->tls = (w == 0 && srv->tls);
		core_spawn(accept_loop, aa);
	}
	core_on_shutdown(&th->hook, on_stop, th);
	if (idx == 0)
		core_spawn(trimmer, th);
	if (srv->o.on_reactor_start)
		core_spawn(srv->o.on_reactor_start, srv->o.on_reactor_start_arg);
	/* The hook lives in th, which outlives the runtime: it stays
	 * registered until the reactor ends. */
}

static void on_hup(void *arg)
{
	struct relay_server *srv = arg;
	char msg[512];
	if (!srv->o.tls_cert)
		return;
	if (relay_server_reload_tls(srv, msg, sizeof msg) == 0)
		core_log(CORE_LOG_INFO, "relay: SIGHUP: reloaded certificate %s", srv->o.tls_cert);
	else
		core_log(CORE_LOG_ERR, "relay: SIGHUP: keeping the old certificate: %s", msg);
}

int relay_server_reload_tls(struct relay_server *srv, char *errbuf, size_t len)
{
	struct net_tls_ctx *c = net_tls_server_ctx_new(srv->o.tls_cert, srv->o.tls_key, errbuf, len);
	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&srv->tls_lock);
	struct net_tls_ctx *old = srv->tls;
	srv->tls = c;
	pthread_mutex_unlock(&srv->tls_lock);
	net_tls_ctx_free(old);
	return 0;
}

uint16_t relay_server_plain_port(const struct relay_server *srv)
{
	return srv->plain_port;
}

/* ---- life cycle ---- */

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *out, socklen_t *out_len,
		   char *errbuf, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char ps[8];
	snprintf(ps, sizeof ps, "%u", port);
	int r = getaddrinfo(host, ps, &hints, &res);
	if (r != 0) {
		snprintf(errbuf, errlen, "cannot resolve listen address '%s': %s", host ? host : "*", gai_strerror(r));
		return -EINVAL;
	}
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*out_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

struct relay_server *relay_server_new(const struct relay_opts *opts, int *err, char *errbuf, size_t errlen)
{
	struct relay_server *srv = calloc(1, sizeof *srv);
	struct core_rt_opts ro = {0};
	struct sockaddr_storage addr;
	socklen_t alen;

	errbuf[0] = 0;
	if (!srv) {
		*err = -ENOMEM;
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&srv->ip_lock, NULL);
	pthread_mutex_init(&srv->tls_lock, NULL);
	srv->o = *opts;
	struct relay_opts *o = &srv->o;
	if (!o->host)
		o->host = "0.0.0.0";
	if (!o->max_message)
		o->max_message = RELAY_DEFAULT_MAX_MESSAGE;
	if (!o->hold_bytes)
		o->hold_bytes = RELAY_DEFAULT_HOLD_BYTES;
	if (!o->hold_total)
		o->hold_total = RELAY_DEFAULT_HOLD_TOTAL;
	if (!o->max_sessions)
		o->max_sessions = RELAY_DEFAULT_MAX_SESSIONS;
	if (!o->max_conns_per_ip)
		o->max_conns_per_ip = RELAY_DEFAULT_MAX_CONNS_PER_IP;
	if (!o->rcvbuf)
		o->rcvbuf = RELAY_DEFAULT_RCVBUF;
	if (!o->sndbuf)
		o->sndbuf = RELAY_DEFAULT_SNDBUF;
	if (!o->handshake_ms)
		o->handshake_ms = RELAY_DEFAULT_HANDSHAKE_MS;
	if (!o->ping_ms)
		o->ping_ms = RELAY_DEFAULT_PING_MS;
	if (!o->idle_ms)
		o->idle_ms = RELAY_DEFAULT_IDLE_MS;
	if (!o->write_ms)
		o->write_ms = RELAY_DEFAULT_WRITE_MS;
	if (!o->hibernate_ms)
		o->hibernate_ms = RELAY_DEFAULT_HIBERNATE_MS;
	if (!o->max_header || o->max_header > RELAY_DEFAULT_MAX_HEADER)
		o->max_header = RELAY_DEFAULT_MAX_HEADER;

	if (!!o->tls_cert != !!o->tls_key) {
		*err = -EINVAL;
		snprintf(errbuf, errlen, "--tls-cert and --tls-key go together");
		goto fail;
	}
	if (o->plain && !o->tls_cert) {
		*err = -EINVAL;
		snprintf(errbuf, errlen, "--plain-port only makes sense with --tls-cert/--tls-key (the main port is already plain)");
		goto fail;
	}
	if (o->tls_cert && relay_server_reload_tls(srv, errbuf, errlen) != 0) {
		*err = -EINVAL;
		goto fail;
	}
	ro.num_threads = o->threads;
	ro.handle_signals = o->handle_signals;
	ro.on_hup = on_hup;
	ro.on_hup_arg = srv;
	srv->rt = core_rt_new(&ro, err);
	if (!srv->rt) {
		snprintf(errbuf, errlen, "%s", core_rt_explain(*err));
		goto fail;
	}
	o->threads = core_rt_threads(srv->rt);
	/* Descriptors: client connections may use all but a reserve for the
	 * listeners, the STUN sockets, each reactor's own and a reload's
	 * certificate files, so accept() never meets EMFILE (which also
	 * breaks those) while the budget has room. */
	struct rlimit rl;
	uint64_t fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? rl.rlim_cur : 1u << 20;
	uint64_t reserve = RELAY_FD_RESERVE + 16u * o->threads;
	srv->max_conns = (uint64_t)o->max_sessions * 2 + 1024;
	if (fds > reserve && fds - reserve < srv->max_conns)
		srv->max_conns = fds - reserve;
	if (!o->max_handshakes)
		o->max_handshakes = (unsigned)(srv->max_conns / 2 ? srv->max_conns / 2 : 1);
	srv->th = calloc(o->threads, sizeof *srv->th);
	srv->listen_fds = malloc(o->threads * 2 * sizeof(int));
	if (!srv->th || !srv->listen_fds) {
		*err = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < o->threads; i++) {
		srv->th[i].srv = srv;
		srv->th[i].idx = i;
		srv->listen_fds[2 * i] = srv->listen_fds[2 * i + 1] = -1;
	}
	for (int w = 0; w < (o->plain ? 2 : 1); w++) {
		uint16_t want = w == 0 ? o->port : o->plain_port;
		*err = resolve(o->host, want, &addr, &alen, errbuf, errlen);
		if (*err)
			goto fail;
		/* One SO_REUSEPORT listener per reactor; with port 0 the first
		 * picks the port and the others join it. */
		for (unsigned i = 0; i < o->threads; i++) {
			int fd = core_tcp_listen((struct sockaddr *)&addr, alen, 4096, true);
			if (fd < 0) {
				*err = fd;
				snprintf(errbuf, errlen, "cannot listen on %s port %u: %s%s", o->host, want, strerror(-fd),
					 fd == -EADDRINUSE ? " (another program uses that port: pick another with --port)"
					 : fd == -EACCES   ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
							   : "");
				goto fail;
			}
			srv->listen_fds[2 * i + (unsigned)w] = fd;
			if (i == 0) {
				struct sockaddr_storage got;
				socklen_t gl = sizeof got;
				getsockname(fd, (struct sockaddr *)&got, &gl);
				uint16_t port = ntohs(((struct sockaddr_in *)&got)->sin_port); /* same offset in v6 */
				if (w == 0)
					srv->port = port;
				else
					srv->plain_port = port;
				((struct sockaddr_in *)&addr)->sin_port = htons(port);
			}
		}
	}
	RAND_bytes((uint8_t *)&srv->hash_seed, sizeof srv->hash_seed);
	return srv;
fail:
	if (!errbuf[0])
		snprintf(errbuf, errlen, "%s", strerror(-*err));
	relay_server_free(srv);
	return NULL;
}

uint16_t relay_server_port(const struct relay_server *srv)
{
	return srv->port;
}

unsigned relay_server_threads(const struct relay_server *srv)
{
	return srv->o.threads;
}

int relay_server_run(struct relay_server *srv)
{
	srv->started_ns = core_now_ns();
	return core_rt_run(srv->rt, reactor_main, srv);
}

void relay_server_stop(struct relay_server *srv)
{
	core_rt_shutdown(srv->rt);
}

void relay_server_free(struct relay_server *srv)
{
	if (!srv)
		return;
	if (srv->listen_fds)
		for (unsigned i = 0; i < srv->o.threads * 2; i++)
			if (srv->listen_fds[i] >= 0)
				close(srv->listen_fds[i]);
	net_tls_ctx_free(srv->tls);
	pthread_mutex_destroy(&srv->tls_lock);
	if (srv->th)
		for (unsigned i = 0; i < srv->o.threads; i++) {
			free(srv->th[i].buckets);
		}
	for (unsigned b = 0; b < 4096; b++)
		while (srv->ips[b]) {
			struct ip_count *n = srv->ips[b]->next;
			free(srv->ips[b]);
			srv->ips[b] = n;
		}
	free(srv->th);
	free(srv->listen_fds);
	core_rt_free(srv->rt);
	pthread_mutex_destroy(&srv->ip_lock);
	free(srv);
}
