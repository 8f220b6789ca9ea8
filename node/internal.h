#ifndef NODE_INTERNAL_H
#define NODE_INTERNAL_H
/* node/internal.h: the daemon's state and the helpers its files share
 * (node/ only). One struct node per running node, passed to every function
 * that needs it; coroutines get it through their argument.
 *
 * Everything runs as coroutines on one reactor thread (a node is small):
 *   udp_reader      datagrams: e2e packets, and STUN answers for the
 *                   refresher (daemon.c)
 *   node_stun_refresher  re-discovers the public endpoint (every ~60 s, sooner
 *                   when a peer sees us at a new address or a direct path
 *                   dies) (discovery.c)
 *   link_run        one per relay link: connect, read, reconnect with
 *                   backoff; every peer has a link on every relay of the
 *                   mesh (relay_link.c)
 *   node_ticker     every 200 ms: punching, keepalives, path liveness,
 *                   retries (ticker.c)
 *   control         the unix socket; one coroutine per client (control.c) */
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/log.h"
#include "core/reactor.h"
#include "core/sock.h"
#include "core/udp.h"
#include "node/birthday.h"
#include "node/family.h"
#include "node/e2e.h"
#include "node/member.h"
#include "node/node.h"
#include "node/pake.h"
#include "node/path.h"
#include "node/pmtu.h"
#include "node/ratelimit.h"
#include "node/relay_rank.h"
#include "node/session.h"
#include "node/token.h"
#include "node/lazy.h"
#include "node/wire.h"
#include "relay/client.h"
#include "stun/client.h"
#include "stun/ports.h"

struct node_link;
struct node_overlay;

struct portmap;
struct node_peer;

/* A UDP socket of the node other than node->udp: one of hard-NAT probing's
 * (node/hardnat.c). While an attempt runs it is a plain non-blocking fd the
 * attempt polls (u NULL); the one a probe arrives on is adopted: u wraps fd
 * on the reactor, a reader coroutine owns it and ends (closing it) once it
 * no longer carries p's direct path (p->direct_sock points elsewhere). */
struct node_usock {
	int fd;
	struct core_udp *u;
	struct node *node;
	struct node_peer *p;
};

