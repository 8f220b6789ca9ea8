/* overlay/table.c: see table.h. */
#include "overlay/table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct overlay_slot {
	uint8_t family;         /* 0: empty */
	uint8_t addr[16];
	uint32_t peer;
};

static uint32_t hash(int family, const uint8_t *addr)
{
	/* FNV-1a: keys are uniformly random already (see table.h). */
	uint32_t h = 2166136261u ^ (uint32_t)family;
	size_t n = family == 4 ? 4 : 16;
	for (size_t i = 0; i < n; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h;
}

int overlay_table_init(struct overlay_table *t, uint32_t max_entries)
{
	memset(t, 0, sizeof *t);
	if (!max_entries || max_entries > (1u << 24))
		return -EINVAL;
	uint32_t n = 2;
	while (n < 2 * max_entries)
		n *= 2;
	t->slots = calloc(n, sizeof *t->slots);
	if (!t->slots)
		return -ENOMEM;
	t->mask = n - 1;
	t->max = max_entries;
	return 0;
}

void overlay_table_free(struct overlay_table *t)
{
	free(t->slots);
	memset(t, 0, sizeof *t);
}

void overlay_table_clear(struct overlay_table *t)
{
	if (t->slots)
		memset(t->slots, 0, ((size_t)t->mask + 1) * sizeof *t->slots);
	t->count = 0;
}

/* The slot holding addr, or the empty slot where it would go. */
static struct overlay_slot *find(const struct overlay_table *t, int family, const uint8_t *addr)
{
	size_t n = family == 4 ? 4 : 16;
	for (uint32_t i = hash(family, addr) & t->mask;; i = (i + 1) & t->mask) {
		struct overlay_slot *s = &t->slots[i];
		if (!s->family || (s->family == family && !memcmp(s->addr, addr, n)))
			return s; /* at most half full: an empty slot is always reached */
	}
}

int overlay_table_add(struct overlay_table *t, int family, const uint8_t *addr, uint32_t peer)
{
	if ((family != 4 && family != 6) || !t->slots)
		return -EINVAL;
	struct overlay_slot *s = find(t, family, addr);
	if (s->family)
		return s->peer == peer ? 0 : -EEXIST;
	if (t->count == t->max)
		return -ENOSPC;
	s->family = (uint8_t)family;
	memcpy(s->addr, addr, family == 4 ? 4 : 16);
	s->peer = peer;
	t->count++;
	return 0;
}

bool overlay_table_lookup(const struct overlay_table *t, int family, const uint8_t *addr, uint32_t *out_peer)
{
	if ((family != 4 && family != 6) || !t->slots)
		return false;
	const struct overlay_slot *s = find(t, family, addr);
	if (!s->family)
		return false;
	*out_peer = s->peer;
	return true;
}

bool overlay_table_src_ok(const struct overlay_table *t, int family, const uint8_t *addr, uint32_t peer)
{
	uint32_t owner;
	return overlay_table_lookup(t, family, addr, &owner) && owner == peer;
}
