#ifndef NODE_E2E_H
#define NODE_E2E_H
/* node/e2e.h: end-to-end encryption between two nodes (docs/E2E.md).
 *
 * Design: a one-round-trip authenticated key exchange with the shape of
 * Noise_IKpsk2_25519_ChaChaPoly_SHA256 (the pattern WireGuard uses, with
 * SHA-256 and HKDF-SHA256 in place of BLAKE2s), then a datagram transport:
 *
 *   IKpsk2:
 *     <- s                         the initiator knows the responder's key
 *     ...
 *     -> e, es, s, ss              initiation (164 bytes)
 *     <- e, ee, se, psk            response   (76 bytes)
 *     => data, both directions     16-byte header + ciphertext + 16-byte tag
 *
 * Both nodes have a static X25519 key (the node key); each handshake adds
 * fresh ephemeral keys (forward secrecy) and mixes a 32-byte pre-shared key
 * derived from the mesh join secret (node/token.h), so a peer must hold the
 * node key it claims and the mesh's secret. Each direction gets its own
 * ChaCha20-Poly1305 key; a 64-bit counter is the nonce and a sliding window
 * (node/replay.h) refuses replays. Sessions age out: needs_rekey says when to
 * start the next handshake, and past the reject limits a session refuses to
 * send or receive.
 *
 * Pure and deterministic: no I/O, no clock, no randomness inside. Ephemeral
 * private keys, sender indices and timestamps come in as arguments (the node
 * fills them from RAND_bytes and its clocks; tests pass fixed values and get
 * the exact bytes of docs/E2E.md). Nothing allocates or suspends. All state
 * is caller storage; struct fields are private to e2e.c.
 *
 * Cheap rejection: node_e2e_classify checks type, reserved bytes and exact
 * length with no crypto; a handshake message must then carry a mac1 (a MAC
 * keyed by the receiver's public key) before any Diffie-Hellman is done, and
 * a data packet passes the index, age and replay checks before the AEAD.
 *
 * Cost: creating a handshake message takes three X25519 operations,
 * consuming one two (plus an HMAC before them); a data packet is one
 * ChaCha20-Poly1305 pass and no allocation. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/replay.h"

/* --- Wire constants -----------------------------------------------------
 * Integers on the wire are little-endian (the counter doubles as the Noise
 * nonce, which is little-endian). */
enum {
	NODE_E2E_KEY_LEN = 32,       /* X25519 keys, PSK, symmetric keys, hashes */
	NODE_E2E_TAG_LEN = 16,       /* Poly1305 */
	NODE_E2E_MAC1_LEN = 16,      /* truncated HMAC-SHA256 */
	NODE_E2E_TIMESTAMP_LEN = 12, /* TAI64N, see node_e2e_tai64n */
	NODE_E2E_INIT_APP_LEN = 32,  /* opaque application bytes in the initiation */
	/* type+reserved 4, sender 4, ephemeral 32, static 32+16,
	 * timestamp+app 44+16, mac1 16 */
	NODE_E2E_INIT_LEN = 164,
	/* type+reserved 4, sender 4, receiver 4, ephemeral 32, empty 0+16, mac1 16 */
	NODE_E2E_RESPONSE_LEN = 76,
	/* type+reserved 4, receiver 4, counter 8 */
	NODE_E2E_DATA_HEADER_LEN = 16,
	NODE_E2E_DATA_OVERHEAD = NODE_E2E_DATA_HEADER_LEN + NODE_E2E_TAG_LEN,
};

/* enum node_e2e_msg_type: the first byte of every message. */
enum node_e2e_msg_type {
	NODE_E2E_MSG_INIT = 1,
	NODE_E2E_MSG_RESPONSE = 2,
	NODE_E2E_MSG_DATA = 3,
};

/* --- Limits ---------------------------------------------------------------
 * What a peer or time can push on, in one place. */
enum {
	/* Largest data packet: the largest IPv4 UDP payload. */
	NODE_E2E_MAX_PACKET_LEN = 65507,
	NODE_E2E_MAX_PLAINTEXT_LEN = NODE_E2E_MAX_PACKET_LEN - NODE_E2E_DATA_OVERHEAD,
};
/* Sending this many messages on a session makes it want a rekey (2^60, as
 * WireGuard: never reached in practice, the time limit comes first). */
#define NODE_E2E_REKEY_AFTER_MESSAGES ((uint64_t)1 << 60)
/* No counter at or above this is sent or accepted: the nonce never wraps,
 * and the receiver's window never has to slide past 2^64. */
