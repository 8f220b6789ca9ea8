/* relay/utf8: the incremental validator against Markus Kuhn's UTF-8 stress
 * test (https://www.cl.cam.ac.uk/~mgk25/ucs/examples/UTF-8-test.txt, section
 * numbers below), against a textbook decoder over every sequence of up to
 * three bytes, and fed in every split. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "relay/utf8.h"

/* Parameters are copied into each test's process, which need not map this
 * binary at the same address: cases hold their bytes, not pointers. */
struct utf8_case {
	char name[40];
	char bytes[40];
	size_t len;
	int want;       /* relay_utf8_validate's verdict */
	int fail_at;    /* for E_INVALID: index of the first byte that no valid
			   text could have; -1 otherwise */
};

#define BYTES(s) s, sizeof(s) - 1
#define OK(name, s) { name, BYTES(s), RELAY_UTF8_OK, -1 }
#define BAD(name, s, at) { name, BYTES(s), RELAY_UTF8_E_INVALID, at }
#define CUT(name, s) { name, BYTES(s), RELAY_UTF8_E_TRUNCATED, -1 }

static struct utf8_case cases[] = {
	/* 1: some correct text. */
	OK("1 kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"),
	OK("empty", ""),
	OK("ascii json", "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}"),
	/* 2.1: first code point of each length. */
	OK("2.1.1 U+0000", "\x00"),
	OK("2.1.2 U+0080", "\xc2\x80"),
	OK("2.1.3 U+0800", "\xe0\xa0\x80"),
	OK("2.1.4 U+10000", "\xf0\x90\x80\x80"),
	/* 2.2: last code point of each length (RFC 3629 stops at U+10FFFF). */
	OK("2.2.1 U+007F", "\x7f"),
	OK("2.2.2 U+07FF", "\xdf\xbf"),
	OK("2.2.3 U+FFFF", "\xef\xbf\xbf"),
	OK("2.2.4 U+10FFFF", "\xf4\x8f\xbf\xbf"),
	/* 2.3: other boundaries. */
	OK("2.3.1 U+D7FF", "\xed\x9f\xbf"),
	OK("2.3.2 U+E000", "\xee\x80\x80"),
	OK("2.3.3 U+FFFD", "\xef\xbf\xbd"),
	OK("2.3.5 U+10FFFF", "\xf4\x8f\xbf\xbf"),
	/* 5.3: noncharacters are valid UTF-8. */
	OK("5.3.1 U+FFFE", "\xef\xbf\xbe"),
	OK("5.3.4 U+1FFFF", "\xf0\x9f\xbf\xbf"),
	/* 3.1: unexpected continuation bytes. */
	BAD("3.1.1 first continuation", "\x80", 0),
	BAD("3.1.2 last continuation", "\xbf", 0),
	BAD("3.1.3 two continuations", "\x80\xbf", 0),
	BAD("3.1.x continuation after char", "a\xc2\x80\x80", 3),
	/* 3.2: lonely start bytes followed by a space. */
	BAD("3.2.1 2-byte lead, space", "\xc2\x20", 1),
	BAD("3.2.2 3-byte lead, space", "\xe1\x20", 1),
	BAD("3.2.3 4-byte lead, space", "\xf1\x20", 1),
	BAD("3.2.4 5-byte lead", "\xf8\x20", 0),
	BAD("3.2.5 6-byte lead", "\xfc\x20", 0),
	/* 3.3: sequences with the last continuation byte missing. In the middle
	 * of text they are invalid; at the end of a message, truncated. */
	BAD("3.3.1 2-byte cut, then text", "\xc2" "a", 1),
	BAD("3.3.2 3-byte cut, then text", "\xe0\xa0" "a", 2),
	BAD("3.3.3 4-byte cut, then text", "\xf0\x90\x80" "a", 3),
	CUT("3.3.6 2-byte cut at end", "\xdf"),
	CUT("3.3.7 3-byte cut at end", "\xef\xbf"),
	CUT("3.3.8 4-byte cut at end", "\xf4\x8f\xbf"),
	CUT("3.3 lead only at end", "ok \xf0"),
	/* 3.5: bytes that never appear. */
	BAD("3.5.1 fe", "\xfe", 0),
	BAD("3.5.2 ff", "\xff", 0),
	BAD("3.5.3 fe fe ff ff", "\xfe\xfe\xff\xff", 0),
	/* 4.1: overlong "/". */
	BAD("4.1.1 overlong / 2", "\xc0\xaf", 0),
	BAD("4.1.2 overlong / 3", "\xe0\x80\xaf", 1),
	BAD("4.1.3 overlong / 4", "\xf0\x80\x80\xaf", 1),
	BAD("4.1.4 overlong / 5", "\xf8\x80\x80\x80\xaf", 0),
	BAD("4.1.5 overlong / 6", "\xfc\x80\x80\x80\x80\xaf", 0),
	/* 4.2: largest overlong of each length. */
	BAD("4.2.1 U+007F as 2", "\xc1\xbf", 0),
	BAD("4.2.2 U+07FF as 3", "\xe0\x9f\xbf", 1),
	BAD("4.2.3 U+FFFF as 4", "\xf0\x8f\xbf\xbf", 1),
	/* 4.3: overlong NUL. */
	BAD("4.3.1 NUL as 2", "\xc0\x80", 0),
	BAD("4.3.2 NUL as 3", "\xe0\x80\x80", 1),
	BAD("4.3.3 NUL as 4", "\xf0\x80\x80\x80", 1),
	/* 5.1: single UTF-16 surrogates. */
	BAD("5.1.1 U+D800", "\xed\xa0\x80", 1),
	BAD("5.1.2 U+DB7F", "\xed\xad\xbf", 1),
	BAD("5.1.3 U+DB80", "\xed\xae\x80", 1),
	BAD("5.1.4 U+DBFF", "\xed\xaf\xbf", 1),
	BAD("5.1.5 U+DC00", "\xed\xb0\x80", 1),
	BAD("5.1.6 U+DF80", "\xed\xbe\x80", 1),
	BAD("5.1.7 U+DFFF", "\xed\xbf\xbf", 1),
	/* 5.2: paired surrogates (CESU-8). */
	BAD("5.2.1 U+D800 U+DC00", "\xed\xa0\x80\xed\xb0\x80", 1),
	/* Above U+10FFFF. */
	BAD("U+110000", "\xf4\x90\x80\x80", 1),
	BAD("f5 lead", "\xf5\x80\x80\x80", 0),
	BAD("U+1FFFFF", "\xf7\xbf\xbf\xbf", 0),
	/* The ASCII fast path must not skip a bad byte at the end of a block. */
	BAD("bad byte at 15", "0123456789abcde\xff", 15),
	BAD("bad byte at 16", "0123456789abcdef\xff", 16),
	BAD("bad byte at 31", "0123456789abcdef0123456789abcde\x80", 31),
	CUT("lead at 31", "0123456789abcdef0123456789abcde\xe2"),
	OK("3-byte across 16", "0123456789abcde\xe2\x82\xac" "0123456789abcdef"),
};

