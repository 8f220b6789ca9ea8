/* core/coro: switching, defers, stack guard, pool reuse. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/coro.h"

static void count_to_three(void *arg)
{
	int *n = arg;
	for (int i = 0; i < 3; i++) {
		(*n)++;
		core_coro_yield();
	}
}

Test(core_coro, resumes_where_it_yielded)
{
	int n = 0, err = 0;
	struct core_coro *co = core_coro_new(count_to_three, &n, 0, &err);
	cr_assert_not_null(co);
	cr_assert(core_coro_resume(co));
	cr_assert_eq(n, 1);
	cr_assert(core_coro_resume(co));
	cr_assert_eq(n, 2);
	cr_assert(core_coro_resume(co));
	cr_assert_eq(n, 3);
	cr_assert_not(core_coro_resume(co), "finished coroutine must report done");
	core_coro_free(co);
}

struct interleave {
	char log[64];
	int pos;
};

static void writer_a(void *arg)
{
	struct interleave *il = arg;
	for (int i = 0; i < 3; i++) {
		il->log[il->pos++] = 'a';
		core_coro_yield();
	}
}

static void writer_b(void *arg)
{
	struct interleave *il = arg;
	for (int i = 0; i < 3; i++) {
		il->log[il->pos++] = 'b';
		core_coro_yield();
	}
}

Test(core_coro, two_coroutines_keep_separate_stacks)
{
	struct interleave il = {0};
	struct core_coro *a = core_coro_new(writer_a, &il, 0, NULL);
	struct core_coro *b = core_coro_new(writer_b, &il, 0, NULL);
	bool ra = true, rb = true;
	while (ra || rb) {
		if (ra)
			ra = core_coro_resume(a);
		if (rb)
			rb = core_coro_resume(b);
	}
	cr_assert_str_eq(il.log, "ababab");
	core_coro_free(a);
	core_coro_free(b);
}

static void record(void *arg)
{
	char *s = arg;
	s[strlen(s)] = s[63];
	s[63]++;
}

struct defer_arg {
	char order[64];
};

static void defers_then_returns(void *arg)
{
	struct defer_arg *d = arg;
	core_coro_defer(core_coro_current(), record, d->order);
	core_coro_defer(core_coro_current(), record, d->order);
	core_coro_yield();
}

Test(core_coro, defers_run_last_first_when_coroutine_ends)
{
	struct defer_arg d;
	memset(&d, 0, sizeof d);
	d.order[63] = '1';
	struct core_coro *co = core_coro_new(defers_then_returns, &d, 0, NULL);
	cr_assert(core_coro_resume(co));
	cr_assert_str_eq(d.order, "", "defers must not run while the coroutine lives");
	cr_assert_not(core_coro_resume(co));
	cr_assert_str_eq(d.order, "12");
	core_coro_free(co);
}

static void floats_survive(void *arg)
{
	double *x = arg;
	double local = 1.5;
	core_coro_yield();
	*x = local * 2.0;
}

Test(core_coro, callee_saved_state_survives_switch)
{
	double x = 0;
	struct core_coro *co = core_coro_new(floats_survive, &x, 0, NULL);
	core_coro_resume(co);
	volatile double spill = 42.0;
	core_coro_resume(co);
	cr_assert_float_eq(x, 3.0, 1e-9);
	cr_assert_float_eq(spill, 42.0, 1e-9);
	core_coro_free(co);
}

static volatile int depth_limit = 1 << 20;

static int recurse(volatile uint8_t *prev, int depth)
{
	volatile uint8_t pad[1024];
	pad[0] = prev ? prev[0] : 1;
	if (depth >= depth_limit)
		return pad[0];
	return recurse(pad, depth + 1) + pad[1];
}

static void overflow(void *arg)
{
	(void)arg;
	recurse(NULL, 0);
}

/* The guard page turns a stack overflow into SIGSEGV, never silent
 * corruption. Runs in a child so the fault does not end the test run. */
Test(core_coro, stack_overflow_hits_guard_page)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct core_coro *co = core_coro_new(overflow, NULL, 16 * 1024, NULL);
		core_coro_resume(co);
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
#ifdef __SANITIZE_ADDRESS__
	/* ASan catches the fault on the guard page, reports a stack overflow and
	 * exits non-zero instead of dying by the signal. */
	cr_assert(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0),
		  "overflow must fault (status %d)", status);
#else
	cr_assert(WIFSIGNALED(status), "overflow must fault (status %d)", status);
#endif
}

static void noop(void *arg) { (void)arg; }

Test(core_coro, finished_coroutines_are_pooled_and_reused)
{
	struct core_coro *a = core_coro_new(noop, NULL, 0, NULL);
	cr_assert_not(core_coro_resume(a));
	core_coro_free(a);
	struct core_coro *b = core_coro_new(noop, NULL, 0, NULL);
	cr_assert_eq(a, b, "a finished coroutine's stack should be reused");
	cr_assert_not(core_coro_resume(b));
	core_coro_free(b);
	core_coro_pool_trim();
}
