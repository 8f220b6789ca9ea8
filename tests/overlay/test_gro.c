/* overlay/gro: coalescing a flow's TCP segments into one TUN write.
 *
 * The packets fed in are cut from TSO reads by overlay/gso.h's cutter
 * (complete checksums, consecutive IP ids, PSH on the last), as a peer
 * sends them. The writes that come out are checked field by field (the
 * virtio_net_hdr, lengths, the IPv4 header checksum, the pseudo-header sum
 * NEEDS_CSUM wants) and cut back with the same cutter: that gives the
 * packets that went in, byte for byte, in order. */
#include <criterion/criterion.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "overlay/gro.h"
#include "overlay/gso.h"
#include "overlay/packet.h"

#define MAX_PKTS 160
#define MAX_WRITES 8

static uint8_t rd[OVERLAY_GSO_MAX_READ];
static uint8_t pkts[MAX_PKTS][2048];
static size_t lens[MAX_PKTS];
static size_t num_pkts;
static uint8_t gbuf[OVERLAY_GRO_BUF_LEN];
static uint8_t writes[MAX_WRITES][OVERLAY_GRO_BUF_LEN];
static size_t wlens[MAX_WRITES];
static size_t num_writes;
static uint8_t back[MAX_PKTS][2048];
static size_t blens[MAX_PKTS];

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

struct flow {
	int version;
	uint16_t sport;
	uint32_t seq;
	uint16_t id;
	uint8_t ts;             /* the timestamp option's last byte */
};

/* A TSO read of flow f (payload bytes, mss), cut into packets appended
 * to pkts; the flow moves on by the payload. */
static void send_tso(struct flow *f, size_t payload, uint16_t mss, uint8_t flags)
{
	memset(rd, 0, sizeof rd);
	size_t l3 = f->version == 4 ? 20 : 40, l4 = 32;
	uint8_t *v = rd, *ip = rd + OVERLAY_VNET_HDR_LEN, *tcp = ip + l3;
	size_t n = l3 + l4 + payload;
	v[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	v[1] = f->version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
	v[2] = (uint8_t)(l3 + l4), v[4] = (uint8_t)mss, v[5] = (uint8_t)(mss >> 8);
	v[6] = (uint8_t)l3, v[8] = 16;
	if (payload <= mss)
		v[1] = VIRTIO_NET_HDR_GSO_NONE;
	if (f->version == 4) {
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)n);
		put16(ip + 4, f->id);
		put16(ip + 6, 0x4000); /* DF */
		ip[8] = 64, ip[9] = 6;
		memcpy(ip + 12, "\x64\x40\x00\x01\x64\x40\x00\x02", 8);
		put16(ip + 10, overlay_csum_finish(overlay_csum(0, ip, 20)));
	} else {
		ip[0] = 0x60, ip[1] = 0x01, ip[2] = 0x23, ip[3] = 0x45; /* a flow label */
		put16(ip + 4, (uint16_t)(n - 40));
		ip[6] = 6, ip[7] = 64;
		ip[8] = 0xfd, ip[23] = 1, ip[24] = 0xfd, ip[39] = 2;
	}
	put16(tcp, f->sport), put16(tcp + 2, 8000);
	tcp[4] = (uint8_t)(f->seq >> 24), tcp[5] = (uint8_t)(f->seq >> 16);
	tcp[6] = (uint8_t)(f->seq >> 8), tcp[7] = (uint8_t)f->seq;
	memcpy(tcp + 8, "\x01\x02\x03\x04", 4);
	tcp[12] = (uint8_t)((l4 / 4) << 4), tcp[13] = flags;
	put16(tcp + 14, 65000);
	/* NOP NOP TS(10): TSval, TSecr */
	memcpy(tcp + 20, "\x01\x01\x08\x0a\x00\x00\x10\x00\x00\x00\x20\x00", 12);
	tcp[27] = f->ts;
	for (size_t i = 0; i < payload; i++)
		tcp[l4 + i] = (uint8_t)(f->seq + i * 7);
	/* The pseudo-header sum, as the kernel leaves CHECKSUM_PARTIAL. */
	uint8_t pseudo[40] = {0};
	size_t pl;
	if (f->version == 4) {
		memcpy(pseudo, ip + 12, 8), pseudo[9] = 6, put16(pseudo + 10, (uint16_t)(n - l3)), pl = 12;
	} else {
		memcpy(pseudo, ip + 8, 32), put16(pseudo + 36, (uint16_t)(n - l3)), pseudo[39] = 6, pl = 40;
	}
	put16(tcp + 16, (uint16_t)~overlay_csum_finish(overlay_csum(0, pseudo, pl)));
	struct overlay_gso_iter it;
	cr_assert_eq(overlay_gso_begin(&it, rd, OVERLAY_VNET_HDR_LEN + n), 0);
	const uint8_t *p;
	long m;
	size_t segs = 0;
	while ((m = overlay_gso_next(&it, pkts[num_pkts], sizeof pkts[0], &p)) > 0) {
		cr_assert_lt(num_pkts, MAX_PKTS);
		if (p != pkts[num_pkts])
			memcpy(pkts[num_pkts], p, (size_t)m);
		lens[num_pkts++] = (size_t)m;
		segs++;
	}
	cr_assert_eq(m, 0);
	f->seq += (uint32_t)payload;
	f->id = (uint16_t)(f->id + segs);
}

