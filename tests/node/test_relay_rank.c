/* Tests for node/relay_rank.h: relays ranked by measured RTT, with hysteresis. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "node/relay_rank.h"

/* Three relays in the mesh's order, all usable and measured. */
static void three(struct node_rank_cand c[3], double a, double b, double d)
{
	double rtt[3] = {a, b, d};
	for (size_t i = 0; i < 3; i++)
		c[i] = (struct node_rank_cand){.usable = true, .rtt_ms = rtt[i], .samples = 1, .order = i};
}

/* One probe round: every measured candidate got a fresh sample. */
static size_t round_(struct node_rank_hyst *h, struct node_rank_cand *c, size_t n, size_t cur)
{
	for (size_t i = 0; i < n; i++)
		if (c[i].samples)
			c[i].samples++;
	return node_rank_step(h, c, n, cur);
}

Test(node_rtt, first_sample_taken_as_is_then_ewma)
{
	struct node_rtt r = {0};
	node_rtt_add(&r, 40.0);
	cr_assert_float_eq(r.ewma_ms, 40.0, 1e-9);
	cr_assert_eq(r.samples, 1);
	node_rtt_add(&r, 80.0);
	cr_assert_float_eq(r.ewma_ms, 40.0 + NODE_RANK_ALPHA * 40.0, 1e-9);
	cr_assert_eq(r.samples, 2);
	cr_assert_float_eq(r.last_ms, 80.0, 1e-9);
	node_rtt_add(&r, -3.0); /* a clock oddity counts as 0, never negative */
	cr_assert(r.ewma_ms > 0);
}

struct beats_case {
	double cur, cand;
	bool want;
};

static struct beats_case beats_cases[] = {
	{100.0, 79.0, true},   /* 21 % and 21 ms */
	{100.0, 81.0, false},  /* 19 %: under the share */
	{100.0, 80.0, true},   /* exactly 20 % and 20 ms */
	{10.0, 6.0, false},    /* 40 % but 4 ms: under the absolute margin (loopback noise) */
	{10.0, 5.0, true},     /* 50 % and 5 ms */
	{0.4, 0.1, false},     /* sub-ms differences never count */
	{50.0, 50.0, false},   /* a tie */
	{50.0, 90.0, false},   /* slower */
};

ParameterizedTestParameters(node_rank, beats_needs_both_margins)
{
	return cr_make_param_array(struct beats_case, beats_cases, sizeof beats_cases / sizeof beats_cases[0]);
}

ParameterizedTest(struct beats_case *c, node_rank, beats_needs_both_margins)
{
	cr_assert_eq(node_rank_beats(c->cur, c->cand), c->want, "cur %.1f cand %.1f: want %d", c->cur, c->cand, c->want);
}

Test(node_rank, prefer_usable_then_measured_then_rtt_then_order)
{
	struct node_rank_cand a = {.usable = true, .rtt_ms = 50, .samples = 1, .order = 1};
	struct node_rank_cand b = {.usable = false, .rtt_ms = 1, .samples = 1, .order = 0};
	cr_assert(node_rank_prefer(&a, &b), "usable beats faster unusable");
	b = (struct node_rank_cand){.usable = true, .samples = 0, .order = 0};
	cr_assert(node_rank_prefer(&a, &b), "measured beats unmeasured");
	cr_assert_not(node_rank_prefer(&b, &a));
	b = (struct node_rank_cand){.usable = true, .rtt_ms = 49, .samples = 1, .order = 2};
	cr_assert(node_rank_prefer(&b, &a), "lower RTT wins, whatever the order");
	b.rtt_ms = 50;
	cr_assert(node_rank_prefer(&(struct node_rank_cand){.usable = true, .rtt_ms = 50, .samples = 3, .order = 0}, &a),
		  "tie: the mesh's order");
	cr_assert_not(node_rank_prefer(&a, &a), "equal is not better");
	/* None measured (start-up, or an older peer): the mesh's order. */
	struct node_rank_cand u0 = {.usable = true, .order = 0}, u1 = {.usable = true, .order = 1};
	cr_assert(node_rank_prefer(&u0, &u1));
	cr_assert_not(node_rank_prefer(&u1, &u0));
}

