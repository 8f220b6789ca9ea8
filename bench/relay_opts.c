/* bench/relay_opts.c: options of `atmosphere-bench relay` (see
 * bench/relay_opts.h). */
#include "bench/relay_opts.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/interval.h"
#include "bench/metrics.h"
#include "bench/think.h"
#include "net/addr.h"
#include "opt/table.h"

#define CMD "relay"

const char *bench_relay_direction_name(enum bench_relay_direction d)
{
	return d == BENCH_RELAY_BA ? "ba" : d == BENCH_RELAY_BOTH ? "both" : "ab";
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

/* What the table writes into: the options, and what only the checks after
 * the loop need. */
struct parsed {
	struct bench_relay_opts o;
	unsigned sources;
	uint32_t range_count;
};

static int take_url(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	struct bench_relay_opts *o = &((struct parsed *)dst)->o;
	char err[160];
	(void)s;
	if (bench_relay_parse_url(val, o->host, &o->port, &o->tls, err, sizeof err))
		return opt_usage_error(t, "--url '%s': %s", val, err);
	return 0;
}

static int take_sink(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	struct bench_relay_opts *o = &((struct parsed *)dst)->o;
	char err[160];
	(void)s;
	if (bench_relay_parse_hostport(val, o->sink_host, &o->sink_port, err, sizeof err))
		return opt_usage_error(t, "--sink '%s': %s", val, err);
	o->sink = true;
	return 0;
}

static int take_ca(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	(void)s;
	if (!*val || strlen(val) > BENCH_RELAY_PATH_MAX)
		return opt_usage_error(t, "--ca '%s': expected the path of a PEM file", val);
	((struct parsed *)dst)->o.ca_file = val;
	return 0;
}

static int take_range(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	struct parsed *p = dst;
	char err[160];
	(void)s;
	if (bench_relay_parse_cidr(val, &p->o.src_first, &p->range_count, err, sizeof err))
		return opt_usage_error(t, "--source-range '%s': %s", val, err);
	snprintf(p->o.src_range, sizeof p->o.src_range, "%s", val);
	return 0;
}

/* --threshold may be given up to BENCH_THRESHOLD_MAX times; each adds one. */
static int take_threshold(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	struct bench_relay_opts *o = &((struct parsed *)dst)->o;
	char err[256];
	(void)s;
	if (o->num_thresholds == BENCH_THRESHOLD_MAX)
		return opt_usage_error(t, "--threshold '%s': at most %d thresholds", val, BENCH_THRESHOLD_MAX);
	if (bench_threshold_parse(val, &o->thresholds[o->num_thresholds], err, sizeof err))
		return opt_usage_error(t, "--threshold '%s': %s", val, err);
	o->num_thresholds++;
	return 0;
}

static int take_size(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	struct bench_relay_opts *o = &((struct parsed *)dst)->o;
	char err[200];
	(void)s;
	if (bench_size_dist_parse(val, 1, BENCH_RELAY_SIZE_MAX, &o->sizes, err, sizeof err))
		return opt_usage_error(t, "--size '%s': %s", val, err);
	o->size = bench_size_dist_max(&o->sizes);
	return 0;
}

static int take_stage(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	struct bench_relay_opts *o = &((struct parsed *)dst)->o;
	char err[200];
	(void)s;
	if (bench_stage_parse(val, BENCH_RELAY_SESSIONS_MAX, &o->stages, err, sizeof err))
		return opt_usage_error(t, "--stage '%s': %s", val, err);
	return 0;
}

static int take_churn(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	struct bench_relay_opts *o = &((struct parsed *)dst)->o;
	char err[200];
	(void)s;
	if (bench_churn_parse(val, &o->churn_rate, err, sizeof err))
		return opt_usage_error(t, "--churn '%s': %s", val, err);
	return 0;
}

static int take_think(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	struct bench_relay_opts *o = &((struct parsed *)dst)->o;
	char err[200];
	(void)s;
	if (bench_think_parse(val, &o->think, err, sizeof err))
		return opt_usage_error(t, "--think '%s': %s", val, err);
	return 0;
}

static int take_rate_stage(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	struct bench_relay_opts *o = &((struct parsed *)dst)->o;
	char err[200];
	(void)s;
	if (bench_stage_parse(val, BENCH_RELAY_RATE_MAX, &o->rate_stages, err, sizeof err))
		return opt_usage_error(t, "--rate-stage '%s': %s", val, err);
	return 0;
}

/* --scenario was read before the table ran (bench_relay_opts_parse). */
static int take_scenario(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	(void)t, (void)s, (void)dst, (void)val;
	return 0;
}

#define F(member) OPT_FIELD(struct parsed, member)

static const struct opt_spec relay_specs[] = {
	{"--url", OPT_CUSTOM, .parse = take_url, .arg = "ws://HOST:PORT",
	 .help = "the relay; wss://HOST:PORT: over TLS (BoringSSL, TLS 1.3 unless\n"
		 "--tls-version 1.2; SNI from HOST unless it is an address;\n"
		 "wire bytes are then the TLS bytes on the socket)"},
	{"--ca", OPT_CUSTOM, .parse = take_ca, .arg = "FILE",
	 .help = "wss: trust the CA certificates in FILE (PEM), e.g. a test CA;\n"
		 "default: the system store"},
	{"--insecure", OPT_FLAG, F(o.insecure), .help = "wss: do not check the relay's certificate"},
	{"--tls-version", OPT_CHOICE, F(o.tls_version), .words = {"1.3", "1.2"}, .values = {13, 12}, .arg = "V",
	 .help = "wss: 1.3 (default) or 1.2"},
	{"--source-range", OPT_CUSTOM, .parse = take_range, .arg = "CIDR",
	 .help = "connect from the addresses of CIDR (IPv4, /8 to /32, local:\n"
		 "127.0.0.0/8 on loopback), connection k from the k-th mod\n"
		 "--sources: many connections to one address then do not make\n"
		 "the kernel's ephemeral port search long"},
	{"--sources", OPT_UINT, F(sources), .min = 1, .max = BENCH_RELAY_SOURCES_MAX, .arg = "N",
	 .help = "source addresses to spread over, 1..{0} (default {1}; alone:\n"
		 "from 127.0.0.0/8)",
	 .help_args = {BENCH_RELAY_SOURCES_MAX, BENCH_RELAY_SOURCES_DEFAULT}},
	{"--mode", OPT_CHOICE, F(o.mode), .words = {"throughput", "latency", "connections"},
	 .values = {BENCH_RELAY_THROUGHPUT, BENCH_RELAY_LATENCY, BENCH_RELAY_CONNECTIONS}, .arg = "M",
	 .help = "throughput (default), latency or connections"},
	{"--sessions", OPT_UINT, F(o.sessions), .min = 1, .max = BENCH_RELAY_SESSIONS_MAX, .arg = "N",
	 .help = "sessions, 1..{0} (default {1}); two descriptors each",
	 .help_args = {BENCH_RELAY_SESSIONS_MAX, BENCH_RELAY_SESSIONS_DEFAULT}},
	{"--size", OPT_CUSTOM, .parse = take_size, .arg = "BYTES",
	 .help = "message payload, K/M suffixes (default {0}); latency: {1}..{2}\n"
		 "and also a distribution: 64:50,1400:40,16K:10 (SIZE:WEIGHT)\n"
		 "or 64-1400 (uniform), drawn per message from --seed",
	 .help_args = {BENCH_RELAY_SIZE_DEFAULT, BENCH_RELAY_LAT_SIZE_MIN, BENCH_RELAY_LAT_SIZE_MAX}},
	{"--seed", OPT_UINT, F(o.seed), .min = 0, .max = UINT64_MAX, .arg = "N",
	 .help = "seed of the size and think draws (default 0): same seed,\n"
		 "same sizes and pauses"},
	{"--direction", OPT_CHOICE, F(o.direction), .words = {"ab", "ba", "both"},
	 .values = {BENCH_RELAY_AB, BENCH_RELAY_BA, BENCH_RELAY_BOTH}, .arg = "D",
	 .help = "latency: ab (default: A sends, B receives), ba, or both\n"
		 "(each sends --rate and receives; latency measured each way)"},
	{"--stage", OPT_CUSTOM, .parse = take_stage, .arg = "DUR:N,...",
	 .help = "latency: ramp the sessions that send, k6-style: each stage\n"
		 "moves linearly to N over DUR (30s:100,1m:100,10s:0); all\n"
		 "sessions are set up first, session k sends while the level\n"
		 "is above k; --sessions defaults to the peak, --duration to\n"
		 "the stages' total, --warmup to 0"},
	{"--churn", OPT_CUSTOM, .parse = take_churn, .arg = "N/s",
	 .help = "latency: replace N sessions a second during the traffic, in\n"
		 "turn: each closes its pair and dials a new one on a new id"},
	{"--think", OPT_CUSTOM, .parse = take_think, .arg = "DUR",
	 .help = "latency: think time added after each message of a session,\n"
		 "k6-style: the gap between its messages is 1/--rate + DUR,\n"
		 "rounded up to its schedule's slots; those inside the pause are\n"
		 "skipped, never delayed (latency stays open-loop); 2s, or as\n"
		 "--size: 0:50,1s:40,10s:10 or 500ms-3s, drawn per pause"},
	{"--rate-stage", OPT_CUSTOM, .parse = take_rate_stage, .arg = "DUR:R,...",
	 .help = "latency: ramp the per-session rate like --stage ramps sessions\n"
		 "(30s:100,1m:1000,30s:0 msgs/s); the schedule keeps --rate's\n"
		 "slots (default: the peak, not below it) and a session sends\n"
		 "R of every --rate of them; --duration defaults to the total,\n"
		 "--warmup to 0"},
	{"--idle-sessions", OPT_UINT, F(o.idle_sessions), .min = 0, .max = BENCH_RELAY_IDLE_MAX, .arg = "N",
	 .help = "latency: N more sessions, set up among the others and held\n"
		 "open, that never send (default 0)"},
	{"--scenario", OPT_CUSTOM, .parse = take_scenario, .arg = "FILE",
	 .help = "read options from FILE, one 'name = value' a line with the\n"
		 "names of these options (docs/BENCH.md); the command line wins"},
	{"--rate", OPT_UINT, F(o.rate), .min = 1, .max = BENCH_RELAY_RATE_MAX, .arg = "N",
	 .help = "latency: messages/s per session, 1..{0} (default {1})",
	 .help_args = {BENCH_RELAY_RATE_MAX, BENCH_RELAY_RATE_DEFAULT}},
	{"--duration", OPT_DURATION, F(o.duration_ms), .min = BENCH_RELAY_DURATION_MIN_MS,
	 .max = BENCH_RELAY_DURATION_MAX_MS, .arg = "S",
	 .help = "measured time, or connections: hold time (default 5s)"},
	{"--warmup", OPT_DURATION, F(o.warmup_ms), .min = 1, .max = BENCH_RELAY_WARMUP_MAX_MS, .zero_off = true,
	 .arg = "S", .help = "traffic before the measured time (default 500ms)"},
	{"--threads", OPT_UINT, F(o.threads), .min = 1, .max = BENCH_RELAY_THREADS_MAX, .arg = "N",
	 .help = "load generator reactor threads (default: one per allowed CPU)"},
	{"--concurrency", OPT_UINT, F(o.concurrency), .min = 1, .max = BENCH_RELAY_CONCURRENCY_MAX, .arg = "N",
	 .help = "sessions being set up at once (default {0})", .help_args = {BENCH_RELAY_CONCURRENCY_DEFAULT}},
	{"--sndbuf", OPT_SIZE, F(o.sndbuf), .min = 4096, .max = BENCH_RELAY_SNDBUF_MAX, .arg = "BYTES",
	 .help = "kernel send buffer of each connection it dials, K/M suffixes (default: the\n"
		 "kernel's autotuning): keeps the generator's own sockets from pushing the\n"
		 "machine's TCP memory past tcp_mem's pressure mark for every server alike"},
	{"--relay-pid", OPT_UINT, F(o.relay_pid), .min = 1, .max = 4194304, .arg = "PID",
	 .help = "read the relay's VmRSS before and after opening the sessions"},
	{"--sink", OPT_CUSTOM, .parse = take_sink, .arg = "HOST:PORT",
	 .help = "baseline: listen on HOST:PORT and be B there; A still dials\n"
		 "--url, which must be a TCP proxy forwarding to the sink;\n"
		 "HOST:0 without --url: A dials the sink itself (plain TCP\n"
		 "A -> B, no hop: the load generator's own ceiling)"},
	{"--label", OPT_STRING, F(o.label), .arg = "TEXT", .help = "name of the thing measured, copied into the JSON"},
	{"--json", OPT_FLAG, F(o.json), .help = "print one JSON object instead of the table"},
	{"--json-out", OPT_STRING, F(o.json_out), .arg = "FILE", .help = "also write that JSON object to FILE"},
	{"--csv", OPT_FLAG, F(o.csv), .help = "print a CSV header and one row instead of the table"},
	{"--hist-out", OPT_STRING, F(o.hist_out), .arg = "FILE",
	 .help = "latency: write the measured latencies as one histogram line\n"
		 "(docs/BENCH.md; merge files with 'atmosphere-bench merge')"},
	{"--hist-csv", OPT_STRING, F(o.hist_csv), .arg = "FILE",
	 .help = "latency: write the histogram as CSV (for bench/plot)"},
	{"--interval", OPT_DURATION, F(o.interval_ms), .min = BENCH_INTERVAL_MIN_MS, .max = BENCH_INTERVAL_MAX_MS,
	 .zero_off = true, .arg = "S",
	 .help = "live results every S while the run runs (default 1s; 0: none):\n"
		 "sessions up, msgs/s, MB/s, the interval's p50/p99, errors by\n"
		 "kind; one line rewritten on a terminal, else lines, to stderr"},
	{"--json-interval", OPT_STRING, F(o.json_interval), .arg = "FILE",
	 .help = "also write each interval as one JSON line to FILE"},
	{"--json-interval-hist", OPT_FLAG, F(o.json_interval_hist),
	 .help = "latency: follow each --json-interval line with the interval's\n"
		 "histogram line (what 'worker' sends its coordinator)"},
	{"--metrics", OPT_STRING, F(o.metrics), .arg = "URL|off",
	 .help = "scrape the relay's Prometheus /metrics before and after the\n"
		 "run and print its deltas beside ours; default: /metrics at\n"
		 "--url's HOST:PORT, skipped when absent; off: none"},
	{"--threshold", OPT_CUSTOM, .parse = take_threshold, .arg = "EXPR",
	 .help = "pass/fail after the summary, repeatable: METRIC OP VALUE[UNIT]\n"
		 "with p50 p90 p99 p99.9 max (ns us ms s), errors (count or %),\n"
		 "delivered (%), msgs/s, MB/s and < <= > >=; e.g. 'p99<5ms',\n"
		 "'errors<0.1%', 'delivered>=99.9%'; exit 3 when one fails"},
};

static const struct opt_table relay_table = {
	.prog = "atmosphere-bench",
	.cmd = CMD,
	.specs = relay_specs,
	.num_specs = sizeof relay_specs / sizeof relay_specs[0],
	.head = "usage: atmosphere-bench relay --url ws[s]://HOST:PORT [--mode throughput|latency|connections]\n"
		"                              [--sessions N] [--size BYTES] [--rate MSGS_PER_S] [--duration S]\n"
		"                              [--json] [--csv] [--relay-pid PID] [--interval S]\n"
		"                              [--json-interval FILE] [--threshold EXPR]... [OPTIONS]\n"
		"       atmosphere-bench relay --scenario FILE [OPTIONS]\n\n"
		"Drives a relay that speaks the seed protocol (GET /relay/{id}, two clients per id,\n"
		"frames forwarded) with N sessions of two WebSocket connections each, A -> B\n"
		"(latency: also B -> A or both ways, sizes from a distribution, stages ramping the\n"
		"sessions that send or their rate, think time, churn, idle sessions;\n"
		"docs/BENCH.md \"Scenarios\").\n\n"
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
		"Options:\n",
	.foot = "\nTraffic goes only to --url (and the --sink address). Set-up progress goes to stderr\n"
		"on a terminal, interval rows to stderr always (--interval 0: none); formats and\n"
		"thresholds: docs/BENCH.md. Exit status: 0 ran (errors are counted in the results)\n"
		"and every --threshold held, 1 could not run (no session came up, io_uring\n"
		"unavailable), 2 usage, 3 a --threshold failed.\n",
	.column = 25,
};

static int check(struct parsed *pp, uint64_t seen);

/* The value of --scenario, when given (the last one wins, as with any
 * option); NULL when none. Values are skipped like the table skips them. */
static const char *find_scenario(int argc, char **argv)
{
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--scenario") && i + 1 < argc)
			path = argv[++i];
		else if (!strncmp(argv[i], "--scenario=", 11))
			path = argv[i] + 11;
		else if (!strncmp(argv[i], "--", 2) && !strchr(argv[i], '=') && i + 1 < argc)
			for (size_t k = 0; k < relay_table.num_specs; k++)
				if (!strcmp(relay_table.specs[k].name, argv[i]) && relay_table.specs[k].kind != OPT_FLAG)
					i++; /* its value, which may start with "--" */
	}
	return path;
}

