/* Relay keys, tickets and the replay memory: see relay/ticket.h. */
#include "relay/ticket.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "net/b64.h"
#include "net/bssl.h"

static const char KEY_ID_LABEL[] = "atmosphere relay key id";
static const char MAC_LABEL[] = "atmosphere relay ticket v1";
/* The ticket's bytes the MAC covers: everything before the MAC. */
enum { SIGNED_LEN = RELAY_TICKET_LEN - RELAY_TICKET_MAC_LEN };

const char *relay_ticket_strerror(int status)
{
	switch (status) {
	case RELAY_TICKET_OK:
		return "ok";
	case RELAY_TICKET_E_MALFORMED:
		return "malformed ticket";
	case RELAY_TICKET_E_UNKNOWN_KEY:
		return "ticket for a key this relay does not have";
	case RELAY_TICKET_E_BAD_MAC:
		return "ticket MAC does not match (forged, damaged, or for another session)";
	case RELAY_TICKET_E_EXPIRED:
		return "ticket expired";
	case RELAY_TICKET_E_TOO_LONG:
		return "ticket valid for too long (or the client's clock is ahead)";
	case RELAY_TICKET_E_REPLAYED:
		return "ticket already used";
	case RELAY_TICKET_E_FULL:
		return "too many tickets in use";
	default:
		return "unknown ticket status";
	}
}

void relay_key_init(struct relay_key *out, const uint8_t secret[static RELAY_KEY_LEN])
{
	uint8_t h[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, KEY_ID_LABEL, sizeof KEY_ID_LABEL - 1);
	SHA256_Update(&c, secret, RELAY_KEY_LEN);
	SHA256_Final(h, &c);
	memcpy(out->key, secret, RELAY_KEY_LEN);
	memcpy(out->id, h, RELAY_KEY_ID_LEN);
	OPENSSL_cleanse(&c, sizeof c);
}

int relay_key_parse(struct relay_key *out, const char *text, size_t len)
{
	uint8_t secret[RELAY_KEY_LEN + 3];
	size_t n = 0;
	int r = RELAY_TICKET_E_MALFORMED;
	/* Unpadded base64url only: one spelling per key. The decoder is
	 * constant time in the symbols (net/b64.h). */
	if (len != RELAY_KEY_TEXT_LEN || memchr(text, '+', len) || memchr(text, '/', len))
		goto out;
	if (net_b64_decode(secret, sizeof secret, &n, text, len) != NET_B64_OK || n != RELAY_KEY_LEN)
		goto out;
	relay_key_init(out, secret);
	r = RELAY_TICKET_OK;
out:
	OPENSSL_cleanse(secret, sizeof secret);
	return r;
}

void relay_key_format(char out[static RELAY_KEY_TEXT_LEN + 1], const struct relay_key *k)
{
	size_t n;
	int r = net_b64_encode(out, RELAY_KEY_TEXT_LEN + 1, &n, k->key, RELAY_KEY_LEN, NET_B64_URL, false);
	assert(r == NET_B64_OK && n == RELAY_KEY_TEXT_LEN); /* fixed sizes */
	(void)r;
}

void relay_key_id_hex(char out[static 2 * RELAY_KEY_ID_LEN + 1], const uint8_t id[static RELAY_KEY_ID_LEN])
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < RELAY_KEY_ID_LEN; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[2 * RELAY_KEY_ID_LEN] = 0;
}

void relay_key_cleanup(struct relay_key *k)
{
	OPENSSL_cleanse(k, sizeof *k);
}

