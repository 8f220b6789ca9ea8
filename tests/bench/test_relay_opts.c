/* bench/relay_opts: the options of `atmosphere-bench relay`, swept as a
 * table; each failing case prints its command line. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>
#include <stdio.h>
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
};

#define U "--url"
static const struct opt_case cases[] = {
	/* defaults */
	{{U, "ws://127.0.0.1:8080"}, -1, BENCH_RELAY_THROUGHPUT, "127.0.0.1", 8080, 10, 1024, 100, 5000, false, 0},
	{{U, "ws://relay.example:80/"}, -1, BENCH_RELAY_THROUGHPUT, "relay.example", 80, 10, 1024, 100, 5000, false, 0},
	{{U, "ws://localhost"}, -1, BENCH_RELAY_THROUGHPUT, "localhost", 80, 10, 1024, 100, 5000, false, 0},
	{{U, "ws://[::1]:9000"}, -1, BENCH_RELAY_THROUGHPUT, "::1", 9000, 10, 1024, 100, 5000, false, 0},
	/* modes and values */
	{{U, "ws://h:1", "--mode", "latency"}, -1, BENCH_RELAY_LATENCY, "h", 1, 10, 64, 100, 5000, false, 0},
	{{U, "ws://h:1", "--mode", "latency", "--size", "1400", "--rate", "10", "--sessions", "1000"},
	 -1, BENCH_RELAY_LATENCY, "h", 1, 1000, 1400, 10, 5000, false, 0},
	{{U, "ws://h:1", "--mode", "connections", "--sessions", "9000", "--duration", "3s"},
	 -1, BENCH_RELAY_CONNECTIONS, "h", 1, 9000, 1024, 100, 3000, false, 0},
	{{U, "ws://h:1", "--size", "16K", "--duration", "500ms"}, -1, BENCH_RELAY_THROUGHPUT, "h", 1, 10, 16384, 100, 500,
	 false, 0},
	{{U, "ws://127.0.0.1:7", "--sink", "127.0.0.1:9"}, -1, BENCH_RELAY_THROUGHPUT, "127.0.0.1", 7, 10, 1024, 100,
	 5000, true, 9},
	{{"--sink", "127.0.0.1:0"}, -1, BENCH_RELAY_THROUGHPUT, "127.0.0.1", 0, 10, 1024, 100, 5000, true, 0},
	{{"--help"}, 0, BENCH_RELAY_THROUGHPUT, "", 0, 10, 1024, 100, 5000, false, 0},
	/* usage errors */
	{{"--sessions", "5"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},                 /* no --url */
	{{U, "wss://h:1"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},                     /* TLS not spoken */
	{{U, "http://h:1"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
	{{U, "ws://h:1/relay/x"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},              /* the bench adds the path */
	{{U, "ws://h:0"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
	{{U, "ws://h:65536"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
	{{U, "ws://h:1x"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
	{{U, "ws://h\r\nX:1"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},               /* no header injection */
	{{U, "ws://[::1:1"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
	{{U, "ws://:1"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
	{{U, "ws://h:1", "--sessions", "0"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
	{{U, "ws://h:1", "--sessions", "100001"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
	{{U, "ws://h:1", "--mode", "burst"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
	{{U, "ws://h:1", "--rate", "10"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},       /* latency only */
	{{U, "ws://h:1", "--mode", "latency", "--size", "15"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0}, /* no room for the stamp */
	{{U, "ws://h:1", "--mode", "latency", "--size", "65537"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
	{{U, "ws://h:1", "--mode", "latency", "--sessions", "100000", "--rate", "101"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
	{{U, "ws://h:1", "--size", "2M"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
	{{U, "ws://h:1", "--duration", "50ms"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
	{{U, "ws://h:1", "--duration"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},         /* value missing */
	{{U, "ws://h:1", "--json", "--csv"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
	{{U, "ws://h:1", "--sink", "127.0.0.1"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0}, /* port required */
	{{U, "ws://h:1", "--sink", "127.0.0.1:0"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0}, /* :0 is direct: no --url */
	{{"--sink", "127.0.0.1:65536"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
	{{U, "ws://h:1", "--hist-out", "x.csv"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},  /* latency only */
	{{U, "ws://h:1", "--frobnicate"}, 2, 0, "", 0, 0, 0, 0, 0, false, 0},
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
}
