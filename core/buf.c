/* Provided buffer rings: see core/buf.h. */
#include "core/internal.h"
#include "core/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The fallback below is logged once per process, not once per thread. */
static atomic_bool fallback_logged;

int core_buf_group_init(struct core_reactor *r, struct buf_group *g, uint16_t bgid, unsigned num, unsigned base,
			unsigned size)
{
	struct io_uring_buf_reg reg;
	int ret;

	memset(g, 0, sizeof *g);
	if (base > num)
		base = num;
	g->base = base;
	g->size = size;
	g->bgid = bgid;
	/* Buffer memory is touched only when the kernel fills a buffer, so a big
	 * ring costs little until traffic needs it: address space, not memory.
	 * But a growable ring reserves its cap up front (the relay's 32,768 x
	 * 16 KiB is 512 MiB per thread), which `ulimit -v` or strict overcommit
	 * (vm.overcommit_memory=2 ignores MAP_NORESERVE) refuse: then the ring
	 * is fixed at its base rather than the reactor not starting. */
	for (;;) {
		g->mem_len = (size_t)num * size;
		g->mem = mmap(NULL, g->mem_len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1,
			      0);
		if (g->mem != MAP_FAILED)
			break;
		g->mem = NULL;
		if (num == base)
			return -ENOMEM;
		if (!atomic_exchange_explicit(&fallback_logged, true, memory_order_relaxed))
			core_log(CORE_LOG_WARN,
				 "buffer ring %u: cannot reserve %u buffers of %u bytes (%s); the ring stays at %u "
				 "buffers (lower the cap, e.g. relay --ring-max, or raise ulimit -v)",
				 (unsigned)bgid, num, size, strerror(errno), base);
		num = base;
	}
	/* With transparent huge pages "always", filling one buffer could fault
	 * in 2 MiB; parking and trimming give back 4 KiB pages anyway. */
	madvise(g->mem, g->mem_len, MADV_NOHUGEPAGE);
	g->num = num;
	g->mask = (unsigned)io_uring_buf_ring_mask(num);
	/* liburing 2.3 has no io_uring_setup_buf_ring: register page-aligned
	 * memory ourselves, as its examples/io_uring-udp.c does. */
	g->ring_len = num * sizeof(struct io_uring_buf);
	g->br = mmap(NULL, g->ring_len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (g->br == MAP_FAILED) {
		g->br = NULL;
		return -ENOMEM;
	}
	g->next = calloc(num, sizeof *g->next);
	g->len = calloc(num, sizeof *g->len);
	g->out = calloc(num, 1);
	/* Only a ring that may grow parks buffers. */
	g->parked = num > base ? calloc(num - base, sizeof *g->parked) : NULL;
	if (!g->next || !g->len || !g->out || (num > base && !g->parked))
		return -ENOMEM;
	memset(&reg, 0, sizeof reg);
	reg.ring_addr = (uint64_t)(uintptr_t)g->br;
	reg.ring_entries = num;
	reg.bgid = bgid;
	ret = io_uring_register_buf_ring(&r->ring, &reg, 0);
	if (ret < 0)
		return ret;
	io_uring_buf_ring_init(g->br);
	core_buf_group_grow(g, base);
	return 0;
}

unsigned core_buf_group_grow(struct buf_group *g, unsigned want)
{
	unsigned added = 0;
	if (want > g->num)
		want = g->num;
	while (g->active < want) {
		uint16_t bid = g->num_parked ? g->parked[--g->num_parked] : (uint16_t)g->fresh++;
		if (g->parked_resident > g->num_parked)
			g->parked_resident = g->num_parked; /* it was one of them */
		g->out[bid] = OUT_FREE;
		io_uring_buf_ring_add(g->br, g->mem + (size_t)bid * g->size, g->size, bid, (int)g->mask, (int)added);
		g->active++;
		added++;
	}
	if (added) {
		io_uring_buf_ring_advance(g->br, (int)added);
		g->in_ring += added;
	}
	return added;
}

/* Whether a buffer coming back should leave circulation: the ring grew
 * past its base, nobody waits for a buffer, and fewer than an eighth of
 * those circulating are out (the rest idle in the ring, where the kernel
 * would cycle through them and touch every one's pages). An eighth, not
 * more: a ring in steady use that grew to what its busy sources hold has
 * a good part of it out at any time, and parking there only to grow again
 * costs a syscall per buffer both ways. */
static bool should_park(const struct buf_group *g)
{
	if (g->active <= g->base || g->stalled || g->rearming)
		return false;
	unsigned out = g->active - g->in_ring - 1; /* besides this one */
	return out < g->active / 8;
}

/* Parked buffers whose pages go back to the kernel together: sorted, one
 * madvise per run of neighbouring ids. Fewer (at most this many buffers)
 * stay resident until core_buf_trim or until they circulate again. */
#define PARK_BATCH 32u

/* Whether every id strictly between a and b is parked. */
static bool bridged(const struct buf_group *g, uint16_t a, uint16_t b)
{
	for (unsigned k = (unsigned)a + 1; k < b; k++)
		if (g->out[k] != OUT_PARKED)
			return false;
	return true;
}

/* Gives back the pages of the parked buffers still resident (the top of
 * the stack), a run of neighbouring ids per madvise; a run goes on over
 * ids parked before (OUT_PARKED, their pages given back already: another
 * madvise of them costs nothing). None of them is in the ring, so the
 * kernel cannot be filling them. */
static void park_release(struct buf_group *g)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint16_t *ids = g->parked + (g->num_parked - g->parked_resident);
	unsigned n = g->parked_resident;
	for (unsigned i = 1; i < n; i++) { /* insertion sort: n <= PARK_BATCH */
		uint16_t v = ids[i];
		unsigned j = i;
		for (; j > 0 && ids[j - 1] > v; j--)
			ids[j] = ids[j - 1];
		ids[j] = v;
	}
	for (unsigned i = 0; i < n;) {
		unsigned j = i + 1;
		while (j < n && bridged(g, ids[j - 1], ids[j]))
			j++;
		uintptr_t lo = (uintptr_t)(g->mem + (size_t)ids[i] * g->size);
		uintptr_t hi = (uintptr_t)(g->mem + ((size_t)ids[j - 1] + 1) * g->size);
		/* Whole pages only: a neighbour's page may hold its bytes. */
		uintptr_t a = (lo + page - 1) & ~(uintptr_t)(page - 1), b = hi & ~(uintptr_t)(page - 1);
		if (b > a)
			madvise((void *)a, b - a, MADV_DONTNEED);
		i = j;
	}
	g->parked_resident = 0;
}

