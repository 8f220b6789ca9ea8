#ifndef PORTMAP_INTERNAL_H
#define PORTMAP_INTERNAL_H
/* portmap/internal.h: the three protocol clients and the gateway lookup,
 * shared by the coordinator (portmap.c) and the probe (probe.c); portmap/
 * only.
 *
 * PCP and NAT-PMP are stepped: open, begin (sends the first request), then
 * the caller polls fd() until readable or timeout_ms() passes and calls
 * step(), which reads what arrived and retransmits when due; step() returns
 * PM_PENDING, PM_DONE (the result is filled) or PM_FAILED. UPnP blocks
 * (miniupnpc), so it runs on a thread of its own. */
#include <miniupnpc/miniupnpc.h>
#include <natpmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "portmap/pcp.h"
#include "portmap/portmap.h"

enum pm_step {
	PM_FAILED = -1,
	PM_PENDING = 0,
	PM_DONE = 1,
};

/* Counters of answers refused (garbage, wrong source, lies), process-wide. */
extern atomic_uint pm_refused;

/* portmap/gateway.c */
uint64_t pm_now_ms(void);
/* pm_gateway finds the IPv4 default gateway in /proc/net/route: 0 or
 * -ENETUNREACH. */
int pm_gateway(uint32_t *out_be);
/* pm_local_addr: the address we leave from towards gw (connect + getsockname
 * on a UDP socket; nothing is sent). 0 or -errno. */
int pm_local_addr(uint32_t gw_be, uint32_t *out_be);
/* pm_usable_external: whether a gateway-reported external address can be a
 * candidate (not 0.0.0.0, loopback, multicast, broadcast, link-local). */
bool pm_usable_external(uint32_t ip_be);
/* pm_fmt_ip formats an IPv4 address (network order) into out[16]. */
void pm_fmt_ip(uint32_t ip_be, char out[static 16]);

/* portmap/pcp_client.c: PCP over a UDP socket connected to gateway:5351. */
struct pm_pcp {
	int fd;                         /* -1: closed */
	uint32_t gw_be, local_be;
	struct portmap_pcp_map_req req;
	bool announce;                  /* the probe: ANNOUNCE instead of MAP */
	uint64_t next_ms;               /* when to retransmit */
	unsigned interval_ms;
	uint32_t last_epoch;
	bool have_epoch;
	uint8_t last_result;            /* the last error result, for logs */
};
int pm_pcp_open(struct pm_pcp *c, uint32_t gw_be);
/* pm_pcp_begin sends a MAP for port (a new nonce when new_nonce, else the
 * mapping's own: renewals and the delete reuse it, RFC 6887 §11.2.1). */
int pm_pcp_begin(struct pm_pcp *c, uint16_t port, uint16_t suggested_port, uint32_t lifetime, bool new_nonce);
int pm_pcp_begin_announce(struct pm_pcp *c);
int pm_pcp_timeout_ms(const struct pm_pcp *c);
int pm_pcp_step(struct pm_pcp *c, struct portmap_mapping *out);
void pm_pcp_close(struct pm_pcp *c);

/* portmap/pmp.c: NAT-PMP through libnatpmp: the public address, then the
 * mapping. */
struct pm_pmp {
	natpmp_t n;
	bool open;
	bool probe_only;                /* stop after the public address */
	int stage;                      /* 0: public address asked, 1: mapping asked */
	uint16_t port, ext_port;
	uint32_t lifetime;
	uint32_t gw_be, public_be;
};
int pm_pmp_open(struct pm_pmp *c, uint32_t gw_be);
int pm_pmp_begin(struct pm_pmp *c, uint16_t port, uint16_t ext_port, uint32_t lifetime, bool probe_only);
int pm_pmp_fd(const struct pm_pmp *c);
int pm_pmp_timeout_ms(struct pm_pmp *c);
int pm_pmp_step(struct pm_pmp *c, struct portmap_mapping *out);
void pm_pmp_close(struct pm_pmp *c);

/* portmap/upnp.c: UPnP IGD through miniupnpc. Every call blocks. */
struct pm_upnp {
	struct UPNPUrls urls;
	struct IGDdatas data;
	bool have;                      /* urls/data filled */
	char lan[64];                   /* our address as the IGD sees it */
	char ext_port[8];               /* the mapping's, "" when none */
	uint32_t gw_be;
};
/* pm_upnp_find: SSDP for ssdp_ms, keep only devices served by the gateway,
 * pick a connected IGD. 0, -ENOENT (none), -ENOMEM. */
int pm_upnp_find(struct pm_upnp *u, uint32_t gw_be, unsigned ssdp_ms);
int pm_upnp_external_ip(struct pm_upnp *u, uint32_t *out_be);
/* pm_upnp_map adds (or refreshes) the UDP mapping of port. 0 or -errno. */
int pm_upnp_map(struct pm_upnp *u, uint16_t port, uint32_t lifetime, struct portmap_mapping *out);
int pm_upnp_delete(struct pm_upnp *u);
void pm_upnp_free(struct pm_upnp *u);

#endif
