/* relay/ws_frame against wslay's frame layer (wslay_frame_*), in memory.
 * Frames relay_ws_frame_build writes must parse with wslay_frame_recv into
 * the same fields and payload, and frames wslay_frame_send writes must parse
 * with relay_ws_frame_parse_header and unmask with relay_ws_unmask; with the
 * same mask key both write the same bytes. Cases cover masked and unmasked
 * frames, the 7-, 16- and 64-bit length encodings at their edges (RFC 6455
 * §5.2), data, continuation and control frames, bytes delivered one at a
 * time, and malformed headers both must refuse. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "harness.h"
#include "relay/ws_frame.h"

/* ------------------------------------------------------------------ */
/* wslay's frame callbacks over a memory buffer. */

struct t_mem {
	uint8_t *buf;
	size_t len, off, cap;
	size_t chunk;            /* most bytes handed to wslay per recv */
	uint8_t key[4];          /* what genmask returns */
};

static ssize_t t_mem_recv(uint8_t *buf, size_t len, int flags, void *user_data)
{
	struct t_mem *m = user_data;
	(void)flags;
	size_t n = m->len - m->off;
	if (n > len)
		n = len;
	if (n > m->chunk)
		n = m->chunk;
	if (!n)
		return -1; /* wslay: WSLAY_ERR_WANT_READ */
	memcpy(buf, m->buf + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static ssize_t t_mem_send(const uint8_t *data, size_t len, int flags, void *user_data)
{
	struct t_mem *m = user_data;
	(void)flags;
	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		m->buf = realloc(m->buf, m->cap);
	}
	memcpy(m->buf + m->len, data, len);
	m->len += len;
	return (ssize_t)len;
}

static int t_mem_genmask(uint8_t *buf, size_t len, void *user_data)
{
	struct t_mem *m = user_data;
	cr_assert_eq(len, 4);
	memcpy(buf, m->key, 4);
	return 0;
}

static wslay_frame_context_ptr t_wslay_frames(struct t_mem *m)
{
	static const struct wslay_frame_callbacks cbs = {t_mem_send, t_mem_recv, t_mem_genmask};
	wslay_frame_context_ptr ctx;
	cr_assert_eq(wslay_frame_context_init(&ctx, &cbs, m), 0);
	return ctx;
}

/* ------------------------------------------------------------------ */
/* The cases. */

struct t_frame_case {
	uint8_t opcode;
	bool fin;
	size_t len;
};

static const struct t_frame_case t_cases[] = {
	{RELAY_WS_OP_TEXT, true, 0},
	{RELAY_WS_OP_BINARY, true, 1},
	{RELAY_WS_OP_BINARY, true, 125},     /* largest 7-bit length */
	{RELAY_WS_OP_TEXT, true, 126},       /* smallest 16-bit length */
	{RELAY_WS_OP_BINARY, false, 127},
	{RELAY_WS_OP_CONTINUATION, false, 65535}, /* largest 16-bit length */
	{RELAY_WS_OP_CONTINUATION, true, 65536},  /* smallest 64-bit length */
	{RELAY_WS_OP_BINARY, true, 300001},
	{RELAY_WS_OP_PING, true, 0},
	{RELAY_WS_OP_PING, true, 125},
	{RELAY_WS_OP_PONG, true, 7},
	{RELAY_WS_OP_CLOSE, true, 2},
	{RELAY_WS_OP_CLOSE, true, 125},
};
enum { T_NUM_CASES = sizeof t_cases / sizeof t_cases[0] };

static const uint8_t t_key[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Reads one whole frame with wslay_frame_recv and checks it is c, masked
 * when masked, with payload want. */
static void t_wslay_expect(wslay_frame_context_ptr ctx, const struct t_mem *m, const struct t_frame_case *c,
			   bool masked, const uint8_t *want)
{
	uint8_t *got = malloc(c->len ? c->len : 1);
	size_t n = 0;
	struct wslay_frame_iocb io;
	do {
		memset(&io, 0, sizeof io);
		ssize_t r = wslay_frame_recv(ctx, &io);
		if (r == WSLAY_ERR_WANT_READ) {
			/* t_mem_recv handed over a piece of the header. */
			cr_assert_lt(m->off, m->len, "wslay wants more than the stream has (opcode %u, length %zu)",
				     c->opcode, c->len);
			continue;
		}
		cr_assert_geq(r, 0, "wslay_frame_recv: %zd (opcode %u, length %zu)", r, c->opcode, c->len);
		cr_assert_eq(io.opcode, c->opcode);
		cr_assert_eq(io.fin, c->fin, "FIN %u for opcode %u length %zu", io.fin, c->opcode, c->len);
		cr_assert_eq(io.rsv, 0);
		cr_assert_eq(io.mask, masked);
		cr_assert_eq(io.payload_length, c->len, "wslay read length %llu, want %zu",
			     (unsigned long long)io.payload_length, c->len);
		cr_assert_leq(n + io.data_length, c->len);
		memcpy(got + n, io.data, io.data_length);
		n += io.data_length;
		if (n == c->len)
			break;
	} while (1);
	cr_assert_arr_eq(got, want, c->len, "payload of opcode %u length %zu", c->opcode, c->len);
	free(got);
}

/* Every case built by us, back to back in one stream, read by wslay in
 * pieces of chunk bytes: lengths that were off by one byte would shift
 * every frame after. */
static void t_ours_to_wslay(bool masked, size_t chunk)
{
	struct t_mem m = {.chunk = chunk};
	uint8_t *payloads[T_NUM_CASES];
	for (size_t i = 0; i < T_NUM_CASES; i++) {
		const struct t_frame_case *c = &t_cases[i];
		payloads[i] = t_pattern(c->len, (unsigned)i);
		if (c->opcode == RELAY_WS_OP_CLOSE) {
			memset(payloads[i], 'r', c->len);
			payloads[i][0] = 0x03, payloads[i][1] = 0xe8; /* 1000 */
		}
		size_t cap = c->len + RELAY_WS_MAX_HEADER_LEN;
		uint8_t *frame = malloc(cap);
		int n = relay_ws_frame_build(frame, cap, c->fin, c->opcode, payloads[i], c->len,
					     masked ? t_key : NULL);
		cr_assert_gt(n, 0, "relay_ws_frame_build: %s", relay_ws_strerror(n));
		t_mem_send(frame, (size_t)n, 0, &m);
		free(frame);
	}
	wslay_frame_context_ptr ctx = t_wslay_frames(&m);
	for (size_t i = 0; i < T_NUM_CASES; i++)
		t_wslay_expect(ctx, &m, &t_cases[i], masked, payloads[i]);
	cr_assert_eq(m.off, m.len, "wslay left %zu bytes of the stream", m.len - m.off);
	wslay_frame_context_free(ctx);
	for (size_t i = 0; i < T_NUM_CASES; i++)
		free(payloads[i]);
	free(m.buf);
}

Test(ws_frame_wslay, ours_unmasked_parse_with_wslay)
{
	t_ours_to_wslay(false, 1 << 20);
}

Test(ws_frame_wslay, ours_masked_parse_with_wslay)
{
	t_ours_to_wslay(true, 1 << 20);
}

Test(ws_frame_wslay, ours_parse_with_wslay_a_byte_at_a_time)
{
	t_ours_to_wslay(true, 1);
	t_ours_to_wslay(false, 1);
}

Test(ws_frame_wslay, ours_parse_with_wslay_in_odd_pieces)
{
	t_ours_to_wslay(true, 3);
	t_ours_to_wslay(false, 4093);
}

/* Each case written by wslay_frame_send; parsed by us. */
static void t_wslay_to_ours(bool masked)
{
	for (size_t i = 0; i < T_NUM_CASES; i++) {
		const struct t_frame_case *c = &t_cases[i];
		struct t_mem m = {.chunk = SIZE_MAX};
		memcpy(m.key, t_key, 4);
		uint8_t *payload = t_pattern(c->len, (unsigned)i + 100);
		if (c->opcode == RELAY_WS_OP_CLOSE)
			payload[0] = 0x0f, payload[1] = 0xa0; /* 4000, then any bytes */
		wslay_frame_context_ptr ctx = t_wslay_frames(&m);
		struct wslay_frame_iocb io = {.fin = c->fin,
					      .opcode = c->opcode,
					      .mask = masked,
					      .payload_length = c->len,
					      .data = payload,
					      .data_length = c->len};
		size_t sent = 0;
		do {
			ssize_t r = wslay_frame_send(ctx, &io);
			cr_assert_geq(r, 0, "wslay_frame_send: %zd", r);
			sent += (size_t)r;
			io.data += r;
			io.data_length -= (size_t)r;
		} while (sent < c->len);
		wslay_frame_context_free(ctx);

		/* A server reads masked frames, a client unmasked ones (§5.1). */
		struct relay_ws_hdr h;
		enum relay_ws_role role = masked ? RELAY_WS_ROLE_SERVER : RELAY_WS_ROLE_CLIENT;
		int hl = relay_ws_frame_parse_header(&h, role, UINT64_MAX, m.buf, m.len);
		cr_assert_gt(hl, 0, "parse of wslay's opcode %u length %zu: %s", c->opcode, c->len,
			     relay_ws_strerror(hl));
		cr_assert_eq(h.opcode, c->opcode);
		cr_assert_eq(h.fin, c->fin);
		cr_assert_eq(h.masked, masked);
		cr_assert_eq(h.payload_len, c->len);
		cr_assert_eq(m.len, (size_t)hl + c->len, "wslay wrote %zu bytes for a %d-byte header and %zu payload",
			     m.len, hl, c->len);
		if (masked)
			cr_assert_arr_eq(h.mask_key, t_key, 4);
		/* Every proper prefix of the header is "need more", not an error. */
		for (int k = 0; k < hl; k++) {
			struct relay_ws_hdr h2;
			cr_assert_eq(relay_ws_frame_parse_header(&h2, role, UINT64_MAX, m.buf, (size_t)k),
				     RELAY_WS_INCOMPLETE, "prefix of %d bytes", k);
		}
		/* Unmask in two pieces split at an odd offset, as the relay does. */
		uint8_t *p = m.buf + hl;
		if (masked) {
			size_t split = c->len / 3;
			relay_ws_unmask(p, split, h.mask_key, 0);
			relay_ws_unmask(p + split, c->len - split, h.mask_key, split);
		}
		cr_assert_arr_eq(p, payload, c->len, "payload of opcode %u length %zu", c->opcode, c->len);
		if (c->opcode == RELAY_WS_OP_CLOSE) {
			/* The payload is not valid UTF-8 past the code, so only the
			 * code is compared: relay_ws_close_parse would refuse it. */
			cr_assert_eq((p[0] << 8) | p[1], 4000);
		}

		/* With the same key, our builder writes the same bytes. */
		size_t cap = c->len + RELAY_WS_MAX_HEADER_LEN;
		uint8_t *ours = malloc(cap);
		int n = relay_ws_frame_build(ours, cap, c->fin, c->opcode, payload, c->len, masked ? t_key : NULL);
		cr_assert_eq(n, (int)m.len, "our frame is %d bytes, wslay's %zu", n, m.len);
		cr_assert_arr_eq(ours, m.buf, (size_t)hl, "headers differ for opcode %u length %zu", c->opcode,
				 c->len);
		if (masked)
			relay_ws_unmask(ours + hl, c->len, t_key, 0);
		cr_assert_arr_eq(ours + hl, payload, c->len);
		free(ours);
		free(payload);
		free(m.buf);
	}
}

Test(ws_frame_wslay, wslay_unmasked_parse_with_ours)
{
	t_wslay_to_ours(false);
}

Test(ws_frame_wslay, wslay_masked_parse_with_ours)
{
	t_wslay_to_ours(true);
}

/* ------------------------------------------------------------------ */
/* Headers both must refuse. wslay's frame layer checks lengths and control
 * frames (RSV bits and opcodes are its event layer's business). */

struct t_bad {
	const char *what;
	uint8_t bytes[10];
	size_t len;
	int ours;
};

Test(ws_frame_wslay, both_refuse_the_same_headers)
{
	static const struct t_bad bad[] = {
		{"ping of 126 bytes", {0x89, 0x7e, 0x00, 0x7e}, 4, RELAY_WS_E_CONTROL_TOO_LONG},
		{"close of 126 bytes", {0x88, 0x7e, 0x00, 0x7e}, 4, RELAY_WS_E_CONTROL_TOO_LONG},
		{"ping without FIN", {0x09, 0x00}, 2, RELAY_WS_E_CONTROL_FRAGMENTED},
		{"pong without FIN", {0x0a, 0x03}, 2, RELAY_WS_E_CONTROL_FRAGMENTED},
		{"16-bit length below 126", {0x82, 0x7e, 0x00, 0x7d}, 4, RELAY_WS_E_LENGTH},
		{"64-bit length below 65536", {0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 10, RELAY_WS_E_LENGTH},
		{"64-bit length with the top bit", {0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10, RELAY_WS_E_LENGTH},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct t_mem m = {.chunk = SIZE_MAX, .len = bad[i].len};
		m.buf = malloc(bad[i].len);
		memcpy(m.buf, bad[i].bytes, bad[i].len);
		wslay_frame_context_ptr ctx = t_wslay_frames(&m);
		struct wslay_frame_iocb io;
		memset(&io, 0, sizeof io);
		cr_expect_eq(wslay_frame_recv(ctx, &io), WSLAY_ERR_PROTO, "wslay accepted %s", bad[i].what);
		wslay_frame_context_free(ctx);
		struct relay_ws_hdr h;
		int r = relay_ws_frame_parse_header(&h, RELAY_WS_ROLE_CLIENT, UINT64_MAX, bad[i].bytes, bad[i].len);
		cr_expect_eq(r, bad[i].ours, "%s: ours %s", bad[i].what, relay_ws_strerror(r));
		free(m.buf);
	}
}

Test(ws_frame_wslay, both_refuse_to_build_long_control_frames)
{
	static const uint8_t ops[] = {RELAY_WS_OP_PING, RELAY_WS_OP_PONG, RELAY_WS_OP_CLOSE};
	uint8_t payload[126] = {0}, hdr[RELAY_WS_MAX_HEADER_LEN];
	for (size_t i = 0; i < sizeof ops; i++) {
		struct t_mem m = {.chunk = SIZE_MAX};
		wslay_frame_context_ptr ctx = t_wslay_frames(&m);
		struct wslay_frame_iocb io = {
			.fin = 1, .opcode = ops[i], .payload_length = 126, .data = payload, .data_length = 126};
		cr_expect_eq(wslay_frame_send(ctx, &io), WSLAY_ERR_INVALID_ARGUMENT, "wslay built opcode %u", ops[i]);
		wslay_frame_context_free(ctx);
		cr_expect_eq(relay_ws_frame_build_header(hdr, true, ops[i], 126, NULL), RELAY_WS_E_CONTROL_TOO_LONG);
		cr_expect_eq(m.len, 0, "wslay wrote %zu bytes of a refused frame", m.len);
		free(m.buf);
	}
}
