/* net/stream over TLS 1.3: a stream trimmed while idle (net_stream_trim)
 * holds none of its buffers, waits without taking them back, and still
 * moves bytes both ways afterwards, spell after spell. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/reactor.h"
#include "core/sock.h"
#include "helpers.h"
#include "net/stream.h"

enum {
	SPELLS = 60,        /* idle spells, each followed by traffic both ways */
	IDLE_MS = 3,        /* one spell */
	IO_MS = 5000,
};

/* Message sizes around the TLS record size, cycled over the spells. */
static const size_t sizes[] = {1, 100, 1400, 16383, 16384, 16385, 40000};

struct trim_test {
	int fds[2];                  /* [0] server end, [1] client end */
	struct net_tls_ctx *sctx, *cctx;
	struct net_stream *srv;
	atomic_int srv_up, done;
	int err;                     /* first failure, -errno */
	char what[200];
	size_t held_busy;            /* client, after traffic, before a trim */
	size_t held_trimmed_max;     /* both ends, after each trim */
	size_t held_after_wait;      /* server, after a receive timed out trimmed */
	int spells_ok;
};

static void fail(struct trim_test *t, int err, const char *what)
{
	if (!t->err) {
		t->err = err ? err : -EIO;
		snprintf(t->what, sizeof t->what, "%s (%d)", what, err);
	}
}

static void note_trimmed(struct trim_test *t, const struct net_stream *st)
{
	size_t h = net_stream_tls_held_bytes(st);
	if (h > t->held_trimmed_max)
		t->held_trimmed_max = h;
}

/* The server end: handshake, then echo every chunk back, trimming before
 * each wait as the relay does when a connection turns quiet. */
static void server_main(void *arg)
{
	struct trim_test *t = arg;
	int err = 0;
	struct core_sock *s = core_sock_new(t->fds[0], &err);
	if (!s) {
		fail(t, err, "server core_sock_new");
		goto out;
	}
	t->fds[0] = -1;
	t->srv = net_stream_new(s, t->sctx, true, NULL, &err);
	if (!t->srv) {
		fail(t, err, "server net_stream_new");
		goto out;
	}
	int r = net_stream_handshake(t->srv, IO_MS);
	if (r) {
		fail(t, r, net_stream_tls_error(t->srv));
		goto out;
	}
	/* Trimmed and idle: a receive that times out takes nothing back. */
	net_stream_trim(t->srv);
	struct net_chunk c;
	r = net_stream_recv(t->srv, &c, 20);
	if (r != -ETIMEDOUT) {
		fail(t, r, "server: idle receive did not time out");
		goto out;
	}
	t->held_after_wait = net_stream_tls_held_bytes(t->srv);
	atomic_store(&t->srv_up, 1);
	for (;;) {
		net_stream_trim(t->srv);
		/* Ciphertext of a message not read yet stays (and its BIO). */
		if (!net_stream_kept_bytes(t->srv))
			note_trimmed(t, t->srv);
		int n = net_stream_recv(t->srv, &c, IO_MS);
		if (n == 0)
			break; /* the client closed */
		if (n < 0) {
			fail(t, n, "server recv");
			break;
		}
		r = net_stream_send(t->srv, c.data, c.len, IO_MS);
		net_stream_release(t->srv, &c);
		if (r) {
			fail(t, r, "server send");
			break;
		}
	}
out:
	net_stream_close(t->srv);
	t->srv = NULL;
}

