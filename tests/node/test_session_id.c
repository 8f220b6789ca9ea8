/* node/session_id: relay session ids a stranger cannot name. In the seed's
 * relay protocol the first client to name an id is paired with the next
 * (docs/RELAY.md): a squatter needs the id. These check that the node's ids
 * are functions of a secret -- the mesh secret or a join code's invite
 * key -- and of nothing a stranger can learn alone. */
#include <criterion/criterion.h>
#include <string.h>

#include "net/bssl.h"
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

/* Decodes an id's 40 hex digits into its 160 bits. */
static void id_bits(const char *id, uint8_t out[20])
{
	for (int i = 0; i < 20; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char c = id[2 * i + k];
			v = v << 4 | (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
		}
		out[i] = (uint8_t)v;
	}
}

/* docs/RELAY.md, "Squatting in open mode": on an open relay an id is all
 * that keeps a stranger out, so it must be unguessable. The node's ids
 * come from secrets drawn with the CSPRNG (RAND_bytes: the mesh secret at
 * `atmosphere init`, the invite key through a random invite id) and keep
 * 160 bits of them: over 4,096 secrets drawn the same way, no two ids
 * meet, every one of the 160 bits is set about half the time (no bit is
 * stuck or biased: each carries entropy), and one flipped secret bit
 * changes about half of them. Guessing then costs 2^159 tries on average:
 * at a million requests a second, ~10^35 years. */
Test(node_session_id, ids_from_csprng_secrets_carry_160_unbiased_bits)
{
	enum { N = 4096 };
	static uint8_t bits[N][20];
	static unsigned set[2][160];
	uint8_t secret[32];
	char id[NODE_SESSION_ID_LEN + 1];
	for (int kind = 0; kind < 2; kind++) {
		for (int n = 0; n < N; n++) {
			RAND_bytes(secret, sizeof secret);
			if (kind == 0)
				node_pair_session_id(id, secret, "rob-1a2b", "matt-3c4d");
			else
				node_inbox_session_id(id, secret);
			cr_assert(relay_id_ok(id), "'%s'", id);
			id_bits(id, bits[n]);
			for (int b = 0; b < 160; b++)
				set[kind][b] += bits[n][b / 8] >> (7 - b % 8) & 1;
		}
		for (int b = 0; b < 160; b++)
			/* 2048 expected, standard deviation 32: this is +-12 sigma. */
			cr_assert(set[kind][b] > N * 4 / 10 && set[kind][b] < N * 6 / 10,
				  "%s id bit %d set in %u of %d ids", kind ? "inbox" : "pair", b, set[kind][b], N);
		/* No two equal (sorting would be faster; 8 M comparisons of 20
		 * bytes are fine). */
		for (int i = 0; i < N; i++)
			for (int j = i + 1; j < N; j++)
				cr_assert_neq(memcmp(bits[i], bits[j], 20), 0, "ids %d and %d collide", i, j);
	}
	/* Avalanche: each secret bit flipped changes 40 to 120 of 160 id bits
	 * (80 expected, standard deviation 6.3). */
	RAND_bytes(secret, sizeof secret);
	uint8_t base[20], other[20];
	node_inbox_session_id(id, secret);
	id_bits(id, base);
	for (int bit = 0; bit < 256; bit++) {
		secret[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		node_inbox_session_id(id, secret);
		secret[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		id_bits(id, other);
		int diff = 0;
		for (int i = 0; i < 20; i++)
			diff += __builtin_popcount((unsigned)(base[i] ^ other[i]));
		cr_assert(diff >= 40 && diff <= 120, "secret bit %d changed %d id bits", bit, diff);
	}
}
