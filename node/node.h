#ifndef NODE_NODE_H
#define NODE_NODE_H
/* node/node.h: the peer node daemon behind `atmosphere serve` and `join`.
 * One UDP socket for direct paths and STUN, relay links for signaling and
 * fallback, end-to-end encrypted sessions with every peer, and a control
 * socket for the other commands (node/control.h). docs/NODE.md describes
 * it and lists the files of node/. */
#include <stdbool.h>
#include <stddef.h>
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
	int hard_nat;            /* enum node_hard_nat_mode (node/birthday.h): 0 on, 1 off, 2 aggressive */
};
int node_run(struct node_state *st, const struct node_run_opts *o);

/* How node_short_fetch ended. */
enum node_short_fetch_status {
	NODE_SHORT_OK = 0,
	NODE_SHORT_NO_ANSWER = 1, /* no relay reached, or nobody answered in time */
	NODE_SHORT_WRONG = 2,     /* the inviting node holds another code (each such try costs one of its tries) */
	NODE_SHORT_REFUSED = 3,   /* the code was used, is void, or busy */
	NODE_SHORT_FAILED = 4,    /* anything else (err says) */
};

/* node_short_fetch exchanges a short code MESH-XXXX-XXXX-XXXX (as typed:
 * node/pake.h) for the full join code it stands for: it meets the inviting
 * node on the rendezvous session of the code on each relay in turn (the
 * time split among them), runs SPAKE2 with the code as the password,
 * confirms the key both ways and opens the sealed full code. Runs its own
 * reactor (call it outside any runtime); blocks up to timeout_ms. Returns
 * NODE_SHORT_OK with the code NUL-terminated in out (cap bytes;
 * NODE_TOKEN_MAX_CODE_LEN + 1 suffice; a secret: wipe it), or another
 * enum node_short_fetch_status with a sentence in err (out wiped). */
int node_short_fetch(const char *code, const char *const *relays, size_t num_relays, unsigned timeout_ms, char *out,
		     size_t cap, char *err, size_t err_len);

#endif
