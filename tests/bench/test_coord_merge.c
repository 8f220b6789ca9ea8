/* bench/coord_merge: what the coordinator adds up. The merge of the
 * workers' histograms, passed through their line format as on the wire, is
 * bucket for bucket one histogram of all the samples; interval and summary
 * counts add; malformed rows are refused with the field's name. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/coord_merge.h"
#include "bench/hist.h"

static uint64_t t_rng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static struct bench_hdr *t_new(void)
{
	struct bench_hdr *h = bench_hdr_new(BENCH_HDR_SIG_DEFAULT, BENCH_HDR_HIGHEST_DEFAULT, NULL);
	cr_assert_not_null(h);
	return h;
}

/* h through its line format, as a worker sends it. */
static struct bench_hdr *t_wire(const struct bench_hdr *h)
{
	size_t len = 0;
	char *line = bench_hdr_encode(h, &len);
	cr_assert_not_null(line);
	struct bench_hdr *out = NULL;
	struct bench_hdr_error err;
	cr_assert_eq(bench_hdr_parse(line, len, &out, &err), BENCH_HDR_OK, "%s", err.msg);
	free(line);
	return out;
}

Test(coord_merge, merged_histogram_equals_one_histogram_of_all_samples)
{
	enum { WORKERS = 3 };
	struct bench_hdr *w[WORKERS], *all = t_new(), *merged = t_new();
	uint64_t seed = 42;
	for (int k = 0; k < WORKERS; k++) {
		w[k] = t_new();
		/* Each worker its own latency range, so the merge is not one distribution. */
		for (int i = 0; i < 20000 * (k + 1); i++) {
			uint64_t v = (t_rng(&seed) % (UINT64_C(1000000) << (4 * k))) + 1;
			bench_hdr_record(w[k], v);
			bench_hdr_record(all, v);
		}
		struct bench_hdr *got = t_wire(w[k]);
		cr_assert_eq(bench_hdr_merge(merged, got), 0);
		bench_hdr_free(got);
	}
	cr_assert_eq(bench_hdr_count(merged), bench_hdr_count(w[0]) + bench_hdr_count(w[1]) + bench_hdr_count(w[2]));
	cr_assert_eq(bench_hdr_count(merged), bench_hdr_count(all));
	cr_assert_eq(bench_hdr_min(merged), bench_hdr_min(all));
	cr_assert_eq(bench_hdr_max(merged), bench_hdr_max(all));
	cr_assert_eq(bench_hdr_sum(merged), bench_hdr_sum(all));
	for (size_t i = 0; i < bench_hdr_num_buckets(all); i++)
		cr_assert_eq(bench_hdr_bucket_count(merged, i), bench_hdr_bucket_count(all, i), "bucket %zu", i);
	static const double ps[] = {50.0, 90.0, 99.0, 99.9, 99.99};
	for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
		cr_assert_eq(bench_hdr_percentile(merged, ps[i]), bench_hdr_percentile(all, ps[i]), "p%g", ps[i]);
	/* Not what averaging gives: the workers' p99s averaged are far off. */
	double avg = 0;
	for (int k = 0; k < WORKERS; k++)
		avg += (double)bench_hdr_percentile(w[k], 99.0) / WORKERS;
	cr_assert(fabs(avg - (double)bench_hdr_percentile(all, 99.0)) > 0.01 * avg);
	for (int k = 0; k < WORKERS; k++)
		bench_hdr_free(w[k]);
	bench_hdr_free(all);
	bench_hdr_free(merged);
}

static const char row_a[] =
	"{\"interval\":3,\"phase\":\"run\",\"t_start_s\":1.000,\"t_end_s\":2.000,\"workers\":1,\"sessions_up\":4,"
	"\"sessions\":4,\"msgs\":200,\"msgs_per_s\":200.0,\"bytes\":12800,\"mb_per_s\":0.013,\"latency\":{\"samples\":"
	"200,\"p50_us\":1.0,\"p90_us\":1.0,\"p99_us\":1.0,\"p999_us\":1.0,\"max_us\":1.0},\"errors\":{\"total\":2,"
	"\"reset\":2}}\n";
static const char row_b[] =
	"{\"interval\":3,\"phase\":\"run\",\"t_start_s\":1.000,\"t_end_s\":2.050,\"workers\":2,\"sessions_up\":6,"
	"\"sessions\":8,\"msgs\":350,\"msgs_per_s\":350.0,\"bytes\":22400,\"mb_per_s\":0.022,\"latency\":{\"samples\":"
	"349,\"p50_us\":null},\"errors\":{\"total\":1}}";

