/* Frame-for-frame forwarding. Per received buffer a connection decodes
 * frame headers, unmasks payload bytes in place, and sends [new header]
 * [payload piece]... to its peer in one sendmsg straight from the receive
 * buffer: the unmasking pass is the only touch of the payload. Control
 * frames are the relay's own business per hop (ping answered, pong noted,
 * close ends the session) and are not forwarded; text and binary frames
 * are, with their FIN bit and opcode, so message boundaries and
 * fragmentation arrive unchanged. Before the peer comes, frames are held
 * (bounded); a peer that does not read gets what is left of a batch from
 * the heap, not the ring. */
#include "relay/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/uio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/grow.h"
#include "core/log.h"
#include "relay/http.h"

/* ---- writes ---- */

/* Sends one small frame the relay originates (pong, close, the paired
 * notice) to c's own client, under c's write lock. */
__attribute__((noinline)) int relay_conn_send_frame(struct relay_conn *c, uint8_t opcode, const void *payload, size_t len, int timeout_ms)
{
	uint8_t frame[RELAY_WS_MAX_HEADER_LEN + 256];
	int n = relay_ws_frame_build(frame, sizeof frame, true, opcode, payload, len, NULL);
	if (n < 0)
		return -EINVAL;
	return net_stream_send(c->st, frame, (size_t)n, timeout_ms);
}

int relay_conn_send_close(struct relay_conn *c, uint16_t code, const char *reason)
{
	uint8_t p[RELAY_WS_MAX_CONTROL_PAYLOAD];
	int n = relay_ws_close_build(p, sizeof p, code, reason, reason ? strlen(reason) : 0);
	if (n < 0)
		n = relay_ws_close_build(p, sizeof p, RELAY_WS_CLOSE_NORMAL, NULL, 0);
	return relay_conn_send_frame(c, RELAY_WS_OP_CLOSE, p, (size_t)n, RELAY_GOODBYE_MS);
}

/* Held bytes count against the per-session --hold and, by their allocated
 * size, against --hold-total over all sessions of the process. */
void relay_hold_free(struct relay_server *srv, uint8_t *hold, size_t cap)
{
	if (cap)
		atomic_fetch_sub(&srv->held, cap);
	free(hold);
}

/* Whether c must stop reading until its peer comes: its session's hold is
 * full, or all sessions' holds together are. */
bool relay_hold_full(const struct relay_conn *c)
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
		/* Doubling, but not past --hold (the last append before the
		 * client is paused may overshoot it by one batch, not double
		 * it), nor past what --hold-total has left: near it, grow by
		 * what this batch needs (each waiting client may then overshoot
		 * the total by one batch, not by a doubling). */
		uint64_t held = atomic_load(&srv->held);
		uint64_t left = held < srv->o.hold_total ? srv->o.hold_total - held : 0;
		size_t max = srv->o.hold_bytes;
		if (max > s->hold_cap && max - s->hold_cap > left)
			max = s->hold_cap + (size_t)left;
		size_t was = s->hold_cap;
		if (core_grow(&s->hold, &s->hold_cap, s->hold_len + need, RELAY_HOLD_MIN, max) < 0)
			return -ENOMEM;
		atomic_fetch_add(&srv->held, s->hold_cap - was);
	}
	for (int i = 0; i < n; i++) {
		memcpy(s->hold + s->hold_len, iov[i].iov_base, iov[i].iov_len);
		s->hold_len += iov[i].iov_len;
	}
	return 0;
}

/* ---- decoding and forwarding ---- */

struct fwd_ctx {
	struct iovec iov[RELAY_FWD_MAX_IOV];
	uint8_t hdr[RELAY_FWD_MAX_IOV / 2][RELAY_WS_MAX_HEADER_LEN];
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
	uint64_t t0;                    /* the reactor pass that reaped the first buffer */
};

/* Forward latency, for /metrics: from the reactor pass that reaped the
 * batch's first receive completion to the last byte of it handed to the
 * peer's socket. One observation per batch forwarded to a present peer;
 * held bytes (no peer yet) count in the pairing wait instead. The end is
 * read from the clock, not the pass's cached time: a send that completes
 * at once would otherwise count 0. */
