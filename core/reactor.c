/* The io_uring reactor: see core/reactor.h. */
#include "core/internal.h"
#include "core/log.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

enum { UD_MSGSENT = 6, UD_SIG = 7 };

#define DEFAULT_SQ 1024u
#define DEFAULT_STREAM_BUFS 1024u
#define DEFAULT_STREAM_BUF_SIZE (16u * 1024u)
#define DEFAULT_DGRAM_BUFS 1024u
#define DEFAULT_DGRAM_BUF_SIZE 2048u
/* A 64 KiB payload (the most one UDP_GRO receive holds: one UDP length)
 * after the recvmsg header, a sockaddr_storage and the control area, in
 * whole pages (core_buf_trim gives back whole pages only). */
#define DEFAULT_UDP_GRO_BUF_SIZE (68u * 1024u)
#define DEFAULT_GRACE_MS 5000u
#define ABANDON_AFTER_MS 1000u
/* SEND_ZC is off by default: core_sock_send returns at its notification,
 * which TCP posts only once the data is acknowledged, so back-to-back sends
 * wait a round trip each. `atmosphere-bench core` measured ZC at 0.06x to
 * 0.52x of plain sends from 4 KiB to 1 MiB on loopback (docs/PERFORMANCE.md);
 * callers that can pipeline may set zc_threshold themselves. */
#define DEFAULT_ZC_THRESHOLD UINT32_MAX

static _Thread_local struct core_reactor *tls_reactor;

uint64_t core_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t core_now_ns(void)
{
	return tls_reactor ? tls_reactor->now : core_clock_ns();
}

uint64_t core_pass(void)
{
	return tls_reactor ? tls_reactor->passes : 0;
}

struct core_reactor *core_self(void) { return tls_reactor; }
unsigned core_reactor_index(const struct core_reactor *r) { return r->idx; }
struct core_rt *core_reactor_rt(const struct core_reactor *r) { return r->rt; }
bool core_reactor_stopping(const struct core_reactor *r) { return r->stopping; }
unsigned core_rt_threads(const struct core_rt *rt) { return rt->o.num_threads; }
unsigned core_rt_abandoned(const struct core_rt *rt) { return atomic_load(&rt->abandoned); }

/* ---- timers: a binary min-heap of caller-owned entries ----
 *
 * Each slot holds the deadline beside the timer's pointer, so sifting
 * compares slots in the one array and touches a timer only to write the
 * heap_idx of a slot it moves: at 10,000 armed timers (5,000 relay sessions,
 * each of two connections waiting in a receive with a timeout) the timers sit
 * in as many separately allocated task records, and reading each one's
 * deadline was a cache miss per comparison, two per level on the way down.
 * Sifts move a hole instead of swapping: one slot write per level.
 * atmos-timer-cost (bench/timer_cost.c) measures it: docs/PERFORMANCE.md. */

static inline void heap_put(struct core_timer_heap *h, unsigned i, struct timer_slot s)
{
	h->slot[i] = s;
	s.t->heap_idx = i;
}

/* Moves slot i towards the root while its parent is later; returns whether
 * it moved. */
static bool heap_up(struct core_timer_heap *h, unsigned i)
{
	struct timer_slot s = h->slot[i];
	unsigned from = i;
	while (i > 1 && h->slot[i / 2].deadline_ns > s.deadline_ns) {
		heap_put(h, i, h->slot[i / 2]);
		i /= 2;
	}
	if (i != from)
		heap_put(h, i, s);
	return i != from;
}

static void heap_down(struct core_timer_heap *h, unsigned i)
{
	struct timer_slot s = h->slot[i];
	unsigned from = i, n = h->len;
	for (;;) {
		unsigned l = 2 * i, m = l;
		if (l > n)
			break;
		if (l + 1 <= n && h->slot[l + 1].deadline_ns < h->slot[l].deadline_ns)
			m = l + 1;
		if (h->slot[m].deadline_ns >= s.deadline_ns)
			break;
		heap_put(h, i, h->slot[m]);
		i = m;
	}
	if (i != from)
		heap_put(h, i, s);
}

/* Restores the heap around slot i after a new slot was put there. */
static void heap_fix(struct core_timer_heap *h, unsigned i)
{
	if (!heap_up(h, i))
		heap_down(h, i);
}

