/* Relay protocol client: see relay/client.h. */
#include "relay/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/uio.h>

#include "core/grow.h"
#include "core/reactor.h"
#include "core/sock.h"
#include "net/addr.h"
#include "net/bssl.h"
#include "net/resolve.h"
#include "net/stream.h"
#include "relay/http.h"
#include "relay/ticket.h"
#include "relay/server.h"
#include "relay/utf8.h"
#include "relay/ws_frame.h"

#define CLIENT_DEFAULT_MAX (16u * 1024u * 1024u)
#define CLIENT_MAX_HEAD 8192

struct relay_client {
	struct net_stream *st;
	size_t max_message;
	bool deliver_notices, paired;
	uint16_t close_code;
	bool closed;
	/* bytes received but not yet decoded */
	uint8_t *in;
	size_t in_len, in_cap;
	/* the message being assembled / last returned */
	uint8_t *msg;
	size_t msg_len, msg_cap;
	uint8_t msg_op;
	bool msg_out;          /* msg was returned: the next receive starts a new one */
	char session[129];
};

struct url {
	bool tls;
	char host[256];
	uint16_t port;
	char path[512];
};

static int parse_url(struct url *u, const char *s, char *errbuf, size_t len)
{
	struct net_ws_url w;
	struct net_hostport hp;
	memset(u, 0, sizeof *u);
	int r = net_ws_url_split(&w, s);
	if (r == NET_ADDR_E_SCHEME) {
		snprintf(errbuf, len, "relay URL '%s' must start with ws:// or wss://", s);
		return -EINVAL;
	}
	if (r != NET_ADDR_OK || net_hostport_split(&hp, w.authority, w.authority_len) != NET_ADDR_OK)
		goto bad;
	u->tls = w.tls;
	u->port = w.tls ? 443 : 80;
	snprintf(u->path, sizeof u->path, "%s", w.path);
	/* strip a trailing slash so ".../" + "relay/id" stays one slash */
	size_t pl = strlen(u->path);
	if (pl && u->path[pl - 1] == '/')
		u->path[pl - 1] = 0;
	/* The host as written, brackets included ("[::1]"): the Host header's
	 * form; the resolver takes it so too. */
	size_t hl = hp.host_len + (hp.bracketed ? 2 : 0);
	if (!hp.host_len || hl >= sizeof u->host || (!hp.bracketed && memchr(hp.host, ':', hp.host_len)))
		goto bad;
	memcpy(u->host, hp.bracketed ? hp.host - 1 : hp.host, hl);
	if (hp.has_port && !net_port_parse(hp.port, hp.port_len, &u->port))
		goto bad;
	return 0;
bad:
	snprintf(errbuf, len, "relay URL '%s' is malformed (expected ws[s]://HOST[:PORT][/PATH])", s);
	return -EINVAL;
}

/* A masked copy of up to this much of a message is made on the stack (node
 * messages and overlay packets fit); a larger message is masked into a
 * heap chunk of up to 64 KiB, a piece at a time. */
#define SEND_STACK_CHUNK 2048

static int send_frame(struct relay_client *c, uint8_t opcode, const void *data, size_t len, int timeout_ms)
{
	uint8_t hdr[RELAY_WS_MAX_HEADER_LEN], key[4];
	uint8_t small[SEND_STACK_CHUNK];
	RAND_bytes(key, sizeof key);
	int hl = relay_ws_frame_build_header(hdr, true, opcode, len, key);
	if (hl < 0)
		return -EINVAL;
	size_t cap = len <= sizeof small ? sizeof small : (len < 65536 ? len : 65536);
	uint8_t *chunk = cap == sizeof small ? small : malloc(cap);
	if (!chunk)
		return -ENOMEM;
	int r = net_stream_lock_write(c->st, timeout_ms);
	if (r < 0)
		goto out;
	/* Masking must not touch the caller's bytes: mask a copy, in pieces.
	 * The header goes out with the first piece, in one write: a header
	 * alone would cost a TCP segment of its own (and the relay forwards
	 * what it has, so the peer would get two as well). */
	const uint8_t *p = data;
	uint64_t off = 0;
	struct iovec iov[2] = {{.iov_base = hdr, .iov_len = (size_t)hl}};
	do {
		size_t n = len - off < cap ? len - off : cap;
		memcpy(chunk, p + off, n);
		relay_ws_unmask(chunk, n, key, off);
		iov[1].iov_base = chunk;
		iov[1].iov_len = n;
		r = off == 0 ? net_stream_sendv_locked(c->st, iov, n ? 2 : 1, timeout_ms)
			     : net_stream_sendv_locked(c->st, iov + 1, 1, timeout_ms);
		off += n;
	} while (r == 0 && off < len);
	net_stream_unlock_write(c->st);
out:
	if (chunk != small)
		free(chunk);
	return r;
}

