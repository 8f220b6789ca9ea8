/* atmosphere-bench relay: load-tests a relay that speaks the seed protocol
 * (issue 6). Options: bench/relay_opts.h; output: bench/relay_report.h.
 *
 * Shape of a run. N sessions, each two WebSocket connections: A dials
 * /relay/{id} and sends, B dials the same id and receives (A -> B only, so a
 * session's one-way path is one relay hop). Sessions are spread round-robin
 * over the load generator's reactor threads (core/reactor.h; default one per
 * allowed CPU); both connections of a session live on one thread. Per
 * session there are three coroutines: the session's own (dials, then sends),
 * and one reader per connection (scans what arrives, answers pings, echoes
 * Close).
 *
 * Phases, driven by a coordinator coroutine on reactor 0 through one atomic
 * (the scaffold in bench/load.h, shared with `stun`: workers, start barrier,
 * timeline, pacing, sums):
 *   SETUP  every thread opens its sessions, --concurrency at a time in all;
 *          a session is up when both upgrades were answered 101
 *   RUN    throughput: A sends batches of frames as fast as TCP allows;
 *          latency: a pacer per thread releases messages on a fixed schedule
 *          (bench/sched.h) and A stamps each with its scheduled time;
 *          connections: nothing (the sessions are held)
 *          Warm-up first; only the measured time after it is counted.
 *   DRAIN  the check: latency: messages still in flight may arrive (bounded);
 *          connections: each A sends one message, which B must receive
 *   CLOSE  each A sends Close 1000; readers echo Close and end at EOF
 *   DONE   the runtime shuts down.
 *
 * Baselines (--sink): B is not dialed; this process listens on the sink
 * address, and A dials --url, a TCP proxy (HAProxy, nginx stream) that
 * forwards to the sink, or the sink itself (plain TCP A -> B, no hop: the
 * generator's own ceiling). The sink answers the upgrade as a relay would, so
 * the same bytes cross the hop; B then receives A's frames still masked
 * (4 bytes more per frame than from a relay). With --direction ba/both B
 * sends too: the thread whose listener accepted B's end (any: one
 * SO_REUSEPORT listener per thread) reads the session from the upgrade's
 * path and, when the session lives on another thread, hands the connection
 * over (bench_wconn_detach, core_rt_post, bench_wconn_adopt); there the
 * session's coroutine takes it as its B and sends from the session's own
 * schedule, unmasked as a server does.
 *
 * wss:// (--url wss://): every connection runs its own full TLS handshake
 * (bench/ws_load.h), whose failure is counted as "tls" and its first reason
 * printed. --source-range: connection k (A of session i is 2i, B 2i + 1)
 * leaves from address k mod --sources of the range (core_tcp_connect_from),
 * checked to be local before any traffic.
 *
 * Bounds: every wait has a deadline (IO_TIMEOUT_MS per connect, handshake
 * and send; SETUP_TIMEOUT_MS; CHECK_MS; CLOSE_MS), every loop a count or a
 * deadline, and every error is counted, never fatal to the run. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/fairness.h"
#include "bench/hist.h"
#include "bench/interval.h"
#include "bench/load.h"
#include "bench/proc.h"
#include "bench/bench.h"
#include "bench/relay_metrics.h"
#include "bench/relay_opts.h"
#include "bench/relay_report.h"
#include "bench/report.h"
#include "bench/scenario.h"
#include "bench/sched.h"
#include "bench/sockmem.h"
#include "bench/stage.h"
#include "bench/stats.h"
#include "bench/think.h"
#include "bench/threshold.h"
#include "bench/ws_load.h"
#include "core/coro.h"
#include "core/reactor.h"
#include "core/sock.h"
#include "net/resolve.h"
#include "relay/ws_frame.h"

#define CMD "relay"

enum {
	IO_TIMEOUT_MS = 10000,         /* a connect, a handshake, a send */
	RECV_SLICE_MS = 1000,          /* readers wake this often to look at the phase */
	PARK_SLICE_MS = 1000,          /* so do parked session coroutines */
	SETUP_TIMEOUT_MS = 120000,     /* every session up or failed */
	CHECK_MS = 5000,               /* in-flight messages after the measured time */
	CLOSE_MS = 5000,               /* every connection ended after Close */
	SETTLE_MS = 500,               /* connections: before reading the RSS */
	BATCH_BYTES = 256 * 1024,      /* throughput: frames per send */
	FD_RESERVE = 64,               /* descriptors beside the connections */
	SINK_BACKLOG = 4096,
	CHURN_DRAIN_MS = 1000,         /* --churn: a retired pair's messages may still arrive */
	STREAM_BUFS_MAX = 16384,       /* receive buffers per thread: 256 MiB of address space */
	HIBERNATE_MS = 1000,           /* a reader quiet this long waits with no stack (as the relay) */
	MEM_SAMPLE_MS = 250,           /* TCP memory sampled this often during the traffic */
};


/* Close 1000 "normal closure", big-endian (RFC 6455 §5.5.1). */
static const uint8_t close_normal[2] = {0x03, 0xe8};

struct run;
struct worker;

enum role { ROLE_A, ROLE_B };

/* One connection and its reader's state. Lives on one thread; freed by
 * whichever of its users (the reader, the session's sender for A) lets go
 * last. */
struct conn {
	struct bench_wconn w;
	struct worker *wk;
	struct session *s;            /* NULL for a sink connection not yet matched */
	enum role role;
	bool server;                  /* sink side: we are the WebSocket server */
	int accepted_fd;              /* sink side: the fd until bench_wconn_accept/adopt owns it */
	uint32_t gen;                 /* sink side: the --churn generation its path named */
	uint8_t *rest;                /* sink side, in hand-over: bytes received, not yet scanned */
	size_t rest_len;
	int refs;
	bool tx_busy;                 /* a send in progress: control frames wait */
	bool retired;                 /* --churn: closed on purpose mid-run, its end is no error */
	bool dialing;                 /* dial_pair's side dial still runs: no frame may go yet */
	bool close_seen;
	bool pong_owed;
	uint64_t last_rx_ns;          /* the reader's last data, for hibernating when quiet */
	uint8_t pong[RELAY_WS_MAX_CONTROL_PAYLOAD];
	size_t pong_len;
	uint64_t now;                 /* arrival time of the buffer being scanned, 0: not read yet */
};

struct session {
	uint32_t idx;
	unsigned pos;                 /* index among its thread's sessions that came up */
	struct worker *wk;
	struct conn *a;
	struct conn *b;               /* --direction ba/both: B sends too (a reference of our own) */
	struct core_coro *co;
	bool up;
	bool ended;                   /* a connection ended before the close: no longer counted up */
	bool idle;                    /* --idle-sessions: set up and held, never sending */
	bool parked;
	bool b_wanted;                /* --sink, --direction ba/both: the sink's end of gen is awaited as B */
	uint64_t rng;                 /* --size draws (bench/scenario.h), seeded from --seed and idx */
	uint32_t gen;                 /* --churn: replacements so far; part of the relay id */
	uint32_t churn_pending;       /* --churn: replacements asked for by the worker's churner */
	uint64_t tx;                  /* messages this session sent (both directions) */
	uint64_t rate_credit;         /* --rate-stage: the slot thinning's credit (bench/stage.h) */
	struct bench_think_state think; /* --think: the session's pauses (bench/think.h) */
	size_t frame_cap;
	uint64_t due;                 /* latency: messages the pacer released */
	uint64_t sent;
	uint8_t *frame;               /* latency/check: one prebuilt masked frame */
	size_t frame_len;
	uint8_t *frame_srv;           /* --sink, --direction ba/both: B's, unmasked (B is the server) */
	size_t frame_srv_len;
	uint8_t mask[4];
	/* written by B's reader only (another thread in sink mode) */
	_Atomic uint64_t rx_msgs;
	_Atomic uint64_t rx_win_payload;
};

/* Per reactor thread. Counters have one writer (this thread); those the
 * coordinator reads while the run goes on are atomics used relaxed. */
struct worker {
	struct run *run;
	unsigned idx;
	int sink_fd;
	struct core_listener *sink;
	struct core_shutdown_hook hook;
	struct session **local;       /* this thread's sessions */
	unsigned num_local;
	struct session **up_list;     /* those that came up, for the pacer */
	unsigned num_up;
	unsigned setup_inflight, setup_max;
	struct core_coro *spawner;
	_Atomic unsigned up, failed, senders_done, conns_open;
	_Atomic unsigned ended;       /* sessions that were up and lost a connection before the close */
	_Atomic unsigned churned;     /* --churn: sessions replaced */
	_Atomic uint64_t setup_last_ns;
	_Atomic uint64_t tx_msgs, rx_msgs, rx_payload;
	uint64_t tx_dir[2], rx_dir[2]; /* latency: data messages by direction, [0] A -> B, [1] B -> A */
	uint64_t win_msgs, win_payload;
	struct bench_hdr *hist;       /* latency in the measured window */
	/* latency: send lag in the measured window, the generator's own share
	 * of the latency: from a message's scheduled time to the completion
	 * of its send (its bytes handed to the kernel) */
	struct bench_hdr *lag;
	struct bench_hdr *hist_dir[2]; /* --direction both: the same by receiver, [ROLE_B] a->b, [ROLE_A] b->a */
	struct bench_hdr *ihist;      /* latency of the current interval (bench/interval.h), NULL: none */
	struct bench_interval_ticker ticker;
	struct bench_relay_wire wire;
	struct bench_relay_errors err;
	uint8_t *batch;               /* throughput: identical masked frames */
	size_t batch_len;
	uint32_t batch_msgs;
};

struct run {
	const struct bench_relay_opts *o;
	struct bench_load load;       /* runtime, workers, phases, t_run0 .. t_meas1 */
	struct worker *w;
	struct session *s;
	unsigned num_sessions;        /* busy and idle */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct bench_tls *tls;        /* wss://, NULL: ws:// */
	atomic_bool tls_reported;     /* the first TLS failure was printed */
	char host_hdr[BENCH_RELAY_HOST_MAX + 16];
	uint16_t port;                /* A's destination port */
	char prefix[24];
	bool tty;
	const char *progress_what;    /* the coordinator's progress line: which part */
	struct bench_interval *iv;    /* live rows, NULL: --interval 0 */
	FILE *json_iv;                /* --json-interval */
	/* written by the coordinator before it publishes a phase */
	uint64_t t_setup0, t_check0;
	uint64_t setup_srv0_ns, setup_srv1_ns;     /* --relay-pid's CPU (bench_proc_cpu_ns) over set-up */
	uint64_t setup_cpu0_ns, setup_cpu1_ns;     /* ours over set-up */
	long relay_rss0, relay_rss1, self_rss0, self_rss1;
	uint64_t cpu0_ns, cpu1_ns, relay_ticks0, relay_ticks1;
	uint64_t sys_busy0, sys_total0, sys_busy1, sys_total1;   /* /proc/stat ticks */
	unsigned alive;
	bool failed;                  /* the run could not go on (reported) */
	/* TCP memory (bench/sockmem.h), sampled by the coordinator from the
	 * start of the traffic to the end of the measured time */
	struct bench_sockset relay_socks; /* --relay-pid's sockets, found before the traffic */
	bool tcp_mem_ok, relay_mem_ok;
	unsigned mem_samples;
	uint64_t tcp_mem0, tcp_mem_peak, tcp_mem_end, relay_mem_end;
	uint64_t mem_sample_ns_max;   /* the longest sample: how long reactor 0 waited */
	uint64_t relay_dump_cpu_ns;   /* mem_end's socket dump */
};

