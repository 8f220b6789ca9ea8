/* core/sock: core_tcp_connect_from — the connection leaves from the source
 * address asked for (the server sees it as the peer), NULL behaves as
 * core_tcp_connect, and a source that cannot be used is a clear -errno. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/reactor.h"
#include "core/sock.h"
#include "helpers.h"

/* Inline storage only: Criterion runs each parameterized case in a fresh
 * process. */
struct from_case {
	char src[48];         /* "": NULL source */
	int family;           /* of src */
	int want;             /* 0: connects; else the -errno expected */
	char peer[16];        /* connects: the address the server must see */
};

static const struct from_case cases[] = {
	{"127.0.0.2", AF_INET, 0, "127.0.0.2"},
	{"127.1.2.3", AF_INET, 0, "127.1.2.3"},
	{"", AF_INET, 0, "127.0.0.1"},                    /* NULL: core_tcp_connect */
	{"192.0.2.1", AF_INET, -EADDRNOTAVAIL, ""},       /* TEST-NET-1: not ours */
	{"::1", AF_INET6, -EAFNOSUPPORT, ""},             /* IPv6 source, IPv4 destination */
};

struct from_run {
	struct from_case c;
	uint16_t port;
	int res;              /* the fd's outcome: 0 connected, or -errno */
	atomic_int done;
};

static bool done(void *arg) { return atomic_load((atomic_int *)arg) != 0; }

static void connect_main(void *arg)
{
	struct from_run *run = arg;
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(run->port)};
	struct sockaddr_storage src = {0};
	socklen_t src_len = 0;
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	if (run->c.family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&src;
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, run->c.src, &s6->sin6_addr);
		src_len = sizeof *s6;
	} else if (run->c.src[0]) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&src;
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, run->c.src, &s4->sin_addr);
		src_len = sizeof *s4;
	}
	int fd = core_tcp_connect_from((const struct sockaddr *)&dst, sizeof dst,
				       src_len ? (const struct sockaddr *)&src : NULL, src_len, 5000);
	run->res = fd < 0 ? fd : 0;
	if (fd >= 0)
		close(fd);
	atomic_store(&run->done, 1);
}

ParameterizedTestParameters(core_sock_from, sources)
{
	return cr_make_param_array(struct from_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(const struct from_case *c, core_sock_from, sources, .timeout = 20)
{
	struct core_rt_opts opts = {.num_threads = 1};
	struct from_run run = {.c = *c};
	struct t_rt t;
	int lfd = t_listen_tcp(&run.port);
	t_rt_start(&t, &opts, connect_main, &run);
	cr_assert(t_wait_until(done, &run.done, 10000), "source '%s': connect did not finish", c->src);
	t_rt_stop(&t);
	cr_assert_eq(run.res, c->want, "source '%s': got %d (%s), want %d", c->src, run.res, strerror(-run.res),
		     c->want);
	if (c->want == 0) {
		/* The connection sits in the backlog: the server sees its peer. */
		struct sockaddr_in peer;
		socklen_t len = sizeof peer;
		int afd = accept(lfd, (struct sockaddr *)&peer, &len);
		cr_assert_geq(afd, 0, "accept: %s", strerror(errno));
		char got[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &peer.sin_addr, got, sizeof got);
		cr_assert_str_eq(got, c->peer, "source '%s': the server saw %s", c->src, got);
		close(afd);
	}
	close(lfd);
}

/* Many connections from one source address each get their own port. */
struct many_run {
	uint16_t port;
	int ok, failed;
	atomic_int done;
};

enum { MANY = 200 };

static void many_main(void *arg)
{
	struct many_run *run = arg;
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(run->port)};
	struct sockaddr_in src = {.sin_family = AF_INET};
	int fds[MANY];
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	inet_pton(AF_INET, "127.0.0.3", &src.sin_addr);
	for (int i = 0; i < MANY; i++) {
		fds[i] = core_tcp_connect_from((const struct sockaddr *)&dst, sizeof dst, (const struct sockaddr *)&src,
					       sizeof src, 5000);
		if (fds[i] >= 0)
			run->ok++;
		else
			run->failed++;
	}
	for (int i = 0; i < MANY; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	atomic_store(&run->done, 1);
}

Test(core_sock_from, many_connections_from_one_source, .timeout = 30)
{
	struct core_rt_opts opts = {.num_threads = 1};
	struct many_run run = {0};
	struct t_rt t;
	int lfd = t_listen_tcp(&run.port); /* backlog holds them: nobody accepts */
	t_rt_start(&t, &opts, many_main, &run);
	cr_assert(t_wait_until(done, &run.done, 20000));
	t_rt_stop(&t);
	cr_assert_eq(run.ok, MANY, "%d of %d connected (%d failed)", run.ok, MANY, run.failed);
	close(lfd);
}
