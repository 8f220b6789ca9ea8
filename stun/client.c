/* stun/client.c: Binding transactions and public endpoint discovery; see
 * client.h.
 *
 * A run, per probe (RFC 8489 §6.2.1):
 *
 *   send ── wait RTO ── send ── wait 2 RTO ── ... ── 7th send ── wait 16 RTO ── timeout
 *     └──────────── any answer with our transaction id ends it ───────────┘
 *
 * and for all probes together one deadline, after which whatever has not
 * been answered has timed out. */
#include "stun/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/reactor.h"
#include "core/udp.h"
#include "core/udpgro.h"
#include "stun/writer.h"

/* A waiting send that takes longer than this (it should take microseconds)
 * counts as failed for that transmission. */
#define SEND_TIMEOUT_MS 1000
/* Room for a request: header, CHANGE-REQUEST, RESPONSE-PORT, SOFTWARE,
 * FINGERPRINT. */
#define REQUEST_MAX (STUN_HEADER_LEN + 8 + 8 + 4 + STUN_MAX_TEXT_LEN + 1 + 8)

static uint64_t ms_to_ns(uint64_t ms)
{
	return ms * 1000000u;
}

/* --- transactions ---------------------------------------------------------- */

static int send_request(struct core_udp *u, struct stun_probe *p, const char *software)
{
	uint8_t buf[REQUEST_MAX];
	struct stun_writer w;
	size_t len;

	stun_writer_init(&w, buf, sizeof buf, STUN_BINDING_REQUEST, p->txid);
	if (p->change)
		stun_writer_add_change_request(&w, p->change);
	if (p->response_port)
		stun_writer_add_response_port(&w, p->response_port);
	if (software)
		stun_writer_add_software(&w, software, strlen(software));
	stun_writer_add_fingerprint(&w);
	if (stun_writer_finish(&w, &len) != STUN_OK)
		return -EINVAL;
	int rc = core_udp_sendto(p->via ? p->via : u, buf, len, (const struct sockaddr *)&p->to, p->to_len, SEND_TIMEOUT_MS);
	return rc < 0 ? rc : 0;
}

/* input matches one received datagram to a pending probe and records the
 * outcome. Returns the probe it finished, or NULL. */
static struct stun_probe *input(struct stun_probe *probes, size_t num, const uint8_t *data, size_t len,
				const struct sockaddr *from, socklen_t from_len, uint64_t now)
{
	struct stun_msg m;
	struct stun_probe *p = NULL;

	if (!stun_is_message(data, len) || stun_msg_parse(&m, data, len) != STUN_OK)
		return NULL;
	/* RFC 8489 §14.7: a bad FINGERPRINT means it is not STUN after all. */
	if (stun_msg_check_fingerprint(&m) == STUN_E_BAD_FINGERPRINT ||
	    stun_type_method(m.type) != STUN_METHOD_BINDING)
		return NULL;
	/* RFC 8489 §6.3.3: the transaction id (96 random bits) is what ties an
	 * answer to its request, not the address it comes from. */
	for (size_t i = 0; i < num && !p; i++)
		if (probes[i].status == -EINPROGRESS && memcmp(probes[i].txid, m.txid, STUN_TXID_LEN) == 0)
			p = &probes[i];
	if (!p)
		return NULL;
	enum stun_class cls = stun_type_class(m.type);
	if (p->hairpin) {
		/* RFC 5780 §4.5: our own request, back through the NAT. */
		if (cls != STUN_CLASS_REQUEST)
			return NULL;
		p->status = 0;
	} else if (cls == STUN_CLASS_SUCCESS) {
		if (stun_msg_get_xor_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, &p->mapped) == STUN_OK ||
		    stun_msg_get_addr(&m, STUN_ATTR_MAPPED_ADDRESS, &p->mapped) == STUN_OK)
			p->status = 0;
		else
			p->status = -EBADMSG;
		p->has_origin = stun_msg_get_addr(&m, STUN_ATTR_RESPONSE_ORIGIN, &p->origin) == STUN_OK;
		p->has_other = stun_msg_get_addr(&m, STUN_ATTR_OTHER_ADDRESS, &p->other) == STUN_OK;
	} else if (cls == STUN_CLASS_ERROR) {
		const uint8_t *reason;
		size_t reason_len;
		if (stun_msg_get_error(&m, &p->error_code, &reason, &reason_len) != STUN_OK)
			p->error_code = 0;
		p->status = -EPROTO;
	} else {
		return NULL;
	}
	stun_addr_from_sockaddr(&p->from, from, from_len);
	p->answered_ns = now;
	p->rtt_us = (uint32_t)((now - p->sent_ns) / 1000u);
	return p;
}

