/* Multishot sources: a socket whose multishot accept/recv/recvmsg completions
 * queue up until the owning coroutine asks for them (see core/internal.h).
 *
 * Flow control: a source whose queue passes its high-water mark is paused by
 * cancelling the multishot; the owner re-arms it when it drains the queue. A
 * source ended by -ENOBUFS (ring dry) waits on the group's stalled list until
 * leases come back. In both cases TCP data waits in the socket buffer, so
 * nothing is lost and the sender is slowed by TCP itself. */
#include "core/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Per-connection queue bound: a connection that is not being read holds at
 * most this many bytes of ring buffers before its receive is paused. */
#define SRC_RECV_HIGH_WATER (64u * 1024u)
/* UDP sockets serve many peers: let them queue more before pausing. */
#define SRC_RECVMSG_HIGH_WATER_BUFS 256u

void core_src_init(struct src *s, struct core_reactor *r, uint8_t kind, int fd, struct buf_group *grp)
{
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->fd = fd;
	s->r = r;
	s->grp = grp;
	s->head = s->tail = -1;
	if (kind == SRC_RECV)
		s->high_water = SRC_RECV_HIGH_WATER;
	else if (kind == SRC_RECVMSG)
		s->high_water = SRC_RECVMSG_HIGH_WATER_BUFS * grp->size;
	s->mh.msg_namelen = sizeof(struct sockaddr_storage);
}