struct node_peer {
	bool used;
	char node_id[NODE_TOKEN_MAX_ID_LEN + 1];
	char name[NODE_TOKEN_MAX_NAME_LEN + 1];
	uint8_t pub[32];
	uint8_t psk[32];
	bool joiner;            /* we admit it: send WELCOME */
	bool hello_sent;
	uint64_t peer_boot;     /* its last HELLO's "boot" (0: no HELLO yet, or an older node) */
	bool welcomed;
	struct node_e2e_handshake hs;
	bool hs_live;
	unsigned hs_tries;      /* initiations sent since the last session */
	uint64_t hs_sent_ms;
	uint8_t hs_init[NODE_E2E_INIT_LEN];
	struct node_sessions ss;        /* see node/session.h */
	uint8_t last_ts[NODE_E2E_TIMESTAMP_LEN];
	struct node_link *relay;
	struct node_rank_hyst relay_hyst;       /* moving relay by RTT (node/relay_rtt.c) */
	struct sockaddr_storage direct;
	socklen_t direct_len;
	bool direct_ok;
	struct node_usock *direct_sock; /* the socket of the direct path; NULL: node->udp */
	uint64_t direct_rx_ms, rx_ms, tx_direct_ms;
	uint64_t direct_wait_ms;        /* our first send on the direct path asking for an answer since direct_rx_ms */
	bool keep_answers;      /* it sent a KEEP with a body: it answers ours (node/wire.h, NODE_KEEPALIVE_IDLE_MS) */
	bool ring;              /* one of our ring neighbours (node/lazy.h) */
	struct node_pmtu pmtu;  /* the direct path's overlay MTU (node/pmtu.h) */
	uint64_t traffic_ms;    /* the last text or overlay packet, either way, any path (node_msg_is_traffic) */
	struct sockaddr_storage cand[NODE_MAX_CAND];
	socklen_t cand_len[NODE_MAX_CAND];
	uint8_t cand_flags[NODE_MAX_CAND];     /* NODE_CAND_TRIED | NODE_CAND_ANSWERED (node/candidate.c) */
	int num_cand;
	uint64_t punch_until_ms, next_punch_ms, next_repunch_ms;
	uint32_t repunch_gap_ms;        /* 0: the next background punch is the first */
	bool ttl_sent;
	uint64_t last_punch_req_ms;     /* when a peer's NODE_MSG_PUNCH last started one */
	uint64_t bytes_in, bytes_out;
	double rtt_ms;
	uint64_t ping_id;
	uint64_t next_rtt_ms;
	struct core_coro *ping_waiter;
	uint64_t last_seen_unix;
	/* Wall-clock ms (CLOCK_REALTIME, 0: not yet) of the first authenticated
	 * packet from it since this node started, and of the moment the current
	 * direct path opened: `peers --json` shows them so that a bench reads
	 * times to the millisecond instead of polling (bench/punch.sh). */
	uint64_t first_session_unix_ms;
	uint64_t direct_since_unix_ms;
	/* Lazy relay links (node/lazy.h): when traffic or a knock last wanted
	 * a session with it (ring: it is one of our ring neighbours, below). */
	uint64_t want_ms;
	uint64_t call_ms;       /* when we last called it at its doorbell */
	struct node_idle_ask idle; /* whether idle pair links may close (node/lazy.h) */
	char observed[64];      /* where the peer last said it sees us ("" before it said) */
	/* Membership sync with this peer (node/gossip.c): what it lacks, by
	 * slot of node->mem (sent a few per tick), the digest we are sending
	 * it, and the budget of membership messages it may send us. */
	uint8_t want_entry[NODE_MEMBER_MAX / 8];
	uint8_t want_removal[NODE_MEMBER_MAX / 8];
	bool want_any;
	bool dig_active;
	uint64_t dig_started_ms;
	uint8_t dig_lo[32];
	bool sum_due;           /* a session (re)started: a summary is owed */
	bool sum_heard;         /* its summary arrived in this session */
	unsigned sum_tries;     /* summaries sent in this session */
	uint64_t sum_sent_ms;
	double mem_tokens;
	uint64_t mem_rx_ms;
	bool have_sign_pub;     /* its Ed25519 key, from HELLO (to admit a joiner) */
	uint8_t sign_pub[32];
	enum node_nat_kind peer_nat;    /* what its HELLO said (UNKNOWN: nothing, or an older node) */
	struct node_bday bday;          /* hard-NAT probing with it (node/birthday.h) */
};

/* node_peer_name: how logs name a peer: its name, else its node id. */
static inline const char *node_peer_name(const struct node_peer *p)
{
	return p->name[0] ? p->name : p->node_id;
}

/* A short code waiting for its joiner (node/short_code.c); its policy is
 * node/pake.h's struct node_pake_offer. */
struct node_offer {
	bool used;
	struct node_pake_offer pol;
	char code[NODE_PAKE_CODE_LEN + 1];      /* secret: the password */
	char sid[NODE_PAKE_SESSION_ID_LEN + 1]; /* its rendezvous on the relays */
	char *full;             /* the full code it hands over (secret), until used */
	size_t full_len;
	uint8_t invite_id[NODE_TOKEN_INVITE_ID_LEN];
};

