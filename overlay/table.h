#ifndef OVERLAY_TABLE_H
#define OVERLAY_TABLE_H
/* overlay/table.h: cryptokey routing (the idea of WireGuard's allowed IPs).
 *
 * One table maps every member's overlay addresses to the member (a peer
 * index of the caller's). It decides both directions:
 *   out: a packet from the TUN goes to the peer that owns its destination,
 *        or gets ICMP unreachable when no one does;
 *   in:  a packet opened from peer P is delivered only if the peer that owns
 *        its source address is P: a member cannot speak with another's
 *        address.
 * Addresses are exact (/32 and /128): members own their two derived
 * addresses, nothing else yet.
 *
 * Open addressing with linear probing in one array allocated at init, at
 * most half full: lookups (the per-packet path) never allocate and end at
 * the first empty slot. Member addresses are SHA-256 outputs (overlay/
 * addr.h), so no one picks where keys land. The table is rebuilt (clear,
 * then add every member) when membership changes. Not thread-safe. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct overlay_slot;

struct overlay_table {
	struct overlay_slot *slots;     /* owned */
	uint32_t mask;                  /* slots - 1 */
	uint32_t count, max;            /* entries; at most max */
};

/* overlay_table_init allocates room for max_entries addresses (two per
 * member). Returns 0 or -ENOMEM / -EINVAL (0 or more than 2^24 entries). */
int overlay_table_init(struct overlay_table *t, uint32_t max_entries);

/* overlay_table_free releases the slots; t may then be initialised again. */
void overlay_table_free(struct overlay_table *t);

/* overlay_table_clear forgets every entry (keeps the allocation). */
void overlay_table_clear(struct overlay_table *t);

/* overlay_table_add maps addr (family 4: 4 bytes, 6: 16 bytes) to peer.
 * Returns 0 (also when it already maps to peer), -EEXIST when it maps to
 * another peer (two members derived the same address: the membership layer
 * must resolve it; the table keeps the first), -ENOSPC when full, -EINVAL
 * for another family. */
int overlay_table_add(struct overlay_table *t, int family, const uint8_t *addr, uint32_t peer);

/* overlay_table_lookup finds the owner of addr; false when no one. */
bool overlay_table_lookup(const struct overlay_table *t, int family, const uint8_t *addr, uint32_t *out_peer);

/* overlay_table_src_ok: whether peer may send a packet with source addr. */
bool overlay_table_src_ok(const struct overlay_table *t, int family, const uint8_t *addr, uint32_t peer);

#endif
