#ifndef CORE_FD_H
#define CORE_FD_H
/* core/fd.h: one read or write on any file descriptor, through the
 * reactor's io_uring, suspending only the calling coroutine.
 *
 * For descriptors that are neither sockets nor datagram endpoints of ours:
 * a TUN device, a pipe, an eventfd. Give io_uring a *blocking* descriptor:
 * it then waits for readiness itself (internal poll), where a non-blocking
 * one would come back with -EAGAIN at once. The buffer is the caller's and
 * must stay valid until the call returns; nothing is allocated. Must run on
 * a reactor coroutine. */
#include <stddef.h>
#include <sys/types.h>

/* core_fd_read reads at most len bytes into buf. Returns the count (0: end
 * of file), -ETIMEDOUT after timeout_ms (-1: no limit), -ECANCELED when the
 * reactor shuts down, or another negative errno from the kernel. */
ssize_t core_fd_read(int fd, void *buf, size_t len, int timeout_ms);

/* core_fd_write writes buf[0..len) in one write (a TUN device takes one
 * packet per write). Returns the count written or a negative errno as
 * core_fd_read does. */
ssize_t core_fd_write(int fd, const void *buf, size_t len, int timeout_ms);

#endif
