/* core/reactor: timers (the heap itself and through the reactor), parking, cross-thread messages, shutdown, errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h" /* the timer heap: driven directly below */
#include "core/reactor.h"
#include "helpers.h"

/* ---- timers ---- */

struct timer_case {
	struct core_timer t[5];
	int order[5];
	int fired;
	bool cancelled_fired;
};

static void on_timer(struct core_timer *t)
{
	struct timer_case *c = t->arg;
	int idx = (int)(t - c->t);
	if (idx == 2)
		c->cancelled_fired = true;
	c->order[c->fired++] = idx;
}

static void timers_main(void *arg)
{
	struct timer_case *c = arg;
	if (core_reactor_index(core_self()) != 0)
		return;
	static const unsigned ms[5] = {50, 10, 30, 20, 40};
	for (int i = 0; i < 5; i++)
		core_timer_arm(&c->t[i], ms[i], on_timer, c);
	core_timer_cancel(&c->t[2]);
	cr_assert_not(core_timer_armed(&c->t[2]));
	core_sleep(80);
	core_rt_shutdown(core_reactor_rt(core_self()));
}

Test(core_reactor, timers_fire_in_deadline_order_and_cancel, .timeout = 10)
{
	struct timer_case c;
	struct t_rt t;
	memset(&c, 0, sizeof c);
	t_rt_start(&t, NULL, timers_main, &c);
	cr_assert_eq(t_rt_join(&t), 0);
	cr_assert_eq(c.fired, 4);
	cr_assert_not(c.cancelled_fired, "a cancelled timer fired");
	int want[4] = {1, 3, 4, 0};
	for (int i = 0; i < 4; i++)
		cr_assert_eq(c.order[i], want[i], "position %d: timer %d, want %d", i, c.order[i], want[i]);
}

/* ---- the timer heap itself (core/internal.h), with chosen deadlines ----
 *
 * Deadlines through core_timer_arm come from the clock and are never equal;
 * these tests drive core_timer_heap_set/remove directly, so equal deadlines,
 * removals from any position and re-arms are exercised deterministically.
 * After every change heap_check verifies the whole structure: the min-heap
 * order of the slots, each slot's deadline equal to its timer's, and each
 * timer's heap_idx pointing back at its slot. */

static uint64_t t_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void heap_check(const struct core_timer_heap *h)
{
	for (unsigned i = 1; i <= h->len; i++) {
		const struct timer_slot *s = &h->slot[i];
		cr_assert_eq(s->t->heap_idx, i, "slot %u: its timer says slot %u", i, s->t->heap_idx);
		cr_assert_eq(s->deadline_ns, s->t->deadline_ns, "slot %u: deadline %lu, its timer's %lu", i,
			     (unsigned long)s->deadline_ns, (unsigned long)s->t->deadline_ns);
		if (i > 1)
			cr_assert_leq(h->slot[i / 2].deadline_ns, s->deadline_ns, "slot %u (%lu) above slot %u (%lu)",
				      i / 2, (unsigned long)h->slot[i / 2].deadline_ns, i, (unsigned long)s->deadline_ns);
	}
}

/* Removes the earliest timer and returns it (the way fire_timers does). */
static struct core_timer *heap_pop(struct core_timer_heap *h)
{
	cr_assert_gt(h->len, 0u);
	struct core_timer *t = h->slot[1].t;
	core_timer_heap_remove(h, t);
	cr_assert_eq(t->heap_idx, 0u, "a removed timer still says it is armed");
	return t;
}

/* Pops everything; checks the order, that each timer of ts[0..n) comes out
 * exactly when want_armed[i], and with deadline want[i]; then none is armed. */
