/* bench/think: --think -- parsing the distribution, and which slots of a
 * fixed-rate schedule a thinking session sends: the gap is the slot spacing
 * plus the think time rounded up to a slot, also on schedules whose times
 * are rounded down to whole ns, drawn per pause and the same for a seed. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <string.h>

#include "bench/sched.h"
#include "bench/think.h"

#define MS 1000000ull
#define S 1000000000ull

static struct bench_size_dist think(const char *s)
{
	struct bench_size_dist d;
	char err[200];
	cr_assert_eq(bench_think_parse(s, &d, err, sizeof err), 0, "'%s': %s", s, err);
	return d;
}

Test(bench_think, parses_fixed_list_and_range_in_ms)
{
	struct bench_size_dist d = think("2s");
	cr_assert_eq(d.kind, BENCH_SIZE_FIXED);
	cr_assert_eq(d.size[0], 2000);
	cr_assert(bench_think_on(&d));
	d = think("0:50,1s:40,10s:10");
	cr_assert_eq(d.kind, BENCH_SIZE_LIST);
	cr_assert_eq(d.num, 3);
	cr_assert_eq(d.size[0], 0);
	cr_assert_eq(d.size[1], 1000);
	cr_assert_eq(d.size[2], 10000);
	cr_assert_eq(d.total_weight, 100);
	cr_assert_float_eq(bench_think_mean_ms(&d), 1400.0, 1e-9);
	d = think("500ms-3s");
	cr_assert_eq(d.kind, BENCH_SIZE_RANGE);
	cr_assert_eq(d.size[0], 500);
	cr_assert_eq(d.size[1], 3000);
	d = think("1h");
	cr_assert_eq(d.size[0], BENCH_THINK_MAX_MS);
	d = think("0");
	cr_assert_not(bench_think_on(&d), "0 turns think time off");
	struct bench_size_dist none = {0};
	cr_assert_not(bench_think_on(&none), "no --think: off");
}

struct bad_think {
	char s[40];
	char why[48];
};

static const struct bad_think bad[] = {
	{"", "expected a duration from 0 to 3600000 ms"},
	{"2x", "expected a duration from 0 to 3600000 ms"},
	{"61m", "expected a duration from 0 to 3600000 ms"},
	{"3s-1s", "the minimum is above the maximum"},
	{"1s-", "expected MIN-MAX, both durations"},
	{"1s:0", "expected a weight from 1"},
	{"1s,2s:1", "entry 1 '1s': expected DURATION:WEIGHT"},
	{"x:1", "entry 1 'x:1': expected a duration"},
};

ParameterizedTestParameters(bench_think, refuses_bad_strings)
{
	return cr_make_param_array(struct bad_think, bad, sizeof bad / sizeof bad[0]);
}

ParameterizedTest(const struct bad_think *c, bench_think, refuses_bad_strings)
{
	struct bench_size_dist d = {.num = 77};
	char err[200] = "";
	cr_assert_eq(bench_think_parse(c->s, &d, err, sizeof err), -1, "'%s' was accepted", c->s);
	cr_assert(strstr(err, c->why), "'%s': reason '%s' lacks '%s'", c->s, err, c->why);
	cr_assert_eq(d.num, 77, "'%s': written on failure", c->s);
}

/* Session pos of n on one thread at rate per session (bench_relay.c's
 * schedule): walks its first num_slots slots and records the ones
 * bench_think_take lets through, as slot indices. Returns how many. */
static size_t walk(const struct bench_size_dist *d, uint64_t seed, uint64_t k, unsigned rate, unsigned n,
		   unsigned pos, uint64_t num_slots, uint64_t *out, size_t out_max)
{
	struct bench_sched sch = {.start_ns = 5 * S, .rate = (uint64_t)rate * n};
	struct bench_think_state st;
	size_t m = 0;
	bench_think_init(&st, seed, k);
	for (uint64_t i = 0; i < num_slots; i++) {
		uint64_t t = bench_sched_time(&sch, i * n + pos);
		if (bench_think_take(d, &st, t)) {
			if (m < out_max)
				out[m] = i;
			m++;
		}
	}
	return m;
}

/* 100 msgs/s (10 ms slots), think 40 ms: the gap is 10 + 40 = 50 ms, one
 * message in 5 slots; 25 ms rounds up to 40 ms (one in 4). */
