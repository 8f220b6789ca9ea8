/* Tests for node/e2e.h: the handshake, the transport, the docs/E2E.md vectors.
 *
 * The vectors come from tests/node/make_vectors.py, an independent Python
 * implementation of docs/E2E.md (hashlib/hmac and the `cryptography`
 * package), not from the C code under test. Inputs: static private keys
 * 0x01..0x20 (initiator) and 0x21..0x40 (responder), ephemeral private keys
 * 0x41..0x60 and 0x61..0x80, PSK 0x81..0xa0, indices 0x11223344 and
 * 0x55667788, timestamp TAI64N(1700000000.123456789), app 0xc0..0xdf. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/bssl.h"
#include "node/e2e.h"
#include "node/token.h"

/* --- Vectors from tests/node/make_vectors.py -------------------------------- */

static const uint8_t v_s_i_pub[32] = {
	0x07, 0xa3, 0x7c, 0xbc, 0x14, 0x20, 0x93, 0xc8, 0xb7, 0x55, 0xdc, 0x1b,
	0x10, 0xe8, 0x6c, 0xb4, 0x26, 0x37, 0x4a, 0xd1, 0x6a, 0xa8, 0x53, 0xed,
	0x0b, 0xdf, 0xc0, 0xb2, 0xb8, 0x6d, 0x1c, 0x7c,
};
static const uint8_t v_s_r_pub[32] = {
	0x58, 0x69, 0xaf, 0xf4, 0x50, 0x54, 0x97, 0x32, 0xcb, 0xaa, 0xed, 0x5e,
	0x5d, 0xf9, 0xb3, 0x0a, 0x6d, 0xa3, 0x1c, 0xb0, 0xe5, 0x74, 0x2b, 0xad,
	0x5a, 0xd4, 0xa1, 0xa7, 0x68, 0xf1, 0xa6, 0x7b,
};
static const uint8_t v_e_i_pub[32] = {
	0x64, 0xb1, 0x01, 0xb1, 0xd0, 0xbe, 0x5a, 0x87, 0x04, 0xbd, 0x07, 0x8f,
	0x98, 0x95, 0x00, 0x1f, 0xc0, 0x3e, 0x8e, 0x9f, 0x95, 0x22, 0xf1, 0x88,
	0xdd, 0x12, 0x8d, 0x98, 0x46, 0xd4, 0x84, 0x66,
};
static const uint8_t v_e_r_pub[32] = {
	0x24, 0x4f, 0xe3, 0xb9, 0x63, 0xe8, 0x99, 0xdd, 0x29, 0x5b, 0xaf, 0xfc,
	0xe2, 0x48, 0xd3, 0x53, 0x0f, 0x3a, 0x9a, 0x74, 0x79, 0xba, 0x06, 0x30,
	0x02, 0x68, 0x0e, 0xbf, 0xe7, 0xad, 0xad, 0x49,
};
static const uint8_t v_timestamp[12] = {
	0x40, 0x00, 0x00, 0x00, 0x65, 0x53, 0xf1, 0x00, 0x07, 0x5b, 0xcd, 0x15,
};
static const uint8_t v_init[164] = {
	0x01, 0x00, 0x00, 0x00, 0x44, 0x33, 0x22, 0x11, 0x64, 0xb1, 0x01, 0xb1,
	0xd0, 0xbe, 0x5a, 0x87, 0x04, 0xbd, 0x07, 0x8f, 0x98, 0x95, 0x00, 0x1f,
	0xc0, 0x3e, 0x8e, 0x9f, 0x95, 0x22, 0xf1, 0x88, 0xdd, 0x12, 0x8d, 0x98,
	0x46, 0xd4, 0x84, 0x66, 0xcc, 0xa0, 0xb0, 0xaf, 0xc8, 0x53, 0xb6, 0x1e,
	0x33, 0xab, 0x65, 0x29, 0x7e, 0x81, 0x1b, 0x77, 0x67, 0x69, 0xcd, 0x10,
	0xf9, 0x40, 0xf8, 0x69, 0x37, 0xdd, 0x73, 0x58, 0x41, 0xec, 0xd0, 0x07,
	0x70, 0x3e, 0x4d, 0xca, 0xf3, 0x65, 0x62, 0xfc, 0x9d, 0xdb, 0x2b, 0xf7,
	0x2d, 0x58, 0x16, 0x83, 0x40, 0x63, 0xac, 0xdb, 0x8d, 0x63, 0x4f, 0x23,
	0xea, 0x4c, 0xe6, 0x73, 0x20, 0x17, 0x55, 0x01, 0x62, 0x59, 0x5c, 0x4a,
	0x43, 0x2c, 0x01, 0x30, 0xc7, 0xad, 0xb8, 0x97, 0x23, 0x94, 0x96, 0xb3,
	0xf8, 0x03, 0xdc, 0x8a, 0x3c, 0x5a, 0xa0, 0x41, 0xe1, 0x59, 0x15, 0xa1,
	0x08, 0x4c, 0x65, 0x48, 0xd0, 0xcf, 0x00, 0x5e, 0xae, 0x77, 0x34, 0x5e,
	0xe1, 0xc7, 0x1b, 0x08, 0xec, 0x8e, 0xf2, 0xbe, 0xb8, 0xe2, 0x2a, 0xc0,
	0x68, 0xb7, 0xe1, 0x0f, 0x73, 0x16, 0x8f, 0xac,
};
static const uint8_t v_response[76] = {
	0x02, 0x00, 0x00, 0x00, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
	0x24, 0x4f, 0xe3, 0xb9, 0x63, 0xe8, 0x99, 0xdd, 0x29, 0x5b, 0xaf, 0xfc,
	0xe2, 0x48, 0xd3, 0x53, 0x0f, 0x3a, 0x9a, 0x74, 0x79, 0xba, 0x06, 0x30,
	0x02, 0x68, 0x0e, 0xbf, 0xe7, 0xad, 0xad, 0x49, 0xc2, 0x67, 0x7b, 0x66,
	0x43, 0x78, 0xc0, 0xbf, 0xa2, 0xa4, 0x92, 0x3d, 0x49, 0x02, 0x96, 0x49,
	0x25, 0x69, 0xdb, 0xd3, 0xf5, 0x10, 0xa9, 0xc8, 0xad, 0x3e, 0x69, 0xdf,
	0x3e, 0x41, 0x5c, 0x8d,
};
static const uint8_t v_key_i2r[32] = {
	0x23, 0x14, 0x1f, 0x80, 0x71, 0x9f, 0x31, 0x52, 0x18, 0x1d, 0x6f, 0xd1,
	0x69, 0xc4, 0x01, 0xd1, 0x35, 0xde, 0xc0, 0xf1, 0xd6, 0x1c, 0x61, 0x1e,
	0xf9, 0x6b, 0x37, 0x44, 0xaf, 0xb1, 0xd1, 0xe2,
};
static const uint8_t v_key_r2i[32] = {
	0x32, 0x9c, 0xa5, 0x8a, 0x42, 0x3f, 0xbc, 0xce, 0x2d, 0x8a, 0x0b, 0x1a,
	0x60, 0xf3, 0xb1, 0x15, 0x11, 0xc7, 0x22, 0x65, 0xa9, 0x89, 0xa2, 0x4b,
	0x62, 0xc5, 0xa1, 0xa6, 0x72, 0x46, 0xc4, 0xbd,
};
static const uint8_t v_handshake_hash[32] = {
	0x35, 0x3e, 0x7a, 0x31, 0x42, 0x82, 0x58, 0xbe, 0x94, 0x55, 0x65, 0xe8,
	0xdf, 0x5b, 0x81, 0xe9, 0xc6, 0x61, 0xbe, 0xb8, 0xb8, 0xaf, 0x3a, 0xef,
	0x0e, 0x66, 0xe6, 0x08, 0x97, 0x6a, 0x0e, 0xa8,
};
static const uint8_t v_data_i2r_hello[37] = {
	0x03, 0x00, 0x00, 0x00, 0x88, 0x77, 0x66, 0x55, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x09, 0x85, 0xe3, 0xf1, 0x15, 0xa5, 0x61, 0x31,
	0x2e, 0xae, 0x8c, 0x53, 0x34, 0xdf, 0x46, 0x4c, 0x95, 0xe3, 0x25, 0x10,
	0x3b,
};
static const uint8_t v_data_r2i_world[37] = {
	0x03, 0x00, 0x00, 0x00, 0x44, 0x33, 0x22, 0x11, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0xfe, 0x8f, 0xda, 0x27, 0xab, 0x98, 0xb1, 0xf5,
	0x95, 0x19, 0x32, 0x0d, 0xd0, 0x41, 0x0e, 0x1e, 0xb5, 0xbb, 0xe7, 0xaf,
	0xce,
};
static const uint8_t v_data_i2r_keepalive[32] = {
	0x03, 0x00, 0x00, 0x00, 0x88, 0x77, 0x66, 0x55, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x6d, 0x75, 0xae, 0x12, 0x91, 0xcb, 0x15, 0xfe,
	0x82, 0x63, 0x7b, 0xb1, 0xff, 0xa0, 0xac, 0x84,
};

