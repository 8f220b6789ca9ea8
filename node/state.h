#ifndef NODE_STATE_H
#define NODE_STATE_H
/* node/state.h: the peer node's state on disk.
 *
 * State lives in $ATMOSPHERE_HOME (default ~/.atmosphere, mode 0700) as one
 * JSON file, state.json (mode 0600): the mesh (id, name, join secret, relays,
 * STUN servers), this node's identity (id, name, X25519 private key), the
 * peers it knows (id, name, public key, last endpoints) and the invites it
 * issued. A running daemon listens on control.sock there; the other
 * commands talk to it through that socket (one JSON request per line, JSON
 * lines back). See docs/NODE.md. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/token.h"
#include "node/wire.h"
#include "relay/ticket.h"

struct node_known_peer {
	char node_id[NODE_TOKEN_MAX_ID_LEN + 1];
	char name[NODE_TOKEN_MAX_NAME_LEN + 1];
	uint8_t pub[32];
	char endpoint[NODE_TOKEN_MAX_ENDPOINT_LEN + 1];
	char public_endpoint[NODE_TOKEN_MAX_ENDPOINT_LEN + 1];
};

struct node_invite {
	uint8_t id[NODE_TOKEN_INVITE_ID_LEN];
	uint64_t created_at, expires_at;
};

/* The key of a relay in mesh-token mode (docs/RELAY.md, "Who may use the
 * relay"): the node presents a ticket made with it whenever it connects to
 * that URL. Secret. */
struct node_relay_key {
	char url[NODE_TOKEN_MAX_URL_LEN + 1];
	char key[RELAY_KEY_TEXT_LEN + 1];
};

struct node_state {
	char home[NODE_PATH_MAX];
	bool have_mesh;
	char mesh_id[NODE_TOKEN_MAX_ID_LEN + 1];
	char mesh_name[NODE_TOKEN_MAX_NAME_LEN + 1];
	uint8_t secret[NODE_TOKEN_SECRET_LEN];
	char relays[NODE_TOKEN_MAX_RELAYS][NODE_TOKEN_MAX_URL_LEN + 1];
	size_t num_relays;
	/* Keys of the relays that want tickets, by URL (a relay may leave
	 * relays[] and come back: its key stays). */
	struct node_relay_key relay_keys[NODE_TOKEN_MAX_RELAYS];
	size_t num_relay_keys;
	char stun[NODE_TOKEN_MAX_STUN][NODE_TOKEN_MAX_HOSTPORT_LEN + 1];
	size_t num_stun;
	char public_ip[48];
	uint16_t port;
	char node_id[NODE_TOKEN_MAX_ID_LEN + 1];
	char node_name[NODE_TOKEN_MAX_NAME_LEN + 1];
	uint8_t priv[32];
	uint8_t pub[32];
	struct node_known_peer peers[NODE_MAX_PEERS];
	size_t num_peers;
	struct node_invite invites[NODE_MAX_INVITES];
	size_t num_invites;
	uint64_t created_at;
	/* Membership (node/member.h): the mesh's founder (the root of every
	 * admission), and the admission this node received when it joined
	 * (the founder admits itself). A state from before membership has
	 * neither: the node then keeps to its known peers. */
	bool have_founder;
	uint8_t founder[32];
	bool have_admission;
	uint8_t admitter[32];
	uint8_t admit_sig[64];
	/* The join secret rotates (`atmosphere rotate-secret`): secret is the
	 * current one (relay session ids, codes), secret_epoch counts the
	 * rotations, and rot_* is the signed record of the last one, passed on
	 * to members that lag. The e2e PSK between members derives from
	 * mesh_key, the secret of epoch 0, which never changes: a member that
	 * was away during a rotation still completes a handshake and is given
	 * the new secret in it. */
	uint8_t mesh_key[NODE_TOKEN_SECRET_LEN];
	uint32_t secret_epoch;
	uint8_t rot_rotator[32];
	uint8_t rot_sig[64];
	/* Catch-up (docs/NODE.md, "Removing a member"): the secret of epoch
	 * catchup_epoch (the one before secret_epoch), kept for the peers in
	 * catchup_peers (X25519 keys) that have not shown they have the
	 * current one, until catchup_until (unix s). The node keeps a relay
	 * link on that epoch's pair session with each of them. num_catchup 0:
	 * nothing kept (the old secret is wiped). */
	uint32_t catchup_epoch;
	uint8_t catchup_secret[NODE_TOKEN_SECRET_LEN];
	uint64_t catchup_until;
	uint8_t catchup_peers[NODE_CATCHUP_MAX_PEERS][32];
	size_t num_catchup;
};