#define NODE_E2E_REJECT_AFTER_MESSAGES (UINT64_MAX - NODE_REPLAY_BITMAP_BITS)
/* A session wants a rekey after 2 minutes (the initiator's side; the
 * responder waits NODE_E2E_REKEY_RESPONDER_SLACK_MS longer so that the two
 * ends do not both start one) and is dead after 3 minutes. */
#define NODE_E2E_REKEY_AFTER_MS ((uint64_t)120000)
#define NODE_E2E_REKEY_RESPONDER_SLACK_MS ((uint64_t)10000)
#define NODE_E2E_REJECT_AFTER_MS ((uint64_t)180000)

/* enum node_e2e_status: NODE_E2E_OK or why a message was refused. On the wire
 * every refusal is silence; the reason is for logs and counters. */
enum node_e2e_status {
	NODE_E2E_OK = 0,
	/* Wrong length for the message type (too short, too long). */
	NODE_E2E_E_BAD_LENGTH = -1,
	/* Unknown type byte or non-zero reserved bytes: not ours. */
	NODE_E2E_E_BAD_TYPE = -2,
	/* The handshake message's mac1 is not keyed by our public key: it was
	 * not meant for us, or it is garbage. Dropped before any DH. */
	NODE_E2E_E_BAD_MAC1 = -3,
	/* The receiver index is not this handshake's or session's. */
	NODE_E2E_E_BAD_INDEX = -4,
	/* Authentication failed: tampered, wrong node key, wrong PSK. */
	NODE_E2E_E_AUTH = -5,
	/* A Diffie-Hellman result was all zeros (a low-order public key). */
	NODE_E2E_E_BAD_KEY = -6,
	/* The counter was already received on this session. */
	NODE_E2E_E_REPLAY = -7,
	/* The counter is NODE_REPLAY_WINDOW or more behind the newest one. */
	NODE_E2E_E_TOO_OLD = -8,
	/* The session is past its reject limits (time or messages): a new
	 * handshake is needed. */
	NODE_E2E_E_EXPIRED = -9,
	/* A responder may not send until the initiator's first data packet
	 * (key confirmation) arrived. */
	NODE_E2E_E_NOT_CONFIRMED = -10,
	/* Call out of order (consuming a response with no initiation sent). */
	NODE_E2E_E_STATE = -11,
	/* The output buffer is too small. */
	NODE_E2E_E_NO_ROOM = -12,
	/* An argument is out of range (plaintext over the limit). */
	NODE_E2E_E_INVALID = -13,
	/* BoringSSL failed (allocation). */
	NODE_E2E_E_INTERNAL = -14,
};

/* node_e2e_strerror returns a static description of status (a value of enum
 * node_e2e_status); unknown values get a generic text. Never NULL. */
const char *node_e2e_strerror(int status);

/* struct node_e2e_keypair: a node's static X25519 key pair, plus the key its
 * mac1 checks use. Holds a secret: wipe with node_e2e_keypair_cleanup. */
struct node_e2e_keypair {
	uint8_t priv[NODE_E2E_KEY_LEN];
	uint8_t pub[NODE_E2E_KEY_LEN];
	uint8_t mac1_key[NODE_E2E_KEY_LEN]; /* SHA-256("mac1----" || pub) */
};

/* node_e2e_keypair_init derives the public key and mac1 key from priv (32
 * random bytes; X25519 clamps them). */
void node_e2e_keypair_init(struct node_e2e_keypair *kp, const uint8_t priv[static NODE_E2E_KEY_LEN]);

/* node_e2e_keypair_cleanup wipes kp. */
void node_e2e_keypair_cleanup(struct node_e2e_keypair *kp);

/* struct node_e2e_limits: when a session wants a rekey and when it dies.
 * Sessions start with the NODE_E2E_* defaults above. */
struct node_e2e_limits {
	uint64_t rekey_after_messages;
	uint64_t reject_after_messages;
	uint64_t rekey_after_ms;
	uint64_t reject_after_ms;
};

/* struct node_e2e_session: keys and counters of an established session,
 * caller storage. Private fields; read remote_static and handshake_hash. */
