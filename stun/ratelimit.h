#ifndef STUN_RATELIMIT_H
#define STUN_RATELIMIT_H
/* stun/ratelimit.h: per-source request limits for the STUN server.
 *
 * Why: a Binding response is 3-5 times the size of the request, so an open
 * STUN server is a reflector; and one busy source must not starve the rest.
 *
 * Design: GCRA (the token bucket written as one "theoretical arrival time"
 * per source) in a fixed open-addressed table, as
 * WireGuard/wireguard-linux-compat: src/ratelimiter.c keeps one per source,
 * but with no allocation after creation and no timer: an entry whose bucket
 * has refilled is indistinguishable from a fresh one, so it is free for
 * reuse. The table is hashed with SipHash-2-4 under a random key (a stranger
 * cannot aim sources at one chain). A lookup probes at most
 * STUN_RL_PROBES slots; when all are busy the entry nearest to a full bucket
 * is evicted (its source briefly gets a fresh bucket: the error is in the
 * stranger's favour, bounded by one burst per eviction).
 *
 * Sources are IPv4 addresses, or IPv6 /64 prefixes (one IPv6 host usually
 * owns a /64, so counting /128s would let it multiply its budget).
 *
 * Cost: one SipHash of 17 bytes and up to 8 cache-line reads per check;
 * STUN_RL_SLOTS x 32 bytes (128 KiB) per table. One table per reactor
 * thread: not thread-safe, nothing suspends. */
#include <stdbool.h>
#include <stdint.h>

#include "stun/addr.h"

/* Limits: named here so every bound a stranger can push on is in one place. */
enum {
	STUN_RL_SLOTS = 4096, /* sources tracked per table (power of two) */
	STUN_RL_PROBES = 8,   /* slots examined per lookup */
};

struct stun_ratelimit;

/* stun_ratelimit_new returns a table allowing each source rate requests per
 * second on average and burst back to back (burst >= 1). rate 0 means no
 * limit (every check passes without touching the table). Returns NULL and
 * sets *err to -ENOMEM or -EINVAL (burst 0 with a rate). */
struct stun_ratelimit *stun_ratelimit_new(uint32_t rate, uint32_t burst, int *err);

/* stun_ratelimit_allow charges one request from src at time now_ns
 * (CLOCK_MONOTONIC) and returns whether it is within the limit. A denied
 * request is not charged. Never fails. */
bool stun_ratelimit_allow(struct stun_ratelimit *rl, const struct stun_addr *src, uint64_t now_ns);

/* stun_ratelimit_evictions returns how many tracked sources were evicted
 * because their probe window was full (for stats). */
uint64_t stun_ratelimit_evictions(const struct stun_ratelimit *rl);

/* stun_ratelimit_free frees rl. NULL is a no-op. */
void stun_ratelimit_free(struct stun_ratelimit *rl);

#endif
