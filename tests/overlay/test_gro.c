/* overlay/gro: coalescing a flow's TCP segments into one TUN write.
 *
 * The packets fed in are cut from TSO reads by overlay/gso.h's cutter
 * (complete checksums, consecutive IP ids, PSH on the last), as a peer
 * sends them. The writes that come out are checked field by field (the
 * virtio_net_hdr, lengths, the IPv4 header checksum, the pseudo-header sum
 * NEEDS_CSUM wants) and cut back with the same cutter: that gives the
 * packets that went in, byte for byte, each flow's in the order they went
 * in (flows may pass each other, as in the kernel's GRO: overlay/gro.h,
 * "Order"). Interleaved flows are fed in scripted orders. */
#include <criterion/criterion.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "overlay/gro.h"
#include "overlay/gso.h"
#include "overlay/packet.h"

#define MAX_PKTS 160
#define MAX_WRITES 64

static uint8_t rd[OVERLAY_GSO_MAX_READ];
static uint8_t pkts[MAX_PKTS][2048];
static size_t lens[MAX_PKTS];
static size_t num_pkts;
static uint8_t gbuf[OVERLAY_GRO_MEM_LEN];
static uint8_t writes[MAX_WRITES][OVERLAY_GRO_BUF_LEN];
static size_t wlens[MAX_WRITES];
static size_t num_writes;
static size_t wsegs[MAX_WRITES];       /* packets cut back from each write */
static size_t wat[MAX_WRITES];         /* packets fed when each write was made */
static bool wflushed[MAX_WRITES];      /* the write came from overlay_gro_flush (not a passed packet) */
static uint16_t wsaid[MAX_WRITES];     /* then: the segments overlay_gro_flush said it holds */
static uint8_t back[MAX_PKTS][2048];
static size_t blens[MAX_PKTS];
static size_t fed[MAX_PKTS];           /* the order packets were offered in (indexes into pkts) */
static size_t num_fed;

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

/* Records a write: flushed, with the segment count overlay_gro_flush
 * gave (segs), or a passed packet written as it is. */
static void take(const uint8_t *w, size_t n, bool flushed, uint16_t segs)
{
	cr_assert_lt(num_writes, MAX_WRITES, "too many writes");
	wat[num_writes] = num_fed;
	wflushed[num_writes] = flushed;
	wsaid[num_writes] = segs;
	memcpy(writes[num_writes], w, n);
	wlens[num_writes++] = n;
}

/* Offers pkts[order[0..num)] to a coalescer as node/overlay.c does
 * (flush what it names, add again; write a passed packet as it is) and
 * collects the writes. */
static void run_order(const size_t *order, size_t num)
{
	struct overlay_gro g;
	overlay_gro_init(&g, gbuf);
	const uint8_t *w;
	size_t n;
	uint16_t segs = 0;
	num_writes = 0;
	num_fed = 0;
	for (size_t k = 0; k < num; k++) {
		size_t i = order[k];
		fed[num_fed++] = i;
		enum overlay_gro_verdict v;
		int round = 0;
		while ((v = overlay_gro_add(&g, pkts[i], lens[i])) == OVERLAY_GRO_FLUSH) {
			cr_assert_lt(round++, OVERLAY_GRO_FLOWS + 1, "flush, add again ends");
			segs = 0;
			cr_assert_gt(n = overlay_gro_flush(&g, &w, &segs), 0, "FLUSH names a held packet");
			take(w, n, true, segs);
		}
		if (v == OVERLAY_GRO_PASS) {
			uint8_t plain[OVERLAY_GRO_BUF_LEN] = {0};
			memcpy(plain + OVERLAY_VNET_HDR_LEN, pkts[i], lens[i]);
			take(plain, OVERLAY_VNET_HDR_LEN + lens[i], false, 0);
		}
	}
	for (segs = 0; (n = overlay_gro_flush(&g, &w, &segs)) != 0; segs = 0)
		take(w, n, true, segs);
	for (int i = 0; i < OVERLAY_GRO_FLOWS; i++)
		cr_assert_eq(g.flows[i].len, 0, "empty after flushing");
}

