#ifndef CORE_CORO_H
#define CORE_CORO_H
/* core/coro.h: stackful coroutines, the unit of concurrency of the reactor.
 *
 * Design. Every connection's logic runs as straight-line code on its own
 * stack and suspends inside I/O calls (core/sock.h, core/udp.h, core_sleep,
 * core_park); the reactor resumes it when the completion arrives.
 *
 * Mechanism: a hand-written context switch (x86-64: 6 callee-saved registers
 * and the stack pointer, 14 instructions; aarch64: x19-x30, d8-d15, sp). It
 * does not save the signal mask (no syscall, unlike swapcontext) nor the
 * MXCSR/x87 control words: nothing in this program changes the floating
 * point environment. Other architectures fall back to ucontext, which costs a
 * sigprocmask syscall per switch.
 *
 * Stacks: from per-thread slabs (core/stack.h: MAP_NORESERVE, so only
 * touched pages use memory) with a guard page below in every build type; a
 * stack overflow faults instead of corrupting a neighbour. Default size
 * 64 KiB, enough for BoringSSL handshakes and json-c. Taking a stack costs
 * no system call; a freed coroutine's pages are given back (madvise), and
 * finished coroutines are kept whole in a small per-thread pool
 * (CORE_CORO_POOL_MAX). ASan builds announce every switch with
 * __sanitizer_start/finish_switch_fiber.
 *
 * Cost: measured by `atmosphere-bench core` (bench/switch_cost.c; see
 * docs/PERFORMANCE.md): 8 ns per switch on the 2-vCPU dev VM, against 165 ns
 * for getppid() and 221 ns for swapcontext: a twentieth of a syscall.
 *
 * Threading: a coroutine belongs to the thread that created it and must only
 * be resumed there. Not thread-safe by design; the reactor owns them. */
#include <stdbool.h>
#include <stddef.h>

#define CORE_CORO_STACK_DEFAULT (64u * 1024u)
#define CORE_CORO_POOL_MAX 64

typedef void (*core_task_fn)(void *arg);

struct core_coro;

/* core_coro_new creates a suspended coroutine that will run fn(arg) on its
 * own stack of stack_size bytes (0: default) when first resumed. Returns NULL
 * with *err = -ENOMEM on failure. */
struct core_coro *core_coro_new(core_task_fn fn, void *arg, size_t stack_size, int *err);

/* core_coro_resume switches from the caller (the scheduler) into co until it
 * yields or finishes. Returns true while co can be resumed again, false when
 * fn has returned: the caller then frees it with core_coro_free. Must not be
 * called from inside a coroutine. */
bool core_coro_resume(struct core_coro *co);

/* core_coro_yield suspends the running coroutine and returns to the
 * scheduler that resumed it. Only callable inside a coroutine. */
void core_coro_yield(void);

/* core_coro_current returns the running coroutine, or NULL on a scheduler
 * stack. */
struct core_coro *core_coro_current(void);

/* core_coro_defer registers fn(arg) to run, last registered first, when the
 * coroutine ends or is freed. Returns 0 or -ENOMEM (fn is then not
 * registered: the caller cleans up itself). */
int core_coro_defer(struct core_coro *co, core_task_fn fn, void *arg);

/* core_coro_free runs pending defers and releases the coroutine and its
 * stack. Freeing a suspended coroutine abandons its stack frame: only do it
 * to a coroutine that finished, or at process teardown. NULL is a no-op. */
void core_coro_free(struct core_coro *co);

/* core_coro_set_data / core_coro_data: one pointer of user data (the reactor
 * keeps its per-coroutine state here). */
void core_coro_set_data(struct core_coro *co, void *data);
void *core_coro_data(const struct core_coro *co);

/* core_coro_hibernate marks the running coroutine to give back its whole
 * stack at its next suspension: once it has switched out, the live part of
 * the stack (its saved stack pointer up to the top, a few hundred bytes for
 * a shallow wait) is copied to the heap and every stack page is released
 * with one madvise; core_coro_resume copies it back (the pages fault in
 * zeroed first) before switching in. The mapping stays, so addresses on the
 * stack stay valid. Costs a malloc, two copies and page faults per idle
 * spell: for long waits of many idle coroutines, never on a busy path.
 * Contract: while it hibernates, nothing outside the coroutine may read or
 * write its stack (no operation, timer or list node living there); the
 * reactor guarantees this only for waits it documents as hibernation-safe
 * (core_task_hibernate_next_wait in core/reactor.h). If the heap copy
 * cannot be allocated the stack simply stays resident. */
void core_coro_hibernate(void);

/* core_coro_hibernate_cancel withdraws the running coroutine's request: for
 * a wait that returned without suspending (a timeout of 0, a runtime being
 * torn down), so that the request cannot apply to a later, unsafe one. */
void core_coro_hibernate_cancel(void);

/* core_coro_hibernating: whether co's stack is currently given back. */
bool core_coro_hibernating(const struct core_coro *co);

/* core_coro_hibernated reports the stack copies hibernating coroutines of
 * the whole process hold now: how many, and their bytes (malloc's headers
 * not counted). For tests and diagnostics; does not suspend. */
void core_coro_hibernated(size_t *count, size_t *bytes);

/* core_coro_pool_trim releases this thread's pooled coroutines and unmaps
 * its stack slabs that have no stack taken (core_stack_trim). */
void core_coro_pool_trim(void);

#endif
