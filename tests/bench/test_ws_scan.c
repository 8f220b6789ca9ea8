/* bench/ws_scan and the frame builders of bench/ws_load: the wire-byte
 * accounting of the load generator, fed in every chunk size from 1 byte. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/relay_report.h"
#include "bench/ws_load.h"
#include "bench/ws_scan.h"
#include "relay/ws_frame.h"

/* A stream as a relay sends it to B (unmasked), with what it must count. */
struct t_stream {
	uint8_t *buf;
	size_t len;
	uint64_t header, payload, control;
	unsigned messages, text, pings, closes;
};

static void put_frame(struct t_stream *t, bool fin, uint8_t op, const uint8_t *p, size_t n, const uint8_t *mask)
{
	int len = relay_ws_frame_build(t->buf + t->len, 200000 - t->len, fin, op, p, n, mask);
	cr_assert_gt(len, 0, "build %zu bytes, opcode %u", n, op);
	size_t hl = (size_t)len - n;
	if (op & 0x8) {
		t->control += (uint64_t)len;
	} else {
		t->header += hl;
		t->payload += n;
	}
	t->len += (size_t)len;
}

/* The relay's notice, 3 x 1400 B, a ping, 126 B, 70000 B, a message in two
 * fragments with a pong between them, a close. */
static void build_stream(struct t_stream *t, const uint8_t *mask)
{
	static uint8_t big[70000];
	static const char notice[] = "{\"type\":\"paired\",\"session\":\"s1\"}";
	memset(t, 0, sizeof *t);
	t->buf = malloc(200000);
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 31u);
	put_frame(t, true, RELAY_WS_OP_TEXT, (const uint8_t *)notice, sizeof notice - 1, mask);
	for (int i = 0; i < 3; i++)
		put_frame(t, true, RELAY_WS_OP_BINARY, big + i, 1400, mask);
	put_frame(t, true, RELAY_WS_OP_PING, (const uint8_t *)"abcd", 4, mask);
	put_frame(t, true, RELAY_WS_OP_BINARY, big, 126, mask);
	put_frame(t, true, RELAY_WS_OP_BINARY, big, sizeof big, mask);
	put_frame(t, false, RELAY_WS_OP_BINARY, big + 5, 3, mask);
	put_frame(t, true, RELAY_WS_OP_PONG, NULL, 0, mask);
	put_frame(t, true, RELAY_WS_OP_CONTINUATION, big + 8, 20, mask);
	put_frame(t, true, RELAY_WS_OP_CLOSE, (const uint8_t *)"\x03\xe8", 2, mask);
	t->messages = 7;
	t->text = 1;
}

struct seen {
	unsigned messages, text, pings, pongs, closes;
	uint64_t lens[16];
	uint8_t heads[16][BENCH_WS_HEAD];
	size_t head_lens[16];
	uint8_t ping[8];
	size_t ping_len;
	uint16_t close_code;
};

static void on_event(void *arg, const struct bench_ws_event *ev)
{
	struct seen *s = arg;
	switch (ev->kind) {
	case BENCH_WS_EV_MESSAGE:
		cr_assert_lt(s->messages, 16);
		s->lens[s->messages] = ev->len;
		memcpy(s->heads[s->messages], ev->data, ev->data_len);
		s->head_lens[s->messages] = ev->data_len;
		s->messages++;
		s->text += ev->opcode == RELAY_WS_OP_TEXT;
		break;
	case BENCH_WS_EV_PING:
		s->pings++;
		memcpy(s->ping, ev->data, ev->data_len);
		s->ping_len = ev->data_len;
		break;
	case BENCH_WS_EV_PONG:
		s->pongs++;
		break;
	case BENCH_WS_EV_CLOSE:
		s->closes++;
		s->close_code = (uint16_t)(ev->data[0] << 8 | ev->data[1]);
		break;
	}
}