/* --- Helpers ------------------------------------------------------------- */

static void t_fill(uint8_t *p, size_t n, uint8_t first)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(first + i);
}

struct t_pair {
	struct node_e2e_keypair ki, kr;
	struct node_e2e_handshake hi, hr;
	struct node_e2e_session si, sr;
	uint8_t psk[NODE_E2E_KEY_LEN];
	uint8_t init[NODE_E2E_INIT_LEN], resp[NODE_E2E_RESPONSE_LEN];
	struct node_e2e_init_info info;
};

/* t_vector_inputs sets up the fixed keys of the vectors. */
static void t_vector_inputs(struct t_pair *p)
{
	uint8_t priv[NODE_E2E_KEY_LEN];
	memset(p, 0, sizeof *p);
	t_fill(priv, sizeof priv, 0x01);
	node_e2e_keypair_init(&p->ki, priv);
	t_fill(priv, sizeof priv, 0x21);
	node_e2e_keypair_init(&p->kr, priv);
	t_fill(p->psk, sizeof p->psk, 0x81);
}

static void t_timestamp(uint8_t ts[NODE_E2E_TIMESTAMP_LEN])
{
	node_e2e_tai64n(ts, 1700000000, 123456789);
}

/* t_initiate writes the vector initiation into p->init. */
static void t_initiate(struct t_pair *p)
{
	uint8_t eph[NODE_E2E_KEY_LEN], ts[NODE_E2E_TIMESTAMP_LEN], app[NODE_E2E_INIT_APP_LEN];
	t_fill(eph, sizeof eph, 0x41);
	t_fill(app, sizeof app, 0xc0);
	t_timestamp(ts);
	int rc = node_e2e_init_create(&p->hi, p->init, &p->ki, p->kr.pub, eph, 0x11223344, ts, app);
	cr_assert_eq(rc, NODE_E2E_OK, "init_create: %s", node_e2e_strerror(rc));
}

/* t_respond consumes p->init and writes the vector response into p->resp. */
static void t_respond(struct t_pair *p, const uint8_t psk[NODE_E2E_KEY_LEN])
{
	uint8_t eph[NODE_E2E_KEY_LEN];
	int rc = node_e2e_init_consume(&p->hr, &p->info, &p->kr, p->init, sizeof p->init);
	cr_assert_eq(rc, NODE_E2E_OK, "init_consume: %s", node_e2e_strerror(rc));
	t_fill(eph, sizeof eph, 0x61);
	rc = node_e2e_response_create(&p->hr, p->resp, &p->sr, psk, eph, 0x55667788, 0);
	cr_assert_eq(rc, NODE_E2E_OK, "response_create: %s", node_e2e_strerror(rc));
}

