/* bench/bench_stun_client.c: `atmosphere-bench stun --client` (see
 * bench/bench_stun_client.h). */
#include "bench/bench_stun_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <malloc.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/proc.h"
#include "bench/report.h"
#include "core/reactor.h"
#include "core/udp.h"
#include "stun/client.h"
#include "stun/resolve.h"
#include "opt/table.h"

#define CMD "stun --client"

enum {
	ROUNDS_DEFAULT = 20,
	ROUNDS_MAX = 10000,
	CHILD_TIMEOUT_MS = 20000,
	CHILD_RUNS = 3,
	IPV4_UDP_HEADERS = 28,      /* bytes on the wire per datagram beyond the payload */
};

struct copts {
	struct stun_endpoint servers[STUN_CLIENT_MAX_SERVERS];
	const char *server_text[STUN_CLIENT_MAX_SERVERS];
	size_t num_servers;
	unsigned rounds;
	const char *atmosphere;     /* for the whole-process figures; NULL: skipped */
	bool client;                /* --client, which brought us here */
	bool json;
	const char *json_out, *label;
};

/* struct fwd: the counting forwarder of one server. */
struct fwd {
	struct crun *run;
	struct core_udp *front;     /* the client's side */
	struct sockaddr_storage client;
	socklen_t client_len;
};

