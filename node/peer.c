/* node/peer.c: the peer table, and sending a node message to a peer on its best path. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "net/bssl.h"
#include "node/internal.h"
#include "node/overlay.h"

/* A peer's slot is the node's per-member cost besides its relay links:
 * 3,600 bytes (sessions 928, handshake state, 8 candidates of 128 bytes,
 * membership want-bits 256), times NODE_MAX_PEERS + 8 slots. Keep it
 * at 3,600 bytes at most; the heavy parts (relay clients, coroutine stacks) belong
 * to links, which only live while open. */
static_assert(sizeof(struct node_peer) <= 3600, "struct node_peer grew: update docs/NODE.md, How many members");

/* A session we can send on: ours as initiator, or confirmed by the
 * initiator's first packet (a responder may not send before). */
bool node_peer_ready(const struct node_peer *p)
{
	return node_sessions_ready(&p->ss);
}

bool node_peer_holds(const struct node_peer *p, const uint8_t pub[32])
{
	return p->used && !memcmp(p->pub, pub, sizeof p->pub);
}

struct node_peer *node_peer_by_pub(struct node *node, const uint8_t pub[32])
{
	for (size_t i = 0; i < node->peers_hi; i++)
		if (node->peers[i].used && !CRYPTO_memcmp(node->peers[i].pub, pub, 32))
			return &node->peers[i];
	return NULL;
}

/* By node id, or by name (a connected peer first: names need not be unique). */
struct node_peer *node_peer_by_name(struct node *node, const char *s)
{
	struct node_peer *named = NULL;
	for (size_t i = 0; i < node->peers_hi; i++) {
		struct node_peer *p = &node->peers[i];
		if (!p->used)
			continue;
		if (!strcmp(p->node_id, s))
			return p;
		if (!strcmp(p->name, s) && (!named || (p->ss.have_s && !named->ss.have_s)))
			named = p;
	}
	return named;
}

struct node_peer *node_peer_new(struct node *node, const uint8_t pub[32])
{
	/* First free: the slots in use stay low, and peers_hi with them. */
	for (size_t i = 0; i < sizeof node->peers / sizeof node->peers[0]; i++)
		if (!node->peers[i].used) {
			struct node_peer *p = &node->peers[i];
			memset(p, 0, sizeof *p);
			p->used = true;
			if (i >= node->peers_hi)
				node->peers_hi = i + 1;
			memcpy(p->pub, pub, 32);
			memcpy(p->psk, node->mesh_psk, 32);
			return p;
		}
	return NULL;
}

bool node_peer_add_candidate(struct node_peer *p, const struct sockaddr_storage *a, socklen_t len)
{
	for (int i = 0; i < p->num_cand; i++)
		if (node_same_addr(&p->cand[i], a))
			return false;
	if (p->num_cand == NODE_MAX_CAND) {
		/* Full: the oldest goes (a peer's new addresses matter more). */
		memmove(p->cand, p->cand + 1, (NODE_MAX_CAND - 1) * sizeof p->cand[0]);
		memmove(p->cand_len, p->cand_len + 1, (NODE_MAX_CAND - 1) * sizeof p->cand_len[0]);
		memmove(p->cand_flags, p->cand_flags + 1, (NODE_MAX_CAND - 1) * sizeof p->cand_flags[0]);
		p->num_cand--;
	}
	p->cand_flags[p->num_cand] = 0;
	p->cand[p->num_cand] = *a;
	p->cand_len[p->num_cand++] = len;
	return true;
}

/* One datagram on fd, with IP_TTL (IPv6: IPV6_HOPLIMIT) ttl for this
 * datagram alone. */
static int send_ttl(int fd, const struct sockaddr_storage *to, socklen_t len, const uint8_t *pkt, size_t n, int ttl)
{
	struct iovec iov = {.iov_base = (void *)pkt, .iov_len = n};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = {.msg_name = (void *)to, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ttl ? cbuf : NULL, .msg_controllen = ttl ? sizeof cbuf : 0};
	if (ttl) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = to->ss_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
		c->cmsg_type = to->ss_family == AF_INET6 ? IPV6_HOPLIMIT : IP_TTL;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &ttl, sizeof ttl);
	}
	return sendmsg(fd, &mh, MSG_DONTWAIT) < 0 ? -errno : 0;
}