static int in_append(struct relay_client *c, const uint8_t *d, size_t n)
{
	if (core_grow(&c->in, &c->in_cap, c->in_len + n, 16384, SIZE_MAX) < 0)
		return -ENOMEM;
	memcpy(c->in + c->in_len, d, n);
	c->in_len += n;
	return 0;
}

static int read_more(struct relay_client *c, int timeout_ms)
{
	struct net_chunk ch;
	int n = net_stream_recv(c->st, &ch, timeout_ms);
	if (n <= 0)
		return n == 0 ? -ECONNRESET : n;
	int r = in_append(c, ch.data, ch.len);
	net_stream_release(c->st, &ch);
	return r;
}

int relay_client_connect(struct relay_client **out, const char *url, const char *session_id,
			 const struct relay_client_opts *opts, int timeout_ms, char *errbuf, size_t errlen)
{
	struct relay_client_opts def = {0};
	struct url u;
	struct sockaddr_storage sa;
	socklen_t sl;
	struct net_tls_ctx *tls = NULL;
	struct relay_client *c = NULL;
	int r;
	uint64_t deadline = core_now_ns() + (uint64_t)(timeout_ms < 0 ? 3600000 : timeout_ms) * 1000000u;
#define LEFT() ((int)(deadline > core_now_ns() ? (deadline - core_now_ns()) / 1000000u + 1 : 0))

	errbuf[0] = 0;
	if (!opts)
		opts = &def;
	if (!relay_session_id_valid(session_id, strlen(session_id))) {
		snprintf(errbuf, errlen, "session id '%s' is invalid (1-128 of A-Z a-z 0-9 _ -)", session_id);
		return -EINVAL;
	}
	r = parse_url(&u, url, errbuf, errlen);
	if (r)
		return r;
	r = net_resolve(u.host, u.port, AF_UNSPEC, &sa, &sl, LEFT(), errbuf, errlen);
	if (r)
		return r;
	int fd = core_tcp_connect((struct sockaddr *)&sa, sl, LEFT());
	if (fd < 0) {
		snprintf(errbuf, errlen, "cannot connect to %s: %s", url, strerror(-fd));
		return fd;
	}
	int err = 0, one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* messages are latency-bound */
	struct core_sock *s = core_sock_new(fd, &err);
	if (!s)
		return err;
	if (u.tls) {
		tls = net_tls_client_ctx_new(opts->ca_file, errbuf, errlen);
		if (!tls) {
			core_sock_close(s);
			return -EPROTO;
		}
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		core_sock_close(s);
		net_tls_ctx_free(tls);
		return -ENOMEM;
	}
	c->max_message = opts->max_message ? opts->max_message : CLIENT_DEFAULT_MAX;
	c->deliver_notices = opts->deliver_notices;
	snprintf(c->session, sizeof c->session, "%s", session_id);
	c->st = net_stream_new(s, tls, false, u.tls ? u.host : NULL, &err);
	net_tls_ctx_free(tls);
	if (!c->st) {
		free(c);
		return err;
	}
	r = net_stream_handshake(c->st, LEFT());
	if (r) {
		if (r == -EPROTO)
			snprintf(errbuf, errlen, "%s: %s", url, net_stream_tls_error(c->st));
		goto fail;
	}

	/* The opening handshake (RFC 6455 §4.1). */
	uint8_t nonce[16], req[1024];
	char key[RELAY_HTTP_KEY_LEN + 1], host[300], path[700];
	RAND_bytes(nonce, sizeof nonce);
	relay_http_key_encode(key, nonce);
	bool dflt = (u.tls && u.port == 443) || (!u.tls && u.port == 80);
	if (dflt)
		snprintf(host, sizeof host, "%s", u.host);
	else
		snprintf(host, sizeof host, "%s:%u", u.host, u.port);
	snprintf(path, sizeof path, "%s/relay/%s", u.path, session_id);
	if (opts->ticket_key) {
		/* A fresh ticket per connect: the relay spends each once. */
		char ticket[RELAY_TICKET_TEXT_LEN + 1];
		uint8_t tn[RELAY_TICKET_NONCE_LEN];
		RAND_bytes(tn, sizeof tn);
		relay_ticket_make(ticket, opts->ticket_key, session_id, strlen(session_id),
				  (uint64_t)time(NULL) + RELAY_TICKET_DEFAULT_TTL, tn);
		snprintf(path + strlen(path), sizeof path - strlen(path), "?ticket=%s", ticket);
	}
	int n = relay_http_upgrade_request_build(req, sizeof req, host, path, key);
	if (n < 0) {
		snprintf(errbuf, errlen, "cannot build a request for %s", url);
		r = -EINVAL;
		goto fail;
	}
	r = net_stream_send(c->st, req, (size_t)n, LEFT());
	if (r)
		goto fail;
	for (;;) {
		struct relay_http_resp resp;
		int hl = relay_http_parse_response(&resp, c->in, c->in_len);
		if (hl == RELAY_HTTP_INCOMPLETE) {
			if (c->in_len > CLIENT_MAX_HEAD) {
				r = -EPROTO;
				snprintf(errbuf, errlen, "%s: response head too large", url);
				goto fail;
			}
			r = read_more(c, LEFT());
			if (r == -ETIMEDOUT && !LEFT())
				goto fail;
			if (r)
				goto fail;
			continue;
		}
		if (hl < 0) {
			snprintf(errbuf, errlen, "%s: malformed HTTP response", url);
			r = -EPROTO;
			goto fail;
		}
		int cr = relay_http_check_upgrade_response(&resp, key, strlen(key));
		if (cr < 0) {
			snprintf(errbuf, errlen, "%s: relay refused the session: HTTP %d %.*s", url, resp.status,
				 (int)resp.reason.len, resp.reason.ptr ? resp.reason.ptr : "");
			r = resp.status == 409 ? -EBUSY : resp.status == 401 || resp.status == 403 ? -EACCES : -EPROTO;
			goto fail;
		}
		memmove(c->in, c->in + hl, c->in_len - (size_t)hl);
		c->in_len -= (size_t)hl;
		break;
	}
	*out = c;
	return 0;
fail:
	if (r == -ETIMEDOUT && !errbuf[0])
		snprintf(errbuf, errlen, "%s: timed out", url);
	net_stream_close(c->st);
	free(c->in);
	free(c);
	return r;
#undef LEFT
}

