/* Tests for node/token.h: join codes, short codes, the join-secret key
 * schedule, and a whole join (code -> claim -> e2e handshake).
 *
 * The vector comes from tests/node/make_vectors.py, which implements
 * docs/TOKENS.md with Python's json, base64, hashlib and hmac. The corpus in
 * tests/fuzz/corpus/token/ comes from the same script: files named
 * bad-<status>-* must be refused with exactly that status, ok-* accepted. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "net/b64.h"
#include "net/bssl.h"
#include "node/e2e.h"
#include "node/token.h"

/* --- The vector (docs/TOKENS.md, "Test vector") -------------------------- */

/* A unix time inside the vector's validity. */
#define T_NOW ((uint64_t)1234600000)

static const uint8_t v_invite_key[32] = {
	0x59, 0xaa, 0xde, 0x14, 0x44, 0xbe, 0x2e, 0x73, 0xc8, 0x2b, 0x48, 0x0d,
	0x06, 0x6f, 0x7d, 0xe5, 0xbb, 0x8d, 0x98, 0x7f, 0xc4, 0xed, 0x3f, 0x99,
	0x14, 0x10, 0xd7, 0x4e, 0xd0, 0x25, 0xf6, 0xe4,
};
static const uint8_t v_mac[32] = {
	0xdd, 0xaf, 0x0c, 0x6c, 0x82, 0xec, 0x8b, 0x4f, 0x47, 0xcb, 0x5d, 0x87,
	0x1e, 0x9a, 0x21, 0xb8, 0x8e, 0x7c, 0x78, 0x37, 0x6f, 0x28, 0x04, 0x0d,
	0xe3, 0x77, 0xd1, 0xda, 0x81, 0xcf, 0xda, 0x19,
};
static const uint8_t v_mesh_psk[32] = {
	0xb9, 0xa2, 0xd9, 0xee, 0x4a, 0x57, 0xab, 0xd0, 0x3f, 0x39, 0xaf, 0x60,
	0x63, 0xaa, 0xee, 0x7d, 0xb7, 0x3d, 0x1b, 0xb0, 0x3e, 0x39, 0xcb, 0x2d,
	0x9a, 0x03, 0xab, 0x3e, 0xd7, 0xa5, 0xf9, 0x52,
};
static const uint8_t v_join_psk[32] = {
	0x53, 0xd8, 0x12, 0xf5, 0x9e, 0x58, 0x8b, 0x18, 0x44, 0x32, 0x06, 0x1d,
	0x67, 0x77, 0xa6, 0x9a, 0x10, 0x11, 0xa6, 0xb3, 0x1b, 0xc2, 0x2d, 0x8e,
	0x61, 0x25, 0x79, 0x2b, 0x59, 0xa6, 0xfe, 0xce,
};
static const char v_code[] =
	"eyJ2IjoxLCJtZXNoX2lkIjoibWVzaC1hYmMxMjMiLCJtZXNoX25hbWUiOiJteS1tZXNoIiwi"
	"ZW5kcG9pbnQiOiIxOTIuMTY4LjEuMTAwOjc3NzciLCJwdWJsaWNfZW5kcG9pbnQiOiIyMDMu"
	"MC4xMTMuMTA6Nzc3NyIsInJlbGF5X3VybHMiOlsid3M6Ly9yZWxheS5hdG1vc3BoZXJlLmRl"
	"djo4MDgwIl0sInN0dW4iOlsic3R1bi5sLmdvb2dsZS5jb206MTkzMDIiLCJzdHVuLmNsb3Vk"
	"ZmxhcmUuY29tOjM0NzgiXSwiY3JlYXRlZF9hdCI6MTIzNDU2Nzg5MCwiZXhwaXJlc19hdCI6"
	"MTIzNDY1NDI5MCwibm9kZV9pZCI6InJvYi1sYXB0b3AiLCJub2RlX3B1YiI6IkI2Tjh2QlFn"
	"azhpM1Zkd2JFT2hzdENZM1N0RnFxRlB0QzlfQXNyaHRISHciLCJpbnZpdGVfaWQiOiI4UEh5"
	"OF9UMTl2ZjQtZnI3X1AzLV93IiwiaW52aXRlX2tleSI6IldhcmVGRVMtTG5QSUswZ05CbTk5"
	"NWJ1Tm1IX0U3VC1aRkJEWFR0QWw5dVEiLCJtYWMiOiIzYThNYklMc2kwOUh5MTJISHBvaHVJ"
	"NThlRGR2S0FRTjQzZlIyb0hQMmhrIn0=";
static const char v_short[] = "MESH-QHG6-FBRA-0Q5Q";

static void t_fill(uint8_t *p, size_t n, uint8_t first)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(first + i);
}

static void t_secret(uint8_t secret[NODE_TOKEN_SECRET_LEN])
{
	t_fill(secret, NODE_TOKEN_SECRET_LEN, 0xa0);
}

/* t_base fills the vector's token: the seed's example plus our fields. */
static void t_base(struct node_token *t)
{
	uint8_t priv[32];
	memset(t, 0, sizeof *t);
	strcpy(t->mesh_id, "mesh-abc123");
	strcpy(t->mesh_name, "my-mesh");
	strcpy(t->endpoint, "192.168.1.100:7777");
	strcpy(t->public_endpoint, "203.0.113.10:7777");
	strcpy(t->relay_urls[0], "ws://relay.atmosphere.dev:8080");
	t->num_relay_urls = 1;
	strcpy(t->stun[0], "stun.l.google.com:19302");
	strcpy(t->stun[1], "stun.cloudflare.com:3478");
	t->num_stun = 2;
	t->created_at = 1234567890;
	t->expires_at = 1234654290;
	strcpy(t->node_id, "rob-laptop");
	t_fill(priv, sizeof priv, 0x01);
	X25519_public_from_private(t->node_pub, priv);
	t_fill(t->invite_id, sizeof t->invite_id, 0xf0);
}

/* t_encode issues t with the vector's secret into code (NUL-terminated). */
static size_t t_encode(char code[NODE_TOKEN_MAX_CODE_LEN + 1], struct node_token *t)
{
	uint8_t secret[NODE_TOKEN_SECRET_LEN];
	const char *field = NULL;
	size_t len = 0;
	t_secret(secret);
	int rc = node_token_encode(code, NODE_TOKEN_MAX_CODE_LEN + 1, &len, t, &field, secret);
	cr_assert_eq(rc, NODE_TOKEN_OK, "encode: %s (%s)", node_token_strerror(rc), field ? field : "-");
	cr_assert_eq(strlen(code), len);
	return len;
}