static void heap_drain(struct core_timer_heap *h, struct core_timer *ts, unsigned n, bool *want_armed,
		       const uint64_t *want)
{
	unsigned *seen = calloc(n, sizeof *seen);
	cr_assert_not_null(seen);
	unsigned expect = 0;
	for (unsigned i = 0; i < n; i++)
		expect += want_armed[i];
	cr_assert_eq(h->len, expect, "%u timers in the heap, %u armed", h->len, expect);
	uint64_t last = 0;
	for (unsigned k = 0; k < expect; k++) {
		struct core_timer *t = heap_pop(h);
		unsigned i = (unsigned)(t - ts);
		cr_assert_lt(i, n);
		cr_assert(want_armed[i], "timer %u came out but was not armed", i);
		cr_assert_eq(seen[i]++, 0u, "timer %u came out twice", i);
		cr_assert_eq(t->deadline_ns, want[i], "timer %u: deadline %lu, armed at %lu", i,
			     (unsigned long)t->deadline_ns, (unsigned long)want[i]);
		cr_assert_geq(t->deadline_ns, last, "pop %u: deadline %lu after %lu", k, (unsigned long)t->deadline_ns,
			      (unsigned long)last);
		last = t->deadline_ns;
		if (k % 64 == 0)
			heap_check(h);
	}
	cr_assert_eq(h->len, 0u);
	for (unsigned i = 0; i < n; i++)
		want_armed[i] = false;
	free(seen);
}

struct heap_case {
	struct core_timer_heap h;
	struct core_timer *t;
	bool *armed;
	uint64_t *want;
	unsigned n;
};

static void heap_case_init(struct heap_case *c, unsigned n)
{
	memset(c, 0, sizeof *c);
	c->n = n;
	c->t = calloc(n, sizeof *c->t);
	c->armed = calloc(n, sizeof *c->armed);
	c->want = calloc(n, sizeof *c->want);
	cr_assert(c->t && c->armed && c->want);
}

static void heap_case_set(struct heap_case *c, unsigned i, uint64_t d)
{
	unsigned len = c->h.len;
	cr_assert_eq(core_timer_heap_set(&c->h, &c->t[i], d), 0);
	cr_assert_eq(c->h.len, len + !c->armed[i], "re-arming timer %u changed the count", i);
	c->armed[i] = true;
	c->want[i] = d;
}

static void heap_case_remove(struct heap_case *c, unsigned i)
{
	unsigned len = c->h.len;
	core_timer_heap_remove(&c->h, &c->t[i]);
	cr_assert_eq(c->h.len, len - c->armed[i]);
	cr_assert_eq(c->t[i].heap_idx, 0u);
	c->armed[i] = false;
}

static void heap_case_cleanup(struct heap_case *c)
{
	core_timer_heap_cleanup(&c->h);
	free(c->t);
	free(c->armed);
	free(c->want);
}

Test(core_timer_heap, pops_in_deadline_order, .timeout = 10)
{
	struct heap_case c;
	uint64_t rng = 1;
	heap_case_init(&c, 1000);
	for (unsigned i = 0; i < c.n; i++) {
		heap_case_set(&c, i, 1000 + t_rand(&rng) % 100000);
		heap_check(&c.h);
	}
	heap_drain(&c.h, c.t, c.n, c.armed, c.want);
	heap_case_cleanup(&c);
}

Test(core_timer_heap, cancels_from_any_position, .timeout = 10)
{
	struct heap_case c;
	uint64_t rng = 2;
	heap_case_init(&c, 1000);
	for (unsigned i = 0; i < c.n; i++)
		heap_case_set(&c, i, t_rand(&rng) % 5000);
	/* Every third timer, wherever the heap put it: the root, leaves,
	 * inner slots, and the last slot (a removal that moves nothing). */
	for (unsigned i = 0; i < c.n; i += 3) {
		heap_case_remove(&c, i);
		heap_check(&c.h);
	}
	struct core_timer *root = c.h.slot[1].t, *last = c.h.slot[c.h.len].t;
	heap_case_remove(&c, (unsigned)(root - c.t));
	heap_check(&c.h);
	heap_case_remove(&c, (unsigned)(last - c.t));
	heap_check(&c.h);
	/* Cancelling a timer that is not armed changes nothing. */
	unsigned len = c.h.len;
	core_timer_heap_remove(&c.h, &c.t[0]);
	cr_assert_eq(c.h.len, len);
	heap_check(&c.h);
	heap_drain(&c.h, c.t, c.n, c.armed, c.want);
	heap_case_cleanup(&c);
}