/* t_handshake runs the vector handshake to two sessions. */
static void t_handshake(struct t_pair *p)
{
	t_vector_inputs(p);
	t_initiate(p);
	t_respond(p, p->psk);
	int rc = node_e2e_response_consume(&p->hi, &p->si, p->resp, sizeof p->resp, p->psk, 0);
	cr_assert_eq(rc, NODE_E2E_OK, "response_consume: %s", node_e2e_strerror(rc));
}

/* t_random_handshake: fresh random keys, indices and PSK. */
static void t_random_handshake(struct t_pair *p)
{
	uint8_t priv[NODE_E2E_KEY_LEN], eph[NODE_E2E_KEY_LEN], ts[NODE_E2E_TIMESTAMP_LEN] = { 0 };
	uint32_t idx[2];
	memset(p, 0, sizeof *p);
	RAND_bytes(priv, sizeof priv);
	node_e2e_keypair_init(&p->ki, priv);
	RAND_bytes(priv, sizeof priv);
	node_e2e_keypair_init(&p->kr, priv);
	RAND_bytes(p->psk, sizeof p->psk);
	RAND_bytes((uint8_t *)idx, sizeof idx);
	RAND_bytes(eph, sizeof eph);
	cr_assert_eq(node_e2e_init_create(&p->hi, p->init, &p->ki, p->kr.pub, eph, idx[0], ts, NULL), NODE_E2E_OK);
	cr_assert_eq(node_e2e_init_consume(&p->hr, &p->info, &p->kr, p->init, sizeof p->init), NODE_E2E_OK);
	RAND_bytes(eph, sizeof eph);
	cr_assert_eq(node_e2e_response_create(&p->hr, p->resp, &p->sr, p->psk, eph, idx[1], 0), NODE_E2E_OK);
	cr_assert_eq(node_e2e_response_consume(&p->hi, &p->si, p->resp, sizeof p->resp, p->psk, 0), NODE_E2E_OK);
}

static size_t t_seal(struct node_e2e_session *s, uint8_t *out, size_t cap, const char *text, uint64_t now)
{
	size_t n = 0;
	int rc = node_e2e_encrypt(s, out, cap, &n, (const uint8_t *)text, strlen(text), now);
	cr_assert_eq(rc, NODE_E2E_OK, "encrypt: %s", node_e2e_strerror(rc));
	return n;
}

static void t_open_expect(struct node_e2e_session *s, const uint8_t *pkt, size_t len, const char *want)
{
	uint8_t plain[256];
	size_t n = 0;
	int rc = node_e2e_decrypt(s, plain, sizeof plain, &n, pkt, len, 0);
	cr_assert_eq(rc, NODE_E2E_OK, "decrypt: %s", node_e2e_strerror(rc));
	cr_assert_eq(n, strlen(want));
	cr_assert_arr_eq(plain, want, n);
}

/* --- Vectors (docs/E2E.md) -------------------------------------------------- */

Test(node_e2e, vectors_keys_and_timestamp)
{
	struct t_pair p;
	uint8_t ts[NODE_E2E_TIMESTAMP_LEN];
	t_vector_inputs(&p);
	cr_assert_arr_eq(p.ki.pub, v_s_i_pub, 32, "initiator static public key");
	cr_assert_arr_eq(p.kr.pub, v_s_r_pub, 32, "responder static public key");
	t_timestamp(ts);
	cr_assert_arr_eq(ts, v_timestamp, sizeof ts);
}

Test(node_e2e, vectors_initiation_byte_for_byte)
{
	struct t_pair p;
	t_vector_inputs(&p);
	t_initiate(&p);
	for (size_t i = 0; i < sizeof v_init; i++)
		cr_assert_eq(p.init[i], v_init[i], "initiation byte %zu: 0x%02x, want 0x%02x", i, p.init[i], v_init[i]);
	cr_assert_arr_eq(p.init + 8, v_e_i_pub, 32, "ephemeral in the clear");
}

Test(node_e2e, vectors_initiation_consumed)
{
	struct t_pair p;
	uint8_t app[NODE_E2E_INIT_APP_LEN];
	t_vector_inputs(&p);
	memcpy(p.init, v_init, sizeof v_init);
	cr_assert_eq(node_e2e_init_consume(&p.hr, &p.info, &p.kr, p.init, sizeof p.init), NODE_E2E_OK);
	cr_assert_arr_eq(p.info.remote_static, v_s_i_pub, 32);
	cr_assert_arr_eq(p.info.timestamp, v_timestamp, 12);
	t_fill(app, sizeof app, 0xc0);
	cr_assert_arr_eq(p.info.app, app, sizeof app);
	cr_assert_eq(p.info.sender_index, 0x11223344u);
}

Test(node_e2e, vectors_response_byte_for_byte)
{
	struct t_pair p;
	t_vector_inputs(&p);
	memcpy(p.init, v_init, sizeof v_init);
	t_respond(&p, p.psk);
	for (size_t i = 0; i < sizeof v_response; i++)
		cr_assert_eq(p.resp[i], v_response[i], "response byte %zu: 0x%02x, want 0x%02x", i, p.resp[i],
		             v_response[i]);
	cr_assert_arr_eq(p.resp + 12, v_e_r_pub, 32, "ephemeral in the clear");
	cr_assert_arr_eq(p.sr.send_key, v_key_r2i, 32, "responder sends with T2");
	cr_assert_arr_eq(p.sr.recv_key, v_key_i2r, 32, "responder receives with T1");
	cr_assert_arr_eq(p.sr.handshake_hash, v_handshake_hash, 32);
	cr_assert_arr_eq(p.sr.remote_static, v_s_i_pub, 32);
	cr_assert_eq(p.sr.local_index, 0x55667788u);
	cr_assert_eq(p.sr.remote_index, 0x11223344u);
}

