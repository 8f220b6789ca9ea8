/* atmosphere-bench punch: how fast two nodes behind NATs reach each other,
 * per NAT pair, and (--node) what an idle node costs in memory and bytes
 * (issue 6).
 *
 * The measuring is done by bench/punch.sh in the NAT laboratory of
 * natlab/lab.sh (network namespaces and nftables: root only); its
 * header defines every figure. This file checks the options, finds the
 * script and the `atmosphere` binary, runs the script with a hard time
 * bound, and turns its records (bench/punch_report.h) into one JSON object
 * or a table.
 *
 * Cleaning up: the script removes its namespaces on exit, INT and TERM. We
 * pass it SIGTERM on our own INT/TERM/HUP or when the time bound passes,
 * give it CLEANUP_GRACE_S to clean, then SIGKILL it and remove what is left
 * of its namespaces ourselves ("nl<its pid>-*", with NL_TAG "nl<TAG>-<its pid>-*",
 * the natlab.sh prefix), the
 * processes inside them first. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/proc.h"
#include "bench/punch_report.h"
#include "bench/report.h"
#include "opt/table.h"

#define CMD "punch"

#ifndef ATMOS_SOURCE_DIR
#define ATMOS_SOURCE_DIR "."
#endif

enum {
	ROUNDS_DEFAULT = 3,
	PEERS_DEFAULT = 8,
	PEERS_MAX = 14,             /* natlab.sh has 15 sites; one is the hub */
	CLEANUP_GRACE_S = 20,       /* after SIGTERM, for the script's cleanup */
	ROUND_SETUP_S = 25,         /* a round beyond its waits: init, serve, code, kills */
	NODE_FIXED_S = 200,         /* node mode beyond its three idle windows */
	VARIANT_SETUP_S = 90,       /* --portmap: up to 10 s for each router's miniupnpd */
	VARIANT_ROUND_S = 15,       /* --portmap/--ipv6: Rob's wait (10 s), IPv6's (5 s) */
};

static const uint64_t BUDGET_DEFAULT_MS = 600000, BUDGET_MAX_MS = 7200000;
static const uint64_t CONNECT_WAIT_DEFAULT_MS = 30000, DIRECT_WAIT_DEFAULT_MS = 15000;
static const uint64_t IDLE_DEFAULT_MS = 30000;

/* Targets of issue 6 for the node figures. */
static const double TARGET_RSS_KIB = 5e6 / 1024;  /* < 5 MB */
static const double TARGET_KEEPALIVE_BPS = 100;   /* <= 100 B/s per peer */

struct popts {
	bool node;
	bool portmap, ipv6;         /* the lab's variants (issue 12's targets) */
	char pairs[BENCH_PUNCH_MAX_PAIRS][BENCH_PUNCH_PAIR_LEN];
	size_t num_pairs;
	unsigned rounds, peers;
	uint64_t budget_ms, connect_wait_ms, direct_wait_ms, idle_ms;
	const char *atmosphere, *script, *json_out;
	bool json;
};

static int take_pairs(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	struct popts *o = dst;
	char err[300];
	(void)s;
	if (bench_punch_pairs_parse(val, o->pairs, BENCH_PUNCH_MAX_PAIRS, &o->num_pairs, err, sizeof err))
		return opt_usage_error(t, "--pairs: %s", err);
	return 0;
}

