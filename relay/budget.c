/* relay/budget.c: see budget.h. */
#include "relay/budget.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define DAY INT64_C(86400)
#define WEEK (7 * DAY)
/* 1970-01-01 was a Thursday: weeks start 4 days later, on Monday 1970-01-05. */
#define MONDAY (4 * DAY)

/* ---- the calendar (proleptic Gregorian, UTC) ---- */

/* Days since 1970-01-01 of year y, month m (1-12), day d: H. Hinnant's
 * days_from_civil, for years >= 1 (no negative eras here). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = y / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The year and month of day z (days since 1970-01-01, z >= 0). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m)
{
	z += 719468;
	int64_t era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : n[m - 1];
}

/* When month (y, m)'s period begins: day `day`, or the month's last day
 * when it is shorter, 00:00 UTC. */
static int64_t month_start(int64_t y, unsigned m, unsigned day)
{
	unsigned dim = days_in_month(y, m);
	return days_from_civil(y, m, day < dim ? day : dim) * DAY;
}

int relay_budget_monthly(struct relay_budget_period *out, int64_t now, unsigned day)
{
	int64_t y, py, ny;
	unsigned m, pm, nm;
	if (day < 1 || day > 31 || now < 0 || now > RELAY_BUDGET_TIME_MAX)
		return -EINVAL;
	civil_from_days(now / DAY, &y, &m);
	py = m == 1 ? y - 1 : y;
	pm = m == 1 ? 12 : m - 1;
	ny = m == 12 ? y + 1 : y;
	nm = m == 12 ? 1 : m + 1;
	int64_t this = month_start(y, m, day);
	struct relay_budget_period p;
	if (now >= this)
		p = (struct relay_budget_period){this, month_start(ny, nm, day)};
	else
		p = (struct relay_budget_period){month_start(py, pm, day), this};
	if (p.end > RELAY_BUDGET_TIME_MAX + 1)
		return -EINVAL;
	*out = p;
	return 0;
}

int relay_budget_fixed(struct relay_budget_period *out, int64_t now, uint64_t period_s)
{
	if (period_s < 1 || period_s > (uint64_t)(366 * DAY) || now < 0 || now > RELAY_BUDGET_TIME_MAX)
		return -EINVAL;
	int64_t len = (int64_t)period_s;
	int64_t origin = len % WEEK == 0 ? MONDAY : 0;
	int64_t rel = now - origin; /* negative in the first days of 1970 only */
	int64_t k = rel >= 0 ? rel / len : -((-rel + len - 1) / len);
	struct relay_budget_period p = {origin + k * len, origin + (k + 1) * len};
	if (p.end > RELAY_BUDGET_TIME_MAX + 1)
		return -EINVAL;
	*out = p;
	return 0;
}

/* ---- the state file ---- */

#define MAGIC "atmosphere-relay-budget"

enum key { K_START, K_END, K_USED, K_LIMIT, K_NUM };
static const char *const key_names[K_NUM] = {"period-start", "period-end", "used", "limit"};

/* A decimal number of 1 to 20 digits, no sign, no leading zero but "0",
 * within max: true and *out, or false. */
