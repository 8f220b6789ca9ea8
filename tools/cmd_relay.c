/* atmosphere relay: run the WebSocket relay server. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "core/log.h"
#include "opt/parse.h"
#include "net/bssl.h"
#include "net/config.h"
#include "net/notify.h"
#include "net/resolve.h"
#include "net/stream.h"
#include "relay/budget.h"
#include "relay/cidr.h"
#include "relay/server.h"
#include "relay/ticket.h"
#include "stun/server.h"
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
	       "  --host ADDR             listen address (default 0.0.0.0; \"::\" serves IPv6 and IPv4)\n"
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
	       "  --ring-max N            receive buffers (16 KiB) a thread's ring may grow to\n"
	       "                          while busy connections wait (default 32768; 512 MiB of\n"
	       "                          address space per thread, resident only while used;\n"
	       "                          0: a fixed ring of 1024). If the address space is\n"
	       "                          refused (ulimit -v, strict overcommit) the ring stays fixed\n"
	       "  --reads fair|batched    fair (default): each busy connection is read one 16 KiB\n"
	       "                          buffer at a time, in turn (even shares at thousands of\n"
	       "                          busy sessions); batched: up to 32 at a time (less CPU\n"
	       "                          with a few busy sessions, unfair with thousands)\n"
	       "  --handshake-timeout D   time to send the HTTP request (default 10s)\n"
	       "  --ping-interval D       WebSocket ping when a client is silent (default 30s);\n"
	       "                          no answer within another interval ends it\n"
	       "  --idle-timeout D        end a session without messages for D (default 10m)\n"
	       "  --write-timeout D       end a session whose reader stalls for D (default 60s)\n"
	       "  --hibernate-after D     a connection quiet for D waits without its stack\n"
	       "                          (default 1s: memory per idle connection against a\n"
	       "                          copy of about 600 bytes when it wakes); doubled per\n"
	       "                          connection (up to 8x) whose messages wake it soon\n"
	       "                          after it hibernates, back to D after a long quiet\n"
	       "  --tls-cert FILE         PEM certificate chain: serve wss:// (TLS 1.2 and 1.3)\n"
	       "  --tls-key FILE          its private key (PEM); SIGHUP reloads both\n"
	       "  --plain-port N          with TLS, also serve plain ws:// on port N (0: any)\n"
	       "  --stun-port N           also answer STUN Binding requests on UDP port N of --host\n"
	       "                          (so a community relay is also a STUN server)\n"
	       "  --stun-rate N           STUN requests per second per source address (default 200;\n"
	       "                          0: unlimited)\n",
	       RELAY_DEFAULT_MAX_MESSAGE, RELAY_DEFAULT_HOLD_BYTES, RELAY_DEFAULT_MAX_SESSIONS,
	       RELAY_DEFAULT_MAX_CONNS_PER_IP);
	/* Quotas (docs/RELAY.md): printed apart, C17 bounds one string literal. */
	fputs("  --session-rate RATE[:BURST]\n"
	      "                          bytes per second each client of a session may send,\n"
	      "                          and BURST bytes back to back (default: one second's\n"
	      "                          worth); over it the client is not read until it is\n"
	      "                          back under (TCP slows it; nothing is dropped).\n"
	      "                          RATE: 1M, 1M/s, 512K/s:4M (binary units, 1K to 1T)\n"
	      "  --ip-rate RATE[:BURST]  the same over all clients from one address\n"
	      "  --budget BYTES/PERIOD   payload bytes the relay relays per PERIOD (month: a\n"
	      "                          calendar month, see --budget-start; hour, day, week or\n"
	      "                          a duration like 12h: on the hour, from 00:00 UTC, from\n"
	      "                          Monday); past it new sessions get 503 while open ones\n"
	      "                          go on, until the period ends. Example: 500G/month\n"
	      "  --budget-start DAY      day of the month a monthly budget's period begins,\n"
	      "                          00:00 UTC (default 1; 29-31: the month's last day when\n"
	      "                          it is shorter)\n"
	      "  --budget-state FILE     where the budget's count is kept across restarts (saved\n"
	      "                          every 10 s and at exit; a damaged file stops the start).\n"
	      "                          Default: FILE 'budget' in $STATE_DIRECTORY (systemd's\n"
	      "                          StateDirectory=, as the unit sets), else not kept\n", stdout);
	/* In two parts: C17 compilers need only take 4095-character literals. */
	fputs("  --access MODE           who may use the relay: open (default: anyone, the\n"
	       "                          seed's protocol), mesh-token (a ticket made with a\n"
	       "                          relay key, see docs/RELAY.md) or allow-list (sources\n"
	       "                          in --allow-net); /health answers everyone\n"
	       "  --relay-key-file FILE   relay keys for mesh-token, one a line (repeatable;\n"
	       "                          several keys while rotating)\n"
	       "  --allow-net CIDR        a source network for allow-list, 10.0.0.0/8 or\n"
	       "                          2001:db8::/32 (repeatable)\n"
	       "  --new-key               print a new relay key (with a comment line) and exit:\n"
	       "                          atmosphere relay --new-key > /etc/atmosphere/relay.key\n"
	       "  --trusted-proxy CIDR    a load balancer (network or address) whose word on the\n"
	       "                          client's address is taken, e.g. 10.0.0.5/32 (repeatable);\n"
	       "                          anyone else's PROXY header or X-Forwarded-For is ignored\n"
	       "  --proxy-protocol MODE   what trusted proxies send: required (default: a PROXY\n"
	       "                          v1/v2 header opens each connection, as HAProxy's\n"
	       "                          send-proxy[-v2]; none or a bad one closes it), optional\n"
	       "                          (a PROXY header, else X-Forwarded-For) or off (HTTP-mode\n"
	       "                          balancers: X-Forwarded-For)\n"
	       "  --quiet                 no per-session log lines\n"
	       "  --json-log              log records as JSON lines\n"
	       "  --config FILE           read options from FILE, one 'name = value' per line\n"
	       "                          (names as above without '--'); the command line wins\n"
	       "  --check-config FILE     check FILE as --config would read it, and the\n"
	       "                          certificate and budget state files it names; print\n"
	       "                          FILE:LINE: reason for each error; exit 0 when it is\n"
	       "                          valid, 1 when not\n"
	       "  -h, --help              this help\n"
	       "\n"
	       "Durations: 500ms, 30s, 5m, 2h. Example:\n"
	       "  atmosphere relay --host 0.0.0.0 --port 8080\n"
	       "  curl http://localhost:8080/health\n", stdout);
}

