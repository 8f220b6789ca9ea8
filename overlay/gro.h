#ifndef OVERLAY_GRO_H
#define OVERLAY_GRO_H
/* overlay/gro.h: coalescing TCP packets for the TUN's write side, the
 * opposite of overlay/gso.h.
 *
 * With offloads on (IFF_VNET_HDR), a write to the TUN may be one TCP packet
 * of up to 64 KiB made of several segments of a flow, with a
 * virtio_net_hdr that says so (gso_type TCPV4/TCPV6, gso_size the segment
 * payload, NEEDS_CSUM). The kernel takes it as one packet that GRO had
 * merged (linux/virtio_net.h, virtio_net_hdr_to_skb): its TCP stack runs
 * once per write instead of once per packet, and if it forwards the packet
 * it cuts it back into the segments.
 *
 * The coalescer holds one pending packet in a caller's buffer. A packet
 * joins it only if it is the pending flow's next segment: IPv4 (no options,
 * not a fragment, the next IP id) or IPv6 (no extension headers) carrying
 * TCP; the same addresses, ports, ACK number, window, header length and
 * options bytes (a timestamp that differs does not merge, as in the
 * kernel's own GRO); the next sequence number exactly; ACK as its only
 * flag, PSH allowed on the last segment; the same IP header fields (TOS,
 * TTL, DF, flow label); a payload no larger than the first segment's, and
 * a smaller one or PSH ends the packet; at most 65,535 bytes in all. Both
 * checksums of every packet are verified first: the kernel does not check
 * a NEEDS_CSUM packet's, so a damaged packet must not hide in a merge.
 *
 * No I/O and no allocation: overlay_gro_add says what the caller writes,
 * overlay_gro_flush hands out the pending packet with its header. Writes
 * cut back with overlay/gso.h's cutter give the packets that went in, byte
 * for byte (tests/overlay/test_gro.c). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "overlay/gso.h"

/* The caller's buffer: a virtio_net_hdr and a 64 KiB packet. */
#define OVERLAY_GRO_BUF_LEN (OVERLAY_VNET_HDR_LEN + 65535)

struct overlay_gro {
	uint8_t *buf;           /* borrowed, OVERLAY_GRO_BUF_LEN bytes */
	size_t len;             /* the pending packet's bytes after the header; 0: none */
	size_t l3_len, l4_len;  /* its IP and TCP header lengths */
	uint16_t gso_size;      /* its first segment's payload */
	uint16_t segs;          /* segments in it */
	uint16_t next_id;       /* IPv4: the id the next segment has */
	uint32_t next_seq;      /* the sequence number the next segment has */
	bool closed;            /* a short segment or PSH ended it */
};

enum overlay_gro_verdict {
	OVERLAY_GRO_HELD,       /* taken (copied): merged, or the new pending packet */
	OVERLAY_GRO_FLUSH,      /* a TCP packet that does not merge: flush, then add it again */
	OVERLAY_GRO_PASS,       /* not for coalescing: flush, then write it as it is */
};

/* overlay_gro_init: an empty coalescer over buf (OVERLAY_GRO_BUF_LEN
 * bytes, borrowed for the coalescer's life). */
void overlay_gro_init(struct overlay_gro *g, uint8_t *buf);

/* overlay_gro_add offers the IP packet p[0..n) (its own length: no link
 * padding after it). With nothing pending the answer is HELD or PASS, so
 * "flush, add again" ends. p is borrowed for the call only. */
enum overlay_gro_verdict overlay_gro_add(struct overlay_gro *g, const uint8_t *p, size_t n);

/* overlay_gro_flush: the pending packet as one TUN write (*out points into
 * the buffer, valid until the next add), its length (virtio_net_hdr
 * included), or 0 when nothing is pending. One segment goes with the
 * all-zero header, untouched; more with a GSO header, the IP lengths and
 * IPv4 checksum fixed and the TCP checksum field holding the pseudo-header
 * sum, as NEEDS_CSUM wants. The coalescer is empty after. */
size_t overlay_gro_flush(struct overlay_gro *g, const uint8_t **out);

#endif
