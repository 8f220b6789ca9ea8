#ifndef NODE_MEMBER_H
#define NODE_MEMBER_H
/* node/member.h: the mesh's membership: signed member entries, removal
 * records, the table every node keeps of them, its merge rules, and the
 * codec of the NODE_MSG_MEMBER messages that spread them (docs/NODE.md,
 * "Membership", has the design and the threat model).
 *
 * Keys. A member is its X25519 public key (`pub`, the key e2e sessions
 * authenticate). It also has an Ed25519 signing key derived from its X25519
 * private key (node_member_keys), so no new secret is stored.
 *
 * What is signed, by whom:
 *   entry body   by the member itself: id, name, endpoints (IPv4, and
 *                in format 2 IPv6), relays, in format 3 its overlay
 *                collision counter n, and a version (unix ms, strictly
 *                increasing per member); newer wins, so stale gossip cannot
 *                roll an entry back;
 *   admission    by the member that admitted it (its issuer): binds pub,
 *                sign_pub and node_id; an entry counts only while its
 *                admission chain leads, through members not removed, to the
 *                mesh's founder (who admits itself);
 *   secret       by the member that rotated it: epoch and the secret's hash;
 *   removal      by any member in good standing: the target is out for good
 *                (removal beats entry), and admissions it signed stop
 *                counting (codes it issued stop working).
 * A slot keeps a spare admission besides the one in use: when a removal
 * breaks the chain in use, a re-admission made by the remover takes over.
 *
 * Messages (the body of NODE_MSG_MEMBER; byte 0 the kind, then big-endian):
 *   'E' entry    1 format, pub[32], sign_pub[32], version u64, id (u8 len),
 *                name (u8 len), u8 n x endpoint (u8 len), u8 n x relay
 *                (u8 len), [format 2 only: u8 n (1..4) x IPv6 endpoint
 *                (u8 len)], [format 3 only: u8 n (0..4) x IPv6 endpoint
 *                (u8 len), collision counter u32 (>= 1)], sig[64],
 *                admitter[32], admit_sig[64]
 *                Format 1 is an entry without IPv6 endpoints and counter 0,
 *                format 2 one with IPv6 endpoints and counter 0, format 3
 *                one with a counter above 0 (one encoding per entry: an
 *                entry with n = 0 is byte for byte what a node from before
 *                format 3 writes). The format byte, the IPv6 endpoints and
 *                the counter are inside the signed body: stripping or
 *                changing them fails the signature. A node from before
 *                format 2 (3) refuses a format-2 (3) entry as an unknown
 *                format (docs/NODE.md, "Membership").
 *   'R' removal  target[32], remover[32], sig[64]
 *   'S' summary  count u32, secret epoch u32, SHA-256 of the digest items in
 *                key order
 *   'K' secret   epoch u32, secret[32], rotator[32], sig[64]: a new mesh
 *                secret (sent only inside e2e sessions, to members in good
 *                standing)
 *   'D' digest   lo[32], hi[32], u8 n, n items: the sender's slots with
 *                lo < pub <= hi in key order, each pub[32], version u64,
 *                flags u8, admitter[8] (first bytes)
 * The largest entry is 1,455 bytes: every message fits NODE_MAX_MESSAGE_LEN.
 *
 * Pure: no I/O, no clock; nothing suspends. Parsing reads through CBS,
 * checks every field and writes *out only on success. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/token.h"

/* --- Limits -------------------------------------------------------------- */
enum {
	/* Slots of a table: members and removed members together (the node
	 * keeps a peer for up to NODE_MAX_PEERS of them). */
	NODE_MEMBER_MAX = 1024,
	NODE_MEMBER_MAX_EPS = 4,                       /* IPv4 endpoints per entry */
	NODE_MEMBER_MAX_EPS6 = NODE_TOKEN_MAX_IPV6_ENDPOINTS, /* IPv6 endpoints per entry (4) */
	NODE_MEMBER_MAX_RELAYS = NODE_TOKEN_MAX_RELAYS, /* relays per entry */
	/* The body of one message (the node message's type byte excluded). */
	NODE_MEMBER_MAX_MSG = 2047,
	NODE_MEMBER_ITEM_LEN = 49,    /* one digest item */
	NODE_MEMBER_DIGEST_ITEMS = 39, /* items per digest message */
	NODE_MEMBER_FORMAT = 1,    /* an entry without IPv6 endpoints */
	NODE_MEMBER_FORMAT_V6 = 2, /* an entry with 1..NODE_MEMBER_MAX_EPS6 IPv6 endpoints */
	NODE_MEMBER_FORMAT_N = 3,  /* an entry with an overlay collision counter above 0 */
	/* Counters node_members_overlay_n tries before it gives up: with at
	 * most NODE_MEMBER_MAX - 1 other members, each counter is free with a
	 * chance above 99.9 % (their addresses fill 1 in 4,000 of the /10). */
	NODE_MEMBER_MAX_TRIES = 4 * NODE_MEMBER_MAX,
};

