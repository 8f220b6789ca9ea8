/* Tests for stun/writer.h: byte-exact RFC 5769 rebuilds, round trips through
 * the parser, room and order checks. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "net/bssl.h"
#include "stun/msg.h"
#include "stun/writer.h"
#include "vectors.h"

#define PW ((const uint8_t *)T_RFC5769_PASSWORD)
#define PW_LEN (sizeof T_RFC5769_PASSWORD - 1)

static const struct stun_addr addr_v4 = { .family = STUN_FAMILY_IPV4, .port = 32853, .ip = { 192, 0, 2, 1 } };
static const struct stun_addr addr_v6 = {
	.family = STUN_FAMILY_IPV6,
	.port = 32853,
	.ip = { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 },
};

static size_t finish_ok(const struct stun_writer *w)
{
	size_t len = 0;
	int rc = stun_writer_finish(w, &len);
	cr_assert_eq(rc, STUN_OK, "finish: %s", stun_strerror(rc));
	return len;
}

static void assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
	cr_assert_eq(got_len, want_len, "length %zu, want %zu", got_len, want_len);
	for (size_t i = 0; i < want_len; i++)
		cr_assert_eq(got[i], want[i], "byte %zu: 0x%02x, want 0x%02x", i, got[i], want[i]);
}

/* --- RFC 5769 rebuilt byte for byte --------------------------------------- */

/* write_sample_request writes RFC 5769 §2.1 into buf[0..cap) and returns the
 * writer's status. The vector pads USERNAME with spaces, hence the padding
 * byte; PRIORITY and ICE-CONTROLLED go through the generic add. */
static int write_sample_request(uint8_t *buf, size_t cap, size_t *out_len)
{
	struct stun_writer w;
	static const uint8_t priority[] = { 0x6e, 0x00, 0x01, 0xff };
	static const uint8_t tie_breaker[] = { 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36 };

	stun_writer_init(&w, buf, cap, STUN_BINDING_REQUEST, t_rfc5769_txid);
	stun_writer_set_padding(&w, ' ');
	stun_writer_add_software(&w, "STUN test client", 16);
	stun_writer_add(&w, 0x0024, priority, sizeof priority);
	stun_writer_add(&w, 0x8029, tie_breaker, sizeof tie_breaker);
	stun_writer_add_username(&w, "evtj:h6vY", 9);
	stun_writer_add_integrity(&w, PW, PW_LEN);
	stun_writer_add_fingerprint(&w);
	return stun_writer_finish(&w, out_len);
}

Test(stun_writer, rebuilds_rfc5769_sample_request)
{
	uint8_t buf[256];
	size_t len = 0;

	cr_assert_eq(write_sample_request(buf, sizeof buf, &len), STUN_OK);
	assert_bytes(buf, len, t_rfc5769_request, sizeof t_rfc5769_request);
}

static void rebuild_response(const struct stun_addr *addr, const uint8_t *want, size_t want_len)
{
	uint8_t buf[256];
	struct stun_writer w;

	cr_assert_eq(stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_SUCCESS, t_rfc5769_txid), STUN_OK);
	stun_writer_set_padding(&w, ' ');
	cr_assert_eq(stun_writer_add_software(&w, "test vector", 11), STUN_OK);
	cr_assert_eq(stun_writer_add_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, addr), STUN_OK);
	cr_assert_eq(stun_writer_add_integrity(&w, PW, PW_LEN), STUN_OK);
	cr_assert_eq(stun_writer_add_fingerprint(&w), STUN_OK);
	assert_bytes(buf, finish_ok(&w), want, want_len);
}

Test(stun_writer, rebuilds_rfc5769_ipv4_response)
{
	rebuild_response(&addr_v4, t_rfc5769_response_v4, sizeof t_rfc5769_response_v4);
}

Test(stun_writer, rebuilds_rfc5769_ipv6_response)
{
	rebuild_response(&addr_v6, t_rfc5769_response_v6, sizeof t_rfc5769_response_v6);
}

