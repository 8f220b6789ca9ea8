/* overlay/tun with the real kernel: a TUN interface in a private network
 * namespace, configured by rtnetlink, carries the kernel's packets to us,
 * and the ICMP errors we write back reach the sockets that sent them as
 * the errors a router's would: EHOSTUNREACH for a UDP send (seen with
 * IP_RECVERR, as ping and traceroute ask for it: Linux reports host
 * unreachable to UDP sockets only then) and a TCP connect to an address no
 * member owns, and a smaller path MTU after
 * "fragmentation needed". Root only (each Criterion test runs in its own
 * process, which unshares its own network namespace): skipped otherwise. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "overlay/addr.h"
#include "overlay/icmp.h"
#include "overlay/netlink.h"
#include "overlay/packet.h"
#include "overlay/tun.h"

static struct overlay_tun tun;
static struct overlay_tun_config cfg;

static void lab(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (CAP_NET_ADMIN) for a network namespace and a TUN device");
	if (unshare(CLONE_NEWNET) < 0)
		cr_skip_test("unshare(CLONE_NEWNET): %s", strerror(errno));
	char err[256];
	int rc = overlay_tun_open(&tun, "atmtest0", 1, 0, err, sizeof err);
	cr_assert_eq(rc, 0, "%s", err);
	uint32_t a = overlay_addr4("mesh-test", "node-a", 0);
	cfg.mtu = 1400;
	cfg.addr4[0] = (uint8_t)(a >> 24);
	cfg.addr4[1] = (uint8_t)(a >> 16);
	cfg.addr4[2] = (uint8_t)(a >> 8);
	cfg.addr4[3] = (uint8_t)a;
	overlay_addr6("mesh-test", "node-a", 0, cfg.addr6);
	memcpy(cfg.route4, "\x64\x40\x00\x00", 4);
	cfg.route4_len = 10;
	overlay_prefix6("mesh-test", cfg.route6);
	cfg.route6_len = 48;
	rc = overlay_tun_configure(&tun, &cfg, err, sizeof err);
	cr_assert_eq(rc, 0, "%s", err);
}

/* The next packet the kernel routes to the TUN (skipping IPv6 router and
 * neighbour chatter), within 2 s. */
static size_t next_packet(uint8_t *buf, size_t cap, int version, struct overlay_ip *ip)
{
	for (int tries = 0; tries < 50; tries++) {
		struct pollfd p = {tun.fds[0], POLLIN, 0};
		cr_assert_eq(poll(&p, 1, 2000), 1, "no packet reached the TUN within 2 s");
		ssize_t n = read(tun.fds[0], buf, cap);
		cr_assert_gt(n, 0);
		if (overlay_ip_parse(buf, (size_t)n, ip) == OVERLAY_IP_OK && ip->version == version &&
		    (ip->proto == 17 || ip->proto == 6))
			return (size_t)n;
	}
	cr_assert_fail("only other packets reached the TUN");
	return 0;
}

static void answer(const uint8_t *pkt, size_t n, const struct overlay_ip *ip, enum overlay_icmp_kind kind,
		   uint32_t mtu)
{
	uint8_t out[OVERLAY_ICMP_MAX];
	size_t m = overlay_icmp_error(pkt, n, kind, mtu, ip->dst, out);
	cr_assert_gt(m, 0);
	cr_assert_eq(write(tun.fds[0], out, m), (ssize_t)m);
}

/* The socket's pending error, waiting up to ms for one (POLLERR is
 * reported whatever the events asked for; asking for none makes poll wait
 * for it alone). */
static int wait_error(int fd, int ms)
{
	struct pollfd p = {fd, 0, 0};
	poll(&p, 1, ms);
	int e = 0;
	socklen_t el = sizeof e;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
	return e;
}

/* Sends a datagram on the connected socket s, answers it from the TUN with
 * host unreachable, and returns the error s then reports. As a router
 * answers every datagram, up to three are sent: an ICMPv6 error written
 * back within microseconds of the send is now and then not matched to the
 * socket by the kernel (about 1 in 6 here); the next one is. */
