/* atmosphere-bench core: the reactor's own figures, each beside a baseline
 * measured in the same run (issue 2, "Bench").
 *
 * 1. Coroutine switch: core_coro_resume + core_coro_yield pairs, ns per
 *    switch, median of BENCH_RUNS runs; beside a syscall (getppid(), a
 *    0-byte write to /dev/null) and swapcontext, which is what a
 *    ucontext-based coroutine would pay.
 * 2. TCP echo: a runtime with one reactor thread whose echo coroutines
 *    forward each received lease with core_sock_send (no copy), beside a
 *    blocking server with one thread per connection (read, write). Same
 *    client, same run. Latency: one connection, 64 B ping-pong. Throughput:
 *    --conns connections each keeping ECHO_WINDOW messages of --size bytes in
 *    flight. Besides msgs/s, the server's CPU time per message (process CPU
 *    minus the client thread's) compares the servers even when the client is
 *    the limit. The client's ceiling is the same client loop over loopback
 *    TCP pairs with no server (it writes one end and reads the other): it
 *    then pays both ends' TCP work, so the ceiling is a conservative one.
 * 3. Zero-copy send: one reactor coroutine sends fixed-size messages from one
 *    buffer to a draining client, with SEND_ZC forced off (zc_threshold
 *    UINT32_MAX) and forced on (1), at 4 KiB .. 1 MiB. core_sock_send
 *    returns only at the zero-copy notification, which TCP gives once the
 *    data is acknowledged, so this measures the runtime's send as it is used.
 *
 * Noise: echo and zero-copy runs alternate ours and the baseline in ROUNDS
 * rounds and report medians, so a burst of load from elsewhere hits both;
 * the table's header gives the share of the machine other processes used
 * during the run (from /proc/stat).
 *
 * Placement: with two or more CPUs allowed, every server thread is pinned to
 * the first and the client (this thread) to the second, so the two never
 * share a core; the table's header says which. Traffic is on 127.0.0.1 only.
 * Every loop is bounded by a count and a deadline. Exit status 1 when a
 * server fails (an I/O error, a lost byte, a reactor that does not shut down
 * cleanly) or a measurement cannot be taken. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "bench/json.h"
#include "bench/proc.h"
#include "bench/bench.h"
#include "bench/stats.h"
#include "core/coro.h"
#include "core/reactor.h"
#include "core/sock.h"

#ifndef ATMOS_VERSION
#define ATMOS_VERSION "0.1.0"
#endif

#define CMD "core"

/* Limits: every option has a range, every loop a count and a deadline. */
enum {
	BENCH_RUNS = 5,                      /* switch-cost runs; the median is reported */
	SWITCH_PAIRS = 5000000,              /* resume+yield pairs a run: 10M switches */
	SYSCALL_CALLS = 300000,              /* syscalls a run */
	SWAPCTX_PAIRS = 300000,              /* swapcontext pairs a run (2 syscalls each) */
	LAT_SIZE = 64,                       /* ping-pong message bytes */
	ROUNDS = 3,                          /* alternating rounds of echo and zero-copy runs */
	LAT_WARMUP = 500,                    /* round trips before sampling, each round */
	LAT_DEFAULT = 20000,
	LAT_MAX = 10000000,
	LAT_MAX_MS = 10000,                  /* a latency round stops here whatever its count */
	CONNS_DEFAULT = 16,
	CONNS_MAX = 256,
	ECHO_SIZE_DEFAULT = 16 * 1024,
	MSG_SIZE_MAX = 1024 * 1024,
	ECHO_WINDOW = 4,                     /* messages in flight per connection */
	WARMUP_MS = 200,                     /* throughput: run before the measured window */
	DRAIN_MS = 5000,                     /* after the window: get every byte back */
	IO_TIMEOUT_MS = 10000,               /* any single server read or write */
	ACCEPT_TIMEOUT_MS = 5000,
	STOP_TIMEOUT_MS = 5000,              /* servers finish after their clients left */
	ZC_MS_MIN = 300,                     /* each zero-copy point, all rounds together */
	ZC_MS_MAX = 10000,
	BLAST_MAX_MSGS = 50000000,           /* a blast's count bound beside its deadline */
	RECV_CHUNK = 256 * 1024,
};

static const uint64_t DURATION_DEFAULT_MS = 3000, DURATION_MAX_MS = 600000;
static const uint32_t zc_sizes[] = {4096, 16384, 65536, 262144, 1048576};
#define NUM_ZC_SIZES (sizeof zc_sizes / sizeof zc_sizes[0])

struct opts {
	bool json;
	const char *json_out;   /* also write the JSON object here (bench/run keeps it) */
	uint64_t duration_ms;
	unsigned conns;
	size_t size;
	unsigned round_trips;
};

struct placement {
	int server_cpu, client_cpu; /* -1: not pinned */
};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "atmosphere-bench core: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* --- placement --- */