int core_timer_heap_set(struct core_timer_heap *h, struct core_timer *t, uint64_t deadline_ns)
{
	unsigned i = t->heap_idx;
	if (!i) {
		/* 1-based: slot 0 is never used. */
		if (h->len + 1 >= h->cap) {
			unsigned cap = h->cap ? h->cap * 2 : 256;
			struct timer_slot *s = realloc(h->slot, cap * sizeof *s);
			if (!s)
				return -ENOMEM;
			h->slot = s;
			h->cap = cap;
		}
		i = ++h->len;
	}
	/* An armed timer's slot is moved from where it is: one sift instead
	 * of a removal's and an insertion's. */
	t->deadline_ns = deadline_ns;
	heap_put(h, i, (struct timer_slot){.deadline_ns = deadline_ns, .t = t});
	heap_fix(h, i);
	return 0;
}

void core_timer_heap_remove(struct core_timer_heap *h, struct core_timer *t)
{
	unsigned i = t->heap_idx;
	if (!i)
		return;
	t->heap_idx = 0;
	unsigned last = h->len--;
	if (i != last) {
		heap_put(h, i, h->slot[last]);
		heap_fix(h, i);
	}
}

void core_timer_heap_cleanup(struct core_timer_heap *h)
{
	free(h->slot);
	*h = (struct core_timer_heap){0};
}

void core_timer_cancel(struct core_timer *t)
{
	struct core_reactor *r = tls_reactor;
	if (r)
		core_timer_heap_remove(&r->timers, t);
}

int core_timer_arm(struct core_timer *t, unsigned ms, core_timer_fn fn, void *arg)
{
	struct core_reactor *r = tls_reactor;
	/* A fresh clock read (vDSO, ~20 ns): the cached loop time can be stale
	 * by however long this iteration's coroutines have run, which would make
	 * a timer fire early. */
	r->now = core_clock_ns();
	int ret = core_timer_heap_set(&r->timers, t, r->now + (uint64_t)ms * 1000000u);
	if (ret < 0)
		return ret;
	t->fn = fn;
	t->arg = arg;
	return 0;
}

static void fire_timers(struct core_reactor *r)
{
	struct core_timer_heap *h = &r->timers;
	while (h->len && h->slot[1].deadline_ns <= r->now) {
		struct core_timer *t = h->slot[1].t;
		core_timer_heap_remove(h, t);
		t->fn(t);
	}
}

/* ---- tasks and the run queue ---- */

void core_make_ready(struct task *t)
{
	struct core_reactor *r = t->r;
	if (t->queued)
		return;
	t->queued = true;
	t->next_ready = NULL;
	if (r->ready_tail)
		r->ready_tail->next_ready = t;
	else
		r->ready_head = t;
	r->ready_tail = t;
}

struct task *core_current_task(void)
{
	struct core_coro *co = core_coro_current();
	return co ? core_coro_data(co) : NULL;
}

static int spawn_on(struct core_reactor *r, core_task_fn fn, void *arg)
{
	int err = 0;
	struct task *t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	t->co = core_coro_new(fn, arg, r->rt->o.stack_size, &err);
	if (!t->co) {
		free(t);
		return err;
	}
	core_coro_set_data(t->co, t);
	t->r = r;
	t->fn = fn;
	t->next_all = r->all;
	if (r->all)
		r->all->prev_all = t;
	r->all = t;
	r->live++;
	core_make_ready(t);
	return 0;
}

int core_spawn(core_task_fn fn, void *arg)
{
	return spawn_on(tls_reactor, fn, arg);
}

void core_task_set_name(const char *name)
{
	struct task *t = core_current_task();
	if (t)
		t->name = name;
}

/* Asks the kernel to cancel op (its CQE then says -ECANCELED). */
static void op_cancel(struct core_reactor *r, struct op *op)
{
	struct io_uring_sqe *sqe = core_get_sqe(r);
	io_uring_prep_cancel64(sqe, ud_pack(op, UD_OP), 0);
	io_uring_sqe_set_data64(sqe, 0);
}

void core_task_interrupt(struct core_coro *co)
{
	struct task *t = core_coro_data(co);
	if (t->parked) {
		core_unpark(co, -ECANCELED);
	} else if (t->op && t->op->pending && !t->op->got_res) {
		op_cancel(t->r, t->op);
	} else {
		t->interrupted = true;
	}
}

