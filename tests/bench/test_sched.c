/* bench/sched: fixed-rate schedules and coordinated-omission corrected
 * latency, against answers worked out by hand. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdlib.h>

#include "bench/sched.h"
#include "bench/stats.h"

#define MS 1000000ull
#define US 1000ull

struct rate_case {
	uint64_t start_ns;
	uint64_t rate;
};

static const struct rate_case rates[] = {
	{0, 1}, {5, 3}, {1000, 7}, {123456789, 100}, {0, 1000}, {42, 999983}, {1, BENCH_SCHED_MAX_RATE},
};

ParameterizedTestParameters(bench_sched, due_counts_exactly_the_messages_scheduled_so_far)
{
	return cr_make_param_array(struct rate_case, rates, sizeof rates / sizeof rates[0]);
}

/* due(time(i)) counts message i and every one before it; one ns earlier, it
 * does not count message i (unless i shares its time with i - 1). */
ParameterizedTest(const struct rate_case *c, bench_sched, due_counts_exactly_the_messages_scheduled_so_far)
{
	struct bench_sched s = {.start_ns = c->start_ns, .rate = c->rate};
	cr_assert_eq(bench_sched_time(&s, 0), c->start_ns);
	if (c->start_ns)
		cr_assert_eq(bench_sched_due(&s, c->start_ns - 1), 0);
	for (uint64_t k = 0; k < 20000; k++) {
		/* the first messages, and some far into a long run */
		uint64_t i = k < 10000 ? k : k * 997 * (1 + c->rate / 1000);
		uint64_t t = bench_sched_time(&s, i);
		cr_assert_geq(bench_sched_due(&s, t), i + 1, "rate %llu: due(time(%llu)) = %llu",
			      (unsigned long long)c->rate, (unsigned long long)i,
			      (unsigned long long)bench_sched_due(&s, t));
		if (i && t > bench_sched_time(&s, i - 1))
			cr_assert_eq(bench_sched_due(&s, t - 1), i, "rate %llu: due(time(%llu) - 1) = %llu",
				     (unsigned long long)c->rate, (unsigned long long)i,
				     (unsigned long long)bench_sched_due(&s, t - 1));
	}
}

Test(bench_sched, spacing_has_no_drift_over_an_hour)
{
	/* 3 messages a second do not divide a second in ns: 333333333 and a third.
	 * Computed from i each time, message 3 * 3600 is exactly an hour in. */
	struct bench_sched s = {.start_ns = 7, .rate = 3};
	cr_assert_eq(bench_sched_time(&s, 1), 7 + 333333333);
	cr_assert_eq(bench_sched_time(&s, 3 * 3600), 7 + 3600ull * 1000000000ull);
	cr_assert_eq(bench_sched_due(&s, 7 + 3600ull * 1000000000ull), 3 * 3600 + 1);
}

Test(bench_sched, latency_is_from_the_schedule_and_never_negative)
{
	cr_assert_eq(bench_sched_latency(1000, 1500), 500);
	cr_assert_eq(bench_sched_latency(1500, 1500), 0);
	cr_assert_eq(bench_sched_latency(2000, 1500), 0); /* a stamp from the future is peer input */
}

/* Coordinated omission, worked through: 1,000 messages/s for 2 s; each takes
 * 10 us, except that the server stalls from 1.0 s to 1.5 s and delivers
 * everything sent meanwhile at 1.5 s.
 *
 * Open loop, measured from the schedule (what the bench does): the 500
 * messages scheduled in the stall wait 500, 499, ... 1 ms. A quarter of all
 * samples are in the stall: p90 is the 200th-worst sample (1.5 s - 1.2 s), a
 * little over 300 ms, and p99 the 20th-worst, a little over 480 ms.
 *
 * Closed loop, measured from the actual send (the omission): the sender is
 * blocked for the whole stall, so only one message sees it, and the backlog
 * it then sends back to back looks fast: p99 is 10 us. */
static void simulate(struct bench_hist *corrected, struct bench_hist *naive)
{
	const uint64_t stall0 = 1000 * MS, stall1 = 1500 * MS, service = 10 * US;
	struct bench_sched s = {.start_ns = 0, .rate = 1000};
	uint64_t n = bench_sched_due(&s, 2000 * MS - 1);
	cr_assert_eq(n, 2000);
	uint64_t free_at = 0; /* closed loop: when the sender may send again */
	for (uint64_t i = 0; i < n; i++) {
		uint64_t sched = bench_sched_time(&s, i);
		/* open loop: sent on schedule */
		uint64_t arrive = sched >= stall0 && sched < stall1 ? stall1 : sched + service;
		bench_hist_record(corrected, bench_sched_latency(sched, arrive));
		/* closed loop: sent when the previous one is done */
		uint64_t sent = sched > free_at ? sched : free_at;
		uint64_t got = sent >= stall0 && sent < stall1 ? stall1 : sent + service;
		bench_hist_record(naive, got - sent);
		free_at = got;
	}
}

Test(bench_sched, schedule_based_latency_shows_a_stall_that_a_closed_loop_hides)
{
	struct bench_hist *c = malloc(sizeof *c), *nv = malloc(sizeof *nv);
	bench_hist_init(c);
	bench_hist_init(nv);
	simulate(c, nv);
	/* bucketed: at most 1/64 above the exact value, never below */
	uint64_t p50 = bench_hist_percentile(c, 50), p90 = bench_hist_percentile(c, 90);
	uint64_t p99 = bench_hist_percentile(c, 99), max = bench_hist_percentile(c, 100);
	cr_assert(p50 >= 10 * US && p50 <= 10 * US + 10 * US / 64, "p50 %llu", (unsigned long long)p50);
	cr_assert(p90 >= 300 * MS && p90 <= 301 * MS + 300 * MS / 64, "p90 %llu", (unsigned long long)p90);
	cr_assert(p99 >= 480 * MS && p99 <= 481 * MS + 480 * MS / 64, "p99 %llu", (unsigned long long)p99);
	cr_assert_eq(max, 500 * MS);
	/* the closed loop saw the stall once: its p99 is the service time */
	cr_assert(bench_hist_percentile(nv, 99) <= 10 * US + 10 * US / 64, "naive p99 %llu",
		  (unsigned long long)bench_hist_percentile(nv, 99));
	cr_assert_eq(bench_hist_percentile(nv, 100), 500 * MS);
	free(c);
	free(nv);
}
