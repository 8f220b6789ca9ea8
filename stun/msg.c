/* stun/msg.c: parsing, getters and verification of STUN messages.
 *
 * Parsing, RFC 8489 §6.3 and §14:
 *   1. header: 20 bytes, leading bits zero, magic cookie, length a multiple
 *      of 4 that matches the datagram;
 *   2. attributes: walk the TLVs with their padding, validating known
 *      values, until the length is used up;
 *   3. placement: nothing after FINGERPRINT; after MESSAGE-INTEGRITY only
 *      MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count, after
 *      MESSAGE-INTEGRITY-SHA256 only FINGERPRINT; the rest is ignored.
 * The result is built in a local and copied out only when every check
 * passed. */
#include <assert.h>
#include <string.h>

#include "net/bssl.h"
/* MD5 is for the RFC 8489 §9.2.2 long-term key only; net/bssl.h has already
 * checked that these are BoringSSL's headers. */
#include <openssl/md5.h>

#include "stun/internal.h"
#include "stun/msg.h"

/* Parse results live on the stack of every receive path: keep them small
 * (msg.h promises about 320 bytes). */
static_assert(sizeof(struct stun_msg) <= 384, "struct stun_msg grew: check STUN_MAX_ATTRS");

uint16_t stun_type_make(uint16_t method, enum stun_class cls)
{
	/* RFC 8489 §5: M11..M7 C1 M6..M4 C0 M3..M0. */
	unsigned m = method & 0x0fffu, c = (unsigned)cls & 3u;
	return (uint16_t)((m & 0x000f) | (m & 0x0070) << 1 | (m & 0x0f80) << 2 | (c & 1) << 4 | (c & 2) << 7);
}

uint16_t stun_type_method(uint16_t type)
{
	return (uint16_t)((type & 0x000f) | (type & 0x00e0) >> 1 | (type & 0x3e00) >> 2);
}

enum stun_class stun_type_class(uint16_t type)
{
	return (enum stun_class)((type >> 4 & 1) | (type >> 7 & 2));
}

bool stun_is_message(const uint8_t *buf, size_t len)
{
	struct core_cursor c;
	uint16_t type, length;
	uint32_t cookie;

	core_cursor_init(&c, buf, len);
	if (!core_cursor_be16(&c, &type) || !core_cursor_be16(&c, &length) || !core_cursor_be32(&c, &cookie))
		return false;
	return len >= STUN_HEADER_LEN && (type & 0xc000) == 0 && cookie == STUN_MAGIC_COOKIE && length % 4 == 0 &&
	       len - STUN_HEADER_LEN == length;
}