/* Digest item flags. */
enum {
	NODE_MEMBER_F_ENTRY = 1,    /* the sender holds the entry */
	NODE_MEMBER_F_REMOVED = 2,  /* the sender holds a removal of it */
	NODE_MEMBER_F_ADMITTED = 4, /* its admission chain is valid at the sender */
};

/* enum node_member_status: merge results (>= 0) and why input was refused. */
enum node_member_status {
	NODE_MEMBER_UNCHANGED = 0,  /* known already, or older: nothing to do */
	NODE_MEMBER_CHANGED = 1,    /* new, newer, or a better admission */
	NODE_MEMBER_E_TRUNCATED = -1,  /* the message ends inside a field */
	NODE_MEMBER_E_BAD_FIELD = -2,  /* a field's length, syntax or value; trailing bytes */
	NODE_MEMBER_E_KIND = -3,       /* an unknown message kind or format */
	NODE_MEMBER_E_BAD_SIG = -4,    /* the entry's own or the removal's signature */
	NODE_MEMBER_E_BAD_ADMISSION = -5, /* the admission's signature */
	NODE_MEMBER_E_UNKNOWN_ADMITTER = -6, /* admitter or remover unknown or not in good standing */
	NODE_MEMBER_E_REMOVED = -7,    /* the member was removed: removal beats entry */
	NODE_MEMBER_E_CONFLICT = -8,   /* another sign key or node id than the one known for this key,
	                                  or a node id another member holds */
	NODE_MEMBER_E_FULL = -9,       /* the table has NODE_MEMBER_MAX slots in use */
	NODE_MEMBER_E_FOUNDER = -10,   /* the founder cannot be removed */
	NODE_MEMBER_E_OWN_CHAIN = -11, /* the remover's own admission goes through the target */
};

/* node_member_strerror: a static description of a status. Never NULL. */
const char *node_member_strerror(int status);

/* struct node_member: one member's entry and the admission it travels with. */
struct node_member {
	uint8_t pub[32];      /* X25519: the member */
	uint8_t sign_pub[32]; /* Ed25519 */
	uint64_t version;     /* unix ms at signing, strictly increasing per member */
	char node_id[NODE_TOKEN_MAX_ID_LEN + 1];
	char name[NODE_TOKEN_MAX_NAME_LEN + 1];
	char eps[NODE_MEMBER_MAX_EPS][NODE_TOKEN_MAX_ENDPOINT_LEN + 1]; /* "ip:port" */
	size_t num_eps;
	/* "[v6]:port": the member's IPv6 candidates (global addresses with its
	 * IPv6 port, its IPv6 server-reflexive endpoint); none in format 1.
	 * Syntax only is checked here: whether one may be punched is the
	 * receiving node's (node_cand_accept). */
	char eps6[NODE_MEMBER_MAX_EPS6][NODE_TOKEN_MAX_ENDPOINT_LEN + 1];
	size_t num_eps6;
	char relays[NODE_MEMBER_MAX_RELAYS][NODE_TOKEN_MAX_URL_LEN + 1];
	size_t num_relays;
	/* The overlay collision counter (overlay/addr.h): the member's
	 * overlay addresses derive from (mesh id, node id, n). Chosen by the
	 * member itself (node_members_overlay_n), 0 for almost everyone. */
	uint32_t n;
	uint8_t sig[64];       /* by sign_pub over the body */
	uint8_t admitter[32];  /* X25519 pub of the admitting member (pub itself: the founder) */
	uint8_t admit_sig[64]; /* by the admitter's sign key */
};

struct node_member_item {
	uint8_t pub[32];
	uint64_t version; /* 0 without an entry */
	uint8_t flags;    /* NODE_MEMBER_F_* */
	uint8_t admitter[8];
};

/* struct node_member_msg: a parsed message; which member is set follows kind. */
struct node_member_msg {
	uint8_t kind; /* 'E', 'R', 'S', 'D' */
	struct node_member entry;
	struct {
		uint8_t target[32], remover[32], sig[64];
	} removal;
	struct {
		uint32_t count;
		uint32_t epoch;
		uint8_t hash[32];
	} summary;
	struct {
		uint32_t epoch;
		uint8_t secret[32], rotator[32], sig[64];
	} rotation;
	struct {
		uint8_t lo[32], hi[32];
		size_t num;
		struct node_member_item items[NODE_MEMBER_DIGEST_ITEMS];
	} digest;
};

