#ifndef NODE_RATELIMIT_H
#define NODE_RATELIMIT_H
/* node/ratelimit.h: the token bucket that caps handshake initiations for
 * the whole node (each costs two X25519): NODE_INIT_RATE_PER_S tokens a
 * second, at most NODE_INIT_BURST saved. One per node, not per source: the
 * cap protects the CPU, and live sessions' data packets are not counted. */
#include <stdbool.h>
#include <stdint.h>

struct node_ratelimit {
	double tokens;
	uint64_t last_ms;
};

/* node_ratelimit_init fills rl with a full bucket. */
void node_ratelimit_init(struct node_ratelimit *rl);

/* node_ratelimit_take refills rl for the time since the last call (now_ms is
 * monotonic) and takes one token: true when there was one, false when the
 * caller is over the rate and drops the initiation. */
bool node_ratelimit_take(struct node_ratelimit *rl, uint64_t now_ms);

#endif
