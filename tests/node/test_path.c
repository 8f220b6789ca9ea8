/* Tests for node/path.h: which path carries a peer's traffic. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "node/path.h"
#include "node/wire.h"

struct choose_case {
	bool direct_ok, direct_lan, relay_ok;
	enum node_path_kind want;
};

static struct choose_case choose_cases[] = {
	{false, false, false, NODE_PATH_NONE},
	{false, false, true, NODE_PATH_RELAY},
	{true, false, false, NODE_PATH_DIRECT},
	{true, false, true, NODE_PATH_DIRECT}, /* direct beats the relay */
	{true, true, false, NODE_PATH_LAN},
	{true, true, true, NODE_PATH_LAN},
	{false, true, false, NODE_PATH_NONE},  /* no verified direct address: its class does not matter */
	{false, true, true, NODE_PATH_RELAY},
};

ParameterizedTestParameters(node_path, choose_prefers_verified_direct_then_relay)
{
	return cr_make_param_array(struct choose_case, choose_cases, sizeof choose_cases / sizeof choose_cases[0]);
}

ParameterizedTest(struct choose_case *c, node_path, choose_prefers_verified_direct_then_relay)
{
	enum node_path_kind k = node_path_choose(c->direct_ok, c->direct_lan, c->relay_ok);
	cr_assert_eq(k, c->want, "direct_ok=%d direct_lan=%d relay_ok=%d: got %s, want %s", c->direct_ok,
		     c->direct_lan, c->relay_ok, node_path_name(k), node_path_name(c->want));
}

Test(node_path, names_are_what_peers_prints)
{
	cr_assert_str_eq(node_path_name(NODE_PATH_NONE), "none");
	cr_assert_str_eq(node_path_name(NODE_PATH_RELAY), "relay");
	cr_assert_str_eq(node_path_name(NODE_PATH_DIRECT), "direct");
	cr_assert_str_eq(node_path_name(NODE_PATH_LAN), "lan");
	cr_assert_str_eq(node_path_name((enum node_path_kind)42), "none");
}

struct move_case {
	bool cur_lan, from_lan;
	uint64_t quiet_ms;
	bool want;
};

static struct move_case move_cases[] = {
	/* The address in use keeps working: stay, whatever else answers. */
	{false, false, 0, false},
	{false, false, NODE_DIRECT_STALE_MS, false},
	{true, false, 0, false},  /* never from LAN to public while LAN works */
	{true, true, 100, false}, /* another LAN address: no flapping */
	/* Strictly better class: move at once. */
	{false, true, 0, true},
	/* The one in use went quiet (NAT rebinding, roaming): move. */
	{false, false, NODE_DIRECT_STALE_MS + 1, true},
	{true, false, NODE_DIRECT_STALE_MS + 1, true},
	{true, true, 60000, true},
};

ParameterizedTestParameters(node_path, direct_moves_only_to_better_or_from_stale)
{
	return cr_make_param_array(struct move_case, move_cases, sizeof move_cases / sizeof move_cases[0]);
}

ParameterizedTest(struct move_case *c, node_path, direct_moves_only_to_better_or_from_stale)
{
	cr_assert_eq(node_path_direct_moves(c->cur_lan, c->from_lan, c->quiet_ms), c->want,
		     "cur_lan=%d from_lan=%d quiet=%llu ms", c->cur_lan, c->from_lan, (unsigned long long)c->quiet_ms);
}

Test(node_path, relay_paired_beats_unpaired_whatever_the_rank)
{
	cr_assert(node_path_relay_better(true, 3, false, 0));
	cr_assert_not(node_path_relay_better(false, 0, true, 3));
}

Test(node_path, relay_equal_pairing_goes_to_the_mesh_order)
{
	cr_assert(node_path_relay_better(true, 0, true, 1));
	cr_assert_not(node_path_relay_better(true, 1, true, 0));
	cr_assert_not(node_path_relay_better(true, 1, true, 1)); /* a tie keeps the first found */
	cr_assert(node_path_relay_better(false, 0, false, NODE_TOKEN_MAX_RELAYS));
}

