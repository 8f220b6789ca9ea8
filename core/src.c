/* Multishot sources: a socket whose multishot accept/recv/recvmsg completions
 * queue up until the owning coroutine asks for them (see core/internal.h).
 *
 * Flow control: a source whose queue passes its high-water mark is paused by
 * cancelling the multishot; the owner re-arms it when it drains the queue. A
 * source ended by -ENOBUFS (ring dry) waits on the group's stalled queue until
 * leases come back. In both cases TCP data waits in the socket buffer, so
 * nothing is lost and the sender is slowed by TCP itself.
 *
 * Sharing a ring. A multishot receive takes a buffer for every chunk its
 * socket holds, so a source with a deep backlog can take many free buffers
 * before its pause lands. The rules that keep a dry ring from becoming a
 * stall: the stalled queue is first come first served; each buffer that
 * comes back re-arms one stalled source (counted until its receive
 * reports), never all of them at once (one would win and the rest fail
 * with -ENOBUFS again); a source that still has data queued does not jump
 * that queue; a pause sends one cancel, not one per CQE over the mark. An
 * idle connection holds no buffer, and an owner that stops reading for
 * long gives its queue back (core_src_pause and core/sock.c's
 * core_sock_recv_pause): what it holds is then on the heap, not the ring.
 *
 * Shares under pressure (issue 13). While any source waits on the stalled
 * queue or a turn is in flight, the ring is shared in turns: a source may
 * queue at most max(1, ring / busy sources) buffers (counted in buffers,
 * not bytes) before its receive is paused (busy: holding buffers or
 * stalled), a source whose queue drains joins the back of the stalled
 * queue instead of re-arming ahead of it, a source re-armed from the queue
 * that found the ring emptied by another keeps its place at the front, and
 * a turn is one single-shot receive of one buffer: a multishot takes every
 * free buffer its socket has data for before a pause can land. A datagram
 * turn stays a multishot (its buffer layout needs one) and is paused on
 * its first buffer; what it takes in the kernel's first pass over its
 * queued datagrams is not bounded by that. Without these rules a turn at
 * 1,000 sources x 16 KiB was longer than a second. The cost is one receive
 * per buffer while the ring is dry (at 5,000 sources on 1,024 buffers,
 * about 40 % of the aggregate against multishot turns,
 * docs/PERFORMANCE.md); with room in the ring none of this applies and the
 * fast path is unchanged. A ring that may grow (stream_bufs_max) first
 * grows to what every busy source holds before it pauses (its high-water
 * mark plus the overshoot of a multishot, busy_target()); turns share it
 * only once that cap is reached.
 *
 * Capped receives (issue 13, 1,000 and 5,000 sources). A plain multishot
 * receive takes every buffer its socket has data for, up to 32 per pass of
 * the kernel, before its pause lands: with room in the ring a busy socket
 * was served in runs of up to 512 KiB while the others waited, and at
 * 5,000 busy sources each was served about once a second, so what each
 * delivered in two seconds depended on how many runs fell into them
 * (sessions got 0, 7 or 22 messages; Jain's index 0.4-0.95). A stream
 * multishot is therefore a bundle receive capped at one buffer, which the
 * kernel then sends to the back of its queue: every ready socket gets one
 * buffer per pass in turn, as an epoll loop reading 16 KiB per ready
 * connection does. Caps only while many sources had data waiting (counted
 * from IORING_CQE_F_SOCK_NONEMPTY, with hysteresis) were tried and were
 * not fair at 5,000: a mix of plain and capped receives is less fair than
 * either. The cost: a pass of the kernel per buffer, 25-40 % more CPU per
 * message at 100 busy connections and up to 20 % at 1,000, where fairness
 * was met before (docs/PERFORMANCE.md, third round). A kernel without
 * capped receives (measured on 6.18; older ones refuse a length on a
 * multishot receive, or the bundle flag) refuses the first with -EINVAL;
 * the ring's receives stay plain from then on. core_rt_opts'
 * stream_recv_batched asks for plain ones from the start (the relay's
 * --reads batched).
 */
#include "core/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/log.h"

/* Not in liburing 2.3's headers (Debian 12): a receive that fills several
 * provided buffers and reports them in one CQE (Linux 6.10). */
#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE (1U << 4)
#endif

/* Per-connection queue bound: a connection that is not being read holds at
 * most this many bytes' worth of ring buffers (counted in whole buffers:
 * 4 of 16 KiB) before its receive is paused. Counted in buffers, not
 * bytes: a peer sending small segments would otherwise take one buffer
 * per segment, up to 64 KiB of them (the whole ring). */
