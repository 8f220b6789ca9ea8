/* atmosphere network: the seed's "Check Your Network" (stun/nat.h). */
#include <errno.h>
#include <getopt.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/reactor.h"
#include "core/udp.h"
#include "net/resolve.h"
#include "portmap/portmap.h"
#include "stun/client.h"
#include "stun/lifetime.h"
#include "stun/nat.h"
#include "stun/ports.h"
#include "stun/resolve.h"
#include "relay/client.h"
#include "tools/cli.h"
#include "node/state.h"

#define CMD "network"

static void help(void)
{
	printf("usage: atmosphere network [OPTIONS]\n"
	       "\n"
	       "Checks this host's connectivity: its local address and port, its public\n"
	       "address and port as STUN servers see them (and which servers agree), the\n"
	       "NAT type, and whether each STUN server can be reached (with its round-trip\n"
	       "time). NAT behaviour is measured with RFC 5780 tests when a server offers\n"
	       "them (`atmosphere stun-server --alt-host ...` does), otherwise estimated.\n"
	       "IPv4 and IPv6 are checked at the same time, each from its own socket and\n"
	       "reported in its own section (--json: the IPv4 fields at the top level as\n"
	       "always, the IPv6 ones under \"ipv6\"): a server name is asked over both (A\n"
	       "and AAAA), an address literal over its own family.\n"
	       "Meanwhile it asks the default gateway (only it, and SSDP on the LAN) which\n"
	       "port-mapping protocols it answers: UPnP IGD, NAT-PMP, PCP (at most 2 s; no\n"
	       "mapping is made; --json: port_mapping {upnp, natpmp, pcp}).\n"
	       "\n"
	       "Options:\n"
	       "  --stun HOST[:PORT]  STUN server to ask (repeatable, up to %d; port default %u;\n"
	       "                      an IPv6 address in brackets: [2001:db8::1]:3478).\n"
	       "                      Default: $ATMOSPHERE_STUN (comma-separated), else\n"
	       "                      stun.l.google.com:19302, stun1.l.google.com:19302,\n"
	       "                      stun2.l.google.com:19302, stun.cloudflare.com:3478,\n"
	       "                      stun.stunprotocol.org:3478\n"
	       "  --port N            local UDP port to test from (default 0: any; use the port\n"
	       "                      your node serves on to learn its public mapping)\n"
	       "  --timeout D         time allowed for discovery, and again for the NAT tests\n"
	       "                      (default 3s; 500ms, 10s...)\n"
	       "  --json              one JSON object on stdout instead of text\n"
	       "  --no-port-mapping   do not ask the gateway (also ATMOSPHERE_PORT_MAPPING=off)\n"
	       "  --mapping-lifetime[=MAX]\n"
	       "                      also measure how long the NAT keeps an idle UDP mapping\n"
	       "                      (IPv4), up to MAX (default 120s; 1s to 5m, same syntax as\n"
	       "                      --timeout; whole seconds). Takes about MAX + 1 s: fresh\n"
	       "                      sockets stay silent for 1, 2, 3, 5, 8, 13, 20, 30, 45, 60,\n"
	       "                      90, 120, 180, 240, 300 s (those <= MAX, and MAX), then the\n"
	       "                      server is asked from another socket to answer at their\n"
	       "                      public port (RFC 5780 RESPONSE-PORT). Needs a server that\n"
	       "                      supports RESPONSE-PORT (`atmosphere stun-server --alt-host`\n"
	       "                      does); otherwise it says \"not measured\" and why\n"
	       "  --relay URL         also check this relay (ws:// or wss://; repeatable): GET /health,\n"
	       "                      connect time and session count. Default: the relays of the\n"
	       "                      mesh in $ATMOSPHERE_HOME, if there is one\n"
	       "  --ca-file FILE      trust anchors for wss:// relays (default: the system store)\n"
	       "  -h, --help          this help\n"
	       "\n"
	       "Exit status: 0 when a public address was found (in either family), 1 when no\n"
	       "STUN server answered (\"STUN discovery failed\") or the test could not run,\n"
	       "2 for bad options.\n",
	       STUN_CLIENT_MAX_SERVERS, STUN_DEFAULT_PORT);
}

enum { OPT_STUN = 256, OPT_PORT, OPT_TIMEOUT, OPT_JSON, OPT_RELAY, OPT_CA, OPT_NO_PM, OPT_LIFETIME };

#define MAX_RELAYS 8

struct relay_check {
	const char *url;
	int rc;                 /* 0 reachable, else -errno */
	uint32_t rtt_us;
	int64_t sessions;
	char error[200];
};

/* One address family's part of the check: its own socket, the servers it
 * can reach (names resolved to that family, literals of it), its own NAT
 * report. IPv4 and IPv6 run at the same time, so asking both costs no
 * time; a host without IPv6 fails that part at the first send
 * (ENETUNREACH), without waiting. */
enum { FAM_V4, FAM_V6, NUM_FAMS };

struct fam_job {
	int af;                 /* AF_INET or AF_INET6 */
	const char *name;       /* "IPv4", "IPv6" */
	struct stun_endpoint servers[STUN_CLIENT_MAX_SERVERS];
	size_t num_servers;
	bool tested;            /* it had servers and a socket: r is filled */
	int rc;                 /* stun_nat_discover's, or the bind error */
	bool bind_failed;
	char why_not[128];      /* when !tested: why, for people */
	struct stun_nat_report r;
	bool done;
	/* IPv4: the port-allocation pattern (stun_port_pattern_classify). */
	bool ports_tested;
	struct stun_port_samples pa;
	/* IPv4, --mapping-lifetime: the checkpoints (stun/lifetime.h). */
	bool life_tested;
	const char *life_server;        /* the server asked (its --stun text) */
	char life_why[160];             /* when not measured: why, for people */
	size_t num_life, life_left;     /* checkpoints; those still running */
	struct stun_lifetime_check life[STUN_LIFETIME_MAX_CHECKS];
	struct stun_lifetime_result life_r;
};

