/* atmos-timer-cost: what the reactor's timer heap (core/reactor.c) costs per
 * operation with many timers armed, in ns:
 *
 *   arm+cancel  one core_timer_cancel of a random armed timer and its
 *               core_timer_arm again, with N timers armed at 1-60 s (a
 *               relay connection's receive wait: armed at every receive,
 *               cancelled from wherever it sits when data comes);
 *   expiry      one timer fired, with N timers due in the same loop
 *               iteration (the span from the first callback to the last,
 *               over N - 1).
 *
 * for N = 5,000, 10,000 and 50,000 (a relay with 5,000 sessions holds about
 * 10,000: one per connection). The timers sit BENCH_TIMER_STRIDE bytes apart, as
 * the relay's sit in separately allocated task records, so a read of one is
 * a cache miss as it is there. Uses the public API only (core/reactor.h),
 * so the same source measures an older core library. Runs the sizes
 * interleaved BENCH_TIMER_RUNS times on one reactor thread and prints the
 * median of each; bounded, about 8 s. Exits 1 if a timer went missing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/stats.h"
#include "core/reactor.h"

enum {
	BENCH_TIMER_RUNS = 7,
	BENCH_TIMER_OPS = 400000,     /* cancel+arm pairs a run */
	BENCH_TIMER_STRIDE = 256,     /* bytes between two timers */
	BENCH_TIMER_SIZES = 3,
};

static const unsigned sizes[BENCH_TIMER_SIZES] = {5000, 10000, 50000};

struct slot {
	struct core_timer t;
	unsigned char pad[BENCH_TIMER_STRIDE - sizeof(struct core_timer)];
};

struct run {
	struct slot *slots;
	unsigned n, fired;
	uint64_t first_ns, last_ns;
	uint64_t rng;
	double arm_cancel_ns[BENCH_TIMER_SIZES][BENCH_TIMER_RUNS];
	double expiry_ns[BENCH_TIMER_SIZES][BENCH_TIMER_RUNS];
	int err;
};

static uint64_t next_rand(struct run *b)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return b->rng;
}

static void never(struct core_timer *t)
{
	struct run *b = t->arg;
	b->err = 1; /* a 1-60 s timer fired within a run of well under a second */
}

static void on_expiry(struct core_timer *t)
{
	struct run *b = t->arg;
	uint64_t now = core_clock_ns();
	if (b->fired++ == 0)
		b->first_ns = now;
	b->last_ns = now;
}

static int measure(struct run *b, unsigned k, int run)
{
	unsigned n = sizes[k];
	/* Arm+cancel, on a heap of n timers due in 1-60 s. */
	for (unsigned i = 0; i < n; i++)
		if (core_timer_arm(&b->slots[i].t, 1000 + (unsigned)(next_rand(b) % 59000), never, b) != 0)
			return -1;
	uint64_t t0 = core_clock_ns();
	for (unsigned i = 0; i < BENCH_TIMER_OPS; i++) {
		uint64_t x = next_rand(b);
		struct core_timer *t = &b->slots[(x >> 16) % n].t;
		core_timer_cancel(t);
		if (core_timer_arm(t, 1000 + (unsigned)(x % 59000), never, b) != 0)
			return -1;
	}
	b->arm_cancel_ns[k][run] = (double)(core_clock_ns() - t0) / BENCH_TIMER_OPS;
	for (unsigned i = 0; i < n; i++)
		core_timer_cancel(&b->slots[i].t);

	/* Expiry: n timers due within 0-4 ms, then this coroutine keeps the
	 * thread for 6 ms so all are due at the loop's next fire_timers. */
	b->fired = 0;
	for (unsigned i = 0; i < n; i++)
		if (core_timer_arm(&b->slots[i].t, (unsigned)(next_rand(b) % 5), on_expiry, b) != 0)
			return -1;
	uint64_t until = core_clock_ns() + 6000000u;
	while (core_clock_ns() < until)
		;
	core_yield();
	for (int w = 0; w < 100 && b->fired < n; w++)
		core_sleep(1);
	if (b->fired != n) {
		fprintf(stderr, "atmos-timer-cost: %u of %u timers fired\n", b->fired, n);
		return -1;
	}
	b->expiry_ns[k][run] = (double)(b->last_ns - b->first_ns) / (double)(n - 1);
	return 0;
}

static void bench_main(void *arg)
{
	struct run *b = arg;
	for (int run = 0; run < BENCH_TIMER_RUNS && !b->err; run++)
		for (unsigned k = 0; k < BENCH_TIMER_SIZES && !b->err; k++)
			if (measure(b, k, run) != 0)
				b->err = 1;
	core_rt_shutdown(core_reactor_rt(core_self()));
}

int main(void)
{
	int ret = 1, err = 0;
	struct run *b = calloc(1, sizeof *b);
	struct core_rt *rt = NULL;
	if (!b)
		goto out;
	b->rng = 0x9e3779b97f4a7c15u;
	b->n = sizes[BENCH_TIMER_SIZES - 1];
	b->slots = calloc(b->n, sizeof *b->slots);
	if (!b->slots)
		goto out;
	rt = core_rt_new(&(struct core_rt_opts){.num_threads = 1}, &err);
	if (!rt) {
		fprintf(stderr, "atmos-timer-cost: core_rt_new: %s\n", core_rt_explain(err));
		goto out;
	}
	if (core_rt_run(rt, bench_main, b) != 0 || b->err) {
		fprintf(stderr, "atmos-timer-cost: a run failed (a timer fired early or went missing)\n");
		goto out;
	}
	for (unsigned k = 0; k < BENCH_TIMER_SIZES; k++) {
		/* bench_median sorts: the range is then the ends. */
		double ac = bench_median(b->arm_cancel_ns[k], BENCH_TIMER_RUNS);
		double ex = bench_median(b->expiry_ns[k], BENCH_TIMER_RUNS);
		printf("timers %u: arm+cancel %.1f ns (%.1f-%.1f), expiry %.1f ns (%.1f-%.1f)\n", sizes[k], ac,
		       b->arm_cancel_ns[k][0], b->arm_cancel_ns[k][BENCH_TIMER_RUNS - 1], ex, b->expiry_ns[k][0],
		       b->expiry_ns[k][BENCH_TIMER_RUNS - 1]);
	}
	ret = 0;
out:
	core_rt_free(rt);
	if (b)
		free(b->slots);
	free(b);
	return ret;
}
