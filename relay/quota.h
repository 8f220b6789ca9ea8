#ifndef RELAY_QUOTA_H
#define RELAY_QUOTA_H
/* relay/quota.h: the token bucket behind --session-rate and --ip-rate.
 *
 * Design: GCRA, the token bucket written as one "theoretical arrival time"
 * (tat, CLOCK_MONOTONIC ns), as stun/ratelimit.h does for requests, here
 * per byte: reading n bytes moves tat to max(tat, now) + n / rate; a
 * reader may read while tat <= now + burst / rate, and otherwise waits
 * relay_bucket_wait_ns. A bucket whose tat is in the past is full, so a
 * long gap refills it to exactly the burst and no further. One uint64_t per
 * bucket: a connection's bucket costs 8 bytes and a shared one is updated
 * with one compare-and-swap.
 *
 * The relay charges what it has already read (it cannot un-read), so the
 * bucket may run into debt by one read batch: a reader gets at most
 * burst + rate x time + one batch (RELAY_FWD_BATCH receive buffers).
 *
 * Arithmetic is exact to the nanosecond in 128 bits and saturates instead
 * of wrapping: any rate from 1 byte/s to UINT64_MAX and any gap are safe.
 * Time going backwards credits nothing (tat never moves back). Pure
 * arithmetic: no I/O, no allocation, not thread-safe (the caller keeps a
 * shared bucket behind an atomic, relay/quota.c). */
#include <stdint.h>

/* One limit: rate bytes per second, up to burst bytes back to back. */
struct relay_limit {
	uint64_t rate;              /* bytes per second; 0: no limit */
	uint64_t burst_ns;          /* burst / rate, in ns: how far tat may lead now */
};

/* relay_limit_init sets l to rate bytes per second with a burst of burst
 * bytes (rate 0: no limit; burst 0: one second's worth, rate bytes). */
void relay_limit_init(struct relay_limit *l, uint64_t rate, uint64_t burst);

/* relay_bucket_charge returns the tat after reading bytes at time now
 * (CLOCK_MONOTONIC ns) from a bucket whose tat was tat. Saturates at
 * UINT64_MAX. No limit: returns tat unchanged. */
uint64_t relay_bucket_charge(uint64_t tat, const struct relay_limit *l, uint64_t now, uint64_t bytes);

/* relay_bucket_wait_ns returns how long a reader must wait at time now
 * before it may read again: 0 when it may now. */
uint64_t relay_bucket_wait_ns(uint64_t tat, const struct relay_limit *l, uint64_t now);

/* relay_bucket_tokens returns the bytes the bucket would let through back
 * to back at time now (0 when in debt): for tests and reports. */
uint64_t relay_bucket_tokens(uint64_t tat, const struct relay_limit *l, uint64_t now);

#endif
