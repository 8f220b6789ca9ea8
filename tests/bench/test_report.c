/* bench/report: the pieces every bench report is written with. What they
 * print is a contract with bench/run, the jq filters and bench/plot, so the
 * expected texts are spelled out byte for byte. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/report.h"

/* Runs code with f a memory stream; out gets what it wrote (free it). */
#define T_CAPTURE(out, code)                                                                                           \
	do {                                                                                                           \
		size_t t_len_ = 0;                                                                                     \
		FILE *f = open_memstream(&(out), &t_len_);                                                             \
		cr_assert_not_null(f);                                                                                 \
		code;                                                                                                  \
		fclose(f);                                                                                             \
	} while (0)

Test(bench_report, numbers_carry_their_precision_and_unmeasured_is_null)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "a", bench_report_num(12.3456789, 2));
	json_object_object_add(o, "b", bench_report_num(2.0, 0));
	json_object_object_add(o, "c", bench_report_num(NAN, 3));
	json_object_object_add(o, "d", bench_report_num(INFINITY, 3));
	json_object_object_add(o, "e", bench_report_uint(18446744073709551615ull >> 1));
	cr_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			 "{\"a\":12.35,\"b\":2,\"c\":null,\"d\":null,\"e\":9223372036854775807}");
	json_object_put(o);
}

Test(bench_report, latency_fields_in_order_in_microseconds)
{
	struct bench_summary s = {.count = 9, .min = 1000, .p50 = 1500, .p90 = 2000, .p99 = 2501, .p999 = 3000,
				  .max = 4000, .mean = 1700.0};
	struct json_object *o = json_object_new_object();
	bench_report_latency_us(o, &s);
	cr_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			 "{\"p50_us\":1.50,\"p90_us\":2.00,\"p99_us\":2.50,\"p999_us\":3.00,\"max_us\":4.00}");
	json_object_put(o);
}

Test(bench_report, json_is_pretty_with_slashes_as_they_are)
{
	char *out = NULL;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "url", json_object_new_string("ws://h:1/"));
	T_CAPTURE(out, cr_assert_eq(bench_report_json_print(f, o), 0));
	cr_assert_str_eq(out, "{\n  \"url\":\"ws://h:1/\"\n}\n");
	free(out);
	json_object_put(o);
}

Test(bench_report, json_file_matches_stdout_and_names_a_failed_path)
{
	char path[] = "/tmp/t_bench_report.XXXXXX", buf[256] = {0};
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "x", bench_report_num(1.5, 1));
	cr_assert_eq(bench_report_json_file("t", path, o), 0);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	unlink(path);
	close(fd);
	cr_assert_str_eq(buf, "{\n  \"x\":1.5\n}\n", "%zu bytes", n);
	cr_assert_eq(bench_report_json_file("t", "/nonexistent-dir/x.json", o), -1);
	json_object_put(o);
}

Test(bench_report, rows_pad_the_label)
{
	char *out = NULL;
	T_CAPTURE(out, bench_report_row(f, 10, "loss %", "%.3f", 0.5); bench_report_row(f, 3, "wider", "%d", 7));
	cr_assert_str_eq(out, "loss %     0.500\nwider 7\n");
	free(out);
}

Test(bench_report, figures_beside_a_baseline)
{
	char *out = NULL;
	T_CAPTURE(out, bench_report_figure_header(f); bench_report_figure(f, "switch ns", 15.0, 120.0, 2);
		  bench_report_figure(f, "alone MB/s", 900.24, NAN, 1));
	cr_assert_str_eq(out,
			 "figure                                                     ours     baseline     ratio\n"
			 "switch ns                                                 15.00       120.00     0.125\n"
			 "alone MB/s                                                900.2            -         -\n");
	free(out);
	cr_assert(isnan(bench_report_ratio(1.0, 0.0)));
	cr_assert_float_eq(bench_report_ratio(3.0, 2.0), 1.5, 1e-12);
}

Test(bench_report, csv_cells_empty_when_unmeasured)
{
	char *out = NULL;
	T_CAPTURE(out, fputs("a", f); bench_report_csv_num(f, 1.23456, 2); bench_report_csv_num(f, NAN, 2);
		  bench_report_csv_num(f, 7.0, 0));
	cr_assert_str_eq(out, "a,1.23,,7");
	free(out);
}
