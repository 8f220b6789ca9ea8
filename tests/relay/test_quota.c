/* relay/quota: the token bucket (GCRA) behind --session-rate and --ip-rate:
 * refill, burst, long gaps, extreme rates without overflow, and time that
 * goes backwards. Pure arithmetic on a caller's clock: no sleeps. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>

#include "relay/quota.h"

#define S 1000000000ull /* ns per second */
#define T0 (1000 * S)   /* any start time well above 0 */

/* Reads as a greedy client would: whenever allowed, n bytes; returns the
 * bytes read in [from, to) with the clock stepping step_ns. */
static uint64_t greedy(uint64_t *tat, const struct relay_limit *l, uint64_t from, uint64_t to, uint64_t step_ns,
		       uint64_t n)
{
	uint64_t got = 0;
	for (uint64_t now = from; now < to; now += step_ns)
		while (relay_bucket_wait_ns(*tat, l, now) == 0) {
			*tat = relay_bucket_charge(*tat, l, now, n);
			got += n;
		}
	return got;
}

Test(relay_quota, a_fresh_bucket_lets_the_burst_through_then_waits)
{
	struct relay_limit l;
	relay_limit_init(&l, 1000, 5000); /* 1000 B/s, 5000 back to back */
	uint64_t tat = 0;
	cr_assert_eq(relay_bucket_tokens(tat, &l, T0), 5000);
	cr_assert_eq(relay_bucket_wait_ns(tat, &l, T0), 0);
	tat = relay_bucket_charge(tat, &l, T0, 5000);
	cr_assert_eq(relay_bucket_tokens(tat, &l, T0), 0);
	/* Exactly empty: one more read is still allowed (the relay charges what
	 * it has read, so a reader may overshoot by one read)... */
	cr_assert_eq(relay_bucket_wait_ns(tat, &l, T0), 0);
	tat = relay_bucket_charge(tat, &l, T0, 1000);
	/* ... and then waits for that debt: 1000 bytes at 1000 B/s. */
	cr_assert_eq(relay_bucket_wait_ns(tat, &l, T0), 1 * S);
	cr_assert_eq(relay_bucket_wait_ns(tat, &l, T0 + S / 2), S / 2);
	cr_assert_eq(relay_bucket_wait_ns(tat, &l, T0 + S), 0);
}

Test(relay_quota, refills_at_the_rate)
{
	struct relay_limit l;
	relay_limit_init(&l, 1000, 5000);
	uint64_t tat = relay_bucket_charge(0, &l, T0, 5000); /* empty */
	cr_assert_eq(relay_bucket_tokens(tat, &l, T0 + S), 1000);
	cr_assert_eq(relay_bucket_tokens(tat, &l, T0 + 2 * S + S / 2), 2500);
	cr_assert_eq(relay_bucket_tokens(tat, &l, T0 + 5 * S), 5000);
}

Test(relay_quota, long_run_delivers_rate_times_time_plus_burst)
{
	struct relay_limit l;
	relay_limit_init(&l, 1 << 20, 256 << 10); /* 1 MiB/s, 256 KiB burst */
	uint64_t tat = 0;
	/* 10 s, clock in 1 ms steps, 16 KiB reads. */
	uint64_t got = greedy(&tat, &l, T0, T0 + 10 * S, S / 1000, 16 << 10);
	uint64_t want = 10ull * (1 << 20) + (256 << 10);
	cr_assert_leq(got, want + (16 << 10), "got %llu, at most %llu", (unsigned long long)got,
		      (unsigned long long)want + (16 << 10));
	cr_assert_geq(got, want - (16 << 10), "got %llu, at least %llu", (unsigned long long)got,
		      (unsigned long long)want - (16 << 10));
}

Test(relay_quota, small_frequent_reads_lose_no_fractional_credit)
{
	/* 3 B/s with 1-byte reads checked every 1 ms: rounding per step must
	 * neither starve the reader nor give it extra. */
	struct relay_limit l;
	relay_limit_init(&l, 3, 1);
	uint64_t tat = 0;
	uint64_t got = greedy(&tat, &l, T0, T0 + 100 * S, S / 1000, 1);
	cr_assert(got >= 299 && got <= 302, "got %llu bytes in 100 s at 3 B/s", (unsigned long long)got);
}