Test(coord_merge, interval_counts_add)
{
	struct bench_coord_row a, b, acc = {0};
	char err[160];
	cr_assert_eq(bench_coord_row_parse(row_a, strlen(row_a), &a, err, sizeof err), 0, "%s", err);
	cr_assert_eq(bench_coord_row_parse(row_b, strlen(row_b), &b, err, sizeof err), 0, "%s", err);
	cr_assert_eq(a.idx, 3);
	cr_assert(!a.warmup);
	acc.t0_s = a.t0_s;
	acc.t1_s = a.t1_s;
	bench_coord_row_add(&acc, &a);
	bench_coord_row_add(&acc, &b);
	cr_assert_eq(acc.sessions_up, 10);
	cr_assert_eq(acc.sessions, 12);
	cr_assert_eq(acc.msgs, 550);
	cr_assert_eq(acc.bytes, 35200);
	cr_assert_eq(acc.errors, 3);
	/* By kind: row a's 2 resets; row b names none (an older worker's
	 * total only), so every other kind stays 0. */
	for (size_t k = 0; k < BENCH_COORD_ERR_KINDS; k++)
		cr_assert_eq(acc.err_kind[k], strcmp(bench_coord_err_kinds[k], "reset") ? 0 : 2, "%s",
			     bench_coord_err_kinds[k]);
	cr_assert_eq(acc.samples, 549);
	cr_assert_float_eq(acc.t0_s, 1.0, 1e-9);
	cr_assert_float_eq(acc.t1_s, 2.05, 1e-9);
}

struct bad_row {
	const char *json;
	const char *reason; /* a piece of the message */
};

static const struct bad_row bad_rows[] = {
	{"{\"interval\":1,\"phase\":\"run\",\"t_start_s\":0,\"t_end_s\":1,\"sessions_up\":0,\"sessions\":0,\"msgs\":0,"
	 "\"bytes\":0,\"errors\":{\"total\":1,\"reset\":-1}}",
	 "\"reset\""},
	{"", "not JSON"},
	{"{\"interval\":1", "not JSON"},
	{"[1,2]", "not a JSON object"},
	{"{} x", "bytes after"},
	{"{\"phase\":\"run\"}", "\"interval\""},
	{"{\"interval\":-1,\"phase\":\"run\",\"t_start_s\":0,\"t_end_s\":1,\"sessions_up\":0,\"sessions\":0,\"msgs\":0,"
	 "\"bytes\":0,\"errors\":{\"total\":0}}",
	 "\"interval\""},
	{"{\"interval\":1,\"phase\":\"later\",\"t_start_s\":0,\"t_end_s\":1,\"sessions_up\":0,\"sessions\":0,\"msgs\":0,"
	 "\"bytes\":0,\"errors\":{\"total\":0}}",
	 "\"phase\""},
	{"{\"interval\":1,\"phase\":\"run\",\"t_start_s\":2,\"t_end_s\":1,\"sessions_up\":0,\"sessions\":0,\"msgs\":0,"
	 "\"bytes\":0,\"errors\":{\"total\":0}}",
	 "not an interval"},
	{"{\"interval\":1,\"phase\":\"run\",\"t_start_s\":0,\"t_end_s\":1,\"sessions_up\":0,\"sessions\":0,\"msgs\":\"7\","
	 "\"bytes\":0,\"errors\":{\"total\":0}}",
	 "\"msgs\""},
	{"{\"interval\":1,\"phase\":\"run\",\"t_start_s\":0,\"t_end_s\":1,\"sessions_up\":0,\"sessions\":0,\"msgs\":0,"
	 "\"bytes\":0,\"errors\":null}",
	 "\"total\""},
	{"{\"interval\":1,\"phase\":\"run\",\"t_start_s\":0,\"t_end_s\":1,\"sessions_up\":0,\"sessions\":0,\"msgs\":0,"
	 "\"bytes\":0,\"errors\":{\"total\":0},\"latency\":{\"samples\":1.5}}",
	 "\"samples\""},
};

Test(coord_merge, malformed_rows_are_refused_by_field)
{
	for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
		struct bench_coord_row r;
		char err[160] = "";
		cr_expect_eq(bench_coord_row_parse(bad_rows[i].json, strlen(bad_rows[i].json), &r, err, sizeof err), -1,
			     "accepted: %s", bad_rows[i].json);
		cr_expect(strstr(err, bad_rows[i].reason), "%s: reason '%s', want '%s'", bad_rows[i].json, err,
			  bad_rows[i].reason);
	}
}

static const char sum_lat[] =
	"{\"tool\":\"relay\",\"mode\":\"latency\",\"sessions\":4,\"setup\":{\"sessions_up\":4},\"latency\":{"
	"\"measured_s\":2.000,\"sent\":400,\"received\":398},\"bench_cpu\":0.25,\"errors\":{\"total\":1}}";
