/* bench/prom: the Prometheus text format reader. Samples, labels, values
 * and comments of a body like our relay's /metrics; every malformed line
 * refused with its line and reason; every prefix of a body read without
 * touching a byte past its end (a PROT_NONE page). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench/prom.h"

static const char body[] =
	"# HELP atmosphere_relay_sessions_total Sessions paired since start.\n"
	"# TYPE atmosphere_relay_sessions_total counter\n"
	"atmosphere_relay_sessions_total 42\n"
	"# a plain comment, ignored\n"
	"\n"
	"atmosphere_relay_sessions{state=\"active\"} 3\n"
	"atmosphere_relay_sessions{ state = \"waiting\" , } 1.5e1\r\n"
	"x:y_z{a=\"q\\\"\\\\\\n\",b=\"\"} -Inf 1700000000000\n"
	"up\tNaN\n"
	"last +7";

struct want {
	const char *name;
	size_t num_labels;
	double value;
	bool has_ts;
};

static const struct want wants[] = {
	{"atmosphere_relay_sessions_total", 0, 42, false},
	{"atmosphere_relay_sessions", 1, 3, false},
	{"atmosphere_relay_sessions", 1, 15, false},
	{"x:y_z", 2, -INFINITY, true},
	{"up", 0, NAN, false},
	{"last", 0, 7, false},
};

Test(bench_prom, reads_every_sample_of_a_body)
{
	struct bench_prom_cursor c;
	struct bench_prom_sample s;
	struct bench_prom_error e;
	cr_assert_eq(bench_prom_init(&c, body, strlen(body)), BENCH_PROM_OK);
	for (size_t i = 0; i < sizeof wants / sizeof wants[0]; i++) {
		enum bench_prom_status st = bench_prom_next(&c, &s, &e);
		cr_assert_eq(st, BENCH_PROM_OK, "sample %zu: %d at line %zu: %s", i, st, e.line, e.msg);
		cr_assert(bench_prom_span_eq(s.name, wants[i].name), "sample %zu: name '%.*s'", i, (int)s.name.len, s.name.p);
		cr_assert_eq(s.num_labels, wants[i].num_labels, "sample %zu", i);
		if (isnan(wants[i].value))
			cr_assert(isnan(s.value), "sample %zu: %g", i, s.value);
		else
			cr_assert(s.value == wants[i].value, "sample %zu: %g, want %g", i, s.value, wants[i].value);
		cr_assert_eq(s.has_timestamp, wants[i].has_ts, "sample %zu", i);
	}
	cr_assert_eq(bench_prom_next(&c, &s, &e), BENCH_PROM_END);
	cr_assert_eq(bench_prom_next(&c, &s, &e), BENCH_PROM_END, "END stays END");
}

Test(bench_prom, labels_compare_unescaped)
{
	struct bench_prom_cursor c;
	struct bench_prom_sample s;
	const char *b = "m{state=\"active\",q=\"a\\\"b\\\\c\\nd\"} 1 -5\n";
	bench_prom_init(&c, b, strlen(b));
	cr_assert_eq(bench_prom_next(&c, &s, NULL), BENCH_PROM_OK);
	cr_assert(bench_prom_label_eq(&s, "state", "active"));
	cr_assert(!bench_prom_label_eq(&s, "state", "activ"));
	cr_assert(!bench_prom_label_eq(&s, "state", "active2"));
	cr_assert(bench_prom_label_eq(&s, "q", "a\"b\\c\nd"));
	cr_assert(!bench_prom_label_eq(&s, "missing", ""));
	cr_assert(s.has_timestamp && s.timestamp_ms == -5);
}

struct bad_case {
	char text[160];
	enum bench_prom_status status;
	size_t line;
	char reason[40];        /* a part of the message */
};

