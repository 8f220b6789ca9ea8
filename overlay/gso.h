#ifndef OVERLAY_GSO_H
#define OVERLAY_GSO_H
/* overlay/gso.h: the kernel's offloads on the TUN side (IFF_VNET_HDR with
 * TUNSETOFFLOAD: Documentation/networking/tuntap.rst, linux/virtio_net.h).
 *
 * With them, a read from the TUN device starts with a struct
 * virtio_net_hdr (OVERLAY_VNET_HDR_LEN bytes) and may return a TCP packet
 * of up to 64 KiB that the kernel has not segmented (TSO: gso_type TCPV4 or
 * TCPV6, gso_size the segment payload) or whose TCP/UDP checksum is not
 * finished (NEEDS_CSUM: csum_start, csum_offset). The kernel's TCP stack
 * then does one pass per 64 KiB instead of one per packet. The peer gets
 * ordinary packets: overlay_gso_next cuts such a read into the packets the
 * kernel would have sent, each with its headers and checksums complete,
 * into the caller's buffer (no allocation). Writes to the device carry a
 * header too: overlay_vnet_none is one that says "an ordinary packet".
 *
 * Anything the iterator cannot vouch for (a header whose offsets do not fit
 * the packet, a GSO type other than TCP, a segment size of 0, a packet that
 * is not IPv4/IPv6 TCP under TSO) is refused with a negative errno: the
 * caller drops and counts it. Input is the kernel's, but it is parsed as if
 * it were anyone's (tests/fuzz/fuzz_gso.c). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OVERLAY_VNET_HDR_LEN 10
/* The largest read: a header and a 64 KiB packet. */
#define OVERLAY_GSO_MAX_READ (OVERLAY_VNET_HDR_LEN + 65535)

extern const uint8_t overlay_vnet_none[OVERLAY_VNET_HDR_LEN];

/* An iterator over one read. The buffer it points into must stay put
 * until the iterator is done; a packet's unfinished checksum is finished in
 * place there. */
struct overlay_gso_iter {
	uint8_t *pkt;           /* the packet after the header */
	size_t len;             /* its bytes */
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
	size_t off;             /* the next segment's payload offset */
	size_t l3_len, l4_len;  /* header lengths of a TSO packet */
	uint16_t seg;           /* segments made */
	bool done;
};

/* overlay_gso_begin reads the header of buf[0..n) (one read from the
 * device). Returns 0 or -EINVAL (shorter than the header, or a header that
 * does not fit the packet: the read is dropped). */
int overlay_gso_begin(struct overlay_gso_iter *it, uint8_t *buf, size_t n);

/* overlay_gso_next points *pkt at the next packet and returns its length,
 * 0 when there are no more, or a negative errno: -EINVAL (a malformed
 * packet or header), -ENOBUFS (cap too small for a segment),
 * -EPROTONOSUPPORT (a GSO type other than TCP). A packet that needs no
 * cutting is the read itself (no copy); a TSO segment is built in out (cap
 * bytes). After an error the iterator is done. */
long overlay_gso_next(struct overlay_gso_iter *it, uint8_t *out, size_t cap, const uint8_t **pkt);

#endif