struct net_job {
	struct stun_endpoint servers[STUN_CLIENT_MAX_SERVERS];
	size_t num_servers;
	uint16_t port;
	unsigned life_max_s;    /* --mapping-lifetime: the largest idle time tested; 0: not asked */
	struct stun_client_opts o;
	int rc;                 /* a fatal error: the IPv4 socket's bind error, or the runtime's */
	bool bind_failed;
	struct fam_job fam[NUM_FAMS];
	struct core_coro *waiter;
	struct relay_check relays[MAX_RELAYS];
	size_t num_relays;
	const char *ca_file;
	int relay_done;
	/* What the gateway offers (portmap_probe), asked on a thread of its
	 * own while STUN runs: it blocks, and must not hold up the reactor. */
	struct portmap_probe pm;
	int pm_rc;
	bool pm_skipped;        /* --no-port-mapping */
};

/* The port-mapping probe waits at most this long (or --timeout if shorter). */
enum { PORT_MAPPING_PROBE_MS = 2000 };

static void *probe_port_mapping(void *arg)
{
	struct net_job *j = arg;
	unsigned ms = j->o.timeout_ms < PORT_MAPPING_PROBE_MS ? j->o.timeout_ms : PORT_MAPPING_PROBE_MS;
	j->pm_rc = portmap_probe(&j->pm, ms);
	return NULL;
}

struct relay_arg {
	struct net_job *j;
	size_t i;
	struct core_coro *waiter;
};

static void check_relay(void *arg)
{
	struct relay_arg *a = arg;
	struct relay_check *rc = &a->j->relays[a->i];
	rc->rc = relay_client_probe(rc->url, a->j->ca_file, (int)a->j->o.timeout_ms, &rc->rtt_us, &rc->sessions,
				    rc->error, sizeof rc->error);
	if (++a->j->relay_done == (int)a->j->num_relays)
		core_unpark(a->waiter, 0);
	free(a);
}

/* bind_family opens f's socket on the wildcard address and j->port: IPv6
 * only for IPv6 (IPV6_V6ONLY), so both families can hold the same --port.
 * Returns the socket, or NULL with f->rc set. */
static struct core_udp *bind_family(struct net_job *j, struct fam_job *f)
{
	struct sockaddr_storage a = { 0 };
	socklen_t len;
	int err = 0;

	if (f->af == AF_INET6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(j->port);
		len = sizeof *a6;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&a;
		a4->sin_family = AF_INET;
		a4->sin_port = htons(j->port);
		len = sizeof *a4;
	}
	int fd = f->af == AF_INET6 ? core_udp_bind_v6only((struct sockaddr *)&a, len, false)
				   : core_udp_bind((struct sockaddr *)&a, len, false);
	if (fd < 0) {
		f->rc = fd;
		f->bind_failed = true;
		return NULL;
	}
	struct core_udp *u = core_udp_new(fd, &err);
	if (!u)
		f->rc = err;
	return u;
}

/* run_family runs f's discovery on u (borrowed); f->tested says whether
 * f->r holds a report. */
static void run_family(struct net_job *j, struct fam_job *f, struct core_udp *u)
{
	f->rc = stun_nat_discover(u, f->servers, f->num_servers, &j->o, &f->r);
	f->tested = f->rc == 0;
	if (f->rc < 0 && f->rc != -ECANCELED)
		snprintf(f->why_not, sizeof f->why_not, "%s", strerror(-f->rc));
}

/* no_route returns the send error every resolved server got, when each got
 * one that says this host cannot send to that family at all (no route, no
 * source address), else 0. */
static int no_route(const struct stun_discovery *d)
{
	int err = 0;
	for (size_t i = 0; i < d->num_servers; i++) {
		const struct stun_server_result *s = &d->servers[i];
		if (s->ep.err)
			continue;
		int st = s->probe.status;
		if (st != -ENETUNREACH && st != -EHOSTUNREACH && st != -EADDRNOTAVAIL)
			return 0;
		err = st;
	}
	return err;
}

/* A host without IPv6 connectivity has nothing to report there: say so,
 * rather than "udp_blocked" (IPv4 reports as it always did). */
static void run_family_v6(struct net_job *j, struct fam_job *f, struct core_udp *u)
{
	run_family(j, f, u);
	int err = f->tested && f->r.disc.status != 0 ? no_route(&f->r.disc) : 0;
	if (err) {
		f->tested = false;
		snprintf(f->why_not, sizeof f->why_not, "no IPv6 connectivity: %s", strerror(-err));
	}
}

struct fam_arg {
	struct net_job *j;
	struct fam_job *f;
	struct core_udp *u;
};

static void family_main(void *arg)
{
	struct fam_arg *a = arg;
	run_family_v6(a->j, a->f, a->u);
	core_udp_close(a->u);
	a->f->done = true;
	core_unpark(a->j->waiter, 0);
	free(a);
}

/* port_allocation asks the server that answered f's discovery again, from
 * STUN_PORT_SAMPLES fresh sockets (stun_port_sample, stun/ports.h: the node
 * samples the same way), and classifies the mapped ports. Bounded: one transaction per socket of
 * at most half the timeout (1 s at most); a socket that gets no answer is
 * left out, and the first one without an answer ends the sampling. */
static void port_allocation(struct net_job *j, struct fam_job *f)
{
	const struct stun_discovery *d = &f->r.disc;
	struct stun_client_opts o = j->o;
	if (!f->tested || d->status != 0 || d->no_nat || f->af != AF_INET)
		return;
	o.timeout_ms = o.timeout_ms / 2 < 1000 ? o.timeout_ms / 2 : 1000;
	if (!o.timeout_ms)
		o.timeout_ms = 1000;
	o.no_cache = true;
	o.settle_ms = 0;
	o.feed = NULL;
	const struct stun_server_result *srv = &d->servers[d->winner];
	f->ports_tested = true;
	stun_port_sample(&srv->ep.addr, srv->ep.addr_len, STUN_PORT_SAMPLES, &o, &f->pa);
}

/* --- mapping lifetime (--mapping-lifetime; stun/lifetime.h) ------------------ */

