/* The distributed run's summary: see bench/coord_report.h. */
#include "bench/coord_report.h"

#include <json-c/json.h>
#include <math.h>

#include "bench/report.h"

void bench_coord_report_table(FILE *f, const struct bench_coord_host_report *hosts, size_t num, bool latency,
			      const struct bench_coord_summary *sum, const struct bench_hdr *hist, uint64_t coord_cpu,
			      uint64_t ssh_cpu)
{
	fprintf(f, "atmosphere-bench coord: %zu hosts, %s\n\n", num, latency ? "latency" : "no latency (mode)");
	fprintf(f, "%-24s %4s %11s %12s %12s %8s %10s %8s %s\n", "host", "exit", "sessions up", "sent", "received",
	       "errors", "p99 us", "cpu s", "clock offset ms");
	uint64_t gen_cpu = 0;
	for (size_t i = 0; i < num; i++) {
		const struct bench_coord_host_report *h = &hosts[i];
		char off[48] = "-", p99[24] = "-";
		if (h->have_clock)
			snprintf(off, sizeof off, "[%.1f, %.1f]", h->off_lo_ms, h->off_hi_ms);
		if (h->hist && bench_hdr_count(h->hist))
			snprintf(p99, sizeof p99, "%.2f", (double)bench_hdr_percentile(h->hist, 99.0) / 1e3);
		fprintf(f, "%-24s %4s %5llu/%-5llu %12llu %12llu %8llu %10s %8.2f %s\n", h->name,
		       h->ok ? "0" : "FAIL", (unsigned long long)h->sum.sessions_up,
		       (unsigned long long)h->sum.sessions, (unsigned long long)h->sum.sent,
		       (unsigned long long)h->sum.received, (unsigned long long)h->sum.errors, p99,
		       (double)h->cpu_ns / 1e9, off);
		gen_cpu += h->cpu_ns;
	}
	fprintf(f, "\n");
	bench_report_row(f, 24, "sessions up", "%llu/%llu", (unsigned long long)sum->sessions_up,
			 (unsigned long long)sum->sessions);
	if (sum->latency) {
		bench_report_row(f, 24, "sent", "%llu", (unsigned long long)sum->sent);
		bench_report_row(f, 24, "received", "%llu", (unsigned long long)sum->received);
	}
	bench_report_row(f, 24, "msgs/s (summed)", "%.0f", sum->msgs_per_s);
	if (!isnan(sum->mb_per_s))
		bench_report_row(f, 24, "MB/s (summed)", "%.2f", sum->mb_per_s);
	bench_report_row(f, 24, "errors", "%llu", (unsigned long long)sum->errors);
	if (hist && bench_hdr_count(hist)) {
		struct bench_summary s;
		bench_hdr_summary(hist, &s);
		bench_report_row(f, 24, "one-way latency us", "samples %llu (merged histograms)",
				 (unsigned long long)s.count);
		bench_report_row(f, 24, "  min p50 p90", "%.2f %.2f %.2f", (double)s.min / 1e3, (double)s.p50 / 1e3,
				 (double)s.p90 / 1e3);
		bench_report_row(f, 24, "  p99 p99.9 max", "%.2f %.2f %.2f", (double)s.p99 / 1e3,
				 (double)s.p999 / 1e3, (double)s.max / 1e3);
		bench_report_row(f, 24, "  mean", "%.2f", s.mean / 1e3);
	}
	/* Coordinator overhead: this process and its SSH clients against the
	 * generators' own CPU time (workers and their runs). */
	double over = gen_cpu ? 100.0 * (double)(coord_cpu + ssh_cpu) / (double)gen_cpu : NAN;
	bench_report_row(f, 24, "coordinator cpu s", "%.3f (coord %.3f + ssh %.3f) = %.2f %% of generators' %.2f",
			 (double)(coord_cpu + ssh_cpu) / 1e9, (double)coord_cpu / 1e9, (double)ssh_cpu / 1e9, over,
			 (double)gen_cpu / 1e9);
}

static struct json_object *json_or_null(double v, int prec)
{
	return isfinite(v) ? bench_report_num(v, prec) : NULL;
}