static const char sum_lat2[] =
	"{\"tool\":\"relay\",\"mode\":\"latency\",\"sessions\":6,\"setup\":{\"sessions_up\":5},\"latency\":{"
	"\"measured_s\":2.010,\"sent\":600,\"received\":600},\"bench_cpu\":null,\"errors\":{\"total\":0}}";

Test(coord_merge, summary_counts_add_and_thresholds_see_the_sum)
{
	struct bench_coord_summary a, b, acc;
	char err[160];
	cr_assert_eq(bench_coord_summary_parse(sum_lat, strlen(sum_lat), &a, err, sizeof err), 0, "%s", err);
	cr_assert_eq(bench_coord_summary_parse(sum_lat2, strlen(sum_lat2), &b, err, sizeof err), 0, "%s", err);
	bench_coord_summary_init(&acc);
	bench_coord_summary_add(&acc, &a);
	bench_coord_summary_add(&acc, &b);
	cr_assert_eq(acc.num, 2);
	cr_assert(acc.latency);
	cr_assert_eq(acc.sessions, 10);
	cr_assert_eq(acc.sessions_up, 9);
	cr_assert_eq(acc.sent, 1000);
	cr_assert_eq(acc.received, 998);
	cr_assert_eq(acc.errors, 1);
	cr_assert_float_eq(acc.measured_s, 2.01, 1e-9);
	cr_assert_float_eq(acc.msgs_per_s, 398.0 / 2.0 + 600.0 / 2.01, 1e-6);
	cr_assert(isnan(acc.bench_cpu), "an unknown CPU figure makes the sum unknown");

	struct bench_hdr *h = t_new();
	for (uint64_t v = 1; v <= 1000; v++)
		bench_hdr_record(h, v * 1000);
	struct bench_threshold_input in;
	bench_coord_threshold_input(&acc, h, &in);
	cr_assert_float_eq(in.delivered_pct, 99.8, 1e-9);
	cr_assert_float_eq(in.operations, 2.0 * 10 + 1000, 1e-9);
	cr_assert_float_eq(in.errors, 1.0, 1e-9);
	cr_assert_float_eq(in.p99_ns, (double)bench_hdr_percentile(h, 99.0), 1e-9);
	cr_assert_float_eq(in.max_ns, 1000000.0, 1e-9);
	bench_coord_threshold_input(&acc, NULL, &in);
	cr_assert(isnan(in.p50_ns), "no histogram: no latency figure");
	bench_hdr_free(h);

	cr_assert_eq(bench_coord_summary_parse("{\"sessions\":1}", 14, &a, err, sizeof err), -1);
	cr_assert(strstr(err, "\"sessions_up\""), "%s", err);
}

/* "started_unix_ns" (the run's wall-clock start, which coord reports per
 * host to show its --stagger taken): read when there, 0 when absent or
 * null, refused with its name when not an unsigned integer. */
Test(coord_merge, summary_start_time_is_read_when_reported)
{
	char err[256];
	struct bench_coord_summary s;
	static const char with[] =
		"{\"sessions\":4,\"started_unix_ns\":1764972000123456789,\"setup\":{\"sessions_up\":4},"
		"\"errors\":{\"total\":0}}";
	cr_assert_eq(bench_coord_summary_parse(with, strlen(with), &s, err, sizeof err), 0, "%s", err);
	cr_assert_eq(s.started_unix_ns, 1764972000123456789ull);
	cr_assert_eq(bench_coord_summary_parse(sum_lat, strlen(sum_lat), &s, err, sizeof err), 0, "%s", err);
	cr_assert_eq(s.started_unix_ns, 0, "absent: 0");
	static const char null_start[] =
		"{\"sessions\":4,\"started_unix_ns\":null,\"setup\":{\"sessions_up\":4},\"errors\":{\"total\":0}}";
	cr_assert_eq(bench_coord_summary_parse(null_start, strlen(null_start), &s, err, sizeof err), 0, "%s", err);
	cr_assert_eq(s.started_unix_ns, 0, "null: 0");
	static const char bad[] =
		"{\"sessions\":4,\"started_unix_ns\":\"soon\",\"setup\":{\"sessions_up\":4},\"errors\":{\"total\":0}}";
	cr_assert_eq(bench_coord_summary_parse(bad, strlen(bad), &s, err, sizeof err), -1);
	cr_assert(strstr(err, "\"started_unix_ns\""), "%s", err);
	static const char neg[] =
		"{\"sessions\":4,\"started_unix_ns\":-1,\"setup\":{\"sessions_up\":4},\"errors\":{\"total\":0}}";
	cr_assert_eq(bench_coord_summary_parse(neg, strlen(neg), &s, err, sizeof err), -1);
}