static struct placement placement_pick(void)
{
	struct placement p = {-1, -1};
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

static void pin_self(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* Starts fn(arg) on a thread born on cpu (-1: anywhere). Returns 0 or -errno. */
static int spawn_pinned(pthread_t *out, void *(*fn)(void *), void *arg, int cpu)
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

/* --- load from elsewhere --- */

/* The machine's CPU time from /proc/stat (USER_HZ ticks). busy is user, nice
 * and system only: irq/softirq time may or may not be charged to the task
 * that raised it, and leaving it out keeps "busy - ours" from blaming our own
 * loopback softirqs on someone else. */
struct cpu_ticks {
	uint64_t busy, steal, total;
	uint64_t ours_ns;       /* this process's CPU time */
	uint64_t wall_ns;
};

static void cpu_ticks_read(struct cpu_ticks *t)
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
	t->ours_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	t->wall_ns = bench_mono_ns();
}

/* Share of the machine (all CPUs) other processes kept busy between a and b,
 * and the share stolen by the hypervisor; NAN when /proc/stat is unreadable. */
static void cpu_ticks_other(const struct cpu_ticks *a, const struct cpu_ticks *b, double *out_other,
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

/* --- 1. switch cost --- */

struct switch_result {
	double coro_ns, getppid_ns, devnull_ns, swapctx_ns;
};

static void yielder(void *arg)
{
	uint64_t n = *(const uint64_t *)arg;
	for (uint64_t i = 0; i < n; i++)
		core_coro_yield();
}

/* ns per switch over n resume+yield pairs (n + 1 resumes, 2n + 2 switches). */
static int coro_run(uint64_t n, double *out_ns)
{
	int err = 0;
	struct core_coro *co = core_coro_new(yielder, &n, 0, &err);
	if (!co)
		return err;
	uint64_t t0 = bench_mono_ns();
	uint64_t resumes = 1;
	while (core_coro_resume(co) && resumes <= n)
		resumes++;
	uint64_t t1 = bench_mono_ns();
	core_coro_free(co);
	*out_ns = (double)(t1 - t0) / (2.0 * (double)resumes);
	return 0;
}

static double getppid_run(uint64_t n)
{
	uint64_t t0 = bench_mono_ns();
	for (uint64_t i = 0; i < n; i++)
		(void)syscall(SYS_getppid); /* glibc does not cache it, but be explicit */
	return (double)(bench_mono_ns() - t0) / (double)n;
}

static double devnull_run(int fd, uint64_t n)
{
	char c = 0;
	uint64_t t0 = bench_mono_ns();
	for (uint64_t i = 0; i < n; i++)
		(void)!write(fd, &c, 0);
	return (double)(bench_mono_ns() - t0) / (double)n;
}

static ucontext_t uc_main, uc_co;
static uint64_t uc_pairs;

static void uc_loop(void)
{
	for (uint64_t i = 0; i < uc_pairs; i++)
		swapcontext(&uc_co, &uc_main);
}

/* swapcontext saves and restores the signal mask: a syscall per switch. */
static int swapctx_run(uint64_t n, double *out_ns)
{
	enum { STACK = 64 * 1024 };
	void *stack = malloc(STACK);
	if (!stack)
		return -ENOMEM;
	getcontext(&uc_co);
	uc_co.uc_stack.ss_sp = stack;
	uc_co.uc_stack.ss_size = STACK;
	uc_co.uc_link = &uc_main;
	uc_pairs = n;
	makecontext(&uc_co, uc_loop, 0);
	uint64_t t0 = bench_mono_ns();
	for (uint64_t i = 0; i <= n; i++) /* the last swap returns through uc_link */
		swapcontext(&uc_main, &uc_co);
	uint64_t t1 = bench_mono_ns();
	free(stack);
	*out_ns = (double)(t1 - t0) / (2.0 * (double)(n + 1));
	return 0;
}

static int measure_switch(struct switch_result *out)
{
	double coro[BENCH_RUNS], ppid[BENCH_RUNS], dn[BENCH_RUNS], swc[BENCH_RUNS];
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "atmosphere-bench core: open /dev/null: %s\n", strerror(errno));
		return -1;
	}
	double warm;
	coro_run(SWITCH_PAIRS / 10, &warm); /* fault in the stack, settle the clock */
	/* Interleave the kinds so a frequency change hits them alike. */
	for (int r = 0; r < BENCH_RUNS; r++) {
		int err = coro_run(SWITCH_PAIRS, &coro[r]);
		if (!err)
			err = swapctx_run(SWAPCTX_PAIRS, &swc[r]);
		if (err) {
			fprintf(stderr, "atmosphere-bench core: coroutine: %s\n", strerror(-err));
			close(fd);
			return -1;
		}
		ppid[r] = getppid_run(SYSCALL_CALLS);
		dn[r] = devnull_run(fd, SYSCALL_CALLS);
	}
	close(fd);
	out->coro_ns = bench_median(coro, BENCH_RUNS);
	out->getppid_ns = bench_median(ppid, BENCH_RUNS);
	out->devnull_ns = bench_median(dn, BENCH_RUNS);
	out->swapctx_ns = bench_median(swc, BENCH_RUNS);
	return 0;
}

/* --- sockets --- */

