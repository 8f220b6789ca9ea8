/* node/daemon.c: the daemon: start-up, the UDP reader, shutdown (node_run in node/node.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "net/bssl.h"
#include "node/internal.h"
#include "node/lazy.h"
#include "node/overlay.h"
#include "core/udpgro.h"
#include "portmap/portmap.h"

static void udp_reader(void *arg);
static void on_stop(void *arg);
static void node_main(void *arg);

/* GRO receive buffers per reactor: the reader drains what is queued in
 * one batch and gives each buffer back before the next, so the ring only
 * has to cover a burst that lands while the batch runs. 64 x 68 KiB is
 * 4.25 MiB of address space; pages become resident as receives fill them
 * and go back when traffic pauses (the ticker's core_buf_trim). */
#define NODE_UDP_GRO_BUFS 64
/* A receive longer than a page has touched pages a trim can give back. */
#define NODE_UDP_GRO_TRIM_ABOVE 4096u

void node_udp_receive(struct node *node, const struct core_dgram *d, struct stun_feed *feed)
{
	size_t seg = 0;
	if (d->truncated)
		return;
	if (d->ctl_len || d->ctl_truncated) {
		/* Without its control data a coalesced receive cannot be cut. */
		int st = d->ctl_truncated ? CORE_UDPGRO_E_CMSG : core_udpgro_seg(d->ctl, d->ctl_len, &seg);
		if (st != CORE_UDPGRO_OK) {
			node->gro_malformed++;
			core_log(CORE_LOG_DEBUG, "UDP GRO: a receive of %u bytes dropped: %s", d->len, core_udpgro_strerror(st));
			return;
		}
	}
	size_t count = core_udpgro_count(d->len, seg);
	if (count > 1) {
		node->gro_receives++;
		node->gro_datagrams += count;
	}
	/* Pages of the GRO ring this receive filled go back once traffic
	 * pauses (the ticker): a coalesced receive, and also one large
	 * datagram (IP-fragmented, up to 64 KiB), which anyone who can reach
	 * the port may send and which is dropped unread below. */
	if (d->len > NODE_UDP_GRO_TRIM_ABOVE) {
		node->gro_trim_due = true;
		node->gro_last_ms = node_now_ms();
	}
	struct core_udpgro it;
	const uint8_t *p;
	size_t n;
	core_udpgro_init(&it, d->data, d->len, seg);
	while (core_udpgro_next(&it, &p, &n) && !node->stopping) {
		/* STUN answers go to a refresh in progress; other STUN is
		 * dropped. A relay-only node takes nothing by UDP: a handshake
		 * answered that way would bind the peer to a path it must not
		 * use. */
		if (!stun_is_message(p, n) && !node->o->relay_only)
			node_on_packet(node, p, n, &d->from, d->from_len, NULL, NULL);
		else
			stun_feed_input(feed, p, n, (const struct sockaddr *)&d->from, d->from_len);
	}
}

bool node_udp_gro_enable(struct node *node, struct core_udp *u, const char *what)
{
	if (!node->gro_ring)
		return false;
	int rc = core_udp_enable_gro(u);
	if (rc < 0)
		core_log(CORE_LOG_INFO, "%s: no UDP GRO (%s%s): one datagram per receive", what, strerror(-rc),
			 rc == -ENOPROTOOPT ? ", Linux 5.0 has it" : "");
	return rc == 0;
}

static void udp_reader(void *arg)
{
	core_task_set_name("udp reader");
	struct node *node = arg;
	while (!node->stopping) {
		struct core_dgram d;
		int n = core_udp_recv(node->udp, &d, -1);
		if (n == -ECANCELED && node->stopping)
			break;
		if (n < 0)
			continue;
		/* This datagram and those queued behind it are one batch: the
		 * overlay may coalesce their packets for the TUN (overlay/gro.h)
		 * and writes them before the next wait. */
		node_overlay_batch_begin(node);
		do {
			node_udp_receive(node, &d, &node->feed);
			core_buf_release(&d.buf);
		} while (!node->stopping && core_udp_try_recv(node->udp, &d) >= 0);
		node_overlay_batch_end(node);
	}
	/* Orderly shutdown: the socket closes here, on the reactor, once the
	 * STUN refresher (woken by on_stop), the one other user that may be
	 * suspended on it, has ended; senders find node->udp NULL after. If
	 * the runtime cancels the wait, its teardown closes the socket. */
	while (node->stun_co)
		if (core_sleep(10) != 0)
			return;
	core_udp_close(node->udp);
	node->udp = NULL;
}

