/* node/member.c: member entries, removals, the membership table and its merge rules
 * (node/member.h). */
#include "node/member.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"
#include "net/bssl.h"
#include "overlay/addr.h"

static const uint8_t all_ff[32] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};
static const uint8_t all_zero[32];

const char *node_member_strerror(int status)
{
	switch (status) {
	case NODE_MEMBER_UNCHANGED:
		return "known already";
	case NODE_MEMBER_CHANGED:
		return "changed";
	case NODE_MEMBER_E_TRUNCATED:
		return "message truncated";
	case NODE_MEMBER_E_BAD_FIELD:
		return "malformed field";
	case NODE_MEMBER_E_KIND:
		return "unknown message kind or format";
	case NODE_MEMBER_E_BAD_SIG:
		return "bad signature";
	case NODE_MEMBER_E_BAD_ADMISSION:
		return "bad admission signature";
	case NODE_MEMBER_E_UNKNOWN_ADMITTER:
		return "admitted or signed by no member in good standing";
	case NODE_MEMBER_E_REMOVED:
		return "the member was removed";
	case NODE_MEMBER_E_CONFLICT:
		return "conflicts with a known member (key or node id)";
	case NODE_MEMBER_E_FULL:
		return "membership table full";
	case NODE_MEMBER_E_FOUNDER:
		return "the mesh's founder cannot be removed";
	case NODE_MEMBER_E_OWN_CHAIN:
		return "the remover was admitted through the target";
	default:
		return "unknown status";
	}
}

/* ---- field rules ---- */

static bool id_ok(const char *s, size_t n)
{
	if (n < 1 || n > NODE_TOKEN_MAX_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF), no
 * control characters (C0, DEL, C1), no bidirectional overrides, isolates,
 * marks or line separators: names end up in JSON, logs and terminals (the
 * rule of mesh names in join codes, docs/TOKENS.md). */
static bool name_ok(const uint8_t *s, size_t n)
{
	if (n > NODE_TOKEN_MAX_NAME_LEN)
		return false;
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
			return false;
		if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029 ||
		    cp == 0x200e || cp == 0x200f || cp == 0x061c)
			return false;
		i += k + 1;
	}
	return true;
}

/* "a.b.c.d:port" (the node's UDP socket is IPv4). */
static bool ep_ok(const char *s, size_t n)
{
	if (n < 9 || n > NODE_TOKEN_MAX_ENDPOINT_LEN)
		return false;
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(s[i++] - '0');
			digits++;
		}
		if (!digits || digits > 3 || v > 255 || i >= n || s[i++] != (part < 3 ? '.' : ':'))
			return false;
	}
	unsigned port = 0, digits = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 6) {
		port = port * 10 + (unsigned)(s[i++] - '0');
		digits++;
	}
	return i == n && digits && port >= 1 && port <= 65535;
}

/* "[v6]:port": an address inet_pton takes (syntax only: which addresses
 * may be punched is the receiver's, node_cand_accept), port 1..65535. */
static bool ep6_ok(const char *s, size_t n)
{
	struct net_hostport hp;
	uint16_t port;
	char a[INET6_ADDRSTRLEN + 8];
	struct in6_addr x;
	if (n > NODE_TOKEN_MAX_ENDPOINT_LEN || net_hostport_split(&hp, s, n) != NET_ADDR_OK || !hp.bracketed ||
	    !hp.has_port || !hp.host_len || hp.host_len >= sizeof a || memchr(hp.host, 0, hp.host_len) ||
	    !net_port_parse(hp.port, hp.port_len, &port))
		return false; /* a NUL would end inet_pton's string early */
	memcpy(a, hp.host, hp.host_len);
	a[hp.host_len] = 0;
	return inet_pton(AF_INET6, a, &x) == 1;
}

