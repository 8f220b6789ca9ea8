/* node/token.c: join codes and the join-secret key schedule (docs/TOKENS.md).
 *
 * Decoding order (each step runs only if the previous passed):
 *   1. length <= NODE_TOKEN_MAX_CODE_LEN              cheap, before anything
 *   2. trim whitespace, base64 or base64url           net/b64.h
 *   3. one JSON object, strict, depth-limited, UTF-8  json-c
 *   4. "v" == 1                                       before the fields, so a
 *                                                     newer code says so
 *   5. each field in canonical order: present, typed, within its limit,
 *      syntactically valid; then no unknown field; then cross-field rules
 *   6. mac over the canonical bytes                   CRYPTO_memcmp
 *   7. validity period against now
 * Encoding validates with the very same functions, so it never writes a
 * code that decoding would refuse.
 *
 * Canonical bytes (what the mac and the short code cover), big-endian:
 *   u8 v, str mesh_id, str mesh_name, str endpoint, str public_endpoint,
 *   u8 count, str relay_url..., u8 count, str stun..., u64 created_at,
 *   u64 expires_at, str node_id, node_pub[32], invite_id[16]
 * then the optional members, each only when present: u8 count, str
 * relay_key... (relay_keys); u8 0x36 ('6'), u8 count, str endpoint...
 * (ipv6_endpoints: the tag keeps it apart from relay_keys' count, 1..4)
 * where str is a u16 length and the bytes. JSON formatting (spacing, key
 * order, escapes, base64 alphabet) is outside it, so it cannot be
 * malleated into a different short code. */
#include "node/token.h"

#include <arpa/inet.h>
#include <assert.h>
#include <json-c/json.h>
#include <json-c/json_object_iterator.h>
#include <string.h>

#include "net/b64.h"
#include "net/addr.h"
#include "net/bssl.h"
#include "node/e2e.h"

static_assert((int)NODE_TOKEN_CLAIM_LEN == (int)NODE_E2E_INIT_APP_LEN, "a claim is the app bytes of an initiation");
static_assert((int)NODE_TOKEN_KEY_LEN == (int)NODE_E2E_KEY_LEN, "PSKs and node keys are e2e keys");

/* HKDF info labels (docs/TOKENS.md, "Key schedule"). */
static const char LABEL_INVITE[] = "atmosphere v1 invite key";
static const char LABEL_MAC[] = "atmosphere v1 token mac";
static const char LABEL_JOIN_PSK[] = "atmosphere v1 join psk";
static const char LABEL_MESH_PSK[] = "atmosphere v1 mesh psk";
static const char LABEL_SHORT[] = "atmosphere v1 short code";

/* JSON member names, in canonical (and emitted) order. */
static const char F_V[] = "v", F_MESH_ID[] = "mesh_id", F_MESH_NAME[] = "mesh_name", F_ENDPOINT[] = "endpoint",
		  F_PUBLIC_ENDPOINT[] = "public_endpoint", F_RELAY_URLS[] = "relay_urls", F_STUN[] = "stun",
		  F_CREATED_AT[] = "created_at", F_EXPIRES_AT[] = "expires_at", F_NODE_ID[] = "node_id",
		  F_NODE_PUB[] = "node_pub", F_INVITE_ID[] = "invite_id", F_INVITE_KEY[] = "invite_key", F_MAC[] = "mac",
		  F_RELAY_KEYS[] = "relay_keys", F_IPV6_ENDPOINTS[] = "ipv6_endpoints";
static const char *const KNOWN_FIELDS[] = { F_V,          F_MESH_ID,   F_MESH_NAME,  F_ENDPOINT,  F_PUBLIC_ENDPOINT,
	                                    F_RELAY_URLS, F_STUN,      F_CREATED_AT, F_EXPIRES_AT, F_NODE_ID,
	                                    F_NODE_PUB,   F_INVITE_ID, F_INVITE_KEY, F_MAC,
	                                    F_RELAY_KEYS, F_IPV6_ENDPOINTS };

enum {
	/* Decoded JSON never exceeds what NODE_TOKEN_MAX_CODE_LEN symbols hold. */
	RAW_MAX = NODE_TOKEN_MAX_CODE_LEN / 4 * 3,
	/* Canonical bytes of the largest valid token, with room to spare. */
	CANON_MAX = 1 + 4 * (2 + NODE_TOKEN_MAX_ID_LEN) + 2 * (2 + NODE_TOKEN_MAX_ENDPOINT_LEN) +
	            1 + NODE_TOKEN_MAX_RELAYS * (2 + NODE_TOKEN_MAX_URL_LEN) + 1 +
	            NODE_TOKEN_MAX_STUN * (2 + NODE_TOKEN_MAX_HOSTPORT_LEN) + 16 + NODE_TOKEN_KEY_LEN +
	            NODE_TOKEN_INVITE_ID_LEN + 1 + NODE_TOKEN_MAX_RELAYS * (2 + RELAY_KEY_TEXT_LEN) + 2 +
	            NODE_TOKEN_MAX_IPV6_ENDPOINTS * (2 + NODE_TOKEN_MAX_ENDPOINT_LEN),
	/* The canonical tag of ipv6_endpoints: not a relay_keys count (1..4). */
	CANON_TAG_IPV6 = 0x36,
	/* Unpadded base64url of a 32-byte value is 43 symbols; allow padding. */
	B64_FIELD_MAX = 44,
	/* How much of an unknown member's name an error quotes. */
	FIELD_QUOTE_MAX = 32,
};

