#ifndef NODE_TOKEN_H
#define NODE_TOKEN_H
/* node/token.h: join codes, and the keys derived from the mesh join secret
 * (docs/TOKENS.md).
 *
 * A join code is what `atmosphere join` prints: base64 of a JSON object with
 * the seed's fields (mesh_id, mesh_name, endpoint, public_endpoint,
 * relay_urls, created_at, expires_at) plus v, node_id, node_pub, stun,
 * invite_id, invite_key and mac, and the optional relay_keys and
 * ipv6_endpoints. Next to it both sides print a short code,
 * MESH-XXXX-XXXX-XXXX, a checksum of the whole code to compare by voice,
 * which is also the password of a short-code join (node/pake.h).
 *
 * Design: the join secret (32 random bytes per mesh) never leaves the mesh.
 * A code carries an invite key derived from it and bound to the mesh id, a
 * random invite id and the code's validity period:
 *
 *   invite_key = HKDF(join_secret, "atmosphere v1 invite key" || mesh_id ||
 *                     invite_id || created_at || expires_at)
 *
 * A code is therefore a bearer credential (like a Tailscale auth key):
 * whoever holds it can join until it expires; the expiry is enforced by the
 * mesh, which rederives the key from the claim a joiner presents, so editing
 * the dates yields a key nobody accepts. The joiner proves the key by
 * completing an e2e handshake (node/e2e.h) whose PSK derives from it; it is
 * never sent. The mac (HMAC-SHA256 under a key derived from invite_key, over
 * a canonical binary form of every other field) makes any edit or
 * corruption of the code fail to decode. Someone who can replace the whole
 * code could also recompute the mac with their own key: the short code
 * compared by voice is what catches a swapped code.
 *
 * Pure: no I/O, no clock (callers pass `now`), no randomness (callers fill
 * invite_id). Decoding parses JSON with json-c under a depth limit, copies
 * every string into struct node_token (no pointers into freed JSON) and writes
 * its output only on success. Secrets are compared with CRYPTO_memcmp and
 * wiped with OPENSSL_cleanse. Nothing suspends. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/ticket.h" /* RELAY_KEY_TEXT_LEN */

/* --- Limits -----------------------------------------------------------------
 * Every bound a stranger's code can push on, in one place. Lengths are in
 * bytes, NUL excluded. With these, the largest valid code (every list full,
 * relay_keys and ipv6_endpoints included) is 3452 characters, under
 * NODE_TOKEN_MAX_CODE_LEN (measured by test_token.c's
 * round_trips_unicode_ipv6_and_full_lists). */
enum {
	/* A pasted code longer than this is refused before decoding. */
	NODE_TOKEN_MAX_CODE_LEN = 4096,
	/* JSON nesting: the object, and arrays of strings inside it. */
	NODE_TOKEN_MAX_JSON_DEPTH = 2,
	NODE_TOKEN_MAX_ID_LEN = 64,        /* mesh_id, node_id: [A-Za-z0-9._-]+ */
	NODE_TOKEN_MAX_NAME_LEN = 64,      /* mesh_name: UTF-8, no control characters */
	NODE_TOKEN_MAX_ENDPOINT_LEN = 47,  /* "[IPv6]:port" at most 1+39+2+5 */
	NODE_TOKEN_MAX_URL_LEN = 200,      /* one relay URL, ws:// or wss:// */
	NODE_TOKEN_MAX_RELAYS = 4,         /* entries in relay_urls */
	NODE_TOKEN_MAX_HOSTPORT_LEN = 100, /* one STUN server, "host:port" */
	NODE_TOKEN_MAX_STUN = 8,           /* entries in stun */
	NODE_TOKEN_MAX_IPV6_ENDPOINTS = 4, /* entries in ipv6_endpoints */
};
/* A code may live at most 30 days: expiry is what bounds its exposure. */
#define NODE_TOKEN_MAX_LIFETIME ((uint64_t)30 * 24 * 3600)
/* A code created up to 5 minutes in the future is accepted (clock skew
 * between the two machines); later than that it is refused. */
#define NODE_TOKEN_MAX_CLOCK_SKEW ((uint64_t)300)
/* Times are unix seconds up to the end of year 9999. */
#define NODE_TOKEN_MAX_TIME ((uint64_t)253402300799)

/* --- Fixed sizes --------------------------------------------------------- */
enum {
	NODE_TOKEN_VERSION = 1,
	NODE_TOKEN_SECRET_LEN = 32,    /* the mesh join secret */
	NODE_TOKEN_KEY_LEN = 32,       /* node_pub, invite_key, mac, PSKs */
	NODE_TOKEN_INVITE_ID_LEN = 16, /* random per code */
	/* "MESH-" and three groups of four Crockford base32 symbols: 60 bits. */
	NODE_TOKEN_SHORT_CODE_LEN = 19,
	/* A join claim: invite_id || created_at || expires_at (big-endian). It
	 * travels as the app bytes of an e2e initiation (NODE_E2E_INIT_APP_LEN). */
	NODE_TOKEN_CLAIM_LEN = 32,
};