static const struct opt_spec punch_specs[] = {
	{"--pairs", OPT_CUSTOM, .parse = take_pairs, .arg = "LIST",
	 .help = "ROB:MATT pairs, comma-separated, of none, full_cone,\n"
		 "restricted_cone, port_restricted, symmetric (default all:\n"
		 "the 15 unordered pairs, Rob behind the more restrictive NAT)"},
	{"--rounds", OPT_UINT, OPT_FIELD(struct popts, rounds), .min = 1, .max = BENCH_PUNCH_MAX_ROUNDS, .arg = "N",
	 .help = "rounds per pair, 1..{0} (default {1})", .help_args = {BENCH_PUNCH_MAX_ROUNDS, ROUNDS_DEFAULT}},
	{"--budget", OPT_DURATION, OPT_FIELD(struct popts, budget_ms), .min = 1000, .max = BUDGET_MAX_MS, .arg = "S",
	 .help = "no round starts after S (default 10m); the run is stopped\n"
		 "and cleaned up one round's bound later"},
	{"--connect-wait", OPT_DURATION, OPT_FIELD(struct popts, connect_wait_ms), .min = 1000, .max = 600000,
	 .arg = "S", .help = "per round, for the first packet (default 30s)"},
	{"--direct-wait", OPT_DURATION, OPT_FIELD(struct popts, direct_wait_ms), .min = 1000, .max = 600000,
	 .arg = "S", .help = "per round, for the direct path after it (default 15s)"},
	{"--portmap", OPT_FLAG, OPT_FIELD(struct popts, portmap),
	 .help = "port mapping on the routers: Debian's miniupnpd (nftables)\n"
		 "on every NAT router with UPnP IGD, NAT-PMP and PCP on, the\n"
		 "nodes asking for a mapping; Rob's code is issued once his\n"
		 "mapping holds (at most 10 s)"},
	{"--ipv6", OPT_FLAG, OPT_FIELD(struct popts, ipv6),
	 .help = "IPv6 beside the IPv4 NATs: global IPv6 on every host, routed,\n"
		 "each site router's IPv6 firewall dropping unsolicited inbound\n"
		 "(RFC 6092), an IPv6 STUN server; Rob's code is issued once he\n"
		 "knows his IPv6 endpoint (at most 10 s)"},
	{"--node", OPT_FLAG, OPT_FIELD(struct popts, node),
	 .help = "measure node memory and keepalive traffic instead"},
	{"--peers", OPT_UINT, OPT_FIELD(struct popts, peers), .min = 1, .max = PEERS_MAX, .arg = "N",
	 .help = "--node: peers of the hub, 1..{0} (default {1})", .help_args = {PEERS_MAX, PEERS_DEFAULT}},
	{"--idle", OPT_DURATION, OPT_FIELD(struct popts, idle_ms), .min = 1000, .max = 600000, .arg = "S",
	 .help = "--node: each idle window (default 30s)"},
	{"--atmosphere", OPT_STRING, OPT_FIELD(struct popts, atmosphere), .arg = "PATH",
	 .help = "the node binary (default: 'atmosphere' beside this one)"},
	{"--script", OPT_STRING, OPT_FIELD(struct popts, script), .arg = "PATH",
	 .help = "bench/punch.sh (default: the source tree, or PREFIX/share/atmosphere)"},
	{"--json", OPT_FLAG, OPT_FIELD(struct popts, json), .help = "print one JSON object instead of the table"},
	{"--json-out", OPT_STRING, OPT_FIELD(struct popts, json_out), .arg = "FILE",
	 .help = "also write that JSON object to FILE"},
};

static const struct opt_table punch_table = {
	.prog = "atmosphere-bench",
	.cmd = CMD,
	.specs = punch_specs,
	.num_specs = sizeof punch_specs / sizeof punch_specs[0],
	.head = "usage: atmosphere-bench punch [--pairs LIST] [--rounds N] [--portmap] [--ipv6] [--json] [OPTIONS]\n"
		"       atmosphere-bench punch --node [--peers N] [--idle S] [--json] [OPTIONS]\n\n"
		"Runs real nodes in the NAT laboratory (natlab/lab.sh: network namespaces behind\n"
		"nftables NATs, our relay and STUN server on a 'public' host). Needs root.\n\n"
		"Per NAT pair ROB:MATT and round, Rob serves and issues a code; at t0 Matt starts\n"
		"'atmosphere join CODE'. Reported, as p50/p99 over the rounds that got there:\n"
		"  first packet  t0 to the first authenticated packet from Rob on Matt's node (the answer\n"
		"                to its handshake: a round trip over any path, the relay included)\n"
		"  direct        t0 to the later of the two sides opening its direct path to the other\n"
		"Both come from times the nodes record to the millisecond ('peers --json'\n"
		"first_session_at_ms, direct_since_ms), read once checks every 50 ms (an answered\n"
		"'atmosphere ping rob', both sides listing path \"direct\") saw them happen.\n"
		"A round succeeds when its first packet arrives within --connect-wait; the path is\n"
		"what both sides list at the end of the round. Also per round: the\n"
		"path's family (with --ipv6 the round waits up to 5 s more for IPv6, which the node\n"
		"prefers), the port mapping each node holds, and whether the direct path goes to\n"
		"a mapped endpoint. --portmap and --ipv6 may be combined.\n\n"
		"--node: a hub node and N peers, each behind its own full-cone NAT. Reports the hub's\n"
		"VmRSS and VmHWM with 0, 1 and N idle peers, and its keepalive traffic per idle peer\n"
		"over --idle seconds: every UDP and TCP byte through its interface (nftables\n"
		"counters, IP bytes), with 1 peer direct, the same peer forced to the relay, and N\n"
		"peers direct; beside the daemon's own byte counters as a cross-check.\n\n"
		"Options:\n",
	.foot = "\nExit status: 0 ran (failed rounds are results), 1 could not run or was stopped,\n"
		"2 usage or not root.\n",
	.column = 24,
};

