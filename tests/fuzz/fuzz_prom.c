/* Fuzz target for bench/prom.h, the Prometheus text format reader (what
 * `atmosphere-bench relay --metrics` reads from a server it is pointed at),
 * and bench/metrics.h's figures on top of it.
 *
 * Input: the bytes of a /metrics body. Properties:
 *   - every status is OK, END or one of the negative ones, with a reason,
 *     a line that exists and an offset inside the input; an error sticks;
 *   - every span of a sample (name, label names and values) lies inside
 *     the input, names keep their grammar, no sample has more labels than
 *     the limit, and there are no more samples than lines;
 *   - a label found by name compares equal to its own unescaped value;
 *   - bench_metrics_from_text accepts exactly the bodies the cursor reads
 *     to END, and its sums are those of the samples.
 * Seeds: tests/fuzz/corpus/prom/; tests/bench/test_prom.c has the
 * malformed cases one by one. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/metrics.h"
#include "bench/prom.h"
#include "tests/fuzz/check.h"

static bool inside(struct bench_prom_span s, const uint8_t *data, size_t size)
{
	return (const uint8_t *)s.p >= data && (const uint8_t *)s.p + s.len <= data + size;
}

/* The label's value unescaped, NUL-terminated, into out (cap >= len + 1). */
static void unescape(struct bench_prom_span raw, char *out)
{
	size_t j = 0;
	for (size_t i = 0; i < raw.len; i++) {
		char ch = raw.p[i];
		if (ch == '\\' && i + 1 < raw.len) {
			ch = raw.p[++i];
			if (ch == 'n')
				ch = '\n';
		}
		out[j++] = ch;
	}
	out[j] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bench_prom_cursor c;
	struct bench_prom_sample s;
	struct bench_prom_error err;
	static const char *const fams[] = {"atmosphere_relay_sessions_total", "atmosphere_relay_messages_relayed_total",
					   "atmosphere_relay_bytes_relayed_total"};
	double sums[3] = {0};
	size_t lines = 1, samples = 0;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	enum bench_prom_status st = bench_prom_init(&c, (const char *)data, size);
	if (st == BENCH_PROM_OK)
		while ((st = bench_prom_next(&c, &s, &err)) == BENCH_PROM_OK) {
			samples++;
			CHECK(samples <= lines);
			CHECK(inside(s.name, data, size) && s.name.len > 0 && s.name.len <= BENCH_PROM_NAME_MAX);
			CHECK(s.name.p[0] < '0' || s.name.p[0] > '9');
			CHECK(s.num_labels <= BENCH_PROM_LABELS_MAX);
			for (size_t k = 0; k < s.num_labels; k++) {
				const struct bench_prom_label *l = &s.labels[k];
				CHECK(inside(l->name, data, size) && inside(l->value, data, size));
				CHECK(l->name.len > 0 && l->name.len <= BENCH_PROM_NAME_MAX);
				char name[BENCH_PROM_NAME_MAX + 1];
				memcpy(name, l->name.p, l->name.len);
				name[l->name.len] = '\0';
				char *val = malloc(l->value.len + 1);
				CHECK(val != NULL);
				unescape(l->value, val);
				/* A NUL inside the value ends the C string early: skip those. */
				if (!memchr(l->value.p, '\0', l->value.len))
					CHECK(bench_prom_label_eq(&s, name, val));
				free(val);
			}
			for (size_t f = 0; f < 3; f++)
				if (bench_prom_span_eq(s.name, fams[f]))
					sums[f] += s.value;
		}
	CHECK(st == BENCH_PROM_END || (st >= BENCH_PROM_E_TOO_LONG && st <= BENCH_PROM_E_SYNTAX));
	if (st < 0) {
		CHECK(err.off <= size && err.line <= lines);
		CHECK(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof err.msg) != NULL);
		CHECK(bench_prom_next(&c, &s, &err) == st);
	} else {
		CHECK(bench_prom_next(&c, &s, &err) == BENCH_PROM_END);
	}

	struct bench_metrics_snap m;
	enum bench_prom_status mst = bench_metrics_from_text((const char *)data, size, &m, &err);
	CHECK(mst == (st == BENCH_PROM_END ? BENCH_PROM_OK : st));
	if (mst == BENCH_PROM_OK) {
		static const enum bench_metrics_fig figs[] = {BENCH_MET_SESSIONS, BENCH_MET_MESSAGES, BENCH_MET_BYTES};
		for (size_t f = 0; f < 3; f++)
			CHECK((isnan(sums[f]) && isnan(m.v[figs[f]])) || sums[f] == m.v[figs[f]]);
	}
	return 0;
}
