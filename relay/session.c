/* Relay sessions: pairing, frame-for-frame forwarding, keepalive, teardown.
 *
 * Each connection's coroutine (relay_session_run) reads its own socket and writes to
 * its peer's. Per received buffer it decodes frame headers, unmasks payload
 * bytes in place, and sends [new header][payload piece]... to the peer in one
 * sendmsg straight from the receive buffer: the unmasking pass is the only
 * touch of the payload. Control frames are the relay's own business per hop
 * (ping answered, pong noted, close ends the session) and are not
 * forwarded; text and binary frames are, with their FIN bit and opcode, so
 * message boundaries and fragmentation arrive unchanged. */
#include "relay/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"
#include "relay/http.h"

/* Frames forwarded per sendmsg: a 16 KiB buffer of tiny frames is split into
 * several sends beyond this. */
#define FWD_MAX_IOV 64
/* Received buffers forwarded together when they are already queued. */
#define FWD_BATCH 4
/* How long a forward may wait for the peer's socket while it holds receive
 * buffers. A reader that is only slower than its writer takes the bytes
 * within it (no copy); one that stalls longer costs a copy of what is left
 * and of the writer's queue, and from then on no ring buffer at all. */
#define FWD_GRACE_MS 20
/* How long a goodbye (Close frame) may wait for the socket. */
#define GOODBYE_MS 1000
/* How long we wait for the client's own Close after ours (RFC 6455 §7.1.1:
 * the server should close TCP first, once the handshake is done). */
#define LINGER_MS 1000

enum fwd_result {
	FWD_OK = 0,
	FWD_PEER_GONE = 1,   /* sending to the peer failed */
	FWD_CLOSE = 2,       /* the client sent Close: c->close_code */
};

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
	if (s->paired)
		atomic_fetch_sub(&srv->active, 1);
	else
		atomic_fetch_sub(&srv->waiting, 1);
}

/* ---- writes ---- */

/* Sends one small frame the relay originates (pong, close, the paired
 * notice) to c's own client, under c's write lock. */
static __attribute__((noinline)) int send_own_frame(struct relay_conn *c, uint8_t opcode, const void *payload, size_t len, int timeout_ms)
{
	uint8_t frame[RELAY_WS_MAX_HEADER_LEN + 256];
	int n = relay_ws_frame_build(frame, sizeof frame, true, opcode, payload, len, NULL);
	if (n < 0)
		return -EINVAL;
	return net_stream_send(c->st, frame, (size_t)n, timeout_ms);
}

static int send_close(struct relay_conn *c, uint16_t code, const char *reason)
{
	uint8_t p[RELAY_WS_MAX_CONTROL_PAYLOAD];
	int n = relay_ws_close_build(p, sizeof p, code, reason, reason ? strlen(reason) : 0);
	if (n < 0)
		n = relay_ws_close_build(p, sizeof p, RELAY_WS_CLOSE_NORMAL, NULL, 0);
	return send_own_frame(c, RELAY_WS_OP_CLOSE, p, (size_t)n, GOODBYE_MS);
}

/* Held bytes count against the per-session --hold and, by their allocated
 * size, against --hold-total over all sessions of the process. */
static void hold_free(struct relay_server *srv, uint8_t *hold, size_t cap)
{
	if (cap)
		atomic_fetch_sub(&srv->held, cap);
	free(hold);
}

/* Whether c must stop reading until its peer comes: its session's hold is
 * full, or all sessions' holds together are. */
static bool hold_full(const struct relay_conn *c)
{
	const struct relay_server *srv = c->th->srv;
	return c->sess->hold_len >= srv->o.hold_bytes || atomic_load(&srv->held) >= srv->o.hold_total;
}