static void check_scan(const struct t_stream *t, enum relay_ws_role role, size_t chunk)
{
	struct bench_ws_scan sc;
	struct seen seen = {0};
	bench_ws_scan_init(&sc, role);
	for (size_t off = 0; off < t->len; off += chunk) {
		size_t n = t->len - off < chunk ? t->len - off : chunk;
		int rc = bench_ws_scan_feed(&sc, t->buf + off, n, on_event, &seen);
		cr_assert_eq(rc, RELAY_WS_OK, "chunk %zu at %zu: %s", chunk, off, relay_ws_strerror(rc));
		cr_assert_eq(sc.n.wire, sc.n.header + sc.n.payload + sc.n.control + sc.n.pending,
			     "chunk %zu at %zu: wire %llu != parts", chunk, off, (unsigned long long)sc.n.wire);
	}
	cr_assert_eq(sc.n.wire, t->len, "chunk %zu", chunk);
	cr_assert_eq(sc.n.pending, 0, "chunk %zu", chunk);
	cr_assert_eq(sc.n.header, t->header, "chunk %zu: header %llu, want %llu", chunk,
		     (unsigned long long)sc.n.header, (unsigned long long)t->header);
	cr_assert_eq(sc.n.payload, t->payload, "chunk %zu", chunk);
	cr_assert_eq(sc.n.control, t->control, "chunk %zu", chunk);
	cr_assert_eq(sc.n.messages, t->messages, "chunk %zu", chunk);
	cr_assert_eq(sc.n.text_messages, t->text, "chunk %zu", chunk);
	cr_assert_eq(sc.n.frames, 11, "chunk %zu", chunk);
	cr_assert_eq(seen.messages, 7);
	cr_assert_eq(seen.text, 1);
	cr_assert_eq(seen.pings, 1);
	cr_assert_eq(seen.pongs, 1);
	cr_assert_eq(seen.closes, 1);
	cr_assert_eq(seen.close_code, 1000);
	cr_assert_eq(seen.ping_len, 4);
	cr_assert_eq(memcmp(seen.ping, "abcd", 4), 0, "chunk %zu: ping payload unmasked", chunk);
	static const uint64_t lens[] = {32, 1400, 1400, 1400, 126, 70000, 23};
	for (unsigned i = 0; i < 7; i++)
		cr_assert_eq(seen.lens[i], lens[i], "chunk %zu: message %u is %llu bytes", chunk, i,
			     (unsigned long long)seen.lens[i]);
	cr_assert_eq(memcmp(seen.heads[0], "{\"type\":\"paired\"", 16), 0, "chunk %zu", chunk);
	for (unsigned i = 0; i < 16; i++)
		cr_assert_eq(seen.heads[2][i], (uint8_t)((i + 1) * 31u), "chunk %zu: head byte %u", chunk, i);
	/* the fragmented message's head spans both fragments: 3 bytes, then 13 */
	cr_assert_eq(seen.head_lens[6], 16);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(seen.heads[6][i], (uint8_t)((5 + i) * 31u));
	for (unsigned i = 3; i < 16; i++)
		cr_assert_eq(seen.heads[6][i], (uint8_t)((8 + i - 3) * 31u), "chunk %zu: head byte %u", chunk, i);
}

static const size_t chunks[] = {1, 2, 3, 5, 7, 13, 14, 15, 1399, 1400, 1401, 4096, 65536, 200000};

ParameterizedTestParameters(bench_ws_scan, counts_every_byte_from_a_relay)
{
	return cr_make_param_array(size_t, chunks, sizeof chunks / sizeof chunks[0]);
}

ParameterizedTest(const size_t *chunk, bench_ws_scan, counts_every_byte_from_a_relay)
{
	struct t_stream t;
	build_stream(&t, NULL);
	check_scan(&t, RELAY_WS_ROLE_CLIENT, *chunk);
	free(t.buf);
}

ParameterizedTestParameters(bench_ws_scan, counts_and_unmasks_every_byte_from_a_client)
{
	return cr_make_param_array(size_t, chunks, sizeof chunks / sizeof chunks[0]);
}

/* A sink receives A's frames masked: heads and control payloads come out
 * unmasked, byte counts include the 4-byte keys. */
ParameterizedTest(const size_t *chunk, bench_ws_scan, counts_and_unmasks_every_byte_from_a_client)
{
	static const uint8_t mask[4] = {0xa5, 0x3c, 0x0f, 0x96};
	struct t_stream t;
	build_stream(&t, mask);
	check_scan(&t, RELAY_WS_ROLE_SERVER, *chunk);
	free(t.buf);
}

Test(bench_ws_scan, a_broken_stream_is_reported_and_still_counted)
{
	uint8_t unmasked[16];
	int n = relay_ws_frame_build(unmasked, sizeof unmasked, true, RELAY_WS_OP_BINARY, (const uint8_t *)"hi", 2, NULL);
	struct bench_ws_scan sc;
	bench_ws_scan_init(&sc, RELAY_WS_ROLE_SERVER); /* a server requires masking */
	cr_assert_eq(bench_ws_scan_feed(&sc, unmasked, (size_t)n, NULL, NULL), RELAY_WS_E_MASK_REQUIRED);
	cr_assert_eq(bench_ws_scan_feed(&sc, unmasked, (size_t)n, NULL, NULL), RELAY_WS_E_MASK_REQUIRED);
	cr_assert_eq(sc.n.wire, 2u * (unsigned)n);
	cr_assert_eq(sc.n.wire, sc.n.header + sc.n.payload + sc.n.control + sc.n.pending);
	cr_assert_eq(sc.n.messages, 0);
}

struct hl_case {
	uint64_t len;
	bool masked;
	size_t want;
};