/* Feeds pkts in order, but skip, to a coalescer. */
static void run(size_t skip)
{
	static size_t order[MAX_PKTS];
	size_t num = 0;
	for (size_t i = 0; i < num_pkts; i++)
		if (i != skip)
			order[num++] = i;
	run_order(order, num);
}

/* A packet's flow for the order check: TCP's addresses and ports (IPv4
 * without options), or "not TCP" (length 0) for anything else, which the
 * coalescer writes at once, in the order it came. */
static size_t flow_key(const uint8_t *p, size_t n, uint8_t key[static 37])
{
	if (n >= 24 && p[0] == 0x45 && p[9] == 6) {
		key[0] = 4;
		memcpy(key + 1, p + 12, 12);
		return 13;
	}
	if (n >= 44 && (p[0] >> 4) == 6 && p[6] == 6) {
		key[0] = 6;
		memcpy(key + 1, p + 8, 36);
		return 37;
	}
	return 0;
}

/* The TCP source port of write k's packet. */
static uint16_t wport(size_t k)
{
	const uint8_t *ip = writes[k] + OVERLAY_VNET_HDR_LEN;
	return get16(ip + ((ip[0] >> 4) == 4 ? 20 : 40));
}

/* Checks each write's header and cuts them all back: the packets fed in,
 * byte for byte, none lost or made up, each flow's in the order it was
 * fed (the writes of different flows may be in any order); a flushed
 * write holds as many segments as overlay_gro_flush said. */
static void check_round_trip(void)
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
		size_t first = nb;
		while ((m = overlay_gso_next(&it, back[nb], sizeof back[0], &p)) > 0) {
			cr_assert_lt(nb, MAX_PKTS);
			if (p != back[nb])
				memcpy(back[nb], p, (size_t)m);
			blens[nb++] = (size_t)m;
		}
		cr_assert_eq(m, 0, "write %zu cuts cleanly", k);
		wsegs[k] = nb - first;
		if (wflushed[k])
			cr_assert_eq(wsaid[k], wsegs[k], "write %zu: overlay_gro_flush said %u segments, it cuts into %zu", k,
				     (unsigned)wsaid[k], wsegs[k]);
	}
	/* Each packet cut back is the first of its flow's fed packets not
	 * matched yet. */
	bool matched[MAX_PKTS] = {false};
	for (size_t b = 0; b < nb; b++) {
		uint8_t kb[37], kf[37];
		size_t lb = flow_key(back[b], blens[b], kb), j;
		for (j = 0; j < num_fed; j++)
			if (!matched[j] && flow_key(pkts[fed[j]], lens[fed[j]], kf) == lb && !memcmp(kb, kf, lb))
				break;
		cr_assert_lt(j, num_fed, "packet %zu cut back is one that went in", b);
		size_t i = fed[j];
		cr_assert_eq(blens[b], lens[i], "packet %zu's length (the %zu-th fed)", i, j);
		cr_assert(!memcmp(back[b], pkts[i], lens[i]), "packet %zu comes back byte for byte, in its flow's order", i);
		matched[j] = true;
	}
	for (size_t j = 0; j < num_fed; j++)
		cr_assert(matched[j], "packet %zu came back", fed[j]);
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
	cr_assert_eq(wsaid[0], 15, "overlay_gro_flush counts the 15 segments (said %u)", (unsigned)wsaid[0]);
	cr_assert_eq(le16(writes[0] + 4), 1368, "gso_size: the segments' payload");
	cr_assert_eq(wlens[0], OVERLAY_VNET_HDR_LEN + 20 + 32 + 20000);
	check_round_trip();
}

Test(gro, ipv6_segments_of_a_flow_become_one_write)
{
	struct flow f = {.version = 6, .sport = 40000, .seq = 7};
	send_tso(&f, 64000, 1348, 0x10);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 1);
	cr_assert_eq(num_pkts, 48, "64,000 bytes in segments of 1,348");
	cr_assert_eq(wsaid[0], 48, "overlay_gro_flush counts the 48 segments (said %u)", (unsigned)wsaid[0]);
	cr_assert_eq(le16(writes[0] + 4), 1348);
	check_round_trip();
}

