#ifndef PORTMAP_PCP_H
#define PORTMAP_PCP_H
/* portmap/pcp.h: the Port Control Protocol codec (RFC 6887), the part a
 * client needs: MAP and ANNOUNCE requests out, their responses in.
 *
 * Design: pure, like stun/msg.h: no I/O, no allocation, no clock, no
 * randomness (the caller draws the nonce). portmap_pcp_parse reads through a
 * bounds-checked cursor in the RFC's order and fills a plain struct;
 * portmap_pcp_response_matches applies RFC 6887 §8.3 and §11.4's rules that
 * tie a response to the request it answers. Only IPv4 is used by the callers,
 * but addresses travel as the RFC's 16-byte IPv4-mapped IPv6 form and are
 * kept that way. Cost: one pass over at most PORTMAP_PCP_MAX_MSG_LEN bytes.
 *
 * Request header (§7.1), then the MAP opcode body (§11.1):
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |  Version = 2  |R|   Opcode    |         Reserved              |
 *     |                 Requested Lifetime (32 bits)                  |
 *     |            PCP Client's IP Address (128 bits)                 |
 *     +---------------------------------------------------------------+
 *     |                 Mapping Nonce (96 bits)                       |
 *     |   Protocol    |          Reserved (24 bits)                   |
 *     |        Internal Port          |    Suggested External Port    |
 *     |           Suggested External IP Address (128 bits)            |
 * Response header (§7.2): version, R=1 | opcode, reserved, result code,
 * lifetime, epoch time, 96 reserved bits; then the same MAP body with the
 * *assigned* external port and address; then options (§7.3): code,
 * reserved, 16-bit length, data padded to 4 bytes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- Limits and wire constants ------------------------------------------- */
enum {
	/* A PCP message is at most 1100 bytes and a multiple of 4 (§7). */
	PORTMAP_PCP_MAX_MSG_LEN = 1100,
	PORTMAP_PCP_HEADER_LEN = 24,
	PORTMAP_PCP_MAP_LEN = 36,         /* the MAP opcode body */
	PORTMAP_PCP_NONCE_LEN = 12,
	/* Options walked per response; one more is PORTMAP_PCP_E_TOO_MANY_OPTIONS.
	 * A MAP response carries at most a few (THIRD_PARTY, PREFER_FAILURE,
	 * FILTER). */
	PORTMAP_PCP_MAX_OPTIONS = 16,
	PORTMAP_PCP_VERSION = 2,
	PORTMAP_PCP_SERVER_PORT = 5351,   /* server's port (§19.1) */
	PORTMAP_PCP_CLIENT_PORT = 5350,   /* where unsolicited ANNOUNCEs go */
};

/* enum portmap_pcp_opcode: the opcodes (RFC 6887 §19.2). */
enum portmap_pcp_opcode {
	PORTMAP_PCP_OP_ANNOUNCE = 0,
	PORTMAP_PCP_OP_MAP = 1,
	PORTMAP_PCP_OP_PEER = 2,
};

/* enum portmap_pcp_result: the server's result codes (§7.4). */
enum portmap_pcp_result {
	PORTMAP_PCP_SUCCESS = 0,
	PORTMAP_PCP_UNSUPP_VERSION = 1,
	PORTMAP_PCP_NOT_AUTHORIZED = 2,
	PORTMAP_PCP_MALFORMED_REQUEST = 3,
	PORTMAP_PCP_UNSUPP_OPCODE = 4,
	PORTMAP_PCP_UNSUPP_OPTION = 5,
	PORTMAP_PCP_MALFORMED_OPTION = 6,
	PORTMAP_PCP_NETWORK_FAILURE = 7,
	PORTMAP_PCP_NO_RESOURCES = 8,
	PORTMAP_PCP_UNSUPP_PROTOCOL = 9,
	PORTMAP_PCP_USER_EX_QUOTA = 10,
	PORTMAP_PCP_CANNOT_PROVIDE_EXTERNAL = 11,
	PORTMAP_PCP_ADDRESS_MISMATCH = 12,
	PORTMAP_PCP_EXCESSIVE_REMOTE_PEERS = 13,
};

/* enum portmap_pcp_status: what the codec returns. */
enum portmap_pcp_status {
	PORTMAP_PCP_OK = 0,
	/* Shorter than the header, or than the opcode's body. */
	PORTMAP_PCP_E_TRUNCATED = -1,
	/* Longer than PORTMAP_PCP_MAX_MSG_LEN, or not a multiple of 4. */
	PORTMAP_PCP_E_BAD_LENGTH = -2,
	/* Version is not 2. A NAT-PMP-only server answers a PCP request with
	 * version 0 (RFC 6887 §9): see portmap_pcp_parse. */
	PORTMAP_PCP_E_VERSION = -3,
	/* The R bit is clear: a request, not a response. */
	PORTMAP_PCP_E_NOT_RESPONSE = -4,
	/* An opcode this codec does not parse (PEER, unassigned). */
	PORTMAP_PCP_E_OPCODE = -5,
	/* An option runs past the end of the message. */
	PORTMAP_PCP_E_BAD_OPTION = -6,
	PORTMAP_PCP_E_TOO_MANY_OPTIONS = -7,
	/* The output buffer is too small (encoders). */
	PORTMAP_PCP_E_NO_ROOM = -8,
	/* An argument out of range (encoders). */
	PORTMAP_PCP_E_INVALID = -9,
};

