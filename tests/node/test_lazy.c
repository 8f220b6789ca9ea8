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

/* ---- idle pair links close on both sides or neither ---- */

#define IDLE 4000u

Test(node_lazy, idle_links_are_held_while_wanted)
{
	struct node_idle_ask q = {0};
	cr_assert_eq(node_lazy_idle_act(&q, true, 1000, true, true, 2000, IDLE), NODE_IDLE_HOLD);
	cr_assert(!q.waiting && !q.ask_ms, "no question while the links are wanted");
}

Test(node_lazy, idle_links_ask_first_then_wait_for_the_answer)
{
	struct node_idle_ask q = {0};
	cr_assert_eq(node_lazy_idle_act(&q, false, 1000, true, true, 5000, IDLE), NODE_IDLE_ASK_NOW);
	cr_assert(q.waiting && q.ask_ms == 5000);
	/* Held, and not asked twice, until the answer or NODE_IDLE_WAIT_MS. */
	cr_assert_eq(node_lazy_idle_act(&q, false, 1000, true, true, 5000 + NODE_IDLE_WAIT_MS - 1, IDLE), NODE_IDLE_HOLD);
	/* No answer (an older node): they close, and are not asked about again. */
	cr_assert_eq(node_lazy_idle_act(&q, false, 1000, true, true, 5000 + NODE_IDLE_WAIT_MS, IDLE), NODE_IDLE_CLOSE);
	cr_assert(!q.waiting);
	cr_assert_eq(node_lazy_idle_act(&q, false, 1000, true, true, 5000 + NODE_IDLE_WAIT_MS + 1000, IDLE),
		     NODE_IDLE_CLOSE);
}

Test(node_lazy, idle_question_ends_when_the_other_side_closes)
{
	struct node_idle_ask q = {0};
	cr_assert_eq(node_lazy_idle_act(&q, false, 1000, true, true, 5000, IDLE), NODE_IDLE_ASK_NOW);
	/* It agreed: its side closed, the relay closed ours, nothing paired. */
	cr_assert_eq(node_lazy_idle_act(&q, false, 1000, false, false, 5100, IDLE), NODE_IDLE_CLOSE);
	cr_assert(!q.waiting);
}

Test(node_lazy, idle_links_kept_while_the_other_side_uses_them)
{
	struct node_idle_ask q = {0};
	cr_assert_eq(node_lazy_idle_act(&q, false, 1000, true, true, 5000, IDLE), NODE_IDLE_ASK_NOW);
	q.waiting = false; /* its answer: still in use (node_lazy_on_idle) */
	q.kept = true;
	/* Kept for an idle time after the question, without asking again. */
	cr_assert_eq(node_lazy_idle_act(&q, false, 1000, true, true, 6000, IDLE), NODE_IDLE_HOLD);
	cr_assert_eq(node_lazy_idle_act(&q, false, 1000, true, true, 5000 + IDLE - 1, IDLE), NODE_IDLE_HOLD);
	/* Then asked again. */
	cr_assert_eq(node_lazy_idle_act(&q, false, 1000, true, true, 5000 + IDLE, IDLE), NODE_IDLE_ASK_NOW);
	cr_assert(!q.kept && q.waiting);
}

Test(node_lazy, idle_links_kept_only_while_paired)
{
	struct node_idle_ask q = {.ask_ms = 5000, .kept = true};
	/* The member that said it still uses them is gone (its side closed). */
	cr_assert_eq(node_lazy_idle_act(&q, false, 1000, false, false, 6000, IDLE), NODE_IDLE_CLOSE);
	cr_assert(!q.kept);
}

Test(node_lazy, idle_links_asked_again_after_new_traffic)
{
	struct node_idle_ask q = {.ask_ms = 5000};
	/* Traffic at 7000 after the question at 5000, idle again at 11000. */
	cr_assert_eq(node_lazy_idle_act(&q, false, 7000, true, true, 11000, IDLE), NODE_IDLE_ASK_NOW);
	cr_assert_eq(q.ask_ms, 11000);
}

Test(node_lazy, idle_links_close_at_once_when_no_question_can_be_sent)
{
	/* A direct path (nothing in flight on the relay), no session, or no
	 * link paired: nothing to ask, nothing to lose. */
	struct node_idle_ask q = {0};
	cr_assert_eq(node_lazy_idle_act(&q, false, 1000, true, false, 5000, IDLE), NODE_IDLE_CLOSE);
	cr_assert(!q.waiting && !q.ask_ms);
}

Test(node_lazy, eager_node_keeps_its_links_whatever_it_is_asked)
{
	/* An eager node never reopens pair links: closing them on a question
	 * would cut it off from the asker. */
	cr_assert(node_lazy_idle_stays(false, false, false, false));
	cr_assert(node_lazy_idle_stays(false, true, false, false));
}

Test(node_lazy, idle_question_agreed_only_when_idle_here_too)
{
	cr_assert(!node_lazy_idle_stays(true, false, false, false), "idle on both sides: close");
	cr_assert(node_lazy_idle_stays(true, false, true, false), "still wanted here: stay");
}

Test(node_lazy, room_question_agreed_unless_used_lately)
{
	/* Wanted by the idle time, but not used within the last 10 s: make room. */
	cr_assert(!node_lazy_idle_stays(true, true, true, false));
	cr_assert(node_lazy_idle_stays(true, true, true, true), "used lately: stay");
	cr_assert(!node_lazy_idle_stays(true, true, false, true), "idle here: close");
}
