#ifndef BENCH_THREAD_SERVER_H
#define BENCH_THREAD_SERVER_H
/* bench/thread_server.h: the baseline `atmosphere-bench core` compares the
 * reactor with: a blocking echo server on 127.0.0.1 with one thread per
 * connection (recv, then send all of it back). It works in rounds: each
 * accepts a known number of connections on an acceptor thread, and the
 * round ends when all of them have closed. Every wait is bounded
 * (BENCH_CORE_ACCEPT_TIMEOUT_MS, BENCH_CORE_IO_TIMEOUT_MS); a round holds
 * at most BENCH_CORE_CONNS_MAX connections. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bench/failure.h"

/* struct bench_thread_server: caller storage, set up by _init; read port,
 * listen_fd (to accept on it directly between rounds) and fail. */
struct bench_thread_server {
	int listen_fd;
	uint16_t port;
	int cpu;
	unsigned expect;              /* connections this round accepts, then stops */
	pthread_t acceptor;
	bool accepting;
	pthread_t *conn_threads;
	unsigned num_threads;
	struct bench_failure fail;
};

/* bench_thread_server_init listens on 127.0.0.1; threads will be born on
 * cpu (-1: anywhere). Returns 0, or -1 after printing why. */
int bench_thread_server_init(struct bench_thread_server *srv, int cpu);

/* bench_thread_server_round accepts the next expect connections (at most
 * BENCH_CORE_CONNS_MAX) on a thread of their own. Returns 0, or -1 after
 * printing why. */
int bench_thread_server_round(struct bench_thread_server *srv, unsigned expect);

/* bench_thread_server_join joins the round's threads (they end at their
 * client's EOF or I/O timeout); failures are left in srv->fail. */
void bench_thread_server_join(struct bench_thread_server *srv);

/* bench_thread_server_cleanup joins any round left and frees everything. */
void bench_thread_server_cleanup(struct bench_thread_server *srv);

#endif