/* A path's pace and silence rule: the relay link's, or the direct path's
 * with a peer that answers keepalives. */
struct live_rule {
	uint64_t (*every)(const struct node_path_live *l, uint64_t t);
	bool (*silent)(const struct node_path_live *l, uint64_t t);
};

static uint64_t direct_every(const struct node_path_live *l, uint64_t t)
{
	return node_path_direct_every(l, t, true);
}

static const struct live_rule relay_rule = {node_path_relay_every, node_path_relay_silent};
static const struct live_rule direct_rule = {direct_every, node_path_direct_dead};

/* A path driven by a 200 ms ticker, as node/relay_rtt.c and node/ticker.c
 * do: a probe or keepalive when the pace says so (a send that waits), and
 * while the path carries (t < frozen) the peer's answer comes back in the
 * same tick. Runs over (from, to]; returns the first time the path is
 * silent (0: never); *probes counts the sends. */
static uint64_t drive_rule(const struct live_rule *r, struct node_path_live *l, uint64_t *tx, uint64_t from,
			   uint64_t to, uint64_t frozen, int *probes)
{
	for (uint64_t t = from + NODE_TICK_MS; t <= to; t += NODE_TICK_MS) {
		if (t - *tx >= r->every(l, t)) {
			node_path_sent(l, t);
			*tx = t;
			if (probes)
				(*probes)++;
			if (t < frozen)
				l->rx_ms = t;
		}
		if (r->silent(l, t))
			return t;
	}
	return 0;
}

static uint64_t drive(struct node_path_live *l, uint64_t *tx, uint64_t from, uint64_t to, uint64_t frozen,
		      int *probes)
{
	return drive_rule(&relay_rule, l, tx, from, to, frozen, probes);
}

Test(node_path, idle_relay_link_probes_at_idle_pace_and_is_never_silent_when_answered)
{
	struct node_path_live l = {.rx_ms = 1000};
	uint64_t tx = 1000;
	int probes = 0;
	cr_assert_eq(drive(&l, &tx, 1000, 1000 + 120000, UINT64_MAX, &probes), 0);
	cr_assert_eq(probes, 120000 / NODE_RELAY_PROBE_IDLE_MS, "%d probes in 120 s idle", probes);
}

Test(node_path, traffic_keeps_fast_pace_for_busy_window_then_idle_pace)
{
	struct node_path_live l = {.rx_ms = 1000, .traffic_ms = 1000};
	uint64_t tx = 1000;
	int busy = 0, idle = 0;
	cr_assert_eq(drive(&l, &tx, 1000, 1000 + NODE_RELAY_BUSY_MS, UINT64_MAX, &busy), 0);
	cr_assert_eq(busy, NODE_RELAY_BUSY_MS / NODE_RELAY_PROBE_MS, "%d probes in the busy window", busy);
	/* One closing probe after the window, then the idle pace. */
	cr_assert_eq(drive(&l, &tx, 1000 + NODE_RELAY_BUSY_MS, 1000 + NODE_RELAY_BUSY_MS + 60000, UINT64_MAX, &idle),
		     0);
	cr_assert_eq(node_path_relay_every(&l, 1000 + NODE_RELAY_BUSY_MS + 60000), NODE_RELAY_PROBE_IDLE_MS);
	cr_assert_leq(idle, 1 + 60000 / NODE_RELAY_PROBE_IDLE_MS, "%d probes in 60 s once idle", idle);
}

/* The case behind bedeb41's revert: traffic, then the relay freezes while
 * the busy window runs, and the window closes before the silence is long
 * enough. The reverted two-regime step then judged the link by the idle
 * limit (35 s from its last answer): a freeze more than ~10 s after the
 * last traffic went unnoticed for ~34 s (node/silent_relay waits 25 s).
 * Now the silence counts from the first unanswered probe, whatever the
 * regime, and the window closes with one more probe: a freeze anywhere in
 * it is noticed within a fast probe gap plus NODE_RELAY_SILENT_MS. */
