/* bench/interval: rows aggregate every worker's submission (counter growth,
 * merged latency), go out in order once complete, a lagging worker cannot
 * hold them back for ever, and the boundaries split warm-up from the run. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/interval.h"

#define SEC UINT64_C(1000000000)

static const char *const t_err_names[] = {"refused", "reset"};

struct t_out {
	char *buf;
	size_t len;
	FILE *f;
};

static struct bench_interval *t_new(struct t_out *json, unsigned workers, bool latency, FILE *live)
{
	json->buf = NULL;
	json->len = 0;
	json->f = open_memstream(&json->buf, &json->len);
	cr_assert_not_null(json->f);
	struct bench_interval_opts o = {
		.cmd = "relay", .num_workers = workers, .period_ns = SEC, .latency = latency, .sessions_total = 10,
		.err_names = t_err_names, .num_err = 2, .live = live, .json = json->f,
	};
	int err = 0;
	struct bench_interval *iv = bench_interval_new(&o, &err);
	cr_assert_not_null(iv, "err %d", err);
	return iv;
}

/* The JSON lines written so far, parsed; line i at out[i]. */
static size_t t_lines(struct t_out *json, struct json_object **out, size_t max)
{
	fflush(json->f);
	size_t n = 0;
	char *copy = strdup(json->buf ? json->buf : "");
	for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save)) {
		out[n] = json_tokener_parse(l);
		cr_assert_not_null(out[n], "line %zu is not JSON: %s", n, l);
		n++;
	}
	free(copy);
	return n;
}

static int64_t t_int(struct json_object *o, const char *path1, const char *path2)
{
	struct json_object *v = NULL;
	cr_assert(json_object_object_get_ex(o, path1, &v), "no %s", path1);
	if (path2)
		cr_assert(json_object_object_get_ex(v, path2, &v), "no %s.%s", path1, path2);
	return json_object_get_int64(v);
}

static double t_num(struct json_object *o, const char *path1, const char *path2)
{
	struct json_object *v = NULL;
	cr_assert(json_object_object_get_ex(o, path1, &v), "no %s", path1);
	if (path2)
		cr_assert(json_object_object_get_ex(v, path2, &v), "no %s.%s", path1, path2);
	return json_object_get_double(v);
}

static struct bench_interval_counts t_counts(uint64_t sessions, uint64_t msgs, uint64_t bytes, uint64_t refused)
{
	struct bench_interval_counts c;
	memset(&c, 0, sizeof c);
	c.sessions = sessions;
	c.msgs = msgs;
	c.bytes = bytes;
	c.errors[0] = refused;
	return c;
}

Test(bench_interval, rows_sum_growth_and_merge_latency_of_all_workers)
{
	struct t_out json;
	struct bench_interval *iv = t_new(&json, 2, true, NULL);
	struct json_object *rows[8];
	struct bench_interval_counts c;

	/* Interval 0: worker 0 saw 10 us x 100; worker 1 20 us x 99 and 1 ms
	 * once: p50 is worker 0's, p99 worker 1's. */
	for (int i = 0; i < 100; i++)
		bench_hdr_record(bench_interval_hist(iv, 0), 10000);
	for (int i = 0; i < 99; i++)
		bench_hdr_record(bench_interval_hist(iv, 1), 20000);
	bench_hdr_record(bench_interval_hist(iv, 1), 1000000);
	c = t_counts(5, 100, 6400, 0);
	bench_interval_submit(iv, 0, 0, true, 0, SEC / 2, &c);
	cr_assert_eq(bench_interval_rows(iv), 0, "a row waits for every worker");
	cr_assert_eq(bench_hdr_count(bench_interval_hist(iv, 0)), 0, "submitting empties the worker's histogram");
	c = t_counts(4, 100, 6400, 1);
	bench_interval_submit(iv, 1, 0, true, 0, SEC / 2, &c);
	cr_assert_eq(bench_interval_rows(iv), 1);

	/* Interval 1: growth only (cumulative counters), no samples. */
	c = t_counts(5, 300, 19200, 0);
	bench_interval_submit(iv, 0, 1, false, SEC / 2, 3 * SEC / 2, &c);
	c = t_counts(5, 150, 9600, 3);
	bench_interval_submit(iv, 1, 1, false, SEC / 2, 3 * SEC / 2, &c);
	cr_assert_eq(bench_interval_rows(iv), 2);
	bench_interval_finish(iv);

	cr_assert_eq(t_lines(&json, rows, 8), 2);
	cr_assert_eq(t_int(rows[0], "interval", NULL), 0);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(rows[0], "phase")), "warmup");
	cr_assert_eq(t_int(rows[0], "sessions_up", NULL), 9);
	cr_assert_eq(t_int(rows[0], "msgs", NULL), 200);
	cr_assert_float_eq(t_num(rows[0], "msgs_per_s", NULL), 400.0, 1e-9, "200 messages in 0.5 s");
	cr_assert_float_eq(t_num(rows[0], "mb_per_s", NULL), 0.026, 1e-9);
	cr_assert_eq(t_int(rows[0], "latency", "samples"), 200);
	cr_assert_float_eq(t_num(rows[0], "latency", "p50_us"), 10.0, 0.011, "p50 of both workers");
	cr_assert_float_eq(t_num(rows[0], "latency", "p99_us"), 20.0, 0.021);
	cr_assert_float_eq(t_num(rows[0], "latency", "max_us"), 1000.0, 1e-9);
	cr_assert_eq(t_int(rows[0], "errors", "total"), 1);
	cr_assert_eq(t_int(rows[0], "errors", "reset"), 0);
	cr_assert_eq(t_int(rows[0], "errors", "refused"), 1);

	cr_assert_str_eq(json_object_get_string(json_object_object_get(rows[1], "phase")), "run");
	cr_assert_eq(t_int(rows[1], "msgs", NULL), 250, "growth, not the cumulative count");
	cr_assert_eq(t_int(rows[1], "bytes", NULL), 16000);
	cr_assert_eq(t_int(rows[1], "errors", "refused"), 2);
	cr_assert_eq(t_int(rows[1], "latency", "samples"), 0);
	cr_assert(json_object_is_type(json_object_object_get(rows[1], "latency") ? json_object_object_get(
					      json_object_object_get(rows[1], "latency"), "p99_us") : NULL, json_type_null),
		  "no samples: p99 is null");
	cr_assert_float_eq(t_num(rows[1], "t_start_s", NULL), 0.5, 1e-9);
	cr_assert_float_eq(t_num(rows[1], "t_end_s", NULL), 1.5, 1e-9);
	for (int i = 0; i < 2; i++)
		json_object_put(rows[i]);
	bench_interval_free(iv);
	fclose(json.f);
	free(json.buf);
}

