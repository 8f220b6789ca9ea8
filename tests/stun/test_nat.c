/* Tests for stun/nat.h: the classification table; the RFC 5780 tests
 * against our server on loopback (no NAT); and every mapping and filtering
 * behaviour imitated by a scripted four-socket fake server, which also
 * drives the estimate used when no server offers RFC 5780. Real kernel NATs
 * are tested by tests/stun/natlab.sh. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>

#include "core/udp.h"
#include "stun/nat.h"
#include "t_stun.h"

/* --- classification ---------------------------------------------------------- */

struct class_case {
	bool answered, no_nat;
	enum stun_nat_mapping mapping;
	enum stun_nat_filtering filtering;
	enum stun_nat_type want;
	bool estimated;
};

ParameterizedTestParameters(stun_nat, classifies_behaviour)
{
	static struct class_case cases[] = {
		{ false, false, STUN_MAPPING_UNKNOWN, STUN_FILTERING_UNKNOWN, STUN_NAT_UDP_BLOCKED, false },
		{ true, true, STUN_MAPPING_ENDPOINT_INDEPENDENT, STUN_FILTERING_ADDRESS_AND_PORT_DEPENDENT, STUN_NAT_OPEN,
		  false },
		{ true, false, STUN_MAPPING_ENDPOINT_INDEPENDENT, STUN_FILTERING_ENDPOINT_INDEPENDENT, STUN_NAT_FULL_CONE,
		  false },
		{ true, false, STUN_MAPPING_ENDPOINT_INDEPENDENT, STUN_FILTERING_ADDRESS_DEPENDENT,
		  STUN_NAT_RESTRICTED_CONE, false },
		{ true, false, STUN_MAPPING_ENDPOINT_INDEPENDENT, STUN_FILTERING_ADDRESS_AND_PORT_DEPENDENT,
		  STUN_NAT_PORT_RESTRICTED, false },
		{ true, false, STUN_MAPPING_ENDPOINT_INDEPENDENT, STUN_FILTERING_UNKNOWN, STUN_NAT_PORT_RESTRICTED, true },
		{ true, false, STUN_MAPPING_ADDRESS_DEPENDENT, STUN_FILTERING_ADDRESS_DEPENDENT, STUN_NAT_SYMMETRIC, false },
		{ true, false, STUN_MAPPING_ADDRESS_AND_PORT_DEPENDENT, STUN_FILTERING_UNKNOWN, STUN_NAT_SYMMETRIC, false },
		{ true, false, STUN_MAPPING_ENDPOINT_DEPENDENT, STUN_FILTERING_ENDPOINT_INDEPENDENT, STUN_NAT_SYMMETRIC,
		  false },
		{ true, false, STUN_MAPPING_UNKNOWN, STUN_FILTERING_ENDPOINT_INDEPENDENT, STUN_NAT_UNKNOWN, false },
	};
	return cr_make_param_array(struct class_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct class_case *c, stun_nat, classifies_behaviour)
{
	bool est = !c->estimated;
	enum stun_nat_type t = stun_nat_classify(c->answered, c->no_nat, c->mapping, c->filtering, &est);
	cr_assert_eq(t, c->want, "%s/%s: %s, want %s", stun_nat_mapping_name(c->mapping),
		     stun_nat_filtering_name(c->filtering), stun_nat_type_name(t), stun_nat_type_name(c->want));
	cr_assert_eq(est, c->estimated);
}

ParameterizedTestParameters(stun_nat, classifies_ipv6_by_its_firewall)
{
	static struct class_case cases[] = {
		/* No NAT: the filter decides. */
		{ true, true, STUN_MAPPING_ENDPOINT_INDEPENDENT, STUN_FILTERING_ENDPOINT_INDEPENDENT, STUN_NAT_OPEN, false },
		{ true, true, STUN_MAPPING_ENDPOINT_INDEPENDENT, STUN_FILTERING_ADDRESS_DEPENDENT, STUN_NAT_FIREWALLED,
		  false },
		{ true, true, STUN_MAPPING_ENDPOINT_INDEPENDENT, STUN_FILTERING_ADDRESS_AND_PORT_DEPENDENT,
		  STUN_NAT_FIREWALLED, false },
		{ true, true, STUN_MAPPING_ENDPOINT_INDEPENDENT, STUN_FILTERING_UNKNOWN, STUN_NAT_OPEN, true },
		/* NAT66 or nothing: as IPv4. */
		{ false, false, STUN_MAPPING_UNKNOWN, STUN_FILTERING_UNKNOWN, STUN_NAT_UDP_BLOCKED, false },
		{ true, false, STUN_MAPPING_ENDPOINT_INDEPENDENT, STUN_FILTERING_ADDRESS_DEPENDENT,
		  STUN_NAT_RESTRICTED_CONE, false },
		{ true, false, STUN_MAPPING_ADDRESS_DEPENDENT, STUN_FILTERING_UNKNOWN, STUN_NAT_SYMMETRIC, false },
	};
	return cr_make_param_array(struct class_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct class_case *c, stun_nat, classifies_ipv6_by_its_firewall)
{
	bool est = !c->estimated;
	enum stun_nat_type t = stun_nat_classify_ipv6(c->answered, c->no_nat, c->mapping, c->filtering, &est);
	cr_assert_eq(t, c->want, "%s/%s: %s, want %s", stun_nat_mapping_name(c->mapping),
		     stun_nat_filtering_name(c->filtering), stun_nat_type_name(t), stun_nat_type_name(c->want));
	cr_assert_eq(est, c->estimated);
}

Test(stun_nat, names_are_the_seeds)
{
	static const char *const want[] = { "unknown", "open", "full_cone", "restricted_cone", "port_restricted",
					    "symmetric", "udp_blocked" };
	for (int i = STUN_NAT_UNKNOWN; i <= STUN_NAT_UDP_BLOCKED; i++)
		cr_assert_str_eq(stun_nat_type_name((enum stun_nat_type)i), want[i]);
	cr_assert_str_eq(stun_nat_type_name(STUN_NAT_FIREWALLED), "firewalled");
	cr_assert_str_eq(stun_nat_type_name((enum stun_nat_type)99), "unknown");
	cr_assert_str_eq(stun_nat_mapping_name(STUN_MAPPING_ADDRESS_AND_PORT_DEPENDENT), "address_and_port_dependent");
	cr_assert_str_eq(stun_nat_filtering_name(STUN_FILTERING_ADDRESS_DEPENDENT), "address_dependent");
}

/* --- discovery on loopback ------------------------------------------------------ */

struct nat_job {
	struct stun_endpoint eps[4];
	size_t num;
	struct stun_client_opts o;
	int rc;
	struct stun_nat_report r;
	struct stun_addr bound;
	uint64_t elapsed_ms;
};

static struct nat_job *new_job(unsigned timeout_ms)
{
	struct nat_job *j = calloc(1, sizeof *j);
	cr_assert_not_null(j);
	j->o.timeout_ms = timeout_ms;
	j->o.no_cache = true;
	return j;
}

static void nat_task(void *arg)
{
	struct nat_job *j = arg;
	struct sockaddr_storage a;
	socklen_t len = t_sockaddr(&a, "0.0.0.0", 0);
	int err = 0;
	int fd = core_udp_bind((struct sockaddr *)&a, len, false);
	cr_assert_geq(fd, 0);
	len = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &len);
	stun_addr_from_sockaddr(&j->bound, (struct sockaddr *)&a, len);
	struct core_udp *u = core_udp_new(fd, &err);
	uint64_t t0 = core_now_ns();
	j->rc = stun_nat_discover(u, j->eps, j->num, &j->o, &j->r);
	j->elapsed_ms = (core_now_ns() - t0) / 1000000u;
	core_udp_close(u);
}

static void run_alone(struct nat_job *j, struct t_fake **fakes, size_t num_fakes)
{
	struct t_task task = { .fn = nat_task, .arg = j };
	struct t_rt rt;
	struct core_rt_opts ro = { .num_threads = 1, .shutdown_grace_ms = 1000 };
	t_rt_start(&rt, &ro, t_task_main, &task);
	t_fake_serve(fakes, num_fakes, &task, 20000);
	cr_assert_eq(t_rt_stop(&rt), 0);
}

Test(stun_nat, loopback_with_our_rfc5780_server_is_open_and_endpoint_independent, .timeout = 20)
{
	struct nat_job *j = new_job(1500);
	struct stun_server_opts o = t_opts("127.0.0.1", "127.0.0.2");
	struct t_server srv;
	struct t_task task = { .fn = nat_task, .arg = j };

	t_server_start(&srv, &o, 2);
	struct sockaddr_storage sa = t_server_addr(&srv, STUN_SOCK_PRIMARY);
	j->eps[j->num++] = t_endpoint(&sa);
	t_post_task(&srv.rt, &task);
	cr_assert(t_wait_until(t_task_done, &task, 15000));
	t_server_stop(&srv);

	struct stun_nat_report *r = &j->r;
	cr_assert_eq(j->rc, 0);
	cr_assert_eq(r->disc.status, 0);
	cr_assert(r->rfc5780);
	cr_assert_eq(r->type, STUN_NAT_OPEN, "%s (%s)", stun_nat_type_name(r->type), r->note);
	cr_assert_eq(r->mapping, STUN_MAPPING_ENDPOINT_INDEPENDENT);
	cr_assert_eq(r->filtering, STUN_FILTERING_ENDPOINT_INDEPENDENT, "%s", stun_nat_filtering_name(r->filtering));
	cr_assert_eq(r->hairpinning, 1);
	cr_assert_eq(r->port_preserving, 1);
	cr_assert_not(r->estimated);
	for (int i = 0; i < STUN_NAT_NUM_TESTS; i++)
		cr_assert_eq(r->tests[i].status, 0, "test %d did not pass", i);
	/* The change requests were answered from the other sockets. */
	cr_assert_eq(r->tests[STUN_NAT_TEST_FILTERING_II].from.ip[3], 2);
	cr_assert_lt(j->elapsed_ms, 1500, "nothing waits for a timeout when everything answers");
	free(j);
}

/* Every behaviour, imitated by the four-socket fake. */
struct behaviour_case {
	enum t_fake_kind mapping, filtering;
	enum stun_nat_mapping want_mapping;
	enum stun_nat_filtering want_filtering;
	enum stun_nat_type want;
};

ParameterizedTestParameters(stun_nat, rfc5780_tests_tell_behaviours_apart)
{
	static struct behaviour_case cases[] = {
		{ T_EI, T_EI, STUN_MAPPING_ENDPOINT_INDEPENDENT, STUN_FILTERING_ENDPOINT_INDEPENDENT, STUN_NAT_FULL_CONE },
		{ T_EI, T_AD, STUN_MAPPING_ENDPOINT_INDEPENDENT, STUN_FILTERING_ADDRESS_DEPENDENT,
		  STUN_NAT_RESTRICTED_CONE },
		{ T_EI, T_APD, STUN_MAPPING_ENDPOINT_INDEPENDENT, STUN_FILTERING_ADDRESS_AND_PORT_DEPENDENT,
		  STUN_NAT_PORT_RESTRICTED },
		{ T_AD, T_APD, STUN_MAPPING_ADDRESS_DEPENDENT, STUN_FILTERING_ADDRESS_AND_PORT_DEPENDENT,
		  STUN_NAT_SYMMETRIC },
		{ T_APD, T_APD, STUN_MAPPING_ADDRESS_AND_PORT_DEPENDENT, STUN_FILTERING_ADDRESS_AND_PORT_DEPENDENT,
		  STUN_NAT_SYMMETRIC },
	};
	return cr_make_param_array(struct behaviour_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct behaviour_case *c, stun_nat, rfc5780_tests_tell_behaviours_apart, .timeout = 20)
{
	struct nat_job *j = new_job(800);
	struct t_fake nat;
	struct t_fake *fakes[] = { &nat };

	t_fake_open(&nat, "127.0.0.1", "127.0.0.2");
	nat.mapping = c->mapping;
	nat.filtering = c->filtering;
	nat.mapped = (struct stun_addr){ .family = STUN_FAMILY_IPV4, .port = 40000, .ip = { 127, 0, 0, 9 } };
	j->eps[j->num++] = t_endpoint(&nat.addrs[0]);
	run_alone(j, fakes, 1);
	t_fake_close(&nat);

	struct stun_nat_report *r = &j->r;
	cr_assert_eq(j->rc, 0);
	cr_assert(r->rfc5780);
	cr_assert_eq(r->mapping, c->want_mapping, "mapping %s", stun_nat_mapping_name(r->mapping));
	cr_assert_eq(r->filtering, c->want_filtering, "filtering %s (%s)", stun_nat_filtering_name(r->filtering),
		     r->note);
	cr_assert_eq(r->type, c->want, "type %s", stun_nat_type_name(r->type));
	cr_assert_not(r->estimated);
	cr_assert_eq(r->hairpinning, 0, "nobody listens on the imitated public address");
	cr_assert_eq(r->port_preserving, 0);
	free(j);
}

/* Without RFC 5780: two plain servers on different addresses. */
struct estimate_case {
	char ip_b[16];           /* second server's address */
	uint16_t port_b_offset;  /* added to the mapped port the second server reports */
	enum stun_nat_mapping want_mapping;
	enum stun_nat_type want;
	bool estimated;
};

ParameterizedTestParameters(stun_nat, estimates_from_several_servers_without_rfc5780)
{
	static struct estimate_case cases[] = {
		{ "127.0.0.2", 0, STUN_MAPPING_ENDPOINT_INDEPENDENT, STUN_NAT_PORT_RESTRICTED, true },
		{ "127.0.0.2", 7, STUN_MAPPING_ENDPOINT_DEPENDENT, STUN_NAT_SYMMETRIC, false },
		/* Same server address, other port, other mapping: the port counts. */
		{ "127.0.0.1", 7, STUN_MAPPING_ADDRESS_AND_PORT_DEPENDENT, STUN_NAT_SYMMETRIC, false },
		/* Same address and mapping from one ip only proves nothing. */
		{ "127.0.0.1", 0, STUN_MAPPING_UNKNOWN, STUN_NAT_UNKNOWN, false },
	};
	return cr_make_param_array(struct estimate_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct estimate_case *c, stun_nat, estimates_from_several_servers_without_rfc5780, .timeout = 20)
{
	struct nat_job *j = new_job(600);
	struct t_fake a, b;
	struct t_fake *fakes[] = { &a, &b };

	t_fake_open(&a, "127.0.0.1", NULL);
	t_fake_open(&b, c->ip_b, NULL);
	a.mapped = (struct stun_addr){ .family = STUN_FAMILY_IPV4, .port = 40000, .ip = { 127, 0, 0, 9 } };
	b.mapped = a.mapped;
	b.mapped.port = (uint16_t)(b.mapped.port + c->port_b_offset);
	j->eps[j->num++] = t_endpoint(&a.addrs[0]);
	j->eps[j->num++] = t_endpoint(&b.addrs[0]);
	j->o.settle_ms = -1;
	run_alone(j, fakes, 2);
	t_fake_close(&a);
	t_fake_close(&b);

	struct stun_nat_report *r = &j->r;
	cr_assert_eq(j->rc, 0);
	cr_assert_not(r->rfc5780);
	cr_assert_eq(r->disc.num_answered, 2);
	cr_assert_eq(r->mapping, c->want_mapping, "mapping %s", stun_nat_mapping_name(r->mapping));
	cr_assert_eq(r->filtering, STUN_FILTERING_UNKNOWN);
	cr_assert_eq(r->type, c->want, "type %s", stun_nat_type_name(r->type));
	cr_assert_eq(r->estimated, c->estimated);
	cr_assert_neq(r->note[0], 0, "unknown or estimated results carry a note");
	free(j);
}

Test(stun_nat, nobody_answering_is_udp_blocked_within_the_timeout, .timeout = 20)
{
	struct nat_job *j = new_job(700);
	struct t_fake a;
	struct t_fake *fakes[] = { &a };

	t_fake_open(&a, "127.0.0.1", NULL);
	a.mode = T_FAKE_SILENT;
	j->eps[j->num++] = t_endpoint(&a.addrs[0]);
	run_alone(j, fakes, 1);
	t_fake_close(&a);
	cr_assert_eq(j->rc, 0);
	cr_assert_eq(j->r.type, STUN_NAT_UDP_BLOCKED);
	cr_assert_eq(j->r.disc.status, -ETIMEDOUT);
	cr_assert_eq(j->r.hairpinning, -1);
	cr_assert_lt(j->elapsed_ms, 700 + 300, "no behaviour tests after a failed discovery");
	free(j);
}

Test(stun_nat, unresolvable_servers_are_unknown_not_blocked, .timeout = 20)
{
	struct nat_job *j = new_job(3000);
	cr_assert_eq(stun_endpoint_parse(&j->eps[j->num++], "nothing-here.invalid", STUN_DEFAULT_PORT), 0);
	run_alone(j, NULL, 0);
	cr_assert_eq(j->rc, 0);
	cr_assert_eq(j->r.disc.status, -ENOENT, "status %d, dns %d", j->r.disc.status, j->r.disc.servers[0].ep.err);
	cr_assert_eq(j->r.type, STUN_NAT_UNKNOWN);
	free(j);
}

/* stun_port_pattern_classify: the port-allocation pattern of fresh mappings. */
Test(stun_nat, port_pattern_preserving_sequential_random)
{
	int s = 99;
	const uint16_t loc[6] = {40001, 51234, 33333, 60000, 45678, 38000};
	cr_assert_eq(stun_port_pattern_classify(loc, loc, 6, &s), STUN_PORTS_PRESERVING);
	cr_assert_eq(s, 0);

	const uint16_t seq1[6] = {30000, 30001, 30002, 30003, 30004, 30005};
	cr_assert_eq(stun_port_pattern_classify(loc, seq1, 6, &s), STUN_PORTS_SEQUENTIAL);
	cr_assert_eq(s, 1);
	const uint16_t seq_down[4] = {30000, 29996, 29992, 29988};
	cr_assert_eq(stun_port_pattern_classify(loc, seq_down, 4, &s), STUN_PORTS_SEQUENTIAL);
	cr_assert_eq(s, -4);
	/* Across the wrap, and with one gap (another host's mapping in between). */
	const uint16_t wrap[5] = {65534, 65535, 0, 2, 3};
	cr_assert_eq(stun_port_pattern_classify(loc, wrap, 5, &s), STUN_PORTS_SEQUENTIAL);
	cr_assert_eq(s, 1);
	const uint16_t two_gaps[6] = {1000, 1002, 1003, 1005, 1006, 1007};
	cr_assert_eq(stun_port_pattern_classify(loc, two_gaps, 6, &s), STUN_PORTS_RANDOM, "two gaps are not a pattern");
	cr_assert_eq(s, 0);

	const uint16_t rnd[6] = {41235, 2077, 63001, 17420, 33012, 5555};
	cr_assert_eq(stun_port_pattern_classify(loc, rnd, 6, &s), STUN_PORTS_RANDOM);
	const uint16_t far[4] = {1000, 3000, 5000, 7000};
	cr_assert_eq(stun_port_pattern_classify(loc, far, 4, &s), STUN_PORTS_RANDOM, "stride above the maximum");
	const uint16_t same[4] = {7000, 7000, 7000, 7000};
	cr_assert_eq(stun_port_pattern_classify(loc, same, 4, &s), STUN_PORTS_RANDOM, "no step is no sequence");
	/* Some preserved, some not: not preserving. */
	const uint16_t mixed[4] = {40001, 51234, 1, 60000};
	cr_assert_neq(stun_port_pattern_classify(loc, mixed, 4, NULL), STUN_PORTS_PRESERVING);

	cr_assert_eq(stun_port_pattern_classify(loc, seq1, 2, &s), STUN_PORTS_UNKNOWN, "two cannot tell");
	cr_assert_eq(stun_port_pattern_classify(loc, seq1, 0, NULL), STUN_PORTS_UNKNOWN);
	cr_assert_str_eq(stun_port_pattern_name(STUN_PORTS_SEQUENTIAL), "sequential");
	cr_assert_str_eq(stun_port_pattern_name((enum stun_port_pattern)42), "unknown");
}
