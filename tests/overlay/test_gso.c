/* overlay/gso: cutting the kernel's TSO reads into the packets it would
 * have sent, and finishing checksums it left to the device. Each segment is
 * checked as a receiver would: the IPv4 header checksum, the TCP checksum
 * over the pseudo-header, lengths, sequence numbers, flags, and the
 * payload put back together equals the original. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "overlay/gso.h"
#include "overlay/packet.h"

static uint8_t buf[OVERLAY_GSO_MAX_READ];
static uint8_t seg[4096];

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

/* A read as the kernel hands it: the header, then an IPv4 or IPv6 TCP
 * packet of payload bytes (byte i = i * 7), flags in the TCP header, the
 * TCP checksum field holding the pseudo-header sum as for CHECKSUM_PARTIAL
 * (any value works: the cutter recomputes it). Returns the read's length. */
static size_t tso_read(int version, size_t payload, uint16_t mss, uint8_t tcp_flags, uint8_t gso_type)
{
	memset(buf, 0, sizeof buf);
	size_t l3 = version == 4 ? 20 : 40, l4 = 32; /* a TCP header with 12 bytes of options */
	uint8_t *v = buf, *ip = buf + OVERLAY_VNET_HDR_LEN, *tcp = ip + l3;
	size_t n = l3 + l4 + payload;
	v[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	v[1] = gso_type;
	v[2] = (uint8_t)(l3 + l4), v[4] = (uint8_t)mss, v[5] = (uint8_t)(mss >> 8);
	v[6] = (uint8_t)l3, v[8] = 16;
	if (version == 4) {
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)n);
		put16(ip + 4, 0x1234);
		put16(ip + 6, 0x4000); /* DF */
		ip[8] = 64, ip[9] = 6;
		memcpy(ip + 12, "\x64\x40\x00\x01\x64\x40\x00\x02", 8);
	} else {
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)(n - 40));
		ip[6] = 6, ip[7] = 64;
		ip[8] = 0xfd, ip[23] = 1, ip[24] = 0xfd, ip[39] = 2;
	}
	put16(tcp, 40000), put16(tcp + 2, 8000);
	memcpy(tcp + 4, "\xff\xff\xff\x00", 4); /* a sequence number that wraps */
	tcp[12] = (uint8_t)((l4 / 4) << 4), tcp[13] = tcp_flags;
	put16(tcp + 14, 65000);
	put16(tcp + 16, 0xbeef);
	for (size_t i = 0; i < payload; i++)
		tcp[l4 + i] = (uint8_t)(i * 7);
	return OVERLAY_VNET_HDR_LEN + n;
}

/* The TCP checksum of packet p verifies (the sum including it folds to
 * 0xffff). */
static bool tcp_ok(const uint8_t *p, size_t n, size_t l3)
{
	uint8_t pseudo[40] = {0};
	size_t pl;
	if ((p[0] >> 4) == 4) {
		memcpy(pseudo, p + 12, 8);
		pseudo[9] = 6;
		put16(pseudo + 10, (uint16_t)(n - l3));
		pl = 12;
	} else {
		memcpy(pseudo, p + 8, 32);
		put16(pseudo + 36, (uint16_t)(n - l3));
		pseudo[39] = 6;
		pl = 40;
	}
	return overlay_csum_finish(overlay_csum(overlay_csum(0, pseudo, pl), p + l3, n - l3)) == 0;
}

