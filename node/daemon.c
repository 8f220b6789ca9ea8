/* The node daemon: one UDP socket for direct paths and STUN, relay links for
 * signaling and fallback, end-to-end encrypted sessions with every peer, and
 * a control socket for the other commands. See docs/NODE.md.
 *
 * Everything runs as coroutines on one reactor thread (a node is small):
 *   udp_reader    datagrams: e2e packets, and STUN answers for the refresher
 *   stun_refresher  re-discovers the public endpoint (every ~60 s, sooner
 *                 when a peer sees us at a new address or a direct path dies)
 *   link_run      one per relay link: connect, read, reconnect with backoff;
 *                 every peer has a link on every relay of the mesh
 *   ticker        every 200 ms: punching, keepalives, path liveness, retries
 *   control       the unix socket; one coroutine per client
 * Packets are e2e messages (node/e2e.h) on either path: a UDP datagram, or a
 * binary WebSocket message through the relay. A path is "verified" only by
 * an authenticated packet arriving over it. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/reactor.h"
#include "core/sock.h"
#include "core/udp.h"
#include "net/b64.h"
#include "net/bssl.h"
#include "node/e2e.h"
#include "node/token.h"
#include "relay/client.h"
#include "stun/client.h"
#include "stun/resolve.h"
#include "node/node.h"

#define TICK_MS 200
#define KEEPALIVE_MS 2000          /* on an idle direct path: 48 B / 2 s = 24 B/s */
#define DIRECT_DEAD_MS 6500        /* three keepalives missed: back to the relay */
#define PUNCH_WINDOW_MS 10000
#define PUNCH_EVERY_MS 250
/* On the relay, keep trying direct in the background: a short punch both
 * sides run at once (the lower node id leads and starts the other with
 * MSG_PUNCH over the relay): at once when a direct path is lost, then after
 * gaps of 15 s doubling up to 2 min; new candidates (a HELLO) start the
 * sequence again after their own punch window. A pair that cannot go direct
 * (symmetric NATs) then costs a few bytes a second. */
#define REPUNCH_FIRST_MS 15000
#define REPUNCH_MAX_MS 120000
#define REPUNCH_WINDOW_MS 1500
#define HANDSHAKE_RETRY_MS 2000
#define RTT_EVERY_MS 30000         /* a 17-byte ping for `peers`' RTT column (`ping` measures now) */
/* A direct address silent this long gives way to another that works (the
 * peer's NAT rebound it, or the peer roamed): two keepalive intervals and
 * some slack, so an address that works is never left for another. */
#define DIRECT_STALE_MS 4500
/* The public endpoint is re-discovered every 60 s +- 15 s, and 1 s after a
 * sign that the mapping changed, but never twice within 5 s. */
#define STUN_REFRESH_MS 60000
#define STUN_REFRESH_JITTER_MS 15000
#define STUN_REFRESH_SOON_MS 1000
#define STUN_REFRESH_MIN_MS 5000
#define MAX_CAND 8
/* A link per relay for every peer (pair sessions) and every invite
 * (inboxes); a joiner's links to its invite's inbox fit in the spare peers. */
#define MAX_LINKS ((NODE_MAX_PEERS + 8 + NODE_MAX_INVITES) * NODE_TOKEN_MAX_RELAYS)
#define MAX_INBOX_MSGS 256
/* Initiations cost two X25519 each: a flood of them is capped, so it cannot
 * take the node's CPU from live sessions (their data packets are not). */
#define INIT_RATE_PER_S 50
#define INIT_BURST 100

enum path_kind { PATH_NONE, PATH_RELAY, PATH_DIRECT, PATH_LAN };
static const char *const path_names[] = {"none", "relay", "direct", "lan"};

/* MSG_OBSERVED: "ip:port", the address the sender sees our direct packets
 * come from (sent when its direct path to us opens or moves). MSG_PUNCH:
 * "punch now" (empty), the background attempt's start signal. */
enum { MSG_HELLO = 'H', MSG_WELCOME = 'W', MSG_KEEP = 'K', MSG_PING = 'P', MSG_PONG = 'Q', MSG_TEXT = 'M',
       MSG_OBSERVED = 'O', MSG_PUNCH = 'U' };

struct link;

struct npeer {
	bool used;
	char node_id[NODE_TOKEN_MAX_ID_LEN + 1];
	char name[NODE_TOKEN_MAX_NAME_LEN + 1];
	uint8_t pub[32];
	uint8_t psk[32];
	bool joiner;            /* we admit it: send WELCOME */
	bool hello_sent;
	bool welcomed;
	struct node_e2e_handshake hs;
	bool hs_live;
	unsigned hs_tries;      /* initiations sent since the last session */
	uint64_t hs_sent_ms;
	uint8_t hs_init[NODE_E2E_INIT_LEN];
	struct node_e2e_session s;
	bool have_s;
	/* The session s replaced: kept for receiving, because two handshakes
	 * that crossed (both ends initiating, or an initiation the relay held
	 * from before a restart) can leave the ends sending on different ones. */
	struct node_e2e_session prev;
	bool have_prev;
	uint8_t last_ts[NODE_E2E_TIMESTAMP_LEN];
	struct link *relay;
	struct sockaddr_storage direct;
	socklen_t direct_len;
	bool direct_ok;
	uint64_t direct_rx_ms, rx_ms, tx_direct_ms;
	struct sockaddr_storage cand[MAX_CAND];
	socklen_t cand_len[MAX_CAND];
	int num_cand;
	uint64_t punch_until_ms, next_punch_ms, next_repunch_ms;
	uint32_t repunch_gap_ms;        /* 0: the next background punch is the first */
	uint64_t last_punch_req_ms;     /* when a peer's MSG_PUNCH last started one */
	bool ttl_sent;
	uint64_t bytes_in, bytes_out;
	double rtt_ms;
	uint64_t ping_id;
	uint64_t next_rtt_ms;
	struct core_coro *ping_waiter;
	uint64_t last_seen_unix;
	char observed[64];      /* where the peer last said it sees us ("" before it said) */
};

struct link {
	bool used;
	char url[NODE_TOKEN_MAX_URL_LEN + 1];
	char session[72];
	struct relay_client *c;
	struct npeer *peer;     /* bound after a handshake on it */
	bool up;                /* connected (waiting or paired) */
	bool inbox;             /* waits for joiners */
	bool join;              /* ours to an invite's inbox, while we join */
	bool closing;
	struct core_coro *co;
};

struct text_msg {
	char from[NODE_TOKEN_MAX_NAME_LEN + NODE_TOKEN_MAX_ID_LEN + 4];
	char *text;
};

struct follower {
	struct core_sock *s;
	struct follower *next;
};

struct node {
	struct node_state *st;
	const struct node_run_opts *o;
	struct core_rt *rt;
	struct core_udp *udp;
	uint16_t port;
	struct node_e2e_keypair kp;
	uint8_t mesh_psk[32];
	struct npeer peers[NODE_MAX_PEERS + 8];
	struct link links[MAX_LINKS];
	char local_ep[64], public_ep[64];
	char nat_note[64];
	/* STUN refreshes through our own socket: udp_reader feeds the answers. */
	struct stun_feed feed;
	struct core_coro *stun_co;    /* the refresher, when STUN is in use */
	uint64_t next_stun_ms, last_stun_ms;
	unsigned stun_refreshes;
	uint64_t public_changed_unix; /* when the public endpoint last changed (0: never) */
	/* join in progress (joiner side) */
	bool joining, joined, join_failed, welcomed;
	struct node_token tok;
	struct npeer *issuer;
	uint64_t join_started_ms;
	bool said_direct, said_relay;
	uint64_t issuer_session_ms;   /* when the session with the issuer began */
	struct core_sock *join_out;   /* control client following a join, or NULL: stdout */
	/* received texts for `atmosphere recv` */
	struct text_msg inbox[MAX_INBOX_MSGS];
	unsigned inbox_head, inbox_len;
	struct follower *followers;
	struct core_listener *ctl;
	bool ctl_created;       /* we made control.sock: remove it at exit */
	bool stopping;
	int exit_code;
};

static struct node *G;

static uint64_t now_ms(void) { return core_now_ns() / 1000000u; }

/* Copies src into dst[cap], cutting it short if it must (never unterminated). */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* ---- output for the person who ran join ---- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (G->join_out) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "line", json_object_new_string(line));
		const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		char buf[700];
		int n = snprintf(buf, sizeof buf, "%s\n", s);
		core_sock_send(G->join_out, buf, (size_t)n, 2000);
		json_object_put(o);
	} else {
		printf("%s\n", line);
		fflush(stdout);
	}
}

/* ---- addresses ---- */

static void fmt_addr(const struct sockaddr_storage *a, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (a->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, ip, sizeof ip);
		snprintf(out, cap, "%s:%u", ip, ntohs(((const struct sockaddr_in *)a)->sin_port));
	} else if (a->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, ip, sizeof ip);
		snprintf(out, cap, "[%s]:%u", ip, ntohs(((const struct sockaddr_in6 *)a)->sin6_port));
	} else {
		snprintf(out, cap, "?");
	}
}

static bool parse_ep(const char *s, struct sockaddr_storage *out, socklen_t *len)
{
	struct stun_endpoint e;
	if (!s || !*s || stun_endpoint_parse(&e, s, 0) != 0 || !e.port)
		return false;
	struct sockaddr_in *v4 = (struct sockaddr_in *)out;
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, e.host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(e.port);
		*len = sizeof *v4;
		return true;
	}
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET6, e.host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(e.port);
		*len = sizeof *v6;
		return true;
	}
	return false;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

/* Private, loopback and link-local addresses make a "lan" path. */
static bool is_lan(const struct sockaddr_storage *a)
{
	if (a->ss_family != AF_INET)
		return false;
	uint32_t ip = ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr);
	return (ip >> 24) == 10 || (ip >> 24) == 127 || (ip >> 20) == 0xac1 || (ip >> 16) == 0xc0a8 ||
	       (ip >> 16) == 0xa9fe;
}