static int phase_get(const struct run *r)
{
	return bench_load_phase(&r->load);
}

/* Single-writer counter: no locked instruction on the hot path. */
static void bump(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

static void bump_u(_Atomic unsigned *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

static void drop_u(_Atomic unsigned *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - 1, memory_order_relaxed);
}



/* The machine's busy (user, nice, system, irq, softirq) and total ticks,
 * all CPUs, from /proc/stat; false when unreadable. */
static bool sys_ticks(uint64_t *busy, uint64_t *total)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return false;
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
		       &v[7]);
	fclose(f);
	if (n != 8)
		return false;
	*busy = v[0] + v[1] + v[2] + v[5] + v[6];
	*total = 0;
	for (int i = 0; i < 8; i++)
		*total += v[i];
	return true;
}

/* --- errors --- */

static void count_error(struct worker *wk, int err, int http_status)
{
	struct bench_relay_errors *e = &wk->err;
	switch (err) {
	case -ECONNREFUSED:
		e->refused++;
		break;
	case -ETIMEDOUT:
		e->timeout++;
		break;
	case -ECONNABORTED:
		if (http_status == 409)
			e->http_409++;
		else if (http_status == 429)
			e->http_429++;
		else if (http_status == 503)
			e->http_503++;
		else
			e->http_other++;
		break;
	case -ECONNRESET:
	case -EPIPE:
		e->reset++;
		break;
	case -EPROTO:
		e->proto++;
		break;
	default:
		e->io++;
		break;
	}
}

/* --- connections --- */

static struct conn *conn_new(struct worker *wk, struct session *s, enum role role, bool server)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->wk = wk;
	c->s = s;
	c->role = role;
	c->server = server;
	c->refs = 1;
	return c;
}

/* Adds c's byte counts to its thread's totals, closes it and frees it when
 * its last user lets go. */
static void conn_put(struct conn *c)
{
	if (--c->refs > 0)
		return;
	struct bench_relay_wire *t = &c->wk->wire;
	struct bench_wconn *w = &c->w;
	if (c->role == ROLE_A) {
		t->a_tx_wire += w->tx_wire;
		t->a_tx_payload += w->tx_payload;
		t->a_rx_wire += bench_wconn_rx_wire(w);
	} else {
		t->b_tx_wire += w->tx_wire;
		t->b_tx_payload += w->tx_payload;
		t->b_rx_wire += bench_wconn_rx_wire(w);
		t->b_rx_payload += w->scan.n.payload;
	}
	t->handshake += w->hs_tx + w->hs_rx;
	t->tls_handshake += w->tls_hs_tx + w->tls_hs_rx;
	t->control += w->scan.n.control;
	t->text_msgs += w->scan.n.text_messages;
	if (w->sock) {
		bench_wconn_close(w);
		drop_u(&c->wk->conns_open);
	}
	free(c);
}

/* Sends on c once no other coroutine is sending on it (a pong from the
 * reader must not land inside a frame of the sender). */
static int conn_lock(struct conn *c)
{
	uint64_t deadline = bench_mono_ns() + (uint64_t)IO_TIMEOUT_MS * 1000000u;
	while (c->tx_busy) {
		if (bench_mono_ns() > deadline)
			return -ETIMEDOUT;
		core_yield();
	}
	c->tx_busy = true;
	return 0;
}

static int conn_send(struct conn *c, const void *buf, size_t len, uint64_t payload, uint32_t msgs)
{
	int rc = conn_lock(c);
	if (rc)
		return rc;
	rc = bench_wconn_send(&c->w, buf, len, payload, msgs, IO_TIMEOUT_MS);
	c->tx_busy = false;
	return rc;
}

static int conn_control(struct conn *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
	int rc = conn_lock(c);
	if (rc)
		return rc;
	/* Clients mask (RFC 6455 §5.3); a sink is the server of its connection. */
	rc = bench_wconn_send_control(&c->w, opcode, payload, len, !c->server, IO_TIMEOUT_MS);
	c->tx_busy = false;
	return rc;
}

/* Whether data messages arriving on a connection of role are the run's
 * (--direction): A -> B by default, B -> A, or both ways. */
static bool receives(const struct bench_relay_opts *o, enum role role)
{
	if (o->mode != BENCH_RELAY_LATENCY || o->direction == BENCH_RELAY_AB)
		return role == ROLE_B;
	return o->direction == BENCH_RELAY_BOTH || role == ROLE_A;
}

/* A connection of an up session ended before the close: the session no
 * longer counts as up in the live rows. */
static void session_ended(struct conn *c)
{
	if (!c->retired && c->s && c->s->up && !c->s->ended && c->s->wk == c->wk) {
		c->s->ended = true;
		bump_u(&c->wk->ended);
	}
}

static void on_event(void *arg, const struct bench_ws_event *ev)
{
	struct conn *c = arg;
	struct worker *wk = c->wk;
	struct run *r = wk->run;
	switch (ev->kind) {
	case BENCH_WS_EV_PING:
		memcpy(c->pong, ev->data, ev->data_len);
		c->pong_len = ev->data_len;
		c->pong_owed = true;
		return;
	case BENCH_WS_EV_PONG:
		return;
	case BENCH_WS_EV_CLOSE:
		c->close_seen = true;
		return;
	case BENCH_WS_EV_MESSAGE:
		break;
	}
	if (ev->opcode != RELAY_WS_OP_BINARY || !receives(r->o, c->role))
		return; /* the relay's paired notice, or data towards a sender: counted by the scanner */
	if (!c->now)
		c->now = bench_mono_ns();
	bump(&wk->rx_msgs, 1);
	bump(&wk->rx_payload, ev->len);
	bool in_window = bench_load_in_window(&r->load, c->now) && phase_get(r) >= BENCH_LOAD_RUN;
	if (in_window) {
		wk->win_msgs++;
		wk->win_payload += ev->len;
	}
	if (r->o->mode == BENCH_RELAY_THROUGHPUT) {
		if (c->s) {
			atomic_fetch_add_explicit(&c->s->rx_msgs, 1, memory_order_relaxed);
			if (in_window)
				atomic_fetch_add_explicit(&c->s->rx_win_payload, ev->len, memory_order_relaxed);
		}
		return;
	}
	uint32_t sid;
	uint64_t sched;
	if (!bench_stamp_get(ev->data, ev->data_len, &sid, &sched) || !c->s || sid != c->s->idx) {
		wk->err.proto++; /* not ours, or delivered to the wrong session */
		return;
	}
	atomic_fetch_add_explicit(&c->s->rx_msgs, 1, memory_order_relaxed);
	if (r->o->mode != BENCH_RELAY_LATENCY)
		return;
	wk->rx_dir[c->role == ROLE_A]++;
	uint64_t lat = bench_sched_latency(sched, c->now);
	if (sched >= r->load.t_meas0 && sched < r->load.t_meas1) {
		bench_hdr_record(wk->hist, lat);
		if (wk->hist_dir[c->role])
			bench_hdr_record(wk->hist_dir[c->role], lat);
	}
	/* Live rows: every sample, warm-up included, in the interval it arrived. */
	if (wk->ihist)
		bench_hdr_record(wk->ihist, lat);
}

/* The reader of one connection: until EOF, an error, or the end of the run.
 * Owns one reference to c.
 *
 * Idle connections hold no stack, as in the relay (docs/RELAY.md): once
 * nothing arrived for HIBERNATE_MS, the reader waits in its multishot
 * receive hibernating (core_task_hibernate_next_wait, core/reactor.h): its
 * live stack (a few hundred bytes) goes to the heap and its pages back to
 * the kernel. Safe: while it waits nothing refers to its stack (the
 * connection, its pong and counters are heap). Costs a copy and a madvise
 * per wake, once a slice (RECV_SLICE_MS) when idle, never while data flows. */
static void reader_main(void *arg)
{
	struct conn *c = arg;
	struct worker *wk = c->wk;
	struct run *r = wk->run;
	uint64_t close_deadline = 0;
	c->last_rx_ns = bench_mono_ns();
	for (;;) {
		c->now = 0;
		bool quiet = bench_mono_ns() - c->last_rx_ns >= (uint64_t)HIBERNATE_MS * 1000000u;
		if (quiet)
			core_task_hibernate_next_wait(true);
		int n = bench_wconn_recv(&c->w, RECV_SLICE_MS, on_event, c);
		if (quiet)
			core_task_hibernate_next_wait(false);
		if (n > 0)
			c->last_rx_ns = c->now ? c->now : bench_mono_ns();
		int ph = phase_get(r);
		if (n == -ETIMEDOUT) {
			if (ph >= BENCH_LOAD_CLOSE) {
				if (!close_deadline)
					close_deadline = bench_mono_ns() + (uint64_t)CLOSE_MS * 1000000u;
				else if (bench_mono_ns() > close_deadline)
					break; /* counted as left open by the coordinator */
			}
			continue;
		}
		if (n <= 0) {
			if (ph < BENCH_LOAD_CLOSE)
				session_ended(c);
			if (ph < BENCH_LOAD_CLOSE && !c->w.close_sent && !c->retired) {
				if (n == 0)
					wk->err.closed++;
				else
					count_error(wk, n, 0);
			}
			break;
		}
		if (c->pong_owed) {
			c->pong_owed = false;
			conn_control(c, RELAY_WS_OP_PONG, c->pong, c->pong_len);
		}
		if (c->close_seen) {
			if (!c->w.close_sent) {
				/* The sink's Close comes from our own A (a TCP proxy makes
				 * none): at the end, or a --churn retirement mid-run,
				 * never an error of the hop. */
				if (ph < BENCH_LOAD_CLOSE && !c->retired && !c->server)
					wk->err.closed++;
				/* Answer with a Close of our own (RFC 6455 §5.5.1). */
				conn_control(c, RELAY_WS_OP_CLOSE, close_normal, sizeof close_normal);
			}
			if (c->server)
				break; /* the server closes TCP first (§7.1.1) */
			c->close_seen = false;
		}
	}
	conn_put(c);
}

static int spawn_reader(struct conn *c)
{
	c->refs++;
	int rc = core_spawn(reader_main, c);
	if (rc < 0)
		c->refs--;
	return rc;
}

