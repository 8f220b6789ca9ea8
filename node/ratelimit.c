/* node/ratelimit.c: the node's token bucket for handshake initiations. */
#include "node/ratelimit.h"

#include "node/wire.h"

void node_ratelimit_init(struct node_ratelimit *rl)
{
	rl->tokens = NODE_INIT_BURST;
	rl->last_ms = 0;
}

bool node_ratelimit_take(struct node_ratelimit *rl, uint64_t now_ms)
{
	rl->tokens += (double)(now_ms - rl->last_ms) * NODE_INIT_RATE_PER_S / 1000.0;
	if (rl->tokens > NODE_INIT_BURST)
		rl->tokens = NODE_INIT_BURST;
	rl->last_ms = now_ms;
	if (rl->tokens < 1)
		return false;
	rl->tokens -= 1;
	return true;
}
