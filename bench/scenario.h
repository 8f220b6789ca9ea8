#ifndef BENCH_SCENARIO_H
#define BENCH_SCENARIO_H
/* bench/scenario.h: what a `relay` scenario is made of beyond one size and
 * one rate -- a message size distribution with its seeded sampler -- and
 * the scenario file (--scenario FILE) that sets options by their flag names.
 *
 * Sizes: "1400" (fixed), "64:50,1400:40,16K:10" (a list of SIZE:WEIGHT,
 * drawn with probability weight / sum of weights), "64-1400" (uniform over
 * the inclusive range). Sizes are read as opt/parse.h sizes ("16K"). The
 * sampler is a splitmix64 stream: a session seeds its own from --seed and
 * its index (bench_size_rng_seed), so the sizes a session sends do not
 * depend on how sessions are spread over threads or when they run.
 *
 * The scenario file is the net/config.h format, "name = value" and bare
 * flags, whose names are the command's option names without the dashes
 * (`sessions = 10`, `stage = 1s:4,2s:4,1s:0`). bench_scenario_parse checks
 * every line against the command's option table: unknown names, a flag
 * given a value or a value missing, numbers, durations and sizes out of the
 * option's range, a word not among its choices, and the size and stage
 * syntax, each reported with its line number. The settings become
 * "--name value" arguments put before the command line's own, which
 * therefore override them (as net/config.h says every command does).
 * A file whose first non-blank byte is '{' is JSON instead: one object
 * {"name": value, ...}, each value a string, a whole number >= 0, true (a
 * flag), or a list of those (the option once per element, in order); the
 * same checks, each reason starting "JSON: " (no line: *out_line is 0).
 * Cost: a parsed file is about 130 KiB (struct net_config), heap-held;
 * a JSON file also json-c's tree while it is checked. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/config.h"
#include "opt/table.h"

enum bench_size_limits {
	BENCH_SIZE_DIST_MAX = 16,          /* SIZE:WEIGHT entries */
	BENCH_SIZE_WEIGHT_MAX = 1000000,
};

enum bench_size_kind {
	BENCH_SIZE_FIXED,
	BENCH_SIZE_LIST,
	BENCH_SIZE_RANGE,
};

/* struct bench_size_dist: a parsed --size. Plain result, caller storage. */
struct bench_size_dist {
	enum bench_size_kind kind;
	size_t num;                                  /* LIST: entries; FIXED: 1; RANGE: 2 (lo, hi) */
	uint32_t size[BENCH_SIZE_DIST_MAX];          /* FIXED: size[0]; RANGE: size[0]..size[1] */
	uint32_t weight[BENCH_SIZE_DIST_MAX];        /* LIST only */
	uint64_t total_weight;
};

/* bench_size_dist_parse reads s into *out, each size within [min, max].
 * Returns 0, or -1 with the reason (quoting the bad part) in errbuf; *out is
 * written only on success. */
int bench_size_dist_parse(const char *s, uint32_t min, uint32_t max, struct bench_size_dist *out, char *errbuf,
			  size_t errbuf_len);

/* bench_ms_dist_parse reads a distribution of durations in the same
 * syntax ("2s", "500ms:50,2s:40,10s:10", "1s-3s"), each opt/parse.h
 * duration in whole ms within [min_ms, max_ms], into *out, whose "sizes"
 * are then milliseconds (--think, bench/think.h). Returns 0, or -1 with
 * the reason in errbuf; *out is written only on success. */
int bench_ms_dist_parse(const char *s, uint32_t min_ms, uint32_t max_ms, struct bench_size_dist *out, char *errbuf,
			size_t errbuf_len);

/* bench_size_dist_max and _min return the largest and smallest size d can
 * draw. */
uint32_t bench_size_dist_max(const struct bench_size_dist *d);
uint32_t bench_size_dist_min(const struct bench_size_dist *d);

/* bench_size_dist_mean returns the expected size (for reports). */
double bench_size_dist_mean(const struct bench_size_dist *d);

/* bench_size_rng_seed returns the starting state of stream k (a session) of
 * seed. bench_size_rng_next advances *state and returns 64 bits
 * (splitmix64). */
uint64_t bench_size_rng_seed(uint64_t seed, uint64_t k);
uint64_t bench_size_rng_next(uint64_t *state);

/* bench_size_dist_sample draws one size from d with the stream *state. A
 * FIXED distribution draws nothing (the stream is left alone). */
uint32_t bench_size_dist_sample(const struct bench_size_dist *d, uint64_t *state);

/* --- churn --- */

/* BENCH_CHURN_MAX_RATE: session replacements per second a run may ask for. */
#define BENCH_CHURN_MAX_RATE 10000u

/* bench_churn_parse reads "N/s" (or "N"), N from 1 to
 * BENCH_CHURN_MAX_RATE replacements per second. Returns 0, or -1 with the
 * reason in errbuf. */
int bench_churn_parse(const char *s, uint32_t *out_rate, char *errbuf, size_t errbuf_len);

/* The churn schedule: replacement i happens at start_ns + floor(i * 10^9 /
 * rate) (bench/sched.h's fixed-rate times) and retires busy session
 * i mod num_sessions, so every session is replaced in turn, evenly, and the
 * same on every run. bench_churn_time returns the time of replacement i;
 * bench_churn_victim the session it retires (num_sessions > 0). */
uint64_t bench_churn_time(uint64_t start_ns, uint32_t rate, uint64_t i);
uint32_t bench_churn_victim(uint64_t i, uint32_t num_sessions);

/* --- the scenario file --- */

enum bench_scenario_limits {
	BENCH_SCENARIO_ARGS_MAX = 2 * NET_CONFIG_MAX_ENTRIES,
};

/* struct bench_scenario: a parsed file. Opaque to nobody, but hold it by
 * pointer: it is large. argv[0..argc) are "--name" and value strings that
 * point into this struct and live as long as it does. */
struct bench_scenario {
	struct net_config cfg;
	char flag[NET_CONFIG_MAX_ENTRIES][NET_CONFIG_MAX_NAME + 3];
	char *argv[BENCH_SCENARIO_ARGS_MAX];
	int argc;
};

/* bench_scenario_check_fn checks the value of a custom option (OPT_CUSTOM
 * rows, whose own parse callbacks print): returns 0, or -1 with the reason
 * in errbuf. NULL, or 0 for names it does not know: checked when applied. */
typedef int (*bench_scenario_check_fn)(const char *name, const char *value, char *errbuf, size_t errbuf_len);

/* bench_scenario_parse parses text[0..len) against the options of table t
 * (names without "--"; "scenario" itself is refused: files do not nest),
 * custom values through check, into *out. Returns 0, or -1 with
 * "line N: reason" (the first bad line; line 0: the whole file) in errbuf,
 * and the line in *out_line. Pure: prints nothing. */
int bench_scenario_parse(struct bench_scenario *out, const struct opt_table *t, bench_scenario_check_fn check,
			 const char *text, size_t len, unsigned *out_line, char *errbuf, size_t errbuf_len);

/* bench_scenario_load reads path and parses it as bench_scenario_parse
 * does. Returns a scenario the caller frees with bench_scenario_free
 * (NULL does nothing), or NULL with "PATH: reason" or "PATH: line N:
 * reason" in errbuf. */
struct bench_scenario *bench_scenario_load(const char *path, const struct opt_table *t,
					   bench_scenario_check_fn check, char *errbuf, size_t errbuf_len);
void bench_scenario_free(struct bench_scenario *sc);

#endif
