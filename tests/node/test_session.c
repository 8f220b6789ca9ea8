/* Tests for node/session.h: handshakes that cross, driven in memory with
 * real e2e handshakes (node/e2e.h), no sockets. */
#include <criterion/criterion.h>
#include <string.h>

#include "node/session.h"

#define NOW 1000

struct t_end {
	struct node_e2e_keypair kp;
	struct node_sessions ss;
};

static const uint8_t psk[32] = {7};

static void t_end_init(struct t_end *e, uint8_t seed)
{
	uint8_t priv[32];
	memset(priv, seed, sizeof priv);
	memset(e, 0, sizeof *e);
	node_e2e_keypair_init(&e->kp, priv);
}

static void t_end_cleanup(struct t_end *e)
{
	node_sessions_cleanup(&e->ss);
	node_e2e_keypair_cleanup(&e->kp);
}

/* t_initiate writes an initiation from a to b into init, with index idx. */
static void t_initiate(struct t_end *a, const struct t_end *b, struct node_e2e_handshake *hs,
		       uint8_t init[NODE_E2E_INIT_LEN], uint32_t idx, uint8_t tsbyte)
{
	uint8_t eph[32], ts[NODE_E2E_TIMESTAMP_LEN] = {0};
	memset(eph, 0x40 + (int)idx, sizeof eph);
	ts[11] = tsbyte;
	memset(hs, 0, sizeof *hs);
	cr_assert_eq(node_e2e_init_create(hs, init, &a->kp, b->kp.pub, eph, idx, ts, NULL), NODE_E2E_OK);
}

/* t_respond: b consumes init, answers into resp, installs its session. */
static void t_respond(struct t_end *b, const uint8_t init[NODE_E2E_INIT_LEN], uint8_t resp[NODE_E2E_RESPONSE_LEN],
		      uint32_t idx)
{
	struct node_e2e_handshake hs;
	struct node_e2e_init_info info;
	struct node_e2e_session s;
	uint8_t eph[32];
	memset(eph, 0x80 + (int)idx, sizeof eph);
	memset(&hs, 0, sizeof hs);
	cr_assert_eq(node_e2e_init_consume(&hs, &info, &b->kp, init, NODE_E2E_INIT_LEN), NODE_E2E_OK);
	cr_assert_eq(node_e2e_response_create(&hs, resp, &s, psk, eph, idx, NOW), NODE_E2E_OK);
	node_sessions_install(&b->ss, &s);
}

/* t_complete: a consumes the response to its initiation and installs. */
static void t_complete(struct t_end *a, struct node_e2e_handshake *hs, const uint8_t resp[NODE_E2E_RESPONSE_LEN])
{
	struct node_e2e_session s;
	cr_assert_eq(node_e2e_response_consume(hs, &s, resp, NODE_E2E_RESPONSE_LEN, psk, NOW), NODE_E2E_OK);
	node_sessions_install(&a->ss, &s);
}

/* t_deliver: from sends msg on its sending session; to receives it as the
 * daemon does (find by index, decrypt, heard_on). Returns whether to got it. */
static bool t_deliver(struct t_end *from, struct t_end *to, const char *msg)
{
	uint8_t pkt[256], out[256];
	size_t pl, ol;
	uint32_t ridx = 0;
	if (!node_sessions_ready(&from->ss))
		return false;
	if (node_e2e_encrypt(&from->ss.s, pkt, sizeof pkt, &pl, (const uint8_t *)msg, strlen(msg), NOW) != NODE_E2E_OK)
		return false;
	if (node_e2e_classify(pkt, pl, &ridx) != NODE_E2E_MSG_DATA)
		return false;
	struct node_e2e_session *rs = node_sessions_find(&to->ss, ridx);
	if (!rs || node_e2e_decrypt(rs, out, sizeof out, &ol, pkt, pl, NOW) != NODE_E2E_OK)
		return false;
	node_sessions_heard_on(&to->ss, rs);
	return ol == strlen(msg) && !memcmp(out, msg, ol);
}

/* t_cross: a (index 1) and b (index 2) initiate at once; each answers the
 * other's initiation (a with index 3, b with 4) before its own answer comes;
 * then a gets b's answer and, when b_gets_answer, b gets a's (hb completes);
 * otherwise hb is still live (the caller wipes it). */