/* Takes the task's pending interrupt, if any. */
static bool take_interrupt(struct task *t)
{
	bool was = t->interrupted;
	t->interrupted = false;
	return was;
}

static void task_finish(struct core_reactor *r, struct task *t)
{
	if (t->prev_all)
		t->prev_all->next_all = t->next_all;
	else
		r->all = t->next_all;
	if (t->next_all)
		t->next_all->prev_all = t->prev_all;
	core_timer_cancel(&t->park_timer);
	core_coro_free(t->co);
	free(t);
	r->live--;
}

static void run_ready(struct core_reactor *r)
{
	struct task *t = r->ready_head;
	r->ready_head = r->ready_tail = NULL;
	while (t) {
		struct task *next = t->next_ready;
		t->queued = false;
		if (!core_coro_resume(t->co))
			task_finish(r, t);
		t = next;
	}
}

void core_yield(void)
{
	struct task *t = core_current_task();
	core_make_ready(t);
	core_coro_yield();
}

static void park_timeout(struct core_timer *tm)
{
	struct task *t = tm->arg;
	core_unpark(t->co, -ETIMEDOUT);
}

int core_park(int timeout_ms)
{
	struct task *t = core_current_task();
	if (t->r->torn_down || take_interrupt(t))
		return -ECANCELED;
	t->parked = true;
	if (timeout_ms >= 0 && core_timer_arm(&t->park_timer, (unsigned)timeout_ms, park_timeout, t) != 0) {
		t->parked = false;
		return -ENOMEM;
	}
	while (t->parked)
		core_coro_yield();
	core_timer_cancel(&t->park_timer);
	return t->park_res;
}

void core_task_hibernate_next_wait(bool on)
{
	struct task *t = core_current_task();
	if (t)
		t->hibernate_waits = on;
}

bool core_unpark(struct core_coro *co, int res)
{
	struct task *t = core_coro_data(co);
	if (!t->parked)
		return false;
	t->parked = false;
	t->park_res = res;
	core_make_ready(t);
	return true;
}

int core_sleep(unsigned ms)
{
	int res = core_park((int)ms);
	return res == -ETIMEDOUT ? 0 : res;
}

/* ---- submission ---- */

struct io_uring_sqe *core_get_sqe(struct core_reactor *r)
{
	struct io_uring_sqe *sqe;
	/* A full SQ means: submit what is there and take a fresh slot. */
	while (!(sqe = io_uring_get_sqe(&r->ring)))
		io_uring_submit(&r->ring);
	return sqe;
}

static void op_timeout(struct core_timer *tm)
{
	struct op *op = tm->arg;
	op->timed_out = true;
	op_cancel(op->task->r, op);
}

struct io_uring_sqe *core_op_start(struct core_reactor *r, struct op *op)
{
	if (r->torn_down)
		return NULL;
	memset(op, 0, sizeof *op);
	op->task = core_current_task();
	op->pending = 1;
	struct io_uring_sqe *sqe = core_get_sqe(r);
	io_uring_sqe_set_data64(sqe, 0);
	return sqe;
}

int core_op_wait(struct core_reactor *r, struct op *op, int timeout_ms)
{
	struct task *t = op->task;
	if (timeout_ms >= 0)
		core_timer_arm(&op->timer, (unsigned)timeout_ms, op_timeout, op);
	if (take_interrupt(t))
		op_cancel(r, op);
	t->op = op;
	/* The op lives on this stack: never leave before its last CQE. */
	while (op->pending)
		core_coro_yield();
	t->op = NULL;
	core_timer_cancel(&op->timer);
	if (op->timed_out && op->res == -ECANCELED)
		return -ETIMEDOUT;
	return op->res;
}

/* ---- cross-thread messages ---- */

static void inbox_push(struct core_reactor *t, struct msg *m)
{
	uint64_t one = 1;
	pthread_mutex_lock(&t->inbox_lock);
	m->next = t->inbox;
	t->inbox = m;
	pthread_mutex_unlock(&t->inbox_lock);
	if (write(t->wake_fd, &one, sizeof one) < 0) {
		/* eventfd counter saturated: the reactor is already due to wake. */
	}
}

