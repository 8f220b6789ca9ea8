#ifndef OVERLAY_NETLINK_H
#define OVERLAY_NETLINK_H
/* overlay/netlink.h: the few rtnetlink requests the TUN setup needs (RFC
 * 3549; linux/rtnetlink.h): link MTU and up, an address, a route. Each
 * opens a NETLINK_ROUTE socket, sends one request with NLM_F_ACK and waits
 * for the kernel's answer (bounded: the socket has a 2 s receive timeout).
 * Returns 0 or the kernel's negative errno (-EEXIST counts as success for
 * addresses and routes). Addresses in network order; family AF_INET or
 * AF_INET6. */
#include <stdint.h>

int overlay_nl_link_set(int ifindex, unsigned mtu, int up);
int overlay_nl_addr_add(int ifindex, int family, const uint8_t *addr, unsigned prefix_len);
/* overlay_nl_addr_del removes an address (one that is not there counts as
 * success: -EADDRNOTAVAIL). */
int overlay_nl_addr_del(int ifindex, int family, const uint8_t *addr, unsigned prefix_len);
int overlay_nl_route_add(int ifindex, int family, const uint8_t *dst, unsigned prefix_len);

#endif
