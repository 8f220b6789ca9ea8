/* The io_uring echo and blast servers of `atmosphere-bench core`: see
 * bench/uring_server.h. */
#include "bench/uring_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/core_opts.h"
#include "bench/loopback.h"
#include "bench/placement.h"
#include "bench/proc.h"
#include "core/buf.h"
#include "core/sock.h"

/* What a connection's coroutine is given; it frees it. */
struct conn_arg {
	struct bench_uring_server *srv;
	int fd;
};

/* Echo: forwards every received lease back until the client's EOF. */
static void serve_echo(struct bench_uring_server *srv, struct core_sock *s)
{
	bench_set_nodelay(core_sock_fd(s));
	for (;;) {
		struct core_buf b;
		int n = core_sock_recv(s, &b, BENCH_CORE_IO_TIMEOUT_MS);
		if (n == 0)
			break;
		if (n < 0) {
			bench_failure_note(&srv->fail, "core_sock_recv", n);
			break;
		}
		/* Forward the lease itself: no copy, released once the send is done. */
		int w = core_sock_send(s, b.data, b.len, BENCH_CORE_IO_TIMEOUT_MS);
		core_buf_release(&b);
		if (w < 0) {
			bench_failure_note(&srv->fail, "core_sock_send", w);
			break;
		}
	}
}

/* Blast: reads the request, sends until its deadline, then waits for the
 * client's FIN. */
static void serve_blast(struct bench_uring_server *srv, struct core_sock *s)
{
	struct bench_blast_req req;
	size_t have = 0;
	while (have < sizeof req) {
		struct core_buf b = {.gid = CORE_BUF_NONE};
		int n = core_sock_recv(s, &b, BENCH_CORE_IO_TIMEOUT_MS);
		if (n <= 0 || b.len > sizeof req - have) {
			bench_failure_note(&srv->fail, "blast request", n < 0 ? n : 0);
			core_buf_release(&b);
			return;
		}
		memcpy((uint8_t *)&req + have, b.data, b.len);
		have += b.len;
		core_buf_release(&b);
	}
	if (req.size == 0 || req.size > BENCH_CORE_MSG_SIZE_MAX || req.ms > BENCH_CORE_ZC_MS_MAX) {
		bench_failure_note(&srv->fail, "blast request", -EINVAL);
		return;
	}
	/* core_now_ns is refreshed every loop iteration, and every send suspends. */
	uint64_t deadline = core_now_ns() + (uint64_t)req.ms * 1000000u;
	for (unsigned i = 0; i < BENCH_CORE_BLAST_MAX_MSGS && core_now_ns() < deadline; i++) {
		int w = core_sock_send(s, srv->blast_buf, req.size, BENCH_CORE_IO_TIMEOUT_MS);
		if (w < 0) {
			bench_failure_note(&srv->fail, "core_sock_send", w);
			return;
		}
	}
	core_sock_shutdown_write(s);
	/* Close after the client's FIN, so nothing it sent is left to reset. */
	struct core_buf b = {.gid = CORE_BUF_NONE};
	int n = core_sock_recv(s, &b, BENCH_CORE_IO_TIMEOUT_MS);
	if (n != 0) {
		bench_failure_note(&srv->fail, "blast close", n < 0 ? n : 0);
		if (n > 0)
			core_buf_release(&b);
	}
}

/* A connection's coroutine: owns the descriptor, serves it by the
 * server's kind, closes it and counts it served. */
static void conn_main(void *arg)
{
	struct conn_arg ca = *(struct conn_arg *)arg;
	struct bench_uring_server *srv = ca.srv;
	int err = 0;
	free(arg);
	struct core_sock *s = core_sock_new(ca.fd, &err);
	if (!s) {
		bench_failure_note(&srv->fail, "core_sock_new", err);
	} else {
		if (srv->kind == BENCH_URING_BLAST)
			serve_blast(srv, s);
		else
			serve_echo(srv, s);
		core_sock_close(s);
	}
	atomic_fetch_add(&srv->served, 1);
}

static void server_interrupt(void *arg)
{
	struct bench_uring_server *srv = arg;
	core_listener_interrupt(srv->l);
}

