/* overlay/stage.c: see stage.h. */
#include "overlay/stage.h"

#include <errno.h>
#include <string.h>

void overlay_stage_init(struct overlay_stage *s, const uint8_t owner[32])
{
	memcpy(s->owner, owner, sizeof s->owner);
	s->head = 0;
	s->num = 0;
	s->draining = false;
}

static void drop_oldest(struct overlay_stage *s)
{
	s->head = (s->head + 1) % OVERLAY_STAGE_PKTS;
	s->num--;
}

int overlay_stage_push(struct overlay_stage *s, const uint8_t *pkt, size_t n, uint64_t t)
{
	if (!n || n > OVERLAY_STAGE_PKT_MAX)
		return -EMSGSIZE;
	int dropped = 0;
	if (s->num == OVERLAY_STAGE_PKTS) {
		drop_oldest(s);
		dropped = 1;
	}
	unsigned slot = (s->head + s->num) % OVERLAY_STAGE_PKTS;
	memcpy(s->pkt[slot], pkt, n);
	s->len[slot] = (uint16_t)n;
	s->since_ms[slot] = t;
	s->num++;
	return dropped;
}

unsigned overlay_stage_expire(struct overlay_stage *s, uint64_t t, uint64_t max_age_ms)
{
	unsigned gone = 0;
	/* Arrival order is age order: the oldest are at the head. */
	while (s->num && t - s->since_ms[s->head] >= max_age_ms) {
		drop_oldest(s);
		gone++;
	}
	return gone;
}

size_t overlay_stage_pop(struct overlay_stage *s, uint8_t *out, size_t cap)
{
	if (!s->num || s->len[s->head] > cap)
		return 0;
	size_t n = s->len[s->head];
	memcpy(out, s->pkt[s->head], n);
	drop_oldest(s);
	return n;
}

unsigned overlay_stage_clear(struct overlay_stage *s)
{
	unsigned n = s->num;
	s->head = 0;
	s->num = 0;
	return n;
}
