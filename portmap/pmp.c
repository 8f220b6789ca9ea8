/* portmap/pmp.c: a NAT-PMP client (RFC 6886) through Debian's libnatpmp:
 * the public address (§3.2), then the UDP mapping (§3.3).
 *
 * libnatpmp's socket is non-blocking and connected to the gateway; its
 * retry clock (250 ms doubling, §3.1) lives in natpmp_t and advances when
 * readnatpmpresponseorretry is called after getnatpmprequesttimeout, so the
 * coordinator polls the socket with that timeout. The library does not check
 * a datagram's length before reading its fields, so each one is peeked at
 * first and a short one is dropped here, counted, never parsed. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "portmap/internal.h"

/* RFC 6886 §3.2, §3.3: the answers are 12 and 16 bytes. */
enum { PMP_PUBLIC_ANSWER_LEN = 12, PMP_MAP_ANSWER_LEN = 16 };

static struct core_log_limit refuse_log = {.burst = 5};

int pm_pmp_open(struct pm_pmp *c, uint32_t gw_be)
{
	memset(c, 0, sizeof *c);
	/* forcegw: the gateway we found, not libnatpmp's own guess. */
	int r = initnatpmp(&c->n, 1, gw_be);
	if (r < 0)
		return -EIO;
	c->open = true;
	c->gw_be = gw_be;
	return 0;
}

void pm_pmp_close(struct pm_pmp *c)
{
	if (c->open)
		closenatpmp(&c->n);
	c->open = false;
}

int pm_pmp_begin(struct pm_pmp *c, uint16_t port, uint16_t ext_port, uint32_t lifetime, bool probe_only)
{
	c->port = port;
	c->ext_port = ext_port;
	c->lifetime = lifetime;
	c->probe_only = probe_only;
	/* A delete (lifetime 0) needs no public address. */
	if (!probe_only && lifetime == 0) {
		c->stage = 1;
		return sendnewportmappingrequest(&c->n, NATPMP_PROTOCOL_UDP, port, 0, 0) < 0 ? -EIO : 0;
	}
	c->stage = 0;
	return sendpublicaddressrequest(&c->n) < 0 ? -EIO : 0;
}

int pm_pmp_fd(const struct pm_pmp *c)
{
	return c->n.s;
}

int pm_pmp_timeout_ms(struct pm_pmp *c)
{
	struct timeval tv;
	if (getnatpmprequesttimeout(&c->n, &tv) < 0)
		return 0;
	if (tv.tv_sec < 0)
		return 0;
	long ms = tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
	return ms > 60000 ? 60000 : (int)ms;
}

/* Drops datagrams too short for the answer we wait for. Returns whether a
 * datagram of the right size (or none: the library retransmits) remains. */
static void drop_short(struct pm_pmp *c)
{
	size_t want = c->stage == 0 ? PMP_PUBLIC_ANSWER_LEN : PMP_MAP_ANSWER_LEN;
	uint8_t b[PMP_MAP_ANSWER_LEN];
	for (;;) {
		ssize_t n = recv(c->n.s, b, sizeof b, MSG_PEEK | MSG_TRUNC);
		if (n < 0 || (size_t)n >= want)
			return;
		(void)!recv(c->n.s, b, sizeof b, 0);
		atomic_fetch_add(&pm_refused, 1);
		char gw[16];
		pm_fmt_ip(c->gw_be, gw);
		core_log_limited(&refuse_log, CORE_LOG_INFO, "natpmp: gateway %s sent a %zd-byte answer (want %zu): ignored",
				 gw, n, want);
	}
}

int pm_pmp_step(struct pm_pmp *c, struct portmap_mapping *out)
{
	char gw[16];
	pm_fmt_ip(c->gw_be, gw);
	for (;;) {
		drop_short(c);
		natpmpresp_t resp;
		int r = readnatpmpresponseorretry(&c->n, &resp);
		if (r == NATPMP_TRYAGAIN)
			return PM_PENDING;
		if (r == NATPMP_ERR_WRONGPACKETSOURCE) {
			atomic_fetch_add(&pm_refused, 1);
			continue;
		}
		if (r < 0) {
			core_log(CORE_LOG_DEBUG, "natpmp: gateway %s: no mapping (libnatpmp error %d)", gw, r);
			return PM_FAILED;
		}
		if (c->stage == 0) {
			if (resp.type != NATPMP_RESPTYPE_PUBLICADDRESS)
				continue;   /* a stale answer to an earlier request */
			c->public_be = resp.pnu.publicaddress.addr.s_addr;
			if (c->probe_only)
				return PM_DONE;
			if (!pm_usable_external(c->public_be)) {
				char e[16];
				pm_fmt_ip(c->public_be, e);
				atomic_fetch_add(&pm_refused, 1);
				core_log_limited(&refuse_log, CORE_LOG_WARN, "natpmp: gateway %s says its public address is %s: unusable",
						 gw, e);
				return PM_FAILED;
			}
			c->stage = 1;
			if (sendnewportmappingrequest(&c->n, NATPMP_PROTOCOL_UDP, c->port, c->ext_port, c->lifetime) < 0)
				return PM_FAILED;
			return PM_PENDING;
		}
		if (resp.type != NATPMP_RESPTYPE_UDPPORTMAPPING || resp.pnu.newportmapping.privateport != c->port) {
			atomic_fetch_add(&pm_refused, 1);
			continue;
		}
		memset(out, 0, sizeof *out);
		if (c->lifetime == 0)
			return PM_DONE;   /* deleted */
		if (!resp.pnu.newportmapping.mappedpublicport || !resp.pnu.newportmapping.lifetime) {
			atomic_fetch_add(&pm_refused, 1);
			core_log_limited(&refuse_log, CORE_LOG_WARN, "natpmp: gateway %s granted port %u for %u s: unusable", gw,
					 resp.pnu.newportmapping.mappedpublicport, resp.pnu.newportmapping.lifetime);
			return PM_FAILED;
		}
		out->proto = PORTMAP_NATPMP;
		out->external.sin_family = AF_INET;
		out->external.sin_addr.s_addr = c->public_be;
		out->external.sin_port = htons(resp.pnu.newportmapping.mappedpublicport);
		out->internal_port = c->port;
		out->lifetime_s = resp.pnu.newportmapping.lifetime;
		out->gateway_be = c->gw_be;
		return PM_DONE;
	}
}