Test(node_e2e, vectors_response_consumed_and_transport)
{
	struct t_pair p;
	uint8_t pkt[64];
	t_vector_inputs(&p);
	t_initiate(&p);
	int rc = node_e2e_response_consume(&p.hi, &p.si, v_response, sizeof v_response, p.psk, 0);
	cr_assert_eq(rc, NODE_E2E_OK, "%s", node_e2e_strerror(rc));
	cr_assert_arr_eq(p.si.send_key, v_key_i2r, 32);
	cr_assert_arr_eq(p.si.recv_key, v_key_r2i, 32);
	cr_assert_arr_eq(p.si.handshake_hash, v_handshake_hash, 32);
	cr_assert_arr_eq(p.si.remote_static, v_s_r_pub, 32);

	size_t n = t_seal(&p.si, pkt, sizeof pkt, "hello", 0);
	cr_assert_eq(n, sizeof v_data_i2r_hello);
	cr_assert_arr_eq(pkt, v_data_i2r_hello, n, "data packet \"hello\"");
	n = t_seal(&p.si, pkt, sizeof pkt, "", 0);
	cr_assert_eq(n, sizeof v_data_i2r_keepalive);
	cr_assert_arr_eq(pkt, v_data_i2r_keepalive, n, "keepalive, counter 1");
}

Test(node_e2e, vectors_responder_transport)
{
	struct t_pair p;
	uint8_t pkt[64];
	t_handshake(&p);
	t_open_expect(&p.sr, v_data_i2r_hello, sizeof v_data_i2r_hello, "hello");
	size_t n = t_seal(&p.sr, pkt, sizeof pkt, "world", 0);
	cr_assert_arr_eq(pkt, v_data_r2i_world, n, "data packet \"world\"");
	t_open_expect(&p.si, v_data_r2i_world, sizeof v_data_r2i_world, "world");
	t_open_expect(&p.sr, v_data_i2r_keepalive, sizeof v_data_i2r_keepalive, "");
}

/* --- Round trips ------------------------------------------------------------------ */

Test(node_e2e, round_trip_both_directions_all_sizes)
{
	struct t_pair p;
	enum { CAP = NODE_E2E_MAX_PACKET_LEN };
	uint8_t *msg = malloc(CAP), *pkt = malloc(CAP), *back = malloc(CAP);
	const size_t sizes[] = { 0, 1, 15, 16, 17, 63, 64, 1200, 1400, NODE_E2E_MAX_PLAINTEXT_LEN };
	t_random_handshake(&p);
	cr_assert_arr_eq(p.si.handshake_hash, p.sr.handshake_hash, 32, "both ends agree on the transcript");
	cr_assert_arr_eq(p.sr.remote_static, p.ki.pub, 32, "responder learned the initiator's key");
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		for (int dir = 0; dir < 2; dir++) {
			struct node_e2e_session *tx = dir ? &p.sr : &p.si, *rx = dir ? &p.si : &p.sr;
			size_t n = 0, m = 0;
			RAND_bytes(msg, sizes[k]);
			int rc = node_e2e_encrypt(tx, pkt, CAP, &n, msg, sizes[k], 1000);
			cr_assert_eq(rc, NODE_E2E_OK, "size %zu dir %d: %s", sizes[k], dir, node_e2e_strerror(rc));
			cr_assert_eq(n, sizes[k] + NODE_E2E_DATA_OVERHEAD);
			rc = node_e2e_decrypt(rx, back, CAP, &m, pkt, n, 1000);
			cr_assert_eq(rc, NODE_E2E_OK, "size %zu dir %d: %s", sizes[k], dir, node_e2e_strerror(rc));
			cr_assert_eq(m, sizes[k]);
			cr_assert_arr_eq(back, msg, m, "size %zu dir %d", sizes[k], dir);
		}
	}
	size_t n = 0;
	cr_assert_eq(node_e2e_encrypt(&p.si, pkt, CAP, &n, msg, NODE_E2E_MAX_PLAINTEXT_LEN + 1, 0), NODE_E2E_E_INVALID);
	cr_assert_eq(node_e2e_encrypt(&p.si, pkt, 10 + NODE_E2E_DATA_OVERHEAD - 1, &n, msg, 10, 0), NODE_E2E_E_NO_ROOM);
	free(msg);
	free(pkt);
	free(back);
}

Test(node_e2e, members_with_the_mesh_psk_complete)
{
	uint8_t secret[NODE_TOKEN_SECRET_LEN], psk_i[32], psk_r[32];
	struct t_pair p;
	t_fill(secret, sizeof secret, 0xa0);
	cr_assert_eq(node_token_mesh_psk(psk_i, secret), NODE_TOKEN_OK);
	cr_assert_eq(node_token_mesh_psk(psk_r, secret), NODE_TOKEN_OK);
	t_vector_inputs(&p);
	t_initiate(&p);
	t_respond(&p, psk_r);
	cr_assert_eq(node_e2e_response_consume(&p.hi, &p.si, p.resp, sizeof p.resp, psk_i, 0), NODE_E2E_OK);
}

Test(node_e2e, different_mesh_secret_fails_and_keeps_handshake)
{
	uint8_t secret_a[NODE_TOKEN_SECRET_LEN], secret_b[NODE_TOKEN_SECRET_LEN], psk_a[32], psk_b[32];
	struct t_pair p;
	struct node_e2e_handshake saved;
	struct node_e2e_session s;
	t_fill(secret_a, sizeof secret_a, 0xa0);
	memcpy(secret_b, secret_a, sizeof secret_b);
	secret_b[31] ^= 1;
	node_token_mesh_psk(psk_a, secret_a);
	node_token_mesh_psk(psk_b, secret_b);
	t_vector_inputs(&p);
	t_initiate(&p);
	saved = p.hi;
	/* The responder answers with another mesh's PSK: the initiator refuses,
	 * and its pending handshake survives the bad response. */
	t_respond(&p, psk_b);
	memset(&s, 0x5a, sizeof s);
	struct node_e2e_session before = s;
	cr_assert_eq(node_e2e_response_consume(&p.hi, &s, p.resp, sizeof p.resp, psk_a, 0), NODE_E2E_E_AUTH);
	cr_assert_arr_eq(&s, &before, sizeof s, "no session on failure");
	cr_assert_arr_eq(&p.hi, &saved, sizeof saved, "handshake unchanged on failure");
	/* The genuine response still completes it. */
	t_respond(&p, psk_a);
	cr_assert_eq(node_e2e_response_consume(&p.hi, &s, p.resp, sizeof p.resp, psk_a, 0), NODE_E2E_OK);
}

