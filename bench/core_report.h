#ifndef BENCH_CORE_REPORT_H
#define BENCH_CORE_REPORT_H
/* bench/core_report.h: the results of one `atmosphere-bench core` run and
 * their two renderings, a human table and one JSON object (bench/run keeps
 * it), written with bench/report.h. The run (bench_core.c) fills struct
 * bench_core_result; nothing here measures. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/core_opts.h"
#include "bench/echo_rounds.h"
#include "bench/placement.h"
#include "bench/stats.h"
#include "bench/switch_cost.h"

struct bench_core_result {
	struct bench_placement place;
	double other_load, steal;    /* shares of the machine, over the whole run */
	struct bench_switch_result sw;
	struct bench_summary lat_ours, lat_base;
	struct bench_tput tp_ours, tp_base, tp_ceiling;
	uint32_t zc_size[BENCH_CORE_NUM_ZC_SIZES];   /* ascending */
	double zc_off[BENCH_CORE_NUM_ZC_SIZES], zc_on[BENCH_CORE_NUM_ZC_SIZES];
	uint32_t zc_ms;
	long crossover;          /* first size where ZC on >= off; -1: none */
};

/* bench_core_print_table writes the table to f. */
void bench_core_print_table(FILE *f, const struct bench_core_result *r, const struct bench_core_opts *o);

/* bench_core_json returns the JSON object (bench/report.h writes it); the
 * caller owns it. */
struct json_object *bench_core_json(const struct bench_core_result *r, const struct bench_core_opts *o);

#endif