/* mac = HMAC-SHA256(key, MAC_LABEL || u8 sid_len || sid || signed[0..SIGNED_LEN)). */
static void ticket_mac(uint8_t out[static RELAY_TICKET_MAC_LEN], const uint8_t key[static RELAY_KEY_LEN],
		       const char *sid, size_t sid_len, const uint8_t signed_part[static SIGNED_LEN])
{
	HMAC_CTX h;
	unsigned ol = RELAY_TICKET_MAC_LEN;
	uint8_t l = (uint8_t)sid_len;
	HMAC_CTX_init(&h);
	if (!HMAC_Init_ex(&h, key, RELAY_KEY_LEN, EVP_sha256(), NULL) ||
	    !HMAC_Update(&h, (const uint8_t *)MAC_LABEL, sizeof MAC_LABEL - 1) || !HMAC_Update(&h, &l, 1) ||
	    !HMAC_Update(&h, (const uint8_t *)sid, sid_len) || !HMAC_Update(&h, signed_part, SIGNED_LEN) ||
	    !HMAC_Final(&h, out, &ol))
		/* Allocation failure inside BoringSSL: a MAC nobody can match. */
		RAND_bytes(out, RELAY_TICKET_MAC_LEN);
	HMAC_CTX_cleanup(&h);
}

/* The ticket's bytes up to the MAC. */
static void ticket_signed(uint8_t out[static SIGNED_LEN], const uint8_t key_id[static RELAY_KEY_ID_LEN],
			  uint64_t expires_at, const uint8_t nonce[static RELAY_TICKET_NONCE_LEN])
{
	out[0] = RELAY_TICKET_VERSION;
	memcpy(out + 1, key_id, RELAY_KEY_ID_LEN);
	core_put_be32(out + 1 + RELAY_KEY_ID_LEN, (uint32_t)(expires_at >> 32));
	core_put_be32(out + 5 + RELAY_KEY_ID_LEN, (uint32_t)expires_at);
	memcpy(out + 9 + RELAY_KEY_ID_LEN, nonce, RELAY_TICKET_NONCE_LEN);
}

int relay_ticket_make(char out[static RELAY_TICKET_TEXT_LEN + 1], const struct relay_key *k, const char *sid,
		      size_t sid_len, uint64_t expires_at, const uint8_t nonce[static RELAY_TICKET_NONCE_LEN])
{
	uint8_t t[RELAY_TICKET_LEN];
	size_t n;
	if (sid_len > 255)
		return RELAY_TICKET_E_MALFORMED;
	ticket_signed(t, k->id, expires_at, nonce);
	ticket_mac(t + SIGNED_LEN, k->key, sid, sid_len, t);
	if (net_b64_encode(out, RELAY_TICKET_TEXT_LEN + 1, &n, t, sizeof t, NET_B64_URL, false) != NET_B64_OK)
		return RELAY_TICKET_E_MALFORMED; /* cannot happen: the sizes are fixed */
	return RELAY_TICKET_OK;
}

int relay_ticket_parse(struct relay_ticket *out, const char *text, size_t len)
{
	uint8_t raw[RELAY_TICKET_LEN + 3];
	size_t n = 0;
	const uint8_t *p;
	uint32_t hi, lo;
	struct relay_ticket t;
	struct core_cursor c;
	/* Exactly the unpadded base64url of 61 bytes: one spelling per ticket,
	 * so a ticket's text and its bytes name each other. */
	if (len != RELAY_TICKET_TEXT_LEN || memchr(text, '+', len) || memchr(text, '/', len) ||
	    net_b64_decode(raw, sizeof raw, &n, text, len) != NET_B64_OK || n != RELAY_TICKET_LEN)
		return RELAY_TICKET_E_MALFORMED;
	core_cursor_init(&c, raw, n);
	if (!core_cursor_u8(&c, &t.version) || t.version != RELAY_TICKET_VERSION)
		return RELAY_TICKET_E_MALFORMED;
	if (!core_cursor_bytes(&c, &p, RELAY_KEY_ID_LEN))
		return RELAY_TICKET_E_MALFORMED;
	memcpy(t.key_id, p, RELAY_KEY_ID_LEN);
	if (!core_cursor_be32(&c, &hi) || !core_cursor_be32(&c, &lo))
		return RELAY_TICKET_E_MALFORMED;
	t.expires_at = (uint64_t)hi << 32 | lo;
	if (!core_cursor_bytes(&c, &p, RELAY_TICKET_NONCE_LEN))
		return RELAY_TICKET_E_MALFORMED;
	memcpy(t.nonce, p, RELAY_TICKET_NONCE_LEN);
	if (!core_cursor_bytes(&c, &p, RELAY_TICKET_MAC_LEN) || core_cursor_left(&c) != 0)
		return RELAY_TICKET_E_MALFORMED;
	memcpy(t.mac, p, RELAY_TICKET_MAC_LEN);
	*out = t;
	return RELAY_TICKET_OK;
}

