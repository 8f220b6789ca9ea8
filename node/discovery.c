/* node/discovery.c: the public endpoint: STUN discovery at start, periodic refresh, re-
 * signalling peers when it changes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "net/bssl.h"
#include "node/internal.h"

static void refresh_public(struct node *node);

/* Keeps the NAT's kind a discovery shows (one that cannot tell changes
 * nothing): hard when the servers saw different mappings of our socket. */
static void learn_nat(struct node *node, const struct stun_discovery *d)
{
	enum node_nat_kind k = node_nat_classify(d->num_answered, d->num_agree, d->no_nat);
	if (k == NODE_NAT_UNKNOWN || k == node->nat_kind)
		return;
	core_log(CORE_LOG_INFO, "NAT mapping is %s (%zu of %zu STUN servers saw the same endpoint)%s", node_nat_name(k),
		 d->num_agree, d->num_answered,
		 k != NODE_NAT_HARD ? ""
		 : node->o->hard_nat == NODE_HARD_NAT_OFF ? ": hard-NAT probing is off (--hard-nat off)"
							   : ": hard-NAT probing when punching fails");
	node->nat_kind = k;
}
static uint64_t refresh_interval(void);

/* Fills eps with the mesh's STUN servers that parse; returns how many. */
static size_t stun_servers(struct node *node, struct stun_endpoint eps[static NODE_TOKEN_MAX_STUN])
{
	size_t n = 0;
	for (size_t i = 0; i < node->st->num_stun && n < NODE_TOKEN_MAX_STUN; i++)
		if (stun_endpoint_parse(&eps[n], node->st->stun[i], 3478) == 0)
			n++;
	return n;
}

void node_discover(struct node *node)
{
	struct stun_endpoint eps[NODE_TOKEN_MAX_STUN];
	size_t n = stun_servers(node, eps);
	if (!n)
		return;
	struct stun_discovery *d = &node->disc;
	struct stun_client_opts o = {.timeout_ms = 2500, .settle_ms = 200};
	if (stun_discover(node->udp, eps, n, &o, d) == 0 && d->status == 0) {
		char a[64];
		stun_addr_format(&d->mapped, node->public_ep, sizeof node->public_ep);
		stun_addr_format(&d->local, a, sizeof a);
		snprintf(node->local_ep, sizeof node->local_ep, "%s", a);
		core_log(CORE_LOG_INFO, "public endpoint %s (local %s, %zu of %zu servers agree)", node->public_ep, a,
			 d->num_agree, d->num_answered);
		learn_nat(node, d);
		node_ports_measure(node, d);
	} else {
		core_log(CORE_LOG_WARN, "STUN discovery failed: direct connections from outside this network are unlikely; "
					"relays still work (see 'atmosphere network')");
	}
}

/* ---- our NAT's port allocation (stun/ports.h) ---- */

static struct stun_client_opts ports_opts(unsigned timeout_ms)
{
	/* One answer is all a transaction waits for; fresh sockets read their own. */
	return (struct stun_client_opts){.timeout_ms = timeout_ms, .settle_ms = 0, .no_cache = true};
}

static void ports_task(void *arg)
{
	core_task_set_name("port allocation sample");
	struct node *node = arg;
	struct stun_client_opts o = ports_opts(NODE_PORTS_SAMPLE_MS);
	struct stun_port_samples s;
	if (stun_port_sample(&node->ports_srv, node->ports_srv_len, STUN_PORT_SAMPLES, &o, &s) != 0 || node->stopping)
		return;
	node->ports = s;
	char seen[STUN_PORT_SAMPLES * 6 + 1] = "", stride[24] = "";
	for (size_t i = 0, at = 0; i < s.num && at < sizeof seen; i++)
		at += (size_t)snprintf(seen + at, sizeof seen - at, " %u", s.mapped[i]);
	if (s.pattern == STUN_PORTS_SEQUENTIAL)
		snprintf(stride, sizeof stride, ", stride %+d", s.stride);
	core_log(CORE_LOG_INFO, "NAT port allocation (IPv4): %s%s (%zu fresh sockets, mapped to%s)%s",
		 stun_port_pattern_name(s.pattern), stride, s.num, s.num ? seen : " nothing",
		 s.pattern == STUN_PORTS_SEQUENTIAL && node->nat_kind == NODE_NAT_HARD
			 ? ": hard-NAT probing will tell the peer which ports to try first"
			 : "");
}

void node_ports_measure(struct node *node, const struct stun_discovery *d)
{
	const struct stun_server_result *srv = &d->servers[d->winner];
	if (node->ports_measured || d->no_nat || srv->ep.addr.ss_family != AF_INET)
		return;
	node->ports_measured = true;
	node->ports_srv = srv->ep.addr;
	node->ports_srv_len = srv->ep.addr_len;
	/* In the background: start-up and the first packets do not wait. */
	if (core_spawn(ports_task, node) != 0)
		node->ports_measured = false;
}