/* A session we can send on: ours as initiator, or confirmed by the
 * initiator's first packet (a responder may not send before). */
static bool peer_ready(const struct npeer *p)
{
	return p->have_s && (p->s.initiator || p->s.confirmed);
}

static enum path_kind peer_path(const struct npeer *p)
{
	if (p->direct_ok)
		return is_lan(&p->direct) ? PATH_LAN : PATH_DIRECT;
	if (p->have_s && p->relay && p->relay->up && p->relay->peer == p)
		return PATH_RELAY;
	return PATH_NONE;
}

/* This node's candidates: every IPv4 interface address with our port, then
 * the STUN-mapped endpoint. */
static json_object *candidates_json(void)
{
	json_object *arr = json_object_new_array();
	struct ifaddrs *ifs = NULL, *i;
	char buf[64];
	if (getifaddrs(&ifs) == 0) {
		for (i = ifs; i; i = i->ifa_next) {
			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP))
				continue;
			struct sockaddr_storage a;
			memcpy(&a, i->ifa_addr, sizeof(struct sockaddr_in));
			((struct sockaddr_in *)&a)->sin_port = htons(G->port);
			fmt_addr(&a, buf, sizeof buf);
			json_object_array_add(arr, json_object_new_string(buf));
		}
		freeifaddrs(ifs);
	}
	if (G->public_ep[0])
		json_object_array_add(arr, json_object_new_string(G->public_ep));
	return arr;
}

/* ---- peers ---- */

static struct npeer *peer_by_pub(const uint8_t pub[32])
{
	for (size_t i = 0; i < sizeof G->peers / sizeof G->peers[0]; i++)
		if (G->peers[i].used && !CRYPTO_memcmp(G->peers[i].pub, pub, 32))
			return &G->peers[i];
	return NULL;
}

/* By node id, or by name (a connected peer first: names need not be unique). */
static struct npeer *peer_by_name(const char *s)
{
	struct npeer *named = NULL;
	for (size_t i = 0; i < sizeof G->peers / sizeof G->peers[0]; i++) {
		struct npeer *p = &G->peers[i];
		if (!p->used)
			continue;
		if (!strcmp(p->node_id, s))
			return p;
		if (!strcmp(p->name, s) && (!named || (p->have_s && !named->have_s)))
			named = p;
	}
	return named;
}

static struct npeer *peer_new(const uint8_t pub[32])
{
	for (size_t i = 0; i < sizeof G->peers / sizeof G->peers[0]; i++)
		if (!G->peers[i].used) {
			struct npeer *p = &G->peers[i];
			memset(p, 0, sizeof *p);
			p->used = true;
			memcpy(p->pub, pub, 32);
			memcpy(p->psk, G->mesh_psk, 32);
			return p;
		}
	return NULL;
}

static void add_candidate(struct npeer *p, const struct sockaddr_storage *a, socklen_t len)
{
	for (int i = 0; i < p->num_cand; i++)
		if (same_addr(&p->cand[i], a))
			return;
	if (p->num_cand == MAX_CAND) {
		/* Full: the oldest goes (a peer's new addresses matter more). */
		memmove(p->cand, p->cand + 1, (MAX_CAND - 1) * sizeof p->cand[0]);
		memmove(p->cand_len, p->cand_len + 1, (MAX_CAND - 1) * sizeof p->cand_len[0]);
		p->num_cand--;
	}
	p->cand[p->num_cand] = *a;
	p->cand_len[p->num_cand++] = len;
}

/* ---- which relay ---- */

/* Every peer has a link on every relay of the mesh (and, while joining, on
 * every relay of the code): all of them receive, one sends. A link is
 * usable when the relay said the other side is there (paired). The one in
 * use is kept while it stays usable; otherwise the first usable in the
 * mesh's relay order (the same on both sides, so both usually pick the
 * same relay), pair sessions before join inboxes. */
static bool link_paired(const struct link *l)
{
	return l->used && l->up && l->c && !l->closing && relay_client_paired(l->c);
}

static size_t link_rank(const struct link *l)
{
	if (!l->inbox && !l->join)
		for (size_t i = 0; i < G->st->num_relays; i++)
			if (!strcmp(G->st->relays[i], l->url))
				return i;
	return NODE_TOKEN_MAX_RELAYS;
}

static void pick_relay(struct npeer *p)
{
	if (!p)
		return;
	struct link *cur = p->relay, *best = NULL;
	if (cur && (!cur->used || cur->peer != p)) {
		/* Discarded, or its slot now serves another session: never send
		 * on it again, whether or not a replacement is found below. */
		cur = NULL;
		p->relay = NULL;
	}
	if (cur && link_paired(cur))
		return;
	for (size_t i = 0; i < MAX_LINKS; i++) {
		struct link *l = &G->links[i];
		if (!l->used || l->peer != p || !l->up || l->closing)
			continue;
		bool lp = link_paired(l), bp = best && link_paired(best);
		if (!best || (lp && !bp) || (lp == bp && link_rank(l) < link_rank(best)))
			best = l;
	}
	if (!best || best == cur || (cur && cur->up && !link_paired(best)))
		return; /* nothing better: keep what there is */
	if (cur && strcmp(cur->url, best->url))
		core_log(CORE_LOG_INFO, "peer %s: relay path moved from %s to %s", p->name[0] ? p->name : p->node_id,
			 cur->url, best->url);
	p->relay = best;
}

/* Whether p has a relay link, up or still connecting. */
static bool peer_has_links(const struct npeer *p)
{
	for (size_t i = 0; i < MAX_LINKS; i++)
		if (G->links[i].used && G->links[i].peer == p && !G->links[i].closing)
			return true;
	return false;
}

/* Sends pkt on every link of p that is up (an initiation: the first
 * answer wins). */
static void send_on_links(struct npeer *p, const uint8_t *pkt, size_t n)
{
	for (size_t i = 0; i < MAX_LINKS; i++) {
		struct link *l = &G->links[i];
		if (l->used && l->peer == p && l->up && !l->closing)
			relay_client_send(l->c, pkt, n, false, 2000);
	}
}

/* ---- sending ---- */

static int send_raw_udp(const struct sockaddr_storage *to, socklen_t len, const uint8_t *pkt, size_t n, int ttl)
{
	if (ttl) {
		/* A low-TTL first punch opens our own NAT's mapping without reaching
		 * the peer's NAT (NAT-LAB-NOTES: the masquerade trap). */
		struct iovec iov = {.iov_base = (void *)pkt, .iov_len = n};
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct msghdr mh = {.msg_name = (void *)to, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = cbuf, .msg_controllen = sizeof cbuf};
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_TTL;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &ttl, sizeof ttl);
		return sendmsg(core_udp_fd(G->udp), &mh, MSG_DONTWAIT) < 0 ? -errno : 0;
	}
	int r = core_udp_sendto_nowait(G->udp, pkt, n, (const struct sockaddr *)to, len);
	if (r == -ENOBUFS || r == -EMSGSIZE)
		r = core_udp_sendto(G->udp, pkt, n, (const struct sockaddr *)to, len, 1000);
	return r < 0 ? r : 0;
}

static int send_on_link(struct link *l, const uint8_t *pkt, size_t n)
{
	if (!l || !l->up || !l->c)
		return -ENOTCONN;
	return relay_client_send(l->c, pkt, n, false, 2000);
}

/* Encrypts and sends a node message on the best path (or to `to`). */
static int peer_send_to(struct npeer *p, uint8_t type, const void *body, size_t len,
			const struct sockaddr_storage *to, socklen_t to_len, int ttl)
{
	uint8_t plain[2048], pkt[2048 + NODE_E2E_DATA_OVERHEAD];
	size_t pl;
	if (!p->have_s || len + 1 > sizeof plain)
		return -ENOTCONN;
	plain[0] = type;
	if (len)
		memcpy(plain + 1, body, len);
	int r = node_e2e_encrypt(&p->s, pkt, sizeof pkt, &pl, plain, len + 1, now_ms());
	OPENSSL_cleanse(plain, len + 1);
	if (r != NODE_E2E_OK)
		return -EPROTO;
	p->bytes_out += pl;
	if (to)
		return send_raw_udp(to, to_len, pkt, pl, ttl);
	if (p->direct_ok) {
		p->tx_direct_ms = now_ms();
		return send_raw_udp(&p->direct, p->direct_len, pkt, pl, 0);
	}
	/* Only a link that still belongs to p (a freed slot may serve another
	 * session by now). */
	if (!p->relay || !p->relay->used || p->relay->peer != p)
		return -ENOTCONN;
	return send_on_link(p->relay, pkt, pl);
}

static int peer_send(struct npeer *p, uint8_t type, const void *body, size_t len)
{
	return peer_send_to(p, type, body, len, NULL, 0, 0);
}

static void send_json(struct npeer *p, uint8_t type, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	peer_send(p, type, s, strlen(s));
	json_object_put(o);
}

static void send_hello(struct npeer *p)
{
	p->hello_sent = true;
	/* Open our own NAT's mappings towards the peer's candidates before it
	 * learns ours and starts punching (TTL 2: see start_handshake). */
	for (int i = 0; i < p->num_cand; i++)
		peer_send_to(p, MSG_KEEP, NULL, 0, &p->cand[i], p->cand_len[i], 2);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "node_id", json_object_new_string(G->st->node_id));
	json_object_object_add(o, "name", json_object_new_string(G->st->node_name));
	json_object_object_add(o, "candidates", candidates_json());
	send_json(p, MSG_HELLO, o);
}

/* ---- handshakes ---- */

/* Makes ns the session we send on; the one it replaces still receives. */
static void install_session(struct npeer *p, const struct node_e2e_session *ns)
{
	if (p->have_prev)
		node_e2e_session_cleanup(&p->prev);
	p->have_prev = p->have_s;
	if (p->have_s)
		p->prev = p->s;
	p->s = *ns;
	p->have_s = true;
	p->hs_tries = 0;
}

