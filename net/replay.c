/* net/replay.c: RFC 6479 sliding-window replay detection.
 *
 * Counter c lives in word (c / 64) % NET_REPLAY_NUM_WORDS, bit c % 64. The
 * ring holds the words of the greatest counter and the NUM_WORDS - 1 before
 * it; a counter accepted as "in the window" (less than NET_REPLAY_WINDOW =
 * (NUM_WORDS - 1) * 64 behind the greatest) always falls in one of those
 * words, never in a recycled one. */
#include "net/replay.h"

#include <assert.h>
#include <string.h>

static_assert(NET_REPLAY_BITMAP_BITS % NET_REPLAY_WORD_BITS == 0, "whole words");
static_assert((NET_REPLAY_NUM_WORDS & (NET_REPLAY_NUM_WORDS - 1)) == 0, "ring index uses a mask");

static size_t word_of(uint64_t counter)
{
	return (size_t)((counter / NET_REPLAY_WORD_BITS) & (NET_REPLAY_NUM_WORDS - 1));
}

static uint64_t bit_of(uint64_t counter)
{
	return (uint64_t)1 << (counter % NET_REPLAY_WORD_BITS);
}

void net_replay_init(struct net_replay *r)
{
	memset(r, 0, sizeof *r);
}

int net_replay_check(const struct net_replay *r, uint64_t counter)
{
	/* RFC 6479 §2: ahead of the window is always fresh. */
	if (counter > r->greatest)
		return NET_REPLAY_OK;
	/* Behind the window: the bits for it have been recycled. */
	if (r->greatest - counter >= NET_REPLAY_WINDOW)
		return NET_REPLAY_E_TOO_OLD;
	if (r->bitmap[word_of(counter)] & bit_of(counter))
		return NET_REPLAY_E_DUPLICATE;
	return NET_REPLAY_OK;
}

void net_replay_update(struct net_replay *r, uint64_t counter)
{
	assert(net_replay_check(r, counter) == NET_REPLAY_OK);
	if (counter > r->greatest) {
		/* Clear the words between the old greatest's and the new one's;
		 * a jump of a whole ring or more clears them all. */
		uint64_t cur = r->greatest / NET_REPLAY_WORD_BITS;
		uint64_t diff = counter / NET_REPLAY_WORD_BITS - cur;
		if (diff > NET_REPLAY_NUM_WORDS)
			diff = NET_REPLAY_NUM_WORDS;
		for (uint64_t i = 1; i <= diff; i++)
			r->bitmap[(cur + i) & (NET_REPLAY_NUM_WORDS - 1)] = 0;
		r->greatest = counter;
	}
	r->bitmap[word_of(counter)] |= bit_of(counter);
}
