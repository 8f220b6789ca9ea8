/* atmosphere-bench coord: several generator hosts driving one relay. Starts
 * `atmosphere-bench worker` on each --host over SSH with the same relay
 * options, gives each a start time (staggered), reads their frames
 * (bench/coord_wire.h), prints merged interval rows as they complete and a
 * merged summary whose percentiles come from the exact merge of the
 * workers' histograms; --threshold applies to the merged result.
 *
 * Design: one process, one poll loop over every SSH child's stdout and
 * stderr; no thread. Clock alignment: the coordinator names absolute
 * CLOCK_REALTIME start times (the hosts' clocks must agree, e.g. by NTP);
 * each worker's HELLO carries its clock, which bounds the offset between
 * its clock and ours to the SSH start-up window, and a host whose clock is
 * off by more than that window allows is named. Rows are merged by
 * interval index: every worker cuts its intervals from its own traffic
 * start (docs/BENCH.md, "Several generator hosts", says what that costs).
 *
 * Cost: per interval and worker, a JSON row and one histogram line
 * (~1-30 KB) to parse and merge; the SSH clients' encryption of that
 * stream. Measured in docs/BENCH.md. */
#include <errno.h>
#include <math.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/coord_merge.h"
#include "bench/coord_report.h"
#include "bench/coord_ssh.h"
#include "bench/coord_wire.h"
#include "bench/hist.h"
#include "bench/relay_opts.h"
#include "bench/report.h"
#include "bench/threshold.h"
#include "opt/table.h"

#define CMD "coord"

enum coord_limits {
	COORD_HOSTS_MAX = 64,
	COORD_HOST_LEN_MAX = 255,
	COORD_STDERR_KEEP = 2048,       /* bytes of an SSH child's stderr kept for the report */
	COORD_GRACE_S = 120,            /* set-up and teardown allowance beyond the run's own time */
};

struct coord_opts {
	const char *hosts[COORD_HOSTS_MAX];
	size_t num_hosts;
	const char *ssh_cmd;
	const char *worker_bin;
	uint64_t stagger_ms;
	uint64_t start_delay_ms;
	const char *json_interval;
	const char *hist_out;
	bool json;
	struct bench_threshold thresholds[BENCH_THRESHOLD_MAX];
	size_t num_thresholds;
};

static int take_host(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	(void)s;
	struct coord_opts *o = dst;
	if (o->num_hosts == COORD_HOSTS_MAX)
		return opt_usage_error(t, "--host '%s': at most %d hosts", val, COORD_HOSTS_MAX);
	/* A host goes to ssh as one argument: no option, no blank. */
	if (!*val || val[0] == '-' || strlen(val) > COORD_HOST_LEN_MAX || strpbrk(val, " \t\n'\"\\"))
		return opt_usage_error(t, "--host '%s': expected [USER@]HOST (an ssh destination, no blanks or quotes)",
				       val);
	o->hosts[o->num_hosts++] = val;
	return 0;
}

static int take_threshold(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	(void)s;
	struct coord_opts *o = dst;
	char err[160];
	if (o->num_thresholds == BENCH_THRESHOLD_MAX)
		return opt_usage_error(t, "--threshold '%s': at most %d thresholds", val, BENCH_THRESHOLD_MAX);
	if (bench_threshold_parse(val, &o->thresholds[o->num_thresholds], err, sizeof err))
		return opt_usage_error(t, "--threshold '%s': %s", val, err);
	o->num_thresholds++;
	return 0;
}

/* The SSH client by default: never a password prompt (BatchMode), and a
 * classic key exchange: OpenSSH 9.x's default, sntrup761x25519, costs the
 * client about 70 ms of CPU per connection, 7 times curve25519's, and
 * that was most of the coordinator's overhead (docs/BENCH.md,
 * "Coordinator overhead"). Every name is known to OpenSSH >= 7.4. */
#define COORD_SSH_CMD_DEFAULT                                                                                  \
	"ssh -o BatchMode=yes -o KexAlgorithms=curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256," \
	"diffie-hellman-group14-sha256"