Test(node_rank, switches_after_rounds_in_a_row)
{
	struct node_rank_cand c[3];
	struct node_rank_hyst h = {0};
	three(c, 100.0, 20.0, 60.0);
	size_t cur = 0;
	for (unsigned i = 1; i < NODE_RANK_ROUNDS; i++) {
		cur = round_(&h, c, 3, cur);
		cr_assert_eq(cur, 0, "moved after %u rounds, before %d", i, NODE_RANK_ROUNDS);
	}
	cur = round_(&h, c, 3, cur);
	cr_assert_eq(cur, 1, "the fastest (1) after %d rounds, got %zu", NODE_RANK_ROUNDS, cur);
	/* Settled: more rounds keep it. */
	for (int i = 0; i < 20; i++)
		cr_assert_eq(cur = round_(&h, c, 3, cur), 1);
}

Test(node_rank, noise_within_margin_never_flaps)
{
	/* Two relays 2 ms apart with +-4 ms of jitter each (at worst 54 against
	 * 44 ms: 18.5 %), and two on loopback 2 ms apart with +-1 ms (at worst
	 * 4 ms, 67 %): neither ever moves. */
	struct node_rank_cand c[2];
	struct node_rank_hyst h = {0};
	c[0] = (struct node_rank_cand){.usable = true, .rtt_ms = 50.0, .samples = 1, .order = 0};
	c[1] = (struct node_rank_cand){.usable = true, .rtt_ms = 48.0, .samples = 1, .order = 1};
	size_t cur = 0;
	for (int i = 0; i < 400; i++) {
		double base0 = i < 200 ? 50.0 : 3.0, base1 = i < 200 ? 48.0 : 1.0, j = i < 200 ? 4.0 : 1.0;
		c[0].rtt_ms = base0 + j * ((i * 7) % 9 - 4) / 4.0;
		c[1].rtt_ms = base1 + j * ((i * 3) % 9 - 4) / 4.0;
		cur = round_(&h, c, 2, cur);
		cr_assert_eq(cur, 0, "flapped at round %d (%.1f vs %.1f)", i, c[0].rtt_ms, c[1].rtt_ms);
	}
}

Test(node_rank, a_single_slow_sample_never_moves)
{
	/* Two relays at ~10 and ~8 ms; one 900 ms sample on the one in use lifts
	 * its EWMA to ~230 ms for many rounds, but its latest sample is back to
	 * 10 ms at once: no move. The same spike on the challenger: no move. */
	struct node_rtt r0 = {0}, r1 = {0};
	struct node_rank_hyst h = {0};
	for (int i = 0; i < 5; i++) {
		node_rtt_add(&r0, 10.0);
		node_rtt_add(&r1, 8.0);
	}
	node_rtt_add(&r0, 900.0);
	for (int i = 0; i < 30; i++) {
		node_rtt_add(&r0, 10.0);
		node_rtt_add(&r1, i == 10 ? 900.0 : 8.0);
		struct node_rank_cand c[2] = {
			{.usable = true, .rtt_ms = r0.ewma_ms, .last_ms = r0.last_ms, .samples = r0.samples, .order = 0},
			{.usable = true, .rtt_ms = r1.ewma_ms, .last_ms = r1.last_ms, .samples = r1.samples, .order = 1},
		};
		cr_assert_eq(node_rank_step(&h, c, 2, 0), 0, "moved at round %d (ewma %.1f last %.1f)", i, r0.ewma_ms,
			     r0.last_ms);
	}
	/* A lasting slowdown (EWMA and latest both high) does move it. */
	size_t cur = 0;
	for (int i = 0; i < 10 && cur == 0; i++) {
		node_rtt_add(&r0, 120.0);
		node_rtt_add(&r1, 8.0);
		struct node_rank_cand c[2] = {
			{.usable = true, .rtt_ms = r0.ewma_ms, .last_ms = r0.last_ms, .samples = r0.samples, .order = 0},
			{.usable = true, .rtt_ms = r1.ewma_ms, .last_ms = r1.last_ms, .samples = r1.samples, .order = 1},
		};
		cur = node_rank_step(&h, c, 2, cur);
	}
	cr_assert_eq(cur, 1, "a relay slowed from 10 to 120 ms was kept");
}

Test(node_rank, an_interrupted_streak_starts_again)
{
	struct node_rank_cand c[2];
	struct node_rank_hyst h = {0};
	c[0] = (struct node_rank_cand){.usable = true, .rtt_ms = 100.0, .samples = 1, .order = 0};
	c[1] = (struct node_rank_cand){.usable = true, .rtt_ms = 10.0, .samples = 1, .order = 1};
	/* One good sample short of a switch, then one where it does not win: the
	 * count starts again, so a relay that is fast only now and then never wins. */
	for (int k = 0; k < 10; k++) {
		for (unsigned i = 1; i < NODE_RANK_ROUNDS; i++)
			cr_assert_eq(round_(&h, c, 2, 0), 0);
		c[1].rtt_ms = 95.0;
		cr_assert_eq(round_(&h, c, 2, 0), 0);
		c[1].rtt_ms = 10.0;
	}
}

