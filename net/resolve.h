#ifndef NET_RESOLVE_H
#define NET_RESOLVE_H
/* net/resolve.h: name resolution that does not block the reactor.
 *
 * Numeric addresses are parsed in place. Names go to getaddrinfo on a
 * short-lived helper thread; the calling coroutine suspends until the answer
 * is posted back to its reactor (core_rt_post) or the timeout passes, in
 * which case the late answer is discarded when it arrives. */
#include <stdint.h>
#include <sys/socket.h>

/* net_resolve fills out with the first address of host (IPv4 preferred when
 * family is AF_UNSPEC) and port. Returns 0, -ETIMEDOUT, -ENOENT (no such
 * name: the resolver's message goes to errbuf), or -ENOMEM. Suspends unless
 * host is numeric. */
int net_resolve(const char *host, uint16_t port, int family, struct sockaddr_storage *out, socklen_t *out_len,
		int timeout_ms, char *errbuf, size_t errbuf_len);

#endif