struct crun {
	const struct copts *o;
	struct fwd fwd[STUN_CLIENT_MAX_SERVERS];
	struct core_udp *up;        /* toward every server */
	struct stun_endpoint via[STUN_CLIENT_MAX_SERVERS];  /* the forwarders, as the client sees them */
	unsigned readers;
	bool stopping;
	uint64_t up_bytes, up_dgrams, down_bytes, down_dgrams, stray;
	/* per phase: first discovery, then the rest */
	uint64_t first_bytes, first_dgrams;
	long rss_rt_kib, rss_first_kib, rss_rest_kib;
	size_t heap_rt, heap_first, heap_rest;
	unsigned done, answered_all, sends;
	double first_ms, rest_ms_median;
	int failed;
};

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static bool same_addr(const struct sockaddr_storage *a, socklen_t alen, const struct sockaddr_storage *b,
		      socklen_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

static void front_main(void *arg)
{
	struct fwd *f = arg;
	struct crun *r = f->run;
	size_t i = (size_t)(f - r->fwd);
	for (unsigned n = 0; n < 100000000u && !r->stopping; n++) {
		struct core_dgram d;
		int len = core_udp_recv(f->front, &d, 100);
		if (len == -ETIMEDOUT)
			continue;
		if (len < 0)
			break;
		memcpy(&f->client, &d.from, d.from_len);
		f->client_len = d.from_len;
		r->up_bytes += (uint64_t)len;
		r->up_dgrams++;
		const struct stun_endpoint *s = &r->o->servers[i];
		core_udp_sendto(r->up, d.data, (size_t)len, (const struct sockaddr *)&s->addr, s->addr_len, 1000);
		core_buf_release(&d.buf);
	}
	r->readers--;
}

static void up_main(void *arg)
{
	struct crun *r = arg;
	for (unsigned n = 0; n < 100000000u && !r->stopping; n++) {
		struct core_dgram d;
		int len = core_udp_recv(r->up, &d, 100);
		if (len == -ETIMEDOUT)
			continue;
		if (len < 0)
			break;
		size_t i = 0;
		while (i < r->o->num_servers &&
		       !same_addr(&r->o->servers[i].addr, r->o->servers[i].addr_len, &d.from, d.from_len))
			i++;
		if (i == r->o->num_servers || !r->fwd[i].client_len) {
			r->stray++;
		} else {
			r->down_bytes += (uint64_t)len;
			r->down_dgrams++;
			core_udp_sendto(r->fwd[i].front, d.data, (size_t)len, (const struct sockaddr *)&r->fwd[i].client,
					r->fwd[i].client_len, 1000);
		}
		core_buf_release(&d.buf);
	}
	r->readers--;
}

static struct core_udp *udp_on_loopback(int *err)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = core_udp_bind((const struct sockaddr *)&a, sizeof a, false);
	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	return core_udp_new(fd, err);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void client_main(void *arg)
{
	struct crun *r = arg;
	const struct copts *o = r->o;
	struct core_rt *rt = core_reactor_rt(core_self());
	struct core_udp *c = NULL;
	struct stun_discovery *d = NULL;
	double *ms = NULL;
	int err = 0;

	/* 1. The forwarders. */
	r->up = udp_on_loopback(&err);
	for (size_t i = 0; r->up && i < o->num_servers; i++) {
		struct fwd *f = &r->fwd[i];
		f->run = r;
		f->front = udp_on_loopback(&err);
		if (!f->front)
			break;
		struct sockaddr_storage a;
		socklen_t alen = sizeof a;
		getsockname(core_udp_fd(f->front), (struct sockaddr *)&a, &alen);
		char text[32];
		snprintf(text, sizeof text, "127.0.0.1:%u", ntohs(((struct sockaddr_in *)&a)->sin_port));
		stun_endpoint_parse(&r->via[i], text, STUN_DEFAULT_PORT);
		r->readers++;
		if (core_spawn(front_main, f) < 0)
			r->readers--;
	}
	if (!r->up || err) {
		fprintf(stderr, "atmosphere-bench " CMD ": forwarder sockets: %s\n", strerror(-err));
		goto fail;
	}
	r->readers++;
	if (core_spawn(up_main, r) < 0)
		r->readers--;

	/* 2. The client's socket, as `atmosphere network` binds it. */
	struct sockaddr_in any = {.sin_family = AF_INET};
	int fd = core_udp_bind((const struct sockaddr *)&any, sizeof any, false);
	c = fd >= 0 ? core_udp_new(fd, &err) : NULL;
	d = malloc(sizeof *d);
	ms = calloc(o->rounds, sizeof *ms);
	if (!c || !d || !ms) {
		fprintf(stderr, "atmosphere-bench " CMD ": client socket: %s\n", strerror(fd < 0 ? -fd : err ? -err : ENOMEM));
		goto fail;
	}
	r->rss_rt_kib = bench_proc_rss_kib(0);
	r->heap_rt = heap_in_use();

	/* 3. Discoveries: the first one cold, then the rest; no cache, so
	 * each one asks every server. */
	struct stun_client_opts co = {.software = "atmosphere", .no_cache = true};
	for (unsigned k = 0; k < o->rounds; k++) {
		uint64_t t0 = bench_mono_ns();
		int rc = stun_discover(c, r->via, o->num_servers, &co, d);
		ms[k] = (double)(bench_mono_ns() - t0) / 1e6;
		if (rc < 0) {
			fprintf(stderr, "atmosphere-bench " CMD ": stun_discover: %s\n", strerror(-rc));
			goto fail;
		}
		r->done++;
		r->answered_all += d->status == 0 && d->num_answered == o->num_servers;
		for (size_t i = 0; i < d->num_servers; i++)
			r->sends += d->servers[i].probe.sends;
		if (k == 0) {
			r->rss_first_kib = bench_proc_rss_kib(0);
			r->heap_first = heap_in_use();
			r->first_bytes = r->up_bytes + r->down_bytes;
			r->first_dgrams = r->up_dgrams + r->down_dgrams;
			r->first_ms = ms[0];
		}
	}
	r->rss_rest_kib = bench_proc_rss_kib(0);
	r->heap_rest = heap_in_use();
	if (o->rounds > 1) {
		qsort(ms + 1, o->rounds - 1, sizeof *ms, cmp_double);
		r->rest_ms_median = ms[1 + (o->rounds - 1) / 2];
	}
	goto out;
fail:
	r->failed = 1;
out:
	free(ms);
	free(d);
	core_udp_close(c);
	r->stopping = true;
	for (unsigned i = 0; r->readers && i < 2000; i++)
		core_sleep(1);
	for (size_t i = 0; i < o->num_servers; i++)
		core_udp_close(r->fwd[i].front);
	core_udp_close(r->up);
	core_rt_shutdown(rt);
}

/* --- whole processes ------------------------------------------------------ */

/* child_maxrss runs argv (stdout and stderr to /dev/null, env with
 * ATMOSPHERE_HOME set to an empty directory: no relays to check) and returns
 * its peak RSS in KiB, or -1; *out_status gets its exit status. */
static long child_maxrss(char *const argv[], const char *home, int *out_status)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		FILE *null = freopen("/dev/null", "w", stdout);
		(void)null;
		null = freopen("/dev/null", "w", stderr);
		setenv("ATMOSPHERE_HOME", home, 1);
		unsetenv("ATMOSPHERE_STUN");
		execv(argv[0], argv);
		_exit(127);
	}
	struct rusage ru;
	int st = 0;
	for (unsigned i = 0; i < CHILD_TIMEOUT_MS / 5; i++) {
		pid_t w = wait4(pid, &st, WNOHANG, &ru);
		if (w == pid) {
			*out_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			return ru.ru_maxrss;
		}
		nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
	}
	kill(pid, SIGKILL);
	wait4(pid, &st, 0, &ru);
	*out_status = -1;
	return -1;
}

