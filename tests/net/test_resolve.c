/* Tests for net/resolve.h: literals parsed in place (no reactor, no
 * thread), names on helper threads posted back to the reactor, one deadline
 * for many names, and abandoned lookups freed when their late answer
 * arrives (run under ASan to see a use-after-free or a leak). No internet:
 * names are "localhost" (/etc/hosts) and the reserved .invalid TLD
 * (RFC 6761), which never resolves; without a DNS server glibc fails it
 * fast as a temporary failure. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>

#include "core/reactor.h"
#include "helpers.h"
#include "net/resolve.h"

/* --- literals: no coroutine, no thread ------------------------------------ */

struct literal_case {
	char host[48];
	int family;           /* asked for */
	int err;              /* net_resolve_many's reqs[0].err */
	int got_family;       /* of the address, when err == 0 */
	char want[48];        /* the address, when err == 0 */
};

ParameterizedTestParameters(net_resolve, parses_literals_in_place)
{
	static struct literal_case cases[] = {
		{ "192.0.2.7", AF_UNSPEC, 0, AF_INET, "192.0.2.7" },
		{ "192.0.2.7", AF_INET, 0, AF_INET, "192.0.2.7" },
		{ "192.0.2.7", AF_INET6, -EAFNOSUPPORT, 0, "" },
		{ "2001:db8::1", AF_UNSPEC, 0, AF_INET6, "2001:db8::1" },
		{ "[2001:db8::1]", AF_INET6, 0, AF_INET6, "2001:db8::1" },
		{ "::1", AF_INET, -EAFNOSUPPORT, 0, "" },
	};
	return cr_make_param_array(struct literal_case, cases, sizeof cases / sizeof cases[0]);
}

/* Called on the test thread, outside any reactor: a name here would trip
 * net_resolve_many's coroutine assertion, so passing proves no thread. */
ParameterizedTest(struct literal_case *c, net_resolve, parses_literals_in_place)
{
	struct net_resolve_req req = { .host = c->host, .port = 3478 };
	char shown[INET6_ADDRSTRLEN];

	int rc = net_resolve_many(&req, 1, c->family, 0);
	cr_assert_eq(req.err, c->err, "%s (family %d): %s", c->host, c->family, net_resolve_strerror(req.err));
	cr_assert_eq(rc, c->err == 0, "%s: %d resolved", c->host, rc);
	cr_assert_eq(net_resolve_in_flight(), 0u);
	if (c->err)
		return;
	cr_assert_eq(req.addr.ss_family, c->got_family);
	if (c->got_family == AF_INET) {
		struct sockaddr_in sin;
		memcpy(&sin, &req.addr, sizeof sin);
		cr_assert_eq(req.addr_len, sizeof sin);
		cr_assert_eq(ntohs(sin.sin_port), 3478);
		inet_ntop(AF_INET, &sin.sin_addr, shown, sizeof shown);
	} else {
		struct sockaddr_in6 sin6;
		memcpy(&sin6, &req.addr, sizeof sin6);
		cr_assert_eq(req.addr_len, sizeof sin6);
		cr_assert_eq(ntohs(sin6.sin6_port), 3478);
		inet_ntop(AF_INET6, &sin6.sin6_addr, shown, sizeof shown);
	}
	cr_assert_str_eq(shown, c->want);
}

Test(net_resolve, one_literal_keeps_the_single_name_contract)
{
	struct sockaddr_storage sa;
	socklen_t sl = 0;
	char err[128] = "stale";

	cr_assert_eq(net_resolve("[::1]", 443, AF_UNSPEC, &sa, &sl, 0, err, sizeof err), 0);
	cr_assert_eq(sa.ss_family, AF_INET6);
	cr_assert_eq(sl, sizeof(struct sockaddr_in6));
	cr_assert_str_empty(err, "errbuf is cleared");
	/* A literal of the other family is "no such name" to net_resolve. */
	cr_assert_eq(net_resolve("192.0.2.1", 1, AF_INET6, &sa, &sl, 0, err, sizeof err), -ENOENT);
	cr_assert(strncmp(err, "192.0.2.1: ", 11) == 0, "message quotes the host: '%s'", err);
}

Test(net_resolve, rejects_overlong_names_without_a_lookup)
{
	char name[NET_RESOLVE_HOST_MAX + 2];
	struct sockaddr_storage sa;
	socklen_t sl;

	memset(name, 'a', sizeof name - 1);
	name[sizeof name - 1] = 0;
	cr_assert_eq(net_resolve(name, 1, AF_UNSPEC, &sa, &sl, 0, NULL, 0), -ENAMETOOLONG);
	cr_assert_eq(net_resolve_in_flight(), 0u);
}

/* --- names, on a runtime --------------------------------------------------- */

struct job {
	/* net_resolve */
	const char *host;
	int family;
	int timeout_ms;
	int rc;
	struct sockaddr_storage sa;
	socklen_t sl;
	char err[160];
	/* net_resolve_many, when num > 0 */
	struct net_resolve_req reqs[8];
	size_t num;
	atomic_int done;
};