struct node_link {
	bool used;
	char url[NODE_TOKEN_MAX_URL_LEN + 1];
	char session[72];
	struct relay_client *c;
	struct node *node;
	struct node_peer *peer;     /* bound after a handshake on it */
	bool up;                /* connected (waiting or paired) */
	uint64_t rx_ms, tx_ms;  /* the bound peer's last packet this way; our last one */
	uint64_t wait_ms;               /* our first send asking for an answer since rx_ms (node_path_sent) */
	uint64_t silent_until_ms;       /* carried nothing back: not chosen until then */
	bool inbox;             /* waits for joiners */
	uint64_t until_unix;    /* an inbox: its invite's expires_at, when it closes (node_links_expire) */
	bool join;              /* ours to an invite's inbox, while we join */
	bool catchup;           /* on the previous epoch's pair session (node_link_open_pair) */
	bool doorbell;          /* our doorbell (node/lazy.h): unbound until a caller knocks */
	bool call;              /* ours to a member's doorbell: one connection, then it closes */
	uint64_t opened_ms;     /* a call: when it was opened */
	uint64_t bound_ms;      /* a doorbell: when a caller knocked (0: none since it reopened) */
	struct node_offer *offer;       /* a short code's rendezvous: PAKE messages, not e2e */
	struct node_pake *pake;         /* the exchange under way on it */
	uint64_t pake_deadline_ms;
	bool closing;
	/* Sends under way on c from other coroutines (each may suspend):
	 * link_run frees c only when none is left, or the send would resume
	 * into a freed client (a crash seen when a relay died mid-send). */
	unsigned sending;
	struct core_coro *co;
	/* The relayed path's RTT through this link (node/relay_rtt.c): the
	 * EWMA, the probe outstanding (sent_ns 0: none) and the next one. */
	struct node_rtt rtt;
	uint64_t probe_id, probe_sent_ns, next_probe_ms;
};

struct node_text_msg {
	char from[NODE_TOKEN_MAX_NAME_LEN + NODE_TOKEN_MAX_ID_LEN + 4];
	char *text;
};

struct node_follower {
	struct core_sock *s;
	struct core_coro *co;   /* ctl_conns: the coroutine serving s */
	struct node_follower *next;
};

