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

/* A packet's flow as the table sees it: IP version (by header length),
 * addresses and, when they can be seen, TCP ports. */
struct key {
	size_t l3;              /* 20: IPv4, 40: IPv6 (the held packets' header lengths) */
	const uint8_t *src, *dst;
	const uint8_t *ports;   /* source then destination port; NULL: not seen */
};

/* The key of held packet h (IPv4 without options or IPv6, then TCP). */
static struct key held_key(const uint8_t *h, size_t l3)
{
	return (struct key){.l3 = l3, .src = h + (l3 == 20 ? 12 : 8), .dst = h + (l3 == 20 ? 16 : 24), .ports = h + l3};
}

/* Whether k names held flow h's packets (reverse: the other direction's,
 * as an ICMP error quotes them). */
static bool key_match(const struct key *k, const struct key *h, bool reverse)
{
	size_t a = k->l3 == 20 ? 4 : 16;
	const uint8_t *hs = reverse ? h->dst : h->src, *hd = reverse ? h->src : h->dst;
	if (k->l3 != h->l3 || memcmp(k->src, hs, a) || memcmp(k->dst, hd, a))
		return false;
	if (!k->ports)
		return true;
	return reverse ? !memcmp(k->ports, h->ports + 2, 2) && !memcmp(k->ports + 2, h->ports, 2)
		       : !memcmp(k->ports, h->ports, 4);
}

/* Slot i's held packet (after its virtio_net_hdr). */
static uint8_t *held_pkt(const struct overlay_gro *g, int i)
{
	return g->buf + (size_t)i * OVERLAY_GRO_BUF_LEN + OVERLAY_VNET_HDR_LEN;
}

/* The held flow k names (either_way: or the other direction's), -1: none. */
static int flow_of(const struct overlay_gro *g, const struct key *k, bool either_way)
{
	for (int i = 0; i < OVERLAY_GRO_FLOWS; i++) {
		const struct overlay_gro_flow *f = &g->flows[i];
		if (!f->len)
			continue;
		struct key h = held_key(held_pkt(g, i), f->l3_len);
		if (key_match(k, &h, false) || (either_way && key_match(k, &h, true)))
			return i;
	}
	return -1;
}

enum { PROTO_ICMP = 1, PROTO_TCP = 6, PROTO_UDP = 17, PROTO_ICMPV6 = 58, PROTO_NONE6 = 59 };

/* The key of packet p[0..n), which need not be complete (an ICMP error
 * quotes the start of one): its protocol in *proto and the offset of its
 * transport header in *l4. False: not IPv4 or IPv6, or shorter than its IP
 * header. An IPv4 fragment after the first, an IPv6 next header that is an
 * extension header, or a TCP header cut short leaves the ports unseen. */
static bool key_of(const uint8_t *p, size_t n, struct key *k, uint8_t *proto, size_t *l4)
{
	if (n >= 20 && (p[0] >> 4) == 4) {
		size_t ihl = (size_t)(p[0] & 0x0f) * 4;
		if (ihl < 20 || ihl > n)
			return false;
		*k = (struct key){.l3 = 20, .src = p + 12, .dst = p + 16};
		*proto = p[9];
		*l4 = ihl;
		if (be16(p + 6) & 0x1fff) {
			*proto = 0; /* a later fragment: the transport header is elsewhere */
			k->ports = NULL;
			return true;
		}
	} else if (n >= 40 && (p[0] >> 4) == 6) {
		*k = (struct key){.l3 = 40, .src = p + 8, .dst = p + 24};
		*proto = p[6];
		*l4 = 40;
	} else {
		return false;
	}
	if (*proto == PROTO_TCP && *l4 + 4 <= n)
		k->ports = p + *l4;
	return true;
}

/* Whether a packet with protocol proto (0: unknown) between k's addresses
 * may carry TCP whose ports are hidden from key_of: an IPv4 later
 * fragment, or IPv6 extension headers (anything but the upper layers seen
 * here). */
static bool maybe_tcp(const struct key *k, uint8_t proto)
{
	if (proto == PROTO_TCP)
		return !k->ports;
	if (k->l3 == 20)
		return proto == 0;
	return proto != PROTO_UDP && proto != PROTO_ICMPV6 && proto != PROTO_NONE6;
}

/* The held slot packet p[0..n) must not overtake, or -1: one of the same
 * flow; with ports unseen (maybe_tcp), one between the same addresses;
 * for an ICMP or ICMPv6 error, the flow of the packet it quotes, in either
 * direction. */
static int related(const struct overlay_gro *g, const uint8_t *p, size_t n)
{
	struct key k, inner;
	uint8_t proto, iproto;
	size_t l4, il4;
	bool quoted = false;
	if (!key_of(p, n, &k, &proto, &l4))
		return -1;
	if (proto != PROTO_TCP && !maybe_tcp(&k, proto)) {
		/* ICMP: destination unreachable, time exceeded, parameter
		 * problem (RFC 792); ICMPv6: destination unreachable, packet
		 * too big, time exceeded, parameter problem (RFC 4443 §3). The
		 * quoted packet starts 8 bytes into the message. */
		bool err = (proto == PROTO_ICMP && k.l3 == 20 && l4 + 8 <= n && (p[l4] == 3 || p[l4] == 11 || p[l4] == 12)) ||
			   (proto == PROTO_ICMPV6 && k.l3 == 40 && l4 + 8 <= n && p[l4] >= 1 && p[l4] <= 4);
		if (!err || !key_of(p + l4 + 8, n - l4 - 8, &inner, &iproto, &il4) || inner.l3 != k.l3 ||
		    (iproto != PROTO_TCP && !maybe_tcp(&inner, iproto)))
			return -1;
		k = inner;
		quoted = true;
	}
	return flow_of(g, &k, quoted);
}