/* --- Validation of single values ----------------------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* valid_id: mesh_id and node_id are 1..64 of [A-Za-z0-9._-]; they appear
 * in file names, logs and relay session ids, so nothing else. */
static bool valid_id(const char *s, size_t len)
{
	if (len == 0 || len > NODE_TOKEN_MAX_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/* valid_name: mesh_name is 1..64 bytes of UTF-8 (RFC 3629 §4: no overlong
 * forms, no surrogates, nothing above U+10FFFF) and is printed to
 * terminals, so C0 and C1 controls, DEL (escape sequences; C1 includes CSI
 * U+009B) and the bidirectional overrides, isolates and line separators
 * (text that reads differently from what it is) are refused. */
static bool valid_name(const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	if (len == 0 || len > NODE_TOKEN_MAX_NAME_LEN)
		return false;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n;
		if (s[i] < 0x80) {
			cp = s[i];
			n = 1;
		} else if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			cp = s[i] & 0x1fu;
			n = 2;
		} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			cp = s[i] & 0x0fu;
			n = 3;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			cp = s[i] & 0x07u;
			n = 4;
		} else {
			return false;
		}
		if (len - i < n)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		if (cp >= 0xd800 && cp <= 0xdfff)
			return false;
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return false;
		if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029 ||
		    cp == 0x200e || cp == 0x200f || cp == 0x061c)
			return false;
		i += n;
	}
	return true;
}

/* split_hostport: "host:port" or "[v6]:port" (net/addr.h) -> host (brackets
 * removed) in host_buf and whether it was bracketed. A code's rules on top:
 * the port is required, 1..65535 with no leading zero (one spelling per
 * port, so equal codes are equal strings). */
static bool split_hostport(const char *s, size_t len, char *host_buf, size_t host_cap, bool *bracketed)
{
	struct net_hostport hp;
	uint16_t port;
	if (net_hostport_split(&hp, s, len) != NET_ADDR_OK || !hp.has_port || hp.host_len == 0 ||
	    hp.host_len >= host_cap || hp.port_len == 0 || hp.port[0] == '0' ||
	    !net_port_parse(hp.port, hp.port_len, &port))
		return false;
	memcpy(host_buf, hp.host, hp.host_len);
	host_buf[hp.host_len] = '\0';
	*bracketed = hp.bracketed;
	return true;
}

/* valid_endpoint: an IP literal and port, "a.b.c.d:p" or "[v6]:p" (no zone
 * id); "" means not provided. */
static bool valid_endpoint(const char *s, size_t len)
{
	char host[64];
	bool bracketed;
	uint8_t addr[16];
	if (len == 0)
		return true;
	if (len > NODE_TOKEN_MAX_ENDPOINT_LEN || !split_hostport(s, len, host, sizeof host, &bracketed))
		return false;
	return inet_pton(bracketed ? AF_INET6 : AF_INET, host, addr) == 1;
}

/* valid_ipv6_endpoint: "[v6]:port" and nothing else (no IPv4, no "",
 * no IPv4-mapped address: that is an IPv4 endpoint in disguise). */
static bool valid_ipv6_endpoint(const char *s, size_t len)
{
	char host[64];
	bool bracketed;
	uint8_t addr[16];
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	if (len == 0 || len > NODE_TOKEN_MAX_ENDPOINT_LEN || !split_hostport(s, len, host, sizeof host, &bracketed) ||
	    !bracketed || inet_pton(AF_INET6, host, addr) != 1)
		return false;
	return memcmp(addr, mapped, sizeof mapped) != 0;
}

/* valid_dns_name: RFC 1123 §2.1 host name: dot-separated labels of 1..63
 * letters, digits and hyphens, not starting or ending with a hyphen. */