/* Rows go out in order: worker 1 finishing interval 1 first does not write
 * it before interval 0. */
Test(bench_interval, rows_go_out_in_order)
{
	struct t_out json;
	struct bench_interval *iv = t_new(&json, 2, false, NULL);
	struct json_object *rows[8];
	struct bench_interval_counts c = t_counts(1, 0, 0, 0);
	bench_interval_submit(iv, 1, 0, false, 0, SEC, &c);
	bench_interval_submit(iv, 1, 1, false, SEC, 2 * SEC, &c);
	cr_assert_eq(bench_interval_rows(iv), 0);
	bench_interval_submit(iv, 0, 0, false, 0, SEC, &c);
	cr_assert_eq(bench_interval_rows(iv), 1);
	bench_interval_submit(iv, 0, 1, false, SEC, 2 * SEC, &c);
	cr_assert_eq(bench_interval_rows(iv), 2);
	cr_assert_eq(t_lines(&json, rows, 8), 2);
	cr_assert_eq(t_int(rows[0], "interval", NULL), 0);
	cr_assert_eq(t_int(rows[1], "interval", NULL), 1);
	cr_assert(json_object_is_type(json_object_object_get(rows[0], "latency"), json_type_null),
		  "a mode without latency writes latency null");
	for (int i = 0; i < 2; i++)
		json_object_put(rows[i]);
	bench_interval_free(iv);
	fclose(json.f);
	free(json.buf);
}

/* A worker BENCH_INTERVAL_PENDING intervals behind cannot hold rows back:
 * they go out with the workers that did submit; its late submission is
 * dropped; finish writes what is left. */
Test(bench_interval, a_lagging_worker_forces_rows_out)
{
	struct t_out json;
	struct bench_interval *iv = t_new(&json, 2, true, NULL);
	struct json_object *rows[16];
	struct bench_interval_counts c;
	for (uint64_t k = 0; k <= BENCH_INTERVAL_PENDING; k++) {
		c = t_counts(1, 10 * (k + 1), 0, 0);
		bench_interval_submit(iv, 0, k, false, k * SEC, (k + 1) * SEC, &c);
	}
	cr_assert_eq(bench_interval_rows(iv), 1, "interval 0 forced out");
	c = t_counts(1, 500, 0, 0);
	bench_interval_submit(iv, 1, 0, false, 0, SEC, &c); /* too late */
	cr_assert_eq(bench_interval_rows(iv), 1);
	bench_interval_finish(iv);
	cr_assert_eq(bench_interval_rows(iv), BENCH_INTERVAL_PENDING + 1);
	size_t n = t_lines(&json, rows, 16);
	cr_assert_eq(n, BENCH_INTERVAL_PENDING + 1);
	cr_assert_eq(t_int(rows[0], "workers", NULL), 1);
	cr_assert_eq(t_int(rows[0], "msgs", NULL), 10);
	cr_assert_eq(t_int(rows[1], "msgs", NULL), 10, "worker 1's late growth is not carried into a later row");
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(t_int(rows[i], "interval", NULL), (int64_t)i);
		json_object_put(rows[i]);
	}
	bench_interval_free(iv);
	fclose(json.f);
	free(json.buf);
}