static int udp_unreachable(int s, int version, const uint8_t *src)
{
	int e = 0;
	for (int tries = 0; tries < 3 && !e; tries++) {
		cr_assert_eq(send(s, "hello", 5, 0), 5);
		uint8_t buf[2048];
		struct overlay_ip ip;
		size_t n = next_packet(buf, sizeof buf, version, &ip);
		cr_assert_arr_eq(ip.src, src, version == 4 ? 4 : 16, "the kernel sends from our overlay address");
		answer(buf, n, &ip, OVERLAY_ICMP_UNREACHABLE, 0);
		e = wait_error(s, 700);
	}
	return e;
}

Test(overlay_tun, udp_to_no_member_gets_host_unreachable_v4)
{
	lab();
	int s = socket(AF_INET, SOCK_DGRAM, 0), on = 1;
	cr_assert_eq(setsockopt(s, IPPROTO_IP, IP_RECVERR, &on, sizeof on), 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
	memcpy(&to.sin_addr, "\x64\x40\x09\x09", 4);
	cr_assert_eq(connect(s, (struct sockaddr *)&to, sizeof to), 0);
	int e = udp_unreachable(s, 4, cfg.addr4);
	cr_assert_eq(e, EHOSTUNREACH, "%s", strerror(e));
	close(s);
}

Test(overlay_tun, tcp_connect_to_no_member_fails_at_once_v4)
{
	lab();
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(22)};
	memcpy(&to.sin_addr, "\x64\x40\x09\x0a", 4);
	cr_assert_eq(connect(s, (struct sockaddr *)&to, sizeof to), -1);
	cr_assert_eq(errno, EINPROGRESS);
	uint8_t buf[2048];
	struct overlay_ip ip;
	size_t n = next_packet(buf, sizeof buf, 4, &ip);
	cr_assert_eq(ip.proto, 6, "a SYN");
	answer(buf, n, &ip, OVERLAY_ICMP_UNREACHABLE, 0);
	cr_assert_eq(wait_error(s, 2000), EHOSTUNREACH, "connect() fails instead of retrying SYNs for minutes");
	close(s);
}

Test(overlay_tun, udp_to_no_member_gets_address_unreachable_v6)
{
	lab();
	int s = socket(AF_INET6, SOCK_DGRAM, 0), on = 1;
	cr_assert_eq(setsockopt(s, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on), 0);
	struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
	overlay_prefix6("mesh-test", to.sin6_addr.s6_addr);
	to.sin6_addr.s6_addr[15] = 9;
	cr_assert_eq(connect(s, (struct sockaddr *)&to, sizeof to), 0);
	int e = udp_unreachable(s, 6, cfg.addr6);
	cr_assert_eq(e, EHOSTUNREACH, "%s", strerror(e));
	close(s);
}

