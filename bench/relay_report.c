/* bench/relay_report.c: renders a relay run (see bench/relay_report.h).
 * MB = 10^6 bytes; latency in microseconds. */
#include "bench/relay_report.h"

#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench/proc.h"
#include "bench/report.h"
#include "bench/stage.h"
#include "bench/think.h"

#ifndef ATMOS_VERSION
#define ATMOS_VERSION "0.1.0"
#endif

uint64_t bench_relay_errors_total(const struct bench_relay_errors *e)
{
	return e->refused + e->timeout + e->http_409 + e->http_429 + e->http_503 + e->http_other + e->closed +
	       e->reset + e->proto + e->tls + e->io + e->left_open;
}

double bench_relay_overhead(uint64_t wire, uint64_t payload)
{
	if (!payload)
		return NAN;
	return (double)wire / (double)payload - 1.0;
}

static uint64_t wire_total(const struct bench_relay_wire *w)
{
	return w->a_tx_wire + w->a_rx_wire + w->b_rx_wire + w->b_tx_wire;
}

static uint64_t payload_total(const struct bench_relay_wire *w)
{
	return w->a_tx_payload + w->b_rx_payload;
}

static double per_s(uint64_t n, double s)
{
	return s > 0 ? (double)n / s : NAN;
}

/* What cpu_s seconds of CPU during the set-up come to: per session up,
 * and as a share of one CPU over the set-up's wall time (NAN when either
 * is not defined). */
struct setup_cost {
	double us_per_session, busy;
};

static struct setup_cost setup_cost(const struct bench_relay_result *r, double cpu_s)
{
	return (struct setup_cost){.us_per_session = r->sessions_up ? cpu_s * 1e6 / r->sessions_up : NAN,
				   .busy = r->setup_s > 0 ? cpu_s / r->setup_s : NAN};
}

/* A session's bytes over the measured time, in MB/s (NAN when none). */
static double mb_per_s(uint64_t bytes, double s)
{
	return per_s(bytes, s) / 1e6;
}

static double rss_per_conn(long before, long after, unsigned sessions)
{
	if (before < 0 || after < 0 || !sessions)
		return NAN;
	return ((double)after - (double)before) * 1024.0 / (2.0 * sessions);
}

static const struct {
	const char *name;
	size_t off;
} error_fields[] = {
	{"refused", offsetof(struct bench_relay_errors, refused)},
	{"timeout", offsetof(struct bench_relay_errors, timeout)},
	{"http_409", offsetof(struct bench_relay_errors, http_409)},
	{"http_429", offsetof(struct bench_relay_errors, http_429)},
	{"http_503", offsetof(struct bench_relay_errors, http_503)},
	{"http_other", offsetof(struct bench_relay_errors, http_other)},
	{"closed", offsetof(struct bench_relay_errors, closed)},
	{"reset", offsetof(struct bench_relay_errors, reset)},
	{"proto", offsetof(struct bench_relay_errors, proto)},
	{"tls", offsetof(struct bench_relay_errors, tls)},
	{"io", offsetof(struct bench_relay_errors, io)},
	{"left_open", offsetof(struct bench_relay_errors, left_open)},
};
#define NUM_ERROR_FIELDS (sizeof error_fields / sizeof error_fields[0])

static uint64_t error_field(const struct bench_relay_errors *e, size_t i)
{
	uint64_t v;
	memcpy(&v, (const char *)e + error_fields[i].off, sizeof v);
	return v;
}

static void size_name(char *out, size_t out_len, size_t size)
{
	if (size >= 1024 && size % 1024 == 0)
		snprintf(out, out_len, "%zu KiB", size / 1024);
	else
		snprintf(out, out_len, "%zu B", size);
}

/* Table rows: the figure in ROW_WIDTH columns, then its value. */
#define ROW_WIDTH 44
#define row(f, ...) bench_report_row(f, ROW_WIDTH, __VA_ARGS__)

