/* bench/coord_wire: the worker -> coordinator frames. Round trips, every
 * proper prefix is "need more", each header field refused on its own,
 * HELLO and END payloads, the stream order, inputs that end against a
 * PROT_NONE page. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench/coord_wire.h"

/* A frame of type with payload p[0..n) into out; returns its length. */
static size_t t_frame(uint8_t *out, enum bench_wire_type type, const void *p, size_t n)
{
	cr_assert_eq(bench_wire_header_encode(out, type, n), 0);
	memcpy(out + BENCH_WIRE_HEADER_LEN, p, n);
	return BENCH_WIRE_HEADER_LEN + n;
}

/* Copies b[0..n) so that it ends right before a PROT_NONE page. */
static const uint8_t *t_fence(const uint8_t *b, size_t n, void **out_map, size_t *out_map_len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), len = ((n + pg - 1) / pg + 1) * pg;
	uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(m, MAP_FAILED);
	cr_assert_eq(mprotect(m + len - pg, pg, PROT_NONE), 0);
	uint8_t *p = m + len - pg - n;
	memcpy(p, b, n);
	*out_map = m;
	*out_map_len = len;
	return p;
}

Test(coord_wire, round_trip_and_every_prefix_needs_more)
{
	static const char row[] = "{\"interval\":0}";
	uint8_t buf[64];
	size_t n = t_frame(buf, BENCH_WIRE_INTERVAL, row, sizeof row - 1);
	void *map;
	size_t map_len;
	for (size_t k = 0; k <= n; k++) {
		const uint8_t *p = t_fence(buf, k, &map, &map_len);
		struct bench_wire_frame f = {0};
		size_t used = 0;
		enum bench_wire_status st = bench_wire_frame_parse(p, k, &f, &used);
		if (k < n) {
			cr_assert_eq(st, BENCH_WIRE_AGAIN, "prefix of %zu bytes: status %d", k, st);
		} else {
			cr_assert_eq(st, BENCH_WIRE_OK);
			cr_assert_eq(used, n);
			cr_assert_eq(f.type, BENCH_WIRE_INTERVAL);
			cr_assert_eq(f.payload_len, sizeof row - 1);
			cr_assert_arr_eq(f.payload, row, sizeof row - 1);
		}
		munmap(map, map_len);
	}
}

Test(coord_wire, two_frames_back_to_back)
{
	uint8_t buf[64];
	size_t n1 = t_frame(buf, BENCH_WIRE_SUMMARY, "{}", 2);
	size_t n2 = t_frame(buf + n1, BENCH_WIRE_HIST, "", 0);
	struct bench_wire_frame f;
	size_t used;
	cr_assert_eq(bench_wire_frame_parse(buf, n1 + n2, &f, &used), BENCH_WIRE_OK);
	cr_assert_eq(used, n1);
	cr_assert_eq(bench_wire_frame_parse(buf + n1, n2, &f, &used), BENCH_WIRE_OK);
	cr_assert_eq(f.type, BENCH_WIRE_HIST);
	cr_assert_eq(f.payload_len, 0);
}

struct bad_header {
	const char *name;
	uint8_t bytes[8];
	size_t len;
	enum bench_wire_status want;
};

static const struct bad_header bad_headers[] = {
	{"magic byte 0", {'B', 'W', 1, 'I', 0, 0, 0, 0}, 8, BENCH_WIRE_E_MAGIC},
	{"magic byte 0 alone", {'{'}, 1, BENCH_WIRE_E_MAGIC},
	{"magic byte 1", {'A', 'X', 1, 'I', 0, 0, 0, 0}, 8, BENCH_WIRE_E_MAGIC},
	{"version 0", {'A', 'W', 0, 'I', 0, 0, 0, 0}, 8, BENCH_WIRE_E_VERSION},
	{"version 2, header cut", {'A', 'W', 2}, 3, BENCH_WIRE_E_VERSION},
	{"type x", {'A', 'W', 1, 'x', 0, 0, 0, 0}, 8, BENCH_WIRE_E_TYPE},
	{"type 0", {'A', 'W', 1, 0, 0, 0, 0, 0}, 8, BENCH_WIRE_E_TYPE},
	{"length over the limit", {'A', 'W', 1, 'H', 0x01, 0x00, 0x00, 0x01}, 8, BENCH_WIRE_E_TOO_LONG},
	{"length 2^32-1", {'A', 'W', 1, 'H', 0xff, 0xff, 0xff, 0xff}, 8, BENCH_WIRE_E_TOO_LONG},
};

Test(coord_wire, refuses_each_bad_header_field)
{
	for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
		const struct bad_header *b = &bad_headers[i];
		void *map;
		size_t map_len;
		const uint8_t *p = t_fence(b->bytes, b->len, &map, &map_len);
		struct bench_wire_frame f;
		size_t used = 0;
		enum bench_wire_status st = bench_wire_frame_parse(p, b->len, &f, &used);
		cr_expect_eq(st, b->want, "%s: status %d (%s), want %d", b->name, st, bench_wire_strerror(st), b->want);
		munmap(map, map_len);
	}
}