Test(node_path, relay_frozen_late_in_busy_window_is_noticed_at_busy_speed)
{
	for (uint64_t after = 0; after < NODE_RELAY_BUSY_MS; after += NODE_TICK_MS) {
		struct node_path_live l = {.rx_ms = 1000, .traffic_ms = 1000};
		uint64_t tx = 1000;
		uint64_t frozen = 1000 + after;
		uint64_t silent = drive(&l, &tx, 1000, frozen + 60000, frozen, NULL);
		cr_assert_gt(silent, frozen, "frozen %llu ms after traffic: silent before the freeze",
			     (unsigned long long)after);
		cr_assert_leq(silent - frozen, NODE_RELAY_PROBE_MS + NODE_RELAY_SILENT_MS + NODE_TICK_MS,
			      "frozen %llu ms after traffic: silent %llu ms after the freeze", (unsigned long long)after,
			      (unsigned long long)(silent - frozen));
	}
}

Test(node_path, relay_frozen_while_idle_is_noticed_after_next_idle_probe)
{
	struct node_path_live l = {.rx_ms = 1000};
	uint64_t tx = 1000;
	uint64_t silent = drive(&l, &tx, 1000, 1000 + 120000, 1001, NULL);
	cr_assert_gt(silent, 1000 + NODE_RELAY_PROBE_IDLE_MS + NODE_RELAY_SILENT_MS);
	cr_assert_leq(silent, 1000 + NODE_RELAY_PROBE_IDLE_MS + NODE_RELAY_SILENT_MS + NODE_TICK_MS);
}

/* Traffic on an idle link whose relay froze long ago: the send starts the
 * wait, the pace is fast at once, and the link is silent 6.5 s later. */
Test(node_path, traffic_on_frozen_idle_link_is_noticed_silent_ms_after_it)
{
	struct node_path_live l = {.rx_ms = 1000};
	uint64_t tx = 1000;
	cr_assert_eq(drive(&l, &tx, 1000, 20000, 1001, NULL), 0); /* idle, nothing sent yet */
	l.traffic_ms = 20000;
	node_path_sent(&l, 20000); /* the traffic itself asks for an answer */
	tx = 20000;
	cr_assert_eq(node_path_relay_every(&l, 20000), NODE_RELAY_PROBE_MS);
	uint64_t silent = drive(&l, &tx, 20000, 60000, 0, NULL);
	cr_assert_gt(silent, 20000 + NODE_RELAY_SILENT_MS, "silent at %llu", (unsigned long long)silent);
	cr_assert_leq(silent, 20000 + NODE_RELAY_SILENT_MS + NODE_TICK_MS, "silent at %llu", (unsigned long long)silent);
}

Test(node_path, relay_wait_starts_once_and_ends_with_an_answer)
{
	struct node_path_live l = {.rx_ms = 500};
	node_path_sent(&l, 1000);
	node_path_sent(&l, 3000); /* still waiting: the wait keeps its start */
	cr_assert_eq(l.wait_ms, 1000);
	cr_assert(node_path_relay_silent(&l, 1000 + NODE_RELAY_SILENT_MS + 1));
	cr_assert_not(node_path_relay_silent(&l, 1000 + NODE_RELAY_SILENT_MS));
	l.rx_ms = 1000; /* an answer in the same ms ends it */
	cr_assert_not(node_path_relay_silent(&l, 1000 + NODE_RELAY_SILENT_MS + 1));
	cr_assert_eq(node_path_relay_every(&l, 20000), NODE_RELAY_PROBE_IDLE_MS);
	node_path_sent(&l, 20000); /* a new wait */
	cr_assert_eq(l.wait_ms, 20000);
	cr_assert_eq(node_path_relay_every(&l, 20000), NODE_RELAY_PROBE_MS);
}

