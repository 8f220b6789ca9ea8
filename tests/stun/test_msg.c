/* Tests for stun/msg.h: parsing, getters and verification. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stun/msg.h"
#include "stun/writer.h"
#include "vectors.h"

#define PW ((const uint8_t *)T_RFC5769_PASSWORD)
#define PW_LEN (sizeof T_RFC5769_PASSWORD - 1)

static struct stun_msg parse_ok(const uint8_t *buf, size_t len)
{
	struct stun_msg m;
	int rc = stun_msg_parse(&m, buf, len);
	cr_assert_eq(rc, STUN_OK, "parse: %s", stun_strerror(rc));
	return m;
}

static void assert_value(const struct stun_msg *m, uint16_t type, const char *want, size_t want_len)
{
	const uint8_t *v;
	size_t n;
	cr_assert_eq(stun_msg_get_value(m, type, &v, &n), STUN_OK, "attribute 0x%04x absent", type);
	cr_assert_eq(n, want_len, "attribute 0x%04x: length %zu, want %zu", type, n, want_len);
	cr_assert_arr_eq(v, want, n, "attribute 0x%04x value", type);
}

/* --- RFC 5769 vectors ---------------------------------------------------- */

Test(stun_msg, parses_rfc5769_sample_request)
{
	struct stun_msg m = parse_ok(t_rfc5769_request, sizeof t_rfc5769_request);

	cr_assert_eq(m.type, STUN_BINDING_REQUEST);
	cr_assert_eq(stun_type_class(m.type), STUN_CLASS_REQUEST);
	cr_assert_eq(stun_type_method(m.type), STUN_METHOD_BINDING);
	cr_assert_arr_eq(m.txid, t_rfc5769_txid, sizeof m.txid);
	cr_assert_eq(m.len, sizeof t_rfc5769_request);
	cr_assert_eq(m.num_attrs, 6);
	assert_value(&m, STUN_ATTR_SOFTWARE, "STUN test client", 16);
	assert_value(&m, STUN_ATTR_USERNAME, "evtj:h6vY", 9);
	assert_value(&m, 0x0024, "\x6e\x00\x01\xff", 4);                 /* PRIORITY */
	assert_value(&m, 0x8029, "\x93\x2f\xf9\xb1\x51\x26\x3b\x36", 8); /* ICE-CONTROLLED */
	cr_assert_eq(m.integrity_off, 76);
	cr_assert_eq(m.integrity_sha256_off, 0);
	cr_assert_eq(m.fingerprint_off, 100);
	cr_assert_eq(stun_msg_check_integrity(&m, PW, PW_LEN), STUN_OK);
	cr_assert_eq(stun_msg_check_integrity_sha256(&m, PW, PW_LEN), STUN_E_NO_ATTR);
	cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
}

Test(stun_msg, parses_rfc5769_ipv4_response)
{
	struct stun_msg m = parse_ok(t_rfc5769_response_v4, sizeof t_rfc5769_response_v4);
	struct stun_addr a;
	const struct stun_addr want = { .family = STUN_FAMILY_IPV4, .port = 32853, .ip = { 192, 0, 2, 1 } };

	cr_assert_eq(m.type, STUN_BINDING_SUCCESS);
	cr_assert_eq(stun_type_class(m.type), STUN_CLASS_SUCCESS);
	cr_assert_arr_eq(m.txid, t_rfc5769_txid, sizeof m.txid);
	assert_value(&m, STUN_ATTR_SOFTWARE, "test vector", 11);
	cr_assert_eq(stun_msg_get_xor_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, &a), STUN_OK);
	cr_assert(stun_addr_equal(&a, &want), "got port %u", a.port);
	cr_assert_eq(stun_msg_get_addr(&m, STUN_ATTR_MAPPED_ADDRESS, &a), STUN_E_NO_ATTR);
	cr_assert_eq(stun_msg_check_integrity(&m, PW, PW_LEN), STUN_OK);
	cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
}

Test(stun_msg, parses_rfc5769_ipv6_response)
{
	struct stun_msg m = parse_ok(t_rfc5769_response_v6, sizeof t_rfc5769_response_v6);
	struct stun_addr a;
	const struct stun_addr want = {
		.family = STUN_FAMILY_IPV6,
		.port = 32853,
		.ip = { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 },
	};

	cr_assert_eq(m.type, STUN_BINDING_SUCCESS);
	cr_assert_eq(stun_msg_get_xor_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, &a), STUN_OK);
	cr_assert(stun_addr_equal(&a, &want));
	cr_assert_eq(stun_msg_check_integrity(&m, PW, PW_LEN), STUN_OK);
	cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
}

/* An RFC 5780 answer to an IPv6 client, every address attribute in family
 * 0x02 (tests/stun/make_seeds.py writes the same bytes as a fuzz seed,
 * rfc5780_response_v6.bin; its checksums come from Python's zlib). */