int stun_msg_parse(struct stun_msg *out, const uint8_t *buf, size_t len)
{
	struct core_cursor c;
	uint16_t type, length;
	uint32_t cookie;
	const uint8_t *txid;
	struct stun_msg m;
	size_t walked = 0;

	/* 1. Header. */
	/* RFC 8489 §5: every message starts with a 20-byte header. */
	if (len < STUN_HEADER_LEN)
		return STUN_E_TRUNCATED;
	core_cursor_init(&c, buf, len);
	if (!core_cursor_be16(&c, &type) || !core_cursor_be16(&c, &length) || !core_cursor_be32(&c, &cookie) ||
	    !core_cursor_bytes(&c, &txid, STUN_TXID_LEN))
		return STUN_E_TRUNCATED;
	/* RFC 8489 §5: the most significant 2 bits of every STUN message are
	 * zeroes (this is what sets STUN apart when multiplexed, §6.3). */
	if (type & 0xc000)
		return STUN_E_NOT_STUN;
	/* RFC 8489 §5: the magic cookie field holds 0x2112A442. */
	if (cookie != STUN_MAGIC_COOKIE)
		return STUN_E_BAD_MAGIC;
	/* RFC 8489 §5: the length excludes the header and is a multiple of 4,
	 * as every attribute is padded to 4. */
	if (length % 4 != 0)
		return STUN_E_BAD_LENGTH;
	/* RFC 8489 §6.3: the length must match the datagram: shorter is a
	 * cut message, longer is trailing garbage. */
	if (core_cursor_left(&c) < length)
		return STUN_E_TRUNCATED;
	if (core_cursor_left(&c) > length)
		return STUN_E_BAD_LENGTH;

	memset(&m, 0, sizeof m);
	m.buf = buf;
	m.len = STUN_HEADER_LEN + (size_t)length;
	m.type = type;
	memcpy(m.txid, txid, STUN_TXID_LEN);

	/* 2. Attributes. The remaining length is a multiple of 4, so a 4-byte
	 * header always fits; the value and its padding may not. */
	while (core_cursor_left(&c) > 0) {
		uint16_t at, alen;
		const uint8_t *value;
		size_t attr_off = c.off;

		/* RFC 8489 §14: a 16-bit type and a 16-bit length (of the
		 * value, padding excluded), then the value padded to 4. */
		if (!core_cursor_be16(&c, &at) || !core_cursor_be16(&c, &alen))
			return STUN_E_BAD_ATTR;
		size_t value_off = c.off;
		if (!core_cursor_bytes(&c, &value, pad4(alen)))
			return STUN_E_BAD_ATTR;
		/* RFC 8489 §14.7: FINGERPRINT, when present, is the last
		 * attribute. */
		if (m.fingerprint_off != 0)
			return STUN_E_BAD_ORDER;
		/* A peer controls the count; bound the walk (STUN_MAX_ATTRS). */
		if (++walked > STUN_MAX_ATTRS)
			return STUN_E_TOO_MANY_ATTRS;

		/* 3. Placement. RFC 8489 §14.6: after MESSAGE-INTEGRITY-SHA256
		 * only FINGERPRINT counts; §14.5: after MESSAGE-INTEGRITY only
		 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT do. Agents ignore
		 * the rest, so it is neither validated nor listed. */
		if (at != STUN_ATTR_FINGERPRINT) {
			if (m.integrity_sha256_off != 0)
				continue;
			if (m.integrity_off != 0 && at != STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
				continue;
		}
		int rc = stun_check_value(at, value, alen, txid);
		if (rc != STUN_OK)
			return rc;
		if (at == STUN_ATTR_MESSAGE_INTEGRITY)
			m.integrity_off = attr_off;
		else if (at == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
			m.integrity_sha256_off = attr_off;
		else if (at == STUN_ATTR_FINGERPRINT)
			m.fingerprint_off = attr_off;
		m.attrs[m.num_attrs++] = (struct stun_attr){ .type = at, .len = alen, .off = (uint32_t)value_off };
	}

	*out = m;
	return STUN_OK;
}

const struct stun_attr *stun_msg_find(const struct stun_msg *msg, uint16_t type)
{
	/* RFC 8489 §14: only the first occurrence of a type needs processing. */
	for (size_t i = 0; i < msg->num_attrs; i++)
		if (msg->attrs[i].type == type)
			return &msg->attrs[i];
	return NULL;
}

int stun_msg_get_value(const struct stun_msg *msg, uint16_t type, const uint8_t **out_value, size_t *out_len)
{
	const struct stun_attr *a = stun_msg_find(msg, type);
	if (!a)
		return STUN_E_NO_ATTR;
	*out_value = msg->buf + a->off;
	*out_len = a->len;
	return STUN_OK;
}

static int get_addr(const struct stun_msg *msg, uint16_t type, struct stun_addr *out, const uint8_t *txid)
{
	const struct stun_attr *a = stun_msg_find(msg, type);
	if (!a)
		return STUN_E_NO_ATTR;
	return stun_addr_decode(out, msg->buf + a->off, a->len, txid);
}

int stun_msg_get_addr(const struct stun_msg *msg, uint16_t type, struct stun_addr *out)
{
	return get_addr(msg, type, out, NULL);
}

int stun_msg_get_xor_addr(const struct stun_msg *msg, uint16_t type, struct stun_addr *out)
{
	return get_addr(msg, type, out, msg->txid);
}

int stun_msg_get_error(const struct stun_msg *msg, uint16_t *out_code, const uint8_t **out_reason,
                       size_t *out_reason_len)
{
	const struct stun_attr *a = stun_msg_find(msg, STUN_ATTR_ERROR_CODE);
	if (!a)
		return STUN_E_NO_ATTR;
	/* Validated by stun_msg_parse: len >= 4, class 3..6, number < 100. */
	const uint8_t *v = msg->buf + a->off;
	*out_code = (uint16_t)((v[2] & 0x07u) * 100u + v[3]);
	*out_reason = v + 4;
	*out_reason_len = a->len - 4u;
	return STUN_OK;
}

int stun_msg_get_unknown_attrs(const struct stun_msg *msg, uint16_t *out_types, size_t max, size_t *out_num)
{
	const struct stun_attr *a = stun_msg_find(msg, STUN_ATTR_UNKNOWN_ATTRIBUTES);
	struct core_cursor c;
	size_t n = 0;

	if (!a)
		return STUN_E_NO_ATTR;
	core_cursor_init(&c, msg->buf + a->off, a->len);
	while (n < max && core_cursor_be16(&c, &out_types[n]))
		n++;
	*out_num = n;
	return STUN_OK;
}

int stun_msg_get_change_request(const struct stun_msg *msg, uint32_t *out_flags)
{
	const struct stun_attr *a = stun_msg_find(msg, STUN_ATTR_CHANGE_REQUEST);
	struct core_cursor c;
	uint32_t flags;

	if (!a)
		return STUN_E_NO_ATTR;
	core_cursor_init(&c, msg->buf + a->off, a->len);
	if (!core_cursor_be32(&c, &flags))
		return STUN_E_BAD_ATTR;
	*out_flags = flags & (STUN_CHANGE_IP | STUN_CHANGE_PORT);
	return STUN_OK;
}

int stun_msg_get_response_port(const struct stun_msg *msg, uint16_t *out_port)
{
	const struct stun_attr *a = stun_msg_find(msg, STUN_ATTR_RESPONSE_PORT);
	struct core_cursor c;

	if (!a)
		return STUN_E_NO_ATTR;
	core_cursor_init(&c, msg->buf + a->off, a->len);
	return core_cursor_be16(&c, out_port) ? STUN_OK : STUN_E_BAD_ATTR;
}

/* understood lists the comprehension-required types this codec decodes or
 * verifies; RFC 8489 §6.3.1 has the agent reject the others with a 420. */
static bool understood(uint16_t type)
{
	switch (type) {
	case STUN_ATTR_MAPPED_ADDRESS:
	case STUN_ATTR_CHANGE_REQUEST:
	case STUN_ATTR_USERNAME:
	case STUN_ATTR_MESSAGE_INTEGRITY:
	case STUN_ATTR_ERROR_CODE:
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
	case STUN_ATTR_REALM:
	case STUN_ATTR_NONCE:
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
	case STUN_ATTR_PADDING:
	case STUN_ATTR_RESPONSE_PORT:
		return true;
	default:
		return false;
	}
}

static bool in_list(uint16_t type, const uint16_t *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == type)
			return true;
	return false;
}

size_t stun_msg_unknown_required(const struct stun_msg *msg, const uint16_t *also_known, size_t num_also_known,
                                 uint16_t *out_types, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < msg->num_attrs && n < max; i++) {
		uint16_t t = msg->attrs[i].type;
		/* RFC 8489 §14: 0x0000-0x7FFF are comprehension-required. */
		if (t >= 0x8000 || understood(t) || in_list(t, also_known, num_also_known) || in_list(t, out_types, n))
			continue;
		out_types[n++] = t;
	}
	return n;
}

