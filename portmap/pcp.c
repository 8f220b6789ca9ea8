/* portmap/pcp.c: the PCP codec (portmap/pcp.h): MAP and ANNOUNCE requests,
 * responses, RFC 6887 sections 7, 8.3, 11. */
#include <string.h>

#include "core/bytes.h"
#include "portmap/pcp.h"

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

const char *portmap_pcp_strerror(int status)
{
	switch (status) {
	case PORTMAP_PCP_OK: return "ok";
	case PORTMAP_PCP_E_TRUNCATED: return "truncated PCP message";
	case PORTMAP_PCP_E_BAD_LENGTH: return "PCP message length is over 1100 bytes or not a multiple of 4";
	case PORTMAP_PCP_E_VERSION: return "not PCP version 2 (a NAT-PMP-only gateway answers version 0)";
	case PORTMAP_PCP_E_NOT_RESPONSE: return "a PCP request, not a response";
	case PORTMAP_PCP_E_OPCODE: return "PCP opcode not handled";
	case PORTMAP_PCP_E_BAD_OPTION: return "PCP option runs past the message";
	case PORTMAP_PCP_E_TOO_MANY_OPTIONS: return "too many PCP options";
	case PORTMAP_PCP_E_NO_ROOM: return "output buffer too small";
	case PORTMAP_PCP_E_INVALID: return "invalid PCP request field";
	default: return "unknown PCP codec status";
	}
}

const char *portmap_pcp_result_str(unsigned result)
{
	static const char *const names[] = {
		"SUCCESS", "UNSUPP_VERSION", "NOT_AUTHORIZED", "MALFORMED_REQUEST", "UNSUPP_OPCODE",
		"UNSUPP_OPTION", "MALFORMED_OPTION", "NETWORK_FAILURE", "NO_RESOURCES", "UNSUPP_PROTOCOL",
		"USER_EX_QUOTA", "CANNOT_PROVIDE_EXTERNAL", "ADDRESS_MISMATCH", "EXCESSIVE_REMOTE_PEERS",
	};
	return result < sizeof names / sizeof names[0] ? names[result] : "UNKNOWN";
}

bool portmap_pcp_result_is_long_lived(unsigned result)
{
	/* §7.4 labels each code; the short-lived ones are the server's
	 * momentary shortages. Unknown codes count as long-lived: retrying a
	 * code we do not understand does not help. */
	switch (result) {
	case PORTMAP_PCP_SUCCESS:
	case PORTMAP_PCP_NETWORK_FAILURE:
	case PORTMAP_PCP_NO_RESOURCES:
	case PORTMAP_PCP_USER_EX_QUOTA:
	case PORTMAP_PCP_CANNOT_PROVIDE_EXTERNAL:
	case PORTMAP_PCP_EXCESSIVE_REMOTE_PEERS:
		return false;
	default:
		return true;
	}
}

void portmap_pcp_v4(uint8_t out[static 16], uint32_t ip_be)
{
	memcpy(out, v4_prefix, sizeof v4_prefix);
	memcpy(out + 12, &ip_be, 4);
}

bool portmap_pcp_is_v4(const uint8_t addr[static 16], uint32_t *out_ip_be)
{
	if (memcmp(addr, v4_prefix, sizeof v4_prefix) != 0)
		return false;
	memcpy(out_ip_be, addr + 12, 4);
	return true;
}

/* The common request header (§7.1). */
static void put_header(uint8_t *p, uint8_t opcode, uint32_t lifetime, const uint8_t client_ip[static 16])
{
	p[0] = PORTMAP_PCP_VERSION;
	p[1] = opcode & 0x7f;   /* R = 0: a request */
	p[2] = p[3] = 0;        /* reserved, MUST be sent as 0 */
	core_put_be32(p + 4, lifetime);
	memcpy(p + 8, client_ip, 16);
}

int portmap_pcp_map_encode(uint8_t *out, size_t cap, const struct portmap_pcp_map_req *req)
{
	const size_t n = PORTMAP_PCP_HEADER_LEN + PORTMAP_PCP_MAP_LEN;
	/* §11.1: internal port 0 means "all ports", only with protocol 0;
	 * we map one UDP port, never everything. */
	if (!req->internal_port || !req->protocol)
		return PORTMAP_PCP_E_INVALID;
	if (cap < n)
		return PORTMAP_PCP_E_NO_ROOM;
	put_header(out, PORTMAP_PCP_OP_MAP, req->lifetime, req->client_ip);
	uint8_t *b = out + PORTMAP_PCP_HEADER_LEN;
	memcpy(b, req->nonce, PORTMAP_PCP_NONCE_LEN);
	b[12] = req->protocol;
	b[13] = b[14] = b[15] = 0;   /* reserved */
	core_put_be16(b + 16, req->internal_port);
	core_put_be16(b + 18, req->suggested_port);
	memcpy(b + 20, req->suggested_ip, 16);
	return (int)n;
}

int portmap_pcp_announce_encode(uint8_t *out, size_t cap, const uint8_t client_ip[static 16])
{
	if (cap < PORTMAP_PCP_HEADER_LEN)
		return PORTMAP_PCP_E_NO_ROOM;
	/* §14.1: ANNOUNCE requests carry lifetime 0 and no body. */
	put_header(out, PORTMAP_PCP_OP_ANNOUNCE, 0, client_ip);
	return PORTMAP_PCP_HEADER_LEN;
}

