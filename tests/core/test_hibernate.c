/* core/coro hibernation: a suspended coroutine gives back its stack pages
 * and gets its frames back intact; core_task_hibernate_next_wait makes a
 * receive wait on a multishot source do it, and every way out of that wait
 * (data, timeout, close) restores the stack. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/coro.h"
#include "core/reactor.h"
#include "core/sock.h"
#include "helpers.h"

/* Whether the page holding p is resident (mincore). */
static bool resident(const void *p)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char v = 0;
	void *base = (void *)((uintptr_t)p & ~(uintptr_t)(page - 1));
	cr_assert_eq(mincore(base, (size_t)page, &v), 0, "mincore: %s", strerror(errno));
	return v & 1;
}

struct frames {
	volatile uint8_t *local;   /* a local array of the coroutine, for mincore */
	int depth_reached;
	long sum_after;            /* the coroutine's own check after resuming */
	bool intact;
};

/* Fills one frame per level with a pattern, hibernates at the bottom, and
 * checks every level's pattern on the way back up. */
static __attribute__((noinline)) bool nest(struct frames *f, int level)
{
	volatile uint8_t buf[512];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(level * 31 + i);
	bool ok;
	if (level == 0) {
		f->local = buf;
		core_coro_hibernate();
		core_coro_yield();
		ok = true;
	} else {
		ok = nest(f, level - 1);
	}
	f->depth_reached++;
	for (size_t i = 0; i < sizeof buf; i++)
		if (buf[i] != (uint8_t)(level * 31 + i))
			return false;
	return ok;
}

static void deep(void *arg)
{
	struct frames *f = arg;
	f->intact = nest(f, 8);
}

Test(core_hibernate, frames_survive_and_pages_are_given_back)
{
	struct frames f = {0};
	int err = 0;
	struct core_coro *co = core_coro_new(deep, &f, 0, &err);
	cr_assert_not_null(co);
	cr_assert(core_coro_resume(co));
	cr_assert_not_null(f.local);
	cr_assert(core_coro_hibernating(co), "the coroutine asked to hibernate at its yield");
	cr_assert_not(resident((const void *)f.local), "a hibernating stack holds no resident pages");
	cr_assert_not(core_coro_resume(co), "the coroutine runs to its end");
	cr_assert_not(core_coro_hibernating(co));
	cr_assert_eq(f.depth_reached, 9);
	cr_assert(f.intact, "every frame's 512 bytes came back unchanged");
	core_coro_free(co);
}

static void yield_twice(void *arg)
{
	volatile int *n = arg;
	volatile int local = 41;
	core_coro_yield();
	local++;
	*n = local;
	core_coro_yield();
}

Test(core_hibernate, only_when_asked)
{
	int n = 0, err = 0;
	struct core_coro *co = core_coro_new(yield_twice, &n, 0, &err);
	cr_assert_not_null(co);
	cr_assert(core_coro_resume(co));
	cr_assert_not(core_coro_hibernating(co), "no hibernation without core_coro_hibernate");
	cr_assert(core_coro_resume(co));
	cr_assert_eq(n, 42);
	cr_assert_not(core_coro_resume(co));
	core_coro_free(co);
}

static void ask_then_withdraw(void *arg)
{
	(void)arg;
	core_coro_hibernate();
	core_coro_hibernate_cancel(); /* as after a wait that did not suspend */
	core_coro_yield();
}

Test(core_hibernate, a_withdrawn_request_does_not_apply_to_the_next_yield)
{
	int err = 0;
	struct core_coro *co = core_coro_new(ask_then_withdraw, NULL, 0, &err);
	cr_assert_not_null(co);
	cr_assert(core_coro_resume(co));
	cr_assert_not(core_coro_hibernating(co), "core_coro_hibernate_cancel withdrew the request");
	cr_assert_not(core_coro_resume(co));
	core_coro_free(co);
}

static void hibernate_forever(void *arg)
{
	(void)arg;
	volatile char pad[256];
	memset((char *)pad, 7, sizeof pad);
	core_coro_hibernate();
	core_coro_yield();
	cr_assert_fail("never resumed");
}