uint16_t node_ports_last(struct node *node)
{
	if (node->ports.pattern != STUN_PORTS_SEQUENTIAL)
		return 0;
	struct stun_client_opts o = ports_opts(NODE_PORTS_LAST_MS);
	struct stun_port_samples s;
	if (stun_port_sample(&node->ports_srv, node->ports_srv_len, 1, &o, &s) == 0 && s.num)
		node->ports.last = s.last;
	else
		core_log(CORE_LOG_DEBUG, "NAT port allocation: no fresh answer; predicting from port %u",
			 node->ports.last);
	return node->ports.last;
}

/* Re-signals after our public endpoint changed (or the router's mapping,
 * port_mapping.c): every connected peer gets a new HELLO (candidates) and
 * both sides punch again. */
void node_resignal(struct node *node)
{
	uint64_t t = node_now_ms();
	for (size_t i = 0; i < node->peers_hi; i++) {
		struct node_peer *p = &node->peers[i];
		if (!p->used || !p->node_id[0] || !node_peer_ready(p))
			continue;
		node_send_hello(node, p);
		node_punch_start(p, t, NODE_PUNCH_WINDOW_MS);
	}
}

/* One refresh through our own socket (the mapping that matters is its
 * own); udp_reader feeds the answers. Suspends. */
static void refresh_public(struct node *node)
{
	struct stun_endpoint eps[NODE_TOKEN_MAX_STUN];
	size_t n = stun_servers(node, eps);
	if (!n)
		return;
	struct stun_discovery *d = &node->disc;
	struct stun_client_opts o = {.timeout_ms = 2500, .settle_ms = 200, .no_cache = true, .feed = &node->feed};
	int r = stun_discover(node->udp, eps, n, &o, d);
	node->stun_refreshes++;
	if (r != 0 || d->status != 0) {
		core_log(CORE_LOG_DEBUG, "STUN refresh: no answer (%s)", strerror(r ? -r : -d->status));
		return;
	}
	learn_nat(node, d);
	node_ports_measure(node, d); /* when the first discovery could not */
	char ep[64];
	stun_addr_format(&d->mapped, ep, sizeof ep);
	if (!strcmp(ep, node->public_ep))
		return;
	core_log(CORE_LOG_INFO, "public endpoint changed from %s to %s (%zu of %zu servers agree); telling the peers",
		 node->public_ep[0] ? node->public_ep : "(none)", ep, d->num_agree, d->num_answered);
	node_copy_str(node->public_ep, sizeof node->public_ep, ep);
	node->public_changed_unix = (uint64_t)time(NULL);
	node_gossip_publish(node); /* members not connected learn it too */
	node_resignal(node);
}

static uint64_t refresh_interval(void)
{
	uint32_t r;
	RAND_bytes((uint8_t *)&r, sizeof r);
	return NODE_STUN_REFRESH_MS - NODE_STUN_REFRESH_JITTER_MS + r % (2 * NODE_STUN_REFRESH_JITTER_MS + 1);
}

/* Asks for a refresh soon (a sign that our mapping changed), within the
 * rate bound. */
void node_want_stun_refresh(struct node *node, const char *why)
{
	if (!node->stun_co)
		return;
	uint64_t at = node_now_ms() + NODE_STUN_REFRESH_SOON_MS;
	if (at < node->last_stun_ms + NODE_STUN_REFRESH_MIN_MS)
		at = node->last_stun_ms + NODE_STUN_REFRESH_MIN_MS;
	if (at >= node->next_stun_ms)
		return;
	core_log(CORE_LOG_INFO, "refreshing the public endpoint: %s", why);
	node->next_stun_ms = at;
	core_unpark(node->stun_co, 0);
}

void node_stun_refresher(void *arg)
{
	core_task_set_name("stun refresher");
	struct node *node = arg;
	node->stun_co = core_coro_current();
	node->last_stun_ms = node_now_ms();
	node->next_stun_ms = node->last_stun_ms + refresh_interval();
	while (!node->stopping) {
		uint64_t t = node_now_ms();
		if (t < node->next_stun_ms) {
			if (core_park((int)(node->next_stun_ms - t)) == -ECANCELED)
				break;
			continue;
		}
		node->last_stun_ms = t;
		node->next_stun_ms = t + refresh_interval();
		refresh_public(node);
		if (!node->stopping)
			node_udp6_refresh(node); /* same pacing for the IPv6 endpoint (node/udp6.c) */
	}
	node->stun_co = NULL;
}
