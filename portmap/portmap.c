/* portmap/portmap.c: the coordinator (portmap/portmap.h): one helper thread
 * per mapping that tries PCP, NAT-PMP and UPnP at once, keeps the first that
 * maps, renews it at half its lifetime and deletes it at the end.
 *
 *   attempt:  gateway from /proc/net/route
 *             UPnP job thread: SSDP (PORTMAP_SSDP_MS), IGD, AddPortMapping
 *             here: PCP MAP and NAT-PMP public address + mapping, poll(2)
 *             first PM_DONE wins -> notify; the others are deleted
 *   hold:     sleep lifetime/2 (stop_fd wakes it), renew by the winner;
 *             a failed renewal starts a new attempt
 *   stop:     delete by the winner (PORTMAP_DELETE_MS), join the job */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "portmap/internal.h"

/* One attempt's UPnP job, on a thread of its own: miniupnpc's SSDP discovery
 * and SOAP calls block. Until its discovery ends the attempt may drop it
 * (job_drop: stop came, or another protocol won); the thread then frees
 * it when discovery returns, and nothing waits for it. Once it maps, it is
 * joined: a mapping it makes must be known to be deleted. */
enum { JOB_FIND, JOB_MAP, JOB_DROPPED };

struct upnp_job {
	pthread_t th;
	bool running;            /* started and not joined */
	atomic_int phase;        /* JOB_*: who owns the job after discovery */
	atomic_bool abandon;     /* another protocol won: do not map */
	int done_fd;             /* eventfd: the thread finished */
	uint16_t port;
	uint32_t lifetime, gw_be;
	unsigned ssdp_ms;
	int rc;
	struct pm_upnp u;
	struct portmap_mapping m;
};

struct portmap {
	struct portmap_opts o;
	pthread_t th;
	bool started;
	int stop_fd;             /* eventfd: portmap_stop was called */
	struct portmap_mapping cur;      /* the last one published */
	/* The helper thread's own. The winner's client stays open between
	 * renewals: it is the cache (gateway, PCP nonce, IGD URLs). */
	unsigned held;                   /* the protocol holding the mapping, 0: none */
	unsigned also;                   /* others that mapped the same external port */
	struct portmap_mapping m;
	struct pm_pcp pcp;
	struct pm_pmp pmp;
	struct pm_upnp upnp;
};

static bool stopping(struct portmap *pm)
{
	struct pollfd p = {.fd = pm->stop_fd, .events = POLLIN};
	return poll(&p, 1, 0) > 0;
}

/* Sleeps ms or until stop; returns true on stop. */
static bool wait_stop(struct portmap *pm, uint64_t ms)
{
	uint64_t end = pm_now_ms() + ms;
	for (;;) {
		uint64_t now = pm_now_ms();
		if (now >= end)
			return false;
		uint64_t left = end - now;
		struct pollfd p = {.fd = pm->stop_fd, .events = POLLIN};
		int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return true;
	}
}

static bool same_external(const struct portmap_mapping *a, const struct portmap_mapping *b)
{
	return a->external.sin_addr.s_addr == b->external.sin_addr.s_addr && a->external.sin_port == b->external.sin_port;
}

static bool same_mapping(const struct portmap_mapping *a, const struct portmap_mapping *b)
{
	return a->proto == b->proto && a->external.sin_addr.s_addr == b->external.sin_addr.s_addr &&
	       a->external.sin_port == b->external.sin_port;
}

/* Publishes m (proto 0: none) and tells the caller when it changed. */
static void publish(struct portmap *pm, const struct portmap_mapping *m)
{
	bool changed = !same_mapping(&pm->cur, m);
	pm->cur = *m;
	if (changed && pm->o.notify)
		pm->o.notify(pm->o.arg, m);
}

static void job_free(struct upnp_job *j)
{
	if (j->done_fd >= 0)
		close(j->done_fd);
	free(j);
}

static struct upnp_job *job_new(void)
{
	struct upnp_job *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	atomic_init(&j->phase, JOB_FIND);
	atomic_init(&j->abandon, false);
	j->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (j->done_fd < 0) {
		free(j);
		return NULL;
	}
	return j;
}

