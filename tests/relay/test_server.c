/* relay/server: the relay as its clients see it. Each test starts a relay
 * in-process (relay_server_new on 127.0.0.1 port 0, relay_server_run on a
 * background thread) and drives it from the test thread with blocking
 * sockets, building masked client frames with relay/ws_frame.h and the
 * upgrade request with relay/http.h. What is asserted comes from issue 4,
 * relay/server.h and RFC 6455, not from the implementation: pairing and the
 * paired notice, forwarding of every size and type in both directions, frame
 * for frame; fragmentation with pings between fragments; held messages;
 * 409/400/404/405/431; the close codes 1002, 1007, 1009 and the peer's Close;
 * /health, /stats, /metrics; two reactors. Limits (slowloris, slow reader,
 * hold bound, write timeout, keepalive, idle, per-IP, max sessions) are at
 * the end.
 *
 * Every wait polls with a deadline; every test has a .timeout. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/coro.h"
#include "core/reactor.h"
#include "harness.h"
#include "helpers.h"
#include "relay/http.h"
#include "relay/server.h"
#include "relay/ws_frame.h"

/* ------------------------------------------------------------------ */
/* Harness: the relay on a background thread. */

static void t_relay_suite_init(void)
{
	/* Writes to a socket the relay closed must fail, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
}

TestSuite(relay_server, .init = t_relay_suite_init);

/* ------------------------------------------------------------------ */
/* Payloads. */

/* ------------------------------------------------------------------ */
/* A blocking WebSocket client. */

struct t_ws {
	int fd;
	uint8_t *rb;
	size_t beg, end, cap;
	unsigned seq;            /* mask key seed */
	/* t_service bookkeeping */
	bool answer_pings;
	unsigned pings, msgs;
	bool got_close, eof;
	uint16_t close_code;
	uint64_t close_ns, eof_ns;
};

struct t_frame {
	uint8_t opcode;
	bool fin;
	uint8_t *data;           /* malloc'd, never NULL */
	size_t len;
};

static int t_tcp_connect(uint16_t port)
{
	int fd = t_connect_tcp(port);
	struct timeval tv = {.tv_sec = 30};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* Reads more bytes into c->rb: 0, -ETIMEDOUT at the deadline, -EPIPE at end
 * of stream, -errno on error. */
static int t_rb_more(struct t_ws *c, uint64_t deadline)
{
	if (c->cap - c->end < 65536) {
		if (c->beg) {
			memmove(c->rb, c->rb + c->beg, c->end - c->beg);
			c->end -= c->beg;
			c->beg = 0;
		}
		if (c->cap - c->end < 65536) {
			size_t cap = c->cap ? c->cap * 2 : 131072;
			c->rb = realloc(c->rb, cap);
			cr_assert_not_null(c->rb);
			c->cap = cap;
		}
	}
	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int pr = poll(&p, 1, t_ms_left(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			return -ETIMEDOUT;
		ssize_t n = recv(c->fd, c->rb + c->end, c->cap - c->end, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		c->end += (size_t)n;
		return 0;
	}
}

/* Takes one whole frame out of what was read: 1, or 0 when more bytes are
 * needed, or -EPROTO for bytes a server may not send (a masked frame, RSV
 * bits, a reserved opcode...). */
static int t_ws_take_frame(struct t_ws *c, struct t_frame *f)
{
	struct relay_ws_hdr h;
	size_t avail = c->end - c->beg;
	int hl = relay_ws_frame_parse_header(&h, RELAY_WS_ROLE_CLIENT, UINT64_MAX, c->rb + c->beg, avail);
	if (hl == RELAY_WS_INCOMPLETE)
		return 0;
	if (hl < 0)
		return -EPROTO;
	if (h.payload_len > (64u << 20))
		return -EMSGSIZE;
	if (avail < (size_t)hl + h.payload_len)
		return 0;
	f->opcode = h.opcode;
	f->fin = h.fin;
	f->len = (size_t)h.payload_len;
	f->data = malloc(f->len ? f->len : 1);
	memcpy(f->data, c->rb + c->beg + hl, f->len);
	c->beg += (size_t)hl + f->len;
	return 1;
}

static int t_ws_read_frame(struct t_ws *c, struct t_frame *f, int timeout_ms)
{
	uint64_t deadline = t_now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		int r = t_ws_take_frame(c, f);
		if (r)
			return r < 0 ? r : 0;
		r = t_rb_more(c, deadline);
		if (r < 0)
			return r;
	}
}

/* Builds a masked client frame into out (room for len + 14); key from seed. */
static size_t t_ws_build(uint8_t *out, bool fin, uint8_t opcode, const void *payload, size_t len, unsigned seed)
{
	uint8_t key[4] = {(uint8_t)(0x5a ^ seed), (uint8_t)(0xa7 + seed * 3), (uint8_t)(0x3c ^ (seed >> 8)),
			  (uint8_t)(0xe1 + seed * 11)};
	int hl = relay_ws_frame_build_header(out, fin, opcode, len, key);
	cr_assert_gt(hl, 0, "build_header: %s", relay_ws_strerror(hl));
	if (len)
		memcpy(out + hl, payload, len);
	relay_ws_unmask(out + hl, len, key, 0);
	return (size_t)hl + len;
}

static void t_ws_send_raw(struct t_ws *c, const void *buf, size_t len)
{
	int r = t_write_all(c->fd, buf, len);
	cr_assert_eq(r, 0, "send: %s", strerror(-r));
}

static void t_ws_send(struct t_ws *c, bool fin, uint8_t opcode, const void *payload, size_t len)
{
	uint8_t *fr = malloc(len + RELAY_WS_MAX_HEADER_LEN);
	size_t n = t_ws_build(fr, fin, opcode, payload, len, c->seq++);
	t_ws_send_raw(c, fr, n);
	free(fr);
}

/* Sends on a thread, for frames that do not fit the socket buffers. */
struct t_sender {
	pthread_t thread;
	int fd;
	uint8_t *buf;
	size_t len;
	bool own;
	int ret;
};

static void *t_sender_main(void *arg)
{
	struct t_sender *s = arg;
	s->ret = t_write_all(s->fd, s->buf, s->len);
	return NULL;
}

static void t_send_raw_bg(struct t_sender *s, struct t_ws *c, uint8_t *buf, size_t len)
{
	*s = (struct t_sender){.fd = c->fd, .buf = buf, .len = len};
	cr_assert_eq(pthread_create(&s->thread, NULL, t_sender_main, s), 0);
}

static void t_send_bg(struct t_sender *s, struct t_ws *c, bool fin, uint8_t opcode, const void *payload, size_t len)
{
	uint8_t *fr = malloc(len + RELAY_WS_MAX_HEADER_LEN);
	size_t n = t_ws_build(fr, fin, opcode, payload, len, c->seq++);
	t_send_raw_bg(s, c, fr, n);
	s->own = true;
}

static int t_send_join(struct t_sender *s)
{
	pthread_join(s->thread, NULL);
	if (s->own)
		free(s->buf);
	return s->ret;
}

/* Opens a WebSocket to path, sending extra (frames) in the same write as the
 * request. Returns the client on 101; else NULL with *status (0: closed
 * without an answer) and the body in body[0..body_cap). */
static struct t_ws *t_ws_open_with(uint16_t port, const char *path, const void *extra, size_t extra_len, int *status,
				   char *body, size_t body_cap)
{
	struct t_ws *c = calloc(1, sizeof *c);
	c->fd = t_tcp_connect(port);
	c->seq = (unsigned)port + (unsigned)c->fd * 7919u;
	uint8_t nonce[16], req[1024 + 256];
	for (int i = 0; i < 16; i++)
		nonce[i] = (uint8_t)(rand() & 0xff);
	char key[RELAY_HTTP_KEY_LEN + 1], host[32];
	relay_http_key_encode(key, nonce);
	snprintf(host, sizeof host, "127.0.0.1:%u", port);
	int n = relay_http_upgrade_request_build(req, sizeof req - 256, host, path, key);
	cr_assert_gt(n, 0, "upgrade request for '%s': %s", path, relay_http_strerror(n));
	cr_assert_leq(extra_len, 256);
	if (extra_len)
		memcpy(req + n, extra, extra_len);
	*status = 0;
	if (body && body_cap)
		body[0] = 0;
	(void)t_write_all(c->fd, req, (size_t)n + extra_len); /* a refusal may reset it */

	uint64_t deadline = t_now_ns() + 10000000000ull;
	struct relay_http_resp resp;
	int hl;
	for (;;) {
		hl = relay_http_parse_response(&resp, c->rb + c->beg, c->end - c->beg);
		if (hl != RELAY_HTTP_INCOMPLETE)
			break;
		int r = t_rb_more(c, deadline);
		if (r < 0)
			goto refused;
	}
	cr_assert_gt(hl, 0, "bad response head: %s", relay_http_strerror(hl));
	*status = resp.status;
	if (resp.status == 101) {
		int ok = relay_http_check_upgrade_response(&resp, key, strlen(key));
		cr_assert_eq(ok, RELAY_HTTP_OK, "101 for '%s' fails the client checks: %s", path, relay_http_strerror(ok));
		c->beg += (size_t)hl;
		return c;
	}
	c->beg += (size_t)hl;
	size_t want = resp.has_content_length ? (size_t)resp.content_length : SIZE_MAX;
	while (c->end - c->beg < want && t_rb_more(c, deadline) == 0)
		;
	if (body && body_cap) {
		size_t bl = c->end - c->beg;
		if (bl > want)
			bl = want;
		if (bl > body_cap - 1)
			bl = body_cap - 1;
		memcpy(body, c->rb + c->beg, bl);
		body[bl] = 0;
	}
refused:
	close(c->fd);
	free(c->rb);
	free(c);
	return NULL;
}

static struct t_ws *t_ws_connect(uint16_t port, const char *id)
{
	char path[256];
	snprintf(path, sizeof path, "/relay/%s", id);
	int st = 0;
	char body[256];
	struct t_ws *c = t_ws_open_with(port, path, NULL, 0, &st, body, sizeof body);
	cr_assert_not_null(c, "connect to %s: status %d '%s'", path, st, body);
	return c;
}

static void t_ws_close(struct t_ws *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->rb);
	free(c);
}

/* Ends the TCP connection without a Close: FIN, or RST when rst. */
static void t_ws_abort(struct t_ws *c, bool rst)
{
	if (rst) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	}
	t_ws_close(c);
}

/* Reads one message: its frames reassembled (pings answered, pongs
 * skipped). Returns the number of data frames, or -errno; -ECONNABORTED for
 * a Close. */
static int t_ws_read_msg(struct t_ws *c, uint8_t *out_op, uint8_t **out, size_t *out_len, int timeout_ms)
{
	uint64_t deadline = t_now_ns() + (uint64_t)timeout_ms * 1000000u;
	uint8_t *msg = NULL;
	size_t len = 0;
	int frames = 0;
	for (;;) {
		struct t_frame f = {0};
		int r = t_ws_read_frame(c, &f, t_ms_left(deadline));
		if (r < 0) {
			free(msg);
			return r;
		}
		if (f.opcode == RELAY_WS_OP_PING) {
			t_ws_send(c, true, RELAY_WS_OP_PONG, f.data, f.len);
			free(f.data);
			continue;
		}
		if (f.opcode == RELAY_WS_OP_PONG) {
			free(f.data);
			continue;
		}
		if (f.opcode == RELAY_WS_OP_CLOSE) {
			free(f.data);
			free(msg);
			return -ECONNABORTED;
		}
		cr_assert_eq(f.opcode == RELAY_WS_OP_CONTINUATION, frames > 0, "opcode %u as frame %d of a message",
			     f.opcode, frames);
		if (!frames)
			*out_op = f.opcode;
		msg = realloc(msg, len + f.len + 1);
		memcpy(msg + len, f.data, f.len);
		len += f.len;
		frames++;
		bool fin = f.fin;
		free(f.data);
		if (fin) {
			*out = msg;
			*out_len = len;
			return frames;
		}
	}
}

static void t_expect_msg(struct t_ws *c, uint8_t op, const void *want, size_t len)
{
	uint8_t got_op = 0, *msg;
	size_t got;
	int r = t_ws_read_msg(c, &got_op, &msg, &got, 10000);
	cr_assert_gt(r, 0, "expected a %zu-byte message: %s", len, strerror(-r));
	cr_assert_eq(got_op, op, "message type %u, want %u", got_op, op);
	cr_assert_eq(got, len, "message length %zu, want %zu", got, len);
	cr_assert(!len || !memcmp(msg, want, len), "message differs at byte %zu", t_first_diff(msg, want, len));
	free(msg);
}

static void t_expect_paired(struct t_ws *c, const char *id)
{
	char want[256];
	int n = snprintf(want, sizeof want, RELAY_PAIRED_MESSAGE_FMT, id);
	t_expect_msg(c, RELAY_WS_OP_TEXT, want, (size_t)n);
}

/* Two clients of one session, each past its paired notice. */
static void t_pair(struct t_relay *r, const char *id, struct t_ws **a, struct t_ws **b)
{
	*a = t_ws_connect(r->port, id);
	*b = t_ws_connect(r->port, id);
	t_expect_paired(*a, id);
	t_expect_paired(*b, id);
}

/* Reads until a Close frame (skipping other frames, answering pings when
 * c->answer_pings): 0 with its code (1005 when it has none), or -errno
 * (-EPIPE: the stream ended without one). */
static int t_ws_expect_close(struct t_ws *c, uint16_t *code, int timeout_ms)
{
	uint64_t deadline = t_now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		struct t_frame f = {0};
		int r = t_ws_read_frame(c, &f, t_ms_left(deadline));
		if (r < 0)
			return r;
		if (f.opcode == RELAY_WS_OP_CLOSE) {
			struct relay_ws_close cl;
			int pr = relay_ws_close_parse(&cl, f.data, f.len);
			cr_assert_eq(pr, RELAY_WS_OK, "the relay sent a malformed Close: %s", relay_ws_strerror(pr));
			*code = cl.code;
			free(f.data);
			return 0;
		}
		if (f.opcode == RELAY_WS_OP_PING && c->answer_pings)
			t_ws_send(c, true, RELAY_WS_OP_PONG, f.data, f.len);
		free(f.data);
	}
}

