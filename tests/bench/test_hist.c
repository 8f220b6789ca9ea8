/* bench/hist: the log-linear histogram against sorted raw samples, merging,
 * extreme values, and its file format (round trip, malformed lines). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/hist.h"
#include "bench/stats.h"

/* xorshift64*: reproducible samples without libc's rand. */
static uint64_t t_rng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* Log-uniform over 1 ns .. ~2^40 ns (18 minutes): every bucket group. */
static uint64_t t_sample(uint64_t *s)
{
	uint64_t r = t_rng(s);
	unsigned bits = (unsigned)(r % 41u);
	return (t_rng(s) >> (64u - bits - 1u)) | 1u;
}

static struct bench_hdr *t_new(void)
{
	struct bench_hdr *h = bench_hdr_new(BENCH_HDR_SIG_DEFAULT, BENCH_HDR_HIGHEST_DEFAULT, NULL);
	cr_assert_not_null(h);
	return h;
}

static void t_assert_same(const struct bench_hdr *a, const struct bench_hdr *b)
{
	cr_assert(bench_hdr_same_layout(a, b));
	cr_assert_eq(bench_hdr_count(a), bench_hdr_count(b));
	cr_assert_eq(bench_hdr_min(a), bench_hdr_min(b));
	cr_assert_eq(bench_hdr_max(a), bench_hdr_max(b));
	cr_assert_eq(bench_hdr_sum(a), bench_hdr_sum(b));
	for (size_t i = 0; i < bench_hdr_num_buckets(a); i++)
		cr_assert_eq(bench_hdr_bucket_count(a, i), bench_hdr_bucket_count(b, i), "bucket %zu (from %llu): %llu vs %llu",
			     i, (unsigned long long)bench_hdr_bucket_lo(a, i), (unsigned long long)bench_hdr_bucket_count(a, i),
			     (unsigned long long)bench_hdr_bucket_count(b, i));
}

/* Every layout tiles 0 .. its top without gaps, and a bucket is at most
 * 1/(S/2) of its lowest value wide: 10^-sig relative precision or better. */
Test(bench_hist, layouts_tile_the_range_within_their_precision)
{
	for (unsigned sig = BENCH_HDR_SIG_MIN; sig <= BENCH_HDR_SIG_MAX; sig++) {
		struct bench_hdr *h = bench_hdr_new(sig, BENCH_HDR_HIGHEST_DEFAULT, NULL);
		cr_assert_not_null(h, "sig %u", sig);
		double bound = 1.0;
		for (unsigned i = 0; i < sig; i++)
			bound /= 10.0;
		size_t n = bench_hdr_num_buckets(h);
		cr_assert_eq(bench_hdr_bucket_lo(h, 0), 0);
		cr_assert_geq(bench_hdr_bucket_hi(h, n - 1), BENCH_HDR_HIGHEST_DEFAULT, "sig %u: top below highest", sig);
		for (size_t i = 0; i < n; i++) {
			uint64_t lo = bench_hdr_bucket_lo(h, i), hi = bench_hdr_bucket_hi(h, i);
			cr_assert_eq(bench_hdr_bucket_of(h, lo), i, "sig %u bucket %zu", sig, i);
			cr_assert_eq(bench_hdr_bucket_of(h, hi), i, "sig %u bucket %zu", sig, i);
			if (i + 1 < n)
				cr_assert_eq(hi + 1u, bench_hdr_bucket_lo(h, i + 1), "sig %u: gap after bucket %zu", sig, i);
			if (hi > lo) /* exact buckets are 1 wide */
				cr_assert_leq((double)(hi - lo + 1u) / (double)lo, bound, "sig %u bucket %zu [%llu, %llu]", sig,
					      i, (unsigned long long)lo, (unsigned long long)hi);
		}
		bench_hdr_free(h);
	}
}