static void *upnp_job_run(void *arg)
{
	struct upnp_job *j = arg;
	j->rc = pm_upnp_find(&j->u, j->gw_be, j->ssdp_ms);
	int want = JOB_FIND;
	if (!atomic_compare_exchange_strong(&j->phase, &want, JOB_MAP)) {
		/* Dropped while it searched: the attempt went on without it. */
		pm_upnp_free(&j->u);
		job_free(j);
		return NULL;
	}
	/* SSDP alone takes PORTMAP_SSDP_MS: by then PCP or NAT-PMP has
	 * usually won, and a second mapping would only have to be undone. */
	if (j->rc == 0 && atomic_load(&j->abandon))
		j->rc = -ECANCELED;
	else if (j->rc == 0)
		j->rc = pm_upnp_map(&j->u, j->port, j->lifetime, &j->m);
	uint64_t one = 1;
	(void)!write(j->done_fd, &one, sizeof one);
	return NULL;
}

/* Drops a job still in its discovery: true when dropped (its thread frees
 * it; the caller must not touch it again), false when it is mapping or done
 * (join it). */
static bool job_drop(struct upnp_job *j)
{
	int want = JOB_FIND;
	if (!j->running || !atomic_compare_exchange_strong(&j->phase, &want, JOB_DROPPED))
		return false;
	pthread_detach(j->th);
	return true;
}

static void upnp_job_join(struct upnp_job *j)
{
	if (!j->running)
		return;
	pthread_join(j->th, NULL);
	j->running = false;
	uint64_t v;
	(void)!read(j->done_fd, &v, sizeof v);
}

/* Runs one stepped protocol alone until it is done, fails, ms pass or (when
 * watch_stop) stop is asked. */
static int step_alone(struct portmap *pm, unsigned proto, struct portmap_mapping *out, unsigned ms, bool watch_stop)
{
	uint64_t end = pm_now_ms() + ms;
	for (;;) {
		int v = proto == PORTMAP_PCP ? pm_pcp_step(&pm->pcp, out) : pm_pmp_step(&pm->pmp, out);
		if (v != PM_PENDING)
			return v;
		uint64_t now = pm_now_ms();
		if (now >= end)
			return PM_FAILED;
		int t = proto == PORTMAP_PCP ? pm_pcp_timeout_ms(&pm->pcp) : pm_pmp_timeout_ms(&pm->pmp);
		if ((uint64_t)t > end - now)
			t = (int)(end - now);
		struct pollfd p[2] = {{.fd = proto == PORTMAP_PCP ? pm->pcp.fd : pm_pmp_fd(&pm->pmp), .events = POLLIN},
				      {.fd = pm->stop_fd, .events = POLLIN}};
		if (poll(p, watch_stop ? 2 : 1, t) > 0 && watch_stop && (p[1].revents & POLLIN))
			return PM_FAILED;
	}
}

/* Deletes the mapping proto holds with the client in pm (bounded). */
static void delete_by(struct portmap *pm, unsigned proto)
{
	struct portmap_mapping dummy;
	char ext[24] = "";
	if (proto == PORTMAP_PCP && pm->pcp.fd >= 0) {
		/* §15: the same MAP with lifetime 0 and the mapping's nonce. */
		if (pm_pcp_begin(&pm->pcp, pm->pcp.req.internal_port, 0, 0, false) == 0)
			step_alone(pm, PORTMAP_PCP, &dummy, PORTMAP_DELETE_MS, false);
	} else if (proto == PORTMAP_NATPMP && pm->pmp.open) {
		/* RFC 6886 §3.4: lifetime 0, external port 0. */
		if (pm_pmp_begin(&pm->pmp, pm->pmp.port, 0, 0, false) == 0)
			step_alone(pm, PORTMAP_NATPMP, &dummy, PORTMAP_DELETE_MS, false);
	} else if (proto == PORTMAP_UPNP) {
		snprintf(ext, sizeof ext, "%s", pm->upnp.ext_port);
		pm_upnp_delete(&pm->upnp);
	}
	core_log(CORE_LOG_DEBUG, "%s: mapping of UDP port %u deleted%s%s", portmap_proto_name(proto), pm->o.internal_port,
		 ext[0] ? ", external port " : "", ext);
}

/* Closes every client; the winner's too. */
static void release_all(struct portmap *pm)
{
	pm_pcp_close(&pm->pcp);
	pm_pmp_close(&pm->pmp);
	pm_upnp_free(&pm->upnp);
	pm->held = 0;
	pm->also = 0;
}

/* Deletes the mapping by the winner and by every protocol that mapped the
 * same port too: on a gateway with one table (miniupnpd) the rule belongs
 * to whichever protocol asked last, and only that one may delete it. */
struct delete_job {
	struct portmap *pm;
	unsigned proto;
	pthread_t th;
	bool running;
};

static void *delete_run(void *arg)
{
	struct delete_job *d = arg;
	delete_by(d->pm, d->proto);
	return NULL;
}

/* The protocols' deletes go out at once (each uses its own client), so
 * the whole takes as long as the slowest, not their sum: one thread per
 * protocol beyond the first, which runs here (inline if a thread cannot
 * be made). */