/* Values of the custom options in a scenario file, checked with their line
 * (bench/scenario.h); the same parsers the table's callbacks use. */
int bench_relay_opts_check(const char *name, const char *v, char *errbuf, size_t errbuf_len)
{
	char host[BENCH_RELAY_HOST_MAX + 1];
	uint16_t port;
	bool tls;
	uint32_t a, b;
	struct bench_size_dist d;
	struct bench_stage_plan pl;
	struct bench_threshold th;
	if (!strcmp(name, "size"))
		return bench_size_dist_parse(v, 1, BENCH_RELAY_SIZE_MAX, &d, errbuf, errbuf_len);
	uint32_t rate;
	if (!strcmp(name, "churn"))
		return bench_churn_parse(v, &rate, errbuf, errbuf_len);
	if (!strcmp(name, "stage"))
		return bench_stage_parse(v, BENCH_RELAY_SESSIONS_MAX, &pl, errbuf, errbuf_len);
	if (!strcmp(name, "rate-stage"))
		return bench_stage_parse(v, BENCH_RELAY_RATE_MAX, &pl, errbuf, errbuf_len);
	if (!strcmp(name, "think"))
		return bench_think_parse(v, &d, errbuf, errbuf_len);
	if (!strcmp(name, "url"))
		return bench_relay_parse_url(v, host, &port, &tls, errbuf, errbuf_len);
	if (!strcmp(name, "sink"))
		return bench_relay_parse_hostport(v, host, &port, errbuf, errbuf_len);
	if (!strcmp(name, "source-range"))
		return bench_relay_parse_cidr(v, &a, &b, errbuf, errbuf_len);
	if (!strcmp(name, "threshold"))
		return bench_threshold_parse(v, &th, errbuf, errbuf_len);
	return 0;
}