static int listen_loopback(uint16_t *out_port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int fd = core_tcp_listen((const struct sockaddr *)&a, sizeof a, 512, false);
	if (fd < 0)
		return fd;
	if (getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	*out_port = ntohs(a.sin_port);
	return fd;
}

static void set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int connect_loopback(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&a, sizeof a) != 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	set_nodelay(fd);
	/* Bound every blocking call the client makes on a server that hangs. */
	struct timeval tv = {.tv_sec = IO_TIMEOUT_MS / 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

static int write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;
	while (len) {
		ssize_t w = send(fd, b, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EPIPE;
		b += w;
		len -= (size_t)w;
	}
	return 0;
}

static int read_full(int fd, void *p, size_t len)
{
	uint8_t *b = p;
	while (len) {
		ssize_t r = recv(fd, b, len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ECONNRESET;
		b += r;
		len -= (size_t)r;
	}
	return 0;
}

/* --- servers: shared failure record --- */

struct failure {
	atomic_int count;
	atomic_int first_err;       /* -errno of the first failure */
	_Atomic(const char *) first_what;
};

static void fail_note(struct failure *f, const char *what, int err)
{
	if (atomic_fetch_add(&f->count, 1) == 0) {
		atomic_store(&f->first_what, what);
		atomic_store(&f->first_err, err);
	}
}

static bool fail_report(struct failure *f, const char *server)
{
	int n = atomic_load(&f->count);
	if (!n)
		return false;
	int err = atomic_load(&f->first_err);
	fprintf(stderr, "atmosphere-bench core: %s failed %d time(s); first: %s: %s\n", server, n,
		atomic_load(&f->first_what), err ? strerror(-err) : "unexpected data");
	return true;
}

/* --- the reactor servers: echo and blast --- */

struct rsrv {
	const char *name;
	struct core_rt *rt;
	pthread_t thread;
	bool running;
	int listen_fd;
	uint16_t port;
	int run_ret;
	core_task_fn handler;
	uint8_t *blast_buf;         /* MSG_SIZE_MAX bytes the blast handler sends from */
	atomic_uint accepted, served;
	struct failure fail;
	struct core_listener *l;
	struct core_shutdown_hook hook;
};

struct conn_arg {
	struct rsrv *srv;
	int fd;
};

static void echo_conn(void *arg)
{
	struct conn_arg ca = *(struct conn_arg *)arg;
	struct rsrv *srv = ca.srv;
	int err = 0;
	free(arg);
	struct core_sock *s = core_sock_new(ca.fd, &err);
	if (!s) {
		fail_note(&srv->fail, "core_sock_new", err);
		atomic_fetch_add(&srv->served, 1);
		return;
	}
	set_nodelay(core_sock_fd(s));
	for (;;) {
		struct core_buf b;
		int n = core_sock_recv(s, &b, IO_TIMEOUT_MS);
		if (n == 0)
			break;
		if (n < 0) {
			fail_note(&srv->fail, "core_sock_recv", n);
			break;
		}
		/* Forward the lease itself: no copy, released once the send is done. */
		int w = core_sock_send(s, b.data, b.len, IO_TIMEOUT_MS);
		core_buf_release(&b);
		if (w < 0) {
			fail_note(&srv->fail, "core_sock_send", w);
			break;
		}
	}
	core_sock_close(s);
	atomic_fetch_add(&srv->served, 1);
}

/* The blast request: message size and duration in ms, host order (the
 * client is this process). */
struct blast_req {
	uint32_t size;
	uint32_t ms;
};

static void blast_conn(void *arg)
{
	struct conn_arg ca = *(struct conn_arg *)arg;
	struct rsrv *srv = ca.srv;
	struct blast_req req;
	size_t have = 0;
	int err = 0;
	free(arg);
	struct core_sock *s = core_sock_new(ca.fd, &err);
	if (!s) {
		fail_note(&srv->fail, "core_sock_new", err);
		atomic_fetch_add(&srv->served, 1);
		return;
	}
	while (have < sizeof req) {
		struct core_buf b = {.gid = CORE_BUF_NONE};
		int n = core_sock_recv(s, &b, IO_TIMEOUT_MS);
		if (n <= 0 || b.len > sizeof req - have) {
			fail_note(&srv->fail, "blast request", n < 0 ? n : 0);
			core_buf_release(&b);
			goto out;
		}
		memcpy((uint8_t *)&req + have, b.data, b.len);
		have += b.len;
		core_buf_release(&b);
	}
	if (req.size == 0 || req.size > MSG_SIZE_MAX || req.ms > ZC_MS_MAX) {
		fail_note(&srv->fail, "blast request", -EINVAL);
		goto out;
	}
	/* core_now_ns is refreshed every loop iteration, and every send suspends. */
	uint64_t deadline = core_now_ns() + (uint64_t)req.ms * 1000000u;
	for (unsigned i = 0; i < BLAST_MAX_MSGS && core_now_ns() < deadline; i++) {
		int w = core_sock_send(s, srv->blast_buf, req.size, IO_TIMEOUT_MS);
		if (w < 0) {
			fail_note(&srv->fail, "core_sock_send", w);
			goto out;
		}
	}
	core_sock_shutdown_write(s);
	/* Close after the client's FIN, so nothing it sent is left to reset. */
	struct core_buf b = {.gid = CORE_BUF_NONE};
	int n = core_sock_recv(s, &b, IO_TIMEOUT_MS);
	if (n != 0) {
		fail_note(&srv->fail, "blast close", n < 0 ? n : 0);
		if (n > 0)
			core_buf_release(&b);
	}
out:
	core_sock_close(s);
	atomic_fetch_add(&srv->served, 1);
}

static void rsrv_interrupt(void *arg)
{
	struct rsrv *srv = arg;
	core_listener_interrupt(srv->l);
}

static void rsrv_main(void *arg)
{
	struct rsrv *srv = arg;
	int err = 0;
	srv->l = core_listener_new(srv->listen_fd, &err);
	srv->listen_fd = -1; /* the listener owns it now, or closed it */
	if (!srv->l) {
		fail_note(&srv->fail, "core_listener_new", err);
		return;
	}
	core_on_shutdown(&srv->hook, rsrv_interrupt, srv);
	for (;;) {
		int fd = core_listener_accept(srv->l, -1);
		if (fd == -ECANCELED)
			break;
		if (fd < 0) {
			fail_note(&srv->fail, "core_listener_accept", fd);
			break;
		}
		struct conn_arg *ca = malloc(sizeof *ca);
		if (!ca) {
			close(fd);
			fail_note(&srv->fail, "malloc", -ENOMEM);
			continue;
		}
		ca->srv = srv;
		ca->fd = fd;
		atomic_fetch_add(&srv->accepted, 1);
		int rc = core_spawn(srv->handler, ca);
		if (rc < 0) {
			free(ca);
			close(fd);
			atomic_fetch_add(&srv->served, 1);
			fail_note(&srv->fail, "core_spawn", rc);
		}
	}
	core_shutdown_hook_remove(&srv->hook);
	core_listener_close(srv->l);
	srv->l = NULL;
}

static void *rsrv_thread(void *arg)
{
	struct rsrv *srv = arg;
	srv->run_ret = core_rt_run(srv->rt, rsrv_main, srv);
	return NULL;
}

/* Starts a one-reactor runtime on the server CPU. Returns 0, or -1 after
 * printing why (io_uring unavailable: the cause and the fix). */
static int rsrv_start(struct rsrv *srv, const char *name, core_task_fn handler, unsigned zc_threshold, int cpu)
{
	struct core_rt_opts o = {.num_threads = 1, .zc_threshold = zc_threshold};
	int err = 0;
	memset(srv, 0, sizeof *srv);
	srv->name = name;
	srv->handler = handler;
	srv->listen_fd = listen_loopback(&srv->port);
	if (srv->listen_fd < 0) {
		fprintf(stderr, "atmosphere-bench core: %s: listen on 127.0.0.1: %s\n", name, strerror(-srv->listen_fd));
		return -1;
	}
	if (handler == blast_conn) {
		srv->blast_buf = malloc(MSG_SIZE_MAX);
		if (!srv->blast_buf)
			goto nomem;
		for (size_t i = 0; i < MSG_SIZE_MAX; i++)
			srv->blast_buf[i] = (uint8_t)(i * 7u);
	}
	srv->rt = core_rt_new(&o, &err);
	if (!srv->rt) {
		fprintf(stderr, "atmosphere-bench core: %s: cannot start the io_uring runtime: %s\n", name,
			core_rt_explain(err));
		goto fail;
	}
	err = spawn_pinned(&srv->thread, rsrv_thread, srv, cpu);
	if (err) {
		fprintf(stderr, "atmosphere-bench core: %s: pthread_create: %s\n", name, strerror(-err));
		goto fail;
	}
	srv->running = true;
	return 0;
nomem:
	fprintf(stderr, "atmosphere-bench core: %s: out of memory\n", name);
fail:
	core_rt_free(srv->rt);
	srv->rt = NULL;
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	free(srv->blast_buf);
	srv->blast_buf = NULL;
	return -1;
}

/* Waits for every connection to end, shuts the runtime down and checks it
 * did so cleanly. Returns 0, or -1 when the server failed (reported). */
static int rsrv_stop(struct rsrv *srv)
{
	if (!srv->running)
		return 0;
	uint64_t deadline = bench_mono_ns() + (uint64_t)STOP_TIMEOUT_MS * 1000000u;
	while (atomic_load(&srv->served) != atomic_load(&srv->accepted) && bench_mono_ns() < deadline) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL); /* polling a condition with a deadline, not a synchronisation */
	}
	unsigned left = atomic_load(&srv->accepted) - atomic_load(&srv->served);
	core_rt_shutdown(srv->rt);
	pthread_join(srv->thread, NULL);
	srv->running = false;
	bool bad = fail_report(&srv->fail, srv->name);
	if (left) {
		fprintf(stderr, "atmosphere-bench core: %s: %u connection(s) still open %d ms after the clients left\n",
			srv->name, left, STOP_TIMEOUT_MS);
		bad = true;
	}
	if (srv->run_ret) {
		fprintf(stderr, "atmosphere-bench core: %s: core_rt_run: %s\n", srv->name, strerror(-srv->run_ret));
		bad = true;
	}
	if (core_rt_abandoned(srv->rt)) {
		fprintf(stderr, "atmosphere-bench core: %s: %u coroutine(s) abandoned at shutdown\n", srv->name,
			core_rt_abandoned(srv->rt));
		bad = true;
	}
	core_rt_free(srv->rt);
	srv->rt = NULL;
	free(srv->blast_buf);
	srv->blast_buf = NULL;
	return bad ? -1 : 0;
}

/* --- the blocking baseline: one thread per connection --- */

struct psrv {
	int listen_fd;
	uint16_t port;
	int cpu;
	unsigned expect;              /* connections this round accepts, then stops */
	pthread_t acceptor;
	bool accepting;
	pthread_t *conn_threads;
	unsigned num_threads;
	struct failure fail;
};

struct pconn {
	struct psrv *srv;
	int fd;
};

static void *psrv_conn(void *arg)
{
	struct pconn pc = *(struct pconn *)arg;
	free(arg);
	struct timeval tv = {.tv_sec = IO_TIMEOUT_MS / 1000};
	setsockopt(pc.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(pc.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	set_nodelay(pc.fd);
	uint8_t *buf = malloc(64 * 1024);
	if (!buf) {
		fail_note(&pc.srv->fail, "malloc", -ENOMEM);
		close(pc.fd);
		return NULL;
	}
	for (;;) {
		ssize_t n = recv(pc.fd, buf, 64 * 1024, 0);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail_note(&pc.srv->fail, "recv", -errno);
			break;
		}
		int rc = write_all(pc.fd, buf, (size_t)n);
		if (rc) {
			fail_note(&pc.srv->fail, "send", rc);
			break;
		}
	}
	free(buf);
	close(pc.fd);
	return NULL;
}

static void *psrv_accept(void *arg)
{
	struct psrv *srv = arg;
	for (unsigned i = 0; i < srv->expect; i++) {
		struct pollfd p = {.fd = srv->listen_fd, .events = POLLIN};
		int rc = poll(&p, 1, ACCEPT_TIMEOUT_MS);
		if (rc <= 0) {
			fail_note(&srv->fail, "accept (no client within the timeout)", rc < 0 ? -errno : -ETIMEDOUT);
			return NULL;
		}
		int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			fail_note(&srv->fail, "accept", -errno);
			return NULL;
		}
		struct pconn *pc = malloc(sizeof *pc);
		if (!pc) {
			close(fd);
			fail_note(&srv->fail, "malloc", -ENOMEM);
			return NULL;
		}
		pc->srv = srv;
		pc->fd = fd;
		rc = spawn_pinned(&srv->conn_threads[srv->num_threads], psrv_conn, pc, srv->cpu);
		if (rc) {
			free(pc);
			close(fd);
			fail_note(&srv->fail, "pthread_create", rc);
			return NULL;
		}
		srv->num_threads++;
	}
	return NULL;
}

static int psrv_init(struct psrv *srv, int cpu)
{
	memset(srv, 0, sizeof *srv);
	srv->cpu = cpu;
	srv->listen_fd = listen_loopback(&srv->port);
	if (srv->listen_fd < 0) {
		fprintf(stderr, "atmosphere-bench core: blocking server: listen on 127.0.0.1: %s\n",
			strerror(-srv->listen_fd));
		return -1;
	}
	srv->conn_threads = calloc(CONNS_MAX, sizeof *srv->conn_threads);
	if (!srv->conn_threads) {
		close(srv->listen_fd);
		return -1;
	}
	return 0;
}

/* Accepts the next expect connections on a thread of their own. */
static int psrv_round(struct psrv *srv, unsigned expect)
{
	srv->expect = expect;
	srv->num_threads = 0;
	int rc = spawn_pinned(&srv->acceptor, psrv_accept, srv, srv->cpu);
	if (rc) {
		fprintf(stderr, "atmosphere-bench core: blocking server: pthread_create: %s\n", strerror(-rc));
		return -1;
	}
	srv->accepting = true;
	return 0;
}

/* Joins the round's threads (they end at their client's EOF or I/O timeout). */
static void psrv_join(struct psrv *srv)
{
	if (!srv->accepting)
		return;
	pthread_join(srv->acceptor, NULL);
	for (unsigned i = 0; i < srv->num_threads; i++)
		pthread_join(srv->conn_threads[i], NULL);
	srv->accepting = false;
}

static void psrv_cleanup(struct psrv *srv)
{
	psrv_join(srv);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	free(srv->conn_threads);
}

/* --- client: latency --- */

/* One latency round: round_trips timed 64 B ping-pongs on a new connection,
 * appended to samples[*num..]. Returns 0 or -1 (reported). */
static int latency_round(const char *what, uint16_t port, unsigned round_trips, uint64_t *samples, size_t *num)
{
	uint8_t msg[LAT_SIZE], back[LAT_SIZE];
	int fd = connect_loopback(port);
	if (fd < 0) {
		fprintf(stderr, "atmosphere-bench core: connect to the %s: %s\n", what, strerror(-fd));
		return -1;
	}
	memset(msg, 'a', sizeof msg);
	uint64_t stop = bench_mono_ns() + (uint64_t)LAT_MAX_MS * 1000000u;
	int rc = 0;
	for (unsigned i = 0; i < LAT_WARMUP + round_trips && bench_mono_ns() < stop; i++) {
		msg[0] = (uint8_t)i;
		uint64_t t0 = bench_mono_ns();
		rc = write_all(fd, msg, sizeof msg);
		if (!rc)
			rc = read_full(fd, back, sizeof back);
		uint64_t t1 = bench_mono_ns();
		if (rc)
			break;
		if (memcmp(back, msg, sizeof msg)) {
			rc = -EBADMSG;
			break;
		}
		if (i >= LAT_WARMUP)
			samples[(*num)++] = t1 - t0;
	}
	shutdown(fd, SHUT_WR);
	if (!rc && recv(fd, back, 1, 0) != 0)
		rc = -EBADMSG; /* the server must close after our FIN, with nothing extra */
	close(fd);
	if (rc) {
		fprintf(stderr, "atmosphere-bench core: latency client against the %s: %s\n", what, strerror(-rc));
		return -1;
	}
	return 0;
}

static void summarise(uint64_t *samples, size_t num, struct bench_summary *out)
{
	bench_sort_u64(samples, num);
	memset(out, 0, sizeof *out);
	out->count = num;
	out->min = num ? samples[0] : 0;
	out->p50 = bench_percentile_sorted(samples, num, 50.0);
	out->p90 = bench_percentile_sorted(samples, num, 90.0);
	out->p99 = bench_percentile_sorted(samples, num, 99.0);
	out->p999 = bench_percentile_sorted(samples, num, 99.9);
	out->max = num ? samples[num - 1] : 0;
	out->mean = bench_mean_u64(samples, num);
}

/* --- client: throughput --- */

/* One flow: bytes written to tx come back on rx (the same socket for echo,
 * the far end of a loopback pair for the ceiling). */
struct flow {
	int tx, rx;
	uint64_t sent, rcvd;
	bool tx_done, rx_eof;
};

struct tput {
	double msgs_per_s, mb_per_s;
	double client_cpu;      /* share of one CPU the client thread used */
	double server_cpu;      /* share of a CPU the rest of the process (the server) used */
	double server_cpu_ns;   /* the same CPU time per echoed message */
	uint64_t bytes;         /* in the measured window */
};

static int run_flows(struct flow *f, unsigned n, size_t size, uint64_t dur_ms, const uint8_t *src, uint8_t *scratch,
		     struct tput *out)
{
	struct pollfd *p = calloc(2 * (size_t)n, sizeof *p);
	if (!p)
		return -ENOMEM;
	const uint64_t window = (uint64_t)ECHO_WINDOW * size;
	uint64_t t_start = bench_mono_ns();
	uint64_t t_warm = t_start + (uint64_t)WARMUP_MS * 1000000u;
	uint64_t t_end = t_warm + dur_ms * 1000000u;
	uint64_t t_drain = t_end + (uint64_t)DRAIN_MS * 1000000u;
	uint64_t rcvd_warm = 0, cpu_warm = 0, pcpu_warm = 0, rcvd_end = 0, cpu_end = 0, pcpu_end = 0;
	uint64_t t_warm_real = 0, t_end_real = 0;
	bool warm = false, ended = false;
	int rc = 0;
	unsigned open_rx = n;
	while (open_rx && !rc) {
		uint64_t t = bench_mono_ns();
		uint64_t total = 0;
		for (unsigned i = 0; i < n; i++)
			total += f[i].rcvd;
		if (!warm && t >= t_warm) {
			warm = true;
			t_warm_real = t;
			rcvd_warm = total;
			cpu_warm = clock_ns(CLOCK_THREAD_CPUTIME_ID);
			pcpu_warm = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
		}
		if (!ended && t >= t_end) {
			ended = true;
			rcvd_end = total;
			t_end_real = t;
			cpu_end = clock_ns(CLOCK_THREAD_CPUTIME_ID);
			pcpu_end = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
			for (unsigned i = 0; i < n; i++) {
				shutdown(f[i].tx, SHUT_WR); /* the echo comes back, then EOF */
				f[i].tx_done = true;
			}
		}
		if (t >= t_drain) {
			rc = -ETIMEDOUT;
			break;
		}
		for (unsigned i = 0; i < n; i++) {
			bool can_send = !f[i].tx_done && f[i].sent - f[i].rcvd < window;
			p[2 * i] = (struct pollfd){.fd = can_send ? f[i].tx : -1, .events = POLLOUT};
			p[2 * i + 1] = (struct pollfd){.fd = f[i].rx_eof ? -1 : f[i].rx, .events = POLLIN};
		}
		if (poll(p, 2 * (nfds_t)n, 100) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		for (unsigned i = 0; i < n && !rc; i++) {
			if (p[2 * i].revents & (POLLOUT | POLLERR | POLLHUP)) {
				uint64_t room = window - (f[i].sent - f[i].rcvd);
				size_t off = (size_t)(f[i].sent % size);
				size_t len = size - off < room ? size - off : (size_t)room;
				ssize_t w = send(f[i].tx, src + off, len, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (w > 0)
					f[i].sent += (uint64_t)w;
				else if (w < 0 && errno != EAGAIN && errno != EINTR)
					rc = -errno;
			}
			if (p[2 * i + 1].revents & (POLLIN | POLLERR | POLLHUP)) {
				ssize_t r = recv(f[i].rx, scratch, RECV_CHUNK, MSG_DONTWAIT);
				if (r > 0) {
					f[i].rcvd += (uint64_t)r;
					if (f[i].rcvd > f[i].sent)
						rc = -EBADMSG; /* more back than we sent */
				} else if (r == 0) {
					f[i].rx_eof = true;
					open_rx--;
					if (!f[i].tx_done || f[i].rcvd != f[i].sent)
						rc = -ECONNRESET; /* closed early, or bytes lost */
				} else if (errno != EAGAIN && errno != EINTR) {
					rc = -errno;
				}
			}
		}
	}
	free(p);
	if (rc)
		return rc;
	if (t_end_real <= t_warm_real)
		return -ETIME; /* the client was starved for the whole window */
	double secs = (double)(t_end_real - t_warm_real) / 1e9;
	out->bytes = rcvd_end - rcvd_warm;
	out->mb_per_s = (double)out->bytes / secs / 1e6;
	out->msgs_per_s = (double)out->bytes / (double)size / secs;
	out->client_cpu = (double)(cpu_end - cpu_warm) / (double)(t_end_real - t_warm_real);
	double msgs = (double)out->bytes / (double)size;
	double server_cpu = (double)(pcpu_end - pcpu_warm) - (double)(cpu_end - cpu_warm);
	out->server_cpu = server_cpu / (double)(t_end_real - t_warm_real);
	out->server_cpu_ns = msgs > 0 ? server_cpu / msgs : 0.0;
	return 0;
}

static void close_flows(struct flow *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (f[i].rx >= 0 && f[i].rx != f[i].tx)
			close(f[i].rx);
		if (f[i].tx >= 0)
			close(f[i].tx);
	}
}

/* Echo throughput against the server on port (ceiling: port is a bare
 * listener whose accepted sockets are read by this thread). */
static int measure_tput(const char *what, uint16_t port, int ceiling_listen_fd, const struct opts *o,
			const uint8_t *src, uint8_t *scratch, struct tput *out)
{
	struct flow *f = calloc(o->conns, sizeof *f);
	int rc = 0;
	if (!f)
		return -1;
	for (unsigned i = 0; i < o->conns; i++)
		f[i].tx = f[i].rx = -1;
	for (unsigned i = 0; i < o->conns; i++) {
		int fd = connect_loopback(port);
		if (fd < 0) {
			rc = fd;
			break;
		}
		f[i].tx = f[i].rx = fd;
		if (ceiling_listen_fd >= 0) {
			int a = accept4(ceiling_listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (a < 0) {
				rc = -errno;
				break;
			}
			f[i].rx = a;
		}
	}
	if (!rc)
		rc = run_flows(f, o->conns, o->size, o->duration_ms, src, scratch, out);
	close_flows(f, o->conns);
	free(f);
	if (rc) {
		fprintf(stderr, "atmosphere-bench core: throughput client against the %s: %s\n", what, strerror(-rc));
		return -1;
	}
	return 0;
}

/* The round with the median MB/s (rounds in [0, ROUNDS)). */
static struct tput median_tput(const struct tput *t)
{
	size_t idx[ROUNDS];
	for (size_t i = 0; i < ROUNDS; i++)
		idx[i] = i;
	for (size_t i = 1; i < ROUNDS; i++) /* insertion sort of three */
		for (size_t j = i; j > 0 && t[idx[j]].mb_per_s < t[idx[j - 1]].mb_per_s; j--) {
			size_t x = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = x;
		}
	return t[idx[ROUNDS / 2]];
}

/* --- client: zero-copy blast --- */

static int measure_blast(uint16_t port, uint32_t size, uint32_t ms, uint8_t *scratch, double *out_mbps)
{
	struct blast_req req = {.size = size, .ms = ms};
	int fd = connect_loopback(port);
	if (fd < 0)
		return fd;
	int rc = write_all(fd, &req, sizeof req);
	uint64_t stop = bench_mono_ns() + ((uint64_t)ms + DRAIN_MS) * 1000000u;
	uint64_t bytes = 0, t_first = 0, t_last = 0;
	struct timeval tv = {.tv_sec = 1};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	while (!rc) {
		if (bench_mono_ns() >= stop) {
			rc = -ETIMEDOUT;
			break;
		}
		ssize_t r = recv(fd, scratch, RECV_CHUNK, 0);
		if (r > 0) {
			if (!bytes)
				t_first = bench_mono_ns();
			bytes += (uint64_t)r;
		} else if (r == 0) {
			t_last = bench_mono_ns();
			break;
		} else if (errno != EINTR && errno != EAGAIN) {
			rc = -errno;
		}
	}
	shutdown(fd, SHUT_WR);
	close(fd);
	if (rc)
		return rc;
	if (!bytes || t_last <= t_first)
		return -ENODATA;
	*out_mbps = (double)bytes / ((double)(t_last - t_first) / 1e9) / 1e6;
	return 0;
}

/* --- output --- */

struct results {
	struct placement place;
	double other_load, steal;    /* shares of the machine, over the whole run */
	struct switch_result sw;
	struct bench_summary lat_ours, lat_base;
	struct tput tp_ours, tp_base, tp_ceiling;
	double zc_off[NUM_ZC_SIZES], zc_on[NUM_ZC_SIZES];
	uint32_t zc_ms;
	long crossover;          /* first size where ZC on >= off; -1: none */
};

static double ratio(double ours, double base)
{
	return base > 0.0 ? ours / base : NAN;
}

static void row(const char *figure, double ours, double base, int prec)
{
	if (isnan(base))
		printf("%-50s %12.*f %12s %9s\n", figure, prec, ours, "-", "-");
	else
		printf("%-50s %12.*f %12.*f %9.3f\n", figure, prec, ours, prec, base, ratio(ours, base));
}

static void size_name(char *out, size_t out_len, uint32_t size)
{
	if (size >= 1024 * 1024 && size % (1024 * 1024) == 0)
		snprintf(out, out_len, "%u MiB", size / (1024 * 1024));
	else if (size >= 1024 && size % 1024 == 0)
		snprintf(out, out_len, "%u KiB", size / 1024);
	else
		snprintf(out, out_len, "%u B", size);
}

static void print_table(const struct results *r, const struct opts *o)
{
	char fig[96], sz[32];
	if (r->place.server_cpu >= 0)
		printf("atmosphere-bench core: servers pinned to CPU %d, client to CPU %d; 127.0.0.1; MB = 10^6 bytes\n",
		       r->place.server_cpu, r->place.client_cpu);
	else
		printf("atmosphere-bench core: one CPU, server and client share it (not pinned); 127.0.0.1; MB = 10^6 bytes\n");
	if (!isnan(r->other_load))
		printf("other processes kept %.0f %% of the machine busy during the run; hypervisor steal %.1f %%\n",
		       100.0 * r->other_load, 100.0 * r->steal);
	printf("ratio = ours / baseline; echo and zero-copy figures are medians of %d alternating rounds\n\n",
	       ROUNDS);
	printf("%-50s %12s %12s %9s\n", "figure", "ours", "baseline", "ratio");
	row("switch ns: core_coro vs getppid() syscall", r->sw.coro_ns, r->sw.getppid_ns, 2);
	row("switch ns: core_coro vs write(/dev/null, 0)", r->sw.coro_ns, r->sw.devnull_ns, 2);
	row("switch ns: core_coro vs swapcontext", r->sw.coro_ns, r->sw.swapctx_ns, 2);
	row("echo RTT p50 us, 64 B: reactor vs blocking", (double)r->lat_ours.p50 / 1e3, (double)r->lat_base.p50 / 1e3, 1);
	row("echo RTT p99 us, 64 B: reactor vs blocking", (double)r->lat_ours.p99 / 1e3, (double)r->lat_base.p99 / 1e3, 1);
	size_name(sz, sizeof sz, (uint32_t)o->size);
	snprintf(fig, sizeof fig, "echo msgs/s, %u conns x %s", o->conns, sz);
	row(fig, r->tp_ours.msgs_per_s, r->tp_base.msgs_per_s, 0);
	snprintf(fig, sizeof fig, "echo MB/s, %u conns x %s", o->conns, sz);
	row(fig, r->tp_ours.mb_per_s, r->tp_base.mb_per_s, 1);
	row("echo server CPU ns per message", r->tp_ours.server_cpu_ns, r->tp_base.server_cpu_ns, 0);
	row("echo server CPU busy %", 100.0 * r->tp_ours.server_cpu, 100.0 * r->tp_base.server_cpu, 1);
	row("echo client CPU busy %", 100.0 * r->tp_ours.client_cpu, 100.0 * r->tp_base.client_cpu, 1);
	row("load generator alone (no server), MB/s", r->tp_ceiling.mb_per_s, NAN, 1);
	row("load generator alone, client CPU busy %", 100.0 * r->tp_ceiling.client_cpu, NAN, 1);
	for (size_t i = 0; i < NUM_ZC_SIZES; i++) {
		size_name(sz, sizeof sz, zc_sizes[i]);
		snprintf(fig, sizeof fig, "send MB/s, %s: SEND_ZC on vs off", sz);
		row(fig, r->zc_on[i], r->zc_off[i], 1);
	}
	printf("\nA coroutine switch costs 1/%.0f of a getppid() syscall.\n", ratio(r->sw.getppid_ns, r->sw.coro_ns));
	if (r->crossover >= 0) {
		size_name(sz, sizeof sz, (uint32_t)r->crossover);
		printf("zero-copy crossover (loopback): SEND_ZC first at least as fast at %s\n", sz);
	} else {
		size_name(sz, sizeof sz, zc_sizes[NUM_ZC_SIZES - 1]);
		printf("zero-copy crossover (loopback): none up to %s (SEND_ZC never faster here)\n", sz);
	}
}

static struct json_object *jsummary_us(const struct bench_summary *s)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "count", json_object_new_int64((int64_t)s->count));
	json_object_object_add(o, "min_us", bench_jnum((double)s->min / 1e3, 2));
	json_object_object_add(o, "p50_us", bench_jnum((double)s->p50 / 1e3, 2));
	json_object_object_add(o, "p90_us", bench_jnum((double)s->p90 / 1e3, 2));
	json_object_object_add(o, "p99_us", bench_jnum((double)s->p99 / 1e3, 2));
	json_object_object_add(o, "p999_us", bench_jnum((double)s->p999 / 1e3, 2));
	json_object_object_add(o, "max_us", bench_jnum((double)s->max / 1e3, 2));
	json_object_object_add(o, "mean_us", bench_jnum(s->mean / 1e3, 2));
	return o;
}

static struct json_object *jtput(const struct tput *t)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "msgs_per_s", bench_jnum(t->msgs_per_s, 0));
	json_object_object_add(o, "mb_per_s", bench_jnum(t->mb_per_s, 1));
	json_object_object_add(o, "client_cpu", bench_jnum(t->client_cpu, 3));
	json_object_object_add(o, "server_cpu", bench_jnum(t->server_cpu, 3));
	json_object_object_add(o, "server_cpu_ns_per_msg", bench_jnum(t->server_cpu_ns, 0));
	return o;
}


