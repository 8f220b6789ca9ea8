/* Tests for node/replay.h: the RFC 6479 window against a plain model. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "node/replay.h"

/* t_accept checks then records, as a receiver does after authentication. */
static int t_accept(struct node_replay *r, uint64_t counter)
{
	int rc = node_replay_check(r, counter);
	if (rc == NODE_REPLAY_OK)
		node_replay_update(r, counter);
	return rc;
}

Test(node_replay, first_counter_zero_is_fresh_once)
{
	struct node_replay r;
	node_replay_init(&r);
	cr_assert_eq(t_accept(&r, 0), NODE_REPLAY_OK);
	cr_assert_eq(t_accept(&r, 0), NODE_REPLAY_E_DUPLICATE);
	cr_assert_eq(t_accept(&r, 1), NODE_REPLAY_OK);
	cr_assert_eq(t_accept(&r, 1), NODE_REPLAY_E_DUPLICATE);
}

Test(node_replay, check_changes_nothing)
{
	struct node_replay r, before;
	node_replay_init(&r);
	t_accept(&r, 100);
	before = r;
	cr_assert_eq(node_replay_check(&r, 5000), NODE_REPLAY_OK);
	cr_assert_eq(node_replay_check(&r, 99), NODE_REPLAY_OK);
	cr_assert_arr_eq(&r, &before, sizeof r);
}

Test(node_replay, window_edge_is_exact)
{
	struct node_replay r;
	const uint64_t top = 10000;
	node_replay_init(&r);
	cr_assert_eq(t_accept(&r, top), NODE_REPLAY_OK);
	cr_assert_eq(node_replay_check(&r, top - NODE_REPLAY_WINDOW), NODE_REPLAY_E_TOO_OLD);
	cr_assert_eq(node_replay_check(&r, top - NODE_REPLAY_WINDOW + 1), NODE_REPLAY_OK);
	cr_assert_eq(t_accept(&r, top - NODE_REPLAY_WINDOW + 1), NODE_REPLAY_OK);
	cr_assert_eq(t_accept(&r, top - NODE_REPLAY_WINDOW + 1), NODE_REPLAY_E_DUPLICATE);
	cr_assert_eq(node_replay_check(&r, 0), NODE_REPLAY_E_TOO_OLD);
}

Test(node_replay, a_jump_past_the_ring_forgets_everything_old)
{
	struct node_replay r;
	node_replay_init(&r);
	for (uint64_t c = 0; c < 64 * 3; c++)
		cr_assert_eq(t_accept(&r, c), NODE_REPLAY_OK);
	/* Jump so far that every word is recycled, landing on a word that
	 * previously held accepted bits (ring position of word 1). */
	uint64_t far = 64 * (1 + 10 * NODE_REPLAY_NUM_WORDS) + 5;
	cr_assert_eq(t_accept(&r, far), NODE_REPLAY_OK);
	for (uint64_t c = far - NODE_REPLAY_WINDOW + 1; c < far; c++)
		cr_assert_eq(node_replay_check(&r, c), NODE_REPLAY_OK, "counter %lu fresh after the jump", (unsigned long)c);
}

Test(node_replay, near_the_top_of_the_counter_space)
{
	struct node_replay r;
	const uint64_t top = UINT64_MAX - NODE_REPLAY_BITMAP_BITS - 1;
	node_replay_init(&r);
	cr_assert_eq(t_accept(&r, top), NODE_REPLAY_OK);
	cr_assert_eq(t_accept(&r, top - 1), NODE_REPLAY_OK);
	cr_assert_eq(t_accept(&r, top), NODE_REPLAY_E_DUPLICATE);
	cr_assert_eq(t_accept(&r, top - NODE_REPLAY_WINDOW), NODE_REPLAY_E_TOO_OLD);
}

/* Random walks compared with a model that remembers every accepted
 * counter exactly: the window must agree wherever the model says "inside
 * the window" and say TOO_OLD elsewhere. */
Test(node_replay, agrees_with_exact_model_on_random_walks)
{
	enum { SPAN = 20000, STEPS = 200000 };
	uint8_t *seen = calloc(SPAN, 1);
	struct node_replay r;
	uint64_t greatest = 0;
	bool any = false;
	unsigned seed = 12345;
	node_replay_init(&r);
	for (int step = 0; step < STEPS; step++) {
		seed = seed * 1103515245u + 12345u;
		uint64_t c;
		unsigned pick = (seed >> 16) % 100;
		if (pick < 60) /* near the top, either side */
			c = greatest + ((seed >> 8) % 300) - 150;
		else if (pick < 95) /* anywhere within twice the window */
			c = greatest + ((seed >> 4) % (3 * NODE_REPLAY_WINDOW)) - 2 * NODE_REPLAY_WINDOW;
		else /* a jump */
			c = greatest + ((seed >> 8) % 5000);
		if (c >= SPAN || (int64_t)c < 0)
			continue;
		int want;
		if (any && c + NODE_REPLAY_WINDOW <= greatest)
			want = NODE_REPLAY_E_TOO_OLD;
		else if (seen[c])
			want = NODE_REPLAY_E_DUPLICATE;
		else
			want = NODE_REPLAY_OK;
		int rc = t_accept(&r, c);
		cr_assert_eq(rc, want, "step %d counter %lu greatest %lu: got %d want %d", step, (unsigned long)c,
		             (unsigned long)greatest, rc, want);
		if (rc == NODE_REPLAY_OK) {
			seen[c] = 1;
			if (c > greatest)
				greatest = c;
			any = true;
		}
	}
	free(seen);
}