static const uint8_t rfc5780_response_v6[] = {
	0x01, 0x01, 0x00, 0x78, /* Binding success, length 120 */
	0x21, 0x12, 0xa4, 0x42, /* magic cookie */
	0xb7, 0xe7, 0xa7, 0x01, /* }                          */
	0xbc, 0x34, 0xd6, 0x86, /* }  transaction id (RFC 5769's) */
	0xfa, 0x87, 0xdf, 0xae, /* }                          */
	0x00, 0x20, 0x00, 0x14, /* XOR-MAPPED-ADDRESS, 20 bytes */
	0x00, 0x02, 0xe2, 0xd9, /* family IPv6, port 50123 ^ 0x2112 */
	0x01, 0x13, 0xa9, 0xfa, /* }  2001:db8:1:2::42 XOR          */
	0xb7, 0xe6, 0xa7, 0x03, /* }  cookie || transaction id      */
	0xbc, 0x34, 0xd6, 0x86, /* }  (RFC 8489 section 14.2)       */
	0xfa, 0x87, 0xdf, 0xec, /* }                                */
	0x00, 0x01, 0x00, 0x14, /* MAPPED-ADDRESS, 20 bytes */
	0x00, 0x02, 0xc3, 0xcb, /* family IPv6, port 50123 */
	0x20, 0x01, 0x0d, 0xb8, /* }                   */
	0x00, 0x01, 0x00, 0x02, /* }  2001:db8:1:2::42 */
	0x00, 0x00, 0x00, 0x00, /* }  in the clear     */
	0x00, 0x00, 0x00, 0x42, /* }                   */
	0x80, 0x2b, 0x00, 0x14, /* RESPONSE-ORIGIN, 20 bytes */
	0x00, 0x02, 0x0d, 0x96, /* family IPv6, port 3478 */
	0x20, 0x01, 0x0d, 0xb8, /* }                     */
	0xff, 0xff, 0x00, 0x00, /* }  2001:db8:ffff::1   */
	0x00, 0x00, 0x00, 0x00, /* }                     */
	0x00, 0x00, 0x00, 0x01, /* }                     */
	0x80, 0x2c, 0x00, 0x14, /* OTHER-ADDRESS, 20 bytes */
	0x00, 0x02, 0x0d, 0x97, /* family IPv6, port 3479 */
	0x20, 0x01, 0x0d, 0xb8, /* }                     */
	0xff, 0xff, 0x00, 0x00, /* }  2001:db8:ffff::2   */
	0x00, 0x00, 0x00, 0x00, /* }                     */
	0x00, 0x00, 0x00, 0x02, /* }                     */
	0x80, 0x22, 0x00, 0x0a, /* SOFTWARE, 10 bytes */
	0x61, 0x74, 0x6d, 0x6f, /* "atmo" */
	0x73, 0x70, 0x68, 0x65, /* "sphe" */
	0x72, 0x65, 0x00, 0x00, /* "re", padding */
	0x80, 0x28, 0x00, 0x04, /* FINGERPRINT */
	0xc3, 0x78, 0x76, 0x40, /* CRC-32 ^ 0x5354554e */
};

Test(stun_msg, parses_rfc5780_ipv6_response)
{
	struct stun_msg m = parse_ok(rfc5780_response_v6, sizeof rfc5780_response_v6);
	struct stun_addr a;
	const struct stun_addr mapped = {
		.family = STUN_FAMILY_IPV6,
		.port = 50123,
		.ip = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x01, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x42 },
	};
	const struct stun_addr origin = {
		.family = STUN_FAMILY_IPV6,
		.port = 3478,
		.ip = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
	};
	struct stun_addr other = origin;
	other.port = 3479;
	other.ip[15] = 2;

	cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
	cr_assert_eq(stun_msg_get_xor_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, &a), STUN_OK);
	cr_assert(stun_addr_equal(&a, &mapped), "XOR-MAPPED-ADDRESS port %u", a.port);
	cr_assert_eq(stun_msg_get_addr(&m, STUN_ATTR_MAPPED_ADDRESS, &a), STUN_OK);
	cr_assert(stun_addr_equal(&a, &mapped), "MAPPED-ADDRESS port %u", a.port);
	cr_assert_eq(stun_msg_get_addr(&m, STUN_ATTR_RESPONSE_ORIGIN, &a), STUN_OK);
	cr_assert(stun_addr_equal(&a, &origin));
	cr_assert_eq(stun_msg_get_addr(&m, STUN_ATTR_OTHER_ADDRESS, &a), STUN_OK);
	cr_assert(stun_addr_equal(&a, &other));
	/* Read without the XOR, the X-Address is not the address. */
	cr_assert_eq(stun_msg_get_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, &a), STUN_OK);
	cr_assert(!stun_addr_equal(&a, &mapped));
}

Test(stun_msg, parses_rfc5769_long_term_request)
{
	struct stun_msg m = parse_ok(t_rfc5769_long_term, sizeof t_rfc5769_long_term);
	uint8_t key[STUN_LONG_TERM_KEY_LEN];

	cr_assert_eq(m.type, STUN_BINDING_REQUEST);
	assert_value(&m, STUN_ATTR_USERNAME, t_rfc5769_lt_username, sizeof t_rfc5769_lt_username - 1);
	assert_value(&m, STUN_ATTR_NONCE, t_rfc5769_lt_nonce, sizeof t_rfc5769_lt_nonce - 1);
	assert_value(&m, STUN_ATTR_REALM, t_rfc5769_lt_realm, sizeof t_rfc5769_lt_realm - 1);
	stun_key_long_term(key, t_rfc5769_lt_username, sizeof t_rfc5769_lt_username - 1, t_rfc5769_lt_realm,
	                   sizeof t_rfc5769_lt_realm - 1, t_rfc5769_lt_password, sizeof t_rfc5769_lt_password - 1);
	cr_assert_eq(stun_msg_check_integrity(&m, key, sizeof key), STUN_OK);
	cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_E_NO_ATTR);
}

