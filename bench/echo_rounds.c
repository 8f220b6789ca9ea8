/* The core bench's client rounds: see bench/echo_rounds.h. */
#include "bench/echo_rounds.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench/loopback.h"
#include "bench/proc.h"
#include "bench/uring_server.h"

int bench_echo_latency_round(const char *what, uint16_t port, unsigned round_trips, uint64_t *samples,
			     size_t *num)
{
	uint8_t msg[BENCH_CORE_LAT_SIZE], back[BENCH_CORE_LAT_SIZE];
	int fd = bench_loopback_connect(port, BENCH_CORE_IO_TIMEOUT_MS);
	if (fd < 0) {
		fprintf(stderr, "atmosphere-bench core: connect to the %s: %s\n", what, strerror(-fd));
		return -1;
	}
	memset(msg, 'a', sizeof msg);
	uint64_t stop = bench_mono_ns() + (uint64_t)BENCH_CORE_LAT_MAX_MS * 1000000u;
	int rc = 0;
	for (unsigned i = 0; i < BENCH_CORE_LAT_WARMUP + round_trips && bench_mono_ns() < stop; i++) {
		msg[0] = (uint8_t)i;
		uint64_t t0 = bench_mono_ns();
		rc = bench_write_all(fd, msg, sizeof msg);
		if (!rc)
			rc = bench_read_full(fd, back, sizeof back);
		uint64_t t1 = bench_mono_ns();
		if (rc)
			break;
		if (memcmp(back, msg, sizeof msg)) {
			rc = -EBADMSG;
			break;
		}
		if (i >= BENCH_CORE_LAT_WARMUP)
			samples[(*num)++] = t1 - t0;
	}
	shutdown(fd, SHUT_WR);
	if (!rc && recv(fd, back, 1, 0) != 0)
		rc = -EBADMSG; /* the server must close after our FIN, with nothing extra */
	close(fd);
	if (rc) {
		fprintf(stderr, "atmosphere-bench core: latency client against the %s: %s\n", what, strerror(-rc));
		return -1;
	}
	return 0;
}

/* One flow: bytes written to tx come back on rx (the same socket for echo,
 * the far end of a loopback pair for the ceiling). */
struct flow {
	int tx, rx;
	uint64_t sent, rcvd;
	bool tx_done, rx_eof;
};