/* The direct path (node/wire.h, NODE_KEEPALIVE_IDLE_MS): the same two
 * regimes and the same silence rule, at its own pace. */
Test(node_path, idle_direct_path_keeps_alive_at_idle_pace_and_is_never_dead_when_answered)
{
	struct node_path_live l = {.rx_ms = 1000};
	uint64_t tx = 1000;
	int sent = 0;
	cr_assert_eq(drive_rule(&direct_rule, &l, &tx, 1000, 1000 + 120000, UINT64_MAX, &sent), 0);
	cr_assert_eq(sent, 120000 / NODE_KEEPALIVE_IDLE_MS, "%d keepalives in 120 s idle", sent);
	/* What the idle pace is for: the NAT mappings of the path see a packet
	 * well within the 30 s of the shortest common UDP timeouts. */
	cr_assert_leq(NODE_KEEPALIVE_IDLE_MS + NODE_KEEPALIVE_MS + NODE_TICK_MS, 30000 * 2 / 3);
}

Test(node_path, direct_keepalive_to_a_peer_that_does_not_answer_stays_at_the_fast_pace)
{
	/* An older node: it never answers, and counts its own silence from its
	 * last packet in, so it must hear from us every NODE_KEEPALIVE_MS. */
	struct node_path_live l = {.rx_ms = 1000};
	for (uint64_t t = 1000; t < 1000 + 120000; t += NODE_TICK_MS)
		cr_assert_eq(node_path_direct_every(&l, t, false), NODE_KEEPALIVE_MS, "at %llu", (unsigned long long)t);
	/* Its own keepalives, every 2 s, end each of our waits: never dead. */
	uint64_t tx = 1000;
	int sent = 0;
	for (uint64_t t = 1000 + NODE_TICK_MS; t <= 1000 + 120000; t += NODE_TICK_MS) {
		if (t - tx >= node_path_direct_every(&l, t, false)) {
			node_path_sent(&l, t);
			tx = t;
			sent++;
		}
		if (t % NODE_KEEPALIVE_MS == 0)
			l.rx_ms = t; /* its keepalive, between ours */
		cr_assert_not(node_path_direct_dead(&l, t), "dead at %llu", (unsigned long long)t);
	}
	cr_assert_eq(sent, 120000 / NODE_KEEPALIVE_MS);
}

Test(node_path, direct_traffic_keeps_fast_pace_for_busy_window_then_idle_pace)
{
	struct node_path_live l = {.rx_ms = 1000, .traffic_ms = 1000};
	uint64_t tx = 1000;
	int busy = 0, idle = 0;
	cr_assert_eq(drive_rule(&direct_rule, &l, &tx, 1000, 1000 + NODE_DIRECT_BUSY_MS, UINT64_MAX, &busy), 0);
	cr_assert_eq(busy, NODE_DIRECT_BUSY_MS / NODE_KEEPALIVE_MS, "%d keepalives in the busy window", busy);
	cr_assert_eq(drive_rule(&direct_rule, &l, &tx, 1000 + NODE_DIRECT_BUSY_MS, 1000 + NODE_DIRECT_BUSY_MS + 60000,
			        UINT64_MAX, &idle),
		     0);
	cr_assert_eq(node_path_direct_every(&l, 1000 + NODE_DIRECT_BUSY_MS + 60000, true), NODE_KEEPALIVE_IDLE_MS);
	cr_assert_leq(idle, 1 + 60000 / NODE_KEEPALIVE_IDLE_MS, "%d keepalives in 60 s once idle", idle);
}

/* The path dies at every tick of the busy window and after it: whether the
 * pair goes idle before the silence is long enough or not, the death is
 * noticed NODE_DIRECT_DEAD_MS (and a tick) after the first send left
 * unanswered, which goes at most a fast keepalive gap after the death while
 * the window runs (or closes), and an idle gap after it once idle. */