static void on_stop(void *arg)
{
	struct node *node = arg;
	node->stopping = true;
	/* The port mapping's deletion (a helper thread, bounded) runs while
	 * the rest stops; node_port_mapping_stop waits for what is left. */
	portmap_stop_begin(node->pm);
	core_listener_interrupt(node->ctl);
	core_udp_interrupt(node->udp);
	if (node->stun_co)
		core_unpark(node->stun_co, -ECANCELED);
	/* Each link's coroutine then sends Close 1000 and frees its client
	 * (node/relay_link.c); udp_reader and the control server close their
	 * sockets as they end (on this thread, not after the runtime). */
	size_t links = 0;
	for (size_t i = 0; i < node->links_hi; i++) {
		struct node_link *l = &node->links[i];
		if (l->used && l->c) {
			relay_client_interrupt(l->c);
			links++;
		} else if (l->used && l->co) {
			/* Connecting (TCP, TLS, the HTTP upgrade) or in its
			 * reconnect backoff: that wait fails now, and the link
			 * ends (nothing to close on the relay). */
			core_task_interrupt(l->co);
		}
	}
	/* Control clients waiting on us (`recv --follow` waits for us to hang
	 * up): their coroutines end now and close them. */
	/* A client between two waits when the stop comes (its request just
	 * read, `recv --follow` about to wait for the hang-up) is not waiting
	 * yet: core_task_interrupt fails its next wait too, and the waits
	 * that could last (the request, the follow) check node->stopping
	 * first. Missing that was the stop in fifteen that waited out the
	 * runtime's grace (a `recv --follow` started just before). */
	for (struct node_follower *f = node->ctl_conns; f; f = f->next)
		core_task_interrupt(f->co);
	core_log(CORE_LOG_INFO, "stopping: closing %zu relay link%s, the control socket and the UDP socket", links,
		 links == 1 ? "" : "s");
}