int core_rt_post(struct core_rt *rt, unsigned idx, core_task_fn fn, void *arg)
{
	struct core_reactor *self = tls_reactor;
	if (idx >= rt->o.num_threads)
		return -EINVAL;
	struct core_reactor *t = &rt->r[idx];
	if (self == t)
		return spawn_on(self, fn, arg);
	struct msg *m = malloc(sizeof *m);
	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->arg = arg;
	m->target = idx;
	m->next = NULL;
	if (self && self->rt == rt && !self->torn_down) {
		/* MSG_RING: the target sees a CQE carrying m, no syscall of its own. */
		struct io_uring_sqe *sqe = core_get_sqe(self);
		io_uring_prep_msg_ring(sqe, t->ring.ring_fd, 0, ud_pack(m, UD_MSG), 0);
		io_uring_sqe_set_data64(sqe, ud_pack(m, UD_MSGSENT));
		self->inflight++;
		return 0;
	}
	inbox_push(t, m);
	return 0;
}

static void drain_inbox(struct core_reactor *r)
{
	pthread_mutex_lock(&r->inbox_lock);
	struct msg *m = r->inbox;
	r->inbox = NULL;
	pthread_mutex_unlock(&r->inbox_lock);
	/* The inbox is LIFO; reverse to keep posting order. */
	struct msg *rev = NULL;
	while (m) {
		struct msg *n = m->next;
		m->next = rev;
		rev = m;
		m = n;
	}
	while (rev) {
		struct msg *n = rev->next;
		if (spawn_on(r, rev->fn, rev->arg) != 0)
			core_log(CORE_LOG_ERR, "reactor %u: dropping a message: out of memory", r->idx);
		free(rev);
		rev = n;
	}
}

/* ---- shutdown ---- */

void core_on_shutdown(struct core_shutdown_hook *h, core_task_fn fn, void *arg)
{
	struct core_reactor *r = tls_reactor;
	h->fn = fn;
	h->arg = arg;
	h->prev = &r->hooks;
	h->next = r->hooks.next;
	if (h->next)
		h->next->prev = h;
	r->hooks.next = h;
}

void core_shutdown_hook_remove(struct core_shutdown_hook *h)
{
	if (!h->prev)
		return;
	h->prev->next = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->next = h->prev = NULL;
}

static void teardown(struct core_reactor *r)
{
	r->torn_down = true;
	struct io_uring_sqe *sqe = core_get_sqe(r);
	/* Cancel every request in flight; suspended ops then complete with
	 * -ECANCELED and their coroutines unwind. */
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	io_uring_sqe_set_data64(sqe, 0);
	for (struct task *t = r->all; t; t = t->next_all)
		if (t->parked)
			core_unpark(t->co, -ECANCELED);
}

struct stop_state {
	struct core_timer grace, abandon;
	bool give_up;
};
static _Thread_local struct stop_state tls_stop;
static void abandon_expired(struct core_timer *t);

static void grace_expired(struct core_timer *t)
{
	struct core_reactor *r = t->arg;
	if (r->live)
		core_log(CORE_LOG_WARN, "reactor %u: %u coroutines still running after the grace period; cancelling their I/O",
			 r->idx, r->live);
	/* Which ones: the name each gave itself, else where its function is. */
	for (struct task *k = r->all; k; k = k->next_all) {
		Dl_info di;
		const char *state = k->parked ? " (parked)" : k->op ? " (in an operation)" : "";
		if (k->name)
			core_log(CORE_LOG_WARN, "reactor %u: still running: %s%s", r->idx, k->name, state);
		else if (dladdr((void *)(uintptr_t)k->fn, &di) && di.dli_fname)
			core_log(CORE_LOG_WARN, "reactor %u: still running: %s+0x%zx (%s)%s", r->idx, di.dli_fname,
				 (size_t)((uintptr_t)k->fn - (uintptr_t)di.dli_fbase), di.dli_sname ? di.dli_sname : "?",
				 state);
		else
			core_log(CORE_LOG_WARN, "reactor %u: still running: unnamed coroutine", r->idx);
	}
	teardown(r);
	core_timer_arm(&tls_stop.abandon, ABANDON_AFTER_MS, abandon_expired, r);
}

static void abandon_expired(struct core_timer *t)
{
	(void)t;
	tls_stop.give_up = true;
}