Test(gro, consecutive_reads_merge_up_to_64k_then_a_new_write)
{
	struct flow f = {.version = 4, .sport = 40000, .seq = 1, .id = 9};
	send_tso(&f, 40000, 1000, 0x10);
	send_tso(&f, 40000, 1000, 0x10);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 2, "65 segments, then 15");
	cr_assert_eq(wlens[0], OVERLAY_VNET_HDR_LEN + 52 + 65000);
	cr_assert_eq(wsaid[0], 65, "said %u", (unsigned)wsaid[0]);
	cr_assert_eq(wsaid[1], 15, "said %u", (unsigned)wsaid[1]);
	check_round_trip();
}

Test(gro, a_gap_starts_a_new_write)
{
	struct flow f = {.version = 4, .sport = 40000, .seq = 1, .id = 9};
	send_tso(&f, 10000, 1000, 0x10);
	run(4);
	cr_assert_eq(num_writes, 2);
	check_round_trip();
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
	check_round_trip();
}

Test(gro, differing_options_do_not_merge)
{
	struct flow f = {.version = 4, .sport = 40000, .seq = 1, .id = 9};
	send_tso(&f, 3000, 1000, 0x10);
	f.ts = 1; /* a newer timestamp */
	send_tso(&f, 3000, 1000, 0x10);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 2);
	check_round_trip();
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
		check_round_trip();
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
		check_round_trip();
	}
}

Test(gro, psh_ends_a_write)
{
	struct flow f = {.version = 4, .sport = 40000, .seq = 1, .id = 9};
	send_tso(&f, 3000, 1000, 0x18); /* PSH on its last */
	send_tso(&f, 3000, 1000, 0x18);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 2);
	check_round_trip();
}

Test(gro, a_short_segment_ends_a_write)
{
	struct flow f = {.version = 4, .sport = 40000, .seq = 1, .id = 9};
	send_tso(&f, 2500, 1000, 0x10); /* 1000, 1000, 500 */
	send_tso(&f, 3000, 1000, 0x10);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 2);
	cr_assert_eq(wlens[0], OVERLAY_VNET_HDR_LEN + 52 + 2500);
	cr_assert_eq(wsaid[0], 3, "1,000, 1,000 and 500 bytes (said %u)", (unsigned)wsaid[0]);
	cr_assert_eq(wsaid[1], 3, "said %u", (unsigned)wsaid[1]);
	check_round_trip();
}

Test(gro, a_larger_segment_after_a_small_one_does_not_merge)
{
	struct flow f = {.version = 6, .sport = 40000, .seq = 1};
	send_tso(&f, 500, 1000, 0x10);
	send_tso(&f, 3000, 1000, 0x10);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 2);
	cr_assert_eq(writes[0][1], VIRTIO_NET_HDR_GSO_NONE);
	check_round_trip();
}

Test(gro, ipv4_id_not_the_next_does_not_merge)
{
	struct flow f = {.version = 4, .sport = 40000, .seq = 1, .id = 9};
	send_tso(&f, 3000, 1000, 0x10);
	f.id = 100;
	send_tso(&f, 3000, 1000, 0x10);
	run(SIZE_MAX);
	cr_assert_eq(num_writes, 2);
	check_round_trip();
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
	cr_assert_eq(overlay_gro_flush(&g, &w, NULL), OVERLAY_VNET_HDR_LEN + n);
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
	cr_assert_eq(overlay_gro_flush(&g, &w, NULL), 0, "nothing was taken");
	cr_assert_eq(overlay_gro_add(&g, p, n), OVERLAY_GRO_HELD, "the packet is fine again");
	uint16_t segs = 0;
	cr_assert_eq(overlay_gro_flush(&g, &w, &segs), OVERLAY_VNET_HDR_LEN + n);
	cr_assert_eq(segs, 1, "one packet held is one segment (said %u)", (unsigned)segs);
}

/* Appends p[0..n) to pkts as it is (checksums are the caller's). */
static void add_raw(const uint8_t *p, size_t n)
{
	cr_assert_lt(num_pkts, MAX_PKTS);
	memcpy(pkts[num_pkts], p, n);
	lens[num_pkts++] = n;
}

/* The order that takes segment j of each of num flows in turn (flow i's
 * packets at pkts[first[i] .. first[i] + count[i])). */
