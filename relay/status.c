/* The status endpoints: /health (the seed's format), /stats (JSON) and
 * /metrics (Prometheus text), and the plain HTTP answers the relay sends. */
#include "relay/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "relay/http.h"

/* ---- status endpoints ---- */

void relay_server_stats(const struct relay_server *srv, struct relay_stats *out)
{
	struct relay_server *s = (struct relay_server *)srv;
	memset(out, 0, sizeof *out);
	out->total_sessions = atomic_load(&s->total_sessions);
	out->active_sessions = atomic_load(&s->active);
	out->waiting_sessions = atomic_load(&s->waiting);
	out->connections = atomic_load(&s->connections);
	out->total_connections = atomic_load(&s->total_connections);
	for (unsigned i = 0; i < srv->o.threads; i++) {
		out->total_bytes_relayed += atomic_load_explicit(&s->th[i].bytes, memory_order_relaxed);
		out->total_messages_relayed += atomic_load_explicit(&s->th[i].msgs, memory_order_relaxed);
	}
	out->rejected_409 = atomic_load(&s->rejected_409);
	out->rejected_400 = atomic_load(&s->rejected_400);
	out->rejected_limit = atomic_load(&s->rejected_limit);
	out->handshake_timeouts = atomic_load(&s->handshake_timeouts);
	out->protocol_errors = atomic_load(&s->protocol_errors);
	out->too_big = atomic_load(&s->too_big);
	out->keepalive_timeouts = atomic_load(&s->keepalive_timeouts);
	out->hibernations = atomic_load_explicit(&s->hibernations, memory_order_relaxed);
	out->held_bytes = atomic_load(&s->held);
	out->stuck_bytes = atomic_load(&s->stuck_bytes);
	out->stuck_shed = atomic_load(&s->stuck_shed);
	out->handshakes = atomic_load(&s->handshakes);
	out->shed = atomic_load(&s->shed);
	out->max_connections = s->max_conns;
	out->max_handshakes = s->o.max_handshakes;
	out->uptime_s = (core_now_ns() - srv->started_ns) / 1000000000u;
	relay_quota_stats(srv, out);
	relay_access_stats(srv, out);
	out->proxied = atomic_load(&s->proxied);
	out->proxy_refused = atomic_load(&s->proxy_refused);
}

static int body_health(const struct relay_stats *st, char *b, size_t cap)
{
	/* Exactly the seed's shape: {"status": "ok", "sessions": N, "timestamp": T} */
	return snprintf(b, cap, "{\"status\": \"ok\", \"sessions\": %" PRIu64 ", \"timestamp\": %lld}",
			st->active_sessions + st->waiting_sessions, (long long)time(NULL));
}

static int body_stats_core(const struct relay_stats *st, char *b, size_t cap)
{
	return snprintf(b, cap,
			"{\"total_sessions\": %" PRIu64 ", \"active_sessions\": %" PRIu64
			", \"waiting_sessions\": %" PRIu64 ", \"connections\": %" PRIu64
			", \"total_connections\": %" PRIu64 ", \"total_bytes_relayed\": %" PRIu64
			", \"total_messages_relayed\": %" PRIu64 ", \"uptime_s\": %" PRIu64
			", \"rejected\": {\"session_full\": %" PRIu64 ", \"bad_request\": %" PRIu64
			", \"limits\": %" PRIu64 ", \"handshake_timeout\": %" PRIu64 ", \"shed\": %" PRIu64 "}"
			", \"protocol_errors\": %" PRIu64 ", \"too_big\": %" PRIu64
			", \"keepalive_timeouts\": %" PRIu64 ", \"hibernations\": %" PRIu64 ", \"held_bytes\": %" PRIu64 ", \"stuck_bytes\": %" PRIu64
			", \"stuck_shed\": %" PRIu64 ", \"handshakes\": %" PRIu64
			", \"max_connections\": %" PRIu64 ", \"max_handshakes\": %" PRIu64
			", \"proxied\": %" PRIu64 ", \"proxy_refused\": %" PRIu64 "}",
			st->total_sessions, st->active_sessions, st->waiting_sessions, st->connections,
			st->total_connections, st->total_bytes_relayed, st->total_messages_relayed, st->uptime_s,
			st->rejected_409, st->rejected_400, st->rejected_limit, st->handshake_timeouts, st->shed,
			st->protocol_errors, st->too_big, st->keepalive_timeouts, st->hibernations, st->held_bytes, st->stuck_bytes,
			st->stuck_shed, st->handshakes, st->max_connections, st->max_handshakes, st->proxied, st->proxy_refused);
}