static int hold_append(struct relay_server *srv, struct relay_session *s, const struct iovec *iov, int n)
{
	size_t need = 0;
	for (int i = 0; i < n; i++)
		need += iov[i].iov_len;
	if (s->hold_len + need > s->hold_cap) {
		/* Doubling, but not past --hold: the last append before the
		 * client is paused may overshoot it by one batch, not double it. */
		size_t cap = s->hold_cap ? s->hold_cap : 4096;
		while (cap < s->hold_len + need && cap < srv->o.hold_bytes)
			cap *= 2;
		if (cap > srv->o.hold_bytes)
			cap = srv->o.hold_bytes;
		if (cap < s->hold_len + need)
			cap = s->hold_len + need;
		uint8_t *h = realloc(s->hold, cap);
		if (!h)
			return -ENOMEM;
		atomic_fetch_add(&srv->held, cap - s->hold_cap);
		s->hold = h;
		s->hold_cap = cap;
	}
	for (int i = 0; i < n; i++) {
		memcpy(s->hold + s->hold_len, iov[i].iov_base, iov[i].iov_len);
		s->hold_len += iov[i].iov_len;
	}
	return 0;
}

/* ---- decoding and forwarding ---- */

struct fwd_ctx {
	struct iovec iov[FWD_MAX_IOV];
	uint8_t hdr[FWD_MAX_IOV / 2][RELAY_WS_MAX_HEADER_LEN];
	int num_iov, num_hdr;
	uint64_t payload;
	int frame_iov;                  /* iov of the current frame's header, -1 once sent */
	uint64_t frame_payload;         /* its payload bytes gathered since */
	bool pong_due;
	uint8_t ping[RELAY_WS_MAX_CONTROL_PAYLOAD];
	uint8_t ping_len;
	uint16_t close_code;            /* code for our own client when failing */
	const char *close_reason;
	uint16_t client_close;          /* the code the client closed with */
	/* The peer's socket was full: we hold its write lock, and what it did
	 * not take waits in spill (heap), so the receive buffers it came from
	 * go back to the ring before this connection waits for the peer. */
	struct relay_conn *stuck;
	uint8_t *spill;
	size_t spill_len, spill_cap;
	uint64_t deadline;              /* of the wait for the stuck peer (--write-timeout) */
};

/* Appends iov[0..n), minus its first skip bytes, to f->spill. */
static int spill_append(struct fwd_ctx *f, const struct iovec *iov, int n, size_t skip)
{
	size_t need = 0;
	for (int i = 0; i < n; i++)
		need += iov[i].iov_len;
	need -= skip;
	if (f->spill_len + need > f->spill_cap) {
		uint8_t *p = realloc(f->spill, f->spill_len + need);
		if (!p)
			return -ENOMEM;
		f->spill = p;
		f->spill_cap = f->spill_len + need;
	}
	for (int i = 0; i < n; i++) {
		size_t len = iov[i].iov_len, off = skip < len ? skip : len;
		skip -= off;
		memcpy(f->spill + f->spill_len, (const uint8_t *)iov[i].iov_base + off, len - off);
		f->spill_len += len - off;
	}
	return 0;
}

/* Sends the gathered frames to the peer, or holds them while there is none.
 * Waits for the peer at most FWD_GRACE_MS: what its socket does not take by
 * then goes to the spill, sent by finish_stuck once the receive buffers are
 * released. */