static size_t round_robin(size_t *order, const size_t *first, const size_t *count, size_t num)
{
	size_t n = 0;
	for (size_t j = 0;; j++) {
		size_t took = 0;
		for (size_t i = 0; i < num; i++)
			if (j < count[i])
				order[n++] = first[i] + j, took++;
		if (!took)
			return n;
	}
}

Test(gro, interleaved_flows_merge_per_flow)
{
	/* Four IPv4 and four IPv6 streams whose segments alternate one by
	 * one, as parallel streams' do in a receive batch: each flow still
	 * becomes one write. */
	size_t first[8], count[8], order[MAX_PKTS];
	for (size_t i = 0; i < 8; i++) {
		struct flow f = {.version = i < 4 ? 4 : 6, .sport = (uint16_t)(40000 + i), .seq = (uint32_t)(i * 1000003u),
				 .id = (uint16_t)(i * 300)};
		first[i] = num_pkts;
		send_tso(&f, 6000, 1000, 0x10);
		count[i] = num_pkts - first[i];
		cr_assert_eq(count[i], 6);
	}
	run_order(order, round_robin(order, first, count, 8));
	check_round_trip();
	cr_assert_eq(num_writes, 8, "one write per flow");
	for (size_t k = 0; k < 8; k++) {
		cr_assert_eq(wsegs[k], 6, "write %zu carries its flow's 6 segments", k);
		cr_assert_eq(wport(k), 40000 + k, "flows are written oldest first");
		cr_assert_eq(wat[k], 48, "nothing is written before the batch ends");
	}
}

Test(gro, a_full_table_writes_the_oldest_first)
{
	/* Eight flows fill the table; the ninth's first segment has the
	 * oldest (flow 0) written, then takes its slot and merges on. */
	size_t first[9], count[9], order[MAX_PKTS];
	for (size_t i = 0; i < 9; i++) {
		struct flow f = {.version = 4, .sport = (uint16_t)(40000 + i), .seq = 1, .id = 9};
		first[i] = num_pkts;
		send_tso(&f, 3000, 1000, 0x10);
		count[i] = num_pkts - first[i];
	}
	size_t n = round_robin(order, first, count, 8);
	for (size_t j = 0; j < count[8]; j++)
		order[n++] = first[8] + j;
	run_order(order, n);
	check_round_trip();
	cr_assert_eq(num_writes, 9);
	cr_assert_eq(wport(0), 40000, "the oldest flow goes first");
	cr_assert_eq(wat[0], 25, "when the ninth flow's first segment came");
	for (size_t k = 0; k < 9; k++)
		cr_assert_eq(wsegs[k], 3, "write %zu: whole flows", k);
	cr_assert_eq(wport(8), 40008);

	/* Nine flows in turn: each segment finds the table full and its
	 * flow's packet written; nothing is lost or reordered within a flow. */
	run_order(order, round_robin(order, first, count, 9));
	check_round_trip();
	cr_assert_eq(num_writes, 27);
}

Test(gro, a_full_table_gives_up_a_finished_packet_first)
{
	/* Flow 3's last segment carries PSH: its packet can grow no more, so
	 * it goes before the oldest (flow 0), which could. */
	size_t first[9], count[9], order[MAX_PKTS];
	for (size_t i = 0; i < 9; i++) {
		struct flow f = {.version = 4, .sport = (uint16_t)(40000 + i), .seq = 1, .id = 9};
		first[i] = num_pkts;
		send_tso(&f, 3000, 1000, i == 3 ? 0x18 : 0x10);
		count[i] = num_pkts - first[i];
	}
	size_t n = round_robin(order, first, count, 8);
	order[n++] = first[8];
	run_order(order, n);
	check_round_trip();
	cr_assert_eq(wport(0), 40003);
	cr_assert_eq(wat[0], 25);
	cr_assert_eq(wport(1), 40000, "then the oldest, at the end");
}

/* A small deterministic generator for the interleavings below. */
static uint32_t lcg(uint32_t *x)
{
	*x = *x * 1664525u + 1013904223u;
	return *x >> 8;
}

