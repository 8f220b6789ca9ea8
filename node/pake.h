#ifndef NODE_PAKE_H
#define NODE_PAKE_H
/* node/pake.h: joining with the short code MESH-XXXX-XXXX-XXXX
 * (docs/TOKENS.md, "Short-code join").
 *
 * The short code `atmosphere join` prints is 60 pseudorandom bits of the
 * full code (node_token_short_code). It now also works on its own: the
 * joiner types it, both nodes meet on a relay of the mesh and run SPAKE2
 * (BoringSSL, draft-irtf-cfrg-spake2-02) with the code as the password,
 * confirm the key both ways and the inviter hands over the full code sealed
 * with it. Then the join goes on exactly as with the full code.
 *
 * The split: the first group (4 symbols, 20 bits) only selects the relay
 * session, /relay/{HEX(SHA-256("atmosphere v1 pake rendezvous" || group))
 * cut to 160 bits}; it is not secret (a relay sees the id and can invert a
 * 20-bit hash). The password is the whole code: 40 bits a relay cannot
 * learn. The inviter allows NODE_PAKE_MAX_TRIES exchanges per code (one
 * success ends it, so does the last failure), so an attacker, on the relay
 * or not, makes at most NODE_PAKE_MAX_TRIES online guesses per code
 * (3 x 2^-40 < 2^-38), and gets nothing to test guesses against offline.
 *
 *   joiner                                                       inviter
 *   START   v || 1 || A (SPAKE2, 32 bytes)                  ──▶
 *                                                            ◀──  REPLY   v || 2 || B || confirm_i
 *   CONFIRM v || 3 || confirm_j                             ──▶  (checks; one exchange per code)
 *                                                            ◀──  SEALED  v || 4 || u16 n || AEAD(full code)
 *                                                            ◀──  REFUSED v || 5 || reason (code used, dead,
 *                                                                 busy or expired: unauthenticated, a hint only)
 *
 *   th        = SHA-256("atmosphere v1 pake" || session id (40 hex) || A || B)
 *   prk       = HKDF-Extract(salt = th, SPAKE2 key (64 bytes))
 *   confirm_x = HMAC-SHA256(HKDF-Expand(prk, "atmosphere v1 pake confirm inviter"|"... joiner", 32), th)
 *   sealed    = ChaCha20-Poly1305(HKDF-Expand(prk, "atmosphere v1 pake seal", 32), nonce 0, ad = th)
 *
 * Pure: no I/O, no clock; randomness only inside SPAKE2. The codec
 * (node_pake_msg_*) parses and writes whole messages (one relay message
 * each) from byte buffers; parse results point into the input. The exchange
 * (struct node_pake) is opaque; BoringSSL types stay out of this header.
 * Secrets are compared with CRYPTO_memcmp and wiped. Nothing suspends. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	NODE_PAKE_VERSION = 1,
	NODE_PAKE_SPAKE_LEN = 32,   /* one SPAKE2 message (Ed25519 point) */
	NODE_PAKE_CONFIRM_LEN = 32, /* HMAC-SHA256 */
	NODE_PAKE_TAG_LEN = 16,     /* Poly1305 */
	/* "MESH-XXXX-XXXX-XXXX" */
	NODE_PAKE_CODE_LEN = 19,
	NODE_PAKE_SESSION_ID_LEN = 40,
	/* The sealed full code: at most NODE_TOKEN_MAX_CODE_LEN (4096) plus
	 * the tag. Every message fits NODE_PAKE_MAX_MSG. */
	NODE_PAKE_MAX_SEALED = 4096 + 16,
	NODE_PAKE_MAX_MSG = 4 + NODE_PAKE_MAX_SEALED,
};

enum node_pake_type {
	NODE_PAKE_START = 1,
	NODE_PAKE_REPLY = 2,
	NODE_PAKE_CONFIRM = 3,
	NODE_PAKE_SEALED = 4,
	NODE_PAKE_REFUSED = 5,
};

/* Why an inviter refuses a START (byte of a REFUSED message). */
enum node_pake_reason {
	NODE_PAKE_REFUSE_USED = 1, /* the code was used by a successful join */
	NODE_PAKE_REFUSE_DEAD = 2, /* an exchange with it failed: the code is void */
	NODE_PAKE_REFUSE_BUSY = 3, /* an exchange with it is under way */
	NODE_PAKE_REFUSE_EXPIRED = 4, /* its time is up */
};