int bench_relay_print_table(FILE *f, const struct bench_relay_opts *o, const struct bench_relay_result *r)
{
	char sz[32];
	size_name(sz, sizeof sz, o->size);
	fprintf(f, "atmosphere-bench relay: %s%s%s, %s://%s:%u", bench_relay_mode_name(o->mode), o->label ? " of " : "",
		o->label ? o->label : "", o->tls ? "wss" : "ws", o->host, r->port);
	if (o->tls)
		fprintf(f, " (TLS 1.%u%s)", o->tls_version % 10, o->insecure ? ", certificate not checked" : "");
	if (o->sink)
		fprintf(f, ", sink %s:%u", o->sink_host, o->sink_port ? o->sink_port : r->port);
	fprintf(f, ", %u sessions", o->sessions);
	if (o->num_src)
		fprintf(f, " from %u source addresses of %s", o->num_src, o->src_range);
	if (o->sndbuf)
		fprintf(f, ", SO_SNDBUF %u", o->sndbuf);
	if (o->mode == BENCH_RELAY_THROUGHPUT)
		fprintf(f, " x %s messages", sz);
	else if (o->mode == BENCH_RELAY_LATENCY)
		fprintf(f, " x %u msg/s x %s%s", o->rate, o->sizes.kind == BENCH_SIZE_FIXED ? "" : "up to ", sz);
	if (o->mode == BENCH_RELAY_LATENCY && o->direction != BENCH_RELAY_AB)
		fprintf(f, ", direction %s", bench_relay_direction_name(o->direction));
	if (o->idle_sessions)
		fprintf(f, ", %u idle sessions", o->idle_sessions);
	if (o->stages.num)
		fprintf(f, ", %zu stages", o->stages.num);
	if (o->churn_rate)
		fprintf(f, ", churn %u/s", o->churn_rate);
	if (o->rate_stages.num)
		fprintf(f, ", %zu rate stages up to %u msg/s", o->rate_stages.num, bench_stage_peak(&o->rate_stages));
	if (bench_think_on(&o->think))
		fprintf(f, ", think %.0f ms on average (%u..%u ms)", bench_think_mean_ms(&o->think),
			bench_size_dist_min(&o->think), bench_size_dist_max(&o->think));
	fprintf(f, "\n%u load thread(s) on %d allowed CPU(s); MB = 10^6 bytes\n\n", r->threads, r->cpus_allowed);

	row(f, "sessions up / asked", "%u / %u (%u failed)", r->sessions_up, o->sessions + o->idle_sessions, r->sessions_failed);
	if (o->churn_rate)
		row(f, "sessions replaced (--churn)", "%u", r->churned);
	row(f, "set-up time s, sessions/s", "%.3f, %.0f", r->setup_s, per_s(r->sessions_up, r->setup_s));
	const char *who[2] = {"set-up server CPU us/session, busy", "set-up generator CPU us/session, busy"};
	double cpu[2] = {r->setup_server_cpu_s, r->setup_bench_cpu_s};
	for (int i = 0; i < 2; i++) {
		struct setup_cost c = setup_cost(r, cpu[i]);
		if (isfinite(c.us_per_session) && isfinite(c.busy))
			row(f, who[i], "%.1f, %.2f", c.us_per_session, c.busy);
	}
	if (o->mode == BENCH_RELAY_THROUGHPUT) {
		row(f, "measured time s", "%.2f (after %.2f s warm-up)", r->measured_s, (double)o->warmup_ms / 1e3);
		row(f, "payload MB/s, total", "%.1f", per_s(r->win_payload, r->measured_s) / 1e6);
		row(f, "messages/s, total", "%.0f", per_s(r->win_msgs, r->measured_s));
		row(f, "payload MB/s per session: mean, min, max", "%.2f, %.2f, %.2f", r->per_session_mb_mean,
		    r->per_session_mb_min, r->per_session_mb_max);
		row(f, "fairness: Jain index; p10, min MB/s", "%.4f; %.3f, %.3f", r->fair.jain,
		    mb_per_s(r->fair.p10, r->measured_s), mb_per_s(r->fair.min, r->measured_s));
	} else if (o->mode == BENCH_RELAY_LATENCY) {
		const struct bench_summary *s = &r->lat;
		row(f, "measured time s", "%.2f (after %.2f s warm-up)", r->measured_s, (double)o->warmup_ms / 1e3);
		row(f, "messages sent / delivered / lost", "%llu / %llu / %llu", (unsigned long long)r->sent,
		    (unsigned long long)r->received,
		    (unsigned long long)(r->sent > r->received ? r->sent - r->received : 0));
		row(f, "one-way latency us: p50 p90 p99", "%.1f %.1f %.1f", (double)s->p50 / 1e3, (double)s->p90 / 1e3,
		    (double)s->p99 / 1e3);
		row(f, "one-way latency us: p99.9 max (samples)", "%.1f %.1f (%llu)", (double)s->p999 / 1e3,
		    (double)s->max / 1e3, (unsigned long long)s->count);
		row(f, "send lag us: p50 p99 p99.9 max", "%.1f %.1f %.1f %.1f", (double)r->lag.p50 / 1e3,
		    (double)r->lag.p99 / 1e3, (double)r->lag.p999 / 1e3, (double)r->lag.max / 1e3);
		if (r->by_direction) {
			row(f, "  A -> B us: p50 p99 (samples)", "%.1f %.1f (%llu)", (double)r->lat_ab.p50 / 1e3,
			    (double)r->lat_ab.p99 / 1e3, (unsigned long long)r->lat_ab.count);
			row(f, "  B -> A us: p50 p99 (samples)", "%.1f %.1f (%llu)", (double)r->lat_ba.p50 / 1e3,
			    (double)r->lat_ba.p99 / 1e3, (unsigned long long)r->lat_ba.count);
			row(f, "  A -> B sent / delivered", "%llu / %llu", (unsigned long long)r->sent_dir[0],
			    (unsigned long long)r->received_dir[0]);
			row(f, "  B -> A sent / delivered", "%llu / %llu", (unsigned long long)r->sent_dir[1],
			    (unsigned long long)r->received_dir[1]);
		}
	} else {
		row(f, "held s, sessions alive after", "%.1f, %u / %u", r->measured_s, r->alive, r->sessions_up);
		if (r->relay_rss_kib_before >= 0)
			row(f, "relay RSS KiB before, after; per conn B", "%ld, %ld; %.0f", r->relay_rss_kib_before,
			    r->relay_rss_kib_after, rss_per_conn(r->relay_rss_kib_before, r->relay_rss_kib_after, r->sessions_up));
		row(f, "load generator RSS per conn B", "%.0f",
		    rss_per_conn(r->self_rss_kib_before, r->self_rss_kib_after, r->sessions_up));
	}
	if (r->tcp_mem_ok)
		row(f, "TCP memory MB: before, peak (+rise); pressure", "%.1f, %.1f (+%.1f); %.1f",
		    (double)r->tcp_mem_before / 1e6, (double)r->tcp_mem_peak / 1e6,
		    (double)(r->tcp_mem_peak - r->tcp_mem_before) / 1e6, (double)r->tcp_mem_pressure / 1e6);
	if (r->relay_mem_ok)
		row(f, "TCP memory MB at the end: relay's sockets, all", "%.1f (%zu sockets), %.1f",
		    (double)r->relay_mem_end / 1e6, r->relay_mem_socks, (double)r->tcp_mem_end / 1e6);
	if (isfinite(r->bench_cpu))
		row(f, "load generator CPU busy, in CPUs", "%.2f (%u thread(s))", r->bench_cpu, r->threads);
	if (isfinite(r->other_cpu))
		row(f, "everything else busy, in CPUs", "%.2f of %ld", r->other_cpu, sysconf(_SC_NPROCESSORS_ONLN));
	if (isfinite(r->relay_cpu))
		row(f, "relay CPU busy, in CPUs; us per message", "%.2f; %.2f", r->relay_cpu,
		    r->win_msgs ? r->relay_cpu * r->measured_s * 1e6 / (double)r->win_msgs : NAN);
	const struct bench_relay_wire *w = &r->wire;
	row(f, "wire overhead %, all 4 directions", "%.3f (%llu wire B for %llu payload B)",
	    100.0 * bench_relay_overhead(wire_total(w), payload_total(w)), (unsigned long long)wire_total(w),
	    (unsigned long long)payload_total(w));
	row(f, "wire overhead %: A -> relay, relay -> B", "%.3f, %.3f", 100.0 * bench_relay_overhead(w->a_tx_wire, w->a_tx_payload),
	    100.0 * bench_relay_overhead(w->b_rx_wire, w->b_rx_payload));
	row(f, "handshake B, control B, text msgs", "%llu, %llu, %llu", (unsigned long long)w->handshake,
	    (unsigned long long)w->control, (unsigned long long)w->text_msgs);
	if (o->tls)
		row(f, "TLS handshake B (in the wire bytes)", "%llu", (unsigned long long)w->tls_handshake);
	uint64_t total = bench_relay_errors_total(&r->err);
	if (!total) {
		row(f, "errors", "none");
	} else {
		fprintf(f, "%-*s %llu:", ROW_WIDTH, "errors", (unsigned long long)total);
		for (size_t i = 0; i < NUM_ERROR_FIELDS; i++)
			if (error_field(&r->err, i))
				fprintf(f, " %s %llu", error_fields[i].name, (unsigned long long)error_field(&r->err, i));
		fputc('\n', f);
	}
	return ferror(f) ? -1 : 0;
}

