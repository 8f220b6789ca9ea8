/* Fuzz target for the STUN codec (stun/msg.h, stun/writer.h).
 *
 * Survival is not the bar; when a datagram parses, these must hold:
 *   - the header fields and every listed attribute lie inside the input,
 *     past the header, in order, and at most STUN_MAX_ATTRS of them;
 *   - stun_is_message agrees that the datagram is one whole message;
 *   - every getter answers STUN_OK or STUN_E_NO_ATTR (parse validated the
 *     known attributes), and the verification calls return a defined status;
 *   - re-encoding: writing every listed attribute (bar the integrity and
 *     fingerprint ones) with the same type and txid, then parsing that,
 *     yields the same attributes, and a decoded (XOR-)address written again
 *     decodes to the same address;
 *   - a failed parse leaves its output untouched.
 * A broken property aborts, which libFuzzer and the replay test both report. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stun/msg.h"
#include "stun/writer.h"
#include "tests/fuzz/check.h"

static const uint8_t key[] = "fuzz key";

static void check_status(int rc)
{
	CHECK(rc == STUN_OK || rc == STUN_E_NO_ATTR);
}

static void check_bounds(const struct stun_msg *m, const uint8_t *data, size_t size)
{
	CHECK(m->buf == data);
	CHECK(m->len == size);
	CHECK(m->len >= STUN_HEADER_LEN && m->len % 4 == 0);
	CHECK(m->num_attrs <= STUN_MAX_ATTRS);
	CHECK(memcmp(m->txid, data + 8, STUN_TXID_LEN) == 0);
	size_t prev_end = STUN_HEADER_LEN;
	for (size_t i = 0; i < m->num_attrs; i++) {
		const struct stun_attr *a = &m->attrs[i];
		CHECK(a->off >= prev_end + 4);
		CHECK((size_t)a->off + a->len <= m->len);
		CHECK(((size_t)a->off + a->len + 3) / 4 * 4 <= m->len);
		prev_end = a->off + a->len;
	}
	size_t offs[] = { m->integrity_off, m->integrity_sha256_off, m->fingerprint_off };
	for (size_t i = 0; i < 3; i++)
		CHECK(offs[i] == 0 || (offs[i] >= STUN_HEADER_LEN && offs[i] + 8 <= m->len));
	if (m->fingerprint_off)
		CHECK(m->fingerprint_off + 8 == m->len);
}

static void check_getters(const struct stun_msg *m)
{
	struct stun_addr addr;
	const uint8_t *v;
	size_t n;
	uint16_t code, port, types[8];
	uint32_t flags;

	check_status(stun_msg_get_xor_addr(m, STUN_ATTR_XOR_MAPPED_ADDRESS, &addr));
	check_status(stun_msg_get_addr(m, STUN_ATTR_MAPPED_ADDRESS, &addr));
	check_status(stun_msg_get_addr(m, STUN_ATTR_RESPONSE_ORIGIN, &addr));
	check_status(stun_msg_get_addr(m, STUN_ATTR_OTHER_ADDRESS, &addr));
	check_status(stun_msg_get_addr(m, STUN_ATTR_ALTERNATE_SERVER, &addr));
	check_status(stun_msg_get_value(m, STUN_ATTR_USERNAME, &v, &n));
	int rc = stun_msg_get_error(m, &code, &v, &n);
	check_status(rc);
	if (rc == STUN_OK)
		CHECK(code >= 300 && code <= 699 && n <= STUN_MAX_TEXT_LEN);
	rc = stun_msg_get_unknown_attrs(m, types, 8, &n);
	check_status(rc);
	if (rc == STUN_OK)
		CHECK(n <= 8);
	rc = stun_msg_get_change_request(m, &flags);
	check_status(rc);
	if (rc == STUN_OK)
		CHECK((flags & ~(uint32_t)(STUN_CHANGE_IP | STUN_CHANGE_PORT)) == 0);
	check_status(stun_msg_get_response_port(m, &port));
	CHECK(stun_msg_unknown_required(m, NULL, 0, types, 8) <= 8);

	rc = stun_msg_check_fingerprint(m);
	CHECK(rc == STUN_OK || rc == STUN_E_NO_ATTR || rc == STUN_E_BAD_FINGERPRINT);
	CHECK((rc == STUN_E_NO_ATTR) == (m->fingerprint_off == 0));
	rc = stun_msg_check_integrity(m, key, sizeof key - 1);
	CHECK(rc == STUN_OK || rc == STUN_E_NO_ATTR || rc == STUN_E_BAD_INTEGRITY);
	CHECK((rc == STUN_E_NO_ATTR) == (m->integrity_off == 0));
	rc = stun_msg_check_integrity_sha256(m, key, sizeof key - 1);
	CHECK(rc == STUN_OK || rc == STUN_E_NO_ATTR || rc == STUN_E_BAD_INTEGRITY);
	CHECK((rc == STUN_E_NO_ATTR) == (m->integrity_sha256_off == 0));
}

static bool closing(uint16_t type)
{
	return type == STUN_ATTR_MESSAGE_INTEGRITY || type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256 ||
	       type == STUN_ATTR_FINGERPRINT;
}

/* Rewrite the listed attributes through the writer and parse the result. */
static void check_reencode(const struct stun_msg *m)
{
	static uint8_t out[STUN_MAX_MSG_LEN];
	struct stun_writer w;
	struct stun_msg again;
	size_t len;

	CHECK(stun_writer_init(&w, out, sizeof out, m->type, m->txid) == STUN_OK);
	for (size_t i = 0; i < m->num_attrs; i++) {
		const struct stun_attr *a = &m->attrs[i];
		if (!closing(a->type))
			CHECK(stun_writer_add(&w, a->type, m->buf + a->off, a->len) == STUN_OK);
	}
	if (m->integrity_off)
		CHECK(stun_writer_add_integrity(&w, key, sizeof key - 1) == STUN_OK);
	if (m->integrity_sha256_off)
		CHECK(stun_writer_add_integrity_sha256(&w, key, sizeof key - 1) == STUN_OK);
	if (m->fingerprint_off)
		CHECK(stun_writer_add_fingerprint(&w) == STUN_OK);
	CHECK(stun_writer_finish(&w, &len) == STUN_OK);

	CHECK(stun_msg_parse(&again, out, len) == STUN_OK);
	CHECK(again.type == m->type);
	CHECK(memcmp(again.txid, m->txid, STUN_TXID_LEN) == 0);
	CHECK(again.num_attrs == m->num_attrs);
	for (size_t i = 0; i < m->num_attrs; i++) {
		const struct stun_attr *a = &m->attrs[i], *b = &again.attrs[i];
		CHECK(a->type == b->type);
		if (closing(a->type))
			continue; /* the rewrite used our key and a full-length tag */
		CHECK(a->len == b->len);
		CHECK(memcmp(m->buf + a->off, out + b->off, a->len) == 0);
	}
	if (again.integrity_off)
		CHECK(stun_msg_check_integrity(&again, key, sizeof key - 1) == STUN_OK);
	if (again.integrity_sha256_off)
		CHECK(stun_msg_check_integrity_sha256(&again, key, sizeof key - 1) == STUN_OK);
	if (again.fingerprint_off)
		CHECK(stun_msg_check_fingerprint(&again) == STUN_OK);
}