/* --- sessions --- */

static void session_path(const struct run *r, uint32_t idx, char *out, size_t out_len)
{
	snprintf(out, out_len, "/relay/%s-%u", r->prefix, idx);
}

/* --churn: generation gen > 0 of session idx pairs on an id of its own. */
static void session_path_gen(const struct run *r, uint32_t idx, uint32_t gen, char *out, size_t out_len)
{
	if (gen)
		snprintf(out, out_len, "/relay/%s-%u-g%u", r->prefix, idx, gen);
	else
		session_path(r, idx, out, out_len);
}

/* Spreading: connection k of the run (A of session i is 2i, B 2i + 1)
 * leaves from source address k mod num_src of the range. */
static void source_addr(const struct bench_relay_opts *o, uint64_t k, struct sockaddr_in *out)
{
	memset(out, 0, sizeof *out);
	out->sin_family = AF_INET;
	out->sin_addr.s_addr = htonl(o->src_first + (uint32_t)(k % o->num_src));
}

static int dial(struct worker *wk, struct session *s, struct conn *c)
{
	struct run *r = wk->run;
	const struct bench_relay_opts *o = r->o;
	char path[96];
	struct sockaddr_in src;
	struct bench_dial d = {
		.addr = (const struct sockaddr *)&r->addr,
		.addr_len = r->addr_len,
		.tls = r->tls,
		.host = o->host,
		.host_hdr = r->host_hdr,
		.sndbuf = o->sndbuf,
	};
	if (o->num_src) {
		source_addr(o, 2ull * s->idx + (c->role == ROLE_B), &src);
		d.src = (const struct sockaddr *)&src;
		d.src_len = sizeof src;
	}
	session_path_gen(r, s->idx, s->gen, path, sizeof path);
	int rc = bench_wconn_dial(&c->w, &d, path, IO_TIMEOUT_MS, on_event, c);
	if (rc < 0) {
		if (rc == -EPROTO && c->w.tls_failed) {
			wk->err.tls++;
			if (!atomic_exchange(&r->tls_reported, true))
				fprintf(stderr, "atmosphere-bench relay: wss://%s: %s%s\n", r->host_hdr, bench_tls_last_error(),
					o->ca_file || o->insecure ? "" : " (a test CA: --ca FILE; or --insecure)");
		} else {
			count_error(wk, rc, c->w.http_status);
		}
		return rc;
	}
	bump_u(&wk->conns_open);
	return 0;
}

/* B's dial, run beside A's (dial_pair). On the heap, with a reference to
 * B of its own: the session's coroutine waits for it, and nothing of one
 * coroutine's stack is the other's to write. */
struct side_dial {
	struct worker *wk;
	struct session *s;
	struct conn *c;
	struct core_coro *waiter;     /* parked for the result, or NULL */
	bool done;
	bool abandoned;               /* the waiter gave up (teardown): free it here */
	int rc;
};

static void side_dial_main(void *arg)
{
	struct side_dial *d = arg;
	d->rc = dial(d->wk, d->s, d->c);
	d->c->dialing = false;
	if (d->rc == 0 && spawn_reader(d->c) < 0) {
		d->wk->err.io++;
		d->rc = -ENOMEM;
	}
	conn_put(d->c);
	d->done = true;
	if (d->abandoned)
		free(d);
	else if (d->waiter)
		core_unpark(d->waiter, 0);
}

/* Dials a and b of session s at the same time, as two peers connect each
 * on its own, and starts their readers. One after the other, a session's
 * set-up took two handshakes in a row, and with --concurrency sessions in
 * flight the set-up rate measured that latency, not what the relay can
 * take: a proxy's session (--sink) is one dialed connection. Returns 0, or
 * -1 when either failed (counted); the caller retires what came up. B's
 * dial has ended by then unless the runtime is being torn down. Suspends. */
static int dial_pair(struct worker *wk, struct session *s, struct conn *a, struct conn *b)
{
	struct side_dial *d = calloc(1, sizeof *d);
	if (!d) {
		wk->err.io++;
		return -1;
	}
	*d = (struct side_dial){.wk = wk, .s = s, .c = b};
	b->refs++;
	b->dialing = true;
	if (core_spawn(side_dial_main, d) < 0) {
		b->dialing = false;
		b->refs--;
		wk->err.io++;
		free(d);
		return -1;
	}
	int rc = dial(wk, s, a);
	if (rc == 0 && spawn_reader(a) < 0) {
		wk->err.io++;
		rc = -ENOMEM;
	}
	/* B's dial ends by its own deadlines (IO_TIMEOUT_MS per step). */
	while (!d->done) {
		d->waiter = core_coro_current();
		int pr = core_park(IO_TIMEOUT_MS);
		d->waiter = NULL;
		if (pr == -ECANCELED && !d->done) {
			d->abandoned = true;
			return -1;
		}
	}
	int brc = d->rc;
	free(d);
	return rc < 0 || brc < 0 ? -1 : 0;
}

/* Parks until the phase reaches ph. The worker unparks its sessions at
 * each phase change. Such a wait is long and idle (the whole set-up of the
 * other sessions, the hold of --mode connections, an idle session's run),
 * so the coroutine hibernates in it (core_coro_hibernate, core/coro.h): its
 * stack pages, those the dial touched included, go back to the kernel.
 * Safe: the park's timer and flag are the task's (heap), and nothing else
 * refers to this stack while it is parked. */
static void wait_phase(struct session *s, int ph)
{
	struct run *r = s->wk->run;
	for (unsigned i = 0; phase_get(r) < ph && i < 1000000u; i++) {
		s->parked = true;
		core_coro_hibernate();
		core_park(PARK_SLICE_MS);
		/* core_park may return without switching out (teardown): the
		 * request must not carry over to a later, unsafe wait. */
		core_coro_hibernate_cancel();
		s->parked = false;
	}
}

/* Whether the sink's end of a session sends (--sink with --direction
 * ba/both): it is then handed to the session's thread and becomes its B. */
static bool sink_b_sends(const struct bench_relay_opts *o)
{
	return o->sink && o->mode == BENCH_RELAY_LATENCY && o->direction != BENCH_RELAY_AB;
}

/* --sink, --direction ba/both: waits (bounded by IO_TIMEOUT_MS) until the
 * sink's end of the session's current pair reached this thread and
 * sink_attach made it s->b. The caller set s->b_wanted before dialing A.
 * Returns 0, or -1 (counted as a timeout). Suspends. */
static int wait_sink_b(struct session *s)
{
	struct run *r = s->wk->run;
	uint64_t deadline = bench_mono_ns() + (uint64_t)IO_TIMEOUT_MS * 1000000u;
	/* The deadline ends it; the count only bounds the loop (the pacer may
	 * wake a session --rate times a second meanwhile, up to 10^6 in 10 s). */
	for (unsigned i = 0; !s->b && i < 100000000u && phase_get(r) < BENCH_LOAD_CLOSE; i++) {
		uint64_t now = bench_mono_ns();
		if (now >= deadline)
			break;
		s->parked = true;
		core_park((int)((deadline - now) / 1000000u) + 1);
		s->parked = false;
	}
	s->b_wanted = false;
	if (s->b)
		return 0;
	s->wk->err.timeout++;
	return -1;
}

/* Sends one stamped message on c (A, or B under --direction ba/both), of
 * a size drawn from --size in latency mode. */
static void send_stamped(struct session *s, struct conn *c, uint64_t sched)
{
	struct worker *wk = s->wk;
	const struct bench_relay_opts *o = wk->run->o;
	size_t payload = o->mode == BENCH_RELAY_LATENCY ? o->size : BENCH_STAMP_LEN;
	/* The sink's B is the server of its connection: its frames go unmasked. */
	uint8_t *frame = c->server ? s->frame_srv : s->frame;
	size_t *frame_len = c->server ? &s->frame_srv_len : &s->frame_len;
	const uint8_t *mask = c->server ? NULL : s->mask;
	if (o->mode == BENCH_RELAY_LATENCY && o->sizes.kind != BENCH_SIZE_FIXED) {
		/* Rebuilt per message: the header and mask phase follow the size.
		 * O(size) bytes written, at most 64 KiB; the generator's CPU shows it. */
		payload = bench_size_dist_sample(&o->sizes, &s->rng);
		*frame_len = bench_frames_build(frame, s->frame_cap, payload, 1, mask);
	}
	size_t hl = *frame_len - payload;
	bench_stamp_put(frame + hl, mask, s->idx, sched);
	int rc = conn_send(c, frame, *frame_len, payload, 1);
	if (rc < 0) {
		count_error(wk, rc, 0);
		return;
	}
	s->tx++;
	bump(&wk->tx_msgs, 1);
	if (o->mode == BENCH_RELAY_LATENCY) {
		wk->tx_dir[c->role == ROLE_B]++;
		if (bench_load_in_window(&wk->run->load, sched))
			bench_hdr_record(wk->lag, bench_sched_latency(sched, bench_mono_ns()));
	}
}

static void run_throughput(struct session *s)
{
	struct worker *wk = s->wk;
	struct run *r = wk->run;
	uint64_t now = bench_mono_ns();
	if (now < r->load.t_run0)
		core_sleep((unsigned)((r->load.t_run0 - now) / 1000000u) + 1);
	uint64_t payload = (uint64_t)wk->batch_msgs * r->o->size;
	/* Bounded by the clock, and by a count no run reaches before it. */
	for (uint64_t i = 0; i < UINT64_MAX / 2 && bench_mono_ns() < r->load.t_meas1 && phase_get(r) < BENCH_LOAD_CLOSE; i++) {
		int rc = conn_send(s->a, wk->batch, wk->batch_len, payload, wk->batch_msgs);
		if (rc < 0) {
			count_error(wk, rc, 0);
			break;
		}
		bump(&wk->tx_msgs, wk->batch_msgs);
	}
}

/* Ends a connection of a session on purpose (--churn): Close 1000, and our
 * reference goes; its reader ends at EOF without counting an error. */
static void retire(struct conn *c)
{
	if (!c)
		return;
	c->retired = true;
	/* A connection still being dialed (dial_pair abandoned at teardown)
	 * gets no Close: its upgrade or TLS handshake is in flight. */
	if (!c->w.close_sent && c->w.sock && !c->dialing)
		conn_control(c, RELAY_WS_OP_CLOSE, close_normal, sizeof close_normal);
	conn_put(c);
}

/* Dials the pair of generation s->gen and starts its readers. Returns 0,
 * or -1 (counted) with nothing left open. */