Test(stun_writer, rebuilds_rfc5769_long_term_request)
{
	static const uint8_t txid[12] = { 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e };
	uint8_t buf[256], key[STUN_LONG_TERM_KEY_LEN];
	struct stun_writer w;

	stun_key_long_term(key, t_rfc5769_lt_username, sizeof t_rfc5769_lt_username - 1, t_rfc5769_lt_realm,
	                   sizeof t_rfc5769_lt_realm - 1, t_rfc5769_lt_password, sizeof t_rfc5769_lt_password - 1);
	/* Default (zero) padding, as in the vector. */
	cr_assert_eq(stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_REQUEST, txid), STUN_OK);
	cr_assert_eq(stun_writer_add_username(&w, t_rfc5769_lt_username, sizeof t_rfc5769_lt_username - 1), STUN_OK);
	cr_assert_eq(stun_writer_add_nonce(&w, t_rfc5769_lt_nonce, sizeof t_rfc5769_lt_nonce - 1), STUN_OK);
	cr_assert_eq(stun_writer_add_realm(&w, t_rfc5769_lt_realm, sizeof t_rfc5769_lt_realm - 1), STUN_OK);
	cr_assert_eq(stun_writer_add_integrity(&w, key, sizeof key), STUN_OK);
	assert_bytes(buf, finish_ok(&w), t_rfc5769_long_term, sizeof t_rfc5769_long_term);
}

/* --- Round trips ----------------------------------------------------------- */

struct addr_case {
	uint16_t type;
	bool xor;
	struct stun_addr addr;
};

static struct addr_case addr_cases[] = {
	{ STUN_ATTR_XOR_MAPPED_ADDRESS, true, { STUN_FAMILY_IPV4, 32853, { 192, 0, 2, 1 } } },
	{ STUN_ATTR_XOR_MAPPED_ADDRESS, true, { STUN_FAMILY_IPV4, 0, { 0, 0, 0, 0 } } },
	{ STUN_ATTR_XOR_MAPPED_ADDRESS, true, { STUN_FAMILY_IPV4, 65535, { 255, 255, 255, 255 } } },
	{ STUN_ATTR_XOR_MAPPED_ADDRESS, true,
	  { STUN_FAMILY_IPV6, 3478, { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 } } },
	{ STUN_ATTR_XOR_MAPPED_ADDRESS, true,
	  { STUN_FAMILY_IPV6, 1, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	                           0xff, 0xff } } },
	{ STUN_ATTR_MAPPED_ADDRESS, false, { STUN_FAMILY_IPV4, 3478, { 198, 51, 100, 7 } } },
	{ STUN_ATTR_MAPPED_ADDRESS, false,
	  { STUN_FAMILY_IPV6, 40000, { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55 } } },
	{ STUN_ATTR_RESPONSE_ORIGIN, false, { STUN_FAMILY_IPV4, 3479, { 203, 0, 113, 1 } } },
	{ STUN_ATTR_OTHER_ADDRESS, false,
	  { STUN_FAMILY_IPV6, 3480, { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 } } },
	{ STUN_ATTR_ALTERNATE_SERVER, false, { STUN_FAMILY_IPV4, 3478, { 192, 0, 2, 200 } } },
};

ParameterizedTestParameters(stun_writer, round_trips_addresses)
{
	return cr_make_param_array(struct addr_case, addr_cases, sizeof addr_cases / sizeof addr_cases[0]);
}

ParameterizedTest(struct addr_case *c, stun_writer, round_trips_addresses)
{
	uint8_t buf[128], txid[STUN_TXID_LEN];
	struct stun_writer w;
	struct stun_msg m;
	struct stun_addr got;

	stun_txid_generate(txid);
	cr_assert_eq(stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_SUCCESS, txid), STUN_OK);
	int rc = c->xor ? stun_writer_add_xor_addr(&w, c->type, &c->addr) : stun_writer_add_addr(&w, c->type, &c->addr);
	cr_assert_eq(rc, STUN_OK, "type 0x%04x: %s", c->type, stun_strerror(rc));
	cr_assert_eq(stun_writer_add_fingerprint(&w), STUN_OK);
	size_t len = finish_ok(&w);
	cr_assert_eq(len, 20 + 4 + (c->addr.family == STUN_FAMILY_IPV4 ? 8 : 20) + 8);

	cr_assert_eq(stun_msg_parse(&m, buf, len), STUN_OK);
	cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
	rc = c->xor ? stun_msg_get_xor_addr(&m, c->type, &got) : stun_msg_get_addr(&m, c->type, &got);
	cr_assert_eq(rc, STUN_OK, "type 0x%04x", c->type);
	cr_assert(stun_addr_equal(&got, &c->addr), "type 0x%04x family %u port %u: got port %u", c->type,
	          c->addr.family, c->addr.port, got.port);
}

