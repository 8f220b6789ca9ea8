/* relay/ticket: relay keys, tickets (make, parse, verify) and the replay
 * memory. The vector was computed independently with Python's hmac,
 * hashlib and base64 from the layout in relay/ticket.h (docs/RELAY.md). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "relay/ticket.h"

/* Key 00 01 .. 1f, session "abc", expires_at 1700000000, nonce a0 .. af. */
static const char VEC_KEY[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
static const char VEC_KEY_ID[] = "7ef45e1f";
static const char VEC_TICKET[] = "AX70Xh8AAAAAZVPxAKChoqOkpaanqKmqq6ytrq-7UZhOdZ8_OOuTeTUmUxE_1cGe5rrbdky3DX-BBlmMzQ";
#define VEC_EXPIRES 1700000000u
#define NOW (VEC_EXPIRES - 60)

static void vec_nonce(uint8_t n[RELAY_TICKET_NONCE_LEN])
{
	for (int i = 0; i < RELAY_TICKET_NONCE_LEN; i++)
		n[i] = (uint8_t)(0xa0 + i);
}

static struct relay_key vec_key(void)
{
	struct relay_key k;
	cr_assert_eq(relay_key_parse(&k, VEC_KEY, strlen(VEC_KEY)), RELAY_TICKET_OK);
	return k;
}

static struct relay_key key_of(uint8_t fill)
{
	uint8_t s[RELAY_KEY_LEN];
	struct relay_key k;
	memset(s, fill, sizeof s);
	relay_key_init(&k, s);
	return k;
}

/* make + parse + verify of sid at now with keys. */
static int check(const char *ticket, const struct relay_key *keys, size_t n, const char *sid, uint64_t now)
{
	struct relay_ticket t;
	int r = relay_ticket_parse(&t, ticket, strlen(ticket));
	if (r)
		return r;
	return relay_ticket_verify(&t, keys, n, sid, strlen(sid), now);
}

Test(relay_ticket, vector_both_ways)
{
	struct relay_key k = vec_key();
	char hex[9], text[RELAY_KEY_TEXT_LEN + 1], t[RELAY_TICKET_TEXT_LEN + 1];
	uint8_t nonce[RELAY_TICKET_NONCE_LEN];
	for (int i = 0; i < RELAY_KEY_LEN; i++)
		cr_assert_eq(k.key[i], i);
	relay_key_id_hex(hex, k.id);
	cr_assert_str_eq(hex, VEC_KEY_ID);
	relay_key_format(text, &k);
	cr_assert_str_eq(text, VEC_KEY);
	vec_nonce(nonce);
	cr_assert_eq(relay_ticket_make(t, &k, "abc", 3, VEC_EXPIRES, nonce), RELAY_TICKET_OK);
	cr_assert_str_eq(t, VEC_TICKET);
	cr_assert_eq(strlen(t), RELAY_TICKET_TEXT_LEN);

	struct relay_ticket p;
	cr_assert_eq(relay_ticket_parse(&p, VEC_TICKET, strlen(VEC_TICKET)), RELAY_TICKET_OK);
	cr_assert_eq(p.version, 1);
	cr_assert_eq(memcmp(p.key_id, k.id, 4), 0);
	cr_assert_eq(p.expires_at, VEC_EXPIRES);
	cr_assert_eq(memcmp(p.nonce, nonce, sizeof nonce), 0);
	cr_assert_eq(check(VEC_TICKET, &k, 1, "abc", NOW), RELAY_TICKET_OK);
}

Test(relay_ticket, good_ticket_for_a_long_id)
{
	struct relay_key k = key_of(7);
	char sid[129], t[RELAY_TICKET_TEXT_LEN + 1];
	uint8_t nonce[RELAY_TICKET_NONCE_LEN] = {1};
	memset(sid, 'x', 128);
	sid[128] = 0;
	cr_assert_eq(relay_ticket_make(t, &k, sid, 128, 1000 + RELAY_TICKET_MAX_LIFETIME, nonce), RELAY_TICKET_OK);
	cr_assert_eq(check(t, &k, 1, sid, 1000), RELAY_TICKET_OK, "at exactly the longest lifetime");
	cr_assert_eq(check(t, &k, 1, sid, 999), RELAY_TICKET_E_TOO_LONG, "one second more");
}

Test(relay_ticket, forged_mac_refused)
{
	struct relay_key k = vec_key();
	/* Flip each bit of the MAC in turn: every one is refused. */
	for (size_t bit = 0; bit < RELAY_TICKET_MAC_LEN * 8; bit++) {
		struct relay_ticket t;
		cr_assert_eq(relay_ticket_parse(&t, VEC_TICKET, strlen(VEC_TICKET)), RELAY_TICKET_OK);
		t.mac[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_eq(relay_ticket_verify(&t, &k, 1, "abc", 3, NOW), RELAY_TICKET_E_BAD_MAC, "bit %zu", bit);
	}
	/* Editing the signed fields breaks the MAC too: a later expiry, another
	 * nonce (a "fresh" replay). */
	struct relay_ticket t;
	relay_ticket_parse(&t, VEC_TICKET, strlen(VEC_TICKET));
	t.expires_at += 3600;
	cr_assert_eq(relay_ticket_verify(&t, &k, 1, "abc", 3, NOW), RELAY_TICKET_E_BAD_MAC);
	relay_ticket_parse(&t, VEC_TICKET, strlen(VEC_TICKET));
	t.nonce[0] ^= 1;
	cr_assert_eq(relay_ticket_verify(&t, &k, 1, "abc", 3, NOW), RELAY_TICKET_E_BAD_MAC);
}

Test(relay_ticket, wrong_session_id_refused)
{
	struct relay_key k = vec_key();
	cr_assert_eq(check(VEC_TICKET, &k, 1, "abd", NOW), RELAY_TICKET_E_BAD_MAC);
	cr_assert_eq(check(VEC_TICKET, &k, 1, "ab", NOW), RELAY_TICKET_E_BAD_MAC);
	cr_assert_eq(check(VEC_TICKET, &k, 1, "abcd", NOW), RELAY_TICKET_E_BAD_MAC);
	cr_assert_eq(check(VEC_TICKET, &k, 1, "ABC", NOW), RELAY_TICKET_E_BAD_MAC);
}

Test(relay_ticket, expired_refused_only_once_genuine)
{
	struct relay_key k = vec_key();
	cr_assert_eq(check(VEC_TICKET, &k, 1, "abc", VEC_EXPIRES - 1), RELAY_TICKET_OK);
	cr_assert_eq(check(VEC_TICKET, &k, 1, "abc", VEC_EXPIRES), RELAY_TICKET_E_EXPIRED);
	cr_assert_eq(check(VEC_TICKET, &k, 1, "abc", VEC_EXPIRES + 86400), RELAY_TICKET_E_EXPIRED);
	/* A forged expired ticket says "bad MAC", not "expired". */
	cr_assert_eq(check(VEC_TICKET, &k, 1, "abd", VEC_EXPIRES + 1), RELAY_TICKET_E_BAD_MAC);
	/* Far ahead of the relay's clock: refused, the nonce could not be
	 * remembered that long. */
	cr_assert_eq(check(VEC_TICKET, &k, 1, "abc", VEC_EXPIRES - RELAY_TICKET_MAX_LIFETIME - 1),
		     RELAY_TICKET_E_TOO_LONG);
}

Test(relay_ticket, wrong_key_refused)
{
	struct relay_key other = key_of(0x55);
	cr_assert_eq(check(VEC_TICKET, &other, 1, "abc", NOW), RELAY_TICKET_E_UNKNOWN_KEY);
	/* Another key that happens to carry the same id (a 32-bit id collides
	 * by chance or by choice): still the MAC decides. */
	struct relay_key k = vec_key(), same_id = other;
	memcpy(same_id.id, k.id, RELAY_KEY_ID_LEN);
	cr_assert_eq(check(VEC_TICKET, &same_id, 1, "abc", NOW), RELAY_TICKET_E_BAD_MAC);
	cr_assert_eq(check(VEC_TICKET, NULL, 0, "abc", NOW), RELAY_TICKET_E_UNKNOWN_KEY);
}

Test(relay_ticket, key_rotation)
{
	/* The relay holds the old key and the new one while meshes move over:
	 * tickets under either pass, in any order; once the old key is dropped
	 * its tickets fail. */
	struct relay_key old = key_of(1), cur = key_of(2), same_id = key_of(3);
	memcpy(same_id.id, cur.id, RELAY_KEY_ID_LEN);
	struct relay_key both[3] = {old, same_id, cur}, only_new[1] = {cur};
	char t_old[RELAY_TICKET_TEXT_LEN + 1], t_new[RELAY_TICKET_TEXT_LEN + 1];
	uint8_t nonce[RELAY_TICKET_NONCE_LEN] = {9};
	relay_ticket_make(t_old, &old, "s1", 2, 2000, nonce);
	relay_ticket_make(t_new, &cur, "s1", 2, 2000, nonce);
	cr_assert_eq(check(t_old, both, 3, "s1", 1500), RELAY_TICKET_OK);
	cr_assert_eq(check(t_new, both, 3, "s1", 1500), RELAY_TICKET_OK, "found past a key with the same id");
	cr_assert_eq(check(t_old, only_new, 1, "s1", 1500), RELAY_TICKET_E_UNKNOWN_KEY);
	cr_assert_eq(check(t_new, only_new, 1, "s1", 1500), RELAY_TICKET_OK);
}

Test(relay_ticket, replayed_nonce_refused_until_expiry)
{
	struct relay_ticket_seen *s = relay_ticket_seen_new(16);
	uint8_t a[RELAY_TICKET_NONCE_LEN] = {1}, b[RELAY_TICKET_NONCE_LEN] = {2};
	cr_assert_not_null(s);
	cr_assert_eq(relay_ticket_seen_add(s, a, 200, 100), RELAY_TICKET_OK);
	cr_assert_eq(relay_ticket_seen_add(s, a, 200, 100), RELAY_TICKET_E_REPLAYED);
	cr_assert_eq(relay_ticket_seen_add(s, a, 300, 150), RELAY_TICKET_E_REPLAYED, "even with another expiry");
	cr_assert_eq(relay_ticket_seen_add(s, b, 200, 100), RELAY_TICKET_OK);
	relay_ticket_seen_free(s);
	relay_ticket_seen_free(NULL);
}

Test(relay_ticket, replay_memory_is_bounded_and_forgets_expired)
{
	enum { MAX = 64 };
	struct relay_ticket_seen *s = relay_ticket_seen_new(MAX);
	uint8_t n[RELAY_TICKET_NONCE_LEN] = {0};
	cr_assert_not_null(s);
	/* MAX live nonces fill it: the next is refused, not recorded. */
	for (unsigned i = 0; i < MAX; i++) {
		memcpy(n, &i, sizeof i);
		cr_assert_eq(relay_ticket_seen_add(s, n, 1000, 100), RELAY_TICKET_OK, "%u", i);
	}
	unsigned extra = MAX;
	memcpy(n, &extra, sizeof extra);
	cr_assert_eq(relay_ticket_seen_add(s, n, 1000, 100), RELAY_TICKET_E_FULL);
	cr_assert_eq(relay_ticket_seen_count(s), MAX);
	/* Every one of them is still remembered. */
	for (unsigned i = 0; i < MAX; i++) {
		memcpy(n, &i, sizeof i);
		cr_assert_eq(relay_ticket_seen_add(s, n, 1000, 100), RELAY_TICKET_E_REPLAYED, "%u", i);
	}
	/* Past their expiry they are dropped and room comes back; live ones
	 * added since stay remembered across the purge. */
	for (unsigned round = 0; round < 10; round++) {
		uint64_t now = 1000 + round * 1000, exp = now + 1000;
		for (unsigned i = 0; i < MAX; i++) {
			unsigned v = 1000 * (round + 1) + i;
			memcpy(n, &v, sizeof v);
			cr_assert_eq(relay_ticket_seen_add(s, n, exp, now), RELAY_TICKET_OK, "round %u, %u", round, i);
		}
		for (unsigned i = 0; i < MAX; i++) {
			unsigned v = 1000 * (round + 1) + i;
			memcpy(n, &v, sizeof v);
			cr_assert_eq(relay_ticket_seen_add(s, n, exp, now), RELAY_TICKET_E_REPLAYED);
		}
		cr_assert_leq(relay_ticket_seen_count(s), MAX);
	}
	relay_ticket_seen_free(s);
}

/* ---- malformed input ---- */

struct bad_case {
	char name[40];
	char text[100];
};

static struct bad_case bad[] = {
	{"empty", ""},
	{"one short", "AX70Xh8AAAAAZVPxAKChoqOkpaanqKmqq6ytrq-7UZhOdZ8_OOuTeTUmUxE_1cGe5rrbdky3DX-BBlmMz"},
	{"one long", "AX70Xh8AAAAAZVPxAKChoqOkpaanqKmqq6ytrq-7UZhOdZ8_OOuTeTUmUxE_1cGe5rrbdky3DX-BBlmMzQA"},
	{"padded", "AX70Xh8AAAAAZVPxAKChoqOkpaanqKmqq6ytrq-7UZhOdZ8_OOuTeTUmUxE_1cGe5rrbdky3DX-BBlmMzQ=="},
	{"std alphabet +", "AX70Xh8AAAAAZVPxAKChoqOkpaanqKmqq6ytrq+7UZhOdZ8_OOuTeTUmUxE_1cGe5rrbdky3DX-BBlmMzQ"},
	{"std alphabet /", "AX70Xh8AAAAAZVPxAKChoqOkpaanqKmqq6ytrq-7UZhOdZ8/OOuTeTUmUxE_1cGe5rrbdky3DX-BBlmMzQ"},
	{"non-canonical last", "AX70Xh8AAAAAZVPxAKChoqOkpaanqKmqq6ytrq-7UZhOdZ8_OOuTeTUmUxE_1cGe5rrbdky3DX-BBlmMzR"},
	{"space", "AX70Xh8AAAAAZVPxAKChoqOkpaanqKmqq6ytrq-7UZhOdZ8 OOuTeTUmUxE_1cGe5rrbdky3DX-BBlmMzQ"},
	{"percent", "AX70Xh8AAAAAZVPxAKChoqOkpaanqKmqq6ytrq-7UZhOdZ8%OOuTeTUmUxE_1cGe5rrbdky3DX-BBlmMzQ"},
	/* version 2 (first byte 02): "Ah70..." re-encoded */
	{"version 2", "An70Xh8AAAAAZVPxAKChoqOkpaanqKmqq6ytrq-7UZhOdZ8_OOuTeTUmUxE_1cGe5rrbdky3DX-BBlmMzQ"},
	{"version 0", "AH70Xh8AAAAAZVPxAKChoqOkpaanqKmqq6ytrq-7UZhOdZ8_OOuTeTUmUxE_1cGe5rrbdky3DX-BBlmMzQ"},
	{"a key, not a ticket", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"},
};

ParameterizedTestParameters(relay_ticket, malformed_refused)
{
	return cr_make_param_array(struct bad_case, bad, sizeof bad / sizeof bad[0]);
}

ParameterizedTest(struct bad_case *c, relay_ticket, malformed_refused)
{
	struct relay_ticket t, before;
	memset(&t, 0x5a, sizeof t);
	before = t;
	cr_assert_eq(relay_ticket_parse(&t, c->text, strlen(c->text)), RELAY_TICKET_E_MALFORMED, "%s", c->name);
	cr_assert_eq(memcmp(&t, &before, sizeof t), 0, "%s: output written", c->name);
}

Test(relay_ticket, every_prefix_and_every_byte_change_refused)
{
	struct relay_key k = vec_key();
	char buf[RELAY_TICKET_TEXT_LEN + 1];
	struct relay_ticket t;
	for (size_t n = 0; n < RELAY_TICKET_TEXT_LEN; n++)
		cr_assert_eq(relay_ticket_parse(&t, VEC_TICKET, n), RELAY_TICKET_E_MALFORMED, "prefix %zu", n);
	/* Any other character at any position: malformed or not genuine. */
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. \x01\x80";
	for (size_t i = 0; i < RELAY_TICKET_TEXT_LEN; i++)
		for (size_t a = 0; a < sizeof alphabet - 1; a++) {
			if (alphabet[a] == VEC_TICKET[i])
				continue;
			memcpy(buf, VEC_TICKET, sizeof buf);
			buf[i] = alphabet[a];
			int r = check(buf, &k, 1, "abc", NOW);
			cr_assert_neq(r, RELAY_TICKET_OK, "position %zu = '%c'", i, alphabet[a]);
		}
}

Test(relay_ticket, input_ending_at_a_page_boundary)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(m, MAP_FAILED);
	cr_assert_eq(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
	char *end = (char *)m + pg;
	struct relay_ticket t;
	for (size_t n = 0; n <= RELAY_TICKET_TEXT_LEN; n++) {
		memcpy(end - n, VEC_TICKET, n);
		int r = relay_ticket_parse(&t, end - n, n);
		cr_assert_eq(r, n == RELAY_TICKET_TEXT_LEN ? RELAY_TICKET_OK : RELAY_TICKET_E_MALFORMED, "%zu", n);
	}
	struct relay_key k;
	memcpy(end - RELAY_KEY_TEXT_LEN, VEC_KEY, RELAY_KEY_TEXT_LEN);
	cr_assert_eq(relay_key_parse(&k, end - RELAY_KEY_TEXT_LEN, RELAY_KEY_TEXT_LEN), RELAY_TICKET_OK);
	munmap(m, (size_t)pg * 2);
}

Test(relay_key, malformed_keys_refused)
{
	static const char *bad_keys[] = {
		"",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh",     /* 42 */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A",   /* 44 */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",   /* padded */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9",    /* non-canonical */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH+8",    /* standard alphabet */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH 8",
	};
	for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
		struct relay_key k;
		memset(&k, 0x33, sizeof k);
		cr_assert_eq(relay_key_parse(&k, bad_keys[i], strlen(bad_keys[i])), RELAY_TICKET_E_MALFORMED, "'%s'",
			     bad_keys[i]);
		cr_assert_eq(k.key[0], 0x33, "'%s': output written", bad_keys[i]);
	}
	cr_assert_str_neq(relay_ticket_strerror(RELAY_TICKET_E_FULL), relay_ticket_strerror(12345));
}

/* Where the relay looks for the ticket in a request. */
Test(relay_ticket, find_in_query_or_bearer_header)
{
	struct find_case {
		const char *target, *auth, *want; /* want NULL: none */
	} cases[] = {
		{"/relay/abc?ticket=T1", NULL, "T1"},
		{"/relay/abc?x=1&ticket=T2&y=2", NULL, "T2"},
		{"/relay/abc?ticket=T3&ticket=T4", NULL, "T3"},          /* the first one counts */
		{"/relay/abc?ticket=", NULL, ""},                        /* present, empty: refused later */
		{"/relay/abc?tickets=T5", NULL, NULL},
		{"/relay/abc?xticket=T5", NULL, NULL},
		{"/relay/abc?&&ticket=T6&", NULL, "T6"},
		{"/relay/abc", NULL, NULL},
		{"/relay/abc?", NULL, NULL},
		{"/relay/ticket=T7", NULL, NULL},                        /* in the path, not the query */
		{"/relay/abc?a=1", "Bearer T8", "T8"},
		{"/relay/abc", "bearer   T9", "T9"},
		{"/relay/abc", "BEARER T10", "T10"},
		{"/relay/abc?ticket=T11", "Bearer T12", "T11"},           /* the query wins */
		{"/relay/abc", "Basic dXNlcjpwYXNz", NULL},
		{"/relay/abc", "Bearer", NULL},
		{"/relay/abc", "Bearer\tT13", NULL},
		{"/relay/abc", "Bearerx T14", NULL},
		{"/relay/abc", "", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct find_case *c = &cases[i];
		const char *p = NULL;
		size_t n = 99;
		bool got = relay_ticket_find(&p, &n, c->target, strlen(c->target), c->auth, c->auth ? strlen(c->auth) : 0);
		cr_assert_eq(got, c->want != NULL, "case %zu: %s / %s", i, c->target, c->auth ? c->auth : "-");
		if (got) {
			cr_assert_eq(n, strlen(c->want), "case %zu", i);
			cr_assert_eq(memcmp(p, c->want, n), 0, "case %zu", i);
		}
	}
}
