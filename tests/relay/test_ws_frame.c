/* relay/ws_frame: RFC 6455 §5.7 sample frames decoded field by field, every
 * error with its close code, every proper header prefix incomplete and
 * headers ending against a PROT_NONE page, unmasking at every offset, frame
 * streams fed in chunks down to one byte, the fragmentation rules, and the
 * close payload codec. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "relay/utf8.h"
#include "relay/ws_frame.h"

/* Copies len bytes so that they end where a PROT_NONE page begins: a read
 * past the end faults. Release with guard_free. */
static uint8_t *guarded_copy(const void *src, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (len + page - 1) / page * page + page;
	uint8_t *base = mmap(NULL, span + page, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(base, MAP_FAILED);
	cr_assert_eq(mprotect(base + span, page, PROT_NONE), 0);
	uint8_t *p = base + span - len;
	if (len)
		memcpy(p, src, len);
	return p;
}

static void guard_free(uint8_t *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (len + page - 1) / page * page + page;
	munmap(p + len - span, span + page);
}

/* ------------------------------------------------------------------ */
/* RFC 6455 §5.7 examples. */

struct sample {
	char name[40];
	enum relay_ws_role role;
	uint8_t bytes[16];      /* header, then payload when shown */
	size_t len;
	int hdr_len;
	bool fin;
	uint8_t opcode;
	bool masked;
	uint8_t key[4];
	uint64_t payload_len;
	char payload[8];        /* unmasked payload, when in bytes */
};

static struct sample samples[] = {
	{ "single-frame unmasked text", RELAY_WS_ROLE_CLIENT,
	  { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f }, 7,
	  /* FIN, TEXT; unmasked, length 5 */
	  2, true, RELAY_WS_OP_TEXT, false, { 0 }, 5, "Hello" },
	{ "single-frame masked text", RELAY_WS_ROLE_SERVER,
	  { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 }, 11,
	  /* FIN, TEXT; masked, length 5; key 37 fa 21 3d */
	  6, true, RELAY_WS_OP_TEXT, true, { 0x37, 0xfa, 0x21, 0x3d }, 5, "Hello" },
	{ "fragmented text, first", RELAY_WS_ROLE_CLIENT,
	  { 0x01, 0x03, 0x48, 0x65, 0x6c }, 5,
	  /* no FIN, TEXT; length 3 */
	  2, false, RELAY_WS_OP_TEXT, false, { 0 }, 3, "Hel" },
	{ "fragmented text, last", RELAY_WS_ROLE_CLIENT,
	  { 0x80, 0x02, 0x6c, 0x6f }, 4,
	  /* FIN, CONTINUATION; length 2 */
	  2, true, RELAY_WS_OP_CONTINUATION, false, { 0 }, 2, "lo" },
	{ "unmasked ping", RELAY_WS_ROLE_CLIENT,
	  { 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f }, 7,
	  2, true, RELAY_WS_OP_PING, false, { 0 }, 5, "Hello" },
	{ "masked pong", RELAY_WS_ROLE_SERVER,
	  { 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 }, 11,
	  6, true, RELAY_WS_OP_PONG, true, { 0x37, 0xfa, 0x21, 0x3d }, 5, "Hello" },
	{ "256 bytes binary, 16-bit length", RELAY_WS_ROLE_CLIENT,
	  /* FIN, BINARY; 126 then 0x0100 */
	  { 0x82, 0x7e, 0x01, 0x00 }, 4,
	  4, true, RELAY_WS_OP_BINARY, false, { 0 }, 256, "" },
	{ "64 KiB binary, 64-bit length", RELAY_WS_ROLE_CLIENT,
	  /* FIN, BINARY; 127 then 0x0000000000010000 */
	  { 0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00 }, 10,
	  10, true, RELAY_WS_OP_BINARY, false, { 0 }, 65536, "" },
};

ParameterizedTestParameters(relay_ws_frame, decodes_rfc6455_samples)
{
	return cr_make_param_array(struct sample, samples, sizeof samples / sizeof samples[0]);
}

ParameterizedTest(struct sample *s, relay_ws_frame, decodes_rfc6455_samples)
{
	struct relay_ws_hdr h;
	uint8_t *buf = guarded_copy(s->bytes, s->len);

	int n = relay_ws_frame_parse_header(&h, s->role, UINT64_MAX, buf, s->len);
	cr_assert_eq(n, s->hdr_len, "%s: header length %d", s->name, n);
	cr_assert_eq(h.fin, s->fin, "%s: fin", s->name);
	cr_assert_eq(h.opcode, s->opcode, "%s: opcode", s->name);
	cr_assert_eq(h.masked, s->masked, "%s: masked", s->name);
	cr_assert_arr_eq(h.mask_key, s->key, 4, "%s: key", s->name);
	cr_assert_eq(h.payload_len, s->payload_len, "%s: length", s->name);

	size_t shown = s->len - (size_t)n;
	if (shown) {
		if (h.masked)
			relay_ws_unmask(buf + n, shown, h.mask_key, 0);
		cr_assert_eq(shown, strlen(s->payload), "%s", s->name);
		cr_assert_arr_eq(buf + n, s->payload, shown, "%s: payload", s->name);
	}
	guard_free(buf, s->len);

	/* Every proper prefix of the header, ending on a guard page. */
	for (size_t cut = 0; cut < (size_t)s->hdr_len; cut++) {
		buf = guarded_copy(s->bytes, cut);
		int rc = relay_ws_frame_parse_header(&h, s->role, UINT64_MAX, buf, cut);
		cr_assert_eq(rc, RELAY_WS_INCOMPLETE, "%s: prefix %zu gives %d", s->name, cut, rc);
		guard_free(buf, cut);
	}

	/* Building the same fields gives the same bytes. */
	uint8_t out[RELAY_WS_MAX_HEADER_LEN];
	int m = relay_ws_frame_build_header(out, s->fin, s->opcode, s->payload_len,
					    s->masked ? s->key : NULL);
	cr_assert_eq(m, s->hdr_len, "%s: built length", s->name);
	cr_assert_arr_eq(out, s->bytes, (size_t)m, "%s: built bytes", s->name);
}

/* ------------------------------------------------------------------ */
/* Errors, each with the close code it fails the connection with. */

struct bad_header {
	char name[48];
	enum relay_ws_role role;
	uint64_t max;
	uint8_t bytes[16];
	size_t len;
	int want;
	uint16_t close_code;
};

#define ANY UINT64_MAX
#define SRV RELAY_WS_ROLE_SERVER
#define CLI RELAY_WS_ROLE_CLIENT

static struct bad_header bad_headers[] = {
	{ "RSV1 set", SRV, ANY, { 0xc1 }, 1, RELAY_WS_E_RSV, 1002 },
	{ "RSV2 set", CLI, ANY, { 0xa2 }, 1, RELAY_WS_E_RSV, 1002 },
	{ "RSV3 set", SRV, ANY, { 0x91, 0x80 }, 2, RELAY_WS_E_RSV, 1002 },
	{ "reserved data opcode 3", SRV, ANY, { 0x83 }, 1, RELAY_WS_E_OPCODE, 1002 },
	{ "reserved control opcode B", CLI, ANY, { 0x8b }, 1, RELAY_WS_E_OPCODE, 1002 },
	{ "ping without FIN", SRV, ANY, { 0x09 }, 1, RELAY_WS_E_CONTROL_FRAGMENTED, 1002 },
	{ "close without FIN", CLI, ANY, { 0x08, 0x00 }, 2, RELAY_WS_E_CONTROL_FRAGMENTED, 1002 },
	{ "close with 16-bit length", SRV, ANY, { 0x88, 0xfe }, 2, RELAY_WS_E_CONTROL_TOO_LONG, 1002 },
	{ "pong with 64-bit length", CLI, ANY, { 0x8a, 0x7f }, 2, RELAY_WS_E_CONTROL_TOO_LONG, 1002 },
	{ "16-bit length of 125", CLI, ANY, { 0x82, 0x7e, 0x00, 0x7d }, 4, RELAY_WS_E_LENGTH, 1002 },
	{ "16-bit length of 0", CLI, ANY, { 0x82, 0x7e, 0x00, 0x00 }, 4, RELAY_WS_E_LENGTH, 1002 },
	{ "64-bit length of 65535", CLI, ANY,
	  { 0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff }, 10, RELAY_WS_E_LENGTH, 1002 },
	{ "64-bit length, top bit set", SRV, ANY, { 0x82, 0xff, 0x80 }, 3, RELAY_WS_E_LENGTH, 1002 },
	{ "server gets unmasked frame", SRV, ANY, { 0x81, 0x05 }, 2, RELAY_WS_E_MASK_REQUIRED, 1002 },
	{ "client gets masked frame", CLI, ANY, { 0x81, 0x85 }, 2, RELAY_WS_E_MASK_FORBIDDEN, 1002 },
	{ "7-bit length over limit", SRV, 4, { 0x82, 0x85 }, 2, RELAY_WS_E_TOO_BIG, 1009 },
	{ "16-bit length over limit", SRV, 1000, { 0x82, 0xfe, 0x03, 0xe9 }, 4, RELAY_WS_E_TOO_BIG, 1009 },
	{ "64-bit length over limit", CLI, 1 << 20,
	  { 0x82, 0x7f, 0, 0, 0, 0, 0, 0x10, 0, 1 }, 10, RELAY_WS_E_TOO_BIG, 1009 },
};

ParameterizedTestParameters(relay_ws_frame, rejects_bad_headers)
{
	return cr_make_param_array(struct bad_header, bad_headers,
				   sizeof bad_headers / sizeof bad_headers[0]);
}

ParameterizedTest(struct bad_header *b, relay_ws_frame, rejects_bad_headers)
{
	struct relay_ws_hdr h;
	memset(&h, 0xa5, sizeof h);
	struct relay_ws_hdr before = h;
	/* The error is known as soon as its byte is in, and stays with more. */
	for (size_t len = b->len; len <= sizeof b->bytes; len++) {
		int rc = relay_ws_frame_parse_header(&h, b->role, b->max, b->bytes, len);
		cr_assert_eq(rc, b->want, "%s: %zu bytes give %d (%s), want %d", b->name, len, rc,
			     relay_ws_strerror(rc), b->want);
	}
	cr_assert_eq(relay_ws_close_code_for(b->want), b->close_code, "%s", b->name);
	cr_assert_arr_eq(&h, &before, sizeof h, "%s: output written on error", b->name);
}

Test(relay_ws_frame, classifies_every_first_byte)
{
	for (unsigned b0 = 0; b0 < 256; b0++) {
		uint8_t buf[RELAY_WS_MAX_HEADER_LEN] = { (uint8_t)b0, 0x80 };
		unsigned op = b0 & 0x0f;
		bool known = op <= 2 || (op >= 8 && op <= 10);
		int want = (b0 & 0x70)                   ? RELAY_WS_E_RSV
			   : !known                      ? RELAY_WS_E_OPCODE
			   : (op & 8) && !(b0 & 0x80)    ? RELAY_WS_E_CONTROL_FRAGMENTED
							 : 6;
		struct relay_ws_hdr h;
		int rc = relay_ws_frame_parse_header(&h, RELAY_WS_ROLE_SERVER, ANY, buf, sizeof buf);
		cr_assert_eq(rc, want, "first byte %02x gives %d, want %d", b0, rc, want);
		rc = relay_ws_frame_parse_header(&h, RELAY_WS_ROLE_SERVER, ANY, buf, 1);
		cr_assert_eq(rc, want == 6 ? RELAY_WS_INCOMPLETE : want, "first byte %02x alone", b0);
	}
}

Test(relay_ws_frame, accepts_payload_exactly_at_limit)
{
	static const uint8_t hdr[] = { 0x82, 0xfe, 0x03, 0xe8, 1, 2, 3, 4 };
	struct relay_ws_hdr h;
	cr_assert_eq(relay_ws_frame_parse_header(&h, SRV, 1000, hdr, sizeof hdr), 8);
	cr_assert_eq(h.payload_len, 1000);
}

Test(relay_ws_frame, accepts_largest_length)
{
	static const uint8_t hdr[] = { 0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct relay_ws_hdr h;
	cr_assert_eq(relay_ws_frame_parse_header(&h, CLI, ANY, hdr, sizeof hdr), 10);
	cr_assert_eq(h.payload_len, INT64_MAX);
}

/* ------------------------------------------------------------------ */
/* Building headers. */

Test(relay_ws_frame, built_headers_parse_back_for_every_length_class)
{
	static const uint64_t lengths[] = { 0, 1, 125, 126, 127, 65535, 65536, 1ull << 32,
					    INT64_MAX };
	static const uint8_t ops[] = { RELAY_WS_OP_CONTINUATION, RELAY_WS_OP_TEXT,
				       RELAY_WS_OP_BINARY, RELAY_WS_OP_CLOSE, RELAY_WS_OP_PING,
				       RELAY_WS_OP_PONG };
	static const uint8_t key[4] = { 0xde, 0xad, 0xbe, 0xef };
	for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++)
		for (size_t oi = 0; oi < sizeof ops; oi++)
			for (int fin = 0; fin < 2; fin++)
				for (int masked = 0; masked < 2; masked++) {
					uint64_t len = lengths[li];
					uint8_t op = ops[oi];
					bool control = op & 8;
					uint8_t out[RELAY_WS_MAX_HEADER_LEN];
					int n = relay_ws_frame_build_header(out, fin, op, len,
									    masked ? key : NULL);
					if (control && (!fin || len > 125)) {
						cr_assert_lt(n, 0, "op %u fin %d len %llu", op, fin,
							     (unsigned long long)len);
						continue;
					}
					int want = (len < 126 ? 2 : len < 65536 ? 4 : 10) + 4 * masked;
					cr_assert_eq(n, want, "op %u len %llu masked %d", op,
						     (unsigned long long)len, masked);
					struct relay_ws_hdr h;
					int m = relay_ws_frame_parse_header(
						&h, masked ? SRV : CLI, ANY, out, (size_t)n);
					cr_assert_eq(m, n, "op %u len %llu masked %d: parse %d", op,
						     (unsigned long long)len, masked, m);
					cr_assert_eq(h.fin, (bool)fin);
					cr_assert_eq(h.opcode, op);
					cr_assert_eq(h.payload_len, len);
					cr_assert_eq(h.masked, (bool)masked);
					if (masked)
						cr_assert_arr_eq(h.mask_key, key, 4);
				}
}

Test(relay_ws_frame, build_header_rejects_what_parse_would)
{
	uint8_t out[RELAY_WS_MAX_HEADER_LEN] = { 0 };
	cr_assert_eq(relay_ws_frame_build_header(out, true, 3, 0, NULL), RELAY_WS_E_OPCODE);
	cr_assert_eq(relay_ws_frame_build_header(out, false, RELAY_WS_OP_PING, 0, NULL),
		     RELAY_WS_E_CONTROL_FRAGMENTED);
	cr_assert_eq(relay_ws_frame_build_header(out, true, RELAY_WS_OP_CLOSE, 126, NULL),
		     RELAY_WS_E_CONTROL_TOO_LONG);
	cr_assert_eq(relay_ws_frame_build_header(out, true, RELAY_WS_OP_BINARY, 1ull << 63, NULL),
		     RELAY_WS_E_LENGTH);
	static const uint8_t zero[RELAY_WS_MAX_HEADER_LEN];
	cr_assert_arr_eq(out, zero, sizeof out, "out written on error");
}

Test(relay_ws_frame, build_frame_masks_payload_and_checks_room)
{
	static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	static const uint8_t want[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
					0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	uint8_t out[sizeof want + 4];
	for (size_t cap = 0; cap < sizeof want; cap++) {
		memset(out, 0xcc, sizeof out);
		int rc = relay_ws_frame_build(out, cap, true, RELAY_WS_OP_TEXT,
					      (const uint8_t *)"Hello", 5, key);
		cr_assert_eq(rc, RELAY_WS_E_NO_ROOM, "cap %zu", cap);
		for (size_t i = cap; i < sizeof out; i++)
			cr_assert_eq(out[i], 0xcc, "cap %zu: wrote byte %zu", cap, i);
	}
	int n = relay_ws_frame_build(out, sizeof out, true, RELAY_WS_OP_TEXT,
				     (const uint8_t *)"Hello", 5, key);
	cr_assert_eq(n, (int)sizeof want);
	cr_assert_arr_eq(out, want, sizeof want);
	cr_assert_eq(relay_ws_frame_build(out, sizeof out, true, RELAY_WS_OP_PONG, NULL, 0, NULL), 2);
	cr_assert_eq(out[0], 0x8a);
	cr_assert_eq(out[1], 0x00);
}

/* ------------------------------------------------------------------ */
/* Unmasking. */

static void unmask_reference(uint8_t *p, size_t len, const uint8_t key[4], uint64_t offset)
{
	for (size_t i = 0; i < len; i++)
		p[i] ^= key[(offset + i) % 4];
}

Test(relay_ws_frame, unmask_matches_bytewise_xor_at_every_offset_and_length)
{
	static const uint8_t key[4] = { 0x01, 0x23, 0x45, 0x67 };
	uint8_t a[200], b[200];
	for (size_t len = 0; len <= 100; len++)
		for (uint64_t off = 0; off < 8; off++)
			for (size_t start = 0; start < 8; start++) {
				for (size_t i = 0; i < sizeof a; i++)
					a[i] = b[i] = (uint8_t)(i * 31 + 7);
				relay_ws_unmask(a + start, len, key, off);
				unmask_reference(b + start, len, key, off);
				cr_assert_arr_eq(a, b, sizeof a, "len %zu offset %llu start %zu", len,
						 (unsigned long long)off, start);
			}
}

Test(relay_ws_frame, unmask_in_pieces_equals_unmask_whole)
{
	static const uint8_t key[4] = { 0x9a, 0xbc, 0xde, 0xf0 };
	enum { LEN = 1000 };
	uint8_t whole[LEN], pieces[LEN];
	for (size_t i = 0; i < LEN; i++)
		whole[i] = (uint8_t)(i ^ (i >> 3));
	memcpy(pieces, whole, LEN);
	relay_ws_unmask(whole, LEN, key, 0);
	/* Piece sizes 1, 2, 3, ... 44, then the rest. */
	size_t off = 0;
	for (size_t sz = 1; off < LEN; sz++) {
		size_t n = LEN - off < sz ? LEN - off : sz;
		relay_ws_unmask(pieces + off, n, key, off);
		off += n;
	}
	cr_assert_arr_eq(pieces, whole, LEN);
	/* Twice is the identity. */
	relay_ws_unmask(whole, LEN, key, 0);
	for (size_t i = 0; i < LEN; i++)
		cr_assert_eq(whole[i], (uint8_t)(i ^ (i >> 3)));
}

/* ------------------------------------------------------------------ */
/* Fragmentation. */

struct msg_step {
	uint8_t opcode;
	bool fin;
	uint64_t len;
	int want;
};

struct msg_script {
	char name[48];
	uint64_t max_msg_len;
	size_t num_steps;
	struct msg_step steps[6];
};

#define TXT RELAY_WS_OP_TEXT
#define BIN RELAY_WS_OP_BINARY
#define CONT RELAY_WS_OP_CONTINUATION
#define PING RELAY_WS_OP_PING
#define CLOSE RELAY_WS_OP_CLOSE

static struct msg_script scripts[] = {
	{ "single text", ANY, 1, { { TXT, 1, 5, TXT } } },
	{ "fragmented text", ANY, 3, { { TXT, 0, 3, TXT }, { CONT, 0, 0, TXT }, { CONT, 1, 2, TXT } } },
	{ "ping between fragments", ANY, 4,
	  { { BIN, 0, 3, BIN }, { PING, 1, 5, PING }, { CONT, 1, 2, BIN }, { TXT, 1, 0, TXT } } },
	{ "close between fragments", ANY, 2, { { TXT, 0, 3, TXT }, { CLOSE, 1, 2, CLOSE } } },
	{ "continuation first", ANY, 1, { { CONT, 1, 1, RELAY_WS_E_UNEXPECTED_CONTINUATION } } },
	{ "continuation after complete message", ANY, 2,
	  { { BIN, 1, 1, BIN }, { CONT, 1, 1, RELAY_WS_E_UNEXPECTED_CONTINUATION } } },
	{ "text inside text", ANY, 2, { { TXT, 0, 1, TXT }, { TXT, 1, 1, RELAY_WS_E_EXPECTED_CONTINUATION } } },
	{ "binary inside text", ANY, 3,
	  { { TXT, 0, 1, TXT }, { PING, 1, 0, PING }, { BIN, 0, 1, RELAY_WS_E_EXPECTED_CONTINUATION } } },
	{ "message at limit", 10, 2, { { TXT, 0, 6, TXT }, { CONT, 1, 4, TXT } } },
	{ "message over limit", 10, 2, { { TXT, 0, 6, TXT }, { CONT, 1, 5, RELAY_WS_E_TOO_BIG } } },
	{ "limit is per message", 10, 3, { { BIN, 1, 10, BIN }, { BIN, 0, 9, BIN }, { CONT, 1, 1, BIN } } },
	{ "control frames do not count", 10, 3,
	  { { BIN, 0, 10, BIN }, { PING, 1, 100, PING }, { CONT, 1, 0, BIN } } },
};

ParameterizedTestParameters(relay_ws_frame, enforces_fragmentation_rules)
{
	return cr_make_param_array(struct msg_script, scripts, sizeof scripts / sizeof scripts[0]);
}

ParameterizedTest(struct msg_script *s, relay_ws_frame, enforces_fragmentation_rules)
{
	struct relay_ws_msg_state st;
	relay_ws_msg_init(&st, s->max_msg_len);
	for (size_t i = 0; i < s->num_steps; i++) {
		const struct msg_step *step = &s->steps[i];
		struct relay_ws_hdr h = { .opcode = step->opcode, .fin = step->fin,
					  .payload_len = step->len };
		struct relay_ws_msg_state before = st;
		int rc = relay_ws_msg_next(&st, &h);
		cr_assert_eq(rc, step->want, "%s: step %zu gives %d, want %d", s->name, i, rc,
			     step->want);
		if (rc < 0) {
			cr_assert_arr_eq(&st, &before, sizeof st, "%s: state changed on error", s->name);
			cr_assert_eq(relay_ws_close_code_for(rc), rc == RELAY_WS_E_TOO_BIG ? 1009 : 1002);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Close payloads. */

struct close_case {
	char name[40];
	uint8_t payload[130];
	size_t len;
	int want;
	uint16_t code;
};

static struct close_case close_cases[] = {
	{ "empty", { 0 }, 0, RELAY_WS_OK, 1005 },
	{ "one byte", { 0x03 }, 1, RELAY_WS_E_CLOSE_PAYLOAD, 0 },
	{ "normal", { 0x03, 0xe8 }, 2, RELAY_WS_OK, 1000 },
	{ "normal with reason", { 0x03, 0xe8, 'b', 'y', 'e' }, 5, RELAY_WS_OK, 1000 },
	{ "reason with multi-byte", { 0x03, 0xe9, 0xce, 0xba, 0xe1, 0xbd, 0xb9 }, 7, RELAY_WS_OK, 1001 },
	{ "reason overlong", { 0x03, 0xe8, 0xc0, 0xaf }, 4, RELAY_WS_E_INVALID_UTF8, 0 },
	{ "reason cut mid code point", { 0x03, 0xe8, 0xce }, 3, RELAY_WS_E_INVALID_UTF8, 0 },
	{ "reason surrogate", { 0x0f, 0xa0, 0xed, 0xa0, 0x80 }, 5, RELAY_WS_E_INVALID_UTF8, 0 },
	{ "over 125 bytes", { 0x03, 0xe8 }, 126, RELAY_WS_E_CONTROL_TOO_LONG, 0 },
	{ "code 0", { 0x00, 0x00 }, 2, RELAY_WS_E_CLOSE_CODE, 0 },
	{ "code 999", { 0x03, 0xe7 }, 2, RELAY_WS_E_CLOSE_CODE, 0 },
	{ "code 1004 reserved", { 0x03, 0xec }, 2, RELAY_WS_E_CLOSE_CODE, 0 },
	{ "code 1005 never sent", { 0x03, 0xed }, 2, RELAY_WS_E_CLOSE_CODE, 0 },
	{ "code 1006 never sent", { 0x03, 0xee }, 2, RELAY_WS_E_CLOSE_CODE, 0 },
	{ "code 1015 never sent", { 0x03, 0xf7 }, 2, RELAY_WS_E_CLOSE_CODE, 0 },
	{ "code 1016 unassigned", { 0x03, 0xf8 }, 2, RELAY_WS_E_CLOSE_CODE, 0 },
	{ "code 2999", { 0x0b, 0xb7 }, 2, RELAY_WS_E_CLOSE_CODE, 0 },
	{ "code 5000", { 0x13, 0x88 }, 2, RELAY_WS_E_CLOSE_CODE, 0 },
	{ "code 65535", { 0xff, 0xff }, 2, RELAY_WS_E_CLOSE_CODE, 0 },
	{ "code 1003", { 0x03, 0xeb }, 2, RELAY_WS_OK, 1003 },
	{ "code 1007", { 0x03, 0xef }, 2, RELAY_WS_OK, 1007 },
	{ "code 1011", { 0x03, 0xf3 }, 2, RELAY_WS_OK, 1011 },
	{ "code 1012", { 0x03, 0xf4 }, 2, RELAY_WS_OK, 1012 },
	{ "code 1014", { 0x03, 0xf6 }, 2, RELAY_WS_OK, 1014 },
	{ "code 3000", { 0x0b, 0xb8 }, 2, RELAY_WS_OK, 3000 },
	{ "code 4999", { 0x13, 0x87 }, 2, RELAY_WS_OK, 4999 },
};

ParameterizedTestParameters(relay_ws_frame, parses_close_payloads)
{
	return cr_make_param_array(struct close_case, close_cases,
				   sizeof close_cases / sizeof close_cases[0]);
}

ParameterizedTest(struct close_case *c, relay_ws_frame, parses_close_payloads)
{
	struct relay_ws_close cl = { 0 };
	int rc = relay_ws_close_parse(&cl, c->payload, c->len);
	cr_assert_eq(rc, c->want, "%s: got %d (%s)", c->name, rc, relay_ws_strerror(rc));
	if (rc == RELAY_WS_OK) {
		cr_assert_eq(cl.code, c->code, "%s: code %u", c->name, cl.code);
		cr_assert_eq(cl.reason_len, c->len < 2 ? 0 : c->len - 2, "%s", c->name);
		if (cl.reason_len)
			cr_assert_eq(cl.reason, c->payload + 2, "%s: reason points into input", c->name);
	} else {
		uint16_t want = rc == RELAY_WS_E_INVALID_UTF8 ? 1007 : 1002;
		cr_assert_eq(relay_ws_close_code_for(rc), want, "%s", c->name);
	}
}

Test(relay_ws_frame, close_code_validity_follows_rfc6455_7_4)
{
	for (uint32_t code = 0; code <= UINT16_MAX; code++) {
		bool want = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
			    (code >= 3000 && code <= 4999);
		cr_assert_eq(relay_ws_close_code_valid((uint16_t)code), want, "code %u", code);
	}
}

Test(relay_ws_frame, builds_close_payloads)
{
	uint8_t out[130];
	struct relay_ws_close cl;
	int n = relay_ws_close_build(out, sizeof out, 1001, "going away", 10);
	cr_assert_eq(n, 12);
	cr_assert_eq(relay_ws_close_parse(&cl, out, (size_t)n), RELAY_WS_OK);
	cr_assert_eq(cl.code, 1001);
	cr_assert_arr_eq(cl.reason, "going away", 10);

	cr_assert_eq(relay_ws_close_build(out, sizeof out, RELAY_WS_CLOSE_NO_STATUS, NULL, 0), 0);
	cr_assert_eq(relay_ws_close_build(out, sizeof out, RELAY_WS_CLOSE_NO_STATUS, "x", 1),
		     RELAY_WS_E_CLOSE_CODE);
	cr_assert_eq(relay_ws_close_build(out, sizeof out, 1006, NULL, 0), RELAY_WS_E_CLOSE_CODE);
	cr_assert_eq(relay_ws_close_build(out, sizeof out, 999, NULL, 0), RELAY_WS_E_CLOSE_CODE);
	cr_assert_eq(relay_ws_close_build(out, sizeof out, 1000, "\xc0\xaf", 2),
		     RELAY_WS_E_INVALID_UTF8);
	char reason[124];
	memset(reason, 'r', sizeof reason);
	cr_assert_eq(relay_ws_close_build(out, sizeof out, 1000, reason, 123), 125);
	cr_assert_eq(relay_ws_close_build(out, sizeof out, 1000, reason, 124),
		     RELAY_WS_E_CONTROL_TOO_LONG);
	for (size_t cap = 0; cap < 12; cap++)
		cr_assert_eq(relay_ws_close_build(out, cap, 1001, "going away", 10), RELAY_WS_E_NO_ROOM,
			     "cap %zu", cap);
}

Test(relay_ws_frame, every_error_has_a_message_and_a_close_code)
{
	for (int err = RELAY_WS_E_RSV; err >= RELAY_WS_E_NO_ROOM; err--) {
		cr_assert_str_neq(relay_ws_strerror(err), "unknown error", "error %d", err);
		uint16_t code = relay_ws_close_code_for(err);
		cr_assert(code == 1002 || code == 1007 || code == 1009 ||
			  (err == RELAY_WS_E_NO_ROOM && code == 1011), "error %d -> %u", err, code);
	}
	cr_assert_eq(relay_ws_close_code_for(RELAY_WS_INCOMPLETE), 1011);
}

/* ------------------------------------------------------------------ */
/* Streams: the relay's receive path in miniature. Bytes arrive in chunks
 * of any size; the header is gathered in a small stash (it may straddle
 * chunks), the payload is unmasked in place piece by piece with a running
 * offset, text is validated as it passes, and each frame's fields are
 * recorded. The fuzz target tests/fuzz/fuzz_wsframe.c walks streams the same
 * way. */

enum { MAX_EVENTS = 64 };

struct walker {
	enum relay_ws_role role;
	uint64_t max_payload;
	uint8_t stash[RELAY_WS_MAX_HEADER_LEN];
	size_t stash_len;
	bool in_payload;
	struct relay_ws_hdr h;
	int msg_opcode;
	uint64_t done;           /* payload bytes of the current frame so far */
	struct relay_ws_msg_state msg;
	struct relay_utf8 utf8;
	int error;
	/* What was seen: one entry per complete message or control frame. */
	size_t num_events;
	struct {
		int opcode;
		size_t len;
		uint32_t sum;    /* of the unmasked bytes */
	} events[MAX_EVENTS];
	size_t cur_len;
	uint32_t cur_sum;
	uint8_t control[125];
};

static void walker_init(struct walker *w, enum relay_ws_role role, uint64_t max_payload,
			uint64_t max_msg)
{
	memset(w, 0, sizeof *w);
	w->role = role;
	w->max_payload = max_payload;
	relay_ws_msg_init(&w->msg, max_msg);
}

static uint32_t sum_of(const void *p, size_t len)
{
	uint32_t s = 0;
	for (size_t i = 0; i < len; i++)
		s = s * 31 + ((const uint8_t *)p)[i];
	return s;
}

static void emit(struct walker *w, int opcode, size_t len, uint32_t sum)
{
	if (w->num_events < MAX_EVENTS) {
		w->events[w->num_events].opcode = opcode;
		w->events[w->num_events].len = len;
		w->events[w->num_events].sum = sum;
		w->num_events++;
	}
}

static int frame_done(struct walker *w)
{
	w->in_payload = false;
	if (w->msg_opcode == RELAY_WS_OP_CLOSE) {
		struct relay_ws_close cl;
		int rc = relay_ws_close_parse(&cl, w->control, (size_t)w->h.payload_len);
		if (rc != RELAY_WS_OK)
			return rc;
	}
	/* Control frames sit between fragments without touching the message
	 * being assembled. */
	if (w->msg_opcode & 8) {
		size_t n = (size_t)w->h.payload_len;
		emit(w, w->msg_opcode, n, sum_of(w->control, n));
		return RELAY_WS_OK;
	}
	if (!w->h.fin)
		return RELAY_WS_OK;
	if (w->msg_opcode == RELAY_WS_OP_TEXT && relay_utf8_finish(&w->utf8) != RELAY_UTF8_OK)
		return RELAY_WS_E_INVALID_UTF8;
	emit(w, w->msg_opcode, w->cur_len, w->cur_sum);
	w->cur_len = 0;
	w->cur_sum = 0;
	return RELAY_WS_OK;
}

/* Feeds one chunk; buf is modified (unmasked in place). Returns RELAY_WS_OK
 * or the first error, after which the walker stays failed. */
static int walker_feed(struct walker *w, uint8_t *buf, size_t len)
{
	size_t i = 0;
	while (!w->error && i < len) {
		if (!w->in_payload) {
			size_t take = sizeof w->stash - w->stash_len;
			if (take > len - i)
				take = len - i;
			memcpy(w->stash + w->stash_len, buf + i, take);
			int n = relay_ws_frame_parse_header(&w->h, w->role, w->max_payload, w->stash,
							    w->stash_len + take);
			if (n == RELAY_WS_INCOMPLETE) {
				w->stash_len += take;
				i += take;
				continue;
			}
			if (n < 0)
				return w->error = n;
			i += (size_t)n - w->stash_len;
			w->stash_len = 0;
			int op = relay_ws_msg_next(&w->msg, &w->h);
			if (op < 0)
				return w->error = op;
			if (w->h.opcode == RELAY_WS_OP_TEXT)
				relay_utf8_init(&w->utf8);
			w->msg_opcode = op;
			w->in_payload = true;
			w->done = 0;
			if (w->h.payload_len == 0 && (w->error = frame_done(w)))
				return w->error;
			continue;
		}
		uint64_t left = w->h.payload_len - w->done;
		size_t n = len - i < left ? len - i : (size_t)left;
		uint8_t *p = buf + i;
		if (w->h.masked)
			relay_ws_unmask(p, n, w->h.mask_key, w->done);
		if (w->msg_opcode == RELAY_WS_OP_TEXT &&
		    relay_utf8_feed(&w->utf8, p, n) != RELAY_UTF8_OK)
			return w->error = RELAY_WS_E_INVALID_UTF8;
		if (w->msg_opcode & 8) {
			memcpy(w->control + w->done, p, n);
		} else {
			for (size_t k = 0; k < n; k++)
				w->cur_sum = w->cur_sum * 31 + p[k];
			w->cur_len += n;
		}
		w->done += n;
		i += n;
		if (w->done == w->h.payload_len && (w->error = frame_done(w)))
			return w->error;
	}
	return w->error;
}

/* Appends a frame to a stream under construction; masks when key != NULL. */
static size_t put_frame(uint8_t *out, bool fin, uint8_t op, const void *payload, size_t len,
			const uint8_t *key)
{
	int n = relay_ws_frame_build(out, SIZE_MAX / 2, fin, op, payload, len, key);
	cr_assert_gt(n, 0);
	return (size_t)n;
}

Test(relay_ws_frame, decodes_a_stream_fed_in_chunks_down_to_one_byte)
{
	static const uint8_t k1[4] = { 0x37, 0xfa, 0x21, 0x3d };
	static const uint8_t k2[4] = { 0x00, 0xff, 0x10, 0x01 };
	enum { BIG = 70000 };
	uint8_t *big = malloc(BIG);
	/* A UTF-8 text whose 3-byte characters straddle every chunk size. */
	for (size_t i = 0; i < BIG; i += 3)
		memcpy(big + i, i + 3 <= BIG ? "\xe2\x82\xac" : "ab", i + 3 <= BIG ? 3 : BIG - i);
	uint8_t close_payload[16];
	int close_len = relay_ws_close_build(close_payload, sizeof close_payload, 1000, "bye", 3);

	uint8_t *stream = malloc(BIG + 1024);
	size_t len = 0;
	len += put_frame(stream + len, true, RELAY_WS_OP_TEXT, "Hello", 5, k1);
	len += put_frame(stream + len, false, RELAY_WS_OP_TEXT, "Hel", 3, k2);
	len += put_frame(stream + len, true, RELAY_WS_OP_PING, "ping!", 5, k1);
	len += put_frame(stream + len, true, RELAY_WS_OP_CONTINUATION, "lo", 2, k2);
	len += put_frame(stream + len, true, RELAY_WS_OP_BINARY, NULL, 0, k1);
	len += put_frame(stream + len, false, RELAY_WS_OP_TEXT, big, 40000, k2);
	len += put_frame(stream + len, true, RELAY_WS_OP_CONTINUATION, big + 40000, BIG - 40000, k1);
	len += put_frame(stream + len, true, RELAY_WS_OP_CLOSE, close_payload, (size_t)close_len, k2);

	const struct { int op; size_t len; uint32_t sum; } want[] = {
		{ RELAY_WS_OP_TEXT, 5, sum_of("Hello", 5) },
		{ RELAY_WS_OP_PING, 5, sum_of("ping!", 5) },
		{ RELAY_WS_OP_TEXT, 5, sum_of("Hello", 5) },
		{ RELAY_WS_OP_BINARY, 0, 0 },
		{ RELAY_WS_OP_TEXT, BIG, sum_of(big, BIG) },
		{ RELAY_WS_OP_CLOSE, (size_t)close_len, sum_of(close_payload, (size_t)close_len) },
	};

	uint8_t *copy = malloc(len);
	static const size_t extra_chunks[] = { 100, 127, 4096, 65536, SIZE_MAX };
	for (size_t ci = 0; ci < 64 + sizeof extra_chunks / sizeof extra_chunks[0]; ci++) {
		size_t chunk = ci < 64 ? ci + 1 : extra_chunks[ci - 64];
		memcpy(copy, stream, len);
		struct walker *w = malloc(sizeof *w);
		walker_init(w, RELAY_WS_ROLE_SERVER, 1 << 20, 1 << 20);
		for (size_t off = 0; off < len; off += chunk) {
			size_t n = len - off < chunk ? len - off : chunk;
			cr_assert_eq(walker_feed(w, copy + off, n), RELAY_WS_OK, "chunk %zu at %zu: %s",
				     chunk, off, relay_ws_strerror(w->error));
			if (chunk == SIZE_MAX)
				break;
		}
		cr_assert_eq(w->num_events, sizeof want / sizeof want[0], "chunk %zu", chunk);
		for (size_t e = 0; e < w->num_events; e++) {
			cr_assert_eq(w->events[e].opcode, want[e].op, "chunk %zu event %zu", chunk, e);
			cr_assert_eq(w->events[e].len, want[e].len, "chunk %zu event %zu", chunk, e);
			cr_assert_eq(w->events[e].sum, want[e].sum, "chunk %zu event %zu", chunk, e);
		}
		cr_assert_eq(w->stash_len, 0);
		cr_assert_not(w->in_payload);
		free(w);
	}
	free(copy);
	free(stream);
	free(big);
}

Test(relay_ws_frame, stream_fails_on_invalid_utf8_split_across_fragments)
{
	/* "\xed" ends the first fragment, "\xa0\x80" (a surrogate) starts the
	 * second: each frame alone looks fine up to its end. */
	uint8_t stream[64];
	size_t len = 0;
	len += put_frame(stream + len, false, RELAY_WS_OP_TEXT, "ok\xed", 3, NULL);
	len += put_frame(stream + len, true, RELAY_WS_OP_CONTINUATION, "\xa0\x80", 2, NULL);
	for (size_t chunk = 1; chunk <= len; chunk++) {
		uint8_t copy[64];
		memcpy(copy, stream, len);
		struct walker w;
		walker_init(&w, RELAY_WS_ROLE_CLIENT, ANY, ANY);
		int rc = RELAY_WS_OK;
		for (size_t off = 0; off < len && rc == RELAY_WS_OK; off += chunk)
			rc = walker_feed(&w, copy + off, len - off < chunk ? len - off : chunk);
		cr_assert_eq(rc, RELAY_WS_E_INVALID_UTF8, "chunk %zu", chunk);
		cr_assert_eq(relay_ws_close_code_for(rc), 1007);
	}
}

Test(relay_ws_frame, stream_fails_on_text_ending_mid_code_point)
{
	uint8_t stream[16];
	size_t len = put_frame(stream, true, RELAY_WS_OP_TEXT, "ok\xe2\x82", 4, NULL);
	struct walker w;
	walker_init(&w, RELAY_WS_ROLE_CLIENT, ANY, ANY);
	cr_assert_eq(walker_feed(&w, stream, len), RELAY_WS_E_INVALID_UTF8);
}

/* ------------------------------------------------------------------ */
/* The fuzz corpus: files named bad-* are malformed on purpose and must be
 * refused. Corpus format (see tests/fuzz/fuzz_wsframe.c): byte 0 is flags —
 * bit 0 client role, bit 1 small limits (payload 1024, message 4096) — and
 * the rest is the received byte stream. */

Test(relay_ws_frame, rejects_every_malformed_corpus_file)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", __FILE__);
	char *slash = strrchr(dir, '/');
	cr_assert_not_null(slash, "__FILE__ is %s", __FILE__);
	snprintf(slash, sizeof dir - (size_t)(slash - dir), "/../fuzz/corpus/wsframe");
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "cannot open %s", dir);

	int num_bad = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "bad-", 4) != 0)
			continue;
		char path[PATH_MAX + 256];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		cr_assert_not_null(f, "%s", path);
		enum { MAX_FILE = 1 << 16 };
		uint8_t *data = malloc(MAX_FILE);
		size_t len = fread(data, 1, MAX_FILE, f);
		fclose(f);
		cr_assert_lt(len, MAX_FILE, "%s is too big for this test", path);
		cr_assert_gt(len, 0, "%s is empty", path);
		bool small = data[0] & 2;
		struct walker *w = malloc(sizeof *w);
		walker_init(w, data[0] & 1 ? RELAY_WS_ROLE_CLIENT : RELAY_WS_ROLE_SERVER,
			    small ? 1024 : 1 << 20, small ? 4096 : 1 << 22);
		int rc = walker_feed(w, data + 1, len - 1);
		cr_assert_lt(rc, RELAY_WS_INCOMPLETE, "%s was accepted", e->d_name);
		cr_log_info("%s: %s", e->d_name, relay_ws_strerror(rc));
		free(w);
		free(data);
		num_bad++;
	}
	closedir(d);
	cr_assert_gt(num_bad, 0, "no bad-* files in %s", dir);
}
