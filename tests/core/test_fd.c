/* core/fd: a coroutine reads and writes a plain descriptor (a pipe here)
 * through io_uring: it waits for data without blocking the reactor, times
 * out when told to, and writes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "core/fd.h"
#include "core/reactor.h"
#include "helpers.h"

struct fd_case {
	int in[2], out[2];
	atomic_int ticks;        /* a second coroutine runs while the read waits */
	ssize_t got, timed, wrote;
	char buf[64];
	atomic_bool done;
};

static void ticker(void *arg)
{
	struct fd_case *c = arg;
	while (!atomic_load(&c->done)) {
		atomic_fetch_add(&c->ticks, 1);
		core_sleep(10);
	}
}

static void fd_main(void *arg)
{
	struct fd_case *c = arg;
	if (core_reactor_index(core_self()) != 0)
		return;
	core_spawn(ticker, c);
	c->timed = core_fd_read(c->in[0], c->buf, sizeof c->buf, 50);
	c->got = core_fd_read(c->in[0], c->buf, sizeof c->buf, 5000);
	c->wrote = core_fd_write(c->out[1], "pong", 4, 1000);
	atomic_store(&c->done, true);
}

Test(core_fd, read_waits_without_blocking_the_reactor_then_write)
{
	static struct fd_case c;
	cr_assert_eq(pipe(c.in), 0);
	cr_assert_eq(pipe(c.out), 0);
	struct core_rt_opts o = {.num_threads = 1};
	struct t_rt rt;
	t_rt_start(&rt, &o, fd_main, &c);
	usleep(300000);
	cr_assert_gt(atomic_load(&c.ticks), 1, "another coroutine woke again while the read waited");
	cr_assert_eq(write(c.in[1], "ping", 4), 4);
	char back[8] = {0};
	cr_assert_eq(read(c.out[0], back, sizeof back), 4, "the coroutine's write arrived");
	cr_assert_str_eq(back, "pong");
	t_rt_stop(&rt);
	cr_assert_eq(c.timed, -ETIMEDOUT);
	cr_assert_eq(c.got, 4);
	cr_assert_arr_eq(c.buf, "ping", 4);
	cr_assert_eq(c.wrote, 4);
}
