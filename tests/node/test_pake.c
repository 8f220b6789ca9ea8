/* Tests for node/pake.h: the short code as typed, the relay session it
 * selects, the messages' codec, and the SPAKE2 exchange (right code: same
 * key both ways and the full code comes through; wrong code, tampered
 * messages and steps out of order: refused), and the inviter's policy (one
 * exchange per code, single use, expiry). tests/node/short_code.sh drives
 * the same through real nodes and a relay. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "node/pake.h"

static const char code_a[] = "MESH-QHG6-FBRA-0Q5Q";
static const char code_b[] = "MESH-QHG6-FBRA-0Q5R"; /* same session, last symbol differs */

/* --- the short code --------------------------------------------------- */

/* Arrays, not pointers: Criterion's workers are other processes. */
struct typed {
	char in[32];
	char want[24]; /* "": refused */
};

static struct typed typed_cases[] = {
	{"MESH-QHG6-FBRA-0Q5Q", "MESH-QHG6-FBRA-0Q5Q"},
	{"mesh-qhg6-fbra-0q5q", "MESH-QHG6-FBRA-0Q5Q"},
	{"QHG6FBRA0Q5Q", "MESH-QHG6-FBRA-0Q5Q"},
	{" MESH QHG6 FBRA 0Q5Q\n", "MESH-QHG6-FBRA-0Q5Q"},
	{"MESH-QHG6-FBRA-OQ5Q", "MESH-QHG6-FBRA-0Q5Q"}, /* O is 0 */
	{"MESH-iLG6-FBRA-0Q5Q", "MESH-11G6-FBRA-0Q5Q"}, /* I and L are 1 */
	{"MESH-MESH-MESH-MESH", "MESH-MESH-MESH-MESH"},
	{"MESHQHG6FBRA0Q5Q", "MESH-QHG6-FBRA-0Q5Q"},
	{"MESH-1234-5678", ""},             /* a group missing, not MESH12345678 */
	{"MESH 1234 5678", ""},
	{"MESH-QHG6-FBRA-0Q5", ""},       /* 11 symbols */
	{"MESH-QHG6-FBRA-0Q5QQ", ""},     /* 13 */
	{"MESH-QHG6-FBRA-0Q5U", ""},      /* U is no symbol */
	{"MESH-QHG6-FBRA-0Q5*", ""},
	{"MESX-QHG6-FBRA-0Q5Q", ""},      /* 16 symbols, no MESH prefix */
	{"", ""},
	{"MESH-", ""},
	{"MESH-QHG6-FBRA-0Q5Q-0000", ""},
};

ParameterizedTestParameters(pake_code, parses_as_typed)
{
	return cr_make_param_array(struct typed, typed_cases, sizeof typed_cases / sizeof typed_cases[0]);
}

ParameterizedTest(struct typed *t, pake_code, parses_as_typed)
{
	char out[NODE_PAKE_CODE_LEN + 1] = "untouched";
	int r = node_pake_code_parse(out, t->in);
	if (t->want[0]) {
		cr_assert_eq(r, NODE_PAKE_OK, "'%s': %s", t->in, node_pake_strerror(r));
		cr_assert_str_eq(out, t->want, "'%s'", t->in);
	} else {
		cr_assert_eq(r, NODE_PAKE_E_CODE, "'%s' accepted as %s", t->in, out);
		cr_assert_str_eq(out, "untouched");
	}
}

Test(pake_code, tells_short_from_full)
{
	cr_assert(node_pake_looks_like_code("MESH-QHG6-FBRA-0Q5Q"));
	cr_assert(node_pake_looks_like_code("mesh-x"));
	cr_assert_not(node_pake_looks_like_code("eyJ2IjoxLCJtZXNo"));
	cr_assert_not(node_pake_looks_like_code("MES"));
}

Test(pake_code, first_group_selects_the_session)
{
	char a[NODE_PAKE_SESSION_ID_LEN + 1], b[NODE_PAKE_SESSION_ID_LEN + 1], c[NODE_PAKE_SESSION_ID_LEN + 1];
	node_pake_session_id(a, code_a);
	node_pake_session_id(b, code_b);
	node_pake_session_id(c, "MESH-QHG7-FBRA-0Q5Q");
	cr_assert_eq(strlen(a), NODE_PAKE_SESSION_ID_LEN);
	cr_assert_eq(strspn(a, "0123456789abcdef"), NODE_PAKE_SESSION_ID_LEN);
	cr_assert_str_eq(a, b, "the password part must not change the session");
	cr_assert_str_neq(a, c);
}

