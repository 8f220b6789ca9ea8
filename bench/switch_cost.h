#ifndef BENCH_SWITCH_COST_H
#define BENCH_SWITCH_COST_H
/* bench/switch_cost.h: what a coroutine switch costs, beside what a thread
 * pays to enter the kernel and what a ucontext-based coroutine would pay.
 *
 * core_coro_resume + core_coro_yield pairs are timed in ns per switch; the
 * baselines are a getppid() syscall, a 0-byte write to /dev/null and a
 * swapcontext switch (which saves and restores the signal mask: a syscall
 * each). The kinds are interleaved over BENCH_SWITCH_RUNS runs so a change of
 * CPU frequency hits them alike, and each reports its median. */

enum bench_switch_limits {
	BENCH_SWITCH_RUNS = 5,                     /* runs; the median is reported */
	BENCH_SWITCH_PAIRS = 5000000,              /* resume+yield pairs a run: 10M switches */
	BENCH_SWITCH_SYSCALLS = 300000,            /* syscalls a run */
	BENCH_SWITCH_SWAPCTX_PAIRS = 300000,       /* swapcontext pairs a run (2 syscalls each) */
};

/* struct bench_switch_result: medians, ns per switch or per call. */
struct bench_switch_result {
	double coro_ns, getppid_ns, devnull_ns, swapctx_ns;
};

/* bench_switch_measure runs the comparison on the calling thread (about a
 * second). Returns 0, or -1 after printing why to stderr. Not thread-safe:
 * the swapcontext baseline keeps its contexts in statics. */
int bench_switch_measure(struct bench_switch_result *out);

#endif
