/* Stackful coroutines: see core/coro.h for the design and its costs. */
#include "core/coro.h"
#include "core/stack.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(ATMOS_ASAN) || defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define CORO_ASAN 1
#else
#define CORO_ASAN 0
#endif

#if defined(__x86_64__) || defined(__aarch64__)
#define CORO_ASM 1
#else
#define CORO_ASM 0
#include <ucontext.h>
#endif

struct defer {
	struct defer *next;
	core_task_fn fn;
	void *arg;
};

struct core_coro {
#if CORO_ASM
	void *sp;            /* saved stack pointer while suspended */
#else
	ucontext_t uc;
#endif
	core_task_fn fn;
	void *arg;
	void *data;
	struct defer *defers;
	struct core_stack stack; /* from a slab (core/stack.h), guard page below */
	uint8_t *stack_lo;   /* lowest usable byte, just above the guard page */
	size_t stack_len;
	bool finished;
	bool hibernate_at_yield; /* core_coro_hibernate: freeze at next yield */
	uint8_t *frozen;     /* live stack [sp, top) while hibernating, or NULL */
	size_t frozen_len;
#if CORO_ASAN
	void *fake_stack;
#endif
};

struct sched {
#if CORO_ASM
	void *sp;
#else
	ucontext_t uc;
#endif
#if CORO_ASAN
	const void *stack_lo;
	size_t stack_len;
	void *fake_stack;
#endif
	struct core_coro *current;
	struct core_coro *pool[CORE_CORO_POOL_MAX]; /* finished coroutines kept with their stacks */
	unsigned num_pool;
};

static _Thread_local struct sched tls_sched;

#if defined(__x86_64__)
/* ctx_switch(void **save_sp, void *new_sp): push callee-saved registers on the
 * current stack, store sp, load the other sp, pop, return into it. */
void atmos_ctx_switch(void **save_sp, void *new_sp);
void atmos_ctx_entry(void);
__asm__(".text\n"
	".globl atmos_ctx_switch\n"
	".type atmos_ctx_switch,@function\n"
	"atmos_ctx_switch:\n"
	"  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
	"  movq %rsp, (%rdi)\n"
	"  movq %rsi, %rsp\n"
	"  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
	"  ret\n"
	".size atmos_ctx_switch,.-atmos_ctx_switch\n"
	/* First entry: the coroutine pointer was planted in r12. */
	".globl atmos_ctx_entry\n"
	".type atmos_ctx_entry,@function\n"
	"atmos_ctx_entry:\n"
	"  movq %r12, %rdi\n"
	"  xorl %ebp, %ebp\n"
	"  pushq %rbp\n"                 /* realign to 16 before the call */
	"  call atmos_coro_main\n"
	"  ud2\n"
	".size atmos_ctx_entry,.-atmos_ctx_entry\n");
#define SAVED_WORDS 6
#define ARG_SLOT 3 /* r12 is popped fourth: r15 r14 r13 [r12] */
#elif defined(__aarch64__)
void atmos_ctx_switch(void **save_sp, void *new_sp);
void atmos_ctx_entry(void);
__asm__(".text\n"
	".globl atmos_ctx_switch\n"
	".type atmos_ctx_switch,%function\n"
	"atmos_ctx_switch:\n"
	"  sub sp, sp, #160\n"
	"  stp x19, x20, [sp, #0]\n  stp x21, x22, [sp, #16]\n  stp x23, x24, [sp, #32]\n"
	"  stp x25, x26, [sp, #48]\n  stp x27, x28, [sp, #64]\n  stp x29, x30, [sp, #80]\n"
	"  stp d8, d9, [sp, #96]\n  stp d10, d11, [sp, #112]\n  stp d12, d13, [sp, #128]\n"
	"  stp d14, d15, [sp, #144]\n"
	"  mov x2, sp\n  str x2, [x0]\n  mov sp, x1\n"
	"  ldp x19, x20, [sp, #0]\n  ldp x21, x22, [sp, #16]\n  ldp x23, x24, [sp, #32]\n"
	"  ldp x25, x26, [sp, #48]\n  ldp x27, x28, [sp, #64]\n  ldp x29, x30, [sp, #80]\n"
	"  ldp d8, d9, [sp, #96]\n  ldp d10, d11, [sp, #112]\n  ldp d12, d13, [sp, #128]\n"
	"  ldp d14, d15, [sp, #144]\n"
	"  add sp, sp, #160\n"
	"  ret\n"
	".globl atmos_ctx_entry\n"
	".type atmos_ctx_entry,%function\n"
	"atmos_ctx_entry:\n"
	"  mov x0, x19\n"
	"  bl atmos_coro_main\n"
	"  brk #0\n");
#define SAVED_WORDS 20
#endif

static void run_defers(struct core_coro *co)
{
	while (co->defers) {
		struct defer *d = co->defers;
		co->defers = d->next;
		d->fn(d->arg);
		free(d);
	}
}