int bench_relay_opts_parse(struct bench_relay_opts *out_o, int argc, char **argv, FILE *out)
{
	uint64_t seen = 0;
	struct parsed p = {
		.o = {
			.mode = BENCH_RELAY_THROUGHPUT,
			.sessions = BENCH_RELAY_SESSIONS_DEFAULT,
			.size = BENCH_RELAY_SIZE_DEFAULT,
			.sizes = {.kind = BENCH_SIZE_FIXED, .num = 1, .size = {BENCH_RELAY_SIZE_DEFAULT}},
			.rate = BENCH_RELAY_RATE_DEFAULT,
			.duration_ms = BENCH_RELAY_DURATION_DEFAULT_MS,
			.warmup_ms = BENCH_RELAY_WARMUP_DEFAULT_MS,
			.concurrency = BENCH_RELAY_CONCURRENCY_DEFAULT,
			.tls_version = 13,
			.interval_ms = BENCH_INTERVAL_DEFAULT_MS,
		},
		.sources = BENCH_RELAY_SOURCES_DEFAULT,
	};
	struct bench_relay_opts *o = &p.o;
	/* --scenario FILE: its settings go before the command line's own
	 * arguments, which therefore win (net/config.h). */
	const char *scen_path = find_scenario(argc, argv);
	char **args = argv;
	int nargs = argc;
	if (scen_path) {
		char why[600];
		o->scenario = bench_scenario_load(scen_path, &relay_table, bench_relay_opts_check, why, sizeof why);
		if (!o->scenario)
			return opt_usage_error(&relay_table, "--scenario %s", why);
		nargs = argc + o->scenario->argc;
		args = calloc((size_t)nargs + 1, sizeof *args);
		if (!args) {
			bench_scenario_free(o->scenario);
			fprintf(stderr, "atmosphere-bench relay: out of memory\n");
			return 2;
		}
		args[0] = argv[0];
		memcpy(args + 1, o->scenario->argv, (size_t)o->scenario->argc * sizeof *args);
		memcpy(args + 1 + o->scenario->argc, argv + 1, (size_t)(argc - 1) * sizeof *args);
	}
	int rc = opt_table_parse(&relay_table, &p, nargs, args, out, &seen);
	if (args != argv)
		free(args);
	if (rc < 0)
		rc = check(&p, seen);
	if (rc >= 0) {
		bench_scenario_free(p.o.scenario);
		return rc;
	}
	*out_o = p.o;
	return -1;
}

