#ifndef NODE_NODE_H
#define NODE_NODE_H
/* node/node.h: the peer node daemon behind `atmosphere serve` and `join`.
 * One UDP socket for direct paths and STUN, relay links for signaling and
 * fallback, end-to-end encrypted sessions with every peer, and a control
 * socket for the other commands (node/control.h). docs/NODE.md describes
 * it and lists the files of node/. */
#include <stdbool.h>
#include <stdint.h>

#include "node/state.h"

/* node_run runs the daemon for st (loaded, with a mesh or joining) until
 * SIGINT/SIGTERM or a join fails; join_code: a code to join with at start
 * (NULL for plain serve). st is borrowed and updated (peers, invites).
 * Returns the process exit code. */
struct node_run_opts {
	uint16_t port;
	const char *join_code;
	bool json_log;
	unsigned punch_ms;       /* how long to try direct before saying "P2P failed"; 0: 3000 */
	bool tun;                /* the IP overlay (node/overlay.h) */
	const char *tun_name;    /* its interface; NULL: atmosphere0 */
	bool relay_only;         /* no STUN, no punching, no direct paths: relays only */
	char **allow;            /* overlay firewall rules (overlay/firewall.h), borrowed */
	unsigned num_allow;
	bool no_port_mapping;    /* do not ask the home router for a mapping (docs/PORTMAP.md) */
};
int node_run(struct node_state *st, const struct node_run_opts *o);

#endif