static void begin_stop(struct core_reactor *r)
{
	if (r->stopping)
		return;
	r->stopping = true;
	/* Hooks may unregister themselves while we walk. */
	struct core_shutdown_hook *h = r->hooks.next;
	while (h) {
		struct core_shutdown_hook *n = h->next;
		h->fn(h->arg);
		h = n;
	}
	core_timer_arm(&tls_stop.grace, r->rt->o.shutdown_grace_ms, grace_expired, r);
}

void core_rt_shutdown(struct core_rt *rt)
{
	atomic_store(&rt->shutdown, true);
	for (unsigned i = 0; i < rt->o.num_threads; i++) {
		uint64_t one = 1;
		if (rt->r[i].wake_fd >= 0 && write(rt->r[i].wake_fd, &one, sizeof one) < 0) {
			/* saturated counter: it will wake anyway */
		}
	}
}

/* ---- the loop ---- */

static void arm_wake(struct core_reactor *r)
{
	struct io_uring_sqe *sqe = core_get_sqe(r);
	io_uring_prep_poll_multishot(sqe, r->wake_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, ud_pack(NULL, UD_WAKE));
}

static int sig_fd = -1;

static void arm_sig(struct core_reactor *r)
{
	struct io_uring_sqe *sqe = core_get_sqe(r);
	io_uring_prep_poll_multishot(sqe, sig_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, ud_pack(NULL, UD_SIG));
}

static void handle_signals(struct core_reactor *r)
{
	struct signalfd_siginfo si;
	while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			if (r->rt->o.on_hup)
				spawn_on(r, r->rt->o.on_hup, r->rt->o.on_hup_arg);
			continue;
		}
		if (atomic_load(&r->rt->shutdown)) {
			core_log(CORE_LOG_WARN, "second %s: exiting now", strsignal((int)si.ssi_signo));
			_exit(1);
		}
		core_log(CORE_LOG_INFO, "%s: shutting down gracefully (send again to exit at once)",
			 strsignal((int)si.ssi_signo));
		core_rt_shutdown(r->rt);
	}
}

static void dispatch(struct core_reactor *r, struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	void *p = (void *)(uintptr_t)(ud & ~(uint64_t)UD_MASK);
	switch (ud & UD_MASK) {
	case 0:
		break;
	case UD_OP: {
		struct op *op = p;
		if (!(cqe->flags & IORING_CQE_F_NOTIF) && !op->got_res) {
			op->res = cqe->res;
			op->flags = cqe->flags;
			op->got_res = true;
		}
		/* The last CQE of an op is the one without F_MORE (for SEND_ZC,
		 * the notification that the kernel let go of the pages). */
		if (!(cqe->flags & IORING_CQE_F_MORE)) {
			op->pending = 0;
			core_make_ready(op->task);
		}
		break;
	}
	case UD_SRC:
		core_src_complete(p, cqe);
		break;
	case UD_MSG: {
		struct msg *m = p;
		if (spawn_on(r, m->fn, m->arg) != 0)
			core_log(CORE_LOG_ERR, "reactor %u: dropping a message: out of memory", r->idx);
		free(m);
		break;
	}
	case UD_MSGSENT: {
		struct msg *m = p;
		r->inflight--;
		if (cqe->res < 0) {
			/* Target CQ full or its ring gone: use the inbox instead. */
			m->next = NULL;
			inbox_push(&r->rt->r[m->target], m);
		}
		break;
	}
	case UD_WAKE: {
		uint64_t v;
		if (read(r->wake_fd, &v, sizeof v) < 0) {
			/* EAGAIN: a spurious wake */
		}
		if (!(cqe->flags & IORING_CQE_F_MORE) && !r->torn_down)
			arm_wake(r);
		drain_inbox(r);
		if (atomic_load(&r->rt->shutdown))
			begin_stop(r);
		break;
	}
	case UD_SLOT:
		core_slot_complete(r, p, cqe->res);
		break;
	case UD_SIG:
		handle_signals(r);
		if (!(cqe->flags & IORING_CQE_F_MORE) && !r->torn_down)
			arm_sig(r);
		break;
	}
}