static int pair_up(struct session *s)
{
	struct worker *wk = s->wk;
	bool sink = wk->run->o->sink; /* --sink: B is the sink's, which accepts the new id */
	struct conn *a = conn_new(wk, s, ROLE_A, false), *b = sink ? NULL : conn_new(wk, s, ROLE_B, false);
	s->b_wanted = sink_b_sends(wk->run->o); /* its B arrives at the sink, sink_attach takes it */
	if (!a || (!sink && !b)) {
		wk->err.io++;
		goto fail;
	}
	if (sink ? dial(wk, s, a) < 0 || spawn_reader(a) < 0 : dial_pair(wk, s, a, b) < 0)
		goto fail;
	s->a = a;
	if (!sink)
		s->b = b;
	else if (s->b_wanted && wait_sink_b(s) < 0) {
		retire(s->a);
		s->a = NULL;
		return -1;
	}
	return 0;
fail:
	s->b_wanted = false;
	if (a)
		retire(a);
	if (b)
		retire(b);
	if (sink && s->b) { /* attached before A's dial failed */
		retire(s->b);
		s->b = NULL;
	}
	return -1;
}

/* --churn: replaces session s by a new pair on a new id, during the
 * traffic. First what it sent may arrive (bounded by CHURN_DRAIN_MS, so a
 * replacement loses nothing it need not), then both connections close and
 * two new ones dial and pair. Messages falling due meanwhile are sent once
 * the new pair is up, from their scheduled times: the replacement's cost
 * shows in their latency, as a user's would. Returns 0, or -1 when the new
 * pair did not come up (the session then counts as ended). Suspends. */
static int churn(struct session *s)
{
	struct worker *wk = s->wk;
	uint64_t deadline = bench_mono_ns() + (uint64_t)CHURN_DRAIN_MS * 1000000u;
	while (atomic_load_explicit(&s->rx_msgs, memory_order_relaxed) < s->tx && bench_mono_ns() < deadline)
		core_sleep(1);
	retire(s->a);
	retire(s->b);
	s->a = s->b = NULL;
	s->gen++;
	if (pair_up(s) < 0) {
		if (!s->ended) {
			s->ended = true;
			bump_u(&wk->ended);
		}
		return -1;
	}
	bump_u(&wk->churned);
	return 0;
}

static void run_latency(struct session *s)
{
	struct worker *wk = s->wk;
	struct run *r = wk->run;
	const struct bench_relay_opts *o = r->o;
	/* The rate is read when a message is due, not here: a session whose
	 * park slice ends just as RUN is published gets here before its
	 * worker has counted the sessions that came up (num_up 0, a rate of 0
	 * and a division by zero at the first send: seen at 5,000 sessions).
	 * A message is due only once the pacer runs, after the count. */
	struct bench_sched sched = {.start_ns = r->load.t_run0};
	bool think_on = bench_think_on(&o->think);
	for (;;) {
		if (s->churn_pending && phase_get(r) == BENCH_LOAD_RUN) {
			s->churn_pending = 0;
			if (churn(s) < 0)
				break; /* the session is over: its new pair did not come up */
		}
		sched.rate = (uint64_t)o->rate * wk->num_up;
		while (s->sent < s->due && phase_get(r) < BENCH_LOAD_CLOSE) {
			/* This session's message k is event k * n + pos of the thread's schedule. */
			uint64_t t = bench_sched_time(&sched, s->sent * wk->num_up + s->pos);
			s->sent++;
			/* --stage: a message whose session is not active at its
			 * scheduled time is skipped, never delayed (bench/stage.h). */
			if (o->stages.num && !bench_stage_active(&o->stages, r->load.t_run0, t, s->idx))
				continue;
			/* --rate-stage: at level L the session sends L of every --rate
			 * slots, the others skipped the same way (bench/stage.h). */
			if (o->rate_stages.num &&
			    !bench_stage_thin(&o->rate_stages, r->load.t_run0, t, o->rate, &s->rate_credit))
				continue;
			/* --think: slots inside the session's pause are skipped too
			 * (bench/think.h); one that goes keeps its scheduled time. */
			if (think_on && !bench_think_take(&o->think, &s->think, t))
				continue;
			if (o->direction != BENCH_RELAY_BA && s->a)
				send_stamped(s, s->a, t);
			if (o->direction != BENCH_RELAY_AB && s->b)
				send_stamped(s, s->b, t);
		}
		int ph = phase_get(r);
		if (ph >= BENCH_LOAD_CLOSE || (ph >= BENCH_LOAD_DRAIN && s->sent >= s->due))
			break;
		s->parked = true;
		core_park(PARK_SLICE_MS);
		s->parked = false;
	}
}

static void release_setup_slot(struct worker *wk)
{
	wk->setup_inflight--;
	if (wk->spawner)
		core_unpark(wk->spawner, 0);
}

static void session_main(void *arg)
{
	struct session *s = arg;
	struct worker *wk = s->wk;
	struct run *r = wk->run;
	const struct bench_relay_opts *o = r->o;
	struct conn *a = NULL, *b = NULL;

	s->co = core_coro_current();
	s->b_wanted = sink_b_sends(o); /* its B arrives at the sink, sink_attach takes it */
	a = conn_new(wk, s, ROLE_A, false);
	if (!a)
		goto failed;
	if (!o->sink) {
		b = conn_new(wk, s, ROLE_B, false);
		if (!b || dial_pair(wk, s, a, b) < 0)
			goto failed;
		if (o->mode == BENCH_RELAY_LATENCY && (o->direction != BENCH_RELAY_AB || o->churn_rate)) {
			/* B sends too, or --churn may retire it: our reference stays,
			 * the reader has its own */
			s->b = b;
		} else {
			conn_put(b); /* the reader owns it now */
		}
		b = NULL;
	} else {
		if (dial(wk, s, a) < 0)
			goto failed;
		if (spawn_reader(a) < 0) {
			wk->err.io++;
			goto failed;
		}
		if (s->b_wanted && wait_sink_b(s) < 0)
			goto failed;
	}
	s->a = a;
	s->up = true;
	bump_u(&wk->up);
	atomic_store_explicit(&wk->setup_last_ns, bench_mono_ns(), memory_order_relaxed);
	release_setup_slot(wk);

	wait_phase(s, BENCH_LOAD_RUN);
	if (s->idle) {
		/* held open, sending nothing, until the close */
	} else if (o->mode == BENCH_RELAY_THROUGHPUT && phase_get(r) == BENCH_LOAD_RUN) {
		run_throughput(s);
	} else if (o->mode == BENCH_RELAY_LATENCY && phase_get(r) == BENCH_LOAD_RUN) {
		run_latency(s);
	} else if (o->mode == BENCH_RELAY_CONNECTIONS) {
		wait_phase(s, BENCH_LOAD_DRAIN);
		if (phase_get(r) == BENCH_LOAD_DRAIN)
			send_stamped(s, s->a, bench_mono_ns());
	}
	bump_u(&wk->senders_done);
	wait_phase(s, BENCH_LOAD_CLOSE);
	/* s->a: --churn may have replaced the first pair (or left none). */
	if (s->a) {
		if (!s->a->w.close_sent && s->a->w.sock)
			conn_control(s->a, RELAY_WS_OP_CLOSE, close_normal, sizeof close_normal);
		conn_put(s->a);
		s->a = NULL;
	}
	if (s->b) {
		if (!s->b->w.close_sent && s->b->w.sock)
			conn_control(s->b, RELAY_WS_OP_CLOSE, close_normal, sizeof close_normal);
		conn_put(s->b);
		s->b = NULL;
	}
	return;
failed:
	s->b_wanted = false;
	if (b) /* its dial may have come up while A's failed: close it */
		retire(b);
	if (s->b) { /* --sink: its end came, A's did not finish */
		if (s->b->w.sock && !s->b->w.close_sent)
			conn_control(s->b, RELAY_WS_OP_CLOSE, close_normal, sizeof close_normal);
		conn_put(s->b);
		s->b = NULL;
	}
	if (a) {
		if (a->w.sock && !a->w.close_sent)
			conn_control(a, RELAY_WS_OP_CLOSE, close_normal, sizeof close_normal);
		conn_put(a);
	}
	bump_u(&wk->failed);
	release_setup_slot(wk);
}

/* --- the sink: B's end of a baseline --- */

static void sink_adopt(void *arg);

/* --direction ba/both: on the session's thread, the sink's end of the pair
 * the session waits for (its generation) becomes its B, which sends; a
 * reference of the session's own. Any other (a late end of a retired
 * pair, a session that gave up) is only read. */
static void sink_attach(struct conn *c)
{
	struct session *s = c->s;
	if (!sink_b_sends(c->wk->run->o) || !s->b_wanted || s->b || c->gen != s->gen || s->wk != c->wk)
		return;
	c->refs++;
	s->b = c;
	s->b_wanted = false;
	if (s->parked && s->co)
		core_unpark(s->co, 0);
}

static void sink_conn(void *arg)
{
	struct conn *c = arg;
	struct worker *wk = c->wk;
	struct run *r = wk->run;
	char id[129];
	int rc = bench_wconn_accept(&c->w, c->accepted_fd, id, IO_TIMEOUT_MS, on_event, c);
	c->accepted_fd = -1;
	if (rc < 0) {
		count_error(wk, rc, 0);
		conn_put(c);
		return;
	}
	bump_u(&wk->conns_open);
	/* The id is "<prefix>-<index>", or "<prefix>-<index>-g<gen>" for a
	 * --churn replacement: anything else is not from this run. */
	size_t plen = strlen(r->prefix);
	char *end = NULL;
	unsigned long idx = ULONG_MAX;
	if (!strncmp(id, r->prefix, plen) && id[plen] == '-' && id[plen + 1] >= '0' && id[plen + 1] <= '9')
		idx = strtoul(id + plen + 1, &end, 10);
	unsigned long gen = 0;
	if (end && end[0] == '-' && end[1] == 'g' && end[2] >= '1' && end[2] <= '9' && r->o->churn_rate)
		gen = strtoul(end + 2, &end, 10);
	if (idx >= r->num_sessions || !end || *end || gen > UINT32_MAX) {
		wk->err.proto++;
		conn_put(c);
		return;
	}
	c->s = &r->s[idx];
	c->gen = (uint32_t)gen;
	struct worker *owner = c->s->wk;
	if (sink_b_sends(r->o) && owner != wk) {
		/* B sends from its session's schedule: the connection moves to
		 * the session's thread (setup and --churn only, never per
		 * message). */
		drop_u(&wk->conns_open);
		int fd = bench_wconn_detach(&c->w, &c->rest, &c->rest_len);
		if (fd < 0) {
			count_error(wk, fd, 0);
			conn_put(c);
			return;
		}
		c->accepted_fd = fd;
		c->wk = owner;
		if (core_rt_post(r->load.rt, owner->idx, sink_adopt, c) < 0) {
			close(fd);
			free(c->rest);
			c->rest = NULL;
			c->accepted_fd = -1;
			c->wk = wk;
			wk->err.io++;
			conn_put(c);
		}
		return;
	}
	sink_attach(c);
	reader_main(c); /* takes over our reference */
}

