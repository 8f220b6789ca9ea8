#ifndef OVERLAY_ADDR_H
#define OVERLAY_ADDR_H
/* overlay/addr.h: a mesh member's overlay addresses.
 *
 * Every member gets one IPv4 address in 100.64.0.0/10 (RFC 6598's shared
 * address space, which no home network or public service uses) and one
 * IPv6 address in a unique local /48 (RFC 4193) of its mesh. Both are
 * derived, not assigned: anyone who knows the mesh id and a member's node id
 * computes the same addresses, so no allocator has to be online.
 *
 *   v4: 100.64.0.0 | (22 bits of SHA-256("atmosphere-v4" 0 mesh 0 node 0 n))
 *       host parts 0 and 0x3fffff (the prefix's first and last) are skipped
 *   v6: fd | 40-bit global id = SHA-256("atmosphere-v6" 0 mesh)[0..5)
 *       | subnet 0 | 64-bit interface id = SHA-256("atmosphere-iid" 0 mesh
 *       0 node 0 n)[0..8)
 *
 * n is the member's collision counter, 0 for almost everyone: 22 bits make
 * a v4 collision likely enough in a mesh of a thousand (about 1 in 8) that
 * the membership layer resolves it: each member carries its n in its own
 * signed entry, and the one that yields moves itself to a free n
 * (node_members_overlay_n in node/member.h; docs/OVERLAY.md, "Collisions").
 * Pure functions, no I/O. */
#include <stdint.h>

#define OVERLAY_V4_PREFIX 0x64400000u   /* 100.64.0.0 */
#define OVERLAY_V4_PREFIX_LEN 10
#define OVERLAY_V6_PREFIX_LEN 48

/* overlay_addr4 returns the member's IPv4 overlay address, host order. */
uint32_t overlay_addr4(const char *mesh_id, const char *node_id, uint32_t n);

/* overlay_prefix6 writes the mesh's ULA /48 (the last 10 bytes zero). */
void overlay_prefix6(const char *mesh_id, uint8_t out[16]);

/* overlay_addr6 writes the member's IPv6 overlay address. */
void overlay_addr6(const char *mesh_id, const char *node_id, uint32_t n, uint8_t out[16]);

/* overlay_in_mesh4 / 6: whether an address is inside the mesh's prefixes
 * (v4: 100.64.0.0/10; v6: the mesh's /48). */
int overlay_in_mesh4(uint32_t addr);
int overlay_in_mesh6(const uint8_t prefix[16], const uint8_t addr[16]);

#endif
