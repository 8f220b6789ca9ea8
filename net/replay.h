#ifndef NET_REPLAY_H
#define NET_REPLAY_H
/* net/replay.h: the anti-replay window of a receiving session.
 *
 * Design: RFC 6479's sliding bitmap, as WireGuard uses it. The window is a
 * ring of NET_REPLAY_BITMAP_BITS bits in 64-bit words; moving it forward
 * clears whole words instead of shifting bits, so advancing by any amount
 * costs at most NET_REPLAY_BITMAP_BITS / 64 word writes and checking costs
 * one load. One word of the ring is always the one being recycled, hence the
 * usable window NET_REPLAY_WINDOW is one word short of the bitmap.
 *
 * Use in two steps, so that forged packets cannot move the window:
 * net_replay_check before decrypting (cheap rejection of replays and stale
 * counters, no state change), net_replay_update only after the packet
 * authenticated. Nothing here allocates or suspends. 264 bytes per window. */
#include <stdint.h>

/* Window geometry (RFC 6479 §2): a bitmap of 2048 bits, 64-bit blocks. */
enum {
	NET_REPLAY_BITMAP_BITS = 2048,
	NET_REPLAY_WORD_BITS = 64,
	NET_REPLAY_NUM_WORDS = NET_REPLAY_BITMAP_BITS / NET_REPLAY_WORD_BITS,
	/* A counter this far or farther behind the greatest accepted one is
	 * too old: 1984. Anything newer is accepted once. */
	NET_REPLAY_WINDOW = NET_REPLAY_BITMAP_BITS - NET_REPLAY_WORD_BITS,
};

/* enum net_replay_status: NET_REPLAY_OK or why a counter is refused. */
enum net_replay_status {
	NET_REPLAY_OK = 0,
	NET_REPLAY_E_DUPLICATE = -1, /* already accepted */
	NET_REPLAY_E_TOO_OLD = -2,   /* NET_REPLAY_WINDOW or more behind the greatest */
};

/* struct net_replay: caller storage; fields are private to replay.c. */
struct net_replay {
	uint64_t greatest; /* greatest counter accepted (0 before the first) */
	uint64_t bitmap[NET_REPLAY_NUM_WORDS];
};

/* net_replay_init empties the window: every counter is fresh. */
void net_replay_init(struct net_replay *r);

/* net_replay_check returns NET_REPLAY_OK if counter was never accepted and
 * is inside the window, NET_REPLAY_E_DUPLICATE or NET_REPLAY_E_TOO_OLD
 * otherwise. Changes nothing. */
int net_replay_check(const struct net_replay *r, uint64_t counter);

/* net_replay_update records counter as accepted, sliding the window forward
 * when it is the new greatest. Call it only after net_replay_check returned
 * NET_REPLAY_OK for counter and the packet authenticated. */
void net_replay_update(struct net_replay *r, uint64_t counter);

#endif
