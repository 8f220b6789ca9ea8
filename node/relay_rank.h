#ifndef NODE_RELAY_RANK_H
#define NODE_RELAY_RANK_H
/* node/relay_rank.h: which relay carries a peer's relayed traffic, by
 * measured round-trip time. Pure functions over numbers, tested without
 * sockets; node/relay_rtt.c measures (a probe over each relay link, answered
 * by the peer on the same link: the RTT of the whole relayed path) and
 * node/path.c applies the choice.
 *
 * Design: each link keeps an EWMA of its probe RTTs (alpha 1/4, the first
 * sample taken as is) and its latest sample. A relay in use is left for
 * another only when that one beats it by both NODE_RANK_MARGIN_PCT and
 * NODE_RANK_MARGIN_MS on NODE_RANK_ROUNDS fresh samples in a row, comparing
 * the challenger's worse of (EWMA, latest) against the current one's better
 * of the two: jitter (a few ms on loopback or a LAN) and a single slow
 * sample, which lifts an EWMA for several rounds, never move traffic back
 * and forth. A lost probe is no sample (it does not count as slow).
 * Cost: one more probe round trip of latency is never paid; a real
 * improvement is taken after ~3 probe intervals (6 s on the relay path). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NODE_RANK_ALPHA 0.25            /* EWMA weight of a new sample */
#define NODE_RANK_MARGIN_PCT 20.0       /* a challenger is faster by at least this share... */
#define NODE_RANK_MARGIN_MS 5.0         /* ...and by at least this much */
#define NODE_RANK_ROUNDS 3              /* fresh winning samples in a row before a switch */

/* One link's measured RTT. Zeroed: no sample yet. */
struct node_rtt {
	double ewma_ms;
	double last_ms;
	uint32_t samples;
};

/* node_rtt_add folds a sample (ms, >= 0) into r. Cannot fail. */
void node_rtt_add(struct node_rtt *r, double ms);

/* A candidate relay link of one peer, as node_rank_* sees it. */
struct node_rank_cand {
	bool usable;            /* paired and not passed over as silent */
	double rtt_ms;          /* the EWMA; meaningful only when samples > 0 */
	double last_ms;         /* the latest sample (0 when unknown: the EWMA alone counts) */
	uint32_t samples;
	size_t order;           /* its place in the mesh's relay order (ties) */
};

/* node_rank_prefer says whether a is a better pick than b when nothing is
 * kept (no link in use, or it failed): usable first, then a measured RTT
 * over none, then the lower RTT, then the lower order. Equal: false. */
bool node_rank_prefer(const struct node_rank_cand *a, const struct node_rank_cand *b);

/* node_rank_beats says whether a challenger's RTT beats the current one's by
 * the margin: faster by NODE_RANK_MARGIN_PCT percent and by NODE_RANK_MARGIN_MS. */
bool node_rank_beats(double cur_ms, double cand_ms);

/* Hysteresis state of one peer's choice. Zeroed: nothing pending. */
struct node_rank_hyst {
	size_t cur;             /* the index it last answered */
	size_t cand;            /* the challenger being counted (valid when streak > 0) */
	uint32_t cand_samples;  /* the challenger's sample count at its last counted round */
	unsigned streak;
};

/* node_rank_step returns the index of c (n entries) that should carry the
 * traffic, given cur, the one in use (n: none). A usable cur is kept unless
 * the best measured challenger beat it (node_rank_beats, the challenger's
 * max(EWMA, latest) against cur's min(EWMA, latest)) on NODE_RANK_ROUNDS
 * of its fresh samples in a row (a round without a new sample neither counts
 * nor breaks the streak; a round where it does not win does). An unusable or
 * missing cur gives the best by node_rank_prefer at once. Returns n when no
 * entry is usable. Updates h; cannot fail. */
size_t node_rank_step(struct node_rank_hyst *h, const struct node_rank_cand *c, size_t n, size_t cur);

#endif
