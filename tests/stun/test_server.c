/* Tests for stun/server.h: the server on a real runtime, driven over
 * loopback by blocking client sockets. No fixed ports: the server binds
 * port 0 and the tests read the ports back. Silence (a dropped datagram) is
 * observed through the drop counters, synchronised by a later request that
 * must be answered, never by sleeping. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>

#include "stun/addr.h"
#include "t_stun.h"

/* binding_roundtrip sends a plain Binding request from fd and checks the
 * success answer carries the client's own address. */
static void binding_roundtrip(int fd, const struct sockaddr_storage *me, socklen_t me_len,
			      const struct sockaddr_storage *server)
{
	struct t_req r;
	uint8_t buf[1024];
	struct stun_msg m;
	struct stun_addr got, want;

	t_req_init(&r, STUN_BINDING_REQUEST);
	t_req_finish(&r, false);
	t_send(fd, r.buf, r.len, server);
	t_expect_answer(fd, &r, buf, sizeof buf, &m, NULL);
	cr_assert_eq(m.type, STUN_BINDING_SUCCESS);
	cr_assert_eq(stun_msg_get_xor_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, &got), STUN_OK);
	stun_addr_from_sockaddr(&want, (const struct sockaddr *)me, me_len);
	cr_assert(stun_addr_equal(&got, &want), "XOR-MAPPED-ADDRESS is not the client's address");
}

Test(stun_server, answers_binding_with_xor_mapped_address_software_fingerprint, .timeout = 20)
{
	struct t_server t;
	struct stun_server_opts o = t_opts("127.0.0.1", NULL);
	struct sockaddr_storage me, from;
	socklen_t me_len;
	struct t_req r;
	uint8_t buf[1024];
	struct stun_msg m;
	struct stun_addr got, want;
	const uint8_t *sw;
	size_t sw_len;

	t_server_start(&t, &o, 1);
	struct sockaddr_storage srv = t_server_addr(&t, STUN_SOCK_PRIMARY);
	cr_assert_neq(t_port_of(&srv), 0, "port 0 must be resolved by stun_server_new");
	int fd = t_udp_on("127.0.0.1", &me, &me_len);

	t_req_init(&r, STUN_BINDING_REQUEST);
	t_req_finish(&r, true);
	t_send(fd, r.buf, r.len, &srv);
	t_expect_answer(fd, &r, buf, sizeof buf, &m, &from);
	cr_assert_eq(m.type, STUN_BINDING_SUCCESS);
	cr_assert_eq(t_port_of(&from), t_port_of(&srv), "answer must come from the port asked");
	cr_assert_eq(stun_msg_get_xor_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, &got), STUN_OK);
	stun_addr_from_sockaddr(&want, (struct sockaddr *)&me, me_len);
	cr_assert(stun_addr_equal(&got, &want));
	cr_assert_eq(stun_msg_get_value(&m, STUN_ATTR_SOFTWARE, &sw, &sw_len), STUN_OK);
	cr_assert_eq(sw_len, strlen("atmosphere"));
	cr_assert_eq(memcmp(sw, "atmosphere", sw_len), 0);
	cr_assert_null(stun_msg_find(&m, STUN_ATTR_OTHER_ADDRESS), "no OTHER-ADDRESS without RFC 5780 mode");
	cr_assert_null(stun_msg_find(&m, STUN_ATTR_RESPONSE_ORIGIN));

	struct t_stats_want w = { &t, -1, 1 };
	cr_assert(t_wait_until(t_stats_reached, &w, 2000));
	close(fd);
	t_server_stop(&t);
}