Test(node_path, direct_path_dead_at_any_tick_is_noticed_dead_ms_after_first_unanswered_send)
{
	for (uint64_t after = 0; after < NODE_DIRECT_BUSY_MS + 2 * NODE_KEEPALIVE_IDLE_MS; after += NODE_TICK_MS) {
		struct node_path_live l = {.rx_ms = 1000, .traffic_ms = 1000};
		uint64_t tx = 1000;
		uint64_t frozen = 1000 + after;
		uint64_t dead = drive_rule(&direct_rule, &l, &tx, 1000, frozen + 120000, frozen, NULL);
		cr_assert_gt(dead, frozen, "died %llu ms after traffic: dead before", (unsigned long long)after);
		/* l.wait_ms is the first unanswered send. */
		cr_assert_geq(l.wait_ms, frozen);
		cr_assert_gt(dead - l.wait_ms, NODE_DIRECT_DEAD_MS);
		cr_assert_leq(dead - l.wait_ms, NODE_DIRECT_DEAD_MS + NODE_TICK_MS,
			      "died %llu ms after traffic: dead %llu ms after the first unanswered send",
			      (unsigned long long)after, (unsigned long long)(dead - l.wait_ms));
		uint64_t gap = after < NODE_DIRECT_BUSY_MS ? NODE_KEEPALIVE_MS : NODE_KEEPALIVE_IDLE_MS;
		cr_assert_leq(dead - frozen, gap + NODE_DIRECT_DEAD_MS + NODE_TICK_MS,
			      "died %llu ms after traffic: dead %llu ms after", (unsigned long long)after,
			      (unsigned long long)(dead - frozen));
	}
}

/* Went idle after the path died: the busy window ends while the first
 * unanswered keepalive waits; the idle regime does not restart the count. */
Test(node_path, direct_path_that_went_idle_after_it_died_is_dead_at_busy_speed)
{
	uint64_t frozen = 1000 + NODE_DIRECT_BUSY_MS - 1000; /* 1 s before the window ends */
	struct node_path_live l = {.rx_ms = 1000, .traffic_ms = 1000};
	uint64_t tx = 1000;
	uint64_t dead = drive_rule(&direct_rule, &l, &tx, 1000, frozen + 60000, frozen, NULL);
	cr_assert_gt(dead, 1000 + NODE_DIRECT_BUSY_MS, "the window had ended: the pair is idle");
	cr_assert_leq(dead, frozen + NODE_KEEPALIVE_MS + NODE_DIRECT_DEAD_MS + NODE_TICK_MS, "dead at %llu",
		      (unsigned long long)dead);
}

/* Traffic on an idle direct path that died long ago: the send starts the
 * wait, the pace is fast at once, and the path is dead 6.5 s later. */
Test(node_path, direct_traffic_on_dead_idle_path_is_noticed_dead_ms_after_it)
{
	struct node_path_live l = {.rx_ms = 1000};
	uint64_t tx = 1000;
	cr_assert_eq(drive_rule(&direct_rule, &l, &tx, 1000, 1000 + NODE_KEEPALIVE_IDLE_MS - NODE_TICK_MS, 1001, NULL),
		     0);
	uint64_t t0 = 1000 + NODE_KEEPALIVE_IDLE_MS - NODE_TICK_MS;
	l.traffic_ms = t0;
	node_path_sent(&l, t0); /* the traffic itself asks for an answer */
	tx = t0;
	cr_assert_eq(node_path_direct_every(&l, t0, true), NODE_KEEPALIVE_MS);
	uint64_t dead = drive_rule(&direct_rule, &l, &tx, t0, t0 + 60000, 0, NULL);
	cr_assert_gt(dead, t0 + NODE_DIRECT_DEAD_MS, "dead at %llu", (unsigned long long)dead);
	cr_assert_leq(dead, t0 + NODE_DIRECT_DEAD_MS + NODE_TICK_MS, "dead at %llu", (unsigned long long)dead);
}

