/* The HTTP upgrade: reading a client's request head (bounded in size and
 * time, the oldest shed when too many are open), answering status
 * requests and errors, and handing an upgrade to its session -- here, or
 * on the reactor that owns it. */
#include "relay/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/grow.h"
#include "core/log.h"
#include "relay/http.h"
#include "relay/proxy_proto.h"

/* Answers a refused request with its status and logs who and why. */
static void send_http_error(struct net_stream *s, int err, const uint8_t key[16])
{
	uint8_t out[1024];
	char ip[46];
	int n = relay_http_error_response_build(out, sizeof out, err);
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
	char id[RELAY_HTTP_MAX_SESSION_ID + 1];
	size_t id_len;
	char accept[RELAY_HTTP_ACCEPT_LEN + 1];
	uint8_t ip[16];
};

/* Joins the handed-off stream; its copy of h stays in this frame, off the
 * stack of the running session (see relay_session_join). */
static __attribute__((noinline)) struct relay_conn *join_handoff(struct relay_thread *th, struct handoff *h)
{
	struct handoff copy = *h;
	free(h);
	return relay_session_join(th, copy.st, copy.id, copy.id_len, copy.accept, copy.ip);
}

static void handoff_arrive(void *arg)
{
	struct handoff *h = arg;
	struct relay_thread *th = &h->srv->th[core_reactor_index(core_self())];
	if (net_stream_attach(h->st) != 0) {
		net_stream_close(h->st);
		relay_release(h->srv, h->ip);
		free(h);
		return;
	}
	struct relay_conn *c = join_handoff(th, h);
	if (c)
		relay_conn_run(c);
}

/* ---- handshake ---- */

/* Handshakes that have not finished their HTTP head yet, per thread, oldest
 * first: the accept loop sheds the oldest when too many are open at once
 * (--max-handshakes, or the descriptor budget) -- slowloris from many
 * addresses, each under --max-conns-per-ip. On the heap: a waiting
 * handshake's stack is given back (hibernation). */
struct relay_hs {
	struct relay_hs *prev, *next;
	struct net_stream *st;
	uint64_t started_ns;
	uint64_t pass;                  /* core_pass() when its head's reading began */
	unsigned char queue;            /* th->hs_head[queue]: 0 fresh, 1 stalled */
	bool shed;                      /* interrupted by relay_hs_shed_oldest */
};

static void hs_track(struct relay_thread *th, struct relay_hs *h, unsigned q)
{
	h->queue = (unsigned char)q;
	h->prev = th->hs_tail[q];
	h->next = NULL;
	if (th->hs_tail[q])
		th->hs_tail[q]->next = h;
	else
		th->hs_head[q] = h;
	th->hs_tail[q] = h;
}

static void hs_untrack(struct relay_thread *th, struct relay_hs *h)
{
	unsigned q = h->queue;
	if (h->prev)
		h->prev->next = h->next;
	else
		th->hs_head[q] = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else
		th->hs_tail[q] = h->prev;
	h->prev = h->next = NULL;
}

/* Moves h to the stalled queue: it sent part of a head and then waited.
 * A client that means to upgrade sends its head in one write; a part
 * alone is a slow link or a slowloris, and under pressure the place goes
 * to the fresh connections first. (A head split by the network lands here
 * for the moment until its rest arrives: the order of shedding is all
 * this changes.) */
static void hs_stalled(struct relay_thread *th, struct relay_hs *h)
{
	if (h->queue == 1)
		return;
	hs_untrack(th, h);
	hs_track(th, h, 1);
}

/* Whether a fresh handshake has had its chance to read: its first read,
 * submitted in the pass it began, found a head already waiting by the end
 * of the next pass (core_pass). Before that, a legitimate client whose
 * whole head is in the socket looks the same as a silent one; a burst of
 * accepts runs ahead of their reads and would shed it (a reset pair under
 * 20,000 slowloris connections, seen once in CI). */
