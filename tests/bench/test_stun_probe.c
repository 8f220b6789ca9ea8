/* bench/stun_probe: the hand-built STUN request, the reflector's answer and
 * the answer check, field by field (RFC 8489 §5, §6, §14.2); the garbage
 * flood's datagrams, each decoded by stun/msg.h. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "bench/stun_probe.h"
#include "stun/msg.h"
#include "stun/status.h"

static const uint32_t TAG = 0xa1b2c3d4u;
static const uint64_t STAMP = 0x0102030405060708ull;

Test(bench_stun_probe, request_is_a_bare_binding_header)
{
	uint8_t req[BENCH_STUN_HEADER_LEN];
	bench_stun_request(req, TAG, STAMP);
	static const uint8_t want[BENCH_STUN_HEADER_LEN] = {
		0x00, 0x01,             /* Binding request */
		0x00, 0x00,             /* no attributes */
		0x21, 0x12, 0xa4, 0x42, /* magic cookie */
		0xa1, 0xb2, 0xc3, 0xd4, /* transaction id: tag ... */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* ... and stamp */
	};
	cr_assert_arr_eq(req, want, sizeof want);
}

Test(bench_stun_probe, reflector_answers_with_the_xor_mapped_sender)
{
	uint8_t req[BENCH_STUN_HEADER_LEN], ans[BENCH_STUN_REFLECT_MAX];
	struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(54321)};
	inet_pton(AF_INET, "192.0.2.7", &from.sin_addr);
	bench_stun_request(req, TAG, STAMP);
	size_t n = bench_stun_reflect(req, sizeof req, (const struct sockaddr *)&from, ans, sizeof ans);
	cr_assert_eq(n, 32);
	cr_assert_eq(ans[0], 0x01);
	cr_assert_eq(ans[1], 0x01);                          /* Binding success */
	cr_assert_eq(ans[2] << 8 | ans[3], 12);              /* one attribute of 8 */
	cr_assert_arr_eq(ans + 4, req + 4, 16);              /* cookie and id echoed */
	cr_assert_eq(ans[20] << 8 | ans[21], 0x0020);        /* XOR-MAPPED-ADDRESS */
	cr_assert_eq(ans[22] << 8 | ans[23], 8);
	cr_assert_eq(ans[25], 0x01);                         /* IPv4 */
	cr_assert_eq((ans[26] << 8 | ans[27]) ^ 0x2112, 54321);
	uint8_t ip[4];
	for (int i = 0; i < 4; i++)
		ip[i] = ans[28 + i] ^ ans[4 + i];
	cr_assert_arr_eq(ip, &from.sin_addr, 4);

	uint64_t t = 0;
	bool err = true;
	cr_assert(bench_stun_answer_check(ans, n, TAG, &t, &err));
	cr_assert_eq(t, STAMP);
	cr_assert_not(err);
}

Test(bench_stun_probe, reflector_answers_ipv6_with_the_id_in_the_xor)
{
	uint8_t req[BENCH_STUN_HEADER_LEN], ans[BENCH_STUN_REFLECT_MAX];
	struct sockaddr_in6 from = {.sin6_family = AF_INET6, .sin6_port = htons(3478)};
	inet_pton(AF_INET6, "2001:db8::1", &from.sin6_addr);
	bench_stun_request(req, TAG, STAMP);
	size_t n = bench_stun_reflect(req, sizeof req, (const struct sockaddr *)&from, ans, sizeof ans);
	cr_assert_eq(n, BENCH_STUN_REFLECT_MAX);
	cr_assert_eq(ans[25], 0x02);
	uint8_t ip[16];
	for (int i = 0; i < 16; i++)
		ip[i] = ans[28 + i] ^ req[4 + i];
	cr_assert_arr_eq(ip, &from.sin6_addr, 16);
	cr_assert_eq(bench_stun_reflect(req, sizeof req, (const struct sockaddr *)&from, ans, n - 1), 0, "no room");
}

