#ifndef STUN_INTERNAL_H
#define STUN_INTERNAL_H
/* stun/internal.h: helpers shared by msg.c and writer.c; never included from
 * another folder.
 *
 * Untrusted bytes are read only through struct core_cursor (core/bytes.h,
 * STYLE.md §6): every getter either consumes exactly what it asked for or
 * fails without moving, so a parser that checks each return cannot read
 * past the end. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/bytes.h"
#include "stun/addr.h"

/* pad4 rounds an attribute value length up to the 32-bit boundary every
 * attribute ends on (RFC 8489 §14). */
static inline size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* stun_crc32 returns the CRC-32 of p[0..n) as ISO 3309 / zlib's crc32()
 * define it (reflected, polynomial 0xEDB88320, inverted in and out). */
uint32_t stun_crc32(const uint8_t *p, size_t n);

enum stun_mac_alg {
	STUN_MAC_SHA1,   /* 20-byte output */
	STUN_MAC_SHA256, /* 32-byte output */
};

/* stun_mac writes to out the HMAC that MESSAGE-INTEGRITY(-SHA256) carries
 * (RFC 8489 §14.5, §14.6): over msg[0..attr_off), where attr_off is the
 * offset of the integrity attribute's header, with the header's length field
 * taken as if the message ended right after that attribute, i.e.
 * attr_off + 4 + value_len - 20. msg is only read: the substituted length is
 * fed to the HMAC separately. */
void stun_mac(uint8_t *out, enum stun_mac_alg alg, const uint8_t *key, size_t key_len, const uint8_t *msg,
              size_t attr_off, size_t value_len);

/* stun_addr_decode decodes a (XOR-)MAPPED-ADDRESS-format value v[0..len)
 * (RFC 8489 §14.1, §14.2) into *out; txid is the message's transaction id for
 * an XOR-encoded value and NULL for a plain one. Returns STUN_OK or
 * STUN_E_BAD_ATTR (unknown family, length not 8 for IPv4 / 20 for IPv6). */
int stun_addr_decode(struct stun_addr *out, const uint8_t *v, size_t len, const uint8_t *txid);

/* stun_addr_encode writes addr in that format to out (8 or 20 bytes, which
 * it returns); txid as for stun_addr_decode. addr's family must be valid. */
size_t stun_addr_encode(uint8_t *out, const struct stun_addr *addr, const uint8_t *txid);

/* stun_check_value validates v[0..len) as the value of attribute type
 * (txid for XOR-encoded addresses). Returns STUN_OK, also for types it does
 * not know, or STUN_E_BAD_ATTR. The parser and the writer share it, so the
 * writer cannot emit what the parser rejects. Text values are bounded in
 * bytes only: their UTF-8 is the consumer's to validate. */
int stun_check_value(uint16_t type, const uint8_t *v, size_t len, const uint8_t *txid);

#endif
