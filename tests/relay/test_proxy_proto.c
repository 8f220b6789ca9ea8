/* relay/proxy_proto: the PROXY protocol spec's examples (v1 lines, v2
 * blocks laid out field by field), every proper prefix incomplete and every
 * header ending against a PROT_NONE page, malformed lines and blocks, v2
 * with TLVs, the bounds, and the builders round-tripping. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "relay/proxy_proto.h"

/* Copies len bytes so that they end where a PROT_NONE page begins. */
static uint8_t *guarded_copy(const void *src, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (len + page - 1) / page * page + page;
	uint8_t *base = mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(base, MAP_FAILED);
	cr_assert_eq(mprotect(base + span, page, PROT_NONE), 0);
	uint8_t *p = base + span - len;
	if (len)
		memcpy(p, src, len);
	return p;
}

static void guard_free(uint8_t *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (len + page - 1) / page * page + page;
	munmap(p + len - span, span + page);
}

/* Parses buf[0..len) ending against a guard page; and checks that every
 * proper prefix of a header that parses is incomplete. */
static int t_parse(struct relay_proxy_hdr *h, const void *buf, size_t len)
{
	uint8_t *g = guarded_copy(buf, len);
	int r = relay_proxy_parse(h, g, len);
	if (r > 0) {
		/* tlv points into g: check the span before it goes, then
		 * move it onto buf for the caller. */
		cr_assert(h->tlv_len == 0 || (h->tlv >= g && h->tlv + h->tlv_len <= g + r));
		if (h->tlv)
			h->tlv = (const uint8_t *)buf + (h->tlv - g);
	}
	guard_free(g, len);
	if (r > 0)
		for (size_t n = 0; n < (size_t)r; n++) {
			struct relay_proxy_hdr tmp;
			uint8_t *p = guarded_copy(buf, n);
			int pr = relay_proxy_parse(&tmp, p, n);
			guard_free(p, n);
			cr_assert_eq(pr, RELAY_PROXY_INCOMPLETE, "prefix of %zu of %d bytes: %d", n, r, pr);
			cr_assert(relay_proxy_may_start(buf, n));
		}
	return r;
}

static int t_parse_str(struct relay_proxy_hdr *h, const char *s)
{
	return t_parse(h, s, strlen(s));
}

static void t_assert_v4(const uint8_t a[16], const char *want)
{
	char got[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET, a, got, sizeof got);
	cr_assert_str_eq(got, want);
	for (int i = 4; i < 16; i++)
		cr_assert_eq(a[i], 0);
}

static void t_assert_v6(const uint8_t a[16], const char *want)
{
	uint8_t w[16];
	cr_assert_eq(inet_pton(AF_INET6, want, w), 1);
	cr_assert_arr_eq(a, w, 16);
}

/* ---- version 1 ---- */

/* Section 2.1's example. */
Test(relay_proxy_v1, spec_tcp4)
{
	struct relay_proxy_hdr h;
	const char *s = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n";
	int r = t_parse_str(&h, s);
	cr_assert_eq(r, (int)strlen("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"));
	cr_assert_eq(h.version, 1);
	cr_assert_not(h.local);
	cr_assert_eq(h.family, RELAY_PROXY_AF_INET);
	t_assert_v4(h.src_addr, "192.168.0.1");
	t_assert_v4(h.dst_addr, "192.168.0.11");
	cr_assert_eq(h.src_port, 56324);
	cr_assert_eq(h.dst_port, 443);
	cr_assert_eq(h.tlv_len, 0);
}