static int body_metrics_core(const struct relay_stats *st, char *b, size_t cap)
{
	return snprintf(
		b, cap,
		"# HELP atmosphere_relay_sessions_total Sessions paired since start.\n"
		"# TYPE atmosphere_relay_sessions_total counter\n"
		"atmosphere_relay_sessions_total %" PRIu64 "\n"
		"# HELP atmosphere_relay_sessions Sessions now, by state.\n"
		"# TYPE atmosphere_relay_sessions gauge\n"
		"atmosphere_relay_sessions{state=\"active\"} %" PRIu64 "\n"
		"atmosphere_relay_sessions{state=\"waiting\"} %" PRIu64 "\n"
		"# HELP atmosphere_relay_connections Open client connections.\n"
		"# TYPE atmosphere_relay_connections gauge\n"
		"atmosphere_relay_connections %" PRIu64 "\n"
		"# HELP atmosphere_relay_connections_total Connections accepted since start.\n"
		"# TYPE atmosphere_relay_connections_total counter\n"
		"atmosphere_relay_connections_total %" PRIu64 "\n"
		"# HELP atmosphere_relay_bytes_relayed_total Payload bytes forwarded.\n"
		"# TYPE atmosphere_relay_bytes_relayed_total counter\n"
		"atmosphere_relay_bytes_relayed_total %" PRIu64 "\n"
		"# HELP atmosphere_relay_messages_relayed_total Messages forwarded.\n"
		"# TYPE atmosphere_relay_messages_relayed_total counter\n"
		"atmosphere_relay_messages_relayed_total %" PRIu64 "\n"
		"# HELP atmosphere_relay_rejected_total Requests refused, by reason.\n"
		"# TYPE atmosphere_relay_rejected_total counter\n"
		"atmosphere_relay_rejected_total{reason=\"session_full\"} %" PRIu64 "\n"
		"atmosphere_relay_rejected_total{reason=\"bad_request\"} %" PRIu64 "\n"
		"atmosphere_relay_rejected_total{reason=\"limits\"} %" PRIu64 "\n"
		"atmosphere_relay_rejected_total{reason=\"handshake_timeout\"} %" PRIu64 "\n"
		"atmosphere_relay_rejected_total{reason=\"shed\"} %" PRIu64 "\n"
		"# HELP atmosphere_relay_closes_total Connections failed by the relay, by reason.\n"
		"# TYPE atmosphere_relay_closes_total counter\n"
		"atmosphere_relay_closes_total{reason=\"protocol_error\"} %" PRIu64 "\n"
		"atmosphere_relay_closes_total{reason=\"too_big\"} %" PRIu64 "\n"
		"atmosphere_relay_closes_total{reason=\"keepalive_timeout\"} %" PRIu64 "\n"
		"# HELP atmosphere_relay_hibernations_total Idle spells a connection began without its stack (--hibernate-after).\n"
		"# TYPE atmosphere_relay_hibernations_total counter\n"
		"atmosphere_relay_hibernations_total %" PRIu64 "\n"
		"# HELP atmosphere_relay_held_bytes Bytes held for clients whose peer has not arrived.\n"
		"# TYPE atmosphere_relay_held_bytes gauge\n"
		"atmosphere_relay_held_bytes %" PRIu64 "\n"
		"# HELP atmosphere_relay_stuck_bytes Bytes kept for peers that do not read.\n"
		"# TYPE atmosphere_relay_stuck_bytes gauge\n"
		"atmosphere_relay_stuck_bytes %" PRIu64 "\n"
		"# HELP atmosphere_relay_stuck_shed_total Sessions ended because --stuck-total was full.\n"
		"# TYPE atmosphere_relay_stuck_shed_total counter\n"
		"atmosphere_relay_stuck_shed_total %" PRIu64 "\n"
		"# HELP atmosphere_relay_handshakes Connections still sending their HTTP request.\n"
		"# TYPE atmosphere_relay_handshakes gauge\n"
		"atmosphere_relay_handshakes %" PRIu64 "\n"
		"# HELP atmosphere_relay_proxied_total Connections whose client address a trusted proxy gave.\n"
		"# TYPE atmosphere_relay_proxied_total counter\n"
		"atmosphere_relay_proxied_total %" PRIu64 "\n"
		"# HELP atmosphere_relay_proxy_refused_total Trusted-proxy connections closed for a missing or bad PROXY header.\n"
		"# TYPE atmosphere_relay_proxy_refused_total counter\n"
		"atmosphere_relay_proxy_refused_total %" PRIu64 "\n"
		"# HELP atmosphere_relay_uptime_seconds Seconds since start.\n"
		"# TYPE atmosphere_relay_uptime_seconds gauge\n"
		"atmosphere_relay_uptime_seconds %" PRIu64 "\n",
		st->total_sessions, st->active_sessions, st->waiting_sessions, st->connections, st->total_connections,
		st->total_bytes_relayed, st->total_messages_relayed, st->rejected_409, st->rejected_400,
		st->rejected_limit, st->handshake_timeouts, st->shed, st->protocol_errors, st->too_big,
		st->keepalive_timeouts, st->hibernations, st->held_bytes, st->stuck_bytes, st->stuck_shed, st->handshakes,
		st->proxied, st->proxy_refused, st->uptime_s);
}

