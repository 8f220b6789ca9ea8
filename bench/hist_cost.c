/* atmos-hist-cost: what one forward-latency observation costs the relay
 * (relay/forward.c observe_forward: a clock read and relay_hist_observe),
 * in ns, for bench/run's metrics section. Prints the median of 7 runs of
 * 2,000,000 observations; bench/run sets it beside the relay's CPU per
 * forwarded batch. Bounded: about 0.5 s. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/reactor.h"
#include "relay/hist.h"

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	enum { RUNS = 7, N = 2000000 };
	static struct relay_hist h;
	double ns[RUNS];
	uint64_t t0 = core_clock_ns();
	for (int r = 0; r < RUNS; r++) {
		uint64_t a = core_clock_ns();
		for (int i = 0; i < N; i++) {
			/* As observe_forward: the end from the clock, the
			 * start a little earlier (a spread of buckets). */
			uint64_t now = core_clock_ns();
			relay_hist_observe(&h, &relay_hist_forward_bounds, now - t0 + (uint64_t)(i & 0xffff) * 16);
		}
		ns[r] = (double)(core_clock_ns() - a) / N;
	}
	qsort(ns, RUNS, sizeof ns[0], cmp);
	struct relay_hist_snap s = {0};
	relay_hist_add_to(&h, &s);
	if (s.count != (uint64_t)RUNS * N) {
		fprintf(stderr, "atmos-hist-cost: counted %llu of %llu\n", (unsigned long long)s.count,
			(unsigned long long)RUNS * N);
		return 1;
	}
	printf("%.1f\n", ns[RUNS / 2]);
	return 0;
}
