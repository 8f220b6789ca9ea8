/* bench/sched.c: fixed-rate schedules (see bench/sched.h). */
#include "bench/sched.h"

#define NS_PER_S 1000000000ull

/* Products of a count and 10^9, or of a span and a rate, need more than 64
 * bits; the quotients do not (see the bounds in sched.h). */
__extension__ typedef unsigned __int128 u128;

uint64_t bench_sched_time(const struct bench_sched *s, uint64_t i)
{
	return s->start_ns + (uint64_t)((u128)i * NS_PER_S / s->rate);
}

uint64_t bench_sched_due(const struct bench_sched *s, uint64_t now_ns)
{
	if (now_ns < s->start_ns)
		return 0;
	/* time(i) <= d  <=>  floor(i * 1e9 / rate) <= d  <=>  i * 1e9 < (d + 1) * rate,
	 * so the count of such i is ceil((d + 1) * rate / 1e9). */
	u128 d = (u128)(now_ns - s->start_ns);
	return (uint64_t)(((d + 1) * s->rate + NS_PER_S - 1) / NS_PER_S);
}

uint64_t bench_sched_latency(uint64_t sched_ns, uint64_t arrival_ns)
{
	return arrival_ns > sched_ns ? arrival_ns - sched_ns : 0;
}
