#ifndef BENCH_STUN_FLOOD_H
#define BENCH_STUN_FLOOD_H
/* bench/stun_flood.h: the garbage sender of `atmosphere-bench stun
 * --garbage-rate` (issue 3: a flood of garbage must not slow valid requests
 * much).
 *
 * Design: a pool of pre-built malformed datagrams (bench/stun_probe.h, the
 * six kinds in equal numbers, cycled in turn), sent with sendmmsg from
 * BENCH_STUN_FLOOD_SOCKETS sockets of their own (other source ports than the
 * valid load), connected to the server so a send needs no route lookup. The
 * sockets are plain non-blocking fds outside the reactor: they never take a
 * datagram buffer from the valid load's ring, and their receive buffer is
 * the kernel's minimum, so the 420 answers to the unknown-attribute kind
 * are dropped by the kernel instead of read. Pacing is the caller's.
 *
 * Cost: one sendmmsg per batch of up to BENCH_STUN_FLOOD_BATCH; the pool is
 * BENCH_STUN_FLOOD_POOL x 4000 bytes (~380 KiB), allocated once. */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bench/stun_probe.h"

enum {
	BENCH_STUN_FLOOD_SOCKETS = 8,
	BENCH_STUN_FLOOD_POOL = 16 * BENCH_STUN_GARBAGE_KINDS,
	BENCH_STUN_FLOOD_BATCH = 16,
};

/* struct bench_stun_flood: caller storage; bench_stun_flood_init fills it. */
struct bench_stun_flood {
	int fds[BENCH_STUN_FLOOD_SOCKETS];
	uint8_t *pool;                      /* BENCH_STUN_FLOOD_POOL x BENCH_STUN_GARBAGE_MAX */
	size_t lens[BENCH_STUN_FLOOD_POOL];
	unsigned next;                      /* next pool entry (its kind: next % KINDS) */
	unsigned next_fd;
	uint64_t sent, send_errors, bytes;
	uint64_t sent_kind[BENCH_STUN_GARBAGE_KINDS];
};

/* bench_stun_flood_init builds the pool from seed and opens the sockets,
 * bound to the wildcard of to's family and connected to to. Returns 0 or
 * -errno; on failure f holds nothing to clean up. Does not suspend. */
int bench_stun_flood_init(struct bench_stun_flood *f, const struct sockaddr *to, socklen_t to_len, uint64_t seed);

/* bench_stun_flood_send sends the next n (capped at BENCH_STUN_FLOOD_BATCH)
 * datagrams of the pool with one sendmmsg, never blocking. Returns how many
 * the kernel took; the others are counted in f->send_errors. */
unsigned bench_stun_flood_send(struct bench_stun_flood *f, unsigned n);

/* bench_stun_flood_cleanup closes the sockets and frees the pool. */
void bench_stun_flood_cleanup(struct bench_stun_flood *f);

#endif