static const struct bad_case bad_cases[] = {
	{"9metric 1\n", BENCH_PROM_E_SYNTAX, 1, "expected a metric name"},
	{"ok 1\nm{ 1\n", BENCH_PROM_E_SYNTAX, 2, "label name"},
	{"m{a} 1\n", BENCH_PROM_E_SYNTAX, 1, "'='"},
	{"m{a=b} 1\n", BENCH_PROM_E_SYNTAX, 1, "'\"'"},
	{"m{a=\"b} 1\n", BENCH_PROM_E_SYNTAX, 1, "closing quote"},
	{"m{a=\"\\x\"} 1\n", BENCH_PROM_E_SYNTAX, 1, "bad escape"},
	{"m{a=\"1\" b=\"2\"} 1\n", BENCH_PROM_E_SYNTAX, 1, "',' or '}'"},
	{"m{a=\"1\",a=\"2\"} 1\n", BENCH_PROM_E_SYNTAX, 1, "twice"},
	{"m{:a=\"1\"} 1\n", BENCH_PROM_E_SYNTAX, 1, "label name"},
	{"m\n", BENCH_PROM_E_SYNTAX, 1, "blank before the value"},
	{"m \n", BENCH_PROM_E_SYNTAX, 1, "bad value"},
	{"m 0x1p3\n", BENCH_PROM_E_SYNTAX, 1, "bad value"},
	{"m infinity\n", BENCH_PROM_E_SYNTAX, 1, "bad value"},
	{"m nan\n", BENCH_PROM_E_SYNTAX, 1, "bad value"},
	{"m 1e\n", BENCH_PROM_E_SYNTAX, 1, "bad value"},
	{"m .\n", BENCH_PROM_E_SYNTAX, 1, "bad value"},
	{"m 1 1.5\n", BENCH_PROM_E_SYNTAX, 1, "bad timestamp"},
	{"m 1 99999999999999999999\n", BENCH_PROM_E_SYNTAX, 1, "bad timestamp"},
	{"m 1 2 3\n", BENCH_PROM_E_SYNTAX, 1, "after the timestamp"},
	{"m 1\r\r\n", BENCH_PROM_E_SYNTAX, 1, "after the value"},
	{"\n\n# TYPE m countr\n", BENCH_PROM_E_SYNTAX, 3, "unknown type"},
	{"# TYPE m counter extra\n", BENCH_PROM_E_SYNTAX, 1, "after the type"},
	{"# TYPE 1m counter\n", BENCH_PROM_E_SYNTAX, 1, "metric name"},
	{"# HELP\tm{ doc\n", BENCH_PROM_E_SYNTAX, 1, "HELP"},
	{"# EOF\nm 1 # {a=\"b\"} 1\n", BENCH_PROM_E_SYNTAX, 2, "timestamp"},
	{"m{a=\"1\",b=\"1\",c=\"1\",d=\"1\",e=\"1\",f=\"1\",g=\"1\",h=\"1\",i=\"1\",j=\"1\",k=\"1\",l=\"1\",m=\"1\",n=\"1\","
	 "o=\"1\",p=\"1\",q=\"1\"} 1",
	 BENCH_PROM_E_LIMIT, 1, "labels"},
	{"m 1234567890123456789012345678901234567890123456789012345678901234567890\n", BENCH_PROM_E_LIMIT, 1,
	 "value over"},
	{" \r x\n", BENCH_PROM_E_SYNTAX, 1, "carriage return"},
};

ParameterizedTestParameters(bench_prom, refuses_malformed)
{
	return cr_make_param_array(struct bad_case, bad_cases, sizeof bad_cases / sizeof bad_cases[0]);
}

ParameterizedTest(const struct bad_case *c, bench_prom, refuses_malformed)
{
	struct bench_prom_cursor cur;
	struct bench_prom_sample s;
	struct bench_prom_error e = {0};
	enum bench_prom_status st = BENCH_PROM_OK;
	bench_prom_init(&cur, c->text, strlen(c->text));
	for (int i = 0; i < 10 && (st = bench_prom_next(&cur, &s, &e)) == BENCH_PROM_OK; i++)
		;
	cr_assert_eq(st, c->status, "'%s': status %d, want %d (%s)", c->text, st, c->status, e.msg);
	cr_assert_eq(e.line, c->line, "'%s': line %zu, want %zu", c->text, e.line, c->line);
	cr_assert(strstr(e.msg, c->reason), "'%s': reason '%s' lacks '%s'", c->text, e.msg, c->reason);
	cr_assert(e.off <= strlen(c->text));
	/* Sticky: the cursor stays on the error. */
	cr_assert_eq(bench_prom_next(&cur, &s, &e), c->status);
}

Test(bench_prom, names_over_the_limit)
{
	char b[BENCH_PROM_NAME_MAX + 16];
	memset(b, 'a', BENCH_PROM_NAME_MAX + 1);
	memcpy(b + BENCH_PROM_NAME_MAX + 1, " 1\n", 4);
	struct bench_prom_cursor c;
	struct bench_prom_sample s;
	bench_prom_init(&c, b, strlen(b));
	cr_assert_eq(bench_prom_next(&c, &s, NULL), BENCH_PROM_E_LIMIT);
	b[BENCH_PROM_NAME_MAX] = ' ';
	b[BENCH_PROM_NAME_MAX + 1] = '1';
	b[BENCH_PROM_NAME_MAX + 2] = '\0';
	bench_prom_init(&c, b, strlen(b));
	cr_assert_eq(bench_prom_next(&c, &s, NULL), BENCH_PROM_OK, "a name of exactly the limit");
}

Test(bench_prom, refuses_a_body_too_long)
{
	struct bench_prom_cursor c;
	struct bench_prom_sample s;
	struct bench_prom_error e;
	cr_assert_eq(bench_prom_init(&c, body, (size_t)BENCH_PROM_BODY_MAX + 1), BENCH_PROM_E_TOO_LONG);
	cr_assert_eq(bench_prom_next(&c, &s, &e), BENCH_PROM_E_TOO_LONG);
}

/* Every prefix of the body, ending where a PROT_NONE page starts: reading
 * a byte past the end faults. Each is read to its end or an error. */
Test(bench_prom, prefixes_end_against_a_guard_page)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = strlen(body);
	size_t span = (len + page - 1) / page * page;
	char *base = mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(base, MAP_FAILED);
	cr_assert_eq(mprotect(base + span, page, PROT_NONE), 0);
	for (size_t n = 0; n <= len; n++) {
		char *p = base + span - n;
		memcpy(p, body, n);
		struct bench_prom_cursor c;
		struct bench_prom_sample s;
		enum bench_prom_status st = BENCH_PROM_OK;
		bench_prom_init(&c, p, n);
		for (int i = 0; i < 64 && (st = bench_prom_next(&c, &s, NULL)) == BENCH_PROM_OK; i++)
			cr_assert(s.name.p >= p && s.name.p + s.name.len <= p + n);
		cr_assert(st == BENCH_PROM_END || st < 0, "prefix %zu: status %d", n, st);
	}
	munmap(base, span + page);
}
