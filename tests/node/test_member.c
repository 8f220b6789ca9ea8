/* Tests for node/member.h: the membership codec, signatures, the merge
 * rules (newer wins, forged entries refused, removal beats entry, the
 * founder as root, re-admission after a removal) and anti-entropy. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "net/bssl.h"
#include "node/internal.h"
#include "node/member.h"
#include "node/wire.h"
#include "overlay/addr.h"

#define T_MESH "mesh-test01"

struct t_node {
	uint8_t x_priv[32], pub[32], sign_pub[32], sign_priv[64];
	char id[32];
};

static void t_node_init(struct t_node *n, uint8_t seed)
{
	memset(n, 0, sizeof *n);
	memset(n->x_priv, seed, 32);
	X25519_public_from_private(n->pub, n->x_priv);
	node_member_keys(n->sign_pub, n->sign_priv, n->x_priv);
	snprintf(n->id, sizeof n->id, "node-%02x", seed);
}

/* t_entry: n's entry at version v, admitted by admitter. */
static void t_entry(struct node_member *m, const struct t_node *n, uint64_t v, const struct t_node *admitter)
{
	memset(m, 0, sizeof *m);
	memcpy(m->pub, n->pub, 32);
	memcpy(m->sign_pub, n->sign_pub, 32);
	m->version = v;
	strcpy(m->node_id, n->id);
	snprintf(m->name, sizeof m->name, "name-%s", n->id);
	strcpy(m->eps[0], "198.51.100.7:7777");
	strcpy(m->eps[1], "10.0.0.2:7777");
	m->num_eps = 2;
	strcpy(m->relays[0], "ws://203.0.113.10:8080");
	m->num_relays = 1;
	cr_assert_eq(node_member_sign(m, n->sign_priv, T_MESH), 0);
	memcpy(m->admitter, admitter->pub, 32);
	cr_assert_eq(node_member_admit(m->admit_sig, admitter->sign_priv, T_MESH, n->pub, n->sign_pub, n->id), 0);
}

static struct t_node rob, matt, ana, eve;

static void setup(void)
{
	t_node_init(&rob, 1);
	t_node_init(&matt, 2);
	t_node_init(&ana, 3);
	t_node_init(&eve, 4);
}

/* A table with rob as founder, matt, ana and eve admitted by rob. */
static struct node_members *t_mesh(void)
{
	struct node_members *t = node_members_new(T_MESH, rob.pub);
	struct node_member m;
	cr_assert(t);
	t_entry(&m, &rob, 1, &rob);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_CHANGED);
	t_entry(&m, &matt, 1, &rob);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_CHANGED);
	t_entry(&m, &ana, 1, &rob);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_CHANGED);
	t_entry(&m, &eve, 1, &rob);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_CHANGED);
	return t;
}

/* --- codec ---------------------------------------------------------------- */

TestSuite(member, .init = setup);

Test(member, signing_key_derives_from_x25519_key)
{
	uint8_t p1[32], k1[64], p2[32], k2[64];
	node_member_keys(p1, k1, rob.x_priv);
	node_member_keys(p2, k2, rob.x_priv);
	cr_assert(!memcmp(p1, p2, 32) && !memcmp(k1, k2, 64), "the same X25519 key gives the same signing key");
	node_member_keys(p2, k2, matt.x_priv);
	cr_assert(memcmp(p1, p2, 32), "another X25519 key gives another signing key");
}

Test(member, entry_round_trips)
{
	struct node_member m;
	struct node_member_msg out;
	uint8_t buf[NODE_MEMBER_MAX_MSG];
	size_t n;
	t_entry(&m, &matt, 42, &rob);
	cr_assert_eq(node_member_encode_entry(buf, sizeof buf, &n, &m), 0);
	cr_assert_eq(node_member_parse(&out, buf, n), 0);
	cr_assert_eq(out.kind, 'E');
	cr_assert(!memcmp(&out.entry.pub, m.pub, 32) && out.entry.version == 42);
	cr_assert_str_eq(out.entry.node_id, m.node_id);
	cr_assert_str_eq(out.entry.name, m.name);
	cr_assert_eq(out.entry.num_eps, 2);
	cr_assert_str_eq(out.entry.eps[1], "10.0.0.2:7777");
	cr_assert_str_eq(out.entry.relays[0], "ws://203.0.113.10:8080");
	cr_assert(!memcmp(out.entry.sig, m.sig, 64) && !memcmp(out.entry.admit_sig, m.admit_sig, 64));
}

Test(member, every_proper_prefix_is_truncated_and_trailing_bytes_refused)
{
	struct node_member m;
	struct node_member_msg out;
	uint8_t buf[NODE_MEMBER_MAX_MSG + 1];
	size_t n;
	t_entry(&m, &ana, 7, &rob);
	cr_assert_eq(node_member_encode_entry(buf, sizeof buf, &n, &m), 0);
	for (size_t k = 0; k < n; k++) {
		int r = node_member_parse(&out, buf, k);
		cr_assert_eq(r, NODE_MEMBER_E_TRUNCATED, "prefix of %zu bytes of %zu: %d", k, n, r);
	}
	buf[n] = 0;
	cr_assert_eq(node_member_parse(&out, buf, n + 1), NODE_MEMBER_E_BAD_FIELD);
}

