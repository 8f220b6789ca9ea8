/* Tests for stun/ratelimit.h: burst, refill, independence of sources, IPv6
 * /64 grouping and a full table. Time is passed in, so nothing sleeps. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "stun/ratelimit.h"

#define MS 1000000ull
#define SEC 1000000000ull

static struct stun_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct stun_addr x = { .family = STUN_FAMILY_IPV4, .port = 1234, .ip = { a, b, c, d } };
	return x;
}

static struct stun_ratelimit *new_rl(uint32_t rate, uint32_t burst)
{
	int err = 0;
	struct stun_ratelimit *rl = stun_ratelimit_new(rate, burst, &err);
	cr_assert_not_null(rl, "stun_ratelimit_new(%u, %u): %d", rate, burst, err);
	return rl;
}

/* count_allowed charges n requests from src at time now and counts passes. */
static unsigned count_allowed(struct stun_ratelimit *rl, const struct stun_addr *src, unsigned n, uint64_t now)
{
	unsigned ok = 0;
	for (unsigned i = 0; i < n; i++)
		ok += stun_ratelimit_allow(rl, src, now);
	return ok;
}

Test(stun_ratelimit, allows_a_burst_then_denies)
{
	struct stun_ratelimit *rl = new_rl(10, 5);
	struct stun_addr a = v4(192, 0, 2, 1);
	cr_assert_eq(count_allowed(rl, &a, 20, 1 * SEC), 5);
	stun_ratelimit_free(rl);
}

Test(stun_ratelimit, refills_at_the_rate)
{
	struct stun_ratelimit *rl = new_rl(10, 5);
	struct stun_addr a = v4(192, 0, 2, 1);
	cr_assert_eq(count_allowed(rl, &a, 5, 1 * SEC), 5);
	/* 10/s: one request earned every 100 ms, none before. */
	cr_assert_eq(count_allowed(rl, &a, 3, 1 * SEC + 99 * MS), 0);
	cr_assert_eq(count_allowed(rl, &a, 3, 1 * SEC + 100 * MS), 1);
	cr_assert_eq(count_allowed(rl, &a, 3, 1 * SEC + 350 * MS), 2);
	/* After a long pause the bucket is full again, never fuller. */
	cr_assert_eq(count_allowed(rl, &a, 20, 60 * SEC), 5);
	stun_ratelimit_free(rl);
}

Test(stun_ratelimit, denied_requests_are_not_charged)
{
	struct stun_ratelimit *rl = new_rl(10, 1);
	struct stun_addr a = v4(192, 0, 2, 1);
	cr_assert(stun_ratelimit_allow(rl, &a, 1 * SEC));
	/* Hammering while limited must not push the next slot further out. */
	cr_assert_eq(count_allowed(rl, &a, 1000, 1 * SEC + 50 * MS), 0);
	cr_assert(stun_ratelimit_allow(rl, &a, 1 * SEC + 100 * MS));
	stun_ratelimit_free(rl);
}

Test(stun_ratelimit, sources_are_independent)
{
	struct stun_ratelimit *rl = new_rl(1, 2);
	struct stun_addr a = v4(192, 0, 2, 1), b = v4(192, 0, 2, 2);
	cr_assert_eq(count_allowed(rl, &a, 10, SEC), 2);
	cr_assert_eq(count_allowed(rl, &b, 10, SEC), 2);
	/* The port does not make a new source. */
	a.port = 999;
	cr_assert_eq(count_allowed(rl, &a, 10, SEC), 0);
	stun_ratelimit_free(rl);
}

Test(stun_ratelimit, ipv6_counts_per_64_prefix)
{
	struct stun_ratelimit *rl = new_rl(1, 2);
	struct stun_addr a = { .family = STUN_FAMILY_IPV6, .port = 1, .ip = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1 } };
	struct stun_addr same64 = a, other64 = a;
	same64.ip[15] = 0x42;
	other64.ip[7] = 2;
	cr_assert_eq(count_allowed(rl, &a, 1, SEC), 1);
	cr_assert_eq(count_allowed(rl, &same64, 10, SEC), 1, "a host's other /128 shares its /64 budget");
	cr_assert_eq(count_allowed(rl, &other64, 10, SEC), 2);
	stun_ratelimit_free(rl);
}

Test(stun_ratelimit, full_table_evicts_and_keeps_working)
{
	struct stun_ratelimit *rl = new_rl(1, 1);
	/* Twice as many limited sources as slots: every one gets its first
	 * request through, later ones by evicting (counted). */
	unsigned ok = 0;
	for (unsigned i = 0; i < 2 * STUN_RL_SLOTS; i++) {
		struct stun_addr a = v4(10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i);
		ok += stun_ratelimit_allow(rl, &a, SEC);
	}
	cr_assert_eq(ok, 2 * STUN_RL_SLOTS);
	cr_assert_gt(stun_ratelimit_evictions(rl), 0);
	/* A source that was not evicted is still limited. */
	struct stun_addr last = v4(10, 0, (uint8_t)((2 * STUN_RL_SLOTS - 1) >> 8), (uint8_t)(2 * STUN_RL_SLOTS - 1));
	cr_assert_not(stun_ratelimit_allow(rl, &last, SEC));
	stun_ratelimit_free(rl);
}

Test(stun_ratelimit, rate_zero_is_unlimited_and_burst_zero_is_invalid)
{
	struct stun_ratelimit *rl = new_rl(0, 0);
	struct stun_addr a = v4(192, 0, 2, 1);
	cr_assert_eq(count_allowed(rl, &a, 10000, SEC), 10000);
	stun_ratelimit_free(rl);
	int err = 0;
	cr_assert_null(stun_ratelimit_new(10, 0, &err));
	cr_assert_eq(err, -EINVAL);
	stun_ratelimit_free(NULL);
}
