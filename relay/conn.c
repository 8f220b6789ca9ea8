/* A connection's coroutine once upgraded: receive, forward, keepalive,
 * idle timeout, hibernation when quiet, and the wait of a client whose
 * hold is full. */
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

/* ---- the connection coroutine ---- */

/* Out of line: its address buffer would sit in relay_conn_run's frame,
 * which every idle connection's hibernated stack copy carries. */
__attribute__((noinline, cold)) static void log_protocol(const struct relay_conn *c, const char *why, uint16_t code)
{
	char ip[46];
	core_log_limited(&relay_log_protocol, CORE_LOG_INFO, "relay: session %s: client %s: %s (Close %u)",
			 c->sess->id, relay_addr_key_str(c->ip, ip), why ? why : "", code);
}

/* Hibernation backs off per connection. A connection whose messages come
 * just past its threshold would pay a hibernate-and-return (a stack copy
 * each way, an madvise and a page fault: about 35 us of relay CPU) for
 * every one of them (docs/PERFORMANCE.md, the 5,000 x 1/s row). So when a
 * message wakes a connection less than its threshold after it hibernated
 * (gap < 2x threshold), its threshold doubles, up to 8x --hibernate-after;
 * when the gap was a long quiet (>= 4x threshold), it is back to
 * --hibernate-after. Between the two it stays. A connection that never
 * sees such gaps (idle ones, busy ones) keeps --hibernate-after. */
#define RELAY_HIB_SHIFT_MAX 3

/* Called on a message that ended a hibernating wait only: not on the busy
 * path, where the only cost is the test of quiet. gap: since the last
 * message; thr: the threshold the wait was under. */
__attribute__((noinline)) static void hib_backoff(struct relay_conn *c, uint64_t gap, uint64_t thr)
{
	if (gap < 2 * thr) {
		if (c->hib_shift < RELAY_HIB_SHIFT_MAX)
			c->hib_shift++;
	} else if (gap >= 4 * thr) {
		c->hib_shift = 0;
	}
}

/* conn_serve's woke when it was not called back from the idle wait. */
#define WOKE_NONE 1

/* conn_serve forwards c's traffic until the connection ends (0: torn down)
 * or goes quiet (1: *wake_at is when it must look again). The caller then
 * waits for readability itself, with this frame and its buffers gone, and
 * calls back with what the wait returned (woke: 0 readable, -ETIMEDOUT,
 * -ECANCELED, -EPIPE), handled as the receive's result would have been. */
