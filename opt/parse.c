/* The option and config number parsers: see opt/parse.h. */
#include "opt/parse.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Reads the leading digits of s into *v; *rest points after them. */
static int digits(const char *s, uint64_t *v, const char **rest)
{
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	uint64_t x = 0;
	int err = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (x > (UINT64_MAX - d) / 10)
			err = -ERANGE; /* keep walking: a bad suffix is still -EINVAL */
		else
			x = x * 10 + d;
	}
	*v = x;
	*rest = s;
	return err;
}

struct unit {
	const char *suffix;
	uint64_t mul;
};

static int with_units(const char *s, const struct unit *units, size_t n, uint64_t min, uint64_t max,
		      uint64_t *out)
{
	uint64_t v;
	const char *rest;
	int err = digits(s, &v, &rest);
	if (err == -EINVAL)
		return err;
	uint64_t mul = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rest, units[i].suffix)) {
			mul = units[i].mul;
			break;
		}
	if (!mul)
		return -EINVAL;
	if (err || v > UINT64_MAX / mul)
		return -ERANGE;
	v *= mul;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int opt_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	static const struct unit none[] = {{"", 1}};
	return with_units(s, none, 1, min, max, out);
}

int opt_parse_duration_ms(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *out_ms)
{
	static const struct unit units[] = {
		{"", 1000}, {"s", 1000}, {"ms", 1}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
	};
	return with_units(s, units, sizeof units / sizeof units[0], min_ms, max_ms, out_ms);
}

int opt_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	static const struct unit units[] = {
		{"", 1},
		{"K", 1024}, {"k", 1024}, {"KiB", 1024},
		{"M", 1024 * 1024}, {"MiB", 1024 * 1024},
		{"G", 1024ull * 1024 * 1024}, {"GiB", 1024ull * 1024 * 1024},
	};
	return with_units(s, units, sizeof units / sizeof units[0], min, max, out);
}

/* Sizes for bandwidths and budgets: opt_parse_size's suffixes and terabytes. */
static const struct unit big_sizes[] = {
	{"", 1},
	{"K", 1024}, {"k", 1024}, {"KiB", 1024},
	{"M", 1024 * 1024}, {"MiB", 1024 * 1024},
	{"G", 1024ull * 1024 * 1024}, {"GiB", 1024ull * 1024 * 1024},
	{"T", 1024ull * 1024 * 1024 * 1024}, {"TiB", 1024ull * 1024 * 1024 * 1024},
};

/* Copies s[0..len) into buf (cap bytes) as a string; false when too long. */
static bool part(char *buf, size_t cap, const char *s, size_t len)
{
	if (len >= cap)
		return false;
	memcpy(buf, s, len);
	buf[len] = 0;
	return true;
}

int opt_parse_rate(const char *s, uint64_t min, uint64_t max, uint64_t *out_rate, uint64_t *out_burst)
{
	char r[32], b[32];
	uint64_t rate, burst;
	if (!s)
		return -EINVAL;
	const char *colon = strchr(s, ':');
	size_t rl = colon ? (size_t)(colon - s) : strlen(s);
	/* "/s" after the rate is optional: the unit is always per second. */
	if (rl >= 2 && s[rl - 2] == '/' && s[rl - 1] == 's')
		rl -= 2;
	if (!part(r, sizeof r, s, rl))
		return -EINVAL;
	int err = with_units(r, big_sizes, sizeof big_sizes / sizeof big_sizes[0], min, max, &rate);
	if (err == -EINVAL)
		return err;
	if (colon) {
		if (!part(b, sizeof b, colon + 1, strlen(colon + 1)))
			return -EINVAL;
		int berr = with_units(b, big_sizes, sizeof big_sizes / sizeof big_sizes[0], min, max, &burst);
		if (berr)
			return berr == -EINVAL ? berr : err ? err : berr;
	}
	if (err)
		return err;
	*out_rate = rate;
	*out_burst = colon ? burst : rate;
	return 0;
}

int opt_parse_budget(const char *s, uint64_t min, uint64_t max, uint64_t *out_bytes, uint64_t *out_period_s)
{
	static const struct { const char *name; uint64_t s; } words[] = {
		{"hour", 3600}, {"day", 86400}, {"week", 7 * 86400}, {"month", 30 * 86400},
	};
	char n[32];
	uint64_t bytes, period_s = 0, ms;
	if (!s)
		return -EINVAL;
	const char *slash = strchr(s, '/');
	if (!slash || !part(n, sizeof n, s, (size_t)(slash - s)))
		return -EINVAL;
	const char *p = slash + 1;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (!strcmp(p, words[i].name))
			period_s = words[i].s;
	if (!period_s) {
		int perr = opt_parse_duration_ms(p, 1000, 366ull * 86400000, &ms);
		if (perr)
			return perr;
		if (ms % 1000)
			return -EINVAL; /* whole seconds */
		period_s = ms / 1000;
	}
	int err = with_units(n, big_sizes, sizeof big_sizes / sizeof big_sizes[0], min, max, &bytes);
	if (err)
		return err;
	*out_bytes = bytes;
	*out_period_s = period_s;
	return 0;
}
