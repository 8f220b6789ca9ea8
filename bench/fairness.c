/* Per-session fairness of a throughput run: see bench/fairness.h. */
#include "bench/fairness.h"

#include <math.h>

#include "bench/stats.h"

double bench_fairness_jain(const uint64_t *x, size_t num)
{
	/* Doubles: 5,000 sessions of 10^10 bytes square past uint64_t; the
	 * index needs only a few digits. */
	double sum = 0.0, sum_sq = 0.0;
	for (size_t i = 0; i < num; i++) {
		double v = (double)x[i];
		sum += v;
		sum_sq += v * v;
	}
	if (num == 0 || sum_sq == 0.0)
		return NAN;
	return sum * sum / ((double)num * sum_sq);
}

void bench_fairness_of(uint64_t *x, size_t num, struct bench_fairness *out)
{
	*out = (struct bench_fairness){.num = num, .jain = bench_fairness_jain(x, num)};
	if (num == 0)
		return;
	bench_sort_u64(x, num);
	out->min = x[0];
	out->max = x[num - 1];
	out->p10 = bench_percentile_sorted(x, num, 10.0);
	double sum = 0.0;
	for (size_t i = 0; i < num; i++)
		sum += (double)x[i];
	out->mean = sum / (double)num;
}
