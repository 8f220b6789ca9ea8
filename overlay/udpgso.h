#ifndef OVERLAY_UDPGSO_H
#define OVERLAY_UDPGSO_H
/* overlay/udpgso.h: UDP GSO on the node's socket (UDP_SEGMENT, Linux 4.18:
 * Documentation/networking/segmentation-offloads.rst, "UDP fragmentation
 * offload"; udp(7)).
 *
 * One sendmsg may carry several datagrams laid end to end in one buffer,
 * with a UDP_SEGMENT cmsg giving their size: the kernel cuts it into
 * datagrams of that size, the last one possibly shorter, and the stack
 * below UDP runs once per batch instead of once per datagram. The rules a
 * batch must follow (net/ipv4/udp.c, udp_send_skb) are kept here, as pure
 * bookkeeping, so that the node never hands the kernel a batch it refuses
 * for a reason we could have seen:
 *  - every datagram but the last has the first one's size; after a
 *    shorter one the batch is closed;
 *  - at most OVERLAY_UDPGSO_MAX_SEGS datagrams (the kernel's
 *    UDP_MAX_SEGMENTS, 64 before Linux 6.9);
 *  - at most OVERLAY_UDPGSO_MAX_LEN bytes in all (one IPv4 UDP payload:
 *    the UDP length field covers the whole batch).
 * What the kernel still refuses (a device without checksum offload: -EIO;
 * a segment larger than the route's MTU: -EINVAL) is the caller's to
 * handle. No I/O, no allocation. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OVERLAY_UDPGSO_MAX_SEGS 64
#define OVERLAY_UDPGSO_MAX_LEN 65507

/* The control buffer a batch's sendmsg needs: CMSG_SPACE(sizeof(uint16_t)),
 * rounded up for any ABI's alignment. */
#define OVERLAY_UDPGSO_CMSG_SPACE 32

/* A batch being filled: how many datagrams, of what size. Zeroed (or
 * overlay_udpgso_reset) is empty. */
struct overlay_udpgso {
	size_t len;     /* bytes so far */
	size_t seg;     /* the first datagram's size: every one but the last has it */
	uint32_t num;   /* datagrams so far */
	bool closed;    /* a datagram shorter than seg ended it */
};

void overlay_udpgso_reset(struct overlay_udpgso *b);

/* overlay_udpgso_fits returns whether a datagram of n bytes (n > 0) may
 * join b as its next one. False: send b first, then start a new batch
 * with it (a datagram that fits no batch, n over OVERLAY_UDPGSO_MAX_LEN or
 * over UINT16_MAX, does not fit an empty one either). */
bool overlay_udpgso_fits(const struct overlay_udpgso *b, size_t n);

/* overlay_udpgso_add records a datagram of n bytes as b's next one; the
 * caller checked overlay_udpgso_fits. */
void overlay_udpgso_add(struct overlay_udpgso *b, size_t n);

/* overlay_udpgso_cmsg writes the UDP_SEGMENT cmsg for segments of seg
 * bytes into ctl (ctl_len bytes, OVERLAY_UDPGSO_CMSG_SPACE suffice) and
 * returns the msg_controllen to send with, or 0 if ctl_len is too small or
 * seg is 0. */
size_t overlay_udpgso_cmsg(void *ctl, size_t ctl_len, uint16_t seg);

#endif
