/* The relay server: listeners, the HTTP handshake, the status endpoints and
 * the hand-off of a connection to the reactor that owns its session. The
 * sessions themselves are in relay/session.c. */
#include "relay/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "net/bssl.h"
#include "relay/http.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int relay_send_all(struct core_sock *s, const void *buf, size_t len, int timeout_ms)
{
	int r = core_sock_send(s, buf, len, timeout_ms);
	return r < 0 ? r : 0;
}

/* ---- per-IP connection counts ---- */

static void addr_key(const struct sockaddr_storage *a, uint8_t out[16])
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
	addr_key(addr, k);
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
	addr_key(addr, k);
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
	out->uptime_s = (now_ns() - srv->started_ns) / 1000000000u;
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
			", \"limits\": %" PRIu64 ", \"handshake_timeout\": %" PRIu64 "}"
			", \"protocol_errors\": %" PRIu64 ", \"too_big\": %" PRIu64
			", \"keepalive_timeouts\": %" PRIu64 "}",
			st->total_sessions, st->active_sessions, st->waiting_sessions, st->connections,
			st->total_connections, st->total_bytes_relayed, st->total_messages_relayed, st->uptime_s,
			st->rejected_409, st->rejected_400, st->rejected_limit, st->handshake_timeouts,
			st->protocol_errors, st->too_big, st->keepalive_timeouts);
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
		"# HELP atmosphere_relay_closes_total Connections failed by the relay, by reason.\n"
		"# TYPE atmosphere_relay_closes_total counter\n"
		"atmosphere_relay_closes_total{reason=\"protocol_error\"} %" PRIu64 "\n"
		"atmosphere_relay_closes_total{reason=\"too_big\"} %" PRIu64 "\n"
		"atmosphere_relay_closes_total{reason=\"keepalive_timeout\"} %" PRIu64 "\n"
		"# HELP atmosphere_relay_uptime_seconds Seconds since start.\n"
		"# TYPE atmosphere_relay_uptime_seconds gauge\n"
		"atmosphere_relay_uptime_seconds %" PRIu64 "\n",
		st->total_sessions, st->active_sessions, st->waiting_sessions, st->connections, st->total_connections,
		st->total_bytes_relayed, st->total_messages_relayed, st->rejected_409, st->rejected_400,
		st->rejected_limit, st->handshake_timeouts, st->protocol_errors, st->too_big, st->keepalive_timeouts,
		st->uptime_s);
}

static void send_plain(struct core_sock *s, int status, const char *ctype, const char *body, size_t body_len)
{
	uint8_t out[8192];
	struct relay_http_response r = {.status = status, .content_type = ctype, .body = (const uint8_t *)body,
					.body_len = body_len};
	int n = relay_http_response_build(out, sizeof out, &r);
	if (n > 0)
		relay_send_all(s, out, (size_t)n, 5000);
}

static void send_http_error(struct core_sock *s, int err)
{
	uint8_t out[1024];
	int n = relay_http_error_response_build(out, sizeof out, err);
	if (n > 0)
		relay_send_all(s, out, (size_t)n, 5000);
}

/* ---- hand-off to the owning reactor ---- */

struct handoff {
	struct relay_server *srv;
	int fd;
	char id[129];
	size_t id_len;
	char accept[RELAY_HTTP_ACCEPT_LEN + 1];
	uint8_t *leftover;
	size_t leftover_len;
	struct sockaddr_storage addr;
};

static void handoff_arrive(void *arg)
{
	struct handoff *h = arg;
	struct relay_thread *th = &h->srv->th[core_reactor_index(core_self())];
	int err = 0;
	struct core_sock *s = core_sock_new(h->fd, &err);
	if (!s) {
		free(h->leftover);
		atomic_fetch_sub(&h->srv->connections, 1);
		relay_ip_release(h->srv, &h->addr);
		free(h);
		return;
	}
	/* relay_session_join takes the leftover buffer. */
	relay_session_join(th, s, h->id, h->id_len, h->accept, h->leftover, h->leftover_len, &h->addr);
	free(h);
}

