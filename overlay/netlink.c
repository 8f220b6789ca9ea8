/* overlay/netlink.c: see netlink.h. */
#include "overlay/netlink.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

struct req {
	struct nlmsghdr h;
	union {
		struct ifinfomsg link;
		struct ifaddrmsg addr;
		struct rtmsg route;
	};
	uint8_t attrs[64];
};

static void put_attr(struct req *r, unsigned short type, const void *data, unsigned short len)
{
	struct rtattr *a = (struct rtattr *)((uint8_t *)r + NLMSG_ALIGN(r->h.nlmsg_len));
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Sends r and returns the kernel's answer: 0 or a negative errno. */
static int talk(struct req *r)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	int rc;
	struct timeval tv = {.tv_sec = 2};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_nl k = {.nl_family = AF_NETLINK};
	r->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	r->h.nlmsg_seq = 1;
	if (sendto(fd, r, r->h.nlmsg_len, 0, (struct sockaddr *)&k, sizeof k) < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		union {
			struct nlmsghdr h;
			uint8_t b[4096];
		} ans;
		ssize_t n = recv(fd, &ans, sizeof ans, 0);
		if (n < 0) {
			rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out;
		}
		for (size_t off = 0; off + sizeof(struct nlmsghdr) <= (size_t)n;) {
			struct nlmsghdr *h = (struct nlmsghdr *)(ans.b + off);
			if (h->nlmsg_len < sizeof *h || h->nlmsg_len > (size_t)n - off)
				break;
			off += NLMSG_ALIGN(h->nlmsg_len);
			if (h->nlmsg_seq != 1 || h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
				rc = -EPROTO;
				goto out;
			}
			rc = ((struct nlmsgerr *)NLMSG_DATA(h))->error; /* 0 is the ack */
			goto out;
		}
	}
out:
	close(fd);
	return rc;
}

int overlay_nl_link_set(int ifindex, unsigned mtu, int up)
{
	struct req r = {0};
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof r.link);
	r.h.nlmsg_type = RTM_NEWLINK;
	r.link.ifi_family = AF_UNSPEC;
	r.link.ifi_index = ifindex;
	r.link.ifi_change = IFF_UP;
	r.link.ifi_flags = up ? IFF_UP : 0;
	if (mtu) {
		uint32_t m = mtu;
		put_attr(&r, IFLA_MTU, &m, sizeof m);
	}
	return talk(&r);
}

/* An RTM_NEWADDR or RTM_DELADDR request for addr/prefix_len on ifindex. */
static void addr_req(struct req *r, uint16_t type, int ifindex, int family, const uint8_t *addr, unsigned prefix_len)
{
	unsigned short alen = family == AF_INET ? 4 : 16;
	r->h.nlmsg_len = NLMSG_LENGTH(sizeof r->addr);
	r->h.nlmsg_type = type;
	r->addr.ifa_family = (unsigned char)family;
	r->addr.ifa_prefixlen = (unsigned char)prefix_len;
	r->addr.ifa_scope = RT_SCOPE_UNIVERSE;
	r->addr.ifa_index = (unsigned)ifindex;
	put_attr(r, IFA_LOCAL, addr, alen);
	put_attr(r, IFA_ADDRESS, addr, alen);
}

int overlay_nl_addr_add(int ifindex, int family, const uint8_t *addr, unsigned prefix_len)
{
	struct req r = {0};
	addr_req(&r, RTM_NEWADDR, ifindex, family, addr, prefix_len);
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	if (family == AF_INET6) {
		/* No duplicate address detection: the address is ours by
		 * derivation, and DAD would hold it "tentative" for a second. */
		uint32_t fl = IFA_F_NODAD;
		put_attr(&r, IFA_FLAGS, &fl, sizeof fl);
	}
	int rc = talk(&r);
	return rc == -EEXIST ? 0 : rc;
}

int overlay_nl_addr_del(int ifindex, int family, const uint8_t *addr, unsigned prefix_len)
{
	struct req r = {0};
	addr_req(&r, RTM_DELADDR, ifindex, family, addr, prefix_len);
	int rc = talk(&r);
	return rc == -EADDRNOTAVAIL || rc == -ENOENT ? 0 : rc;
}

int overlay_nl_route_add(int ifindex, int family, const uint8_t *dst, unsigned prefix_len)
{
	struct req r = {0};
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof r.route);
	r.h.nlmsg_type = RTM_NEWROUTE;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	r.route.rtm_family = (unsigned char)family;
	r.route.rtm_dst_len = (unsigned char)prefix_len;
	r.route.rtm_table = RT_TABLE_MAIN;
	r.route.rtm_protocol = RTPROT_STATIC;
	r.route.rtm_scope = RT_SCOPE_LINK;
	r.route.rtm_type = RTN_UNICAST;
	uint32_t oif = (uint32_t)ifindex;
	put_attr(&r, RTA_DST, dst, family == AF_INET ? 4 : 16);
	put_attr(&r, RTA_OIF, &oif, sizeof oif);
	int rc = talk(&r);
	return rc == -EEXIST ? 0 : rc;
}
