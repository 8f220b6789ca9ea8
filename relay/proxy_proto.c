/* The PROXY protocol codec: see relay/proxy_proto.h. Section numbers are
 * those of HAProxy's "The PROXY protocol" (proxy-protocol.txt). */
#include "relay/proxy_proto.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* Section 2.2: the v2 signature. Its first bytes (CR LF CR LF NUL) can
 * start neither an HTTP request nor the v1 line, nor a TLS record. */
static const uint8_t V2_SIG[RELAY_PROXY_V2_SIG_LEN] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
						       0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char V1_SIG[] = "PROXY ";
enum { V1_SIG_LEN = sizeof V1_SIG - 1 };

/* Section 2.2, the 14th byte: address family (high nibble), transport (low). */
enum { AF_V2_UNSPEC = 0, AF_V2_INET = 1, AF_V2_INET6 = 2, AF_V2_UNIX = 3 };
enum { TP_V2_UNSPEC = 0, TP_V2_STREAM = 1, TP_V2_DGRAM = 2 };
enum { CMD_V2_LOCAL = 0, CMD_V2_PROXY = 1 };

const char *relay_proxy_strerror(int err)
{
	switch (err) {
	case RELAY_PROXY_OK: return "ok";
	case RELAY_PROXY_INCOMPLETE: return "incomplete PROXY header";
	case RELAY_PROXY_E_NOT_PROXY: return "no PROXY protocol signature";
	case RELAY_PROXY_E_SYNTAX: return "malformed PROXY v1 line";
	case RELAY_PROXY_E_TOO_LONG: return "PROXY header too long";
	case RELAY_PROXY_E_VERSION: return "PROXY v2 version is not 2";
	case RELAY_PROXY_E_COMMAND: return "PROXY v2 command is neither LOCAL nor PROXY";
	case RELAY_PROXY_E_FAMILY: return "unknown PROXY address family or transport";
	case RELAY_PROXY_E_ADDRESS: return "bad PROXY address";
	case RELAY_PROXY_E_PORT: return "bad PROXY port";
	case RELAY_PROXY_E_TLV: return "PROXY v2 TLV runs past the header";
	case RELAY_PROXY_E_NO_ROOM: return "no room for the PROXY header";
	default: return "unknown PROXY protocol error";
	}
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

bool relay_proxy_may_start(const uint8_t *buf, size_t len)
{
	if (!memcmp(buf, V1_SIG, min_size(len, V1_SIG_LEN)))
		return true;
	return !memcmp(buf, V2_SIG, min_size(len, RELAY_PROXY_V2_SIG_LEN));
}

/* ---- version 1 ---- */

/* Section 2.1: a port is 0..65535 in decimal, without leading zeros. */
static bool v1_port(const char *s, size_t n, uint16_t *out)
{
	uint32_t v = 0;
	if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* An address of family af (AF_INET, AF_INET6) in s[0..n), as inet_pton
 * reads it (dotted quad without leading zeros; RFC 4291 text). */
static bool v1_addr(int af, const char *s, size_t n, uint8_t out[16])
{
	char tmp[INET6_ADDRSTRLEN];
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	memset(out, 0, 16);
	return inet_pton(af, tmp, out) == 1;
}

/* The next token of line[*pos..end): the bytes up to a single space or the
 * end; *pos moves past the space. A token is never empty (two spaces in a
 * row, or a space at the end, are malformed). */
static bool v1_token(const char *line, size_t end, size_t *pos, const char **tok, size_t *tok_len, bool last)
{
	size_t s = *pos, e = s;
	while (e < end && line[e] != ' ')
		e++;
	if (e == s)
		return false;
	if (last != (e == end))
		return false;
	*tok = line + s;
	*tok_len = e - s;
	*pos = e + 1;
	return true;
}

static int parse_v1(struct relay_proxy_hdr *out, const uint8_t *buf, size_t len)
{
	/* Section 2.1: "PROXY" SP, then the line up to CRLF, 107 bytes at
	 * most. Only printable US-ASCII and spaces may come before CRLF: a
	 * byte outside them is refused as soon as it arrives. */
	if (memcmp(buf, V1_SIG, min_size(len, V1_SIG_LEN)))
		return RELAY_PROXY_E_NOT_PROXY;
	size_t scan = min_size(len, RELAY_PROXY_V1_MAX_LEN), crlf = 0;
	bool found = false;
	for (size_t i = V1_SIG_LEN; i < scan; i++) {
		uint8_t c = buf[i];
		if (c == '\r') {
			if (i + 1 >= RELAY_PROXY_V1_MAX_LEN)
				return RELAY_PROXY_E_TOO_LONG;
			if (i + 1 == len)
				return RELAY_PROXY_INCOMPLETE;
			if (buf[i + 1] != '\n')
				return RELAY_PROXY_E_SYNTAX;
			crlf = i;
			found = true;
			break;
		}
		if (c < 0x20 || c > 0x7e)
			return RELAY_PROXY_E_SYNTAX;
	}
	if (!found)
		return len >= RELAY_PROXY_V1_MAX_LEN ? RELAY_PROXY_E_TOO_LONG : RELAY_PROXY_INCOMPLETE;

	const char *line = (const char *)buf;
	size_t pos = V1_SIG_LEN, n;
	const char *tok;
	struct relay_proxy_hdr h = {.version = 1, .family = RELAY_PROXY_AF_UNSPEC};
	/* The protocol: UNKNOWN may be followed by anything, which the
	 * receiver ignores; TCP4 and TCP6 by exactly four fields. */
	size_t s = pos, e = s;
	while (e < crlf && line[e] != ' ')
		e++;
	if (e - s == 7 && !memcmp(line + s, "UNKNOWN", 7)) {
		*out = h;
		return (int)(crlf + 2);
	}
	int af;
	if (e - s == 4 && !memcmp(line + s, "TCP4", 4)) {
		af = AF_INET;
		h.family = RELAY_PROXY_AF_INET;
	} else if (e - s == 4 && !memcmp(line + s, "TCP6", 4)) {
		af = AF_INET6;
		h.family = RELAY_PROXY_AF_INET6;
	} else {
		return RELAY_PROXY_E_SYNTAX;
	}
	if (e == crlf)
		return RELAY_PROXY_E_SYNTAX;
	pos = e + 1;
	/* Source and destination addresses, of the protocol's family. */
	if (!v1_token(line, crlf, &pos, &tok, &n, false))
		return RELAY_PROXY_E_SYNTAX;
	if (!v1_addr(af, tok, n, h.src_addr))
		return RELAY_PROXY_E_ADDRESS;
	if (!v1_token(line, crlf, &pos, &tok, &n, false))
		return RELAY_PROXY_E_SYNTAX;
	if (!v1_addr(af, tok, n, h.dst_addr))
		return RELAY_PROXY_E_ADDRESS;
	/* Source and destination ports. */
	if (!v1_token(line, crlf, &pos, &tok, &n, false))
		return RELAY_PROXY_E_SYNTAX;
	if (!v1_port(tok, n, &h.src_port))
		return RELAY_PROXY_E_PORT;
	if (!v1_token(line, crlf, &pos, &tok, &n, true))
		return RELAY_PROXY_E_SYNTAX;
	if (!v1_port(tok, n, &h.dst_port))
		return RELAY_PROXY_E_PORT;
	*out = h;
	return (int)(crlf + 2);
}

/* ---- version 2 ---- */

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Section 2.2.7: TLVs, each a type, a 16-bit length and that many bytes,
 * fill the rest of the header. */
static bool tlvs_tile(const uint8_t *p, size_t len)
{
	size_t off = 0;
	while (off < len) {
		if (len - off < 3)
			return false;
		size_t vl = get_u16(p + off + 1);
		if (vl > len - off - 3)
			return false;
		off += 3 + vl;
	}
	return true;
}

static int parse_v2(struct relay_proxy_hdr *out, const uint8_t *buf, size_t len)
{
	/* The 12-byte signature. */
	if (memcmp(buf, V2_SIG, min_size(len, RELAY_PROXY_V2_SIG_LEN)))
		return RELAY_PROXY_E_NOT_PROXY;
	if (len <= RELAY_PROXY_V2_SIG_LEN)
		return RELAY_PROXY_INCOMPLETE;
	/* 13th byte: the version (high nibble) must be 2; the command (low)
	 * LOCAL or PROXY, others "must be" refused (section 2.2). */
	uint8_t ver_cmd = buf[12];
	if (ver_cmd >> 4 != 2)
		return RELAY_PROXY_E_VERSION;
	if ((ver_cmd & 0xf) != CMD_V2_LOCAL && (ver_cmd & 0xf) != CMD_V2_PROXY)
		return RELAY_PROXY_E_COMMAND;
	if (len <= 13)
		return RELAY_PROXY_INCOMPLETE;
	/* 14th byte: family and transport, among those defined. */
	uint8_t fam = buf[13];
	unsigned af = fam >> 4, tp = fam & 0xf;
	if (af > AF_V2_UNIX || tp > TP_V2_DGRAM)
		return RELAY_PROXY_E_FAMILY;
	if (len < RELAY_PROXY_V2_HEADER_LEN)
		return RELAY_PROXY_INCOMPLETE;
	/* 15th and 16th: the length of the rest, bounded by us. */
	size_t plen = get_u16(buf + 14);
	if (plen > RELAY_PROXY_V2_MAX_PAYLOAD)
		return RELAY_PROXY_E_TOO_LONG;
	if (len < RELAY_PROXY_V2_HEADER_LEN + plen)
		return RELAY_PROXY_INCOMPLETE;
	const uint8_t *p = buf + RELAY_PROXY_V2_HEADER_LEN;
	struct relay_proxy_hdr h = {.version = 2, .v2_fam = fam, .family = RELAY_PROXY_AF_UNSPEC};
	/* LOCAL: the balancer speaks for itself (health checks). "The
	 * receiver must accept this connection as valid and must use the real
	 * connection endpoints and discard the protocol block including the
	 * family" (section 2.2): nothing past the length is looked at. */
	if ((ver_cmd & 0xf) == CMD_V2_LOCAL) {
		h.local = true;
		*out = h;
		return (int)(RELAY_PROXY_V2_HEADER_LEN + plen);
	}
	/* PROXY: the address block of the family (section 2.2), then TLVs. */
	size_t need = af == AF_V2_INET ? 12 : af == AF_V2_INET6 ? 36 : af == AF_V2_UNIX ? 216 : 0;
	if (plen < need)
		return RELAY_PROXY_E_ADDRESS;
	if (!tlvs_tile(p + need, plen - need))
		return RELAY_PROXY_E_TLV;
	if (tp == TP_V2_STREAM && (af == AF_V2_INET || af == AF_V2_INET6)) {
		size_t al = af == AF_V2_INET ? 4 : 16;
		h.family = af == AF_V2_INET ? RELAY_PROXY_AF_INET : RELAY_PROXY_AF_INET6;
		memcpy(h.src_addr, p, al);
		memcpy(h.dst_addr, p + al, al);
		h.src_port = get_u16(p + 2 * al);
		h.dst_port = get_u16(p + 2 * al + 2);
	}
	/* Otherwise (UNSPEC, UNIX, DGRAM) the family stays UNSPEC: the
	 * receiver uses the real endpoints. */
	h.tlv = p + need;
	h.tlv_len = plen - need;
	*out = h;
	return (int)(RELAY_PROXY_V2_HEADER_LEN + plen);
}

int relay_proxy_parse(struct relay_proxy_hdr *out, const uint8_t *buf, size_t len)
{
	if (len == 0)
		return RELAY_PROXY_INCOMPLETE;
	if (buf[0] == V1_SIG[0])
		return parse_v1(out, buf, len);
	if (buf[0] == V2_SIG[0])
		return parse_v2(out, buf, len);
	return RELAY_PROXY_E_NOT_PROXY;
}

bool relay_proxy_tlv_next(const struct relay_proxy_hdr *h, size_t *off, struct relay_proxy_tlv *out)
{
	if (!h->tlv || *off + 3 > h->tlv_len)
		return false;
	const uint8_t *p = h->tlv + *off;
	uint16_t vl = get_u16(p + 1);
	if (vl > h->tlv_len - *off - 3)
		return false; /* not after relay_proxy_parse: it checked the layout */
	out->type = p[0];
	out->len = vl;
	out->value = p + 3;
	*off += 3u + vl;
	return true;
}

/* ---- builders ---- */

int relay_proxy_build_v1(uint8_t *out, size_t out_cap, const struct relay_proxy_hdr *h)
{
	char line[RELAY_PROXY_V1_MAX_LEN + 1], src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	int n;
	if (h->local || h->family == RELAY_PROXY_AF_UNSPEC) {
		n = snprintf(line, sizeof line, "PROXY UNKNOWN\r\n");
	} else if (h->family == RELAY_PROXY_AF_INET || h->family == RELAY_PROXY_AF_INET6) {
		int af = h->family == RELAY_PROXY_AF_INET ? AF_INET : AF_INET6;
		if (!inet_ntop(af, h->src_addr, src, sizeof src) || !inet_ntop(af, h->dst_addr, dst, sizeof dst))
			return RELAY_PROXY_E_FAMILY;
		n = snprintf(line, sizeof line, "PROXY %s %s %s %u %u\r\n", af == AF_INET ? "TCP4" : "TCP6", src, dst,
			     (unsigned)h->src_port, (unsigned)h->dst_port);
	} else {
		return RELAY_PROXY_E_FAMILY;
	}
	/* The longest line (two full IPv6 addresses) is 104 bytes: it fits. */
	if (n < 0 || (size_t)n >= sizeof line)
		return RELAY_PROXY_E_FAMILY;
	if ((size_t)n > out_cap)
		return RELAY_PROXY_E_NO_ROOM;
	memcpy(out, line, (size_t)n);
	return n;
}

int relay_proxy_build_v2(uint8_t *out, size_t out_cap, const struct relay_proxy_hdr *h)
{
	size_t al;
	uint8_t fam;
	bool local = h->local || h->family == RELAY_PROXY_AF_UNSPEC;
	if (local) {
		al = 0;
		fam = 0;
	} else if (h->family == RELAY_PROXY_AF_INET) {
		al = 4;
		fam = AF_V2_INET << 4 | TP_V2_STREAM;
	} else if (h->family == RELAY_PROXY_AF_INET6) {
		al = 16;
		fam = AF_V2_INET6 << 4 | TP_V2_STREAM;
	} else {
		return RELAY_PROXY_E_FAMILY;
	}
	size_t plen = local ? 0 : 2 * al + 4;
	if (out_cap < RELAY_PROXY_V2_HEADER_LEN + plen)
		return RELAY_PROXY_E_NO_ROOM;
	memcpy(out, V2_SIG, sizeof V2_SIG);
	out[12] = (uint8_t)(2 << 4 | (local ? CMD_V2_LOCAL : CMD_V2_PROXY));
	out[13] = fam;
	put_u16(out + 14, (uint16_t)plen);
	if (!local) {
		uint8_t *p = out + RELAY_PROXY_V2_HEADER_LEN;
		memcpy(p, h->src_addr, al);
		memcpy(p + al, h->dst_addr, al);
		put_u16(p + 2 * al, h->src_port);
		put_u16(p + 2 * al + 2, h->dst_port);
	}
	return (int)(RELAY_PROXY_V2_HEADER_LEN + plen);
}