#define F(member) OPT_FIELD(struct coord_opts, member)
static const struct opt_spec coord_specs[] = {
	{"--host", OPT_CUSTOM, .parse = take_host, .arg = "HOST",
	 .help = "a generator host ([USER@]HOST as ssh takes it), repeatable,\nup to {0}",
	 .help_args = {COORD_HOSTS_MAX}},
	{"--ssh-cmd", OPT_STRING, F(ssh_cmd), .arg = "CMD",
	 .help = "the SSH client and its options, split at blanks (default\n"
		 "'" COORD_SSH_CMD_DEFAULT "');\nthe host and the worker command follow"},
	{"--worker-bin", OPT_STRING, F(worker_bin), .arg = "PATH",
	 .help = "atmosphere-bench on the hosts (default: atmosphere-bench on their PATH)"},
	{"--stagger", OPT_DURATION, F(stagger_ms), .max = 3600000, .zero_off = true, .arg = "S",
	 .help = "host i starts i x S after the first (default 100ms)"},
	{"--start-delay", OPT_DURATION, F(start_delay_ms), .min = 100, .max = 600000, .arg = "S",
	 .help = "the first start this long after launch, for SSH to connect\n(default 3s)"},
	{"--json-interval", OPT_STRING, F(json_interval), .arg = "FILE",
	 .help = "also write each merged interval as one JSON line to FILE"},
	{"--hist-out", OPT_STRING, F(hist_out), .arg = "FILE",
	 .help = "latency: write the merged histogram line to FILE"},
	{"--json", OPT_FLAG, F(json), .help = "print the summary as one JSON object (thresholds then go to stderr)"},
	{"--threshold", OPT_CUSTOM, .parse = take_threshold, .arg = "EXPR",
	 .help = "pass/fail on the merged result, as relay's (exit 3 when one fails)"},
};
#undef F

static const struct opt_table coord_table = {
	.prog = "atmosphere-bench",
	.cmd = CMD,
	.specs = coord_specs,
	.num_specs = sizeof coord_specs / sizeof coord_specs[0],
	.head = "usage: atmosphere-bench coord --host HOST [--host HOST]... [OPTIONS] RELAY-OPTIONS...\n\n"
		"Runs the same 'atmosphere-bench relay' scenario from several generator hosts at\n"
		"once: starts 'atmosphere-bench worker' on each over SSH, staggers their starts,\n"
		"prints merged interval rows (counts summed, percentiles from the merged\n"
		"histograms) to stderr and the merged summary to stdout. Every option not listed\n"
		"here is a relay option, given to every worker (a --scenario FILE must exist on\n"
		"each host). docs/BENCH.md, \"Several generator hosts\".\n\n"
		"Options:\n",
	.foot = "\nExit status: 0 every worker ran and every threshold held; 3 a threshold failed;\n"
		"1 a worker failed (named with its host); 2 usage.\n",
	.column = 20,
};

/* --- one SSH child --- */

struct host {
	const char *name;
	pid_t pid;
	int out_fd, err_fd;
	uint64_t t_launch, t_hello;
	uint64_t start_at;           /* the CLOCK_REALTIME start it was given */
	/* the stream */
	uint8_t *buf;
	size_t len, cap, consumed_total;
	int prev;                    /* the last frame type, 0 before any */
	bool ended;                  /* END seen */
	bool failed;                 /* a reason is in why */
	char why[320];
	char err_tail[COORD_STDERR_KEEP + 1];
	size_t err_len;
	/* clock: the worker's clock minus ours lies in [off_lo, off_hi] ns */
	double off_lo_ms, off_hi_ms;
	bool have_hello;
	/* results */
	int64_t last_idx;            /* the last interval merged, -1 before */
	struct bench_coord_row pend; /* an INTERVAL waiting for its IHIST */
	bool have_pend;
	bool have_summary;
	struct bench_coord_summary sum;
	struct bench_hdr *hist;
	uint8_t status;
	uint64_t cpu_ns;
	int ssh_status;              /* waitpid status */
};

struct mslot {
	bool used;
	struct bench_coord_row acc;
	unsigned hosts;
	struct bench_hdr *hist;
};

struct coord {
	struct coord_opts o;
	bool latency;
	unsigned sessions_per_host;
	size_t num;
	struct host *h;
	struct mslot *slots;         /* by interval index */
	size_t num_slots;
	uint64_t next_row;           /* the next merged row to write */
	FILE *json_iv;
};

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fail_host(struct host *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_host(struct host *h, const char *fmt, ...)
{
	if (h->failed)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h->why, sizeof h->why, fmt, ap);
	va_end(ap);
	h->failed = true;
	if (h->pid > 0)
		kill(h->pid, SIGTERM);
}