static __attribute__((noinline)) int conn_serve(struct relay_conn *c, int woke, uint64_t *wake_at)
{
	struct relay_server *srv = c->th->srv;
	struct fwd_end f = {0};
	uint16_t own = 0, peer = RELAY_WS_CLOSE_GOING_AWAY;
	const char *why = NULL;
	int r = FWD_OK;
	/* Under a rate limit: a large chunk fed back after a pause (what the
	 * receive took before the pause landed, up to the socket's whole
	 * buffer), forwarded a slice at a time so the limit holds within it. */
	struct net_chunk big = {.lease = {.gid = CORE_BUF_NONE}};
	size_t big_off = 0;

	for (;;) {
		if (c->th->stopping) {
			own = RELAY_WS_CLOSE_GOING_AWAY;
			why = RELAY_REASON_SHUTDOWN;
			goto out;
		}
		if (c->peer_gone) {
			/* A peer that failed mid-frame left our client's stream
			 * inside a frame: no Close can follow, only the TCP close. */
			own = c->peer_broken ? 0 : c->peer_code ? c->peer_code : RELAY_WS_CLOSE_GOING_AWAY;
			why = RELAY_REASON_PEER_GONE;
			peer = 0;
			goto out;
		}
		/* Held bytes over the limit: stop reading until the peer comes
		 * (TCP back-pressure on the sender meanwhile). The receive stops
		 * and what it had queued moves out of the ring, so waiting
		 * clients, however many, hold no ring buffer that paired
		 * sessions and handshakes need; the socket is still watched, so
		 * a client that leaves meanwhile is closed at once. */
		if (!c->peer && relay_hold_full(c)) {
			if (net_stream_recv_pause(c->st) != 0) {
				own = RELAY_WS_CLOSE_GOING_AWAY;
				why = RELAY_REASON_NO_MEMORY;
				goto out;
			}
			if (c->peer || c->peer_gone || c->th->stopping)
				continue;
			c->parked = true;
			int pr = net_stream_wait_hangup(c->st, RELAY_PARK_PROBE_MS);
			c->parked = false;
			if (pr == -EPIPE) {
				own = 0; /* the client left: nobody to tell */
				goto out;
			}
			if (pr != -ETIMEDOUT || c->peer || c->peer_gone || c->th->stopping)
				continue;
			if (core_now_ns() - c->sess->last_msg_ns >= (uint64_t)srv->o.idle_ms * 1000000u) {
				own = RELAY_WS_CLOSE_NORMAL;
				why = RELAY_REASON_IDLE;
				goto out;
			}
			/* The hang-up of a client that left may never come: its FIN
			 * waits in its kernel behind the data our full receive window
			 * refuses (a process that exits mid-write). Data sent to a
			 * socket its owner closed is answered with a reset (RFC 1122
			 * 4.2.2.13), which the wait above sees at once; a client still
			 * there takes the ping (its pong waits unread with the rest).
			 * Two bytes a second per parked client; the send has a short
			 * bound, and failing it means the client took nothing for
			 * RELAY_PARK_PROBE_SEND_MS with our send buffer full of our
			 * pings alone: gone or stuck, either way not worth waiting for. */
			if (relay_conn_send_frame(c, RELAY_WS_OP_PING, NULL, 0, RELAY_PARK_PROBE_SEND_MS) < 0) {
				own = 0;
				goto out;
			}
			continue;
		}
		/* Over a rate limit: not read until the buckets refill (TCP
		 * holds the sender meanwhile; nothing is dropped). Without
		 * limits this is the only cost: one test. */
		if (srv->q.on) {
			uint64_t w = relay_quota_wait_ns(c, core_now_ns());
			if (w) {
				int tr = relay_quota_throttle(c, w, big.len - big_off);
				if (tr == -EPIPE) {
					own = 0; /* the client left */
					goto out;
				}
				if (tr < 0) {
					own = RELAY_WS_CLOSE_GOING_AWAY;
					why = RELAY_REASON_NO_MEMORY;
					goto out;
				}
				continue;
			}
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
		 * busy path. The copy is smallest from relay_conn_run, waiting
		 * for readability alone: this frame returns first (nothing in it
		 * is live between receives but a fed-back chunk under a rate
		 * limit, which waits here). A wss:// record that comes in parts
		 * is then awaited in net_stream_recv, hibernating as before. */
		uint64_t thr = (uint64_t)srv->o.hibernate_ms * 1000000u << c->hib_shift;
		uint64_t quiet_at = c->last_rx_ns + thr;
		bool quiet = now >= quiet_at;
		if (!quiet && at > quiet_at)
			at = quiet_at; /* wake once when it turns quiet, then hibernate */
		if (quiet && woke == WOKE_NONE) {
			/* On wss://, the TLS buffers go too (net_stream_trim):
			 * the last chunk was released by relay_forward, and the
			 * receive takes its buffer back only when bytes come. */
			if (!big.data)
				net_stream_trim(c->st);
			relay_conn_ctl_free(c);
			if (!big.data) {
				*wake_at = at;
				return 1;
			}
		}
		if (quiet)
			core_task_hibernate_next_wait(true);
		struct net_chunk b;
		int n;
		if (woke != WOKE_NONE && woke != 0) {
			n = woke; /* the idle wait's timeout, wake-up or error */
			woke = WOKE_NONE;
		} else if (big.data) {
			/* A view: releasing it frees nothing; big goes once used. */
			size_t take = big.len - big_off < RELAY_QUOTA_SLICE ? big.len - big_off : RELAY_QUOTA_SLICE;
			b = (struct net_chunk){.data = big.data + big_off, .len = take, .lease = {.gid = CORE_BUF_NONE}};
			big_off += take;
			n = (int)take;
		} else {
			woke = WOKE_NONE;
			n = net_stream_recv(c->st, &b, core_deadline_left_ms(at));
			/* A fed-back chunk (heap, not a ring lease) larger than a
			 * slice: nothing is queued behind it until the next receive
			 * re-arms the socket (the pause stopped it), so its slices
			 * go out in order. */
			if (srv->q.on && n > RELAY_QUOTA_SLICE && b.lease.gid == CORE_BUF_NONE && b.lease.data) {
				big = b;
				big_off = RELAY_QUOTA_SLICE;
				b.lease.data = NULL;
				b.len = RELAY_QUOTA_SLICE;
				n = RELAY_QUOTA_SLICE;
			}
		}
		if (quiet)
			core_task_hibernate_next_wait(false);
		now = core_now_ns();
		if (n == -ETIMEDOUT) {
			if (now >= c->sess->last_msg_ns + (uint64_t)srv->o.idle_ms * 1000000u) {
				own = RELAY_WS_CLOSE_NORMAL;
				why = RELAY_REASON_IDLE;
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
				relay_conn_send_frame(c, RELAY_WS_OP_PING, NULL, 0, (int)srv->o.write_ms);
			}
			continue;
		}
		if (n == -ECANCELED)
			continue; /* woken: the loop head says why */
		if (n <= 0) {
			own = 0; /* EOF or reset without a Close: nobody to tell */
			goto out;
		}
		if (quiet)
			hib_backoff(c, now - c->last_rx_ns, thr);
		c->last_rx_ns = now;
		c->ping_outstanding = false;
		uint64_t in_was = c->bytes_in;
		r = relay_forward(c, &b, &f); /* releases b */
		if (srv->q.on) {
			relay_quota_charge(c, c->bytes_in - in_was);
			if (big.data && big_off == big.len) {
				net_stream_release(c->st, &big);
				big_off = 0;
			}
		}
		if (r)
			goto ended;
	}
ended:
	if (r == FWD_PEER_GONE) {
		own = c->peer_code ? c->peer_code : RELAY_WS_CLOSE_GOING_AWAY;
		why = RELAY_REASON_PEER_GONE;
		peer = 0;
	} else if (f.close_code) {
		atomic_fetch_add(&srv->protocol_errors, f.close_code == RELAY_WS_CLOSE_PROTOCOL_ERROR ||
								f.close_code == RELAY_WS_CLOSE_INVALID_DATA);
		own = f.close_code;
		why = f.close_reason;
		log_protocol(c, why, own);
	} else {
		/* The client closed: echo its code, and tell the peer the same. */
		uint16_t code = f.client_close;
		own = code == RELAY_WS_CLOSE_NO_STATUS ? RELAY_WS_CLOSE_NORMAL : code;
		peer = relay_ws_close_code_valid(code) ? code : RELAY_WS_CLOSE_NORMAL;
		why = NULL;
	}
out:
	if (big.data)
		net_stream_release(c->st, &big);
	relay_conn_end(c, own, why, peer);
	return 0;
}

void relay_conn_run(struct relay_conn *c)
{
	uint64_t wake_at = 0;
	int woke = WOKE_NONE;

	c->last_rx_ns = core_now_ns();
	if (!c->sess->last_msg_ns)
		c->sess->last_msg_ns = c->last_rx_ns;
	while (conn_serve(c, woke, &wake_at)) {
		atomic_fetch_add_explicit(&c->th->srv->hibernations, 1, memory_order_relaxed);
		core_task_hibernate_next_wait(true);
		woke = net_stream_wait_readable(c->st, core_deadline_left_ms(wake_at));
		core_task_hibernate_next_wait(false);
	}
}