static int parse_opts(int argc, char **argv, struct popts *o)
{
	*o = (struct popts){.rounds = ROUNDS_DEFAULT, .peers = PEERS_DEFAULT, .budget_ms = BUDGET_DEFAULT_MS,
			    .connect_wait_ms = CONNECT_WAIT_DEFAULT_MS, .direct_wait_ms = DIRECT_WAIT_DEFAULT_MS,
			    .idle_ms = IDLE_DEFAULT_MS};
	o->num_pairs = bench_punch_pairs_default(o->pairs);
	return opt_table_parse(&punch_table, o, argc, argv, stdout, NULL);
}

/* --- finding the script and the node binary --- */

static bool exe_dir(char *out, size_t out_len)
{
	ssize_t n = readlink("/proc/self/exe", out, out_len - 1);
	if (n <= 0)
		return false;
	out[n] = '\0';
	char *slash = strrchr(out, '/');
	if (!slash)
		return false;
	*slash = '\0';
	return true;
}

/* The script needs the NAT lab beside it: <dir>/../natlab/lab.sh. */
static bool script_ok(const char *path)
{
	char lab[PATH_MAX + 32];
	const char *slash = strrchr(path, '/');
	int dl = slash ? (int)(slash - path) : 1;
	snprintf(lab, sizeof lab, "%.*s/../natlab/lab.sh", dl, slash ? path : ".");
	return access(path, R_OK) == 0 && access(lab, R_OK) == 0;
}

static bool find_script(const struct popts *o, char *out, size_t out_len)
{
	char dir[PATH_MAX];
	if (o->script) {
		snprintf(out, out_len, "%s", o->script);
		return script_ok(out);
	}
	/* The source tree this binary was built from, then a build directory
	 * inside a source tree (build/bin/atmosphere-bench). */
	snprintf(out, out_len, "%s/bench/punch.sh", ATMOS_SOURCE_DIR);
	if (script_ok(out))
		return true;
	if (exe_dir(dir, sizeof dir)) {
		snprintf(out, out_len, "%.*s/../../bench/punch.sh", (int)(out_len - 32), dir);
		if (script_ok(out))
			return true;
		/* Installed: PREFIX/bin/atmosphere-bench and PREFIX/share/atmosphere/. */
		snprintf(out, out_len, "%.*s/../share/atmosphere/bench/punch.sh", (int)(out_len - 48), dir);
		if (script_ok(out))
			return true;
	}
	return false;
}

static bool find_atmosphere(const struct popts *o, char *out, size_t out_len)
{
	char dir[PATH_MAX];
	if (o->atmosphere)
		snprintf(out, out_len, "%s", o->atmosphere);
	else if (exe_dir(dir, sizeof dir))
		snprintf(out, out_len, "%.*s/atmosphere", (int)(out_len - 16), dir);
	else
		return false;
	return access(out, X_OK) == 0;
}

/* --- running the script --- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void run_quiet(char *const argv[])
{
	pid_t p = fork();
	if (p == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (p > 0)
		waitpid(p, NULL, 0);
}

/* Removes the namespaces a killed script left ("nl<pid>-*" and its probe
 * "nlprobe<pid>", or with NL_TAG set "nl<TAG>-<pid>-*" and
 * "nlprobe<TAG>-<pid>", as natlab/lab.sh names them), ending the processes
 * inside them first; returns how many there were. */
static unsigned reap_lab(pid_t script)
{
	char pre[64], probe[64];
	const char *tag = getenv("NL_TAG");
	unsigned n = 0;
	if (!tag)
		tag = "";
	snprintf(pre, sizeof pre, "nl%.16s%s%d-", tag, *tag ? "-" : "", (int)script);
	snprintf(probe, sizeof probe, "nlprobe%.16s%s%d", tag, *tag ? "-" : "", (int)script);
	DIR *d = opendir("/run/netns");
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, pre, strlen(pre)) && strcmp(e->d_name, probe))
			continue;
		char cmd[300], line[32];
		snprintf(cmd, sizeof cmd, "ip netns pids '%s' 2>/dev/null", e->d_name);
		FILE *f = popen(cmd, "r");
		while (f && fgets(line, sizeof line, f)) {
			long pid = strtol(line, NULL, 10);
			if (pid > 1)
				kill((pid_t)pid, SIGKILL);
		}
		if (f)
			pclose(f);
		char *argv[] = {"ip", "netns", "del", e->d_name, NULL};
		run_quiet(argv);
		n++;
	}
	closedir(d);
	return n;
}

static void add_arg(char **argv, size_t *n, char *s)
{
	argv[(*n)++] = s;
}