Test(node_path, direct_wait_starts_once_and_ends_with_an_answer)
{
	struct node_path_live l = {.rx_ms = 500};
	node_path_sent(&l, 1000);
	node_path_sent(&l, 3000); /* still waiting: the wait keeps its start */
	cr_assert_eq(l.wait_ms, 1000);
	cr_assert_eq(node_path_direct_every(&l, 3000, true), NODE_KEEPALIVE_MS);
	cr_assert(node_path_direct_dead(&l, 1000 + NODE_DIRECT_DEAD_MS + 1));
	cr_assert_not(node_path_direct_dead(&l, 1000 + NODE_DIRECT_DEAD_MS));
	l.rx_ms = 1000; /* an answer in the same ms ends it */
	cr_assert_not(node_path_direct_dead(&l, 1000 + NODE_DIRECT_DEAD_MS + 1));
	cr_assert_eq(node_path_direct_every(&l, 20000, true), NODE_KEEPALIVE_IDLE_MS);
}

/* Which address an idle direct path follows (node_path_direct_quiet): the
 * address in use, last heard 10 s ago at the idle pace, is not left for a
 * punch packet from another address (lan_stable: no flapping), but is for
 * the peer's asking keepalive from there (it roamed), and for anything once
 * a send of ours on it goes unanswered. */
Test(node_path, idle_direct_address_is_left_only_for_the_peers_keepalive_or_when_unanswered)
{
	struct node_path_live l = {.rx_ms = 1000, .wait_ms = 1000};
	uint64_t t = 1000 + 10000;
	cr_assert_eq(node_path_direct_quiet(&l, t, false), 0);
	cr_assert_not(node_path_direct_moves(false, false, node_path_direct_quiet(&l, t, false)));
	cr_assert_eq(node_path_direct_quiet(&l, t, true), 10000);
	cr_assert(node_path_direct_moves(false, false, node_path_direct_quiet(&l, t, true)));
	node_path_sent(&l, t - NODE_TICK_MS); /* our keepalive, unanswered */
	cr_assert_eq(node_path_direct_quiet(&l, t, false), 10000);
	cr_assert(node_path_direct_moves(false, false, node_path_direct_quiet(&l, t, false)));
	/* Busy and answered: never quiet enough, whatever comes from elsewhere. */
	struct node_path_live busy = {.rx_ms = t - NODE_KEEPALIVE_MS, .wait_ms = t - NODE_KEEPALIVE_MS};
	cr_assert_not(node_path_direct_moves(false, false, node_path_direct_quiet(&busy, t, true)));
}

/* node_path_relay_pick: which of a peer's relay links carries its traffic. */
static struct node_relay_cand link_(bool paired, bool carries, double rtt_ms, size_t order)
{
	struct node_relay_cand c = {.up = true, .carries = carries};
	c.rank.usable = paired;
	c.rank.rtt_ms = rtt_ms;
	c.rank.samples = rtt_ms > 0 ? 3 : 0;
	c.rank.order = order;
	return c;
}
#define PAIR(paired, rtt, order) link_(paired, true, rtt, order)
#define CALL(paired, order) link_(paired, false, 0, order)

Test(node_path, relay_pick_keeps_a_paired_pair_link_in_use)
{
	/* Even when another is faster: moving is node_rank_step's business. */
	struct node_relay_cand c[] = {PAIR(true, 40, 0), PAIR(true, 5, 1)};
	cr_assert_eq(node_path_relay_pick(c, 2, 0), 0);
}

