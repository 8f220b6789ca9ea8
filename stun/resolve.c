/* stun/resolve.c: server names and non-blocking resolution; see resolve.h. */
#include "stun/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/coro.h"
#include "core/reactor.h"

const char *const stun_default_servers[STUN_NUM_DEFAULT_SERVERS] = {
	"stun.l.google.com:19302",
	"stun1.l.google.com:19302",
	"stun2.l.google.com:19302",
	"stun.cloudflare.com:3478",
	"stun.stunprotocol.org:3478",
};

/* --- parsing ---------------------------------------------------------------- */

static bool parse_port(const char *s, size_t len, uint16_t *out)
{
	unsigned long v = 0;
	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

int stun_endpoint_parse(struct stun_endpoint *out, const char *text, uint16_t default_port)
{
	const char *s = text, *end = text + strlen(text);
	const char *host, *host_end, *port = NULL, *port_end = NULL;
	uint16_t p = default_port;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (*s == '[') {
		/* "[v6]" or "[v6]:port" (RFC 3986 §3.2.2). */
		host = s + 1;
		host_end = memchr(host, ']', (size_t)(end - host));
		if (!host_end)
			return -EINVAL;
		if (host_end + 1 < end) {
			if (host_end[1] != ':')
				return -EINVAL;
			port = host_end + 2;
			port_end = end;
		}
	} else {
		const char *colon = memchr(s, ':', (size_t)(end - s));
		host = s;
		host_end = end;
		/* One colon separates the port; more make a bare IPv6 literal. */
		if (colon && !memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
			host_end = colon;
			port = colon + 1;
			port_end = end;
		}
	}
	size_t host_len = (size_t)(host_end - host);
	if (host_len == 0 || host_len > STUN_HOST_MAX)
		return -EINVAL;
	if (port && !parse_port(port, (size_t)(port_end - port), &p))
		return -EINVAL;
	if (p == 0)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	memcpy(out->host, host, host_len);
	out->port = p;
	snprintf(out->text, sizeof out->text, memchr(host, ':', host_len) ? "[%s]:%u" : "%s:%u", out->host, p);
	out->err = -EINPROGRESS;
	return 0;
}

int stun_endpoint_parse_list(struct stun_endpoint *out, size_t max, const char *list, size_t *out_bad)
{
	size_t n = 0, item = 0;
	const char *s = list;

	while (*s) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		char buf[STUN_HOST_MAX + 16];
		bool blank = strspn(s, " \t") >= len;
		if (!blank) {
			if (len >= sizeof buf) {
				*out_bad = item;
				return -EINVAL;
			}
			if (n == max)
				return -E2BIG;
			memcpy(buf, s, len);
			buf[len] = 0;
			if (stun_endpoint_parse(&out[n], buf, STUN_DEFAULT_PORT) != 0) {
				*out_bad = item;
				return -EINVAL;
			}
			n++;
		}
		item++;
		s += len;
		if (*s == ',')
			s++;
	}
	return (int)n;
}

/* --- resolution ---------------------------------------------------------------- */

/* struct waiter: the resolving coroutine; lives on its stack. */
struct waiter {
	struct core_coro *co;
	struct stun_endpoint *eps;
	size_t pending;
	bool parked;
};

/* struct job: one name being resolved. Two references: the helper thread's
 * (passed on to the delivery coroutine) and the waiter's. w is cleared by
 * the waiter when it stops waiting; both sides touch w and delivered on the
 * reactor thread only. */
struct job {
	atomic_int refs;
	struct core_rt *rt;
	unsigned reactor;
	struct waiter *w;
	size_t index;
	bool delivered;
	int family;
	char host[STUN_HOST_MAX + 1];
	char port[8];
	/* result, written by the helper thread before the post */
	int err;
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

unsigned stun_resolve_in_flight(void)
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
		struct stun_endpoint *ep = &w->eps[j->index];
		ep->err = j->err;
		if (j->err == 0) {
			ep->addr = j->addr;
			ep->addr_len = j->addr_len;
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
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	errno = 0;
	int rc = getaddrinfo(j->host, j->port, &hints, &res);
	if (rc != 0) {
		j->err = gai_to_errno(rc, errno);
	} else if (!res || res->ai_addrlen > sizeof j->addr) {
		j->err = -ENOENT;
	} else {
		memcpy(&j->addr, res->ai_addr, res->ai_addrlen);
		j->addr_len = res->ai_addrlen;
		j->err = 0;
	}
	freeaddrinfo(res);
	/* Hand our reference to the delivery coroutine. If the reactor is
	 * gone, nobody waits any more: drop it. */
	if (core_rt_post(j->rt, j->reactor, deliver, j) != 0)
		job_put(j);
	return NULL;
}

/* literal resolves a numeric host without a thread. Returns true when host
 * was a literal (ep->err then says whether its family fits). */
static bool literal(struct stun_endpoint *ep, int family)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, ep->host, &a4) == 1) {
		if (family != AF_INET) {
			ep->err = -EAFNOSUPPORT;
			return true;
		}
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(ep->port), .sin_addr = a4 };
		memset(&ep->addr, 0, sizeof ep->addr);
		memcpy(&ep->addr, &sin, sizeof sin);
		ep->addr_len = sizeof sin;
		ep->err = 0;
		return true;
	}
	if (inet_pton(AF_INET6, ep->host, &a6) == 1) {
		if (family != AF_INET6) {
			ep->err = -EAFNOSUPPORT;
			return true;
		}
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(ep->port), .sin6_addr = a6 };
		memset(&ep->addr, 0, sizeof ep->addr);
		memcpy(&ep->addr, &sin6, sizeof sin6);
		ep->addr_len = sizeof sin6;
		ep->err = 0;
		return true;
	}
	return false;
}

static int start_job(struct waiter *w, struct job **slot, size_t i, int family)
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
	memcpy(j->host, w->eps[i].host, sizeof j->host);
	snprintf(j->port, sizeof j->port, "%u", w->eps[i].port);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
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

int stun_resolve(struct stun_endpoint *eps, size_t num, int family, int timeout_ms)
{
	struct waiter w = { .co = core_coro_current(), .eps = eps };
	struct job **jobs = calloc(num ? num : 1, sizeof *jobs);
	uint64_t deadline = core_now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
	int rc = 0, resolved = 0;

	if (!jobs)
		return -ENOMEM;
	for (size_t i = 0; i < num; i++) {
		if (literal(&eps[i], family))
			continue;
		int e = start_job(&w, &jobs[i], i, family);
		if (e < 0) {
			eps[i].err = e;
			continue;
		}
		w.pending++;
	}
	while (w.pending > 0) {
		uint64_t now = core_now_ns();
		if (now >= deadline)
			break;
		w.parked = true;
		int r = core_park((int)((deadline - now + 999999u) / 1000000u));
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
			eps[i].err = rc ? rc : -ETIMEDOUT;
		}
		job_put(jobs[i]);
	}
	free(jobs);
	if (rc)
		return rc;
	for (size_t i = 0; i < num; i++)
		resolved += eps[i].err == 0;
	return resolved;
}

const char *stun_resolve_strerror(int err)
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
	case -ECANCELED:
		return "cancelled";
	case -EINPROGRESS:
		return "not resolved yet";
	default:
		return strerror(-err);
	}
}
