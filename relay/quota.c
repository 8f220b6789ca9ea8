/* Quotas: the token bucket (relay/quota.h), the rate limits' throttle
 * (a connection over its rate is not read until its buckets refill: TCP
 * slows the sender, nothing is dropped), the relay-wide byte budget, and
 * their metrics. */
#include "relay/quota.h"

#include "relay/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

/* ---- the bucket ---- */

/* 128-bit products keep n * 1e9 / rate exact for every 64-bit n and rate. */
__extension__ typedef unsigned __int128 u128;

#define NS_PER_S 1000000000u
/* Sums are taken in 128 bits and clamped here: a bucket this deep in debt
 * waits about 580 years, which is "forever" without a wrap. */
#define TAT_MAX UINT64_MAX

static uint64_t sat(u128 v) { return v > TAT_MAX ? TAT_MAX : (uint64_t)v; }

void relay_limit_init(struct relay_limit *l, uint64_t rate, uint64_t burst)
{
	l->rate = rate;
	l->burst_ns = rate ? sat((u128)(burst ? burst : rate) * NS_PER_S / rate) : 0;
}

uint64_t relay_bucket_charge(uint64_t tat, const struct relay_limit *l, uint64_t now, uint64_t bytes)
{
	if (!l->rate)
		return tat;
	/* A tat in the past is a full bucket: the gap refills it to the
	 * burst, no further. Time going backwards leaves tat where it is. */
	uint64_t from = tat > now ? tat : now;
	return sat((u128)from + (u128)bytes * NS_PER_S / l->rate);
}

uint64_t relay_bucket_wait_ns(uint64_t tat, const struct relay_limit *l, uint64_t now)
{
	if (!l->rate)
		return 0;
	uint64_t free_at = sat((u128)now + l->burst_ns);
	return tat > free_at ? tat - free_at : 0;
}

uint64_t relay_bucket_tokens(uint64_t tat, const struct relay_limit *l, uint64_t now)
{
	if (!l->rate)
		return UINT64_MAX;
	uint64_t lead = tat > now ? tat - now : 0; /* time the debt and the bytes taken take to refill */
	if (lead >= l->burst_ns)
		return 0;
	return (uint64_t)((u128)(l->burst_ns - lead) * l->rate / NS_PER_S);
}

/* ---- set-up ---- */

/* The byte budget's period containing now (UNIX s). */
static void budget_period_at(const struct relay_server *srv, int64_t now, struct relay_budget_period *out)
{
	const struct relay_opts *o = &srv->o;
	int r = o->budget_monthly ? relay_budget_monthly(out, now, o->budget_start_day ? o->budget_start_day : 1)
				  : relay_budget_fixed(out, now, o->budget_period_s);
	if (r != 0) /* a clock outside 1970..9999: one period of "forever" */
		*out = (struct relay_budget_period){0, RELAY_BUDGET_TIME_MAX + 1};
}

static int64_t wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