Test(stun_writer, round_trips_every_attribute_kind)
{
	uint8_t buf[512], txid[STUN_TXID_LEN];
	struct stun_writer w;
	struct stun_msg m;
	static const uint16_t unknown[] = { 0x0024, 0x7fff, 0x0033 };

	stun_txid_generate(txid);
	cr_assert_eq(stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_ERROR, txid), STUN_OK);
	cr_assert_eq(stun_writer_add_error(&w, 420, "Unknown Attribute", 17), STUN_OK);
	cr_assert_eq(stun_writer_add_unknown_attrs(&w, unknown, 3), STUN_OK);
	cr_assert_eq(stun_writer_add_change_request(&w, STUN_CHANGE_IP | STUN_CHANGE_PORT), STUN_OK);
	cr_assert_eq(stun_writer_add_response_port(&w, 40000), STUN_OK);
	cr_assert_eq(stun_writer_add_padding(&w, 37), STUN_OK);
	cr_assert_eq(stun_writer_add_software(&w, "atmosphere", 10), STUN_OK);
	cr_assert_eq(stun_writer_add_realm(&w, "example.org", 11), STUN_OK);
	cr_assert_eq(stun_writer_add_nonce(&w, "n", 1), STUN_OK);
	cr_assert_eq(stun_writer_add_username(&w, "", 0), STUN_OK);
	size_t len = finish_ok(&w);

	cr_assert_eq(stun_msg_parse(&m, buf, len), STUN_OK);
	cr_assert_eq(m.type, STUN_BINDING_ERROR);
	cr_assert_arr_eq(m.txid, txid, sizeof txid);
	cr_assert_eq(m.num_attrs, 9);

	uint16_t code, types[8];
	const uint8_t *v;
	size_t n;
	cr_assert_eq(stun_msg_get_error(&m, &code, &v, &n), STUN_OK);
	cr_assert_eq(code, 420);
	cr_assert_eq(n, 17);
	cr_assert_arr_eq(v, "Unknown Attribute", 17);
	cr_assert_eq(stun_msg_get_unknown_attrs(&m, types, 8, &n), STUN_OK);
	cr_assert_eq(n, 3);
	cr_assert_arr_eq(types, unknown, sizeof unknown);
	uint32_t flags;
	cr_assert_eq(stun_msg_get_change_request(&m, &flags), STUN_OK);
	cr_assert_eq(flags, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	uint16_t port;
	cr_assert_eq(stun_msg_get_response_port(&m, &port), STUN_OK);
	cr_assert_eq(port, 40000);
	cr_assert_eq(stun_msg_find(&m, STUN_ATTR_PADDING)->len, 37);
	cr_assert_eq(stun_msg_get_value(&m, STUN_ATTR_SOFTWARE, &v, &n), STUN_OK);
	cr_assert_eq(n, 10);
	cr_assert_arr_eq(v, "atmosphere", 10);
	cr_assert_eq(stun_msg_get_value(&m, STUN_ATTR_USERNAME, &v, &n), STUN_OK);
	cr_assert_eq(n, 0);
}

