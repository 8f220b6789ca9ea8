/* bench/stats: exact percentiles, medians and the log-linear histogram
 * against inputs whose answers are known. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdlib.h>

#include "bench/stats.h"

/* 1..100 shuffled: the nearest-rank p-th percentile is ceil(p) for integral
 * p, and p50 is 50, not 50.5 (no interpolation). */
struct pct_case {
	double p;
	uint64_t want;
};

static const struct pct_case pct_1_to_100[] = {
	{0.0, 1}, {-5.0, 1}, {0.5, 1}, {1.0, 1}, {1.01, 2}, {25.0, 25}, {50.0, 50},
	{50.1, 51}, {90.0, 90}, {99.0, 99}, {99.9, 100}, {100.0, 100}, {150.0, 100},
};

ParameterizedTestParameters(bench_stats, exact_percentile_of_1_to_100)
{
	return cr_make_param_array(struct pct_case, pct_1_to_100, sizeof pct_1_to_100 / sizeof pct_1_to_100[0]);
}

ParameterizedTest(const struct pct_case *c, bench_stats, exact_percentile_of_1_to_100)
{
	uint64_t v[100];
	for (unsigned i = 0; i < 100; i++)
		v[i] = (uint64_t)((i * 37u) % 100u) + 1u; /* 37 is coprime to 100: a permutation */
	bench_sort_u64(v, 100);
	for (unsigned i = 0; i < 100; i++)
		cr_assert_eq(v[i], i + 1u, "sort: v[%u] = %llu", i, (unsigned long long)v[i]);
	uint64_t got = bench_percentile_sorted(v, 100, c->p);
	cr_assert_eq(got, c->want, "p%g of 1..100: got %llu, want %llu", c->p, (unsigned long long)got,
		     (unsigned long long)c->want);
}

/* 99.9 has no exact binary form: p99.9 of 1000 samples must still be the
 * 999th, not the 1000th. */
Test(bench_stats, p999_of_1000_samples_is_the_999th)
{
	uint64_t *v = malloc(1000 * sizeof *v);
	for (unsigned i = 0; i < 1000; i++)
		v[i] = 1000u - i;
	bench_sort_u64(v, 1000);
	cr_assert_eq(bench_percentile_sorted(v, 1000, 99.9), 999);
	cr_assert_eq(bench_percentile_sorted(v, 1000, 99.0), 990);
	cr_assert_eq(bench_percentile_sorted(v, 1000, 50.0), 500);
	free(v);
}

Test(bench_stats, empty_and_single_sample)
{
	uint64_t one = 42;
	cr_assert_eq(bench_percentile_sorted(NULL, 0, 50.0), 0);
	cr_assert_eq(bench_percentile_sorted(&one, 1, 0.0), 42);
	cr_assert_eq(bench_percentile_sorted(&one, 1, 99.99), 42);
	cr_assert_eq(bench_median(NULL, 0), 0.0);
	cr_assert_eq(bench_mean_u64(NULL, 0), 0.0);
}

Test(bench_stats, median_of_odd_and_even_counts)
{
	double odd[] = {9.0, 1.0, 5.0, 3.0, 7.0};
	double even[] = {4.0, 1.0, 3.0, 2.0};
	double dup[] = {2.0, 2.0, 100.0};
	cr_assert_float_eq(bench_median(odd, 5), 5.0, 1e-12);
	cr_assert_float_eq(bench_median(even, 4), 2.5, 1e-12);
	cr_assert_float_eq(bench_median(dup, 3), 2.0, 1e-12, "an outlier does not move the median");
}

Test(bench_stats, mean_of_samples)
{
	uint64_t v[] = {1, 2, 3, 4, 10};
	cr_assert_float_eq(bench_mean_u64(v, 5), 4.0, 1e-12);
}

/* Bucket geometry: every value lies inside its bucket, buckets are at most
 * 1/64 of their lowest value wide, and neighbouring buckets tile the line. */
static const uint64_t bucket_values[] = {
	0, 1, 63, 64, 65, 127, 128, 129, 130, 255, 256, 1000, 4095, 4096, 123456789,
	UINT64_C(1) << 40, (UINT64_C(1) << 40) - 1, UINT64_MAX / 3, UINT64_MAX - 1, UINT64_MAX,
};

ParameterizedTestParameters(bench_stats, value_lies_in_its_bucket)
{
	return cr_make_param_array(uint64_t, (void *)bucket_values, sizeof bucket_values / sizeof bucket_values[0]);
}

ParameterizedTest(const uint64_t *pv, bench_stats, value_lies_in_its_bucket)
{
	uint64_t v = *pv;
	size_t i = bench_hist_bucket(v);
	uint64_t lo = bench_hist_bucket_lo(i), hi = bench_hist_bucket_hi(i);
	cr_assert_lt(i, BENCH_HIST_BUCKETS, "v=%llu: bucket %zu out of range", (unsigned long long)v, i);
	cr_assert(lo <= v && v <= hi, "v=%llu not in bucket %zu [%llu, %llu]", (unsigned long long)v, i,
		  (unsigned long long)lo, (unsigned long long)hi);
	if (v < BENCH_HIST_SUB)
		cr_assert_eq(lo, hi, "v=%llu: small values are exact", (unsigned long long)v);
	else
		cr_assert_leq((double)(hi - lo) + 1.0, (double)lo / BENCH_HIST_SUB, "v=%llu: bucket too wide",
			      (unsigned long long)v);
}

