/* Pass/fail thresholds: see bench/threshold.h. */
#include "bench/threshold.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum kind { LATENCY, ERRORS, PERCENT, RATE };

static const struct {
	const char *name;
	enum bench_threshold_metric metric;
	enum kind kind;
} metrics[] = {
	/* Longer names first: "p99.9" and "p999" before "p99". */
	{"p99.9", BENCH_THR_P999, LATENCY},
	{"p999", BENCH_THR_P999, LATENCY},
	{"p99", BENCH_THR_P99, LATENCY},
	{"p90", BENCH_THR_P90, LATENCY},
	{"p50", BENCH_THR_P50, LATENCY},
	{"max", BENCH_THR_MAX, LATENCY},
	{"errors", BENCH_THR_ERRORS, ERRORS},
	{"delivered", BENCH_THR_DELIVERED_PCT, PERCENT},
	{"msgs/s", BENCH_THR_MSGS_PER_S, RATE},
	{"MB/s", BENCH_THR_MB_PER_S, RATE},
};

static const struct {
	const char *name;
	double ns;
} time_units[] = {
	{"ns", 1.0}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6}, {"s", 1e9},
};

static const char *skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

bool bench_threshold_is_latency(enum bench_threshold_metric m)
{
	return m <= BENCH_THR_MAX;
}

int bench_threshold_parse(const char *s, struct bench_threshold *out, char *errbuf, size_t errbuf_len)
{
	static const char *const grammar = "expected METRIC OP VALUE[UNIT] such as 'p99<5ms', 'errors<0.1%', "
					   "'delivered>=99.9%' or 'msgs/s>=1000'";
	memset(out, 0, sizeof *out);
	if (strlen(s) > BENCH_THRESHOLD_TEXT_MAX) {
		snprintf(errbuf, errbuf_len, "longer than %d characters", BENCH_THRESHOLD_TEXT_MAX);
		return -1;
	}
	snprintf(out->text, sizeof out->text, "%s", s);

	/* METRIC */
	const char *p = skip_blanks(s);
	size_t mi = 0, num_metrics = sizeof metrics / sizeof metrics[0];
	while (mi < num_metrics && strncmp(p, metrics[mi].name, strlen(metrics[mi].name)) != 0)
		mi++;
	if (mi == num_metrics) {
		snprintf(errbuf, errbuf_len,
			 "unknown metric at '%s': expected p50, p90, p99, p99.9, max, errors, delivered, msgs/s or MB/s; %s",
			 p, grammar);
		return -1;
	}
	out->metric = metrics[mi].metric;
	enum kind kind = metrics[mi].kind;
	p = skip_blanks(p + strlen(metrics[mi].name));

	/* OP */
	if (p[0] == '<' && p[1] == '=') {
		out->op = BENCH_THR_LE;
		p += 2;
	} else if (p[0] == '>' && p[1] == '=') {
		out->op = BENCH_THR_GE;
		p += 2;
	} else if (p[0] == '<') {
		out->op = BENCH_THR_LT;
		p++;
	} else if (p[0] == '>') {
		out->op = BENCH_THR_GT;
		p++;
	} else {
		snprintf(errbuf, errbuf_len, "operator at '%s': expected <, <=, > or >= after '%s'", p, metrics[mi].name);
		return -1;
	}
	p = skip_blanks(p);

	/* VALUE: digits, an optional fraction; nothing strtod would also take
	 * (sign, exponent, hex, inf, nan). */
	const char *v = p;
	size_t int_digits = strspn(p, "0123456789"), frac_digits = 0;
	p += int_digits;
	if (*p == '.') {
		frac_digits = strspn(p + 1, "0123456789");
		p += 1 + frac_digits;
	}
	if (int_digits == 0 || (p[-1] == '.')) {
		snprintf(errbuf, errbuf_len, "value at '%s': expected a number such as 5, 0.1 or 99.9", v);
		return -1;
	}
	char num[BENCH_THRESHOLD_TEXT_MAX + 1];
	memcpy(num, v, (size_t)(p - v));
	num[p - v] = '\0';
	double value = strtod(num, NULL);

	/* UNIT: the rest, blanks trimmed. */
	p = skip_blanks(p);
	size_t ulen = strlen(p);
	while (ulen && (p[ulen - 1] == ' ' || p[ulen - 1] == '\t'))
		ulen--;
	out->unit = "";
	out->scale = 1.0;
	switch (kind) {
	case LATENCY: {
		size_t k = 0, n = sizeof time_units / sizeof time_units[0];
		while (k < n && !(strlen(time_units[k].name) == ulen && !strncmp(p, time_units[k].name, ulen)))
			k++;
		if (k == n) {
			snprintf(errbuf, errbuf_len, "%s: unit '%.*s': a latency takes ns, us, ms or s (as in 'p99<5ms')",
				 metrics[mi].name, (int)ulen, p);
			return -1;
		}
		out->unit = time_units[k].name;
		out->scale = time_units[k].ns;
		break;
	}
	case ERRORS:
		if (ulen == 1 && *p == '%') {
			out->metric = BENCH_THR_ERRORS_PCT;
			out->unit = "%";
		} else if (ulen) {
			snprintf(errbuf, errbuf_len, "errors: unit '%.*s': a count takes none, a share '%%' (as in 'errors<0.1%%')",
				 (int)ulen, p);
			return -1;
		}
		break;
	case PERCENT:
		if (!(ulen == 1 && *p == '%')) {
			snprintf(errbuf, errbuf_len, "%s: unit '%.*s': expected '%%' (as in 'delivered>=99.9%%')",
				 metrics[mi].name, (int)ulen, p);
			return -1;
		}
		out->unit = "%";
		break;
	case RATE:
		if (ulen) {
			snprintf(errbuf, errbuf_len, "%s: unexpected '%.*s' after the value (the unit is in the metric's name)",
				 metrics[mi].name, (int)ulen, p);
			return -1;
		}
		break;
	}
	if (out->unit[0] == '%' && value > 100.0) {
		snprintf(errbuf, errbuf_len, "%s: %s%% is above 100%%", metrics[mi].name, num);
		return -1;
	}
	out->limit = value * out->scale;
	return 0;
}

