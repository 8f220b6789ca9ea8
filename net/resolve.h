#ifndef NET_RESOLVE_H
#define NET_RESOLVE_H
/* net/resolve.h: name resolution that does not block the reactor.
 *
 * Design: getaddrinfo blocks for as long as DNS takes, so each name is
 * resolved on a short-lived detached helper thread; the answer comes back
 * to the waiting coroutine's reactor with core_rt_post, which runs a tiny
 * coroutine there to copy it and core_unpark the waiter. Several names are
 * looked up at once under one deadline. A caller that gives up (timeout,
 * shutdown) detaches: each lookup is reference-counted and freed by
 * whichever side finishes last, so a slow resolver can never write into a
 * dead stack. IP literals are parsed in place, without a thread.
 *
 * Cost: one thread (256 KiB stack) per name per call; nothing is cached
 * here. Callers resolve a handful of names per connection or discovery. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Limits. */
enum {
	NET_RESOLVE_HOST_MAX = 255, /* longest host accepted (DNS names stop at 253) */
};

/* struct net_resolve_req: one name to resolve. Plain caller storage: the
 * caller fills host and port, net_resolve_many fills the rest. */
struct net_resolve_req {
	const char *host;               /* name or literal; "[v6]" brackets allowed. Borrowed for the call */
	uint16_t port;
	struct sockaddr_storage addr;   /* out: valid when err == 0 */
	socklen_t addr_len;
	int err;                        /* out: 0, or why resolution failed (see net_resolve_many) */
	int gai;                        /* out: getaddrinfo's code when it refused the name, else 0 */
};

/* net_resolve_many resolves reqs[0..num) concurrently to addresses of
 * family (AF_INET, AF_INET6, or AF_UNSPEC: IPv4 preferred) within one
 * deadline of timeout_ms (< 0: none). Sets each reqs[i].err to 0, -ENOENT
 * (no such name, or no address of that family), -EAGAIN (temporary DNS
 * failure: no DNS server reachable), -EAFNOSUPPORT (a literal of the other
 * family), -ENAMETOOLONG (longer than NET_RESOLVE_HOST_MAX), -ETIMEDOUT
 * (not answered in time; the late answer is discarded), -ECANCELED, or
 * another -errno. Returns how many resolved, -ECANCELED when the runtime is
 * shutting down, or -ENOMEM (then no req was written). Must run in a
 * coroutine unless every host is a literal; suspends while a name is
 * looked up. */
int net_resolve_many(struct net_resolve_req *reqs, size_t num, int family, int timeout_ms);

/* net_resolve fills out with the first address of host (IPv4 preferred when
 * family is AF_UNSPEC) and port. Returns 0, -ETIMEDOUT (also when the
 * runtime shuts down first), -ENOENT (no such name, or none of that family:
 * the reason, "host: message", goes to errbuf), -ENAMETOOLONG, or -ENOMEM
 * or -EAGAIN (no memory or no thread for the lookup).
 * Suspends unless host is numeric. */
int net_resolve(const char *host, uint16_t port, int family, struct sockaddr_storage *out, socklen_t *out_len,
		int timeout_ms, char *errbuf, size_t errbuf_len);

/* net_resolve_now resolves host and port with a blocking getaddrinfo, for
 * start-up outside any reactor (listen and sink addresses): the first
 * address of the given socktype (SOCK_STREAM, SOCK_DGRAM), either family;
 * passive: NULL host means the wildcard address. Returns 0, or -ENOENT with
 * "cannot resolve 'host': reason" in errbuf. Blocks. */
int net_resolve_now(const char *host, uint16_t port, int socktype, bool passive, struct sockaddr_storage *out,
		    socklen_t *out_len, char *errbuf, size_t errbuf_len);

/* net_resolve_in_flight returns how many lookups are still running on
 * helper threads, abandoned ones included (their callers timed out). Any
 * thread; for tests and orderly exits. */
unsigned net_resolve_in_flight(void);

/* net_resolve_strerror returns a short static text for a reqs[i].err value. */
const char *net_resolve_strerror(int err);

#endif
