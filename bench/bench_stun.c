/* atmosphere-bench stun: Binding requests/s a STUN server answers, loss and
 * latency, on the io_uring reactor (issue 6).
 *
 * Two ways to load the server:
 *   max (--rate 0, the default)  every socket keeps --window requests in
 *        flight and sends the next one when an answer comes: answers/s is the
 *        server's capacity (or the generator's, see below). Latency is from
 *        each request's actual send: a closed loop, so under overload it
 *        hides queueing (the figure of interest here is the rate).
 *   paced (--rate N)  one pacer per thread sends N requests/s in all, spread
 *        over the sockets, each stamped with its scheduled time: latency
 *        from the schedule, corrected for coordinated omission
 *        (bench/sched.h), and loss is what did not come back.
 * Requests are the 20-byte header alone, and the transaction id carries the
 * stamp (bench/stun_probe.h), so answers need no lookup table.
 *
 * The generator's ceiling: `atmosphere-bench stun --reflect HOST:PORT` runs
 * the cheapest complete STUN server (answer every Binding request with
 * XOR-MAPPED-ADDRESS, nothing checked), pinned like any server; the same
 * load against it shows how many answers/s the generator itself can take.
 *
 * Counting: a request belongs to the measured time when it was sent (or
 * scheduled) within it; it is answered when its answer arrives before the
 * end of the drain (DRAIN_MS later). Loss = sent - answered of those.
 * Bounds: every wait has a deadline; errors are counted, not fatal.
 *
 * Garbage flood (--garbage-rate N, issue 3): time from the start is cut in
 * FLOOD_SLOT_MS slots; in every odd one, reactor 0 also sends malformed
 * datagrams (bench/stun_flood.h) at N/s from sockets of their own. Each
 * valid request counts toward "quiet" or "flood" by the slot of its send
 * (or scheduled) time, so both figures come from the same run, interleaved,
 * and a burst of load from elsewhere hits both. The flood shares the
 * generator's thread: its own cost shows as send lag (actual send minus
 * schedule), reported per slot kind beside the latency.
 *
 * Latency goes into bench/hist.h's mergeable histogram, the one `relay`
 * uses (1/1024 bucket precision, the same layout), and --hist-out writes
 * the measured window's as one line: `atmosphere-bench merge` adds STUN runs
 * up exactly as it adds relay runs. Send lag keeps bench/stats.h's smaller
 * histogram: it is reported, never merged.
 *
 * Client cost (--client, bench/bench_stun_client.c): bytes and memory of one
 * stun_discover, a different measurement with its own options. */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench/hist.h"
#include "bench/load.h"
#include "bench/proc.h"
#include "bench/bench.h"
#include "bench/relay_opts.h"
#include "bench/report.h"
#include "bench/sched.h"
#include "bench/stats.h"
#include "bench/bench_stun_client.h"
#include "bench/stun_flood.h"
#include "bench/stun_probe.h"
#include "bench/ws_load.h"
#include "core/reactor.h"
#include "core/udp.h"
#include "net/resolve.h"
#include "opt/table.h"

#ifndef ATMOS_VERSION
#define ATMOS_VERSION "0.1.0"
#endif

#define CMD "stun"

enum {
	SOCKETS_DEFAULT = 16,
	SOCKETS_MAX = 1024,
	WINDOW_DEFAULT = 32,
	WINDOW_MAX = 4096,
	RATE_MAX = 5000000,
	THREADS_MAX = 64,
	RECV_SLICE_MS = 100,        /* receivers wake this often to look at the phase */
	LOSS_MS = 200,              /* max mode: a socket silent this long lost its window */
	DRAIN_MS = 300,             /* after the measured time, for answers in flight */
	GARBAGE_RATE_MAX = 2000000,
	FLOOD_SLOT_MS = 250,        /* quiet and flood slots alternate this often */
};

enum { QUIET, FLOOD, NUM_SLOTS };

static const uint64_t DURATION_DEFAULT_MS = 3000, DURATION_MAX_MS = 600000, WARMUP_DEFAULT_MS = 500;


struct sopts {
	char host[BENCH_RELAY_HOST_MAX + 1];
	uint16_t port;
	bool reflect;
	uint64_t duration_ms, warmup_ms;
	unsigned rate, sockets, window, threads, garbage_rate;
	int server_pid;
	bool json;
	const char *json_out, *label;
	const char *hist_out;       /* latency histogram line (bench/hist.h), for `merge` */
};

struct srun;

struct ssock {
	struct core_udp *u;
	struct sworker *w;
	unsigned inflight;
	uint64_t last_rx_ns;
};

struct sworker {
	struct srun *run;
	unsigned idx;
	struct ssock *socks;
	unsigned num_socks;
	unsigned readers;           /* receiver coroutines still running */
	struct bench_hdr *hist[NUM_SLOTS];    /* latency, by the slot of the send */
	struct bench_hist *lag[NUM_SLOTS];    /* paced: actual send - schedule */
	uint64_t sent_win[NUM_SLOTS], answered_win[NUM_SLOTS], errors_win[NUM_SLOTS];
	uint64_t sent, bad, send_errors;
	_Atomic uint64_t answered;  /* for progress */
	uint64_t rate;              /* paced: this thread's share of --rate */
};

