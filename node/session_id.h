#ifndef NODE_SESSION_ID_H
#define NODE_SESSION_ID_H
/* node/session_id.h: the relay session ids the node uses.
 *
 * In the seed's relay protocol whoever names a session id first is paired
 * with the next client that names it (docs/RELAY.md, "Who can use a session
 * id"), so ids must be secrets. Both of the node's are HMAC-SHA256 outputs,
 * cut to 160 bits (40 hex digits, a valid relay id): a pair session's under
 * the mesh secret over the two node ids, an inbox's under a join code's
 * invite key. A stranger who knows the relay, the mesh id and both node ids
 * cannot name either. */
#include <stdint.h>

#define NODE_SESSION_ID_LEN 40

/* node_pair_session_id writes the pair session id of nodes a and b (node id
 * strings, in either order) under the mesh secret, NUL-terminated. */
void node_pair_session_id(char out[static NODE_SESSION_ID_LEN + 1], const uint8_t secret[static 32], const char *a,
			  const char *b);

/* node_inbox_session_id writes the inbox session id of a join code's
 * invite key, NUL-terminated. */
void node_inbox_session_id(char out[static NODE_SESSION_ID_LEN + 1], const uint8_t invite_key[static 32]);

/* node_doorbell_session_id writes the doorbell session id of node_id under
 * the mesh secret (node/lazy.h), NUL-terminated. */
void node_doorbell_session_id(char out[static NODE_SESSION_ID_LEN + 1], const uint8_t secret[static 32],
			      const char *node_id);

#endif
