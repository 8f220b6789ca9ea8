/* Tests for stun/lifetime.h: the checkpoint ladder and the verdict drawn
 * from the checkpoints' outcomes. The measurement itself runs through real
 * kernel NAT in tests/stun/natlab_lifetime.sh. */
#include <criterion/criterion.h>
#include <string.h>

#include "stun/lifetime.h"

enum { A = STUN_LIFETIME_ALIVE, E = STUN_LIFETIME_EXPIRED, U = STUN_LIFETIME_UNTESTED };

static struct stun_lifetime_result combine(const unsigned *idle, const int *outcome, size_t num)
{
	struct stun_lifetime_check c[STUN_LIFETIME_MAX_CHECKS];
	struct stun_lifetime_result r;
	cr_assert(num <= STUN_LIFETIME_MAX_CHECKS);
	for (size_t i = 0; i < num; i++)
		c[i] = (struct stun_lifetime_check){ .idle_s = idle[i], .outcome = (enum stun_lifetime_outcome)outcome[i] };
	memset(&r, 0xa5, sizeof r); /* every field must be written */
	stun_lifetime_combine(c, num, &r);
	return r;
}

static const char *describe(const struct stun_lifetime_result *r)
{
	static char buf[64];
	return stun_lifetime_describe(r, buf, sizeof buf);
}

Test(stun_lifetime, ladder_stops_at_max_and_ends_on_it)
{
	unsigned t[STUN_LIFETIME_MAX_CHECKS];
	size_t n = stun_lifetime_ladder(10, t);
	cr_assert_eq(n, 6);
	unsigned want[] = { 1, 2, 3, 5, 8, 10 };
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(t[i], want[i], "t[%zu] = %u", i, t[i]);
	/* A rung itself is not repeated. */
	n = stun_lifetime_ladder(STUN_LIFETIME_DEFAULT_MAX_S, t);
	cr_assert_eq(n, 12);
	cr_assert_eq(t[n - 1], 120);
	cr_assert_eq(t[n - 2], 90);
}

Test(stun_lifetime, ladder_edges)
{
	unsigned t[STUN_LIFETIME_MAX_CHECKS];
	cr_assert_eq(stun_lifetime_ladder(0, t), 0);
	cr_assert_eq(stun_lifetime_ladder(1, t), 1);
	cr_assert_eq(t[0], 1);
	/* The whole ladder, and a max above the limit is the limit. */
	cr_assert_eq(stun_lifetime_ladder(STUN_LIFETIME_LIMIT_S, t), 15);
	cr_assert_eq(stun_lifetime_ladder(100000, t), 15);
	cr_assert_eq(t[14], 300);
	/* Between rungs: max_s is the 16th checkpoint at most. */
	cr_assert_eq(stun_lifetime_ladder(299, t), 15);
	cr_assert_eq(t[13], 240);
	cr_assert_eq(t[14], 299);
	for (size_t i = 1; i < 15; i++)
		cr_assert_lt(t[i - 1], t[i]);
}

Test(stun_lifetime, between_alive_and_expired)
{
	unsigned t[] = { 1, 2, 3, 5, 8, 10 };
	int o[] = { A, A, A, E, E, E };
	struct stun_lifetime_result r = combine(t, o, 6);
	cr_assert(r.measured);
	cr_assert_eq(r.min_s, 3);
	cr_assert_eq(r.max_s, 5);
	cr_assert_eq(r.num_contradicting, 0);
	cr_assert_str_eq(describe(&r), "between 3 and 5 s");
}

Test(stun_lifetime, outlives_every_checkpoint)
{
	unsigned t[] = { 1, 2, 3, 5, 8, 10 };
	int o[] = { A, A, A, A, A, A };
	struct stun_lifetime_result r = combine(t, o, 6);
	cr_assert(r.measured);
	cr_assert_eq(r.min_s, 10);
	cr_assert_eq(r.max_s, 0);
	cr_assert_str_eq(describe(&r), "more than 10 s");
}

Test(stun_lifetime, expires_before_the_first)
{
	unsigned t[] = { 1, 2, 3 };
	int o[] = { E, E, E };
	struct stun_lifetime_result r = combine(t, o, 3);
	cr_assert(r.measured);
	cr_assert_eq(r.min_s, 0);
	cr_assert_eq(r.max_s, 1);
	cr_assert_str_eq(describe(&r), "less than 1 s");
}

Test(stun_lifetime, untested_checkpoints_say_nothing)
{
	unsigned t[] = { 1, 2, 3, 5, 8 };
	int none[] = { U, U, U, U, U };
	struct stun_lifetime_result r = combine(t, none, 5);
	cr_assert_not(r.measured);
	cr_assert_eq(r.min_s, 0);
	cr_assert_eq(r.max_s, 0);
	cr_assert_eq(r.num_contradicting, 0);
	cr_assert_str_eq(describe(&r), "not measured");
	r = combine(t, none, 0);
	cr_assert_not(r.measured);
	/* A gap widens the interval instead of guessing. */
	int gap[] = { A, A, U, U, E };
	r = combine(t, gap, 5);
	cr_assert_eq(r.min_s, 2);
	cr_assert_eq(r.max_s, 8);
}

Test(stun_lifetime, an_answer_outweighs_a_lost_one)
{
	/* 2 s got no answer (loss) yet 5 s did: at least 5 s; the 2 s outcome
	 * is counted as contradicting, not used as the bound. */
	unsigned t[] = { 8, 1, 2, 3, 5, 13 };
	int o[] = { E, A, E, A, A, E };
	struct stun_lifetime_result r = combine(t, o, 6);
	cr_assert_eq(r.min_s, 5);
	cr_assert_eq(r.max_s, 8);
	cr_assert_eq(r.num_contradicting, 1);
}

Test(stun_lifetime, describe_truncates_safely)
{
	struct stun_lifetime_result r = { .measured = true, .min_s = 120, .max_s = 180 };
	char small[8];
	stun_lifetime_describe(&r, small, sizeof small);
	cr_assert_str_eq(small, "between");
}
