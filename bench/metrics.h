#ifndef BENCH_METRICS_H
#define BENCH_METRICS_H
/* bench/metrics.h: the relay's own view of a run, from its Prometheus
 * /metrics (`atmosphere-bench relay --metrics`, docs/BENCH.md "The relay's
 * own figures").
 *
 * Design: GET the URL once before the run and once after it, read four
 * figures out of each body (bench/prom.h) and report their deltas beside
 * the client-side ones. The figures are sums over every label set of the
 * families below (our relay's names, docs/RELAY.md); a relay that exposes
 * none of them reads as "exposed, no known figure":
 *   sessions  atmosphere_relay_sessions_total (sessions paired)
 *   messages  atmosphere_relay_messages_relayed_total
 *   bytes     atmosphere_relay_bytes_relayed_total (payload bytes)
 *   drops     atmosphere_relay_rejected_total + _closes_total +
 *             _stuck_shed_total (requests refused, connections failed,
 *             sessions shed)
 *
 * The scrape is plain HTTP/1.1 over a blocking socket with a deadline,
 * outside the reactor: it runs on the main thread before core_rt_run and
 * after it returned, so it costs the load nothing. https is not scraped.
 * A body over BENCH_PROM_BODY_MAX, a chunked body, a status other than 200
 * or a body that is not the format is "not exposed", with the reason. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/prom.h"

enum bench_metrics_fig {
	BENCH_MET_SESSIONS,
	BENCH_MET_MESSAGES,
	BENCH_MET_BYTES,
	BENCH_MET_DROPS,
	BENCH_MET_NUM,
};

enum bench_metrics_limits {
	BENCH_METRICS_HOST_MAX = 255,
	BENCH_METRICS_PATH_MAX = 255,
	BENCH_METRICS_TIMEOUT_MS = 3000,   /* connect, send and the whole answer */
};

/* struct bench_metrics_snap: one scrape's figures, v[f] the sum of the
 * samples of f's families; found[f] false when the body had none. */
struct bench_metrics_snap {
	bool found[BENCH_MET_NUM];
	double v[BENCH_MET_NUM];
};

/* struct bench_metrics_target: where to scrape, http://HOST[:PORT]/PATH
 * (host without the brackets of an IPv6 literal). */
struct bench_metrics_target {
	char host[BENCH_METRICS_HOST_MAX + 1];
	uint16_t port;
	char path[BENCH_METRICS_PATH_MAX + 1];
};

/* bench_metrics_fig_name returns "sessions", "messages", "bytes" or
 * "drops". */
const char *bench_metrics_fig_name(enum bench_metrics_fig f);

/* bench_metrics_parse_url splits http://HOST[:PORT][/PATH] (port 80 when
 * absent, path "/" when absent; an IPv6 literal in brackets) into out.
 * Returns 0, or -1 with the reason in errbuf (another scheme, https
 * included; a bad port; a name or path too long; a blank or control
 * character). Pure. */
int bench_metrics_parse_url(const char *url, struct bench_metrics_target *out, char *errbuf, size_t errbuf_len);

/* bench_metrics_from_text reads the figures out of a /metrics body.
 * Returns BENCH_PROM_OK with out filled (found[] says which), or the
 * parser's negative status with err filled. Pure. */
enum bench_prom_status bench_metrics_from_text(const char *body, size_t len, struct bench_metrics_snap *out,
					       struct bench_prom_error *err);

/* bench_metrics_scrape GETs t and reads its figures into out. Returns 0;
 * or -1 with the reason in why ("connect: Connection refused", "HTTP
 * 404", "line 3: bad value 'x'"). Blocks up to BENCH_METRICS_TIMEOUT_MS
 * (plus name resolution); not for a coroutine. */
int bench_metrics_scrape(const struct bench_metrics_target *t, struct bench_metrics_snap *out, char *why,
			 size_t why_len);

#endif
