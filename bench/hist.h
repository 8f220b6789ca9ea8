#ifndef BENCH_HIST_H
#define BENCH_HIST_H
/* bench/hist.h: a latency histogram that merges across threads, runs and
 * processes without losing precision, and its file format.
 *
 * Design: HdrHistogram's log-linear layout (Gil Tene's HdrHistogram, the
 * "counts index" of hdr_histogram.c), values in ns from 0 to a highest
 * trackable value, with a configurable number of significant decimal
 * digits. With d digits, 2 x 10^d rounded up to a power of two, S, is the
 * number of linear sub-buckets: values below S are exact, and every power
 * of two above is split into S/2 buckets of equal width, so a bucket is at
 * most 1/(S/2) of its lowest value wide. d = 3 (the default): S = 2048,
 * exact below 2.048 us, relative width <= 1/1024 (0.098 %) above; 0 ..
 * 1 hour is 33 792 buckets, 264 KiB of uint64_t counts. Two histograms of
 * the same layout merge by adding counts: the merge of A and B is
 * bucket-for-bucket the histogram of A's and B's samples together.
 *
 * (bench/stats.h keeps its smaller struct bench_hist, 1/64 precision in
 * caller storage, for `stun`'s send lag; this one is struct bench_hdr so
 * both can be used side by side. The latency of `relay` and `stun` uses
 * this one.)
 *
 * count, min, max and sum are exact; a percentile is the highest value of
 * the bucket that holds its nearest rank, capped at the exact maximum
 * (never below the exact percentile, at most one bucket width above).
 * Values above the highest trackable value go into the last bucket (the
 * maximum stays exact, and a percentile landing there reads the maximum).
 *
 * The file format (docs/BENCH.md, "Histogram files") is one JSON line:
 *   {"atmos_hist":1,"unit":"ns","sig_digits":3,"highest":3600000000000,
 *    "count":N,"min":A,"max":B,"sum":S,"buckets":[[LO,COUNT],...]}
 * with the keys in that order, sparse buckets named by their lowest value,
 * ascending. bench_hdr_encode and bench_hdr_parse do no I/O; the parser
 * checks every field and rejects anything else with the byte offset and
 * the reason.
 *
 * Nothing here locks: one writer per histogram, merge after the writers
 * stopped (or hand the histogram over, as bench/interval.h does). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/stats.h"

enum bench_hdr_limits {
	BENCH_HDR_SIG_MIN = 1,
	BENCH_HDR_SIG_MAX = 5,
	BENCH_HDR_SIG_DEFAULT = 3,
	BENCH_HDR_FORMAT_VERSION = 1,
	BENCH_HDR_COUNTS_MAX = 1 << 22,   /* buckets of one layout: 32 MiB of counts at the most */
};

/* The default range: 1 hour in ns; the largest a layout may ask for: 2^62. */
#define BENCH_HDR_HIGHEST_DEFAULT UINT64_C(3600000000000)
#define BENCH_HDR_HIGHEST_MAX (UINT64_C(1) << 62)
/* A histogram file is at most this long (a full 2^22-bucket layout fits). */
#define BENCH_HDR_FILE_MAX ((size_t)256 << 20)

struct bench_hdr;

/* bench_hdr_new allocates an empty histogram of sig_digits significant
 * digits (BENCH_HDR_SIG_MIN..MAX) for values 0..highest ns (highest from
 * 2 to BENCH_HDR_HIGHEST_MAX). Returns NULL when the layout is out of range
 * or would need more than BENCH_HDR_COUNTS_MAX buckets (*err = -EINVAL),
 * or out of memory (*err = -ENOMEM); err may be NULL. Free with
 * bench_hdr_free. */
struct bench_hdr *bench_hdr_new(unsigned sig_digits, uint64_t highest, int *err);

/* bench_hdr_free frees h; NULL does nothing. */
void bench_hdr_free(struct bench_hdr *h);

/* bench_hdr_reset empties h, keeping its layout. */
void bench_hdr_reset(struct bench_hdr *h);

/* bench_hdr_record adds one sample v (ns). Never fails; sum saturates at
 * UINT64_MAX (584 years of summed latency). */
void bench_hdr_record(struct bench_hdr *h, uint64_t v);

/* bench_hdr_same_layout says whether a and b have the same significant
 * digits and highest trackable value, which merging requires. */
bool bench_hdr_same_layout(const struct bench_hdr *a, const struct bench_hdr *b);

