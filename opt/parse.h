#ifndef OPT_PARSE_H
#define OPT_PARSE_H
/* opt/parse.h: the numbers people type into options and config files.
 *
 * One implementation for every command line (tools/, bench/) and config
 * value, so "30s", "16K" and "7d" mean the same everywhere. Each parser
 * takes a whole NUL-terminated string: digits first (no sign, no leading
 * space), then an optional unit suffix, nothing after it. They print
 * nothing; callers word the error for their own command.
 *
 * Returns 0 and writes *out, or -EINVAL (not a number of this kind, or NULL)
 * or -ERANGE (a number outside [min, max], or one that overflows). *out is
 * untouched on error. */
#include <stdint.h>

/* opt_parse_uint: a decimal such as "8" or "100000". */
int opt_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* opt_parse_duration_ms: "500ms", "30" or "30s" (seconds are the default
 * unit), "5m", "24h", "7d", into milliseconds. */
int opt_parse_duration_ms(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *out_ms);

/* opt_parse_size: bytes, "16384", or with a binary suffix "16K" (also "k",
 * "KiB"), "1M" ("MiB"), "2G" ("GiB"). */
int opt_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* opt_parse_rate: a bandwidth in bytes per second with an optional burst,
 * "RATE[/s][:BURST]": RATE and BURST are sizes as opt_parse_size reads them
 * (binary suffixes, "T"/"TiB" too), so "1M" and "1M/s" are 1048576 bytes a
 * second and "512K/s:4M" adds a burst of 4 MiB. Without a burst,
 * *out_burst is RATE (one second's worth). Both must lie in [min, max]. */
int opt_parse_rate(const char *s, uint64_t min, uint64_t max, uint64_t *out_rate, uint64_t *out_burst);

/* opt_parse_budget: a byte budget per period, "BYTES/PERIOD": BYTES a size
 * (as in opt_parse_rate) in [min, max], PERIOD "hour", "day", "week",
 * "month" (30 days) or a duration "90s", "12h", "30d" from 1s to 366d,
 * into seconds. "500G/month", "1T/30d", "100M/1h". */
int opt_parse_budget(const char *s, uint64_t min, uint64_t max, uint64_t *out_bytes, uint64_t *out_period_s);

#endif