Test(bench_interval, plain_line_names_the_errors)
{
	struct t_out json, live;
	live.buf = NULL;
	live.len = 0;
	live.f = open_memstream(&live.buf, &live.len);
	struct bench_interval *iv = t_new(&json, 1, true, live.f);
	bench_hdr_record(bench_interval_hist(iv, 0), 45000);
	struct bench_interval_counts c = t_counts(10, 1000, 64000, 2);
	c.errors[1] = 1;
	bench_interval_submit(iv, 0, 0, false, 2 * SEC, 3 * SEC, &c);
	bench_interval_finish(iv);
	fflush(live.f);
	cr_assert_str_eq(live.buf, "atmosphere-bench relay: run       2.00-3.00s: up 10/10, 1000 msgs/s, 0.06 MB/s, "
				   "p50 45.0us p99 45.0us, errors 3 (refused 2, reset 1)\n");
	bench_interval_free(iv);
	fclose(live.f);
	free(live.buf);
	fclose(json.f);
	free(json.buf);
}

/* Warm-up 1.5 s with a 1 s period: [0,1) [1,1.5) warm-up, then the
 * measured 2.2 s: [1.5,2.5) [2.5,3.5) [3.5,3.7). */
Test(bench_interval, boundaries_split_warmup_from_the_run)
{
	struct bench_load l = {.t_run0 = 10 * SEC, .t_meas0 = 10 * SEC + 3 * SEC / 2, .t_meas1 = 10 * SEC + 37 * SEC / 10};
	uint64_t want[] = {11 * SEC, 10 * SEC + 3 * SEC / 2, 10 * SEC + 5 * SEC / 2, 10 * SEC + 7 * SEC / 2,
			   10 * SEC + 37 * SEC / 10};
	uint64_t t = l.t_run0;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		t = bench_interval_next_boundary(&l, SEC, t);
		cr_assert_eq(t, want[i], "boundary %zu: %llu", i, (unsigned long long)t);
	}
	cr_assert_eq(bench_interval_next_boundary(&l, SEC, t), l.t_meas1, "past the end stays at t_meas1");
}

/* On a terminal: one compact line, rewritten in place (\r, then erase to
 * the end of the line), ended by finish. */
Test(bench_interval, terminal_line_is_rewritten_in_place)
{
	struct t_out json, live = {0};
	live.f = open_memstream(&live.buf, &live.len);
	struct bench_interval *iv = t_new(&json, 1, true, live.f);
	bench_interval_free(iv);
	struct bench_interval_opts o = {
		.cmd = "relay", .num_workers = 1, .period_ns = SEC, .latency = true, .sessions_total = 10,
		.err_names = t_err_names, .num_err = 2, .live = live.f, .tty = true,
	};
	int err = 0;
	iv = bench_interval_new(&o, &err);
	cr_assert_not_null(iv);
	struct bench_interval_counts c = t_counts(10, 1000, 64000, 2);
	bench_hdr_record(bench_interval_hist(iv, 0), 45000);
	bench_interval_submit(iv, 0, 0, false, 0, SEC, &c);
	c = t_counts(10, 2000, 128000, 2);
	bench_interval_submit(iv, 0, 1, false, SEC, 2 * SEC, &c);
	bench_interval_finish(iv);
	fflush(live.f);
	cr_assert_str_eq(live.buf, "\r[run 0.00-1.00s] up 10/10 | 1000 msg/s 0.06 MB/s | p50 45.0us p99 45.0us | err 2\033[K"
				   "\r[run 1.00-2.00s] up 10/10 | 1000 msg/s 0.06 MB/s | p50 - p99 - | err 0\033[K\n");
	bench_interval_free(iv);
	fclose(live.f);
	free(live.buf);
	fclose(json.f);
	free(json.buf);
}

/* With stages, rows carry where the plan is at their end (1-based stage,
 * target, level) and the active sessions summed over workers; without,
 * none of those keys. Sessions are a level: what the workers say now. */