/* A 420 answer built from what stun_msg_unknown_required found. */
Test(stun_writer, answers_unknown_required_with_420)
{
	struct stun_msg req, resp;
	uint16_t unknown[8], listed[8];
	uint8_t buf[128];
	struct stun_writer w;
	size_t n;

	cr_assert_eq(stun_msg_parse(&req, t_rfc5769_request, sizeof t_rfc5769_request), STUN_OK);
	size_t num = stun_msg_unknown_required(&req, NULL, 0, unknown, 8);
	cr_assert_eq(num, 1);
	cr_assert_eq(unknown[0], 0x0024);

	stun_writer_init(&w, buf, sizeof buf, stun_type_make(stun_type_method(req.type), STUN_CLASS_ERROR), req.txid);
	stun_writer_add_error(&w, 420, "Unknown Attribute", 17);
	stun_writer_add_unknown_attrs(&w, unknown, num);
	stun_writer_add_integrity(&w, PW, PW_LEN);
	stun_writer_add_fingerprint(&w);
	size_t len = finish_ok(&w);

	cr_assert_eq(stun_msg_parse(&resp, buf, len), STUN_OK);
	cr_assert_eq(resp.type, STUN_BINDING_ERROR);
	cr_assert_eq(stun_msg_get_unknown_attrs(&resp, listed, 8, &n), STUN_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(listed[0], 0x0024);
	cr_assert_eq(stun_msg_check_integrity(&resp, PW, PW_LEN), STUN_OK);
	cr_assert_eq(stun_msg_check_fingerprint(&resp), STUN_OK);
}

/* --- Integrity ------------------------------------------------------------ */

Test(stun_writer, writes_both_integrities_and_fingerprint_that_verify)
{
	uint8_t buf[256], txid[STUN_TXID_LEN];
	struct stun_writer w;
	struct stun_msg m;
	static const uint8_t key[] = "a short-term password";

	stun_txid_generate(txid);
	stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_SUCCESS, txid);
	stun_writer_add_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &addr_v6);
	cr_assert_eq(stun_writer_add_integrity(&w, key, sizeof key - 1), STUN_OK);
	cr_assert_eq(stun_writer_add_integrity_sha256(&w, key, sizeof key - 1), STUN_OK);
	cr_assert_eq(stun_writer_add_fingerprint(&w), STUN_OK);
	size_t len = finish_ok(&w);

	cr_assert_eq(stun_msg_parse(&m, buf, len), STUN_OK);
	cr_assert_eq(stun_msg_check_integrity(&m, key, sizeof key - 1), STUN_OK);
	cr_assert_eq(stun_msg_check_integrity_sha256(&m, key, sizeof key - 1), STUN_OK);
	cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
	cr_assert_eq(stun_msg_check_integrity(&m, key, sizeof key - 2), STUN_E_BAD_INTEGRITY);
	cr_assert_eq(stun_msg_check_integrity_sha256(&m, key, sizeof key - 2), STUN_E_BAD_INTEGRITY);
	/* The SHA-256 tag covers MESSAGE-INTEGRITY: change it, and both fail. */
	buf[m.integrity_off + 4] ^= 1;
	cr_assert_eq(stun_msg_parse(&m, buf, len), STUN_OK);
	cr_assert_eq(stun_msg_check_integrity(&m, key, sizeof key - 1), STUN_E_BAD_INTEGRITY);
	cr_assert_eq(stun_msg_check_integrity_sha256(&m, key, sizeof key - 1), STUN_E_BAD_INTEGRITY);
	cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_E_BAD_FINGERPRINT);
}

/* RFC 8489 §14.6 lets MESSAGE-INTEGRITY-SHA256 be truncated to 16..32 bytes.
 * The tag is computed here with BoringSSL directly, independently of the
 * codec's own HMAC path. */
Test(stun_writer, verifies_truncated_sha256_integrity)
{
	static const uint8_t key[] = "k";
	for (size_t tag_len = 16; tag_len <= 32; tag_len += 4) {
		uint8_t buf[128], mac[32];
		unsigned mac_len = 0;
		struct stun_writer w;
		struct stun_msg m;

		stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_REQUEST, t_rfc5769_txid);
		stun_writer_add_software(&w, "x", 1);
		size_t len = finish_ok(&w);
		/* Header length as if the message ended after the tag. */
		size_t total = len + 4 + tag_len;
		buf[2] = (uint8_t)((total - 20) >> 8);
		buf[3] = (uint8_t)(total - 20);
		cr_assert(HMAC(EVP_sha256(), key, 1, buf, len, mac, &mac_len));
		buf[len] = 0x00;
		buf[len + 1] = 0x1c;
		buf[len + 2] = 0x00;
		buf[len + 3] = (uint8_t)tag_len;
		memcpy(buf + len + 4, mac, tag_len);

		cr_assert_eq(stun_msg_parse(&m, buf, total), STUN_OK, "tag of %zu bytes", tag_len);
		cr_assert_eq(stun_msg_check_integrity_sha256(&m, key, 1), STUN_OK, "tag of %zu bytes", tag_len);
		buf[total - 1] ^= 0x80;
		cr_assert_eq(stun_msg_check_integrity_sha256(&m, key, 1), STUN_E_BAD_INTEGRITY, "tag of %zu bytes",
		             tag_len);
	}
}

/* --- Room ------------------------------------------------------------------ */

/* For every capacity short of the message, the writer reports NO_ROOM and
 * writes nothing past the capacity: the buffer ends at a PROT_NONE page. */