Test(stun_server, serves_many_sources_on_two_reactors, .timeout = 30)
{
	enum { CLIENTS = 64 };
	struct t_server t;
	struct stun_server_opts o = t_opts("127.0.0.1", NULL);

	t_server_start(&t, &o, 2);
	struct sockaddr_storage srv = t_server_addr(&t, STUN_SOCK_PRIMARY);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < CLIENTS; i++) {
			struct sockaddr_storage me;
			socklen_t me_len;
			int fd = t_udp_on("127.0.0.1", &me, &me_len);
			binding_roundtrip(fd, &me, me_len, &srv);
			close(fd);
		}
	}
	struct t_stats_want w = { &t, -1, 3 * CLIENTS };
	cr_assert(t_wait_until(t_stats_reached, &w, 2000));
	struct stun_server_stats st;
	stun_server_get_stats(t.srv, &st);
	cr_assert_eq(st.answered, 3 * CLIENTS);
	cr_assert_eq(st.received, 3 * CLIENTS);
	t_server_stop(&t);
}

Test(stun_server, answers_over_ipv6, .timeout = 20)
{
	struct t_server t;
	struct sockaddr_storage me;
	socklen_t me_len = t_sockaddr(&me, "::1", 0);
	int probe = socket(AF_INET6, SOCK_DGRAM, 0);
	if (probe < 0 || bind(probe, (struct sockaddr *)&me, me_len) != 0) {
		if (probe >= 0)
			close(probe);
		cr_skip_test("no IPv6 loopback (::1) on this machine");
	}
	close(probe);
	struct stun_server_opts o = t_opts("::1", NULL);
	t_server_start(&t, &o, 1);
	struct sockaddr_storage srv = t_server_addr(&t, STUN_SOCK_PRIMARY);
	int fd = t_udp_on("::1", &me, &me_len);
	binding_roundtrip(fd, &me, me_len, &srv);
	close(fd);
	t_server_stop(&t);
}

/* On "::" one socket serves both families, and each client gets its own
 * family back: an IPv4 client (seen as ::ffff:127.0.0.1) an IPv4
 * XOR-MAPPED-ADDRESS, never an IPv4-mapped IPv6 one. */
Test(stun_server, dual_stack_answers_each_family_in_its_own, .timeout = 20)
{
	struct t_server t;
	struct sockaddr_storage me6, me4, to6, to4;
	socklen_t me6_len = t_sockaddr(&me6, "::1", 0), me4_len;
	int probe = socket(AF_INET6, SOCK_DGRAM, 0);
	if (probe < 0 || bind(probe, (struct sockaddr *)&me6, me6_len) != 0) {
		if (probe >= 0)
			close(probe);
		cr_skip_test("no IPv6 loopback (::1) on this machine");
	}
	close(probe);
	struct stun_server_opts o = t_opts("::", NULL);
	t_server_start(&t, &o, 1);
	struct sockaddr_storage srv = t_server_addr(&t, STUN_SOCK_PRIMARY);
	t_sockaddr(&to6, "::1", t_port_of(&srv));
	t_sockaddr(&to4, "127.0.0.1", t_port_of(&srv));
	int fd6 = t_udp_on("::1", &me6, &me6_len);
	int fd4 = t_udp_on("127.0.0.1", &me4, &me4_len);
	binding_roundtrip(fd6, &me6, me6_len, &to6);
	binding_roundtrip(fd4, &me4, me4_len, &to4);
	close(fd6);
	close(fd4);
	t_server_stop(&t);
}

/* --- silence, counted by reason ------------------------------------------- */

struct drop_case {
	char name[24];
	int reason; /* enum stun_drop */
};