enum {
	OPT_HOST = 256, OPT_PORT, OPT_THREADS, OPT_MAXMSG, OPT_HOLD, OPT_HOLDTOTAL, OPT_STUCKTOTAL, OPT_MAXSESS, OPT_PERIP, OPT_MAXHS, OPT_RCVBUF, OPT_SNDBUF, OPT_RINGMAX, OPT_READS, OPT_HS, OPT_PING,
	OPT_IDLE, OPT_WRITE, OPT_HIBERNATE, OPT_QUIET, OPT_JSONLOG, OPT_CERT, OPT_KEY, OPT_PLAIN, OPT_STUNPORT, OPT_STUNRATE,
	OPT_SESSRATE, OPT_IPRATE, OPT_BUDGET, OPT_BUDGETSTART, OPT_BUDGETSTATE,
	OPT_ACCESS, OPT_KEYFILE, OPT_ALLOWNET,
	OPT_TRUSTPROXY, OPT_PROXYPROTO,
	OPT_CONFIG, OPT_CHECK, OPT_NEWKEY,
};

/* Every option; a config file may set all of them but the last four. */
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
	{"ring-max", required_argument, 0, OPT_RINGMAX},
	{"reads", required_argument, 0, OPT_READS},
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
	{"session-rate", required_argument, 0, OPT_SESSRATE},
	{"ip-rate", required_argument, 0, OPT_IPRATE},
	{"budget", required_argument, 0, OPT_BUDGET},
	{"budget-start", required_argument, 0, OPT_BUDGETSTART},
	{"budget-state", required_argument, 0, OPT_BUDGETSTATE},
	{"json-log", no_argument, 0, OPT_JSONLOG},
	{"access", required_argument, 0, OPT_ACCESS},
	{"relay-key-file", required_argument, 0, OPT_KEYFILE},
	{"allow-net", required_argument, 0, OPT_ALLOWNET},
	{"trusted-proxy", required_argument, 0, OPT_TRUSTPROXY},
	{"proxy-protocol", required_argument, 0, OPT_PROXYPROTO},
	{"config", required_argument, 0, OPT_CONFIG},
	{"check-config", required_argument, 0, OPT_CHECK},
	{"new-key", no_argument, 0, OPT_NEWKEY},
	{"help", no_argument, 0, 'h'},
	{0, 0, 0, 0},
};

/* Everything the options set: the server's options and what the command
 * adds around it. */
struct relay_cli {
	struct relay_opts o;
	int stun_port;              /* -1: no STUN server */
	uint32_t stun_rate;
	bool json_log;
	/* --access: the keys and networks relay_opts points at. */
	struct relay_key keys[RELAY_ACCESS_MAX_KEYS];
	struct relay_cidr allow[RELAY_ACCESS_MAX_NETS];
	struct relay_cidr trusted[RELAY_MAX_TRUSTED_PROXIES]; /* relay_opts.trusted_proxies */
	bool proxy_protocol_set;
	char state_default[4096];   /* --budget-state's default, from $STATE_DIRECTORY */
};

/* Options that may be given more than once (each adds to a list). */
static bool repeatable(int id)
{
	return id == OPT_KEYFILE || id == OPT_ALLOWNET || id == OPT_TRUSTPROXY;
}

/* Reads the relay keys of a key file into c: one key a line (as --new-key
 * prints it), blank lines and '#' comments skipped. */
static bool key_file_opt(struct relay_cli *c, const char *path, char *why, size_t why_len)
{
	char line[256];
	unsigned n = 0, found = 0;
	bool ok = true;
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(why, why_len, "'%s': cannot read it: %s", path, strerror(errno));
		return false;
	}
	while (ok && fgets(line, sizeof line, f)) {
		size_t len = strlen(line);
		n++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = 0;
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		if (c->o.num_keys == RELAY_ACCESS_MAX_KEYS) {
			snprintf(why, why_len, "'%s' line %u: more than %d keys in all", path, n, RELAY_ACCESS_MAX_KEYS);
			ok = false;
		} else if (relay_key_parse(&c->keys[c->o.num_keys], p, strlen(p)) != RELAY_TICKET_OK) {
			/* Not quoted: the line may be a damaged key. */
			snprintf(why, why_len,
				 "'%s' line %u: not a relay key (%d characters of base64url, as 'atmosphere relay --new-key' prints)",
				 path, n, RELAY_KEY_TEXT_LEN);
			ok = false;
		} else {
			c->o.num_keys++;
			found++;
		}
	}
	OPENSSL_cleanse(line, sizeof line);
	fclose(f);
	if (ok && !found) {
		snprintf(why, why_len, "'%s': no relay key in it (make one with 'atmosphere relay --new-key')", path);
		ok = false;
	}
	return ok;
}

/* The access options that only go with one mode: NULL, or what is wrong
 * and *opt the option to blame. */