/* Starts ssh for host h. Returns 0, or -1 with h failed. */
static int launch(struct host *h, const struct coord_opts *o, const char *remote)
{
	char err[200];
	h->t_launch = realtime_ns();
	pid_t pid = bench_coord_ssh_spawn(o->ssh_cmd, h->name, remote, &h->out_fd, &h->err_fd, err, sizeof err);
	if (pid < 0) {
		fail_host(h, "starting '%s': %s", o->ssh_cmd, err);
		return -1;
	}
	h->pid = pid;
	return 0;
}

/* --- merged rows --- */

static struct mslot *slot_at(struct coord *c, uint64_t idx)
{
	if (idx > 10000000u)
		return NULL; /* 10^7 intervals: no run of ours is that long (24 h at 100 ms is 864 000) */
	if (idx >= c->num_slots) {
		size_t n = c->num_slots ? c->num_slots : 64;
		while (n <= idx)
			n *= 2;
		struct mslot *s = realloc(c->slots, n * sizeof *s);
		if (!s)
			return NULL;
		memset(s + c->num_slots, 0, (n - c->num_slots) * sizeof *s);
		c->slots = s;
		c->num_slots = n;
	}
	return &c->slots[idx];
}

static double per_s(uint64_t n, const struct bench_coord_row *r)
{
	double d = r->t1_s - r->t0_s;
	return d > 0 ? (double)n / d : NAN;
}

static void write_row(struct coord *c, uint64_t idx, struct mslot *s)
{
	const struct bench_coord_row *r = &s->acc;
	char lat[80] = "";
	if (c->latency && s->hist && bench_hdr_count(s->hist))
		snprintf(lat, sizeof lat, " p50 %.1fus p99 %.1fus,", (double)bench_hdr_percentile(s->hist, 50.0) / 1e3,
			 (double)bench_hdr_percentile(s->hist, 99.0) / 1e3);
	else if (c->latency)
		snprintf(lat, sizeof lat, " p50 - p99 -,");
	/* The kinds that occurred, as relay's plain rows name them. */
	char kinds[400] = "";
	size_t kl = 0;
	for (size_t k = 0; k < BENCH_COORD_ERR_KINDS && kl < sizeof kinds; k++) {
		if (!r->err_kind[k])
			continue;
		int n = snprintf(kinds + kl, sizeof kinds - kl, "%s%s %llu", kl ? ", " : " (", bench_coord_err_kinds[k],
				 (unsigned long long)r->err_kind[k]);
		kl = n > 0 ? kl + (size_t)n : sizeof kinds;
	}
	if (kl && kl < sizeof kinds - 1)
		memcpy(kinds + kl, ")", 2);
	fprintf(stderr, "atmosphere-bench coord: %s %7.2f-%.2fs: hosts %u/%zu, up %llu/%llu, %.0f msgs/s, %.2f MB/s,%s errors %llu%s\n",
		r->warmup ? "warmup" : "run   ", r->t0_s, r->t1_s, s->hosts, c->num, (unsigned long long)r->sessions_up,
		(unsigned long long)r->sessions, per_s(r->msgs, r), per_s(r->bytes, r) / 1e6, lat,
		(unsigned long long)r->errors, kinds);
	if (!c->json_iv)
		return;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "interval", bench_report_uint(idx));
	json_object_object_add(o, "phase", json_object_new_string(r->warmup ? "warmup" : "run"));
	json_object_object_add(o, "t_start_s", bench_report_num(r->t0_s, 3));
	json_object_object_add(o, "t_end_s", bench_report_num(r->t1_s, 3));
	json_object_object_add(o, "hosts", bench_report_uint(s->hosts));
	json_object_object_add(o, "sessions_up", bench_report_uint(r->sessions_up));
	json_object_object_add(o, "sessions", bench_report_uint(r->sessions));
	json_object_object_add(o, "msgs", bench_report_uint(r->msgs));
	json_object_object_add(o, "msgs_per_s", bench_report_num(per_s(r->msgs, r), 1));
	json_object_object_add(o, "bytes", bench_report_uint(r->bytes));
	json_object_object_add(o, "mb_per_s", bench_report_num(per_s(r->bytes, r) / 1e6, 3));
	json_object_object_add(o, "latency", c->latency && s->hist ? bench_report_interval_latency(s->hist) : NULL);
	struct json_object *e = json_object_new_object();
	json_object_object_add(e, "total", bench_report_uint(r->errors));
	for (size_t k = 0; k < BENCH_COORD_ERR_KINDS; k++)
		json_object_object_add(e, bench_coord_err_kinds[k], bench_report_uint(r->err_kind[k]));
	json_object_object_add(o, "errors", e);
	fprintf(c->json_iv, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(c->json_iv);
	json_object_put(o);
}