/* make_bad writes the datagram for case name into buf; returns its length. */
static size_t make_bad(const char *name, uint8_t *buf, size_t cap)
{
	struct t_req r;
	if (!strcmp(name, "short")) {
		memset(buf, 0, 10);
		return 10;
	}
	if (!strcmp(name, "oversize")) {
		/* Beyond the 2 KiB receive buffers: the kernel cuts it. */
		memset(buf, 0, cap);
		return cap;
	}
	if (!strcmp(name, "response") || !strcmp(name, "indication")) {
		t_req_init(&r, !strcmp(name, "response") ? STUN_BINDING_SUCCESS : STUN_BINDING_INDICATION);
		t_req_finish(&r, true);
		memcpy(buf, r.buf, r.len);
		return r.len;
	}
	t_req_init(&r, STUN_BINDING_REQUEST);
	stun_writer_add_software(&r.w, "test", 4);
	t_req_finish(&r, true);
	memcpy(buf, r.buf, r.len);
	if (!strcmp(name, "leading_bits"))
		buf[0] |= 0xc0;
	else if (!strcmp(name, "no_cookie"))
		buf[4] ^= 0xff;
	else if (!strcmp(name, "odd_length"))
		buf[3] = (uint8_t)(buf[3] - 1);
	else if (!strcmp(name, "attr_overrun"))
		buf[22] = 0x40; /* SOFTWARE claims 16 KiB */
	else if (!strcmp(name, "fingerprint"))
		buf[r.len - 1] ^= 1;
	else if (!strcmp(name, "after_fingerprint")) {
		/* An attribute behind FINGERPRINT (length fixed up). */
		static const uint8_t extra[] = { 0x80, 0x22, 0x00, 0x00 };
		memcpy(buf + r.len, extra, sizeof extra);
		buf[3] = (uint8_t)(buf[3] + 4);
		return r.len + 4;
	}
	return r.len;
}