static const char *access_conflict(const struct relay_cli *c, const char **opt)
{
	const struct relay_opts *o = &c->o;
	*opt = "access";
	if (o->access == RELAY_ACCESS_MESH_TOKEN && !o->num_keys)
		return "'access = mesh-token' needs a relay key: add 'relay-key-file' (make one with 'atmosphere relay --new-key')";
	if (o->access == RELAY_ACCESS_ALLOW_LIST && !o->num_allow)
		return "'access = allow-list' needs at least one 'allow-net'";
	*opt = "relay-key-file";
	if (o->access != RELAY_ACCESS_MESH_TOKEN && o->num_keys)
		return "'relay-key-file' only makes sense with 'access = mesh-token'";
	*opt = "allow-net";
	if (o->access != RELAY_ACCESS_ALLOW_LIST && o->num_allow)
		return "'allow-net' only makes sense with 'access = allow-list'";
	return NULL;
}

/* The budget options that need --budget (and a monthly one): NULL, or
 * what is wrong and *opt the option to blame. */
static const char *budget_conflict(const struct relay_cli *c, const char **opt)
{
	const struct relay_opts *o = &c->o;
	*opt = "budget-start";
	if (o->budget_start_day && !o->budget_monthly)
		return "'budget-start' only makes sense with a monthly 'budget' (BYTES/month)";
	*opt = "budget-state";
	if (o->budget_state && !o->budget_bytes)
		return "'budget-state' only makes sense with 'budget'";
	return NULL;
}

/* --new-key: a fresh relay key, as a key file. */
static int new_key(void)
{
	uint8_t secret[RELAY_KEY_LEN];
	struct relay_key k;
	char text[RELAY_KEY_TEXT_LEN + 1], id[2 * RELAY_KEY_ID_LEN + 1], when[32];
	time_t now = time(NULL);
	struct tm tm;
	RAND_bytes(secret, sizeof secret);
	relay_key_init(&k, secret);
	relay_key_format(text, &k);
	relay_key_id_hex(id, k.id);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	printf("# atmosphere relay key %s, made %s\n%s\n", id, when, text);
	OPENSSL_cleanse(secret, sizeof secret);
	OPENSSL_cleanse(text, sizeof text);
	relay_key_cleanup(&k);
	return fflush(stdout) == 0 ? 0 : 1;
}

static bool uint_opt(const char *arg, uint64_t min, uint64_t max, uint64_t *out, char *why, size_t why_len)
{
	if (opt_parse_uint(arg, min, max, out) == 0)
		return true;
	snprintf(why, why_len, "'%s': expected a whole number from %llu to %llu", arg, (unsigned long long)min,
		 (unsigned long long)max);
	return false;
}

static bool ms_opt(const char *arg, unsigned *out, char *why, size_t why_len)
{
	uint64_t ms;
	int r = opt_parse_duration_ms(arg, 1, 7u * 86400000u, &ms);
	if (r == -ERANGE)
		snprintf(why, why_len, "'%s': must be between 1ms and 7d", arg);
	else if (r)
		snprintf(why, why_len, "'%s': expected a duration such as 500ms, 30s, 5m, 24h or 7d", arg);
	else
		*out = (unsigned)ms;
	return r == 0;
}

static bool size_opt(const char *arg, uint64_t min, uint64_t max, const char *range, uint64_t *out, char *why,
		     size_t why_len)
{
	if (opt_parse_size(arg, min, max, out) == 0)
		return true;
	snprintf(why, why_len, "'%s': expected a size from %s", arg, range);
	return false;
}

/* A kernel socket buffer size: 4K to 1G, or "auto" (autotuning). */
static bool sockbuf_opt(const char *arg, uint32_t *out, char *why, size_t why_len)
{
	uint64_t sz;
	if (!strcmp(arg, "auto")) {
		*out = RELAY_RCVBUF_AUTO;
		return true;
	}
	if (!size_opt(arg, 4096, 1u << 30, "4K to 1G, or auto", &sz, why, why_len))
		return false;
	*out = (uint32_t)sz;
	return true;
}

/* A bandwidth RATE[/s][:BURST] (opt/parse.h), 1K to 1T bytes a second. */
static bool rate_opt(const char *arg, uint64_t *rate, uint64_t *burst, char *why, size_t why_len)
{
	int r = opt_parse_rate(arg, 1024, 1ull << 40, rate, burst);
	if (r == -ERANGE)
		snprintf(why, why_len, "'%s': rate and burst must be between 1K and 1T bytes", arg);
	else if (r)
		snprintf(why, why_len, "'%s': expected bytes per second with an optional burst, such as 1M, 512K/s or 1M/s:4M",
			 arg);
	return r == 0;
}

/* set_opt applies option id (value arg, NULL for a flag) to c: true, or
 * false with the reason, quoting arg, in why. The caller names the option
 * and where it came from. */
