#ifndef RELAY_TICKET_H
#define RELAY_TICKET_H
/* relay/ticket.h: relay keys and relay tickets, the credential of the
 * relay's mesh-token access mode (docs/RELAY.md, "Who may use the relay").
 *
 * The operator generates a relay key (32 random bytes; `atmosphere relay
 * --new-key`) and hands it to the meshes it serves. A client proves it holds
 * the key for one upgrade by presenting a ticket, bound to the session id it
 * opens, valid until an expiry and usable once (a random nonce the relay
 * remembers until the expiry):
 *
 *   ticket = u8 version (1) || key_id[4] || u64 expires_at (big-endian, unix s)
 *            || nonce[16] || mac[32]                               (61 bytes)
 *   key_id = SHA-256("atmosphere relay key id" || key)[0..4)
 *   mac    = HMAC-SHA256(key, "atmosphere relay ticket v1" || u8 len(session_id)
 *            || session_id || ticket[0..29))
 *
 * On the wire it is base64url without padding (RFC 4648 §5), 82 characters,
 * in the upgrade request's query (`GET /relay/ID?ticket=...`) or an
 * `Authorization: Bearer ...` header. The key id only picks the key to try
 * (several are configured while keys rotate); it is public and proves
 * nothing. The MAC is compared with CRYPTO_memcmp, and the expiry checked
 * only once the MAC is right, so a stranger learns nothing but "invalid".
 *
 * Codecs: no I/O, no clock (callers pass now), no randomness (callers draw
 * the nonce). relay_ticket_seen is the bounded replay memory: a plain data
 * structure the caller locks. Nothing here suspends. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	RELAY_TICKET_VERSION = 1,
	RELAY_KEY_LEN = 32,
	RELAY_KEY_ID_LEN = 4,
	RELAY_TICKET_NONCE_LEN = 16,
	RELAY_TICKET_MAC_LEN = 32,
	RELAY_TICKET_LEN = 1 + RELAY_KEY_ID_LEN + 8 + RELAY_TICKET_NONCE_LEN + RELAY_TICKET_MAC_LEN,
	/* base64url, no padding, of RELAY_TICKET_LEN and RELAY_KEY_LEN bytes */
	RELAY_TICKET_TEXT_LEN = 82,
	RELAY_KEY_TEXT_LEN = 43,
	/* A ticket may be valid at most this long (seconds) after the relay's
	 * now: the replay memory keeps a nonce until its expiry, so this bounds
	 * how long; it also tolerates a client clock that far ahead, less the
	 * lifetime the client gives its tickets. */
	RELAY_TICKET_MAX_LIFETIME = 900,
	/* What relay/client.c gives its tickets (seconds). */
	RELAY_TICKET_DEFAULT_TTL = 300,
};

/* enum relay_ticket_status: RELAY_TICKET_OK or why a ticket or key was
 * refused. The relay answers MALFORMED, UNKNOWN_KEY and BAD_MAC with 401,
 * EXPIRED, TOO_LONG and REPLAYED with 403, FULL with 503. */
enum relay_ticket_status {
	RELAY_TICKET_OK = 0,
	RELAY_TICKET_E_MALFORMED = -1,   /* length, base64url, version */
	RELAY_TICKET_E_UNKNOWN_KEY = -2, /* no configured key has its key id */
	RELAY_TICKET_E_BAD_MAC = -3,     /* forged, another session id, or damaged */
	RELAY_TICKET_E_EXPIRED = -4,     /* now >= expires_at */
	RELAY_TICKET_E_TOO_LONG = -5,    /* expires_at > now + RELAY_TICKET_MAX_LIFETIME */
	RELAY_TICKET_E_REPLAYED = -6,    /* its nonce was seen before */
	RELAY_TICKET_E_FULL = -7,        /* the replay memory is full */
};

/* relay_ticket_strerror returns a static description of a status. */
const char *relay_ticket_strerror(int status);

/* struct relay_key: one relay key and its id. Secret: wipe with
 * relay_key_cleanup. */
struct relay_key {
	uint8_t id[RELAY_KEY_ID_LEN];
	uint8_t key[RELAY_KEY_LEN];
};

/* relay_key_init fills out from 32 secret bytes (computes the id). */
void relay_key_init(struct relay_key *out, const uint8_t secret[static RELAY_KEY_LEN]);

/* relay_key_parse decodes a key's text (RELAY_KEY_TEXT_LEN characters of
 * base64url, nothing else) into *out. Returns RELAY_TICKET_OK, or
 * RELAY_TICKET_E_MALFORMED leaving *out untouched. */
int relay_key_parse(struct relay_key *out, const char *text, size_t len);

