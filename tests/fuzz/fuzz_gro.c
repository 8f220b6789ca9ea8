/* Fuzz target for overlay/gro.h: coalescing TCP packets for TUN writes.
 *
 * Input: a sequence of packets, each a 2-byte big-endian length then that
 * many bytes (a short tail is the last packet). They are offered to the
 * coalescer as node/overlay.c does (flush and add again, flush and write
 * plain). Properties:
 *   - add and flush never read or write outside the packet and the
 *     buffer (ASan), and "flush, add again" ends: with nothing pending the
 *     answer is HELD or PASS;
 *   - a write is at most OVERLAY_GRO_BUF_LEN bytes, inside the buffer;
 *   - cut back by overlay/gso.h's cutter, every write gives the packets
 *     that were held for it, byte for byte, in order: the coalescer loses,
 *     invents or alters nothing, and its headers are ones the cutter (and
 *     so the kernel's rules it follows) accepts.
 * Seeds: tests/fuzz/corpus/gro/ (IPv4 and IPv6 flows, a gap, a PSH, two
 * flows); tests/overlay/test_gro.c has the cases one by one. */
#include <stdint.h>
#include <string.h>

#include "overlay/gro.h"
#include "overlay/gso.h"
#include "tests/fuzz/check.h"

#define HELD_MAX (1u << 20)

static uint8_t gbuf[OVERLAY_GRO_BUF_LEN];
static uint8_t wbuf[OVERLAY_GRO_BUF_LEN];
static uint8_t seg[65536];
static uint8_t held[HELD_MAX];  /* the packets held since the last flush, each after its length */
static size_t held_len;

/* Flushes g and checks the write against what was held. */
static void flush(struct overlay_gro *g)
{
	const uint8_t *w = NULL;
	size_t n = overlay_gro_flush(g, &w);
	if (!n) {
		CHECK(held_len == 0);
		return;
	}
	CHECK(n <= OVERLAY_GRO_BUF_LEN && w == gbuf);
	memcpy(wbuf, w, n); /* the cutter finishes a checksum in place */
	struct overlay_gso_iter it;
	CHECK(overlay_gso_begin(&it, wbuf, n) == 0);
	size_t off = 0;
	const uint8_t *p;
	long m;
	while ((m = overlay_gso_next(&it, seg, sizeof seg, &p)) > 0) {
		CHECK(off + 2 <= held_len);
		size_t len = (size_t)held[off] << 8 | held[off + 1];
		CHECK((size_t)m == len);
		CHECK(!memcmp(p, held + off + 2, len));
		off += 2 + len;
	}
	CHECK(m == 0);
	CHECK(off == held_len);
	held_len = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct overlay_gro g;
	overlay_gro_init(&g, gbuf);
	held_len = 0;
	if (size > HELD_MAX / 2)
		size = HELD_MAX / 2;
	size_t i = 0;
	while (i < size) {
		size_t n = size - i < 2 ? 0 : (size_t)data[i] << 8 | data[i + 1];
		i += size - i < 2 ? size - i : 2;
		if (n > size - i)
			n = size - i;
		const uint8_t *p = data + i;
		i += n;
		for (int round = 0;; round++) {
			CHECK(round < 2);
			enum overlay_gro_verdict v = overlay_gro_add(&g, p, n);
			if (v == OVERLAY_GRO_HELD) {
				CHECK(held_len + 2 + n <= HELD_MAX);
				held[held_len] = (uint8_t)(n >> 8);
				held[held_len + 1] = (uint8_t)n;
				memcpy(held + held_len + 2, p, n);
				held_len += 2 + n;
				break;
			}
			CHECK(v == OVERLAY_GRO_FLUSH || v == OVERLAY_GRO_PASS);
			flush(&g);
			if (v == OVERLAY_GRO_PASS)
				break;
		}
	}
	flush(&g);
	return 0;
}