/* --json: the hosts and the merged result (docs/BENCH.md). */
void bench_coord_report_json(FILE *f, const struct bench_coord_host_report *hosts, size_t num,
			     const struct bench_coord_summary *sum, const struct bench_hdr *hist, uint64_t coord_cpu,
			     uint64_t ssh_cpu)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	uint64_t gen_cpu = 0;
	for (size_t i = 0; i < num; i++) {
		const struct bench_coord_host_report *h = &hosts[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "host", json_object_new_string(h->name));
		json_object_object_add(o, "ok", json_object_new_boolean(h->ok));
		json_object_object_add(o, "error", h->ok ? NULL : json_object_new_string(h->why));
		json_object_object_add(o, "sessions", bench_report_uint(h->sum.sessions));
		json_object_object_add(o, "sessions_up", bench_report_uint(h->sum.sessions_up));
		json_object_object_add(o, "sent", bench_report_uint(h->sum.sent));
		json_object_object_add(o, "received", bench_report_uint(h->sum.received));
		json_object_object_add(o, "errors", bench_report_uint(h->sum.errors));
		json_object_object_add(o, "samples", bench_report_uint(h->hist ? bench_hdr_count(h->hist) : 0));
		json_object_object_add(o, "intervals", bench_report_uint(h->intervals));
		json_object_object_add(o, "cpu_s", bench_report_num((double)h->cpu_ns / 1e9, 3));
		json_object_object_add(o, "clock_offset_ms_min", h->have_clock ? bench_report_num(h->off_lo_ms, 1) : NULL);
		json_object_object_add(o, "clock_offset_ms_max", h->have_clock ? bench_report_num(h->off_hi_ms, 1) : NULL);
		json_object_object_add(o, "start_at_unix_ns", bench_report_uint(h->start_at_ns));
		json_object_object_add(o, "started_unix_ns",
				       h->sum.started_unix_ns ? bench_report_uint(h->sum.started_unix_ns) : NULL);
		json_object_array_add(arr, o);
		gen_cpu += h->cpu_ns;
	}
	json_object_object_add(root, "tool", json_object_new_string("coord"));
	json_object_object_add(root, "hosts", arr);
	struct json_object *m = json_object_new_object();
	json_object_object_add(m, "sessions", bench_report_uint(sum->sessions));
	json_object_object_add(m, "sessions_up", bench_report_uint(sum->sessions_up));
	json_object_object_add(m, "sent", bench_report_uint(sum->sent));
	json_object_object_add(m, "received", bench_report_uint(sum->received));
	json_object_object_add(m, "errors", bench_report_uint(sum->errors));
	json_object_object_add(m, "measured_s", bench_report_num(sum->measured_s, 3));
	json_object_object_add(m, "msgs_per_s", json_or_null(sum->msgs_per_s, 0));
	json_object_object_add(m, "mb_per_s", json_or_null(sum->mb_per_s, 2));
	if (hist && bench_hdr_count(hist)) {
		struct bench_summary s;
		bench_hdr_summary(hist, &s);
		struct json_object *l = json_object_new_object();
		json_object_object_add(l, "samples", bench_report_uint(s.count));
		json_object_object_add(l, "min_us", bench_report_num((double)s.min / 1e3, 2));
		bench_report_latency_us(l, &s);
		json_object_object_add(l, "mean_us", bench_report_num(s.mean / 1e3, 2));
		json_object_object_add(m, "latency", l);
	} else {
		json_object_object_add(m, "latency", NULL);
	}
	json_object_object_add(root, "merged", m);
	struct json_object *cpu = json_object_new_object();
	json_object_object_add(cpu, "coord_s", bench_report_num((double)coord_cpu / 1e9, 3));
	json_object_object_add(cpu, "ssh_s", bench_report_num((double)ssh_cpu / 1e9, 3));
	json_object_object_add(cpu, "generators_s", bench_report_num((double)gen_cpu / 1e9, 3));
	json_object_object_add(cpu, "overhead_pct",
			       gen_cpu ? bench_report_num(100.0 * (double)(coord_cpu + ssh_cpu) / (double)gen_cpu, 3) : NULL);
	json_object_object_add(root, "cpu", cpu);
	bench_report_json_print(f, root);
	json_object_put(root);
}

