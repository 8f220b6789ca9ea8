#ifndef BENCH_COORD_MERGE_H
#define BENCH_COORD_MERGE_H
/* bench/coord_merge.h: what `atmosphere-bench coord` adds up from its
 * workers -- interval rows, run summaries -- and the figures its
 * thresholds compare.
 *
 * Design: counts add (messages, bytes, errors, sessions); latency is never
 * averaged: the coordinator merges the workers' histograms (bench/hist.h,
 * bench_hdr_merge) and reads percentiles off the merge, which is bucket
 * for bucket the histogram of all their samples. Rates over the measured
 * time (msgs/s, MB/s) add as well, each worker's over its own window: the
 * windows are as long, and overlap as well as the start times do
 * (docs/BENCH.md, "Clock alignment").
 *
 * The parsers read the JSON a worker relayed from `relay` (json-c, bounded
 * by the wire's frame limit); a missing or mistyped field is refused with
 * its name. Nothing here does I/O. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/hist.h"
#include "bench/threshold.h"

/* The error kinds of an interval row's "errors" object (docs/BENCH.md,
 * "Interval lines"), in the order rows write them. */
enum { BENCH_COORD_ERR_KINDS = 11 };
extern const char *const bench_coord_err_kinds[BENCH_COORD_ERR_KINDS];

/* struct bench_coord_row: an interval row's figures (the fields of
 * docs/BENCH.md "Interval lines" the coordinator adds up). */
struct bench_coord_row {
	uint64_t idx;
	bool warmup;
	double t0_s, t1_s;
	uint64_t sessions_up, sessions;
	uint64_t msgs, bytes;
	uint64_t errors;
	uint64_t err_kind[BENCH_COORD_ERR_KINDS]; /* by kind; a kind a row lacks counts 0 */
	uint64_t samples;            /* latency samples the row's percentiles came from */
};

/* bench_coord_row_parse reads one interval JSON line s[0..len) into *out.
 * Returns 0, or -1 with the reason in errbuf. */
int bench_coord_row_parse(const char *s, size_t len, struct bench_coord_row *out, char *errbuf, size_t errbuf_len);

/* bench_coord_row_add adds r's counts into acc (sessions, msgs, bytes,
 * errors and each kind, samples); acc's interval widens to cover r's. */
void bench_coord_row_add(struct bench_coord_row *acc, const struct bench_coord_row *r);

/* struct bench_coord_summary: a run summary's figures (`relay --json`). */
struct bench_coord_summary {
	unsigned num;                /* summaries added up (bench_coord_summary_add) */
	bool latency;                /* mode latency: sent/received are set */
	uint64_t sessions;           /* --sessions */
	uint64_t sessions_up;
	uint64_t sent, received;     /* latency mode; 0 otherwise */
	uint64_t errors;             /* every error counter, left_open included */
	double measured_s;           /* the longest measured time */
	double msgs_per_s, mb_per_s; /* summed; NAN where not measured */
	double bench_cpu;            /* generator CPUs over the measured time, summed; NAN when unknown */
	uint64_t started_unix_ns;    /* "started_unix_ns": the run's CLOCK_REALTIME start; 0 when absent
				      * (optional; not added up) */
};

/* bench_coord_summary_parse reads a `relay --json` object s[0..len) into
 * *out. Returns 0, or -1 with the reason in errbuf. */
int bench_coord_summary_parse(const char *s, size_t len, struct bench_coord_summary *out, char *errbuf,
			      size_t errbuf_len);

/* bench_coord_summary_add adds s into acc: counts and rates add, the
 * measured time is the longest; a NAN rate makes the sum NAN. acc starts
 * zeroed (bench_coord_summary_init). */
void bench_coord_summary_init(struct bench_coord_summary *acc);
void bench_coord_summary_add(struct bench_coord_summary *acc, const struct bench_coord_summary *s);

/* bench_coord_threshold_input fills in from the merged summary and the
 * merged latency histogram (NULL outside latency mode), with the rules of
 * `relay --threshold` (docs/BENCH.md, "Thresholds"). */
void bench_coord_threshold_input(const struct bench_coord_summary *sum, const struct bench_hdr *hist,
				 struct bench_threshold_input *in);

#endif
