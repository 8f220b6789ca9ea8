#ifndef RELAY_SERVER_H
#define RELAY_SERVER_H
/* relay/server.h: the WebSocket relay server (the seed's relay protocol).
 *
 * GET /relay/{session_id} upgrades to WebSocket; the first client of an id
 * waits, the second is paired with it, and from then on every text and
 * binary frame of one is forwarded, frame for frame (type, FIN and length
 * preserved, so message boundaries and fragmentation are too), to the other.
 * When a pair completes each side gets the text message
 * RELAY_PAIRED_MESSAGE_FMT (docs/RELAY.md). GET /health, /stats and
 * /metrics report state. See docs/RELAY.md for the protocol and limits.
 *
 * Design: one SO_REUSEPORT listener and one session table per reactor. A
 * session lives on the reactor its id hashes to; a connection accepted
 * elsewhere is handed there (its fd and any bytes read past the HTTP head)
 * after the handshake was read, so the two halves of a session always share a
 * thread and forwarding needs no lock. Each connection is one coroutine that
 * reads its socket and writes what it read to its peer's: payloads go out
 * from the receive buffer they arrived in, unmasked in place, behind a
 * freshly built frame header (one sendmsg per received buffer). A slow
 * reader makes its peer's send wait, which stops its peer's reads: TCP's
 * own flow control carries the back-pressure to the sender, and the relay
 * holds at most one receive queue (64 KiB) per direction.
 *
 * Threading: relay_server_run blocks; call relay_server_stop (any thread)
 * or send SIGINT/SIGTERM to end it gracefully: listeners close, every
 * client gets Close 1001 "going away", and it returns. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/protocol.h" /* RELAY_PAIRED_MESSAGE_FMT: the paired notice */

/* Defaults for every limit a stranger can push on. */
enum relay_defaults {
	RELAY_DEFAULT_PORT = 8080,
	RELAY_DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024, /* bytes, over all fragments: Close 1009 */
	RELAY_DEFAULT_HOLD_BYTES = 1024 * 1024,       /* held for a peer not yet there */
	RELAY_DEFAULT_HOLD_TOTAL = 256 * 1024 * 1024, /* held over all waiting sessions */
	RELAY_DEFAULT_STUCK_TOTAL = 512 * 1024 * 1024,/* kept for peers that do not read, all sessions */
	RELAY_DEFAULT_MAX_SESSIONS = 100000,
	RELAY_DEFAULT_MAX_CONNS_PER_IP = 256,
	RELAY_DEFAULT_HANDSHAKE_MS = 10000,           /* whole HTTP head (slowloris) */
	RELAY_DEFAULT_PING_MS = 30000,
	RELAY_DEFAULT_IDLE_MS = 600000,               /* no message either way */
	RELAY_DEFAULT_WRITE_MS = 60000,               /* a peer that does not read */
	RELAY_DEFAULT_HIBERNATE_MS = 1000,            /* quiet time before a connection gives its stack back */
	/* Kernel receive buffer per client socket. Left to autotuning, a socket
	 * whose data waits for the relay grows to tcp_rmem's maximum (6 MiB):
	 * 1,000 busy sessions then reach tcp_mem's pressure mark (measured:
	 * 1.6 GB of socket memory) and the kernel's pruning stalls everything.
	 * 1 MiB still fills 10 MB/s per connection at 100 ms RTT. */
	RELAY_DEFAULT_RCVBUF = 1024 * 1024,
	/* Kernel send buffer per client socket, for the same reason: 500
	 * stalled readers (tests/attack stalled_pairs) made the kernel hold
	 * 4 MiB (tcp_wmem's maximum) for each when left to autotuning. */
	RELAY_DEFAULT_SNDBUF = 1024 * 1024,
	/* Stream ring per thread: 1,024 x 16 KiB buffers, growing while busy
	 * connections wait for one to six per such connection (what one holds
	 * before its receive pauses: 4 + 2, core/src.c), up to 32,768
	 * (512 MiB reserved, resident only while in use; core/reactor.h). At
	 * 5,000 busy sessions a fixed 1,024 gave each one buffer per round of
	 * 5,000 while its unread data waited in kernel memory. Where that
	 * address space is refused (ulimit -v, vm.overcommit_memory=2) the
	 * ring stays fixed (core/buf.c); relay_opts.ring_max lowers it. */
	RELAY_DEFAULT_STREAM_BUFS_MAX = 32768,
};

