#ifndef BENCH_LOAD_H
#define BENCH_LOAD_H
/* bench/load.h: the load-generation scaffold `atmosphere-bench relay` and
 * `atmosphere-bench stun` share: workers, phases, pacing, merging.
 *
 * Workers: a load run is one io_uring runtime (core/reactor.h) with one
 * worker per reactor thread, by default one per allowed CPU; each thread
 * runs the mode's worker function as its first coroutine, and keeps its own
 * counters (one writer each, so no locked instruction on the hot path).
 * Workers are not pinned: the reactor threads float over the allowed CPUs,
 * as the documented figures were taken (taskset the whole process to place
 * it).
 *
 * Phases: one atomic that a coordinator coroutine on reactor 0 publishes
 * (release) and everyone else follows (acquire):
 *   SETUP  workers open their sockets or sessions, then check in
 *          (bench_load_arrive); bench_load_start waits for all of them (the
 *          start barrier, bounded) and fixes the timeline
 *   RUN    from t_run0, BENCH_LOAD_START_DELAY_MS after the barrier so every
 *          thread sees the timeline before it begins; the warm-up runs to
 *          t_meas0, the measured window is [t_meas0, t_meas1)
 *   DRAIN  after the window: what is in flight may still arrive (bounded by
 *          the mode)
 *   CLOSE  connections close (relay)
 *   DONE   the runtime shuts down.
 * A mode may skip a phase (stun goes from DRAIN to DONE).
 *
 * Pacing: bench_load_pace releases messages on a fixed-rate schedule
 * (bench/sched.h) from t_run0, for everything scheduled before t_meas1.
 * Timers have millisecond resolution, so it sleeps until shortly before
 * the next message is due and spins (core_yield) for the last
 * BENCH_LOAD_SPIN_NS: the generator's CPU is the price of sending on time,
 * and the reports show it.
 *
 * Merging: per-worker counters are summed with bench_load_sum_u and
 * _sum_u64 (relaxed loads: exact once the workers stopped, a progress
 * figure while they run).
 *
 * Every wait here is bounded by a count or a deadline. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/sched.h"
#include "core/reactor.h"

enum bench_load_phase {
	BENCH_LOAD_SETUP,
	BENCH_LOAD_RUN,
	BENCH_LOAD_DRAIN,
	BENCH_LOAD_CLOSE,
	BENCH_LOAD_DONE,
};

enum bench_load_limits {
	BENCH_LOAD_START_DELAY_MS = 20,      /* RUN begins this long after it is announced */
	BENCH_LOAD_BARRIER_MS = 10000,       /* bench_load_start waits this long for every worker */
	BENCH_LOAD_SPIN_NS = 1500000,        /* pacer: closer than this to the next message, spin */
};

/* struct bench_load: one run's shared state. Caller storage, set up by
 * bench_load_setup and bench_load_runtime. The t_* times are
 * CLOCK_MONOTONIC ns, written by the coordinator before it publishes RUN
 * and read-only after. */
struct bench_load {
	struct core_rt *rt;
	unsigned num_workers;
	_Atomic int phase;
	atomic_uint arrived;
	uint64_t t_run0, t_meas0, t_meas1;
};

/* bench_load_cpus returns how many CPUs this process may run on (at least
 * 1). */
unsigned bench_load_cpus(void);

/* bench_load_setup empties l and gives it workers reactor threads (0: one
 * per allowed CPU), never more than max_workers (sessions, sockets: the
 * work to share), at least one. The mode then sizes its per-worker state. */
void bench_load_setup(struct bench_load *l, unsigned workers, unsigned max_workers);

/* bench_load_runtime creates the runtime from ro with l->num_workers
 * threads (ro's num_threads is ignored). Returns 0, or -1 after printing
 * "atmosphere-bench CMD: cannot start the io_uring runtime: REASON" (the
 * cause and the fix). */
int bench_load_runtime(struct bench_load *l, const char *cmd, struct core_rt_opts ro);

/* bench_load_cleanup frees the runtime (not running; NULL is fine). */
void bench_load_cleanup(struct bench_load *l);

/* bench_load_phase returns the phase now (acquire); bench_load_publish
 * moves to phase (release): what was written before is visible to whoever
 * sees the new phase. */
int bench_load_phase(const struct bench_load *l);
void bench_load_publish(struct bench_load *l, int phase);

/* bench_load_wait suspends the calling coroutine until the phase reaches
 * phase, looking every poll_ms; bounded (the coordinator moves on within
 * its own deadlines). */
void bench_load_wait(const struct bench_load *l, int phase, unsigned poll_ms);

/* bench_load_arrive checks the calling worker in at the start barrier. */
void bench_load_arrive(struct bench_load *l);

/* bench_load_start (the coordinator) waits until every worker arrived or
 * BENCH_LOAD_BARRIER_MS passed, fixes the timeline -- t_run0 = now +
 * delay_ms, then warmup_ms, then the window of duration_ms -- and publishes
 * RUN. Returns false when a worker never arrived (the run goes on). May
 * suspend. */
bool bench_load_start(struct bench_load *l, unsigned delay_ms, uint64_t warmup_ms, uint64_t duration_ms);

/* bench_load_in_window says whether t (a send or schedule time) is in the
 * measured window. */
static inline bool bench_load_in_window(const struct bench_load *l, uint64_t t)
{
	return t >= l->t_meas0 && t < l->t_meas1;
}

/* bench_load_sleep_until suspends until CLOCK_MONOTONIC reaches t,
 * calling tick(arg) about once a second on the way when tick is not NULL
 * (progress). */
void bench_load_sleep_until(uint64_t t, void (*tick)(void *arg), void *arg);

/* bench_load_release_fn releases the messages first .. due - 1 of a
 * schedule, or some of them, and returns the index of the first one not
 * released: >= first; below due to come back at once, after a yield (a
 * batch limit); above due to skip ahead (messages that are not to go). */
typedef uint64_t (*bench_load_release_fn)(void *arg, uint64_t first, uint64_t due);

/* bench_load_pace runs the schedule s on the calling coroutine: messages
 * 0 .. those scheduled before l->t_meas1, each released once due, until
 * all are or the phase reaches stop_phase. Returns how many it released
 * (or skipped). May suspend. */
uint64_t bench_load_pace(const struct bench_load *l, const struct bench_sched *s, int stop_phase,
			 bench_load_release_fn release, void *arg);

/* bench_load_sum_u and _sum_u64 sum the _Atomic unsigned (uint64_t) field at
 * offset off of num structs of stride bytes from base (relaxed loads).
 * BENCH_LOAD_SUM(l, workers, field) and BENCH_LOAD_SUM64 name it for an
 * array of worker structs. */
unsigned bench_load_sum_u(const void *base, unsigned num, size_t stride, size_t off);
uint64_t bench_load_sum_u64(const void *base, unsigned num, size_t stride, size_t off);
#define BENCH_LOAD_SUM(l, w, field) \
	bench_load_sum_u((w), (l)->num_workers, sizeof *(w), offsetof(__typeof__(*(w)), field))
#define BENCH_LOAD_SUM64(l, w, field) \
	bench_load_sum_u64((w), (l)->num_workers, sizeof *(w), offsetof(__typeof__(*(w)), field))

#endif
