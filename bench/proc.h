#ifndef BENCH_PROC_H
#define BENCH_PROC_H
/* bench/proc.h: what the benches read about processes and the machine from
 * /proc. Each returns a sentinel when the file cannot be read. */
#include <stddef.h>
#include <stdint.h>

/* bench_proc_ticks returns utime + stime of pid in clock ticks, 0 when
 * unreadable. */
uint64_t bench_proc_ticks(int pid);

/* bench_proc_cpu_ns returns the CPU time of all of pid's threads in
 * nanoseconds (the first field of each /proc/PID/task/TID/schedstat): to
 * the ns where bench_proc_ticks counts 10 ms ticks, for phases too short
 * for ticks (a set-up of 2,000 sessions takes about 0.2 s). 0 when
 * unreadable (no such process, or a kernel without schedstats). Threads
 * that exited between two reads are not in the second. */
uint64_t bench_proc_cpu_ns(int pid);

/* bench_proc_rss_kib returns VmRSS of pid in KiB (pid 0: this process), -1
 * when unreadable. */
long bench_proc_rss_kib(int pid);

/* bench_mono_ns: CLOCK_MONOTONIC; bench_cpu_ns: this process's CPU time
 * (CLOCK_PROCESS_CPUTIME_ID); both in nanoseconds. */
uint64_t bench_mono_ns(void);
uint64_t bench_cpu_ns(void);

/* bench_thread_cpu_ns: the calling thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID) in nanoseconds. */
uint64_t bench_thread_cpu_ns(void);

/* struct bench_cpu_ticks: the machine's CPU time from /proc/stat (USER_HZ
 * ticks) beside this process's. busy is user, nice and system only:
 * irq/softirq time may or may not be charged to the task that raised it,
 * and leaving it out keeps "busy - ours" from blaming our own loopback
 * softirqs on someone else. */
struct bench_cpu_ticks {
	uint64_t busy, steal, total;
	uint64_t ours_ns;       /* this process's CPU time */
	uint64_t wall_ns;
};

/* bench_cpu_ticks_read fills t now (the /proc/stat fields stay 0 when it
 * is unreadable). */
void bench_cpu_ticks_read(struct bench_cpu_ticks *t);

/* bench_cpu_ticks_other writes the share of the machine (all CPUs) other
 * processes kept busy between a and b, and the share stolen by the
 * hypervisor; NAN both when /proc/stat was unreadable. */
void bench_cpu_ticks_other(const struct bench_cpu_ticks *a, const struct bench_cpu_ticks *b, double *out_other,
			   double *out_steal);

/* bench_cpu_model writes the first "model name" of /proc/cpuinfo, or
 * "unknown". */
void bench_cpu_model(char *out, size_t out_len);

#endif
