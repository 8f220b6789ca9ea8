/* node/pake.c: the short-code join's messages and its SPAKE2 exchange
 * (node/pake.h has the protocol). */
#include "node/pake.h"

#include <string.h>

#include "net/bssl.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* SPAKE2 binds both names into its key: a message of one role is never
 * taken for the other's. */
static const char name_joiner[] = "atmosphere v1 pake joiner";
static const char name_inviter[] = "atmosphere v1 pake inviter";

const char *node_pake_strerror(int status)
{
	switch (status) {
	case NODE_PAKE_OK:
		return "ok";
	case NODE_PAKE_E_TRUNCATED:
		return "message truncated";
	case NODE_PAKE_E_VERSION:
		return "unknown message version";
	case NODE_PAKE_E_TYPE:
		return "unknown message type";
	case NODE_PAKE_E_LENGTH:
		return "message length out of range";
	case NODE_PAKE_E_REASON:
		return "unknown refusal reason";
	case NODE_PAKE_E_NO_ROOM:
		return "output buffer too small";
	case NODE_PAKE_E_CODE:
		return "not a short code: expected MESH-XXXX-XXXX-XXXX (12 symbols of 0-9 and A-Z without U)";
	case NODE_PAKE_E_AUTH:
		return "wrong code: the inviting node holds another one (or the exchange was tampered with)";
	case NODE_PAKE_E_STATE:
		return "exchange step out of order";
	case NODE_PAKE_E_INTERNAL:
		return "internal error (BoringSSL)";
	default:
		return "unknown status";
	}
}

/* ---- the codec ---- */

/* The fixed body length of each type; SEALED's is its own. */
static int body_len(uint8_t type, size_t *out)
{
	switch (type) {
	case NODE_PAKE_START:
		*out = NODE_PAKE_SPAKE_LEN;
		return NODE_PAKE_OK;
	case NODE_PAKE_REPLY:
		*out = NODE_PAKE_SPAKE_LEN + NODE_PAKE_CONFIRM_LEN;
		return NODE_PAKE_OK;
	case NODE_PAKE_CONFIRM:
		*out = NODE_PAKE_CONFIRM_LEN;
		return NODE_PAKE_OK;
	case NODE_PAKE_SEALED:
		*out = 2;
		return NODE_PAKE_OK;
	case NODE_PAKE_REFUSED:
		*out = 1;
		return NODE_PAKE_OK;
	default:
		return NODE_PAKE_E_TYPE;
	}
}

static bool reason_ok(uint8_t r)
{
	return r >= NODE_PAKE_REFUSE_USED && r <= NODE_PAKE_REFUSE_EXPIRED;
}

int node_pake_msg_parse(struct node_pake_msg *out, const uint8_t *buf, size_t len)
{
	CBS cbs;
	uint8_t version, type;
	size_t need;
	struct node_pake_msg m;
	memset(&m, 0, sizeof m);
	CBS_init(&cbs, buf, len);
	/* Version, then type, then the type's body, then nothing else. */
	if (!CBS_get_u8(&cbs, &version))
		return NODE_PAKE_E_TRUNCATED;
	if (version != NODE_PAKE_VERSION)
		return NODE_PAKE_E_VERSION;
	if (!CBS_get_u8(&cbs, &type))
		return NODE_PAKE_E_TRUNCATED;
	int r = body_len(type, &need);
	if (r)
		return r;
	if (CBS_len(&cbs) < need)
		return NODE_PAKE_E_TRUNCATED;
	m.type = type;
	switch (type) {
	case NODE_PAKE_START:
		m.spake = CBS_data(&cbs);
		break;
	case NODE_PAKE_REPLY:
		m.spake = CBS_data(&cbs);
		m.confirm = CBS_data(&cbs) + NODE_PAKE_SPAKE_LEN;
		break;
	case NODE_PAKE_CONFIRM:
		m.confirm = CBS_data(&cbs);
		break;
	case NODE_PAKE_SEALED: {
		uint16_t n;
		CBS body;
		CBS_get_u16(&cbs, &n); /* there: need checked above */
		if (n <= NODE_PAKE_TAG_LEN || n > NODE_PAKE_MAX_SEALED)
			return NODE_PAKE_E_LENGTH;
		if (!CBS_get_bytes(&cbs, &body, n))
			return NODE_PAKE_E_TRUNCATED;
		m.sealed = CBS_data(&body);
		m.sealed_len = n;
		need = 0;
		break;
	}
	case NODE_PAKE_REFUSED:
		m.reason = CBS_data(&cbs)[0];
		if (!reason_ok(m.reason))
			return NODE_PAKE_E_REASON;
		break;
	}
	if (!CBS_skip(&cbs, need) || CBS_len(&cbs) != 0)
		return NODE_PAKE_E_LENGTH;
	*out = m;
	return NODE_PAKE_OK;
}