static bool set_opt(struct relay_cli *c, int id, const char *arg, char *why, size_t why_len)
{
	struct relay_opts *o = &c->o;
	uint64_t v;
	switch (id) {
	case OPT_HOST:
		if (!arg[0]) {
			snprintf(why, why_len, "'': expected an address such as 0.0.0.0, :: or 127.0.0.1");
			return false;
		}
		o->host = arg;
		return true;
	case OPT_PORT:
		if (!uint_opt(arg, 0, 65535, &v, why, why_len))
			return false;
		o->port = (uint16_t)v;
		return true;
	case OPT_THREADS:
		if (!uint_opt(arg, 1, 256, &v, why, why_len))
			return false;
		o->threads = (unsigned)v;
		return true;
	case OPT_MAXMSG:
		if (!uint_opt(arg, 1, 1ull << 40, &v, why, why_len))
			return false;
		o->max_message = v;
		return true;
	case OPT_HOLD:
		return size_opt(arg, 1, 1ull << 32, "1 to 4G (e.g. 65536, 64K, 1M)", &o->hold_bytes, why, why_len);
	case OPT_HOLDTOTAL:
		return size_opt(arg, 1, 1ull << 40, "1 to 1024G (e.g. 256M)", &o->hold_total, why, why_len);
	case OPT_STUCKTOTAL:
		return size_opt(arg, 1, 1ull << 40, "1 to 1024G (e.g. 512M)", &o->stuck_total, why, why_len);
	case OPT_MAXSESS:
		if (!uint_opt(arg, 1, 10000000, &v, why, why_len))
			return false;
		o->max_sessions = (unsigned)v;
		return true;
	case OPT_PERIP:
		if (!uint_opt(arg, 1, 10000000, &v, why, why_len))
			return false;
		o->max_conns_per_ip = (unsigned)v;
		return true;
	case OPT_MAXHS:
		if (!uint_opt(arg, 1, 10000000, &v, why, why_len))
			return false;
		o->max_handshakes = (unsigned)v;
		return true;
	case OPT_RCVBUF:
		return sockbuf_opt(arg, &o->rcvbuf, why, why_len);
	case OPT_SNDBUF:
		return sockbuf_opt(arg, &o->sndbuf, why, why_len);
	case OPT_RINGMAX:
		if (!uint_opt(arg, 0, RELAY_DEFAULT_STREAM_BUFS_MAX, &v, why, why_len))
			return false;
		o->ring_max = v ? (unsigned)v : RELAY_RING_FIXED;
		return true;
	case OPT_READS:
		if (strcmp(arg, "fair") && strcmp(arg, "batched")) {
			snprintf(why, why_len, "'%s': want fair or batched", arg);
			return false;
		}
		o->batched_reads = !strcmp(arg, "batched");
		return true;
	case OPT_HS:
		return ms_opt(arg, &o->handshake_ms, why, why_len);
	case OPT_PING:
		return ms_opt(arg, &o->ping_ms, why, why_len);
	case OPT_IDLE:
		return ms_opt(arg, &o->idle_ms, why, why_len);
	case OPT_WRITE:
		return ms_opt(arg, &o->write_ms, why, why_len);
	case OPT_HIBERNATE:
		return ms_opt(arg, &o->hibernate_ms, why, why_len);
	case OPT_CERT:
	case OPT_KEY:
		if (!arg[0]) {
			snprintf(why, why_len, "'': expected a file name");
			return false;
		}
		*(id == OPT_CERT ? &o->tls_cert : &o->tls_key) = arg;
		return true;
	case OPT_PLAIN:
		if (!uint_opt(arg, 0, 65535, &v, why, why_len))
			return false;
		o->plain = true;
		o->plain_port = (uint16_t)v;
		return true;
	case OPT_STUNPORT:
		if (!uint_opt(arg, 0, 65535, &v, why, why_len))
			return false;
		c->stun_port = (int)v;
		return true;
	case OPT_STUNRATE:
		if (!uint_opt(arg, 0, 10000000, &v, why, why_len))
			return false;
		c->stun_rate = (uint32_t)v;
		return true;
	case OPT_SESSRATE:
		return rate_opt(arg, &o->session_rate, &o->session_burst, why, why_len);
	case OPT_IPRATE:
		return rate_opt(arg, &o->ip_rate, &o->ip_burst, why, why_len);
	case OPT_BUDGET: {
		int r = opt_parse_budget(arg, 1024, 1ull << 60, &o->budget_bytes, &o->budget_period_s);
		if (r == -ERANGE)
			snprintf(why, why_len, "'%s': bytes must be between 1K and 1048576T, the period between 1s and 366d", arg);
		else if (r)
			snprintf(why, why_len, "'%s': expected BYTES/PERIOD such as 500G/month, 1T/30d or 10G/day", arg);
		/* "month" is the calendar's (relay/budget.h); "30d" stays 30 days. */
		const char *slash = strrchr(arg, '/');
		o->budget_monthly = r == 0 && slash && !strcmp(slash + 1, "month");
		return r == 0;
	}
	case OPT_BUDGETSTART:
		if (!uint_opt(arg, 1, 31, &v, why, why_len))
			return false;
		o->budget_start_day = (unsigned)v;
		return true;
	case OPT_BUDGETSTATE:
		if (!arg[0]) {
			snprintf(why, why_len, "'': expected a file name");
			return false;
		}
		o->budget_state = arg;
		return true;
	case OPT_QUIET:
		o->log_sessions = false;
		return true;
	case OPT_JSONLOG:
		c->json_log = true;
		return true;
	case OPT_ACCESS:
		if (!strcmp(arg, "open"))
			o->access = RELAY_ACCESS_OPEN;
		else if (!strcmp(arg, "mesh-token"))
			o->access = RELAY_ACCESS_MESH_TOKEN;
		else if (!strcmp(arg, "allow-list"))
			o->access = RELAY_ACCESS_ALLOW_LIST;
		else {
			snprintf(why, why_len, "'%s': expected open, mesh-token or allow-list", arg);
			return false;
		}
		return true;
	case OPT_KEYFILE:
		if (!arg[0]) {
			snprintf(why, why_len, "'': expected a file name");
			return false;
		}
		o->keys = c->keys;
		return key_file_opt(c, arg, why, why_len);
	case OPT_ALLOWNET:
		if (o->num_allow == RELAY_ACCESS_MAX_NETS) {
			snprintf(why, why_len, "'%s': more than %d networks in all", arg, RELAY_ACCESS_MAX_NETS);
			return false;
		}
		if (relay_cidr_parse(&c->allow[o->num_allow], arg, strlen(arg)) != 0) {
			snprintf(why, why_len,
				 "'%s': expected a network such as 10.0.0.0/8, 192.0.2.7, 2001:db8::/32 (no host bits past the prefix)",
				 arg);
			return false;
		}
		o->allow = c->allow;
		o->num_allow++;
		return true;
	case OPT_TRUSTPROXY:
		if (o->num_trusted_proxies == RELAY_MAX_TRUSTED_PROXIES) {
			snprintf(why, why_len, "'%s': more than %d trusted proxies", arg, RELAY_MAX_TRUSTED_PROXIES);
			return false;
		}
		if (relay_cidr_parse(&c->trusted[o->num_trusted_proxies], arg, strlen(arg)) != 0) {
			snprintf(why, why_len,
				 "'%s': expected an address or network such as 10.0.0.5, 10.0.0.0/24 or 2001:db8::/64 "
				 "(no bits set past the prefix)", arg);
			return false;
		}
		o->trusted_proxies = c->trusted;
		o->num_trusted_proxies++;
		return true;
	case OPT_PROXYPROTO:
		if (!strcmp(arg, "required"))
			o->proxy_protocol = RELAY_PROXY_HEADER_REQUIRED;
		else if (!strcmp(arg, "optional"))
			o->proxy_protocol = RELAY_PROXY_HEADER_OPTIONAL;
		else if (!strcmp(arg, "off"))
			o->proxy_protocol = RELAY_PROXY_HEADER_OFF;
		else {
			snprintf(why, why_len, "'%s': expected required, optional or off", arg);
			return false;
		}
		c->proxy_protocol_set = true;
		return true;
	default:
		snprintf(why, why_len, "not an option of this command");
		return false;
	}
}

