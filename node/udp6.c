/* node/udp6.c: the node's IPv6 socket (node/family.h): binding it beside
 * the IPv4 one, its reader, its host and server-reflexive candidates. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "node/family.h"
#include "node/internal.h"
#include "node/overlay.h"

static void udp6_reader(void *arg);
static void udp6_discover(void *arg);
static void udp6_stop(void *arg);
static void udp6_snapshot(struct node *node, char *out, size_t cap);

/* The mesh's IPv6 STUN servers ("[v6]:port" entries) into eps; returns how
 * many. */
static size_t udp6_stun_servers(const struct node *node, struct stun_endpoint eps[static NODE_TOKEN_MAX_STUN])
{
	size_t n = 0;
	for (size_t i = 0; i < node->st->num_stun && n < NODE_TOKEN_MAX_STUN; i++)
		if (node->st->stun[i][0] == '[' && stun_endpoint_parse(&eps[n], node->st->stun[i], 3478) == 0)
			n++;
	return n;
}

/* Same as daemon.c's udp_reader, for the IPv6 socket. */
static void udp6_reader(void *arg)
{
	core_task_set_name("udp6 reader");
	struct node *node = arg;
	while (!node->stopping) {
		struct core_dgram d;
		int n = core_udp_recv(node->udp6, &d, -1);
		if (n == -ECANCELED && node->stopping)
			break;
		if (n < 0)
			continue;
		/* A batch of what is queued, as daemon.c's udp_reader. */
		node_overlay_batch_begin(node);
		do {
			/* STUN answers go to a refresh in progress (node_udp6_refresh). */
			node_udp_receive(node, &d, &node->feed6);
			core_buf_release(&d.buf);
		} while (!node->stopping && core_udp_try_recv(node->udp6, &d) >= 0);
		node_overlay_batch_end(node);
	}
	/* Orderly shutdown, as daemon.c's udp_reader: the socket closes here,
	 * on the reactor, once the STUN refresher (which may be suspended in
	 * a refresh on it) has ended; senders find node->udp6 NULL after. */
	node->udp6_reading = false;
	while (node->stun_co)
		if (core_sleep(10) != 0)
			return;
	core_udp_close(node->udp6);
	node->udp6 = NULL;
}

static void udp6_stop(void *arg)
{
	struct node *node = arg;
	if (node->udp6)
		core_udp_interrupt(node->udp6);
}

/* The server-reflexive IPv6 endpoint, from the mesh's IPv6 STUN servers
 * ("[v6]:port"), before the reader starts: the discovery reads the socket
 * itself. Without NAT66 it is one of the host candidates already; with
 * NPTv6 or NAT66 in the way it is the one that works. Suspends. */
static void udp6_discover(void *arg)
{
	core_task_set_name("udp6 discovery");
	struct node *node = arg;
	struct stun_endpoint eps[NODE_TOKEN_MAX_STUN];
	size_t n = udp6_stun_servers(node, eps);
	struct stun_discovery *d = n ? malloc(sizeof *d) : NULL;
	struct stun_client_opts o = {.timeout_ms = 2500, .settle_ms = 200};
	if (d && stun_discover(node->udp6, eps, n, &o, d) == 0 && d->status == 0) {
		stun_addr_format(&d->mapped, node->public_ep6, sizeof node->public_ep6);
		core_log(CORE_LOG_INFO, "public IPv6 endpoint %s (%zu of %zu servers agree)", node->public_ep6, d->num_agree,
			 d->num_answered);
	} else if (n) {
		core_log(CORE_LOG_INFO, "IPv6 STUN discovery failed: the host's IPv6 addresses are the candidates");
	}
	free(d);
	if (!node->stopping) {
		udp6_snapshot(node, node->cands6, sizeof node->cands6);
		/* Our membership entry, published before the server-reflexive
		 * endpoint was known, carries it from now on. */
		node_gossip_republish(node);
		stun_feed_init(&node->feed6);
		node->udp6_reading = true;
		core_spawn(udp6_reader, node);
	} else {
		core_udp_close(node->udp6); /* stopped during the discovery: no reader to close it */
		node->udp6 = NULL;
	}
}

void node_udp6_start(struct node *node)
{
	if (node->o->relay_only)
		return; /* nothing goes by UDP */
	/* The IPv4 socket's port when it is free for IPv6 (one port to open
	 * in a firewall), else any. */
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(node->port), .sin6_addr = IN6ADDR_ANY_INIT};
	int fd = core_udp_bind_v6only((struct sockaddr *)&a, sizeof a, false);
	if (fd == -EADDRINUSE) {
		a.sin6_port = 0;
		fd = core_udp_bind_v6only((struct sockaddr *)&a, sizeof a, false);
	}
	if (fd < 0) {
		core_log(CORE_LOG_INFO, "no IPv6 socket (%s): IPv4 only", strerror(-fd));
		return;
	}
	struct sockaddr_in6 got;
	socklen_t gl = sizeof got;
	int e = 0;
	if (getsockname(fd, (struct sockaddr *)&got, &gl) != 0) {
		core_log(CORE_LOG_WARN, "IPv6 socket: getsockname: %s: IPv4 only", strerror(errno));
		close(fd);
		return;
	}
	if (node_pmtu_socket(fd, AF_INET6) < 0) /* DF, never fragmented (node/pmtu.h) */
		core_log(CORE_LOG_WARN, "IPv6 socket: IPV6_MTU_DISCOVER: %s (direct path MTUs may be overestimated)",
			 strerror(errno));
	node->udp6 = core_udp_new(fd, &e); /* closes fd on failure */
	if (!node->udp6) {
		core_log(CORE_LOG_WARN, "IPv6 socket: %s: IPv4 only", strerror(-e));
		return;
	}
	node->udp6_gro = node_udp_gro_enable(node, node->udp6, "IPv6 socket");
	node->port6 = ntohs(got.sin6_port);
	core_on_shutdown(&node->stop_hook6, udp6_stop, node);
	core_spawn(udp6_discover, node);
}