/* Entered on the coroutine's own stack; never returns. */
void atmos_coro_main(struct core_coro *co);
void atmos_coro_main(struct core_coro *co)
{
#if CORO_ASAN
	__sanitizer_finish_switch_fiber(NULL, &tls_sched.stack_lo, &tls_sched.stack_len);
#endif
	co->fn(co->arg);
	run_defers(co);
	co->finished = true;
#if CORO_ASAN
	/* NULL save slot: this fiber's fake stack can be freed. */
	__sanitizer_start_switch_fiber(NULL, tls_sched.stack_lo, tls_sched.stack_len);
#endif
#if CORO_ASM
	atmos_ctx_switch(&co->sp, tls_sched.sp);
#else
	setcontext(&tls_sched.uc);
#endif
	__builtin_unreachable();
}

#if !CORO_ASM
static void uc_entry(unsigned hi, unsigned lo)
{
	atmos_coro_main((struct core_coro *)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}
#endif

static void prepare(struct core_coro *co)
{
	co->finished = false;
	co->hibernate_at_yield = false;
	co->frozen = NULL;
	co->frozen_len = 0;
	co->defers = NULL;
	co->data = NULL;
#if CORO_ASAN
	co->fake_stack = NULL;
#endif
#if CORO_ASM
	uintptr_t top = ((uintptr_t)co->stack_lo + co->stack_len) & ~(uintptr_t)15;
	void **sp = (void **)top;
#if defined(__x86_64__)
	*--sp = NULL;                        /* padding: entry sees rsp = 8 mod 16 */
	void (*entry)(void) = atmos_ctx_entry;
	--sp;
	memcpy(sp, &entry, sizeof entry);    /* popped by ret */
	for (int i = 0; i < SAVED_WORDS; i++)
		*--sp = NULL;
	sp[ARG_SLOT] = co;
#else
	sp -= SAVED_WORDS;
	for (int i = 0; i < SAVED_WORDS; i++)
		sp[i] = NULL;
	sp[0] = co;                          /* x19 */
	void (*entry)(void) = atmos_ctx_entry;
	memcpy(&sp[11], &entry, sizeof entry); /* x30 (lr) */
#endif
	co->sp = sp;
#else
	getcontext(&co->uc);
	co->uc.uc_stack.ss_sp = co->stack_lo;
	co->uc.uc_stack.ss_size = co->stack_len;
	co->uc.uc_link = NULL;
	uintptr_t p = (uintptr_t)co;
	makecontext(&co->uc, (void (*)(void))uc_entry, 2, (unsigned)(p >> 32), (unsigned)p);
#endif
}

struct core_coro *core_coro_new(core_task_fn fn, void *arg, size_t stack_size, int *err)
{
	struct sched *s = &tls_sched;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct core_coro *co = NULL;

	if (stack_size == 0)
		stack_size = CORE_CORO_STACK_DEFAULT;
	stack_size = (stack_size + page - 1) & ~(page - 1);

	/* Reuse a pooled coroutine of the same stack size. */
	for (unsigned i = s->num_pool; i-- > 0;) {
		if (s->pool[i]->stack_len == stack_size) {
			co = s->pool[i];
			s->pool[i] = s->pool[--s->num_pool];
			break;
		}
	}
	if (!co) {
		co = calloc(1, sizeof *co);
		if (!co)
			goto fail;
		if (core_stack_get(stack_size, &co->stack) != 0) {
			free(co);
			co = NULL;
			goto fail;
		}
		co->stack_lo = co->stack.lo;
		co->stack_len = co->stack.len;
	}
	co->fn = fn;
	co->arg = arg;
	prepare(co);
	return co;
fail:
	if (err)
		*err = -ENOMEM;
	return NULL;
}

/* Copies between a stack and the heap word by word, without ASan checks:
 * a suspended stack holds ASan's poisoned redzones between live frames, and
 * they come back exactly as they were (the shadow memory is not touched). */
#if CORO_ASAN
__attribute__((no_sanitize_address))
#endif
static void stack_copy(void *dst, const void *src, size_t len)
{
	volatile uintptr_t *d = dst;
	const volatile uintptr_t *sw = src;
	for (size_t i = 0; i < len / sizeof(uintptr_t); i++)
		d[i] = sw[i];
}

/* The live part of a suspended coroutine's stack: from its saved stack
 * pointer to the top, rounded out to whole words. */
static uint8_t *live_lo(const struct core_coro *co)
{
#if CORO_ASM
	return (uint8_t *)((uintptr_t)co->sp & ~(uintptr_t)(sizeof(uintptr_t) - 1));
#else
	return co->stack_lo; /* not reached: core_coro_hibernate is a no-op */
#endif
}

/* core_coro_hibernated's figures: process-wide, moved once per idle spell. */
static atomic_size_t frozen_count, frozen_bytes;

static void frozen_account(size_t len, bool add)
{
	if (add) {
		atomic_fetch_add_explicit(&frozen_count, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&frozen_bytes, len, memory_order_relaxed);
	} else {
		atomic_fetch_sub_explicit(&frozen_count, 1, memory_order_relaxed);
		atomic_fetch_sub_explicit(&frozen_bytes, len, memory_order_relaxed);
	}
}

void core_coro_hibernated(size_t *count, size_t *bytes)
{
	*count = atomic_load_explicit(&frozen_count, memory_order_relaxed);
	*bytes = atomic_load_explicit(&frozen_bytes, memory_order_relaxed);
}

static void freeze(struct core_coro *co)
{
	uint8_t *lo = live_lo(co);
	size_t len = (size_t)(co->stack_lo + co->stack_len - lo);
	uint8_t *copy = malloc(len);
	if (!copy)
		return; /* keep the pages: hibernating is only a saving */
	stack_copy(copy, lo, len);
	co->frozen = copy;
	co->frozen_len = len;
	frozen_account(len, true);
	madvise(co->stack_lo, co->stack_len, MADV_DONTNEED);
}

static void thaw(struct core_coro *co)
{
	stack_copy(co->stack_lo + co->stack_len - co->frozen_len, co->frozen, co->frozen_len);
	frozen_account(co->frozen_len, false);
	free(co->frozen);
	co->frozen = NULL;
	co->frozen_len = 0;
}

bool core_coro_resume(struct core_coro *co)
{
	struct sched *s = &tls_sched;
	assert(s->current == NULL && "core_coro_resume called from inside a coroutine");
	assert(!co->finished);
#if CORO_ASM
	/* The saved stack pointer must lie inside the coroutine's own stack. */
	assert((uint8_t *)co->sp >= co->stack_lo && (uint8_t *)co->sp < co->stack_lo + co->stack_len);
#endif
	if (co->frozen)
		thaw(co);
	s->current = co;
#if CORO_ASAN
	__sanitizer_start_switch_fiber(&s->fake_stack, co->stack_lo, co->stack_len);
#endif
#if CORO_ASM
	atmos_ctx_switch(&s->sp, co->sp);
#else
	swapcontext(&s->uc, &co->uc);
#endif
#if CORO_ASAN
	__sanitizer_finish_switch_fiber(s->fake_stack, NULL, NULL);
#endif
	s->current = NULL;
	if (co->hibernate_at_yield) {
		co->hibernate_at_yield = false;
		if (!co->finished)
			freeze(co);
	}
	return !co->finished;
}

void core_coro_yield(void)
{
	struct sched *s = &tls_sched;
	struct core_coro *co = s->current;
	assert(co && "core_coro_yield called outside a coroutine");
#if CORO_ASAN
	__sanitizer_start_switch_fiber(&co->fake_stack, s->stack_lo, s->stack_len);
#endif
#if CORO_ASM
	atmos_ctx_switch(&co->sp, s->sp);
#else
	swapcontext(&co->uc, &s->uc);
#endif
#if CORO_ASAN
	__sanitizer_finish_switch_fiber(co->fake_stack, &s->stack_lo, &s->stack_len);
#endif
}

struct core_coro *core_coro_current(void)
{
	return tls_sched.current;
}

int core_coro_defer(struct core_coro *co, core_task_fn fn, void *arg)
{
	struct defer *d = malloc(sizeof *d);
	if (!d)
		return -ENOMEM;
	d->fn = fn;
	d->arg = arg;
	d->next = co->defers;
	co->defers = d;
	return 0;
}

void core_coro_hibernate(void)
{
	struct core_coro *co = tls_sched.current;
	/* The ucontext fallback keeps sp out of reach: no hibernation there. */
	if (co && CORO_ASM)
		co->hibernate_at_yield = true;
}

void core_coro_hibernate_cancel(void)
{
	struct core_coro *co = tls_sched.current;
	if (co)
		co->hibernate_at_yield = false;
}

bool core_coro_hibernating(const struct core_coro *co)
{
	return co->frozen != NULL;
}

void core_coro_set_data(struct core_coro *co, void *data)
{
	co->data = data;
}

void *core_coro_data(const struct core_coro *co)
{
	return co->data;
}

static void destroy(struct core_coro *co)
{
	free(co->frozen);
	/* The slab keeps its mapping: give the pages back (a pooled stack's
	 * already are). */
	madvise(co->stack_lo, co->stack_len, MADV_DONTNEED);
	core_stack_put(&co->stack);
	free(co);
}

void core_coro_free(struct core_coro *co)
{
	struct sched *s = &tls_sched;
	if (!co)
		return;
	run_defers(co);
	if (co->frozen)
		frozen_account(co->frozen_len, false);
	free(co->frozen); /* abandoned while hibernating: nothing to restore */
	co->frozen = NULL;
	co->frozen_len = 0;
	/* Only finished coroutines go back to the pool: their stacks hold no
	 * live frames. */
	if (co->finished && s->num_pool < CORE_CORO_POOL_MAX) {
		/* Give the stack's pages back, keep the mapping. */
		madvise(co->stack_lo, co->stack_len, MADV_DONTNEED);
		s->pool[s->num_pool++] = co;
		return;
	}
	destroy(co);
}

void core_coro_pool_trim(void)
{
	struct sched *s = &tls_sched;
	while (s->num_pool)
		destroy(s->pool[--s->num_pool]);
	core_stack_trim();
}