static void observe_forward(struct relay_conn *c, const struct fwd_ctx *f)
{
#ifndef RELAY_HIST_OFF /* builds for measuring the histograms' own cost */
	uint64_t now = core_clock_ns();
	relay_hist_observe(&c->th->fwd_hist, &relay_hist_forward_bounds, now > f->t0 ? now - f->t0 : 0);
#else
	(void)c;
	(void)f;
#endif
}

/* Appends iov[0..n), minus its first skip bytes, to f->spill. */
static int spill_append(struct fwd_ctx *f, const struct iovec *iov, int n, size_t skip)
{
	size_t need = 0;
	for (int i = 0; i < n; i++)
		need += iov[i].iov_len;
	need -= skip;
	if (!need)
		return 0; /* e.g. a TLS peer: the engine took it all, ciphertext waits */
	if (core_grow(&f->spill, &f->spill_cap, f->spill_len + need, 0, 0) < 0)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		size_t len = iov[i].iov_len, off = skip < len ? skip : len;
		skip -= off;
		if (len == off)
			continue;
		memcpy(f->spill + f->spill_len, (const uint8_t *)iov[i].iov_base + off, len - off);
		f->spill_len += len - off;
	}
	return 0;
}

/* Sends the gathered frames to the peer, or holds them while there is none.
 * Waits for the peer at most RELAY_FWD_GRACE_MS: what its socket does not take by
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
	int r = net_stream_sendv_try_locked(p->st, iov, n, RELAY_FWD_GRACE_MS, &done);
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
		observe_forward(c, f);
	}
	atomic_fetch_add_explicit(&c->th->bytes, f->payload, memory_order_relaxed);
	return FWD_OK;
}

/* The peer could not take everything: every receive buffer of this batch
 * is back in the ring by now. Stop receiving our own client as well (what
 * it had queued moves to the heap), so a connection waiting for a reader
 * that does not read holds no ring buffer at all; then wait for the peer,
 * within --write-timeout. */
/* Lets go of the stuck peer: its write lock, the spill. broken: the
 * peer's client may be left inside a frame, where no Close can follow. */
static void release_stuck(struct fwd_ctx *f, bool broken)
{
	if (broken)
		f->stuck->peer_broken = true;
	net_stream_unlock_write(f->stuck->st);
	free(f->spill);
	f->spill = NULL;
	f->spill_len = f->spill_cap = 0;
	f->stuck = NULL;
}