Test(bench_stun_probe, reflector_ignores_what_is_not_a_binding_request)
{
	uint8_t req[BENCH_STUN_HEADER_LEN], ans[BENCH_STUN_REFLECT_MAX];
	struct sockaddr_in from = {.sin_family = AF_INET};
	bench_stun_request(req, TAG, STAMP);
	cr_assert_eq(bench_stun_reflect(req, sizeof req - 1, (const struct sockaddr *)&from, ans, sizeof ans), 0);
	req[4] ^= 1; /* cookie */
	cr_assert_eq(bench_stun_reflect(req, sizeof req, (const struct sockaddr *)&from, ans, sizeof ans), 0);
	req[4] ^= 1;
	req[1] = 0x11; /* an indication */
	cr_assert_eq(bench_stun_reflect(req, sizeof req, (const struct sockaddr *)&from, ans, sizeof ans), 0);
}

Test(bench_stun_probe, answer_check_rejects_every_broken_field)
{
	uint8_t req[BENCH_STUN_HEADER_LEN], ans[BENCH_STUN_REFLECT_MAX], bad[BENCH_STUN_REFLECT_MAX];
	struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(1)};
	bench_stun_request(req, TAG, STAMP);
	size_t n = bench_stun_reflect(req, sizeof req, (const struct sockaddr *)&from, ans, sizeof ans);
	uint64_t t;
	bool err;
	cr_assert_not(bench_stun_answer_check(ans, n, TAG ^ 1, &t, &err), "another run's tag");
	cr_assert_not(bench_stun_answer_check(ans, n - 4, TAG, &t, &err), "length field beyond the datagram");
	cr_assert_not(bench_stun_answer_check(ans, 19, TAG, &t, &err), "shorter than a header");
	cr_assert_not(bench_stun_answer_check(req, sizeof req, TAG, &t, &err), "a request is not an answer");
	static const size_t flip[] = {0, 1, 3, 4, 7};
	for (size_t i = 0; i < sizeof flip / sizeof flip[0]; i++) {
		memcpy(bad, ans, n);
		bad[flip[i]] ^= 0x40;
		cr_assert_not(bench_stun_answer_check(bad, n, TAG, &t, &err), "byte %zu flipped", flip[i]);
	}
	memcpy(bad, ans, n);
	bad[1] = 0x11; /* Binding error response */
	cr_assert(bench_stun_answer_check(bad, n, TAG, &t, &err));
	cr_assert(err);
}

/* --- the garbage flood: each kind is what it claims, decoded by stun/msg.h --- */

struct garbage_case {
	enum bench_stun_garbage kind;
	int parse;      /* stun_msg_parse's verdict */
	size_t len;     /* fixed length, 0: varies */
};

static const struct garbage_case garbage_cases[] = {
	{BENCH_STUN_GARBAGE_SHORT, STUN_E_TRUNCATED, 20},
	{BENCH_STUN_GARBAGE_BAD_MAGIC, STUN_E_BAD_MAGIC, 20},
	{BENCH_STUN_GARBAGE_BAD_LENGTH, STUN_E_BAD_LENGTH, 28},
	{BENCH_STUN_GARBAGE_UNKNOWN_ATTR, STUN_OK, 28},
	{BENCH_STUN_GARBAGE_OVERSIZE, STUN_OK, BENCH_STUN_GARBAGE_MAX},
};

ParameterizedTestParameters(bench_stun_probe, garbage_fails_for_its_stated_reason)
{
	return cr_make_param_array(struct garbage_case, garbage_cases, sizeof garbage_cases / sizeof garbage_cases[0]);
}

ParameterizedTest(const struct garbage_case *c, bench_stun_probe, garbage_fails_for_its_stated_reason)
{
	static uint8_t buf[BENCH_STUN_GARBAGE_MAX];
	uint64_t rng = 0x1234567u + (uint64_t)c->kind;
	for (int seed = 0; seed < 200; seed++) {
		size_t n = bench_stun_garbage(buf, sizeof buf, c->kind, &rng);
		struct stun_msg m;
		cr_assert_eq(n, c->len, "%s: length %zu", bench_stun_garbage_name(c->kind), n);
		int rc = stun_msg_parse(&m, buf, n);
		cr_assert_eq(rc, c->parse, "%s: parse says %d (%s), want %d", bench_stun_garbage_name(c->kind), rc,
			     stun_strerror(rc), c->parse);
		cr_assert_eq(buf[0] << 8 | buf[1], STUN_BINDING_REQUEST, "%s: a Binding request",
			     bench_stun_garbage_name(c->kind));
		cr_assert_eq(bench_stun_garbage(buf, n - 1, c->kind, &rng), 0, "%s: no room", bench_stun_garbage_name(c->kind));
	}
}