static void cut_and_check(int version, size_t payload, uint16_t mss, uint8_t flags)
{
	size_t l3 = version == 4 ? 20 : 40, l4 = 32;
	size_t n = tso_read(version, payload, mss, flags,
			    version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6);
	struct overlay_gso_iter it;
	cr_assert_eq(overlay_gso_begin(&it, buf, n), 0);
	static uint8_t joined[65536];
	size_t got = 0, segs = 0, want_segs = payload ? (payload + mss - 1) / mss : 1;
	const uint8_t *p;
	long m;
	while ((m = overlay_gso_next(&it, seg, sizeof seg, &p)) > 0) {
		struct overlay_ip ip;
		cr_assert_eq(overlay_ip_parse(p, (size_t)m, &ip), OVERLAY_IP_OK, "segment %zu parses", segs);
		cr_assert_eq(ip.len, (size_t)m);
		size_t chunk = (size_t)m - l3 - l4;
		cr_assert(chunk == mss || (segs == want_segs - 1 && chunk == payload - got), "segment %zu: %zu bytes", segs,
			  chunk);
		if (version == 4) {
			cr_assert_eq(overlay_csum_finish(overlay_csum(0, p, 20)), 0, "IPv4 header checksum of %zu", segs);
			cr_assert_eq(get16(p + 4), (uint16_t)(0x1234 + segs), "IP id");
			cr_assert_eq(get16(p + 6), 0x4000, "DF kept");
		}
		cr_assert(tcp_ok(p, (size_t)m, l3), "TCP checksum of segment %zu", segs);
		const uint8_t *tcp = p + l3;
		cr_assert_eq(get32(tcp + 4), (uint32_t)(0xffffff00u + got), "sequence of segment %zu", segs);
		bool last = segs == want_segs - 1;
		cr_assert_eq(tcp[13] & 0x09, last ? (flags & 0x09) : 0, "FIN/PSH only on the last");
		cr_assert_eq(tcp[13] & 0x80, segs ? 0 : (flags & 0x80), "CWR only on the first");
		cr_assert_eq(tcp[13] & 0x10, flags & 0x10, "ACK on all");
		cr_assert(!memcmp(tcp + 20, buf + OVERLAY_VNET_HDR_LEN + l3 + 20, 12), "options copied");
		memcpy(joined + got, tcp + l4, chunk);
		got += chunk;
		segs++;
	}
	cr_assert_eq(m, 0, "ends cleanly");
	cr_assert_eq(segs, want_segs);
	cr_assert_eq(got, payload);
	for (size_t i = 0; i < payload; i++)
		cr_assert_eq(joined[i], (uint8_t)(i * 7), "payload byte %zu", i);
}

Test(gso, ipv4_tso_is_cut_into_checked_segments)
{
	cut_and_check(4, 20000, 1368, 0x18 | 0x01 | 0x80); /* ACK PSH FIN CWR */
}

Test(gso, ipv6_tso_is_cut_into_checked_segments)
{
	cut_and_check(6, 64000, 1348, 0x18);
}

Test(gso, a_payload_of_exactly_segments_and_a_short_one)
{
	cut_and_check(4, 1368 * 3, 1368, 0x18);
	cut_and_check(4, 100, 1368, 0x18);
}

Test(gso, an_ordinary_packet_is_passed_as_is)
{
	size_t n = tso_read(4, 500, 0, 0x18, VIRTIO_NET_HDR_GSO_NONE);
	buf[0] = 0; /* no NEEDS_CSUM: the packet is complete */
	struct overlay_gso_iter it;
	const uint8_t *p;
	cr_assert_eq(overlay_gso_begin(&it, buf, n), 0);
	cr_assert_eq(overlay_gso_next(&it, seg, sizeof seg, &p), (long)(n - OVERLAY_VNET_HDR_LEN));
	cr_assert_eq(p, buf + OVERLAY_VNET_HDR_LEN, "no copy");
	cr_assert_eq(overlay_gso_next(&it, seg, sizeof seg, &p), 0);
}