#define SRC_RECV_HIGH_WATER (64u * 1024u)
/* UDP sockets serve many peers: let them queue more before pausing. */
#define SRC_RECVMSG_HIGH_WATER_BUFS 256u
/* What a busy source may hold beyond its high-water mark in buffers before
 * its pause lands: the buffer whose completion crosses the mark, and one
 * more its multishot fills before the cancel reaches it. */
#define SRC_BUFS_OVERSHOOT 2u

/* The high-water mark in buffers of size bytes: at least one, so a buffer
 * larger than the mark still pauses its source at one queued buffer (plus
 * the one that crossed it) rather than never. */
static uint32_t recv_high_water_bufs(unsigned size)
{
	uint32_t n = SRC_RECV_HIGH_WATER / size;
	return n ? n : 1;
}

/* A growable ring (core_rt_opts.stream_bufs_max) that runs dry grows to
 * this many buffers: what every busy source holds at most before its
 * receive pauses (6 of 16 KiB each), so that each can keep its queue full
 * without turns. Each source counts once (g->busy). */
static unsigned busy_target(const struct buf_group *g)
{
	return (recv_high_water_bufs(g->size) + SRC_BUFS_OVERSHOOT) * g->busy;
}

/* Sources that are busy: holding a buffer or stalled, or both. */
static bool is_busy(const struct src *s)
{
	return s->head >= 0 || s->stalled;
}

/* Keeps g->busy in step after s's queue or stalled state changed. */
static void busy_update(struct src *s, bool was_busy)
{
	bool now = is_busy(s);
	if (now && !was_busy)
		s->grp->busy++;
	else if (!now && was_busy)
		s->grp->busy--;
}

void core_src_init(struct src *s, struct core_reactor *r, uint8_t kind, int fd, struct buf_group *grp)
{
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->fd = fd;
	s->r = r;
	s->grp = grp;
	s->head = s->tail = -1;
	if (kind == SRC_RECV)
		s->high_water = recv_high_water_bufs(grp->size);
	else if (kind == SRC_RECVMSG)
		s->high_water = SRC_RECVMSG_HIGH_WATER_BUFS;
}

/* Arms s; a stream receive armed for its turn of a dry ring (once) takes
 * one buffer and ends, where a multishot would take every free buffer its
 * socket has data for before its pause could land. A stream multishot is
 * capped (see the header comment). */
