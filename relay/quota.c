/* Quotas: the token bucket (relay/quota.h), the rate limits' throttle
 * (a connection over its rate is not read until its buckets refill: TCP
 * slows the sender, nothing is dropped), the relay-wide byte budget, and
 * their metrics. */
#include "relay/quota.h"

#include "relay/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

void relay_quota_init(struct relay_server *srv)
{
	struct relay_quota *q = &srv->q;
	relay_limit_init(&q->session, srv->o.session_rate, srv->o.session_burst);
	relay_limit_init(&q->ip, srv->o.ip_rate, srv->o.ip_burst);
	q->on = srv->o.session_rate || srv->o.ip_rate;
	q->budget = srv->o.budget_bytes;
	q->period_ns = srv->o.budget_period_s * NS_PER_S;
	pthread_mutex_init(&q->budget_lock, NULL);
	q->period_start_ns = core_now_ns();
	q->base_bytes = 0;
}

void relay_quota_cleanup(struct relay_server *srv)
{
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
 * returns the bytes used in the current one. */
static uint64_t budget_used_locked(struct relay_server *srv, uint64_t now)
{
	struct relay_quota *q = &srv->q;
	uint64_t total = relayed_bytes(srv);
	if (now - q->period_start_ns >= q->period_ns) {
		q->period_start_ns += (now - q->period_start_ns) / q->period_ns * q->period_ns;
		q->base_bytes = total;
		if (q->exhausted) {
			q->exhausted = false;
			core_log(CORE_LOG_INFO, "relay: a new byte budget period began: accepting new sessions again");
		}
	}
	return total - q->base_bytes;
}

bool relay_budget_admit(struct relay_server *srv)
{
	struct relay_quota *q = &srv->q;
	if (!q->budget)
		return true;
	uint64_t now = core_now_ns();
	pthread_mutex_lock(&q->budget_lock);
	uint64_t used = budget_used_locked(srv, now);
	bool ok = used < q->budget;
	if (!ok && !q->exhausted) {
		q->exhausted = true;
		uint64_t left_s = (q->period_start_ns + q->period_ns - now) / NS_PER_S;
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

void relay_quota_stats(const struct relay_server *srv, struct relay_stats *out)
{
	struct relay_quota *q = (struct relay_quota *)&srv->q;
	out->throttled_now = atomic_load_explicit(&q->throttled_now, memory_order_relaxed);
	out->throttles = atomic_load_explicit(&q->throttles, memory_order_relaxed);
	out->throttled_ms = atomic_load_explicit(&q->throttled_ns, memory_order_relaxed) / 1000000u;
	out->rejected_budget = atomic_load_explicit(&q->refused_budget, memory_order_relaxed);
	out->budget_bytes = q->budget;
	if (q->budget) {
		uint64_t now = core_now_ns();
		pthread_mutex_lock(&q->budget_lock);
		out->budget_used = budget_used_locked((struct relay_server *)srv, now);
		out->budget_reset_s = (q->period_start_ns + q->period_ns - now + NS_PER_S - 1) / NS_PER_S;
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
		"atmosphere_relay_budget_refused_total %" PRIu64 "\n",
		st->throttled_now, st->throttles, st->throttled_ms / 1000u, st->throttled_ms % 1000u, st->budget_bytes,
		st->budget_used, left, st->budget_reset_s, st->rejected_budget);
	return n < 0 ? 0 : (size_t)n >= cap ? (int)cap - 1 : n;
}