static void node_main(void *arg)
{
	struct node *node = arg;
	char err[300];
	/* Control socket: refuse to start beside a node that answers on it. */
	char path[NODE_PATH_MAX];
	node_control_path(node->st, path);
	mkdir(node->st->home, 0700);
	struct sockaddr_un probe = {.sun_family = AF_UNIX};
	node_copy_str(probe.sun_path, sizeof probe.sun_path, path);
	int pfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (pfd >= 0 && connect(pfd, (struct sockaddr *)&probe, sizeof probe) == 0) {
		close(pfd);
		fprintf(stderr, "atmosphere: a node is already running for %s (stop it first)\n", node->st->home);
		node->exit_code = 1;
		core_rt_shutdown(node->rt);
		return;
	}
	if (pfd >= 0)
		close(pfd);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(node->o->port)};
	int fd = core_udp_bind((struct sockaddr *)&a, sizeof a, false);
	if (fd < 0) {
		fprintf(stderr, "atmosphere: cannot bind UDP port %u: %s%s\n", node->o->port, strerror(-fd),
			fd == -EADDRINUSE ? " (is another node running? pick another with --port)" : "");
		node->exit_code = 1;
		core_rt_shutdown(node->rt);
		return;
	}
	struct sockaddr_in got;
	socklen_t gl = sizeof got;
	getsockname(fd, (struct sockaddr *)&got, &gl);
	node->port = ntohs(got.sin_port);
	if (node_pmtu_socket(fd, AF_INET) < 0) /* DF, never fragmented (node/pmtu.h) */
		core_log(CORE_LOG_WARN, "UDP socket: IP_MTU_DISCOVER: %s (direct path MTUs may be overestimated)",
			 strerror(errno));
	int e = 0;
	node->udp = core_udp_new(fd, &e);
	node->udp_gro = node->udp && node_udp_gro_enable(node, node->udp, "UDP socket");
	node_local_endpoint(node);
	/* In the background: the mapping joins the candidates when it comes. */
	node_port_mapping_start(node);
	/* A node joining for the first time uses the STUN servers of its code. */
	if (node->o->join_code && !node->st->num_stun) {
		struct node_token t;
		if (node_token_decode(&t, NULL, node->o->join_code, strlen(node->o->join_code), (uint64_t)time(NULL)) ==
		    NODE_TOKEN_OK) {
			for (size_t i = 0; i < t.num_stun && node->st->num_stun < NODE_TOKEN_MAX_STUN; i++)
				node_copy_str(node->st->stun[node->st->num_stun++], sizeof node->st->stun[0], t.stun[i]);
		}
		node_token_cleanup(&t);
	}
	node_udp6_start(node); /* IPv6 beside it, when the host has it */
	if (node->st->public_ip[0])
		snprintf(node->public_ep, sizeof node->public_ep, "%s:%u", node->st->public_ip, node->port);
	else if (!node->o->relay_only)
		node_discover(node);

	/* Control socket. */
	unlink(path); /* stale: nobody answers on it */
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	node_copy_str(un.sun_path, sizeof un.sun_path, path);
	int cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	mode_t old = umask(0077);
	if (cfd < 0 || bind(cfd, (struct sockaddr *)&un, sizeof un) != 0 || listen(cfd, 64) != 0) {
		umask(old);
		fprintf(stderr, "atmosphere: cannot listen on %s: %s\n", path, strerror(errno));
		node->exit_code = 1;
		core_rt_shutdown(node->rt);
		return;
	}
	umask(old);
	node->ctl_created = true;
	node->ctl = core_listener_new(cfd, &e);
	core_on_shutdown(&node->stop_hook, on_stop, node);
	core_spawn(udp_reader, node);
	core_spawn(node_control_server, node);
	core_spawn(node_ticker, node);
	stun_feed_init(&node->feed);
	/* A node told its public address needs no STUN; a relay-only one
	 * has no use for it. */
	if (!node->st->public_ip[0] && !node->o->relay_only)
		core_spawn(node_stun_refresher, node);
	if (node->o->relay_only)
		core_log(CORE_LOG_INFO, "relay-only: no STUN, no hole punching; every peer goes through the relays");
	core_log(CORE_LOG_INFO, "node %s (%s) serving on UDP port %u%s%s", node->st->node_name, node->st->node_id, node->port,
		 node->st->have_mesh ? ", mesh " : "", node->st->have_mesh ? node->st->mesh_name : "");

	if (node->st->have_mesh) {
		node_open_inboxes(node);
		node_gossip_start(node);
		/* Eager or lazy relay links (node/lazy.h), from the members known. */
		node_lazy_update(node);
		/* Known peers: meet again on the pair session of each. */
		for (size_t i = 0; i < node->st->num_peers; i++) {
			struct node_known_peer *kp = &node->st->peers[i];
			if (node_gossip_refuses(node, kp->pub))
				continue; /* removed while we were away */
			struct node_peer *p = node_peer_new(node, kp->pub);
			if (!p)
				break;
			snprintf(p->node_id, sizeof p->node_id, "%s", kp->node_id);
			snprintf(p->name, sizeof p->name, "%s", kp->name);
			struct sockaddr_storage sa;
			socklen_t sl;
			if (node_parse_ep(kp->endpoint, &sa, &sl))
				node_peer_add_candidate(p, &sa, sl);
			node_link_open_pair(node, p);
			/* The smaller id starts; the other answers (either works). */
			if (strcmp(node->st->node_id, p->node_id) < 0)
				node_handshake_start(node, p, NULL);
		}
		/* Members learned from others, not met yet. */
		node_gossip_connect_all(node);
	}
	node_overlay_start(node);
	if (node->o->join_code && node_join_begin(node, node->o->join_code, err, sizeof err) != 0) {
		fprintf(stderr, "atmosphere join: %s\n", err);
		node->exit_code = 1;
		core_rt_shutdown(node->rt);
	}
}

