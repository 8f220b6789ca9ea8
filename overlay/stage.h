#ifndef OVERLAY_STAGE_H
#define OVERLAY_STAGE_H
/* overlay/stage.h: packets held for a member the node cannot send to yet
 * (docs/OVERLAY.md, "Packets wait for a path").
 *
 * A packet for a member without a session, a path, or a relay link it may
 * send on now (the node is calling the member, or asking whether idle
 * links may close) waits here instead of being dropped, as the kernel's
 * neighbour table holds packets while it resolves an address and
 * WireGuard stages them until its handshake is done. The first packet of a
 * connection then arrives when the path does, not a TCP retransmission
 * timeout later, and a packet sent in the round trip of an idle question
 * is not lost in a closing link.
 *
 * A stage is a ring of OVERLAY_STAGE_PKTS packets in arrival order; when
 * full the oldest goes (the newest is worth more to a retransmitting
 * sender), and what waited longer than the caller's bound goes at
 * overlay_stage_expire. Pure bookkeeping: no I/O, no allocation (the
 * caller owns the struct, about 23 KiB). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OVERLAY_STAGE_PKTS 16
#define OVERLAY_STAGE_PKT_MAX 1420 /* the overlay's largest packet (node/pmtu.h NODE_PMTU_MAX) */

struct overlay_stage {
	uint8_t owner[32];         /* whose packets (a member's public key) */
	unsigned head, num;        /* the oldest's slot, how many wait */
	bool draining;             /* the caller's: its packets are being sent */
	uint64_t since_ms[OVERLAY_STAGE_PKTS];
	uint16_t len[OVERLAY_STAGE_PKTS];
	uint8_t pkt[OVERLAY_STAGE_PKTS][OVERLAY_STAGE_PKT_MAX];
};

/* Empty, for owner's packets. */
void overlay_stage_init(struct overlay_stage *s, const uint8_t owner[32]);

/* overlay_stage_push copies pkt[0..n) in as the newest, staged at t.
 * Returns 0, 1 when the stage was full and its oldest packet was dropped
 * to make room, or -EMSGSIZE (n is 0 or over OVERLAY_STAGE_PKT_MAX:
 * nothing changes). */
int overlay_stage_push(struct overlay_stage *s, const uint8_t *pkt, size_t n, uint64_t t);

/* overlay_stage_expire drops the packets staged max_age_ms or more before
 * t and returns how many. */
unsigned overlay_stage_expire(struct overlay_stage *s, uint64_t t, uint64_t max_age_ms);

/* overlay_stage_pop copies the oldest packet into out (cap bytes) and
 * removes it; returns its length, or 0 when the stage is empty or cap is
 * too small (then nothing is removed). */
size_t overlay_stage_pop(struct overlay_stage *s, uint8_t *out, size_t cap);

/* overlay_stage_clear drops every packet and returns how many. */
unsigned overlay_stage_clear(struct overlay_stage *s);

#endif