int node_pake_msg_write(uint8_t *out, size_t cap, size_t *out_len, const struct node_pake_msg *m)
{
	size_t body;
	int r = body_len(m->type, &body);
	if (r)
		return r;
	if (m->type == NODE_PAKE_SEALED) {
		if (m->sealed_len <= NODE_PAKE_TAG_LEN || m->sealed_len > NODE_PAKE_MAX_SEALED)
			return NODE_PAKE_E_LENGTH;
		body += m->sealed_len;
	}
	if (m->type == NODE_PAKE_REFUSED && !reason_ok(m->reason))
		return NODE_PAKE_E_REASON;
	if (cap < 2 + body)
		return NODE_PAKE_E_NO_ROOM;
	out[0] = NODE_PAKE_VERSION;
	out[1] = m->type;
	uint8_t *p = out + 2;
	switch (m->type) {
	case NODE_PAKE_START:
		memcpy(p, m->spake, NODE_PAKE_SPAKE_LEN);
		break;
	case NODE_PAKE_REPLY:
		memcpy(p, m->spake, NODE_PAKE_SPAKE_LEN);
		memcpy(p + NODE_PAKE_SPAKE_LEN, m->confirm, NODE_PAKE_CONFIRM_LEN);
		break;
	case NODE_PAKE_CONFIRM:
		memcpy(p, m->confirm, NODE_PAKE_CONFIRM_LEN);
		break;
	case NODE_PAKE_SEALED:
		p[0] = (uint8_t)(m->sealed_len >> 8);
		p[1] = (uint8_t)m->sealed_len;
		memcpy(p + 2, m->sealed, m->sealed_len);
		break;
	case NODE_PAKE_REFUSED:
		p[0] = m->reason;
		break;
	}
	*out_len = 2 + body;
	return NODE_PAKE_OK;
}

/* ---- the short code ---- */

/* A typed character as a Crockford symbol (look-alikes folded), 0 when it
 * is none. */
static char symbol(char c)
{
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	if (c == 'I' || c == 'L')
		return '1';
	if (c == 'O')
		return '0';
	return c && strchr(crockford, c) ? c : 0;
}

