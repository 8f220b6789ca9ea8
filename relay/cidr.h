#ifndef RELAY_CIDR_H
#define RELAY_CIDR_H
/* relay/cidr.h: source networks for the relay's allow-list access mode.
 *
 * An address is 16 bytes, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d, RFC
 * 4291 §2.5.5.2), the form a dual-stack socket reports IPv4 clients in; an
 * IPv4 network a.b.c.d/n is ::ffff:a.b.c.d/(96+n). So 10.0.0.0/8 matches
 * IPv4 clients only, 2001:db8::/32 IPv6 clients only, and ::/0 matches
 * every client, IPv4 included. Codecs: no allocation, no I/O. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest text relay_cidr_parse accepts ("ffff:...:ffff/128" with room). */
enum { RELAY_CIDR_MAX_TEXT = 64 };

/* struct relay_cidr: one network. Bits of addr past prefix_len are zero. */
struct relay_cidr {
	uint8_t addr[16];
	uint8_t prefix_len;   /* 0..128, over the 16-byte form */
	bool v4;              /* written as IPv4 (for printing) */
};

/* relay_cidr_parse reads "ADDR/LEN" or a bare "ADDR" (a host: /32 or
 * /128) from text[0..len): ADDR as inet_pton reads it (no zone ids), LEN
 * decimal without sign or leading zeros, 0..32 for IPv4, 0..128 for IPv6.
 * Host bits set past LEN are refused (10.1.2.3/8 is likely a typo for
 * 10.0.0.0/8 or 10.1.2.3/32). Returns 0, or -EINVAL leaving *out
 * untouched. */
int relay_cidr_parse(struct relay_cidr *out, const char *text, size_t len);

/* relay_cidr_format writes n as text ("10.0.0.0/8", "2001:db8::/32"),
 * NUL-terminated, and returns out. */
const char *relay_cidr_format(const struct relay_cidr *n, char out[static RELAY_CIDR_MAX_TEXT]);

/* relay_cidr_match says whether addr (16 bytes, IPv4-mapped for IPv4) lies
 * in network n. */
bool relay_cidr_match(const struct relay_cidr *n, const uint8_t addr[static 16]);

/* relay_cidr_match_any says whether addr lies in any of nets[0..num_nets). */
bool relay_cidr_match_any(const struct relay_cidr *nets, size_t num_nets, const uint8_t addr[static 16]);

#endif
