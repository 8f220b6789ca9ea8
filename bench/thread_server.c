/* The blocking thread-per-connection echo baseline: see
 * bench/thread_server.h. */
#include "bench/thread_server.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench/core_opts.h"
#include "bench/loopback.h"
#include "bench/placement.h"

struct conn {
	struct bench_thread_server *srv;
	int fd;
};

static void *conn_main(void *arg)
{
	struct conn pc = *(struct conn *)arg;
	free(arg);
	struct timeval tv = {.tv_sec = BENCH_CORE_IO_TIMEOUT_MS / 1000};
	setsockopt(pc.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(pc.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	bench_set_nodelay(pc.fd);
	uint8_t *buf = malloc(64 * 1024);
	if (!buf) {
		bench_failure_note(&pc.srv->fail, "malloc", -ENOMEM);
		close(pc.fd);
		return NULL;
	}
	for (;;) {
		ssize_t n = recv(pc.fd, buf, 64 * 1024, 0);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			bench_failure_note(&pc.srv->fail, "recv", -errno);
			break;
		}
		int rc = bench_write_all(pc.fd, buf, (size_t)n);
		if (rc) {
			bench_failure_note(&pc.srv->fail, "send", rc);
			break;
		}
	}
	free(buf);
	close(pc.fd);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct bench_thread_server *srv = arg;
	for (unsigned i = 0; i < srv->expect; i++) {
		struct pollfd p = {.fd = srv->listen_fd, .events = POLLIN};
		int rc = poll(&p, 1, BENCH_CORE_ACCEPT_TIMEOUT_MS);
		if (rc <= 0) {
			bench_failure_note(&srv->fail, "accept (no client within the timeout)", rc < 0 ? -errno : -ETIMEDOUT);
			return NULL;
		}
		int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			bench_failure_note(&srv->fail, "accept", -errno);
			return NULL;
		}
		struct conn *pc = malloc(sizeof *pc);
		if (!pc) {
			close(fd);
			bench_failure_note(&srv->fail, "malloc", -ENOMEM);
			return NULL;
		}
		pc->srv = srv;
		pc->fd = fd;
		rc = bench_spawn_pinned(&srv->conn_threads[srv->num_threads], conn_main, pc, srv->cpu);
		if (rc) {
			free(pc);
			close(fd);
			bench_failure_note(&srv->fail, "pthread_create", rc);
			return NULL;
		}
		srv->num_threads++;
	}
	return NULL;
}

int bench_thread_server_init(struct bench_thread_server *srv, int cpu)
{
	memset(srv, 0, sizeof *srv);
	srv->cpu = cpu;
	srv->listen_fd = bench_loopback_listen(&srv->port);
	if (srv->listen_fd < 0) {
		fprintf(stderr, "atmosphere-bench core: blocking server: listen on 127.0.0.1: %s\n",
			strerror(-srv->listen_fd));
		return -1;
	}
	srv->conn_threads = calloc(BENCH_CORE_CONNS_MAX, sizeof *srv->conn_threads);
	if (!srv->conn_threads) {
		close(srv->listen_fd);
		return -1;
	}
	return 0;
}

int bench_thread_server_round(struct bench_thread_server *srv, unsigned expect)
{
	srv->expect = expect;
	srv->num_threads = 0;
	int rc = bench_spawn_pinned(&srv->acceptor, accept_main, srv, srv->cpu);
	if (rc) {
		fprintf(stderr, "atmosphere-bench core: blocking server: pthread_create: %s\n", strerror(-rc));
		return -1;
	}
	srv->accepting = true;
	return 0;
}

void bench_thread_server_join(struct bench_thread_server *srv)
{
	if (!srv->accepting)
		return;
	pthread_join(srv->acceptor, NULL);
	for (unsigned i = 0; i < srv->num_threads; i++)
		pthread_join(srv->conn_threads[i], NULL);
	srv->accepting = false;
}

void bench_thread_server_cleanup(struct bench_thread_server *srv)
{
	bench_thread_server_join(srv);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	free(srv->conn_threads);
}
