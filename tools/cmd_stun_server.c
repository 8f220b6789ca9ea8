/* atmosphere stun-server: run the STUN server (stun/server.h) standalone. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/reactor.h"
#include "stun/client.h"
#include "stun/server.h"
#include "tools/cli.h"

#define CMD "stun-server"

static void help(void)
{
	printf("usage: atmosphere stun-server [OPTIONS]\n"
	       "\n"
	       "Runs a STUN server (RFC 8489): Binding requests are answered with the\n"
	       "sender's public address (XOR-MAPPED-ADDRESS). Given a second address and\n"
	       "port it also serves RFC 5780 NAT behaviour discovery (OTHER-ADDRESS,\n"
	       "RESPONSE-ORIGIN, CHANGE-REQUEST), which `atmosphere network` uses to tell\n"
	       "NAT types apart. SIGINT or SIGTERM stop it; SIGHUP prints its counters.\n"
	       "\n"
	       "Options:\n"
	       "  --host ADDR         listen address (default 0.0.0.0; \"::\" serves IPv6 and IPv4;\n"
	       "                      a specific one with --alt-host). Twice: one IPv4, one IPv6\n"
	       "  --port N            UDP port (default %u; 0 picks a free one)\n"
	       "  --alt-host ADDR     second address of this host: turns on RFC 5780. One per\n"
	       "                      --host, of its family (IPv6 alternates answer IPv6 clients)\n"
	       "  --alt-port N        second port (needed with --alt-host; 0 picks a free one)\n"
	       "  --threads N         reactor threads, each with its own sockets (default: one per CPU)\n"
	       "  --rate N            requests per second per source address (default %u; 0: no limit)\n"
	       "  --burst N           requests one source may send back to back (default %u)\n"
	       "  --software TEXT     SOFTWARE attribute (default \"atmosphere\"; \"\" for none)\n"
	       "  --json-stats        print the counters as one JSON line on stdout at exit and at SIGHUP\n"
	       "  -h, --help          this help\n"
	       "\n"
	       "It prints one line per socket, \"stun-server listening on udp ADDR:PORT (ROLE)\",\n"
	       "then serves until stopped. Examples:\n"
	       "  atmosphere stun-server --port 3478\n"
	       "  atmosphere stun-server --host 203.0.113.1 --port 3478 --alt-host 203.0.113.2 --alt-port 3479\n"
	       "  atmosphere stun-server --host 203.0.113.1 --alt-host 203.0.113.2 \\\n"
	       "                         --host 2001:db8::1 --alt-host 2001:db8::2 --port 3478 --alt-port 3479\n",
	       STUN_DEFAULT_PORT, STUN_SERVER_DEFAULT_RATE, STUN_SERVER_DEFAULT_BURST);
}

enum { OPT_HOST = 256, OPT_PORT, OPT_ALT_HOST, OPT_ALT_PORT, OPT_THREADS, OPT_RATE, OPT_BURST, OPT_SOFTWARE, OPT_JSON };

/* One server per --host (at most one per family). Read by the reactors'
 * coroutines and the SIGHUP handler coroutine. */
enum { MAX_HOSTS = 2 };
static struct stun_server *g_srvs[MAX_HOSTS];
static size_t g_num_srvs;
static bool g_json;

/* resolve_host turns --host/--alt-host into a socket address (names are
 * allowed, an IPv6 literal with or without brackets; this runs before the
 * runtime, so blocking is fine). */
