/* bench/parse.c: option values and usage errors shared by every
 * atmosphere-bench subcommand (declared in bench/bench.h). Kept out of
 * main.c so the unit tests (tests/bench/) link the option parsers without
 * the command table. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

int bench_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "atmosphere-bench %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'atmosphere-bench %s --help'.\n", cmd);
	return 2;
}

/* Parses a leading unsigned decimal; *end points after it. */
static bool parse_digits(const char *s, unsigned long long *out, char **end)
{
	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, end, 10);
	return errno == 0;
}

bool bench_parse_uint(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;
	if (!parse_digits(s, &v, &end) || *end || v < min || v > max) {
		fprintf(stderr, "atmosphere-bench %s: %s '%s': expected a whole number from %llu to %llu\n", cmd, opt,
			s ? s : "", (unsigned long long)min, (unsigned long long)max);
		return false;
	}
	*out = v;
	return true;
}

bool bench_parse_duration(const char *cmd, const char *opt, const char *s, uint64_t min_ms, uint64_t max_ms,
			  uint64_t *out_ms)
{
	unsigned long long v, mul;
	char *end;
	if (!parse_digits(s, &v, &end))
		goto bad;
	if (!*end || !strcmp(end, "s"))
		mul = 1000;
	else if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "m"))
		mul = 60000;
	else
		goto bad;
	if (v > max_ms / mul || v * mul < min_ms)
		goto bad;
	*out_ms = v * mul;
	return true;
bad:
	fprintf(stderr, "atmosphere-bench %s: %s '%s': expected a duration from %llu ms to %llu s, such as 3, 3s or 500ms\n",
		cmd, opt, s ? s : "", (unsigned long long)min_ms, (unsigned long long)(max_ms / 1000));
	return false;
}

bool bench_parse_size(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v, mul;
	char *end;
	if (!parse_digits(s, &v, &end))
		goto bad;
	if (!*end)
		mul = 1;
	else if (!strcmp(end, "K") || !strcmp(end, "k") || !strcmp(end, "KiB"))
		mul = 1024;
	else if (!strcmp(end, "M") || !strcmp(end, "MiB"))
		mul = 1024 * 1024;
	else
		goto bad;
	if (v > max / mul || v * mul < min)
		goto bad;
	*out = v * mul;
	return true;
bad:
	fprintf(stderr, "atmosphere-bench %s: %s '%s': expected a size from %llu to %llu bytes, such as 16384 or 16K\n",
		cmd, opt, s ? s : "", (unsigned long long)min, (unsigned long long)max);
	return false;
}
