/* The log-linear latency histogram and its file format: see bench/hist.h. */
#include "bench/hist.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Layout, as HdrHistogram's with a lowest discernible value of 1:
 * sub_mag = log2 of the sub-bucket count S (a power of two >= 2 x 10^sig);
 * bucket b >= 1 holds [S/2 << b, S << b) in S/2 slots of width 2^b, bucket
 * 0 holds [0, S) exactly. Counts index of v: ((b + 1) << (sub_mag - 1)) +
 * (v >> b) - S/2, which is v itself in bucket 0. */
struct bench_hdr {
	unsigned sig;
	unsigned sub_mag;
	uint64_t highest;
	size_t num_counts;
	uint64_t count, min, max, sum;
	uint64_t counts[];
};

/* The layout for sig digits up to highest: the sub-bucket magnitude and the
 * number of counts; false when out of range. */
static bool layout(unsigned sig, uint64_t highest, unsigned *out_sub_mag, size_t *out_num)
{
	if (sig < BENCH_HDR_SIG_MIN || sig > BENCH_HDR_SIG_MAX || highest < 2 || highest > BENCH_HDR_HIGHEST_MAX)
		return false;
	uint64_t single = 2;
	for (unsigned i = 0; i < sig; i++)
		single *= 10;
	unsigned m = 0;
	while ((UINT64_C(1) << m) < single)
		m++;
	/* Buckets until the first untrackable value is above highest; at most
	 * 2^63 here since highest <= 2^62. */
	uint64_t untrackable = UINT64_C(1) << m;
	size_t buckets = 1;
	while (untrackable <= highest) {
		untrackable <<= 1;
		buckets++;
	}
	size_t num = (buckets + 1) << (m - 1);
	if (num > BENCH_HDR_COUNTS_MAX)
		return false;
	*out_sub_mag = m;
	*out_num = num;
	return true;
}

struct bench_hdr *bench_hdr_new(unsigned sig_digits, uint64_t highest, int *err)
{
	unsigned m;
	size_t num;
	if (!layout(sig_digits, highest, &m, &num)) {
		if (err)
			*err = -EINVAL;
		return NULL;
	}
	struct bench_hdr *h = calloc(1, sizeof *h + num * sizeof h->counts[0]);
	if (!h) {
		if (err)
			*err = -ENOMEM;
		return NULL;
	}
	h->sig = sig_digits;
	h->sub_mag = m;
	h->highest = highest;
	h->num_counts = num;
	h->min = UINT64_MAX;
	return h;
}

void bench_hdr_free(struct bench_hdr *h)
{
	free(h);
}

void bench_hdr_reset(struct bench_hdr *h)
{
	memset(h->counts, 0, h->num_counts * sizeof h->counts[0]);
	h->count = h->max = h->sum = 0;
	h->min = UINT64_MAX;
}

size_t bench_hdr_bucket_of(const struct bench_hdr *h, uint64_t v)
{
	uint64_t mask = (UINT64_C(1) << h->sub_mag) - 1u;
	unsigned pow2ceil = 64u - (unsigned)__builtin_clzll(v | mask);
	unsigned b = pow2ceil - h->sub_mag;
	uint64_t sub = v >> b;
	uint64_t idx = ((uint64_t)(b + 1u) << (h->sub_mag - 1u)) + sub - (UINT64_C(1) << (h->sub_mag - 1u));
	return idx < h->num_counts ? (size_t)idx : h->num_counts - 1u;
}

/* Bucket b and slot of counts index idx (bucket 0 holds both halves). */
static unsigned bucket_shift(const struct bench_hdr *h, size_t idx, uint64_t *out_sub)
{
	uint64_t half = UINT64_C(1) << (h->sub_mag - 1u);
	size_t b1 = idx >> (h->sub_mag - 1u); /* b + 1 */
	if (b1 == 0) {
		*out_sub = idx;
		return 0;
	}
	*out_sub = (idx & (half - 1u)) + half;
	return (unsigned)(b1 - 1u);
}

uint64_t bench_hdr_bucket_lo(const struct bench_hdr *h, size_t idx)
{
	uint64_t sub;
	unsigned b = bucket_shift(h, idx, &sub);
	return sub << b;
}