/* Runs the script with a hard bound of bound_s; 0 when it exited 0. */
static int run_script(const struct popts *o, const char *script, const char *atmos, const char *out_path,
		      uint64_t bound_s)
{
	char pairs[BENCH_PUNCH_MAX_PAIRS * BENCH_PUNCH_PAIR_LEN] = "";
	char rounds[16], budget[24], cw[24], dw[24], peers[16], idle[24];
	for (size_t i = 0; i < o->num_pairs; i++) {
		if (i)
			strcat(pairs, " ");
		strcat(pairs, o->pairs[i]);
	}
	snprintf(rounds, sizeof rounds, "%u", o->rounds);
	snprintf(budget, sizeof budget, "%llu", (unsigned long long)(o->budget_ms / 1000));
	snprintf(cw, sizeof cw, "%llu", (unsigned long long)((o->connect_wait_ms + 999) / 1000));
	snprintf(dw, sizeof dw, "%llu", (unsigned long long)((o->direct_wait_ms + 999) / 1000));
	snprintf(peers, sizeof peers, "%u", o->peers);
	snprintf(idle, sizeof idle, "%llu", (unsigned long long)((o->idle_ms + 999) / 1000));
	char *argv[32];
	size_t n = 0;
	add_arg(argv, &n, "sh");
	add_arg(argv, &n, (char *)script);
	add_arg(argv, &n, "--atmosphere");
	add_arg(argv, &n, (char *)atmos);
	add_arg(argv, &n, "--out");
	add_arg(argv, &n, (char *)out_path);
	add_arg(argv, &n, "--mode");
	add_arg(argv, &n, o->node ? "node" : "punch");
	add_arg(argv, &n, "--portmap");
	add_arg(argv, &n, o->portmap ? "1" : "0");
	add_arg(argv, &n, "--ipv6");
	add_arg(argv, &n, o->ipv6 ? "1" : "0");
	if (o->node) {
		add_arg(argv, &n, "--peers");
		add_arg(argv, &n, peers);
		add_arg(argv, &n, "--idle");
		add_arg(argv, &n, idle);
	} else {
		add_arg(argv, &n, "--pairs");
		add_arg(argv, &n, pairs);
		add_arg(argv, &n, "--rounds");
		add_arg(argv, &n, rounds);
		add_arg(argv, &n, "--budget");
		add_arg(argv, &n, budget);
		add_arg(argv, &n, "--connect-wait");
		add_arg(argv, &n, cw);
		add_arg(argv, &n, "--direct-wait");
		add_arg(argv, &n, dw);
	}
	argv[n] = NULL;

	struct sigaction sa = {.sa_handler = on_signal}, old[3];
	int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);

	int status = -1, rc = 1;
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "atmosphere-bench punch: fork: %s\n", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		for (int i = 0; i < 3; i++)
			sigaction(sigs[i], &old[i], NULL);
		int fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		dup2(2, 1); /* its progress goes to our stderr */
		execv("/bin/sh", argv);
		fprintf(stderr, "atmosphere-bench punch: cannot run /bin/sh: %s\n", strerror(errno));
		_exit(127);
	}
	uint64_t t0 = bench_mono_ns(), kill_at = 0;
	bool termed = false;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			fprintf(stderr, "atmosphere-bench punch: waitpid: %s\n", strerror(errno));
			break;
		}
		uint64_t now = bench_mono_ns();
		bool late = now - t0 > bound_s * 1000000000ull;
		if (!termed && (got_signal || late)) {
			if (late)
				fprintf(stderr, "atmosphere-bench punch: still running after %llu s: stopping it\n",
					(unsigned long long)bound_s);
			kill(pid, SIGTERM);
			termed = true;
			kill_at = now + CLEANUP_GRACE_S * 1000000000ull;
		}
		if (termed && now > kill_at) {
			fprintf(stderr, "atmosphere-bench punch: the script did not clean up within %d s: killing it\n",
				CLEANUP_GRACE_S);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		struct timespec ts = {.tv_nsec = 100000000};
		nanosleep(&ts, NULL);
	}
	unsigned left = reap_lab(pid);
	if (left)
		fprintf(stderr, "atmosphere-bench punch: removed %u namespace(s) the script left\n", left);
	if (got_signal)
		fprintf(stderr, "atmosphere-bench punch: interrupted (signal %d)\n", (int)got_signal);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = 0;
	else if (WIFEXITED(status))
		fprintf(stderr, "atmosphere-bench punch: %s exited %d\n", script, WEXITSTATUS(status));
	else
		fprintf(stderr, "atmosphere-bench punch: %s ended by a signal\n", script);
out:
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	return rc;
}

/* --- results --- */