static void client_main(void *arg)
{
	struct trim_test *t = arg;
	int err = 0;
	uint8_t *msg = NULL, *got = NULL;
	struct net_stream *st = NULL;
	if (core_reactor_index(core_self()) != 0)
		return;
	if (core_spawn(server_main, t) != 0) {
		fail(t, -ENOMEM, "spawn server");
		goto out;
	}
	struct core_sock *s = core_sock_new(t->fds[1], &err);
	if (!s) {
		fail(t, err, "client core_sock_new");
		goto out;
	}
	t->fds[1] = -1;
	st = net_stream_new(s, t->cctx, false, "localhost", &err);
	if (!st) {
		fail(t, err, "client net_stream_new");
		goto out;
	}
	int r = net_stream_handshake(st, IO_MS);
	if (r) {
		fail(t, r, net_stream_tls_error(st));
		goto out;
	}
	/* The server's idle receive first, with nothing on the way. */
	for (int i = 0; i < 5000 && !atomic_load(&t->srv_up) && !t->err; i++)
		core_sleep(1);
	msg = malloc(40000);
	got = malloc(40000);
	if (!msg || !got) {
		fail(t, -ENOMEM, "malloc");
		goto out;
	}
	for (int spell = 0; spell < SPELLS && !t->err; spell++) {
		if (spell == 1)
			t->held_busy = net_stream_tls_held_bytes(st);
		net_stream_trim(st);
		note_trimmed(t, st);
		core_sleep(IDLE_MS);
		size_t len = sizes[spell % (int)(sizeof sizes / sizeof sizes[0])];
		for (size_t i = 0; i < len; i++)
			msg[i] = (uint8_t)(i * 31 + (size_t)spell * 7 + (i >> 9));
		r = net_stream_send(st, msg, len, IO_MS);
		if (r) {
			fail(t, r, "client send");
			break;
		}
		size_t have = 0;
		while (have < len) {
			struct net_chunk c;
			int n = net_stream_recv(st, &c, IO_MS);
			if (n <= 0) {
				fail(t, n, "client recv");
				break;
			}
			if (have + c.len > len) {
				net_stream_release(st, &c);
				fail(t, -EPROTO, "client: echo longer than the message");
				break;
			}
			memcpy(got + have, c.data, c.len);
			have += c.len;
			net_stream_release(st, &c);
		}
		if (have == len && !memcmp(got, msg, len))
			t->spells_ok++;
		else
			fail(t, -EPROTO, "client: echo differs");
	}
out:
	if (st)
		net_stream_shutdown(st);
	net_stream_close(st);
	free(msg);
	free(got);
	/* The server sees the end and closes its end. */
	for (int i = 0; i < 500 && t->srv; i++)
		core_sleep(2);
	atomic_store(&t->done, 1);
}

static bool test_done(void *arg) { return atomic_load(&((struct trim_test *)arg)->done) != 0; }

static bool make_certs(const char *dir)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key "
		 "-out ca.pem -days 2 -subj /CN=atmos-test-ca >/dev/null 2>&1 && "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr "
		 "-subj /CN=localhost >/dev/null 2>&1 && printf 'subjectAltName=DNS:localhost\\n' > ext && "
		 "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 "
		 "-extfile ext >/dev/null 2>&1",
		 dir);
	return system(cmd) == 0;
}

Test(net_stream, tls_trimmed_while_idle_still_moves_bytes_both_ways, .timeout = 60)
{
	struct trim_test t;
	memset(&t, 0, sizeof t);
	char dir[64], cert[96], key[96], ca[96], err[256];
	snprintf(dir, sizeof dir, "/tmp/atmos-net-stream-%d", getpid());
	mkdir(dir, 0700);
	if (!make_certs(dir))
		cr_skip_test("openssl command not available to make a test CA");
	snprintf(cert, sizeof cert, "%s/srv.pem", dir);
	snprintf(key, sizeof key, "%s/srv.key", dir);
	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	t.sctx = net_tls_server_ctx_new(cert, key, err, sizeof err);
	cr_assert_not_null(t.sctx, "%s", err);
	t.cctx = net_tls_client_ctx_new(ca, err, sizeof err);
	cr_assert_not_null(t.cctx, "%s", err);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, t.fds), 0);

	struct core_rt_opts o = {.num_threads = 1};
	struct t_rt rt;
	t_rt_start(&rt, &o, client_main, &t);
	cr_assert(t_wait_until(test_done, &t, 50000), "the exchange did not finish");
	t_rt_stop(&rt);
	for (int i = 0; i < 2; i++)
		if (t.fds[i] >= 0)
			close(t.fds[i]);
	net_tls_ctx_free(t.sctx);
	net_tls_ctx_free(t.cctx);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);

	cr_assert_eq(t.err, 0, "%s", t.what);
	cr_assert_eq(t.spells_ok, SPELLS, "%d of %d idle spells were followed by an exact echo", t.spells_ok, SPELLS);
	cr_assert_eq(t.held_after_wait, 0, "an idle receive on a trimmed stream took back %zu B", t.held_after_wait);
	cr_assert_gt(t.held_busy, 16384, "traffic should have allocated the buffers (held %zu B)", t.held_busy);
	cr_assert_eq(t.held_trimmed_max, 0, "a trimmed stream still held %zu B", t.held_trimmed_max);
}