/* Recomputes the IPv4 header and TCP checksums of packet i after a test
 * changed it. */
static void fix(size_t i)
{
	uint8_t *p = pkts[i];
	size_t n = lens[i], l3 = (p[0] >> 4) == 4 ? 20 : 40;
	uint8_t pseudo[40] = {0};
	size_t pl;
	if (l3 == 20) {
		put16(p + 10, 0);
		put16(p + 10, overlay_csum_finish(overlay_csum(0, p, 20)));
		memcpy(pseudo, p + 12, 8), pseudo[9] = 6, put16(pseudo + 10, (uint16_t)(n - l3)), pl = 12;
	} else {
		memcpy(pseudo, p + 8, 32), put16(pseudo + 36, (uint16_t)(n - l3)), pseudo[39] = 6, pl = 40;
	}
	put16(p + l3 + 16, 0);
	put16(p + l3 + 16, overlay_csum_finish(overlay_csum(overlay_csum(0, pseudo, pl), p + l3, n - l3)));
}

static void take(const uint8_t *w, size_t n)
{
	cr_assert_lt(num_writes, MAX_WRITES, "too many writes");
	memcpy(writes[num_writes], w, n);
	wlens[num_writes++] = n;
}

/* Feeds pkts[skip excluded] to a coalescer as node/overlay.c does and
 * collects the writes. */
static void run(size_t skip)
{
	struct overlay_gro g;
	overlay_gro_init(&g, gbuf);
	const uint8_t *w;
	size_t n;
	num_writes = 0;
	for (size_t i = 0; i < num_pkts; i++) {
		if (i == skip)
			continue;
		for (int round = 0;; round++) {
			cr_assert_lt(round, 2, "add, flush, add ends");
			enum overlay_gro_verdict v = overlay_gro_add(&g, pkts[i], lens[i]);
			if (v == OVERLAY_GRO_HELD)
				break;
			if ((n = overlay_gro_flush(&g, &w)))
				take(w, n);
			if (v == OVERLAY_GRO_PASS) {
				uint8_t plain[OVERLAY_GRO_BUF_LEN] = {0};
				memcpy(plain + OVERLAY_VNET_HDR_LEN, pkts[i], lens[i]);
				take(plain, OVERLAY_VNET_HDR_LEN + lens[i]);
				break;
			}
		}
	}
	if ((n = overlay_gro_flush(&g, &w)))
		take(w, n);
	cr_assert_eq(overlay_gro_flush(&g, &w), 0, "empty after a flush");
}

