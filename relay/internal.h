#ifndef RELAY_INTERNAL_H
#define RELAY_INTERNAL_H
/* relay/internal.h: shared inside relay/ only. */
#include <assert.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/log.h"
#include "core/mutex.h"
#include "core/reactor.h"
#include "core/sock.h"
#include "net/stream.h"
#include "relay/limits.h"
#include "relay/budget.h"
#include "relay/cidr.h"
#include "relay/protocol.h"
#include "relay/quota.h"
#include "relay/hist.h"
#include "relay/server.h"
#include "relay/ticket.h"
#include "relay/utf8.h"
#include "relay/ws_frame.h"

struct relay_thread;
struct relay_session;
struct relay_hs;

/* One WebSocket client of a session. Lives inside its session, so a peer's
 * pointer to it stays valid while either coroutine runs. */
struct relay_conn {
	struct net_stream *st;
	struct relay_session *sess;
	struct relay_conn *peer;        /* NULL until paired and after either ends */
	struct core_coro *co;
	struct relay_thread *th;
	struct relay_conn *prev_all, *next_all;
	/* frame decoder state */
	uint8_t hbuf[RELAY_WS_MAX_HEADER_LEN];
	uint8_t hlen;
	bool in_frame;
	struct relay_ws_hdr h;
	uint64_t left, off;
	struct relay_ws_msg_state ms;
	struct relay_utf8 u8;
	bool text_msg;
	/* A control frame's payload as it arrives: allocated by the first
	 * control frame (RELAY_WS_MAX_CONTROL_PAYLOAD bytes), freed when the
	 * connection goes quiet (relay_conn_ctl_free), so an idle connection
	 * does not carry it. */
	uint8_t ctl_len;
	bool hdr_held;                  /* the frame's header waits for its first payload byte (forward.c) */
	/* This connection's hibernation threshold is --hibernate-after << hib_shift
	 * (relay/conn.c: doubled when a message comes soon after it hibernated,
	 * reset after a long quiet; at most RELAY_HIB_SHIFT_MAX). Fills the
	 * byte of padding before ctl: the struct does not grow. */
	uint8_t hib_shift;
	uint8_t *ctl;
	/* keepalive */
	uint64_t last_rx_ns, ping_sent_ns;
	bool ping_outstanding;
	/* life */
	bool active;                    /* slot in use */
	bool ended;
	bool parked;                    /* waiting for the peer (hold full), not reading */
	bool peer_gone;
	bool peer_broken;               /* peer failed mid-frame: no Close possible */
	uint16_t peer_code;
	uint64_t bytes_in, msgs_in;
	uint8_t ip[16];                 /* the client's address (see "The client's address" below) */
	uint64_t q_tat;                 /* --session-rate bucket (relay/quota.h) */
	struct ip_count *q_ip;          /* --ip-rate: its address's entry, NULL without */
};

struct relay_session {
	struct relay_session *next;     /* hash chain */
	uint64_t hash;
	uint8_t id_len;
	bool in_table, paired;
	int live;                       /* coroutines using it */
	struct relay_conn conn[2];
	/* frames from conn[0] held until conn[1] arrives */
	uint8_t *hold;
	size_t hold_len, hold_cap;
	uint64_t hold_payload;          /* payload bytes in hold (stats) */
	uint64_t last_msg_ns;           /* last message either way (idle timeout) */
	uint64_t started_ns;
	char id[];                      /* id_len bytes and a NUL: sized per session */
};

/* A connection costs about 1.7 KB at rest (docs/RELAY.md), against a budget
 * of 2 KiB: these records are its largest part (a session holds two
 * connections), with the socket, stream and coroutine records. Growing
 * them is a decision to make here, with the figure. 320 -> 336: the
 * quotas' 16 bytes (a bucket and the address entry), kept in the
 * connection so a limit costs no lookup on the data path; 1% of the
 * budget. 336 -> 216: the control frame buffer (125 B) is allocated by the
 * first control frame and freed when the connection goes quiet. */