/* Prints the JSON object to f. Returns 0 or -1 when writing failed. */
static int print_json(FILE *f, const struct results *r, const struct opts *o)
{
	char model[256];
	struct utsname u;
	struct json_object *root = json_object_new_object(), *m = json_object_new_object();
	struct json_object *sw = json_object_new_object(), *lat = json_object_new_object();
	struct json_object *tp = json_object_new_object(), *zc = json_object_new_object();
	struct json_object *pts = json_object_new_array();

	json_object_object_add(root, "tool", json_object_new_string("core"));
	json_object_object_add(root, "version", json_object_new_string(ATMOS_VERSION));
	bench_cpu_model(model, sizeof model);
	json_object_object_add(m, "nproc", json_object_new_int((int)sysconf(_SC_NPROCESSORS_ONLN)));
	json_object_object_add(m, "cpu_model", json_object_new_string(model));
	json_object_object_add(m, "kernel", json_object_new_string(uname(&u) == 0 ? u.release : "unknown"));
	json_object_object_add(m, "server_cpu", r->place.server_cpu >= 0 ? json_object_new_int(r->place.server_cpu) : NULL);
	json_object_object_add(m, "client_cpu", r->place.client_cpu >= 0 ? json_object_new_int(r->place.client_cpu) : NULL);
	json_object_object_add(m, "other_load", bench_jnum(r->other_load, 3));
	json_object_object_add(m, "steal", bench_jnum(r->steal, 3));
	json_object_object_add(root, "machine", m);

	json_object_object_add(sw, "runs", json_object_new_int(BENCH_RUNS));
	json_object_object_add(sw, "switches_per_run", json_object_new_int64(2 * (int64_t)SWITCH_PAIRS));
	json_object_object_add(sw, "coro_ns", bench_jnum(r->sw.coro_ns, 2));
	json_object_object_add(sw, "getppid_ns", bench_jnum(r->sw.getppid_ns, 2));
	json_object_object_add(sw, "write_devnull_ns", bench_jnum(r->sw.devnull_ns, 2));
	json_object_object_add(sw, "swapcontext_ns", bench_jnum(r->sw.swapctx_ns, 2));
	json_object_object_add(sw, "getppid_over_switch", bench_jnum(ratio(r->sw.getppid_ns, r->sw.coro_ns), 1));
	json_object_object_add(root, "switch", sw);

	json_object_object_add(lat, "size", json_object_new_int(LAT_SIZE));
	json_object_object_add(lat, "round_trips", json_object_new_int64((int64_t)o->round_trips));
	json_object_object_add(lat, "reactor", jsummary_us(&r->lat_ours));
	json_object_object_add(lat, "blocking", jsummary_us(&r->lat_base));
	json_object_object_add(root, "echo_latency", lat);

	json_object_object_add(tp, "conns", json_object_new_int((int)o->conns));
	json_object_object_add(tp, "size", json_object_new_int64((int64_t)o->size));
	json_object_object_add(tp, "window_msgs", json_object_new_int(ECHO_WINDOW));
	json_object_object_add(tp, "duration_s", bench_jnum((double)o->duration_ms / 1e3, 3));
	json_object_object_add(tp, "reactor", jtput(&r->tp_ours));
	json_object_object_add(tp, "blocking", jtput(&r->tp_base));
	json_object_object_add(tp, "client_ceiling", jtput(&r->tp_ceiling));
	json_object_object_add(root, "echo_throughput", tp);

	json_object_object_add(zc, "duration_s_per_point", bench_jnum((double)r->zc_ms / 1e3, 3));
	for (size_t i = 0; i < NUM_ZC_SIZES; i++) {
		struct json_object *pt = json_object_new_object();
		json_object_object_add(pt, "size", json_object_new_int64(zc_sizes[i]));
		json_object_object_add(pt, "off_mb_per_s", bench_jnum(r->zc_off[i], 1));
		json_object_object_add(pt, "on_mb_per_s", bench_jnum(r->zc_on[i], 1));
		json_object_object_add(pt, "on_over_off", bench_jnum(ratio(r->zc_on[i], r->zc_off[i]), 3));
		json_object_array_add(pts, pt);
	}
	json_object_object_add(zc, "points", pts);
	json_object_object_add(zc, "crossover", r->crossover >= 0 ? json_object_new_int64(r->crossover) : NULL);
	json_object_object_add(root, "zero_copy", zc);
	json_object_object_add(root, "ok", json_object_new_boolean(1));

	int flags = JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE;
	int rc = fprintf(f, "%s\n", json_object_to_json_string_ext(root, flags));
	json_object_put(root);
	return rc < 0 ? -1 : 0;
}