Test(stun_writer, reports_no_room_for_every_short_capacity)
{
	struct t_guard g;
	size_t len;

	t_guard_init(&g);
	for (size_t cap = 0; cap < sizeof t_rfc5769_request; cap++) {
		uint8_t *buf = g.map + g.page - cap;
		int rc = write_sample_request(buf, cap, &len);
		cr_assert_eq(rc, STUN_E_NO_ROOM, "cap %zu: %s", cap, stun_strerror(rc));
	}
	uint8_t *buf = g.map + g.page - sizeof t_rfc5769_request;
	cr_assert_eq(write_sample_request(buf, sizeof t_rfc5769_request, &len), STUN_OK);
	assert_bytes(buf, len, t_rfc5769_request, sizeof t_rfc5769_request);
	t_guard_cleanup(&g);
}

Test(stun_writer, keeps_the_first_error)
{
	uint8_t buf[32];
	struct stun_writer w;
	size_t len = 12345;

	cr_assert_eq(stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_REQUEST, t_rfc5769_txid), STUN_OK);
	cr_assert_eq(stun_writer_add_software(&w, "too long for 12 bytes", 21), STUN_E_NO_ROOM);
	/* This one would fit, but the message already lost an attribute. */
	cr_assert_eq(stun_writer_add_software(&w, "x", 1), STUN_E_NO_ROOM);
	cr_assert_eq(stun_writer_add_error(&w, 200, "", 0), STUN_E_NO_ROOM);
	cr_assert_eq(stun_writer_finish(&w, &len), STUN_E_NO_ROOM);
	cr_assert_eq(len, 12345);
}

Test(stun_writer, refuses_a_message_over_the_16_bit_length)
{
	size_t cap = STUN_MAX_MSG_LEN + 1024;
	uint8_t *buf = malloc(cap);
	struct stun_writer w;
	size_t len;

	cr_assert(buf);
	stun_writer_init(&w, buf, cap, STUN_BINDING_REQUEST, t_rfc5769_txid);
	cr_assert_eq(stun_writer_add_padding(&w, 0xfffc - 4), STUN_OK);
	cr_assert_eq(finish_ok(&w), STUN_MAX_MSG_LEN);
	cr_assert_eq(stun_writer_add_padding(&w, 0), STUN_E_NO_ROOM);
	cr_assert_eq(stun_writer_finish(&w, &len), STUN_E_NO_ROOM);
	free(buf);
}

Test(stun_writer, init_rejects_small_buffer_and_bad_type)
{
	uint8_t buf[20];
	struct stun_writer w;
	size_t len;

	cr_assert_eq(stun_writer_init(&w, buf, 19, STUN_BINDING_REQUEST, t_rfc5769_txid), STUN_E_NO_ROOM);
	cr_assert_eq(stun_writer_add_software(&w, "", 0), STUN_E_NO_ROOM);
	cr_assert_eq(stun_writer_add_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &addr_v4), STUN_E_NO_ROOM);
	cr_assert_eq(stun_writer_finish(&w, &len), STUN_E_NO_ROOM);
	cr_assert_eq(stun_writer_init(&w, buf, sizeof buf, 0x4001, t_rfc5769_txid), STUN_E_INVALID);
	cr_assert_eq(stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_REQUEST, t_rfc5769_txid), STUN_OK);
	cr_assert_eq(finish_ok(&w), 20);
}

/* --- Order and arguments (table) ------------------------------------------ */

enum step {
	S_END,
	S_SOFTWARE,
	S_INTEGRITY,
	S_INTEGRITY_256,
	S_FINGERPRINT,
	S_PADDING,
	S_ERROR,
};

struct order_case {
	char name[48];
	enum step steps[5];
	int want; /* status of the last step */
};

static struct order_case order_cases[] = {
	{ "attribute after FINGERPRINT", { S_FINGERPRINT, S_SOFTWARE }, STUN_E_BAD_ORDER },
	{ "FINGERPRINT twice", { S_FINGERPRINT, S_FINGERPRINT }, STUN_E_BAD_ORDER },
	{ "attribute after MESSAGE-INTEGRITY", { S_INTEGRITY, S_SOFTWARE }, STUN_E_BAD_ORDER },
	{ "PADDING after MESSAGE-INTEGRITY", { S_INTEGRITY, S_PADDING }, STUN_E_BAD_ORDER },
	{ "ERROR-CODE after MESSAGE-INTEGRITY", { S_INTEGRITY, S_ERROR }, STUN_E_BAD_ORDER },
	{ "MESSAGE-INTEGRITY twice", { S_INTEGRITY, S_INTEGRITY }, STUN_E_BAD_ORDER },
	{ "MESSAGE-INTEGRITY after SHA256", { S_INTEGRITY_256, S_INTEGRITY }, STUN_E_BAD_ORDER },
	{ "SHA256 after FINGERPRINT", { S_FINGERPRINT, S_INTEGRITY_256 }, STUN_E_BAD_ORDER },
	{ "SHA256 twice", { S_INTEGRITY_256, S_INTEGRITY_256 }, STUN_E_BAD_ORDER },
	{ "SHA256 after MESSAGE-INTEGRITY", { S_SOFTWARE, S_INTEGRITY, S_INTEGRITY_256 }, STUN_OK },
	{ "all closing attributes in order", { S_INTEGRITY, S_INTEGRITY_256, S_FINGERPRINT }, STUN_OK },
	{ "FINGERPRINT alone", { S_FINGERPRINT }, STUN_OK },
};