static bool valid_dns_name(const char *s, size_t len)
{
	size_t label = 0;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (is_alnum(s[i]) || (s[i] == '-' && label > 0)) {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

/* valid_hostport: a STUN server, "host:port" with a DNS name or IPv4
 * literal, or "[v6]:port". */
static bool valid_hostport(const char *s, size_t len)
{
	char host[NODE_TOKEN_MAX_HOSTPORT_LEN + 1];
	bool bracketed;
	uint8_t addr[16];
	if (len == 0 || len > NODE_TOKEN_MAX_HOSTPORT_LEN || !split_hostport(s, len, host, sizeof host, &bracketed))
		return false;
	if (bracketed)
		return inet_pton(AF_INET6, host, addr) == 1;
	return valid_dns_name(host, strlen(host));
}

/* valid_url: a relay, "ws://" or "wss://" then a non-empty authority and
 * optional path, in RFC 3986 §2 characters only (no spaces, quotes,
 * backslashes, controls or raw non-ASCII). */
/* A relay key's text, or "" (that relay takes no ticket). */
static bool valid_relay_key(const char *s, size_t len)
{
	struct relay_key k;
	if (!len)
		return true;
	bool ok = relay_key_parse(&k, s, len) == RELAY_TICKET_OK;
	relay_key_cleanup(&k);
	return ok;
}

static bool valid_url(const char *s, size_t len)
{
	static const char allowed[] = "-._~:/?#[]@!$&'()*+,;=%";
	size_t off;
	if (len > NODE_TOKEN_MAX_URL_LEN)
		return false;
	if (len >= 5 && memcmp(s, "ws://", 5) == 0)
		off = 5;
	else if (len >= 6 && memcmp(s, "wss://", 6) == 0)
		off = 6;
	else
		return false;
	if (off == len || s[off] == '/' || s[off] == '?' || s[off] == '#')
		return false;
	for (size_t i = off; i < len; i++)
		if (!is_alnum(s[i]) && (s[i] == '\0' || !strchr(allowed, s[i])))
			return false;
	return true;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < len; i++)
		acc |= p[i];
	return acc == 0;
}

/* check_period: the rules on created_at/expires_at that need no clock. */
static bool check_period(uint64_t created_at, uint64_t expires_at)
{
	return created_at <= NODE_TOKEN_MAX_TIME && expires_at <= NODE_TOKEN_MAX_TIME && expires_at > created_at &&
	       expires_at - created_at <= NODE_TOKEN_MAX_LIFETIME;
}

/* check_clock: the rules that need one. */
static int check_clock(uint64_t created_at, uint64_t expires_at, uint64_t now)
{
	if (created_at > now && created_at - now > NODE_TOKEN_MAX_CLOCK_SKEW)
		return NODE_TOKEN_E_NOT_YET_VALID;
	if (now >= expires_at)
		return NODE_TOKEN_E_EXPIRED;
	return NODE_TOKEN_OK;
}

/* string_in: the length of a NUL-terminated string in a char[cap] field,
 * or cap when it has no NUL (invalid). */
static size_t string_in(const char *field, size_t cap)
{
	const char *nul = memchr(field, '\0', cap);
	return nul ? (size_t)(nul - field) : cap;
}

#define FIELD_LEN(t, f) string_in((t)->f, sizeof(t)->f)

/* validate: every rule on a token that needs no clock and no key. On
 * failure *field names the first offending field. */
static int validate(const struct node_token *t, const char **field)
{
#define REQUIRE(cond, name)                                                                                    \
	do {                                                                                                   \
		if (!(cond)) {                                                                                 \
			*field = (name);                                                                       \
			return NODE_TOKEN_E_BAD_FIELD;                                                          \
		}                                                                                              \
	} while (0)
	REQUIRE(valid_id(t->mesh_id, FIELD_LEN(t, mesh_id)), F_MESH_ID);
	REQUIRE(valid_name(t->mesh_name, FIELD_LEN(t, mesh_name)), F_MESH_NAME);
	REQUIRE(valid_endpoint(t->endpoint, FIELD_LEN(t, endpoint)), F_ENDPOINT);
	REQUIRE(valid_endpoint(t->public_endpoint, FIELD_LEN(t, public_endpoint)), F_PUBLIC_ENDPOINT);
	REQUIRE(t->num_relay_urls <= NODE_TOKEN_MAX_RELAYS, F_RELAY_URLS);
	for (size_t i = 0; i < t->num_relay_urls; i++)
		REQUIRE(valid_url(t->relay_urls[i], FIELD_LEN(t, relay_urls[i])), F_RELAY_URLS);
	REQUIRE(t->num_relay_keys == 0 || t->num_relay_keys == t->num_relay_urls, F_RELAY_KEYS);
	bool any_key = false;
	for (size_t i = 0; i < t->num_relay_keys; i++) {
		REQUIRE(valid_relay_key(t->relay_keys[i], FIELD_LEN(t, relay_keys[i])), F_RELAY_KEYS);
		any_key = any_key || t->relay_keys[i][0];
	}
	/* One spelling per meaning: no member of empty keys only. */
	REQUIRE(t->num_relay_keys == 0 || any_key, F_RELAY_KEYS);
	REQUIRE(t->num_ipv6_endpoints <= NODE_TOKEN_MAX_IPV6_ENDPOINTS, F_IPV6_ENDPOINTS);
	for (size_t i = 0; i < t->num_ipv6_endpoints; i++)
		REQUIRE(valid_ipv6_endpoint(t->ipv6_endpoints[i], FIELD_LEN(t, ipv6_endpoints[i])), F_IPV6_ENDPOINTS);
	REQUIRE(t->num_stun <= NODE_TOKEN_MAX_STUN, F_STUN);
	for (size_t i = 0; i < t->num_stun; i++)
		REQUIRE(valid_hostport(t->stun[i], FIELD_LEN(t, stun[i])), F_STUN);
	REQUIRE(t->created_at <= NODE_TOKEN_MAX_TIME, F_CREATED_AT);
	REQUIRE(check_period(t->created_at, t->expires_at), F_EXPIRES_AT);
	REQUIRE(valid_id(t->node_id, FIELD_LEN(t, node_id)), F_NODE_ID);
	REQUIRE(!all_zero(t->node_pub, sizeof t->node_pub), F_NODE_PUB);
	REQUIRE(!all_zero(t->invite_id, sizeof t->invite_id), F_INVITE_ID);
	/* A code must say how to reach the issuer: some endpoint or a relay. */
	REQUIRE(t->endpoint[0] || t->public_endpoint[0] || t->num_relay_urls > 0 || t->num_ipv6_endpoints > 0,
	        F_ENDPOINT);
	return NODE_TOKEN_OK;
#undef REQUIRE
}

/* --- Canonical bytes and keys -------------------------------------------- */

struct canon {
	uint8_t buf[CANON_MAX];
	size_t len;
};

static void put_bytes(struct canon *c, const void *p, size_t n)
{
	assert(n <= sizeof c->buf - c->len);
	memcpy(c->buf + c->len, p, n);
	c->len += n;
}

static void put_u8(struct canon *c, uint8_t v)
{
	put_bytes(c, &v, 1);
}

static void put_u64(struct canon *c, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
	put_bytes(c, b, 8);
}

static void put_str(struct canon *c, const char *s)
{
	size_t n = strlen(s);
	uint8_t b[2] = { (uint8_t)(n >> 8), (uint8_t)n };
	put_bytes(c, b, 2);
	put_bytes(c, s, n);
}

/* canonicalize: the bytes the mac covers; t must have passed validate(). */
static void canonicalize(struct canon *c, const struct node_token *t)
{
	c->len = 0;
	put_u8(c, NODE_TOKEN_VERSION);
	put_str(c, t->mesh_id);
	put_str(c, t->mesh_name);
	put_str(c, t->endpoint);
	put_str(c, t->public_endpoint);
	put_u8(c, (uint8_t)t->num_relay_urls);
	for (size_t i = 0; i < t->num_relay_urls; i++)
		put_str(c, t->relay_urls[i]);
	put_u8(c, (uint8_t)t->num_stun);
	for (size_t i = 0; i < t->num_stun; i++)
		put_str(c, t->stun[i]);
	put_u64(c, t->created_at);
	put_u64(c, t->expires_at);
	put_str(c, t->node_id);
	put_bytes(c, t->node_pub, sizeof t->node_pub);
	put_bytes(c, t->invite_id, sizeof t->invite_id);
	/* Optional, after everything else: a code without relay keys keeps the
	 * canonical bytes (so the mac and short code) it always had. */
	if (t->num_relay_keys) {
		put_u8(c, (uint8_t)t->num_relay_keys);
		for (size_t i = 0; i < t->num_relay_keys; i++)
			put_str(c, t->relay_keys[i]);
	}
	/* Likewise: a code without IPv6 endpoints keeps its bytes. */
	if (t->num_ipv6_endpoints) {
		put_u8(c, CANON_TAG_IPV6);
		put_u8(c, (uint8_t)t->num_ipv6_endpoints);
		for (size_t i = 0; i < t->num_ipv6_endpoints; i++)
			put_str(c, t->ipv6_endpoints[i]);
	}
}

/* derive: HKDF-SHA256(ikm, salt = "", info = label || ctx) -> 32 bytes. */
static int derive(uint8_t out[static NODE_TOKEN_KEY_LEN], const uint8_t *ikm, size_t ikm_len, const char *label,
                  const uint8_t *ctx, size_t ctx_len)
{
	uint8_t info[64 + 2 + NODE_TOKEN_MAX_ID_LEN + NODE_TOKEN_INVITE_ID_LEN + 16];
	size_t label_len = strlen(label);
	assert(label_len + ctx_len <= sizeof info);
	memcpy(info, label, label_len);
	if (ctx_len)
		memcpy(info + label_len, ctx, ctx_len);
	int ok = HKDF(out, NODE_TOKEN_KEY_LEN, EVP_sha256(), ikm, ikm_len, NULL, 0, info, label_len + ctx_len);
	return ok ? NODE_TOKEN_OK : NODE_TOKEN_E_INTERNAL;
}

/* compute_mac: HMAC-SHA256(HKDF(invite_key, LABEL_MAC), canonical bytes). */
static int compute_mac(uint8_t out[static NODE_TOKEN_KEY_LEN], const uint8_t invite_key[static NODE_TOKEN_KEY_LEN],
                       const struct canon *c)
{
	uint8_t key[NODE_TOKEN_KEY_LEN];
	unsigned out_len = 0;
	int rc = derive(key, invite_key, NODE_TOKEN_KEY_LEN, LABEL_MAC, NULL, 0);
	if (rc == NODE_TOKEN_OK && !HMAC(EVP_sha256(), key, sizeof key, c->buf, c->len, out, &out_len))
		rc = NODE_TOKEN_E_INTERNAL;
	OPENSSL_cleanse(key, sizeof key);
	return rc;
}

int node_token_invite_key(uint8_t out[static NODE_TOKEN_KEY_LEN],
                         const uint8_t join_secret[static NODE_TOKEN_SECRET_LEN], const char *mesh_id,
                         const uint8_t invite_id[static NODE_TOKEN_INVITE_ID_LEN], uint64_t created_at,
                         uint64_t expires_at)
{
	size_t id_len = strnlen(mesh_id, NODE_TOKEN_MAX_ID_LEN + 1);
	if (!valid_id(mesh_id, id_len))
		return NODE_TOKEN_E_BAD_FIELD;
	/* ctx = str(mesh_id) || invite_id || u64 created_at || u64 expires_at */
	struct canon c = { .len = 0 };
	put_str(&c, mesh_id);
	put_bytes(&c, invite_id, NODE_TOKEN_INVITE_ID_LEN);
	put_u64(&c, created_at);
	put_u64(&c, expires_at);
	return derive(out, join_secret, NODE_TOKEN_SECRET_LEN, LABEL_INVITE, c.buf, c.len);
}

int node_token_join_psk(uint8_t out[static NODE_TOKEN_KEY_LEN], const uint8_t invite_key[static NODE_TOKEN_KEY_LEN])
{
	return derive(out, invite_key, NODE_TOKEN_KEY_LEN, LABEL_JOIN_PSK, NULL, 0);
}

int node_token_mesh_psk(uint8_t out[static NODE_TOKEN_KEY_LEN], const uint8_t join_secret[static NODE_TOKEN_SECRET_LEN])
{
	return derive(out, join_secret, NODE_TOKEN_SECRET_LEN, LABEL_MESH_PSK, NULL, 0);
}

void node_token_claim(uint8_t out[static NODE_TOKEN_CLAIM_LEN], const struct node_token *t)
{
	memcpy(out, t->invite_id, NODE_TOKEN_INVITE_ID_LEN);
	for (int i = 0; i < 8; i++) {
		out[16 + i] = (uint8_t)(t->created_at >> (56 - 8 * i));
		out[24 + i] = (uint8_t)(t->expires_at >> (56 - 8 * i));
	}
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int node_token_claim_psk(uint8_t out[static NODE_TOKEN_KEY_LEN], const uint8_t claim[static NODE_TOKEN_CLAIM_LEN],
                        const uint8_t join_secret[static NODE_TOKEN_SECRET_LEN], const char *mesh_id,
                        uint64_t now)
{
	uint8_t invite_key[NODE_TOKEN_KEY_LEN];
	uint64_t created_at = get_be64(claim + 16), expires_at = get_be64(claim + 24);
	int rc = NODE_TOKEN_OK;

	if (all_zero(claim, NODE_TOKEN_INVITE_ID_LEN) || !check_period(created_at, expires_at))
		rc = NODE_TOKEN_E_BAD_FIELD;
	if (rc == NODE_TOKEN_OK)
		rc = check_clock(created_at, expires_at, now);
	if (rc == NODE_TOKEN_OK)
		rc = node_token_invite_key(invite_key, join_secret, mesh_id, claim, created_at, expires_at);
	if (rc == NODE_TOKEN_OK)
		rc = node_token_join_psk(out, invite_key);
	if (rc != NODE_TOKEN_OK)
		OPENSSL_cleanse(out, NODE_TOKEN_KEY_LEN);
	OPENSSL_cleanse(invite_key, sizeof invite_key);
	return rc;
}

/* --- Short code ------------------------------------------------------------ */

/* Crockford's base32: no I, L, O, U, so it survives being read aloud. */
static const char CROCKFORD[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int node_token_short_code(char out[static NODE_TOKEN_SHORT_CODE_LEN + 1], const char **out_field,
                         const struct node_token *t)
{
	struct canon c;
	uint8_t digest[SHA256_DIGEST_LENGTH];
	const char *field = NULL;
	int rc = validate(t, &field);
	if (rc != NODE_TOKEN_OK) {
		if (out_field)
			*out_field = field;
		return rc;
	}
	canonicalize(&c, t);
	SHA256_CTX h;
	SHA256_Init(&h);
	SHA256_Update(&h, LABEL_SHORT, sizeof LABEL_SHORT - 1);
	SHA256_Update(&h, c.buf, c.len);
	SHA256_Update(&h, t->mac, sizeof t->mac);
	SHA256_Final(digest, &h);

	/* The first 60 bits, most significant first, five at a time. */
	uint64_t bits = get_be64(digest) >> 4;
	size_t o = 0;
	memcpy(out, "MESH", 4);
	o = 4;
	for (int group = 0; group < 3; group++) {
		out[o++] = '-';
		for (int k = 0; k < 4; k++) {
			int shift = 55 - 5 * (group * 4 + k);
			out[o++] = CROCKFORD[(bits >> shift) & 31];
		}
	}
	out[o] = '\0';
	assert(o == NODE_TOKEN_SHORT_CODE_LEN);
	return NODE_TOKEN_OK;
}

/* --- Encoding ------------------------------------------------------------------ */

/* add_b64 adds name: base64url(p[0..len)) without padding. */
static bool add_b64(struct json_object *obj, const char *name, const uint8_t *p, size_t len)
{
	char text[B64_FIELD_MAX + 1];
	size_t text_len;
	if (net_b64_encode(text, sizeof text, &text_len, p, len, NET_B64_URL, false) != NET_B64_OK)
		return false;
	struct json_object *v = json_object_new_string_len(text, (int)text_len);
	OPENSSL_cleanse(text, sizeof text);
	return v && json_object_object_add(obj, name, v) == 0;
}

static bool add_string(struct json_object *obj, const char *name, const char *s)
{
	struct json_object *v = json_object_new_string(s);
	return v && json_object_object_add(obj, name, v) == 0;
}

static bool add_int(struct json_object *obj, const char *name, uint64_t n)
{
	struct json_object *v = json_object_new_int64((int64_t)n);
	return v && json_object_object_add(obj, name, v) == 0;
}

static bool add_array(struct json_object *obj, const char *name, const char *items, size_t stride, size_t count)
{
	struct json_object *a = json_object_new_array_ext((int)count);
	if (!a || json_object_object_add(obj, name, a) != 0) {
		json_object_put(a);
		return false;
	}
	for (size_t i = 0; i < count; i++) {
		struct json_object *v = json_object_new_string(items + i * stride);
		if (!v || json_object_array_add(a, v) != 0) {
			json_object_put(v);
			return false;
		}
	}
	return true;
}

/* wipe_member overwrites the text of a string member in place: json-c has
 * no wiping free, and this one held the invite key. */
static void wipe_member(struct json_object *obj, const char *name)
{
	struct json_object *v;
	if (obj && json_object_object_get_ex(obj, name, &v) && json_object_is_type(v, json_type_string))
		OPENSSL_cleanse((char *)json_object_get_string(v), (size_t)json_object_get_string_len(v));
}

/* wipe_array_member does so for each string of an array member. */
static void wipe_array_member(struct json_object *obj, const char *name)
{
	struct json_object *a;
	if (!obj || !json_object_object_get_ex(obj, name, &a) || !json_object_is_type(a, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *v = json_object_array_get_idx(a, i);
		if (json_object_is_type(v, json_type_string))
			OPENSSL_cleanse((char *)json_object_get_string(v), (size_t)json_object_get_string_len(v));
	}
}

int node_token_encode(char *out, size_t out_cap, size_t *out_len, struct node_token *t, const char **out_field,
                     const uint8_t join_secret[static NODE_TOKEN_SECRET_LEN])
{
	struct canon c;
	struct json_object *root = NULL;
	const char *field = NULL;
	const char *json = NULL;
	size_t json_len = 0;
	int rc = validate(t, &field);
	if (rc != NODE_TOKEN_OK)
		goto out;

	rc = node_token_invite_key(t->invite_key, join_secret, t->mesh_id, t->invite_id, t->created_at, t->expires_at);
	if (rc != NODE_TOKEN_OK)
		goto out;
	canonicalize(&c, t);
	rc = compute_mac(t->mac, t->invite_key, &c);
	if (rc != NODE_TOKEN_OK)
		goto out;

	rc = NODE_TOKEN_E_INTERNAL;
	root = json_object_new_object();
	if (!root || !add_int(root, F_V, NODE_TOKEN_VERSION) || !add_string(root, F_MESH_ID, t->mesh_id) ||
	    !add_string(root, F_MESH_NAME, t->mesh_name) || !add_string(root, F_ENDPOINT, t->endpoint) ||
	    !add_string(root, F_PUBLIC_ENDPOINT, t->public_endpoint) ||
	    (t->num_ipv6_endpoints && !add_array(root, F_IPV6_ENDPOINTS, (const char *)t->ipv6_endpoints,
	                                         sizeof t->ipv6_endpoints[0], t->num_ipv6_endpoints)) ||
	    !add_array(root, F_RELAY_URLS, (const char *)t->relay_urls, sizeof t->relay_urls[0], t->num_relay_urls) ||
	    (t->num_relay_keys &&
	     !add_array(root, F_RELAY_KEYS, (const char *)t->relay_keys, sizeof t->relay_keys[0], t->num_relay_keys)) ||
	    !add_array(root, F_STUN, (const char *)t->stun, sizeof t->stun[0], t->num_stun) ||
	    !add_int(root, F_CREATED_AT, t->created_at) || !add_int(root, F_EXPIRES_AT, t->expires_at) ||
	    !add_string(root, F_NODE_ID, t->node_id) || !add_b64(root, F_NODE_PUB, t->node_pub, sizeof t->node_pub) ||
	    !add_b64(root, F_INVITE_ID, t->invite_id, sizeof t->invite_id) ||
	    !add_b64(root, F_INVITE_KEY, t->invite_key, sizeof t->invite_key) ||
	    !add_b64(root, F_MAC, t->mac, sizeof t->mac))
		goto out;
	/* Plain: no spaces; no "\/": URLs stay readable and short. */
	json = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
	                                         &json_len);
	if (!json)
		goto out;
	size_t code_len = net_b64_encoded_len(json_len, true);
	if (code_len > NODE_TOKEN_MAX_CODE_LEN) {
		/* validate()'s limits keep every token under this; keep it so. */
		assert(false);
		goto out;
	}
	if (net_b64_encode(out, out_cap, out_len, (const uint8_t *)json, json_len, NET_B64_STD, true) != NET_B64_OK) {
		rc = NODE_TOKEN_E_NO_ROOM;
		goto out;
	}
	rc = NODE_TOKEN_OK;
out:
	if (json)
		OPENSSL_cleanse((char *)json, json_len);
	wipe_member(root, F_INVITE_KEY);
	wipe_array_member(root, F_RELAY_KEYS);
	json_object_put(root);
	if (rc == NODE_TOKEN_E_BAD_FIELD && out_field)
		*out_field = field;
	return rc;
}

/* --- Decoding -------------------------------------------------------------------- */

/* member: the value of name in obj, of the given type. */
static int member(struct json_object **out, struct json_object *obj, const char *name, enum json_type type,
                  const char **field)
{
	*field = name;
	if (!json_object_object_get_ex(obj, name, out))
		return NODE_TOKEN_E_MISSING_FIELD;
	if (!json_object_is_type(*out, type))
		return NODE_TOKEN_E_BAD_FIELD;
	return NODE_TOKEN_OK;
}

typedef bool valid_fn(const char *s, size_t len);

/* copy_string copies a JSON string into dst[cap] if valid() accepts it; an
 * embedded NUL (from "\u0000") or over-long value is refused first. */
static bool copy_string(char *dst, size_t cap, struct json_object *v, valid_fn *valid)
{
	const char *s = json_object_get_string(v);
	int n = json_object_get_string_len(v);
	if (n < 0 || (size_t)n >= cap || memchr(s, '\0', (size_t)n) || !valid(s, (size_t)n))
		return false;
	memcpy(dst, s, (size_t)n);
	dst[n] = '\0';
	return true;
}

static int get_string(char *dst, size_t cap, struct json_object *obj, const char *name, valid_fn *valid,
                      const char **field)
{
	struct json_object *v;
	int rc = member(&v, obj, name, json_type_string, field);
	if (rc == NODE_TOKEN_OK && !copy_string(dst, cap, v, valid))
		rc = NODE_TOKEN_E_BAD_FIELD;
	return rc;
}

static int get_strings(char *dst, size_t stride, size_t max, size_t *out_count, struct json_object *obj,
                       const char *name, valid_fn *valid, const char **field)
{
	struct json_object *a;
	int rc = member(&a, obj, name, json_type_array, field);
	if (rc != NODE_TOKEN_OK)
		return rc;
	size_t n = json_object_array_length(a);
	if (n > max)
		return NODE_TOKEN_E_BAD_FIELD;
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_string) || !copy_string(dst + i * stride, stride, v, valid))
			return NODE_TOKEN_E_BAD_FIELD;
	}
	*out_count = n;
	return NODE_TOKEN_OK;
}

