/* bench/metrics: the figures read out of a /metrics body (sums over label
 * sets, unknown families ignored, a figure absent stays absent) and the
 * --metrics URL. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "bench/metrics.h"

Test(bench_metrics, sums_the_families_of_each_figure)
{
	const char *b = "# TYPE atmosphere_relay_sessions_total counter\n"
			"atmosphere_relay_sessions_total 10\n"
			"atmosphere_relay_sessions{state=\"active\"} 4\n"
			"atmosphere_relay_bytes_relayed_total 1400\n"
			"atmosphere_relay_rejected_total{reason=\"session_full\"} 2\n"
			"atmosphere_relay_rejected_total{reason=\"limits\"} 3\n"
			"atmosphere_relay_closes_total{reason=\"too_big\"} 1\n"
			"atmosphere_relay_stuck_shed_total 4\n"
			"something_else_total 99\n";
	struct bench_metrics_snap s;
	struct bench_prom_error e;
	cr_assert_eq(bench_metrics_from_text(b, strlen(b), &s, &e), BENCH_PROM_OK, "%s", e.msg);
	cr_assert(s.found[BENCH_MET_SESSIONS] && s.v[BENCH_MET_SESSIONS] == 10);
	cr_assert(s.found[BENCH_MET_BYTES] && s.v[BENCH_MET_BYTES] == 1400);
	cr_assert(s.found[BENCH_MET_DROPS] && s.v[BENCH_MET_DROPS] == 10, "drops %g", s.v[BENCH_MET_DROPS]);
	cr_assert(!s.found[BENCH_MET_MESSAGES], "not in the body: not found");
}

Test(bench_metrics, a_malformed_body_is_refused)
{
	const char *b = "atmosphere_relay_sessions_total 10\natmosphere_relay_bytes_relayed_total ten\n";
	struct bench_metrics_snap s;
	struct bench_prom_error e;
	cr_assert_eq(bench_metrics_from_text(b, strlen(b), &s, &e), BENCH_PROM_E_SYNTAX);
	cr_assert_eq(e.line, 2);
	cr_assert(strstr(e.msg, "bad value"), "%s", e.msg);
}

struct url_case {
	char url[80];
	int rc;
	char host[40];
	uint16_t port;
	char path[40];
};

static const struct url_case url_cases[] = {
	{"http://127.0.0.1:8080/metrics", 0, "127.0.0.1", 8080, "/metrics"},
	{"http://relay.example", 0, "relay.example", 80, "/"},
	{"http://[::1]:9/m?x=1", 0, "::1", 9, "/m?x=1"},
	{"https://127.0.0.1/metrics", -1, "", 0, ""},
	{"ws://127.0.0.1/metrics", -1, "", 0, ""},
	{"http://:80/metrics", -1, "", 0, ""},
	{"http://h:0/", -1, "", 0, ""},
	{"http://h:65536/", -1, "", 0, ""},
	{"http://h:/", -1, "", 0, ""},
	{"http://h:8x/", -1, "", 0, ""},
	{"http://[::1/", -1, "", 0, ""},
	{"http://[::1]x/", -1, "", 0, ""},
	{"http://h/a b", -1, "", 0, ""},
};

ParameterizedTestParameters(bench_metrics, parses_urls)
{
	return cr_make_param_array(struct url_case, url_cases, sizeof url_cases / sizeof url_cases[0]);
}

ParameterizedTest(const struct url_case *c, bench_metrics, parses_urls)
{
	struct bench_metrics_target t;
	char err[160] = "";
	int rc = bench_metrics_parse_url(c->url, &t, err, sizeof err);
	cr_assert_eq(rc, c->rc, "'%s': %d (%s)", c->url, rc, err);
	if (rc) {
		cr_assert(err[0], "'%s': a refusal says why", c->url);
		return;
	}
	cr_assert_str_eq(t.host, c->host);
	cr_assert_eq(t.port, c->port);
	cr_assert_str_eq(t.path, c->path);
}
