#ifndef NET_NOTIFY_H
#define NET_NOTIFY_H
/* net/notify.h: systemd's service notification protocol, for services
 * started with Type=notify and a watchdog (sd_notify(3)), without libsystemd.
 *
 * The protocol: the service manager puts a unix datagram socket's address in
 * $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace) and the
 * service sends it datagrams of newline-separated assignments: READY=1 once it
 * serves, RELOADING=1 then READY=1 around a reload, STOPPING=1 when it starts
 * to stop, STATUS=text for `systemctl status`, and WATCHDOG=1 at least every
 * $WATCHDOG_USEC / 2 while it is healthy (when $WATCHDOG_PID, if set, names
 * this process) or the manager kills it. systemd documents this as a stable
 * interface meant to be reimplemented (sd_notify(3), NOTES; its
 * "Interface Portability and Stability" page): the few lines here cost less
 * than a link dependency every build and package would carry for them, and
 * they never block a reactor thread, which libsystemd's sd_notify may.
 *
 * Without $NOTIFY_SOCKET every call does nothing, so a service runs the same
 * outside systemd. Sends use MSG_DONTWAIT: a full socket loses one message
 * (a watchdog ping is made up by the next) rather than stalling the caller.
 * Any thread may send. */
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

struct net_notify {
	int fd;                     /* -1: not notifying */
	struct sockaddr_un addr;
	socklen_t addr_len;
};

/* net_notify_parse_addr turns a $NOTIFY_SOCKET value into an address: an
 * absolute path, or "@name" for the abstract namespace (the '@' becomes a
 * NUL byte). Returns 0, -EINVAL (empty, relative, too long for sun_path)
 * or -EAFNOSUPPORT (another kind, e.g. systemd 254's "vsock:"). */
int net_notify_parse_addr(const char *s, struct sockaddr_un *out, socklen_t *out_len);

/* net_notify_init opens the socket $NOTIFY_SOCKET names (or addr, when not
 * NULL: for tests). Returns 1 when notifying, 0 when there is nothing to
 * notify ($NOTIFY_SOCKET unset or empty; n is then inert), or -errno (a bad
 * address, see net_notify_parse_addr; socket failed), n inert too. */
int net_notify_init(struct net_notify *n, const char *addr);

/* net_notify_send sends msg, one datagram of "NAME=value" lines. Returns 0
 * (also when n is inert) or -errno (-EAGAIN when the receiver is full). */
int net_notify_send(const struct net_notify *n, const char *msg);

/* net_notify_parse_watchdog reads $WATCHDOG_USEC and $WATCHDOG_PID as given
 * (NULL when unset): the watchdog interval in microseconds when it applies
 * to process self, 0 when there is none (unset, malformed, zero, or another
 * process's). */
uint64_t net_notify_parse_watchdog(const char *usec, const char *pid, pid_t self);

/* net_notify_watchdog_usec is net_notify_parse_watchdog of this process's
 * environment. */
uint64_t net_notify_watchdog_usec(void);

/* net_notify_cleanup closes the socket; n becomes inert. */
void net_notify_cleanup(struct net_notify *n);

#endif