Test(core_hibernate, freeing_a_hibernating_coroutine_frees_its_copy)
{
	/* LSan (the sanitizer build) fails the test if the heap copy leaks. */
	for (int i = 0; i < 100; i++) {
		int err = 0;
		struct core_coro *co = core_coro_new(hibernate_forever, NULL, 0, &err);
		cr_assert_not_null(co);
		cr_assert(core_coro_resume(co));
		cr_assert(core_coro_hibernating(co));
		core_coro_free(co);
	}
}

/* ---- through the reactor: a receive wait on a multishot source ---- */

struct pair_test {
	int fds[2];                     /* [0] the reactor's side, [1] the writer's */
	struct core_coro *reader;
	atomic_int step;
	atomic_bool was_hibernating;
	atomic_bool timed_out_intact;
	atomic_bool data_intact;
	atomic_bool eof_seen;
	atomic_int errors;
	char got[64];
};

static void reader(void *arg)
{
	struct pair_test *p = arg;
	volatile uint64_t canary[64];
	for (int i = 0; i < 64; i++)
		canary[i] = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
	int err = 0;
	struct core_sock *s = core_sock_new(p->fds[0], &err);
	if (!s) {
		atomic_fetch_add(&p->errors, 1);
		return;
	}
	p->reader = core_coro_current();
	struct core_buf b;

	/* 1: a wait that ends by its timeout. */
	core_task_hibernate_next_wait(true);
	int n = core_sock_recv(s, &b, 50);
	bool ok = n == -ETIMEDOUT;
	for (int i = 0; i < 64; i++)
		ok = ok && canary[i] == 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
	atomic_store(&p->timed_out_intact, ok);

	/* 2: a wait that ends with data, written while it hibernates. */
	atomic_store(&p->step, 1);
	n = core_sock_recv(s, &b, 10000);
	ok = n > 0 && (size_t)n < sizeof p->got;
	if (n > 0) {
		memcpy(p->got, b.data, (size_t)n < sizeof p->got - 1 ? (size_t)n : sizeof p->got - 1);
		core_buf_release(&b);
	}
	for (int i = 0; i < 64; i++)
		ok = ok && canary[i] == 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
	atomic_store(&p->data_intact, ok);

	/* 3: a wait that ends with the peer's close. */
	atomic_store(&p->step, 2);
	n = core_sock_recv(s, &b, 10000);
	atomic_store(&p->eof_seen, n == 0);
	core_task_hibernate_next_wait(false);
	core_sock_close(s);
	atomic_store(&p->step, 3);
}

static void writer(void *arg)
{
	struct pair_test *p = arg;
	while (atomic_load(&p->step) < 1)
		core_sleep(5);
	core_sleep(30); /* the reader is parked by now */
	atomic_store(&p->was_hibernating, p->reader && core_coro_hibernating(p->reader));
	if (write(p->fds[1], "hello through a frozen stack", 28) != 28)
		atomic_fetch_add(&p->errors, 1);
	while (atomic_load(&p->step) < 2)
		core_sleep(5);
	core_sleep(30);
	close(p->fds[1]);
	while (atomic_load(&p->step) < 3)
		core_sleep(5);
}

static void start(void *arg)
{
	core_spawn(reader, arg);
	core_spawn(writer, arg);
}

Test(core_hibernate, receive_waits_hibernate_and_wake_by_timeout_data_and_close, .timeout = 30)
{
	struct pair_test p = {0};
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p.fds), 0);
	struct core_rt_opts o = {0};
	o.num_threads = 1;
	struct t_rt rt;
	t_rt_start(&rt, &o, start, &p);
	for (int i = 0; i < 2000 && atomic_load(&p.step) < 3; i++)
		usleep(5000);
	cr_assert_eq(t_rt_stop(&rt), 0);
	cr_assert_eq(atomic_load(&p.step), 3, "the reader finished");
	cr_assert_eq(atomic_load(&p.errors), 0);
	cr_assert(atomic_load(&p.timed_out_intact), "a timed-out hibernating wait keeps its frame");
	cr_assert(atomic_load(&p.was_hibernating), "a waiting reader hibernates");
	cr_assert(atomic_load(&p.data_intact), "the data and the frame arrive intact");
	cr_assert_str_eq(p.got, "hello through a frozen stack");
	cr_assert(atomic_load(&p.eof_seen), "the close wakes it with EOF");
}
