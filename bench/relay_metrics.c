/* bench/relay_metrics.c: the relay's /metrics beside the client's figures
 * (bench/relay_metrics.h). */
#include "bench/relay_metrics.h"

#include <math.h>
#include <string.h>

#include "bench/report.h"

void bench_relay_metrics_begin(struct bench_relay_metrics *m, const struct bench_relay_opts *o)
{
	memset(m, 0, sizeof *m);
	if (o->metrics && !strcmp(o->metrics, "off"))
		return;
	if (o->metrics) {
		/* Checked when the options were parsed. */
		if (bench_metrics_parse_url(o->metrics, &m->target, m->why, sizeof m->why) != 0)
			return;
		snprintf(m->url, sizeof m->url, "%s", o->metrics);
	} else {
		if (o->sink)
			return; /* a baseline: the target is a proxy or our own sink */
		m->on = true;
		if (o->tls) {
			snprintf(m->url, sizeof m->url, "https://%s:%u/metrics", o->host, o->port);
			snprintf(m->why, sizeof m->why, "not scraped: https");
			return;
		}
		bool v6 = strchr(o->host, ':') != NULL;
		snprintf(m->url, sizeof m->url, "http://%s%s%s:%u/metrics", v6 ? "[" : "", o->host, v6 ? "]" : "", o->port);
		snprintf(m->target.host, sizeof m->target.host, "%s", o->host);
		m->target.port = o->port;
		snprintf(m->target.path, sizeof m->target.path, "/metrics");
	}
	m->on = true;
	m->exposed = bench_metrics_scrape(&m->target, &m->before, m->why, sizeof m->why) == 0;
}

void bench_relay_metrics_end(struct bench_relay_metrics *m)
{
	if (m->exposed)
		m->exposed = bench_metrics_scrape(&m->target, &m->after, m->why, sizeof m->why) == 0;
}

/* The client's side of figure f. */
static double client_fig(enum bench_metrics_fig f, const struct bench_relay_result *r)
{
	switch (f) {
	case BENCH_MET_SESSIONS:
		return (double)r->sessions_up + (double)r->churned;
	case BENCH_MET_MESSAGES:
		return (double)r->sent;
	case BENCH_MET_BYTES:
		return (double)r->wire.a_tx_payload + (double)r->wire.b_tx_payload;
	case BENCH_MET_DROPS:
	case BENCH_MET_NUM:
		break;
	}
	return (double)bench_relay_errors_total(&r->err);
}

/* The relay's delta of f, NAN when not exposed. */
static double relay_fig(const struct bench_relay_metrics *m, enum bench_metrics_fig f)
{
	if (!m->exposed || !m->before.found[f] || !m->after.found[f])
		return NAN;
	return m->after.v[f] - m->before.v[f];
}

struct json_object *bench_relay_metrics_json(const struct bench_relay_metrics *m, const struct bench_relay_result *r)
{
	if (!m->on)
		return NULL;
	struct json_object *j = json_object_new_object();
	json_object_object_add(j, "url", json_object_new_string(m->url));
	json_object_object_add(j, "exposed", json_object_new_boolean(m->exposed));
	json_object_object_add(j, "reason", m->exposed ? NULL : json_object_new_string(m->why));
	for (int k = 0; k < BENCH_MET_NUM; k++) {
		enum bench_metrics_fig f = (enum bench_metrics_fig)k;
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "relay", bench_report_num(relay_fig(m, f), 0));
		json_object_object_add(o, f == BENCH_MET_DROPS ? "client_errors" : "client",
				       bench_report_num(client_fig(f, r), 0));
		json_object_object_add(j, bench_metrics_fig_name(f), o);
	}
	return j;
}

void bench_relay_metrics_print(FILE *f, const struct bench_relay_metrics *m, const struct bench_relay_result *r)
{
	if (!m->on)
		return;
	if (!m->exposed) {
		fprintf(f, "\nrelay's own figures: %s not exposed (%s)\n", m->url, m->why);
		return;
	}
	static const char *const rows[BENCH_MET_NUM] = {
		"sessions paired", "data messages", "payload bytes", "drops (relay) / errors (client)",
	};
	fprintf(f, "\nrelay's own figures (%s, deltas over the run) beside the client's\n", m->url);
	bench_report_row(f, 34, "", "%14s %14s", "relay", "client");
	for (int k = 0; k < BENCH_MET_NUM; k++) {
		double v = relay_fig(m, (enum bench_metrics_fig)k);
		char rv[32];
		if (isfinite(v))
			snprintf(rv, sizeof rv, "%.0f", v);
		else
			snprintf(rv, sizeof rv, "-");
		bench_report_row(f, 34, rows[k], "%14s %14.0f", rv, client_fig((enum bench_metrics_fig)k, r));
	}
}
