/* net/addr: host:port and WebSocket URL splitting, the one home of what
 * the STUN server list, the relay client and the bench each parsed. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "net/addr.h"

static void expect_split(const char *s, const char *host, bool bracketed, bool has_port, const char *port)
{
	struct net_hostport hp;
	cr_assert_eq(net_hostport_split(&hp, s, strlen(s)), NET_ADDR_OK, "%s", s);
	cr_assert_eq(hp.host_len, strlen(host), "%s: host length %zu", s, hp.host_len);
	cr_assert(!memcmp(hp.host, host, hp.host_len), "%s: host", s);
	cr_assert_eq(hp.bracketed, bracketed, "%s: bracketed", s);
	cr_assert_eq(hp.has_port, has_port, "%s: has_port", s);
	if (has_port) {
		cr_assert_eq(hp.port_len, strlen(port), "%s: port length", s);
		cr_assert(!memcmp(hp.port, port, hp.port_len), "%s: port", s);
	}
}

Test(net_addr, hostport_forms)
{
	expect_split("example.org", "example.org", false, false, NULL);
	expect_split("example.org:3478", "example.org", false, true, "3478");
	expect_split("192.0.2.1:80", "192.0.2.1", false, true, "80");
	expect_split("[2001:db8::1]:443", "2001:db8::1", true, true, "443");
	expect_split("[::1]", "::1", true, false, NULL);
	/* More than one colon without brackets: a bare IPv6 literal, no port. */
	expect_split("2001:db8::1", "2001:db8::1", false, false, NULL);
	/* Empty pieces are the caller's to refuse. */
	expect_split("host:", "host", false, true, "");
	expect_split("[::1]:", "::1", true, true, "");
	expect_split(":80", "", false, true, "80");
}

Test(net_addr, hostport_malformed_brackets)
{
	struct net_hostport hp;
	cr_assert_eq(net_hostport_split(&hp, "[::1", 4), NET_ADDR_E_UNCLOSED);
	cr_assert_eq(net_hostport_split(&hp, "[::1]x", 6), NET_ADDR_E_AFTER_BRACKET);
	cr_assert_eq(net_hostport_split(&hp, "[::1]80", 7), NET_ADDR_E_AFTER_BRACKET);
	/* The length bounds the read: a ']' past len is not seen. */
	cr_assert_eq(net_hostport_split(&hp, "[::1]:80", 4), NET_ADDR_E_UNCLOSED);
}

Test(net_addr, port_parse)
{
	uint16_t p = 7;
	cr_assert(net_port_parse("1", 1, &p) && p == 1);
	cr_assert(net_port_parse("65535", 5, &p) && p == 65535);
	p = 7;
	cr_assert(!net_port_parse("0", 1, &p));
	cr_assert(!net_port_parse("65536", 5, &p));
	cr_assert(!net_port_parse("", 0, &p));
	cr_assert(!net_port_parse("8o", 2, &p));
	cr_assert(!net_port_parse("+80", 3, &p));
	cr_assert(!net_port_parse("000080", 6, &p));
	cr_assert_eq(p, 7, "a refused port must not be written");
}

Test(net_addr, ws_url_split)
{
	struct net_ws_url u;
	cr_assert_eq(net_ws_url_split(&u, "ws://relay.example.org:8080/base/"), NET_ADDR_OK);
	cr_assert(!u.tls);
	cr_assert_eq(u.authority_len, strlen("relay.example.org:8080"));
	cr_assert(!memcmp(u.authority, "relay.example.org:8080", u.authority_len));
	cr_assert_str_eq(u.path, "/base/");
	cr_assert_eq(net_ws_url_split(&u, "wss://[::1]:443"), NET_ADDR_OK);
	cr_assert(u.tls);
	cr_assert_str_eq(u.path, "");
	cr_assert_eq(u.authority_len, strlen("[::1]:443"));
	cr_assert_eq(net_ws_url_split(&u, "ws://h?x=1"), NET_ADDR_OK);
	cr_assert_eq(u.authority_len, 1);
	cr_assert_str_eq(u.path, "?x=1");
	cr_assert_eq(net_ws_url_split(&u, "http://h"), NET_ADDR_E_SCHEME);
	cr_assert_eq(net_ws_url_split(&u, "WS://h"), NET_ADDR_E_SCHEME);
	cr_assert_eq(net_ws_url_split(&u, "ws://"), NET_ADDR_E_EMPTY);
	cr_assert_eq(net_ws_url_split(&u, "wss:///path"), NET_ADDR_E_EMPTY);
}