static void t_assert_same_fields(const struct node_token *a, const struct node_token *b)
{
	cr_assert_str_eq(a->mesh_id, b->mesh_id);
	cr_assert_str_eq(a->mesh_name, b->mesh_name);
	cr_assert_str_eq(a->endpoint, b->endpoint);
	cr_assert_str_eq(a->public_endpoint, b->public_endpoint);
	cr_assert_eq(a->num_relay_urls, b->num_relay_urls);
	for (size_t i = 0; i < a->num_relay_urls; i++)
		cr_assert_str_eq(a->relay_urls[i], b->relay_urls[i]);
	cr_assert_eq(a->num_stun, b->num_stun);
	for (size_t i = 0; i < a->num_stun; i++)
		cr_assert_str_eq(a->stun[i], b->stun[i]);
	cr_assert_eq(a->num_ipv6_endpoints, b->num_ipv6_endpoints);
	for (size_t i = 0; i < a->num_ipv6_endpoints; i++)
		cr_assert_str_eq(a->ipv6_endpoints[i], b->ipv6_endpoints[i]);
	cr_assert_eq(a->created_at, b->created_at);
	cr_assert_eq(a->expires_at, b->expires_at);
	cr_assert_str_eq(a->node_id, b->node_id);
	cr_assert_arr_eq(a->node_pub, b->node_pub, 32);
	cr_assert_arr_eq(a->invite_id, b->invite_id, 16);
	cr_assert_arr_eq(a->invite_key, b->invite_key, 32);
	cr_assert_arr_eq(a->mac, b->mac, 32);
}

Test(node_token, encodes_the_vector_byte_for_byte)
{
	struct node_token t;
	char code[NODE_TOKEN_MAX_CODE_LEN + 1], short_code[NODE_TOKEN_SHORT_CODE_LEN + 1];
	t_base(&t);
	size_t len = t_encode(code, &t);
	cr_assert_eq(len, strlen(v_code));
	cr_assert_str_eq(code, v_code);
	cr_assert_arr_eq(t.invite_key, v_invite_key, 32, "invite key filled in");
	cr_assert_arr_eq(t.mac, v_mac, 32, "mac filled in");
	cr_assert_eq(node_token_short_code(short_code, NULL, &t), NODE_TOKEN_OK);
	cr_assert_str_eq(short_code, v_short);
}

Test(node_token, decodes_the_vector)
{
	struct node_token want, got;
	char short_code[NODE_TOKEN_SHORT_CODE_LEN + 1];
	t_base(&want);
	memcpy(want.invite_key, v_invite_key, 32);
	memcpy(want.mac, v_mac, 32);
	int rc = node_token_decode(&got, NULL, v_code, strlen(v_code), T_NOW);
	cr_assert_eq(rc, NODE_TOKEN_OK, "%s", node_token_strerror(rc));
	t_assert_same_fields(&got, &want);
	cr_assert_eq(node_token_short_code(short_code, NULL, &got), NODE_TOKEN_OK);
	cr_assert_str_eq(short_code, v_short, "both sides print the same short code");
}

Test(node_token, derives_the_vector_keys)
{
	uint8_t secret[32], key[32], psk[32], invite_id[16];
	t_secret(secret);
	t_fill(invite_id, sizeof invite_id, 0xf0);
	cr_assert_eq(node_token_invite_key(key, secret, "mesh-abc123", invite_id, 1234567890, 1234654290), NODE_TOKEN_OK);
	cr_assert_arr_eq(key, v_invite_key, 32);
	cr_assert_eq(node_token_join_psk(psk, key), NODE_TOKEN_OK);
	cr_assert_arr_eq(psk, v_join_psk, 32);
	cr_assert_eq(node_token_mesh_psk(psk, secret), NODE_TOKEN_OK);
	cr_assert_arr_eq(psk, v_mesh_psk, 32);
	cr_assert_eq(node_token_invite_key(key, secret, "bad/id", invite_id, 1, 2), NODE_TOKEN_E_BAD_FIELD);
}

/* t_b64: standard padded base64 of a C string. */
static int t_b64(char *out, size_t cap, size_t *out_len, const char *text)
{
	return net_b64_encode(out, cap, out_len, (const uint8_t *)text, strlen(text), NET_B64_STD, true);
}

/* --- Round trips and accepted spellings ------------------------------------ */

