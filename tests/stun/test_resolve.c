/* Tests for stun/resolve.h: "HOST:PORT" parsing, lists, and resolution off
 * the reactor (names on helper threads, literals inline, abandoned lookups
 * cleaned up). No internet: names are "localhost" and the reserved .invalid
 * TLD (RFC 6761). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "t_stun.h"
#include "net/resolve.h"
#include "stun/resolve.h"

struct parse_case {
	char text[300];
	int rc;
	char host[64];
	uint16_t port;
	char shown[80];
};

ParameterizedTestParameters(stun_resolve, parses_endpoints)
{
	static struct parse_case cases[] = {
		{ "stun.l.google.com:19302", 0, "stun.l.google.com", 19302, "stun.l.google.com:19302" },
		{ "stun.example.org", 0, "stun.example.org", 3478, "stun.example.org:3478" },
		{ "  192.0.2.1:5  ", 0, "192.0.2.1", 5, "192.0.2.1:5" },
		{ "[2001:db8::1]:3479", 0, "2001:db8::1", 3479, "[2001:db8::1]:3479" },
		{ "[::1]", 0, "::1", 3478, "[::1]:3478" },
		{ "2001:db8::1", 0, "2001:db8::1", 3478, "[2001:db8::1]:3478" },
		{ "", -EINVAL, "", 0, "" },
		{ ":3478", -EINVAL, "", 0, "" },
		{ "host:", -EINVAL, "", 0, "" },
		{ "host:0", -EINVAL, "", 0, "" },
		{ "host:65536", -EINVAL, "", 0, "" },
		{ "host:12a", -EINVAL, "", 0, "" },
		{ "host:-1", -EINVAL, "", 0, "" },
		{ "[::1", -EINVAL, "", 0, "" },
		{ "[::1]x", -EINVAL, "", 0, "" },
		{ "[]:5", -EINVAL, "", 0, "" },
	};
	return cr_make_param_array(struct parse_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct parse_case *c, stun_resolve, parses_endpoints)
{
	struct stun_endpoint ep;
	int rc = stun_endpoint_parse(&ep, c->text, STUN_DEFAULT_PORT);
	cr_assert_eq(rc, c->rc, "'%s': %d, want %d", c->text, rc, c->rc);
	if (rc)
		return;
	cr_assert_str_eq(ep.host, c->host);
	cr_assert_eq(ep.port, c->port);
	cr_assert_str_eq(ep.text, c->shown);
	cr_assert_eq(ep.err, -EINPROGRESS);
}

Test(stun_resolve, rejects_overlong_names)
{
	char name[STUN_HOST_MAX + 8];
	struct stun_endpoint ep;
	memset(name, 'a', STUN_HOST_MAX);
	name[STUN_HOST_MAX] = 0;
	cr_assert_eq(stun_endpoint_parse(&ep, name, 1), 0, "STUN_HOST_MAX bytes fit");
	name[STUN_HOST_MAX] = 'a';
	name[STUN_HOST_MAX + 1] = 0;
	cr_assert_eq(stun_endpoint_parse(&ep, name, 1), -EINVAL);
}

Test(stun_resolve, parses_comma_separated_lists)
{
	struct stun_endpoint eps[4];
	size_t bad = 99;
	cr_assert_eq(stun_endpoint_parse_list(eps, 4, " a.example:1, b.example ,,[::1]:3 ,", &bad), 3);
	cr_assert_str_eq(eps[0].text, "a.example:1");
	cr_assert_str_eq(eps[1].text, "b.example:3478");
	cr_assert_str_eq(eps[2].text, "[::1]:3");
	cr_assert_eq(stun_endpoint_parse_list(eps, 4, "", &bad), 0);
	cr_assert_eq(stun_endpoint_parse_list(eps, 4, "ok:1,bad:0,ok:2", &bad), -EINVAL);
	cr_assert_eq(bad, 1);
	cr_assert_eq(stun_endpoint_parse_list(eps, 2, "a,b,c", &bad), -E2BIG);
}

Test(stun_resolve, default_servers_parse)
{
	for (size_t i = 0; i < STUN_NUM_DEFAULT_SERVERS; i++) {
		struct stun_endpoint ep;
		cr_assert_eq(stun_endpoint_parse(&ep, stun_default_servers[i], STUN_DEFAULT_PORT), 0, "%s",
			     stun_default_servers[i]);
	}
}

/* --- resolution on a runtime ---------------------------------------------- */

