#ifndef TESTS_HELPERS_H
#define TESTS_HELPERS_H
/* Shared test helpers (t_ prefix). No sleeps as synchronisation: t_wait_until
 * polls a condition with a deadline. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* t_now_ns returns CLOCK_MONOTONIC in nanoseconds. */
uint64_t t_now_ns(void);

/* t_count_fds returns the number of open descriptors of this process. */
int t_count_fds(void);

/* t_rss_kib returns this process's resident set size in KiB (from /proc). */
long t_rss_kib(void);

/* t_wait_until polls cond(arg) every ms until it is true or timeout_ms passes;
 * returns whether it became true. */
bool t_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms);

/* t_listen_tcp / t_bind_udp bind 127.0.0.1 port 0 and return the fd; the
 * chosen port goes to *out_port. Abort the test on failure. */
int t_listen_tcp(uint16_t *out_port);
int t_bind_udp(uint16_t *out_port);

/* t_connect_tcp returns a blocking socket connected to 127.0.0.1:port. */
int t_connect_tcp(uint16_t port);

/* t_read_full reads exactly len bytes (blocking), returns 0 or -errno. */
int t_read_full(int fd, void *buf, size_t len);


/* Runtime harness: runs core_rt_run(main_fn, arg) on a background thread so
 * the test thread can act as a blocking client. */
#include <pthread.h>
#include "core/reactor.h"
struct t_rt {
	struct core_rt *rt;
	pthread_t thread;
	int ret;
	core_task_fn fn;
	void *arg;
};
/* t_rt_start creates the runtime (NULL opts: 2 threads) and starts it. */
void t_rt_start(struct t_rt *t, const struct core_rt_opts *opts, core_task_fn fn, void *arg);
/* t_rt_stop asks for shutdown, joins, frees; returns core_rt_run's result. */
int t_rt_stop(struct t_rt *t);
/* t_rt_join waits for the runtime to end by itself, frees; returns its result. */
int t_rt_join(struct t_rt *t);

#endif
