/* node/session_id: relay session ids a stranger cannot name. In the seed's
 * relay protocol the first client to name an id is paired with the next
 * (docs/RELAY.md): a squatter needs the id. These check that the node's ids
 * are functions of a secret -- the mesh secret or a join code's invite
 * key -- and of nothing a stranger can learn alone. */
#include <criterion/criterion.h>
#include <string.h>

#include "node/session_id.h"
#include "relay/http.h"

static void fill(uint8_t k[32], uint8_t seed)
{
	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)(seed * 31 + i * 7);
}

static bool relay_id_ok(const char *id)
{
	if (strlen(id) != NODE_SESSION_ID_LEN || strlen(id) > RELAY_HTTP_MAX_SESSION_ID)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

Test(node_session_id, pair_ids_are_valid_relay_ids_and_symmetric)
{
	uint8_t secret[32];
	char ab[NODE_SESSION_ID_LEN + 1], ba[NODE_SESSION_ID_LEN + 1];
	fill(secret, 1);
	node_pair_session_id(ab, secret, "rob-1a2b", "matt-3c4d");
	node_pair_session_id(ba, secret, "matt-3c4d", "rob-1a2b");
	cr_assert(relay_id_ok(ab), "'%s' is not a 40-hex-digit relay id", ab);
	cr_assert_str_eq(ab, ba, "both ends must name the same session");
}

/* Everything public -- both node ids -- fixed; only the secret differs. A
 * squatter guessing secrets names another session every time; any single
 * bit of the secret changes the id. */
Test(node_session_id, pair_id_needs_the_mesh_secret)
{
	uint8_t secret[32], guess[32];
	char real[NODE_SESSION_ID_LEN + 1], other[NODE_SESSION_ID_LEN + 1];
	fill(secret, 2);
	node_pair_session_id(real, secret, "rob-1a2b", "matt-3c4d");
	for (int bit = 0; bit < 256; bit++) {
		memcpy(guess, secret, 32);
		guess[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		node_pair_session_id(other, guess, "rob-1a2b", "matt-3c4d");
		cr_assert_str_neq(real, other, "flipping secret bit %d left the id unchanged", bit);
	}
	for (int s = 0; s < 1000; s++) {
		fill(guess, (uint8_t)(s + 3));
		guess[31] = (uint8_t)(s >> 8);
		node_pair_session_id(other, guess, "rob-1a2b", "matt-3c4d");
		cr_assert_str_neq(real, other, "guess %d named the session", s);
	}
	/* Nor is it the id of any other pair of the same mesh. */
	node_pair_session_id(other, secret, "rob-1a2b", "ana-5e6f");
	cr_assert_str_neq(real, other);
}

/* The id carries nothing public: not the node ids, and not the bare
 * digest of the public inputs (an unkeyed hash a stranger could compute). */
Test(node_session_id, pair_id_shows_nothing_public)
{
	uint8_t secret[32], zero[32] = {0};
	char id[NODE_SESSION_ID_LEN + 1], with_zero[NODE_SESSION_ID_LEN + 1];
	fill(secret, 4);
	node_pair_session_id(id, secret, "1a2b3c", "4d5e6f");
	cr_assert_null(strstr(id, "1a2b3c"));
	cr_assert_null(strstr(id, "4d5e6f"));
	node_pair_session_id(with_zero, zero, "1a2b3c", "4d5e6f");
	cr_assert_str_neq(id, with_zero);
}

Test(node_session_id, inbox_id_needs_the_invite_key)
{
	uint8_t key[32], other_key[32];
	char id[NODE_SESSION_ID_LEN + 1], other[NODE_SESSION_ID_LEN + 1], again[NODE_SESSION_ID_LEN + 1];
	fill(key, 5);
	node_inbox_session_id(id, key);
	node_inbox_session_id(again, key);
	cr_assert(relay_id_ok(id));
	cr_assert_str_eq(id, again, "the issuer and the joiner must name the same inbox");
	for (int bit = 0; bit < 256; bit++) {
		memcpy(other_key, key, 32);
		other_key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		node_inbox_session_id(other, other_key);
		cr_assert_str_neq(id, other, "flipping key bit %d left the inbox unchanged", bit);
	}
}
