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