Test(core_timer_heap, rearm_moves_an_armed_timer_earlier_or_later, .timeout = 10)
{
	struct heap_case c;
	uint64_t rng = 3;
	heap_case_init(&c, 512);
	for (unsigned i = 0; i < c.n; i++)
		heap_case_set(&c, i, 1000 + t_rand(&rng) % 10000);
	/* Earlier than all: it becomes the root. */
	heap_case_set(&c, 100, 1);
	heap_check(&c.h);
	cr_assert_eq(c.h.slot[1].t, &c.t[100]);
	/* The root, later than all: it must leave the root. */
	heap_case_set(&c, 100, 1000000);
	heap_check(&c.h);
	cr_assert_neq(c.h.slot[1].t, &c.t[100]);
	/* Re-armed at its own deadline, and many at random. */
	heap_case_set(&c, 7, c.want[7]);
	heap_check(&c.h);
	for (unsigned k = 0; k < 2000; k++) {
		heap_case_set(&c, (unsigned)(t_rand(&rng) % c.n), t_rand(&rng) % 20000);
		heap_check(&c.h);
	}
	/* Re-armed after a cancel: armed again, counted once. */
	heap_case_remove(&c, 9);
	heap_case_set(&c, 9, 5);
	heap_check(&c.h);
	heap_drain(&c.h, c.t, c.n, c.armed, c.want);
	heap_case_cleanup(&c);
}

Test(core_timer_heap, equal_deadlines_all_come_out_once, .timeout = 10)
{
	struct heap_case c;
	uint64_t rng = 4;
	heap_case_init(&c, 600);
	/* All equal, then some cancelled and re-armed at the same instant. */
	for (unsigned i = 0; i < c.n; i++)
		heap_case_set(&c, i, 777);
	heap_check(&c.h);
	for (unsigned i = 1; i < c.n; i += 4)
		heap_case_remove(&c, i);
	for (unsigned i = 1; i < c.n; i += 8)
		heap_case_set(&c, i, 777);
	for (unsigned i = 2; i < c.n; i += 5)
		heap_case_set(&c, i, 777);
	heap_check(&c.h);
	heap_drain(&c.h, c.t, c.n, c.armed, c.want);
	/* Three values only: long runs of equal keys between others. */
	for (unsigned i = 0; i < c.n; i++)
		heap_case_set(&c, i, 776 + t_rand(&rng) % 3);
	for (unsigned i = 0; i < c.n; i += 7)
		heap_case_remove(&c, i);
	heap_check(&c.h);
	heap_drain(&c.h, c.t, c.n, c.armed, c.want);
	heap_case_cleanup(&c);
}

Test(core_timer_heap, many_timers_under_random_operations, .timeout = 60)
{
	struct heap_case c;
	uint64_t rng = 5;
	heap_case_init(&c, 50000);
	for (unsigned k = 0; k < 400000; k++) {
		uint64_t x = t_rand(&rng);
		unsigned i = (unsigned)((x >> 20) % c.n);
		if (x % 4 == 0)
			heap_case_remove(&c, i);
		else
			heap_case_set(&c, i, (x >> 8) % 100000);
		if (k % 50000 == 0)
			heap_check(&c.h);
		/* The earliest now and then, as the reactor does. */
		if (x % 16 == 1 && c.h.len) {
			struct core_timer *t = heap_pop(&c.h);
			c.armed[t - c.t] = false;
		}
	}
	heap_check(&c.h);
	cr_assert_geq(c.h.len, 10000u, "only %u timers armed: the test lost its size", c.h.len);
	heap_drain(&c.h, c.t, c.n, c.armed, c.want);
	heap_case_cleanup(&c);
}

/* ---- many timers through the reactor ---- */

enum { MANY_TIMERS = 5000, MANY_MS = 40 };

struct many_case {
	struct core_timer t[MANY_TIMERS];
	unsigned fired[MANY_TIMERS];
	bool want[MANY_TIMERS];
	unsigned expected, total;
	uint64_t last_deadline;
	unsigned early, out_of_order;
	bool rearmed_self;
};