ParameterizedTestParameters(utf8, kuhn_stress_cases)
{
	return cr_make_param_array(struct utf8_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct utf8_case *c, utf8, kuhn_stress_cases)
{
	const uint8_t *b = (const uint8_t *)c->bytes;
	int got = relay_utf8_validate(b, c->len);
	cr_assert_eq(got, c->want, "%s: validate = %d, want %d", c->name, got, c->want);

	/* Fed one byte at a time: invalid exactly at fail_at, never before. */
	struct relay_utf8 v;
	relay_utf8_init(&v);
	for (size_t i = 0; i < c->len; i++) {
		int rc = relay_utf8_feed(&v, b + i, 1);
		int want = c->fail_at >= 0 && i >= (size_t)c->fail_at ? RELAY_UTF8_E_INVALID
								       : RELAY_UTF8_OK;
		cr_assert_eq(rc, want, "%s: byte %zu gives %d, want %d", c->name, i, rc, want);
	}
	cr_assert_eq(relay_utf8_finish(&v), c->want, "%s: bytewise finish", c->name);

	/* Split in two at every point: same verdict. */
	for (size_t cut = 0; cut <= c->len; cut++) {
		relay_utf8_init(&v);
		relay_utf8_feed(&v, b, cut);
		relay_utf8_feed(&v, b + cut, c->len - cut);
		cr_assert_eq(relay_utf8_finish(&v), c->want, "%s: split at %zu", c->name, cut);
	}
}

/* Textbook decoder (RFC 3629 §3-4), kept independent of the DFA: returns the
 * verdict for s[0..len). */
static int reference_validate(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t b = s[i];
		size_t need;
		uint32_t cp, min;
		if (b < 0x80) {
			i++;
			continue;
		} else if ((b & 0xe0) == 0xc0) {
			need = 1, cp = b & 0x1f, min = 0x80;
		} else if ((b & 0xf0) == 0xe0) {
			need = 2, cp = b & 0x0f, min = 0x800;
		} else if ((b & 0xf8) == 0xf0) {
			need = 3, cp = b & 0x07, min = 0x10000;
		} else {
			return RELAY_UTF8_E_INVALID;
		}
		for (size_t k = 1; k <= need; k++) {
			if (i + k == len)
				return RELAY_UTF8_E_TRUNCATED;
			if ((s[i + k] & 0xc0) != 0x80)
				return RELAY_UTF8_E_INVALID;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return RELAY_UTF8_E_INVALID;
		i += need + 1;
	}
	return RELAY_UTF8_OK;
}

/* The verdicts must match, with one allowance: the reference only learns
 * that "e0 80" cannot become a code point once it has all three bytes, so it
 * calls the 2-byte prefix truncated where the DFA already knows it is
 * invalid. */
static void check_against_reference(const uint8_t *s, size_t len)
{
	int want = reference_validate(s, len);
	int got = relay_utf8_validate(s, len);
	if (got != want && !(want == RELAY_UTF8_E_TRUNCATED && got == RELAY_UTF8_E_INVALID)) {
		char hex[3 * 8 + 1] = "";
		for (size_t i = 0; i < len && i < 8; i++)
			snprintf(hex + 3 * i, 4, "%02x ", s[i]);
		cr_assert_fail("%s: got %d, reference %d", hex, got, want);
	}
}

Test(utf8, agrees_with_reference_on_all_sequences_up_to_three_bytes)
{
	uint8_t s[3];
	for (unsigned a = 0; a < 256; a++) {
		s[0] = (uint8_t)a;
		check_against_reference(s, 1);
		for (unsigned b = 0; b < 256; b++) {
			s[1] = (uint8_t)b;
			check_against_reference(s, 2);
			/* Third bytes: one from each class boundary suffices past
			 * two bytes; all 256 for leads that need three. */
			for (unsigned c = 0; c < 256; c++) {
				if (a < 0xe0 && (c & 0x0f) != 0x0f && c != 0x80 && c != 0xc0)
					continue;
				s[2] = (uint8_t)c;
				check_against_reference(s, 3);
			}
		}
	}
}

Test(utf8, agrees_with_reference_on_four_byte_sequences)
{
	static const uint8_t tails[] = { 0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff };
	uint8_t s[4];
	for (unsigned a = 0xf0; a < 0x100; a++)
		for (unsigned b = 0; b < 256; b++)
			for (size_t c = 0; c < sizeof tails; c++)
				for (size_t d = 0; d < sizeof tails; d++) {
					s[0] = (uint8_t)a, s[1] = (uint8_t)b;
					s[2] = tails[c], s[3] = tails[d];
					check_against_reference(s, 4);
				}
}

Test(utf8, checks_every_position_of_the_ascii_fast_path)
{
	/* One non-ASCII sequence at every offset of a 64-byte ASCII run, so it
	 * lands in each lane of the 16-byte skip and across its edges. */
	static const struct {
		const char *seq;
		int want;
	} probes[] = {
		{ "\x80", RELAY_UTF8_E_INVALID },
		{ "\xff", RELAY_UTF8_E_INVALID },
		{ "\xc3\xa9", RELAY_UTF8_OK },
		{ "\xe2\x82\xac", RELAY_UTF8_OK },
		{ "\xf0\x9f\x98\x80", RELAY_UTF8_OK },
		{ "\xed\xa0\x80", RELAY_UTF8_E_INVALID },
	};
	uint8_t buf[64];
	for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
		size_t n = strlen(probes[k].seq);
		for (size_t at = 0; at + n <= sizeof buf; at++) {
			memset(buf, 'a', sizeof buf);
			memcpy(buf + at, probes[k].seq, n);
			cr_assert_eq(relay_utf8_validate(buf, sizeof buf), probes[k].want,
				     "probe %zu at %zu", k, at);
			/* Cut right after the sequence's first byte: truncated
			 * or invalid, never valid. */
			if (n > 1)
				cr_assert_neq(relay_utf8_validate(buf, at + 1), RELAY_UTF8_OK,
					      "probe %zu cut at %zu", k, at + 1);
		}
	}
}

