#ifndef CORE_SOCK_H
#define CORE_SOCK_H
/* core/sock.h: TCP listeners and stream sockets for coroutines.
 *
 * A listener runs one multishot accept; a stream socket one multishot
 * receive into the reactor's stream buffer ring, armed at its first read and
 * paused while its owner does not read (at most 64 KiB queued per socket).
 * Sends use IORING_OP_SEND with MSG_WAITALL, or SEND_ZC at or above the
 * runtime's zc_threshold; a send returns when the kernel is done with the
 * caller's memory, so a received lease can be forwarded and then released.
 *
 * Objects belong to the reactor thread that created them. All functions
 * marked "suspends" must run in a coroutine of that reactor. timeout_ms < 0
 * means no timeout. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "core/buf.h"

struct core_sock;
struct core_listener;

/* core_tcp_listen creates a TCP socket bound to addr and listening (with
 * SO_REUSEADDR, and SO_REUSEPORT when reuseport, so each reactor can have its
 * own). An AF_INET6 listener is dual-stack (IPV6_V6ONLY off, whatever
 * net.ipv6.bindv6only says): on "::" it also accepts IPv4 clients, whose
 * addresses then read as IPv4-mapped (::ffff:192.0.2.1). Returns the fd or
 * -errno. Does not suspend. */
int core_tcp_listen(const struct sockaddr *addr, socklen_t addr_len, int backlog, bool reuseport);

/* core_tcp_listen_prep is core_tcp_listen that calls prep(fd, arg) on the
 * new socket before bind and listen: options an accepted socket inherits
 * (TCP_NODELAY, SO_RCVBUF, SO_SNDBUF) are then on every connection, even
 * one that completes its handshake the moment the socket listens. prep
 * returns 0 or -errno (which fails the call). */
int core_tcp_listen_prep(const struct sockaddr *addr, socklen_t addr_len, int backlog, bool reuseport,
			 int (*prep)(int fd, void *arg), void *arg);

/* core_listener_new takes ownership of a listening fd. NULL + *err on failure
 * (the fd is then closed). */
struct core_listener *core_listener_new(int fd, int *err);

/* core_listener_accept returns the next accepted fd (blocking, CLOEXEC), or
 * -ETIMEDOUT, -ECANCELED (listener closed / runtime torn down), or the
 * accept error (-EMFILE...) once. Suspends. */
int core_listener_accept(struct core_listener *l, int timeout_ms);

/* core_listener_interrupt wakes a coroutine waiting in accept with
 * -ECANCELED (for shutdown hooks). */
void core_listener_interrupt(struct core_listener *l);

/* core_listener_close stops accepting and frees the listener. NULL: no-op. */
void core_listener_close(struct core_listener *l);

/* core_tcp_connect opens a TCP connection (IORING_OP_CONNECT). Returns the fd
 * or -errno (-ETIMEDOUT). Suspends. */
int core_tcp_connect(const struct sockaddr *addr, socklen_t addr_len, int timeout_ms);

/* core_tcp_connect_from opens a TCP connection to addr from the local
 * address src (its port normally 0), as core_tcp_connect does otherwise.
 * IP_BIND_ADDRESS_NO_PORT is set before bind(), so the source port is picked
 * at connect() for the whole 4-tuple: connections spread over many source
 * addresses keep the kernel's ephemeral port search short, where thousands
 * of connections from one address to one address make every connect() walk
 * the used ports (__inet_hash_connect). src NULL: exactly core_tcp_connect.
 * Returns the fd or -errno: -EAFNOSUPPORT when src and addr differ in
 * family, -EADDRNOTAVAIL when src is not a local address, -EINVAL for a bad
 * src_len, -ETIMEDOUT, or the connect error. Suspends. */
int core_tcp_connect_from(const struct sockaddr *addr, socklen_t addr_len, const struct sockaddr *src,
			  socklen_t src_len, int timeout_ms);

/* core_sock_new takes ownership of a connected stream fd. NULL + *err on
 * failure (the fd is then closed). */
struct core_sock *core_sock_new(int fd, int *err);

/* core_sock_fd returns the descriptor (for setsockopt/getpeername). */
int core_sock_fd(const struct core_sock *s);

