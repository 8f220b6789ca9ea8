#ifndef CORE_UDP_H
#define CORE_UDP_H
/* core/udp.h: UDP sockets for coroutines.
 *
 * One multishot recvmsg per socket into the reactor's datagram buffer ring
 * (or its UDP GRO ring, core_udp_enable_gro); datagrams queue until read
 * (up to 256 buffers, then the receive pauses and the kernel's socket
 * buffer takes over). A received datagram is a lease on
 * its buffer (struct core_dgram) with the sender's address copied out.
 *
 * Sends: core_udp_sendto waits for the completion; core_udp_sendto_nowait
 * copies the datagram (<= CORE_UDP_SLOT_SIZE bytes) into one of 512 send
 * slots per reactor and returns at once, so a server can answer a whole batch
 * of requests with one io_uring_enter. Objects belong to their reactor. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/buf.h"

#define CORE_UDP_SLOT_SIZE 2048

struct core_udp;

struct core_dgram {
	struct core_buf buf;           /* lease: release with core_buf_release(&d.buf) */
	uint8_t *data;                 /* payload inside the lease */
	uint32_t len;
	bool truncated;                /* larger than the buffer: payload cut */
	/* Control data (cmsgs) of the receive, inside the lease: only on a
	 * socket with core_udp_enable_gro (ctl_len 0 otherwise). */
	const uint8_t *ctl;
	uint32_t ctl_len;
	bool ctl_truncated;            /* MSG_CTRUNC: some control data was cut */
	struct sockaddr_storage from;
	socklen_t from_len;
};

/* core_udp_bind creates a UDP socket bound to addr (SO_REUSEPORT when
 * reuseport). An AF_INET6 socket is dual-stack (IPV6_V6ONLY off, whatever
 * net.ipv6.bindv6only says): bound to "::" it also receives IPv4, whose
 * senders then read as IPv4-mapped addresses (::ffff:192.0.2.1). Returns
 * the fd or -errno. Does not suspend. */
int core_udp_bind(const struct sockaddr *addr, socklen_t addr_len, bool reuseport);

/* core_udp_bind_v6only is core_udp_bind for an AF_INET6 addr serving IPv6
 * alone (IPV6_V6ONLY on), so that an IPv4 socket may hold the same port
 * beside it. Returns the fd, -EAFNOSUPPORT for another family, or -errno.
 * Does not suspend. */
int core_udp_bind_v6only(const struct sockaddr *addr, socklen_t addr_len, bool reuseport);

/* core_udp_new takes ownership of a bound UDP fd. NULL + *err on failure (the
 * fd is then closed). */
struct core_udp *core_udp_new(int fd, int *err);

int core_udp_fd(const struct core_udp *u);

/* The control area a UDP_GRO socket's receives carry (its UDP_GRO cmsg is
 * CMSG_SPACE(sizeof(int)), 24 bytes on LP64). */
#define CORE_UDP_GRO_CTL_SPACE 64

/* core_udp_enable_gro sets UDP_GRO on u's socket (Linux 5.0) and moves its
 * receives to the runtime's GRO ring (core_rt_opts.udp_gro_bufs), whose
 * buffers hold a whole coalesced receive: several datagrams of one sender
 * end to end, their size in a UDP_GRO cmsg (core_dgram.ctl; the overlay's
 * core/udpgro.h cuts them). Must come before u's first receive.
 * Returns 0; -EOPNOTSUPP without a GRO ring, -EBUSY after a receive was
 * armed, or the setsockopt's -errno (-ENOPROTOOPT: a kernel without
 * UDP_GRO); u is then unchanged. Does not suspend. */
int core_udp_enable_gro(struct core_udp *u);

/* core_udp_recv leases the next datagram. Returns its payload length (>= 0)
 * or -errno (-ETIMEDOUT, -ECANCELED). Suspends. */
int core_udp_recv(struct core_udp *u, struct core_dgram *out, int timeout_ms);

/* core_udp_try_recv is core_udp_recv without suspending: -EAGAIN when no
 * datagram is queued. */
int core_udp_try_recv(struct core_udp *u, struct core_dgram *out);

/* core_udp_sendto sends one datagram and waits for the result. Returns len or
 * -errno. Suspends. */
int core_udp_sendto(struct core_udp *u, const void *data, size_t len, const struct sockaddr *to,
		    socklen_t to_len, int timeout_ms);

/* core_udp_sendmsg sends the caller's mh (its address, iovecs and control
 * data: e.g. a UDP_SEGMENT cmsg that makes one send carry a batch of
 * datagrams) and waits for the result, like core_udp_sendto. mh and all it
 * points to are borrowed until it returns (the kernel is done with them
 * then, a timeout included: the send is cancelled and its completion
 * awaited). Queued after the nowait sends before it, in order. Returns the
 * bytes sent or -errno. Suspends. */
int core_udp_sendmsg(struct core_udp *u, const struct msghdr *mh, int timeout_ms);

/* core_udp_sendto_nowait queues one datagram (copied) for sending at the next
 * submission. Returns 0, -EMSGSIZE above CORE_UDP_SLOT_SIZE, -ENOBUFS when all
 * slots are in flight (fall back to core_udp_sendto). Send errors are counted
 * (core_udp_send_errors), not reported. Does not suspend. */
int core_udp_sendto_nowait(struct core_udp *u, const void *data, size_t len, const struct sockaddr *to,
			   socklen_t to_len);

/* core_udp_send_errors returns how many nowait sends failed on this reactor. */
uint64_t core_udp_send_errors(void);

/* core_udp_interrupt wakes a coroutine waiting in core_udp_recv (it returns
 * -ECANCELED). */
void core_udp_interrupt(struct core_udp *u);

/* core_udp_close closes and frees u (queued datagrams are released). */
void core_udp_close(struct core_udp *u);

#endif
