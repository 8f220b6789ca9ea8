/* Tests for net/b64.h: RFC 4648 §10 vectors, both alphabets, padding
 * rules, canonical encodings, every byte value, and buffer bounds. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "net/b64.h"
#include "net/bssl.h"

struct b64_case {
	const char *plain;
	const char *padded;
	const char *bare;
};

/* RFC 4648 §10. */
static const struct b64_case rfc4648[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

Test(net_b64, encodes_rfc4648_vectors)
{
	for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
		const struct b64_case *c = &rfc4648[i];
		char out[16];
		size_t n = 99;
		size_t len = strlen(c->plain);
		cr_assert_eq(net_b64_encode(out, sizeof out, &n, (const uint8_t *)c->plain, len, NET_B64_STD, true),
		             NET_B64_OK);
		cr_assert_str_eq(out, c->padded);
		cr_assert_eq(n, strlen(c->padded));
		cr_assert_eq(net_b64_encoded_len(len, true), strlen(c->padded));
		cr_assert_eq(net_b64_encode(out, sizeof out, &n, (const uint8_t *)c->plain, len, NET_B64_URL, false),
		             NET_B64_OK);
		cr_assert_str_eq(out, c->bare);
		cr_assert_eq(net_b64_encoded_len(len, false), strlen(c->bare));
	}
}

Test(net_b64, decodes_rfc4648_vectors_padded_and_bare)
{
	for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
		const struct b64_case *c = &rfc4648[i];
		const char *forms[] = { c->padded, c->bare };
		for (int f = 0; f < 2; f++) {
			uint8_t out[16];
			size_t n = 99;
			cr_assert_eq(net_b64_decode(out, sizeof out, &n, forms[f], strlen(forms[f])), NET_B64_OK, "%s",
			             forms[f]);
			cr_assert_eq(n, strlen(c->plain), "%s", forms[f]);
			cr_assert_arr_eq(out, c->plain, n, "%s", forms[f]);
			cr_assert_leq(n, net_b64_decoded_max(strlen(forms[f])));
		}
	}
}

Test(net_b64, both_alphabets_for_62_and_63)
{
	const uint8_t bytes[] = { 0xfb, 0xff, 0xbf };
	char out[8];
	size_t n;
	uint8_t back[8];
	cr_assert_eq(net_b64_encode(out, sizeof out, &n, bytes, 3, NET_B64_STD, true), NET_B64_OK);
	cr_assert_str_eq(out, "+/+/");
	cr_assert_eq(net_b64_encode(out, sizeof out, &n, bytes, 3, NET_B64_URL, true), NET_B64_OK);
	cr_assert_str_eq(out, "-_-_");
	const char *forms[] = { "+/+/", "-_-_", "+_-/" };
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(net_b64_decode(back, sizeof back, &n, forms[i], 4), NET_B64_OK, "%s", forms[i]);
		cr_assert_eq(n, 3);
		cr_assert_arr_eq(back, bytes, 3);
	}
}

Test(net_b64, every_byte_value_round_trips)
{
	uint8_t all[256], back[256];
	char text[400];
	size_t n, m;
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	for (size_t len = 0; len <= 256; len += 1) {
		for (int alpha = 0; alpha < 2; alpha++) {
			for (int pad = 0; pad < 2; pad++) {
				cr_assert_eq(net_b64_encode(text, sizeof text, &n, all + 256 - len, len,
				                            alpha ? NET_B64_URL : NET_B64_STD, pad),
				             NET_B64_OK);
				cr_assert_eq(net_b64_decode(back, sizeof back, &m, text, n), NET_B64_OK, "len %zu %s", len,
				             text);
				cr_assert_eq(m, len);
				cr_assert_arr_eq(back, all + 256 - len, len);
			}
		}
	}
}

/* Every character outside both alphabets, at every position of a quantum. */
Test(net_b64, rejects_every_foreign_character)
{
	for (int ch = 0; ch < 256; ch++) {
		bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' ||
		          ch == '/' || ch == '-' || ch == '_';
		if (ok)
			continue;
		for (int pos = 0; pos < 4; pos++) {
			char in[9] = "QUJDQUJD";
			uint8_t out[8];
			size_t n = 77;
			in[4 + pos] = (char)ch;
			int rc = net_b64_decode(out, sizeof out, &n, in, 8);
			cr_assert_eq(rc, NET_B64_E_INVALID, "char 0x%02x at %d", ch, pos);
			cr_assert_eq(n, 77, "failed decode wrote *out_len");
		}
	}
}

struct bad_case {
	const char *name;
	const char *text;
};

Test(net_b64, rejects_bad_padding_lengths_and_noncanonical)
{
	static const struct bad_case bad[] = {
		{ "one symbol", "Q" },
		{ "five symbols", "QUJDQ" },
		{ "one pad short", "QQ=" },
		{ "pad after full quantum", "QUJD=" },
		{ "three pads", "Q===" },
		{ "only pads", "==" },
		{ "pad in the middle", "QQ==QUJD" },
		{ "pad then symbol", "QQ=A" },
		{ "noncanonical 1 byte", "QR==" },
		{ "noncanonical 1 byte bare", "QR" },
		{ "noncanonical 2 bytes", "QUJ=" },
		{ "noncanonical 2 bytes bare", "QUJ" },
		{ "space", "QU JD" },
		{ "newline", "QUJD\n" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t out[16];
		size_t n = 77;
		int rc = net_b64_decode(out, sizeof out, &n, bad[i].text, strlen(bad[i].text));
		cr_assert_eq(rc, NET_B64_E_INVALID, "%s (%s): %d", bad[i].name, bad[i].text, rc);
		cr_assert_eq(n, 77);
	}
}

Test(net_b64, respects_output_capacity)
{
	char text[8];
	uint8_t out[3];
	size_t n = 77;
	/* Encoding needs room for the NUL too. */
	cr_assert_eq(net_b64_encode(text, 4, &n, (const uint8_t *)"abc", 3, NET_B64_STD, true), NET_B64_E_NO_ROOM);
	cr_assert_eq(net_b64_encode(text, 5, &n, (const uint8_t *)"abc", 3, NET_B64_STD, true), NET_B64_OK);
	cr_assert_eq(net_b64_decode(out, 2, &n, "YWJj", 4), NET_B64_E_NO_ROOM);
	cr_assert_eq(net_b64_decode(out, 3, &n, "YWJj", 4), NET_B64_OK);
	cr_assert_arr_eq(out, "abc", 3);
}

Test(net_b64, failed_decode_wipes_partial_output)
{
	uint8_t out[8];
	size_t n;
	memset(out, 0xee, sizeof out);
	cr_assert_eq(net_b64_decode(out, sizeof out, &n, "QUJDQUJ*", 8), NET_B64_E_INVALID);
	for (size_t i = 0; i < 6; i++)
		cr_assert_eq(out[i], 0, "byte %zu of a failed decode left in place", i);
}