static long median_long(long *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			long t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

struct cproc {
	long version_kib, network_kib;
	int network_status;
	bool measured;
};

static void measure_processes(const struct copts *o, struct cproc *p)
{
	char home[] = "/tmp/atmos-bench-home.XXXXXX";
	if (!o->atmosphere || !mkdtemp(home))
		return;
	char *vargv[] = {(char *)o->atmosphere, "--version", NULL};
	char *nargv[4 + 2 * STUN_CLIENT_MAX_SERVERS] = {(char *)o->atmosphere, "network", "--json"};
	int n = 3;
	for (size_t i = 0; i < o->num_servers; i++) {
		nargv[n++] = "--stun";
		nargv[n++] = (char *)o->server_text[i];
	}
	nargv[n] = NULL;
	long v[CHILD_RUNS], w[CHILD_RUNS];
	int st = 0;
	p->network_status = 0;
	for (int i = 0; i < CHILD_RUNS; i++) {
		v[i] = child_maxrss(vargv, home, &st);
		w[i] = child_maxrss(nargv, home, &st);
		if (st)
			p->network_status = st;
	}
	rmdir(home);
	p->version_kib = median_long(v, CHILD_RUNS);
	p->network_kib = median_long(w, CHILD_RUNS);
	p->measured = true;
}

/* --- options and report --------------------------------------------------- */

/* --server, repeated: one more server each time. */
static int take_server(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	struct copts *o = dst;
	(void)s;
	if (o->num_servers >= STUN_CLIENT_MAX_SERVERS)
		return opt_usage_error(t, "at most %d --server", STUN_CLIENT_MAX_SERVERS);
	struct stun_endpoint *e = &o->servers[o->num_servers];
	struct sockaddr_in *sin = (struct sockaddr_in *)&e->addr;
	if (stun_endpoint_parse(e, val, STUN_DEFAULT_PORT) || inet_pton(AF_INET, e->host, &sin->sin_addr) != 1)
		return opt_usage_error(t, "--server '%s': give a numeric IPv4 address and port", val);
	sin->sin_family = AF_INET;
	sin->sin_port = htons(e->port);
	e->addr_len = sizeof *sin;
	e->err = 0;
	o->server_text[o->num_servers++] = val;
	return 0;
}

static const struct opt_spec client_specs[] = {
	{"--client", OPT_FLAG, OPT_FIELD(struct copts, client)}, /* what chose this mode */
	{"--server", OPT_CUSTOM, .parse = take_server, .arg = "HOST:PORT",
	 .help = "a STUN server (numeric IPv4; repeat, up to {0})", .help_args = {STUN_CLIENT_MAX_SERVERS}},
	{"--rounds", OPT_UINT, OPT_FIELD(struct copts, rounds), .min = 1, .max = ROUNDS_MAX, .arg = "N",
	 .help = "discoveries, the first one counted apart (default {0})", .help_args = {ROUNDS_DEFAULT}},
	{"--atmosphere", OPT_STRING, OPT_FIELD(struct copts, atmosphere), .arg = "PATH",
	 .help = "the atmosphere binary, for the whole-process figures"},
	{"--label", OPT_STRING, OPT_FIELD(struct copts, label), .arg = "TEXT", .help = "copied into the JSON"},
	{"--json", OPT_FLAG, OPT_FIELD(struct copts, json), .help = "print one JSON object instead of the table"},
	{"--json-out", OPT_STRING, OPT_FIELD(struct copts, json_out), .arg = "FILE",
	 .help = "also write that JSON object to FILE"},
};

static const struct opt_table client_table = {
	.prog = "atmosphere-bench",
	.cmd = CMD,
	.specs = client_specs,
	.num_specs = sizeof client_specs / sizeof client_specs[0],
	.head = "usage: atmosphere-bench stun --client --server HOST:PORT [--server HOST:PORT ...] [OPTIONS]\n\n"
		"What one STUN discovery (stun_discover) costs: UDP bytes and datagrams per\n"
		"discovery, counted by a forwarder in front of each server; this process's RSS\n"
		"and heap before and after; with --atmosphere, the peak RSS of a whole\n"
		"`atmosphere network --json --stun ...` beside `atmosphere --version`.\n\n"
		"Options:\n",
	.column = 23,
};

static int parse(int argc, char **argv, struct copts *o)
{
	*o = (struct copts){.rounds = ROUNDS_DEFAULT};
	int rc = opt_table_parse(&client_table, o, argc, argv, stdout, NULL);
	if (rc >= 0)
		return rc;
	if (!o->num_servers)
		return opt_usage_error(&client_table, "--server HOST:PORT is required");
	return -1;
}

static struct json_object *report(const struct copts *o, const struct crun *r, const struct cproc *p,
				  long rss_start_kib, size_t heap_start)
{
	struct json_object *j = json_object_new_object(), *b = json_object_new_object(), *m = json_object_new_object();
	unsigned rest = r->done > 1 ? r->done - 1 : 0;
	uint64_t bytes = r->up_bytes + r->down_bytes, dgrams = r->up_dgrams + r->down_dgrams;
	json_object_object_add(j, "tool", json_object_new_string("stun-client"));
	json_object_object_add(j, "label", o->label ? json_object_new_string(o->label) : NULL);
	json_object_object_add(j, "servers", json_object_new_int64((int64_t)o->num_servers));
	json_object_object_add(j, "discoveries", json_object_new_int64(r->done));
	json_object_object_add(j, "all_answered", json_object_new_int64(r->answered_all));
	json_object_object_add(j, "requests_sent", json_object_new_int64(r->sends));
	json_object_object_add(j, "first_ms", bench_report_num(r->first_ms, 2));
	json_object_object_add(j, "median_ms", rest ? bench_report_num(r->rest_ms_median, 2) : NULL);
	json_object_object_add(b, "per_discovery", bench_report_num((double)bytes / r->done, 1));
	json_object_object_add(b, "per_discovery_wire",
			       bench_report_num((double)(bytes + IPV4_UDP_HEADERS * dgrams) / r->done, 1));
	json_object_object_add(b, "sent", json_object_new_int64((int64_t)r->up_bytes));
	json_object_object_add(b, "received", json_object_new_int64((int64_t)r->down_bytes));
	json_object_object_add(b, "datagrams_per_discovery", bench_report_num((double)dgrams / r->done, 2));
	json_object_object_add(b, "first", json_object_new_int64((int64_t)r->first_bytes));
	json_object_object_add(b, "stray", json_object_new_int64((int64_t)r->stray));
	json_object_object_add(j, "bytes", b);
	json_object_object_add(m, "rss_start_kib", json_object_new_int64(rss_start_kib));
	json_object_object_add(m, "rss_runtime_kib", json_object_new_int64(r->rss_rt_kib));
	json_object_object_add(m, "rss_first_kib", json_object_new_int64(r->rss_first_kib));
	json_object_object_add(m, "rss_rest_kib", json_object_new_int64(r->rss_rest_kib));
	json_object_object_add(m, "rss_first_delta_kib", json_object_new_int64(r->rss_first_kib - r->rss_rt_kib));
	json_object_object_add(m, "rss_rest_delta_kib", json_object_new_int64(r->rss_rest_kib - r->rss_first_kib));
	json_object_object_add(m, "heap_start", json_object_new_int64((int64_t)heap_start));
	json_object_object_add(m, "heap_first_delta", json_object_new_int64((int64_t)r->heap_first - (int64_t)r->heap_rt));
	json_object_object_add(m, "heap_rest_delta", json_object_new_int64((int64_t)r->heap_rest - (int64_t)r->heap_first));
	json_object_object_add(m, "sizeof_discovery", json_object_new_int64((int64_t)sizeof(struct stun_discovery)));
	json_object_object_add(m, "sizeof_discover_frame",
			       json_object_new_int64((int64_t)(STUN_CLIENT_MAX_SERVERS *
							      (sizeof(struct stun_probe) + sizeof(struct stun_endpoint)))));
	json_object_object_add(m, "process_version_maxrss_kib", p->measured ? json_object_new_int64(p->version_kib) : NULL);
	json_object_object_add(m, "process_network_maxrss_kib", p->measured ? json_object_new_int64(p->network_kib) : NULL);
	json_object_object_add(m, "process_network_status", p->measured ? json_object_new_int64(p->network_status) : NULL);
	json_object_object_add(j, "memory", m);
	json_object_object_add(j, "ok", json_object_new_boolean(!r->failed && r->answered_all == r->done));
	return j;
}

/* Rows: the figure in ROW_WIDTH columns, then its value. */
#define ROW_WIDTH 52

static void print_table(FILE *f, const struct copts *o, const struct crun *r, const struct cproc *p,
			long rss_start_kib)
{
	uint64_t bytes = r->up_bytes + r->down_bytes, dgrams = r->up_dgrams + r->down_dgrams;
	fprintf(f, "atmosphere-bench stun --client: %zu server(s), %u discoveries (%u answered by all)\n\n",
		o->num_servers, r->done, r->answered_all);
	bench_report_row(f, ROW_WIDTH, "UDP payload bytes per discovery", "%.1f (%.1f with IPv4+UDP headers)",
			 (double)bytes / r->done, (double)(bytes + IPV4_UDP_HEADERS * dgrams) / r->done);
	bench_report_row(f, ROW_WIDTH, "datagrams per discovery", "%.2f", (double)dgrams / r->done);
	bench_report_row(f, ROW_WIDTH, "time ms: first / median of the rest", "%.2f / %.2f", r->first_ms,
			 r->rest_ms_median);
	bench_report_row(f, ROW_WIDTH, "VmRSS KiB: start, runtime up, 1st, all discoveries", "%ld -> %ld -> %ld -> %ld",
			 rss_start_kib, r->rss_rt_kib, r->rss_first_kib, r->rss_rest_kib);
	bench_report_row(f, ROW_WIDTH, "heap in use, bytes: first discovery / the rest", "%zd / %zd",
			 (ssize_t)r->heap_first - (ssize_t)r->heap_rt, (ssize_t)r->heap_rest - (ssize_t)r->heap_first);
	bench_report_row(f, ROW_WIDTH, "struct stun_discovery (caller storage), bytes", "%zu",
			 sizeof(struct stun_discovery));
	if (p->measured)
		bench_report_row(f, ROW_WIDTH, "peak RSS KiB: atmosphere --version / network", "%ld / %ld (exit %d)",
				 p->version_kib, p->network_kib, p->network_status);
}

int bench_stun_client_cmd(int argc, char **argv)
{
	struct copts o;
	struct crun r;
	struct cproc p = {0};
	int prc = parse(argc, argv, &o);
	if (prc >= 0)
		return prc;
	memset(&r, 0, sizeof r);
	r.o = &o;
	long rss_start = bench_proc_rss_kib(0);
	size_t heap_start = heap_in_use();
	struct core_rt_opts ro = {.num_threads = 1, .shutdown_grace_ms = 500};
	int err = 0;
	struct core_rt *rt = core_rt_new(&ro, &err);
	if (!rt) {
		fprintf(stderr, "atmosphere-bench " CMD ": %s\n", core_rt_explain(err));
		return 1;
	}
	int rc = core_rt_run(rt, client_main, &r);
	core_rt_free(rt);
	if (rc < 0 || r.failed || !r.done)
		return 1;
	measure_processes(&o, &p);
	struct json_object *j = report(&o, &r, &p, rss_start, heap_start);
	int status = 0;
	if (o.json_out && bench_report_json_file(CMD, o.json_out, j))
		status = 1;
	if (o.json)
		bench_report_json_print(stdout, j);
	else
		print_table(stdout, &o, &r, &p, rss_start);
	json_object_put(j);
	return status;
}
