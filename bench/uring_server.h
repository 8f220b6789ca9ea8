#ifndef BENCH_URING_SERVER_H
#define BENCH_URING_SERVER_H
/* bench/uring_server.h: the io_uring servers `atmosphere-bench core`
 * measures: a runtime with one reactor thread (core/reactor.h) listening on
 * 127.0.0.1, one coroutine per connection.
 *
 * - echo: forwards each received lease with core_sock_send (no copy) until
 *   the client's EOF.
 * - blast: reads a struct bench_blast_req, then sends req.size-byte messages
 *   from one buffer for req.ms, shuts its side down and closes after the
 *   client's FIN. With zc_threshold 1 every send is SEND_ZC, and returns
 *   only at the zero-copy notification; with UINT32_MAX none is.
 *
 * Every read and write is bounded by BENCH_CORE_IO_TIMEOUT_MS, a blast by
 * BENCH_CORE_BLAST_MAX_MSGS and its deadline. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bench/failure.h"
#include "core/reactor.h"

enum bench_uring_kind {
	BENCH_URING_ECHO,
	BENCH_URING_BLAST,
};

/* struct bench_blast_req: what a blast client asks for, in host order (the
 * client is this process). size is 1..BENCH_CORE_MSG_SIZE_MAX, ms at most
 * BENCH_CORE_ZC_MS_MAX. */
struct bench_blast_req {
	uint32_t size;
	uint32_t ms;
};

/* struct bench_uring_server: caller storage, filled by _start; read port,
 * the rest is the server's. */
struct bench_uring_server {
	const char *name;           /* for messages; borrowed */
	uint16_t port;              /* where it listens on 127.0.0.1 */
	enum bench_uring_kind kind;
	struct core_rt *rt;
	pthread_t thread;
	bool running;
	int listen_fd;
	int run_ret;
	uint8_t *blast_buf;         /* BENCH_CORE_MSG_SIZE_MAX bytes the blast handler sends from */
	atomic_uint accepted, served;
	struct bench_failure fail;
	struct core_listener *l;
	struct core_shutdown_hook hook;
};

/* bench_uring_server_start starts a one-reactor runtime serving kind on a
 * thread born on cpu (-1: anywhere), with the runtime's zc_threshold.
 * Returns 0, or -1 after printing why (io_uring unavailable: the cause and
 * the fix); nothing is left to stop then. */
int bench_uring_server_start(struct bench_uring_server *srv, const char *name, enum bench_uring_kind kind,
			     unsigned zc_threshold, int cpu);

/* bench_uring_server_stop waits (up to BENCH_CORE_STOP_TIMEOUT_MS) for every
 * connection to end, shuts the runtime down and checks it did so cleanly,
 * then frees everything. Returns 0, or -1 when the server failed (reported
 * to stderr). Does nothing for a server not running. */
int bench_uring_server_stop(struct bench_uring_server *srv);

#endif
