/* bench/relay_report: the relay run's JSON and CSV are a contract with
 * bench/run, bench/relay_table.jq and bench/plot. A fixed result is
 * rendered in each mode and the fields those readers use are checked by
 * name, value and order; the CSV header is checked byte for byte. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/relay_report.h"
#include "bench/think.h"

static struct bench_relay_opts t_opts(enum bench_relay_mode mode)
{
	struct bench_relay_opts o = {.mode = mode, .port = 8080, .sessions = 4, .size = 1400, .rate = 50,
				     .duration_ms = 1000, .warmup_ms = 200, .concurrency = 4, .tls_version = 13,
				     .label = "ours"};
	strcpy(o.host, "127.0.0.1");
	return o;
}

static struct bench_relay_result t_result(void)
{
	struct bench_relay_result r = {.port = 8080, .threads = 2, .cpus_allowed = 2, .sessions_up = 4,
				       .setup_s = 0.002, .measured_s = 1.0, .win_msgs = 1000, .win_payload = 1400000,
				       .sent = 200, .received = 199, .alive = 4, .relay_rss_kib_before = 1000,
				       .relay_rss_kib_after = 1016, .self_rss_kib_before = 2000,
				       .self_rss_kib_after = 2100, .bench_cpu = 0.5, .relay_cpu = 0.25, .other_cpu = 0.1};
	r.lat = (struct bench_summary){.count = 199, .min = 90000, .p50 = 120000, .p90 = 150000, .p99 = 200000,
				       .p999 = 250000, .max = 300000, .mean = 125000.0};
	r.per_session_mb_min = r.per_session_mb_max = r.per_session_mb_mean = 0.35;
	r.wire = (struct bench_relay_wire){.a_tx_wire = 1010, .a_tx_payload = 1000, .b_rx_wire = 1005,
					   .b_rx_payload = 1000};
	r.err.http_409 = 2;
	r.lag = (struct bench_summary){.count = 199, .min = 1000, .p50 = 5000, .p90 = 20000, .p99 = 80000,
				       .p999 = 90000, .max = 95000, .mean = 8000.0};
	r.setup_server_cpu_s = 0.0004; /* 4 sessions in 0.002 s */
	r.setup_bench_cpu_s = 0.001;
	return r;
}