struct node {
	struct node_state *st;
	const struct node_run_opts *o;
	struct core_rt *rt;
	struct core_udp *udp;
	uint16_t port;
	/* The IPv6 socket (node/udp6.c, node/family.h): NULL without IPv6. */
	struct core_udp *udp6;
	uint16_t port6;
	char public_ep6[64];          /* from an IPv6 STUN server, "" without one */
	/* IPv6 refreshes (node_udp6_refresh): udp6_reader feeds the answers
	 * once it runs (udp6_reading); cands6 is the IPv6 candidate list last
	 * announced, as JSON, to notice a change of the host's addresses. */
	struct stun_feed feed6;
	struct stun_discovery disc6;
	bool udp6_reading;
	unsigned stun6_refreshes;
	/* Peers' announced candidates refused, per reason (node/family.h). */
	uint64_t cand_refused[NODE_REFUSE_COUNT];
	char cands6[NODE_TOKEN_MAX_IPV6_ENDPOINTS * 72 + 8];
	struct core_shutdown_hook stop_hook6;
	/* UDP GRO on the sockets (node_udp_receive, core/udpgro.h): whether
	 * the runtime has the GRO ring (the switch was on and --tun asked),
	 * whether the IPv4 socket took UDP_GRO, receives that held more than
	 * one datagram and the datagrams in them, receives dropped because
	 * their control data could not be read. gro_trim_due: a coalesced
	 * receive filled GRO buffers since the last core_buf_trim, the last
	 * one at gro_last_ms (the ticker trims once traffic pauses). */
	bool gro_ring, udp_gro, udp6_gro; /* udp_gro: the IPv4 socket; udp6_gro: the IPv6 one */
	bool gro_trim_due;
	uint64_t gro_receives, gro_datagrams, gro_malformed;
	uint64_t gro_last_ms;
	struct node_e2e_keypair kp;
	uint8_t mesh_psk[32];
	/* Slots [0, peers_hi) and [0, links_hi) may be in use, none above:
	 * every scan stops there. A new peer or link takes the first free
	 * slot, so with few peers the tables' other pages (5.7 MB of them:
	 * 1,032 x 3.5 KiB peers, 4,224 x 472 B links) are never touched, not
	 * even read (a read faults a page in, docs/PERFORMANCE.md). Only grow. */
	size_t peers_hi, links_hi;
	struct node_peer peers[NODE_MAX_PEERS + 8];
	struct node_link links[NODE_MAX_LINKS];
	char local_ep[64], public_ep[64];
	char nat_note[64];
	/* STUN refreshes through our own socket: udp_reader feeds the answers. */
	struct stun_feed feed;
	struct stun_discovery disc;   /* the last discovery's result (large: not on a coroutine stack) */
	struct core_coro *stun_co;    /* the refresher, when STUN is in use */
	uint64_t next_stun_ms, last_stun_ms;
	unsigned stun_refreshes;
	uint64_t public_changed_unix; /* when the public endpoint last changed (0: never) */
	enum node_nat_kind nat_kind;  /* from the last discovery that could tell */
	/* Our NAT's port allocation (IPv4), sampled once after the first
	 * discovery (node_ports_measure) from the server that answered it;
	 * ports.last moves on when the hard side asks again (node_ports_last).
	 * Hard-NAT probing's prediction ('S', node/birthday.h) comes from it. */
	struct stun_port_samples ports;
	bool ports_measured;
	struct sockaddr_storage ports_srv;
	socklen_t ports_srv_len;
	struct node_peer *bday_peer;  /* the one hard-NAT probing attempt running, or NULL */
	struct portmap *pm;           /* the home router's port mapping, or NULL (port_mapping.c) */
	char mapped_ep[64];           /* the endpoint it maps to us, "" without one */
	char mapped_proto[8];         /* "pcp", "natpmp", "upnp" or "" */
	/* join in progress (joiner side) */
	bool joining, joined, join_failed, welcomed;
	struct node_token tok;
	struct node_peer *issuer;
	uint64_t join_started_ms;
	bool said_direct, said_relay;
	uint64_t issuer_session_ms;   /* when the session with the issuer began */
	struct core_sock *join_out;   /* control client following a join, or NULL: stdout */
	/* received texts for `atmosphere recv` */
	struct node_text_msg inbox[NODE_MAX_INBOX_MSGS];
	struct node_offer offers[NODE_PAKE_MAX_OFFERS]; /* short codes (node/short_code.c) */
	unsigned inbox_head, inbox_len;
	struct node_follower *followers;
	struct node_follower *ctl_conns;       /* every control client being served (control.c) */
	struct node_ratelimit init_rl; /* handshake initiations, the whole node */
	/* Membership (node/gossip.c); mem is NULL for a mesh from before it. */
	struct node_members *mem;
	uint8_t sign_pub[32], sign_priv[64];
	uint64_t boot_id;       /* random per start: HELLO's "boot", tells a peer we restarted */
	bool mem_dirty;
	uint64_t mem_saved_ms;
	double mem_tokens;      /* membership messages, the whole node */
	uint64_t mem_rx_ms;
	bool removed;           /* a removal of this node arrived */
	struct core_listener *ctl;
	bool ctl_created;       /* we made control.sock: remove it at exit */
	bool stopping;
	int exit_code;
	struct core_shutdown_hook stop_hook;
	struct node_run_opts opts;    /* o points here */
	struct node_overlay *ov;      /* the IP overlay (node/overlay.h), NULL when off */
	struct core_log_limit relay_log;      /* relay link failures (node/relay_link.c) */
	/* Lazy relay links (node/lazy.h): the mode, its settings (read from
	 * the environment once), the member count it was decided on, and the
	 * next look and ring recomputation. */
	bool lazy, lazy_env;
	uint64_t lazy_at, lazy_idle_ms, lazy_ring, lazy_max_linked;
	size_t lazy_members;
	/* Links refused at the cap on members linked at once, and the last
	 * refusal's time (node_lazy_room). */
	uint64_t lazy_refused, lazy_refused_ms, lazy_refused_said_ms;
	uint64_t lazy_next_ms, lazy_ring_ms;
};

/* node/addr.c */
uint64_t node_now_ms(void);
uint64_t node_wall_ms(void);    /* CLOCK_REALTIME in ms: only for what people and benches read */
void node_copy_str(char *dst, size_t cap, const char *src);
void node_fmt_addr(const struct sockaddr_storage *a, char *out, size_t cap);
bool node_parse_ep(const char *s, struct sockaddr_storage *out, socklen_t *len);
bool node_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
bool node_is_lan(const struct sockaddr_storage *a);
json_object *node_candidates_json(struct node *node);
void node_local_endpoint(struct node *node);

/* node/udp6.c */
void node_udp6_start(struct node *node);
void node_udp6_candidates(struct node *node, json_object *arr);
void node_udp6_token_endpoints(struct node *node, struct node_token *t);
void node_udp6_refresh(struct node *node);