Test(utf8, invalid_is_sticky)
{
	struct relay_utf8 v;
	relay_utf8_init(&v);
	cr_assert_eq(relay_utf8_feed(&v, (const uint8_t *)"\xc0\x80", 2), RELAY_UTF8_E_INVALID);
	cr_assert_eq(relay_utf8_feed(&v, (const uint8_t *)"plain ascii text", 16), RELAY_UTF8_E_INVALID);
	cr_assert_eq(relay_utf8_finish(&v), RELAY_UTF8_E_INVALID);
}

Test(utf8, resumes_code_points_across_chunks_of_any_size)
{
	/* 1000 mixed-width characters, fed in chunks of every size 1..37. */
	static const char *chars[] = { "a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
	uint8_t text[4000];
	size_t len = 0;
	for (size_t i = 0; i < 1000; i++) {
		const char *ch = chars[(i * 7) % 4];
		memcpy(text + len, ch, strlen(ch));
		len += strlen(ch);
	}
	for (size_t chunk = 1; chunk <= 37; chunk++) {
		struct relay_utf8 v;
		relay_utf8_init(&v);
		for (size_t off = 0; off < len; off += chunk) {
			size_t n = len - off < chunk ? len - off : chunk;
			cr_assert_eq(relay_utf8_feed(&v, text + off, n), RELAY_UTF8_OK,
				     "chunk %zu, offset %zu", chunk, off);
		}
		cr_assert_eq(relay_utf8_finish(&v), RELAY_UTF8_OK, "chunk %zu", chunk);
	}
}

Test(utf8, feed_of_nothing_changes_nothing)
{
	struct relay_utf8 v;
	relay_utf8_init(&v);
	cr_assert_eq(relay_utf8_feed(&v, NULL, 0), RELAY_UTF8_OK);
	cr_assert_eq(relay_utf8_feed(&v, (const uint8_t *)"\xe2", 1), RELAY_UTF8_OK);
	cr_assert_eq(relay_utf8_feed(&v, NULL, 0), RELAY_UTF8_OK);
	cr_assert_eq(relay_utf8_finish(&v), RELAY_UTF8_E_TRUNCATED);
}
