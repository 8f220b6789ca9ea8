/* Fuzz target for the stream `atmosphere-bench coord` reads from each
 * worker through SSH (bench/coord_wire.h frames, with the interval rows,
 * summaries and histogram lines they carry, bench/coord_merge.h).
 *
 * Input: the bytes of a stream. Properties:
 *   - a frame parsed OK lies inside the input, its header re-encodes to the
 *     same 8 bytes, and every proper prefix of it is "need more";
 *   - a status is OK, AGAIN or one of enum bench_wire_status, never
 *     anything else, and parsing stops at the first refusal;
 *   - HELLO and END payloads parse only within their limits (END text at
 *     most BENCH_WIRE_END_TEXT_MAX, HELLO's version printable);
 *   - nothing follows END in a stream the order check accepts;
 *   - rows, summaries and histograms are parsed as the coordinator does; an
 *     accepted row has t_start_s <= t_end_s, and an accepted histogram
 *     merges into an empty one of its layout with the same count.
 * Seeds: tests/fuzz/corpus/coordwire/ (tests/bench/test_coord_wire.c has
 * the malformed cases one by one). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/coord_merge.h"
#include "bench/coord_wire.h"
#include "bench/hist.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_payload(const struct bench_wire_frame *f)
{
	char err[200];
	switch (f->type) {
	case BENCH_WIRE_HELLO: {
		uint64_t clk;
		char v[BENCH_WIRE_HELLO_TEXT_MAX + 1];
		if (bench_wire_hello_parse(f, &clk, v) == BENCH_WIRE_OK) {
			CHECK(f->payload_len > 8 && f->payload_len <= 8 + BENCH_WIRE_HELLO_TEXT_MAX);
			CHECK(strlen(v) == f->payload_len - 8);
		}
		return;
	}
	case BENCH_WIRE_END: {
		uint8_t st;
		uint64_t cpu;
		const uint8_t *text;
		size_t tlen;
		if (bench_wire_end_parse(f, &st, &cpu, &text, &tlen) == BENCH_WIRE_OK) {
			CHECK(tlen <= BENCH_WIRE_END_TEXT_MAX);
			CHECK(text + tlen == f->payload + f->payload_len);
		}
		return;
	}
	case BENCH_WIRE_INTERVAL: {
		struct bench_coord_row r;
		if (!bench_coord_row_parse((const char *)f->payload, f->payload_len, &r, err, sizeof err))
			CHECK(r.t0_s >= 0 && r.t0_s <= r.t1_s);
		return;
	}
	case BENCH_WIRE_SUMMARY: {
		struct bench_coord_summary s;
		if (!bench_coord_summary_parse((const char *)f->payload, f->payload_len, &s, err, sizeof err))
			CHECK(s.measured_s >= 0);
		return;
	}
	case BENCH_WIRE_IHIST:
	case BENCH_WIRE_HIST: {
		struct bench_hdr *h = NULL;
		struct bench_hdr_error herr;
		if (bench_hdr_parse((const char *)f->payload, f->payload_len, &h, &herr) != BENCH_HDR_OK) {
			CHECK(h == NULL);
			return;
		}
		struct bench_hdr *m = bench_hdr_new(bench_hdr_sig_digits(h), bench_hdr_highest(h), NULL);
		if (m) {
			CHECK(bench_hdr_merge(m, h) == 0);
			CHECK(bench_hdr_count(m) == bench_hdr_count(h));
			bench_hdr_free(m);
		}
		bench_hdr_free(h);
		return;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	int prev = 0;
	bool ordered = true;
	while (off < size) {
		struct bench_wire_frame f;
		size_t used = 0;
		enum bench_wire_status st = bench_wire_frame_parse(data + off, size - off, &f, &used);
		CHECK(st == BENCH_WIRE_OK || st == BENCH_WIRE_AGAIN || st == BENCH_WIRE_E_MAGIC ||
		      st == BENCH_WIRE_E_VERSION || st == BENCH_WIRE_E_TYPE || st == BENCH_WIRE_E_TOO_LONG);
		CHECK(bench_wire_strerror(st) != NULL);
		if (st != BENCH_WIRE_OK)
			break;
		CHECK(used >= BENCH_WIRE_HEADER_LEN && used <= size - off);
		CHECK(used == BENCH_WIRE_HEADER_LEN + f.payload_len);
		CHECK(f.payload == data + off + BENCH_WIRE_HEADER_LEN);
		uint8_t hdr[BENCH_WIRE_HEADER_LEN];
		CHECK(bench_wire_header_encode(hdr, f.type, f.payload_len) == 0);
		CHECK(!memcmp(hdr, data + off, BENCH_WIRE_HEADER_LEN));
		if (used <= 256) /* every proper prefix needs more (cheap for small frames) */
			for (size_t k = 0; k < used; k++) {
				struct bench_wire_frame g;
				size_t u2 = 0;
				CHECK(bench_wire_frame_parse(data + off, k, &g, &u2) == BENCH_WIRE_AGAIN);
			}
		if (ordered) {
			if (prev == BENCH_WIRE_END)
				CHECK(!bench_wire_next_ok(prev, f.type));
			ordered = bench_wire_next_ok(prev, f.type);
			prev = f.type;
		}
		check_payload(&f);
		off += used;
	}
	return 0;
}
