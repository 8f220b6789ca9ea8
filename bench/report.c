/* The bench's report writer: see bench/report.h. */
#include "bench/report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct json_object *bench_report_num(double v, int prec)
{
	char s[64];
	if (!isfinite(v))
		return NULL;
	snprintf(s, sizeof s, "%.*f", prec, v);
	return json_object_new_double_s(v, s);
}

struct json_object *bench_report_uint(uint64_t v)
{
	return json_object_new_int64((int64_t)v);
}

void bench_report_latency_us(struct json_object *obj, const struct bench_summary *s)
{
	json_object_object_add(obj, "p50_us", bench_report_num((double)s->p50 / 1e3, 2));
	json_object_object_add(obj, "p90_us", bench_report_num((double)s->p90 / 1e3, 2));
	json_object_object_add(obj, "p99_us", bench_report_num((double)s->p99 / 1e3, 2));
	json_object_object_add(obj, "p999_us", bench_report_num((double)s->p999 / 1e3, 2));
	json_object_object_add(obj, "max_us", bench_report_num((double)s->max / 1e3, 2));
}

void bench_report_latency_us_or_null(struct json_object *obj, const struct bench_summary *s)
{
	if (s->count) {
		bench_report_latency_us(obj, s);
		return;
	}
	static const char *const keys[] = {"p50_us", "p90_us", "p99_us", "p999_us", "max_us"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		json_object_object_add(obj, keys[i], NULL);
}

struct json_object *bench_report_interval_latency(const struct bench_hdr *h)
{
	struct json_object *l = json_object_new_object();
	struct bench_summary s;
	bench_hdr_summary(h, &s);
	json_object_object_add(l, "samples", bench_report_uint(s.count));
	bench_report_latency_us_or_null(l, &s);
	return l;
}

int bench_report_json_print(FILE *f, struct json_object *root)
{
	int flags = JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE;
	return fprintf(f, "%s\n", json_object_to_json_string_ext(root, flags)) < 0 ? -1 : 0;
}

int bench_report_json_file(const char *cmd, const char *path, struct json_object *root)
{
	FILE *f = fopen(path, "w");
	int bad = !f;
	if (f) {
		bad |= bench_report_json_print(f, root) != 0;
		bad |= fclose(f) != 0;
	}
	if (!bad)
		return 0;
	fprintf(stderr, "atmosphere-bench %s: writing '%s': %s\n", cmd, path, strerror(errno));
	return -1;
}

int bench_report_hist_file(const char *cmd, const char *path, const struct bench_hdr *h)
{
	size_t len = 0;
	char *line = bench_hdr_encode(h, &len);
	FILE *f = line ? fopen(path, "w") : NULL;
	int bad = !f;
	if (f) {
		bad |= fwrite(line, 1, len, f) != len;
		bad |= fclose(f) != 0;
	}
	if (bad)
		fprintf(stderr, "atmosphere-bench %s: writing '%s': %s\n", cmd, path, line ? strerror(errno) : "out of memory");
	free(line);
	return bad ? -1 : 0;
}

void bench_report_row(FILE *f, int width, const char *label, const char *fmt, ...)
{
	va_list ap;
	fprintf(f, "%-*s ", width, label);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

double bench_report_ratio(double ours, double base)
{
	return base > 0.0 ? ours / base : NAN;
}

void bench_report_figure_header(FILE *f)
{
	fprintf(f, "%-50s %12s %12s %9s\n", "figure", "ours", "baseline", "ratio");
}

void bench_report_figure(FILE *f, const char *name, double ours, double base, int prec)
{
	if (isnan(base))
		fprintf(f, "%-50s %12.*f %12s %9s\n", name, prec, ours, "-", "-");
	else
		fprintf(f, "%-50s %12.*f %12.*f %9.3f\n", name, prec, ours, prec, base, bench_report_ratio(ours, base));
}

void bench_report_csv_num(FILE *f, double v, int prec)
{
	if (isfinite(v))
		fprintf(f, ",%.*f", prec, v);
	else
		fputc(',', f);
}
