/* bench/stage: k6-style stage plans -- parsing, the level at times inside
 * ramps and at their boundaries, zero-length stages, and which scheduled
 * sends of a fixed-rate schedule go out through a ramp. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <string.h>

#include "bench/sched.h"
#include "bench/stage.h"

#define MS 1000000ull
#define S 1000000000ull

static struct bench_stage_plan plan(const char *s)
{
	struct bench_stage_plan p;
	char err[200];
	cr_assert_eq(bench_stage_parse(s, 100000, &p, err, sizeof err), 0, "'%s': %s", s, err);
	return p;
}

Test(bench_stage, parses_durations_and_targets)
{
	struct bench_stage_plan p = plan("30s:1000,2m:5000,500ms:0");
	cr_assert_eq(p.num, 3);
	cr_assert_eq(p.st[0].duration_ns, 30 * S);
	cr_assert_eq(p.st[0].target, 1000);
	cr_assert_eq(p.st[1].duration_ns, 120 * S);
	cr_assert_eq(p.st[1].target, 5000);
	cr_assert_eq(p.st[2].duration_ns, 500 * MS);
	cr_assert_eq(p.st[2].target, 0);
	cr_assert_eq(bench_stage_total_ns(&p), 150 * S + 500 * MS);
	cr_assert_eq(bench_stage_peak(&p), 5000);
}

/* Strings inline: Criterion hands parameters to the test process by value. */
struct bad_case {
	char s[400];
	char why[64];        /* a part of the reason */
};

static const struct bad_case bad[] = {
	{"", "expected DURATION:TARGET"},
	{"30s", "stage 1 '30s': expected DURATION:TARGET"},
	{"30s:", "stage 1: target ''"},
	{":5", "stage 1: duration ''"},
	{"30s:5,", "stage 2 is empty"},
	{",30s:5", "stage 1 is empty"},
	{"30s:5,,1s:0", "stage 2 is empty"},
	{"30x:5", "duration '30x'"},
	{"1s:-1", "target '-1'"},
	{"1s:100001", "target '100001': expected 0 to 100000"},
	{"25h:1", "duration '25h'"},
	{"1s:1:2", "target '1:2'"},
	{"1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,"
	 "1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1,1s:1", "more than 32 stages"},
};

ParameterizedTestParameters(bench_stage, refuses_malformed_plans)
{
	return cr_make_param_array(struct bad_case, bad, sizeof bad / sizeof bad[0]);
}

ParameterizedTest(const struct bad_case *c, bench_stage, refuses_malformed_plans)
{
	struct bench_stage_plan p = {.num = 7};
	char err[200] = "";
	cr_assert_eq(bench_stage_parse(c->s, 100000, &p, err, sizeof err), -1, "'%s' was accepted", c->s);
	cr_assert(strstr(err, c->why), "'%s': reason '%s' lacks '%s'", c->s, err, c->why);
	cr_assert_eq(p.num, 7, "'%s': the plan was written on failure", c->s);
}

struct at_case {
	uint64_t t_ms;       /* after t0 */
	size_t stage;
	uint32_t target, level;
};

/* 10s up to 100, 10s held, 0s jump to 40, 5s down to 0. */
static const struct at_case ats[] = {
	{0, 0, 100, 0},
	{99, 0, 100, 0},          /* 0.99 rounds down */
	{100, 0, 100, 1},         /* session 0 starts when the ramp reaches 1 */
	{5000, 0, 100, 50},
	{9999, 0, 100, 99},
	{10000, 1, 100, 100},     /* a stage's end belongs to the next one */
	{15000, 1, 100, 100},
	{20000, 3, 0, 40},        /* the zero-length stage jumped to 40; the ramp down starts there */
	{20001, 3, 0, 39},        /* falling: rounded down, so a session stops as soon as it is above the level */
	{22500, 3, 0, 20},
	{25000, 3, 0, 0},         /* after the last stage its target holds */
	{99000, 3, 0, 0},
};

ParameterizedTestParameters(bench_stage, level_inside_ramps_and_at_boundaries)
{
	return cr_make_param_array(struct at_case, ats, sizeof ats / sizeof ats[0]);
}

