#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H
/* bench/report.h: the one writer every atmosphere-bench report goes through.
 *
 * A subcommand's results are rendered three ways: a table for people, one
 * JSON object for bench/run, its jq filters (bench/relay_table.jq and the
 * others) and bench/plot, and (for relay) one CSV row. The field names,
 * columns and precisions are a contract with those readers; each
 * subcommand's report code decides them and writes them with the pieces
 * here, so that a figure that could not be measured reads the same
 * everywhere (JSON null, an empty CSV cell), numbers carry the precision
 * asked for (12.35, not 12.3456789012), and a --json-out file and stdout
 * get byte-identical JSON.
 *
 * Nothing here measures; nothing here allocates except the json-c objects
 * the caller asked for (and a histogram line, freed before returning). */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/hist.h"
#include "bench/stats.h"

/* --- JSON --- */

/* bench_report_num returns v as a JSON number printed with prec decimals,
 * or NULL -- JSON null -- when v is not finite (a figure that could not be
 * measured). The caller owns it (json_object_object_add takes it). */
struct json_object *bench_report_num(double v, int prec);

/* bench_report_uint returns v as a JSON integer; the caller owns it. */
struct json_object *bench_report_uint(uint64_t v);

/* bench_report_latency_us adds "p50_us", "p90_us", "p99_us", "p999_us" and
 * "max_us" (s's nanoseconds in microseconds, 2 decimals), in that order,
 * to the JSON object obj. */
void bench_report_latency_us(struct json_object *obj, const struct bench_summary *s);

/* bench_report_latency_us_or_null does the same, with each key null when s
 * holds no sample (an interval or a merge with nothing in it). */
void bench_report_latency_us_or_null(struct json_object *obj, const struct bench_summary *s);

/* bench_report_interval_latency returns {"samples", "p50_us" .. "max_us"} of
 * h (the percentiles null when it is empty); the caller owns it. */
struct json_object *bench_report_interval_latency(const struct bench_hdr *h);

/* bench_report_json_print writes root, pretty-printed with '/' unescaped,
 * and a newline to f. Returns 0, or -1 when writing failed. root stays the
 * caller's. */
int bench_report_json_print(FILE *f, struct json_object *root);

/* bench_report_json_file writes root as bench_report_json_print does to a
 * new file at path. Returns 0, or -1 after printing "atmosphere-bench CMD:
 * writing 'PATH': REASON" to stderr. */
int bench_report_json_file(const char *cmd, const char *path, struct json_object *root);

/* bench_report_hist_file writes h as one histogram line (bench/hist.h, the
 * format `atmosphere-bench merge` reads) to a new file at path. Returns 0,
 * or -1 after printing "atmosphere-bench CMD: writing 'PATH': REASON" to
 * stderr. */
int bench_report_hist_file(const char *cmd, const char *path, const struct bench_hdr *h);

/* --- table --- */

/* bench_report_row writes one table line: label left-aligned in width
 * columns, a space, the printf-formatted value, a newline. */
void bench_report_row(FILE *f, int width, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* bench_report_ratio returns ours / base, NAN when base is not positive. */
double bench_report_ratio(double ours, double base);

/* bench_report_figure writes a row of a figure beside its baseline: name,
 * ours and base with prec decimals, and ours / base; "-" for a baseline
 * (and ratio) that is NAN. bench_report_figure_header writes the columns'
 * titles ("figure", "ours", "baseline", "ratio") in the same widths. */
void bench_report_figure(FILE *f, const char *name, double ours, double base, int prec);
void bench_report_figure_header(FILE *f);

/* --- CSV --- */

/* bench_report_csv_num writes ",V" with prec decimals, or "," alone when v
 * is not finite (an empty cell). */
void bench_report_csv_num(FILE *f, double v, int prec);

#endif
