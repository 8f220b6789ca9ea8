/* net/addr: host:port and WebSocket URL splitting, the one home of what
 * the STUN server list, the relay client and the bench each parsed. */
#include <criterion/criterion.h>
#include <string.h>

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