static void start_handshake(struct npeer *p, const uint8_t *app)
{
	uint8_t eph[32], ts[NODE_E2E_TIMESTAMP_LEN];
	uint32_t idx;
	struct timespec rt;
	RAND_bytes(eph, sizeof eph);
	RAND_bytes((uint8_t *)&idx, sizeof idx);
	clock_gettime(CLOCK_REALTIME, &rt);
	node_e2e_tai64n(ts, (uint64_t)rt.tv_sec, (uint32_t)rt.tv_nsec);
	if (p->hs_live)
		node_e2e_handshake_cleanup(&p->hs);
	if (node_e2e_init_create(&p->hs, p->hs_init, &G->kp, p->pub, eph, idx, ts, app) != NODE_E2E_OK) {
		OPENSSL_cleanse(eph, sizeof eph);
		return;
	}
	OPENSSL_cleanse(eph, sizeof eph);
	p->hs_live = true;
	p->hs_sent_ms = now_ms();
	p->hs_tries++;
	/* The same initiation on every path at once: the first answer wins.
	 * While a relay can carry it, UDP copies go out with TTL 2: they open
	 * our own NAT's mapping but stop before the peer's NAT, where an
	 * unsolicited packet would leave a conntrack entry that makes a Linux
	 * masquerade move the peer's later punches to another port (the trap in
	 * NAT-LAB-NOTES.md). Without a relay, or after two silent tries, they go
	 * out whole: that is the direct-to-public-endpoint attempt. */
	int ttl = (peer_has_links(p) && p->hs_tries <= 2) ? 2 : 0;
	for (int i = 0; i < p->num_cand; i++)
		send_raw_udp(&p->cand[i], p->cand_len[i], p->hs_init, sizeof p->hs_init, ttl);
	if (p->direct_ok)
		send_raw_udp(&p->direct, p->direct_len, p->hs_init, sizeof p->hs_init, 0);
	send_on_links(p, p->hs_init, sizeof p->hs_init);
}

static void finish_join(void);

static void want_stun_refresh(const char *why);

/* Tells p where its direct packets come from, as we see them. */
static void send_observed(struct npeer *p)
{
	char a[64];
	fmt_addr(&p->direct, a, sizeof a);
	peer_send(p, MSG_OBSERVED, a, strlen(a));
}

static void mark_direct(struct npeer *p, const struct sockaddr_storage *from, socklen_t len)
{
	uint64_t t = now_ms();
	bool was = p->direct_ok;
	enum path_kind before = peer_path(p);
	/* Keep the address in use while it works. A peer reachable at two
	 * addresses (two LAN interfaces, or LAN and public) sends from both
	 * while punching, and following every packet made the path flap. Move
	 * only to a strictly better class (LAN over public), or to an address
	 * that works once the current one has been quiet for DIRECT_STALE_MS
	 * (NAT rebinding, roaming). */
	bool move = was && !same_addr(&p->direct, from) &&
		    ((is_lan(from) && !is_lan(&p->direct)) || t - p->direct_rx_ms > DIRECT_STALE_MS);
	if (move) {
		char a[64], b2[64];
		fmt_addr(&p->direct, a, sizeof a);
		fmt_addr(from, b2, sizeof b2);
		core_log(CORE_LOG_INFO, "peer %s: direct path moved from %s to %s", p->name, a, b2);
	}
	if (!was || move) {
		p->direct = *from;
		p->direct_len = len;
		p->direct_ok = true;
	}
	if (same_addr(&p->direct, from))
		p->direct_rx_ms = t;
	if (!was) {
		char a[64];
		fmt_addr(&p->direct, a, sizeof a);
		core_log(CORE_LOG_INFO, "peer %s: %s path open to %s (was %s)", p->name[0] ? p->name : p->node_id,
			 path_names[peer_path(p)], a, path_names[before]);
		if (G->joining && p == G->issuer && !G->said_direct && !G->said_relay) {
			G->said_direct = true;
			say("✓ P2P connection established!");
			finish_join();
		}
		/* Tell the peer at once so it learns the path too. */
		peer_send_to(p, MSG_KEEP, NULL, 0, from, len, 0);
	}
	if (!was || move)
		send_observed(p);
}

static void handle_plain(struct npeer *p, const uint8_t *m, size_t n, const struct sockaddr_storage *from);

/* One e2e packet from a UDP source (from != NULL) or a relay link. */
static void on_packet(const uint8_t *pkt, size_t len, const struct sockaddr_storage *from, socklen_t from_len,
		      struct link *l)
{
	uint32_t ridx = 0;
	int type = node_e2e_classify(pkt, len, &ridx);
	uint64_t t = now_ms();
	if (type < 0)
		return; /* garbage: dropped before any crypto */
	if (core_log_enabled(CORE_LOG_DEBUG)) {
		char a[64] = "relay";
		if (from)
			fmt_addr(from, a, sizeof a);
		core_log(CORE_LOG_DEBUG, "e2e packet type %d (%zu bytes) from %s", type, len, a);
	}
	if (type == NODE_E2E_MSG_INIT) {
		static double tokens = INIT_BURST;
		static uint64_t last_ms;
		tokens += (double)(t - last_ms) * INIT_RATE_PER_S / 1000.0;
		if (tokens > INIT_BURST)
			tokens = INIT_BURST;
		last_ms = t;
		if (tokens < 1)
			return; /* over the rate: dropped before any crypto */
		tokens -= 1;
		struct node_e2e_handshake hs;
		struct node_e2e_init_info info;
		if (node_e2e_init_consume(&hs, &info, &G->kp, pkt, len) != NODE_E2E_OK)
			return;
		struct npeer *p = peer_by_pub(info.remote_static);
		uint8_t psk[32];
		bool joiner = false;
		static const uint8_t zero[NODE_E2E_INIT_APP_LEN];
		if (p && !p->joiner) {
			memcpy(psk, G->mesh_psk, 32);
		} else if (memcmp(info.app, zero, sizeof zero)) {
			/* A join: the claim must be one of our invites, in date. */
			bool ours = false;
			for (size_t i = 0; i < G->st->num_invites; i++)
				if (!memcmp(G->st->invites[i].id, info.app, NODE_TOKEN_INVITE_ID_LEN))
					ours = true;
			if (!ours || node_token_claim_psk(psk, info.app, G->st->secret, G->st->mesh_id,
							 (uint64_t)time(NULL)) != NODE_TOKEN_OK) {
				node_e2e_handshake_cleanup(&hs);
				core_log(CORE_LOG_WARN, "refused a join: unknown, revoked or expired invite");
				return;
			}
			joiner = true;
		} else {
			node_e2e_handshake_cleanup(&hs);
			return; /* a stranger without a claim: silence */
		}
		if (p && memcmp(info.timestamp, p->last_ts, sizeof p->last_ts) <= 0) {
			node_e2e_handshake_cleanup(&hs);
			return; /* replayed or duplicate initiation */
		}
		if (!p) {
			p = peer_new(info.remote_static);
			if (!p) {
				node_e2e_handshake_cleanup(&hs);
				return;
			}
		}
		memcpy(p->last_ts, info.timestamp, sizeof p->last_ts);
		memcpy(p->psk, psk, 32);
		OPENSSL_cleanse(psk, sizeof psk);
		p->joiner = p->joiner || joiner;
		uint8_t eph[32], resp[NODE_E2E_RESPONSE_LEN];
		uint32_t idx;
		RAND_bytes(eph, sizeof eph);
		RAND_bytes((uint8_t *)&idx, sizeof idx);
		struct node_e2e_session s;
		int r = node_e2e_response_create(&hs, resp, &s, p->psk, eph, idx, t);
		OPENSSL_cleanse(eph, sizeof eph);
		if (r != NODE_E2E_OK)
			return;
		/* Our own initiation, if one is out, stays live: when its
		 * response comes, that session becomes the one we send on. */
		install_session(p, &s);
		if (l) {
			l->peer = p;
			pick_relay(p);
			send_on_link(l, resp, sizeof resp);
		} else {
			add_candidate(p, from, from_len);
			send_raw_udp(from, from_len, resp, sizeof resp, 0);
		}
		return;
	}
	/* Response or data: find who it is for by the receiver index. */
	struct npeer *p = NULL;
	for (size_t i = 0; i < sizeof G->peers / sizeof G->peers[0]; i++) {
		struct npeer *q = &G->peers[i];
		if (!q->used)
			continue;
		if (type == NODE_E2E_MSG_RESPONSE && q->hs_live && q->hs.local_index == ridx)
			p = q;
		if (type == NODE_E2E_MSG_DATA && ((q->have_s && q->s.local_index == ridx) ||
						  (q->have_prev && q->prev.local_index == ridx)))
			p = q;
	}
	if (!p)
		return;
	if (type == NODE_E2E_MSG_RESPONSE) {
		struct node_e2e_session s;
		if (node_e2e_response_consume(&p->hs, &s, pkt, len, p->psk, t) != NODE_E2E_OK)
			return;
		p->hs_live = false;
		install_session(p, &s);
		p->rx_ms = t;
		if (G->joining && p == G->issuer && !G->issuer_session_ms)
			G->issuer_session_ms = t;
		if (l) {
			l->peer = p;
			pick_relay(p);
		} else {
			mark_direct(p, from, from_len);
		}
		/* Confirm the session at once, on the path the answer came by. */
		if (from)
			peer_send_to(p, MSG_KEEP, NULL, 0, from, from_len, 0);
		send_hello(p);
		return;
	}
	/* Node messages are small (sends are capped at 2 KiB): a larger
	 * packet does not fit and is dropped. */
	uint8_t plain[2048 + 64];
	size_t pl;
	if (len > sizeof plain + NODE_E2E_DATA_OVERHEAD)
		return;
	struct node_e2e_session *rs = (p->have_s && p->s.local_index == ridx) ? &p->s : &p->prev;
	if (node_e2e_decrypt(rs, plain, sizeof plain, &pl, pkt, len, t) != NODE_E2E_OK)
		return;
	if (rs == &p->prev && !peer_ready(p)) {
		/* The peer sends on the older session and we cannot send on the
		 * newer one yet: the older one is the pair's, use it. */
		struct node_e2e_session tmp = p->s;
		p->s = p->prev;
		p->prev = tmp;
	}
	p->rx_ms = t;
	p->last_seen_unix = (uint64_t)time(NULL);
	p->bytes_in += len;
	if (from) {
		mark_direct(p, from, from_len);
	} else if (l) {
		l->peer = p;
		pick_relay(p);
	}
	if (pl)
		handle_plain(p, plain, pl, from);
	OPENSSL_cleanse(plain, pl);
}