/* --- Tampering ---------------------------------------------------------------------- */

/* t_fix_mac1 recomputes a handshake message's mac1 for the receiver's key,
 * as an attacker who knows the public key can: what remains must be caught
 * by the AEADs. */
static void t_fix_mac1(uint8_t *msg, size_t len, const uint8_t receiver_pub[32])
{
	uint8_t key[32], full[32];
	unsigned full_len;
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, "mac1----", 8);
	SHA256_Update(&c, receiver_pub, 32);
	SHA256_Final(key, &c);
	HMAC(EVP_sha256(), key, 32, msg, len - NODE_E2E_MAC1_LEN, full, &full_len);
	memcpy(msg + len - NODE_E2E_MAC1_LEN, full, NODE_E2E_MAC1_LEN);
}

Test(node_e2e, every_tampered_initiation_byte_fails)
{
	struct t_pair p;
	t_vector_inputs(&p);
	t_initiate(&p);
	for (size_t i = 0; i < NODE_E2E_INIT_LEN; i++) {
		for (int fix = 0; fix < 2; fix++) {
			uint8_t msg[NODE_E2E_INIT_LEN];
			struct node_e2e_handshake hs;
			struct node_e2e_init_info info;
			memcpy(msg, p.init, sizeof msg);
			msg[i] ^= 0x01;
			if (fix)
				t_fix_mac1(msg, sizeof msg, p.kr.pub);
			if (fix && i >= NODE_E2E_INIT_LEN - NODE_E2E_MAC1_LEN)
				continue; /* the fix undid the change */
			int rc = node_e2e_init_consume(&hs, &info, &p.kr, msg, sizeof msg);
			cr_assert_lt(rc, 0, "byte %zu (mac1 %s) accepted", i, fix ? "fixed" : "stale");
			if (!fix && i >= 4)
				cr_assert_eq(rc, NODE_E2E_E_BAD_MAC1, "byte %zu: %s", i, node_e2e_strerror(rc));
			if (fix && i >= 4)
				cr_assert(rc == NODE_E2E_E_AUTH || rc == NODE_E2E_E_BAD_KEY, "byte %zu: %s", i,
				          node_e2e_strerror(rc));
		}
	}
}

Test(node_e2e, every_tampered_response_byte_fails)
{
	struct t_pair p;
	t_vector_inputs(&p);
	t_initiate(&p);
	t_respond(&p, p.psk);
	struct node_e2e_handshake saved = p.hi;
	for (size_t i = 0; i < NODE_E2E_RESPONSE_LEN; i++) {
		for (int fix = 0; fix < 2; fix++) {
			uint8_t msg[NODE_E2E_RESPONSE_LEN];
			struct node_e2e_session s;
			memcpy(msg, p.resp, sizeof msg);
			msg[i] ^= 0x80;
			if (fix)
				t_fix_mac1(msg, sizeof msg, p.ki.pub);
			if (fix && i >= NODE_E2E_RESPONSE_LEN - NODE_E2E_MAC1_LEN)
				continue;
			int rc = node_e2e_response_consume(&p.hi, &s, msg, sizeof msg, p.psk, 0);
			cr_assert_lt(rc, 0, "byte %zu (mac1 %s) accepted", i, fix ? "fixed" : "stale");
			cr_assert_arr_eq(&p.hi, &saved, sizeof saved, "byte %zu changed the handshake", i);
			if (i >= 8 && i < 12)
				cr_assert_eq(rc, NODE_E2E_E_BAD_INDEX, "byte %zu: %s", i, node_e2e_strerror(rc));
			else if (fix && i >= 4)
				cr_assert(rc == NODE_E2E_E_AUTH || rc == NODE_E2E_E_BAD_KEY, "byte %zu: %s", i,
				          node_e2e_strerror(rc));
		}
	}
	struct node_e2e_session s;
	cr_assert_eq(node_e2e_response_consume(&p.hi, &s, p.resp, sizeof p.resp, p.psk, 0), NODE_E2E_OK);
}

Test(node_e2e, every_tampered_data_byte_fails)
{
	struct t_pair p;
	uint8_t pkt[64], plain[64];
	t_handshake(&p);
	size_t n = t_seal(&p.si, pkt, sizeof pkt, "hello", 0);
	for (size_t i = 0; i < n; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			uint8_t bad[64];
			size_t m = 0;
			memcpy(bad, pkt, n);
			bad[i] ^= (uint8_t)(1u << bit);
			int rc = node_e2e_decrypt(&p.sr, plain, sizeof plain, &m, bad, n, 0);
			/* cheap checks name their reason; the rest is the AEAD's */
			int want = i < 4 ? NODE_E2E_E_BAD_TYPE : i < 8 ? NODE_E2E_E_BAD_INDEX : NODE_E2E_E_AUTH;
			if (i == 0 && rc == NODE_E2E_E_BAD_LENGTH)
				want = rc; /* now a handshake type, of the wrong length */
			cr_assert_eq(rc, want, "byte %zu bit %u: %s", i, bit, node_e2e_strerror(rc));
		}
	}
	cr_assert_not(p.sr.confirmed, "forgeries must not confirm the session");
	t_open_expect(&p.sr, pkt, n, "hello");
	cr_assert(p.sr.confirmed);
}

/* --- Replay window ------------------------------------------------------------------- */

