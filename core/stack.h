#ifndef CORE_STACK_H
#define CORE_STACK_H
/* core/stack.h: coroutine stacks, carved out of per-thread slabs.
 *
 * Why slabs: a mapping per stack cost three system calls per connection
 * (mmap, mprotect for the guard page, munmap) and as many changes to the
 * process's map tree, each under its write lock: about 8 % of the relay's
 * CPU while it set up sessions (perf, docs/PERFORMANCE.md). A slab maps
 * CORE_STACK_SLAB stacks of one size at once; its stacks are taken and
 * given back with no system call.
 *
 * Guard pages: every stack has one below it, in every build type. Linux
 * 6.13's MADV_GUARD_INSTALL marks it in the page tables without splitting
 * the slab's mapping; older kernels refuse it and get mprotect(PROT_NONE),
 * which splits the mapping as before. Either way an overflow faults.
 *
 * Memory: a slab is MAP_NORESERVE, without transparent huge pages; only
 * touched pages use memory, and core_stack_put gives none back (the caller
 * does, with madvise, when it wants). A slab whose stacks are all free is
 * unmapped, except one per stack size kept for the next burst.
 *
 * Threading: stacks belong to the thread that took them; core_stack_put
 * must run on that thread (coroutines are freed where they ran). */
#include <stddef.h>
#include <stdint.h>

#define CORE_STACK_SLAB 16

struct core_stack_slab;

struct core_stack {
	uint8_t *lo;                   /* lowest usable byte, just above the guard page */
	size_t len;                    /* usable bytes, a multiple of the page size */
	struct core_stack_slab *slab;  /* owner; NULL when not taken */
	unsigned slot;
};

/* core_stack_get takes a stack of len bytes (rounded up to pages; 0 is
 * refused) for the calling thread into *out. Returns 0, -EINVAL or -ENOMEM
 * (no address space or memory for a new slab). Its pages may hold an
 * earlier user's bytes unless that user gave them back. */
int core_stack_get(size_t len, struct core_stack *out);

/* core_stack_put gives st back to its slab; st->slab becomes NULL. NULL
 * slab: no-op. */
void core_stack_put(struct core_stack *st);

/* core_stack_trim unmaps the calling thread's slabs whose stacks are all
 * free, the kept one included, and frees its bookkeeping for stack sizes
 * left with no slab: a thread that has given back every stack and trims
 * before it exits leaves no memory behind. */
void core_stack_trim(void);

/* core_stack_use_mprotect_guards makes every later guard page an mprotect,
 * as on a kernel before 6.13 that refuses MADV_GUARD_INSTALL (Debian 12's
 * 6.1): for tests, which run on newer kernels, to cover that path. Slabs
 * already mapped keep their guards. Process-wide. */
void core_stack_use_mprotect_guards(void);

/* What the calling thread holds: stack sizes it keeps bookkeeping for and
 * slabs it has mapped (for tests). */
struct core_stack_held {
	unsigned sizes;
	unsigned slabs;
};
void core_stack_held(struct core_stack_held *out);

#endif