/* On the session's thread: the sink's end of a session, handed over by the
 * thread that accepted it (sink_conn). */
static void sink_adopt(void *arg)
{
	struct conn *c = arg;
	struct worker *wk = c->wk;
	int rc = bench_wconn_adopt(&c->w, c->accepted_fd, c->rest, c->rest_len, on_event, c);
	c->accepted_fd = -1;
	free(c->rest);
	c->rest = NULL;
	if (rc < 0) {
		count_error(wk, rc, 0);
		conn_put(c);
		return;
	}
	bump_u(&wk->conns_open);
	sink_attach(c);
	reader_main(c); /* takes over our reference */
}

static void sink_interrupt(void *arg)
{
	struct worker *wk = arg;
	if (wk->sink)
		core_listener_interrupt(wk->sink);
}

static void sink_accept(void *arg)
{
	struct worker *wk = arg;
	int err = 0;
	wk->sink = core_listener_new(wk->sink_fd, &err);
	wk->sink_fd = -1; /* the listener owns it now, or closed it */
	if (!wk->sink) {
		count_error(wk, err, 0);
		return;
	}
	core_on_shutdown(&wk->hook, sink_interrupt, wk);
	/* One accept per connection of the run, at most; ends at DONE. */
	for (unsigned i = 0; i < 4u * BENCH_RELAY_SESSIONS_MAX && phase_get(wk->run) < BENCH_LOAD_DONE; i++) {
		int fd = core_listener_accept(wk->sink, RECV_SLICE_MS);
		if (fd == -ETIMEDOUT)
			continue;
		if (fd == -ECANCELED)
			break;
		if (fd < 0) {
			count_error(wk, fd, 0);
			core_sleep(1); /* -EMFILE and the like: do not spin on it */
			continue;
		}
		struct conn *c = conn_new(wk, NULL, ROLE_B, true);
		if (!c) {
			close(fd);
			wk->err.io++;
			continue;
		}
		c->accepted_fd = fd;
		if (core_spawn(sink_conn, c) < 0) {
			close(fd);
			free(c);
			wk->err.io++;
		}
	}
	core_shutdown_hook_remove(&wk->hook);
	core_listener_close(wk->sink);
	wk->sink = NULL;
}

/* --- the worker: one per reactor thread --- */

static void unpark_sessions(struct worker *wk)
{
	for (unsigned i = 0; i < wk->num_local; i++) {
		struct session *s = wk->local[i];
		if (s->parked && s->co)
			core_unpark(s->co, 0);
	}
}

/* Latency: releases messages first .. due - 1 of this thread's schedule:
 * event j is message j / n of its j % n-th session that came up, whose
 * coroutine sends it (bench/load.h paces; sched.h says why the schedule). */
static uint64_t release_due(void *arg, uint64_t first, uint64_t due)
{
	struct worker *wk = arg;
	unsigned n = wk->num_up;
	for (uint64_t j = first; j < due; j++) {
		struct session *s = wk->up_list[j % n];
		s->due = j / n + 1;
		if (s->parked)
			core_unpark(s->co, 0);
	}
	return due;
}

static void pace(struct worker *wk)
{
	struct run *r = wk->run;
	if (!wk->num_up)
		return;
	struct bench_sched sch = {.start_ns = r->load.t_run0, .rate = (uint64_t)r->o->rate * wk->num_up};
	bench_load_pace(&r->load, &sch, BENCH_LOAD_CLOSE, release_due, wk);
}

/* --churn: one per worker. Walks the run's replacement schedule
 * (bench/scenario.h) from t_run0 to t_meas1 and asks each of its own
 * victims, busy sessions that are up, to replace itself; the session's
 * coroutine does it between sends. */
static void churner_main(void *arg)
{
	struct worker *wk = arg;
	struct run *r = wk->run;
	const struct bench_relay_opts *o = r->o;
	unsigned nw = r->load.num_workers;
	for (uint64_t i = 0; i < UINT64_MAX / 2; i++) {
		uint64_t t = bench_churn_time(r->load.t_run0, o->churn_rate, i);
		if (t >= r->load.t_meas1 || phase_get(r) != BENCH_LOAD_RUN)
			break;
		uint32_t k = bench_churn_victim(i, o->sessions);
		if (k % nw != wk->idx)
			continue; /* session k lives on worker k mod threads (run_init) */
		bench_load_sleep_until(t, NULL, NULL);
		struct session *s = &r->s[k];
		if (!s->up || s->ended || phase_get(r) != BENCH_LOAD_RUN)
			continue;
		s->churn_pending++;
		if (s->parked && s->co)
			core_unpark(s->co, 0);
	}
}

static void coordinator_main(void *arg);

static void worker_main(void *arg)
{
	struct run *r = arg;
	struct worker *wk = &r->w[core_reactor_index(core_self())];
	if (wk->idx == 0 && core_spawn(coordinator_main, r) < 0) {
		fprintf(stderr, "atmosphere-bench relay: cannot start the coordinator: out of memory\n");
		r->failed = true;
		core_rt_shutdown(r->load.rt);
		return;
	}
	if (r->o->sink && core_spawn(sink_accept, wk) < 0)
		wk->err.io++;
	if (r->iv && core_spawn(bench_interval_ticker_main, &wk->ticker) < 0)
		wk->err.io++; /* this worker's rows are forced out without it */

	/* SETUP: at most setup_max sessions of this thread being set up at once. */
	wk->spawner = core_coro_current();
	for (unsigned i = 0; i < wk->num_local && phase_get(r) < BENCH_LOAD_CLOSE; i++) {
		for (unsigned k = 0; wk->setup_inflight >= wk->setup_max && k < 1000000u && phase_get(r) < BENCH_LOAD_CLOSE; k++)
			core_park(PARK_SLICE_MS);
		wk->setup_inflight++;
		if (core_spawn(session_main, wk->local[i]) < 0) {
			wk->setup_inflight--;
			bump_u(&wk->failed);
			wk->err.io++;
		}
	}
	wk->spawner = NULL;
	bench_load_arrive(&r->load);

	bench_load_wait(&r->load, BENCH_LOAD_RUN, 1);
	for (unsigned i = 0; i < wk->num_local; i++)
		if (wk->local[i]->up && !wk->local[i]->idle) {
			wk->local[i]->pos = wk->num_up;
			wk->up_list[wk->num_up++] = wk->local[i];
		}
	unpark_sessions(wk);
	if (r->o->churn_rate && phase_get(r) == BENCH_LOAD_RUN && core_spawn(churner_main, wk) < 0)
		wk->err.io++;
	if (r->o->mode == BENCH_RELAY_LATENCY && phase_get(r) == BENCH_LOAD_RUN)
		pace(wk);
	bench_load_wait(&r->load, BENCH_LOAD_DRAIN, 1);
	unpark_sessions(wk);
	bench_load_wait(&r->load, BENCH_LOAD_CLOSE, 1);
	unpark_sessions(wk);
	bench_load_wait(&r->load, BENCH_LOAD_DONE, 1);
	if (wk->sink)
		core_listener_interrupt(wk->sink);
}

/* --- the coordinator, on reactor 0 --- */

#define SUM(r, field) BENCH_LOAD_SUM(&(r)->load, (r)->w, field)
#define SUM64(r, field) BENCH_LOAD_SUM64(&(r)->load, (r)->w, field)

static void progress(struct run *r, const char *what)
{
	if (!r->tty)
		return;
	unsigned up = SUM(r, up), failed = SUM(r, failed);
	uint64_t rx = SUM64(r, rx_msgs), bytes = SUM64(r, rx_payload);
	fprintf(stderr, "\ratmosphere-bench relay: %-8s sessions %u/%u up, %u failed; received %llu msgs, %.1f MB   ",
		what, up, r->num_sessions, failed, (unsigned long long)rx, (double)bytes / 1e6);
}

/* Sleeps until t (CLOCK_MONOTONIC ns), printing progress about once a
 * second. */
static void progress_tick(void *arg)
{
	struct run *r = arg;
	progress(r, r->progress_what);
}

static void sleep_until(struct run *r, uint64_t t, const char *what)
{
	r->progress_what = what;
	/* Live rows, when on, are the progress once the run started. */
	bench_load_sleep_until(t, r->iv ? NULL : progress_tick, r);
}

/* TCP memory before the traffic, and the relay's sockets to watch. */
static void mem_begin(struct run *r)
{
	r->tcp_mem_ok = bench_sockstat_tcp_bytes(&r->tcp_mem0) == 0;
	r->tcp_mem_peak = r->tcp_mem0;
	r->relay_mem_ok = r->o->relay_pid && bench_sockset_load(&r->relay_socks, r->o->relay_pid) > 0;
}

/* One sample of the machine's TCP memory: a read of /proc/net/sockstat,
 * a few microseconds. */
static void mem_sample(struct run *r)
{
	uint64_t t0 = bench_mono_ns(), v;
	if (r->tcp_mem_ok && bench_sockstat_tcp_bytes(&v) == 0 && v > r->tcp_mem_peak)
		r->tcp_mem_peak = v;
	r->mem_samples++;
	uint64_t dt = bench_mono_ns() - t0;
	if (dt > r->mem_sample_ns_max)
		r->mem_sample_ns_max = dt;
}

/* The relay's own sockets, once, at the end of the measured time while the
 * load still runs, beside the machine's figure at that moment: a dump of
 * every TCP socket of the machine, 15-50 ms of CPU at 1,000 busy sessions,
 * too dear to repeat every 250 ms on a load thread. */
static void mem_end(struct run *r)
{
	if (r->tcp_mem_ok && bench_sockstat_tcp_bytes(&r->tcp_mem_end) != 0)
		r->tcp_mem_end = 0;
	uint64_t c0 = bench_thread_cpu_ns();
	if (r->relay_mem_ok && bench_sockset_tcp_bytes(&r->relay_socks, &r->relay_mem_end) < 0)
		r->relay_mem_ok = false;
	r->relay_dump_cpu_ns = bench_thread_cpu_ns() - c0;
}

/* sleep_until, sampling TCP memory every MEM_SAMPLE_MS on the way. */
static void sleep_sampling(struct run *r, uint64_t t, const char *what)
{
	uint64_t last_progress = bench_mono_ns();
	for (unsigned i = 0; i < 100000000u; i++) {
		uint64_t now = bench_mono_ns();
		if (now >= t)
			return;
		uint64_t next = now + (uint64_t)MEM_SAMPLE_MS * 1000000u;
		sleep_until(r, next < t ? next : t, what);
		mem_sample(r);
		if (!r->iv && bench_mono_ns() - last_progress >= 1000000000u) {
			progress(r, what);
			last_progress = bench_mono_ns();
		}
	}
}