static void loop(struct core_reactor *r)
{
	for (;;) {
		r->now = core_clock_ns();
		r->passes++;
		run_ready(r);
		if (r->stopping && ((r->live == 0 && r->inflight == 0) || tls_stop.give_up))
			break;

		struct __kernel_timespec ts, *tsp = NULL;
		struct io_uring_cqe *cqe;
		if (r->ready_head) {
			io_uring_submit_and_get_events(&r->ring);
		} else {
			if (r->timers.len) {
				uint64_t d = r->timers.slot[1].deadline_ns;
				uint64_t now = core_clock_ns();
				uint64_t rel = d > now ? d - now : 0;
				ts.tv_sec = (long long)(rel / 1000000000u);
				ts.tv_nsec = (long long)(rel % 1000000000u);
				tsp = &ts;
			}
			int ret = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, tsp, NULL);
			if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
				core_log(CORE_LOG_ERR, "reactor %u: io_uring wait: %s", r->idx, strerror(-ret));
		}
		r->now = core_clock_ns();
		unsigned head, n = 0;
		io_uring_for_each_cqe(&r->ring, head, cqe) {
			dispatch(r, cqe);
			n++;
		}
		io_uring_cq_advance(&r->ring, n);
		fire_timers(r);
	}
}

/* ---- reactor set-up ---- */

static int reactor_init(struct core_reactor *r)
{
	struct core_rt_opts *o = &r->rt->o;
	struct io_uring_params p;
	int ret;

	memset(&p, 0, sizeof p);
	/* SINGLE_ISSUER: only this thread submits, which lets the kernel skip
	 * locking. DEFER_TASKRUN: completion work runs when we wait, not by
	 * interrupting us mid-batch. CQSIZE: multishot receives post many CQEs
	 * per SQE, so the CQ gets 8x the SQ. SUBMIT_ALL: one bad SQE does not
	 * strand the rest of the batch. */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE |
		  IORING_SETUP_SUBMIT_ALL;
	p.cq_entries = o->sq_entries * 8;
	ret = io_uring_queue_init_params(o->sq_entries, &r->ring, &p);
	if (ret == -EINVAL) {
		/* Kernels before 6.1 lack DEFER_TASKRUN. */
		memset(&p, 0, sizeof p);
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = o->sq_entries * 8;
		ret = io_uring_queue_init_params(o->sq_entries, &r->ring, &p);
	}
	if (ret < 0)
		return ret;
	tls_reactor = r;
	r->now = core_clock_ns();
	ret = core_buf_group_init(r, &r->stream, 0, o->stream_bufs_max, o->stream_bufs, o->stream_buf_size);
	if (ret < 0)
		return ret;
	r->stream.uncapped = o->stream_recv_batched;
	ret = core_buf_group_init(r, &r->dgram, 1, o->dgram_bufs, o->dgram_bufs, o->dgram_buf_size);
	if (ret < 0)
		return ret;
	if (o->udp_gro_bufs) {
		ret = core_buf_group_init(r, &r->gro, 2, o->udp_gro_bufs, o->udp_gro_bufs, o->udp_gro_buf_size);
		if (ret < 0)
			return ret;
	}
	arm_wake(r);
	return 0;
}

static void reactor_cleanup(struct core_reactor *r)
{
	if (r->ring.ring_fd > 0) {
		core_buf_group_cleanup(r, &r->stream);
		core_buf_group_cleanup(r, &r->dgram);
		core_buf_group_cleanup(r, &r->gro);
		io_uring_queue_exit(&r->ring);
		r->ring.ring_fd = -1;
	}
	while (r->free_slots) {
		struct send_slot *s = r->free_slots;
		r->free_slots = s->next;
		free(s);
	}
	while (r->inbox) {
		struct msg *m = r->inbox;
		r->inbox = m->next;
		free(m);
	}
	core_timer_heap_cleanup(&r->timers);
}