Test(node_token, round_trips_unicode_ipv6_and_full_lists)
{
	struct node_token t, got;
	char code[NODE_TOKEN_MAX_CODE_LEN + 1];
	t_base(&t);
	strcpy(t.mesh_name, "R\xc3\xb6"
	                    "b's \"mesh\" \\ \xe2\x98\x83 \xf0\x9f\x9a\x80");
	strcpy(t.endpoint, "");
	strcpy(t.public_endpoint, "[2001:db8::1]:65535");
	t.num_relay_urls = NODE_TOKEN_MAX_RELAYS;
	t.num_stun = NODE_TOKEN_MAX_STUN;
	for (size_t i = 0; i < NODE_TOKEN_MAX_RELAYS; i++) {
		memset(t.relay_urls[i], 'r', NODE_TOKEN_MAX_URL_LEN);
		memcpy(t.relay_urls[i], "wss://", 6);
		t.relay_urls[i][NODE_TOKEN_MAX_URL_LEN] = '\0';
	}
	for (size_t i = 0; i < NODE_TOKEN_MAX_STUN; i++) {
		/* 96-char host name in labels of 63 and 32, then ":3478" */
		memset(t.stun[i], 'a', 95);
		t.stun[i][63] = '.';
		strcpy(t.stun[i] + 95, ":3478");
		cr_assert_eq(strlen(t.stun[i]), NODE_TOKEN_MAX_HOSTPORT_LEN);
	}
	for (size_t i = 0; i < NODE_TOKEN_MAX_IPV6_ENDPOINTS; i++) {
		snprintf(t.ipv6_endpoints[i], sizeof t.ipv6_endpoints[i], "[2001:0db8:ffff:ffff:ffff:ffff:ffff:fff%zx]:65535", i);
		cr_assert_eq(strlen(t.ipv6_endpoints[i]), NODE_TOKEN_MAX_ENDPOINT_LEN);
	}
	t.num_ipv6_endpoints = NODE_TOKEN_MAX_IPV6_ENDPOINTS;
	for (size_t i = 0; i < NODE_TOKEN_MAX_RELAYS; i++)
		strcpy(t.relay_keys[i], "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
	t.num_relay_keys = NODE_TOKEN_MAX_RELAYS;
	memset(t.mesh_id, 'm', NODE_TOKEN_MAX_ID_LEN);
	memset(t.node_id, 'n', NODE_TOKEN_MAX_ID_LEN);
	t.expires_at = t.created_at + NODE_TOKEN_MAX_LIFETIME;
	size_t len = t_encode(code, &t);
	cr_log_info("largest code: %zu characters", len);
	cr_assert_leq(len, NODE_TOKEN_MAX_CODE_LEN, "the largest token fits the code limit");
	int rc = node_token_decode(&got, NULL, code, len, t.created_at);
	cr_assert_eq(rc, NODE_TOKEN_OK, "%s", node_token_strerror(rc));
	t_assert_same_fields(&got, &t);
}

/* t_respell re-encodes v_code's bytes in another base64 spelling. */
static void t_respell(char *out, size_t cap, bool url, bool pad, const char *before, const char *after)
{
	uint8_t raw[NODE_TOKEN_MAX_CODE_LEN];
	char text[NODE_TOKEN_MAX_CODE_LEN + 1];
	size_t raw_len, text_len;
	cr_assert_eq(EVP_DecodeBase64(raw, &raw_len, sizeof raw, (const uint8_t *)v_code, strlen(v_code)), 1);
	cr_assert_eq(EVP_EncodeBlock((uint8_t *)text, raw, raw_len) + 1 > 0, 1);
	text_len = strlen(text);
	if (url)
		for (size_t i = 0; i < text_len; i++)
			text[i] = text[i] == '+' ? '-' : text[i] == '/' ? '_' : text[i];
	if (!pad)
		while (text_len && text[text_len - 1] == '=')
			text[--text_len] = '\0';
	snprintf(out, cap, "%s%s%s", before, text, after);
}

Test(node_token, accepts_urlsafe_unpadded_and_surrounding_whitespace)
{
	const struct {
		bool url, pad;
		const char *before, *after;
	} forms[] = {
		{ false, true, "", "" },      { false, false, "", "" },     { true, true, "", "" },
		{ true, false, "", "" },      { false, true, "  ", "\n" }, { true, false, "\t\r\n", " \r\n" },
	};
	char code[NODE_TOKEN_MAX_CODE_LEN + 16];
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		struct node_token got;
		t_respell(code, sizeof code, forms[i].url, forms[i].pad, forms[i].before, forms[i].after);
		int rc = node_token_decode(&got, NULL, code, strlen(code), T_NOW);
		cr_assert_eq(rc, NODE_TOKEN_OK, "form %zu: %s", i, node_token_strerror(rc));
		cr_assert_arr_eq(got.mac, v_mac, 32);
	}
}

/* --- Refusals ---------------------------------------------------------------- */

Test(node_token, validity_period_edges)
{
	struct node_token t, got;
	char code[NODE_TOKEN_MAX_CODE_LEN + 1];
	t_base(&t);
	size_t len = t_encode(code, &t);
	cr_assert_eq(node_token_decode(&got, NULL, code, len, t.expires_at - 1), NODE_TOKEN_OK);
	cr_assert_eq(node_token_decode(&got, NULL, code, len, t.expires_at), NODE_TOKEN_E_EXPIRED);
	cr_assert_eq(node_token_decode(&got, NULL, code, len, UINT64_MAX), NODE_TOKEN_E_EXPIRED);
	cr_assert_eq(node_token_decode(&got, NULL, code, len, t.created_at - NODE_TOKEN_MAX_CLOCK_SKEW), NODE_TOKEN_OK,
	             "created within the allowed skew");
	cr_assert_eq(node_token_decode(&got, NULL, code, len, t.created_at - NODE_TOKEN_MAX_CLOCK_SKEW - 1),
	             NODE_TOKEN_E_NOT_YET_VALID);
	cr_assert_eq(node_token_decode(&got, NULL, code, len, 0), NODE_TOKEN_E_NOT_YET_VALID);
}

Test(node_token, refuses_oversized_input_before_decoding)
{
	static char big[NODE_TOKEN_MAX_CODE_LEN + 2];
	struct node_token got;
	memset(big, ' ', sizeof big - 1);
	/* Whitespace is trimmed only after the length check: the bound is on
	 * what was handed to us. */
	cr_assert_eq(node_token_decode(&got, NULL, big, NODE_TOKEN_MAX_CODE_LEN + 1, T_NOW), NODE_TOKEN_E_TOO_LONG);
	cr_assert_eq(node_token_decode(&got, NULL, big, NODE_TOKEN_MAX_CODE_LEN, T_NOW), NODE_TOKEN_E_BAD_BASE64);
}

/* Every proper prefix of a valid code is refused (as base64 or as JSON),
 * and a refusal never writes the output. (Dropping only the '=' padding
 * is not a truncation: padding is optional.) */
Test(node_token, every_proper_prefix_is_refused_without_writing)
{
	size_t len = strlen(v_code);
	while (v_code[len - 1] == '=')
		len--;
	for (size_t n = 0; n < len; n++) {
		struct node_token got, before;
		memset(&got, 0xa5, sizeof got);
		before = got;
		int rc = node_token_decode(&got, NULL, v_code, n, T_NOW);
		cr_assert(rc == NODE_TOKEN_E_BAD_BASE64 || rc == NODE_TOKEN_E_NOT_JSON, "prefix %zu: %s", n,
		          node_token_strerror(rc));
		cr_assert_arr_eq(&got, &before, sizeof got, "prefix %zu wrote the output", n);
	}
}

/* The code ends right before a PROT_NONE page: any read past it faults. */
Test(node_token, reads_nothing_past_the_input)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = strlen(v_code);
	uint8_t *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(map != MAP_FAILED);
	cr_assert_eq(mprotect(map + page, page, PROT_NONE), 0);
	char *code = (char *)map + page - len;
	memcpy(code, v_code, len);
	struct node_token got;
	cr_assert_eq(node_token_decode(&got, NULL, code, len, T_NOW), NODE_TOKEN_OK);
	for (size_t n = 0; n < len; n += 7)
		node_token_decode(&got, NULL, code + n, len - n, T_NOW);
	munmap(map, 2 * page);
}