Test(relay_quota, a_long_gap_refills_to_the_burst_and_no_further)
{
	struct relay_limit l;
	relay_limit_init(&l, 1000, 5000);
	uint64_t tat = relay_bucket_charge(0, &l, T0, 100000); /* deep debt: 100 s */
	cr_assert_eq(relay_bucket_wait_ns(tat, &l, T0), 95 * S);
	/* A year later the bucket is full, not a year's worth. */
	uint64_t later = T0 + 365ull * 86400 * S;
	cr_assert_eq(relay_bucket_tokens(tat, &l, later), 5000);
	tat = relay_bucket_charge(tat, &l, later, 5000);
	tat = relay_bucket_charge(tat, &l, later, 1);
	cr_assert_gt(relay_bucket_wait_ns(tat, &l, later), 0);
}

Test(relay_quota, the_default_burst_is_one_second)
{
	struct relay_limit l;
	relay_limit_init(&l, 4096, 0);
	cr_assert_eq(relay_bucket_tokens(0, &l, T0), 4096);
}

Test(relay_quota, no_limit_never_waits_and_keeps_no_state)
{
	struct relay_limit l;
	relay_limit_init(&l, 0, 0);
	uint64_t tat = relay_bucket_charge(0, &l, T0, UINT64_MAX);
	cr_assert_eq(tat, 0);
	cr_assert_eq(relay_bucket_wait_ns(tat, &l, T0), 0);
	cr_assert_eq(relay_bucket_tokens(tat, &l, T0), UINT64_MAX);
}

struct extreme {
	uint64_t rate, burst, bytes, now;
};

static struct extreme extremes[] = {
	{UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX - 1},
	{UINT64_MAX, 1, UINT64_MAX, T0},
	{1, UINT64_MAX, UINT64_MAX, T0},
	{1, 1, UINT64_MAX, UINT64_MAX},
	{1ull << 40, 1ull << 40, 1ull << 62, 0},
	{1, 1, 1, UINT64_MAX},
	{1024, 1024, 1ull << 20, UINT64_MAX / 2},
};

ParameterizedTestParameters(relay_quota, extreme_values_saturate_instead_of_wrapping)
{
	return cr_make_param_array(struct extreme, extremes, sizeof extremes / sizeof extremes[0]);
}

ParameterizedTest(struct extreme *e, relay_quota, extreme_values_saturate_instead_of_wrapping)
{
	struct relay_limit l;
	relay_limit_init(&l, e->rate, e->burst);
	uint64_t tat = relay_bucket_charge(0, &l, e->now, e->bytes);
	uint64_t tat2 = relay_bucket_charge(tat, &l, e->now, e->bytes);
	/* Charging more never moves tat back (a wrap would). */
	cr_assert_geq(tat, e->now < UINT64_MAX / 2 ? e->now : 0, "rate %llu burst %llu bytes %llu",
		      (unsigned long long)e->rate, (unsigned long long)e->burst, (unsigned long long)e->bytes);
	cr_assert_geq(tat2, tat);
	/* The wait is bounded by the debt: at the largest rate, two charges
	 * of the largest count are two seconds. */
	uint64_t w = relay_bucket_wait_ns(tat2, &l, e->now);
	cr_assert_leq(w, tat2);
	if (e->rate == UINT64_MAX)
		cr_assert_leq(w, 2 * S, "waited %llu ns", (unsigned long long)w);
	(void)relay_bucket_tokens(tat2, &l, e->now);
}

Test(relay_quota, time_going_backwards_gives_nothing_back)
{
	struct relay_limit l;
	relay_limit_init(&l, 1000, 1000);
	uint64_t tat = relay_bucket_charge(0, &l, T0, 3000); /* 2 s in debt */
	uint64_t w = relay_bucket_wait_ns(tat, &l, T0);
	cr_assert_eq(w, 2 * S);
	/* The clock steps back 10 s: no tokens appear, and reading there is
	 * charged on top of the debt, not from the earlier time. */
	cr_assert_eq(relay_bucket_tokens(tat, &l, T0 - 10 * S), 0);
	cr_assert_geq(relay_bucket_wait_ns(tat, &l, T0 - 10 * S), w);
	uint64_t tat2 = relay_bucket_charge(tat, &l, T0 - 10 * S, 1000);
	cr_assert_eq(tat2, tat + S, "a charge back in time still adds its cost to the debt");
	/* Back at the later time, the bucket is where forward time put it. */
	cr_assert_eq(relay_bucket_wait_ns(tat2, &l, T0), 3 * S);
	/* A clock at 0 (before any start) is safe too. */
	cr_assert_eq(relay_bucket_tokens(tat2, &l, 0), 0);
}