/* What the relay tells a supervisor about its life (the CLI turns these into
 * systemd notifications, net/notify.h). */
enum relay_event {
	RELAY_EVENT_READY = 1,   /* every reactor accepts on every listener; again after a reload */
	RELAY_EVENT_RELOADING,   /* SIGHUP: reloading the certificate (READY follows) */
	RELAY_EVENT_STOPPING,    /* the graceful stop began */
	RELAY_EVENT_ALIVE,       /* every reactor ran within the last alive_ms */
};
typedef void (*relay_event_fn)(void *arg, enum relay_event ev);

/* Who may use the relay (relay_opts.access; docs/RELAY.md, "Who may use
 * the relay"). /health answers everyone in every mode. */
enum relay_access_mode {
	RELAY_ACCESS_OPEN = 0,      /* the seed's protocol: anyone */
	RELAY_ACCESS_MESH_TOKEN,    /* an upgrade needs a ticket (relay/ticket.h) under one of keys */
	RELAY_ACCESS_ALLOW_LIST,    /* sources in allow only (relay/cidr.h); /stats and /metrics too */
};
/* Bounds on what an operator configures, and on the replay memory. */
enum {
	RELAY_ACCESS_MAX_KEYS = 16,
	RELAY_ACCESS_MAX_NETS = 1024,
	/* Nonces of tickets remembered at once (each until its expiry, at
	 * most RELAY_TICKET_MAX_LIFETIME): 64 Ki upgrades per 15 minutes, 3 MiB
	 * of table (mesh-token only). Past it, upgrades get 503 until nonces
	 * expire. */
	RELAY_ACCESS_MAX_NONCES = 65536,
};
struct relay_key;
/* relay_opts.proxy_protocol: how peers in trusted_proxies name their
 * clients (docs/RELAY.md, "Behind a load balancer"). Nobody else's PROXY
 * header or X-Forwarded-For is read. */
enum relay_proxy_mode {
	/* A PROXY header, v1 or v2 (HAProxy send-proxy / send-proxy-v2), opens
	 * every connection; one without, or with a malformed one, is closed
	 * unanswered. X-Forwarded-For is the client's own text: ignored. */
	RELAY_PROXY_HEADER_REQUIRED = 0,
	/* A PROXY header if the connection opens with one; if not, the last
	 * X-Forwarded-For element, or the peer itself without one. */
	RELAY_PROXY_HEADER_OPTIONAL,
	/* HTTP-mode balancers: the last X-Forwarded-For element; a PROXY
	 * header is not HTTP (400). */
	RELAY_PROXY_HEADER_OFF,
};
/* At most this many --trusted-proxy networks. */
enum { RELAY_MAX_TRUSTED_PROXIES = 64 };
struct relay_cidr;

/* relay_opts.ring_max value: the stream ring does not grow. */
#define RELAY_RING_FIXED 1u

/* relay_opts.rcvbuf value: leave the receive buffer to kernel autotuning. */
#define RELAY_RCVBUF_AUTO UINT32_MAX

