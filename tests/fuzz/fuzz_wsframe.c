/* Fuzz target for relay/ws_frame and relay/utf8: the relay's receive path
 * over a stream of frames.
 *
 * Input: byte 0 is flags — bit 0 client role (else server), bit 1 small
 * limits (payload 1024, message 4096; else 1 MiB, 4 MiB), bits 2-7 a chunk
 * size minus one — and the rest is the received byte stream. The stream is
 * walked twice, whole and in chunks of that size, as the relay would: the
 * header gathered in a 14-byte stash, the payload unmasked in place with a
 * running offset, text validated as it passes, close payloads parsed.
 * Properties:
 *   - a parsed header rebuilt with relay_ws_frame_build_header gives the
 *     same bytes (the decoder accepts minimal encodings only) and parses
 *     back to the same fields;
 *   - unmasking a piece equals XOR with key[(offset + i) % 4];
 *   - relay_utf8_validate agrees with a textbook decoder on every text piece;
 *   - whole and chunked walks reach the same verdict and, when the stream
 *     is valid, see the same frames and bytes.
 * Seeds: tests/fuzz/corpus/wsframe/ (bad-* must fail, see
 * tests/relay/test_ws_frame.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/utf8.h"
#include "relay/ws_frame.h"
#include "tests/fuzz/check.h"

/* Textbook UTF-8 decoder (RFC 3629): OK, E_INVALID, or E_TRUNCATED when
 * the input ends inside a sequence that is fine so far. */
static int reference_utf8(const uint8_t *s, size_t len)
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

struct walker {
	enum relay_ws_role role;
	uint64_t max_payload;
	uint8_t stash[RELAY_WS_MAX_HEADER_LEN];
	size_t stash_len;
	bool in_payload;
	struct relay_ws_hdr h;
	int msg_opcode;
	uint64_t done;
	struct relay_ws_msg_state msg;
	struct relay_utf8 utf8;
	uint8_t control[RELAY_WS_MAX_CONTROL_PAYLOAD];
	int error;
	uint32_t trace;          /* hash of every frame's fields and payload */
};

static void mix(struct walker *w, uint64_t v)
{
	w->trace = (w->trace ^ (uint32_t)v ^ (uint32_t)(v >> 32)) * 16777619u;
}

static void check_header(const struct walker *w, const uint8_t *raw, int n)
{
	uint8_t out[RELAY_WS_MAX_HEADER_LEN];
	const struct relay_ws_hdr *h = &w->h;
	int m = relay_ws_frame_build_header(out, h->fin, h->opcode, h->payload_len,
					    h->masked ? h->mask_key : NULL);
	CHECK(m == n);
	CHECK(memcmp(out, raw, (size_t)n) == 0);
	struct relay_ws_hdr back;
	CHECK(relay_ws_frame_parse_header(&back, w->role, w->max_payload, out, (size_t)m) == m);
	CHECK(back.fin == h->fin && back.opcode == h->opcode && back.masked == h->masked &&
	      back.payload_len == h->payload_len &&
	      memcmp(back.mask_key, h->mask_key, 4) == 0);
	/* Every proper prefix of the header is incomplete. */
	for (int cut = 0; cut < n; cut++)
		CHECK(relay_ws_frame_parse_header(&back, w->role, w->max_payload, out, (size_t)cut) ==
		      RELAY_WS_INCOMPLETE);
}