static int finish_stuck(struct relay_conn *c, struct fwd_ctx *f)
{
	struct relay_server *srv = c->th->srv;
	struct net_stream *ps = f->stuck->st;
	int r = net_stream_recv_pause(c->st);
	/* What this wait keeps out of the ring counts against --stuck-total
	 * (a multishot may have taken 32 buffers before its pause landed):
	 * past it, the session ends instead of waiting, so strangers' stalled
	 * pairs cannot make the relay keep their bytes without bound. */
	uint64_t kept = f->spill_len + net_stream_kept_bytes(c->st);
	if (atomic_fetch_add(&srv->stuck_bytes, kept) + kept > srv->o.stuck_total) {
		atomic_fetch_sub(&srv->stuck_bytes, kept);
		release_stuck(f, true); /* part of a frame may have gone */
		atomic_fetch_add(&srv->stuck_shed, 1);
		f->close_code = RELAY_WS_CLOSE_TRY_AGAIN_LATER;
		f->close_reason = RELAY_REASON_STUCK;
		return FWD_CLOSE;
	}
	int w = net_stream_flush_locked(ps, core_deadline_left_ms(f->deadline));
	if (w == 0 && f->spill_len) {
		struct iovec v = {.iov_base = f->spill, .iov_len = f->spill_len};
		w = net_stream_sendv_locked(ps, &v, 1, core_deadline_left_ms(f->deadline));
	}
	if (w == 0)
		observe_forward(c, f);
	/* Part of the batch went out before the wait failed. */
	release_stuck(f, w < 0);
	atomic_fetch_sub(&srv->stuck_bytes, kept);
	if (w < 0)
		return FWD_PEER_GONE;
	if (r < 0) {
		/* What the client had queued may be lost: end it honestly. */
		f->close_code = RELAY_WS_CLOSE_INTERNAL_ERROR;
		f->close_reason = RELAY_REASON_NO_MEMORY;
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
	if (f->num_iov + 2 > RELAY_FWD_MAX_IOV || f->num_hdr >= RELAY_FWD_MAX_IOV / 2)
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
	if (c->hdr_held) {
		c->hdr_held = false; /* nothing of it was queued */
	} else if (f->frame_iov >= 0) {
		f->num_iov = f->frame_iov;
		f->payload -= f->frame_payload;
		f->frame_iov = -1;
		f->frame_payload = 0;
	} else if (c->peer) {
		c->peer->peer_broken = true;
	}
}

void relay_conn_ctl_free(struct relay_conn *c)
{
	if (c->in_frame && c->h.opcode >= RELAY_WS_OP_CLOSE)
		return; /* its payload is still coming */
	free(c->ctl);
	c->ctl = NULL;
	c->ctl_len = 0;
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

/* Queues the header of the data frame c->h: same FIN, opcode and length, no
 * mask, the frame as the peer should see it. */
static int queue_header(struct relay_conn *c, struct fwd_ctx *f)
{
	int r = fctx_room(c, f);
	if (r)
		return r;
	uint8_t *h = f->hdr[f->num_hdr++];
	int hl = relay_ws_frame_build_header(h, c->h.fin, c->h.opcode, c->h.payload_len, NULL);
	f->frame_iov = f->num_iov;
	f->frame_payload = 0;
	f->iov[f->num_iov].iov_base = h;
	f->iov[f->num_iov++].iov_len = (size_t)hl;
	c->hdr_held = false;
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
		/* Once per idle spell at most: relay_conn_ctl_free runs only
		 * when the connection goes quiet. */
		if (!c->ctl && !(c->ctl = malloc(RELAY_WS_MAX_CONTROL_PAYLOAD))) {
			f->close_code = RELAY_WS_CLOSE_INTERNAL_ERROR;
			f->close_reason = RELAY_REASON_NO_MEMORY;
			return FWD_CLOSE;
		}
	} else {
		if (c->h.opcode != RELAY_WS_OP_CONTINUATION) {
			c->text_msg = (op == RELAY_WS_OP_TEXT);
			if (c->text_msg)
				relay_utf8_init(&c->u8);
		}
		if (c->left == 0) {
			int r = queue_header(c, f);
			if (r)
				return r;
		} else {
			/* It goes out with the first piece of its payload
			 * (process): a client that writes the header on its own
			 * would otherwise cost the peer a TCP segment for it. */
			c->hdr_held = true;
		}
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
			if (c->hdr_held && (r = queue_header(c, f)))
				return r;
			if (f->num_iov >= RELAY_FWD_MAX_IOV && (r = fctx_flush(c, f)))
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


/* Feeds one buffer (released here) through the decoder, and with it the
 * buffers that are already queued behind it (up to RELAY_FWD_BATCH in all: a busy connection then
 * forwards several buffers per sendmsg, one operation and one completion
 * instead of one each), forwards them, answers a ping. The 1.7 KiB of
 * forwarding state lives in this frame only, not in relay_conn_run's:
 * an idle connection waits with a shallow stack (hibernation copies it). */
__attribute__((noinline)) int relay_forward(struct relay_conn *c, struct net_chunk *first, struct fwd_end *end)
{
	struct fwd_ctx fc, *f = &fc;
	struct net_chunk more[RELAY_FWD_BATCH - 1];
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
	f->t0 = core_now_ns();
	int r = process(c, f, first->data, first->len);
	while (r == FWD_OK && num_more < RELAY_FWD_BATCH - 1 && net_stream_recv_queued(c->st)) {
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
		relay_conn_send_frame(c, RELAY_WS_OP_PONG, f->ping, f->ping_len, (int)c->th->srv->o.write_ms);
	end->close_code = f->close_code;
	end->close_reason = f->close_reason;
	end->client_close = f->client_close;
	return r;
}