/* get_time: a non-negative JSON integer up to NODE_TOKEN_MAX_TIME (json-c
 * types 1.0 as a double and saturates huge values, both refused here). */
static int get_time(uint64_t *dst, struct json_object *obj, const char *name, const char **field)
{
	struct json_object *v;
	int rc = member(&v, obj, name, json_type_int, field);
	if (rc != NODE_TOKEN_OK)
		return rc;
	int64_t n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n > NODE_TOKEN_MAX_TIME)
		return NODE_TOKEN_E_BAD_FIELD;
	*dst = (uint64_t)n;
	return NODE_TOKEN_OK;
}

/* get_binary: base64 or base64url (padding optional) of exactly len bytes. */
static int get_binary(uint8_t *dst, size_t len, struct json_object *obj, const char *name, const char **field)
{
	struct json_object *v;
	uint8_t buf[B64_FIELD_MAX];
	size_t n = 0;
	int rc = member(&v, obj, name, json_type_string, field);
	if (rc != NODE_TOKEN_OK)
		return rc;
	int text_len = json_object_get_string_len(v);
	if (text_len < 0 || text_len > B64_FIELD_MAX ||
	    net_b64_decode(buf, sizeof buf, &n, json_object_get_string(v), (size_t)text_len) != NET_B64_OK || n != len)
		rc = NODE_TOKEN_E_BAD_FIELD;
	else
		memcpy(dst, buf, len);
	OPENSSL_cleanse(buf, sizeof buf);
	return rc;
}