static int arm(struct src *s, bool once)
{
	struct core_reactor *r = s->r;
	struct io_uring_sqe *sqe;

	if (s->armed || s->closing || s->eof || s->err)
		return 0;
	if (r->torn_down)
		return -ECANCELED;
	sqe = core_get_sqe(r);
	s->capped = false;
	switch (s->kind) {
	case SRC_RECV:
		if (once) {
			io_uring_prep_recv(sqe, s->fd, NULL, s->grp->size, 0);
		} else if (!s->grp->uncapped) {
			/* The length caps each pass at one buffer; a bundle
			 * that reaches its cap goes to the back of the
			 * kernel's queue (a plain multishot would only
			 * shorten its buffers). One buffer each: a bundle of
			 * one reports one buffer id per CQE, as a plain
			 * multishot does. */
			io_uring_prep_recv_multishot(sqe, s->fd, NULL, s->grp->size, 0);
			sqe->ioprio |= IORING_RECVSEND_BUNDLE;
			if (s->grp->refuse_capped_for_test)
				sqe->ioprio |= 1u << 15;
			s->capped = true;
		} else {
			io_uring_prep_recv_multishot(sqe, s->fd, NULL, 0, 0);
		}
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = s->grp->bgid;
		break;
	case SRC_RECVMSG:
		io_uring_prep_recvmsg_multishot(sqe, s->fd, s->mh, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = s->grp->bgid;
		break;
	case SRC_ACCEPT:
		io_uring_prep_multishot_accept(sqe, s->fd, NULL, NULL, SOCK_CLOEXEC);
		break;
	}
	io_uring_sqe_set_data64(sqe, ud_pack(s, UD_SRC));
	s->armed = true;
	s->started = true;
	return 0;
}

int core_src_arm(struct src *s)
{
	return arm(s, false);
}

/* Cancels the receive in flight. Each buffer CQE over the mark used to send
 * another cancel; now one goes per mark's worth of queue growth (a cancel
 * that meets the multishot while the kernel runs it may not stop it), or
 * whenever force. */
static void pause_src(struct src *s, bool force)
{
	if (s->pausing && !force && s->queued_bufs < s->pause_bufs + s->high_water)
		return;
	struct io_uring_sqe *sqe = core_get_sqe(s->r);
	io_uring_prep_cancel64(sqe, ud_pack(s, UD_SRC), 0);
	io_uring_sqe_set_data64(sqe, 0);
	s->pausing = true;
	s->pause_bufs = s->queued_bufs;
}

/* Whether the ring is under pressure: some source waits for a buffer, or
 * was re-armed for its turn and has not reported yet. Without the second,
 * a source that drained its queue in the gap while the last turns were in
 * flight re-armed a multishot and took every free buffer its socket had
 * data for, ahead of the sources whose turns those buffers were. */
static bool under_pressure(const struct buf_group *g)
{
	return g->stalled != NULL || g->rearming > 0;
}

/* Under pressure: whether s queues its share of the ring or more, in
 * buffers (a completion of a few bytes takes a whole one). */
static bool over_share(const struct src *s)
{
	const struct buf_group *g = s->grp;
	if (!under_pressure(g))
		return false;
	unsigned share = g->busy ? g->active / g->busy : g->active;
	if (share < 1)
		share = 1;
	return s->queued_bufs >= share;
}

/* Whether a buffer source should have a receive in flight now. */
static bool wants_data(const struct src *s)
{
	if (s->armed || s->stalled || !s->started || s->closing || s->detaching || s->eof || s->err)
		return false;
	if (s->queued_bufs > s->high_water)
		return false;
	/* While others wait for their turn, a source that still has data to
	 * read does not jump the queue: it re-arms once its queue is empty. */
	return s->head < 0 || !under_pressure(s->grp);
}

static void stall(struct src *s);

static void refill(struct src *s)
{
	if (!wants_data(s))
		return;
	if (under_pressure(s->grp)) {
		/* Its turn is over: behind those already waiting. */
		stall(s);
		core_src_rearm_stalled(s->grp);
		return;
	}
	core_src_arm(s);
}

static void enqueue_buf(struct src *s, uint16_t bid, uint32_t len)
{
	struct buf_group *g = s->grp;
	g->len[bid] = len;
	g->next[bid] = -1;
	if (s->tail >= 0) {
		g->next[s->tail] = bid;
	} else {
		bool was_busy = is_busy(s);
		s->head = bid;
		busy_update(s, was_busy);
	}
	s->tail = bid;
	s->queued_bytes += len;
	s->queued_bufs++;
}

bool core_src_pop_buf(struct src *s, uint16_t *bid, uint32_t *len)
{
	struct buf_group *g = s->grp;
	if (s->head < 0)
		return false;
	*bid = (uint16_t)s->head;
	*len = g->len[s->head];
	s->head = g->next[s->head];
	if (s->head < 0) {
		s->tail = -1;
		busy_update(s, true);
	}
	s->queued_bytes -= *len;
	s->queued_bufs--;
	/* Back under its mark: receive the next buffer while this one is
	 * being consumed. */
	refill(s);
	return true;
}

/* A listener's queue of accepted descriptors: a ring of cap. */
struct src_accq {
	unsigned head, len, cap;
	int fd[];
};

unsigned core_src_accq_len(const struct src *s)
{
	return s->accq ? s->accq->len : 0;
}

static int accq_push(struct src *s, int fd)
{
	struct src_accq *a = s->accq;
	if (!a || a->len == a->cap) {
		unsigned cap = a ? a->cap * 2 : 64;
		if (cap > SRC_ACCEPT_MAX)
			return -ENOBUFS;
		struct src_accq *q = malloc(sizeof *q + cap * sizeof q->fd[0]);
		if (!q)
			return -ENOMEM;
		q->head = 0;
		q->len = a ? a->len : 0;
		q->cap = cap;
		for (unsigned i = 0; i < q->len; i++)
			q->fd[i] = a->fd[(a->head + i) % a->cap];
		free(a);
		s->accq = a = q;
	}
	a->fd[(a->head + a->len++) % a->cap] = fd;
	return 0;
}

int core_src_accq_pop(struct src *s)
{
	struct src_accq *a = s->accq;
	int fd = a->fd[a->head];
	a->head = (a->head + 1) % a->cap;
	a->len--;
	return fd;
}

static void src_free(struct src *s)
{
	free(s->accq);
	free(s); /* the source is the first member of its owner */
}

static void stall(struct src *s)
{
	struct buf_group *g = s->grp;
	if (s->stalled || s->closing || s->detaching)
		return;
	s->stalled = true;
	busy_update(s, s->head >= 0); /* was it busy before: holding */
	s->next_stalled = NULL;
	s->prev_stalled = g->stalled_tail;
	if (g->stalled_tail)
		g->stalled_tail->next_stalled = s;
	else
		g->stalled = s;
	g->stalled_tail = s;
}

/* Back to the front of the stalled queue: s was re-armed for its turn and
 * got no buffer. */
static void stall_front(struct src *s)
{
	struct buf_group *g = s->grp;
	if (s->stalled || s->closing || s->detaching)
		return;
	s->stalled = true;
	busy_update(s, s->head >= 0); /* was it busy before: holding */
	s->prev_stalled = NULL;
	s->next_stalled = g->stalled;
	if (g->stalled)
		g->stalled->prev_stalled = s;
	else
		g->stalled_tail = s;
	g->stalled = s;
}

static void unstall(struct src *s)
{
	struct buf_group *g = s->grp;
	if (!s->stalled)
		return;
	if (s->prev_stalled)
		s->prev_stalled->next_stalled = s->next_stalled;
	else
		g->stalled = s->next_stalled;
	if (s->next_stalled)
		s->next_stalled->prev_stalled = s->prev_stalled;
	else
		g->stalled_tail = s->prev_stalled;
	s->next_stalled = s->prev_stalled = NULL;
	s->stalled = false;
	busy_update(s, true);
}

/* Whether the socket holds bytes to receive now. */
static bool has_data(const struct src *s)
{
	int n = 0;
	return ioctl(s->fd, FIONREAD, &n) == 0 && n > 0;
}

void core_src_rearm_stalled(struct buf_group *g)
{
	/* A re-armed source whose socket holds data reports soon (a buffer,
	 * -ENOBUFS again, EOF): counting those in flight keeps the re-arms
	 * within the free buffers. A multishot also ends with -ENOBUFS on an
	 * idle socket; its receive then waits for data and must not hold a
	 * slot meanwhile, or the queue stops with every buffer free. */
	while (g->stalled && g->in_ring > g->rearming) {
		struct src *s = g->stalled;
		unstall(s);
		/* A source with buffers still queued re-arms when its reader takes
		 * them (core_src_pop_buf): re-arming it now, under a flood, would
		 * cost a receive and another -ENOBUFS per buffer freed. A source
		 * whose queue is full re-arms when its reader drains it. */
		if (s->head >= 0 || !wants_data(s))
			continue;
		arm(s, true);
		if (s->armed && has_data(s)) {
			s->fifo_armed = true;
			g->rearming++;
		}
	}
}

static void complete_accept(struct src *s, int res, bool more)
{
	if (res >= 0) {
		if (s->closing || accq_push(s, res) != 0)
			close(res); /* nobody will take it */
		if (s->accq->len > SRC_ACCEPT_PAUSE && s->armed)
			pause_src(s, false);
	} else if (res != -ECANCELED && !more) {
		/* EMFILE and friends: report once; the next accept re-arms. */
		s->wait_res = res;
	}
}

static void complete_recv(struct src *s, const struct io_uring_cqe *cqe)
{
	struct buf_group *g = s->grp;
	int res = cqe->res;
	bool turn = s->fifo_armed; /* the first report of a re-arm from the queue */

	if (s->fifo_armed) {
		s->fifo_armed = false;
		g->rearming--;
	}
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		g->in_ring--; /* out of the kernel, whichever way it goes now */
		g->out[bid] = OUT_TAKEN;
		if (s->closing || res <= 0) {
			core_buf_group_put(g, bid);
		} else {
			enqueue_buf(s, bid, (uint32_t)res);
			/* A datagram turn is a multishot (the layout of its
			 * buffers needs one): it ends after its first buffer,
			 * as a stream turn does by being single-shot. */
			bool turn_over = turn && s->kind == SRC_RECVMSG;
			if (s->armed && (s->queued_bufs > s->high_water || over_share(s) || turn_over))
				pause_src(s, false);
		}
	}
	if (res == 0 && s->kind == SRC_RECV) {
		s->eof = true;
	} else if (res == -EINVAL && s->capped) {
		/* A kernel without capped multishot receives refuses the
		 * SQE: plain multishots from now on (refill re-arms one).
		 * Every source armed capped before the first refusal came
		 * back is refused too, and re-armed the same way. */
		if (!g->uncapped)
			core_log(CORE_LOG_INFO, "stream receives: the kernel refused a capped multishot receive "
						"(a length on a multishot bundle); using plain multishot receives");
		g->uncapped = true;
	} else if (res == -ENOBUFS) {
		if (turn)
			stall_front(s); /* the ring was emptied by another before its turn */
		else
			stall(s);
		/* A ring that may grow does, before it is shared in turns: to
		 * what every busy source holds before it pauses. */
		core_buf_group_grow(g, busy_target(g));
	} else if (res < 0 && res != -ECANCELED && !s->closing) {
		s->err = res;
	}
}

