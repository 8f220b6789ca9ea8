/* overlay/gso.c: see gso.h. */
#include "overlay/gso.h"

#include <errno.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "overlay/packet.h"

const uint8_t overlay_vnet_none[OVERLAY_VNET_HDR_LEN];

enum { TCP_FIN = 0x01, TCP_PSH = 0x08, TCP_CWR = 0x80, TCP_CHECK_OFF = 16 };

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int overlay_gso_begin(struct overlay_gso_iter *it, uint8_t *buf, size_t n)
{
	memset(it, 0, sizeof *it);
	if (n < OVERLAY_VNET_HDR_LEN)
		return -EINVAL;
	/* The header's fields are in the host's (little-endian) order: the
	 * device was not switched to another (TUNSETVNETBE/LE). */
	it->flags = buf[0];
	it->gso_type = buf[1];
	it->hdr_len = le16(buf + 2);
	it->gso_size = le16(buf + 4);
	it->csum_start = le16(buf + 6);
	it->csum_offset = le16(buf + 8);
	it->pkt = buf + OVERLAY_VNET_HDR_LEN;
	it->len = n - OVERLAY_VNET_HDR_LEN;
	if ((it->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    ((size_t)it->csum_start + it->csum_offset + 2 > it->len)) {
		it->done = true;
		return -EINVAL;
	}
	return 0;
}

/* The TCP checksum of seg[0..n) (l3 bytes of IP header, then TCP) from its
 * pseudo-header (RFC 793, RFC 8200 §8.1), stored in the TCP header. */
static void tcp_checksum(uint8_t *seg, size_t l3, size_t n, int version)
{
	uint8_t *tcp = seg + l3;
	size_t tl = n - l3;
	uint8_t pseudo[40] = {0};
	size_t pl;
	if (version == 4) {
		memcpy(pseudo, seg + 12, 8);
		pseudo[9] = 6;
		put16(pseudo + 10, (uint16_t)tl);
		pl = 12;
	} else {
		memcpy(pseudo, seg + 8, 32);
		put32(pseudo + 32, (uint32_t)tl);
		pseudo[39] = 6;
		pl = 40;
	}
	put16(tcp + TCP_CHECK_OFF, 0);
	uint32_t sum = overlay_csum(overlay_csum(0, pseudo, pl), tcp, tl);
	put16(tcp + TCP_CHECK_OFF, overlay_csum_finish(sum));
}

/* Checks a TSO packet once, at its first segment: IPv4 or IPv6 carrying
 * TCP at csum_start, the TCP header inside the packet, a segment size. */
static int tso_check(struct overlay_gso_iter *it)
{
	const uint8_t *p = it->pkt;
	if (!it->gso_size || it->len < 20 || !(it->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
	    it->csum_offset != TCP_CHECK_OFF)
		return -EINVAL;
	int version = p[0] >> 4;
	if (version == 4) {
		size_t ihl = (size_t)(p[0] & 0x0f) * 4;
		if (ihl < 20 || ihl != it->csum_start || p[9] != 6 || (be16(p + 6) & 0x3fff) ||
		    (it->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_TCPV4)
			return -EINVAL; /* options are fine; a fragment is not */
	} else if (version == 6) {
		if (it->csum_start < 40 || (it->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_TCPV6)
			return -EINVAL;
		if (it->csum_start == 40 && p[6] != 6)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	it->l3_len = it->csum_start;
	if (it->l3_len + 20 > it->len)
		return -EINVAL;
	it->l4_len = (size_t)(p[it->l3_len + 12] >> 4) * 4;
	if (it->l4_len < 20 || it->l3_len + it->l4_len > it->len)
		return -EINVAL;
	it->off = it->l3_len + it->l4_len;
	return 0;
}

/* The next TSO segment into out. */
static long tso_next(struct overlay_gso_iter *it, uint8_t *out, size_t cap)
{
	const uint8_t *p = it->pkt;
	size_t hl = it->l3_len + it->l4_len;
	if (it->off >= it->len && it->seg)
		return 0;
	size_t chunk = it->len - it->off;
	if (chunk > it->gso_size)
		chunk = it->gso_size;
	size_t n = hl + chunk;
	if (n > cap || n > 65535)
		return -ENOBUFS;
	bool last = it->off + chunk >= it->len;
	memcpy(out, p, hl);
	memcpy(out + hl, p + it->off, chunk);
	int version = p[0] >> 4;
	if (version == 4) {
		put16(out + 2, (uint16_t)n);
		put16(out + 4, (uint16_t)(be16(p + 4) + it->seg));
		put16(out + 10, 0);
		put16(out + 10, overlay_csum_finish(overlay_csum(0, out, it->l3_len)));
	} else {
		put16(out + 4, (uint16_t)(n - 40));
	}
	uint8_t *tcp = out + it->l3_len;
	put32(tcp + 4, be32(p + it->l3_len + 4) + (uint32_t)(it->off - hl));
	if (!last)
		tcp[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
	if (it->seg)
		tcp[13] &= (uint8_t)~TCP_CWR;
	tcp_checksum(out, it->l3_len, n, version);
	it->off += chunk;
	it->seg++;
	return (long)n;
}

long overlay_gso_next(struct overlay_gso_iter *it, uint8_t *out, size_t cap, const uint8_t **pkt)
{
	long r;
	if (it->done)
		return 0;
	if (it->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		/* One packet: finish its checksum in place if the kernel left
		 * it (the partial sum it holds covers the pseudo-header). */
		it->done = true;
		if (it->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			uint8_t *c = it->pkt + it->csum_start;
			put16(c + it->csum_offset,
			      overlay_csum_finish(overlay_csum(0, c, it->len - it->csum_start)));
		}
		*pkt = it->pkt;
		return (long)it->len;
	}
	uint8_t t = it->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if (t != VIRTIO_NET_HDR_GSO_TCPV4 && t != VIRTIO_NET_HDR_GSO_TCPV6) {
		it->done = true;
		return -EPROTONOSUPPORT;
	}
	if (!it->seg && !it->off && (r = tso_check(it)) < 0) {
		it->done = true;
		return r;
	}
	r = tso_next(it, out, cap);
	if (r <= 0)
		it->done = true;
	*pkt = out;
	return r;
}
