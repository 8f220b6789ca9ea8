/* bench/coord_report: the summary a distributed run ends with. The JSON
 * object carries every host (a failed one with its reason), the merged
 * figures as given and percentiles off the merged histogram, and the
 * coordinator's overhead as a share of the hosts' CPU time; the table
 * names each host and says FAIL for a failed one. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/coord_report.h"

static struct json_object *t_get(struct json_object *o, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		struct json_object *v = NULL;
		cr_assert(json_object_object_get_ex(o, k, &v), "no '%s' in %s", k, path);
		o = v;
	}
	return o;
}

Test(coord_report, json_has_every_host_the_merge_and_the_overhead)
{
	struct bench_hdr *h = bench_hdr_new(BENCH_HDR_SIG_DEFAULT, BENCH_HDR_HIGHEST_DEFAULT, NULL);
	cr_assert_not_null(h);
	for (uint64_t v = 1; v <= 100; v++)
		bench_hdr_record(h, v * 1000);
	struct bench_coord_host_report hosts[2] = {
		{.name = "gen1", .ok = true, .sum = {.sessions = 4, .sessions_up = 4, .sent = 100, .received = 100},
		 .hist = h, .cpu_ns = 3000000000u, .intervals = 5, .have_clock = true, .off_lo_ms = -1.5, .off_hi_ms = 40},
		{.name = "gen2", .ok = false, .why = "worker exited 1: no session came up", .cpu_ns = 1000000000u},
	};
	struct bench_coord_summary sum = {.num = 1, .latency = true, .sessions = 4, .sessions_up = 4, .sent = 100,
					  .received = 100, .measured_s = 2.0, .msgs_per_s = 50.0, .mb_per_s = NAN};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	bench_coord_report_json(f, hosts, 2, &sum, h, 20000000u, 20000000u);
	fclose(f);
	struct json_object *o = json_tokener_parse(buf);
	cr_assert_not_null(o, "not JSON: %s", buf);
	struct json_object *arr = t_get(o, "hosts");
	cr_assert_eq(json_object_array_length(arr), 2);
	struct json_object *h1 = json_object_array_get_idx(arr, 0), *h2 = json_object_array_get_idx(arr, 1);
	cr_assert_str_eq(json_object_get_string(t_get(h1, "host")), "gen1");
	cr_assert(json_object_get_boolean(t_get(h1, "ok")));
	cr_assert_eq(json_object_get_int64(t_get(h1, "samples")), 100);
	cr_assert_eq(json_object_get_int64(t_get(h1, "intervals")), 5);
	cr_assert_float_eq(json_object_get_double(t_get(h1, "clock_offset_ms_min")), -1.5, 1e-9);
	cr_assert(!json_object_get_boolean(t_get(h2, "ok")));
	cr_assert_str_eq(json_object_get_string(t_get(h2, "error")), "worker exited 1: no session came up");
	cr_assert_null(t_get(h2, "clock_offset_ms_min"), "no HELLO: no offset");
	cr_assert_eq(json_object_get_int64(t_get(o, "merged.sent")), 100);
	cr_assert_null(t_get(o, "merged.mb_per_s"), "NAN is null");
	cr_assert_eq(json_object_get_int64(t_get(o, "merged.latency.samples")), 100);
	cr_assert_float_eq(json_object_get_double(t_get(o, "merged.latency.p99_us")),
			   (double)bench_hdr_percentile(h, 99.0) / 1e3, 0.01);
	/* 40 ms of coordinator and ssh against 4 s of generators: 1 %. */
	cr_assert_float_eq(json_object_get_double(t_get(o, "cpu.overhead_pct")), 1.0, 1e-3);
	cr_assert_float_eq(json_object_get_double(t_get(o, "cpu.generators_s")), 4.0, 1e-3);
	json_object_put(o);
	free(buf);

	f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	bench_coord_report_table(f, hosts, 2, true, &sum, h, 20000000u, 20000000u);
	fclose(f);
	cr_assert(strstr(buf, "\ngen1 "), "%s", buf);
	cr_assert(strstr(buf, "\ngen2                     FAIL"), "%s", buf);
	cr_assert(strstr(buf, "= 1.00 % of generators' 4.00"), "%s", buf);
	free(buf);
	bench_hdr_free(h);
}
