/* Fuzz target for relay tickets, the replay memory and allow-list networks
 * (relay/ticket.h, relay/cidr.h): what a stranger's upgrade request reaches
 * in the relay's mesh-token and allow-list modes.
 *
 * Input: the first byte picks the part.
 *   'r'  the rest drives the replay memory (max 16 live nonces): records of
 *        3 bytes, nonce id (one byte expanded to 16), lifetime 1..256 s,
 *        clock step 0..255 s, checked against a plain list;
 *   'c'  the rest is a network (CIDR) text;
 *   'q'  the rest is a request target, then after a NUL (if any) an
 *        Authorization value, searched for a ticket;
 *   else the whole input is a ticket's text, checked for session id
 *        "fuzz-session" at NOW under two keys (seeds: corpus/ticket/).
 * Properties, not only survival:
 *   - parse refuses without writing its output; an accepted text is the
 *     canonical base64url of the parsed fields (text and bytes name each
 *     other);
 *   - verify says OK exactly when relay_ticket_make under the key with the
 *     ticket's id, for its fields, gives back the same text (nothing but the
 *     key holder's own tickets pass), and then the expiry is within
 *     (NOW, NOW + RELAY_TICKET_MAX_LIFETIME];
 *   - the replay memory refuses a nonce that is live in the reference, never
 *     holds more than max_live, says FULL only when max_live are live;
 *   - a ticket found in a request lies right after "ticket=" in the query
 *     (no '&' in it) or after "Bearer " in the header;
 *   - an accepted network formats and parses back to itself and contains its
 *     own address; a refused one leaves the output untouched.
 * A broken property aborts, which libFuzzer and the replay test report. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/b64.h"
#include "relay/cidr.h"
#include "relay/ticket.h"
#include "tests/fuzz/check.h"

/* corpus/ticket/ok-* are valid at this time for this session id. */
#define NOW ((uint64_t)1700000000 - 60)
#define SID "fuzz-session"

static void fuzz_keys(struct relay_key k[2])
{
	uint8_t s[RELAY_KEY_LEN];
	for (int i = 0; i < RELAY_KEY_LEN; i++)
		s[i] = (uint8_t)i;          /* the vector key of tests/relay/test_ticket.c */
	relay_key_init(&k[0], s);
	memset(s, 0x42, sizeof s);
	relay_key_init(&k[1], s);
	CHECK(memcmp(k[0].id, k[1].id, RELAY_KEY_ID_LEN)); /* distinct ids: one key per ticket */
}

static void fuzz_ticket_text(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct relay_ticket t, before;
	struct relay_key keys[2];
	memset(&t, 0xa5, sizeof t);
	before = t;
	int r = relay_ticket_parse(&t, text, size);
	CHECK(relay_ticket_strerror(r)[0]);
	if (r != RELAY_TICKET_OK) {
		CHECK(r == RELAY_TICKET_E_MALFORMED);
		CHECK(!memcmp(&t, &before, sizeof t));
		return;
	}
	CHECK(size == RELAY_TICKET_TEXT_LEN && t.version == RELAY_TICKET_VERSION);
	/* Canonical: the fields' bytes encode back to the very text. */
	uint8_t raw[RELAY_TICKET_LEN];
	char again[RELAY_TICKET_TEXT_LEN + 1];
	size_t n;
	raw[0] = t.version;
	memcpy(raw + 1, t.key_id, RELAY_KEY_ID_LEN);
	for (int i = 0; i < 8; i++)
		raw[1 + RELAY_KEY_ID_LEN + i] = (uint8_t)(t.expires_at >> (56 - 8 * i));
	memcpy(raw + 13, t.nonce, RELAY_TICKET_NONCE_LEN);
	memcpy(raw + 29, t.mac, RELAY_TICKET_MAC_LEN);
	CHECK(net_b64_encode(again, sizeof again, &n, raw, sizeof raw, NET_B64_URL, false) == NET_B64_OK);
	CHECK(n == size && !memcmp(again, text, size));

	fuzz_keys(keys);
	int v = relay_ticket_verify(&t, keys, 2, SID, strlen(SID), NOW);
	CHECK(v == RELAY_TICKET_OK || v == RELAY_TICKET_E_UNKNOWN_KEY || v == RELAY_TICKET_E_BAD_MAC ||
	      v == RELAY_TICKET_E_EXPIRED || v == RELAY_TICKET_E_TOO_LONG);
	const struct relay_key *k = NULL;
	for (int i = 0; i < 2; i++)
		if (!memcmp(keys[i].id, t.key_id, RELAY_KEY_ID_LEN))
			k = &keys[i];
	CHECK((k == NULL) == (v == RELAY_TICKET_E_UNKNOWN_KEY));
	if (!k)
		return;
	char made[RELAY_TICKET_TEXT_LEN + 1];
	CHECK(relay_ticket_make(made, k, SID, strlen(SID), t.expires_at, t.nonce) == RELAY_TICKET_OK);
	bool genuine = !memcmp(made, text, size);
	CHECK(genuine == (v != RELAY_TICKET_E_BAD_MAC));
	if (v == RELAY_TICKET_OK)
		CHECK(t.expires_at > NOW && t.expires_at - NOW <= RELAY_TICKET_MAX_LIFETIME);
	/* Another session id never accepts it. */
	CHECK(relay_ticket_verify(&t, keys, 2, SID "x", strlen(SID) + 1, NOW) != RELAY_TICKET_OK);
}

