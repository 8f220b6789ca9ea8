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
 * The coalescer holds up to OVERLAY_GRO_FLOWS packets at once, one per flow
 * (addresses and ports), in fixed slots of the caller's buffer, as the
 * kernel's GRO keeps up to 8 packets per NAPI hash bucket: parallel streams
 * whose segments interleave in a batch each still merge. A packet joins its
 * flow's held packet only if it is that flow's next segment: IPv4 (no
 * options, not a fragment, the next IP id) or IPv6 (no extension headers)
 * carrying TCP; the same addresses, ports, ACK number, window, header
 * length and options bytes (a timestamp that differs does not merge, as in
 * the kernel's own GRO); the next sequence number exactly; ACK as its only
 * flag, PSH allowed on the last segment; the same IP header fields (TOS,
 * TTL, DF, flow label); a payload no larger than the first segment's, and a
 * smaller one or PSH ends the packet; at most 65,535 bytes in all. Both
 * checksums of every packet are verified first: the kernel does not check
 * a NEEDS_CSUM packet's, so a damaged packet must not hide in a merge.
 *
 * Order. Within a flow, packets leave in the order they came: a segment
 * that does not merge has its flow's held packet written first, and so does
 * any packet that is not coalesced but belongs to a held flow (a SYN, FIN,
 * RST or pure ACK of the same addresses and ports; an IPv4 fragment or an
 * IPv6 packet with extension headers between the same addresses, whose
 * ports cannot be seen; an ICMP or ICMPv6 error quoting a held flow's
 * packet, in either direction). Between flows, as in the kernel's GRO
 * (napi_gro_receive against napi_gro_flush), order is not kept: a packet
 * unrelated to the held flows is written at once, ahead of segments held
 * before it, and held flows are written oldest first, so flow A's later
 * segments may be written before flow B's earlier ones. A full table (a
 * new flow and every slot held) writes a packet that can grow no more (PSH,
 * short segment or full) first, else the oldest, like the kernel's
 * gro_flush_oldest.
 *
 * Cost: OVERLAY_GRO_FLOWS slots of 64 KiB (512 KiB, touched as flows use
 * them); a lookup compares the addresses and ports of up to 8 held packets;
 * each packet is copied once. No I/O and no allocation: overlay_gro_add
 * says what the caller writes, overlay_gro_flush hands out one held packet
 * with its header. Writes cut back with overlay/gso.h's cutter give the
 * packets that went in, byte for byte (tests/overlay/test_gro.c,
 * tests/fuzz/fuzz_gro.c). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "overlay/gso.h"

/* Flows held at once: the kernel's MAX_GRO_SKBS. */
#define OVERLAY_GRO_FLOWS 8
/* One flow's slot: a virtio_net_hdr and a 64 KiB packet. */
#define OVERLAY_GRO_BUF_LEN (OVERLAY_VNET_HDR_LEN + 65535)
/* The caller's buffer: every slot. */
#define OVERLAY_GRO_MEM_LEN (OVERLAY_GRO_FLOWS * OVERLAY_GRO_BUF_LEN)

/* One held packet; its headers are those of its first segment, at its
 * slot in the buffer. */
struct overlay_gro_flow {
	size_t len;             /* bytes after the header; 0: the slot is free */
	size_t l3_len, l4_len;  /* IP and TCP header lengths */
	uint64_t age;           /* when it began: smaller is older */
	uint32_t next_seq;      /* the sequence number the next segment has */
	uint16_t gso_size;      /* its first segment's payload */
	uint16_t segs;          /* segments in it */
	uint16_t next_id;       /* IPv4: the id the next segment has */
	bool closed;            /* a short segment or PSH ended it */
};

struct overlay_gro {
	uint8_t *buf;           /* borrowed, OVERLAY_GRO_MEM_LEN bytes; slot i at i * OVERLAY_GRO_BUF_LEN */
	struct overlay_gro_flow flows[OVERLAY_GRO_FLOWS];
	int due;                /* the slot overlay_gro_add asked to be written next; -1: none */
	uint64_t clock;         /* ages handed out */
};

enum overlay_gro_verdict {
	OVERLAY_GRO_HELD,       /* taken (copied): merged, or a new held packet */
	OVERLAY_GRO_FLUSH,      /* a held packet must be written first: overlay_gro_flush, then add it again */
	OVERLAY_GRO_PASS,       /* not for coalescing, and nothing held must go before it: write it as it is */
};

/* overlay_gro_init: an empty coalescer over buf (OVERLAY_GRO_MEM_LEN
 * bytes, borrowed for the coalescer's life). */
void overlay_gro_init(struct overlay_gro *g, uint8_t *buf);

/* overlay_gro_add offers the IP packet p[0..n) (its own length: no link
 * padding after it). FLUSH names one held packet (the next
 * overlay_gro_flush writes it) and takes nothing; each FLUSH frees a slot,
 * so "flush, add again" ends within OVERLAY_GRO_FLOWS + 1 rounds. p is
 * borrowed for the call only. */
enum overlay_gro_verdict overlay_gro_add(struct overlay_gro *g, const uint8_t *p, size_t n);

/* overlay_gro_flush: one held packet as one TUN write, the one the last
 * FLUSH named, else the oldest: *out points into the buffer (valid until
 * the next add), *out_segs (may be NULL) is its number of segments, and it
 * returns its length (virtio_net_hdr included), or 0 when nothing is held.
 * One segment goes with the all-zero header, untouched; more with a GSO
 * header, the IP lengths and IPv4 checksum fixed and the TCP checksum field
 * holding the pseudo-header sum, as NEEDS_CSUM wants. Call it until it
 * returns 0 to write everything (oldest first). */
size_t overlay_gro_flush(struct overlay_gro *g, const uint8_t **out, uint16_t *out_segs);

#endif