Test(overlay_tun, fragmentation_needed_lowers_the_path_mtu_v4)
{
	lab();
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	int pmtu = IP_PMTUDISC_DO;
	cr_assert_eq(setsockopt(s, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu), 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
	memcpy(&to.sin_addr, "\x64\x40\x09\x0b", 4);
	cr_assert_eq(connect(s, (struct sockaddr *)&to, sizeof to), 0);
	static uint8_t big[1372];
	cr_assert_eq(send(s, big, sizeof big, 0), (ssize_t)sizeof big, "1400 bytes fit the TUN's MTU");
	uint8_t buf[2048];
	struct overlay_ip ip;
	size_t n = next_packet(buf, sizeof buf, 4, &ip);
	cr_assert_eq(ip.len, 1400);
	answer(buf, n, &ip, OVERLAY_ICMP_TOO_BIG, 1280);
	int mtu = 0;
	for (int i = 0; i < 20 && mtu != 1280; i++) {
		usleep(50000);
		socklen_t ml = sizeof mtu;
		getsockopt(s, IPPROTO_IP, IP_MTU, &mtu, &ml);
	}
	cr_assert_eq(mtu, 1280, "the kernel took the path MTU from our error");
	cr_assert_eq(send(s, big, sizeof big, 0), -1);
	cr_assert_eq(errno, EMSGSIZE, "and refuses what no longer fits");
	close(s);
}

Test(overlay_tun, a_bad_name_and_a_second_owner_are_refused)
{
	char err[256];
	struct overlay_tun t;
	cr_assert_eq(overlay_tun_open(&t, "far-too-long-interface-name", 1, 0, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "bad interface name"));
	cr_assert_eq(overlay_tun_open(&t, "ok0", 0, 0, err, sizeof err), -EINVAL);
}

/* Whether a UDP socket can bind a (network-order) IPv4 address here: only
 * an address of one of the namespace's interfaces can be bound. */
static bool bindable4(const uint8_t a[4])
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	memcpy(&sa.sin_addr, a, 4);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	bool ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

/* A member that moves to another collision counter (node/overlay.c): the
 * new addresses are added by overlay_tun_configure, the old ones removed by
 * overlay_nl_addr_del; removing one that is gone already is not an error. */
Test(overlay_tun, an_address_moves, .init = lab)
{
	struct overlay_tun_config moved = cfg;
	char err[256];
	uint32_t a = overlay_addr4("mesh-test", "node-a", 1);
	moved.addr4[0] = (uint8_t)(a >> 24);
	moved.addr4[1] = (uint8_t)(a >> 16);
	moved.addr4[2] = (uint8_t)(a >> 8);
	moved.addr4[3] = (uint8_t)a;
	overlay_addr6("mesh-test", "node-a", 1, moved.addr6);
	cr_assert(bindable4(cfg.addr4) && !bindable4(moved.addr4));
	cr_assert_eq(overlay_tun_configure(&tun, &moved, err, sizeof err), 0, "%s", err);
	cr_assert_eq(overlay_nl_addr_del(tun.ifindex, AF_INET, cfg.addr4, 32), 0);
	cr_assert_eq(overlay_nl_addr_del(tun.ifindex, AF_INET6, cfg.addr6, 128), 0);
	cr_assert(!bindable4(cfg.addr4), "the old address is gone");
	cr_assert(bindable4(moved.addr4), "the new address is there");
	cr_assert_eq(overlay_nl_addr_del(tun.ifindex, AF_INET, cfg.addr4, 32), 0, "a second removal is no error");
}

/* routable6: a UDP connect to addr finds a route (ENETUNREACH when none:
 * the namespace has no default route). */
static bool routable6(const uint8_t addr[16])
{
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
	memcpy(&sa.sin6_addr, addr, 16);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	int e = errno;
	close(fd);
	cr_assert(rc == 0 || e == ENETUNREACH, "connect: %s", strerror(e));
	return rc == 0;
}

/* A node that joins another mesh while its overlay is up (node/overlay.c):
 * the new mesh's prefix is routed by overlay_tun_configure, the old one
 * removed by overlay_nl_route_del; removing it twice is no error. */
Test(overlay_tun, a_mesh_route_goes, .init = lab)
{
	struct overlay_tun_config other = cfg;
	char err[256];
	uint8_t old_member[16], new_member[16];
	overlay_addr6("mesh-test", "node-b", 0, old_member);
	overlay_prefix6("mesh-other", other.route6);
	overlay_addr6("mesh-other", "node-a", 0, other.addr6);
	overlay_addr6("mesh-other", "node-b", 0, new_member);
	cr_assert(routable6(old_member) && !routable6(new_member));
	cr_assert_eq(overlay_tun_configure(&tun, &other, err, sizeof err), 0, "%s", err);
	cr_assert(routable6(new_member), "the new mesh's prefix is routed");
	cr_assert_eq(overlay_nl_route_del(tun.ifindex, AF_INET6, cfg.route6, 48), 0);
	cr_assert(!routable6(old_member), "the old mesh's prefix is not");
	cr_assert(routable6(new_member), "the new one still is");
	cr_assert_eq(overlay_nl_route_del(tun.ifindex, AF_INET6, cfg.route6, 48), 0, "a second removal is no error");
}