int relay_client_send(struct relay_client *c, const void *data, size_t len, bool text, int timeout_ms)
{
	if (c->closed)
		return -ECONNRESET;
	return send_frame(c, text ? RELAY_WS_OP_TEXT : RELAY_WS_OP_BINARY, data, len, timeout_ms);
}

static bool is_notice(const struct relay_client *c, const uint8_t *d, size_t len)
{
	char want[200];
	int n = snprintf(want, sizeof want, RELAY_PAIRED_MESSAGE_FMT, c->session);
	return n > 0 && (size_t)n == len && !memcmp(want, d, len);
}

/* The next message, decoded from the bytes received. wait: reading more
 * until timeout_ms, answering pings and a Close on the way (may suspend).
 * Not wait: only from what was received or, on a plain stream, is queued
 * already; -EAGAIN when no message completes from it, and before a ping or
 * a Close, left for a waiting receive because their answers are sends
 * (does not suspend). A message assembled in part is kept for the next
 * call; a message returned is dropped by it. */
static int next_msg(struct relay_client *c, struct relay_msg *out, int timeout_ms, bool wait)
{
	uint64_t deadline = core_deadline_ns(timeout_ms);
	if (c->closed)
		return -ECONNRESET;
	if (c->msg_out) {
		c->msg_len = 0;
		c->msg_op = 0;
		c->msg_out = false;
	}
	for (;;) {
		struct relay_ws_hdr h;
		int hl = relay_ws_frame_parse_header(&h, RELAY_WS_ROLE_CLIENT, c->max_message, c->in, c->in_len);
		if (hl >= 0 && c->in_len - (size_t)hl >= h.payload_len) {
			uint8_t *p = c->in + hl;
			size_t pl = (size_t)h.payload_len;
			int r = 0;
			bool done = false;
			if (!wait && (h.opcode == RELAY_WS_OP_PING || h.opcode == RELAY_WS_OP_CLOSE))
				return -EAGAIN;
			if (h.opcode == RELAY_WS_OP_PING) {
				r = send_frame(c, RELAY_WS_OP_PONG, p, pl, 1000);
			} else if (h.opcode == RELAY_WS_OP_CLOSE) {
				struct relay_ws_close cl;
				c->close_code = relay_ws_close_parse(&cl, p, pl) == 0 ? cl.code : RELAY_WS_CLOSE_PROTOCOL_ERROR;
				c->closed = true;
				uint8_t cp[2] = {(uint8_t)(c->close_code >> 8), (uint8_t)c->close_code};
				send_frame(c, RELAY_WS_OP_CLOSE, cp, relay_ws_close_code_valid(c->close_code) ? 2 : 0, 500);
				r = -ECONNRESET;
			} else if (h.opcode != RELAY_WS_OP_PONG) {
				if (h.opcode != RELAY_WS_OP_CONTINUATION)
					c->msg_op = h.opcode;
				if (c->msg_len + pl > c->max_message) {
					r = -EMSGSIZE;
				} else {
					if (core_grow(&c->msg, &c->msg_cap, c->msg_len + pl, 4096, SIZE_MAX) < 0)
						return -ENOMEM;
					memcpy(c->msg + c->msg_len, p, pl);
					c->msg_len += pl;
					done = h.fin;
				}
			}
			size_t used = (size_t)hl + pl;
			memmove(c->in, c->in + used, c->in_len - used);
			c->in_len -= used;
			if (r) {
				c->msg_out = true; /* what was assembled is lost with the error */
				return r;
			}
			if (done) {
				c->msg_out = true;
				bool text = c->msg_op == RELAY_WS_OP_TEXT;
				if (text && relay_utf8_validate(c->msg, c->msg_len) != RELAY_UTF8_OK)
					return -EPROTO;
				if (text && is_notice(c, c->msg, c->msg_len)) {
					c->paired = true;
					if (!c->deliver_notices) {
						c->msg_len = 0;
						c->msg_op = 0;
						c->msg_out = false;
						continue;
					}
				}
				out->data = c->msg;
				out->len = c->msg_len;
				out->text = text;
				return (int)(c->msg_len > INT32_MAX ? INT32_MAX : c->msg_len);
			}
			continue;
		}
		if (hl < 0 && hl != RELAY_WS_INCOMPLETE)
			return hl == RELAY_WS_E_TOO_BIG ? -EMSGSIZE : -EPROTO;
		int r;
		if (!wait) {
			if (!net_stream_recv_queued(c->st))
				return -EAGAIN;
			r = read_more(c, 0); /* queued: returns at once */
		} else {
			int left = core_deadline_left_ms(deadline);
			if (left == 0)
				return -ETIMEDOUT;
			r = read_more(c, left);
		}
		if (r == -ECONNRESET)
			c->closed = true;
		if (r)
			return r;
	}
}

