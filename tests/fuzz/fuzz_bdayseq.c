/* Fuzz target for the hard-NAT prediction message, NODE_MSG_PROBE 'S'
 * (node/birthday.h, node_bday_seq_parse), which a peer sends us inside its
 * e2e session.
 *
 * Input: the message's bytes. These must hold:
 *   - a refused message leaves the output untouched;
 *   - an accepted one has a nonzero stride and 1..NODE_BDAY_SOCKETS_MAX
 *     sockets, and re-encodes to the same bytes;
 *   - its probe window (node_bday_seq_window, the default budget) stays in
 *     1024-65535 with no port twice, and node_bday_predict on an attempt
 *     gives node_bday_next_port the same ports.
 * A broken property aborts, which libFuzzer and the replay test report. */
#include <stdint.h>
#include <string.h>

#include "node/birthday.h"
#include "node/wire.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct node_bday_seq s, blank;
	memset(&s, 0xa5, sizeof s);
	memcpy(&blank, &s, sizeof s);
	if (!node_bday_seq_parse(data, size, &s)) {
		CHECK(!memcmp(&s, &blank, sizeof s));
		return 0;
	}
	CHECK(s.stride != 0 && s.opened >= 1 && s.opened <= NODE_BDAY_SOCKETS_MAX);
	uint8_t m[NODE_BDAY_SEQ_LEN];
	node_bday_seq_encode(&s, m);
	CHECK(size == sizeof m && !memcmp(m, data, size));
	static uint16_t win[NODE_BDAY_SOCKETS_MAX + NODE_BDAY_SEQ_SLACK];
	const struct node_bday_budget *bu = node_bday_budget(NODE_HARD_NAT_ON);
	size_t n = node_bday_seq_window(s.last, s.stride, s.opened, NODE_BDAY_SEQ_SLACK, bu->max_probes, win,
					sizeof win / sizeof win[0]);
	CHECK(n <= (size_t)s.opened + NODE_BDAY_SEQ_SLACK);
	for (size_t i = 0; i < n; i++) {
		CHECK(win[i] >= NODE_BDAY_PORT_MIN);
		for (size_t j = 0; j < i; j++)
			CHECK(win[i] != win[j]);
	}
	struct node_bday b;
	memset(&b, 0, sizeof b);
	CHECK(node_bday_accept(&b, NODE_BDAY_EASY, false, false, 1000000));
	CHECK(node_bday_predict(&b, &s));
	CHECK(node_bday_go(&b, 1000000, 1, 1, bu));
	for (size_t i = 0; i < n; i++)
		CHECK(node_bday_next_port(&b) == win[i]);
	return 0;
}
