/* stun/writer.c: building STUN messages (RFC 8489 §5, §14).
 *
 * Each add: refuse if a previous one failed or the order forbids it;
 * validate the value; reserve header + value + padding, checking room first;
 * fill; bump the header length. Integrity and fingerprint are computed after
 * their own header is in place, so the length they hash covers them. */
#include <string.h>

#include "stun/internal.h"
#include "stun/writer.h"

/* stage: where in RFC 8489 §14.5-14.7's closing sequence the message is. */
enum {
	STAGE_OPEN,          /* any attribute */
	STAGE_INTEGRITY,     /* MESSAGE-INTEGRITY written */
	STAGE_INTEGRITY_256, /* MESSAGE-INTEGRITY-SHA256 written */
	STAGE_CLOSED,        /* FINGERPRINT written */
};

static int fail(struct stun_writer *w, int err)
{
	if (w->err == STUN_OK)
		w->err = err;
	return w->err;
}

/* reserve appends the header of an attribute with a len-byte value and its
 * padding, and returns where the value goes, or NULL (w->err set) when the
 * buffer or the 16-bit message length cannot take it. */
static uint8_t *reserve(struct stun_writer *w, uint16_t type, size_t len)
{
	if (len > 0xffff) {
		fail(w, STUN_E_INVALID);
		return NULL;
	}
	size_t need = 4 + pad4(len);
	if (w->cap - w->len < need || w->len + need > STUN_MAX_MSG_LEN) {
		fail(w, STUN_E_NO_ROOM);
		return NULL;
	}
	uint8_t *p = w->buf + w->len;
	core_put_be16(p, type);
	core_put_be16(p + 2, (uint16_t)len);
	memset(p + 4 + len, w->pad, pad4(len) - len);
	w->len += need;
	core_put_be16(w->buf + 2, (uint16_t)(w->len - STUN_HEADER_LEN));
	return p + 4;
}

/* open_for checks that an attribute of this kind may be added now. */
static int open_for(struct stun_writer *w, unsigned max_stage)
{
	if (w->err != STUN_OK)
		return w->err;
	if (w->stage > max_stage)
		return fail(w, STUN_E_BAD_ORDER);
	return STUN_OK;
}

int stun_writer_init(struct stun_writer *w, uint8_t *buf, size_t cap, uint16_t type,
                     const uint8_t txid[static STUN_TXID_LEN])
{
	*w = (struct stun_writer){ .buf = buf, .cap = cap, .len = 0, .err = STUN_OK, .pad = 0, .stage = STAGE_OPEN };
	/* RFC 8489 §5: the two leading bits of the type are zero. */
	if (type & 0xc000)
		return fail(w, STUN_E_INVALID);
	if (cap < STUN_HEADER_LEN)
		return fail(w, STUN_E_NO_ROOM);
	core_put_be16(buf, type);
	core_put_be16(buf + 2, 0);
	core_put_be32(buf + 4, STUN_MAGIC_COOKIE);
	memcpy(buf + 8, txid, STUN_TXID_LEN);
	w->len = STUN_HEADER_LEN;
	return STUN_OK;
}

void stun_writer_set_padding(struct stun_writer *w, uint8_t byte)
{
	w->pad = byte;
}

int stun_writer_add(struct stun_writer *w, uint16_t type, const void *value, size_t len)
{
	int rc = open_for(w, STAGE_OPEN);
	if (rc != STUN_OK)
		return rc;
	if (type == STUN_ATTR_MESSAGE_INTEGRITY || type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256 ||
	    type == STUN_ATTR_FINGERPRINT || len > 0xffff || (len > 0 && !value))
		return fail(w, STUN_E_INVALID);
	if (stun_check_value(type, value, len, w->buf + 8) != STUN_OK)
		return fail(w, STUN_E_INVALID);
	uint8_t *v = reserve(w, type, len);
	if (!v)
		return w->err;
	if (len > 0)
		memcpy(v, value, len);
	return STUN_OK;
}

static int add_addr(struct stun_writer *w, uint16_t type, const struct stun_addr *addr, const uint8_t *txid)
{
	uint8_t value[20];

	if (stun_addr_ip_len(addr) == 0)
		return fail(w, STUN_E_INVALID);
	size_t n = stun_addr_encode(value, addr, txid);
	return stun_writer_add(w, type, value, n);
}

int stun_writer_add_addr(struct stun_writer *w, uint16_t type, const struct stun_addr *addr)
{
	return add_addr(w, type, addr, NULL);
}

int stun_writer_add_xor_addr(struct stun_writer *w, uint16_t type, const struct stun_addr *addr)
{
	/* The txid was written by init; w->buf + 8 is only read before a
	 * failed init's err is returned by add. */
	if (w->err != STUN_OK)
		return w->err;
	return add_addr(w, type, addr, w->buf + 8);
}

/* The text adds rely on stun_writer_add's stun_check_value for the
 * STUN_MAX_USERNAME_LEN / STUN_MAX_TEXT_LEN bounds. */
int stun_writer_add_username(struct stun_writer *w, const char *text, size_t len)
{
	return stun_writer_add(w, STUN_ATTR_USERNAME, text, len);
}

int stun_writer_add_realm(struct stun_writer *w, const char *text, size_t len)
{
	return stun_writer_add(w, STUN_ATTR_REALM, text, len);
}

