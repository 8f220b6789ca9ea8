#ifndef STUN_WRITER_H
#define STUN_WRITER_H
/* stun/writer.h: building STUN messages into caller storage.
 *
 * Design: struct stun_writer appends attributes to a buffer the caller owns
 * and keeps the header's length field current after each one, which is what
 * MESSAGE-INTEGRITY and FINGERPRINT hash. Every add checks room for the
 * attribute header, value and padding before writing a byte, and the values
 * of known attribute types are held to the rules stun_msg_parse enforces, so
 * the writer cannot produce a message the parser rejects.
 *
 * Errors are sticky: the first failure (STUN_E_NO_ROOM, STUN_E_INVALID,
 * STUN_E_BAD_ORDER) is kept, every later add returns it without writing, and
 * stun_writer_finish reports it. A sequence of adds can therefore be checked
 * once, at the end, and a message with an attribute silently missing cannot
 * come out. Nothing allocates or suspends.
 *
 * Order (RFC 8489 §14.5-14.7): MESSAGE-INTEGRITY, then
 * MESSAGE-INTEGRITY-SHA256, then FINGERPRINT, each optional, close the
 * message; adding anything out of that order is STUN_E_BAD_ORDER. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/addr.h"
#include "stun/msg.h"
#include "stun/status.h"

/* struct stun_writer: caller storage; its fields are the writer's own. buf
 * is borrowed and must outlive the writer. */
struct stun_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
	uint8_t pad;
	uint8_t stage;
};

/* stun_writer_init starts a message of the given type (top two bits zero)
 * and transaction id in buf[0..cap). Returns STUN_OK, STUN_E_NO_ROOM when cap
 * is under 20, or STUN_E_INVALID for a type with a leading bit set; a failed
 * init leaves w failed (sticky) but safe to pass to the other calls. */
int stun_writer_init(struct stun_writer *w, uint8_t *buf, size_t cap, uint16_t type,
                     const uint8_t txid[static STUN_TXID_LEN]);

/* stun_writer_set_padding sets the byte later attributes are padded with.
 * RFC 8489 §14 says zero, the default; RFC 5389 allowed any value and the
 * RFC 5769 test vectors pad with spaces (0x20), which this reproduces. */
void stun_writer_set_padding(struct stun_writer *w, uint8_t byte);

/* stun_writer_add appends an attribute with value[0..len) (value may be NULL
 * when len is 0). For known types the value must pass the checks of
 * stun_msg_parse, or STUN_E_INVALID; MESSAGE-INTEGRITY(-SHA256) and
 * FINGERPRINT go through their own adds, not this one (STUN_E_INVALID).
 * Returns STUN_OK or the sticky error. */
int stun_writer_add(struct stun_writer *w, uint16_t type, const void *value, size_t len);

/* stun_writer_add_addr appends a plain address attribute (MAPPED-ADDRESS,
 * RESPONSE-ORIGIN, OTHER-ADDRESS, ALTERNATE-SERVER). STUN_E_INVALID when
 * addr's family is not IPv4/IPv6. */
int stun_writer_add_addr(struct stun_writer *w, uint16_t type, const struct stun_addr *addr);

/* stun_writer_add_xor_addr appends an XOR-encoded address attribute
 * (XOR-MAPPED-ADDRESS), masked with the cookie and this message's txid. */
int stun_writer_add_xor_addr(struct stun_writer *w, uint16_t type, const struct stun_addr *addr);

/* stun_writer_add_username / _realm / _nonce / _software append a text
 * attribute of len bytes (UTF-8, no NUL). STUN_E_INVALID beyond
 * STUN_MAX_USERNAME_LEN (USERNAME) or STUN_MAX_TEXT_LEN (the others). */
int stun_writer_add_username(struct stun_writer *w, const char *text, size_t len);
int stun_writer_add_realm(struct stun_writer *w, const char *text, size_t len);
int stun_writer_add_nonce(struct stun_writer *w, const char *text, size_t len);
int stun_writer_add_software(struct stun_writer *w, const char *text, size_t len);

/* stun_writer_add_error appends ERROR-CODE with code 300..699 and a reason
 * phrase of at most STUN_MAX_TEXT_LEN bytes; otherwise STUN_E_INVALID. */
int stun_writer_add_error(struct stun_writer *w, uint16_t code, const char *reason, size_t reason_len);

/* stun_writer_add_unknown_attrs appends UNKNOWN-ATTRIBUTES listing
 * types[0..num_types) (for a 420 response, see stun_msg_unknown_required). */
int stun_writer_add_unknown_attrs(struct stun_writer *w, const uint16_t *types, size_t num_types);

/* stun_writer_add_change_request appends CHANGE-REQUEST with flags, a
 * combination of STUN_CHANGE_IP and STUN_CHANGE_PORT (else STUN_E_INVALID). */
int stun_writer_add_change_request(struct stun_writer *w, uint32_t flags);

/* stun_writer_add_response_port appends RESPONSE-PORT: the port and two
 * zero bytes, length 4. */
int stun_writer_add_response_port(struct stun_writer *w, uint16_t port);

/* stun_writer_add_padding appends a PADDING attribute of len zero bytes
 * (RFC 5780 §7.6: to make a message a given size). */
int stun_writer_add_padding(struct stun_writer *w, size_t len);

/* stun_writer_add_integrity appends MESSAGE-INTEGRITY, the HMAC-SHA1 with
 * key[0..key_len) of everything written so far (RFC 8489 §14.5). After it
 * only the SHA-256 variant and FINGERPRINT may follow. */
int stun_writer_add_integrity(struct stun_writer *w, const uint8_t *key, size_t key_len);

/* stun_writer_add_integrity_sha256 appends MESSAGE-INTEGRITY-SHA256, the full
 * 32-byte HMAC-SHA256 (RFC 8489 §14.6). After it only FINGERPRINT may
 * follow. */
int stun_writer_add_integrity_sha256(struct stun_writer *w, const uint8_t *key, size_t key_len);

/* stun_writer_add_fingerprint appends FINGERPRINT (RFC 8489 §14.7); nothing
 * may follow it. */
int stun_writer_add_fingerprint(struct stun_writer *w);

/* stun_writer_finish sets *out_len to the message length (header included)
 * and returns STUN_OK, or returns the sticky error and leaves *out_len
 * alone. The message is buf[0..*out_len); the writer may be dropped. */
int stun_writer_finish(const struct stun_writer *w, size_t *out_len);

#endif