void relay_quota_init(struct relay_server *srv)
{
	struct relay_quota *q = &srv->q;
	relay_limit_init(&q->session, srv->o.session_rate, srv->o.session_burst);
	relay_limit_init(&q->ip, srv->o.ip_rate, srv->o.ip_burst);
	q->on = srv->o.session_rate || srv->o.ip_rate;
	q->budget = srv->o.budget_bytes;
	pthread_mutex_init(&q->budget_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->saver_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (q->budget && (srv->o.budget_monthly || srv->o.budget_period_s))
		budget_period_at(srv, wall_now(), &q->period);
	q->carried = 0;
	q->base_bytes = 0;
}

void relay_quota_cleanup(struct relay_server *srv)
{
	relay_budget_saver_stop(srv);
	pthread_cond_destroy(&srv->q.saver_cond);
	pthread_mutex_destroy(&srv->q.budget_lock);
}

/* ---- rate limits ---- */

void relay_quota_charge(struct relay_conn *c, uint64_t bytes)
{
	struct relay_quota *q = &c->th->srv->q;
	uint64_t now = core_now_ns();
	if (q->session.rate)
		c->q_tat = relay_bucket_charge(c->q_tat, &q->session, now, bytes);
	if (c->q_ip) {
		/* Shared by every connection of the address, on any reactor:
		 * one compare-and-swap, retried only when another charged it
		 * meanwhile. */
		uint64_t old = atomic_load_explicit(&c->q_ip->tat, memory_order_relaxed);
		while (!atomic_compare_exchange_weak_explicit(&c->q_ip->tat, &old,
							      relay_bucket_charge(old, &q->ip, now, bytes),
							      memory_order_relaxed, memory_order_relaxed))
			;
	}
}

uint64_t relay_quota_wait_ns(const struct relay_conn *c, uint64_t now)
{
	const struct relay_quota *q = &c->th->srv->q;
	uint64_t w = relay_bucket_wait_ns(c->q_tat, &q->session, now);
	if (c->q_ip) {
		uint64_t wi = relay_bucket_wait_ns(atomic_load_explicit(&c->q_ip->tat, memory_order_relaxed), &q->ip, now);
		if (wi > w)
			w = wi;
	}
	return w;
}

int relay_quota_throttle(struct relay_conn *c, uint64_t wait_ns, size_t held)
{
	struct relay_server *srv = c->th->srv;
	struct relay_quota *q = &srv->q;
	uint64_t start = core_now_ns();
	uint64_t ms = (wait_ns + 999999u) / 1000000u;
	int r = 0;

	atomic_fetch_add_explicit(&q->throttles, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&q->throttled_now, 1, memory_order_relaxed);
	/* A client held back is sending, not idle. */
	c->sess->last_msg_ns = start;
	if (ms < RELAY_QUOTA_PAUSE_MS || atomic_load(&srv->stuck_bytes) >= srv->o.stuck_total) {
		/* Short, or the heap for paused bytes is full: keep the receive
		 * (its queue stays within its 64 KiB mark, in ring buffers). */
		core_sleep((unsigned)(ms < UINT_MAX ? ms : UINT_MAX));
	} else if (net_stream_recv_pause(c->st) != 0) {
		r = -ENOMEM;
	} else {
		/* Long: the receive stops and what it had queued moves out of
		 * the ring, so throttled clients, however many, hold no ring
		 * buffer; TCP holds the rest and slows the sender. Those bytes
		 * (and what the caller holds) count against --stuck-total while
		 * they wait. A client that leaves meanwhile is still seen at
		 * once; stop and the peer's end interrupt the wait. */
		uint64_t kept = held + net_stream_kept_bytes(c->st);
		atomic_fetch_add(&srv->stuck_bytes, kept);
		if (ms > INT_MAX)
			ms = INT_MAX;
		if (net_stream_wait_hangup(c->st, (int)ms) == -EPIPE)
			r = -EPIPE;
		atomic_fetch_sub(&srv->stuck_bytes, kept);
	}
	atomic_fetch_add_explicit(&q->throttled_ns, core_now_ns() - start, memory_order_relaxed);
	atomic_fetch_sub_explicit(&q->throttled_now, 1, memory_order_relaxed);
	return r;
}

/* ---- the byte budget ---- */

static uint64_t relayed_bytes(const struct relay_server *srv)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < srv->o.threads; i++)
		n += atomic_load_explicit(&srv->th[i].bytes, memory_order_relaxed);
	return n;
}

/* Under budget_lock: starts a new period when the current one is over, and
 * returns the bytes used in the current one. Time going backwards keeps
 * the period (nothing is credited). */
static uint64_t budget_used_locked(struct relay_server *srv, int64_t now)
{
	struct relay_quota *q = &srv->q;
	uint64_t total = relayed_bytes(srv);
	if (now >= q->period.end) {
		budget_period_at(srv, now, &q->period);
		q->carried = 0;
		q->base_bytes = total;
		if (q->exhausted) {
			q->exhausted = false;
			core_log(CORE_LOG_INFO, "relay: a new byte budget period began: accepting new sessions again");
		}
	}
	uint64_t run = total - q->base_bytes; /* this run's share; a state file may carry up to UINT64_MAX */
	return q->carried > UINT64_MAX - run ? UINT64_MAX : q->carried + run;
}