void core_src_complete(struct src *s, const struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;

	if (!more) {
		s->armed = false;
		s->pausing = false;
	}
	if (s->kind == SRC_ACCEPT)
		complete_accept(s, cqe->res, more);
	else
		complete_recv(s, cqe);
	if (!s->armed && s->closing) {
		struct buf_group *g = s->grp;
		s->r->inflight--;
		src_free(s);
		/* Its re-arm slot, if it had one, is free again. */
		if (g)
			core_src_rearm_stalled(g);
		return;
	}
	if (s->detaching) {
		if (!s->armed && s->waiter)
			core_unpark(s->waiter->co, 0);
		/* Its re-arm slot, if it had one, is free again. */
		if (s->grp)
			core_src_rearm_stalled(s->grp);
		return;
	}
	bool ready = s->head >= 0 || core_src_accq_len(s) || s->eof || s->err || s->wait_res;
	if (s->kind == SRC_ACCEPT) {
		/* A multishot that ended on its own (not paused) is re-armed for
		 * the waiting reader. */
		if (s->waiter && !ready && !s->armed)
			core_src_arm(s);
	} else {
		/* Re-arm a receive that ended while the reader is under its mark. */
		refill(s);
		core_src_rearm_stalled(s->grp);
	}
	if (s->waiter && ready)
		core_unpark(s->waiter->co, 0);
}