/* bench_hdr_merge adds every sample of src to dst. Returns 0, or -EINVAL
 * (dst unchanged) when their layouts differ. */
int bench_hdr_merge(struct bench_hdr *dst, const struct bench_hdr *src);

/* bench_hdr_count, _min, _max and _sum return the exact figures (min and
 * max 0 when empty); bench_hdr_mean returns sum / count, 0 when empty. */
uint64_t bench_hdr_count(const struct bench_hdr *h);
uint64_t bench_hdr_min(const struct bench_hdr *h);
uint64_t bench_hdr_max(const struct bench_hdr *h);
uint64_t bench_hdr_sum(const struct bench_hdr *h);
double bench_hdr_mean(const struct bench_hdr *h);

/* bench_hdr_sig_digits and _highest return the layout. */
unsigned bench_hdr_sig_digits(const struct bench_hdr *h);
uint64_t bench_hdr_highest(const struct bench_hdr *h);

/* bench_hdr_percentile returns the nearest-rank p-th percentile (p in
 * [0, 100], the rule of bench/stats.h) as the highest value of the bucket
 * holding that rank, capped at the exact maximum. p <= 0 gives the exact
 * minimum, p >= 100 the exact maximum; 0 when empty. */
uint64_t bench_hdr_percentile(const struct bench_hdr *h, double p);

/* bench_hdr_summary fills out (bench/stats.h: count, min, p50, p90, p99,
 * p99.9, max, mean) from h; all zero when h is empty. */
void bench_hdr_summary(const struct bench_hdr *h, struct bench_summary *out);

/* Buckets, for tests and writers: bench_hdr_num_buckets returns how many
 * the layout has; bench_hdr_bucket_of the index of the bucket holding v
 * (the last one for v above the highest trackable value); _bucket_lo and
 * _bucket_hi the smallest and largest value bucket idx holds (idx below
 * bench_hdr_num_buckets); bench_hdr_bucket_count its count. */
size_t bench_hdr_num_buckets(const struct bench_hdr *h);
size_t bench_hdr_bucket_of(const struct bench_hdr *h, uint64_t v);
uint64_t bench_hdr_bucket_lo(const struct bench_hdr *h, size_t idx);
uint64_t bench_hdr_bucket_hi(const struct bench_hdr *h, size_t idx);
uint64_t bench_hdr_bucket_count(const struct bench_hdr *h, size_t idx);

/* --- the file format --- */

/* bench_hdr_encode returns h as one format line, newline included and
 * NUL-terminated, its length without the NUL in *out_len; the caller frees
 * it. NULL when out of memory. */
char *bench_hdr_encode(const struct bench_hdr *h, size_t *out_len);

enum bench_hdr_status {
	BENCH_HDR_OK = 0,
	BENCH_HDR_E_SYNTAX = -1,     /* not the format's JSON shape (keys, order, numbers, brackets) */
	BENCH_HDR_E_VERSION = -2,    /* "atmos_hist" is not a version this reader knows */
	BENCH_HDR_E_LAYOUT = -3,     /* unit, sig_digits or highest out of range */
	BENCH_HDR_E_BUCKET = -4,     /* a bucket's value is no bucket start, out of order, or its count 0 */
	BENCH_HDR_E_TOTALS = -5,     /* count, min, max or sum disagree with the buckets */
	BENCH_HDR_E_NOMEM = -6,
	BENCH_HDR_E_TOO_LONG = -7,   /* longer than BENCH_HDR_FILE_MAX */
};

/* struct bench_hdr_error: where parsing stopped and why, for people. */
struct bench_hdr_error {
	size_t off;                  /* byte offset into the input */
	char msg[160];               /* "expected \"count\"", "bucket 3: count 0", ... */
};

/* bench_hdr_parse reads one format line from buf[0..len) (a final "\n" or
 * "\r\n" allowed, nothing after it) into a new histogram at *out, which the
 * caller frees. Returns BENCH_HDR_OK, or a negative status with *out NULL
 * and err (when not NULL) filled. buf need not be NUL-terminated and is
 * only read. */
enum bench_hdr_status bench_hdr_parse(const char *buf, size_t len, struct bench_hdr **out,
				      struct bench_hdr_error *err);

/* bench_hdr_strerror returns a short description of status. */
const char *bench_hdr_strerror(enum bench_hdr_status status);

#endif
