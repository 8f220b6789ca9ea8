/* stun/lifetime.c: the mapping-lifetime ladder and its verdict; see
 * lifetime.h. */
#include "stun/lifetime.h"

#include <assert.h>
#include <stdio.h>

/* Roughly Fibonacci, then every minute: NATs' UDP timeouts cluster at
 * 30 s (Linux's unreplied default), 60 s, 120 s (its stream default),
 * 180 s and 300 s (RFC 4787 REQ-5's minimum of two minutes, and its
 * recommended five). */
static const unsigned ladder[] = { 1, 2, 3, 5, 8, 13, 20, 30, 45, 60, 90, 120, 180, 240, 300 };

static_assert(sizeof ladder / sizeof ladder[0] < STUN_LIFETIME_MAX_CHECKS, "room for max_s");

size_t stun_lifetime_ladder(unsigned max_s, unsigned out_idle_s[static STUN_LIFETIME_MAX_CHECKS])
{
	size_t n = 0;

	if (max_s > STUN_LIFETIME_LIMIT_S)
		max_s = STUN_LIFETIME_LIMIT_S;
	for (size_t i = 0; i < sizeof ladder / sizeof ladder[0] && ladder[i] <= max_s; i++)
		out_idle_s[n++] = ladder[i];
	if (max_s > 0 && (n == 0 || out_idle_s[n - 1] != max_s))
		out_idle_s[n++] = max_s;
	return n;
}

void stun_lifetime_combine(const struct stun_lifetime_check *checks, size_t num, struct stun_lifetime_result *out)
{
	struct stun_lifetime_result r = { 0 };

	for (size_t i = 0; i < num; i++) {
		if (checks[i].outcome == STUN_LIFETIME_UNTESTED)
			continue;
		r.measured = true;
		if (checks[i].outcome == STUN_LIFETIME_ALIVE && checks[i].idle_s > r.min_s)
			r.min_s = checks[i].idle_s;
	}
	for (size_t i = 0; i < num; i++) {
		if (checks[i].outcome != STUN_LIFETIME_EXPIRED)
			continue;
		unsigned t = checks[i].idle_s;
		if (t <= r.min_s)
			r.num_contradicting++;
		else if (r.max_s == 0 || t < r.max_s)
			r.max_s = t;
	}
	*out = r;
}

const char *stun_lifetime_describe(const struct stun_lifetime_result *r, char *buf, size_t cap)
{
	if (!r->measured)
		snprintf(buf, cap, "not measured");
	else if (r->max_s == 0)
		snprintf(buf, cap, "more than %u s", r->min_s);
	else if (r->min_s == 0)
		snprintf(buf, cap, "less than %u s", r->max_s);
	else
		snprintf(buf, cap, "between %u and %u s", r->min_s, r->max_s);
	return buf;
}
