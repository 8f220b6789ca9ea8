#ifndef STUN_ADDR_H
#define STUN_ADDR_H
/* stun/addr.h: the transport address carried by STUN address attributes.
 *
 * struct stun_addr is a plain, transparent value: the wire family code, the
 * port in host order and the address bytes in network order. It is what the
 * codec reads and writes; the conversions to and from struct sockaddr live
 * here so that the codec itself never sees a socket type. Both are pure
 * copies: no allocation, no I/O, no suspension. */
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun/status.h"

/* enum stun_family: the wire address family codes (RFC 8489 §14.1). */
enum stun_family {
	STUN_FAMILY_IPV4 = 0x01,
	STUN_FAMILY_IPV6 = 0x02,
};

/* struct stun_addr: family is STUN_FAMILY_IPV4 (ip[0..3] used, the rest
 * zero) or STUN_FAMILY_IPV6 (all 16 bytes); port is in host order. */
struct stun_addr {
	uint8_t family;
	uint16_t port;
	uint8_t ip[16];
};

/* stun_addr_ip_len returns the number of address bytes for addr's family:
 * 4, 16, or 0 when the family is neither. */
size_t stun_addr_ip_len(const struct stun_addr *addr);

/* stun_addr_equal returns whether a and b have the same family, port and
 * address bytes (only the family's bytes are compared). */
bool stun_addr_equal(const struct stun_addr *a, const struct stun_addr *b);

/* stun_addr_from_sockaddr fills out from an AF_INET or AF_INET6 socket
 * address of sa_len bytes. Returns STUN_OK, or STUN_E_INVALID for another
 * family or an sa_len too short for the family (out is then untouched). An IPv4-mapped IPv6
 * address stays IPv6: the codec reports what the socket saw. */
int stun_addr_from_sockaddr(struct stun_addr *out, const struct sockaddr *sa, socklen_t sa_len);

/* stun_addr_to_sockaddr writes addr as a sockaddr_in or sockaddr_in6 into
 * out (zeroed first) and its length into *out_len. Returns STUN_OK, or
 * STUN_E_INVALID when addr's family is neither IPv4 nor IPv6. */
int stun_addr_to_sockaddr(struct sockaddr_storage *out, socklen_t *out_len, const struct stun_addr *addr);

#endif
