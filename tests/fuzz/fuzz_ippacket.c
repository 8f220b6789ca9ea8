/* Fuzz target for the overlay's IP checks and ICMP errors (overlay/packet.h,
 * overlay/icmp.h): every packet the TUN device or a peer hands the overlay.
 *
 * Properties, when a packet parses:
 *   - its header and own length lie inside the input, header <= length;
 *   - both errors built for it are either none (0) or at most
 *     OVERLAY_ICMP_MAX bytes that parse as an IP packet of the same
 *     version, addressed back to the packet's source, with a valid checksum
 *     (IPv4 header and ICMP; ICMPv6 over its pseudo-header);
 * and an input that does not parse gets no error. A broken property aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "overlay/icmp.h"
#include "overlay/packet.h"
#include "tests/fuzz/check.h"

static const uint8_t from[16] = {0xfd, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

static void check_error(const uint8_t *data, size_t size, const struct overlay_ip *ip, enum overlay_icmp_kind kind)
{
	static uint8_t out[OVERLAY_ICMP_MAX];
	size_t m = overlay_icmp_error(data, size, kind, 1280, from, out);
	if (!m)
		return;
	CHECK(m <= OVERLAY_ICMP_MAX);
	struct overlay_ip e;
	CHECK(overlay_ip_parse(out, m, &e) == OVERLAY_IP_OK);
	CHECK(e.version == ip->version);
	CHECK(e.len == m);
	size_t alen = ip->version == 4 ? 4 : 16;
	CHECK(!memcmp(e.dst, ip->src, alen));
	if (ip->version == 4) {
		CHECK(m <= 576);
		CHECK(overlay_csum_finish(overlay_csum(0, out, 20)) == 0);
		CHECK(overlay_csum_finish(overlay_csum(0, out + 20, m - 20)) == 0);
	} else {
		uint8_t pseudo[8] = {0, 0, (uint8_t)((m - 40) >> 8), (uint8_t)(m - 40), 0, 0, 0, 58};
		uint32_t sum = overlay_csum(overlay_csum(0, out + 8, 32), pseudo, 8);
		CHECK(overlay_csum_finish(overlay_csum(sum, out + 40, m - 40)) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct overlay_ip ip;
	if (overlay_ip_parse(data, size, &ip) != OVERLAY_IP_OK) {
		static uint8_t out[OVERLAY_ICMP_MAX];
		CHECK(overlay_icmp_error(data, size, OVERLAY_ICMP_UNREACHABLE, 0, from, out) == 0);
		return 0;
	}
	CHECK(ip.version == 4 || ip.version == 6);
	CHECK(ip.hdr_len <= ip.len && ip.len <= size);
	check_error(data, size, &ip, OVERLAY_ICMP_UNREACHABLE);
	check_error(data, size, &ip, OVERLAY_ICMP_TOO_BIG);
	check_error(data, size, &ip, OVERLAY_ICMP_PROHIBITED);
	return 0;
}
