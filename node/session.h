#ifndef NODE_SESSION_H
#define NODE_SESSION_H
/* node/session.h: the e2e sessions of one peer. The newest session sends;
 * the one it replaced still receives, because two handshakes that crossed
 * (both ends initiating at once, or an initiation a relay held from before a
 * restart) can leave the two ends sending on different sessions. When the
 * peer is heard on the older one while the newer cannot send yet (a
 * responder's session before the initiator's first packet), the older one is
 * the pair's and becomes the sending session. Pure: no I/O, no clock. */
#include <stdbool.h>

#include "node/e2e.h"

struct node_sessions {
	struct node_e2e_session s;      /* sends (when node_sessions_ready) */
	bool have_s;
	struct node_e2e_session prev;   /* the one s replaced: receives only */
	bool have_prev;
};

/* node_sessions_install makes *ns (copied; ss owns it from now on) the
 * sending session; the one it replaces becomes prev, and the older prev is
 * wiped. */
void node_sessions_install(struct node_sessions *ss, const struct node_e2e_session *ns);

/* node_sessions_ready says whether s may send: ours as initiator, or
 * confirmed by the initiator's first packet (a responder may not send before). */
bool node_sessions_ready(const struct node_sessions *ss);

/* node_sessions_find returns the session whose local index is idx (s first),
 * or NULL. Borrowed from ss. */
struct node_e2e_session *node_sessions_find(struct node_sessions *ss, uint32_t idx);

/* node_sessions_heard_on tells ss a packet was authenticated on rs (one of
 * its two): heard on prev while s cannot send, the two swap. Returns true
 * when they did. */
bool node_sessions_heard_on(struct node_sessions *ss, const struct node_e2e_session *rs);

/* node_sessions_cleanup wipes both sessions. */
void node_sessions_cleanup(struct node_sessions *ss);

#endif
