#ifndef BENCH_STATS_H
#define BENCH_STATS_H
/* bench/stats.h: percentiles of measured samples, for every bench tool.
 *
 * Two ways to summarise a distribution:
 * - Exact: keep every sample in an array, sort it, read nearest-rank
 *   percentiles (bench_sort_u64, bench_percentile_sorted). Right when the
 *   sample count is bounded (a ping-pong of N round trips): 8 bytes a sample.
 * - Bucketed: a log-linear histogram (struct bench_hist) in the style of
 *   HdrHistogram: each power of two is split into BENCH_HIST_SUB linear
 *   buckets, so a reported percentile is at most 1/64 (1.6 %) above the
 *   exact one, over the whole uint64_t range, in a fixed ~30 KiB. Right for
 *   long or unbounded runs and for merging per-thread results.
 *
 * Percentiles are nearest-rank: the smallest sample such that at least p % of
 * the samples are <= it (p <= 0 gives the minimum, p >= 100 the maximum).
 * Nothing here allocates, locks or does I/O. */
#include <stddef.h>
#include <stdint.h>

/* bench_sort_u64 sorts v[0..num) ascending in place. */
void bench_sort_u64(uint64_t *v, size_t num);

/* bench_percentile_sorted returns the nearest-rank p-th percentile (p in
 * [0, 100]) of sorted[0..num), which must be ascending; 0 when num is 0. */
uint64_t bench_percentile_sorted(const uint64_t *sorted, size_t num, double p);

/* bench_median sorts v[0..num) in place and returns its median: the middle
 * element, or the mean of the two middle ones when num is even; 0 when num
 * is 0. For "median of 5 runs". */
double bench_median(double *v, size_t num);

/* bench_mean_u64 returns the arithmetic mean of v[0..num), 0 when num is 0. */
double bench_mean_u64(const uint64_t *v, size_t num);

#define BENCH_HIST_SUB_BITS 6
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)  /* linear buckets per power of two */
/* Values below BENCH_HIST_SUB are exact (group 0); each power of two from
 * 2^BENCH_HIST_SUB_BITS to 2^63 is one more group of BENCH_HIST_SUB buckets. */
#define BENCH_HIST_GROUPS (64u - BENCH_HIST_SUB_BITS + 1u)
#define BENCH_HIST_BUCKETS (BENCH_HIST_GROUPS * BENCH_HIST_SUB)

/* struct bench_hist: caller storage; initialise with bench_hist_init. min and
 * max are exact, the percentiles in between bucketed. */
struct bench_hist {
	uint64_t count;
	uint64_t min, max;
	double sum;                         /* for the mean; double does not overflow */
	uint64_t counts[BENCH_HIST_BUCKETS];
};

/* bench_hist_init empties h. */
void bench_hist_init(struct bench_hist *h);

/* bench_hist_record adds one sample. */
void bench_hist_record(struct bench_hist *h, uint64_t v);

/* bench_hist_merge adds every sample of src to dst (per-thread histograms). */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);

/* bench_hist_percentile returns the nearest-rank p-th percentile (p in
 * [0, 100]) as the highest value of the bucket holding that rank, capped at
 * the exact maximum: never below the exact percentile, at most 1/64 above.
 * p <= 0 gives the exact minimum, p >= 100 the exact maximum; 0 when empty. */
uint64_t bench_hist_percentile(const struct bench_hist *h, double p);

/* bench_hist_mean returns the exact mean of the samples, 0 when empty. */
double bench_hist_mean(const struct bench_hist *h);

/* bench_hist_bucket returns the index of the bucket holding v;
 * bench_hist_bucket_lo / _hi the smallest and largest value it holds. */
size_t bench_hist_bucket(uint64_t v);
uint64_t bench_hist_bucket_lo(size_t idx);
uint64_t bench_hist_bucket_hi(size_t idx);

/* struct bench_summary: the percentiles every latency report prints. */
struct bench_summary {
	uint64_t count;
	uint64_t min, p50, p90, p99, p999, max;
	double mean;
};

/* bench_hist_summary fills out from h (all zero when h is empty). */
void bench_hist_summary(const struct bench_hist *h, struct bench_summary *out);

/* bench_summary_of_samples sorts samples[0..num) in place and fills out
 * from them exactly (all zero when num is 0). */
void bench_summary_of_samples(uint64_t *samples, size_t num, struct bench_summary *out);

#endif
