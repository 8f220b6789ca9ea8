/* The coroutine switch against syscalls and swapcontext: see
 * bench/switch_cost.h. */
#include "bench/switch_cost.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "bench/proc.h"
#include "bench/stats.h"
#include "core/coro.h"

static void yielder(void *arg)
{
	uint64_t n = *(const uint64_t *)arg;
	for (uint64_t i = 0; i < n; i++)
		core_coro_yield();
}

/* ns per switch over n resume+yield pairs (n + 1 resumes, 2n + 2 switches). */
static int coro_run(uint64_t n, double *out_ns)
{
	int err = 0;
	struct core_coro *co = core_coro_new(yielder, &n, 0, &err);
	if (!co)
		return err;
	uint64_t t0 = bench_mono_ns();
	uint64_t resumes = 1;
	while (core_coro_resume(co) && resumes <= n)
		resumes++;
	uint64_t t1 = bench_mono_ns();
	core_coro_free(co);
	*out_ns = (double)(t1 - t0) / (2.0 * (double)resumes);
	return 0;
}

static double getppid_run(uint64_t n)
{
	uint64_t t0 = bench_mono_ns();
	for (uint64_t i = 0; i < n; i++)
		(void)syscall(SYS_getppid); /* glibc does not cache it, but be explicit */
	return (double)(bench_mono_ns() - t0) / (double)n;
}

static double devnull_run(int fd, uint64_t n)
{
	char c = 0;
	uint64_t t0 = bench_mono_ns();
	for (uint64_t i = 0; i < n; i++)
		(void)!write(fd, &c, 0);
	return (double)(bench_mono_ns() - t0) / (double)n;
}

static ucontext_t uc_main, uc_co;
static uint64_t uc_pairs;

static void uc_loop(void)
{
	for (uint64_t i = 0; i < uc_pairs; i++)
		swapcontext(&uc_co, &uc_main);
}

/* swapcontext saves and restores the signal mask: a syscall per switch. */
static int swapctx_run(uint64_t n, double *out_ns)
{
	enum { STACK = 64 * 1024 };
	void *stack = malloc(STACK);
	if (!stack)
		return -ENOMEM;
	getcontext(&uc_co);
	uc_co.uc_stack.ss_sp = stack;
	uc_co.uc_stack.ss_size = STACK;
	uc_co.uc_link = &uc_main;
	uc_pairs = n;
	makecontext(&uc_co, uc_loop, 0);
	uint64_t t0 = bench_mono_ns();
	for (uint64_t i = 0; i <= n; i++) /* the last swap returns through uc_link */
		swapcontext(&uc_main, &uc_co);
	uint64_t t1 = bench_mono_ns();
	free(stack);
	*out_ns = (double)(t1 - t0) / (2.0 * (double)(n + 1));
	return 0;
}

int bench_switch_measure(struct bench_switch_result *out)
{
	double coro[BENCH_SWITCH_RUNS], ppid[BENCH_SWITCH_RUNS], dn[BENCH_SWITCH_RUNS], swc[BENCH_SWITCH_RUNS];
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "atmosphere-bench core: open /dev/null: %s\n", strerror(errno));
		return -1;
	}
	double warm;
	coro_run(BENCH_SWITCH_PAIRS / 10, &warm); /* fault in the stack, settle the clock */
	/* Interleave the kinds so a frequency change hits them alike. */
	for (int r = 0; r < BENCH_SWITCH_RUNS; r++) {
		int err = coro_run(BENCH_SWITCH_PAIRS, &coro[r]);
		if (!err)
			err = swapctx_run(BENCH_SWITCH_SWAPCTX_PAIRS, &swc[r]);
		if (err) {
			fprintf(stderr, "atmosphere-bench core: coroutine: %s\n", strerror(-err));
			close(fd);
			return -1;
		}
		ppid[r] = getppid_run(BENCH_SWITCH_SYSCALLS);
		dn[r] = devnull_run(fd, BENCH_SWITCH_SYSCALLS);
	}
	close(fd);
	out->coro_ns = bench_median(coro, BENCH_SWITCH_RUNS);
	out->getppid_ns = bench_median(ppid, BENCH_SWITCH_RUNS);
	out->devnull_ns = bench_median(dn, BENCH_SWITCH_RUNS);
	out->swapctx_ns = bench_median(swc, BENCH_SWITCH_RUNS);
	return 0;
}