bool relay_ticket_find(const char **out_ptr, size_t *out_len, const char *target, size_t target_len, const char *auth,
		       size_t auth_len)
{
	const char *q = target ? memchr(target, '?', target_len) : NULL;
	if (q) {
		size_t off = (size_t)(q - target) + 1;
		while (off <= target_len) {
			const char *p = target + off;
			size_t left = target_len - off;
			const char *amp = memchr(p, '&', left);
			size_t n = amp ? (size_t)(amp - p) : left;
			if (n >= 7 && !memcmp(p, "ticket=", 7)) {
				*out_ptr = p + 7;
				*out_len = n - 7;
				return true;
			}
			off += n + 1;
		}
	}
	/* "Bearer" 1*SP token (RFC 6750 §2.1); the scheme is case-insensitive
	 * (RFC 9110 §11.1). */
	static const char scheme[] = "bearer";
	if (!auth || auth_len < sizeof scheme || auth[sizeof scheme - 1] != ' ')
		return false;
	for (size_t i = 0; i < sizeof scheme - 1; i++)
		if ((auth[i] | 0x20) != scheme[i]) /* ASCII letters only: | 0x20 lowers them, maps no other byte to one */
			return false;
	size_t i = sizeof scheme;
	while (i < auth_len && auth[i] == ' ')
		i++;
	*out_ptr = auth + i;
	*out_len = auth_len - i;
	return true;
}

int relay_ticket_verify(const struct relay_ticket *t, const struct relay_key *keys, size_t num_keys, const char *sid,
			size_t sid_len, uint64_t now)
{
	uint8_t signed_part[SIGNED_LEN], mac[RELAY_TICKET_MAC_LEN];
	bool known = false, good = false;
	if (t->version != RELAY_TICKET_VERSION || sid_len > 255)
		return RELAY_TICKET_E_MALFORMED;
	ticket_signed(signed_part, t->key_id, t->expires_at, t->nonce);
	/* 1. The key: its id is public, compared plainly. Two keys may share
	 *    an id (32 bits): each is tried. */
	for (size_t i = 0; i < num_keys; i++) {
		if (memcmp(keys[i].id, t->key_id, RELAY_KEY_ID_LEN))
			continue;
		known = true;
		/* 2. The MAC, in constant time. */
		ticket_mac(mac, keys[i].key, sid, sid_len, signed_part);
		if (!CRYPTO_memcmp(mac, t->mac, RELAY_TICKET_MAC_LEN))
			good = true;
	}
	OPENSSL_cleanse(mac, sizeof mac);
	if (!known)
		return RELAY_TICKET_E_UNKNOWN_KEY;
	if (!good)
		return RELAY_TICKET_E_BAD_MAC;
	/* 3. The period, once the ticket is known to be genuine. */
	if (now >= t->expires_at)
		return RELAY_TICKET_E_EXPIRED;
	if (t->expires_at - now > RELAY_TICKET_MAX_LIFETIME)
		return RELAY_TICKET_E_TOO_LONG;
	return RELAY_TICKET_OK;
}

/* ---- replay memory ---- */

struct seen_slot {
	uint8_t nonce[RELAY_TICKET_NONCE_LEN];
	uint64_t expires_at; /* 0: empty */
};

