/* overlay/gro.c: see gro.h. */
#include "overlay/gro.h"

#include <string.h>

#include <linux/virtio_net.h>

#include "overlay/packet.h"

enum { TCP_PSH = 0x08, TCP_ACK = 0x10, TCP_CHECK_OFF = 16, IP_MAX = 65535 };

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_le16(uint8_t *p, size_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

/* What a packet that may be coalesced looks like. */
struct seg {
	size_t l3, l4, payload;
	uint32_t seq;
	uint8_t flags;
};

/* The sum of the TCP pseudo-header (RFC 793, RFC 8200 §8.1) of packet p
 * (l3 bytes of IP header) for tcp_len bytes of TCP, folded, not
 * complemented. */
static uint32_t pseudo_sum(const uint8_t *p, size_t l3, size_t tcp_len)
{
	uint8_t tail[4] = {0, 6, (uint8_t)(tcp_len >> 8), (uint8_t)tcp_len};
	/* IPv4: the addresses at 12, IPv6: at 8; the length fits 16 bits in
	 * both (total <= 65535), so IPv6's 32-bit length sums the same. */
	uint32_t sum = l3 == 20 ? overlay_csum(0, p + 12, 8) : overlay_csum(0, p + 8, 32);
	return overlay_csum(sum, tail, sizeof tail);
}

/* Whether p[0..n) is a packet the coalescer takes: IPv4 without options
 * or fragments, or IPv6 without extension headers, carrying TCP with data,
 * ACK (and maybe PSH) its only flags, lengths and checksums right. */
static bool parse(const uint8_t *p, size_t n, struct seg *s)
{
	if (n < 20)
		return false;
	if (p[0] == 0x45) {
		if (be16(p + 2) != n || (be16(p + 6) & 0x3fff) || p[9] != 6 || be16(p + 10) == 0xffff ||
		    overlay_csum_finish(overlay_csum(0, p, 20)) != 0)
			return false;
		s->l3 = 20;
	} else if ((p[0] >> 4) == 6) {
		if (n < 40 || p[6] != 6 || be16(p + 4) != n - 40)
			return false;
		s->l3 = 40;
	} else {
		return false;
	}
	const uint8_t *tcp = p + s->l3;
	if (n < s->l3 + 20)
		return false;
	s->l4 = (size_t)(tcp[12] >> 4) * 4;
	s->flags = tcp[13];
	/* The low bits of byte 12 are reserved or AccECN's AE: none set. */
	if (s->l4 < 20 || s->l3 + s->l4 >= n || (tcp[12] & 0x0f) || (s->flags & (uint8_t)~TCP_PSH) != TCP_ACK)
		return false;
	/* A checksum field of 0xffff verifies only where 0 is the one a
	 * sender computes (-0 for +0): cut back, such a packet would not come
	 * out the same, so it is left alone (here and for IPv4's header). */
	size_t tl = n - s->l3;
	if (be16(tcp + 16) == 0xffff || overlay_csum_finish(overlay_csum(pseudo_sum(p, s->l3, tl), tcp, tl)) != 0)
		return false;
	s->payload = n - s->l3 - s->l4;
	s->seq = be32(tcp + 4);
	return true;
}

/* Whether packet p (parsed into s) is the next segment of the pending
 * flow h (the headers of its first segment, which the rest share). */
static bool follows(const struct overlay_gro *g, const uint8_t *h, const uint8_t *p, const struct seg *s)
{
	if (g->closed || s->l3 != g->l3_len || s->l4 != g->l4_len || s->seq != g->next_seq ||
	    s->payload > g->gso_size || g->len + s->payload > IP_MAX)
		return false;
	if (s->l3 == 20) {
		/* TOS; the next id; DF, TTL and protocol; addresses. */
		if (p[1] != h[1] || be16(p + 4) != g->next_id || memcmp(p + 6, h + 6, 4) || memcmp(p + 12, h + 12, 8))
			return false;
	} else {
		/* Traffic class and flow label; next header and hop limit;
		 * addresses. */
		if (memcmp(p, h, 4) || memcmp(p + 6, h + 6, 34))
			return false;
	}
	const uint8_t *a = p + s->l3, *b = h + s->l3;
	/* Ports; ACK number and header length; window; urgent pointer; the
	 * options. */
	return !memcmp(a, b, 4) && !memcmp(a + 8, b + 8, 5) && !memcmp(a + 14, b + 14, 2) && !memcmp(a + 18, b + 18, 2) &&
	       !memcmp(a + 20, b + 20, s->l4 - 20);
}

void overlay_gro_init(struct overlay_gro *g, uint8_t *buf)
{
	memset(g, 0, sizeof *g);
	g->buf = buf;
}

enum overlay_gro_verdict overlay_gro_add(struct overlay_gro *g, const uint8_t *p, size_t n)
{
	struct seg s;
	if (n > IP_MAX || !parse(p, n, &s))
		return OVERLAY_GRO_PASS;
	uint8_t *h = g->buf + OVERLAY_VNET_HDR_LEN;
	if (!g->len) {
		memcpy(h, p, n);
		g->len = n;
		g->l3_len = s.l3;
		g->l4_len = s.l4;
		g->gso_size = (uint16_t)s.payload;
		g->segs = 1;
		g->next_seq = s.seq + (uint32_t)s.payload;
		g->next_id = s.l3 == 20 ? (uint16_t)(be16(p + 4) + 1) : 0;
		g->closed = (s.flags & TCP_PSH) != 0;
		return OVERLAY_GRO_HELD;
	}
	if (!follows(g, h, p, &s))
		return OVERLAY_GRO_FLUSH;
	memcpy(h + g->len, p + s.l3 + s.l4, s.payload);
	g->len += s.payload;
	g->segs++;
	g->next_seq += (uint32_t)s.payload;
	g->next_id++;
	if (s.payload < g->gso_size || (s.flags & TCP_PSH)) {
		/* The last segment: its flags are the packet's (the cutter
		 * gives PSH to the last segment only). */
		h[g->l3_len + 13] = s.flags;
		g->closed = true;
	}
	return OVERLAY_GRO_HELD;
}

size_t overlay_gro_flush(struct overlay_gro *g, const uint8_t **out)
{
	size_t n = g->len;
	if (!n)
		return 0;
	uint8_t *v = g->buf, *h = g->buf + OVERLAY_VNET_HDR_LEN;
	memset(v, 0, OVERLAY_VNET_HDR_LEN);
	if (g->segs > 1) {
		size_t l3 = g->l3_len;
		if (l3 == 20) {
			put16(h + 2, (uint16_t)n);
			put16(h + 10, 0);
			put16(h + 10, overlay_csum_finish(overlay_csum(0, h, 20)));
		} else {
			put16(h + 4, (uint16_t)(n - 40));
		}
		/* NEEDS_CSUM: the field holds the pseudo-header's sum, the
		 * device (here the kernel, or nobody on local delivery) adds
		 * the rest (virtio_net_hdr, CHECKSUM_PARTIAL). */
		put16(h + l3 + TCP_CHECK_OFF, (uint16_t)pseudo_sum(h, l3, n - l3));
		v[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		v[1] = l3 == 20 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
		put_le16(v + 2, l3 + g->l4_len);
		put_le16(v + 4, g->gso_size);
		put_le16(v + 6, l3);
		put_le16(v + 8, TCP_CHECK_OFF);
	}
	g->len = 0;
	g->segs = 0;
	g->closed = false;
	*out = g->buf;
	return OVERLAY_VNET_HDR_LEN + n;
}