static bool resolve_host(const char *opt, const char *host, uint16_t port, struct sockaddr_storage *out,
			 socklen_t *out_len)
{
	struct addrinfo hints, *res = NULL;
	char ps[8], bare[256];
	size_t len = strlen(host);

	if (len >= 2 && len - 2 < sizeof bare && host[0] == '[' && host[len - 1] == ']') {
		memcpy(bare, host + 1, len - 2);
		bare[len - 2] = 0;
		host = bare;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(ps, sizeof ps, "%u", port);
	int rc = getaddrinfo(host, ps, &hints, &res);
	if (rc != 0 || !res) {
		fprintf(stderr, "atmosphere " CMD ": %s '%s': not an address of this host (%s)\n", opt, host,
			rc ? gai_strerror(rc) : "no address");
		return false;
	}
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*out_len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

static void free_servers(void)
{
	for (size_t k = 0; k < g_num_srvs; k++) {
		stun_server_free(g_srvs[k]);
		g_srvs[k] = NULL;
	}
	g_num_srvs = 0;
}

static void print_stats(void)
{
	struct stun_server_stats st;
	memset(&st, 0, sizeof st);
	for (size_t k = 0; k < g_num_srvs; k++) {
		struct stun_server_stats one;
		stun_server_get_stats(g_srvs[k], &one);
		st.received += one.received;
		st.answered += one.answered;
		st.changed += one.changed;
		st.errors += one.errors;
		st.send_fallbacks += one.send_fallbacks;
		st.send_errors += one.send_errors;
		st.evictions += one.evictions;
		for (int i = 0; i < STUN_DROP_MAX; i++)
			st.dropped[i] += one.dropped[i];
	}
	if (g_json) {
		json_object *o = json_object_new_object(), *dropped = json_object_new_object();
		json_object_object_add(o, "received", json_object_new_int64((int64_t)st.received));
		json_object_object_add(o, "answered", json_object_new_int64((int64_t)st.answered));
		json_object_object_add(o, "changed", json_object_new_int64((int64_t)st.changed));
		json_object_object_add(o, "errors", json_object_new_int64((int64_t)st.errors));
		json_object_object_add(o, "send_fallbacks", json_object_new_int64((int64_t)st.send_fallbacks));
		json_object_object_add(o, "send_errors", json_object_new_int64((int64_t)st.send_errors));
		json_object_object_add(o, "ratelimit_evictions", json_object_new_int64((int64_t)st.evictions));
		for (int i = 0; i < STUN_DROP_MAX; i++)
			json_object_object_add(dropped, stun_drop_name(i), json_object_new_int64((int64_t)st.dropped[i]));
		json_object_object_add(o, "dropped", dropped);
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		fflush(stdout);
		json_object_put(o);
		return;
	}
	uint64_t drops = 0;
	for (int i = 0; i < STUN_DROP_MAX; i++)
		drops += st.dropped[i];
	core_log(CORE_LOG_INFO, "stun-server: %llu received, %llu answered (%llu from another address), %llu errors, "
				"%llu dropped (%llu rate-limited)",
		 (unsigned long long)st.received, (unsigned long long)st.answered, (unsigned long long)st.changed,
		 (unsigned long long)st.errors, (unsigned long long)drops,
		 (unsigned long long)st.dropped[STUN_DROP_RATE_LIMITED]);
}

static void on_hup(void *arg)
{
	(void)arg;
	print_stats();
}

static void serve_main(void *arg)
{
	(void)arg;
	int rc = 0;
	for (size_t k = 0; k < g_num_srvs && rc == 0; k++)
		rc = stun_server_start(g_srvs[k]);
	if (rc < 0) {
		core_log(CORE_LOG_ERR, "stun-server: reactor %u cannot serve: %s", core_reactor_index(core_self()),
			 strerror(-rc));
		core_rt_shutdown(core_reactor_rt(core_self()));
	}
}

static void print_listening(void)
{
	static const char *const roles[STUN_SOCK_MAX] = { "primary", "alt-port", "alt-host", "alt-host alt-port" };
	for (size_t k = 0; k < g_num_srvs; k++) {
		for (int i = 0; i < STUN_SOCK_MAX; i++) {
			struct sockaddr_storage a;
			socklen_t len;
			struct stun_addr sa;
			char text[64];
			if (stun_server_addr(g_srvs[k], (enum stun_server_sock)i, &a, &len) != 0)
				break;
			stun_addr_from_sockaddr(&sa, (struct sockaddr *)&a, len);
			/* Tests and scripts read the ports from these lines. */
			printf("stun-server listening on udp %s (%s)\n", stun_addr_format(&sa, text, sizeof text), roles[i]);
		}
	}
	fflush(stdout);
}

int cli_stun_server(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, 0, OPT_HOST },
		{ "port", required_argument, 0, OPT_PORT },
		{ "alt-host", required_argument, 0, OPT_ALT_HOST },
		{ "alt-port", required_argument, 0, OPT_ALT_PORT },
		{ "threads", required_argument, 0, OPT_THREADS },
		{ "rate", required_argument, 0, OPT_RATE },
		{ "burst", required_argument, 0, OPT_BURST },
		{ "software", required_argument, 0, OPT_SOFTWARE },
		{ "json-stats", no_argument, 0, OPT_JSON },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *hosts[MAX_HOSTS] = { "0.0.0.0" }, *alt_hosts[MAX_HOSTS] = { NULL };
	size_t num_hosts = 0, num_alt = 0;
	uint64_t port = STUN_DEFAULT_PORT, alt_port = 0, threads = 0, rate = STUN_SERVER_DEFAULT_RATE, burst = 0;
	bool have_alt_port = false;
	struct stun_server_opts o;
	int c;

	memset(&o, 0, sizeof o);
	g_json = false;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_HOST:
			if (num_hosts == MAX_HOSTS)
				return cli_usage_error(CMD, "--host: at most %d (one IPv4, one IPv6)", MAX_HOSTS);
			hosts[num_hosts++] = optarg;
			break;
		case OPT_PORT:
			if (!cli_parse_uint(CMD, "--port", optarg, 0, 65535, &port))
				return 2;
			break;
		case OPT_ALT_HOST:
			if (num_alt == MAX_HOSTS)
				return cli_usage_error(CMD, "--alt-host: at most %d (one per --host)", MAX_HOSTS);
			alt_hosts[num_alt++] = optarg;
			break;
		case OPT_ALT_PORT:
			if (!cli_parse_uint(CMD, "--alt-port", optarg, 0, 65535, &alt_port))
				return 2;
			have_alt_port = true;
			break;
		case OPT_THREADS:
			if (!cli_parse_uint(CMD, "--threads", optarg, 1, STUN_SERVER_MAX_REACTORS, &threads))
				return 2;
			break;
		case OPT_RATE:
			if (!cli_parse_uint(CMD, "--rate", optarg, 0, 1000000000, &rate))
				return 2;
			break;
		case OPT_BURST:
			if (!cli_parse_uint(CMD, "--burst", optarg, 1, 1000000000, &burst))
				return 2;
			break;
		case OPT_SOFTWARE:
			if (strlen(optarg) > STUN_SERVER_MAX_SOFTWARE)
				return cli_usage_error(CMD, "--software: at most %d bytes", STUN_SERVER_MAX_SOFTWARE);
			o.software = optarg;
			break;
		case OPT_JSON:
			g_json = true;
			break;
		case 'h':
			help();
			return 0;
		case ':':
			return cli_usage_error(CMD, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (!num_alt != !have_alt_port)
		return cli_usage_error(CMD, "RFC 5780 mode needs both --alt-host and --alt-port");
	if (num_alt && port != 0 && port == alt_port)
		return cli_usage_error(CMD, "--alt-port must differ from --port (both are %llu)", (unsigned long long)port);
	if (num_hosts == 0)
		num_hosts = 1;
	if (num_alt && num_alt != num_hosts)
		return cli_usage_error(CMD, "RFC 5780 mode needs one --alt-host per --host (%zu --host, %zu --alt-host)",
				       num_hosts, num_alt);
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n < 1 ? 1 : n > STUN_SERVER_MAX_REACTORS ? STUN_SERVER_MAX_REACTORS : (uint64_t)n;
	}
	o.num_reactors = (unsigned)threads;
	o.rate = (uint32_t)rate;
	/* Default burst: two seconds' worth (STUN_SERVER_DEFAULT_BURST for the
	 * default rate). */
	o.burst = (uint32_t)(burst ? burst : 2 * rate);

	/* Each --host is a server of its own; an --alt-host goes with the
	 * --host of its family (RFC 5780 compares addresses of one family). */
	struct stun_server_opts so[MAX_HOSTS];
	for (size_t k = 0; k < num_hosts; k++) {
		so[k] = o;
		if (!resolve_host("--host", hosts[k], (uint16_t)port, &so[k].addr, &so[k].addr_len))
			return 2;
		for (size_t m = 0; m < k; m++)
			if (so[m].addr.ss_family == so[k].addr.ss_family)
				return cli_usage_error(CMD, "--host '%s' and '%s': one address per family", hosts[m],
						       hosts[k]);
	}
	for (size_t a = 0; a < num_alt; a++) {
		struct sockaddr_storage alt;
		socklen_t alt_len;
		size_t k = 0;
		if (!resolve_host("--alt-host", alt_hosts[a], (uint16_t)alt_port, &alt, &alt_len))
			return 2;
		while (k < num_hosts && (so[k].addr.ss_family != alt.ss_family || so[k].alt_addr_len))
			k++;
		if (k == num_hosts)
			return cli_usage_error(CMD, "--alt-host '%s': no --host of its family left to pair it with",
					       alt_hosts[a]);
		so[k].alt_addr = alt;
		so[k].alt_addr_len = alt_len;
	}

	int err = 0;
	for (g_num_srvs = 0; g_num_srvs < num_hosts; g_num_srvs++) {
		const char *host = hosts[g_num_srvs];
		g_srvs[g_num_srvs] = stun_server_new(&so[g_num_srvs], &err);
		if (g_srvs[g_num_srvs])
			continue;
		if (err == -EINVAL && num_alt)
			fprintf(stderr, "atmosphere " CMD ": RFC 5780 mode needs two different, specific addresses of the "
					"same family (--host '%s' and its --alt-host) and two different ports\n",
				host);
		else
			fprintf(stderr, "atmosphere " CMD ": cannot listen on %s port %llu: %s%s\n", host,
				(unsigned long long)port, strerror(-err),
				err == -EADDRINUSE && g_num_srvs > 0
					? " (another program uses it; or '::' and '0.0.0.0' together: '::' alone serves both)"
				: err == -EADDRINUSE ? " (another program uses it; pick another --port)"
				: err == -EADDRNOTAVAIL ? " (not an address of this host)"
				: err == -EACCES ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
						 : "");
		free_servers();
		return 1;
	}
	struct core_rt_opts ro = { .num_threads = (unsigned)threads, .handle_signals = true, .on_hup = on_hup,
				   .shutdown_grace_ms = 1000 };
	struct core_rt *rt = core_rt_new(&ro, &err);
	if (!rt) {
		fprintf(stderr, "atmosphere " CMD ": %s\n", core_rt_explain(err));
		free_servers();
		return 1;
	}
	print_listening();
	core_log(CORE_LOG_INFO, "stun-server: %llu threads, %s, rate limit %s", (unsigned long long)threads,
		 num_alt ? "RFC 5780 on" : "RFC 5780 off (no --alt-host)", rate ? "on" : "off");
	int rc = core_rt_run(rt, serve_main, NULL);
	print_stats();
	core_rt_free(rt);
	free_servers();
	if (rc < 0) {
		fprintf(stderr, "atmosphere " CMD ": %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