Test(node_token, every_flipped_character_is_refused)
{
	size_t len = strlen(v_code);
	char code[NODE_TOKEN_MAX_CODE_LEN + 1];
	int counts[16] = { 0 };
	for (size_t i = 0; i < len; i++) {
		struct node_token got;
		memcpy(code, v_code, len + 1);
		code[i] = code[i] == 'A' ? 'B' : 'A';
		int rc = node_token_decode(&got, NULL, code, len, T_NOW);
		cr_assert_lt(rc, 0, "character %zu changed and accepted", i);
		counts[-rc]++;
	}
	cr_log_info("flips: %d base64, %d json, %d missing, %d bad field, %d unknown, %d mac", counts[2], counts[3],
	            counts[4], counts[5], counts[6], counts[8]);
	cr_assert_gt(counts[-NODE_TOKEN_E_BAD_MAC], 0);
}

/* Each file in tests/fuzz/corpus/token is named for what decoding it must
 * give at T_NOW: ok-* decode, bad-<status>-* fail with that status. Files
 * named json-* hold the JSON inside a code, as fuzz_token.c reads inputs
 * starting with '{'; the rest of their name says the same. */
static int t_status_named(const char *name)
{
	static const struct {
		const char *prefix;
		int status;
	} names[] = {
		{ "bad-too_long-", NODE_TOKEN_E_TOO_LONG },
		{ "bad-base64-", NODE_TOKEN_E_BAD_BASE64 },
		{ "bad-not_json-", NODE_TOKEN_E_NOT_JSON },
		{ "bad-missing_field-", NODE_TOKEN_E_MISSING_FIELD },
		{ "bad-bad_field-", NODE_TOKEN_E_BAD_FIELD },
		{ "bad-unknown_field-", NODE_TOKEN_E_UNKNOWN_FIELD },
		{ "bad-version-", NODE_TOKEN_E_VERSION },
		{ "bad-bad_mac-", NODE_TOKEN_E_BAD_MAC },
		{ "bad-expired-", NODE_TOKEN_E_EXPIRED },
		{ "bad-not_yet_valid-", NODE_TOKEN_E_NOT_YET_VALID },
		{ "ok-", NODE_TOKEN_OK },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strncmp(name, names[i].prefix, strlen(names[i].prefix)) == 0)
			return names[i].status;
	cr_assert_fail("corpus file %s: name says no status", name);
	return 1;
}

Test(node_token, corpus_files_get_the_status_their_name_says)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", __FILE__);
	char *slash = strrchr(dir, '/');
	cr_assert_not_null(slash, "__FILE__ is %s", __FILE__);
	snprintf(slash, sizeof dir - (size_t)(slash - dir), "/../fuzz/corpus/token");
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "cannot open %s", dir);
	int num_bad = 0, num_ok = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[PATH_MAX + 256];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		cr_assert_not_null(f, "%s", path);
		static char data[4 * NODE_TOKEN_MAX_CODE_LEN];
		size_t len = fread(data, 1, sizeof data, f);
		fclose(f);
		const char *name = e->d_name;
		static char wrapped[4 * NODE_TOKEN_MAX_CODE_LEN];
		if (strncmp(name, "json-", 5) == 0) {
			cr_assert_eq(data[0], '{', "%s", name);
			cr_assert_eq(net_b64_encode(wrapped, sizeof wrapped, &len, (const uint8_t *)data, len, NET_B64_STD,
			                            true),
			             NET_B64_OK);
			memcpy(data, wrapped, len);
			name += 5;
		}
		int want = t_status_named(name);
		struct node_token got;
		const char *field = NULL;
		int rc = node_token_decode(&got, &field, data, len, T_NOW);
		cr_assert_eq(rc, want, "%s: got %d (%s%s%s), want %d (%s)", e->d_name, rc, node_token_strerror(rc),
		             field ? ": " : "", field ? field : "", want, node_token_strerror(want));
		if (rc == NODE_TOKEN_E_MISSING_FIELD || rc == NODE_TOKEN_E_BAD_FIELD || rc == NODE_TOKEN_E_UNKNOWN_FIELD)
			cr_assert_not_null(field, "%s: no field named", e->d_name);
		want == NODE_TOKEN_OK ? num_ok++ : num_bad++;
	}
	closedir(d);
	cr_assert_geq(num_bad, 50, "only %d bad-* files in %s", num_bad, dir);
	cr_assert_geq(num_ok, 3, "only %d ok-* files in %s", num_ok, dir);
}

Test(node_token, names_the_missing_and_bad_fields)
{
	struct node_token got;
	const char *field = NULL;
	char code[256];
	size_t n;
	const char *json = "{\"v\":1,\"mesh_id\":\"m\",\"mesh_name\":\"x\",\"endpoint\":7}";
	cr_assert_eq(t_b64(code, sizeof code, &n, json), 0);
	cr_assert_eq(node_token_decode(&got, &field, code, n, T_NOW), NODE_TOKEN_E_BAD_FIELD);
	cr_assert_str_eq(field, "endpoint");
	json = "{\"v\":1,\"mesh_id\":\"m\",\"mesh_name\":\"x\",\"endpoint\":\"\"}";
	cr_assert_eq(t_b64(code, sizeof code, &n, json), 0);
	cr_assert_eq(node_token_decode(&got, &field, code, n, T_NOW), NODE_TOKEN_E_MISSING_FIELD);
	cr_assert_str_eq(field, "public_endpoint");
	json = "{\"v\":3}";
	field = NULL;
	cr_assert_eq(t_b64(code, sizeof code, &n, json), 0);
	cr_assert_eq(node_token_decode(&got, &field, code, n, T_NOW), NODE_TOKEN_E_VERSION);
	cr_assert_null(field, "a version error names no field");
}

Test(node_token, quotes_unknown_field_names_safely)
{
	struct node_token t, got;
	char code[NODE_TOKEN_MAX_CODE_LEN + 1];
	uint8_t raw[NODE_TOKEN_MAX_CODE_LEN];
	size_t raw_len, n;
	const char *field = NULL;
	t_base(&t);
	t_encode(code, &t);
	cr_assert_eq(EVP_DecodeBase64(raw, &raw_len, sizeof raw, (const uint8_t *)code, strlen(code)), 1);
	/* Splice a member with an escape sequence and a long name before '}'. */
	static const char extra[] = ",\"\\u001b[2Jxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\":0}";
	memcpy(raw + raw_len - 1, extra, sizeof extra - 1);
	raw_len += sizeof extra - 2;
	n = EVP_EncodeBlock((uint8_t *)code, raw, raw_len);
	cr_assert_eq(node_token_decode(&got, &field, code, n, T_NOW), NODE_TOKEN_E_UNKNOWN_FIELD);
	cr_assert_str_eq(field, "?[2Jxxxxxxxxxxxxxxxxxxxxxxxxxxxx...");
}