Test(stun_msg, long_term_key_is_md5_of_username_realm_password)
{
	/* md5("user:realm:pass") */
	static const uint8_t want[16] = { 0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5, 0x82, 0xfb,
		                          0x4c, 0x04, 0x4c, 0x45, 0x6b, 0xdc, 0x40, 0xeb };
	uint8_t key[STUN_LONG_TERM_KEY_LEN];

	stun_key_long_term(key, "user", 4, "realm", 5, "pass", 4);
	cr_assert_arr_eq(key, want, sizeof want);
}

/* --- Verification failures ----------------------------------------------- */

struct vector {
	const char *name;
	const uint8_t *bytes;
	size_t len;
};

static const struct vector short_term_vectors[] = {
	{ "2.1 request", t_rfc5769_request, sizeof t_rfc5769_request },
	{ "2.2 ipv4 response", t_rfc5769_response_v4, sizeof t_rfc5769_response_v4 },
	{ "2.3 ipv6 response", t_rfc5769_response_v6, sizeof t_rfc5769_response_v6 },
};

Test(stun_msg, rejects_integrity_with_wrong_key)
{
	for (size_t i = 0; i < sizeof short_term_vectors / sizeof short_term_vectors[0]; i++) {
		const struct vector *v = &short_term_vectors[i];
		struct stun_msg m = parse_ok(v->bytes, v->len);
		cr_assert_eq(stun_msg_check_integrity(&m, (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBT", PW_LEN),
		             STUN_E_BAD_INTEGRITY, "%s", v->name);
		cr_assert_eq(stun_msg_check_integrity(&m, PW, PW_LEN - 1), STUN_E_BAD_INTEGRITY, "%s", v->name);
		cr_assert_eq(stun_msg_check_integrity(&m, NULL, 0), STUN_E_BAD_INTEGRITY, "%s", v->name);
	}
}

/* Flipping any bit of a byte the HMAC covers (the message up to
 * MESSAGE-INTEGRITY, and the HMAC itself) either breaks the parse or the
 * integrity check; flipping any byte at all breaks it or the fingerprint. */
Test(stun_msg, any_flipped_byte_fails_integrity_or_fingerprint)
{
	uint8_t buf[128];

	for (size_t i = 0; i < sizeof short_term_vectors / sizeof short_term_vectors[0]; i++) {
		const struct vector *v = &short_term_vectors[i];
		struct stun_msg orig = parse_ok(v->bytes, v->len);
		for (size_t at = 0; at < v->len; at++) {
			for (unsigned bit = 0; bit < 8; bit++) {
				struct stun_msg m;
				memcpy(buf, v->bytes, v->len);
				buf[at] ^= (uint8_t)(1u << bit);
				if (stun_msg_parse(&m, buf, v->len) != STUN_OK)
					continue;
				cr_assert_neq(stun_msg_check_fingerprint(&m), STUN_OK, "%s: byte %zu bit %u", v->name, at,
				              bit);
				if (at < orig.integrity_off + 24)
					cr_assert_neq(stun_msg_check_integrity(&m, PW, PW_LEN), STUN_OK,
					              "%s: byte %zu bit %u", v->name, at, bit);
			}
		}
	}
}

/* --- Truncation and bounds ------------------------------------------------ */

static const struct vector all_vectors[] = {
	{ "2.1 request", t_rfc5769_request, sizeof t_rfc5769_request },
	{ "2.2 ipv4 response", t_rfc5769_response_v4, sizeof t_rfc5769_response_v4 },
	{ "2.3 ipv6 response", t_rfc5769_response_v6, sizeof t_rfc5769_response_v6 },
	{ "2.4 long-term request", t_rfc5769_long_term, sizeof t_rfc5769_long_term },
};

/* Every proper prefix ends against a PROT_NONE page: a read past the end
 * crashes the test instead of passing by luck. */
Test(stun_msg, rejects_every_proper_prefix_as_truncated)
{
	struct t_guard g;
	t_guard_init(&g);
	for (size_t i = 0; i < sizeof all_vectors / sizeof all_vectors[0]; i++) {
		const struct vector *v = &all_vectors[i];
		for (size_t n = 0; n < v->len; n++) {
			struct stun_msg m;
			const uint8_t *p = t_guard_place(&g, v->bytes, n);
			int rc = stun_msg_parse(&m, p, n);
			cr_assert_eq(rc, STUN_E_TRUNCATED, "%s: prefix of %zu bytes: %s", v->name, n, stun_strerror(rc));
			cr_assert_not(stun_is_message(p, n), "%s: prefix of %zu bytes", v->name, n);
		}
		struct stun_msg m;
		const uint8_t *p = t_guard_place(&g, v->bytes, v->len);
		cr_assert_eq(stun_msg_parse(&m, p, v->len), STUN_OK, "%s", v->name);
		cr_assert(stun_is_message(p, v->len), "%s", v->name);
		/* The checks read up to the end of the message, not past it. */
		if (m.fingerprint_off)
			cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK, "%s", v->name);
	}
	t_guard_cleanup(&g);
}

Test(stun_msg, rejects_trailing_bytes_after_message)
{
	uint8_t buf[sizeof t_rfc5769_response_v4 + 4] = { 0 };
	struct stun_msg m;

	memcpy(buf, t_rfc5769_response_v4, sizeof t_rfc5769_response_v4);
	cr_assert_eq(stun_msg_parse(&m, buf, sizeof buf), STUN_E_BAD_LENGTH);
	cr_assert_not(stun_is_message(buf, sizeof buf));
}

/* --- Malformed messages (table) ----------------------------------------- */

/* Criterion runs each parameter in a fresh process where this binary's
 * addresses differ, so a case holds its bytes, not pointers to them. */
struct bad_case {
	char name[48];
	uint8_t bytes[64];
	size_t len;
	int want;
};

/* HDR: a header with a short length (< 256), the magic cookie and txid 1..12. */
#define HDR(type_hi, type_lo, len) \
	type_hi, type_lo, 0x00, len, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
#define BYTES(...) { __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })
#define CASE(name, want, ...) { name, BYTES(__VA_ARGS__), want }

static struct bad_case bad_cases[] = {
	/* RFC 8489 §5: the header. */
	CASE("19-byte datagram", STUN_E_TRUNCATED, 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8,
	     9, 10, 11),
	CASE("first bit set", STUN_E_NOT_STUN, HDR(0x80, 0x01, 0)),
	CASE("second bit set", STUN_E_NOT_STUN, HDR(0x40, 0x01, 0)),
	CASE("bad magic cookie", STUN_E_BAD_MAGIC, 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x43, 1, 2, 3, 4, 5, 6, 7, 8,
	     9, 10, 11, 12),
	CASE("RFC 3489 zero cookie", STUN_E_BAD_MAGIC, 0x00, 0x01, 0x00, 0x00, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
	     11, 12),
	CASE("length not a multiple of 4", STUN_E_BAD_LENGTH, HDR(0x00, 0x01, 2), 0x80, 0x22),
	CASE("length past the datagram", STUN_E_TRUNCATED, HDR(0x00, 0x01, 8), 0x80, 0x22, 0x00, 0x00),
	CASE("datagram past the length", STUN_E_BAD_LENGTH, HDR(0x00, 0x01, 0), 0x80, 0x22, 0x00, 0x00),
	/* RFC 8489 §14: attribute framing. */
	CASE("attribute overruns the message", STUN_E_BAD_ATTR, HDR(0x00, 0x01, 8), 0x80, 0x22, 0x00, 0x08, 'a', 'b',
	     'c', 'd'),
	CASE("attribute padding missing", STUN_E_BAD_ATTR, HDR(0x00, 0x01, 8), 0x80, 0x22, 0x00, 0x05, 'a', 'b', 'c',
	     'd'),
	CASE("huge attribute length", STUN_E_BAD_ATTR, HDR(0x00, 0x01, 4), 0x80, 0x22, 0xff, 0xff),
	/* RFC 8489 §14.7: FINGERPRINT last, 4 bytes. */
	CASE("attribute after FINGERPRINT", STUN_E_BAD_ORDER, HDR(0x00, 0x01, 12), 0x80, 0x28, 0x00, 0x04, 0, 0, 0, 0,
	     0x80, 0x22, 0x00, 0x00),
	CASE("FINGERPRINT of 8 bytes", STUN_E_BAD_ATTR, HDR(0x00, 0x01, 12), 0x80, 0x28, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0,
	     0),
	/* RFC 8489 §14.5, §14.6: integrity lengths. */
	CASE("MESSAGE-INTEGRITY of 16 bytes", STUN_E_BAD_ATTR, HDR(0x00, 0x01, 20), 0x00, 0x08, 0x00, 0x10, 0, 0, 0, 0,
	     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	CASE("MESSAGE-INTEGRITY-SHA256 of 12 bytes", STUN_E_BAD_ATTR, HDR(0x00, 0x01, 16), 0x00, 0x1c, 0x00, 0x0c, 0, 0,
	     0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	CASE("MESSAGE-INTEGRITY-SHA256 of 18 bytes", STUN_E_BAD_ATTR, HDR(0x00, 0x01, 24), 0x00, 0x1c, 0x00, 0x12, 0, 0,
	     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	/* RFC 8489 §14.1, §14.2: addresses. */
	CASE("XOR-MAPPED-ADDRESS family 3", STUN_E_BAD_ATTR, HDR(0x01, 0x01, 12), 0x00, 0x20, 0x00, 0x08, 0x00, 0x03,
	     0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43),
	CASE("XOR-MAPPED-ADDRESS IPv4 of 12 bytes", STUN_E_BAD_ATTR, HDR(0x01, 0x01, 16), 0x00, 0x20, 0x00, 0x0c, 0x00,
	     0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0, 0, 0, 0),
	CASE("XOR-MAPPED-ADDRESS IPv6 of 8 bytes", STUN_E_BAD_ATTR, HDR(0x01, 0x01, 12), 0x00, 0x20, 0x00, 0x08, 0x00,
	     0x02, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43),
	CASE("XOR-MAPPED-ADDRESS IPv6 of 16 bytes", STUN_E_BAD_ATTR, HDR(0x01, 0x01, 20), 0x00, 0x20, 0x00, 0x10, 0x00,
	     0x02, 0xa1, 0x47, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	CASE("XOR-MAPPED-ADDRESS IPv6 of 24 bytes", STUN_E_BAD_ATTR, HDR(0x01, 0x01, 28), 0x00, 0x20, 0x00, 0x18, 0x00,
	     0x02, 0xa1, 0x47, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	CASE("XOR-MAPPED-ADDRESS IPv4 family, IPv6 length", STUN_E_BAD_ATTR, HDR(0x01, 0x01, 24), 0x00, 0x20, 0x00,
	     0x14, 0x00, 0x01, 0xa1, 0x47, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	CASE("MAPPED-ADDRESS IPv6 of 19 bytes", STUN_E_BAD_ATTR, HDR(0x01, 0x01, 24), 0x00, 0x01, 0x00, 0x13, 0x00, 0x02,
	     0x0d, 0x96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
	CASE("RESPONSE-ORIGIN IPv6 of 8 bytes", STUN_E_BAD_ATTR, HDR(0x01, 0x01, 12), 0x80, 0x2b, 0x00, 0x08, 0x00, 0x02,
	     0x0d, 0x96, 0x20, 0x01, 0x0d, 0xb8),
	CASE("OTHER-ADDRESS IPv6 of 12 bytes", STUN_E_BAD_ATTR, HDR(0x01, 0x01, 16), 0x80, 0x2c, 0x00, 0x0c, 0x00, 0x02,
	     0x0d, 0x97, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0),
	CASE("OTHER-ADDRESS IPv6 family, no address", STUN_E_BAD_ATTR, HDR(0x01, 0x01, 8), 0x80, 0x2c, 0x00, 0x04, 0x00,
	     0x02, 0x0d, 0x97),
	CASE("MAPPED-ADDRESS of 4 bytes", STUN_E_BAD_ATTR, HDR(0x01, 0x01, 8), 0x00, 0x01, 0x00, 0x04, 0x00, 0x01, 0x12,
	     0x34),
	CASE("OTHER-ADDRESS empty", STUN_E_BAD_ATTR, HDR(0x01, 0x01, 4), 0x80, 0x2c, 0x00, 0x00),
	/* RFC 8489 §14.8: ERROR-CODE. */
	CASE("ERROR-CODE class 2", STUN_E_BAD_ATTR, HDR(0x01, 0x11, 8), 0x00, 0x09, 0x00, 0x04, 0, 0, 2, 0),
	CASE("ERROR-CODE class 7", STUN_E_BAD_ATTR, HDR(0x01, 0x11, 8), 0x00, 0x09, 0x00, 0x04, 0, 0, 7, 0),
	CASE("ERROR-CODE number 100", STUN_E_BAD_ATTR, HDR(0x01, 0x11, 8), 0x00, 0x09, 0x00, 0x04, 0, 0, 4, 100),
	CASE("ERROR-CODE of 2 bytes", STUN_E_BAD_ATTR, HDR(0x01, 0x11, 8), 0x00, 0x09, 0x00, 0x02, 0, 0, 0, 0),
	/* RFC 8489 §14.13: UNKNOWN-ATTRIBUTES is a list of 16-bit types. */
	CASE("UNKNOWN-ATTRIBUTES of 3 bytes", STUN_E_BAD_ATTR, HDR(0x01, 0x11, 8), 0x00, 0x0a, 0x00, 0x03, 0, 1, 0, 0),
	/* RFC 5780 §7.2, §7.5. */
	CASE("CHANGE-REQUEST of 2 bytes", STUN_E_BAD_ATTR, HDR(0x00, 0x01, 8), 0x00, 0x03, 0x00, 0x02, 0, 6, 0, 0),
	CASE("RESPONSE-PORT of 3 bytes", STUN_E_BAD_ATTR, HDR(0x00, 0x01, 8), 0x00, 0x27, 0x00, 0x03, 0x12, 0x34, 0,
	     0),
};

ParameterizedTestParameters(stun_msg, rejects_malformed)
{
	return cr_make_param_array(struct bad_case, bad_cases, sizeof bad_cases / sizeof bad_cases[0]);
}

ParameterizedTest(struct bad_case *c, stun_msg, rejects_malformed)
{
	struct t_guard g;
	struct stun_msg m;

	memset(&m, 0xa5, sizeof m);
	struct stun_msg before = m;
	t_guard_init(&g);
	const uint8_t *p = t_guard_place(&g, c->bytes, c->len);
	int rc = stun_msg_parse(&m, p, c->len);
	cr_assert_eq(rc, c->want, "%s: got %d (%s), want %d (%s)", c->name, rc, stun_strerror(rc), c->want,
	             stun_strerror(c->want));
	cr_assert_arr_eq(&m, &before, sizeof m, "%s: a failed parse wrote to its output", c->name);
	t_guard_cleanup(&g);
}

/* Each file in tests/stun/malformed/ is a message the parser must reject
 * (the same files seed the fuzzer's view of bad input). */
Test(stun_msg, rejects_every_file_in_malformed_dir)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", __FILE__);
	char *base = dirname(dir);
	char path[4096 + 256];
	snprintf(path, sizeof path, "%s/malformed", base);
	DIR *d = opendir(path);
	cr_assert(d, "opendir %s", path);
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char file[sizeof path + 256];
		snprintf(file, sizeof file, "%s/%s", path, e->d_name);
		FILE *f = fopen(file, "rb");
		cr_assert(f, "fopen %s", file);
		uint8_t buf[2048];
		size_t n = fread(buf, 1, sizeof buf, f);
		fclose(f);
		struct stun_msg m;
		int rc = stun_msg_parse(&m, buf, n);
		cr_assert_lt(rc, 0, "%s parsed (%zu bytes)", e->d_name, n);
		count++;
	}
	closedir(d);
	cr_assert_geq(count, 5, "only %d files in %s", count, path);
}

/* --- Limits --------------------------------------------------------------- */

/* build_empty_attrs writes a header and n empty SOFTWARE attributes. */
static size_t build_empty_attrs(uint8_t *buf, size_t n)
{
	memcpy(buf, t_rfc5769_request, STUN_HEADER_LEN);
	buf[2] = (uint8_t)((4 * n) >> 8);
	buf[3] = (uint8_t)(4 * n);
	for (size_t i = 0; i < n; i++)
		memcpy(buf + STUN_HEADER_LEN + 4 * i, "\x80\x22\x00\x00", 4);
	return STUN_HEADER_LEN + 4 * n;
}

Test(stun_msg, rejects_more_than_max_attrs)
{
	uint8_t buf[STUN_HEADER_LEN + 4 * (STUN_MAX_ATTRS + 1)];
	struct stun_msg m;

	size_t len = build_empty_attrs(buf, STUN_MAX_ATTRS);
	cr_assert_eq(stun_msg_parse(&m, buf, len), STUN_OK);
	cr_assert_eq(m.num_attrs, STUN_MAX_ATTRS);
	len = build_empty_attrs(buf, STUN_MAX_ATTRS + 1);
	cr_assert_eq(stun_msg_parse(&m, buf, len), STUN_E_TOO_MANY_ATTRS);
}

static int parse_text_attr(uint16_t type, size_t value_len)
{
	static uint8_t buf[STUN_HEADER_LEN + 4 + 1024];
	struct stun_msg m;
	size_t padded = (value_len + 3) & ~(size_t)3;

	memcpy(buf, t_rfc5769_request, STUN_HEADER_LEN);
	buf[2] = (uint8_t)((4 + padded) >> 8);
	buf[3] = (uint8_t)(4 + padded);
	buf[20] = (uint8_t)(type >> 8);
	buf[21] = (uint8_t)type;
	buf[22] = (uint8_t)(value_len >> 8);
	buf[23] = (uint8_t)value_len;
	memset(buf + 24, 'x', padded);
	return stun_msg_parse(&m, buf, STUN_HEADER_LEN + 4 + padded);
}

Test(stun_msg, rejects_text_attributes_over_their_limit)
{
	cr_assert_eq(parse_text_attr(STUN_ATTR_USERNAME, STUN_MAX_USERNAME_LEN), STUN_OK);
	cr_assert_eq(parse_text_attr(STUN_ATTR_USERNAME, STUN_MAX_USERNAME_LEN + 1), STUN_E_BAD_ATTR);
	static const uint16_t text_types[] = { STUN_ATTR_REALM, STUN_ATTR_NONCE, STUN_ATTR_SOFTWARE };
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(parse_text_attr(text_types[i], STUN_MAX_TEXT_LEN), STUN_OK, "type 0x%04x", text_types[i]);
		cr_assert_eq(parse_text_attr(text_types[i], STUN_MAX_TEXT_LEN + 1), STUN_E_BAD_ATTR, "type 0x%04x",
		             text_types[i]);
	}
}

/* --- Placement rules ------------------------------------------------------ */

Test(stun_msg, ignores_attributes_after_message_integrity)
{
	/* MESSAGE-INTEGRITY, then a USERNAME and a malformed XOR-MAPPED-ADDRESS
	 * (both ignored, RFC 8489 §14.5), then FINGERPRINT (kept). */
	static const uint8_t msg[] = {
		HDR(0x00, 0x01, 48),
		0x00, 0x08, 0x00, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x00, 0x06, 0x00, 0x04, 'u', 's', 'e', 'r',
		0x00, 0x20, 0x00, 0x04, 0x00, 0x09, 0x00, 0x00,
		0x80, 0x28, 0x00, 0x04, 0, 0, 0, 0,
	};
	struct stun_msg m = parse_ok(msg, sizeof msg);

	cr_assert_eq(m.num_attrs, 2);
	cr_assert_eq(m.integrity_off, 20);
	cr_assert_eq(m.fingerprint_off, 60);
	cr_assert_null(stun_msg_find(&m, STUN_ATTR_USERNAME));
	cr_assert_null(stun_msg_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS));
	cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_E_BAD_FINGERPRINT);
}

Test(stun_msg, keeps_sha256_after_integrity_and_ignores_integrity_after_sha256)
{
	static const uint8_t msg[] = {
		HDR(0x00, 0x01, 72),
		0x00, 0x08, 0x00, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x00, 0x1c, 0x00, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x00, 0x08, 0x00, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x00, 0x06, 0x00, 0x00,
	};
	struct stun_msg m = parse_ok(msg, sizeof msg);

	cr_assert_eq(m.integrity_off, 20);
	cr_assert_eq(m.integrity_sha256_off, 44);
	cr_assert_eq(m.num_attrs, 2);
}

Test(stun_msg, ignores_attributes_after_message_integrity_sha256)
{
	/* RFC 8489 §14.6: after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT. */
	static const uint8_t msg[] = {
		HDR(0x00, 0x01, 36),
		0x00, 0x1c, 0x00, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x00, 0x06, 0x00, 0x04, 'u', 's', 'e', 'r',
		0x80, 0x28, 0x00, 0x04, 0, 0, 0, 0,
	};
	struct stun_msg m = parse_ok(msg, sizeof msg);

	cr_assert_eq(m.num_attrs, 2);
	cr_assert_eq(m.integrity_off, 0);
	cr_assert_eq(m.integrity_sha256_off, 20);
	cr_assert_eq(m.fingerprint_off, 48);
	cr_assert_null(stun_msg_find(&m, STUN_ATTR_USERNAME));
}

Test(stun_msg, finds_the_first_of_duplicate_attributes)
{
	static const uint8_t msg[] = {
		HDR(0x00, 0x01, 16),
		0x80, 0x22, 0x00, 0x01, 'a', 0, 0, 0,
		0x80, 0x22, 0x00, 0x01, 'b', 0, 0, 0,
	};
	struct stun_msg m = parse_ok(msg, sizeof msg);
	assert_value(&m, STUN_ATTR_SOFTWARE, "a", 1);
}

/* --- Getters -------------------------------------------------------------- */

Test(stun_msg, lists_unknown_required_attributes_once_in_order)
{
	static const uint8_t msg[] = {
		HDR(0x00, 0x01, 36),
		0x00, 0x24, 0x00, 0x00,       /* PRIORITY (ICE): unknown to the codec */
		0x7f, 0xff, 0x00, 0x00,       /* unassigned, comprehension-required */
		0x80, 0x99, 0x00, 0x00,       /* comprehension-optional: never listed */
		0x00, 0x24, 0x00, 0x00,       /* duplicate */
		0x00, 0x06, 0x00, 0x01, 'u', 0, 0, 0, /* USERNAME: understood */
		0x00, 0x26, 0x00, 0x00,       /* PADDING: understood */
		0x00, 0x33, 0x00, 0x04, 1, 2, 3, 4,
	};
	struct stun_msg m = parse_ok(msg, sizeof msg);
	uint16_t out[8];

	cr_assert_eq(stun_msg_unknown_required(&m, NULL, 0, out, 8), 3);
	cr_assert_eq(out[0], 0x0024);
	cr_assert_eq(out[1], 0x7fff);
	cr_assert_eq(out[2], 0x0033);
	cr_assert_eq(stun_msg_unknown_required(&m, NULL, 0, out, 2), 2);
	static const uint16_t ice[] = { 0x0024 };
	cr_assert_eq(stun_msg_unknown_required(&m, ice, 1, out, 8), 2);
	cr_assert_eq(out[0], 0x7fff);
	cr_assert_eq(out[1], 0x0033);

	struct stun_msg v = parse_ok(t_rfc5769_response_v4, sizeof t_rfc5769_response_v4);
	cr_assert_eq(stun_msg_unknown_required(&v, NULL, 0, out, 8), 0);
}

Test(stun_msg, reads_error_code_and_reason)
{
	static const uint8_t msg[] = {
		HDR(0x01, 0x11, 28),
		0x00, 0x09, 0x00, 0x10, 0xff, 0xff, 0xfc | 4, 20, 'U', 'n', 'k', 'n', 'o', 'w', 'n', ' ', 'A', 't', 't', 'r',
		0x00, 0x0a, 0x00, 0x02, 0x00, 0x24, 0, 0,
	};
	struct stun_msg m = parse_ok(msg, sizeof msg);
	uint16_t code, types[4];
	const uint8_t *reason;
	size_t reason_len, n;

	cr_assert_eq(stun_type_class(m.type), STUN_CLASS_ERROR);
	/* Reserved bits are ignored (RFC 8489 §14.8). */
	cr_assert_eq(stun_msg_get_error(&m, &code, &reason, &reason_len), STUN_OK);
	cr_assert_eq(code, 420);
	cr_assert_eq(reason_len, 12);
	cr_assert_arr_eq(reason, "Unknown Attr", 12);
	cr_assert_eq(stun_msg_get_unknown_attrs(&m, types, 4, &n), STUN_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(types[0], 0x0024);
	cr_assert_eq(stun_msg_get_unknown_attrs(&m, types, 0, &n), STUN_OK);
	cr_assert_eq(n, 0);
}

Test(stun_msg, reads_change_request_and_response_port)
{
	static const uint8_t msg[] = {
		HDR(0x00, 0x01, 24),
		0x00, 0x03, 0x00, 0x04, 0xff, 0xff, 0xff, 0xff, /* unused bits set: dropped */
		0x00, 0x27, 0x00, 0x02, 0x12, 0x34, 0xee, 0xee, /* port without padding in the length */
		0x00, 0x26, 0x00, 0x03, 0, 0, 0, 0,
	};
	struct stun_msg m = parse_ok(msg, sizeof msg);
	uint32_t flags;
	uint16_t port;

	cr_assert_eq(stun_msg_get_change_request(&m, &flags), STUN_OK);
	cr_assert_eq(flags, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	cr_assert_eq(stun_msg_get_response_port(&m, &port), STUN_OK);
	cr_assert_eq(port, 0x1234);

	struct stun_msg v = parse_ok(t_rfc5769_request, sizeof t_rfc5769_request);
	cr_assert_eq(stun_msg_get_change_request(&v, &flags), STUN_E_NO_ATTR);
	cr_assert_eq(stun_msg_get_response_port(&v, &port), STUN_E_NO_ATTR);
	const uint8_t *r;
	size_t rl;
	cr_assert_eq(stun_msg_get_error(&v, &port, &r, &rl), STUN_E_NO_ATTR);
	cr_assert_eq(stun_msg_get_unknown_attrs(&v, &port, 1, &rl), STUN_E_NO_ATTR);
}

Test(stun_msg, reads_plain_rfc5780_addresses)
{
	static const uint8_t msg[] = {
		HDR(0x01, 0x01, 36),
		0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x0d, 0x96, 192, 0, 2, 7,   /* MAPPED-ADDRESS 192.0.2.7:3478 */
		0x80, 0x2b, 0x00, 0x08, 0xff, 0x01, 0x0d, 0x97, 198, 51, 100, 1, /* RESPONSE-ORIGIN, reserved byte set */
		0x80, 0x2c, 0x00, 0x08, 0x00, 0x01, 0x0d, 0x98, 203, 0, 113, 9,  /* OTHER-ADDRESS */
	};
	struct stun_msg m = parse_ok(msg, sizeof msg);
	struct stun_addr a;

	cr_assert_eq(stun_msg_get_addr(&m, STUN_ATTR_MAPPED_ADDRESS, &a), STUN_OK);
	cr_assert(stun_addr_equal(&a, &(struct stun_addr){ STUN_FAMILY_IPV4, 3478, { 192, 0, 2, 7 } }));
	cr_assert_eq(stun_msg_get_addr(&m, STUN_ATTR_RESPONSE_ORIGIN, &a), STUN_OK);
	cr_assert(stun_addr_equal(&a, &(struct stun_addr){ STUN_FAMILY_IPV4, 3479, { 198, 51, 100, 1 } }));
	cr_assert_eq(stun_msg_get_addr(&m, STUN_ATTR_OTHER_ADDRESS, &a), STUN_OK);
	cr_assert(stun_addr_equal(&a, &(struct stun_addr){ STUN_FAMILY_IPV4, 3480, { 203, 0, 113, 9 } }));
}

Test(stun_msg, get_addr_of_a_non_address_attribute_is_bad_attr)
{
	struct stun_msg m = parse_ok(t_rfc5769_request, sizeof t_rfc5769_request);
	struct stun_addr a;

	cr_assert_eq(stun_msg_get_addr(&m, STUN_ATTR_USERNAME, &a), STUN_E_BAD_ATTR);
	cr_assert_eq(stun_msg_get_xor_addr(&m, STUN_ATTR_SOFTWARE, &a), STUN_E_BAD_ATTR);
}

/* --- Helpers -------------------------------------------------------------- */

Test(stun_msg, type_helpers_split_and_join_every_method_and_class)
{
	cr_assert_eq(stun_type_make(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), STUN_BINDING_REQUEST);
	cr_assert_eq(stun_type_make(STUN_METHOD_BINDING, STUN_CLASS_INDICATION), STUN_BINDING_INDICATION);
	cr_assert_eq(stun_type_make(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS), STUN_BINDING_SUCCESS);
	cr_assert_eq(stun_type_make(STUN_METHOD_BINDING, STUN_CLASS_ERROR), STUN_BINDING_ERROR);
	for (unsigned method = 0; method < 0x1000; method++) {
		for (unsigned cls = 0; cls < 4; cls++) {
			uint16_t t = stun_type_make((uint16_t)method, (enum stun_class)cls);
			cr_assert_eq(t & 0xc000, 0, "method 0x%03x class %u", method, cls);
			cr_assert_eq(stun_type_method(t), method, "method 0x%03x class %u", method, cls);
			cr_assert_eq(stun_type_class(t), cls, "method 0x%03x class %u", method, cls);
		}
	}
}

Test(stun_msg, txid_generate_gives_fresh_ids)
{
	uint8_t a[STUN_TXID_LEN] = { 0 }, b[STUN_TXID_LEN] = { 0 };

	stun_txid_generate(a);
	stun_txid_generate(b);
	cr_assert(memcmp(a, b, sizeof a) != 0);
	cr_assert(memcmp(a, (uint8_t[STUN_TXID_LEN]){ 0 }, sizeof a) != 0);
}

Test(stun_msg, strerror_describes_every_status)
{
	for (int s = STUN_E_INVALID; s <= STUN_OK; s++) {
		const char *e = stun_strerror(s);
		cr_assert(e && *e);
		cr_assert_str_neq(e, "unknown STUN status", "status %d", s);
	}
	cr_assert_str_eq(stun_strerror(-999), "unknown STUN status");
}
