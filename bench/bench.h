#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H
/* bench/bench.h: the `atmosphere-bench` command's subcommands.
 *
 * Each subcommand is one function int bench_cmd_<name>(int argc, char **argv)
 * in bench/bench_<name>.c, listed in the table in bench/main.c (which also
 * prints the help). argv[0] is the subcommand's name. Return the process exit
 * code: 0 success, 1 failure (a server failed, a measurement could not be
 * taken), 2 usage error. Every subcommand answers --help. */
#include <stdbool.h>
#include <stdint.h>

struct bench_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

int bench_cmd_core(int argc, char **argv);
int bench_cmd_relay(int argc, char **argv);
int bench_cmd_stun(int argc, char **argv);
int bench_cmd_punch(int argc, char **argv);

/* bench_usage_error prints "atmosphere-bench NAME: message" and a pointer to
 * --help to stderr and returns 2. */
int bench_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* bench_parse_uint parses a decimal in [min, max]; false (with a message to
 * stderr naming opt) when it is not one. */
bool bench_parse_uint(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* bench_parse_duration parses "3", "3s", "500ms", "2m" (opt/parse.h) into milliseconds
 * within [min_ms, max_ms]; false with a message when malformed or out of
 * range. A bare number is seconds. */
bool bench_parse_duration(const char *cmd, const char *opt, const char *s, uint64_t min_ms, uint64_t max_ms,
			  uint64_t *out_ms);

/* bench_parse_size parses bytes with an optional K/KiB or M/MiB suffix
 * (powers of 1024) within [min, max]; false with a message otherwise. */
bool bench_parse_size(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
