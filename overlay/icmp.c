/* overlay/icmp.c: see icmp.h. RFC 792, RFC 1191, RFC 1812, RFC 4443. */
#include "overlay/icmp.h"

#include <string.h>

#include "core/bytes.h"
#include "overlay/packet.h"

#define V4_ERROR_MAX 576
#define HOP_LIMIT 64

/* Whether the packet is itself an ICMP error (answering it could loop). */
static int is_icmp_error(const uint8_t *pkt, const struct overlay_ip *ip)
{
	if (ip->len <= ip->hdr_len)
		return 0;
	uint8_t type = pkt[ip->hdr_len];
	if (ip->version == 4)
		return ip->proto == 1 && (type == 3 || type == 4 || type == 5 || type == 11 || type == 12);
	return ip->proto == 58 && type < 128; /* RFC 4443 section 2.1: errors are 0..127 */
}

static int v4_no_answer_source(const uint8_t a[4])
{
	return a[0] == 0 || a[0] >= 224 || (a[0] == 127); /* this-network, multicast, class E, broadcast, loopback */
}

static size_t error4(const uint8_t *pkt, const struct overlay_ip *ip, enum overlay_icmp_kind kind, uint32_t mtu,
		     const uint8_t from[4], uint8_t *out)
{
	if (ip->frag_off || v4_no_answer_source(ip->src) || ip->dst[0] >= 224)
		return 0;
	size_t quote = ip->len;
	if (quote > V4_ERROR_MAX - 28)
		quote = V4_ERROR_MAX - 28;
	size_t total = 28 + quote;
	memset(out, 0, 28);
	out[0] = 0x45;
	core_put_be16(out + 2, (uint16_t)total);
	out[8] = HOP_LIMIT;
	out[9] = 1; /* ICMP */
	memcpy(out + 12, from, 4);
	memcpy(out + 16, ip->src, 4);
	core_put_be16(out + 10, overlay_csum_finish(overlay_csum(0, out, 20)));
	uint8_t *icmp = out + 20;
	icmp[0] = 3;
	icmp[1] = kind == OVERLAY_ICMP_TOO_BIG ? 4 : kind == OVERLAY_ICMP_PROHIBITED ? 13 : 1;
	if (kind == OVERLAY_ICMP_TOO_BIG) /* RFC 1191 section 4: next-hop MTU in the low 16 bits */
		core_put_be16(icmp + 6, (uint16_t)(mtu > 0xffff ? 0xffff : mtu));
	memcpy(icmp + 8, pkt, quote);
	core_put_be16(icmp + 2, overlay_csum_finish(overlay_csum(0, icmp, 8 + quote)));
	return total;
}

static size_t error6(const uint8_t *pkt, const struct overlay_ip *ip, enum overlay_icmp_kind kind, uint32_t mtu,
		     const uint8_t from[16], uint8_t *out)
{
	static const uint8_t unspecified[16];
	if (!memcmp(ip->src, unspecified, 16) || ip->src[0] == 0xff)
		return 0;
	/* RFC 4443 section 2.4 (e.3): packet too big may answer a multicast
	 * destination; unreachable may not. */
	if (ip->dst[0] == 0xff && kind != OVERLAY_ICMP_TOO_BIG)
		return 0;
	size_t quote = ip->len;
	if (quote > OVERLAY_ICMP_MAX - 48)
		quote = OVERLAY_ICMP_MAX - 48;
	size_t plen = 8 + quote;
	memset(out, 0, 48);
	out[0] = 0x60;
	core_put_be16(out + 4, (uint16_t)plen);
	out[6] = 58; /* ICMPv6 */
	out[7] = HOP_LIMIT;
	memcpy(out + 8, from, 16);
	memcpy(out + 24, ip->src, 16);
	uint8_t *icmp = out + 40;
	if (kind == OVERLAY_ICMP_TOO_BIG) {
		icmp[0] = 2;
		core_put_be32(icmp + 4, mtu);
	} else {
		icmp[0] = 1;
		icmp[1] = kind == OVERLAY_ICMP_PROHIBITED ? 1 : 3; /* administratively prohibited, address unreachable */
	}
	memcpy(icmp + 8, pkt, quote);
	/* RFC 8200 section 8.1: the pseudo-header is source, destination,
	 * upper-layer length (32 bits) and next header (32 bits). */
	uint8_t pseudo[8] = {0};
	core_put_be32(pseudo, (uint32_t)plen);
	pseudo[7] = 58;
	uint32_t sum = overlay_csum(0, out + 8, 32);
	sum = overlay_csum(sum, pseudo, sizeof pseudo);
	sum = overlay_csum(sum, icmp, plen);
	core_put_be16(icmp + 2, overlay_csum_finish(sum));
	return 40 + plen;
}

size_t overlay_icmp_error(const uint8_t *pkt, size_t n, enum overlay_icmp_kind kind, uint32_t mtu,
			  const uint8_t *from, uint8_t out[static OVERLAY_ICMP_MAX])
{
	struct overlay_ip ip;
	if (overlay_ip_parse(pkt, n, &ip) != OVERLAY_IP_OK || is_icmp_error(pkt, &ip))
		return 0;
	return ip.version == 4 ? error4(pkt, &ip, kind, mtu, from, out) : error6(pkt, &ip, kind, mtu, from, out);
}
