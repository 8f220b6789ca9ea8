/* TCP listeners and stream sockets: see core/sock.h. */
#include "core/sock.h"
#include "core/internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct core_listener {
	struct src src; /* first: freed through it */
};

struct core_sock {
	struct src src; /* first: freed through it */
	struct op *hup; /* core_sock_wait_hangup's poll, while it waits */
};

int core_tcp_listen(const struct sockaddr *addr, socklen_t addr_len, int backlog, bool reuseport)
{
	return core_tcp_listen_prep(addr, addr_len, backlog, reuseport, NULL, NULL);
}

int core_tcp_listen_prep(const struct sockaddr *addr, socklen_t addr_len, int backlog, bool reuseport,
			 int (*prep)(int fd, void *arg), void *arg)
{
	int one = 1, zero = 0, ret;
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
		goto fail;
	/* Dual-stack whatever net.ipv6.bindv6only says: "::" serves both
	 * families on every machine alike. */
	if (addr->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0)
		goto fail;
	if (prep && (ret = prep(fd, arg)) != 0)
		goto fail_ret;
	if (bind(fd, addr, addr_len) != 0 || listen(fd, backlog) != 0)
		goto fail;
	return fd;
fail:
	ret = -errno;
fail_ret:
	close(fd);
	return ret;
}

struct core_listener *core_listener_new(int fd, int *err)
{
	struct core_listener *l = calloc(1, sizeof *l);
	if (!l) {
		close(fd);
		*err = -ENOMEM;
		return NULL;
	}
	core_src_init(&l->src, core_self(), SRC_ACCEPT, fd, NULL);
	return l;
}

int core_listener_accept(struct core_listener *l, int timeout_ms)
{
	struct src *s = &l->src;
	uint64_t deadline = core_deadline_ns(timeout_ms);
	for (;;) {
		if (core_src_accq_len(s))
			return core_src_accq_pop(s);
		if (s->wait_res) {
			int e = s->wait_res;
			s->wait_res = 0;
			return e;
		}
		if (s->closing)
			return -ECANCELED;
		int left = core_deadline_left_ms(deadline);
		int ret = core_src_wait(s, left);
		if (ret < 0)
			return ret;
	}
}

void core_listener_interrupt(struct core_listener *l)
{
	if (l && l->src.waiter)
		core_unpark(l->src.waiter->co, -ECANCELED);
}

void core_listener_close(struct core_listener *l)
{
	if (l)
		core_src_close(&l->src);
}