Test(member, largest_entry_fits_one_node_message)
{
	struct node_member m;
	uint8_t buf[NODE_MEMBER_MAX_MSG];
	size_t n;
	t_entry(&m, &matt, 1, &rob);
	memset(m.node_id, 'i', NODE_TOKEN_MAX_ID_LEN);
	m.node_id[NODE_TOKEN_MAX_ID_LEN] = 0;
	memset(m.name, 'n', NODE_TOKEN_MAX_NAME_LEN);
	m.name[NODE_TOKEN_MAX_NAME_LEN] = 0;
	for (size_t i = 0; i < NODE_MEMBER_MAX_EPS; i++)
		strcpy(m.eps[i], "255.255.255.255:65535");
	m.num_eps = NODE_MEMBER_MAX_EPS;
	for (size_t i = 0; i < NODE_MEMBER_MAX_RELAYS; i++) {
		memset(m.relays[i], 'r', NODE_TOKEN_MAX_URL_LEN);
		memcpy(m.relays[i], "wss://", 6);
		m.relays[i][NODE_TOKEN_MAX_URL_LEN] = 0;
	}
	m.num_relays = NODE_MEMBER_MAX_RELAYS;
	for (size_t i = 0; i < NODE_MEMBER_MAX_EPS6; i++)
		strcpy(m.eps6[i], "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	m.num_eps6 = NODE_MEMBER_MAX_EPS6;
	cr_assert_eq(strlen(m.eps6[0]), NODE_TOKEN_MAX_ENDPOINT_LEN);
	cr_assert_eq(node_member_encode_entry(buf, sizeof buf, &n, &m), 0);
	cr_assert_eq(n, 1451, "largest entry with counter 0: %zu bytes", n);
	m.n = UINT32_MAX; /* format 3: the counter's 4 bytes more */
	cr_assert_eq(node_member_encode_entry(buf, sizeof buf, &n, &m), 0);
	cr_log_info("largest entry: %zu bytes", n);
	/* The figure of node/member.h, node/wire.h and docs/NODE.md. */
	cr_assert_eq(n, 1455, "largest entry: %zu bytes", n);
	cr_assert_leq(n + 1, NODE_MAX_MESSAGE_LEN, "an entry and its type byte fit one node message");
}

/* Criterion runs each parameter in a fresh process (addresses move), so
 * a case names its edit by number, not by function pointer. */
struct bad_field {
	const char *what;
	int edit;
};

static void t_edit(struct node_member *m, int edit)
{
	switch (edit) {
	case 0: strcpy(m->node_id, "node 1"); break;
	case 1: m->node_id[0] = 0; break;
	case 2: strcpy(m->name, "a\nb"); break;
	case 3: strcpy(m->name, "\xc3\x28"); break;
	case 4: strcpy(m->name, "\xc0\xaf"); break;
	case 5: strcpy(m->eps[0], "300.1.1.1:7777"); break;
	case 6: strcpy(m->eps[0], "1.2.3.4:0"); break;
	case 7: strcpy(m->relays[0], "http://x"); break;
	case 8: strcpy(m->relays[0], "ws://a b"); break;
	case 10: strcpy(m->name, "evil\xe2\x80\xaegnp"); break; /* U+202E */
	case 11: strcpy(m->name, "a\xc2\x9b" "1m"); break;     /* CSI, C1 */
	case 12: strcpy(m->eps6[0], "[2001:db8::1]:0"); m->num_eps6 = 1; break;
	case 13: strcpy(m->eps6[0], "[192.0.2.1]:7777"); m->num_eps6 = 1; break;
	case 14: strcpy(m->eps6[0], "2001:db8::1:7777"); m->num_eps6 = 1; break;
	case 15: strcpy(m->eps6[0], "[2001:db8::1]:65536"); m->num_eps6 = 1; break;
	case 16: strcpy(m->eps6[0], "[2001:db8::g]:7777"); m->num_eps6 = 1; break;
	case 17: strcpy(m->eps6[0], "[2001:db8::1]"); m->num_eps6 = 1; break;
	case 18: m->num_eps6 = NODE_MEMBER_MAX_EPS6 + 1; break;
	case 9: memset(m->pub, 0, 32); break;
	default: break;
	}
}

ParameterizedTestParameters(member, encoder_refuses_bad_fields)
{
	static struct bad_field cases[] = {
		{"id with a space", 0}, {"empty id", 1}, {"control char in name", 2}, {"invalid UTF-8", 3},
		{"overlong UTF-8", 4}, {"endpoint octet 300", 5}, {"port 0", 6}, {"http relay", 7},
		{"space in relay", 8}, {"all-zero key", 9}, {"bidi override in name", 10}, {"C1 CSI in name", 11},
		{"IPv6 port 0", 12}, {"IPv4 in brackets", 13}, {"IPv6 without brackets", 14}, {"IPv6 port 65536", 15},
		{"IPv6 not hex", 16}, {"IPv6 without port", 17}, {"five IPv6 endpoints", 18},
	};
	return cr_make_param_array(struct bad_field, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct bad_field *c, member, encoder_refuses_bad_fields, .init = setup)
{
	struct node_member m;
	uint8_t buf[NODE_MEMBER_MAX_MSG];
	size_t n;
	t_entry(&m, &matt, 1, &rob);
	t_edit(&m, c->edit);
	cr_assert_eq(node_member_encode_entry(buf, sizeof buf, &n, &m), NODE_MEMBER_E_BAD_FIELD, "%s", c->what);
}

/* The parser refuses what a careless or hostile writer sends anyway: the
 * good encoding with one byte patched. Offsets: kind, format, pub, sign_pub,
 * version (74), id length (74), id (75..), name length, name. */
Test(member, parser_refuses_bad_fields_on_the_wire)
{
	struct node_member m;
	struct node_member_msg out;
	uint8_t buf[NODE_MEMBER_MAX_MSG], bad[NODE_MEMBER_MAX_MSG];
	size_t n;
	t_entry(&m, &matt, 1, &rob);
	cr_assert_eq(node_member_encode_entry(buf, sizeof buf, &n, &m), 0);
	size_t id = 75, name = id + buf[74] + 1, eps = name + buf[name - 1];
	cr_assert_eq(buf[74], strlen(m.node_id));
	memcpy(bad, buf, n);
	bad[id] = ' ';
	cr_assert_eq(node_member_parse(&out, bad, n), NODE_MEMBER_E_BAD_FIELD, "space in id");
	memcpy(bad, buf, n);
	bad[name] = 0x07;
	cr_assert_eq(node_member_parse(&out, bad, n), NODE_MEMBER_E_BAD_FIELD, "control char in name");
	memcpy(bad, buf, n);
	bad[eps] = NODE_MEMBER_MAX_EPS + 1;
	cr_assert_eq(node_member_parse(&out, bad, n), NODE_MEMBER_E_BAD_FIELD, "too many endpoints");
	memcpy(bad, buf, n);
	bad[eps + 2] = 'x';
	cr_assert_eq(node_member_parse(&out, bad, n), NODE_MEMBER_E_BAD_FIELD, "endpoint not an address");
	memcpy(bad, buf, n);
	bad[1] = 4;
	cr_assert_eq(node_member_parse(&out, bad, n), NODE_MEMBER_E_KIND, "unknown format");
}

Test(member, parser_refuses_unknown_kind_format_and_oversize)
{
	struct node_member_msg out;
	uint8_t big[NODE_MEMBER_MAX_MSG + 1] = {'S'};
	cr_assert_eq(node_member_parse(&out, (const uint8_t *)"X", 1), NODE_MEMBER_E_KIND);
	cr_assert_eq(node_member_parse(&out, (const uint8_t *)"E\x04", 2), NODE_MEMBER_E_KIND);
	cr_assert_eq(node_member_parse(&out, (const uint8_t *)"E\x00", 2), NODE_MEMBER_E_KIND);
	cr_assert_eq(node_member_parse(&out, big, sizeof big), NODE_MEMBER_E_BAD_FIELD);
	cr_assert_eq(node_member_parse(&out, (const uint8_t *)"", 0), NODE_MEMBER_E_TRUNCATED);
}

/* --- IPv6 endpoints (format 2) ------------------------------------------------ */

/* t_entry6: n's entry at version v with IPv6 endpoints eps6[0..num), signed. */
static void t_entry6(struct node_member *m, const struct t_node *n, uint64_t v, const struct t_node *admitter,
		     const char *const *eps6, size_t num)
{
	t_entry(m, n, v, admitter);
	for (size_t i = 0; i < num; i++)
		strcpy(m->eps6[i], eps6[i]);
	m->num_eps6 = num;
	cr_assert_eq(node_member_sign(m, n->sign_priv, T_MESH), 0);
}

static const char *const t_v6[] = {"[2001:db8:1::2]:7777", "[2001:db8:113::10]:40000"};

Test(member, ipv6_endpoints_round_trip_in_format_2)
{
	struct node_member m;
	struct node_member_msg out;
	uint8_t buf[NODE_MEMBER_MAX_MSG], again[NODE_MEMBER_MAX_MSG];
	size_t n, n2;
	t_entry6(&m, &matt, 42, &rob, t_v6, 2);
	cr_assert_eq(node_member_encode_entry(buf, sizeof buf, &n, &m), 0);
	cr_assert_eq(buf[1], NODE_MEMBER_FORMAT_V6, "an entry with IPv6 endpoints is format 2");
	cr_assert_eq(node_member_parse(&out, buf, n), 0);
	cr_assert_eq(out.entry.num_eps, 2);
	cr_assert_eq(out.entry.num_eps6, 2);
	cr_assert_str_eq(out.entry.eps6[0], t_v6[0]);
	cr_assert_str_eq(out.entry.eps6[1], t_v6[1]);
	cr_assert_str_eq(out.entry.relays[0], "ws://203.0.113.10:8080");
	cr_assert_eq(node_member_encode_entry(again, sizeof again, &n2, &out.entry), 0);
	cr_assert(n2 == n && !memcmp(again, buf, n), "re-encodes to the same bytes");
	/* It verifies and merges; a newer one replaces the IPv6 list. */
	struct node_members *t = t_mesh();
	cr_assert_eq(node_members_merge_entry(t, &out.entry, NULL), NODE_MEMBER_CHANGED);
	int slot = node_members_find(t, matt.pub);
	cr_assert_eq(t->slots[slot].m.num_eps6, 2);
	t_entry6(&m, &matt, 43, &rob, t_v6 + 1, 1);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_CHANGED);
	cr_assert_eq(t->slots[slot].m.num_eps6, 1);
	cr_assert_str_eq(t->slots[slot].m.eps6[0], t_v6[1]);
	node_members_free(t);
	/* Every proper prefix is truncated, as in format 1. */
	for (size_t k = 0; k < n; k++)
		cr_assert_eq(node_member_parse(&out, buf, k), NODE_MEMBER_E_TRUNCATED, "prefix of %zu bytes", k);
}

/* An entry without IPv6 endpoints is format 1, byte for byte what a node
 * from before format 2 writes and signs: such entries still parse, verify
 * and merge (t_mesh's are all of this kind). */
Test(member, an_entry_without_ipv6_is_format_1_as_before)
{
	struct node_member m;
	struct node_member_msg out;
	uint8_t buf[NODE_MEMBER_MAX_MSG];
	size_t n;
	t_entry(&m, &ana, 5, &rob);
	cr_assert_eq(node_member_encode_entry(buf, sizeof buf, &n, &m), 0);
	cr_assert_eq(buf[1], NODE_MEMBER_FORMAT);
	/* The format-1 layout: the relays are the last field before sig. */
	cr_assert_eq(n, 1 + 1 + 32 + 32 + 8 + 1 + strlen(m.node_id) + 1 + strlen(m.name) + 1 + 1 + strlen(m.eps[0]) + 1 +
			      strlen(m.eps[1]) + 1 + 1 + strlen(m.relays[0]) + 64 + 32 + 64);
	cr_assert_eq(node_member_parse(&out, buf, n), 0);
	cr_assert_eq(out.entry.num_eps6, 0);
	struct node_members *t = node_members_new(T_MESH, rob.pub);
	struct node_member r;
	t_entry(&r, &rob, 1, &rob);
	cr_assert_eq(node_members_merge_entry(t, &r, NULL), NODE_MEMBER_CHANGED);
	cr_assert_eq(node_members_merge_entry(t, &out.entry, NULL), NODE_MEMBER_CHANGED);
	node_members_free(t);
}

/* Nobody but the member can change, add or strip its IPv6 endpoints: the
 * format byte and the list are inside its signature. */
Test(member, tampered_or_stripped_ipv6_endpoints_fail_verification)
{
	struct node_members *t = t_mesh();
	struct node_member m, good;
	int slot = node_members_find(t, ana.pub);
	t_entry6(&good, &ana, 9, &rob, t_v6, 2);
	/* An endpoint changed after signing. */
	m = good;
	strcpy(m.eps6[0], "[2001:db8:66::66]:6666");
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_BAD_SIG, "changed");
	/* One stripped of two. */
	m = good;
	m.num_eps6 = 1;
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_BAD_SIG, "one stripped");
	/* Reordered. */
	m = good;
	strcpy(m.eps6[0], good.eps6[1]);
	strcpy(m.eps6[1], good.eps6[0]);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_BAD_SIG, "reordered");
	/* All stripped: a format-1 entry with the format-2 signature. */
	m = good;
	m.num_eps6 = 0;
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_BAD_SIG, "all stripped");
	/* ... on the wire too: the IPv6 section cut out, the format byte set
	 * to 1; it parses (a valid format-1 entry) but does not verify. */
	uint8_t buf[NODE_MEMBER_MAX_MSG], cut[NODE_MEMBER_MAX_MSG];
	size_t n;
	struct node_member_msg out;
	cr_assert_eq(node_member_encode_entry(buf, sizeof buf, &n, &good), 0);
	size_t v6len = 1 + 1 + strlen(t_v6[0]) + 1 + strlen(t_v6[1]), at = n - 160 - v6len;
	cr_assert_eq(buf[at], 2, "the IPv6 count sits before sig, admitter, admit_sig");
	memcpy(cut, buf, at);
	memcpy(cut + at, buf + at + v6len, 160);
	cut[1] = NODE_MEMBER_FORMAT;
	cr_assert_eq(node_member_parse(&out, cut, n - v6len), 0);
	cr_assert_eq(out.entry.num_eps6, 0);
	cr_assert_eq(node_members_merge_entry(t, &out.entry, NULL), NODE_MEMBER_E_BAD_SIG, "stripped on the wire");
	/* Added: a format-1 entry given an IPv6 endpoint of someone else's choosing. */
	t_entry(&m, &ana, 10, &rob);
	strcpy(m.eps6[0], "[2001:db8:66::66]:6666");
	m.num_eps6 = 1;
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_BAD_SIG, "added");
	cr_assert_eq(t->slots[slot].m.version, 1, "Ana's entry is untouched");
	cr_assert_eq(node_members_merge_entry(t, &good, NULL), NODE_MEMBER_CHANGED, "the real one");
	cr_assert_eq(t->slots[slot].m.num_eps6, 2);
	node_members_free(t);
}