/* node_member_parse parses one message body of len bytes (at most
 * NODE_MEMBER_MAX_MSG) into *out: every field checked (ids
 * [A-Za-z0-9._-]+, names UTF-8 without control characters, endpoints
 * "a.b.c.d:port", IPv6 endpoints "[v6]:port" (an address inet_pton takes,
 * port 1..65535), relays ws:// or wss:// in printable ASCII, digest items
 * strictly increasing and inside (lo, hi]). Signatures are not checked here
 * (that needs the table). Returns 0 or a negative status; *out is written
 * only on success. */
int node_member_parse(struct node_member_msg *out, const uint8_t *in, size_t len);

/* node_member_encode_entry / _removal / _summary write one message body to
 * out (cap bytes; NODE_MEMBER_MAX_MSG always suffices) and its length to
 * *out_len. Return 0, NODE_MEMBER_E_BAD_FIELD (a field parse would refuse)
 * or NODE_MEMBER_E_TRUNCATED (no room). */
int node_member_encode_entry(uint8_t *out, size_t cap, size_t *out_len, const struct node_member *m);
int node_member_encode_removal(uint8_t *out, size_t cap, size_t *out_len, const uint8_t target[static 32],
			       const uint8_t remover[static 32], const uint8_t sig[static 64]);
int node_member_encode_summary(uint8_t *out, size_t cap, size_t *out_len, uint32_t count, uint32_t epoch,
			       const uint8_t hash[static 32]);
int node_member_encode_rotation(uint8_t *out, size_t cap, size_t *out_len, uint32_t epoch, const uint8_t secret[static 32],
				const uint8_t rotator[static 32], const uint8_t sig[static 64]);

/* node_member_keys derives a member's Ed25519 key pair from its X25519
 * private key: seed = HKDF-SHA256(x_priv, info "atmosphere v1 member
 * signing key"). sign_priv is secret: the caller wipes it. */
void node_member_keys(uint8_t sign_pub[static 32], uint8_t sign_priv[static 64], const uint8_t x_priv[static 32]);

/* node_member_sign fills m->sig: the member's signature over its body
 * (everything before sig) bound to mesh_id. Returns 0 or
 * NODE_MEMBER_E_BAD_FIELD. */
int node_member_sign(struct node_member *m, const uint8_t sign_priv[static 64], const char *mesh_id);

/* node_member_admit writes an admission of (pub, sign_pub, node_id) by the
 * holder of admitter_priv to sig. Returns 0 or NODE_MEMBER_E_BAD_FIELD. */
int node_member_admit(uint8_t sig[static 64], const uint8_t admitter_priv[static 64], const char *mesh_id,
		      const uint8_t pub[static 32], const uint8_t sign_pub[static 32], const char *node_id);

/* node_member_remove_sign writes the remover's signature of a removal. */
void node_member_remove_sign(uint8_t sig[static 64], const uint8_t remover_priv[static 64], const char *mesh_id,
			     const uint8_t target[static 32], const uint8_t remover[static 32]);

/* node_member_rotation_sign signs a new mesh secret of epoch by rotator. */
void node_member_rotation_sign(uint8_t sig[static 64], const uint8_t rotator_priv[static 64], const char *mesh_id,
			       uint32_t epoch, const uint8_t secret[static 32], const uint8_t rotator[static 32]);

/* --- The table ------------------------------------------------------------ */

struct node_member_slot {
	struct node_member m;   /* valid when has_entry */
	bool has_entry;
	bool removed;
	uint8_t remover[32], remove_sig[64];
	bool has_spare;         /* a second verified admission */
	uint8_t spare_admitter[32], spare_sig[64];
};

/* struct node_members: one node's view of the mesh. Slots never move (an
 * index is a stable name for a member while the table lives); sorted lists
 * them in key order. */
struct node_members {
	char mesh_id[NODE_TOKEN_MAX_ID_LEN + 1];
	uint8_t founder[32];
	size_t num;
	struct node_member_slot slots[NODE_MEMBER_MAX];
	uint16_t sorted[NODE_MEMBER_MAX];
};

/* node_members_new allocates an empty table for mesh_id rooted at the
 * founder's X25519 key. Returns NULL when out of memory or mesh_id is not a
 * valid id. node_members_free(NULL) does nothing. */
struct node_members *node_members_new(const char *mesh_id, const uint8_t founder[static 32]);
void node_members_free(struct node_members *t);

/* node_members_find returns the slot index of pub, or -1. */
int node_members_find(const struct node_members *t, const uint8_t pub[static 32]);

/* node_members_good says whether slot i is a member in good standing: it
 * has an entry, is not removed, and its admission chain reaches the founder
 * through members in good standing. */
