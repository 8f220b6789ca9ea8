#ifndef RELAY_BUDGET_H
#define RELAY_BUDGET_H
/* relay/budget.h: the byte budget's calendar and its state file (--budget,
 * --budget-start, --budget-state; docs/RELAY.md, "Quotas").
 *
 * Periods are UTC, in UNIX seconds, so they move neither with the machine's
 * time zone nor with daylight saving:
 *   - a monthly budget ("BYTES/month") runs from day D (--budget-start, 1 to
 *     31) 00:00 UTC of one month to day D of the next; a month shorter than
 *     D begins its period on its last day (D = 31: Jan 31, Feb 28 or 29,
 *     Mar 31, Apr 30...), so periods follow one another with no gap and no
 *     overlap, as a hosting provider's billing month does;
 *   - a fixed period (hour, day, week, or a duration such as 12h or 30d) is
 *     aligned on the UNIX epoch: an hour starts on the hour, a day at 00:00
 *     UTC, and a whole number of weeks on a Monday (counted from Monday
 *     1970-01-05).
 * Either way a restart does not begin a new period: the relay finds the
 * same period again, and the state file gives it the bytes already used.
 *
 * The state file is text, one "key value" a line, every line ending in
 * "\n" (a file cut short is refused, never half-read):
 *   atmosphere-relay-budget 1     the first line: what the file is, version 1
 *   period-start 1764547200       the period's bounds, UNIX seconds (UTC)
 *   period-end 1767225600
 *   used 123456789                payload bytes relayed in that period
 *   limit 536870912000            the budget when written (for people; the
 *                                 configured budget is the one that counts)
 * '#' lines are comments. Each key appears once; no other key is allowed.
 *
 * Pure code: no I/O (relay/quota.c reads and writes the file, write to a
 * temporary file then rename), no allocation, no clock (the caller's time). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A state file longer than this is not one of ours (a real one is about
 * 150 bytes). */
#define RELAY_BUDGET_STATE_MAX 1024
/* Periods end by 9999-12-31T23:59:59Z: dates are computed for years 1970
 * to 9999 only. */
#define RELAY_BUDGET_TIME_MAX INT64_C(253402300799)

/* One budget period, [start, end) in UNIX seconds. */
struct relay_budget_period {
	int64_t start, end;
};

/* relay_budget_monthly sets out to the monthly period with start day day
 * (1 to 31) that contains now. Returns 0, or -EINVAL (day out of range, or
 * now outside [0, RELAY_BUDGET_TIME_MAX] or its period past it). */
int relay_budget_monthly(struct relay_budget_period *out, int64_t now, unsigned day);

/* relay_budget_fixed sets out to the period of period_s seconds (1 s to
 * 366 days) aligned on the epoch (a whole number of weeks: on Mondays)
 * that contains now. Returns 0, or -EINVAL as relay_budget_monthly does. */
int relay_budget_fixed(struct relay_budget_period *out, int64_t now, uint64_t period_s);

/* The state file's content. */
struct relay_budget_state {
	struct relay_budget_period period;
	uint64_t used;   /* payload bytes relayed in period */
	uint64_t limit;  /* the budget when written */
};

enum relay_budget_status {
	RELAY_BUDGET_OK = 0,
	RELAY_BUDGET_E_FOREIGN = -1,     /* the first line is not "atmosphere-relay-budget ..." */
	RELAY_BUDGET_E_VERSION = -2,     /* a version other than 1 */
	RELAY_BUDGET_E_TOO_BIG = -3,     /* longer than RELAY_BUDGET_STATE_MAX */
	RELAY_BUDGET_E_TRUNCATED = -4,   /* the last line has no "\n" */
	RELAY_BUDGET_E_SYNTAX = -5,      /* not "key value", or a NUL or control byte */
	RELAY_BUDGET_E_UNKNOWN_KEY = -6,
	RELAY_BUDGET_E_DUPLICATE = -7,   /* a key given twice */
	RELAY_BUDGET_E_NUMBER = -8,      /* not a decimal number, or out of range */
	RELAY_BUDGET_E_MISSING = -9,     /* a key is missing */
	RELAY_BUDGET_E_PERIOD = -10,     /* period-end not after period-start */
};

/* relay_budget_state_parse reads a state file's len bytes at buf into
 * *out. Returns RELAY_BUDGET_OK, or a negative enum relay_budget_status
 * with *out_line the line at fault (0: the whole file); *out is written
 * only on success. */
int relay_budget_state_parse(struct relay_budget_state *out, unsigned *out_line, const uint8_t *buf, size_t len);

/* relay_budget_state_format writes st as a state file into buf (cap bytes,
 * NUL-terminated) and returns its length without the NUL, or -1 when cap is
 * too small (nothing useful in buf then). What it writes parses back to st
 * when st's period is valid. */
int relay_budget_state_format(char *buf, size_t cap, const struct relay_budget_state *st);

/* relay_budget_strerror returns a static description of a status. */
const char *relay_budget_strerror(int status);

#endif
