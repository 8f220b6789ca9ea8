/* node/e2e.c: the handshake and transport of node/e2e.h (spec: docs/E2E.md).
 *
 * Noise_IKpsk2_25519_ChaChaPoly_SHA256, with one addition: the cleartext
 * header of each handshake message (type, reserved, indices) is mixed into
 * the handshake hash first, so every byte of a handshake is authenticated.
 *
 *   IKpsk2:
 *     <- s
 *     ...
 *     -> e, es, s, ss
 *     <- e, ee, se, psk
 *
 *   hash = chain = SHA-256(CONSTRUCTION); hash = H(hash || IDENTIFIER)
 *   hash = H(hash || S_r)                                       (<- s)
 *
 * Noise's HKDF(ck, ikm, n) is RFC 5869 HKDF-SHA256 with salt ck, an empty
 * info and 32n bytes of output, which is what kdf() computes. Everything
 * is computed into locals and copied out only after the last check passed
 * (STYLE.md §3); secrets are wiped at each function's single exit. */
#include "node/e2e.h"

#include <assert.h>
#include <string.h>

#include "core/bytes.h"
#include "net/bssl.h"

static const char CONSTRUCTION[] = "Noise_IKpsk2_25519_ChaChaPoly_SHA256";
static const char IDENTIFIER[] = "atmosphere e2e v1";
static const char MAC1_LABEL[] = "mac1----";
/* Stands in for empty inputs: BoringSSL may memcpy from them, and a NULL
 * source is undefined behaviour even for zero bytes. */
static const uint8_t EMPTY[1];

enum hs_state {
	HS_EMPTY = 0,
	HS_INIT_SENT,     /* initiator: waiting for the response */
	HS_INIT_CONSUMED, /* responder: initiation accepted, response not sent */
};

/* Offsets of the fields in each message (docs/E2E.md, "Wire format"). */
enum {
	INIT_SENDER = 4,
	INIT_EPH = 8,
	INIT_STATIC = 40,
	INIT_PAYLOAD = 88,
	INIT_PAYLOAD_PLAIN = NODE_E2E_TIMESTAMP_LEN + NODE_E2E_INIT_APP_LEN,
	INIT_MAC1 = 148,
	RESP_SENDER = 4,
	RESP_RECEIVER = 8,
	RESP_EPH = 12,
	RESP_EMPTY = 44,
	RESP_MAC1 = 60,
	DATA_RECEIVER = 4,
	DATA_COUNTER = 8,
};
static_assert(INIT_STATIC + NODE_E2E_KEY_LEN + NODE_E2E_TAG_LEN == INIT_PAYLOAD, "initiation layout");
static_assert(INIT_PAYLOAD + INIT_PAYLOAD_PLAIN + NODE_E2E_TAG_LEN == INIT_MAC1, "initiation layout");
static_assert(INIT_MAC1 + NODE_E2E_MAC1_LEN == NODE_E2E_INIT_LEN, "initiation layout");
static_assert(RESP_EMPTY + NODE_E2E_TAG_LEN == RESP_MAC1, "response layout");
static_assert(RESP_MAC1 + NODE_E2E_MAC1_LEN == NODE_E2E_RESPONSE_LEN, "response layout");

/* --- Noise primitives ---------------------------------------------------- */

/* mix_hash: hash = SHA-256(hash || data). */
static void mix_hash(uint8_t hash[static NODE_E2E_KEY_LEN], const uint8_t *data, size_t len)
{
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, hash, NODE_E2E_KEY_LEN);
	SHA256_Update(&c, data, len);
	SHA256_Final(hash, &c);
}

/* kdf: out = HKDF-SHA256(salt = chain, ikm, info = "") of 32 * n bytes. */
static bool kdf(uint8_t *out, size_t n, const uint8_t chain[static NODE_E2E_KEY_LEN], const uint8_t *ikm,
                size_t ikm_len)
{
	return HKDF(out, n * NODE_E2E_KEY_LEN, EVP_sha256(), ikm, ikm_len, chain, NODE_E2E_KEY_LEN, NULL, 0) == 1;
}

/* mix_key: (chain, key) = HKDF(chain, ikm); key may be NULL when unused. */
static bool mix_key(uint8_t chain[static NODE_E2E_KEY_LEN], uint8_t *key, const uint8_t *ikm, size_t ikm_len)
{
	uint8_t t[2 * NODE_E2E_KEY_LEN];
	bool ok = kdf(t, 2, chain, ikm, ikm_len);
	if (ok) {
		memcpy(chain, t, NODE_E2E_KEY_LEN);
		if (key)
			memcpy(key, t + NODE_E2E_KEY_LEN, NODE_E2E_KEY_LEN);
	}
	OPENSSL_cleanse(t, sizeof t);
	return ok;
}