/* Takes bid out of circulation; its pages go back to the kernel with
 * those of the next parked buffers (park_release). */
static void park(struct buf_group *g, uint16_t bid)
{
	g->parked[g->num_parked++] = bid;
	g->out[bid] = OUT_PARKED;
	g->active--;
	if (++g->parked_resident >= PARK_BATCH)
		park_release(g);
}

void core_buf_group_cleanup(struct core_reactor *r, struct buf_group *g)
{
	if (g->br) {
		io_uring_unregister_buf_ring(&r->ring, g->bgid);
		munmap(g->br, g->ring_len);
	}
	if (g->mem)
		munmap(g->mem, g->mem_len);
	free(g->next);
	free(g->len);
	free(g->out);
	free(g->parked);
	memset(g, 0, sizeof *g);
}

struct buf_group *core_buf_group_of(struct core_reactor *r, uint8_t gid)
{
	return gid == 0 ? &r->stream : gid == 1 ? &r->dgram : &r->gro;
}

void core_buf_group_put(struct buf_group *g, uint16_t bid)
{
	if (should_park(g)) {
		park(g, bid);
		return;
	}
	io_uring_buf_ring_add(g->br, g->mem + (size_t)bid * g->size, g->size, bid, (int)g->mask, 0);
	io_uring_buf_ring_advance(g->br, 1);
	g->in_ring++;
	g->out[bid] = OUT_FREE;
	/* Every returned buffer goes to the oldest stalled source at once: a
	 * threshold here left a source stalled for good when fewer buffers than
	 * the threshold were free and their holders were waiting on it. */
	if (g->stalled && g->in_ring > g->rearming)
		core_src_rearm_stalled(g);
}

void core_buf_release(struct core_buf *b)
{
	struct core_reactor *r = core_self();
	if (b->gid == CORE_BUF_NONE)
		return;
	core_buf_group_put(core_buf_group_of(r, b->gid), b->bid);
	b->gid = CORE_BUF_NONE;
	b->data = NULL;
	b->len = 0;
}

/* Whether a filled buffer may be waiting for us without our knowing: a
 * completion still in the CQ (or in the kernel's overflow list) carries a
 * buffer whose out[] still says free. */
static bool completions_pending(struct core_reactor *r)
{
	return io_uring_cq_ready(&r->ring) > 0 || (IO_URING_READ_ONCE(*r->ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW);
}

/* Free buffers' pages go back to the kernel, a run of neighbours per call.
 * A buffer is free when out[] says so and no completion is waiting: the
 * kernel fills a ring buffer in this thread's context (io_uring task work
 * for a socket receive), which runs only inside a syscall, and every buffer
 * it filled has a completion in the CQ until dispatch marks it out. So the
 * check before each madvise (itself a syscall, on whose return task work
 * may run) covers everything filled up to it; a buffer filled after the zap
 * simply gets a fresh page. */
static size_t trim_group(struct core_reactor *r, struct buf_group *g)
{
	size_t freed = 0, page = (size_t)sysconf(_SC_PAGESIZE);
	/* Ids from fresh up were never touched. */
	for (unsigned i = 0; i < g->fresh;) {
		if (g->out[i] == OUT_TAKEN) {
			i++;
			continue;
		}
		unsigned j = i;
		while (j < g->fresh && g->out[j] != OUT_TAKEN) /* free or parked */
			j++;
		uint8_t *lo = g->mem + (size_t)i * g->size, *hi = g->mem + (size_t)j * g->size;
		/* Whole pages only: a neighbour's page may hold its bytes. */
		uintptr_t a = ((uintptr_t)lo + page - 1) & ~(uintptr_t)(page - 1), b = (uintptr_t)hi & ~(uintptr_t)(page - 1);
		if (completions_pending(r))
			break;
		if (b > a && madvise((void *)a, b - a, MADV_DONTNEED) == 0)
			freed += b - a;
		i = j;
	}
	return freed;
}

size_t core_buf_trim(void)
{
	struct core_reactor *r = core_self();
	if (!r)
		return 0;
	return trim_group(r, &r->stream) + trim_group(r, &r->dgram) + trim_group(r, &r->gro);
}

int core_buf_free_count(uint8_t gid)
{
	struct core_reactor *r = core_self();
	if (!r)
		return -1;
	return (int)core_buf_group_of(r, gid)->in_ring;
}

int core_buf_count(uint8_t gid)
{
	struct core_reactor *r = core_self();
	if (!r)
		return -1;
	return (int)core_buf_group_of(r, gid)->active;
}