static void on_many(struct core_timer *t)
{
	struct many_case *c = t->arg;
	unsigned i = (unsigned)(t - c->t);
	if (core_clock_ns() < t->deadline_ns)
		c->early++;
	if (t->deadline_ns < c->last_deadline)
		c->out_of_order++;
	c->last_deadline = t->deadline_ns;
	c->fired[i]++;
	c->total++;
	/* Timer 1 re-arms itself from its callback once. */
	if (i == 1 && !c->rearmed_self) {
		c->rearmed_self = true;
		core_timer_arm(t, 3, on_many, c);
	}
}

static void many_main(void *arg)
{
	struct many_case *c = arg;
	uint64_t rng = 6;
	for (unsigned i = 0; i < MANY_TIMERS; i++) {
		cr_assert_eq(core_timer_arm(&c->t[i], (unsigned)(t_rand(&rng) % MANY_MS), on_many, c), 0);
		c->want[i] = true;
	}
	for (unsigned i = 0; i < MANY_TIMERS; i += 3) {
		core_timer_cancel(&c->t[i]);
		c->want[i] = false;
	}
	/* Re-armed while armed, and after a cancel (i divisible by 15). */
	for (unsigned i = 0; i < MANY_TIMERS; i += 5) {
		cr_assert_eq(core_timer_arm(&c->t[i], (unsigned)(t_rand(&rng) % MANY_MS), on_many, c), 0);
		c->want[i] = true;
	}
	for (unsigned i = 0; i < MANY_TIMERS; i++)
		c->expected += c->want[i] + (i == 1);
	for (int w = 0; w < 200 && c->total < c->expected; w++)
		core_sleep(5);
	core_sleep(2 * MANY_MS); /* anything cancelled that would fire, fires now */
	core_rt_shutdown(core_reactor_rt(core_self()));
}

Test(core_reactor, many_timers_fire_once_in_deadline_order_never_early, .timeout = 20)
{
	struct many_case *c = calloc(1, sizeof *c);
	struct t_rt t;
	cr_assert_not_null(c);
	t_rt_start(&t, &(struct core_rt_opts){.num_threads = 1}, many_main, c);
	cr_assert_eq(t_rt_join(&t), 0);
	cr_assert_eq(c->early, 0u, "%u timers fired before their deadline", c->early);
	cr_assert_eq(c->out_of_order, 0u, "%u timers fired after a later one", c->out_of_order);
	cr_assert_eq(c->total, c->expected, "%u callbacks, want %u", c->total, c->expected);
	for (unsigned i = 0; i < MANY_TIMERS; i++)
		cr_assert_eq(c->fired[i], (unsigned)c->want[i] + (i == 1), "timer %u fired %u times (armed: %d)", i,
			     c->fired[i], c->want[i]);
	free(c);
}

struct sleep_case {
	uint64_t slept_ns;
};

static void sleep_main(void *arg)
{
	struct sleep_case *c = arg;
	if (core_reactor_index(core_self()) != 0)
		return;
	uint64_t t0 = t_now_ns();
	cr_assert_eq(core_sleep(30), 0);
	c->slept_ns = t_now_ns() - t0;
	core_rt_shutdown(core_reactor_rt(core_self()));
}

Test(core_reactor, sleep_lasts_at_least_its_duration, .timeout = 10)
{
	struct sleep_case c = {0};
	struct t_rt t;
	t_rt_start(&t, NULL, sleep_main, &c);
	t_rt_join(&t);
	cr_assert_geq(c.slept_ns, 30u * 1000000u, "slept %lu ns", (unsigned long)c.slept_ns);
}

/* ---- park / unpark ---- */

struct park_case {
	struct core_coro *sleeper;
	int got, timeout_res;
};

static void parker(void *arg)
{
	struct park_case *c = arg;
	c->sleeper = core_coro_current();
	c->got = core_park(-1);
	c->timeout_res = core_park(10);
}

static void park_main(void *arg)
{
	struct park_case *c = arg;
	if (core_reactor_index(core_self()) != 0)
		return;
	core_spawn(parker, c);
	core_yield();
	core_yield();
	cr_assert(core_unpark(c->sleeper, 1234));
	cr_assert_not(core_unpark(c->sleeper, 5), "unpark of a ready coroutine must refuse");
	core_sleep(50);
	core_rt_shutdown(core_reactor_rt(core_self()));
}