Test(gro, each_flow_keeps_its_order_through_gaps_swaps_and_interleaving)
{
	for (uint32_t seed = 1; seed <= 40; seed++) {
		reset();
		size_t first[3], count[3];
		for (size_t i = 0; i < 3; i++) {
			struct flow f = {.version = i == 2 ? 6 : 4, .sport = (uint16_t)(40000 + i), .seq = 100, .id = 1};
			first[i] = num_pkts;
			send_tso(&f, 12000, 1000, 0x10);
			count[i] = num_pkts - first[i];
		}
		/* Per flow: a segment lost and two swapped, at places the seed
		 * picks; then the flows merged at random, each in its order. */
		uint32_t x = seed;
		size_t seq[3][16], len[3] = {0}, at[3] = {0};
		for (size_t i = 0; i < 3; i++) {
			size_t lost = lcg(&x) % count[i], sw = lcg(&x) % (count[i] - 1);
			for (size_t j = 0; j < count[i]; j++)
				if (j != lost)
					seq[i][len[i]++] = first[i] + j;
			if (sw + 1 < len[i]) {
				size_t t = seq[i][sw];
				seq[i][sw] = seq[i][sw + 1];
				seq[i][sw + 1] = t;
			}
		}
		size_t order[MAX_PKTS], n = 0;
		while (at[0] < len[0] || at[1] < len[1] || at[2] < len[2]) {
			size_t i = lcg(&x) % 3;
			if (at[i] < len[i])
				order[n++] = seq[i][at[i]++];
		}
		run_order(order, n);
		check_round_trip();
		cr_assert_lt(num_writes, n, "seed %u: some segments merged", seed);
	}
}

/* A TCP packet of flow f without payload (flags: a pure ACK, FIN, RST). */
static void send_bare(struct flow *f, uint8_t flags)
{
	send_tso(f, 0, 1000, flags);
}

/* The IPv4 packet with protocol proto between the flows' addresses
 * (from 100.64.0.1 to 100.64.0.2) and body[0..n). frag: the fragment
 * offset field. */
static void send_ip4(uint8_t proto, uint16_t frag, const uint8_t *body, size_t n)
{
	uint8_t p[512] = {0x45};
	put16(p + 2, (uint16_t)(20 + n));
	put16(p + 6, frag);
	p[8] = 64, p[9] = proto;
	memcpy(p + 12, "\x64\x40\x00\x01\x64\x40\x00\x02", 8);
	put16(p + 10, overlay_csum_finish(overlay_csum(0, p, 20)));
	memcpy(p + 20, body, n);
	add_raw(p, 20 + n);
}

/* The same for IPv6 (fd..01 to fd..02) with next header nh. */
static void send_ip6(uint8_t nh, const uint8_t *body, size_t n)
{
	uint8_t p[512] = {0x60};
	put16(p + 4, (uint16_t)n);
	p[6] = nh, p[7] = 64;
	p[8] = 0xfd, p[23] = 1, p[24] = 0xfd, p[39] = 2;
	memcpy(p + 40, body, n);
	add_raw(p, 40 + n);
}

/* An ICMP (v4) or ICMPv6 message of type, code quoting the first 28 or 48
 * bytes of the TCP packet of flow f in the direction given: reverse, the
 * packet this side sent (from port 8000 to f's port). */
static void send_icmp_about(const struct flow *f, uint8_t type, uint8_t code, bool reverse)
{
	uint8_t b[8 + 48] = {type, code};
	uint8_t *q = b + 8;
	size_t l3 = f->version == 4 ? 20 : 40;
	if (f->version == 4) {
		q[0] = 0x45, put16(q + 2, 1052), q[8] = 64, q[9] = 6;
		memcpy(q + 12, reverse ? "\x64\x40\x00\x02\x64\x40\x00\x01" : "\x64\x40\x00\x01\x64\x40\x00\x02", 8);
	} else {
		q[0] = 0x60, put16(q + 4, 1032), q[6] = 6, q[7] = 64;
		q[8] = 0xfd, q[23] = reverse ? 2 : 1, q[24] = 0xfd, q[39] = reverse ? 1 : 2;
	}
	put16(q + l3, reverse ? 8000 : f->sport);
	put16(q + l3 + 2, reverse ? f->sport : 8000);
	if (f->version == 4)
		send_ip4(1, 0, b, 8 + 28);
	else
		send_ip6(58, b, 8 + 48);
}