/* ---- node messages ---- */

static void save_state(void)
{
	char err[256];
	if (node_state_save(G->st, err, sizeof err) != 0)
		core_log(CORE_LOG_ERR, "cannot save state: %s", err);
}

static void remember(struct npeer *p)
{
	struct node_known_peer kp;
	memset(&kp, 0, sizeof kp);
	snprintf(kp.node_id, sizeof kp.node_id, "%s", p->node_id);
	snprintf(kp.name, sizeof kp.name, "%s", p->name);
	memcpy(kp.pub, p->pub, 32);
	if (p->direct_ok)
		fmt_addr(&p->direct, kp.endpoint, sizeof kp.endpoint);
	if (node_state_add_peer(G->st, &kp))
		save_state();
}

static void open_pair_link(struct npeer *p);

/* Opens a punch window of ms from t (low-TTL opener first again). */
static void start_punch(struct npeer *p, uint64_t t, uint64_t ms)
{
	p->punch_until_ms = t + ms;
	p->next_punch_ms = 0;
	p->ttl_sent = false;
}

static void on_hello(struct npeer *p, json_object *o)
{
	json_object *v, *arr;
	if (json_object_object_get_ex(o, "node_id", &v))
		snprintf(p->node_id, sizeof p->node_id, "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "name", &v))
		snprintf(p->name, sizeof p->name, "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "candidates", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			struct sockaddr_storage a;
			socklen_t al;
			if (parse_ep(json_object_get_string(json_object_array_get_idx(arr, i)), &a, &al))
				add_candidate(p, &a, al);
		}
	if (!p->hello_sent)
		send_hello(p); /* the responder answers the initiator's */
	/* Punch: both sides do this as soon as each has the other's list; the
	 * background sequence starts again after this window. */
	uint64_t t = now_ms();
	p->repunch_gap_ms = 0;
	p->next_repunch_ms = t + PUNCH_WINDOW_MS;
	start_punch(p, t, PUNCH_WINDOW_MS);
	if (p->joiner && !p->welcomed) {
		/* Admit it: the mesh's secret and members, over the e2e session. */
		json_object *w = json_object_new_object();
		char sec[64];
		size_t sl;
		net_b64_encode(sec, sizeof sec, &sl, G->st->secret, sizeof G->st->secret, NET_B64_STD, true);
		json_object_object_add(w, "mesh_id", json_object_new_string(G->st->mesh_id));
		json_object_object_add(w, "mesh_name", json_object_new_string(G->st->mesh_name));
		json_object_object_add(w, "secret", json_object_new_string(sec));
		OPENSSL_cleanse(sec, sizeof sec);
		json_object *rl = json_object_new_array();
		for (size_t i = 0; i < G->st->num_relays; i++)
			json_object_array_add(rl, json_object_new_string(G->st->relays[i]));
		json_object_object_add(w, "relays", rl);
		json_object *sv = json_object_new_array();
		for (size_t i = 0; i < G->st->num_stun; i++)
			json_object_array_add(sv, json_object_new_string(G->st->stun[i]));
		json_object_object_add(w, "stun", sv);
		send_json(p, MSG_WELCOME, w);
		p->welcomed = true;
		p->joiner = false;
		memcpy(p->psk, G->mesh_psk, 32);
		remember(p);
		core_log(CORE_LOG_INFO, "admitted %s (%s) to mesh %s", p->name, p->node_id, G->st->mesh_name);
		open_pair_link(p);
	} else if (!p->joiner) {
		remember(p);
	}
}

static void on_welcome(struct npeer *p, json_object *o)
{
	json_object *v, *arr;
	struct node_state *st = G->st;
	uint8_t sec[64];
	size_t sl = 0;
	if (!G->joining || p != G->issuer)
		return;
	if (!json_object_object_get_ex(o, "secret", &v) ||
	    net_b64_decode(sec, sizeof sec, &sl, json_object_get_string(v), strlen(json_object_get_string(v))) != 0 ||
	    sl != NODE_TOKEN_SECRET_LEN)
		return;
	memcpy(st->secret, sec, NODE_TOKEN_SECRET_LEN);
	OPENSSL_cleanse(sec, sizeof sec);
	snprintf(st->mesh_id, sizeof st->mesh_id, "%s", G->tok.mesh_id);
	snprintf(st->mesh_name, sizeof st->mesh_name, "%s", G->tok.mesh_name);
	if (json_object_object_get_ex(o, "relays", &arr) && json_object_is_type(arr, json_type_array)) {
		st->num_relays = 0;
		for (size_t i = 0; i < json_object_array_length(arr) && st->num_relays < NODE_TOKEN_MAX_RELAYS; i++)
			snprintf(st->relays[st->num_relays++], sizeof st->relays[0], "%s",
				 json_object_get_string(json_object_array_get_idx(arr, i)));
	}
	if (json_object_object_get_ex(o, "stun", &arr) && json_object_is_type(arr, json_type_array)) {
		st->num_stun = 0;
		for (size_t i = 0; i < json_object_array_length(arr) && st->num_stun < NODE_TOKEN_MAX_STUN; i++)
			snprintf(st->stun[st->num_stun++], sizeof st->stun[0], "%s",
				 json_object_get_string(json_object_array_get_idx(arr, i)));
	}
	st->have_mesh = true;
	node_token_mesh_psk(G->mesh_psk, st->secret);
	memcpy(p->psk, G->mesh_psk, 32);
	remember(p);
	save_state();
	G->joined = true;
	G->welcomed = true;
	/* From now on the pair sessions carry relay traffic; the invite's
	 * inboxes are given back so the issuer can reopen them (unless the
	 * mesh has no relay of its own: then they stay). */
	open_pair_link(p);
	if (st->num_relays)
		for (size_t i = 0; i < MAX_LINKS; i++) {
			struct link *jl = &G->links[i];
			if (!jl->used || !jl->join || jl->peer != p)
				continue;
			jl->closing = true;
			jl->peer = NULL;
			if (jl->c)
				relay_client_interrupt(jl->c);
		}
	if (p->relay && !p->relay->used)
		p->relay = NULL;
	pick_relay(p);
	finish_join();
}

/* The join's last line, once the mesh admitted us and the path is decided. */
static void finish_join(void)
{
	if (!G->joining || !G->welcomed || !(G->said_direct || G->said_relay))
		return;
	say("✓ Joined mesh: %s", G->st->mesh_name);
	G->joining = false;
	if (G->join_out) {
		const char *done = "{\"ok\":true}\n";
		core_sock_send(G->join_out, done, strlen(done), 1000);
		core_sock_close(G->join_out);
		G->join_out = NULL;
	}
}

static void deliver_text(struct npeer *p, const uint8_t *m, size_t n)
{
	struct text_msg tm;
	snprintf(tm.from, sizeof tm.from, "%s", p->name[0] ? p->name : p->node_id);
	tm.text = malloc(n + 1);
	if (!tm.text)
		return;
	memcpy(tm.text, m, n);
	tm.text[n] = 0;
	/* Followers get it at once; otherwise it waits for `atmosphere recv`. */
	if (G->followers) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "from", json_object_new_string(tm.from));
		json_object_object_add(o, "text", json_object_new_string(tm.text));
		const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		size_t l = strlen(s);
		char *line = malloc(l + 2);
		memcpy(line, s, l);
		line[l] = '\n';
		for (struct follower *f = G->followers; f; f = f->next)
			core_sock_send(f->s, line, l + 1, 1000);
		free(line);
		json_object_put(o);
		free(tm.text);
		return;
	}
	if (G->inbox_len == MAX_INBOX_MSGS) {
		free(G->inbox[G->inbox_head].text);
		G->inbox_head = (G->inbox_head + 1) % MAX_INBOX_MSGS;
		G->inbox_len--;
	}
	G->inbox[(G->inbox_head + G->inbox_len++) % MAX_INBOX_MSGS] = tm;
}

static void handle_plain(struct npeer *p, const uint8_t *m, size_t n, const struct sockaddr_storage *from)
{
	(void)from;
	uint8_t type = m[0];
	m++;
	n--;
	if (type == MSG_HELLO || type == MSG_WELCOME) {
		json_tokener *tk = json_tokener_new_ex(4);
		json_object *o = json_tokener_parse_ex(tk, (const char *)m, (int)n);
		json_tokener_free(tk);
		if (!o || !json_object_is_type(o, json_type_object)) {
			json_object_put(o);
			return;
		}
		if (type == MSG_HELLO)
			on_hello(p, o);
		else
			on_welcome(p, o);
		json_object_put(o);
	} else if (type == MSG_PING && n == 16) {
		peer_send(p, MSG_PONG, m, n);
	} else if (type == MSG_PONG && n == 16) {
		uint64_t id, sent;
		memcpy(&id, m, 8);
		memcpy(&sent, m + 8, 8);
		if (id == p->ping_id) {
			p->rtt_ms = (double)(core_now_ns() - sent) / 1e6;
			if (p->ping_waiter)
				core_unpark(p->ping_waiter, 0);
		}
	} else if (type == MSG_TEXT) {
		deliver_text(p, m, n);
	} else if (type == MSG_PUNCH && n == 0) {
		/* The leader's background attempt: punch with it, now. At most one
		 * such window per half first gap, and none while one runs: a peer
		 * cannot make us a packet reflector by repeating it. */
		uint64_t t = now_ms();
		if (!p->direct_ok && p->num_cand && t >= p->punch_until_ms &&
		    t >= p->last_punch_req_ms + REPUNCH_FIRST_MS / 2) {
			p->last_punch_req_ms = t;
			start_punch(p, t, REPUNCH_WINDOW_MS);
		}
	} else if (type == MSG_OBSERVED && n > 0 && n < sizeof p->observed) {
		char a[sizeof p->observed];
		struct sockaddr_storage sa;
		socklen_t sl;
		memcpy(a, m, n);
		a[n] = 0;
		/* A LAN peer's view says nothing about our public mapping; a
		 * symmetric NAT gives each peer its own port, so only a change in
		 * what one peer sees is a sign that our mapping moved. */
		if (!parse_ep(a, &sa, &sl) || is_lan(&sa))
			return;
		if (p->observed[0] && strcmp(p->observed, a)) {
			char why[400];
			snprintf(why, sizeof why, "peer %s now sees us at %s (was %s)", p->name[0] ? p->name : p->node_id, a,
				 p->observed);
			want_stun_refresh(why);
		}
		copy_str(p->observed, sizeof p->observed, a);
	}
}

