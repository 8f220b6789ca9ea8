/* Fuzz target for overlay/gso.h: the virtio_net_hdr of a TUN read and the
 * cutting of TSO packets into ordinary ones.
 *
 * Input: a whole read (header, then packet bytes). Properties:
 *   - begin and next never read or write outside the read and the segment
 *     buffer (ASan), and stop: at most one packet per payload byte plus one;
 *   - every packet handed out lies inside the read or the segment buffer,
 *     is at most their size, and a TSO segment is a well-formed IP packet
 *     (overlay_ip_parse) whose own length is the one returned;
 *   - after an error or the end, next keeps returning 0.
 * Seeds: tests/fuzz/corpus/gso/ (IPv4 and IPv6 TSO reads, a partial
 * checksum, UDP GSO, broken headers); tests/overlay/test_gso.c has the
 * malformed cases one by one. */
#include <stdint.h>
#include <string.h>

#include "overlay/gso.h"
#include "overlay/packet.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[OVERLAY_GSO_MAX_READ];
	static uint8_t seg[2048];
	if (size > sizeof buf)
		size = sizeof buf;
	memcpy(buf, data, size);
	struct overlay_gso_iter it;
	const uint8_t *p = NULL;
	if (overlay_gso_begin(&it, buf, size) < 0) {
		CHECK(overlay_gso_next(&it, seg, sizeof seg, &p) == 0);
		return 0;
	}
	size_t count = 0;
	long m;
	while ((m = overlay_gso_next(&it, seg, sizeof seg, &p)) > 0) {
		CHECK(++count <= size + 1);
		bool in_read = p >= buf && p + m <= buf + size;
		bool in_seg = p == seg && (size_t)m <= sizeof seg;
		CHECK(in_read || in_seg);
		if (in_seg) {
			struct overlay_ip ip;
			CHECK(overlay_ip_parse(p, (size_t)m, &ip) == OVERLAY_IP_OK);
			CHECK(ip.len == (size_t)m);
		}
	}
	CHECK(overlay_gso_next(&it, seg, sizeof seg, &p) == 0);
	return 0;
}