static struct json_object *jdir(uint64_t wire, uint64_t payload)
{
	struct json_object *d = json_object_new_object();
	json_object_object_add(d, "wire_bytes", bench_report_uint(wire));
	json_object_object_add(d, "payload_bytes", bench_report_uint(payload));
	json_object_object_add(d, "overhead_pct", bench_report_num(100.0 * bench_relay_overhead(wire, payload), 4));
	return d;
}

struct json_object *bench_relay_json(const struct bench_relay_opts *o, const struct bench_relay_result *r)
{
	char model[256], url[300], sink[300];
	struct utsname u;
	struct json_object *root = json_object_new_object(), *m = json_object_new_object();
	struct json_object *setup = json_object_new_object(), *wire = json_object_new_object();
	struct json_object *errs = json_object_new_object();

	snprintf(url, sizeof url, strchr(o->host, ':') ? "%s://[%s]:%u" : "%s://%s:%u", o->tls ? "wss" : "ws", o->host,
		 r->port);
	json_object_object_add(root, "tool", json_object_new_string("relay"));
	json_object_object_add(root, "version", json_object_new_string(ATMOS_VERSION));
	json_object_object_add(root, "label", o->label ? json_object_new_string(o->label) : NULL);
	json_object_object_add(root, "mode", json_object_new_string(bench_relay_mode_name(o->mode)));
	json_object_object_add(root, "url", json_object_new_string(url));
	json_object_object_add(root, "started_unix_ns", r->started_unix_ns ? bench_report_uint(r->started_unix_ns) : NULL);
	if (o->sink) {
		snprintf(sink, sizeof sink, "%s:%u", o->sink_host, o->sink_port ? o->sink_port : r->port);
		json_object_object_add(root, "sink", json_object_new_string(sink));
	}
	json_object_object_add(root, "sessions", bench_report_uint(o->sessions));
	json_object_object_add(root, "size", bench_report_uint(o->size));
	json_object_object_add(root, "direction", json_object_new_string(bench_relay_direction_name(o->direction)));
	json_object_object_add(root, "idle_sessions", bench_report_uint(o->idle_sessions));
	json_object_object_add(root, "stages", bench_report_uint(o->stages.num));
	json_object_object_add(root, "rate_stages", bench_report_uint(o->rate_stages.num));
	/* think: null without --think; else the draws' mean, min and max in ms. */
	struct json_object *think = NULL;
	if (bench_think_on(&o->think)) {
		think = json_object_new_object();
		json_object_object_add(think, "mean_ms", bench_report_num(bench_think_mean_ms(&o->think), 3));
		json_object_object_add(think, "min_ms", bench_report_uint(bench_size_dist_min(&o->think)));
		json_object_object_add(think, "max_ms", bench_report_uint(bench_size_dist_max(&o->think)));
	}
	json_object_object_add(root, "think", think);
	json_object_object_add(root, "rate", o->mode == BENCH_RELAY_LATENCY ? bench_report_uint(o->rate) : NULL);
	json_object_object_add(root, "duration_s", bench_report_num((double)o->duration_ms / 1e3, 3));
	json_object_object_add(root, "warmup_s", bench_report_num((double)o->warmup_ms / 1e3, 3));
	json_object_object_add(root, "threads", bench_report_uint(r->threads));
	json_object_object_add(root, "concurrency", bench_report_uint(o->concurrency));
	json_object_object_add(root, "sndbuf", o->sndbuf ? bench_report_uint(o->sndbuf) : NULL);
	if (o->tls) {
		struct json_object *t = json_object_new_object();
		json_object_object_add(t, "version", json_object_new_string(o->tls_version == 12 ? "1.2" : "1.3"));
		json_object_object_add(t, "verify", json_object_new_boolean(!o->insecure));
		json_object_object_add(root, "tls", t);
	} else {
		json_object_object_add(root, "tls", NULL);
	}
	if (o->num_src) {
		struct json_object *src = json_object_new_object();
		json_object_object_add(src, "range", json_object_new_string(o->src_range));
		json_object_object_add(src, "addresses", bench_report_uint(o->num_src));
		json_object_object_add(root, "sources", src);
	} else {
		json_object_object_add(root, "sources", NULL);
	}