/* enum node_token_status: NODE_TOKEN_OK or why a code was refused. */
enum node_token_status {
	NODE_TOKEN_OK = 0,
	/* The input is longer than NODE_TOKEN_MAX_CODE_LEN. */
	NODE_TOKEN_E_TOO_LONG = -1,
	/* Empty, or not base64 / base64url (bad symbol, padding or length). */
	NODE_TOKEN_E_BAD_BASE64 = -2,
	/* The decoded bytes are not one JSON object (syntax, trailing bytes,
	 * nesting deeper than NODE_TOKEN_MAX_JSON_DEPTH, invalid UTF-8). */
	NODE_TOKEN_E_NOT_JSON = -3,
	/* A required field is absent. */
	NODE_TOKEN_E_MISSING_FIELD = -4,
	/* A field has the wrong type, length, syntax or value. */
	NODE_TOKEN_E_BAD_FIELD = -5,
	/* A field this version does not define: it would be unauthenticated. */
	NODE_TOKEN_E_UNKNOWN_FIELD = -6,
	/* "v" is not NODE_TOKEN_VERSION. */
	NODE_TOKEN_E_VERSION = -7,
	/* The mac does not match: the code was altered or damaged. */
	NODE_TOKEN_E_BAD_MAC = -8,
	/* now is at or past expires_at. */
	NODE_TOKEN_E_EXPIRED = -9,
	/* created_at is more than NODE_TOKEN_MAX_CLOCK_SKEW after now. */
	NODE_TOKEN_E_NOT_YET_VALID = -10,
	/* The output buffer is too small. */
	NODE_TOKEN_E_NO_ROOM = -11,
	/* json-c or BoringSSL failed (allocation). */
	NODE_TOKEN_E_INTERNAL = -12,
};

/* node_token_strerror returns a static, human-readable description of
 * status (a value of enum node_token_status), suitable after "invalid join
 * code: "; unknown values get a generic text. Never NULL. */
const char *node_token_strerror(int status);

/* struct node_token: a join code's content. Strings are NUL-terminated
 * copies; an empty string means "not provided" for endpoint and
 * public_endpoint. invite_key is secret: wipe with node_token_cleanup. */
struct node_token {
	char mesh_id[NODE_TOKEN_MAX_ID_LEN + 1];
	char mesh_name[NODE_TOKEN_MAX_NAME_LEN + 1];
	char endpoint[NODE_TOKEN_MAX_ENDPOINT_LEN + 1];        /* LAN "ip:port" or "" */
	char public_endpoint[NODE_TOKEN_MAX_ENDPOINT_LEN + 1]; /* STUN-mapped "ip:port" or "" */
	char relay_urls[NODE_TOKEN_MAX_RELAYS][NODE_TOKEN_MAX_URL_LEN + 1];
	size_t num_relay_urls;
	/* Optional member relay_keys (codes from before relay access control
	 * have none, and stay valid): relay_keys[i] is the key of
	 * relay_urls[i] when that relay runs in mesh-token mode (docs/RELAY.md),
	 * or "". num_relay_keys is 0 (member absent) or num_relay_urls, and then
	 * at least one key is set. Secret, like invite_key. */
	char relay_keys[NODE_TOKEN_MAX_RELAYS][RELAY_KEY_TEXT_LEN + 1];
	size_t num_relay_keys;
	char stun[NODE_TOKEN_MAX_STUN][NODE_TOKEN_MAX_HOSTPORT_LEN + 1];
	size_t num_stun;
	/* Optional member ipv6_endpoints (codes from before the IPv6 underlay
	 * have none, and stay valid): the issuer's global IPv6 endpoints,
	 * "[v6]:port" each, IPv6 literals only. num_ipv6_endpoints 0 means the
	 * member is absent; it is never present and empty. */
	char ipv6_endpoints[NODE_TOKEN_MAX_IPV6_ENDPOINTS][NODE_TOKEN_MAX_ENDPOINT_LEN + 1];
	size_t num_ipv6_endpoints;
	uint64_t created_at; /* unix seconds */
	uint64_t expires_at; /* unix seconds, after created_at */
	char node_id[NODE_TOKEN_MAX_ID_LEN + 1];
	uint8_t node_pub[NODE_TOKEN_KEY_LEN]; /* issuing node's X25519 public key */
	uint8_t invite_id[NODE_TOKEN_INVITE_ID_LEN];
	uint8_t invite_key[NODE_TOKEN_KEY_LEN]; /* secret */
	uint8_t mac[NODE_TOKEN_KEY_LEN];
};