/* Adds this node's IPv6 candidates to arr: every global address of an
 * interface that is up (not the overlay's) with the IPv6 port, then the
 * server-reflexive one when it differs. At most NODE_TOKEN_MAX_IPV6_ENDPOINTS. */
void node_udp6_candidates(struct node *node, json_object *arr)
{
	struct ifaddrs *ifs = NULL;
	char buf[64];
	size_t n = 0;
	bool srflx_listed = false;
	if (!node->udp6)
		return;
	if (getifaddrs(&ifs) == 0) {
		for (struct ifaddrs *i = ifs; i && n < NODE_TOKEN_MAX_IPV6_ENDPOINTS; i = i->ifa_next) {
			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET6 || !(i->ifa_flags & IFF_UP))
				continue;
			struct sockaddr_storage a;
			memcpy(&a, i->ifa_addr, sizeof(struct sockaddr_in6));
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a;
			if (!node_family_v6_candidate(s6->sin6_addr.s6_addr) || node_overlay_owns(node, &a))
				continue;
			s6->sin6_port = htons(node->port6);
			s6->sin6_scope_id = 0;
			s6->sin6_flowinfo = 0;
			node_fmt_addr(&a, buf, sizeof buf);
			json_object_array_add(arr, json_object_new_string(buf));
			n++;
			if (node->public_ep6[0] && !strcmp(buf, node->public_ep6))
				srflx_listed = true;
		}
		freeifaddrs(ifs);
	}
	if (node->public_ep6[0] && !srflx_listed && n < NODE_TOKEN_MAX_IPV6_ENDPOINTS)
		json_object_array_add(arr, json_object_new_string(node->public_ep6));
}

/* The IPv6 endpoints for a join code (node/token.h, ipv6_endpoints). */
void node_udp6_token_endpoints(struct node *node, struct node_token *t)
{
	json_object *arr = json_object_new_array();
	node_udp6_candidates(node, arr);
	t->num_ipv6_endpoints = 0;
	for (size_t i = 0; i < json_object_array_length(arr) && t->num_ipv6_endpoints < NODE_TOKEN_MAX_IPV6_ENDPOINTS; i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(arr, i));
		if (strlen(s) <= NODE_TOKEN_MAX_ENDPOINT_LEN)
			node_copy_str(t->ipv6_endpoints[t->num_ipv6_endpoints++], sizeof t->ipv6_endpoints[0], s);
	}
	json_object_put(arr);
}

/* Writes this node's IPv6 candidate list, as JSON, into out[0..cap). */
static void udp6_snapshot(struct node *node, char *out, size_t cap)
{
	json_object *arr = json_object_new_array();
	node_udp6_candidates(node, arr);
	node_copy_str(out, cap, json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
	json_object_put(arr);
}

/* One IPv6 refresh, paced with the IPv4 one (discovery.c's refresher):
 * the server-reflexive endpoint again through the IPv6 socket (answers
 * through udp6_reader), then the whole IPv6 candidate list (the host's
 * addresses may have changed: a new prefix, privacy addresses); when it
 * differs from the one last announced, every connected peer gets a new
 * HELLO and our membership entry is re-signed with it (node/gossip.c).
 * Suspends. */
void node_udp6_refresh(struct node *node)
{
	if (!node->udp6 || !node->udp6_reading || node->stopping)
		return;
	struct stun_endpoint eps[NODE_TOKEN_MAX_STUN];
	size_t n = udp6_stun_servers(node, eps);
	if (n) {
		struct stun_discovery *d = &node->disc6;
		struct stun_client_opts o = {.timeout_ms = 2500, .settle_ms = 200, .no_cache = true, .feed = &node->feed6};
		int r = stun_discover(node->udp6, eps, n, &o, d);
		node->stun6_refreshes++;
		if (r == -ECANCELED || node->stopping || !node->udp6_reading)
			return;
		if (r == 0 && d->status == 0) {
			char ep[64];
			stun_addr_format(&d->mapped, ep, sizeof ep);
			if (strcmp(ep, node->public_ep6) != 0) {
				core_log(CORE_LOG_INFO, "public IPv6 endpoint changed from %s to %s (%zu of %zu servers agree)",
					 node->public_ep6[0] ? node->public_ep6 : "(none)", ep, d->num_agree, d->num_answered);
				node_copy_str(node->public_ep6, sizeof node->public_ep6, ep);
			}
		} else {
			core_log(CORE_LOG_DEBUG, "IPv6 STUN refresh: no answer (%s)", strerror(r ? -r : -d->status));
		}
	}
	char now[sizeof node->cands6];
	udp6_snapshot(node, now, sizeof now);
	if (!strcmp(now, node->cands6))
		return;
	core_log(CORE_LOG_INFO, "IPv6 candidates changed from %s to %s; telling the peers", node->cands6, now);
	node_copy_str(node->cands6, sizeof node->cands6, now);
	node->public_changed_unix = (uint64_t)time(NULL);
	node_gossip_republish(node); /* members not connected learn it too */
	node_resignal(node);
}
