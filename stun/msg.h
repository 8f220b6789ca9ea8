#ifndef STUN_MSG_H
#define STUN_MSG_H
/* stun/msg.h: STUN message parsing and verification (RFC 8489, which
 * supersedes RFC 5389, plus the RFC 5780 NAT-discovery attributes).
 *
 * Design: a pure codec over byte buffers, no I/O, no allocation, nothing
 * suspends. stun_msg_parse checks the header and walks the attributes once,
 * recording (type, offset, length) for each in a fixed array inside struct
 * stun_msg; values are not copied, they stay in the caller's buffer. Known
 * attributes are validated during that walk, so after STUN_OK every getter
 * returns either STUN_OK or STUN_E_NO_ATTR. The integrity and fingerprint
 * checks are separate calls because which of them a usage needs (and which
 * key) is the caller's decision; they hash the input in place without ever
 * writing to it.
 *
 * Cost: one pass over the message; struct stun_msg is about 320 bytes, meant
 * for the stack. Integrity is one HMAC over the message, FINGERPRINT one
 * table-driven CRC-32.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |0 0|     STUN Message Type     |         Message Length        |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                         Magic Cookie                          |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                     Transaction ID (96 bits)                  |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |         Type                  |            Length             |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                Value (Length bytes, padded to 4) ....
 *                       RFC 8489 Figures 2 and 4 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/addr.h"
#include "stun/status.h"

/* --- Limits --------------------------------------------------------------
 * Every bound a peer can push on, in one place. */
enum {
	/* Attributes walked per message (ignored ones after MESSAGE-INTEGRITY
	 * included); one more is STUN_E_TOO_MANY_ATTRS. A Binding request with
	 * ICE and both integrity attributes has about ten. */
	STUN_MAX_ATTRS = 32,
	/* USERNAME holds fewer than 509 bytes (RFC 8489 §14.3). */
	STUN_MAX_USERNAME_LEN = 508,
	/* REALM, NONCE, SOFTWARE and the ERROR-CODE reason phrase are under
	 * 128 characters, "as long as 763 bytes" (RFC 8489 §14.8-14.10, 14.14). */
	STUN_MAX_TEXT_LEN = 763,
	/* The 16-bit length field bounds a message; a multiple of 4. */
	STUN_MAX_MSG_LEN = 20 + 0xfffc,
};

/* --- Wire constants ------------------------------------------------------ */
enum {
	STUN_HEADER_LEN = 20,
	STUN_TXID_LEN = 12,
	STUN_INTEGRITY_LEN = 20,        /* HMAC-SHA1 */
	STUN_INTEGRITY_SHA256_LEN = 32, /* HMAC-SHA256, untruncated */
	STUN_LONG_TERM_KEY_LEN = 16,    /* MD5 */
};
#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_FINGERPRINT_XOR 0x5354554Eu

/* enum stun_class: the message class, bits C1 C0 of the type (RFC 8489 §5). */
enum stun_class {
	STUN_CLASS_REQUEST = 0,
	STUN_CLASS_INDICATION = 1,
	STUN_CLASS_SUCCESS = 2,
	STUN_CLASS_ERROR = 3,
};

/* enum stun_method: the methods used here (RFC 8489 §18.2). */
enum stun_method {
	STUN_METHOD_BINDING = 0x001,
};

/* enum stun_msg_type: message types used here, method and class
 * already interleaved. */
enum stun_msg_type {
	STUN_BINDING_REQUEST = 0x0001,
	STUN_BINDING_INDICATION = 0x0011,
	STUN_BINDING_SUCCESS = 0x0101,
	STUN_BINDING_ERROR = 0x0111,
};

/* enum stun_attr_type: attribute types (RFC 8489 §18.3, RFC 5780 §9).
 * Below 0x8000 is comprehension-required (a 420 response when not
 * understood), 0x8000 and above comprehension-optional. */