/* read_fields fills t from the JSON object, in canonical order. */
static int read_fields(struct node_token *t, struct json_object *root, const char **field)
{
	struct json_object *v;
	int rc = member(&v, root, F_V, json_type_int, field);
	if (rc != NODE_TOKEN_OK)
		return rc;
	if (json_object_get_int64(v) != NODE_TOKEN_VERSION)
		return NODE_TOKEN_E_VERSION;
#define TRY(call)                                                                                              \
	do {                                                                                                   \
		rc = (call);                                                                                   \
		if (rc != NODE_TOKEN_OK)                                                                        \
			return rc;                                                                             \
	} while (0)
	TRY(get_string(t->mesh_id, sizeof t->mesh_id, root, F_MESH_ID, valid_id, field));
	TRY(get_string(t->mesh_name, sizeof t->mesh_name, root, F_MESH_NAME, valid_name, field));
	TRY(get_string(t->endpoint, sizeof t->endpoint, root, F_ENDPOINT, valid_endpoint, field));
	TRY(get_string(t->public_endpoint, sizeof t->public_endpoint, root, F_PUBLIC_ENDPOINT, valid_endpoint,
	               field));
	/* Optional: absent in codes from before the IPv6 underlay; present
	 * means at least one endpoint (one spelling per meaning). */
	if (json_object_object_get_ex(root, F_IPV6_ENDPOINTS, &v)) {
		TRY(get_strings((char *)t->ipv6_endpoints, sizeof t->ipv6_endpoints[0], NODE_TOKEN_MAX_IPV6_ENDPOINTS,
		                &t->num_ipv6_endpoints, root, F_IPV6_ENDPOINTS, valid_ipv6_endpoint, field));
		if (!t->num_ipv6_endpoints)
			return *field = F_IPV6_ENDPOINTS, NODE_TOKEN_E_BAD_FIELD;
	}
	TRY(get_strings((char *)t->relay_urls, sizeof t->relay_urls[0], NODE_TOKEN_MAX_RELAYS, &t->num_relay_urls, root,
	                F_RELAY_URLS, valid_url, field));
	/* Optional: absent in codes from before relay access control. */
	if (json_object_object_get_ex(root, F_RELAY_KEYS, &v)) {
		TRY(get_strings((char *)t->relay_keys, sizeof t->relay_keys[0], NODE_TOKEN_MAX_RELAYS, &t->num_relay_keys,
		                root, F_RELAY_KEYS, valid_relay_key, field));
		if (t->num_relay_keys != t->num_relay_urls)
			return *field = F_RELAY_KEYS, NODE_TOKEN_E_BAD_FIELD;
	}
	TRY(get_strings((char *)t->stun, sizeof t->stun[0], NODE_TOKEN_MAX_STUN, &t->num_stun, root, F_STUN,
	                valid_hostport, field));
	TRY(get_time(&t->created_at, root, F_CREATED_AT, field));
	TRY(get_time(&t->expires_at, root, F_EXPIRES_AT, field));
	TRY(get_string(t->node_id, sizeof t->node_id, root, F_NODE_ID, valid_id, field));
	TRY(get_binary(t->node_pub, sizeof t->node_pub, root, F_NODE_PUB, field));
	TRY(get_binary(t->invite_id, sizeof t->invite_id, root, F_INVITE_ID, field));
	TRY(get_binary(t->invite_key, sizeof t->invite_key, root, F_INVITE_KEY, field));
	TRY(get_binary(t->mac, sizeof t->mac, root, F_MAC, field));
#undef TRY
	return NODE_TOKEN_OK;
}

