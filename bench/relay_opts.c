/* bench/relay_opts.c: options of `atmosphere-bench relay` (see
 * bench/relay_opts.h). */
#include "bench/relay_opts.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "net/addr.h"

#define CMD "relay"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: atmosphere-bench relay --url ws[s]://HOST:PORT [--mode throughput|latency|connections]\n"
		"                              [--sessions N] [--size BYTES] [--rate MSGS_PER_S] [--duration S]\n"
		"                              [--json] [--csv] [--relay-pid PID] [OPTIONS]\n\n"
		"Drives a relay that speaks the seed protocol (GET /relay/{id}, two clients per id,\n"
		"frames forwarded) with N sessions of two WebSocket connections each, A -> B.\n\n"
		"Modes:\n"
		"  throughput    A sends --size messages as fast as TCP lets it: payload MB/s and\n"
		"                messages/s, in total and per session\n"
		"  latency       A sends --rate messages/s on a fixed schedule; one-way latency of\n"
		"                each message from its *scheduled* send time (corrected for\n"
		"                coordinated omission), p50/p90/p99/p99.9/max, and delivery\n"
		"  connections   opens N sessions, holds them idle for --duration, checks each\n"
		"                still forwards one message: set-up rate, and with --relay-pid\n"
		"                the relay's resident memory per connection\n"
		"Every mode counts wire bytes against payload bytes, both directions, handshakes,\n"
		"keepalives and closes included, and counts errors (refused, HTTP 409/429/503,\n"
		"closes, timeouts) without stopping.\n\n"
		"Options:\n"
		"  --url ws://HOST:PORT   the relay; wss://HOST:PORT: over TLS (BoringSSL, TLS 1.3 unless\n"
		"                         --tls-version 1.2; SNI from HOST unless it is an address;\n"
		"                         wire bytes are then the TLS bytes on the socket)\n"
		"  --ca FILE              wss: trust the CA certificates in FILE (PEM), e.g. a test CA;\n"
		"                         default: the system store\n"
		"  --insecure             wss: do not check the relay's certificate\n"
		"  --tls-version V        wss: 1.3 (default) or 1.2\n"
		"  --source-range CIDR    connect from the addresses of CIDR (IPv4, /8 to /32, local:\n"
		"                         127.0.0.0/8 on loopback), connection k from the k-th mod\n"
		"                         --sources: many connections to one address then do not make\n"
		"                         the kernel's ephemeral port search long\n"
		"  --sources N            source addresses to spread over, 1..%d (default %d; alone:\n"
		"                         from 127.0.0.0/8)\n"
		"  --mode M               throughput (default), latency or connections\n"
		"  --sessions N           sessions, 1..%d (default %d); two descriptors each\n"
		"  --size BYTES           message payload, K/M suffixes (default %d); latency: %d..%d\n"
		"  --rate N               latency: messages/s per session, 1..%d (default %d)\n"
		"  --duration S           measured time, or connections: hold time (default 5s)\n"
		"  --warmup S             traffic before the measured time (default 500ms)\n"
		"  --threads N            load generator reactor threads (default: one per allowed CPU)\n"
		"  --concurrency N        sessions being set up at once (default %d)\n"
		"  --relay-pid PID        read the relay's VmRSS before and after opening the sessions\n"
		"  --sink HOST:PORT       baseline: listen on HOST:PORT and be B there; A still dials\n"
		"                         --url, which must be a TCP proxy forwarding to the sink;\n"
		"                         HOST:0 without --url: A dials the sink itself (plain TCP\n"
		"                         A -> B, no hop: the load generator's own ceiling)\n"
		"  --label TEXT           name of the thing measured, copied into the JSON\n"
		"  --json                 print one JSON object instead of the table\n"
		"  --json-out FILE        also write that JSON object to FILE\n"
		"  --csv                  print a CSV header and one row instead of the table\n"
		"  --hist-out FILE        latency: write the histogram as CSV (for bench/plot)\n\n"
		"Traffic goes only to --url (and the --sink address). Progress goes to stderr on a\n"
		"terminal. Exit status: 0 ran (errors are counted in the results), 1 could not run\n"
		"(no session came up, io_uring unavailable), 2 usage.\n",
		BENCH_RELAY_SOURCES_MAX, BENCH_RELAY_SOURCES_DEFAULT, BENCH_RELAY_SESSIONS_MAX,
		BENCH_RELAY_SESSIONS_DEFAULT, BENCH_RELAY_SIZE_DEFAULT,
		BENCH_RELAY_LAT_SIZE_MIN, BENCH_RELAY_LAT_SIZE_MAX, BENCH_RELAY_RATE_MAX, BENCH_RELAY_RATE_DEFAULT,
		BENCH_RELAY_CONCURRENCY_DEFAULT);
}