static void coordinator_main(void *arg)
{
	struct run *r = arg;
	const struct bench_relay_opts *o = r->o;

	/* SETUP */
	uint64_t deadline = r->t_setup0 + (uint64_t)SETUP_TIMEOUT_MS * 1000000u, last = 0;
	while (SUM(r, up) + SUM(r, failed) < r->num_sessions && bench_mono_ns() < deadline) {
		core_sleep(2);
		if (bench_mono_ns() - last > 1000000000u) {
			progress(r, "set-up");
			last = bench_mono_ns();
		}
	}
	r->setup_cpu1_ns = bench_cpu_ns();
	r->setup_srv1_ns = o->relay_pid ? bench_proc_cpu_ns(o->relay_pid) : 0;
	unsigned up = SUM(r, up);
	if (!up)
		goto close;
	if (o->mode == BENCH_RELAY_CONNECTIONS) {
		/* Hold: the RSS is read at the end, after the relay settled. */
		bench_load_start(&r->load, 0, 0, o->duration_ms);
		sleep_until(r, r->load.t_meas0 + (uint64_t)SETTLE_MS * 1000000u, "holding");
		sleep_until(r, r->load.t_meas1, "holding");
		r->relay_rss1 = o->relay_pid ? bench_proc_rss_kib(o->relay_pid) : -1;
		r->self_rss1 = bench_proc_rss_kib(0);
	} else {
		mem_begin(r);
		bench_load_start(&r->load, BENCH_LOAD_START_DELAY_MS, o->warmup_ms, o->duration_ms);
		sleep_sampling(r, r->load.t_meas0, "warm-up");
		r->cpu0_ns = bench_cpu_ns();
		r->relay_ticks0 = o->relay_pid ? bench_proc_ticks(o->relay_pid) : 0;
		sys_ticks(&r->sys_busy0, &r->sys_total0);
		sleep_sampling(r, r->load.t_meas1, "running");
		r->cpu1_ns = bench_cpu_ns();
		r->relay_ticks1 = o->relay_pid ? bench_proc_ticks(o->relay_pid) : 0;
		sys_ticks(&r->sys_busy1, &r->sys_total1);
		mem_end(r);
	}

	/* DRAIN, the check: senders finish; latency and connections wait for
	 * their messages. */
	r->t_check0 = bench_mono_ns();
	bench_load_publish(&r->load, BENCH_LOAD_DRAIN);
	deadline = r->t_check0 + (uint64_t)(o->mode == BENCH_RELAY_THROUGHPUT ? IO_TIMEOUT_MS : CHECK_MS) * 1000000u;
	while (bench_mono_ns() < deadline) {
		bool senders = SUM(r, senders_done) >= up;
		bool delivered = o->mode == BENCH_RELAY_THROUGHPUT || SUM64(r, rx_msgs) >= SUM64(r, tx_msgs);
		if (senders && delivered)
			break;
		core_sleep(2);
	}
close:
	bench_load_publish(&r->load, BENCH_LOAD_CLOSE);
	deadline = bench_mono_ns() + (uint64_t)(CLOSE_MS + 2 * RECV_SLICE_MS) * 1000000u;
	while (SUM(r, conns_open) > 0 && bench_mono_ns() < deadline)
		core_sleep(2);
	if (r->tty && !r->iv)
		fputc('\n', stderr); /* with live rows, bench_cmd_relay ends the line */
	bench_load_publish(&r->load, BENCH_LOAD_DONE);
	core_rt_shutdown(r->load.rt);
}

/* --- the command --- */

/* Raises the soft descriptor limit to the hard one and checks the run fits.
 * Returns 0, or -1 after saying why not. */
