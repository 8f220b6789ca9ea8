/* core/udp: UDP echo through multishot recvmsg, waiting and batched sends. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/reactor.h"
#include "core/udp.h"
#include "core/udpgro.h"
#include "helpers.h"

struct udp_server {
	int fd;
	bool nowait;
	atomic_int echoed;
	atomic_int errors;
	struct core_udp *u;
	struct core_shutdown_hook hook;
};

static void stop_udp(void *arg)
{
	struct udp_server *s = arg;
	core_udp_interrupt(s->u);
}

/* One coroutine drains every queued datagram per wake-up and answers them as
 * a batch (nowait) or one by one (waiting sends). */
static void udp_echo_main(void *arg)
{
	struct udp_server *s = arg;
	int err = 0;
	if (core_reactor_index(core_self()) != 0)
		return;
	s->u = core_udp_new(s->fd, &err);
	core_on_shutdown(&s->hook, stop_udp, s);
	for (;;) {
		struct core_dgram d;
		int n = core_udp_recv(s->u, &d, -1);
		if (n < 0)
			break;
		do {
			int w = s->nowait ? core_udp_sendto_nowait(s->u, d.data, d.len, (struct sockaddr *)&d.from, d.from_len)
					  : core_udp_sendto(s->u, d.data, d.len, (struct sockaddr *)&d.from, d.from_len, 1000);
			if (w < 0)
				atomic_fetch_add(&s->errors, 1);
			else
				atomic_fetch_add(&s->echoed, 1);
			core_buf_release(&d.buf);
		} while (core_udp_try_recv(s->u, &d) >= 0);
	}
	core_shutdown_hook_remove(&s->hook);
	core_udp_close(s->u);
}

/* 64 client sockets, each sending 50 numbered datagrams; each must see its
 * own datagrams come back (loopback does not drop at this rate, but we allow
 * retries so the test checks content, not luck). */
static void run_udp_clients(uint16_t port)
{
	enum { CLIENTS = 64, EACH = 50 };
	int fds[CLIENTS];
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int got[CLIENTS] = {0};
	for (int i = 0; i < CLIENTS; i++) {
		uint16_t p;
		fds[i] = t_bind_udp(&p);
	}
	for (int k = 0; k < EACH; k++) {
		for (int i = 0; i < CLIENTS; i++) {
			char msg[64];
			int len = snprintf(msg, sizeof msg, "client %d datagram %d", i, k);
			cr_assert_eq(sendto(fds[i], msg, (size_t)len, 0, (struct sockaddr *)&to, sizeof to), len);
		}
		for (int i = 0; i < CLIENTS; i++) {
			char buf[128], want[64];
			struct pollfd p = {.fd = fds[i], .events = POLLIN};
			cr_assert_eq(poll(&p, 1, 5000), 1, "client %d: no echo for datagram %d", i, k);
			ssize_t n = recv(fds[i], buf, sizeof buf - 1, 0);
			cr_assert_gt(n, 0);
			buf[n] = 0;
			snprintf(want, sizeof want, "client %d datagram %d", i, k);
			cr_assert_str_eq(buf, want);
			got[i]++;
		}
	}
	for (int i = 0; i < CLIENTS; i++) {
		cr_assert_eq(got[i], EACH);
		close(fds[i]);
	}
}

Test(core_udp, echo_with_waiting_sends, .timeout = 30)
{
	struct udp_server s;
	struct t_rt t;
	uint16_t port;
	memset(&s, 0, sizeof s);
	s.fd = t_bind_udp(&port);
	t_rt_start(&t, NULL, udp_echo_main, &s);
	run_udp_clients(port);
	cr_assert_eq(t_rt_stop(&t), 0);
	cr_assert_eq(atomic_load(&s.errors), 0);
	cr_assert_eq(atomic_load(&s.echoed), 64 * 50);
}

Test(core_udp, echo_with_batched_nowait_sends, .timeout = 30)
{
	struct udp_server s;
	struct t_rt t;
	uint16_t port;
	memset(&s, 0, sizeof s);
	s.fd = t_bind_udp(&port);
	s.nowait = true;
	t_rt_start(&t, NULL, udp_echo_main, &s);
	run_udp_clients(port);
	cr_assert_eq(t_rt_stop(&t), 0);
	cr_assert_eq(atomic_load(&s.errors), 0);
	cr_assert_eq(atomic_load(&s.echoed), 64 * 50);
}

struct trunc_case {
	int fd;
	int len;
	bool truncated;
	atomic_int done;
};

static void trunc_main(void *arg)
{
	struct trunc_case *c = arg;
	int err = 0;
	if (core_reactor_index(core_self()) != 0)
		return;
	struct core_udp *u = core_udp_new(c->fd, &err);
	struct core_dgram d;
	c->len = core_udp_recv(u, &d, 5000);
	c->truncated = d.truncated;
	core_buf_release(&d.buf);
	core_udp_close(u);
	atomic_store(&c->done, 1);
}