struct resolve_job {
	struct stun_endpoint eps[4];
	size_t num;
	int family;
	int timeout_ms;
	int rc;
	bool in_coroutine; /* the call was made from a coroutine of a reactor */
};

static void resolve_task(void *arg)
{
	struct resolve_job *j = arg;
	j->in_coroutine = core_self() != NULL;
	j->rc = stun_resolve(j->eps, j->num, j->family, j->timeout_ms);
}

static void add(struct resolve_job *j, const char *text)
{
	cr_assert_eq(stun_endpoint_parse(&j->eps[j->num++], text, STUN_DEFAULT_PORT), 0);
}

Test(stun_resolve, resolves_names_and_literals_concurrently, .timeout = 20)
{
	struct resolve_job j = { .family = AF_INET, .timeout_ms = 5000 };
	add(&j, "localhost:3478");
	add(&j, "192.0.2.7:9");
	add(&j, "does-not-exist.invalid:1");
	add(&j, "[::1]:5");
	t_run_in_rt(resolve_task, &j, 10000);
	cr_assert(j.in_coroutine);
	cr_assert_eq(j.rc, 2);
	cr_assert_eq(j.eps[0].err, 0, "localhost: %s", net_resolve_strerror(j.eps[0].err));
	struct sockaddr_in sin;
	memcpy(&sin, &j.eps[0].addr, sizeof sin);
	cr_assert_eq(sin.sin_family, AF_INET);
	cr_assert_eq(ntohl(sin.sin_addr.s_addr) >> 24, 127, "localhost is on 127/8");
	cr_assert_eq(ntohs(sin.sin_port), 3478);
	cr_assert_eq(j.eps[1].err, 0);
	memcpy(&sin, &j.eps[1].addr, sizeof sin);
	cr_assert_eq(ntohl(sin.sin_addr.s_addr), 0xc0000207u);
	cr_assert_eq(ntohs(sin.sin_port), 9);
	/* .invalid never resolves; without any DNS server glibc may say
	 * "temporary failure" instead of "no such name". */
	cr_assert(j.eps[2].err == -ENOENT || j.eps[2].err == -EAGAIN, "invalid name: %s",
		  net_resolve_strerror(j.eps[2].err));
	cr_assert_eq(j.eps[3].err, -EAFNOSUPPORT, "an IPv6 literal cannot serve an IPv4 socket");
	cr_assert_eq(net_resolve_in_flight(), 0, "every lookup was delivered and freed");
}

static bool no_lookups(void *arg)
{
	(void)arg;
	return net_resolve_in_flight() == 0;
}

Test(stun_resolve, a_caller_that_gives_up_detaches_cleanly, .timeout = 20)
{
	/* A zero timeout abandons the lookup at once; the helper thread still
	 * finishes and its delivery must free the job without touching the
	 * (gone) caller. */
	struct resolve_job j = { .family = AF_INET, .timeout_ms = 0 };
	struct t_task task = { .fn = resolve_task, .arg = &j };
	struct t_rt rt;
	struct core_rt_opts ro = { .num_threads = 1, .shutdown_grace_ms = 1000 };
	add(&j, "localhost:1");
	t_rt_start(&rt, &ro, t_task_main, &task);
	cr_assert(t_wait_until(t_task_done, &task, 5000));
	cr_assert_eq(j.rc, 0);
	cr_assert_eq(j.eps[0].err, -ETIMEDOUT);
	/* Keep the runtime up until the abandoned lookup has been delivered. */
	cr_assert(t_wait_until(no_lookups, NULL, 10000), "abandoned lookup never cleaned up");
	cr_assert_eq(t_rt_stop(&rt), 0);
}