void stun_feed_init(struct stun_feed *f)
{
	memset(f, 0, sizeof *f);
}

bool stun_feed_input(struct stun_feed *f, const uint8_t *data, size_t len, const struct sockaddr *from,
		     socklen_t from_len)
{
	if (!f->probes || !input(f->probes, f->num, data, len, from, from_len, core_now_ns()))
		return false;
	f->fed++;
	if (f->waiter)
		core_unpark(f->waiter, 0);
	return true;
}

/* input_dgram takes one receive read from the socket: on a UDP_GRO socket
 * (core_udp_enable_gro) several answers of one server of the same size may
 * come as one receive, cut here as the node's readers cut theirs
 * (core/udpgro.h); a receive whose control data is malformed is dropped. */
static void input_dgram(struct stun_probe *probes, size_t num, const struct core_dgram *d)
{
	size_t seg = 0;
	if (d->truncated || d->ctl_truncated || core_udpgro_seg(d->ctl, d->ctl_len, &seg) != CORE_UDPGRO_OK)
		return;
	struct core_udpgro it;
	const uint8_t *p;
	size_t n;
	uint64_t now = core_now_ns();
	core_udpgro_init(&it, d->data, d->len, seg);
	while (core_udpgro_next(&it, &p, &n))
		input(probes, num, p, n, (const struct sockaddr *)&d->from, d->from_len, now);
}

/* wait_for_answers waits until wait_ms passes or answers may have come:
 * from the socket (recorded here), or from the feed (recorded by
 * stun_feed_input). Returns 0 or the socket's -errno / -ECANCELED. */
static int wait_for_answers(struct core_udp *u, struct stun_probe *probes, size_t num, const struct stun_client_opts *o,
			    unsigned *fed_seen, int wait_ms)
{
	struct stun_feed *f = o->feed;
	if (f) {
		/* An answer fed while we were sending: look at it first. */
		if (f->fed != *fed_seen) {
			*fed_seen = f->fed;
			return 0;
		}
		int n = core_park(wait_ms);
		*fed_seen = f->fed;
		return n == -ECANCELED ? n : 0;
	}
	struct core_dgram d;
	int n = core_udp_recv(u, &d, wait_ms);
	if (n == -ETIMEDOUT)
		return 0;
	if (n < 0)
		return n;
	do {
		input_dgram(probes, num, &d);
		core_buf_release(&d.buf);
	} while (core_udp_try_recv(u, &d) >= 0);
	return 0;
}