bool relay_budget_admit(struct relay_server *srv)
{
	struct relay_quota *q = &srv->q;
	if (!q->budget)
		return true;
	int64_t now = wall_now();
	pthread_mutex_lock(&q->budget_lock);
	uint64_t used = budget_used_locked(srv, now);
	bool ok = used < q->budget;
	if (!ok && !q->exhausted) {
		q->exhausted = true;
		uint64_t left_s = (uint64_t)(q->period.end - now);
		core_log(CORE_LOG_WARN,
			 "relay: byte budget used up (%" PRIu64 " of %" PRIu64 " bytes this period): refusing new sessions "
			 "with 503 for the next %" PRIu64 " s, until the period ends; open sessions go on",
			 used, q->budget, left_s);
	}
	pthread_mutex_unlock(&q->budget_lock);
	if (!ok)
		atomic_fetch_add_explicit(&q->refused_budget, 1, memory_order_relaxed);
	return ok;
}

/* ---- the budget's state file (--budget-state) ---- */

/* How often the saver writes the count: a crash loses at most this much of
 * it (the bytes of about 10 s), and a write costs one small file and an
 * fsync. */
#define RELAY_BUDGET_SAVE_MS 10000

/* Writes the count to the state file: a temporary file beside it, synced,
 * then renamed over it, so the file is always the old count or the new one,
 * never a mix. 0, or -errno with what failed in why. */
static int budget_save(struct relay_server *srv, char *why, size_t why_len)
{
	struct relay_quota *q = &srv->q;
	const char *path = srv->o.budget_state;
	struct relay_budget_state st;
	char text[RELAY_BUDGET_STATE_MAX], tmp[4096];
	int fd = -1, r = 0;

	pthread_mutex_lock(&q->budget_lock);
	st.used = budget_used_locked(srv, wall_now());
	st.period = q->period;
	st.limit = q->budget;
	pthread_mutex_unlock(&q->budget_lock);
	int n = relay_budget_state_format(text, sizeof text, &st);
	if (n < 0 || snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		snprintf(why, why_len, "'%.300s': path too long", path);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(why, why_len, "cannot create '%.300s': %s", tmp, strerror(-r));
		goto out;
	}
	for (size_t off = 0; off < (size_t)n;) {
		ssize_t w = write(fd, text + off, (size_t)n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w < 0 ? -errno : -EIO;
			snprintf(why, why_len, "cannot write '%.300s': %s", tmp, strerror(-r));
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		r = -errno;
		snprintf(why, why_len, "cannot sync '%.300s': %s", tmp, strerror(-r));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = -errno;
		snprintf(why, why_len, "cannot write '%.300s': %s", tmp, strerror(-r));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		r = -errno;
		snprintf(why, why_len, "cannot rename '%.200s' to '%.200s': %s", tmp, path, strerror(-r));
	}
out:
	if (fd >= 0)
		close(fd);
	if (r != 0)
		unlink(tmp);
	return r;
}

int relay_budget_load(struct relay_server *srv, char *errbuf, size_t errlen)
{
	struct relay_quota *q = &srv->q;
	const char *path = srv->o.budget_state;
	uint8_t buf[RELAY_BUDGET_STATE_MAX + 1];
	size_t len = 0;
	char why[512];
	if (!q->budget || !path)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT) {
		int e = errno;
		snprintf(errbuf, errlen, "budget state '%.300s': cannot read it: %s", path, strerror(e));
		return -e;
	}
	if (fd >= 0) {
		ssize_t got = 0;
		while (len < sizeof buf && ((got = read(fd, buf + len, sizeof buf - len)) > 0 || (got < 0 && errno == EINTR)))
			if (got > 0)
				len += (size_t)got;
		int e = errno;
		close(fd);
		if (got < 0) {
			snprintf(errbuf, errlen, "budget state '%.300s': cannot read it: %s", path, strerror(e));
			return -e;
		}
		struct relay_budget_state st;
		unsigned line;
		int pr = relay_budget_state_parse(&st, &line, buf, len);
		if (pr != RELAY_BUDGET_OK) {
			char at[32] = "";
			if (line)
				snprintf(at, sizeof at, " line %u", line);
			/* Refused, not reset: a count silently back to 0 would let
			 * the relay spend the budget twice. */
			snprintf(errbuf, errlen,
				 "budget state '%.300s'%s: %s; not starting (restore the file, or move it away to start the "
				 "period's count from 0)",
				 path, at, relay_budget_strerror(pr));
			return -EINVAL;
		}
		pthread_mutex_lock(&q->budget_lock);
		if (st.period.end <= q->period.start) {
			core_log(CORE_LOG_INFO, "relay: budget state '%.300s': its period ended; a new one begins at 0 bytes", path);
		} else {
			/* This period, or one that overlaps it (the period's
			 * settings changed, or the clock went back): its bytes were
			 * spent, so they count. */
			q->carried = st.used;
			core_log(CORE_LOG_INFO, "relay: budget state '%.300s': %" PRIu64 " bytes already used this period", path,
				 st.used);
		}
		pthread_mutex_unlock(&q->budget_lock);
	} else {
		core_log(CORE_LOG_INFO, "relay: budget state '%.300s' does not exist yet: counting from 0", path);
	}
	int r = budget_save(srv, why, sizeof why);
	if (r != 0) {
		snprintf(errbuf, errlen, "budget state: %.400s", why);
		return r;
	}
	return 0;
}