ParameterizedTestParameters(stun_server, drops_and_counts_malformed)
{
	static struct drop_case cases[] = {
		{ "short", STUN_DROP_TRUNCATED },
		{ "oversize", STUN_DROP_OVERSIZE },
		{ "leading_bits", STUN_DROP_NOT_STUN },
		{ "no_cookie", STUN_DROP_BAD_MAGIC },
		{ "odd_length", STUN_DROP_BAD_LENGTH },
		{ "attr_overrun", STUN_DROP_BAD_ATTR },
		{ "fingerprint", STUN_DROP_BAD_FINGERPRINT },
		{ "after_fingerprint", STUN_DROP_BAD_ORDER },
		{ "response", STUN_DROP_NOT_REQUEST },
		{ "indication", STUN_DROP_INDICATION },
	};
	return cr_make_param_array(struct drop_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct drop_case *c, stun_server, drops_and_counts_malformed, .timeout = 20)
{
	struct t_server t;
	struct stun_server_opts o = t_opts("127.0.0.1", NULL);
	struct sockaddr_storage me;
	socklen_t me_len;
	uint8_t bad[4000], reply[1024];
	struct sockaddr_storage from;

	t_server_start(&t, &o, 1);
	struct sockaddr_storage srv = t_server_addr(&t, STUN_SOCK_PRIMARY);
	int fd = t_udp_on("127.0.0.1", &me, &me_len);
	size_t n = make_bad(c->name, bad, sizeof bad);
	t_send(fd, bad, n, &srv);
	/* The same socket's next request is served after the bad one. */
	binding_roundtrip(fd, &me, me_len, &srv);
	struct t_stats_want w = { &t, c->reason, 1 };
	cr_assert(t_wait_until(t_stats_reached, &w, 2000), "case %s: drop reason %s not counted", c->name,
		  stun_drop_name(c->reason));
	cr_assert_eq(t_recv_from(fd, reply, sizeof reply, &from, 0), -1, "case %s: the bad datagram was answered",
		     c->name);
	struct stun_server_stats st;
	stun_server_get_stats(t.srv, &st);
	cr_assert_eq(st.received, 2);
	cr_assert_eq(st.answered, 1);
	uint64_t total = 0;
	for (int i = 0; i < STUN_DROP_MAX; i++)
		total += st.dropped[i];
	cr_assert_eq(total, 1, "case %s: counted under another reason too", c->name);
	close(fd);
	t_server_stop(&t);
}

/* --- error responses ------------------------------------------------------ */

/* send_expect_error sends r, expects an error response with code and returns
 * the UNKNOWN-ATTRIBUTES list length (into types). */
static size_t send_expect_error(struct t_server *t, struct t_req *r, uint16_t type, uint16_t code, uint16_t *types)
{
	struct sockaddr_storage me;
	socklen_t me_len;
	uint8_t buf[1024];
	struct stun_msg m;
	uint16_t got_code;
	const uint8_t *reason;
	size_t reason_len, n = 0;

	struct sockaddr_storage srv = t_server_addr(t, STUN_SOCK_PRIMARY);
	int fd = t_udp_on("127.0.0.1", &me, &me_len);
	t_send(fd, r->buf, r->len, &srv);
	t_expect_answer(fd, r, buf, sizeof buf, &m, NULL);
	cr_assert_eq(m.type, type, "type 0x%04x, want 0x%04x", m.type, type);
	cr_assert_eq(stun_msg_get_error(&m, &got_code, &reason, &reason_len), STUN_OK);
	cr_assert_eq(got_code, code);
	if (stun_msg_get_unknown_attrs(&m, types, 8, &n) != STUN_OK)
		n = 0;
	close(fd);
	return n;
}

Test(stun_server, unknown_required_attributes_get_420_listing_them, .timeout = 20)
{
	struct t_server t;
	struct stun_server_opts o = t_opts("127.0.0.1", NULL);
	struct t_req r;
	uint16_t types[8];
	static const uint8_t four[4] = { 1, 2, 3, 4 };

	t_server_start(&t, &o, 1);
	t_req_init(&r, STUN_BINDING_REQUEST);
	stun_writer_add(&r.w, 0x0024, four, 4); /* ICE PRIORITY: not ours */
	stun_writer_add(&r.w, 0x8777, four, 4); /* optional: ignored */
	stun_writer_add(&r.w, 0x7777, four, 2);
	stun_writer_add(&r.w, 0x0024, four, 4); /* listed once */
	t_req_finish(&r, true);
	size_t n = send_expect_error(&t, &r, STUN_BINDING_ERROR, 420, types);
	cr_assert_eq(n, 2);
	cr_assert_eq(types[0], 0x0024);
	cr_assert_eq(types[1], 0x7777);

	struct stun_server_stats st;
	stun_server_get_stats(t.srv, &st);
	cr_assert_eq(st.errors, 1);
	t_server_stop(&t);
}

Test(stun_server, change_request_without_rfc5780_gets_420, .timeout = 20)
{
	struct t_server t;
	struct stun_server_opts o = t_opts("127.0.0.1", NULL);
	struct t_req r;
	uint16_t types[8];

	t_server_start(&t, &o, 1);
	t_req_init(&r, STUN_BINDING_REQUEST);
	stun_writer_add_change_request(&r.w, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	t_req_finish(&r, true);
	cr_assert_eq(send_expect_error(&t, &r, STUN_BINDING_ERROR, 420, types), 1);
	cr_assert_eq(types[0], STUN_ATTR_CHANGE_REQUEST);
	t_server_stop(&t);
}

Test(stun_server, other_methods_get_400, .timeout = 20)
{
	struct t_server t;
	struct stun_server_opts o = t_opts("127.0.0.1", NULL);
	struct t_req r;
	uint16_t types[8];

	t_server_start(&t, &o, 1);
	/* TURN Allocate (method 0x003) sent to a STUN-only server. */
	t_req_init(&r, stun_type_make(0x003, STUN_CLASS_REQUEST));
	t_req_finish(&r, true);
	cr_assert_eq(send_expect_error(&t, &r, stun_type_make(0x003, STUN_CLASS_ERROR), 400, types), 0);
	t_server_stop(&t);
}

Test(stun_server, requests_with_integrity_are_answered, .timeout = 20)
{
	struct t_server t;
	struct stun_server_opts o = t_opts("127.0.0.1", NULL);
	struct sockaddr_storage me;
	socklen_t me_len;
	struct t_req r;
	uint8_t buf[1024];
	struct stun_msg m;
	static const uint8_t key[] = "secret";

	t_server_start(&t, &o, 1);
	struct sockaddr_storage srv = t_server_addr(&t, STUN_SOCK_PRIMARY);
	int fd = t_udp_on("127.0.0.1", &me, &me_len);
	t_req_init(&r, STUN_BINDING_REQUEST);
	stun_writer_add_username(&r.w, "a:b", 3);
	stun_writer_add_integrity(&r.w, key, sizeof key - 1);
	t_req_finish(&r, true);
	t_send(fd, r.buf, r.len, &srv);
	t_expect_answer(fd, &r, buf, sizeof buf, &m, NULL);
	cr_assert_eq(m.type, STUN_BINDING_SUCCESS);
	close(fd);
	t_server_stop(&t);
}

/* --- rate limit ------------------------------------------------------------ */

Test(stun_server, rate_limit_drops_a_source_over_its_burst, .timeout = 20)
{
	struct t_server t;
	struct stun_server_opts o = t_opts("127.0.0.1", NULL);
	struct sockaddr_storage me, other, from;
	socklen_t me_len, other_len;
	uint8_t buf[1024];
	enum { SENT = 10, BURST = 3 };

	/* 1/s: nothing refills during the test. */
	o.rate = 1;
	o.burst = BURST;
	t_server_start(&t, &o, 1);
	struct sockaddr_storage srv = t_server_addr(&t, STUN_SOCK_PRIMARY);
	int fd = t_udp_on("127.0.0.1", &me, &me_len);
	for (int i = 0; i < SENT; i++) {
		struct t_req r;
		t_req_init(&r, STUN_BINDING_REQUEST);
		t_req_finish(&r, false);
		t_send(fd, r.buf, r.len, &srv);
	}
	/* Another source is not limited by the first one; its answer proves
	 * the server has seen everything sent before on that reactor. */
	int fd2 = t_udp_on("127.0.0.2", &other, &other_len);
	binding_roundtrip(fd2, &other, other_len, &srv);
	struct t_stats_want w = { &t, STUN_DROP_RATE_LIMITED, SENT - BURST };
	cr_assert(t_wait_until(t_stats_reached, &w, 2000));
	int answers = 0;
	while (t_recv_from(fd, buf, sizeof buf, &from, answers < BURST ? 5000 : 0) > 0)
		answers++;
	cr_assert_eq(answers, BURST);
	close(fd);
	close(fd2);
	t_server_stop(&t);
}

/* --- RFC 5780 -------------------------------------------------------------- */

struct change_case {
	uint32_t flags;
	enum stun_server_sock from; /* the socket that must answer */
};

ParameterizedTestParameters(stun_server, rfc5780_change_request_answers_from_other_socket)
{
	static struct change_case cases[] = {
		{ 0, STUN_SOCK_PRIMARY },
		{ STUN_CHANGE_PORT, STUN_SOCK_ALT_PORT },
		{ STUN_CHANGE_IP, STUN_SOCK_ALT_IP },
		{ STUN_CHANGE_IP | STUN_CHANGE_PORT, STUN_SOCK_ALT_BOTH },
	};
	return cr_make_param_array(struct change_case, cases, sizeof cases / sizeof cases[0]);
}

static struct stun_addr saddr(const struct sockaddr_storage *sa)
{
	struct stun_addr a;
	cr_assert_eq(stun_addr_from_sockaddr(&a, (const struct sockaddr *)sa, sizeof *sa), STUN_OK);
	return a;
}

ParameterizedTest(struct change_case *c, stun_server, rfc5780_change_request_answers_from_other_socket,
		  .timeout = 20)
{
	struct t_server t;
	struct stun_server_opts o = t_opts("127.0.0.1", "127.0.0.2");
	struct sockaddr_storage me, from;
	socklen_t me_len;
	struct t_req r;
	uint8_t buf[1024];
	struct stun_msg m;
	struct stun_addr origin, other;

	t_server_start(&t, &o, 2);
	cr_assert(stun_server_rfc5780(t.srv));
	struct sockaddr_storage primary = t_server_addr(&t, STUN_SOCK_PRIMARY);
	struct sockaddr_storage want_from = t_server_addr(&t, c->from);
	struct sockaddr_storage diagonal = t_server_addr(&t, STUN_SOCK_ALT_BOTH);
	cr_assert_neq(t_port_of(&primary), t_port_of(&diagonal), "ports must differ");

	int fd = t_udp_on("127.0.0.1", &me, &me_len);
	t_req_init(&r, STUN_BINDING_REQUEST);
	if (c->flags)
		stun_writer_add_change_request(&r.w, c->flags);
	t_req_finish(&r, true);
	t_send(fd, r.buf, r.len, &primary);
	t_expect_answer(fd, &r, buf, sizeof buf, &m, &from);
	cr_assert_eq(m.type, STUN_BINDING_SUCCESS);
	struct stun_addr f = saddr(&from), wf = saddr(&want_from);
	cr_assert(stun_addr_equal(&f, &wf), "flags %u: answered from the wrong socket", c->flags);
	cr_assert_eq(stun_msg_get_addr(&m, STUN_ATTR_RESPONSE_ORIGIN, &origin), STUN_OK);
	cr_assert(stun_addr_equal(&origin, &wf), "RESPONSE-ORIGIN must name the sending socket");
	cr_assert_eq(stun_msg_get_addr(&m, STUN_ATTR_OTHER_ADDRESS, &other), STUN_OK);
	struct stun_addr d = saddr(&diagonal);
	cr_assert(stun_addr_equal(&other, &d), "OTHER-ADDRESS must be alt ip : alt port");
	close(fd);
	t_server_stop(&t);
}

Test(stun_server, rfc5780_other_address_is_relative_to_the_receiving_socket, .timeout = 20)
{
	struct t_server t;
	struct stun_server_opts o = t_opts("127.0.0.1", "127.0.0.2");
	struct sockaddr_storage me;
	socklen_t me_len;
	struct t_req r;
	uint8_t buf[1024];
	struct stun_msg m;
	struct stun_addr other;

	t_server_start(&t, &o, 1);
	struct sockaddr_storage diagonal = t_server_addr(&t, STUN_SOCK_ALT_BOTH);
	struct sockaddr_storage primary = t_server_addr(&t, STUN_SOCK_PRIMARY);
	int fd = t_udp_on("127.0.0.1", &me, &me_len);
	t_req_init(&r, STUN_BINDING_REQUEST);
	t_req_finish(&r, true);
	t_send(fd, r.buf, r.len, &diagonal);
	t_expect_answer(fd, &r, buf, sizeof buf, &m, NULL);
	cr_assert_eq(stun_msg_get_addr(&m, STUN_ATTR_OTHER_ADDRESS, &other), STUN_OK);
	struct stun_addr p = saddr(&primary);
	cr_assert(stun_addr_equal(&other, &p));
	close(fd);
	t_server_stop(&t);
}

Test(stun_server, rfc5780_response_port_redirects_the_answer, .timeout = 20)
{
	struct t_server t;
	struct stun_server_opts o = t_opts("127.0.0.1", "127.0.0.2");
	struct sockaddr_storage me, other;
	socklen_t me_len, other_len;
	struct t_req r;
	uint8_t buf[1024];
	struct stun_msg m;
	struct stun_addr got;

	t_server_start(&t, &o, 1);
	struct sockaddr_storage primary = t_server_addr(&t, STUN_SOCK_PRIMARY);
	int fd = t_udp_on("127.0.0.1", &me, &me_len);
	int fd2 = t_udp_on("127.0.0.1", &other, &other_len);
	t_req_init(&r, STUN_BINDING_REQUEST);
	stun_writer_add_response_port(&r.w, t_port_of(&other));
	t_req_finish(&r, true);
	t_send(fd, r.buf, r.len, &primary);
	t_expect_answer(fd2, &r, buf, sizeof buf, &m, NULL);
	cr_assert_eq(stun_msg_get_xor_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, &got), STUN_OK);
	struct stun_addr want = saddr(&me);
	cr_assert(stun_addr_equal(&got, &want), "the mapped address is the requester's, not the port answered to");
	struct stun_server_stats st;
	stun_server_get_stats(t.srv, &st);
	cr_assert_eq(st.changed, 1);
	close(fd);
	close(fd2);
	t_server_stop(&t);
}

/* --- options and lifecycle -------------------------------------------------- */

struct bad_opts_case {
	char name[32];
	char ip[16], alt_ip[16]; /* alt_ip "": RFC 5780 mode off */
	uint16_t port, alt_port;
	uint32_t rate, burst;
	unsigned reactors;
	bool long_software;
};

ParameterizedTestParameters(stun_server, rejects_bad_options)
{
	static struct bad_opts_case cases[] = {
		{ "no reactors", "127.0.0.1", "", 0, 0, 0, 0, 0, false },
		{ "rate without burst", "127.0.0.1", "", 0, 0, 10, 0, 1, false },
		{ "same address twice", "127.0.0.1", "127.0.0.1", 0, 0, 0, 0, 1, false },
		{ "wildcard in RFC 5780 mode", "0.0.0.0", "127.0.0.2", 0, 0, 0, 0, 1, false },
		{ "mixed families", "127.0.0.1", "::1", 0, 0, 0, 0, 1, false },
		{ "same port twice", "127.0.0.1", "127.0.0.2", 40000, 40000, 0, 0, 1, false },
		{ "software too long", "127.0.0.1", "", 0, 0, 0, 0, 1, true },
	};
	return cr_make_param_array(struct bad_opts_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct bad_opts_case *c, stun_server, rejects_bad_options)
{
	struct stun_server_opts o;
	char sw[STUN_SERVER_MAX_SOFTWARE + 2];
	int err = 0;

	memset(&o, 0, sizeof o);
	o.addr_len = t_sockaddr(&o.addr, c->ip, c->port);
	if (c->alt_ip[0])
		o.alt_addr_len = t_sockaddr(&o.alt_addr, c->alt_ip, c->alt_port);
	o.rate = c->rate;
	o.burst = c->burst;
	o.num_reactors = c->reactors;
	if (c->long_software) {
		memset(sw, 'x', sizeof sw - 1);
		sw[sizeof sw - 1] = 0;
		o.software = sw;
	}
	struct stun_server *s = stun_server_new(&o, &err);
	cr_assert_null(s, "case '%s' accepted", c->name);
	cr_assert_eq(err, -EINVAL, "case '%s': %s", c->name, strerror(-err));
}

Test(stun_server, bind_conflict_is_reported, .timeout = 10)
{
	struct sockaddr_storage taken;
	socklen_t taken_len;
	int fd = t_udp_on("127.0.0.1", &taken, &taken_len);
	struct stun_server_opts o = t_opts("127.0.0.1", NULL);
	o.addr = taken;
	o.addr_len = taken_len;
	o.num_reactors = 1;
	int err = 0;
	cr_assert_null(stun_server_new(&o, &err));
	cr_assert_eq(err, -EADDRINUSE);
	close(fd);
}

Test(stun_server, shutdown_closes_every_socket, .timeout = 20)
{
	struct t_server t;
	struct stun_server_opts o = t_opts("127.0.0.1", "127.0.0.2");
	int before = t_count_fds();

	t_server_start(&t, &o, 2);
	cr_assert_gt(t_count_fds(), before + 8, "two reactors x four sockets");
	t_server_stop(&t);
	cr_assert_eq(t_count_fds(), before, "descriptors leaked");
}