Test(bench_stun_probe, garbage_unknown_attr_asks_for_a_420)
{
	uint8_t buf[64];
	uint64_t rng = 7;
	size_t n = bench_stun_garbage(buf, sizeof buf, BENCH_STUN_GARBAGE_UNKNOWN_ATTR, &rng);
	struct stun_msg m;
	cr_assert_eq(stun_msg_parse(&m, buf, n), STUN_OK);
	uint16_t unknown[4];
	cr_assert_eq(stun_msg_unknown_required(&m, NULL, 0, unknown, 4), 1);
	cr_assert_eq(unknown[0], BENCH_STUN_GARBAGE_ATTR_REQUIRED);
	cr_assert_lt(unknown[0], 0x8000, "comprehension-required");
}

Test(bench_stun_probe, garbage_oversize_is_only_too_big)
{
	static uint8_t buf[BENCH_STUN_GARBAGE_MAX];
	uint64_t rng = 11;
	size_t n = bench_stun_garbage(buf, sizeof buf, BENCH_STUN_GARBAGE_OVERSIZE, &rng);
	struct stun_msg m;
	cr_assert_eq(stun_msg_parse(&m, buf, n), STUN_OK);
	uint16_t unknown[4];
	cr_assert_eq(stun_msg_unknown_required(&m, NULL, 0, unknown, 4), 0, "only an optional attribute");
	/* core/reactor.h: datagram buffers are 2 KiB, receive header included. */
	cr_assert_gt(n, 2048);
	cr_assert_leq(n, 65507, "one loopback datagram");
}

Test(bench_stun_probe, garbage_random_is_never_stun)
{
	uint8_t buf[BENCH_STUN_GARBAGE_RANDOM_MAX];
	uint64_t rng = 42;
	unsigned under_header = 0, not_stun = 0;
	for (int i = 0; i < 20000; i++) {
		size_t n = bench_stun_garbage(buf, sizeof buf, BENCH_STUN_GARBAGE_RANDOM, &rng);
		cr_assert(n >= 1 && n <= BENCH_STUN_GARBAGE_RANDOM_MAX, "length %zu", n);
		struct stun_msg m;
		int rc = stun_msg_parse(&m, buf, n);
		cr_assert_neq(rc, STUN_OK, "draw %d parsed", i);
		cr_assert_not(stun_is_message(buf, n));
		under_header += rc == STUN_E_TRUNCATED;
		not_stun += rc == STUN_E_NOT_STUN;
	}
	/* Uniform lengths: about 3.5 % under a header; three in four of the rest
	 * have a top bit set. Loose bounds: the draws are fixed by the seed. */
	cr_assert(under_header > 300 && under_header < 1200, "%u under 20 bytes", under_header);
	cr_assert(not_stun > 12000, "%u not STUN", not_stun);
}

Test(bench_stun_probe, garbage_kinds_are_named)
{
	uint8_t buf[BENCH_STUN_GARBAGE_MAX];
	uint64_t rng = 1;
	for (int k = 0; k < BENCH_STUN_GARBAGE_KINDS; k++)
		cr_assert_str_neq(bench_stun_garbage_name(k), "unknown", "kind %d", k);
	cr_assert_str_eq(bench_stun_garbage_name(BENCH_STUN_GARBAGE_KINDS), "unknown");
	cr_assert_str_eq(bench_stun_garbage_name(-1), "unknown");
	cr_assert_eq(bench_stun_garbage(buf, sizeof buf, BENCH_STUN_GARBAGE_KINDS, &rng), 0);
}
