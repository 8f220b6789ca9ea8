/* atmosphere relay: run the WebSocket relay server. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "opt/parse.h"
#include "relay/server.h"
#include "stun/server.h"
#include <arpa/inet.h>
#include "tools/cli.h"

static void help(void)
{
	printf("usage: atmosphere relay [OPTIONS]\n"
	       "\n"
	       "Runs a relay: clients that connect to ws://HOST:PORT/relay/SESSION_ID with the\n"
	       "same id are paired and every message of one is forwarded to the other.\n"
	       "GET /health, /stats and /metrics report its state. SIGINT or SIGTERM stop it\n"
	       "gracefully (clients get Close 1001); a second signal exits at once.\n"
	       "\n"
	       "Options:\n"
	       "  --host ADDR             listen address (default 0.0.0.0)\n"
	       "  --port N                TCP port (default 8080; 0 picks a free one)\n"
	       "  --threads N             reactor threads (default: one per CPU)\n"
	       "  --max-message BYTES     largest message, over all fragments (default %u);\n"
	       "                          larger ones are refused with Close 1009\n"
	       "  --hold SIZE             bytes held for a peer that has not arrived (default %u);\n"
	       "                          beyond it the first client is not read\n"
	       "  --hold-total SIZE       bytes held over all waiting sessions (default 256M);\n"
	       "                          beyond it no waiting client is read\n"
	       "  --stuck-total SIZE      bytes kept for peers that stopped reading, over all\n"
	       "                          sessions (default 512M); beyond it such a session ends\n"
	       "                          (Close 1013)\n"
	       "  --max-sessions N        sessions at once (default %u)\n"
	       "  --max-conns-per-ip N    connections from one address (default %u)\n"
	       "  --max-handshakes N      connections still sending their HTTP request, over all\n"
	       "                          addresses (default: half the descriptor limit); beyond\n"
	       "                          it the oldest is dropped for the newcomer\n"
	       "  --rcvbuf BYTES|auto     kernel receive buffer per client socket (default 1M;\n"
	       "                          auto: the kernel's autotuning, up to tcp_rmem's maximum)\n"
	       "  --sndbuf BYTES|auto     kernel send buffer per client socket (default 1M;\n"
	       "                          auto: the kernel's autotuning, up to tcp_wmem's maximum)\n"
	       "  --handshake-timeout D   time to send the HTTP request (default 10s)\n"
	       "  --ping-interval D       WebSocket ping when a client is silent (default 30s);\n"
	       "                          no answer within another interval ends it\n"
	       "  --idle-timeout D        end a session without messages for D (default 10m)\n"
	       "  --write-timeout D       end a session whose reader stalls for D (default 60s)\n"
	       "  --hibernate-after D     a connection quiet for D waits without its stack\n"
	       "                          (default 1s: memory per idle connection against a\n"
	       "                          copy of about 600 bytes when it wakes)\n"
	       "  --tls-cert FILE         PEM certificate chain: serve wss:// (TLS 1.2 and 1.3)\n"
	       "  --tls-key FILE          its private key (PEM); SIGHUP reloads both\n"
	       "  --plain-port N          with TLS, also serve plain ws:// on port N (0: any)\n"
	       "  --stun-port N           also answer STUN Binding requests on UDP port N of --host\n"
	       "                          (so a community relay is also a STUN server)\n"
	       "  --stun-rate N           STUN requests per second per source address (default 200;\n"
	       "                          0: unlimited)\n"
	       "  --quiet                 no per-session log lines\n"
	       "  --json-log              log records as JSON lines\n"
	       "  --config FILE           read options from FILE, one 'name = value' per line\n"
	       "                          (names as above without '--'); the command line wins\n"
	       "  -h, --help              this help\n"
	       "\n"
	       "Durations: 500ms, 30s, 5m, 2h. Example:\n"
	       "  atmosphere relay --host 0.0.0.0 --port 8080\n"
	       "  curl http://localhost:8080/health\n",
	       RELAY_DEFAULT_MAX_MESSAGE, RELAY_DEFAULT_HOLD_BYTES, RELAY_DEFAULT_MAX_SESSIONS,
	       RELAY_DEFAULT_MAX_CONNS_PER_IP);
}

enum {
	OPT_HOST = 256, OPT_PORT, OPT_THREADS, OPT_MAXMSG, OPT_HOLD, OPT_HOLDTOTAL, OPT_STUCKTOTAL, OPT_MAXSESS, OPT_PERIP, OPT_MAXHS, OPT_RCVBUF, OPT_SNDBUF, OPT_HS, OPT_PING,
	OPT_IDLE, OPT_WRITE, OPT_HIBERNATE, OPT_QUIET, OPT_JSONLOG, OPT_CERT, OPT_KEY, OPT_PLAIN, OPT_STUNPORT, OPT_STUNRATE,
};

static bool ms_opt(const char *opt, const char *arg, unsigned *out)
{
	uint64_t ms;
	if (!cli_parse_duration("relay", opt, arg, &ms))
		return false;
	if (ms == 0 || ms > 7u * 86400000u) {
		fprintf(stderr, "atmosphere relay: %s '%s': must be between 1ms and 7d\n", opt, arg);
		return false;
	}
	*out = (unsigned)ms;
	return true;
}

/* A kernel socket buffer size: 4K to 1G, or "auto" (autotuning). */
static bool sockbuf_opt(const char *opt, const char *arg, uint32_t *out)
{
	uint64_t sz;
	if (!strcmp(arg, "auto")) {
		*out = RELAY_RCVBUF_AUTO;
		return true;
	}
	if (opt_parse_size(arg, 4096, 1u << 30, &sz) != 0) {
		cli_usage_error("relay", "%s '%s': expected a size from 4K to 1G, or auto", opt, arg);
		return false;
	}
	*out = (uint32_t)sz;
	return true;
}