/* Wipes and frees a node, built or half-built. */
static void node_free(struct node *node)
{
	if (!node)
		return;
	node_overlay_stop(node);
	node_e2e_keypair_cleanup(&node->kp);
	OPENSSL_cleanse(node->mesh_psk, sizeof node->mesh_psk);
	for (size_t i = 0; i < node->peers_hi; i++)
		if (node->peers[i].used) {
			node_sessions_cleanup(&node->peers[i].ss);
			if (node->peers[i].hs_live)
				node_e2e_handshake_cleanup(&node->peers[i].hs);
		}
	node_token_cleanup(&node->tok);
	node_offers_cleanup(node);
	OPENSSL_cleanse(node->sign_priv, sizeof node->sign_priv);
	node_members_free(node->mem);
	free(node);
}

int node_run(struct node_state *st, const struct node_run_opts *o)
{
	/* Small receive rings: a node has a handful of TCP links (relays, the
	 * control socket) and modest UDP traffic, and a provided-buffer ring
	 * is used round-robin, so over hours every buffer of it gets touched:
	 * the defaults (1,024 x 16 KiB + 1,024 x 2 KiB) would end as 18 MiB of
	 * resident memory, these as 1.5 MiB. A burst beyond them is held back
	 * by TCP, or by the socket buffer for UDP, not dropped by us. */
	struct core_rt_opts ro = {.num_threads = 1, .handle_signals = true, .shutdown_grace_ms = 1500,
				  .stream_bufs = 64, .dgram_bufs = 256};
	/* UDP GRO (core/udpgro.h) pays only for overlay traffic, which
	 * comes in GSO batches: the ring for it exists with --tun, unless
	 * ATMOSPHERE_UDP_GRO is "off" (for measuring). */
	bool gro_ring = o->tun && node_overlay_switched_on("ATMOSPHERE_UDP_GRO");
	if (gro_ring)
		ro.udp_gro_bufs = NODE_UDP_GRO_BUFS;
	int err = 0, code = 1;
	struct node *node = calloc(1, sizeof *node);
	if (!node) {
		fprintf(stderr, "atmosphere: %s\n", strerror(ENOMEM));
		return 1;
	}
	node->st = st;
	node->opts = *o;
	node->gro_ring = gro_ring;
	if (!node->opts.punch_ms)
		node->opts.punch_ms = NODE_PUNCH_MS_DEFAULT;
	node->o = &node->opts;
	node_ratelimit_init(&node->init_rl);
	if (st->have_mesh)
		node_token_mesh_psk(node->mesh_psk, st->mesh_key);
	node_e2e_keypair_init(&node->kp, st->priv);
	node_member_keys(node->sign_pub, node->sign_priv, st->priv);
	RAND_bytes((uint8_t *)&node->boot_id, sizeof node->boot_id);
	node->boot_id |= 1; /* never 0, which means "none" */
	node->rt = core_rt_new(&ro, &err);
	if (!node->rt) {
		fprintf(stderr, "atmosphere: %s\n", core_rt_explain(err));
		goto out;
	}
	int r = core_rt_run(node->rt, node_main, node);
	/* Deletes the router's mapping (blocks, bounded), before the runtime
	 * its notes are posted to goes away. */
	node_port_mapping_stop(node);
	core_rt_free(node->rt);
	char path[NODE_PATH_MAX];
	node_control_path(st, path);
	if (node->ctl_created)
		unlink(path);
	code = r < 0 ? 1 : node->exit_code;
out:
	node_free(node);
	return code;
}
