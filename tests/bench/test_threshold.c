/* bench/threshold: parsing every operator, metric and unit, refusing bad
 * strings with a reason, and evaluating against measured figures. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/threshold.h"

/* Arrays, not pointers: Criterion runs each parameter in a new process. */
struct good_case {
	char text[64];
	enum bench_threshold_metric metric;
	enum bench_threshold_op op;
	double limit;           /* base unit */
};

static const struct good_case good_cases[] = {
	{"p99<5ms", BENCH_THR_P99, BENCH_THR_LT, 5e6},
	{"p99<=5ms", BENCH_THR_P99, BENCH_THR_LE, 5e6},
	{"p99>5ms", BENCH_THR_P99, BENCH_THR_GT, 5e6},
	{"p99>=5ms", BENCH_THR_P99, BENCH_THR_GE, 5e6},
	{"p50<250ns", BENCH_THR_P50, BENCH_THR_LT, 250},
	{"p90<12.5us", BENCH_THR_P90, BENCH_THR_LT, 12500},
	{"p90<12.5\xc2\xb5s", BENCH_THR_P90, BENCH_THR_LT, 12500},
	{"p99.9<1s", BENCH_THR_P999, BENCH_THR_LT, 1e9},
	{"p999 < 2 ms", BENCH_THR_P999, BENCH_THR_LT, 2e6},
	{"max<=0.5s", BENCH_THR_MAX, BENCH_THR_LE, 5e8},
	{"errors<1", BENCH_THR_ERRORS, BENCH_THR_LT, 1},
	{"errors<=0", BENCH_THR_ERRORS, BENCH_THR_LE, 0},
	{"errors<0.1%", BENCH_THR_ERRORS_PCT, BENCH_THR_LT, 0.1},
	{"delivered>=99.9%", BENCH_THR_DELIVERED_PCT, BENCH_THR_GE, 99.9},
	{"msgs/s>=1000", BENCH_THR_MSGS_PER_S, BENCH_THR_GE, 1000},
	{"MB/s>100", BENCH_THR_MB_PER_S, BENCH_THR_GT, 100},
	{"  p99 <\t5ms  ", BENCH_THR_P99, BENCH_THR_LT, 5e6},
};

ParameterizedTestParameters(bench_threshold, parses)
{
	return cr_make_param_array(struct good_case, good_cases, sizeof good_cases / sizeof good_cases[0]);
}

ParameterizedTest(const struct good_case *c, bench_threshold, parses)
{
	struct bench_threshold t;
	char err[256] = "";
	cr_assert_eq(bench_threshold_parse(c->text, &t, err, sizeof err), 0, "'%s': %s", c->text, err);
	cr_assert_eq(t.metric, c->metric, "'%s'", c->text);
	cr_assert_eq(t.op, c->op, "'%s'", c->text);
	cr_assert_float_eq(t.limit, c->limit, 1e-9 * (c->limit + 1), "'%s': limit %g, want %g", c->text, t.limit, c->limit);
	cr_assert_str_eq(t.text, c->text);
}

struct bad_case {
	char text[80];
	char reason[48];        /* a part of the message */
};

static const struct bad_case bad_cases[] = {
	{"", "unknown metric"},
	{"p98<5ms", "unknown metric"},
	{"latency<5ms", "unknown metric"},
	{"p99", "operator"},
	{"p99=5ms", "operator"},
	{"p99==5ms", "operator"},
	{"p99!=5ms", "operator"},
	{"p99=<5ms", "operator"},
	{"p99<", "value"},
	{"p99<ms", "value"},
	{"p99<-5ms", "value"},
	{"p99<.5ms", "value"},
	{"p99<5.ms", "value"},
	{"p99<1e3ns", "unit 'e3ns'"},
	{"p99<5", "a latency takes ns, us, ms or s"},
	{"p99<5min", "unit 'min'"},
	{"p99<5%", "unit '%'"},
	{"errors<5ms", "unit 'ms'"},
	{"delivered>=99.9", "expected '%'"},
	{"delivered>=101%", "above 100%"},
	{"errors<100.5%", "above 100%"},
	{"msgs/s>=1000/s", "unexpected '/s'"},
	{"MB/s>1MB", "unexpected 'MB'"},
	{"p99<5ms5", "unit 'ms5'"},
	{"p99<5ms,errors<1", "unit 'ms,errors<1'"},
	{"p99<5 ms  and more text so that this is longer than sixty-three characters", "longer than"},
};

