/* The core bench's table and JSON: see bench/core_report.h. */
#include "bench/core_report.h"

#include <json-c/json.h>
#include <math.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench/report.h"
#include "bench/proc.h"

#ifndef ATMOS_VERSION
#define ATMOS_VERSION "0.1.0"
#endif

static void size_name(char *out, size_t out_len, uint32_t size)
{
	if (size >= 1024 * 1024 && size % (1024 * 1024) == 0)
		snprintf(out, out_len, "%u MiB", size / (1024 * 1024));
	else if (size >= 1024 && size % 1024 == 0)
		snprintf(out, out_len, "%u KiB", size / 1024);
	else
		snprintf(out, out_len, "%u B", size);
}

void bench_core_print_table(FILE *f, const struct bench_core_result *r, const struct bench_core_opts *o)
{
	char fig[96], sz[32];
	if (r->place.server_cpu >= 0)
		fprintf(f, "atmosphere-bench core: servers pinned to CPU %d, client to CPU %d; 127.0.0.1; MB = 10^6 bytes\n",
		       r->place.server_cpu, r->place.client_cpu);
	else
		fprintf(f, "atmosphere-bench core: one CPU, server and client share it (not pinned); 127.0.0.1; MB = 10^6 bytes\n");
	if (!isnan(r->other_load))
		fprintf(f, "other processes kept %.0f %% of the machine busy during the run; hypervisor steal %.1f %%\n",
		       100.0 * r->other_load, 100.0 * r->steal);
	fprintf(f, "ratio = ours / baseline; echo and zero-copy figures are medians of %d alternating rounds\n\n",
	       BENCH_CORE_ROUNDS);
	bench_report_figure_header(f);
	bench_report_figure(f, "switch ns: core_coro vs getppid() syscall", r->sw.coro_ns, r->sw.getppid_ns, 2);
	bench_report_figure(f, "switch ns: core_coro vs write(/dev/null, 0)", r->sw.coro_ns, r->sw.devnull_ns, 2);
	bench_report_figure(f, "switch ns: core_coro vs swapcontext", r->sw.coro_ns, r->sw.swapctx_ns, 2);
	bench_report_figure(f, "echo RTT p50 us, 64 B: reactor vs blocking", (double)r->lat_ours.p50 / 1e3,
			    (double)r->lat_base.p50 / 1e3, 1);
	bench_report_figure(f, "echo RTT p99 us, 64 B: reactor vs blocking", (double)r->lat_ours.p99 / 1e3,
			    (double)r->lat_base.p99 / 1e3, 1);
	size_name(sz, sizeof sz, (uint32_t)o->size);
	snprintf(fig, sizeof fig, "echo msgs/s, %u conns x %s", o->conns, sz);
	bench_report_figure(f, fig, r->tp_ours.msgs_per_s, r->tp_base.msgs_per_s, 0);
	snprintf(fig, sizeof fig, "echo MB/s, %u conns x %s", o->conns, sz);
	bench_report_figure(f, fig, r->tp_ours.mb_per_s, r->tp_base.mb_per_s, 1);
	bench_report_figure(f, "echo server CPU ns per message", r->tp_ours.server_cpu_ns, r->tp_base.server_cpu_ns, 0);
	bench_report_figure(f, "echo server CPU busy %", 100.0 * r->tp_ours.server_cpu, 100.0 * r->tp_base.server_cpu, 1);
	bench_report_figure(f, "echo client CPU busy %", 100.0 * r->tp_ours.client_cpu, 100.0 * r->tp_base.client_cpu, 1);
	bench_report_figure(f, "load generator alone (no server), MB/s", r->tp_ceiling.mb_per_s, NAN, 1);
	bench_report_figure(f, "load generator alone, client CPU busy %", 100.0 * r->tp_ceiling.client_cpu, NAN, 1);
	for (size_t i = 0; i < BENCH_CORE_NUM_ZC_SIZES; i++) {
		size_name(sz, sizeof sz, r->zc_size[i]);
		snprintf(fig, sizeof fig, "send MB/s, %s: SEND_ZC on vs off", sz);
		bench_report_figure(f, fig, r->zc_on[i], r->zc_off[i], 1);
	}
	fprintf(f, "\nA coroutine switch costs 1/%.0f of a getppid() syscall.\n",
		bench_report_ratio(r->sw.getppid_ns, r->sw.coro_ns));
	if (r->crossover >= 0) {
		size_name(sz, sizeof sz, (uint32_t)r->crossover);
		fprintf(f, "zero-copy crossover (loopback): SEND_ZC first at least as fast at %s\n", sz);
	} else {
		size_name(sz, sizeof sz, r->zc_size[BENCH_CORE_NUM_ZC_SIZES - 1]);
		fprintf(f, "zero-copy crossover (loopback): none up to %s (SEND_ZC never faster here)\n", sz);
	}
}

static struct json_object *jsummary_us(const struct bench_summary *s)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "count", json_object_new_int64((int64_t)s->count));
	json_object_object_add(o, "min_us", bench_report_num((double)s->min / 1e3, 2));
	bench_report_latency_us(o, s);
	json_object_object_add(o, "mean_us", bench_report_num(s->mean / 1e3, 2));
	return o;
}

