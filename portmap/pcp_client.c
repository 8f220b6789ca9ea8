/* portmap/pcp_client.c: a PCP client (RFC 6887) on our own codec: MAP
 * requests and their renewals and deletes, ANNOUNCE for the probe.
 *
 * The socket is connected to gateway:5351, so the kernel drops datagrams
 * from anyone else (§8.3: the response must come from the server we asked).
 * Retransmission: RFC 6887 §8.1.1 starts at 3 s; the server here is the
 * default gateway one hop away and the whole attempt is bounded at 3 s, so
 * we start at 250 ms and double, as NAT-PMP does (RFC 6886 §3.1). */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "portmap/internal.h"

enum { PCP_FIRST_RETRY_MS = 250 };

static struct core_log_limit refuse_log = {.burst = 5};

int pm_pcp_open(struct pm_pcp *c, uint32_t gw_be)
{
	memset(c, 0, sizeof *c);
	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -errno;
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(PORTMAP_PCP_SERVER_PORT)};
	to.sin_addr.s_addr = gw_be;
	struct sockaddr_in me;
	socklen_t ml = sizeof me;
	if (connect(c->fd, (struct sockaddr *)&to, sizeof to) != 0 ||
	    getsockname(c->fd, (struct sockaddr *)&me, &ml) != 0) {
		int e = -errno;
		close(c->fd);
		c->fd = -1;
		return e;
	}
	c->gw_be = gw_be;
	c->local_be = me.sin_addr.s_addr;
	return 0;
}