static int relay_main(int argc, char **argv);

/* Runs in a coroutine on every relay reactor: this reactor's STUN sockets. */
static void start_stun(void *arg)
{
	int r = stun_server_start(arg);
	if (r < 0)
		core_log(CORE_LOG_ERR, "relay: STUN server: %s", strerror(-r));
}

int cli_relay(int argc, char **argv)
{
	int nargc;
	char **nargv;
	int r = cli_config_expand("relay", argc, argv, &nargc, &nargv);
	if (r)
		return r;
	r = relay_main(nargc, nargv);
	cli_config_free(nargv, argv);
	return r;
}

static int relay_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"host", required_argument, 0, OPT_HOST},
		{"port", required_argument, 0, OPT_PORT},
		{"threads", required_argument, 0, OPT_THREADS},
		{"max-message", required_argument, 0, OPT_MAXMSG},
		{"hold", required_argument, 0, OPT_HOLD},
		{"hold-total", required_argument, 0, OPT_HOLDTOTAL},
		{"stuck-total", required_argument, 0, OPT_STUCKTOTAL},
		{"max-sessions", required_argument, 0, OPT_MAXSESS},
		{"max-conns-per-ip", required_argument, 0, OPT_PERIP},
		{"max-handshakes", required_argument, 0, OPT_MAXHS},
		{"rcvbuf", required_argument, 0, OPT_RCVBUF},
		{"sndbuf", required_argument, 0, OPT_SNDBUF},
		{"handshake-timeout", required_argument, 0, OPT_HS},
		{"ping-interval", required_argument, 0, OPT_PING},
		{"idle-timeout", required_argument, 0, OPT_IDLE},
		{"write-timeout", required_argument, 0, OPT_WRITE},
		{"hibernate-after", required_argument, 0, OPT_HIBERNATE},
		{"quiet", no_argument, 0, OPT_QUIET},
		{"tls-cert", required_argument, 0, OPT_CERT},
		{"tls-key", required_argument, 0, OPT_KEY},
		{"plain-port", required_argument, 0, OPT_PLAIN},
		{"stun-port", required_argument, 0, OPT_STUNPORT},
		{"stun-rate", required_argument, 0, OPT_STUNRATE},
		{"json-log", no_argument, 0, OPT_JSONLOG},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct relay_opts o = {.port = RELAY_DEFAULT_PORT, .log_sessions = true, .handle_signals = true};
	uint64_t v;
	int stun_port = -1;
	uint32_t stun_rate = 200;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_HOST:
			o.host = optarg;
			break;
		case OPT_PORT:
			if (!cli_parse_uint("relay", "--port", optarg, 0, 65535, &v))
				return 2;
			o.port = (uint16_t)v;
			break;
		case OPT_THREADS:
			if (!cli_parse_uint("relay", "--threads", optarg, 1, 256, &v))
				return 2;
			o.threads = (unsigned)v;
			break;
		case OPT_MAXMSG:
			if (!cli_parse_uint("relay", "--max-message", optarg, 1, 1ull << 40, &v))
				return 2;
			o.max_message = v;
			break;
		case OPT_HOLD:
			if (opt_parse_size(optarg, 1, 1ull << 32, &v) != 0)
				return cli_usage_error("relay", "--hold '%s': expected a size from 1 to 4G (e.g. 65536, 64K, 1M)",
						       optarg);
			o.hold_bytes = v;
			break;
		case OPT_HOLDTOTAL:
			if (opt_parse_size(optarg, 1, 1ull << 40, &v) != 0)
				return cli_usage_error("relay", "--hold-total '%s': expected a size from 1 to 1024G (e.g. 256M)",
						       optarg);
			o.hold_total = v;
			break;
		case OPT_STUCKTOTAL:
			if (opt_parse_size(optarg, 1, 1ull << 40, &v) != 0)
				return cli_usage_error("relay", "--stuck-total '%s': expected a size from 1 to 1024G (e.g. 512M)",
						       optarg);
			o.stuck_total = v;
			break;
		case OPT_MAXSESS:
			if (!cli_parse_uint("relay", "--max-sessions", optarg, 1, 10000000, &v))
				return 2;
			o.max_sessions = (unsigned)v;
			break;
		case OPT_RCVBUF:
			if (!sockbuf_opt("--rcvbuf", optarg, &o.rcvbuf))
				return 2;
			break;
		case OPT_SNDBUF:
			if (!sockbuf_opt("--sndbuf", optarg, &o.sndbuf))
				return 2;
			break;
		case OPT_PERIP:
			if (!cli_parse_uint("relay", "--max-conns-per-ip", optarg, 1, 10000000, &v))
				return 2;
			o.max_conns_per_ip = (unsigned)v;
			break;
		case OPT_MAXHS:
			if (!cli_parse_uint("relay", "--max-handshakes", optarg, 1, 10000000, &v))
				return 2;
			o.max_handshakes = (unsigned)v;
			break;
		case OPT_HS:
			if (!ms_opt("--handshake-timeout", optarg, &o.handshake_ms))
				return 2;
			break;
		case OPT_PING:
			if (!ms_opt("--ping-interval", optarg, &o.ping_ms))
				return 2;
			break;
		case OPT_IDLE:
			if (!ms_opt("--idle-timeout", optarg, &o.idle_ms))
				return 2;
			break;
		case OPT_WRITE:
			if (!ms_opt("--write-timeout", optarg, &o.write_ms))
				return 2;
			break;
		case OPT_HIBERNATE:
			if (!ms_opt("--hibernate-after", optarg, &o.hibernate_ms))
				return 2;
			break;
		case OPT_CERT:
			o.tls_cert = optarg;
			break;
		case OPT_KEY:
			o.tls_key = optarg;
			break;
		case OPT_PLAIN:
			if (!cli_parse_uint("relay", "--plain-port", optarg, 0, 65535, &v))
				return 2;
			o.plain = true;
			o.plain_port = (uint16_t)v;
			break;
		case OPT_STUNPORT:
			if (!cli_parse_uint("relay", "--stun-port", optarg, 0, 65535, &v))
				return 2;
			stun_port = (int)v;
			break;
		case OPT_STUNRATE:
			if (!cli_parse_uint("relay", "--stun-rate", optarg, 0, 10000000, &v))
				return 2;
			stun_rate = (uint32_t)v;
			break;
		case OPT_QUIET:
			o.log_sessions = false;
			break;
		case OPT_JSONLOG:
			core_log_set_json(true);
			break;
		case 'h':
			help();
			return 0;
		case ':':
			return cli_usage_error("relay", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("relay", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("relay", "unexpected argument '%s'", argv[optind]);

	int err = 0;
	char msg[512];
	struct stun_server *stun = NULL;
	struct relay_server *srv = NULL;
	if (stun_port >= 0) {
		/* Bound before the relay starts so a port conflict fails fast. */
		struct stun_server_opts so = {.rate = stun_rate, .burst = stun_rate ? stun_rate * 2 : 0};
		struct sockaddr_in *a = (struct sockaddr_in *)&so.addr;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)stun_port);
		if (inet_pton(AF_INET, o.host ? o.host : "0.0.0.0", &a->sin_addr) != 1) {
			fprintf(stderr, "atmosphere relay: --stun-port needs an IPv4 --host, not '%s'\n", o.host);
			return 2;
		}
		so.addr_len = sizeof *a;
		so.num_reactors = o.threads ? o.threads : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
		o.threads = so.num_reactors;
		stun = stun_server_new(&so, &err);
		if (!stun) {
			fprintf(stderr, "atmosphere relay: cannot start the STUN server on UDP port %d: %s\n", stun_port,
				strerror(-err));
			return 1;
		}
		o.on_reactor_start = start_stun;
		o.on_reactor_start_arg = stun;
	}
	srv = relay_server_new(&o, &err, msg, sizeof msg);
	if (!srv) {
		fprintf(stderr, "atmosphere relay: %s\n", msg);
		stun_server_free(stun);
		return 1;
	}
	struct relay_stats lim;
	relay_server_stats(srv, &lim);
	core_log(CORE_LOG_INFO, "relay listening on %s:%u (%u threads, up to %llu connections, %llu handshakes at once)",
		 o.host ? o.host : "0.0.0.0", relay_server_port(srv), relay_server_threads(srv),
		 (unsigned long long)lim.max_connections, (unsigned long long)lim.max_handshakes);
	/* Tests and scripts read the port from here when they ask for port 0. */
	printf("relay listening on %s:%u\n", o.host ? o.host : "0.0.0.0", relay_server_port(srv));
	if (o.tls_cert)
		printf("tls on port %u%s\n", relay_server_port(srv), o.plain ? "" : " only");
	if (o.plain)
		printf("plain listening on %s:%u\n", o.host ? o.host : "0.0.0.0", relay_server_plain_port(srv));
	if (stun) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof sa;
		stun_server_addr(stun, STUN_SOCK_PRIMARY, &sa, &sl);
		printf("stun listening on %s:%u\n", o.host ? o.host : "0.0.0.0", ntohs(((struct sockaddr_in *)&sa)->sin_port));
	}
	fflush(stdout);
	int r = relay_server_run(srv);
	struct relay_stats st;
	relay_server_stats(srv, &st);
	core_log(CORE_LOG_INFO, "relay stopped: %llu sessions, %llu bytes relayed", (unsigned long long)st.total_sessions,
		 (unsigned long long)st.total_bytes_relayed);
	relay_server_free(srv);
	if (stun) {
		struct stun_server_stats ss;
		stun_server_get_stats(stun, &ss);
		core_log(CORE_LOG_INFO, "stun stopped: %llu requests answered", (unsigned long long)ss.answered);
		stun_server_free(stun);
	}
	if (r < 0) {
		fprintf(stderr, "atmosphere relay: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
