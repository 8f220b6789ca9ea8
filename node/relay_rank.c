/* node/relay_rank.c: relay ranking by RTT with hysteresis (node/relay_rank.h). */
#include "node/relay_rank.h"

void node_rtt_add(struct node_rtt *r, double ms)
{
	if (ms < 0)
		ms = 0;
	r->ewma_ms = r->samples ? r->ewma_ms + NODE_RANK_ALPHA * (ms - r->ewma_ms) : ms;
	r->last_ms = ms;
	if (r->samples < UINT32_MAX)
		r->samples++;
}

bool node_rank_prefer(const struct node_rank_cand *a, const struct node_rank_cand *b)
{
	if (a->usable != b->usable)
		return a->usable;
	if ((a->samples > 0) != (b->samples > 0))
		return a->samples > 0;
	if (a->samples && b->samples && a->rtt_ms != b->rtt_ms)
		return a->rtt_ms < b->rtt_ms;
	return a->order < b->order;
}

bool node_rank_beats(double cur_ms, double cand_ms)
{
	return cand_ms <= cur_ms * (1.0 - NODE_RANK_MARGIN_PCT / 100.0) && cur_ms - cand_ms >= NODE_RANK_MARGIN_MS;
}

/* The figure a current relay defends with (the better of its EWMA and its
 * latest sample) and the one a challenger attacks with (the worse). */
static double defends(const struct node_rank_cand *c)
{
	return c->last_ms > 0 && c->last_ms < c->rtt_ms ? c->last_ms : c->rtt_ms;
}

static double attacks(const struct node_rank_cand *c)
{
	return c->last_ms > c->rtt_ms ? c->last_ms : c->rtt_ms;
}

static size_t pick_best(const struct node_rank_cand *c, size_t n)
{
	size_t best = n;
	for (size_t i = 0; i < n; i++)
		if (c[i].usable && (best == n || node_rank_prefer(&c[i], &c[best])))
			best = i;
	return best;
}

size_t node_rank_step(struct node_rank_hyst *h, const struct node_rank_cand *c, size_t n, size_t cur)
{
	if (cur >= n || !c[cur].usable) {
		h->streak = 0;
		return h->cur = pick_best(c, n);
	}
	if (cur != h->cur) /* moved by someone else (a failover): count afresh */
		h->streak = 0;
	h->cur = cur;
	/* The best measured challenger (ties: the mesh's order). */
	size_t b = n;
	for (size_t i = 0; i < n; i++)
		if (i != cur && c[i].usable && c[i].samples &&
		    (b == n || c[i].rtt_ms < c[b].rtt_ms || (c[i].rtt_ms == c[b].rtt_ms && c[i].order < c[b].order)))
			b = i;
	if (b == n || !c[cur].samples || !node_rank_beats(defends(&c[cur]), attacks(&c[b]))) {
		h->streak = 0;
		return cur;
	}
	if (!h->streak || h->cand != b) {
		h->cand = b;
		h->cand_samples = c[b].samples;
		h->streak = 1;
	} else if (c[b].samples != h->cand_samples) {
		h->cand_samples = c[b].samples;
		h->streak++;
	}
	if (h->streak < NODE_RANK_ROUNDS)
		return cur;
	h->streak = 0;
	return h->cur = b;
}
