#ifndef BENCH_RELAY_OPTS_H
#define BENCH_RELAY_OPTS_H
/* bench/relay_opts.h: the options of `atmosphere-bench relay`, parsed into a
 * plain struct so the unit tests can sweep them without running anything. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/scenario.h"
#include "bench/stage.h"
#include "bench/threshold.h"

/* Every option's range, in one place. */
enum bench_relay_limits {
	BENCH_RELAY_SESSIONS_DEFAULT = 10,
	BENCH_RELAY_SESSIONS_MAX = 100000,        /* two descriptors each: RLIMIT_NOFILE decides first */
	BENCH_RELAY_SIZE_DEFAULT = 1024,
	BENCH_RELAY_SIZE_MAX = 1024 * 1024,       /* throughput and connections */
	BENCH_RELAY_LAT_SIZE_MIN = 16,            /* a latency message carries a 16-byte stamp */
	BENCH_RELAY_LAT_SIZE_MAX = 64 * 1024,
	BENCH_RELAY_RATE_DEFAULT = 100,           /* latency: messages/s per session */
	BENCH_RELAY_RATE_MAX = 100000,
	BENCH_RELAY_TOTAL_RATE_MAX = 10000000,    /* sessions x rate; bench/sched.h's bound */
	BENCH_RELAY_THREADS_MAX = 64,
	BENCH_RELAY_CONCURRENCY_DEFAULT = 256,    /* sessions being set up at once, all threads */
	BENCH_RELAY_CONCURRENCY_MAX = 10000,
	BENCH_RELAY_SNDBUF_MAX = 64 * 1024 * 1024,   /* --sndbuf, bytes */
	BENCH_RELAY_HOST_MAX = 255,
	BENCH_RELAY_PATH_MAX = 4095,              /* --ca FILE */
	BENCH_RELAY_SOURCES_DEFAULT = 1024,       /* source addresses when spreading */
	BENCH_RELAY_SOURCES_MAX = 65536,
	BENCH_RELAY_IDLE_MAX = 100000,            /* --idle-sessions; with --sessions, under the fd limit */
};

#define BENCH_RELAY_DURATION_DEFAULT_MS 5000u
#define BENCH_RELAY_DURATION_MIN_MS 100u
#define BENCH_RELAY_DURATION_MAX_MS 600000u
#define BENCH_RELAY_WARMUP_DEFAULT_MS 500u
#define BENCH_RELAY_WARMUP_MAX_MS 60000u

/* --direction: who sends. BOTH: A and B each send their own schedule, and
 * each receives the other's (latency measured each way). */
enum bench_relay_direction {
	BENCH_RELAY_AB,
	BENCH_RELAY_BA,
	BENCH_RELAY_BOTH,
};

enum bench_relay_mode {
	BENCH_RELAY_THROUGHPUT,
	BENCH_RELAY_LATENCY,
	BENCH_RELAY_CONNECTIONS,
};