static void *reactor_main(void *arg)
{
	struct core_reactor *r = arg;
	sigset_t all;
	/* Signals go to the signalfd only. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	memset(&tls_stop, 0, sizeof tls_stop);

	r->start_err = reactor_init(r);
	if (r->start_err < 0) {
		core_log(CORE_LOG_ERR, "reactor %u: cannot start: %s", r->idx, strerror(-r->start_err));
		core_rt_shutdown(r->rt);
		tls_reactor = NULL;
		return NULL;
	}
	if (r->idx == 0 && sig_fd >= 0)
		arm_sig(r);
	if (r->rt->main_fn)
		spawn_on(r, r->rt->main_fn, r->rt->main_arg);
	if (atomic_load(&r->rt->shutdown))
		begin_stop(r);
	loop(r);
	if (r->live) {
		atomic_fetch_add(&r->rt->abandoned, r->live);
		core_log(CORE_LOG_ERR, "reactor %u: abandoning %u coroutines that did not finish", r->idx, r->live);
	}
	/* Finished tasks are gone; abandoned ones keep their stacks (their frames
	 * may still be referenced by the kernel until the ring is torn down). */
	reactor_cleanup(r);
	core_coro_pool_trim();
	tls_reactor = NULL;
	return NULL;
}

/* ---- runtime ---- */