static int check_fds(const struct bench_relay_opts *o)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	unsigned sessions = o->sessions + o->idle_sessions;
	uint64_t need = 2ull * sessions + FD_RESERVE;
	if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur) {
		fprintf(stderr,
			"atmosphere-bench relay: --sessions %u needs %llu descriptors (two per session and %d more), but "
			"RLIMIT_NOFILE is %llu: raise it (ulimit -n) or ask for fewer sessions\n",
			sessions, (unsigned long long)need, FD_RESERVE, (unsigned long long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

static int resolve_or_say(const char *host, uint16_t port, struct sockaddr_storage *out, socklen_t *out_len)
{
	char err[300];
	int r = net_resolve_now(host, port, SOCK_STREAM, false, out, out_len, err, sizeof err);
	if (r)
		fprintf(stderr, "atmosphere-bench relay: %s\n", err);
	return r;
}

/* Binds one SO_REUSEPORT listener per worker on the sink address; with
 * port 0 the first picks the port, the others join it, and A dials it. */
static int sink_bind(struct run *r)
{
	struct sockaddr_storage a;
	socklen_t len;
	if (resolve_or_say(r->o->sink_host, r->o->sink_port, &a, &len))
		return -1;
	for (unsigned i = 0; i < r->load.num_workers; i++) {
		int fd = core_tcp_listen((const struct sockaddr *)&a, len, SINK_BACKLOG, true);
		if (fd < 0) {
			fprintf(stderr, "atmosphere-bench relay: --sink %s:%u: listen: %s\n", r->o->sink_host,
				r->o->sink_port, strerror(-fd));
			return -1;
		}
		r->w[i].sink_fd = fd;
		if (i == 0 && r->o->sink_port == 0 && getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
			fprintf(stderr, "atmosphere-bench relay: --sink: getsockname: %s\n", strerror(errno));
			return -1;
		}
	}
	if (r->o->sink_port == 0) {
		uint16_t port = ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
							       : ((struct sockaddr_in *)&a)->sin_port);
		memcpy(&r->addr, &a, len);
		r->addr_len = len;
		r->port = port;
	}
	return 0;
}

static void run_free(struct run *r)
{
	if (r->w)
		for (unsigned i = 0; i < r->load.num_workers; i++) {
			struct worker *wk = &r->w[i];
			free(wk->local);
			free(wk->up_list);
			bench_hdr_free(wk->hist);
			bench_hdr_free(wk->lag);
			bench_hdr_free(wk->hist_dir[ROLE_A]);
			bench_hdr_free(wk->hist_dir[ROLE_B]);
			free(wk->batch);
			if (wk->sink_fd >= 0)
				close(wk->sink_fd);
		}
	if (r->s)
		for (unsigned i = 0; i < r->num_sessions; i++) {
			free(r->s[i].frame);
			free(r->s[i].frame_srv);
		}
	free(r->s);
	free(r->w);
	bench_sockset_cleanup(&r->relay_socks);
	bench_load_cleanup(&r->load);
	bench_tls_free(r->tls);
	bench_interval_free(r->iv);
	if (r->json_iv)
		fclose(r->json_iv);
}

/* Every source address must be local, and of the destination's family:
 * checked on the first and last address used, before any traffic.
 * Returns 0, or -1 after saying why not. */
static int check_sources(const struct run *r)
{
	const struct bench_relay_opts *o = r->o;
	if (r->addr.ss_family != AF_INET) {
		fprintf(stderr, "atmosphere-bench relay: --source-range %s is IPv4, but %s is not an IPv4 address\n",
			o->src_range, o->host);
		return -1;
	}
	uint64_t probe[2] = {0, o->num_src - 1};
	for (int i = 0; i < 2; i++) {
		struct sockaddr_in a;
		char txt[INET_ADDRSTRLEN];
		int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err = 0;
		source_addr(o, probe[i], &a);
		if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0 ||
		    bind(fd, (const struct sockaddr *)&a, sizeof a) != 0)
			err = errno;
		if (fd >= 0)
			close(fd);
		if (err) {
			inet_ntop(AF_INET, &a.sin_addr, txt, sizeof txt);
			fprintf(stderr, "atmosphere-bench relay: --source-range %s: cannot bind %s: %s%s\n", o->src_range, txt,
				strerror(err), err == EADDRNOTAVAIL ? " (not a local address; on loopback use 127.0.0.0/8)" : "");
			return -1;
		}
	}
	return 0;
}

/* --- live rows (bench/interval.h) --- */

/* The error kinds of a row, in live_snap's order; the names of the final
 * report's "errors" object. */
static const char *const live_err_names[] = {
	"refused", "timeout", "http_409", "http_429", "http_503", "http_other", "closed", "reset", "proto", "tls", "io",
};

/* A worker's cumulative counters, on its own thread: the atomics are its
 * own, the errors struct has no other writer. */
static void live_snap(void *arg, struct bench_interval_counts *out)
{
	struct worker *wk = arg;
	const struct bench_relay_errors *e = &wk->err;
	const uint64_t errs[] = {e->refused, e->timeout, e->http_409, e->http_429, e->http_503, e->http_other,
				 e->closed, e->reset, e->proto, e->tls, e->io};
	_Static_assert(sizeof errs / sizeof errs[0] == sizeof live_err_names / sizeof live_err_names[0],
		       "one name per error kind");
	/* Current sessions: up minus those that lost a connection since. */
	out->sessions = atomic_load_explicit(&wk->up, memory_order_relaxed) -
			atomic_load_explicit(&wk->ended, memory_order_relaxed);
	out->active = 0;
	const struct bench_relay_opts *o = wk->run->o;
	if (o->stages.num) {
		uint64_t now = bench_mono_ns();
		for (unsigned i = 0; i < wk->num_up; i++) {
			const struct session *s = wk->up_list[i];
			out->active += !s->ended && bench_stage_active(&o->stages, wk->run->load.t_run0, now, s->idx);
		}
	}
	out->msgs = atomic_load_explicit(&wk->rx_msgs, memory_order_relaxed);
	out->bytes = atomic_load_explicit(&wk->rx_payload, memory_order_relaxed);
	memcpy(out->errors, errs, sizeof errs);
}

/* Sets up the live rows: the aggregator, the --json-interval file, and a
 * ticker per worker. Returns 0, or -1 after saying why not. */
static int live_init(struct run *r)
{
	const struct bench_relay_opts *o = r->o;
	if (o->json_interval && !(r->json_iv = fopen(o->json_interval, "w"))) {
		fprintf(stderr, "atmosphere-bench relay: --json-interval '%s': %s\n", o->json_interval, strerror(errno));
		return -1;
	}
	struct bench_interval_opts io = {
		.cmd = CMD,
		.num_workers = r->load.num_workers,
		.period_ns = o->interval_ms * 1000000u,
		.latency = o->mode == BENCH_RELAY_LATENCY,
		.sessions_total = r->num_sessions,
		.stages = &o->stages,
		.rate_stages = &o->rate_stages,
		.err_names = live_err_names,
		.num_err = sizeof live_err_names / sizeof live_err_names[0],
		.live = stderr,
		.tty = r->tty,
		.json = r->json_iv,
		.json_hist = o->json_interval_hist,
	};
	int err = 0;
	r->iv = bench_interval_new(&io, &err);
	if (!r->iv) {
		fprintf(stderr, "atmosphere-bench relay: live rows: %s\n", strerror(-err));
		return -1;
	}
	for (unsigned i = 0; i < r->load.num_workers; i++) {
		struct worker *wk = &r->w[i];
		wk->ihist = bench_interval_hist(r->iv, i);
		wk->ticker = (struct bench_interval_ticker){
			.iv = r->iv, .load = &r->load, .worker = i, .stop_phase = BENCH_LOAD_CLOSE, .snap = live_snap, .arg = wk,
		};
	}
	return 0;
}

static int run_init(struct run *r, const struct bench_relay_opts *o)
{
	const char *nomem = "atmosphere-bench relay: out of memory\n";
	memset(r, 0, sizeof *r);
	r->o = o;
	r->tty = isatty(STDERR_FILENO);
	r->num_sessions = o->sessions + o->idle_sessions;
	bench_load_setup(&r->load, o->threads, r->num_sessions);
	r->relay_rss0 = r->relay_rss1 = -1;
	snprintf(r->prefix, sizeof r->prefix, "b%08x", (unsigned)bench_rand_u64());
	r->port = o->port;
	if (!(o->sink && o->sink_port == 0) && resolve_or_say(o->host, o->port, &r->addr, &r->addr_len))
		return -1;
	if (o->tls) {
		char err[256];
		r->tls = bench_tls_new(o->ca_file, o->insecure, o->tls_version == 12 ? BENCH_TLS_1_2 : BENCH_TLS_1_3, err,
				       sizeof err);
		if (!r->tls) {
			fprintf(stderr, "atmosphere-bench relay: --url wss://: %s\n", err);
			return -1;
		}
	}
	r->w = calloc(r->load.num_workers, sizeof *r->w);
	r->s = calloc(r->num_sessions, sizeof *r->s);
	if (!r->w || !r->s) {
		fputs(nomem, stderr);
		return -1;
	}
	unsigned per_thread = (r->num_sessions + r->load.num_workers - 1) / r->load.num_workers;
	for (unsigned i = 0; i < r->load.num_workers; i++) {
		struct worker *wk = &r->w[i];
		wk->run = r;
		wk->idx = i;
		wk->sink_fd = -1;
		wk->setup_max = o->concurrency / r->load.num_workers ? o->concurrency / r->load.num_workers : 1;
		wk->local = calloc(per_thread, sizeof *wk->local);
		wk->up_list = calloc(per_thread, sizeof *wk->up_list);
		wk->hist = bench_hdr_new(BENCH_HDR_SIG_DEFAULT, BENCH_HDR_HIGHEST_DEFAULT, NULL);
		wk->lag = bench_hdr_new(BENCH_HDR_SIG_DEFAULT, BENCH_HDR_HIGHEST_DEFAULT, NULL);
		if (o->mode == BENCH_RELAY_LATENCY && o->direction == BENCH_RELAY_BOTH) {
			wk->hist_dir[ROLE_A] = bench_hdr_new(BENCH_HDR_SIG_DEFAULT, BENCH_HDR_HIGHEST_DEFAULT, NULL);
			wk->hist_dir[ROLE_B] = bench_hdr_new(BENCH_HDR_SIG_DEFAULT, BENCH_HDR_HIGHEST_DEFAULT, NULL);
			if (!wk->hist_dir[ROLE_A] || !wk->hist_dir[ROLE_B]) {
				fputs(nomem, stderr);
				return -1;
			}
		}
		if (!wk->local || !wk->up_list || !wk->hist || !wk->lag) {
			fputs(nomem, stderr);
			return -1;
		}
		if (o->mode == BENCH_RELAY_THROUGHPUT) {
			uint64_t m = bench_rand_u64();
			uint8_t mask[4];
			memcpy(mask, &m, 4);
			size_t frame = bench_frame_header_len(o->size, true) + o->size;
			wk->batch_msgs = frame >= BATCH_BYTES ? 1 : (uint32_t)(BATCH_BYTES / frame);
			wk->batch = malloc(frame * wk->batch_msgs);
			if (!wk->batch) {
				fputs(nomem, stderr);
				return -1;
			}
			wk->batch_len = bench_frames_build(wk->batch, frame * wk->batch_msgs, o->size, wk->batch_msgs, mask);
		}
	}
	size_t payload = o->mode == BENCH_RELAY_LATENCY ? o->size : BENCH_STAMP_LEN;
	for (unsigned i = 0; i < r->num_sessions; i++) {
		struct session *s = &r->s[i];
		struct worker *wk = &r->w[i % r->load.num_workers];
		s->idx = i;
		s->wk = wk;
		/* Idle sessions take the indices after the busy ones; spread
		 * round-robin like them, they sit among the busy ones on every
		 * thread. */
		s->idle = i >= o->sessions;
		s->rng = bench_size_rng_seed(o->seed, i);
		bench_think_init(&s->think, o->seed, i);
		s->rate_credit = bench_stage_credit0(o->rate);
		wk->local[wk->num_local++] = s;
		if (o->mode == BENCH_RELAY_THROUGHPUT || s->idle)
			continue; /* no frame to send: an idle session sends nothing */
		uint64_t m = bench_rand_u64();
		memcpy(s->mask, &m, 4);
		s->frame_len = bench_frame_header_len(payload, true) + payload;
		s->frame_cap = s->frame_len;
		s->frame = malloc(s->frame_len);
		if (!s->frame) {
			fputs(nomem, stderr);
			return -1;
		}
		bench_frames_build(s->frame, s->frame_len, payload, 1, s->mask);
		if (sink_b_sends(o)) {
			s->frame_srv_len = bench_frame_header_len(payload, false) + payload;
			s->frame_srv = malloc(s->frame_cap); /* the masked frame's size: 4 bytes to spare */
			if (!s->frame_srv) {
				fputs(nomem, stderr);
				return -1;
			}
			bench_frames_build(s->frame_srv, s->frame_srv_len, payload, 1, NULL);
		}
	}
	if (o->interval_ms && live_init(r))
		return -1;
	if (o->sink && sink_bind(r))
		return -1;
	if (o->num_src && check_sources(r))
		return -1;
	if (strchr(o->host, ':'))
		snprintf(r->host_hdr, sizeof r->host_hdr, "[%s]:%u", o->host, r->port);
	else
		snprintf(r->host_hdr, sizeof r->host_hdr, "%s:%u", o->host, r->port);
	/* Receive buffers: each socket may queue 64 KiB (four 16 KiB buffers)
	 * before core pauses it, so a ring smaller than that times the busy
	 * sockets of a thread runs dry and stalls them all (-ENOBUFS): the
	 * generator would then be what limits. Idle sessions (and those of
	 * --mode connections, which send one message at the end) receive a
	 * notice and pings, never a queue: they count for little. Every receive takes
	 * the next buffer of the ring and touches its first page, so a ring
	 * larger than needed costs a page per buffer once all connections
	 * received something (16,384 buffers: 64 MiB). */
	unsigned busy = o->mode == BENCH_RELAY_CONNECTIONS ? 0 : o->sessions;
	unsigned idle = o->mode == BENCH_RELAY_CONNECTIONS ? o->sessions : o->idle_sessions;
	unsigned busy_per_thread = (busy + r->load.num_workers - 1) / r->load.num_workers;
	unsigned idle_per_thread = (idle + r->load.num_workers - 1) / r->load.num_workers;
	unsigned bufs = 1024;
	while (bufs < STREAM_BUFS_MAX && bufs < 4u * (busy_per_thread + idle_per_thread / 16 + 16))
		bufs *= 2;
	/* shutdown_grace_ms: by DONE every connection was given CLOSE_MS already. */
	return bench_load_runtime(&r->load, CMD,
				  (struct core_rt_opts){.shutdown_grace_ms = 1000, .stream_bufs = bufs});
}

static void collect(struct run *r, struct bench_relay_result *res)
{
	const struct bench_relay_opts *o = r->o;
	memset(res, 0, sizeof *res);
	res->port = r->port;
	res->threads = r->load.num_workers;
	res->cpus_allowed = (int)bench_load_cpus();
	res->relay_rss_kib_before = r->relay_rss0;
	res->relay_rss_kib_after = r->relay_rss1;
	res->self_rss_kib_before = r->self_rss0;
	res->self_rss_kib_after = r->self_rss1;
	uint64_t setup_last = r->t_setup0;
	struct bench_hdr *h = r->w[0].hist;
	for (unsigned i = 0; i < r->load.num_workers; i++) {
		struct worker *wk = &r->w[i];
		res->sessions_up += atomic_load(&wk->up);
		res->sessions_failed += atomic_load(&wk->failed);
		res->churned += atomic_load(&wk->churned);
		uint64_t t = atomic_load(&wk->setup_last_ns);
		if (t > setup_last)
			setup_last = t;
		res->win_msgs += wk->win_msgs;
		res->win_payload += wk->win_payload;
		res->sent += atomic_load(&wk->tx_msgs);
		res->received += atomic_load(&wk->rx_msgs);
		for (int d = 0; d < 2; d++) {
			res->sent_dir[d] += wk->tx_dir[d];
			res->received_dir[d] += wk->rx_dir[d];
		}
		if (i) {
			bench_hdr_merge(h, wk->hist); /* one layout: cannot fail */
			bench_hdr_merge(r->w[0].lag, wk->lag);
			if (wk->hist_dir[ROLE_A]) {
				bench_hdr_merge(r->w[0].hist_dir[ROLE_A], wk->hist_dir[ROLE_A]);
				bench_hdr_merge(r->w[0].hist_dir[ROLE_B], wk->hist_dir[ROLE_B]);
			}
		}
		const struct bench_relay_wire *w = &wk->wire;
		res->wire.a_tx_wire += w->a_tx_wire;
		res->wire.a_tx_payload += w->a_tx_payload;
		res->wire.a_rx_wire += w->a_rx_wire;
		res->wire.b_rx_wire += w->b_rx_wire;
		res->wire.b_rx_payload += w->b_rx_payload;
		res->wire.b_tx_wire += w->b_tx_wire;
		res->wire.b_tx_payload += w->b_tx_payload;
		res->wire.handshake += w->handshake;
		res->wire.tls_handshake += w->tls_handshake;
		res->wire.control += w->control;
		res->wire.text_msgs += w->text_msgs;
		const struct bench_relay_errors *e = &wk->err;
		res->err.refused += e->refused;
		res->err.timeout += e->timeout;
		res->err.http_409 += e->http_409;
		res->err.http_429 += e->http_429;
		res->err.http_503 += e->http_503;
		res->err.http_other += e->http_other;
		res->err.closed += e->closed;
		res->err.reset += e->reset;
		res->err.proto += e->proto;
		res->err.tls += e->tls;
		res->err.io += e->io;
		res->err.left_open += atomic_load(&wk->conns_open);
	}
	res->setup_s = (double)(setup_last - r->t_setup0) / 1e9;
	res->setup_bench_cpu_s = (double)(r->setup_cpu1_ns - r->setup_cpu0_ns) / 1e9;
	res->setup_server_cpu_s = r->setup_srv0_ns && r->setup_srv1_ns >= r->setup_srv0_ns
					  ? (double)(r->setup_srv1_ns - r->setup_srv0_ns) / 1e9
					  : NAN;
	res->measured_s = r->load.t_meas1 > r->load.t_meas0 ? (double)(r->load.t_meas1 - r->load.t_meas0) / 1e9 : 0.0;
	bench_hdr_summary(h, &res->lat);
	bench_hdr_summary(r->w[0].lag, &res->lag);
	res->hist = h;
	if (r->w[0].hist_dir[ROLE_A]) {
		res->by_direction = true;
		bench_hdr_summary(r->w[0].hist_dir[ROLE_B], &res->lat_ab);
		bench_hdr_summary(r->w[0].hist_dir[ROLE_A], &res->lat_ba);
	}
	res->per_session_mb_min = INFINITY;
	unsigned n = 0;
	for (unsigned i = 0; i < o->sessions; i++) {
		const struct session *s = &r->s[i];
		if (!s->up)
			continue;
		n++;
		if (atomic_load(&r->s[i].rx_msgs) > 0)
			res->alive++;
		double mb = res->measured_s > 0 ? (double)atomic_load(&r->s[i].rx_win_payload) / 1e6 / res->measured_s : 0;
		res->per_session_mb_mean += mb;
		if (mb < res->per_session_mb_min)
			res->per_session_mb_min = mb;
		if (mb > res->per_session_mb_max)
			res->per_session_mb_max = mb;
	}
	res->per_session_mb_mean = n ? res->per_session_mb_mean / n : 0.0;
	if (!n)
		res->per_session_mb_min = 0.0;
	/* Fairness over the same sessions' bytes in the measured window. */
	uint64_t *bytes = n ? malloc(n * sizeof *bytes) : NULL;
	res->fair.jain = NAN;
	if (bytes) {
		unsigned k = 0;
		for (unsigned i = 0; i < o->sessions && k < n; i++)
			if (r->s[i].up)
				bytes[k++] = atomic_load(&r->s[i].rx_win_payload);
		bench_fairness_of(bytes, k, &res->fair);
		free(bytes);
	}
	res->tcp_mem_ok = r->tcp_mem_ok && r->mem_samples;
	res->tcp_mem_before = r->tcp_mem0;
	res->tcp_mem_peak = r->tcp_mem_peak;
	res->relay_mem_ok = r->relay_mem_ok && r->mem_samples;
	res->tcp_mem_end = r->tcp_mem_end;
	res->relay_mem_end = r->relay_mem_end;
	res->relay_mem_socks = r->relay_socks.num;
	res->relay_dump_ms = (double)r->relay_dump_cpu_ns / 1e6;
	res->mem_samples = r->mem_samples;
	res->mem_sample_ms_max = (double)r->mem_sample_ns_max / 1e6;
	if (bench_tcp_mem_pressure_bytes(&res->tcp_mem_pressure) != 0)
		res->tcp_mem_pressure = 0;
	res->bench_cpu = res->relay_cpu = NAN;
	double wall = res->measured_s;
	if (o->mode != BENCH_RELAY_CONNECTIONS && wall > 0 && r->cpu1_ns > r->cpu0_ns)
		res->bench_cpu = (double)(r->cpu1_ns - r->cpu0_ns) / 1e9 / wall;
	if (o->relay_pid && o->mode != BENCH_RELAY_CONNECTIONS && wall > 0 && r->relay_ticks0)
		res->relay_cpu = (double)(r->relay_ticks1 - r->relay_ticks0) / (double)sysconf(_SC_CLK_TCK) / wall;
	/* Everyone else: the machine's busy CPUs minus ours and the relay's. */
	res->other_cpu = NAN;
	if (r->sys_total1 > r->sys_total0 && isfinite(res->bench_cpu)) {
		double cpus = (double)sysconf(_SC_NPROCESSORS_ONLN);
		double busy = (double)(r->sys_busy1 - r->sys_busy0) / (double)(r->sys_total1 - r->sys_total0) * cpus;
		double other = busy - res->bench_cpu - (isfinite(res->relay_cpu) ? res->relay_cpu : 0.0);
		res->other_cpu = other > 0 ? other : 0.0;
	}
}

/* --hist-csv: the CSV bench/plot reads. */
static int write_hist_csv(const char *path, const struct bench_relay_result *res)
{
	FILE *f = fopen(path, "w");
	int bad = !f;
	if (f) {
		bad |= bench_relay_print_hist(f, res->hist) != 0;
		bad |= fclose(f) != 0;
	}
	if (bad)
		fprintf(stderr, "atmosphere-bench relay: writing '%s': %s\n", path, strerror(errno));
	return bad ? -1 : 0;
}

/* --hist-out: the histogram line (bench/hist.h), for `atmosphere-bench merge`. */
static int write_hist(const char *path, const struct bench_relay_result *res)
{
	size_t len = 0;
	char *line = bench_hdr_encode(res->hist, &len);
	FILE *f = line ? fopen(path, "w") : NULL;
	int bad = !f;
	if (f) {
		bad |= fwrite(line, 1, len, f) != len;
		bad |= fclose(f) != 0;
	}
	if (bad)
		fprintf(stderr, "atmosphere-bench relay: writing '%s': %s\n", path, line ? strerror(errno) : "out of memory");
	free(line);
	return bad ? -1 : 0;
}

/* The figures --threshold compares, from the result; NAN where the mode
 * measures none. errors % counts against every connection attempt (two
 * per session) and every data message sent. */
static void threshold_input(const struct bench_relay_opts *o, const struct bench_relay_result *res,
			    struct bench_threshold_input *in)
{
	bool lat = o->mode == BENCH_RELAY_LATENCY && res->lat.count;
	bool traffic = o->mode != BENCH_RELAY_CONNECTIONS && res->measured_s > 0;
	in->p50_ns = lat ? (double)res->lat.p50 : NAN;
	in->p90_ns = lat ? (double)res->lat.p90 : NAN;
	in->p99_ns = lat ? (double)res->lat.p99 : NAN;
	in->p999_ns = lat ? (double)res->lat.p999 : NAN;
	in->max_ns = lat ? (double)res->lat.max : NAN;
	in->errors = (double)bench_relay_errors_total(&res->err);
	in->operations = 2.0 * o->sessions + (double)res->sent;
	in->delivered_pct = NAN;
	if (o->mode == BENCH_RELAY_LATENCY && res->sent)
		in->delivered_pct = 100.0 * (double)(res->received < res->sent ? res->received : res->sent) / (double)res->sent;
	else if (o->mode == BENCH_RELAY_CONNECTIONS && res->sessions_up)
		in->delivered_pct = 100.0 * res->alive / res->sessions_up;
	in->msgs_per_s = traffic ? (double)res->win_msgs / res->measured_s : NAN;
	in->mb_per_s = traffic ? (double)res->win_payload / 1e6 / res->measured_s : NAN;
}

static int run_cmd(struct bench_relay_opts *op)
{
	const struct bench_relay_opts o = *op;
	struct bench_relay_result res;
	struct run r;
	/* The run's wall-clock start, reported (coord checks its --stagger by it). */
	struct timespec t_start;
	clock_gettime(CLOCK_REALTIME, &t_start);
	signal(SIGPIPE, SIG_IGN); /* a relay that goes away is an error to count, not a signal */
	if (check_fds(&o))
		return 1;
	if (run_init(&r, &o)) {
		run_free(&r);
		return 1;
	}
	/* --metrics: the relay's counters before; blocks briefly, before the
	 * set-up clock starts and before the RSS figures' "before", so that
	 * what serving the scrape costs the relay is not counted per
	 * connection. */
	struct bench_relay_metrics met;
	bench_relay_metrics_begin(&met, &o);
	r.relay_rss0 = o.relay_pid ? bench_proc_rss_kib(o.relay_pid) : -1;
	r.self_rss0 = bench_proc_rss_kib(0);
	if (o.relay_pid && r.relay_rss0 < 0)
		fprintf(stderr, "atmosphere-bench relay: --relay-pid %d: cannot read /proc/%d/status\n", o.relay_pid,
			o.relay_pid);
	r.setup_srv0_ns = o.relay_pid ? bench_proc_cpu_ns(o.relay_pid) : 0;
	r.setup_cpu0_ns = bench_cpu_ns();
	r.t_setup0 = bench_mono_ns();
	int rc = core_rt_run(r.load.rt, worker_main, &r);
	if (rc < 0) {
		fprintf(stderr, "atmosphere-bench relay: core_rt_run: %s\n", strerror(-rc));
		run_free(&r);
		return 1;
	}
	if (r.iv) {
		bench_interval_finish(r.iv);
		if (r.tty && !bench_interval_rows(r.iv))
			fputc('\n', stderr); /* the set-up progress line */
	}
	bench_relay_metrics_end(&met);
	collect(&r, &res);
	res.started_unix_ns = (uint64_t)t_start.tv_sec * 1000000000u + (uint64_t)t_start.tv_nsec;
	int status = 0;
	if (!res.sessions_up) {
		fprintf(stderr, "atmosphere-bench relay: no session came up at %s (see the errors below)\n", r.host_hdr);
		status = 1;
	}
	if (r.failed)
		status = 1;
	struct json_object *j = bench_relay_json(&o, &res);
	json_object_object_add(j, "relay_metrics", bench_relay_metrics_json(&met, &res));
	if (o.json_out && bench_report_json_file(CMD, o.json_out, j))
		status = 1;
	if (o.hist_out && write_hist(o.hist_out, &res))
		status = 1;
	if (o.hist_csv && write_hist_csv(o.hist_csv, &res))
		status = 1;
	if (o.json)
		bench_report_json_print(stdout, j);
	else if (o.csv)
		bench_relay_print_csv(stdout, &o, &res);
	else
		bench_relay_print_table(stdout, &o, &res);
	if (!o.json && !o.csv)
		bench_relay_metrics_print(stdout, &met, &res);
	else if (o.csv)
		bench_relay_metrics_print(stderr, &met, &res); /* stdout stays one CSV row */
	if (o.num_thresholds) {
		/* After the summary; stderr when stdout is JSON or CSV. */
		struct bench_threshold_input in;
		threshold_input(&o, &res, &in);
		fflush(stdout);
		unsigned failed = bench_threshold_report(o.json || o.csv ? stderr : stdout, o.thresholds,
							 o.num_thresholds, &in);
		status = bench_threshold_exit_status(status, failed);
	}
	json_object_put(j);
	run_free(&r);
	return status;
}

int bench_cmd_relay(int argc, char **argv)
{
	struct bench_relay_opts o;
	int prc = bench_relay_opts_parse(&o, argc, argv, stdout);
	if (prc >= 0)
		return prc;
	int status = run_cmd(&o);
	bench_relay_opts_cleanup(&o);
	return status;
}
