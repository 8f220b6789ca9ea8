/* Tests for node/birthday.h: hard-NAT probing's plan and state machine. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "node/birthday.h"
#include "node/wire.h"

static const uint64_t T0 = 1000000;
#define ON node_bday_budget(NODE_HARD_NAT_ON)

/* A hard side that asked at T0 and got 'A', and an easy side that accepted
 * at T0 and got 'G'. */
static void t_easy_probing(struct node_bday *b, uint32_t r1, uint32_t r2)
{
	memset(b, 0, sizeof *b);
	cr_assert(node_bday_accept(b, NODE_BDAY_EASY, false, false, T0));
	cr_assert(node_bday_go(b, T0, r1, r2, ON));
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
	cr_assert_not(node_bday_go(&b, T0, 1, 1, ON));
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
	cr_assert_not(node_bday_go(&b, T0 + NODE_BDAY_ANSWER_MS, 1, 1, ON), "a late 'G' starts nothing");
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
	cr_assert_not(node_bday_open(&b, T0, ON), "an 'A' we did not ask for");
	node_bday_schedule(&b, T0);
	uint64_t t = b.next_try_ms;
	static const uint32_t gaps[] = {60000, 120000, 240000, 480000, 960000, 960000};
	for (size_t i = 0; i < sizeof gaps / sizeof gaps[0]; i++) {
		cr_assert(node_bday_should_ask(&b, NODE_BDAY_HARD, false, false, t), "attempt %zu", i);
		node_bday_asked(&b, t);
		cr_assert(node_bday_open(&b, t + 5, ON));
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

/* `serve --hard-nat MODE`: each mode's budget, and what it lets an attempt do. */
Test(node_bday, budget_per_mode)
{
	enum node_hard_nat_mode m = NODE_HARD_NAT_OFF;
	cr_assert(node_hard_nat_mode_parse("on", &m));
	cr_assert_eq(m, NODE_HARD_NAT_ON);
	cr_assert(node_hard_nat_mode_parse("aggressive", &m));
	cr_assert_eq(m, NODE_HARD_NAT_AGGRESSIVE);
	cr_assert(node_hard_nat_mode_parse("off", &m));
	cr_assert_eq(m, NODE_HARD_NAT_OFF);
	cr_assert_not(node_hard_nat_mode_parse("ON", &m));
	cr_assert_not(node_hard_nat_mode_parse("", &m));
	cr_assert_not(node_hard_nat_mode_parse(NULL, &m));
	cr_assert_eq(m, NODE_HARD_NAT_OFF, "a bad mode leaves it alone");
	cr_assert_str_eq(node_hard_nat_mode_name(NODE_HARD_NAT_AGGRESSIVE), "aggressive");
	cr_assert_eq(NODE_HARD_NAT_ON, 0, "zeroed options mean today's budget");

	const struct node_bday_budget *on = node_bday_budget(NODE_HARD_NAT_ON);
	cr_assert_eq(on->sockets, 256);
	cr_assert_eq(on->max_probes, 2048);
	cr_assert_eq(on->per_step * 1000 / NODE_BDAY_STEP_MS, 400);
	cr_assert_eq(NODE_BDAY_ANSWER_MS + on->probe_ms + NODE_BDAY_SLACK_MS, 10000);

	const struct node_bday_budget *off = node_bday_budget(NODE_HARD_NAT_OFF);
	cr_assert_eq(off->sockets + off->max_probes + off->per_step + off->probe_ms, 0);
	cr_assert_eq(node_bday_budget((enum node_hard_nat_mode)99), off, "out of range is off");

	const struct node_bday_budget *ag = node_bday_budget(NODE_HARD_NAT_AGGRESSIVE);
	cr_assert_gt(ag->sockets, on->sockets);
	cr_assert_gt(ag->max_probes, on->max_probes);
	cr_assert_leq(ag->sockets, NODE_BDAY_SOCKETS_MAX);
	cr_assert_leq(ag->sockets, 20000 / 32, "still well within the node's fd limit");
	cr_assert_leq(ag->max_probes, NODE_BDAY_PORT_RANGE, "distinct ports");
	cr_assert_eq(ag->per_step, on->per_step, "the same 400/s: a longer window, not a faster rate");
	cr_assert_leq((uint64_t)ag->max_probes / ag->per_step * NODE_BDAY_STEP_MS, ag->probe_ms);
	cr_assert_leq(NODE_BDAY_ANSWER_MS + ag->probe_ms + NODE_BDAY_SLACK_MS, 16000);
	cr_assert_geq(node_bday_success_p(ag->sockets, ag->max_probes, NODE_BDAY_PORT_RANGE),
		      node_bday_success_p(on->sockets, on->max_probes, NODE_BDAY_PORT_RANGE));
	/* Against a NAT whose mappings stay hittable only for a quarter of the
	 * ports (say, 64 of the 256 in time), aggressive still clears 99 %. */
	cr_assert_geq(node_bday_success_p(ag->sockets / 4, ag->max_probes, NODE_BDAY_PORT_RANGE), 0.99);
}

/* Each mode's probe schedule: exactly its budget, at its pace, within its window. */
static uint32_t run_schedule(const struct node_bday_budget *bu, uint64_t *last_ms)
{
	struct node_bday b = {0};
	uint32_t sent = 0;
	*last_ms = 0;
	if (!node_bday_accept(&b, NODE_BDAY_EASY, false, false, T0) || !node_bday_go(&b, T0, 7, 11, bu))
		return 0;
	for (uint64_t t = T0; t < T0 + 3 * NODE_BDAY_AGGR_PROBE_MS; t += NODE_BDAY_STEP_MS)
		for (uint32_t d = node_bday_due(&b, t); d; d--, sent++) {
			node_bday_next_port(&b);
			*last_ms = t - T0;
		}
	return sent;
}

Test(node_bday, schedule_per_mode)
{
	uint64_t last;
	const struct node_bday_budget *on = node_bday_budget(NODE_HARD_NAT_ON);
	const struct node_bday_budget *ag = node_bday_budget(NODE_HARD_NAT_AGGRESSIVE);
	cr_assert_eq(run_schedule(on, &last), 2048);
	cr_assert_lt(last, on->probe_ms);
	cr_assert_eq(run_schedule(ag, &last), 4096);
	cr_assert_lt(last, ag->probe_ms);
	cr_assert_geq(last, (uint64_t)(4096 / ag->per_step - 1) * NODE_BDAY_STEP_MS, "paced: %llu ms", (unsigned long long)last);
	cr_assert_eq(run_schedule(node_bday_budget(NODE_HARD_NAT_OFF), &last), 0, "off: nothing");

	/* Off: the easy side does not start on 'G', the hard side does not open. */
	struct node_bday b = {0};
	cr_assert(node_bday_accept(&b, NODE_BDAY_EASY, false, false, T0));
	cr_assert_not(node_bday_go(&b, T0, 1, 1, node_bday_budget(NODE_HARD_NAT_OFF)));
	struct node_bday h = {0};
	node_bday_asked(&h, T0);
	cr_assert_not(node_bday_open(&h, T0, node_bday_budget(NODE_HARD_NAT_OFF)));
	/* Aggressive: the hard side listens for the longer window. */
	cr_assert(node_bday_open(&h, T0, ag));
	cr_assert_eq(h.until_ms, T0 + NODE_BDAY_ANSWER_MS + ag->probe_ms + NODE_BDAY_SLACK_MS);
}

Test(node_bday, seq_window_follows_the_stride)
{
	uint16_t out[NODE_BDAY_MAX_PROBES];
	size_t n = node_bday_seq_window(40000, 1, 256, 64, NODE_BDAY_MAX_PROBES, out, 2048);
	cr_assert_eq(n, 320, "sockets opened plus slack");
	cr_assert_eq(out[0], 40001);
	cr_assert_eq(out[319], 40320);
	n = node_bday_seq_window(40000, 2, 4, 0, NODE_BDAY_MAX_PROBES, out, 2048);
	cr_assert_eq(n, 4);
	cr_assert_eq(out[0], 40002);
	cr_assert_eq(out[3], 40008);
	n = node_bday_seq_window(40000, -3, 2, 0, NODE_BDAY_MAX_PROBES, out, 2048);
	cr_assert_eq(n, 2);
	cr_assert_eq(out[0], 39997, "a NAT counting down");
	cr_assert_eq(out[1], 39994);
}

Test(node_bday, seq_window_wraps_within_1024_65535)
{
	uint16_t out[16];
	size_t n = node_bday_seq_window(65534, 1, 4, 0, 100, out, 16);
	cr_assert_eq(n, 4);
	cr_assert_eq(out[0], 65535);
	cr_assert_eq(out[1], 1024, "past 65535 wraps to the bottom of the range");
	cr_assert_eq(out[2], 1025);
	n = node_bday_seq_window(1025, -1, 3, 0, 100, out, 16);
	cr_assert_eq(n, 3);
	cr_assert_eq(out[0], 1024);
	cr_assert_eq(out[1], 65535, "below 1024 wraps to the top");
	cr_assert_eq(out[2], 65534);
	n = node_bday_seq_window(500, 1, 2, 0, 100, out, 16);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < n; i++)
		cr_assert(out[i] >= NODE_BDAY_PORT_MIN, "a last port below 1024 still gives ports in the range");
}

Test(node_bday, seq_window_respects_budget_and_random)
{
	uint16_t out[64];
	cr_assert_eq(node_bday_seq_window(40000, 0, 256, 64, 2048, out, 64), 0, "stride 0: random, probe as today");
	cr_assert_eq(node_bday_seq_window(40000, NODE_BDAY_PORT_RANGE, 8, 0, 2048, out, 64), 0, "a full-range stride is 0");
	cr_assert_eq(node_bday_seq_window(40000, 1, 256, 64, 10, out, 64), 10, "the budget bounds the window");
	cr_assert_eq(node_bday_seq_window(40000, 1, 256, 64, 2048, out, 64), 64, "so does the buffer");
	/* A stride sharing a factor with the range comes round early: no port twice. */
	size_t n = node_bday_seq_window(40000, NODE_BDAY_PORT_RANGE / 4, 60, 0, 2048, out, 64);
	cr_assert_eq(n, 3);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			cr_assert_neq(out[i], out[j]);
}

Test(node_bday, seq_message_round_trip_and_malformed)
{
	struct node_bday_seq s = {.last = 40000, .stride = -2, .opened = 256}, r;
	uint8_t m[NODE_BDAY_SEQ_LEN];
	node_bday_seq_encode(&s, m);
	cr_assert_eq(m[0], 'S');
	cr_assert(node_bday_seq_parse(m, sizeof m, &r));
	cr_assert_eq(r.last, 40000);
	cr_assert_eq(r.stride, -2);
	cr_assert_eq(r.opened, 256);
	cr_assert_not(node_bday_seq_parse(m, sizeof m - 1, &r), "short");
	cr_assert_not(node_bday_seq_parse((const uint8_t *)"G", 1, &r), "a bare 'G' is no prediction");
	uint8_t z[NODE_BDAY_SEQ_LEN] = {'S', 0x9c, 0x40, 0, 0, 1, 0};
	cr_assert_not(node_bday_seq_parse(z, sizeof z, &r), "stride 0");
	uint8_t big[NODE_BDAY_SEQ_LEN] = {'S', 0x9c, 0x40, 0, 1, 0xff, 0xff};
	cr_assert_not(node_bday_seq_parse(big, sizeof big, &r), "more sockets than any budget");
}

Test(node_bday, old_go_without_prediction_probes_at_random)
{
	/* An older hard side sends a bare 'G': the sequence is the random one. */
	struct node_bday a, b;
	t_easy_probing(&a, 12345, 77);
	memset(&b, 0, sizeof b);
	cr_assert(node_bday_accept(&b, NODE_BDAY_EASY, false, false, T0));
	cr_assert(node_bday_go(&b, T0, 12345, 77, ON));
	for (int i = 0; i < 100; i++)
		cr_assert_eq(node_bday_next_port(&a), node_bday_next_port(&b));
	cr_assert_eq(a.seq_n, 0);
	cr_assert_eq(node_bday_next_port(&a), (uint16_t)(NODE_BDAY_PORT_MIN + (12345 + 100u * a.port_stride) % NODE_BDAY_PORT_RANGE));
}

Test(node_bday, prediction_first_then_random)
{
	struct node_bday b;
	memset(&b, 0, sizeof b);
	struct node_bday_seq s = {.last = 65530, .stride = 1, .opened = 8};
	cr_assert_not(node_bday_predict(&b, &s), "idle: no attempt to predict for");
	cr_assert(node_bday_accept(&b, NODE_BDAY_EASY, false, false, T0));
	cr_assert(node_bday_predict(&b, &s));
	cr_assert(node_bday_go(&b, T0, 5, 77, ON));
	cr_assert_eq(b.seq_n, 8 + NODE_BDAY_SEQ_SLACK);
	uint16_t want[8 + NODE_BDAY_SEQ_SLACK];
	cr_assert_eq(node_bday_seq_window(65530, 1, 8, NODE_BDAY_SEQ_SLACK, b.max_probes, want, 72), 72);
	for (size_t i = 0; i < 72; i++)
		cr_assert_eq(node_bday_next_port(&b), want[i], "probe %zu follows the prediction", i);
	cr_assert_eq(node_bday_next_port(&b), (uint16_t)(NODE_BDAY_PORT_MIN + 5), "then the random sequence from its start");
	cr_assert_eq(b.probes, 73, "the window counts against the budget");
}

Test(node_bday, prediction_during_probing_applies_to_the_rest)
{
	struct node_bday b;
	t_easy_probing(&b, 5, 77);
	node_bday_next_port(&b);
	node_bday_next_port(&b);
	struct node_bday_seq s = {.last = 2000, .stride = 4, .opened = 1};
	cr_assert(node_bday_predict(&b, &s));
	cr_assert_eq(node_bday_next_port(&b), 2004);
	cr_assert_eq(b.seq_from, 2);
	cr_assert_not(node_bday_predict(&b, &s), "one prediction per attempt");
}

/* node_bday_seq_index / node_bday_hit: where the path opened tells whether
 * the prediction made it (peers --json hard_nat.last_hit). */
Test(node_bday, hit_in_the_window_is_the_predictions)
{
	struct node_bday b;
	memset(&b, 0, sizeof b);
	cr_assert(node_bday_accept(&b, NODE_BDAY_EASY, false, false, T0));
	cr_assert_eq(node_bday_seq_index(&b, 2000), 0, "no prediction: every hit is random");
	struct node_bday_seq s = {.last = 65280, .stride = 256, .opened = 4};
	cr_assert(node_bday_predict(&b, &s));
	cr_assert(node_bday_go(&b, T0, 5, 77, ON));
	uint16_t want[4 + NODE_BDAY_SEQ_SLACK];
	size_t n = node_bday_seq_window(65280, 256, 4, NODE_BDAY_SEQ_SLACK, b.max_probes, want, 68);
	cr_assert_eq(n, b.seq_n);
	for (size_t k = 0; k < n; k++)
		cr_assert_eq(node_bday_seq_index(&b, want[k]), k + 1, "port %u", want[k]);
	cr_assert_eq(node_bday_seq_index(&b, 65280), 0, "the last port seen is not a new mapping");
	cr_assert_eq(node_bday_seq_index(&b, 65281), 0, "off the stride");
	node_bday_hit(&b, want[2]);
	cr_assert_eq(b.last_hit_port, want[2]);
	cr_assert_eq(b.last_hit_index, 3);
	node_bday_hit(&b, 3333);
	cr_assert_eq(b.last_hit_port, 3333);
	cr_assert_eq(b.last_hit_index, 0, "outside the window: random");
	node_bday_finish(&b, true, T0 + 100);
	cr_assert_eq(b.last_hit_port, 3333, "kept after the attempt, for peers --json");
	cr_assert(node_bday_accept(&b, NODE_BDAY_EASY, false, false, T0 + NODE_BDAY_ACCEPT_GAP_MS));
	cr_assert_eq(b.last_hit_port, 0, "a new attempt forgets the last hit");
	cr_assert_eq(b.last_hit_index, 0);
}