struct results {
	struct bench_punch_pair pairs[BENCH_PUNCH_MAX_PAIRS];
	size_t num_pairs;
	struct bench_node_mem mem[8];
	size_t num_mem;
	struct bench_node_wire wire[4];
	size_t num_wire;
	char fail[BENCH_PUNCH_NOTE_LEN + 32];
	bool done;
	unsigned bad_lines;
};

static void read_records(FILE *f, const struct popts *o, struct results *r)
{
	char line[4096];
	for (size_t i = 0; i < o->num_pairs; i++)
		bench_punch_pair_init(&r->pairs[i], o->pairs[i]);
	r->num_pairs = o->node ? 0 : o->num_pairs;
	while (fgets(line, sizeof line, f)) {
		struct bench_punch_rec rec;
		if (bench_punch_rec_parse(line, &rec)) {
			r->bad_lines++;
			continue;
		}
		switch (rec.kind) {
		case BENCH_REC_ROUND:
			for (size_t i = 0; i < r->num_pairs; i++)
				if (!strcmp(r->pairs[i].name, rec.u.round.pair))
					bench_punch_pair_add(&r->pairs[i], &rec.u.round);
			break;
		case BENCH_REC_MEM:
			if (r->num_mem < sizeof r->mem / sizeof r->mem[0])
				r->mem[r->num_mem++] = rec.u.mem;
			break;
		case BENCH_REC_WIRE:
			if (r->num_wire < sizeof r->wire / sizeof r->wire[0])
				r->wire[r->num_wire++] = rec.u.wire;
			break;
		case BENCH_REC_FAIL:
			snprintf(r->fail, sizeof r->fail, "%s: %s", rec.u.fail.stage, rec.u.fail.reason);
			break;
		case BENCH_REC_DONE:
			r->done = true;
			break;
		}
	}
}

static json_object *jtimes(const struct bench_punch_times *t)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "samples", json_object_new_int64((int64_t)t->num));
	json_object_object_add(o, "p50", t->num ? json_object_new_int64((int64_t)t->p50) : NULL);
	json_object_object_add(o, "p99", t->num ? json_object_new_int64((int64_t)t->p99) : NULL);
	return o;
}

static const struct bench_node_mem *find_mem(const struct results *r, const char *role, unsigned peers)
{
	for (size_t i = 0; i < r->num_mem; i++)
		if (!strcmp(r->mem[i].role, role) && r->mem[i].peers == peers)
			return &r->mem[i];
	return NULL;
}

/* KiB per peer beyond the first: (RSS at N - RSS at 1) / (N - 1). */
static double rss_per_peer(const struct results *r, unsigned n)
{
	const struct bench_node_mem *a = find_mem(r, "hub", 1), *b = find_mem(r, "hub", n);
	if (!a || !b || n < 2)
		return NAN;
	return ((double)b->rss_kib - (double)a->rss_kib) / (double)(n - 1);
}

/* The lab's variant: "plain", "portmap", "ipv6" or "portmap+ipv6". */
static const char *variant(const struct popts *o)
{
	return o->portmap && o->ipv6 ? "portmap+ipv6" : o->portmap ? "portmap" : o->ipv6 ? "ipv6" : "plain";
}

static const char *variant_text(const struct popts *o)
{
	return o->portmap && o->ipv6 ? "port mapping on the routers and IPv6 on every host"
	       : o->portmap        ? "port mapping on the routers (miniupnpd: UPnP IGD, NAT-PMP, PCP)"
	       : o->ipv6           ? "IPv6 on every host (home-router IPv6 firewalls)"
				   : "IPv4 NATs only, no port mapping";
}

