/* portmap/upnp.c: a UPnP IGD client through Debian's miniupnpc: SSDP
 * discovery bounded by a timeout, the gateway's IGD only, AddPortMapping and
 * DeletePortMapping for UDP. Every call blocks (the coordinator runs it on
 * its own thread); miniupnpc sets 3 s timeouts on its HTTP sockets.
 *
 * Only the default gateway is asked: SSDP answers from other LAN devices are
 * dropped before miniupnpc fetches their descriptions, and an IGD whose
 * control URL points anywhere but the gateway is not used. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

#include "core/log.h"
#include "portmap/internal.h"

/* UPnP errors (IGD WANIPConnection v1/v2) we act on. */
enum {
	UPNP_ERR_CONFLICT = 718,            /* ConflictInMappingEntry */
	UPNP_ERR_ONLY_PERMANENT = 725,      /* OnlyPermanentLeasesSupported */
};
/* External ports tried after ours is taken. */
enum { UPNP_PORT_TRIES = 4 };

static struct core_log_limit refuse_log = {.burst = 5};

/* Whether url is http://<gateway>[:port]/...: the host part is compared as
 * text against the dotted gateway address. */
static bool url_on_gateway(const char *url, uint32_t gw_be)
{
	char gw[16];
	pm_fmt_ip(gw_be, gw);
	if (!url || strncmp(url, "http://", 7) != 0)
		return false;
	const char *h = url + 7;
	size_t n = strlen(gw);
	return strncmp(h, gw, n) == 0 && (h[n] == ':' || h[n] == '/' || h[n] == 0);
}

int pm_upnp_find(struct pm_upnp *u, uint32_t gw_be, unsigned ssdp_ms)
{
	memset(u, 0, sizeof *u);
	u->gw_be = gw_be;
	int err = 0;
	/* One search target: upnpDiscover tries four in turn, waiting ssdp_ms
	 * for each, which would make the bound four times longer. An IGD:2
	 * answers a search for IGD:1 too (UPnP Device Architecture 1.1
	 * §1.3.2: a device answers for every version up to its own). ttl 2
	 * as miniupnpc's own tools: the IGD is on our link. */
	static const char *const types[] = {"urn:schemas-upnp-org:device:InternetGatewayDevice:1", NULL};
	struct UPNPDev *list =
		upnpDiscoverDevices(types, (int)ssdp_ms, NULL, NULL, UPNP_LOCAL_PORT_ANY, 0, 2, &err, 0);
	if (!list)
		return -ENOENT;
	/* Keep only what the gateway serves. */
	struct UPNPDev *keep = NULL, **tail = &keep, *next;
	for (struct UPNPDev *d = list; d; d = next) {
		next = d->pNext;
		d->pNext = NULL;
		if (url_on_gateway(d->descURL, gw_be)) {
			*tail = d;
			tail = &d->pNext;
		} else {
			core_log(CORE_LOG_DEBUG, "upnp: ignoring %s (not the gateway)", d->descURL ? d->descURL : "?");
			freeUPNPDevlist(d);
		}
	}
	if (!keep)
		return -ENOENT;
	/* 1: a connected IGD; 2: an IGD that says it is not connected. Some
	 * gateways report the WAN link wrongly (miniupnpd does whenever its
	 * external address is a reserved one, as behind a carrier NAT);
	 * GetExternalIPAddress and the mapping itself are the real test. */
	int r = UPNP_GetValidIGD(keep, &u->urls, &u->data, u->lan, sizeof u->lan);
	freeUPNPDevlist(keep);
	if (r != 1 && r != 2) {
		if (r != 0)
			FreeUPNPUrls(&u->urls);
		core_log(CORE_LOG_DEBUG, "upnp: no connected IGD on the gateway (UPNP_GetValidIGD: %d)", r);
		return -ENOENT;
	}
	if (!url_on_gateway(u->urls.controlURL, gw_be)) {
		atomic_fetch_add(&pm_refused, 1);
		core_log_limited(&refuse_log, CORE_LOG_WARN, "upnp: the gateway's IGD points elsewhere (%s): not used",
				 u->urls.controlURL ? u->urls.controlURL : "?");
		FreeUPNPUrls(&u->urls);
		return -ENOENT;
	}
	u->have = true;
	return 0;
}

