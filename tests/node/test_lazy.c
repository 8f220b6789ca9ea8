/* Tests for node/lazy.h: which members a lazy node keeps relay links with,
 * and the doorbell session id. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <string.h>

#include "node/lazy.h"
#include "node/session_id.h"

#define N 8

static void marks(const char *const *ids, size_t n, size_t self, size_t k, bool *mark)
{
	size_t order[N];
	node_lazy_ring_marks(ids, n, self, k, order, mark);
}

static size_t count(const bool *mark, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += mark[i];
	return c;
}

Test(node_lazy, ring_marks_the_k_after_and_before_in_id_order)
{
	/* Sorted: a b c d e f g h; self "d" at index 5 of this shuffle. */
	const char *ids[N] = {"f", "a", "h", "c", "e", "d", "b", "g"};
	bool m[N];
	marks(ids, N, 5, 2, m);
	/* After d: e, f; before: c, b. */
	cr_assert(m[4] && m[0] && m[3] && m[6], "e f c b must be marked");
	cr_assert_eq(count(m, N), 4);
	cr_assert(!m[5], "never self");
}

Test(node_lazy, ring_wraps_around_the_ends)
{
	const char *ids[N] = {"a", "b", "c", "d", "e", "f", "g", "h"};
	bool m[N];
	marks(ids, N, 0, 2, m); /* self a: after b, c; before h, g */
	cr_assert(m[1] && m[2] && m[7] && m[6]);
	cr_assert_eq(count(m, N), 4);
	marks(ids, N, 7, 1, m); /* self h: after a, before g */
	cr_assert(m[0] && m[6]);
	cr_assert_eq(count(m, N), 2);
}

Test(node_lazy, ring_is_symmetric)
{
	const char *ids[N] = {"m7", "m2", "m5", "m0", "m4", "m1", "m6", "m3"};
	bool m[N][N];
	for (size_t s = 0; s < N; s++)
		marks(ids, N, s, 2, m[s]);
	for (size_t a = 0; a < N; a++)
		for (size_t b = 0; b < N; b++)
			cr_assert_eq(m[a][b], m[b][a], "%s keeps %s but not the other way round", ids[a], ids[b]);
}

Test(node_lazy, small_meshes_mark_everyone_else_and_k_zero_marks_none)
{
	const char *ids[3] = {"x", "y", "z"};
	bool m[N];
	marks(ids, 3, 1, 2, m);
	cr_assert(m[0] && m[2] && !m[1]);
	marks(ids, 3, 1, 0, m);
	cr_assert_eq(count(m, 3), 0);
	marks(ids, 1, 0, 2, m);
	cr_assert(!m[0], "alone: no neighbour");
}

Test(node_lazy, wants_ring_neighbours_and_recent_wants_only)
{
	cr_assert(node_lazy_wants(true, 0, 1000000, 5000));
	cr_assert(!node_lazy_wants(false, 0, 1000000, 5000), "never wanted: no links");
	cr_assert(node_lazy_wants(false, 996000, 1000000, 5000), "wanted 4 s ago, idle after 5 s");
	cr_assert(!node_lazy_wants(false, 995000, 1000000, 5000), "wanted 5 s ago: idle");
}

Test(node_lazy, doorbell_ids_are_secret_per_node_and_not_a_pair_id)
{
	uint8_t s1[32] = {1}, s2[32] = {2};
	char a[NODE_SESSION_ID_LEN + 1], b[NODE_SESSION_ID_LEN + 1], c[NODE_SESSION_ID_LEN + 1],
		p[NODE_SESSION_ID_LEN + 1];
	node_doorbell_session_id(a, s1, "node-aaaa");
	node_doorbell_session_id(b, s1, "node-bbbb");
	node_doorbell_session_id(c, s2, "node-aaaa");
	node_pair_session_id(p, s1, "node-aaaa", "node-aaaa");
	cr_assert_eq(strlen(a), NODE_SESSION_ID_LEN);
	cr_assert_str_neq(a, b, "each node has its own doorbell");
	cr_assert_str_neq(a, c, "the secret names it");
	cr_assert_str_neq(a, p);
	char again[NODE_SESSION_ID_LEN + 1];
	node_doorbell_session_id(again, s1, "node-aaaa");
	cr_assert_str_eq(a, again, "both sides derive the same id");
}