struct bench_relay_opts {
	enum bench_relay_mode mode;
	char host[BENCH_RELAY_HOST_MAX + 1];   /* from --url: name or address, no brackets */
	uint16_t port;
	bool tls;                              /* --url wss:// */
	bool insecure;                         /* --insecure: no certificate check */
	const char *ca_file;                   /* --ca, borrowed from argv; NULL: the system store */
	unsigned tls_version;                  /* --tls-version: 12 or 13 (default) */
	uint32_t src_first;                    /* spreading: first source address, host order */
	uint32_t num_src;                      /* source addresses used, 0: no spreading */
	char src_range[24];                    /* as given (or implied), for the report */
	bool sink;                             /* --sink given: baseline mode */
	char sink_host[BENCH_RELAY_HOST_MAX + 1];
	uint16_t sink_port;                    /* 0: any; A then dials the sink itself */
	unsigned sessions;                     /* busy sessions (with --stage: the most that send at once) */
	unsigned idle_sessions;                /* --idle-sessions: set up and held, never sending */
	size_t size;                           /* the largest message --size can draw */
	struct bench_size_dist sizes;          /* --size as given: fixed, SIZE:WEIGHT list or MIN-MAX */
	uint64_t seed;                         /* --seed: the size and think draws (bench/scenario.h, think.h) */
	enum bench_relay_direction direction;
	struct bench_stage_plan stages;        /* --stage, num 0: every session sends all along */
	uint32_t churn_rate;                   /* --churn: sessions replaced per second, 0: none */
	struct bench_size_dist think;          /* --think in ms (bench/think.h); num 0 or all 0: none */
	struct bench_stage_plan rate_stages;   /* --rate-stage, per-session msgs/s; num 0: --rate all along */
	struct bench_scenario *scenario;       /* --scenario FILE, owned: argv strings point into it */
	unsigned rate;                         /* latency: messages/s per session; with --rate-stage the slot grid */
	bool rate_set;
	uint64_t duration_ms;
	uint64_t warmup_ms;
	unsigned threads;                      /* 0: one per allowed CPU */
	unsigned concurrency;
	/* --sndbuf: SO_SNDBUF of every connection the generator dials; 0 (the
	 * default): the kernel's autotuning, up to tcp_wmem's maximum. */
	uint32_t sndbuf;
	int relay_pid;                         /* 0: none */
	bool json;
	bool csv;
	const char *json_out;                  /* borrowed from argv */
	const char *hist_out;                  /* latency histogram, the bench/hist.h line format */
	const char *hist_csv;                  /* latency histogram as CSV, for bench/plot */
	const char *label;
	uint64_t interval_ms;                  /* live rows every this long; 0: none */
	const char *json_interval;             /* live rows as JSON lines to this file */
	bool json_interval_hist;               /* each JSON row followed by its histogram line (for `worker`) */
	const char *metrics;                   /* --metrics URL or "off"; NULL: derived (bench/relay_metrics.h) */
	struct bench_threshold thresholds[BENCH_THRESHOLD_MAX];
	size_t num_thresholds;
};

/* bench_relay_opts_parse fills *o from argv[1..argc) (argv[0] is "relay"),
 * after the settings of --scenario FILE when one is given (the command
 * line overrides them). Returns -1 when the run should go on (then call
 * bench_relay_opts_cleanup), 0 after printing the help to out (--help), 2
 * after printing a usage error to stderr (nothing to clean up then). */
int bench_relay_opts_parse(struct bench_relay_opts *o, int argc, char **argv, FILE *out);

/* bench_relay_opts_cleanup frees what parsing allocated (the scenario). */
void bench_relay_opts_cleanup(struct bench_relay_opts *o);

/* bench_relay_opts_table returns the option table (--help's rows), which
 * scenario files are checked against. bench_relay_opts_check is the
 * bench_scenario_check_fn for its custom options (size, stage, rate-stage,
 * think, churn, url, sink, source-range, threshold). */
const struct opt_table *bench_relay_opts_table(void);
int bench_relay_opts_check(const char *name, const char *value, char *errbuf, size_t errbuf_len);

/* bench_relay_direction_name returns "ab", "ba" or "both". */
const char *bench_relay_direction_name(enum bench_relay_direction d);

/* bench_relay_parse_url splits ws://HOST[:PORT][/] or wss://... into host
 * (brackets of an IPv6 literal removed), port (80 or 443 when absent) and
 * whether it is TLS. Returns 0, or -1 with the reason in errbuf (another
 * scheme, a path, a bad port). */
int bench_relay_parse_url(const char *url, char host[static BENCH_RELAY_HOST_MAX + 1], uint16_t *out_port,
			  bool *out_tls, char *errbuf, size_t errbuf_len);

/* bench_relay_parse_cidr parses an IPv4 range A.B.C.D/P (P 8..32) into its
 * usable addresses: the first (host order) and how many; for P <= 30 the
 * network and broadcast addresses are left out. Returns 0, or -1 with the
 * reason in errbuf. */
int bench_relay_parse_cidr(const char *s, uint32_t *out_first, uint32_t *out_count, char *errbuf, size_t errbuf_len);

/* bench_relay_parse_hostport splits HOST:PORT or [V6]:PORT, port 0..65535
 * (0: any free port). Returns 0 or -1 with the reason in errbuf. */
int bench_relay_parse_hostport(const char *s, char host[static BENCH_RELAY_HOST_MAX + 1], uint16_t *out_port,
			       char *errbuf, size_t errbuf_len);

/* bench_relay_mode_name returns "throughput", "latency" or "connections". */
const char *bench_relay_mode_name(enum bench_relay_mode m);

#endif