static bool hs_had_its_chance(const struct relay_hs *h)
{
	return core_pass() >= h->pass + 2;
}

enum relay_shed relay_hs_shed_oldest(struct relay_thread *th, bool any)
{
	for (unsigned q = 2; q-- > 0;) {
		struct relay_hs *h = th->hs_head[q];
		while (h && h->shed)
			h = h->next;
		if (!h)
			continue;
		/* Oldest first: if this one is too young, so are those after it. */
		if (q == 0 && !any && !hs_had_its_chance(h))
			return RELAY_SHED_TOO_YOUNG;
		h->shed = true;
		net_stream_interrupt(h->st);
		atomic_fetch_add(&th->srv->shed, 1);
		atomic_fetch_add(&th->srv->shed_pending, 1);
		return RELAY_SHED_ONE;
	}
	return RELAY_SHED_NONE;
}

void relay_hs_interrupt_all(struct relay_thread *th)
{
	for (unsigned q = 0; q < 2; q++)
		for (struct relay_hs *h = th->hs_head[q]; h; h = h->next)
			net_stream_interrupt(h->st);
}

static struct net_tls_ctx *current_tls(struct relay_server *srv)
{
	pthread_mutex_lock(&srv->tls_lock);
	struct net_tls_ctx *c = srv->tls ? net_tls_ctx_ref(srv->tls) : NULL;
	pthread_mutex_unlock(&srv->tls_lock);
	return c;
}

/* How the head's reading ended, besides a head length (> 0) or a
 * relay_http error (< 0, answered with its status). HEAD_BAD_PROXY: a
 * trusted proxy's connection without the PROXY header it must send. */
enum { HEAD_GONE = -1000, HEAD_TIMEOUT, HEAD_SHED, HEAD_BAD_PROXY };

/* What a trusted proxy said before the request (read_proxy). */
struct proxied {
	bool header;                    /* a PROXY header came */
	bool has_addr;                  /* and named a TCP client (not LOCAL, UNKNOWN...) */
	uint8_t addr[16];               /* that client, relay_addr_key form */
	int err;                        /* HEAD_BAD_PROXY: the relay_proxy_status */
};

/* Reads a trusted proxy's PROXY header off the socket, before TLS (a
 * balancer that relays TCP sends it ahead of the client's bytes, TLS
 * records included), into *px; the bytes after it go back to the stream,
 * which reads them first. Returns 0, or HEAD_BAD_PROXY (px->err says why:
 * a malformed header, or none when --proxy-protocol is required), or how
 * the wait ended (HEAD_GONE, HEAD_TIMEOUT, HEAD_SHED). The header is at
 * most RELAY_PROXY_MAX_LEN bytes and balancers send it with the
 * connection: it is read into this frame, which does not hibernate. */
static __attribute__((noinline)) int read_proxy(struct relay_thread *th, struct relay_hs *h, struct proxied *px,
						uint64_t deadline)
{
	struct relay_server *srv = th->srv;
	struct core_sock *sock = net_stream_sock(h->st);
	uint8_t buf[RELAY_PROXY_MAX_LEN];
	size_t len = 0;
	for (;;) {
		if (h->shed)
			return HEAD_SHED;
		if (th->stopping)
			return HEAD_GONE;
		if (core_now_ns() >= deadline)
			return HEAD_TIMEOUT;
		struct core_buf b;
		int n = core_sock_recv(sock, &b, core_deadline_left_ms(deadline));
		if (n == -ETIMEDOUT || n == -ECANCELED)
			continue;
		if (n <= 0)
			return HEAD_GONE;
		size_t take = b.len < sizeof buf - len ? b.len : sizeof buf - len;
		memcpy(buf + len, b.data, take);
		len += take;
		struct relay_proxy_hdr hdr;
		int r = relay_proxy_parse(&hdr, buf, len);
		if (r == RELAY_PROXY_INCOMPLETE && len < sizeof buf) {
			core_buf_release(&b);
			continue;
		}
		if (r == RELAY_PROXY_E_NOT_PROXY && srv->o.proxy_protocol == RELAY_PROXY_HEADER_OPTIONAL) {
			r = 0; /* no header: every byte is the request's */
		} else if (r < 0) {
			core_buf_release(&b);
			px->err = r;
			return HEAD_BAD_PROXY;
		} else {
			px->header = true;
			px->has_addr = relay_client_addr_from_proxy(&hdr, px->addr);
		}
		/* What followed the header, in order: buf's rest, then b's. On
		 * a TLS stream that is ciphertext: the engine reads it first. */
		int fr = net_stream_feed_wire(h->st, buf + r, len - (size_t)r);
		if (fr == 0)
			fr = net_stream_feed_wire(h->st, b.data + take, b.len - take);
		core_buf_release(&b);
		return fr == 0 ? 0 : HEAD_GONE;
	}
}