static bool relay_ok(const char *s, size_t n)
{
	if (n > NODE_TOKEN_MAX_URL_LEN || !((n > 5 && !memcmp(s, "ws://", 5)) || (n > 6 && !memcmp(s, "wss://", 6))))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

/* ---- encoding ---- */

static bool add_str(CBB *b, const char *s)
{
	size_t n = strlen(s);
	return n <= 255 && CBB_add_u8(b, (uint8_t)n) && CBB_add_bytes(b, (const uint8_t *)s, n);
}

static bool fields_ok(const struct node_member *m)
{
	if (!id_ok(m->node_id, strlen(m->node_id)) || !name_ok((const uint8_t *)m->name, strlen(m->name)) ||
	    m->num_eps > NODE_MEMBER_MAX_EPS || m->num_eps6 > NODE_MEMBER_MAX_EPS6 ||
	    m->num_relays > NODE_MEMBER_MAX_RELAYS || !memcmp(m->pub, all_zero, 32))
		return false;
	for (size_t i = 0; i < m->num_eps; i++)
		if (!ep_ok(m->eps[i], strlen(m->eps[i])))
			return false;
	for (size_t i = 0; i < m->num_eps6; i++)
		if (!ep6_ok(m->eps6[i], strlen(m->eps6[i])))
			return false;
	for (size_t i = 0; i < m->num_relays; i++)
		if (!relay_ok(m->relays[i], strlen(m->relays[i])))
			return false;
	return true;
}

/* The body: everything an entry's own signature covers. Format 1 without
 * IPv6 endpoints (what a node from before them reads and signs), format 2
 * with, format 3 with a collision counter above 0 (and 0..4 IPv6
 * endpoints); the format byte is signed, so a format-1 copy of a format-2
 * or 3 entry does not verify. */
static uint8_t format_of(const struct node_member *m)
{
	return m->n ? NODE_MEMBER_FORMAT_N : m->num_eps6 ? NODE_MEMBER_FORMAT_V6 : NODE_MEMBER_FORMAT;
}

static bool add_body(CBB *b, const struct node_member *m)
{
	uint8_t fmt = format_of(m);
	bool ok = CBB_add_u8(b, fmt) && CBB_add_bytes(b, m->pub, 32) &&
		  CBB_add_bytes(b, m->sign_pub, 32) && CBB_add_u64(b, m->version) && add_str(b, m->node_id) && add_str(b, m->name) &&
		  CBB_add_u8(b, (uint8_t)m->num_eps);
	for (size_t i = 0; ok && i < m->num_eps; i++)
		ok = add_str(b, m->eps[i]);
	ok = ok && CBB_add_u8(b, (uint8_t)m->num_relays);
	for (size_t i = 0; ok && i < m->num_relays; i++)
		ok = add_str(b, m->relays[i]);
	if (fmt != NODE_MEMBER_FORMAT) {
		ok = ok && CBB_add_u8(b, (uint8_t)m->num_eps6);
		for (size_t i = 0; ok && i < m->num_eps6; i++)
			ok = add_str(b, m->eps6[i]);
	}
	if (fmt == NODE_MEMBER_FORMAT_N)
		ok = ok && CBB_add_u32(b, m->n);
	return ok;
}

static int finish(CBB *b, size_t *out_len, bool ok)
{
	if (!ok || !CBB_finish(b, NULL, out_len)) {
		CBB_cleanup(b);
		return NODE_MEMBER_E_TRUNCATED;
	}
	return 0;
}

int node_member_encode_entry(uint8_t *out, size_t cap, size_t *out_len, const struct node_member *m)
{
	CBB b;
	if (!fields_ok(m))
		return NODE_MEMBER_E_BAD_FIELD;
	CBB_init_fixed(&b, out, cap);
	bool ok = CBB_add_u8(&b, 'E') && add_body(&b, m) && CBB_add_bytes(&b, m->sig, 64) &&
		  CBB_add_bytes(&b, m->admitter, 32) && CBB_add_bytes(&b, m->admit_sig, 64);
	return finish(&b, out_len, ok);
}

int node_member_encode_removal(uint8_t *out, size_t cap, size_t *out_len, const uint8_t target[static 32],
			       const uint8_t remover[static 32], const uint8_t sig[static 64])
{
	CBB b;
	CBB_init_fixed(&b, out, cap);
	bool ok = CBB_add_u8(&b, 'R') && CBB_add_bytes(&b, target, 32) && CBB_add_bytes(&b, remover, 32) &&
		  CBB_add_bytes(&b, sig, 64);
	return finish(&b, out_len, ok);
}

int node_member_encode_summary(uint8_t *out, size_t cap, size_t *out_len, uint32_t count, uint32_t epoch,
			       const uint8_t hash[static 32])
{
	CBB b;
	CBB_init_fixed(&b, out, cap);
	bool ok = CBB_add_u8(&b, 'S') && CBB_add_u32(&b, count) && CBB_add_u32(&b, epoch) && CBB_add_bytes(&b, hash, 32);
	return finish(&b, out_len, ok);
}

int node_member_encode_rotation(uint8_t *out, size_t cap, size_t *out_len, uint32_t epoch, const uint8_t secret[static 32],
				const uint8_t rotator[static 32], const uint8_t sig[static 64])
{
	CBB b;
	CBB_init_fixed(&b, out, cap);
	bool ok = CBB_add_u8(&b, 'K') && CBB_add_u32(&b, epoch) && CBB_add_bytes(&b, secret, 32) &&
		  CBB_add_bytes(&b, rotator, 32) && CBB_add_bytes(&b, sig, 64);
	return finish(&b, out_len, ok);
}

/* ---- parsing ---- */

static int get_str(CBS *c, char *out, size_t cap, size_t *out_n)
{
	CBS s;
	if (!CBS_get_u8_length_prefixed(c, &s))
		return NODE_MEMBER_E_TRUNCATED;
	if (CBS_len(&s) >= cap)
		return NODE_MEMBER_E_BAD_FIELD;
	memcpy(out, CBS_data(&s), CBS_len(&s));
	out[CBS_len(&s)] = 0;
	*out_n = CBS_len(&s);
	return 0;
}

static int parse_entry(struct node_member *m, CBS *c)
{
	uint8_t fmt, n;
	size_t l;
	int r;
	if (!CBS_get_u8(c, &fmt))
		return NODE_MEMBER_E_TRUNCATED;
	if (fmt != NODE_MEMBER_FORMAT && fmt != NODE_MEMBER_FORMAT_V6 && fmt != NODE_MEMBER_FORMAT_N)
		return NODE_MEMBER_E_KIND;
	if (!CBS_copy_bytes(c, m->pub, 32) || !CBS_copy_bytes(c, m->sign_pub, 32) || !CBS_get_u64(c, &m->version))
		return NODE_MEMBER_E_TRUNCATED;
	if (!memcmp(m->pub, all_zero, 32))
		return NODE_MEMBER_E_BAD_FIELD;
	if ((r = get_str(c, m->node_id, sizeof m->node_id, &l)) != 0)
		return r;
	if (!id_ok(m->node_id, l))
		return NODE_MEMBER_E_BAD_FIELD;
	if ((r = get_str(c, m->name, sizeof m->name, &l)) != 0)
		return r;
	if (!name_ok((const uint8_t *)m->name, l))
		return NODE_MEMBER_E_BAD_FIELD;
	if (!CBS_get_u8(c, &n))
		return NODE_MEMBER_E_TRUNCATED;
	if (n > NODE_MEMBER_MAX_EPS)
		return NODE_MEMBER_E_BAD_FIELD;
	m->num_eps = n;
	for (size_t i = 0; i < n; i++) {
		if ((r = get_str(c, m->eps[i], sizeof m->eps[i], &l)) != 0)
			return r;
		if (!ep_ok(m->eps[i], l))
			return NODE_MEMBER_E_BAD_FIELD;
	}
	if (!CBS_get_u8(c, &n))
		return NODE_MEMBER_E_TRUNCATED;
	if (n > NODE_MEMBER_MAX_RELAYS)
		return NODE_MEMBER_E_BAD_FIELD;
	m->num_relays = n;
	for (size_t i = 0; i < n; i++) {
		if ((r = get_str(c, m->relays[i], sizeof m->relays[i], &l)) != 0)
			return r;
		if (!relay_ok(m->relays[i], l))
			return NODE_MEMBER_E_BAD_FIELD;
	}
	m->num_eps6 = 0;
	m->n = 0;
	if (fmt != NODE_MEMBER_FORMAT) {
		if (!CBS_get_u8(c, &n))
			return NODE_MEMBER_E_TRUNCATED;
		/* Format 2 has at least one (one encoding per entry). */
		if ((fmt == NODE_MEMBER_FORMAT_V6 && n < 1) || n > NODE_MEMBER_MAX_EPS6)
			return NODE_MEMBER_E_BAD_FIELD;
		m->num_eps6 = n;
		for (size_t i = 0; i < n; i++) {
			if ((r = get_str(c, m->eps6[i], sizeof m->eps6[i], &l)) != 0)
				return r;
			if (!ep6_ok(m->eps6[i], l))
				return NODE_MEMBER_E_BAD_FIELD;
		}
	}
	if (fmt == NODE_MEMBER_FORMAT_N) {
		if (!CBS_get_u32(c, &m->n))
			return NODE_MEMBER_E_TRUNCATED;
		if (m->n == 0)
			return NODE_MEMBER_E_BAD_FIELD; /* counter 0 is format 1 or 2 */
	}
	if (!CBS_copy_bytes(c, m->sig, 64) || !CBS_copy_bytes(c, m->admitter, 32) || !CBS_copy_bytes(c, m->admit_sig, 64))
		return NODE_MEMBER_E_TRUNCATED;
	return 0;
}

int node_member_parse(struct node_member_msg *out, const uint8_t *in, size_t len)
{
	CBS c;
	uint8_t kind, n;
	int r = 0;
	if (len > NODE_MEMBER_MAX_MSG)
		return NODE_MEMBER_E_BAD_FIELD;
	CBS_init(&c, in, len);
	if (!CBS_get_u8(&c, &kind))
		return NODE_MEMBER_E_TRUNCATED;
	/* Large (a digest and an entry): parse into the heap, copy on success. */
	struct node_member_msg *m = calloc(1, sizeof *m);
	if (!m)
		return NODE_MEMBER_E_TRUNCATED;
	m->kind = kind;
	switch (kind) {
	case 'E':
		r = parse_entry(&m->entry, &c);
		break;
	case 'R':
		if (!CBS_copy_bytes(&c, m->removal.target, 32) || !CBS_copy_bytes(&c, m->removal.remover, 32) ||
		    !CBS_copy_bytes(&c, m->removal.sig, 64))
			r = NODE_MEMBER_E_TRUNCATED;
		break;
	case 'S':
		if (!CBS_get_u32(&c, &m->summary.count) || !CBS_get_u32(&c, &m->summary.epoch) ||
		    !CBS_copy_bytes(&c, m->summary.hash, 32))
			r = NODE_MEMBER_E_TRUNCATED;
		else if (m->summary.count > NODE_MEMBER_MAX)
			r = NODE_MEMBER_E_BAD_FIELD;
		break;
	case 'K':
		if (!CBS_get_u32(&c, &m->rotation.epoch) || !CBS_copy_bytes(&c, m->rotation.secret, 32) ||
		    !CBS_copy_bytes(&c, m->rotation.rotator, 32) || !CBS_copy_bytes(&c, m->rotation.sig, 64))
			r = NODE_MEMBER_E_TRUNCATED;
		else if (m->rotation.epoch == 0)
			r = NODE_MEMBER_E_BAD_FIELD; /* epoch 0 is the secret of init */
		break;
	case 'D':
		if (!CBS_copy_bytes(&c, m->digest.lo, 32) || !CBS_copy_bytes(&c, m->digest.hi, 32) || !CBS_get_u8(&c, &n)) {
			r = NODE_MEMBER_E_TRUNCATED;
			break;
		}
		/* The range is (lo, hi]: lo below hi; items inside it, increasing. */
		if (n > NODE_MEMBER_DIGEST_ITEMS || memcmp(m->digest.lo, m->digest.hi, 32) >= 0) {
			r = NODE_MEMBER_E_BAD_FIELD;
			break;
		}
		m->digest.num = n;
		for (size_t i = 0; i < n && !r; i++) {
			struct node_member_item *it = &m->digest.items[i];
			if (!CBS_copy_bytes(&c, it->pub, 32) || !CBS_get_u64(&c, &it->version) || !CBS_get_u8(&c, &it->flags) ||
			    !CBS_copy_bytes(&c, it->admitter, 8)) {
				r = NODE_MEMBER_E_TRUNCATED;
				break;
			}
			const uint8_t *prev = i ? m->digest.items[i - 1].pub : m->digest.lo;
			if (memcmp(it->pub, prev, 32) <= 0 || memcmp(it->pub, m->digest.hi, 32) > 0 || it->flags > 7 ||
			    !(it->flags & (NODE_MEMBER_F_ENTRY | NODE_MEMBER_F_REMOVED)))
				r = NODE_MEMBER_E_BAD_FIELD;
		}
		break;
	default:
		r = NODE_MEMBER_E_KIND;
	}
	if (!r && CBS_len(&c))
		r = NODE_MEMBER_E_BAD_FIELD; /* trailing bytes */
	if (!r)
		*out = *m;
	OPENSSL_cleanse(m, sizeof *m);
	free(m);
	return r;
}

/* ---- keys and signatures ---- */

void node_member_keys(uint8_t sign_pub[static 32], uint8_t sign_priv[static 64], const uint8_t x_priv[static 32])
{
	static const char info[] = "atmosphere v1 member signing key";
	uint8_t seed[32];
	HKDF(seed, sizeof seed, EVP_sha256(), x_priv, 32, NULL, 0, (const uint8_t *)info, sizeof info - 1);
	ED25519_keypair_from_seed(sign_pub, sign_priv, seed);
	OPENSSL_cleanse(seed, sizeof seed);
}

/* The signed message: a label naming what is signed, the mesh, then the
 * fields; the label and the mesh keep a signature from being replayed in
 * another role or another mesh. */
static bool start_tbs(CBB *b, uint8_t *buf, size_t cap, const char *label, const char *mesh_id)
{
	CBB_init_fixed(b, buf, cap);
	return CBB_add_bytes(b, (const uint8_t *)label, strlen(label) + 1) && add_str(b, mesh_id);
}

static bool body_tbs(const struct node_member *m, const char *mesh_id, uint8_t *buf, size_t cap, size_t *len)
{
	CBB b;
	if (!start_tbs(&b, buf, cap, "atmosphere v1 member entry", mesh_id) || !add_body(&b, m) || !CBB_finish(&b, NULL, len)) {
		CBB_cleanup(&b);
		return false;
	}
	return true;
}

static bool admit_tbs(const char *mesh_id, const uint8_t pub[32], const uint8_t sign_pub[32], const char *node_id,
		      uint8_t *buf, size_t cap, size_t *len)
{
	CBB b;
	if (!start_tbs(&b, buf, cap, "atmosphere v1 member admit", mesh_id) || !CBB_add_bytes(&b, pub, 32) ||
	    !CBB_add_bytes(&b, sign_pub, 32) || !add_str(&b, node_id) || !CBB_finish(&b, NULL, len)) {
		CBB_cleanup(&b);
		return false;
	}
	return true;
}

static bool remove_tbs(const char *mesh_id, const uint8_t target[32], const uint8_t remover[32], uint8_t *buf,
		       size_t cap, size_t *len)
{
	CBB b;
	if (!start_tbs(&b, buf, cap, "atmosphere v1 member remove", mesh_id) || !CBB_add_bytes(&b, target, 32) ||
	    !CBB_add_bytes(&b, remover, 32) || !CBB_finish(&b, NULL, len)) {
		CBB_cleanup(&b);
		return false;
	}
	return true;
}

/* What a rotation's signature covers: the epoch and the secret's hash (the
 * secret itself stays out of anything that might be logged or kept). */
static bool rotation_tbs(const char *mesh_id, uint32_t epoch, const uint8_t secret[32], const uint8_t rotator[32],
			 uint8_t *buf, size_t cap, size_t *len)
{
	CBB b;
	uint8_t h[32];
	SHA256(secret, 32, h);
	bool ok = start_tbs(&b, buf, cap, "atmosphere v1 member secret", mesh_id) && CBB_add_u32(&b, epoch) &&
		  CBB_add_bytes(&b, h, 32) && CBB_add_bytes(&b, rotator, 32) && CBB_finish(&b, NULL, len);
	if (!ok)
		CBB_cleanup(&b);
	OPENSSL_cleanse(h, sizeof h);
	return ok;
}

void node_member_rotation_sign(uint8_t sig[static 64], const uint8_t rotator_priv[static 64], const char *mesh_id,
			       uint32_t epoch, const uint8_t secret[static 32], const uint8_t rotator[static 32])
{
	uint8_t tbs[256];
	size_t n;
	if (rotation_tbs(mesh_id, epoch, secret, rotator, tbs, sizeof tbs, &n))
		ED25519_sign(sig, tbs, n, rotator_priv);
}

int node_member_sign(struct node_member *m, const uint8_t sign_priv[static 64], const char *mesh_id)
{
	uint8_t tbs[NODE_MEMBER_MAX_MSG + 128];
	size_t n;
	if (!fields_ok(m) || !body_tbs(m, mesh_id, tbs, sizeof tbs, &n))
		return NODE_MEMBER_E_BAD_FIELD;
	ED25519_sign(m->sig, tbs, n, sign_priv);
	return 0;
}

int node_member_admit(uint8_t sig[static 64], const uint8_t admitter_priv[static 64], const char *mesh_id,
		      const uint8_t pub[static 32], const uint8_t sign_pub[static 32], const char *node_id)
{
	uint8_t tbs[256];
	size_t n;
	if (!id_ok(node_id, strlen(node_id)) || !admit_tbs(mesh_id, pub, sign_pub, node_id, tbs, sizeof tbs, &n))
		return NODE_MEMBER_E_BAD_FIELD;
	ED25519_sign(sig, tbs, n, admitter_priv);
	return 0;
}

void node_member_remove_sign(uint8_t sig[static 64], const uint8_t remover_priv[static 64], const char *mesh_id,
			     const uint8_t target[static 32], const uint8_t remover[static 32])
{
	uint8_t tbs[256];
	size_t n;
	if (remove_tbs(mesh_id, target, remover, tbs, sizeof tbs, &n))
		ED25519_sign(sig, tbs, n, remover_priv);
}

static bool body_verifies(const struct node_members *t, const struct node_member *m)
{
	uint8_t tbs[NODE_MEMBER_MAX_MSG + 128];
	size_t n;
	return fields_ok(m) && body_tbs(m, t->mesh_id, tbs, sizeof tbs, &n) && ED25519_verify(tbs, n, m->sig, m->sign_pub);
}

/* ---- the table ---- */

struct node_members *node_members_new(const char *mesh_id, const uint8_t founder[static 32])
{
	if (!id_ok(mesh_id, strlen(mesh_id)))
		return NULL;
	struct node_members *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	memcpy(t->mesh_id, mesh_id, strlen(mesh_id) + 1);
	memcpy(t->founder, founder, 32);
	return t;
}

void node_members_free(struct node_members *t)
{
	free(t);
}

int node_members_find(const struct node_members *t, const uint8_t pub[static 32])
{
	size_t lo = 0, hi = t->num;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(t->slots[t->sorted[mid]].m.pub, pub, 32);
		if (!c)
			return t->sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The first position in key order whose key is above pub. */
static size_t upper(const struct node_members *t, const uint8_t pub[32])
{
	size_t lo = 0, hi = t->num;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (memcmp(t->slots[t->sorted[mid]].m.pub, pub, 32) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int new_slot(struct node_members *t, const uint8_t pub[32])
{
	if (t->num == NODE_MEMBER_MAX)
		return NODE_MEMBER_E_FULL;
	int i = (int)t->num;
	struct node_member_slot *s = &t->slots[i];
	memset(s, 0, sizeof *s);
	memcpy(s->m.pub, pub, 32);
	size_t at = upper(t, pub);
	memmove(t->sorted + at + 1, t->sorted + at, (t->num - at) * sizeof t->sorted[0]);
	t->sorted[at] = (uint16_t)i;
	t->num++;
	return i;
}

/* Whether an admission by admitter of slot i's member verifies. The
 * admitter's sign key comes from its entry (or, self-admitted, the
 * member's own: only the founder may be). */
static bool admission_verifies(const struct node_members *t, const struct node_member *m, const uint8_t admitter[32],
			       const uint8_t sig[64])
{
	const uint8_t *key;
	if (!memcmp(admitter, m->pub, 32)) {
		if (memcmp(m->pub, t->founder, 32))
			return false;
		key = m->sign_pub;
	} else {
		int a = node_members_find(t, admitter);
		if (a < 0 || !t->slots[a].has_entry)
			return false;
		key = t->slots[a].m.sign_pub;
	}
	uint8_t tbs[256];
	size_t n;
	return admit_tbs(t->mesh_id, m->pub, m->sign_pub, m->node_id, tbs, sizeof tbs, &n) && ED25519_verify(tbs, n, sig, key);
}

/* Whether admitter (a chain's next link) is in good standing, the founder
 * admitting itself included. */
static bool chain_from(const struct node_members *t, const uint8_t self[32], const uint8_t admitter[32])
{
	if (!memcmp(admitter, self, 32))
		return !memcmp(self, t->founder, 32);
	int a = node_members_find(t, admitter);
	return a >= 0 && node_members_good(t, a);
}

bool node_members_good(const struct node_members *t, int i)
{
	/* Walk the admitters up to the founder; a cycle (re-admissions can
	 * make one) or a chain longer than the table is not a chain. */
	for (size_t steps = 0; steps <= t->num; steps++) {
		if (i < 0 || (size_t)i >= t->num)
			return false;
		const struct node_member_slot *s = &t->slots[i];
		if (!s->has_entry || s->removed)
			return false;
		if (!memcmp(s->m.admitter, s->m.pub, 32))
			return !memcmp(s->m.pub, t->founder, 32);
		i = node_members_find(t, s->m.admitter);
	}
	return false;
}

bool node_members_through(const struct node_members *t, int i, int via)
{
	for (size_t steps = 0; steps <= t->num; steps++) {
		if (i < 0 || (size_t)i >= t->num || !t->slots[i].has_entry)
			return false;
		if (i == via)
			return true;
		const struct node_member_slot *s = &t->slots[i];
		if (!memcmp(s->m.admitter, s->m.pub, 32))
			return false;
		i = node_members_find(t, s->m.admitter);
	}
	return false;
}

/* Whether admission (a, asig) beats the one slot s uses: valid where the
 * current is not, or both valid and a smaller admitter key. */
static bool admission_better(const struct node_members *t, int i, const uint8_t a[32])
{
	const struct node_member_slot *s = &t->slots[i];
	if (!memcmp(a, s->m.admitter, 32) || !chain_from(t, s->m.pub, a))
		return false;
	return !chain_from(t, s->m.pub, s->m.admitter) || memcmp(a, s->m.admitter, 32) < 0;
}

static void keep_spare(struct node_member_slot *s, const uint8_t a[32], const uint8_t sig[64])
{
	memcpy(s->spare_admitter, a, 32);
	memcpy(s->spare_sig, sig, 64);
	s->has_spare = true;
}

int node_members_merge_entry(struct node_members *t, const struct node_member *in, int *out_slot)
{
	int i = node_members_find(t, in->pub);
	if (out_slot)
		*out_slot = i;
	if (i >= 0 && t->slots[i].removed)
		return NODE_MEMBER_E_REMOVED;
	if (!body_verifies(t, in))
		return NODE_MEMBER_E_BAD_SIG;
	/* A node id belongs to one key. */
	for (size_t k = 0; k < t->num; k++)
		if ((int)k != i && t->slots[k].has_entry && !strcmp(t->slots[k].m.node_id, in->node_id))
			return NODE_MEMBER_E_CONFLICT;
	bool adm_ok = admission_verifies(t, in, in->admitter, in->admit_sig);
	if (i < 0) {
		/* A new member: admitted by a member in good standing. */
		if (!adm_ok) {
			int a = memcmp(in->admitter, in->pub, 32) ? node_members_find(t, in->admitter) : -1;
			return (a >= 0 && t->slots[a].has_entry) || !memcmp(in->admitter, in->pub, 32)
				       ? NODE_MEMBER_E_BAD_ADMISSION : NODE_MEMBER_E_UNKNOWN_ADMITTER;
		}
		if (!chain_from(t, in->pub, in->admitter))
			return NODE_MEMBER_E_UNKNOWN_ADMITTER;
		int r = new_slot(t, in->pub);
		if (r < 0)
			return r;
		t->slots[r].m = *in;
		t->slots[r].has_entry = true;
		if (out_slot)
			*out_slot = r;
		return NODE_MEMBER_CHANGED;
	}
	struct node_member_slot *s = &t->slots[i];
	if (!s->has_entry)
		return NODE_MEMBER_E_REMOVED; /* a tombstone (not reached: removed) */
	if (memcmp(s->m.sign_pub, in->sign_pub, 32) || strcmp(s->m.node_id, in->node_id))
		return NODE_MEMBER_E_CONFLICT;
	bool newer = in->version > s->m.version;
	bool better = adm_ok && admission_better(t, i, in->admitter);
	if (adm_ok && memcmp(in->admitter, s->m.admitter, 32) && !better)
		keep_spare(s, in->admitter, in->admit_sig);
	if (!newer && !better)
		return NODE_MEMBER_UNCHANGED;
	uint8_t a[32], asig[64];
	memcpy(a, better ? in->admitter : s->m.admitter, 32);
	memcpy(asig, better ? in->admit_sig : s->m.admit_sig, 64);
	if (better)
		keep_spare(s, s->m.admitter, s->m.admit_sig);
	if (newer)
		s->m = *in;
	memcpy(s->m.admitter, a, 32);
	memcpy(s->m.admit_sig, asig, 64);
	return NODE_MEMBER_CHANGED;
}

int node_members_merge_removal(struct node_members *t, const uint8_t target[static 32], const uint8_t remover[static 32],
			       const uint8_t sig[static 64], int *out_slot)
{
	int ti = node_members_find(t, target), ri = node_members_find(t, remover);
	if (out_slot)
		*out_slot = ti;
	if (ti >= 0 && t->slots[ti].removed)
		return NODE_MEMBER_UNCHANGED;
	if (!memcmp(target, t->founder, 32))
		return NODE_MEMBER_E_FOUNDER;
	if (ri < 0 || !node_members_good(t, ri))
		return NODE_MEMBER_E_UNKNOWN_ADMITTER;
	uint8_t tbs[256];
	size_t n;
	if (!remove_tbs(t->mesh_id, target, remover, tbs, sizeof tbs, &n) ||
	    !ED25519_verify(tbs, n, sig, t->slots[ri].m.sign_pub))
		return NODE_MEMBER_E_BAD_SIG;
	if (ti >= 0 && ti != ri && node_members_through(t, ri, ti))
		return NODE_MEMBER_E_OWN_CHAIN;
	if (ti < 0) {
		ti = new_slot(t, target);
		if (ti < 0)
			return ti;
	}
	struct node_member_slot *s = &t->slots[ti];
	s->removed = true;
	memcpy(s->remover, remover, 32);
	memcpy(s->remove_sig, sig, 64);
	if (out_slot)
		*out_slot = ti;
	/* Members admitted through the target fall back on a spare admission
	 * (the remover's re-admission) when that one holds. Repeat: one
	 * switch can make another's spare valid. */
	for (bool again = true; again;) {
		again = false;
		for (size_t k = 0; k < t->num; k++) {
			struct node_member_slot *o = &t->slots[k];
			if (!o->has_entry || o->removed || !o->has_spare || node_members_good(t, (int)k) ||
			    !chain_from(t, o->m.pub, o->spare_admitter))
				continue;
			uint8_t a[32], asig[64];
			memcpy(a, o->m.admitter, 32);
			memcpy(asig, o->m.admit_sig, 64);
			memcpy(o->m.admitter, o->spare_admitter, 32);
			memcpy(o->m.admit_sig, o->spare_sig, 64);
			memcpy(o->spare_admitter, a, 32);
			memcpy(o->spare_sig, asig, 64);
			again = true;
		}
	}
	return NODE_MEMBER_CHANGED;
}

/* ---- anti-entropy ---- */

static void item_of(const struct node_members *t, int i, struct node_member_item *it)
{
	const struct node_member_slot *s = &t->slots[i];
	memcpy(it->pub, s->m.pub, 32);
	it->version = s->has_entry ? s->m.version : 0;
	it->flags = (uint8_t)((s->has_entry ? NODE_MEMBER_F_ENTRY : 0) | (s->removed ? NODE_MEMBER_F_REMOVED : 0) |
			      (s->has_entry && chain_from(t, s->m.pub, s->m.admitter) ? NODE_MEMBER_F_ADMITTED : 0));
	memcpy(it->admitter, s->has_entry ? s->m.admitter : all_zero, 8);
}

static bool add_item(CBB *b, const struct node_member_item *it)
{
	return CBB_add_bytes(b, it->pub, 32) && CBB_add_u64(b, it->version) && CBB_add_u8(b, it->flags) &&
	       CBB_add_bytes(b, it->admitter, 8);
}

void node_members_summary(const struct node_members *t, uint32_t *out_count, uint8_t out_hash[static 32])
{
	SHA256_CTX h;
	SHA256_Init(&h);
	for (size_t k = 0; k < t->num; k++) {
		struct node_member_item it;
		uint8_t buf[NODE_MEMBER_ITEM_LEN];
		CBB b;
		item_of(t, t->sorted[k], &it);
		CBB_init_fixed(&b, buf, sizeof buf);
		add_item(&b, &it);
		CBB_cleanup(&b);
		SHA256_Update(&h, buf, sizeof buf);
	}
	SHA256_Final(out_hash, &h);
	*out_count = (uint32_t)t->num;
}

bool node_members_digest(const struct node_members *t, const uint8_t lo[static 32], uint8_t *out, size_t cap,
			 size_t *out_len, uint8_t next_lo[static 32])
{
	size_t at = upper(t, lo), n = t->num - at < NODE_MEMBER_DIGEST_ITEMS ? t->num - at : NODE_MEMBER_DIGEST_ITEMS;
	bool last = at + n == t->num;
	const uint8_t *hi = last ? all_ff : t->slots[t->sorted[at + n - 1]].m.pub;
	CBB b;
	CBB_init_fixed(&b, out, cap);
	bool ok = CBB_add_u8(&b, 'D') && CBB_add_bytes(&b, lo, 32) && CBB_add_bytes(&b, hi, 32) && CBB_add_u8(&b, (uint8_t)n);
	for (size_t k = 0; ok && k < n; k++) {
		struct node_member_item it;
		item_of(t, t->sorted[at + k], &it);
		ok = add_item(&b, &it);
	}
	if (!ok || !CBB_finish(&b, NULL, out_len)) {
		CBB_cleanup(&b);
		*out_len = 0;
	}
	memcpy(next_lo, hi, 32);
	return last;
}

static void set_bit(uint8_t *bits, int i)
{
	bits[i / 8] = (uint8_t)(bits[i / 8] | (1u << (i % 8)));
}

size_t node_members_compare(const struct node_members *t, const struct node_member_msg *d, uint8_t *want_entry,
			    uint8_t *want_removal)
{
	size_t set = 0, j = 0;
	for (size_t k = upper(t, d->digest.lo); k < t->num; k++) {
		int i = t->sorted[k];
		const struct node_member_slot *s = &t->slots[i];
		if (memcmp(s->m.pub, d->digest.hi, 32) > 0)
			break;
		while (j < d->digest.num && memcmp(d->digest.items[j].pub, s->m.pub, 32) < 0)
			j++;
		const struct node_member_item *p = j < d->digest.num && !memcmp(d->digest.items[j].pub, s->m.pub, 32)
							   ? &d->digest.items[j] : NULL;
		uint8_t pf = p ? p->flags : 0;
		if (s->removed && !(pf & NODE_MEMBER_F_REMOVED)) {
			set_bit(want_removal, i);
			set++;
		}
		if (!s->has_entry || (pf & NODE_MEMBER_F_REMOVED))
			continue;
		bool mine_ok = chain_from(t, s->m.pub, s->m.admitter);
		if (!(pf & NODE_MEMBER_F_ENTRY) || p->version < s->m.version ||
		    (mine_ok && memcmp(p->admitter, s->m.admitter, 8) &&
		     (!(pf & NODE_MEMBER_F_ADMITTED) || memcmp(s->m.admitter, p->admitter, 8) < 0))) {
			set_bit(want_entry, i);
			set++;
		}
	}
	return set;
}

bool node_members_lacks(const struct node_members *t, const struct node_member_msg *d)
{
	for (size_t j = 0; j < d->digest.num; j++) {
		const struct node_member_item *it = &d->digest.items[j];
		int i = node_members_find(t, it->pub);
		if (i < 0)
			return true;
		const struct node_member_slot *s = &t->slots[i];
		if ((it->flags & NODE_MEMBER_F_REMOVED) && !s->removed)
			return true;
		if (s->removed || !(it->flags & NODE_MEMBER_F_ENTRY))
			continue;
		if (!s->has_entry || it->version > s->m.version ||
		    ((it->flags & NODE_MEMBER_F_ADMITTED) && !chain_from(t, s->m.pub, s->m.admitter)))
			return true;
	}
	return false;
}

int node_members_check_rotation(const struct node_members *t, uint32_t epoch, const uint8_t secret[static 32],
				const uint8_t rotator[static 32], const uint8_t sig[static 64])
{
	int ri = node_members_find(t, rotator);
	uint8_t tbs[256];
	size_t n;
	if (ri < 0 || !node_members_good(t, ri))
		return NODE_MEMBER_E_UNKNOWN_ADMITTER;
	if (!rotation_tbs(t->mesh_id, epoch, secret, rotator, tbs, sizeof tbs, &n) ||
	    !ED25519_verify(tbs, n, sig, t->slots[ri].m.sign_pub))
		return NODE_MEMBER_E_BAD_SIG;
	return 0;
}

/* ---- overlay addresses: collisions ---- */

bool node_member_precedes(const struct node_member *a, const struct node_member *b)
{
	return a->n != b->n ? a->n < b->n : strcmp(a->node_id, b->node_id) < 0;
}

/* One member's overlay addresses. */
struct ov_addr {
	uint32_t a4;
	uint8_t a6[16];
};

static void ov_derive(const char *mesh_id, const char *node_id, uint32_t n, struct ov_addr *out)
{
	out->a4 = overlay_addr4(mesh_id, node_id, n);
	overlay_addr6(mesh_id, node_id, n, out->a6);
}

static bool ov_same(const struct ov_addr *x, const struct ov_addr *y)
{
	return x->a4 == y->a4 || !memcmp(x->a6, y->a6, 16);
}

uint32_t node_members_overlay_n(const struct node_members *t, const uint8_t pub[static 32], const char *node_id, uint32_t n)
{
	int me = node_members_find(t, pub);
	bool have_entry = me >= 0 && t->slots[me].has_entry;
	struct node_member self;
	struct ov_addr mine, *other = NULL;
	size_t num = 0;
	bool yield = false;
	memset(&self, 0, sizeof self);
	snprintf(self.node_id, sizeof self.node_id, "%s", node_id);
	self.n = n;
	ov_derive(t->mesh_id, node_id, n, &mine);
	for (size_t k = 0; k < t->num && !yield; k++) {
		const struct node_member_slot *s = &t->slots[k];
		if ((int)k == me || !s->has_entry || s->removed || !node_members_good(t, (int)k))
			continue;
		struct ov_addr a;
		ov_derive(t->mesh_id, s->m.node_id, s->m.n, &a);
		yield = ov_same(&a, &mine) && (!have_entry || node_member_precedes(&s->m, &self));
	}
	if (!yield)
		return n;
	/* Every good member's addresses, then the smallest counter that
	 * meets none of them. */
	other = calloc(t->num ? t->num : 1, sizeof *other);
	if (!other)
		return n;
	for (size_t k = 0; k < t->num; k++) {
		const struct node_member_slot *s = &t->slots[k];
		if ((int)k != me && s->has_entry && !s->removed && node_members_good(t, (int)k))
			ov_derive(t->mesh_id, s->m.node_id, s->m.n, &other[num++]);
	}
	uint32_t found = n;
	for (uint32_t c = 0; c < NODE_MEMBER_MAX_TRIES; c++) {
		bool clash = false;
		ov_derive(t->mesh_id, node_id, c, &mine);
		for (size_t k = 0; k < num && !clash; k++)
			clash = ov_same(&other[k], &mine);
		if (!clash) {
			found = c;
			break;
		}
	}
	free(other);
	return found;
}