double bench_threshold_measured(const struct bench_threshold *t, const struct bench_threshold_input *in)
{
	switch (t->metric) {
	case BENCH_THR_P50:
		return in->p50_ns;
	case BENCH_THR_P90:
		return in->p90_ns;
	case BENCH_THR_P99:
		return in->p99_ns;
	case BENCH_THR_P999:
		return in->p999_ns;
	case BENCH_THR_MAX:
		return in->max_ns;
	case BENCH_THR_ERRORS:
		return in->errors;
	case BENCH_THR_ERRORS_PCT:
		return in->operations > 0 ? in->errors / in->operations * 100.0 : NAN;
	case BENCH_THR_DELIVERED_PCT:
		return in->delivered_pct;
	case BENCH_THR_MSGS_PER_S:
		return in->msgs_per_s;
	case BENCH_THR_MB_PER_S:
		return in->mb_per_s;
	}
	return NAN;
}

bool bench_threshold_holds(const struct bench_threshold *t, double measured)
{
	if (isnan(measured))
		return false;
	switch (t->op) {
	case BENCH_THR_LT:
		return measured < t->limit;
	case BENCH_THR_LE:
		return measured <= t->limit;
	case BENCH_THR_GT:
		return measured > t->limit;
	case BENCH_THR_GE:
		return measured >= t->limit;
	}
	return false;
}

unsigned bench_threshold_report(FILE *f, const struct bench_threshold *t, size_t num,
				const struct bench_threshold_input *in)
{
	unsigned failed = 0;
	for (size_t i = 0; i < num; i++) {
		double m = bench_threshold_measured(&t[i], in);
		bool ok = bench_threshold_holds(&t[i], m);
		failed += !ok;
		if (isnan(m))
			fprintf(f, "threshold %s: FAILED (not measured)\n", t[i].text);
		else if (t[i].metric == BENCH_THR_ERRORS)
			fprintf(f, "threshold %s: %s (measured %.0f)\n", t[i].text, ok ? "ok" : "FAILED", m);
		else
			fprintf(f, "threshold %s: %s (measured %.*f%s)\n", t[i].text, ok ? "ok" : "FAILED",
				t[i].scale > 1.0 || t[i].unit[0] == '%' ? 3 : 2, m / t[i].scale, t[i].unit);
	}
	return failed;
}

int bench_threshold_exit_status(int status, unsigned failed)
{
	if (status)
		return status;
	return failed ? BENCH_THRESHOLD_EXIT_FAILED : 0;
}
