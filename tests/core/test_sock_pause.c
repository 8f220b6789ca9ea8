/* core/sock: a paused receive gives its ring buffers back and keeps every
 * byte in order; a hang-up is seen without receiving. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/reactor.h"
#include "core/sock.h"
#include "helpers.h"

enum { RING = 8, BUF = 4096, FIRST = 24 * 1024, SECOND = 40 * 1024 };

struct pause_case {
	int listen_fd;
	atomic_int phase;        /* 1: first bytes sent; 2: paused; 3: second bytes sent */
	int free_before, free_after_pause, free_while_paused;
	size_t copied;
	uint8_t *got;
	size_t got_len;
	int err;
	atomic_int done;
};

static uint8_t pat(size_t i) { return (uint8_t)(i * 31 + (i >> 9)); }

static void pause_main(void *arg)
{
	struct pause_case *c = arg;
	int err = 0;
	struct core_listener *l = core_listener_new(c->listen_fd, &err);
	struct core_sock *s = core_sock_new(core_listener_accept(l, 5000), &err);
	struct core_buf b;
	uint8_t *rest = NULL;
	size_t rest_len = 0;

	c->free_before = core_buf_free_count(0);
	/* The first read arms the receive; then the reader stops reading. */
	int n = core_sock_recv(s, &b, 5000);
	if (n <= 0)
		goto fail;
	memcpy(c->got, b.data, b.len);
	c->got_len = b.len;
	core_buf_release(&b);
	while (atomic_load(&c->phase) < 1)
		core_sleep(5);
	core_sleep(100); /* the queue fills: the ring runs dry */
	if ((err = core_sock_recv_pause(s, &rest, &rest_len)) != 0)
		goto fail;
	c->copied = rest_len;
	c->free_after_pause = core_buf_free_count(0);
	atomic_store(&c->phase, 2);
	while (atomic_load(&c->phase) < 3)
		core_sleep(5);
	core_sleep(100); /* nothing may be received meanwhile */
	c->free_while_paused = core_buf_free_count(0);
	memcpy(c->got + c->got_len, rest, rest_len);
	c->got_len += rest_len;
	free(rest);
	while (c->got_len < FIRST + SECOND) {
		n = core_sock_recv(s, &b, 5000);
		if (n <= 0)
			goto fail;
		memcpy(c->got + c->got_len, b.data, b.len);
		c->got_len += b.len;
		core_buf_release(&b);
	}
	goto out;
fail:
	c->err = err ? err : n ? n : -EPIPE;
out:
	core_sock_close(s);
	core_listener_close(l);
	atomic_store(&c->done, 1);
}

static bool phase_is_2(void *arg) { return atomic_load(&((struct pause_case *)arg)->phase) == 2; }
static bool is_done(void *arg) { return atomic_load((atomic_int *)arg) != 0; }

Test(core_sock_pause, paused_receive_returns_ring_buffers_and_keeps_byte_order, .timeout = 20)
{
	struct pause_case c = {0};
	struct core_rt_opts o = {.num_threads = 1, .stream_bufs = RING, .stream_buf_size = BUF};
	struct t_rt t;
	uint16_t port;
	uint8_t *want = malloc(FIRST + SECOND);
	c.got = malloc(FIRST + SECOND);
	for (size_t i = 0; i < FIRST + SECOND; i++)
		want[i] = pat(i);
	c.listen_fd = t_listen_tcp(&port);
	t_rt_start(&t, &o, pause_main, &c);
	int fd = t_connect_tcp(port);
	cr_assert_eq(send(fd, want, FIRST, 0), FIRST);
	atomic_store(&c.phase, 1);
	cr_assert(t_wait_until(phase_is_2, &c, 5000));
	cr_assert_eq(send(fd, want + FIRST, SECOND, 0), SECOND);
	atomic_store(&c.phase, 3);
	cr_assert(t_wait_until(is_done, &c.done, 10000));
	close(fd);
	t_rt_stop(&t);

	cr_assert_eq(c.err, 0, "reader failed: %d", c.err);
	cr_assert_eq(c.free_before, RING);
	/* The ring ran dry before the pause (the queue held it all) ... */
	cr_assert_gt(c.copied, 0, "nothing was queued to copy out");
	/* ... and every buffer is back after it, and stays back while the
	 * sender goes on: the paused socket receives nothing. */
	cr_assert_eq(c.free_after_pause, RING, "%d of %d buffers free after the pause", c.free_after_pause, RING);
	cr_assert_eq(c.free_while_paused, RING, "%d of %d free while paused", c.free_while_paused, RING);
	cr_assert_eq(c.got_len, FIRST + SECOND);
	cr_assert(memcmp(c.got, want, FIRST + SECOND) == 0, "bytes lost or reordered across the pause");
	free(want);
	free(c.got);
}

struct hup_case {
	int listen_fd;
	atomic_int step;         /* set by the test thread */
	int res_timeout, res_interrupt, res_hangup;
	struct core_sock *s;
	atomic_int done;
};

static void interrupter(void *arg)
{
	struct hup_case *c = arg;
	core_sleep(50);
	core_sock_interrupt(c->s);
}

static void hup_main(void *arg)
{
	struct hup_case *c = arg;
	int err = 0;
	struct core_listener *l = core_listener_new(c->listen_fd, &err);
	c->s = core_sock_new(core_listener_accept(l, 5000), &err);
	/* Data alone does not end the wait (the client sent some first). */
	c->res_timeout = core_sock_wait_hangup(c->s, 100);
	core_spawn(interrupter, c);
	c->res_interrupt = core_sock_wait_hangup(c->s, 5000);
	atomic_store(&c->step, 1);
	c->res_hangup = core_sock_wait_hangup(c->s, 5000);
	core_sock_close(c->s);
	core_listener_close(l);
	atomic_store(&c->done, 1);
}

static bool step_1(void *arg) { return atomic_load(&((struct hup_case *)arg)->step) == 1; }

Test(core_sock_pause, wait_hangup_ends_on_close_not_on_data, .timeout = 20)
{
	struct hup_case c = {0};
	struct core_rt_opts o = {.num_threads = 1};
	struct t_rt t;
	uint16_t port;
	c.listen_fd = t_listen_tcp(&port);
	t_rt_start(&t, &o, hup_main, &c);
	int fd = t_connect_tcp(port);
	cr_assert_eq(send(fd, "data", 4, 0), 4);
	cr_assert(t_wait_until(step_1, &c, 5000));
	uint64_t t0 = t_now_ns();
	close(fd);
	cr_assert(t_wait_until(is_done, &c.done, 5000));
	uint64_t took_ms = (t_now_ns() - t0) / 1000000u;
	t_rt_stop(&t);
	cr_assert_eq(c.res_timeout, -ETIMEDOUT, "with data waiting: %d", c.res_timeout);
	cr_assert_eq(c.res_interrupt, -ECANCELED, "interrupted: %d", c.res_interrupt);
	cr_assert_eq(c.res_hangup, -EPIPE, "after close: %d", c.res_hangup);
	cr_log_info("hang-up seen %llu ms after close", (unsigned long long)took_ms);
}