Test(node_e2e, replayed_packet_rejected)
{
	struct t_pair p;
	uint8_t pkt[64], plain[64];
	size_t m;
	t_handshake(&p);
	size_t n = t_seal(&p.si, pkt, sizeof pkt, "once", 0);
	t_open_expect(&p.sr, pkt, n, "once");
	cr_assert_eq(node_e2e_decrypt(&p.sr, plain, sizeof plain, &m, pkt, n, 0), NODE_E2E_E_REPLAY);
}

Test(node_e2e, out_of_order_within_window_accepted_too_old_rejected)
{
	enum { N = NODE_REPLAY_WINDOW + 100 };
	struct t_pair p;
	uint8_t(*pkts)[NODE_E2E_DATA_OVERHEAD + 8] = malloc(N * sizeof *pkts);
	uint8_t plain[16];
	size_t n = 0, m;
	t_handshake(&p);
	for (size_t i = 0; i < N; i++)
		cr_assert_eq(node_e2e_encrypt(&p.si, pkts[i], sizeof pkts[i], &n, (const uint8_t *)"12345678", 8, 0),
		             NODE_E2E_OK);
	/* Deliver the newest first, then the rest backwards: each one newer
	 * than the window's edge is fresh once; older ones are too old. */
	cr_assert_eq(node_e2e_decrypt(&p.sr, plain, sizeof plain, &m, pkts[N - 1], n, 0), NODE_E2E_OK);
	for (size_t k = N - 1; k-- > 0;) {
		int rc = node_e2e_decrypt(&p.sr, plain, sizeof plain, &m, pkts[k], n, 0);
		if (N - 1 - k < NODE_REPLAY_WINDOW)
			cr_assert_eq(rc, NODE_E2E_OK, "counter %zu: %s", k, node_e2e_strerror(rc));
		else
			cr_assert_eq(rc, NODE_E2E_E_TOO_OLD, "counter %zu: %s", k, node_e2e_strerror(rc));
	}
	cr_assert_eq(node_e2e_decrypt(&p.sr, plain, sizeof plain, &m, pkts[N - 2], n, 0), NODE_E2E_E_REPLAY);
	free(pkts);
}

/* --- Rekey and expiry ---------------------------------------------------------------- */

Test(node_e2e, counter_limits_set_rekey_then_refuse)
{
	struct t_pair p;
	uint8_t pkt[64], plain[64];
	size_t n, m;
	const struct node_e2e_limits lim = { .rekey_after_messages = 3, .reject_after_messages = 5,
		                            .rekey_after_ms = NODE_E2E_REKEY_AFTER_MS,
		                            .reject_after_ms = NODE_E2E_REJECT_AFTER_MS };
	t_handshake(&p);
	node_e2e_session_set_limits(&p.si, &lim);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(node_e2e_needs_rekey(&p.si, 0), i >= 3, "after %d messages", i);
		cr_assert_eq(node_e2e_encrypt(&p.si, pkt, sizeof pkt, &n, (const uint8_t *)"x", 1, 0), NODE_E2E_OK);
	}
	cr_assert(node_e2e_needs_rekey(&p.si, 0));
	cr_assert_eq(node_e2e_encrypt(&p.si, pkt, sizeof pkt, &n, (const uint8_t *)"x", 1, 0), NODE_E2E_E_EXPIRED,
	             "counter exhausted");
	cr_assert_eq(p.si.send_counter, 5, "a refused send does not advance the counter");

	/* A receiver refuses counters at its limit before any crypto. */
	node_e2e_session_set_limits(&p.sr, &lim);
	cr_assert_eq(node_e2e_decrypt(&p.sr, plain, sizeof plain, &m, pkt, n, 0), NODE_E2E_OK, "counter 4");
	pkt[8] = 5;
	cr_assert_eq(node_e2e_decrypt(&p.sr, plain, sizeof plain, &m, pkt, n, 0), NODE_E2E_E_EXPIRED);
}

Test(node_e2e, default_counter_limit_is_enforced)
{
	struct t_pair p;
	uint8_t pkt[64], plain[64];
	size_t n, m;
	t_handshake(&p);
	p.si.send_counter = NODE_E2E_REJECT_AFTER_MESSAGES - 1;
	cr_assert(node_e2e_needs_rekey(&p.si, 0));
	cr_assert_eq(node_e2e_encrypt(&p.si, pkt, sizeof pkt, &n, (const uint8_t *)"x", 1, 0), NODE_E2E_OK);
	cr_assert_eq(node_e2e_encrypt(&p.si, pkt, sizeof pkt, &n, (const uint8_t *)"x", 1, 0), NODE_E2E_E_EXPIRED);
	cr_assert_eq(node_e2e_decrypt(&p.sr, plain, sizeof plain, &m, pkt, n, 0), NODE_E2E_OK, "last valid counter");
	/* A counter of 2^64 - 1 is refused, never slides the window to wrap. */
	memset(pkt + 8, 0xff, 8);
	cr_assert_eq(node_e2e_decrypt(&p.sr, plain, sizeof plain, &m, pkt, n, 0), NODE_E2E_E_EXPIRED);
}