/* Each step of a checkpoint (learning its mapping, being answered at it)
 * waits at most LIFE_WAIT_MS, retransmitting after 250 and 750 ms: three
 * requests within the second, so one lost datagram does not expire a live
 * mapping. */
enum { LIFE_WAIT_MS = 1000, LIFE_RTO_MS = 250 };

/* life_opts: the options of every lifetime transaction. */
static struct stun_client_opts life_opts(const struct net_job *j)
{
	struct stun_client_opts o = j->o;
	o.timeout_ms = LIFE_WAIT_MS;
	o.rto_ms = LIFE_RTO_MS;
	o.settle_ms = -1;
	o.no_cache = true;
	o.feed = NULL;
	return o;
}

/* life_server picks the server to ask: the one the RFC 5780 tests used, or
 * another that offers them, as those are the ones that may understand
 * RESPONSE-PORT; else the server that answered first. */
static const struct stun_server_result *life_server(const struct fam_job *f)
{
	const struct stun_discovery *d = &f->r.disc;
	if (f->r.rfc5780)
		return &d->servers[f->r.rfc5780_server];
	for (size_t i = 0; i < d->num_servers; i++)
		if (d->servers[i].probe.status == 0 && d->servers[i].probe.has_other)
			return &d->servers[i];
	return &d->servers[d->winner];
}

/* answer_at asks srv from a fresh socket to answer at port (x's public
 * port) and listens on x. Returns 1 when the answer (any, even an error
 * response) reached x, 0 when none did, or a -errno when it could not ask. */
static int answer_at(struct core_udp *x, uint16_t port, const struct stun_server_result *srv,
		     const struct stun_client_opts *o)
{
	struct core_udp *y = stun_port_fresh_udp4(NULL);
	if (!y)
		return -EMFILE;
	struct stun_probe p = {.to = srv->ep.addr, .to_len = srv->ep.addr_len, .response_port = port, .via = y};
	int n = stun_client_run(x, &p, 1, o);
	core_udp_close(y);
	if (n < 0)
		return n;
	if (p.status == 0 || p.status == -EPROTO || p.status == -EBADMSG)
		return 1;
	return p.status == -ETIMEDOUT ? 0 : p.status;
}

struct life_arg {
	struct net_job *j;
	struct fam_job *f;
	const struct stun_server_result *srv;
	size_t i;
};

/* life_check runs checkpoint i: a fresh socket learns its mapping, stays
 * silent for idle_s seconds after the answer, then is answered at it. */
static void life_check(void *arg)
{
	struct life_arg *a = arg;
	struct stun_lifetime_check *c = &a->f->life[a->i];
	struct stun_client_opts o = life_opts(a->j);
	struct core_udp *x = stun_port_fresh_udp4(NULL);
	struct stun_probe p = {.to = a->srv->ep.addr, .to_len = a->srv->ep.addr_len};

	if (x && stun_client_run(x, &p, 1, &o) == 1 && p.status == 0) {
		/* The mapping's idle time runs from its last packet: the answer. */
		uint64_t wake = p.answered_ns + (uint64_t)c->idle_s * 1000000000u;
		uint64_t now = core_now_ns();
		int rc = now < wake ? core_sleep((unsigned)((wake - now + 999999u) / 1000000u)) : 0;
		if (rc == 0)
			rc = answer_at(x, p.mapped.port, a->srv, &o);
		c->outcome = rc == 1 ? STUN_LIFETIME_ALIVE : rc == 0 ? STUN_LIFETIME_EXPIRED : STUN_LIFETIME_UNTESTED;
	}
	if (x)
		core_udp_close(x);
	if (--a->f->life_left == 0)
		core_unpark(a->j->waiter, 0);
	free(a);
}

/* life_supported checks, from a fresh socket, that srv answers at the port
 * RESPONSE-PORT names (idle time 0). Returns true, or false with f->life_why
 * saying what the server did instead. */
static bool life_supported(struct net_job *j, struct fam_job *f, const struct stun_server_result *srv)
{
	struct stun_client_opts o = life_opts(j);
	struct core_udp *x = stun_port_fresh_udp4(NULL), *y = NULL;
	struct stun_probe p = {.to = srv->ep.addr, .to_len = srv->ep.addr_len};
	bool ok = false;

	if (!x) {
		snprintf(f->life_why, sizeof f->life_why, "cannot open a UDP socket");
		goto out;
	}
	if (stun_client_run(x, &p, 1, &o) != 1 || p.status != 0) {
		snprintf(f->life_why, sizeof f->life_why, "the server did not answer a new socket");
		goto out;
	}
	uint16_t port = p.mapped.port;
	if (answer_at(x, port, srv, &o) == 1) {
		ok = true;
		goto out;
	}
	/* Not answered at x: ask once more from y, listening on y, to tell
	 * the reasons apart. */
	y = stun_port_fresh_udp4(NULL);
	p = (struct stun_probe){.to = srv->ep.addr, .to_len = srv->ep.addr_len, .response_port = port};
	if (!y || stun_client_run(y, &p, 1, &o) < 0)
		snprintf(f->life_why, sizeof f->life_why, "cannot open a UDP socket");
	else if (p.status == -EPROTO && p.error_code == 420)
		snprintf(f->life_why, sizeof f->life_why,
			 "the server does not support RESPONSE-PORT (it answers 420 Unknown Attribute)");
	else if (p.status == -EPROTO)
		snprintf(f->life_why, sizeof f->life_why,
			 "the server does not support RESPONSE-PORT (it answers error %u)", p.error_code);
	else if (p.status == 0 || p.status == -EBADMSG)
		snprintf(f->life_why, sizeof f->life_why,
			 "the server does not support RESPONSE-PORT (it ignores it and answers the sender)");
	else
		snprintf(f->life_why, sizeof f->life_why,
			 "the server's answers to the port RESPONSE-PORT names do not arrive");
out:
	if (y)
		core_udp_close(y);
	if (x)
		core_udp_close(x);
	return ok;
}

