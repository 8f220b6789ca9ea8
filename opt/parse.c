/* The option and config number parsers: see opt/parse.h. */
#include "opt/parse.h"

#include <errno.h>
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