static int run_flows(struct flow *f, unsigned n, size_t size, uint64_t dur_ms, const uint8_t *src, uint8_t *scratch,
		     struct bench_tput *out)
{
	struct pollfd *p = calloc(2 * (size_t)n, sizeof *p);
	if (!p)
		return -ENOMEM;
	const uint64_t window = (uint64_t)BENCH_CORE_ECHO_WINDOW * size;
	uint64_t t_start = bench_mono_ns();
	uint64_t t_warm = t_start + (uint64_t)BENCH_CORE_WARMUP_MS * 1000000u;
	uint64_t t_end = t_warm + dur_ms * 1000000u;
	uint64_t t_drain = t_end + (uint64_t)BENCH_CORE_DRAIN_MS * 1000000u;
	uint64_t rcvd_warm = 0, cpu_warm = 0, pcpu_warm = 0, rcvd_end = 0, cpu_end = 0, pcpu_end = 0;
	uint64_t t_warm_real = 0, t_end_real = 0;
	bool warm = false, ended = false;
	int rc = 0;
	unsigned open_rx = n;
	while (open_rx && !rc) {
		uint64_t t = bench_mono_ns();
		uint64_t total = 0;
		for (unsigned i = 0; i < n; i++)
			total += f[i].rcvd;
		if (!warm && t >= t_warm) {
			warm = true;
			t_warm_real = t;
			rcvd_warm = total;
			cpu_warm = bench_thread_cpu_ns();
			pcpu_warm = bench_cpu_ns();
		}
		if (!ended && t >= t_end) {
			ended = true;
			rcvd_end = total;
			t_end_real = t;
			cpu_end = bench_thread_cpu_ns();
			pcpu_end = bench_cpu_ns();
			for (unsigned i = 0; i < n; i++) {
				shutdown(f[i].tx, SHUT_WR); /* the echo comes back, then EOF */
				f[i].tx_done = true;
			}
		}
		if (t >= t_drain) {
			rc = -ETIMEDOUT;
			break;
		}
		for (unsigned i = 0; i < n; i++) {
			bool can_send = !f[i].tx_done && f[i].sent - f[i].rcvd < window;
			p[2 * i] = (struct pollfd){.fd = can_send ? f[i].tx : -1, .events = POLLOUT};
			p[2 * i + 1] = (struct pollfd){.fd = f[i].rx_eof ? -1 : f[i].rx, .events = POLLIN};
		}
		if (poll(p, 2 * (nfds_t)n, 100) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		for (unsigned i = 0; i < n && !rc; i++) {
			if (p[2 * i].revents & (POLLOUT | POLLERR | POLLHUP)) {
				uint64_t room = window - (f[i].sent - f[i].rcvd);
				size_t off = (size_t)(f[i].sent % size);
				size_t len = size - off < room ? size - off : (size_t)room;
				ssize_t w = send(f[i].tx, src + off, len, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (w > 0)
					f[i].sent += (uint64_t)w;
				else if (w < 0 && errno != EAGAIN && errno != EINTR)
					rc = -errno;
			}
			if (p[2 * i + 1].revents & (POLLIN | POLLERR | POLLHUP)) {
				ssize_t r = recv(f[i].rx, scratch, BENCH_CORE_RECV_CHUNK, MSG_DONTWAIT);
				if (r > 0) {
					f[i].rcvd += (uint64_t)r;
					if (f[i].rcvd > f[i].sent)
						rc = -EBADMSG; /* more back than we sent */
				} else if (r == 0) {
					f[i].rx_eof = true;
					open_rx--;
					if (!f[i].tx_done || f[i].rcvd != f[i].sent)
						rc = -ECONNRESET; /* closed early, or bytes lost */
				} else if (errno != EAGAIN && errno != EINTR) {
					rc = -errno;
				}
			}
		}
	}
	free(p);
	if (rc)
		return rc;
	if (t_end_real <= t_warm_real)
		return -ETIME; /* the client was starved for the whole window */
	double secs = (double)(t_end_real - t_warm_real) / 1e9;
	out->bytes = rcvd_end - rcvd_warm;
	out->mb_per_s = (double)out->bytes / secs / 1e6;
	out->msgs_per_s = (double)out->bytes / (double)size / secs;
	out->client_cpu = (double)(cpu_end - cpu_warm) / (double)(t_end_real - t_warm_real);
	double msgs = (double)out->bytes / (double)size;
	double server_cpu = (double)(pcpu_end - pcpu_warm) - (double)(cpu_end - cpu_warm);
	out->server_cpu = server_cpu / (double)(t_end_real - t_warm_real);
	out->server_cpu_ns = msgs > 0 ? server_cpu / msgs : 0.0;
	return 0;
}

static void close_flows(struct flow *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (f[i].rx >= 0 && f[i].rx != f[i].tx)
			close(f[i].rx);
		if (f[i].tx >= 0)
			close(f[i].tx);
	}
}

int bench_echo_tput_round(const char *what, uint16_t port, int ceiling_listen_fd, const struct bench_core_opts *o,
			  const uint8_t *src, uint8_t *scratch, struct bench_tput *out)
{
	struct flow *f = calloc(o->conns, sizeof *f);
	int rc = 0;
	if (!f)
		return -1;
	for (unsigned i = 0; i < o->conns; i++)
		f[i].tx = f[i].rx = -1;
	for (unsigned i = 0; i < o->conns; i++) {
		int fd = bench_loopback_connect(port, BENCH_CORE_IO_TIMEOUT_MS);
		if (fd < 0) {
			rc = fd;
			break;
		}
		f[i].tx = f[i].rx = fd;
		if (ceiling_listen_fd >= 0) {
			int a = accept4(ceiling_listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (a < 0) {
				rc = -errno;
				break;
			}
			f[i].rx = a;
		}
	}
	if (!rc)
		rc = run_flows(f, o->conns, o->size, o->duration_ms, src, scratch, out);
	close_flows(f, o->conns);
	free(f);
	if (rc) {
		fprintf(stderr, "atmosphere-bench core: throughput client against the %s: %s\n", what, strerror(-rc));
		return -1;
	}
	return 0;
}

struct bench_tput bench_tput_median(const struct bench_tput *t)
{
	size_t idx[BENCH_CORE_ROUNDS];
	for (size_t i = 0; i < BENCH_CORE_ROUNDS; i++)
		idx[i] = i;
	for (size_t i = 1; i < BENCH_CORE_ROUNDS; i++) /* insertion sort of three */
		for (size_t j = i; j > 0 && t[idx[j]].mb_per_s < t[idx[j - 1]].mb_per_s; j--) {
			size_t x = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = x;
		}
	return t[idx[BENCH_CORE_ROUNDS / 2]];
}

int bench_blast_round(uint16_t port, uint32_t size, uint32_t ms, uint8_t *scratch, double *out_mbps)
{
	struct bench_blast_req req = {.size = size, .ms = ms};
	int fd = bench_loopback_connect(port, BENCH_CORE_IO_TIMEOUT_MS);
	if (fd < 0)
		return fd;
	int rc = bench_write_all(fd, &req, sizeof req);
	uint64_t stop = bench_mono_ns() + ((uint64_t)ms + BENCH_CORE_DRAIN_MS) * 1000000u;
	uint64_t bytes = 0, t_first = 0, t_last = 0;
	struct timeval tv = {.tv_sec = 1};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	while (!rc) {
		if (bench_mono_ns() >= stop) {
			rc = -ETIMEDOUT;
			break;
		}
		ssize_t r = recv(fd, scratch, BENCH_CORE_RECV_CHUNK, 0);
		if (r > 0) {
			if (!bytes)
				t_first = bench_mono_ns();
			bytes += (uint64_t)r;
		} else if (r == 0) {
			t_last = bench_mono_ns();
			break;
		} else if (errno != EINTR && errno != EAGAIN) {
			rc = -errno;
		}
	}
	shutdown(fd, SHUT_WR);
	close(fd);
	if (rc)
		return rc;
	if (!bytes || t_last <= t_first)
		return -ENODATA;
	*out_mbps = (double)bytes / ((double)(t_last - t_first) / 1e9) / 1e6;
	return 0;
}
