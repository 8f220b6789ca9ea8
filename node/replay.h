#ifndef NODE_REPLAY_H
#define NODE_REPLAY_H
/* node/replay.h: the anti-replay window of a receiving session.
 *
 * Design: RFC 6479's sliding bitmap, as WireGuard uses it. The window is a
 * ring of NODE_REPLAY_BITMAP_BITS bits in 64-bit words; moving it forward
 * clears whole words instead of shifting bits, so advancing by any amount
 * costs at most NODE_REPLAY_BITMAP_BITS / 64 word writes and checking costs
 * one load. One word of the ring is always the one being recycled, hence the
 * usable window NODE_REPLAY_WINDOW is one word short of the bitmap.
 *
 * Use in two steps, so that forged packets cannot move the window:
 * node_replay_check before decrypting (cheap rejection of replays and stale
 * counters, no state change), node_replay_update only after the packet
 * authenticated. Nothing here allocates or suspends. 264 bytes per window. */
#include <stdint.h>

/* Window geometry (RFC 6479 §2): a bitmap of 2048 bits, 64-bit blocks. */
enum {
	NODE_REPLAY_BITMAP_BITS = 2048,
	NODE_REPLAY_WORD_BITS = 64,
	NODE_REPLAY_NUM_WORDS = NODE_REPLAY_BITMAP_BITS / NODE_REPLAY_WORD_BITS,
	/* A counter this far or farther behind the greatest accepted one is
	 * too old: 1984. Anything newer is accepted once. */
	NODE_REPLAY_WINDOW = NODE_REPLAY_BITMAP_BITS - NODE_REPLAY_WORD_BITS,
};

/* enum node_replay_status: NODE_REPLAY_OK or why a counter is refused. */
enum node_replay_status {
	NODE_REPLAY_OK = 0,
	NODE_REPLAY_E_DUPLICATE = -1, /* already accepted */
	NODE_REPLAY_E_TOO_OLD = -2,   /* NODE_REPLAY_WINDOW or more behind the greatest */
};

/* struct node_replay: caller storage; fields are private to replay.c. */
struct node_replay {
	uint64_t greatest; /* greatest counter accepted (0 before the first) */
	uint64_t bitmap[NODE_REPLAY_NUM_WORDS];
};

/* node_replay_init empties the window: every counter is fresh. */
void node_replay_init(struct node_replay *r);

/* node_replay_check returns NODE_REPLAY_OK if counter was never accepted and
 * is inside the window, NODE_REPLAY_E_DUPLICATE or NODE_REPLAY_E_TOO_OLD
 * otherwise. Changes nothing. */
int node_replay_check(const struct node_replay *r, uint64_t counter);

/* node_replay_update records counter as accepted, sliding the window forward
 * when it is the new greatest. Call it only after node_replay_check returned
 * NODE_REPLAY_OK for counter and the packet authenticated. */
void node_replay_update(struct node_replay *r, uint64_t counter);

#endif