static const struct hl_case hl_cases[] = {
	{0, false, 2}, {125, false, 2}, {126, false, 4}, {65535, false, 4}, {65536, false, 10},
	{0, true, 6}, {64, true, 6}, {1400, true, 8}, {16384, true, 8}, {1048576, true, 14},
};

ParameterizedTestParameters(bench_ws_load, frame_header_length)
{
	return cr_make_param_array(struct hl_case, hl_cases, sizeof hl_cases / sizeof hl_cases[0]);
}

ParameterizedTest(const struct hl_case *c, bench_ws_load, frame_header_length)
{
	uint8_t hdr[RELAY_WS_MAX_HEADER_LEN], mask[4] = {1, 2, 3, 4};
	cr_assert_eq(bench_frame_header_len(c->len, c->masked), c->want, "%llu bytes, masked %d",
		     (unsigned long long)c->len, c->masked);
	int n = relay_ws_frame_build_header(hdr, true, RELAY_WS_OP_BINARY, c->len, c->masked ? mask : NULL);
	cr_assert_eq((size_t)n, c->want, "relay/ws_frame.h disagrees for %llu bytes", (unsigned long long)c->len);
}

/* A batch of frames from A, through a relay (unmasked again) to B: the
 * overhead the bench reports for 1,400-byte messages is the headers: 8 bytes
 * a message towards the relay, 4 away from it. */
Test(bench_ws_load, batch_scans_back_to_its_messages_and_overhead)
{
	static const uint8_t mask[4] = {9, 8, 7, 6};
	enum { N = 50, SIZE = 1400 };
	size_t cap = N * (SIZE + 14);
	uint8_t *a = malloc(cap), *b = malloc(cap);
	size_t alen = bench_frames_build(a, cap, SIZE, N, mask);
	size_t blen = bench_frames_build(b, cap, SIZE, N, NULL);
	cr_assert_eq(alen, (size_t)N * (SIZE + 8));
	cr_assert_eq(blen, (size_t)N * (SIZE + 4));
	cr_assert_eq(bench_frames_build(a, alen - 1, SIZE, N, mask), 0, "must not overrun");

	struct bench_ws_scan sa, sb;
	bench_ws_scan_init(&sa, RELAY_WS_ROLE_SERVER);
	bench_ws_scan_init(&sb, RELAY_WS_ROLE_CLIENT);
	cr_assert_eq(bench_ws_scan_feed(&sa, a, alen, NULL, NULL), RELAY_WS_OK);
	cr_assert_eq(bench_ws_scan_feed(&sb, b, blen, NULL, NULL), RELAY_WS_OK);
	cr_assert_eq(sa.n.messages, N);
	cr_assert_eq(sa.n.payload, (uint64_t)N * SIZE);
	cr_assert_eq(sb.n.payload, (uint64_t)N * SIZE);
	double oa = bench_relay_overhead(sa.n.wire, sa.n.payload), ob = bench_relay_overhead(sb.n.wire, sb.n.payload);
	double both = bench_relay_overhead(sa.n.wire + sb.n.wire, sa.n.payload + sb.n.payload);
	cr_assert_float_eq(oa, 8.0 / 1400, 1e-12);
	cr_assert_float_eq(ob, 4.0 / 1400, 1e-12);
	cr_assert_float_eq(both, 12.0 / 2800, 1e-12);
	cr_assert(both < 0.01, "under the 1 %% target");
	free(a);
	free(b);
}

Test(bench_ws_load, stamp_survives_masking)
{
	static const uint8_t mask[4] = {0xde, 0xad, 0xbe, 0xef};
	uint8_t frame[64], head[BENCH_WS_HEAD];
	size_t n = bench_frames_build(frame, sizeof frame, 40, 1, mask);
	cr_assert_eq(n, 46);
	bench_stamp_put(frame + 6, mask, 123456, 0x0123456789abcdefull);
	struct bench_ws_scan sc;
	struct seen seen = {0};
	bench_ws_scan_init(&sc, RELAY_WS_ROLE_SERVER);
	cr_assert_eq(bench_ws_scan_feed(&sc, frame, n, on_event, &seen), RELAY_WS_OK);
	cr_assert_eq(seen.messages, 1);
	memcpy(head, seen.heads[0], sizeof head);
	uint32_t sid = 0;
	uint64_t t = 0;
	cr_assert(bench_stamp_get(head, seen.head_lens[0], &sid, &t));
	cr_assert_eq(sid, 123456);
	cr_assert_eq(t, 0x0123456789abcdefull);
	cr_assert_not(bench_stamp_get(head, BENCH_STAMP_LEN - 1, &sid, &t), "too short");
	head[0] ^= 1;
	cr_assert_not(bench_stamp_get(head, sizeof head, &sid, &t), "bad magic");
}