Test(member, parser_refuses_bad_ipv6_endpoints_on_the_wire)
{
	struct node_member m;
	struct node_member_msg out;
	uint8_t buf[NODE_MEMBER_MAX_MSG], bad[NODE_MEMBER_MAX_MSG];
	size_t n;
	t_entry6(&m, &matt, 1, &rob, t_v6, 1);
	cr_assert_eq(node_member_encode_entry(buf, sizeof buf, &n, &m), 0);
	size_t at = n - 160 - 1 - 1 - strlen(t_v6[0]); /* the IPv6 count */
	cr_assert_eq(buf[at], 1);
	memcpy(bad, buf, n);
	bad[at] = 0;
	cr_assert_eq(node_member_parse(&out, bad, n), NODE_MEMBER_E_BAD_FIELD, "format 2 without IPv6 endpoints");
	memcpy(bad, buf, n);
	bad[at] = NODE_MEMBER_MAX_EPS6 + 1;
	cr_assert_eq(node_member_parse(&out, bad, n), NODE_MEMBER_E_BAD_FIELD, "too many IPv6 endpoints");
	memcpy(bad, buf, n);
	bad[at + 2] = '1'; /* "[" */
	cr_assert_eq(node_member_parse(&out, bad, n), NODE_MEMBER_E_BAD_FIELD, "no bracket");
	memcpy(bad, buf, n);
	bad[at + 2 + 4] = 0; /* "[200\0:db8..." */
	cr_assert_eq(node_member_parse(&out, bad, n), NODE_MEMBER_E_BAD_FIELD, "NUL in the address");
	memcpy(bad, buf, n);
	bad[at + 2 + 2] = 'x';
	cr_assert_eq(node_member_parse(&out, bad, n), NODE_MEMBER_E_BAD_FIELD, "not an address");
	memcpy(bad, buf, n);
	bad[at + 1 + strlen(t_v6[0])] = ':'; /* the port's last digit */
	cr_assert_eq(node_member_parse(&out, bad, n), NODE_MEMBER_E_BAD_FIELD, "colon in the port");
	memcpy(bad, buf, n);
	bad[1] = NODE_MEMBER_FORMAT;
	cr_assert_neq(node_member_parse(&out, bad, n), 0, "format 1 with an IPv6 section");
}

