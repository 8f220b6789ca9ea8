/* atmosphere-bench core: the reactor's own figures, each beside a baseline
 * measured in the same run (issue 2, "Bench").
 *
 * 1. Coroutine switch: core_coro_resume + core_coro_yield pairs, ns per
 *    switch, median of BENCH_SWITCH_RUNS runs; beside a syscall (getppid(), a
 *    0-byte write to /dev/null) and swapcontext, which is what a
 *    ucontext-based coroutine would pay.
 * 2. TCP echo: a runtime with one reactor thread whose echo coroutines
 *    forward each received lease with core_sock_send (no copy), beside a
 *    blocking server with one thread per connection (read, write). Same
 *    client, same run. Latency: one connection, 64 B ping-pong. Throughput:
 *    --conns connections each keeping BENCH_CORE_ECHO_WINDOW messages of --size bytes in
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
 * Noise: echo and zero-copy runs alternate ours and the baseline in BENCH_CORE_ROUNDS
 * rounds and report medians, so a burst of load from elsewhere hits both;
 * the table's header gives the share of the machine other processes used
 * during the run (from /proc/stat).
 *
 * Placement: with two or more CPUs allowed, every server thread is pinned to
 * the first and the client (this thread) to the second, so the two never
 * share a core; the table's header says which. Traffic is on 127.0.0.1 only.
 * Every loop is bounded by a count and a deadline. Exit status 1 when a
 * server fails (an I/O error, a lost byte, a reactor that does not shut down
 * cleanly) or a measurement cannot be taken.
 *
 * This file is the subcommand's entry, options and order of work; the
 * pieces are switch_cost.c (1), uring_server.c and thread_server.c (the
 * servers of 2 and 3), echo_rounds.c (the client's rounds), placement.c,
 * and core_report.c (table and JSON). Limits are in core_opts.h. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/core_opts.h"
#include "bench/core_report.h"
#include "bench/echo_rounds.h"
#include "bench/placement.h"
#include "bench/proc.h"
#include "bench/report.h"
#include "bench/stats.h"
#include "bench/switch_cost.h"
#include "bench/thread_server.h"
#include "bench/uring_server.h"
#include "opt/table.h"

#define CMD "core"

static const uint32_t zc_sizes[BENCH_CORE_NUM_ZC_SIZES] = {4096, 16384, 65536, 262144, 1048576};

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

/* --- the command --- */

static const struct opt_spec core_specs[] = {
	{"--json", OPT_FLAG, OPT_FIELD(struct bench_core_opts, json),
	 .help = "print one JSON object instead of the table"},
	{"--json-out", OPT_STRING, OPT_FIELD(struct bench_core_opts, json_out), .arg = "FILE",
	 .help = "also write that JSON object to FILE"},
	{"--duration", OPT_DURATION, OPT_FIELD(struct bench_core_opts, duration_ms), .arg = "S",
	 .min = BENCH_CORE_DURATION_MIN_MS, .max = BENCH_CORE_DURATION_MAX_MS,
	 .help = "measured throughput time of each server, split over {0}\n"
		 "rounds (default 3s); a third of it, 300ms to 10s, for each\n"
		 "zero-copy point",
	 .help_args = {BENCH_CORE_ROUNDS}},
	{"--conns", OPT_UINT, OPT_FIELD(struct bench_core_opts, conns), .arg = "N", .min = 1,
	 .max = BENCH_CORE_CONNS_MAX, .help = "throughput connections, 1..{0} (default {1})",
	 .help_args = {BENCH_CORE_CONNS_MAX, BENCH_CORE_CONNS_DEFAULT}},
	{"--size", OPT_SIZE, OPT_FIELD(struct bench_core_opts, size), .arg = "BYTES", .min = 1,
	 .max = BENCH_CORE_MSG_SIZE_MAX, .help = "throughput message size, 1..1M, K/M suffixes (default 16K)"},
	{"--round-trips", OPT_UINT, OPT_FIELD(struct bench_core_opts, round_trips), .arg = "N", .min = 100,
	 .max = BENCH_CORE_LAT_MAX, .help = "latency round trips, 100..{0} (default {1})",
	 .help_args = {BENCH_CORE_LAT_MAX, BENCH_CORE_LAT_DEFAULT}},
};

