/* node/overlay.c: see overlay.h. */
#include "node/overlay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/fd.h"
#include "core/log.h"
#include "node/internal.h"
#include "node/lazy.h"
#include "overlay/addr.h"
#include "overlay/firewall.h"
#include "overlay/gro.h"
#include "overlay/gso.h"
#include "overlay/icmp.h"
#include "overlay/netlink.h"
#include "overlay/packet.h"
#include "overlay/stage.h"
#include "overlay/table.h"
#include "overlay/tun.h"
#include "overlay/udpgso.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* linux/udp.h; glibc headers before 2.29 lack it */
#endif

#define NPEERS (sizeof ((struct node *)0)->peers / sizeof ((struct node *)0)->peers[0])

/* Packets for a member not reachable yet wait (overlay/stage.h) at most
 * this long: as long as a `send` waits for a call to connect. */
#define OV_STAGE_MS NODE_LAZY_CONNECT_MS
/* Members with packets waiting at once; past it a packet for another one
 * is dropped (dropped.no_session). 64 stages are about 1.5 MiB. */
#define OV_STAGE_PEERS 64u
/* How often the stager looks whether a member waited for is reachable:
 * the delay a waiting packet adds to its path's coming up. */
#define OV_STAGE_POLL_MS 10
_Static_assert(NODE_PMTU_MAX <= OVERLAY_STAGE_PKT_MAX, "a stage holds the overlay's largest packet");

struct node_overlay {
	struct overlay_tun tun;
	struct overlay_table table;
	uint8_t addr4[4], addr6[16], prefix6[16];
	/* The ids and collision counters the table was built from, per peer
	 * slot: a slot whose id or counter changes (learnt, the member moved,
	 * or the slot reused) rebuilds the table. */
	char ids[NPEERS][NODE_TOKEN_MAX_ID_LEN + 1];
	uint32_t ns[NPEERS];
	struct ov_rank {
		uint32_t n, slot;
		const char *id;
	} order[NPEERS];                       /* rebuild's: peer slots by precedence */
	uint32_t n;                            /* this node's counter (its addresses') */
	uint64_t tx, rx;                       /* packets */
	uint64_t no_member, no_session, spoofed, not_ours, bad, too_big, tun_errors, firewalled;
	struct overlay_fw fw;                  /* serve --allow */
	struct core_coro *reader;
	uint8_t rbuf[OVERLAY_GSO_MAX_READ];    /* the reader's read: a packet, or a TSO one (overlay/gso.h) */
	uint8_t seg[16384];                    /* a TSO packet's segment */
	uint64_t gso_reads, gso_segs, gso_bad; /* TSO reads, the packets cut from them, reads refused */
	uint8_t icmp[OVERLAY_ICMP_MAX];
	/* UDP GSO (overlay/udpgso.h): the packets cut from one TSO read for
	 * one peer's direct path, sealed end to end into buf and sent with one
	 * sendmsg. Only the reader fills and sends it, and it is empty again
	 * before the reader waits for the next read. */
	struct ov_batch {
		struct overlay_udpgso st;
		struct node_peer *p;           /* the batch's peer; meaningful while st.num > 0 */
		struct core_udp *u;            /* its direct path's socket, */
		struct sockaddr_storage to;    /* and address, when the batch began */
		socklen_t to_len;
		uint8_t buf[OVERLAY_UDPGSO_MAX_LEN];
	} batch;
	bool udp_gso;                          /* wanted (ATMOSPHERE_UDP_GSO) and the kernel has it */
	uint64_t gso_batches, gso_batched;     /* GSO sends, the packets in them */
	uint64_t gso_fallbacks, gso_errors;    /* the kernel refused GSO (then off); batched packets lost to send errors */
	/* GRO on the TUN's write side (overlay/gro.h): packets delivered
	 * within a batch (node_overlay_batch_begin/end: the datagrams a UDP
	 * reader finds queued, the messages a relay link has already
	 * received) are coalesced, up to OVERLAY_GRO_FLOWS flows at once, and
	 * written when the batch ends, or earlier when one does not merge.
	 * Nothing is held outside a batch. gro_buf is 512 KiB; calloc leaves
	 * its pages untouched until as many flows have been held. */
	struct overlay_gro gro;
	uint8_t gro_buf[OVERLAY_GRO_MEM_LEN];
	bool gro_on;                           /* offloads on and not ATMOSPHERE_TUN_GRO=off */
	unsigned batching;                     /* batches open (the IPv4 and IPv6 readers may nest) */
	uint64_t gro_writes, gro_packets;      /* writes of more than one packet, the packets in them */
	uint64_t gro_fallbacks;                /* coalesced writes refused, written again packet by packet */
	uint8_t gro_seg[16384];                /* one of those packets (not seg: the reader may be mid-cut) */
	struct core_log_limit log_collide, log_tun, log_spoof;  /* peers and programs can cause these */
	/* Packets waiting for a member to become reachable, per peer slot
	 * (allocated while some wait; one existing, even empty, keeps later
	 * packets behind it: order is kept), and the coroutine that sends
	 * them once it is (stager; running while any stage exists). */
	struct overlay_stage *stage[NPEERS];
	unsigned stages;
	bool stager;
	uint64_t staged, stage_sent, stage_expired, stage_overflow;
};