struct relay_opts {
	const char *host;           /* listen address, NULL: 0.0.0.0 */
	uint16_t port;              /* 0: pick one (see relay_server_port) */
	unsigned threads;           /* 0: one per CPU */
	uint64_t max_message;       /* 0: default */
	uint64_t hold_bytes;
	uint64_t hold_total;        /* bytes held over all sessions; 0: default */
	uint64_t stuck_total;       /* bytes kept for peers that do not read, all sessions; 0: default */
	unsigned max_sessions;
	unsigned max_conns_per_ip;
	unsigned max_handshakes;    /* heads being read at once; 0: half the descriptor budget */
	unsigned handshake_ms;
	unsigned ping_ms;
	unsigned idle_ms;
	unsigned write_ms;
	unsigned hibernate_ms;      /* without traffic this long, a connection waits with no stack */
	unsigned max_header;        /* <= RELAY_HTTP_MAX_HEADER_BYTES (relay/http.h), the default */
	uint32_t rcvbuf;            /* SO_RCVBUF per client socket; 0: default, or RELAY_RCVBUF_AUTO */
	uint32_t sndbuf;            /* SO_SNDBUF per client socket; 0: default, or RELAY_RCVBUF_AUTO */
	/* Stream buffers a thread's ring may grow to, <= 32,768; 0: the
	 * default, RELAY_RING_FIXED (or anything up to the base of 1,024): a
	 * fixed ring. Each reserves ring_max x 16 KiB of address space. */
	unsigned ring_max;
	/* Read busy connections in batches (up to 32 x 16 KiB a pass of the
	 * kernel) instead of one buffer each in turn: core_rt_opts'
	 * stream_recv_batched. false, the default: fair at thousands of
	 * busy sessions. */
	bool batched_reads;
	const char *tls_cert;       /* PEM chain: port serves wss:// (TLS 1.2/1.3) */
	const char *tls_key;
	bool plain;                 /* with TLS: also serve ws:// on plain_port */
	uint16_t plain_port;        /* 0 with plain: pick one */
	bool log_sessions;          /* one line per session start/end */
	enum relay_access_mode access;  /* default RELAY_ACCESS_OPEN */
	const struct relay_key *keys;   /* mesh-token: keys[0..num_keys), copied by relay_server_new */
	size_t num_keys;
	const struct relay_cidr *allow; /* allow-list: allow[0..num_allow), copied by relay_server_new */
	size_t num_allow;
	/* Load balancers trusted to name the client (relay/cidr.h networks,
	 * copied by relay_server_new), and how they do. */
	const struct relay_cidr *trusted_proxies;
	size_t num_trusted_proxies;
	enum relay_proxy_mode proxy_protocol;
	bool handle_signals;        /* SIGINT/SIGTERM stop it */
	/* Called once on each reactor after the relay started there, inside a
	 * coroutine (the CLI starts its STUN server from here). */
	void (*on_reactor_start)(void *arg);
	void *on_reactor_start_arg;
	/* Life-cycle events, each called on a reactor thread: it must neither
	 * block nor suspend. With alive_ms > 0, RELAY_EVENT_ALIVE comes every
	 * alive_ms for as long as every reactor answers within that time:
	 * reactor 0 asks the others each period and reports only when all
	 * answered, so one stuck reactor (or reactor 0 itself) stops them, the
	 * cue a watchdog needs. */
	relay_event_fn on_event;
	void *on_event_arg;
	unsigned alive_ms;
	/* Quotas (docs/RELAY.md, Quotas). A client over a rate is not read
	 * until its bucket refills (TCP slows it; nothing is dropped). */
	uint64_t session_rate;      /* bytes/s each client of a session may send; 0: no limit */
	uint64_t session_burst;     /* bytes back to back; 0: session_rate */
	uint64_t ip_rate;           /* bytes/s over all clients from one address; 0: no limit */
	uint64_t ip_burst;          /* 0: ip_rate */
	uint64_t budget_bytes;      /* payload bytes relayed per period, then new sessions get 503; 0: none */
	uint64_t budget_period_s;   /* the period, aligned on the epoch (relay/budget.h); */
	bool budget_monthly;        /* ... or, when set, calendar months (UTC) */
	unsigned budget_start_day;  /* a monthly period's first day, 1-31; 0: 1 */
	const char *budget_state;   /* file keeping the count across restarts; NULL: not kept */
};

