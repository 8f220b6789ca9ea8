/* overlay/tun.c: see tun.h. Documentation/networking/tuntap.rst. */
#include "overlay/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "overlay/netlink.h"

static const char *hint(int e)
{
	if (e == EPERM || e == EACCES)
		return " (creating a network interface needs CAP_NET_ADMIN: run as root, or give the binary the "
		       "capability with 'setcap cap_net_admin+ep', or run the node as a service with "
		       "AmbientCapabilities=CAP_NET_ADMIN; the node works without the overlay)";
	if (e == ENOENT || e == ENODEV)
		return " (no /dev/net/tun: load the tun module with 'modprobe tun'; in a container, pass the device "
		       "in)";
	return "";
}

int overlay_tun_open(struct overlay_tun *t, const char *name, unsigned queues, unsigned flags, char *err,
		     size_t err_len)
{
	memset(t, 0, sizeof *t);
	for (unsigned i = 0; i < OVERLAY_TUN_MAX_QUEUES; i++)
		t->fds[i] = -1;
	if (!name)
		name = OVERLAY_TUN_DEFAULT_NAME;
	if (!*name || strlen(name) >= IFNAMSIZ || strchr(name, '/') || strchr(name, ' ')) {
		snprintf(err, err_len, "bad interface name '%s' (1 to %d characters, no '/' or spaces)", name,
			 IFNAMSIZ - 1);
		return -EINVAL;
	}
	if (queues < 1 || queues > OVERLAY_TUN_MAX_QUEUES) {
		snprintf(err, err_len, "queues must be 1 to %d", OVERLAY_TUN_MAX_QUEUES);
		return -EINVAL;
	}
	int rc = 0;
	for (unsigned i = 0; i < queues; i++) {
		int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			snprintf(err, err_len, "/dev/net/tun: %s%s", strerror(errno), hint(errno));
			goto fail;
		}
		t->fds[t->queues++] = fd;
		struct ifreq ifr = {0};
		ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | (queues > 1 ? IFF_MULTI_QUEUE : 0) |
					(flags & OVERLAY_TUN_OFFLOAD ? IFF_VNET_HDR : 0));
		snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", i ? t->name : name);
		if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
			rc = -errno;
			snprintf(err, err_len, "creating interface %s: %s%s", name, strerror(errno), hint(errno));
			if (errno == EINVAL || errno == EBUSY)
				rc = -EBUSY;
			goto fail;
		}
		if (!i)
			snprintf(t->name, sizeof t->name, "%s", ifr.ifr_name);
		if (flags & OVERLAY_TUN_OFFLOAD) {
			t->vnet_hdr = true;
			/* The interface's offloads; the same for every queue. */
			unsigned long off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
			t->offload = ioctl(fd, TUNSETOFFLOAD, off) == 0;
		}
	}
	t->ifindex = (int)if_nametoindex(t->name);
	if (!t->ifindex) {
		rc = -errno;
		snprintf(err, err_len, "interface %s vanished: %s", t->name, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	overlay_tun_close(t);
	return rc;
}

int overlay_tun_configure(const struct overlay_tun *t, const struct overlay_tun_config *c, char *err,
			  size_t err_len)
{
	const char *step;
	int rc;
	step = "setting the MTU";
	if ((rc = overlay_nl_link_set(t->ifindex, c->mtu, 0)) < 0)
		goto fail;
	step = "adding the IPv4 address";
	if ((rc = overlay_nl_addr_add(t->ifindex, AF_INET, c->addr4, 32)) < 0)
		goto fail;
	step = "bringing the link up";
	if ((rc = overlay_nl_link_set(t->ifindex, 0, 1)) < 0)
		goto fail;
	step = "routing the mesh's IPv4 prefix";
	if ((rc = overlay_nl_route_add(t->ifindex, AF_INET, c->route4, c->route4_len)) < 0)
		goto fail;
	/* IPv6 last: a host with IPv6 disabled (net.ipv6.conf.all.disable_ipv6)
	 * still gets a working IPv4 overlay, and the message says why not v6. */
	step = "adding the IPv6 address";
	if ((rc = overlay_nl_addr_add(t->ifindex, AF_INET6, c->addr6, 128)) < 0)
		goto fail;
	step = "routing the mesh's IPv6 prefix";
	if ((rc = overlay_nl_route_add(t->ifindex, AF_INET6, c->route6, c->route6_len)) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, err_len, "%s on %s: %s%s", step, t->name, strerror(-rc), hint(-rc));
	return rc;
}

void overlay_tun_close(struct overlay_tun *t)
{
	for (unsigned i = 0; i < t->queues; i++)
		if (t->fds[i] >= 0)
			close(t->fds[i]);
	for (unsigned i = 0; i < OVERLAY_TUN_MAX_QUEUES; i++)
		t->fds[i] = -1;
	t->queues = 0;
}
