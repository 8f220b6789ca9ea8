/* Percentiles and the log-linear histogram: see bench/stats.h. */
#include "bench/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void bench_sort_u64(uint64_t *v, size_t num)
{
	if (num > 1)
		qsort(v, num, sizeof *v, cmp_u64);
}

/* The 1-based nearest rank of percentile p among num samples, in [1, num].
 * p * num is rounded down by a hair before ceil() so that, e.g., p = 99.9 of
 * 1000 samples is rank 999 even though 99.9 has no exact binary form. */
static uint64_t nearest_rank(double p, uint64_t num)
{
	if (!(p > 0.0))
		return 1;
	if (p >= 100.0)
		return num;
	double x = ceil(p * (double)num / 100.0 - 1e-9);
	if (x < 1.0)
		return 1;
	if (x >= (double)num)
		return num;
	return (uint64_t)x;
}

uint64_t bench_percentile_sorted(const uint64_t *sorted, size_t num, double p)
{
	if (!num)
		return 0;
	return sorted[nearest_rank(p, num) - 1];
}

double bench_median(double *v, size_t num)
{
	if (!num)
		return 0.0;
	qsort(v, num, sizeof *v, cmp_double);
	if (num % 2)
		return v[num / 2];
	return (v[num / 2 - 1] + v[num / 2]) / 2.0;
}

double bench_mean_u64(const uint64_t *v, size_t num)
{
	double sum = 0.0;
	for (size_t i = 0; i < num; i++)
		sum += (double)v[i];
	return num ? sum / (double)num : 0.0;
}

/* Bucket layout. Group 0 holds 0..SUB-1 exactly. A value v >= SUB with top
 * bit e (SUB_BITS <= e <= 63) is in group g = e - SUB_BITS + 1, whose SUB
 * buckets are 2^(g-1) wide; the bucket is picked by the SUB_BITS bits below
 * the top bit. The width over the bucket's lowest value is at most 1/SUB. */
size_t bench_hist_bucket(uint64_t v)
{
	if (v < BENCH_HIST_SUB)
		return (size_t)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v);
	unsigned g = e - BENCH_HIST_SUB_BITS + 1u;
	size_t m = (size_t)((v >> (e - BENCH_HIST_SUB_BITS)) & (BENCH_HIST_SUB - 1u));
	return (size_t)g * BENCH_HIST_SUB + m;
}

uint64_t bench_hist_bucket_lo(size_t idx)
{
	if (idx < BENCH_HIST_SUB)
		return idx;
	size_t g = idx / BENCH_HIST_SUB, m = idx % BENCH_HIST_SUB;
	return (uint64_t)(BENCH_HIST_SUB + m) << (g - 1);
}

uint64_t bench_hist_bucket_hi(size_t idx)
{
	if (idx < BENCH_HIST_SUB)
		return idx;
	size_t g = idx / BENCH_HIST_SUB;
	/* lo + width - 1: the top bucket ends at UINT64_MAX without overflowing. */
	return bench_hist_bucket_lo(idx) + ((UINT64_C(1) << (g - 1)) - 1u);
}

void bench_hist_init(struct bench_hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

void bench_hist_record(struct bench_hist *h, uint64_t v)
{
	h->counts[bench_hist_bucket(v)]++;
	h->count++;
	h->sum += (double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
	if (!src->count)
		return;
	for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double p)
{
	if (!h->count)
		return 0;
	if (!(p > 0.0))
		return h->min;
	if (p >= 100.0)
		return h->max;
	uint64_t rank = nearest_rank(p, h->count), seen = 0;
	for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t hi = bench_hist_bucket_hi(i);
			return hi < h->max ? hi : h->max;
		}
	}
	return h->max; /* unreachable while count matches the buckets */
}

double bench_hist_mean(const struct bench_hist *h)
{
	return h->count ? h->sum / (double)h->count : 0.0;
}

void bench_hist_summary(const struct bench_hist *h, struct bench_summary *out)
{
	memset(out, 0, sizeof *out);
	if (!h->count)
		return;
	out->count = h->count;
	out->min = h->min;
	out->p50 = bench_hist_percentile(h, 50.0);
	out->p90 = bench_hist_percentile(h, 90.0);
	out->p99 = bench_hist_percentile(h, 99.0);
	out->p999 = bench_hist_percentile(h, 99.9);
	out->max = h->max;
	out->mean = bench_hist_mean(h);
}

void bench_summary_of_samples(uint64_t *samples, size_t num, struct bench_summary *out)
{
	bench_sort_u64(samples, num);
	memset(out, 0, sizeof *out);
	out->count = num;
	out->min = num ? samples[0] : 0;
	out->p50 = bench_percentile_sorted(samples, num, 50.0);
	out->p90 = bench_percentile_sorted(samples, num, 90.0);
	out->p99 = bench_percentile_sorted(samples, num, 99.0);
	out->p999 = bench_percentile_sorted(samples, num, 99.9);
	out->max = num ? samples[num - 1] : 0;
	out->mean = bench_mean_u64(samples, num);
}
