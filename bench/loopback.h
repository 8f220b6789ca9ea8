#ifndef BENCH_LOOPBACK_H
#define BENCH_LOOPBACK_H
/* bench/loopback.h: blocking TCP on 127.0.0.1 for the benches' own servers
 * and clients. Every function returns 0 (or a descriptor) on success and
 * -errno on failure; none prints. */
#include <stddef.h>
#include <stdint.h>

/* bench_loopback_listen listens on 127.0.0.1 at a port the kernel picks and
 * writes it to *out_port. Returns the listening descriptor (the caller owns
 * it) or -errno. */
int bench_loopback_listen(uint16_t *out_port);

/* bench_loopback_connect connects to 127.0.0.1:port with TCP_NODELAY, and
 * bounds every blocking read and write on it by timeout_ms (SO_RCVTIMEO,
 * SO_SNDTIMEO) so a server that hangs cannot hang the client. Returns the
 * descriptor (the caller owns it) or -errno. */
int bench_loopback_connect(uint16_t port, unsigned timeout_ms);

/* bench_set_nodelay sets TCP_NODELAY on fd (best effort). */
void bench_set_nodelay(int fd);

/* bench_write_all sends len bytes of p (MSG_NOSIGNAL), retrying on EINTR.
 * Returns 0, or -errno (-EPIPE when the peer took nothing). */
int bench_write_all(int fd, const void *p, size_t len);

/* bench_read_full reads exactly len bytes into p, retrying on EINTR.
 * Returns 0, or -errno (-ECONNRESET at an early EOF). */
int bench_read_full(int fd, void *p, size_t len);

#endif
