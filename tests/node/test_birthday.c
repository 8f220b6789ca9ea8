/* Tests for node/birthday.h: hard-NAT probing's plan and state machine. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "node/birthday.h"
#include "node/wire.h"

static const uint64_t T0 = 1000000;

/* A hard side that asked at T0 and got 'A', and an easy side that accepted
 * at T0 and got 'G'. */
static void t_easy_probing(struct node_bday *b, uint32_t r1, uint32_t r2)
{
	memset(b, 0, sizeof *b);
	cr_assert(node_bday_accept(b, NODE_BDAY_EASY, false, false, T0));
	cr_assert(node_bday_go(b, T0, r1, r2));
}

Test(node_bday, classifies_nat_from_stun)
{
	cr_assert_eq(node_nat_classify(2, 2, false), NODE_NAT_EASY, "two servers, one mapping: EIM");
	cr_assert_eq(node_nat_classify(2, 1, false), NODE_NAT_HARD, "two servers, two mappings: APDM");
	cr_assert_eq(node_nat_classify(3, 2, false), NODE_NAT_HARD);
	cr_assert_eq(node_nat_classify(1, 1, false), NODE_NAT_UNKNOWN, "one server cannot tell");
	cr_assert_eq(node_nat_classify(0, 0, false), NODE_NAT_UNKNOWN);
	cr_assert_eq(node_nat_classify(1, 1, true), NODE_NAT_EASY, "no NAT");
	cr_assert_str_eq(node_nat_name(NODE_NAT_HARD), "hard");
	cr_assert_eq(node_nat_parse("easy"), NODE_NAT_EASY);
	cr_assert_eq(node_nat_parse("hard"), NODE_NAT_HARD);
	cr_assert_eq(node_nat_parse(NULL), NODE_NAT_UNKNOWN);
	cr_assert_eq(node_nat_parse("HARD"), NODE_NAT_UNKNOWN);
}

struct role_case {
	enum node_nat_kind self, peer;
	enum node_bday_role want;
};

