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

/* A relay link driven by a 200 ms ticker, as node/relay_rtt.c and
 * node/ticker.c do: a probe when the pace says so (a send that waits), and
 * while the relay forwards (t < frozen) the peer's answer comes back in the
 * same tick. Runs over (from, to]; returns the first time the link is
 * silent (0: never); *probes counts the probes sent. */
static uint64_t drive(struct node_relay_live *l, uint64_t *tx, uint64_t from, uint64_t to, uint64_t frozen,
		      int *probes)
{
	for (uint64_t t = from + NODE_TICK_MS; t <= to; t += NODE_TICK_MS) {
		if (t - *tx >= node_path_relay_every(l, t)) {
			node_path_relay_sent(l, t);
			*tx = t;
			if (probes)
				(*probes)++;
			if (t < frozen)
				l->rx_ms = t;
		}
		if (node_path_relay_silent(l, t))
			return t;
	}
	return 0;
}

Test(node_path, idle_relay_link_probes_at_idle_pace_and_is_never_silent_when_answered)
{
	struct node_relay_live l = {.rx_ms = 1000};
	uint64_t tx = 1000;
	int probes = 0;
	cr_assert_eq(drive(&l, &tx, 1000, 1000 + 120000, UINT64_MAX, &probes), 0);
	cr_assert_eq(probes, 120000 / NODE_RELAY_PROBE_IDLE_MS, "%d probes in 120 s idle", probes);
}

Test(node_path, traffic_keeps_fast_pace_for_busy_window_then_idle_pace)
{
	struct node_relay_live l = {.rx_ms = 1000, .traffic_ms = 1000};
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
		struct node_relay_live l = {.rx_ms = 1000, .traffic_ms = 1000};
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
	struct node_relay_live l = {.rx_ms = 1000};
	uint64_t tx = 1000;
	uint64_t silent = drive(&l, &tx, 1000, 1000 + 120000, 1001, NULL);
	cr_assert_gt(silent, 1000 + NODE_RELAY_PROBE_IDLE_MS + NODE_RELAY_SILENT_MS);
	cr_assert_leq(silent, 1000 + NODE_RELAY_PROBE_IDLE_MS + NODE_RELAY_SILENT_MS + NODE_TICK_MS);
}

/* Traffic on an idle link whose relay froze long ago: the send starts the
 * wait, the pace is fast at once, and the link is silent 6.5 s later. */
Test(node_path, traffic_on_frozen_idle_link_is_noticed_silent_ms_after_it)
{
	struct node_relay_live l = {.rx_ms = 1000};
	uint64_t tx = 1000;
	cr_assert_eq(drive(&l, &tx, 1000, 20000, 1001, NULL), 0); /* idle, nothing sent yet */
	l.traffic_ms = 20000;
	node_path_relay_sent(&l, 20000); /* the traffic itself asks for an answer */
	tx = 20000;
	cr_assert_eq(node_path_relay_every(&l, 20000), NODE_RELAY_PROBE_MS);
	uint64_t silent = drive(&l, &tx, 20000, 60000, 0, NULL);
	cr_assert_gt(silent, 20000 + NODE_RELAY_SILENT_MS, "silent at %llu", (unsigned long long)silent);
	cr_assert_leq(silent, 20000 + NODE_RELAY_SILENT_MS + NODE_TICK_MS, "silent at %llu", (unsigned long long)silent);
}

Test(node_path, relay_wait_starts_once_and_ends_with_an_answer)
{
	struct node_relay_live l = {.rx_ms = 500};
	node_path_relay_sent(&l, 1000);
	node_path_relay_sent(&l, 3000); /* still waiting: the wait keeps its start */
	cr_assert_eq(l.wait_ms, 1000);
	cr_assert(node_path_relay_silent(&l, 1000 + NODE_RELAY_SILENT_MS + 1));
	cr_assert_not(node_path_relay_silent(&l, 1000 + NODE_RELAY_SILENT_MS));
	l.rx_ms = 1000; /* an answer in the same ms ends it */
	cr_assert_not(node_path_relay_silent(&l, 1000 + NODE_RELAY_SILENT_MS + 1));
	cr_assert_eq(node_path_relay_every(&l, 20000), NODE_RELAY_PROBE_IDLE_MS);
	node_path_relay_sent(&l, 20000); /* a new wait */
	cr_assert_eq(l.wait_ms, 20000);
	cr_assert_eq(node_path_relay_every(&l, 20000), NODE_RELAY_PROBE_MS);
}