/* A member may sign IPv6 endpoints nobody should punch (its own claim, so
 * they verify); the node that learns them refuses each as it refuses a
 * HELLO's (node_cand_accept), counts it under its reason, and keeps the rest. */
Test(member, hostile_ipv6_candidates_in_an_entry_are_refused)
{
	static const char *const hostile[] = {"[::1]:7777", "[ff02::1]:7777", "[fe80::1]:7777", "[2001:db8:9::9]:7777"};
	struct node_member m;
	t_entry6(&m, &eve, 3, &rob, hostile, 4);
	struct node_members *t = t_mesh();
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_CHANGED, "syntax only: it verifies");
	node_members_free(t);
	struct node *node = calloc(1, sizeof *node);
	struct node_peer *p = calloc(1, sizeof *p);
	cr_assert(node && p);
	size_t v6 = node_gossip_entry_candidates(node, p, &m);
	cr_assert_eq(v6, 1, "one IPv6 candidate taken");
	cr_assert_eq(p->num_cand, 3, "the two IPv4 endpoints and the global IPv6 one");
	char a[64];
	node_fmt_addr(&p->cand[2], a, sizeof a);
	cr_assert_str_eq(a, "[2001:db8:9::9]:7777");
	cr_assert_eq(node->cand_refused[NODE_REFUSE_LOOPBACK], 1);
	cr_assert_eq(node->cand_refused[NODE_REFUSE_MULTICAST], 1);
	cr_assert_eq(node->cand_refused[NODE_REFUSE_LINK_LOCAL], 1);
	cr_assert_str_eq(p->node_id, eve.id);
	/* v4-mapped and unspecified too. */
	static const char *const more[] = {"[::ffff:192.0.2.1]:7777", "[::]:7777"};
	t_entry6(&m, &eve, 4, &rob, more, 2);
	cr_assert_eq(node_gossip_entry_candidates(node, p, &m), 0);
	cr_assert_eq(node->cand_refused[NODE_REFUSE_V4_MAPPED], 1);
	cr_assert_eq(node->cand_refused[NODE_REFUSE_UNSPECIFIED], 1);
	cr_assert_eq(p->num_cand, 3);
	free(p);
	free(node);
}

Test(member, parser_refuses_bad_digests)
{
	struct node_members *t = t_mesh();
	uint8_t buf[NODE_MEMBER_MAX_MSG], lo[32] = {0}, next[32];
	size_t n;
	struct node_member_msg out;
	cr_assert(node_members_digest(t, lo, buf, sizeof buf, &n, next));
	cr_assert_eq(node_member_parse(&out, buf, n), 0);
	cr_assert_eq(out.digest.num, 4);
	/* items out of order */
	uint8_t bad[NODE_MEMBER_MAX_MSG];
	memcpy(bad, buf, n);
	memcpy(bad + 66, buf + 66 + NODE_MEMBER_ITEM_LEN, NODE_MEMBER_ITEM_LEN);
	memcpy(bad + 66 + NODE_MEMBER_ITEM_LEN, buf + 66, NODE_MEMBER_ITEM_LEN);
	cr_assert_eq(node_member_parse(&out, bad, n), NODE_MEMBER_E_BAD_FIELD, "unsorted items");
	/* more items than a message may hold */
	memcpy(bad, buf, n);
	bad[65] = NODE_MEMBER_DIGEST_ITEMS + 1;
	cr_assert_eq(node_member_parse(&out, bad, n), NODE_MEMBER_E_BAD_FIELD, "too many items");
	/* lo not below hi */
	memcpy(bad, buf, n);
	memset(bad + 1, 0xff, 32);
	cr_assert_eq(node_member_parse(&out, bad, n), NODE_MEMBER_E_BAD_FIELD, "empty range");
	/* a summary counting more slots than a table has */
	uint8_t h[32] = {0};
	cr_assert_eq(node_member_encode_summary(buf, sizeof buf, &n, NODE_MEMBER_MAX + 1, 0, h), 0);
	cr_assert_eq(node_member_parse(&out, buf, n), NODE_MEMBER_E_BAD_FIELD);
	node_members_free(t);
}

/* --- merge rules ------------------------------------------------------------ */

Test(member, founder_admits_itself_and_nobody_else_may)
{
	struct node_members *t = node_members_new(T_MESH, rob.pub);
	struct node_member m;
	t_entry(&m, &matt, 1, &matt);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_BAD_ADMISSION, "self-admitted non-founder");
	t_entry(&m, &rob, 1, &rob);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_CHANGED);
	t_entry(&m, &matt, 1, &rob);
	int slot = -1;
	cr_assert_eq(node_members_merge_entry(t, &m, &slot), NODE_MEMBER_CHANGED);
	cr_assert(node_members_good(t, slot));
	node_members_free(t);
}

Test(member, admission_by_an_unknown_member_is_refused)
{
	struct node_members *t = node_members_new(T_MESH, rob.pub);
	struct node_member m;
	t_entry(&m, &rob, 1, &rob);
	node_members_merge_entry(t, &m, NULL);
	t_entry(&m, &ana, 1, &matt); /* matt is not known */
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_UNKNOWN_ADMITTER);
	node_members_free(t);
}

Test(member, newer_wins_and_stale_cannot_roll_back)
{
	struct node_members *t = t_mesh();
	struct node_member m;
	int slot;
	t_entry(&m, &matt, 5, &rob);
	strcpy(m.eps[0], "192.0.2.55:9999");
	node_member_sign(&m, matt.sign_priv, T_MESH);
	cr_assert_eq(node_members_merge_entry(t, &m, &slot), NODE_MEMBER_CHANGED);
	t_entry(&m, &matt, 3, &rob);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_UNCHANGED, "older");
	t_entry(&m, &matt, 5, &rob);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_UNCHANGED, "same version");
	cr_assert_eq(t->slots[slot].m.version, 5);
	cr_assert_str_eq(t->slots[slot].m.eps[0], "192.0.2.55:9999");
	node_members_free(t);
}