/* --- [v6]:port in what people write ---------------------------------------- */

Test(net_addr, ws_url_with_ipv6_literal)
{
	struct net_ws_url u;
	struct net_hostport hp;
	uint16_t port = 0;
	cr_assert_eq(net_ws_url_split(&u, "ws://[2001:db8::7]:8080/relay/abc"), NET_ADDR_OK);
	cr_assert_str_eq(u.path, "/relay/abc");
	cr_assert_eq(net_hostport_split(&hp, u.authority, u.authority_len), NET_ADDR_OK);
	cr_assert(hp.bracketed && hp.has_port);
	cr_assert_eq(hp.host_len, strlen("2001:db8::7"));
	cr_assert(!memcmp(hp.host, "2001:db8::7", hp.host_len));
	cr_assert(net_port_parse(hp.port, hp.port_len, &port) && port == 8080);
	/* No port: the scheme's default is the caller's. */
	cr_assert_eq(net_ws_url_split(&u, "wss://[::1]"), NET_ADDR_OK);
	cr_assert_eq(net_hostport_split(&hp, u.authority, u.authority_len), NET_ADDR_OK);
	cr_assert(hp.bracketed && !hp.has_port && hp.host_len == 3);
	/* A zone index stays part of the host (RFC 6874 writes it %25). */
	cr_assert_eq(net_ws_url_split(&u, "ws://[fe80::1%25eth0]:80"), NET_ADDR_OK);
	cr_assert_eq(net_hostport_split(&hp, u.authority, u.authority_len), NET_ADDR_OK);
	cr_assert_eq(hp.host_len, strlen("fe80::1%25eth0"));
}

Test(net_addr, ws_url_with_malformed_ipv6_literal)
{
	struct net_ws_url u;
	struct net_hostport hp;
	uint16_t port = 7;
	/* Unclosed bracket: the '/' ends the authority before any ']'. */
	cr_assert_eq(net_ws_url_split(&u, "ws://[::1/relay"), NET_ADDR_OK);
	cr_assert_eq(net_hostport_split(&hp, u.authority, u.authority_len), NET_ADDR_E_UNCLOSED);
	cr_assert_eq(net_ws_url_split(&u, "ws://[::1]8080/"), NET_ADDR_OK);
	cr_assert_eq(net_hostport_split(&hp, u.authority, u.authority_len), NET_ADDR_E_AFTER_BRACKET);
	cr_assert_eq(net_ws_url_split(&u, "ws://[::1]:/"), NET_ADDR_OK);
	cr_assert_eq(net_hostport_split(&hp, u.authority, u.authority_len), NET_ADDR_OK);
	cr_assert(hp.has_port && !net_port_parse(hp.port, hp.port_len, &port), "an empty port is no port");
	cr_assert_eq(net_ws_url_split(&u, "ws://[::1]:99999"), NET_ADDR_OK);
	cr_assert_eq(net_hostport_split(&hp, u.authority, u.authority_len), NET_ADDR_OK);
	cr_assert(!net_port_parse(hp.port, hp.port_len, &port));
	cr_assert_eq(port, 7);
}

/* --- address keys and the /64 ---------------------------------------------- */