static int flush(struct relay_conn *c, struct fwd_ctx *f)
{
	struct iovec *iov = f->iov;
	int n = f->num_iov;
	f->num_iov = 0;
	if (!n)
		return FWD_OK;
	struct relay_server *srv = c->th->srv;
	if (f->stuck) {
		/* Already behind: queue after what waits, in order. */
		if (spill_append(f, iov, n, 0) != 0)
			return FWD_PEER_GONE;
		atomic_fetch_add_explicit(&c->th->bytes, f->payload, memory_order_relaxed);
		return FWD_OK;
	}
	struct relay_conn *p = c->peer;
	if (!p) {
		if (c->peer_gone)
			return FWD_PEER_GONE;
		if (hold_append(srv, c->sess, iov, n) != 0)
			return FWD_PEER_GONE;
		c->sess->hold_payload += f->payload;
		return FWD_OK;
	}
	uint64_t deadline = core_deadline_ns((int)srv->o.write_ms);
	if (net_stream_lock_write(p->st, (int)srv->o.write_ms) != 0)
		return FWD_PEER_GONE;
	size_t done = 0;
	int r = net_stream_sendv_try_locked(p->st, iov, n, FWD_GRACE_MS, &done);
	if (r == 1 && spill_append(f, iov, n, done) != 0)
		r = -ENOMEM;
	if (r < 0) {
		net_stream_unlock_write(p->st);
		return FWD_PEER_GONE;
	}
	if (r == 1) {
		f->stuck = p;
		f->deadline = deadline;
	} else {
		net_stream_unlock_write(p->st);
	}
	atomic_fetch_add_explicit(&c->th->bytes, f->payload, memory_order_relaxed);
	return FWD_OK;
}

/* The peer could not take everything: every receive buffer of this batch
 * is back in the ring by now. Stop receiving our own client as well (what
 * it had queued moves to the heap), so a connection waiting for a reader
 * that does not read holds no ring buffer at all; then wait for the peer,
 * within --write-timeout. */
static int finish_stuck(struct relay_conn *c, struct fwd_ctx *f)
{
	struct net_stream *ps = f->stuck->st;
	int r = net_stream_recv_pause(c->st);
	int w = net_stream_flush_locked(ps, core_deadline_left_ms(f->deadline));
	if (w == 0 && f->spill_len) {
		struct iovec v = {.iov_base = f->spill, .iov_len = f->spill_len};
		w = net_stream_sendv_locked(ps, &v, 1, core_deadline_left_ms(f->deadline));
	}
	net_stream_unlock_write(ps);
	free(f->spill);
	f->spill = NULL;
	f->spill_len = f->spill_cap = 0;
	f->stuck = NULL;
	if (w < 0)
		return FWD_PEER_GONE;
	if (r < 0) {
		/* What the client had queued may be lost: end it honestly. */
		f->close_code = RELAY_WS_CLOSE_INTERNAL_ERROR;
		f->close_reason = "relay out of memory";
		return FWD_CLOSE;
	}
	return FWD_OK;
}

static int fctx_flush(struct relay_conn *c, struct fwd_ctx *f)
{
	int r = flush(c, f);
	f->num_hdr = 0;
	f->payload = 0;
	f->frame_iov = -1;
	f->frame_payload = 0;
	return r;
}

/* Room for one header and one payload piece. */
static int fctx_room(struct relay_conn *c, struct fwd_ctx *f)
{
	if (f->num_iov + 2 > FWD_MAX_IOV || f->num_hdr >= FWD_MAX_IOV / 2)
		return fctx_flush(c, f);
	return FWD_OK;
}

static void fail(struct fwd_ctx *f, int ws_err, const char *reason)
{
	f->close_code = relay_ws_close_code_for(ws_err);
	f->close_reason = reason;
}

/* Invalid text: take the frame back if none of it has left yet, so the peer
 * sees whole frames and then a clean Close. A frame whose header already
 * went out (it spanned receive buffers) cannot be completed: the peer's
 * connection is then closed without a Close (peer_broken). */
static void retract_frame(struct relay_conn *c, struct fwd_ctx *f)
{
	if (f->frame_iov >= 0) {
		f->num_iov = f->frame_iov;
		f->payload -= f->frame_payload;
		f->frame_iov = -1;
		f->frame_payload = 0;
	} else if (c->peer) {
		c->peer->peer_broken = true;
	}
}

/* A complete control frame from the client. Returns FWD_CLOSE when it was a
 * Close (or invalid: f->close_code says). */
