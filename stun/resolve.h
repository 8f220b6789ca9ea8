#ifndef STUN_RESOLVE_H
#define STUN_RESOLVE_H
/* stun/resolve.h: STUN server names: "HOST:PORT" parsing, the default list,
 * and their resolution.
 *
 * Design: only what is STUN's lives here (the endpoint syntax, the seed's
 * servers, the ATMOSPHERE_STUN list format). Resolution is net_resolve_many
 * (net/resolve.h: one helper thread per name, answers posted back to the
 * reactor, literals inline, a caller that gives up detaches safely);
 * stun_resolve only adapts endpoints to it. Texts for an endpoint's err come
 * from net_resolve_strerror, lookups still running from
 * net_resolve_in_flight. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Limits. */
enum {
	STUN_HOST_MAX = 253,             /* longest DNS name */
	STUN_DEFAULT_PORT = 3478,        /* RFC 8489 §9 */
	STUN_NUM_DEFAULT_SERVERS = 5,
};

/* stun_default_servers lists the servers used when none is configured (the
 * seed's five). */
extern const char *const stun_default_servers[STUN_NUM_DEFAULT_SERVERS];

/* struct stun_endpoint: one server, as named and, after stun_resolve, as an
 * address. Plain caller storage. */
struct stun_endpoint {
	char host[STUN_HOST_MAX + 1];     /* name or literal, without brackets */
	uint16_t port;
	char text[STUN_HOST_MAX + 9];     /* "host:port" or "[v6]:port", for people */
	struct sockaddr_storage addr;     /* valid when err == 0 after stun_resolve */
	socklen_t addr_len;
	int err;                          /* 0, or why resolution failed (see stun_resolve) */
};

/* stun_endpoint_parse fills *out from "host", "host:port", "[v6]:port" or a
 * bare IPv6 literal; a missing port is default_port. Returns 0, or -EINVAL
 * for an empty host, a bad port (not 1-65535) or a name longer than
 * STUN_HOST_MAX. Does not resolve: out->err is -EINPROGRESS until stun_resolve. */
int stun_endpoint_parse(struct stun_endpoint *out, const char *text, uint16_t default_port);

/* stun_endpoint_parse_list parses a comma-separated list (the
 * ATMOSPHERE_STUN format; spaces around items are ignored, empty items
 * skipped) into out[0..max). Returns the number parsed (>= 0), -EINVAL
 * naming the first bad item's index in *out_bad, or -E2BIG beyond max. */
int stun_endpoint_parse_list(struct stun_endpoint *out, size_t max, const char *list, size_t *out_bad);

/* stun_resolve resolves eps[0..num) with net_resolve_many: concurrently,
 * to addresses of family (AF_INET or AF_INET6: the family of the socket
 * that will use them), for at most timeout_ms (< 0 counts as 0). Sets each
 * eps[i].err to 0, -ENOENT (no such name, or no address of that family),
 * -EAGAIN (temporary DNS failure: no DNS server reachable), -EAFNOSUPPORT
 * (a literal of the other family), -ETIMEDOUT (not answered in time), or
 * another -errno (texts: net_resolve_strerror). Returns how many resolved,
 * -ECANCELED when the runtime is shutting down, or -ENOMEM (eps untouched).
 * Must run in a coroutine; suspends while a name is looked up. */
int stun_resolve(struct stun_endpoint *eps, size_t num, int family, int timeout_ms);

#endif