static struct json_object *jtput(const struct bench_tput *t)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "msgs_per_s", bench_report_num(t->msgs_per_s, 0));
	json_object_object_add(o, "mb_per_s", bench_report_num(t->mb_per_s, 1));
	json_object_object_add(o, "client_cpu", bench_report_num(t->client_cpu, 3));
	json_object_object_add(o, "server_cpu", bench_report_num(t->server_cpu, 3));
	json_object_object_add(o, "server_cpu_ns_per_msg", bench_report_num(t->server_cpu_ns, 0));
	return o;
}

struct json_object *bench_core_json(const struct bench_core_result *r, const struct bench_core_opts *o)
{
	char model[256];
	struct utsname u;
	struct json_object *root = json_object_new_object(), *m = json_object_new_object();
	struct json_object *sw = json_object_new_object(), *lat = json_object_new_object();
	struct json_object *tp = json_object_new_object(), *zc = json_object_new_object();
	struct json_object *pts = json_object_new_array();

	json_object_object_add(root, "tool", json_object_new_string("core"));
	json_object_object_add(root, "version", json_object_new_string(ATMOS_VERSION));
	bench_cpu_model(model, sizeof model);
	json_object_object_add(m, "nproc", json_object_new_int((int)sysconf(_SC_NPROCESSORS_ONLN)));
	json_object_object_add(m, "cpu_model", json_object_new_string(model));
	json_object_object_add(m, "kernel", json_object_new_string(uname(&u) == 0 ? u.release : "unknown"));
	json_object_object_add(m, "server_cpu", r->place.server_cpu >= 0 ? json_object_new_int(r->place.server_cpu) : NULL);
	json_object_object_add(m, "client_cpu", r->place.client_cpu >= 0 ? json_object_new_int(r->place.client_cpu) : NULL);
	json_object_object_add(m, "other_load", bench_report_num(r->other_load, 3));
	json_object_object_add(m, "steal", bench_report_num(r->steal, 3));
	json_object_object_add(root, "machine", m);

	json_object_object_add(sw, "runs", json_object_new_int(BENCH_SWITCH_RUNS));
	json_object_object_add(sw, "switches_per_run", json_object_new_int64(2 * (int64_t)BENCH_SWITCH_PAIRS));
	json_object_object_add(sw, "coro_ns", bench_report_num(r->sw.coro_ns, 2));
	json_object_object_add(sw, "getppid_ns", bench_report_num(r->sw.getppid_ns, 2));
	json_object_object_add(sw, "write_devnull_ns", bench_report_num(r->sw.devnull_ns, 2));
	json_object_object_add(sw, "swapcontext_ns", bench_report_num(r->sw.swapctx_ns, 2));
	json_object_object_add(sw, "getppid_over_switch",
			       bench_report_num(bench_report_ratio(r->sw.getppid_ns, r->sw.coro_ns), 1));
	json_object_object_add(root, "switch", sw);

	json_object_object_add(lat, "size", json_object_new_int(BENCH_CORE_LAT_SIZE));
	json_object_object_add(lat, "round_trips", json_object_new_int64((int64_t)o->round_trips));
	json_object_object_add(lat, "reactor", jsummary_us(&r->lat_ours));
	json_object_object_add(lat, "blocking", jsummary_us(&r->lat_base));
	json_object_object_add(root, "echo_latency", lat);

	json_object_object_add(tp, "conns", json_object_new_int((int)o->conns));
	json_object_object_add(tp, "size", json_object_new_int64((int64_t)o->size));
	json_object_object_add(tp, "window_msgs", json_object_new_int(BENCH_CORE_ECHO_WINDOW));
	json_object_object_add(tp, "duration_s", bench_report_num((double)o->duration_ms / 1e3, 3));
	json_object_object_add(tp, "reactor", jtput(&r->tp_ours));
	json_object_object_add(tp, "blocking", jtput(&r->tp_base));
	json_object_object_add(tp, "client_ceiling", jtput(&r->tp_ceiling));
	json_object_object_add(root, "echo_throughput", tp);

	json_object_object_add(zc, "duration_s_per_point", bench_report_num((double)r->zc_ms / 1e3, 3));
	for (size_t i = 0; i < BENCH_CORE_NUM_ZC_SIZES; i++) {
		struct json_object *pt = json_object_new_object();
		json_object_object_add(pt, "size", json_object_new_int64(r->zc_size[i]));
		json_object_object_add(pt, "off_mb_per_s", bench_report_num(r->zc_off[i], 1));
		json_object_object_add(pt, "on_mb_per_s", bench_report_num(r->zc_on[i], 1));
		json_object_object_add(pt, "on_over_off", bench_report_num(bench_report_ratio(r->zc_on[i], r->zc_off[i]), 3));
		json_object_array_add(pts, pt);
	}
	json_object_object_add(zc, "points", pts);
	json_object_object_add(zc, "crossover", r->crossover >= 0 ? json_object_new_int64(r->crossover) : NULL);
	json_object_object_add(root, "zero_copy", zc);
	json_object_object_add(root, "ok", json_object_new_boolean(1));

	return root;
}