const char *bench_relay_mode_name(enum bench_relay_mode m)
{
	switch (m) {
	case BENCH_RELAY_LATENCY:
		return "latency";
	case BENCH_RELAY_CONNECTIONS:
		return "connections";
	default:
		return "throughput";
	}
}

/* Splits "HOST[:PORT]" or "[V6][:PORT]" of length len (net/addr.h), with
 * the bench's rules: a host of name or address characters, an IPv6 address
 * in brackets, a port from 1 to 65535. Port 0 when absent. */
static int split_host(const char *s, size_t len, char host[static BENCH_RELAY_HOST_MAX + 1], uint16_t *out_port,
		      char *errbuf, size_t errbuf_len)
{
	struct net_hostport hp;
	int r = net_hostport_split(&hp, s, len);
	if (r == NET_ADDR_E_UNCLOSED) {
		snprintf(errbuf, errbuf_len, "unclosed '[' in the host");
		return -1;
	}
	if (r != NET_ADDR_OK) {
		snprintf(errbuf, errbuf_len, "expected ':PORT' after ']'");
		return -1;
	}
	if (!hp.bracketed && memchr(hp.host, ':', hp.host_len)) {
		snprintf(errbuf, errbuf_len, "an IPv6 address goes in brackets: [ADDRESS]:PORT");
		return -1;
	}
	if (hp.host_len == 0 || hp.host_len > BENCH_RELAY_HOST_MAX) {
		snprintf(errbuf, errbuf_len, "the host is empty or longer than %d bytes", BENCH_RELAY_HOST_MAX);
		return -1;
	}
	for (size_t i = 0; i < hp.host_len; i++) {
		char c = hp.host[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			  c == '-' || c == ':' || c == '_' || c == '%';
		if (!ok) {
			snprintf(errbuf, errbuf_len, "the host holds '%c', which no host name or address does", c);
			return -1;
		}
	}
	memcpy(host, hp.host, hp.host_len);
	host[hp.host_len] = '\0';
	*out_port = 0;
	if (hp.has_port && !net_port_parse(hp.port, hp.port_len, out_port)) {
		snprintf(errbuf, errbuf_len, "port '%.*s': expected a number from 1 to 65535",
			 (int)(hp.port_len > 8 ? 8 : hp.port_len), hp.port);
		return -1;
	}
	return 0;
}

int bench_relay_parse_url(const char *url, char host[static BENCH_RELAY_HOST_MAX + 1], uint16_t *out_port,
			  bool *out_tls, char *errbuf, size_t errbuf_len)
{
	struct net_ws_url w;
	if (net_ws_url_split(&w, url) == NET_ADDR_E_SCHEME) {
		snprintf(errbuf, errbuf_len, "expected ws://HOST:PORT or wss://HOST:PORT");
		return -1;
	}
	*out_tls = w.tls;
	/* Everything after the scheme: the bench takes no path of its own. */
	const char *a = url + (w.tls ? 6 : 5);
	size_t len = strlen(a);
	if (len && a[len - 1] == '/')
		len--;
	if (memchr(a, '/', len) || memchr(a, '?', len) || memchr(a, '@', len)) {
		snprintf(errbuf, errbuf_len, "expected no path, query or user: the bench adds /relay/{id} itself");
		return -1;
	}
	if (split_host(a, len, host, out_port, errbuf, errbuf_len))
		return -1;
	if (*out_port == 0)
		*out_port = *out_tls ? 443 : 80;
	return 0;
}

int bench_relay_parse_cidr(const char *s, uint32_t *out_first, uint32_t *out_count, char *errbuf, size_t errbuf_len)
{
	char addr[16];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : 0;
	struct in_addr in;
	if (!slash || alen == 0 || alen >= sizeof addr) {
		snprintf(errbuf, errbuf_len, "expected an IPv4 range A.B.C.D/PREFIX, such as 127.0.0.0/8");
		return -1;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, &in) != 1) {
		snprintf(errbuf, errbuf_len, "'%s' is not an IPv4 address", addr);
		return -1;
	}
	char *end;
	const char *p = slash + 1;
	unsigned long prefix = (*p >= '0' && *p <= '9') ? strtoul(p, &end, 10) : 0;
	if (*p < '0' || *p > '9' || *end || prefix < 8 || prefix > 32) {
		snprintf(errbuf, errbuf_len, "prefix '/%s': expected 8 to 32", p);
		return -1;
	}
	uint32_t mask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
	uint32_t net = ntohl(in.s_addr) & mask;
	uint64_t size = 1ull << (32 - prefix);
	/* Network and broadcast addresses are no sources, except in /31 and /32
	 * (RFC 3021). */
	*out_first = prefix <= 30 ? net + 1 : net;
	*out_count = (uint32_t)(prefix <= 30 ? size - 2 : size);
	return 0;
}

