/* Fuzz bench_scenario_parse against the relay's option table: never
 * crashes; a refusal names a line that exists in the input ("line N: ",
 * N at most the number of lines), or, for a JSON file (its first non-blank
 * byte '{'), says "JSON: " with line 0; an acceptance yields "--name [value]"
 * arguments whose names are options of the table, flags without a value
 * and the others with one, and whose size, stage, rate-stage and think
 * values parse again and behave: draws within the distribution's bounds,
 * stage levels within the plan's, rate thinning sending at most one
 * message a slot with its credit below the grid, and think pauses that
 * never send a slot inside one. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bench/relay_opts.h"
#include "bench/scenario.h"
#include "bench/stage.h"
#include "bench/think.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct opt_spec *spec_of(const struct opt_table *t, const char *flag)
{
	for (size_t i = 0; i < t->num_specs; i++)
		if (!strcmp(t->specs[i].name, flag))
			return &t->specs[i];
	return NULL;
}

/* Rate thinning over 64 slots of a grid at the plan's peak (1 s apart, so
 * the walk crosses the stages): at most one message a slot, the credit
 * always below the grid, nothing sent while the level is 0. */
static void check_thin(const struct bench_stage_plan *p)
{
	uint32_t grid = bench_stage_peak(p);
	if (!grid)
		return;
	uint64_t credit = bench_stage_credit0(grid);
	for (uint64_t i = 0; i < 64; i++) {
		uint64_t t = i * 1000000000ull;
		bool sent = bench_stage_thin(p, 0, t, grid, &credit);
		CHECK(credit < grid);
		if (bench_stage_eval(p, 0, t).level == 0)
			CHECK(!sent);
	}
}

/* Think pauses over 64 slots 7 ms apart: the first slot goes, and a slot
 * is refused only while a pause drawn from the distribution lasts. */
static void check_think(const struct bench_size_dist *d)
{
	struct bench_think_state st;
	uint64_t last_go = 0, slot = 7000000u;
	uint64_t max_ns = (uint64_t)bench_size_dist_max(d) * 1000000u;
	bench_think_init(&st, 5, 3);
	CHECK(bench_think_take(d, &st, 0));
	for (uint64_t i = 1; i < 64; i++) {
		uint64_t t = i * slot;
		if (bench_think_take(d, &st, t))
			last_go = t;
		else
			CHECK(t < last_go + slot + max_ns);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bench_scenario sc;
	const struct opt_table *t = bench_relay_opts_table();
	char err[800];
	unsigned line = 12345, lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	int rc = bench_scenario_parse(&sc, t, bench_relay_opts_check, (const char *)data, size, &line, err, sizeof err);
	if (rc) {
		CHECK(rc == -1);
		CHECK(!strncmp(err, "line ", 5) || (!strncmp(err, "JSON: ", 6) && line == 0));
		CHECK(line <= lines);
		return 0;
	}
	CHECK(line == 0);
	CHECK(sc.argc >= 0 && sc.argc <= BENCH_SCENARIO_ARGS_MAX);
	for (int i = 0; i < sc.argc; i++) {
		const struct opt_spec *sp = spec_of(t, sc.argv[i]);
		CHECK(sp != NULL && sp->help != NULL);
		CHECK(strcmp(sp->name, "--scenario") != 0);
		if (sp->kind == OPT_FLAG)
			continue;
		CHECK(i + 1 < sc.argc);
		const char *v = sc.argv[++i];
		char why[200];
		struct bench_size_dist d;
		struct bench_stage_plan p;
		if (!strcmp(sp->name, "--size")) {
			CHECK(bench_size_dist_parse(v, 1, BENCH_RELAY_SIZE_MAX, &d, why, sizeof why) == 0);
			CHECK(bench_size_dist_min(&d) <= bench_size_dist_max(&d));
			uint64_t st = bench_size_rng_seed(1, 2);
			for (int k = 0; k < 4; k++) {
				uint32_t s = bench_size_dist_sample(&d, &st);
				CHECK(s >= bench_size_dist_min(&d) && s <= bench_size_dist_max(&d));
			}
		}
		if (!strcmp(sp->name, "--think")) {
			CHECK(bench_think_parse(v, &d, why, sizeof why) == 0);
			CHECK(bench_size_dist_max(&d) <= BENCH_THINK_MAX_MS);
			check_think(&d);
		}
		if (!strcmp(sp->name, "--rate-stage")) {
			CHECK(bench_stage_parse(v, BENCH_RELAY_RATE_MAX, &p, why, sizeof why) == 0);
			CHECK(bench_stage_peak(&p) <= BENCH_RELAY_RATE_MAX);
			check_thin(&p);
		}
		if (!strcmp(sp->name, "--stage")) {
			CHECK(bench_stage_parse(v, BENCH_RELAY_SESSIONS_MAX, &p, why, sizeof why) == 0);
			CHECK(p.num >= 1 && p.num <= BENCH_STAGE_MAX);
			uint64_t end = bench_stage_total_ns(&p);
			CHECK(bench_stage_eval(&p, 0, end).level == p.st[p.num - 1].target);
			CHECK(bench_stage_eval(&p, 0, end / 2).level <= bench_stage_peak(&p));
		}
	}
	return 0;
}
