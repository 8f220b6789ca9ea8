/* CPU placement of a bench's threads: see bench/placement.h. */
#include "bench/placement.h"

#include <sched.h>

struct bench_placement bench_placement_pick(void)
{
	struct bench_placement p = {-1, -1};
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return p;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		if (p.server_cpu < 0) {
			p.server_cpu = c;
		} else {
			p.client_cpu = c;
			break;
		}
	}
	if (p.client_cpu < 0)
		p.server_cpu = -1; /* one CPU: both sides share it, unpinned */
	return p;
}

void bench_pin_self(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

int bench_spawn_pinned(pthread_t *out, void *(*fn)(void *), void *arg, int cpu)
{
	pthread_attr_t attr;
	int rc = pthread_attr_init(&attr);
	if (rc)
		return -rc;
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		pthread_attr_setaffinity_np(&attr, sizeof set, &set);
	}
	rc = pthread_create(out, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return -rc;
}
