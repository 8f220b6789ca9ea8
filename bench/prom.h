#ifndef BENCH_PROM_H
#define BENCH_PROM_H
/* bench/prom.h: a reader of the Prometheus text exposition format (0.0.4),
 * what a relay's GET /metrics answers, for `atmosphere-bench relay
 * --metrics` (bench/metrics.h).
 *
 * Design: a cursor over the body that yields one sample at a time, its
 * name, labels and value pointing into the input (nothing is copied or
 * allocated), in the style of picohttpparser. The grammar checked, line by
 * line ('\n' ends a line; a final line may lack it):
 *   empty line                              skipped
 *   "#" anything                            a comment, skipped, except
 *   "# TYPE" name type                      type one of counter gauge
 *                                           histogram summary untyped
 *   "# HELP" name [docstring]               the docstring is not read
 *   name ["{" label="value" {, ...} [,] "}"] value [timestamp]
 * where a metric name is [a-zA-Z_:][a-zA-Z0-9_:]*, a label name
 * [a-zA-Z_][a-zA-Z0-9_]*, a label value any bytes but a raw '"', '\\' or
 * newline, with the escapes \\ \" \n; the value a decimal float (digits,
 * one point, an exponent), NaN, +Inf, -Inf or Inf; the timestamp an integer
 * (ms, optional sign). Blanks (spaces and tabs) separate the tokens and may
 * follow the last; a '\r' before the '\n' is allowed. OpenMetrics' "# EOF"
 * reads as a comment; its exemplars ("# {...}" after a value) are refused
 * as a bad timestamp.
 *
 * Limits a scraped server can push on are named below; a body over
 * BENCH_PROM_BODY_MAX is refused before any parsing. Costs: one pass, no
 * allocation; a value is copied into a 64-byte buffer for strtod. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bench_prom_limits {
	BENCH_PROM_BODY_MAX = 4 << 20,      /* a body this long is no relay's metrics */
	BENCH_PROM_NAME_MAX = 256,          /* metric and label names */
	BENCH_PROM_LABELS_MAX = 16,         /* label pairs per sample */
	BENCH_PROM_VALUE_MAX = 63,          /* characters of a value or timestamp */
};

enum bench_prom_status {
	BENCH_PROM_OK = 0,
	BENCH_PROM_END = 1,          /* bench_prom_next: no sample left */
	BENCH_PROM_E_SYNTAX = -1,    /* not the format (a bad name, label, value, TYPE line) */
	BENCH_PROM_E_LIMIT = -2,     /* a name, value or label set over the limits above */
	BENCH_PROM_E_TOO_LONG = -3,  /* body over BENCH_PROM_BODY_MAX */
};

/* struct bench_prom_span: a span of the input, not NUL-terminated. */
struct bench_prom_span {
	const char *p;
	size_t len;
};

/* struct bench_prom_label: one label; value is the raw text between the
 * quotes, escapes kept (bench_prom_label_eq compares it unescaped). */
struct bench_prom_label {
	struct bench_prom_span name, value;
};

/* struct bench_prom_sample: one sample; its spans point into the body and
 * live as long as it. */
struct bench_prom_sample {
	struct bench_prom_span name;
	size_t num_labels;
	struct bench_prom_label labels[BENCH_PROM_LABELS_MAX];
	double value;                /* NaN and infinities as the text says */
	bool has_timestamp;
	int64_t timestamp_ms;
};

/* struct bench_prom_cursor: caller storage, set by bench_prom_init. */
struct bench_prom_cursor {
	const char *buf;
	size_t len, off;
	size_t line;                 /* 1-based line of the last sample or error */
	enum bench_prom_status status; /* sticky: after an error every next returns it */
};

/* struct bench_prom_error: where parsing stopped and why, for people. */
struct bench_prom_error {
	size_t line;                 /* 1-based */
	size_t off;                  /* byte offset into the body */
	char msg[96];
};

/* bench_prom_init points c at body[0..len) (borrowed; not NUL-terminated).
 * Returns BENCH_PROM_OK, or BENCH_PROM_E_TOO_LONG when len is over
 * BENCH_PROM_BODY_MAX (every next then returns it). */
enum bench_prom_status bench_prom_init(struct bench_prom_cursor *c, const char *body, size_t len);

/* bench_prom_next reads up to the next sample into *out. Returns
 * BENCH_PROM_OK with *out filled, BENCH_PROM_END when the body is over, or
 * a negative status with err (when not NULL) saying where and why; after a
 * negative status the cursor stays there. Only reads the body. */
enum bench_prom_status bench_prom_next(struct bench_prom_cursor *c, struct bench_prom_sample *out,
				       struct bench_prom_error *err);

/* bench_prom_span_eq says whether s holds exactly the NUL-terminated str. */
bool bench_prom_span_eq(struct bench_prom_span s, const char *str);

/* bench_prom_label_eq says whether sample s has label name with the value
 * val once unescaped (NUL-terminated strings both). */
bool bench_prom_label_eq(const struct bench_prom_sample *s, const char *name, const char *val);

/* bench_prom_strerror returns a short description of status. */
const char *bench_prom_strerror(enum bench_prom_status status);

#endif
