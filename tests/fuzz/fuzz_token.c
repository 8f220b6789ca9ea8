/* Fuzz target for join codes (node/token.h).
 *
 * Input: a pasted join code. An input starting with '{' can never be one
 * ('{' is not base64), so it is taken as the JSON inside a code instead and
 * base64-encoded first: that lets libFuzzer mutate the JSON structure
 * directly (seeds json-*), while every other input exercises the base64
 * layer as well.
 *
 * Survival is not the bar; these must hold:
 *   - the status is OK or one of enum node_token_status, with a description;
 *   - a failed decode leaves its output untouched, and names a field exactly
 *     for the field errors;
 *   - a decoded token has NUL-terminated, in-limit strings and counts;
 *   - re-encoding it (under our own secret, which changes only invite_key
 *     and mac) succeeds within NODE_TOKEN_MAX_CODE_LEN, is deterministic, and
 *     decodes to the same field values; both ends agree on the short code;
 *   - the same token is refused as expired at its expires_at.
 * A broken property aborts, which libFuzzer and the replay test report. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/b64.h"
#include "node/token.h"
#include "tests/fuzz/check.h"

/* The corpus's tokens are valid at this time (tests/node/make_vectors.py). */
#define NOW ((uint64_t)1234600000)

static const uint8_t fuzz_secret[NODE_TOKEN_SECRET_LEN] = { 0x42 };

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void check_shape(const struct node_token *t)
{
	CHECK(terminated(t->mesh_id, sizeof t->mesh_id) && t->mesh_id[0]);
	CHECK(terminated(t->mesh_name, sizeof t->mesh_name) && t->mesh_name[0]);
	CHECK(terminated(t->endpoint, sizeof t->endpoint));
	CHECK(terminated(t->public_endpoint, sizeof t->public_endpoint));
	CHECK(t->num_relay_urls <= NODE_TOKEN_MAX_RELAYS);
	for (size_t i = 0; i < t->num_relay_urls; i++)
		CHECK(terminated(t->relay_urls[i], sizeof t->relay_urls[i]));
	CHECK(t->num_stun <= NODE_TOKEN_MAX_STUN);
	for (size_t i = 0; i < t->num_stun; i++)
		CHECK(terminated(t->stun[i], sizeof t->stun[i]));
	CHECK(t->num_ipv6_endpoints <= NODE_TOKEN_MAX_IPV6_ENDPOINTS);
	for (size_t i = 0; i < t->num_ipv6_endpoints; i++)
		CHECK(terminated(t->ipv6_endpoints[i], sizeof t->ipv6_endpoints[i]) && t->ipv6_endpoints[i][0] == '[');
	CHECK(terminated(t->node_id, sizeof t->node_id) && t->node_id[0]);
	CHECK(t->created_at < t->expires_at && t->expires_at - t->created_at <= NODE_TOKEN_MAX_LIFETIME);
	CHECK(t->created_at <= NOW + NODE_TOKEN_MAX_CLOCK_SKEW && NOW < t->expires_at);
}

static void check_same_fields(const struct node_token *a, const struct node_token *b)
{
	CHECK(strcmp(a->mesh_id, b->mesh_id) == 0);
	CHECK(strcmp(a->mesh_name, b->mesh_name) == 0);
	CHECK(strcmp(a->endpoint, b->endpoint) == 0);
	CHECK(strcmp(a->public_endpoint, b->public_endpoint) == 0);
	CHECK(a->num_relay_urls == b->num_relay_urls);
	for (size_t i = 0; i < a->num_relay_urls; i++)
		CHECK(strcmp(a->relay_urls[i], b->relay_urls[i]) == 0);
	CHECK(a->num_stun == b->num_stun);
	for (size_t i = 0; i < a->num_stun; i++)
		CHECK(strcmp(a->stun[i], b->stun[i]) == 0);
	CHECK(a->num_ipv6_endpoints == b->num_ipv6_endpoints);
	for (size_t i = 0; i < a->num_ipv6_endpoints; i++)
		CHECK(strcmp(a->ipv6_endpoints[i], b->ipv6_endpoints[i]) == 0);
	CHECK(a->created_at == b->created_at && a->expires_at == b->expires_at);
	CHECK(strcmp(a->node_id, b->node_id) == 0);
	CHECK(memcmp(a->node_pub, b->node_pub, sizeof a->node_pub) == 0);
	CHECK(memcmp(a->invite_id, b->invite_id, sizeof a->invite_id) == 0);
}