/* Checks each write's header and cuts them all back: the packets that
 * went in (but skip), in order, byte for byte. */
static void check_round_trip(size_t skip)
{
	size_t nb = 0;
	for (size_t k = 0; k < num_writes; k++) {
		uint8_t *v = writes[k], *ip = v + OVERLAY_VNET_HDR_LEN;
		size_t len = wlens[k] - OVERLAY_VNET_HDR_LEN;
		cr_assert_leq(len, 65535);
		if (v[1] != VIRTIO_NET_HDR_GSO_NONE) {
			bool v4 = (ip[0] >> 4) == 4;
			size_t l3 = v4 ? 20 : 40;
			size_t l4 = (size_t)(ip[l3 + 12] >> 4) * 4;
			cr_assert_eq(v[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
			cr_assert_eq(v[1], v4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6);
			cr_assert_eq(le16(v + 2), l3 + l4, "hdr_len");
			cr_assert_eq(le16(v + 6), l3, "csum_start");
			cr_assert_eq(le16(v + 8), 16, "csum_offset");
			cr_assert_lt(le16(v + 4), len - l3 - l4, "gso_size below the payload");
			uint8_t pseudo[40] = {0};
			size_t pl;
			if (v4) {
				cr_assert_eq(get16(ip + 2), len, "IPv4 total length");
				cr_assert_eq(overlay_csum_finish(overlay_csum(0, ip, 20)), 0, "IPv4 header checksum");
				memcpy(pseudo, ip + 12, 8), pseudo[9] = 6, put16(pseudo + 10, (uint16_t)(len - l3)), pl = 12;
			} else {
				cr_assert_eq(get16(ip + 4), len - 40, "IPv6 payload length");
				memcpy(pseudo, ip + 8, 32), put16(pseudo + 36, (uint16_t)(len - l3)), pseudo[39] = 6, pl = 40;
			}
			cr_assert_eq(get16(ip + l3 + 16), (uint16_t)~overlay_csum_finish(overlay_csum(0, pseudo, pl)),
				     "the TCP checksum field holds the pseudo-header sum");
		} else {
			for (size_t i = 0; i < OVERLAY_VNET_HDR_LEN; i++)
				cr_assert_eq(v[i], 0, "a single packet goes with the all-zero header");
		}
		struct overlay_gso_iter it;
		cr_assert_eq(overlay_gso_begin(&it, v, wlens[k]), 0);
		const uint8_t *p;
		long m;
		while ((m = overlay_gso_next(&it, back[nb], sizeof back[0], &p)) > 0) {
			cr_assert_lt(nb, MAX_PKTS);
			if (p != back[nb])
				memcpy(back[nb], p, (size_t)m);
			blens[nb++] = (size_t)m;
		}
		cr_assert_eq(m, 0, "write %zu cuts cleanly", k);
	}
	size_t j = 0;
	for (size_t i = 0; i < num_pkts; i++) {
		if (i == skip)
			continue;
		cr_assert_lt(j, nb, "packet %zu came back", i);
		cr_assert_eq(blens[j], lens[i], "packet %zu's length", i);
		cr_assert(!memcmp(back[j], pkts[i], lens[i]), "packet %zu comes back byte for byte", i);
		j++;
	}
	cr_assert_eq(j, nb, "no extra packets");
}

static void reset(void) { num_pkts = 0; }

TestSuite(gro, .init = reset);

Test(gro, ipv4_segments_of_a_flow_become_one_write)
{
	struct flow f = {.version = 4, .sport = 40000, .seq = 0xffffff00u, .id = 0xfff0};
	send_tso(&f, 20000, 1368, 0x18);
	cr_assert_eq(num_pkts, 15);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 1);
	cr_assert_eq(le16(writes[0] + 4), 1368, "gso_size: the segments' payload");
	cr_assert_eq(wlens[0], OVERLAY_VNET_HDR_LEN + 20 + 32 + 20000);
	check_round_trip(SIZE_MAX);
}

Test(gro, ipv6_segments_of_a_flow_become_one_write)
{
	struct flow f = {.version = 6, .sport = 40000, .seq = 7};
	send_tso(&f, 64000, 1348, 0x10);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 1);
	cr_assert_eq(le16(writes[0] + 4), 1348);
	check_round_trip(SIZE_MAX);
}