ParameterizedTest(const struct at_case *c, bench_stage, level_inside_ramps_and_at_boundaries)
{
	struct bench_stage_plan p = plan("10s:100,10s:100,0s:40,5s:0");
	uint64_t t0 = 12345 * MS;
	struct bench_stage_at at = bench_stage_eval(&p, t0, t0 + c->t_ms * MS);
	cr_assert_eq(at.stage, c->stage, "t %llu ms: stage %zu", (unsigned long long)c->t_ms, at.stage);
	cr_assert_eq(at.target, c->target, "t %llu ms: target %u", (unsigned long long)c->t_ms, at.target);
	cr_assert_eq(at.level, c->level, "t %llu ms: level %u", (unsigned long long)c->t_ms, at.level);
}

Test(bench_stage, before_the_start_nothing_is_active)
{
	struct bench_stage_plan p = plan("0s:5");
	struct bench_stage_at at = bench_stage_eval(&p, 1000, 999);
	cr_assert_eq(at.level, 0);
	cr_assert_eq(at.stage, 0);
	cr_assert_eq(bench_stage_eval(&p, 1000, 1000).level, 5, "a zero-length first stage jumps at once");
	cr_assert_not(bench_stage_active(&p, 1000, 999, 0));
	cr_assert(bench_stage_active(&p, 1000, 1000, 4));
	cr_assert_not(bench_stage_active(&p, 1000, 1000, 5));
}

Test(bench_stage, only_zero_length_stages)
{
	struct bench_stage_plan p = plan("0s:3,0s:7,0s:2");
	struct bench_stage_at at = bench_stage_eval(&p, 0, 0);
	cr_assert_eq(at.stage, 2);
	cr_assert_eq(at.level, 2, "the last of several jumps at one instant wins");
}

Test(bench_stage, level_is_monotonic_inside_each_ramp)
{
	struct bench_stage_plan p = plan("3s:7,2s:7,4s:1");
	uint32_t prev = 0;
	for (uint64_t t = 0; t < 5 * S; t += 7 * MS) {
		uint32_t l = bench_stage_eval(&p, 0, t).level;
		cr_assert_geq(l, prev, "rising: t %llu", (unsigned long long)t);
		prev = l;
	}
	for (uint64_t t = 5 * S; t < 10 * S; t += 7 * MS) {
		uint32_t l = bench_stage_eval(&p, 0, t).level;
		cr_assert_leq(l, prev, "falling: t %llu", (unsigned long long)t);
		prev = l;
	}
	cr_assert_eq(prev, 1);
}

/* The open-loop schedule through a ramp: a thread's schedule of n sessions
 * at rate r each puts message m of session k at start + (m n + k) / (n r),
 * whether or not the session is active; a message goes when its session is
 * active at that scheduled time. So the sends of session k are exactly the
 * schedule's times from the moment the ramp reaches k + 1: none delayed,
 * none invented, the gaps still 1/r. */
Test(bench_stage, open_loop_send_times_through_a_ramp)
{
	struct bench_stage_plan p = plan("1s:4,1s:4,1s:0");
	const unsigned n = 4, rate = 100;
	struct bench_sched sch = {.start_ns = 1000 * MS, .rate = (uint64_t)n * rate};
	uint64_t first[4] = {0}, last[4] = {0}, count[4] = {0};
	for (uint64_t j = 0; j < 3ull * n * rate + n; j++) {
		unsigned k = (unsigned)(j % n);
		uint64_t t = bench_sched_time(&sch, j);
		if (!bench_stage_active(&p, sch.start_ns, t, k))
			continue;
		if (count[k]) {
			cr_assert_eq(t - last[k], 10 * MS, "session %u: sends 10 ms apart, got %llu ns", k,
				     (unsigned long long)(t - last[k]));
		} else {
			first[k] = t;
		}
		last[k] = t;
		count[k]++;
	}
	for (unsigned k = 0; k < n; k++) {
		/* The ramp reaches k + 1 at (k + 1) / 4 s; the first send is the
		 * first scheduled time of session k at or after it. */
		uint64_t on = sch.start_ns + (k + 1) * 250 * MS;
		cr_assert_geq(first[k], on, "session %u started early", k);
		cr_assert_lt(first[k] - on, 10 * MS, "session %u started late", k);
		/* Falling from 4 to 0 over the third second, rounded down: the
		 * level is above k up to and including (3 - k) / 4 s into it. */
		uint64_t off = sch.start_ns + 2 * S + (3 - k) * 250 * MS;
		cr_assert_leq(last[k], off, "session %u sent after its stop", k);
		cr_assert_lt(off - last[k], 10 * MS, "session %u stopped early", k);
	}
	cr_assert_gt(count[3], 0);
	cr_assert_gt(count[0], count[3], "session 0 is active longest");
}