Test(bench_hist, bad_layouts_are_refused)
{
	int err = 0;
	cr_assert_null(bench_hdr_new(0, BENCH_HDR_HIGHEST_DEFAULT, &err));
	cr_assert_eq(err, -EINVAL);
	cr_assert_null(bench_hdr_new(6, BENCH_HDR_HIGHEST_DEFAULT, &err));
	cr_assert_null(bench_hdr_new(3, 1, &err));
	cr_assert_null(bench_hdr_new(3, BENCH_HDR_HIGHEST_MAX + 1, &err));
	/* sig 5 up to 2^62 needs more than BENCH_HDR_COUNTS_MAX buckets. */
	cr_assert_null(bench_hdr_new(5, BENCH_HDR_HIGHEST_MAX, &err));
	cr_assert_eq(err, -EINVAL);
	bench_hdr_free(NULL);
}

/* Merging is adding counts: three per-thread histograms merged equal one
 * histogram of all the samples, bucket for bucket. */
Test(bench_hist, merge_equals_one_histogram_of_all_samples)
{
	struct bench_hdr *all = t_new(), *part[3] = {t_new(), t_new(), t_new()};
	uint64_t s = 0x9e3779b97f4a7c15u;
	for (unsigned i = 0; i < 200000; i++) {
		uint64_t v = t_sample(&s);
		bench_hdr_record(all, v);
		bench_hdr_record(part[i % 3u == 0 ? 0 : (v & 1u) + 1u], v);
	}
	struct bench_hdr *m = t_new();
	for (int k = 0; k < 3; k++)
		cr_assert_eq(bench_hdr_merge(m, part[k]), 0);
	t_assert_same(m, all);
	for (double p = 0.0; p <= 100.0; p += 0.5)
		cr_assert_eq(bench_hdr_percentile(m, p), bench_hdr_percentile(all, p), "p%g", p);
	struct bench_hdr *other = bench_hdr_new(2, BENCH_HDR_HIGHEST_DEFAULT, NULL);
	cr_assert_eq(bench_hdr_merge(m, other), -EINVAL, "layouts differ: merge must refuse");
	t_assert_same(m, all);
	bench_hdr_free(other);
	bench_hdr_free(m);
	bench_hdr_free(all);
	for (int k = 0; k < 3; k++)
		bench_hdr_free(part[k]);
}

/* Random data: every percentile is never below the exact nearest-rank one
 * and at most one bucket width (<= 1/1024 of it) above; exact below 2048. */
Test(bench_hist, percentiles_within_bucket_precision_of_sorted_samples)
{
	enum { N = 100000 };
	static const double ps[] = {0.0, 0.1, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0};
	uint64_t *v = malloc(N * sizeof *v);
	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct bench_hdr *h = t_new();
		uint64_t s = seed * 0x2545f4914f6cdd1du;
		/* Seed 4: a narrow loopback-like band 20..80 us, many per bucket. */
		for (unsigned i = 0; i < N; i++) {
			v[i] = seed == 4 ? 20000u + t_rng(&s) % 60000u : t_sample(&s);
			bench_hdr_record(h, v[i]);
		}
		bench_sort_u64(v, N);
		for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
			uint64_t exact = bench_percentile_sorted(v, N, ps[k]), got = bench_hdr_percentile(h, ps[k]);
			cr_assert_geq(got, exact, "seed %llu p%g: %llu below exact %llu", (unsigned long long)seed, ps[k],
				      (unsigned long long)got, (unsigned long long)exact);
			cr_assert_leq(got - exact, exact / 1024u, "seed %llu p%g: %llu vs exact %llu", (unsigned long long)seed,
				      ps[k], (unsigned long long)got, (unsigned long long)exact);
		}
		double mean = bench_mean_u64(v, N);
		cr_assert_float_eq(bench_hdr_mean(h), mean, 1e-9 * mean);
		cr_assert_eq(bench_hdr_min(h), v[0]);
		cr_assert_eq(bench_hdr_max(h), v[N - 1]);
		bench_hdr_free(h);
	}
	free(v);
}