/* ---- relay links ---- */

static void hex(char *out, const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* Session ids derive from secrets, so strangers cannot guess or squat them. */
static void inbox_session(char out[72], const uint8_t invite_key[32])
{
	uint8_t h[32];
	unsigned hl = 32;
	HMAC(EVP_sha256(), invite_key, 32, (const uint8_t *)"atmosphere v1 relay inbox", 25, h, &hl);
	hex(out, h, 20);
}

static void pair_session(char out[72], const char *a, const char *b)
{
	uint8_t h[32];
	unsigned hl = 32;
	char msg[200];
	if (strcmp(a, b) > 0) {
		const char *t = a;
		a = b;
		b = t;
	}
	int n = snprintf(msg, sizeof msg, "atmosphere v1 relay pair %s %s", a, b);
	HMAC(EVP_sha256(), G->st->secret, 32, (const uint8_t *)msg, (size_t)n, h, &hl);
	hex(out, h, 20);
}

static void link_run(void *arg);

static struct link *open_link(const char *url, const char *session, bool inbox, struct npeer *peer)
{
	for (size_t i = 0; i < MAX_LINKS; i++)
		if (G->links[i].used && !strcmp(G->links[i].session, session) && !strcmp(G->links[i].url, url))
			return &G->links[i];
	for (size_t i = 0; i < MAX_LINKS; i++)
		if (!G->links[i].used) {
			struct link *l = &G->links[i];
			memset(l, 0, sizeof *l);
			l->used = true;
			copy_str(l->url, sizeof l->url, url);
			copy_str(l->session, sizeof l->session, session);
			l->inbox = inbox;
			l->peer = peer;
			core_spawn(link_run, l);
			return l;
		}
	return NULL;
}

/* The pair session with p on every relay of the mesh. */
static void open_pair_link(struct npeer *p)
{
	char sid[72];
	if (!G->st->num_relays || !p->node_id[0])
		return;
	pair_session(sid, G->st->node_id, p->node_id);
	for (size_t i = 0; i < G->st->num_relays; i++)
		open_link(G->st->relays[i], sid, false, p);
	pick_relay(p);
}

/* Starts a handshake with p unless it has a session or one is under way;
 * a join carries its claim. */
static void kick_handshake(struct npeer *p, struct link *l)
{
	uint8_t app[NODE_E2E_INIT_APP_LEN] = {0};
	if (!p || p->have_s)
		return;
	if (p->hs_live) {
		/* One is under way: send its initiation this way too. */
		send_on_link(l, p->hs_init, sizeof p->hs_init);
		return;
	}
	bool join = G->joining && p == G->issuer;
	if (join)
		node_token_claim(app, &G->tok);
	start_handshake(p, join ? app : NULL);
}

static void link_run(void *arg)
{
	struct link *l = arg;
	unsigned backoff = 500;
	char err[512];
	l->co = core_coro_current();
	while (!G->stopping && !l->closing) {
		struct relay_client_opts o = {.max_message = 70000, .deliver_notices = true};
		int r = relay_client_connect(&l->c, l->url, l->session, &o, 5000, err, sizeof err);
		if (r) {
			core_log(CORE_LOG_DEBUG, "relay %s: %s", l->url, err);
			core_sleep(backoff);
			backoff = backoff < 8000 ? backoff * 2 : 10000;
			continue;
		}
		backoff = 500;
		l->up = true;
		pick_relay(l->peer);
		core_log(CORE_LOG_DEBUG, "relay link %s session %.8s... up (%s)", l->url, l->session,
			 l->inbox ? "inbox" : l->peer ? l->peer->node_id : "unbound");
		/* A peer behind this link may be reachable only through it:
		 * start a handshake now, and again when the relay says the other
		 * side is there (the paired notice), unless one is under way. */
		kick_handshake(l->peer, l);
		for (;;) {
			struct relay_msg m;
			int n = relay_client_recv(l->c, &m, -1);
			if (n < 0)
				break;
			if (!m.text) {
				on_packet(m.data, m.len, NULL, 0, l);
			} else if (relay_client_paired(l->c)) {
				pick_relay(l->peer);
				kick_handshake(l->peer, l);
			}
			/* Closed while handling a message that came this way (a join
			 * link carrying the WELCOME): the interrupt found us busy. */
			if (l->closing || G->stopping)
				break;
		}
		l->up = false;
		relay_client_close(l->c);
		l->c = NULL;
		/* Traffic that went this way moves to another relay at once. */
		struct npeer *was = l->peer;
		/* An inbox that carried a join is reopened empty for the next one. */
		if (l->inbox)
			l->peer = NULL;
		if (was && was->relay == l) {
			if (!l->peer)
				was->relay = NULL;
			pick_relay(was);
		}
		if (!G->stopping && !l->closing)
			core_sleep(200);
	}
	if (l->peer && l->peer->relay == l)
		l->peer->relay = NULL;
	l->used = false;
	pick_relay(l->peer);
}

/* ---- UDP ---- */

static void udp_reader(void *arg)
{
	(void)arg;
	while (!G->stopping) {
		struct core_dgram d;
		int n = core_udp_recv(G->udp, &d, -1);
		if (n == -ECANCELED && G->stopping)
			break;
		if (n < 0)
			continue;
		/* STUN answers go to a refresh in progress; other STUN is dropped. */
		if (!d.truncated && !stun_is_message(d.data, d.len))
			on_packet(d.data, d.len, &d.from, d.from_len, NULL);
		else if (!d.truncated)
			stun_feed_input(&G->feed, d.data, d.len, (const struct sockaddr *)&d.from, d.from_len);
		core_buf_release(&d.buf);
	}
}

/* ---- the ticker ---- */

static void punch(struct npeer *p, uint64_t t)
{
	if (!p->have_s || !p->num_cand || t < p->next_punch_ms)
		return;
	p->next_punch_ms = t + PUNCH_EVERY_MS;
	for (int i = 0; i < p->num_cand; i++) {
		if (p->direct_ok && same_addr(&p->cand[i], &p->direct))
			continue;
		peer_send_to(p, MSG_KEEP, NULL, 0, &p->cand[i], p->cand_len[i], p->ttl_sent ? 0 : 2);
	}
	p->ttl_sent = true;
}

static void ticker(void *arg)
{
	(void)arg;
	while (!G->stopping) {
		core_sleep(TICK_MS);
		uint64_t t = now_ms();
		for (size_t i = 0; i < sizeof G->peers / sizeof G->peers[0]; i++) {
			struct npeer *p = &G->peers[i];
			if (!p->used)
				continue;
			if (p->direct_ok && t - p->direct_rx_ms > DIRECT_DEAD_MS) {
				char a[64];
				fmt_addr(&p->direct, a, sizeof a);
				p->direct_ok = false;
				core_log(CORE_LOG_INFO, "peer %s: direct path %s went silent; using %s", p->name, a,
					 path_names[peer_path(p)]);
				p->next_repunch_ms = t;
				p->repunch_gap_ms = 0;
				/* Perhaps our own NAT dropped or moved our mapping. */
				if (!is_lan(&p->direct))
					want_stun_refresh("a direct path went silent");
			}
			if (p->relay && !link_paired(p->relay))
				pick_relay(p);
			if (t < p->punch_until_ms)
				punch(p, t);
			else if (!p->direct_ok && p->have_s && p->num_cand && t >= p->next_repunch_ms) {
				/* Keep trying direct in the background while on the relay;
				 * the lower node id leads and starts the other side. */
				p->repunch_gap_ms = !p->repunch_gap_ms ? REPUNCH_FIRST_MS
						    : p->repunch_gap_ms >= REPUNCH_MAX_MS / 2 ? REPUNCH_MAX_MS
											       : p->repunch_gap_ms * 2;
				p->next_repunch_ms = t + p->repunch_gap_ms;
				if (strcmp(G->st->node_id, p->node_id) < 0) {
					peer_send(p, MSG_PUNCH, NULL, 0);
					start_punch(p, t, REPUNCH_WINDOW_MS);
				}
			}
			if (p->direct_ok && p->have_s && t - p->tx_direct_ms >= KEEPALIVE_MS)
				peer_send(p, MSG_KEEP, NULL, 0);
			if (p->have_s && peer_path(p) != PATH_NONE && t >= p->next_rtt_ms && !p->ping_waiter) {
				uint8_t body[16];
				uint64_t sent = core_now_ns();
				p->next_rtt_ms = t + RTT_EVERY_MS;
				RAND_bytes((uint8_t *)&p->ping_id, 8);
				memcpy(body, &p->ping_id, 8);
				memcpy(body + 8, &sent, 8);
				peer_send(p, MSG_PING, body, 16);
			}
			if (p->have_s && node_e2e_needs_rekey(&p->s, t) && !p->hs_live)
				start_handshake(p, NULL);
			if (p->hs_live && t - p->hs_sent_ms > HANDSHAKE_RETRY_MS) {
				/* Resend the initiation (a fresh one: new timestamp). */
				uint8_t app[NODE_E2E_INIT_APP_LEN] = {0};
				bool join = G->joining && p == G->issuer;
				if (join)
					node_token_claim(app, &G->tok);
				start_handshake(p, join ? app : NULL);
			}
		}
		/* Punching starts once the session is up (candidates are exchanged
		 * inside it): give it punch_ms from then. */
		if (G->joining && !G->said_relay && !G->said_direct && G->issuer && G->issuer_session_ms &&
		    t - G->issuer_session_ms > G->o->punch_ms && G->issuer->relay && G->issuer->relay->up) {
			G->said_relay = true;
			say("✗ P2P failed, trying relay...");
			say("✓ Connected via relay: %s", G->issuer->relay->url);
			finish_join();
		}
		if (G->joining && t - G->join_started_ms > 60000) {
			say("✗ The mesh did not answer within 60 s: the issuing node may be offline or unreachable, "
			    "or it did not accept this code (expired, revoked, or not one it issued)");
			G->join_failed = true;
			G->joining = false;
			G->exit_code = 1;
			if (G->join_out) {
				const char *e = "{\"error\":\"timed out\"}\n";
				core_sock_send(G->join_out, e, strlen(e), 1000);
				core_sock_close(G->join_out);
				G->join_out = NULL;
			} else {
				core_rt_shutdown(G->rt);
			}
		}
	}
}

/* ---- joining ---- */

static int begin_join(const char *code, char *err, size_t err_len)
{
	const char *field = NULL;
	int r = node_token_decode(&G->tok, &field, code, strlen(code), (uint64_t)time(NULL));
	if (r != NODE_TOKEN_OK) {
		snprintf(err, err_len, "invalid join code: %s%s%s", node_token_strerror(r), field ? ": " : "",
			 field ? field : "");
		return -EINVAL;
	}
	if (G->st->have_mesh && strcmp(G->st->mesh_id, G->tok.mesh_id) && G->st->num_peers) {
		snprintf(err, err_len, "this node already belongs to mesh %s; use another ATMOSPHERE_HOME",
			 G->st->mesh_name);
		return -EEXIST;
	}
	struct npeer *p = peer_by_pub(G->tok.node_pub);
	if (!p)
		p = peer_new(G->tok.node_pub);
	if (!p) {
		snprintf(err, err_len, "too many peers");
		return -ENOSPC;
	}
	snprintf(p->node_id, sizeof p->node_id, "%s", G->tok.node_id);
	node_token_join_psk(p->psk, G->tok.invite_key);
	struct sockaddr_storage a;
	socklen_t al;
	G->issuer = p;
	G->joining = true;
	G->join_started_ms = now_ms();
	G->issuer_session_ms = 0;
	G->said_direct = G->said_relay = G->welcomed = false;
	if (parse_ep(G->tok.public_endpoint, &a, &al)) {
		say("Joining mesh via public endpoint: %s", G->tok.public_endpoint);
		add_candidate(p, &a, al);
	}
	if (parse_ep(G->tok.endpoint, &a, &al))
		add_candidate(p, &a, al);
	say("Attempting direct P2P connection...");
	char sid[72];
	inbox_session(sid, G->tok.invite_key);
	/* The invite's inbox on every relay of the code: whichever the issuer
	 * can reach. */
	for (size_t i = 0; i < G->tok.num_relay_urls; i++) {
		struct link *l = open_link(G->tok.relay_urls[i], sid, false, p);
		if (l)
			l->join = true;
	}
	uint8_t app[NODE_E2E_INIT_APP_LEN] = {0};
	node_token_claim(app, &G->tok);
	start_handshake(p, app);
	return 0;
}

/* ---- control socket ---- */

static json_object *peer_json(struct npeer *p)
{
	json_object *o = json_object_new_object();
	char a[NODE_TOKEN_MAX_URL_LEN + 1] = "";
	enum path_kind k = peer_path(p);
	json_object_object_add(o, "node_id", json_object_new_string(p->node_id));
	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "connected", json_object_new_boolean(k != PATH_NONE && peer_ready(p)));
	json_object_object_add(o, "path", json_object_new_string(path_names[k]));
	if (k == PATH_RELAY)
		copy_str(a, sizeof a, p->relay->url);
	else if (p->direct_ok)
		fmt_addr(&p->direct, a, sizeof a);
	json_object_object_add(o, "remote", json_object_new_string(a));
	/* The relay that carries (or would carry) relayed traffic. */
	json_object_object_add(o, "relay", p->relay && p->relay->used && p->relay->peer == p
						   ? json_object_new_string(p->relay->url) : NULL);
	/* Every relay where the peer is there too (paired): where traffic
	 * can move if the one in use fails. */
	json_object *rl = json_object_new_array();
	for (size_t i = 0; i < MAX_LINKS; i++)
		if (G->links[i].peer == p && link_paired(&G->links[i]))
			json_object_array_add(rl, json_object_new_string(G->links[i].url));
	json_object_object_add(o, "relays_paired", rl);
	json_object_object_add(o, "rtt_ms", p->rtt_ms > 0 ? json_object_new_double(p->rtt_ms) : NULL);
	json_object_object_add(o, "last_seen", json_object_new_int64((int64_t)p->last_seen_unix));
	json_object_object_add(o, "bytes_in", json_object_new_int64((int64_t)p->bytes_in));
	json_object_object_add(o, "bytes_out", json_object_new_int64((int64_t)p->bytes_out));
	return o;
}

