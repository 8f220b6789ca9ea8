#ifndef RELAY_PROXY_PROTO_H
#define RELAY_PROXY_PROTO_H
/* relay/proxy_proto.h: the PROXY protocol, versions 1 and 2, as a pure codec
 * (HAProxy's "The PROXY protocol", 2020/03/05 revision; HAProxy's
 * `send-proxy` and `send-proxy-v2`).
 *
 * A load balancer that relays TCP connects to the relay itself, so the
 * relay sees the balancer's address; with the PROXY protocol the balancer
 * opens each connection with one header naming the client's:
 *
 *   v1, one text line of at most 107 bytes:
 *     "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n"
 *     "PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n"
 *     "PROXY UNKNOWN[ anything]\r\n"
 *
 *   v2, binary (section 2.2):
 *     +------------------------------------------------+
 *     | 12-byte signature \r\n\r\n\0\r\nQUIT\n         |
 *     | ver_cmd: 0x2 << 4 | 0x0 LOCAL or 0x1 PROXY     |
 *     | fam:  AF (0 UNSPEC, 1 INET, 2 INET6, 3 UNIX)   |
 *     |       << 4 | transport (0 UNSPEC, 1 STREAM,    |
 *     |       2 DGRAM)                                 |
 *     | len:  16 bits, network order: bytes that follow|
 *     +------------------------------------------------+
 *     | addresses: INET 4+4+2+2, INET6 16+16+2+2,      |
 *     |            UNIX 108+108                        |
 *     | TLVs: type (1) length (2, network order) value |
 *     +------------------------------------------------+
 *
 * Design: picohttpparser's. relay_proxy_parse keeps no state between calls:
 * it is given everything received so far and finishes (the header's
 * length), asks for more, or rejects -- at the first byte that cannot start
 * or continue a header, so a stream that is not PROXY is known at once.
 * Nothing is allocated or copied but the addresses; the TLV span points
 * into the input. Lengths are bounded (RELAY_PROXY_V1_MAX_LEN,
 * RELAY_PROXY_V2_MAX_LEN), so a reader needs at most that much buffer.
 *
 * What the result means is the caller's: for LOCAL (a balancer's own
 * connection, a health check), UNKNOWN and families other than TCP over
 * IPv4/IPv6 the spec says to use the connection's real endpoints. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* enum relay_proxy_limits: the sizes of the wire format, and ours. */
enum relay_proxy_limits {
	/* Section 2.1: the v1 line, CRLF included, is at most 107 bytes. */
	RELAY_PROXY_V1_MAX_LEN = 107,
	/* The v2 fixed part: signature, ver_cmd, fam, len. */
	RELAY_PROXY_V2_HEADER_LEN = 16,
	RELAY_PROXY_V2_SIG_LEN = 12,
	/* The v2 length field may say 65,535; we take at most this much after
	 * the fixed part (the UNIX address block is 216 bytes; HAProxy's TLVs
	 * -- ALPN, authority, unique id up to 128 bytes, SSL details, CRC --
	 * fit well inside). Longer: RELAY_PROXY_E_TOO_LONG. */
	RELAY_PROXY_V2_MAX_PAYLOAD = 1024,
	RELAY_PROXY_V2_MAX_LEN = RELAY_PROXY_V2_HEADER_LEN + RELAY_PROXY_V2_MAX_PAYLOAD,
	/* The most either version may need: a reader's buffer. */
	RELAY_PROXY_MAX_LEN = RELAY_PROXY_V2_MAX_LEN,
};

/* enum relay_proxy_status: results. RELAY_PROXY_INCOMPLETE asks for more
 * bytes and is not a failure; every other negative value is final. */
