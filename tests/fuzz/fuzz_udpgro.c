/* Fuzz target for core/udpgro.h: the UDP_GRO cmsg in a receive's
 * control data and the cutting of a coalesced receive into datagrams.
 *
 * Input: one byte k, then k bytes of control data (fewer if the input
 * ends), then the payload. The control data is copied into a buffer of
 * exactly its size, so that ASan sees any read past it. Properties:
 *   - core_udpgro_seg reads nothing outside the area; on success the
 *     size is 0 or 1..CORE_UDPGRO_MAX_SEG, on failure it is 0 and the
 *     status is one of the named ones;
 *   - the iterator hands out core_udpgro_count datagrams, each inside
 *     the payload and right after the one before, all of the segment size
 *     but the last (1..seg), together exactly the payload (without a
 *     segment size: the payload as one datagram, even empty);
 *   - after the end, next keeps returning false.
 * Seeds: tests/fuzz/corpus/udpgro/ (a GRO cmsg with a short last segment,
 * an exact multiple, no control data, another cmsg before UDP_GRO, a
 * header that overruns the area, a zero segment size);
 * tests/overlay/test_udpgro.c has the cases one by one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/udpgro.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	size_t k = data[0];
	if (k > size - 1)
		k = size - 1;
	uint8_t *ctl = malloc(k ? k : 1);
	CHECK(ctl != NULL);
	memcpy(ctl, data + 1, k);
	const uint8_t *pay = data + 1 + k;
	size_t len = size - 1 - k, seg = 12345;
	int st = core_udpgro_seg(ctl, k, &seg);
	free(ctl);
	if (st != CORE_UDPGRO_OK) {
		CHECK(st == CORE_UDPGRO_E_CMSG || st == CORE_UDPGRO_E_SEG);
		CHECK(seg == 0);
		return 0;
	}
	CHECK(seg <= CORE_UDPGRO_MAX_SEG);
	struct core_udpgro it;
	const uint8_t *p;
	size_t n, off = 0, num = 0, want = core_udpgro_count(len, seg);
	core_udpgro_init(&it, pay, len, seg);
	while (core_udpgro_next(&it, &p, &n)) {
		num++;
		CHECK(num <= want);
		CHECK(p == pay + off);
		CHECK(off + n <= len);
		if (seg) {
			CHECK(n >= 1 && n <= seg);
			if (num < want)
				CHECK(n == seg);
		} else {
			CHECK(n == len);
		}
		off += n;
	}
	CHECK(num == want);
	CHECK(off == len);
	CHECK(!core_udpgro_next(&it, &p, &n));
	return 0;
}