static_assert(sizeof(struct relay_conn) <= 216, "struct relay_conn outgrew its share of the 2 KiB budget");
static_assert(sizeof(struct relay_session) <= 2 * 216 + 80, "struct relay_session outgrew its budget");

struct relay_thread {
	struct relay_server *srv;
	unsigned idx;
	struct relay_session **buckets;
	unsigned num_buckets, num_sessions;
	struct relay_conn *conns;       /* all connected clients, for shutdown */
	/* Handshakes reading their head, oldest first, in two queues: [0]
	 * not yet seen to stall, [1] stalled (a read gave part of a head and
	 * no more came in that batch). Shedding takes [1] first. */
	struct relay_hs *hs_head[2], *hs_tail[2];
	struct core_coro *trimmer;      /* reactor 0: the heap trimmer, while it sleeps */
	struct core_coro *alive;        /* reactor 0: the liveness prober, while it sleeps */
	_Atomic uint64_t alive_seen;    /* the last liveness round this reactor answered */
	struct core_listener *l[2];     /* [0] --port, [1] --plain-port */
	struct core_shutdown_hook hook;
	bool stopping;
	_Atomic uint64_t bytes, msgs;
	/* For /metrics, written by this reactor only (relay/hist.h): forward
	 * latency per forwarded batch, pairing wait per paired session, and
	 * the sessions of this reactor's table by state. */
	struct relay_hist fwd_hist, pair_hist;
	_Atomic uint64_t sessions_active, sessions_waiting;
};

/* relay_thread_count adds d (+1 or -1) to one of th's own gauges: its
 * owner is the only writer, so a load and a store, no locked add. */
static inline void relay_thread_count(_Atomic uint64_t *g, int d)
{
	atomic_store_explicit(g, atomic_load_explicit(g, memory_order_relaxed) + (uint64_t)(int64_t)d,
			      memory_order_relaxed);
}

struct ip_count {
	struct ip_count *next;
	uint8_t addr[16];
	unsigned count;
	_Atomic uint64_t tat;           /* --ip-rate bucket, shared by the address's connections */
};

/* Quotas (quota.c): the rate limits, the byte budget, their counters. */
struct relay_quota {
	struct relay_limit session, ip;
	bool on;                        /* a rate limit is set: the only test on the data path without */
	bool exhausted;                 /* under budget_lock: the budget ran out this period (logged) */
	uint64_t budget;
	pthread_mutex_t budget_lock;    /* new sessions, status requests and the saver only */
	/* Under budget_lock: the period (UNIX s, relay/budget.h), the bytes it
	 * had before this run (the state file's), and the relayed total when
	 * this run's share of it began. */
	struct relay_budget_period period;
	uint64_t carried, base_bytes;
	/* --budget-state: the saver thread writes the count every
	 * RELAY_BUDGET_SAVE_MS while the relay runs (relay_budget_saver_*). */
	pthread_t saver;
	pthread_cond_t saver_cond;      /* under budget_lock, with saver_stop */
	bool saver_on, saver_stop, save_failing;
	_Atomic uint64_t throttled_now, throttles, throttled_ns, refused_budget;
};

/* Access control's state (access.c). */
enum relay_refusal {
	RELAY_REFUSED_NO_TICKET,        /* 401 */
	RELAY_REFUSED_BAD_TICKET,       /* 401: malformed, or the MAC does not match */
	RELAY_REFUSED_UNKNOWN_KEY,      /* 401: a key this relay does not hold */
	RELAY_REFUSED_EXPIRED,          /* 403: expired, or valid for too long */
	RELAY_REFUSED_REPLAYED,         /* 403 */
	RELAY_REFUSED_NETWORK,          /* 403: source not in the allow-list */
	RELAY_REFUSED_BUSY,             /* 503: the replay memory is full */
	RELAY_REFUSED_NUM
};
struct relay_access {
	struct relay_key *keys;         /* copies, wiped at the end */
	size_t num_keys;
	struct relay_cidr *allow;
	size_t num_allow;
	pthread_mutex_t lock;           /* guards seen: connection set-up only */
	struct relay_ticket_seen *seen; /* mesh-token only */
	_Atomic uint64_t refused[RELAY_REFUSED_NUM];
};