/* --- the codec -------------------------------------------------------- */

static uint8_t spake_bytes[NODE_PAKE_SPAKE_LEN], confirm_bytes[NODE_PAKE_CONFIRM_LEN], sealed_bytes[100];

static size_t t_write(uint8_t *out, size_t cap, const struct node_pake_msg *m)
{
	size_t n = 0;
	int r = node_pake_msg_write(out, cap, &n, m);
	cr_assert_eq(r, NODE_PAKE_OK, "write type %u: %s", m->type, node_pake_strerror(r));
	return n;
}

/* Every message type round-trips; every proper prefix is TRUNCATED and a
 * byte more is LENGTH; the input ends against a PROT_NONE page. */
Test(pake_msg, round_trips_and_refuses_prefixes)
{
	memset(spake_bytes, 0x11, sizeof spake_bytes);
	memset(confirm_bytes, 0x22, sizeof confirm_bytes);
	memset(sealed_bytes, 0x33, sizeof sealed_bytes);
	struct node_pake_msg ms[] = {
		{.type = NODE_PAKE_START, .spake = spake_bytes},
		{.type = NODE_PAKE_REPLY, .spake = spake_bytes, .confirm = confirm_bytes},
		{.type = NODE_PAKE_CONFIRM, .confirm = confirm_bytes},
		{.type = NODE_PAKE_SEALED, .sealed = sealed_bytes, .sealed_len = sizeof sealed_bytes},
		{.type = NODE_PAKE_REFUSED, .reason = NODE_PAKE_REFUSE_DEAD},
	};
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
		uint8_t buf[NODE_PAKE_MAX_MSG + 1];
		size_t n = t_write(buf, sizeof buf, &ms[i]);
		struct node_pake_msg got;
		for (size_t k = 0; k <= n; k++) {
			uint8_t *at = map + pg - k; /* the input's last byte is the page's */
			memcpy(at, buf, k);
			memset(&got, 0xee, sizeof got);
			int r = node_pake_msg_parse(&got, at, k);
			if (k < n) {
				cr_assert_eq(r, NODE_PAKE_E_TRUNCATED, "type %u, %zu of %zu bytes: %s", ms[i].type, k, n,
					     node_pake_strerror(r));
				cr_assert_eq(got.type, 0xee, "output written on failure");
			}
		}
		cr_assert_eq(got.type, ms[i].type);
		switch (got.type) {
		case NODE_PAKE_START:
			cr_assert_arr_eq(got.spake, spake_bytes, sizeof spake_bytes);
			break;
		case NODE_PAKE_REPLY:
			cr_assert_arr_eq(got.spake, spake_bytes, sizeof spake_bytes);
			cr_assert_arr_eq(got.confirm, confirm_bytes, sizeof confirm_bytes);
			break;
		case NODE_PAKE_CONFIRM:
			cr_assert_arr_eq(got.confirm, confirm_bytes, sizeof confirm_bytes);
			break;
		case NODE_PAKE_SEALED:
			cr_assert_eq(got.sealed_len, sizeof sealed_bytes);
			cr_assert_arr_eq(got.sealed, sealed_bytes, sizeof sealed_bytes);
			break;
		case NODE_PAKE_REFUSED:
			cr_assert_eq(got.reason, NODE_PAKE_REFUSE_DEAD);
			break;
		}
		buf[n] = 0;
		cr_assert_eq(node_pake_msg_parse(&got, buf, n + 1), NODE_PAKE_E_LENGTH, "type %u with a byte more", ms[i].type);
		/* Too little room for the writer. */
		size_t m = 0;
		cr_assert_eq(node_pake_msg_write(buf, n - 1, &m, &ms[i]), NODE_PAKE_E_NO_ROOM);
	}
	munmap(map, (size_t)pg * 2);
}

struct bad_msg {
	uint8_t bytes[8];
	size_t len;
	int want;
};

