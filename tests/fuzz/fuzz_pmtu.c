/* Fuzz target for node/pmtu.h's message parser (the body of a PMTU
 * message, which any member can send over a direct path or a relay) and the
 * measurement it feeds.
 *
 * Input: the body after the type byte. Properties:
 *   - an accepted body is a probe whose length is its size, or a 3-byte
 *     answer, and its size is one of node_pmtu_sizes;
 *   - parsing is the same twice (no hidden state);
 *   - an accepted probe is what node_pmtu_probe_body would write, apart
 *     from the padding (ignored);
 *   - an answer fed to a running measurement keeps its result within the
 *     probe sizes, and the path figure is never below NODE_OVERLAY_MTU nor
 *     above NODE_PMTU_MAX; without a measurement it changes nothing.
 * Seeds: tests/fuzz/corpus/pmtu/; tests/node/test_pmtu.c has the malformed
 * cases one by one. */
#include <stdint.h>
#include <string.h>

#include "node/pmtu.h"
#include "tests/fuzz/check.h"

static bool is_size(uint16_t s)
{
	for (size_t i = 0; i < NODE_PMTU_NUM_SIZES; i++)
		if (node_pmtu_sizes[i] == s)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t kind = 0, kind2 = 0;
	uint16_t sz = 0, sz2 = 0;
	bool ok = node_pmtu_parse(data, size, &kind, &sz);
	CHECK(ok == node_pmtu_parse(data, size, &kind2, &sz2));
	struct node_pmtu idle = {0}, run = {0};
	if (!ok) {
		CHECK(!node_pmtu_answer(&idle, 1280));
		return 0;
	}
	CHECK(kind == kind2 && sz == sz2);
	CHECK(is_size(sz));
	CHECK(kind == NODE_PMTU_PROBE ? size == sz : kind == NODE_PMTU_ANSWER && size == NODE_PMTU_HEAD_LEN);
	if (kind == NODE_PMTU_PROBE) {
		static uint8_t want[NODE_PMTU_MAX];
		node_pmtu_probe_body(sz, want);
		CHECK(!memcmp(data, want, NODE_PMTU_HEAD_LEN));
	}
	CHECK(!node_pmtu_answer(&idle, sz) && idle.best == 0);
	node_pmtu_sent(&run, 1000);
	CHECK(node_pmtu_answer(&run, sz) && run.best == sz);
	CHECK(node_pmtu_tick(&run, 1000 + NODE_PMTU_WAIT_MS));
	unsigned mtu = node_pmtu_path(&run, true);
	CHECK(mtu >= 1280 && mtu <= NODE_PMTU_MAX && run.mtu == sz);
	CHECK(node_pmtu_path(&run, false) == 1280);
	return 0;
}