int stun_writer_add_nonce(struct stun_writer *w, const char *text, size_t len)
{
	return stun_writer_add(w, STUN_ATTR_NONCE, text, len);
}

int stun_writer_add_software(struct stun_writer *w, const char *text, size_t len)
{
	return stun_writer_add(w, STUN_ATTR_SOFTWARE, text, len);
}

int stun_writer_add_error(struct stun_writer *w, uint16_t code, const char *reason, size_t reason_len)
{
	int rc = open_for(w, STAGE_OPEN);
	if (rc != STUN_OK)
		return rc;
	/* RFC 8489 §14.8: class 3..6 is the hundreds digit, number the rest. */
	if (code < 300 || code > 699 || reason_len > STUN_MAX_TEXT_LEN || (reason_len > 0 && !reason))
		return fail(w, STUN_E_INVALID);
	uint8_t *v = reserve(w, STUN_ATTR_ERROR_CODE, 4 + reason_len);
	if (!v)
		return w->err;
	core_put_be16(v, 0);
	v[2] = (uint8_t)(code / 100);
	v[3] = (uint8_t)(code % 100);
	if (reason_len > 0)
		memcpy(v + 4, reason, reason_len);
	return STUN_OK;
}

int stun_writer_add_unknown_attrs(struct stun_writer *w, const uint16_t *types, size_t num_types)
{
	int rc = open_for(w, STAGE_OPEN);
	if (rc != STUN_OK)
		return rc;
	if (num_types > 0xffff / 2)
		return fail(w, STUN_E_INVALID);
	uint8_t *v = reserve(w, STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * num_types);
	if (!v)
		return w->err;
	for (size_t i = 0; i < num_types; i++)
		core_put_be16(v + 2 * i, types[i]);
	return STUN_OK;
}

int stun_writer_add_change_request(struct stun_writer *w, uint32_t flags)
{
	uint8_t value[4];

	if (w->err == STUN_OK && (flags & ~(uint32_t)(STUN_CHANGE_IP | STUN_CHANGE_PORT)))
		return fail(w, STUN_E_INVALID);
	core_put_be32(value, flags);
	return stun_writer_add(w, STUN_ATTR_CHANGE_REQUEST, value, sizeof value);
}

int stun_writer_add_response_port(struct stun_writer *w, uint16_t port)
{
	uint8_t value[4] = { 0 };

	core_put_be16(value, port);
	return stun_writer_add(w, STUN_ATTR_RESPONSE_PORT, value, sizeof value);
}

int stun_writer_add_padding(struct stun_writer *w, size_t len)
{
	int rc = open_for(w, STAGE_OPEN);
	if (rc != STUN_OK)
		return rc;
	uint8_t *v = reserve(w, STUN_ATTR_PADDING, len);
	if (!v)
		return w->err;
	memset(v, 0, len);
	return STUN_OK;
}

static int add_mac(struct stun_writer *w, uint16_t type, enum stun_mac_alg alg, size_t mac_len, const uint8_t *key,
                   size_t key_len, unsigned max_stage, unsigned next_stage)
{
	int rc = open_for(w, max_stage);
	if (rc != STUN_OK)
		return rc;
	if (key_len > 0 && !key)
		return fail(w, STUN_E_INVALID);
	size_t attr_off = w->len;
	uint8_t *v = reserve(w, type, mac_len);
	if (!v)
		return w->err;
	/* RFC 8489 §14.5/§14.6: the HMAC covers the message before this
	 * attribute, the header length counting up to its end. */
	stun_mac(v, alg, key, key_len, w->buf, attr_off, mac_len);
	w->stage = (uint8_t)next_stage;
	return STUN_OK;
}

int stun_writer_add_integrity(struct stun_writer *w, const uint8_t *key, size_t key_len)
{
	return add_mac(w, STUN_ATTR_MESSAGE_INTEGRITY, STUN_MAC_SHA1, STUN_INTEGRITY_LEN, key, key_len, STAGE_OPEN,
	               STAGE_INTEGRITY);
}

int stun_writer_add_integrity_sha256(struct stun_writer *w, const uint8_t *key, size_t key_len)
{
	return add_mac(w, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, STUN_MAC_SHA256, STUN_INTEGRITY_SHA256_LEN, key, key_len,
	               STAGE_INTEGRITY, STAGE_INTEGRITY_256);
}

int stun_writer_add_fingerprint(struct stun_writer *w)
{
	int rc = open_for(w, STAGE_INTEGRITY_256);
	if (rc != STUN_OK)
		return rc;
	size_t attr_off = w->len;
	uint8_t *v = reserve(w, STUN_ATTR_FINGERPRINT, 4);
	if (!v)
		return w->err;
	/* RFC 8489 §14.7: CRC-32 of the message before FINGERPRINT (its
	 * length already counting FINGERPRINT), XOR 0x5354554e. */
	core_put_be32(v, stun_crc32(w->buf, attr_off) ^ STUN_FINGERPRINT_XOR);
	w->stage = STAGE_CLOSED;
	return STUN_OK;
}

int stun_writer_finish(const struct stun_writer *w, size_t *out_len)
{
	if (w->err != STUN_OK)
		return w->err;
	*out_len = w->len;
	return STUN_OK;
}
