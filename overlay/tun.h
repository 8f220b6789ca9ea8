#ifndef OVERLAY_TUN_H
#define OVERLAY_TUN_H
/* overlay/tun.h: the TUN device the overlay's packets enter and leave by.
 *
 * overlay_tun_open creates (or attaches to) a layer-3 TUN interface without
 * packet information headers: each read() returns one IP packet, each
 * write() injects one. With queues > 1 the interface is multi-queue
 * (IFF_MULTI_QUEUE) and each fd is one queue, so each reactor thread can
 * own one. overlay_tun_configure then gives it an MTU, this node's
 * addresses and the mesh's routes, and brings it up (rtnetlink, see
 * overlay/netlink.h). Both need CAP_NET_ADMIN: without it they fail with
 * -EPERM and a message that says how to get it. */
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OVERLAY_TUN_DEFAULT_NAME "atmosphere0"
#define OVERLAY_TUN_MAX_QUEUES 16
/* overlay_tun_open's flags. OFFLOAD: every read and write starts with a
 * struct virtio_net_hdr (IFF_VNET_HDR), and the kernel may hand over TCP
 * packets of up to 64 KiB unsegmented and checksums unfinished
 * (TUNSETOFFLOAD: TSO4, TSO6, CSUM); overlay/gso.h makes packets of them. */
#define OVERLAY_TUN_OFFLOAD 1u

struct overlay_tun {
	char name[IFNAMSIZ];            /* as the kernel named it */
	int ifindex;
	int fds[OVERLAY_TUN_MAX_QUEUES];        /* owned, blocking (for io_uring: core/fd.h), close-on-exec */
	unsigned queues;
	bool vnet_hdr;                  /* reads and writes carry a virtio_net_hdr */
	bool offload;                   /* the kernel accepted TSO and CSUM */
};

/* overlay_tun_open opens queues (1..OVERLAY_TUN_MAX_QUEUES) queues of the
 * interface called name (NULL: OVERLAY_TUN_DEFAULT_NAME; at most
 * IFNAMSIZ - 1 bytes), with flags (OVERLAY_TUN_OFFLOAD or 0). A kernel that
 * refuses the offloads leaves vnet_hdr on and offload false (reads are then
 * single packets with finished checksums). Returns 0, or a negative errno
 * with the reason in err (-EPERM: no CAP_NET_ADMIN; -ENOENT: no
 * /dev/net/tun; -EBUSY: the name is another kind of interface or one in
 * use). */
int overlay_tun_open(struct overlay_tun *t, const char *name, unsigned queues, unsigned flags, char *err,
		     size_t err_len);

/* What overlay_tun_configure sets. Addresses in network order. */
struct overlay_tun_config {
	unsigned mtu;
	uint8_t addr4[4];               /* this node's overlay addresses ... */
	uint8_t addr6[16];
	uint8_t route4[4];              /* ... and the mesh's prefixes */
	unsigned route4_len;
	uint8_t route6[16];
	unsigned route6_len;
};

/* overlay_tun_configure sets the MTU, adds addr4/32 and addr6/128, brings
 * the link up and routes route4/route4_len and route6/route6_len to it.
 * Addresses or routes that already exist are fine. Returns 0 or a negative
 * errno with the step that failed in err. */
int overlay_tun_configure(const struct overlay_tun *t, const struct overlay_tun_config *c, char *err,
			  size_t err_len);

/* overlay_tun_close closes every queue; a non-persistent interface goes
 * away with its last queue, and its addresses and routes with it. */
void overlay_tun_close(struct overlay_tun *t);

#endif