/* --- rate stages: thinning a fixed-rate grid --- */

/* Walks num_slots slots of one session at grid msgs/s from t0 and counts
 * the ones bench_stage_thin lets through per second into bins[] (slot
 * indices in sent[] when given). */
static uint64_t thin_walk(const struct bench_stage_plan *p, uint32_t grid, uint64_t num_slots, uint64_t *bins,
			  size_t num_bins, uint64_t *sent, size_t sent_max)
{
	struct bench_sched sch = {.start_ns = 3 * S, .rate = grid};
	uint64_t credit = bench_stage_credit0(grid), m = 0;
	for (uint64_t i = 0; i < num_slots; i++) {
		uint64_t t = bench_sched_time(&sch, i);
		if (!bench_stage_thin(p, sch.start_ns, t, grid, &credit))
			continue;
		cr_assert_lt(credit, grid, "credit %llu reached the grid", (unsigned long long)credit);
		uint64_t sec = (t - sch.start_ns) / S;
		if (bins && sec < num_bins)
			bins[sec]++;
		if (sent && m < sent_max)
			sent[m] = i;
		m++;
	}
	return m;
}

/* A steady 250 of a 1000/s grid: exactly every 4th slot, from the first. */
Test(bench_stage, rate_thinning_keeps_a_steady_level_evenly)
{
	static uint64_t sent[3000];
	struct bench_stage_plan p = plan("0:250");
	uint64_t m = thin_walk(&p, 1000, 10000, NULL, 0, sent, 3000);
	cr_assert_eq(m, 2500);
	for (size_t i = 0; i < m; i++)
		cr_assert_eq(sent[i], 4 * i, "message %zu in slot %llu", i, (unsigned long long)sent[i]);
}

/* 0 -> 1000/s over 4 s, held 2 s, down to 0 over 4 s, on a 1000/s grid:
 * each second sends the mean of the line over it (within 2), the bins rise
 * then fall, and the total is the area, 6000. */
Test(bench_stage, rate_thinning_follows_a_ramp)
{
	uint64_t bins[11] = {0};
	struct bench_stage_plan p = plan("4s:1000,2s:1000,4s:0");
	uint64_t m = thin_walk(&p, 1000, 11000, bins, 11, NULL, 0);
	const uint64_t want[11] = {125, 375, 625, 875, 1000, 1000, 875, 625, 375, 125, 0};
	for (size_t i = 0; i < 11; i++)
		cr_assert(bins[i] + 2 >= want[i] && bins[i] <= want[i] + 2, "second %zu: %llu msgs, want %llu", i,
			  (unsigned long long)bins[i], (unsigned long long)want[i]);
	cr_assert(m >= 5995 && m <= 6005, "%llu messages, want 6000", (unsigned long long)m);
}

/* Level 0 sends nothing; the first slot where the level is above 0 sends;
 * a level above the grid sends every slot, no more. */
Test(bench_stage, rate_thinning_edges)
{
	struct bench_stage_plan zero = plan("0:0"), one = plan("10s:10"), over = plan("0:5000");
	cr_assert_eq(thin_walk(&zero, 100, 1000, NULL, 0, NULL, 0), 0);
	uint64_t first[1];
	cr_assert(thin_walk(&one, 100, 1000, NULL, 0, first, 1) >= 1);
	/* level 1 from 1 s (10 per 10 s): slot 100 is at 1 s */
	cr_assert_eq(first[0], 100, "first message in slot %llu, want 100", (unsigned long long)first[0]);
	cr_assert_eq(thin_walk(&over, 100, 1000, NULL, 0, NULL, 0), 1000);
}
