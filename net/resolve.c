/* net/resolve.c: names on helper threads, literals in place; see resolve.h. */
#include "net/resolve.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/coro.h"
#include "core/reactor.h"

/* A helper thread only runs getaddrinfo; the 8 MiB default would reserve
 * address space it never touches. */
#define THREAD_STACK_SIZE (256u * 1024u)

/* struct waiter: the resolving coroutine; lives on its stack. */
struct waiter {
	struct core_coro *co;
	struct net_resolve_req *reqs;
	size_t pending;
	bool parked;
};

/* struct job: one name being resolved. Two references: the helper thread's
 * (passed on to the delivery coroutine) and the waiter's. w is cleared by
 * the waiter when it stops waiting; both sides touch w and delivered on the
 * waiter's reactor thread only. The job owns a copy of the name: the
 * thread may outlive the caller's request. */
struct job {
	atomic_int refs;
	struct core_rt *rt;
	unsigned reactor;
	struct waiter *w;
	size_t index;
	bool delivered;
	int family;
	char host[NET_RESOLVE_HOST_MAX + 1];
	char port[8];
	/* result, written by the helper thread before the post */
	int err;
	int gai;
	struct sockaddr_storage addr;
	socklen_t addr_len;
};

static atomic_uint in_flight;

static void job_put(struct job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) == 1) {
		free(j);
		atomic_fetch_sub(&in_flight, 1);
	}
}

unsigned net_resolve_in_flight(void)
{
	return atomic_load(&in_flight);
}

static int gai_to_errno(int rc, int saved_errno)
{
	switch (rc) {
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY:
#endif
	case EAI_FAMILY:
		return -ENOENT;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return saved_errno ? -saved_errno : -EIO;
	default:
		return -EIO;
	}
}

/* deliver runs on the waiter's reactor (spawned by core_rt_post). */
static void deliver(void *arg)
{
	struct job *j = arg;
	struct waiter *w = j->w;

	j->delivered = true;
	if (w) {
		struct net_resolve_req *r = &w->reqs[j->index];
		r->err = j->err;
		r->gai = j->gai;
		if (j->err == 0) {
			r->addr = j->addr;
			r->addr_len = j->addr_len;
		}
		if (--w->pending == 0 && w->parked)
			core_unpark(w->co, 0);
	}
	job_put(j);
}

static void *resolve_thread(void *arg)
{
	struct job *j = arg;
	struct addrinfo hints, *res = NULL;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = j->family;
	hints.ai_socktype = SOCK_DGRAM; /* one answer per address, not one per socket type */
	hints.ai_flags = AI_NUMERICSERV;
	errno = 0;
	int rc = getaddrinfo(j->host, j->port, &hints, &res);
	if (rc != 0) {
		j->gai = rc;
		j->err = gai_to_errno(rc, errno);
	} else {
		const struct addrinfo *pick = res;
		if (j->family == AF_UNSPEC)
			for (const struct addrinfo *a = res; a; a = a->ai_next)
				if (a->ai_family == AF_INET) {
					pick = a;
					break;
				}
		if (!pick || pick->ai_addrlen > sizeof j->addr) {
			j->err = -ENOENT;
		} else {
			memcpy(&j->addr, pick->ai_addr, pick->ai_addrlen);
			j->addr_len = pick->ai_addrlen;
			j->err = 0;
		}
	}
	if (res)
		freeaddrinfo(res);
	/* Hand our reference to the delivery coroutine. If the reactor is
	 * gone, nobody waits any more: drop it. */
	if (core_rt_post(j->rt, j->reactor, deliver, j) != 0)
		job_put(j);
	return NULL;
}

/* unbracket copies host into out without the "[v6]" brackets of a URL.
 * Returns false when it is longer than NET_RESOLVE_HOST_MAX. */
static bool unbracket(const char *host, char out[static NET_RESOLVE_HOST_MAX + 1])
{
	size_t len = strlen(host);

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len > NET_RESOLVE_HOST_MAX)
		return false;
	memcpy(out, host, len);
	out[len] = 0;
	return true;
}

/* literal resolves a numeric host without a thread. Returns true when host
 * was a literal (r->err then says whether its family fits). */
static bool literal(struct net_resolve_req *r, const char *host, int family)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, host, &a4) == 1) {
		if (family == AF_INET6) {
			r->err = -EAFNOSUPPORT;
			return true;
		}
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(r->port), .sin_addr = a4 };
		memcpy(&r->addr, &sin, sizeof sin);
		r->addr_len = sizeof sin;
		r->err = 0;
		return true;
	}
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (family == AF_INET) {
			r->err = -EAFNOSUPPORT;
			return true;
		}
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(r->port), .sin6_addr = a6 };
		memcpy(&r->addr, &sin6, sizeof sin6);
		r->addr_len = sizeof sin6;
		r->err = 0;
		return true;
	}
	return false;
}