int stun_client_run(struct core_udp *u, struct stun_probe *probes, size_t num, const struct stun_client_opts *o)
{
	uint64_t start = core_now_ns();
	uint64_t deadline = start + ms_to_ns(o->timeout_ms ? o->timeout_ms : STUN_CLIENT_DEFAULT_TIMEOUT_MS);
	uint64_t settle_at = UINT64_MAX;
	unsigned rto0 = o->rto_ms ? o->rto_ms : STUN_CLIENT_RTO_MS;
	int settle = o->settle_ms ? o->settle_ms : STUN_CLIENT_DEFAULT_SETTLE_MS;
	struct stun_feed *f = o->feed;
	unsigned fed_seen = 0;
	int rc = 0;

	if (f) {
		if (f->probes)
			return -EBUSY;
		f->probes = probes;
		f->num = num;
		f->waiter = core_coro_current();
		fed_seen = f->fed;
	}
	for (size_t i = 0; i < num; i++) {
		struct stun_probe *p = &probes[i];
		p->sends = 0;
		p->has_origin = p->has_other = false;
		p->error_code = 0;
		if (p->to_len == 0) {
			p->status = -EDESTADDRREQ;
			continue;
		}
		p->status = -EINPROGRESS;
		stun_txid_generate(p->txid);
		p->next_ns = start;
		p->rto_ms = rto0;
	}
	for (;;) {
		/* Answers are recorded in the probes as they come (by input, from
		 * the socket or the feed): count them here. */
		size_t left = 0, answered = 0;
		for (size_t i = 0; i < num; i++) {
			left += probes[i].status == -EINPROGRESS;
			answered += probes[i].status == 0;
		}
		if (answered && settle >= 0 && settle_at == UINT64_MAX)
			settle_at = core_now_ns() + ms_to_ns((uint64_t)settle);
		uint64_t now = core_now_ns();
		if (left == 0 || now >= deadline || now >= settle_at)
			break;
		uint64_t wake = deadline < settle_at ? deadline : settle_at;
		bool ended = false; /* a probe ended here: count again before waiting */
		for (size_t i = 0; i < num; i++) {
			struct stun_probe *p = &probes[i];
			if (p->status != -EINPROGRESS)
				continue;
			if (p->next_ns <= now) {
				if (p->sends == STUN_CLIENT_RC) {
					/* Rm x RTO after the last transmission. */
					p->status = -ETIMEDOUT;
					ended = true;
					continue;
				}
				int sr = send_request(u, p, o->software);
				if (sr == -ECANCELED) {
					rc = sr;
					goto out;
				}
				if (p->status != -EINPROGRESS) {
					ended = true; /* answered (fed) while the send waited */
					continue;
				}
				if (sr < 0 && sr != -EAGAIN && sr != -ENOBUFS && sr != -EINTR && sr != -ETIMEDOUT) {
					p->status = sr; /* e.g. -ENETUNREACH: no route */
					ended = true;
					continue;
				}
				p->sends++;
				p->sent_ns = now;
				p->next_ns = now + ms_to_ns(p->sends == STUN_CLIENT_RC ? (uint64_t)STUN_CLIENT_RM * rto0 : p->rto_ms);
				p->rto_ms *= 2;
			}
			if (p->next_ns < wake)
				wake = p->next_ns;
		}
		if (ended)
			continue;
		now = core_now_ns();
		int wait_ms = wake > now ? (int)((wake - now + 999999u) / 1000000u) : 0;
		rc = wait_for_answers(u, probes, num, o, &fed_seen, wait_ms);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < num; i++) {
		if (probes[i].status == -EINPROGRESS)
			probes[i].status = -ETIMEDOUT;
		rc += probes[i].status == 0;
	}
out:
	if (f) {
		f->probes = NULL;
		f->num = 0;
		f->waiter = NULL;
	}
	return rc;
}

const char *stun_probe_strerror(const struct stun_probe *p, char *buf, size_t cap)
{
	switch (p->status) {
	case 0:
		snprintf(buf, cap, "ok");
		break;
	case -EINPROGRESS:
		snprintf(buf, cap, "not run");
		break;
	case -ETIMEDOUT:
		snprintf(buf, cap, "no answer (timeout after %u request%s)", p->sends, p->sends == 1 ? "" : "s");
		break;
	case -EPROTO:
		snprintf(buf, cap, "error response %u%s", p->error_code,
			 p->error_code == 420 ? " (unknown attribute)" : p->error_code == 400 ? " (bad request)" : "");
		break;
	case -EBADMSG:
		snprintf(buf, cap, "answer without a mapped address");
		break;
	case -EDESTADDRREQ:
		snprintf(buf, cap, "no address");
		break;
	default:
		snprintf(buf, cap, "send: %s", strerror(-p->status));
		break;
	}
	return buf;
}

/* --- addresses ---------------------------------------------------------------- */

const char *stun_addr_format_ip(const struct stun_addr *a, char *buf, size_t cap)
{
	if (!inet_ntop(a->family == STUN_FAMILY_IPV6 ? AF_INET6 : AF_INET, a->ip, buf, (socklen_t)cap))
		snprintf(buf, cap, "?");
	return buf;
}

const char *stun_addr_format(const struct stun_addr *a, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	stun_addr_format_ip(a, ip, sizeof ip);
	snprintf(buf, cap, a->family == STUN_FAMILY_IPV6 ? "[%s]:%u" : "%s:%u", ip, a->port);
	return buf;
}

