#ifndef OVERLAY_ICMP_H
#define OVERLAY_ICMP_H
/* overlay/icmp.h: the ICMP errors the overlay answers with.
 *
 * The overlay is a router for the programs on this machine: a packet to an
 * overlay address that is no member's gets "destination unreachable" at
 * once instead of a silent drop (so connect() fails fast instead of hanging
 * for minutes), and a packet too big for the path gets "fragmentation
 * needed" / "packet too big" with the MTU, so TCP's path MTU discovery
 * (RFC 1191, RFC 8201) shrinks its segments. The error is built as a
 * router would build it, addressed back to the packet's source, and
 * written to the TUN device.
 *
 * No error answers an error, a non-first fragment, or a packet from an
 * unspecified, multicast or broadcast source (RFC 1812 section 4.3.2.7,
 * RFC 4443 section 2.4 (e)): those get 0 and are dropped quietly. */
#include <stddef.h>
#include <stdint.h>

/* An error is at most this long: RFC 1812's 576 bytes for IPv4, the IPv6
 * minimum MTU for IPv6 (RFC 4443 section 2.4 (c)). */
#define OVERLAY_ICMP_MAX 1280

enum overlay_icmp_kind {
	OVERLAY_ICMP_UNREACHABLE,       /* v4 type 3 code 1; v6 type 1 code 3 */
	OVERLAY_ICMP_TOO_BIG,           /* v4 type 3 code 4; v6 type 2; carries mtu */
	OVERLAY_ICMP_PROHIBITED,        /* v4 type 3 code 13; v6 type 1 code 1: a firewall said no */
};

/* overlay_icmp_error builds, into out (at least OVERLAY_ICMP_MAX bytes),
 * the error for the IP packet pkt[0..n) (checked or not: a packet that does
 * not parse gets none), sent from `from` (4 bytes for an IPv4 packet, 16
 * for IPv6). The overlay sends it from the packet's own destination: the
 * kernel drops an arriving packet whose source is one of its own addresses
 * (a martian), and the destination is routed to the TUN, so reverse-path
 * filtering lets it in. mtu is the next-hop MTU
 * for OVERLAY_ICMP_TOO_BIG, ignored otherwise. Quotes as much of the
 * original as the limit allows. Returns the error's length, or 0 when none
 * must be sent. */
size_t overlay_icmp_error(const uint8_t *pkt, size_t n, enum overlay_icmp_kind kind, uint32_t mtu,
			  const uint8_t *from, uint8_t out[static OVERLAY_ICMP_MAX]);

#endif