static void check_reencode(const struct node_token *t)
{
	static char code[NODE_TOKEN_MAX_CODE_LEN + 1], again[NODE_TOKEN_MAX_CODE_LEN + 1];
	static struct node_token copy, copy2, back;
	char short_issuer[NODE_TOKEN_SHORT_CODE_LEN + 1], short_joiner[NODE_TOKEN_SHORT_CODE_LEN + 1];
	size_t len = 0, len2 = 0;
	const char *field = NULL;

	CHECK(node_token_short_code(short_joiner, NULL, t) == NODE_TOKEN_OK);
	copy = *t;
	CHECK(node_token_encode(code, sizeof code, &len, &copy, &field, fuzz_secret) == NODE_TOKEN_OK);
	CHECK(len == strlen(code) && len <= NODE_TOKEN_MAX_CODE_LEN);
	copy2 = *t;
	CHECK(node_token_encode(again, sizeof again, &len2, &copy2, &field, fuzz_secret) == NODE_TOKEN_OK);
	CHECK(len == len2 && memcmp(code, again, len) == 0);

	CHECK(node_token_decode(&back, &field, code, len, NOW) == NODE_TOKEN_OK);
	check_same_fields(&back, t);
	CHECK(memcmp(back.invite_key, copy.invite_key, sizeof back.invite_key) == 0);
	CHECK(memcmp(back.mac, copy.mac, sizeof back.mac) == 0);
	CHECK(node_token_short_code(short_issuer, NULL, &copy) == NODE_TOKEN_OK);
	CHECK(node_token_short_code(short_joiner, NULL, &back) == NODE_TOKEN_OK);
	CHECK(strcmp(short_issuer, short_joiner) == 0);
	CHECK(node_token_decode(&back, NULL, code, len, t->expires_at) == NODE_TOKEN_E_EXPIRED);
	node_token_cleanup(&copy);
	node_token_cleanup(&copy2);
	node_token_cleanup(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char wrapped[2 * NODE_TOKEN_MAX_CODE_LEN];
	static struct node_token t, untouched;
	const char *code = (const char *)data;
	const char *field = NULL;
	size_t len = size;

	if (size > 0 && data[0] == '{') {
		if (net_b64_encode(wrapped, sizeof wrapped, &len, data, size, NET_B64_STD, true) != NET_B64_OK)
			return 0; /* too long to wrap: the length check is covered by raw inputs */
		code = wrapped;
	}
	memset(&t, 0x5a, sizeof t);
	untouched = t;
	int rc = node_token_decode(&t, &field, code, len, NOW);
	CHECK(rc <= NODE_TOKEN_OK && rc >= NODE_TOKEN_E_INTERNAL);
	CHECK(node_token_strerror(rc) != NULL);
	if (rc != NODE_TOKEN_OK) {
		CHECK(memcmp(&t, &untouched, sizeof t) == 0);
		bool names_field =
		        rc == NODE_TOKEN_E_MISSING_FIELD || rc == NODE_TOKEN_E_BAD_FIELD || rc == NODE_TOKEN_E_UNKNOWN_FIELD;
		CHECK(names_field == (field != NULL));
		CHECK(rc != NODE_TOKEN_E_NO_ROOM);
		return 0;
	}
	CHECK(field == NULL);
	check_shape(&t);
	check_reencode(&t);
	node_token_cleanup(&t);
	return 0;
}
