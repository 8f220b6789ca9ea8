/* bench/think.c: think time (see bench/think.h). */
#include "bench/think.h"

/* Keeps the think stream apart from the size stream of the same session
 * (bench_size_rng_seed(seed, k)), so adding --think leaves the sizes as they
 * were. */
#define THINK_SALT 0x7468696e6b000000ull /* "think" */

int bench_think_parse(const char *s, struct bench_size_dist *out, char *errbuf, size_t errbuf_len)
{
	return bench_ms_dist_parse(s, 0, BENCH_THINK_MAX_MS, out, errbuf, errbuf_len);
}

bool bench_think_on(const struct bench_size_dist *d)
{
	return d->num && bench_size_dist_max(d) > 0;
}

void bench_think_init(struct bench_think_state *st, uint64_t seed, uint64_t k)
{
	*st = (struct bench_think_state){.rng = bench_size_rng_seed(seed ^ THINK_SALT, k)};
}

bool bench_think_take(const struct bench_size_dist *d, struct bench_think_state *st, uint64_t sched_ns)
{
	if (st->armed) {
		/* The slot the session would have sent next: the pause starts here. */
		st->armed = false;
		st->resume_ns = sched_ns + (uint64_t)bench_size_dist_sample(d, &st->rng) * 1000000u;
	}
	if (sched_ns < st->resume_ns)
		return false;
	st->armed = true;
	return true;
}

double bench_think_mean_ms(const struct bench_size_dist *d)
{
	return d->num ? bench_size_dist_mean(d) : 0;
}