Test(gro, consecutive_reads_merge_up_to_64k_then_a_new_write)
{
	struct flow f = {.version = 4, .sport = 40000, .seq = 1, .id = 9};
	send_tso(&f, 40000, 1000, 0x10);
	send_tso(&f, 40000, 1000, 0x10);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 2, "65 segments, then 15");
	cr_assert_eq(wlens[0], OVERLAY_VNET_HDR_LEN + 52 + 65000);
	check_round_trip(SIZE_MAX);
}

Test(gro, a_gap_starts_a_new_write)
{
	struct flow f = {.version = 4, .sport = 40000, .seq = 1, .id = 9};
	send_tso(&f, 10000, 1000, 0x10);
	run(4);
	cr_assert_eq(num_writes, 2);
	check_round_trip(4);
}

Test(gro, another_flow_does_not_merge)
{
	struct flow a = {.version = 4, .sport = 40000, .seq = 1, .id = 9};
	struct flow b = {.version = 4, .sport = 40001, .seq = 1 + 3000, .id = 12};
	send_tso(&a, 3000, 1000, 0x10);
	send_tso(&b, 3000, 1000, 0x10); /* what would follow a's, but another port */
	struct flow c = {.version = 6, .sport = 40000, .seq = 1 + 6000};
	send_tso(&c, 3000, 1000, 0x10);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 3);
	check_round_trip(SIZE_MAX);
}

Test(gro, differing_options_do_not_merge)
{
	struct flow f = {.version = 4, .sport = 40000, .seq = 1, .id = 9};
	send_tso(&f, 3000, 1000, 0x10);
	f.ts = 1; /* a newer timestamp */
	send_tso(&f, 3000, 1000, 0x10);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 2);
	check_round_trip(SIZE_MAX);
}

Test(gro, differing_ack_window_or_ip_fields_do_not_merge)
{
	static const struct {
		size_t off;     /* from the IPv4 header */
		uint8_t x;
	} changes[] = {{20 + 11, 1}, {20 + 15, 1}, {1, 4}, {8, 1}, {6, 0x40}, {4 + 1, 5}};
	for (size_t c = 0; c < sizeof changes / sizeof changes[0]; c++) {
		reset();
		struct flow f = {.version = 4, .sport = 40000, .seq = 1, .id = 9};
		send_tso(&f, 6000, 1000, 0x10);
		pkts[3][changes[c].off] ^= changes[c].x;
		fix(3);
		run(SIZE_MAX);
		cr_assert_geq(num_writes, 2, "change %zu splits", c);
		check_round_trip(SIZE_MAX);
	}
}

Test(gro, flags_other_than_ack_are_written_alone)
{
	static const uint8_t flags[] = {0x01, 0x02, 0x04, 0x20, 0x80, 0x40};
	for (size_t c = 0; c < sizeof flags / sizeof flags[0]; c++) {
		reset();
		struct flow f = {.version = 6, .sport = 40000, .seq = 1};
		send_tso(&f, 6000, 1000, 0x10);
		pkts[3][40 + 13] |= flags[c];
		fix(3);
		run(SIZE_MAX);
		cr_assert_eq(num_writes, 3, "flag %#x: before, it alone, after", flags[c]);
		cr_assert_eq(wlens[1], OVERLAY_VNET_HDR_LEN + lens[3]);
		cr_assert_eq(writes[1][1], VIRTIO_NET_HDR_GSO_NONE);
		check_round_trip(SIZE_MAX);
	}
}