struct relay_ticket_seen {
	size_t max_live;
	size_t mask;         /* slots - 1; slots is a power of two >= 2 * max_live */
	size_t used;         /* slots not empty */
	uint64_t seed;       /* keys the slot choice: key holders pick nonces */
	uint64_t purged_at;  /* now of the last purge: at most one a second */
	struct seen_slot *slot;
};

struct relay_ticket_seen *relay_ticket_seen_new(size_t max_live)
{
	struct relay_ticket_seen *s = calloc(1, sizeof *s);
	size_t slots = 32;
	if (max_live < 16)
		max_live = 16;
	while (slots < 2 * max_live)
		slots *= 2;
	if (!s || !(s->slot = calloc(slots, sizeof *s->slot))) {
		free(s);
		return NULL;
	}
	s->max_live = max_live;
	s->mask = slots - 1;
	RAND_bytes((uint8_t *)&s->seed, sizeof s->seed);
	return s;
}

void relay_ticket_seen_free(struct relay_ticket_seen *s)
{
	if (!s)
		return;
	free(s->slot);
	free(s);
}

size_t relay_ticket_seen_count(const struct relay_ticket_seen *s)
{
	return s->used;
}

static size_t seen_home(const struct relay_ticket_seen *s, const uint8_t nonce[static RELAY_TICKET_NONCE_LEN])
{
	uint64_t h = s->seed;
	for (size_t i = 0; i < RELAY_TICKET_NONCE_LEN; i++)
		h = (h ^ nonce[i]) * 0x100000001b3ull;
	return (size_t)(h ^ h >> 29) & s->mask;
}

/* Drops the expired entries by re-inserting the live ones in place
 * (linear probing cannot simply empty a slot: it would cut the probe chains
 * that pass through it). Returns false without memory for the copy. */
static bool seen_purge(struct relay_ticket_seen *s, uint64_t now)
{
	size_t slots = s->mask + 1, live = 0;
	for (size_t i = 0; i < slots; i++)
		live += s->slot[i].expires_at > now;
	struct seen_slot *keep = malloc((live ? live : 1) * sizeof *keep), *old = s->slot;
	if (!keep)
		return false;
	size_t k = 0;
	for (size_t i = 0; i < slots; i++)
		if (old[i].expires_at > now)
			keep[k++] = old[i];
	memset(old, 0, slots * sizeof *old);
	for (size_t i = 0; i < k; i++) {
		size_t j = seen_home(s, keep[i].nonce);
		while (old[j].expires_at)
			j = (j + 1) & s->mask;
		old[j] = keep[i];
	}
	s->used = k;
	s->purged_at = now;
	free(keep);
	return true;
}

int relay_ticket_seen_add(struct relay_ticket_seen *s, const uint8_t nonce[static RELAY_TICKET_NONCE_LEN],
			  uint64_t expires_at, uint64_t now)
{
	size_t j = seen_home(s, nonce);
	while (s->slot[j].expires_at) {
		if (!memcmp(s->slot[j].nonce, nonce, RELAY_TICKET_NONCE_LEN))
			return RELAY_TICKET_E_REPLAYED;
		j = (j + 1) & s->mask;
	}
	/* At most half the slots in use: probe chains stay short and one is
	 * always empty, which ends every probe. */
	if (s->used >= s->max_live) {
		/* A purge walks every slot: when it found nothing to drop, the
		 * next may wait for the clock to move (a full table of live
		 * nonces otherwise costs a walk per refused ticket). */
		if (now == s->purged_at || !seen_purge(s, now) || s->used >= s->max_live)
			return RELAY_TICKET_E_FULL;
		j = seen_home(s, nonce);
		while (s->slot[j].expires_at)
			j = (j + 1) & s->mask;
	}
	memcpy(s->slot[j].nonce, nonce, RELAY_TICKET_NONCE_LEN);
	s->slot[j].expires_at = expires_at ? expires_at : 1;
	s->used++;
	return RELAY_TICKET_OK;
}