static const struct option *find_opt(const char *name)
{
	for (const struct option *p = longopts; p->name; p++)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

/* A config file's errors, printed in line order once the file was read
 * (syntax errors are found before the options are looked at). */
struct config_error {
	unsigned line;                  /* 0: the whole file */
	char msg[320];
};

struct config_errors {
	const char *path;
	size_t num;
	struct config_error e[NET_CONFIG_MAX_ENTRIES + NET_CONFIG_MAX_ERRORS + 8];
};

static void config_error(struct config_errors *errs, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void config_error(struct config_errors *errs, unsigned line, const char *fmt, ...)
{
	va_list ap;
	if (errs->num == sizeof errs->e / sizeof errs->e[0])
		return;
	errs->e[errs->num].line = line;
	va_start(ap, fmt);
	vsnprintf(errs->e[errs->num].msg, sizeof errs->e[0].msg, fmt, ap);
	va_end(ap);
	errs->num++;
}

/* Prints "FILE:LINE: reason" lines by line (insertion sort: stable, and
 * the list is short); returns how many. */
static int config_errors_print(struct config_errors *errs)
{
	for (size_t i = 1; i < errs->num; i++)
		for (size_t j = i; j > 0 && errs->e[j - 1].line > errs->e[j].line; j--) {
			struct config_error t = errs->e[j];
			errs->e[j] = errs->e[j - 1];
			errs->e[j - 1] = t;
		}
	for (size_t i = 0; i < errs->num; i++)
		if (errs->e[i].line)
			fprintf(stderr, "%s:%u: %s\n", errs->path, errs->e[i].line, errs->e[i].msg);
		else
			fprintf(stderr, "%s: %s\n", errs->path, errs->e[i].msg);
	return (int)errs->num;
}

/* The option a mistyped name most likely meant (edit distance at most 2),
 * or NULL. */
static const char *nearest_opt(const char *name)
{
	const char *best = NULL;
	size_t best_d = 3, n = strlen(name);
	if (n > NET_CONFIG_MAX_NAME)
		return NULL;
	for (const struct option *p = longopts; p->name; p++) {
		size_t m = strlen(p->name), prev[NET_CONFIG_MAX_NAME + 2], cur[NET_CONFIG_MAX_NAME + 2];
		if (m > NET_CONFIG_MAX_NAME || p->val == 'h' || p->val == OPT_CONFIG || p->val == OPT_CHECK ||
		    p->val == OPT_NEWKEY)
			continue;
		for (size_t j = 0; j <= m; j++)
			prev[j] = j;
		for (size_t i = 1; i <= n; i++) {
			cur[0] = i;
			for (size_t j = 1; j <= m; j++) {
				size_t sub = prev[j - 1] + (name[i - 1] != p->name[j - 1]);
				size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
				cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
			}
			memcpy(prev, cur, sizeof cur);
		}
		if (prev[m] < best_d) {
			best_d = prev[m];
			best = p->name;
		}
	}
	return best;
}

/* The config line that set option name, or 0 (set on the command line). */
static unsigned line_of(const struct net_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->num_entries; i++)
		if (!strcmp(cfg->entries[i].name, name))
			return cfg->entries[i].line;
	return 0;
}

/* The budget state file a relay with these options would read at start,
 * checked as it would check it: NULL when it would start (a missing file
 * too: a new count), else the reason in why. */
static const char *check_budget_state(const char *path, char *why, size_t why_len)
{
	uint8_t buf[RELAY_BUDGET_STATE_MAX + 1];
	size_t len = 0;
	ssize_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return NULL;
		snprintf(why, why_len, "cannot read it: %s", strerror(errno));
		return why;
	}
	while (len < sizeof buf && ((got = read(fd, buf + len, sizeof buf - len)) > 0 || (got < 0 && errno == EINTR)))
		if (got > 0)
			len += (size_t)got;
	int e = errno;
	close(fd);
	if (got < 0) {
		snprintf(why, why_len, "cannot read it: %s", strerror(e));
		return why;
	}
	struct relay_budget_state st;
	unsigned line;
	int r = relay_budget_state_parse(&st, &line, buf, len);
	if (r == RELAY_BUDGET_OK)
		return NULL;
	if (line)
		snprintf(why, why_len, "line %u: %s", line, relay_budget_strerror(r));
	else
		snprintf(why, why_len, "%s", relay_budget_strerror(r));
	return why;
}