bool stun_addr_is_local(const struct stun_addr *a)
{
	struct ifaddrs *ifs, *i;
	bool found = false;

	if (getifaddrs(&ifs) != 0)
		return false;
	for (i = ifs; i && !found; i = i->ifa_next) {
		struct stun_addr x;
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
			continue;
		socklen_t len = i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		if (stun_addr_from_sockaddr(&x, i->ifa_addr, len) != STUN_OK)
			continue;
		found = x.family == a->family && memcmp(x.ip, a->ip, stun_addr_ip_len(a)) == 0;
	}
	freeifaddrs(ifs);
	return found;
}

int stun_local_addr_toward(struct stun_addr *out, const struct sockaddr_storage *local, socklen_t local_len,
			   const struct sockaddr_storage *dst, socklen_t dst_len)
{
	struct stun_addr l;
	static const uint8_t zero[16];

	if (stun_addr_from_sockaddr(&l, (const struct sockaddr *)local, local_len) != STUN_OK)
		return -EAFNOSUPPORT;
	if (memcmp(l.ip, zero, stun_addr_ip_len(&l)) != 0) {
		*out = l;
		return 0;
	}
	/* Bound to the wildcard: ask the routing table which source address
	 * a datagram to dst would carry (connect on UDP sends nothing). */
	int fd = socket(local->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_storage src;
	socklen_t src_len = sizeof src;
	int rc = 0;
	if (connect(fd, (const struct sockaddr *)dst, dst_len) != 0 ||
	    getsockname(fd, (struct sockaddr *)&src, &src_len) != 0)
		rc = -errno;
	close(fd);
	if (rc)
		return rc;
	if (stun_addr_from_sockaddr(out, (struct sockaddr *)&src, src_len) != STUN_OK)
		return -EAFNOSUPPORT;
	out->port = l.port;
	return 0;
}

/* --- the per-process cache ------------------------------------------------------ */

struct cache_entry {
	bool used;
	uint64_t expires_ns;
	struct stun_addr local;   /* the socket's bound address */
	uint64_t servers_hash;
	struct stun_discovery d;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_entry cache[STUN_CLIENT_CACHE_SLOTS];

/* servers_hash: FNV-1a over the server names, in order. */
static uint64_t servers_hash(const struct stun_endpoint *eps, size_t num)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < num; i++) {
		for (const char *c = eps[i].text; *c; c++)
			h = (h ^ (uint8_t)*c) * 1099511628211ull;
		h = (h ^ ',') * 1099511628211ull;
	}
	return h;
}

static bool cache_get(const struct stun_addr *local, uint64_t hash, uint64_t now, struct stun_discovery *out)
{
	bool hit = false;
	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < STUN_CLIENT_CACHE_SLOTS && !hit; i++) {
		struct cache_entry *e = &cache[i];
		if (e->used && e->expires_ns > now && e->servers_hash == hash && stun_addr_equal(&e->local, local)) {
			*out = e->d;
			hit = true;
		}
	}
	pthread_mutex_unlock(&cache_lock);
	return hit;
}

static void cache_put(const struct stun_addr *local, uint64_t hash, uint64_t now, uint64_t ttl_ns,
		      const struct stun_discovery *d)
{
	pthread_mutex_lock(&cache_lock);
	struct cache_entry *victim = &cache[0];
	for (size_t i = 0; i < STUN_CLIENT_CACHE_SLOTS; i++) {
		struct cache_entry *e = &cache[i];
		if ((e->used && e->servers_hash == hash && stun_addr_equal(&e->local, local)) || !e->used) {
			victim = e;
			break;
		}
		if (e->expires_ns < victim->expires_ns)
			victim = e;
	}
	victim->used = true;
	victim->expires_ns = now + ttl_ns;
	victim->local = *local;
	victim->servers_hash = hash;
	victim->d = *d;
	pthread_mutex_unlock(&cache_lock);
}

void stun_client_cache_clear(void)
{
	pthread_mutex_lock(&cache_lock);
	memset(cache, 0, sizeof cache);
	pthread_mutex_unlock(&cache_lock);
}