bool node_members_good(const struct node_members *t, int i);

/* node_members_merge_entry merges a received (or our own) entry. A new
 * member needs a valid own signature and an admission by a member in good
 * standing (or be the founder, self-admitted). A known one takes a strictly
 * newer body (same sign key and node id), and an admission that is better:
 * valid where the one in use is not, or valid with a smaller admitter key
 * (so every node converges on the same). Returns NODE_MEMBER_CHANGED (slot
 * in *out_slot), NODE_MEMBER_UNCHANGED (stale or known; *out_slot set when
 * the member is known) or a negative status. */
int node_members_merge_entry(struct node_members *t, const struct node_member *in, int *out_slot);

/* node_members_merge_removal merges a removal signed by remover, which must
 * be a member in good standing, not the founder's removal, and not one
 * that cuts the remover's own admission chain. The target stays in the
 * table as removed (a tombstone: its entries are refused from now on);
 * members whose chain went through it switch to their spare admission when
 * that is valid. Returns NODE_MEMBER_CHANGED (the target's slot in
 * *out_slot), NODE_MEMBER_UNCHANGED (known already) or a negative status. */
int node_members_merge_removal(struct node_members *t, const uint8_t target[static 32], const uint8_t remover[static 32],
			       const uint8_t sig[static 64], int *out_slot);

/* node_members_through says whether slot i's admission chain passes
 * through slot via (the members a removal of via would orphan). */
bool node_members_through(const struct node_members *t, int i, int via);

/* node_members_summary writes the count of slots and the SHA-256 over every
 * slot's digest item in key order: two tables with the same summary hold
 * the same versions, removals and admitters. */
void node_members_summary(const struct node_members *t, uint32_t *out_count, uint8_t out_hash[static 32]);

/* node_members_digest writes the digest message of the slots with key
 * above lo (at most NODE_MEMBER_DIGEST_ITEMS) to out (cap >=
 * NODE_MEMBER_MAX_MSG) and the upper bound it covers to next_lo: the last
 * key it lists, or 0xff..ff when it reaches the end. Returns true when this
 * was the last message of the digest. */
bool node_members_digest(const struct node_members *t, const uint8_t lo[static 32], uint8_t *out, size_t cap,
			 size_t *out_len, uint8_t next_lo[static 32]);

/* node_members_compare reads a peer's digest message (parsed) and sets, in
 * want_entry and want_removal (NODE_MEMBER_MAX bits, by slot), what the
 * peer lacks among our slots inside the message's range: entries it does
 * not hold, holds older or with an admission ours beats, and removals it
 * does not hold. Returns the number of bits it set. */
size_t node_members_compare(const struct node_members *t, const struct node_member_msg *digest, uint8_t *want_entry,
			    uint8_t *want_removal);

/* node_members_check_rotation checks a new mesh secret: signed by rotator,
 * a member in good standing. Returns 0, NODE_MEMBER_E_UNKNOWN_ADMITTER or
 * NODE_MEMBER_E_BAD_SIG. (Whether its epoch is newer is the caller's.) */
int node_members_check_rotation(const struct node_members *t, uint32_t epoch, const uint8_t secret[static 32],
				const uint8_t rotator[static 32], const uint8_t sig[static 64]);

/* --- Overlay addresses: collisions ---------------------------------------- */

/* node_member_precedes says whether member a keeps an overlay address it
 * shares with member b (b moves): the smaller counter n, then the smaller
 * node id (bytewise). Every node evaluates it the same way from the signed
 * entries alone; a member that moved has a larger n, so it yields to the
 * ones that never did. */
bool node_member_precedes(const struct node_member *a, const struct node_member *b);

/* node_members_overlay_n returns the collision counter the member with key
 * pub and node id node_id should advertise in its entry, given the members
 * in good standing that t holds (pub's own slot aside) and the counter n it
 * advertises now (its entry's, or 0 before its first). It keeps n unless its
 * IPv4 or IPv6 overlay address at n equals that of a member that precedes
 * it (node_member_precedes; a member without an entry in t, a joiner about
 * to publish its first, is preceded by every member); it then returns the
 * smallest counter at which neither address equals any member's. Returns n
 * also when no counter below NODE_MEMBER_MAX_TRIES is free (not reached:
 * the table is smaller), or out of memory. Pure: SHA-256 only. */
uint32_t node_members_overlay_n(const struct node_members *t, const uint8_t pub[static 32], const char *node_id, uint32_t n);

/* node_members_lacks says whether a peer's digest message (parsed) shows
 * something we lack: a member we do not hold, a newer entry, a removal we
 * do not hold, or a valid admission where ours is not. */
bool node_members_lacks(const struct node_members *t, const struct node_member_msg *digest);

#endif
