/* relay/realip and upgrade.c's reading of trusted proxies, in process: the
 * client address a trusted peer names (PROXY v1/v2, X-Forwarded-For by
 * --proxy-protocol mode) is what --max-conns-per-ip counts, and nobody
 * else's header is read. Every test connection comes from 127.0.0.1; the
 * relay trusts it or, for the stranger cases, 127.0.0.2 only. The cap is 1,
 * so one accepted and one refused connection show which address was
 * counted. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "helpers.h"
#include "relay/cidr.h"
#include "relay/proxy_proto.h"
#include "relay/server.h"

static struct relay_cidr t_net(const char *s)
{
	struct relay_cidr n;
	cr_assert_eq(relay_cidr_parse(&n, s, strlen(s)), 0, "%s", s);
	return n;
}

static void t_start(struct t_relay *r, const char *trusted, enum relay_proxy_mode mode)
{
	static struct relay_cidr nets[1];
	nets[0] = t_net(trusted);
	struct relay_opts o = {.max_conns_per_ip = 1, .trusted_proxies = nets, .num_trusted_proxies = 1,
			       .proxy_protocol = mode, .threads = 2};
	t_relay_start(r, &o);
}

/* A connection that sends pre[0..pre_len) (a PROXY header, or nothing),
 * then an upgrade to id with extra header lines. Returns the status of the
 * answer (0: closed without one) and leaves the socket open in *fd. */