Test(gso, an_unfinished_checksum_is_finished)
{
	/* CHECKSUM_PARTIAL: the field holds the pseudo-header's folded sum,
	 * as the kernel leaves it; the cutter sums from csum_start. */
	size_t n = tso_read(4, 777, 0, 0x18, VIRTIO_NET_HDR_GSO_NONE);
	uint8_t *ip = buf + OVERLAY_VNET_HDR_LEN;
	size_t len = n - OVERLAY_VNET_HDR_LEN;
	uint8_t pseudo[12] = {0};
	memcpy(pseudo, ip + 12, 8);
	pseudo[9] = 6;
	put16(pseudo + 10, (uint16_t)(len - 20));
	uint32_t s = overlay_csum(0, pseudo, 12);
	put16(ip + 20 + 16, (uint16_t)~overlay_csum_finish(s));
	cr_assert(!tcp_ok(ip, len, 20), "not finished yet");
	struct overlay_gso_iter it;
	const uint8_t *p;
	cr_assert_eq(overlay_gso_begin(&it, buf, n), 0);
	cr_assert_eq(overlay_gso_next(&it, seg, sizeof seg, &p), (long)len);
	cr_assert(tcp_ok(p, len, 20), "the checksum verifies");
}

Test(gso, malformed_reads_are_refused)
{
	struct overlay_gso_iter it;
	const uint8_t *p;
	cr_assert_eq(overlay_gso_begin(&it, buf, 9), -EINVAL, "shorter than the header");
	size_t n = tso_read(4, 3000, 1368, 0x18, VIRTIO_NET_HDR_GSO_TCPV4);
	buf[6] = 0xff, buf[7] = 0xff; /* csum_start past the end */
	cr_assert_eq(overlay_gso_begin(&it, buf, n), -EINVAL);

	n = tso_read(4, 3000, 1368, 0x18, VIRTIO_NET_HDR_GSO_UDP);
	cr_assert_eq(overlay_gso_begin(&it, buf, n), 0);
	cr_assert_eq(overlay_gso_next(&it, seg, sizeof seg, &p), -EPROTONOSUPPORT, "UFO");
	cr_assert_eq(overlay_gso_next(&it, seg, sizeof seg, &p), 0, "done after an error");

	n = tso_read(4, 3000, 0, 0x18, VIRTIO_NET_HDR_GSO_TCPV4);
	cr_assert_eq(overlay_gso_begin(&it, buf, n), 0);
	cr_assert_eq(overlay_gso_next(&it, seg, sizeof seg, &p), -EINVAL, "segment size 0");

	n = tso_read(6, 3000, 1348, 0x18, VIRTIO_NET_HDR_GSO_TCPV4);
	cr_assert_eq(overlay_gso_begin(&it, buf, n), 0);
	cr_assert_eq(overlay_gso_next(&it, seg, sizeof seg, &p), -EINVAL, "IPv6 under a TCPV4 type");

	n = tso_read(4, 3000, 1368, 0x18, VIRTIO_NET_HDR_GSO_TCPV4);
	buf[OVERLAY_VNET_HDR_LEN + 9] = 17; /* UDP under TSO */
	cr_assert_eq(overlay_gso_begin(&it, buf, n), 0);
	cr_assert_eq(overlay_gso_next(&it, seg, sizeof seg, &p), -EINVAL, "not TCP");

	n = tso_read(4, 3000, 1368, 0x18, VIRTIO_NET_HDR_GSO_TCPV4);
	buf[OVERLAY_VNET_HDR_LEN + 20 + 12] = 0xf0; /* a TCP header of 60 bytes: fits */
	buf[OVERLAY_VNET_HDR_LEN + 20 + 12] = 0x30; /* 12 bytes: too short */
	cr_assert_eq(overlay_gso_begin(&it, buf, n), 0);
	cr_assert_eq(overlay_gso_next(&it, seg, sizeof seg, &p), -EINVAL, "TCP header under 20 bytes");

	n = tso_read(4, 3000, 1368, 0x18, VIRTIO_NET_HDR_GSO_TCPV4);
	cr_assert_eq(overlay_gso_begin(&it, buf, n), 0);
	cr_assert_eq(overlay_gso_next(&it, seg, 1000, &p), -ENOBUFS, "a segment larger than the buffer");
}