/* mapping_lifetime measures f's mapping lifetime against one server: a
 * check that it honours RESPONSE-PORT, then every checkpoint at once, each
 * in its own coroutine. Takes about j->life_max_s + 1 s; only a check
 * that gets no answer at all costs more (its 1 s wait). */
static void mapping_lifetime(struct net_job *j, struct fam_job *f)
{
	unsigned idle[STUN_LIFETIME_MAX_CHECKS];
	const struct stun_discovery *d = &f->r.disc;
	if (!j->life_max_s || !f->tested || d->status != 0 || f->af != AF_INET)
		return;
	const struct stun_server_result *srv = life_server(f);
	f->life_tested = true;
	f->life_server = srv->ep.text;
	if (life_supported(j, f, srv)) {
		size_t n = stun_lifetime_ladder(j->life_max_s, idle);
		f->life_left = 1; /* ours, until every checkpoint is spawned */
		for (size_t i = 0; i < n; i++) {
			struct life_arg *a = malloc(sizeof *a);
			f->life[i] = (struct stun_lifetime_check){.idle_s = idle[i]};
			f->num_life++;
			if (!a)
				continue;
			*a = (struct life_arg){.j = j, .f = f, .srv = srv, .i = i};
			f->life_left++;
			if (core_spawn(life_check, a) != 0) {
				f->life_left--;
				free(a);
			}
		}
		/* Spurious wake-ups (the IPv6 part, relays) are harmless. */
		if (--f->life_left)
			while (f->life_left)
				if (core_park(-1) == -ECANCELED)
					return;
	}
	stun_lifetime_combine(f->life, f->num_life, &f->life_r);
	if (f->life_tested && !f->life_r.measured && !f->life_why[0])
		snprintf(f->life_why, sizeof f->life_why, "no checkpoint could be tested");
}

static void network_main(void *arg)
{
	struct net_job *j = arg;
	struct core_rt *rt = core_reactor_rt(core_self());
	struct fam_job *v4 = &j->fam[FAM_V4], *v6 = &j->fam[FAM_V6];
	struct core_udp *u4 = NULL, *u6 = NULL;

	j->waiter = core_coro_current();
	/* IPv4 first and as before: a --port it cannot have is fatal. */
	if (v4->num_servers) {
		u4 = bind_family(j, v4);
		if (!u4) {
			j->rc = v4->rc;
			j->bind_failed = v4->bind_failed;
			core_rt_shutdown(rt);
			return;
		}
	}
	/* IPv6 is extra: a host without it still gets its IPv4 report. */
	if (v6->num_servers) {
		u6 = bind_family(j, v6);
		if (!u6)
			snprintf(v6->why_not, sizeof v6->why_not, "cannot bind UDP port %u: %s", j->port, strerror(-v6->rc));
	}
	/* Relays are checked meanwhile, each in its own coroutine. */
	for (size_t i = 0; i < j->num_relays; i++) {
		struct relay_arg *ra = malloc(sizeof *ra);
		if (!ra)
			break;
		ra->j = j;
		ra->i = i;
		ra->waiter = j->waiter;
		core_spawn(check_relay, ra);
	}
	v6->done = true;
	if (u6) {
		struct fam_arg *fa = malloc(sizeof *fa);
		if (fa) {
			*fa = (struct fam_arg){ .j = j, .f = v6, .u = u6 };
			v6->done = false;
			if (core_spawn(family_main, fa) != 0) {
				free(fa);
				v6->done = true;
			}
		}
		if (v6->done) {
			snprintf(v6->why_not, sizeof v6->why_not, "out of memory");
			core_udp_close(u6);
		}
	}
	if (u4) {
		run_family(j, v4, u4);
		core_udp_close(u4);
		if (v4->rc == -ECANCELED)
			j->rc = v4->rc;
		else {
			port_allocation(j, v4);
			mapping_lifetime(j, v4);
		}
	}
	/* Spurious wake-ups are harmless: each wait re-checks its condition. */
	while (!v6->done || j->relay_done < (int)j->num_relays)
		if (core_park(-1) == -ECANCELED)
			break;
	core_rt_shutdown(rt);
}

static const char *yes_no(int v)
{
	return v > 0 ? "yes" : v == 0 ? "no" : "unknown";
}

static json_object *tri_json(int v)
{
	return v < 0 ? NULL : json_object_new_boolean(v > 0);
}

static json_object *rtt_json(uint32_t rtt_us)
{
	char text[32];
	snprintf(text, sizeof text, "%.1f", rtt_us / 1000.0);
	return json_object_new_double_s(rtt_us / 1000.0, text);
}

/* server_error describes why server i gave no usable answer, or NULL. */
static const char *server_error(const struct stun_server_result *s, char *buf, size_t cap)
{
	if (s->ep.err)
		return net_resolve_strerror(s->ep.err);
	if (s->probe.status == 0)
		return NULL;
	return stun_probe_strerror(&s->probe, buf, cap);
}

/* lifetime_json: f's mapping_lifetime, or NULL when not asked for or not
 * run (no public address). */
static json_object *lifetime_json(const struct fam_job *f)
{
	const struct stun_lifetime_result *r = &f->life_r;
	if (!f->life_tested)
		return NULL;
	json_object *o = json_object_new_object(), *list = json_object_new_array();
	json_object_object_add(o, "measured", json_object_new_boolean(r->measured));
	json_object_object_add(o, "min_s", r->measured ? json_object_new_int((int)r->min_s) : NULL);
	json_object_object_add(o, "max_s", r->measured && r->max_s ? json_object_new_int((int)r->max_s) : NULL);
	json_object_object_add(o, "server", json_object_new_string(f->life_server));
	for (size_t i = 0; i < f->num_life; i++) {
		const struct stun_lifetime_check *c = &f->life[i];
		json_object *e = json_object_new_object();
		json_object_object_add(e, "idle_s", json_object_new_int((int)c->idle_s));
		json_object_object_add(e, "alive", c->outcome == STUN_LIFETIME_UNTESTED
						   ? NULL
						   : json_object_new_boolean(c->outcome == STUN_LIFETIME_ALIVE));
		json_object_array_add(list, e);
	}
	json_object_object_add(o, "checkpoints", list);
	json_object_object_add(o, "contradicting", json_object_new_int((int)r->num_contradicting));
	json_object_object_add(o, "note", f->life_why[0] ? json_object_new_string(f->life_why) : NULL);
	return o;
}