int core_src_wait(struct src *s, int timeout_ms)
{
	int ret;
	if (s->kind == SRC_ACCEPT) {
		if (!s->armed) {
			ret = core_src_arm(s);
			if (ret < 0)
				return ret;
		}
	} else {
		if (s->r->torn_down)
			return -ECANCELED;
		s->started = true;
		refill(s);
	}
	s->waiter = core_current_task();
	/* Safe to hibernate: the waiter, its timer and the queue are heap
	 * state, nothing here points into the stack. */
	if (s->waiter->hibernate_waits)
		core_coro_hibernate();
	ret = core_park(timeout_ms);
	/* core_park may return without switching out (teardown, no memory for
	 * its timer): the request must not carry over to another wait. */
	core_coro_hibernate_cancel();
	s->waiter = NULL;
	return ret;
}

/* Ends the receive in flight and waits for its final CQE; nothing re-arms
 * it while s->detaching. */
static void stop_receiving(struct src *s)
{
	s->detaching = true;
	if (s->grp)
		unstall(s);
	if (s->armed)
		pause_src(s, true);
	/* The op and the source must outlive the final CQE: wait for it even
	 * through cancellation of the runtime. */
	while (s->armed) {
		s->waiter = core_current_task();
		core_park(-1);
		s->waiter = NULL;
	}
}

int core_src_detach(struct src *s)
{
	stop_receiving(s);
	int fd = s->fd;
	s->fd = -1;
	return fd;
}

void core_src_pause(struct src *s)
{
	stop_receiving(s);
	s->detaching = false;
	/* No receive until the owner waits on s again (core_src_wait). */
	s->started = false;
}

void core_src_close(struct src *s)
{
	struct core_reactor *r = s->r;
	uint16_t bid;
	uint32_t len;

	s->closing = true;
	if (s->grp) {
		while (core_src_pop_buf(s, &bid, &len))
			core_buf_group_put(s->grp, bid);
		unstall(s);
	}
	while (core_src_accq_len(s))
		close(core_src_accq_pop(s));
	if (s->waiter)
		core_unpark(s->waiter->co, -ECANCELED);
	/* The kernel keeps its own reference to the file while the multishot
	 * runs; the socket really closes once the cancel completes. */
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->armed) {
		pause_src(s, true);
		r->inflight++;
		return; /* freed by the final CQE */
	}
	src_free(s);
}
