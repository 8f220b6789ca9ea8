#ifndef BENCH_PLACEMENT_H
#define BENCH_PLACEMENT_H
/* bench/placement.h: which CPUs a bench's servers and its client run on.
 * With two or more CPUs allowed, servers go on the first and the client on
 * the second, so the two never share a core; with one, nothing is pinned. */
#include <pthread.h>

/* struct bench_placement: CPU numbers, -1 where nothing is pinned. */
struct bench_placement {
	int server_cpu, client_cpu;
};

/* bench_placement_pick returns the placement for this process's allowed
 * CPUs (both -1 when there is only one, or the mask is unreadable). */
struct bench_placement bench_placement_pick(void);

/* bench_pin_self pins the calling thread to cpu; nothing when cpu < 0. */
void bench_pin_self(int cpu);

/* bench_spawn_pinned starts fn(arg) on a thread born on cpu (-1: anywhere).
 * Returns 0 or -errno. */
int bench_spawn_pinned(pthread_t *out, void *(*fn)(void *), void *arg, int cpu);

#endif
