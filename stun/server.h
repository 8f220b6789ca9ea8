#ifndef STUN_SERVER_H
#define STUN_SERVER_H
/* stun/server.h: a STUN server (RFC 8489 Binding, RFC 5780 NAT discovery) on
 * the io_uring reactor.
 *
 * Design: one struct stun_server is shared by every reactor; each reactor
 * that calls stun_server_start gets its own sockets (SO_REUSEPORT when more
 * than one reactor serves, so the kernel spreads sources over them) and one
 * coroutine per socket. A coroutine waits in core_udp_recv, then drains
 * every queued datagram with core_udp_try_recv and answers each with
 * core_udp_sendto_nowait, so a batch of requests costs one io_uring_enter.
 * Nothing is allocated per request: the request is parsed in its receive
 * buffer, the answer built on the stack and copied into a send slot.
 *
 * Per request, in this order: oversized datagrams, then anything that is not
 * a whole STUN message (stun_msg_parse), a bad FINGERPRINT, non-requests,
 * and sources over their rate limit (stun/ratelimit.h) are dropped and
 * counted by reason. A Binding request is answered with XOR-MAPPED-ADDRESS,
 * SOFTWARE and FINGERPRINT; in RFC 5780 mode also RESPONSE-ORIGIN and
 * OTHER-ADDRESS, and CHANGE-REQUEST / RESPONSE-PORT are honoured. Unknown
 * comprehension-required attributes get a 420 with UNKNOWN-ATTRIBUTES
 * (CHANGE-REQUEST among them when RFC 5780 mode is off, as RFC 5780 §6.1
 * asks); other methods a 400. Answers go out even for requests carrying
 * MESSAGE-INTEGRITY: this server has no credentials and checks none.
 * Classic RFC 3489 requests (no magic cookie) are dropped as bad_magic.
 *
 * RFC 5780 mode binds four sockets per reactor: primary ip:port, primary
 * ip:alt port, alt ip:port and alt ip:alt port. A CHANGE-REQUEST is answered
 * from the socket that differs in the requested parts.
 *
 * Threading: stun_server_new and stun_server_free run outside the runtime
 * (before core_rt_run, after it returns); stun_server_start on each reactor
 * thread; stun_server_get_stats on any thread. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Limits and defaults. */
enum {
	/* Longest SOFTWARE value sent (bytes). */
	STUN_SERVER_MAX_SOFTWARE = 64,
	/* Unknown attribute types listed in one 420 response. */
	STUN_SERVER_MAX_UNKNOWN = 16,
	/* Largest response built (the biggest, an IPv6 RFC 5780 answer, is
	 * under 200 bytes). */
	STUN_SERVER_MAX_RESPONSE = 512,
	/* Reactors one server can be started on. */
	STUN_SERVER_MAX_REACTORS = 256,
	/* Attempts to find a pair of free ports on the alternate address when
	 * ports are picked by the kernel (port 0). */
	STUN_SERVER_BIND_TRIES = 32,
	/* Defaults for the command line (requests per second per source, and
	 * back to back): a NAT discovery costs about ten requests, and many
	 * users can share one address behind a carrier-grade NAT. */
	STUN_SERVER_DEFAULT_RATE = 200,
	STUN_SERVER_DEFAULT_BURST = 400,
};

/* enum stun_drop: why a datagram got no answer. */
enum stun_drop {
	STUN_DROP_OVERSIZE,       /* larger than the receive buffer */
	STUN_DROP_TRUNCATED,      /* shorter than its header says (STUN_E_TRUNCATED) */
	STUN_DROP_NOT_STUN,       /* leading bits set: another protocol */
	STUN_DROP_BAD_MAGIC,      /* no magic cookie (RFC 3489 or not STUN) */
	STUN_DROP_BAD_LENGTH,     /* length field wrong */
	STUN_DROP_BAD_ATTR,       /* malformed attribute */
	STUN_DROP_BAD_ORDER,      /* attribute after FINGERPRINT */
	STUN_DROP_TOO_MANY_ATTRS, /* more than STUN_MAX_ATTRS */
	STUN_DROP_BAD_FINGERPRINT,
	STUN_DROP_NOT_REQUEST,    /* a response or error response */
	STUN_DROP_INDICATION,     /* Binding indications (keepalives): no answer by design */
	STUN_DROP_BAD_SOURCE,     /* source port 0 or an unusable address family */
	STUN_DROP_RATE_LIMITED,
	STUN_DROP_SEND_FAILED,    /* the waiting fallback send failed */
	STUN_DROP_MAX
};