struct srun {
	const struct sopts *o;
	struct bench_load load;         /* runtime, workers, phases, timeline */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	uint32_t tag;
	struct sworker *w;
	uint64_t cpu0, cpu1, srv0, srv1;
	bool failed;
	struct bench_stun_flood flood;  /* --garbage-rate: reactor 0's */
	bool flood_running;
	uint64_t flood_sent_win;        /* garbage scheduled within the measured time and sent */
};

/* slot_of says whether the flood is on at time t: odd slots from the start
 * of the load, never without --garbage-rate. */
static unsigned slot_of(const struct srun *r, uint64_t t)
{
	if (!r->o->garbage_rate || t < r->load.t_run0)
		return QUIET;
	return ((t - r->load.t_run0) / ((uint64_t)FLOOD_SLOT_MS * 1000000u)) % 2 ? FLOOD : QUIET;
}

/* --- sending --- */

static void send_one(struct ssock *s, uint64_t stamp)
{
	struct sworker *w = s->w;
	struct srun *r = w->run;
	uint8_t req[BENCH_STUN_HEADER_LEN];
	bench_stun_request(req, r->tag, stamp);
	int rc = core_udp_sendto_nowait(s->u, req, sizeof req, (const struct sockaddr *)&r->addr, r->addr_len);
	if (rc == -ENOBUFS) /* every send slot in flight: wait for this one */
		rc = core_udp_sendto(s->u, req, sizeof req, (const struct sockaddr *)&r->addr, r->addr_len, 1000);
	if (rc < 0) {
		w->send_errors++;
		return;
	}
	w->sent++;
	if (bench_load_in_window(&r->load, stamp)) {
		unsigned k = slot_of(r, stamp);
		w->sent_win[k]++;
		if (r->o->rate)
			bench_hist_record(w->lag[k], bench_sched_latency(stamp, bench_mono_ns()));
	}
}

/* Max mode: tops the socket's window up, while the measured time lasts. */
static void top_up(struct ssock *s)
{
	struct srun *r = s->w->run;
	for (unsigned i = 0; s->inflight < r->o->window && i < WINDOW_MAX; i++) {
		uint64_t now = bench_mono_ns();
		if (now >= r->load.t_meas1)
			return;
		s->inflight++;
		send_one(s, now);
	}
}

