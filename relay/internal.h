#ifndef RELAY_INTERNAL_H
#define RELAY_INTERNAL_H
/* relay/internal.h: shared inside relay/ only. */
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
#include "relay/server.h"
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
	uint8_t ctl[RELAY_WS_MAX_CONTROL_PAYLOAD];
	uint8_t ctl_len;
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
	uint8_t ip[16];                 /* client address, relay_addr_key form */
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

struct relay_thread {
	struct relay_server *srv;
	unsigned idx;
	struct relay_session **buckets;
	unsigned num_buckets, num_sessions;
	struct relay_conn *conns;       /* all connected clients, for shutdown */
	struct relay_hs *hs_head, *hs_tail; /* handshakes reading their head, oldest first */
	struct core_coro *trimmer;      /* reactor 0: the heap trimmer, while it sleeps */
	struct core_listener *l[2];     /* [0] --port, [1] --plain-port */
	struct core_shutdown_hook hook;
	bool stopping;
	_Atomic uint64_t bytes, msgs;
};

struct ip_count {
	struct ip_count *next;
	uint8_t addr[16];
	unsigned count;
};

struct relay_server {
	struct relay_opts o;
	struct core_rt *rt;
	struct relay_thread *th;
	int *listen_fds;                /* [thread * 2 + which] */
	uint16_t port, plain_port;
	pthread_mutex_t tls_lock;       /* guards tls: swapped on SIGHUP */
	struct net_tls_ctx *tls;
	uint64_t hash_seed;
	uint64_t started_ns;
	pthread_mutex_t ip_lock;        /* connection set-up only, not the data path */
	struct ip_count *ips[4096];
	_Atomic uint64_t sessions_now, active, waiting, connections, total_sessions, total_connections;
	_Atomic uint64_t rejected_409, rejected_400, rejected_limit, handshake_timeouts;
	_Atomic uint64_t protocol_errors, too_big, keepalive_timeouts;
	_Atomic uint64_t held;          /* bytes allocated for holds, all sessions (--hold-total) */
	_Atomic uint64_t handshakes;    /* reading their HTTP head now, all threads */
	_Atomic uint64_t shed;          /* handshakes ended early to admit newer ones */
	uint64_t max_conns;             /* connections at once: the descriptor budget */
};

/* session.c */
/* relay_session_join takes st (upgraded, 101 not yet sent) into session id:
 * sends 101 (or 409/503) and pairs. Returns the connection, which the
 * caller then runs with relay_session_run from as shallow a stack frame as
 * it can (an idle connection hibernates with the frames below it), or NULL
 * when it was refused or already ended (st is closed then). */
struct relay_conn *relay_session_join(struct relay_thread *th, struct net_stream *st, const char *id, size_t id_len,
				      const char *accept, const struct sockaddr_storage *addr);
/* relay_session_run forwards c's frames until the connection ends, then
 * tears it down (and the session with its last connection). */
void relay_session_run(struct relay_conn *c);
uint64_t relay_session_hash(const struct relay_server *srv, const char *id, size_t len);
void relay_thread_stop_conns(struct relay_thread *th);

/* server.c */
void relay_ip_release(struct relay_server *srv, const struct sockaddr_storage *addr);
/* relay_addr_key writes addr's IP as 16 bytes (IPv4 in the last four): the
 * per-IP limit's key, and what a connection keeps of its address. */
void relay_addr_key(const struct sockaddr_storage *addr, uint8_t out[16]);
/* relay_ip_release_key is relay_ip_release for a key from relay_addr_key. */
void relay_ip_release_key(struct relay_server *srv, const uint8_t key[16]);
/* relay_addr_key_str writes a key's address as text ("192.0.2.1", "2001:db8::1"). */
const char *relay_addr_key_str(const uint8_t key[16], char out[static 46]);

/* Log limits for what strangers can cause: refused requests and protocol
 * errors (info, 10 lines a second each), accept failures (warn, 1 a
 * second). server.c. */
extern struct core_log_limit relay_log_refused, relay_log_protocol, relay_log_accept;


#endif
