/* overlay/icmp: the errors the overlay answers with, byte for byte as a
 * router builds them, and the packets that must get none. */
#include <criterion/criterion.h>
#include <string.h>

#include "overlay/icmp.h"
#include "overlay/packet.h"

static const uint8_t us4[4] = {100, 64, 0, 1};
static const uint8_t us6[16] = {0xfd, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

/* An independent RFC 1071 sum: valid data sums to 0xffff. */
static uint16_t fold(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i < n; i++)
		sum += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static size_t udp4(uint8_t *p, size_t payload, const char *src, const char *dst)
{
	memset(p, 0, 28 + payload);
	p[0] = 0x45;
	p[2] = (uint8_t)((28 + payload) >> 8);
	p[3] = (uint8_t)(28 + payload);
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	memset(p + 28, 0x5a, payload);
	return 28 + payload;
}

static size_t udp6(uint8_t *p, size_t payload, uint8_t src0, uint8_t dst0)
{
	memset(p, 0, 48 + payload);
	p[0] = 0x60;
	p[4] = (uint8_t)((8 + payload) >> 8);
	p[5] = (uint8_t)(8 + payload);
	p[6] = 17;
	p[7] = 64;
	p[8] = src0;
	p[23] = 2;
	p[24] = dst0;
	p[39] = 3;
	memset(p + 48, 0x5a, payload);
	return 48 + payload;
}

Test(overlay_icmp, v4_host_unreachable)
{
	uint8_t pkt[2000], out[OVERLAY_ICMP_MAX];
	size_t n = udp4(pkt, 100, "\x64\x40\x00\x07", "\x64\x40\x09\x09");
	size_t m = overlay_icmp_error(pkt, n, OVERLAY_ICMP_UNREACHABLE, 0, us4, out);
	cr_assert_eq(m, 28 + n, "header, ICMP header, the whole short packet");
	struct overlay_ip ip;
	cr_assert_eq(overlay_ip_parse(out, m, &ip), OVERLAY_IP_OK);
	cr_assert_eq(ip.proto, 1);
	cr_assert_arr_eq(ip.src, us4, 4, "from our overlay address");
	cr_assert_arr_eq(ip.dst, "\x64\x40\x00\x07", 4, "back to the sender");
	cr_assert_eq(fold(out, 20, 0), 0xffff, "IPv4 header checksum");
	cr_assert_eq(out[20], 3);
	cr_assert_eq(out[21], 1, "host unreachable");
	cr_assert_eq(fold(out + 20, m - 20, 0), 0xffff, "ICMP checksum");
	cr_assert_arr_eq(out + 28, pkt, n, "quotes the packet");
}

Test(overlay_icmp, v4_fragmentation_needed_carries_the_mtu_and_stops_at_576)
{
	uint8_t pkt[2000], out[OVERLAY_ICMP_MAX];
	size_t n = udp4(pkt, 1400, "\x64\x40\x00\x07", "\x64\x40\x09\x09");
	size_t m = overlay_icmp_error(pkt, n, OVERLAY_ICMP_TOO_BIG, 1280, us4, out);
	cr_assert_eq(m, 576, "RFC 1812: no more than 576 bytes");
	cr_assert_eq(out[21], 4);
	cr_assert_eq(out[26] << 8 | out[27], 1280, "RFC 1191 next-hop MTU");
	cr_assert_eq(fold(out + 20, m - 20, 0), 0xffff);
	cr_assert_eq(out[2] << 8 | out[3], 576);
}

Test(overlay_icmp, v6_address_unreachable_with_pseudo_header_checksum)
{
	uint8_t pkt[2000], out[OVERLAY_ICMP_MAX];
	size_t n = udp6(pkt, 64, 0xfd, 0xfd);
	size_t m = overlay_icmp_error(pkt, n, OVERLAY_ICMP_UNREACHABLE, 0, us6, out);
	cr_assert_eq(m, 48 + n);
	struct overlay_ip ip;
	cr_assert_eq(overlay_ip_parse(out, m, &ip), OVERLAY_IP_OK);
	cr_assert_eq(ip.proto, 58);
	cr_assert_arr_eq(ip.src, us6, 16);
	cr_assert_arr_eq(ip.dst, pkt + 8, 16);
	cr_assert_eq(out[40], 1);
	cr_assert_eq(out[41], 3);
	uint8_t pseudo[40];
	memcpy(pseudo, out + 8, 32);
	memset(pseudo + 32, 0, 8);
	pseudo[34] = (uint8_t)((m - 40) >> 8);
	pseudo[35] = (uint8_t)(m - 40);
	pseudo[39] = 58;
	cr_assert_eq(fold(out + 40, m - 40, fold(pseudo, 40, 0)), 0xffff, "ICMPv6 checksum over the pseudo-header");
}

Test(overlay_icmp, v6_packet_too_big_stops_at_1280)
{
	uint8_t pkt[2000], out[OVERLAY_ICMP_MAX];
	size_t n = udp6(pkt, 1400, 0xfd, 0xfd);
	size_t m = overlay_icmp_error(pkt, n, OVERLAY_ICMP_TOO_BIG, 1280, us6, out);
	cr_assert_eq(m, 1280);
	cr_assert_eq(out[40], 2);
	cr_assert_eq((uint32_t)out[44] << 24 | out[45] << 16 | out[46] << 8 | out[47], 1280);
}

Test(overlay_icmp, no_error_for_errors_fragments_and_odd_sources)
{
	uint8_t pkt[2000], out[OVERLAY_ICMP_MAX];
	size_t n = udp4(pkt, 8, "\x64\x40\x00\x07", "\x64\x40\x09\x09");
	pkt[9] = 1;
	pkt[20] = 3; /* an ICMP destination unreachable */
	cr_assert_eq(overlay_icmp_error(pkt, n, OVERLAY_ICMP_UNREACHABLE, 0, us4, out), 0, "an error answers no error");
	pkt[20] = 8; /* echo request: answered */
	cr_assert_gt(overlay_icmp_error(pkt, n, OVERLAY_ICMP_UNREACHABLE, 0, us4, out), 0);
	n = udp4(pkt, 8, "\x64\x40\x00\x07", "\x64\x40\x09\x09");
	pkt[7] = 0x10; /* fragment offset 16 */
	cr_assert_eq(overlay_icmp_error(pkt, n, OVERLAY_ICMP_UNREACHABLE, 0, us4, out), 0, "non-first fragment");
	n = udp4(pkt, 8, "\x00\x00\x00\x00", "\x64\x40\x09\x09");
	cr_assert_eq(overlay_icmp_error(pkt, n, OVERLAY_ICMP_UNREACHABLE, 0, us4, out), 0, "unspecified source");
	n = udp4(pkt, 8, "\x64\x40\x00\x07", "\xe0\x00\x00\x01");
	cr_assert_eq(overlay_icmp_error(pkt, n, OVERLAY_ICMP_UNREACHABLE, 0, us4, out), 0, "multicast destination");
	n = udp6(pkt, 8, 0xff, 0xfd);
	cr_assert_eq(overlay_icmp_error(pkt, n, OVERLAY_ICMP_UNREACHABLE, 0, us6, out), 0, "multicast v6 source");
	n = udp6(pkt, 8, 0xfd, 0xff);
	cr_assert_eq(overlay_icmp_error(pkt, n, OVERLAY_ICMP_UNREACHABLE, 0, us6, out), 0);
	cr_assert_gt(overlay_icmp_error(pkt, n, OVERLAY_ICMP_TOO_BIG, 1280, us6, out), 0,
		     "packet too big may answer multicast");
	n = udp6(pkt, 8, 0xfd, 0xfd);
	pkt[6] = 58;
	pkt[40] = 1; /* ICMPv6 destination unreachable */
	cr_assert_eq(overlay_icmp_error(pkt, n, OVERLAY_ICMP_UNREACHABLE, 0, us6, out), 0);
	cr_assert_eq(overlay_icmp_error(pkt, 10, OVERLAY_ICMP_UNREACHABLE, 0, us6, out), 0, "garbage");
}

Test(overlay_icmp, administratively_prohibited_codes)
{
	uint8_t pkt[2000], out[OVERLAY_ICMP_MAX];
	size_t n = udp4(pkt, 8, "\x64\x40\x00\x07", "\x64\x40\x09\x09");
	cr_assert_gt(overlay_icmp_error(pkt, n, OVERLAY_ICMP_PROHIBITED, 0, us4, out), 0);
	cr_assert_eq(out[20], 3);
	cr_assert_eq(out[21], 13, "RFC 1812: communication administratively prohibited");
	n = udp6(pkt, 8, 0xfd, 0xfd);
	cr_assert_gt(overlay_icmp_error(pkt, n, OVERLAY_ICMP_PROHIBITED, 0, us6, out), 0);
	cr_assert_eq(out[40], 1);
	cr_assert_eq(out[41], 1, "RFC 4443: communication with destination administratively prohibited");
}
