/* Access control: who may use the relay (--access; docs/RELAY.md, "Who may
 * use the relay").
 *
 *   open        the seed's protocol: anyone.
 *   mesh-token  GET /relay/{id} must carry a ticket (relay/ticket.h) for id
 *               under one of the relay's keys, unexpired and not used
 *               before; checked as soon as the head is parsed and routed,
 *               before the upgrade's own checks and before the session
 *               allocates anything.
 *   allow-list  only sources in the configured networks, for every path
 *               but /health.
 *
 * A refusal tells the client its status and nothing more (STYLE.md §3:
 * failed authentication gets silence); the reason goes to a rate-limited
 * log line and a counter in /stats and /metrics. */
#include "relay/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "net/bssl.h"
#include "relay/http.h"

/* Refusals get their own limit: a stranger hammering the relay without a
 * ticket must not crowd out the other refused-request lines, nor the log. */
static struct core_log_limit log_access = {.burst = 10};

int relay_access_init(struct relay_server *srv, char *errbuf, size_t errlen)
{
	struct relay_access *a = &srv->acc;
	const struct relay_opts *o = &srv->o;
	pthread_mutex_init(&a->lock, NULL);
	switch (o->access) {
	case RELAY_ACCESS_OPEN:
		return 0;
	case RELAY_ACCESS_MESH_TOKEN:
		if (!o->num_keys || o->num_keys > RELAY_ACCESS_MAX_KEYS) {
			snprintf(errbuf, errlen, "--access mesh-token needs 1 to %d relay keys (--relay-key-file), not %zu",
				 RELAY_ACCESS_MAX_KEYS, o->num_keys);
			return -EINVAL;
		}
		a->keys = malloc(o->num_keys * sizeof *a->keys);
		a->seen = relay_ticket_seen_new(RELAY_ACCESS_MAX_NONCES);
		if (!a->keys || !a->seen) {
			snprintf(errbuf, errlen, "out of memory");
			return -ENOMEM;
		}
		memcpy(a->keys, o->keys, o->num_keys * sizeof *a->keys);
		a->num_keys = o->num_keys;
		return 0;
	case RELAY_ACCESS_ALLOW_LIST:
		if (!o->num_allow || o->num_allow > RELAY_ACCESS_MAX_NETS) {
			snprintf(errbuf, errlen, "--access allow-list needs 1 to %d networks (--allow-net), not %zu",
				 RELAY_ACCESS_MAX_NETS, o->num_allow);
			return -EINVAL;
		}
		a->allow = malloc(o->num_allow * sizeof *a->allow);
		if (!a->allow) {
			snprintf(errbuf, errlen, "out of memory");
			return -ENOMEM;
		}
		memcpy(a->allow, o->allow, o->num_allow * sizeof *a->allow);
		a->num_allow = o->num_allow;
		return 0;
	default:
		snprintf(errbuf, errlen, "unknown access mode %d", (int)o->access);
		return -EINVAL;
	}
}

void relay_access_cleanup(struct relay_server *srv)
{
	struct relay_access *a = &srv->acc;
	if (a->keys)
		OPENSSL_cleanse(a->keys, a->num_keys * sizeof *a->keys);
	free(a->keys);
	free(a->allow);
	relay_ticket_seen_free(a->seen);
	a->keys = NULL;
	a->allow = NULL;
	a->seen = NULL;
	pthread_mutex_destroy(&a->lock);
}

/* The ticket a request presents: in the query (the primary way: any
 * WebSocket client, browsers included, can set a URL), else in an
 * Authorization: Bearer header. */
static bool find_ticket(const struct relay_http_req *req, struct relay_http_span *out)
{
	const struct relay_http_header *h = relay_http_header_find(req->headers, req->num_headers, "Authorization");
	return relay_ticket_find(&out->ptr, &out->len, req->target.ptr, req->target.len, h ? h->value.ptr : NULL,
				 h ? h->value.len : 0);
}

static int refuse(struct relay_server *srv, enum relay_refusal why, int status, const uint8_t ip[16],
		  const char *detail)
{
	char ips[46];
	atomic_fetch_add(&srv->acc.refused[why], 1);
	core_log_limited(&log_access, CORE_LOG_INFO, "relay: refused %s: %d %s (%s)", relay_addr_key_str(ip, ips),
			 status, relay_http_reason(status), detail);
	return status;
}