/* add_family adds f's fields to o: the IPv4 ones at the top level, where
 * they always were, the IPv6 ones in "ipv6" (same names). A family not
 * tested has nulls and its reason in "note". */
static void add_family(json_object *o, const struct fam_job *f)
{
	const struct stun_nat_report *r = &f->r;
	const struct stun_discovery *d = &r->disc;
	json_object *list = json_object_new_array(), *agreed = json_object_new_array();
	bool found = f->tested && d->status == 0;
	char text[96];

	json_object_object_add(o, "local_ip",
			       f->tested ? json_object_new_string(stun_addr_format_ip(&d->local, text, sizeof text)) : NULL);
	json_object_object_add(o, "local_port", f->tested ? json_object_new_int(d->local.port) : NULL);
	json_object_object_add(o, "public_ip",
			       found ? json_object_new_string(stun_addr_format_ip(&d->mapped, text, sizeof text)) : NULL);
	json_object_object_add(o, "public_port", found ? json_object_new_int(d->mapped.port) : NULL);
	json_object_object_add(o, "nat_type", json_object_new_string(stun_nat_type_name(f->tested ? r->type : STUN_NAT_UNKNOWN)));
	json_object_object_add(o, "nat_type_estimated", json_object_new_boolean(f->tested && r->estimated));
	json_object_object_add(o, "mapping", json_object_new_string(stun_nat_mapping_name(r->mapping)));
	json_object_object_add(o, "filtering", json_object_new_string(stun_nat_filtering_name(r->filtering)));
	json_object_object_add(o, "hairpinning", f->tested ? tri_json(r->hairpinning) : NULL);
	json_object_object_add(o, "port_preserving", f->tested ? tri_json(r->port_preserving) : NULL);
	if (f->af == AF_INET) {
		/* IPv4 only: the pattern of new mappings' ports; null when not
		 * tested (no public address, or no NAT). */
		json_object *pa = NULL;
		if (f->ports_tested) {
			json_object *ports = json_object_new_array();
			pa = json_object_new_object();
			json_object_object_add(pa, "pattern", json_object_new_string(stun_port_pattern_name(f->pa.pattern)));
			json_object_object_add(pa, "stride",
					       f->pa.pattern == STUN_PORTS_SEQUENTIAL ? json_object_new_int(f->pa.stride) : NULL);
			for (size_t i = 0; i < f->pa.num; i++) {
				json_object *e = json_object_new_object();
				json_object_object_add(e, "local", json_object_new_int(f->pa.local[i]));
				json_object_object_add(e, "mapped", json_object_new_int(f->pa.mapped[i]));
				json_object_array_add(ports, e);
			}
			json_object_object_add(pa, "samples", ports);
		}
		json_object_object_add(o, "port_allocation", pa);
		json_object_object_add(o, "mapping_lifetime", lifetime_json(f));
	}
	json_object_object_add(o, "no_nat", json_object_new_boolean(found && d->no_nat));
	json_object_object_add(o, "rfc5780", json_object_new_boolean(r->rfc5780));
	json_object_object_add(o, "rfc5780_server",
			       r->rfc5780 ? json_object_new_string(d->servers[r->rfc5780_server].ep.text) : NULL);
	for (size_t i = 0; f->tested && i < d->num_servers; i++) {
		const struct stun_server_result *s = &d->servers[i];
		json_object *e = json_object_new_object();
		const char *err = server_error(s, text, sizeof text);
		char mapped[64];
		json_object_object_add(e, "server", json_object_new_string(s->ep.text));
		json_object_object_add(e, "ok", json_object_new_boolean(err == NULL));
		json_object_object_add(e, "rtt_ms", err ? NULL : rtt_json(s->probe.rtt_us));
		json_object_object_add(e, "error", err ? json_object_new_string(err) : NULL);
		json_object_object_add(e, "mapped",
				       err ? NULL : json_object_new_string(stun_addr_format(&s->probe.mapped, mapped, sizeof mapped)));
		json_object_object_add(e, "agrees", json_object_new_boolean(s->agrees));
		json_object_object_add(e, "rfc5780", json_object_new_boolean(!err && s->probe.has_other));
		json_object_array_add(list, e);
		if (s->agrees)
			json_object_array_add(agreed, json_object_new_string(s->ep.text));
	}
	json_object_object_add(o, "agreed_by", agreed);
	json_object_object_add(o, "stun_servers", list);
}

/* family_ok: f found its public address. */
static bool family_ok(const struct fam_job *f)
{
	return f->tested && f->r.disc.status == 0;
}

/* family_note is f's note for people: why it was not tested, or the
 * report's own note. "" when none. */
static const char *family_note(const struct fam_job *f)
{
	return !f->tested ? f->why_not : f->r.note;
}