Test(core_reactor, park_returns_unpark_value_or_times_out, .timeout = 10)
{
	struct park_case c = {0};
	struct t_rt t;
	t_rt_start(&t, NULL, park_main, &c);
	t_rt_join(&t);
	cr_assert_eq(c.got, 1234);
	cr_assert_eq(c.timeout_res, -ETIMEDOUT);
}

/* ---- core_task_interrupt ---- */

struct interrupt_case {
	struct core_coro *co;
	int waiting_res, next_res, after_res;
	bool done;
};

static void interruptee(void *arg)
{
	struct interrupt_case *c = arg;
	c->co = core_coro_current();
	c->waiting_res = core_sleep(60000); /* interrupted while it waits */
	c->next_res = core_sleep(60000);    /* interrupted before it waited */
	c->after_res = core_sleep(1);       /* one wait only: this one runs */
	c->done = true;
}

static void interrupt_main(void *arg)
{
	struct interrupt_case *c = arg;
	if (core_reactor_index(core_self()) != 0)
		return;
	core_spawn(interruptee, c);
	core_yield();
	core_yield();
	core_task_interrupt(c->co); /* parked: woken now */
	core_task_interrupt(c->co); /* ready, not waiting: its next wait */
	while (!c->done)
		core_sleep(5);
	core_rt_shutdown(core_reactor_rt(core_self()));
}

Test(core_reactor, interrupt_fails_the_current_or_next_wait_once, .timeout = 10)
{
	struct interrupt_case c = {0};
	struct t_rt t;
	t_rt_start(&t, NULL, interrupt_main, &c);
	t_rt_join(&t);
	cr_assert(c.done);
	cr_assert_eq(c.waiting_res, -ECANCELED);
	cr_assert_eq(c.next_res, -ECANCELED);
	cr_assert_eq(c.after_res, 0);
}

/* ---- cross-thread messages ---- */

struct hop_case {
	atomic_int hops;
	atomic_int wrong_thread;
	int n;
};

static void hop(void *arg);

static void hop_main(void *arg)
{
	struct hop_case *c = arg;
	if (core_reactor_index(core_self()) == 0)
		cr_assert_eq(core_rt_post(core_reactor_rt(core_self()), 1, hop, c), 0);
}

/* Each hop runs on the reactor it was posted to, then posts to the other. */
static void hop(void *arg)
{
	struct hop_case *c = arg;
	int n = atomic_fetch_add(&c->hops, 1);
	unsigned want = (unsigned)(n % 2 == 0 ? 1 : 0);
	if (core_reactor_index(core_self()) != want)
		atomic_fetch_add(&c->wrong_thread, 1);
	if (n + 1 < c->n)
		core_rt_post(core_reactor_rt(core_self()), 1 - core_reactor_index(core_self()), hop, c);
	else
		core_rt_shutdown(core_reactor_rt(core_self()));
}

Test(core_reactor, messages_hop_between_threads_in_order, .timeout = 20)
{
	struct hop_case c = {.n = 10000};
	struct t_rt t;
	t_rt_start(&t, NULL, hop_main, &c);
	t_rt_join(&t);
	cr_assert_eq(atomic_load(&c.hops), 10000);
	cr_assert_eq(atomic_load(&c.wrong_thread), 0);
}

static void foreign_target(void *arg)
{
	atomic_int *ran_on = arg;
	atomic_store(ran_on, (int)core_reactor_index(core_self()) + 1);
}

static void idle_main(void *arg) { (void)arg; }

static bool ran(void *arg) { return atomic_load((atomic_int *)arg) != 0; }

Test(core_reactor, post_from_a_foreign_thread_runs_on_target, .timeout = 10)
{
	atomic_int ran_on = 0;
	struct t_rt t;
	t_rt_start(&t, NULL, idle_main, NULL);
	cr_assert_eq(core_rt_post(t.rt, 1, foreign_target, &ran_on), 0);
	cr_assert_eq(core_rt_post(t.rt, 7, foreign_target, &ran_on), -EINVAL);
	cr_assert(t_wait_until(ran, &ran_on, 5000));
	cr_assert_eq(atomic_load(&ran_on), 2);
	t_rt_stop(&t);
}