enum node_pake_status {
	NODE_PAKE_OK = 0,
	NODE_PAKE_E_TRUNCATED = -1, /* shorter than its type requires */
	NODE_PAKE_E_VERSION = -2,   /* byte 0 is not NODE_PAKE_VERSION */
	NODE_PAKE_E_TYPE = -3,      /* byte 1 is no enum node_pake_type */
	NODE_PAKE_E_LENGTH = -4,    /* bytes after the message, or a SEALED length out of range */
	NODE_PAKE_E_REASON = -5,    /* a REFUSED reason this version does not define */
	NODE_PAKE_E_NO_ROOM = -6,   /* the output buffer is too small */
	NODE_PAKE_E_CODE = -7,      /* not a short code (MESH-XXXX-XXXX-XXXX) */
	NODE_PAKE_E_AUTH = -8,      /* the other side does not hold the same code (or tampered) */
	NODE_PAKE_E_STATE = -9,     /* a call out of the protocol's order */
	NODE_PAKE_E_INTERNAL = -10, /* BoringSSL failed (allocation) */
};

/* node_pake_strerror returns a static sentence for a node_pake_status;
 * never NULL. */
const char *node_pake_strerror(int status);

/* struct node_pake_msg: one message. Pointers point into the parsed input
 * and are valid while it is; only the fields of `type` are set. */
struct node_pake_msg {
	uint8_t type;            /* enum node_pake_type */
	const uint8_t *spake;    /* START, REPLY: NODE_PAKE_SPAKE_LEN bytes */
	const uint8_t *confirm;  /* REPLY, CONFIRM: NODE_PAKE_CONFIRM_LEN bytes */
	const uint8_t *sealed;   /* SEALED: sealed_len bytes */
	size_t sealed_len;       /* NODE_PAKE_TAG_LEN + 1 .. NODE_PAKE_MAX_SEALED */
	uint8_t reason;          /* REFUSED: enum node_pake_reason */
};

/* node_pake_msg_parse parses one whole message of len bytes into *out.
 * Returns NODE_PAKE_OK or a negative status (TRUNCATED, VERSION, TYPE,
 * LENGTH, REASON), checked in that order; *out is written only on success. */
int node_pake_msg_parse(struct node_pake_msg *out, const uint8_t *buf, size_t len);

/* node_pake_msg_write writes m (the fields of m->type) to out (cap bytes;
 * NODE_PAKE_MAX_MSG always suffices) and its length to *out_len. Returns
 * NODE_PAKE_OK, NODE_PAKE_E_NO_ROOM, or the status parsing the result would
 * give for a message out of range (TYPE, LENGTH, REASON). */
int node_pake_msg_write(uint8_t *out, size_t cap, size_t *out_len, const struct node_pake_msg *m);

/* node_pake_code_parse reads a short code as a person types it: case does
 * not matter, the "MESH-" prefix, dashes and spaces are optional, and
 * Crockford's look-alikes are read as it says (I, L -> 1; O -> 0). Writes
 * the canonical "MESH-XXXX-XXXX-XXXX" to out. Returns NODE_PAKE_OK or
 * NODE_PAKE_E_CODE (out untouched). */
int node_pake_code_parse(char out[static NODE_PAKE_CODE_LEN + 1], const char *in);

/* node_pake_looks_like_code says whether s is meant as a short code rather
 * than a full one: it starts with "MESH" (any case). */
bool node_pake_looks_like_code(const char *s);

/* node_pake_session_id writes the relay session id (40 hex digits, NUL)
 * selected by the first group of a canonical code. */
void node_pake_session_id(char out[static NODE_PAKE_SESSION_ID_LEN + 1], const char code[static NODE_PAKE_CODE_LEN + 1]);

/* --- The exchange ----------------------------------------------------------
 * One struct node_pake per attempt. The joiner: _new, _start (START),
 * _finish with REPLY's B, _check REPLY's confirm, _confirm (CONFIRM), _open
 * SEALED. The inviter: _new, _start, _finish with START's A, _confirm
 * (REPLY), _check CONFIRM's, _seal. A failed _finish or _check ends the
 * attempt: every later call returns NODE_PAKE_E_STATE. */
enum node_pake_role { NODE_PAKE_JOINER, NODE_PAKE_INVITER };
struct node_pake;

/* node_pake_new starts an attempt for a canonical code (see
 * node_pake_code_parse). Returns the attempt (free with node_pake_free),
 * or NULL with *err set (NODE_PAKE_E_CODE, NODE_PAKE_E_INTERNAL). */
struct node_pake *node_pake_new(enum node_pake_role role, const char *code, int *err);

/* node_pake_start writes our SPAKE2 message to out. Once per attempt.
 * Returns NODE_PAKE_OK, NODE_PAKE_E_STATE or NODE_PAKE_E_INTERNAL. */
int node_pake_start(struct node_pake *p, uint8_t out[static NODE_PAKE_SPAKE_LEN]);

/* node_pake_finish takes the other side's SPAKE2 message and derives the
 * keys. Returns NODE_PAKE_OK, NODE_PAKE_E_AUTH (not a valid message: a
 * failed attempt) or NODE_PAKE_E_STATE. */
