/* node/hardnat.c: hard-NAT probing's I/O: the signalling, the hard side's extra sockets, the
 * easy side's paced probes, and the adopted socket that carries the path afterwards. The plan
 * and the state machine are node/birthday.{c,h}; docs/NODE.md "Hard NATs" the design.
 *
 * Sockets: the hard side's NODE_BDAY_SOCKETS are plain non-blocking UDP fds
 * in one epoll set, polled every NODE_BDAY_STEP_MS by the attempt's
 * coroutine (one epoll_wait per step, a recvfrom per ready socket), not
 * reactor sources: 256 multishot receives and buffer leases would cost the
 * reactor more than a poll for a few seconds does. The socket a verified
 * packet of the peer arrives on is adopted: wrapped as a core_udp on the
 * reactor, read by its own coroutine, and made the peer's direct_sock, so
 * every later packet to the peer leaves through the mapping the probe came
 * in by. The others are closed when the attempt ends, success or not. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/log.h"
#include "net/bssl.h"
#include "node/internal.h"
#include "node/overlay.h"

struct attempt {
	struct node *node;
	struct node_peer *p;
	uint8_t pub[32];        /* p's key: the slot may be reused meanwhile */
	int epfd;
	size_t num;
	struct node_usock socks[NODE_BDAY_SOCKETS_MAX];
};

static const struct node_bday_budget *budget(const struct node *node)
{
	return node_bday_budget((enum node_hard_nat_mode)node->o->hard_nat);
}

enum node_bday_role node_hardnat_role(const struct node *node, const struct node_peer *p)
{
	if (node->o->hard_nat == NODE_HARD_NAT_OFF)
		return NODE_BDAY_NONE;
	return node_bday_role(node->nat_kind, p->peer_nat);
}

static void send_phase(struct node *node, struct node_peer *p, uint8_t phase)
{
	node_peer_send(node, p, NODE_MSG_PROBE, &phase, 1);
}

/* The attempt's peer is still the one it began with. */
static bool same_peer(const struct attempt *a)
{
	return a->p->used && !memcmp(a->p->pub, a->pub, 32);
}

static void end_attempt(struct node *node, struct node_peer *p, bool ok, bool same)
{
	if (same) {
		bool easy = p->bday.state == NODE_BDAY_PROBING;
		char probes[96] = "";
		node_bday_finish(&p->bday, ok, node_now_ms());
		if (easy && ok && p->bday.last_hit_index)
			snprintf(probes, sizeof probes, " after %u probes (port %u: predicted port %u of %u)",
				 p->bday.last_probes, p->bday.last_hit_port, p->bday.last_hit_index, p->bday.seq_n);
		else if (easy && ok && p->bday.last_hit_port)
			snprintf(probes, sizeof probes, " after %u probes (port %u: random)", p->bday.last_probes,
				 p->bday.last_hit_port);
		else if (easy)
			snprintf(probes, sizeof probes, " after %u probes", p->bday.last_probes);
		core_log(CORE_LOG_INFO, "peer %s: hard-NAT probing %s%s in %llu ms", node_peer_name(p),
			 ok ? "opened a direct path" : "found no path", probes, (unsigned long long)p->bday.last_ms);
	}
	if (node->bday_peer == p)
		node->bday_peer = NULL;
}

/* The first public IPv4 candidate of p, or false. */
static bool public_cand(const struct node_peer *p, size_t from, size_t *idx)
{
	for (size_t i = from; i < (size_t)p->num_cand; i++)
		if (p->cand[i].ss_family == AF_INET && !node_is_lan(&p->cand[i])) {
			*idx = i;
			return true;
		}
	return false;
}

/* ---- the adopted socket ---- */

/* Reads the adopted socket while it carries p's direct path; then closes it. */
static void adopted_reader(void *arg)
{
	core_task_set_name("hard-nat adopted reader");
	struct node_usock *s = arg;
	struct node *node = s->node;
	struct node_peer *p = s->p;
	while (!node->stopping && p->used && p->direct_sock == s) {
		struct core_dgram d;
		/* A timeout, so that the end of the path is noticed without a wake-up. */
		int n = core_udp_recv(s->u, &d, 1000);
		if (n == -ECANCELED)
			break;
		if (n < 0)
			continue;
		/* A batch of its own: while another reader's batch is open (and
		 * suspended in a send), a packet delivered here would otherwise
		 * wait in that batch's coalescer until it ends. */
		node_overlay_batch_begin(node);
		if (!d.truncated && p->used && p->direct_sock == s)
			node_on_packet(node, d.data, d.len, &d.from, d.from_len, NULL, s);
		node_overlay_batch_end(node);
		core_buf_release(&d.buf);
	}
	if (p->direct_sock == s)
		p->direct_sock = NULL;
	core_log(CORE_LOG_DEBUG, "hard-NAT probing: closing the adopted socket (fd %d)", s->fd);
	core_udp_close(s->u);
	free(s);
}

