/* stun/ratelimit.c: GCRA per source in a fixed hash table; see ratelimit.h. */
#include "stun/ratelimit.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/bssl.h"
#include <openssl/siphash.h>

/* One tracked source. tat is the GCRA "theoretical arrival time": the
 * moment the bucket would be full again; tat <= now means the bucket is full
 * and the slot carries no information, so it may be reused. */
struct entry {
	uint8_t key[16];
	uint8_t family;
	bool used;
	uint64_t tat;
};
static_assert(sizeof(struct entry) == 32, "two entries per cache line");
static_assert((STUN_RL_SLOTS & (STUN_RL_SLOTS - 1)) == 0, "STUN_RL_SLOTS must be a power of two");

struct stun_ratelimit {
	uint64_t interval_ns; /* T: time that earns one request */
	uint64_t burst_ns;    /* burst * T: how far tat may run ahead of now */
	uint64_t sip_key[2];
	uint64_t evictions;
	struct entry *slots;  /* STUN_RL_SLOTS, NULL without a limit */
};

struct stun_ratelimit *stun_ratelimit_new(uint32_t rate, uint32_t burst, int *err)
{
	struct stun_ratelimit *rl;

	if (rate > 0 && burst == 0) {
		*err = -EINVAL;
		return NULL;
	}
	rl = calloc(1, sizeof *rl);
	if (rl && rate > 0)
		rl->slots = calloc(STUN_RL_SLOTS, sizeof *rl->slots);
	if (!rl || (rate > 0 && !rl->slots)) {
		stun_ratelimit_free(rl);
		*err = -ENOMEM;
		return NULL;
	}
	if (rate > 0) {
		rl->interval_ns = 1000000000u / rate;
		if (rl->interval_ns == 0)
			rl->interval_ns = 1;
		rl->burst_ns = rl->interval_ns * burst;
	}
	RAND_bytes((uint8_t *)rl->sip_key, sizeof rl->sip_key);
	return rl;
}

/* make_key fills the 16-byte key for src: the IPv4 address, or the IPv6 /64
 * prefix (see the header), the rest zero. */
static void make_key(uint8_t key[static 16], const struct stun_addr *src)
{
	memset(key, 0, 16);
	memcpy(key, src->ip, src->family == STUN_FAMILY_IPV4 ? 4 : 8);
}

bool stun_ratelimit_allow(struct stun_ratelimit *rl, const struct stun_addr *src, uint64_t now_ns)
{
	uint8_t key[17];
	struct entry *e = NULL, *free_slot = NULL, *oldest = NULL;

	if (rl->interval_ns == 0)
		return true;
	make_key(key, src);
	key[16] = src->family;
	size_t h = (size_t)SIPHASH_24(rl->sip_key, key, sizeof key);
	for (size_t i = 0; i < STUN_RL_PROBES; i++) {
		struct entry *s = &rl->slots[(h + i) & (STUN_RL_SLOTS - 1)];
		if (s->used && s->family == src->family && memcmp(s->key, key, 16) == 0) {
			e = s;
			break;
		}
		if (!free_slot && (!s->used || s->tat <= now_ns))
			free_slot = s;
		if (!oldest || s->tat < oldest->tat)
			oldest = s;
	}
	if (!e) {
		e = free_slot;
		if (!e) {
			e = oldest;
			rl->evictions++;
		}
		memcpy(e->key, key, 16);
		e->family = src->family;
		e->used = true;
		e->tat = now_ns;
	}
	/* GCRA: the request conforms when, after charging it, the bucket is
	 * not more than burst intervals behind. */
	uint64_t tat = e->tat > now_ns ? e->tat : now_ns;
	if (tat + rl->interval_ns - now_ns > rl->burst_ns)
		return false;
	e->tat = tat + rl->interval_ns;
	return true;
}

uint64_t stun_ratelimit_evictions(const struct stun_ratelimit *rl)
{
	return rl->evictions;
}

void stun_ratelimit_free(struct stun_ratelimit *rl)
{
	if (!rl)
		return;
	free(rl->slots);
	free(rl);
}
