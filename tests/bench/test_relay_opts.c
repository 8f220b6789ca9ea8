/* bench/relay_opts: the options of `atmosphere-bench relay`, swept as a
 * table; each failing case prints its command line. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/relay_opts.h"

/* Inline arrays, not pointers: Criterion runs each case in a fresh process
 * where the parent's pointers mean nothing. */
struct opt_case {
	char args[12][32];         /* after "relay"; the first empty one ends them */
	int want_rc;               /* -1 go on, 0 help, 2 usage error */
	enum bench_relay_mode mode;
	char host[16];
	unsigned port;
	unsigned sessions;
	size_t size;
	unsigned rate;
	unsigned duration_ms;
	bool sink;
	unsigned sink_port;
	/* wss:// and source spreading; zero in the older rows: ws://, none */
	bool tls;
	bool insecure;
	unsigned tls_version;      /* 0: do not check */
	unsigned num_src;
	char src_first[16];        /* "": do not check */
};

#define U "--url"
#define PLAIN false, false, 0, 0, ""   /* ws://, no source spreading */
static const struct opt_case cases[] = {
	/* defaults */
	{{U, "ws://127.0.0.1:8080"}, -1, BENCH_RELAY_THROUGHPUT, "127.0.0.1", 8080, 10, 1024, 100, 5000, false, 0, PLAIN},
	{{U, "ws://relay.example:80/"}, -1, BENCH_RELAY_THROUGHPUT, "relay.example", 80, 10, 1024, 100, 5000, false, 0, PLAIN},
	{{U, "ws://localhost"}, -1, BENCH_RELAY_THROUGHPUT, "localhost", 80, 10, 1024, 100, 5000, false, 0, PLAIN},
	{{U, "ws://[::1]:9000"}, -1, BENCH_RELAY_THROUGHPUT, "::1", 9000, 10, 1024, 100, 5000, false, 0, PLAIN},
	/* modes and values */
	{{U, "ws://h:1", "--mode", "latency"}, -1, BENCH_RELAY_LATENCY, "h", 1, 10, 64, 100, 5000, false, 0, PLAIN},
	{{U, "ws://h:1", "--mode", "latency", "--size", "1400", "--rate", "10", "--sessions", "1000"},
	 -1, BENCH_RELAY_LATENCY, "h", 1, 1000, 1400, 10, 5000, false, 0, PLAIN},
	{{U, "ws://h:1", "--mode", "connections", "--sessions", "9000", "--duration", "3s"},
	 -1, BENCH_RELAY_CONNECTIONS, "h", 1, 9000, 1024, 100, 3000, false, 0, PLAIN},
	{{U, "ws://h:1", "--size", "16K", "--duration", "500ms"}, -1, BENCH_RELAY_THROUGHPUT, "h", 1, 10, 16384, 100, 500,
	 false, 0, PLAIN},
	{{U, "ws://127.0.0.1:7", "--sink", "127.0.0.1:9"}, -1, BENCH_RELAY_THROUGHPUT, "127.0.0.1", 7, 10, 1024, 100,
	 5000, true, 9, PLAIN},
	{{"--sink", "127.0.0.1:0"}, -1, BENCH_RELAY_THROUGHPUT, "127.0.0.1", 0, 10, 1024, 100, 5000, true, 0, PLAIN},
	{{"--help"}, 0, BENCH_RELAY_THROUGHPUT, "", 0, 10, 1024, 100, 5000, false, 0, PLAIN},
	/* wss:// */
	{{U, "wss://127.0.0.1:8443"}, -1, BENCH_RELAY_THROUGHPUT, "127.0.0.1", 8443, 10, 1024, 100, 5000, false, 0,
	 true, false, 13, 0, ""},
	{{U, "wss://relay.example"}, -1, BENCH_RELAY_THROUGHPUT, "relay.example", 443, 10, 1024, 100, 5000, false, 0,
	 true, false, 13, 0, ""},
	{{U, "wss://[::1]:9443/", "--insecure", "--tls-version", "1.2"}, -1, BENCH_RELAY_THROUGHPUT, "::1", 9443, 10,
	 1024, 100, 5000, false, 0, true, true, 12, 0, ""},
	{{U, "wss://h:1", "--ca", "ca.pem", "--mode", "latency"}, -1, BENCH_RELAY_LATENCY, "h", 1, 10, 64, 100, 5000,
	 false, 0, true, false, 13, 0, ""},
	{{U, "wss://h:1", "--sink", "127.0.0.1:9"}, -1, BENCH_RELAY_THROUGHPUT, "h", 1, 10, 1024, 100, 5000, true, 9,
	 true, false, 13, 0, ""},                                                 /* a TLS-terminating proxy */
	/* source spreading */
	{{U, "ws://h:1", "--source-range", "127.0.0.0/8"}, -1, BENCH_RELAY_THROUGHPUT, "h", 1, 10, 1024, 100, 5000,
	 false, 0, false, false, 0, BENCH_RELAY_SOURCES_DEFAULT, "127.0.0.1"},
	{{U, "ws://h:1", "--source-range", "127.9.9.9/24", "--sources", "254"}, -1, BENCH_RELAY_THROUGHPUT, "h", 1, 10,
	 1024, 100, 5000, false, 0, false, false, 0, 254, "127.9.9.1"},
	{{U, "ws://h:1", "--source-range", "127.0.0.0/30"}, -1, BENCH_RELAY_THROUGHPUT, "h", 1, 10, 1024, 100, 5000,
	 false, 0, false, false, 0, 2, "127.0.0.1"},                              /* network and broadcast left out */
	{{U, "ws://h:1", "--source-range", "127.0.0.8/31"}, -1, BENCH_RELAY_THROUGHPUT, "h", 1, 10, 1024, 100, 5000,
	 false, 0, false, false, 0, 2, "127.0.0.8"},                              /* RFC 3021: both */
	{{U, "ws://h:1", "--source-range", "127.0.0.7/32"}, -1, BENCH_RELAY_THROUGHPUT, "h", 1, 10, 1024, 100, 5000,
	 false, 0, false, false, 0, 1, "127.0.0.7"},
	{{U, "ws://h:1", "--sources", "16"}, -1, BENCH_RELAY_THROUGHPUT, "h", 1, 10, 1024, 100, 5000, false, 0, false,
	 false, 0, 16, "127.0.0.1"},                                              /* alone: loopback */
	{{"--sink", "127.0.0.1:0", "--sources", "4"}, -1, BENCH_RELAY_THROUGHPUT, "127.0.0.1", 0, 10, 1024, 100, 5000,
	 true, 0, false, false, 0, 4, "127.0.0.1"},
	/* usage errors */
	{{"--sessions", "5"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},                 /* no --url */
	{{U, "http://h:1"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "https://h:1"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "wss:/h:1"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "wss://h:1/relay/x"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "wss://h:0"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--insecure"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},        /* TLS options need wss:// */
	{{U, "ws://h:1", "--ca", "ca.pem"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--tls-version", "1.3"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "wss://h:1", "--tls-version", "1.1"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "wss://h:1", "--tls-version", "13"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "wss://h:1", "--insecure", "--ca", "ca.pem"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN}, /* one or the other */
	{{U, "wss://h:1", "--ca", ""}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "wss://h:1", "--ca"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--source-range", "127.0.0.0"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},      /* no prefix */
	{{U, "ws://h:1", "--source-range", "127.0.0.0/7"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--source-range", "127.0.0.0/33"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--source-range", "127.0.0.0/x"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--source-range", "127.0.0.0/"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--source-range", "127.0.0.256/8"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--source-range", "::1/128"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},        /* IPv4 only */
	{{U, "ws://h:1", "--source-range", "localhost/8"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--source-range", "127.0.0.0/24", "--sources", "300"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--sources", "0"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--sources", "65537"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1/relay/x"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},              /* the bench adds the path */
	{{U, "ws://h:0"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:65536"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1x"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h\r\nX:1"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},               /* no header injection */
	{{U, "ws://[::1:1"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://:1"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--sessions", "0"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--sessions", "100001"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--mode", "burst"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--rate", "10"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},       /* latency only */
	{{U, "ws://h:1", "--mode", "latency", "--size", "15"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN}, /* no room for the stamp */
	{{U, "ws://h:1", "--mode", "latency", "--size", "65537"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--mode", "latency", "--sessions", "100000", "--rate", "101"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--size", "2M"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--duration", "50ms"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--duration"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},         /* value missing */
	{{U, "ws://h:1", "--json", "--csv"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--sink", "127.0.0.1"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN}, /* port required */
	{{U, "ws://h:1", "--sink", "127.0.0.1:0"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN}, /* :0 is direct: no --url */
	{{"--sink", "127.0.0.1:65536"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
	{{U, "ws://h:1", "--hist-out", "x.csv"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},  /* latency only */
	{{U, "ws://h:1", "--frobnicate"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0, PLAIN},
};

static void redirect(void)
{
	cr_redirect_stderr();
	cr_redirect_stdout();
}

ParameterizedTestParameters(bench_relay_opts, table)
{
	return cr_make_param_array(struct opt_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(const struct opt_case *c, bench_relay_opts, table, .init = redirect)
{
	char *argv[16] = {"relay"};
	char line[256] = "relay";
	int argc = 1;
	for (; argc <= 12 && c->args[argc - 1][0]; argc++) {
		argv[argc] = (char *)c->args[argc - 1];
		strncat(line, " ", sizeof line - strlen(line) - 1);
		strncat(line, argv[argc], sizeof line - strlen(line) - 1);
	}
	struct bench_relay_opts o;
	FILE *out = fopen("/dev/null", "w");
	int rc = bench_relay_opts_parse(&o, argc, argv, out);
	fclose(out);
	cr_assert_eq(rc, c->want_rc, "%s: returned %d, want %d", line, rc, c->want_rc);
	if (rc != -1)
		return;
	cr_assert_eq(o.mode, c->mode, "%s: mode", line);
	cr_assert_str_eq(o.host, c->host, "%s: host", line);
	cr_assert_eq(o.port, c->port, "%s: port %u", line, o.port);
	cr_assert_eq(o.sessions, c->sessions, "%s: sessions", line);
	cr_assert_eq(o.size, c->size, "%s: size %zu", line, o.size);
	cr_assert_eq(o.rate, c->rate, "%s: rate", line);
	cr_assert_eq(o.duration_ms, c->duration_ms, "%s: duration", line);
	cr_assert_eq(o.sink, c->sink, "%s: sink", line);
	cr_assert_eq(o.sink_port, c->sink_port, "%s: sink port", line);
	cr_assert_leq(o.concurrency, o.sessions, "%s: concurrency above sessions", line);
	cr_assert_eq(o.tls, c->tls, "%s: tls", line);
	cr_assert_eq(o.insecure, c->insecure, "%s: insecure", line);
	if (c->tls_version)
		cr_assert_eq(o.tls_version, c->tls_version, "%s: tls version %u", line, o.tls_version);
	cr_assert_eq(o.num_src, c->num_src, "%s: sources %u", line, o.num_src);
	if (c->src_first[0]) {
		char got[INET_ADDRSTRLEN];
		struct in_addr a = {.s_addr = htonl(o.src_first)};
		inet_ntop(AF_INET, &a, got, sizeof got);
		cr_assert_str_eq(got, c->src_first, "%s: first source %s", line, got);
	}
}

/* The live-results and threshold options land in the struct. */
Test(bench_relay_opts, intervals_and_thresholds, .init = redirect)
{
	char *argv[] = {"relay", U, "ws://h:1", "--mode", "latency", "--threshold", "p99<5ms", "--threshold",
			"errors<0.1%", "--threshold", "delivered>=99.9%", "--interval", "500ms", "--json-interval", "iv.jsonl",
			"--hist-out", "a.hist", "--hist-csv", "a.csv"};
	struct bench_relay_opts o;
	cr_assert_eq(bench_relay_opts_parse(&o, sizeof argv / sizeof argv[0], argv, stdout), -1);
	cr_assert_eq(o.num_thresholds, 3);
	cr_assert_eq(o.thresholds[0].metric, BENCH_THR_P99);
	cr_assert_eq(o.thresholds[1].metric, BENCH_THR_ERRORS_PCT);
	cr_assert_eq(o.thresholds[2].metric, BENCH_THR_DELIVERED_PCT);
	cr_assert_eq(o.interval_ms, 500);
	cr_assert_str_eq(o.json_interval, "iv.jsonl");
	cr_assert_str_eq(o.hist_out, "a.hist");
	cr_assert_str_eq(o.hist_csv, "a.csv");
	char *dflt[] = {"relay", U, "ws://h:1"};
	cr_assert_eq(bench_relay_opts_parse(&o, 3, dflt, stdout), -1);
	cr_assert_eq(o.interval_ms, 1000, "live rows every second by default");
	cr_assert_eq(o.num_thresholds, 0);
}

/* Usage errors name the option and quote the value. */
struct msg_case {
	char args[8][32];
	char want[64];             /* a substring of stderr */
};

static const struct msg_case msgs[] = {
	{{U, "ftp://h:1"}, "expected ws://HOST:PORT or wss://HOST:PORT"},
	{{U, "ws://h:1", "--insecure"}, "apply to --url wss:// only"},
	{{U, "wss://h:1", "--tls-version", "1.1"}, "--tls-version '1.1': expected 1.3 or 1.2"},
	{{U, "wss://h:1", "--insecure", "--ca", "x.pem"}, "leave out --ca 'x.pem'"},
	{{U, "ws://h:1", "--source-range", "10.0.0.0/4"}, "--source-range '10.0.0.0/4': prefix '/4'"},
	{{U, "ws://h:1", "--source-range", "10.0.0/8"}, "'10.0.0' is not an IPv4 address"},
	{{U, "ws://h:1", "--source-range", "127.0.0.0/30", "--sources", "3"}, "holds 2 usable addresses"},
	{{U, "ws://h:1", "--threshold", "p99=5ms"}, "--threshold 'p99=5ms': operator"},
	{{U, "ws://h:1", "--threshold", "p99<5"}, "a latency takes ns, us, ms or s"},
	{{U, "ws://h:1", "--threshold", "p99<5ms"}, "latency is measured by --mode latency"},
	{{U, "ws://h:1", "--threshold", "delivered>=99%"}, "delivery is checked by --mode latency"},
	{{U, "ws://h:1", "--mode", "connections", "--threshold", "MB/s>1"}, "sends no traffic to rate"},
	{{U, "ws://h:1", "--interval", "0", "--json-interval", "x"}, "--interval 0 turns off"},
	{{U, "ws://h:1", "--interval", "50ms"}, "--interval"},
	{{U, "ws://h:1", "--hist-csv", "x.csv"}, "--hist-csv applies to --mode latency only"},
	{{U, "ws://h:1", "--think", "2s"}, "--think applies to --mode latency only"},
	{{U, "ws://h:1", "--mode", "latency", "--think", "2s:x"}, "--think '2s:x': entry 1"},
	{{U, "ws://h:1", "--rate-stage", "1s:10"}, "--rate-stage applies to --mode latency only"},
	{{U, "ws://h:1", "--mode", "latency", "--rate-stage", "1s:200", "--rate", "100"},
	 "--rate-stage reaches 200 msgs/s: --rate 100 is lower"},
	{{U, "ws://h:1", "--mode", "latency", "--rate-stage", "1s:0"}, "never rises above 0"},
	{{U, "ws://h:1", "--mode", "latency", "--rate-stage", "20m:5"}, "--rate-stage lasts 1200000 ms"},
};

ParameterizedTestParameters(bench_relay_opts, messages)
{
	return cr_make_param_array(struct msg_case, msgs, sizeof msgs / sizeof msgs[0]);
}

ParameterizedTest(const struct msg_case *c, bench_relay_opts, messages)
{
	char *argv[10] = {"relay"};
	int argc = 1;
	for (; argc <= 8 && c->args[argc - 1][0]; argc++)
		argv[argc] = (char *)c->args[argc - 1];
	struct bench_relay_opts o;
	char *err = NULL;
	size_t err_len = 0;
	FILE *mem = open_memstream(&err, &err_len);
	cr_assert_not_null(mem);
	/* The parser writes usage errors to stderr: point it at memory. */
	FILE *saved = stderr;
	stderr = mem;
	int rc = bench_relay_opts_parse(&o, argc, argv, mem);
	stderr = saved;
	fclose(mem);
	cr_assert_eq(rc, 2, "%s ...: returned %d, want 2", c->args[1], rc);
	cr_assert_not_null(strstr(err, c->want), "%s %s: message '%s' lacks '%s'", c->args[0], c->args[1], err, c->want);
	free(err);
}

/* --rate-stage: --rate defaults to the peak and may be set above it (a finer
 * grid); --duration and --warmup default as with --stage. */
Test(bench_relay_opts, rate_stage_defaults, .init = redirect)
{
	char *argv[] = {"relay", U, "ws://h:1", "--mode", "latency", "--rate-stage", "2s:50,1s:300,500ms:0"};
	struct bench_relay_opts o;
	cr_assert_eq(bench_relay_opts_parse(&o, 7, argv, stdout), -1);
	cr_assert_eq(o.rate, 300);
	cr_assert_eq(o.duration_ms, 3500);
	cr_assert_eq(o.warmup_ms, 0);
	char *finer[] = {"relay", U, "ws://h:1", "--mode", "latency", "--rate-stage", "2s:50", "--rate", "1000",
			 "--duration", "10s", "--think", "1s-2s"};
	cr_assert_eq(bench_relay_opts_parse(&o, 13, finer, stdout), -1);
	cr_assert_eq(o.rate, 1000);
	cr_assert_eq(o.duration_ms, 10000);
	cr_assert_eq(o.think.kind, BENCH_SIZE_RANGE);
	cr_assert_eq(o.think.size[0], 1000);
	cr_assert_eq(o.think.size[1], 2000);
}

/* --sndbuf: bytes with K/M suffixes into o.sndbuf; absent, 0 (autotuning);
 * below a page or above 64 MiB, a usage error. */
Test(bench_relay_opts, sndbuf, .init = redirect)
{
	struct bench_relay_opts o;
	char *dflt[] = {"relay", U, "ws://h:1"};
	cr_assert_eq(bench_relay_opts_parse(&o, 3, dflt, stdout), -1);
	cr_assert_eq(o.sndbuf, 0);
	bench_relay_opts_cleanup(&o);
	char *k[] = {"relay", U, "ws://h:1", "--sndbuf", "256K"};
	cr_assert_eq(bench_relay_opts_parse(&o, 5, k, stdout), -1);
	cr_assert_eq(o.sndbuf, 256u * 1024u);
	bench_relay_opts_cleanup(&o);
	char *small[] = {"relay", U, "ws://h:1", "--sndbuf", "100"};
	cr_assert_eq(bench_relay_opts_parse(&o, 5, small, stdout), 2);
	char *big[] = {"relay", U, "ws://h:1", "--sndbuf", "1G"};
	cr_assert_eq(bench_relay_opts_parse(&o, 5, big, stdout), 2);
}
