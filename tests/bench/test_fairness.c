/* bench/fairness: Jain's index, minimum and 10th percentile of per-session
 * amounts against vectors whose answers are known. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "bench/fairness.h"

#define EPS 1e-12

Test(bench_fairness, equal_shares_give_one)
{
	uint64_t x[1000];
	for (unsigned i = 0; i < 1000; i++)
		x[i] = 16384;
	cr_expect_float_eq(bench_fairness_jain(x, 1000), 1.0, EPS);
	cr_expect_float_eq(bench_fairness_jain(x, 1), 1.0, EPS, "one session is always fair");
}

/* One session got everything: 1/n, whatever the amount. */
Test(bench_fairness, one_nonzero_of_n_gives_one_over_n)
{
	const size_t ns[] = {2, 10, 1000, 5000};
	for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
		uint64_t *x = calloc(ns[k], sizeof *x);
		cr_assert_not_null(x);
		x[ns[k] / 2] = 123456789;
		cr_expect_float_eq(bench_fairness_jain(x, ns[k]), 1.0 / (double)ns[k], EPS, "n = %zu", ns[k]);
		free(x);
	}
}

/* k equal shares among n, the rest nothing: k/n. */
Test(bench_fairness, k_equal_shares_of_n_give_k_over_n)
{
	uint64_t x[100] = {0};
	for (unsigned i = 0; i < 90; i++)
		x[i] = 1000000;
	cr_expect_float_eq(bench_fairness_jain(x, 100), 0.9, EPS);
}

/* A known uneven vector: (1+2+3+4)^2 / (4 * (1+4+9+16)) = 100/120. */
Test(bench_fairness, known_uneven_vector)
{
	uint64_t x[] = {4, 1, 3, 2};
	cr_expect_float_eq(bench_fairness_jain(x, 4), 100.0 / 120.0, EPS);
}

/* Scaling every share (bytes or MB/s) leaves the index alone, amounts past
 * 2^32 included (their squares pass uint64_t). */
Test(bench_fairness, does_not_depend_on_the_unit)
{
	uint64_t a[] = {3, 5, 7, 11}, b[4];
	for (int i = 0; i < 4; i++)
		b[i] = a[i] * 10000000000ull;
	cr_expect_float_eq(bench_fairness_jain(a, 4), bench_fairness_jain(b, 4), 1e-9);
}

/* Nothing to compare: NAN, which the report prints as null / "-". */
Test(bench_fairness, empty_and_all_zero_are_nan)
{
	uint64_t z[8] = {0};
	cr_expect(isnan(bench_fairness_jain(NULL, 0)));
	cr_expect(isnan(bench_fairness_jain(z, 8)));
	struct bench_fairness f;
	bench_fairness_of(NULL, 0, &f);
	cr_expect(isnan(f.jain));
	cr_expect_eq(f.num, 0);
	cr_expect_eq(f.min, 0);
	cr_expect_eq(f.p10, 0);
	cr_expect_float_eq(f.mean, 0.0, EPS);
	bench_fairness_of(z, 8, &f);
	cr_expect(isnan(f.jain));
	cr_expect_eq(f.min, 0);
	cr_expect_eq(f.max, 0);
}

/* 1..100 shuffled: min 1, nearest-rank p10 10, max 100, mean 50.5; the
 * starved session shows in min even when the index is high. */
Test(bench_fairness, min_p10_max_mean_of_1_to_100)
{
	uint64_t x[100];
	for (unsigned i = 0; i < 100; i++)
		x[i] = (i * 37u) % 100u + 1u;
	struct bench_fairness f;
	bench_fairness_of(x, 100, &f);
	cr_expect_eq(f.num, 100);
	cr_expect_eq(f.min, 1);
	cr_expect_eq(f.p10, 10);
	cr_expect_eq(f.max, 100);
	cr_expect_float_eq(f.mean, 50.5, EPS);
	/* (5050)^2 / (100 * 338350) */
	cr_expect_float_eq(f.jain, 5050.0 * 5050.0 / (100.0 * 338350.0), EPS);
}

Test(bench_fairness, one_starved_session_of_a_thousand)
{
	uint64_t x[1000];
	for (unsigned i = 0; i < 1000; i++)
		x[i] = i == 417 ? 0 : 1000;
	struct bench_fairness f;
	bench_fairness_of(x, 1000, &f);
	cr_expect_eq(f.min, 0);
	cr_expect_eq(f.p10, 1000);
	cr_expect_float_eq(f.jain, 0.999, EPS);
}