uint64_t bench_hdr_bucket_hi(const struct bench_hdr *h, size_t idx)
{
	uint64_t sub;
	unsigned b = bucket_shift(h, idx, &sub);
	return (sub << b) + ((UINT64_C(1) << b) - 1u);
}

size_t bench_hdr_num_buckets(const struct bench_hdr *h)
{
	return h->num_counts;
}

uint64_t bench_hdr_bucket_count(const struct bench_hdr *h, size_t idx)
{
	return h->counts[idx];
}

void bench_hdr_record(struct bench_hdr *h, uint64_t v)
{
	h->counts[bench_hdr_bucket_of(h, v)]++;
	h->count++;
	h->sum = h->sum > UINT64_MAX - v ? UINT64_MAX : h->sum + v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

bool bench_hdr_same_layout(const struct bench_hdr *a, const struct bench_hdr *b)
{
	return a->sig == b->sig && a->highest == b->highest;
}

int bench_hdr_merge(struct bench_hdr *dst, const struct bench_hdr *src)
{
	if (!bench_hdr_same_layout(dst, src))
		return -EINVAL;
	if (!src->count)
		return 0;
	for (size_t i = 0; i < dst->num_counts; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	dst->sum = dst->sum > UINT64_MAX - src->sum ? UINT64_MAX : dst->sum + src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	return 0;
}

uint64_t bench_hdr_count(const struct bench_hdr *h)
{
	return h->count;
}

uint64_t bench_hdr_min(const struct bench_hdr *h)
{
	return h->count ? h->min : 0;
}

uint64_t bench_hdr_max(const struct bench_hdr *h)
{
	return h->max;
}

uint64_t bench_hdr_sum(const struct bench_hdr *h)
{
	return h->sum;
}

double bench_hdr_mean(const struct bench_hdr *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}

unsigned bench_hdr_sig_digits(const struct bench_hdr *h)
{
	return h->sig;
}

uint64_t bench_hdr_highest(const struct bench_hdr *h)
{
	return h->highest;
}

/* The 1-based nearest rank of p among num samples, in [1, num]: the rule
 * (and the 1e-9 nudge for 99.9) of bench/stats.c. */
static uint64_t nearest_rank(double p, uint64_t num)
{
	double x = ceil(p * (double)num / 100.0 - 1e-9);
	if (x < 1.0)
		return 1;
	if (x >= (double)num)
		return num;
	return (uint64_t)x;
}

uint64_t bench_hdr_percentile(const struct bench_hdr *h, double p)
{
	if (!h->count)
		return 0;
	if (!(p > 0.0))
		return h->min;
	if (p >= 100.0)
		return h->max;
	uint64_t rank = nearest_rank(p, h->count), seen = 0;
	for (size_t i = 0; i < h->num_counts; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			/* The last bucket also holds the values above highest. */
			uint64_t hi = i + 1u == h->num_counts ? h->max : bench_hdr_bucket_hi(h, i);
			return hi < h->max ? hi : h->max;
		}
	}
	return h->max; /* unreachable while count matches the buckets */
}

void bench_hdr_summary(const struct bench_hdr *h, struct bench_summary *out)
{
	memset(out, 0, sizeof *out);
	if (!h->count)
		return;
	out->count = h->count;
	out->min = h->min;
	out->p50 = bench_hdr_percentile(h, 50.0);
	out->p90 = bench_hdr_percentile(h, 90.0);
	out->p99 = bench_hdr_percentile(h, 99.0);
	out->p999 = bench_hdr_percentile(h, 99.9);
	out->max = h->max;
	out->mean = bench_hdr_mean(h);
}

/* --- the file format --- */

enum {
	ENTRY_MAX = 44,         /* "[" 20 digits "," 20 digits "]," */
	HEAD_MAX = 256,
};

char *bench_hdr_encode(const struct bench_hdr *h, size_t *out_len)
{
	size_t nz = 0;
	for (size_t i = 0; i < h->num_counts; i++)
		nz += h->counts[i] != 0;
	size_t cap = HEAD_MAX + nz * ENTRY_MAX + 4;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	int n = snprintf(buf, cap,
			 "{\"atmos_hist\":%d,\"unit\":\"ns\",\"sig_digits\":%u,\"highest\":%llu,\"count\":%llu,"
			 "\"min\":%llu,\"max\":%llu,\"sum\":%llu,\"buckets\":[",
			 BENCH_HDR_FORMAT_VERSION, h->sig, (unsigned long long)h->highest, (unsigned long long)h->count,
			 (unsigned long long)bench_hdr_min(h), (unsigned long long)h->max, (unsigned long long)h->sum);
	size_t len = (size_t)n;
	bool first = true;
	for (size_t i = 0; i < h->num_counts; i++) {
		if (!h->counts[i])
			continue;
		n = snprintf(buf + len, cap - len, "%s[%llu,%llu]", first ? "" : ",",
			     (unsigned long long)bench_hdr_bucket_lo(h, i), (unsigned long long)h->counts[i]);
		len += (size_t)n;
		first = false;
	}
	memcpy(buf + len, "]}\n", 4);
	len += 3;
	*out_len = len;
	return buf;
}

/* A bounds-checked cursor over the input (STYLE.md §6). */
struct cur {
	const char *p;
	size_t len, off;
	struct bench_hdr_error *err;
};

static enum bench_hdr_status fail(struct cur *c, enum bench_hdr_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum bench_hdr_status fail(struct cur *c, enum bench_hdr_status st, const char *fmt, ...)
{
	if (c->err) {
		va_list ap;
		va_start(ap, fmt);
		c->err->off = c->off;
		vsnprintf(c->err->msg, sizeof c->err->msg, fmt, ap);
		va_end(ap);
	}
	return st;
}

static void skip_ws(struct cur *c)
{
	while (c->off < c->len && (c->p[c->off] == ' ' || c->p[c->off] == '\t'))
		c->off++;
}

/* Takes the literal s after optional blanks. */
static bool take(struct cur *c, const char *s)
{
	skip_ws(c);
	size_t n = strlen(s);
	if (c->len - c->off < n || memcmp(c->p + c->off, s, n) != 0)
		return false;
	c->off += n;
	return true;
}

/* A JSON unsigned integer: no sign, fraction, exponent or leading zero,
 * at most UINT64_MAX. */
static bool take_u64(struct cur *c, uint64_t *out)
{
	skip_ws(c);
	size_t start = c->off;
	uint64_t v = 0;
	while (c->off < c->len && c->p[c->off] >= '0' && c->p[c->off] <= '9') {
		unsigned d = (unsigned)(c->p[c->off] - '0');
		if (v > (UINT64_MAX - d) / 10u)
			return false;
		v = v * 10u + d;
		c->off++;
	}
	size_t n = c->off - start;
	if (n == 0 || (n > 1 && c->p[start] == '0')) {
		c->off = start;
		return false;
	}
	if (c->off < c->len && (c->p[c->off] == '.' || c->p[c->off] == 'e' || c->p[c->off] == 'E')) {
		c->off = start;
		return false;
	}
	*out = v;
	return true;
}

/* [,] "key": unsigned */
static enum bench_hdr_status field(struct cur *c, bool comma, const char *key, uint64_t *out)
{
	if ((comma && !take(c, ",")) || !take(c, key) || !take(c, ":"))
		return fail(c, BENCH_HDR_E_SYNTAX, "expected '%s%s:'", comma ? "," : "", key);
	if (!take_u64(c, out))
		return fail(c, BENCH_HDR_E_SYNTAX, "%s: expected an unsigned integer below 2^64", key);
	return BENCH_HDR_OK;
}

/* The buckets, after "[": [LO,COUNT] entries into h, ascending, then "]". */
static enum bench_hdr_status buckets(struct cur *c, struct bench_hdr *h, uint64_t *out_total, size_t *out_first,
				     size_t *out_last)
{
	uint64_t total = 0;
	size_t prev = 0, first = 0;
	bool any = false;
	if (take(c, "]"))
		goto done;
	/* Strictly ascending, so never more entries than buckets. */
	for (size_t k = 0; k <= h->num_counts; k++) {
		uint64_t lo, n;
		if (!take(c, "["))
			return fail(c, BENCH_HDR_E_SYNTAX, "bucket %zu: expected '['", k);
		size_t at = c->off;
		if (!take_u64(c, &lo) || !take(c, ",") || !take_u64(c, &n) || !take(c, "]"))
			return fail(c, BENCH_HDR_E_SYNTAX, "bucket %zu: expected [LOWEST_VALUE,COUNT]", k);
		size_t idx = bench_hdr_bucket_of(h, lo);
		if (bench_hdr_bucket_lo(h, idx) != lo) {
			c->off = at;
			return fail(c, BENCH_HDR_E_BUCKET,
				    "bucket %zu: %llu is not the lowest value of a bucket (sig_digits %u, highest %llu)", k,
				    (unsigned long long)lo, h->sig, (unsigned long long)h->highest);
		}
		if (any && idx <= prev) {
			c->off = at;
			return fail(c, BENCH_HDR_E_BUCKET, "bucket %zu: %llu is not above the bucket before it", k,
				    (unsigned long long)lo);
		}
		if (n == 0) {
			c->off = at;
			return fail(c, BENCH_HDR_E_BUCKET, "bucket %zu: count 0 (empty buckets are left out)", k);
		}
		if (total > UINT64_MAX - n)
			return fail(c, BENCH_HDR_E_TOTALS, "bucket %zu: the counts add up to more than 2^64", k);
		total += n;
		h->counts[idx] = n;
		if (!any)
			first = idx;
		any = true;
		prev = idx;
		if (take(c, "]"))
			goto done;
		if (!take(c, ","))
			return fail(c, BENCH_HDR_E_SYNTAX, "after bucket %zu: expected ',' or ']'", k);
	}
	return fail(c, BENCH_HDR_E_BUCKET, "more buckets than the layout has");
done:
	*out_total = total;
	*out_first = first;
	*out_last = prev;
	return BENCH_HDR_OK;
}

/* count, min, max and sum must be those of the buckets (see hist.h). */
static enum bench_hdr_status totals(struct cur *c, struct bench_hdr *h, uint64_t total, size_t first, size_t last)
{
	if (total != h->count)
		return fail(c, BENCH_HDR_E_TOTALS, "count %llu, but the buckets hold %llu", (unsigned long long)h->count,
			    (unsigned long long)total);
	if (!h->count) {
		if (h->min || h->max || h->sum)
			return fail(c, BENCH_HDR_E_TOTALS, "an empty histogram has min, max and sum 0");
		h->min = UINT64_MAX;
		return BENCH_HDR_OK;
	}
	if (h->min > h->max)
		return fail(c, BENCH_HDR_E_TOTALS, "min %llu is above max %llu", (unsigned long long)h->min,
			    (unsigned long long)h->max);
	if (bench_hdr_bucket_of(h, h->min) != first)
		return fail(c, BENCH_HDR_E_TOTALS, "min %llu is not in the first bucket (from %llu)",
			    (unsigned long long)h->min, (unsigned long long)bench_hdr_bucket_lo(h, first));
	if (bench_hdr_bucket_of(h, h->max) != last)
		return fail(c, BENCH_HDR_E_TOTALS, "max %llu is not in the last bucket (from %llu)",
			    (unsigned long long)h->max, (unsigned long long)bench_hdr_bucket_lo(h, last));
	/* The mean lies between min and max, unless the sum saturated. */
	uint64_t lo, hi;
	bool lo_over = __builtin_mul_overflow(h->min, h->count, &lo);
	bool hi_over = __builtin_mul_overflow(h->max, h->count, &hi);
	if (h->sum != UINT64_MAX && (lo_over || h->sum < lo || (!hi_over && h->sum > hi)))
		return fail(c, BENCH_HDR_E_TOTALS, "sum %llu is not between count x min and count x max",
			    (unsigned long long)h->sum);
	return BENCH_HDR_OK;
}

enum bench_hdr_status bench_hdr_parse(const char *buf, size_t len, struct bench_hdr **out,
				      struct bench_hdr_error *err)
{
	struct cur c = {.p = buf, .len = len, .err = err};
	struct bench_hdr *h = NULL;
	uint64_t version, sig, highest, count, min, max, sum, total = 0;
	size_t first = 0, last = 0;
	enum bench_hdr_status st;
	*out = NULL;
	if (len > BENCH_HDR_FILE_MAX)
		return fail(&c, BENCH_HDR_E_TOO_LONG, "longer than %zu bytes", BENCH_HDR_FILE_MAX);
	if (!take(&c, "{"))
		return fail(&c, BENCH_HDR_E_SYNTAX, "expected '{' (a histogram line)");
	if ((st = field(&c, false, "\"atmos_hist\"", &version)))
		return st;
	if (version != BENCH_HDR_FORMAT_VERSION)
		return fail(&c, BENCH_HDR_E_VERSION, "format version %llu: this reader knows version %d",
			    (unsigned long long)version, BENCH_HDR_FORMAT_VERSION);
	if (!take(&c, ",") || !take(&c, "\"unit\"") || !take(&c, ":"))
		return fail(&c, BENCH_HDR_E_SYNTAX, "expected ',\"unit\":'");
	if (!take(&c, "\"ns\""))
		return fail(&c, BENCH_HDR_E_LAYOUT, "unit: expected \"ns\"");
	if ((st = field(&c, true, "\"sig_digits\"", &sig)) || (st = field(&c, true, "\"highest\"", &highest)))
		return st;
	unsigned m;
	size_t num;
	if (sig > BENCH_HDR_SIG_MAX || !layout((unsigned)sig, highest, &m, &num))
		return fail(&c, BENCH_HDR_E_LAYOUT,
			    "sig_digits %llu, highest %llu: expected %d..%d digits, highest 2..2^62, at most %d buckets",
			    (unsigned long long)sig, (unsigned long long)highest, BENCH_HDR_SIG_MIN, BENCH_HDR_SIG_MAX,
			    BENCH_HDR_COUNTS_MAX);
	if ((st = field(&c, true, "\"count\"", &count)) || (st = field(&c, true, "\"min\"", &min)) ||
	    (st = field(&c, true, "\"max\"", &max)) || (st = field(&c, true, "\"sum\"", &sum)))
		return st;
	if (!take(&c, ",") || !take(&c, "\"buckets\"") || !take(&c, ":") || !take(&c, "["))
		return fail(&c, BENCH_HDR_E_SYNTAX, "expected ',\"buckets\":['");
	h = bench_hdr_new((unsigned)sig, highest, NULL);
	if (!h)
		return fail(&c, BENCH_HDR_E_NOMEM, "out of memory for %zu buckets", num);
	h->count = count;
	h->min = min;
	h->max = max;
	h->sum = sum;
	if ((st = buckets(&c, h, &total, &first, &last)))
		goto bad;
	st = BENCH_HDR_E_SYNTAX;
	if (!take(&c, "}")) {
		fail(&c, st, "expected '}' after the buckets");
		goto bad;
	}
	skip_ws(&c);
	if (c.off < c.len && c.p[c.off] == '\r')
		c.off++;
	if (c.off < c.len && c.p[c.off] == '\n')
		c.off++;
	if (c.off != c.len) {
		fail(&c, st, "unexpected bytes after the histogram line");
		goto bad;
	}
	if ((st = totals(&c, h, total, first, last)))
		goto bad;
	*out = h;
	return BENCH_HDR_OK;
bad:
	bench_hdr_free(h);
	return st;
}

const char *bench_hdr_strerror(enum bench_hdr_status status)
{
	switch (status) {
	case BENCH_HDR_OK:
		return "ok";
	case BENCH_HDR_E_SYNTAX:
		return "not a histogram line";
	case BENCH_HDR_E_VERSION:
		return "unsupported format version";
	case BENCH_HDR_E_LAYOUT:
		return "unsupported layout";
	case BENCH_HDR_E_BUCKET:
		return "bad bucket";
	case BENCH_HDR_E_TOTALS:
		return "totals disagree with the buckets";
	case BENCH_HDR_E_NOMEM:
		return "out of memory";
	case BENCH_HDR_E_TOO_LONG:
		return "too long";
	}
	return "unknown status";
}