ParameterizedTestParameters(node_bday, roles)
{
	static struct role_case cases[] = {
		{NODE_NAT_HARD, NODE_NAT_EASY, NODE_BDAY_HARD},
		{NODE_NAT_EASY, NODE_NAT_HARD, NODE_BDAY_EASY},
		/* symmetric <-> symmetric: both random, never attempted */
		{NODE_NAT_HARD, NODE_NAT_HARD, NODE_BDAY_NONE},
		{NODE_NAT_EASY, NODE_NAT_EASY, NODE_BDAY_NONE},
		/* a side that did not say (an older node) or cannot tell */
		{NODE_NAT_HARD, NODE_NAT_UNKNOWN, NODE_BDAY_NONE},
		{NODE_NAT_UNKNOWN, NODE_NAT_HARD, NODE_BDAY_NONE},
		{NODE_NAT_EASY, NODE_NAT_UNKNOWN, NODE_BDAY_NONE},
		{NODE_NAT_UNKNOWN, NODE_NAT_EASY, NODE_BDAY_NONE},
		{NODE_NAT_UNKNOWN, NODE_NAT_UNKNOWN, NODE_BDAY_NONE},
	};
	return cr_make_param_array(struct role_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct role_case *c, node_bday, roles)
{
	cr_assert_eq(node_bday_role(c->self, c->peer), c->want, "self %s peer %s", node_nat_name(c->self),
		     node_nat_name(c->peer));
}

Test(node_bday, success_probability_matches_the_formula)
{
	/* 1 - (1 - 256/64512)^k */
	cr_assert_float_eq(node_bday_success_p(256, 1024, NODE_BDAY_PORT_RANGE), 0.9830, 5e-4);
	cr_assert_float_eq(node_bday_success_p(256, 2048, NODE_BDAY_PORT_RANGE), 0.99971, 5e-5);
	cr_assert_float_eq(node_bday_success_p(256, 0, NODE_BDAY_PORT_RANGE), 0.0, 1e-12);
	cr_assert_float_eq(node_bday_success_p(1, 1, 2), 0.5, 1e-12);
	/* The budget we ship clears 99.9 %. */
	cr_assert_geq(node_bday_success_p(NODE_BDAY_SOCKETS, NODE_BDAY_MAX_PROBES, NODE_BDAY_PORT_RANGE), 0.999);
}

Test(node_bday, socket_and_probe_budget)
{
	cr_assert_eq(NODE_BDAY_SOCKETS, 256);
	cr_assert_leq(NODE_BDAY_SOCKETS, 20000 / 16, "well within the node's fd limit");
	cr_assert_eq(NODE_BDAY_MAX_PROBES, 2048);
	/* 400 probes a second; the whole budget within the probing time. */
	cr_assert_eq(NODE_BDAY_PER_STEP * 1000 / NODE_BDAY_STEP_MS, 400);
	cr_assert_leq(NODE_BDAY_MAX_PROBES / NODE_BDAY_PER_STEP * NODE_BDAY_STEP_MS, NODE_BDAY_PROBE_MS);
	/* The hard side holds its sockets at most 10 s. */
	cr_assert_leq(NODE_BDAY_ANSWER_MS + NODE_BDAY_PROBE_MS + NODE_BDAY_SLACK_MS, 10000);
}

Test(node_bday, probes_are_paced)
{
	struct node_bday b;
	t_easy_probing(&b, 12345, 777);
	cr_assert_eq(node_bday_due(&b, T0), NODE_BDAY_PER_STEP, "one step's worth at once");
	for (uint32_t i = 0; i < NODE_BDAY_PER_STEP; i++)
		node_bday_next_port(&b);
	cr_assert_eq(node_bday_due(&b, T0 + NODE_BDAY_STEP_MS - 1), 0, "nothing more within the step");
	cr_assert_eq(node_bday_due(&b, T0 + NODE_BDAY_STEP_MS), NODE_BDAY_PER_STEP);
	/* A caller that slept through many steps gets two steps' worth, not a burst. */
	cr_assert_eq(node_bday_due(&b, T0 + 50 * NODE_BDAY_STEP_MS), 2 * NODE_BDAY_PER_STEP);
}

Test(node_bday, probe_schedule_is_bounded_and_ends_at_the_deadline)
{
	struct node_bday b;
	t_easy_probing(&b, 99, 5);
	uint64_t t = T0;
	uint32_t sent = 0;
	/* A caller on time every step, for twice the probing time. */
	for (; t < T0 + 2 * NODE_BDAY_PROBE_MS; t += NODE_BDAY_STEP_MS)
		for (uint32_t d = node_bday_due(&b, t); d; d--, sent++)
			node_bday_next_port(&b);
	cr_assert_eq(sent, NODE_BDAY_MAX_PROBES, "sent %u", sent);
	cr_assert_eq(b.probes, NODE_BDAY_MAX_PROBES);
	cr_assert(node_bday_expired(&b, T0 + NODE_BDAY_PROBE_MS));
	cr_assert_not(node_bday_expired(&b, T0 + NODE_BDAY_PROBE_MS - 1));
	/* At the deadline nothing is due, whatever is left of the budget. */
	struct node_bday c;
	t_easy_probing(&c, 1, 1);
	cr_assert_eq(node_bday_due(&c, T0 + NODE_BDAY_PROBE_MS), 0);
	node_bday_finish(&c, false, T0 + NODE_BDAY_PROBE_MS);
	cr_assert_eq(c.state, NODE_BDAY_IDLE);
	cr_assert_not(c.last_ok);
}

Test(node_bday, probe_ports_are_distinct_and_in_range)
{
	static const uint32_t seeds[][2] = {{0, 0}, {1, 2}, {64511, 64511}, {0xffffffffu, 0x80000000u}, {4242, 42}};
	for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
		struct node_bday b;
		t_easy_probing(&b, seeds[s][0], seeds[s][1]);
		static uint8_t seen[65536];
		memset(seen, 0, sizeof seen);
		for (uint32_t i = 0; i < NODE_BDAY_MAX_PROBES; i++) {
			uint16_t port = node_bday_next_port(&b);
			cr_assert_geq(port, NODE_BDAY_PORT_MIN, "seed %zu probe %u: port %u", s, i, port);
			cr_assert_not(seen[port], "seed %zu probe %u: port %u again", s, i, port);
			seen[port] = 1;
		}
	}
}

Test(node_bday, stops_on_success)
{
	struct node_bday b;
	t_easy_probing(&b, 7, 11);
	for (uint32_t d = node_bday_due(&b, T0); d; d--)
		node_bday_next_port(&b);
	node_bday_finish(&b, true, T0 + 300);
	cr_assert_eq(b.state, NODE_BDAY_IDLE);
	cr_assert(b.last_ok);
	cr_assert_eq(b.last_probes, NODE_BDAY_PER_STEP);
	cr_assert_eq(b.last_ms, 300);
	cr_assert_eq(node_bday_due(&b, T0 + NODE_BDAY_STEP_MS), 0, "no probe after success");
}

Test(node_bday, hard_side_asks_only_when_scheduled_idle_and_not_busy)
{
	struct node_bday b = {0};
	cr_assert_not(node_bday_should_ask(&b, NODE_BDAY_HARD, false, false, T0), "nothing scheduled");
	node_bday_schedule(&b, T0);
	cr_assert_eq(b.next_try_ms, T0 + NODE_BDAY_AFTER_MS, "the ordinary punch goes first");
	uint64_t t = b.next_try_ms;
	cr_assert_not(node_bday_should_ask(&b, NODE_BDAY_HARD, false, false, t - 1));
	cr_assert(node_bday_should_ask(&b, NODE_BDAY_HARD, false, false, t));
	cr_assert_not(node_bday_should_ask(&b, NODE_BDAY_HARD, true, false, t), "already direct");
	cr_assert_not(node_bday_should_ask(&b, NODE_BDAY_HARD, false, true, t), "another attempt runs");
	cr_assert_not(node_bday_should_ask(&b, NODE_BDAY_EASY, false, false, t), "the easy side never asks");
	cr_assert_not(node_bday_should_ask(&b, NODE_BDAY_NONE, false, false, t), "hard <-> hard: never");
	node_bday_asked(&b, t);
	cr_assert_not(node_bday_should_ask(&b, NODE_BDAY_HARD, false, false, t), "one at a time");
}