enum stun_attr_type {
	STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	STUN_ATTR_CHANGE_REQUEST = 0x0003,           /* RFC 5780 §7.2 */
	STUN_ATTR_USERNAME = 0x0006,
	STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
	STUN_ATTR_ERROR_CODE = 0x0009,
	STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
	STUN_ATTR_REALM = 0x0014,
	STUN_ATTR_NONCE = 0x0015,
	STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
	STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	STUN_ATTR_PADDING = 0x0026,                  /* RFC 5780 §7.6 */
	STUN_ATTR_RESPONSE_PORT = 0x0027,            /* RFC 5780 §7.5 */
	STUN_ATTR_SOFTWARE = 0x8022,
	STUN_ATTR_ALTERNATE_SERVER = 0x8023,
	STUN_ATTR_FINGERPRINT = 0x8028,
	STUN_ATTR_RESPONSE_ORIGIN = 0x802B,          /* RFC 5780 §7.3 */
	STUN_ATTR_OTHER_ADDRESS = 0x802C,            /* RFC 5780 §7.4 */
};

/* CHANGE-REQUEST flags (RFC 5780 §7.2). */
enum {
	STUN_CHANGE_IP = 0x4,
	STUN_CHANGE_PORT = 0x2,
};

/* struct stun_attr: one attribute as found on the wire. The value is the
 * len bytes at msg->buf + off (padding excluded). */
struct stun_attr {
	uint16_t type;
	uint16_t len;
	uint32_t off;
};

/* struct stun_msg: the result of stun_msg_parse. buf points into the
 * caller's input, as do all values: the struct is valid only while that
 * buffer is alive and unchanged. Attributes after MESSAGE-INTEGRITY(-SHA256)
 * other than those RFC 8489 §14.5/§14.6 allow are ignored and not listed.
 * The *_off fields are the offset of the attribute's 4-byte header, or 0 when
 * absent (attributes start at offset 20, so 0 is never one). */
struct stun_msg {
	const uint8_t *buf;
	size_t len;
	uint16_t type;
	uint8_t txid[STUN_TXID_LEN];
	size_t num_attrs;
	struct stun_attr attrs[STUN_MAX_ATTRS];
	size_t integrity_off;
	size_t integrity_sha256_off;
	size_t fingerprint_off;
};

/* stun_type_make returns the message type for method (12 bits) and cls. */
uint16_t stun_type_make(uint16_t method, enum stun_class cls);

/* stun_type_method returns the 12-bit method of message type type. */
uint16_t stun_type_method(uint16_t type);

/* stun_type_class returns the class of message type type. */
enum stun_class stun_type_class(uint16_t type);

/* stun_is_message returns whether buf[0..len) looks like one whole STUN
 * message: leading bits zero, magic cookie, and a length that is a multiple
 * of 4 and equals len - 20. Cheap (reads 8 bytes); meant to demultiplex STUN
 * from other traffic on one UDP socket. It does not walk the attributes:
 * stun_msg_parse can still reject a message this accepts. */
bool stun_is_message(const uint8_t *buf, size_t len);

/* stun_msg_parse parses the datagram buf[0..len) into *out. Returns STUN_OK,
 * or on failure a negative enum stun_status and *out is left untouched:
 * STUN_E_TRUNCATED (a proper prefix), STUN_E_NOT_STUN, STUN_E_BAD_MAGIC,
 * STUN_E_BAD_LENGTH, STUN_E_BAD_ATTR, STUN_E_BAD_ORDER or
 * STUN_E_TOO_MANY_ATTRS. Reads only buf[0..len); *out borrows buf. It does
 * not check FINGERPRINT or MESSAGE-INTEGRITY: see the stun_msg_check_*. */
int stun_msg_parse(struct stun_msg *out, const uint8_t *buf, size_t len);

/* stun_msg_find returns the first attribute of the given type, or NULL.
 * The pointer is into msg and lives as long as it does. */
const struct stun_attr *stun_msg_find(const struct stun_msg *msg, uint16_t type);

/* stun_msg_get_value points *out_value at the value of the first attribute
 * of the given type and sets *out_len to its length. Returns STUN_OK or
 * STUN_E_NO_ATTR. The value borrows msg->buf and is not NUL-terminated; text
 * attributes (USERNAME, REALM, NONCE, SOFTWARE) are unvalidated UTF-8. */
int stun_msg_get_value(const struct stun_msg *msg, uint16_t type, const uint8_t **out_value, size_t *out_len);

/* stun_msg_get_addr decodes the first address attribute of the given type
 * (MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS, ALTERNATE-SERVER) into
 * *out. Returns STUN_OK, STUN_E_NO_ATTR, or STUN_E_BAD_ATTR when the value is
 * not an address (asked for a type that does not hold one). */
int stun_msg_get_addr(const struct stun_msg *msg, uint16_t type, struct stun_addr *out);