/* Makes a->socks[i], on which p's direct path just opened, the path's socket
 * for good. Returns false (the path falls back to node->udp: it will die and
 * the relay carries on) when that fails. */
static bool adopt(struct attempt *a, size_t i)
{
	struct node_usock *tmp = &a->socks[i];
	struct node_usock *s = calloc(1, sizeof *s);
	int err = 0;
	epoll_ctl(a->epfd, EPOLL_CTL_DEL, tmp->fd, NULL);
	if (!s) {
		a->p->direct_sock = NULL;
		return false;
	}
	*s = *tmp;
	tmp->fd = -1; /* ours now: the attempt's cleanup must not close it */
	s->u = core_udp_new(s->fd, &err);
	if (!s->u) {
		a->p->direct_sock = NULL;
		free(s);
		return false;
	}
	a->p->direct_sock = s;
	if (core_spawn(adopted_reader, s) != 0) {
		a->p->direct_sock = NULL;
		core_udp_close(s->u);
		free(s);
		return false;
	}
	return true;
}

/* ---- the hard side ---- */

/* Opens up to the budget's sockets (fewer if the fd limit says so). */
static void open_sockets(struct attempt *a)
{
	int ttl = NODE_BDAY_OPEN_TTL;
	size_t want = budget(a->node)->sockets;
	if (want > NODE_BDAY_SOCKETS_MAX)
		want = NODE_BDAY_SOCKETS_MAX;
	for (size_t i = 0; i < want; i++) {
		struct sockaddr_in any = {.sin_family = AF_INET};
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
		/* TTL 2 for the opening datagram: it makes the mapping in our NAT and
		 * dies before the peer's, where it would set the masquerade trap. */
		if (bind(fd, (struct sockaddr *)&any, sizeof any) != 0 ||
		    setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) != 0 ||
		    epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			break;
		}
		node_pmtu_socket(fd, AF_INET); /* it may become the direct path (node/pmtu.h) */
		a->socks[i] = (struct node_usock){.fd = fd, .node = a->node, .p = a->p};
		a->num++;
	}
}

/* Only the attempt's peer may take a probing socket as its path: another
 * member's packet on it (it would need the mesh's keys) must not leave a
 * pointer to a socket the attempt frees. */
static void disown(struct attempt *a, struct node_usock *s)
{
	for (size_t i = 0; i < a->node->peers_hi; i++) {
		struct node_peer *q = &a->node->peers[i];
		if (q != a->p && q->direct_sock == s)
			q->direct_sock = NULL;
	}
}

/* Reads what the ready sockets hold; true when one of them now carries
 * p's direct path (adopted). */
static bool poll_sockets(struct attempt *a)
{
	struct epoll_event evs[32];
	int ne = epoll_wait(a->epfd, evs, 32, 0);
	for (int e = 0; e < ne; e++) {
		size_t i = (size_t)evs[e].data.u64;
		struct node_usock *s = &a->socks[i];
		int def = -1;
		/* From now on this socket answers at full TTL. */
		setsockopt(s->fd, IPPROTO_IP, IP_TTL, &def, sizeof def);
		for (int k = 0; k < 8 && s->fd >= 0; k++) {
			uint8_t buf[NODE_MAX_MESSAGE_LEN + 128];
			struct sockaddr_storage from;
			socklen_t fl = sizeof from;
			ssize_t n = recvfrom(s->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from, &fl);
			if (n < 0)
				break;
			if ((size_t)n > sizeof buf)
				continue; /* truncated */
			/* May suspend (answers): the attempt and s stay put meanwhile.
			 * Its own batch, as the adopted reader's. */
			node_overlay_batch_begin(a->node);
			node_on_packet(a->node, buf, (size_t)n, &from, fl, NULL, s);
			node_overlay_batch_end(a->node);
			disown(a, s);
			if (!same_peer(a))
				return false;
			if (a->p->direct_ok && a->p->direct_sock == s) {
				char f[64];
				node_fmt_addr(&from, f, sizeof f);
				core_log(CORE_LOG_INFO, "peer %s: hard-NAT probe from %s arrived on socket %zu of %zu",
					 node_peer_name(a->p), f, i + 1, a->num);
				return adopt(a, i);
			}
		}
	}
	return false;
}

/* Tells the easy side, before 'G', where our NAT put the opening
 * datagrams' mappings: the `sent` ports after last, stride apart ('S',
 * node/birthday.h). Sent only when the port-allocation sample found a
 * sequential pattern (node_ports_last gave last). */
