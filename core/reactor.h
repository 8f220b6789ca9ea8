#ifndef CORE_REACTOR_H
#define CORE_REACTOR_H
/* core/reactor.h: the io_uring runtime: N reactor threads, one io_uring each.
 *
 * Design. A runtime runs N reactor threads (default: one per online CPU).
 * Each owns one io_uring, its provided-buffer rings (core/buf.h), a timer
 * heap, a run queue of coroutines, and nothing shared: there is no lock on
 * the data path. Threads talk through messages (core_rt_post), carried by
 * IORING_OP_MSG_RING between reactors, or by a small locked inbox + eventfd
 * from foreign threads (a signal handler thread, a test's main thread).
 *
 * The loop: run every ready coroutine until it suspends; submit the batch of
 * SQEs they queued and wait for at least one completion (or the next timer);
 * dispatch the completions, which make coroutines ready; fire due timers.
 * One io_uring_enter per iteration however many connections were served.
 *
 * Shutdown: core_rt_shutdown (or SIGINT/SIGTERM when opts.handle_signals)
 * sets every reactor stopping and calls the shutdown hooks components
 * registered with core_on_shutdown (close listeners, say goodbye to
 * clients). After opts.shutdown_grace_ms, every operation still in flight is
 * cancelled so suspended coroutines return -ECANCELED and unwind. The runtime
 * returns once every coroutine has finished, or after a further second,
 * whichever is first (then it reports how many it abandoned).
 *
 * Errors: functions return 0 or a count, or -errno. Functions marked
 * "suspends" may only be called inside a coroutine of the current reactor. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/coro.h"

struct core_rt;
struct core_reactor;

struct core_rt_opts {
	unsigned num_threads;      /* 0: one per online CPU */
	unsigned sq_entries;       /* 0: 1024 */
	unsigned stream_bufs;      /* TCP receive buffers per thread (power of 2), 0: 1024 */
	/* Up to this many (power of 2, <= 32768) while busy sources wait for a
	 * buffer: 4 per such source, parked again as they stop. Memory is
	 * reserved for all (MAP_NORESERVE) and resident only while in use.
	 * 0: stream_bufs, a fixed ring. */
	unsigned stream_bufs_max;
	unsigned stream_buf_size;  /* bytes each, 0: 16 KiB */
	/* Stream receives take every buffer their socket has data for, up to
	 * 32 per pass of the kernel, instead of one buffer per pass in turn
	 * (core/src.c, "Capped receives"): less CPU per message with a few
	 * busy connections, unfair with thousands. */
	bool stream_recv_batched;
	unsigned dgram_bufs;       /* UDP receive buffers per thread (power of 2), 0: 1024 */
	unsigned dgram_buf_size;   /* bytes each incl. recvmsg header, 0: 2 KiB */
	/* A third ring, for UDP sockets with UDP_GRO (core_udp_enable_gro):
	 * one receive may hold up to 64 KiB of datagrams. 0: no such ring. */
	unsigned udp_gro_bufs;     /* buffers per thread (power of 2), 0: none */
	unsigned udp_gro_buf_size; /* bytes each incl. recvmsg header, 0: 68 KiB */
	size_t stack_size;         /* coroutine stack, 0: CORE_CORO_STACK_DEFAULT */
	unsigned zc_threshold;     /* sends >= this many bytes use SEND_ZC; 0: default (never, see reactor.c) */
	unsigned shutdown_grace_ms;/* 0: 5000 */
	bool handle_signals;       /* SIGINT/SIGTERM shut down, SIGHUP calls on_hup */
	core_task_fn on_hup;       /* run as a coroutine on reactor 0 at SIGHUP */
	void *on_hup_arg;
};

/* core_rt_new checks io_uring is usable and allocates a runtime (no thread is
 * started yet). Returns NULL and sets *err on failure; when io_uring itself is
 * unavailable, core_rt_explain(*err) gives the cause and the fix. */
struct core_rt *core_rt_new(const struct core_rt_opts *opts, int *err);

/* core_rt_explain returns a human message for an error from core_rt_new:
 * io_uring disabled by sysctl, blocked by seccomp, kernel too old. */
const char *core_rt_explain(int err);

/* core_rt_run starts the reactor threads (the calling thread becomes reactor
 * 0), spawns main_fn(arg) as the first coroutine on every reactor, and
 * returns when the runtime has shut down: 0, or -errno if a reactor could not
 * start. May be called once per runtime. */
int core_rt_run(struct core_rt *rt, core_task_fn main_fn, void *arg);

/* core_rt_shutdown begins the graceful shutdown. Any thread; idempotent. */
void core_rt_shutdown(struct core_rt *rt);

/* core_rt_free frees a runtime that is not running. NULL is a no-op. */
void core_rt_free(struct core_rt *rt);

/* core_rt_threads returns the number of reactors. */
unsigned core_rt_threads(const struct core_rt *rt);

/* core_rt_post runs fn(arg) as a new coroutine on reactor idx. Any thread.
 * Returns 0, -EINVAL for a bad index, -ENOMEM, or -ESHUTDOWN once that
 * reactor has stopped (fn is then not run: the caller keeps arg). */
int core_rt_post(struct core_rt *rt, unsigned idx, core_task_fn fn, void *arg);

/* core_rt_abandoned returns how many coroutines had to be abandoned at the
 * end of core_rt_run (0 after a clean shutdown). */
unsigned core_rt_abandoned(const struct core_rt *rt);

