#ifndef BENCH_SCHED_H
#define BENCH_SCHED_H
/* bench/sched.h: fixed-rate send schedules, and latency measured from them.
 *
 * Coordinated omission (Gil Tene, "How NOT to measure latency"): a load
 * generator that sends its next message only once the previous one has gone
 * out stops sending while the server stalls, so a stall of S seconds shows
 * as one slow sample instead of the R*S messages that should have been sent
 * meanwhile, and the high percentiles come out far too good. The cure used
 * here is wrk2's: every message has a scheduled send time fixed in advance by
 * the rate (start + i/rate); the sender sends each at or after that time (one
 * that fell behind sends the overdue ones back to back); and a message's
 * latency is its arrival time minus its *scheduled* time, never minus the
 * time it actually left. A stall of S seconds at rate R then contributes R*S
 * samples spread over (0, S], as a user sending at that rate would see.
 *
 * The load generator runs many sessions from one schedule per thread: event j
 * of a thread with n sessions is message j / n of session j % n, so each
 * session sends at rate/n, the sessions' sends are staggered evenly, and one
 * pacer serves them all.
 *
 * Arithmetic is integer nanoseconds with 128-bit intermediates: exact, no
 * drift however long the run, as long as the times themselves fit in 64 bits
 * (584 years of CLOCK_MONOTONIC). */
#include <stdint.h>

/* BENCH_SCHED_MAX_RATE: a pacer cannot release more than this per second
 * anyway (100 ns per message), and it keeps rates in 32 bits. */
#define BENCH_SCHED_MAX_RATE 10000000u

/* struct bench_sched: a schedule of messages at a fixed rate. Caller
 * storage; rate must be 1..BENCH_SCHED_MAX_RATE messages per second. */
struct bench_sched {
	uint64_t start_ns;      /* scheduled time of message 0 */
	uint64_t rate;          /* messages per second */
};

/* bench_sched_time returns the scheduled send time of message i:
 * start_ns + floor(i * 10^9 / rate). Non-decreasing in i. */
uint64_t bench_sched_time(const struct bench_sched *s, uint64_t i);

/* bench_sched_due returns how many messages are due at now_ns, that is the
 * number of i with bench_sched_time(s, i) <= now_ns (0 before the start).
 * bench_sched_due(s, bench_sched_time(s, i)) > i for every i. */
uint64_t bench_sched_due(const struct bench_sched *s, uint64_t now_ns);

/* bench_sched_latency returns arrival_ns - sched_ns, the coordinated-omission
 * corrected latency of a message scheduled at sched_ns; 0 when the arrival is
 * not after the schedule (impossible with one monotonic clock, but a stamp
 * is peer input). */
uint64_t bench_sched_latency(uint64_t sched_ns, uint64_t arrival_ns);

#endif