struct relay_server {
	struct relay_opts o;
	struct relay_access acc;
	struct core_rt *rt;
	struct relay_thread *th;
	int *listen_fds;                /* [thread * 2 + which] */
	uint16_t port, plain_port;
	pthread_mutex_t tls_lock;       /* guards tls: swapped on SIGHUP */
	struct net_tls_ctx *tls;
	uint64_t hash_seed;
	uint64_t started_ns;
	pthread_mutex_t ip_lock;        /* connection set-up only, not the data path */
	struct ip_count *ips[RELAY_IP_BUCKETS];
	_Atomic uint64_t sessions_now, active, waiting, connections, total_sessions, total_connections;
	_Atomic uint64_t rejected_409, rejected_400, rejected_limit, handshake_timeouts;
	_Atomic uint64_t protocol_errors, too_big, keepalive_timeouts;
	_Atomic uint64_t hibernations;  /* idle spells begun without a stack (relay/conn.c) */
	_Atomic uint64_t held;          /* bytes allocated for holds, all sessions (--hold-total) */
	_Atomic uint64_t handshakes;    /* reading their HTTP head now, all threads */
	_Atomic uint64_t shed;          /* handshakes ended early to admit newer ones */
	_Atomic uint64_t shed_pending;  /* of those, not yet closed */
	_Atomic uint64_t stuck_bytes;   /* kept out of the ring by forwards waiting on a peer (--stuck-total) */
	_Atomic uint64_t stuck_shed;    /* sessions ended because that was full */
	_Atomic uint64_t proxied;       /* connections whose address a trusted proxy gave */
	_Atomic uint64_t proxy_refused; /* trusted-proxy connections closed: no or a bad PROXY header */
	uint64_t max_conns;             /* connections at once: the descriptor budget */
	_Atomic unsigned reactors_up;   /* reactors accepting: READY when all are */
	_Atomic bool stop_told;         /* RELAY_EVENT_STOPPING sent */
	_Atomic uint64_t alive_round;   /* the liveness round being asked */
	struct relay_quota q;
};

/* ---- The client's address ----
 * Every decision and log line about "who" uses the client's address, in
 * relay_addr_key form: relay_upgrade_arg.ip, the ip that upgrade.c's
 * finish_upgrade passes on (relay_session_join, access control) and
 * relay_conn.ip. It is the socket's peer, except for a peer in
 * --trusted-proxy (relay_proxy_trusted): there it is what that peer said
 * -- the source of its PROXY header (relay_client_addr_from_proxy) or the
 * last X-Forwarded-For element it added (relay_client_addr_from_xff) --
 * recovered in upgrade.c once the request head is read, before
 * --max-conns-per-ip or anything else looks at it. Nobody else's PROXY
 * header or X-Forwarded-For is ever read (docs/RELAY.md, "Behind a load
 * balancer"). */

/* ---- admit.c: which connections the relay takes ---- */
enum { RELAY_ADMITTED = 0, RELAY_ADMIT_BUDGET = -1, RELAY_ADMIT_PER_IP = -2 };
/* relay_admit counts a new connection from address key ip: RELAY_ADMITTED,
 * or RELAY_ADMIT_BUDGET (the connections are at the descriptor budget plus
 * slack: connections already shed but not yet closed) or
 * RELAY_ADMIT_PER_IP (the address is at --max-conns-per-ip), counting
 * nothing. ip NULL counts the connection only (a trusted proxy's, whose
 * client is not known yet): relay_admit_addr counts its address later.
 * relay_release gives back what it took, exactly once per admitted
 * connection, whoever ends it: with the ip it counted, or NULL if none.
 * Any thread. */
