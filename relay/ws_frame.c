#include "relay/ws_frame.h"

#include <limits.h>
#include <string.h>

#include "relay/utf8.h"

#define FIN_BIT 0x80u
#define RSV_BITS 0x70u
#define OPCODE_BITS 0x0Fu
#define MASK_BIT 0x80u
#define LEN7_BITS 0x7Fu
#define LEN7_16BIT 126u
#define LEN7_64BIT 127u
#define CONTROL_BIT 0x08u

const char *relay_ws_strerror(int err)
{
	switch (err) {
	case RELAY_WS_OK: return "ok";
	case RELAY_WS_INCOMPLETE: return "incomplete frame header";
	case RELAY_WS_E_RSV: return "reserved bit set without a negotiated extension";
	case RELAY_WS_E_OPCODE: return "reserved opcode";
	case RELAY_WS_E_CONTROL_FRAGMENTED: return "fragmented control frame";
	case RELAY_WS_E_CONTROL_TOO_LONG: return "control frame payload over 125 bytes";
	case RELAY_WS_E_LENGTH: return "payload length not minimally encoded or over 2^63";
	case RELAY_WS_E_MASK_REQUIRED: return "unmasked frame from a client";
	case RELAY_WS_E_MASK_FORBIDDEN: return "masked frame from a server";
	case RELAY_WS_E_TOO_BIG: return "message too big";
	case RELAY_WS_E_UNEXPECTED_CONTINUATION: return "continuation frame without a message to continue";
	case RELAY_WS_E_EXPECTED_CONTINUATION: return "new data frame inside a fragmented message";
	case RELAY_WS_E_CLOSE_PAYLOAD: return "close payload of one byte";
	case RELAY_WS_E_CLOSE_CODE: return "close code not allowed on the wire";
	case RELAY_WS_E_INVALID_UTF8: return "text is not valid UTF-8";
	case RELAY_WS_E_NO_ROOM: return "output buffer too small";
	}
	return "unknown error";
}

uint16_t relay_ws_close_code_for(int err)
{
	switch (err) {
	case RELAY_WS_E_RSV:
	case RELAY_WS_E_OPCODE:
	case RELAY_WS_E_CONTROL_FRAGMENTED:
	case RELAY_WS_E_CONTROL_TOO_LONG:
	case RELAY_WS_E_LENGTH:
	case RELAY_WS_E_MASK_REQUIRED:
	case RELAY_WS_E_MASK_FORBIDDEN:
	case RELAY_WS_E_UNEXPECTED_CONTINUATION:
	case RELAY_WS_E_EXPECTED_CONTINUATION:
	case RELAY_WS_E_CLOSE_PAYLOAD:
	case RELAY_WS_E_CLOSE_CODE:
		return RELAY_WS_CLOSE_PROTOCOL_ERROR;
	case RELAY_WS_E_INVALID_UTF8:
		return RELAY_WS_CLOSE_INVALID_DATA;
	case RELAY_WS_E_TOO_BIG:
		return RELAY_WS_CLOSE_TOO_BIG;
	}
	return RELAY_WS_CLOSE_INTERNAL_ERROR;
}

static bool opcode_known(unsigned op)
{
	return op == RELAY_WS_OP_CONTINUATION || op == RELAY_WS_OP_TEXT ||
	       op == RELAY_WS_OP_BINARY || op == RELAY_WS_OP_CLOSE || op == RELAY_WS_OP_PING ||
	       op == RELAY_WS_OP_PONG;
}

static uint64_t get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Checks run in the order the bytes arrive, so a header is refused at the
 * first byte that makes it invalid, and every proper prefix of a valid
 * header is RELAY_WS_INCOMPLETE. */
