/* relay/cidr: parsing networks and matching client addresses, IPv4 and
 * IPv6, at the edges of each prefix. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "relay/cidr.h"

/* addr as the relay keeps it: IPv4 mapped into IPv6. */
static void key(const char *a, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, a, out + 12) == 1) {
		out[10] = out[11] = 0xff;
		return;
	}
	cr_assert_eq(inet_pton(AF_INET6, a, out), 1, "test address '%s'", a);
}

struct match_case {
	char net[64];
	char addr[48];
	bool want;
};

static struct match_case matches[] = {
	{"10.0.0.0/8", "10.0.0.0", true},
	{"10.0.0.0/8", "10.255.255.255", true},
	{"10.0.0.0/8", "11.0.0.0", false},
	{"10.0.0.0/8", "9.255.255.255", false},
	{"127.0.0.0/8", "127.0.0.1", true},
	{"10.0.0.0/8", "127.0.0.1", false},
	{"127.0.0.1", "127.0.0.1", true},
	{"127.0.0.1/32", "127.0.0.2", false},
	{"192.168.1.128/25", "192.168.1.128", true},
	{"192.168.1.128/25", "192.168.1.255", true},
	{"192.168.1.128/25", "192.168.1.127", false},
	{"172.16.0.0/12", "172.31.255.255", true},
	{"172.16.0.0/12", "172.32.0.0", false},
	{"0.0.0.0/0", "203.0.113.9", true},
	{"0.0.0.0/0", "2001:db8::1", false},      /* IPv4 networks hold IPv4 clients only */
	{"0.0.0.0/0", "::1", false},
	{"::/0", "203.0.113.9", true},            /* ::/0 is every client */
	{"::/0", "2001:db8::1", true},
	{"::1", "::1", true},
	{"::1/128", "::", false},
	{"::1/128", "0.0.0.1", false},            /* ::1 is not 0.0.0.1 */
	{"2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true},
	{"2001:db8::/32", "2001:db9::", false},
	{"2001:db8::/33", "2001:db8:7fff::1", true},
	{"2001:db8::/33", "2001:db8:8000::1", false},
	{"fe80::/10", "febf::1", true},
	{"fe80::/10", "fec0::1", false},
	{"2001:db8::1:0/127", "2001:db8::1:1", true},
	{"2001:db8::1:0/127", "2001:db8::1:2", false},
	{"::ffff:0:0/96", "198.51.100.1", true},  /* the mapped space, written as IPv6 */
	{"::ffff:10.0.0.0/104", "10.1.2.3", true},
	{"::ffff:10.0.0.0/104", "11.1.2.3", false},
};

ParameterizedTestParameters(relay_cidr, match)
{
	return cr_make_param_array(struct match_case, matches, sizeof matches / sizeof matches[0]);
}

ParameterizedTest(struct match_case *c, relay_cidr, match)
{
	struct relay_cidr n;
	uint8_t a[16];
	cr_assert_eq(relay_cidr_parse(&n, c->net, strlen(c->net)), 0, "parse '%s'", c->net);
	key(c->addr, a);
	cr_assert_eq(relay_cidr_match(&n, a), c->want, "%s in %s: want %d", c->addr, c->net, c->want);
}

struct bad_net {
	char text[80];
};

static struct bad_net bad[] = {
	{""},
	{"/8"},
	{"10.0.0.0/"},
	{"10.0.0.0/33"},
	{"10.0.0.0/-1"},
	{"10.0.0.0/+8"},
	{"10.0.0.0/08"},
	{"10.0.0.0/8/8"},
	{"10.0.0.0/8 "},
	{" 10.0.0.0/8"},
	{"10.1.2.3/8"},         /* host bits set */
	{"10.0.0/8"},
	{"10.0.0.256/32"},
	{"010.0.0.0/8"},
	{"::/129"},
	{"2001:db8::1/32"},     /* host bits set */
	{"fe80::1%eth0/128"},
	{"2001:db8::/1000"},
	{"localhost"},
	{"10.0.0.0/8x"},
	{"1111:2222:3333:4444:5555:6666:7777:8888:9999/128"},
	{"0000000000000000000000000000000000000000000000000000000000000000000000/8"},
};

ParameterizedTestParameters(relay_cidr, refuses)
{
	return cr_make_param_array(struct bad_net, bad, sizeof bad / sizeof bad[0]);
}

ParameterizedTest(struct bad_net *c, relay_cidr, refuses)
{
	struct relay_cidr n;
	memset(&n, 0x77, sizeof n);
	cr_assert_eq(relay_cidr_parse(&n, c->text, strlen(c->text)), -EINVAL, "'%s' accepted", c->text);
	cr_assert_eq(n.prefix_len, 0x77, "'%s': output written", c->text);
}

Test(relay_cidr, embedded_nul_refused)
{
	struct relay_cidr n;
	cr_assert_eq(relay_cidr_parse(&n, "10.0.0.0\0/8", 11), -EINVAL);
	cr_assert_eq(relay_cidr_parse(&n, "10.0.0.0/8\0", 11), -EINVAL);
}

Test(relay_cidr, formats_back)
{
	static const char *in[] = {"10.0.0.0/8", "127.0.0.1/32", "0.0.0.0/0", "::/0", "2001:db8::/32", "::1/128"};
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
		struct relay_cidr n;
		char out[RELAY_CIDR_MAX_TEXT];
		cr_assert_eq(relay_cidr_parse(&n, in[i], strlen(in[i])), 0);
		cr_assert_str_eq(relay_cidr_format(&n, out), in[i]);
	}
	struct relay_cidr host;
	char out[RELAY_CIDR_MAX_TEXT];
	relay_cidr_parse(&host, "192.0.2.7", 9);
	cr_assert_str_eq(relay_cidr_format(&host, out), "192.0.2.7/32");
}

Test(relay_cidr, match_any)
{
	struct relay_cidr nets[2];
	uint8_t a[16];
	cr_assert_eq(relay_cidr_parse(&nets[0], "10.0.0.0/8", 10), 0);
	cr_assert_eq(relay_cidr_parse(&nets[1], "fd00::/8", 8), 0);
	key("fd12::3", a);
	cr_assert(relay_cidr_match_any(nets, 2, a));
	key("127.0.0.1", a);
	cr_assert_not(relay_cidr_match_any(nets, 2, a));
	cr_assert_not(relay_cidr_match_any(nets, 0, a));
}