static void derive(const struct node *node, const char *node_id, uint32_t n, uint8_t a4[4], uint8_t a6[16])
{
	uint32_t a = overlay_addr4(node->st->mesh_id, node_id, n);
	a4[0] = (uint8_t)(a >> 24);
	a4[1] = (uint8_t)(a >> 16);
	a4[2] = (uint8_t)(a >> 8);
	a4[3] = (uint8_t)a;
	overlay_addr6(node->st->mesh_id, node_id, n, a6);
}

/* The collision counter member pub advertises in its entry (0 without
 * one, or in a mesh without membership records). */
static uint32_t member_n(const struct node *node, const uint8_t pub[32])
{
	int i = node->mem ? node_members_find(node->mem, pub) : -1;
	return i >= 0 && node->mem->slots[i].has_entry ? node->mem->slots[i].m.n : 0;
}

/* Peer slots in the order node_member_precedes gives their members:
 * smaller counter, then smaller node id. */
static int by_precedence(const void *x, const void *y)
{
	const struct ov_rank *a = x, *b = y;
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	return strcmp(a->id, b->id);
}

/* The table from the peers' ids and counters. Members are added in order
 * of precedence, so when two derive the same address (until the one that
 * yields has moved) the one every node agrees keeps it is the one routed;
 * an address of our own is never routed to a member. */
static void rebuild(struct node *node)
{
	struct node_overlay *ov = node->ov;
	size_t num = 0;
	overlay_table_clear(&ov->table);
	for (size_t i = 0; i < node->peers_hi; i++)
		if (ov->ids[i][0])
			ov->order[num++] = (struct ov_rank){.n = ov->ns[i], .slot = (uint32_t)i, .id = ov->ids[i]};
	qsort(ov->order, num, sizeof ov->order[0], by_precedence);
	for (size_t k = 0; k < num; k++) {
		uint32_t i = ov->order[k].slot;
		uint8_t a4[4], a6[16];
		derive(node, ov->ids[i], ov->ns[i], a4, a6);
		bool ours = !memcmp(a4, ov->addr4, 4) || !memcmp(a6, ov->addr6, 16);
		if (ours || overlay_table_add(&ov->table, 4, a4, i) == -EEXIST ||
		    overlay_table_add(&ov->table, 6, a6, i) == -EEXIST)
			core_log_limited(&ov->log_collide, CORE_LOG_WARN, "overlay: member %s (counter %u) derives an address %s "
					 "has; it is not reachable over the overlay until one of them moves", ov->ids[i], ov->ns[i],
					 ours ? "this node" : "another member");
	}
}

/* Gives the interface this node's addresses (ov->addr4, addr6) and routes
 * the mesh's prefixes to it. Returns 0 or a negative errno, with the
 * reason in err. */
static int configure_tun(struct node_overlay *ov, char *err, size_t err_len)
{
	struct overlay_tun_config c = {.mtu = NODE_PMTU_MAX, .route4 = {100, 64, 0, 0},
				       .route4_len = OVERLAY_V4_PREFIX_LEN, .route6_len = OVERLAY_V6_PREFIX_LEN};
	memcpy(c.addr4, ov->addr4, 4);
	memcpy(c.addr6, ov->addr6, 16);
	memcpy(c.route6, ov->prefix6, 16);
	return overlay_tun_configure(&ov->tun, &c, err, err_len);
}

/* This node's addresses changed: it moved to counter n (its entry says
 * so), or it joined another mesh (a new IPv6 prefix). The interface takes
 * the new addresses and route, then drops the old ones that differ. */
static void readdress(struct node *node, uint32_t n)
{
	struct node_overlay *ov = node->ov;
	uint8_t o4[4], o6[16], op6[16];
	char err[512], s4[INET_ADDRSTRLEN], s6[INET6_ADDRSTRLEN];
	memcpy(o4, ov->addr4, 4);
	memcpy(o6, ov->addr6, 16);
	memcpy(op6, ov->prefix6, 16);
	derive(node, node->st->node_id, n, ov->addr4, ov->addr6);
	overlay_prefix6(node->st->mesh_id, ov->prefix6);
	ov->n = n;
	if (configure_tun(ov, err, sizeof err) < 0)
		core_log(CORE_LOG_ERR, "overlay: %s", err);
	if (memcmp(o4, ov->addr4, 4))
		overlay_nl_addr_del(ov->tun.ifindex, AF_INET, o4, 32);
	if (memcmp(o6, ov->addr6, 16))
		overlay_nl_addr_del(ov->tun.ifindex, AF_INET6, o6, 128);
	if (memcmp(op6, ov->prefix6, 16))
		overlay_nl_route_del(ov->tun.ifindex, AF_INET6, op6, OVERLAY_V6_PREFIX_LEN);
	inet_ntop(AF_INET, ov->addr4, s4, sizeof s4);
	inet_ntop(AF_INET6, ov->addr6, s6, sizeof s6);
	core_log(CORE_LOG_INFO, "overlay: %s now has %s, %s (counter %u)", ov->tun.name, s4, s6, n);
}

void node_overlay_tick(struct node *node)
{
	struct node_overlay *ov = node->ov;
	if (!ov)
		return;
	bool dirty = false;
	uint32_t n = member_n(node, node->st->pub);
	if (n != ov->n) {
		readdress(node, n);
		dirty = true;
	}
	for (size_t i = 0; i < node->peers_hi; i++) {
		const struct node_peer *p = &node->peers[i];
		const char *id = p->used ? p->node_id : "";
		uint32_t pn = p->used && id[0] ? member_n(node, p->pub) : 0;
		if (strcmp(ov->ids[i], id) || ov->ns[i] != pn) {
			node_copy_str(ov->ids[i], sizeof ov->ids[i], id);
			ov->ns[i] = pn;
			dirty = true;
		}
	}
	if (dirty)
		rebuild(node);
}