/* Writes every merged row that no host can add to any more: each host has
 * merged it or a later one, or is done streaming. */
static void flush_rows(struct coord *c, bool all)
{
	for (;;) {
		uint64_t idx = c->next_row;
		if (idx >= c->num_slots)
			return;
		bool ready = true;
		for (size_t i = 0; i < c->num && !all; i++) {
			const struct host *h = &c->h[i];
			if (!h->ended && !h->failed && h->out_fd >= 0 && h->last_idx < (int64_t)idx)
				ready = false;
		}
		bool any_later = false;
		for (size_t k = idx; k < c->num_slots && !any_later; k++)
			any_later = c->slots[k].used;
		if (!ready || !any_later)
			return;
		struct mslot *s = &c->slots[idx];
		if (s->used)
			write_row(c, idx, s);
		bench_hdr_free(s->hist);
		s->hist = NULL;
		c->next_row++;
	}
}

/* Adds host h's row r (and its histogram, may be NULL) to the merge. */
static void merge_row(struct coord *c, struct host *h, const struct bench_coord_row *r, const struct bench_hdr *hist)
{
	if ((int64_t)r->idx <= h->last_idx) {
		fail_host(h, "interval %llu after interval %lld: out of order", (unsigned long long)r->idx,
			  (long long)h->last_idx);
		return;
	}
	h->last_idx = (int64_t)r->idx;
	if (r->idx < c->next_row)
		return; /* its row was written without it (the host was late) */
	struct mslot *s = slot_at(c, r->idx);
	if (!s) {
		fail_host(h, "interval %llu: out of memory or out of range", (unsigned long long)r->idx);
		return;
	}
	if (!s->used) {
		s->used = true;
		s->acc = *r;
		s->acc.sessions_up = s->acc.sessions = s->acc.msgs = s->acc.bytes = s->acc.errors = s->acc.samples = 0;
		memset(s->acc.err_kind, 0, sizeof s->acc.err_kind);
	}
	bench_coord_row_add(&s->acc, r);
	s->hosts++;
	if (hist) {
		if (!s->hist)
			s->hist = bench_hdr_new(bench_hdr_sig_digits(hist), bench_hdr_highest(hist), NULL);
		if (!s->hist || bench_hdr_merge(s->hist, hist))
			fail_host(h, "interval %llu: a histogram of another layout", (unsigned long long)r->idx);
	}
}

/* --- frames --- */

