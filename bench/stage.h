#ifndef BENCH_STAGE_H
#define BENCH_STAGE_H
/* bench/stage.h: k6-style stages -- "30s:1000,2m:5000,30s:0" -- and the
 * number of active sessions they ask for at each moment of a run.
 *
 * A plan is a list of (duration, target). Stage i starts where stage i - 1
 * ended, at the level stage i - 1 reached (the first starts at 0), and ramps
 * linearly to its target over its duration; a zero-length stage jumps. After
 * the last stage the last target holds. Stages shape how many sessions
 * *send* (latency mode): every session is set up before the run, and session
 * k (0-based) sends while the level is above k. The open-loop schedule is
 * left alone: a session's messages keep the send times its fixed-rate
 * schedule gives them (bench/sched.h), and a message is sent when its
 * session is active at that scheduled time and skipped otherwise, so a ramp
 * never delays a message and latency stays measured from the intended time.
 *
 * The arithmetic is integer ns with 128-bit intermediates, so the level at a
 * time is exact and the same on every thread; a level is rounded down
 * (session k becomes active once the ramp reaches k + 1, not before). Pure:
 * no I/O, no allocation. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bench_stage_limits {
	BENCH_STAGE_MAX = 32,                 /* stages in a plan */
};

/* Longest stage: a day, well within 64-bit ns. */
#define BENCH_STAGE_DURATION_MAX_MS (24ull * 3600 * 1000)

struct bench_stage {
	uint64_t duration_ns;
	uint32_t target;
};

/* struct bench_stage_plan: caller storage, filled by bench_stage_parse.
 * num 0: no stages (the caller's fixed level). */
struct bench_stage_plan {
	struct bench_stage st[BENCH_STAGE_MAX];
	size_t num;
};

/* bench_stage_parse reads "DUR:TARGET[,DUR:TARGET]..." (DUR as opt/parse.h
 * reads durations: "30s", "2m", "500ms", "0"; TARGET a decimal from 0 to
 * max_target) into *out. Returns 0, or -1 with the reason, quoting the bad
 * stage, in errbuf; *out is written only on success. */
int bench_stage_parse(const char *s, uint32_t max_target, struct bench_stage_plan *out, char *errbuf,
		      size_t errbuf_len);

/* bench_stage_total_ns returns the sum of the stages' durations. */
uint64_t bench_stage_total_ns(const struct bench_stage_plan *p);

/* bench_stage_peak returns the highest target of the plan (0 when empty). */
uint32_t bench_stage_peak(const struct bench_stage_plan *p);

/* struct bench_stage_at: where a plan is at one time. */
struct bench_stage_at {
	size_t stage;         /* 0-based index of the stage in progress; num - 1 after the last */
	uint32_t target;      /* that stage's target */
	uint32_t level;       /* active sessions now, rounded down */
};

/* bench_stage_eval returns where plan p, started at t0_ns, is at t_ns
 * (before t0: stage 0 at level 0). A time exactly at a stage's end belongs
 * to the next stage, at the level the ended one reached. p must hold at
 * least one stage. */
struct bench_stage_at bench_stage_eval(const struct bench_stage_plan *p, uint64_t t0_ns, uint64_t t_ns);

/* bench_stage_active says whether session k sends at t_ns: the level then
 * is above k. */
bool bench_stage_active(const struct bench_stage_plan *p, uint64_t t0_ns, uint64_t t_ns, uint32_t k);

/* --- rate stages (--rate-stage) --- */

/* A plan's targets may also be a per-session message rate: "30s:100,
 * 1m:1000,30s:0" ramps every session from 0 to 100 msgs/s over 30 s, then
 * to 1000 over a minute, then down to 0, by the same eval arithmetic. The
 * schedule stays open-loop by thinning, the way stages skip sessions: the
 * pacer keeps its fixed-rate schedule at grid_rate (--rate, at least the
 * plan's peak), and a session sends the slot scheduled at t when its
 * credit, raised by the rate level at t for each slot, reaches grid_rate
 * (and then pays grid_rate). At a steady level L a session thus sends L of
 * every grid_rate slots, evenly spread; a message that goes keeps its slot's
 * scheduled time, one that does not is skipped, never delayed. A message's
 * time is rounded to the grid (at most 1/grid_rate late against an ideal
 * ramp), and the pacer wakes at grid_rate even while the level is low.
 *
 * bench_stage_credit0 is where a session's credit starts (grid_rate - 1: it
 * sends at its first slot where the level is above 0). bench_stage_thin
 * says whether the slot at t_ns goes and advances *credit; a level above
 * grid_rate counts as grid_rate. Calls come in slot order. */
uint64_t bench_stage_credit0(uint32_t grid_rate);
bool bench_stage_thin(const struct bench_stage_plan *p, uint64_t t0_ns, uint64_t t_ns, uint32_t grid_rate,
		      uint64_t *credit);

#endif
