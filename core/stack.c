/* Coroutine stacks in per-thread slabs: see core/stack.h. */
#include "core/stack.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13, <asm-generic/mman-common.h> */
#endif

#define ALL_FREE ((uint16_t)((1u << CORE_STACK_SLAB) - 1))
_Static_assert(CORE_STACK_SLAB <= 16, "the free mask is 16 bits");

struct core_stack_slab {
	struct core_stack_slab *prev, *next; /* its size's list of slabs with a free stack */
	struct stack_size *owner;
	uint8_t *base;
	size_t map_len;
	uint16_t free;                       /* bit i: stack i is free */
};

/* The slabs of one stack size: those with a free stack, and how many of
 * them have nothing taken. */
struct stack_size {
	struct stack_size *next;
	size_t len;
	size_t slot_len;                     /* guard page + stack */
	struct core_stack_slab *open;
	unsigned num_empty;
	unsigned num_slabs;                  /* mapped, whatever is taken */
};

static _Thread_local struct stack_size *tls_sizes;

/* Once a kernel refuses MADV_GUARD_INSTALL, every later guard is an
 * mprotect: process-wide, it does not change. */
static atomic_bool no_guard_install;

static int guard(uint8_t *p, size_t page)
{
	if (!atomic_load_explicit(&no_guard_install, memory_order_relaxed)) {
		if (madvise(p, page, MADV_GUARD_INSTALL) == 0)
			return 0;
		atomic_store_explicit(&no_guard_install, true, memory_order_relaxed);
	}
	return mprotect(p, page, PROT_NONE) == 0 ? 0 : -errno;
}

static void list_add(struct stack_size *sz, struct core_stack_slab *sl)
{
	sl->prev = NULL;
	sl->next = sz->open;
	if (sz->open)
		sz->open->prev = sl;
	sz->open = sl;
}

static void list_del(struct stack_size *sz, struct core_stack_slab *sl)
{
	if (sl->prev)
		sl->prev->next = sl->next;
	else
		sz->open = sl->next;
	if (sl->next)
		sl->next->prev = sl->prev;
	sl->prev = sl->next = NULL;
}

static struct stack_size *size_of(size_t len, size_t page)
{
	for (struct stack_size *sz = tls_sizes; sz; sz = sz->next)
		if (sz->len == len)
			return sz;
	struct stack_size *sz = calloc(1, sizeof *sz);
	if (!sz)
		return NULL;
	sz->len = len;
	sz->slot_len = len + page;
	sz->next = tls_sizes;
	tls_sizes = sz;
	return sz;
}

static struct core_stack_slab *slab_new(struct stack_size *sz, size_t page)
{
	struct core_stack_slab *sl = calloc(1, sizeof *sl);
	if (!sl)
		return NULL;
	sl->owner = sz;
	sl->map_len = sz->slot_len * CORE_STACK_SLAB;
	sl->base = mmap(NULL, sl->map_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (sl->base == MAP_FAILED)
		goto fail_free;
	/* Adjacent slabs merge into one mapping, which THP could back with
	 * 2 MiB pages under "always": a stack touches a few KiB. */
	madvise(sl->base, sl->map_len, MADV_NOHUGEPAGE);
	for (unsigned i = 0; i < CORE_STACK_SLAB; i++)
		if (guard(sl->base + i * sz->slot_len, page) != 0)
			goto fail_unmap;
	sl->free = ALL_FREE;
	list_add(sz, sl);
	sz->num_empty++;
	sz->num_slabs++;
	return sl;
fail_unmap:
	munmap(sl->base, sl->map_len);
fail_free:
	free(sl);
	return NULL;
}

/* Unmaps an empty slab. Unmapping the middle of merged slabs splits a
 * mapping, which fails at vm.max_map_count (ENOMEM): the slab then stays,
 * empty and usable, rather than leak its address space. */
static void slab_free(struct core_stack_slab *sl)
{
	if (munmap(sl->base, sl->map_len) != 0)
		return;
	list_del(sl->owner, sl);
	sl->owner->num_empty--;
	sl->owner->num_slabs--;
	free(sl);
}

int core_stack_get(size_t len, struct core_stack *out)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	if (len == 0 || len > SIZE_MAX / 2 / CORE_STACK_SLAB)
		return -EINVAL;
	len = (len + page - 1) & ~(page - 1);
	struct stack_size *sz = size_of(len, page);
	if (!sz)
		return -ENOMEM;
	struct core_stack_slab *sl = sz->open;
	if (!sl && !(sl = slab_new(sz, page)))
		return -ENOMEM;
	if (sl->free == ALL_FREE)
		sz->num_empty--;
	unsigned i = (unsigned)__builtin_ctz(sl->free);
	sl->free = (uint16_t)(sl->free & ~(1u << i));
	if (!sl->free)
		list_del(sz, sl);
	out->lo = sl->base + i * sz->slot_len + page;
	out->len = len;
	out->slab = sl;
	out->slot = i;
	return 0;
}

void core_stack_put(struct core_stack *st)
{
	struct core_stack_slab *sl = st->slab;
	if (!sl)
		return;
	st->slab = NULL;
	struct stack_size *sz = sl->owner;
	if (!sl->free)
		list_add(sz, sl);
	sl->free = (uint16_t)(sl->free | (1u << st->slot));
	if (sl->free != ALL_FREE)
		return;
	/* One empty slab per size waits for the next burst; more go. */
	sz->num_empty++;
	if (sz->num_empty > 1)
		slab_free(sl);
}

void core_stack_trim(void)
{
	struct stack_size **link = &tls_sizes;
	while (*link) {
		struct stack_size *sz = *link;
		struct core_stack_slab *sl = sz->open;
		while (sl) {
			struct core_stack_slab *next = sl->next;
			if (sl->free == ALL_FREE)
				slab_free(sl);
			sl = next;
		}
		/* A size with no slab left goes too: a thread that trims before
		 * it exits leaves nothing behind (LeakSanitizer checks). */
		if (sz->num_slabs == 0) {
			*link = sz->next;
			free(sz);
		} else {
			link = &sz->next;
		}
	}
}

void core_stack_held(struct core_stack_held *out)
{
	out->sizes = out->slabs = 0;
	for (struct stack_size *sz = tls_sizes; sz; sz = sz->next) {
		out->sizes++;
		out->slabs += sz->num_slabs;
	}
}

void core_stack_use_mprotect_guards(void)
{
	atomic_store_explicit(&no_guard_install, true, memory_order_relaxed);
}