static bool done(void *arg) { return atomic_load((atomic_int *)arg) != 0; }

Test(core_udp, oversized_datagram_is_flagged_truncated, .timeout = 10)
{
	struct trunc_case c;
	struct core_rt_opts o = {.num_threads = 1, .dgram_buf_size = 512};
	struct t_rt t;
	uint16_t port, cport;
	memset(&c, 0, sizeof c);
	c.fd = t_bind_udp(&port);
	t_rt_start(&t, &o, trunc_main, &c);
	int cfd = t_bind_udp(&cport);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char big[1200];
	memset(big, 'z', sizeof big);
	cr_assert_eq(sendto(cfd, big, sizeof big, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)sizeof big);
	cr_assert(t_wait_until(done, &c.done, 5000));
	cr_assert(c.truncated, "a datagram larger than the buffer must be flagged");
	cr_assert_lt(c.len, 512);
	close(cfd);
	t_rt_stop(&t);
}

/* --- IPv6: "::" is dual-stack, core_udp_bind_v6only is not ---------------- */

static bool have_ipv6_loopback(void)
{
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof a;
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
					     : ((struct sockaddr_in *)&a)->sin_port);
}

Test(core_udp, ipv6_wildcard_also_receives_ipv4, .timeout = 10)
{
	if (!have_ipv6_loopback())
		cr_skip_test("no IPv6 loopback (::1) on this machine");
	struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	int fd = core_udp_bind((struct sockaddr *)&any, sizeof any, false);
	cr_assert_geq(fd, 0, "bind [::]:0: %s", strerror(-fd));
	int v6only = -1;
	socklen_t olen = sizeof v6only;
	cr_assert_eq(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &olen), 0);
	cr_assert_eq(v6only, 0, "core_udp_bind must turn IPV6_V6ONLY off");
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(bound_port(fd)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert_eq(sendto(c, "v4", 2, 0, (struct sockaddr *)&to, sizeof to), 2);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	cr_assert_eq(poll(&p, 1, 5000), 1, "the IPv4 datagram did not reach the [::] socket");
	struct sockaddr_storage from;
	socklen_t flen = sizeof from;
	char buf[8];
	cr_assert_eq(recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen), 2);
	cr_assert_eq(from.ss_family, AF_INET6);
	cr_assert(IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&from)->sin6_addr), "sender not IPv4-mapped");
	close(c);
	close(fd);
}

Test(core_udp, v6only_leaves_the_ipv4_port_free)
{
	if (!have_ipv6_loopback())
		cr_skip_test("no IPv6 loopback (::1) on this machine");
	struct sockaddr_in v4 = {.sin_family = AF_INET};
	int fd4 = core_udp_bind((struct sockaddr *)&v4, sizeof v4, false);
	cr_assert_geq(fd4, 0);
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(bound_port(fd4)),
				  .sin6_addr = IN6ADDR_ANY_INIT};
	/* A dual-stack [::] would collide with 0.0.0.0 on the same port. */
	int dual = core_udp_bind((struct sockaddr *)&v6, sizeof v6, false);
	cr_assert_eq(dual, -EADDRINUSE, "dual-stack bind beside 0.0.0.0: %d", dual);
	int fd6 = core_udp_bind_v6only((struct sockaddr *)&v6, sizeof v6, false);
	cr_assert_geq(fd6, 0, "v6only bind beside 0.0.0.0: %s", strerror(-fd6));
	cr_assert_eq(core_udp_bind_v6only((struct sockaddr *)&v4, sizeof v4, false), -EAFNOSUPPORT);
	close(fd6);
	close(fd4);
}

/* --- UDP GRO: a coalesced receive whole in one GRO-ring buffer ------------ */

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

struct gro_case {
	int fd;
	int enable;          /* core_udp_enable_gro's result */
	int enable_again;    /* the same after a receive: -EBUSY */
	int len;
	bool truncated, ctl_truncated;
	uint8_t gid;
	uint8_t data[65536];
	uint8_t ctl[CORE_UDP_GRO_CTL_SPACE];
	uint32_t ctl_len;
	atomic_int ready;    /* UDP_GRO is set: a batch sent now stays whole */
	atomic_int done;
};