Test(node_bday, easy_side_probes_only_after_it_agreed)
{
	struct node_bday b = {0};
	/* 'G' without our 'A': nothing. */
	cr_assert_not(node_bday_go(&b, T0, 1, 1));
	cr_assert_eq(node_bday_due(&b, T0), 0);
	/* A request we are not the easy side of: refused. */
	cr_assert_not(node_bday_accept(&b, NODE_BDAY_NONE, false, false, T0), "hard <-> hard");
	cr_assert_not(node_bday_accept(&b, NODE_BDAY_HARD, false, false, T0), "we are hard too");
	cr_assert_not(node_bday_accept(&b, NODE_BDAY_EASY, true, false, T0), "already direct");
	cr_assert_not(node_bday_accept(&b, NODE_BDAY_EASY, false, true, T0), "busy with another peer");
	cr_assert_eq(b.state, NODE_BDAY_IDLE);
	cr_assert(node_bday_accept(&b, NODE_BDAY_EASY, false, false, T0));
	cr_assert_not(node_bday_accept(&b, NODE_BDAY_EASY, false, false, T0), "one at a time");
	/* No 'G' within the answer time: the acceptance lapses. */
	cr_assert(node_bday_expired(&b, T0 + NODE_BDAY_ANSWER_MS));
	node_bday_finish(&b, false, T0 + NODE_BDAY_ANSWER_MS);
	cr_assert_not(node_bday_go(&b, T0 + NODE_BDAY_ANSWER_MS, 1, 1), "a late 'G' starts nothing");
}

Test(node_bday, easy_side_caps_requests_per_peer)
{
	struct node_bday b = {0};
	cr_assert(node_bday_accept(&b, NODE_BDAY_EASY, false, false, T0));
	node_bday_finish(&b, false, T0 + 10);
	cr_assert_not(node_bday_accept(&b, NODE_BDAY_EASY, false, false, T0 + NODE_BDAY_ACCEPT_GAP_MS - 1));
	cr_assert(node_bday_accept(&b, NODE_BDAY_EASY, false, false, T0 + NODE_BDAY_ACCEPT_GAP_MS));
}

Test(node_bday, hard_side_waits_for_accept_and_backs_off)
{
	struct node_bday b = {0};
	cr_assert_not(node_bday_open(&b, T0), "an 'A' we did not ask for");
	node_bday_schedule(&b, T0);
	uint64_t t = b.next_try_ms;
	static const uint32_t gaps[] = {60000, 120000, 240000, 480000, 960000, 960000};
	for (size_t i = 0; i < sizeof gaps / sizeof gaps[0]; i++) {
		cr_assert(node_bday_should_ask(&b, NODE_BDAY_HARD, false, false, t), "attempt %zu", i);
		node_bday_asked(&b, t);
		cr_assert(node_bday_open(&b, t + 5));
		cr_assert_eq(b.until_ms, t + 5 + NODE_BDAY_ANSWER_MS + NODE_BDAY_PROBE_MS + NODE_BDAY_SLACK_MS);
		t = b.until_ms;
		node_bday_finish(&b, false, t);
		cr_assert_eq(b.gap_ms, gaps[i], "attempt %zu: gap %u", i, b.gap_ms);
		cr_assert_eq(b.next_try_ms, t + gaps[i]);
		/* A HELLO meanwhile does not cut the backoff short. */
		node_bday_schedule(&b, t);
		cr_assert_eq(b.next_try_ms, t + gaps[i]);
		cr_assert_not(node_bday_should_ask(&b, NODE_BDAY_HARD, false, false, t + gaps[i] - 1));
		t += gaps[i];
	}
	/* Success clears the backoff; a lost path schedules afresh. */
	node_bday_asked(&b, t);
	node_bday_finish(&b, true, t + 100);
	cr_assert_eq(b.gap_ms, 0);
	cr_assert_eq(b.next_try_ms, 0);
	cr_assert_not(node_bday_should_ask(&b, NODE_BDAY_HARD, false, false, t + 1000000));
	node_bday_schedule(&b, t + 200);
	cr_assert_eq(b.next_try_ms, t + 200 + NODE_BDAY_AFTER_MS);
	cr_assert_eq(b.attempts, 7);
}
