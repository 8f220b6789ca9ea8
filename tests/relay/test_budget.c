/* relay/budget: the byte budget's calendar (monthly periods from a start
 * day, month lengths, days 29-31, leap years, UTC; fixed periods on the
 * epoch) and its state file (round trip, every prefix refused, malformed
 * files refused with their line, inputs ending against a PROT_NONE page).
 * Pure code on the caller's clock: the expected instants were computed
 * apart (Python's datetime in UTC), and a sweep checks the periods against
 * libc's gmtime_r. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "relay/budget.h"

#define DAY 86400

struct month_case {
	char name[40];
	int64_t now;
	unsigned day;
	int64_t start, end;
};

static struct month_case month_cases[] = {
	{"day1_mid_month", 1796504400, 1, 1796083200, 1798761600},                 /* 2026-12-05 21:00 */
	{"day1_exactly_at_start", 1796083200, 1, 1796083200, 1798761600},          /* 2026-12-01 00:00 */
	{"day1_last_second", 1798761599, 1, 1796083200, 1798761600},               /* 2026-12-31 23:59:59 */
	{"day15_before_start_in_january", 1799539200, 15, 1797292800, 1799971200}, /* Dec 15 .. Jan 15 */
	{"day31_leap_february", 1709208000, 31, 1709164800, 1711843200},           /* 2024-02-29 .. 03-31 */
	{"day31_before_leap_february_start", 1709164799, 31, 1706659200, 1709164800}, /* 01-31 .. 02-29 */
	{"day31_common_february", 1677542400, 31, 1677542400, 1680220800},         /* 2023-02-28 .. 03-31 */
	{"day30_common_february_to_march", 1680048000, 30, 1677542400, 1680134400}, /* 02-28 .. 03-30 */
	{"day29_leap_february", 1709164800, 29, 1709164800, 1711670400},           /* 2024-02-29 .. 03-29 */
	{"day29_common_february", 1677628800, 29, 1677542400, 1680048000},         /* 2023-02-28 .. 03-29 */
	{"day31_april_has_30", 1777528800, 31, 1777507200, 1780185600},            /* 2026-04-30 .. 05-31 */
	{"day31_before_april_end", 1777420800, 31, 1774915200, 1777507200},        /* 03-31 .. 04-30 */
	{"year_2100_not_leap", 4107459600, 29, 4107456000, 4109961600},            /* 2100-02-28 .. 03-29 */
	{"year_2000_leap", 951786000, 30, 951782400, 954374400},                   /* 2000-02-29 .. 03-30 */
	{"epoch", 0, 1, 0, 2678400},                                               /* 1970-01 */
};

ParameterizedTestParameters(relay_budget, monthly_periods)
{
	return cr_make_param_array(struct month_case, month_cases, sizeof month_cases / sizeof month_cases[0]);
}

ParameterizedTest(struct month_case *c, relay_budget, monthly_periods)
{
	struct relay_budget_period p;
	cr_assert_eq(relay_budget_monthly(&p, c->now, c->day), 0, "%s", c->name);
	cr_expect_eq(p.start, c->start, "%s: start %lld, want %lld", c->name, (long long)p.start, (long long)c->start);
	cr_expect_eq(p.end, c->end, "%s: end %lld, want %lld", c->name, (long long)p.end, (long long)c->end);
}

/* Every start day, every period from 2023 to 2031 (leap 2024 and 2028):
 * periods follow one another without gap or overlap, each begins at 00:00
 * UTC on day min(D, the month's length) by gmtime_r, in the month after
 * the previous one's, and lasts 28 to 31 days. */
