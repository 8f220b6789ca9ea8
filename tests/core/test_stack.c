/* core/stack: slabs of coroutine stacks, their guard pages, reuse and
 * unmapping. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/stack.h"

static size_t page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* Whether [p, p + len) is mapped: mincore fails with ENOMEM on a hole. */
static bool mapped(const void *p, size_t len)
{
	unsigned char vec[64];
	cr_assert_leq(len / page(), sizeof vec);
	return mincore((void *)((uintptr_t)p & ~(uintptr_t)(page() - 1)), len, vec) == 0 || errno != ENOMEM;
}

/* Writes one byte at p in a child; returns whether the write faulted: the
 * child died by a signal (SIGSEGV: a guard page) or, under ASan, whose
 * handler reports the fault, exited non-zero; a clean write exits 0. */
static bool write_faults(volatile uint8_t *p)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		*p = 1;
		_exit(0);
	}
	int status = 0;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
}

Test(core_stack, a_slab_hands_out_disjoint_writable_stacks_rounded_to_pages)
{
	struct core_stack st[CORE_STACK_SLAB];
	size_t len = 3 * page() - 100;
	for (unsigned i = 0; i < CORE_STACK_SLAB; i++) {
		cr_assert_eq(core_stack_get(len, &st[i]), 0);
		cr_assert_eq(st[i].len, 3 * page(), "rounded up to whole pages");
		cr_assert_eq((uintptr_t)st[i].lo % page(), 0);
		memset(st[i].lo, (int)i + 1, st[i].len);
	}
	for (unsigned i = 0; i < CORE_STACK_SLAB; i++) {
		cr_assert_eq(st[i].lo[0], i + 1, "stack %u was overwritten by another", i);
		cr_assert_eq(st[i].lo[st[i].len - 1], i + 1, "stack %u was overwritten by another", i);
		for (unsigned j = 0; j < i; j++)
			cr_assert(st[i].lo + st[i].len <= st[j].lo || st[j].lo + st[j].len <= st[i].lo,
				  "stacks %u and %u overlap", i, j);
	}
	for (unsigned i = 0; i < CORE_STACK_SLAB; i++)
		core_stack_put(&st[i]);
	core_stack_trim();
}

/* Takes a slab and one more stack of len bytes (a second slab), checks that
 * every stack is writable from its lowest to its top byte and that the byte
 * below it faults (and with whole_guard the page below it too), then gives
 * them back and trims. */
static void check_guards(size_t len, bool whole_guard)
{
	struct core_stack st[CORE_STACK_SLAB + 1];
	for (unsigned i = 0; i <= CORE_STACK_SLAB; i++)
		cr_assert_eq(core_stack_get(len, &st[i]), 0);
	for (unsigned i = 0; i <= CORE_STACK_SLAB; i++) {
		cr_assert(!write_faults(st[i].lo), "stack %u's lowest byte must be writable", i);
		cr_assert(!write_faults(st[i].lo + st[i].len - 1), "stack %u's top byte must be writable", i);
		cr_assert(write_faults(st[i].lo - 1), "the byte below stack %u must hit its guard page", i);
		if (whole_guard)
			cr_assert(write_faults(st[i].lo - page()), "the guard page below stack %u must fault whole", i);
	}
	for (unsigned i = 0; i <= CORE_STACK_SLAB; i++)
		core_stack_put(&st[i]);
	core_stack_trim();
}

Test(core_stack, the_page_below_every_stack_faults_and_the_stack_itself_does_not)
{
	check_guards(2 * page(), true);
}

/* The path of kernels before 6.13 (Debian 12's 6.1): guards by mprotect. */
Test(core_stack, with_mprotect_guards_the_page_below_every_stack_faults_too)
{
	core_stack_use_mprotect_guards();
	check_guards(3 * page(), false);
	struct core_stack_held held;
	core_stack_held(&held);
	cr_assert_eq(held.slabs, 0);
}