int node_send_udp(struct node *node, const struct sockaddr_storage *to, socklen_t len, const uint8_t *pkt, size_t n, int ttl)
{
	return node_send_udp_on(node, NULL, to, len, pkt, n, ttl);
}

/* sock NULL: the node's own socket. A probing socket not yet adopted has
 * no reactor side (sock->u NULL): a plain non-blocking send. */
int node_send_udp_on(struct node *node, struct node_usock *sock, const struct sockaddr_storage *to, socklen_t len,
		     const uint8_t *pkt, size_t n, int ttl)
{
	if (node->o->relay_only)
		return -ENETUNREACH; /* serve --relay-only: nothing leaves by UDP */
	/* The node's own socket of the destination's family. */
	struct core_udp *u = sock ? sock->u : to->ss_family == AF_INET6 ? node->udp6 : node->udp;
	if (!u && !sock) /* shutting down (udp_reader closed it), or no IPv6 socket on this host */
		return node->stopping ? -ENOTCONN : -EAFNOSUPPORT;
	if (ttl || !u) {
		/* A low-TTL first punch opens our own NAT's mapping without reaching
		 * the peer's NAT (docs/NAT-LAB.md: the masquerade trap). */
		return send_ttl(u ? core_udp_fd(u) : sock->fd, to, len, pkt, n, ttl);
	}
	int r = core_udp_sendto_nowait(u, pkt, n, (const struct sockaddr *)to, len);
	if (r == -ENOBUFS || r == -EMSGSIZE) {
		/* This send waits: what the overlay holds for coalescing goes to
		 * the kernel first (node/overlay.h), not after the wait. */
		node_overlay_flush(node);
		r = core_udp_sendto(u, pkt, n, (const struct sockaddr *)to, len, 1000);
	}
	return r < 0 ? r : 0;
}

static int send_sealed(struct node *node, struct node_peer *p, uint8_t type, const void *body, size_t len,
		       const struct sockaddr_storage *to, socklen_t to_len, int ttl, struct node_link *via,
		       struct node_usock *sock);

/* Encrypts and sends a node message on the best path (or to `to`). */
int node_peer_send_to(struct node *node, struct node_peer *p, uint8_t type, const void *body, size_t len,
			const struct sockaddr_storage *to, socklen_t to_len, int ttl)
{
	/* To the direct path's address: on the direct path's socket. */
	struct node_usock *sock = to && p->direct_ok && node_same_addr(to, &p->direct) ? p->direct_sock : NULL;
	int r = send_sealed(node, p, type, body, len, to, to_len, ttl, NULL, sock);
	if (to && r == 0)
		node_cand_mark(p, to, NODE_CAND_TRIED); /* for peers --json (node/candidate.c) */
	return r;
}

/* The same from a given socket (NULL: the node's own). */
int node_peer_send_via(struct node *node, struct node_peer *p, struct node_usock *sock, uint8_t type, const void *body,
		       size_t len, const struct sockaddr_storage *to, socklen_t to_len, int ttl)
{
	return send_sealed(node, p, type, body, len, to, to_len, ttl, NULL, sock);
}

int node_peer_send_on_link(struct node *node, struct node_peer *p, struct node_link *l, uint8_t type, const void *body,
			   size_t len)
{
	if (!l->used || l->peer != p)
		return -ENOTCONN;
	return send_sealed(node, p, type, body, len, NULL, 0, 0, l, NULL);
}

/* Seals type + body for p into out (cap bytes) and counts it as sent:
 * bytes_out, and the traffic time for traffic. */
