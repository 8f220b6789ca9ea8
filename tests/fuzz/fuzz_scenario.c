/* Fuzz bench_scenario_parse against the relay's option table: never
 * crashes; a refusal names a line that exists in the input ("line N: ",
 * N at most the number of lines); an acceptance yields "--name [value]"
 * arguments whose names are options of the table, flags without a value
 * and the others with one, and whose size and stage values parse again. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bench/relay_opts.h"
#include "bench/scenario.h"
#include "bench/stage.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct opt_spec *spec_of(const struct opt_table *t, const char *flag)
{
	for (size_t i = 0; i < t->num_specs; i++)
		if (!strcmp(t->specs[i].name, flag))
			return &t->specs[i];
	return NULL;
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
		CHECK(!strncmp(err, "line ", 5));
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
