/* atmosphere-bench worker: one generator host of a distributed run. Runs
 * the `relay` scenario given after "--" from a start time the coordinator
 * chose, and streams its interval rows (with their histograms), the
 * summary, the measured window's histogram and its exit status to stdout
 * in the frames of bench/coord_wire.h. Meant to be started by
 * `atmosphere-bench coord` over SSH; stdout is the wire, so nothing else
 * may write there.
 *
 * Design: the worker forks once before any thread exists; the child runs
 * `relay` itself (bench_cmd_relay) with --json on a memfd as stdout, its
 * stderr on another memfd, --hist-out on a third and --json-interval on a
 * pipe the parent reads line by line and frames as the rows come. So the
 * relay run is exactly `atmosphere-bench relay`'s, and the worker costs a
 * read and a write per interval. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/coord_wire.h"
#include "bench/relay_opts.h"
#include "opt/table.h"

#ifndef ATMOS_VERSION
#define ATMOS_VERSION "0.1.0"
#endif

#define CMD "worker"
/* The latest start time a coordinator may ask for: an hour from now. */
#define WORKER_START_AHEAD_MAX_NS (3600ull * 1000000000ull)

struct worker_opts {
	uint64_t start_at_ns;        /* CLOCK_REALTIME; 0: at once */
};

static const struct opt_spec worker_specs[] = {
	{"--start-at", OPT_UINT, OPT_FIELD(struct worker_opts, start_at_ns), .max = UINT64_MAX, .arg = "NS",
	 .help = "start the run at this CLOCK_REALTIME time, in ns since the\n"
		 "epoch (default 0: at once); at most an hour ahead"},
};

static const struct opt_table worker_table = {
	.prog = "atmosphere-bench",
	.cmd = CMD,
	.specs = worker_specs,
	.num_specs = sizeof worker_specs / sizeof worker_specs[0],
	.head = "usage: atmosphere-bench worker [--start-at NS] -- RELAY-OPTIONS...\n\n"
		"Runs 'atmosphere-bench relay RELAY-OPTIONS' for a coordinator ('atmosphere-bench\n"
		"coord', which starts it over SSH) and writes its interval rows, histograms,\n"
		"summary and exit status to stdout as binary frames (docs/BENCH.md, \"Several\n"
		"generator hosts\"). The worker adds --json, --json-interval and --hist-out itself.\n\n"
		"Options (before \"--\"):\n",
	.foot = "\nExit status: the relay run's (0 ran, 1 could not run, 2 usage).\n",
	.column = 20,
};

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Writes one frame to fd 1. Returns 0, or -1 (the coordinator went away). */
static int send_frame(enum bench_wire_type type, const void *p1, size_t n1, const void *p2, size_t n2)
{
	uint8_t hdr[BENCH_WIRE_HEADER_LEN];
	if (bench_wire_header_encode(hdr, type, n1 + n2))
		return -1;
	struct iovec iov[3] = {{hdr, sizeof hdr}, {(void *)p1, n1}, {(void *)p2, n2}};
	int iovcnt = 3;
	struct iovec *v = iov;
	while (iovcnt) {
		ssize_t w = writev(1, v, iovcnt);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		size_t left = (size_t)w;
		while (iovcnt && left >= v->iov_len) {
			left -= v->iov_len;
			v++;
			iovcnt--;
		}
		if (iovcnt) {
			v->iov_base = (char *)v->iov_base + left;
			v->iov_len -= left;
		}
	}
	return 0;
}

/* Reads the last max bytes of memfd fd (all of it when shorter); NULL
 * when empty or unreadable. */
static char *read_memfd(int fd, size_t max, size_t *out_len)
{
	off_t end = lseek(fd, 0, SEEK_END);
	if (end <= 0)
		return NULL;
	off_t start = (size_t)end > max ? end - (off_t)max : 0;
	size_t n = (size_t)(end - start);
	char *buf = malloc(n);
	if (!buf)
		return NULL;
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, buf + got, n - got, start + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	*out_len = got;
	return buf;
}