/* Flows a and b (IPv4) and c (IPv6) held, 3 segments each, interleaved;
 * then pkts[num_pkts - 1], the packet under test. */
static void held_then_last(struct flow *a, struct flow *b, struct flow *c, void (*last)(struct flow *, struct flow *, struct flow *))
{
	size_t first[3], count[3], order[MAX_PKTS];
	struct flow *fl[3] = {a, b, c};
	for (size_t i = 0; i < 3; i++) {
		first[i] = num_pkts;
		send_tso(fl[i], 3000, 1000, 0x10);
		count[i] = num_pkts - first[i];
	}
	last(a, b, c);
	size_t n = round_robin(order, first, count, 3);
	order[n++] = num_pkts - 1;
	run_order(order, n);
	check_round_trip();
}

static struct flow fa, fb, fc;
static void flows_init(void)
{
	reset();
	fa = (struct flow){.version = 4, .sport = 40000, .seq = 1, .id = 9};
	fb = (struct flow){.version = 4, .sport = 40001, .seq = 1, .id = 90};
	fc = (struct flow){.version = 6, .sport = 40002, .seq = 1};
}

static void ack_a(struct flow *a, struct flow *b, struct flow *c) { (void)b, (void)c, send_bare(a, 0x10); }
static void fin_c(struct flow *a, struct flow *b, struct flow *c) { (void)a, (void)b, send_bare(c, 0x11); }
static void rst_other(struct flow *a, struct flow *b, struct flow *c)
{
	(void)a, (void)b, (void)c;
	struct flow d = {.version = 4, .sport = 40009, .seq = 5, .id = 3};
	send_bare(&d, 0x04);
}
static void udp_between(struct flow *a, struct flow *b, struct flow *c)
{
	(void)a, (void)b, (void)c;
	send_ip4(17, 0, (const uint8_t *)"\x9c\x40\x1f\x40\x00\x0c\x00\x00" "abcd", 12); /* ports 40000 -> 8000 */
}

Test(gro, a_packet_of_a_held_flow_that_is_not_coalesced_writes_it_first)
{
	/* A pure ACK of flow a: a's held segments first, then it; b and c
	 * stay held to the end. */
	flows_init();
	held_then_last(&fa, &fb, &fc, ack_a);
	cr_assert_eq(num_writes, 4);
	cr_assert_eq(wport(0), 40000);
	cr_assert_eq(wsegs[0], 3);
	cr_assert_eq(wat[0], 10);
	cr_assert_eq(wport(1), 40000);
	cr_assert_eq(wlens[1], OVERLAY_VNET_HDR_LEN + 52, "the ACK alone");
	cr_assert_eq(wport(2), 40001);
	cr_assert_eq(wport(3), 40002);
	/* A FIN of the IPv6 flow c: c first. */
	flows_init();
	held_then_last(&fa, &fb, &fc, fin_c);
	cr_assert_eq(num_writes, 4);
	cr_assert_eq(wport(0), 40002);
	cr_assert_eq(wsegs[0], 3);
	cr_assert_eq(wat[0], 10);
	cr_assert_eq(wport(1), 40002);
	cr_assert_eq(wsegs[1], 1);
}

Test(gro, a_packet_of_no_held_flow_passes_them)
{
	/* A RST of another flow, a UDP datagram between the same addresses
	 * (even from a held flow's port numbers): written at once, ahead of
	 * the held flows, as the kernel's GRO does. */
	void (*lasts[])(struct flow *, struct flow *, struct flow *) = {rst_other, udp_between};
	for (size_t t = 0; t < 2; t++) {
		flows_init();
		held_then_last(&fa, &fb, &fc, lasts[t]);
		cr_assert_eq(num_writes, 4, "case %zu", t);
		cr_assert_eq(wsegs[0], 1);
		cr_assert_eq(wat[0], 10);
		cr_assert_eq(wport(1), 40000);
		cr_assert_eq(wsegs[1], 3);
		cr_assert_eq(wport(2), 40001);
		cr_assert_eq(wport(3), 40002);
	}
}