/* Totals over all threads, for /stats and the CLI. */
struct relay_stats {
	uint64_t total_sessions;     /* sessions ever paired */
	uint64_t active_sessions;    /* paired now */
	uint64_t waiting_sessions;   /* one client, waiting */
	uint64_t connections;        /* open client connections (any state) */
	uint64_t total_connections;
	uint64_t total_bytes_relayed;/* payload bytes forwarded */
	uint64_t total_messages_relayed;
	uint64_t rejected_409, rejected_400, rejected_limit, handshake_timeouts;
	uint64_t protocol_errors, too_big, keepalive_timeouts;
	uint64_t hibernations;       /* idle spells a connection began without its stack */
	uint64_t held_bytes;         /* allocated for waiting sessions' holds now */
	uint64_t stuck_bytes;        /* kept for peers that do not read, now */
	uint64_t stuck_shed;         /* sessions ended because --stuck-total was full */
	uint64_t handshakes;         /* connections still sending their HTTP head */
	uint64_t shed;               /* handshakes ended early to admit newer ones */
	uint64_t max_connections;    /* the descriptor budget (RLIMIT_NOFILE less a reserve) */
	uint64_t max_handshakes;
	uint64_t uptime_s;
	/* Quotas */
	uint64_t throttled_now;      /* clients not read now: over a rate limit */
	uint64_t throttles;          /* times a client was held back */
	uint64_t throttled_ms;       /* time held back, summed over clients */
	uint64_t budget_bytes;       /* --budget per period; 0: none */
	uint64_t budget_used;        /* payload bytes relayed in this period */
	uint64_t budget_reset_s;     /* seconds until the next period */
	int64_t budget_period_start, budget_period_end; /* UNIX s, UTC */
	uint64_t rejected_budget;    /* new sessions refused (503): budget used up */
	/* Access control: the mode, requests it refused by reason, and nonces
	 * of accepted tickets remembered now. */
	enum relay_access_mode access;
	uint64_t refused_no_ticket, refused_bad_ticket, refused_unknown_key, refused_expired, refused_replayed;
	uint64_t refused_network, refused_busy;
	uint64_t tickets_remembered;
	uint64_t proxied;            /* connections whose client a trusted proxy named */
	uint64_t proxy_refused;      /* trusted-proxy connections closed for a missing or bad PROXY header */
};

struct relay_server;

/* relay_server_new validates opts, binds the listening socket(s) and returns
 * the server, or NULL with *err (-errno; -EADDRINUSE...) and a message in
 * errbuf. Does not start serving. */
struct relay_server *relay_server_new(const struct relay_opts *opts, int *err, char *errbuf, size_t errbuf_len);

/* relay_server_port returns the bound TCP port. */
uint16_t relay_server_port(const struct relay_server *srv);

/* relay_server_plain_port returns the ws:// port when TLS and plain are
 * both served, else 0. */
uint16_t relay_server_plain_port(const struct relay_server *srv);

/* relay_server_reload_tls loads the certificate and key again (as SIGHUP
 * does): new connections use them, open ones keep theirs. Returns 0, or
 * -EINVAL with the reason in errbuf (the old ones stay in use). */
int relay_server_reload_tls(struct relay_server *srv, char *errbuf, size_t errbuf_len);

/* relay_server_threads returns the number of reactor threads. */
unsigned relay_server_threads(const struct relay_server *srv);

/* relay_server_run serves until stopped; returns 0 or -errno (io_uring
 * unavailable: relay_server_new would have failed first). */
int relay_server_run(struct relay_server *srv);

/* relay_server_stop starts the graceful stop. Any thread. */
void relay_server_stop(struct relay_server *srv);

/* relay_server_stats fills the totals. Any thread. */
void relay_server_stats(const struct relay_server *srv, struct relay_stats *out);

/* relay_server_free frees a server that is not running. NULL: no-op. */
void relay_server_free(struct relay_server *srv);

#endif