enum relay_proxy_status {
	RELAY_PROXY_OK = 0,
	RELAY_PROXY_INCOMPLETE = -1,
	RELAY_PROXY_E_NOT_PROXY = -2,   /* starts with neither signature */
	RELAY_PROXY_E_SYNTAX = -3,      /* v1: a malformed line */
	RELAY_PROXY_E_TOO_LONG = -4,    /* v1 over 107 bytes; v2 over our bound */
	RELAY_PROXY_E_VERSION = -5,     /* v2: version not 2 */
	RELAY_PROXY_E_COMMAND = -6,     /* v2: neither LOCAL nor PROXY */
	RELAY_PROXY_E_FAMILY = -7,      /* v2: an address family or transport the spec does not define */
	RELAY_PROXY_E_ADDRESS = -8,     /* v1: an address that is not of its family; v2: block too short */
	RELAY_PROXY_E_PORT = -9,        /* v1: not 0..65535 without leading zeros */
	RELAY_PROXY_E_TLV = -10,        /* v2: a TLV runs past the header's end */
	RELAY_PROXY_E_NO_ROOM = -11,    /* builders: output buffer too small */
};

/* relay_proxy_strerror returns a static description of a relay_proxy_status. */
const char *relay_proxy_strerror(int err);

/* enum relay_proxy_family: what the header says the connection is. */
enum relay_proxy_family {
	RELAY_PROXY_AF_UNSPEC = 0,      /* v1 UNKNOWN, v2 LOCAL/UNSPEC, UNIX, DGRAM */
	RELAY_PROXY_AF_INET = 4,        /* TCP over IPv4: v1 TCP4, v2 0x11 */
	RELAY_PROXY_AF_INET6 = 6,       /* TCP over IPv6: v1 TCP6, v2 0x21 */
};

/* struct relay_proxy_hdr is a parsed header. The addresses are copied; tlv
 * points into the input given to relay_proxy_parse and is valid while it is. */
struct relay_proxy_hdr {
	uint8_t version;                /* 1 or 2 */
	bool local;                     /* v2 LOCAL: the balancer's own connection */
	uint8_t family;                 /* enum relay_proxy_family */
	uint8_t v2_fam;                 /* v2: the fam byte as sent (0 for v1) */
	/* In network order: IPv4 in the first 4 bytes, the rest zero. Zero
	 * unless family is INET or INET6. */
	uint8_t src_addr[16], dst_addr[16];
	uint16_t src_port, dst_port;    /* host order */
	const uint8_t *tlv;             /* v2: the TLVs after the addresses */
	size_t tlv_len;                 /* 0 for v1 */
};

/* relay_proxy_parse parses the PROXY header at the start of buf[0..len).
 * Returns the header's length (the proxied stream starts there) and fills
 * *out; or RELAY_PROXY_INCOMPLETE when buf is a proper prefix of a header
 * that may still be valid; or a negative RELAY_PROXY_E_* error. The v2 TLVs
 * are checked to tile the rest of the header exactly (each type, length
 * and value inside it); their values are not interpreted. *out is
 * unspecified unless the return is positive. */
int relay_proxy_parse(struct relay_proxy_hdr *out, const uint8_t *buf, size_t len);

/* relay_proxy_may_start says whether buf[0..len) (len may be 0) could be the
 * start of a PROXY header of either version: false at the first byte that
 * matches neither signature. */
bool relay_proxy_may_start(const uint8_t *buf, size_t len);

/* struct relay_proxy_tlv is one v2 TLV; value points into the header. */
struct relay_proxy_tlv {
	uint8_t type;
	const uint8_t *value;
	uint16_t len;
};

/* relay_proxy_tlv_next reads the TLV at *off of h's TLVs into *out and
 * advances *off past it. Returns true, or false at the end. Start with
 * *off = 0. relay_proxy_parse checked the layout, so it cannot fail part
 * way. */
bool relay_proxy_tlv_next(const struct relay_proxy_hdr *h, size_t *off, struct relay_proxy_tlv *out);

/* The builders write into out[0..out_cap), never past it, and return the
 * number of bytes written (no NUL), or RELAY_PROXY_E_NO_ROOM (out is then
 * unspecified), or RELAY_PROXY_E_FAMILY for a family they cannot encode.
 * h->family UNSPEC writes "PROXY UNKNOWN\r\n" (v1) or a LOCAL header (v2);
 * h->local also writes LOCAL. v2 writes no TLVs. */
int relay_proxy_build_v1(uint8_t *out, size_t out_cap, const struct relay_proxy_hdr *h);
int relay_proxy_build_v2(uint8_t *out, size_t out_cap, const struct relay_proxy_hdr *h);

#endif
