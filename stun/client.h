#ifndef STUN_CLIENT_H
#define STUN_CLIENT_H
/* stun/client.h: STUN Binding transactions from one UDP socket, and public
 * endpoint discovery (the seed's discover_public_ip()).
 *
 * Design: everything runs from ONE local socket, borrowed from the caller,
 * because the mapping a NAT creates belongs to that socket: the peer node
 * discovers its public endpoint from the socket it will later punch holes
 * with. stun_client_run drives any number of transactions ("probes") on the
 * socket at once: it sends each request, retransmits on the RFC 8489 §6.2.1
 * schedule (RTO 500 ms doubling, Rc = 7 transmissions, then Rm = 16 RTO of
 * waiting) cut short by one overall deadline, and matches answers to probes
 * by transaction id only, so an answer from another address (CHANGE-REQUEST,
 * RFC 5780) is accepted. While it runs it is the socket's only reader:
 * datagrams that are not answers to its probes are dropped.
 *
 * stun_discover resolves the servers (stun/resolve.h, off the reactor),
 * asks all of them at once, takes the first valid answer as the public
 * endpoint and reports which of the others agree, detects "no NAT" (the
 * mapped address is one of this host's addresses, same port; getifaddrs),
 * and caches its result per process for a TTL, keyed by the local socket
 * address and the server list.
 *
 * A caller that already reads the socket (the peer node's receive loop,
 * which must keep reading while it refreshes its mapping) passes a struct
 * stun_feed in the options: the run then only sends, and the caller hands
 * every datagram to stun_feed_input, which records the answers and wakes
 * the run.
 *
 * Cost: requests are 28 bytes plus SOFTWARE; one waiting send per
 * transmission; the discovery result is ~8 KiB of caller storage. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun/addr.h"
#include "stun/msg.h"
#include "stun/resolve.h"

struct core_coro;
struct core_udp;

/* Limits and the RFC 8489 §6.2.1 retransmission constants. */
enum {
	STUN_CLIENT_MAX_SERVERS = 16,           /* servers per discovery */
	STUN_CLIENT_RTO_MS = 500,               /* initial retransmission timeout */
	STUN_CLIENT_RC = 7,                     /* transmissions per transaction */
	STUN_CLIENT_RM = 16,                    /* final wait, in initial RTOs */
	STUN_CLIENT_DEFAULT_TIMEOUT_MS = 3000,  /* overall deadline of one run */
	STUN_CLIENT_DEFAULT_SETTLE_MS = 300,    /* wait for confirmations after the first answer */
	STUN_CLIENT_CACHE_SLOTS = 8,            /* cached discoveries per process */
	STUN_CLIENT_DEFAULT_CACHE_TTL_MS = 300000,
};

/* struct stun_probe: one Binding transaction. The caller sets the fields
 * marked "in" (zero the rest); stun_client_run fills the "out" ones. */
struct stun_probe {
	/* in */
	struct sockaddr_storage to;  /* server address */
	socklen_t to_len;
	uint32_t change;             /* CHANGE-REQUEST flags (RFC 5780); 0: no attribute */
	bool hairpin;                /* to our own mapped address: success is this request arriving back */
	uint16_t response_port;      /* RESPONSE-PORT (RFC 5780 §7.5): answer to this port; 0: no attribute */
	struct core_udp *via;        /* send from this socket instead of the run's (borrowed; NULL: the
	                              * run's): with response_port, the answer comes to the run's socket */
	/* out */
	int status;                  /* see stun_probe_strerror */
	uint16_t error_code;         /* with status -EPROTO: the ERROR-CODE (0 if absent) */
	struct stun_addr mapped;     /* XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS */
	struct stun_addr origin;     /* RESPONSE-ORIGIN, when has_origin */
	struct stun_addr other;      /* OTHER-ADDRESS, when has_other */
	bool has_origin, has_other;
	struct stun_addr from;       /* where the answer came from */
	uint32_t rtt_us;             /* from the transmission it most likely answers (Karn: the last one) */
	unsigned sends;              /* transmissions */
	uint64_t answered_ns;        /* CLOCK_MONOTONIC at receipt */
	/* private to stun_client_run */
	uint8_t txid[STUN_TXID_LEN];
	uint64_t next_ns, sent_ns;
	unsigned rto_ms;
};

/* struct stun_feed: the hand-over between a caller that reads the socket and
 * a run on that socket (stun_client_run, stun_discover) that must not read
 * it. Caller storage: stun_feed_init it once, point stun_client_opts.feed at
 * it for the runs, and offer it every datagram with stun_feed_input. One run
 * at a time per feed. The fields are private. */
struct stun_feed {
	struct stun_probe *probes;   /* of the run in progress; NULL between runs */
	size_t num;
	struct core_coro *waiter;    /* that run's coroutine */
	unsigned fed;                /* answers taken so far (the run notices new ones) */
};