	bench_cpu_model(model, sizeof model);
	json_object_object_add(m, "nproc", json_object_new_int((int)sysconf(_SC_NPROCESSORS_ONLN)));
	json_object_object_add(m, "cpus_allowed", json_object_new_int(r->cpus_allowed));
	json_object_object_add(m, "cpu_model", json_object_new_string(model));
	json_object_object_add(m, "kernel", json_object_new_string(uname(&u) == 0 ? u.release : "unknown"));
	json_object_object_add(root, "machine", m);

	json_object_object_add(setup, "sessions_up", bench_report_uint(r->sessions_up));
	json_object_object_add(setup, "churned", bench_report_uint(r->churned));
	json_object_object_add(setup, "sessions_failed", bench_report_uint(r->sessions_failed));
	json_object_object_add(setup, "seconds", bench_report_num(r->setup_s, 4));
	json_object_object_add(setup, "sessions_per_s", bench_report_num(per_s(r->sessions_up, r->setup_s), 0));
	/* CPU per session while they came up: the server's cost, beside the
	 * generator's own (which bounds the rate when it is the busier). */
	struct setup_cost srv = setup_cost(r, r->setup_server_cpu_s), gen = setup_cost(r, r->setup_bench_cpu_s);
	json_object_object_add(setup, "server_cpu_s", bench_report_num(r->setup_server_cpu_s, 4));
	json_object_object_add(setup, "server_us_per_session", bench_report_num(srv.us_per_session, 1));
	json_object_object_add(setup, "server_busy", bench_report_num(srv.busy, 3));
	json_object_object_add(setup, "bench_cpu_s", bench_report_num(r->setup_bench_cpu_s, 4));
	json_object_object_add(setup, "bench_us_per_session", bench_report_num(gen.us_per_session, 1));
	json_object_object_add(setup, "bench_busy", bench_report_num(gen.busy, 3));
	json_object_object_add(root, "setup", setup);