int relay_admit(struct relay_server *srv, const uint8_t ip[16], unsigned slack);
void relay_release(struct relay_server *srv, const uint8_t ip[16]);
/* relay_admit_addr counts address ip for a connection admitted with NULL:
 * RELAY_ADMITTED, or RELAY_ADMIT_PER_IP counting nothing. Any thread. */
int relay_admit_addr(struct relay_server *srv, const uint8_t ip[16]);
/* relay_addr_key writes addr's IP as 16 bytes (net_addr_key: IPv4 as
 * ::ffff:a.b.c.d, so a client counts the same on a dual-stack "::" listener
 * and on an IPv4 one): what a connection keeps of its address. The
 * per-address limit counts its net_addr_key_limit (an IPv6 client by /64). */
void relay_addr_key(const struct sockaddr_storage *addr, uint8_t out[16]);
/* relay_addr_key_str writes a key's address as text ("192.0.2.1", "2001:db8::1"). */
const char *relay_addr_key_str(const uint8_t key[16], char out[static 46]);
/* Log limits for what strangers can cause: refused requests and protocol
 * errors (info, 10 lines a second each), accept failures (warn, 1 a
 * second). */
extern struct core_log_limit relay_log_refused, relay_log_protocol, relay_log_accept;

/* relay_ip_entry returns the per-address entry of key (its /64 for IPv6, as
 * --max-conns-per-ip counts it), which the caller's
 * admitted connection keeps alive until relay_release (the --ip-rate
 * bucket lives in it), or NULL when there is none. Any thread. */
struct ip_count *relay_ip_entry(struct relay_server *srv, const uint8_t key[16]);

/* ---- quota.c: rate limits and the byte budget ---- */
/* relay_quota_init sets srv->q from srv->o (before anything can fail);
 * relay_quota_cleanup undoes it. */
void relay_quota_init(struct relay_server *srv);
void relay_quota_cleanup(struct relay_server *srv);
/* relay_quota_charge charges bytes read from c's client to its buckets;
 * relay_quota_wait_ns returns how long c must not read from now (0: it
 * may). Only with srv->q.on. Do not suspend. */
void relay_quota_charge(struct relay_conn *c, uint64_t bytes);
uint64_t relay_quota_wait_ns(const struct relay_conn *c, uint64_t now);
/* relay_quota_throttle does not read c's client for wait_ns: a short wait
 * sleeps, a long one pauses the receive (ring buffers back) and waits for
 * a hang-up; what the pause keeps, and held bytes the caller keeps already,
 * count against --stuck-total meanwhile (when it is full, the wait keeps
 * its ring buffers instead). 0 (the time is up, or the wait was
 * interrupted: the caller's loop looks again), -EPIPE (the client left) or
 * -ENOMEM (the pause could not copy its queue). Suspends. */
int relay_quota_throttle(struct relay_conn *c, uint64_t wait_ns, size_t held);
/* relay_budget_admit returns whether a new session may start under
 * --budget (starting a new period when one is over; logs the first
 * refusal of a period). Any thread. */
bool relay_budget_admit(struct relay_server *srv);
/* relay_budget_load reads --budget-state (a missing file: a new count)
 * into srv->q for the current period and writes it back at once, so a path
 * the relay cannot write fails at start. 0, or -EINVAL / -errno with the
 * path and the reason in errbuf (a file that is not ours or damaged is
 * refused, never reset). Before the reactors run. */
int relay_budget_load(struct relay_server *srv, char *errbuf, size_t errlen);
/* relay_budget_saver_start starts the thread that saves the budget's state
 * every RELAY_BUDGET_SAVE_MS (none without --budget-state);
 * relay_budget_saver_stop stops it and saves once more, the final count
 * (call once the reactors have stopped). */
void relay_budget_saver_start(struct relay_server *srv);
void relay_budget_saver_stop(struct relay_server *srv);
/* relay_quota_json writes /stats' "quota" member (with its leading ", ")
 * into b and returns the length written. */