static void print_json(const struct net_job *j, bool failed)
{
	const struct fam_job *v4 = &j->fam[FAM_V4], *v6 = &j->fam[FAM_V6];
	json_object *o = json_object_new_object();

	/* "ok": a public address was found, in either family (the exit
	 * status says the same); the top-level address fields are IPv4's. */
	json_object_object_add(o, "ok", json_object_new_boolean(!failed));
	if (failed)
		json_object_object_add(o, "error", json_object_new_string("STUN discovery failed"));
	add_family(o, v4);
	json_object *o6 = json_object_new_object();
	json_object_object_add(o6, "ok", json_object_new_boolean(family_ok(v6)));
	json_object_object_add(o6, "tested", json_object_new_boolean(v6->tested));
	add_family(o6, v6);
	if (family_note(v6)[0])
		json_object_object_add(o6, "note", json_object_new_string(family_note(v6)));
	json_object_object_add(o, "ipv6", o6);
	json_object *rl = json_object_new_array();
	for (size_t i = 0; i < j->num_relays; i++) {
		const struct relay_check *rc = &j->relays[i];
		json_object *e = json_object_new_object();
		json_object_object_add(e, "url", json_object_new_string(rc->url));
		json_object_object_add(e, "ok", json_object_new_boolean(rc->rc == 0));
		json_object_object_add(e, "rtt_ms", rc->rc ? NULL : rtt_json(rc->rtt_us));
		json_object_object_add(e, "sessions", rc->rc || rc->sessions < 0 ? NULL : json_object_new_int64(rc->sessions));
		json_object_object_add(e, "error", rc->rc ? json_object_new_string(rc->error) : NULL);
		json_object_array_add(rl, e);
	}
	json_object_object_add(o, "relays", rl);
	/* Unchecked (--no-port-mapping): null rather than three falses. */
	json_object *pm = j->pm_skipped ? NULL : json_object_new_object();
	if (pm) {
		json_object_object_add(pm, "upnp", json_object_new_boolean(j->pm.upnp));
		json_object_object_add(pm, "natpmp", json_object_new_boolean(j->pm.natpmp));
		json_object_object_add(pm, "pcp", json_object_new_boolean(j->pm.pcp));
	}
	json_object_object_add(o, "port_mapping", pm);
	if (family_note(v4)[0])
		json_object_object_add(o, "note", json_object_new_string(family_note(v4)));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void print_servers(FILE *f, const struct stun_discovery *d, const char *indent)
{
	for (size_t i = 0; i < d->num_servers; i++) {
		const struct stun_server_result *s = &d->servers[i];
		char text[96], mapped[64];
		const char *err = server_error(s, text, sizeof text);
		if (err) {
			fprintf(f, "%s  %-32s error   %s\n", indent, s->ep.text, err);
			continue;
		}
		fprintf(f, "%s  %-32s ok  %7.1f ms  sees %s%s%s\n", indent, s->ep.text, s->probe.rtt_us / 1000.0,
			stun_addr_format(&s->probe.mapped, mapped, sizeof mapped), s->agrees ? "" : "  (disagrees)",
			s->probe.has_other ? "  [RFC 5780]" : "");
	}
}

/* One line: what the default gateway offers, as `tailscale netcheck` shows. */
static void print_port_mapping(const struct net_job *j)
{
	char gw[INET_ADDRSTRLEN] = "";
	if (j->pm_skipped) {
		printf("Port mapping:     not checked (--no-port-mapping)\n");
		return;
	}
	if (j->pm_rc < 0 || !j->pm.have_gateway) {
		printf("Port mapping:     no default gateway\n");
		return;
	}
	inet_ntop(AF_INET, &(struct in_addr){.s_addr = j->pm.gateway_be}, gw, sizeof gw);
	if (!j->pm.upnp && !j->pm.natpmp && !j->pm.pcp) {
		printf("Port mapping:     none (gateway %s answers no UPnP, NAT-PMP or PCP)\n", gw);
		return;
	}
	printf("Port mapping:    %s%s%s (gateway %s)\n", j->pm.upnp ? " UPnP" : "", j->pm.natpmp ? " NAT-PMP" : "",
	       j->pm.pcp ? " PCP" : "", gw);
}

/* print_checkpoints prints " PREFIX 1, 2, 3 s" for f's checkpoints with
 * outcome want; nothing when none. Returns whether it printed. */
static bool print_checkpoints(const struct fam_job *f, enum stun_lifetime_outcome want, const char *prefix)
{
	bool any = false;
	for (size_t i = 0; i < f->num_life; i++) {
		if (f->life[i].outcome != want)
			continue;
		printf("%s %u", any ? "," : prefix, f->life[i].idle_s);
		any = true;
	}
	if (any)
		printf(" s");
	return any;
}

/* print_lifetime prints the mapping-lifetime line: the interval and the
 * checkpoints behind it, or why there is none. */
static void print_lifetime(const struct fam_job *f)
{
	const struct stun_lifetime_result *r = &f->life_r;
	char text[64];

	if (!r->measured) {
		printf("    mapping lifetime: not measured: %s (%s)\n", f->life_why, f->life_server);
		return;
	}
	printf("    mapping lifetime: %s idle (%s:", stun_lifetime_describe(r, text, sizeof text), f->life_server);
	bool alive = print_checkpoints(f, STUN_LIFETIME_ALIVE, " alive after");
	print_checkpoints(f, STUN_LIFETIME_EXPIRED, alive ? "; expired after" : " expired after");
	printf(")\n");
	if (r->num_contradicting)
		printf("      (%zu shorter checkpoint%s got no answer: lost datagrams?)\n", r->num_contradicting,
		       r->num_contradicting == 1 ? "" : "s");
}

/* print_family prints one family's section. */
static void print_family(const struct fam_job *f)
{
	const struct stun_nat_report *r = &f->r;
	const struct stun_discovery *d = &r->disc;
	char a[64];

	if (!f->tested) {
		printf("%s: not tested (%s)\n", f->name, f->why_not);
		return;
	}
	printf("%s\n", f->name);
	printf("  Local address:    %s\n", stun_addr_format(&d->local, a, sizeof a));
	if (d->status != 0) {
		printf("  Public address:   unknown (%s)\n",
		       d->status == -ENOENT ? "no STUN server name could be resolved" : "no STUN server answered");
	} else {
		printf("  Public address:   %s", stun_addr_format(&d->mapped, a, sizeof a));
		printf("  (agreed by %zu of %zu answering server%s:", d->num_agree, d->num_answered,
		       d->num_answered == 1 ? "" : "s");
		for (size_t i = 0; i < d->num_servers; i++)
			if (d->servers[i].agrees)
				printf(" %s", d->servers[i].ep.text);
		printf(")\n");
	}
	printf("  NAT type:         %s%s\n", stun_nat_type_name(r->type), r->estimated ? " (estimated)" : "");
	printf("    mapping:        %s\n", stun_nat_mapping_name(r->mapping));
	printf("    filtering:      %s\n", stun_nat_filtering_name(r->filtering));
	printf("    hairpinning:    %s\n", yes_no(r->hairpinning));
	printf("    port preserved: %s\n", yes_no(r->port_preserving));
	if (f->ports_tested) {
		printf("    port allocation: %s", stun_port_pattern_name(f->pa.pattern));
		if (f->pa.pattern == STUN_PORTS_SEQUENTIAL)
			printf(" (stride %+d)", f->pa.stride);
		printf(" (%zu fresh socket%s:", f->pa.num, f->pa.num == 1 ? "" : "s");
		for (size_t i = 0; i < f->pa.num; i++)
			printf(" %u->%u", f->pa.local[i], f->pa.mapped[i]);
		printf(")\n");
	}
	if (f->life_tested)
		print_lifetime(f);
	if (r->rfc5780)
		printf("    measured with RFC 5780 tests against %s\n", d->servers[r->rfc5780_server].ep.text);
	printf("  Internet reachability (STUN):\n");
	print_servers(stdout, d, "  ");
	if (r->note[0])
		printf("  Note: %s\n", r->note);
}

static void print_text(const struct net_job *j)
{
	for (int i = 0; i < NUM_FAMS; i++)
		print_family(&j->fam[i]);
	print_port_mapping(j);
	if (j->num_relays) {
		printf("Relays:\n");
		for (size_t i = 0; i < j->num_relays; i++) {
			const struct relay_check *rc = &j->relays[i];
			if (rc->rc)
				printf("  %-32s error   %s\n", rc->url, rc->error);
			else
				printf("  %-32s ok  %7.1f ms  (%lld sessions)\n", rc->url, rc->rtt_us / 1000.0,
				       (long long)rc->sessions);
		}
	}
}

/* print_failure gives the seed's troubleshooting for "STUN discovery failed"
 * (no family found its public address). */
static void print_failure(const struct net_job *j)
{
	bool unresolved = true;
	for (int i = 0; i < NUM_FAMS; i++)
		if (j->fam[i].tested && j->fam[i].r.disc.status != -ENOENT)
			unresolved = false;
	fprintf(stderr,
		"STUN discovery failed: %s within %.1f s.\n"
		"\n"
		"Causes:\n"
		"  - No internet connection\n"
		"  - Firewall blocking UDP port 3478/19302\n"
		"  - Behind restrictive corporate network\n"
		"\n"
		"Solutions:\n"
		"  - Check internet connection\n"
		"  - Try manual public IP: atmosphere init --public-ip <your-ip>\n"
		"  - Use relay-only mode (no P2P): atmosphere serve --relay-only\n"
		"\n"
		"Servers tried:\n",
		unresolved ? "no STUN server name could be resolved" : "no STUN server answered",
		j->o.timeout_ms / 1000.0);
	for (int i = 0; i < NUM_FAMS; i++) {
		const struct fam_job *f = &j->fam[i];
		if (f->tested)
			print_servers(stderr, &f->r.disc, "");
		else if (f->num_servers)
			fprintf(stderr, "  (%s: %s)\n", f->name, f->why_not);
	}
}

/* split_servers gives each family the servers it can ask: a name to both
 * (resolved to A for one, AAAA for the other), an address literal to its
 * own family only. */
static void split_servers(struct net_job *j)
{
	for (int k = 0; k < NUM_FAMS; k++) {
		struct fam_job *f = &j->fam[k];
		f->af = k == FAM_V4 ? AF_INET : AF_INET6;
		f->name = k == FAM_V4 ? "IPv4" : "IPv6";
		f->num_servers = 0;
		for (size_t i = 0; i < j->num_servers; i++) {
			struct in6_addr a;
			int lit = inet_pton(AF_INET, j->servers[i].host, &a) == 1    ? AF_INET
				  : inet_pton(AF_INET6, j->servers[i].host, &a) == 1 ? AF_INET6
										      : AF_UNSPEC;
			if (lit == AF_UNSPEC || lit == f->af)
				f->servers[f->num_servers++] = j->servers[i];
		}
		if (!f->num_servers)
			snprintf(f->why_not, sizeof f->why_not, "no STUN server with an %s address", f->name);
	}
}

/* collect_servers fills j->servers from --stun, else $ATMOSPHERE_STUN, else
 * the defaults. Returns 0 or an exit code. */
static int collect_servers(struct net_job *j, char **stun_args, size_t num_stun)
{
	if (num_stun > 0) {
		for (size_t i = 0; i < num_stun; i++)
			if (stun_endpoint_parse(&j->servers[i], stun_args[i], STUN_DEFAULT_PORT) != 0)
				return cli_usage_error(CMD, "--stun '%s': expected HOST[:PORT] or [IPV6]:PORT", stun_args[i]);
		j->num_servers = num_stun;
		return 0;
	}
	const char *env = getenv("ATMOSPHERE_STUN");
	if (env && *env) {
		size_t bad = 0;
		int n = stun_endpoint_parse_list(j->servers, STUN_CLIENT_MAX_SERVERS, env, &bad);
		if (n == -E2BIG)
			return cli_usage_error(CMD, "ATMOSPHERE_STUN='%s': more than %d servers", env, STUN_CLIENT_MAX_SERVERS);
		if (n < 0)
			return cli_usage_error(CMD, "ATMOSPHERE_STUN='%s': item %zu is not HOST[:PORT]", env, bad + 1);
		if (n > 0) {
			j->num_servers = (size_t)n;
			return 0;
		}
	}
	for (size_t i = 0; i < STUN_NUM_DEFAULT_SERVERS; i++)
		stun_endpoint_parse(&j->servers[i], stun_default_servers[i], STUN_DEFAULT_PORT);
	j->num_servers = STUN_NUM_DEFAULT_SERVERS;
	return 0;
}

int cli_network(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "stun", required_argument, 0, OPT_STUN },
		{ "port", required_argument, 0, OPT_PORT },
		{ "timeout", required_argument, 0, OPT_TIMEOUT },
		{ "json", no_argument, 0, OPT_JSON },
		{ "relay", required_argument, 0, OPT_RELAY },
		{ "ca-file", required_argument, 0, OPT_CA },
		{ "no-port-mapping", no_argument, 0, OPT_NO_PM },
		{ "mapping-lifetime", optional_argument, 0, OPT_LIFETIME },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	char *stun_args[STUN_CLIENT_MAX_SERVERS];
	size_t num_stun = 0;
	uint64_t v, timeout_ms = STUN_CLIENT_DEFAULT_TIMEOUT_MS;
	bool json = false, no_pm = cli_port_mapping_off();
	int c, rc;

	struct net_job *j = calloc(1, sizeof *j);
	if (!j) {
		fprintf(stderr, "atmosphere " CMD ": out of memory\n");
		return 1;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_STUN:
			if (num_stun == STUN_CLIENT_MAX_SERVERS) {
				rc = cli_usage_error(CMD, "at most %d --stun servers", STUN_CLIENT_MAX_SERVERS);
				goto out;
			}
			stun_args[num_stun++] = optarg;
			break;
		case OPT_PORT:
			if (!cli_parse_uint(CMD, "--port", optarg, 0, 65535, &v)) {
				rc = 2;
				goto out;
			}
			j->port = (uint16_t)v;
			break;
		case OPT_TIMEOUT:
			if (!cli_parse_duration(CMD, "--timeout", optarg, &timeout_ms)) {
				rc = 2;
				goto out;
			}
			if (timeout_ms < 100 || timeout_ms > 60000) {
				rc = cli_usage_error(CMD, "--timeout '%s': must be between 100ms and 60s", optarg);
				goto out;
			}
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_RELAY:
			if (j->num_relays == MAX_RELAYS) {
				rc = cli_usage_error(CMD, "at most %d --relay URLs", MAX_RELAYS);
				goto out;
			}
			if (strncmp(optarg, "ws://", 5) && strncmp(optarg, "wss://", 6)) {
				rc = cli_usage_error(CMD, "--relay '%s': expected a ws:// or wss:// URL", optarg);
				goto out;
			}
			j->relays[j->num_relays++].url = optarg;
			break;
		case OPT_CA:
			j->ca_file = optarg;
			break;
		case OPT_NO_PM:
			no_pm = true;
			break;
		case OPT_LIFETIME:
			v = (uint64_t)STUN_LIFETIME_DEFAULT_MAX_S * 1000;
			if (optarg && !cli_parse_duration(CMD, "--mapping-lifetime", optarg, &v)) {
				rc = 2;
				goto out;
			}
			if (v < 1000 || v > (uint64_t)STUN_LIFETIME_LIMIT_S * 1000) {
				rc = cli_usage_error(CMD, "--mapping-lifetime '%s': must be between 1s and 5m", optarg);
				goto out;
			}
			j->life_max_s = (unsigned)(v / 1000);
			break;
		case 'h':
			help();
			rc = 0;
			goto out;
		case ':':
			rc = cli_usage_error(CMD, "option '%s' needs a value", argv[optind - 1]);
			goto out;
		default:
			rc = cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc) {
		rc = cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	rc = collect_servers(j, stun_args, num_stun);
	if (rc)
		goto out;
	split_servers(j);
	/* Without --relay: the relays of this machine's mesh, if it has one. */
	static struct node_state st;
	if (!j->num_relays) {
		char err[256];
		node_home(st.home);
		if (node_state_load(&st, err, sizeof err) == 0)
			for (size_t i = 0; i < st.num_relays && j->num_relays < MAX_RELAYS; i++)
				j->relays[j->num_relays++].url = st.relays[i];
		node_state_wipe(&st);
	}
	j->o.timeout_ms = (unsigned)timeout_ms;
	j->o.settle_ms = -1; /* report every server's outcome */
	j->o.software = "atmosphere";

	int err = 0;
	struct core_rt_opts ro = { .num_threads = 1, .handle_signals = true, .shutdown_grace_ms = 500,
				   .stream_bufs = 16, .dgram_bufs = 64 };
	struct core_rt *rt = core_rt_new(&ro, &err);
	if (!rt) {
		fprintf(stderr, "atmosphere " CMD ": %s\n", core_rt_explain(err));
		rc = 1;
		goto out;
	}
	pthread_t pm_th;
	bool pm_started = !no_pm && pthread_create(&pm_th, NULL, probe_port_mapping, j) == 0;
	j->pm_skipped = no_pm;
	if (!pm_started)
		j->pm_rc = -EAGAIN;
	err = core_rt_run(rt, network_main, j);
	core_rt_free(rt);
	if (pm_started)
		pthread_join(pm_th, NULL);
	if (err < 0 || j->rc < 0) {
		int e = err < 0 ? err : j->rc;
		if (j->bind_failed)
			fprintf(stderr, "atmosphere " CMD ": cannot bind UDP port %u: %s%s\n", j->port, strerror(-e),
				e == -EADDRINUSE ? " (another program uses it; pick another --port)"
				: e == -EACCES ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
					       : "");
		else if (e == -ECANCELED)
			fprintf(stderr, "atmosphere " CMD ": interrupted\n");
		else
			fprintf(stderr, "atmosphere " CMD ": %s\n", strerror(-e));
		rc = 1;
		goto out;
	}
	bool failed = !family_ok(&j->fam[FAM_V4]) && !family_ok(&j->fam[FAM_V6]);
	/* A socket error on IPv4, with nothing found on IPv6: as before, the
	 * error itself (run_family kept it in rc). */
	if (failed && j->fam[FAM_V4].rc < 0 && j->fam[FAM_V4].rc != -ECANCELED) {
		fprintf(stderr, "atmosphere " CMD ": %s\n", strerror(-j->fam[FAM_V4].rc));
		rc = 1;
		goto out;
	}
	if (json)
		print_json(j, failed);
	else if (!failed)
		print_text(j);
	if (failed)
		print_failure(j);
	rc = failed ? 1 : 0;
out:
	free(j);
	return rc;
}