static void delete_all(struct portmap *pm)
{
	struct delete_job jobs[3];
	size_t n = 0;
	for (unsigned p = PORTMAP_PCP; p <= PORTMAP_UPNP; p <<= 1)
		if (pm->held == p || (pm->also & p))
			jobs[n++] = (struct delete_job){.pm = pm, .proto = p};
	for (size_t i = 1; i < n; i++)
		jobs[i].running = pthread_create(&jobs[i].th, NULL, delete_run, &jobs[i]) == 0;
	if (n)
		delete_by(pm, jobs[0].proto);
	for (size_t i = 1; i < n; i++) {
		if (jobs[i].running)
			pthread_join(jobs[i].th, NULL);
		else
			delete_by(pm, jobs[i].proto);
	}
}

/* One attempt by every enabled protocol at once. Returns 0 with pm->held and
 * pm->m set (published already), -EAGAIN when none mapped, -ECANCELED on
 * stop, -ENETUNREACH without a default gateway. */
static int attempt(struct portmap *pm)
{
	release_all(pm);
	uint32_t gw;
	int rc = pm_gateway(&gw);
	if (rc < 0)
		return rc;
	unsigned protos = pm->o.protos;
	uint16_t port = pm->o.internal_port;
	uint32_t life = pm->o.lifetime_s;
	bool pcp_on = false, pmp_on = false;
	if ((protos & PORTMAP_PCP) && pm_pcp_open(&pm->pcp, gw) == 0)
		pcp_on = pm_pcp_begin(&pm->pcp, port, port, life, true) == 0;
	if ((protos & PORTMAP_NATPMP) && pm_pmp_open(&pm->pmp, gw) == 0)
		pmp_on = pm_pmp_begin(&pm->pmp, port, port, life, false) == 0;
	struct upnp_job *j = (protos & PORTMAP_UPNP) ? job_new() : NULL;
	if (j) {
		j->port = port;
		j->lifetime = life;
		j->gw_be = gw;
		j->ssdp_ms = PORTMAP_SSDP_MS < pm->o.attempt_ms ? PORTMAP_SSDP_MS : pm->o.attempt_ms;
		j->rc = -EINPROGRESS;
		j->running = pthread_create(&j->th, NULL, upnp_job_run, j) == 0;
		if (!j->running) {
			job_free(j);
			j = NULL;
		}
	}
	unsigned done = 0;          /* protocols that mapped */
	unsigned winner = 0;
	struct portmap_mapping got[8];
	bool stop = false;
	uint64_t end = pm_now_ms() + pm->o.attempt_ms;
	/* The job's fields are read only after its done_fd said so and it
	 * was joined: the join orders its writes before our reads. */
	bool job_pending = j != NULL;
	while (!winner && !stop && (pcp_on || pmp_on || job_pending)) {
		uint64_t now = pm_now_ms();
		bool late = now >= end;
		if (late && !job_pending)
			break;
		if (late) {
			/* PCP and NAT-PMP had their time; UPnP still runs
			 * (bounded by miniupnpc's own timeouts). */
			pcp_on = pmp_on = false;
		}
		struct pollfd p[4];
		nfds_t n = 0;
		p[n++] = (struct pollfd){.fd = pm->stop_fd, .events = POLLIN};
		int t = late ? -1 : (int)(end - now);
		if (pcp_on) {
			p[n++] = (struct pollfd){.fd = pm->pcp.fd, .events = POLLIN};
			int pt = pm_pcp_timeout_ms(&pm->pcp);
			t = pt < t ? pt : t;
		}
		if (pmp_on) {
			p[n++] = (struct pollfd){.fd = pm_pmp_fd(&pm->pmp), .events = POLLIN};
			int pt = pm_pmp_timeout_ms(&pm->pmp);
			t = pt < t ? pt : t;
		}
		if (job_pending)
			p[n++] = (struct pollfd){.fd = j->done_fd, .events = POLLIN};
		if (poll(p, n, t) > 0 && (p[0].revents & POLLIN)) {
			stop = true;
			break;
		}
		if (pcp_on) {
			int v = pm_pcp_step(&pm->pcp, &got[PORTMAP_PCP]);
			if (v != PM_PENDING)
				pcp_on = false;
			if (v == PM_DONE) {
				done |= PORTMAP_PCP;
				if (!winner)
					winner = PORTMAP_PCP;
			}
		}
		/* Not after a win: its public-address answer would send the
		 * mapping request we no longer want. */
		if (pmp_on && !winner) {
			int v = pm_pmp_step(&pm->pmp, &got[PORTMAP_NATPMP]);
			if (v != PM_PENDING)
				pmp_on = false;
			if (v == PM_DONE) {
				done |= PORTMAP_NATPMP;
				winner = PORTMAP_NATPMP;
			}
		}
		uint64_t fin;
		if (job_pending && read(j->done_fd, &fin, sizeof fin) == (ssize_t)sizeof fin) {
			job_pending = false;
			upnp_job_join(j);
			if (j->rc == 0 && !winner) {
				winner = PORTMAP_UPNP;
				got[PORTMAP_UPNP] = j->m;
				pm->upnp = j->u;
			} else if (j->rc == 0) {
				done |= PORTMAP_UPNP;
			} else {
				pm_upnp_free(&j->u);
			}
		}
	}
	if (winner) {
		pm->held = winner;
		pm->m = got[winner];
		publish(pm, &pm->m);
		if (j)
			atomic_store(&j->abandon, true);
	}
	/* Losers whose mapping request is already out may still map (a
	 * NAT-PMP request goes out only after its public address came back).
	 * Give them PORTMAP_GRACE_MS to answer: a mapping to another
	 * external port is undone, one to the same port is shared (the
	 * gateway keeps one table) and remembered for the delete. */
	if (winner && !stop) {
		bool pcp_wait = pcp_on, pmp_wait = pmp_on && pm->pmp.stage == 1;
		uint64_t grace_end = pm_now_ms() + PORTMAP_GRACE_MS;
		while ((pcp_wait || pmp_wait) && pm_now_ms() < grace_end) {
			struct pollfd p[2];
			nfds_t n = 0;
			if (pcp_wait)
				p[n++] = (struct pollfd){.fd = pm->pcp.fd, .events = POLLIN};
			if (pmp_wait)
				p[n++] = (struct pollfd){.fd = pm_pmp_fd(&pm->pmp), .events = POLLIN};
			poll(p, n, (int)(grace_end - pm_now_ms()));
			if (pcp_wait) {
				int v = pm_pcp_step(&pm->pcp, &got[PORTMAP_PCP]);
				pcp_wait = v == PM_PENDING;
				if (v == PM_DONE)
					done |= PORTMAP_PCP;
			}
			if (pmp_wait) {
				int v = pm_pmp_step(&pm->pmp, &got[PORTMAP_NATPMP]);
				pmp_wait = v == PM_PENDING;
				if (v == PM_DONE)
					done |= PORTMAP_NATPMP;
			}
		}
	}
	static const unsigned stepped[] = {PORTMAP_PCP, PORTMAP_NATPMP};
	for (size_t i = 0; i < 2; i++) {
		unsigned q = stepped[i];
		if (!(done & q) || q == winner)
			continue;
		if (same_external(&got[q], &pm->m))
			pm->also |= q;
		else
			delete_by(pm, q);
	}
	if (!((winner | pm->also) & PORTMAP_PCP))
		pm_pcp_close(&pm->pcp);
	if (!((winner | pm->also) & PORTMAP_NATPMP))
		pm_pmp_close(&pm->pmp);
	/* A UPnP job still in flight: a stop or a winner drops it while it is
	 * in SSDP discovery (miniupnpc cannot be interrupted, and nothing
	 * should wait for it: a stop right after PCP won used to wait out the
	 * discovery before it could delete, ~1.8 s). One that got past
	 * discovery is waited for, and its mapping treated like the others'. */
	if (j && (winner || stop) && job_drop(j))
		j = NULL;
	if (j && j->running) {
		upnp_job_join(j);
		if (j->rc == 0)
			done |= PORTMAP_UPNP;
		else
			pm_upnp_free(&j->u);
	}
	if ((done & PORTMAP_UPNP) && winner != PORTMAP_UPNP) {
		pm->upnp = j->u;
		if (winner && same_external(&j->m, &pm->m)) {
			pm->also |= PORTMAP_UPNP;
		} else if (winner) {
			delete_by(pm, PORTMAP_UPNP);
			pm_upnp_free(&pm->upnp);
		} else {
			/* Nothing else mapped (PCP and NAT-PMP failed or ran
			 * out of time, or stop came first): UPnP wins. */
			pm->held = PORTMAP_UPNP;
			pm->m = j->m;
			winner = PORTMAP_UPNP;
			publish(pm, &pm->m);
		}
	}
	if (j)
		job_free(j); /* its pm_upnp, when kept, was moved into pm->upnp */
	if (stop && winner)
		return 0;   /* held: the caller deletes it */
	if (stop)
		return -ECANCELED;
	return winner ? 0 : -EAGAIN;
}