struct field_case {
	const char *name;
	void (*mutate)(struct node_token *t);
	const char *field;
};

/* CASE(fn, statement) defines a mutation of the vector's token. */
#define CASE(fn, body)                                                                                               \
	static void fn(struct node_token *t)                                                                          \
	{                                                                                                            \
		body;                                                                                                \
	}
CASE(m_id_empty, t->mesh_id[0] = '\0')
CASE(m_id_space, strcpy(t->mesh_id, "a b"))
CASE(m_id_unterminated, memset(t->mesh_id, 'a', sizeof t->mesh_id))
CASE(m_name_newline, strcpy(t->mesh_name, "a\nb"))
CASE(m_name_overlong_utf8, strcpy(t->mesh_name, "\xc0\xaf"))
CASE(m_name_surrogate, strcpy(t->mesh_name, "\xed\xa0\x80"))
CASE(m_name_truncated_utf8, strcpy(t->mesh_name, "ab\xe2\x98"))
CASE(m_name_above_unicode, strcpy(t->mesh_name, "\xf4\x90\x80\x80"))
CASE(m_name_del, strcpy(t->mesh_name, "a\x7f"))
CASE(m_name_rlo, strcpy(t->mesh_name, "a\xe2\x80\xae"))
CASE(m_endpoint_zone, strcpy(t->endpoint, "[fe80::1%eth0]:7777"))
CASE(m_endpoint_leading_zero_port, strcpy(t->endpoint, "10.0.0.1:07777"))
CASE(m_endpoint_bad_v4, strcpy(t->endpoint, "10.0.0.256:7777"))
CASE(m_endpoint_two_colons, strcpy(t->endpoint, "10.0.0.1:77:77"))
CASE(m_public_brackets_only, strcpy(t->public_endpoint, "[]:1"))
CASE(m_public_no_colon_after_bracket, strcpy(t->public_endpoint, "[::1]7777"))
CASE(m_relays_too_many, t->num_relay_urls = NODE_TOKEN_MAX_RELAYS + 1)
CASE(m_relay_no_host, strcpy(t->relay_urls[0], "ws:///path"))
CASE(m_relay_quote, strcpy(t->relay_urls[0], "ws://a\"b"))
CASE(m_relay_bare_scheme, strcpy(t->relay_urls[0], "wss://"))
CASE(m_stun_too_many, t->num_stun = NODE_TOKEN_MAX_STUN + 1)
CASE(m_stun_label_dash_end, strcpy(t->stun[0], "stun-.example.org:3478"))
CASE(m_stun_empty_label, strcpy(t->stun[0], "stun..example.org:3478"))
CASE(m_stun_underscore, strcpy(t->stun[0], "stun_1.example.org:3478"))
CASE(m_created_after_max, t->created_at = NODE_TOKEN_MAX_TIME + 1)
CASE(m_expires_equal, t->expires_at = t->created_at)
CASE(m_lifetime, t->expires_at = t->created_at + NODE_TOKEN_MAX_LIFETIME + 1)
CASE(m_node_id_slash, strcpy(t->node_id, "a/b"))
CASE(m_node_pub_zero, memset(t->node_pub, 0, 32))
CASE(m_invite_zero, memset(t->invite_id, 0, 16))
CASE(m_nowhere, (t->endpoint[0] = '\0', t->public_endpoint[0] = '\0', t->num_relay_urls = 0))
#undef CASE

Test(node_token, encode_refuses_what_decode_would_and_names_the_field)
{
	static const struct field_case cases[] = {
		{ "empty mesh id", m_id_empty, "mesh_id" },
		{ "space in mesh id", m_id_space, "mesh_id" },
		{ "unterminated mesh id", m_id_unterminated, "mesh_id" },
		{ "newline in name", m_name_newline, "mesh_name" },
		{ "overlong UTF-8", m_name_overlong_utf8, "mesh_name" },
		{ "surrogate", m_name_surrogate, "mesh_name" },
		{ "truncated UTF-8", m_name_truncated_utf8, "mesh_name" },
		{ "above U+10FFFF", m_name_above_unicode, "mesh_name" },
		{ "DEL", m_name_del, "mesh_name" },
		{ "right-to-left override", m_name_rlo, "mesh_name" },
		{ "zone id", m_endpoint_zone, "endpoint" },
		{ "leading zero port", m_endpoint_leading_zero_port, "endpoint" },
		{ "octet 256", m_endpoint_bad_v4, "endpoint" },
		{ "two colons", m_endpoint_two_colons, "endpoint" },
		{ "empty brackets", m_public_brackets_only, "public_endpoint" },
		{ "no colon after bracket", m_public_no_colon_after_bracket, "public_endpoint" },
		{ "five relays", m_relays_too_many, "relay_urls" },
		{ "relay without host", m_relay_no_host, "relay_urls" },
		{ "quote in relay", m_relay_quote, "relay_urls" },
		{ "bare scheme", m_relay_bare_scheme, "relay_urls" },
		{ "nine STUN servers", m_stun_too_many, "stun" },
		{ "label ends with dash", m_stun_label_dash_end, "stun" },
		{ "empty label", m_stun_empty_label, "stun" },
		{ "underscore", m_stun_underscore, "stun" },
		{ "created after 9999", m_created_after_max, "created_at" },
		{ "zero lifetime", m_expires_equal, "expires_at" },
		{ "lifetime over 30 days", m_lifetime, "expires_at" },
		{ "slash in node id", m_node_id_slash, "node_id" },
		{ "zero node key", m_node_pub_zero, "node_pub" },
		{ "zero invite id", m_invite_zero, "invite_id" },
		{ "nowhere to connect", m_nowhere, "endpoint" },
	};
	uint8_t secret[32];
	t_secret(secret);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct node_token t;
		char code[NODE_TOKEN_MAX_CODE_LEN + 1], short_code[NODE_TOKEN_SHORT_CODE_LEN + 1];
		const char *field = NULL;
		size_t len;
		t_base(&t);
		cases[i].mutate(&t);
		int rc = node_token_encode(code, sizeof code, &len, &t, &field, secret);
		cr_assert_eq(rc, NODE_TOKEN_E_BAD_FIELD, "%s: %s", cases[i].name, node_token_strerror(rc));
		cr_assert_str_eq(field, cases[i].field, "%s", cases[i].name);
		field = NULL;
		cr_assert_eq(node_token_short_code(short_code, &field, &t), NODE_TOKEN_E_BAD_FIELD, "%s", cases[i].name);
		cr_assert_str_eq(field, cases[i].field, "%s", cases[i].name);
	}
}