/* unknown_member: the name of a member this version does not define, or
 * NULL. The name is quoted into a thread-local buffer, printable ASCII only
 * (it comes from a stranger and ends up on a terminal). */
static const char *unknown_member(struct json_object *root)
{
	static _Thread_local char quoted[FIELD_QUOTE_MAX + 4];
	struct json_object_iterator it = json_object_iter_begin(root), end = json_object_iter_end(root);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *name = json_object_iter_peek_name(&it);
		bool known = false;
		for (size_t i = 0; i < sizeof KNOWN_FIELDS / sizeof KNOWN_FIELDS[0]; i++)
			known = known || strcmp(name, KNOWN_FIELDS[i]) == 0;
		if (known)
			continue;
		size_t o = 0;
		for (size_t i = 0; name[i] && o < FIELD_QUOTE_MAX; i++)
			quoted[o++] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
		if (name[o] != '\0') {
			memcpy(quoted + o, "...", 3);
			o += 3;
		}
		quoted[o] = '\0';
		return quoted;
	}
	return NULL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int node_token_decode(struct node_token *out, const char **out_field, const char *code, size_t code_len,
                     uint64_t now)
{
	struct node_token t;
	struct canon c;
	uint8_t raw[RAW_MAX], mac[NODE_TOKEN_KEY_LEN];
	size_t raw_len = 0;
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL;
	const char *field = NULL;
	int rc;

	memset(&t, 0, sizeof t);
	/* 1. Bound the work a stranger can ask for before looking inside. */
	if (code_len > NODE_TOKEN_MAX_CODE_LEN) {
		rc = NODE_TOKEN_E_TOO_LONG;
		goto out;
	}
	/* 2. base64: trim what terminals and chat clients add around it. */
	while (code_len > 0 && is_space(code[0])) {
		code++;
		code_len--;
	}
	while (code_len > 0 && is_space(code[code_len - 1]))
		code_len--;
	if (code_len == 0 || net_b64_decode(raw, sizeof raw, &raw_len, code, code_len) != NET_B64_OK) {
		rc = NODE_TOKEN_E_BAD_BASE64;
		goto out;
	}
	/* 3. One JSON object and nothing after it. */
	rc = NODE_TOKEN_E_INTERNAL;
	/* json-c counts the scalars inside the innermost container as a level
	 * of their own, hence the + 1. */
	tok = json_tokener_new_ex(NODE_TOKEN_MAX_JSON_DEPTH + 1);
	if (!tok)
		goto out;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, (const char *)raw, (int)raw_len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != raw_len || !json_object_is_type(root, json_type_object)) {
		rc = NODE_TOKEN_E_NOT_JSON;
		goto out;
	}
	/* 4, 5. Version, fields, unknown fields, cross-field rules. */
	rc = read_fields(&t, root, &field);
	if (rc != NODE_TOKEN_OK)
		goto out;
	field = unknown_member(root);
	if (field) {
		rc = NODE_TOKEN_E_UNKNOWN_FIELD;
		goto out;
	}
	rc = validate(&t, &field);
	if (rc != NODE_TOKEN_OK)
		goto out;
	/* 6. The mac, in constant time. */
	canonicalize(&c, &t);
	rc = compute_mac(mac, t.invite_key, &c);
	if (rc != NODE_TOKEN_OK)
		goto out;
	if (CRYPTO_memcmp(mac, t.mac, sizeof mac) != 0) {
		rc = NODE_TOKEN_E_BAD_MAC;
		goto out;
	}
	/* 7. In date. */
	rc = check_clock(t.created_at, t.expires_at, now);
	if (rc != NODE_TOKEN_OK)
		goto out;
	*out = t;
