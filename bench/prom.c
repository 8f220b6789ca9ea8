/* bench/prom.c: the Prometheus text format reader (bench/prom.h). Reads
 * through an offset that only advances, each byte checked against the end
 * first; nothing is written into the body. */
#include "bench/prom.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pos {
	const char *b;
	size_t len, off;
};

static bool at_end(const struct pos *p)
{
	return p->off >= p->len;
}

static int peek(const struct pos *p)
{
	return at_end(p) ? -1 : (unsigned char)p->b[p->off];
}

static bool is_blank(int ch)
{
	return ch == ' ' || ch == '\t';
}

static bool is_eol(int ch)
{
	return ch == '\n' || ch == -1;
}

static void skip_blanks(struct pos *p)
{
	while (is_blank(peek(p)))
		p->off++;
}

static bool is_alpha_(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static bool is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static enum bench_prom_status fail(struct bench_prom_cursor *c, const struct pos *p, enum bench_prom_status st,
				   struct bench_prom_error *err, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static enum bench_prom_status fail(struct bench_prom_cursor *c, const struct pos *p, enum bench_prom_status st,
				   struct bench_prom_error *err, const char *fmt, ...)
{
	c->status = st;
	if (err) {
		va_list ap;
		err->line = c->line;
		err->off = p->off;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return st;
}

/* A metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or, with colon false, a label
 * name ([a-zA-Z_][a-zA-Z0-9_]*). Returns its length, 0 when none starts
 * here, or -1 when it is longer than BENCH_PROM_NAME_MAX. */
static long take_name(struct pos *p, bool colon, struct bench_prom_span *out)
{
	size_t start = p->off;
	int ch = peek(p);
	if (!is_alpha_(ch) && !(colon && ch == ':'))
		return 0;
	p->off++;
	for (ch = peek(p); is_alpha_(ch) || is_digit(ch) || (colon && ch == ':'); ch = peek(p))
		p->off++;
	out->p = p->b + start;
	out->len = p->off - start;
	return out->len > BENCH_PROM_NAME_MAX ? -1 : (long)out->len;
}

/* A token up to a blank or the end of the line, at most
 * BENCH_PROM_VALUE_MAX characters, copied NUL-terminated into buf. Returns
 * its length, or -1 when longer. */
static long take_token(struct pos *p, char buf[static BENCH_PROM_VALUE_MAX + 1])
{
	size_t n = 0;
	for (int ch = peek(p); !is_blank(ch) && !is_eol(ch) && ch != '\r'; ch = peek(p)) {
		if (n == BENCH_PROM_VALUE_MAX)
			return -1;
		buf[n++] = (char)ch;
		p->off++;
	}
	buf[n] = '\0';
	return (long)n;
}

/* The value grammar: NaN, [+-]Inf, or [+-] digits [. digits] [e [+-] digits]
 * with at least one digit before the exponent. strtod alone would also
 * take hex floats, "infinity" and "nan(...)". */
static bool value_parse(const char *s, double *out)
{
	if (!strcmp(s, "NaN")) {
		*out = NAN;
		return true;
	}
	if (!strcmp(s, "+Inf") || !strcmp(s, "Inf")) {
		*out = INFINITY;
		return true;
	}
	if (!strcmp(s, "-Inf")) {
		*out = -INFINITY;
		return true;
	}
	const char *q = s;
	size_t digits = 0;
	if (*q == '+' || *q == '-')
		q++;
	while (is_digit(*q)) {
		q++;
		digits++;
	}
	if (*q == '.') {
		q++;
		while (is_digit(*q)) {
			q++;
			digits++;
		}
	}
	if (!digits)
		return false;
	if (*q == 'e' || *q == 'E') {
		q++;
		if (*q == '+' || *q == '-')
			q++;
		if (!is_digit(*q))
			return false;
		while (is_digit(*q))
			q++;
	}
	if (*q)
		return false;
	errno = 0;
	*out = strtod(s, NULL);
	return true; /* overflow gives +-HUGE_VAL, which is what the text says */
}

/* A timestamp: [+-] digits, fitting int64. */
static bool timestamp_parse(const char *s, int64_t *out)
{
	const char *q = s + (*s == '+' || *s == '-');
	if (!is_digit(*q))
		return false;
	for (const char *d = q; *d; d++)
		if (!is_digit(*d))
			return false;
	errno = 0;
	long long v = strtoll(s, NULL, 10);
	if (errno == ERANGE)
		return false;
	*out = v;
	return true;
}

/* The end of a line: blanks, an optional '\r', then '\n' or the end. */
static bool line_end(struct pos *p)
{
	skip_blanks(p);
	if (peek(p) == '\r')
		p->off++;
	if (at_end(p))
		return true;
	if (peek(p) != '\n')
		return false;
	p->off++;
	return true;
}

/* Skips the rest of the line, '\n' included. */
static void skip_line(struct pos *p)
{
	const char *nl = memchr(p->b + p->off, '\n', p->len - p->off);
	p->off = nl ? (size_t)(nl - p->b) + 1 : p->len;
}

static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};

/* A comment line, p after the '#'. Only TYPE and HELP have a grammar. */
static enum bench_prom_status comment(struct bench_prom_cursor *c, struct pos *p, struct bench_prom_error *err)
{
	skip_blanks(p);
	bool type = p->len - p->off >= 5 && !memcmp(p->b + p->off, "TYPE", 4) && is_blank(p->b[p->off + 4]);
	bool help = p->len - p->off >= 5 && !memcmp(p->b + p->off, "HELP", 4) && is_blank(p->b[p->off + 4]);
	if (!type && !help) {
		skip_line(p);
		return BENCH_PROM_OK;
	}
	p->off += 4;
	skip_blanks(p);
	struct bench_prom_span name;
	long n = take_name(p, true, &name);
	if (n < 0)
		return fail(c, p, BENCH_PROM_E_LIMIT, err, "metric name over %d characters", BENCH_PROM_NAME_MAX);
	if (n == 0)
		return fail(c, p, BENCH_PROM_E_SYNTAX, err, "%s: expected a metric name", type ? "TYPE" : "HELP");
	if (help) {
		/* The docstring: anything up to the end of the line. */
		if (!is_blank(peek(p)) && !is_eol(peek(p)) && peek(p) != '\r')
			return fail(c, p, BENCH_PROM_E_SYNTAX, err, "HELP: bad character in the metric name");
		skip_line(p);
		return BENCH_PROM_OK;
	}
	if (!is_blank(peek(p)))
		return fail(c, p, BENCH_PROM_E_SYNTAX, err, "TYPE: expected a blank after the metric name");
	skip_blanks(p);
	char word[BENCH_PROM_VALUE_MAX + 1];
	size_t at = p->off;
	if (take_token(p, word) < 0)
		return fail(c, p, BENCH_PROM_E_SYNTAX, err, "TYPE: unknown type");
	bool known = false;
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		known |= !strcmp(word, types[i]);
	if (!known) {
		p->off = at;
		return fail(c, p, BENCH_PROM_E_SYNTAX, err, "TYPE: unknown type '%.20s'", word);
	}
	if (!line_end(p))
		return fail(c, p, BENCH_PROM_E_SYNTAX, err, "TYPE: text after the type");
	return BENCH_PROM_OK;
}

/* A label value, p after its opening quote; stops after the closing one. */
static enum bench_prom_status label_value(struct bench_prom_cursor *c, struct pos *p, struct bench_prom_span *out,
					  struct bench_prom_error *err)
{
	size_t start = p->off;
	for (;;) {
		int ch = peek(p);
		if (ch == -1 || ch == '\n')
			return fail(c, p, BENCH_PROM_E_SYNTAX, err, "label value: no closing quote on the line");
		if (ch == '"')
			break;
		if (ch == '\\') {
			p->off++;
			ch = peek(p);
			if (ch != '\\' && ch != '"' && ch != 'n')
				return fail(c, p, BENCH_PROM_E_SYNTAX, err, "label value: bad escape (\\\\, \\\" or \\n)");
		}
		p->off++;
	}
	out->p = p->b + start;
	out->len = p->off - start;
	p->off++; /* the closing quote */
	return BENCH_PROM_OK;
}

/* The label set, p after '{'; stops after '}'. */
static enum bench_prom_status labels(struct bench_prom_cursor *c, struct pos *p, struct bench_prom_sample *out,
				     struct bench_prom_error *err)
{
	for (;;) {
		skip_blanks(p);
		if (peek(p) == '}') {
			p->off++;
			return BENCH_PROM_OK;
		}
		if (out->num_labels == BENCH_PROM_LABELS_MAX)
			return fail(c, p, BENCH_PROM_E_LIMIT, err, "more than %d labels", BENCH_PROM_LABELS_MAX);
		struct bench_prom_label *l = &out->labels[out->num_labels];
		long n = take_name(p, false, &l->name);
		if (n < 0)
			return fail(c, p, BENCH_PROM_E_LIMIT, err, "label name over %d characters", BENCH_PROM_NAME_MAX);
		if (n == 0)
			return fail(c, p, BENCH_PROM_E_SYNTAX, err, "expected a label name or '}'");
		for (size_t i = 0; i < out->num_labels; i++)
			if (out->labels[i].name.len == l->name.len && !memcmp(out->labels[i].name.p, l->name.p, l->name.len))
				return fail(c, p, BENCH_PROM_E_SYNTAX, err, "label '%.*s' twice", (int)(n > 40 ? 40 : n),
					    l->name.p);
		skip_blanks(p);
		if (peek(p) != '=')
			return fail(c, p, BENCH_PROM_E_SYNTAX, err, "expected '=' after a label name");
		p->off++;
		skip_blanks(p);
		if (peek(p) != '"')
			return fail(c, p, BENCH_PROM_E_SYNTAX, err, "expected '\"' to open a label value");
		p->off++;
		enum bench_prom_status st = label_value(c, p, &l->value, err);
		if (st != BENCH_PROM_OK)
			return st;
		out->num_labels++;
		skip_blanks(p);
		if (peek(p) == ',') {
			p->off++;
			continue;
		}
		if (peek(p) != '}')
			return fail(c, p, BENCH_PROM_E_SYNTAX, err, "expected ',' or '}' after a label value");
	}
}

/* A sample line, p at its first byte. */
static enum bench_prom_status sample(struct bench_prom_cursor *c, struct pos *p, struct bench_prom_sample *out,
				     struct bench_prom_error *err)
{
	memset(out, 0, sizeof *out);
	long n = take_name(p, true, &out->name);
	if (n < 0)
		return fail(c, p, BENCH_PROM_E_LIMIT, err, "metric name over %d characters", BENCH_PROM_NAME_MAX);
	if (n == 0)
		return fail(c, p, BENCH_PROM_E_SYNTAX, err, "expected a metric name, '#' or an empty line");
	size_t before = p->off;
	skip_blanks(p);
	if (peek(p) == '{') {
		p->off++;
		enum bench_prom_status st = labels(c, p, out, err);
		if (st != BENCH_PROM_OK)
			return st;
		before = p->off;
		skip_blanks(p);
	}
	if (p->off == before)
		return fail(c, p, BENCH_PROM_E_SYNTAX, err, "expected a blank before the value");
	char tok[BENCH_PROM_VALUE_MAX + 1];
	size_t at = p->off;
	if (take_token(p, tok) < 0)
		return fail(c, p, BENCH_PROM_E_LIMIT, err, "value over %d characters", BENCH_PROM_VALUE_MAX);
	if (!value_parse(tok, &out->value)) {
		p->off = at;
		return fail(c, p, BENCH_PROM_E_SYNTAX, err, "bad value '%.20s'", tok);
	}
	skip_blanks(p);
	if (!is_eol(peek(p)) && peek(p) != '\r') {
		at = p->off;
		if (take_token(p, tok) < 0)
			return fail(c, p, BENCH_PROM_E_LIMIT, err, "timestamp over %d characters", BENCH_PROM_VALUE_MAX);
		if (!timestamp_parse(tok, &out->timestamp_ms)) {
			p->off = at;
			return fail(c, p, BENCH_PROM_E_SYNTAX, err, "bad timestamp '%.20s'", tok);
		}
		out->has_timestamp = true;
	}
	if (!line_end(p))
		return fail(c, p, BENCH_PROM_E_SYNTAX, err, "text after the %s", out->has_timestamp ? "timestamp" : "value");
	return BENCH_PROM_OK;
}

enum bench_prom_status bench_prom_init(struct bench_prom_cursor *c, const char *body, size_t len)
{
	*c = (struct bench_prom_cursor){.buf = body, .len = len};
	if (len > BENCH_PROM_BODY_MAX)
		c->status = BENCH_PROM_E_TOO_LONG;
	return c->status;
}

enum bench_prom_status bench_prom_next(struct bench_prom_cursor *c, struct bench_prom_sample *out,
				       struct bench_prom_error *err)
{
	struct pos p = {.b = c->buf, .len = c->len, .off = c->off};
	if (c->status < 0) {
		if (err) {
			err->line = c->line;
			err->off = c->off;
			snprintf(err->msg, sizeof err->msg, "%s", bench_prom_strerror(c->status));
		}
		return c->status;
	}
	/* Bounded: every turn consumes at least one byte or returns. */
	while (!at_end(&p)) {
		c->line++;
		size_t start = p.off;
		skip_blanks(&p);
		int ch = peek(&p);
		if (ch == '\r' || ch == '\n' || ch == -1) {
			if (!line_end(&p)) {
				p.off = start;
				skip_blanks(&p);
				return fail(c, &p, BENCH_PROM_E_SYNTAX, err, "stray carriage return");
			}
			continue;
		}
		if (ch == '#') {
			p.off++;
			enum bench_prom_status st = comment(c, &p, err);
			if (st != BENCH_PROM_OK) {
				c->off = p.off;
				return st;
			}
			continue;
		}
		enum bench_prom_status st = sample(c, &p, out, err);
		c->off = p.off;
		return st;
	}
	c->off = p.off;
	return BENCH_PROM_END;
}

bool bench_prom_span_eq(struct bench_prom_span s, const char *str)
{
	size_t n = strlen(str);
	return s.len == n && !memcmp(s.p, str, n);
}

/* Compares a raw label value (escapes kept) with an unescaped string. */
static bool value_eq(struct bench_prom_span raw, const char *val)
{
	size_t j = 0;
	for (size_t i = 0; i < raw.len; i++, j++) {
		char ch = raw.p[i];
		if (ch == '\\' && i + 1 < raw.len) {
			ch = raw.p[++i];
			if (ch == 'n')
				ch = '\n';
		}
		if (val[j] == '\0' || val[j] != ch)
			return false;
	}
	return val[j] == '\0';
}

bool bench_prom_label_eq(const struct bench_prom_sample *s, const char *name, const char *val)
{
	for (size_t i = 0; i < s->num_labels; i++)
		if (bench_prom_span_eq(s->labels[i].name, name))
			return value_eq(s->labels[i].value, val);
	return false;
}

const char *bench_prom_strerror(enum bench_prom_status status)
{
	switch (status) {
	case BENCH_PROM_OK:
		return "ok";
	case BENCH_PROM_END:
		return "end of the body";
	case BENCH_PROM_E_SYNTAX:
		return "not the Prometheus text format";
	case BENCH_PROM_E_LIMIT:
		return "over a limit (name, value or labels)";
	case BENCH_PROM_E_TOO_LONG:
		return "body too long";
	}
	return "unknown status";
}