/* Renews the held mapping through its own protocol. 0 with pm->m updated, or
 * -EAGAIN. */
static int renew(struct portmap *pm)
{
	struct portmap_mapping m;
	uint16_t port = pm->o.internal_port, ext = ntohs(pm->m.external.sin_port);
	uint32_t life = pm->o.lifetime_s;
	int v = PM_FAILED;
	switch (pm->held) {
	case PORTMAP_PCP:
		/* RFC 6887 §11.2.1: the same nonce, the port we hold. */
		if (pm_pcp_begin(&pm->pcp, port, ext, life, false) == 0)
			v = step_alone(pm, PORTMAP_PCP, &m, pm->o.attempt_ms, true);
		break;
	case PORTMAP_NATPMP:
		if (pm_pmp_begin(&pm->pmp, port, ext, life, false) == 0)
			v = step_alone(pm, PORTMAP_NATPMP, &m, pm->o.attempt_ms, true);
		break;
	case PORTMAP_UPNP:
		v = pm_upnp_map(&pm->upnp, port, life, &m) == 0 ? PM_DONE : PM_FAILED;
		break;
	}
	if (v != PM_DONE)
		return -EAGAIN;
	pm->m = m;
	return 0;
}

static void *run(void *arg)
{
	struct portmap *pm = arg;
	const struct portmap_mapping none = {0};
	uint64_t backoff_s = PORTMAP_RETRY_MIN_S;
	while (!stopping(pm)) {
		int rc = attempt(pm);
		if (rc == -ECANCELED || stopping(pm))
			break;
		if (rc < 0) {
			core_log(CORE_LOG_DEBUG, "port mapping: no gateway mapped UDP port %u (%s); next try in %llu s",
				 pm->o.internal_port, rc == -ENETUNREACH ? "no default route" : "no answer",
				 (unsigned long long)backoff_s);
			publish(pm, &none);
			if (wait_stop(pm, backoff_s * 1000u))
				break;
			backoff_s = backoff_s * 2 > PORTMAP_RETRY_MAX_S ? PORTMAP_RETRY_MAX_S : backoff_s * 2;
			continue;
		}
		backoff_s = PORTMAP_RETRY_MIN_S;
		/* Hold: renew at half the lifetime (a permanent UPnP lease is
		 * checked every half of our own asked lifetime). */
		for (;;) {
			uint32_t life = pm->m.lifetime_s ? pm->m.lifetime_s : pm->o.lifetime_s;
			if (life < PORTMAP_MIN_RENEW_S)
				life = PORTMAP_MIN_RENEW_S;
			if (wait_stop(pm, (uint64_t)life * 1000u / 2))
				goto out;
			if (renew(pm) < 0) {
				core_log(CORE_LOG_INFO, "port mapping: renewal by %s failed; asking the gateway again",
					 portmap_proto_name(pm->held));
				break;
			}
			core_log(CORE_LOG_DEBUG, "%s: mapping renewed for %u s", portmap_proto_name(pm->held), pm->m.lifetime_s);
			publish(pm, &pm->m);
		}
	}
out:
	delete_all(pm);
	release_all(pm);
	return NULL;
}

