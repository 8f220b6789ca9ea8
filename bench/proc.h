#ifndef BENCH_PROC_H
#define BENCH_PROC_H
/* bench/proc.h: what the benches read about processes and the machine from
 * /proc. Each returns a sentinel when the file cannot be read. */
#include <stddef.h>
#include <stdint.h>

/* bench_proc_ticks returns utime + stime of pid in clock ticks, 0 when
 * unreadable. */
uint64_t bench_proc_ticks(int pid);

/* bench_proc_rss_kib returns VmRSS of pid in KiB (pid 0: this process), -1
 * when unreadable. */
long bench_proc_rss_kib(int pid);

/* bench_mono_ns: CLOCK_MONOTONIC; bench_cpu_ns: this process's CPU time
 * (CLOCK_PROCESS_CPUTIME_ID); both in nanoseconds. */
uint64_t bench_mono_ns(void);
uint64_t bench_cpu_ns(void);

/* bench_cpu_model writes the first "model name" of /proc/cpuinfo, or
 * "unknown". */
void bench_cpu_model(char *out, size_t out_len);

#endif