static void icmp_a_reverse(struct flow *a, struct flow *b, struct flow *c) { (void)b, (void)c, send_icmp_about(a, 3, 4, true); }
static void icmp_b_same(struct flow *a, struct flow *b, struct flow *c) { (void)a, (void)c, send_icmp_about(b, 11, 0, false); }
static void icmp6_c_too_big(struct flow *a, struct flow *b, struct flow *c) { (void)a, (void)b, send_icmp_about(c, 2, 0, true); }
static void icmp_echo(struct flow *a, struct flow *b, struct flow *c)
{
	(void)a, (void)b, (void)c;
	send_ip4(1, 0, (const uint8_t *)"\x08\x00\xf7\xff\x00\x00\x00\x00", 8);
}

Test(gro, an_icmp_error_about_a_held_flow_writes_it_first)
{
	/* ICMP errors that quote a held flow's packet, sent by this side
	 * (fragmentation needed about a's reverse direction; ICMPv6 packet too
	 * big about c's) or by the other (time exceeded about b's): that
	 * flow is written first, the others stay held. */
	static const struct {
		void (*last)(struct flow *, struct flow *, struct flow *);
		uint16_t port;
	} cases[] = {{icmp_a_reverse, 40000}, {icmp_b_same, 40001}, {icmp6_c_too_big, 40002}};
	for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
		flows_init();
		held_then_last(&fa, &fb, &fc, cases[t].last);
		cr_assert_eq(num_writes, 4, "case %zu", t);
		cr_assert_eq(wport(0), cases[t].port, "case %zu: the flow the error is about first", t);
		cr_assert_eq(wsegs[0], 3);
		cr_assert_eq(wat[0], 10);
		cr_assert_eq(wlens[1], OVERLAY_VNET_HDR_LEN + lens[num_pkts - 1], "case %zu: then the error", t);
		cr_assert_eq(wat[1], 10);
		cr_assert_eq(wsegs[2], 3, "case %zu: the others stay held, whole", t);
		cr_assert_eq(wsegs[3], 3, "case %zu: the others stay held, whole", t);
	}
	/* An echo request is about no flow: it passes them. */
	flows_init();
	held_then_last(&fa, &fb, &fc, icmp_echo);
	cr_assert_eq(num_writes, 4);
	cr_assert_eq(wlens[0], OVERLAY_VNET_HDR_LEN + 28);
	cr_assert_eq(wport(1), 40000);
	cr_assert_eq(wsegs[1], 3);
}

static void frag4(struct flow *a, struct flow *b, struct flow *c)
{
	(void)a, (void)b, (void)c;
	send_ip4(6, 100, (const uint8_t *)"01234567", 8); /* a later fragment of some TCP packet */
}
static void hop_by_hop6(struct flow *a, struct flow *b, struct flow *c)
{
	(void)a, (void)b, (void)c;
	send_ip6(0, (const uint8_t *)"\x06\x00\x01\x04\x00\x00\x00\x00", 8); /* then TCP, cut short */
}

Test(gro, a_packet_whose_ports_cannot_be_seen_writes_its_addresses_flows_first)
{
	/* An IPv4 later fragment of TCP between a's and b's addresses: both
	 * go first (c is IPv6, it stays); an IPv6 packet with a hop-by-hop
	 * header: c goes first. */
	flows_init();
	held_then_last(&fa, &fb, &fc, frag4);
	cr_assert_eq(num_writes, 4);
	cr_assert_eq(wport(0), 40000);
	cr_assert_eq(wport(1), 40001);
	cr_assert_eq(wat[1], 10);
	cr_assert_eq(wlens[2], OVERLAY_VNET_HDR_LEN + 28);
	cr_assert_eq(wport(3), 40002);
	flows_init();
	held_then_last(&fa, &fb, &fc, hop_by_hop6);
	cr_assert_eq(num_writes, 4);
	cr_assert_eq(wport(0), 40002);
	cr_assert_eq(wlens[1], OVERLAY_VNET_HDR_LEN + 48);
	cr_assert_eq(wport(2), 40000);
	cr_assert_eq(wport(3), 40001);
}