static void tun_write(struct node_overlay *ov, const uint8_t *pkt, size_t n)
{
	/* A TUN write hands the packet to the kernel's receive path at once
	 * (it never waits for room), so a plain write() does not stall. With
	 * offloads on, it starts with a header that says "an ordinary
	 * packet, checksums done" (overlay/gso.h). */
	struct iovec v[2] = {{(void *)overlay_vnet_none, OVERLAY_VNET_HDR_LEN}, {(void *)pkt, n}};
	int first = ov->tun.vnet_hdr ? 0 : 1;
	if (writev(ov->tun.fds[0], v + first, 2 - first) < 0) {
		ov->tun_errors++;
		core_log_limited(&ov->log_tun, CORE_LOG_WARN, "overlay: writing to %s: %s", ov->tun.name, strerror(errno));
	}
}

/* Writes one held packet: the one the coalescer asked for, else the
 * oldest. False: nothing was held. */
static bool gro_flush_one(struct node_overlay *ov)
{
	const uint8_t *w;
	uint16_t segs = 0;
	size_t n = overlay_gro_flush(&ov->gro, &w, &segs);
	if (!n)
		return false;
	if (segs > 1) {
		ov->gro_writes++;
		ov->gro_packets += segs;
	}
	if (write(ov->tun.fds[0], w, n) >= 0)
		return true;
	int e = errno;
	if (segs < 2) {
		ov->tun_errors++;
		core_log_limited(&ov->log_tun, CORE_LOG_WARN, "overlay: writing to %s: %s", ov->tun.name, strerror(e));
		return true;
	}
	/* A coalesced write refused: its packets go one by one, cut back
	 * exactly as they came (overlay/gro.h); a kernel that refuses the GSO
	 * header itself (EINVAL) gets no more of them. */
	if (e == EINVAL && ov->gro_on) {
		ov->gro_on = false;
		core_log(CORE_LOG_WARN, "overlay: %s refused a coalesced write (%s); writing packet by packet from now on",
			 ov->tun.name, strerror(e));
	}
	ov->gro_fallbacks++;
	struct overlay_gso_iter it;
	const uint8_t *pkt;
	long m;
	if (overlay_gso_begin(&it, (uint8_t *)(uintptr_t)w, n) < 0) /* w is in gro_buf, ours */
		return true;
	while ((m = overlay_gso_next(&it, ov->gro_seg, sizeof ov->gro_seg, &pkt)) > 0)
		tun_write(ov, pkt, (size_t)m);
	return true;
}

/* Writes everything held, oldest flow first. */
static void gro_flush(struct node_overlay *ov)
{
	while (gro_flush_one(ov))
		;
}

void node_overlay_flush(struct node *node)
{
	if (node->ov)
		gro_flush(node->ov);
}

/* A packet for the TUN inside a batch: merged into its flow's held
 * packet, held as a new flow, or written; a held packet that must go
 * before it (its flow's, or the oldest when the table is full) is written
 * first, so a flow's packets keep their order (overlay/gro.h, "Order"). */
static void gro_write(struct node_overlay *ov, const uint8_t *pkt, size_t n)
{
	enum overlay_gro_verdict v;
	while ((v = overlay_gro_add(&ov->gro, pkt, n)) == OVERLAY_GRO_FLUSH)
		gro_flush_one(ov);
	if (v == OVERLAY_GRO_PASS)
		tun_write(ov, pkt, n);
}

void node_overlay_batch_begin(struct node *node)
{
	if (node->ov)
		node->ov->batching++;
}

void node_overlay_batch_end(struct node *node)
{
	struct node_overlay *ov = node->ov;
	if (!ov)
		return;
	if (ov->batching)
		ov->batching--;
	gro_flush(ov);
}

/* An ICMP error for pkt back to the kernel (mtu: the figure "packet too
 * big" carries). */
static void answer(struct node_overlay *ov, const uint8_t *pkt, size_t n, const struct overlay_ip *ip,
		   enum overlay_icmp_kind kind, unsigned mtu)
{
	size_t m = overlay_icmp_error(pkt, n, kind, mtu, ip->dst, ov->icmp);
	if (m)
		tun_write(ov, ov->icmp, m);
}

/* The batch as ordinary sends, one per packet (the kernel refused GSO). The
 * peer's direct path must still be the batch's: the send suspended. */
static void unbatch(struct node *node, struct node_overlay *ov)
{
	struct ov_batch *b = &ov->batch;
	struct node_peer *p = b->p;
	if (!p->used || node_peer_direct_udp(node, p) != b->u || !node_same_addr(&p->direct, &b->to)) {
		ov->gso_errors += b->st.num;
		return;
	}
	for (size_t off = 0; off < b->st.len; off += b->st.seg) {
		size_t n = b->st.len - off < b->st.seg ? b->st.len - off : b->st.seg;
		if (node_send_udp_on(node, p->direct_sock, &b->to, b->to_len, b->buf + off, n, 0) == 0)
			ov->tx++;
		else
			ov->gso_errors++;
	}
}

/* Sends the batch: one sendmsg with a UDP_SEGMENT cmsg (on the reactor's
 * ring, like every send on the node's sockets: core_udp_sendmsg waits for
 * it, so buf is free again when this returns); a batch of one is an
 * ordinary send. Empties it. May suspend. */