static const char *access_name(enum relay_access_mode m)
{
	return m == RELAY_ACCESS_MESH_TOKEN ? "mesh-token" : m == RELAY_ACCESS_ALLOW_LIST ? "allow-list" : "open";
}

/* /stats: the core object, then "access" inside it. */
static int body_stats(const struct relay_stats *st, char *b, size_t cap)
{
	int n = body_stats_core(st, b, cap);
	if (n < 2 || (size_t)n >= cap)
		return n;
	n--; /* over the closing brace */
	int m = snprintf(b + n, cap - (size_t)n,
			 ", \"access\": {\"mode\": \"%s\", \"refused\": {\"no_ticket\": %" PRIu64
			 ", \"bad_ticket\": %" PRIu64 ", \"unknown_key\": %" PRIu64 ", \"expired\": %" PRIu64
			 ", \"replayed\": %" PRIu64 ", \"network\": %" PRIu64 ", \"busy\": %" PRIu64
			 "}, \"tickets_remembered\": %" PRIu64 "}}",
			 access_name(st->access), st->refused_no_ticket, st->refused_bad_ticket, st->refused_unknown_key,
			 st->refused_expired, st->refused_replayed, st->refused_network, st->refused_busy,
			 st->tickets_remembered);
	if (m < 0 || (size_t)(n + m) >= cap)
		return m < 0 ? m : n + m;
	n += m - 1; /* over the closing brace again: the budget's member */
	n += relay_quota_json(st, b + n, cap - (size_t)n);
	m = snprintf(b + n, cap - (size_t)n, "}");
	return m < 0 ? m : n + m;
}

/* /metrics: the core families, then access control's. */
static int body_metrics(const struct relay_stats *st, char *b, size_t cap)
{
	int n = body_metrics_core(st, b, cap);
	if (n < 0 || (size_t)n >= cap)
		return n;
	int m = snprintf(
		b + n, cap - (size_t)n,
		"# HELP atmosphere_relay_access_refused_total Requests refused by access control (--access), by reason.\n"
		"# TYPE atmosphere_relay_access_refused_total counter\n"
		"atmosphere_relay_access_refused_total{reason=\"no_ticket\"} %" PRIu64 "\n"
		"atmosphere_relay_access_refused_total{reason=\"bad_ticket\"} %" PRIu64 "\n"
		"atmosphere_relay_access_refused_total{reason=\"unknown_key\"} %" PRIu64 "\n"
		"atmosphere_relay_access_refused_total{reason=\"expired\"} %" PRIu64 "\n"
		"atmosphere_relay_access_refused_total{reason=\"replayed\"} %" PRIu64 "\n"
		"atmosphere_relay_access_refused_total{reason=\"network\"} %" PRIu64 "\n"
		"atmosphere_relay_access_refused_total{reason=\"busy\"} %" PRIu64 "\n"
		"# HELP atmosphere_relay_tickets_remembered Nonces of accepted tickets kept (each at least until it expires).\n"
		"# TYPE atmosphere_relay_tickets_remembered gauge\n"
		"atmosphere_relay_tickets_remembered %" PRIu64 "\n",
		st->refused_no_ticket, st->refused_bad_ticket, st->refused_unknown_key, st->refused_expired,
		st->refused_replayed, st->refused_network, st->refused_busy, st->tickets_remembered);
	return m < 0 ? m : n + m;
}

/* The histograms and the per-reactor gauges, read from every reactor's own
 * counters (relay/hist.h). Returns the length written, or what snprintf
 * would have written (>= cap: truncated), or -1. */