Test(node_path, relay_pick_leaves_a_call_link_once_a_pair_link_pairs)
{
	/* The member behind the doorbell frees it once its pair link pairs:
	 * what was sent on the call link then would be lost. */
	struct node_relay_cand c[] = {CALL(true, 0), PAIR(true, 0, 0)};
	cr_assert_eq(node_path_relay_pick(c, 2, 0), 1);
	/* Whichever order the links are in, and from no link at all. */
	struct node_relay_cand d[] = {PAIR(true, 0, 0), CALL(true, 0)};
	cr_assert_eq(node_path_relay_pick(d, 2, 1), 0);
	cr_assert_eq(node_path_relay_pick(d, 2, 2), 0);
}

Test(node_path, relay_pick_stays_on_a_call_link_until_a_pair_link_pairs)
{
	struct node_relay_cand c[] = {CALL(true, 0), PAIR(false, 0, 0)};
	cr_assert_eq(node_path_relay_pick(c, 2, 0), 0);
}

Test(node_path, relay_pick_never_takes_a_call_link_while_a_pair_link_is_paired)
{
	/* A faster, earlier call link is passed over for the pair link. */
	struct node_relay_cand c[] = {CALL(true, 0), PAIR(true, 30, 1)};
	c[0].rank.rtt_ms = 1;
	c[0].rank.samples = 3;
	cr_assert_eq(node_path_relay_pick(c, 2, 2), 1);
}

Test(node_path, relay_pick_passes_over_silent_links_while_another_is_up)
{
	struct node_relay_cand c[] = {PAIR(true, 5, 0), PAIR(true, 50, 1)};
	c[0].silent = true;
	cr_assert_eq(node_path_relay_pick(c, 2, 0), 1);
	cr_assert_eq(node_path_relay_pick(c, 2, 2), 1);
}

Test(node_path, relay_pick_takes_the_best_silent_link_when_all_are_silent)
{
	struct node_relay_cand c[] = {PAIR(true, 50, 1), PAIR(true, 5, 0)};
	c[0].silent = c[1].silent = true;
	cr_assert_eq(node_path_relay_pick(c, 2, 2), 1);
}

Test(node_path, relay_pick_skips_links_down_or_closing)
{
	struct node_relay_cand c[] = {PAIR(false, 5, 0), PAIR(true, 9, 1), PAIR(true, 50, 2)};
	c[0].up = false;
	c[1].closing = true;
	cr_assert_eq(node_path_relay_pick(c, 3, 3), 2);
	c[2].up = false;
	cr_assert_eq(node_path_relay_pick(c, 3, 3), 3, "no link: none");
}

Test(node_path, relay_pick_keeps_an_up_link_over_an_unpaired_one)
{
	/* The current link is up but its peer left (unpaired), and the other
	 * is not paired either: no move for nothing. */
	struct node_relay_cand c[] = {PAIR(false, 0, 0), PAIR(false, 0, 1)};
	cr_assert_eq(node_path_relay_pick(c, 2, 1), 1);
	/* A paired one is worth the move. */
	c[0].rank.usable = true;
	cr_assert_eq(node_path_relay_pick(c, 2, 1), 0);
}

Test(node_path, relay_pick_ranks_paired_links_by_rtt_then_order)
{
	struct node_relay_cand c[] = {PAIR(true, 30, 0), PAIR(true, 8, 2), PAIR(true, 0, 1)};
	cr_assert_eq(node_path_relay_pick(c, 3, 3), 1, "measured and fastest");
	struct node_relay_cand d[] = {PAIR(true, 0, 2), PAIR(true, 0, 1)};
	cr_assert_eq(node_path_relay_pick(d, 2, 2), 1, "unmeasured: the mesh's order");
}

Test(node_path, relay_pick_stays_on_a_silent_link_when_the_other_is_unpaired)
{
	/* The current link went silent, the only other one is up but its peer
	 * is not there: a move would carry nothing either, so none is made. */
	struct node_relay_cand c[] = {PAIR(true, 5, 0), PAIR(false, 0, 1)};
	c[0].silent = true;
	cr_assert_eq(node_path_relay_pick(c, 2, 0), 0);
}
