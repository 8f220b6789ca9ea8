/* core/reactor: timers, parking, cross-thread messages, shutdown, errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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