static json_object *build_json(const struct popts *o, const struct results *r)
{
	json_object *root = json_object_new_object();
	json_object_object_add(root, "mode", json_object_new_string(o->node ? "node" : "punch"));
	json_object_object_add(root, "variant", json_object_new_string(variant(o)));
	json_object_object_add(root, "port_mapping", json_object_new_boolean(o->portmap));
	json_object_object_add(root, "ipv6", json_object_new_boolean(o->ipv6));
	json_object_object_add(root, "complete", json_object_new_boolean(r->done));
	json_object_object_add(root, "failure", r->fail[0] ? json_object_new_string(r->fail) : NULL);
	if (!o->node) {
		json_object *ps = json_object_new_array();
		unsigned att = 0, ok = 0, dir = 0, every = 0;
		json_object_object_add(root, "rounds", json_object_new_int((int)o->rounds));
		json_object_object_add(root, "budget_s", json_object_new_int64((int64_t)(o->budget_ms / 1000)));
		for (size_t i = 0; i < r->num_pairs; i++) {
			const struct bench_punch_pair *p = &r->pairs[i];
			struct bench_punch_times tf, td;
			bench_punch_pair_first(p, &tf);
			bench_punch_pair_direct(p, &td);
			json_object *j = json_object_new_object();
			json_object_object_add(j, "pair", json_object_new_string(p->name));
			json_object_object_add(j, "attempts", json_object_new_int((int)p->attempts));
			json_object_object_add(j, "successes", json_object_new_int((int)p->successes));
			json_object_object_add(j, "skipped", json_object_new_int((int)p->skipped));
			json_object_object_add(j, "direct", json_object_new_int((int)p->num_direct));
			json_object_object_add(j, "path", json_object_new_string(bench_punch_pair_path(p)));
			json_object_object_add(j, "first_packet_ms", jtimes(&tf));
			json_object_object_add(j, "direct_ms", jtimes(&td));
			json_object_object_add(j, "family", json_object_new_string(bench_punch_pair_family(p)));
			json_object *fam = json_object_new_object();
			json_object_object_add(fam, "ipv4", json_object_new_int((int)p->num_ipv4));
			json_object_object_add(fam, "ipv6", json_object_new_int((int)p->num_ipv6));
			json_object_object_add(j, "direct_by_family", fam);
			json_object *mp = json_object_new_object();
			json_object_object_add(mp, "rob", json_object_new_int((int)p->rob_mapped));
			json_object_object_add(mp, "matt", json_object_new_int((int)p->matt_mapped));
			json_object_object_add(j, "mapped_rounds", mp);
			json_object_object_add(j, "direct_via_mapping", json_object_new_int((int)p->num_via_mapping));
			json_object_array_add(ps, j);
			every += p->attempts && p->num_direct == p->attempts;
			att += p->attempts;
			ok += p->successes;
			dir += p->num_direct;
		}
		json_object_object_add(root, "pairs", ps);
		json_object_object_add(root, "attempts", json_object_new_int((int)att));
		json_object_object_add(root, "successes", json_object_new_int((int)ok));
		json_object_object_add(root, "direct", json_object_new_int((int)dir));
		json_object_object_add(root, "pairs_direct_every_round", json_object_new_int((int)every));
		return root;
	}
	json_object_object_add(root, "peers", json_object_new_int((int)o->peers));
	json_object_object_add(root, "idle_s", json_object_new_int64((int64_t)(o->idle_ms / 1000)));
	json_object *mem = json_object_new_array();
	for (size_t i = 0; i < r->num_mem; i++) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "role", json_object_new_string(r->mem[i].role));
		json_object_object_add(j, "peers", json_object_new_int((int)r->mem[i].peers));
		json_object_object_add(j, "vmrss_kib", json_object_new_int64((int64_t)r->mem[i].rss_kib));
		json_object_object_add(j, "vmhwm_kib", json_object_new_int64((int64_t)r->mem[i].hwm_kib));
		json_object_object_add(j, "rssanon_kib", json_object_new_int64((int64_t)r->mem[i].anon_kib));
		json_object_array_add(mem, j);
	}
	json_object_object_add(root, "memory", mem);
	json_object_object_add(root, "rss_kib_per_extra_peer", bench_report_num(rss_per_peer(r, o->peers), 1));
	json_object *ka = json_object_new_array();
	for (size_t i = 0; i < r->num_wire; i++) {
		const struct bench_node_wire *w = &r->wire[i];
		json_object *j = json_object_new_object(), *wj = json_object_new_object();
		json_object_object_add(j, "path", json_object_new_string(w->path));
		json_object_object_add(j, "peers", json_object_new_int((int)w->peers));
		json_object_object_add(j, "seconds", bench_report_num((double)w->ms / 1000, 3));
		const uint64_t v[] = {w->udp_in_b, w->udp_in_p, w->udp_out_b, w->udp_out_p,
				      w->tcp_in_b, w->tcp_in_p, w->tcp_out_b, w->tcp_out_p};
		const char *k[] = {"udp_in_bytes", "udp_in_packets", "udp_out_bytes", "udp_out_packets",
				   "tcp_in_bytes", "tcp_in_packets", "tcp_out_bytes", "tcp_out_packets"};
		for (size_t m = 0; m < sizeof v / sizeof v[0]; m++)
			json_object_object_add(wj, k[m], json_object_new_int64((int64_t)v[m]));
		json_object_object_add(j, "wire", wj);
		json_object_object_add(j, "daemon_in_bytes", json_object_new_int64((int64_t)w->self_in));
		json_object_object_add(j, "daemon_out_bytes", json_object_new_int64((int64_t)w->self_out));
		json_object_object_add(j, "wire_bytes_per_s_per_peer",
				       bench_report_num(bench_node_wire_rate(w, bench_node_wire_total(w)), 1));
		json_object_object_add(j, "wire_out_bytes_per_s_per_peer",
				       bench_report_num(bench_node_wire_rate(w, bench_node_wire_out(w)), 1));
		json_object_object_add(j, "wire_udp_bytes_per_s_per_peer",
				       bench_report_num(bench_node_wire_rate(w, bench_node_wire_udp(w)), 1));
		json_object_object_add(j, "daemon_bytes_per_s_per_peer",
				       bench_report_num(bench_node_wire_rate(w, w->self_in + w->self_out), 1));
		double h = bench_node_wire_header_per_packet(w);
		json_object_object_add(j, "udp_minus_daemon_bytes_per_packet",
				       !strcmp(w->path, "direct") ? bench_report_num(h, 1) : NULL);
		json_object_array_add(ka, j);
	}
	json_object_object_add(root, "keepalive", ka);
	return root;
}