/* stun_msg_get_xor_addr is stun_msg_get_addr for XOR-encoded attributes
 * (XOR-MAPPED-ADDRESS): the port is XORed with the cookie's high half, the
 * address with the cookie (IPv4) or cookie || transaction id (IPv6). */
int stun_msg_get_xor_addr(const struct stun_msg *msg, uint16_t type, struct stun_addr *out);

/* stun_msg_get_error reads ERROR-CODE: *out_code is 300..699, the reason
 * phrase (UTF-8, not NUL-terminated, may be empty) borrows msg->buf. Returns
 * STUN_OK or STUN_E_NO_ATTR. */
int stun_msg_get_error(const struct stun_msg *msg, uint16_t *out_code, const uint8_t **out_reason,
                       size_t *out_reason_len);

/* stun_msg_get_unknown_attrs reads UNKNOWN-ATTRIBUTES (in a 420 response):
 * up to max types go to out_types, the number stored to *out_num. Returns
 * STUN_OK or STUN_E_NO_ATTR; a list longer than max is cut at max. */
int stun_msg_get_unknown_attrs(const struct stun_msg *msg, uint16_t *out_types, size_t max, size_t *out_num);

/* stun_msg_get_change_request reads CHANGE-REQUEST into *out_flags
 * (STUN_CHANGE_IP | STUN_CHANGE_PORT; unused bits are dropped). Returns
 * STUN_OK or STUN_E_NO_ATTR. */
int stun_msg_get_change_request(const struct stun_msg *msg, uint32_t *out_flags);

/* stun_msg_get_response_port reads RESPONSE-PORT into *out_port (host
 * order). Returns STUN_OK or STUN_E_NO_ATTR. */
int stun_msg_get_response_port(const struct stun_msg *msg, uint16_t *out_port);

/* stun_msg_unknown_required lists the comprehension-required attribute types
 * (below 0x8000) in msg that this codec does not understand and that are not
 * in also_known[0..num_also_known) (the caller's own, e.g. ICE's PRIORITY),
 * each once, in message order, into out_types. Returns how many it stored, at
 * most max; 0 means the message may be processed, otherwise answer with a 420
 * whose UNKNOWN-ATTRIBUTES carries the list (RFC 8489 §6.3.1). */
size_t stun_msg_unknown_required(const struct stun_msg *msg, const uint16_t *also_known, size_t num_also_known,
                                 uint16_t *out_types, size_t max);

/* stun_msg_check_fingerprint recomputes the CRC-32 of the message up to
 * FINGERPRINT (RFC 8489 §14.7). Returns STUN_OK, STUN_E_NO_ATTR when there
 * is none, or STUN_E_BAD_FINGERPRINT. */
int stun_msg_check_fingerprint(const struct stun_msg *msg);

/* stun_msg_check_integrity verifies MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489
 * §14.5) with key[0..key_len): the password for short-term credentials, the
 * output of stun_key_long_term for long-term ones. Compares in constant
 * time. Returns STUN_OK, STUN_E_NO_ATTR or STUN_E_BAD_INTEGRITY. */
int stun_msg_check_integrity(const struct stun_msg *msg, const uint8_t *key, size_t key_len);

/* stun_msg_check_integrity_sha256 verifies MESSAGE-INTEGRITY-SHA256
 * (HMAC-SHA256, RFC 8489 §14.6), truncated to the attribute's 16..32 bytes.
 * Returns as stun_msg_check_integrity does. */
int stun_msg_check_integrity_sha256(const struct stun_msg *msg, const uint8_t *key, size_t key_len);

/* stun_key_long_term writes the long-term credential key MD5(username ":"
 * realm ":" password) (RFC 8489 §9.2.2) to out_key. The password must already
 * be processed with OpaqueString (SASLprep in RFC 5389); this does no
 * normalisation. Cannot fail. */
void stun_key_long_term(uint8_t out_key[static STUN_LONG_TERM_KEY_LEN], const char *username, size_t username_len,
                        const char *realm, size_t realm_len, const char *password, size_t password_len);

/* stun_txid_generate fills out_txid with 96 bits from BoringSSL's CSPRNG
 * (RFC 8489 §6: transaction ids must be uniformly random). Cannot fail:
 * BoringSSL aborts rather than return weak bytes. */
void stun_txid_generate(uint8_t out_txid[static STUN_TXID_LEN]);

#endif