static uint64_t cpu_ns(int who)
{
	struct rusage ru;
	if (getrusage(who, &ru))
		return 0;
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

/* The options the worker sets itself, refused from the coordinator. */
static int check_relay_opts(const struct bench_relay_opts *o)
{
	if (o->json || o->csv || o->json_out || o->json_interval || o->hist_out || o->hist_csv || o->num_thresholds) {
		fprintf(stderr, "atmosphere-bench worker: --json, --csv, --json-out, --json-interval, --hist-out, "
				"--hist-csv and --threshold are the coordinator's: leave them out\n");
		return 2;
	}
	return 0;
}

/* The child: `relay` with the worker's outputs added. Does not return. */
static void run_child(int argc, char **argv, int sum_fd, int err_fd, int iv_fd, int hist_fd, bool latency,
		      bool intervals)
{
	char ivpath[32], histpath[32];
	snprintf(ivpath, sizeof ivpath, "/dev/fd/%d", iv_fd);
	snprintf(histpath, sizeof histpath, "/proc/self/fd/%d", hist_fd);
	char **av = calloc((size_t)argc + 8, sizeof *av);
	if (!av || dup2(sum_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		_exit(1);
	int n = 0;
	av[n++] = (char *)"relay";
	for (int i = 0; i < argc; i++)
		av[n++] = argv[i];
	av[n++] = (char *)"--json";
	if (intervals) {
		av[n++] = (char *)"--json-interval";
		av[n++] = ivpath;
		if (latency)
			av[n++] = (char *)"--json-interval-hist";
	}
	if (latency) {
		av[n++] = (char *)"--hist-out";
		av[n++] = histpath;
	}
	av[n] = NULL;
	int rc = bench_cmd_relay(n, av);
	fflush(stdout);
	fflush(stderr);
	_exit(rc);
}

/* Frames every line of the interval pipe as it comes. Returns 0, or -1
 * when stdout failed. */
static int pump_intervals(int fd)
{
	FILE *f = fdopen(fd, "r");
	if (!f)
		return 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;
	static const char hist_key[] = "{\"atmos_hist\"";
	while ((n = getline(&line, &cap, f)) > 0) {
		size_t len = (size_t)n;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		enum bench_wire_type t = len >= sizeof hist_key - 1 && !memcmp(line, hist_key, sizeof hist_key - 1)
						 ? BENCH_WIRE_IHIST
						 : BENCH_WIRE_INTERVAL;
		if (!rc && send_frame(t, line, len, NULL, 0))
			rc = -1; /* keep reading so the child never blocks on a full pipe */
	}
	free(line);
	fclose(f);
	return rc;
}

int bench_cmd_worker(int argc, char **argv)
{
	int dash = 1;
	while (dash < argc && strcmp(argv[dash], "--"))
		dash++;
	struct worker_opts wo = {0};
	int rc = opt_table_parse(&worker_table, &wo, dash, argv, stdout, NULL);
	if (rc >= 0)
		return rc;
	if (dash == argc)
		return opt_usage_error(&worker_table, "expected \"--\" and the relay options");
	int rargc = argc - dash - 1;
	char **rargv = argv + dash + 1;

	/* The relay options, checked here so that a usage error is the
	 * worker's exit status before anything starts. */
	struct bench_relay_opts ro;
	char **pargv = calloc((size_t)rargc + 2, sizeof *pargv);
	if (!pargv)
		return 1;
	pargv[0] = (char *)"relay";
	memcpy(pargv + 1, rargv, (size_t)rargc * sizeof *pargv);
	int prc = bench_relay_opts_parse(&ro, rargc + 1, pargv, stderr);
	free(pargv);
	if (prc >= 0)
		return prc ? prc : 2; /* --help among the relay options is no run either */
	bool latency = ro.mode == BENCH_RELAY_LATENCY, intervals = ro.interval_ms != 0;
	int bad = check_relay_opts(&ro);
	bench_relay_opts_cleanup(&ro);
	if (bad)
		return bad;

	signal(SIGPIPE, SIG_IGN); /* a coordinator gone is a write error */
	uint64_t now = realtime_ns();
	if (wo.start_at_ns > now + WORKER_START_AHEAD_MAX_NS) {
		fprintf(stderr, "atmosphere-bench worker: --start-at %llu is more than an hour ahead of this host's clock "
				"(%llu): check the clocks\n",
			(unsigned long long)wo.start_at_ns, (unsigned long long)now);
		return 2;
	}
	static const char version[] = "atmosphere-bench " ATMOS_VERSION;
	uint8_t clk[8];
	bench_wire_u64_encode(clk, now);
	if (send_frame(BENCH_WIRE_HELLO, clk, sizeof clk, version, sizeof version - 1))
		return 1;

	/* Wait for the start time: an absolute sleep on the clock the
	 * coordinator named it in. */
	struct timespec at = {.tv_sec = (time_t)(wo.start_at_ns / 1000000000u),
			      .tv_nsec = (long)(wo.start_at_ns % 1000000000u)};
	while (wo.start_at_ns > realtime_ns() && clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) == EINTR)
		;

	int status = 1, pfd[2] = {-1, -1};
	int sum_fd = memfd_create("worker-summary", 0), err_fd = memfd_create("worker-stderr", 0);
	int hist_fd = memfd_create("worker-hist", 0);
	pid_t pid = -1;
	const char *why = NULL;
	if (sum_fd < 0 || err_fd < 0 || hist_fd < 0 || pipe(pfd)) {
		why = "memfd_create/pipe failed";
		goto end;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		why = "fork failed";
		goto end;
	}
	if (pid == 0) {
		close(pfd[0]);
		run_child(rargc, rargv, sum_fd, err_fd, pfd[1], hist_fd, latency, intervals);
	}
	close(pfd[1]);
	pfd[1] = -1;
	int out_rc = pump_intervals(pfd[0]);
	pfd[0] = -1; /* closed with its FILE */
	if (out_rc)
		kill(pid, SIGTERM); /* nobody reads the results any more */
	int ws = 0;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 1;
	if (WIFSIGNALED(ws))
		why = "the run was killed by a signal";
	if (out_rc)
		return 1;
	/* The summary and the histogram whole: a longer one (over the frame
	 * limit) goes as its tail, which the coordinator refuses, naming it. */
	size_t len = 0;
	char *buf = read_memfd(sum_fd, BENCH_WIRE_PAYLOAD_MAX, &len);
	if (buf && send_frame(BENCH_WIRE_SUMMARY, buf, len, NULL, 0))
		status = 1;
	free(buf);
	buf = read_memfd(hist_fd, BENCH_WIRE_PAYLOAD_MAX, &len);
	while (buf && len && buf[len - 1] == '\n')
		len--;
	if (buf && len && send_frame(BENCH_WIRE_HIST, buf, len, NULL, 0))
		status = 1;
	free(buf);
end:;
	/* END: status, the CPU time of worker and generator, and the last
	 * BENCH_WIRE_END_TEXT_MAX bytes of the run's error output. */
	uint8_t head[9];
	head[0] = (uint8_t)status;
	bench_wire_u64_encode(head + 1, cpu_ns(RUSAGE_SELF) + cpu_ns(RUSAGE_CHILDREN));
	size_t elen = 0;
	char *etext = err_fd >= 0 ? read_memfd(err_fd, BENCH_WIRE_END_TEXT_MAX, &elen) : NULL;
	const char *tail = etext;
	if (why) {
		tail = why;
		elen = strlen(why);
	}
	if (send_frame(BENCH_WIRE_END, head, sizeof head, tail, tail ? elen : 0))
		status = 1;
	free(etext);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (sum_fd >= 0)
		close(sum_fd);
	if (err_fd >= 0)
		close(err_fd);
	if (hist_fd >= 0)
		close(hist_fd);
	return status;
}