Test(node_e2e, time_limits_set_rekey_then_refuse)
{
	struct t_pair p;
	uint8_t pkt[64], plain[64];
	size_t n, m;
	const uint64_t t0 = 5000000;
	t_vector_inputs(&p);
	t_initiate(&p);
	int rc = node_e2e_init_consume(&p.hr, &p.info, &p.kr, p.init, sizeof p.init);
	cr_assert_eq(rc, NODE_E2E_OK);
	uint8_t eph[32];
	t_fill(eph, sizeof eph, 0x61);
	cr_assert_eq(node_e2e_response_create(&p.hr, p.resp, &p.sr, p.psk, eph, 7, t0), NODE_E2E_OK);
	cr_assert_eq(node_e2e_response_consume(&p.hi, &p.si, p.resp, sizeof p.resp, p.psk, t0), NODE_E2E_OK);

	cr_assert_not(node_e2e_needs_rekey(&p.si, t0 + NODE_E2E_REKEY_AFTER_MS - 1));
	cr_assert(node_e2e_needs_rekey(&p.si, t0 + NODE_E2E_REKEY_AFTER_MS), "initiator rekeys at 120 s");
	cr_assert_not(node_e2e_needs_rekey(&p.sr, t0 + NODE_E2E_REKEY_AFTER_MS), "responder leaves it to the initiator");
	cr_assert(node_e2e_needs_rekey(&p.sr, t0 + NODE_E2E_REKEY_AFTER_MS + NODE_E2E_REKEY_RESPONDER_SLACK_MS));
	cr_assert_not(node_e2e_needs_rekey(&p.si, t0 - 1000), "a clock going backwards is age 0");

	n = t_seal(&p.si, pkt, sizeof pkt, "late", t0 + NODE_E2E_REJECT_AFTER_MS - 1);
	cr_assert_eq(node_e2e_decrypt(&p.sr, plain, sizeof plain, &m, pkt, n, t0 + NODE_E2E_REJECT_AFTER_MS),
	             NODE_E2E_E_EXPIRED);
	cr_assert_eq(node_e2e_encrypt(&p.si, pkt, sizeof pkt, &n, (const uint8_t *)"x", 1, t0 + NODE_E2E_REJECT_AFTER_MS),
	             NODE_E2E_E_EXPIRED);
}

Test(node_e2e, limits_cannot_exceed_defaults)
{
	struct t_pair p;
	const struct node_e2e_limits big = { UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX };
	t_handshake(&p);
	node_e2e_session_set_limits(&p.si, &big);
	cr_assert_eq(p.si.limits.rekey_after_messages, NODE_E2E_REKEY_AFTER_MESSAGES);
	cr_assert_eq(p.si.limits.reject_after_messages, NODE_E2E_REJECT_AFTER_MESSAGES);
	cr_assert_eq(p.si.limits.rekey_after_ms, NODE_E2E_REKEY_AFTER_MS);
	cr_assert_eq(p.si.limits.reject_after_ms, NODE_E2E_REJECT_AFTER_MS);
}

/* --- Key confirmation, state, garbage --------------------------------------------------- */

Test(node_e2e, responder_sends_only_after_key_confirmation)
{
	struct t_pair p;
	uint8_t pkt[64];
	size_t n;
	t_handshake(&p);
	cr_assert_not(p.sr.confirmed);
	cr_assert_eq(node_e2e_encrypt(&p.sr, pkt, sizeof pkt, &n, (const uint8_t *)"x", 1, 0), NODE_E2E_E_NOT_CONFIRMED);
	n = t_seal(&p.si, pkt, sizeof pkt, "", 0);
	t_open_expect(&p.sr, pkt, n, "");
	cr_assert_eq(node_e2e_encrypt(&p.sr, pkt, sizeof pkt, &n, (const uint8_t *)"x", 1, 0), NODE_E2E_OK);
}

Test(node_e2e, calls_out_of_order_are_refused)
{
	struct t_pair p;
	struct node_e2e_handshake empty;
	struct node_e2e_session s;
	uint8_t out[NODE_E2E_RESPONSE_LEN], eph[32] = { 1 };
	t_handshake(&p);
	memset(&empty, 0, sizeof empty);
	cr_assert_eq(node_e2e_response_consume(&empty, &s, p.resp, sizeof p.resp, p.psk, 0), NODE_E2E_E_STATE);
	cr_assert_eq(node_e2e_response_create(&empty, out, &s, p.psk, eph, 1, 0), NODE_E2E_E_STATE);
	/* Completing a handshake wipes it: it cannot be completed twice. */
	cr_assert_eq(node_e2e_response_consume(&p.hi, &s, p.resp, sizeof p.resp, p.psk, 0), NODE_E2E_E_STATE);
	cr_assert_eq(node_e2e_response_create(&p.hr, out, &s, p.psk, eph, 1, 0), NODE_E2E_E_STATE);
	/* Messages of the wrong kind for the call. */
	struct node_e2e_init_info info;
	cr_assert_eq(node_e2e_init_consume(&empty, &info, &p.kr, p.resp, sizeof p.resp), NODE_E2E_E_BAD_TYPE);
}

Test(node_e2e, initiation_for_another_node_is_dropped_before_dh)
{
	struct t_pair p;
	struct node_e2e_keypair other;
	struct node_e2e_handshake hs;
	struct node_e2e_init_info info;
	uint8_t priv[32];
	t_vector_inputs(&p);
	t_initiate(&p);
	t_fill(priv, sizeof priv, 0x99);
	node_e2e_keypair_init(&other, priv);
	cr_assert_eq(node_e2e_init_consume(&hs, &info, &other, p.init, sizeof p.init), NODE_E2E_E_BAD_MAC1);
}

Test(node_e2e, low_order_keys_are_refused)
{
	struct t_pair p;
	uint8_t zero[32] = { 0 }, eph[32] = { 1 }, ts[12] = { 0 }, msg[NODE_E2E_INIT_LEN];
	struct node_e2e_handshake hs;
	struct node_e2e_init_info info;
	t_vector_inputs(&p);
	cr_assert_eq(node_e2e_init_create(&hs, msg, &p.ki, zero, eph, 1, ts, NULL), NODE_E2E_E_BAD_KEY);
	/* An initiation carrying a low-order ephemeral, mac1 made valid. */
	t_initiate(&p);
	memcpy(msg, p.init, sizeof msg);
	memset(msg + 8, 0, 32);
	t_fix_mac1(msg, sizeof msg, p.kr.pub);
	cr_assert_eq(node_e2e_init_consume(&hs, &info, &p.kr, msg, sizeof msg), NODE_E2E_E_BAD_KEY);
}

struct classify_case {
	const char *name;
	uint8_t bytes[8];
	size_t len;
	int want;
};