static const char *t_str(struct json_object *o, const char *path)
{
	struct json_object *v = o;
	char buf[128], *save = NULL;
	snprintf(buf, sizeof buf, "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
		cr_assert(json_object_object_get_ex(v, k, &v), "no '%s' in the JSON (at '%s')", path, k);
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

Test(bench_relay_report, latency_json_has_what_the_readers_read)
{
	struct bench_relay_opts o = t_opts(BENCH_RELAY_LATENCY);
	struct bench_relay_result r = t_result();
	struct json_object *j = bench_relay_json(&o, &r);
	cr_assert_str_eq(t_str(j, "tool"), "\"relay\"");
	cr_assert_str_eq(t_str(j, "label"), "\"ours\"");
	cr_assert_str_eq(t_str(j, "mode"), "\"latency\"");
	cr_assert_str_eq(t_str(j, "url"), "\"ws://127.0.0.1:8080\"");
	cr_assert_str_eq(t_str(j, "sessions"), "4");
	cr_assert_str_eq(t_str(j, "size"), "1400");
	cr_assert_str_eq(t_str(j, "rate"), "50");
	cr_assert_str_eq(t_str(j, "duration_s"), "1.000");
	cr_assert_str_eq(t_str(j, "setup.sessions_per_s"), "2000");
	/* bench/relay_table.jq's set-up CPU rows */
	cr_assert_str_eq(t_str(j, "setup.server_cpu_s"), "0.0004");
	cr_assert_str_eq(t_str(j, "setup.server_us_per_session"), "100.0");
	cr_assert_str_eq(t_str(j, "setup.server_busy"), "0.200");
	cr_assert_str_eq(t_str(j, "setup.bench_us_per_session"), "250.0");
	cr_assert_str_eq(t_str(j, "setup.bench_busy"), "0.500");
	/* and its tail rows' generator send lag */
	cr_assert_str_eq(t_str(j, "latency.send_lag.samples"), "199");
	cr_assert_str_eq(t_str(j, "latency.send_lag.p99_us"), "80.00");
	cr_assert_str_eq(t_str(j, "latency.send_lag.p999_us"), "90.00");
	cr_assert_str_eq(t_str(j, "latency.lost"), "1");
	cr_assert_str_eq(t_str(j, "latency.samples"), "199");
	cr_assert_str_eq(t_str(j, "latency.min_us"), "90.00");
	cr_assert_str_eq(t_str(j, "latency.p50_us"), "120.00");
	cr_assert_str_eq(t_str(j, "latency.p999_us"), "250.00");
	cr_assert_str_eq(t_str(j, "latency.mean_us"), "125.00");
	cr_assert_str_eq(t_str(j, "wire.total.overhead_pct"), "0.7500");
	cr_assert_str_eq(t_str(j, "errors.http_409"), "2");
	cr_assert_str_eq(t_str(j, "errors.total"), "2");
	cr_assert_str_eq(t_str(j, "relay_cpu_us_per_msg"), "250.000");
	cr_assert_str_eq(t_str(j, "ok"), "true");
	cr_assert_str_eq(t_str(j, "think"), "null", "no --think");
	cr_assert_str_eq(t_str(j, "rate_stages"), "0");
	/* The order of the latency block: json-c keeps insertion order. */
	const char *lat = t_str(j, "latency");
	const char *keys[] = {"measured_s", "sent", "received", "lost", "samples", "min_us",
			      "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us"};
	const char *at = lat;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char q[32];
		snprintf(q, sizeof q, "\"%s\":", keys[i]);
		const char *p = strstr(at, q);
		cr_assert_not_null(p, "latency: '%s' missing or out of order in %s", keys[i], lat);
		at = p;
	}
	json_object_put(j);
}

Test(bench_relay_report, other_modes_and_unmeasured_figures)
{
	struct bench_relay_opts o = t_opts(BENCH_RELAY_CONNECTIONS);
	struct bench_relay_result r = t_result();
	r.relay_cpu = NAN;
	r.setup_server_cpu_s = NAN; /* no --relay-pid */
	struct json_object *j = bench_relay_json(&o, &r);
	cr_assert_str_eq(t_str(j, "rate"), "null");
	cr_assert_str_eq(t_str(j, "setup.server_us_per_session"), "null");
	cr_assert_str_eq(t_str(j, "setup.server_busy"), "null");
	cr_assert_str_eq(t_str(j, "setup.bench_us_per_session"), "250.0");
	cr_assert_str_eq(t_str(j, "relay_cpu"), "null");
	cr_assert_str_eq(t_str(j, "relay_cpu_us_per_msg"), "null");
	cr_assert_str_eq(t_str(j, "connections.relay_rss_bytes_per_conn"), "2048");
	json_object_put(j);
	o = t_opts(BENCH_RELAY_THROUGHPUT);
	j = bench_relay_json(&o, &r);
	cr_assert_str_eq(t_str(j, "throughput.mb_per_s"), "1.40");
	cr_assert_str_eq(t_str(j, "throughput.msgs_per_s"), "1000");
	json_object_put(j);
}

Test(bench_relay_report, csv_header_and_row)
{
	struct bench_relay_opts o = t_opts(BENCH_RELAY_LATENCY);
	struct bench_relay_result r = t_result();
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	cr_assert_not_null(f);
	cr_assert_eq(bench_relay_print_csv(f, &o, &r), 0);
	fclose(f);
	cr_assert_str_eq(out, "label,mode,sessions,size,rate,duration_s,sessions_up,setup_per_s,mb_per_s,msgs_per_s,"
			      "p50_us,p90_us,p99_us,p999_us,max_us,sent,received,relay_rss_bytes_per_conn,overhead_pct,"
			      "errors\n"
			      "ours,latency,4,1400,50,1.000,4,2000,,,120.00,150.00,200.00,250.00,300.00,200,199,2048,"
			      "0.7500,2\n");
	free(out);
}

/* Every counter of struct bench_relay_errors is in the total (the
 * thresholds' "errors" too): one of each gives the number of counters. */
Test(bench_relay_report, errors_total_counts_every_kind)
{
	struct bench_relay_errors e;
	uint64_t *v = (uint64_t *)&e;
	_Static_assert(sizeof e % sizeof(uint64_t) == 0, "all uint64_t");
	for (size_t i = 0; i < sizeof e / sizeof *v; i++)
		v[i] = 1;
	cr_assert_eq(bench_relay_errors_total(&e), sizeof e / sizeof *v);
}

/* --think and --rate-stage: the summary says the think draws' mean, min and
 * max in ms and how many rate stages. */
Test(bench_relay_report, think_and_rate_stages_in_the_json)
{
	struct bench_relay_opts o = t_opts(BENCH_RELAY_LATENCY);
	struct bench_relay_result r = t_result();
	char err[200];
	cr_assert_eq(bench_think_parse("0:50,40ms:50", &o.think, err, sizeof err), 0, "%s", err);
	cr_assert_eq(bench_stage_parse("1s:10,1s:0", 100, &o.rate_stages, err, sizeof err), 0, "%s", err);
	struct json_object *j = bench_relay_json(&o, &r);
	cr_assert_str_eq(t_str(j, "think.mean_ms"), "20.000");
	cr_assert_str_eq(t_str(j, "think.min_ms"), "0");
	cr_assert_str_eq(t_str(j, "think.max_ms"), "40");
	cr_assert_str_eq(t_str(j, "rate_stages"), "2");
	json_object_put(j);
}
