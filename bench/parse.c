/* bench/parse.c: option values and usage errors shared by every
 * atmosphere-bench subcommand (declared in bench/bench.h). Kept out of
 * main.c so the unit tests (tests/bench/) link the option parsers without
 * the command table. */
#include <stdarg.h>
#include <stdio.h>

#include "bench/bench.h"
#include "opt/parse.h"

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

/* The parsing itself is opt/parse.h's, shared with the atmosphere command;
 * the words of the errors are the bench's. */

bool bench_parse_uint(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (opt_parse_uint(s, min, max, out) == 0)
		return true;
	fprintf(stderr, "atmosphere-bench %s: %s '%s': expected a whole number from %llu to %llu\n", cmd, opt,
		s ? s : "", (unsigned long long)min, (unsigned long long)max);
	return false;
}

bool bench_parse_duration(const char *cmd, const char *opt, const char *s, uint64_t min_ms, uint64_t max_ms,
			  uint64_t *out_ms)
{
	if (opt_parse_duration_ms(s, min_ms, max_ms, out_ms) == 0)
		return true;
	fprintf(stderr, "atmosphere-bench %s: %s '%s': expected a duration from %llu ms to %llu s, such as 3, 3s or 500ms\n",
		cmd, opt, s ? s : "", (unsigned long long)min_ms, (unsigned long long)(max_ms / 1000));
	return false;
}

bool bench_parse_size(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (opt_parse_size(s, min, max, out) == 0)
		return true;
	fprintf(stderr, "atmosphere-bench %s: %s '%s': expected a size from %llu to %llu bytes, such as 16384 or 16K\n",
		cmd, opt, s ? s : "", (unsigned long long)min, (unsigned long long)max);
	return false;
}
