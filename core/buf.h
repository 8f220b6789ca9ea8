#ifndef CORE_BUF_H
#define CORE_BUF_H
/* core/buf.h: leases on provided receive buffers.
 *
 * Each reactor registers two provided-buffer rings with its io_uring: one of
 * stream buffers (TCP, default 1024 x 16 KiB; with stream_bufs_max it grows
 * to what each busy source holds before it pauses, 6 of 16 KiB, see
 * core/internal.h's struct buf_group and core/src.c) and one of datagram
 * buffers (UDP, 1024 x 2 KiB); a third, of 68 KiB datagram buffers, when
 * asked for (core_rt_opts.udp_gro_bufs: UDP sockets with UDP_GRO,
 * core/udp.h). Multishot receives pick a buffer only when data arrives, so
 * an idle connection holds none. A received buffer is handed to
 * its consumer as a lease (struct core_buf) without copying; the consumer may
 * forward it (send it on another socket of the same reactor) and must return
 * it exactly once with core_buf_release, on the reactor thread that received
 * it. When a ring runs dry, receives stop (-ENOBUFS) and resume as leases
 * come back: TCP data waits in the kernel, nothing is dropped. */
#include <stddef.h>
#include <stdint.h>

struct core_buf {
	uint8_t *data;     /* payload; the consumer may advance it */
	uint32_t len;      /* bytes at data */
	uint16_t bid;      /* buffer id within its ring */
	uint8_t gid;       /* ring: 0 stream, 1 datagram, 2 UDP GRO; 0xff: no lease */
};

#define CORE_BUF_NONE 0xff

/* core_buf_release returns the lease to its ring and marks b empty. Calling
 * it on an empty lease is a no-op. Must run on the receiving reactor. */
void core_buf_release(struct core_buf *b);

/* core_buf_free_count returns how many buffers of ring gid the kernel
 * currently holds (i.e. are free for receives) on this thread's reactor;
 * -1 outside a reactor. For tests and stats. */
int core_buf_free_count(uint8_t gid);

/* core_buf_count returns how many buffers of ring gid circulate on this
 * thread's reactor (free or out): the stream ring starts at stream_bufs
 * and, with stream_bufs_max above it, grows while sources wait for
 * buffers and shrinks back as they stop (core_rt_opts); -1 outside a
 * reactor. For tests and stats. */
int core_buf_count(uint8_t gid);

/* core_buf_trim gives the pages of the calling reactor's free receive
 * buffers back to the kernel (a buffer's memory is resident once it was
 * filled; the next fill takes a fresh page). For after a load peak: the
 * rings then cost what the buffers in use do. Returns the bytes given
 * back. Must run on a reactor thread; costs one madvise per run of free
 * buffers. */
size_t core_buf_trim(void);

#endif