int core_src_arm(struct src *s)
{
	struct core_reactor *r = s->r;
	struct io_uring_sqe *sqe;

	if (s->armed || s->closing || s->eof || s->err)
		return 0;
	if (r->torn_down)
		return -ECANCELED;
	sqe = core_get_sqe(r);
	switch (s->kind) {
	case SRC_RECV:
		io_uring_prep_recv_multishot(sqe, s->fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = s->grp->bgid;
		break;
	case SRC_RECVMSG:
		io_uring_prep_recvmsg_multishot(sqe, s->fd, &s->mh, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = s->grp->bgid;
		break;
	case SRC_ACCEPT:
		io_uring_prep_multishot_accept(sqe, s->fd, NULL, NULL, SOCK_CLOEXEC);
		break;
	}
	io_uring_sqe_set_data64(sqe, ud_pack(s, UD_SRC));
	s->armed = true;
	return 0;
}

static void pause_src(struct src *s)
{
	struct io_uring_sqe *sqe = core_get_sqe(s->r);
	io_uring_prep_cancel64(sqe, ud_pack(s, UD_SRC), 0);
	io_uring_sqe_set_data64(sqe, 0);
}

static void enqueue_buf(struct src *s, uint16_t bid, uint32_t len)
{
	struct buf_group *g = s->grp;
	g->in_ring--;
	g->len[bid] = len;
	g->next[bid] = -1;
	if (s->tail >= 0)
		g->next[s->tail] = bid;
	else
		s->head = bid;
	s->tail = bid;
	s->queued_bytes += len;
}

bool core_src_pop_buf(struct src *s, uint16_t *bid, uint32_t *len)
{
	struct buf_group *g = s->grp;
	if (s->head < 0)
		return false;
	*bid = (uint16_t)s->head;
	*len = g->len[s->head];
	s->head = g->next[s->head];
	if (s->head < 0)
		s->tail = -1;
	s->queued_bytes -= *len;
	return true;
}

static int accq_push(struct src *s, int fd)
{
	if (s->acc_len == s->acc_cap) {
		unsigned cap = s->acc_cap ? s->acc_cap * 2 : 64;
		if (cap > SRC_ACCEPT_MAX)
			return -ENOBUFS;
		int *q = malloc(cap * sizeof *q);
		if (!q)
			return -ENOMEM;
		for (unsigned i = 0; i < s->acc_len; i++)
			q[i] = s->accq[(s->acc_head + i) % s->acc_cap];
		free(s->accq);
		s->accq = q;
		s->acc_head = 0;
		s->acc_cap = cap;
	}
	s->accq[(s->acc_head + s->acc_len++) % s->acc_cap] = fd;
	return 0;
}

int core_src_accq_pop(struct src *s)
{
	int fd = s->accq[s->acc_head];
	s->acc_head = (s->acc_head + 1) % s->acc_cap;
	s->acc_len--;
	return fd;
}

static void src_free(struct src *s)
{
	free(s->accq);
	free(s); /* the source is the first member of its owner */
}

static void stall(struct src *s)
{
	if (s->stalled || s->closing)
		return;
	s->stalled = true;
	s->next_stalled = s->grp->stalled;
	s->grp->stalled = s;
}

void core_src_rearm_stalled(struct buf_group *g)
{
	struct src *s = g->stalled;
	g->stalled = NULL;
	while (s) {
		struct src *n = s->next_stalled;
		s->stalled = false;
		s->next_stalled = NULL;
		/* Re-arm only for a reader who waits; others re-arm on their next read. */
		if (s->waiter)
			core_src_arm(s);
		s = n;
	}
}

void core_src_complete(struct src *s, const struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	int res = cqe->res;

	if (!more)
		s->armed = false;
	if (s->kind == SRC_ACCEPT) {
		if (res >= 0) {
			if (s->closing || accq_push(s, res) != 0)
				close(res); /* nobody will take it */
			if (s->acc_len > SRC_ACCEPT_PAUSE && s->armed)
				pause_src(s);
		} else if (res != -ECANCELED && !more) {
			/* EMFILE and friends: report once; the next accept re-arms. */
			s->wait_res = res;
		}
	} else {
		if (cqe->flags & IORING_CQE_F_BUFFER) {
			uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
			if (s->closing || res <= 0) {
				core_buf_group_put(s->grp, bid);
			} else {
				enqueue_buf(s, bid, (uint32_t)res);
				if (s->queued_bytes > s->high_water && s->armed)
					pause_src(s);
			}
		}
		if (res == 0 && s->kind == SRC_RECV)
			s->eof = true;
		else if (res == -ENOBUFS)
			stall(s);
		else if (res < 0 && res != -ECANCELED && !s->closing)
			s->err = res;
	}
	if (!s->armed && s->closing) {
		s->r->inflight--;
		src_free(s);
		return;
	}
	if (s->detaching) {
		if (!s->armed && s->waiter)
			core_unpark(s->waiter->co, 0);
		return;
	}
	if (s->waiter) {
		bool ready = s->head >= 0 || s->acc_len || s->eof || s->err || s->wait_res;
		/* A multishot that ended on its own (not paused, not stalled) is
		 * re-armed for the waiting reader. */
		if (!ready && !s->armed && !s->stalled)
			core_src_arm(s);
		if (ready)
			core_unpark(s->waiter->co, 0);
	}
}

int core_src_wait(struct src *s, int timeout_ms)
{
	int ret;
	if (!s->armed && !s->stalled) {
		ret = core_src_arm(s);
		if (ret < 0)
			return ret;
	}
	s->waiter = core_current_task();
	/* Safe to hibernate: the waiter, its timer and the queue are heap
	 * state, nothing here points into the stack. */
	if (s->waiter->hibernate_waits)
		core_coro_hibernate();
	ret = core_park(timeout_ms);
	s->waiter = NULL;
	return ret;
}

int core_src_detach(struct src *s)
{
	s->detaching = true;
	if (s->stalled) {
		struct src **pp = &s->grp->stalled;
		while (*pp && *pp != s)
			pp = &(*pp)->next_stalled;
		if (*pp)
			*pp = s->next_stalled;
		s->stalled = false;
	}
	if (s->armed)
		pause_src(s);
	/* The op and the source must outlive the final CQE: wait for it even
	 * through cancellation of the runtime. */
	while (s->armed) {
		s->waiter = core_current_task();
		core_park(-1);
		s->waiter = NULL;
	}
	int fd = s->fd;
	s->fd = -1;
	return fd;
}

void core_src_close(struct src *s)
{
	struct core_reactor *r = s->r;
	uint16_t bid;
	uint32_t len;

	s->closing = true;
	while (core_src_pop_buf(s, &bid, &len))
		core_buf_group_put(s->grp, bid);
	while (s->acc_len)
		close(core_src_accq_pop(s));
	if (s->stalled) {
		struct src **pp = &s->grp->stalled;
		while (*pp && *pp != s)
			pp = &(*pp)->next_stalled;
		if (*pp)
			*pp = s->next_stalled;
		s->stalled = false;
	}
	if (s->waiter)
		core_unpark(s->waiter->co, -ECANCELED);
	/* The kernel keeps its own reference to the file while the multishot
	 * runs; the socket really closes once the cancel completes. */
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->armed) {
		pause_src(s);
		r->inflight++;
		return; /* freed by the final CQE */
	}
	src_free(s);
}