/* node_home fills out with $ATMOSPHERE_HOME or ~/.atmosphere. */
void node_home(char out[NODE_PATH_MAX]);

/* node_state_load reads state.json from st->home (set it first). Returns 0,
 * -ENOENT when there is no mesh yet, or -EINVAL with a message in err. */
int node_state_load(struct node_state *st, char *err, size_t err_len);

/* node_state_save writes state.json atomically (0600, in a 0700 dir). */
int node_state_save(const struct node_state *st, char *err, size_t err_len);

/* node_state_new_identity fills node id/name and a fresh key pair. */
void node_state_new_identity(struct node_state *st, const char *name);

/* node_state_add_peer adds or updates a known peer; false when full. */
bool node_state_add_peer(struct node_state *st, const struct node_known_peer *p);

/* node_state_remove_peer forgets the known peer with public key pub (a
 * removed member). Returns whether it was known. */
bool node_state_remove_peer(struct node_state *st, const uint8_t pub[32]);

/* node_members_load merges the records of $home/members.json into t (an
 * empty table for st's mesh), in passes until nothing more merges (a
 * record can depend on one listed after it); every record is verified
 * again. Returns the number merged, 0 when there is no file, or -EINVAL
 * with a message in err. */
struct node_members;
int node_members_load(const struct node_state *st, struct node_members *t, char *err, size_t err_len);

/* node_members_save writes t to $home/members.json atomically (0600):
 * every entry and removal as base64 of its wire form. */
int node_members_save(const struct node_state *st, const struct node_members *t, char *err, size_t err_len);

/* node_relay_key_set records key_text (a relay key, RELAY_KEY_TEXT_LEN
 * characters of base64url) for the relay at url, replacing any it had; an
 * empty key_text removes it. Returns 0, -EINVAL (not a relay key) or
 * -ENOSPC (NODE_TOKEN_MAX_RELAYS keys already). */
int node_relay_key_set(struct node_state *st, const char *url, const char *key_text);

/* node_relay_key_find fills *out with the key of the relay at url and
 * returns true, or returns false (that relay takes no ticket from us).
 * Wipe *out with relay_key_cleanup. */
bool node_relay_key_find(const struct node_state *st, const char *url, struct relay_key *out);

/* node_state_catchup_has says whether the peer with key pub still waits to
 * catch up (in catchup_peers, and now_s before catchup_until). */
bool node_state_catchup_has(const struct node_state *st, const uint8_t pub[32], uint64_t now_s);

/* node_state_catchup_drop takes pub out of catchup_peers (it showed it has
 * the current secret, or was removed); the last one out wipes the previous
 * secret. Returns whether it was there. */
bool node_state_catchup_drop(struct node_state *st, const uint8_t pub[32]);

/* node_state_catchup_clear forgets the catch-up: every peer and the
 * previous secret (wiped). Returns whether there was one. */
bool node_state_catchup_clear(struct node_state *st);

/* node_state_wipe clears the secrets in st. */
void node_state_wipe(struct node_state *st);

/* node_control_path: st->home + "/control.sock". */
void node_control_path(const struct node_state *st, char out[NODE_PATH_MAX]);

#endif