/* portmap_pcp_strerror returns a static text for a portmap_pcp_status;
 * never NULL. */
const char *portmap_pcp_strerror(int status);

/* portmap_pcp_result_str returns the RFC's name of a result code
 * ("NOT_AUTHORIZED"), or "UNKNOWN"; never NULL. */
const char *portmap_pcp_result_str(unsigned result);

/* portmap_pcp_result_is_long_lived: whether an error result will not go away
 * by retrying soon (§7.4: the long-lived errors); the response's lifetime
 * then says how long it stays true. */
bool portmap_pcp_result_is_long_lived(unsigned result);

/* struct portmap_pcp_map_req: what a MAP request asks for. Addresses are
 * 16 bytes, IPv4 as ::ffff:a.b.c.d (portmap_pcp_v4). */
struct portmap_pcp_map_req {
	uint8_t nonce[PORTMAP_PCP_NONCE_LEN];
	uint8_t client_ip[16];        /* our address as the server sees it */
	uint8_t protocol;             /* IANA number: 17 for UDP */
	uint16_t internal_port;       /* non-zero */
	uint16_t suggested_port;      /* 0: no preference */
	uint8_t suggested_ip[16];     /* ::ffff:0.0.0.0: no preference */
	uint32_t lifetime;            /* seconds; 0 deletes the mapping (§15) */
};

/* portmap_pcp_v4 writes the IPv4-mapped form of the IPv4 address ip
 * (network byte order, as in struct in_addr) into out. */
void portmap_pcp_v4(uint8_t out[static 16], uint32_t ip_be);

/* portmap_pcp_is_v4 tells whether a 16-byte address is IPv4-mapped and if
 * so stores the IPv4 address (network byte order) in *out_ip_be. */
bool portmap_pcp_is_v4(const uint8_t addr[static 16], uint32_t *out_ip_be);

/* portmap_pcp_map_encode writes a MAP request into out[cap]. Returns the
 * number of bytes written (PORTMAP_PCP_HEADER_LEN + PORTMAP_PCP_MAP_LEN), or
 * PORTMAP_PCP_E_NO_ROOM, or PORTMAP_PCP_E_INVALID (internal port 0, or
 * protocol 0: "all protocols" is not something we ask for). */
int portmap_pcp_map_encode(uint8_t *out, size_t cap, const struct portmap_pcp_map_req *req);

/* portmap_pcp_announce_encode writes an ANNOUNCE request (§14.1: a server
 * that speaks PCP answers it with SUCCESS): the probe of `atmosphere
 * network`. Returns PORTMAP_PCP_HEADER_LEN or PORTMAP_PCP_E_NO_ROOM. */
int portmap_pcp_announce_encode(uint8_t *out, size_t cap, const uint8_t client_ip[static 16]);

/* struct portmap_pcp_response: a parsed response. The MAP fields are set
 * for opcode PORTMAP_PCP_OP_MAP only. */
struct portmap_pcp_response {
	uint8_t opcode;
	uint8_t result;               /* enum portmap_pcp_result, or other */
	uint32_t lifetime;            /* seconds: the mapping's, or the error's */
	uint32_t epoch;               /* server's epoch time (§8.5) */
	uint8_t nonce[PORTMAP_PCP_NONCE_LEN];
	uint8_t protocol;
	uint16_t internal_port;
	uint16_t external_port;       /* assigned */
	uint8_t external_ip[16];      /* assigned */
	bool has_body;                /* MAP: false for an error sent with the header alone */
	size_t num_options;
};

/* portmap_pcp_parse parses one datagram from a PCP server. Returns
 * PORTMAP_PCP_OK and fills *out, or a negative status and leaves *out
 * untouched. A response whose result is an error is still PORTMAP_PCP_OK:
 * the result is in out->result. A version-0 datagram (NAT-PMP) is
 * PORTMAP_PCP_E_VERSION: the server does not speak PCP. Reserved fields are
 * ignored as §7.2 asks; options are checked for framing only. */
int portmap_pcp_parse(struct portmap_pcp_response *out, const uint8_t *data, size_t len);

/* portmap_pcp_response_matches: whether a parsed MAP response answers req
 * (§11.4: same opcode, nonce, protocol and internal port). A response that
 * does not match is to be dropped silently. */
bool portmap_pcp_response_matches(const struct portmap_pcp_response *resp, const struct portmap_pcp_map_req *req);

#endif