static void on_frame(struct coord *c, struct host *h, const struct bench_wire_frame *f)
{
	char err[200];
	if (!bench_wire_next_ok(h->prev, f->type)) {
		fail_host(h, "stream: frame '%c' after '%c': %s", f->type, h->prev ? h->prev : '-',
			  bench_wire_strerror(BENCH_WIRE_E_ORDER));
		return;
	}
	h->prev = f->type;
	switch (f->type) {
	case BENCH_WIRE_HELLO: {
		uint64_t clk;
		char version[BENCH_WIRE_HELLO_TEXT_MAX + 1];
		if (bench_wire_hello_parse(f, &clk, version) != BENCH_WIRE_OK) {
			fail_host(h, "stream: HELLO: %s", bench_wire_strerror(BENCH_WIRE_E_PAYLOAD));
			return;
		}
		/* The worker read clk between our launch and now. */
		h->t_hello = realtime_ns();
		h->off_lo_ms = ((double)clk - (double)h->t_hello) / 1e6;
		h->off_hi_ms = ((double)clk - (double)h->t_launch) / 1e6;
		h->have_hello = true;
		return;
	}
	case BENCH_WIRE_INTERVAL:
		if (h->have_pend) /* the last row came without a histogram */
			merge_row(c, h, &h->pend, NULL);
		h->have_pend = false;
		if (bench_coord_row_parse((const char *)f->payload, f->payload_len, &h->pend, err, sizeof err)) {
			fail_host(h, "stream: interval row: %s", err);
			return;
		}
		if (c->latency)
			h->have_pend = true;
		else
			merge_row(c, h, &h->pend, NULL);
		return;
	case BENCH_WIRE_IHIST:
	case BENCH_WIRE_HIST: {
		struct bench_hdr *hist = NULL;
		struct bench_hdr_error herr = {0};
		enum bench_hdr_status st = bench_hdr_parse((const char *)f->payload, f->payload_len, &hist, &herr);
		if (st != BENCH_HDR_OK) {
			fail_host(h, "stream: histogram: byte %zu: %s: %s", herr.off, bench_hdr_strerror(st), herr.msg);
			return;
		}
		if (f->type == BENCH_WIRE_HIST) {
			bench_hdr_free(h->hist);
			h->hist = hist;
			return;
		}
		if (h->have_pend)
			merge_row(c, h, &h->pend, hist);
		h->have_pend = false;
		bench_hdr_free(hist);
		return;
	}
	case BENCH_WIRE_SUMMARY:
		if (bench_coord_summary_parse((const char *)f->payload, f->payload_len, &h->sum, err, sizeof err)) {
			fail_host(h, "stream: summary: %s", err);
			return;
		}
		h->have_summary = true;
		return;
	case BENCH_WIRE_END: {
		const uint8_t *text;
		size_t tlen;
		if (bench_wire_end_parse(f, &h->status, &h->cpu_ns, &text, &tlen) != BENCH_WIRE_OK) {
			fail_host(h, "stream: END: %s", bench_wire_strerror(BENCH_WIRE_E_PAYLOAD));
			return;
		}
		if (h->have_pend)
			merge_row(c, h, &h->pend, NULL);
		h->have_pend = false;
		h->ended = true;
		if (h->status) {
			/* The last line of the worker's error output says why. */
			while (tlen && (text[tlen - 1] == '\n' || text[tlen - 1] == '\r'))
				tlen--;
			size_t start = tlen;
			while (start && text[start - 1] != '\n')
				start--;
			fail_host(h, "worker exited %u: %.*s", h->status, (int)(tlen - start), (const char *)text + start);
		}
		return;
	}
	}
}

/* Reads what host h's stdout has; parses every whole frame. */
static void on_stdout(struct coord *c, struct host *h)
{
	if (h->cap - h->len < 65536) {
		size_t ncap = h->cap ? h->cap * 2 : 131072;
		if (ncap > 2 * (size_t)BENCH_WIRE_PAYLOAD_MAX + 65536) {
			fail_host(h, "stream: %s", bench_wire_strerror(BENCH_WIRE_E_TOO_LONG));
			goto closed;
		}
		uint8_t *n = realloc(h->buf, ncap);
		if (!n) {
			fail_host(h, "out of memory");
			goto closed;
		}
		h->buf = n;
		h->cap = ncap;
	}
	ssize_t r = read(h->out_fd, h->buf + h->len, h->cap - h->len);
	if (r < 0 && errno == EINTR)
		return;
	if (r <= 0) {
		if (!h->ended && !h->failed) {
			/* Not killed: ssh exits by itself and its last words
			 * (on stderr) say why. */
			snprintf(h->why, sizeof h->why, "%s",
				 h->len ? "stream ended inside a frame" : "stream ended before the worker's END");
			h->failed = true;
		}
		goto closed;
	}
	h->len += (size_t)r;
	size_t off = 0;
	while (!h->failed) {
		struct bench_wire_frame f;
		size_t used = 0;
		enum bench_wire_status st = bench_wire_frame_parse(h->buf + off, h->len - off, &f, &used);
		if (st == BENCH_WIRE_AGAIN)
			break;
		if (st != BENCH_WIRE_OK) {
			/* Quote the start: a login banner or a shell error shows here. */
			size_t n = h->len - off < 60 ? h->len - off : 60;
			char q[61];
			for (size_t i = 0; i < n; i++)
				q[i] = h->buf[off + i] >= 0x20 && h->buf[off + i] < 0x7f ? (char)h->buf[off + i] : '.';
			q[n] = '\0';
			fail_host(h, "stream: byte %zu: %s ('%s')", h->consumed_total + off, bench_wire_strerror(st), q);
			break;
		}
		on_frame(c, h, &f);
		off += used;
	}
	memmove(h->buf, h->buf + off, h->len - off);
	h->len -= off;
	h->consumed_total += off;
	if (!h->failed)
		return;
closed:
	close(h->out_fd);
	h->out_fd = -1;
}