ParameterizedTestParameters(bench_threshold, refuses_bad_strings)
{
	return cr_make_param_array(struct bad_case, bad_cases, sizeof bad_cases / sizeof bad_cases[0]);
}

ParameterizedTest(const struct bad_case *c, bench_threshold, refuses_bad_strings)
{
	struct bench_threshold t;
	char err[256] = "";
	cr_assert_eq(bench_threshold_parse(c->text, &t, err, sizeof err), -1, "'%s' was accepted", c->text);
	cr_assert(strstr(err, c->reason), "'%s': message '%s' does not say '%s'", c->text, err, c->reason);
}

static struct bench_threshold t_parse(const char *s)
{
	struct bench_threshold t;
	char err[256];
	cr_assert_eq(bench_threshold_parse(s, &t, err, sizeof err), 0, "'%s': %s", s, err);
	return t;
}

static const struct bench_threshold_input measured = {
	.p50_ns = 40000, .p90_ns = 60000, .p99_ns = 5000000, .p999_ns = 9000000, .max_ns = 12000000,
	.errors = 2, .operations = 1000, .delivered_pct = 99.95, .msgs_per_s = 1000, .mb_per_s = NAN,
};

/* Each operator at, below and above the measured figure, each metric. */
Test(bench_threshold, evaluates_each_operator_at_the_edge)
{
	struct {
		const char *text;
		bool want;
	} cases[] = {
		{"p99<5ms", false}, {"p99<=5ms", true}, {"p99>5ms", false}, {"p99>=5ms", true},
		{"p99<5.001ms", true}, {"p99>4.999ms", true}, {"p50<40001ns", true}, {"p90<60us", false},
		{"p99.9<=9ms", true}, {"max<12ms", false}, {"max<=12ms", true},
		{"errors<2", false}, {"errors<=2", true}, {"errors<0.1%", false}, {"errors<=0.3%", true},
		{"delivered>=99.9%", true}, {"delivered>=99.96%", false}, {"msgs/s>=1000", true},
		{"msgs/s>1000", false}, {"MB/s>=0", false}, /* not measured: fails */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct bench_threshold t = t_parse(cases[i].text);
		bool got = bench_threshold_holds(&t, bench_threshold_measured(&t, &measured));
		cr_assert_eq(got, cases[i].want, "'%s': got %d", cases[i].text, got);
	}
}

Test(bench_threshold, errors_percent_without_operations_is_not_measured)
{
	struct bench_threshold t = t_parse("errors<1%");
	struct bench_threshold_input in = measured;
	in.operations = 0;
	cr_assert(isnan(bench_threshold_measured(&t, &in)));
	cr_assert_not(bench_threshold_holds(&t, NAN));
}

/* One line per threshold, in order, and the count of failures. */
Test(bench_threshold, report_lines_and_failure_count)
{
	struct bench_threshold t[4] = {t_parse("p99<5ms"), t_parse("p50<1ms"), t_parse("errors<=2"), t_parse("MB/s>1")};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	unsigned failed = bench_threshold_report(f, t, 4, &measured);
	fclose(f);
	cr_assert_eq(failed, 2);
	cr_assert_str_eq(buf, "threshold p99<5ms: FAILED (measured 5.000ms)\n"
			      "threshold p50<1ms: ok (measured 0.040ms)\n"
			      "threshold errors<=2: ok (measured 2)\n"
			      "threshold MB/s>1: FAILED (not measured)\n");
	free(buf);
}

/* Exit status: 3 when a threshold failed on a run that worked; a run that
 * could not run (1) keeps its status; all held: 0. */
Test(bench_threshold, exit_status)
{
	cr_assert_eq(bench_threshold_exit_status(0, 0), 0);
	cr_assert_eq(bench_threshold_exit_status(0, 1), 3);
	cr_assert_eq(bench_threshold_exit_status(0, 16), 3);
	cr_assert_eq(bench_threshold_exit_status(1, 2), 1);
	cr_assert_eq(bench_threshold_exit_status(1, 0), 1);
	struct bench_threshold t[2] = {t_parse("p99<1ns"), t_parse("errors<=2")};
	FILE *null = fopen("/dev/null", "w");
	cr_assert_eq(bench_threshold_exit_status(0, bench_threshold_report(null, t, 2, &measured)), 3);
	cr_assert_eq(bench_threshold_exit_status(0, bench_threshold_report(null, t + 1, 1, &measured)), 0);
	fclose(null);
}