/* Waits for the end of the stream (EOF or reset), discarding what comes. */
static int t_ws_wait_eof(struct t_ws *c, int timeout_ms)
{
	uint64_t deadline = t_now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		c->beg = c->end = 0;
		int r = t_rb_more(c, deadline);
		if (r == -EPIPE || r == -ECONNRESET)
			return 0;
		if (r < 0)
			return r;
	}
}

/* Serves clients until until_ns, or until every one of them has seen its
 * stream end when stop_when_ended: answers pings for clients with
 * answer_pings, and records pings, messages, Close and end of stream. */
static void t_service(struct t_ws **cs, int n, uint64_t until_ns, bool stop_when_ended)
{
	cr_assert_leq(n, 8);
	for (;;) {
		bool all = true;
		for (int i = 0; i < n; i++)
			all = all && cs[i]->eof;
		if (stop_when_ended && all)
			return;
		if (t_now_ns() >= until_ns)
			return;
		struct pollfd p[8];
		for (int i = 0; i < n; i++)
			p[i] = (struct pollfd){.fd = cs[i]->eof ? -1 : cs[i]->fd, .events = POLLIN};
		int pr = poll(p, (nfds_t)n, t_ms_left(until_ns));
		if (pr <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			struct t_ws *c = cs[i];
			if (!p[i].revents)
				continue;
			int r = t_rb_more(c, t_now_ns());
			if (r == -ETIMEDOUT)
				continue;
			if (r < 0) {
				c->eof = true;
				c->eof_ns = t_now_ns();
				continue;
			}
			struct t_frame f = {0};
			while ((r = t_ws_take_frame(c, &f)) == 1) {
				if (f.opcode == RELAY_WS_OP_PING) {
					c->pings++;
					if (c->answer_pings)
						t_ws_send(c, true, RELAY_WS_OP_PONG, f.data, f.len);
				} else if (f.opcode == RELAY_WS_OP_CLOSE) {
					if (!c->got_close) {
						struct relay_ws_close cl;
						if (relay_ws_close_parse(&cl, f.data, f.len) == RELAY_WS_OK)
							c->close_code = cl.code;
						c->got_close = true;
						c->close_ns = t_now_ns();
					}
				} else if (f.opcode != RELAY_WS_OP_PONG && f.fin) {
					c->msgs++;
				}
				free(f.data);
			}
			cr_assert_geq(r, 0, "client %d: the relay sent a bad frame", i);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Plain HTTP. */

struct t_http {
	int status;              /* 0: no response */
	bool eof;                /* the relay closed the connection */
	bool allow_get;          /* an Allow header lists GET */
	char ctype[128];
	char *body;              /* NUL-terminated */
	size_t body_len;
};

static void t_http(uint16_t port, const char *req, size_t len, struct t_http *out)
{
	struct t_ws c = {.fd = t_tcp_connect(port)};
	memset(out, 0, sizeof *out);
	(void)t_write_all(c.fd, req, len);
	uint64_t deadline = t_now_ns() + 10000000000ull;
	int r;
	while ((r = t_rb_more(&c, deadline)) == 0)
		;
	out->eof = r == -EPIPE || r == -ECONNRESET;
	struct relay_http_resp resp;
	int hl = relay_http_parse_response(&resp, c.rb, c.end);
	if (hl > 0) {
		out->status = resp.status;
		size_t bl = c.end - (size_t)hl;
		if (resp.has_content_length) {
			cr_assert_eq(bl, resp.content_length, "body %zu bytes, Content-Length %" PRIu64, bl,
				     resp.content_length);
		}
		out->body = malloc(bl + 1);
		memcpy(out->body, c.rb + hl, bl);
		out->body[bl] = 0;
		out->body_len = bl;
		for (size_t i = 0; i < resp.num_headers; i++) {
			const struct relay_http_header *h = &resp.headers[i];
			if (h->name.len == 5 && !strncasecmp(h->name.ptr, "allow", 5) &&
			    memmem(h->value.ptr, h->value.len, "GET", 3))
				out->allow_get = true;
			if (h->name.len == 12 && !strncasecmp(h->name.ptr, "content-type", 12))
				snprintf(out->ctype, sizeof out->ctype, "%.*s", (int)h->value.len, h->value.ptr);
		}
	} else {
		out->body = calloc(1, 1);
	}
	close(c.fd);
	free(c.rb);
}

static void t_http_free(struct t_http *h)
{
	free(h->body);
	h->body = NULL;
}

static void t_http_get(uint16_t port, const char *path, struct t_http *out)
{
	char req[512];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n", path, port);
	t_http(port, req, (size_t)n, out);
}

/* A GET whose head is exactly total bytes, padded with one header. */
static void t_http_padded(uint16_t port, const char *path, size_t total, struct t_http *out)
{
	char *req = malloc(total + 1);
	int n = snprintf(req, total + 1, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nX-Pad: ", path, port);
	cr_assert(n > 0 && (size_t)n + 4 < total);
	memset(req + n, 'p', total - (size_t)n - 4);
	memcpy(req + total - 4, "\r\n\r\n", 4);
	t_http(port, req, total, out);
	free(req);
}

/* ------------------------------------------------------------------ */
/* Counters. */

struct t_cond_stats {
	struct relay_server *srv;
	uint64_t connections, active, waiting;
};

static bool t_stats_match(void *arg)
{
	struct t_cond_stats *c = arg;
	struct relay_stats st;
	relay_server_stats(c->srv, &st);
	return st.connections == c->connections && st.active_sessions == c->active &&
	       st.waiting_sessions == c->waiting;
}

static const char *t_stats_str(struct relay_server *srv)
{
	static char buf[256];
	struct relay_stats st;
	relay_server_stats(srv, &st);
	snprintf(buf, sizeof buf, "connections %" PRIu64 ", active %" PRIu64 ", waiting %" PRIu64
		 ", total %" PRIu64 ", bytes %" PRIu64,
		 st.connections, st.active_sessions, st.waiting_sessions, st.total_sessions, st.total_bytes_relayed);
	return buf;
}

static void t_expect_health(uint16_t port, uint64_t sessions)
{
	struct t_http h;
	t_http_get(port, "/health", &h);
	cr_assert_eq(h.status, 200, "/health: status %d", h.status);
	cr_expect(!strncmp(h.ctype, "application/json", 16), "/health Content-Type '%s'", h.ctype);
	unsigned long long n = 0;
	long long ts = 0;
	int end = 0;
	int m = sscanf(h.body, "{\"status\": \"ok\", \"sessions\": %llu, \"timestamp\": %lld}%n", &n, &ts, &end);
	cr_assert(m == 2 && (size_t)end == h.body_len, "/health body '%s'", h.body);
	char want[128];
	snprintf(want, sizeof want, "{\"status\": \"ok\", \"sessions\": %llu, \"timestamp\": %lld}", n, ts);
	cr_assert_str_eq(h.body, want, "/health is not in the seed's exact form");
	cr_assert_eq(n, sessions, "/health sessions %llu, want %" PRIu64, n, sessions);
	long long now = (long long)time(NULL);
	cr_assert(ts >= now - 5 && ts <= now + 5, "/health timestamp %lld, now %lld", ts, now);
	t_http_free(&h);
}

struct t_json_stats {
	uint64_t total_sessions, active_sessions, waiting_sessions, connections, total_bytes_relayed, uptime_s;
};

static uint64_t t_json_u64(const char *body, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\"", key);
	const char *p = strstr(body, pat);
	cr_assert_not_null(p, "/stats lacks \"%s\": %s", key, body);
	p += strlen(pat);
	while (*p == ' ')
		p++;
	cr_assert_eq(*p, ':', "/stats: \"%s\" not followed by ':'", key);
	p++;
	while (*p == ' ')
		p++;
	char *e;
	errno = 0;
	unsigned long long v = strtoull(p, &e, 10);
	cr_assert(e != p && errno == 0 && *p != '-', "/stats: \"%s\" is not a count: %.20s", key, p);
	return v;
}

static void t_get_stats(uint16_t port, struct t_json_stats *js)
{
	struct t_http h;
	t_http_get(port, "/stats", &h);
	cr_assert_eq(h.status, 200, "/stats: status %d", h.status);
	cr_expect(!strncmp(h.ctype, "application/json", 16), "/stats Content-Type '%s'", h.ctype);
	cr_assert(h.body_len > 2 && h.body[0] == '{' && h.body[h.body_len - 1] == '}', "/stats body '%s'", h.body);
	js->total_sessions = t_json_u64(h.body, "total_sessions");
	js->active_sessions = t_json_u64(h.body, "active_sessions");
	js->waiting_sessions = t_json_u64(h.body, "waiting_sessions");
	js->connections = t_json_u64(h.body, "connections");
	js->total_bytes_relayed = t_json_u64(h.body, "total_bytes_relayed");
	js->uptime_s = t_json_u64(h.body, "uptime_s");
	t_http_free(&h);
}

/* Checks /metrics is Prometheus text format 0.0.4 and that a bytes counter
 * says bytes. */
static void t_check_metrics(uint16_t port, uint64_t bytes)
{
	struct t_http h;
	t_http_get(port, "/metrics", &h);
	cr_assert_eq(h.status, 200, "/metrics: status %d", h.status);
	cr_assert(!strncmp(h.ctype, "text/plain", 10), "/metrics Content-Type '%s'", h.ctype);
	cr_assert(h.body_len && h.body[h.body_len - 1] == '\n', "/metrics must end with a newline");
	char typed[64][96];
	int num_typed = 0, samples = 0;
	bool sess = false, conn = false, bytes_ok = false;
	char *save = NULL;
	for (char *line = strtok_r(h.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#') {
			char name[96], kind[32];
			if (sscanf(line, "# TYPE %95s %31s", name, kind) == 2) {
				cr_assert(!strcmp(kind, "counter") || !strcmp(kind, "gauge") || !strcmp(kind, "histogram") ||
					  !strcmp(kind, "summary") || !strcmp(kind, "untyped"),
					  "bad TYPE line '%s'", line);
				cr_assert_lt(num_typed, 64);
				snprintf(typed[num_typed++], sizeof typed[0], "%s", name);
			}
			continue;
		}
		size_t nl = strspn(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");
		cr_assert(nl > 0 && !(line[0] >= '0' && line[0] <= '9'), "bad sample line '%s'", line);
		char name[96];
		snprintf(name, sizeof name, "%.*s", (int)nl, line);
		const char *v = line + nl;
		if (*v == '{') {
			v = strchr(v, '}');
			cr_assert_not_null(v, "unterminated labels in '%s'", line);
			v++;
		}
		cr_assert_eq(*v, ' ', "no value in '%s'", line);
		char *e;
		double d = strtod(v + 1, &e);
		cr_assert(e != v + 1 && (*e == 0 || *e == ' '), "bad value in '%s'", line);
		bool found = false;
		for (int i = 0; i < num_typed && !found; i++) {
			size_t tl = strlen(typed[i]);
			found = !strcmp(typed[i], name) ||
				(!strncmp(typed[i], name, tl) && (!strcmp(name + tl, "_total") || !strcmp(name + tl, "_count") ||
								  !strcmp(name + tl, "_sum") || !strcmp(name + tl, "_bucket")));
		}
		cr_assert(found, "sample '%s' has no # TYPE line before it", name);
		samples++;
		sess = sess || strstr(name, "session");
		conn = conn || strstr(name, "connection");
		if (strstr(name, "bytes") && d == (double)bytes)
			bytes_ok = true;
	}
	cr_assert_geq(num_typed, 3, "%d # TYPE lines", num_typed);
	cr_assert_geq(samples, 3);
	cr_assert(sess, "no session metric");
	cr_assert(conn, "no connection metric");
	cr_assert(bytes_ok, "no bytes metric equal to %" PRIu64, bytes);
	t_http_free(&h);
}

/* ------------------------------------------------------------------ */
/* Pairing and forwarding. */

struct fwd_case {
	size_t len;
	uint8_t opcode;
};

static struct fwd_case fwd_cases[] = {
	{0, RELAY_WS_OP_BINARY},     {1, RELAY_WS_OP_BINARY},     {125, RELAY_WS_OP_BINARY},
	{126, RELAY_WS_OP_BINARY},   {65535, RELAY_WS_OP_BINARY}, {65536, RELAY_WS_OP_BINARY},
	{4u << 20, RELAY_WS_OP_BINARY},
	{0, RELAY_WS_OP_TEXT},       {1, RELAY_WS_OP_TEXT},       {125, RELAY_WS_OP_TEXT},
	{126, RELAY_WS_OP_TEXT},     {65535, RELAY_WS_OP_TEXT},   {65536, RELAY_WS_OP_TEXT},
	{4u << 20, RELAY_WS_OP_TEXT},
};

ParameterizedTestParameters(relay_server, forwards_every_size_both_ways)
{
	return cr_make_param_array(struct fwd_case, fwd_cases, sizeof fwd_cases / sizeof fwd_cases[0]);
}

/* One frame each way; the peer gets one frame with the same opcode, FIN and
 * bytes (server.h: "frame for frame (type, FIN and length preserved)"). The
 * sends run on a thread: 4 MiB does not fit the socket buffers. */
ParameterizedTest(struct fwd_case *fc, relay_server, forwards_every_size_both_ways, .timeout = 60)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "sizes", &a, &b);

	for (int dir = 0; dir < 2; dir++) {
		struct t_ws *from = dir ? b : a, *to = dir ? a : b;
		uint8_t *p = fc->opcode == RELAY_WS_OP_TEXT ? t_utf8_text(fc->len, (unsigned)dir)
							    : t_pattern(fc->len, (unsigned)dir + 7);
		struct t_sender snd;
		t_send_bg(&snd, from, true, fc->opcode, p, fc->len);
		struct t_frame f = {0};
		int rc = t_ws_read_frame(to, &f, 30000);
		cr_assert_eq(rc, 0, "size %zu op %u dir %d: read: %s", fc->len, fc->opcode, dir, strerror(-rc));
		cr_assert_eq(f.opcode, fc->opcode, "size %zu dir %d: opcode %u", fc->len, dir, f.opcode);
		cr_assert(f.fin, "size %zu dir %d: FIN lost", fc->len, dir);
		cr_assert_eq(f.len, fc->len, "size %zu dir %d: got %zu bytes", fc->len, dir, f.len);
		cr_assert(fc->len == 0 || memcmp(f.data, p, fc->len) == 0, "size %zu op %u dir %d: content differs at %zu",
			  fc->len, fc->opcode, dir, t_first_diff(f.data, p, fc->len));
		cr_assert_eq(t_send_join(&snd), 0);
		free(f.data);
		free(p);
	}
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* Many small messages back to back keep their order and boundaries. */
Test(relay_server, keeps_order_and_boundaries_of_a_burst, .timeout = 30)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "burst", &a, &b);
	enum { N = 2000 };
	/* All frames in one buffer, one write: they arrive in arbitrary splits. */
	size_t cap = N * (14 + 40), len = 0;
	uint8_t *all = malloc(cap);
	for (unsigned i = 0; i < N; i++) {
		char msg[40];
		int n = snprintf(msg, sizeof msg, "message %u", i);
		uint8_t op = (i % 3) ? RELAY_WS_OP_BINARY : RELAY_WS_OP_TEXT;
		len += t_ws_build(all + len, true, op, msg, (size_t)n, i);
	}
	struct t_sender snd;
	t_send_raw_bg(&snd, a, all, len);
	for (unsigned i = 0; i < N; i++) {
		char want[40];
		int n = snprintf(want, sizeof want, "message %u", i);
		struct t_frame f = {0};
		cr_assert_eq(t_ws_read_frame(b, &f, 10000), 0, "message %u", i);
		cr_assert_eq(f.opcode, (i % 3) ? RELAY_WS_OP_BINARY : RELAY_WS_OP_TEXT, "message %u", i);
		cr_assert(f.fin && f.len == (size_t)n && !memcmp(f.data, want, (size_t)n), "message %u: got '%.*s'", i,
			  (int)f.len, (char *)f.data);
		free(f.data);
	}
	cr_assert_eq(t_send_join(&snd), 0);
	free(all);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* The paired notice: each side gets RELAY_PAIRED_MESSAGE_FMT as a text
 * message, before anything its peer sends. */
Test(relay_server, both_sides_get_the_paired_notice, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	const char *id = "Notice_id-09";
	struct t_ws *a = t_ws_connect(r.port, id);
	struct t_ws *b = t_ws_connect(r.port, id);
	/* b speaks at once: a must still see its notice first. */
	t_ws_send(b, true, RELAY_WS_OP_BINARY, "from b", 6);
	char want[256];
	snprintf(want, sizeof want, RELAY_PAIRED_MESSAGE_FMT, id);
	cr_assert_str_eq(want, "{\"type\":\"paired\",\"session\":\"Notice_id-09\"}");
	for (int i = 0; i < 2; i++) {
		struct t_ws *c = i ? b : a;
		struct t_frame f = {0};
		cr_assert_eq(t_ws_read_frame(c, &f, 5000), 0);
		cr_assert_eq(f.opcode, RELAY_WS_OP_TEXT, "client %d: first frame opcode %u", i, f.opcode);
		cr_assert(f.fin);
		cr_assert(f.len == strlen(want) && !memcmp(f.data, want, f.len), "client %d: notice '%.*s'", i,
			  (int)f.len, (char *)f.data);
		free(f.data);
	}
	struct t_frame f = {0};
	cr_assert_eq(t_ws_read_frame(a, &f, 5000), 0);
	cr_assert(f.opcode == RELAY_WS_OP_BINARY && f.len == 6 && !memcmp(f.data, "from b", 6));
	free(f.data);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* Session ids of exactly 128 characters drawn from the whole alphabet pair. */
Test(relay_server, accepts_longest_id_and_whole_alphabet, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
	char id[129];
	for (int i = 0; i < 128; i++)
		id[i] = alpha[i % 64];
	id[128] = 0;
	struct t_ws *a, *b;
	t_pair(&r, id, &a, &b);
	t_ws_send(a, true, RELAY_WS_OP_BINARY, "x", 1);
	t_expect_msg(b, RELAY_WS_OP_BINARY, "x", 1);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* Frames the client sends in the same write as its upgrade request (before
 * the 101) are not lost. */
Test(relay_server, frames_sent_with_the_request_are_kept, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a = t_ws_connect(r.port, "eager");
	uint8_t extra[64];
	size_t n = t_ws_build(extra, true, RELAY_WS_OP_TEXT, "early bird", 10, 3);
	int st = 0;
	struct t_ws *b = t_ws_open_with(r.port, "/relay/eager", extra, n, &st, NULL, 0);
	cr_assert_not_null(b, "status %d", st);
	t_expect_paired(a, "eager");
	t_expect_paired(b, "eager");
	t_expect_msg(a, RELAY_WS_OP_TEXT, "early bird", 10);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* ------------------------------------------------------------------ */
/* Fragmentation and control frames. */

/* A text message in three fragments, a UTF-8 character split across two of
 * them, pings between the fragments. Each ping gets a pong with its payload;
 * the peer gets the message with its content and type, and (server.h) the
 * same fragments. */
Test(relay_server, forwards_fragments_with_pings_between, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "frag", &a, &b);

	/* "héllo wörld": the ö (C3 B6) is split between fragments 2 and 3. */
	static const char f1[] = "h\xc3\xa9llo ", f2[] = "w\xc3", f3[] = "\xb6rld";
	/* Each ping is answered before the next is sent: §5.5.3 lets a busy
	 * endpoint answer only the latest of several pings. */
	struct t_frame f = {0};
	t_ws_send(a, false, RELAY_WS_OP_TEXT, f1, strlen(f1));
	t_ws_send(a, true, RELAY_WS_OP_PING, "ping-1", 6);
	cr_assert_eq(t_ws_read_frame(a, &f, 5000), 0);
	cr_assert(f.opcode == RELAY_WS_OP_PONG && f.fin, "opcode %u", f.opcode);
	cr_assert(f.len == 6 && !memcmp(f.data, "ping-1", 6), "pong payload '%.*s'", (int)f.len, (char *)f.data);
	free(f.data);
	t_ws_send(a, false, RELAY_WS_OP_CONTINUATION, f2, strlen(f2));
	t_ws_send(a, true, RELAY_WS_OP_PONG, "unsolicited", 11); /* allowed, §5.5.3 */
	t_ws_send(a, true, RELAY_WS_OP_PING, "", 0);
	cr_assert_eq(t_ws_read_frame(a, &f, 5000), 0);
	cr_assert(f.opcode == RELAY_WS_OP_PONG && f.len == 0, "opcode %u len %zu", f.opcode, f.len);
	free(f.data);
	t_ws_send(a, true, RELAY_WS_OP_CONTINUATION, f3, strlen(f3));

	/* b: the message, fragment for fragment; no control frame of a's. */
	const char *want[3] = {f1, f2, f3};
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(t_ws_read_frame(b, &f, 5000), 0);
		cr_assert_eq(f.opcode, i ? RELAY_WS_OP_CONTINUATION : RELAY_WS_OP_TEXT, "fragment %d opcode %u", i,
			     f.opcode);
		cr_assert_eq(f.fin, i == 2, "fragment %d fin %d", i, f.fin);
		cr_assert(f.len == strlen(want[i]) && !memcmp(f.data, want[i], f.len), "fragment %d differs", i);
		free(f.data);
	}
	/* Still a working session. */
	t_ws_send(b, true, RELAY_WS_OP_BINARY, "ok", 2);
	t_expect_msg(a, RELAY_WS_OP_BINARY, "ok", 2);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* A 300 KiB binary message in fragments of 100 KiB, 1 byte, 0 bytes and the
 * rest, a ping in the middle: reassembled, the content is byte-exact. */
Test(relay_server, forwards_large_fragmented_binary, .timeout = 30)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "bigfrag", &a, &b);
	size_t total = 300 * 1024;
	uint8_t *p = t_pattern(total, 42);
	size_t cuts[] = {0, 100 * 1024, 100 * 1024 + 1, 100 * 1024 + 1, total};
	size_t cap = total + 64 * 5 + 64, len = 0;
	uint8_t *all = malloc(cap);
	for (int i = 0; i < 4; i++) {
		uint8_t op = i ? RELAY_WS_OP_CONTINUATION : RELAY_WS_OP_BINARY;
		len += t_ws_build(all + len, i == 3, op, p + cuts[i], cuts[i + 1] - cuts[i], (unsigned)i);
		if (i == 1)
			len += t_ws_build(all + len, true, RELAY_WS_OP_PING, "mid", 3, 99);
	}
	struct t_sender snd;
	t_send_raw_bg(&snd, a, all, len);
	uint8_t op = 0;
	uint8_t *msg;
	size_t mlen;
	int frames = t_ws_read_msg(b, &op, &msg, &mlen, 20000);
	cr_assert_gt(frames, 0, "read: %s", strerror(-frames));
	cr_assert_eq(op, RELAY_WS_OP_BINARY);
	cr_assert_eq(mlen, total);
	cr_assert(!memcmp(msg, p, total), "differs at %zu", t_first_diff(msg, p, total));
	cr_expect_eq(frames, 4, "fragments: %d (server.h promises they are kept)", frames);
	struct t_frame f = {0};
	cr_assert_eq(t_ws_read_frame(a, &f, 5000), 0);
	cr_assert(f.opcode == RELAY_WS_OP_PONG && f.len == 3 && !memcmp(f.data, "mid", 3));
	free(f.data);
	cr_assert_eq(t_send_join(&snd), 0);
	free(msg);
	free(all);
	free(p);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* ------------------------------------------------------------------ */
/* Held messages. */

/* What the first client sends before its peer arrives is delivered after
 * the notice, in order, types kept. A ping round trip proves the relay read
 * the messages before the peer connected. */
Test(relay_server, delivers_held_messages_in_order, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a = t_ws_connect(r.port, "held");
	uint8_t *big = t_pattern(70000, 5);
	t_ws_send(a, true, RELAY_WS_OP_BINARY, "first", 5);
	t_ws_send(a, true, RELAY_WS_OP_TEXT, "second", 6);
	t_ws_send(a, false, RELAY_WS_OP_BINARY, big, 30000);
	t_ws_send(a, true, RELAY_WS_OP_CONTINUATION, big + 30000, 40000);
	t_ws_send(a, true, RELAY_WS_OP_BINARY, "", 0);
	t_ws_send(a, true, RELAY_WS_OP_PING, "sync", 4);
	struct t_frame f = {0};
	cr_assert_eq(t_ws_read_frame(a, &f, 5000), 0);
	cr_assert(f.opcode == RELAY_WS_OP_PONG && f.len == 4, "a got opcode %u before its peer came", f.opcode);
	free(f.data);

	struct t_ws *b = t_ws_connect(r.port, "held");
	t_expect_paired(a, "held");
	t_expect_paired(b, "held");
	t_expect_msg(b, RELAY_WS_OP_BINARY, "first", 5);
	t_expect_msg(b, RELAY_WS_OP_TEXT, "second", 6);
	t_expect_msg(b, RELAY_WS_OP_BINARY, big, 70000);
	t_expect_msg(b, RELAY_WS_OP_BINARY, "", 0);
	/* And live traffic after them, both ways. */
	t_ws_send(a, true, RELAY_WS_OP_TEXT, "live", 4);
	t_expect_msg(b, RELAY_WS_OP_TEXT, "live", 4);
	t_ws_send(b, true, RELAY_WS_OP_TEXT, "back", 4);
	t_expect_msg(a, RELAY_WS_OP_TEXT, "back", 4);
	free(big);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* ------------------------------------------------------------------ */
/* HTTP refusals. */

/* A third client of a full session: 409 with a reason in the body; the pair
 * keeps working. */
Test(relay_server, refuses_third_client_with_409, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "full", &a, &b);
	int st = 0;
	char body[512];
	struct t_ws *c = t_ws_open_with(r.port, "/relay/full", NULL, 0, &st, body, sizeof body);
	cr_assert_null(c, "a third client was upgraded");
	cr_assert_eq(st, 409, "status %d", st);
	cr_assert_gt(strlen(body), 3, "409 without a reason: '%s'", body);
	t_ws_send(a, true, RELAY_WS_OP_BINARY, "still", 5);
	t_expect_msg(b, RELAY_WS_OP_BINARY, "still", 5);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* 64 characters */
#define T_A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

struct http_case {
	char method[8];
	char path[200];
	int status;
};

static struct http_case http_cases[] = {
	/* Session ids outside [A-Za-z0-9_-]{1,128}: 400. */
	{"GET", "/relay/", 400},
	{"GET", "/relay/" T_A64 T_A64 "a", 400}, /* 129 characters */
	{"GET", "/relay/a.b", 400},
	{"GET", "/relay/..", 400},
	{"GET", "/relay/a%2Fb", 400},
	{"GET", "/relay/a/b", 400},
	{"GET", "/relay/a+b", 400},
	{"GET", "/relay/%41", 400},
	/* Unknown paths: 404. */
	{"GET", "/", 404},
	{"GET", "/nope", 404},
	{"GET", "/healthz", 404},
	{"GET", "/relayx/abc", 404},
	/* Known paths, other methods: 405. */
	{"POST", "/relay/abc", 405},
	{"PUT", "/relay/abc", 405},
	{"POST", "/health", 405},
	{"PUT", "/stats", 405},
	{"DELETE", "/metrics", 405},
};

ParameterizedTestParameters(relay_server, answers_bad_requests)
{
	return cr_make_param_array(struct http_case, http_cases, sizeof http_cases / sizeof http_cases[0]);
}

/* Every request carries a valid WebSocket upgrade, so the path or the method
 * is the only thing wrong. The answer closes the connection; 405 names the
 * allowed method (RFC 9110 §15.5.6). */
ParameterizedTest(struct http_case *hc, relay_server, answers_bad_requests, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	char req[1024];
	int n = snprintf(req, sizeof req,
			 "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
			 "Content-Length: 0\r\n\r\n",
			 hc->method, hc->path, r.port);
	struct t_http res;
	t_http(r.port, req, (size_t)n, &res);
	cr_assert_eq(res.status, hc->status, "%s %s: status %d, want %d", hc->method, hc->path, res.status, hc->status);
	cr_assert(res.eof, "%s %s: connection left open after %d", hc->method, hc->path, res.status);
	if (hc->status == 405)
		cr_assert(res.allow_get, "%s %s: 405 without 'Allow: GET'", hc->method, hc->path);
	t_http_free(&res);
	/* The relay still works. */
	struct t_ws *a, *b;
	t_pair(&r, "after", &a, &b);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* A head larger than the limit: 431, with the default limit and a smaller
 * configured one; a head just under the configured limit still upgrades. */
Test(relay_server, refuses_oversized_head_with_431, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_http res;
	t_http_padded(r.port, "/relay/big", 9000, &res);
	cr_assert_eq(res.status, 431, "9000-byte head: status %d", res.status);
	t_http_free(&res);
	t_relay_stop(&r);

	struct relay_opts small = {.max_header = 1024};
	t_relay_start(&r, &small);
	t_http_padded(r.port, "/relay/big", 2000, &res);
	cr_assert_eq(res.status, 431, "2000-byte head, max_header 1024: status %d", res.status);
	t_http_free(&res);
	t_http_padded(r.port, "/health", 1000, &res);
	cr_assert_eq(res.status, 200, "1000-byte head, max_header 1024: status %d", res.status);
	t_http_free(&res);
	t_relay_stop(&r);
}

/* ------------------------------------------------------------------ */
/* Close codes. */

struct bad_frame_case {
	char name[40];
	uint16_t code;
	uint8_t bytes[32];
	size_t len;
	bool mask;          /* mask bytes[2 + 4..] with key at bytes[2..6) */
};

/* Raw frames: byte 0 FIN/RSV/opcode, byte 1 MASK/len, then key and payload.
 * Masked payloads are masked by the test with the key in the frame. */
static struct bad_frame_case bad_frames[] = {
	{"unmasked binary", 1002, {0x82, 0x03, 'a', 'b', 'c'}, 5, false},
	{"unmasked empty text", 1002, {0x81, 0x00}, 2, false},
	{"reserved opcode 3", 1002, {0x83, 0x81, 1, 2, 3, 4, 'x'}, 7, true},
	{"reserved opcode 7", 1002, {0x87, 0x80, 1, 2, 3, 4}, 6, true},
	{"reserved control 0xB", 1002, {0x8B, 0x80, 1, 2, 3, 4}, 6, true},
	{"RSV1", 1002, {0xC2, 0x81, 1, 2, 3, 4, 'x'}, 7, true},
	{"RSV2", 1002, {0xA2, 0x81, 1, 2, 3, 4, 'x'}, 7, true},
	{"RSV3", 1002, {0x92, 0x81, 1, 2, 3, 4, 'x'}, 7, true},
	{"fragmented ping", 1002, {0x09, 0x80, 1, 2, 3, 4}, 6, true},
	{"continuation first", 1002, {0x80, 0x81, 1, 2, 3, 4, 'x'}, 7, true},
	{"invalid UTF-8 text", 1007, {0x81, 0x84, 9, 8, 7, 6, 'o', 'k', 0xC0, 0xAF}, 10, true},
	{"surrogate in text", 1007, {0x81, 0x83, 9, 8, 7, 6, 0xED, 0xA0, 0x80}, 9, true},
	{"truncated UTF-8 text", 1007, {0x81, 0x83, 9, 8, 7, 6, 'o', 'k', 0xE2}, 9, true},
};

ParameterizedTestParameters(relay_server, fails_bad_frames_with_code)
{
	return cr_make_param_array(struct bad_frame_case, bad_frames, sizeof bad_frames / sizeof bad_frames[0]);
}

/* The offender gets a Close with the code and then the end of the stream;
 * its peer gets a well-formed Close frame (nothing half-forwarded first). */
ParameterizedTest(struct bad_frame_case *bc, relay_server, fails_bad_frames_with_code, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "bad", &a, &b);
	/* A good message first: the bad frame must not undo it. */
	t_ws_send(a, true, RELAY_WS_OP_TEXT, "good", 4);
	uint8_t fr[32];
	memcpy(fr, bc->bytes, bc->len);
	if (bc->mask)
		relay_ws_unmask(fr + 6, bc->len - 6, fr + 2, 0);
	t_ws_send_raw(a, fr, bc->len);
	uint16_t code = 0;
	int rc = t_ws_expect_close(a, &code, 5000);
	cr_assert_eq(rc, 0, "%s: no Close: %s", bc->name, strerror(-rc));
	cr_assert_eq(code, bc->code, "%s: close code %u, want %u", bc->name, code, bc->code);
	cr_assert_eq(t_ws_wait_eof(a, 5000), 0, "%s: stream not closed", bc->name);

	t_expect_msg(b, RELAY_WS_OP_TEXT, "good", 4);
	struct t_frame f = {0};
	rc = t_ws_read_frame(b, &f, 5000);
	cr_assert_eq(rc, 0, "%s: peer: %s (a frame was half-forwarded?)", bc->name, strerror(-rc));
	cr_assert_eq(f.opcode, RELAY_WS_OP_CLOSE, "%s: peer got opcode %u len %zu, not a Close", bc->name, f.opcode,
		     f.len);
	free(f.data);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* Whether c has any byte to read within ms (a frame, or part of one). */
static bool t_ws_has_bytes(struct t_ws *c, int ms)
{
	if (c->end > c->beg)
		return true;
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	return poll(&p, 1, ms) == 1;
}

/* A client that writes a frame's header on its own (a TCP segment of its
 * own): the relay does not forward the header before any of its payload,
 * which would cost the peer a segment too, and the frame then arrives
 * whole and intact. */
Test(relay_server, holds_a_lone_header_until_its_payload, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "lonehdr", &a, &b);
	const char msg[] = "the payload after a lone header";
	uint8_t fr[64];
	size_t n = t_ws_build(fr, true, RELAY_WS_OP_BINARY, msg, sizeof msg - 1, 7);
	size_t hl = n - (sizeof msg - 1);
	t_ws_send_raw(a, fr, hl);
	cr_assert_not(t_ws_has_bytes(b, 300), "the relay forwarded the header before its payload");
	t_ws_send_raw(a, fr + hl, n - hl);
	t_expect_msg(b, RELAY_WS_OP_BINARY, msg, sizeof msg - 1);
	/* And a frame whose payload comes in pieces: the header goes with the
	 * first piece, the rest follows. */
	n = t_ws_build(fr, true, RELAY_WS_OP_TEXT, msg, sizeof msg - 1, 8);
	t_ws_send_raw(a, fr, hl);
	t_ws_send_raw(a, fr + hl, 5);
	t_ws_send_raw(a, fr + hl + 5, n - hl - 5);
	t_expect_msg(b, RELAY_WS_OP_TEXT, msg, sizeof msg - 1);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* A text frame whose header came alone and whose payload is then invalid
 * UTF-8: nothing of it reached the peer, so the peer still gets a clean
 * Close (not a stream cut inside a frame). */
Test(relay_server, bad_text_after_a_lone_header_leaves_the_peer_a_clean_close, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "lonebad", &a, &b);
	const uint8_t bad[] = {'o', 'k', 0xC0, 0xAF};
	uint8_t fr[32];
	size_t n = t_ws_build(fr, true, RELAY_WS_OP_TEXT, bad, sizeof bad, 9);
	size_t hl = n - sizeof bad;
	t_ws_send_raw(a, fr, hl);
	cr_assert_not(t_ws_has_bytes(b, 200), "the relay forwarded the header before its payload");
	t_ws_send_raw(a, fr + hl, n - hl);
	uint16_t code = 0;
	cr_assert_eq(t_ws_expect_close(a, &code, 5000), 0, "no Close for the sender");
	cr_assert_eq(code, 1007, "close code %u, want 1007", code);
	struct t_frame f = {0};
	int rc = t_ws_read_frame(b, &f, 5000);
	cr_assert_eq(rc, 0, "peer: %s (the frame was half-forwarded?)", strerror(-rc));
	cr_assert_eq(f.opcode, RELAY_WS_OP_CLOSE, "peer got opcode %u len %zu, not a Close", f.opcode, f.len);
	free(f.data);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* --max-message over all fragments: a message of exactly the limit passes,
 * one byte more fails with 1009, whole or fragmented. */
Test(relay_server, fails_messages_over_max_message_with_1009, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {.max_message = 1000};
	t_relay_start(&r, &o);
	uint8_t *p = t_pattern(1001, 1);
	for (int k = 0; k < 3; k++) {
		char id[16];
		snprintf(id, sizeof id, "big%d", k);
		struct t_ws *a, *b;
		t_pair(&r, id, &a, &b);
		t_ws_send(a, true, RELAY_WS_OP_BINARY, p, 1000);
		t_expect_msg(b, RELAY_WS_OP_BINARY, p, 1000);
		t_ws_send(a, false, RELAY_WS_OP_BINARY, p, 500);
		t_ws_send(a, true, RELAY_WS_OP_CONTINUATION, p + 500, 500);
		t_expect_msg(b, RELAY_WS_OP_BINARY, p, 1000);
		if (k == 0) {
			t_ws_send(a, true, RELAY_WS_OP_BINARY, p, 1001);
		} else if (k == 1) {
			t_ws_send(a, false, RELAY_WS_OP_TEXT, "aaaaaaaaaa", 10);
			t_ws_send(a, true, RELAY_WS_OP_CONTINUATION, p, 991);
		} else {
			/* The header alone says it is too big: 1009 before the payload. */
			uint8_t hdr[14];
			uint8_t key[4] = {1, 2, 3, 4};
			int hl = relay_ws_frame_build_header(hdr, true, RELAY_WS_OP_BINARY, 1u << 30, key);
			t_ws_send_raw(a, hdr, (size_t)hl);
		}
		uint16_t code = 0;
		cr_assert_eq(t_ws_expect_close(a, &code, 5000), 0, "case %d", k);
		cr_assert_eq(code, 1009, "case %d: code %u", k, code);
		cr_assert_eq(t_ws_wait_eof(a, 5000), 0);
		uint16_t pc = 0;
		cr_assert_eq(t_ws_expect_close(b, &pc, 5000), 0, "case %d: peer got no Close", k);
		t_ws_close(a);
		t_ws_close(b);
	}
	free(p);
	t_relay_stop(&r);
}

/* The peer of a client that leaves gets a Close frame: after a Close from
 * the leaver (whose Close the relay answers), and after a bare TCP close or
 * reset. */
Test(relay_server, peer_gets_close_when_partner_leaves, .timeout = 30)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	for (int k = 0; k < 4; k++) {
		char id[16];
		snprintf(id, sizeof id, "leave%d", k);
		struct t_ws *a, *b;
		t_pair(&r, id, &a, &b);
		if (k == 0) {
			uint8_t cp[8];
			int cl = relay_ws_close_build(cp, sizeof cp, 1000, "by", 2);
			t_ws_send(a, true, RELAY_WS_OP_CLOSE, cp, (size_t)cl);
			uint16_t code = 0;
			cr_assert_eq(t_ws_expect_close(a, &code, 5000), 0, "the relay did not answer a's Close");
			cr_assert_eq(code, 1000, "answer to Close 1000: %u", code);
			cr_assert_eq(t_ws_wait_eof(a, 5000), 0);
		} else if (k == 1) {
			t_ws_send(a, true, RELAY_WS_OP_CLOSE, NULL, 0); /* no status */
			uint16_t code = 0;
			cr_assert_eq(t_ws_expect_close(a, &code, 5000), 0);
		} else if (k == 2) {
			t_ws_abort(a, false); /* FIN, no Close */
			a = NULL;
		} else {
			t_ws_abort(a, true); /* RST */
			a = NULL;
		}
		uint16_t pc = 0;
		int rc = t_ws_expect_close(b, &pc, 5000);
		cr_assert_eq(rc, 0, "case %d: peer got no Close: %s", k, strerror(-rc));
		cr_assert(relay_ws_close_code_valid(pc), "case %d: peer close code %u", k, pc);
		if (k == 0)
			cr_expect_eq(pc, 1000, "peer of a Close 1000 got %u", pc);
		cr_assert_eq(t_ws_wait_eof(b, 5000), 0, "case %d: peer's stream not closed", k);
		t_ws_close(a);
		t_ws_close(b);
	}
	/* Nothing left behind. */
	struct t_cond_stats cs = {.srv = r.srv, .connections = 0, .active = 0, .waiting = 0};
	cr_assert(t_wait_until(t_stats_match, &cs, 5000), "left: %s", t_stats_str(r.srv));
	t_relay_stop(&r);
}

/* Connections quiet for hibernate_ms wait without a stack (core/coro.h
 * hibernation: the relay's idle receive gives its stack pages back). After
 * such a spell both directions still forward, messages and a burst, and a
 * partner leaving during one still reaches the other side as a Close.
 * hibernate_ms 100 here, so the spells take 250 ms, not seconds. */
Test(relay_server, forwards_after_idle_spells_and_sees_leaves_during_them, .timeout = 40)
{
	struct t_relay r;
	struct relay_opts o = {.hibernate_ms = 100};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "idle-spell", &a, &b);
	for (int spell = 0; spell < 2; spell++) {
		usleep(250 * 1000); /* past the relay's hibernate_ms */
		char msg[32];
		int n = snprintf(msg, sizeof msg, "after spell %d", spell);
		t_ws_send(a, true, RELAY_WS_OP_TEXT, msg, (size_t)n);
		t_expect_msg(b, RELAY_WS_OP_TEXT, msg, (size_t)n);
		t_ws_send(b, true, RELAY_WS_OP_BINARY, msg, (size_t)n);
		t_expect_msg(a, RELAY_WS_OP_BINARY, msg, (size_t)n);
	}
	/* A burst into a connection fresh out of hibernation. */
	usleep(250 * 1000);
	for (unsigned i = 0; i < 200; i++) {
		char m[24];
		int n = snprintf(m, sizeof m, "burst %u", i);
		t_ws_send(a, true, RELAY_WS_OP_BINARY, m, (size_t)n);
	}
	for (unsigned i = 0; i < 200; i++) {
		char m[24];
		int n = snprintf(m, sizeof m, "burst %u", i);
		t_expect_msg(b, RELAY_WS_OP_BINARY, m, (size_t)n);
	}
	/* a leaves while b's connection hibernates. */
	usleep(250 * 1000);
	t_ws_abort(a, true);
	uint16_t code = 0;
	cr_assert_eq(t_ws_expect_close(b, &code, 5000), 0, "b got no Close after a left");
	cr_assert(relay_ws_close_code_valid(code), "close code %u", code);
	t_ws_close(b);
	struct t_cond_stats cs = {.srv = r.srv, .connections = 0, .active = 0, .waiting = 0};
	cr_assert(t_wait_until(t_stats_match, &cs, 5000), "left: %s", t_stats_str(r.srv));
	t_relay_stop(&r);
}

/* Two hibernating stack copies at least (both ends of a quiet session). */
static bool two_hibernating(void *arg)
{
	(void)arg;
	size_t count, bytes;
	core_coro_hibernated(&count, &bytes);
	return count >= 2;
}

/* What an idle connection's hibernated stack copy holds is the memory of
 * the frames it waits in: relay_conn_run waiting for readability alone
 * (net_stream_wait_readable), not the forwarding loop's frame and the
 * receive's below it. 320 B with gcc -O2 on x86-64, 592 B before it waited
 * there (-fstack-usage); sanitizers' frames are larger and not bounded. */
#if defined(__SANITIZE_ADDRESS__)
#define IDLE_COPY_MAX 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IDLE_COPY_MAX 0
#endif
#endif
#ifndef IDLE_COPY_MAX
#define IDLE_COPY_MAX 400
#endif
Test(relay_server, an_idle_connection_hibernates_with_a_small_stack_copy, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {.hibernate_ms = 100};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "small-copy", &a, &b);
	t_ws_send(a, true, RELAY_WS_OP_TEXT, "hi", 2);
	t_expect_msg(b, RELAY_WS_OP_TEXT, "hi", 2);
	cr_assert(t_wait_until(two_hibernating, NULL, 5000), "the quiet connections did not hibernate");
	size_t count, bytes;
	core_coro_hibernated(&count, &bytes);
	cr_log_info("%zu hibernated stack copies, %zu B each", count, bytes / count);
	if (IDLE_COPY_MAX)
		cr_assert_leq(bytes / count, IDLE_COPY_MAX, "%zu B per hibernated stack copy", bytes / count);
	/* Still forwarding after the wait, both ways. */
	t_ws_send(b, true, RELAY_WS_OP_BINARY, "back", 4);
	t_expect_msg(a, RELAY_WS_OP_BINARY, "back", 4);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* Hibernation backs off per connection (relay/conn.c hib_backoff): a
 * connection whose messages come just past --hibernate-after (250 ms apart
 * against 200 ms here) hibernates after the first and then its threshold
 * doubles past the gap, so it stops hibernating, instead of paying a
 * hibernate-and-return per message. Its partner, which sends nothing,
 * still hibernates at 200 ms. Observed with the relay's hibernation count
 * (atmosphere_relay_hibernations_total). Before the back-off, a hibernated
 * before each of its 12 messages: 13 or more spells here, not at most 4. */
static double t_metric(const char *body, const char *sample);
#define BACKOFF_HIB_MS 200
#define BACKOFF_GAP_MS 250
#define BACKOFF_MSGS 12
Test(relay_server, a_connection_woken_soon_after_hibernating_backs_off_an_idle_one_does_not, .timeout = 30)
{
	struct t_relay r;
	struct relay_opts o = {.hibernate_ms = BACKOFF_HIB_MS};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "hib-backoff", &a, &b);
	/* Both ends go quiet at the configured threshold. */
	uint64_t t0 = core_now_ns();
	cr_assert(t_wait_until(two_hibernating, NULL, 5000), "the quiet connections did not hibernate");
	uint64_t took_ms = (core_now_ns() - t0) / 1000000u;
	cr_assert_lt(took_ms, 4 * BACKOFF_HIB_MS, "hibernated after %llu ms", (unsigned long long)took_ms);
	struct relay_stats st;
	relay_server_stats(r.srv, &st);
	uint64_t before = st.hibernations;
	cr_assert_geq(before, 2, "%llu hibernations", (unsigned long long)before);
	size_t idle_seen = 0;
	for (int i = 0; i < BACKOFF_MSGS; i++) {
		char msg[16];
		int n = snprintf(msg, sizeof msg, "tick %d", i);
		t_ws_send(a, true, RELAY_WS_OP_TEXT, msg, (size_t)n);
		t_expect_msg(b, RELAY_WS_OP_TEXT, msg, (size_t)n);
		usleep(BACKOFF_GAP_MS * 1000);
		size_t count, bytes;
		core_coro_hibernated(&count, &bytes);
		idle_seen += count >= 1; /* b, which sends nothing */
	}
	relay_server_stats(r.srv, &st);
	uint64_t during = st.hibernations - before;
	cr_log_info("%llu hibernations over %d messages %d ms apart (threshold %d ms)", (unsigned long long)during,
		    BACKOFF_MSGS, BACKOFF_GAP_MS, BACKOFF_HIB_MS);
	/* a: one or two before it backs off; b stays hibernated (its wake-ups
	 * for keepalive are seconds away); one of slack for a late sleep. */
	cr_assert_leq(during, 4, "%llu hibernations over %d messages: no back-off", (unsigned long long)during,
		      BACKOFF_MSGS);
	cr_assert_geq(idle_seen, BACKOFF_MSGS - 1, "the idle end hibernated at only %zu of %d looks", idle_seen,
		      BACKOFF_MSGS);
	/* The counter is in /metrics. */
	struct t_http h;
	t_http_get(r.port, "/metrics", &h);
	cr_assert_eq(h.status, 200);
	cr_assert_geq(t_metric(h.body, "atmosphere_relay_hibernations_total"), (double)(before + during));
	t_http_free(&h);
	/* ...and in /stats. */
	t_http_get(r.port, "/stats", &h);
	cr_assert_eq(h.status, 200);
	cr_assert_geq(t_json_u64(h.body, "hibernations"), before + during);
	t_http_free(&h);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* ...and a long quiet (>= 4x its threshold) sets it back: after the
 * back-off above, 1.8 s of silence (over 4x 400 ms), then messages 250 ms
 * apart again: the first gap of 250 ms crosses the reset 200 ms threshold,
 * so a hibernates once more (a threshold kept at 400 ms would not). */
Test(relay_server, a_long_quiet_resets_the_hibernation_back_off, .timeout = 30)
{
	struct t_relay r;
	struct relay_opts o = {.hibernate_ms = BACKOFF_HIB_MS};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "hib-reset", &a, &b);
	cr_assert(t_wait_until(two_hibernating, NULL, 5000), "the quiet connections did not hibernate");
	for (int i = 0; i < 4; i++) { /* backs off: a's threshold above 250 ms */
		t_ws_send(a, true, RELAY_WS_OP_TEXT, "x", 1);
		t_expect_msg(b, RELAY_WS_OP_TEXT, "x", 1);
		usleep(BACKOFF_GAP_MS * 1000);
	}
	struct relay_stats st;
	relay_server_stats(r.srv, &st);
	uint64_t busy = st.hibernations;
	usleep(1800 * 1000); /* a long quiet: a hibernates (at 400 ms or more) */
	relay_server_stats(r.srv, &st);
	cr_assert_geq(st.hibernations, busy + 1, "a did not hibernate in a long quiet");
	uint64_t quiet = st.hibernations;
	for (int i = 0; i < 2; i++) {
		t_ws_send(a, true, RELAY_WS_OP_TEXT, "y", 1);
		t_expect_msg(b, RELAY_WS_OP_TEXT, "y", 1);
		usleep(BACKOFF_GAP_MS * 1000);
	}
	relay_server_stats(r.srv, &st);
	cr_assert_geq(st.hibernations, quiet + 1, "a's threshold was not reset by the long quiet");
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* A waiting client that leaves ends its session: the id is free again. */
Test(relay_server, waiting_client_leaving_frees_the_id, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a = t_ws_connect(r.port, "solo");
	struct t_cond_stats cs = {.srv = r.srv, .connections = 1, .active = 0, .waiting = 1};
	cr_assert(t_wait_until(t_stats_match, &cs, 5000), "%s", t_stats_str(r.srv));
	t_ws_abort(a, false);
	cs.connections = 0;
	cs.waiting = 0;
	cr_assert(t_wait_until(t_stats_match, &cs, 5000), "%s", t_stats_str(r.srv));
	struct t_ws *b, *c;
	t_pair(&r, "solo", &b, &c);
	t_ws_close(b);
	t_ws_close(c);
	t_relay_stop(&r);
}

/* A second client that vanishes while it joins (its request read, then a
 * reset before the 101 or the paired notice could go out, as HAProxy does
 * to a connection it redispatched when the relay it first tried goes down)
 * must not leave the first one waiting outside the session table, where
 * nobody can pair with it: the first either is still waiting (the reset
 * came before the join) and pairs with the next client, or gets a Close (it
 * reconnects). Never silence. The reset comes after a varying delay, on two
 * reactors, so some rounds hit the join. */
Test(relay_server, second_client_reset_while_joining_never_strands_the_first, .timeout = 120)
{
	struct t_relay r;
	struct relay_opts o = {.threads = 2};
	int closed = 0, paired = 0;
	t_relay_start(&r, &o);
	for (int k = 0; k < 40; k++) {
		char id[32], req[512];
		snprintf(id, sizeof id, "vanish%d", k);
		struct t_ws *a = t_ws_connect(r.port, id);
		struct t_cond_stats cs = {.srv = r.srv, .connections = 1, .active = 0, .waiting = 1};
		cr_assert(t_wait_until(t_stats_match, &cs, 5000), "%s", t_stats_str(r.srv));
		int n = snprintf(req, sizeof req,
				 "GET /relay/%s HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
				 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", id);
		int fd = t_tcp_connect(r.port);
		cr_assert_eq(t_write_all(fd, req, (size_t)n), 0);
		usleep((useconds_t)(k % 8) * 25);
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		close(fd);
		/* The next client: pairs with a (which gets the paired notice,
		 * then c's message), unless a was told to go (a Close). */
		struct t_ws *c = NULL;
		char path[64];
		snprintf(path, sizeof path, "/relay/%s", id);
		uint64_t until = t_now_ns() + 5000000000ull;
		while (!c) {
			/* 409 while the relay has not yet seen b go */
			int st = 0;
			c = t_ws_open_with(r.port, path, NULL, 0, &st, NULL, 0);
			cr_assert(c || st == 409, "round %d: status %d", k, st);
			cr_assert(c || t_now_ns() < until, "round %d: 409 for 5 s", k);
			if (!c)
				usleep(1000);
		}
		t_ws_send(c, true, RELAY_WS_OP_BINARY, "after", 5);
		uint8_t op, *m = NULL;
		size_t ml = 0;
		int rc = t_ws_read_msg(a, &op, &m, &ml, 5000);
		if (rc == -ECONNABORTED) {
			closed++;
		} else {
			cr_assert_gt(rc, 0, "round %d: the first client heard nothing: %s (%s)", k, strerror(-rc),
				     t_stats_str(r.srv));
			cr_assert_eq(op, RELAY_WS_OP_TEXT, "round %d: not the paired notice", k);
			free(m);
			/* Paired with c (its message follows), or with b, which
			 * then left (a Close follows). */
			rc = t_ws_read_msg(a, &op, &m, &ml, 5000);
			if (rc == -ECONNABORTED) {
				closed++;
			} else {
				cr_assert_gt(rc, 0, "round %d: nothing after the notice: %s", k, strerror(-rc));
				cr_assert(op == RELAY_WS_OP_BINARY && ml == 5 && !memcmp(m, "after", 5), "round %d", k);
				free(m);
				paired++;
			}
		}
		t_ws_close(a);
		t_ws_close(c);
		cs.connections = 0;
		cs.waiting = 0;
		cr_assert(t_wait_until(t_stats_match, &cs, 5000), "round %d: %s", k, t_stats_str(r.srv));
	}
	cr_log_info("second client reset while joining: %d rounds the first was closed, %d it paired on", closed,
		    paired);
	t_relay_stop(&r);
}

/* relay_server_stop with sessions open and waiting: Close 1001 to every
 * client, run returns 0 in a bounded time. */
Test(relay_server, stop_sends_going_away, .timeout = 30)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "stop", &a, &b);
	struct t_ws *w = t_ws_connect(r.port, "waiting");
	struct t_cond_stats cs = {.srv = r.srv, .connections = 3, .active = 1, .waiting = 1};
	cr_assert(t_wait_until(t_stats_match, &cs, 5000), "%s", t_stats_str(r.srv));
	uint64_t t0 = t_now_ns();
	relay_server_stop(r.srv);
	struct t_ws *all[3] = {a, b, w};
	for (int i = 0; i < 3; i++) {
		uint16_t code = 0;
		cr_assert_eq(t_ws_expect_close(all[i], &code, 5000), 0, "client %d: no Close", i);
		cr_assert_eq(code, 1001, "client %d: close code %u", i, code);
		t_ws_close(all[i]);
	}
	t_relay_stop(&r);
	cr_assert_lt(t_now_ns() - t0, 10000000000ull, "stop took %llu ms",
		     (unsigned long long)((t_now_ns() - t0) / 1000000u));
}

/* ------------------------------------------------------------------ */
/* /health, /stats, /metrics. */

/* Exactly {"status": "ok", "sessions": N, "timestamp": T}: N counts waiting
 * and paired sessions, T is the Unix time. */
Test(relay_server, health_has_the_seed_format, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	t_expect_health(r.port, 0);
	struct t_ws *a, *b, *c, *d;
	t_pair(&r, "h1", &a, &b);
	c = t_ws_connect(r.port, "h2");
	d = t_ws_connect(r.port, "h3");
	struct t_cond_stats cs = {.srv = r.srv, .connections = 4, .active = 1, .waiting = 2};
	cr_assert(t_wait_until(t_stats_match, &cs, 5000), "%s", t_stats_str(r.srv));
	t_expect_health(r.port, 3);
	t_ws_close(a);
	t_ws_close(b);
	cs.connections = 2;
	cs.active = 0;
	cr_assert(t_wait_until(t_stats_match, &cs, 5000), "%s", t_stats_str(r.srv));
	t_expect_health(r.port, 2);
	t_ws_close(c);
	t_ws_close(d);
	t_relay_stop(&r);
}

/* After a known exchange /stats reports it: 3 messages a->b (100+200+300
 * bytes, one fragmented), 1 message b->a (50 bytes), one more session
 * waiting. */
Test(relay_server, stats_count_a_known_exchange, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "st", &a, &b);
	struct t_ws *w = t_ws_connect(r.port, "st-wait");
	uint8_t *p = t_pattern(300, 3);
	t_ws_send(a, true, RELAY_WS_OP_BINARY, p, 100);
	t_ws_send(a, true, RELAY_WS_OP_BINARY, p, 200);
	t_ws_send(a, false, RELAY_WS_OP_BINARY, p, 150);
	t_ws_send(a, true, RELAY_WS_OP_CONTINUATION, p + 150, 150);
	t_ws_send(b, true, RELAY_WS_OP_TEXT, "01234567890123456789012345678901234567890123456789", 50);
	t_expect_msg(b, RELAY_WS_OP_BINARY, p, 100);
	t_expect_msg(b, RELAY_WS_OP_BINARY, p, 200);
	t_expect_msg(b, RELAY_WS_OP_BINARY, p, 300);
	t_expect_msg(a, RELAY_WS_OP_TEXT, "01234567890123456789012345678901234567890123456789", 50);

	struct t_json_stats js;
	uint64_t end = t_now_ns() + 3000000000ull;
	do {
		t_get_stats(r.port, &js);
	} while (js.total_bytes_relayed != 650 && t_now_ns() < end);
	cr_assert_eq(js.total_bytes_relayed, 650, "total_bytes_relayed %llu", (unsigned long long)js.total_bytes_relayed);
	cr_assert_eq(js.total_sessions, 1, "total_sessions %llu", (unsigned long long)js.total_sessions);
	cr_assert_eq(js.active_sessions, 1, "active_sessions %llu", (unsigned long long)js.active_sessions);
	cr_assert_eq(js.waiting_sessions, 1, "waiting_sessions %llu", (unsigned long long)js.waiting_sessions);
	/* Three WebSocket clients; the /stats request itself may count too. */
	cr_assert(js.connections == 3 || js.connections == 4, "connections %llu", (unsigned long long)js.connections);
	cr_assert_lt(js.uptime_s, 60, "uptime_s %llu", (unsigned long long)js.uptime_s);
	/* The C API agrees. */
	struct relay_stats st;
	relay_server_stats(r.srv, &st);
	cr_assert_eq(st.total_bytes_relayed, 650);
	cr_assert_eq(st.total_messages_relayed, 4, "total_messages_relayed %llu",
		     (unsigned long long)st.total_messages_relayed);

	/* Sessions end: active drops, totals stay. */
	t_ws_close(a);
	t_ws_close(b);
	t_ws_close(w);
	struct t_cond_stats cs = {.srv = r.srv, .connections = 0, .active = 0, .waiting = 0};
	cr_assert(t_wait_until(t_stats_match, &cs, 5000), "%s", t_stats_str(r.srv));
	t_get_stats(r.port, &js);
	cr_assert_eq(js.total_sessions, 1);
	cr_assert_eq(js.active_sessions, 0);
	cr_assert_eq(js.waiting_sessions, 0);
	cr_assert_eq(js.total_bytes_relayed, 650);
	cr_assert(js.connections <= 1, "connections %llu", (unsigned long long)js.connections);
	free(p);
	t_relay_stop(&r);
}

/* Held messages are relayed too, once the peer comes: they count in
 * total_bytes_relayed ("payload bytes forwarded"). */
Test(relay_server, stats_count_held_messages, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a = t_ws_connect(r.port, "sh");
	t_ws_send(a, true, RELAY_WS_OP_BINARY, "0123456789", 10);
	t_ws_send(a, true, RELAY_WS_OP_PING, "", 0);
	struct t_frame f = {0};
	cr_assert_eq(t_ws_read_frame(a, &f, 5000), 0);
	cr_assert_eq(f.opcode, RELAY_WS_OP_PONG);
	free(f.data);
	struct t_ws *b = t_ws_connect(r.port, "sh");
	t_expect_paired(b, "sh");
	t_expect_msg(b, RELAY_WS_OP_BINARY, "0123456789", 10);
	t_expect_paired(a, "sh");
	t_ws_send(a, true, RELAY_WS_OP_BINARY, "abcde", 5);
	t_expect_msg(b, RELAY_WS_OP_BINARY, "abcde", 5);
	struct t_json_stats js;
	uint64_t end = t_now_ns() + 3000000000ull;
	do {
		t_get_stats(r.port, &js);
	} while (js.total_bytes_relayed != 15 && t_now_ns() < end);
	cr_assert_eq(js.total_bytes_relayed, 15, "total_bytes_relayed %llu: the 10 held bytes were forwarded too",
		     (unsigned long long)js.total_bytes_relayed);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* Prometheus text format: every sample has a # TYPE of a known kind before
 * it, values are numbers, and the counters cover sessions, connections and
 * bytes (the bytes one equal to /stats). */
Test(relay_server, metrics_are_prometheus_text, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "m", &a, &b);
	t_ws_send(a, true, RELAY_WS_OP_BINARY, "1234567", 7);
	t_expect_msg(b, RELAY_WS_OP_BINARY, "1234567", 7);
	struct t_json_stats js;
	uint64_t end = t_now_ns() + 3000000000ull;
	do {
		t_get_stats(r.port, &js);
	} while (js.total_bytes_relayed != 7 && t_now_ns() < end);
	cr_assert_eq(js.total_bytes_relayed, 7);
	t_check_metrics(r.port, 7);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* The value of the sample named exactly `sample` (labels included) in a
 * /metrics body; fails when it is absent. */
static double t_metric(const char *body, const char *sample)
{
	size_t n = strlen(sample);
	for (const char *l = body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, sample, n) && l[n] == ' ')
			return strtod(l + n + 1, NULL);
	cr_assert_fail("no sample '%s' in /metrics", sample);
	return 0;
}

static double t_thread_sessions(const char *body, unsigned threads, const char *state)
{
	double sum = 0;
	for (unsigned i = 0; i < threads; i++) {
		char name[128];
		snprintf(name, sizeof name, "atmosphere_relay_thread_sessions{thread=\"%u\",state=\"%s\"}", i, state);
		sum += t_metric(body, name);
	}
	return sum;
}

/* /metrics' histograms count what happened: one pairing wait of at least
 * the 150 ms the second client came later, forward latencies for the
 * messages (one per forwarded batch, so 1..5 for 5 messages), cumulative
 * buckets ending in _count; and the per-thread gauges sum to the sessions
 * by state, waiting before the pair, active after, none at the end. */
Test(relay_server, metrics_histograms_and_thread_sessions, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {.threads = 2};
	t_relay_start(&r, &o);
	struct t_http h;
	struct t_ws *a = t_ws_connect(r.port, "hist"), *b;
	t_http_get(r.port, "/metrics", &h);
	cr_assert_eq(t_thread_sessions(h.body, 2, "waiting"), 1);
	cr_assert_eq(t_thread_sessions(h.body, 2, "active"), 0);
	cr_assert_eq(t_metric(h.body, "atmosphere_relay_pairing_wait_seconds_count"), 0);
	t_http_free(&h);
	usleep(150000);
	b = t_ws_connect(r.port, "hist");
	t_expect_paired(a, "hist");
	t_expect_paired(b, "hist");
	for (int i = 0; i < 5; i++) {
		t_ws_send(a, true, RELAY_WS_OP_BINARY, "12345", 5);
		t_expect_msg(b, RELAY_WS_OP_BINARY, "12345", 5);
	}
	t_http_get(r.port, "/metrics", &h);
	cr_assert_eq(t_thread_sessions(h.body, 2, "waiting"), 0);
	cr_assert_eq(t_thread_sessions(h.body, 2, "active"), 1);
	cr_assert_eq(t_metric(h.body, "atmosphere_relay_pairing_wait_seconds_count"), 1);
	cr_assert_eq(t_metric(h.body, "atmosphere_relay_pairing_wait_seconds_bucket{le=\"0.1\"}"), 0,
		     "the pair waited 150 ms");
	cr_assert_eq(t_metric(h.body, "atmosphere_relay_pairing_wait_seconds_bucket{le=\"+Inf\"}"), 1);
	double w = t_metric(h.body, "atmosphere_relay_pairing_wait_seconds_sum");
	cr_assert(w >= 0.15 && w < 10, "pairing wait %f s", w);
	double fc = t_metric(h.body, "atmosphere_relay_forward_latency_seconds_count");
	cr_assert(fc >= 1 && fc <= 5, "%f forward observations for 5 messages", fc);
	cr_assert_eq(t_metric(h.body, "atmosphere_relay_forward_latency_seconds_bucket{le=\"+Inf\"}"), fc);
	double prev = 0;
	static const char *les[] = {"0.00001", "0.0001", "0.001", "0.01", "0.1", "1"};
	for (unsigned i = 0; i < sizeof les / sizeof les[0]; i++) {
		char name[96];
		snprintf(name, sizeof name, "atmosphere_relay_forward_latency_seconds_bucket{le=\"%s\"}", les[i]);
		double v = t_metric(h.body, name);
		cr_assert(v >= prev && v <= fc, "%s = %f: buckets must be cumulative", name, v);
		prev = v;
	}
	double fs = t_metric(h.body, "atmosphere_relay_forward_latency_seconds_sum");
	cr_assert(fs > 0 && fs < fc, "forward latency sum %f s over %f batches", fs, fc);
	t_http_free(&h);
	t_check_metrics(r.port, 25);
	t_ws_close(a);
	t_ws_close(b);
	uint64_t end = t_now_ns() + 3000000000ull;
	double left;
	do {
		t_http_get(r.port, "/metrics", &h);
		left = t_thread_sessions(h.body, 2, "active") + t_thread_sessions(h.body, 2, "waiting");
		t_http_free(&h);
	} while (left > 0 && t_now_ns() < end && !usleep(20000));
	cr_assert_eq(left, 0, "the ended session still counts in a thread's gauge");
	t_relay_stop(&r);
}

/* ------------------------------------------------------------------ */
/* Threads. */

/* With two reactors, SO_REUSEPORT spreads the two halves of sessions over
 * both threads: 100 sessions (all first halves, then all second halves, half
 * of them with a frame in the request's write) all pair and forward. */
Test(relay_server, pairs_across_reactors, .timeout = 60)
{
	struct t_relay r;
	struct relay_opts o = {.threads = 2};
	t_relay_start(&r, &o);
	cr_assert_eq(relay_server_threads(r.srv), 2);
	enum { N = 100 };
	struct t_ws *a[N], *b[N];
	char id[N][16];
	for (int i = 0; i < N; i++) {
		snprintf(id[i], sizeof id[i], "x%d", i);
		a[i] = t_ws_connect(r.port, id[i]);
	}
	struct t_cond_stats cs = {.srv = r.srv, .connections = N, .active = 0, .waiting = N};
	cr_assert(t_wait_until(t_stats_match, &cs, 10000), "%s", t_stats_str(r.srv));
	for (int i = 0; i < N; i++) {
		char path[32];
		snprintf(path, sizeof path, "/relay/%.15s", id[i]);
		uint8_t extra[64];
		size_t n = 0;
		if (i % 2)
			n = t_ws_build(extra, true, RELAY_WS_OP_BINARY, id[i], strlen(id[i]), (unsigned)i);
		int st = 0;
		b[i] = t_ws_open_with(r.port, path, extra, n, &st, NULL, 0);
		cr_assert_not_null(b[i], "session %d: status %d", i, st);
	}
	for (int i = 0; i < N; i++) {
		t_expect_paired(a[i], id[i]);
		t_expect_paired(b[i], id[i]);
		if (i % 2)
			t_expect_msg(a[i], RELAY_WS_OP_BINARY, id[i], strlen(id[i]));
		t_ws_send(a[i], true, RELAY_WS_OP_TEXT, id[i], strlen(id[i]));
		t_expect_msg(b[i], RELAY_WS_OP_TEXT, id[i], strlen(id[i]));
	}
	cs.connections = 2 * N;
	cs.active = N;
	cs.waiting = 0;
	cr_assert(t_wait_until(t_stats_match, &cs, 5000), "%s", t_stats_str(r.srv));
	for (int i = 0; i < N; i++) {
		t_ws_close(a[i]);
		t_ws_close(b[i]);
	}
	t_relay_stop(&r);
}

/* ------------------------------------------------------------------ */
/* Limits against strangers. */

/* Slowloris: a client sending its head one byte per 100 ms never gets its
 * upgrade; the relay cuts it off (408 or a bare close) soon after
 * handshake_ms. So is a client that sends nothing. */
Test(relay_server, cuts_off_slowloris, .timeout = 30)
{
	struct t_relay r;
	struct relay_opts o = {.handshake_ms = 500};
	t_relay_start(&r, &o);
	for (int k = 0; k < 2; k++) {
		char req[512];
		int n = snprintf(req, sizeof req,
				 "GET /relay/slow HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\n"
				 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				 "Sec-WebSocket-Version: 13\r\n\r\n",
				 r.port);
		struct t_ws c = {.fd = t_tcp_connect(r.port)};
		uint64_t t0 = t_now_ns();
		int sent = 0, rc = 0;
		for (;;) {
			if (k == 0 && sent < n && t_write_all(c.fd, req + sent, 1) == 0)
				sent++;
			/* The 100 ms between bytes, during which we watch for the cut. */
			rc = t_rb_more(&c, t_now_ns() + 100000000u);
			if (rc != -ETIMEDOUT)
				break;
			cr_assert_lt(t_now_ns() - t0, 5000000000ull, "case %d: still connected after 5 s (%d bytes sent)", k,
				     sent);
		}
		while (rc == 0)
			rc = t_rb_more(&c, t_now_ns() + 2000000000ull);
		uint64_t ms = (t_now_ns() - t0) / 1000000u;
		cr_assert(rc == -EPIPE || rc == -ECONNRESET, "case %d: %s", k, strerror(-rc));
		cr_assert(c.end == 0 || !memcmp(c.rb, "HTTP/1.1 408", 12), "case %d: answered '%.*s'", k,
			  (int)(c.end < 40 ? c.end : 40), (char *)c.rb);
		cr_assert_lt(sent, n, "the whole head went through");
		cr_assert(ms >= 400 && ms <= 2500, "case %d: cut after %llu ms, handshake_ms 500", k, (unsigned long long)ms);
		close(c.fd);
		free(c.rb);
	}
	struct relay_stats st;
	relay_server_stats(r.srv, &st);
	cr_expect_eq(st.handshake_timeouts, 2, "handshake_timeouts %" PRIu64, st.handshake_timeouts);
	t_relay_stop(&r);
}

/* Sends a stream of 64 KiB binary frames (payload k of frame k from
 * t_pattern) without blocking until the socket stays full for 500 ms.
 * Returns the bytes the kernel took; *out_frames is the number of frames
 * started, *out_off how far into the last one we got. */
enum { T_PUMP_FRAME = 65536, T_PUMP_FRAME_LEN = T_PUMP_FRAME + 14 };

static void t_pump_frame(uint8_t *fr, unsigned k)
{
	uint8_t *p = t_pattern(T_PUMP_FRAME, k);
	size_t n = t_ws_build(fr, true, RELAY_WS_OP_BINARY, p, T_PUMP_FRAME, k);
	cr_assert_eq(n, T_PUMP_FRAME_LEN);
	free(p);
}

static uint64_t t_pump(struct t_ws *c, uint8_t *fr, uint64_t limit, unsigned *out_frames, size_t *out_off,
		       bool *out_blocked)
{
	const size_t flen = T_PUMP_FRAME_LEN;
	uint64_t total = 0, deadline = t_now_ns() + 60000000000ull;
	unsigned k = 0;
	size_t off = 0;
	t_pump_frame(fr, k);
	*out_blocked = false;
	while (total < limit && t_now_ns() < deadline) {
		ssize_t n = send(c->fd, fr + off, flen - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			total += (uint64_t)n;
			if (off == flen) {
				t_pump_frame(fr, ++k);
				off = 0;
			}
			continue;
		}
		cr_assert(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "send: %s", strerror(errno));
		struct pollfd p = {.fd = c->fd, .events = POLLOUT};
		if (poll(&p, 1, 500) == 0) {
			*out_blocked = true;
			break;
		}
	}
	*out_frames = k + (off ? 1 : 0);
	*out_off = off;
	return total;
}

/* Reads frames 0..num-1 of a pump and checks each. */
static void t_drain_pump(struct t_ws *c, unsigned num)
{
	uint8_t *want = NULL;
	for (unsigned k = 0; k < num; k++) {
		uint8_t op = 0, *msg = NULL;
		size_t len = 0;
		int fr = t_ws_read_msg(c, &op, &msg, &len, 30000);
		cr_assert_gt(fr, 0, "frame %u of %u: %s", k, num, strerror(-fr));
		cr_assert_eq(op, RELAY_WS_OP_BINARY);
		cr_assert_eq(len, T_PUMP_FRAME, "frame %u: %zu bytes", k, len);
		want = t_pattern(T_PUMP_FRAME, k);
		cr_assert(!memcmp(msg, want, len), "frame %u differs at %zu", k, t_first_diff(msg, want, len));
		free(want);
		free(msg);
	}
}

#if defined(__SANITIZE_ADDRESS__)
/* ASan keeps freed memory in quarantine: RSS says little about the relay. */
#define T_RSS_BOUND_KIB (256 * 1024)
#else
#define T_RSS_BOUND_KIB (32 * 1024)
#endif

/* Slow reader: B never reads while A writes as fast as it can. A's sends
 * must block after a bounded amount (TCP back-pressure through the relay),
 * the process must not grow, and then B gets everything intact. */
Test(relay_server, slow_reader_throttles_writer, .timeout = 120)
{
	struct t_relay r;
	struct relay_opts o = {0};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "slow", &a, &b);
	uint8_t *fr = malloc(T_PUMP_FRAME + 16);
	t_pump_frame(fr, 0);
	long rss0 = t_rss_kib();
	unsigned frames;
	size_t off;
	bool blocked;
	uint64_t took = t_pump(a, fr, 64u << 20, &frames, &off, &blocked);
	long rss1 = t_rss_kib();
	cr_log_info("slow reader: writer blocked after %" PRIu64 " KiB, RSS %+ld KiB", took >> 10, rss1 - rss0);
	cr_assert(blocked, "the writer never blocked: %" PRIu64 " bytes accepted", took);
	cr_assert_lt(took, 64u << 20);
	cr_assert_lt(rss1 - rss0, T_RSS_BOUND_KIB, "RSS grew by %ld KiB while B did not read", rss1 - rss0);
	struct t_sender snd;
	t_send_raw_bg(&snd, a, fr + off, off ? T_PUMP_FRAME_LEN - off : 0);
	t_drain_pump(b, frames);
	cr_assert_eq(t_send_join(&snd), 0);
	/* Both directions still work. */
	t_ws_send(b, true, RELAY_WS_OP_TEXT, "done", 4);
	t_expect_msg(a, RELAY_WS_OP_TEXT, "done", 4);
	free(fr);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* The hold is bounded: a first client that writes before its peer comes is
 * throttled once hold_bytes are held, and everything arrives once the peer
 * does. */
Test(relay_server, hold_is_bounded_and_delivered, .timeout = 120)
{
	struct t_relay r;
	struct relay_opts o = {.hold_bytes = 65536};
	t_relay_start(&r, &o);
	struct t_ws *a = t_ws_connect(r.port, "hold");
	uint8_t *fr = malloc(T_PUMP_FRAME + 16);
	long rss0 = t_rss_kib();
	unsigned frames;
	size_t off;
	bool blocked;
	uint64_t took = t_pump(a, fr, 64u << 20, &frames, &off, &blocked);
	long rss1 = t_rss_kib();
	cr_log_info("hold: writer blocked after %" PRIu64 " KiB, RSS %+ld KiB", took >> 10, rss1 - rss0);
	cr_assert(blocked, "the first client never blocked: %" PRIu64 " bytes accepted", took);
	cr_assert_lt(took, 64u << 20);
	cr_assert_lt(rss1 - rss0, T_RSS_BOUND_KIB, "RSS grew by %ld KiB", rss1 - rss0);
	struct t_ws *b = t_ws_connect(r.port, "hold");
	struct t_sender snd;
	t_send_raw_bg(&snd, a, fr + off, off ? T_PUMP_FRAME_LEN - off : 0);
	t_expect_paired(b, "hold");
	t_drain_pump(b, frames);
	cr_assert_eq(t_send_join(&snd), 0);
	t_expect_paired(a, "hold");
	free(fr);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* write_ms: a reader that stalls ends its session within write_ms + 1 s
 * (one deadline for the whole send: partial progress must not restart it,
 * as it did when a 5 s timeout ended a session after 11-16 s); the writer
 * gets a Close, the reader finds its stream ended after the bytes already
 * on their way. The clock starts when the writer's socket blocks, which is
 * after the relay's send to the reader did. */
Test(relay_server, write_timeout_ends_stalled_session, .timeout = 60)
{
	struct t_relay r;
	struct relay_opts o = {.write_ms = 1500};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "stall", &a, &b);
	uint8_t *fr = malloc(T_PUMP_FRAME + 16);
	unsigned frames;
	size_t off;
	bool blocked;
	t_pump(a, fr, 64u << 20, &frames, &off, &blocked);
	cr_assert(blocked);
	uint64_t t0 = t_now_ns();
	uint16_t code = 0;
	int rc = t_ws_expect_close(a, &code, 5000);
	cr_assert_eq(rc, 0, "the writer of a stalled session got no Close: %s", strerror(-rc));
	uint64_t ms = (t_now_ns() - t0) / 1000000u;
	cr_log_info("write timeout: Close %llu ms after the writer blocked (write_ms 1500)", (unsigned long long)ms);
	cr_assert_leq(ms, 1500 + 1000, "Close after %llu ms, write_ms 1500", (unsigned long long)ms);
	cr_assert(relay_ws_close_code_valid(code), "code %u", code);
	/* b reads what was already queued, then the end (Close or EOF). */
	struct t_frame f = {0};
	while ((rc = t_ws_read_frame(b, &f, 5000)) == 0 && f.opcode != RELAY_WS_OP_CLOSE)
		free(f.data);
	if (rc == 0)
		free(f.data);
	cr_assert(rc == 0 || rc == -EPIPE || rc == -ECONNRESET || rc == -EPROTO, "stalled reader: %s", strerror(-rc));
	free(fr);
	t_ws_close(a);
	t_ws_close(b);
	struct t_cond_stats cs = {.srv = r.srv, .connections = 0, .active = 0, .waiting = 0};
	cr_assert(t_wait_until(t_stats_match, &cs, 5000), "%s", t_stats_str(r.srv));
	t_relay_stop(&r);
}

/* Keepalive, ping_ms 200: a client that never answers pings is dropped
 * within a bound (after being pinged), and its peer gets a Close. */
Test(relay_server, keepalive_drops_client_that_never_answers, .timeout = 30)
{
	struct t_relay r;
	struct relay_opts o = {.ping_ms = 200};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "ka", &a, &b);
	a->answer_pings = false;
	b->answer_pings = true;
	uint64_t t0 = t_now_ns();
	struct t_ws *cs[2] = {a, b};
	t_service(cs, 2, t0 + 5000000000ull, true);
	cr_assert(a->eof, "a silent client is still connected after 5 s (%u pings)", a->pings);
	cr_assert_geq(a->pings, 1, "dropped without a ping");
	uint64_t ms = (a->eof_ns - t0) / 1000000u;
	cr_assert(ms >= 200 && ms <= 2000, "dropped after %llu ms, ping_ms 200", (unsigned long long)ms);
	cr_assert(b->got_close, "the peer of a vanished client got no Close");
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* ...while clients that answer stay, pinged every interval. */
Test(relay_server, keepalive_keeps_clients_that_answer, .timeout = 30)
{
	struct t_relay r;
	struct relay_opts o = {.ping_ms = 200};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "ka2", &a, &b);
	a->answer_pings = b->answer_pings = true;
	struct t_ws *cs[2] = {a, b};
	t_service(cs, 2, t_now_ns() + 1500000000ull, false);
	for (int i = 0; i < 2; i++) {
		cr_assert(!cs[i]->got_close && !cs[i]->eof, "client %d closed (code %u) though it answered pings", i,
			  cs[i]->close_code);
		cr_assert_geq(cs[i]->pings, 2, "client %d: %u pings in 1.5 s with ping_ms 200", i, cs[i]->pings);
	}
	t_ws_send(a, true, RELAY_WS_OP_BINARY, "alive", 5);
	t_expect_msg(b, RELAY_WS_OP_BINARY, "alive", 5);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* Idle timeout: a session without messages ends (both sides get a Close),
 * even though both answer pings. */
Test(relay_server, idle_session_ends, .timeout = 30)
{
	struct t_relay r;
	struct relay_opts o = {.ping_ms = 200, .idle_ms = 500};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "idle", &a, &b);
	a->answer_pings = b->answer_pings = true;
	uint64_t t0 = t_now_ns();
	struct t_ws *cs[2] = {a, b};
	t_service(cs, 2, t0 + 5000000000ull, true);
	for (int i = 0; i < 2; i++) {
		cr_assert(cs[i]->got_close, "client %d: no Close after 5 s idle (idle_ms 500)", i);
		uint64_t ms = (cs[i]->close_ns - t0) / 1000000u;
		cr_assert(ms >= 400 && ms <= 3000, "client %d closed after %llu ms, idle_ms 500", i,
			  (unsigned long long)ms);
	}
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* The idle timer counts messages either way (server.h: "no message either
 * way"): a session where only A talks is not idle, not even on B's side. */
Test(relay_server, idle_counts_messages_either_way, .timeout = 30)
{
	struct t_relay r;
	struct relay_opts o = {.ping_ms = 200, .idle_ms = 600};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "talk", &a, &b);
	a->answer_pings = b->answer_pings = true;
	struct t_ws *cs[2] = {a, b};
	uint64_t t0 = t_now_ns(), end = t0 + 2000000000ull;
	unsigned sent = 0;
	while (t_now_ns() < end && !a->got_close && !b->got_close && !a->eof && !b->eof) {
		t_ws_send(a, true, RELAY_WS_OP_BINARY, "tick", 4);
		sent++;
		t_service(cs, 2, t_now_ns() + 100000000u, false);
	}
	cr_assert(!a->got_close && !b->got_close && !a->eof && !b->eof,
		  "closed as idle (codes %u/%u) after %u messages a->b in %llu ms", a->close_code, b->close_code,
		  sent, (unsigned long long)((t_now_ns() - t0) / 1000000u));
	t_service(cs, 2, t_now_ns() + 300000000u, false);
	cr_assert_geq(b->msgs + 2, sent, "b got %u of %u", b->msgs, sent);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* An idle timeout shorter than the ping interval still applies on time. */
Test(relay_server, idle_shorter_than_ping_interval, .timeout = 30)
{
	struct t_relay r;
	struct relay_opts o = {.ping_ms = 20000, .idle_ms = 500};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "idle2", &a, &b);
	uint64_t t0 = t_now_ns();
	struct t_ws *cs[2] = {a, b};
	t_service(cs, 2, t0 + 5000000000ull, true);
	for (int i = 0; i < 2; i++)
		cr_assert(cs[i]->got_close || cs[i]->eof, "client %d: still open 5 s into a 500 ms idle timeout", i);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

struct t_open_arg {
	uint16_t port;
	const char *id;
	struct t_ws *c;
};

static bool t_try_open(void *arg)
{
	struct t_open_arg *t = arg;
	char path[64];
	snprintf(path, sizeof path, "/relay/%s", t->id);
	int st;
	t->c = t_ws_open_with(t->port, path, NULL, 0, &st, NULL, 0);
	return t->c != NULL;
}

/* max_conns_per_ip 3: the 4th connection from 127.0.0.1 is refused; once
 * one closes, a new one is accepted. */
Test(relay_server, limits_connections_per_ip, .timeout = 30)
{
	struct t_relay r;
	struct relay_opts o = {.max_conns_per_ip = 3};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "ip1", &a, &b);
	struct t_ws *w = t_ws_connect(r.port, "ip2");
	int st = 0;
	struct t_ws *x = t_ws_open_with(r.port, "/relay/ip3", NULL, 0, &st, NULL, 0);
	cr_assert_null(x, "a 4th connection from one address was upgraded");
	cr_assert_neq(st, 101);
	/* Plain requests count too. */
	struct t_http h;
	t_http_get(r.port, "/health", &h);
	cr_assert_neq(h.status, 200, "/health answered over the per-IP limit");
	t_http_free(&h);
	t_ws_close(w);
	struct t_open_arg oa = {.port = r.port, .id = "ip3"};
	cr_assert(t_wait_until(t_try_open, &oa, 5000), "no connection accepted after one closed");
	t_ws_send(a, true, RELAY_WS_OP_BINARY, "k", 1);
	t_expect_msg(b, RELAY_WS_OP_BINARY, "k", 1);
	t_ws_close(oa.c);
	t_ws_close(a);
	t_ws_close(b);
	t_relay_stop(&r);
}

/* max_sessions 2: a third session is refused, the second half of an
 * existing one is not; when one ends a new one is accepted. */
Test(relay_server, limits_sessions, .timeout = 30)
{
	struct t_relay r;
	struct relay_opts o = {.max_sessions = 2};
	t_relay_start(&r, &o);
	struct t_ws *a, *b;
	t_pair(&r, "m1", &a, &b);
	struct t_ws *w = t_ws_connect(r.port, "m2");
	int st = 0;
	struct t_ws *x = t_ws_open_with(r.port, "/relay/m3", NULL, 0, &st, NULL, 0);
	cr_assert_null(x, "a third session was accepted with max_sessions 2");
	cr_assert_neq(st, 101);
	struct t_ws *w2 = t_ws_connect(r.port, "m2");
	t_expect_paired(w, "m2");
	t_expect_paired(w2, "m2");
	t_ws_close(a);
	t_ws_close(b);
	struct t_open_arg oa = {.port = r.port, .id = "m4"};
	cr_assert(t_wait_until(t_try_open, &oa, 5000), "no new session after one ended");
	t_ws_close(oa.c);
	t_ws_close(w);
	t_ws_close(w2);
	t_relay_stop(&r);
}

/* ------------------------------------------------------------------ */
/* Life-cycle events for a supervisor (the CLI sends them to systemd). */

static struct {
	pthread_mutex_t lock;
	unsigned ready, reloading, stopping, alive;
	uint64_t alive_ns[1024];
	_Atomic uint64_t stuck_from_ns, stuck_to_ns; /* reactor 1 blocked */
} t_ev = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void t_on_event(void *arg, enum relay_event ev)
{
	(void)arg;
	pthread_mutex_lock(&t_ev.lock);
	if (ev == RELAY_EVENT_READY)
		t_ev.ready++;
	else if (ev == RELAY_EVENT_RELOADING)
		t_ev.reloading++;
	else if (ev == RELAY_EVENT_STOPPING)
		t_ev.stopping++;
	else if (ev == RELAY_EVENT_ALIVE && t_ev.alive < 1024)
		t_ev.alive_ns[t_ev.alive++] = t_now_ns();
	pthread_mutex_unlock(&t_ev.lock);
}

static void t_ev_reset(void)
{
	pthread_mutex_lock(&t_ev.lock);
	t_ev.ready = t_ev.reloading = t_ev.stopping = t_ev.alive = 0;
	atomic_store(&t_ev.stuck_from_ns, 0);
	atomic_store(&t_ev.stuck_to_ns, 0);
	pthread_mutex_unlock(&t_ev.lock);
}

static unsigned t_ev_get(const unsigned *field)
{
	pthread_mutex_lock(&t_ev.lock);
	unsigned v = *field;
	pthread_mutex_unlock(&t_ev.lock);
	return v;
}

static bool t_ready(void *arg)
{
	(void)arg;
	return t_ev_get(&t_ev.ready) == 1;
}

static bool t_alive_at_least(void *arg)
{
	return t_ev_get(&t_ev.alive) >= *(unsigned *)arg;
}

/* READY once, when the relay serves; no ALIVE without alive_ms; STOPPING
 * once at the stop however many reactors see it. */
Test(relay_server, tells_ready_once_serving_and_stopping_once, .timeout = 20)
{
	struct t_relay r;
	struct relay_opts o = {.on_event = t_on_event};
	t_ev_reset();
	t_relay_start(&r, &o);
	cr_assert(t_wait_until(t_ready, NULL, 5000), "no READY");
	t_expect_health(r.port, 0);
	t_relay_stop(&r);
	cr_expect_eq(t_ev.ready, 1);
	cr_expect_eq(t_ev.stopping, 1);
	cr_expect_eq(t_ev.alive, 0, "ALIVE without alive_ms");
}

/* On reactor 1: once ALIVE came three times (or after 10 s, when the test
 * then fails on it), block the thread, a stuck reactor, for 1.2 s. Waiting
 * for the reports rather than a fixed time keeps a loaded machine (ASan,
 * parallel tests) from blocking before there were any. */
static void t_block_reactor_1(void *arg)
{
	(void)arg;
	if (core_reactor_index(core_self()) != 1)
		return;
	for (int i = 0; i < 500 && t_ev_get(&t_ev.alive) < 3; i++)
		if (core_sleep(20) == -ECANCELED)
			return;
	atomic_store(&t_ev.stuck_from_ns, t_now_ns());
	usleep(1200 * 1000);
	atomic_store(&t_ev.stuck_to_ns, t_now_ns());
}

static bool t_unstuck(void *arg)
{
	(void)arg;
	return atomic_load(&t_ev.stuck_to_ns) != 0;
}

/* ALIVE comes every alive_ms while the reactors turn and stops while one
 * is stuck: a watchdog then stops being fed. At most one report lands in
 * the stuck time (a round that reactor 1 answered just before it blocked,
 * reported late); 12 would at 100 ms. They resume after. */
Test(relay_server, alive_stops_while_a_reactor_is_stuck, .timeout = 60)
{
	struct t_relay r;
	struct relay_opts o = {.on_event = t_on_event, .alive_ms = 100, .on_reactor_start = t_block_reactor_1};
	t_ev_reset();
	t_relay_start(&r, &o);
	cr_assert(t_wait_until(t_unstuck, NULL, 20000), "reactor 1 never blocked");
	pthread_mutex_lock(&t_ev.lock);
	unsigned before_end = t_ev.alive;
	pthread_mutex_unlock(&t_ev.lock);
	unsigned want = before_end + 3;
	cr_assert(t_wait_until(t_alive_at_least, &want, 10000), "ALIVE did not resume after the reactor was unstuck");
	t_relay_stop(&r);
	uint64_t from = atomic_load(&t_ev.stuck_from_ns), to = atomic_load(&t_ev.stuck_to_ns);
	unsigned before = 0, during = 0;
	for (unsigned i = 0; i < t_ev.alive; i++) {
		before += t_ev.alive_ns[i] < from;
		during += t_ev.alive_ns[i] >= from && t_ev.alive_ns[i] < to;
	}
	cr_expect_geq(before, 3, "%u ALIVE before the block", before);
	cr_expect_leq(during, 1, "%u ALIVE while reactor 1 was stuck for %" PRIu64 " ms", during, (to - from) / 1000000);
}