/* Section 2.1: the worst case TCP6 line is 104 bytes. */
Test(relay_proxy_v1, spec_tcp6_worst_case)
{
	struct relay_proxy_hdr h;
	const char *s = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	cr_assert_eq(strlen(s), 104);
	cr_assert_eq(t_parse_str(&h, s), 104);
	cr_assert_eq(h.family, RELAY_PROXY_AF_INET6);
	t_assert_v6(h.src_addr, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	cr_assert_eq(h.src_port, 65535);
	cr_assert_eq(h.dst_port, 65535);
}

Test(relay_proxy_v1, tcp6_short_forms)
{
	struct relay_proxy_hdr h;
	cr_assert_gt(t_parse_str(&h, "PROXY TCP6 2001:db8::1 ::1 0 8080\r\n"), 0);
	t_assert_v6(h.src_addr, "2001:db8::1");
	t_assert_v6(h.dst_addr, "::1");
	cr_assert_eq(h.src_port, 0);
	cr_assert_eq(h.dst_port, 8080);
}

/* Section 2.1: UNKNOWN, alone or followed by anything up to CRLF (the
 * worst case, 107 bytes, included): the receiver uses the real endpoints. */
Test(relay_proxy_v1, unknown)
{
	struct relay_proxy_hdr h;
	cr_assert_eq(t_parse_str(&h, "PROXY UNKNOWN\r\n"), 15);
	cr_assert_eq(h.family, RELAY_PROXY_AF_UNSPEC);
	const char *worst =
		"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	cr_assert_eq(strlen(worst), RELAY_PROXY_V1_MAX_LEN);
	cr_assert_eq(t_parse_str(&h, worst), RELAY_PROXY_V1_MAX_LEN);
	cr_assert_eq(h.family, RELAY_PROXY_AF_UNSPEC);
}

struct bad_case {
	char in[160];
	int want;
};

static struct bad_case bad_v1[] = {
	{"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n", RELAY_PROXY_E_SYNTAX},     /* bare LF */
	{"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\rX", RELAY_PROXY_E_SYNTAX},    /* bare CR */
	{"PROXY TCP4  192.168.0.1 192.168.0.11 56324 443\r\n", RELAY_PROXY_E_SYNTAX},  /* two spaces */
	{"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 \r\n", RELAY_PROXY_E_SYNTAX},  /* trailing space */
	{"PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n", RELAY_PROXY_E_SYNTAX},       /* a field short */
	{"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 1\r\n", RELAY_PROXY_E_SYNTAX}, /* a field more */
	{"PROXY TCP4\r\n", RELAY_PROXY_E_SYNTAX},
	{"PROXY tcp4 192.168.0.1 192.168.0.11 56324 443\r\n", RELAY_PROXY_E_SYNTAX},   /* case matters */
	{"PROXY UDP4 192.168.0.1 192.168.0.11 56324 443\r\n", RELAY_PROXY_E_SYNTAX},
	{"PROXY \r\n", RELAY_PROXY_E_SYNTAX},
	{"PROXY TCP4 192.168.0.1\t192.168.0.11 56324 443\r\n", RELAY_PROXY_E_SYNTAX},  /* control byte */
	{"PROXY TCP4 192.168.0.1 192.168.0.11 56324 4\xc3\xa9\r\n", RELAY_PROXY_E_SYNTAX}, /* not ASCII */
	{"PROXY TCP4 192.168.000.1 192.168.0.11 56324 443\r\n", RELAY_PROXY_E_ADDRESS}, /* leading zeros */
	{"PROXY TCP4 192.168.0.256 192.168.0.11 56324 443\r\n", RELAY_PROXY_E_ADDRESS},
	{"PROXY TCP4 2001:db8::1 192.168.0.11 56324 443\r\n", RELAY_PROXY_E_ADDRESS},   /* v6 in TCP4 */
	{"PROXY TCP6 192.168.0.1 ::1 56324 443\r\n", RELAY_PROXY_E_ADDRESS},            /* v4 in TCP6 */
	{"PROXY TCP6 fe80::1%eth0 ::1 56324 443\r\n", RELAY_PROXY_E_ADDRESS},           /* zone id */
	{"PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n", RELAY_PROXY_E_PORT},
	{"PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n", RELAY_PROXY_E_PORT},     /* leading zero */
	{"PROXY TCP4 192.168.0.1 192.168.0.11 -1 443\r\n", RELAY_PROXY_E_PORT},
	{"PROXY TCP4 192.168.0.1 192.168.0.11 56324 999999\r\n", RELAY_PROXY_E_PORT},
	{"PROXY TCP4 192.168.0.1 192.168.0.11 56324 0x1bb\r\n", RELAY_PROXY_E_PORT},
	{"PROXy TCP4", RELAY_PROXY_E_NOT_PROXY},
	{"PROXYTCP4", RELAY_PROXY_E_NOT_PROXY},
	{"GET /relay/x HTTP/1.1\r\n", RELAY_PROXY_E_NOT_PROXY},
	{"\x16\x03\x01\x02\x00", RELAY_PROXY_E_NOT_PROXY},                                /* a TLS ClientHello */
	{"\r\n\r\n", RELAY_PROXY_INCOMPLETE},                                            /* v2's start, so far */
};

ParameterizedTestParameters(relay_proxy_v1, refuses)
{
	return cr_make_param_array(struct bad_case, bad_v1, sizeof bad_v1 / sizeof bad_v1[0]);
}

ParameterizedTest(struct bad_case *c, relay_proxy_v1, refuses)
{
	struct relay_proxy_hdr h;
	int r = t_parse_str(&h, c->in);
	cr_assert_eq(r, c->want, "\"%s\": got %d (%s), want %d", c->in, r, relay_proxy_strerror(r), c->want);
}

/* Section 2.1: no CRLF within 107 bytes is too long; 106 bytes are not yet. */
Test(relay_proxy_v1, too_long)
{
	char s[200];
	struct relay_proxy_hdr h;
	memset(s, 'x', sizeof s);
	memcpy(s, "PROXY UNKNOWN ", 14);
	cr_assert_eq(t_parse(&h, s, RELAY_PROXY_V1_MAX_LEN - 1), RELAY_PROXY_INCOMPLETE);
	cr_assert_eq(t_parse(&h, s, RELAY_PROXY_V1_MAX_LEN), RELAY_PROXY_E_TOO_LONG);
	cr_assert_eq(t_parse(&h, s, sizeof s), RELAY_PROXY_E_TOO_LONG);
	/* CRLF that would end at byte 108 */
	memcpy(s + RELAY_PROXY_V1_MAX_LEN - 1, "\r\n", 2);
	cr_assert_eq(t_parse(&h, s, sizeof s), RELAY_PROXY_E_TOO_LONG);
	/* and at byte 107 */
	memcpy(s + RELAY_PROXY_V1_MAX_LEN - 2, "\r\n", 2);
	cr_assert_eq(t_parse(&h, s, sizeof s), RELAY_PROXY_V1_MAX_LEN);
}

/* Every byte value after "PROXY TCP4 " is either a possible next byte or
 * refused at once -- never read past. */
Test(relay_proxy_v1, every_byte_class)
{
	for (unsigned c = 0; c < 256; c++) {
		char s[16] = "PROXY TCP4 1";
		s[12] = (char)c;
		struct relay_proxy_hdr h;
		int r = t_parse(&h, s, 13);
		if (c == '\r' || (c >= 0x20 && c <= 0x7e))
			cr_assert_eq(r, RELAY_PROXY_INCOMPLETE, "byte 0x%02x: %d", c, r);
		else
			cr_assert_eq(r, RELAY_PROXY_E_SYNTAX, "byte 0x%02x: %d", c, r);
	}
}

/* ---- version 2 ---- */

/* Section 2.2: the signature, then ver_cmd, fam and len. */
#define SIG 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A

Test(relay_proxy_v2, tcp4)
{
	static const uint8_t in[] = {
		SIG,
		0x21,                   /* version 2, command PROXY */
		0x11,                   /* AF_INET, STREAM */
		0x00, 0x0C,             /* 12 bytes follow */
		192, 0, 2, 1,           /* src_addr */
		198, 51, 100, 7,        /* dst_addr */
		0xDC, 0x04,             /* src_port 56324 */
		0x01, 0xBB,             /* dst_port 443 */
		'G', 'E', 'T',          /* the proxied stream */
	};
	struct relay_proxy_hdr h;
	cr_assert_eq(t_parse(&h, in, sizeof in), 28);
	cr_assert_eq(h.version, 2);
	cr_assert_not(h.local);
	cr_assert_eq(h.family, RELAY_PROXY_AF_INET);
	cr_assert_eq(h.v2_fam, 0x11);
	t_assert_v4(h.src_addr, "192.0.2.1");
	t_assert_v4(h.dst_addr, "198.51.100.7");
	cr_assert_eq(h.src_port, 56324);
	cr_assert_eq(h.dst_port, 443);
	cr_assert_eq(h.tlv_len, 0);
}

Test(relay_proxy_v2, tcp6)
{
	static const uint8_t in[] = {
		SIG,
		0x21,                   /* version 2, PROXY */
		0x21,                   /* AF_INET6, STREAM */
		0x00, 0x24,             /* 36 bytes */
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, /* 2001:db8::1 */
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, /* 2001:db8::2 */
		0x30, 0x39,             /* 12345 */
		0x1F, 0x90,             /* 8080 */
	};
	struct relay_proxy_hdr h;
	cr_assert_eq(t_parse(&h, in, sizeof in), 52);
	cr_assert_eq(h.family, RELAY_PROXY_AF_INET6);
	t_assert_v6(h.src_addr, "2001:db8::1");
	t_assert_v6(h.dst_addr, "2001:db8::2");
	cr_assert_eq(h.src_port, 12345);
	cr_assert_eq(h.dst_port, 8080);
}

/* LOCAL (HAProxy's health checks with check-send-proxy): whatever follows
 * the length is discarded, the family too (section 2.2). */
Test(relay_proxy_v2, local)
{
	static const uint8_t in[] = {SIG, 0x20, 0x00, 0x00, 0x00};
	static const uint8_t with_block[] = {SIG, 0x20, 0x11, 0x00, 0x03, 0xff, 0xff, 0xff};
	struct relay_proxy_hdr h;
	cr_assert_eq(t_parse(&h, in, sizeof in), 16);
	cr_assert(h.local);
	cr_assert_eq(h.family, RELAY_PROXY_AF_UNSPEC);
	cr_assert_eq(t_parse(&h, with_block, sizeof with_block), 19);
	cr_assert(h.local);
	cr_assert_eq(h.family, RELAY_PROXY_AF_UNSPEC);
	cr_assert_eq(h.tlv_len, 0);
}

/* PROXY with UNSPEC, UNIX or DGRAM: valid, but no TCP address to use. */
Test(relay_proxy_v2, other_families_are_unspec)
{
	uint8_t in[16 + 216] = {SIG, 0x21, 0x31, 0x00, 0xD8}; /* AF_UNIX, STREAM, 216 */
	struct relay_proxy_hdr h;
	cr_assert_eq(t_parse(&h, in, sizeof in), 232);
	cr_assert_eq(h.family, RELAY_PROXY_AF_UNSPEC);
	static const uint8_t dgram[] = {SIG, 0x21, 0x12, 0x00, 0x0C, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2};
	cr_assert_eq(t_parse(&h, dgram, sizeof dgram), 28);
	cr_assert_eq(h.family, RELAY_PROXY_AF_UNSPEC);
	static const uint8_t unspec[] = {SIG, 0x21, 0x00, 0x00, 0x00};
	cr_assert_eq(t_parse(&h, unspec, sizeof unspec), 16);
	cr_assert_eq(h.family, RELAY_PROXY_AF_UNSPEC);
	cr_assert_not(h.local);
}

/* Section 2.2.7: TLVs after the addresses, as HAProxy sends them. */
Test(relay_proxy_v2, tlvs)
{
	static const uint8_t in[] = {
		SIG, 0x21, 0x11,
		0x00, 0x0C + 5 + 14 + 3,          /* addresses + 3 TLVs */
		10, 0, 0, 1, 10, 0, 0, 2, 0x04, 0xD2, 0x00, 0x50,
		0x01, 0x00, 0x02, 'h', '2',       /* PP2_TYPE_ALPN */
		0x02, 0x00, 0x0B, 'r', 'e', 'l', 'a', 'y', '.', 't', 'e', 's', 't', 's', /* PP2_TYPE_AUTHORITY */
		0x04, 0x00, 0x00,                 /* PP2_TYPE_NOOP, empty */
	};
	struct relay_proxy_hdr h;
	struct relay_proxy_tlv t;
	size_t off = 0;
	cr_assert_eq(t_parse(&h, in, sizeof in), (int)sizeof in);
	t_assert_v4(h.src_addr, "10.0.0.1");
	cr_assert_eq(h.src_port, 1234);
	cr_assert_eq(h.dst_port, 80);
	cr_assert_eq(h.tlv_len, 22);
	cr_assert(relay_proxy_tlv_next(&h, &off, &t));
	cr_assert_eq(t.type, 0x01);
	cr_assert_eq(t.len, 2);
	cr_assert_arr_eq(t.value, "h2", 2);
	cr_assert(relay_proxy_tlv_next(&h, &off, &t));
	cr_assert_eq(t.type, 0x02);
	cr_assert_eq(t.len, 11);
	cr_assert_arr_eq(t.value, "relay.tests", 11);
	cr_assert(relay_proxy_tlv_next(&h, &off, &t));
	cr_assert_eq(t.type, 0x04);
	cr_assert_eq(t.len, 0);
	cr_assert_not(relay_proxy_tlv_next(&h, &off, &t));
}

struct bad_v2_case {
	uint8_t in[40];
	size_t len;
	int want;
};

static struct bad_v2_case bad_v2[] = {
	{{SIG, 0x11, 0x11, 0, 12}, 16, RELAY_PROXY_E_VERSION},      /* version 1 */
	{{SIG, 0x31, 0x11, 0, 12}, 16, RELAY_PROXY_E_VERSION},      /* version 3 */
	{{SIG, 0x22, 0x11, 0, 12}, 16, RELAY_PROXY_E_COMMAND},      /* command 2 */
	{{SIG, 0x2F}, 13, RELAY_PROXY_E_COMMAND},                   /* refused before the rest */
	{{SIG, 0x21, 0x41, 0, 12}, 16, RELAY_PROXY_E_FAMILY},       /* AF 4 */
	{{SIG, 0x21, 0x13, 0, 12}, 16, RELAY_PROXY_E_FAMILY},       /* transport 3 */
	{{SIG, 0x21, 0x11, 0x04, 0x01}, 16, RELAY_PROXY_E_TOO_LONG},/* 1025 > our bound */
	{{SIG, 0x21, 0x11, 0xFF, 0xFF}, 16, RELAY_PROXY_E_TOO_LONG},
	{{SIG, 0x21, 0x11, 0, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 27, RELAY_PROXY_E_ADDRESS},
	{{SIG, 0x21, 0x21, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 28, RELAY_PROXY_E_ADDRESS}, /* v6 needs 36 */
	/* TLVs that do not tile the rest: 2 stray bytes, a length past the end */
	{{SIG, 0x21, 0x11, 0, 14, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2, 0x04, 0x00}, 30, RELAY_PROXY_E_TLV},
	{{SIG, 0x21, 0x11, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2, 0x01, 0x00, 0x02, 'h'}, 32, RELAY_PROXY_E_TLV},
	{{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0B}, 12, RELAY_PROXY_E_NOT_PROXY},
	{{0x0D, 0x0A, 0x0D, 0x0B}, 4, RELAY_PROXY_E_NOT_PROXY},
	{{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D}, 6, RELAY_PROXY_INCOMPLETE},
	{{SIG, 0x21, 0x11, 0, 12, 1, 2, 3}, 19, RELAY_PROXY_INCOMPLETE},
};

ParameterizedTestParameters(relay_proxy_v2, refuses)
{
	return cr_make_param_array(struct bad_v2_case, bad_v2, sizeof bad_v2 / sizeof bad_v2[0]);
}

ParameterizedTest(struct bad_v2_case *c, relay_proxy_v2, refuses)
{
	struct relay_proxy_hdr h;
	int r = t_parse(&h, c->in, c->len);
	cr_assert_eq(r, c->want, "case of %zu bytes: got %d (%s), want %d", c->len, r, relay_proxy_strerror(r), c->want);
}

/* The largest header we take, and one byte over. */
Test(relay_proxy_v2, bound)
{
	static uint8_t in[RELAY_PROXY_V2_MAX_LEN];
	static const uint8_t head[] = {SIG, 0x21, 0x11, RELAY_PROXY_V2_MAX_PAYLOAD >> 8, RELAY_PROXY_V2_MAX_PAYLOAD & 0xff};
	memcpy(in, head, sizeof head);
	/* addresses, then one NOOP TLV filling the rest */
	size_t rest = RELAY_PROXY_V2_MAX_PAYLOAD - 12 - 3;
	uint8_t *t = in + 16 + 12;
	t[0] = 0x04;
	t[1] = (uint8_t)(rest >> 8);
	t[2] = (uint8_t)rest;
	struct relay_proxy_hdr h;
	int r = relay_proxy_parse(&h, in, sizeof in);
	cr_assert_eq(r, RELAY_PROXY_V2_MAX_LEN);
	cr_assert_eq(h.tlv_len, RELAY_PROXY_V2_MAX_PAYLOAD - 12);
	cr_assert_eq(relay_proxy_parse(&h, in, sizeof in - 1), RELAY_PROXY_INCOMPLETE);
}

/* ---- builders ---- */

Test(relay_proxy_build, round_trips)
{
	struct relay_proxy_hdr cases[4] = {
		{.family = RELAY_PROXY_AF_INET, .src_port = 1, .dst_port = 65535},
		{.family = RELAY_PROXY_AF_INET6, .src_port = 40000, .dst_port = 443},
		{.family = RELAY_PROXY_AF_UNSPEC},
		{.local = true},
	};
	inet_pton(AF_INET, "127.0.0.2", cases[0].src_addr);
	inet_pton(AF_INET, "127.0.0.1", cases[0].dst_addr);
	inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", cases[1].src_addr);
	inet_pton(AF_INET6, "2001:db8::2", cases[1].dst_addr);
	for (size_t i = 0; i < 4; i++) {
		uint8_t out[RELAY_PROXY_MAX_LEN];
		struct relay_proxy_hdr h;
		for (int v = 1; v <= 2; v++) {
			int n = v == 1 ? relay_proxy_build_v1(out, sizeof out, &cases[i])
				       : relay_proxy_build_v2(out, sizeof out, &cases[i]);
			cr_assert_gt(n, 0, "case %zu v%d", i, v);
			cr_assert_eq(t_parse(&h, out, (size_t)n), n, "case %zu v%d", i, v);
			cr_assert_eq(h.version, v);
			bool addr = cases[i].family != RELAY_PROXY_AF_UNSPEC && !cases[i].local;
			cr_assert_eq(h.family, addr ? cases[i].family : RELAY_PROXY_AF_UNSPEC);
			if (addr) {
				cr_assert_arr_eq(h.src_addr, cases[i].src_addr, 16);
				cr_assert_arr_eq(h.dst_addr, cases[i].dst_addr, 16);
				cr_assert_eq(h.src_port, cases[i].src_port);
				cr_assert_eq(h.dst_port, cases[i].dst_port);
			}
			/* Every shorter buffer is no room, never an overrun. */
			for (size_t cap = 0; cap < (size_t)n; cap++) {
				uint8_t *g = guarded_copy(out, cap);
				int m = v == 1 ? relay_proxy_build_v1(g, cap, &cases[i]) : relay_proxy_build_v2(g, cap, &cases[i]);
				guard_free(g, cap);
				cr_assert_eq(m, RELAY_PROXY_E_NO_ROOM, "case %zu v%d cap %zu", i, v, cap);
			}
		}
	}
}

/* ---- the fuzz corpus: bad-* fail for good, the others parse ---- */

Test(relay_proxy_corpus, bad_files_fail_good_files_parse)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", __FILE__);
	char *slash = strrchr(dir, '/');
	cr_assert_not_null(slash, "__FILE__ is %s", __FILE__);
	snprintf(slash, sizeof dir - (size_t)(slash - dir), "/../fuzz/corpus/proxy");
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "cannot open %s", dir);
	int num_bad = 0, num_good = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096 + 256];
		static uint8_t data[1 << 16];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		cr_assert_not_null(f, "%s", path);
		size_t len = fread(data, 1, sizeof data, f);
		fclose(f);
		struct relay_proxy_hdr h;
		int r = relay_proxy_parse(&h, data, len);
		if (!strncmp(e->d_name, "bad-", 4)) {
			cr_assert(r < 0 && r != RELAY_PROXY_INCOMPLETE, "%s: %d", e->d_name, r);
			num_bad++;
		} else {
			cr_assert_gt(r, 0, "%s: %s", e->d_name, relay_proxy_strerror(r));
			num_good++;
		}
	}
	closedir(d);
	cr_assert_gt(num_bad, 5);
	cr_assert_gt(num_good, 5);
}