/* node_token_encode issues a code: validates t's fields (the same rules
 * decoding applies), derives t->invite_key from join_secret and fills
 * t->mac, then writes the code (standard base64 with padding) NUL-terminated
 * to out (out_cap bytes; NODE_TOKEN_MAX_CODE_LEN + 1 always suffices) and
 * its length to *out_len. The caller fills every other field, invite_id
 * with fresh random bytes. Returns NODE_TOKEN_OK; NODE_TOKEN_E_BAD_FIELD (with
 * the JSON name of the field in *out_field, if out_field is not NULL),
 * NODE_TOKEN_E_NO_ROOM or NODE_TOKEN_E_INTERNAL leave out, invite_key and mac
 * unspecified. */
int node_token_encode(char *out, size_t out_cap, size_t *out_len, struct node_token *t, const char **out_field,
                     const uint8_t join_secret[static NODE_TOKEN_SECRET_LEN]);

/* node_token_decode checks and decodes a pasted code into *out: surrounding
 * whitespace is ignored; standard or URL-safe base64, padded or not. Checks,
 * in order: length, base64, JSON, version, each field, unknown fields,
 * mac, then validity at unix time now. Returns NODE_TOKEN_OK, or a negative
 * enum node_token_status and leaves *out untouched; for MISSING_FIELD,
 * BAD_FIELD and UNKNOWN_FIELD, *out_field (if out_field is not NULL) names
 * the field (a static string, or for UNKNOWN_FIELD a pointer valid until the
 * next call on this thread). Decoding needs no secret. */
int node_token_decode(struct node_token *out, const char **out_field, const char *code, size_t code_len,
                     uint64_t now);

/* node_token_short_code writes "MESH-XXXX-XXXX-XXXX" (NUL-terminated) for t
 * to out: the first 60 bits of SHA-256 over the code's canonical bytes and
 * mac, in Crockford base32. Both sides compute it from a decoded or encoded
 * token. Returns NODE_TOKEN_OK or NODE_TOKEN_E_BAD_FIELD (t fails validation;
 * *out_field as above). */
int node_token_short_code(char out[static NODE_TOKEN_SHORT_CODE_LEN + 1], const char **out_field,
                         const struct node_token *t);

/* node_token_invite_key derives the invite key of a code (see above) into
 * out. Returns NODE_TOKEN_OK, NODE_TOKEN_E_BAD_FIELD (mesh_id too long) or
 * NODE_TOKEN_E_INTERNAL. */
int node_token_invite_key(uint8_t out[static NODE_TOKEN_KEY_LEN],
                         const uint8_t join_secret[static NODE_TOKEN_SECRET_LEN], const char *mesh_id,
                         const uint8_t invite_id[static NODE_TOKEN_INVITE_ID_LEN], uint64_t created_at,
                         uint64_t expires_at);

/* node_token_join_psk writes the e2e PSK of a join handshake: the joiner
 * computes it from its code (t->invite_key), the mesh from the claim
 * (node_token_claim_psk). Returns NODE_TOKEN_OK or NODE_TOKEN_E_INTERNAL. */
int node_token_join_psk(uint8_t out[static NODE_TOKEN_KEY_LEN], const uint8_t invite_key[static NODE_TOKEN_KEY_LEN]);

/* node_token_mesh_psk writes the e2e PSK between members of the mesh.
 * Returns NODE_TOKEN_OK or NODE_TOKEN_E_INTERNAL. */
int node_token_mesh_psk(uint8_t out[static NODE_TOKEN_KEY_LEN], const uint8_t join_secret[static NODE_TOKEN_SECRET_LEN]);

/* node_token_claim writes the join claim of t (invite_id, created_at,
 * expires_at) that a joiner sends in its e2e initiation. Not secret. */
void node_token_claim(uint8_t out[static NODE_TOKEN_CLAIM_LEN], const struct node_token *t);

/* node_token_claim_psk is the mesh side of a join: from a claim received in
 * an initiation, checks that it is in date at unix time now (the same rules
 * and statuses as decoding: EXPIRED, NOT_YET_VALID; BAD_FIELD for an
 * impossible period) and writes the PSK the joiner must hold to out.
 * Returns NODE_TOKEN_OK or a negative status (out then wiped). Whether the
 * invite id has been revoked or used up is the caller's policy. */
int node_token_claim_psk(uint8_t out[static NODE_TOKEN_KEY_LEN], const uint8_t claim[static NODE_TOKEN_CLAIM_LEN],
                        const uint8_t join_secret[static NODE_TOKEN_SECRET_LEN], const char *mesh_id,
                        uint64_t now);

/* node_token_cleanup wipes t (the invite key with the rest). */
void node_token_cleanup(struct node_token *t);

#endif
