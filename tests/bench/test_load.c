/* bench/load: the scaffold relay and stun modes share, on a real two-thread
 * runtime: the start barrier and timeline, the pacer's coverage of its
 * schedule (every message released once, in order, whatever the batch
 * limit or skips), the stop phase, and the per-worker sums. Nothing here
 * asserts on how long anything took. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>

#include "bench/load.h"

enum { T_WORKERS = 2 };

struct t_worker {
	uint64_t next;              /* the first message not released yet */
	bool in_order;
	unsigned calls;
	uint64_t paced;             /* what bench_load_pace returned */
	uint64_t end;               /* what it should have reached */
	_Atomic unsigned done;
	_Atomic uint64_t released;
};

struct t_run {
	struct bench_load load;
	struct t_worker w[T_WORKERS];
	uint64_t rate;              /* per worker */
	uint64_t batch;             /* release at most this many a call; 0: all due */
	uint64_t skip;              /* after each message, skip this many more */
	int stop_phase;
	bool all_arrived;
	int start_phase;            /* the phase to publish before pacing (0: RUN only) */
};

/* The run whose policy t_release_policy follows (one run at a time). */
static struct t_run *t_the_run;

static uint64_t t_release_policy(void *arg, uint64_t first, uint64_t due)
{
	struct t_worker *w = arg;
	struct t_run *r = t_the_run;
	w->calls++;
	if (first != w->next)
		w->in_order = false;
	uint64_t upto = r->batch && due - first > r->batch ? first + r->batch : due;
	uint64_t n = upto - first;
	if (r->skip)
		upto = first + 1 + r->skip; /* one released, skip more (maybe past due) */
	w->next = upto;
	atomic_fetch_add(&w->released, r->skip ? 1 : n);
	return upto;
}

static void t_worker_main(void *arg)
{
	struct t_run *r = arg;
	unsigned idx = core_reactor_index(core_self());
	struct t_worker *w = &r->w[idx];
	bench_load_arrive(&r->load);
	if (idx == 0) {
		r->all_arrived = bench_load_start(&r->load, 5, 10, 30);
		if (r->start_phase)
			bench_load_publish(&r->load, r->start_phase);
	} else {
		bench_load_wait(&r->load, BENCH_LOAD_RUN, 1);
	}
	struct bench_sched s = {.start_ns = r->load.t_run0, .rate = r->rate};
	w->end = bench_sched_due(&s, r->load.t_meas1 - 1);
	w->paced = bench_load_pace(&r->load, &s, r->stop_phase, t_release_policy, w);
	atomic_store(&w->done, 1);
	if (idx == 0) {
		for (unsigned i = 0; BENCH_LOAD_SUM(&r->load, r->w, done) < T_WORKERS && i < 100000u; i++)
			core_sleep(1);
		bench_load_publish(&r->load, BENCH_LOAD_DONE);
		core_rt_shutdown(r->load.rt);
	}
}

static void t_run(struct t_run *r)
{
	t_the_run = r;
	bench_load_setup(&r->load, T_WORKERS, 100);
	cr_assert_eq(r->load.num_workers, T_WORKERS);
	for (unsigned i = 0; i < T_WORKERS; i++)
		r->w[i].in_order = true;
	if (bench_load_runtime(&r->load, "test", (struct core_rt_opts){.shutdown_grace_ms = 500}))
		cr_skip_test("io_uring unavailable");
	cr_assert_eq(core_rt_run(r->load.rt, t_worker_main, r), 0);
	bench_load_cleanup(&r->load);
}

Test(bench_load, barrier_then_timeline_then_every_message_once_in_order, .timeout = 30)
{
	static struct t_run r;
	memset(&r, 0, sizeof r);
	r.rate = 200000;
	r.stop_phase = BENCH_LOAD_DONE;
	t_run(&r);
	cr_assert(r.all_arrived);
	cr_assert_eq(atomic_load(&r.load.arrived), T_WORKERS);
	cr_assert_eq(r.load.t_meas0 - r.load.t_run0, 10000000u);
	cr_assert_eq(r.load.t_meas1 - r.load.t_meas0, 30000000u);
	for (unsigned i = 0; i < T_WORKERS; i++) {
		const struct t_worker *w = &r.w[i];
		cr_assert_gt(w->end, 0);
		cr_assert_eq(w->paced, w->end, "worker %u: paced %llu of %llu", i, (unsigned long long)w->paced,
			     (unsigned long long)w->end);
		cr_assert_eq(atomic_load(&w->released), w->end, "worker %u", i);
		cr_assert(w->in_order, "worker %u: a release did not start where the last one ended", i);
	}
	cr_assert_eq(BENCH_LOAD_SUM64(&r.load, r.w, released), r.w[0].end + r.w[1].end);
}

Test(bench_load, a_batch_limit_is_called_again_until_all_are_out, .timeout = 30)
{
	static struct t_run r;
	memset(&r, 0, sizeof r);
	r.rate = 200000;
	r.batch = 7;
	r.stop_phase = BENCH_LOAD_DONE;
	t_run(&r);
	for (unsigned i = 0; i < T_WORKERS; i++) {
		const struct t_worker *w = &r.w[i];
		cr_assert_eq(atomic_load(&w->released), w->end, "worker %u", i);
		cr_assert(w->in_order);
		cr_assert_geq(w->calls, (w->end + 6) / 7, "worker %u: %u calls for %llu", i, w->calls,
			      (unsigned long long)w->end);
	}
}

Test(bench_load, a_release_may_skip_ahead, .timeout = 30)
{
	static struct t_run r;
	memset(&r, 0, sizeof r);
	r.rate = 200000;
	r.skip = 99; /* every hundredth message goes */
	r.stop_phase = BENCH_LOAD_DONE;
	t_run(&r);
	for (unsigned i = 0; i < T_WORKERS; i++) {
		const struct t_worker *w = &r.w[i];
		cr_assert_geq(w->paced, w->end);
		cr_assert_eq(atomic_load(&w->released), (w->end + 99) / 100, "worker %u", i);
		cr_assert(w->in_order);
	}
}

Test(bench_load, the_stop_phase_stops_the_pacer, .timeout = 30)
{
	static struct t_run r;
	memset(&r, 0, sizeof r);
	r.rate = 200000;
	r.stop_phase = BENCH_LOAD_CLOSE;
	r.start_phase = BENCH_LOAD_CLOSE; /* already there when worker 0 paces */
	t_run(&r);
	cr_assert_eq(r.w[0].paced, 0);
	cr_assert_eq(r.w[0].calls, 0);
}

Test(bench_load, setup_caps_and_defaults_the_workers)
{
	struct bench_load l;
	bench_load_setup(&l, 8, 3);
	cr_assert_eq(l.num_workers, 3);
	bench_load_setup(&l, 0, 100000);
	cr_assert_eq(l.num_workers, bench_load_cpus());
	bench_load_setup(&l, 0, 0);
	cr_assert_eq(l.num_workers, 1);
	cr_assert_null(l.rt);
	cr_assert_eq(bench_load_phase(&l), BENCH_LOAD_SETUP);
}