Test(bench_stats, buckets_tile_the_whole_range)
{
	for (size_t i = 0; i + 1 < BENCH_HIST_BUCKETS; i++) {
		cr_assert_eq(bench_hist_bucket_hi(i) + 1u, bench_hist_bucket_lo(i + 1), "gap after bucket %zu", i);
		cr_assert_eq(bench_hist_bucket(bench_hist_bucket_lo(i)), i);
		cr_assert_eq(bench_hist_bucket(bench_hist_bucket_hi(i)), i);
	}
	cr_assert_eq(bench_hist_bucket_lo(0), 0);
	cr_assert_eq(bench_hist_bucket_hi(BENCH_HIST_BUCKETS - 1), UINT64_MAX);
}

static struct bench_hist *hist_new(void)
{
	struct bench_hist *h = malloc(sizeof *h);
	cr_assert_not_null(h);
	bench_hist_init(h);
	return h;
}

/* Below 64 the histogram is exact, so it must agree with the sort. */
Test(bench_stats, histogram_is_exact_for_small_values)
{
	struct bench_hist *h = hist_new();
	for (uint64_t v = 1; v <= 50; v++)
		bench_hist_record(h, v);
	cr_assert_eq(h->count, 50);
	cr_assert_eq(bench_hist_percentile(h, 0.0), 1);
	cr_assert_eq(bench_hist_percentile(h, 50.0), 25);
	cr_assert_eq(bench_hist_percentile(h, 90.0), 45);
	cr_assert_eq(bench_hist_percentile(h, 99.0), 50);
	cr_assert_eq(bench_hist_percentile(h, 100.0), 50);
	cr_assert_float_eq(bench_hist_mean(h), 25.5, 1e-12);
	free(h);
}

/* Over a wide spread, each percentile is >= the exact one and at most 1/64
 * above it; max and min stay exact. */
Test(bench_stats, histogram_percentiles_bound_the_exact_ones)
{
	enum { N = 100000 };
	uint64_t *v = malloc(N * sizeof *v);
	struct bench_hist *h = hist_new();
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < N; i++) {
		x ^= x << 13; /* xorshift64: a fixed, reproducible spread */
		x ^= x >> 7;
		x ^= x << 17;
		v[i] = 1000u + x % 10000000u; /* 1 us .. 10 ms in ns */
		bench_hist_record(h, v[i]);
	}
	bench_sort_u64(v, N);
	static const double ps[] = {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99};
	for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
		uint64_t exact = bench_percentile_sorted(v, N, ps[k]);
		uint64_t got = bench_hist_percentile(h, ps[k]);
		cr_assert_geq(got, exact, "p%g: %llu below exact %llu", ps[k], (unsigned long long)got,
			      (unsigned long long)exact);
		cr_assert_leq((double)got, (double)exact * (1.0 + 1.0 / BENCH_HIST_SUB), "p%g: %llu vs exact %llu",
			      ps[k], (unsigned long long)got, (unsigned long long)exact);
	}
	cr_assert_eq(bench_hist_percentile(h, 100.0), v[N - 1]);
	cr_assert_eq(bench_hist_percentile(h, 0.0), v[0]);
	cr_assert_float_eq(bench_hist_mean(h), bench_mean_u64(v, N), 1e-6 * bench_mean_u64(v, N));
	free(v);
	free(h);
}

/* A single slow outlier is the max and p100 but does not move p99. */
Test(bench_stats, outlier_shows_in_max_not_p99)
{
	struct bench_hist *h = hist_new();
	for (int i = 0; i < 999; i++)
		bench_hist_record(h, 20000);
	bench_hist_record(h, 5000000);
	struct bench_summary s;
	bench_hist_summary(h, &s);
	cr_assert_eq(s.count, 1000);
	cr_assert_eq(s.min, 20000);
	cr_assert_geq(s.p50, 20000);
	cr_assert_leq(s.p50, 20000 + 20000 / 64);
	cr_assert_eq(s.p99, s.p50);
	cr_assert_eq(s.p999, s.p50, "p99.9 is rank 999 of 1000: still the common value");
	cr_assert_eq(s.max, 5000000);
	free(h);
}

Test(bench_stats, merge_equals_recording_into_one)
{
	struct bench_hist *a = hist_new(), *b = hist_new(), *all = hist_new();
	for (uint64_t v = 1; v <= 5000; v++) {
		bench_hist_record(v % 2 ? a : b, v * 10u);
		bench_hist_record(all, v * 10u);
	}
	bench_hist_merge(a, b);
	cr_assert_eq(a->count, all->count);
	cr_assert_eq(a->min, all->min);
	cr_assert_eq(a->max, all->max);
	for (double p = 0.0; p <= 100.0; p += 0.5)
		cr_assert_eq(bench_hist_percentile(a, p), bench_hist_percentile(all, p), "p%g differs", p);
	free(a);
	free(b);
	free(all);
}

Test(bench_stats, empty_histogram_reports_zeros)
{
	struct bench_hist *h = hist_new();
	struct bench_summary s;
	cr_assert_eq(bench_hist_percentile(h, 50.0), 0);
	cr_assert_eq(bench_hist_mean(h), 0.0);
	bench_hist_summary(h, &s);
	cr_assert_eq(s.count, 0);
	cr_assert_eq(s.max, 0);
	cr_assert_eq(s.min, 0);
	free(h);
}
