#ifndef BENCH_COORD_REPORT_H
#define BENCH_COORD_REPORT_H
/* bench/coord_report.h: the summary `atmosphere-bench coord` prints at the
 * end of a distributed run -- a line per host, then the merged figures and
 * the coordinator's own CPU cost -- as a table or as one JSON object
 * (docs/BENCH.md, "Several generator hosts"). Writes only; the figures come
 * from bench/coord_merge.h. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/coord_merge.h"
#include "bench/hist.h"

/* struct bench_coord_host_report: one host's line; pointers borrowed. */
struct bench_coord_host_report {
	const char *name;            /* as given to --host */
	bool ok;
	const char *why;             /* when not ok: the reason */
	struct bench_coord_summary sum;   /* zero when the host sent none */
	const struct bench_hdr *hist;     /* its measured window; NULL when none */
	uint64_t cpu_ns;             /* the worker's and its run's CPU time */
	uint64_t intervals;          /* rows merged */
	bool have_clock;             /* its HELLO came: the offset bounds are set */
	double off_lo_ms, off_hi_ms; /* its clock minus ours lies in [lo, hi] */
	uint64_t start_at_ns;        /* the start it was given (CLOCK_REALTIME; its sum says when it began) */
};

/* bench_coord_report_table writes the summary as a table to f: the hosts,
 * the merged figures (sum; latency from hist, NULL outside latency mode)
 * and coord_cpu + ssh_cpu (ns) against the hosts' CPU time. */
void bench_coord_report_table(FILE *f, const struct bench_coord_host_report *hosts, size_t num, bool latency,
			      const struct bench_coord_summary *sum, const struct bench_hdr *hist, uint64_t coord_cpu,
			      uint64_t ssh_cpu);

/* bench_coord_report_json writes the same as one JSON object to f:
 * {"tool":"coord","hosts":[...],"merged":{...},"cpu":{...}}. */
void bench_coord_report_json(FILE *f, const struct bench_coord_host_report *hosts, size_t num,
			     const struct bench_coord_summary *sum, const struct bench_hdr *hist, uint64_t coord_cpu,
			     uint64_t ssh_cpu);

#endif