static void flush(struct node *node, struct node_overlay *ov)
{
	struct ov_batch *b = &ov->batch;
	uint32_t num = b->st.num;
	if (!num)
		return;
	if (num == 1) {
		if (node_send_udp_on(node, b->p->direct_sock, &b->to, b->to_len, b->buf, b->st.len, 0) == 0)
			ov->tx++;
		else
			ov->gso_errors++;
		overlay_udpgso_reset(&b->st);
		return;
	}
	uint8_t ctl[OVERLAY_UDPGSO_CMSG_SPACE];
	struct iovec iov = {.iov_base = b->buf, .iov_len = b->st.len};
	struct msghdr mh = {.msg_name = &b->to, .msg_namelen = b->to_len, .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl};
	mh.msg_controllen = overlay_udpgso_cmsg(ctl, sizeof ctl, (uint16_t)b->st.seg);
	int r = core_udp_sendmsg(b->u, &mh, 1000);
	if (r == -EIO || r == -EINVAL) {
		/* The kernel has UDP_SEGMENT but will not do it here (a device
		 * without checksum offload, before Linux 6.11: -EIO; a segment
		 * over the device's MTU: -EINVAL). Off for good, as wireguard-go
		 * does; the batch goes packet by packet. */
		ov->udp_gso = false;
		ov->gso_fallbacks++;
		core_log(CORE_LOG_WARN, "overlay: the kernel refused a UDP GSO send (%s); sending packet by packet from now on",
			 strerror(-r));
		unbatch(node, ov);
	} else if (r < 0) {
		/* Lost like datagrams a full socket buffer drops: TCP resends. */
		ov->gso_errors += num;
	} else {
		ov->gso_batches++;
		ov->gso_batched += num;
		ov->tx += num;
	}
	overlay_udpgso_reset(&b->st);
}

/* Whether a packet sealed to sealed bytes for p may join the batch (on:
 * a packet of a TSO read; the batch may be empty). */
static bool joins(struct node *node, struct node_overlay *ov, struct node_peer *p, size_t sealed, bool on)
{
	const struct ov_batch *b = &ov->batch;
	struct core_udp *u = on && ov->udp_gso ? node_peer_direct_udp(node, p) : NULL;
	if (!u || !overlay_udpgso_fits(&b->st, sealed))
		return false;
	return !b->st.num || (b->p == p && b->u == u && node_same_addr(&b->to, &p->direct));
}

/* Seals pkt[0..n) for p into the batch; joins() said it may. False:
 * sealing refused (node_peer_send fails the same way, and counts it). */
static bool batch_add(struct node *node, struct node_overlay *ov, struct node_peer *p, const uint8_t *pkt, size_t n)
{
	struct ov_batch *b = &ov->batch;
	size_t pl;
	if (node_peer_seal_direct(p, NODE_MSG_IP, pkt, n, b->buf + b->st.len, sizeof b->buf - b->st.len, &pl) < 0)
		return false;
	if (!b->st.num) {
		b->p = p;
		b->u = node_peer_direct_udp(node, p);
		b->to = p->direct;
		b->to_len = p->direct_len;
	}
	overlay_udpgso_add(&b->st, pl);
	return true;
}

/* The member that owns ip's destination, or NULL (counted, and answered
 * "unreachable"). */
static struct node_peer *owner(struct node *node, struct node_overlay *ov, const uint8_t *pkt, size_t n,
			       const struct overlay_ip *ip)
{
	uint32_t idx;
	if (!overlay_table_lookup(&ov->table, ip->version, ip->dst, &idx) || idx >= NPEERS || !node->peers[idx].used) {
		ov->no_member++;
		answer(ov, pkt, n, ip, OVERLAY_ICMP_UNREACHABLE, NODE_OVERLAY_MTU);
		return NULL;
	}
	return &node->peers[idx];
}

/* Whether a packet for p is sent now rather than staged. Lazy links
 * (node/lazy.h): only while node_lazy_reachable (not while a call is
 * under way, or the idle question is out). Eager: what node_peer_send
 * needs, a session key (a responder may send before its session is
 * confirmed) and a direct path or a relay link that is up, paired or not
 * (a relay without the paired notice, as the seed's, forwards all the
 * same; ours holds what comes before the other side). */
static bool may_send(const struct node *node, const struct node_peer *p)
{
	if (node_lazy(node))
		return node_lazy_reachable(p);
	return p->ss.have_s && (p->direct_ok || (p->relay && p->relay->used && p->relay->peer == p && p->relay->up));
}

/* What a packet for p waits for: a session (a handshake started) and a
 * path (a call, when links are lazy). Either may suspend. */
static void want_path(struct node *node, struct node_peer *p)
{
	node_lazy_want(node, p);
	if (p->used && !p->hs_live && !p->ss.have_s)
		node_handshake_start(node, p, NULL);
}

static void stage_free(struct node_overlay *ov, size_t i)
{
	free(ov->stage[i]);
	ov->stage[i] = NULL;
	ov->stages--;
}

enum drain { DRAINED, BLOCKED, BUSY };

/* Sends what waits for peer slot i, in order, while its member may be sent
 * to; drops what waited too long (or was for a member that left the
 * slot); frees the stage once it is empty (DRAINED). BLOCKED: the member
 * cannot be sent to (now or any more); BUSY: another drain of this stage
 * is under way (one at a time: only a drain frees a stage, so s stays
 * valid across the sends, which may suspend). ov lives as long as the
 * node's coroutines (node_overlay_stop runs after them). */
