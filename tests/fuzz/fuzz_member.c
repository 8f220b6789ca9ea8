/* Fuzz node_member_parse, the parser of NODE_MSG_MEMBER messages (entries,
 * removals, summaries, secrets, digests) that any member may send: never crashes;
 * a failure is a known status; a success re-encodes to the very same bytes
 * (entries, removals, summaries, secrets), holds a digest's items in (lo, hi] in
 * increasing order, and an entry merged into a table is refused without a
 * valid signature. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/member.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct node_members *table;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct node_member_msg m;
	static uint8_t out[NODE_MEMBER_MAX_MSG];
	size_t n = 0;
	int r = node_member_parse(&m, data, size);
	CHECK(node_member_strerror(r) != NULL);
	if (r) {
		CHECK(r <= NODE_MEMBER_E_TRUNCATED && r >= NODE_MEMBER_E_KIND);
		return 0;
	}
	CHECK(size <= NODE_MEMBER_MAX_MSG);
	if (!table) {
		uint8_t founder[32];
		memset(founder, 0x42, sizeof founder);
		table = node_members_new("mesh-fuzz", founder);
		CHECK(table);
	}
	switch (m.kind) {
	case 'E':
		CHECK(node_member_encode_entry(out, sizeof out, &n, &m.entry) == 0);
		CHECK(n == size && !memcmp(out, data, n));
		/* Signatures made by nobody: never merged. */
		CHECK(node_members_merge_entry(table, &m.entry, NULL) < 0);
		break;
	case 'R':
		CHECK(node_member_encode_removal(out, sizeof out, &n, m.removal.target, m.removal.remover, m.removal.sig) == 0);
		CHECK(n == size && !memcmp(out, data, n));
		CHECK(node_members_merge_removal(table, m.removal.target, m.removal.remover, m.removal.sig, NULL) < 0);
		break;
	case 'S':
		CHECK(m.summary.count <= NODE_MEMBER_MAX);
		CHECK(node_member_encode_summary(out, sizeof out, &n, m.summary.count, m.summary.epoch, m.summary.hash) == 0);
		CHECK(n == size && !memcmp(out, data, n));
		break;
	case 'K':
		CHECK(m.rotation.epoch > 0);
		CHECK(node_member_encode_rotation(out, sizeof out, &n, m.rotation.epoch, m.rotation.secret, m.rotation.rotator,
						  m.rotation.sig) == 0);
		CHECK(n == size && !memcmp(out, data, n));
		CHECK(node_members_check_rotation(table, m.rotation.epoch, m.rotation.secret, m.rotation.rotator, m.rotation.sig) < 0);
		break;
	case 'D': {
		CHECK(m.digest.num <= NODE_MEMBER_DIGEST_ITEMS);
		CHECK(size == 66 + m.digest.num * NODE_MEMBER_ITEM_LEN);
		CHECK(memcmp(m.digest.lo, m.digest.hi, 32) < 0);
		for (size_t i = 0; i < m.digest.num; i++) {
			const uint8_t *prev = i ? m.digest.items[i - 1].pub : m.digest.lo;
			CHECK(memcmp(prev, m.digest.items[i].pub, 32) < 0);
			CHECK(memcmp(m.digest.items[i].pub, m.digest.hi, 32) <= 0);
		}
		static uint8_t we[NODE_MEMBER_MAX / 8], wr[NODE_MEMBER_MAX / 8];
		node_members_compare(table, &m, we, wr);
		break;
	}
	default:
		CHECK(0 && "a kind the parser does not know");
	}
	return 0;
}