	if (o->mode == BENCH_RELAY_THROUGHPUT) {
		struct json_object *t = json_object_new_object(), *ps = json_object_new_object();
		json_object_object_add(t, "measured_s", bench_report_num(r->measured_s, 3));
		json_object_object_add(t, "mb_per_s", bench_report_num(per_s(r->win_payload, r->measured_s) / 1e6, 2));
		json_object_object_add(t, "msgs_per_s", bench_report_num(per_s(r->win_msgs, r->measured_s), 0));
		json_object_object_add(ps, "mean", bench_report_num(r->per_session_mb_mean, 3));
		json_object_object_add(ps, "min", bench_report_num(r->per_session_mb_min, 3));
		json_object_object_add(ps, "max", bench_report_num(r->per_session_mb_max, 3));
		json_object_object_add(ps, "p10", bench_report_num(mb_per_s(r->fair.p10, r->measured_s), 3));
		json_object_object_add(t, "per_session_mb_per_s", ps);
		json_object_object_add(t, "jain", bench_report_num(r->fair.jain, 4));
		json_object_object_add(root, "throughput", t);
	} else if (o->mode == BENCH_RELAY_LATENCY) {
		const struct bench_summary *s = &r->lat;
		struct json_object *l = json_object_new_object();
		json_object_object_add(l, "measured_s", bench_report_num(r->measured_s, 3));
		json_object_object_add(l, "sent", bench_report_uint(r->sent));
		json_object_object_add(l, "received", bench_report_uint(r->received));
		json_object_object_add(l, "lost", bench_report_uint(r->sent > r->received ? r->sent - r->received : 0));
		json_object_object_add(l, "samples", bench_report_uint(s->count));
		json_object_object_add(l, "min_us", bench_report_num((double)s->min / 1e3, 2));
		bench_report_latency_us(l, s);
		json_object_object_add(l, "mean_us", bench_report_num(s->mean / 1e3, 2));
		/* The generator's own share: schedule to the send's completion. */
		struct json_object *lag = json_object_new_object();
		json_object_object_add(lag, "samples", bench_report_uint(r->lag.count));
		bench_report_latency_us(lag, &r->lag);
		json_object_object_add(l, "send_lag", lag);
		if (r->by_direction) {
			/* --direction both: the same figures each way */
			const struct bench_summary *d[2] = {&r->lat_ab, &r->lat_ba};
			const char *const key[2] = {"ab", "ba"};
			for (int i = 0; i < 2; i++) {
				struct json_object *dl = json_object_new_object();
				json_object_object_add(dl, "samples", bench_report_uint(d[i]->count));
				json_object_object_add(dl, "sent", bench_report_uint(r->sent_dir[i]));
				json_object_object_add(dl, "received", bench_report_uint(r->received_dir[i]));
				bench_report_latency_us(dl, d[i]);
				json_object_object_add(l, key[i], dl);
			}
		}
		json_object_object_add(root, "latency", l);
	} else {
		struct json_object *c = json_object_new_object();
		json_object_object_add(c, "held_s", bench_report_num(r->measured_s, 3));
		json_object_object_add(c, "alive", bench_report_uint(r->alive));
		json_object_object_add(c, "relay_rss_kib_before",
				       r->relay_rss_kib_before >= 0 ? bench_report_uint((uint64_t)r->relay_rss_kib_before) : NULL);
		json_object_object_add(c, "relay_rss_kib_after",
				       r->relay_rss_kib_after >= 0 ? bench_report_uint((uint64_t)r->relay_rss_kib_after) : NULL);
		json_object_object_add(c, "relay_rss_bytes_per_conn",
				       bench_report_num(rss_per_conn(r->relay_rss_kib_before, r->relay_rss_kib_after, r->sessions_up), 0));
		json_object_object_add(c, "bench_rss_bytes_per_conn",
				       bench_report_num(rss_per_conn(r->self_rss_kib_before, r->self_rss_kib_after, r->sessions_up), 0));
		json_object_object_add(root, "connections", c);
	}
	if (r->tcp_mem_ok && o->mode != BENCH_RELAY_CONNECTIONS) {
		struct json_object *tm = json_object_new_object();
		json_object_object_add(tm, "before_bytes", bench_report_uint(r->tcp_mem_before));
		json_object_object_add(tm, "peak_bytes", bench_report_uint(r->tcp_mem_peak));
		json_object_object_add(tm, "rise_bytes", bench_report_uint(r->tcp_mem_peak - r->tcp_mem_before));
		json_object_object_add(tm, "pressure_bytes", r->tcp_mem_pressure ? bench_report_uint(r->tcp_mem_pressure) : NULL);
		json_object_object_add(tm, "end_bytes", bench_report_uint(r->tcp_mem_end));
		json_object_object_add(tm, "relay_end_bytes", r->relay_mem_ok ? bench_report_uint(r->relay_mem_end) : NULL);
		json_object_object_add(tm, "relay_sockets", r->relay_mem_ok ? bench_report_uint(r->relay_mem_socks) : NULL);
		json_object_object_add(tm, "relay_dump_cpu_ms", r->relay_mem_ok ? bench_report_num(r->relay_dump_ms, 2) : NULL);
		json_object_object_add(tm, "samples", bench_report_uint(r->mem_samples));
		json_object_object_add(tm, "sample_ms_max", bench_report_num(r->mem_sample_ms_max, 3));
		json_object_object_add(root, "tcp_mem", tm);
	} else {
		json_object_object_add(root, "tcp_mem", NULL);
	}
	json_object_object_add(root, "bench_cpu", bench_report_num(r->bench_cpu, 3));
	json_object_object_add(root, "relay_cpu", bench_report_num(r->relay_cpu, 3));
	json_object_object_add(root, "other_cpu", bench_report_num(r->other_cpu, 3));
	json_object_object_add(root, "relay_cpu_us_per_msg",
			       r->win_msgs && isfinite(r->relay_cpu)
				       ? bench_report_num(r->relay_cpu * r->measured_s * 1e6 / (double)r->win_msgs, 3)
				       : NULL);