Test(gro, psh_ends_a_write)
{
	struct flow f = {.version = 4, .sport = 40000, .seq = 1, .id = 9};
	send_tso(&f, 3000, 1000, 0x18); /* PSH on its last */
	send_tso(&f, 3000, 1000, 0x18);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 2);
	check_round_trip(SIZE_MAX);
}

Test(gro, a_short_segment_ends_a_write)
{
	struct flow f = {.version = 4, .sport = 40000, .seq = 1, .id = 9};
	send_tso(&f, 2500, 1000, 0x10); /* 1000, 1000, 500 */
	send_tso(&f, 3000, 1000, 0x10);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 2);
	cr_assert_eq(wlens[0], OVERLAY_VNET_HDR_LEN + 52 + 2500);
	check_round_trip(SIZE_MAX);
}

Test(gro, a_larger_segment_after_a_small_one_does_not_merge)
{
	struct flow f = {.version = 6, .sport = 40000, .seq = 1};
	send_tso(&f, 500, 1000, 0x10);
	send_tso(&f, 3000, 1000, 0x10);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 2);
	cr_assert_eq(writes[0][1], VIRTIO_NET_HDR_GSO_NONE);
	check_round_trip(SIZE_MAX);
}

Test(gro, ipv4_id_not_the_next_does_not_merge)
{
	struct flow f = {.version = 4, .sport = 40000, .seq = 1, .id = 9};
	send_tso(&f, 3000, 1000, 0x10);
	f.id = 100;
	send_tso(&f, 3000, 1000, 0x10);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 2);
	check_round_trip(SIZE_MAX);
}

Test(gro, packets_it_cannot_vouch_for_pass)
{
	struct overlay_gro g;
	overlay_gro_init(&g, gbuf);
	struct flow f = {.version = 4, .sport = 40000, .seq = 1, .id = 9};
	send_tso(&f, 1000, 1000, 0x10);
	uint8_t *p = pkts[0];
	size_t n = lens[0];
	cr_assert_eq(overlay_gro_add(&g, p, n), OVERLAY_GRO_HELD);
	const uint8_t *w;
	cr_assert_eq(overlay_gro_flush(&g, &w), OVERLAY_VNET_HDR_LEN + n);
	cr_assert(!memcmp(w + OVERLAY_VNET_HDR_LEN, p, n), "a single packet unchanged");

	p[20 + 30] ^= 1; /* the TCP checksum is wrong */
	cr_assert_eq(overlay_gro_add(&g, p, n), OVERLAY_GRO_PASS, "bad TCP checksum");
	fix(0);
	p[10] ^= 1;
	cr_assert_eq(overlay_gro_add(&g, p, n), OVERLAY_GRO_PASS, "bad IPv4 header checksum");
	fix(0);
	cr_assert_eq(overlay_gro_add(&g, p, n - 1), OVERLAY_GRO_PASS, "length not the packet's");
	p[6] |= 0x20;
	fix(0);
	cr_assert_eq(overlay_gro_add(&g, p, n), OVERLAY_GRO_PASS, "a fragment");
	p[6] &= 0x40;
	p[9] = 17;
	fix(0);
	cr_assert_eq(overlay_gro_add(&g, p, n), OVERLAY_GRO_PASS, "not TCP");
	p[9] = 6;
	p[0] = 0x46;
	cr_assert_eq(overlay_gro_add(&g, p, n), OVERLAY_GRO_PASS, "IPv4 options");
	p[0] = 0x45;
	fix(0);
	cr_assert_eq(overlay_gro_add(&g, p, 20 + 32), OVERLAY_GRO_PASS, "no payload");
	cr_assert_eq(overlay_gro_add(&g, p, 10), OVERLAY_GRO_PASS, "truncated");
	cr_assert_eq(overlay_gro_flush(&g, &w), 0, "nothing was taken");
	cr_assert_eq(overlay_gro_add(&g, p, n), OVERLAY_GRO_HELD, "the packet is fine again");
}