/* --- the command --- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: atmosphere-bench core [--json] [--json-out FILE] [--duration S] [--conns N]\n"
		"                             [--size BYTES] [--round-trips N]\n\n"
		"Measures the io_uring runtime beside baselines taken in the same run, on 127.0.0.1:\n"
		"  coroutine switch (ns)   vs a getppid() syscall, a 0-byte write, swapcontext\n"
		"  TCP echo RTT p50/p99    one connection, 64 B ping-pong, reactor vs blocking threads\n"
		"  TCP echo throughput     N connections x %d messages in flight, reactor vs blocking,\n"
		"                          and the load generator alone (its ceiling)\n"
		"  zero-copy send          MB/s with SEND_ZC forced on vs off, 4 KiB .. 1 MiB\n\n"
		"Options:\n"
		"  --json            print one JSON object instead of the table\n"
		"  --json-out FILE   also write that JSON object to FILE\n"
		"  --duration S      measured throughput time of each server, split over %d\n"
		"                    rounds (default 3s); a third of it, 300ms to 10s, for each\n"
		"                    zero-copy point\n"
		"  --conns N         throughput connections, 1..%d (default %d)\n"
		"  --size BYTES      throughput message size, 1..1M, K/M suffixes (default 16K)\n"
		"  --round-trips N   latency round trips, 100..%d (default %d)\n\n"
		"Servers run on the first allowed CPU, the client on the second. The default run\n"
		"takes about 25 seconds. Exit status: 0 ok, 1 a server or measurement failed, 2 usage.\n",
		ECHO_WINDOW, ROUNDS, CONNS_MAX, CONNS_DEFAULT, LAT_MAX, LAT_DEFAULT);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.duration_ms = DURATION_DEFAULT_MS, .conns = CONNS_DEFAULT, .size = ECHO_SIZE_DEFAULT,
			   .round_trips = LAT_DEFAULT};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		uint64_t v;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--json")) {
			o->json = true;
			continue;
		}
		if (strcmp(a, "--duration") && strcmp(a, "--conns") && strcmp(a, "--size") && strcmp(a, "--round-trips") &&
		    strcmp(a, "--json-out"))
			return bench_usage_error(CMD, "unknown option '%s'", a);
		if (i + 1 >= argc)
			return bench_usage_error(CMD, "%s needs a value", a);
		const char *val = argv[++i];
		if (!strcmp(a, "--json-out")) {
			o->json_out = val;
		} else if (!strcmp(a, "--duration")) {
			if (!bench_parse_duration(CMD, a, val, 100, DURATION_MAX_MS, &o->duration_ms))
				return 2;
		} else if (!strcmp(a, "--conns")) {
			if (!bench_parse_uint(CMD, a, val, 1, CONNS_MAX, &v))
				return 2;
			o->conns = (unsigned)v;
		} else if (!strcmp(a, "--size")) {
			if (!bench_parse_size(CMD, a, val, 1, MSG_SIZE_MAX, &v))
				return 2;
			o->size = (size_t)v;
		} else {
			if (!bench_parse_uint(CMD, a, val, 100, LAT_MAX, &v))
				return 2;
			o->round_trips = (unsigned)v;
		}
	}
	return -1; /* go on */
}