int node_pake_code_parse(char out[static NODE_PAKE_CODE_LEN + 1], const char *in)
{
	char sym[17];
	size_t n = 0;
	while (*in == ' ' || *in == '\t' || *in == '\n' || *in == '\r')
		in++;
	/* "MESH" then a separator is the prefix, whatever follows: so that
	 * "MESH-1234-5678" (a group missing) is refused rather than read as
	 * the 12 symbols MESH12345678. */
	bool prefixed = node_pake_looks_like_code(in) && (in[4] == '-' || in[4] == ' ');
	if (prefixed)
		in += 4;
	for (const char *s = in; *s; s++) {
		if (*s == '-' || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			continue;
		char c = symbol(*s);
		if (!c || n == 16)
			return NODE_PAKE_E_CODE;
		sym[n++] = c;
	}
	/* Without a separator, "MESH" is the prefix when 12 symbols follow. */
	size_t off = 0;
	if (!prefixed && n == 16 && !memcmp(sym, "MESH", 4))
		off = 4;
	if (n - off != 12)
		return NODE_PAKE_E_CODE;
	memcpy(out, "MESH-", 5);
	for (size_t g = 0; g < 3; g++) {
		memcpy(out + 5 + 5 * g, sym + off + 4 * g, 4);
		out[9 + 5 * g] = g < 2 ? '-' : 0;
	}
	return NODE_PAKE_OK;
}

bool node_pake_looks_like_code(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	for (size_t i = 0; i < 4; i++)
		if (!s[i] || (s[i] & ~0x20) != "MESH"[i])
			return false;
	return true;
}

void node_pake_session_id(char out[static NODE_PAKE_SESSION_ID_LEN + 1], const char code[static NODE_PAKE_CODE_LEN + 1])
{
	static const char label[] = "atmosphere v1 pake rendezvous";
	static const char hex[] = "0123456789abcdef";
	uint8_t h[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, label, sizeof label - 1);
	SHA256_Update(&c, code + 5, 4); /* the first group only */
	SHA256_Final(h, &c);
	for (size_t i = 0; i < NODE_PAKE_SESSION_ID_LEN / 2; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[NODE_PAKE_SESSION_ID_LEN] = 0;
}

/* ---- the exchange ---- */

enum step { STEP_NEW, STEP_STARTED, STEP_KEYED, STEP_CONFIRMED, STEP_DONE, STEP_FAILED };

struct node_pake {
	enum node_pake_role role;
	enum step step;
	SPAKE2_CTX *ctx;
	char code[NODE_PAKE_CODE_LEN + 1];
	char sid[NODE_PAKE_SESSION_ID_LEN + 1];
	uint8_t mine[NODE_PAKE_SPAKE_LEN];
	uint8_t th[SHA256_DIGEST_LENGTH];
	uint8_t k_mine[32], k_theirs[32], k_seal[32]; /* confirmation keys, sealing key */
};

struct node_pake *node_pake_new(enum node_pake_role role, const char *code, int *err)
{
	char canon[NODE_PAKE_CODE_LEN + 1];
	struct node_pake *p = NULL;
	*err = NODE_PAKE_OK;
	if (node_pake_code_parse(canon, code) != NODE_PAKE_OK || strcmp(canon, code)) {
		*err = NODE_PAKE_E_CODE;
		return NULL;
	}
	p = OPENSSL_malloc(sizeof *p);
	if (!p)
		goto fail;
	memset(p, 0, sizeof *p);
	p->role = role;
	const char *me = role == NODE_PAKE_JOINER ? name_joiner : name_inviter;
	const char *them = role == NODE_PAKE_JOINER ? name_inviter : name_joiner;
	/* The joiner is SPAKE2's Alice, the inviter its Bob. */
	p->ctx = SPAKE2_CTX_new(role == NODE_PAKE_JOINER ? spake2_role_alice : spake2_role_bob, (const uint8_t *)me,
				strlen(me), (const uint8_t *)them, strlen(them));
	if (!p->ctx)
		goto fail;
	memcpy(p->code, canon, sizeof p->code);
	node_pake_session_id(p->sid, p->code);
	return p;
fail:
	node_pake_free(p);
	*err = NODE_PAKE_E_INTERNAL;
	return NULL;
}

int node_pake_start(struct node_pake *p, uint8_t out[static NODE_PAKE_SPAKE_LEN])
{
	size_t n = 0;
	if (p->step != STEP_NEW)
		return NODE_PAKE_E_STATE;
	if (!SPAKE2_generate_msg(p->ctx, p->mine, &n, sizeof p->mine, (const uint8_t *)p->code, NODE_PAKE_CODE_LEN) ||
	    n != NODE_PAKE_SPAKE_LEN) {
		p->step = STEP_FAILED;
		return NODE_PAKE_E_INTERNAL;
	}
	memcpy(out, p->mine, NODE_PAKE_SPAKE_LEN);
	p->step = STEP_STARTED;
	return NODE_PAKE_OK;
}

static bool expand(uint8_t out[static 32], const uint8_t *prk, size_t prk_len, const char *label)
{
	return HKDF_expand(out, 32, EVP_sha256(), prk, prk_len, (const uint8_t *)label, strlen(label)) == 1;
}

int node_pake_finish(struct node_pake *p, const uint8_t theirs[static NODE_PAKE_SPAKE_LEN])
{
	static const char label[] = "atmosphere v1 pake";
	uint8_t key[SPAKE2_MAX_KEY_SIZE], prk[EVP_MAX_MD_SIZE];
	size_t kl = 0, pl = 0;
	int r = NODE_PAKE_E_AUTH;
	if (p->step != STEP_STARTED)
		return NODE_PAKE_E_STATE;
	p->step = STEP_FAILED; /* until every step below passed */
	/* The transcript: the session and both messages, the joiner's first. */
	const uint8_t *a = p->role == NODE_PAKE_JOINER ? p->mine : theirs;
	const uint8_t *b = p->role == NODE_PAKE_JOINER ? theirs : p->mine;
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, label, sizeof label - 1);
	SHA256_Update(&c, p->sid, NODE_PAKE_SESSION_ID_LEN);
	SHA256_Update(&c, a, NODE_PAKE_SPAKE_LEN);
	SHA256_Update(&c, b, NODE_PAKE_SPAKE_LEN);
	SHA256_Final(p->th, &c);
	/* A message that is not a point is refused here: a failed attempt. */
	if (!SPAKE2_process_msg(p->ctx, key, &kl, sizeof key, theirs, NODE_PAKE_SPAKE_LEN) || kl == 0)
		goto out;
	r = NODE_PAKE_E_INTERNAL;
	if (!HKDF_extract(prk, &pl, EVP_sha256(), key, kl, p->th, sizeof p->th))
		goto out;
	const char *ci = "atmosphere v1 pake confirm inviter", *cj = "atmosphere v1 pake confirm joiner";
	if (!expand(p->k_mine, prk, pl, p->role == NODE_PAKE_JOINER ? cj : ci) ||
	    !expand(p->k_theirs, prk, pl, p->role == NODE_PAKE_JOINER ? ci : cj) ||
	    !expand(p->k_seal, prk, pl, "atmosphere v1 pake seal"))
		goto out;
	p->step = STEP_KEYED;
	r = NODE_PAKE_OK;
out:
	OPENSSL_cleanse(key, sizeof key);
	OPENSSL_cleanse(prk, sizeof prk);
	return r;
}

static void tag(uint8_t out[static NODE_PAKE_CONFIRM_LEN], const uint8_t key[static 32], const uint8_t th[static 32])
{
	unsigned n = NODE_PAKE_CONFIRM_LEN;
	HMAC(EVP_sha256(), key, 32, th, 32, out, &n);
}

int node_pake_confirm(struct node_pake *p, uint8_t out[static NODE_PAKE_CONFIRM_LEN])
{
	if (p->step != STEP_KEYED && p->step != STEP_CONFIRMED)
		return NODE_PAKE_E_STATE;
	tag(out, p->k_mine, p->th);
	return NODE_PAKE_OK;
}

int node_pake_check(struct node_pake *p, const uint8_t theirs[static NODE_PAKE_CONFIRM_LEN])
{
	uint8_t want[NODE_PAKE_CONFIRM_LEN];
	if (p->step != STEP_KEYED)
		return NODE_PAKE_E_STATE;
	tag(want, p->k_theirs, p->th);
	int ok = CRYPTO_memcmp(want, theirs, sizeof want) == 0;
	OPENSSL_cleanse(want, sizeof want);
	p->step = ok ? STEP_CONFIRMED : STEP_FAILED;
	return ok ? NODE_PAKE_OK : NODE_PAKE_E_AUTH;
}

/* One AEAD operation under the sealing key with nonce 0: the key is fresh
 * per attempt and used once. */
static int aead(struct node_pake *p, bool seal, uint8_t *out, size_t cap, size_t *out_len, const uint8_t *in, size_t len)
{
	EVP_AEAD_CTX ctx;
	static const uint8_t nonce[12];
	if (!EVP_AEAD_CTX_init(&ctx, EVP_aead_chacha20_poly1305(), p->k_seal, sizeof p->k_seal, NODE_PAKE_TAG_LEN, NULL))
		return NODE_PAKE_E_INTERNAL;
	int ok = seal ? EVP_AEAD_CTX_seal(&ctx, out, out_len, cap, nonce, sizeof nonce, in, len, p->th, sizeof p->th)
		      : EVP_AEAD_CTX_open(&ctx, out, out_len, cap, nonce, sizeof nonce, in, len, p->th, sizeof p->th);
	EVP_AEAD_CTX_cleanup(&ctx);
	ERR_clear_error();
	return ok ? NODE_PAKE_OK : seal ? NODE_PAKE_E_INTERNAL : NODE_PAKE_E_AUTH;
}

int node_pake_seal(struct node_pake *p, uint8_t *out, size_t cap, size_t *out_len, const uint8_t *pt, size_t len)
{
	if (p->role != NODE_PAKE_INVITER || p->step != STEP_CONFIRMED)
		return NODE_PAKE_E_STATE;
	if (len == 0 || len > NODE_PAKE_MAX_SEALED - NODE_PAKE_TAG_LEN)
		return NODE_PAKE_E_LENGTH;
	if (cap < len + NODE_PAKE_TAG_LEN)
		return NODE_PAKE_E_NO_ROOM;
	int r = aead(p, true, out, cap, out_len, pt, len);
	p->step = STEP_DONE;
	return r;
}

int node_pake_open(struct node_pake *p, uint8_t *out, size_t cap, size_t *out_len, const uint8_t *ct, size_t len)
{
	if (p->role != NODE_PAKE_JOINER || p->step != STEP_CONFIRMED)
		return NODE_PAKE_E_STATE;
	if (len <= NODE_PAKE_TAG_LEN || len > NODE_PAKE_MAX_SEALED)
		return NODE_PAKE_E_LENGTH;
	if (cap < len - NODE_PAKE_TAG_LEN)
		return NODE_PAKE_E_NO_ROOM;
	int r = aead(p, false, out, cap, out_len, ct, len);
	p->step = r == NODE_PAKE_OK ? STEP_DONE : STEP_FAILED;
	return r;
}

void node_pake_free(struct node_pake *p)
{
	if (!p)
		return;
	SPAKE2_CTX_free(p->ctx);
	OPENSSL_cleanse(p, sizeof *p);
	OPENSSL_free(p);
}

/* ---- the inviter's policy ---- */

void node_pake_offer_init(struct node_pake_offer *o, uint64_t now_ms, uint64_t ttl_ms)
{
	o->state = NODE_PAKE_OFFER_OPEN;
	o->failures = 0;
	o->expires_ms = now_ms + ttl_ms;
}

bool node_pake_offer_expired(const struct node_pake_offer *o, uint64_t now_ms)
{
	return now_ms >= o->expires_ms;
}

int node_pake_offer_take(struct node_pake_offer *o, uint64_t now_ms)
{
	if (node_pake_offer_expired(o, now_ms))
		return NODE_PAKE_REFUSE_EXPIRED;
	switch (o->state) {
	case NODE_PAKE_OFFER_OPEN:
		o->state = NODE_PAKE_OFFER_BUSY;
		return 0;
	case NODE_PAKE_OFFER_USED:
		return NODE_PAKE_REFUSE_USED;
	case NODE_PAKE_OFFER_DEAD:
		return NODE_PAKE_REFUSE_DEAD;
	default:
		return NODE_PAKE_REFUSE_BUSY;
	}
}

void node_pake_offer_end(struct node_pake_offer *o, bool ok)
{
	if (o->state != NODE_PAKE_OFFER_BUSY)
		return;
	if (ok)
		o->state = NODE_PAKE_OFFER_USED;
	else
		o->state = ++o->failures >= NODE_PAKE_MAX_TRIES ? NODE_PAKE_OFFER_DEAD : NODE_PAKE_OFFER_OPEN;
}

unsigned node_pake_offer_tries_left(const struct node_pake_offer *o)
{
	if (o->state == NODE_PAKE_OFFER_USED || o->state == NODE_PAKE_OFFER_DEAD)
		return 0;
	return NODE_PAKE_MAX_TRIES - o->failures;
}

void node_pake_offer_retire(struct node_pake_offer *o)
{
	if (o->state == NODE_PAKE_OFFER_OPEN)
		o->state = NODE_PAKE_OFFER_USED;
}