static void fmt_ms(char *out, size_t len, const struct bench_punch_times *t, bool p99)
{
	if (!t->num)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.2f", (double)(p99 ? t->p99 : t->p50) / 1000);
}

static const char *met(bool known, bool ok)
{
	return !known ? "-" : ok ? "yes" : "NO";
}

static void print_table(const struct popts *o, const struct results *r)
{
	if (!o->node) {
		printf("lab: %s\n", variant_text(o));
		printf("%-34s %9s %9s %9s %9s  %-7s %-7s %-7s %-6s %-13s %s\n", "pair (rob:matt)", "first p50",
		       "first p99", "direct p50", "p99", "path", "ok", "direct", "family", "mapped r/m", "via map");
		for (size_t i = 0; i < r->num_pairs; i++) {
			const struct bench_punch_pair *p = &r->pairs[i];
			struct bench_punch_times tf, td;
			char a[16], b[16], c[16], d[16];
			bench_punch_pair_first(p, &tf);
			bench_punch_pair_direct(p, &td);
			fmt_ms(a, sizeof a, &tf, false);
			fmt_ms(b, sizeof b, &tf, true);
			fmt_ms(c, sizeof c, &td, false);
			fmt_ms(d, sizeof d, &td, true);
			char dir[24], mapped[24];
			snprintf(dir, sizeof dir, "%u/%u", p->num_direct, p->attempts);
			snprintf(mapped, sizeof mapped, "%u/%u", p->rob_mapped, p->matt_mapped);
			printf("%-34s %9s %9s %10s %9s  %-7s %u/%-5u %-7s %-6s %-13s %u%s\n", p->name, a, b, c, d,
			       bench_punch_pair_path(p), p->successes, p->attempts, dir, bench_punch_pair_family(p), mapped,
			       p->num_via_mapping, p->skipped ? " (some skipped: budget)" : "");
		}
		/* The headline of issue 12: pairs that end direct in every round. */
		unsigned all_direct = 0, rounds = 0, rounds_direct = 0;
		for (size_t i = 0; i < r->num_pairs; i++) {
			const struct bench_punch_pair *p = &r->pairs[i];
			all_direct += p->attempts && p->num_direct == p->attempts;
			rounds += p->attempts;
			rounds_direct += p->num_direct;
		}
		printf("%-34s direct in every round: %u/%zu pairs (%u/%u rounds), %s\n", "all pairs", all_direct,
		       r->num_pairs, rounds_direct, rounds, variant(o));
		printf("\nSeconds from 'join CODE'; p50/p99 over the rounds that got there (nearest rank).\n"
		       "family: of the direct rounds' final path; mapped r/m: rounds in which Rob / Matt held a port\n"
		       "mapping; via map: direct rounds whose path goes to a mapped endpoint.\n");
		return;
	}
	printf("%-52s %10s  %-10s %-10s %s\n", "figure", "value", "seed", "target", "met");
	for (size_t i = 0; i < r->num_mem; i++) {
		const struct bench_node_mem *m = &r->mem[i];
		char fig[80];
		snprintf(fig, sizeof fig, "%s VmRSS MB, %u idle peer(s)", m->role, m->peers);
		printf("%-52s %10.2f  %-10s %-10s %s\n", fig, (double)m->rss_kib * 1024 / 1e6, "~5", "< 5",
		       met(true, (double)m->rss_kib < TARGET_RSS_KIB));
		snprintf(fig, sizeof fig, "%s RssAnon MB (own pages), %u idle peer(s)", m->role, m->peers);
		printf("%-52s %10.2f  %-10s %-10s %s\n", fig, (double)m->anon_kib * 1024 / 1e6, "~5", "< 5",
		       met(true, (double)m->anon_kib < TARGET_RSS_KIB));
		snprintf(fig, sizeof fig, "%s VmHWM MB, %u idle peer(s)", m->role, m->peers);
		printf("%-52s %10.2f  %-10s %-10s %s\n", fig, (double)m->hwm_kib * 1024 / 1e6, "-", "reported", "-");
	}
	double pp = rss_per_peer(r, o->peers);
	if (isfinite(pp))
		printf("%-52s %10.1f  %-10s %-10s %s\n", "hub VmRSS KiB per peer beyond the first", pp, "-", "reported",
		       "-");
	for (size_t i = 0; i < r->num_wire; i++) {
		const struct bench_node_wire *w = &r->wire[i];
		char fig[96];
		double all = bench_node_wire_rate(w, bench_node_wire_total(w));
		snprintf(fig, sizeof fig, "keepalive B/s per peer, %s, %u peer(s), in+out", w->path, w->peers);
		printf("%-52s %10.1f  %-10s %-10s %s\n", fig, all, "~1000", "<= 100", met(true, all <= TARGET_KEEPALIVE_BPS));
		snprintf(fig, sizeof fig, "  of which sent (out)");
		printf("%-52s %10.1f\n", fig, bench_node_wire_rate(w, bench_node_wire_out(w)));
		snprintf(fig, sizeof fig, "  daemon's own count (e2e bytes, in+out)");
		printf("%-52s %10.1f\n", fig, bench_node_wire_rate(w, w->self_in + w->self_out));
	}
	printf("\nIP bytes at the hub's interface (nftables counters) over %llu s idle windows.\n",
	       (unsigned long long)(o->idle_ms / 1000));
}

