#ifndef RELAY_HIST_H
#define RELAY_HIST_H
/* relay/hist.h: the relay's own latency histograms for /metrics.
 *
 * A histogram has fixed bucket bounds (ns, ascending) and one owner: the
 * reactor thread that observes into it. relay_hist_observe is two plain
 * stores with no lock prefix (each counter has one writer); another thread
 * reads them with relay_hist_add_to, which may see an observation's count
 * before its sum, never a torn counter. /metrics merges the threads'
 * histograms into one and prints it in Prometheus' histogram form
 * (cumulative `_bucket{le=...}`, `_sum` in seconds, `_count`).
 *
 * No allocation, no I/O but relay_hist_prom's snprintf into the caller's
 * buffer. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_HIST_MAX_BOUNDS 15

struct relay_hist_bounds {
	unsigned num;                           /* 1..RELAY_HIST_MAX_BOUNDS */
	uint64_t ns[RELAY_HIST_MAX_BOUNDS];     /* upper bounds, ascending */
};

/* Forward latency (10 µs .. 1 s) and pairing wait (1 ms .. 10 min). */
extern const struct relay_hist_bounds relay_hist_forward_bounds;
extern const struct relay_hist_bounds relay_hist_pairing_bounds;

struct relay_hist {
	/* n[i]: observations in (bounds[i-1], bounds[i]]; n[num]: above the
	 * last bound (+Inf). Not cumulative here. */
	_Atomic uint64_t n[RELAY_HIST_MAX_BOUNDS + 1];
	_Atomic uint64_t sum_ns;
};

/* A merged copy, as /metrics prints it. */
struct relay_hist_snap {
	uint64_t n[RELAY_HIST_MAX_BOUNDS + 1];
	uint64_t sum_ns, count;
};

/* relay_hist_observe counts one value. Only h's owner thread may call it. */
void relay_hist_observe(struct relay_hist *h, const struct relay_hist_bounds *b, uint64_t ns);

/* relay_hist_add_to adds h's counts into *out (any thread). */
void relay_hist_add_to(const struct relay_hist *h, struct relay_hist_snap *out);

/* relay_hist_prom writes the Prometheus text of s (name without suffixes,
 * a HELP line, le in seconds). Returns the length snprintf would have
 * written (>= cap: truncated), or -1. */
int relay_hist_prom(char *out, size_t cap, const char *name, const char *help, const struct relay_hist_bounds *b,
		    const struct relay_hist_snap *s);

#endif