Test(bench_think, fixed_think_is_added_to_the_spacing)
{
	static uint64_t sent[1000];
	struct bench_size_dist d = think("40ms");
	size_t m = walk(&d, 0, 0, 100, 1, 0, 1000, sent, 1000);
	cr_assert_eq(m, 200, "think 40ms at 100/s: %zu of 1000 slots, want 200", m);
	for (size_t i = 0; i < m; i++)
		cr_assert_eq(sent[i], 5 * i, "message %zu in slot %llu, want %zu", i, (unsigned long long)sent[i], 5 * i);
	d = think("25ms");
	m = walk(&d, 0, 0, 100, 1, 0, 1000, sent, 1000);
	cr_assert_eq(m, 250);
	for (size_t i = 0; i < m; i++)
		cr_assert_eq(sent[i], 4 * i, "think 25ms: message %zu in slot %llu", i, (unsigned long long)sent[i]);
}

/* 3 msgs/s on a thread of 7 sessions: the slots are 333333333.3 ns apart,
 * rounded down to whole ns; think 1 s is exactly 3 slots, so every 4th slot
 * goes for every session, whatever its stagger. */
Test(bench_think, a_whole_number_of_slots_is_exact_on_rounded_schedules)
{
	static uint64_t sent[200];
	struct bench_size_dist d = think("1s");
	for (unsigned pos = 0; pos < 7; pos++) {
		size_t m = walk(&d, 0, pos, 3, 7, pos, 800, sent, 200);
		cr_assert_eq(m, 200, "session %u: %zu messages in 800 slots, want 200", pos, m);
		for (size_t i = 0; i < m; i++)
			cr_assert_eq(sent[i], 4 * i, "session %u: message %zu in slot %llu", pos, i,
				     (unsigned long long)sent[i]);
	}
}

/* A list draws per pause: 0 or 20 ms at 10 ms slots, gaps of 1 or 3
 * slots, about half each; a range 10..30 ms gives gaps of 2, 3 or 4. */
Test(bench_think, distributions_draw_per_pause)
{
	static uint64_t sent[20000];
	struct bench_size_dist d = think("0:1,20ms:1");
	size_t m = walk(&d, 3, 1, 100, 1, 0, 30000, sent, 20000);
	cr_assert(m > 1000 && m <= 20000);
	size_t g1 = 0, g3 = 0;
	for (size_t i = 1; i < m; i++) {
		uint64_t g = sent[i] - sent[i - 1];
		cr_assert(g == 1 || g == 3, "gap %llu slots", (unsigned long long)g);
		g1 += g == 1;
		g3 += g == 3;
	}
	double f = (double)g1 / (double)(g1 + g3);
	cr_assert(f > 0.47 && f < 0.53, "think 0 drawn in %.3f of pauses, want about 0.5", f);
	d = think("10ms-30ms");
	m = walk(&d, 3, 1, 100, 1, 0, 40000, sent, 20000);
	size_t seen[5] = {0};
	for (size_t i = 1; i < m && i < 20000; i++) {
		uint64_t g = sent[i] - sent[i - 1];
		cr_assert(g >= 2 && g <= 4, "range 10..30 ms: gap %llu slots", (unsigned long long)g);
		seen[g]++;
	}
	cr_assert(seen[2] && seen[3] && seen[4], "every gap drawn: %zu %zu %zu", seen[2], seen[3], seen[4]);
	/* 10 ms: 1 in 21 whole-ms draws; 11..20: 10; 21..30: 10. */
	cr_assert(seen[3] > 5 * seen[2] && seen[4] > 5 * seen[2]);
}

Test(bench_think, same_seed_and_session_same_pauses)
{
	static uint64_t a[2000], b[2000], c[2000];
	struct bench_size_dist d = think("0-100ms");
	size_t na = walk(&d, 9, 4, 100, 1, 0, 20000, a, 2000);
	size_t nb = walk(&d, 9, 4, 100, 1, 0, 20000, b, 2000);
	size_t nc = walk(&d, 9, 5, 100, 1, 0, 20000, c, 2000);
	cr_assert_eq(na, nb);
	cr_assert(!memcmp(a, b, sizeof a), "same seed and session, other pauses");
	cr_assert(na != nc || memcmp(a, c, sizeof a), "session 5 pauses as session 4 does");
}

/* No think time: every slot goes, nothing drawn. */
Test(bench_think, zero_think_sends_every_slot)
{
	static uint64_t sent[100];
	struct bench_size_dist d = think("0");
	cr_assert_eq(walk(&d, 0, 0, 100, 4, 2, 100, sent, 100), 100);
	for (size_t i = 0; i < 100; i++)
		cr_assert_eq(sent[i], i);
}
