/* Fuzz node_pake_msg_parse, the parser of the short-code join's messages
 * that whoever reaches the rendezvous session on a relay may send: never
 * crashes; a failure is a known status; a success re-encodes to the very
 * same bytes, and its fields point inside the input. Inputs that parse as
 * a START or a REPLY are also fed to an exchange (a SPAKE2 message of
 * anyone's choosing), which must refuse them or fail the confirmation the
 * input carries; a typed short code (input starting with "MESH") parses to
 * a canonical code that parses to itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/pake.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
	return p >= data && p + n <= data + size;
}

static void typed_code(const uint8_t *data, size_t size)
{
	char in[64], out[NODE_PAKE_CODE_LEN + 1], again[NODE_PAKE_CODE_LEN + 1];
	size_t n = size < sizeof in - 1 ? size : sizeof in - 1;
	memcpy(in, data, n);
	in[n] = 0;
	if (node_pake_code_parse(out, in) != NODE_PAKE_OK)
		return;
	CHECK(strlen(out) == NODE_PAKE_CODE_LEN && !memcmp(out, "MESH-", 5));
	CHECK(node_pake_code_parse(again, out) == NODE_PAKE_OK && !strcmp(again, out));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[NODE_PAKE_MAX_MSG];
	struct node_pake_msg m;
	size_t n = 0;
	if (size >= 4 && !memcmp(data, "MESH", 4))
		typed_code(data, size);
	int r = node_pake_msg_parse(&m, data, size);
	CHECK(strcmp(node_pake_strerror(r), "unknown status") != 0);
	if (r) {
		CHECK(r <= NODE_PAKE_E_TRUNCATED && r >= NODE_PAKE_E_REASON);
		return 0;
	}
	CHECK(size <= NODE_PAKE_MAX_MSG);
	CHECK(m.type >= NODE_PAKE_START && m.type <= NODE_PAKE_REFUSED);
	if (m.spake)
		CHECK(inside(m.spake, NODE_PAKE_SPAKE_LEN, data, size));
	if (m.confirm)
		CHECK(inside(m.confirm, NODE_PAKE_CONFIRM_LEN, data, size));
	if (m.type == NODE_PAKE_SEALED)
		CHECK(inside(m.sealed, m.sealed_len, data, size));
	CHECK(node_pake_msg_write(out, sizeof out, &n, &m) == NODE_PAKE_OK);
	CHECK(n == size && !memcmp(out, data, n));

	/* A stranger's SPAKE2 message and confirmation: never accepted. */
	if (m.type == NODE_PAKE_REPLY) {
		int e;
		uint8_t mine[NODE_PAKE_SPAKE_LEN];
		struct node_pake *j = node_pake_new(NODE_PAKE_JOINER, "MESH-QHG6-FBRA-0Q5Q", &e);
		CHECK(j);
		CHECK(node_pake_start(j, mine) == NODE_PAKE_OK);
		if (node_pake_finish(j, m.spake) == NODE_PAKE_OK)
			CHECK(node_pake_check(j, m.confirm) == NODE_PAKE_E_AUTH);
		node_pake_free(j);
	}
	return 0;
}