static enum drain stage_drain(struct node *node, struct node_overlay *ov, size_t i)
{
	uint8_t pkt[OVERLAY_STAGE_PKT_MAX];
	struct overlay_stage *s = ov->stage[i];
	if (!s)
		return DRAINED;
	if (s->draining)
		return BUSY;
	s->draining = true;
	while (!node->stopping) {
		struct node_peer *p = &node->peers[i];
		bool same = node_peer_holds(p, s->owner);
		ov->stage_expired += same ? overlay_stage_expire(s, node_now_ms(), OV_STAGE_MS) : overlay_stage_clear(s);
		if (!s->num) {
			stage_free(ov, i);
			return DRAINED;
		}
		if (!may_send(node, p))
			break;
		size_t n = overlay_stage_pop(s, pkt, sizeof pkt);
		if (node_peer_send(node, p, NODE_MSG_IP, pkt, n) < 0) {
			ov->no_session++; /* the path went while it was picked: lost */
		} else {
			ov->tx++;
			ov->stage_sent++;
		}
	}
	s->draining = false;
	return BLOCKED;
}

/* The stager: while packets wait, every OV_STAGE_POLL_MS sends those whose
 * member can be sent to now, and starts what the others wait for. Ends
 * when none waits, or the node stops. */
static void stager(void *arg)
{
	core_task_set_name("overlay stager");
	struct node *node = arg;
	struct node_overlay *ov = node->ov;
	for (;;) {
		core_sleep(OV_STAGE_POLL_MS);
		if (node->stopping || !ov->stages) {
			ov->stager = false;
			return;
		}
		for (size_t i = 0; i < NPEERS && ov->stages && !node->stopping; i++)
			if (ov->stage[i] && stage_drain(node, ov, i) == BLOCKED && node->peers[i].used)
				want_path(node, &node->peers[i]);
	}
}

/* Stages pkt[0..n) for p (overlay/stage.h) and starts the stager. False:
 * not staged (OV_STAGE_PEERS wait already, no memory, or a size no stage
 * holds). */
static bool stage_add(struct node *node, struct node_overlay *ov, struct node_peer *p, const uint8_t *pkt, size_t n)
{
	if (!n || n > OVERLAY_STAGE_PKT_MAX)
		return false;
	size_t i = (size_t)(p - node->peers);
	struct overlay_stage *s = ov->stage[i];
	if (s && memcmp(s->owner, p->pub, sizeof s->owner)) {
		ov->stage_expired += overlay_stage_clear(s); /* the slot's last member's */
		memcpy(s->owner, p->pub, sizeof s->owner);
	}
	if (!s) {
		if (ov->stages >= OV_STAGE_PEERS || !(s = malloc(sizeof *s)))
			return false;
		overlay_stage_init(s, p->pub);
		ov->stage[i] = s;
		ov->stages++;
	}
	ov->stage_overflow += (unsigned)overlay_stage_push(s, pkt, n, node_now_ms());
	ov->staged++;
	if (!ov->stager && core_spawn(stager, node) == 0)
		ov->stager = true;
	return true;
}

/* One packet from the kernel: to the member that owns its destination.
 * batch: pkt is one of several cut from a TSO read, and may join the UDP
 * GSO batch (the caller flushes it at the end of the read). */
static void route_out(struct node *node, struct node_overlay *ov, const uint8_t *pkt, size_t n, bool batch)
{
	struct overlay_ip ip;
	if (overlay_ip_parse(pkt, n, &ip) != OVERLAY_IP_OK) {
		ov->bad++;
		return;
	}
	int fam = ip.version;
	/* Only this node's own addresses leave by its overlay: a program
	 * (or a raw socket) cannot speak as another member. */
	if (memcmp(ip.src, fam == 4 ? ov->addr4 : ov->addr6, fam == 4 ? 4 : 16)) {
		ov->spoofed++;
		return;
	}
	struct node_peer *p = owner(node, ov, pkt, n, &ip);
	if (!p)
		return;
	size_t sealed = 1 + ip.len + NODE_E2E_DATA_OVERHEAD;
	bool join = joins(node, ov, p, sealed, batch);
	if (!join && ov->batch.st.num) {
		/* Whatever does not join the batch leaves after it: packets
		 * keep their order. The send may suspend: the member and its
		 * path are looked up again after it. */
		flush(node, ov);
		if (!(p = owner(node, ov, pkt, n, &ip)))
			return;
		join = joins(node, ov, p, sealed, batch);
	}
	/* The path this packet takes decides its size: a measured direct
	 * path's MTU, else 1280 (node/pmtu.h). */
	unsigned mtu = node_pmtu_path(&p->pmtu, p->direct_ok);
	if (ip.len > mtu) {
		ov->too_big++;
		answer(ov, pkt, n, &ip, OVERLAY_ICMP_TOO_BIG, mtu);
		return;
	}
	overlay_fw_outbound(&ov->fw, pkt, &ip, node_now_ms());
	size_t i = (size_t)(p - node->peers);
	uint8_t pub[32];
	memcpy(pub, p->pub, sizeof pub);
	if (ov->stage[i] && may_send(node, p)) {
		/* Its path is back and packets wait for it: they go first, sent
		 * here (or, while the stager sends them, waited for), so that a
		 * busy flow is held back by its path, as by any send, instead
		 * of overflowing the stage. */
		while (stage_drain(node, ov, i) == BUSY && !node->stopping)
			core_sleep(1);
		if (node->stopping || !node_peer_holds(p, pub))
			return; /* the member left its slot meanwhile */
	}
	if (ov->stage[i] || !may_send(node, p)) {
		/* It cannot be sent to now (no session, no path, a call under
		 * way, or its idle relay links being asked about), or packets
		 * for it wait already: this one waits behind them. What the
		 * UDP GSO batch holds for it leaves first: the stage must not
		 * overtake it. */
		if (ov->batch.st.num && ov->batch.p == p) {
			flush(node, ov);
			if (node->stopping || !node_peer_holds(p, pub))
				return;
		}
		if (!stage_add(node, ov, p, pkt, ip.len))
			ov->no_session++; /* dropped, as a router does; TCP resends */
		want_path(node, p);
		return;
	}
	if (join && batch_add(node, ov, p, pkt, ip.len))
		return;
	if (node_peer_send(node, p, NODE_MSG_IP, pkt, ip.len) < 0) {
		/* The path went meanwhile (the send may have suspended): the
		 * packet waits for the next one, unless the member left its
		 * slot while the send waited. */
		if (!node_peer_holds(p, pub) || !stage_add(node, ov, p, pkt, ip.len)) {
			ov->no_session++;
			return;
		}
		want_path(node, p);
		return;
	}
	ov->tx++;
}