static int on_control(struct relay_conn *c, struct fwd_ctx *f)
{
	switch (c->h.opcode) {
	case RELAY_WS_OP_PING:
		f->pong_due = true;
		memcpy(f->ping, c->ctl, c->ctl_len);
		f->ping_len = c->ctl_len;
		return FWD_OK;
	case RELAY_WS_OP_PONG:
		c->ping_outstanding = false;
		return FWD_OK;
	default: { /* CLOSE */
		struct relay_ws_close cl;
		int r = relay_ws_close_parse(&cl, c->ctl, c->ctl_len);
		if (r < 0) {
			fail(f, r, relay_ws_strerror(r));
			return FWD_CLOSE;
		}
		f->client_close = cl.code;
		return FWD_CLOSE;
	}
	}
}

static int end_frame(struct relay_conn *c, struct fwd_ctx *f)
{
	c->in_frame = false;
	c->hlen = 0;
	if (c->h.opcode >= RELAY_WS_OP_CLOSE)
		return on_control(c, f);
	if (c->h.fin) {
		if (c->text_msg && relay_utf8_finish(&c->u8) != RELAY_UTF8_OK) {
			retract_frame(c, f);
			fail(f, RELAY_WS_E_INVALID_UTF8, "invalid UTF-8 in text message");
			return FWD_CLOSE;
		}
		c->msgs_in++;
		c->sess->last_msg_ns = core_now_ns();
		atomic_fetch_add_explicit(&c->th->msgs, 1, memory_order_relaxed);
	}
	f->frame_iov = -1; /* complete: it goes out whatever follows */
	f->frame_payload = 0;
	return FWD_OK;
}

/* Starts the frame whose header is c->h. */
static int begin_frame(struct relay_conn *c, struct fwd_ctx *f)
{
	int op = relay_ws_msg_next(&c->ms, &c->h);
	if (op < 0) {
		if (op == RELAY_WS_E_TOO_BIG)
			atomic_fetch_add(&c->th->srv->too_big, 1);
		fail(f, op, relay_ws_strerror(op));
		return FWD_CLOSE;
	}
	c->in_frame = true;
	c->left = c->h.payload_len;
	c->off = 0;
	if (c->h.opcode >= RELAY_WS_OP_CLOSE) {
		c->ctl_len = 0;
	} else {
		if (c->h.opcode != RELAY_WS_OP_CONTINUATION) {
			c->text_msg = (op == RELAY_WS_OP_TEXT);
			if (c->text_msg)
				relay_utf8_init(&c->u8);
		}
		int r = fctx_room(c, f);
		if (r)
			return r;
		/* Same FIN, opcode and length, no mask: the frame as the peer
		 * should see it. */
		uint8_t *h = f->hdr[f->num_hdr++];
		int hl = relay_ws_frame_build_header(h, c->h.fin, c->h.opcode, c->h.payload_len, NULL);
		f->frame_iov = f->num_iov;
		f->frame_payload = 0;
		f->iov[f->num_iov].iov_base = h;
		f->iov[f->num_iov++].iov_len = (size_t)hl;
	}
	if (c->left == 0)
		return end_frame(c, f);
	return FWD_OK;
}