static void on_stderr(struct host *h)
{
	char tmp[4096];
	ssize_t r = read(h->err_fd, tmp, sizeof tmp);
	if (r < 0 && errno == EINTR)
		return;
	if (r <= 0) {
		close(h->err_fd);
		h->err_fd = -1;
		return;
	}
	size_t n = (size_t)r;
	if (n >= COORD_STDERR_KEEP) {
		memcpy(h->err_tail, tmp + n - COORD_STDERR_KEEP, COORD_STDERR_KEEP);
		h->err_len = COORD_STDERR_KEEP;
	} else {
		size_t keep = h->err_len + n > COORD_STDERR_KEEP ? COORD_STDERR_KEEP - n : h->err_len;
		memmove(h->err_tail, h->err_tail + h->err_len - keep, keep);
		memcpy(h->err_tail + keep, tmp, n);
		h->err_len = keep + n;
	}
	h->err_tail[h->err_len] = '\0';
}

/* --- the summary --- */

static uint64_t cpu_ns(int who)
{
	struct rusage ru;
	if (getrusage(who, &ru))
		return 0;
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

/* Splits argv into the coordinator's options and the relay's. */
static bool is_coord_opt(const char *a, bool *takes_value)
{
	for (size_t i = 0; i < coord_table.num_specs; i++) {
		size_t n = strlen(coord_specs[i].name);
		if (!strncmp(a, coord_specs[i].name, n) && (a[n] == '\0' || a[n] == '=')) {
			*takes_value = a[n] == '\0' && coord_specs[i].kind != OPT_FLAG;
			return true;
		}
	}
	*takes_value = false;
	return !strcmp(a, "--help") || !strcmp(a, "-h");
}

static int run(struct coord *c, int rargc, char **rargv)
{
	const struct coord_opts *o = &c->o;
	uint64_t t0 = realtime_ns() + o->start_delay_ms * 1000000u;
	for (size_t i = 0; i < c->num; i++) {
		struct host *h = &c->h[i];
		h->start_at = t0 + i * o->stagger_ms * 1000000u;
		char *remote = bench_coord_remote_command(o->worker_bin, h->start_at, rargc, rargv);
		if (!remote) {
			fail_host(h, "out of memory");
			continue;
		}
		launch(h, o, remote);
		free(remote);
	}
	return 0;
}

int bench_cmd_coord(int argc, char **argv)
{
	struct coord c = {0};
	c.o.ssh_cmd = COORD_SSH_CMD_DEFAULT;
	c.o.worker_bin = "atmosphere-bench";
	c.o.stagger_ms = 100;
	c.o.start_delay_ms = 3000;
	char **cargv = calloc((size_t)argc + 1, sizeof *cargv), **rargv = calloc((size_t)argc + 2, sizeof *rargv);
	int cargc = 1, rargc = 1, status = 1;
	struct bench_relay_opts ro;
	bool ro_set = false;
	if (!cargv || !rargv)
		goto out;
	cargv[0] = argv[0];
	rargv[0] = (char *)"relay";
	for (int i = 1; i < argc; i++) {
		bool val;
		if (is_coord_opt(argv[i], &val)) {
			cargv[cargc++] = argv[i];
			if (val && i + 1 < argc)
				cargv[cargc++] = argv[++i];
		} else {
			rargv[rargc++] = argv[i];
		}
	}
	status = opt_table_parse(&coord_table, &c.o, cargc, cargv, stdout, NULL);
	if (status >= 0)
		goto out;
	status = 2;
	if (!c.o.num_hosts) {
		opt_usage_error(&coord_table, "expected at least one --host");
		goto out;
	}
	int prc = bench_relay_opts_parse(&ro, rargc, rargv, stderr);
	if (prc >= 0) {
		if (!prc)
			opt_usage_error(&coord_table, "--help among the relay options: see 'atmosphere-bench relay --help'");
		goto out;
	}
	ro_set = true;
	if (ro.json || ro.csv || ro.json_out || ro.json_interval || ro.json_interval_hist || ro.hist_csv ||
	    ro.relay_pid) {
		opt_usage_error(&coord_table, "--json, --csv, --json-out, --json-interval-hist, --hist-csv and --relay-pid "
					      "are not for a distributed run");
		goto out;
	}
	c.latency = ro.mode == BENCH_RELAY_LATENCY;
	if (c.o.hist_out && !c.latency) {
		opt_usage_error(&coord_table, "--hist-out applies to --mode latency only");
		goto out;
	}
	for (size_t i = 0; i < c.o.num_thresholds; i++)
		if (bench_threshold_is_latency(c.o.thresholds[i].metric) && !c.latency) {
			opt_usage_error(&coord_table, "--threshold '%s': latency is measured by --mode latency only",
					c.o.thresholds[i].text);
			goto out;
		}
	uint64_t deadline_ms = c.o.start_delay_ms + c.o.stagger_ms * c.o.num_hosts + ro.warmup_ms + ro.duration_ms +
			       COORD_GRACE_S * 1000u;
	if (c.o.json_interval && !(c.json_iv = fopen(c.o.json_interval, "w"))) {
		fprintf(stderr, "atmosphere-bench coord: --json-interval '%s': %s\n", c.o.json_interval, strerror(errno));
		status = 1;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	c.num = c.o.num_hosts;
	c.h = calloc(c.num, sizeof *c.h);
	if (!c.h) {
		status = 1;
		goto out;
	}
	for (size_t i = 0; i < c.num; i++)
		c.h[i] = (struct host){.name = c.o.hosts[i], .pid = -1, .out_fd = -1, .err_fd = -1, .last_idx = -1};
	uint64_t t_start = realtime_ns();
	run(&c, rargc - 1, rargv + 1);

	/* The poll loop: every host's stdout (frames) and stderr (kept for the
	 * report), until all are closed or the deadline. */
	struct pollfd *pfd = calloc(2 * c.num, sizeof *pfd);
	if (!pfd) {
		status = 1;
		goto out;
	}
	for (;;) {
		size_t n = 0;
		for (size_t i = 0; i < c.num; i++) {
			if (c.h[i].out_fd >= 0)
				pfd[n++] = (struct pollfd){.fd = c.h[i].out_fd, .events = POLLIN};
			if (c.h[i].err_fd >= 0)
				pfd[n++] = (struct pollfd){.fd = c.h[i].err_fd, .events = POLLIN};
		}
		if (!n)
			break;
		uint64_t now = realtime_ns();
		if (now > t_start + deadline_ms * 1000000u) {
			for (size_t i = 0; i < c.num; i++)
				if (!c.h[i].ended)
					fail_host(&c.h[i], "no result %llu s after the start: stopped",
						  (unsigned long long)(deadline_ms / 1000u));
			for (size_t i = 0; i < c.num; i++) {
				if (c.h[i].out_fd >= 0)
					close(c.h[i].out_fd);
				if (c.h[i].err_fd >= 0)
					close(c.h[i].err_fd);
				c.h[i].out_fd = c.h[i].err_fd = -1;
			}
			break;
		}
		int pr = poll(pfd, (nfds_t)n, 1000);
		if (pr < 0 && errno != EINTR)
			break;
		for (size_t k = 0; pr > 0 && k < n; k++) {
			if (!pfd[k].revents)
				continue;
			for (size_t i = 0; i < c.num; i++) {
				if (pfd[k].fd == c.h[i].out_fd)
					on_stdout(&c, &c.h[i]);
				else if (pfd[k].fd == c.h[i].err_fd)
					on_stderr(&c.h[i]);
			}
		}
		flush_rows(&c, false);
	}
	free(pfd);
	flush_rows(&c, true);
	for (size_t i = 0; i < c.num; i++) {
		struct host *h = &c.h[i];
		if (h->pid > 0)
			while (waitpid(h->pid, &h->ssh_status, 0) < 0 && errno == EINTR)
				;
		h->pid = -1; /* reaped: fail_host must not signal it */
		int ec = WIFEXITED(h->ssh_status) ? WEXITSTATUS(h->ssh_status) : -1;
		if (!h->failed && !h->ended)
			fail_host(h, "no END from the worker (ssh exit %d)", ec);
		else if (!h->failed && ec != 0 && ec != h->status)
			fail_host(h, "ssh exited %d", ec);
	}
	uint64_t coord_cpu = cpu_ns(RUSAGE_SELF), ssh_cpu = cpu_ns(RUSAGE_CHILDREN);

	/* The merged result: counts add, histograms merge. */
	struct bench_coord_summary sum;
	bench_coord_summary_init(&sum);
	struct bench_hdr *hist = NULL;
	bool failed = false;
	for (size_t i = 0; i < c.num; i++) {
		struct host *h = &c.h[i];
		if (!h->failed && !h->have_summary)
			fail_host(h, "the worker sent no summary");
		if (h->failed) {
			failed = true;
			/* ssh's own words (refused key, unknown host) when it said any. */
			char *last = h->err_tail, *p;
			size_t el = h->err_len;
			while (el && (last[el - 1] == '\n' || last[el - 1] == '\r'))
				last[--el] = '\0';
			if ((p = strrchr(last, '\n')))
				last = p + 1;
			fprintf(stderr, "atmosphere-bench coord: host %s: %s%s%s\n", h->name, h->why, *last ? "; stderr: " : "",
				last);
		}
		/* A host that failed after its summary still counts: its
		 * sessions and errors happened (the exit status says it failed). */
		if (!h->have_summary)
			continue;
		bench_coord_summary_add(&sum, &h->sum);
		if (h->hist) {
			if (!hist)
				hist = bench_hdr_new(bench_hdr_sig_digits(h->hist), bench_hdr_highest(h->hist), NULL);
			if (!hist || bench_hdr_merge(hist, h->hist)) {
				fprintf(stderr, "atmosphere-bench coord: host %s: a histogram of another layout\n", h->name);
				failed = true;
			}
		}
	}
	status = failed ? 1 : 0;
	struct bench_coord_host_report *rep = calloc(c.num, sizeof *rep);
	if (!rep) {
		status = 1;
		goto out_hist;
	}
	for (size_t i = 0; i < c.num; i++) {
		const struct host *h = &c.h[i];
		rep[i] = (struct bench_coord_host_report){
			.name = h->name, .ok = !h->failed, .why = h->why, .sum = h->sum, .hist = h->hist,
			.cpu_ns = h->cpu_ns, .intervals = (uint64_t)(h->last_idx + 1), .have_clock = h->have_hello,
			.off_lo_ms = h->off_lo_ms, .off_hi_ms = h->off_hi_ms, .start_at_ns = h->start_at,
		};
	}
	if (c.o.json)
		bench_coord_report_json(stdout, rep, c.num, &sum, hist, coord_cpu, ssh_cpu);
	else
		bench_coord_report_table(stdout, rep, c.num, c.latency, &sum, hist, coord_cpu, ssh_cpu);
	free(rep);
	if (c.o.hist_out && hist) {
		size_t len = 0;
		char *line = bench_hdr_encode(hist, &len);
		FILE *f = line ? fopen(c.o.hist_out, "w") : NULL;
		bool bad = !f || fwrite(line, 1, len, f) != len;
		if (f && fclose(f))
			bad = true;
		if (bad) {
			fprintf(stderr, "atmosphere-bench coord: writing '%s': %s\n", c.o.hist_out, strerror(errno));
			status = 1;
		}
		free(line);
	}
	if (c.o.num_thresholds) {
		struct bench_threshold_input in;
		bench_coord_threshold_input(&sum, hist, &in);
		fflush(stdout);
		unsigned nf = bench_threshold_report(c.o.json ? stderr : stdout, c.o.thresholds, c.o.num_thresholds, &in);
		status = bench_threshold_exit_status(status, nf);
	}
out_hist:
	bench_hdr_free(hist);
out:
	if (ro_set)
		bench_relay_opts_cleanup(&ro);
	if (c.json_iv)
		fclose(c.json_iv);
	for (size_t i = 0; c.h && i < c.num; i++) {
		free(c.h[i].buf);
		bench_hdr_free(c.h[i].hist);
	}
	for (size_t i = 0; i < c.num_slots; i++)
		bench_hdr_free(c.slots[i].hist);
	free(c.slots);
	free(c.h);
	free(cargv);
	free(rargv);
	return status;
}