static int start_job(struct waiter *w, struct job **slot, size_t i, int family, const char *host)
{
	struct core_reactor *r = core_self();
	struct job *j = calloc(1, sizeof *j);
	pthread_attr_t attr;
	pthread_t th;

	if (!j)
		return -ENOMEM;
	atomic_init(&j->refs, 2);
	j->rt = core_reactor_rt(r);
	j->reactor = core_reactor_index(r);
	j->w = w;
	j->index = i;
	j->family = family;
	snprintf(j->host, sizeof j->host, "%s", host);
	snprintf(j->port, sizeof j->port, "%u", w->reqs[i].port);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, THREAD_STACK_SIZE);
	atomic_fetch_add(&in_flight, 1);
	int rc = pthread_create(&th, &attr, resolve_thread, j);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		free(j);
		atomic_fetch_sub(&in_flight, 1);
		return -rc;
	}
	*slot = j;
	return 0;
}

int net_resolve_many(struct net_resolve_req *reqs, size_t num, int family, int timeout_ms)
{
	struct waiter w = { .reqs = reqs };
	struct job **jobs = calloc(num ? num : 1, sizeof *jobs);
	uint64_t deadline = core_now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
	int rc = 0, resolved = 0;

	if (!jobs)
		return -ENOMEM;
	for (size_t i = 0; i < num; i++) {
		struct net_resolve_req *r = &reqs[i];
		char host[NET_RESOLVE_HOST_MAX + 1];

		memset(&r->addr, 0, sizeof r->addr);
		r->addr_len = 0;
		r->gai = 0;
		if (!unbracket(r->host, host)) {
			r->err = -ENAMETOOLONG;
			continue;
		}
		if (literal(r, host, family))
			continue;
		w.co = core_coro_current();
		assert(w.co && core_self() && "net_resolve_many: names are resolved from a coroutine");
		int e = start_job(&w, &jobs[i], i, family, host);
		if (e < 0) {
			r->err = e;
			continue;
		}
		r->err = -EINPROGRESS;
		w.pending++;
	}
	while (w.pending > 0) {
		int left = -1;
		if (timeout_ms >= 0) {
			uint64_t now = core_now_ns();
			if (now >= deadline)
				break;
			left = (int)((deadline - now + 999999u) / 1000000u);
		}
		w.parked = true;
		int r = core_park(left);
		w.parked = false;
		if (r == -ECANCELED) {
			rc = -ECANCELED;
			break;
		}
	}
	/* Detach from the lookups still running: their deliveries find no
	 * waiter and only free the job. */
	for (size_t i = 0; i < num; i++) {
		if (!jobs[i])
			continue;
		if (!jobs[i]->delivered) {
			jobs[i]->w = NULL;
			reqs[i].err = rc ? rc : -ETIMEDOUT;
		}
		job_put(jobs[i]);
	}
	free(jobs);
	if (rc)
		return rc;
	for (size_t i = 0; i < num; i++)
		resolved += reqs[i].err == 0;
	return resolved;
}

int net_resolve(const char *host, uint16_t port, int family, struct sockaddr_storage *out, socklen_t *out_len,
		int timeout_ms, char *errbuf, size_t errbuf_len)
{
	struct net_resolve_req req = { .host = host, .port = port };

	if (errbuf && errbuf_len)
		errbuf[0] = 0;
	memset(out, 0, sizeof *out);
	int rc = net_resolve_many(&req, 1, family, timeout_ms);
	/* One name has only "in time or not": a shutdown reads as a timeout. */
	if (rc == -ECANCELED)
		return -ETIMEDOUT;
	if (rc < 0)
		return rc;
	if (req.err == 0) {
		memcpy(out, &req.addr, req.addr_len);
		*out_len = req.addr_len;
		return 0;
	}
	/* Whatever the resolver refused is "no such name" to this caller; the
	 * resolver's own words go to the person. */
	if (req.gai || req.err == -ENOENT || req.err == -EAFNOSUPPORT) {
		if (errbuf && errbuf_len)
			snprintf(errbuf, errbuf_len, "%s: %s", host,
				 req.gai ? gai_strerror(req.gai) : net_resolve_strerror(req.err));
		return -ENOENT;
	}
	return req.err;
}

int net_resolve_now(const char *host, uint16_t port, int socktype, bool passive, struct sockaddr_storage *out,
		    socklen_t *out_len, char *errbuf, size_t errbuf_len)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = socktype,
				 .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
	struct addrinfo *res = NULL;
	char ps[8];
	snprintf(ps, sizeof ps, "%u", port);
	int r = getaddrinfo(host, ps, &hints, &res);
	if (r != 0) {
		if (errbuf && errbuf_len)
			snprintf(errbuf, errbuf_len, "cannot resolve '%s': %s", host ? host : "*", gai_strerror(r));
		return -ENOENT;
	}
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*out_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

const char *net_resolve_strerror(int err)
{
	switch (err) {
	case 0:
		return "resolved";
	case -ENOENT:
		return "DNS: name not found";
	case -EAGAIN:
		return "DNS: temporary failure (is a DNS server reachable?)";
	case -ETIMEDOUT:
		return "DNS: lookup timed out";
	case -EAFNOSUPPORT:
		return "address family not usable from this socket (IPv6 server, IPv4 socket or the reverse)";
	case -ENAMETOOLONG:
		return "name too long";
	case -ECANCELED:
		return "cancelled";
	case -EINPROGRESS:
		return "not resolved yet";
	default:
		return strerror(-err);
	}
}
