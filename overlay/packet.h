#ifndef OVERLAY_PACKET_H
#define OVERLAY_PACKET_H
/* overlay/packet.h: the IP packets the overlay carries.
 *
 * A packet read from the TUN device, or opened from a peer, is checked here
 * before anything routes it: version 4 or 6, a header that fits, lengths
 * that agree. Nothing else about it is trusted (options, extension headers
 * and payload are the endpoints' business). The parser reads only the
 * bytes it is given and copies nothing but the addresses. */
#include <stddef.h>
#include <stdint.h>

enum overlay_ip_err {
	OVERLAY_IP_OK = 0,
	OVERLAY_IP_E_SHORT = -1,     /* shorter than the fixed header */
	OVERLAY_IP_E_VERSION = -2,   /* neither 4 nor 6 */
	OVERLAY_IP_E_HEADER = -3,    /* v4 IHL < 5 or past the end */
	OVERLAY_IP_E_LENGTH = -4,    /* the length field disagrees with the bytes */
};

struct overlay_ip {
	uint8_t version;        /* 4 or 6 */
	uint8_t proto;          /* v4 protocol / v6 next header (of the fixed header) */
	uint16_t hdr_len;       /* v4: IHL * 4; v6: 40 */
	uint16_t len;           /* the packet's own total length (<= the bytes given) */
	uint16_t frag_off;      /* v4: fragment offset in 8-byte units; v6: 0 */
	uint8_t src[16], dst[16];       /* v4: the first 4 bytes, network order */
};

/* overlay_ip_parse checks p[0..n) and fills *out. Bytes after the packet's
 * own length (link padding) are allowed and left out of out->len. Returns
 * OVERLAY_IP_OK or one of the errors above (*out then undefined). */
enum overlay_ip_err overlay_ip_parse(const uint8_t *p, size_t n, struct overlay_ip *out);

/* overlay_ip_err_name: a short name for logs and counters. */
const char *overlay_ip_err_name(enum overlay_ip_err e);

/* overlay_csum folds the Internet checksum (RFC 1071) of p[0..n) into
 * sum (start from 0); only the last piece of a chained sum may have an odd
 * length. overlay_csum_finish returns the complement to store. */
uint32_t overlay_csum(uint32_t sum, const uint8_t *p, size_t n);
uint16_t overlay_csum_finish(uint32_t sum);

#endif
