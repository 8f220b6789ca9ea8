/* overlay/packet.c: see packet.h. RFC 791 (IPv4), RFC 8200 (IPv6). */
#include "overlay/packet.h"

#include <string.h>

#include "core/bytes.h"

enum overlay_ip_err overlay_ip_parse(const uint8_t *p, size_t n, struct overlay_ip *out)
{
	if (n < 1)
		return OVERLAY_IP_E_SHORT;
	memset(out, 0, sizeof *out);
	out->version = p[0] >> 4;
	if (out->version == 4) {
		if (n < 20)
			return OVERLAY_IP_E_SHORT;
		/* RFC 791 section 3.1: IHL counts 32-bit words, minimum 5. */
		unsigned ihl = (p[0] & 0x0f) * 4u;
		if (ihl < 20 || ihl > n)
			return OVERLAY_IP_E_HEADER;
		unsigned total = core_get_be16(p + 2);
		if (total < ihl || total > n)
			return OVERLAY_IP_E_LENGTH;
		out->hdr_len = (uint16_t)ihl;
		out->len = (uint16_t)total;
		out->frag_off = core_get_be16(p + 6) & 0x1fff;
		out->proto = p[9];
		memcpy(out->src, p + 12, 4);
		memcpy(out->dst, p + 16, 4);
		return OVERLAY_IP_OK;
	}
	if (out->version == 6) {
		if (n < 40)
			return OVERLAY_IP_E_SHORT;
		/* RFC 8200 section 3: Payload Length excludes the fixed header.
		 * Jumbograms (0 with a Hop-by-Hop option) never cross a TUN of
		 * our MTU: a zero length is an empty payload. */
		size_t total = 40u + core_get_be16(p + 4);
		if (total > n)
			return OVERLAY_IP_E_LENGTH;
		out->hdr_len = 40;
		out->len = (uint16_t)total;
		out->proto = p[6];
		memcpy(out->src, p + 8, 16);
		memcpy(out->dst, p + 24, 16);
		return OVERLAY_IP_OK;
	}
	return OVERLAY_IP_E_VERSION;
}

const char *overlay_ip_err_name(enum overlay_ip_err e)
{
	switch (e) {
	case OVERLAY_IP_OK:
		return "ok";
	case OVERLAY_IP_E_SHORT:
		return "short";
	case OVERLAY_IP_E_VERSION:
		return "version";
	case OVERLAY_IP_E_HEADER:
		return "header";
	case OVERLAY_IP_E_LENGTH:
		return "length";
	}
	return "?";
}

uint32_t overlay_csum(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < n)
		sum += (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

uint16_t overlay_csum_finish(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}