ParameterizedTestParameters(stun_writer, enforces_closing_order)
{
	return cr_make_param_array(struct order_case, order_cases, sizeof order_cases / sizeof order_cases[0]);
}

ParameterizedTest(struct order_case *c, stun_writer, enforces_closing_order)
{
	uint8_t buf[256];
	struct stun_writer w;
	int rc = STUN_OK;

	stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_REQUEST, t_rfc5769_txid);
	for (size_t i = 0; i < 5 && c->steps[i] != S_END; i++) {
		cr_assert_eq(rc, STUN_OK, "%s: step %zu failed early", c->name, i);
		switch (c->steps[i]) {
		case S_SOFTWARE: rc = stun_writer_add_software(&w, "s", 1); break;
		case S_INTEGRITY: rc = stun_writer_add_integrity(&w, PW, PW_LEN); break;
		case S_INTEGRITY_256: rc = stun_writer_add_integrity_sha256(&w, PW, PW_LEN); break;
		case S_FINGERPRINT: rc = stun_writer_add_fingerprint(&w); break;
		case S_PADDING: rc = stun_writer_add_padding(&w, 4); break;
		case S_ERROR: rc = stun_writer_add_error(&w, 400, "Bad Request", 11); break;
		case S_END: break;
		}
	}
	cr_assert_eq(rc, c->want, "%s: got %s", c->name, stun_strerror(rc));
	if (rc == STUN_OK) {
		struct stun_msg m;
		size_t len = finish_ok(&w);
		cr_assert_eq(stun_msg_parse(&m, buf, len), STUN_OK, "%s", c->name);
	}
}

enum bad_arg {
	A_ERROR_299,
	A_ERROR_700,
	A_REASON_TOO_LONG,
	A_CHANGE_REQUEST_FLAG,
	A_USERNAME_TOO_LONG,
	A_SOFTWARE_TOO_LONG,
	A_REALM_TOO_LONG,
	A_NONCE_TOO_LONG,
	A_ADDR_FAMILY,
	A_XOR_ADDR_FAMILY,
	A_GENERIC_INTEGRITY,
	A_GENERIC_FINGERPRINT,
	A_GENERIC_BAD_XOR_ADDR,
	A_GENERIC_BAD_ERROR_CODE,
	A_GENERIC_NULL_VALUE,
};

struct arg_case {
	char name[48];
	enum bad_arg arg;
};

static struct arg_case arg_cases[] = {
	{ "error code 299", A_ERROR_299 },
	{ "error code 700", A_ERROR_700 },
	{ "reason phrase too long", A_REASON_TOO_LONG },
	{ "unknown CHANGE-REQUEST flag", A_CHANGE_REQUEST_FLAG },
	{ "USERNAME too long", A_USERNAME_TOO_LONG },
	{ "SOFTWARE too long", A_SOFTWARE_TOO_LONG },
	{ "REALM too long", A_REALM_TOO_LONG },
	{ "NONCE too long", A_NONCE_TOO_LONG },
	{ "address family 3", A_ADDR_FAMILY },
	{ "XOR address family 0", A_XOR_ADDR_FAMILY },
	{ "generic add of MESSAGE-INTEGRITY", A_GENERIC_INTEGRITY },
	{ "generic add of FINGERPRINT", A_GENERIC_FINGERPRINT },
	{ "generic add of a short XOR address", A_GENERIC_BAD_XOR_ADDR },
	{ "generic add of ERROR-CODE class 1", A_GENERIC_BAD_ERROR_CODE },
	{ "generic add of NULL with a length", A_GENERIC_NULL_VALUE },
};