/* Section 2: latency and throughput, reactor vs blocking vs the ceiling, in
 * alternating rounds. */
static int run_echo(const struct opts *o, struct results *r)
{
	struct rsrv echo;
	struct psrv plain;
	struct tput ours[ROUNDS], base[ROUNDS], alone[ROUNDS];
	struct opts round = *o;
	int rc = -1;
	size_t num_ours = 0, num_base = 0;
	uint64_t *s_ours = malloc((size_t)o->round_trips * sizeof *s_ours);
	uint64_t *s_base = malloc((size_t)o->round_trips * sizeof *s_base);
	uint8_t *src = malloc(o->size), *scratch = malloc(RECV_CHUNK);
	if (!s_ours || !s_base || !src || !scratch) {
		fprintf(stderr, "atmosphere-bench core: out of memory\n");
		goto out_mem;
	}
	memset(src, 'e', o->size);
	if (rsrv_start(&echo, "reactor echo server", echo_conn, 0, r->place.server_cpu))
		goto out_mem;
	if (psrv_init(&plain, r->place.server_cpu))
		goto out_echo;

	progress("echo latency: %u round trips of %d B each, reactor and blocking in %d rounds", o->round_trips,
		 LAT_SIZE, ROUNDS);
	for (unsigned i = 0; i < ROUNDS; i++) {
		unsigned per_round = o->round_trips / ROUNDS + (i < o->round_trips % ROUNDS);
		if (latency_round("reactor echo server", echo.port, per_round, s_ours, &num_ours))
			goto out_plain;
		if (psrv_round(&plain, 1))
			goto out_plain;
		int lrc = latency_round("blocking echo server", plain.port, per_round, s_base, &num_base);
		psrv_join(&plain);
		if (fail_report(&plain.fail, "blocking echo server") || lrc)
			goto out_plain;
	}
	summarise(s_ours, num_ours, &r->lat_ours);
	summarise(s_base, num_base, &r->lat_base);

	round.duration_ms = o->duration_ms / ROUNDS;
	progress("echo throughput: %u conns x %zu B, %d rounds of %.2f s each: reactor, blocking, client alone",
		 o->conns, o->size, ROUNDS, (double)round.duration_ms / 1e3);
	for (int i = 0; i < ROUNDS; i++) {
		if (measure_tput("reactor echo server", echo.port, -1, &round, src, scratch, &ours[i]))
			goto out_plain;
		if (psrv_round(&plain, o->conns))
			goto out_plain;
		int trc = measure_tput("blocking echo server", plain.port, -1, &round, src, scratch, &base[i]);
		psrv_join(&plain);
		if (fail_report(&plain.fail, "blocking echo server") || trc)
			goto out_plain;
		/* The ceiling: this thread writes one end and reads the other of
		 * loopback pairs; the plain listener only makes the pairs. */
		if (measure_tput("loopback pairs (no server)", plain.port, plain.listen_fd, &round, src, scratch, &alone[i]))
			goto out_plain;
	}
	r->tp_ours = median_tput(ours);
	r->tp_base = median_tput(base);
	r->tp_ceiling = median_tput(alone);
	rc = 0;
out_plain:
	psrv_cleanup(&plain);
out_echo:
	if (rsrv_stop(&echo))
		rc = -1;
out_mem:
	free(s_ours);
	free(s_base);
	free(src);
	free(scratch);
	return rc;
}