/* stun_drop_name returns a short snake_case name for reason (for logs and
 * JSON), "unknown" outside the enum. Never NULL. */
const char *stun_drop_name(int reason);

/* struct stun_server_opts: how to serve. Addresses are caller storage,
 * copied by stun_server_new. */
struct stun_server_opts {
	struct sockaddr_storage addr;     /* primary ip:port; port 0: the kernel picks */
	socklen_t addr_len;
	struct sockaddr_storage alt_addr; /* RFC 5780: alternate ip : alternate port */
	socklen_t alt_addr_len;           /* 0: RFC 5780 mode off */
	unsigned num_reactors;            /* reactors that will call stun_server_start (>= 1) */
	uint32_t rate;                    /* requests/s per source; 0: no limit */
	uint32_t burst;                   /* back-to-back requests per source (>= 1 with a rate) */
	const char *software;             /* SOFTWARE value; NULL: "atmosphere"; "" : none */
};

/* struct stun_server_stats: counters summed over reactors. */
struct stun_server_stats {
	uint64_t received;        /* datagrams */
	uint64_t answered;        /* Binding success responses */
	uint64_t changed;         /* ... of which sent from another address (CHANGE-REQUEST / RESPONSE-PORT) */
	uint64_t errors;          /* error responses (400, 420) */
	uint64_t send_fallbacks;  /* answers sent with a waiting send: all send slots were busy */
	uint64_t send_errors;     /* nowait sends the kernel refused (all sockets of the reactor) */
	uint64_t evictions;       /* rate-limit table evictions */
	uint64_t dropped[STUN_DROP_MAX];
};

/* enum stun_server_sock: the sockets of a server; only PRIMARY without
 * RFC 5780 mode. Bit 0 is "alternate port", bit 1 "alternate address". */
enum stun_server_sock {
	STUN_SOCK_PRIMARY = 0,  /* ip:port */
	STUN_SOCK_ALT_PORT = 1, /* ip:alt port */
	STUN_SOCK_ALT_IP = 2,   /* alt ip:port */
	STUN_SOCK_ALT_BOTH = 3, /* alt ip:alt port */
	STUN_SOCK_MAX = 4
};

struct stun_server;

/* stun_server_new validates o and binds the sockets of the first reactor, so
 * that ports given as 0 are resolved here (read them back with
 * stun_server_addr) and bind errors surface before the runtime starts.
 * RFC 5780 mode needs two different, specific (not wildcard) addresses of
 * the same family and two different ports. Returns NULL and sets *err:
 * -EINVAL (bad options), -EADDRINUSE and other bind errors, -ENOMEM. */
struct stun_server *stun_server_new(const struct stun_server_opts *o, int *err);

/* stun_server_start serves on the calling reactor: the reactor with index 0
 * takes over the sockets bound by stun_server_new, the others bind their own
 * (SO_REUSEPORT) on the same addresses. Spawns one coroutine per socket and
 * returns; they end at runtime shutdown. Call once per reactor, from a
 * coroutine, with a reactor index below o->num_reactors. Returns 0 or
 * -errno (-EINVAL for a bad index or a second call, bind errors). Does not
 * suspend. */
int stun_server_start(struct stun_server *s);

/* stun_server_rfc5780 returns whether s serves in RFC 5780 mode. */
bool stun_server_rfc5780(const struct stun_server *s);

/* stun_server_addr copies the bound address of socket which to *out and its
 * length to *out_len. Returns 0, or -ENOENT for an alternate socket without
 * RFC 5780 mode. */
int stun_server_addr(const struct stun_server *s, enum stun_server_sock which, struct sockaddr_storage *out,
		     socklen_t *out_len);

/* stun_server_get_stats sums the counters of every reactor into *out. Any
 * thread; each counter is read atomically, the set is not a snapshot. */
void stun_server_get_stats(const struct stun_server *s, struct stun_server_stats *out);

/* stun_server_free closes sockets never taken over and frees s. Call only
 * once the runtime that served it has returned. NULL is a no-op. */
void stun_server_free(struct stun_server *s);

#endif