/* check_together checks what no single option shows: pairs that go
 * together, an address that resolves, certificate files that load (as the
 * relay would at start). Each error is recorded against the line of the
 * option concerned. */
static void check_together(const struct relay_cli *c, const struct net_config *cfg, struct config_errors *errs)
{
	const struct relay_opts *o = &c->o;
	struct sockaddr_storage addr;
	socklen_t alen;
	char msg[512];
	if (!!o->tls_cert != !!o->tls_key) {
		const char *set = o->tls_cert ? "tls-cert" : "tls-key";
		config_error(errs, line_of(cfg, set), "'%s' without '%s': they go together", set,
			     o->tls_cert ? "tls-key" : "tls-cert");
	} else if (o->tls_cert) {
		struct net_tls_ctx *t = net_tls_server_ctx_new(o->tls_cert, o->tls_key, msg, sizeof msg);
		if (!t)
			config_error(errs, line_of(cfg, "tls-cert"), "%s", msg);
		net_tls_ctx_free(t);
	}
	if (o->plain && !o->tls_cert)
		config_error(errs, line_of(cfg, "plain-port"),
			     "'plain-port' only makes sense with 'tls-cert' and 'tls-key' (the main port is already plain)");
	if (o->host && net_resolve_now(o->host, 0, SOCK_STREAM, true, &addr, &alen, msg, sizeof msg) != 0)
		config_error(errs, line_of(cfg, "host"), "host %s", msg);
	const char *blame, *conflict = access_conflict(c, &blame);
	if (conflict)
		config_error(errs, line_of(cfg, blame), "%s", conflict);
	if ((conflict = budget_conflict(c, &blame)) != NULL)
		config_error(errs, line_of(cfg, blame), "%s", conflict);
	else if (o->budget_bytes && o->budget_state && check_budget_state(o->budget_state, msg, sizeof msg))
		config_error(errs, line_of(cfg, "budget-state"),
			     "budget-state '%.200s': %.200s (the relay would not start: restore the file, or move it away to "
			     "count the period from 0)",
			     o->budget_state, msg);
	if (c->proxy_protocol_set && !o->num_trusted_proxies)
		config_error(errs, line_of(cfg, "proxy-protocol"),
			     "'proxy-protocol' only makes sense with 'trusted-proxy' (whose PROXY headers to read)");
}

/* apply_config reads FILE into c: every line checked, every error printed
 * (in line order) as "FILE:LINE: reason" (syntax, unknown option, a flag given a value or an
 * option none, an empty or bad value, an option set twice), then, when
 * together (--check-config: the file alone is the whole configuration),
 * the options together (check_together). Returns the number of errors printed
 * (0: c holds the file's settings, whose strings live in *cfg). */
static int apply_config(struct relay_cli *c, const char *path, bool together, struct net_config *cfg,
			struct config_errors *errs)
{
	int r = net_config_load(cfg, path);
	errs->path = path;
	errs->num = 0;
	if (r == NET_CONFIG_E_IO) {
		config_error(errs, 0, "cannot read it: %s", strerror(errno));
		return config_errors_print(errs);
	}
	for (size_t i = 0; i < cfg->num_errors; i++)
		config_error(errs, cfg->errors[i].line, "%s", net_config_strerror(cfg->errors[i].status));
	for (size_t i = 0; i < cfg->num_entries; i++) {
		const struct net_config_entry *e = &cfg->entries[i];
		const struct option *opt = find_opt(e->name);
		char why[256];
		if (opt && (opt->val == 'h' || opt->val == OPT_CONFIG || opt->val == OPT_CHECK || opt->val == OPT_NEWKEY)) {
			config_error(errs, e->line, "'%s' cannot be set in a config file", e->name);
			continue;
		}
		if (!opt) {
			const char *near = nearest_opt(e->name);
			if (near)
				config_error(errs, e->line, "unknown option '%s' (did you mean '%s'?)", e->name, near);
			else
				config_error(errs, e->line,
					     "unknown option '%s' (the options are those of 'atmosphere relay --help', without '--')",
					     e->name);
			continue;
		}
		size_t j = 0;
		while (j < i && strcmp(cfg->entries[j].name, e->name))
			j++;
		if (j < i && !repeatable(opt->val))
			config_error(errs, e->line, "'%s' is already set on line %u", e->name, cfg->entries[j].line);
		else if (opt->has_arg == no_argument && e->has_value)
			config_error(errs, e->line, "'%s' is a flag and takes no value: write '%s' alone", e->name, e->name);
		else if (opt->has_arg == required_argument && !e->has_value)
			config_error(errs, e->line, "'%s' needs a value: '%s = VALUE'", e->name, e->name);
		else if (!set_opt(c, opt->val, e->has_value ? e->value : NULL, why, sizeof why))
			config_error(errs, e->line, "%s %s", e->name, why);
	}
	if (!errs->num && together)
		check_together(c, cfg, errs);
	return config_errors_print(errs);
}

static int relay_run(struct relay_cli *c);

/* systemd's view of the relay (Type=notify, WatchdogSec=): the relay's life
 * events as notifications. status is set before the relay runs. */
struct supervisor {
	struct net_notify n;
	char status[160];
};