static struct bad_msg bad_msgs[] = {
	{{0}, 0, NODE_PAKE_E_TRUNCATED},
	{{2, 1}, 2, NODE_PAKE_E_VERSION},
	{{0, 1}, 2, NODE_PAKE_E_VERSION},
	{{1}, 1, NODE_PAKE_E_TRUNCATED},
	{{1, 0}, 2, NODE_PAKE_E_TYPE},
	{{1, 6}, 2, NODE_PAKE_E_TYPE},
	{{1, 0xff}, 2, NODE_PAKE_E_TYPE},
	{{1, 5, 0}, 3, NODE_PAKE_E_REASON},
	{{1, 5, 5}, 3, NODE_PAKE_E_REASON},
	{{1, 4, 0, 16}, 4, NODE_PAKE_E_LENGTH},          /* no room for any plaintext */
	{{1, 4, 0x10, 0x11}, 4, NODE_PAKE_E_LENGTH},     /* over NODE_PAKE_MAX_SEALED */
	{{1, 4, 0, 17, 1}, 5, NODE_PAKE_E_TRUNCATED},
};

ParameterizedTestParameters(pake_msg, refuses_bad_bytes)
{
	return cr_make_param_array(struct bad_msg, bad_msgs, sizeof bad_msgs / sizeof bad_msgs[0]);
}

ParameterizedTest(struct bad_msg *b, pake_msg, refuses_bad_bytes)
{
	struct node_pake_msg got;
	int r = node_pake_msg_parse(&got, b->bytes, b->len);
	cr_assert_eq(r, b->want, "%02x %02x..., %zu bytes: %d (%s), want %d", b->bytes[0], b->bytes[1], b->len, r,
		     node_pake_strerror(r), b->want);
	cr_assert_str_neq(node_pake_strerror(r), "unknown status");
}

Test(pake_msg, writer_refuses_what_parser_would)
{
	uint8_t buf[NODE_PAKE_MAX_MSG];
	size_t n;
	struct node_pake_msg m = {.type = 9};
	cr_assert_eq(node_pake_msg_write(buf, sizeof buf, &n, &m), NODE_PAKE_E_TYPE);
	m = (struct node_pake_msg){.type = NODE_PAKE_REFUSED, .reason = 7};
	cr_assert_eq(node_pake_msg_write(buf, sizeof buf, &n, &m), NODE_PAKE_E_REASON);
	m = (struct node_pake_msg){.type = NODE_PAKE_SEALED, .sealed = buf, .sealed_len = NODE_PAKE_TAG_LEN};
	cr_assert_eq(node_pake_msg_write(buf, sizeof buf, &n, &m), NODE_PAKE_E_LENGTH);
}

/* --- the exchange ----------------------------------------------------- */

static const char full_code[] = "eyJ2IjoxLCJtZXNoX2lkIjoibWVzaC1hYmMxMjMifQ==";

struct run {
	int joiner_finish, joiner_check, inviter_check, open;
	char got[200];
	size_t got_len;
};

/* What to break on the way, by message. */
enum tamper { T_NONE, T_START, T_REPLY_SPAKE, T_REPLY_CONFIRM, T_CONFIRM, T_SEALED };

/* One exchange through the codec, as the relay would carry it. */
static struct run t_exchange(const char *joiner_code, const char *inviter_code, enum tamper tm)
{
	struct run out = {0};
	int e;
	struct node_pake *j = node_pake_new(NODE_PAKE_JOINER, joiner_code, &e);
	cr_assert(j, "%s", node_pake_strerror(e));
	struct node_pake *i = node_pake_new(NODE_PAKE_INVITER, inviter_code, &e);
	cr_assert(i, "%s", node_pake_strerror(e));
	uint8_t msg[NODE_PAKE_MAX_MSG], a[NODE_PAKE_SPAKE_LEN], b[NODE_PAKE_SPAKE_LEN], ci[NODE_PAKE_CONFIRM_LEN],
		cj[NODE_PAKE_CONFIRM_LEN], sealed[NODE_PAKE_MAX_SEALED];
	size_t n, sl;
	struct node_pake_msg m;

	/* START */
	cr_assert_eq(node_pake_start(j, a), NODE_PAKE_OK);
	n = t_write(msg, sizeof msg, &(struct node_pake_msg){.type = NODE_PAKE_START, .spake = a});
	if (tm == T_START)
		msg[2 + 5] ^= 0x01;
	cr_assert_eq(node_pake_msg_parse(&m, msg, n), NODE_PAKE_OK);
	cr_assert_eq(node_pake_start(i, b), NODE_PAKE_OK);
	int fi = node_pake_finish(i, m.spake);
	if (fi != NODE_PAKE_OK) { /* not a point: the inviter fails at once */
		out.inviter_check = fi;
		out.joiner_check = NODE_PAKE_E_STATE;
		goto done;
	}
	cr_assert_eq(node_pake_confirm(i, ci), NODE_PAKE_OK);