Test(coord_wire, header_encode_refuses_an_oversized_payload)
{
	uint8_t h[BENCH_WIRE_HEADER_LEN];
	cr_assert_eq(bench_wire_header_encode(h, BENCH_WIRE_HIST, (size_t)BENCH_WIRE_PAYLOAD_MAX + 1), -1);
	cr_assert_eq(bench_wire_header_encode(h, BENCH_WIRE_HIST, BENCH_WIRE_PAYLOAD_MAX), 0);
}

Test(coord_wire, hello_payload)
{
	uint8_t p[8 + BENCH_WIRE_HELLO_TEXT_MAX + 1];
	bench_wire_u64_encode(p, UINT64_C(0x0102030405060708));
	memcpy(p + 8, "atmosphere-bench 0.1.0", 22);
	struct bench_wire_frame f = {.type = BENCH_WIRE_HELLO, .payload = p, .payload_len = 30};
	uint64_t clk = 0;
	char v[BENCH_WIRE_HELLO_TEXT_MAX + 1];
	cr_assert_eq(bench_wire_hello_parse(&f, &clk, v), BENCH_WIRE_OK);
	cr_assert_eq(clk, UINT64_C(0x0102030405060708));
	cr_assert_str_eq(v, "atmosphere-bench 0.1.0");
	f.payload_len = 8; /* no version text */
	cr_assert_eq(bench_wire_hello_parse(&f, &clk, v), BENCH_WIRE_E_PAYLOAD);
	f.payload_len = 30;
	p[12] = '\n'; /* not printable */
	cr_assert_eq(bench_wire_hello_parse(&f, &clk, v), BENCH_WIRE_E_PAYLOAD);
	memset(p + 8, 'a', BENCH_WIRE_HELLO_TEXT_MAX + 1);
	f.payload_len = 8 + BENCH_WIRE_HELLO_TEXT_MAX + 1; /* too long */
	cr_assert_eq(bench_wire_hello_parse(&f, &clk, v), BENCH_WIRE_E_PAYLOAD);
	f.payload_len = 8 + BENCH_WIRE_HELLO_TEXT_MAX;
	cr_assert_eq(bench_wire_hello_parse(&f, &clk, v), BENCH_WIRE_OK);
	cr_assert_eq(strlen(v), BENCH_WIRE_HELLO_TEXT_MAX);
}

Test(coord_wire, end_payload)
{
	uint8_t p[9 + 5];
	p[0] = 3;
	bench_wire_u64_encode(p + 1, 1234567890123u);
	memcpy(p + 9, "oops\n", 5);
	struct bench_wire_frame f = {.type = BENCH_WIRE_END, .payload = p, .payload_len = sizeof p};
	uint8_t st;
	uint64_t cpu;
	const uint8_t *text;
	size_t tlen;
	cr_assert_eq(bench_wire_end_parse(&f, &st, &cpu, &text, &tlen), BENCH_WIRE_OK);
	cr_assert_eq(st, 3);
	cr_assert_eq(cpu, 1234567890123u);
	cr_assert_eq(tlen, 5);
	cr_assert_arr_eq(text, "oops\n", 5);
	f.payload_len = 8; /* the CPU time cut */
	cr_assert_eq(bench_wire_end_parse(&f, &st, &cpu, &text, &tlen), BENCH_WIRE_E_PAYLOAD);
	f.payload_len = 9 + BENCH_WIRE_END_TEXT_MAX + 1;
	cr_assert_eq(bench_wire_end_parse(&f, &st, &cpu, &text, &tlen), BENCH_WIRE_E_PAYLOAD);
	f.type = BENCH_WIRE_HELLO;
	f.payload_len = sizeof p;
	cr_assert_eq(bench_wire_end_parse(&f, &st, &cpu, &text, &tlen), BENCH_WIRE_E_PAYLOAD);
}

Test(coord_wire, stream_order)
{
	static const char good[] = "VILILISHE";
	int prev = 0;
	for (const char *t = good; *t; t++) {
		cr_assert(bench_wire_next_ok(prev, (enum bench_wire_type)*t), "'%c' after '%c'", *t, prev ? prev : '-');
		prev = *t;
	}
	cr_assert(bench_wire_next_ok(BENCH_WIRE_HELLO, BENCH_WIRE_END), "a run that failed at once");
	cr_assert(bench_wire_next_ok(BENCH_WIRE_INTERVAL, BENCH_WIRE_INTERVAL), "rows without histograms");
	static const char *const bad[] = {"I", "E", "VL", "VV", "VILL", "VEI", "VSI", "VHS", "VEE", "VSHI"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		prev = 0;
		bool ok = true;
		for (const char *t = bad[i]; *t && ok; t++) {
			ok = bench_wire_next_ok(prev, (enum bench_wire_type)*t);
			prev = *t;
		}
		cr_assert(!ok, "%s accepted", bad[i]);
	}
}