Test(bench_hist, extreme_values)
{
	struct bench_hdr *h = t_new();
	cr_assert_eq(bench_hdr_percentile(h, 50), 0, "empty");
	cr_assert_eq(bench_hdr_min(h), 0);
	cr_assert_eq(bench_hdr_mean(h), 0.0);
	bench_hdr_record(h, 0);
	cr_assert_eq(bench_hdr_percentile(h, 50), 0);
	bench_hdr_record(h, BENCH_HDR_HIGHEST_DEFAULT);
	bench_hdr_record(h, UINT64_MAX); /* above highest: the last bucket, max exact */
	cr_assert_eq(bench_hdr_count(h), 3);
	cr_assert_eq(bench_hdr_max(h), UINT64_MAX);
	cr_assert_eq(bench_hdr_sum(h), UINT64_MAX, "the sum saturates");
	cr_assert_eq(bench_hdr_bucket_count(h, bench_hdr_num_buckets(h) - 1), 1);
	cr_assert_eq(bench_hdr_percentile(h, 100), UINT64_MAX);
	cr_assert_eq(bench_hdr_percentile(h, 99), UINT64_MAX, "a rank in the last bucket reads the exact max");
	uint64_t p50 = bench_hdr_percentile(h, 50);
	cr_assert(p50 >= BENCH_HDR_HIGHEST_DEFAULT && p50 - BENCH_HDR_HIGHEST_DEFAULT <= BENCH_HDR_HIGHEST_DEFAULT / 1024,
		  "p50 %llu", (unsigned long long)p50);
	cr_assert_eq(bench_hdr_percentile(h, 0), 0);
	bench_hdr_reset(h);
	cr_assert_eq(bench_hdr_count(h), 0);
	bench_hdr_record(h, 7);
	cr_assert_eq(bench_hdr_min(h), 7, "reset forgets the old minimum");
	cr_assert_eq(bench_hdr_percentile(h, 50), 7, "exact below 2048");
	bench_hdr_free(h);
}

static struct bench_hdr *t_parse_ok(const char *line, size_t len)
{
	struct bench_hdr *h = NULL;
	struct bench_hdr_error err = {0};
	enum bench_hdr_status st = bench_hdr_parse(line, len, &h, &err);
	cr_assert_eq(st, BENCH_HDR_OK, "%s at byte %zu: %s\n%.*s", bench_hdr_strerror(st), err.off, err.msg, (int)len, line);
	return h;
}

Test(bench_hist, round_trip_is_exact_and_stable)
{
	struct bench_hdr *h = t_new();
	uint64_t s = 42;
	for (unsigned i = 0; i < 50000; i++)
		bench_hdr_record(h, t_sample(&s));
	bench_hdr_record(h, 0);
	bench_hdr_record(h, UINT64_MAX / 4);
	for (int empty = 0; empty < 2; empty++) {
		size_t len = 0, len2 = 0;
		char *line = bench_hdr_encode(h, &len);
		cr_assert_not_null(line);
		cr_assert_eq(strlen(line), len);
		cr_assert_eq(line[len - 1], '\n');
		struct bench_hdr *back = t_parse_ok(line, len);
		t_assert_same(back, h);
		char *again = bench_hdr_encode(back, &len2);
		cr_assert_eq(len2, len);
		cr_assert_eq(memcmp(line, again, len), 0, "re-encoding differs");
		/* Without the newline, and with CRLF, it reads the same. */
		bench_hdr_free(t_parse_ok(line, len - 1));
		free(again);
		free(line);
		bench_hdr_free(back);
		bench_hdr_reset(h); /* second pass: the empty histogram */
	}
	const char *crlf = "{\"atmos_hist\":1,\"unit\":\"ns\",\"sig_digits\":2,\"highest\":1000000,\"count\":2,\"min\":5,"
			   "\"max\":300,\"sum\":305,\"buckets\":[[5,1],[300,1]]}\r\n";
	struct bench_hdr *c = t_parse_ok(crlf, strlen(crlf));
	cr_assert_eq(bench_hdr_sig_digits(c), 2);
	cr_assert_eq(bench_hdr_highest(c), 1000000);
	cr_assert_eq(bench_hdr_percentile(c, 100), 300);
	bench_hdr_free(c);
	const char *spaced = "{ \"atmos_hist\" : 1 , \"unit\" : \"ns\" , \"sig_digits\" : 3 , \"highest\" : 10000 , "
			     "\"count\" : 1 , \"min\" : 9 , \"max\" : 9 , \"sum\" : 9 , \"buckets\" : [ [ 9 , 1 ] ] }\n";
	bench_hdr_free(t_parse_ok(spaced, strlen(spaced)));
	bench_hdr_free(h);
}

