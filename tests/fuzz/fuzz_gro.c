/* Fuzz target for overlay/gro.h: coalescing TCP packets for TUN writes.
 *
 * Input: a sequence of packets, each a 2-byte big-endian length then that
 * many bytes (a short tail is the last packet; at most MAX_PKTS are
 * offered). They are offered to the coalescer as node/overlay.c does
 * (flush what FLUSH names and add again; write a passed packet as it is;
 * flush everything at the end). Properties:
 *   - add and flush never read or write outside the packet and the
 *     buffer (ASan); FLUSH always names a held packet, and "flush, add
 *     again" ends within OVERLAY_GRO_FLOWS + 1 rounds;
 *   - a write is at most OVERLAY_GRO_BUF_LEN bytes, at the start of one of
 *     the buffer's slots, and its segment count is the packets cut from it;
 *   - cut back by overlay/gso.h's cutter, the writes give the packets that
 *     went in, byte for byte, none lost or made up, and each flow's (TCP:
 *     addresses and ports; everything else, which is never held, one
 *     class) in the order it went in: the coalescer loses, invents, alters
 *     or reorders within a flow nothing, and its headers are ones the
 *     cutter (and so the kernel's rules it follows) accepts.
 * Seeds: tests/fuzz/corpus/gro/ (IPv4 and IPv6 flows, a gap, a PSH, two
 * flows one after the other and interleaved, nine flows in turn, an ICMP
 * error about a held flow); tests/overlay/test_gro.c has the cases one by
 * one. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "overlay/gro.h"
#include "overlay/gso.h"
#include "tests/fuzz/check.h"

#define MAX_PKTS 1024

static uint8_t gbuf[OVERLAY_GRO_MEM_LEN];
static uint8_t wbuf[OVERLAY_GRO_BUF_LEN];
static uint8_t seg[65536];
static const uint8_t *in[MAX_PKTS];     /* the packets offered, in order (into the input) */
static size_t in_len[MAX_PKTS];
static bool out[MAX_PKTS];              /* written already */
static size_t num_in;

/* The order class of p[0..n): TCP's version, addresses and ports where
 * the coalescer sees them too (IPv4 of any header length, not a later
 * fragment; IPv6 with TCP right after its header), else 0 bytes: every
 * other packet is passed at once, in the order it came. */
static size_t flow_key(const uint8_t *p, size_t n, uint8_t key[static 37])
{
	if (n >= 20 && (p[0] >> 4) == 4 && p[9] == 6 && !((p[6] << 8 | p[7]) & 0x1fff)) {
		size_t ihl = (size_t)(p[0] & 0x0f) * 4;
		if (ihl < 20 || ihl + 4 > n)
			return 0;
		key[0] = 4;
		memcpy(key + 1, p + 12, 8);
		memcpy(key + 9, p + ihl, 4);
		return 13;
	}
	if (n >= 44 && (p[0] >> 4) == 6 && p[6] == 6) {
		key[0] = 6;
		memcpy(key + 1, p + 8, 36);
		return 37;
	}
	return 0;
}

/* Packet p[0..n), written: the first of its class not written yet. */
static void emitted(const uint8_t *p, size_t n)
{
	uint8_t kp[37], kf[37];
	size_t lp = flow_key(p, n, kp), j;
	for (j = 0; j < num_in; j++)
		if (!out[j] && flow_key(in[j], in_len[j], kf) == lp && !memcmp(kp, kf, lp))
			break;
	CHECK(j < num_in);
	CHECK(in_len[j] == n && !memcmp(in[j], p, n));
	out[j] = true;
}

/* Writes one held packet and checks it. */
static bool flush(struct overlay_gro *g)
{
	const uint8_t *w = NULL;
	uint16_t segs = 0;
	size_t n = overlay_gro_flush(g, &w, &segs);
	if (!n)
		return false;
	CHECK(n <= OVERLAY_GRO_BUF_LEN && w >= gbuf && w < gbuf + sizeof gbuf);
	CHECK((size_t)(w - gbuf) % OVERLAY_GRO_BUF_LEN == 0);
	memcpy(wbuf, w, n); /* the cutter finishes a checksum in place */
	struct overlay_gso_iter it;
	CHECK(overlay_gso_begin(&it, wbuf, n) == 0);
	const uint8_t *p;
	long m;
	uint16_t cut = 0;
	while ((m = overlay_gso_next(&it, seg, sizeof seg, &p)) > 0) {
		emitted(p, (size_t)m);
		cut++;
	}
	CHECK(m == 0);
	CHECK(cut == segs);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct overlay_gro g;
	overlay_gro_init(&g, gbuf);
	num_in = 0;
	size_t i = 0;
	while (i < size && num_in < MAX_PKTS) {
		size_t n = size - i < 2 ? 0 : (size_t)data[i] << 8 | data[i + 1];
		i += size - i < 2 ? size - i : 2;
		if (n > size - i)
			n = size - i;
		const uint8_t *p = data + i;
		i += n;
		in[num_in] = p;
		in_len[num_in] = n;
		out[num_in++] = false;
		enum overlay_gro_verdict v;
		int round = 0;
		while ((v = overlay_gro_add(&g, p, n)) == OVERLAY_GRO_FLUSH) {
			CHECK(round++ < OVERLAY_GRO_FLOWS + 1);
			CHECK(flush(&g));
		}
		CHECK(v == OVERLAY_GRO_HELD || v == OVERLAY_GRO_PASS);
		if (v == OVERLAY_GRO_PASS)
			emitted(p, n);
	}
	while (flush(&g))
		;
	for (int k = 0; k < OVERLAY_GRO_FLOWS; k++)
		CHECK(g.flows[k].len == 0);
	for (size_t j = 0; j < num_in; j++)
		CHECK(out[j]);
	return 0;
}
