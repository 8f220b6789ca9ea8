#ifndef BENCH_CORE_OPTS_H
#define BENCH_CORE_OPTS_H
/* bench/core_opts.h: the options of `atmosphere-bench core` and every limit
 * its measurements run under, in one place: every option has a range, every
 * loop a count and a deadline. bench/bench_core.c parses the options; the
 * servers (uring_server.c, thread_server.c), the client rounds
 * (echo_rounds.c) and the report (core_report.c) read the limits. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bench_core_limits {
	BENCH_CORE_LAT_SIZE = 64,                  /* ping-pong message bytes */
	BENCH_CORE_ROUNDS = 3,                     /* alternating rounds of echo and zero-copy runs */
	BENCH_CORE_LAT_WARMUP = 500,               /* round trips before sampling, each round */
	BENCH_CORE_LAT_DEFAULT = 20000,
	BENCH_CORE_LAT_MAX = 10000000,
	BENCH_CORE_LAT_MAX_MS = 10000,             /* a latency round stops here whatever its count */
	BENCH_CORE_CONNS_DEFAULT = 16,
	BENCH_CORE_CONNS_MAX = 256,
	BENCH_CORE_ECHO_SIZE_DEFAULT = 16 * 1024,
	BENCH_CORE_MSG_SIZE_MAX = 1024 * 1024,
	BENCH_CORE_ECHO_WINDOW = 4,                /* messages in flight per connection */
	BENCH_CORE_WARMUP_MS = 200,                /* throughput: run before the measured window */
	BENCH_CORE_DRAIN_MS = 5000,                /* after the window: get every byte back */
	BENCH_CORE_IO_TIMEOUT_MS = 10000,          /* any single server read or write */
	BENCH_CORE_ACCEPT_TIMEOUT_MS = 5000,
	BENCH_CORE_STOP_TIMEOUT_MS = 5000,         /* servers finish after their clients left */
	BENCH_CORE_ZC_MS_MIN = 300,                /* each zero-copy point, all rounds together */
	BENCH_CORE_ZC_MS_MAX = 10000,
	BENCH_CORE_BLAST_MAX_MSGS = 50000000,      /* a blast's count bound beside its deadline */
	BENCH_CORE_RECV_CHUNK = 256 * 1024,
	BENCH_CORE_NUM_ZC_SIZES = 5,               /* 4 KiB .. 1 MiB, bench_core.c */
};

#define BENCH_CORE_DURATION_DEFAULT_MS 3000u
#define BENCH_CORE_DURATION_MIN_MS 100u
#define BENCH_CORE_DURATION_MAX_MS 600000u

/* struct bench_core_opts: the parsed command line; json_out is borrowed
 * from argv. */
struct bench_core_opts {
	bool json;
	const char *json_out;   /* also write the JSON object here (bench/run keeps it) */
	uint64_t duration_ms;
	unsigned conns;
	size_t size;
	unsigned round_trips;
};

#endif
