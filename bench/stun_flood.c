/* bench/stun_flood.c: the garbage sender (see bench/stun_flood.h). */
#include "bench/stun_flood.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bench_stun_flood_init(struct bench_stun_flood *f, const struct sockaddr *to, socklen_t to_len, uint64_t seed)
{
	int rc = 0;
	memset(f, 0, sizeof *f);
	for (unsigned i = 0; i < BENCH_STUN_FLOOD_SOCKETS; i++)
		f->fds[i] = -1;
	f->pool = malloc((size_t)BENCH_STUN_FLOOD_POOL * BENCH_STUN_GARBAGE_MAX);
	if (!f->pool) {
		rc = -ENOMEM;
		goto fail;
	}
	uint64_t rng = seed | 1;
	for (unsigned i = 0; i < BENCH_STUN_FLOOD_POOL; i++)
		f->lens[i] = bench_stun_garbage(f->pool + (size_t)i * BENCH_STUN_GARBAGE_MAX, BENCH_STUN_GARBAGE_MAX,
						(enum bench_stun_garbage)(i % BENCH_STUN_GARBAGE_KINDS), &rng);
	for (unsigned i = 0; i < BENCH_STUN_FLOOD_SOCKETS; i++) {
		int fd = socket(to->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rc = -errno;
			goto fail;
		}
		f->fds[i] = fd;
		/* The kernel's minimum: answers (420s) are dropped, not queued. */
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof one);
		if (connect(fd, to, to_len) != 0) {
			rc = -errno;
			goto fail;
		}
	}
	return 0;
fail:
	bench_stun_flood_cleanup(f);
	return rc;
}

unsigned bench_stun_flood_send(struct bench_stun_flood *f, unsigned n)
{
	struct mmsghdr mm[BENCH_STUN_FLOOD_BATCH];
	struct iovec iov[BENCH_STUN_FLOOD_BATCH];
	unsigned idx[BENCH_STUN_FLOOD_BATCH];
	if (n > BENCH_STUN_FLOOD_BATCH)
		n = BENCH_STUN_FLOOD_BATCH;
	if (n == 0 || !f->pool)
		return 0;
	memset(mm, 0, n * sizeof mm[0]);
	for (unsigned i = 0; i < n; i++) {
		idx[i] = f->next;
		f->next = (f->next + 1) % BENCH_STUN_FLOOD_POOL;
		iov[i].iov_base = f->pool + (size_t)idx[i] * BENCH_STUN_GARBAGE_MAX;
		iov[i].iov_len = f->lens[idx[i]];
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	int fd = f->fds[f->next_fd];
	f->next_fd = (f->next_fd + 1) % BENCH_STUN_FLOOD_SOCKETS;
	int got = sendmmsg(fd, mm, n, MSG_DONTWAIT);
	unsigned ok = got > 0 ? (unsigned)got : 0;
	for (unsigned i = 0; i < ok; i++) {
		f->bytes += iov[i].iov_len;
		f->sent_kind[idx[i] % BENCH_STUN_GARBAGE_KINDS]++;
	}
	f->sent += ok;
	f->send_errors += n - ok;
	return ok;
}

void bench_stun_flood_cleanup(struct bench_stun_flood *f)
{
	for (unsigned i = 0; i < BENCH_STUN_FLOOD_SOCKETS; i++) {
		if (f->fds[i] >= 0)
			close(f->fds[i]);
		f->fds[i] = -1;
	}
	free(f->pool);
	f->pool = NULL;
}