struct node_e2e_session {
	uint8_t send_key[NODE_E2E_KEY_LEN];
	uint8_t recv_key[NODE_E2E_KEY_LEN];
	/* The peer's static public key, authenticated by the handshake. */
	uint8_t remote_static[NODE_E2E_KEY_LEN];
	/* The Noise handshake hash: equal on both ends, unique per session;
	 * usable as a channel binding. */
	uint8_t handshake_hash[NODE_E2E_KEY_LEN];
	uint64_t send_counter;
	uint64_t created_ms;
	struct node_replay replay;
	struct node_e2e_limits limits;
	uint32_t local_index;
	uint32_t remote_index;
	bool initiator;
	bool confirmed;
};

/* struct node_e2e_handshake: one handshake in flight, caller storage.
 * node_e2e_init_create and node_e2e_init_consume fill it; before that it must
 * be zeroed (as node_e2e_handshake_cleanup leaves it). Holds secrets: wipe it
 * when abandoned (the calls that complete it wipe it themselves). */
struct node_e2e_handshake {
	uint8_t hash[NODE_E2E_KEY_LEN];
	uint8_t chain[NODE_E2E_KEY_LEN];
	uint8_t static_priv[NODE_E2E_KEY_LEN];
	uint8_t static_pub[NODE_E2E_KEY_LEN];
	uint8_t eph_priv[NODE_E2E_KEY_LEN];
	uint8_t remote_static[NODE_E2E_KEY_LEN];
	uint8_t remote_eph[NODE_E2E_KEY_LEN];
	uint32_t local_index;
	uint32_t remote_index;
	int state;
};

/* struct node_e2e_init_info: what a responder learns from an initiation, to
 * decide whether to answer and with which PSK. */
struct node_e2e_init_info {
	/* The initiator's static public key (authenticated: the initiator
	 * holds its private key). */
	uint8_t remote_static[NODE_E2E_KEY_LEN];
	/* The initiator's timestamp. Keep the greatest seen per remote_static
	 * and drop initiations whose timestamp is not greater (memcmp), or a
	 * replayed initiation could make us answer again. */
	uint8_t timestamp[NODE_E2E_TIMESTAMP_LEN];
	/* The initiator's application bytes (a join claim, node/token.h). */
	uint8_t app[NODE_E2E_INIT_APP_LEN];
	uint32_t sender_index;
};

/* node_e2e_tai64n writes the 12-byte TAI64N label of unix time sec.nsec
 * (2^62 + sec, big-endian, then nsec big-endian), the timestamp format
 * initiations carry: byte order makes memcmp order equal time order. */
void node_e2e_tai64n(uint8_t out[static NODE_E2E_TIMESTAMP_LEN], uint64_t unix_sec, uint32_t nsec);

/* node_e2e_classify is the cheap first look at a received datagram: checks
 * the type byte, that the reserved bytes are zero and that the length is
 * right for the type, with no crypto. Returns the type (NODE_E2E_MSG_*, a
 * positive value) or a negative enum node_e2e_status. For a response or data
 * packet *out_receiver_index (if not NULL) gets the receiver index to look
 * the handshake or session up by; for an initiation, 0. */
int node_e2e_classify(const uint8_t *pkt, size_t len, uint32_t *out_receiver_index);

/* node_e2e_init_create starts a handshake as initiator with the responder
 * whose static public key is remote_static: writes the initiation message
 * to out and the state to hs. eph_priv is 32 fresh random bytes (the
 * ephemeral key), local_index a random 32-bit index the responder will send
 * to, timestamp from node_e2e_tai64n, app NODE_E2E_INIT_APP_LEN bytes or NULL
 * for zeros. Returns NODE_E2E_OK or NODE_E2E_E_BAD_KEY (remote_static is a
 * low-order point); on failure hs is wiped. */
int node_e2e_init_create(struct node_e2e_handshake *hs, uint8_t out[static NODE_E2E_INIT_LEN],
                        const struct node_e2e_keypair *local, const uint8_t remote_static[static NODE_E2E_KEY_LEN],
                        const uint8_t eph_priv[static NODE_E2E_KEY_LEN], uint32_t local_index,
                        const uint8_t timestamp[static NODE_E2E_TIMESTAMP_LEN], const uint8_t *app);

/* node_e2e_init_consume processes an initiation as responder: checks length,
 * type and mac1 first, then the Diffie-Hellmans and AEADs. On NODE_E2E_OK hs
 * holds the state for node_e2e_response_create and *out_info what the
 * caller needs to pick the PSK (known peer: the mesh PSK; joiner: the PSK
 * of its join claim) or to refuse. On failure (BAD_LENGTH, BAD_TYPE,
 * BAD_MAC1, BAD_KEY, AUTH) neither hs nor *out_info is written. The PSK is
 * not needed yet: IKpsk2 mixes it in the response. */
