/* Tests for node/ratelimit.h: the handshake initiation bucket. */
#include <criterion/criterion.h>

#include "node/ratelimit.h"
#include "node/wire.h"

Test(node_ratelimit, full_bucket_gives_the_burst_then_refuses)
{
	struct node_ratelimit rl;
	node_ratelimit_init(&rl);
	uint64_t t = 5000000;
	for (int i = 0; i < NODE_INIT_BURST; i++)
		cr_assert(node_ratelimit_take(&rl, t), "initiation %d of the burst refused", i);
	cr_assert_not(node_ratelimit_take(&rl, t));
}

Test(node_ratelimit, refills_at_the_rate)
{
	struct node_ratelimit rl;
	node_ratelimit_init(&rl);
	uint64_t t = 5000000, per = 1000 / NODE_INIT_RATE_PER_S;
	while (node_ratelimit_take(&rl, t))
		;
	cr_assert_not(node_ratelimit_take(&rl, t + per / 2));
	cr_assert(node_ratelimit_take(&rl, t + per + 1));
	cr_assert_not(node_ratelimit_take(&rl, t + per + 1));
	/* One second: the rate's worth, not more. */
	int n = 0;
	t += per + 1 + 1000;
	while (node_ratelimit_take(&rl, t))
		n++;
	cr_assert(n >= NODE_INIT_RATE_PER_S - 1 && n <= NODE_INIT_RATE_PER_S, "%d tokens after 1 s", n);
}

Test(node_ratelimit, never_saves_more_than_the_burst)
{
	struct node_ratelimit rl;
	node_ratelimit_init(&rl);
	cr_assert(node_ratelimit_take(&rl, 1000));
	int n = 0;
	while (node_ratelimit_take(&rl, 1000 + 3600 * 1000))
		n++;
	cr_assert_eq(n, NODE_INIT_BURST);
}