	const struct bench_relay_wire *w = &r->wire;
	json_object_object_add(wire, "total", jdir(wire_total(w), payload_total(w)));
	json_object_object_add(wire, "a_to_relay", jdir(w->a_tx_wire, w->a_tx_payload));
	json_object_object_add(wire, "relay_to_b", jdir(w->b_rx_wire, w->b_rx_payload));
	json_object_object_add(wire, "relay_to_a_bytes", bench_report_uint(w->a_rx_wire));
	json_object_object_add(wire, "b_to_relay_bytes", bench_report_uint(w->b_tx_wire));
	json_object_object_add(wire, "handshake_bytes", bench_report_uint(w->handshake));
	json_object_object_add(wire, "tls_handshake_bytes", o->tls ? bench_report_uint(w->tls_handshake) : NULL);
	json_object_object_add(wire, "counts", json_object_new_string(o->tls ? "tls" : "websocket"));
	json_object_object_add(wire, "control_bytes_received", bench_report_uint(w->control));
	json_object_object_add(wire, "text_messages_received", bench_report_uint(w->text_msgs));
	json_object_object_add(root, "wire", wire);

	for (size_t i = 0; i < NUM_ERROR_FIELDS; i++)
		json_object_object_add(errs, error_fields[i].name, bench_report_uint(error_field(&r->err, i)));
	json_object_object_add(errs, "total", bench_report_uint(bench_relay_errors_total(&r->err)));
	json_object_object_add(root, "errors", errs);
	json_object_object_add(root, "ok", json_object_new_boolean(r->sessions_up > 0));