Test(node_token, encode_reports_a_small_buffer)
{
	struct node_token t;
	uint8_t secret[32];
	char code[NODE_TOKEN_MAX_CODE_LEN + 1];
	size_t len;
	t_base(&t);
	t_secret(secret);
	cr_assert_eq(node_token_encode(code, strlen(v_code), &len, &t, NULL, secret), NODE_TOKEN_E_NO_ROOM,
	             "no room for the NUL");
	cr_assert_eq(node_token_encode(code, strlen(v_code) + 1, &len, &t, NULL, secret), NODE_TOKEN_OK);
}

/* --- Short codes ----------------------------------------------------------------- */

Test(node_token, short_code_shape_and_sensitivity)
{
	struct node_token t;
	char code[NODE_TOKEN_MAX_CODE_LEN + 1], a[NODE_TOKEN_SHORT_CODE_LEN + 1], b[NODE_TOKEN_SHORT_CODE_LEN + 1];
	t_base(&t);
	t_encode(code, &t);
	cr_assert_eq(node_token_short_code(a, NULL, &t), NODE_TOKEN_OK);
	cr_assert_eq(strlen(a), NODE_TOKEN_SHORT_CODE_LEN);
	cr_assert_eq(strncmp(a, "MESH-", 5), 0);
	for (size_t i = 5; i < NODE_TOKEN_SHORT_CODE_LEN; i++) {
		if (i == 9 || i == 14)
			cr_assert_eq(a[i], '-');
		else
			cr_assert_not_null(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", a[i]), "symbol %c", a[i]);
	}
	/* Any change to the code, here the issuer's key or the mac, changes it. */
	t.node_pub[31] ^= 1;
	cr_assert_eq(node_token_short_code(b, NULL, &t), NODE_TOKEN_OK);
	cr_assert_str_neq(a, b);
	t.node_pub[31] ^= 1;
	t.mac[0] ^= 1;
	cr_assert_eq(node_token_short_code(b, NULL, &t), NODE_TOKEN_OK);
	cr_assert_str_neq(a, b);
}

/* --- A whole join ----------------------------------------------------------------- */

struct t_join {
	struct node_e2e_keypair issuer, joiner;
	struct node_e2e_handshake hi, hr;
	struct node_e2e_session si, sr;
	uint8_t init[NODE_E2E_INIT_LEN], resp[NODE_E2E_RESPONSE_LEN];
};

/* t_join_start: the issuer (node key 0x01..) prints a code, the joiner
 * decodes it and initiates to node_pub with its claim. */
static void t_join_start(struct t_join *j, struct node_token *got, uint8_t claim[NODE_TOKEN_CLAIM_LEN])
{
	struct node_token t;
	char code[NODE_TOKEN_MAX_CODE_LEN + 1];
	uint8_t priv[32], eph[32], ts[12];
	t_fill(priv, sizeof priv, 0x01);
	node_e2e_keypair_init(&j->issuer, priv);
	RAND_bytes(priv, sizeof priv);
	node_e2e_keypair_init(&j->joiner, priv);
	t_base(&t);
	size_t len = t_encode(code, &t);
	cr_assert_eq(node_token_decode(got, NULL, code, len, T_NOW), NODE_TOKEN_OK);
	cr_assert_arr_eq(got->node_pub, j->issuer.pub, 32, "the code names the issuer's key");
	node_token_claim(claim, got);
	RAND_bytes(eph, sizeof eph);
	node_e2e_tai64n(ts, T_NOW, 0);
	cr_assert_eq(node_e2e_init_create(&j->hi, j->init, &j->joiner, got->node_pub, eph, 1, ts, claim), NODE_E2E_OK);
}

/* t_join_answer: the issuer takes the claim from the initiation, derives the
 * PSK from its join secret and answers. */
static int t_join_answer(struct t_join *j, uint64_t now)
{
	struct node_e2e_init_info info;
	uint8_t secret[32], psk[32], eph[32];
	t_secret(secret);
	cr_assert_eq(node_e2e_init_consume(&j->hr, &info, &j->issuer, j->init, sizeof j->init), NODE_E2E_OK);
	cr_assert_arr_eq(info.remote_static, j->joiner.pub, 32, "the mesh learns the joiner's key");
	int rc = node_token_claim_psk(psk, info.app, secret, "mesh-abc123", now);
	if (rc != NODE_TOKEN_OK)
		return rc;
	RAND_bytes(eph, sizeof eph);
	cr_assert_eq(node_e2e_response_create(&j->hr, j->resp, &j->sr, psk, eph, 2, 0), NODE_E2E_OK);
	return NODE_TOKEN_OK;
}

Test(node_token, a_joiner_with_the_code_completes_the_handshake)
{
	struct t_join j;
	struct node_token got;
	uint8_t claim[NODE_TOKEN_CLAIM_LEN], psk[32], pkt[64], plain[64];
	size_t n, m;
	t_join_start(&j, &got, claim);
	cr_assert_eq(t_join_answer(&j, T_NOW), NODE_TOKEN_OK);
	cr_assert_eq(node_token_join_psk(psk, got.invite_key), NODE_TOKEN_OK);
	cr_assert_eq(node_e2e_response_consume(&j.hi, &j.si, j.resp, sizeof j.resp, psk, 0), NODE_E2E_OK);
	/* The joiner's first packet proves the key to the issuer. */
	cr_assert_eq(node_e2e_encrypt(&j.si, pkt, sizeof pkt, &n, (const uint8_t *)"hi", 2, 0), NODE_E2E_OK);
	cr_assert_not(j.sr.confirmed);
	cr_assert_eq(node_e2e_decrypt(&j.sr, plain, sizeof plain, &m, pkt, n, 0), NODE_E2E_OK);
	cr_assert(j.sr.confirmed, "joiner admitted");
}

Test(node_token, a_joiner_with_a_wrong_key_or_edited_dates_fails)
{
	struct t_join j;
	struct node_token got;
	uint8_t claim[NODE_TOKEN_CLAIM_LEN], psk[32];
	/* Same claim, guessed key: the PSKs differ. */
	t_join_start(&j, &got, claim);
	cr_assert_eq(t_join_answer(&j, T_NOW), NODE_TOKEN_OK);
	got.invite_key[0] ^= 1;
	node_token_join_psk(psk, got.invite_key);
	cr_assert_eq(node_e2e_response_consume(&j.hi, &j.si, j.resp, sizeof j.resp, psk, 0), NODE_E2E_E_AUTH);

	/* The real key, but a claim with a later expiry: the mesh derives
	 * another key from it, so the handshake fails. */
	t_join_start(&j, &got, claim);
	claim[31] += 1;
	uint8_t eph[32], ts[12] = { 0 };
	RAND_bytes(eph, sizeof eph);
	cr_assert_eq(node_e2e_init_create(&j.hi, j.init, &j.joiner, got.node_pub, eph, 1, ts, claim), NODE_E2E_OK);
	cr_assert_eq(t_join_answer(&j, T_NOW), NODE_TOKEN_OK);
	node_token_join_psk(psk, got.invite_key);
	cr_assert_eq(node_e2e_response_consume(&j.hi, &j.si, j.resp, sizeof j.resp, psk, 0), NODE_E2E_E_AUTH);
}

Test(node_token, the_mesh_refuses_expired_and_impossible_claims)
{
	struct t_join j;
	struct node_token got;
	uint8_t claim[NODE_TOKEN_CLAIM_LEN], secret[32], psk[32];
	t_join_start(&j, &got, claim);
	cr_assert_eq(t_join_answer(&j, got.expires_at), NODE_TOKEN_E_EXPIRED);
	t_secret(secret);
	memset(psk, 0xee, sizeof psk);
	cr_assert_eq(node_token_claim_psk(psk, claim, secret, "mesh-abc123", got.created_at - 301),
	             NODE_TOKEN_E_NOT_YET_VALID);
	for (size_t i = 0; i < 32; i++)
		cr_assert_eq(psk[i], 0, "psk wiped on refusal");
	memset(claim, 0, 16);
	cr_assert_eq(node_token_claim_psk(psk, claim, secret, "mesh-abc123", T_NOW), NODE_TOKEN_E_BAD_FIELD,
	             "zero invite id");
	node_token_claim(claim, &got);
	memset(claim + 24, 0xff, 8);
	cr_assert_eq(node_token_claim_psk(psk, claim, secret, "mesh-abc123", T_NOW), NODE_TOKEN_E_BAD_FIELD,
	             "lifetime beyond the limit");
}

/* --- Misc ---------------------------------------------------------------------------- */

Test(node_token, cleanup_wipes_the_invite_key)
{
	struct node_token t;
	static const struct node_token zero;
	char code[NODE_TOKEN_MAX_CODE_LEN + 1];
	t_base(&t);
	t_encode(code, &t);
	node_token_cleanup(&t);
	cr_assert_arr_eq(&t, &zero, sizeof t);
}

Test(node_token, strerror_names_every_status)
{
	for (int s = NODE_TOKEN_E_INTERNAL; s <= NODE_TOKEN_OK; s++)
		cr_assert_str_neq(node_token_strerror(s), "unknown join code status", "status %d", s);
	cr_assert_str_eq(node_token_strerror(-99), "unknown join code status");
}

/* relay_keys, the optional member for mesh-token relays: a code with it
 * round-trips, covers the keys with its mac (an edited key is refused) and
 * gets its own short code; a code without it is the one it always was (the
 * vector above); a member of the wrong length, of empty keys only, or with
 * a key that is not one is refused, naming relay_keys. */
Test(node_token, relay_keys_optional_member)
{
	static const char key[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
	struct node_token t, got;
	char code[NODE_TOKEN_MAX_CODE_LEN + 1], plain_short[NODE_TOKEN_SHORT_CODE_LEN + 1],
		keyed_short[NODE_TOKEN_SHORT_CODE_LEN + 1];
	const char *field = NULL;
	t_base(&t);
	cr_assert_eq(node_token_short_code(plain_short, &field, &t), NODE_TOKEN_OK);
	strcpy(t.relay_urls[1], "wss://relay2.example:443");
	t.num_relay_urls = 2;
	strcpy(t.relay_keys[1], key); /* the first relay is open: "" */
	t.num_relay_keys = 2;
	size_t len = t_encode(code, &t);
	cr_assert_eq(node_token_decode(&got, &field, code, len, 1234567890), NODE_TOKEN_OK, "%s", field ? field : "");
	t_assert_same_fields(&t, &got);
	cr_assert_eq(got.num_relay_keys, 2);
	cr_assert_str_eq(got.relay_keys[0], "");
	cr_assert_str_eq(got.relay_keys[1], key);
	cr_assert_eq(node_token_short_code(keyed_short, &field, &t), NODE_TOKEN_OK);
	cr_assert_str_neq(keyed_short, plain_short);

	/* The key is under the mac: change one symbol of it in the JSON. */
	uint8_t raw[NODE_TOKEN_MAX_CODE_LEN];
	size_t raw_len = 0;
	char json[NODE_TOKEN_MAX_CODE_LEN], edited[NODE_TOKEN_MAX_CODE_LEN + 1];
	cr_assert_eq(net_b64_decode(raw, sizeof raw, &raw_len, code, len), NET_B64_OK);
	memcpy(json, raw, raw_len);
	json[raw_len] = 0;
	char *k = strstr(json, key);
	cr_assert_not_null(k, "no key in %s", json);
	k[5] = k[5] == 'A' ? 'B' : 'A';
	size_t el = 0;
	cr_assert_eq(net_b64_encode(edited, sizeof edited, &el, (const uint8_t *)json, raw_len, NET_B64_STD, true), NET_B64_OK);
	cr_assert_eq(node_token_decode(&got, &field, edited, el, 1234567890), NODE_TOKEN_E_BAD_MAC);

	/* Refused shapes, by encode (and so never issued). */
	struct node_token bad = t;
	bad.num_relay_keys = 1;
	cr_assert_eq(node_token_encode(code, sizeof code, &len, &bad, &field, (uint8_t[32]){1}), NODE_TOKEN_E_BAD_FIELD);
	cr_assert_str_eq(field, "relay_keys");
	bad = t;
	bad.relay_keys[1][0] = 0;
	cr_assert_eq(node_token_encode(code, sizeof code, &len, &bad, &field, (uint8_t[32]){1}), NODE_TOKEN_E_BAD_FIELD);
	cr_assert_str_eq(field, "relay_keys");
	bad = t;
	strcpy(bad.relay_keys[0], "not-a-key");
	cr_assert_eq(node_token_encode(code, sizeof code, &len, &bad, &field, (uint8_t[32]){1}), NODE_TOKEN_E_BAD_FIELD);
	cr_assert_str_eq(field, "relay_keys");

	/* And by decode: a member of another length than relay_urls. */
	char *rk = strstr(json, "\"relay_keys\":[\"\",");
	cr_assert_not_null(rk, "%s", json);
	memmove(rk + 14, rk + 17, strlen(rk + 17) + 1); /* drop the first, empty, key */
	cr_assert_eq(net_b64_encode(edited, sizeof edited, &el, (const uint8_t *)json, strlen(json), NET_B64_STD, true),
		     NET_B64_OK);
	cr_assert_eq(node_token_decode(&got, &field, edited, el, 1234567890), NODE_TOKEN_E_BAD_FIELD);
	cr_assert_str_eq(field, "relay_keys");
	node_token_cleanup(&t);
}

/* ipv6_endpoints, the optional member for the IPv6 underlay: a code with it
 * round-trips and covers the endpoints with its mac (edited or dropped, the
 * code is refused) and gets its own short code; a code without it is the
 * one it always was (the vector above, byte for byte); a code whose only
 * way to the issuer is IPv6 is valid; an empty member, an IPv4, IPv4-mapped
 * or unbracketed endpoint, or one too many are refused, naming the member. */
Test(node_token, ipv6_endpoints_optional_member)
{
	struct node_token t, got;
	char code[NODE_TOKEN_MAX_CODE_LEN + 1], plain_short[NODE_TOKEN_SHORT_CODE_LEN + 1],
		v6_short[NODE_TOKEN_SHORT_CODE_LEN + 1];
	const char *field = NULL;
	t_base(&t);
	cr_assert_eq(node_token_short_code(plain_short, &field, &t), NODE_TOKEN_OK);
	strcpy(t.ipv6_endpoints[0], "[2001:db8:1::2]:7777");
	strcpy(t.ipv6_endpoints[1], "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	t.num_ipv6_endpoints = 2;
	size_t len = t_encode(code, &t);
	cr_assert_eq(node_token_decode(&got, &field, code, len, 1234567890), NODE_TOKEN_OK, "%s", field ? field : "");
	t_assert_same_fields(&t, &got);
	cr_assert_eq(got.num_ipv6_endpoints, 2);
	cr_assert_str_eq(got.ipv6_endpoints[0], "[2001:db8:1::2]:7777");
	cr_assert_str_eq(got.ipv6_endpoints[1], "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	cr_assert_eq(node_token_short_code(v6_short, &field, &t), NODE_TOKEN_OK);
	cr_assert_str_neq(v6_short, plain_short);

	/* The old vector decodes with no IPv6 endpoint. */
	cr_assert_eq(node_token_decode(&got, NULL, v_code, strlen(v_code), T_NOW), NODE_TOKEN_OK);
	cr_assert_eq(got.num_ipv6_endpoints, 0);

	/* Under the mac: edit one hex digit of an endpoint in the JSON. */
	uint8_t raw[NODE_TOKEN_MAX_CODE_LEN];
	size_t raw_len = 0, el = 0;
	char json[NODE_TOKEN_MAX_CODE_LEN], edited[NODE_TOKEN_MAX_CODE_LEN + 1];
	cr_assert_eq(net_b64_decode(raw, sizeof raw, &raw_len, code, len), NET_B64_OK);
	memcpy(json, raw, raw_len);
	json[raw_len] = 0;
	char *e = strstr(json, "2001:db8:1::2");
	cr_assert_not_null(e, "no endpoint in %s", json);
	e[9] = '3';
	cr_assert_eq(net_b64_encode(edited, sizeof edited, &el, (const uint8_t *)json, raw_len, NET_B64_STD, true),
		     NET_B64_OK);
	cr_assert_eq(node_token_decode(&got, &field, edited, el, 1234567890), NODE_TOKEN_E_BAD_MAC);
	e[9] = '1';

	/* An empty member is refused by decode (encode never writes one). */
	char *m = strstr(json, "\"ipv6_endpoints\":[");
	cr_assert_not_null(m, "%s", json);
	char *close = strstr(m, "\"]"); /* the array's end; "]:" ends an address */
	cr_assert_not_null(close, "%s", json);
	memmove(m + 18, close + 1, strlen(close + 1) + 1);
	cr_assert_eq(net_b64_encode(edited, sizeof edited, &el, (const uint8_t *)json, strlen(json), NET_B64_STD, true),
		     NET_B64_OK);
	cr_assert_eq(node_token_decode(&got, &field, edited, el, 1234567890), NODE_TOKEN_E_BAD_FIELD);
	cr_assert_str_eq(field, "ipv6_endpoints");

	/* IPv6 alone is a way to reach the issuer. */
	struct node_token only = t;
	only.endpoint[0] = only.public_endpoint[0] = 0;
	only.num_relay_urls = 0;
	len = t_encode(code, &only);
	cr_assert_eq(node_token_decode(&got, &field, code, len, 1234567890), NODE_TOKEN_OK);

	/* Refused shapes, by encode. */
	static const char *const bad_eps[] = { "192.0.2.1:7777", "2001:db8::1:7777", "[::ffff:192.0.2.1]:7777",
		                               "[2001:db8::1]", "[2001:db8::1]:0", "", "[fe80::1%eth0]:7777" };
	for (size_t i = 0; i < sizeof bad_eps / sizeof bad_eps[0]; i++) {
		struct node_token bad = t;
		strcpy(bad.ipv6_endpoints[0], bad_eps[i]);
		field = NULL;
		cr_assert_eq(node_token_encode(code, sizeof code, &len, &bad, &field, (uint8_t[32]){ 1 }),
			     NODE_TOKEN_E_BAD_FIELD, "'%s' accepted", bad_eps[i]);
		cr_assert_str_eq(field, "ipv6_endpoints", "'%s'", bad_eps[i]);
	}
	struct node_token many = t;
	many.num_ipv6_endpoints = NODE_TOKEN_MAX_IPV6_ENDPOINTS + 1;
	for (size_t i = 0; i < many.num_ipv6_endpoints && i < NODE_TOKEN_MAX_IPV6_ENDPOINTS; i++)
		strcpy(many.ipv6_endpoints[i], "[2001:db8::1]:1");
	cr_assert_eq(node_token_encode(code, sizeof code, &len, &many, &field, (uint8_t[32]){ 1 }), NODE_TOKEN_E_BAD_FIELD);
	cr_assert_str_eq(field, "ipv6_endpoints");
	node_token_cleanup(&t);
}