int relay_ws_frame_parse_header(struct relay_ws_hdr *out, enum relay_ws_role role,
				uint64_t max_payload_len, const uint8_t *buf, size_t len)
{
	if (len < 1)
		return RELAY_WS_INCOMPLETE;
	unsigned b0 = buf[0];
	unsigned opcode = b0 & OPCODE_BITS;
	bool fin = b0 & FIN_BIT;
	bool control = opcode & CONTROL_BIT;

	/* §5.2: RSV1-3 MUST be 0 unless an extension defining them was
	 * negotiated; the relay negotiates none. */
	if (b0 & RSV_BITS)
		return RELAY_WS_E_RSV;
	/* §5.2: opcodes 3-7 and B-F are reserved; receiving one fails the
	 * connection. */
	if (!opcode_known(opcode))
		return RELAY_WS_E_OPCODE;
	/* §5.5: control frames MUST NOT be fragmented. */
	if (control && !fin)
		return RELAY_WS_E_CONTROL_FRAGMENTED;

	if (len < 2)
		return RELAY_WS_INCOMPLETE;
	unsigned b1 = buf[1];
	bool masked = b1 & MASK_BIT;
	unsigned len7 = b1 & LEN7_BITS;

	/* §5.1: a server MUST close the connection on an unmasked frame, a
	 * client on a masked one. */
	if (role == RELAY_WS_ROLE_SERVER && !masked)
		return RELAY_WS_E_MASK_REQUIRED;
	if (role == RELAY_WS_ROLE_CLIENT && masked)
		return RELAY_WS_E_MASK_FORBIDDEN;
	/* §5.5: control frame payloads are 125 bytes or less, so their length
	 * always fits the 7-bit field. */
	if (control && len7 > RELAY_WS_MAX_CONTROL_PAYLOAD)
		return RELAY_WS_E_CONTROL_TOO_LONG;

	/* §5.2: 0-125 is the length; 126 means a 16-bit length follows, 127 a
	 * 64-bit one whose most significant bit MUST be 0. "The minimal number
	 * of bytes MUST be used to encode the length": refusing longer forms
	 * keeps one encoding per header, so what we forward is what we parsed. */
	size_t hdr_len = 2;
	uint64_t payload_len = len7;
	if (len7 == LEN7_16BIT) {
		if (len < 4)
			return RELAY_WS_INCOMPLETE;
		payload_len = get_be(buf + 2, 2);
		if (payload_len <= RELAY_WS_MAX_CONTROL_PAYLOAD)
			return RELAY_WS_E_LENGTH;
		hdr_len = 4;
	} else if (len7 == LEN7_64BIT) {
		if (len >= 3 && (buf[2] & 0x80))
			return RELAY_WS_E_LENGTH;
		if (len < 10)
			return RELAY_WS_INCOMPLETE;
		payload_len = get_be(buf + 2, 8);
		if (payload_len <= UINT16_MAX)
			return RELAY_WS_E_LENGTH;
		hdr_len = 10;
	}
	/* §10.4: an endpoint may refuse frames too big for it; 1009. */
	if (payload_len > max_payload_len)
		return RELAY_WS_E_TOO_BIG;

	/* §5.3: the masking key follows the length when MASK is set. */
	uint8_t key[4] = {0};
	if (masked) {
		if (len < hdr_len + 4)
			return RELAY_WS_INCOMPLETE;
		memcpy(key, buf + hdr_len, 4);
		hdr_len += 4;
	}

	out->payload_len = payload_len;
	memcpy(out->mask_key, key, 4);
	out->opcode = (uint8_t)opcode;
	out->fin = fin;
	out->masked = masked;
	return (int)hdr_len;
}