const struct opt_table *bench_relay_opts_table(void)
{
	return &relay_table;
}

void bench_relay_opts_cleanup(struct bench_relay_opts *o)
{
	bench_scenario_free(o->scenario);
	o->scenario = NULL;
}

/* The checks after the table ran, across options. Returns -1 or 2. */
static int check(struct parsed *pp, uint64_t seen)
{
	char err[160];
	struct bench_relay_opts *o = &pp->o;
	bool have_url = opt_table_seen(&relay_table, seen, "--url");
	bool size_set = opt_table_seen(&relay_table, seen, "--size");
	bool tls_version_set = opt_table_seen(&relay_table, seen, "--tls-version");
	bool sources_set = opt_table_seen(&relay_table, seen, "--sources");
	bool range_set = opt_table_seen(&relay_table, seen, "--source-range");
	uint32_t range_count = pp->range_count;
	unsigned sources = pp->sources;
	o->rate_set = opt_table_seen(&relay_table, seen, "--rate");
	if (o->sink && o->sink_port == 0) {
		/* Plain TCP A -> B: A dials the sink itself, wherever it was bound. */
		if (have_url)
			return opt_usage_error(&relay_table, "--sink HOST:0 means A dials the sink directly: leave out --url");
		snprintf(o->host, sizeof o->host, "%s", o->sink_host);
		have_url = true;
	}
	if (!have_url)
		return opt_usage_error(&relay_table, "--url ws://HOST:PORT is required");
	if (!o->tls && (o->insecure || o->ca_file || tls_version_set))
		return opt_usage_error(&relay_table, "--insecure, --ca and --tls-version apply to --url wss:// only");
	if (o->insecure && o->ca_file)
		return opt_usage_error(&relay_table, "--insecure checks no certificate: leave out --ca '%s'", o->ca_file);
	if (sources_set && !range_set) {
		/* Alone, --sources spreads over loopback. */
		bench_relay_parse_cidr("127.0.0.0/8", &o->src_first, &range_count, err, sizeof err);
		snprintf(o->src_range, sizeof o->src_range, "127.0.0.0/8");
		range_set = true;
	}
	if (range_set) {
		if (sources_set && sources > range_count)
			return opt_usage_error(&relay_table, "--sources %u: --source-range %s holds %u usable addresses", sources,
						 o->src_range, range_count);
		o->num_src = sources < range_count ? sources : range_count;
	}
	if (o->json && o->csv)
		return opt_usage_error(&relay_table, "--json and --csv both ask for stdout: pick one (--json-out writes a file)");
	if (o->rate_set && o->mode != BENCH_RELAY_LATENCY)
		return opt_usage_error(&relay_table, "--rate applies to --mode latency only");
	if (o->hist_out && o->mode != BENCH_RELAY_LATENCY)
		return opt_usage_error(&relay_table, "--hist-out applies to --mode latency only");
	if (o->hist_csv && o->mode != BENCH_RELAY_LATENCY)
		return opt_usage_error(&relay_table, "--hist-csv applies to --mode latency only");
	if (o->json_interval && !o->interval_ms)
		return opt_usage_error(&relay_table, "--json-interval writes the intervals that --interval 0 turns off");
	if (o->json_interval_hist && (!o->json_interval || o->mode != BENCH_RELAY_LATENCY))
		return opt_usage_error(&relay_table, "--json-interval-hist adds to --json-interval lines of --mode latency");
	if (o->metrics && strcmp(o->metrics, "off") != 0) {
		struct bench_metrics_target mt;
		if (bench_metrics_parse_url(o->metrics, &mt, err, sizeof err) != 0)
			return opt_usage_error(&relay_table, "--metrics '%s': %s", o->metrics, err);
	}
	for (size_t i = 0; i < o->num_thresholds; i++) {
		const struct bench_threshold *t = &o->thresholds[i];
		if (bench_threshold_is_latency(t->metric) && o->mode != BENCH_RELAY_LATENCY)
			return opt_usage_error(&relay_table, "--threshold '%s': latency is measured by --mode latency only",
						 t->text);
		if (t->metric == BENCH_THR_DELIVERED_PCT && o->mode == BENCH_RELAY_THROUGHPUT)
			return opt_usage_error(&relay_table,
						 "--threshold '%s': delivery is checked by --mode latency and connections only",
						 t->text);
		if ((t->metric == BENCH_THR_MSGS_PER_S || t->metric == BENCH_THR_MB_PER_S) &&
		    o->mode == BENCH_RELAY_CONNECTIONS)
			return opt_usage_error(&relay_table, "--threshold '%s': --mode connections sends no traffic to rate",
						 t->text);
	}
	if (o->sizes.kind != BENCH_SIZE_FIXED && o->mode != BENCH_RELAY_LATENCY)
		return opt_usage_error(&relay_table, "--size: a distribution applies to --mode latency only");
	if (o->direction != BENCH_RELAY_AB && o->mode != BENCH_RELAY_LATENCY)
		return opt_usage_error(&relay_table, "--direction applies to --mode latency only");
	if (o->stages.num && o->mode != BENCH_RELAY_LATENCY)
		return opt_usage_error(&relay_table, "--stage applies to --mode latency only");
	if (o->churn_rate && o->mode != BENCH_RELAY_LATENCY)
		return opt_usage_error(&relay_table, "--churn applies to --mode latency only");
	if (bench_think_on(&o->think) && o->mode != BENCH_RELAY_LATENCY)
		return opt_usage_error(&relay_table, "--think applies to --mode latency only");
	if (o->rate_stages.num && o->mode != BENCH_RELAY_LATENCY)
		return opt_usage_error(&relay_table, "--rate-stage applies to --mode latency only");
	if (o->idle_sessions && o->mode != BENCH_RELAY_LATENCY)
		return opt_usage_error(&relay_table, "--idle-sessions applies to --mode latency only");
	if (o->stages.num) {
		uint32_t peak = bench_stage_peak(&o->stages);
		if (!opt_table_seen(&relay_table, seen, "--sessions"))
			o->sessions = peak ? peak : 1;
		if (o->sessions < peak)
			return opt_usage_error(&relay_table, "--stage reaches %u sessions: --sessions %u is fewer", peak,
						 o->sessions);
	}
	if (o->rate_stages.num) {
		/* --rate is the grid the rate stages thin (bench/stage.h). */
		uint32_t peak = bench_stage_peak(&o->rate_stages);
		if (!peak)
			return opt_usage_error(&relay_table, "--rate-stage never rises above 0 msgs/s: nothing would be sent");
		if (!o->rate_set)
			o->rate = peak;
		if (o->rate < peak)
			return opt_usage_error(&relay_table, "--rate-stage reaches %u msgs/s: --rate %u is lower", peak,
						 o->rate);
	}
	if (o->stages.num || o->rate_stages.num) {
		/* The plans run from the start of the traffic; the run lasts the
		 * longer of them. */
		uint64_t total_ms = bench_stage_total_ns(&o->stages) / 1000000u;
		uint64_t rate_ms = bench_stage_total_ns(&o->rate_stages) / 1000000u;
		const char *what = "--stage";
		if (rate_ms > total_ms) {
			total_ms = rate_ms;
			what = "--rate-stage";
		}
		if (!opt_table_seen(&relay_table, seen, "--warmup"))
			o->warmup_ms = 0;
		if (!opt_table_seen(&relay_table, seen, "--duration")) {
			if (total_ms < o->warmup_ms + BENCH_RELAY_DURATION_MIN_MS ||
			    total_ms - o->warmup_ms > BENCH_RELAY_DURATION_MAX_MS)
				return opt_usage_error(&relay_table, "%s lasts %llu ms in all: with --warmup, "
							 "--duration would fall outside %u ms .. %u ms",
							 what, (unsigned long long)total_ms, BENCH_RELAY_DURATION_MIN_MS,
							 BENCH_RELAY_DURATION_MAX_MS);
			o->duration_ms = total_ms - o->warmup_ms;
		}
	}
	if ((uint64_t)o->sessions + o->idle_sessions > BENCH_RELAY_SESSIONS_MAX)
		return opt_usage_error(&relay_table, "--sessions %u and --idle-sessions %u are over %d sessions", o->sessions,
					 o->idle_sessions, BENCH_RELAY_SESSIONS_MAX);
	if (o->mode == BENCH_RELAY_LATENCY) {
		if (!size_set) {
			o->size = 64;
			o->sizes = (struct bench_size_dist){.kind = BENCH_SIZE_FIXED, .num = 1, .size = {64}};
		}
		uint32_t lo = bench_size_dist_min(&o->sizes);
		if (lo < BENCH_RELAY_LAT_SIZE_MIN || o->size > BENCH_RELAY_LAT_SIZE_MAX)
			return opt_usage_error(&relay_table, "--size %u..%zu: latency messages are %d to %d bytes (a 16-byte stamp)",
						 lo, o->size, BENCH_RELAY_LAT_SIZE_MIN, BENCH_RELAY_LAT_SIZE_MAX);
		uint64_t senders = (uint64_t)o->sessions * (o->direction == BENCH_RELAY_BOTH ? 2 : 1);
		if (senders * o->rate > BENCH_RELAY_TOTAL_RATE_MAX)
			return opt_usage_error(&relay_table, "--sessions %u x --rate %u%s is over %d messages/s in total",
						 o->sessions, o->rate, o->direction == BENCH_RELAY_BOTH ? " x 2 directions" : "",
						 BENCH_RELAY_TOTAL_RATE_MAX);
	}
	if (o->concurrency > o->sessions + o->idle_sessions)
		o->concurrency = o->sessions + o->idle_sessions;
	return -1;
}