/* Decode the address attributes, write them again with the typed adds (the
 * XOR one under a different txid, so the mask changes), decode again. */
static void check_addresses(const struct stun_msg *m)
{
	static const uint16_t plain[] = { STUN_ATTR_MAPPED_ADDRESS, STUN_ATTR_RESPONSE_ORIGIN, STUN_ATTR_OTHER_ADDRESS,
		                          STUN_ATTR_ALTERNATE_SERVER };
	uint8_t out[256], txid[STUN_TXID_LEN];
	struct stun_addr a, b;
	struct stun_writer w;
	struct stun_msg again;
	size_t len;

	for (size_t i = 0; i < STUN_TXID_LEN; i++)
		txid[i] = (uint8_t)~m->txid[i];
	if (stun_msg_get_xor_addr(m, STUN_ATTR_XOR_MAPPED_ADDRESS, &a) == STUN_OK) {
		stun_writer_init(&w, out, sizeof out, STUN_BINDING_SUCCESS, txid);
		CHECK(stun_writer_add_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &a) == STUN_OK);
		CHECK(stun_writer_finish(&w, &len) == STUN_OK);
		CHECK(stun_msg_parse(&again, out, len) == STUN_OK);
		CHECK(stun_msg_get_xor_addr(&again, STUN_ATTR_XOR_MAPPED_ADDRESS, &b) == STUN_OK);
		CHECK(stun_addr_equal(&a, &b));
	}
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		if (stun_msg_get_addr(m, plain[i], &a) != STUN_OK)
			continue;
		stun_writer_init(&w, out, sizeof out, STUN_BINDING_SUCCESS, txid);
		CHECK(stun_writer_add_addr(&w, plain[i], &a) == STUN_OK);
		CHECK(stun_writer_finish(&w, &len) == STUN_OK);
		CHECK(stun_msg_parse(&again, out, len) == STUN_OK);
		CHECK(stun_msg_get_addr(&again, plain[i], &b) == STUN_OK);
		CHECK(stun_addr_equal(&a, &b));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stun_msg m, untouched;

	memset(&m, 0x5a, sizeof m);
	untouched = m;
	int rc = stun_msg_parse(&m, data, size);
	if (rc != STUN_OK) {
		CHECK(rc < 0 && rc >= STUN_E_INVALID);
		CHECK(memcmp(&m, &untouched, sizeof m) == 0);
		return 0;
	}
	CHECK(stun_is_message(data, size));
	check_bounds(&m, data, size);
	check_getters(&m);
	/* A rewrite may grow (a truncated SHA-256 tag is rewritten whole), so
	 * skip it for messages within 16 bytes of the 16-bit limit. */
	if (m.len + 16 <= STUN_MAX_MSG_LEN)
		check_reencode(&m);
	check_addresses(&m);
	return 0;
}