int node_e2e_init_consume(struct node_e2e_handshake *hs, struct node_e2e_init_info *out_info,
                         const struct node_e2e_keypair *local, const uint8_t *msg, size_t msg_len);

/* node_e2e_response_create answers the initiation hs holds: writes the
 * response to out and the new session to *out_session (responder side,
 * unconfirmed until its first received packet), and wipes hs. eph_priv is
 * 32 fresh random bytes, local_index this end's random index, now_ms a
 * monotonic clock in milliseconds. Returns NODE_E2E_OK, NODE_E2E_E_STATE (hs
 * holds no consumed initiation) or NODE_E2E_E_BAD_KEY. */
int node_e2e_response_create(struct node_e2e_handshake *hs, uint8_t out[static NODE_E2E_RESPONSE_LEN],
                            struct node_e2e_session *out_session, const uint8_t psk[static NODE_E2E_KEY_LEN],
                            const uint8_t eph_priv[static NODE_E2E_KEY_LEN], uint32_t local_index,
                            uint64_t now_ms);

/* node_e2e_response_consume completes the handshake hs started: on
 * NODE_E2E_OK writes the session (initiator side, confirmed) to *out_session
 * and wipes hs. The initiator should send a data packet at once (an empty
 * one if it has nothing to say) so the responder may start sending. On
 * failure (BAD_LENGTH, BAD_TYPE, BAD_INDEX, BAD_MAC1, BAD_KEY, AUTH — a wrong
 * PSK is AUTH, STATE) hs is unchanged, so a forged response does not
 * cancel the handshake. */
int node_e2e_response_consume(struct node_e2e_handshake *hs, struct node_e2e_session *out_session,
                             const uint8_t *msg, size_t msg_len, const uint8_t psk[static NODE_E2E_KEY_LEN],
                             uint64_t now_ms);

/* node_e2e_handshake_cleanup wipes hs. */
void node_e2e_handshake_cleanup(struct node_e2e_handshake *hs);

/* node_e2e_session_set_limits replaces s's limits; values above the
 * NODE_E2E_* defaults are lowered to them (the defaults are ceilings). */
void node_e2e_session_set_limits(struct node_e2e_session *s, const struct node_e2e_limits *limits);

/* node_e2e_needs_rekey returns whether s should be replaced by a new
 * handshake now: it sent rekey_after_messages messages, or it is older than
 * rekey_after_ms (plus NODE_E2E_REKEY_RESPONDER_SLACK_MS for a responder). */
bool node_e2e_needs_rekey(const struct node_e2e_session *s, uint64_t now_ms);

/* node_e2e_encrypt seals in[0..in_len) (may be empty: a keepalive) into a
 * data packet in out (out_cap bytes, in_len + NODE_E2E_DATA_OVERHEAD needed,
 * must not overlap in) and its length to *out_len. Returns NODE_E2E_OK,
 * NODE_E2E_E_EXPIRED, NODE_E2E_E_NOT_CONFIRMED, NODE_E2E_E_INVALID (in_len over
 * NODE_E2E_MAX_PLAINTEXT_LEN), NODE_E2E_E_NO_ROOM or NODE_E2E_E_INTERNAL; the
 * counter advances only on success. */
int node_e2e_encrypt(struct node_e2e_session *s, uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t *in,
                    size_t in_len, uint64_t now_ms);

/* node_e2e_decrypt opens data packet pkt into out (out_cap bytes, pkt_len -
 * NODE_E2E_DATA_OVERHEAD needed, must not overlap pkt) and the plaintext
 * length to *out_len. Checks, cheapest first: type and length, receiver
 * index, session age, counter limit, replay window, then the AEAD. Returns
 * NODE_E2E_OK (the counter is then recorded and a responder's session is
 * confirmed) or BAD_TYPE, BAD_LENGTH, BAD_INDEX, EXPIRED, REPLAY, TOO_OLD,
 * NO_ROOM, AUTH; on failure out holds no plaintext and s is unchanged. */
int node_e2e_decrypt(struct node_e2e_session *s, uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t *pkt,
                    size_t pkt_len, uint64_t now_ms);

/* node_e2e_session_cleanup wipes s. */
void node_e2e_session_cleanup(struct node_e2e_session *s);

#endif