static void fuzz_replay(const uint8_t *data, size_t size)
{
	enum { MAX_LIVE = 16, MAX_OPS = 4096 };
	struct relay_ticket_seen *s = relay_ticket_seen_new(MAX_LIVE);
	static uint64_t ref_exp[256]; /* by nonce id; 0: never seen */
	uint64_t now = 1000;
	CHECK(s);
	memset(ref_exp, 0, sizeof ref_exp);
	for (size_t i = 0; i + 3 <= size && i / 3 < MAX_OPS; i += 3) {
		uint8_t id = data[i], nonce[RELAY_TICKET_NONCE_LEN];
		uint64_t exp = now + 1 + data[i + 1];
		memset(nonce, id, sizeof nonce);
		nonce[0] = 0x5a;              /* ids 0..255 map to distinct nonces */
		size_t live = 0;
		for (int j = 0; j < 256; j++)
			live += ref_exp[j] > now;
		int r = relay_ticket_seen_add(s, nonce, exp, now);
		CHECK(r == RELAY_TICKET_OK || r == RELAY_TICKET_E_REPLAYED || r == RELAY_TICKET_E_FULL);
		if (ref_exp[id] > now)
			CHECK(r == RELAY_TICKET_E_REPLAYED);
		if (r == RELAY_TICKET_E_FULL)
			CHECK(live >= MAX_LIVE);
		if (r == RELAY_TICKET_OK) {
			CHECK(ref_exp[id] <= now);
			ref_exp[id] = exp;
		}
		CHECK(relay_ticket_seen_count(s) <= MAX_LIVE);
		now += data[i + 2];
	}
	relay_ticket_seen_free(s);
}

/* The request's ticket: target, then (after a NUL, if any) the
 * Authorization value. A found ticket lies inside one of them, right after
 * "ticket=" in the query or after "Bearer" and spaces, and holds no '&'
 * when it came from the query. */
static void fuzz_find(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *nul = memchr(in, 0, size);
	size_t tl = nul ? (size_t)(nul - in) : size;
	const char *auth = nul ? nul + 1 : NULL;
	size_t al = nul ? size - tl - 1 : 0;
	const char *p = NULL;
	size_t n = 0;
	if (!relay_ticket_find(&p, &n, in, tl, auth, al))
		return;
	bool in_target = p >= in && p + n <= in + tl, in_auth = auth && p >= auth && p + n <= auth + al;
	CHECK(in_target || in_auth);
	if (in_target) {
		CHECK(p - in >= 8 && !memcmp(p - 7, "ticket=", 7) && (p[-8] == '?' || p[-8] == '&'));
		CHECK(memchr(in, '?', (size_t)(p - in)) && !memchr(p, '&', n));
	} else {
		CHECK(p - auth >= 7 && p[-1] == ' ' && (n == 0 || p[0] != ' '));
	}
}

static void fuzz_cidr(const uint8_t *data, size_t size)
{
	struct relay_cidr n, before, back;
	char text[RELAY_CIDR_MAX_TEXT];
	memset(&n, 0x3c, sizeof n);
	before = n;
	if (relay_cidr_parse(&n, (const char *)data, size) != 0) {
		CHECK(!memcmp(&n, &before, sizeof n));
		return;
	}
	CHECK(n.prefix_len <= 128 && (!n.v4 || n.prefix_len >= 96));
	relay_cidr_format(&n, text);
	CHECK(relay_cidr_parse(&back, text, strlen(text)) == 0);
	CHECK(!memcmp(back.addr, n.addr, 16) && back.prefix_len == n.prefix_len && back.v4 == n.v4);
	CHECK(relay_cidr_match(&n, n.addr));
	CHECK(relay_cidr_match_any(&n, 1, n.addr));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size && data[0] == 'r')
		fuzz_replay(data + 1, size - 1);
	else if (size && data[0] == 'c')
		fuzz_cidr(data + 1, size - 1);
	else if (size && data[0] == 'q')
		fuzz_find(data + 1, size - 1);
	else
		fuzz_ticket_text(data, size);
	return 0;
}