	/* REPLY */
	n = t_write(msg, sizeof msg, &(struct node_pake_msg){.type = NODE_PAKE_REPLY, .spake = b, .confirm = ci});
	if (tm == T_REPLY_SPAKE)
		msg[2 + 3] ^= 0x80;
	if (tm == T_REPLY_CONFIRM)
		msg[n - 1] ^= 0x01;
	cr_assert_eq(node_pake_msg_parse(&m, msg, n), NODE_PAKE_OK);
	out.joiner_finish = node_pake_finish(j, m.spake);
	if (out.joiner_finish != NODE_PAKE_OK)
		goto done;
	out.joiner_check = node_pake_check(j, m.confirm);
	if (out.joiner_check != NODE_PAKE_OK) {
		/* The joiner stops: no CONFIRM; it cannot make one either. */
		cr_assert_eq(node_pake_confirm(j, cj), NODE_PAKE_E_STATE);
		goto done;
	}

	/* CONFIRM */
	cr_assert_eq(node_pake_confirm(j, cj), NODE_PAKE_OK);
	n = t_write(msg, sizeof msg, &(struct node_pake_msg){.type = NODE_PAKE_CONFIRM, .confirm = cj});
	if (tm == T_CONFIRM)
		msg[2] ^= 0x40;
	cr_assert_eq(node_pake_msg_parse(&m, msg, n), NODE_PAKE_OK);
	out.inviter_check = node_pake_check(i, m.confirm);
	if (out.inviter_check != NODE_PAKE_OK) {
		cr_assert_eq(node_pake_seal(i, sealed, sizeof sealed, &sl, (const uint8_t *)full_code, strlen(full_code)),
			     NODE_PAKE_E_STATE, "sealed for a joiner that did not confirm");
		goto done;
	}

	/* SEALED */
	cr_assert_eq(node_pake_seal(i, sealed, sizeof sealed, &sl, (const uint8_t *)full_code, strlen(full_code)),
		     NODE_PAKE_OK);
	cr_assert_eq(sl, strlen(full_code) + NODE_PAKE_TAG_LEN);
	cr_assert(!memmem(sealed, sl, "eyJ2", 4), "the full code shows through the seal");
	n = t_write(msg, sizeof msg, &(struct node_pake_msg){.type = NODE_PAKE_SEALED, .sealed = sealed, .sealed_len = sl});
	if (tm == T_SEALED)
		msg[10] ^= 0x01;
	cr_assert_eq(node_pake_msg_parse(&m, msg, n), NODE_PAKE_OK);
	out.open = node_pake_open(j, (uint8_t *)out.got, sizeof out.got - 1, &out.got_len, m.sealed, m.sealed_len);
	if (out.open == NODE_PAKE_OK)
		out.got[out.got_len] = 0;
	/* Once: a second seal under the same key and nonce is refused. */
	cr_assert_eq(node_pake_seal(i, sealed, sizeof sealed, &sl, (const uint8_t *)full_code, strlen(full_code)),
		     NODE_PAKE_E_STATE);
done:
	node_pake_free(j);
	node_pake_free(i);
	return out;
}

Test(pake_exchange, right_code_hands_over_the_full_code)
{
	struct run r = t_exchange(code_a, code_a, T_NONE);
	cr_assert_eq(r.joiner_check, NODE_PAKE_OK);
	cr_assert_eq(r.inviter_check, NODE_PAKE_OK);
	cr_assert_eq(r.open, NODE_PAKE_OK, "%s", node_pake_strerror(r.open));
	cr_assert_str_eq(r.got, full_code);
}

/* A guess differing in one symbol (the session is the same): the
 * inviter's confirmation fails at the joiner, which stops there. */
Test(pake_exchange, wrong_code_fails_confirmation)
{
	struct run r = t_exchange(code_b, code_a, T_NONE);
	cr_assert_eq(r.joiner_finish, NODE_PAKE_OK);
	cr_assert_eq(r.joiner_check, NODE_PAKE_E_AUTH);
	cr_assert_eq(r.open, 0);
	cr_assert_eq(r.got_len, 0);
}

/* Roles are bound: two joiners (or two inviters) with the same code never
 * agree. */