static void job_main(void *arg)
{
	struct job *j = arg;
	if (core_reactor_index(core_self()) != 0)
		return;
	if (j->num)
		j->rc = net_resolve_many(j->reqs, j->num, j->family, j->timeout_ms);
	else
		j->rc = net_resolve(j->host, 5349, j->family, &j->sa, &j->sl, j->timeout_ms, j->err, sizeof j->err);
	atomic_store(&j->done, 1);
}

static bool job_done(void *arg)
{
	return atomic_load(&((struct job *)arg)->done) != 0;
}

static bool no_lookups(void *arg)
{
	(void)arg;
	return net_resolve_in_flight() == 0;
}

/* run runs j on reactor 0 of a fresh one-thread runtime, and keeps the
 * runtime up until every lookup, abandoned ones included, was delivered. */
static void run(struct job *j)
{
	struct t_rt rt;
	struct core_rt_opts ro = { .num_threads = 1, .shutdown_grace_ms = 1000 };

	t_rt_start(&rt, &ro, job_main, j);
	cr_assert(t_wait_until(job_done, j, 15000), "resolution did not finish");
	cr_assert(t_wait_until(no_lookups, NULL, 15000), "%u lookups never cleaned up", net_resolve_in_flight());
	cr_assert_eq(t_rt_stop(&rt), 0);
}

Test(net_resolve, resolves_localhost_from_the_hosts_file, .timeout = 30)
{
	struct job j = { .host = "localhost", .family = AF_UNSPEC, .timeout_ms = 10000 };
	struct sockaddr_in sin;

	run(&j);
	cr_assert_eq(j.rc, 0, "localhost: %d %s", j.rc, j.err);
	cr_assert_eq(j.sa.ss_family, AF_INET, "AF_UNSPEC prefers IPv4");
	cr_assert_eq(j.sl, sizeof sin);
	memcpy(&sin, &j.sa, sizeof sin);
	cr_assert_eq(ntohl(sin.sin_addr.s_addr) >> 24, 127, "localhost is on 127/8");
	cr_assert_eq(ntohs(sin.sin_port), 5349);
}

Test(net_resolve, an_invalid_name_is_enoent_with_a_message, .timeout = 30)
{
	struct job j = { .host = "nonexistent.invalid", .family = AF_UNSPEC, .timeout_ms = 10000 };

	run(&j);
	cr_assert_eq(j.rc, -ENOENT, "nonexistent.invalid: %d (%s)", j.rc, strerror(-j.rc));
	cr_assert(strncmp(j.err, "nonexistent.invalid: ", 21) == 0 && strlen(j.err) > 21,
		  "the message quotes the name and the resolver's reason: '%s'", j.err);
}

Test(net_resolve, a_caller_that_gives_up_gets_etimedout_and_the_late_answer_is_freed, .timeout = 30)
{
	/* Timeout 0: the caller leaves before the helper thread can answer;
	 * run() then waits for the delivery, which must free the job without
	 * touching the caller's (finished) coroutine. */
	struct job j = { .host = "localhost", .family = AF_INET, .timeout_ms = 0 };

	run(&j);
	cr_assert_eq(j.rc, -ETIMEDOUT);
	cr_assert_str_empty(j.err);
}

Test(net_resolve, many_names_share_one_deadline, .timeout = 30)
{
	struct job j = { .family = AF_INET, .timeout_ms = 10000 };
	static const char *hosts[] = { "localhost", "localhost", "192.0.2.9", "nonexistent.invalid",
				       "localhost", "[::1]", "localhost" };

	for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++)
		j.reqs[j.num++] = (struct net_resolve_req){ .host = hosts[i], .port = (uint16_t)(1000 + i) };
	run(&j);
	cr_assert_eq(j.rc, 5, "4 × localhost and the IPv4 literal");
	for (size_t i = 0; i < j.num; i++) {
		struct net_resolve_req *r = &j.reqs[i];
		if (i == 3) {
			cr_assert(r->err == -ENOENT || r->err == -EAGAIN, "%s: %s", r->host, net_resolve_strerror(r->err));
			cr_assert_neq(r->gai, 0, "getaddrinfo's own code is kept for messages");
			continue;
		}
		if (i == 5) {
			cr_assert_eq(r->err, -EAFNOSUPPORT);
			continue;
		}
		struct sockaddr_in sin;
		cr_assert_eq(r->err, 0, "%s: %s", r->host, net_resolve_strerror(r->err));
		memcpy(&sin, &r->addr, sizeof sin);
		cr_assert_eq(sin.sin_family, AF_INET);
		/* Each answer lands in its own request, whatever order they came in. */
		cr_assert_eq((size_t)ntohs(sin.sin_port), 1000 + i, "req %zu got port %u", i, ntohs(sin.sin_port));
	}
}

Test(net_resolve, many_names_that_give_up_discard_every_late_answer, .timeout = 30)
{
	struct job j = { .family = AF_INET, .timeout_ms = 0 };

	for (size_t i = 0; i < 6; i++)
		j.reqs[j.num++] = (struct net_resolve_req){ .host = i == 2 ? "192.0.2.1" : "localhost", .port = 1 };
	run(&j);
	cr_assert_eq(j.rc, 1, "only the literal, resolved in place");
	for (size_t i = 0; i < j.num; i++)
		cr_assert_eq(j.reqs[i].err, i == 2 ? 0 : -ETIMEDOUT, "req %zu: %s", i,
			     net_resolve_strerror(j.reqs[i].err));
}