static int frame_done(struct walker *w)
{
	w->in_payload = false;
	if (w->msg_opcode == RELAY_WS_OP_CLOSE) {
		struct relay_ws_close cl;
		int rc = relay_ws_close_parse(&cl, w->control, (size_t)w->h.payload_len);
		if (rc != RELAY_WS_OK)
			return rc;
		CHECK(cl.reason_len <= RELAY_WS_MAX_CLOSE_REASON);
		uint8_t again[RELAY_WS_MAX_CONTROL_PAYLOAD];
		int n = relay_ws_close_build(again, sizeof again, cl.code, (const char *)cl.reason,
					     cl.reason_len);
		CHECK(n == (int)w->h.payload_len);
		CHECK(n == 0 || memcmp(again, w->control, (size_t)n) == 0);
		mix(w, cl.code);
	}
	if (!(w->msg_opcode & 8) && w->h.fin && w->msg_opcode == RELAY_WS_OP_TEXT &&
	    relay_utf8_finish(&w->utf8) != RELAY_UTF8_OK)
		return RELAY_WS_E_INVALID_UTF8;
	return RELAY_WS_OK;
}

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
			CHECK(n >= 2 && n <= RELAY_WS_MAX_HEADER_LEN && (size_t)n > w->stash_len);
			check_header(w, w->stash, n);
			i += (size_t)n - w->stash_len;
			w->stash_len = 0;
			int op = relay_ws_msg_next(&w->msg, &w->h);
			if (op < 0)
				return w->error = op;
			CHECK(op == RELAY_WS_OP_TEXT || op == RELAY_WS_OP_BINARY || (op & 8));
			mix(w, (uint64_t)op << 32 | w->h.fin);
			mix(w, w->h.payload_len);
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
		if (w->h.masked) {
			uint8_t ref[256];
			size_t check = n < sizeof ref ? n : sizeof ref;
			for (size_t k = 0; k < check; k++)
				ref[k] = p[k] ^ w->h.mask_key[(w->done + k) % 4];
			relay_ws_unmask(p, n, w->h.mask_key, w->done);
			CHECK(memcmp(ref, p, check) == 0);
		}
		if (w->msg_opcode == RELAY_WS_OP_TEXT) {
			int want = reference_utf8(p, n);
			int got = relay_utf8_validate(p, n);
			CHECK(got == want || (want == RELAY_UTF8_E_TRUNCATED && got == RELAY_UTF8_E_INVALID));
			if (relay_utf8_feed(&w->utf8, p, n) != RELAY_UTF8_OK)
				return w->error = RELAY_WS_E_INVALID_UTF8;
		}
		if (w->msg_opcode & 8)
			memcpy(w->control + w->done, p, n);
		for (size_t k = 0; k < n; k++)
			mix(w, p[k]);
		w->done += n;
		i += n;
		if (w->done == w->h.payload_len && (w->error = frame_done(w)))
			return w->error;
	}
	return w->error;
}

static void walker_init(struct walker *w, uint8_t flags)
{
	bool small = flags & 2;
	memset(w, 0, sizeof *w);
	w->role = flags & 1 ? RELAY_WS_ROLE_CLIENT : RELAY_WS_ROLE_SERVER;
	w->max_payload = small ? 1024 : 1 << 20;
	relay_ws_msg_init(&w->msg, small ? 4096 : 1 << 22);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	size_t len = size - 1;
	size_t chunk = (size_t)(flags >> 2) + 1;
	/* Exact-size copies: the walk unmasks in place, and ASan catches reads
	 * past the end. */
	uint8_t *whole = malloc(len ? len : 1);
	uint8_t *pieces = malloc(len ? len : 1);
	if (len) {
		memcpy(whole, data + 1, len);
		memcpy(pieces, data + 1, len);
	}

	static struct walker a, b;
	walker_init(&a, flags);
	walker_init(&b, flags);
	int ra = walker_feed(&a, whole, len);
	int rb = RELAY_WS_OK;
	for (size_t off = 0; off < len && rb == RELAY_WS_OK; off += chunk)
		rb = walker_feed(&b, pieces + off, len - off < chunk ? len - off : chunk);

	/* On failure the walks may have hashed different amounts of the failing
	 * piece; the verdict must still agree. */
	CHECK(ra == rb);
	CHECK(ra != RELAY_WS_OK || a.trace == b.trace);
	CHECK(ra <= RELAY_WS_OK && ra != RELAY_WS_INCOMPLETE && ra >= RELAY_WS_E_NO_ROOM);
	if (ra != RELAY_WS_OK) {
		uint16_t code = relay_ws_close_code_for(ra);
		CHECK(code == 1002 || code == 1007 || code == 1009);
	}
	free(whole);
	free(pieces);
	return 0;
}