static void send_prediction(struct node *node, struct node_peer *p, uint16_t last, unsigned sent)
{
	struct node_bday_seq seq = {
		.last = last,
		.stride = (int16_t)node->ports.stride, /* |stride| <= STUN_PORT_MAX_STRIDE */
		.opened = (uint16_t)(sent < NODE_BDAY_SOCKETS_MAX ? sent : NODE_BDAY_SOCKETS_MAX),
	};
	uint8_t m[NODE_BDAY_SEQ_LEN];
	node_bday_seq_encode(&seq, m);
	node_peer_send(node, p, NODE_MSG_PROBE, m, sizeof m);
	core_log(CORE_LOG_INFO,
		 "peer %s: hard-NAT probing: our NAT allocates ports sequentially: predicting %u mappings after port %u, stride %d",
		 node_peer_name(p), (unsigned)seq.opened, (unsigned)seq.last, (int)seq.stride);
}

static void hard_run(void *arg)
{
	core_task_set_name("hard-nat attempt (hard side)");
	struct attempt *a = arg;
	struct node *node = a->node;
	struct node_peer *p = a->p;
	bool ok = false;
	size_t ci = 0;
	unsigned sent = 0;
	/* A sequential NAT: the port a new mapping gets just now, so that the
	 * prediction starts from it and not from start-up's (other flows took
	 * ports since). 0: no prediction. Suspends up to NODE_PORTS_LAST_MS. */
	uint16_t last = node_ports_last(node);
	if (node->stopping || !same_peer(a))
		goto out; /* gone while we asked */
	open_sockets(a);
	if (!a->num || !public_cand(p, 0, &ci)) {
		core_log(CORE_LOG_WARN, "peer %s: hard-NAT probing: %s", node_peer_name(p),
			 a->num ? "the peer has no public candidate" : "cannot open sockets");
		goto out;
	}
	/* One opening datagram from each socket to each public candidate of
	 * the peer (at most two): the mappings the peer's probes look for. */
	for (size_t i = 0; i < a->num; i++)
		for (size_t c = ci, k = 0; k < 2 && public_cand(p, c, &c); c++, k++)
			if (node_peer_send_via(node, p, &a->socks[i], NODE_MSG_KEEP, NULL, 0, &p->cand[c], p->cand_len[c],
					       0) == 0)
				sent++;
	core_log(CORE_LOG_INFO,
		 "peer %s: hard-NAT probing: %zu sockets open (%u opening datagrams, TTL %d; mode %s, listening %u ms); asking for probes",
		 node_peer_name(p), a->num, sent, NODE_BDAY_OPEN_TTL,
		 node_hard_nat_mode_name((enum node_hard_nat_mode)node->o->hard_nat),
		 (unsigned)(NODE_BDAY_ANSWER_MS + budget(node)->probe_ms + NODE_BDAY_SLACK_MS));
	if (last && sent)
		send_prediction(node, p, last, sent);
	send_phase(node, p, 'G');
	while (!node->stopping && same_peer(a) && p->bday.state == NODE_BDAY_OPEN &&
	       !node_bday_expired(&p->bday, node_now_ms())) {
		if (poll_sockets(a)) {
			ok = true;
			break;
		}
		if (!same_peer(a) || (p->direct_ok && !p->direct_sock))
			break; /* gone, or direct by another way (the ordinary punch) */
		if (core_sleep(NODE_BDAY_STEP_MS) != 0)
			break;
	}
	if (same_peer(a) && p->direct_ok)
		ok = true;
out:
	for (size_t i = 0; i < a->num; i++)
		if (a->socks[i].fd >= 0)
			close(a->socks[i].fd);
	close(a->epfd);
	end_attempt(node, p, ok, same_peer(a));
	free(a);
}

/* ---- the easy side ---- */

static void easy_run(void *arg)
{
	core_task_set_name("hard-nat attempt (easy side)");
	struct attempt *a = arg;
	struct node *node = a->node;
	struct node_peer *p = a->p;
	size_t ci = 0;
	if (!public_cand(p, 0, &ci)) {
		core_log(CORE_LOG_WARN, "peer %s: hard-NAT probing: the peer has no public candidate", node_peer_name(p));
		goto out;
	}
	/* Probes go to the IP of the peer's public candidate; the port comes
	 * from the attempt's sequence (distinct, random). */
	struct sockaddr_storage to = p->cand[ci];
	socklen_t tl = p->cand_len[ci];
	char ip[64];
	node_fmt_addr(&to, ip, sizeof ip);
	core_log(CORE_LOG_INFO,
		 "peer %s: hard-NAT probing (%s): up to %u probes (%u predicted, the rest random) to ports of %s within %u ms",
		 node_peer_name(p), node_hard_nat_mode_name((enum node_hard_nat_mode)node->o->hard_nat), p->bday.max_probes,
		 p->bday.seq_n, ip, (unsigned)budget(node)->probe_ms);
	while (!node->stopping && same_peer(a) && !p->direct_ok) {
		uint64_t t = node_now_ms();
		if (node_bday_expired(&p->bday, t))
			break;
		for (uint32_t due = node_bday_due(&p->bday, t); due; due--) {
			((struct sockaddr_in *)&to)->sin_port = htons(node_bday_next_port(&p->bday));
			node_peer_send_via(node, p, NULL, NODE_MSG_KEEP, NULL, 0, &to, tl, 0);
		}
		if (core_sleep(NODE_BDAY_STEP_MS) != 0)
			break;
	}
out:;
	bool same = same_peer(a);
	if (same && p->direct_ok && p->direct.ss_family == AF_INET)
		node_bday_hit(&p->bday, ntohs(((const struct sockaddr_in *)&p->direct)->sin_port));
	end_attempt(node, p, same && p->direct_ok, same);
	free(a);
}

