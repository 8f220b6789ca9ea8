/* atmosphere-bench merge: adds up latency histogram files (--hist-out of
 * `relay`, the line format of bench/hist.h) from several runs or machines
 * and prints the percentiles of all their samples together: exact counts,
 * the precision of one histogram. Options come before the files. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/hist.h"
#include "bench/report.h"
#include "opt/table.h"

#define CMD "merge"

struct merge_opts {
	const char *out;
	bool json;
};

static const struct opt_spec merge_specs[] = {
	{"--out", OPT_STRING, OPT_FIELD(struct merge_opts, out), .arg = "FILE",
	 .help = "also write the merged histogram line to FILE"},
	{"--json", OPT_FLAG, OPT_FIELD(struct merge_opts, json), .help = "print one JSON object instead of the table"},
};

static const struct opt_table merge_table = {
	.prog = "atmosphere-bench",
	.cmd = CMD,
	.specs = merge_specs,
	.num_specs = sizeof merge_specs / sizeof merge_specs[0],
	.head = "usage: atmosphere-bench merge [--out FILE] [--json] FILE...\n\n"
		"Adds up latency histograms written by 'atmosphere-bench relay --hist-out' (one\n"
		"line each, docs/BENCH.md) and prints count, min, p50, p90, p99, p99.9, max and\n"
		"mean of all their samples: a percentile is within one bucket (0.1 % at 3\n"
		"significant digits) of the exact one over the raw samples. Files must share a\n"
		"layout (sig_digits, highest). '-' reads standard input.\n\n"
		"Options (before the files):\n",
	.foot = "\nExit status: 0 merged, 1 a file is unreadable, malformed or of another layout, 2 usage.\n",
	.column = 20,
};

/* Reads path ("-": stdin) whole, at most BENCH_HDR_FILE_MAX + 1 bytes (so
 * the parser sees a file that is too long). Returns the bytes, or NULL
 * after saying why. */
static char *slurp(const char *path, size_t *out_len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		fprintf(stderr, "atmosphere-bench merge: '%s': %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			break;
		len += fread(buf + len, 1, cap - len, f);
		if (len < cap || len > BENCH_HDR_FILE_MAX)
			break;
		char *more = realloc(buf, cap * 2);
		if (!more) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = more;
		cap *= 2;
	}
	int rerr = ferror(f) ? errno : 0;
	if (f != stdin)
		fclose(f);
	if (!buf || rerr) {
		fprintf(stderr, "atmosphere-bench merge: '%s': %s\n", path, buf ? strerror(rerr) : "out of memory");
		free(buf);
		return NULL;
	}
	*out_len = len;
	return buf;
}

/* Reads and parses one file. Returns the histogram, or NULL after saying
 * what is wrong and where. */
static struct bench_hdr *load(const char *path)
{
	size_t len = 0;
	char *buf = slurp(path, &len);
	if (!buf)
		return NULL;
	struct bench_hdr *h = NULL;
	struct bench_hdr_error err = {0};
	enum bench_hdr_status st = bench_hdr_parse(buf, len, &h, &err);
	free(buf);
	if (st != BENCH_HDR_OK)
		fprintf(stderr, "atmosphere-bench merge: '%s': byte %zu: %s: %s\n", path, err.off, bench_hdr_strerror(st),
			err.msg);
	return h;
}

static int write_out(const char *path, const struct bench_hdr *h)
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
		fprintf(stderr, "atmosphere-bench merge: writing '%s': %s\n", path, line ? strerror(errno) : "out of memory");
	free(line);
	return bad ? -1 : 0;
}

static void print_json(const struct bench_hdr *h, int files)
{
	struct bench_summary s;
	bench_hdr_summary(h, &s);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "files", bench_report_uint((uint64_t)files));
	json_object_object_add(o, "samples", bench_report_uint(s.count));
	json_object_object_add(o, "sig_digits", bench_report_uint(bench_hdr_sig_digits(h)));
	json_object_object_add(o, "min_us", s.count ? bench_report_num((double)s.min / 1e3, 2) : NULL);
	bench_report_latency_us_or_null(o, &s);
	json_object_object_add(o, "mean_us", s.count ? bench_report_num(s.mean / 1e3, 2) : NULL);
	bench_report_json_print(stdout, o);
	json_object_put(o);
}

static void print_table(const struct bench_hdr *h, int files)
{
	struct bench_summary s;
	bench_hdr_summary(h, &s);
	printf("atmosphere-bench merge: %d file(s), sig_digits %u\n\n", files, bench_hdr_sig_digits(h));
	bench_report_row(stdout, 16, "samples", "%llu", (unsigned long long)s.count);
	if (!s.count)
		return;
	bench_report_row(stdout, 16, "min us", "%.2f", (double)s.min / 1e3);
	bench_report_row(stdout, 16, "p50 us", "%.2f", (double)s.p50 / 1e3);
	bench_report_row(stdout, 16, "p90 us", "%.2f", (double)s.p90 / 1e3);
	bench_report_row(stdout, 16, "p99 us", "%.2f", (double)s.p99 / 1e3);
	bench_report_row(stdout, 16, "p99.9 us", "%.2f", (double)s.p999 / 1e3);
	bench_report_row(stdout, 16, "max us", "%.2f", (double)s.max / 1e3);
	bench_report_row(stdout, 16, "mean us", "%.2f", s.mean / 1e3);
}

int bench_cmd_merge(int argc, char **argv)
{
	struct merge_opts o = {0};
	/* Options end at the first argument that is not one (or after "--"). */
	int first = 1;
	while (first < argc && argv[first][0] == '-' && strcmp(argv[first], "-")) {
		if (!strcmp(argv[first], "--")) {
			break;
		}
		if (!strcmp(argv[first], "--out"))
			first++;
		first++;
	}
	if (first > argc)
		first = argc;
	int rc = opt_table_parse(&merge_table, &o, first, argv, stdout, NULL);
	if (rc >= 0)
		return rc;
	if (first < argc && !strcmp(argv[first], "--"))
		first++;
	if (first == argc)
		return opt_usage_error(&merge_table, "expected one or more histogram files");
	struct bench_hdr *sum = NULL;
	const char *sum_path = NULL;
	int status = 0, files = 0;
	for (int i = first; i < argc && !status; i++) {
		struct bench_hdr *h = load(argv[i]);
		if (!h) {
			status = 1;
			break;
		}
		if (!sum) {
			sum = h;
			sum_path = argv[i];
		} else {
			if (bench_hdr_merge(sum, h) != 0) {
				fprintf(stderr,
					"atmosphere-bench merge: '%s' (sig_digits %u, highest %llu) has another layout than '%s' "
					"(sig_digits %u, highest %llu): merging would lose precision\n",
					argv[i], bench_hdr_sig_digits(h), (unsigned long long)bench_hdr_highest(h), sum_path,
					bench_hdr_sig_digits(sum), (unsigned long long)bench_hdr_highest(sum));
				status = 1;
			}
			bench_hdr_free(h);
		}
		files++;
	}
	if (!status) {
		if (o.out && write_out(o.out, sum))
			status = 1;
		if (o.json)
			print_json(sum, files);
		else
			print_table(sum, files);
	}
	bench_hdr_free(sum);
	return status;
}