static int read_int_file(const char *path)
{
	FILE *f = fopen(path, "r");
	int v = -1;
	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

const char *core_rt_explain(int err)
{
	static _Thread_local char buf[512];
	int disabled = read_int_file("/proc/sys/kernel/io_uring_disabled");
	switch (err) {
	case -ENOSYS:
		snprintf(buf, sizeof buf,
			 "io_uring is not available (ENOSYS): the kernel is older than 5.1 or was built without CONFIG_IO_URING, "
			 "or a seccomp filter (e.g. Docker's default profile) blocks io_uring_setup. "
			 "Fix: run on Linux >= 6.1, or allow io_uring_setup/io_uring_enter/io_uring_register in the container's seccomp profile "
			 "(docker run --security-opt seccomp=unconfined, or a custom profile).");
		break;
	case -EPERM:
		if (disabled == 2)
			snprintf(buf, sizeof buf,
				 "io_uring is disabled on this system (EPERM): sysctl kernel.io_uring_disabled=2. "
				 "Fix: sysctl -w kernel.io_uring_disabled=0 (as root).");
		else if (disabled == 1)
			snprintf(buf, sizeof buf,
				 "io_uring is restricted on this system (EPERM): sysctl kernel.io_uring_disabled=1 allows only members of "
				 "kernel.io_uring_group. Fix: add this user to that group, or sysctl -w kernel.io_uring_disabled=0.");
		else
			snprintf(buf, sizeof buf,
				 "io_uring_setup was refused (EPERM), most likely by a seccomp filter or an LSM policy. "
				 "Fix: allow io_uring_setup/io_uring_enter/io_uring_register for this program "
				 "(for Docker: --security-opt seccomp=unconfined or a profile that permits them).");
		break;
	case -ENOMEM:
		snprintf(buf, sizeof buf,
			 "io_uring could not allocate its rings (ENOMEM): the locked-memory limit is too low for the buffer rings. "
			 "Fix: raise RLIMIT_MEMLOCK (ulimit -l), or use fewer/smaller receive buffers.");
		break;
	case -EINVAL:
		snprintf(buf, sizeof buf,
			 "io_uring rejected the set-up (EINVAL): this kernel lacks a feature we need (buffer rings, multishot receive, "
			 "kernel >= 6.0). Fix: run on Linux >= 6.1.");
		break;
	default:
		snprintf(buf, sizeof buf, "io_uring set-up failed: %s", strerror(-err));
	}
	return buf;
}

#define MAX_RING_BUFS 32768u

/* The smallest power of two >= v; v <= MAX_RING_BUFS. */
static unsigned round_pow2(unsigned v)
{
	unsigned p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

struct core_rt *core_rt_new(const struct core_rt_opts *opts, int *err)
{
	struct core_rt *rt = calloc(1, sizeof *rt);
	struct io_uring probe;
	int ret;

	if (!rt) {
		*err = -ENOMEM;
		return NULL;
	}
	if (opts)
		rt->o = *opts;
	struct core_rt_opts *o = &rt->o;
	if (!o->num_threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		o->num_threads = n > 0 ? (unsigned)n : 1;
	}
	if (!o->sq_entries)
		o->sq_entries = DEFAULT_SQ;
	/* Checked before rounding: round_pow2 of a value above 2^31 would
	 * never end. A ring has at most 32,768 entries. */
	if (o->stream_bufs > MAX_RING_BUFS || o->stream_bufs_max > MAX_RING_BUFS || o->dgram_bufs > MAX_RING_BUFS ||
	    o->udp_gro_bufs > MAX_RING_BUFS) {
		*err = -EINVAL;
		goto fail;
	}
	o->stream_bufs = round_pow2(o->stream_bufs ? o->stream_bufs : DEFAULT_STREAM_BUFS);
	o->dgram_bufs = round_pow2(o->dgram_bufs ? o->dgram_bufs : DEFAULT_DGRAM_BUFS);
	o->stream_bufs_max = o->stream_bufs_max > o->stream_bufs ? round_pow2(o->stream_bufs_max) : o->stream_bufs;
	if (o->udp_gro_bufs)
		o->udp_gro_bufs = round_pow2(o->udp_gro_bufs);
	if (!o->stream_buf_size)
		o->stream_buf_size = DEFAULT_STREAM_BUF_SIZE;
	if (!o->dgram_buf_size)
		o->dgram_buf_size = DEFAULT_DGRAM_BUF_SIZE;
	if (!o->udp_gro_buf_size)
		o->udp_gro_buf_size = DEFAULT_UDP_GRO_BUF_SIZE;
	if (!o->zc_threshold)
		o->zc_threshold = DEFAULT_ZC_THRESHOLD;
	if (!o->shutdown_grace_ms)
		o->shutdown_grace_ms = DEFAULT_GRACE_MS;

	/* Probe: can this process use io_uring at all? */
	ret = io_uring_queue_init(2, &probe, 0);
	if (ret < 0) {
		*err = ret;
		goto fail;
	}
	io_uring_queue_exit(&probe);

	rt->r = calloc(o->num_threads, sizeof *rt->r);
	if (!rt->r) {
		*err = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < o->num_threads; i++) {
		struct core_reactor *r = &rt->r[i];
		r->rt = rt;
		r->idx = i;
		r->ring.ring_fd = -1;
		pthread_mutex_init(&r->inbox_lock, NULL);
		r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (r->wake_fd < 0) {
			*err = -errno;
			goto fail;
		}
	}
	return rt;
fail:
	core_rt_free(rt);
	return NULL;
}

void core_rt_free(struct core_rt *rt)
{
	if (!rt)
		return;
	if (rt->r) {
		for (unsigned i = 0; i < rt->o.num_threads; i++) {
			struct core_reactor *r = &rt->r[i];
			if (r->wake_fd > 0)
				close(r->wake_fd);
			while (r->inbox) {
				struct msg *m = r->inbox;
				r->inbox = m->next;
				free(m);
			}
			pthread_mutex_destroy(&r->inbox_lock);
		}
		free(rt->r);
	}
	free(rt);
}

int core_rt_run(struct core_rt *rt, core_task_fn main_fn, void *arg)
{
	sigset_t sigs, old;
	int ret = 0;

	if (rt->ran)
		return -EALREADY;
	rt->ran = true;
	rt->main_fn = main_fn;
	rt->main_arg = arg;
	signal(SIGPIPE, SIG_IGN);

	if (rt->o.handle_signals) {
		sigemptyset(&sigs);
		sigaddset(&sigs, SIGINT);
		sigaddset(&sigs, SIGTERM);
		sigaddset(&sigs, SIGHUP);
		pthread_sigmask(SIG_BLOCK, &sigs, &old);
		sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
		if (sig_fd < 0)
			return -errno;
	}
	for (unsigned i = 1; i < rt->o.num_threads; i++) {
		int e = pthread_create(&rt->r[i].thread, NULL, reactor_main, &rt->r[i]);
		rt->r[i].started = (e == 0);
		if (e) {
			core_log(CORE_LOG_ERR, "cannot start reactor thread %u: %s", i, strerror(e));
			core_rt_shutdown(rt);
			ret = -e;
			for (unsigned j = i; j < rt->o.num_threads; j++)
				rt->r[j].start_err = -e;
			break;
		}
	}
	reactor_main(&rt->r[0]);
	for (unsigned i = 1; i < rt->o.num_threads; i++)
		if (rt->r[i].started)
			pthread_join(rt->r[i].thread, NULL);
	for (unsigned i = 0; i < rt->o.num_threads; i++)
		if (rt->r[i].start_err < 0 && ret == 0)
			ret = rt->r[i].start_err;
	if (rt->o.handle_signals) {
		close(sig_fd);
		sig_fd = -1;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	return ret;
}