/* core_sock_recv leases the next received buffer into *out. Returns its
 * length (> 0), 0 at end of stream, or -errno (-ETIMEDOUT, -ECANCELED,
 * -ECONNRESET...). The lease must be released with core_buf_release.
 * Suspends. */
int core_sock_recv(struct core_sock *s, struct core_buf *out, int timeout_ms);

/* core_sock_recv_ready returns whether core_sock_recv would not suspend. */
bool core_sock_recv_ready(const struct core_sock *s);

/* core_sock_wait_readable waits until core_sock_recv would not suspend (a
 * buffer queued, the end of the stream or an error), without taking
 * anything: 0, -ETIMEDOUT, or -ECANCELED (core_sock_interrupt, teardown).
 * Its frames hold no buffer: an idle owner waits here, hibernating
 * (core_task_hibernate_next_wait), with a smaller stack copy than
 * core_sock_recv's. Suspends. */
int core_sock_wait_readable(struct core_sock *s, int timeout_ms);

/* core_sock_recv_queued returns whether a received buffer is waiting, so
 * that core_sock_recv returns data (not the end or an error) at once. */
bool core_sock_recv_queued(const struct core_sock *s);

/* core_sock_send sends all len bytes. Returns len or -errno. The caller's
 * memory is free again when it returns. Suspends. */
int core_sock_send(struct core_sock *s, const void *data, size_t len, int timeout_ms);

/* core_sock_sendv sends all bytes of iov[0..num_iov), in one operation when
 * the socket has room; iov is modified. timeout_ms bounds the whole call.
 * Returns the total or -errno. Suspends. */
int core_sock_sendv(struct core_sock *s, struct iovec *iov, int num_iov, int timeout_ms);

/* core_sock_sendv_for sends as much of iov[0..num_iov) as the socket takes
 * within timeout_ms (0: only what fits now, without waiting; < 0: no
 * limit); the caller's memory is free again for those bytes when it
 * returns. Returns the bytes sent -- all of them, or fewer (0 included)
 * when the time ran out -- or -errno when the connection failed. iov is not
 * modified. Suspends. */
int core_sock_sendv_for(struct core_sock *s, const struct iovec *iov, int num_iov, int timeout_ms);

/* core_sock_shutdown_write sends FIN (shutdown(SHUT_WR)). Does not suspend. */
void core_sock_shutdown_write(struct core_sock *s);

/* core_sock_interrupt wakes a coroutine waiting in core_sock_recv or
 * core_sock_wait_hangup on s; that call returns -ECANCELED. Does not
 * suspend. */
void core_sock_interrupt(struct core_sock *s);

/* core_sock_recv_pause stops receiving on s until the next core_sock_recv
 * (which must first be given *out): the multishot receive ends, and every
 * buffer queued now or before it ended is copied out of the ring into one
 * malloc'd *out (*out_len bytes: about the 64 KiB queue bound, more when
 * the receive took buffers faster than its pause landed; NULL when none;
 * the caller frees it). For an owner that will not
 * read for a while: it then holds no ring buffer that other connections
 * need, and TCP holds the rest. 0, or -ENOMEM (the buffers stay queued and
 * core_sock_recv returns them as usual). Suspends. */
int core_sock_recv_pause(struct core_sock *s, uint8_t **out, size_t *out_len);

/* core_sock_wait_hangup waits, without receiving, until the peer closes its
 * side or resets the connection (-EPIPE), timeout_ms passes (-ETIMEDOUT), or
 * core_sock_interrupt (-ECANCELED). With core_sock_recv_pause, how an owner
 * that has stopped reading still notices its client leave. Suspends. */
int core_sock_wait_hangup(struct core_sock *s, int timeout_ms);

/* core_sock_detach stops receiving on s and waits until the kernel has no
 * receive in flight; then copies every byte already received but not read
 * into a malloc'd *out (*out_len bytes, NULL when none; the caller frees it),
 * frees s and returns its fd, still open, so it can be handed to another
 * reactor (core_rt_post) and wrapped there with core_sock_new. Returns -ENOMEM
 * (s and the fd are then closed). Suspends. */
int core_sock_detach(struct core_sock *s, uint8_t **out, size_t *out_len);

/* core_sock_close releases queued buffers, closes the socket and frees s.
 * Must not be called while another coroutine is inside a call on s. NULL:
 * no-op. Does not suspend. */
void core_sock_close(struct core_sock *s);

#endif