void pm_upnp_free(struct pm_upnp *u)
{
	if (u->have)
		FreeUPNPUrls(&u->urls);
	u->have = false;
}

int pm_upnp_external_ip(struct pm_upnp *u, uint32_t *out_be)
{
	char ip[64] = "";
	if (!u->have)
		return -ENOENT;
	int r = UPNP_GetExternalIPAddress(u->urls.controlURL, u->data.first.servicetype, ip);
	ip[sizeof ip - 1] = 0;
	struct in_addr a;
	if (r != UPNPCOMMAND_SUCCESS || inet_pton(AF_INET, ip, &a) != 1 || !pm_usable_external(a.s_addr)) {
		atomic_fetch_add(&pm_refused, 1);
		core_log_limited(&refuse_log, CORE_LOG_INFO, "upnp: GetExternalIPAddress: %d, address '%.40s': unusable", r, ip);
		return -EPROTO;
	}
	*out_be = a.s_addr;
	return 0;
}

int pm_upnp_map(struct pm_upnp *u, uint16_t port, uint32_t lifetime, struct portmap_mapping *out)
{
	uint32_t ext_ip;
	int e = pm_upnp_external_ip(u, &ext_ip);
	if (e < 0)
		return e;
	char in_port[8], lease[12];
	snprintf(in_port, sizeof in_port, "%u", port);
	snprintf(lease, sizeof lease, "%u", lifetime);
	/* The port we hold (a renewal), else our own, else random ones. */
	char ext[8];
	snprintf(ext, sizeof ext, "%s", u->ext_port[0] ? u->ext_port : in_port);
	int r = -1;
	for (int i = 0; i < UPNP_PORT_TRIES; i++) {
		r = UPNP_AddPortMapping(u->urls.controlURL, u->data.first.servicetype, ext, in_port, u->lan, "atmosphere",
					"UDP", NULL, lease);
		if (r == UPNP_ERR_ONLY_PERMANENT && strcmp(lease, "0") != 0) {
			/* IGDv1 gateways may only do permanent leases: take
			 * one; we delete it at exit. */
			snprintf(lease, sizeof lease, "0");
			i--;
			continue;
		}
		if (r != UPNP_ERR_CONFLICT)
			break;
		uint16_t rnd;
		if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
			break;
		snprintf(ext, sizeof ext, "%u", 1024u + rnd % (65536u - 1024u));
	}
	if (r != UPNPCOMMAND_SUCCESS) {
		core_log(CORE_LOG_DEBUG, "upnp: AddPortMapping %s -> %s:%s: %d (%s)", ext, u->lan, in_port, r, strupnperror(r));
		return -EPROTO;
	}
	snprintf(u->ext_port, sizeof u->ext_port, "%s", ext);
	memset(out, 0, sizeof *out);
	out->proto = PORTMAP_UPNP;
	out->external.sin_family = AF_INET;
	out->external.sin_addr.s_addr = ext_ip;
	out->external.sin_port = htons((uint16_t)atoi(ext));
	out->internal_port = port;
	out->lifetime_s = (uint32_t)strtoul(lease, NULL, 10);
	out->gateway_be = u->gw_be;
	return 0;
}

int pm_upnp_delete(struct pm_upnp *u)
{
	if (!u->have || !u->ext_port[0])
		return 0;
	int r = UPNP_DeletePortMapping(u->urls.controlURL, u->data.first.servicetype, u->ext_port, "UDP", NULL);
	u->ext_port[0] = 0;
	return r == UPNPCOMMAND_SUCCESS ? 0 : -EPROTO;
}