/* struct stun_client_opts: zero means the default everywhere. */
struct stun_client_opts {
	unsigned timeout_ms;     /* overall deadline of a run (and of DNS); 0: 3000 */
	unsigned rto_ms;         /* initial RTO; 0: 500 */
	int settle_ms;           /* after the first answer, wait this long for the rest; 0: 300; < 0: until all finish */
	const char *software;    /* SOFTWARE in requests; NULL: none */
	bool no_cache;           /* stun_discover: neither use nor fill the cache */
	unsigned cache_ttl_ms;   /* 0: 300000 */
	struct stun_feed *feed;  /* NULL: the run reads the socket; else answers come through stun_feed_input */
};

/* stun_client_run runs probes[0..num) concurrently on u until every probe
 * has finished, the deadline passes, or (settle_ms >= 0) settle_ms after the
 * first success. Each probe ends with status 0 (answered), -EPROTO (error
 * response), -EBADMSG (success without a mapped address), -ETIMEDOUT, or
 * the -errno of a failed send (-ENETUNREACH...). Returns how many answered,
 * or -ECANCELED when the runtime shuts down, or another -errno when the
 * socket fails, or -EBUSY when o->feed already serves a run. u is borrowed;
 * without o->feed nobody else may read it meanwhile; with o->feed the run
 * never reads it, and answers count only when stun_feed_input gets them.
 * A probe with `via` is sent from that socket, but its answer is still
 * looked for on u only. Suspends. */
int stun_client_run(struct core_udp *u, struct stun_probe *probes, size_t num, const struct stun_client_opts *o);

/* stun_probe_strerror writes a short text for p's outcome ("ok", "timeout
 * after 3 requests", "error response 420", ...) into buf and returns buf. */
const char *stun_probe_strerror(const struct stun_probe *p, char *buf, size_t cap);

/* struct stun_server_result: one server's part in a discovery. */
struct stun_server_result {
	struct stun_endpoint ep;   /* name, resolved address, DNS error */
	struct stun_probe probe;   /* its Binding transaction (status -EHOSTUNREACH when not resolved) */
	bool agrees;               /* answered with the winning mapped address */
};

/* struct stun_discovery: the result of stun_discover. */
struct stun_discovery {
	int status;                /* 0 found; -ETIMEDOUT nobody answered; -ENOENT no server resolved */
	struct stun_addr local;    /* the local address toward the servers (route source ip, socket port) */
	struct stun_addr mapped;   /* the public endpoint: the first valid answer */
	size_t winner;             /* index of that answer in servers[] */
	size_t num_agree;          /* servers that answered with mapped (winner included) */
	size_t num_answered;
	bool no_nat;               /* mapped is a local interface address with the same port */
	bool from_cache;
	size_t num_servers;
	struct stun_server_result servers[STUN_CLIENT_MAX_SERVERS];
};

/* stun_discover finds the public endpoint of u by asking servers[0..num)
 * (num <= STUN_CLIENT_MAX_SERVERS; names are resolved here). Returns 0 with
 * *out filled (out->status says whether an endpoint was found), -EINVAL for
 * a bad num, -ECANCELED at shutdown, or the socket's -errno. u is borrowed
 * and read only during the call. Suspends for at most o->timeout_ms: names
 * get half of it, the transactions what is left. */
int stun_discover(struct core_udp *u, const struct stun_endpoint *servers, size_t num, const struct stun_client_opts *o,
		  struct stun_discovery *out);

/* stun_feed_init prepares f for use (no run in progress). */
void stun_feed_init(struct stun_feed *f);

/* stun_feed_input offers one whole datagram (data[0..len), from `from`)
 * that the caller received on the socket of the run f serves. Returns true
 * when it answered a probe of that run: the outcome is recorded and the run
 * woken; the caller has nothing more to do with it. Returns false when it
 * is not STUN, not an answer to a pending probe (a late or stray answer), or
 * no run is in progress: the caller handles or drops it. data is read during
 * the call only. Call it from a coroutine of the run's reactor (it wakes the
 * run with core_unpark). Does not suspend. */
bool stun_feed_input(struct stun_feed *f, const uint8_t *data, size_t len, const struct sockaddr *from,
		     socklen_t from_len);

/* stun_client_cache_clear forgets every cached discovery. Any thread. */
void stun_client_cache_clear(void);

/* stun_local_addr_toward fills *out with the local address a socket bound to
 * local (possibly a wildcard) uses toward dst: the route's source ip, local's
 * port. Returns 0 or -errno. Does not send anything nor suspend. */
int stun_local_addr_toward(struct stun_addr *out, const struct sockaddr_storage *local, socklen_t local_len,
			   const struct sockaddr_storage *dst, socklen_t dst_len);

/* stun_addr_is_local returns whether a's ip is assigned to an interface of
 * this host (getifaddrs). False when that cannot be listed. */
bool stun_addr_is_local(const struct stun_addr *a);

/* stun_addr_format writes "1.2.3.4:5" or "[::1]:5" into buf (>= 48 bytes
 * always suffice) and returns buf. */
const char *stun_addr_format(const struct stun_addr *a, char *buf, size_t cap);

/* stun_addr_format_ip writes the address alone. */
const char *stun_addr_format_ip(const struct stun_addr *a, char *buf, size_t cap);

#endif