/* Every proper prefix of a valid line is refused, and the parser reads
 * nothing past the length it was given (ASan: exact-size copies). */
Test(bench_hist, every_prefix_is_refused)
{
	const char *line = "{\"atmos_hist\":1,\"unit\":\"ns\",\"sig_digits\":3,\"highest\":3600000000000,\"count\":3,"
			   "\"min\":100,\"max\":5000,\"sum\":5200,\"buckets\":[[100,2],[5000,1]]}";
	size_t n = strlen(line);
	for (size_t k = 0; k < n; k++) {
		char *p = malloc(k ? k : 1);
		memcpy(p, line, k);
		struct bench_hdr *h = NULL;
		cr_assert_neq(bench_hdr_parse(p, k, &h, NULL), BENCH_HDR_OK, "prefix of %zu bytes accepted", k);
		cr_assert_null(h);
		free(p);
	}
	bench_hdr_free(t_parse_ok(line, n));
}

/* Arrays, not pointers: Criterion runs each parameter in a new process. */
struct bad_case {
	char name[24];
	char line[200];
	enum bench_hdr_status want;
};

#define HEAD "{\"atmos_hist\":1,\"unit\":\"ns\",\"sig_digits\":3,\"highest\":3600000000000,"
static const struct bad_case bad_cases[] = {
	{"empty", "", BENCH_HDR_E_SYNTAX},
	{"not json", "hello\n", BENCH_HDR_E_SYNTAX},
	{"csv of bench/plot", "latency_us,count,fraction_at_or_below\n", BENCH_HDR_E_SYNTAX},
	{"version 2", "{\"atmos_hist\":2,\"unit\":\"ns\"}", BENCH_HDR_E_VERSION},
	{"version 0", "{\"atmos_hist\":0}", BENCH_HDR_E_VERSION},
	{"unit us", "{\"atmos_hist\":1,\"unit\":\"us\",\"sig_digits\":3}", BENCH_HDR_E_LAYOUT},
	{"sig 0", "{\"atmos_hist\":1,\"unit\":\"ns\",\"sig_digits\":0,\"highest\":1000,", BENCH_HDR_E_LAYOUT},
	{"sig 6", "{\"atmos_hist\":1,\"unit\":\"ns\",\"sig_digits\":6,\"highest\":1000,", BENCH_HDR_E_LAYOUT},
	{"sig huge", "{\"atmos_hist\":1,\"unit\":\"ns\",\"sig_digits\":4294967299,\"highest\":1000,", BENCH_HDR_E_LAYOUT},
	{"highest 1", "{\"atmos_hist\":1,\"unit\":\"ns\",\"sig_digits\":3,\"highest\":1,", BENCH_HDR_E_LAYOUT},
	{"highest 2^63", "{\"atmos_hist\":1,\"unit\":\"ns\",\"sig_digits\":3,\"highest\":9223372036854775808,",
	 BENCH_HDR_E_LAYOUT},
	{"keys reordered", "{\"unit\":\"ns\",\"atmos_hist\":1}", BENCH_HDR_E_SYNTAX},
	{"negative", HEAD "\"count\":-1,", BENCH_HDR_E_SYNTAX},
	{"leading zero", HEAD "\"count\":01,", BENCH_HDR_E_SYNTAX},
	{"fraction", HEAD "\"count\":1.5,", BENCH_HDR_E_SYNTAX},
	{"exponent", HEAD "\"count\":1e3,", BENCH_HDR_E_SYNTAX},
	{"2^64", HEAD "\"count\":18446744073709551616,", BENCH_HDR_E_SYNTAX},
	{"string number", HEAD "\"count\":\"1\",", BENCH_HDR_E_SYNTAX},
	{"count off", HEAD "\"count\":2,\"min\":5,\"max\":5,\"sum\":5,\"buckets\":[[5,1]]}", BENCH_HDR_E_TOTALS},
	{"min off", HEAD "\"count\":1,\"min\":4,\"max\":5,\"sum\":5,\"buckets\":[[5,1]]}", BENCH_HDR_E_TOTALS},
	{"max off", HEAD "\"count\":1,\"min\":5,\"max\":6,\"sum\":5,\"buckets\":[[5,1]]}", BENCH_HDR_E_TOTALS},
	{"min above max", HEAD "\"count\":2,\"min\":9,\"max\":5,\"sum\":14,\"buckets\":[[5,1],[9,1]]}",
	 BENCH_HDR_E_TOTALS},
	{"sum too small", HEAD "\"count\":2,\"min\":5,\"max\":9,\"sum\":9,\"buckets\":[[5,1],[9,1]]}", BENCH_HDR_E_TOTALS},
	{"sum too large", HEAD "\"count\":2,\"min\":5,\"max\":9,\"sum\":19,\"buckets\":[[5,1],[9,1]]}", BENCH_HDR_E_TOTALS},
	{"empty with min", HEAD "\"count\":0,\"min\":1,\"max\":0,\"sum\":0,\"buckets\":[]}", BENCH_HDR_E_TOTALS},
	{"counts overflow",
	 HEAD "\"count\":0,\"min\":5,\"max\":9,\"sum\":0,\"buckets\":[[5,18446744073709551615],[9,1]]}",
	 BENCH_HDR_E_TOTALS},
	{"not a bucket start", HEAD "\"count\":1,\"min\":2049,\"max\":2049,\"sum\":2049,\"buckets\":[[2049,1]]}",
	 BENCH_HDR_E_BUCKET},
	{"descending", HEAD "\"count\":2,\"min\":5,\"max\":9,\"sum\":14,\"buckets\":[[9,1],[5,1]]}", BENCH_HDR_E_BUCKET},
	{"duplicate", HEAD "\"count\":2,\"min\":5,\"max\":5,\"sum\":10,\"buckets\":[[5,1],[5,1]]}", BENCH_HDR_E_BUCKET},
	{"zero count", HEAD "\"count\":0,\"min\":0,\"max\":0,\"sum\":0,\"buckets\":[[5,0]]}", BENCH_HDR_E_BUCKET},
	{"bucket triple", HEAD "\"count\":1,\"min\":5,\"max\":5,\"sum\":5,\"buckets\":[[5,1,1]]}", BENCH_HDR_E_SYNTAX},
	{"trailing comma", HEAD "\"count\":1,\"min\":5,\"max\":5,\"sum\":5,\"buckets\":[[5,1],]}", BENCH_HDR_E_SYNTAX},
	{"extra key", HEAD "\"count\":1,\"min\":5,\"max\":5,\"sum\":5,\"buckets\":[[5,1]],\"x\":1}", BENCH_HDR_E_SYNTAX},
	{"two lines", HEAD "\"count\":0,\"min\":0,\"max\":0,\"sum\":0,\"buckets\":[]}\n{}", BENCH_HDR_E_SYNTAX},
	{"NUL inside", HEAD "\"count\":0,\"min\":0,\"max\":0,\"sum\":0,\"buckets\":[]}\n\0", BENCH_HDR_E_SYNTAX},
};

ParameterizedTestParameters(bench_hist, malformed_lines_are_refused)
{
	return cr_make_param_array(struct bad_case, bad_cases, sizeof bad_cases / sizeof bad_cases[0]);
}

ParameterizedTest(const struct bad_case *c, bench_hist, malformed_lines_are_refused)
{
	size_t len = strlen(c->line);
	if (!strcmp(c->name, "NUL inside"))
		len++; /* the NUL itself is part of the input */
	struct bench_hdr *h = (struct bench_hdr *)1;
	struct bench_hdr_error err = {0};
	enum bench_hdr_status st = bench_hdr_parse(c->line, len, &h, &err);
	cr_assert_eq(st, c->want, "%s: got %d (%s: %s at byte %zu), want %d", c->name, st, bench_hdr_strerror(st), err.msg,
		     err.off, c->want);
	cr_assert_null(h, "%s: a refused line leaves no histogram", c->name);
	cr_assert(err.msg[0], "%s: no reason given", c->name);
	cr_assert_leq(err.off, len, "%s", c->name);
}