/* relay_key_format writes k's text form, NUL-terminated. */
void relay_key_format(char out[static RELAY_KEY_TEXT_LEN + 1], const struct relay_key *k);

/* relay_key_id_hex writes k's id as 8 hex digits and a NUL (for logs: it
 * names a key without revealing it). */
void relay_key_id_hex(char out[static 2 * RELAY_KEY_ID_LEN + 1], const uint8_t id[static RELAY_KEY_ID_LEN]);

/* relay_key_cleanup wipes k. */
void relay_key_cleanup(struct relay_key *k);

/* struct relay_ticket: a parsed ticket. Nothing in it is secret. */
struct relay_ticket {
	uint8_t version;
	uint8_t key_id[RELAY_KEY_ID_LEN];
	uint64_t expires_at;
	uint8_t nonce[RELAY_TICKET_NONCE_LEN];
	uint8_t mac[RELAY_TICKET_MAC_LEN];
};

/* relay_ticket_make writes the ticket for session id sid[0..sid_len) under
 * k, valid until expires_at, with the caller's fresh random nonce, as
 * base64url NUL-terminated. Returns RELAY_TICKET_OK, or
 * RELAY_TICKET_E_MALFORMED for an id longer than 255 bytes. */
int relay_ticket_make(char out[static RELAY_TICKET_TEXT_LEN + 1], const struct relay_key *k, const char *sid,
		      size_t sid_len, uint64_t expires_at, const uint8_t nonce[static RELAY_TICKET_NONCE_LEN]);

/* relay_ticket_parse decodes text[0..len) into *out: exactly
 * RELAY_TICKET_TEXT_LEN characters of base64url (canonical), version
 * RELAY_TICKET_VERSION. Returns RELAY_TICKET_OK, or
 * RELAY_TICKET_E_MALFORMED leaving *out untouched. Checks no MAC. */
int relay_ticket_parse(struct relay_ticket *out, const char *text, size_t len);

/* relay_ticket_find locates the ticket's text in an upgrade request: the
 * value of the first "ticket" parameter of target[0..target_len)'s query
 * (the part after the first '?', parameters split at '&'), else the
 * credentials of auth[0..auth_len), an Authorization header's value, when
 * its scheme is "Bearer" (any case, RFC 6750 §2.1; auth may be NULL).
 * Returns whether there was one, with *out_ptr and *out_len pointing into
 * the input (the text is not checked: relay_ticket_parse does that). */
bool relay_ticket_find(const char **out_ptr, size_t *out_len, const char *target, size_t target_len, const char *auth,
		       size_t auth_len);

/* relay_ticket_verify checks t against keys[0..num_keys) for session id
 * sid[0..sid_len) at unix time now, in this order: a key with t's id
 * (UNKNOWN_KEY), the MAC under each such key (BAD_MAC), then now <
 * expires_at (EXPIRED) and expires_at <= now + RELAY_TICKET_MAX_LIFETIME
 * (TOO_LONG). Returns RELAY_TICKET_OK or that status. Whether the nonce was
 * seen is relay_ticket_seen's. */
int relay_ticket_verify(const struct relay_ticket *t, const struct relay_key *keys, size_t num_keys, const char *sid,
			size_t sid_len, uint64_t now);

/* struct relay_ticket_seen: the nonces of accepted tickets, each kept until
 * its ticket's expiry, at most max_live at once (an open-addressing table
 * of twice that many slots, 32 bytes each, rebuilt without the expired
 * entries when half full). Only tickets that passed relay_ticket_verify
 * enter it, so only key holders can fill it. Not thread-safe. */
struct relay_ticket_seen;

/* relay_ticket_seen_new returns an empty memory for max_live nonces (at
 * least 16), or NULL (no memory). relay_ticket_seen_free frees it (NULL:
 * no-op). */
struct relay_ticket_seen *relay_ticket_seen_new(size_t max_live);
void relay_ticket_seen_free(struct relay_ticket_seen *s);

/* relay_ticket_seen_add records nonce until expires_at at unix time now.
 * Returns RELAY_TICKET_OK (first use), RELAY_TICKET_E_REPLAYED (seen, and
 * not yet dropped: a nonce is kept at least until its expiry), or
 * RELAY_TICKET_E_FULL (max_live nonces are recorded and none could be
 * dropped; the table is swept of expired nonces at most once per value of
 * now; the nonce is not recorded). */
int relay_ticket_seen_add(struct relay_ticket_seen *s, const uint8_t nonce[static RELAY_TICKET_NONCE_LEN],
			  uint64_t expires_at, uint64_t now);

/* relay_ticket_seen_count returns the nonces recorded (live or expired but
 * not yet dropped). */
size_t relay_ticket_seen_count(const struct relay_ticket_seen *s);

#endif
