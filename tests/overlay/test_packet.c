/* overlay/packet: the IP checks every packet passes before it is routed. */
#include <criterion/criterion.h>
#include <string.h>

#include "overlay/packet.h"

static size_t v4(uint8_t *p, size_t payload)
{
	memset(p, 0, 20 + payload);
	p[0] = 0x45;
	p[2] = (uint8_t)((20 + payload) >> 8);
	p[3] = (uint8_t)(20 + payload);
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, "\x64\x40\x00\x01", 4);
	memcpy(p + 16, "\x64\x40\x00\x02", 4);
	return 20 + payload;
}

static size_t v6(uint8_t *p, size_t payload)
{
	memset(p, 0, 40 + payload);
	p[0] = 0x60;
	p[4] = (uint8_t)(payload >> 8);
	p[5] = (uint8_t)payload;
	p[6] = 17;
	p[7] = 64;
	p[8] = 0xfd;
	p[23] = 1;
	p[24] = 0xfd;
	p[39] = 2;
	return 40 + payload;
}

Test(overlay_packet, v4_fields)
{
	uint8_t p[64];
	size_t n = v4(p, 8);
	struct overlay_ip ip;
	cr_assert_eq(overlay_ip_parse(p, n, &ip), OVERLAY_IP_OK);
	cr_assert_eq(ip.version, 4);
	cr_assert_eq(ip.proto, 17);
	cr_assert_eq(ip.hdr_len, 20);
	cr_assert_eq(ip.len, 28);
	cr_assert_arr_eq(ip.src, "\x64\x40\x00\x01", 4);
	cr_assert_arr_eq(ip.dst, "\x64\x40\x00\x02", 4);
}

Test(overlay_packet, v6_fields)
{
	uint8_t p[64];
	size_t n = v6(p, 8);
	struct overlay_ip ip;
	cr_assert_eq(overlay_ip_parse(p, n, &ip), OVERLAY_IP_OK);
	cr_assert_eq(ip.version, 6);
	cr_assert_eq(ip.len, 48);
	cr_assert_eq(ip.src[0], 0xfd);
	cr_assert_eq(ip.dst[15], 2);
}

Test(overlay_packet, padding_after_the_packet_is_left_out)
{
	uint8_t p[64];
	v4(p, 8);
	struct overlay_ip ip;
	cr_assert_eq(overlay_ip_parse(p, 40, &ip), OVERLAY_IP_OK);
	cr_assert_eq(ip.len, 28);
}

Test(overlay_packet, every_malformed_shape_has_its_error)
{
	uint8_t p[64] = {0};
	struct overlay_ip ip;
	cr_assert_eq(overlay_ip_parse(p, 0, &ip), OVERLAY_IP_E_SHORT);
	size_t n = v4(p, 8);
	cr_assert_eq(overlay_ip_parse(p, 19, &ip), OVERLAY_IP_E_SHORT);
	p[0] = 0x44;
	cr_assert_eq(overlay_ip_parse(p, n, &ip), OVERLAY_IP_E_HEADER, "IHL 4");
	p[0] = 0x48;
	cr_assert_eq(overlay_ip_parse(p, n, &ip), OVERLAY_IP_E_HEADER, "IHL 8: 32 bytes of header in 28");
	p[0] = 0x45;
	p[3] = 29;
	cr_assert_eq(overlay_ip_parse(p, n, &ip), OVERLAY_IP_E_LENGTH, "total length past the bytes");
	p[3] = 19;
	cr_assert_eq(overlay_ip_parse(p, n, &ip), OVERLAY_IP_E_LENGTH, "total length inside the header");
	n = v6(p, 8);
	cr_assert_eq(overlay_ip_parse(p, 39, &ip), OVERLAY_IP_E_SHORT);
	p[5] = 9;
	cr_assert_eq(overlay_ip_parse(p, n, &ip), OVERLAY_IP_E_LENGTH);
	p[0] = 0x50;
	cr_assert_eq(overlay_ip_parse(p, n, &ip), OVERLAY_IP_E_VERSION);
	cr_assert_str_eq(overlay_ip_err_name(OVERLAY_IP_E_VERSION), "version");
}

Test(overlay_packet, checksum_of_rfc1071_example)
{
	/* RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2. */
	static const uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	cr_assert_eq(overlay_csum(0, d, sizeof d), 0xddf2);
	cr_assert_eq(overlay_csum_finish(overlay_csum(0, d, sizeof d)), (uint16_t)~0xddf2);
	cr_assert_eq(overlay_csum(overlay_csum(0, d, 4), d + 4, 4), 0xddf2, "chained in even pieces");
}