/* Walks the options after the opcode body (§7.3); returns how many, or a
 * negative status. */
static int walk_options(struct core_cursor *c)
{
	int n = 0;
	while (core_cursor_left(c)) {
		uint8_t code, reserved;
		uint16_t olen;
		const uint8_t *data;
		/* Each option is code, reserved, 16-bit length, then length
		 * bytes padded to a multiple of 4. */
		if (!core_cursor_u8(c, &code) || !core_cursor_u8(c, &reserved) || !core_cursor_be16(c, &olen))
			return PORTMAP_PCP_E_BAD_OPTION;
		size_t padded = ((size_t)olen + 3) & ~(size_t)3;
		if (!core_cursor_bytes(c, &data, padded))
			return PORTMAP_PCP_E_BAD_OPTION;
		if (++n > PORTMAP_PCP_MAX_OPTIONS)
			return PORTMAP_PCP_E_TOO_MANY_OPTIONS;
	}
	return n;
}

int portmap_pcp_parse(struct portmap_pcp_response *out, const uint8_t *data, size_t len)
{
	struct portmap_pcp_response r;
	memset(&r, 0, sizeof r);
	/* §8.3: a response is at least the 24-byte header, at most 1100
	 * bytes and a multiple of 4. The version is checked before the
	 * length rules: a NAT-PMP server's 8- or 12-byte answer (version 0)
	 * is "does not speak PCP", not "malformed". */
	if (len < 1)
		return PORTMAP_PCP_E_TRUNCATED;
	if (data[0] != PORTMAP_PCP_VERSION)
		return PORTMAP_PCP_E_VERSION;
	if (len < PORTMAP_PCP_HEADER_LEN)
		return PORTMAP_PCP_E_TRUNCATED;
	if (len > PORTMAP_PCP_MAX_MSG_LEN || len % 4)
		return PORTMAP_PCP_E_BAD_LENGTH;
	struct core_cursor c;
	core_cursor_init(&c, data, len);
	uint8_t version, op, reserved, result;
	const uint8_t *skip;
	/* §7.2 header: version, R | opcode, reserved, result code, lifetime,
	 * epoch time, 96 reserved bits (ignored on receipt). */
	if (!core_cursor_u8(&c, &version) || !core_cursor_u8(&c, &op) || !core_cursor_u8(&c, &reserved) ||
	    !core_cursor_u8(&c, &result) || !core_cursor_be32(&c, &r.lifetime) || !core_cursor_be32(&c, &r.epoch) ||
	    !core_cursor_bytes(&c, &skip, 12))
		return PORTMAP_PCP_E_TRUNCATED;
	/* The R bit says response. */
	if (!(op & 0x80))
		return PORTMAP_PCP_E_NOT_RESPONSE;
	r.opcode = op & 0x7f;
	r.result = result;
	switch (r.opcode) {
	case PORTMAP_PCP_OP_ANNOUNCE:
		/* No body. */
		break;
	case PORTMAP_PCP_OP_MAP: {
		/* §11.1 body. A server that could not parse our request may
		 * answer with the header alone (§8.2: a response to a request
		 * it cannot parse copies what it can); keep the result and
		 * leave the body zero. */
		if (result != PORTMAP_PCP_SUCCESS && core_cursor_left(&c) < PORTMAP_PCP_MAP_LEN)
			goto done;
		const uint8_t *nonce, *ip, *res3;
		if (!core_cursor_bytes(&c, &nonce, PORTMAP_PCP_NONCE_LEN) || !core_cursor_u8(&c, &r.protocol) ||
		    !core_cursor_bytes(&c, &res3, 3) || !core_cursor_be16(&c, &r.internal_port) ||
		    !core_cursor_be16(&c, &r.external_port) || !core_cursor_bytes(&c, &ip, 16))
			return PORTMAP_PCP_E_TRUNCATED;
		r.has_body = true;
		memcpy(r.nonce, nonce, sizeof r.nonce);
		memcpy(r.external_ip, ip, sizeof r.external_ip);
		break;
	}
	default:
		return PORTMAP_PCP_E_OPCODE;
	}
	int n = walk_options(&c);
	if (n < 0)
		return n;
	r.num_options = (size_t)n;
done:
	*out = r;
	return PORTMAP_PCP_OK;
}

bool portmap_pcp_response_matches(const struct portmap_pcp_response *resp, const struct portmap_pcp_map_req *req)
{
	/* §11.4: a MAP response is for our request when opcode, nonce,
	 * protocol and internal port all match. An error response that came
	 * without a body (§8.2) matches on its opcode alone: it answers
	 * whatever we sent, and the caller treats it as the server's verdict. */
	if (resp->opcode != PORTMAP_PCP_OP_MAP)
		return false;
	if (!resp->has_body)
		return resp->result != PORTMAP_PCP_SUCCESS;
	return !memcmp(resp->nonce, req->nonce, PORTMAP_PCP_NONCE_LEN) && resp->protocol == req->protocol &&
	       resp->internal_port == req->internal_port;
}