Test(bench_interval, rows_carry_the_stage_and_active_sessions)
{
	struct t_out json = {0};
	json.f = open_memstream(&json.buf, &json.len);
	struct bench_stage_plan plan;
	char err[128];
	cr_assert_eq(bench_stage_parse("2s:10,1s:0", 100, &plan, err, sizeof err), 0);
	struct bench_interval_opts o = {
		.cmd = "relay", .num_workers = 2, .period_ns = SEC, .latency = false, .sessions_total = 10,
		.err_names = t_err_names, .num_err = 2, .json = json.f, .stages = &plan,
	};
	int e = 0;
	struct bench_interval *iv = bench_interval_new(&o, &e);
	cr_assert_not_null(iv);
	struct json_object *rows[4];
	struct bench_interval_counts c = t_counts(5, 0, 0, 0);
	c.active = 2;
	bench_interval_submit(iv, 0, 0, false, 0, SEC, &c);
	c.sessions = 3; /* two of this worker's sessions ended */
	c.active = 3;
	bench_interval_submit(iv, 1, 0, false, 0, SEC, &c);
	c.active = 0;
	bench_interval_submit(iv, 0, 1, false, SEC, 2 * SEC + SEC / 2, &c);
	bench_interval_submit(iv, 1, 1, false, SEC, 2 * SEC + SEC / 2, &c);
	bench_interval_finish(iv);
	cr_assert_eq(t_lines(&json, rows, 4), 2);
	cr_assert_eq(t_int(rows[0], "stage", NULL), 1);
	cr_assert_eq(t_int(rows[0], "stage_target", NULL), 10);
	cr_assert_eq(t_int(rows[0], "stage_level", NULL), 5, "1 s into a 2 s ramp to 10");
	cr_assert_eq(t_int(rows[0], "sessions_active", NULL), 5);
	cr_assert_eq(t_int(rows[0], "sessions_up", NULL), 8, "current sessions, not every one that came up");
	cr_assert_eq(t_int(rows[1], "stage", NULL), 2);
	cr_assert_eq(t_int(rows[1], "stage_target", NULL), 0);
	cr_assert_eq(t_int(rows[1], "stage_level", NULL), 5, "half way down from 10");
	cr_assert_eq(t_int(rows[1], "sessions_active", NULL), 0);
	for (int i = 0; i < 2; i++)
		json_object_put(rows[i]);
	bench_interval_free(iv);
	fclose(json.f);
	free(json.buf);
}

Test(bench_interval, rows_without_stages_have_no_stage_keys)
{
	struct t_out json;
	struct bench_interval *iv = t_new(&json, 1, false, NULL);
	struct json_object *rows[2], *v;
	struct bench_interval_counts c = t_counts(1, 0, 0, 0);
	bench_interval_submit(iv, 0, 0, false, 0, SEC, &c);
	bench_interval_finish(iv);
	cr_assert_eq(t_lines(&json, rows, 2), 1);
	cr_assert_not(json_object_object_get_ex(rows[0], "stage", &v));
	cr_assert_not(json_object_object_get_ex(rows[0], "sessions_active", &v));
	cr_assert_not(json_object_object_get_ex(rows[0], "rate_stage", &v));
	cr_assert_not(json_object_object_get_ex(rows[0], "rate_level", &v));
	json_object_put(rows[0]);
	bench_interval_free(iv);
	fclose(json.f);
	free(json.buf);
}

/* With rate stages (--rate-stage), rows carry that plan's stage, target
 * and the per-session rate it asks for at their end, and no session-stage
 * keys when there are no session stages. */
Test(bench_interval, rows_carry_the_rate_stage)
{
	struct t_out json = {0};
	json.f = open_memstream(&json.buf, &json.len);
	struct bench_stage_plan plan;
	char err[128];
	cr_assert_eq(bench_stage_parse("2s:1000,2s:0", 100000, &plan, err, sizeof err), 0);
	struct bench_interval_opts o = {
		.cmd = "relay", .num_workers = 1, .period_ns = SEC, .latency = false, .sessions_total = 4,
		.err_names = t_err_names, .num_err = 2, .json = json.f, .rate_stages = &plan,
	};
	int e = 0;
	struct bench_interval *iv = bench_interval_new(&o, &e);
	cr_assert_not_null(iv);
	struct json_object *rows[4], *v;
	struct bench_interval_counts c = t_counts(4, 0, 0, 0);
	for (uint64_t i = 0; i < 3; i++)
		bench_interval_submit(iv, 0, i, false, i * SEC, (i + 1) * SEC, &c);
	bench_interval_finish(iv);
	cr_assert_eq(t_lines(&json, rows, 4), 3);
	const int64_t want_stage[3] = {1, 2, 2}, want_target[3] = {1000, 0, 0}, want_level[3] = {500, 1000, 500};
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(t_int(rows[i], "rate_stage", NULL), want_stage[i], "row %d", i);
		cr_assert_eq(t_int(rows[i], "rate_target", NULL), want_target[i], "row %d", i);
		cr_assert_eq(t_int(rows[i], "rate_level", NULL), want_level[i], "row %d", i);
		cr_assert_not(json_object_object_get_ex(rows[i], "stage", &v));
		json_object_put(rows[i]);
	}
	bench_interval_free(iv);
	fclose(json.f);
	free(json.buf);
}