Test(member, forged_entries_are_refused)
{
	struct node_members *t = t_mesh();
	struct node_member m;
	int slot = node_members_find(t, ana.pub);
	/* Eve rewrites Ana's endpoints without Ana's key. */
	t_entry(&m, &ana, 9, &rob);
	strcpy(m.eps[0], "192.0.2.66:6666");
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_BAD_SIG, "edited after signing");
	/* ... or signs it with her own key, claiming it is Ana's sign key. */
	memcpy(m.sign_pub, eve.sign_pub, 32);
	node_member_sign(&m, eve.sign_priv, T_MESH);
	node_member_admit(m.admit_sig, eve.sign_priv, T_MESH, ana.pub, eve.sign_pub, ana.id);
	memcpy(m.admitter, eve.pub, 32);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_CONFLICT, "another sign key for Ana");
	/* ... or takes Ana's node id for a key of her own. */
	struct t_node eve2;
	t_node_init(&eve2, 5);
	strcpy(eve2.id, ana.id);
	t_entry(&m, &eve2, 1, &eve);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_CONFLICT, "Ana's node id");
	/* ... or forges an admission in Rob's name. */
	t_node_init(&eve2, 6);
	t_entry(&m, &eve2, 1, &eve);
	memcpy(m.admitter, rob.pub, 32);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_BAD_ADMISSION, "admission not by rob");
	/* A signature from another mesh does not count here. */
	t_entry(&m, &ana, 10, &rob);
	node_member_sign(&m, ana.sign_priv, "mesh-other");
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_BAD_SIG, "other mesh");
	cr_assert_eq(t->slots[slot].m.version, 1, "Ana's entry is untouched");
	node_members_free(t);
}

Test(member, removal_beats_entry)
{
	struct node_members *t = t_mesh();
	struct node_member m;
	uint8_t sig[64];
	int slot;
	node_member_remove_sign(sig, matt.sign_priv, T_MESH, eve.pub, matt.pub);
	cr_assert_eq(node_members_merge_removal(t, eve.pub, matt.pub, sig, &slot), NODE_MEMBER_CHANGED);
	cr_assert(!node_members_good(t, slot));
	cr_assert_eq(node_members_merge_removal(t, eve.pub, matt.pub, sig, NULL), NODE_MEMBER_UNCHANGED);
	t_entry(&m, &eve, 1000, &rob);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_REMOVED, "a newer entry after the removal");
	node_members_free(t);
}

Test(member, removal_before_the_entry_still_wins)
{
	struct node_members *t = node_members_new(T_MESH, rob.pub);
	struct node_member m;
	uint8_t sig[64];
	t_entry(&m, &rob, 1, &rob);
	node_members_merge_entry(t, &m, NULL);
	node_member_remove_sign(sig, rob.sign_priv, T_MESH, eve.pub, rob.pub);
	cr_assert_eq(node_members_merge_removal(t, eve.pub, rob.pub, sig, NULL), NODE_MEMBER_CHANGED, "a tombstone");
	t_entry(&m, &eve, 1, &rob);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_REMOVED);
	node_members_free(t);
}

Test(member, removals_are_authenticated)
{
	struct node_members *t = t_mesh();
	uint8_t sig[64];
	/* Eve forges a removal of Ana in Matt's name. */
	node_member_remove_sign(sig, eve.sign_priv, T_MESH, ana.pub, matt.pub);
	cr_assert_eq(node_members_merge_removal(t, ana.pub, matt.pub, sig, NULL), NODE_MEMBER_E_BAD_SIG);
	/* A stranger cannot remove anyone. */
	struct t_node x;
	t_node_init(&x, 9);
	node_member_remove_sign(sig, x.sign_priv, T_MESH, ana.pub, x.pub);
	cr_assert_eq(node_members_merge_removal(t, ana.pub, x.pub, sig, NULL), NODE_MEMBER_E_UNKNOWN_ADMITTER);
	/* Nor can the founder be removed. */
	node_member_remove_sign(sig, matt.sign_priv, T_MESH, rob.pub, matt.pub);
	cr_assert_eq(node_members_merge_removal(t, rob.pub, matt.pub, sig, NULL), NODE_MEMBER_E_FOUNDER);
	node_members_free(t);
}

Test(member, a_removed_member_can_neither_remove_nor_admit)
{
	struct node_members *t = t_mesh();
	struct node_member m;
	uint8_t sig[64];
	node_member_remove_sign(sig, matt.sign_priv, T_MESH, eve.pub, matt.pub);
	cr_assert_eq(node_members_merge_removal(t, eve.pub, matt.pub, sig, NULL), NODE_MEMBER_CHANGED);
	node_member_remove_sign(sig, eve.sign_priv, T_MESH, ana.pub, eve.pub);
	cr_assert_eq(node_members_merge_removal(t, ana.pub, eve.pub, sig, NULL), NODE_MEMBER_E_UNKNOWN_ADMITTER);
	/* Codes Eve issues stop working: her admissions do not count. */
	struct t_node joiner;
	t_node_init(&joiner, 7);
	t_entry(&m, &joiner, 1, &eve);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_UNKNOWN_ADMITTER);
	node_members_free(t);
}

Test(member, members_admitted_by_a_removed_one_switch_to_the_removers_readmission)
{
	struct node_members *t = t_mesh();
	struct node_member m;
	struct t_node dan;
	uint8_t sig[64];
	int dslot;
	t_node_init(&dan, 8);
	t_entry(&m, &dan, 1, &eve); /* Eve admitted Dan before she was removed */
	cr_assert_eq(node_members_merge_entry(t, &m, &dslot), NODE_MEMBER_CHANGED);
	int eslot = node_members_find(t, eve.pub);
	cr_assert(node_members_through(t, dslot, eslot));
	/* Matt re-admits Dan, then removes Eve. */
	memcpy(m.admitter, matt.pub, 32);
	node_member_admit(m.admit_sig, matt.sign_priv, T_MESH, dan.pub, dan.sign_pub, dan.id);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_UNCHANGED, "both valid: eve's key order keeps hers");
	node_member_remove_sign(sig, matt.sign_priv, T_MESH, eve.pub, matt.pub);
	cr_assert_eq(node_members_merge_removal(t, eve.pub, matt.pub, sig, NULL), NODE_MEMBER_CHANGED);
	cr_assert(node_members_good(t, dslot), "dan stays through matt's re-admission");
	cr_assert(!memcmp(t->slots[dslot].m.admitter, matt.pub, 32));
	node_members_free(t);
}