static void reader_main(void *arg)
{
	struct ssock *s = arg;
	struct sworker *w = s->w;
	struct srun *r = w->run;
	bool max_mode = r->o->rate == 0;
	for (unsigned i = 0; i < 100000000u; i++) {
		int ph = bench_load_phase(&r->load);
		if (ph >= BENCH_LOAD_DONE)
			break;
		if (max_mode && ph == BENCH_LOAD_RUN && s->inflight == 0)
			top_up(s);
		struct core_dgram d;
		int n = core_udp_recv(s->u, &d, RECV_SLICE_MS);
		uint64_t now = bench_mono_ns();
		if (n == -ETIMEDOUT) {
			if (max_mode && s->inflight && now - s->last_rx_ns > (uint64_t)LOSS_MS * 1000000u) {
				s->inflight = 0; /* lost: counted as sent - answered */
				s->last_rx_ns = now;
			}
			continue;
		}
		if (n < 0)
			break; /* -ECANCELED: closing */
		uint64_t stamp;
		bool error;
		bool ok = bench_stun_answer_check(d.data, d.truncated ? 0 : d.len, r->tag, &stamp, &error);
		core_buf_release(&d.buf);
		if (!ok) {
			w->bad++;
			continue;
		}
		s->last_rx_ns = now;
		atomic_store_explicit(&w->answered, atomic_load_explicit(&w->answered, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		if (bench_load_in_window(&r->load, stamp)) {
			unsigned k = slot_of(r, stamp);
			if (error) {
				w->errors_win[k]++;
			} else {
				w->answered_win[k]++;
				bench_hdr_record(w->hist[k], bench_sched_latency(stamp, now));
			}
		}
		if (max_mode) {
			if (s->inflight)
				s->inflight--;
			if (ph == BENCH_LOAD_RUN)
				top_up(s);
		}
	}
	w->readers--;
}

/* Paced mode: sends messages first .. due - 1 of this thread's schedule,
 * round-robin over its sockets, each stamped with its scheduled time. */
static uint64_t send_due(void *arg, uint64_t first, uint64_t due)
{
	struct sworker *w = arg;
	struct bench_sched sch = {.start_ns = w->run->load.t_run0, .rate = w->rate};
	for (uint64_t j = first; j < due; j++)
		send_one(&w->socks[j % w->num_socks], bench_sched_time(&sch, j));
	return due;
}

/* Paced mode: this thread's share of --rate, spread over its sockets. */
static void pace(struct sworker *w)
{
	struct srun *r = w->run;
	w->rate = r->o->rate / r->load.num_workers + (w->idx < r->o->rate % r->load.num_workers);
	if (!w->num_socks || !w->rate)
		return;
	struct bench_sched sch = {.start_ns = r->load.t_run0, .rate = w->rate};
	bench_load_pace(&r->load, &sch, BENCH_LOAD_DONE, send_due, w);
}

/* Sends the garbage of messages first .. due - 1 that falls in flood
 * slots, at most BENCH_STUN_FLOOD_BATCH at once; a quiet slot is skipped
 * to the first message of the next flood slot. */
static uint64_t flood_due(void *arg, uint64_t first, uint64_t due)
{
	struct srun *r = arg;
	uint64_t slot_ns = (uint64_t)FLOOD_SLOT_MS * 1000000u;
	struct bench_sched sch = {.start_ns = r->load.t_run0, .rate = r->o->garbage_rate};
	unsigned n = 0;
	uint64_t j = first;
	while (j < due && n < BENCH_STUN_FLOOD_BATCH) {
		uint64_t t = bench_sched_time(&sch, j);
		if (slot_of(r, t) == QUIET) {
			if (n)
				break; /* send what is due in this slot first */
			/* Jump to the first send of the next (flood) slot. */
			uint64_t next_slot = r->load.t_run0 + ((t - r->load.t_run0) / slot_ns + 1) * slot_ns;
			j = bench_sched_due(&sch, next_slot);
			first = j;
			continue;
		}
		n++;
		j++;
	}
	if (n) {
		unsigned ok = bench_stun_flood_send(&r->flood, n);
		for (uint64_t i = first; i < first + ok; i++)
			r->flood_sent_win += bench_load_in_window(&r->load, bench_sched_time(&sch, i));
	}
	return j;
}

/* flood_main (reactor 0, --garbage-rate): sends garbage on its schedule
 * during the flood slots of the load, skipping the quiet ones, in batches
 * of at most BENCH_STUN_FLOOD_BATCH between yields so the valid pacer beside
 * it keeps its schedule (what it loses shows as send lag). Bounded: ends
 * with the measured time. */
static void flood_main(void *arg)
{
	struct srun *r = arg;
	struct bench_sched sch = {.start_ns = r->load.t_run0, .rate = r->o->garbage_rate};
	bench_load_pace(&r->load, &sch, BENCH_LOAD_DONE, flood_due, r);
	r->flood_running = false;
}

static void coordinate(void *arg);

static void worker_main(void *arg)
{
	struct srun *r = arg;
	struct sworker *w = &r->w[core_reactor_index(core_self())];
	struct sockaddr_storage local;
	memset(&local, 0, sizeof local);
	local.ss_family = r->addr.ss_family;
	socklen_t llen = r->addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	for (unsigned i = 0; i < w->num_socks; i++) {
		int err = 0, fd = core_udp_bind((const struct sockaddr *)&local, llen, false);
		struct ssock *s = &w->socks[i];
		s->w = w;
		s->u = fd >= 0 ? core_udp_new(fd, &err) : NULL;
		if (!s->u) {
			fprintf(stderr, "atmosphere-bench stun: UDP socket: %s\n", strerror(-(fd < 0 ? fd : err)));
			r->failed = true;
			continue;
		}
		w->readers++;
		if (core_spawn(reader_main, s) < 0) {
			w->readers--;
			r->failed = true;
		}
	}
	bench_load_arrive(&r->load);
	if (w->idx == 0) /* the coordinator: times for everyone once all are ready, then the phases */
		bench_load_start(&r->load, BENCH_LOAD_START_DELAY_MS, r->o->warmup_ms, r->o->duration_ms);
	else
		bench_load_wait(&r->load, BENCH_LOAD_RUN, 1);
	if (w->idx == 0 && core_spawn(coordinate, r) < 0) {
		r->failed = true;
		bench_load_publish(&r->load, BENCH_LOAD_DONE);
	}
	if (w->idx == 0 && r->o->garbage_rate) {
		r->flood_running = true;
		if (core_spawn(flood_main, r) < 0) {
			r->flood_running = false;
			r->failed = true;
		}
	}
	bench_load_sleep_until(r->load.t_run0, NULL, NULL);
	if (r->o->rate)
		pace(w);
	bench_load_wait(&r->load, BENCH_LOAD_DONE, 5);
	for (unsigned i = 0; i < w->num_socks; i++)
		if (w->socks[i].u)
			core_udp_interrupt(w->socks[i].u);
	for (unsigned i = 0; (w->readers || (w->idx == 0 && r->flood_running)) && i < 5000; i++)
		core_sleep(1);
	for (unsigned i = 0; i < w->num_socks; i++)
		if (w->socks[i].u) {
			core_udp_close(w->socks[i].u);
			w->socks[i].u = NULL;
		}
	if (w->idx == 0)
		core_rt_shutdown(r->load.rt);
}

/* Reactor 0: samples CPU times at the edges of the measured time and moves
 * the phases on, beside the pacer. */
static void coordinate(void *arg)
{
	struct srun *r = arg;
	bench_load_sleep_until(r->load.t_meas0, NULL, NULL);
	r->cpu0 = bench_cpu_ns();
	r->srv0 = r->o->server_pid ? bench_proc_ticks(r->o->server_pid) : 0;
	bench_load_sleep_until(r->load.t_meas1, NULL, NULL);
	r->cpu1 = bench_cpu_ns();
	r->srv1 = r->o->server_pid ? bench_proc_ticks(r->o->server_pid) : 0;
	bench_load_publish(&r->load, BENCH_LOAD_DRAIN);
	core_sleep(DRAIN_MS);
	bench_load_publish(&r->load, BENCH_LOAD_DONE);
}

/* --- the reflector: the cheapest complete STUN server --- */

struct reflector {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int *fds;                   /* one SO_REUSEPORT socket per thread */
};

/* One hook per reactor thread: shutdown interrupts that thread's receive. */
static _Thread_local struct core_shutdown_hook reflect_hook;

static void reflect_stop(void *arg)
{
	core_udp_interrupt(arg);
}

static void reflect_main(void *arg)
{
	struct reflector *rf = arg;
	unsigned idx = core_reactor_index(core_self());
	int err = 0;
	struct core_udp *u = core_udp_new(rf->fds[idx], &err);
	if (!u)
		return;
	core_on_shutdown(&reflect_hook, reflect_stop, u);
	for (;;) {
		struct core_dgram d;
		int n = core_udp_recv(u, &d, -1);
		if (n < 0)
			break;
		uint8_t out[BENCH_STUN_REFLECT_MAX];
		size_t len = d.truncated ? 0
					 : bench_stun_reflect(d.data, d.len, (const struct sockaddr *)&d.from, out, sizeof out);
		if (len && core_udp_sendto_nowait(u, out, len, (const struct sockaddr *)&d.from, d.from_len) == -ENOBUFS)
			core_udp_sendto(u, out, len, (const struct sockaddr *)&d.from, d.from_len, 1000);
		core_buf_release(&d.buf);
	}
	core_shutdown_hook_remove(&reflect_hook);
	core_udp_close(u);
}

static int run_reflector(const struct sopts *o, const struct sockaddr_storage *addr, socklen_t addr_len)
{
	unsigned threads = o->threads ? o->threads : 1;
	struct reflector rf = {.addr_len = addr_len};
	memcpy(&rf.addr, addr, addr_len);
	rf.fds = calloc(threads, sizeof *rf.fds);
	if (!rf.fds)
		return 1;
	for (unsigned i = 0; i < threads; i++) {
		rf.fds[i] = core_udp_bind((const struct sockaddr *)&rf.addr, rf.addr_len, true);
		if (rf.fds[i] < 0) {
			fprintf(stderr, "atmosphere-bench stun: --reflect %s:%u: bind: %s\n", o->host, o->port,
				strerror(-rf.fds[i]));
			return 1;
		}
		if (i == 0)
			getsockname(rf.fds[0], (struct sockaddr *)&rf.addr, &rf.addr_len);
	}
	uint16_t port = ntohs(rf.addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&rf.addr)->sin6_port
							    : ((struct sockaddr_in *)&rf.addr)->sin_port);
	printf("reflector listening on udp %s:%u\n", o->host, port);
	fflush(stdout);
	struct core_rt_opts ro = {.num_threads = threads, .handle_signals = true, .shutdown_grace_ms = 500};
	int err = 0;
	struct core_rt *rt = core_rt_new(&ro, &err);
	if (!rt) {
		fprintf(stderr, "atmosphere-bench stun: %s\n", core_rt_explain(err));
		return 1;
	}
	int rc = core_rt_run(rt, reflect_main, &rf);
	core_rt_free(rt);
	free(rf.fds);
	return rc < 0 ? 1 : 0;
}

/* --- options --- */

/* --server and --reflect: the address, and which of the two runs. */
static int take_server(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	struct sopts *o = dst;
	char err[160];
	if (bench_relay_parse_hostport(val, o->host, &o->port, err, sizeof err))
		return opt_usage_error(t, "%s '%s': %s", s->name, val, err);
	o->reflect = !strcmp(s->name, "--reflect");
	if (!o->reflect && o->port == 0)
		return opt_usage_error(t, "--server '%s': the port must be 1 to 65535", val);
	return 0;
}

static const struct opt_spec stun_specs[] = {
	{"--server", OPT_CUSTOM, .parse = take_server, .arg = "HOST:PORT", .help = "the STUN server (UDP)"},
	{"--reflect", OPT_CUSTOM, .parse = take_server}, /* in the usage lines */
	{"--rate", OPT_UINT, OPT_FIELD(struct sopts, rate), .min = 0, .max = RATE_MAX, .arg = "N",
	 .help = "requests/s in all, 0..{0} (default 0: as many as answered)", .help_args = {RATE_MAX}},
	{"--duration", OPT_DURATION, OPT_FIELD(struct sopts, duration_ms), .min = 100, .max = DURATION_MAX_MS,
	 .arg = "S", .help = "measured time (default 3s)"},
	{"--warmup", OPT_DURATION, OPT_FIELD(struct sopts, warmup_ms), .min = 1, .max = 60000, .zero_off = true,
	 .arg = "S", .help = "load before the measured time (default 500ms)"},
	{"--sockets", OPT_UINT, OPT_FIELD(struct sopts, sockets), .min = 1, .max = SOCKETS_MAX, .arg = "N",
	 .help = "client sockets (source ports), 1..{0} (default {1})", .help_args = {SOCKETS_MAX, SOCKETS_DEFAULT}},
	{"--window", OPT_UINT, OPT_FIELD(struct sopts, window), .min = 1, .max = WINDOW_MAX, .arg = "N",
	 .help = "max mode: requests in flight per socket, 1..{0} (default {1})",
	 .help_args = {WINDOW_MAX, WINDOW_DEFAULT}},
	{"--threads", OPT_UINT, OPT_FIELD(struct sopts, threads), .min = 1, .max = THREADS_MAX, .arg = "N",
	 .help = "reactor threads (default: one per allowed CPU; --reflect: 1)"},
	{"--server-pid", OPT_UINT, OPT_FIELD(struct sopts, server_pid), .min = 1, .max = 4194304, .arg = "PID",
	 .help = "also report the server's CPU time"},
	{"--garbage-rate", OPT_UINT, OPT_FIELD(struct sopts, garbage_rate), .min = 0, .max = GARBAGE_RATE_MAX,
	 .arg = "N",
	 .help = "also flood the server with malformed datagrams, N/s (0..{0},\n"
		 "default 0: off) from 8 sockets of their own, in every other\n"
		 "{1} ms slot; answers are reported for quiet and flood slots",
	 .help_args = {GARBAGE_RATE_MAX, FLOOD_SLOT_MS}},
	{"--label", OPT_STRING, OPT_FIELD(struct sopts, label), .arg = "TEXT",
	 .help = "name of the server measured, copied into the JSON"},
	{"--json", OPT_FLAG, OPT_FIELD(struct sopts, json), .help = "print one JSON object instead of the table"},
	{"--json-out", OPT_STRING, OPT_FIELD(struct sopts, json_out), .arg = "FILE",
	 .help = "also write that JSON object to FILE"},
	{"--hist-out", OPT_STRING, OPT_FIELD(struct sopts, hist_out), .arg = "FILE",
	 .help = "write the measured time's latency histogram to FILE\n"
		 "(docs/BENCH.md; add runs up with 'atmosphere-bench merge')"},
};

static const struct opt_table stun_table = {
	.prog = "atmosphere-bench",
	.cmd = CMD,
	.specs = stun_specs,
	.num_specs = sizeof stun_specs / sizeof stun_specs[0],
	.head = "usage: atmosphere-bench stun --server HOST:PORT [--rate N] [--duration S] [--json] [OPTIONS]\n"
		"       atmosphere-bench stun --reflect HOST:PORT [--threads N]\n"
		"       atmosphere-bench stun --client --server HOST:PORT [...] (see stun --client --help)\n\n"
		"Sends STUN Binding requests (RFC 8489) to a server and counts what comes back:\n"
		"answers/s, loss, latency. --rate 0 (default): every socket keeps --window requests\n"
		"in flight (capacity; latency from the actual send). --rate N: N requests/s on a\n"
		"fixed schedule (latency from the schedule, corrected for coordinated omission).\n"
		"--reflect runs the cheapest complete STUN server until SIGTERM, to measure the\n"
		"load generator's own ceiling against.\n\n"
		"Options:\n",
	.foot = "\nExit status: 0 ran (loss is a result), 1 could not run, 2 usage.\n",
	.column = 23,
};

static int parse_opts(int argc, char **argv, struct sopts *o)
{
	uint64_t seen = 0;
	*o = (struct sopts){.duration_ms = DURATION_DEFAULT_MS, .warmup_ms = WARMUP_DEFAULT_MS,
			    .sockets = SOCKETS_DEFAULT, .window = WINDOW_DEFAULT};
	int rc = opt_table_parse(&stun_table, o, argc, argv, stdout, &seen);
	if (rc >= 0)
		return rc;
	if (!opt_table_seen(&stun_table, seen, "--server") && !opt_table_seen(&stun_table, seen, "--reflect"))
		return opt_usage_error(&stun_table, "--server HOST:PORT (or --reflect HOST:PORT) is required");
	if (o->reflect && o->garbage_rate)
		return opt_usage_error(&stun_table, "--garbage-rate goes with --server, not --reflect");
	if (o->reflect && o->hist_out)
		return opt_usage_error(&stun_table, "--hist-out goes with --server, not --reflect");
	return -1;
}

/* --- results --- */

/* struct sslot: the figures of one kind of slot (or of all of them). */
struct sslot {
	uint64_t sent_win, answered_win, errors_win;
	struct bench_summary lat, lag;
	double seconds;             /* of the measured time */
};

struct sres {
	unsigned threads;
	double measured_s;
	uint64_t sent, sent_win, answered_win, errors_win, bad, send_errors;
	struct bench_summary lat;
	double bench_cpu, server_cpu;
	struct sslot slot[NUM_SLOTS];
	uint64_t flood_sent_win;
	struct bench_stun_flood flood;  /* counters only (sockets closed) */
};

static double loss_of(uint64_t sent, uint64_t answered, uint64_t errors)
{
	if (!sent)
		return NAN;
	uint64_t got = answered + errors;
	return got >= sent ? 0.0 : 100.0 * (double)(sent - got) / (double)sent;
}

static double loss_pct(const struct sres *s)
{
	return loss_of(s->sent_win, s->answered_win, s->errors_win);
}

static struct json_object *lat_json(const struct bench_summary *lat, const char *from)
{
	struct json_object *l = json_object_new_object();
	json_object_object_add(l, "from", json_object_new_string(from));
	json_object_object_add(l, "samples", json_object_new_int64((int64_t)lat->count));
	bench_report_latency_us(l, lat);
	return l;
}

static struct json_object *slot_json(const struct sopts *o, const struct sslot *k)
{
	struct json_object *j = json_object_new_object();
	json_object_object_add(j, "seconds", bench_report_num(k->seconds, 3));
	json_object_object_add(j, "sent", json_object_new_int64((int64_t)k->sent_win));
	json_object_object_add(j, "answered", json_object_new_int64((int64_t)k->answered_win));
	json_object_object_add(j, "error_answers", json_object_new_int64((int64_t)k->errors_win));
	json_object_object_add(j, "answers_per_s", bench_report_num((double)k->answered_win / k->seconds, 0));
	json_object_object_add(j, "loss_pct", bench_report_num(loss_of(k->sent_win, k->answered_win, k->errors_win), 4));
	json_object_object_add(j, "latency", lat_json(&k->lat, o->rate ? "schedule" : "send"));
	json_object_object_add(j, "send_lag_p99_us", o->rate ? bench_report_num((double)k->lag.p99 / 1e3, 2) : NULL);
	json_object_object_add(j, "send_lag_max_us", o->rate ? bench_report_num((double)k->lag.max / 1e3, 2) : NULL);
	return j;
}

static struct json_object *garbage_json(const struct sopts *o, const struct sres *s)
{
	struct json_object *g = json_object_new_object(), *kinds = json_object_new_object();
	json_object_object_add(g, "rate", json_object_new_int64(o->garbage_rate));
	json_object_object_add(g, "slot_ms", json_object_new_int64(FLOOD_SLOT_MS));
	json_object_object_add(g, "sockets", json_object_new_int64(BENCH_STUN_FLOOD_SOCKETS));
	json_object_object_add(g, "sent", json_object_new_int64((int64_t)s->flood.sent));
	json_object_object_add(g, "send_errors", json_object_new_int64((int64_t)s->flood.send_errors));
	json_object_object_add(g, "bytes", json_object_new_int64((int64_t)s->flood.bytes));
	json_object_object_add(g, "achieved_per_s", bench_report_num((double)s->flood_sent_win / s->slot[FLOOD].seconds, 0));
	for (int k = 0; k < BENCH_STUN_GARBAGE_KINDS; k++)
		json_object_object_add(kinds, bench_stun_garbage_name(k), json_object_new_int64((int64_t)s->flood.sent_kind[k]));
	json_object_object_add(g, "kinds", kinds);
	json_object_object_add(g, "quiet", slot_json(o, &s->slot[QUIET]));
	json_object_object_add(g, "flood", slot_json(o, &s->slot[FLOOD]));
	return g;
}

static struct json_object *build_json(const struct sopts *o, const struct sres *s)
{
	char srv[300];
	struct utsname u;
	struct json_object *root = json_object_new_object();
	snprintf(srv, sizeof srv, strchr(o->host, ':') ? "[%s]:%u" : "%s:%u", o->host, o->port);
	json_object_object_add(root, "tool", json_object_new_string("stun"));
	json_object_object_add(root, "version", json_object_new_string(ATMOS_VERSION));
	json_object_object_add(root, "label", o->label ? json_object_new_string(o->label) : NULL);
	json_object_object_add(root, "server", json_object_new_string(srv));
	json_object_object_add(root, "mode", json_object_new_string(o->rate ? "paced" : "max"));
	json_object_object_add(root, "rate", json_object_new_int64(o->rate));
	json_object_object_add(root, "sockets", json_object_new_int64(o->sockets));
	json_object_object_add(root, "window", o->rate ? NULL : json_object_new_int64(o->window));
	json_object_object_add(root, "threads", json_object_new_int64(s->threads));
	json_object_object_add(root, "kernel", json_object_new_string(uname(&u) == 0 ? u.release : "unknown"));
	json_object_object_add(root, "measured_s", bench_report_num(s->measured_s, 3));
	json_object_object_add(root, "sent", json_object_new_int64((int64_t)s->sent_win));
	json_object_object_add(root, "answered", json_object_new_int64((int64_t)s->answered_win));
	json_object_object_add(root, "error_answers", json_object_new_int64((int64_t)s->errors_win));
	json_object_object_add(root, "answers_per_s", bench_report_num((double)s->answered_win / s->measured_s, 0));
	json_object_object_add(root, "loss_pct", bench_report_num(loss_pct(s), 4));
	json_object_object_add(root, "bad_datagrams", json_object_new_int64((int64_t)s->bad));
	json_object_object_add(root, "send_errors", json_object_new_int64((int64_t)s->send_errors));
	json_object_object_add(root, "latency", lat_json(&s->lat, o->rate ? "schedule" : "send"));
	json_object_object_add(root, "garbage", o->garbage_rate ? garbage_json(o, s) : NULL);
	json_object_object_add(root, "bench_cpu", bench_report_num(s->bench_cpu, 3));
	json_object_object_add(root, "server_cpu", bench_report_num(s->server_cpu, 3));
	json_object_object_add(root, "ok", json_object_new_boolean(s->answered_win > 0));
	return root;
}

/* Rows: the figure in ROW_WIDTH columns; the quiet/flood comparison in
 * SLOT_WIDTH, then a column each. */
#define ROW_WIDTH 40
#define SLOT_WIDTH 28

static void print_table(FILE *out, const struct sopts *o, const struct sres *s)
{
	fprintf(out, "atmosphere-bench stun: %s%s%s, %s:%u, %u sockets", o->rate ? "paced" : "max",
		o->label ? " of " : "", o->label ? o->label : "", o->host, o->port, o->sockets);
	if (o->rate)
		fprintf(out, ", %u requests/s\n", o->rate);
	else
		fprintf(out, " x %u in flight\n", o->window);
	fprintf(out, "%u load thread(s)\n\n", s->threads);
	bench_report_row(out, ROW_WIDTH, "measured time s", "%.2f", s->measured_s);
	bench_report_row(out, ROW_WIDTH, "requests sent / answered", "%llu / %llu (%llu error answers)",
			 (unsigned long long)s->sent_win, (unsigned long long)s->answered_win,
			 (unsigned long long)s->errors_win);
	bench_report_row(out, ROW_WIDTH, "Binding answers/s", "%.0f", (double)s->answered_win / s->measured_s);
	bench_report_row(out, ROW_WIDTH, "loss %", "%.3f", loss_pct(s));
	bench_report_row(out, ROW_WIDTH, "latency us: p50 p90 p99", "%.1f %.1f %.1f (from the %s)",
			 (double)s->lat.p50 / 1e3, (double)s->lat.p90 / 1e3, (double)s->lat.p99 / 1e3,
			 o->rate ? "schedule" : "send");
	bench_report_row(out, ROW_WIDTH, "latency us: p99.9 max", "%.1f %.1f", (double)s->lat.p999 / 1e3,
			 (double)s->lat.max / 1e3);
	if (isfinite(s->bench_cpu))
		bench_report_row(out, ROW_WIDTH, "load generator CPU busy, in CPUs", "%.2f", s->bench_cpu);
	if (isfinite(s->server_cpu))
		bench_report_row(out, ROW_WIDTH, "server CPU busy, in CPUs", "%.2f", s->server_cpu);
	if (s->bad || s->send_errors)
		bench_report_row(out, ROW_WIDTH, "bad datagrams, send errors", "%llu, %llu", (unsigned long long)s->bad,
				 (unsigned long long)s->send_errors);
	if (!o->garbage_rate)
		return;
	fprintf(out, "\ngarbage flood: %u/s asked, %.0f/s sent in the flood slots (%llu sent, %llu refused), "
		     "%d ms slots\n",
		o->garbage_rate, (double)s->flood_sent_win / s->slot[FLOOD].seconds, (unsigned long long)s->flood.sent,
		(unsigned long long)s->flood.send_errors, FLOOD_SLOT_MS);
	const struct sslot *q = &s->slot[QUIET], *f = &s->slot[FLOOD];
	bench_report_row(out, SLOT_WIDTH, "", "%12s %12s", "quiet", "flood");
	bench_report_row(out, SLOT_WIDTH, "requests sent", "%12llu %12llu", (unsigned long long)q->sent_win,
			 (unsigned long long)f->sent_win);
	bench_report_row(out, SLOT_WIDTH, "Binding answers/s", "%12.0f %12.0f", (double)q->answered_win / q->seconds,
			 (double)f->answered_win / f->seconds);
	bench_report_row(out, SLOT_WIDTH, "loss %", "%12.3f %12.3f", loss_of(q->sent_win, q->answered_win, q->errors_win),
			 loss_of(f->sent_win, f->answered_win, f->errors_win));
	bench_report_row(out, SLOT_WIDTH, "latency p50 us", "%12.1f %12.1f", (double)q->lat.p50 / 1e3,
			 (double)f->lat.p50 / 1e3);
	bench_report_row(out, SLOT_WIDTH, "latency p99 us", "%12.1f %12.1f", (double)q->lat.p99 / 1e3,
			 (double)f->lat.p99 / 1e3);
	if (o->rate)
		bench_report_row(out, SLOT_WIDTH, "send lag p99 us", "%12.1f %12.1f", (double)q->lag.p99 / 1e3,
				 (double)f->lag.p99 / 1e3);
}

int bench_cmd_stun(int argc, char **argv)
{
	struct sopts o;
	struct srun r;
	struct sres s;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--client"))
			return bench_stun_client_cmd(argc, argv);
	int prc = parse_opts(argc, argv, &o);
	if (prc >= 0)
		return prc;
	signal(SIGPIPE, SIG_IGN);
	memset(&r, 0, sizeof r);
	char rerr[300];
	if (net_resolve_now(o.host, o.port, SOCK_DGRAM, false, &r.addr, &r.addr_len, rerr, sizeof rerr) != 0) {
		fprintf(stderr, "atmosphere-bench stun: %s\n", rerr);
		return 1;
	}
	if (o.reflect)
		return run_reflector(&o, &r.addr, r.addr_len);

	r.o = &o;
	bench_load_setup(&r.load, o.threads, o.sockets);
	r.tag = (uint32_t)bench_rand_u64();
	r.w = calloc(r.load.num_workers, sizeof *r.w);
	int status = 1;
	if (!r.w)
		goto out;
	for (unsigned i = 0; i < r.load.num_workers; i++) {
		struct sworker *w = &r.w[i];
		w->run = &r;
		w->idx = i;
		w->num_socks = o.sockets / r.load.num_workers + (i < o.sockets % r.load.num_workers);
		w->socks = calloc(w->num_socks, sizeof *w->socks);
		if (!w->socks)
			goto out;
		for (unsigned k = 0; k < NUM_SLOTS; k++) {
			w->hist[k] = bench_hdr_new(BENCH_HDR_SIG_DEFAULT, BENCH_HDR_HIGHEST_DEFAULT, NULL);
			w->lag[k] = malloc(sizeof *w->lag[k]);
			if (!w->hist[k] || !w->lag[k])
				goto out;
			bench_hist_init(w->lag[k]);
		}
	}
	if (o.garbage_rate) {
		int ferr = bench_stun_flood_init(&r.flood, (const struct sockaddr *)&r.addr, r.addr_len, r.tag);
		if (ferr) {
			fprintf(stderr, "atmosphere-bench stun: garbage sockets: %s\n", strerror(-ferr));
			goto out;
		}
	}
	/* Enough datagram buffers for every answer a window can have in flight. */
	unsigned bufs = 1024;
	while (bufs < 16384 && bufs < 2u * o.window * (o.sockets / r.load.num_workers + 1))
		bufs *= 2;
	if (bench_load_runtime(&r.load, CMD, (struct core_rt_opts){.shutdown_grace_ms = 500, .dgram_bufs = bufs}))
		goto out;
	if (core_rt_run(r.load.rt, worker_main, &r) < 0 || r.failed)
		goto out;

	memset(&s, 0, sizeof s);
	s.threads = r.load.num_workers;
	s.measured_s = (double)(r.load.t_meas1 - r.load.t_meas0) / 1e9;
	for (unsigned i = 0; i < r.load.num_workers; i++) {
		struct sworker *w = &r.w[i];
		s.sent += w->sent;
		for (unsigned k = 0; k < NUM_SLOTS; k++) {
			s.slot[k].sent_win += w->sent_win[k];
			s.slot[k].answered_win += w->answered_win[k];
			s.slot[k].errors_win += w->errors_win[k];
			if (i) {
				bench_hdr_merge(r.w[0].hist[k], w->hist[k]); /* one layout: cannot fail */
				bench_hist_merge(r.w[0].lag[k], w->lag[k]);
			}
		}
		s.bad += w->bad;
		s.send_errors += w->send_errors;
	}
	/* Time of each slot kind within the measured time (bounded: at most
	 * DURATION_MAX_MS / FLOOD_SLOT_MS slots). */
	for (uint64_t t = r.load.t_meas0; t < r.load.t_meas1;) {
		uint64_t slot_ns = (uint64_t)FLOOD_SLOT_MS * 1000000u;
		uint64_t edge = r.load.t_run0 + ((t - r.load.t_run0) / slot_ns + 1) * slot_ns;
		if (edge > r.load.t_meas1)
			edge = r.load.t_meas1;
		s.slot[slot_of(&r, t)].seconds += (double)(edge - t) / 1e9;
		t = edge;
	}
	for (unsigned k = 0; k < NUM_SLOTS; k++) {
		s.sent_win += s.slot[k].sent_win;
		s.answered_win += s.slot[k].answered_win;
		s.errors_win += s.slot[k].errors_win;
		bench_hdr_summary(r.w[0].hist[k], &s.slot[k].lat);
		bench_hist_summary(r.w[0].lag[k], &s.slot[k].lag);
	}
	bench_hdr_merge(r.w[0].hist[QUIET], r.w[0].hist[FLOOD]);
	bench_hdr_summary(r.w[0].hist[QUIET], &s.lat);
	s.flood = r.flood;
	s.flood_sent_win = r.flood_sent_win;
	s.bench_cpu = r.cpu1 > r.cpu0 ? (double)(r.cpu1 - r.cpu0) / 1e9 / s.measured_s : NAN;
	s.server_cpu = o.server_pid && r.srv0 ? (double)(r.srv1 - r.srv0) / (double)sysconf(_SC_CLK_TCK) / s.measured_s
					      : NAN;
	status = s.answered_win ? 0 : 1;
	if (!s.answered_win)
		fprintf(stderr, "atmosphere-bench stun: no answer from %s:%u\n", o.host, o.port);
	struct json_object *j = build_json(&o, &s);
	if (o.json_out && bench_report_json_file(CMD, o.json_out, j))
		status = 1;
	if (o.hist_out && bench_report_hist_file(CMD, o.hist_out, r.w[0].hist[QUIET]))
		status = 1;
	if (o.json)
		bench_report_json_print(stdout, j);
	else
		print_table(stdout, &o, &s);
	json_object_put(j);
out:
	if (r.w)
		for (unsigned i = 0; i < r.load.num_workers; i++) {
			free(r.w[i].socks);
			for (unsigned k = 0; k < NUM_SLOTS; k++) {
				bench_hdr_free(r.w[i].hist[k]);
				free(r.w[i].lag[k]);
			}
		}
	if (r.flood.pool)
		bench_stun_flood_cleanup(&r.flood);
	free(r.w);
	bench_load_cleanup(&r.load);
	return status;
}