static void server_main(void *arg)
{
	struct bench_uring_server *srv = arg;
	int err = 0;
	srv->l = core_listener_new(srv->listen_fd, &err);
	srv->listen_fd = -1; /* the listener owns it now, or closed it */
	if (!srv->l) {
		bench_failure_note(&srv->fail, "core_listener_new", err);
		return;
	}
	core_on_shutdown(&srv->hook, server_interrupt, srv);
	for (;;) {
		int fd = core_listener_accept(srv->l, -1);
		if (fd == -ECANCELED)
			break;
		if (fd < 0) {
			bench_failure_note(&srv->fail, "core_listener_accept", fd);
			break;
		}
		struct conn_arg *ca = malloc(sizeof *ca);
		if (!ca) {
			close(fd);
			bench_failure_note(&srv->fail, "malloc", -ENOMEM);
			continue;
		}
		ca->srv = srv;
		ca->fd = fd;
		atomic_fetch_add(&srv->accepted, 1);
		int rc = core_spawn(conn_main, ca);
		if (rc < 0) {
			free(ca);
			close(fd);
			atomic_fetch_add(&srv->served, 1);
			bench_failure_note(&srv->fail, "core_spawn", rc);
		}
	}
	core_shutdown_hook_remove(&srv->hook);
	core_listener_close(srv->l);
	srv->l = NULL;
}

static void *server_thread(void *arg)
{
	struct bench_uring_server *srv = arg;
	srv->run_ret = core_rt_run(srv->rt, server_main, srv);
	return NULL;
}

int bench_uring_server_start(struct bench_uring_server *srv, const char *name, enum bench_uring_kind kind,
			     unsigned zc_threshold, int cpu)
{
	struct core_rt_opts o = {.num_threads = 1, .zc_threshold = zc_threshold};
	int err = 0;
	memset(srv, 0, sizeof *srv);
	srv->name = name;
	srv->kind = kind;
	srv->listen_fd = bench_loopback_listen(&srv->port);
	if (srv->listen_fd < 0) {
		fprintf(stderr, "atmosphere-bench core: %s: listen on 127.0.0.1: %s\n", name, strerror(-srv->listen_fd));
		return -1;
	}
	if (kind == BENCH_URING_BLAST) {
		srv->blast_buf = malloc(BENCH_CORE_MSG_SIZE_MAX);
		if (!srv->blast_buf)
			goto nomem;
		for (size_t i = 0; i < BENCH_CORE_MSG_SIZE_MAX; i++)
			srv->blast_buf[i] = (uint8_t)(i * 7u);
	}
	srv->rt = core_rt_new(&o, &err);
	if (!srv->rt) {
		fprintf(stderr, "atmosphere-bench core: %s: cannot start the io_uring runtime: %s\n", name,
			core_rt_explain(err));
		goto fail;
	}
	err = bench_spawn_pinned(&srv->thread, server_thread, srv, cpu);
	if (err) {
		fprintf(stderr, "atmosphere-bench core: %s: pthread_create: %s\n", name, strerror(-err));
		goto fail;
	}
	srv->running = true;
	return 0;
nomem:
	fprintf(stderr, "atmosphere-bench core: %s: out of memory\n", name);
fail:
	core_rt_free(srv->rt);
	srv->rt = NULL;
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	free(srv->blast_buf);
	srv->blast_buf = NULL;
	return -1;
}

int bench_uring_server_stop(struct bench_uring_server *srv)
{
	if (!srv->running)
		return 0;
	uint64_t deadline = bench_mono_ns() + (uint64_t)BENCH_CORE_STOP_TIMEOUT_MS * 1000000u;
	while (atomic_load(&srv->served) != atomic_load(&srv->accepted) && bench_mono_ns() < deadline) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL); /* polling a condition with a deadline, not a synchronisation */
	}
	unsigned left = atomic_load(&srv->accepted) - atomic_load(&srv->served);
	core_rt_shutdown(srv->rt);
	pthread_join(srv->thread, NULL);
	srv->running = false;
	bool bad = bench_failure_report(&srv->fail, srv->name);
	if (left) {
		fprintf(stderr, "atmosphere-bench core: %s: %u connection(s) still open %d ms after the clients left\n",
			srv->name, left, BENCH_CORE_STOP_TIMEOUT_MS);
		bad = true;
	}
	if (srv->run_ret) {
		fprintf(stderr, "atmosphere-bench core: %s: core_rt_run: %s\n", srv->name, strerror(-srv->run_ret));
		bad = true;
	}
	if (core_rt_abandoned(srv->rt)) {
		fprintf(stderr, "atmosphere-bench core: %s: %u coroutine(s) abandoned at shutdown\n", srv->name,
			core_rt_abandoned(srv->rt));
		bad = true;
	}
	core_rt_free(srv->rt);
	srv->rt = NULL;
	free(srv->blast_buf);
	srv->blast_buf = NULL;
	return bad ? -1 : 0;
}
