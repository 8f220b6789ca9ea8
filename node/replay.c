/* node/replay.c: RFC 6479 sliding-window replay detection.
 *
 * Counter c lives in word (c / 64) % NODE_REPLAY_NUM_WORDS, bit c % 64. The
 * ring holds the words of the greatest counter and the NUM_WORDS - 1 before
 * it; a counter accepted as "in the window" (less than NODE_REPLAY_WINDOW =
 * (NUM_WORDS - 1) * 64 behind the greatest) always falls in one of those
 * words, never in a recycled one. */
#include "node/replay.h"

#include <assert.h>
#include <string.h>

static_assert(NODE_REPLAY_BITMAP_BITS % NODE_REPLAY_WORD_BITS == 0, "whole words");
static_assert((NODE_REPLAY_NUM_WORDS & (NODE_REPLAY_NUM_WORDS - 1)) == 0, "ring index uses a mask");

static size_t word_of(uint64_t counter)
{
	return (size_t)((counter / NODE_REPLAY_WORD_BITS) & (NODE_REPLAY_NUM_WORDS - 1));
}

static uint64_t bit_of(uint64_t counter)
{
	return (uint64_t)1 << (counter % NODE_REPLAY_WORD_BITS);
}

void node_replay_init(struct node_replay *r)
{
	memset(r, 0, sizeof *r);
}

int node_replay_check(const struct node_replay *r, uint64_t counter)
{
	/* RFC 6479 §2: ahead of the window is always fresh. */
	if (counter > r->greatest)
		return NODE_REPLAY_OK;
	/* Behind the window: the bits for it have been recycled. */
	if (r->greatest - counter >= NODE_REPLAY_WINDOW)
		return NODE_REPLAY_E_TOO_OLD;
	if (r->bitmap[word_of(counter)] & bit_of(counter))
		return NODE_REPLAY_E_DUPLICATE;
	return NODE_REPLAY_OK;
}

void node_replay_update(struct node_replay *r, uint64_t counter)
{
	assert(node_replay_check(r, counter) == NODE_REPLAY_OK);
	if (counter > r->greatest) {
		/* Clear the words between the old greatest's and the new one's;
		 * a jump of a whole ring or more clears them all. */
		uint64_t cur = r->greatest / NODE_REPLAY_WORD_BITS;
		uint64_t diff = counter / NODE_REPLAY_WORD_BITS - cur;
		if (diff > NODE_REPLAY_NUM_WORDS)
			diff = NODE_REPLAY_NUM_WORDS;
		for (uint64_t i = 1; i <= diff; i++)
			r->bitmap[(cur + i) & (NODE_REPLAY_NUM_WORDS - 1)] = 0;
		r->greatest = counter;
	}
	r->bitmap[word_of(counter)] |= bit_of(counter);
}
