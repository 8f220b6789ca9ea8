/* The load-generation scaffold: see bench/load.h. */
#include "bench/load.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "bench/proc.h"

unsigned bench_load_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return 1;
	int n = CPU_COUNT(&set);
	return n > 0 ? (unsigned)n : 1;
}

void bench_load_setup(struct bench_load *l, unsigned workers, unsigned max_workers)
{
	memset(l, 0, sizeof *l);
	l->num_workers = workers ? workers : bench_load_cpus();
	if (l->num_workers > max_workers)
		l->num_workers = max_workers;
	if (!l->num_workers)
		l->num_workers = 1;
}

int bench_load_runtime(struct bench_load *l, const char *cmd, struct core_rt_opts ro)
{
	int err = 0;
	ro.num_threads = l->num_workers;
	l->rt = core_rt_new(&ro, &err);
	if (!l->rt) {
		fprintf(stderr, "atmosphere-bench %s: cannot start the io_uring runtime: %s\n", cmd, core_rt_explain(err));
		return -1;
	}
	return 0;
}

void bench_load_cleanup(struct bench_load *l)
{
	core_rt_free(l->rt);
	l->rt = NULL;
}

int bench_load_phase(const struct bench_load *l)
{
	return atomic_load_explicit(&l->phase, memory_order_acquire);
}

void bench_load_publish(struct bench_load *l, int phase)
{
	atomic_store_explicit(&l->phase, phase, memory_order_release);
}

void bench_load_wait(const struct bench_load *l, int phase, unsigned poll_ms)
{
	for (unsigned i = 0; bench_load_phase(l) < phase && i < 100000000u; i++)
		core_sleep(poll_ms);
}

void bench_load_arrive(struct bench_load *l)
{
	atomic_fetch_add_explicit(&l->arrived, 1, memory_order_release);
}

bool bench_load_start(struct bench_load *l, unsigned delay_ms, uint64_t warmup_ms, uint64_t duration_ms)
{
	uint64_t deadline = bench_mono_ns() + (uint64_t)BENCH_LOAD_BARRIER_MS * 1000000u;
	bool all;
	while (!(all = atomic_load_explicit(&l->arrived, memory_order_acquire) >= l->num_workers) &&
	       bench_mono_ns() < deadline)
		core_sleep(1);
	l->t_run0 = bench_mono_ns() + (uint64_t)delay_ms * 1000000u;
	l->t_meas0 = l->t_run0 + warmup_ms * 1000000u;
	l->t_meas1 = l->t_meas0 + duration_ms * 1000000u;
	bench_load_publish(l, BENCH_LOAD_RUN);
	return all;
}

void bench_load_sleep_until(uint64_t t, void (*tick)(void *arg), void *arg)
{
	for (unsigned i = 0; i < 100000000u; i++) {
		uint64_t now = bench_mono_ns();
		if (now >= t)
			return;
		uint64_t ms = (t - now) / 1000000u;
		core_sleep(ms > 1000 ? 1000 : (unsigned)ms);
		if (ms > 1000 && tick)
			tick(arg);
	}
}

uint64_t bench_load_pace(const struct bench_load *l, const struct bench_sched *s, int stop_phase,
			 bench_load_release_fn release, void *arg)
{
	uint64_t end = bench_sched_due(s, l->t_meas1 - 1); /* messages scheduled before t_meas1 */
	uint64_t j = 0;
	for (uint64_t iter = 0; j < end && bench_load_phase(l) < stop_phase && iter < UINT64_MAX / 2; iter++) {
		uint64_t due = bench_sched_due(s, bench_mono_ns());
		if (due > end)
			due = end;
		if (j < due)
			j = release(arg, j, due);
		if (j >= end)
			break;
		uint64_t next = bench_sched_time(s, j), now = bench_mono_ns();
		if (next > now + BENCH_LOAD_SPIN_NS)
			core_sleep((unsigned)((next - now - BENCH_LOAD_SPIN_NS / 2) / 1000000u));
		else
			core_yield();
	}
	return j;
}

unsigned bench_load_sum_u(const void *base, unsigned num, size_t stride, size_t off)
{
	unsigned n = 0;
	for (unsigned i = 0; i < num; i++)
		n += atomic_load_explicit((const _Atomic unsigned *)((const char *)base + i * stride + off),
					  memory_order_relaxed);
	return n;
}

uint64_t bench_load_sum_u64(const void *base, unsigned num, size_t stride, size_t off)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < num; i++)
		n += atomic_load_explicit((const _Atomic uint64_t *)((const char *)base + i * stride + off),
					  memory_order_relaxed);
	return n;
}