static void *saver_main(void *arg)
{
	struct relay_server *srv = arg;
	struct relay_quota *q = &srv->q;
	char why[512];
	pthread_mutex_lock(&q->budget_lock);
	while (!q->saver_stop) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_sec += RELAY_BUDGET_SAVE_MS / 1000;
		pthread_cond_timedwait(&q->saver_cond, &q->budget_lock, &t);
		if (q->saver_stop)
			break;
		pthread_mutex_unlock(&q->budget_lock);
		int r = budget_save(srv, why, sizeof why);
		pthread_mutex_lock(&q->budget_lock);
		/* One line when saving starts failing and one when it works
		 * again, not one every 10 s. */
		if (r != 0 && !q->save_failing)
			core_log(CORE_LOG_WARN, "relay: budget state: %s (the count is kept in memory; retrying every %d s)", why,
				 RELAY_BUDGET_SAVE_MS / 1000);
		else if (r == 0 && q->save_failing)
			core_log(CORE_LOG_INFO, "relay: budget state saved again to '%.300s'", srv->o.budget_state);
		q->save_failing = r != 0;
	}
	pthread_mutex_unlock(&q->budget_lock);
	return NULL;
}

void relay_budget_saver_start(struct relay_server *srv)
{
	struct relay_quota *q = &srv->q;
	if (!q->budget || !srv->o.budget_state || q->saver_on)
		return;
	q->saver_stop = false;
	/* The thread takes no signal: SIGTERM, SIGINT and SIGHUP are the
	 * reactors' (core_rt), and one landing here would kill the relay. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&q->saver, NULL, saver_main, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		core_log(CORE_LOG_WARN, "relay: cannot start the budget state saver: %s (saved at exit only)", strerror(r));
	q->saver_on = r == 0;
}

void relay_budget_saver_stop(struct relay_server *srv)
{
	struct relay_quota *q = &srv->q;
	char why[512];
	if (!q->saver_on)
		return;
	pthread_mutex_lock(&q->budget_lock);
	q->saver_stop = true;
	pthread_cond_signal(&q->saver_cond);
	pthread_mutex_unlock(&q->budget_lock);
	pthread_join(q->saver, NULL);
	q->saver_on = false;
	if (budget_save(srv, why, sizeof why) != 0)
		core_log(CORE_LOG_ERR, "relay: budget state: %s: this run's count is lost", why);
}

int relay_quota_json(const struct relay_stats *st, char *b, size_t cap)
{
	char from[32], to[32];
	struct tm tm;
	time_t t;
	if (!st->budget_bytes) {
		int n = snprintf(b, cap, ", \"quota\": null");
		return n < 0 ? 0 : (size_t)n >= cap ? (int)cap - 1 : n;
	}
	t = (time_t)st->budget_period_start;
	strftime(from, sizeof from, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	t = (time_t)st->budget_period_end;
	strftime(to, sizeof to, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	uint64_t left = st->budget_used < st->budget_bytes ? st->budget_bytes - st->budget_used : 0;
	int n = snprintf(b, cap,
			 ", \"quota\": {\"limit\": %" PRIu64 ", \"used\": %" PRIu64 ", \"remaining\": %" PRIu64
			 ", \"period_start\": \"%s\", \"period_end\": \"%s\", \"period_start_unix\": %" PRId64
			 ", \"period_end_unix\": %" PRId64 ", \"refused\": %" PRIu64 "}",
			 st->budget_bytes, st->budget_used, left, from, to, st->budget_period_start, st->budget_period_end,
			 st->rejected_budget);
	return n < 0 ? 0 : (size_t)n >= cap ? (int)cap - 1 : n;
}

void relay_quota_stats(const struct relay_server *srv, struct relay_stats *out)
{
	struct relay_quota *q = (struct relay_quota *)&srv->q;
	out->throttled_now = atomic_load_explicit(&q->throttled_now, memory_order_relaxed);
	out->throttles = atomic_load_explicit(&q->throttles, memory_order_relaxed);
	out->throttled_ms = atomic_load_explicit(&q->throttled_ns, memory_order_relaxed) / 1000000u;
	out->rejected_budget = atomic_load_explicit(&q->refused_budget, memory_order_relaxed);
	out->budget_bytes = q->budget;
	if (q->budget) {
		int64_t now = wall_now();
		pthread_mutex_lock(&q->budget_lock);
		out->budget_used = budget_used_locked((struct relay_server *)srv, now);
		out->budget_period_start = q->period.start;
		out->budget_period_end = q->period.end;
		out->budget_reset_s = (uint64_t)(q->period.end - now);
		pthread_mutex_unlock(&q->budget_lock);
	}
}

int relay_quota_metrics(const struct relay_stats *st, char *b, size_t cap)
{
	uint64_t left = st->budget_used < st->budget_bytes ? st->budget_bytes - st->budget_used : 0;
	int n = snprintf(
		b, cap,
		"# HELP atmosphere_relay_throttled_connections Clients not read now because they are over a rate limit.\n"
		"# TYPE atmosphere_relay_throttled_connections gauge\n"
		"atmosphere_relay_throttled_connections %" PRIu64 "\n"
		"# HELP atmosphere_relay_throttles_total Times a client was held back by a rate limit.\n"
		"# TYPE atmosphere_relay_throttles_total counter\n"
		"atmosphere_relay_throttles_total %" PRIu64 "\n"
		"# HELP atmosphere_relay_throttled_seconds_total Time clients spent held back, summed over clients.\n"
		"# TYPE atmosphere_relay_throttled_seconds_total counter\n"
		"atmosphere_relay_throttled_seconds_total %" PRIu64 ".%03" PRIu64 "\n"
		"# HELP atmosphere_relay_budget_bytes Payload bytes the relay may relay per budget period (0: no budget).\n"
		"# TYPE atmosphere_relay_budget_bytes gauge\n"
		"atmosphere_relay_budget_bytes %" PRIu64 "\n"
		"# HELP atmosphere_relay_budget_used_bytes Payload bytes relayed in this budget period.\n"
		"# TYPE atmosphere_relay_budget_used_bytes gauge\n"
		"atmosphere_relay_budget_used_bytes %" PRIu64 "\n"
		"# HELP atmosphere_relay_budget_remaining_bytes Bytes left in this budget period.\n"
		"# TYPE atmosphere_relay_budget_remaining_bytes gauge\n"
		"atmosphere_relay_budget_remaining_bytes %" PRIu64 "\n"
		"# HELP atmosphere_relay_budget_reset_seconds Seconds until the next budget period.\n"
		"# TYPE atmosphere_relay_budget_reset_seconds gauge\n"
		"atmosphere_relay_budget_reset_seconds %" PRIu64 "\n"
		"# HELP atmosphere_relay_budget_refused_total New sessions refused (503) because the budget was used up.\n"
		"# TYPE atmosphere_relay_budget_refused_total counter\n"
		"atmosphere_relay_budget_refused_total %" PRIu64 "\n"
		"# HELP atmosphere_relay_budget_period_start_seconds When this budget period began (UNIX time, UTC).\n"
		"# TYPE atmosphere_relay_budget_period_start_seconds gauge\n"
		"atmosphere_relay_budget_period_start_seconds %" PRId64 "\n"
		"# HELP atmosphere_relay_budget_period_end_seconds When this budget period ends (UNIX time, UTC).\n"
		"# TYPE atmosphere_relay_budget_period_end_seconds gauge\n"
		"atmosphere_relay_budget_period_end_seconds %" PRId64 "\n",
		st->throttled_now, st->throttles, st->throttled_ms / 1000u, st->throttled_ms % 1000u, st->budget_bytes,
		st->budget_used, left, st->budget_reset_s, st->rejected_budget, st->budget_period_start,
		st->budget_period_end);
	return n < 0 ? 0 : (size_t)n >= cap ? (int)cap - 1 : n;
}