/* Whether packet p (parsed into s) is the next segment of held flow f
 * (h: the headers of its first segment, which the rest share). The key
 * matched already. */
static bool follows(const struct overlay_gro_flow *f, const uint8_t *h, const uint8_t *p, const struct seg *s)
{
	if (f->closed || s->l4 != f->l4_len || s->seq != f->next_seq || s->payload > f->gso_size ||
	    f->len + s->payload > IP_MAX)
		return false;
	if (s->l3 == 20) {
		/* TOS; the next id; DF, TTL and protocol. */
		if (p[1] != h[1] || be16(p + 4) != f->next_id || memcmp(p + 6, h + 6, 4))
			return false;
	} else {
		/* Traffic class and flow label; next header and hop limit. */
		if (memcmp(p, h, 4) || memcmp(p + 6, h + 6, 2))
			return false;
	}
	const uint8_t *a = p + s->l3, *b = h + s->l3;
	/* ACK number and header length; window; urgent pointer; the
	 * options. */
	return !memcmp(a + 8, b + 8, 5) && !memcmp(a + 14, b + 14, 2) && !memcmp(a + 18, b + 18, 2) &&
	       !memcmp(a + 20, b + 20, s->l4 - 20);
}

/* Whether f can take no more segments. */
static bool done(const struct overlay_gro_flow *f)
{
	return f->closed || f->len + f->gso_size > IP_MAX;
}

/* The slot a full table gives up: the oldest that is done, else the
 * oldest. */
static int victim(const struct overlay_gro *g)
{
	int v = -1;
	for (int i = 0; i < OVERLAY_GRO_FLOWS; i++) {
		const struct overlay_gro_flow *f = &g->flows[i], *w = v >= 0 ? &g->flows[v] : NULL;
		if (!f->len)
			continue;
		if (!w || (done(f) && !done(w)) || (done(f) == done(w) && f->age < w->age))
			v = i;
	}
	return v;
}

void overlay_gro_init(struct overlay_gro *g, uint8_t *buf)
{
	memset(g, 0, sizeof *g);
	g->buf = buf;
	g->due = -1;
}

enum overlay_gro_verdict overlay_gro_add(struct overlay_gro *g, const uint8_t *p, size_t n)
{
	struct seg s;
	if (n > IP_MAX || !parse(p, n, &s)) {
		int r = related(g, p, n);
		if (r < 0)
			return OVERLAY_GRO_PASS;
		g->due = r;
		return OVERLAY_GRO_FLUSH;
	}
	/* Its flow's slot, or a free one. */
	struct key k = held_key(p, s.l3);
	int slot = flow_of(g, &k, false);
	if (slot >= 0) {
		struct overlay_gro_flow *f = &g->flows[slot];
		uint8_t *h = held_pkt(g, slot);
		if (!follows(f, h, p, &s)) {
			g->due = slot;
			return OVERLAY_GRO_FLUSH;
		}
		memcpy(h + f->len, p + s.l3 + s.l4, s.payload);
		f->len += s.payload;
		f->segs++;
		f->next_seq += (uint32_t)s.payload;
		f->next_id++;
		if (s.payload < f->gso_size || (s.flags & TCP_PSH)) {
			/* The last segment: its flags are the packet's (the
			 * cutter gives PSH to the last segment only). */
			h[f->l3_len + 13] = s.flags;
			f->closed = true;
		}
		return OVERLAY_GRO_HELD;
	}
	int free_slot = 0;
	while (free_slot < OVERLAY_GRO_FLOWS && g->flows[free_slot].len)
		free_slot++;
	if (free_slot == OVERLAY_GRO_FLOWS) {
		g->due = victim(g);
		return OVERLAY_GRO_FLUSH;
	}
	struct overlay_gro_flow *f = &g->flows[free_slot];
	memcpy(held_pkt(g, free_slot), p, n);
	*f = (struct overlay_gro_flow){
		.len = n,
		.l3_len = s.l3,
		.l4_len = s.l4,
		.age = g->clock++,
		.next_seq = s.seq + (uint32_t)s.payload,
		.gso_size = (uint16_t)s.payload,
		.segs = 1,
		.next_id = s.l3 == 20 ? (uint16_t)(be16(p + 4) + 1) : 0,
		.closed = (s.flags & TCP_PSH) != 0,
	};
	return OVERLAY_GRO_HELD;
}

size_t overlay_gro_flush(struct overlay_gro *g, const uint8_t **out, uint16_t *out_segs)
{
	int slot = g->due;
	g->due = -1;
	if (slot < 0 || !g->flows[slot].len) {
		slot = -1;
		for (int i = 0; i < OVERLAY_GRO_FLOWS; i++)
			if (g->flows[i].len && (slot < 0 || g->flows[i].age < g->flows[slot].age))
				slot = i;
		if (slot < 0)
			return 0;
	}
	struct overlay_gro_flow *f = &g->flows[slot];
	size_t n = f->len;
	uint8_t *v = g->buf + (size_t)slot * OVERLAY_GRO_BUF_LEN, *h = v + OVERLAY_VNET_HDR_LEN;
	memset(v, 0, OVERLAY_VNET_HDR_LEN);
	if (f->segs > 1) {
		size_t l3 = f->l3_len;
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
		put_le16(v + 2, l3 + f->l4_len);
		put_le16(v + 4, f->gso_size);
		put_le16(v + 6, l3);
		put_le16(v + 8, TCP_CHECK_OFF);
	}
	if (out_segs)
		*out_segs = f->segs;
	f->len = 0;
	*out = v;
	return OVERLAY_VNET_HDR_LEN + n;
}