int relay_ws_frame_build_header(uint8_t out[static RELAY_WS_MAX_HEADER_LEN], bool fin,
				uint8_t opcode, uint64_t payload_len, const uint8_t *mask_key)
{
	if (!opcode_known(opcode))
		return RELAY_WS_E_OPCODE;
	if (opcode & CONTROL_BIT) {
		if (!fin)
			return RELAY_WS_E_CONTROL_FRAGMENTED;
		if (payload_len > RELAY_WS_MAX_CONTROL_PAYLOAD)
			return RELAY_WS_E_CONTROL_TOO_LONG;
	}
	if (payload_len >> 63)
		return RELAY_WS_E_LENGTH;

	size_t n = 2;
	unsigned mask_bit = mask_key ? MASK_BIT : 0;
	out[0] = (uint8_t)((fin ? FIN_BIT : 0) | opcode);
	if (payload_len <= RELAY_WS_MAX_CONTROL_PAYLOAD) {
		out[1] = (uint8_t)(mask_bit | payload_len);
	} else if (payload_len <= UINT16_MAX) {
		out[1] = (uint8_t)(mask_bit | LEN7_16BIT);
		out[2] = (uint8_t)(payload_len >> 8);
		out[3] = (uint8_t)payload_len;
		n = 4;
	} else {
		out[1] = (uint8_t)(mask_bit | LEN7_64BIT);
		for (size_t i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
		n = 10;
	}
	if (mask_key) {
		memcpy(out + n, mask_key, 4);
		n += 4;
	}
	return (int)n;
}

int relay_ws_frame_build(uint8_t *out, size_t out_cap, bool fin, uint8_t opcode,
			 const uint8_t *payload, size_t payload_len, const uint8_t *mask_key)
{
	uint8_t hdr[RELAY_WS_MAX_HEADER_LEN];
	int hdr_len = relay_ws_frame_build_header(hdr, fin, opcode, payload_len, mask_key);
	if (hdr_len < 0)
		return hdr_len;
	if (payload_len > (size_t)INT_MAX - (size_t)hdr_len ||
	    out_cap < (size_t)hdr_len + payload_len)
		return RELAY_WS_E_NO_ROOM;
	memcpy(out, hdr, (size_t)hdr_len);
	if (payload_len) {
		memmove(out + hdr_len, payload, payload_len);
		if (mask_key)
			relay_ws_unmask(out + hdr_len, payload_len, mask_key, 0);
	}
	return hdr_len + (int)payload_len;
}

/* §5.3: octet i of the payload is XORed with key[i mod 4]. The key is rotated
 * by the piece's offset and repeated into a 64-bit word; loads and stores go
 * through memcpy (no alignment or aliasing assumptions), which compilers turn
 * into plain, and at -O2 vector, moves. XOR is bytewise, so byte order does
 * not matter. */
void relay_ws_unmask(uint8_t *data, size_t len, const uint8_t key[static 4], uint64_t offset)
{
	uint8_t k[8];
	for (size_t i = 0; i < 8; i++)
		k[i] = key[(offset + i) & 3];
	uint64_t kw;
	memcpy(&kw, k, 8);

	size_t i = 0;
	for (; len - i >= 32; i += 32) {
		uint64_t w[4];
		memcpy(w, data + i, 32);
		w[0] ^= kw;
		w[1] ^= kw;
		w[2] ^= kw;
		w[3] ^= kw;
		memcpy(data + i, w, 32);
	}
	for (; len - i >= 8; i += 8) {
		uint64_t w;
		memcpy(&w, data + i, 8);
		w ^= kw;
		memcpy(data + i, &w, 8);
	}
	for (; i < len; i++)
		data[i] ^= k[i & 7];
}

void relay_ws_msg_init(struct relay_ws_msg_state *st, uint64_t max_msg_len)
{
	st->msg_len = 0;
	st->max_msg_len = max_msg_len;
	st->opcode = 0;
}

int relay_ws_msg_next(struct relay_ws_msg_state *st, const struct relay_ws_hdr *h)
{
	/* §5.4: control frames MAY be injected in the middle of a fragmented
	 * message and belong to no message. */
	if (h->opcode & CONTROL_BIT)
		return h->opcode;

	uint8_t msg_opcode;
	uint64_t msg_len;
	if (h->opcode == RELAY_WS_OP_CONTINUATION) {
		/* §5.4: continuation frames only follow a first fragment. */
		if (!st->opcode)
			return RELAY_WS_E_UNEXPECTED_CONTINUATION;
		msg_opcode = st->opcode;
		msg_len = st->msg_len;
	} else {
		/* §5.4: fragments of one message are not interleaved with
		 * another message's (no extension allows it here). */
		if (st->opcode)
			return RELAY_WS_E_EXPECTED_CONTINUATION;
		msg_opcode = h->opcode;
		msg_len = 0;
	}
	if (h->payload_len > st->max_msg_len - msg_len)
		return RELAY_WS_E_TOO_BIG;

	if (h->fin) {
		st->opcode = 0;
		st->msg_len = 0;
	} else {
		st->opcode = msg_opcode;
		st->msg_len = msg_len + h->payload_len;
	}
	return msg_opcode;
}

bool relay_ws_close_code_valid(uint16_t code)
{
	/* §7.4.1-7.4.2: 0-999 unused; 1004 reserved; 1005, 1006 and 1015 are
	 * for reporting only and MUST NOT be sent; 1016-2999 are for future
	 * RFCs (1012-1014 since registered with IANA); 3000-4999 are for
	 * libraries and applications; 5000+ undefined. */
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

int relay_ws_close_parse(struct relay_ws_close *out, const uint8_t *payload, size_t len)
{
	/* §5.5: the payload of any control frame is at most 125 bytes. */
	if (len > RELAY_WS_MAX_CONTROL_PAYLOAD)
		return RELAY_WS_E_CONTROL_TOO_LONG;
	/* §5.5.1: a body, if any, starts with a 2-byte code: one byte is
	 * neither empty nor a code. */
	if (len == 1)
		return RELAY_WS_E_CLOSE_PAYLOAD;
	if (len == 0) {
		out->code = RELAY_WS_CLOSE_NO_STATUS;
		out->reason = payload;
		out->reason_len = 0;
		return RELAY_WS_OK;
	}
	uint16_t code = (uint16_t)get_be(payload, 2);
	/* §7.4: codes that may not be sent are a protocol error. */
	if (!relay_ws_close_code_valid(code))
		return RELAY_WS_E_CLOSE_CODE;
	/* §5.5.1: the reason is UTF-8; §8.1: invalid UTF-8 fails with 1007. */
	if (relay_utf8_validate(payload + 2, len - 2) != RELAY_UTF8_OK)
		return RELAY_WS_E_INVALID_UTF8;
	out->code = code;
	out->reason = payload + 2;
	out->reason_len = len - 2;
	return RELAY_WS_OK;
}

int relay_ws_close_build(uint8_t *out, size_t out_cap, uint16_t code, const char *reason,
			 size_t reason_len)
{
	if (code == RELAY_WS_CLOSE_NO_STATUS)
		return reason_len ? RELAY_WS_E_CLOSE_CODE : 0;
	if (!relay_ws_close_code_valid(code))
		return RELAY_WS_E_CLOSE_CODE;
	if (reason_len > RELAY_WS_MAX_CLOSE_REASON)
		return RELAY_WS_E_CONTROL_TOO_LONG;
	if (reason_len && relay_utf8_validate((const uint8_t *)reason, reason_len) != RELAY_UTF8_OK)
		return RELAY_WS_E_INVALID_UTF8;
	if (out_cap < 2 + reason_len)
		return RELAY_WS_E_NO_ROOM;
	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)code;
	if (reason_len)
		memcpy(out + 2, reason, reason_len);
	return (int)(2 + reason_len);
}