/* --- discovery -------------------------------------------------------------------- */

int stun_discover(struct core_udp *u, const struct stun_endpoint *servers, size_t num, const struct stun_client_opts *o,
		  struct stun_discovery *out)
{
	struct sockaddr_storage local;
	socklen_t local_len = sizeof local;
	struct stun_addr bound;
	struct stun_probe probes[STUN_CLIENT_MAX_SERVERS];
	struct stun_endpoint eps[STUN_CLIENT_MAX_SERVERS];
	unsigned timeout = o->timeout_ms ? o->timeout_ms : STUN_CLIENT_DEFAULT_TIMEOUT_MS;
	int rc;

	if (num == 0 || num > STUN_CLIENT_MAX_SERVERS)
		return -EINVAL;
	if (getsockname(core_udp_fd(u), (struct sockaddr *)&local, &local_len) != 0)
		return -errno;
	if (stun_addr_from_sockaddr(&bound, (struct sockaddr *)&local, local_len) != STUN_OK)
		return -EAFNOSUPPORT;
	uint64_t hash = servers_hash(servers, num);
	if (!o->no_cache && cache_get(&bound, hash, core_now_ns(), out)) {
		out->from_cache = true;
		return 0;
	}

	/* 1. Resolve every name at once, off the reactor, within half the
	 * budget: the transactions get the rest, so the whole discovery ends
	 * within the timeout. */
	uint64_t start = core_now_ns();
	memcpy(eps, servers, num * sizeof *eps);
	rc = stun_resolve(eps, num, local.ss_family, (int)(timeout / 2));
	if (rc < 0)
		return rc;
	struct stun_client_opts ro = *o;
	uint64_t spent_ms = (core_now_ns() - start) / 1000000u;
	ro.timeout_ms = spent_ms < timeout ? timeout - (unsigned)spent_ms : 1;

	/* 2. Ask every resolved server at once from u. */
	memset(probes, 0, sizeof probes);
	for (size_t i = 0; i < num; i++) {
		if (eps[i].err)
			continue;
		probes[i].to = eps[i].addr;
		probes[i].to_len = eps[i].addr_len;
	}
	/* Unresolved servers have no address: the run marks them at once. */
	rc = stun_client_run(u, probes, num, &ro);
	if (rc < 0)
		return rc;

	/* 3. The first valid answer wins; the others confirm or not. */
	memset(out, 0, sizeof *out);
	out->num_servers = num;
	out->status = -ENOENT;
	out->winner = SIZE_MAX;
	size_t route_to = SIZE_MAX;
	for (size_t i = 0; i < num; i++) {
		out->servers[i].ep = eps[i];
		out->servers[i].probe = probes[i];
		if (!eps[i].err && route_to == SIZE_MAX)
			route_to = i;
		if (!eps[i].err)
			out->status = -ETIMEDOUT;
		if (probes[i].status != 0)
			continue;
		out->num_answered++;
		if (out->winner == SIZE_MAX || probes[i].answered_ns < probes[out->winner].answered_ns)
			out->winner = i;
	}
	if (out->winner != SIZE_MAX) {
		out->status = 0;
		out->mapped = probes[out->winner].mapped;
		route_to = out->winner;
		for (size_t i = 0; i < num; i++) {
			out->servers[i].agrees = probes[i].status == 0 && stun_addr_equal(&probes[i].mapped, &out->mapped);
			out->num_agree += out->servers[i].agrees;
		}
	}
	out->local = bound;
	if (route_to != SIZE_MAX)
		stun_local_addr_toward(&out->local, &local, local_len, &eps[route_to].addr, eps[route_to].addr_len);

	/* 4. No NAT: the world sees one of our own addresses, same port. */
	if (out->status == 0)
		out->no_nat = out->mapped.port == bound.port && stun_addr_is_local(&out->mapped);

	if (out->status == 0 && !o->no_cache)
		cache_put(&bound, hash, core_now_ns(),
			  ms_to_ns(o->cache_ttl_ms ? o->cache_ttl_ms : STUN_CLIENT_DEFAULT_CACHE_TTL_MS), out);
	return 0;
}