/* mesh-token: the ticket, then its nonce. */
static int check_ticket(struct relay_server *srv, const struct relay_http_req *req, const struct relay_http_span *sid,
			const uint8_t ip[16])
{
	struct relay_access *a = &srv->acc;
	struct relay_http_span text;
	struct relay_ticket t;
	char why[160], kid[2 * RELAY_KEY_ID_LEN + 1];
	uint64_t now = (uint64_t)time(NULL);
	if (!find_ticket(req, &text))
		return refuse(srv, RELAY_REFUSED_NO_TICKET, 401, ip, "no ticket");
	if (relay_ticket_parse(&t, text.ptr, text.len) != RELAY_TICKET_OK) {
		snprintf(why, sizeof why, "malformed ticket (%zu characters)", text.len);
		return refuse(srv, RELAY_REFUSED_BAD_TICKET, 401, ip, why);
	}
	int r = relay_ticket_verify(&t, a->keys, a->num_keys, sid->ptr, sid->len, now);
	relay_key_id_hex(kid, t.key_id);
	switch (r) {
	case RELAY_TICKET_OK:
		break;
	case RELAY_TICKET_E_UNKNOWN_KEY:
		snprintf(why, sizeof why, "ticket for key %s, which this relay does not hold", kid);
		return refuse(srv, RELAY_REFUSED_UNKNOWN_KEY, 401, ip, why);
	case RELAY_TICKET_E_EXPIRED:
		snprintf(why, sizeof why, "ticket of key %s expired %llu s ago", kid,
			 (unsigned long long)(now - t.expires_at));
		return refuse(srv, RELAY_REFUSED_EXPIRED, 403, ip, why);
	case RELAY_TICKET_E_TOO_LONG:
		snprintf(why, sizeof why, "ticket of key %s valid for %llu s, over %d (client clock ahead?)", kid,
			 (unsigned long long)(t.expires_at - now), RELAY_TICKET_MAX_LIFETIME);
		return refuse(srv, RELAY_REFUSED_EXPIRED, 403, ip, why);
	default:
		snprintf(why, sizeof why, "ticket MAC does not match under key %s (forged, damaged or for another session)",
			 kid);
		return refuse(srv, RELAY_REFUSED_BAD_TICKET, 401, ip, why);
	}
	/* Genuine and in date: spend its nonce. */
	pthread_mutex_lock(&a->lock);
	r = relay_ticket_seen_add(a->seen, t.nonce, t.expires_at, now);
	pthread_mutex_unlock(&a->lock);
	if (r == RELAY_TICKET_E_REPLAYED) {
		snprintf(why, sizeof why, "ticket of key %s already used", kid);
		return refuse(srv, RELAY_REFUSED_REPLAYED, 403, ip, why);
	}
	if (r != RELAY_TICKET_OK)
		return refuse(srv, RELAY_REFUSED_BUSY, 503, ip, "too many tickets in use (replay memory full)");
	return 0;
}

int relay_access_check(struct relay_server *srv, const struct relay_http_req *req, int route,
		       const struct relay_http_span *sid, const uint8_t ip[16])
{
	/* /health answers everyone: monitoring, and the seed's clients. */
	if (route == RELAY_HTTP_ROUTE_HEALTH)
		return 0;
	switch (srv->o.access) {
	case RELAY_ACCESS_ALLOW_LIST:
		if (relay_cidr_match_any(srv->acc.allow, srv->acc.num_allow, ip))
			return 0;
		return refuse(srv, RELAY_REFUSED_NETWORK, 403, ip, "source not in --allow-net");
	case RELAY_ACCESS_MESH_TOKEN:
		/* /stats and /metrics say nothing a ticket protects. */
		return route == RELAY_HTTP_ROUTE_RELAY ? check_ticket(srv, req, sid, ip) : 0;
	default:
		return 0;
	}
}

void relay_access_refuse(struct net_stream *st, int status)
{
	uint8_t out[256];
	struct relay_http_response r = {
		.status = status,
		.extra_headers = status == 401 ? "WWW-Authenticate: Bearer realm=\"atmosphere-relay\"\r\n" : NULL,
	};
	if (status == 503) {
		r.content_type = "text/plain";
		r.body = (const uint8_t *)RELAY_BODY_BUSY;
		r.body_len = sizeof RELAY_BODY_BUSY - 1;
	}
	int n = relay_http_response_build(out, sizeof out, &r);
	if (n > 0)
		net_stream_send(st, out, (size_t)n, 5000);
}

void relay_access_stats(const struct relay_server *srv, struct relay_stats *out)
{
	struct relay_server *s = (struct relay_server *)srv;
	_Atomic uint64_t *r = s->acc.refused;
	out->access = srv->o.access;
	out->refused_no_ticket = atomic_load(&r[RELAY_REFUSED_NO_TICKET]);
	out->refused_bad_ticket = atomic_load(&r[RELAY_REFUSED_BAD_TICKET]);
	out->refused_unknown_key = atomic_load(&r[RELAY_REFUSED_UNKNOWN_KEY]);
	out->refused_expired = atomic_load(&r[RELAY_REFUSED_EXPIRED]);
	out->refused_replayed = atomic_load(&r[RELAY_REFUSED_REPLAYED]);
	out->refused_network = atomic_load(&r[RELAY_REFUSED_NETWORK]);
	out->refused_busy = atomic_load(&r[RELAY_REFUSED_BUSY]);
	if (s->acc.seen) {
		pthread_mutex_lock(&s->acc.lock);
		out->tickets_remembered = relay_ticket_seen_count(s->acc.seen);
		pthread_mutex_unlock(&s->acc.lock);
	}
}