ParameterizedTestParameters(stun_writer, rejects_invalid_arguments)
{
	return cr_make_param_array(struct arg_case, arg_cases, sizeof arg_cases / sizeof arg_cases[0]);
}

ParameterizedTest(struct arg_case *c, stun_writer, rejects_invalid_arguments)
{
	static char text[STUN_MAX_TEXT_LEN + 1];
	uint8_t buf[2048];
	struct stun_writer w;
	struct stun_addr bad = addr_v4;
	int rc = STUN_OK;
	size_t len;

	memset(text, 'x', sizeof text);
	stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_ERROR, t_rfc5769_txid);
	switch (c->arg) {
	case A_ERROR_299: rc = stun_writer_add_error(&w, 299, "", 0); break;
	case A_ERROR_700: rc = stun_writer_add_error(&w, 700, "", 0); break;
	case A_REASON_TOO_LONG: rc = stun_writer_add_error(&w, 400, text, STUN_MAX_TEXT_LEN + 1); break;
	case A_CHANGE_REQUEST_FLAG: rc = stun_writer_add_change_request(&w, 0x1); break;
	case A_USERNAME_TOO_LONG: rc = stun_writer_add_username(&w, text, STUN_MAX_USERNAME_LEN + 1); break;
	case A_SOFTWARE_TOO_LONG: rc = stun_writer_add_software(&w, text, STUN_MAX_TEXT_LEN + 1); break;
	case A_REALM_TOO_LONG: rc = stun_writer_add_realm(&w, text, STUN_MAX_TEXT_LEN + 1); break;
	case A_NONCE_TOO_LONG: rc = stun_writer_add_nonce(&w, text, STUN_MAX_TEXT_LEN + 1); break;
	case A_ADDR_FAMILY:
		bad.family = 3;
		rc = stun_writer_add_addr(&w, STUN_ATTR_MAPPED_ADDRESS, &bad);
		break;
	case A_XOR_ADDR_FAMILY:
		bad.family = 0;
		rc = stun_writer_add_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &bad);
		break;
	case A_GENERIC_INTEGRITY: rc = stun_writer_add(&w, STUN_ATTR_MESSAGE_INTEGRITY, text, 20); break;
	case A_GENERIC_FINGERPRINT: rc = stun_writer_add(&w, STUN_ATTR_FINGERPRINT, text, 4); break;
	case A_GENERIC_BAD_XOR_ADDR: rc = stun_writer_add(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, "\0\1\0", 3); break;
	case A_GENERIC_BAD_ERROR_CODE: rc = stun_writer_add(&w, STUN_ATTR_ERROR_CODE, "\0\0\1\0", 4); break;
	case A_GENERIC_NULL_VALUE: rc = stun_writer_add(&w, STUN_ATTR_SOFTWARE, NULL, 1); break;
	}
	cr_assert_eq(rc, STUN_E_INVALID, "%s: got %s", c->name, stun_strerror(rc));
	cr_assert_eq(stun_writer_finish(&w, &len), STUN_E_INVALID, "%s: not sticky", c->name);
	/* Nothing was written: the header still says length 0. */
	cr_assert_eq(buf[2], 0);
	cr_assert_eq(buf[3], 0);
}

/* The limits themselves are writable: exactly STUN_MAX_* bytes pass. */
Test(stun_writer, accepts_text_at_its_limit)
{
	static char text[STUN_MAX_TEXT_LEN];
	static uint8_t buf[4096];
	struct stun_writer w;
	struct stun_msg m;

	memset(text, 'x', sizeof text);
	stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_ERROR, t_rfc5769_txid);
	cr_assert_eq(stun_writer_add_username(&w, text, STUN_MAX_USERNAME_LEN), STUN_OK);
	cr_assert_eq(stun_writer_add_software(&w, text, STUN_MAX_TEXT_LEN), STUN_OK);
	cr_assert_eq(stun_writer_add_realm(&w, text, STUN_MAX_TEXT_LEN), STUN_OK);
	cr_assert_eq(stun_writer_add_nonce(&w, text, STUN_MAX_TEXT_LEN), STUN_OK);
	cr_assert_eq(stun_writer_add_error(&w, 699, text, STUN_MAX_TEXT_LEN), STUN_OK);
	cr_assert_eq(stun_msg_parse(&m, buf, finish_ok(&w)), STUN_OK);
}