out:
	wipe_member(root, F_INVITE_KEY);
	wipe_array_member(root, F_RELAY_KEYS);
	json_object_put(root);
	if (tok) /* json_tokener_free(NULL) crashes in json-c 0.16 */
		json_tokener_free(tok);
	OPENSSL_cleanse(raw, sizeof raw);
	OPENSSL_cleanse(&t, sizeof t);
	if (out_field &&
	    (rc == NODE_TOKEN_E_MISSING_FIELD || rc == NODE_TOKEN_E_BAD_FIELD || rc == NODE_TOKEN_E_UNKNOWN_FIELD))
		*out_field = field;
	return rc;
}

void node_token_cleanup(struct node_token *t)
{
	OPENSSL_cleanse(t, sizeof *t);
}

const char *node_token_strerror(int status)
{
	switch ((enum node_token_status)status) {
	case NODE_TOKEN_OK:
		return "success";
	case NODE_TOKEN_E_TOO_LONG:
		return "join code too long (over 4096 characters)";
	case NODE_TOKEN_E_BAD_BASE64:
		return "join code is not base64 (truncated or mistyped?)";
	case NODE_TOKEN_E_NOT_JSON:
		return "join code does not contain a JSON object";
	case NODE_TOKEN_E_MISSING_FIELD:
		return "join code lacks a required field";
	case NODE_TOKEN_E_BAD_FIELD:
		return "join code has an invalid field";
	case NODE_TOKEN_E_UNKNOWN_FIELD:
		return "join code has a field this version does not know";
	case NODE_TOKEN_E_VERSION:
		return "join code is from an unsupported version (upgrade atmosphere?)";
	case NODE_TOKEN_E_BAD_MAC:
		return "join code was altered or damaged (authenticator mismatch)";
	case NODE_TOKEN_E_EXPIRED:
		return "join code has expired: ask for a new one";
	case NODE_TOKEN_E_NOT_YET_VALID:
		return "join code was created in the future (check both clocks)";
	case NODE_TOKEN_E_NO_ROOM:
		return "output buffer too small for the join code";
	case NODE_TOKEN_E_INTERNAL:
		return "internal error (out of memory?) while handling the join code";
	}
	return "unknown join code status";
}