Test(member, orphans_without_a_readmission_lose_standing)
{
	struct node_members *t = t_mesh();
	struct node_member m;
	struct t_node dan;
	uint8_t sig[64];
	int dslot;
	t_node_init(&dan, 8);
	t_entry(&m, &dan, 1, &eve);
	node_members_merge_entry(t, &m, &dslot);
	node_member_remove_sign(sig, matt.sign_priv, T_MESH, eve.pub, matt.pub);
	node_members_merge_removal(t, eve.pub, matt.pub, sig, NULL);
	cr_assert(!node_members_good(t, dslot));
	/* A re-admission later brings it back. */
	memcpy(m.admitter, matt.pub, 32);
	node_member_admit(m.admit_sig, matt.sign_priv, T_MESH, dan.pub, dan.sign_pub, dan.id);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_CHANGED);
	cr_assert(node_members_good(t, dslot));
	node_members_free(t);
}

Test(member, a_remover_cannot_cut_its_own_chain)
{
	struct node_members *t = t_mesh();
	struct node_member m;
	struct t_node dan;
	uint8_t sig[64];
	t_node_init(&dan, 8);
	t_entry(&m, &dan, 1, &eve);
	node_members_merge_entry(t, &m, NULL);
	node_member_remove_sign(sig, dan.sign_priv, T_MESH, eve.pub, dan.pub);
	cr_assert_eq(node_members_merge_removal(t, eve.pub, dan.pub, sig, NULL), NODE_MEMBER_E_OWN_CHAIN);
	node_members_free(t);
}

Test(member, table_is_bounded)
{
	struct node_members *t = node_members_new(T_MESH, rob.pub);
	struct node_member m;
	uint8_t sig[64];
	t_entry(&m, &rob, 1, &rob);
	node_members_merge_entry(t, &m, NULL);
	/* Tombstones fill it fastest: a removal needs no entry. */
	for (int i = 1; i < NODE_MEMBER_MAX; i++) {
		uint8_t target[32] = {0};
		target[0] = (uint8_t)(i >> 8);
		target[1] = (uint8_t)i;
		target[31] = 1;
		node_member_remove_sign(sig, rob.sign_priv, T_MESH, target, rob.pub);
		cr_assert_eq(node_members_merge_removal(t, target, rob.pub, sig, NULL), NODE_MEMBER_CHANGED, "%d", i);
	}
	t_entry(&m, &matt, 1, &rob);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_E_FULL);
	node_members_free(t);
}

/* --- anti-entropy ------------------------------------------------------------- */

/* t_sync: one direction of anti-entropy: to learns what from's digest
 * shows it lacks, as the daemon does (digest messages, compare, send). */
static size_t t_sync(struct node_members *from, struct node_members *to)
{
	uint8_t lo[32] = {0}, buf[NODE_MEMBER_MAX_MSG], we[NODE_MEMBER_MAX / 8] = {0}, wr[NODE_MEMBER_MAX / 8] = {0};
	size_t n, sent = 0;
	bool last;
	/* `to` sends its digest; `from` compares it with its own table. */
	do {
		struct node_member_msg d;
		last = node_members_digest(to, lo, buf, sizeof buf, &n, lo);
		cr_assert_eq(node_member_parse(&d, buf, n), 0);
		node_members_compare(from, &d, we, wr);
	} while (!last);
	for (size_t i = 0; i < from->num; i++)
		if (we[i / 8] & (1u << (i % 8))) {
			node_members_merge_entry(to, &from->slots[i].m, NULL);
			sent++;
		}
	for (size_t i = 0; i < from->num; i++)
		if (wr[i / 8] & (1u << (i % 8))) {
			node_members_merge_removal(to, from->slots[i].m.pub, from->slots[i].remover, from->slots[i].remove_sig,
						   NULL);
			sent++;
		}
	return sent;
}

Test(member, summaries_agree_exactly_when_tables_do)
{
	struct node_members *a = t_mesh(), *b = t_mesh();
	uint32_t ca, cb;
	uint8_t ha[32], hb[32];
	node_members_summary(a, &ca, ha);
	node_members_summary(b, &cb, hb);
	cr_assert(ca == cb && !memcmp(ha, hb, 32));
	struct node_member m;
	t_entry(&m, &ana, 2, &rob);
	node_members_merge_entry(b, &m, NULL);
	node_members_summary(b, &cb, hb);
	cr_assert(memcmp(ha, hb, 32), "a newer version changes the summary");
	node_members_free(a);
	node_members_free(b);
}

Test(member, a_node_that_was_away_catches_up)
{
	/* 100 members (three digest messages): `away` knows the first 10 and
	 * an old version of one; the other holds a removal too. */
	struct node_members *home = node_members_new(T_MESH, rob.pub), *away = node_members_new(T_MESH, rob.pub);
	struct node_member m;
	uint8_t sig[64];
	t_entry(&m, &rob, 1, &rob);
	node_members_merge_entry(home, &m, NULL);
	node_members_merge_entry(away, &m, NULL);
	for (int i = 0; i < 100; i++) {
		struct t_node n;
		t_node_init(&n, (uint8_t)(20 + i));
		t_entry(&m, &n, 1, &rob);
		node_members_merge_entry(home, &m, NULL);
		if (i < 10)
			node_members_merge_entry(away, &m, NULL);
		if (i == 5) {
			t_entry(&m, &n, 2, &rob);
			node_members_merge_entry(home, &m, NULL);
		}
	}
	struct t_node gone;
	t_node_init(&gone, 20 + 7);
	node_member_remove_sign(sig, rob.sign_priv, T_MESH, gone.pub, rob.pub);
	cr_assert_eq(node_members_merge_removal(home, gone.pub, rob.pub, sig, NULL), NODE_MEMBER_CHANGED);
	size_t sent = t_sync(home, away);
	cr_assert_eq(sent, 90 + 1 + 1, "90 new entries, one newer, one removal: %zu", sent);
	uint32_t c1, c2;
	uint8_t h1[32], h2[32];
	node_members_summary(home, &c1, h1);
	node_members_summary(away, &c2, h2);
	cr_assert(c1 == c2 && !memcmp(h1, h2, 32), "in sync after one round");
	cr_assert_eq(t_sync(away, home), 0, "nothing flows back");
	node_members_free(home);
	node_members_free(away);
}

Test(member, a_digest_says_what_we_lack_and_nothing_when_in_sync)
{
	struct node_members *a = t_mesh(), *b = t_mesh();
	uint8_t lo[32] = {0}, buf[NODE_MEMBER_MAX_MSG];
	size_t n;
	struct node_member_msg d;
	node_members_digest(a, lo, buf, sizeof buf, &n, lo);
	cr_assert_eq(node_member_parse(&d, buf, n), 0);
	cr_assert(!node_members_lacks(b, &d), "in sync: nothing lacking (no digest goes back)");
	struct node_member m;
	t_entry(&m, &ana, 2, &rob);
	node_members_merge_entry(a, &m, NULL);
	memset(lo, 0, sizeof lo);
	node_members_digest(a, lo, buf, sizeof buf, &n, lo);
	cr_assert_eq(node_member_parse(&d, buf, n), 0);
	cr_assert(node_members_lacks(b, &d), "a newer entry at the peer");
	cr_assert(!node_members_lacks(a, &d), "a's own digest shows a nothing lacking");
	node_members_free(a);
	node_members_free(b);
}