Test(node_rank, only_fresh_samples_count)
{
	struct node_rank_cand c[2];
	struct node_rank_hyst h = {0};
	c[0] = (struct node_rank_cand){.usable = true, .rtt_ms = 100.0, .samples = 5, .order = 0};
	c[1] = (struct node_rank_cand){.usable = true, .rtt_ms = 10.0, .samples = 1, .order = 1};
	/* Many evaluations (ticks) but the challenger's one sample: no move. */
	for (int i = 0; i < 50; i++)
		cr_assert_eq(node_rank_step(&h, c, 2, 0), 0, "moved on one sample at tick %d", i);
	for (unsigned i = 2; i < NODE_RANK_ROUNDS; i++) {
		c[1].samples++;
		cr_assert_eq(node_rank_step(&h, c, 2, 0), 0);
	}
	c[1].samples++;
	cr_assert_eq(node_rank_step(&h, c, 2, 0), 1);
}

Test(node_rank, ties_keep_current_and_pick_by_order)
{
	struct node_rank_cand c[3];
	struct node_rank_hyst h = {0};
	three(c, 30.0, 30.0, 30.0);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(round_(&h, c, 3, 2), 2, "a tie moved traffic");
	/* Current fails: among equals, the first in the mesh's order. */
	c[2].usable = false;
	cr_assert_eq(round_(&h, c, 3, 2), 0);
	/* Two equally faster challengers: the first in order wins the streak. */
	three(c, 100.0, 10.0, 10.0);
	struct node_rank_hyst h2 = {0};
	size_t cur = 0;
	for (unsigned i = 0; i < NODE_RANK_ROUNDS; i++)
		cur = round_(&h2, c, 3, cur);
	cr_assert_eq(cur, 1);
}

Test(node_rank, a_relay_going_silent)
{
	struct node_rank_cand c[3];
	struct node_rank_hyst h = {0};
	three(c, 10.0, 40.0, 25.0);
	size_t cur = 0;
	cr_assert_eq(cur = round_(&h, c, 3, cur), 0);
	/* The one in use goes silent (passed over: unusable): the best of the
	 * rest at once, no hysteresis. */
	c[0].usable = false;
	cr_assert_eq(cur = node_rank_step(&h, c, 3, cur), 2);
	/* It comes back fast: it must earn the switch back over the rounds. */
	c[0].usable = true;
	c[0].samples = 1;
	for (unsigned i = 1; i < NODE_RANK_ROUNDS; i++)
		cr_assert_eq(cur = round_(&h, c, 3, cur), 2);
	cr_assert_eq(cur = round_(&h, c, 3, cur), 0);
	/* A silent challenger is never taken. */
	three(c, 100.0, 5.0, 100.0);
	c[1].usable = false;
	struct node_rank_hyst h2 = {0};
	for (int i = 0; i < 10; i++)
		cr_assert_eq(round_(&h2, c, 3, 0), 0);
	/* All silent: nothing. */
	c[0].usable = c[2].usable = false;
	cr_assert_eq(node_rank_step(&h2, c, 3, 0), 3);
}

Test(node_rank, one_relay)
{
	struct node_rank_cand c[1] = {{.usable = true, .rtt_ms = 300.0, .samples = 1, .order = 0}};
	struct node_rank_hyst h = {0};
	cr_assert_eq(node_rank_step(&h, c, 1, 1), 0, "none in use: the only one");
	for (int i = 0; i < 10; i++)
		cr_assert_eq(round_(&h, c, 1, 0), 0);
	c[0].samples = 0;
	cr_assert_eq(node_rank_step(&h, c, 1, 0), 0, "unmeasured: kept");
	c[0].usable = false;
	cr_assert_eq(node_rank_step(&h, c, 1, 0), 1, "unusable: none");
	cr_assert_eq(node_rank_step(&h, c, 0, 0), 0, "no links at all: none (n)");
}

Test(node_rank, unmeasured_current_is_kept)
{
	/* An older peer answers no probes on the relay in use: a measured one
	 * does not replace it on RTT alone (no number to beat). */
	struct node_rank_cand c[2];
	struct node_rank_hyst h = {0};
	c[0] = (struct node_rank_cand){.usable = true, .samples = 0, .order = 0};
	c[1] = (struct node_rank_cand){.usable = true, .rtt_ms = 1.0, .samples = 1, .order = 1};
	for (int i = 0; i < 10; i++)
		cr_assert_eq(round_(&h, c, 2, 0), 0);
}