static void gro_main(void *arg)
{
	struct gro_case *c = arg;
	int err = 0;
	if (core_reactor_index(core_self()) != 0)
		return;
	struct core_udp *u = core_udp_new(c->fd, &err);
	c->enable = core_udp_enable_gro(u);
	atomic_store(&c->ready, 1);
	struct core_dgram d;
	c->len = core_udp_recv(u, &d, 5000);
	if (c->len > 0) {
		c->truncated = d.truncated;
		c->ctl_truncated = d.ctl_truncated;
		c->gid = d.buf.gid;
		memcpy(c->data, d.data, (size_t)c->len);
		c->ctl_len = d.ctl_len;
		memcpy(c->ctl, d.ctl, d.ctl_len);
	}
	core_buf_release(&d.buf);
	c->enable_again = core_udp_enable_gro(u);
	core_udp_close(u);
	atomic_store(&c->done, 1);
}

/* The UDP_GRO cmsg's value in ctl, or -1 without one (or unreadable):
 * core/udpgro.h's reader, tested on its own in tests/overlay/test_udpgro.c. */
static int gro_seg(const uint8_t *ctl, size_t len)
{
	size_t seg;
	return core_udpgro_seg(ctl, len, &seg) == CORE_UDPGRO_OK && seg ? (int)seg : -1;
}

Test(core_udp, gro_receive_holds_a_whole_gso_batch, .timeout = 10)
{
	static struct gro_case c;
	struct core_rt_opts o = {.num_threads = 1, .udp_gro_bufs = 4};
	struct t_rt t;
	uint16_t port, cport;
	memset(&c, 0, sizeof c);
	c.fd = t_bind_udp(&port);
	t_rt_start(&t, &o, gro_main, &c);
	/* The kernel cuts a batch queued before UDP_GRO was set. */
	cr_assert(t_wait_until(done, &c.ready, 5000));
	int cfd = t_bind_udp(&cport);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	/* 40 datagrams of 1453 bytes and one of 99 in one UDP GSO send: 58,219
	 * bytes, which a 2 KiB datagram buffer could not hold. */
	static uint8_t batch[40 * 1453 + 99];
	for (size_t i = 0; i < sizeof batch; i++)
		batch[i] = (uint8_t)(i * 13 + 5);
	uint16_t seg = 1453;
	union {
		uint8_t b[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct iovec iov = {.iov_base = batch, .iov_len = sizeof batch};
	struct msghdr mh = {.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
	struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
	h->cmsg_level = SOL_UDP;
	h->cmsg_type = UDP_SEGMENT;
	h->cmsg_len = CMSG_LEN(sizeof seg);
	memcpy(CMSG_DATA(h), &seg, sizeof seg);
	ssize_t w = sendmsg(cfd, &mh, 0);
	if (w < 0) {
		int e = errno;
		close(cfd);
		t_rt_stop(&t);
		cr_skip_test("no UDP GSO on loopback (UDP_SEGMENT, Linux 4.18): %s", strerror(e));
	}
	cr_assert(t_wait_until(done, &c.done, 5000));
	if (c.enable == -ENOPROTOOPT) {
		close(cfd);
		t_rt_stop(&t);
		cr_skip_test("no UDP_GRO (Linux 5.0)");
	}
	cr_assert_eq(c.enable, 0, "core_udp_enable_gro: %s", strerror(-c.enable));
	cr_assert_eq(c.gid, 2, "the receive came from ring %u, not the GRO ring", c.gid);
	cr_assert_eq(c.len, (int)sizeof batch, "one receive of %d bytes, want the whole batch of %zu", c.len, sizeof batch);
	cr_assert_not(c.truncated);
	cr_assert_not(c.ctl_truncated);
	cr_assert_eq(memcmp(c.data, batch, sizeof batch), 0, "the batch came back changed");
	cr_assert_eq(gro_seg(c.ctl, c.ctl_len), 1453, "UDP_GRO cmsg: %d in %u bytes of control data", gro_seg(c.ctl, c.ctl_len),
		     c.ctl_len);
	cr_assert_eq(c.enable_again, -EBUSY, "enabling after a receive: %d", c.enable_again);
	close(cfd);
	t_rt_stop(&t);
}

static void gro_none_main(void *arg)
{
	struct gro_case *c = arg;
	int err = 0;
	if (core_reactor_index(core_self()) != 0)
		return;
	struct core_udp *u = core_udp_new(c->fd, &err);
	c->enable = core_udp_enable_gro(u);
	core_udp_close(u);
	atomic_store(&c->done, 1);
}

Test(core_udp, gro_needs_the_gro_ring, .timeout = 10)
{
	static struct gro_case c;
	struct core_rt_opts o = {.num_threads = 1};
	struct t_rt t;
	uint16_t port;
	memset(&c, 0, sizeof c);
	c.fd = t_bind_udp(&port);
	t_rt_start(&t, &o, gro_none_main, &c);
	cr_assert(t_wait_until(done, &c.done, 5000));
	cr_assert_eq(c.enable, -EOPNOTSUPP, "without udp_gro_bufs: %d", c.enable);
	t_rt_stop(&t);
}