static void t_cross(struct t_end *a, struct t_end *b, struct node_e2e_handshake *hb, bool b_gets_answer)
{
	struct node_e2e_handshake ha;
	uint8_t ia[NODE_E2E_INIT_LEN], ib[NODE_E2E_INIT_LEN], ra[NODE_E2E_RESPONSE_LEN], rb[NODE_E2E_RESPONSE_LEN];
	t_end_init(a, 1);
	t_end_init(b, 2);
	t_initiate(a, b, &ha, ia, 1, 1);
	t_initiate(b, a, hb, ib, 2, 1);
	t_respond(a, ib, ra, 3);
	t_respond(b, ia, rb, 4);
	t_complete(a, &ha, rb);
	if (b_gets_answer)
		t_complete(b, hb, ra);
}

Test(node_session, crossing_handshakes_leave_both_directions_working)
{
	struct t_end a, b;
	struct node_e2e_handshake hb;
	t_cross(&a, &b, &hb, true);
	/* Each sends on its own initiator session; the other hears it on the
	 * responder session it keeps as prev. */
	cr_assert(node_sessions_ready(&a.ss) && a.ss.s.initiator && a.ss.have_prev);
	cr_assert(node_sessions_ready(&b.ss) && b.ss.s.initiator && b.ss.have_prev);
	for (int i = 0; i < 3; i++) {
		cr_assert(t_deliver(&a, &b, "from a"), "round %d: a -> b lost", i);
		cr_assert(t_deliver(&b, &a, "from b"), "round %d: b -> a lost", i);
	}
	/* Both ends were ready: hearing on prev swapped nothing. */
	cr_assert_eq(a.ss.s.local_index, 1);
	cr_assert_eq(b.ss.s.local_index, 2);
	t_end_cleanup(&a);
	t_end_cleanup(&b);
}

Test(node_session, crossing_with_one_answer_lost_converges_on_one_session)
{
	struct t_end a, b;
	struct node_e2e_handshake hb;
	t_cross(&a, &b, &hb, false); /* a's answer to b is lost */
	/* b holds only its unconfirmed responder session: it may not send yet. */
	cr_assert_not(node_sessions_ready(&b.ss));
	cr_assert(t_deliver(&a, &b, "confirm"));
	/* a's first packet confirmed it: one session, both ways. */
	cr_assert(node_sessions_ready(&b.ss));
	cr_assert_eq(b.ss.s.local_index, 4);
	cr_assert(t_deliver(&b, &a, "back"));
	node_e2e_handshake_cleanup(&hb);
	t_end_cleanup(&a);
	t_end_cleanup(&b);
}

Test(node_session, heard_on_older_session_adopts_it_while_the_newer_cannot_send)
{
	struct t_end a, b;
	struct node_e2e_handshake h1, h2;
	uint8_t i1[NODE_E2E_INIT_LEN], i2[NODE_E2E_INIT_LEN], r1[NODE_E2E_RESPONSE_LEN], r2[NODE_E2E_RESPONSE_LEN];
	t_end_init(&a, 1);
	t_end_init(&b, 2);
	/* A working pair: a initiated, b responded, a's first packet confirmed. */
	t_initiate(&a, &b, &h1, i1, 1, 1);
	t_respond(&b, i1, r1, 2);
	t_complete(&a, &h1, r1);
	cr_assert(t_deliver(&a, &b, "hello"));
	/* Then b answers an initiation whose handshake a never completes (one a
	 * relay held from before a restart): b's newest session cannot send. */
	t_initiate(&a, &b, &h2, i2, 5, 2);
	t_respond(&b, i2, r2, 6);
	cr_assert_not(node_sessions_ready(&b.ss));
	cr_assert_eq(b.ss.prev.local_index, 2);
	/* a still sends on the pair's session: b hears it on prev and adopts it. */
	cr_assert(t_deliver(&a, &b, "still here"));
	cr_assert(node_sessions_ready(&b.ss));
	cr_assert_eq(b.ss.s.local_index, 2);
	cr_assert(t_deliver(&b, &a, "answer"));
	node_e2e_handshake_cleanup(&h2);
	t_end_cleanup(&a);
	t_end_cleanup(&b);
}

Test(node_session, install_keeps_one_older_session)
{
	struct node_sessions ss;
	struct node_e2e_session s;
	memset(&ss, 0, sizeof ss);
	for (uint32_t i = 1; i <= 3; i++) {
		memset(&s, 0, sizeof s);
		s.local_index = i;
		s.initiator = true;
		node_sessions_install(&ss, &s);
	}
	cr_assert_eq(ss.s.local_index, 3);
	cr_assert_eq(ss.prev.local_index, 2);
	cr_assert_not_null(node_sessions_find(&ss, 2));
	cr_assert_null(node_sessions_find(&ss, 1), "the oldest session is gone");
	node_sessions_cleanup(&ss);
	cr_assert_null(node_sessions_find(&ss, 3));
}