/* ---- handshake ---- */

struct hs_arg {
	struct relay_thread *th;
	int fd;
	struct sockaddr_storage addr;
};

static unsigned hs_track(struct relay_thread *th, struct core_sock *s)
{
	for (unsigned i = 0; i < th->hs_cap; i++)
		if (!th->hs[i]) {
			th->hs[i] = s;
			return i;
		}
	unsigned cap = th->hs_cap ? th->hs_cap * 2 : 64;
	struct core_sock **n = realloc(th->hs, cap * sizeof *n);
	if (!n)
		return UINT32_MAX;
	memset(n + th->hs_cap, 0, (cap - th->hs_cap) * sizeof *n);
	th->hs = n;
	unsigned i = th->hs_cap;
	th->hs_cap = cap;
	th->hs[i] = s;
	return i;
}

static void handshake(void *arg)
{
	struct hs_arg *a = arg;
	struct relay_thread *th = a->th;
	struct relay_server *srv = th->srv;
	struct sockaddr_storage addr = a->addr;
	uint8_t head[RELAY_DEFAULT_MAX_HEADER + 1];
	size_t len = 0;
	struct relay_http_req req;
	int err = 0, n;
	bool handed = false;
	struct core_sock *s = core_sock_new(a->fd, &err);
	free(a);
	if (!s)
		goto release;
	unsigned slot = hs_track(th, s);
	if (slot == UINT32_MAX)
		goto done_untracked;
	uint64_t deadline = core_now_ns() + (uint64_t)srv->o.handshake_ms * 1000000u;

	/* Read the head: bounded in size and in time (slowloris). */
	for (;;) {
		uint64_t now = core_now_ns();
		if (now >= deadline || th->stopping) {
			if (!th->stopping)
				atomic_fetch_add(&srv->handshake_timeouts, 1);
			send_plain(s, 408, "text/plain", "handshake timeout\n", 18);
			goto done;
		}
		struct core_buf b;
		n = core_sock_recv(s, &b, (int)((deadline - now) / 1000000u) + 1);
		if (n == -ETIMEDOUT)
			continue;
		if (n <= 0)
			goto done;
		size_t take = b.len;
		bool overflow = false;
		if (len + take > srv->o.max_header) {
			take = srv->o.max_header - len;
			overflow = true;
		}
		memcpy(head + len, b.data, take);
		len += take;
		/* Bytes past the head in this lease are kept below via head[]; a
		 * lease longer than the limit is refused as too large anyway. */
		uint8_t *extra = b.data + take;
		size_t extra_len = b.len - take;
		n = relay_http_parse_request(&req, head, len);
		if (n == RELAY_HTTP_INCOMPLETE && overflow)
			n = RELAY_HTTP_E_TOO_LARGE;
		if (n == RELAY_HTTP_INCOMPLETE) {
			core_buf_release(&b);
			continue;
		}
		if (n < 0) {
			core_buf_release(&b);
			atomic_fetch_add(&srv->rejected_400, 1);
			send_http_error(s, n);
			goto done;
		}
		/* Complete: n bytes of head; the rest of head[] and extra[] are
		 * the first WebSocket bytes. */
		struct relay_http_span sid;
		int route = relay_http_route(&sid, &req);
		if (route < 0) {
			core_buf_release(&b);
			atomic_fetch_add(&srv->rejected_400, 1);
			send_http_error(s, route);
			goto done;
		}
		if (route != RELAY_HTTP_ROUTE_RELAY) {
			core_buf_release(&b);
			struct relay_stats st;
			char body[4096];
			relay_server_stats(srv, &st);
			if (route == RELAY_HTTP_ROUTE_HEALTH) {
				int bl = body_health(&st, body, sizeof body);
				send_plain(s, 200, "application/json", body, (size_t)bl);
			} else if (route == RELAY_HTTP_ROUTE_STATS) {
				int bl = body_stats(&st, body, sizeof body);
				send_plain(s, 200, "application/json", body, (size_t)bl);
			} else {
				int bl = body_metrics(&st, body, sizeof body);
				send_plain(s, 200, "text/plain; version=0.0.4", body, (size_t)bl);
			}
			goto done;
		}
		char accept[RELAY_HTTP_ACCEPT_LEN + 1];
		int up = relay_http_check_upgrade(accept, &req);
		if (up < 0) {
			core_buf_release(&b);
			atomic_fetch_add(&srv->rejected_400, 1);
			send_http_error(s, up);
			goto done;
		}
		size_t left_len = len - (size_t)n + extra_len;
		uint8_t *leftover = NULL;
		if (left_len) {
			leftover = malloc(left_len);
			if (!leftover) {
				core_buf_release(&b);
				goto done;
			}
			memcpy(leftover, head + n, len - (size_t)n);
			memcpy(leftover + (len - (size_t)n), extra, extra_len);
		}
		core_buf_release(&b);
		char id[129];
		memcpy(id, sid.ptr, sid.len);
		id[sid.len] = 0;
		th->hs[slot] = NULL;
		unsigned owner = (unsigned)(relay_session_hash(srv, id, sid.len) % srv->o.threads);
		if (owner == th->idx) {
			relay_session_join(th, s, id, sid.len, accept, leftover, left_len, &addr);
			return; /* join owns s and the connection count now */
		}
		/* Another reactor owns this session: move the socket there. */
		struct handoff *h = calloc(1, sizeof *h);
		uint8_t *more = NULL;
		size_t more_len = 0;
		if (!h) {
			free(leftover);
			goto done_untracked;
		}
		int fd = core_sock_detach(s, &more, &more_len);
		s = NULL;
		if (fd < 0) {
			free(leftover);
			free(h);
			goto release;
		}
		if (more_len) {
			uint8_t *all = realloc(leftover, left_len + more_len);
			if (!all) {
				close(fd);
				free(more);
				free(leftover);
				free(h);
				goto release;
			}
			memcpy(all + left_len, more, more_len);
			leftover = all;
			left_len += more_len;
			free(more);
		}
		h->srv = srv;
		h->fd = fd;
		memcpy(h->id, id, sid.len + 1);
		h->id_len = sid.len;
		memcpy(h->accept, accept, sizeof accept);
		h->leftover = leftover;
		h->leftover_len = left_len;
		h->addr = addr;
		if (core_rt_post(srv->rt, owner, handoff_arrive, h) != 0) {
			close(fd);
			free(leftover);
			free(h);
			goto release;
		}
		handed = true;
		goto release;
	}
done:
	th->hs[slot] = NULL;
done_untracked:
	core_sock_close(s);
release:
	if (!handed) {
		atomic_fetch_sub(&srv->connections, 1);
		relay_ip_release(srv, &addr);
	}
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
	core_listener_interrupt(th->l);
	for (unsigned i = 0; i < th->hs_cap; i++)
		if (th->hs[i])
			core_sock_interrupt(th->hs[i]);
	relay_thread_stop_conns(th);
}