/* This node: endpoints (as the peers are told them) and relays. */
static json_object *self_json(void)
{
	json_object *o = json_object_new_object(), *rl = json_object_new_array();
	json_object_object_add(o, "node_id", json_object_new_string(G->st->node_id));
	json_object_object_add(o, "name", json_object_new_string(G->st->node_name));
	json_object_object_add(o, "port", json_object_new_int(G->port));
	json_object_object_add(o, "local_endpoint", json_object_new_string(G->local_ep));
	json_object_object_add(o, "public_endpoint", json_object_new_string(G->public_ep));
	json_object_object_add(o, "public_endpoint_changed", json_object_new_int64((int64_t)G->public_changed_unix));
	json_object_object_add(o, "stun_refreshes", json_object_new_int64(G->stun_refreshes));
	for (size_t i = 0; i < G->st->num_relays; i++) {
		json_object *r = json_object_new_object();
		size_t up = 0;
		for (size_t k = 0; k < MAX_LINKS; k++)
			up += G->links[k].used && G->links[k].up && !strcmp(G->links[k].url, G->st->relays[i]);
		json_object_object_add(r, "url", json_object_new_string(G->st->relays[i]));
		json_object_object_add(r, "links_up", json_object_new_int64((int64_t)up));
		json_object_array_add(rl, r);
	}
	json_object_object_add(o, "relays", rl);
	return o;
}

static void reply(struct core_sock *s, json_object *o)
{
	const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t l = strlen(t);
	char *line = malloc(l + 2);
	memcpy(line, t, l);
	line[l] = '\n';
	core_sock_send(s, line, l + 1, 2000);
	free(line);
	json_object_put(o);
}

static json_object *err_json(const char *msg)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

static int issue_code(uint64_t ttl_s, char *code, size_t cap, char *shortc, char *err, size_t err_len);

