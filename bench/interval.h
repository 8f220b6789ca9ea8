#ifndef BENCH_INTERVAL_H
#define BENCH_INTERVAL_H
/* bench/interval.h: live results while a load run runs -- one row per
 * interval (every second by default): sessions up, messages and MB per
 * second, the interval's latency percentiles, errors by kind.
 *
 * Design. Each worker thread keeps its own interval histogram (recorded
 * into by its own coroutines, no lock) and its own cumulative counters. A
 * ticker coroutine per worker (bench_interval_ticker_main, spawned on that
 * worker's reactor) wakes at every interval boundary and submits: under
 * the aggregator's mutex it merges the worker's histogram into the
 * interval's slot, resets it, and adds the counters' growth since its last
 * submission. The submission that completes an interval (every worker
 * submitted it) writes the row. So the hot path pays one bench_hdr_record
 * per latency sample and nothing else; the lock is taken once per worker
 * per interval (a 264 KiB merge, some 50 us).
 *
 * Boundaries: from t_run0, every period through the warm-up, which ends
 * an interval at t_meas0 (rows say "warmup"), then every period from
 * t_meas0 to t_meas1 ("run"; the last one may be shorter). Every worker
 * computes the same boundaries (bench_interval_next_boundary). Rows stop
 * at t_meas1: the final summary covers the rest.
 *
 * Output: on a terminal, one compact line rewritten in place; otherwise
 * one plain line per interval (both to the FILE given, stderr in the
 * bench); and, when asked, one JSON object per line to another FILE
 * (fields: docs/BENCH.md, "Interval lines"). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/hist.h"
#include "bench/load.h"
#include "bench/stage.h"

enum bench_interval_limits {
	BENCH_INTERVAL_ERR_MAX = 16,     /* error kinds a mode may name */
	BENCH_INTERVAL_PENDING = 8,      /* intervals in flight: a worker this far behind forces a row out */
};

#define BENCH_INTERVAL_DEFAULT_MS 1000u
#define BENCH_INTERVAL_MIN_MS 100u
#define BENCH_INTERVAL_MAX_MS 3600000u

/* struct bench_interval_counts: a worker's counters. sessions (current:
 * up and not yet ended) and active (sessions sending now, under --stage)
 * are levels (summed over workers as they are); msgs, bytes and errors are
 * cumulative (a row shows their growth over the interval). */
struct bench_interval_counts {
	uint64_t sessions;
	uint64_t active;
	uint64_t msgs, bytes;
	uint64_t errors[BENCH_INTERVAL_ERR_MAX];
};

/* struct bench_interval_row: one interval, all workers. */
struct bench_interval_row {
	uint64_t idx;
	bool warmup;
	double t0_s, t1_s;                /* since t_run0 */
	unsigned workers;                 /* that submitted it (all, unless forced out) */
	struct bench_interval_counts d;   /* sessions: the level; the rest: growth */
	const struct bench_hdr *lat;      /* NULL when the mode has no latency */
	struct bench_stage_at stage;      /* with stages: where the plan is at t1 */
	struct bench_stage_at rate_stage; /* with rate stages: where that plan is at t1 (level: msgs/s per session) */
	uint64_t t1_ns;                   /* t1 since t_run0, exact */
};

struct bench_interval_opts {
	const char *cmd;                  /* "relay": lines start "atmosphere-bench relay: " */
	unsigned num_workers;
	uint64_t period_ns;
	bool latency;                     /* rows carry latency percentiles */
	unsigned sessions_total;          /* "up N/M" */
	const char *const *err_names;     /* num_err names, in the counters' order */
	unsigned num_err;
	FILE *live;                       /* human lines; NULL: none */
	bool tty;                         /* live is a terminal: one line rewritten in place */
	FILE *json;                       /* JSON lines; NULL: none */
	bool json_hist;                   /* after each JSON line, the row's latency histogram line (bench/hist.h) */
	const struct bench_stage_plan *stages; /* NULL or empty: no stages; borrowed, started at t_run0 */
	const struct bench_stage_plan *rate_stages; /* the same for --rate-stage */
};

struct bench_interval;

/* bench_interval_new returns an aggregator for o (copied; the FILEs and
 * names are borrowed and must outlive it), or NULL with *err -ENOMEM, or
 * -EINVAL when num_err is over BENCH_INTERVAL_ERR_MAX or period_ns 0. */
struct bench_interval *bench_interval_new(const struct bench_interval_opts *o, int *err);

/* bench_interval_free frees iv (NULL does nothing). Call bench_interval_finish first. */
void bench_interval_free(struct bench_interval *iv);

/* bench_interval_hist returns the histogram worker records its latency
 * samples into (bench_hdr_record, from that worker's thread only); NULL
 * when the rows carry no latency. */
struct bench_hdr *bench_interval_hist(struct bench_interval *iv, unsigned worker);

/* bench_interval_submit (from worker's thread) closes interval idx, from
 * t0_ns to t1_ns after t_run0, for worker: merges its histogram into the
 * row and empties it, and adds the growth of cum since its last
 * submission. The submission that completes a row writes it, and any
 * earlier rows. Intervals are submitted in order by each worker. */
void bench_interval_submit(struct bench_interval *iv, unsigned worker, uint64_t idx, bool warmup, uint64_t t0_ns,
			   uint64_t t1_ns, const struct bench_interval_counts *cum);

/* bench_interval_finish writes the rows still pending (some worker never
 * submitted them: a run that ended early) and ends the terminal line. Call
 * once the workers stopped. */
void bench_interval_finish(struct bench_interval *iv);

/* bench_interval_rows returns how many rows were written. */
uint64_t bench_interval_rows(const struct bench_interval *iv);

/* bench_interval_write_json and _write_line write row r as one JSON line
 * or one plain line (without the terminal's "\r"). */
void bench_interval_write_json(const struct bench_interval *iv, FILE *f, const struct bench_interval_row *r);
void bench_interval_write_line(const struct bench_interval *iv, FILE *f, const struct bench_interval_row *r);

/* bench_interval_next_boundary returns the end of the interval that starts
 * at t (absolute ns) on the timeline of l, for period_ns; l->t_meas1 when
 * t is at or after it. */
uint64_t bench_interval_next_boundary(const struct bench_load *l, uint64_t period_ns, uint64_t t);

/* --- the ticker --- */

/* bench_interval_snap_fn fills out with the calling worker's cumulative
 * counters; called on that worker's thread. */
typedef void (*bench_interval_snap_fn)(void *arg, struct bench_interval_counts *out);

/* struct bench_interval_ticker: one per worker, caller storage that
 * outlives the coroutine. */
struct bench_interval_ticker {
	struct bench_interval *iv;
	const struct bench_load *load;
	unsigned worker;
	int stop_phase;                   /* end early when the phase reaches it */
	bench_interval_snap_fn snap;
	void *arg;
};

/* bench_interval_ticker_main is a coroutine body (core_spawn it on the
 * worker's reactor with a struct bench_interval_ticker *): waits for RUN,
 * then submits each interval at its boundary until t_meas1 or stop_phase.
 * Suspends; every wait is bounded by the run's timeline. */
void bench_interval_ticker_main(void *arg);

#endif
