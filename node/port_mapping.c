/* node/port_mapping.c: the node's side of portmap/: a UDP mapping of the
 * node's port on the home router, started at start-up in the background
 * (portmap/portmap.h: its own thread, bounded attempts, renewals), whose
 * external endpoint becomes a candidate like the STUN-mapped one, and which
 * is deleted at exit (docs/PORTMAP.md).
 *
 * The helper thread hands each change to the reactor with core_rt_post; the
 * endpoint is only ever read and written on the reactor. portmap_stop runs
 * after core_rt_run returned (it blocks while it deletes), before the
 * runtime is freed: a change that arrives meanwhile finds the reactor
 * stopped and is dropped. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "node/internal.h"
#include "portmap/portmap.h"

struct mapping_note {
	struct node *node;
	struct portmap_mapping m;
};

/* On the reactor: adopt the new endpoint and tell the peers. */
static void apply(void *arg)
{
	struct mapping_note *n = arg;
	struct node *node = n->node;
	char ep[64] = "";
	if (n->m.proto) {
		struct sockaddr_storage a = {0};
		memcpy(&a, &n->m.external, sizeof n->m.external);
		node_fmt_addr(&a, ep, sizeof ep);
	}
	if (strcmp(ep, node->mapped_ep) != 0) {
		if (ep[0])
			core_log(CORE_LOG_INFO, "port mapping: the gateway maps %s to UDP port %u by %s (for %u s); telling the peers",
				 ep, node->port, portmap_proto_name(n->m.proto), n->m.lifetime_s);
		else
			core_log(CORE_LOG_INFO, "port mapping: %s is gone; telling the peers", node->mapped_ep);
		node_copy_str(node->mapped_ep, sizeof node->mapped_ep, ep);
		node_copy_str(node->mapped_proto, sizeof node->mapped_proto, n->m.proto ? portmap_proto_name(n->m.proto) : "");
		if (!node->stopping)
			node_resignal(node);
	}
	free(n);
}

/* On the helper thread. */
static void on_change(void *arg, const struct portmap_mapping *m)
{
	struct node *node = arg;
	struct mapping_note *n = malloc(sizeof *n);
	if (!n)
		return;
	n->node = node;
	n->m = *m;
	if (core_rt_post(node->rt, 0, apply, n) != 0)
		free(n);
}

void node_port_mapping_start(struct node *node)
{
	/* A node told its public address (--public-ip) is not behind a home
	 * router; a relay-only node has no direct paths to offer it to;
	 * `serve --no-port-mapping` turns it off. */
	if (node->o->no_port_mapping || node->o->relay_only || node->st->public_ip[0] || !node->port)
		return;
	struct portmap_opts o = {.internal_port = node->port, .notify = on_change, .arg = node};
	int err = 0;
	node->pm = portmap_start(&o, &err);
	if (!node->pm)
		core_log(CORE_LOG_WARN, "port mapping: cannot start: %s", strerror(-err));
}

void node_port_mapping_stop(struct node *node)
{
	portmap_stop(node->pm);
	node->pm = NULL;
}