Test(pake_exchange, same_role_twice_does_not_confirm)
{
	int e;
	struct node_pake *x = node_pake_new(NODE_PAKE_JOINER, code_a, &e), *y = node_pake_new(NODE_PAKE_JOINER, code_a, &e);
	uint8_t mx[32], my[32], cx[32];
	cr_assert_eq(node_pake_start(x, mx), 0);
	cr_assert_eq(node_pake_start(y, my), 0);
	if (node_pake_finish(x, my) == NODE_PAKE_OK && node_pake_finish(y, mx) == NODE_PAKE_OK) {
		cr_assert_eq(node_pake_confirm(y, cx), 0);
		cr_assert_eq(node_pake_check(x, cx), NODE_PAKE_E_AUTH);
	}
	node_pake_free(x);
	node_pake_free(y);
}

struct tamper_case {
	enum tamper tm;
	char what[32];
};

static struct tamper_case tampers[] = {
	{T_START, "START's SPAKE2 message"},
	{T_REPLY_SPAKE, "REPLY's SPAKE2 message"},
	{T_REPLY_CONFIRM, "REPLY's confirmation"},
	{T_CONFIRM, "CONFIRM's confirmation"},
	{T_SEALED, "the sealed code"},
};

ParameterizedTestParameters(pake_exchange, tampering_is_caught)
{
	return cr_make_param_array(struct tamper_case, tampers, sizeof tampers / sizeof tampers[0]);
}

/* A relay that flips a bit anywhere: some check fails, nothing is opened. */
ParameterizedTest(struct tamper_case *t, pake_exchange, tampering_is_caught)
{
	struct run r = t_exchange(code_a, code_a, t->tm);
	bool caught = r.joiner_finish != NODE_PAKE_OK || r.joiner_check != NODE_PAKE_OK || r.inviter_check != NODE_PAKE_OK ||
		      r.open == NODE_PAKE_E_AUTH;
	cr_assert(caught, "%s changed and nothing noticed", t->what);
	cr_assert_str_eq(r.got, "", "%s changed and a code was opened", t->what);
}

Test(pake_exchange, steps_out_of_order_are_refused)
{
	int e;
	uint8_t m[32], c[32], out[64];
	size_t n;
	cr_assert_null(node_pake_new(NODE_PAKE_JOINER, "mesh-qhg6-fbra-0q5q", &e), "a code that is not canonical");
	cr_assert_eq(e, NODE_PAKE_E_CODE);
	struct node_pake *p = node_pake_new(NODE_PAKE_JOINER, code_a, &e);
	memset(m, 0, sizeof m);
	cr_assert_eq(node_pake_finish(p, m), NODE_PAKE_E_STATE);
	cr_assert_eq(node_pake_confirm(p, c), NODE_PAKE_E_STATE);
	cr_assert_eq(node_pake_check(p, c), NODE_PAKE_E_STATE);
	cr_assert_eq(node_pake_open(p, out, sizeof out, &n, out, 40), NODE_PAKE_E_STATE);
	cr_assert_eq(node_pake_start(p, m), NODE_PAKE_OK);
	cr_assert_eq(node_pake_start(p, m), NODE_PAKE_E_STATE, "started twice");
	cr_assert_eq(node_pake_seal(p, out, sizeof out, &n, out, 4), NODE_PAKE_E_STATE, "a joiner seals");
	node_pake_free(p);
	node_pake_free(NULL);
}

/* One attempt is one guess: an attempt whose check failed stays failed,
 * even when the right confirmation comes afterwards. */
Test(pake_exchange, a_failed_attempt_stays_failed)
{
	int e;
	struct node_pake *j = node_pake_new(NODE_PAKE_JOINER, code_a, &e), *i = node_pake_new(NODE_PAKE_INVITER, code_a, &e);
	uint8_t a[32], b[32], cj[32], bad[32];
	cr_assert_eq(node_pake_start(j, a), 0);
	cr_assert_eq(node_pake_start(i, b), 0);
	cr_assert_eq(node_pake_finish(i, a), 0);
	cr_assert_eq(node_pake_finish(j, b), 0);
	cr_assert_eq(node_pake_confirm(j, cj), 0);
	memcpy(bad, cj, 32);
	bad[0] ^= 1;
	cr_assert_eq(node_pake_check(i, bad), NODE_PAKE_E_AUTH);
	cr_assert_eq(node_pake_check(i, cj), NODE_PAKE_E_STATE);
	node_pake_free(j);
	node_pake_free(i);
}

/* --- the inviter's policy ------------------------------------------------ */