/* Section 3: SEND_ZC forced off and on; sizes and modes alternate, ROUNDS
 * times, and each point reports its median. */
static int run_zc(const struct opts *o, struct results *r)
{
	struct rsrv off, on;
	double v_off[NUM_ZC_SIZES][ROUNDS], v_on[NUM_ZC_SIZES][ROUNDS];
	int rc = -1;
	uint8_t *scratch = malloc(RECV_CHUNK);
	uint64_t ms = o->duration_ms / 3;
	r->zc_ms = (uint32_t)(ms < ZC_MS_MIN ? ZC_MS_MIN : ms > ZC_MS_MAX ? ZC_MS_MAX : ms);
	uint32_t round_ms = r->zc_ms / ROUNDS;
	if (!scratch)
		return -1;
	if (rsrv_start(&off, "reactor sender, SEND_ZC off", blast_conn, UINT32_MAX, r->place.server_cpu))
		goto out_mem;
	if (rsrv_start(&on, "reactor sender, SEND_ZC on", blast_conn, 1, r->place.server_cpu))
		goto out_off;
	progress("zero-copy send: %zu sizes x 2 modes, %d rounds of %.2f s each", NUM_ZC_SIZES, ROUNDS,
		 (double)round_ms / 1e3);
	for (int k = 0; k < ROUNDS; k++) {
		for (size_t i = 0; i < NUM_ZC_SIZES; i++) {
			int e = measure_blast(off.port, zc_sizes[i], round_ms, scratch, &v_off[i][k]);
			if (!e)
				e = measure_blast(on.port, zc_sizes[i], round_ms, scratch, &v_on[i][k]);
			if (e) {
				fprintf(stderr, "atmosphere-bench core: zero-copy client, %u B: %s\n", zc_sizes[i],
					strerror(-e));
				goto out_on;
			}
		}
	}
	r->crossover = -1;
	for (size_t i = 0; i < NUM_ZC_SIZES; i++) {
		r->zc_off[i] = bench_median(v_off[i], ROUNDS);
		r->zc_on[i] = bench_median(v_on[i], ROUNDS);
		if (r->crossover < 0 && r->zc_on[i] >= r->zc_off[i])
			r->crossover = zc_sizes[i];
	}
	rc = 0;
out_on:
	if (rsrv_stop(&on))
		rc = -1;
out_off:
	if (rsrv_stop(&off))
		rc = -1;
out_mem:
	free(scratch);
	return rc;
}