/* mix_dh: mix_key with X25519(priv, pub). Returns NODE_E2E_E_BAD_KEY when
 * the result is all zeros (RFC 7748 §6.1: pub had a small order). */
static int mix_dh(uint8_t chain[static NODE_E2E_KEY_LEN], uint8_t *key, const uint8_t priv[static NODE_E2E_KEY_LEN],
                  const uint8_t pub[static NODE_E2E_KEY_LEN])
{
	uint8_t shared[X25519_SHARED_KEY_LEN];
	int rc = NODE_E2E_OK;
	if (!X25519(shared, priv, pub))
		rc = NODE_E2E_E_BAD_KEY;
	else if (!mix_key(chain, key, shared, sizeof shared))
		rc = NODE_E2E_E_INTERNAL;
	OPENSSL_cleanse(shared, sizeof shared);
	return rc;
}

/* nonce: 32 zero bits then the 64-bit counter, little-endian (Noise §12.3). */
static void make_nonce(uint8_t nonce[static 12], uint64_t counter)
{
	memset(nonce, 0, 4);
	core_put_le64(nonce + 4, counter);
}

/* seal: out = ChaCha20-Poly1305(key, counter, ad, plain) || tag. */
static int seal(uint8_t *out, const uint8_t key[static NODE_E2E_KEY_LEN], uint64_t counter, const uint8_t *ad,
                size_t ad_len, const uint8_t *plain, size_t plain_len)
{
	EVP_AEAD_CTX ctx;
	uint8_t nonce[12];
	size_t out_len;
	make_nonce(nonce, counter);
	if (!EVP_AEAD_CTX_init(&ctx, EVP_aead_chacha20_poly1305(), key, NODE_E2E_KEY_LEN, NODE_E2E_TAG_LEN, NULL))
		return NODE_E2E_E_INTERNAL;
	int ok = EVP_AEAD_CTX_seal(&ctx, out, &out_len, plain_len + NODE_E2E_TAG_LEN, nonce, sizeof nonce, plain,
	                           plain_len, ad, ad_len);
	EVP_AEAD_CTX_cleanup(&ctx);
	return ok ? NODE_E2E_OK : NODE_E2E_E_INTERNAL;
}

/* open_: plain = open(key, counter, ad, in) where in ends with the tag.
 * Returns NODE_E2E_E_AUTH when the tag does not verify; plain is then wiped. */
static int open_(uint8_t *plain, const uint8_t key[static NODE_E2E_KEY_LEN], uint64_t counter, const uint8_t *ad,
                 size_t ad_len, const uint8_t *in, size_t in_len)
{
	EVP_AEAD_CTX ctx;
	uint8_t nonce[12];
	size_t out_len;
	assert(in_len >= NODE_E2E_TAG_LEN);
	make_nonce(nonce, counter);
	if (!EVP_AEAD_CTX_init(&ctx, EVP_aead_chacha20_poly1305(), key, NODE_E2E_KEY_LEN, NODE_E2E_TAG_LEN, NULL))
		return NODE_E2E_E_INTERNAL;
	int ok = EVP_AEAD_CTX_open(&ctx, plain, &out_len, in_len - NODE_E2E_TAG_LEN, nonce, sizeof nonce, in, in_len,
	                           ad, ad_len);
	EVP_AEAD_CTX_cleanup(&ctx);
	if (!ok) {
		ERR_clear_error();
		OPENSSL_cleanse(plain, in_len - NODE_E2E_TAG_LEN);
		return NODE_E2E_E_AUTH;
	}
	return NODE_E2E_OK;
}

/* --- mac1 ---------------------------------------------------------------- */

static void mac1_key(uint8_t out[static NODE_E2E_KEY_LEN], const uint8_t pub[static NODE_E2E_KEY_LEN])
{
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, MAC1_LABEL, sizeof MAC1_LABEL - 1);
	SHA256_Update(&c, pub, NODE_E2E_KEY_LEN);
	SHA256_Final(out, &c);
}

/* mac1: the first 16 bytes of HMAC-SHA256(key, msg). */
static void mac1(uint8_t out[static NODE_E2E_MAC1_LEN], const uint8_t key[static NODE_E2E_KEY_LEN], const uint8_t *msg,
                 size_t len)
{
	uint8_t full[SHA256_DIGEST_LENGTH];
	unsigned full_len = 0;
	HMAC(EVP_sha256(), key, NODE_E2E_KEY_LEN, msg, len, full, &full_len);
	memcpy(out, full, NODE_E2E_MAC1_LEN);
}