struct portmap *portmap_start(const struct portmap_opts *o, int *err)
{
	if (!o->internal_port) {
		*err = -EINVAL;
		return NULL;
	}
	struct portmap *pm = calloc(1, sizeof *pm);
	if (!pm) {
		*err = -ENOMEM;
		return NULL;
	}
	pm->o = *o;
	if (!pm->o.protos)
		pm->o.protos = PORTMAP_ALL;
	if (!pm->o.lifetime_s)
		pm->o.lifetime_s = PORTMAP_LIFETIME_S;
	if (!pm->o.attempt_ms)
		pm->o.attempt_ms = PORTMAP_ATTEMPT_MS;
	pm->pcp.fd = -1;
	pm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int e = 0;
	if (pm->stop_fd < 0)
		e = -errno;
	else if ((e = pthread_create(&pm->th, NULL, run, pm)) != 0)
		e = -e;
	if (e) {
		*err = e;
		portmap_stop(pm);
		return NULL;
	}
	pm->started = true;
	return pm;
}

void portmap_stop_begin(struct portmap *pm)
{
	uint64_t one = 1;
	if (pm && pm->started)
		(void)!write(pm->stop_fd, &one, sizeof one);
}

void portmap_stop(struct portmap *pm)
{
	if (!pm)
		return;
	if (pm->started) {
		portmap_stop_begin(pm);
		pthread_join(pm->th, NULL);
	}
	if (pm->stop_fd >= 0)
		close(pm->stop_fd);
	free(pm);
}
