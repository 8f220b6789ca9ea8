/* relay/hist.c: see hist.h. */
#include "relay/hist.h"

#include <inttypes.h>
#include <stdio.h>

#define US 1000ull
#define MS 1000000ull
#define S 1000000000ull

const struct relay_hist_bounds relay_hist_forward_bounds = {
	.num = 14,
	.ns = {10 * US, 25 * US, 50 * US, 100 * US, 250 * US, 500 * US, 1 * MS, 2500 * US, 5 * MS, 10 * MS, 25 * MS,
	       100 * MS, 250 * MS, 1 * S},
};

const struct relay_hist_bounds relay_hist_pairing_bounds = {
	.num = 12,
	.ns = {1 * MS, 10 * MS, 50 * MS, 100 * MS, 500 * MS, 1 * S, 5 * S, 10 * S, 30 * S, 60 * S, 300 * S, 600 * S},
};

void relay_hist_observe(struct relay_hist *h, const struct relay_hist_bounds *b, uint64_t ns)
{
	unsigned i = 0;
	while (i < b->num && ns > b->ns[i])
		i++;
	/* One writer: load and store, no read-modify-write on the bus. */
	atomic_store_explicit(&h->n[i], atomic_load_explicit(&h->n[i], memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&h->sum_ns, atomic_load_explicit(&h->sum_ns, memory_order_relaxed) + ns,
			      memory_order_relaxed);
}

void relay_hist_add_to(const struct relay_hist *h, struct relay_hist_snap *out)
{
	for (unsigned i = 0; i <= RELAY_HIST_MAX_BOUNDS; i++) {
		uint64_t v = atomic_load_explicit(&h->n[i], memory_order_relaxed);
		out->n[i] += v;
		out->count += v;
	}
	out->sum_ns += atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
}

/* ns as seconds, exactly ("0.00001", "2.5", "600"): no float rounding. */
static void secs(char *b, size_t cap, uint64_t ns)
{
	uint64_t whole = ns / S, frac = ns % S;
	if (!frac) {
		snprintf(b, cap, "%" PRIu64, whole);
		return;
	}
	int digits = 9;
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	snprintf(b, cap, "%" PRIu64 ".%0*" PRIu64, whole, digits, frac);
}

int relay_hist_prom(char *out, size_t cap, const char *name, const char *help, const struct relay_hist_bounds *b,
		    const struct relay_hist_snap *s)
{
	size_t n = 0;
	int m = snprintf(out, cap, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	if (m < 0)
		return -1;
	n += (size_t)m;
	uint64_t cum = 0;
	for (unsigned i = 0; i <= b->num; i++) {
		char le[32];
		cum += s->n[i];
		if (i < b->num)
			secs(le, sizeof le, b->ns[i]);
		else
			snprintf(le, sizeof le, "+Inf");
		m = snprintf(out + (n < cap ? n : cap), n < cap ? cap - n : 0, "%s_bucket{le=\"%s\"} %" PRIu64 "\n",
			     name, le, cum);
		if (m < 0)
			return -1;
		n += (size_t)m;
	}
	char sum[32];
	secs(sum, sizeof sum, s->sum_ns);
	m = snprintf(out + (n < cap ? n : cap), n < cap ? cap - n : 0, "%s_sum %s\n%s_count %" PRIu64 "\n", name, sum,
		     name, cum);
	if (m < 0)
		return -1;
	n += (size_t)m;
	return n > INT32_MAX ? -1 : (int)n;
}
