/* bench/sockmem: /proc/net/sockstat's TCP memory field, parsed from known
 * texts, and one process's sockets found and summed on this machine. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/sockmem.h"

Test(bench_sockmem, parses_the_tcp_mem_field)
{
	const char *text = "sockets: used 11\n"
			   "TCP: inuse 1 orphan 0 tw 11 alloc 24 mem 397024\n"
			   "UDP: inuse 0 mem 7\n"
			   "UDPLITE: inuse 0\n";
	uint64_t pages = 0;
	cr_assert_eq(bench_sockstat_parse(text, &pages), 0);
	cr_expect_eq(pages, 397024, "the TCP line's mem, not UDP's");
}

Test(bench_sockmem, rejects_texts_without_it)
{
	uint64_t pages = 42;
	cr_expect_eq(bench_sockstat_parse("", &pages), -EINVAL);
	cr_expect_eq(bench_sockstat_parse("sockets: used 1\nUDP: inuse 0 mem 7\n", &pages), -EINVAL);
	cr_expect_eq(bench_sockstat_parse("TCP: inuse 1 orphan 0\nUDP: inuse 0 mem 7\n", &pages), -EINVAL,
		     "a mem on another line is not TCP's");
	cr_expect_eq(bench_sockstat_parse("TCP: inuse 1 mem x\n", &pages), -EINVAL);
	cr_expect_eq(bench_sockstat_parse("XTCP: inuse 1 mem 3\n", &pages), -EINVAL);
	cr_expect_eq(pages, 42, "untouched on failure");
}

Test(bench_sockmem, reads_this_machine)
{
	uint64_t bytes = 0, pressure = 0;
	cr_expect_eq(bench_sockstat_tcp_bytes(&bytes), 0);
	cr_expect_eq(bench_tcp_mem_pressure_bytes(&pressure), 0);
	cr_expect_gt(pressure, 0);
}

/* Our own connected pair, with data queued unread: found among our
 * descriptors, and its receive queue counted. */
Test(bench_sockmem, sums_our_own_sockets, .timeout = 10)
{
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	cr_assert_geq(lfd, 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(listen(lfd, 1), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
	int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(cfd, (struct sockaddr *)&a, sizeof a), 0);
	int sfd = accept(lfd, NULL, NULL);
	cr_assert_geq(sfd, 0);
	static char data[64 * 1024];
	memset(data, 'x', sizeof data);
	cr_assert_eq(send(cfd, data, sizeof data, 0), (ssize_t)sizeof data);

	struct bench_sockset set;
	int n = bench_sockset_load(&set, (int)getpid());
	if (n == -EACCES || n == -ENOENT)
		cr_skip_test("/proc/self/fd: %s", strerror(-n));
	cr_assert_geq(n, 3, "the listener and both ends");
	uint64_t bytes = 0;
	int found = bench_sockset_tcp_bytes(&set, &bytes);
	if (found == -EPROTONOSUPPORT || found == -ENOENT)
		cr_skip_test("no inet_diag for TCP here: %s", strerror(-found));
	cr_expect_geq(found, 3);
	/* 64 KiB sits in sfd's receive queue (truesize is larger). */
	cr_expect_geq(bytes, sizeof data, "%llu bytes", (unsigned long long)bytes);
	bench_sockset_cleanup(&set);
	close(sfd);
	close(cfd);
	close(lfd);
}