static void control_conn(void *arg)
{
	int fd = (int)(intptr_t)arg, e = 0;
	struct core_sock *s = core_sock_new(fd, &e);
	char req[8192];
	size_t len = 0;
	bool keep = false;
	if (!s)
		return;
	while (len < sizeof req - 1) {
		struct core_buf b;
		int n = core_sock_recv(s, &b, 5000);
		if (n <= 0)
			goto out;
		size_t take = b.len < sizeof req - 1 - len ? b.len : sizeof req - 1 - len;
		memcpy(req + len, b.data, take);
		len += take;
		core_buf_release(&b);
		if (memchr(req, '\n', len))
			break;
	}
	req[len] = 0;
	json_object *o = json_tokener_parse(req), *v;
	const char *cmd = o && json_object_object_get_ex(o, "cmd", &v) ? json_object_get_string(v) : "";
	if (!strcmp(cmd, "peers")) {
		json_object *r = json_object_new_object(), *arr = json_object_new_array();
		for (size_t i = 0; i < sizeof G->peers / sizeof G->peers[0]; i++)
			if (G->peers[i].used && G->peers[i].node_id[0])
				json_object_array_add(arr, peer_json(&G->peers[i]));
		json_object_object_add(r, "peers", arr);
		json_object_object_add(r, "self", self_json());
		reply(s, r);
	} else if (!strcmp(cmd, "status")) {
		json_object *r = json_object_new_object();
		json_object_object_add(r, "node_id", json_object_new_string(G->st->node_id));
		json_object_object_add(r, "name", json_object_new_string(G->st->node_name));
		json_object_object_add(r, "mesh", json_object_new_string(G->st->mesh_name));
		json_object_object_add(r, "port", json_object_new_int(G->port));
		json_object_object_add(r, "local_endpoint", json_object_new_string(G->local_ep));
		json_object_object_add(r, "public_endpoint", json_object_new_string(G->public_ep));
		json_object_object_add(r, "public_endpoint_changed", json_object_new_int64((int64_t)G->public_changed_unix));
		reply(s, r);
	} else if (!strcmp(cmd, "invite")) {
		char code[NODE_TOKEN_MAX_CODE_LEN + 1], sc[NODE_TOKEN_SHORT_CODE_LEN + 1], err[256];
		uint64_t ttl = json_object_object_get_ex(o, "expires", &v) ? (uint64_t)json_object_get_int64(v) : 86400;
		if (issue_code(ttl, code, sizeof code, sc, err, sizeof err) == 0) {
			json_object *r = json_object_new_object();
			json_object_object_add(r, "code", json_object_new_string(code));
			json_object_object_add(r, "short_code", json_object_new_string(sc));
			reply(s, r);
		} else {
			reply(s, err_json(err));
		}
	} else if (!strcmp(cmd, "ping") || !strcmp(cmd, "send")) {
		const char *who = json_object_object_get_ex(o, "peer", &v) ? json_object_get_string(v) : "";
		struct npeer *p = peer_by_name(who);
		if (!p || !peer_ready(p) || peer_path(p) == PATH_NONE) {
			char m[200];
			snprintf(m, sizeof m, "no connected peer '%s' (see atmosphere peers)", who);
			reply(s, err_json(m));
		} else if (!strcmp(cmd, "send")) {
			const char *text = json_object_object_get_ex(o, "text", &v) ? json_object_get_string(v) : "";
			size_t tl = strlen(text);
			int r = tl > 1900 ? -EMSGSIZE : peer_send(p, MSG_TEXT, text, tl);
			json_object *rr = r == 0 ? json_object_new_object() : err_json(strerror(-r));
			if (r == 0) {
				json_object_object_add(rr, "ok", json_object_new_boolean(1));
				json_object_object_add(rr, "path", json_object_new_string(path_names[peer_path(p)]));
			}
			reply(s, rr);
		} else {
			uint8_t body[16];
			uint64_t sent = core_now_ns();
			RAND_bytes((uint8_t *)&p->ping_id, 8);
			memcpy(body, &p->ping_id, 8);
			memcpy(body + 8, &sent, 8);
			double before = p->rtt_ms;
			p->rtt_ms = 0;
			peer_send(p, MSG_PING, body, 16);
			p->ping_waiter = core_coro_current();
			core_park(5000);
			p->ping_waiter = NULL;
			if (p->rtt_ms > 0) {
				json_object *rr = json_object_new_object();
				json_object_object_add(rr, "rtt_ms", json_object_new_double(p->rtt_ms));
				json_object_object_add(rr, "path", json_object_new_string(path_names[peer_path(p)]));
				reply(s, rr);
			} else {
				p->rtt_ms = before;
				reply(s, err_json("no answer within 5 s"));
			}
		}
	} else if (!strcmp(cmd, "recv")) {
		bool follow = json_object_object_get_ex(o, "follow", &v) && json_object_get_boolean(v);
		while (G->inbox_len) {
			struct text_msg *tm = &G->inbox[G->inbox_head];
			json_object *r = json_object_new_object();
			json_object_object_add(r, "from", json_object_new_string(tm->from));
			json_object_object_add(r, "text", json_object_new_string(tm->text));
			free(tm->text);
			G->inbox_head = (G->inbox_head + 1) % MAX_INBOX_MSGS;
			G->inbox_len--;
			reply(s, r);
		}
		if (follow) {
			struct follower f = {.s = s, .next = G->followers};
			G->followers = &f;
			/* Until the client goes away. */
			struct core_buf b;
			while (core_sock_recv(s, &b, -1) > 0)
				core_buf_release(&b);
			struct follower **pp = &G->followers;
			while (*pp != &f)
				pp = &(*pp)->next;
			*pp = f.next;
		} else {
			reply(s, json_tokener_parse("{\"end\":true}"));
		}
	} else if (!strcmp(cmd, "join")) {
		const char *code = json_object_object_get_ex(o, "code", &v) ? json_object_get_string(v) : "";
		char err[300];
		if (G->joining) {
			reply(s, err_json("a join is already in progress"));
		} else {
			G->join_out = s;
			if (begin_join(code, err, sizeof err) != 0) {
				G->join_out = NULL;
				reply(s, err_json(err));
			} else {
				keep = true; /* the join owns the socket now */
			}
		}
	} else {
		reply(s, err_json("unknown request"));
	}
	json_object_put(o);
out:
	if (!keep)
		core_sock_close(s);
}

static void control_server(void *arg)
{
	(void)arg;
	while (!G->stopping) {
		int fd = core_listener_accept(G->ctl, -1);
		if (fd < 0)
			break;
		core_spawn(control_conn, (void *)(intptr_t)fd);
	}
}

/* ---- codes ---- */

static int issue_code(uint64_t ttl_s, char *code, size_t cap, char *shortc, char *err, size_t err_len)
{
	struct node_token t;
	struct node_state *st = G->st;
	const char *field = NULL;
	size_t len;
	memset(&t, 0, sizeof t);
	snprintf(t.mesh_id, sizeof t.mesh_id, "%s", st->mesh_id);
	snprintf(t.mesh_name, sizeof t.mesh_name, "%s", st->mesh_name);
	copy_str(t.endpoint, sizeof t.endpoint, G->local_ep);
	copy_str(t.public_endpoint, sizeof t.public_endpoint, G->public_ep);
	for (size_t i = 0; i < st->num_relays; i++)
		snprintf(t.relay_urls[t.num_relay_urls++], sizeof t.relay_urls[0], "%s", st->relays[i]);
	for (size_t i = 0; i < st->num_stun; i++)
		snprintf(t.stun[t.num_stun++], sizeof t.stun[0], "%s", st->stun[i]);
	t.created_at = (uint64_t)time(NULL);
	t.expires_at = t.created_at + ttl_s;
	snprintf(t.node_id, sizeof t.node_id, "%s", st->node_id);
	memcpy(t.node_pub, st->pub, 32);
	RAND_bytes(t.invite_id, sizeof t.invite_id);
	int r = node_token_encode(code, cap, &len, &t, &field, st->secret);
	if (r == NODE_TOKEN_OK)
		r = node_token_short_code(shortc, &field, &t);
	if (r != NODE_TOKEN_OK) {
		snprintf(err, err_len, "cannot make a join code: %s%s%s", node_token_strerror(r), field ? ": " : "",
			 field ? field : "");
		node_token_cleanup(&t);
		return -EINVAL;
	}
	/* Remember the invite (dropping expired ones) and wait for its joiner. */
	size_t k = 0;
	for (size_t i = 0; i < st->num_invites; i++)
		if (st->invites[i].expires_at > t.created_at)
			st->invites[k++] = st->invites[i];
	st->num_invites = k;
	if (st->num_invites == NODE_MAX_INVITES)
		memmove(st->invites, st->invites + 1, --st->num_invites * sizeof st->invites[0]);
	struct node_invite *in = &st->invites[st->num_invites++];
	memcpy(in->id, t.invite_id, sizeof in->id);
	in->created_at = t.created_at;
	in->expires_at = t.expires_at;
	save_state();
	if (G->udp) {
		char sid[72];
		inbox_session(sid, t.invite_key);
		for (size_t i = 0; i < st->num_relays; i++)
			open_link(st->relays[i], sid, true, NULL);
	}
	node_token_cleanup(&t);
	return 0;
}

/* Reopens the inboxes of the invites still in date (after a restart). */
static void open_inboxes(void)
{
	struct node_state *st = G->st;
	uint64_t now = (uint64_t)time(NULL);
	for (size_t i = 0; i < st->num_invites; i++) {
		uint8_t key[32];
		char sid[72];
		if (st->invites[i].expires_at <= now)
			continue;
		if (node_token_invite_key(key, st->secret, st->mesh_id, st->invites[i].id, st->invites[i].created_at,
					 st->invites[i].expires_at) != NODE_TOKEN_OK)
			continue;
		inbox_session(sid, key);
		OPENSSL_cleanse(key, sizeof key);
		for (size_t j = 0; j < st->num_relays; j++)
			open_link(st->relays[j], sid, true, NULL);
	}
}

/* ---- start-up ---- */

static void discover(void)
{
	struct stun_endpoint eps[NODE_TOKEN_MAX_STUN];
	size_t n = 0;
	for (size_t i = 0; i < G->st->num_stun && n < NODE_TOKEN_MAX_STUN; i++)
		if (stun_endpoint_parse(&eps[n], G->st->stun[i], 3478) == 0)
			n++;
	if (!n)
		return;
	static struct stun_discovery d;
	struct stun_client_opts o = {.timeout_ms = 2500, .settle_ms = 200};
	if (stun_discover(G->udp, eps, n, &o, &d) == 0 && d.status == 0) {
		char a[64];
		stun_addr_format(&d.mapped, G->public_ep, sizeof G->public_ep);
		stun_addr_format(&d.local, a, sizeof a);
		snprintf(G->local_ep, sizeof G->local_ep, "%s", a);
		core_log(CORE_LOG_INFO, "public endpoint %s (local %s, %zu of %zu servers agree)", G->public_ep, a,
			 d.num_agree, d.num_answered);
	} else {
		core_log(CORE_LOG_WARN, "STUN discovery failed: direct connections from outside this network are unlikely; "
					"relays still work (see 'atmosphere network')");
	}
}

/* Re-signals after our public endpoint changed: every connected peer gets a
 * new HELLO (candidates) and both sides punch again. */
static void resignal(void)
{
	uint64_t t = now_ms();
	for (size_t i = 0; i < sizeof G->peers / sizeof G->peers[0]; i++) {
		struct npeer *p = &G->peers[i];
		if (!p->used || !p->node_id[0] || !peer_ready(p))
			continue;
		send_hello(p);
		start_punch(p, t, PUNCH_WINDOW_MS);
	}
}

/* One refresh through our own socket (the mapping that matters is its
 * own); udp_reader feeds the answers. Suspends. */
static void refresh_public(void)
{
	struct stun_endpoint eps[NODE_TOKEN_MAX_STUN];
	size_t n = 0;
	for (size_t i = 0; i < G->st->num_stun && n < NODE_TOKEN_MAX_STUN; i++)
		if (stun_endpoint_parse(&eps[n], G->st->stun[i], 3478) == 0)
			n++;
	if (!n)
		return;
	static struct stun_discovery d;
	struct stun_client_opts o = {.timeout_ms = 2500, .settle_ms = 200, .no_cache = true, .feed = &G->feed};
	int r = stun_discover(G->udp, eps, n, &o, &d);
	G->stun_refreshes++;
	if (r != 0 || d.status != 0) {
		core_log(CORE_LOG_DEBUG, "STUN refresh: no answer (%s)", strerror(r ? -r : -d.status));
		return;
	}
	char ep[64];
	stun_addr_format(&d.mapped, ep, sizeof ep);
	if (!strcmp(ep, G->public_ep))
		return;
	core_log(CORE_LOG_INFO, "public endpoint changed from %s to %s (%zu of %zu servers agree); telling the peers",
		 G->public_ep[0] ? G->public_ep : "(none)", ep, d.num_agree, d.num_answered);
	copy_str(G->public_ep, sizeof G->public_ep, ep);
	G->public_changed_unix = (uint64_t)time(NULL);
	resignal();
}