int stun_msg_check_fingerprint(const struct stun_msg *msg)
{
	struct core_cursor c;
	uint32_t got;

	if (msg->fingerprint_off == 0)
		return STUN_E_NO_ATTR;
	core_cursor_init(&c, msg->buf + msg->fingerprint_off + 4, 4);
	if (!core_cursor_be32(&c, &got))
		return STUN_E_BAD_ATTR;
	/* RFC 8489 §14.7: CRC-32 of the message up to (excluding) FINGERPRINT,
	 * XORed with 0x5354554e. FINGERPRINT is last, so the header's length
	 * already counts it as the RFC requires. */
	uint32_t want = stun_crc32(msg->buf, msg->fingerprint_off) ^ STUN_FINGERPRINT_XOR;
	return got == want ? STUN_OK : STUN_E_BAD_FINGERPRINT;
}

static int check_mac(const struct stun_msg *msg, size_t attr_off, enum stun_mac_alg alg, const uint8_t *key,
                     size_t key_len)
{
	uint8_t mac[STUN_INTEGRITY_SHA256_LEN];
	struct core_cursor c;
	uint16_t len;
	const uint8_t *got;
	int rc = STUN_E_BAD_INTEGRITY;

	if (attr_off == 0)
		return STUN_E_NO_ATTR;
	core_cursor_init(&c, msg->buf + attr_off + 2, msg->len - attr_off - 2);
	if (!core_cursor_be16(&c, &len) || !core_cursor_bytes(&c, &got, len))
		return STUN_E_BAD_ATTR;
	stun_mac(mac, alg, key, key_len, msg->buf, attr_off, len);
	/* RFC 8489 §14.6: a truncated SHA-256 tag is compared on its prefix. */
	if (CRYPTO_memcmp(mac, got, len) == 0)
		rc = STUN_OK;
	OPENSSL_cleanse(mac, sizeof mac);
	return rc;
}

int stun_msg_check_integrity(const struct stun_msg *msg, const uint8_t *key, size_t key_len)
{
	return check_mac(msg, msg->integrity_off, STUN_MAC_SHA1, key, key_len);
}

int stun_msg_check_integrity_sha256(const struct stun_msg *msg, const uint8_t *key, size_t key_len)
{
	return check_mac(msg, msg->integrity_sha256_off, STUN_MAC_SHA256, key, key_len);
}

void stun_key_long_term(uint8_t out_key[static STUN_LONG_TERM_KEY_LEN], const char *username, size_t username_len,
                        const char *realm, size_t realm_len, const char *password, size_t password_len)
{
	MD5_CTX ctx;

	/* RFC 8489 §9.2.2: key = MD5(username ":" OpaqueString(realm) ":"
	 * OpaqueString(password)), the ':' separators literal. */
	MD5_Init(&ctx);
	MD5_Update(&ctx, username, username_len);
	MD5_Update(&ctx, ":", 1);
	MD5_Update(&ctx, realm, realm_len);
	MD5_Update(&ctx, ":", 1);
	MD5_Update(&ctx, password, password_len);
	MD5_Final(out_key, &ctx);
	OPENSSL_cleanse(&ctx, sizeof ctx);
}

void stun_txid_generate(uint8_t out_txid[static STUN_TXID_LEN])
{
	/* RFC 8489 §6: uniformly and randomly chosen from 0 .. 2**96-1. */
	RAND_bytes(out_txid, STUN_TXID_LEN);
}