/* node/candidate.c */
enum { NODE_CAND_TRIED = 1, NODE_CAND_ANSWERED = 2 };
void node_cand_mark(struct node_peer *p, const struct sockaddr_storage *a, uint8_t flag);
json_object *node_peer_candidates_json(const struct node_peer *p);
bool node_cand_accept(struct node *node, const struct node_peer *p, const char *s, struct sockaddr_storage *a,
		      socklen_t *al);

/* node/peer.c */
bool node_peer_ready(const struct node_peer *p);
/* Whether slot p still holds the member whose key is pub: a coroutine that
 * suspended (a send, a wait) looks again, the slot may have been freed and
 * reused meanwhile. */
bool node_peer_holds(const struct node_peer *p, const uint8_t pub[32]);
struct node_peer *node_peer_by_pub(struct node *node, const uint8_t pub[32]);
struct node_peer *node_peer_by_name(struct node *node, const char *s);
struct node_peer *node_peer_new(struct node *node, const uint8_t pub[32]);
/* node_peer_add_candidate returns whether a was new to p. */
bool node_peer_add_candidate(struct node_peer *p, const struct sockaddr_storage *a, socklen_t len);
int node_send_udp(struct node *node, const struct sockaddr_storage *to, socklen_t len, const uint8_t *pkt, size_t n, int ttl);
int node_send_udp_on(struct node *node, struct node_usock *sock, const struct sockaddr_storage *to, socklen_t len,
		     const uint8_t *pkt, size_t n, int ttl);
int node_peer_send_via(struct node *node, struct node_peer *p, struct node_usock *sock, uint8_t type, const void *body,
		       size_t len, const struct sockaddr_storage *to, socklen_t to_len, int ttl);
int node_peer_send_to(struct node *node, struct node_peer *p, uint8_t type, const void *body, size_t len,
			const struct sockaddr_storage *to, socklen_t to_len, int ttl);
int node_peer_send(struct node *node, struct node_peer *p, uint8_t type, const void *body, size_t len);
/* For batches of overlay packets sent with UDP GSO (node/overlay.c).
 * node_peer_direct_udp: the socket p's direct path sends on, or NULL when
 * node_peer_send would not send on a reactor socket's direct path (no
 * session, no direct path, --relay-only, a probing socket not adopted).
 * node_peer_seal_direct: seals a message for p's direct path into
 * out[0..cap) and its length to *out_len, counted as node_peer_send counts
 * a direct send (bytes_out, traffic and send times); the caller sends it on
 * p->direct from node_peer_direct_udp's socket before it suspends.
 * Returns 0, -ENOTCONN (no session or direct path) or -EPROTO (sealing
 * refused: session expired, no room). */
struct core_udp *node_peer_direct_udp(const struct node *node, const struct node_peer *p);
int node_peer_seal_direct(struct node_peer *p, uint8_t type, const void *body, size_t len, uint8_t *out, size_t cap,
			  size_t *out_len);
int node_peer_send_on_link(struct node *node, struct node_peer *p, struct node_link *l, uint8_t type, const void *body,
			   size_t len);
void node_peer_send_json(struct node *node, struct node_peer *p, uint8_t type, json_object *o);
void node_save_state(struct node *node);
void node_peer_remember(struct node *node, struct node_peer *p);

/* node/handshake.c */
void node_peer_install_session(struct node_peer *p, const struct node_e2e_session *ns);
void node_handshake_start(struct node *node, struct node_peer *p, const uint8_t *app);
void node_handshake_kick(struct node *node, struct node_peer *p, struct node_link *l);
void node_on_packet(struct node *node, const uint8_t *pkt, size_t len, const struct sockaddr_storage *from, socklen_t from_len,
		      struct node_link *l, struct node_usock *rx);

/* node/daemon.c */
/* node_udp_receive hands one receive of a node UDP socket (the IPv4 or
 * the IPv6 one) to the node: each datagram in it (several with UDP GRO,
 * cut by core/udpgro.h, in order) to node_on_packet, or STUN to feed.
 * Does not release d's lease. Does not suspend. */
