#ifndef BENCH_FAIRNESS_H
#define BENCH_FAIRNESS_H
/* bench/fairness.h: how evenly a throughput run served its sessions (issue
 * 13), from what each session delivered in the measured window.
 *
 * Jain's fairness index J = (sum x)^2 / (n * sum x^2) is 1 when every session
 * delivered the same, 1/n when one session delivered everything, and k/n
 * when k sessions shared it equally and the rest got nothing; it does not
 * depend on the unit. The minimum and the 10th percentile (nearest-rank, as
 * bench/stats.h) show the starved tail that a mean hides.
 *
 * Pure arithmetic: nothing here allocates, locks or does I/O. */
#include <stddef.h>
#include <stdint.h>

struct bench_fairness {
	size_t num;         /* sessions counted */
	double jain;        /* in [1/num, 1]; NAN when num is 0 or nothing was delivered */
	uint64_t min, p10;  /* per-session amounts; 0 when num is 0 */
	uint64_t max;
	double mean;        /* 0 when num is 0 */
};

/* bench_fairness_jain returns Jain's index of x[0..num): NAN when num is 0
 * or every x is 0 (no share to compare), else a value in [1/num, 1]. */
double bench_fairness_jain(const uint64_t *x, size_t num);

/* bench_fairness_of fills out from x[0..num) (bytes, messages: any unit),
 * sorting x ascending in place for the percentile. */
void bench_fairness_of(uint64_t *x, size_t num, struct bench_fairness *out);

#endif