int core_tcp_connect_from(const struct sockaddr *addr, socklen_t addr_len, const struct sockaddr *src,
			  socklen_t src_len, int timeout_ms)
{
	if (src && src->sa_family != addr->sa_family)
		return -EAFNOSUPPORT;
	struct core_reactor *r = core_self();
	struct op op;
	int one = 1, ret;
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Without it bind() reserves a port for src alone, so src could hold
	 * no more connections than ip_local_port_range has ports. SOL_IP
	 * applies to IPv6 sockets too (inet_sk). */
	if (src && (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0 ||
		    bind(fd, src, src_len) != 0)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	struct io_uring_sqe *sqe = core_op_start(r, &op);
	if (!sqe) {
		close(fd);
		return -ECANCELED;
	}
	io_uring_prep_connect(sqe, fd, addr, addr_len);
	io_uring_sqe_set_data64(sqe, ud_pack(&op, UD_OP));
	ret = core_op_wait(r, &op, timeout_ms);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

int core_tcp_connect(const struct sockaddr *addr, socklen_t addr_len, int timeout_ms)
{
	return core_tcp_connect_from(addr, addr_len, NULL, 0, timeout_ms);
}

struct core_sock *core_sock_new(int fd, int *err)
{
	struct core_reactor *r = core_self();
	struct core_sock *s = malloc(sizeof *s);
	if (!s) {
		close(fd);
		*err = -ENOMEM;
		return NULL;
	}
	core_src_init(&s->src, r, SRC_RECV, fd, &r->stream);
	s->hup = NULL;
	return s;
}

int core_sock_fd(const struct core_sock *s)
{
	return s->src.fd;
}

bool core_sock_recv_ready(const struct core_sock *s)
{
	return s->src.head >= 0 || s->src.eof || s->src.err;
}

bool core_sock_recv_queued(const struct core_sock *s)
{
	return s->src.head >= 0;
}

int core_sock_recv(struct core_sock *s, struct core_buf *out, int timeout_ms)
{
	struct src *src = &s->src;
	uint64_t deadline = core_deadline_ns(timeout_ms);
	uint16_t bid;
	uint32_t len;

	out->gid = CORE_BUF_NONE;
	out->data = NULL;
	out->len = 0;
	for (;;) {
		if (core_src_pop_buf(src, &bid, &len)) {
			out->data = src->grp->mem + (size_t)bid * src->grp->size;
			out->len = len;
			out->bid = bid;
			out->gid = (uint8_t)src->grp->bgid;
			return (int)len;
		}
		if (src->err)
			return src->err;
		if (src->eof)
			return 0;
		int left = core_deadline_left_ms(deadline);
		int ret = core_src_wait(src, left);
		if (ret < 0)
			return ret;
	}
}

int core_sock_wait_readable(struct core_sock *s, int timeout_ms)
{
	struct src *src = &s->src;
	uint64_t deadline = core_deadline_ns(timeout_ms);
	while (!core_sock_recv_ready(s)) {
		int ret = core_src_wait(src, core_deadline_left_ms(deadline));
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* One send operation. wait: MSG_WAITALL, the kernel waits for room (up to
 * timeout_ms); otherwise MSG_DONTWAIT, it takes what fits now (-EAGAIN when
 * nothing does). Returns the bytes sent or -errno. */
static int send_once(struct core_sock *s, struct msghdr *mh, const void *data, size_t len, bool zc, bool wait,
		     int timeout_ms)
{
	struct core_reactor *r = s->src.r;
	struct op op;
	struct io_uring_sqe *sqe = core_op_start(r, &op);
	int flags = MSG_NOSIGNAL | (wait ? MSG_WAITALL : MSG_DONTWAIT);
	if (!sqe)
		return -ECANCELED;
	if (mh) {
		if (zc)
			io_uring_prep_sendmsg_zc(sqe, s->src.fd, mh, flags);
		else
			io_uring_prep_sendmsg(sqe, s->src.fd, mh, flags);
	} else if (zc) {
		io_uring_prep_send_zc(sqe, s->src.fd, data, len, flags, 0);
	} else {
		io_uring_prep_send(sqe, s->src.fd, data, len, flags);
	}
	io_uring_sqe_set_data64(sqe, ud_pack(&op, UD_OP));
	return core_op_wait(r, &op, timeout_ms);
}

int core_sock_send(struct core_sock *s, const void *data, size_t len, int timeout_ms)
{
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	return core_sock_sendv(s, &iov, 1, timeout_ms);
}

/* Skips n sent bytes of *iov / *num_iov. */
static void iov_advance(struct iovec **iov, int *num_iov, size_t n)
{
	while (*num_iov && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*num_iov)--;
	}
	if (*num_iov) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

int core_sock_sendv(struct core_sock *s, struct iovec *iov, int num_iov, int timeout_ms)
{
	size_t total = 0, done = 0;
	for (int i = 0; i < num_iov; i++)
		total += iov[i].iov_len;
	bool zc = total >= s->src.r->rt->o.zc_threshold;
	/* One deadline for the whole call: a reader that takes a few bytes
	 * now and then must not restart the timeout with each (a 5 s write
	 * timeout used to end a stalled reader's session after 11-16 s). */
	uint64_t deadline = core_deadline_ns(timeout_ms);
	while (done < total) {
		int left = core_deadline_left_ms(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)num_iov};
		int ret = send_once(s, &mh, NULL, 0, zc, true, left);
		if (ret == -EOPNOTSUPP && zc) {
			zc = false;
			continue;
		}
		if (ret < 0)
			return ret;
		if (ret == 0)
			return -EPIPE;
		done += (size_t)ret;
		iov_advance(&iov, &num_iov, (size_t)ret);
	}
	return (int)total;
}

int core_sock_sendv_for(struct core_sock *s, const struct iovec *iov, int num_iov, int timeout_ms)
{
	size_t total = 0, done;
	for (int i = 0; i < num_iov; i++)
		total += iov[i].iov_len;
	if (!total)
		return 0;
	uint64_t deadline = core_deadline_ns(timeout_ms);
	/* timeout 0: MSG_DONTWAIT, what fits now. Otherwise MSG_WAITALL: a
	 * send cut short by the timer completes with the bytes it had sent. */
	struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)num_iov};
	int ret = send_once(s, &mh, NULL, 0, false, timeout_ms != 0, timeout_ms);
	if (ret == -EAGAIN || ret == -ETIMEDOUT)
		return 0;
	if (ret <= 0)
		return ret < 0 ? ret : -EPIPE;
	done = (size_t)ret;
	if (done == total || timeout_ms == 0)
		return ret;
	/* Cut short before the deadline (a signal, a partial wake-up): go on
	 * from a copy, the caller's iov stays as it was. */
	struct iovec *rest = malloc((size_t)num_iov * sizeof *rest);
	if (!rest)
		return ret;
	memcpy(rest, iov, (size_t)num_iov * sizeof *rest);
	struct iovec *v = rest;
	int nv = num_iov;
	iov_advance(&v, &nv, done);
	while (done < total) {
		int left = core_deadline_left_ms(deadline);
		if (left == 0)
			break;
		mh.msg_iov = v;
		mh.msg_iovlen = (size_t)nv;
		ret = send_once(s, &mh, NULL, 0, false, true, left);
		if (ret == -ETIMEDOUT)
			break;
		if (ret <= 0) {
			free(rest);
			return ret < 0 ? ret : -EPIPE;
		}
		done += (size_t)ret;
		iov_advance(&v, &nv, (size_t)ret);
	}
	free(rest);
	return (int)done;
}

void core_sock_shutdown_write(struct core_sock *s)
{
	shutdown(s->src.fd, SHUT_WR);
}

void core_sock_interrupt(struct core_sock *s)
{
	if (s->src.waiter)
		core_unpark(s->src.waiter->co, -ECANCELED);
	if (s->hup && s->hup->pending) {
		struct io_uring_sqe *sqe = core_get_sqe(s->src.r);
		io_uring_prep_cancel64(sqe, ud_pack(s->hup, UD_OP), 0);
		io_uring_sqe_set_data64(sqe, 0);
	}
}

int core_sock_wait_hangup(struct core_sock *s, int timeout_ms)
{
	struct core_reactor *r = s->src.r;
	struct op op;
	struct io_uring_sqe *sqe = core_op_start(r, &op);
	if (!sqe)
		return -ECANCELED;
	/* Single-shot: completes once the peer's FIN (RDHUP) or an error or
	 * reset (HUP, ERR) is there; readable data alone does not. */
	io_uring_prep_poll_add(sqe, s->src.fd, POLLRDHUP | POLLHUP | POLLERR);
	io_uring_sqe_set_data64(sqe, ud_pack(&op, UD_OP));
	s->hup = &op;
	int ret = core_op_wait(r, &op, timeout_ms);
	s->hup = NULL;
	return ret > 0 ? -EPIPE : ret;
}

/* Moves every queued buffer of src into one malloc'd block (NULL when none
 * is queued) and gives the buffers back to the ring. */
static int copy_queued(struct src *src, uint8_t **out, size_t *out_len)
{
	uint16_t bid;
	uint32_t len;
	size_t n = 0;
	*out = NULL;
	*out_len = 0;
	if (!src->queued_bytes)
		return 0;
	uint8_t *buf = malloc(src->queued_bytes);
	if (!buf)
		return -ENOMEM;
	while (core_src_pop_buf(src, &bid, &len)) {
		memcpy(buf + n, src->grp->mem + (size_t)bid * src->grp->size, len);
		n += len;
		core_buf_group_put(src->grp, bid);
	}
	*out = buf;
	*out_len = n;
	return 0;
}

int core_sock_recv_pause(struct core_sock *s, uint8_t **out, size_t *out_len)
{
	core_src_pause(&s->src);
	return copy_queued(&s->src, out, out_len);
}

int core_sock_detach(struct core_sock *s, uint8_t **out, size_t *out_len)
{
	struct src *src = &s->src;
	int fd = core_src_detach(src);

	if (copy_queued(src, out, out_len) != 0) {
		src->fd = fd;
		core_src_close(src);
		return -ENOMEM;
	}
	core_src_close(src); /* fd already taken: nothing in flight, frees s */
	return fd;
}

void core_sock_close(struct core_sock *s)
{
	if (s)
		core_src_close(&s->src);
}