int node_pake_finish(struct node_pake *p, const uint8_t theirs[static NODE_PAKE_SPAKE_LEN]);

/* node_pake_confirm writes our key confirmation to out. Returns
 * NODE_PAKE_OK or NODE_PAKE_E_STATE (before _finish, or after a failure). */
int node_pake_confirm(struct node_pake *p, uint8_t out[static NODE_PAKE_CONFIRM_LEN]);

/* node_pake_check checks the other side's confirmation in constant time.
 * Returns NODE_PAKE_OK (the other side holds the same code and saw the
 * same messages), NODE_PAKE_E_AUTH (it does not: the attempt is over) or
 * NODE_PAKE_E_STATE. */
int node_pake_check(struct node_pake *p, const uint8_t theirs[static NODE_PAKE_CONFIRM_LEN]);

/* node_pake_seal (inviter, after a successful _check) encrypts pt (1 ..
 * NODE_PAKE_MAX_SEALED - NODE_PAKE_TAG_LEN bytes) into out (cap bytes) and
 * writes the length (len + NODE_PAKE_TAG_LEN) to *out_len. Once per attempt:
 * the key is used with one nonce. Returns NODE_PAKE_OK, NODE_PAKE_E_STATE,
 * NODE_PAKE_E_LENGTH, NODE_PAKE_E_NO_ROOM or NODE_PAKE_E_INTERNAL. */
int node_pake_seal(struct node_pake *p, uint8_t *out, size_t cap, size_t *out_len, const uint8_t *pt, size_t len);

/* node_pake_open (joiner, after a successful _check) decrypts a SEALED body
 * into out (cap bytes) and writes its length to *out_len. Returns
 * NODE_PAKE_OK, NODE_PAKE_E_AUTH (tampered), NODE_PAKE_E_LENGTH,
 * NODE_PAKE_E_NO_ROOM or NODE_PAKE_E_STATE. */
int node_pake_open(struct node_pake *p, uint8_t *out, size_t cap, size_t *out_len, const uint8_t *ct, size_t len);

/* node_pake_free wipes and frees an attempt. NULL: no-op. */
void node_pake_free(struct node_pake *p);

/* --- The inviter's policy ----------------------------------------------------
 * A short code the inviting node offers allows one exchange at a time and
 * NODE_PAKE_MAX_TRIES in all, until it expires: each START taken is one
 * online guess. A successful exchange makes the code used; a failed one
 * (wrong code, tampering, a joiner that left or was too slow) costs one
 * try, and the last try's failure makes it void for good. So a typo does
 * not cost the code, and a guesser gets 3 x 2^-40. Pure: callers pass the
 * time (any monotonic milliseconds). */
#define NODE_PAKE_MAX_TRIES 3

enum node_pake_offer_state {
	NODE_PAKE_OFFER_OPEN, /* waiting for an exchange: tries are left */
	NODE_PAKE_OFFER_BUSY, /* an exchange is under way */
	NODE_PAKE_OFFER_USED, /* it handed the full code over (or the full code was used) */
	NODE_PAKE_OFFER_DEAD, /* NODE_PAKE_MAX_TRIES exchanges failed */
};

struct node_pake_offer {
	enum node_pake_offer_state state;
	unsigned failures; /* failed exchanges so far, < NODE_PAKE_MAX_TRIES unless DEAD */
	uint64_t expires_ms;
};

/* node_pake_offer_init opens an offer at now_ms for ttl_ms. */
void node_pake_offer_init(struct node_pake_offer *o, uint64_t now_ms, uint64_t ttl_ms);

/* node_pake_offer_expired says whether o's time is up at now_ms. */
bool node_pake_offer_expired(const struct node_pake_offer *o, uint64_t now_ms);

/* node_pake_offer_take decides on a START arriving at now_ms: 0 when this
 * START takes the code (o is then BUSY: run the exchange and end it with
 * node_pake_offer_end), else the enum node_pake_reason to answer with
 * (EXPIRED first, then USED, DEAD or BUSY); o is then unchanged. */
int node_pake_offer_take(struct node_pake_offer *o, uint64_t now_ms);

/* node_pake_offer_end ends the exchange o's take started: USED when ok;
 * otherwise one try is spent and o is OPEN again, or DEAD when that was the
 * last. An offer that is not BUSY is unchanged. */
void node_pake_offer_end(struct node_pake_offer *o, bool ok);

/* node_pake_offer_tries_left: exchanges o may still take (0 once USED or
 * DEAD). */
unsigned node_pake_offer_tries_left(const struct node_pake_offer *o);

/* node_pake_offer_retire makes an OPEN offer USED (its full code was used
 * another way). */
void node_pake_offer_retire(struct node_pake_offer *o);

#endif