Test(relay_budget, monthly_periods_tile_the_calendar_for_every_start_day)
{
	for (unsigned d = 1; d <= 31; d++) {
		struct relay_budget_period p;
		cr_assert_eq(relay_budget_monthly(&p, 1672531200 /* 2023-01-01 */, d), 0);
		int prev_mon = -1;
		for (int i = 0; i < 12 * 8; i++) {
			struct relay_budget_period next;
			struct tm tm;
			time_t t = (time_t)p.start;
			gmtime_r(&t, &tm);
			cr_assert(tm.tm_hour == 0 && tm.tm_min == 0 && tm.tm_sec == 0, "day %u: period %d starts at %02d:%02d",
				  d, i, tm.tm_hour, tm.tm_min);
			static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
			int y = tm.tm_year + 1900;
			int len = dim[tm.tm_mon] + (tm.tm_mon == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
			int want = (int)d < len ? (int)d : len;
			cr_assert_eq(tm.tm_mday, want, "day %u: %04d-%02d starts on day %d, want %d", d, y, tm.tm_mon + 1,
				     tm.tm_mday, want);
			if (prev_mon >= 0)
				cr_assert_eq(tm.tm_mon, (prev_mon + 1) % 12, "day %u: a month skipped or repeated at %04d-%02d", d,
					     y, tm.tm_mon + 1);
			prev_mon = tm.tm_mon;
			int64_t days = (p.end - p.start) / DAY;
			cr_assert((p.end - p.start) % DAY == 0 && days >= 28 && days <= 31, "day %u: a period of %lld s", d,
				  (long long)(p.end - p.start));
			/* Its last second and its first belong to it; the end to the next. */
			cr_assert_eq(relay_budget_monthly(&next, p.end - 1, d), 0);
			cr_assert(next.start == p.start && next.end == p.end);
			cr_assert_eq(relay_budget_monthly(&next, p.end, d), 0);
			cr_assert_eq(next.start, p.end, "day %u: a gap or an overlap after %lld", d, (long long)p.start);
			p = next;
		}
	}
}

struct fixed_case {
	char name[40];
	int64_t now;
	uint64_t period_s;
	int64_t start, end;
};

static struct fixed_case fixed_cases[] = {
	{"hour_on_the_hour", 1796504400 + 1234, 3600, 1796504400, 1796508000},
	{"day_from_midnight_utc", 1796504400, DAY, 1796428800, 1796515200},   /* 2026-12-05 */
	{"week_from_monday", 1796504400, 7 * DAY, 1795996800, 1796601600},    /* Mon 2026-11-30 .. Mon 12-07 */
	{"two_weeks_from_a_monday", 1796504400, 14 * DAY, 1795392000, 1796601600}, /* 1484 fortnights after 1970-01-05 */
	{"week_in_the_epochs_first_days", 0, 7 * DAY, -3 * DAY, 4 * DAY}, /* Mon 1969-12-29 .. Mon 1970-01-05 */
	{"twelve_hours", 1796504400, 12 * 3600, 1796472000, 1796515200},      /* 12:00 .. 24:00 UTC */
	{"one_second", 1796504400, 1, 1796504400, 1796504401},
};

ParameterizedTestParameters(relay_budget, fixed_periods)
{
	return cr_make_param_array(struct fixed_case, fixed_cases, sizeof fixed_cases / sizeof fixed_cases[0]);
}

ParameterizedTest(struct fixed_case *c, relay_budget, fixed_periods)
{
	struct relay_budget_period p;
	cr_assert_eq(relay_budget_fixed(&p, c->now, c->period_s), 0, "%s", c->name);
	cr_expect_eq(p.start, c->start, "%s: start %lld, want %lld", c->name, (long long)p.start, (long long)c->start);
	cr_expect_eq(p.end, c->end, "%s: end %lld, want %lld", c->name, (long long)p.end, (long long)c->end);
}

Test(relay_budget, refuses_days_periods_and_times_out_of_range)
{
	struct relay_budget_period p = {7, 8};
	cr_expect_eq(relay_budget_monthly(&p, 1796504400, 0), -EINVAL);
	cr_expect_eq(relay_budget_monthly(&p, 1796504400, 32), -EINVAL);
	cr_expect_eq(relay_budget_monthly(&p, -1, 1), -EINVAL);
	cr_expect_eq(relay_budget_monthly(&p, RELAY_BUDGET_TIME_MAX + 1, 1), -EINVAL);
	cr_expect_eq(relay_budget_fixed(&p, 1796504400, 0), -EINVAL);
	cr_expect_eq(relay_budget_fixed(&p, 1796504400, 366ull * DAY + 1), -EINVAL);
	cr_expect_eq(relay_budget_fixed(&p, -5, 3600), -EINVAL);
	cr_expect(p.start == 7 && p.end == 8, "a refusal wrote its output");
	/* The last second of year 9999 still has its period. */
	cr_expect_eq(relay_budget_monthly(&p, RELAY_BUDGET_TIME_MAX, 1), 0);
	cr_expect_eq(p.end, RELAY_BUDGET_TIME_MAX + 1);
}

/* ---- the state file ---- */

/* Copies len bytes to end where a PROT_NONE page begins. */
static uint8_t *guarded_copy(const void *src, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (len + page - 1) / page * page + page;
	uint8_t *base = mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(base, MAP_FAILED);
	cr_assert_eq(mprotect(base + span, page, PROT_NONE), 0);
	uint8_t *p = base + span - len;
	if (len)
		memcpy(p, src, len);
	return p;
}

static void guard_free(uint8_t *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (len + page - 1) / page * page + page;
	munmap(p + len - span, span + page);
}

static int parse(struct relay_budget_state *st, unsigned *line, const char *text, size_t len)
{
	uint8_t *g = guarded_copy(text, len);
	int r = relay_budget_state_parse(st, line, g, len);
	guard_free(g, len);
	return r;
}

static const struct relay_budget_state sample = {{1796083200, 1798761600}, 123456789, 536870912000};

Test(relay_budget, state_round_trips)
{
	char text[RELAY_BUDGET_STATE_MAX];
	struct relay_budget_state st = {{0, 0}, 0, 0};
	unsigned line = 99;
	int n = relay_budget_state_format(text, sizeof text, &sample);
	cr_assert_gt(n, 0);
	cr_assert_eq(strncmp(text, "atmosphere-relay-budget 1\n", 26), 0, "first line: %.40s", text);
	cr_assert_eq(parse(&st, &line, text, (size_t)n), RELAY_BUDGET_OK);
	cr_expect_eq(line, 0);
	cr_expect(st.period.start == sample.period.start && st.period.end == sample.period.end);
	cr_expect(st.used == sample.used && st.limit == sample.limit);
	/* Extremes: a count of UINT64_MAX and the last period there is. */
	struct relay_budget_state big = {{RELAY_BUDGET_TIME_MAX, RELAY_BUDGET_TIME_MAX + 1}, UINT64_MAX, UINT64_MAX};
	n = relay_budget_state_format(text, sizeof text, &big);
	cr_assert_gt(n, 0);
	cr_assert_eq(parse(&st, &line, text, (size_t)n), RELAY_BUDGET_OK);
	cr_expect(st.used == UINT64_MAX && st.period.end == RELAY_BUDGET_TIME_MAX + 1);
}

Test(relay_budget, format_refuses_a_buffer_too_small)
{
	char text[RELAY_BUDGET_STATE_MAX];
	int n = relay_budget_state_format(text, sizeof text, &sample);
	cr_assert_gt(n, 0);
	cr_expect_eq(relay_budget_state_format(text, (size_t)n, &sample), -1);
	cr_expect_eq(relay_budget_state_format(text, (size_t)n + 1, &sample), n);
}

/* A file cut anywhere (a write that did not finish) is refused, never read
 * as a smaller count. */
Test(relay_budget, every_proper_prefix_is_refused)
{
	char text[RELAY_BUDGET_STATE_MAX];
	int n = relay_budget_state_format(text, sizeof text, &sample);
	cr_assert_gt(n, 0);
	for (size_t len = 0; len < (size_t)n; len++) {
		struct relay_budget_state st = {{1, 2}, 3, 4};
		unsigned line;
		int r = parse(&st, &line, text, len);
		cr_assert_lt(r, 0, "a prefix of %zu bytes was accepted", len);
		cr_assert(st.period.start == 1 && st.used == 3, "a refused prefix of %zu bytes wrote the output", len);
	}
}

/* Inline arrays, not pointers: Criterion runs each parameter in a new
 * process, where a pointer into this one's data means nothing. */
struct bad_case {
	char name[40];
	char text[160];
	int want;
	unsigned line;
};

#define HEAD "atmosphere-relay-budget 1\n"
#define BODY "period-start 1796083200\nperiod-end 1798761600\nused 5\nlimit 9\n"

static struct bad_case bad_cases[] = {
	{"empty", "", RELAY_BUDGET_E_FOREIGN, 0},
	{"another_programs_file", "{\"used\": 5}\n", RELAY_BUDGET_E_FOREIGN, 1},
	{"binary", "\x7f" "ELF\x02\x01\x01", RELAY_BUDGET_E_FOREIGN, 1},
	{"magic_without_newline", "atmosphere-relay-budget 1", RELAY_BUDGET_E_TRUNCATED, 1},
	{"other_version", "atmosphere-relay-budget 2\n" BODY, RELAY_BUDGET_E_VERSION, 1},
	{"cut_in_the_last_line", HEAD "period-start 1796083200\nperiod-end 1798761600\nused 5\nlimit 9",
	 RELAY_BUDGET_E_TRUNCATED, 5},
	{"missing_used", HEAD "period-start 1796083200\nperiod-end 1798761600\nlimit 9\n", RELAY_BUDGET_E_MISSING, 0},
	{"unknown_key", HEAD BODY "owner bob\n", RELAY_BUDGET_E_UNKNOWN_KEY, 6},
	{"key_twice", HEAD BODY "used 6\n", RELAY_BUDGET_E_DUPLICATE, 6},
	{"negative", HEAD "period-start 1796083200\nperiod-end 1798761600\nused -5\nlimit 9\n", RELAY_BUDGET_E_NUMBER, 4},
	{"leading_zero", HEAD "period-start 1796083200\nperiod-end 1798761600\nused 05\nlimit 9\n", RELAY_BUDGET_E_NUMBER, 4},
	{"over_uint64", HEAD "period-start 1796083200\nperiod-end 1798761600\nused 18446744073709551616\nlimit 9\n",
	 RELAY_BUDGET_E_NUMBER, 4},
	{"time_past_9999", HEAD "period-start 1796083200\nperiod-end 253402300801\nused 5\nlimit 9\n",
	 RELAY_BUDGET_E_NUMBER, 3},
	{"hex", HEAD "period-start 1796083200\nperiod-end 1798761600\nused 0x5\nlimit 9\n", RELAY_BUDGET_E_NUMBER, 4},
	{"two_spaces", HEAD "period-start 1796083200\nperiod-end 1798761600\nused  5\nlimit 9\n", RELAY_BUDGET_E_NUMBER, 4},
	{"no_value", HEAD "period-start 1796083200\nperiod-end 1798761600\nused\nlimit 9\n", RELAY_BUDGET_E_SYNTAX, 4},
	{"crlf", HEAD "period-start 1796083200\r\nperiod-end 1798761600\nused 5\nlimit 9\n", RELAY_BUDGET_E_SYNTAX, 2},
	{"blank_line", HEAD "\n" BODY, RELAY_BUDGET_E_SYNTAX, 2},
	{"period_backwards", HEAD "period-start 1798761600\nperiod-end 1796083200\nused 5\nlimit 9\n",
	 RELAY_BUDGET_E_PERIOD, 0},
	{"period_empty", HEAD "period-start 1798761600\nperiod-end 1798761600\nused 5\nlimit 9\n", RELAY_BUDGET_E_PERIOD, 0},
};

ParameterizedTestParameters(relay_budget, malformed_state_files)
{
	return cr_make_param_array(struct bad_case, bad_cases, sizeof bad_cases / sizeof bad_cases[0]);
}

ParameterizedTest(struct bad_case *c, relay_budget, malformed_state_files)
{
	struct relay_budget_state st = {{1, 2}, 3, 4};
	unsigned line = 99;
	int r = parse(&st, &line, c->text, strlen(c->text));
	cr_expect_eq(r, c->want, "%s: %d (%s), want %d", c->name, r, relay_budget_strerror(r), c->want);
	cr_expect_eq(line, c->line, "%s: line %u, want %u", c->name, line, c->line);
	cr_expect(st.period.start == 1 && st.used == 3, "%s: a refused file wrote the output", c->name);
	cr_expect_neq(strcmp(relay_budget_strerror(r), "unknown error"), 0, "%s", c->name);
}

Test(relay_budget, comments_are_skipped_and_a_nul_is_refused)
{
	static const char ok[] = HEAD "# written by hand\n" BODY;
	struct relay_budget_state st;
	unsigned line;
	cr_expect_eq(parse(&st, &line, ok, sizeof ok - 1), RELAY_BUDGET_OK);
	cr_expect_eq(st.used, 5);
	static const char nul[] = HEAD "period-start 1796083200\nperiod-end 1798761600\nused 5\0\nlimit 9\n";
	cr_expect_eq(parse(&st, &line, nul, sizeof nul - 1), RELAY_BUDGET_E_SYNTAX);
	cr_expect_eq(line, 4);
}

Test(relay_budget, a_file_longer_than_the_maximum_is_refused)
{
	static char big[RELAY_BUDGET_STATE_MAX + 1];
	memcpy(big, HEAD, sizeof HEAD - 1);
	memset(big + sizeof HEAD - 1, '#', sizeof big - (sizeof HEAD - 1));
	struct relay_budget_state st;
	unsigned line;
	cr_expect_eq(parse(&st, &line, big, sizeof big), RELAY_BUDGET_E_TOO_BIG);
}
