/* systemd's notification protocol: see net/notify.h. */
#include "net/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


int net_notify_parse_addr(const char *s, struct sockaddr_un *out, socklen_t *out_len)
{
	size_t len = s ? strlen(s) : 0;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (!len)
		return -EINVAL;
	if (s[0] != '/' && s[0] != '@')
		return strchr(s, ':') ? -EAFNOSUPPORT : -EINVAL;
	/* A path needs its NUL inside sun_path; an abstract name does not. */
	if (len > sizeof a.sun_path - (s[0] == '/'))
		return -EINVAL;
	memcpy(a.sun_path, s, len);
	if (s[0] == '@')
		a.sun_path[0] = 0;
	*out = a;
	*out_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (s[0] == '/'));
	return 0;
}

int net_notify_init(struct net_notify *n, const char *addr)
{
	n->fd = -1;
	if (!addr)
		addr = getenv("NOTIFY_SOCKET");
	if (!addr || !addr[0])
		return 0;
	int r = net_notify_parse_addr(addr, &n->addr, &n->addr_len);
	if (r)
		return r;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n->fd = fd;
	return 1;
}

int net_notify_send(const struct net_notify *n, const char *msg)
{
	if (n->fd < 0)
		return 0;
	ssize_t r = sendto(n->fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&n->addr,
			   n->addr_len);
	return r < 0 ? -errno : 0;
}

/* A decimal of digits only, 1 to UINT64_MAX; 0 when it is anything else. */
static uint64_t positive(const char *s)
{
	uint64_t v = 0;
	if (!s || !*s)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	return v;
}

uint64_t net_notify_parse_watchdog(const char *usec, const char *pid, pid_t self)
{
	uint64_t us = positive(usec);
	/* sd_watchdog_enabled(3): WATCHDOG_PID, when set, must be ours (a child
	 * that inherited the environment does not ping for its parent). */
	if (pid && positive(pid) != (uint64_t)self)
		return 0;
	return us;
}

uint64_t net_notify_watchdog_usec(void)
{
	return net_notify_parse_watchdog(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), getpid());
}

void net_notify_cleanup(struct net_notify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