int bench_cmd_punch(int argc, char **argv)
{
	struct popts o;
	int rc = parse_opts(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (o.node && (o.portmap || o.ipv6)) {
		fprintf(stderr, "atmosphere-bench punch: --portmap and --ipv6 measure the NAT pairs; --node takes "
				"neither (see --help)\n");
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "atmosphere-bench punch: the NAT laboratory needs root (network namespaces, nftables); "
				"run it as root\n");
		return 2;
	}
	char script[PATH_MAX], atmos[PATH_MAX];
	if (!find_script(&o, script, sizeof script)) {
		fprintf(stderr, "atmosphere-bench punch: cannot find bench/punch.sh beside natlab/lab.sh "
				"(looked in %s and beside this binary); pass --script PATH to a source tree's copy\n",
			ATMOS_SOURCE_DIR);
		return 1;
	}
	if (!find_atmosphere(&o, atmos, sizeof atmos)) {
		fprintf(stderr, "atmosphere-bench punch: node binary '%s' is not executable; pass --atmosphere PATH\n",
			atmos);
		return 1;
	}
	char out_path[] = "/tmp/atmos-punch.XXXXXX";
	int fd = mkstemp(out_path);
	if (fd < 0) {
		fprintf(stderr, "atmosphere-bench punch: mkstemp %s: %s\n", out_path, strerror(errno));
		return 1;
	}
	close(fd);
	uint64_t bound_s;
	if (o.node)
		bound_s = NODE_FIXED_S + 3 * (o.idle_ms / 1000) + 10ull * o.peers;
	else
		bound_s = o.budget_ms / 1000 + (o.connect_wait_ms + o.direct_wait_ms) / 1000 + ROUND_SETUP_S + 30 +
			  (o.portmap || o.ipv6 ? VARIANT_SETUP_S + VARIANT_ROUND_S : 0);
	rc = run_script(&o, script, atmos, out_path, bound_s);

	struct results *res = calloc(1, sizeof *res);
	FILE *f = fopen(out_path, "r");
	if (!res || !f) {
		fprintf(stderr, "atmosphere-bench punch: reading %s: %s\n", out_path, strerror(errno));
		if (f)
			fclose(f);
		free(res);
		unlink(out_path);
		return 1;
	}
	read_records(f, &o, res);
	fclose(f);
	unlink(out_path);
	if (res->bad_lines)
		fprintf(stderr, "atmosphere-bench punch: %u malformed record(s) ignored\n", res->bad_lines);
	if (res->fail[0])
		fprintf(stderr, "atmosphere-bench punch: failed at %s\n", res->fail);
	if (!res->done && rc == 0)
		rc = 1;
	json_object *j = build_json(&o, res);
	if (o.json_out && bench_report_json_file(CMD, o.json_out, j))
		rc = 1;
	if (o.json)
		bench_report_json_print(stdout, j);
	else
		print_table(&o, res);
	json_object_put(j);
	free(res);
	return rc;
}