int relay_quota_json(const struct relay_stats *st, char *b, size_t cap);
/* relay_quota_stats fills out's quota fields; relay_quota_metrics writes
 * them as Prometheus text into b and returns the length written. */
void relay_quota_stats(const struct relay_server *srv, struct relay_stats *out);
int relay_quota_metrics(const struct relay_stats *st, char *b, size_t cap);
/* ---- access.c: who may use the relay (--access) ---- */
/* relay_access_init copies srv->o's keys and networks and sets up the
 * replay memory: 0, or -EINVAL / -ENOMEM with the reason in errbuf.
 * relay_access_cleanup undoes it (also after a failed init). */
int relay_access_init(struct relay_server *srv, char *errbuf, size_t errlen);
void relay_access_cleanup(struct relay_server *srv);
/* relay_access_check decides whether request req, routed to route (an
 * enum relay_http_route; sid the session id for the relay route), from
 * address ip may go on: 0, or the status to refuse it with (401, 403,
 * 503), already counted and logged (rate-limited). For the relay route
 * call it before the session takes anything: an accepted ticket's nonce
 * is spent. Any thread. */
struct relay_http_req;
struct relay_http_span;
int relay_access_check(struct relay_server *srv, const struct relay_http_req *req, int route,
		       const struct relay_http_span *sid, const uint8_t ip[16]);
/* relay_access_refuse answers a refusal from relay_access_check: the
 * status and nothing else (401 adds the WWW-Authenticate challenge RFC
 * 9110 §11.6.1 requires). Suspends. */
void relay_access_refuse(struct net_stream *st, int status);
/* relay_access_stats adds access control's figures to out. */
void relay_access_stats(const struct relay_server *srv, struct relay_stats *out);
/* ---- realip.c: the client's address behind a trusted proxy ---- */
struct relay_proxy_hdr;
/* relay_proxy_trusted says whether peer is in --trusted-proxy. */
bool relay_proxy_trusted(const struct relay_server *srv, const struct sockaddr_storage *peer);
/* relay_client_addr_from_proxy writes the client address a PROXY header
 * names to out and returns true; false (out untouched) for LOCAL, UNKNOWN
 * and non-TCP families, where the socket's peer stands. */
bool relay_client_addr_from_proxy(const struct relay_proxy_hdr *h, uint8_t out[16]);
/* relay_client_addr_from_xff writes the client address of an
 * X-Forwarded-For value v[0..len) sent by a trusted peer: its last element,
 * or the one before it when that is a trusted proxy too (up to
 * RELAY_XFF_MAX_HOPS). 0, or -EINVAL when an element read is not an
 * address. */
int relay_client_addr_from_xff(const struct relay_server *srv, const char *v, size_t len, uint8_t out[16]);

/* ---- accept.c ---- */
/* relay_accept_start runs the accept loop of th's listener which (0: --port,
 * 1: --plain-port) in a new coroutine. 0 or -ENOMEM. */
int relay_accept_start(struct relay_thread *th, int which, bool tls);

/* ---- upgrade.c: from an accepted socket to a session ---- */
struct relay_upgrade_arg {
	struct relay_thread *th;
	int fd;                         /* admitted (relay_admit) */
	bool tls;
	bool via_proxy;                 /* the peer is a --trusted-proxy: admitted with NULL */
	uint8_t ip[16];                 /* relay_addr_key of the socket's peer */
};
/* relay_upgrade_run is an accepted connection's coroutine (takes arg,
 * malloc'd): reads the request, answers it or joins its session, then runs
 * the connection (relay_conn_run). */
void relay_upgrade_run(void *arg);
/* relay_hs_shed_oldest ends th's oldest handshake still reading its head:
 * one that sent part of a head and waited first, then one that has had
 * its chance to read (a pass after its first read), or with any, the
 * oldest of all. Returns RELAY_SHED_ONE if it ended one (its descriptor
 * closes once its coroutine runs); else RELAY_SHED_TOO_YOUNG if only
 * handshakes yet to have their chance are left (never with any), or
 * RELAY_SHED_NONE. relay_hs_interrupt_all wakes them all (stop). */