static int t_open(uint16_t port, const void *pre, size_t pre_len, const char *id, const char *extra, int *fd)
{
	char req[1024];
	int n = snprintf(req, sizeof req,
			 "GET /relay/%s HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
			 id, extra ? extra : "");
	*fd = t_connect_tcp(port);
	if (pre_len)
		cr_assert_eq(t_write_all(*fd, pre, pre_len), 0);
	(void)t_write_all(*fd, req, (size_t)n); /* a closed connection may reset */
	char resp[256];
	size_t got = 0;
	uint64_t deadline = t_now_ns() + 5000000000ull;
	while (got < sizeof resp - 1 && !memchr(resp, '\n', got)) {
		/* signals to the process (its reactors') interrupt waits here */
		struct pollfd p = {.fd = *fd, .events = POLLIN};
		int pr = poll(&p, 1, t_ms_left(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		ssize_t k = recv(*fd, resp + got, sizeof resp - 1 - got, 0);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	resp[got] = 0;
	int status = 0;
	if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
		status = 0;
	return status;
}

static size_t t_v1(char *out, const char *src)
{
	return (size_t)sprintf(out, "PROXY TCP4 %s 127.0.0.1 40000 80\r\n", src);
}

static size_t t_v2(uint8_t *out, const char *src)
{
	struct relay_proxy_hdr h = {.family = RELAY_PROXY_AF_INET, .src_port = 40000, .dst_port = 80};
	inet_pton(AF_INET, src, h.src_addr);
	inet_pton(AF_INET, "127.0.0.1", h.dst_addr);
	int n = relay_proxy_build_v2(out, RELAY_PROXY_MAX_LEN, &h);
	cr_assert_gt(n, 0);
	return (size_t)n;
}

static struct relay_stats t_stats(struct t_relay *r)
{
	struct relay_stats st;
	relay_server_stats(r->srv, &st);
	return st;
}

static bool t_no_conns(void *arg)
{
	return t_stats(arg).connections == 0;
}

/* Required (the default): each connection's PROXY header names its client;
 * two clients with one connection each pass a cap of 1, the same client
 * twice does not. */
Test(relay_realip, proxy_header_names_the_client, .timeout = 30)
{
	struct t_relay r;
	t_start(&r, "127.0.0.1/32", RELAY_PROXY_HEADER_REQUIRED);
	char v1[128];
	uint8_t v2[RELAY_PROXY_MAX_LEN];
	int a, b, c, d;
	cr_assert_eq(t_open(r.port, v1, t_v1(v1, "192.0.2.1"), "ra", NULL, &a), 101);
	cr_assert_eq(t_open(r.port, v2, t_v2(v2, "192.0.2.2"), "rb", NULL, &b), 101);
	cr_assert_eq(t_open(r.port, v2, t_v2(v2, "192.0.2.1"), "rc", NULL, &c), 429, "192.0.2.1 twice");
	/* X-Forwarded-For is the client's own text here: it changes nothing. */
	cr_assert_eq(t_open(r.port, v1, t_v1(v1, "192.0.2.2"), "rd", "X-Forwarded-For: 192.0.2.99\r\n", &d), 429);
	struct relay_stats st = t_stats(&r);
	cr_assert_eq(st.proxied, 2); /* counted once admitted */
	cr_assert_eq(st.rejected_limit, 2);
	close(a);
	close(b);
	close(c);
	close(d);
	t_relay_stop(&r);
}

/* Required: no header, or a malformed one, closes the connection
 * unanswered; LOCAL (a health check) is the proxy itself. */
Test(relay_realip, required_header_missing_or_bad_closes, .timeout = 30)
{
	struct t_relay r;
	t_start(&r, "127.0.0.1/32", RELAY_PROXY_HEADER_REQUIRED);
	int a, b, c;
	cr_assert_eq(t_open(r.port, NULL, 0, "ma", NULL, &a), 0);
	cr_assert_eq(t_open(r.port, "PROXY TCP4 1.2.3 127.0.0.1 1 2\r\n", 32, "mb", NULL, &b), 0);
	uint8_t local[RELAY_PROXY_MAX_LEN];
	struct relay_proxy_hdr h = {.local = true};
	int n = relay_proxy_build_v2(local, sizeof local, &h);
	cr_assert_eq(t_open(r.port, local, (size_t)n, "mc", NULL, &c), 101);
	struct relay_stats st = t_stats(&r);
	cr_assert_eq(st.proxy_refused, 2);
	cr_assert_eq(st.proxied, 0);
	close(a);
	close(b);
	close(c);
	t_relay_stop(&r);
}

/* Off (an HTTP balancer): the last X-Forwarded-For element, read right to
 * left past trusted proxies; a bad element is 400; without the field the
 * proxy is the client; a PROXY header is not HTTP (400). */
Test(relay_realip, forwarded_for_when_off, .timeout = 30)
{
	struct t_relay r;
	t_start(&r, "127.0.0.0/8", RELAY_PROXY_HEADER_OFF);
	int fd[8];
	cr_assert_eq(t_open(r.port, NULL, 0, "xa", "X-Forwarded-For: 10.9.9.9, 192.0.2.1\r\n", &fd[0]), 101);
	/* the client wrote 192.0.2.1 first: only the last element counts */
	cr_assert_eq(t_open(r.port, NULL, 0, "xb", "X-Forwarded-For: 192.0.2.1, 192.0.2.2\r\n", &fd[1]), 101);
	/* a trusted hop (127.0.0.9) passes the word to the one before it */
	cr_assert_eq(t_open(r.port, NULL, 0, "xc", "X-Forwarded-For: 192.0.2.2, 127.0.0.9\r\n", &fd[2]), 429);
	cr_assert_eq(t_open(r.port, NULL, 0, "xd", "X-Forwarded-For: [2001:db8::1]\r\n", &fd[3]), 101);
	cr_assert_eq(t_open(r.port, NULL, 0, "xe", "X-Forwarded-For: unknown\r\n", &fd[4]), 400);
	cr_assert_eq(t_open(r.port, NULL, 0, "xf", NULL, &fd[5]), 101); /* the proxy, 127.0.0.1 */
	cr_assert_eq(t_open(r.port, NULL, 0, "xg", NULL, &fd[6]), 429);
	char v1[128];
	cr_assert_eq(t_open(r.port, v1, t_v1(v1, "192.0.2.50"), "xh", NULL, &fd[7]), 400);
	cr_assert_eq(t_stats(&r).proxied, 3); /* xa, xb, xd */
	for (int i = 0; i < 8; i++)
		close(fd[i]);
	t_relay_stop(&r);
}

/* Optional: a PROXY header when one comes (then X-Forwarded-For is
 * ignored), X-Forwarded-For when not. */
Test(relay_realip, optional_takes_either, .timeout = 30)
{
	struct t_relay r;
	t_start(&r, "127.0.0.1/32", RELAY_PROXY_HEADER_OPTIONAL);
	char v1[128];
	int a, b, c;
	cr_assert_eq(t_open(r.port, v1, t_v1(v1, "192.0.2.7"), "oa", "X-Forwarded-For: 192.0.2.8\r\n", &a), 101);
	cr_assert_eq(t_open(r.port, NULL, 0, "ob", "X-Forwarded-For: 192.0.2.8\r\n", &b), 101);
	cr_assert_eq(t_open(r.port, NULL, 0, "oc", "X-Forwarded-For: 192.0.2.7\r\n", &c), 429);
	close(a);
	close(b);
	close(c);
	t_relay_stop(&r);
}

/* A stranger (the relay trusts 127.0.0.2 only): its PROXY header is bad
 * HTTP, its X-Forwarded-For is ignored -- its second connection meets the
 * cap whatever it claims. */
Test(relay_realip, strangers_are_not_heard, .timeout = 30)
{
	struct t_relay r;
	t_start(&r, "127.0.0.2/32", RELAY_PROXY_HEADER_REQUIRED);
	char v1[128];
	uint8_t v2[RELAY_PROXY_MAX_LEN];
	int a, b, c, d;
	/* Each counts against 127.0.0.1 (the cap is 1) until it closes. */
	cr_assert_eq(t_open(r.port, v1, t_v1(v1, "192.0.2.1"), "sa", NULL, &a), 400);
	cr_assert(t_wait_until(t_no_conns, &r, 5000));
	cr_assert_eq(t_open(r.port, v2, t_v2(v2, "192.0.2.1"), "sb", NULL, &b), 400);
	cr_assert(t_wait_until(t_no_conns, &r, 5000));
	cr_assert_eq(t_open(r.port, NULL, 0, "sc", "X-Forwarded-For: 192.0.2.1\r\n", &c), 101);
	cr_assert_eq(t_open(r.port, NULL, 0, "sd", "X-Forwarded-For: 192.0.2.2\r\n", &d), 429);
	struct relay_stats st = t_stats(&r);
	cr_assert_eq(st.proxied, 0);
	cr_assert_eq(st.proxy_refused, 0);
	close(a);
	close(b);
	close(c);
	close(d);
	t_relay_stop(&r);
}