void pm_pcp_close(struct pm_pcp *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int send_current(struct pm_pcp *c)
{
	uint8_t m[PORTMAP_PCP_HEADER_LEN + PORTMAP_PCP_MAP_LEN];
	int n;
	if (c->announce) {
		uint8_t ip[16];
		portmap_pcp_v4(ip, c->local_be);
		n = portmap_pcp_announce_encode(m, sizeof m, ip);
	} else {
		n = portmap_pcp_map_encode(m, sizeof m, &c->req);
	}
	if (n < 0)
		return -EINVAL;
	if (send(c->fd, m, (size_t)n, 0) < 0 && errno != ECONNREFUSED)
		return -errno;
	c->next_ms = pm_now_ms() + c->interval_ms;
	c->interval_ms *= 2;
	return 0;
}

int pm_pcp_begin(struct pm_pcp *c, uint16_t port, uint16_t suggested_port, uint32_t lifetime, bool new_nonce)
{
	c->announce = false;
	if (new_nonce && getrandom(c->req.nonce, sizeof c->req.nonce, 0) != (ssize_t)sizeof c->req.nonce)
		return -EIO;
	/* §11.1: our own address as the client address; UDP; the port we
	 * listen on; the external port we would like (the same, or the one
	 * we hold when renewing); no address preference. */
	portmap_pcp_v4(c->req.client_ip, c->local_be);
	c->req.protocol = IPPROTO_UDP;
	c->req.internal_port = port;
	c->req.suggested_port = suggested_port;
	portmap_pcp_v4(c->req.suggested_ip, 0);
	c->req.lifetime = lifetime;
	c->interval_ms = PCP_FIRST_RETRY_MS;
	return send_current(c);
}

int pm_pcp_begin_announce(struct pm_pcp *c)
{
	c->announce = true;
	c->interval_ms = PCP_FIRST_RETRY_MS;
	return send_current(c);
}

int pm_pcp_timeout_ms(const struct pm_pcp *c)
{
	uint64_t now = pm_now_ms();
	return c->next_ms > now ? (int)(c->next_ms - now) : 0;
}

/* Handles one parsed datagram: PM_PENDING to keep waiting (not ours), else
 * the verdict. */
static int on_response(struct pm_pcp *c, const struct portmap_pcp_response *r, struct portmap_mapping *out)
{
	char gw[16];
	pm_fmt_ip(c->gw_be, gw);
	if (c->announce) {
		if (r->opcode != PORTMAP_PCP_OP_ANNOUNCE)
			return PM_PENDING;
		/* §14.1: a PCP server answers ANNOUNCE with SUCCESS. An
		 * UNSUPP_VERSION answer still proves a PCP server, but not one
		 * that speaks our version. */
		c->last_result = r->result;
		return r->result == PORTMAP_PCP_SUCCESS ? PM_DONE : PM_FAILED;
	}
	if (!portmap_pcp_response_matches(r, &c->req)) {
		atomic_fetch_add(&pm_refused, 1);
		core_log_limited(&refuse_log, CORE_LOG_INFO, "pcp: gateway %s: answer for another request ignored", gw);
		return PM_PENDING;
	}
	c->last_result = r->result;
	if (r->result != PORTMAP_PCP_SUCCESS) {
		core_log(CORE_LOG_DEBUG, "pcp: gateway %s refused the mapping: %s (%s, for %u s)", gw,
			 portmap_pcp_result_str(r->result),
			 portmap_pcp_result_is_long_lived(r->result) ? "long-lived" : "short-lived", r->lifetime);
		return PM_FAILED;
	}
	/* §8.5: an epoch that went backwards means the server lost its state;
	 * we are answering it with a fresh request anyway. */
	c->last_epoch = r->epoch;
	c->have_epoch = true;
	if (c->req.lifetime == 0) {
		memset(out, 0, sizeof *out);
		return PM_DONE;   /* deleted */
	}
	uint32_t ext;
	if (!portmap_pcp_is_v4(r->external_ip, &ext) || !pm_usable_external(ext) || !r->external_port ||
	    r->lifetime == 0) {
		char e[16] = "non-IPv4";
		if (portmap_pcp_is_v4(r->external_ip, &ext))
			pm_fmt_ip(ext, e);
		atomic_fetch_add(&pm_refused, 1);
		core_log_limited(&refuse_log, CORE_LOG_WARN,
				 "pcp: gateway %s granted an unusable mapping (%s:%u for %u s): ignored", gw, e,
				 r->external_port, r->lifetime);
		return PM_FAILED;
	}
	memset(out, 0, sizeof *out);
	out->proto = PORTMAP_PCP;
	out->external.sin_family = AF_INET;
	out->external.sin_addr.s_addr = ext;
	out->external.sin_port = htons(r->external_port);
	out->internal_port = c->req.internal_port;
	out->lifetime_s = r->lifetime;
	out->gateway_be = c->gw_be;
	return PM_DONE;
}

int pm_pcp_step(struct pm_pcp *c, struct portmap_mapping *out)
{
	uint8_t buf[PORTMAP_PCP_MAX_MSG_LEN + 4];
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof buf, MSG_TRUNC);
		if (n < 0) {
			if (errno == ECONNREFUSED)
				return PM_FAILED;   /* ICMP port unreachable: nobody listens on 5351 */
			break;
		}
		if ((size_t)n > sizeof buf) {
			atomic_fetch_add(&pm_refused, 1);
			continue;
		}
		struct portmap_pcp_response r;
		int s = portmap_pcp_parse(&r, buf, (size_t)n);
		if (s == PORTMAP_PCP_E_VERSION && n >= 4 && buf[0] == 0) {
			/* RFC 6887 §9: a NAT-PMP-only gateway answers version 0
			 * with "unsupported version". */
			c->last_result = PORTMAP_PCP_UNSUPP_VERSION;
			return PM_FAILED;
		}
		if (s != PORTMAP_PCP_OK) {
			char gw[16];
			pm_fmt_ip(c->gw_be, gw);
			atomic_fetch_add(&pm_refused, 1);
			core_log_limited(&refuse_log, CORE_LOG_INFO, "pcp: gateway %s sent %zd bytes that are not a PCP response: %s",
					 gw, n, portmap_pcp_strerror(s));
			continue;
		}
		int v = on_response(c, &r, out);
		if (v != PM_PENDING)
			return v;
	}
	if (pm_now_ms() >= c->next_ms && send_current(c) < 0)
		return PM_FAILED;
	return PM_PENDING;
}
