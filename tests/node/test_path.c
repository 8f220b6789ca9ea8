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

/* A relay link driven by a 200 ms ticker, as node/ticker.c does: each due
 * keepalive is sent (tx), and while `answered` the peer's packets come back
 * at once (rx). Returns the keepalives sent in (from, to]; *silent_at is the
 * first time the link was silent (0: never). */
static int drive(struct node_relay_live *l, uint64_t from, uint64_t to, bool answered, uint64_t *silent_at)
{
	int sent = 0;
	for (uint64_t t = from + NODE_TICK_MS; t <= to; t += NODE_TICK_MS) {
		bool keepalive;
		bool silent = node_path_relay_step(l, t, &keepalive);
		if (silent && silent_at && !*silent_at)
			*silent_at = t;
		if (keepalive) {
			l->tx_ms = t;
			sent++;
			if (answered)
				l->rx_ms = t;
		}
	}
	return sent;
}

Test(node_path, idle_relay_link_keepalive_every_15s_and_never_silent_when_answered)
{
	struct node_relay_live l = {.tx_ms = 1000, .rx_ms = 1000};
	uint64_t silent_at = 0;
	int sent = drive(&l, 1000, 1000 + 60000, true, &silent_at);
	cr_assert_eq(sent, 60000 / NODE_RELAY_IDLE_KEEPALIVE_MS, "sent %d keepalives in 60 s idle", sent);
	cr_assert_not(l.busy);
	cr_assert_eq(silent_at, 0);
}

Test(node_path, busy_relay_link_keepalive_every_2s_then_idle_after_busy_window)
{
	struct node_relay_live l = {.tx_ms = 1000, .rx_ms = 1000, .traffic_ms = 1000};
	int sent = drive(&l, 1000, 1000 + 10000, true, NULL);
	cr_assert(l.busy);
	cr_assert_eq(sent, 10000 / NODE_RELAY_KEEPALIVE_MS, "sent %d keepalives in 10 s busy", sent);
	/* No more traffic: busy until NODE_RELAY_BUSY_MS after it, then idle. */
	drive(&l, 11000, 1000 + NODE_RELAY_BUSY_MS + NODE_TICK_MS, true, NULL);
	cr_assert_not(l.busy);
	int later = drive(&l, 1000 + NODE_RELAY_BUSY_MS + NODE_TICK_MS, 1000 + NODE_RELAY_BUSY_MS + 30000, true, NULL);
	cr_assert_leq(later, 30000 / NODE_RELAY_IDLE_KEEPALIVE_MS + 1, "sent %d in 30 s once idle", later);
}

Test(node_path, idle_relay_link_is_silent_after_35s_without_answer)
{
	struct node_relay_live l = {.tx_ms = 1000, .rx_ms = 1000};
	uint64_t silent_at = 0;
	drive(&l, 1000, 1000 + 60000, false, &silent_at);
	cr_assert_gt(silent_at, 1000 + NODE_RELAY_IDLE_SILENT_MS);
	cr_assert_leq(silent_at, 1000 + NODE_RELAY_IDLE_SILENT_MS + NODE_TICK_MS);
}

/* Traffic on a link that was idle (its last answer 14 s old): the busy
 * regime's 6.5 s counts from the traffic, not from the old answer, and a
 * dead relay is then noticed 6.5 s after the traffic began. */
Test(node_path, traffic_on_idle_link_restarts_silence_count_and_detects_in_busy_time)
{
	struct node_relay_live l = {.tx_ms = 1000, .rx_ms = 1000};
	drive(&l, 1000, 15000, true, NULL); /* idle: last answer at 1000 */
	cr_assert_eq(l.rx_ms, 1000);
	l.traffic_ms = 15000; /* we send a text; the relay has frozen since 1000 */
	l.tx_ms = 15000;
	uint64_t silent_at = 0;
	drive(&l, 15000, 40000, false, &silent_at);
	cr_assert_gt(silent_at, 15000 + NODE_RELAY_SILENT_MS, "silent at %llu: counted from the old answer",
		     (unsigned long long)silent_at);
	cr_assert_leq(silent_at, 15000 + NODE_RELAY_SILENT_MS + 2 * NODE_TICK_MS);
}