/* --- the current reactor (callable from its own thread only) --- */

/* core_self returns the calling thread's reactor, NULL on other threads. */
struct core_reactor *core_self(void);
unsigned core_reactor_index(const struct core_reactor *r);
struct core_rt *core_reactor_rt(const struct core_reactor *r);
bool core_reactor_stopping(const struct core_reactor *r);

/* core_spawn starts fn(arg) as a coroutine on the calling thread's reactor;
 * it first runs at the next loop iteration. Returns 0 or -ENOMEM. */
int core_spawn(core_task_fn fn, void *arg);

/* core_task_set_name names the calling coroutine (name: static storage, not
 * copied) for diagnostics: when the shutdown grace expires, the reactor logs
 * the name of every coroutine still running (unnamed ones by function
 * address: object file + offset, for addr2line). */
void core_task_set_name(const char *name);

/* core_task_interrupt makes co's current wait (an operation, core_park,
 * core_sleep, a stream or socket receive) return -ECANCELED at once, or, if
 * co is not waiting now, its next one. Only that one wait: later ones run
 * normally. co must be a live coroutine of this reactor. */
void core_task_interrupt(struct core_coro *co);

/* core_now_ns returns CLOCK_MONOTONIC ns, cached once per loop iteration on
 * reactor threads (exact elsewhere). */
uint64_t core_now_ns(void);

/* core_pass returns how many loop iterations this reactor has begun (0 off
 * a reactor thread). A coroutine that became ready in pass p has run by
 * the end of pass p + 1, and so has one whose operation, submitted in pass
 * p, completed at once (data already waiting on a socket). */
uint64_t core_pass(void);

/* core_clock_ns returns CLOCK_MONOTONIC ns read now (the same clock as
 * core_now_ns, never cached): for the end of an interval inside one loop
 * iteration. */
uint64_t core_clock_ns(void);

/* Deadlines: core_deadline_ns(timeout_ms) is the instant timeout_ms from now
 * (0 for timeout_ms < 0: none); core_deadline_left_ms(d) the milliseconds
 * left until d, rounded up, for a call's timeout_ms (-1 for d == 0; 0 once
 * it passed). One timeout over several suspending calls, instead of each
 * call starting the whole timeout again. */
static inline uint64_t core_deadline_ns(int timeout_ms)
{
	return timeout_ms < 0 ? 0 : core_now_ns() + (uint64_t)timeout_ms * 1000000u;
}
static inline int core_deadline_left_ms(uint64_t deadline_ns)
{
	if (!deadline_ns)
		return -1;
	uint64_t now = core_now_ns();
	if (now >= deadline_ns)
		return 0;
	uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* core_sleep suspends for ms milliseconds. Returns 0, or -ECANCELED when the
 * runtime is being torn down. Suspends. */
int core_sleep(unsigned ms);

/* core_yield lets every other ready coroutine run once. Suspends. */
void core_yield(void);

/* core_park suspends the calling coroutine until another coroutine of this
 * reactor calls core_unpark on it (returns the value given there), or
 * timeout_ms passes (returns -ETIMEDOUT; -1 means no timeout), or the runtime
 * is torn down (-ECANCELED). Suspends. */
int core_park(int timeout_ms);

/* core_task_hibernate_next_wait(on): while on, the running task's waits for
 * data on a multishot source — core_sock_recv and so net_stream_recv on a
 * plain stream, core_udp_recv, core_accept — give back its stack for as long
 * as they wait (core_coro_hibernate, core/coro.h): a connection idle for
 * minutes then costs a heap copy of its few hundred live stack bytes
 * instead of its stack pages. Those waits keep their state on the heap, so
 * they are safe; other waits (sends, connects, mutexes, core_park) ignore
 * the setting. The caller guarantees that nothing else refers to its stack
 * meanwhile (its own frames may hold anything). Turn it off after the wait:
 * it stays on until then. */
void core_task_hibernate_next_wait(bool on);

/* core_unpark wakes co if it is parked, handing it res; returns whether it
 * was. Does not switch: co runs at the next loop iteration. */
bool core_unpark(struct core_coro *co, int res);

/* Timer callbacks run on the reactor thread, outside any coroutine: they must
 * not suspend (they may spawn, unpark, or re-arm themselves). The struct is
 * caller storage and must stay valid while armed. */
struct core_timer;
typedef void (*core_timer_fn)(struct core_timer *t);
struct core_timer {
	uint64_t deadline_ns;
	core_timer_fn fn;
	void *arg;
	unsigned heap_idx;        /* 0: not armed */
};

/* core_timer_arm (re)arms t to fire after ms milliseconds. Returns 0 or
 * -ENOMEM. */
int core_timer_arm(struct core_timer *t, unsigned ms, core_timer_fn fn, void *arg);
/* core_timer_cancel disarms t if armed. */
void core_timer_cancel(struct core_timer *t);
static inline bool core_timer_armed(const struct core_timer *t) { return t->heap_idx != 0; }

/* Shutdown hooks: fn(arg) runs on this reactor when shutdown begins (outside
 * a coroutine; must not suspend). The struct is caller storage; unregister
 * it before freeing it. */
struct core_shutdown_hook {
	struct core_shutdown_hook *next, *prev;
	core_task_fn fn;
	void *arg;
};
void core_on_shutdown(struct core_shutdown_hook *h, core_task_fn fn, void *arg);
void core_shutdown_hook_remove(struct core_shutdown_hook *h);

#endif
