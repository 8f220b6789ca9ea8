/* relay/hist.h: bucket edges (le is "less or equal"), merging threads'
 * histograms, and the Prometheus text (cumulative buckets, exact seconds). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "relay/hist.h"

static const struct relay_hist_bounds three = {.num = 3, .ns = {1000, 2000, 1000000000}};

static uint64_t n_of(const struct relay_hist *h, unsigned i)
{
	return atomic_load(&h->n[i]);
}

Test(relay_hist, a_value_on_a_bound_counts_in_that_bucket)
{
	static struct relay_hist h;
	relay_hist_observe(&h, &three, 0);
	relay_hist_observe(&h, &three, 1000);
	relay_hist_observe(&h, &three, 1001);
	relay_hist_observe(&h, &three, 2000);
	relay_hist_observe(&h, &three, 1000000000);
	relay_hist_observe(&h, &three, 1000000001);
	relay_hist_observe(&h, &three, UINT64_MAX / 4);
	cr_assert_eq(n_of(&h, 0), 2);
	cr_assert_eq(n_of(&h, 1), 2);
	cr_assert_eq(n_of(&h, 2), 1);
	cr_assert_eq(n_of(&h, 3), 2, "above the last bound: +Inf");
	cr_assert_eq(atomic_load(&h.sum_ns), 0 + 1000 + 1001 + 2000 + 1000000000ull + 1000000001ull + UINT64_MAX / 4);
}

Test(relay_hist, merged_threads_equal_one_histogram_of_all_values)
{
	static struct relay_hist a, b, all;
	for (uint64_t v = 0; v < 5000; v += 7) {
		relay_hist_observe(v % 2 ? &a : &b, &relay_hist_forward_bounds, v * 997);
		relay_hist_observe(&all, &relay_hist_forward_bounds, v * 997);
	}
	struct relay_hist_snap m = {0}, one = {0};
	relay_hist_add_to(&a, &m);
	relay_hist_add_to(&b, &m);
	relay_hist_add_to(&all, &one);
	cr_assert_eq(m.count, one.count);
	cr_assert_eq(m.sum_ns, one.sum_ns);
	cr_assert(!memcmp(m.n, one.n, sizeof m.n));
	cr_assert_gt(one.n[0], 0);
	cr_assert_gt(one.n[1], 0);
}

Test(relay_hist, bounds_ascend)
{
	const struct relay_hist_bounds *bs[] = {&relay_hist_forward_bounds, &relay_hist_pairing_bounds};
	for (unsigned k = 0; k < 2; k++) {
		cr_assert(bs[k]->num >= 1 && bs[k]->num <= RELAY_HIST_MAX_BOUNDS);
		for (unsigned i = 1; i < bs[k]->num; i++)
			cr_assert_lt(bs[k]->ns[i - 1], bs[k]->ns[i]);
	}
}

Test(relay_hist, prometheus_text_is_cumulative_with_exact_seconds)
{
	static struct relay_hist h;
	relay_hist_observe(&h, &three, 500);
	relay_hist_observe(&h, &three, 1500);
	relay_hist_observe(&h, &three, 1500);
	relay_hist_observe(&h, &three, 3000000000ull);
	struct relay_hist_snap s = {0};
	relay_hist_add_to(&h, &s);
	char out[1024];
	int n = relay_hist_prom(out, sizeof out, "x_seconds", "Help text.", &three, &s);
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(out));
	cr_assert_str_eq(out, "# HELP x_seconds Help text.\n"
			      "# TYPE x_seconds histogram\n"
			      "x_seconds_bucket{le=\"0.000001\"} 1\n"
			      "x_seconds_bucket{le=\"0.000002\"} 3\n"
			      "x_seconds_bucket{le=\"1\"} 3\n"
			      "x_seconds_bucket{le=\"+Inf\"} 4\n"
			      "x_seconds_sum 3.0000035\n"
			      "x_seconds_count 4\n");
}

Test(relay_hist, a_short_buffer_gets_the_full_length_back)
{
	static struct relay_hist h;
	relay_hist_observe(&h, &three, 10);
	struct relay_hist_snap s = {0};
	relay_hist_add_to(&h, &s);
	char full[1024], small[40];
	int n = relay_hist_prom(full, sizeof full, "y", "h", &three, &s);
	int m = relay_hist_prom(small, sizeof small, "y", "h", &three, &s);
	cr_assert_eq(n, m, "truncation must report the length needed (%d vs %d)", n, m);
	cr_assert_eq(strlen(small), sizeof small - 1);
	cr_assert(!strncmp(full, small, sizeof small - 1));
}