/* ---- shutdown ---- */

struct stop_case {
	struct core_shutdown_hook hook;
	struct core_coro *polite;
	int polite_res, stubborn_res;
	atomic_int hooks_ran;
	atomic_int parked;
};

static void on_stop(void *arg)
{
	struct stop_case *c = arg;
	atomic_fetch_add(&c->hooks_ran, 1);
	core_unpark(c->polite, 99);
}

static void polite(void *arg)
{
	struct stop_case *c = arg;
	c->polite = core_coro_current();
	core_on_shutdown(&c->hook, on_stop, c);
	atomic_fetch_add(&c->parked, 1);
	c->polite_res = core_park(-1);
	core_shutdown_hook_remove(&c->hook);
}

static void stubborn(void *arg)
{
	struct stop_case *c = arg;
	/* Ignores shutdown: only the forced cancellation gets it out. */
	atomic_fetch_add(&c->parked, 1);
	c->stubborn_res = core_sleep(600000);
}

static void stop_main(void *arg)
{
	if (core_reactor_index(core_self()) != 0)
		return;
	core_spawn(polite, arg);
	core_spawn(stubborn, arg);
}

static bool both_parked(void *arg) { return atomic_load((atomic_int *)arg) == 2; }

Test(core_reactor, shutdown_runs_hooks_then_cancels_stragglers_in_bounded_time, .timeout = 20)
{
	struct stop_case c;
	struct core_rt_opts o = {.num_threads = 2, .shutdown_grace_ms = 200};
	struct t_rt t;
	memset(&c, 0, sizeof c);
	t_rt_start(&t, &o, stop_main, &c);
	cr_assert(t_wait_until(both_parked, &c.parked, 5000));
	uint64_t t0 = t_now_ns();
	core_rt_shutdown(t.rt);
	pthread_join(t.thread, NULL);
	uint64_t took_ms = (t_now_ns() - t0) / 1000000u;
	cr_assert_eq(core_rt_abandoned(t.rt), 0);
	core_rt_free(t.rt);
	cr_assert_eq(atomic_load(&c.hooks_ran), 1);
	cr_assert_eq(c.polite_res, 99, "the hook's wake-up value");
	cr_assert_eq(c.stubborn_res, -ECANCELED);
	cr_assert_lt(took_ms, 3000, "shutdown took %lu ms", (unsigned long)took_ms);
}

/* ---- io_uring unavailable ---- */

/* Installs a seccomp filter that fails io_uring_setup with EPERM, the way a
 * container's profile does, and checks the message names cause and fix. */
Test(core_reactor, explains_io_uring_blocked_by_seccomp, .timeout = 10)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0), /* seccomp_data.nr */
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {.len = 4, .filter = f};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			_exit(2);
		int err = 0;
		struct core_rt *rt = core_rt_new(NULL, &err);
		if (rt || err != -EPERM)
			_exit(3);
		const char *msg = core_rt_explain(err);
		if (!strstr(msg, "seccomp") || !strstr(msg, "Fix"))
			_exit(4);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0, "child step %d failed", WEXITSTATUS(status));
}

/* Ring sizes above 32,768 are refused, however large: rounding one above
 * 2^31 up to a power of two never ended before. */
Test(core_reactor, ring_sizes_above_the_limit_are_refused, .timeout = 10)
{
	const unsigned huge[] = {32769u, 3u << 30, UINT32_MAX};
	for (unsigned i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		struct core_rt_opts a = {.num_threads = 1, .stream_bufs_max = huge[i]};
		struct core_rt_opts b = {.num_threads = 1, .stream_bufs = huge[i]};
		struct core_rt_opts c = {.num_threads = 1, .dgram_bufs = huge[i]};
		const struct core_rt_opts *o[] = {&a, &b, &c};
		for (unsigned k = 0; k < 3; k++) {
			int err = 0;
			struct core_rt *rt = core_rt_new(o[k], &err);
			cr_expect_null(rt, "size %u (field %u) accepted", huge[i], k);
			cr_expect_eq(err, -EINVAL, "size %u (field %u): %d", huge[i], k, err);
			if (rt)
				core_rt_free(rt);
		}
	}
}
