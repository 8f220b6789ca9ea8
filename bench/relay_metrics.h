#ifndef BENCH_RELAY_METRICS_H
#define BENCH_RELAY_METRICS_H
/* bench/relay_metrics.h: `atmosphere-bench relay --metrics URL|off`, the
 * relay's own /metrics deltas beside the client-side figures of a run
 * (docs/BENCH.md, "The relay's own figures"). The scrapes are
 * bench/metrics.h's, on the main thread before core_rt_run and after it;
 * this file decides the URL and renders the comparison.
 *
 * Default URL: http://HOST:PORT/metrics of --url (ws:// only; none for
 * wss:// nor with --sink). A target without /metrics (connection refused,
 * 404, not the format) is not an error: the run says "not exposed" and the
 * reason, and its exit status is unchanged. */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#include "bench/metrics.h"
#include "bench/relay_opts.h"
#include "bench/relay_report.h"

/* struct bench_relay_metrics: one run's scrapes; caller storage, filled by
 * bench_relay_metrics_begin and _end. */
struct bench_relay_metrics {
	bool on;                     /* a URL to scrape (given or derived) */
	char url[BENCH_METRICS_HOST_MAX + BENCH_METRICS_PATH_MAX + 24];
	struct bench_metrics_target target;
	bool exposed;                /* both scrapes answered with the format */
	char why[200];               /* when not exposed, or not on */
	struct bench_metrics_snap before, after;
};

/* bench_relay_metrics_begin decides the URL from o (--metrics, or derived
 * from --url) and scrapes it once. Blocks up to BENCH_METRICS_TIMEOUT_MS;
 * never fails the run. */
void bench_relay_metrics_begin(struct bench_relay_metrics *m, const struct bench_relay_opts *o);

/* bench_relay_metrics_end scrapes again, after the run, when the first
 * scrape worked. Blocks up to BENCH_METRICS_TIMEOUT_MS. */
void bench_relay_metrics_end(struct bench_relay_metrics *m);

/* bench_relay_metrics_json returns the "relay_metrics" object (NULL, JSON
 * null, when off): url, exposed, reason, and per figure {relay, client}
 * (relay null when the figure is not exposed). The caller owns it. */
struct json_object *bench_relay_metrics_json(const struct bench_relay_metrics *m, const struct bench_relay_result *r);

/* bench_relay_metrics_print writes the comparison (or "not exposed") to f,
 * nothing when off. */
void bench_relay_metrics_print(FILE *f, const struct bench_relay_metrics *m, const struct bench_relay_result *r);

#endif
