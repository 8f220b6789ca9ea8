/* Fuzz target for relay/proxy_proto: every input is parsed as the start of
 * a connection from a load balancer. Properties, not only survival:
 *   - a parse consumes at most len and at most RELAY_PROXY_MAX_LEN (v1: 107);
 *     "incomplete" only for inputs shorter than that bound;
 *   - the result is the same on exactly the consumed bytes, and one byte
 *     less is incomplete (a header ends at its last byte);
 *   - "incomplete" and relay_proxy_may_start agree with the signatures, and
 *     an error is final: more bytes never make it incomplete or valid;
 *   - the TLV span lies inside the header and walking it with
 *     relay_proxy_tlv_next ends exactly at its end;
 *   - a TCP4/TCP6 result rebuilt with both builders parses back to the same
 *     addresses and ports; UNSPEC and LOCAL rebuild as such.
 * Seeds: tests/fuzz/corpus/proxy/ (bad-* must fail, see
 * tests/relay/test_proxy_proto.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/proxy_proto.h"
#include "tests/fuzz/check.h"

static void check_rebuild(const struct relay_proxy_hdr *h)
{
	uint8_t out[RELAY_PROXY_MAX_LEN];
	struct relay_proxy_hdr back;
	for (int v = 1; v <= 2; v++) {
		int n = v == 1 ? relay_proxy_build_v1(out, sizeof out, h) : relay_proxy_build_v2(out, sizeof out, h);
		CHECK(n > 0);
		CHECK(relay_proxy_parse(&back, out, (size_t)n) == n);
		CHECK(back.version == v);
		if (h->local || h->family == RELAY_PROXY_AF_UNSPEC) {
			CHECK(back.family == RELAY_PROXY_AF_UNSPEC);
			continue;
		}
		CHECK(back.family == h->family);
		CHECK(!memcmp(back.src_addr, h->src_addr, 16));
		CHECK(!memcmp(back.dst_addr, h->dst_addr, 16));
		CHECK(back.src_port == h->src_port);
		CHECK(back.dst_port == h->dst_port);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_proxy_hdr h, again;
	int n = relay_proxy_parse(&h, data, size);
	CHECK(n >= RELAY_PROXY_E_TLV && n <= (int)size && n != RELAY_PROXY_OK);
	CHECK(n <= RELAY_PROXY_MAX_LEN);
	if (n == RELAY_PROXY_INCOMPLETE) {
		CHECK(size < RELAY_PROXY_MAX_LEN);
		CHECK(relay_proxy_may_start(data, size));
		return 0;
	}
	if (n < 0) {
		/* Final: the input with a byte more is not valid either (it
		 * may still be another error: a v2 length read later). */
		uint8_t *more = malloc(size + 1);
		if (!more)
			return 0;
		memcpy(more, data, size);
		more[size] = '\n';
		int m = relay_proxy_parse(&again, more, size + 1);
		free(more);
		CHECK(m < 0 && m != RELAY_PROXY_INCOMPLETE);
		if (n == RELAY_PROXY_E_NOT_PROXY)
			CHECK(!relay_proxy_may_start(data, size));
		return 0;
	}
	CHECK(h.version == 1 || h.version == 2);
	if (h.version == 1)
		CHECK(n <= RELAY_PROXY_V1_MAX_LEN && h.tlv_len == 0);
	CHECK(h.family == RELAY_PROXY_AF_UNSPEC || h.family == RELAY_PROXY_AF_INET || h.family == RELAY_PROXY_AF_INET6);
	if (h.local)
		CHECK(h.version == 2 && h.family == RELAY_PROXY_AF_UNSPEC);
	if (h.tlv_len) {
		CHECK(h.tlv >= data && h.tlv + h.tlv_len <= data + n);
		size_t off = 0, walked = 0;
		struct relay_proxy_tlv t;
		while (relay_proxy_tlv_next(&h, &off, &t)) {
			CHECK(t.value >= h.tlv && t.value + t.len <= h.tlv + h.tlv_len);
			walked += 3u + t.len;
		}
		CHECK(off == h.tlv_len && walked == h.tlv_len);
	}
	/* Exactly the consumed bytes give the same; one less is incomplete. */
	CHECK(relay_proxy_parse(&again, data, (size_t)n) == n);
	CHECK(again.family == h.family && again.src_port == h.src_port && !memcmp(again.src_addr, h.src_addr, 16));
	CHECK(relay_proxy_parse(&again, data, (size_t)n - 1) == RELAY_PROXY_INCOMPLETE);
	check_rebuild(&h);
	return 0;
}