/* Consumes data[0..len) from the client (unmasking it in place). */
static int process(struct relay_conn *c, struct fwd_ctx *f, uint8_t *data, size_t len)
{
	uint64_t max = c->th->srv->o.max_message;
	int r;
	c->bytes_in += len;
	while (len) {
		if (!c->in_frame) {
			struct relay_ws_hdr h;
			int hl;
			if (c->hlen == 0) {
				hl = relay_ws_frame_parse_header(&h, RELAY_WS_ROLE_SERVER, max, data, len);
				if (hl == RELAY_WS_INCOMPLETE) {
					memcpy(c->hbuf, data, len);
					c->hlen = (uint8_t)len;
					return FWD_OK;
				}
				if (hl < 0)
					goto bad;
				data += hl;
				len -= (size_t)hl;
			} else {
				size_t take = sizeof c->hbuf - c->hlen;
				if (take > len)
					take = len;
				memcpy(c->hbuf + c->hlen, data, take);
				hl = relay_ws_frame_parse_header(&h, RELAY_WS_ROLE_SERVER, max, c->hbuf, c->hlen + take);
				if (hl == RELAY_WS_INCOMPLETE) {
					c->hlen = (uint8_t)(c->hlen + take);
					return FWD_OK;
				}
				if (hl < 0)
					goto bad;
				size_t used = (size_t)hl - c->hlen;
				data += used;
				len -= used;
			}
			c->h = h;
			r = begin_frame(c, f);
			if (r)
				return r;
			continue;
		bad:
			if (hl == RELAY_WS_E_TOO_BIG)
				atomic_fetch_add(&c->th->srv->too_big, 1);
			fail(f, hl, relay_ws_strerror(hl));
			return FWD_CLOSE;
		}
		size_t n = c->left < len ? (size_t)c->left : len;
		relay_ws_unmask(data, n, c->h.mask_key, c->off);
		if (c->h.opcode >= RELAY_WS_OP_CLOSE) {
			memcpy(c->ctl + c->ctl_len, data, n);
			c->ctl_len = (uint8_t)(c->ctl_len + n);
		} else {
			if (c->text_msg && relay_utf8_feed(&c->u8, data, n) != RELAY_UTF8_OK) {
				retract_frame(c, f);
				fail(f, RELAY_WS_E_INVALID_UTF8, "invalid UTF-8 in text message");
				return FWD_CLOSE;
			}
			if (f->num_iov >= FWD_MAX_IOV && (r = fctx_flush(c, f)))
				return r;
			f->iov[f->num_iov].iov_base = data;
			f->iov[f->num_iov++].iov_len = n;
			f->payload += n;
			f->frame_payload += n;
		}
		c->off += n;
		c->left -= n;
		data += n;
		len -= n;
		if (c->left == 0 && (r = end_frame(c, f)))
			return r;
	}
	return FWD_OK;
}

/* How a connection's forwarding ended, for relay_session_run's goodbye. */
struct fwd_end {
	uint16_t close_code;            /* code for our own client when failing */
	const char *close_reason;
	uint16_t client_close;          /* the code the client closed with */
};

/* Feeds one buffer (released here) through the decoder, and with it the
 * buffers that are already queued behind it (up to FWD_BATCH in all: a busy connection then
 * forwards several buffers per sendmsg, one operation and one completion
 * instead of one each), forwards them, answers a ping. The 1.7 KiB of
 * forwarding state lives in this frame only, not in relay_session_run's:
 * an idle connection waits with a shallow stack (hibernation copies it). */