Test(pake_offer, one_exchange_then_used)
{
	struct node_pake_offer o;
	node_pake_offer_init(&o, 1000, 600000);
	cr_assert_eq(node_pake_offer_take(&o, 2000), 0, "the first START takes the code");
	cr_assert_eq(node_pake_offer_take(&o, 2001), NODE_PAKE_REFUSE_BUSY, "a second while the first runs");
	node_pake_offer_end(&o, true);
	cr_assert_eq(o.state, NODE_PAKE_OFFER_USED);
	cr_assert_eq(node_pake_offer_take(&o, 3000), NODE_PAKE_REFUSE_USED, "single use");
	node_pake_offer_end(&o, false); /* no exchange under way: nothing changes */
	cr_assert_eq(o.state, NODE_PAKE_OFFER_USED);
}

Test(pake_offer, a_failure_costs_one_try)
{
	struct node_pake_offer o;
	node_pake_offer_init(&o, 0, 600000);
	cr_assert_eq(node_pake_offer_tries_left(&o), NODE_PAKE_MAX_TRIES);
	cr_assert_eq(node_pake_offer_take(&o, 1), 0);
	cr_assert_eq(node_pake_offer_tries_left(&o), NODE_PAKE_MAX_TRIES, "a try is spent when it fails, not taken");
	node_pake_offer_end(&o, false);
	cr_assert_eq(o.state, NODE_PAKE_OFFER_OPEN, "a typo does not void the code");
	cr_assert_eq(node_pake_offer_tries_left(&o), NODE_PAKE_MAX_TRIES - 1);
	/* The right code afterwards: the next exchange, and the code is used. */
	cr_assert_eq(node_pake_offer_take(&o, 2), 0);
	node_pake_offer_end(&o, true);
	cr_assert_eq(o.state, NODE_PAKE_OFFER_USED);
	cr_assert_eq(node_pake_offer_tries_left(&o), 0);
	cr_assert_eq(node_pake_offer_take(&o, 3), NODE_PAKE_REFUSE_USED, "still single use");
}

Test(pake_offer, the_last_failure_voids_the_code)
{
	struct node_pake_offer o;
	node_pake_offer_init(&o, 0, 600000);
	for (unsigned k = 0; k < NODE_PAKE_MAX_TRIES; k++) {
		cr_assert_eq(node_pake_offer_take(&o, 1 + k), 0, "try %u is taken", k + 1);
		cr_assert_eq(node_pake_offer_take(&o, 1 + k), NODE_PAKE_REFUSE_BUSY, "one exchange at a time");
		node_pake_offer_end(&o, false);
	}
	cr_assert_eq(o.state, NODE_PAKE_OFFER_DEAD);
	cr_assert_eq(node_pake_offer_tries_left(&o), 0);
	/* The right code afterwards gets no exchange: NODE_PAKE_MAX_TRIES
	 * guesses per code in all. */
	cr_assert_eq(node_pake_offer_take(&o, 10), NODE_PAKE_REFUSE_DEAD);
	node_pake_offer_end(&o, true);
	cr_assert_eq(o.state, NODE_PAKE_OFFER_DEAD, "a void code never comes back");
	node_pake_offer_init(&o, 0, 600000);
	cr_assert_eq(o.failures, 0u, "a new offer starts with every try");
}

Test(pake_offer, expires)
{
	struct node_pake_offer o;
	node_pake_offer_init(&o, 5000, 2000);
	cr_assert_not(node_pake_offer_expired(&o, 6999));
	cr_assert(node_pake_offer_expired(&o, 7000));
	cr_assert_eq(node_pake_offer_take(&o, 7000), NODE_PAKE_REFUSE_EXPIRED, "a START at the expiry");
	cr_assert_eq(o.state, NODE_PAKE_OFFER_OPEN, "a refusal changes nothing");
	cr_assert_eq(node_pake_offer_take(&o, 6999), 0, "a millisecond before");
}

Test(pake_offer, full_code_use_retires_it)
{
	struct node_pake_offer o;
	node_pake_offer_init(&o, 0, 600000);
	node_pake_offer_retire(&o);
	cr_assert_eq(node_pake_offer_take(&o, 1), NODE_PAKE_REFUSE_USED);
	node_pake_offer_init(&o, 0, 600000);
	cr_assert_eq(node_pake_offer_take(&o, 1), 0);
	node_pake_offer_retire(&o); /* under way: the exchange decides */
	cr_assert_eq(o.state, NODE_PAKE_OFFER_BUSY);
}