static const struct opt_table core_table = {
	.prog = "atmosphere-bench",
	.cmd = CMD,
	.specs = core_specs,
	.num_specs = sizeof core_specs / sizeof core_specs[0],
	.head = "usage: atmosphere-bench core [--json] [--json-out FILE] [--duration S] [--conns N]\n"
		"                             [--size BYTES] [--round-trips N]\n\n"
		"Measures the io_uring runtime beside baselines taken in the same run, on 127.0.0.1:\n"
		"  coroutine switch (ns)   vs a getppid() syscall, a 0-byte write, swapcontext\n"
		"  TCP echo RTT p50/p99    one connection, 64 B ping-pong, reactor vs blocking threads\n"
		"  TCP echo throughput     N connections x {0} messages in flight, reactor vs blocking,\n"
		"                          and the load generator alone (its ceiling)\n"
		"  zero-copy send          MB/s with SEND_ZC forced on vs off, 4 KiB .. 1 MiB\n\n"
		"Options:\n",
	.head_args = {BENCH_CORE_ECHO_WINDOW},
	.foot = "\nServers run on the first allowed CPU, the client on the second. The default run\n"
		"takes about 25 seconds. Exit status: 0 ok, 1 a server or measurement failed, 2 usage.\n",
	.column = 20,
};

/* Section 2: latency and throughput, reactor vs blocking vs the ceiling, in
 * alternating rounds. */
static int run_echo(const struct bench_core_opts *o, struct bench_core_result *r)
{
	struct bench_uring_server echo;
	struct bench_thread_server plain;
	struct bench_tput ours[BENCH_CORE_ROUNDS], base[BENCH_CORE_ROUNDS], alone[BENCH_CORE_ROUNDS];
	struct bench_core_opts round = *o;
	int rc = -1;
	size_t num_ours = 0, num_base = 0;
	uint64_t *s_ours = malloc((size_t)o->round_trips * sizeof *s_ours);
	uint64_t *s_base = malloc((size_t)o->round_trips * sizeof *s_base);
	uint8_t *src = malloc(o->size), *scratch = malloc(BENCH_CORE_RECV_CHUNK);
	if (!s_ours || !s_base || !src || !scratch) {
		fprintf(stderr, "atmosphere-bench core: out of memory\n");
		goto out_mem;
	}
	memset(src, 'e', o->size);
	if (bench_uring_server_start(&echo, "reactor echo server", BENCH_URING_ECHO, 0, r->place.server_cpu))
		goto out_mem;
	if (bench_thread_server_init(&plain, r->place.server_cpu))
		goto out_echo;

	progress("echo latency: %u round trips of %d B each, reactor and blocking in %d rounds", o->round_trips,
		 BENCH_CORE_LAT_SIZE, BENCH_CORE_ROUNDS);
	for (unsigned i = 0; i < BENCH_CORE_ROUNDS; i++) {
		unsigned per_round = o->round_trips / BENCH_CORE_ROUNDS + (i < o->round_trips % BENCH_CORE_ROUNDS);
		if (bench_echo_latency_round("reactor echo server", echo.port, per_round, s_ours, &num_ours))
			goto out_plain;
		if (bench_thread_server_round(&plain, 1))
			goto out_plain;
		int lrc = bench_echo_latency_round("blocking echo server", plain.port, per_round, s_base, &num_base);
		bench_thread_server_join(&plain);
		if (bench_failure_report(&plain.fail, "blocking echo server") || lrc)
			goto out_plain;
	}
	bench_summary_of_samples(s_ours, num_ours, &r->lat_ours);
	bench_summary_of_samples(s_base, num_base, &r->lat_base);

	round.duration_ms = o->duration_ms / BENCH_CORE_ROUNDS;
	progress("echo throughput: %u conns x %zu B, %d rounds of %.2f s each: reactor, blocking, client alone",
		 o->conns, o->size, BENCH_CORE_ROUNDS, (double)round.duration_ms / 1e3);
	for (int i = 0; i < BENCH_CORE_ROUNDS; i++) {
		if (bench_echo_tput_round("reactor echo server", echo.port, -1, &round, src, scratch, &ours[i]))
			goto out_plain;
		if (bench_thread_server_round(&plain, o->conns))
			goto out_plain;
		int trc = bench_echo_tput_round("blocking echo server", plain.port, -1, &round, src, scratch, &base[i]);
		bench_thread_server_join(&plain);
		if (bench_failure_report(&plain.fail, "blocking echo server") || trc)
			goto out_plain;
		/* The ceiling: this thread writes one end and reads the other of
		 * loopback pairs; the plain listener only makes the pairs. */
		if (bench_echo_tput_round("loopback pairs (no server)", plain.port, plain.listen_fd, &round, src, scratch, &alone[i]))
			goto out_plain;
	}
	r->tp_ours = bench_tput_median(ours);
	r->tp_base = bench_tput_median(base);
	r->tp_ceiling = bench_tput_median(alone);
	rc = 0;
out_plain:
	bench_thread_server_cleanup(&plain);
out_echo:
	if (bench_uring_server_stop(&echo))
		rc = -1;
out_mem:
	free(s_ours);
	free(s_base);
	free(src);
	free(scratch);
	return rc;
}

/* Section 3: SEND_ZC forced off and on; sizes and modes alternate,
 * BENCH_CORE_ROUNDS times, and each point reports its median. */