/* recover_client's answer for a client at --max-conns-per-ip (429): apart
 * from every relay_http_status. */
enum { CLIENT_OVER_CAP = -429 };

/* Who a trusted proxy's client is: the PROXY header's source, or (without
 * a header, unless one is required) the X-Forwarded-For the proxy added,
 * or the proxy itself (its own health checks). Writes it to ip and counts
 * it for --max-conns-per-ip. Returns 0; or, the address counted nowhere, a
 * relay_http error to answer or CLIENT_OVER_CAP. */
static int recover_client(struct relay_server *srv, const struct relay_http_req *req, const struct proxied *px,
			  uint8_t ip[16])
{
	char a[46], b[46];
	uint8_t peer[16];
	memcpy(peer, ip, 16);
	bool named = false;
	if (px->header) {
		if (px->has_addr) {
			memcpy(ip, px->addr, 16);
			named = true;
		}
	} else if (req->x_forwarded_for.ptr && srv->o.proxy_protocol != RELAY_PROXY_HEADER_REQUIRED) {
		if (relay_client_addr_from_xff(srv, req->x_forwarded_for.ptr, req->x_forwarded_for.len, ip) != 0) {
			core_log_limited(&relay_log_refused, CORE_LOG_INFO,
					 "relay: refused %s: 400 (X-Forwarded-For \"%.*s\" from a trusted proxy names no address)",
					 relay_addr_key_str(peer, a), (int)(req->x_forwarded_for.len > 100 ? 100 : req->x_forwarded_for.len),
					 req->x_forwarded_for.ptr);
			return RELAY_HTTP_E_BAD_REQUEST;
		}
		named = true;
	}
	if (relay_admit_addr(srv, ip) != RELAY_ADMITTED) {
		core_log_limited(&relay_log_refused, CORE_LOG_INFO,
				 "relay: refused %s via proxy %s: 429 Too Many Requests (--max-conns-per-ip reached)",
				 relay_addr_key_str(ip, a), relay_addr_key_str(peer, b));
		atomic_fetch_add(&srv->rejected_limit, 1);
		return CLIENT_OVER_CAP;
	}
	if (named) {
		atomic_fetch_add(&srv->proxied, 1);
		core_log(CORE_LOG_DEBUG, "relay: client %s via proxy %s (%s)", relay_addr_key_str(ip, a),
			 relay_addr_key_str(peer, b), px->header ? "PROXY header" : "X-Forwarded-For");
	}
	return 0;
}


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
	uint64_t quiet_at = core_now_ns() + (uint64_t)RELAY_HS_HIBERNATE_MS * 1000000u;
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
		if (quiet) {
			/* A trickled head over TLS waits without TLS buffers too
			 * (every chunk was released before this wait). */
			net_stream_trim(st);
			core_task_hibernate_next_wait(true);
		}
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
		if (core_grow(head, cap, was + take, RELAY_HS_HEAD_MIN, srv->o.max_header) < 0) {
			net_stream_release(st, &b);
			return HEAD_GONE;
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
			hs_stalled(th, h);
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
 * Takes st and head. ip is the socket's peer, admitted with it; or, with
 * px (a trusted proxy's connection, admitted with NULL), the proxy's, and
 * the client's address replaces it here. Returns the joined connection,
 * or NULL (st closed and the connection released, or handed off). */
static __attribute__((noinline)) struct relay_conn *finish_upgrade(struct relay_thread *th, struct net_stream *st,
								   uint8_t *head, int n, uint8_t ip[16],
								   const struct proxied *px)
{
	struct relay_server *srv = th->srv;
	struct relay_http_req req;
	const uint8_t *counted = px ? NULL : ip; /* what relay_release gives back */
	int r = relay_http_parse_request(&req, head, (size_t)n);
	if (r < 0)
		goto refuse;
	if (px) {
		/* From here on ip is the client's (internal.h: "The client's
		 * address"). */
		r = recover_client(srv, &req, px, ip);
		if (r == CLIENT_OVER_CAP) {
			relay_send_plain(st, 429, "text/plain", RELAY_BODY_PER_IP, sizeof RELAY_BODY_PER_IP - 1);
			goto done;
		}
		if (r < 0)
			goto refuse;
		counted = ip;
	}
	struct relay_http_span sid;
	r = relay_http_route(&sid, &req);
	if (r < 0)
		goto refuse;
	int status;
	if (r != RELAY_HTTP_ROUTE_RELAY) {
		if ((status = relay_access_check(srv, &req, r, NULL, ip)) != 0)
			relay_access_refuse(st, status);
		else
			relay_status_serve(srv, st, r);
		goto done;
	}
	/* Access control before anything else is said about the request (a
	 * stranger learns only 401 or 403) and before the session takes any
	 * memory. */
	if ((status = relay_access_check(srv, &req, RELAY_HTTP_ROUTE_RELAY, &sid, ip)) != 0) {
		relay_access_refuse(st, status);
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
		return relay_session_join(th, st, id, sid.len, accept, ip);
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
	memcpy(h->ip, ip, 16);
	if (core_rt_post(srv->rt, owner, handoff_arrive, h) != 0) {
		free(h);
		goto done;
	}
	return NULL;
refuse:
	atomic_fetch_add(&srv->rejected_400, 1);
	send_http_error(st, r, ip);
done:
	free(head);
	net_stream_close(st);
	relay_release(srv, counted);
	return NULL;
}

/* Reads the HTTP head (bounded in size and time: slowloris), then
 * finish_upgrade. Returns the joined connection for relay_upgrade_run to
 * run once these frames (the parsed request, the TLS handshake's depth) are
 * off the stack, or NULL. */
static __attribute__((noinline)) struct relay_conn *read_upgrade(struct relay_upgrade_arg *a)
{
	struct relay_thread *th = a->th;
	struct relay_server *srv = th->srv;
	uint8_t ip[16];
	char ips[46];
	bool via_proxy = a->via_proxy;
	struct proxied px = {0};
	memcpy(ip, a->ip, 16);
	uint8_t *head = NULL;
	size_t len = 0, cap = 0;
	int err = 0, n = HEAD_GONE;
	struct net_tls_ctx *tls = a->tls ? current_tls(srv) : NULL;
	struct core_sock *sock = core_sock_new(a->fd, &err);
	struct net_stream *st = NULL;
	struct relay_hs *h = NULL;
	bool tls_wanted = a->tls;

	free(a);
	/* The accept loop counted this connection in srv->handshakes; the
	 * count ends where it stops reading a head. */
	if (!sock) {
		net_tls_ctx_free(tls);
		atomic_fetch_sub(&srv->handshakes, 1);
		goto release;
	}
	st = net_stream_new(sock, tls, true, NULL, &err);
	net_tls_ctx_free(tls);
	if (!st) {
		atomic_fetch_sub(&srv->handshakes, 1);
		goto release;
	}
	if ((tls_wanted && !tls) || !(h = calloc(1, sizeof *h))) {
		atomic_fetch_sub(&srv->handshakes, 1);
		goto done;
	}
	h->st = st;
	h->started_ns = core_now_ns();
	h->pass = core_pass();
	hs_track(th, h, 0);
	uint64_t deadline = h->started_ns + (uint64_t)srv->o.handshake_ms * 1000000u;
	int pr = via_proxy && srv->o.proxy_protocol != RELAY_PROXY_HEADER_OFF ? read_proxy(th, h, &px, deadline) : 0;
	int tr = pr == 0 && net_stream_is_tls(st) ? net_stream_handshake(st, (int)srv->o.handshake_ms) : 0;
	if (pr != 0)
		n = pr;
	else if (tr == 0)
		n = read_head(th, h, &head, &len, &cap, deadline);
	else if (h->shed)
		n = HEAD_SHED;
	else if (tr == -ETIMEDOUT)
		n = HEAD_TIMEOUT;
	else if (tr == -EPROTO)
		core_log(CORE_LOG_DEBUG, "relay: %s", net_stream_tls_error(st));
	hs_untrack(th, h);
	atomic_fetch_sub(&srv->handshakes, 1);
	if (h->shed)
		atomic_fetch_sub(&srv->shed_pending, 1); /* no longer holds a place of its own */
	if (n > 0) {
		free(h);
		return finish_upgrade(th, st, head, n, ip, via_proxy ? &px : NULL);
	}
	if (n == HEAD_TIMEOUT) {
		atomic_fetch_add(&srv->handshake_timeouts, 1);
		core_log_limited(&relay_log_refused, CORE_LOG_INFO, "relay: refused %s: 408 handshake timeout (%zu bytes in %u ms)",
				 relay_addr_key_str(ip, ips), len, srv->o.handshake_ms);
		relay_send_plain(st, 408, "text/plain", RELAY_BODY_HANDSHAKE_TIMEOUT,
				 sizeof RELAY_BODY_HANDSHAKE_TIMEOUT - 1);
	} else if (n == HEAD_SHED) {
		core_log_limited(&relay_log_refused, CORE_LOG_INFO,
				 "relay: shed the handshake of %s after %llu ms (%zu bytes): too many handshakes at once",
				 relay_addr_key_str(ip, ips),
				 (unsigned long long)((core_now_ns() - h->started_ns) / 1000000u), len);
	} else if (n == RELAY_HTTP_E_TOO_LARGE) {
		atomic_fetch_add(&srv->rejected_400, 1);
		send_http_error(st, n, ip);
	} else if (n == HEAD_BAD_PROXY) {
		/* Closed unanswered: a balancer that does not speak the PROXY
		 * protocol it was configured for, or a misconfiguration that
		 * would otherwise let its clients' addresses collapse into its. */
		atomic_fetch_add(&srv->proxy_refused, 1);
		core_log_limited(&relay_log_refused, CORE_LOG_INFO, "relay: closed %s: trusted proxy sent %s (--proxy-protocol %s)",
				 relay_addr_key_str(ip, ips),
				 px.err == RELAY_PROXY_E_NOT_PROXY ? "no PROXY header" : relay_proxy_strerror(px.err),
				 srv->o.proxy_protocol == RELAY_PROXY_HEADER_REQUIRED ? "required" : "optional");
	}
	free(h);
done:
	net_stream_close(st);
release:
	free(head);
	relay_release(srv, via_proxy ? NULL : ip);
	return NULL;
}

void relay_upgrade_run(void *arg)
{
	struct relay_conn *c = read_upgrade(arg);
	if (c)
		relay_conn_run(c);
}