static void reactor_main(void *arg)
{
	struct relay_server *srv = arg;
	unsigned idx = core_reactor_index(core_self());
	struct relay_thread *th = &srv->th[idx];
	int err = 0;

	th->l = core_listener_new(srv->listen_fds[idx], &err);
	srv->listen_fds[idx] = -1;
	if (!th->l) {
		core_log(CORE_LOG_ERR, "relay: reactor %u: %s", idx, strerror(-err));
		core_rt_shutdown(srv->rt);
		return;
	}
	core_on_shutdown(&th->hook, on_stop, th);
	if (srv->o.on_reactor_start)
		core_spawn(srv->o.on_reactor_start, srv->o.on_reactor_start_arg);
	while (!th->stopping) {
		int fd = core_listener_accept(th->l, -1);
		if (fd == -ECANCELED)
			break;
		if (fd < 0) {
			/* EMFILE/ENFILE: out of descriptors; back off briefly. */
			core_log(CORE_LOG_WARN, "relay: accept: %s", strerror(-fd));
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
		if (atomic_load(&srv->connections) >= (uint64_t)srv->o.max_sessions * 2 + 1024 ||
		    !ip_acquire(srv, &a->addr)) {
			atomic_fetch_add(&srv->rejected_limit, 1);
			refuse_now(fd, "429 Too Many Requests");
			free(a);
			continue;
		}
		atomic_fetch_add(&srv->connections, 1);
		atomic_fetch_add(&srv->total_connections, 1);
		a->th = th;
		a->fd = fd;
		if (core_spawn(handshake, a) != 0) {
			atomic_fetch_sub(&srv->connections, 1);
			relay_ip_release(srv, &a->addr);
			close(fd);
			free(a);
		}
	}
	core_shutdown_hook_remove(&th->hook);
	core_listener_close(th->l);
	th->l = NULL;
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
	srv->o = *opts;
	struct relay_opts *o = &srv->o;
	if (!o->host)
		o->host = "0.0.0.0";
	if (!o->max_message)
		o->max_message = RELAY_DEFAULT_MAX_MESSAGE;
	if (!o->hold_bytes)
		o->hold_bytes = RELAY_DEFAULT_HOLD_BYTES;
	if (!o->max_sessions)
		o->max_sessions = RELAY_DEFAULT_MAX_SESSIONS;
	if (!o->max_conns_per_ip)
		o->max_conns_per_ip = RELAY_DEFAULT_MAX_CONNS_PER_IP;
	if (!o->handshake_ms)
		o->handshake_ms = RELAY_DEFAULT_HANDSHAKE_MS;
	if (!o->ping_ms)
		o->ping_ms = RELAY_DEFAULT_PING_MS;
	if (!o->idle_ms)
		o->idle_ms = RELAY_DEFAULT_IDLE_MS;
	if (!o->write_ms)
		o->write_ms = RELAY_DEFAULT_WRITE_MS;
	if (!o->max_header || o->max_header > RELAY_DEFAULT_MAX_HEADER)
		o->max_header = RELAY_DEFAULT_MAX_HEADER;

	ro.num_threads = o->threads;
	ro.handle_signals = o->handle_signals;
	srv->rt = core_rt_new(&ro, err);
	if (!srv->rt) {
		snprintf(errbuf, errlen, "%s", core_rt_explain(*err));
		goto fail;
	}
	o->threads = core_rt_threads(srv->rt);
	srv->th = calloc(o->threads, sizeof *srv->th);
	srv->listen_fds = malloc(o->threads * sizeof(int));
	if (!srv->th || !srv->listen_fds) {
		*err = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < o->threads; i++) {
		srv->th[i].srv = srv;
		srv->th[i].idx = i;
		srv->listen_fds[i] = -1;
	}
	*err = resolve(o->host, o->port, &addr, &alen, errbuf, errlen);
	if (*err)
		goto fail;
	/* One SO_REUSEPORT listener per reactor; with port 0 the first picks
	 * the port and the others join it. */
	for (unsigned i = 0; i < o->threads; i++) {
		int fd = core_tcp_listen((struct sockaddr *)&addr, alen, 4096, true);
		if (fd < 0) {
			*err = fd;
			snprintf(errbuf, errlen, "cannot listen on %s port %u: %s%s", o->host, ntohs(((struct sockaddr_in *)&addr)->sin_port),
				 strerror(-fd), fd == -EADDRINUSE ? " (another program uses that port: pick another with --port)" :
					       fd == -EACCES ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" : "");
			goto fail;
		}
		srv->listen_fds[i] = fd;
		if (i == 0) {
			struct sockaddr_storage got;
			socklen_t gl = sizeof got;
			getsockname(fd, (struct sockaddr *)&got, &gl);
			srv->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
			((struct sockaddr_in *)&addr)->sin_port = htons(srv->port); /* same offset for v6 */
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
	srv->started_ns = now_ns();
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
		for (unsigned i = 0; i < srv->o.threads; i++)
			if (srv->listen_fds[i] >= 0)
				close(srv->listen_fds[i]);
	if (srv->th)
		for (unsigned i = 0; i < srv->o.threads; i++) {
			free(srv->th[i].buckets);
			free(srv->th[i].hs);
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