int bench_relay_parse_hostport(const char *s, char host[static BENCH_RELAY_HOST_MAX + 1], uint16_t *out_port,
			       char *errbuf, size_t errbuf_len)
{
	size_t len = strlen(s);
	/* HOST:0 asks for any free port: split_host takes 1..65535 only. */
	bool any = len >= 2 && !strcmp(s + len - 2, ":0");
	if (split_host(s, any ? len - 2 : len, host, out_port, errbuf, errbuf_len))
		return -1;
	if (*out_port == 0 && !any) {
		snprintf(errbuf, errbuf_len, "expected HOST:PORT with a port from 0 to 65535");
		return -1;
	}
	return 0;
}

static const char *const valued[] = {
	"--url", "--mode", "--sessions", "--size", "--rate", "--duration", "--warmup", "--threads",
	"--concurrency", "--relay-pid", "--sink", "--label", "--json-out", "--hist-out", "--ca", "--tls-version",
	"--source-range", "--sources",
};

int bench_relay_opts_parse(struct bench_relay_opts *o, int argc, char **argv, FILE *out)
{
	char err[160];
	bool have_url = false, size_set = false, tls_version_set = false, sources_set = false, range_set = false;
	uint32_t range_count = 0;
	unsigned sources = BENCH_RELAY_SOURCES_DEFAULT;
	*o = (struct bench_relay_opts){
		.mode = BENCH_RELAY_THROUGHPUT,
		.sessions = BENCH_RELAY_SESSIONS_DEFAULT,
		.size = BENCH_RELAY_SIZE_DEFAULT,
		.rate = BENCH_RELAY_RATE_DEFAULT,
		.duration_ms = BENCH_RELAY_DURATION_DEFAULT_MS,
		.warmup_ms = BENCH_RELAY_WARMUP_DEFAULT_MS,
		.concurrency = BENCH_RELAY_CONCURRENCY_DEFAULT,
		.tls_version = 13,
	};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		uint64_t v;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(out);
			return 0;
		}
		if (!strcmp(a, "--json")) {
			o->json = true;
			continue;
		}
		if (!strcmp(a, "--csv")) {
			o->csv = true;
			continue;
		}
		if (!strcmp(a, "--insecure")) {
			o->insecure = true;
			continue;
		}
		bool known = false;
		for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
			known |= !strcmp(a, valued[k]);
		if (!known)
			return bench_usage_error(CMD, "unknown option '%s'", a);
		if (i + 1 >= argc)
			return bench_usage_error(CMD, "%s needs a value", a);
		const char *val = argv[++i];
		if (!strcmp(a, "--url")) {
			if (bench_relay_parse_url(val, o->host, &o->port, &o->tls, err, sizeof err))
				return bench_usage_error(CMD, "--url '%s': %s", val, err);
			have_url = true;
		} else if (!strcmp(a, "--sink")) {
			if (bench_relay_parse_hostport(val, o->sink_host, &o->sink_port, err, sizeof err))
				return bench_usage_error(CMD, "--sink '%s': %s", val, err);
			o->sink = true;
		} else if (!strcmp(a, "--mode")) {
			if (!strcmp(val, "throughput"))
				o->mode = BENCH_RELAY_THROUGHPUT;
			else if (!strcmp(val, "latency"))
				o->mode = BENCH_RELAY_LATENCY;
			else if (!strcmp(val, "connections"))
				o->mode = BENCH_RELAY_CONNECTIONS;
			else
				return bench_usage_error(CMD, "--mode '%s': expected throughput, latency or connections", val);
		} else if (!strcmp(a, "--sessions")) {
			if (!bench_parse_uint(CMD, a, val, 1, BENCH_RELAY_SESSIONS_MAX, &v))
				return 2;
			o->sessions = (unsigned)v;
		} else if (!strcmp(a, "--size")) {
			if (!bench_parse_size(CMD, a, val, 1, BENCH_RELAY_SIZE_MAX, &v))
				return 2;
			o->size = (size_t)v;
			size_set = true;
		} else if (!strcmp(a, "--rate")) {
			if (!bench_parse_uint(CMD, a, val, 1, BENCH_RELAY_RATE_MAX, &v))
				return 2;
			o->rate = (unsigned)v;
			o->rate_set = true;
		} else if (!strcmp(a, "--duration")) {
			if (!bench_parse_duration(CMD, a, val, BENCH_RELAY_DURATION_MIN_MS, BENCH_RELAY_DURATION_MAX_MS,
						  &o->duration_ms))
				return 2;
		} else if (!strcmp(a, "--warmup")) {
			if (!strcmp(val, "0")) {
				o->warmup_ms = 0;
			} else if (!bench_parse_duration(CMD, a, val, 1, BENCH_RELAY_WARMUP_MAX_MS, &o->warmup_ms)) {
				return 2;
			}
		} else if (!strcmp(a, "--threads")) {
			if (!bench_parse_uint(CMD, a, val, 1, BENCH_RELAY_THREADS_MAX, &v))
				return 2;
			o->threads = (unsigned)v;
		} else if (!strcmp(a, "--concurrency")) {
			if (!bench_parse_uint(CMD, a, val, 1, BENCH_RELAY_CONCURRENCY_MAX, &v))
				return 2;
			o->concurrency = (unsigned)v;
		} else if (!strcmp(a, "--relay-pid")) {
			if (!bench_parse_uint(CMD, a, val, 1, 4194304, &v))
				return 2;
			o->relay_pid = (int)v;
		} else if (!strcmp(a, "--ca")) {
			if (!*val || strlen(val) > BENCH_RELAY_PATH_MAX)
				return bench_usage_error(CMD, "--ca '%s': expected the path of a PEM file", val);
			o->ca_file = val;
		} else if (!strcmp(a, "--tls-version")) {
			if (!strcmp(val, "1.3"))
				o->tls_version = 13;
			else if (!strcmp(val, "1.2"))
				o->tls_version = 12;
			else
				return bench_usage_error(CMD, "--tls-version '%s': expected 1.3 or 1.2", val);
			tls_version_set = true;
		} else if (!strcmp(a, "--source-range")) {
			if (bench_relay_parse_cidr(val, &o->src_first, &range_count, err, sizeof err))
				return bench_usage_error(CMD, "--source-range '%s': %s", val, err);
			snprintf(o->src_range, sizeof o->src_range, "%s", val);
			range_set = true;
		} else if (!strcmp(a, "--sources")) {
			if (!bench_parse_uint(CMD, a, val, 1, BENCH_RELAY_SOURCES_MAX, &v))
				return 2;
			sources = (unsigned)v;
			sources_set = true;
		} else if (!strcmp(a, "--label")) {
			o->label = val;
		} else if (!strcmp(a, "--json-out")) {
			o->json_out = val;
		} else {
			o->hist_out = val;
		}
	}
	if (o->sink && o->sink_port == 0) {
		/* Plain TCP A -> B: A dials the sink itself, wherever it was bound. */
		if (have_url)
			return bench_usage_error(CMD, "--sink HOST:0 means A dials the sink directly: leave out --url");
		snprintf(o->host, sizeof o->host, "%s", o->sink_host);
		have_url = true;
	}
	if (!have_url)
		return bench_usage_error(CMD, "--url ws://HOST:PORT is required");
	if (!o->tls && (o->insecure || o->ca_file || tls_version_set))
		return bench_usage_error(CMD, "--insecure, --ca and --tls-version apply to --url wss:// only");
	if (o->insecure && o->ca_file)
		return bench_usage_error(CMD, "--insecure checks no certificate: leave out --ca '%s'", o->ca_file);
	if (sources_set && !range_set) {
		/* Alone, --sources spreads over loopback. */
		bench_relay_parse_cidr("127.0.0.0/8", &o->src_first, &range_count, err, sizeof err);
		snprintf(o->src_range, sizeof o->src_range, "127.0.0.0/8");
		range_set = true;
	}
	if (range_set) {
		if (sources_set && sources > range_count)
			return bench_usage_error(CMD, "--sources %u: --source-range %s holds %u usable addresses", sources,
						 o->src_range, range_count);
		o->num_src = sources < range_count ? sources : range_count;
	}
	if (o->json && o->csv)
		return bench_usage_error(CMD, "--json and --csv both ask for stdout: pick one (--json-out writes a file)");
	if (o->rate_set && o->mode != BENCH_RELAY_LATENCY)
		return bench_usage_error(CMD, "--rate applies to --mode latency only");
	if (o->hist_out && o->mode != BENCH_RELAY_LATENCY)
		return bench_usage_error(CMD, "--hist-out applies to --mode latency only");
	if (o->mode == BENCH_RELAY_LATENCY) {
		if (!size_set)
			o->size = 64;
		if (o->size < BENCH_RELAY_LAT_SIZE_MIN || o->size > BENCH_RELAY_LAT_SIZE_MAX)
			return bench_usage_error(CMD, "--size %zu: latency messages are %d to %d bytes (a 16-byte stamp)",
						 o->size, BENCH_RELAY_LAT_SIZE_MIN, BENCH_RELAY_LAT_SIZE_MAX);
		if ((uint64_t)o->sessions * o->rate > BENCH_RELAY_TOTAL_RATE_MAX)
			return bench_usage_error(CMD, "--sessions %u x --rate %u is over %d messages/s in total",
						 o->sessions, o->rate, BENCH_RELAY_TOTAL_RATE_MAX);
	}
	if (o->concurrency > o->sessions)
		o->concurrency = o->sessions;
	return -1;
}