static __attribute__((noinline)) int consume(struct relay_conn *c, struct net_chunk *first, struct fwd_end *end)
{
	struct fwd_ctx fc, *f = &fc;
	struct net_chunk more[FWD_BATCH - 1];
	int num_more = 0;
	f->num_iov = f->num_hdr = 0;
	f->payload = 0;
	f->frame_iov = -1;
	f->frame_payload = 0;
	f->pong_due = false;
	f->close_code = 0;
	f->close_reason = NULL;
	f->client_close = 0;
	f->stuck = NULL;
	f->spill = NULL;
	f->spill_len = f->spill_cap = 0;
	int r = process(c, f, first->data, first->len);
	while (r == FWD_OK && num_more < FWD_BATCH - 1 && net_stream_recv_queued(c->st)) {
		struct net_chunk *m = &more[num_more];
		if (net_stream_recv(c->st, m, 0) <= 0)
			break; /* cannot happen when queued; the loop sees it next */
		num_more++;
		r = process(c, f, m->data, m->len);
	}
	/* Forward what was decoded even when the client then failed. */
	int fr = fctx_flush(c, f);
	if (r == FWD_OK)
		r = fr;
	net_stream_release(c->st, first);
	for (int i = 0; i < num_more; i++)
		net_stream_release(c->st, &more[i]);
	if (f->stuck) {
		int sr = finish_stuck(c, f);
		if (r == FWD_OK)
			r = sr;
	}
	if (f->pong_due && r == FWD_OK)
		send_own_frame(c, RELAY_WS_OP_PONG, f->ping, f->ping_len, (int)c->th->srv->o.write_ms);
	end->close_code = f->close_code;
	end->close_reason = f->close_reason;
	end->client_close = f->client_close;
	return r;
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
		hold_free(srv, h, cap);
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

static void conn_end(struct relay_conn *c, uint16_t own_code, const char *own_reason, uint16_t peer_code)
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
	if (p || (c == &s->conn[0] && s->conn[1].active && !s->conn[1].ended)) {
		struct relay_conn *q = p ? p : &s->conn[1];
		q->peer_gone = true;
		q->peer_code = peer_code;
		net_stream_interrupt(q->st);
	}
	if (own_code && send_close(c, own_code, own_reason) == 0) {
		/* Let the client answer our Close, then close TCP ourselves. */
		net_stream_shutdown(c->st);
		uint64_t deadline = core_deadline_ns(LINGER_MS);
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

	if (c->prev_all)
		c->prev_all->next_all = c->next_all;
	else
		th->conns = c->next_all;
	if (c->next_all)
		c->next_all->prev_all = c->prev_all;
	atomic_fetch_sub(&srv->connections, 1);
	relay_ip_release_key(srv, c->ip);
	if (--s->live == 0) {
		if (srv->o.log_sessions) {
			uint64_t ms = (core_now_ns() - s->started_ns) / 1000000u;
			core_log(CORE_LOG_INFO, "session %s end: %s, %llu ms, in %llu+%llu bytes, %llu+%llu messages", s->id,
				 s->paired ? "paired" : "never paired", (unsigned long long)ms,
				 (unsigned long long)s->conn[0].bytes_in, (unsigned long long)s->conn[1].bytes_in,
				 (unsigned long long)s->conn[0].msgs_in, (unsigned long long)s->conn[1].msgs_in);
		}
		hold_free(srv, s->hold, s->hold_cap);
		free(s);
	}
}

/* ---- the connection coroutine ---- */

void relay_session_run(struct relay_conn *c)
{
	struct relay_server *srv = c->th->srv;
	struct fwd_end f = {0};
	uint16_t own = 0, peer = RELAY_WS_CLOSE_GOING_AWAY;
	const char *why = NULL;
	int r = FWD_OK;

	c->last_rx_ns = core_now_ns();
	if (!c->sess->last_msg_ns)
		c->sess->last_msg_ns = c->last_rx_ns;
	for (;;) {
		if (c->th->stopping) {
			own = RELAY_WS_CLOSE_GOING_AWAY;
			why = "relay shutting down";
			goto out;
		}
		if (c->peer_gone) {
			/* A peer that failed mid-frame left our client's stream
			 * inside a frame: no Close can follow, only the TCP close. */
			own = c->peer_broken ? 0 : c->peer_code ? c->peer_code : RELAY_WS_CLOSE_GOING_AWAY;
			why = "peer disconnected";
			peer = 0;
			goto out;
		}
		/* Held bytes over the limit: stop reading until the peer comes
		 * (TCP back-pressure on the sender meanwhile). The receive stops
		 * and what it had queued moves out of the ring, so waiting
		 * clients, however many, hold no ring buffer that paired
		 * sessions and handshakes need; the socket is still watched, so
		 * a client that leaves meanwhile is closed at once. */
		if (!c->peer && hold_full(c)) {
			if (net_stream_recv_pause(c->st) != 0) {
				own = RELAY_WS_CLOSE_GOING_AWAY;
				why = "out of memory";
				goto out;
			}
			if (c->peer || c->peer_gone || c->th->stopping)
				continue;
			c->parked = true;
			int pr = net_stream_wait_hangup(c->st, (int)srv->o.ping_ms);
			c->parked = false;
			if (pr == -EPIPE) {
				own = 0; /* the client left: nobody to tell */
				goto out;
			}
			if (pr == -ETIMEDOUT && core_now_ns() - c->sess->last_msg_ns >= (uint64_t)srv->o.idle_ms * 1000000u) {
				own = RELAY_WS_CLOSE_NORMAL;
				why = "idle timeout";
				goto out;
			}
			continue;
		}
		/* Wait until the session goes idle or the keepalive is due,
		 * whichever comes first. */
		uint64_t now = core_now_ns();
		uint64_t idle_at = c->sess->last_msg_ns + (uint64_t)srv->o.idle_ms * 1000000u;
		uint64_t ka_at = (c->ping_outstanding ? c->ping_sent_ns : c->last_rx_ns) + (uint64_t)srv->o.ping_ms * 1000000u;
		uint64_t at = idle_at < ka_at ? idle_at : ka_at;
		/* An idle connection's memory is mostly its stack: after a second
		 * without traffic, wait without one. The wait is a multishot
		 * receive (on TLS streams too: the records are read outside
		 * BoringSSL and no lock is held), safe to hibernate in
		 * (core/reactor.h): the live stack goes to the heap and every
		 * stack page back to the kernel until data, a timer or a close
		 * wakes it. One copy and one madvise per idle spell, never on the
		 * busy path. */
		uint64_t quiet_at = c->last_rx_ns + (uint64_t)srv->o.hibernate_ms * 1000000u;
		bool quiet = now >= quiet_at;
		if (!quiet && at > quiet_at)
			at = quiet_at; /* wake once when it turns quiet, then hibernate */
		if (quiet)
			core_task_hibernate_next_wait(true);
		struct net_chunk b;
		int n = net_stream_recv(c->st, &b, core_deadline_left_ms(at));
		if (quiet)
			core_task_hibernate_next_wait(false);
		now = core_now_ns();
		if (n == -ETIMEDOUT) {
			if (now >= c->sess->last_msg_ns + (uint64_t)srv->o.idle_ms * 1000000u) {
				own = RELAY_WS_CLOSE_NORMAL;
				why = "idle timeout";
				goto out;
			}
			if (now >= ka_at) {
				if (c->ping_outstanding) {
					/* Nothing at all, not even a pong, for a whole interval. */
					atomic_fetch_add(&srv->keepalive_timeouts, 1);
					own = 0;
					goto out;
				}
				c->ping_outstanding = true;
				c->ping_sent_ns = now;
				send_own_frame(c, RELAY_WS_OP_PING, NULL, 0, (int)srv->o.write_ms);
			}
			continue;
		}
		if (n == -ECANCELED)
			continue; /* woken: the loop head says why */
		if (n <= 0) {
			own = 0; /* EOF or reset without a Close: nobody to tell */
			goto out;
		}
		c->last_rx_ns = now;
		c->ping_outstanding = false;
		r = consume(c, &b, &f); /* releases b */
		if (r)
			goto ended;
	}
ended:
	if (r == FWD_PEER_GONE) {
		own = c->peer_code ? c->peer_code : RELAY_WS_CLOSE_GOING_AWAY;
		why = "peer disconnected";
		peer = 0;
	} else if (f.close_code) {
		atomic_fetch_add(&srv->protocol_errors, f.close_code == RELAY_WS_CLOSE_PROTOCOL_ERROR ||
								f.close_code == RELAY_WS_CLOSE_INVALID_DATA);
		own = f.close_code;
		why = f.close_reason;
		char ip[46];
		core_log_limited(&relay_log_protocol, CORE_LOG_INFO, "relay: session %s: client %s: %s (Close %u)",
				 c->sess->id, relay_addr_key_str(c->ip, ip), why ? why : "", own);
	} else {
		/* The client closed: echo its code, and tell the peer the same. */
		uint16_t code = f.client_close;
		own = code == RELAY_WS_CLOSE_NO_STATUS ? RELAY_WS_CLOSE_NORMAL : code;
		peer = relay_ws_close_code_valid(code) ? code : RELAY_WS_CLOSE_NORMAL;
		why = NULL;
	}
out:
	conn_end(c, own, why, peer);
}

struct relay_conn *relay_session_join(struct relay_thread *th, struct net_stream *st, const char *id, size_t id_len,
				      const char *accept, const struct sockaddr_storage *addr)
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
		char ip[46];
		uint8_t key[16];
		relay_addr_key(addr, key);
		core_log_limited(&relay_log_refused, CORE_LOG_INFO, "relay: refused %s: 409 Conflict (session %.*s is full)",
				 relay_addr_key_str(key, ip), (int)id_len, id);
		static const char body[] = "session full: it already has two clients\n";
		struct relay_http_response rr = {.status = 409, .content_type = "text/plain",
						 .body = (const uint8_t *)body, .body_len = sizeof body - 1};
		n = relay_http_response_build(resp, sizeof resp, &rr);
		goto refuse;
	}
	bool created = false;
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
		created = true;
	}
	struct relay_conn *c = sess->conn[0].active ? &sess->conn[1] : &sess->conn[0];
	memset(c, 0, sizeof *c);
	c->active = true;
	c->st = st;
	c->sess = sess;
	c->th = th;
	c->co = core_coro_current();
	relay_addr_key(addr, c->ip);
	relay_ws_msg_init(&c->ms, srv->o.max_message);
	c->next_all = th->conns;
	if (th->conns)
		th->conns->prev_all = c;
	th->conns = c;
	sess->live++;
	n = relay_http_upgrade_response_build(resp, sizeof resp, accept);
	if (net_stream_send(st, resp, (size_t)n, (int)srv->o.write_ms) != 0) {
		conn_end(c, 0, NULL, RELAY_WS_CLOSE_GOING_AWAY);
		return NULL;
	}
	if (created) {
		if (srv->o.log_sessions) {
			char ip[INET6_ADDRSTRLEN] = "?";
			if (addr->ss_family == AF_INET)
				inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, ip, sizeof ip);
			else if (addr->ss_family == AF_INET6)
				inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, ip, sizeof ip);
			core_log(CORE_LOG_INFO, "session %s start: first client %s waiting", sess->id, ip);
		}
	} else {
		int pr = pair(sess);
		if (pr == 0) {
			sess->paired = true;
			atomic_fetch_sub(&srv->waiting, 1);
			atomic_fetch_add(&srv->active, 1);
			atomic_fetch_add(&srv->total_sessions, 1);
			if (srv->o.log_sessions)
				core_log(CORE_LOG_INFO, "session %s paired", sess->id);
		}
	}
	return c;

refuse_503:
	{
		static const char body[] = "relay busy or shutting down\n";
		struct relay_http_response rr = {.status = 503, .content_type = "text/plain",
						 .body = (const uint8_t *)body, .body_len = sizeof body - 1};
		atomic_fetch_add(&srv->rejected_limit, 1);
		char ip[46];
		uint8_t key[16];
		relay_addr_key(addr, key);
		core_log_limited(&relay_log_refused, CORE_LOG_INFO, "relay: refused %s: 503 Service Unavailable (%s)",
				 relay_addr_key_str(key, ip), th->stopping ? "shutting down" : "--max-sessions reached");
		n = relay_http_response_build(resp, sizeof resp, &rr);
	}
refuse:
	if (n > 0)
		net_stream_send(st, resp, (size_t)n, 1000);
	net_stream_close(st);
	atomic_fetch_sub(&srv->connections, 1);
	relay_ip_release(srv, addr);
	return NULL;
}

void relay_thread_stop_conns(struct relay_thread *th)
{
	for (struct relay_conn *c = th->conns; c; c = c->next_all) {
		if (c->st)
			net_stream_interrupt(c->st);
	}
}