Test(member, a_new_secret_is_taken_only_from_a_member_in_good_standing)
{
	struct node_members *t = t_mesh();
	uint8_t secret[32], sig[64], buf[NODE_MEMBER_MAX_MSG];
	size_t n;
	struct node_member_msg m;
	memset(secret, 0x5a, sizeof secret);
	node_member_rotation_sign(sig, matt.sign_priv, T_MESH, 1, secret, matt.pub);
	cr_assert_eq(node_member_encode_rotation(buf, sizeof buf, &n, 1, secret, matt.pub, sig), 0);
	cr_assert_eq(node_member_parse(&m, buf, n), 0);
	cr_assert_eq(m.kind, 'K');
	cr_assert_eq(node_members_check_rotation(t, m.rotation.epoch, m.rotation.secret, m.rotation.rotator, m.rotation.sig), 0);
	cr_assert_eq(node_members_check_rotation(t, 2, secret, matt.pub, sig), NODE_MEMBER_E_BAD_SIG, "another epoch");
	secret[0] ^= 1;
	cr_assert_eq(node_members_check_rotation(t, 1, secret, matt.pub, sig), NODE_MEMBER_E_BAD_SIG, "another secret");
	secret[0] ^= 1;
	/* A removed member's new secret does not count. */
	uint8_t rsig[64];
	node_member_remove_sign(rsig, rob.sign_priv, T_MESH, eve.pub, rob.pub);
	node_members_merge_removal(t, eve.pub, rob.pub, rsig, NULL);
	node_member_rotation_sign(sig, eve.sign_priv, T_MESH, 1, secret, eve.pub);
	cr_assert_eq(node_members_check_rotation(t, 1, secret, eve.pub, sig), NODE_MEMBER_E_UNKNOWN_ADMITTER);
	node_members_free(t);
}

/* --- Overlay collision counter (format 3) ----------------------------------- */

/* t_entry_n: n's entry at version v with collision counter cn (and the
 * IPv6 endpoints eps6[0..num)), signed. */
static void t_entry_n(struct node_member *m, const struct t_node *n, uint64_t v, const struct t_node *admitter,
		      uint32_t cn, const char *const *eps6, size_t num)
{
	t_entry(m, n, v, admitter);
	for (size_t i = 0; i < num; i++)
		strcpy(m->eps6[i], eps6[i]);
	m->num_eps6 = num;
	m->n = cn;
	cr_assert_eq(node_member_sign(m, n->sign_priv, T_MESH), 0);
}

Test(member, collision_counter_round_trips_in_format_3)
{
	for (size_t num6 = 0; num6 <= 2; num6 += 2) {
		struct node_member m;
		struct node_member_msg out;
		uint8_t buf[NODE_MEMBER_MAX_MSG], again[NODE_MEMBER_MAX_MSG];
		size_t n, n2;
		t_entry_n(&m, &matt, 42, &rob, 7, t_v6, num6);
		cr_assert_eq(node_member_encode_entry(buf, sizeof buf, &n, &m), 0);
		cr_assert_eq(buf[1], NODE_MEMBER_FORMAT_N, "an entry with a counter is format 3");
		cr_assert_eq(node_member_parse(&out, buf, n), 0);
		cr_assert_eq(out.entry.n, 7);
		cr_assert_eq(out.entry.num_eps6, num6);
		cr_assert_eq(node_member_encode_entry(again, sizeof again, &n2, &out.entry), 0);
		cr_assert(n2 == n && !memcmp(again, buf, n), "re-encodes to the same bytes");
		for (size_t k = 0; k < n; k++)
			cr_assert_eq(node_member_parse(&out, buf, k), NODE_MEMBER_E_TRUNCATED, "prefix of %zu bytes", k);
		/* It verifies and merges, and the table keeps the counter. */
		struct node_members *t = t_mesh();
		cr_assert_eq(node_members_merge_entry(t, &out.entry, NULL), NODE_MEMBER_CHANGED);
		cr_assert_eq(t->slots[node_members_find(t, matt.pub)].m.n, 7);
		node_members_free(t);
	}
}

/* Counter 0 keeps formats 1 and 2 byte for byte: an entry of a node from
 * before format 3 is what this one writes (and format 3 with 0 is refused:
 * one encoding per entry). */
Test(member, counter_0_keeps_formats_1_and_2)
{
	struct node_member m;
	struct node_member_msg out;
	uint8_t buf[NODE_MEMBER_MAX_MSG], with[NODE_MEMBER_MAX_MSG];
	size_t n, nw;
	t_entry_n(&m, &ana, 5, &rob, 0, NULL, 0);
	cr_assert_eq(node_member_encode_entry(buf, sizeof buf, &n, &m), 0);
	cr_assert_eq(buf[1], NODE_MEMBER_FORMAT);
	t_entry_n(&m, &ana, 5, &rob, 0, t_v6, 1);
	cr_assert_eq(node_member_encode_entry(buf, sizeof buf, &n, &m), 0);
	cr_assert_eq(buf[1], NODE_MEMBER_FORMAT_V6);
	/* The same entry with counter 1: format 3, the counter after the
	 * IPv6 list; patched to 0 it is refused. */
	t_entry_n(&m, &ana, 5, &rob, 1, t_v6, 1);
	cr_assert_eq(node_member_encode_entry(with, sizeof with, &nw, &m), 0);
	cr_assert_eq(nw, n + 4);
	cr_assert_eq(with[1], NODE_MEMBER_FORMAT_N);
	cr_assert(!memcmp(with + 2, buf + 2, n - 160 - 2), "the fields before the counter are format 2's");
	size_t at = n - 160;
	cr_assert(with[at] == 0 && with[at + 1] == 0 && with[at + 2] == 0 && with[at + 3] == 1, "u32 big-endian");
	with[at + 3] = 0;
	cr_assert_eq(node_member_parse(&out, with, nw), NODE_MEMBER_E_BAD_FIELD, "format 3 with counter 0");
}

/* Nobody but the member moves its address: the counter is signed. */
Test(member, changing_the_counter_breaks_the_signature)
{
	struct node_members *t = t_mesh();
	struct node_member m;
	t_entry_n(&m, &ana, 9, &rob, 2, NULL, 0);
	struct node_member bad = m;
	bad.n = 3;
	cr_assert_eq(node_members_merge_entry(t, &bad, NULL), NODE_MEMBER_E_BAD_SIG, "counter raised");
	bad.n = 0;
	cr_assert_eq(node_members_merge_entry(t, &bad, NULL), NODE_MEMBER_E_BAD_SIG, "counter stripped (format 1 copy)");
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_CHANGED);
	/* Through the wire too: the patched counter fails the signature. */
	uint8_t buf[NODE_MEMBER_MAX_MSG];
	size_t n;
	struct node_member_msg out;
	t_entry_n(&m, &ana, 10, &rob, 2, NULL, 0);
	cr_assert_eq(node_member_encode_entry(buf, sizeof buf, &n, &m), 0);
	buf[n - 160 - 1] = 9;
	cr_assert_eq(node_member_parse(&out, buf, n), 0);
	cr_assert_eq(out.entry.n, 9);
	cr_assert_eq(node_members_merge_entry(t, &out.entry, NULL), NODE_MEMBER_E_BAD_SIG);
	node_members_free(t);
}