void node_udp_receive(struct node *node, const struct core_dgram *d, struct stun_feed *feed);
/* node_udp_gro_enable puts UDP GRO on u when the runtime has the ring for
 * it; logs when the kernel refuses (the socket then reads one datagram per
 * receive, as without). Returns whether it is on. */
bool node_udp_gro_enable(struct node *node, struct core_udp *u, const char *what);

/* node/message.c */
void node_send_hello(struct node *node, struct node_peer *p);
void node_send_observed(struct node *node, struct node_peer *p);
void node_handle_plain(struct node *node, struct node_peer *p, const uint8_t *m, size_t n, const struct sockaddr_storage *from,
		       struct node_link *l);

/* node/path.c */
enum node_path_kind node_peer_path(const struct node_peer *p);
/* node_mark_direct: a verified packet from `from` (asks: it is the peer's
 * keepalive asking for an answer, node/wire.h NODE_KEEP_ASK). */
void node_mark_direct(struct node *node, struct node_peer *p, const struct sockaddr_storage *from, socklen_t len,
		      struct node_usock *rx, bool asks);
bool node_link_paired(const struct node_link *l);
size_t node_link_rank(struct node *node, const struct node_link *l);
void node_pick_relay(struct node *node, struct node_peer *p);
/* node_link_live returns relay link l's liveness state (node/path.h) for
 * peer p; node_link_sent_waits notes a send on l at t that asks for an
 * answer (node_path_sent). */
struct node_path_live node_link_live(const struct node_peer *p, const struct node_link *l);
void node_link_sent_waits(struct node_peer *p, struct node_link *l, uint64_t t);
/* The same for p's direct path. */
struct node_path_live node_direct_live(const struct node_peer *p);
void node_direct_sent_waits(struct node_peer *p, uint64_t t);

/* node/punch.c */
void node_punch_start(struct node_peer *p, uint64_t t, uint64_t ms);
void node_punch(struct node *node, struct node_peer *p, uint64_t t);

/* node/discovery.c: our NAT's port allocation (stun/ports.h) */
/* node_ports_measure starts sampling it in the background after a discovery
 * d that saw a NAT (once per run; nothing otherwise). Does not suspend. */
void node_ports_measure(struct node *node, const struct stun_discovery *d);
/* node_ports_last asks the server once more from a fresh socket and returns
 * the port that new mapping got (node->ports.last moves to it), or the last
 * port known when nobody answers within NODE_PORTS_LAST_MS; 0 when the
 * pattern is not sequential. Suspends (at most NODE_PORTS_LAST_MS). */
uint16_t node_ports_last(struct node *node);

/* node/hardnat.c: hard-NAT probing's I/O (node/birthday.h) */
/* node_hardnat_role: this node's part in hard-NAT probing with p
 * (node_bday_role of the two NAT kinds); NONE under `--hard-nat off`. */
enum node_bday_role node_hardnat_role(const struct node *node, const struct node_peer *p);
void node_hardnat_tick(struct node *node, struct node_peer *p, uint64_t t);
void node_hardnat_on_message(struct node *node, struct node_peer *p, const uint8_t *m, size_t n);
void node_hardnat_direct_lost(struct node_peer *p, uint64_t t);

/* node/ticker.c */
void node_ticker(void *arg);

/* node/relay_link.c */
bool node_peer_has_links(struct node *node, const struct node_peer *p);
void node_send_on_links(struct node *node, struct node_peer *p, const uint8_t *pkt, size_t n);
int node_send_on_link(struct node_link *l, const uint8_t *pkt, size_t n);
void node_inbox_session(char out[72], const uint8_t invite_key[32]);
struct node_link *node_link_open(struct node *node, const char *url, const char *session, bool inbox, struct node_peer *peer);
void node_link_open_pair(struct node *node, struct node_peer *p);
/* node_link_open_inbox opens an invite's inbox on url, closed by
 * node_links_expire once now_unix reaches expires_at (unix seconds): an
 * expired invite's inbox would otherwise keep a relay connection, and the
 * relay's pings on it, until the node stops. */