int bench_cmd_core(int argc, char **argv)
{
	struct opts o;
	struct results r;
	int prc = parse_opts(argc, argv, &o);
	if (prc >= 0)
		return prc;
	memset(&r, 0, sizeof r);
	signal(SIGPIPE, SIG_IGN); /* a server that dies must show as an error, not kill us */
	r.place = placement_pick();
	pin_self(r.place.client_cpu);
	struct cpu_ticks t0, t1;
	cpu_ticks_read(&t0);

	progress("coroutine switch: %d runs of %d switches, beside syscalls and swapcontext", BENCH_RUNS,
		 2 * SWITCH_PAIRS);
	if (measure_switch(&r.sw))
		return 1;
	if (run_echo(&o, &r))
		return 1;
	if (run_zc(&o, &r))
		return 1;
	cpu_ticks_read(&t1);
	cpu_ticks_other(&t0, &t1, &r.other_load, &r.steal);
	if (o.json_out) {
		FILE *f = fopen(o.json_out, "w");
		int bad = !f;
		if (f) {
			bad |= print_json(f, &r, &o) != 0;
			bad |= fclose(f) != 0;
		}
		if (bad) {
			fprintf(stderr, "atmosphere-bench core: --json-out '%s': %s\n", o.json_out, strerror(errno));
			return 1;
		}
	}
	if (o.json)
		return print_json(stdout, &r, &o) ? 1 : 0;
	print_table(&r, &o);
	return 0;
}