static uint64_t refresh_interval(void)
{
	uint32_t r;
	RAND_bytes((uint8_t *)&r, sizeof r);
	return STUN_REFRESH_MS - STUN_REFRESH_JITTER_MS + r % (2 * STUN_REFRESH_JITTER_MS + 1);
}

/* Asks for a refresh soon (a sign that our mapping changed), within the
 * rate bound. */
static void want_stun_refresh(const char *why)
{
	if (!G->stun_co)
		return;
	uint64_t at = now_ms() + STUN_REFRESH_SOON_MS;
	if (at < G->last_stun_ms + STUN_REFRESH_MIN_MS)
		at = G->last_stun_ms + STUN_REFRESH_MIN_MS;
	if (at >= G->next_stun_ms)
		return;
	core_log(CORE_LOG_INFO, "refreshing the public endpoint: %s", why);
	G->next_stun_ms = at;
	core_unpark(G->stun_co, 0);
}

static void stun_refresher(void *arg)
{
	(void)arg;
	G->stun_co = core_coro_current();
	G->last_stun_ms = now_ms();
	G->next_stun_ms = G->last_stun_ms + refresh_interval();
	while (!G->stopping) {
		uint64_t t = now_ms();
		if (t < G->next_stun_ms) {
			if (core_park((int)(G->next_stun_ms - t)) == -ECANCELED)
				break;
			continue;
		}
		G->last_stun_ms = t;
		G->next_stun_ms = t + refresh_interval();
		refresh_public();
	}
	G->stun_co = NULL;
}

static void local_endpoint(void)
{
	/* The address the default route leaves from, with our port. */
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(0xC0000201)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage a;
	socklen_t al = sizeof a;
	if (fd >= 0 && connect(fd, (struct sockaddr *)&dst, sizeof dst) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0) {
		((struct sockaddr_in *)&a)->sin_port = htons(G->port);
		fmt_addr(&a, G->local_ep, sizeof G->local_ep);
	} else {
		snprintf(G->local_ep, sizeof G->local_ep, "127.0.0.1:%u", G->port);
	}
	if (fd >= 0)
		close(fd);
}

static void on_stop(void *arg)
{
	(void)arg;
	G->stopping = true;
	core_listener_interrupt(G->ctl);
	core_udp_interrupt(G->udp);
	if (G->stun_co)
		core_unpark(G->stun_co, -ECANCELED);
	for (size_t i = 0; i < MAX_LINKS; i++)
		if (G->links[i].used && G->links[i].c)
			relay_client_interrupt(G->links[i].c);
}

static struct core_shutdown_hook stop_hook;

static void node_main(void *arg)
{
	(void)arg;
	char err[300];
	/* Control socket: refuse to start beside a node that answers on it. */
	char path[NODE_PATH_MAX];
	node_control_path(G->st, path);
	mkdir(G->st->home, 0700);
	struct sockaddr_un probe = {.sun_family = AF_UNIX};
	copy_str(probe.sun_path, sizeof probe.sun_path, path);
	int pfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (pfd >= 0 && connect(pfd, (struct sockaddr *)&probe, sizeof probe) == 0) {
		close(pfd);
		fprintf(stderr, "atmosphere: a node is already running for %s (stop it first)\n", G->st->home);
		G->exit_code = 1;
		core_rt_shutdown(G->rt);
		return;
	}
	if (pfd >= 0)
		close(pfd);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(G->o->port)};
	int fd = core_udp_bind((struct sockaddr *)&a, sizeof a, false);
	if (fd < 0) {
		fprintf(stderr, "atmosphere: cannot bind UDP port %u: %s%s\n", G->o->port, strerror(-fd),
			fd == -EADDRINUSE ? " (is another node running? pick another with --port)" : "");
		G->exit_code = 1;
		core_rt_shutdown(G->rt);
		return;
	}
	struct sockaddr_in got;
	socklen_t gl = sizeof got;
	getsockname(fd, (struct sockaddr *)&got, &gl);
	G->port = ntohs(got.sin_port);
	int e = 0;
	G->udp = core_udp_new(fd, &e);
	local_endpoint();
	/* A node joining for the first time uses the STUN servers of its code. */
	if (G->o->join_code && !G->st->num_stun) {
		struct node_token t;
		if (node_token_decode(&t, NULL, G->o->join_code, strlen(G->o->join_code), (uint64_t)time(NULL)) ==
		    NODE_TOKEN_OK) {
			for (size_t i = 0; i < t.num_stun && G->st->num_stun < NODE_TOKEN_MAX_STUN; i++)
				copy_str(G->st->stun[G->st->num_stun++], sizeof G->st->stun[0], t.stun[i]);
		}
		node_token_cleanup(&t);
	}
	if (G->st->public_ip[0])
		snprintf(G->public_ep, sizeof G->public_ep, "%s:%u", G->st->public_ip, G->port);
	else
		discover();

	/* Control socket. */
	unlink(path); /* stale: nobody answers on it */
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	copy_str(un.sun_path, sizeof un.sun_path, path);
	int cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	mode_t old = umask(0077);
	if (cfd < 0 || bind(cfd, (struct sockaddr *)&un, sizeof un) != 0 || listen(cfd, 64) != 0) {
		umask(old);
		fprintf(stderr, "atmosphere: cannot listen on %s: %s\n", path, strerror(errno));
		G->exit_code = 1;
		core_rt_shutdown(G->rt);
		return;
	}
	umask(old);
	G->ctl_created = true;
	G->ctl = core_listener_new(cfd, &e);
	core_on_shutdown(&stop_hook, on_stop, NULL);
	core_spawn(udp_reader, NULL);
	core_spawn(control_server, NULL);
	core_spawn(ticker, NULL);
	stun_feed_init(&G->feed);
	/* A node told its public address needs no STUN. */
	if (!G->st->public_ip[0])
		core_spawn(stun_refresher, NULL);
	core_log(CORE_LOG_INFO, "node %s (%s) serving on UDP port %u%s%s", G->st->node_name, G->st->node_id, G->port,
		 G->st->have_mesh ? ", mesh " : "", G->st->have_mesh ? G->st->mesh_name : "");

	if (G->st->have_mesh) {
		open_inboxes();
		/* Known peers: meet again on the pair session of each. */
		for (size_t i = 0; i < G->st->num_peers; i++) {
			struct node_known_peer *kp = &G->st->peers[i];
			struct npeer *p = peer_new(kp->pub);
			if (!p)
				break;
			snprintf(p->node_id, sizeof p->node_id, "%s", kp->node_id);
			snprintf(p->name, sizeof p->name, "%s", kp->name);
			struct sockaddr_storage sa;
			socklen_t sl;
			if (parse_ep(kp->endpoint, &sa, &sl))
				add_candidate(p, &sa, sl);
			open_pair_link(p);
			/* The smaller id starts; the other answers (either works). */
			if (strcmp(G->st->node_id, p->node_id) < 0)
				start_handshake(p, NULL);
		}
	}
	if (G->o->join_code && begin_join(G->o->join_code, err, sizeof err) != 0) {
		fprintf(stderr, "atmosphere join: %s\n", err);
		G->exit_code = 1;
		core_rt_shutdown(G->rt);
	}
}

int node_run(struct node_state *st, const struct node_run_opts *o)
{
	static struct node n;
	/* Small receive rings: a node has a handful of TCP links (relays, the
	 * control socket) and modest UDP traffic, and a provided-buffer ring
	 * is used round-robin, so over hours every buffer of it gets touched:
	 * the defaults (1,024 x 16 KiB + 1,024 x 2 KiB) would end as 18 MiB of
	 * resident memory, these as 1.5 MiB. A burst beyond them is held back
	 * by TCP, or by the socket buffer for UDP, not dropped by us. */
	struct core_rt_opts ro = {.num_threads = 1, .handle_signals = true, .shutdown_grace_ms = 1500,
				  .stream_bufs = 64, .dgram_bufs = 256};
	int err = 0;
	struct node_run_opts oo = *o;
	if (!oo.punch_ms)
		oo.punch_ms = 3000;
	memset(&n, 0, sizeof n);
	G = &n;
	n.st = st;
	n.o = &oo;
	if (st->have_mesh)
		node_token_mesh_psk(n.mesh_psk, st->secret);
	node_e2e_keypair_init(&n.kp, st->priv);
	n.rt = core_rt_new(&ro, &err);
	if (!n.rt) {
		fprintf(stderr, "atmosphere: %s\n", core_rt_explain(err));
		return 1;
	}
	int r = core_rt_run(n.rt, node_main, NULL);
	core_rt_free(n.rt);
	char path[NODE_PATH_MAX];
	node_control_path(st, path);
	if (n.ctl_created)
		unlink(path);
	node_e2e_keypair_cleanup(&n.kp);
	OPENSSL_cleanse(n.mesh_psk, sizeof n.mesh_psk);
	for (size_t i = 0; i < sizeof n.peers / sizeof n.peers[0]; i++)
		if (n.peers[i].used) {
			if (n.peers[i].have_s)
				node_e2e_session_cleanup(&n.peers[i].s);
			if (n.peers[i].have_prev)
				node_e2e_session_cleanup(&n.peers[i].prev);
			if (n.peers[i].hs_live)
				node_e2e_handshake_cleanup(&n.peers[i].hs);
		}
	node_token_cleanup(&n.tok);
	if (r < 0)
		return 1;
	return n.exit_code;
}
