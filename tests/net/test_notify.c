/* net/notify: systemd's notification protocol against a socket of our own. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/notify.h"

Test(net_notify, parses_paths_and_abstract_names)
{
	struct sockaddr_un a;
	socklen_t len;
	cr_assert_eq(net_notify_parse_addr("/run/systemd/notify", &a, &len), 0);
	cr_assert_str_eq(a.sun_path, "/run/systemd/notify");
	cr_assert_eq(len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/systemd/notify") + 1);
	/* "@name": the abstract namespace, a leading NUL and no trailing one. */
	cr_assert_eq(net_notify_parse_addr("@atmos/n", &a, &len), 0);
	cr_assert_eq(a.sun_path[0], 0);
	cr_assert_eq(memcmp(a.sun_path + 1, "atmos/n", 7), 0);
	cr_assert_eq(len, offsetof(struct sockaddr_un, sun_path) + 8);
}

Test(net_notify, refuses_what_it_cannot_reach)
{
	struct sockaddr_un a;
	socklen_t len;
	char longest[sizeof a.sun_path + 2];
	cr_assert_eq(net_notify_parse_addr("", &a, &len), -EINVAL);
	cr_assert_eq(net_notify_parse_addr(NULL, &a, &len), -EINVAL);
	cr_assert_eq(net_notify_parse_addr("run/notify", &a, &len), -EINVAL);
	cr_assert_eq(net_notify_parse_addr("vsock:2:1234", &a, &len), -EAFNOSUPPORT);
	/* A path fills sun_path with its NUL; an abstract name without one. */
	memset(longest, 'x', sizeof longest);
	longest[0] = '/';
	longest[sizeof a.sun_path - 1] = 0;
	cr_assert_eq(net_notify_parse_addr(longest, &a, &len), 0);
	longest[sizeof a.sun_path - 1] = 'x';
	longest[sizeof a.sun_path] = 0;
	cr_assert_eq(net_notify_parse_addr(longest, &a, &len), -EINVAL);
	longest[0] = '@';
	cr_assert_eq(net_notify_parse_addr(longest, &a, &len), 0);
	longest[sizeof a.sun_path] = 'x';
	longest[sizeof a.sun_path + 1] = 0;
	cr_assert_eq(net_notify_parse_addr(longest, &a, &len), -EINVAL);
}

Test(net_notify, reads_the_watchdog_for_this_process_only)
{
	cr_assert_eq(net_notify_parse_watchdog("30000000", NULL, 42), 30000000);
	cr_assert_eq(net_notify_parse_watchdog("30000000", "42", 42), 30000000);
	cr_assert_eq(net_notify_parse_watchdog("30000000", "43", 42), 0);
	cr_assert_eq(net_notify_parse_watchdog("30000000", "", 42), 0);
	cr_assert_eq(net_notify_parse_watchdog(NULL, "42", 42), 0);
	cr_assert_eq(net_notify_parse_watchdog("0", NULL, 42), 0);
	cr_assert_eq(net_notify_parse_watchdog("30s", NULL, 42), 0);
	cr_assert_eq(net_notify_parse_watchdog("-1", NULL, 42), 0);
	cr_assert_eq(net_notify_parse_watchdog("18446744073709551616", NULL, 42), 0);
}

Test(net_notify, without_a_socket_does_nothing)
{
	struct net_notify n;
	unsetenv("NOTIFY_SOCKET");
	cr_assert_eq(net_notify_init(&n, NULL), 0);
	cr_assert_eq(net_notify_send(&n, "READY=1"), 0);
	net_notify_cleanup(&n);
	cr_assert_eq(net_notify_init(&n, "relative"), -EINVAL);
	cr_assert_eq(n.fd, -1);
}

/* One datagram per message, to a path and to an abstract name, the way the
 * service manager's socket receives them. */
Test(net_notify, delivers_each_message_as_one_datagram, .timeout = 10)
{
	char path[64], abstract[64], buf[256];
	snprintf(path, sizeof path, "/tmp/atmos-notify-%d", (int)getpid());
	snprintf(abstract, sizeof abstract, "@atmos-notify-%d", (int)getpid());
	const char *addrs[] = {path, abstract};
	for (size_t i = 0; i < 2; i++) {
		struct sockaddr_un a;
		socklen_t len;
		struct net_notify n;
		cr_assert_eq(net_notify_parse_addr(addrs[i], &a, &len), 0);
		int srv = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		unlink(path);
		cr_assert_eq(bind(srv, (struct sockaddr *)&a, len), 0, "%s: %s", addrs[i], strerror(errno));
		setenv("NOTIFY_SOCKET", addrs[i], 1);
		cr_assert_eq(net_notify_init(&n, NULL), 1);
		cr_assert_eq(net_notify_send(&n, "READY=1\nSTATUS=listening"), 0);
		cr_assert_eq(net_notify_send(&n, "WATCHDOG=1"), 0);
		ssize_t got = recv(srv, buf, sizeof buf, 0);
		cr_assert_eq(got, 24);
		cr_assert_eq(memcmp(buf, "READY=1\nSTATUS=listening", 24), 0);
		got = recv(srv, buf, sizeof buf, 0);
		cr_assert_eq(got, 10);
		cr_assert_eq(memcmp(buf, "WATCHDOG=1", 10), 0);
		net_notify_cleanup(&n);
		cr_assert_eq(n.fd, -1);
		close(srv);
		unlink(path);
	}
	unsetenv("NOTIFY_SOCKET");
}