void node_link_open_inbox(struct node *node, const char *url, const char *session, uint64_t expires_at);
/* node_link_close marks l closing and interrupts its coroutine's wait: the
 * client's receive when connected, else the connect or the reconnect
 * backoff. The coroutine then ends and frees the slot. */
void node_link_close(struct node_link *l);
void node_links_expire(struct node *node, uint64_t now_unix);
void node_link_close_catchup(struct node *node, const struct node_peer *p);
size_t node_peer_catchup_links(struct node *node, const struct node_peer *p);

/* node/relay_rtt.c */
void node_link_rank_cand(struct node *node, const struct node_link *l, struct node_rank_cand *out);
void node_relay_rtt_tick(struct node *node, struct node_peer *p, uint64_t t);
void node_relay_rtt_on_message(struct node *node, struct node_peer *p, struct node_link *l, const uint8_t *m, size_t n);
json_object *node_relay_rtts_json(struct node *node, const struct node_peer *p);

/* node/join.c */
void node_say(struct node *node, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void node_join_finish(struct node *node);
void node_on_welcome(struct node *node, struct node_peer *p, json_object *o);
int node_join_begin(struct node *node, const char *code, char *err, size_t err_len);
int node_issue_code(struct node *node, uint64_t ttl_s, uint64_t short_ttl_s, char *code, size_t cap, char *shortc,
		    bool *short_works, char *err, size_t err_len);
void node_open_inboxes(struct node *node);

/* node/short_code.c */
int node_offer_add(struct node *node, const char code[static NODE_PAKE_CODE_LEN + 1], const char *full, size_t full_len,
		   const uint8_t invite_id[static NODE_TOKEN_INVITE_ID_LEN], uint64_t ttl_ms);
void node_offer_on_message(struct node *node, struct node_link *l, const uint8_t *data, size_t len);
void node_offer_link_down(struct node *node, struct node_link *l);
void node_offer_retire(struct node *node, const uint8_t invite_id[static NODE_TOKEN_INVITE_ID_LEN]);
void node_offer_tick(struct node *node, uint64_t t);
void node_offers_cleanup(struct node *node);

/* node/gossip.c */
void node_gossip_start(struct node *node);
void node_gossip_publish(struct node *node);
/* node_gossip_republish: node_gossip_publish when what the entry announces
 * (endpoints of either family, name, relays) differs from the one in the
 * table; nothing otherwise. */
void node_gossip_republish(struct node *node);
/* node_gossip_entry_candidates sets p's id and name from member entry m and
 * adds its endpoints (IPv4, then IPv6) to p's candidates, each through
 * node_cand_accept (refusals logged and counted in node->cand_refused).
 * Returns how many IPv6 candidates it took. */
size_t node_gossip_entry_candidates(struct node *node, struct node_peer *p, const struct node_member *m);
void node_gossip_session(struct node *node, struct node_peer *p);
void node_gossip_on_message(struct node *node, struct node_peer *p, const uint8_t *m, size_t n);
void node_gossip_tick(struct node *node, uint64_t t);
bool node_gossip_refuses(struct node *node, const uint8_t pub[32]);
struct node_peer *node_gossip_peer(struct node *node, const uint8_t pub[32]);
void node_gossip_connect_all(struct node *node);
void node_gossip_welcome(struct node *node, struct node_peer *p, json_object *w);
bool node_gossip_on_welcome(struct node *node, json_object *o);
json_object *node_gossip_remove(struct node *node, const char *who);
json_object *node_gossip_rotate(struct node *node);
void node_peer_forget(struct node *node, struct node_peer *p);
bool node_gossip_pin_names(struct node *node, struct node_peer *p);
bool node_gossip_id_taken(struct node *node, const struct node_peer *p, const char *id);

/* node/control.c */
void node_control_server(void *arg);

/* node/discovery.c */
void node_discover(struct node *node);
void node_want_stun_refresh(struct node *node, const char *why);
void node_stun_refresher(void *arg);
void node_resignal(struct node *node);

/* node/port_mapping.c */
void node_port_mapping_start(struct node *node);
void node_port_mapping_stop(struct node *node);

#endif