static bool parse_u64(const uint8_t *p, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 20 || (n > 1 && p[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		unsigned dgt = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - dgt) / 10)
			return false;
		v = v * 10 + dgt;
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static bool token_is(const uint8_t *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

int relay_budget_state_parse(struct relay_budget_state *out, unsigned *out_line, const uint8_t *buf, size_t len)
{
	uint64_t v[K_NUM] = {0};
	bool seen[K_NUM] = {false};
	unsigned line = 0;
	size_t pos = 0;
	*out_line = 0;
	if (len > RELAY_BUDGET_STATE_MAX)
		return RELAY_BUDGET_E_TOO_BIG;
	if (len == 0)
		return RELAY_BUDGET_E_FOREIGN;
	while (pos < len) {
		const uint8_t *nl = memchr(buf + pos, '\n', len - pos);
		const uint8_t *p = buf + pos;
		line++;
		*out_line = line;
		/* The first line says what the file is, before anything else is
		 * judged: another program's file is "foreign", not "truncated". */
		size_t n = nl ? (size_t)(nl - p) : len - pos;
		for (size_t i = 0; i < n; i++)
			if (p[i] < 0x20 || p[i] > 0x7e)
				return line == 1 ? RELAY_BUDGET_E_FOREIGN : RELAY_BUDGET_E_SYNTAX;
		/* "key value": one space between, none around. */
		const uint8_t *sp = memchr(p, ' ', n);
		size_t kn = sp ? (size_t)(sp - p) : n;
		const uint8_t *val = sp ? sp + 1 : p + n;
		size_t vn = sp ? n - kn - 1 : 0;
		if (line == 1) {
			if (!token_is(p, kn, MAGIC))
				return RELAY_BUDGET_E_FOREIGN;
			if (!nl)
				return RELAY_BUDGET_E_TRUNCATED;
			if (!token_is(val, vn, "1"))
				return RELAY_BUDGET_E_VERSION;
			pos += n + 1;
			continue;
		}
		if (!nl)
			return RELAY_BUDGET_E_TRUNCATED;
		pos += n + 1;
		if (n > 0 && p[0] == '#')
			continue;
		if (!sp || kn == 0 || vn == 0)
			return RELAY_BUDGET_E_SYNTAX;
		int k = 0;
		while (k < K_NUM && !token_is(p, kn, key_names[k]))
			k++;
		if (k == K_NUM)
			return RELAY_BUDGET_E_UNKNOWN_KEY;
		if (seen[k])
			return RELAY_BUDGET_E_DUPLICATE;
		uint64_t max = k == K_START || k == K_END ? (uint64_t)RELAY_BUDGET_TIME_MAX + 1 : UINT64_MAX;
		if (!parse_u64(val, vn, max, &v[k]))
			return RELAY_BUDGET_E_NUMBER;
		seen[k] = true;
	}
	*out_line = 0;
	for (int k = 0; k < K_NUM; k++)
		if (!seen[k])
			return RELAY_BUDGET_E_MISSING;
	if (v[K_END] <= v[K_START])
		return RELAY_BUDGET_E_PERIOD;
	out->period.start = (int64_t)v[K_START];
	out->period.end = (int64_t)v[K_END];
	out->used = v[K_USED];
	out->limit = v[K_LIMIT];
	return RELAY_BUDGET_OK;
}

int relay_budget_state_format(char *buf, size_t cap, const struct relay_budget_state *st)
{
	int n = snprintf(buf, cap,
			 MAGIC " 1\n"
			 "# the relay's byte budget (atmosphere-relay(8), --budget-state): written by the relay\n"
			 "period-start %" PRId64 "\n"
			 "period-end %" PRId64 "\n"
			 "used %" PRIu64 "\n"
			 "limit %" PRIu64 "\n",
			 st->period.start, st->period.end, st->used, st->limit);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

const char *relay_budget_strerror(int status)
{
	switch (status) {
	case RELAY_BUDGET_OK:
		return "ok";
	case RELAY_BUDGET_E_FOREIGN:
		return "not a relay budget state file (its first line is not 'atmosphere-relay-budget 1')";
	case RELAY_BUDGET_E_VERSION:
		return "a budget state file of another version (this relay reads version 1)";
	case RELAY_BUDGET_E_TOO_BIG:
		return "too long for a budget state file";
	case RELAY_BUDGET_E_TRUNCATED:
		return "cut short (the last line does not end)";
	case RELAY_BUDGET_E_SYNTAX:
		return "not 'key value'";
	case RELAY_BUDGET_E_UNKNOWN_KEY:
		return "unknown key (period-start, period-end, used and limit are)";
	case RELAY_BUDGET_E_DUPLICATE:
		return "a key given twice";
	case RELAY_BUDGET_E_NUMBER:
		return "not a decimal number in range";
	case RELAY_BUDGET_E_MISSING:
		return "period-start, period-end, used or limit is missing";
	case RELAY_BUDGET_E_PERIOD:
		return "period-end is not after period-start";
	default:
		return "unknown error";
	}
}