static void tun_reader(void *arg)
{
	core_task_set_name("tun reader");
	struct node *node = arg;
	struct node_overlay *ov = node->ov;
	while (!node->stopping) {
		/* Bounded waits: the node's stop is seen within a second. */
		ssize_t n = core_fd_read(ov->tun.fds[0], ov->rbuf, sizeof ov->rbuf, 1000);
		if (n == -ECANCELED || node->stopping)
			break;
		if (n == -ETIMEDOUT)
			continue;
		if (n <= 0) {
			ov->tun_errors++;
			core_log_limited(&ov->log_tun, CORE_LOG_WARN, "overlay: reading %s: %s", ov->tun.name,
					 n ? strerror((int)-n) : "end of file");
			core_sleep(100);
			continue;
		}
		if (!ov->tun.vnet_hdr) {
			route_out(node, ov, ov->rbuf, (size_t)n, false);
			continue;
		}
		/* With offloads: one read may be a TSO packet of up to 64 KiB,
		 * cut here into the packets the kernel would have sent. */
		struct overlay_gso_iter it;
		const uint8_t *pkt;
		long m;
		if (overlay_gso_begin(&it, ov->rbuf, (size_t)n) < 0) {
			ov->gso_bad++;
			continue;
		}
		if (it.gso_type)
			ov->gso_reads++;
		while ((m = overlay_gso_next(&it, ov->seg, sizeof ov->seg, &pkt)) > 0 && !node->stopping) {
			if (it.gso_type)
				ov->gso_segs++;
			route_out(node, ov, pkt, (size_t)m, it.gso_type != 0);
		}
		flush(node, ov);
		if (m < 0) {
			ov->gso_bad++;
			core_log_limited(&ov->log_tun, CORE_LOG_WARN, "overlay: a read from %s the offloads cannot cut: %s",
					 ov->tun.name, strerror((int)-m));
		}
	}
	ov->reader = NULL;
}

void node_overlay_deliver(struct node *node, struct node_peer *p, const uint8_t *pkt, size_t n)
{
	struct node_overlay *ov = node->ov;
	if (!ov)
		return;
	struct overlay_ip ip;
	if (overlay_ip_parse(pkt, n, &ip) != OVERLAY_IP_OK) {
		ov->bad++;
		return;
	}
	int fam = ip.version;
	uint32_t idx = (uint32_t)(p - node->peers);
	if (!overlay_table_src_ok(&ov->table, fam, ip.src, idx)) {
		ov->spoofed++;
		core_log_limited(&ov->log_spoof, CORE_LOG_WARN, "overlay: dropped a packet from %s with a source address that is not "
						"its own", node_peer_name(p));
		return;
	}
	if (memcmp(ip.dst, fam == 4 ? ov->addr4 : ov->addr6, fam == 4 ? 4 : 16)) {
		ov->not_ours++;
		return;
	}
	if (!overlay_fw_inbound(&ov->fw, p->name, p->node_id, pkt, &ip, node_now_ms())) {
		/* Refused: say so to the sender's program (it fails at once
		 * instead of retrying), from our address, sealed like any packet. */
		ov->firewalled++;
		size_t m = overlay_icmp_error(pkt, n, OVERLAY_ICMP_PROHIBITED, 0, ip.dst, ov->icmp);
		if (m)
			node_peer_send(node, p, NODE_MSG_IP, ov->icmp, m);
		return;
	}
	ov->rx++;
	if (ov->gro_on && ov->batching) {
		gro_write(ov, pkt, ip.len);
	} else {
		gro_flush(ov);
		tun_write(ov, pkt, ip.len);
	}
}

/* Each offload is on unless its switch is "off" (for measuring what it
 * brings): ATMOSPHERE_TUN_OFFLOAD (the TUN's TSO, overlay/gso.h),
 * ATMOSPHERE_TUN_GRO (its write side, overlay/gro.h), ATMOSPHERE_UDP_GSO,
 * ATMOSPHERE_UDP_GRO (the sockets' receive side, node/daemon.c). */
bool node_overlay_switched_on(const char *name)
{
	const char *v = getenv(name);
	return !v || strcmp(v, "off") != 0;
}

/* UDP GSO on the node's socket (overlay/udpgso.h) unless ATMOSPHERE_UDP_GSO
 * is "off" (for measuring), and if the kernel has it (Linux 4.18): a
 * kernel without UDP_SEGMENT does not know the option. */