Test(node_e2e, classify_rejects_garbage_without_crypto)
{
	static const struct classify_case cases[] = {
		{ "empty", { 0 }, 0, NODE_E2E_E_BAD_LENGTH },
		{ "three bytes", { 1, 0, 0 }, 3, NODE_E2E_E_BAD_LENGTH },
		{ "type 0", { 0, 0, 0, 0 }, 4, NODE_E2E_E_BAD_TYPE },
		{ "type 4", { 4, 0, 0, 0 }, 4, NODE_E2E_E_BAD_TYPE },
		{ "type 0xff", { 0xff, 0, 0, 0 }, 4, NODE_E2E_E_BAD_TYPE },
		{ "reserved byte 1", { 3, 1, 0, 0 }, 4, NODE_E2E_E_BAD_TYPE },
		{ "reserved byte 3", { 3, 0, 0, 0x80 }, 4, NODE_E2E_E_BAD_TYPE },
		{ "short initiation", { 1, 0, 0, 0 }, 8, NODE_E2E_E_BAD_LENGTH },
		{ "short response", { 2, 0, 0, 0 }, 8, NODE_E2E_E_BAD_LENGTH },
		{ "short data", { 3, 0, 0, 0 }, 8, NODE_E2E_E_BAD_LENGTH },
		{ "STUN binding request", { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42 }, 8, NODE_E2E_E_BAD_TYPE },
	};
	static uint8_t buf[NODE_E2E_MAX_PACKET_LEN + 1];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(buf, 0, sizeof buf);
		memcpy(buf, cases[i].bytes, sizeof cases[i].bytes);
		int rc = node_e2e_classify(buf, cases[i].len, NULL);
		cr_assert_eq(rc, cases[i].want, "%s: %d (%s)", cases[i].name, rc, node_e2e_strerror(rc));
	}
	uint32_t idx = 0;
	memset(buf, 0, sizeof buf);
	buf[0] = NODE_E2E_MSG_INIT;
	cr_assert_eq(node_e2e_classify(buf, NODE_E2E_INIT_LEN, &idx), NODE_E2E_MSG_INIT);
	cr_assert_eq(node_e2e_classify(buf, NODE_E2E_INIT_LEN + 1, &idx), NODE_E2E_E_BAD_LENGTH);
	buf[0] = NODE_E2E_MSG_RESPONSE;
	buf[8] = 0x78, buf[9] = 0x56, buf[10] = 0x34, buf[11] = 0x12;
	cr_assert_eq(node_e2e_classify(buf, NODE_E2E_RESPONSE_LEN, &idx), NODE_E2E_MSG_RESPONSE);
	cr_assert_eq(idx, 0x12345678u);
	cr_assert_eq(node_e2e_classify(buf, NODE_E2E_RESPONSE_LEN - 1, &idx), NODE_E2E_E_BAD_LENGTH);
	buf[0] = NODE_E2E_MSG_DATA;
	buf[4] = 0xaa, buf[5] = 0xbb, buf[6] = 0xcc, buf[7] = 0xdd;
	cr_assert_eq(node_e2e_classify(buf, NODE_E2E_DATA_OVERHEAD, &idx), NODE_E2E_MSG_DATA);
	cr_assert_eq(idx, 0xddccbbaau);
	cr_assert_eq(node_e2e_classify(buf, NODE_E2E_MAX_PACKET_LEN, &idx), NODE_E2E_MSG_DATA);
	cr_assert_eq(node_e2e_classify(buf, NODE_E2E_MAX_PACKET_LEN + 1, &idx), NODE_E2E_E_BAD_LENGTH);
}

Test(node_e2e, random_datagrams_never_get_through)
{
	struct t_pair p;
	uint8_t buf[NODE_E2E_INIT_LEN], plain[NODE_E2E_INIT_LEN];
	t_handshake(&p);
	for (int i = 0; i < 2000; i++) {
		struct node_e2e_handshake hs;
		struct node_e2e_init_info info;
		struct node_e2e_session s;
		size_t m;
		RAND_bytes(buf, sizeof buf);
		buf[1] = buf[2] = buf[3] = 0;
		buf[0] = (uint8_t)(1 + i % 3);
		cr_assert_lt(node_e2e_init_consume(&hs, &info, &p.kr, buf, NODE_E2E_INIT_LEN), 0);
		cr_assert_lt(node_e2e_response_consume(&p.hi, &s, buf, NODE_E2E_RESPONSE_LEN, p.psk, 0), 0);
		memcpy(buf + 4, "\x88\x77\x66\x55", 4); /* the responder's index */
		cr_assert_lt(node_e2e_decrypt(&p.sr, plain, sizeof plain, &m, buf, 40 + (size_t)(i % 100), 0), 0);
	}
	cr_assert_eq(p.sr.replay.greatest, 0, "garbage never moved the window");
}

Test(node_e2e, tai64n_orders_like_time)
{
	uint8_t a[12], b[12], c[12];
	node_e2e_tai64n(a, 1700000000, 999999999);
	node_e2e_tai64n(b, 1700000001, 0);
	node_e2e_tai64n(c, 1700000001, 1);
	cr_assert_lt(memcmp(a, b, 12), 0);
	cr_assert_lt(memcmp(b, c, 12), 0);
	static const uint8_t epoch[12] = { 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	node_e2e_tai64n(a, 0, 0);
	cr_assert_arr_eq(a, epoch, 12);
}

Test(node_e2e, cleanup_wipes_secrets)
{
	struct t_pair p;
	static const uint8_t zero[sizeof(struct node_e2e_session)];
	t_handshake(&p);
	node_e2e_session_cleanup(&p.si);
	cr_assert_arr_eq(&p.si, zero, sizeof p.si);
	node_e2e_keypair_cleanup(&p.ki);
	cr_assert_arr_eq(&p.ki, zero, sizeof p.ki);
}

Test(node_e2e, strerror_names_every_status)
{
	for (int s = NODE_E2E_E_INTERNAL; s <= NODE_E2E_OK; s++)
		cr_assert_str_neq(node_e2e_strerror(s), "unknown e2e status", "status %d", s);
	cr_assert_str_eq(node_e2e_strerror(1), "unknown e2e status");
}
