#include "bench/proc.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_proc_ticks(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: fields resume after its ')'. */
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return ut + st;
}

uint64_t bench_proc_cpu_ns(int pid)
{
	char path[96];
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	uint64_t sum = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%d/task/%.16s/schedstat", pid, e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue; /* the thread exited */
		unsigned long long ns;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(d);
	return sum;
}

long bench_proc_rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	if (pid)
		snprintf(path, sizeof path, "/proc/%d/status", pid);
	else
		snprintf(path, sizeof path, "/proc/self/status");
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

void bench_cpu_model(char *out, size_t out_len)
{
	char line[512];
	snprintf(out, out_len, "unknown");
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) || !colon)
			continue;
		colon += 1 + (colon[1] == ' ');
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(out, out_len, "%s", colon);
		break;
	}
	fclose(f);
}

uint64_t bench_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_cpu_ticks_read(struct bench_cpu_ticks *t)
{
	unsigned long long v[8] = {0};
	memset(t, 0, sizeof *t);
	FILE *f = fopen("/proc/stat", "r");
	if (f) {
		if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			   &v[6], &v[7]) == 8) {
			t->busy = v[0] + v[1] + v[2];
			t->steal = v[7];
			for (int i = 0; i < 8; i++)
				t->total += v[i];
		}
		fclose(f);
	}
	t->ours_ns = bench_cpu_ns();
	t->wall_ns = bench_mono_ns();
}

void bench_cpu_ticks_other(const struct bench_cpu_ticks *a, const struct bench_cpu_ticks *b, double *out_other,
			   double *out_steal)
{
	*out_other = *out_steal = NAN;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (b->total <= a->total || ncpu < 1 || b->wall_ns <= a->wall_ns)
		return;
	double total = (double)(b->total - a->total);
	double ours = (double)(b->ours_ns - a->ours_ns) / ((double)(b->wall_ns - a->wall_ns) * (double)ncpu);
	double other = (double)(b->busy - a->busy) / total - ours;
	*out_other = other > 0.0 ? other : 0.0;
	*out_steal = (double)(b->steal - a->steal) / total;
}