static void key_of(const char *text, uint8_t key[16])
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		net_addr_key((struct sockaddr *)sin, sizeof *sin, key);
		return;
	}
	cr_assert_eq(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1, "%s", text);
	sin6->sin6_family = AF_INET6;
	net_addr_key((struct sockaddr *)sin6, sizeof *sin6, key);
}

static void limit_of(const char *text, uint8_t out[16])
{
	uint8_t key[16];
	key_of(text, key);
	net_addr_key_limit(key, out);
}

Test(net_addr, key_is_one_form_for_both_families)
{
	uint8_t a[16], b[16];
	char s[NET_ADDR_KEY_STRLEN];
	key_of("192.0.2.1", a);
	key_of("::ffff:192.0.2.1", b);
	cr_assert_arr_eq(a, b, 16, "an IPv4 client on a dual-stack socket must count as itself");
	cr_assert(net_addr_key_is_v4(a));
	cr_assert_str_eq(net_addr_key_str(a, s), "192.0.2.1");
	key_of("::1", a);
	cr_assert(!net_addr_key_is_v4(a), "::1 is not 0.0.0.1");
	cr_assert_str_eq(net_addr_key_str(a, s), "::1");
	key_of("2001:db8::1", a);
	cr_assert_str_eq(net_addr_key_str(a, s), "2001:db8::1");
	/* Too short for its family, or another family: all zero. */
	struct sockaddr_in6 short6 = {.sin6_family = AF_INET6};
	memset(a, 0xa5, sizeof a);
	net_addr_key((struct sockaddr *)&short6, sizeof(struct sockaddr_in), a);
	cr_assert_arr_eq(a, (uint8_t[16]){0}, 16);
	struct sockaddr un = {.sa_family = AF_UNIX};
	memset(a, 0xa5, sizeof a);
	net_addr_key(&un, sizeof un, a);
	cr_assert_arr_eq(a, (uint8_t[16]){0}, 16);
}

struct limit_case {
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN]; /* arrays: the table is copied to the test process */
	bool same;                                      /* counted under one limit */
};

static struct limit_case limit_cases[] = {
	/* One /64: one host's SLAAC and privacy addresses, or one LAN. */
	{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true},
	{"2001:db8:1:2:a:b:c:d", "2001:db8:1:2::", true},
	/* Neighbouring /64s are other customers' links. */
	{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
	{"2001:db8:1:2::1", "2001:db9:1:2::1", false},
	/* IPv4: the whole address, never a prefix. */
	{"192.0.2.1", "192.0.2.2", false},
	{"192.0.2.1", "::ffff:192.0.2.1", true},
	/* The IPv4-mapped /96 is not an IPv6 /64 of its own. */
	{"::ffff:192.0.2.1", "::ffff:198.51.100.1", false},
	{"::1", "::2", true},
};

ParameterizedTestParameters(net_addr, limit_key_buckets_ipv6_by_64)
{
	return cr_make_param_array(struct limit_case, limit_cases, sizeof limit_cases / sizeof limit_cases[0]);
}

ParameterizedTest(struct limit_case *c, net_addr, limit_key_buckets_ipv6_by_64)
{
	uint8_t a[16], b[16];
	limit_of(c->a, a);
	limit_of(c->b, b);
	cr_assert_eq(memcmp(a, b, 16) == 0, c->same, "%s and %s: want %s", c->a, c->b,
		     c->same ? "one limit" : "two limits");
}

Test(net_addr, limit_key_in_place)
{
	uint8_t k[16];
	char s[NET_ADDR_KEY_STRLEN];
	key_of("2001:db8:1:2:3:4:5:6", k);
	net_addr_key_limit(k, k);
	cr_assert_str_eq(net_addr_key_str(k, s), "2001:db8:1:2::");
	key_of("203.0.113.9", k);
	net_addr_key_limit(k, k);
	cr_assert_str_eq(net_addr_key_str(k, s), "203.0.113.9");
}
