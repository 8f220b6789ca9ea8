#ifndef BENCH_THRESHOLD_H
#define BENCH_THRESHOLD_H
/* bench/threshold.h: pass/fail thresholds on a run's results, for CI.
 *
 * A threshold is METRIC OP VALUE[UNIT], e.g. "p99<5ms", "errors<0.1%",
 * "delivered>=99.9%", "msgs/s>=1000" (blanks between the parts allowed):
 *   METRIC  p50 p90 p99 p99.9 (or p999) max      latency; UNIT ns, us, ms or s
 *           errors                               a count, or with % a share of
 *                                                the operations (see below)
 *           delivered                            %, of the messages sent
 *           msgs/s, MB/s                         no unit (MB = 10^6 bytes)
 *   OP      <  <=  >  >=
 *   VALUE   a decimal number, no sign or exponent.
 * Parsing is separate from evaluation so a bad threshold is a usage error
 * (exit 2) before anything runs; evaluation compares against the measured
 * figures in struct bench_threshold_input and writes one line per threshold
 * ("ok" or "FAILED" and the measured value in the threshold's own unit). A
 * figure that could not be measured (NAN) fails its threshold.
 *
 * Nothing here allocates or measures. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum bench_threshold_limits {
	BENCH_THRESHOLD_MAX = 16,        /* --threshold options per run */
	BENCH_THRESHOLD_TEXT_MAX = 63,   /* the threshold as given, for the report */
	BENCH_THRESHOLD_EXIT_FAILED = 3, /* the exit status when one failed */
};

enum bench_threshold_metric {
	BENCH_THR_P50,
	BENCH_THR_P90,
	BENCH_THR_P99,
	BENCH_THR_P999,
	BENCH_THR_MAX,
	BENCH_THR_ERRORS,          /* a count */
	BENCH_THR_ERRORS_PCT,      /* a percentage of operations */
	BENCH_THR_DELIVERED_PCT,
	BENCH_THR_MSGS_PER_S,
	BENCH_THR_MB_PER_S,
};

enum bench_threshold_op { BENCH_THR_LT, BENCH_THR_LE, BENCH_THR_GT, BENCH_THR_GE };

/* struct bench_threshold: one parsed threshold. limit is in the metric's
 * base unit (ns for latency, a count, a percentage, per second); scale is
 * what one unit of the threshold's text is in that base (1e6 for "ms"), for
 * printing the measured value the way the threshold was written. */
struct bench_threshold {
	char text[BENCH_THRESHOLD_TEXT_MAX + 1];
	enum bench_threshold_metric metric;
	enum bench_threshold_op op;
	double limit;
	double scale;
	const char *unit;          /* "ms", "%", "" */
};

/* bench_threshold_parse parses s into *out. Returns 0, or -1 with the
 * reason (quoting the part that is wrong) in errbuf; *out is then
 * unspecified. */
int bench_threshold_parse(const char *s, struct bench_threshold *out, char *errbuf, size_t errbuf_len);

/* bench_threshold_is_latency says whether m is a latency percentile or the
 * maximum (those need --mode latency). */
bool bench_threshold_is_latency(enum bench_threshold_metric m);

/* struct bench_threshold_input: the measured figures; NAN where the run
 * did not measure one. */
struct bench_threshold_input {
	double p50_ns, p90_ns, p99_ns, p999_ns, max_ns;
	double errors;             /* count */
	double operations;         /* errors % is errors / operations x 100 */
	double delivered_pct;
	double msgs_per_s, mb_per_s;
};

/* bench_threshold_measured returns the figure t is about, in its base unit
 * (NAN when not measured, or errors % with no operations). */
double bench_threshold_measured(const struct bench_threshold *t, const struct bench_threshold_input *in);

/* bench_threshold_holds says whether measured satisfies t (false for
 * NAN). */
bool bench_threshold_holds(const struct bench_threshold *t, double measured);

/* bench_threshold_report writes one line per threshold to f,
 * "threshold p99<5ms: ok (measured 1.234ms)" or "...: FAILED (measured
 * ...)" / "(not measured)", and returns how many failed. */
unsigned bench_threshold_report(FILE *f, const struct bench_threshold *t, size_t num,
				const struct bench_threshold_input *in);

/* bench_threshold_exit_status returns the command's exit status: status
 * when the run itself did not succeed (non-zero: could not run, usage),
 * else BENCH_THRESHOLD_EXIT_FAILED when failed thresholds are over 0, else
 * 0. */
int bench_threshold_exit_status(int status, unsigned failed);

#endif