Test(core_stack, a_freed_stack_is_taken_again_before_a_new_slab)
{
	struct core_stack a, b, c;
	cr_assert_eq(core_stack_get(4 * page(), &a), 0);
	cr_assert_eq(core_stack_get(4 * page(), &b), 0);
	uint8_t *freed = b.lo;
	core_stack_put(&b);
	cr_assert_null(b.slab, "put clears the owner");
	core_stack_put(&b); /* a second put of the same handle does nothing */
	cr_assert_eq(core_stack_get(4 * page(), &c), 0);
	cr_assert_eq(c.lo, freed, "the free stack in the open slab comes first");
	core_stack_put(&a);
	core_stack_put(&c);
	core_stack_trim();
}

Test(core_stack, sizes_do_not_share_slabs)
{
	struct core_stack small, big;
	cr_assert_eq(core_stack_get(page(), &small), 0);
	cr_assert_eq(core_stack_get(8 * page(), &big), 0);
	cr_assert_neq(small.slab, big.slab);
	cr_assert_eq(big.len, 8 * page());
	memset(big.lo, 7, big.len);
	memset(small.lo, 9, small.len);
	cr_assert_eq(big.lo[0], 7);
	core_stack_put(&small);
	core_stack_put(&big);
	core_stack_trim();
}

Test(core_stack, empty_slabs_beyond_one_are_unmapped_and_trim_unmaps_the_last)
{
	size_t len = 5 * page(); /* a size no other test uses in this process */
	struct core_stack st[3 * CORE_STACK_SLAB];
	for (unsigned i = 0; i < 3 * CORE_STACK_SLAB; i++)
		cr_assert_eq(core_stack_get(len, &st[i]), 0);
	/* Three full slabs. Empty the first two: the first stays for the next
	 * burst, the second goes. */
	uint8_t *first = st[0].lo, *second = st[CORE_STACK_SLAB].lo, *third = st[2 * CORE_STACK_SLAB].lo;
	cr_assert_neq(st[0].slab, st[CORE_STACK_SLAB].slab);
	for (unsigned i = 0; i < 2 * CORE_STACK_SLAB; i++)
		core_stack_put(&st[i]);
	cr_assert(mapped(first, len), "one empty slab is kept");
	cr_assert(!mapped(second, len), "a second empty slab is unmapped");
	cr_assert(mapped(third, len), "a slab in use stays");
	core_stack_trim();
	cr_assert(!mapped(first, len), "trim unmaps the kept empty slab");
	cr_assert(mapped(third, len), "trim leaves a slab in use");
	for (unsigned i = 2 * CORE_STACK_SLAB; i < 3 * CORE_STACK_SLAB; i++)
		core_stack_put(&st[i]);
	core_stack_trim();
	cr_assert(!mapped(third, len));
}

/* A reactor thread trims before it exits: whatever the stacks' bookkeeping
 * holds must be gone then, or every exited thread leaks it (LeakSanitizer
 * failed every multi-threaded program on this in CI). */
Test(core_stack, trim_after_every_stack_is_back_leaves_nothing_held)
{
	struct core_stack a, b;
	struct core_stack_held held;
	cr_assert_eq(core_stack_get(6 * page(), &a), 0); /* sizes no other test uses */
	cr_assert_eq(core_stack_get(7 * page(), &b), 0);
	core_stack_held(&held);
	cr_assert_geq(held.sizes, 2);
	cr_assert_geq(held.slabs, 2);
	core_stack_put(&a);
	core_stack_trim();
	core_stack_held(&held);
	cr_assert_geq(held.sizes, 1, "a size with a stack taken stays");
	core_stack_put(&b);
	core_stack_trim();
	core_stack_held(&held);
	cr_assert_eq(held.slabs, 0, "slabs left after trim: %u", held.slabs);
	cr_assert_eq(held.sizes, 0, "stack sizes still held after trim: %u", held.sizes);
}

Test(core_stack, a_zero_or_absurd_size_is_refused)
{
	struct core_stack st;
	cr_assert_eq(core_stack_get(0, &st), -EINVAL);
	cr_assert_eq(core_stack_get(SIZE_MAX, &st), -EINVAL);
}
