/* Tests for node/family.h: which family a direct path uses, and which IPv6
 * addresses are candidates. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "node/family.h"
#include "node/wire.h"

Test(node_family, names_are_what_peers_prints)
{
	cr_assert_str_eq(node_family_name(AF_INET), "ipv4");
	cr_assert_str_eq(node_family_name(AF_INET6), "ipv6");
	cr_assert_null(node_family_name(AF_UNIX));
	cr_assert_null(node_family_name(AF_UNSPEC));
}

Test(node_family, rank_prefers_lan_then_ipv6_then_public_ipv4)
{
	unsigned lan = node_family_direct_rank(true, false), v6 = node_family_direct_rank(false, true),
		 v4 = node_family_direct_rank(false, false);
	cr_assert_gt(lan, v6, "a LAN path beats IPv6");
	cr_assert_gt(v6, v4, "IPv6 beats public IPv4 (no NAT mapping to lose)");
}

struct move_case {
	bool cur_lan, cur_v6, from_lan, from_v6;
	uint64_t quiet_ms;
	bool want;
	char why[48];
};

static struct move_case move_cases[] = {
	/* Preference: a working IPv6 path takes over from public IPv4 at once. */
	{false, false, false, true, 0, true, "v4 -> v6 while v4 works"},
	{false, true, false, false, 0, false, "v6 is never left for v4 while it works"},
	{false, true, false, false, NODE_DIRECT_STALE_MS, false, "nor at the stale bound itself"},
	/* Fallback: a quiet IPv6 path gives way to IPv4 that answers. */
	{false, true, false, false, NODE_DIRECT_STALE_MS + 1, true, "quiet v6 -> v4"},
	{false, false, false, true, NODE_DIRECT_STALE_MS + 1, true, "quiet v4 -> v6"},
	{false, false, false, false, NODE_DIRECT_STALE_MS + 1, true, "quiet v4 -> v4 (rebinding)"},
	/* Same rank, both working: no flapping. */
	{false, true, false, true, 0, false, "v6 -> other v6"},
	{false, false, false, false, 1000, false, "v4 -> other v4"},
	/* LAN stays the best class. */
	{true, false, false, true, 0, false, "lan is not left for v6"},
	{false, true, true, false, 0, true, "v6 -> lan"},
	{false, false, true, false, 0, true, "public v4 -> lan"},
};

ParameterizedTestParameters(node_family, direct_moves_by_rank_or_when_quiet)
{
	return cr_make_param_array(struct move_case, move_cases, sizeof move_cases / sizeof move_cases[0]);
}

ParameterizedTest(struct move_case *c, node_family, direct_moves_by_rank_or_when_quiet)
{
	bool got = node_family_direct_moves(node_family_direct_rank(c->cur_lan, c->cur_v6),
					    node_family_direct_rank(c->from_lan, c->from_v6), c->quiet_ms);
	cr_assert_eq(got, c->want, "%s: got %d", c->why, got);
}

struct cand_case {
	char addr[48];
	bool want;
};

static struct cand_case cand_cases[] = {
	{"2001:db8:1::2", true},     {"2a00:1450:4001::1", true}, {"fd00::1", true}, /* ULA: routed inside a site */
	{"::", false},               {"::1", false},              {"fe80::1", false},
	{"febf::1", false},          {"fec0::1", true},           {"ff02::1", false},
	{"ff0e::1", false},          {"::ffff:192.0.2.1", false}, {"64:ff9b::c000:201", true},
};

ParameterizedTestParameters(node_family, v6_candidate_needs_global_unicast)
{
	return cr_make_param_array(struct cand_case, cand_cases, sizeof cand_cases / sizeof cand_cases[0]);
}

ParameterizedTest(struct cand_case *c, node_family, v6_candidate_needs_global_unicast)
{
	uint8_t a[16];
	cr_assert_eq(inet_pton(AF_INET6, c->addr, a), 1, "%s", c->addr);
	cr_assert_eq(node_family_v6_candidate(a), c->want, "%s", c->addr);
}

Test(node_family, unique_local_is_private)
{
	static const char *const yes[] = {"fc00::1", "fd00::2", "fdff:ffff::1"};
	static const char *const no[] = {"2001:db8::1", "fe80::1", "fbff::1", "fe00::1", "::1"};
	uint8_t a[16];
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		cr_assert_eq(inet_pton(AF_INET6, yes[i], a), 1);
		cr_assert(node_family_v6_private(a), "%s is unique local", yes[i]);
	}
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		cr_assert_eq(inet_pton(AF_INET6, no[i], a), 1);
		cr_assert_not(node_family_v6_private(a), "%s is not unique local", no[i]);
	}
}

/* Each refused class of a peer's IPv6 candidate has its own reason (the
 * counters in `peers --json` self.candidates_refused), and a global
 * address none. */
struct refusal_case {
	char addr[48];
	enum node_family_refusal want;
	char name[16];
};

ParameterizedTestParameters(node_family, v6_refusal_names_the_reason)
{
	static struct refusal_case cases[] = {
		{"::", NODE_REFUSE_UNSPECIFIED, "unspecified"},
		{"::1", NODE_REFUSE_LOOPBACK, "loopback"},
		{"ff02::1", NODE_REFUSE_MULTICAST, "multicast"},
		{"ff0e::1234", NODE_REFUSE_MULTICAST, "multicast"},
		{"fe80::1", NODE_REFUSE_LINK_LOCAL, "link_local"},
		{"febf:ffff::1", NODE_REFUSE_LINK_LOCAL, "link_local"},
		{"::ffff:127.0.0.1", NODE_REFUSE_V4_MAPPED, "v4_mapped"},
		{"::ffff:8.8.8.8", NODE_REFUSE_V4_MAPPED, "v4_mapped"},
		{"2001:db8::1", NODE_REFUSE_NONE, "none"},
		{"fd00::1", NODE_REFUSE_NONE, "none"},
		{"fec0::1", NODE_REFUSE_NONE, "none"},
		{"::2", NODE_REFUSE_NONE, "none"},
	};
	return cr_make_param_array(struct refusal_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct refusal_case *c, node_family, v6_refusal_names_the_reason)
{
	uint8_t a[16];
	cr_assert_eq(inet_pton(AF_INET6, c->addr, a), 1, "%s", c->addr);
	enum node_family_refusal r = node_family_v6_refusal(a);
	cr_assert_eq(r, c->want, "%s: %d, want %d", c->addr, r, c->want);
	cr_assert_str_eq(node_family_refusal_name(r), c->name, "%s", c->addr);
	cr_assert_eq(node_family_v6_candidate(a), c->want == NODE_REFUSE_NONE, "%s", c->addr);
}

Test(node_family, every_refusal_has_a_distinct_name)
{
	for (int i = 0; i < NODE_REFUSE_COUNT; i++) {
		const char *n = node_family_refusal_name((enum node_family_refusal)i);
		cr_assert(n[0] && strcmp(n, "?") != 0, "reason %d has no name", i);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(n, node_family_refusal_name((enum node_family_refusal)j), "reasons %d and %d", i, j);
	}
	cr_assert_str_eq(node_family_refusal_name(NODE_REFUSE_COUNT), "?");
	cr_assert_str_eq(node_family_refusal_name((enum node_family_refusal)-1), "?");
}
