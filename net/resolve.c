#include "net/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/reactor.h"

struct job {
	atomic_int refs;             /* the waiter and the thread */
	struct core_rt *rt;
	unsigned reactor;
	struct core_coro *waiter;    /* NULL once the waiter gave up */
	char host[256];
	char port[8];
	int family;
	int gai;                     /* getaddrinfo result */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool done;
};

static void job_put(struct job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) == 1)
		free(j);
}

/* Runs on the waiter's reactor. */
static void job_deliver(void *arg)
{
	struct job *j = arg;
	j->done = true;
	if (j->waiter)
		core_unpark(j->waiter, 0);
	job_put(j);
}

static void *job_run(void *arg)
{
	struct job *j = arg;
	struct addrinfo hints = {.ai_family = j->family, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	j->gai = getaddrinfo(j->host, j->port, &hints, &res);
	if (j->gai == 0) {
		struct addrinfo *pick = res;
		if (j->family == AF_UNSPEC)
			for (struct addrinfo *a = res; a; a = a->ai_next)
				if (a->ai_family == AF_INET) {
					pick = a;
					break;
				}
		memcpy(&j->addr, pick->ai_addr, pick->ai_addrlen);
		j->addr_len = pick->ai_addrlen;
		freeaddrinfo(res);
	}
	if (core_rt_post(j->rt, j->reactor, job_deliver, j) != 0)
		job_put(j); /* runtime gone: nobody waits any more */
	return NULL;
}

int net_resolve(const char *host, uint16_t port, int family, struct sockaddr_storage *out, socklen_t *out_len,
		int timeout_ms, char *errbuf, size_t errlen)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
	char h[256];
	size_t hl = strlen(host);

	if (errbuf && errlen)
		errbuf[0] = 0;
	/* "[v6]" literal brackets are the URL's, not the address's. */
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof h) {
		memcpy(h, host + 1, hl - 2);
		h[hl - 2] = 0;
		host = h;
	}
	memset(out, 0, sizeof *out);
	if (family != AF_INET6 && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		*out_len = sizeof *v4;
		return 0;
	}
	if (family != AF_INET && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		*out_len = sizeof *v6;
		return 0;
	}
	if (strlen(host) >= sizeof ((struct job *)0)->host)
		return -ENAMETOOLONG;
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return -ENOMEM;
	atomic_init(&j->refs, 2);
	j->rt = core_reactor_rt(core_self());
	j->reactor = core_reactor_index(core_self());
	j->waiter = core_coro_current();
	snprintf(j->host, sizeof j->host, "%s", host);
	snprintf(j->port, sizeof j->port, "%u", port);
	j->family = family;
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	int e = pthread_create(&t, &attr, job_run, j);
	pthread_attr_destroy(&attr);
	if (e) {
		free(j);
		return -e;
	}
	uint64_t deadline = timeout_ms >= 0 ? core_now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
	while (!j->done) {
		int left = -1;
		if (timeout_ms >= 0) {
			uint64_t now = core_now_ns();
			if (now >= deadline)
				break;
			left = (int)((deadline - now) / 1000000u) + 1;
		}
		if (core_park(left) == -ECANCELED)
			break;
	}
	int ret;
	if (!j->done) {
		j->waiter = NULL;
		ret = -ETIMEDOUT;
	} else if (j->gai) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s: %s", host, gai_strerror(j->gai));
		ret = -ENOENT;
	} else {
		memcpy(out, &j->addr, j->addr_len);
		*out_len = j->addr_len;
		ret = 0;
	}
	job_put(j);
	return ret;
}
