/* portmap/probe.c: what the gateway offers, for `atmosphere network`: PCP
 * ANNOUNCE, NAT-PMP's public address and UPnP's IGD asked at once, nothing
 * mapped. PCP and NAT-PMP are polled here; UPnP (blocking) runs on a thread
 * of its own whose SSDP wait is two thirds of the budget, leaving the rest
 * for the IGD's description and GetExternalIPAddress. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>

#include "portmap/internal.h"

struct upnp_probe {
	uint32_t gw_be;
	unsigned ssdp_ms;
	bool ok;
	uint32_t ext_be;
};

static void *upnp_probe_run(void *arg)
{
	struct upnp_probe *p = arg;
	struct pm_upnp u;
	if (pm_upnp_find(&u, p->gw_be, p->ssdp_ms) == 0) {
		/* A connected IGD on the gateway is the offer; its external
		 * address is shown when it gives a usable one. */
		p->ok = true;
		if (pm_upnp_external_ip(&u, &p->ext_be) < 0)
			p->ext_be = 0;
		pm_upnp_free(&u);
	}
	return NULL;
}

int portmap_probe(struct portmap_probe *out, unsigned timeout_ms)
{
	memset(out, 0, sizeof *out);
	uint32_t gw;
	int rc = pm_gateway(&gw);
	if (rc < 0)
		return rc;
	out->have_gateway = true;
	out->gateway_be = gw;
	struct upnp_probe up = {.gw_be = gw, .ssdp_ms = timeout_ms * 2 / 3};
	pthread_t th;
	bool th_ok = pthread_create(&th, NULL, upnp_probe_run, &up) == 0;
	struct pm_pcp pcp;
	struct pm_pmp pmp;
	struct portmap_mapping unused;
	bool pcp_on = pm_pcp_open(&pcp, gw) == 0 && pm_pcp_begin_announce(&pcp) == 0;
	bool pmp_on = pm_pmp_open(&pmp, gw) == 0 && pm_pmp_begin(&pmp, 1, 0, 0, true) == 0;
	uint64_t end = pm_now_ms() + timeout_ms;
	while (pcp_on || pmp_on) {
		uint64_t now = pm_now_ms();
		if (now >= end)
			break;
		int t = (int)(end - now);
		struct pollfd p[2];
		nfds_t n = 0;
		if (pcp_on) {
			p[n++] = (struct pollfd){.fd = pcp.fd, .events = POLLIN};
			int pt = pm_pcp_timeout_ms(&pcp);
			t = pt < t ? pt : t;
		}
		if (pmp_on) {
			p[n++] = (struct pollfd){.fd = pm_pmp_fd(&pmp), .events = POLLIN};
			int pt = pm_pmp_timeout_ms(&pmp);
			t = pt < t ? pt : t;
		}
		poll(p, n, t);
		if (pcp_on) {
			int v = pm_pcp_step(&pcp, &unused);
			if (v != PM_PENDING) {
				pcp_on = false;
				out->pcp = v == PM_DONE;
			}
		}
		if (pmp_on) {
			int v = pm_pmp_step(&pmp, &unused);
			if (v != PM_PENDING) {
				pmp_on = false;
				out->natpmp = v == PM_DONE;
				if (out->natpmp && pm_usable_external(pmp.public_be))
					pm_fmt_ip(pmp.public_be, out->natpmp_ip);
			}
		}
	}
	pm_pcp_close(&pcp);
	pm_pmp_close(&pmp);
	if (th_ok) {
		pthread_join(th, NULL);
		out->upnp = up.ok;
		if (up.ok && up.ext_be)
			pm_fmt_ip(up.ext_be, out->upnp_ip);
	}
	return 0;
}
