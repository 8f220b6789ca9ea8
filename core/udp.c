/* UDP sockets: see core/udp.h. */
#include "core/udp.h"
#include "core/internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef UDP_GRO
#define UDP_GRO 104 /* linux/udp.h; glibc headers before 2.29 lack it */
#endif

_Static_assert(CORE_UDP_SLOT_SIZE == SEND_SLOT_SIZE, "slot sizes");

struct core_udp {
	struct src src; /* first: freed through it */
	struct msghdr mh; /* the source's recvmsg template (src.mh) */
};

static _Thread_local uint64_t tls_send_errors;

static int bind_udp(const struct sockaddr *addr, socklen_t addr_len, bool reuseport, int v6only)
{
	int one = 1, ret;
	int fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
		goto fail;
	/* Set either way, never left to net.ipv6.bindv6only: whether "::"
	 * also serves IPv4 must not depend on the machine. */
	if (addr->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0)
		goto fail;
	if (bind(fd, addr, addr_len) != 0)
		goto fail;
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

int core_udp_bind(const struct sockaddr *addr, socklen_t addr_len, bool reuseport)
{
	return bind_udp(addr, addr_len, reuseport, 0);
}

int core_udp_bind_v6only(const struct sockaddr *addr, socklen_t addr_len, bool reuseport)
{
	if (addr->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	return bind_udp(addr, addr_len, reuseport, 1);
}

struct core_udp *core_udp_new(int fd, int *err)
{
	struct core_reactor *r = core_self();
	struct core_udp *u = malloc(sizeof *u);
	if (!u) {
		close(fd);
		*err = -ENOMEM;
		return NULL;
	}
	core_src_init(&u->src, r, SRC_RECVMSG, fd, &r->dgram);
	memset(&u->mh, 0, sizeof u->mh);
	u->mh.msg_namelen = sizeof(struct sockaddr_storage);
	u->src.mh = &u->mh;
	return u;
}

int core_udp_fd(const struct core_udp *u)
{
	return u->src.fd;
}

int core_udp_enable_gro(struct core_udp *u)
{
	struct core_reactor *r = u->src.r;
	int one = 1;
	if (!r->gro.num)
		return -EOPNOTSUPP;
	if (u->src.started || u->src.armed)
		return -EBUSY;
	if (setsockopt(u->src.fd, SOL_UDP, UDP_GRO, &one, sizeof one) != 0)
		return -errno;
	/* Nothing is armed or queued: the source starts over on the GRO ring
	 * (its high-water mark follows the ring's buffer size). */
	core_src_init(&u->src, r, SRC_RECVMSG, u->src.fd, &r->gro);
	u->mh.msg_controllen = CORE_UDP_GRO_CTL_SPACE;
	u->src.mh = &u->mh;
	return 0;
}

int core_udp_try_recv(struct core_udp *u, struct core_dgram *out)
{
	struct src *s = &u->src;
	uint16_t bid;
	uint32_t len;

	while (core_src_pop_buf(s, &bid, &len)) {
		uint8_t *base = s->grp->mem + (size_t)bid * s->grp->size;
		struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(base, (int)len, s->mh);
		if (!o) {
			core_buf_group_put(s->grp, bid); /* cannot happen with our msghdr */
			continue;
		}
		out->buf.data = base;
		out->buf.len = len;
		out->buf.bid = bid;
		out->buf.gid = (uint8_t)s->grp->bgid;
		out->data = io_uring_recvmsg_payload(o, s->mh);
		out->len = io_uring_recvmsg_payload_length(o, (int)len, s->mh);
		out->truncated = (o->flags & MSG_TRUNC) != 0;
		/* The control area follows the name (io_uring_recvmsg_cmsg_firsthdr). */
		out->ctl = (const uint8_t *)(o + 1) + s->mh->msg_namelen;
		out->ctl_len = o->controllen < s->mh->msg_controllen ? o->controllen : (uint32_t)s->mh->msg_controllen;
		out->ctl_truncated = (o->flags & MSG_CTRUNC) != 0;
		out->from_len = o->namelen > sizeof out->from ? sizeof out->from : o->namelen;
		memcpy(&out->from, io_uring_recvmsg_name(o), out->from_len);
		return (int)out->len;
	}
	return s->err ? s->err : -EAGAIN;
}

int core_udp_recv(struct core_udp *u, struct core_dgram *out, int timeout_ms)
{
	uint64_t deadline = core_deadline_ns(timeout_ms);
	out->buf.gid = CORE_BUF_NONE;
	for (;;) {
		int ret = core_udp_try_recv(u, out);
		if (ret != -EAGAIN)
			return ret;
		int left = core_deadline_left_ms(deadline);
		ret = core_src_wait(&u->src, left);
		if (ret < 0)
			return ret;
	}
}

int core_udp_sendto(struct core_udp *u, const void *data, size_t len, const struct sockaddr *to,
		    socklen_t to_len, int timeout_ms)
{
	struct core_reactor *r = u->src.r;
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr mh = {.msg_name = (void *)to, .msg_namelen = to_len, .msg_iov = &iov, .msg_iovlen = 1};
	struct op op;
	struct io_uring_sqe *sqe = core_op_start(r, &op);

	if (!sqe)
		return -ECANCELED;
	io_uring_prep_sendmsg(sqe, u->src.fd, &mh, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud_pack(&op, UD_OP));
	return core_op_wait(r, &op, timeout_ms);
}

int core_udp_sendmsg(struct core_udp *u, const struct msghdr *mh, int timeout_ms)
{
	struct core_reactor *r = u->src.r;
	struct op op;
	struct io_uring_sqe *sqe = core_op_start(r, &op);

	if (!sqe)
		return -ECANCELED;
	io_uring_prep_sendmsg(sqe, u->src.fd, mh, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud_pack(&op, UD_OP));
	return core_op_wait(r, &op, timeout_ms);
}

int core_udp_sendto_nowait(struct core_udp *u, const void *data, size_t len, const struct sockaddr *to,
			   socklen_t to_len)
{
	struct core_reactor *r = u->src.r;
	struct send_slot *slot;

	if (len > SEND_SLOT_SIZE || to_len > sizeof slot->to)
		return -EMSGSIZE;
	if (r->torn_down)
		return -ECANCELED;
	slot = r->free_slots;
	if (slot) {
		r->free_slots = slot->next;
	} else {
		if (r->num_slots >= SEND_SLOTS)
			return -ENOBUFS;
		slot = malloc(sizeof *slot);
		if (!slot)
			return -ENOBUFS;
		r->num_slots++;
	}
	memcpy(slot->data, data, len);
	memcpy(&slot->to, to, to_len);
	slot->iov.iov_base = slot->data;
	slot->iov.iov_len = len;
	memset(&slot->mh, 0, sizeof slot->mh);
	slot->mh.msg_name = &slot->to;
	slot->mh.msg_namelen = to_len;
	slot->mh.msg_iov = &slot->iov;
	slot->mh.msg_iovlen = 1;
	struct io_uring_sqe *sqe = core_get_sqe(r);
	io_uring_prep_sendmsg(sqe, u->src.fd, &slot->mh, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud_pack(slot, UD_SLOT));
	r->inflight++;
	return 0;
}

void core_slot_complete(struct core_reactor *r, struct send_slot *slot, int res)
{
	if (res < 0)
		tls_send_errors++;
	r->inflight--;
	slot->next = r->free_slots;
	r->free_slots = slot;
}

uint64_t core_udp_send_errors(void)
{
	return tls_send_errors;
}

void core_udp_interrupt(struct core_udp *u)
{
	if (u->src.waiter)
		core_unpark(u->src.waiter->co, -ECANCELED);
}

void core_udp_close(struct core_udp *u)
{
	if (u)
		core_src_close(&u->src);
}
