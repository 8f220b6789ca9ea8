/* Fuzz net_config_parse: never crashes, records every bad line in order
 * (the first as its result), and what it accepts is well-formed:
 * names of [a-z0-9-], values without control bytes, bounded counts; the
 * entries re-serialised and parsed again give the same entries. Every value
 * also goes through the number parsers options use (opt/parse.h): what
 * they accept prints back as the same number, and a bound is a bound; the
 * same for the relay's rates (RATE:BURST) and budgets (BYTES/PERIOD). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt/parse.h"
#include "net/config.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checked in every build type (assert vanishes under NDEBUG). */
static void check_numbers(const char *v)
{
	uint64_t n, m;
	char buf[32];
	if (opt_parse_uint(v, 0, UINT64_MAX, &n) == 0) {
		snprintf(buf, sizeof buf, "%llu", (unsigned long long)n);
		CHECK(opt_parse_uint(buf, 0, UINT64_MAX, &m) == 0 && m == n);
		CHECK(opt_parse_uint(v, 0, n ? n - 1 : 0, &m) == (n ? -ERANGE : 0));
	}
	if (opt_parse_duration_ms(v, 0, UINT64_MAX, &n) == 0) {
		snprintf(buf, sizeof buf, "%llums", (unsigned long long)n);
		CHECK(opt_parse_duration_ms(buf, 0, UINT64_MAX, &m) == 0 && m == n);
	}
	if (opt_parse_size(v, 0, UINT64_MAX, &n) == 0) {
		snprintf(buf, sizeof buf, "%llu", (unsigned long long)n);
		CHECK(opt_parse_size(buf, 0, UINT64_MAX, &m) == 0 && m == n);
	}
	uint64_t b, c;
	char big[48];
	if (opt_parse_rate(v, 0, UINT64_MAX, &n, &b) == 0) {
		snprintf(big, sizeof big, "%llu/s:%llu", (unsigned long long)n, (unsigned long long)b);
		CHECK(opt_parse_rate(big, 0, UINT64_MAX, &m, &c) == 0 && m == n && c == b);
		/* One bound for both: a maximum under the larger of them is out
		 * of range (rate 0 with burst 1 is not a rate under 0). */
		uint64_t hi = n > b ? n : b;
		CHECK(opt_parse_rate(v, 0, hi ? hi - 1 : 0, &m, &c) == (hi ? -ERANGE : 0));
	}
	if (opt_parse_budget(v, 0, UINT64_MAX, &n, &b) == 0) {
		CHECK(b >= 1 && b <= 366ull * 86400);
		snprintf(big, sizeof big, "%llu/%llus", (unsigned long long)n, (unsigned long long)b);
		CHECK(opt_parse_budget(big, 0, UINT64_MAX, &m, &c) == 0 && m == n && c == b);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct net_config a, b;
	int r = net_config_parse(&a, (const char *)data, size);
	/* Every bad line is recorded, in order, the first one as the result. */
	CHECK((r == NET_CONFIG_OK) == (a.num_errors == 0));
	CHECK(a.num_errors <= NET_CONFIG_MAX_ERRORS);
	for (size_t i = 0; i < a.num_errors; i++) {
		CHECK(a.errors[i].status < 0);
		CHECK(i == 0 || a.errors[i].line > a.errors[i - 1].line);
	}
	if (r != NET_CONFIG_OK) {
		CHECK(a.errors[0].status == r && a.errors[0].line == a.err_line);
		return 0;
	}
	CHECK(a.num_entries <= NET_CONFIG_MAX_ENTRIES);
	size_t cap = a.num_entries * (NET_CONFIG_MAX_NAME + NET_CONFIG_MAX_VALUE + 8) + 1, len = 0;
	char *out = malloc(cap);
	for (size_t i = 0; i < a.num_entries; i++) {
		const struct net_config_entry *e = &a.entries[i];
		CHECK(e->name[0]);
		for (const char *p = e->name; *p; p++)
			CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-');
		for (const char *p = e->value; *p; p++)
			CHECK((unsigned char)*p >= 0x20 || *p == '\t');
		check_numbers(e->value);
		len += (size_t)(e->has_value ? snprintf(out + len, cap - len, "%s = \"%s\"\n", e->name, e->value)
					     : snprintf(out + len, cap - len, "%s\n", e->name));
	}
	/* A quoted value may not contain a quote: only re-check when none does. */
	if (!memchr(data, '"', size)) {
		CHECK(net_config_parse(&b, out, len) == NET_CONFIG_OK);
		CHECK(b.num_entries == a.num_entries);
		for (size_t i = 0; i < a.num_entries; i++) {
			CHECK(!strcmp(a.entries[i].name, b.entries[i].name));
			CHECK(!strcmp(a.entries[i].value, b.entries[i].value));
		}
	}
	free(out);
	return 0;
}