static int body_metrics_reactors(const struct relay_server *srv, char *b, size_t cap)
{
	struct relay_hist_snap fwd = {0}, pair = {0};
	for (unsigned i = 0; i < srv->o.threads; i++) {
		relay_hist_add_to(&srv->th[i].fwd_hist, &fwd);
		relay_hist_add_to(&srv->th[i].pair_hist, &pair);
	}
	size_t n = 0;
#define AT (n < cap ? b + n : b + cap), (n < cap ? cap - n : 0)
	int m = relay_hist_prom(AT, "atmosphere_relay_forward_latency_seconds",
				"From the reactor pass that reaped a batch of client frames to its last byte handed "
				"to the peer's socket, per forwarded batch.",
				&relay_hist_forward_bounds, &fwd);
	if (m < 0)
		return -1;
	n += (size_t)m;
	m = relay_hist_prom(AT, "atmosphere_relay_pairing_wait_seconds",
			    "From a session's first client to its second, per paired session.", &relay_hist_pairing_bounds,
			    &pair);
	if (m < 0)
		return -1;
	n += (size_t)m;
	m = snprintf(AT, "# HELP atmosphere_relay_thread_sessions Sessions in each reactor thread's table, by state.\n"
			 "# TYPE atmosphere_relay_thread_sessions gauge\n");
	if (m < 0)
		return -1;
	n += (size_t)m;
	for (unsigned i = 0; i < srv->o.threads; i++) {
		m = snprintf(AT,
			     "atmosphere_relay_thread_sessions{thread=\"%u\",state=\"active\"} %" PRIu64 "\n"
			     "atmosphere_relay_thread_sessions{thread=\"%u\",state=\"waiting\"} %" PRIu64 "\n",
			     i, atomic_load_explicit(&srv->th[i].sessions_active, memory_order_relaxed), i,
			     atomic_load_explicit(&srv->th[i].sessions_waiting, memory_order_relaxed));
		if (m < 0)
			return -1;
		n += (size_t)m;
	}
#undef AT
	return n > INT32_MAX ? -1 : (int)n;
}

void relay_send_plain(struct net_stream *s, int status, const char *ctype, const char *body, size_t body_len)
{
	uint8_t stack[8192];
	struct relay_http_response r = {.status = status, .content_type = ctype, .body = (const uint8_t *)body,
					.body_len = body_len};
	/* The head is under 512 bytes; /metrics with many threads is larger
	 * than the stack buffer. */
	size_t cap = body_len + 512;
	uint8_t *out = cap <= sizeof stack ? stack : malloc(cap);
	if (!out)
		return;
	int n = relay_http_response_build(out, cap <= sizeof stack ? sizeof stack : cap, &r);
	if (n > 0)
		net_stream_send(s, out, (size_t)n, 5000);
	if (out != stack)
		free(out);
}

void relay_status_serve(struct relay_server *srv, struct net_stream *st, int route)
{
	struct relay_stats stats;
	char body[8192]; /* /health and /stats; /metrics is on the heap */
	int bl;
	relay_server_stats(srv, &stats);
	if (route == RELAY_HTTP_ROUTE_HEALTH) {
		bl = body_health(&stats, body, sizeof body);
		relay_send_plain(st, 200, "application/json", body, (size_t)bl);
	} else if (route == RELAY_HTTP_ROUTE_STATS) {
		bl = body_stats(&stats, body, sizeof body);
		if (bl < 0 || (size_t)bl >= sizeof body)
			bl = (int)sizeof body - 1;
		relay_send_plain(st, 200, "application/json", body, (size_t)bl);
	} else {
		/* About 5.1 KB of counters, 3.6 KB of histograms and 170 B per
		 * reactor thread: on the heap, sized for the threads. */
		size_t cap = 16384 + (size_t)srv->o.threads * 256;
		char *m = malloc(cap);
		if (!m) {
			relay_send_plain(st, 503, "text/plain", "out of memory\n", 14);
			return;
		}
		bl = body_metrics(&stats, m, cap);
		/* snprintf's count past the buffer must not become a length
		 * (tests/relay/access.py checks the whole body arrives). */
		if (bl < 0 || (size_t)bl >= cap)
			bl = (int)cap - 1;
		bl += relay_quota_metrics(&stats, m + bl, cap - (size_t)bl);
		int r = body_metrics_reactors(srv, m + bl, cap - (size_t)bl);
		if (r > 0 && (size_t)r < cap - (size_t)bl)
			bl += r;
		relay_send_plain(st, 200, "text/plain; version=0.0.4", m, (size_t)bl);
		free(m);
	}
}