enum relay_shed { RELAY_SHED_ONE, RELAY_SHED_TOO_YOUNG, RELAY_SHED_NONE };
enum relay_shed relay_hs_shed_oldest(struct relay_thread *th, bool any);
void relay_hs_interrupt_all(struct relay_thread *th);

/* ---- status.c ---- */
/* relay_status_serve answers route (RELAY_HTTP_ROUTE_HEALTH, _STATS,
 * _METRICS) on st; relay_send_plain sends one plain HTTP response that
 * closes the connection. Suspend. */
void relay_status_serve(struct relay_server *srv, struct net_stream *st, int route);
void relay_send_plain(struct net_stream *s, int status, const char *ctype, const char *body, size_t body_len);

/* ---- pairing.c: the session table, joining, pairing, teardown ---- */
/* relay_session_join takes st (upgraded, 101 not yet sent) into session id:
 * sends 101 (or 409/503) and pairs. Returns the connection, which the
 * caller then runs with relay_conn_run from as shallow a stack frame as it
 * can (an idle connection hibernates with the frames below it), or NULL
 * when it was refused or already ended (st is closed and the connection
 * released then). */
struct relay_conn *relay_session_join(struct relay_thread *th, struct net_stream *st, const char *id, size_t id_len,
				      const char *accept, const uint8_t ip[16]);
uint64_t relay_session_hash(const struct relay_server *srv, const char *id, size_t len);
/* relay_conn_end ends c: our Close (own_code, 0 for none) and a linger for
 * the client's, the peer told (peer_code), the connection released, the
 * session freed with its last connection. Suspends. */
void relay_conn_end(struct relay_conn *c, uint16_t own_code, const char *own_reason, uint16_t peer_code);
void relay_thread_stop_conns(struct relay_thread *th);

/* ---- conn.c ---- */
/* relay_conn_run forwards c's frames until the connection ends, then tears
 * it down (and the session with its last connection). */
void relay_conn_run(struct relay_conn *c);

/* ---- forward.c: decoding, forwarding, holding ---- */
enum relay_fwd_result {
	FWD_OK = 0,
	FWD_PEER_GONE = 1,   /* sending to the peer failed */
	FWD_CLOSE = 2,       /* the client sent Close, or failed: see struct fwd_end */
};
/* How a connection's forwarding ended, for relay_conn_run's goodbye. */
struct fwd_end {
	uint16_t close_code;            /* code for our own client when failing */
	const char *close_reason;
	uint16_t client_close;          /* the code the client closed with */
};
/* relay_forward feeds buffer first (released here) and those queued behind
 * it through the decoder and forwards them (or holds them before the peer
 * comes). FWD_OK, or how the connection must end (*end says more).
 * Suspends. */
int relay_forward(struct relay_conn *c, struct net_chunk *first, struct fwd_end *end);
/* relay_conn_ctl_free frees c's control frame buffer unless a control
 * frame is half read; the next control frame allocates it again. For a
 * connection about to wait idle, and at its end (c->in_frame false). */
void relay_conn_ctl_free(struct relay_conn *c);
/* The relay's own frames to c's client (pong, ping, close, the notice),
 * under c's write lock. 0 or -errno. Suspend. */
int relay_conn_send_frame(struct relay_conn *c, uint8_t opcode, const void *payload, size_t len, int timeout_ms);
int relay_conn_send_close(struct relay_conn *c, uint16_t code, const char *reason);
/* relay_hold_full: c must stop reading until its peer comes (--hold or
 * --hold-total). relay_hold_free frees a hold and gives back its count. */
bool relay_hold_full(const struct relay_conn *c);
void relay_hold_free(struct relay_server *srv, uint8_t *hold, size_t cap);

#endif