	return root;
}

int bench_relay_print_csv(FILE *f, const struct bench_relay_opts *o, const struct bench_relay_result *r)
{
	const struct bench_summary *s = &r->lat;
	const struct bench_relay_wire *w = &r->wire;
	fprintf(f, "label,mode,sessions,size,rate,duration_s,sessions_up,setup_per_s,mb_per_s,msgs_per_s,"
		   "p50_us,p90_us,p99_us,p999_us,max_us,sent,received,relay_rss_bytes_per_conn,overhead_pct,errors\n");
	fprintf(f, "%s,%s,%u,%zu,%u", o->label ? o->label : "", bench_relay_mode_name(o->mode), o->sessions, o->size,
		o->mode == BENCH_RELAY_LATENCY ? o->rate : 0);
	bench_report_csv_num(f, (double)o->duration_ms / 1e3, 3);
	fprintf(f, ",%u", r->sessions_up);
	bench_report_csv_num(f, per_s(r->sessions_up, r->setup_s), 0);
	bool tp = o->mode == BENCH_RELAY_THROUGHPUT, lat = o->mode == BENCH_RELAY_LATENCY;
	bench_report_csv_num(f, tp ? per_s(r->win_payload, r->measured_s) / 1e6 : NAN, 2);
	bench_report_csv_num(f, tp ? per_s(r->win_msgs, r->measured_s) : NAN, 0);
	bench_report_csv_num(f, lat ? (double)s->p50 / 1e3 : NAN, 2);
	bench_report_csv_num(f, lat ? (double)s->p90 / 1e3 : NAN, 2);
	bench_report_csv_num(f, lat ? (double)s->p99 / 1e3 : NAN, 2);
	bench_report_csv_num(f, lat ? (double)s->p999 / 1e3 : NAN, 2);
	bench_report_csv_num(f, lat ? (double)s->max / 1e3 : NAN, 2);
	fprintf(f, ",%llu,%llu", (unsigned long long)r->sent, (unsigned long long)r->received);
	bench_report_csv_num(f, rss_per_conn(r->relay_rss_kib_before, r->relay_rss_kib_after, r->sessions_up), 0);
	bench_report_csv_num(f, 100.0 * bench_relay_overhead(wire_total(w), payload_total(w)), 4);
	fprintf(f, ",%llu\n", (unsigned long long)bench_relay_errors_total(&r->err));
	return ferror(f) ? -1 : 0;
}

int bench_relay_print_hist(FILE *f, const struct bench_hdr *h)
{
	uint64_t seen = 0, count = h ? bench_hdr_count(h) : 0;
	fprintf(f, "latency_us,count,fraction_at_or_below\n");
	for (size_t i = 0; h && i < bench_hdr_num_buckets(h) && seen < count; i++) {
		uint64_t n = bench_hdr_bucket_count(h, i);
		if (!n)
			continue;
		seen += n;
		uint64_t hi = bench_hdr_bucket_hi(h, i);
		if (hi > bench_hdr_max(h) || i + 1 == bench_hdr_num_buckets(h))
			hi = bench_hdr_max(h);
		fprintf(f, "%.3f,%llu,%.9f\n", (double)hi / 1e3, (unsigned long long)n, (double)seen / (double)count);
	}
	return ferror(f) ? -1 : 0;
}
