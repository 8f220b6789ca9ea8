/* Tests for node/punch.h: the repunch schedule and who leads it. */
#include <criterion/criterion.h>

#include "node/punch.h"
#include "node/wire.h"

Test(node_punch, backoff_doubles_from_first_gap_to_the_cap)
{
	static const uint32_t want[] = {15000, 30000, 60000, 120000, 120000, 120000};
	uint32_t gap = 0;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		gap = node_punch_next_gap(gap);
		cr_assert_eq(gap, want[i], "step %zu: gap %u ms, want %u", i, gap, want[i]);
	}
	cr_assert_eq(want[0], NODE_REPUNCH_FIRST_MS);
	cr_assert_eq(want[3], NODE_REPUNCH_MAX_MS);
}

Test(node_punch, backoff_never_exceeds_the_cap)
{
	/* From any gap, including ones the schedule never produces. */
	for (uint32_t g = 1; g <= 2 * NODE_REPUNCH_MAX_MS; g += 997) {
		uint32_t n = node_punch_next_gap(g);
		cr_assert_leq(n, NODE_REPUNCH_MAX_MS, "gap %u -> %u", g, n);
		cr_assert_geq(n, g < NODE_REPUNCH_MAX_MS ? g : NODE_REPUNCH_MAX_MS, "gap %u shrank to %u", g, n);
	}
}

Test(node_punch, exactly_one_side_of_a_pair_leads)
{
	static const char *ids[] = {"a", "b", "n1abc", "n1abd", "zz", ""};
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
		for (size_t j = 0; j < sizeof ids / sizeof ids[0]; j++) {
			if (i == j)
				continue;
			cr_assert_neq(node_punch_leads(ids[i], ids[j]), node_punch_leads(ids[j], ids[i]), "%s vs %s",
				      ids[i], ids[j]);
		}
	cr_assert(node_punch_leads("a", "b"));
	cr_assert_not(node_punch_leads("a", "a"));
}

Test(node_punch, request_starts_a_window_only_when_useful)
{
	uint64_t t = 1000000;
	cr_assert(node_punch_request_ok(false, true, t, 0, 0));
	cr_assert_not(node_punch_request_ok(true, true, t, 0, 0), "already direct");
	cr_assert_not(node_punch_request_ok(false, false, t, 0, 0), "nothing to punch to");
	cr_assert_not(node_punch_request_ok(false, true, t, t + 1, 0), "a window is running");
	cr_assert(node_punch_request_ok(false, true, t, t, 0), "the window just ended");
}

Test(node_punch, repeated_requests_cannot_make_a_reflector)
{
	uint64_t last = 1000000, half = NODE_REPUNCH_FIRST_MS / 2;
	cr_assert_not(node_punch_request_ok(false, true, last + half - 1, 0, last));
	cr_assert(node_punch_request_ok(false, true, last + half, 0, last));
}