static bool udp_gso(void)
{
	if (!node_overlay_switched_on("ATMOSPHERE_UDP_GSO"))
		return false;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), seg = 0;
	socklen_t len = sizeof seg;
	bool ok = fd >= 0 && getsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, &len) == 0;
	if (fd >= 0)
		close(fd);
	if (!ok)
		core_log(CORE_LOG_INFO, "overlay: the kernel has no UDP GSO (UDP_SEGMENT, Linux 4.18); one send per packet");
	return ok;
}

void node_overlay_start(struct node *node)
{
	if (!node->o->tun || !node->st->have_mesh)
		return;
	if (node->ov) {
		/* Up already (a home that had a mesh, then joined one): the
		 * same interface takes the joined mesh's addresses, and every
		 * member's are derived again. */
		readdress(node, member_n(node, node->st->pub));
		node_overlay_tick(node);
		rebuild(node);
		return;
	}
	struct node_overlay *ov = calloc(1, sizeof *ov);
	char err[512];
	if (!ov || overlay_table_init(&ov->table, 2 * NPEERS) < 0 || overlay_fw_init(&ov->fw) < 0) {
		core_log(CORE_LOG_ERR, "overlay: out of memory; the node goes on without it");
		if (ov)
			overlay_table_free(&ov->table);
		free(ov);
		return;
	}
	for (unsigned i = 0; i < node->o->num_allow; i++) {
		struct overlay_fw_rule r;
		/* The CLI checked them; a bad rule here is a caller's bug. */
		if (overlay_fw_parse_rule(node->o->allow[i], &r, err, sizeof err) < 0 || overlay_fw_add(&ov->fw, &r) < 0) {
			core_log(CORE_LOG_ERR, "overlay: --allow %s", err);
			goto fail;
		}
	}
	int rc = overlay_tun_open(&ov->tun, node->o->tun_name, 1, node_overlay_switched_on("ATMOSPHERE_TUN_OFFLOAD") ? OVERLAY_TUN_OFFLOAD : 0, err,
				  sizeof err);
	if (rc < 0) {
		core_log(CORE_LOG_ERR, "overlay: %s", err);
		goto fail;
	}
	ov->udp_gso = udp_gso();
	/* Writes with a GSO header need the header (IFF_VNET_HDR); taking
	 * what TUNSETOFFLOAD gave as the sign the kernel handles GSO. */
	ov->gro_on = ov->tun.vnet_hdr && ov->tun.offload && node_overlay_switched_on("ATMOSPHERE_TUN_GRO");
	overlay_gro_init(&ov->gro, ov->gro_buf);
	ov->n = member_n(node, node->st->pub);
	derive(node, node->st->node_id, ov->n, ov->addr4, ov->addr6);
	overlay_prefix6(node->st->mesh_id, ov->prefix6);
	rc = configure_tun(ov, err, sizeof err);
	if (rc < 0) {
		core_log(CORE_LOG_ERR, "overlay: %s", err);
		goto fail;
	}
	node->ov = ov;
	node_overlay_tick(node);
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET, ov->addr4, a4, sizeof a4);
	inet_ntop(AF_INET6, ov->addr6, a6, sizeof a6);
	core_log(CORE_LOG_INFO, "overlay: %s is up: %s, %s (MTU %d; %d on the relay path)", ov->tun.name, a4, a6,
		 NODE_PMTU_MAX, NODE_OVERLAY_MTU);
	core_spawn(tun_reader, node);
	return;
fail:
	core_log(CORE_LOG_ERR, "overlay: the node goes on without it (peers, send and ping still work)");
	overlay_tun_close(&ov->tun);
	overlay_table_free(&ov->table);
	overlay_fw_free(&ov->fw);
	free(ov);
}

