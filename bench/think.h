#ifndef BENCH_THINK_H
#define BENCH_THINK_H
/* bench/think.h: think time (--think), a per-session pause between
 * messages, k6/Locust style, inside the open-loop schedule.
 *
 * Semantics. --rate stays the per-session rate; think time is *added* after
 * each message: a session that sent the message scheduled at t0 would send
 * its next one at t1 (the next slot of its schedule, 1/--rate later, or the
 * next one --rate-stage lets through); with think time it pauses THINK from
 * t1 on and sends the first message of its schedule at or after t1 + THINK.
 * So the gap between two messages of a session is 1/rate + THINK, rounded
 * up to the schedule's slots, and a session's rate is about
 * 1 / (1/rate + THINK). The pause always starts at the next slot the session
 * would send: one that --stage held back, or a rate level of 0, pauses once
 * when it may send again, as a user who just arrived thinks first. The messages inside a pause are skipped, never
 * delayed: every message that goes keeps the send time its schedule fixed in
 * advance and its latency is measured from that time (bench/sched.h), so
 * think time does not bring coordinated omission back. Unlike a closed loop
 * the pause does not wait for the previous message to arrive: a slow relay
 * shows as latency, not as fewer messages.
 *
 * THINK is a distribution in --size's syntax (bench/scenario.h), in whole
 * milliseconds from 0 to BENCH_THINK_MAX_MS: "2s", "500ms-3s",
 * "0:50,1s:40,10s:10". Each pause draws its own from the session's
 * splitmix64 stream (bench_think_seed: --seed and the session's index, a
 * stream apart from the size draws), so the pauses are the same on every
 * run whatever the threads. "0" turns think time off.
 *
 * The schedule's times are rounded down to whole ns, but a THINK that is a
 * whole number k of slots still ends exactly on slot k: THINK is whole ms,
 * and floor(x + THINK) = floor(x) + THINK. Pure: no I/O, no allocation; a
 * take is a few integer operations. */
#include <stdbool.h>
#include <stdint.h>

#include "bench/scenario.h"

/* Longest think time: an hour. */
#define BENCH_THINK_MAX_MS 3600000u

/* struct bench_think_state: one session's place in its pauses. Caller
 * storage, set up by bench_think_init. */
struct bench_think_state {
	uint64_t rng;         /* the session's stream of think times */
	uint64_t resume_ns;   /* the pause in progress ends here */
	bool armed;           /* a message went: the next slot starts a pause */
};

/* bench_think_parse reads --think's value into *out (milliseconds; see
 * above). Returns 0, or -1 with the reason, quoting the bad part, in errbuf;
 * *out is written only on success. */
int bench_think_parse(const char *s, struct bench_size_dist *out, char *errbuf, size_t errbuf_len);

/* bench_think_on says whether d pauses at all (some draw above 0). */
bool bench_think_on(const struct bench_size_dist *d);

/* bench_think_init readies *st for session k of a run seeded with seed. */
void bench_think_init(struct bench_think_state *st, uint64_t seed, uint64_t k);

/* bench_think_take says whether the message scheduled at sched_ns, one the
 * session would otherwise send, goes (true) or falls in a pause (false).
 * Calls come in schedule order, one per such message. Draws one think time
 * from st's stream at the first call after a message went. */
bool bench_think_take(const struct bench_size_dist *d, struct bench_think_state *st, uint64_t sched_ns);

/* bench_think_mean_ms returns the expected think time, for reports. */
double bench_think_mean_ms(const struct bench_size_dist *d);

#endif