static int run_zc(const struct bench_core_opts *o, struct bench_core_result *r)
{
	struct bench_uring_server off, on;
	double v_off[BENCH_CORE_NUM_ZC_SIZES][BENCH_CORE_ROUNDS], v_on[BENCH_CORE_NUM_ZC_SIZES][BENCH_CORE_ROUNDS];
	int rc = -1;
	uint8_t *scratch = malloc(BENCH_CORE_RECV_CHUNK);
	uint64_t ms = o->duration_ms / 3;
	if (ms < BENCH_CORE_ZC_MS_MIN)
		ms = BENCH_CORE_ZC_MS_MIN;
	else if (ms > BENCH_CORE_ZC_MS_MAX)
		ms = BENCH_CORE_ZC_MS_MAX;
	r->zc_ms = (uint32_t)ms;
	uint32_t round_ms = r->zc_ms / BENCH_CORE_ROUNDS;
	if (!scratch)
		return -1;
	if (bench_uring_server_start(&off, "reactor sender, SEND_ZC off", BENCH_URING_BLAST, UINT32_MAX, r->place.server_cpu))
		goto out_mem;
	if (bench_uring_server_start(&on, "reactor sender, SEND_ZC on", BENCH_URING_BLAST, 1, r->place.server_cpu))
		goto out_off;
	progress("zero-copy send: %d sizes x 2 modes, %d rounds of %.2f s each", BENCH_CORE_NUM_ZC_SIZES, BENCH_CORE_ROUNDS,
		 (double)round_ms / 1e3);
	for (int k = 0; k < BENCH_CORE_ROUNDS; k++) {
		for (size_t i = 0; i < BENCH_CORE_NUM_ZC_SIZES; i++) {
			int e = bench_blast_round(off.port, zc_sizes[i], round_ms, scratch, &v_off[i][k]);
			if (!e)
				e = bench_blast_round(on.port, zc_sizes[i], round_ms, scratch, &v_on[i][k]);
			if (e) {
				fprintf(stderr, "atmosphere-bench core: zero-copy client, %u B: %s\n", zc_sizes[i],
					strerror(-e));
				goto out_on;
			}
		}
	}
	r->crossover = -1;
	memcpy(r->zc_size, zc_sizes, sizeof zc_sizes);
	for (size_t i = 0; i < BENCH_CORE_NUM_ZC_SIZES; i++) {
		r->zc_off[i] = bench_median(v_off[i], BENCH_CORE_ROUNDS);
		r->zc_on[i] = bench_median(v_on[i], BENCH_CORE_ROUNDS);
		if (r->crossover < 0 && r->zc_on[i] >= r->zc_off[i])
			r->crossover = zc_sizes[i];
	}
	rc = 0;
out_on:
	if (bench_uring_server_stop(&on))
		rc = -1;
out_off:
	if (bench_uring_server_stop(&off))
		rc = -1;
out_mem:
	free(scratch);
	return rc;
}

int bench_cmd_core(int argc, char **argv)
{
	struct bench_core_opts o;
	struct bench_core_result r;
	o = (struct bench_core_opts){.duration_ms = BENCH_CORE_DURATION_DEFAULT_MS,
				     .conns = BENCH_CORE_CONNS_DEFAULT,
				     .size = BENCH_CORE_ECHO_SIZE_DEFAULT,
				     .round_trips = BENCH_CORE_LAT_DEFAULT};
	int prc = opt_table_parse(&core_table, &o, argc, argv, stdout, NULL);
	if (prc >= 0)
		return prc;
	memset(&r, 0, sizeof r);
	signal(SIGPIPE, SIG_IGN); /* a server that dies must show as an error, not kill us */
	r.place = bench_placement_pick();
	bench_pin_self(r.place.client_cpu);
	struct bench_cpu_ticks t0, t1;
	bench_cpu_ticks_read(&t0);

	progress("coroutine switch: %d runs of %d switches, beside syscalls and swapcontext", BENCH_SWITCH_RUNS,
		 2 * BENCH_SWITCH_PAIRS);
	if (bench_switch_measure(&r.sw))
		return 1;
	if (run_echo(&o, &r))
		return 1;
	if (run_zc(&o, &r))
		return 1;
	bench_cpu_ticks_read(&t1);
	bench_cpu_ticks_other(&t0, &t1, &r.other_load, &r.steal);
	struct json_object *j = bench_core_json(&r, &o);
	int status = 0;
	if (o.json_out && bench_report_json_file(CMD, o.json_out, j))
		status = 1;
	else if (o.json)
		status = bench_report_json_print(stdout, j) ? 1 : 0;
	else
		bench_core_print_table(stdout, &r, &o);
	json_object_put(j);
	return status;
}
