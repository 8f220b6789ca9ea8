#ifndef BENCH_ECHO_ROUNDS_H
#define BENCH_ECHO_ROUNDS_H
/* bench/echo_rounds.h: the client side of `atmosphere-bench core`, one
 * measured round at a time, against any echo or blast server on 127.0.0.1.
 *
 * - Latency: BENCH_CORE_LAT_SIZE-byte ping-pongs on one new connection,
 *   each timed, after BENCH_CORE_LAT_WARMUP untimed ones.
 * - Throughput: N connections each keeping BENCH_CORE_ECHO_WINDOW messages
 *   in flight, driven by one poll loop on this thread: warm-up
 *   (BENCH_CORE_WARMUP_MS), the measured window, then a drain in which every
 *   byte must come back (BENCH_CORE_DRAIN_MS). Besides msgs/s, the server's
 *   CPU time per message (process CPU minus this thread's) compares servers
 *   even when the client is the limit.
 * - Blast: reads what a blast server (uring_server.h) sends, MB/s from the
 *   first byte to EOF.
 *
 * Each function runs to completion on the calling thread, bounded by a
 * count and a deadline. */
#include <stddef.h>
#include <stdint.h>

#include "bench/core_opts.h"
#include "bench/stats.h"

/* bench_echo_latency_round appends round_trips timed samples (ns) to
 * samples[*num..] (room for them is the caller's) from a new connection to
 * port. what names the server in messages. Returns 0, or -1 after printing
 * why (an I/O error, a byte that did not come back as sent, a server that
 * does not close after our FIN). */
int bench_echo_latency_round(const char *what, uint16_t port, unsigned round_trips, uint64_t *samples,
			     size_t *num);

/* struct bench_tput: one throughput round. */
struct bench_tput {
	double msgs_per_s, mb_per_s;
	double client_cpu;      /* share of one CPU the client thread used */
	double server_cpu;      /* share of a CPU the rest of the process (the server) used */
	double server_cpu_ns;   /* the same CPU time per echoed message */
	uint64_t bytes;         /* in the measured window */
};

/* bench_echo_tput_round runs o->conns connections of o->size-byte messages
 * for o->duration_ms against the echo server on port. With
 * ceiling_listen_fd >= 0, port is a bare listener whose accepted sockets
 * this thread reads itself (no server: the client's ceiling). src holds
 * o->size bytes to send, scratch BENCH_CORE_RECV_CHUNK bytes to receive
 * into. Returns 0, or -1 after printing why. */
int bench_echo_tput_round(const char *what, uint16_t port, int ceiling_listen_fd, const struct bench_core_opts *o,
			  const uint8_t *src, uint8_t *scratch, struct bench_tput *out);

/* bench_tput_median returns the round with the median MB/s of
 * t[0..BENCH_CORE_ROUNDS). */
struct bench_tput bench_tput_median(const struct bench_tput *t);

/* bench_blast_round asks the blast server on port for size-byte messages
 * for ms and writes the MB/s received to *out_mbps. scratch holds
 * BENCH_CORE_RECV_CHUNK bytes. Returns 0 or -errno (-ENODATA: nothing
 * came). */
int bench_blast_round(uint16_t port, uint32_t size, uint32_t ms, uint8_t *scratch, double *out_mbps);

#endif