int relay_client_recv(struct relay_client *c, struct relay_msg *out, int timeout_ms)
{
	return next_msg(c, out, timeout_ms, true);
}

int relay_client_try_recv(struct relay_client *c, struct relay_msg *out)
{
	return next_msg(c, out, 0, false);
}

bool relay_client_paired(const struct relay_client *c) { return c->paired; }
uint16_t relay_client_close_code(const struct relay_client *c) { return c->close_code; }

void relay_client_interrupt(struct relay_client *c)
{
	net_stream_interrupt(c->st);
}

void relay_client_close(struct relay_client *c)
{
	if (!c)
		return;
	if (!c->closed) {
		uint8_t cp[2] = {0x03, 0xe8}; /* 1000 */
		if (send_frame(c, RELAY_WS_OP_CLOSE, cp, 2, 500) == 0) {
			/* Wait briefly for the relay's Close (it closes TCP first). */
			struct relay_msg m;
			while (relay_client_recv(c, &m, 500) >= 0)
				;
		}
	}
	net_stream_close(c->st);
	free(c->in);
	free(c->msg);
	free(c);
}

int relay_client_probe(const char *url, const char *ca_file, int timeout_ms, uint32_t *out_rtt_us,
		       int64_t *out_sessions, char *errbuf, size_t errlen)
{
	struct url u;
	struct sockaddr_storage sa;
	socklen_t sl;
	struct net_tls_ctx *tls = NULL;
	struct net_stream *st = NULL;
	uint8_t buf[4096];
	size_t len = 0;
	int r, err = 0;
	uint64_t start = core_now_ns();
	uint64_t deadline = start + (uint64_t)timeout_ms * 1000000u;
#define LEFT() ((int)(deadline > core_now_ns() ? (deadline - core_now_ns()) / 1000000u + 1 : 0))

	errbuf[0] = 0;
	r = parse_url(&u, url, errbuf, errlen);
	if (r)
		return r;
	r = net_resolve(u.host, u.port, AF_UNSPEC, &sa, &sl, LEFT(), errbuf, errlen);
	if (r) {
		if (!errbuf[0])
			snprintf(errbuf, errlen, "cannot resolve %s: %s", u.host, strerror(-r));
		return r;
	}
	uint64_t t0 = core_now_ns();
	int fd = core_tcp_connect((struct sockaddr *)&sa, sl, LEFT());
	if (fd < 0) {
		snprintf(errbuf, errlen, "cannot connect: %s", strerror(-fd));
		return fd;
	}
	*out_rtt_us = (uint32_t)((core_now_ns() - t0) / 1000u);
	struct core_sock *s = core_sock_new(fd, &err);
	if (!s)
		return err;
	if (u.tls && !(tls = net_tls_client_ctx_new(ca_file, errbuf, errlen))) {
		core_sock_close(s);
		return -EPROTO;
	}
	st = net_stream_new(s, tls, false, u.tls ? u.host : NULL, &err);
	net_tls_ctx_free(tls);
	if (!st)
		return err;
	r = net_stream_handshake(st, LEFT());
	if (r) {
		snprintf(errbuf, errlen, "%s", r == -EPROTO ? net_stream_tls_error(st) : strerror(-r));
		goto out;
	}
	char req[512];
	int n = snprintf(req, sizeof req, "GET %s/health HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", u.path,
			 u.host);
	r = net_stream_send(st, req, (size_t)n, LEFT());
	if (r) {
		snprintf(errbuf, errlen, "cannot send: %s", strerror(-r));
		goto out;
	}
	/* Connection: close: read until the relay closes or the buffer fills. */
	for (;;) {
		struct net_chunk ch;
		int got = net_stream_recv(st, &ch, LEFT());
		if (got <= 0)
			break;
		size_t take = ch.len < sizeof buf - 1 - len ? ch.len : sizeof buf - 1 - len;
		memcpy(buf + len, ch.data, take);
		len += take;
		net_stream_release(st, &ch);
		if (len == sizeof buf - 1)
			break;
	}
	buf[len] = 0;
	struct relay_http_resp resp;
	int hl = relay_http_parse_response(&resp, buf, len);
	if (hl < 0) {
		snprintf(errbuf, errlen, len ? "not an HTTP answer" : "no answer within %d ms", timeout_ms);
		r = len ? -EPROTO : -ETIMEDOUT;
		goto out;
	}
	if (resp.status != 200 || !strstr((char *)buf + hl, "\"status\": \"ok\"")) {
		snprintf(errbuf, errlen, "/health answered HTTP %d", resp.status);
		r = -EPROTO;
		goto out;
	}
	const char *sp = strstr((char *)buf + hl, "\"sessions\":");
	*out_sessions = sp ? strtoll(sp + 11, NULL, 10) : -1;
	r = 0;
out:
	net_stream_close(st);
	return r;
#undef LEFT
}