static int seal(struct node_peer *p, uint8_t type, const void *body, size_t len, uint8_t *out, size_t cap,
		size_t *out_len)
{
	uint8_t plain[NODE_MAX_MESSAGE_LEN];
	if (!p->ss.have_s || len + 1 > sizeof plain)
		return -ENOTCONN;
	plain[0] = type;
	if (len)
		memcpy(plain + 1, body, len);
	int r = node_e2e_encrypt(&p->ss.s, out, cap, out_len, plain, len + 1, node_now_ms());
	OPENSSL_cleanse(plain, len + 1);
	if (r != NODE_E2E_OK)
		return -EPROTO;
	p->bytes_out += *out_len;
	if (node_msg_is_traffic(type))
		p->traffic_ms = node_now_ms();
	return 0;
}

/* What sending on the direct path notes besides the send itself. */
static void direct_sent(struct node_peer *p, uint8_t type)
{
	p->tx_direct_ms = node_now_ms();
	if (node_msg_is_traffic(type))
		node_direct_sent_waits(p, p->tx_direct_ms);
}

static int send_sealed(struct node *node, struct node_peer *p, uint8_t type, const void *body, size_t len,
		       const struct sockaddr_storage *to, socklen_t to_len, int ttl, struct node_link *via,
		       struct node_usock *sock)
{
	uint8_t pkt[NODE_MAX_MESSAGE_LEN + NODE_E2E_DATA_OVERHEAD];
	size_t pl;
	int r = seal(p, type, body, len, pkt, sizeof pkt, &pl);
	if (r < 0)
		return r;
	bool traffic = node_msg_is_traffic(type);
	if (via) {
		via->tx_ms = node_now_ms();
		return node_send_on_link(via, pkt, pl);
	}
	if (to)
		return node_send_udp_on(node, sock, to, to_len, pkt, pl, ttl);
	if (p->direct_ok) {
		direct_sent(p, type);
		return node_send_udp_on(node, p->direct_sock, &p->direct, p->direct_len, pkt, pl, 0);
	}
	/* Only a link that still belongs to p (a freed slot may serve another
	 * session by now). */
	if (!p->relay || !p->relay->used || p->relay->peer != p)
		return -ENOTCONN;
	p->relay->tx_ms = node_now_ms();
	if (traffic)
		node_link_sent_waits(p, p->relay, p->relay->tx_ms);
	return node_send_on_link(p->relay, pkt, pl);
}

struct core_udp *node_peer_direct_udp(const struct node *node, const struct node_peer *p)
{
	if (node->o->relay_only || !p->ss.have_s || !p->direct_ok)
		return NULL;
	if (p->direct_sock)
		return p->direct_sock->u;
	return p->direct.ss_family == AF_INET6 ? node->udp6 : node->udp;
}

int node_peer_seal_direct(struct node_peer *p, uint8_t type, const void *body, size_t len, uint8_t *out, size_t cap,
			  size_t *out_len)
{
	if (!p->direct_ok)
		return -ENOTCONN;
	int r = seal(p, type, body, len, out, cap, out_len);
	if (r == 0)
		direct_sent(p, type);
	return r;
}

int node_peer_send(struct node *node, struct node_peer *p, uint8_t type, const void *body, size_t len)
{
	return node_peer_send_to(node, p, type, body, len, NULL, 0, 0);
}

void node_peer_send_json(struct node *node, struct node_peer *p, uint8_t type, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	node_peer_send(node, p, type, s, strlen(s));
	json_object_put(o);
}

void node_save_state(struct node *node)
{
	char err[256];
	if (node_state_save(node->st, err, sizeof err) != 0)
		core_log(CORE_LOG_ERR, "cannot save state: %s", err);
}

void node_peer_remember(struct node *node, struct node_peer *p)
{
	struct node_known_peer kp;
	memset(&kp, 0, sizeof kp);
	snprintf(kp.node_id, sizeof kp.node_id, "%s", p->node_id);
	snprintf(kp.name, sizeof kp.name, "%s", p->name);
	memcpy(kp.pub, p->pub, 32);
	if (p->direct_ok)
		node_fmt_addr(&p->direct, kp.endpoint, sizeof kp.endpoint);
	if (node_state_add_peer(node->st, &kp))
		node_save_state(node);
}