bool node_overlay_owns(const struct node *node, const struct sockaddr_storage *a)
{
	const struct node_overlay *ov = node->ov;
	uint32_t idx;
	if (!ov)
		return false;
	if (a->ss_family == AF_INET) {
		const uint8_t *b = (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
		return !memcmp(b, ov->addr4, 4) || overlay_table_lookup(&ov->table, 4, b, &idx);
	}
	if (a->ss_family == AF_INET6) {
		const uint8_t *b = ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr;
		return !memcmp(b, ov->addr6, 16) || overlay_table_lookup(&ov->table, 6, b, &idx);
	}
	return false;
}

void node_overlay_stop(struct node *node)
{
	struct node_overlay *ov = node->ov;
	if (!ov)
		return;
	node->ov = NULL;
	for (size_t i = 0; i < NPEERS; i++)
		free(ov->stage[i]);
	overlay_tun_close(&ov->tun);
	overlay_table_free(&ov->table);
	overlay_fw_free(&ov->fw);
	free(ov);
}

json_object *node_overlay_json(struct node *node)
{
	struct node_overlay *ov = node->ov;
	if (!ov)
		return NULL;
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET, ov->addr4, a4, sizeof a4);
	inet_ntop(AF_INET6, ov->addr6, a6, sizeof a6);
	json_object *o = json_object_new_object(), *d = json_object_new_object();
	json_object_object_add(o, "interface", json_object_new_string(ov->tun.name));
	json_object_object_add(o, "ipv4", json_object_new_string(a4));
	json_object_object_add(o, "ipv6", json_object_new_string(a6));
	json_object_object_add(o, "mtu", json_object_new_int(NODE_PMTU_MAX));
	json_object_object_add(o, "packets_out", json_object_new_int64((int64_t)ov->tx));
	json_object_object_add(o, "packets_in", json_object_new_int64((int64_t)ov->rx));
	json_object_object_add(d, "no_member", json_object_new_int64((int64_t)ov->no_member));
	json_object_object_add(d, "no_session", json_object_new_int64((int64_t)ov->no_session));
	json_object_object_add(d, "spoofed_source", json_object_new_int64((int64_t)ov->spoofed));
	json_object_object_add(d, "not_for_us", json_object_new_int64((int64_t)ov->not_ours));
	json_object_object_add(d, "malformed", json_object_new_int64((int64_t)ov->bad));
	json_object_object_add(d, "too_big", json_object_new_int64((int64_t)ov->too_big));
	json_object_object_add(d, "tun_errors", json_object_new_int64((int64_t)ov->tun_errors));
	json_object_object_add(d, "firewall", json_object_new_int64((int64_t)ov->firewalled));
	json_object_object_add(d, "offload", json_object_new_int64((int64_t)ov->gso_bad));
	json_object_object_add(o, "firewall_rules", json_object_new_int((int)ov->fw.num_rules));
	/* Packets that waited for a member to become reachable: staged,
	 * sent once it was, dropped after OV_STAGE_MS or for a member gone,
	 * dropped from a full stage (the oldest), and waiting now. */
	unsigned waiting = 0;
	for (size_t i = 0; i < NPEERS; i++)
		waiting += ov->stage[i] ? ov->stage[i]->num : 0;
	json_object *st = json_object_new_object();
	json_object_object_add(st, "packets", json_object_new_int64((int64_t)ov->staged));
	json_object_object_add(st, "sent", json_object_new_int64((int64_t)ov->stage_sent));
	json_object_object_add(st, "expired", json_object_new_int64((int64_t)ov->stage_expired));
	json_object_object_add(st, "overflow", json_object_new_int64((int64_t)ov->stage_overflow));
	json_object_object_add(st, "waiting", json_object_new_int64(waiting));
	json_object_object_add(o, "staged", st);
	/* TUN offloads (overlay/gso.h): on or not, TSO reads and the packets
	 * cut from them. */
	json_object *g = json_object_new_object();
	json_object_object_add(g, "enabled", json_object_new_boolean(ov->tun.offload));
	json_object_object_add(g, "tso_reads", json_object_new_int64((int64_t)ov->gso_reads));
	json_object_object_add(g, "tso_packets", json_object_new_int64((int64_t)ov->gso_segs));
	json_object_object_add(o, "offload", g);
	/* UDP GSO on the node's socket: on or not (off after the kernel
	 * refused it: fallbacks), sends and the packets in them. */
	json_object *u = json_object_new_object();
	json_object_object_add(u, "enabled", json_object_new_boolean(ov->udp_gso));
	json_object_object_add(u, "batches", json_object_new_int64((int64_t)ov->gso_batches));
	json_object_object_add(u, "packets", json_object_new_int64((int64_t)ov->gso_batched));
	json_object_object_add(u, "fallbacks", json_object_new_int64((int64_t)ov->gso_fallbacks));
	json_object_object_add(u, "send_errors", json_object_new_int64((int64_t)ov->gso_errors));
	json_object_object_add(o, "udp_gso", u);
	/* GRO on the TUN's write side: on or not, writes that carried more
	 * than one packet and the packets in them. */
	json_object *r = json_object_new_object();
	json_object_object_add(r, "enabled", json_object_new_boolean(ov->gro_on));
	json_object_object_add(r, "writes", json_object_new_int64((int64_t)ov->gro_writes));
	json_object_object_add(r, "packets", json_object_new_int64((int64_t)ov->gro_packets));
	json_object_object_add(r, "fallbacks", json_object_new_int64((int64_t)ov->gro_fallbacks));
	json_object_object_add(o, "gro", r);
	/* UDP GRO on the node's sockets (core/udpgro.h): on or not (the IPv4
	 * socket; ipv6_enabled: the IPv6 one), receives on either that held
	 * more than one datagram and the datagrams in them, receives dropped
	 * as unreadable. */
	json_object *ug = json_object_new_object();
	json_object_object_add(ug, "enabled", json_object_new_boolean(node->udp_gro));
	json_object_object_add(ug, "ipv6_enabled", json_object_new_boolean(node->udp6_gro));
	json_object_object_add(ug, "receives", json_object_new_int64((int64_t)node->gro_receives));
	json_object_object_add(ug, "datagrams", json_object_new_int64((int64_t)node->gro_datagrams));
	json_object_object_add(ug, "malformed", json_object_new_int64((int64_t)node->gro_malformed));
	json_object_object_add(o, "udp_gro", ug);
	json_object_object_add(o, "dropped", d);
	return o;
}

void node_overlay_peer_addrs(const struct node *node, const uint8_t pub[32], const char *node_id, json_object *o)
{
	if (!node->st->have_mesh || !node_id[0])
		return;
	uint8_t a4[4], a6[16];
	char s4[INET_ADDRSTRLEN], s6[INET6_ADDRSTRLEN];
	uint32_t n = member_n(node, pub);
	derive(node, node_id, n, a4, a6);
	inet_ntop(AF_INET, a4, s4, sizeof s4);
	inet_ntop(AF_INET6, a6, s6, sizeof s6);
	json_object_object_add(o, "overlay_ipv4", json_object_new_string(s4));
	json_object_object_add(o, "overlay_ipv6", json_object_new_string(s6));
	json_object_object_add(o, "overlay_n", json_object_new_int64(n));
}