static bool spawn(struct node *node, struct node_peer *p, bool hard)
{
	struct attempt *a = calloc(1, sizeof *a);
	if (!a)
		return false;
	a->node = node;
	a->p = p;
	memcpy(a->pub, p->pub, 32);
	a->epfd = -1;
	if (hard && (a->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		free(a);
		return false;
	}
	if (core_spawn(hard ? hard_run : easy_run, a) != 0) {
		if (a->epfd >= 0)
			close(a->epfd);
		free(a);
		return false;
	}
	return true;
}

/* ---- signalling ---- */

void node_hardnat_tick(struct node *node, struct node_peer *p, uint64_t t)
{
	struct node_bday *b = &p->bday;
	if (node->o->relay_only)
		return;
	/* Waiting for an answer that did not come: give up (OPEN and PROBING
	 * belong to their coroutines, which end themselves). */
	if ((b->state == NODE_BDAY_ASKED || b->state == NODE_BDAY_ACCEPTED) && node_bday_expired(b, t)) {
		end_attempt(node, p, false, true);
		return;
	}
	enum node_bday_role role = node_hardnat_role(node, p);
	if (p->ss.have_s && node_bday_should_ask(b, role, p->direct_ok, node->bday_peer != NULL, t)) {
		core_log(CORE_LOG_INFO, "peer %s: no direct path; our NAT is hard and its is easy: asking for hard-NAT probing",
			 node_peer_name(p));
		node_bday_asked(b, t);
		node->bday_peer = p;
		send_phase(node, p, 'R');
	}
}

void node_hardnat_on_message(struct node *node, struct node_peer *p, const uint8_t *m, size_t n)
{
	struct node_bday *b = &p->bday;
	uint64_t t = node_now_ms();
	struct node_bday_seq s;
	if (node->o->relay_only)
		return;
	if (node_bday_seq_parse(m, n, &s)) { /* the hard side's prediction, before its 'G' */
		if (node_bday_predict(b, &s))
			core_log(CORE_LOG_INFO,
				 "peer %s: hard-NAT probing: its NAT allocates ports sequentially (last %u, stride %d, %u new mappings): %u predicted ports first",
				 node_peer_name(p), (unsigned)s.last, (int)s.stride, (unsigned)s.opened, b->seq_n);
		return;
	}
	if (n != 1)
		return;
	enum node_bday_role role = node_hardnat_role(node, p);
	switch (m[0]) {
	case 'R': /* the hard side asks us to probe it */
		if (node_bday_accept(b, role, p->direct_ok, node->bday_peer != NULL, t)) {
			node->bday_peer = p;
			send_phase(node, p, 'A');
		} else {
			core_log(CORE_LOG_DEBUG, "peer %s: hard-NAT probing refused (our role %d, state %d, %s)", node_peer_name(p),
				 (int)role, (int)b->state, node->bday_peer ? "busy" : "not busy");
			send_phase(node, p, 'N');
		}
		break;
	case 'A': /* accepted: open the sockets */
		if (role == NODE_BDAY_HARD && node_bday_open(b, t, budget(node)) && !spawn(node, p, true))
			end_attempt(node, p, false, true);
		break;
	case 'N':
		if (b->state == NODE_BDAY_ASKED) {
			core_log(CORE_LOG_INFO, "peer %s refused hard-NAT probing (busy, not easy, or asked too soon)",
				 node_peer_name(p));
			end_attempt(node, p, false, true);
		}
		break;
	case 'G': { /* the hard side's sockets are open: probe */
		uint32_t r[2];
		RAND_bytes((uint8_t *)r, sizeof r);
		if (node_bday_go(b, t, r[0], r[1], budget(node)) && !spawn(node, p, false))
			end_attempt(node, p, false, true);
		break;
	}
	default:
		break;
	}
}

void node_hardnat_direct_lost(struct node_peer *p, uint64_t t)
{
	/* The adopted socket's reader sees this and closes it. */
	p->direct_sock = NULL;
	node_bday_schedule(&p->bday, t);
}