static bool mac1_ok(const uint8_t key[static NODE_E2E_KEY_LEN], const uint8_t *msg, size_t mac_off)
{
	uint8_t want[NODE_E2E_MAC1_LEN];
	mac1(want, key, msg, mac_off);
	return CRYPTO_memcmp(want, msg + mac_off, NODE_E2E_MAC1_LEN) == 0;
}

/* --- Keys, timestamps, classification ------------------------------------- */

void node_e2e_keypair_init(struct node_e2e_keypair *kp, const uint8_t priv[static NODE_E2E_KEY_LEN])
{
	memcpy(kp->priv, priv, NODE_E2E_KEY_LEN);
	X25519_public_from_private(kp->pub, kp->priv);
	mac1_key(kp->mac1_key, kp->pub);
}

void node_e2e_keypair_cleanup(struct node_e2e_keypair *kp)
{
	OPENSSL_cleanse(kp, sizeof *kp);
}

void node_e2e_tai64n(uint8_t out[static NODE_E2E_TIMESTAMP_LEN], uint64_t unix_sec, uint32_t nsec)
{
	uint64_t label = ((uint64_t)1 << 62) + unix_sec;
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(label >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

int node_e2e_classify(const uint8_t *pkt, size_t len, uint32_t *out_receiver_index)
{
	/* Every message starts with type and three zero bytes. */
	if (len < 4)
		return NODE_E2E_E_BAD_LENGTH;
	if (pkt[1] != 0 || pkt[2] != 0 || pkt[3] != 0)
		return NODE_E2E_E_BAD_TYPE;
	uint32_t receiver = 0;
	switch (pkt[0]) {
	case NODE_E2E_MSG_INIT:
		if (len != NODE_E2E_INIT_LEN)
			return NODE_E2E_E_BAD_LENGTH;
		break;
	case NODE_E2E_MSG_RESPONSE:
		if (len != NODE_E2E_RESPONSE_LEN)
			return NODE_E2E_E_BAD_LENGTH;
		receiver = core_get_le32(pkt + RESP_RECEIVER);
		break;
	case NODE_E2E_MSG_DATA:
		if (len < NODE_E2E_DATA_OVERHEAD || len > NODE_E2E_MAX_PACKET_LEN)
			return NODE_E2E_E_BAD_LENGTH;
		receiver = core_get_le32(pkt + DATA_RECEIVER);
		break;
	default:
		return NODE_E2E_E_BAD_TYPE;
	}
	if (out_receiver_index)
		*out_receiver_index = receiver;
	return pkt[0];
}

/* handshake_start: the state both ends share before the first message:
 * chain = hash = H(CONSTRUCTION); hash = H(hash || IDENTIFIER || S_r). */
static void handshake_start(uint8_t chain[static NODE_E2E_KEY_LEN], uint8_t hash[static NODE_E2E_KEY_LEN],
                            const uint8_t responder_static[static NODE_E2E_KEY_LEN])
{
	SHA256((const uint8_t *)CONSTRUCTION, sizeof CONSTRUCTION - 1, chain);
	memcpy(hash, chain, NODE_E2E_KEY_LEN);
	mix_hash(hash, (const uint8_t *)IDENTIFIER, sizeof IDENTIFIER - 1);
	mix_hash(hash, responder_static, NODE_E2E_KEY_LEN);
}

/* --- Initiation ------------------------------------------------------------ */

int node_e2e_init_create(struct node_e2e_handshake *hs, uint8_t out[static NODE_E2E_INIT_LEN],
                        const struct node_e2e_keypair *local, const uint8_t remote_static[static NODE_E2E_KEY_LEN],
                        const uint8_t eph_priv[static NODE_E2E_KEY_LEN], uint32_t local_index,
                        const uint8_t timestamp[static NODE_E2E_TIMESTAMP_LEN], const uint8_t *app)
{
	struct node_e2e_handshake st;
	uint8_t key[NODE_E2E_KEY_LEN], plain[INIT_PAYLOAD_PLAIN], rkey[NODE_E2E_KEY_LEN];
	uint8_t msg[NODE_E2E_INIT_LEN];
	int rc;

	memset(&st, 0, sizeof st);
	handshake_start(st.chain, st.hash, remote_static);
	memcpy(st.static_priv, local->priv, NODE_E2E_KEY_LEN);
	memcpy(st.static_pub, local->pub, NODE_E2E_KEY_LEN);
	memcpy(st.eph_priv, eph_priv, NODE_E2E_KEY_LEN);
	memcpy(st.remote_static, remote_static, NODE_E2E_KEY_LEN);
	st.local_index = local_index;

	/* header: type, reserved, sender index; authenticated via the hash */
	memset(msg, 0, sizeof msg);
	msg[0] = NODE_E2E_MSG_INIT;
	core_put_le32(msg + INIT_SENDER, local_index);
	mix_hash(st.hash, msg, INIT_EPH);

	/* e: the ephemeral public key, in the clear; psk mode mixes it as a key too */
	X25519_public_from_private(msg + INIT_EPH, st.eph_priv);
	mix_hash(st.hash, msg + INIT_EPH, NODE_E2E_KEY_LEN);
	if (!mix_key(st.chain, NULL, msg + INIT_EPH, NODE_E2E_KEY_LEN)) {
		rc = NODE_E2E_E_INTERNAL;
		goto out;
	}

	/* es */
	rc = mix_dh(st.chain, key, st.eph_priv, remote_static);
	if (rc != NODE_E2E_OK)
		goto out;

	/* s: our static public key, encrypted */
	rc = seal(msg + INIT_STATIC, key, 0, st.hash, NODE_E2E_KEY_LEN, st.static_pub, NODE_E2E_KEY_LEN);
	if (rc != NODE_E2E_OK)
		goto out;
	mix_hash(st.hash, msg + INIT_STATIC, NODE_E2E_KEY_LEN + NODE_E2E_TAG_LEN);

	/* ss */
	rc = mix_dh(st.chain, key, st.static_priv, remote_static);
	if (rc != NODE_E2E_OK)
		goto out;

	/* payload: timestamp || app, encrypted */
	memcpy(plain, timestamp, NODE_E2E_TIMESTAMP_LEN);
	if (app)
		memcpy(plain + NODE_E2E_TIMESTAMP_LEN, app, NODE_E2E_INIT_APP_LEN);
	else
		memset(plain + NODE_E2E_TIMESTAMP_LEN, 0, NODE_E2E_INIT_APP_LEN);
	rc = seal(msg + INIT_PAYLOAD, key, 0, st.hash, NODE_E2E_KEY_LEN, plain, sizeof plain);
	if (rc != NODE_E2E_OK)
		goto out;
	mix_hash(st.hash, msg + INIT_PAYLOAD, INIT_PAYLOAD_PLAIN + NODE_E2E_TAG_LEN);

	/* mac1, keyed by the responder's public key */
	mac1_key(rkey, remote_static);
	mac1(msg + INIT_MAC1, rkey, msg, INIT_MAC1);

	st.state = HS_INIT_SENT;
	memcpy(out, msg, sizeof msg);
	*hs = st;
out:
	if (rc != NODE_E2E_OK)
		OPENSSL_cleanse(hs, sizeof *hs);
	OPENSSL_cleanse(&st, sizeof st);
	OPENSSL_cleanse(key, sizeof key);
	OPENSSL_cleanse(plain, sizeof plain);
	return rc;
}

int node_e2e_init_consume(struct node_e2e_handshake *hs, struct node_e2e_init_info *out_info,
                         const struct node_e2e_keypair *local, const uint8_t *msg, size_t msg_len)
{
	struct node_e2e_handshake st;
	struct node_e2e_init_info info;
	uint8_t key[NODE_E2E_KEY_LEN], plain[INIT_PAYLOAD_PLAIN];
	int rc = node_e2e_classify(msg, msg_len, NULL);

	memset(&st, 0, sizeof st);
	memset(&info, 0, sizeof info);
	/* cheap checks first: shape, then mac1 (one HMAC, no DH) */
	if (rc < 0)
		goto out;
	if (rc != NODE_E2E_MSG_INIT) {
		rc = NODE_E2E_E_BAD_TYPE;
		goto out;
	}
	if (!mac1_ok(local->mac1_key, msg, INIT_MAC1)) {
		rc = NODE_E2E_E_BAD_MAC1;
		goto out;
	}

	handshake_start(st.chain, st.hash, local->pub);
	memcpy(st.static_priv, local->priv, NODE_E2E_KEY_LEN);
	memcpy(st.static_pub, local->pub, NODE_E2E_KEY_LEN);
	info.sender_index = core_get_le32(msg + INIT_SENDER);
	mix_hash(st.hash, msg, INIT_EPH);

	/* e */
	memcpy(st.remote_eph, msg + INIT_EPH, NODE_E2E_KEY_LEN);
	mix_hash(st.hash, st.remote_eph, NODE_E2E_KEY_LEN);
	if (!mix_key(st.chain, NULL, st.remote_eph, NODE_E2E_KEY_LEN)) {
		rc = NODE_E2E_E_INTERNAL;
		goto out;
	}

	/* es */
	rc = mix_dh(st.chain, key, st.static_priv, st.remote_eph);
	if (rc != NODE_E2E_OK)
		goto out;

	/* s */
	rc = open_(info.remote_static, key, 0, st.hash, NODE_E2E_KEY_LEN, msg + INIT_STATIC,
	           NODE_E2E_KEY_LEN + NODE_E2E_TAG_LEN);
	if (rc != NODE_E2E_OK)
		goto out;
	mix_hash(st.hash, msg + INIT_STATIC, NODE_E2E_KEY_LEN + NODE_E2E_TAG_LEN);

	/* ss */
	rc = mix_dh(st.chain, key, st.static_priv, info.remote_static);
	if (rc != NODE_E2E_OK)
		goto out;

	/* payload */
	rc = open_(plain, key, 0, st.hash, NODE_E2E_KEY_LEN, msg + INIT_PAYLOAD, INIT_PAYLOAD_PLAIN + NODE_E2E_TAG_LEN);
	if (rc != NODE_E2E_OK)
		goto out;
	mix_hash(st.hash, msg + INIT_PAYLOAD, INIT_PAYLOAD_PLAIN + NODE_E2E_TAG_LEN);
	memcpy(info.timestamp, plain, NODE_E2E_TIMESTAMP_LEN);
	memcpy(info.app, plain + NODE_E2E_TIMESTAMP_LEN, NODE_E2E_INIT_APP_LEN);

	memcpy(st.remote_static, info.remote_static, NODE_E2E_KEY_LEN);
	st.remote_index = info.sender_index;
	st.state = HS_INIT_CONSUMED;
	*hs = st;
	*out_info = info;
out:
	OPENSSL_cleanse(&st, sizeof st);
	OPENSSL_cleanse(&info, sizeof info);
	OPENSSL_cleanse(key, sizeof key);
	OPENSSL_cleanse(plain, sizeof plain);
	return rc;
}

/* --- Response ---------------------------------------------------------------- */

/* response_keys runs "<- e, ee, se, psk" from the header to the empty
 * payload's key, on either side: mine_eph/their_eph are this end's private
 * and the other's public ephemeral for ee; se_priv/se_pub the pair for se
 * (responder: its ephemeral and the initiator's static; initiator: its
 * static and the responder's ephemeral). */
static int response_keys(uint8_t chain[static NODE_E2E_KEY_LEN], uint8_t hash[static NODE_E2E_KEY_LEN],
                         uint8_t key[static NODE_E2E_KEY_LEN], const uint8_t *msg, const uint8_t *ee_priv,
                         const uint8_t *ee_pub, const uint8_t *se_priv, const uint8_t *se_pub,
                         const uint8_t psk[static NODE_E2E_KEY_LEN])
{
	uint8_t t[3 * NODE_E2E_KEY_LEN];
	int rc;

	/* header: type, reserved, sender, receiver */
	mix_hash(hash, msg, RESP_EPH);
	/* e */
	mix_hash(hash, msg + RESP_EPH, NODE_E2E_KEY_LEN);
	if (!mix_key(chain, NULL, msg + RESP_EPH, NODE_E2E_KEY_LEN))
		return NODE_E2E_E_INTERNAL;
	/* ee */
	rc = mix_dh(chain, NULL, ee_priv, ee_pub);
	if (rc != NODE_E2E_OK)
		return rc;
	/* se */
	rc = mix_dh(chain, NULL, se_priv, se_pub);
	if (rc != NODE_E2E_OK)
		return rc;
	/* psk: (chain, tau, key) = HKDF(chain, psk); hash = H(hash || tau) */
	if (!kdf(t, 3, chain, psk, NODE_E2E_KEY_LEN))
		return NODE_E2E_E_INTERNAL;
	memcpy(chain, t, NODE_E2E_KEY_LEN);
	mix_hash(hash, t + NODE_E2E_KEY_LEN, NODE_E2E_KEY_LEN);
	memcpy(key, t + 2 * NODE_E2E_KEY_LEN, NODE_E2E_KEY_LEN);
	OPENSSL_cleanse(t, sizeof t);
	return NODE_E2E_OK;
}

/* session_from: Split() — (T1, T2) = HKDF(chain, ""); the initiator sends
 * with T1 and receives with T2, the responder the other way round. */
static int session_from(struct node_e2e_session *s, const uint8_t chain[static NODE_E2E_KEY_LEN],
                        const uint8_t hash[static NODE_E2E_KEY_LEN], const struct node_e2e_handshake *st,
                        bool initiator, uint64_t now_ms)
{
	uint8_t t[2 * NODE_E2E_KEY_LEN];
	if (!kdf(t, 2, chain, EMPTY, 0))
		return NODE_E2E_E_INTERNAL;
	memset(s, 0, sizeof *s);
	memcpy(s->send_key, t + (initiator ? 0 : NODE_E2E_KEY_LEN), NODE_E2E_KEY_LEN);
	memcpy(s->recv_key, t + (initiator ? NODE_E2E_KEY_LEN : 0), NODE_E2E_KEY_LEN);
	OPENSSL_cleanse(t, sizeof t);
	memcpy(s->remote_static, st->remote_static, NODE_E2E_KEY_LEN);
	memcpy(s->handshake_hash, hash, NODE_E2E_KEY_LEN);
	s->created_ms = now_ms;
	node_replay_init(&s->replay);
	s->limits = (struct node_e2e_limits){
		.rekey_after_messages = NODE_E2E_REKEY_AFTER_MESSAGES,
		.reject_after_messages = NODE_E2E_REJECT_AFTER_MESSAGES,
		.rekey_after_ms = NODE_E2E_REKEY_AFTER_MS,
		.reject_after_ms = NODE_E2E_REJECT_AFTER_MS,
	};
	s->local_index = st->local_index;
	s->remote_index = st->remote_index;
	s->initiator = initiator;
	/* The initiator saw the responder use the PSK; the responder has not
	 * yet seen the initiator prove it (its first data packet will). */
	s->confirmed = initiator;
	return NODE_E2E_OK;
}

int node_e2e_response_create(struct node_e2e_handshake *hs, uint8_t out[static NODE_E2E_RESPONSE_LEN],
                            struct node_e2e_session *out_session, const uint8_t psk[static NODE_E2E_KEY_LEN],
                            const uint8_t eph_priv[static NODE_E2E_KEY_LEN], uint32_t local_index,
                            uint64_t now_ms)
{
	struct node_e2e_handshake st = *hs;
	struct node_e2e_session sess;
	uint8_t key[NODE_E2E_KEY_LEN], rkey[NODE_E2E_KEY_LEN];
	uint8_t msg[NODE_E2E_RESPONSE_LEN];
	int rc = NODE_E2E_OK;

	memset(&sess, 0, sizeof sess);
	if (st.state != HS_INIT_CONSUMED) {
		rc = NODE_E2E_E_STATE;
		goto out;
	}
	memcpy(st.eph_priv, eph_priv, NODE_E2E_KEY_LEN);
	st.local_index = local_index;

	memset(msg, 0, sizeof msg);
	msg[0] = NODE_E2E_MSG_RESPONSE;
	core_put_le32(msg + RESP_SENDER, local_index);
	core_put_le32(msg + RESP_RECEIVER, st.remote_index);
	X25519_public_from_private(msg + RESP_EPH, st.eph_priv);
	rc = response_keys(st.chain, st.hash, key, msg, st.eph_priv, st.remote_eph, st.eph_priv, st.remote_static, psk);
	if (rc != NODE_E2E_OK)
		goto out;

	/* empty payload: just the tag, which proves we hold the PSK */
	rc = seal(msg + RESP_EMPTY, key, 0, st.hash, NODE_E2E_KEY_LEN, EMPTY, 0);
	if (rc != NODE_E2E_OK)
		goto out;
	mix_hash(st.hash, msg + RESP_EMPTY, NODE_E2E_TAG_LEN);

	mac1_key(rkey, st.remote_static);
	mac1(msg + RESP_MAC1, rkey, msg, RESP_MAC1);

	rc = session_from(&sess, st.chain, st.hash, &st, false, now_ms);
	if (rc != NODE_E2E_OK)
		goto out;
	memcpy(out, msg, sizeof msg);
	*out_session = sess;
	OPENSSL_cleanse(hs, sizeof *hs);
out:
	OPENSSL_cleanse(&st, sizeof st);
	OPENSSL_cleanse(&sess, sizeof sess);
	OPENSSL_cleanse(key, sizeof key);
	return rc;
}

int node_e2e_response_consume(struct node_e2e_handshake *hs, struct node_e2e_session *out_session,
                             const uint8_t *msg, size_t msg_len, const uint8_t psk[static NODE_E2E_KEY_LEN],
                             uint64_t now_ms)
{
	struct node_e2e_handshake st = *hs;
	struct node_e2e_session sess;
	uint8_t key[NODE_E2E_KEY_LEN], remote_eph[NODE_E2E_KEY_LEN], mac1_k[NODE_E2E_KEY_LEN], nothing[1];
	uint32_t receiver = 0;
	int rc = node_e2e_classify(msg, msg_len, &receiver);

	memset(&sess, 0, sizeof sess);
	if (rc < 0)
		goto out;
	if (rc != NODE_E2E_MSG_RESPONSE) {
		rc = NODE_E2E_E_BAD_TYPE;
		goto out;
	}
	if (st.state != HS_INIT_SENT) {
		rc = NODE_E2E_E_STATE;
		goto out;
	}
	if (receiver != st.local_index) {
		rc = NODE_E2E_E_BAD_INDEX;
		goto out;
	}
	mac1_key(mac1_k, st.static_pub);
	if (!mac1_ok(mac1_k, msg, RESP_MAC1)) {
		rc = NODE_E2E_E_BAD_MAC1;
		goto out;
	}

	memcpy(remote_eph, msg + RESP_EPH, NODE_E2E_KEY_LEN);
	rc = response_keys(st.chain, st.hash, key, msg, st.eph_priv, remote_eph, st.static_priv, remote_eph, psk);
	if (rc != NODE_E2E_OK)
		goto out;
	rc = open_(nothing, key, 0, st.hash, NODE_E2E_KEY_LEN, msg + RESP_EMPTY, NODE_E2E_TAG_LEN);
	if (rc != NODE_E2E_OK)
		goto out;
	mix_hash(st.hash, msg + RESP_EMPTY, NODE_E2E_TAG_LEN);

	st.remote_index = core_get_le32(msg + RESP_SENDER);
	rc = session_from(&sess, st.chain, st.hash, &st, true, now_ms);
	if (rc != NODE_E2E_OK)
		goto out;
	*out_session = sess;
	OPENSSL_cleanse(hs, sizeof *hs);
out:
	OPENSSL_cleanse(&st, sizeof st);
	OPENSSL_cleanse(&sess, sizeof sess);
	OPENSSL_cleanse(key, sizeof key);
	return rc;
}

void node_e2e_handshake_cleanup(struct node_e2e_handshake *hs)
{
	OPENSSL_cleanse(hs, sizeof *hs);
}

/* --- Transport ------------------------------------------------------------------ */

void node_e2e_session_set_limits(struct node_e2e_session *s, const struct node_e2e_limits *limits)
{
	struct node_e2e_limits l = *limits;
	if (l.rekey_after_messages > NODE_E2E_REKEY_AFTER_MESSAGES)
		l.rekey_after_messages = NODE_E2E_REKEY_AFTER_MESSAGES;
	if (l.reject_after_messages > NODE_E2E_REJECT_AFTER_MESSAGES)
		l.reject_after_messages = NODE_E2E_REJECT_AFTER_MESSAGES;
	if (l.rekey_after_ms > NODE_E2E_REKEY_AFTER_MS)
		l.rekey_after_ms = NODE_E2E_REKEY_AFTER_MS;
	if (l.reject_after_ms > NODE_E2E_REJECT_AFTER_MS)
		l.reject_after_ms = NODE_E2E_REJECT_AFTER_MS;
	s->limits = l;
}

/* age_ms: how long s has lived; a clock that went backwards counts as 0. */
static uint64_t age_ms(const struct node_e2e_session *s, uint64_t now_ms)
{
	return now_ms > s->created_ms ? now_ms - s->created_ms : 0;
}

bool node_e2e_needs_rekey(const struct node_e2e_session *s, uint64_t now_ms)
{
	uint64_t after = s->limits.rekey_after_ms + (s->initiator ? 0 : NODE_E2E_REKEY_RESPONDER_SLACK_MS);
	return s->send_counter >= s->limits.rekey_after_messages || age_ms(s, now_ms) >= after;
}

int node_e2e_encrypt(struct node_e2e_session *s, uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t *in,
                    size_t in_len, uint64_t now_ms)
{
	if (in_len > NODE_E2E_MAX_PLAINTEXT_LEN)
		return NODE_E2E_E_INVALID;
	if (age_ms(s, now_ms) >= s->limits.reject_after_ms || s->send_counter >= s->limits.reject_after_messages)
		return NODE_E2E_E_EXPIRED;
	if (!s->confirmed)
		return NODE_E2E_E_NOT_CONFIRMED;
	if (out_cap < in_len + NODE_E2E_DATA_OVERHEAD)
		return NODE_E2E_E_NO_ROOM;

	uint64_t counter = s->send_counter;
	memset(out, 0, NODE_E2E_DATA_HEADER_LEN);
	out[0] = NODE_E2E_MSG_DATA;
	core_put_le32(out + DATA_RECEIVER, s->remote_index);
	core_put_le64(out + DATA_COUNTER, counter);
	/* The header is the AD: a changed index or counter fails the tag. */
	int rc = seal(out + NODE_E2E_DATA_HEADER_LEN, s->send_key, counter, out, NODE_E2E_DATA_HEADER_LEN,
	              in_len ? in : EMPTY, in_len);
	if (rc != NODE_E2E_OK)
		return rc;
	s->send_counter = counter + 1;
	*out_len = in_len + NODE_E2E_DATA_OVERHEAD;
	return NODE_E2E_OK;
}

int node_e2e_decrypt(struct node_e2e_session *s, uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t *pkt,
                    size_t pkt_len, uint64_t now_ms)
{
	uint32_t receiver = 0;
	int rc = node_e2e_classify(pkt, pkt_len, &receiver);
	if (rc < 0)
		return rc;
	if (rc != NODE_E2E_MSG_DATA)
		return NODE_E2E_E_BAD_TYPE;
	if (receiver != s->local_index)
		return NODE_E2E_E_BAD_INDEX;
	if (age_ms(s, now_ms) >= s->limits.reject_after_ms)
		return NODE_E2E_E_EXPIRED;
	uint64_t counter = core_get_le64(pkt + DATA_COUNTER);
	if (counter >= s->limits.reject_after_messages)
		return NODE_E2E_E_EXPIRED;
	switch (node_replay_check(&s->replay, counter)) {
	case NODE_REPLAY_OK:
		break;
	case NODE_REPLAY_E_DUPLICATE:
		return NODE_E2E_E_REPLAY;
	default:
		return NODE_E2E_E_TOO_OLD;
	}
	size_t plain_len = pkt_len - NODE_E2E_DATA_OVERHEAD;
	if (out_cap < plain_len)
		return NODE_E2E_E_NO_ROOM;
	rc = open_(out, s->recv_key, counter, pkt, NODE_E2E_DATA_HEADER_LEN, pkt + NODE_E2E_DATA_HEADER_LEN,
	           pkt_len - NODE_E2E_DATA_HEADER_LEN);
	if (rc != NODE_E2E_OK)
		return rc;
	/* Authentic: only now may the window move and the session confirm. */
	node_replay_update(&s->replay, counter);
	s->confirmed = true;
	*out_len = plain_len;
	return NODE_E2E_OK;
}

void node_e2e_session_cleanup(struct node_e2e_session *s)
{
	OPENSSL_cleanse(s, sizeof *s);
}

const char *node_e2e_strerror(int status)
{
	switch ((enum node_e2e_status)status) {
	case NODE_E2E_OK:
		return "success";
	case NODE_E2E_E_BAD_LENGTH:
		return "wrong length for an e2e message";
	case NODE_E2E_E_BAD_TYPE:
		return "not an e2e message (unknown type or non-zero reserved bytes)";
	case NODE_E2E_E_BAD_MAC1:
		return "handshake message not addressed to this node (mac1 mismatch)";
	case NODE_E2E_E_BAD_INDEX:
		return "unknown receiver index";
	case NODE_E2E_E_AUTH:
		return "authentication failed (tampered, wrong node key or wrong mesh secret)";
	case NODE_E2E_E_BAD_KEY:
		return "peer public key has a small order (Diffie-Hellman result is zero)";
	case NODE_E2E_E_REPLAY:
		return "replayed packet";
	case NODE_E2E_E_TOO_OLD:
		return "packet counter behind the replay window";
	case NODE_E2E_E_EXPIRED:
		return "session expired: a new handshake is needed";
	case NODE_E2E_E_NOT_CONFIRMED:
		return "session not confirmed: the initiator has not sent yet";
	case NODE_E2E_E_STATE:
		return "handshake step called out of order";
	case NODE_E2E_E_NO_ROOM:
		return "output buffer too small";
	case NODE_E2E_E_INVALID:
		return "invalid argument (plaintext too long)";
	case NODE_E2E_E_INTERNAL:
		return "BoringSSL failure";
	}
	return "unknown e2e status";
}
