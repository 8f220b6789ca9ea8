/* Fuzz target for the relay's budget state file and calendar
 * (relay/budget.h): what the relay reads at start from --budget-state, a
 * file that a crash, a full disk or another program may have left there.
 *
 * Input: the first byte picks the part.
 *   'p'  the rest is 8 bytes of time, 1 byte of start day, 4 bytes of
 *        fixed period (little-endian), checked against the calendar's
 *        rules;
 *   else the whole input is a state file (seeds: corpus/budget/).
 * Properties, not only survival:
 *   - a refused file leaves the output untouched, and a refusal names a
 *     line within the file (or 0, the whole file);
 *   - an accepted file has period-end after period-start, formats back to
 *     a file that parses to the same state, and no proper prefix of that
 *     file is accepted (a cut file is never read as a smaller count);
 *   - a period contains its time, a monthly one lasts 28 to 31 days and the
 *     next period begins where it ends; a fixed one is exactly its length.
 * A broken property aborts, which libFuzzer and the replay test report. */
#include <stdint.h>
#include <string.h>

#include "relay/budget.h"
#include "tests/fuzz/check.h"

static uint64_t le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void calendar(const uint8_t *d, size_t n)
{
	if (n < 13)
		return;
	/* Times over 1970..9999 and a bit beyond, on both sides. */
	int64_t now = (int64_t)(le(d, 8) % (uint64_t)(RELAY_BUDGET_TIME_MAX + 3)) - 1;
	unsigned day = d[8] % 34;
	uint64_t period_s = le(d + 9, 4) % (366u * 86400u + 2);
	struct relay_budget_period p = {-7, -7}, q;
	int r = relay_budget_monthly(&p, now, day);
	if (day < 1 || day > 31 || now < 0 || now > RELAY_BUDGET_TIME_MAX) {
		CHECK(r != 0 && p.start == -7);
	} else if (r == 0) {
		CHECK(p.start <= now && now < p.end);
		CHECK(p.start % 86400 == 0 && p.end % 86400 == 0);
		CHECK(p.end - p.start >= 28 * 86400 && p.end - p.start <= 31 * 86400);
		if (p.end <= RELAY_BUDGET_TIME_MAX) {
			/* Refused only when that next period would end past 9999
			 * (regression/budget/next-period-past-9999). */
			if (relay_budget_monthly(&q, p.end, day) == 0)
				CHECK(q.start == p.end);
			else
				CHECK(p.end + 31 * 86400 > RELAY_BUDGET_TIME_MAX + 1);
		}
	}
	p = (struct relay_budget_period){-7, -7};
	r = relay_budget_fixed(&p, now, period_s);
	if (period_s < 1 || period_s > 366u * 86400u || now < 0 || now > RELAY_BUDGET_TIME_MAX) {
		CHECK(r != 0 && p.start == -7);
	} else if (r == 0) {
		CHECK(p.start <= now && now < p.end);
		CHECK((uint64_t)(p.end - p.start) == period_s);
	}
}

static void state_file(const uint8_t *d, size_t n)
{
	struct relay_budget_state st = {{-7, -7}, 7, 7}, back;
	unsigned line = 12345;
	int r = relay_budget_state_parse(&st, &line, d, n);
	if (r != RELAY_BUDGET_OK) {
		CHECK(r < 0);
		CHECK(st.period.start == -7 && st.used == 7);
		/* A line exists: at most one more line than the file has newlines. */
		size_t lines = 1;
		for (size_t i = 0; i < n; i++)
			lines += d[i] == '\n';
		CHECK(line <= lines);
		return;
	}
	CHECK(line == 0);
	CHECK(st.period.end > st.period.start && st.period.start >= 0);
	CHECK(st.period.end <= RELAY_BUDGET_TIME_MAX + 1);
	char text[RELAY_BUDGET_STATE_MAX];
	int m = relay_budget_state_format(text, sizeof text, &st);
	CHECK(m > 0);
	CHECK(relay_budget_state_parse(&back, &line, (const uint8_t *)text, (size_t)m) == RELAY_BUDGET_OK);
	CHECK(memcmp(&back, &st, sizeof st) == 0);
	for (int len = 0; len < m; len++)
		CHECK(relay_budget_state_parse(&back, &line, (const uint8_t *)text, (size_t)len) != RELAY_BUDGET_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && data[0] == 'p')
		calendar(data + 1, size - 1);
	else
		state_file(data, size);
	return 0;
}