static void on_event(void *arg, enum relay_event ev)
{
	struct supervisor *sv = arg;
	char m[256];
	struct timespec ts;
	switch (ev) {
	case RELAY_EVENT_READY:
		snprintf(m, sizeof m, "READY=1\nSTATUS=%s", sv->status);
		break;
	case RELAY_EVENT_RELOADING:
		/* systemd 253's Type=notify-reload wants the time of the request. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		snprintf(m, sizeof m, "RELOADING=1\nMONOTONIC_USEC=%llu",
			 (unsigned long long)ts.tv_sec * 1000000u + (unsigned long long)ts.tv_nsec / 1000u);
		break;
	case RELAY_EVENT_STOPPING:
		snprintf(m, sizeof m, "STOPPING=1\nSTATUS=stopping: saying goodbye to clients");
		break;
	case RELAY_EVENT_ALIVE:
		snprintf(m, sizeof m, "WATCHDOG=1");
		break;
	default:
		return;
	}
	int r = net_notify_send(&sv->n, m);
	if (r < 0 && ev != RELAY_EVENT_ALIVE)
		core_log(CORE_LOG_WARN, "relay: cannot notify systemd: %s", strerror(-r));
}

/* Runs in a coroutine on every relay reactor: this reactor's STUN sockets. */
static void start_stun(void *arg)
{
	int r = stun_server_start(arg);
	if (r < 0)
		core_log(CORE_LOG_ERR, "relay: STUN server: %s", strerror(-r));
}

int cli_relay(int argc, char **argv)
{
	/* The options as given, applied after the config file's (so they win). */
	struct given {
		int id;
		const char *arg;
	} *given = calloc((size_t)argc + 1, sizeof *given);
	struct relay_cli c = {.o = {.port = RELAY_DEFAULT_PORT, .log_sessions = true, .handle_signals = true},
			      .stun_port = -1, .stun_rate = 200};
	const char *config = NULL, *check = NULL;
	static struct net_config cfg; /* 130 KiB: not on the stack */
	static struct config_errors errs;
	int num_given = 0, ch, ret = 2;
	bool new_key_wanted = false;
	char why[256];

	if (!given) {
		fprintf(stderr, "atmosphere relay: out of memory\n");
		return 1;
	}
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			help();
			ret = 0;
			goto out;
		case ':':
			ret = cli_usage_error("relay", "option '%s' needs a value", argv[optind - 1]);
			goto out;
		case '?':
			ret = cli_usage_error("relay", "unknown option '%s'", argv[optind - 1]);
			goto out;
		case OPT_CONFIG:
			config = optarg;
			break;
		case OPT_CHECK:
			check = optarg;
			break;
		case OPT_NEWKEY:
			new_key_wanted = true;
			break;
		default:
			given[num_given++] = (struct given){ch, optarg};
		}
	}
	if (optind < argc) {
		ret = cli_usage_error("relay", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (new_key_wanted) {
		if (config || check || num_given) {
			ret = cli_usage_error("relay", "--new-key takes no other option");
			goto out;
		}
		ret = new_key();
		goto out;
	}
	if (check) {
		/* --check-config FILE: the file alone, as the relay would read it. */
		if (config || num_given) {
			ret = cli_usage_error("relay", "--check-config takes a file and no other option");
			goto out;
		}
		int errors = apply_config(&c, check, true, &cfg, &errs);
		if (errors)
			fprintf(stderr, "atmosphere relay: %s: %d error%s\n", check, errors, errors == 1 ? "" : "s");
		else
			printf("%s: ok\n", check);
		ret = errors ? 1 : 0;
		goto out;
	}
	if (config && apply_config(&c, config, false, &cfg, &errs)) {
		fprintf(stderr, "atmosphere relay: %s: not started (check it with 'atmosphere relay --check-config %s')\n",
			config, config);
		goto out;
	}
	for (int i = 0; i < num_given; i++) {
		const struct option *opt = longopts;
		while (opt->val != given[i].id)
			opt++;
		if (!set_opt(&c, given[i].id, given[i].arg, why, sizeof why)) {
			ret = cli_usage_error("relay", "--%s %s", opt->name, why);
			goto out;
		}
	}
	const char *blame, *conflict = access_conflict(&c, &blame);
	if (conflict || (conflict = budget_conflict(&c, &blame)) != NULL) {
		ret = cli_usage_error("relay", "%s", conflict);
		goto out;
	}
	/* Under systemd's StateDirectory= the budget is kept there unless
	 * --budget-state says otherwise (the first directory when it lists
	 * several). */
	const char *sd = getenv("STATE_DIRECTORY");
	if (c.o.budget_bytes && !c.o.budget_state && sd && sd[0] == '/') {
		size_t dl = strcspn(sd, ":");
		if (dl + sizeof "/budget" <= sizeof c.state_default) {
			memcpy(c.state_default, sd, dl);
			memcpy(c.state_default + dl, "/budget", sizeof "/budget");
			c.o.budget_state = c.state_default;
		}
	}
	if (c.json_log)
		core_log_set_json(true);
	ret = relay_run(&c);
out:
	free(given);
	for (size_t i = 0; i < RELAY_ACCESS_MAX_KEYS; i++)
		relay_key_cleanup(&c.keys[i]);
	return ret;
}

static int relay_run(struct relay_cli *c)
{
	struct relay_opts o = c->o;
	int stun_port = c->stun_port;
	uint32_t stun_rate = c->stun_rate;
	int err = 0;
	char msg[512];
	struct stun_server *stun = NULL;
	struct relay_server *srv = NULL;
	if (stun_port >= 0) {
		/* Bound before the relay starts so a port conflict fails fast.
		 * The relay's --host, either family: on "::" the STUN server is
		 * dual-stack too and answers IPv4 clients as IPv4. */
		struct stun_server_opts so = {.rate = stun_rate, .burst = stun_rate ? stun_rate * 2 : 0};
		if (net_resolve_now(o.host ? o.host : "0.0.0.0", (uint16_t)stun_port, SOCK_DGRAM, true, &so.addr,
				    &so.addr_len, msg, sizeof msg) != 0) {
			fprintf(stderr, "atmosphere relay: --host: %s\n", msg);
			return 2;
		}
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
	/* Under systemd (Type=notify): READY=1 once every reactor accepts,
	 * WATCHDOG=1 from the reactors while they all turn (every third of
	 * WatchdogSec=, so one late round is not yet fatal), STOPPING=1 and
	 * RELOADING=1 on the signals. */
	static struct supervisor sv;
	int nr = net_notify_init(&sv.n, NULL);
	if (nr < 0)
		core_log(CORE_LOG_WARN, "relay: NOTIFY_SOCKET '%s': %s: not notifying systemd", getenv("NOTIFY_SOCKET"),
			 strerror(-nr));
	if (nr > 0) {
		uint64_t wd = net_notify_watchdog_usec();
		o.on_event = on_event;
		o.on_event_arg = &sv;
		if (wd)
			o.alive_ms = wd / 3000 > 0 ? (wd / 3000 < UINT32_MAX ? (unsigned)(wd / 3000) : UINT32_MAX) : 1;
	}
	srv = relay_server_new(&o, &err, msg, sizeof msg);
	if (!srv) {
		fprintf(stderr, "atmosphere relay: %s\n", msg);
		stun_server_free(stun);
		net_notify_cleanup(&sv.n);
		return 1;
	}
	struct relay_stats lim;
	relay_server_stats(srv, &lim);
	if (o.session_rate || o.ip_rate || o.budget_bytes) {
		char per[64];
		if (o.budget_monthly)
			snprintf(per, sizeof per, "month from day %u", o.budget_start_day ? o.budget_start_day : 1);
		else
			snprintf(per, sizeof per, "%llu s", (unsigned long long)o.budget_period_s);
		core_log(CORE_LOG_INFO,
			 "relay quotas: session %llu B/s (burst %llu), address %llu B/s (burst %llu), budget %llu B per %s "
			 "(0: none), kept in %s",
			 (unsigned long long)o.session_rate, (unsigned long long)(o.session_burst ? o.session_burst : o.session_rate),
			 (unsigned long long)o.ip_rate, (unsigned long long)(o.ip_burst ? o.ip_burst : o.ip_rate),
			 (unsigned long long)o.budget_bytes, per, o.budget_state ? o.budget_state : "memory only");
	}
	core_log(CORE_LOG_INFO, "relay listening on %s:%u (%u threads, up to %llu connections, %llu handshakes at once)",
		 o.host ? o.host : "0.0.0.0", relay_server_port(srv), relay_server_threads(srv),
		 (unsigned long long)lim.max_connections, (unsigned long long)lim.max_handshakes);
	if (o.access == RELAY_ACCESS_MESH_TOKEN) {
		char ids[RELAY_ACCESS_MAX_KEYS * 10 + 1] = "", id[2 * RELAY_KEY_ID_LEN + 1];
		for (size_t i = 0; i < o.num_keys; i++) {
			relay_key_id_hex(id, o.keys[i].id);
			snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%s", i ? ", " : "", id);
		}
		core_log(CORE_LOG_INFO, "relay access: mesh-token, %zu key%s (%s)", o.num_keys, o.num_keys == 1 ? "" : "s", ids);
	} else if (o.access == RELAY_ACCESS_ALLOW_LIST) {
		char net[RELAY_CIDR_MAX_TEXT];
		core_log(CORE_LOG_INFO, "relay access: allow-list, %zu network%s (%s%s)", o.num_allow,
			 o.num_allow == 1 ? "" : "s", relay_cidr_format(&o.allow[0], net), o.num_allow > 1 ? ", ..." : "");
	}
	/* Tests and scripts read the port from here when they ask for port 0:
	 * "HOST:PORT", an IPv6 host in brackets ("[::]:8080"). */
	const char *host = o.host ? o.host : "0.0.0.0";
	const char *lb = strchr(host, ':') ? "[" : "", *rb = *lb ? "]" : "";
	printf("relay listening on %s%s%s:%u\n", lb, host, rb, relay_server_port(srv));
	if (o.tls_cert)
		printf("tls on port %u%s\n", relay_server_port(srv), o.plain ? "" : " only");
	if (o.plain)
		printf("plain listening on %s%s%s:%u\n", lb, host, rb, relay_server_plain_port(srv));
	if (stun) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof sa;
		stun_server_addr(stun, STUN_SOCK_PRIMARY, &sa, &sl);
		uint16_t sp = sa.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
						      : ntohs(((struct sockaddr_in *)&sa)->sin_port);
		printf("stun listening on %s%s%s:%u\n", lb, host, rb, sp);
	}
	fflush(stdout);
	snprintf(sv.status, sizeof sv.status, "listening on %s port %u%s", o.host ? o.host : "0.0.0.0",
		 relay_server_port(srv), o.tls_cert ? " (TLS)" : "");
	int r = relay_server_run(srv);
	struct relay_stats st;
	relay_server_stats(srv, &st);
	core_log(CORE_LOG_INFO, "relay stopped: %llu sessions, %llu bytes relayed", (unsigned long long)st.total_sessions,
		 (unsigned long long)st.total_bytes_relayed);
	relay_server_free(srv);
	net_notify_cleanup(&sv.n);
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