Test(member, precedence_is_the_smaller_counter_then_the_smaller_node_id)
{
	struct node_member a, b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	strcpy(a.node_id, "node-b");
	strcpy(b.node_id, "node-a");
	cr_assert(!node_member_precedes(&a, &b) && node_member_precedes(&b, &a), "same counter: the smaller id");
	a.n = 0;
	b.n = 1;
	cr_assert(node_member_precedes(&a, &b) && !node_member_precedes(&b, &a), "a member that moved yields");
	b = a;
	cr_assert(!node_member_precedes(&a, &b) && !node_member_precedes(&b, &a), "nobody precedes itself");
}

static int t_u64_cmp(const void *p, const void *q)
{
	uint64_t a = *(const uint64_t *)p, b = *(const uint64_t *)q;
	return a < b ? -1 : a > b;
}

/* Ids "c-<i>" of T_MESH: a (x, y) pair whose IPv4 overlay addresses at
 * counter 0 are equal, x < y, and a z whose address at 0 is y's at 1
 * (found by a birthday search over 60,000 ids; deterministic). */
static void t_colliding_ids(char x[32], char y[32], char z[32])
{
	enum { N = 60000 };
	static uint64_t a0[N]; /* addr << 32 | i, sorted */
	for (uint32_t i = 0; i < N; i++) {
		char id[32];
		snprintf(id, sizeof id, "c-%u", i);
		a0[i] = (uint64_t)overlay_addr4(T_MESH, id, 0) << 32 | i;
	}
	qsort(a0, N, sizeof a0[0], t_u64_cmp);
	for (size_t k = 0; k + 1 < N; k++) {
		if (a0[k] >> 32 != a0[k + 1] >> 32)
			continue;
		/* Either of the pair as y: its address at 1 among the others' at 0. */
		for (int w = 0; w < 2; w++) {
			uint32_t iy = (uint32_t)a0[k + w], ix = (uint32_t)a0[k + 1 - w];
			char idy[32];
			snprintf(idy, sizeof idy, "c-%u", iy);
			uint64_t key = (uint64_t)overlay_addr4(T_MESH, idy, 1) << 32;
			size_t lo = 0, hi = N;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				if (a0[mid] < key)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo == N || a0[lo] >> 32 != key >> 32)
				continue;
			char idx[32];
			snprintf(idx, sizeof idx, "c-%u", ix);
			if (strcmp(idx, idy) >= 0 || (uint32_t)a0[lo] == ix || (uint32_t)a0[lo] == iy)
				continue;
			strcpy(x, idx);
			strcpy(y, idy);
			snprintf(z, 32, "c-%u", (uint32_t)a0[lo]);
			return;
		}
	}
	cr_assert_fail("no colliding ids among %d", N);
}

/* t_merge: k's entry (id, counter cn, version v, admitted by rob) into t. */
static void t_merge(struct node_members *t, struct t_node *k, const char *id, uint32_t cn, uint64_t v)
{
	struct node_member m;
	strcpy(k->id, id);
	t_entry_n(&m, k, v, &rob, cn, NULL, 0);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_CHANGED, "%s", id);
}

/* The resolution, as a pure function of a table: x and y collide at 0
 * (x < y), z's address at 0 is y's at 1. Every node that holds the same
 * entries computes the same counters, so each member moves itself and the
 * others follow its entry. */
Test(member, the_member_that_yields_moves_to_the_smallest_free_counter)
{
	char x[32], y[32], z[32];
	t_colliding_ids(x, y, z);
	cr_log_info("colliding ids: %s %s, and %s", x, y, z);
	cr_assert_eq(overlay_addr4(T_MESH, x, 0), overlay_addr4(T_MESH, y, 0));
	cr_assert_eq(overlay_addr4(T_MESH, z, 0), overlay_addr4(T_MESH, y, 1));
	struct node_members *t = node_members_new(T_MESH, rob.pub);
	struct node_member m;
	t_entry(&m, &rob, 1, &rob);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_CHANGED);
	t_merge(t, &matt, x, 0, 1);
	/* Nobody collides: everyone keeps its counter. */
	cr_assert_eq(node_members_overlay_n(t, matt.pub, x, 0), 0);
	cr_assert_eq(node_members_overlay_n(t, rob.pub, rob.id, 0), 0);
	/* y arrives with counter 0: x precedes (same counter, smaller id). */
	t_merge(t, &ana, y, 0, 1);
	cr_assert_eq(node_members_overlay_n(t, matt.pub, x, 0), 0, "x keeps its address");
	cr_assert_eq(node_members_overlay_n(t, ana.pub, y, 0), 1, "y moves to 1, the smallest free");
	/* y re-signs with 1: stable for both. */
	t_merge(t, &ana, y, 1, 2);
	cr_assert_eq(node_members_overlay_n(t, ana.pub, y, 1), 1);
	cr_assert_eq(node_members_overlay_n(t, matt.pub, x, 0), 0);
	/* z arrives with counter 0 at y's new address: z precedes a member
	 * that moved, whatever the ids; y skips 0 (x) and 1 (z). */
	t_merge(t, &eve, z, 0, 1);
	cr_assert_eq(node_members_overlay_n(t, eve.pub, z, 0), 0, "z keeps its address");
	cr_assert_eq(node_members_overlay_n(t, ana.pub, y, 1), 2, "y moves again, past 0 and 1");
	cr_assert_neq(overlay_addr4(T_MESH, y, 2), overlay_addr4(T_MESH, x, 0));
	node_members_free(t);
}

/* A joiner (no entry in the table yet) yields to every member, even one
 * with a larger id: the later member moves. A removed member's address is
 * free again. */
Test(member, a_joiner_yields_and_a_removed_member_frees_its_address)
{
	char x[32], y[32], z[32];
	t_colliding_ids(x, y, z);
	struct node_members *t = node_members_new(T_MESH, rob.pub);
	struct node_member m;
	t_entry(&m, &rob, 1, &rob);
	cr_assert_eq(node_members_merge_entry(t, &m, NULL), NODE_MEMBER_CHANGED);
	t_merge(t, &ana, y, 0, 1);
	strcpy(matt.id, x);
	cr_assert_eq(node_members_overlay_n(t, matt.pub, x, 0), 1, "the joiner x moves although x < y");
	cr_assert_eq(node_members_overlay_n(t, ana.pub, y, 0), 0, "y, a member, stays");
	/* Both hold entries at 0: y yields to x. After rob removes x, y's
	 * address at 0 collides with nobody: it keeps what it has. */
	t_merge(t, &matt, x, 0, 1);
	cr_assert_eq(node_members_overlay_n(t, ana.pub, y, 0), 1);
	uint8_t sig[64];
	node_member_remove_sign(sig, rob.sign_priv, T_MESH, matt.pub, rob.pub);
	cr_assert_eq(node_members_merge_removal(t, matt.pub, rob.pub, sig, NULL), NODE_MEMBER_CHANGED);
	cr_assert_eq(node_members_overlay_n(t, ana.pub, y, 0), 0);
	node_members_free(t);
}
