#ifndef BENCH_RELAY_REPORT_H
#define BENCH_RELAY_REPORT_H
/* bench/relay_report.h: the results of one `atmosphere-bench relay` run and
 * their three renderings: a human table, one JSON object, one CSV row; plus
 * the latency histogram as CSV for bench/plot; written with bench/report.h.
 * The run (bench_relay.c) fills struct bench_relay_result; nothing here
 * measures. */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/fairness.h"
#include "bench/hist.h"
#include "bench/relay_opts.h"
#include "bench/stats.h"

/* Errors, counted, never fatal (one session's failure ends that session). */
struct bench_relay_errors {
	uint64_t refused;       /* connect: ECONNREFUSED */
	uint64_t timeout;       /* connect, handshake, a send, a Close never answered */
	uint64_t http_409;      /* session full */
	uint64_t http_429;      /* too many connections from this address */
	uint64_t http_503;      /* too many sessions */
	uint64_t http_other;    /* any other non-101 answer */
	uint64_t closed;        /* the relay closed (Close frame or EOF) before the end */
	uint64_t reset;         /* ECONNRESET/EPIPE before the end */
	uint64_t proto;         /* a bad answer, a broken frame, a message for another session */
	uint64_t tls;           /* wss: a failed TLS handshake (certificate, version) */
	uint64_t io;            /* other errors */
	uint64_t left_open;     /* connections still open when the run had to end */
};

/* Wire and payload bytes at the load generator's sockets, over the whole run
 * (handshakes, the relay's notices, pings, pongs and closes included). On
 * wss:// the wire bytes are the TLS bytes on the sockets: TLS handshakes,
 * session tickets and every record's header, tag and content type. */
struct bench_relay_wire {
	uint64_t a_tx_wire, a_tx_payload, a_rx_wire;
	uint64_t b_rx_wire, b_rx_payload, b_tx_wire;
	uint64_t b_tx_payload;  /* --direction ba/both: data payload B sent */
	uint64_t handshake;     /* HTTP heads, both directions, A and B (inside TLS on wss) */
	uint64_t tls_handshake; /* wss: TLS handshake bytes, both directions, A and B */
	uint64_t control;       /* control frames received, A and B */
	uint64_t text_msgs;     /* text messages received (the relay's paired notices) */
};

struct bench_relay_result {
	/* what ran */
	uint64_t started_unix_ns;          /* CLOCK_REALTIME when the command began, before set-up */
	uint16_t port;                     /* A's destination: --url's, or the sink's own */
	unsigned threads;
	int cpus_allowed;
	/* set-up */
	unsigned sessions_up, sessions_failed;
	unsigned churned;                  /* --churn: sessions replaced during the traffic */
	double setup_s;
	/* CPU seconds during set-up (start to the last session up): the
	 * server's (--relay-pid; NAN without it or unreadable) and this
	 * process's own, sink included */
	double setup_server_cpu_s, setup_bench_cpu_s;
	/* throughput / latency, over the measured time */
	double measured_s;
	uint64_t win_msgs, win_payload;
	double per_session_mb_min, per_session_mb_max, per_session_mb_mean;
	struct bench_fairness fair;        /* busy sessions' payload bytes in the measured time */
	uint64_t sent, received;           /* data messages over the whole run */
	uint64_t sent_dir[2], received_dir[2]; /* latency: the same by direction, [0] A -> B, [1] B -> A */
	struct bench_summary lat;          /* ns, scheduled-send to arrival */
	struct bench_summary lag;          /* ns, scheduled-send to the send's completion (the generator's share) */
	const struct bench_hdr *hist;      /* latency mode: for --hist-out and --hist-csv */
	bool by_direction;                 /* --direction both: lat_ab and lat_ba hold each way */
	struct bench_summary lat_ab, lat_ba;
	/* connections */
	unsigned alive;                    /* sessions that forwarded the final message */
	long relay_rss_kib_before, relay_rss_kib_after;  /* -1: not read */
	long self_rss_kib_before, self_rss_kib_after;
	/* CPU over the measured time, in CPUs; NAN when unknown. other_cpu is the
	 * rest of the machine's busy time (softirq included): other processes,
	 * and kernel work not charged to either of us. */
	double bench_cpu, relay_cpu, other_cpu;
	/* TCP socket memory in bytes (bench/sockmem.h), throughput and latency
	 * modes: the machine's (/proc/net/sockstat) before the traffic, its peak
	 * over samples every 250 ms from the start of the traffic to the end of
	 * the measured time, and its value at that end; the relay's own sockets
	 * (--relay-pid) at that same end. *_ok false: not read. */
	bool tcp_mem_ok, relay_mem_ok;
	uint64_t tcp_mem_before, tcp_mem_peak, tcp_mem_end;
	uint64_t tcp_mem_pressure;         /* net.ipv4.tcp_mem's pressure mark; 0: unknown */
	uint64_t relay_mem_end;
	size_t relay_mem_socks;            /* sockets the relay held when the traffic began */
	double relay_dump_ms;              /* CPU ms the relay's socket dump took */
	unsigned mem_samples;
	double mem_sample_ms_max;          /* the longest sample, ms (wall) */
	struct bench_relay_wire wire;
	struct bench_relay_errors err;
};

/* bench_relay_errors_total sums every error counter. */
uint64_t bench_relay_errors_total(const struct bench_relay_errors *e);

/* bench_relay_overhead returns wire / payload - 1 as a fraction (0.01 is
 * 1 %), NAN when payload is 0. */
double bench_relay_overhead(uint64_t wire, uint64_t payload);

/* bench_relay_print_table and _print_csv write the result to f. They return
 * 0, or -1 when writing failed. */
int bench_relay_print_table(FILE *f, const struct bench_relay_opts *o, const struct bench_relay_result *r);
int bench_relay_print_csv(FILE *f, const struct bench_relay_opts *o, const struct bench_relay_result *r);

/* bench_relay_json returns the result as one JSON object, for
 * bench_report_json_print and _file (bench/report.h); the caller owns it. */
struct json_object *bench_relay_json(const struct bench_relay_opts *o, const struct bench_relay_result *r);

/* bench_relay_print_hist writes h as CSV (--hist-csv): the upper bound of
 * each non-empty bucket in microseconds (capped at the maximum), its count,
 * and the fraction of samples at or below it. Returns 0 or -1. */
int bench_relay_print_hist(FILE *f, const struct bench_hdr *h);

#endif
