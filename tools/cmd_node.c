/* atmosphere init / serve / join / peers / ping / send / recv: the peer
 * node's commands (the daemon is node/daemon.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "net/bssl.h"
#include "node/birthday.h"
#include "node/control.h"
#include "node/member.h"
#include "node/node.h"
#include "node/pake.h"
#include "node/token.h"
#include "node/wire.h"
#include "overlay/addr.h"
#include "overlay/firewall.h"
#include "stun/resolve.h"
#include "tools/cli.h"

static bool want_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

static int load(struct node_state *st, const char *cmd, bool need_mesh)
{
	char err[512];
	memset(st, 0, sizeof *st);
	node_home(st->home);
	int r = node_state_load(st, err, sizeof err);
	if (r == -ENOENT) {
		if (need_mesh) {
			fprintf(stderr, "atmosphere %s: no mesh in %s yet: run 'atmosphere init NAME' or 'atmosphere join CODE'\n",
				cmd, st->home);
			return 1;
		}
		return 0;
	}
	if (r) {
		fprintf(stderr, "atmosphere %s: %s\n", cmd, err);
		return 1;
	}
	return 0;
}

struct first_line {
	char *buf;
	size_t cap;
};

static bool take_first(const char *line, void *arg)
{
	struct first_line *f = arg;
	snprintf(f->buf, f->cap, "%s", line);
	return false;
}

static int call_one(const struct node_state *st, const char *req, char *rep, size_t cap)
{
	struct first_line f = {rep, cap};
	return node_control_call(st, req, take_first, &f);
}

/* ---- init ---- */

/* `atmosphere init --public-ip IP` without a mesh name, as the seed's
 * "STUN discovery failed" advice writes it: sets the public address of the
 * mesh this machine already has (no STUN from then on), or, on a machine
 * without one, creates a mesh named after the host. */
static int init_public_ip(const char *ip, int other_opts)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, ip, &a4) != 1 && inet_pton(AF_INET6, ip, &a6) != 1)
		return cli_usage_error("init", "--public-ip '%s': not an IPv4 or IPv6 address", ip);
	struct node_state st;
	if (load(&st, "init", false))
		return 1;
	if (!st.have_mesh) {
		node_state_wipe(&st);
		return -1; /* the caller creates one */
	}
	if (other_opts) {
		node_state_wipe(&st);
		return cli_usage_error("init", "%s already holds mesh '%s': without MESH_NAME only --public-ip "
					       "changes it (use MESH_NAME --force to replace the mesh)",
				       st.home, st.mesh_name);
	}
	snprintf(st.public_ip, sizeof st.public_ip, "%s", ip);
	char err[512];
	if (node_state_save(&st, err, sizeof err)) {
		fprintf(stderr, "atmosphere init: %s\n", err);
		node_state_wipe(&st);
		return 1;
	}
	printf("✓ Public address of this node in mesh %s (%s): %s (STUN is no longer used)\n", st.mesh_name,
	       st.mesh_id, ip);
	printf("Restart 'atmosphere serve' for it to take effect.\n");
	node_state_wipe(&st);
	return 0;
}

/* The first relay key in a key file as `atmosphere relay --new-key` writes
 * it (comment lines, then the key), into out. */
static bool read_relay_key(const char *path, char out[static RELAY_KEY_TEXT_LEN + 1])
{
	char line[256];
	bool found = false;
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "atmosphere init: --relay-key '%s': cannot read it: %s\n", path, strerror(errno));
		return false;
	}
	while (!found && fgets(line, sizeof line, f)) {
		size_t n = strcspn(line, " \t\r\n");
		struct relay_key k;
		if (!n || line[0] == '#')
			continue;
		if (relay_key_parse(&k, line, n) == RELAY_TICKET_OK) {
			memcpy(out, line, RELAY_KEY_TEXT_LEN);
			out[RELAY_KEY_TEXT_LEN] = 0;
			found = true;
		}
		relay_key_cleanup(&k);
		break;
	}
	OPENSSL_cleanse(line, sizeof line);
	fclose(f);
	if (!found)
		fprintf(stderr, "atmosphere init: --relay-key '%s': no relay key in it (the relay's operator makes one "
				"with 'atmosphere relay --new-key')\n", path);
	return found;
}

/* init --relay URL --relay-key FILE... without MESH_NAME: gives the
 * existing mesh's relays their keys (a relay that switched to mesh-token
 * mode, or rotated its key). */
static int init_relay_keys(size_t nr, const char *const relays[], char keys[][RELAY_KEY_TEXT_LEN + 1], int other_opts)
{
	struct node_state st;
	char err[512], id[2 * RELAY_KEY_ID_LEN + 1];
	int ret = 1;
	if (load(&st, "init", false))
		return 1;
	if (!st.have_mesh) {
		fprintf(stderr, "atmosphere init: no mesh in %s: give a MESH_NAME to create one\n", st.home);
		goto out;
	}
	if (other_opts) {
		ret = cli_usage_error("init", "%s already holds mesh '%s': without MESH_NAME, --relay URL --relay-key FILE "
					      "only sets relay keys", st.home, st.mesh_name);
		goto out;
	}
	for (size_t i = 0; i < nr; i++) {
		size_t k = 0;
		while (k < st.num_relays && strcmp(st.relays[k], relays[i]))
			k++;
		if (k == st.num_relays) {
			ret = cli_usage_error("init", "--relay '%s' is not one of mesh '%s''s relays", relays[i], st.mesh_name);
			goto out;
		}
		if (!keys[i][0]) {
			ret = cli_usage_error("init", "--relay '%s' needs its --relay-key FILE here", relays[i]);
			goto out;
		}
	}
	for (size_t i = 0; i < nr; i++) {
		struct relay_key k;
		if (node_relay_key_set(&st, relays[i], keys[i]) != 0 || relay_key_parse(&k, keys[i], strlen(keys[i])) != 0) {
			fprintf(stderr, "atmosphere init: cannot keep the relay key of %s\n", relays[i]);
			goto out;
		}
		relay_key_id_hex(id, k.id);
		relay_key_cleanup(&k);
		printf("✓ Relay %s: key %s\n", relays[i], id);
	}
	if (node_state_save(&st, err, sizeof err)) {
		fprintf(stderr, "atmosphere init: %s\n", err);
		goto out;
	}
	printf("Restart 'atmosphere serve' for it to take effect. New members get the key with their join code;\n"
	       "run this on every node that is already a member.\n");
	ret = 0;
out:
	for (size_t i = 0; i < nr; i++)
		OPENSSL_cleanse(keys[i], RELAY_KEY_TEXT_LEN + 1);
	node_state_wipe(&st);
	return ret;
}

int cli_init(int argc, char **argv)
{
	static const struct option lo[] = {{"relay", required_argument, 0, 'r'}, {"stun", required_argument, 0, 's'},
					   {"relay-key", required_argument, 0, 'K'},
					   {"public-ip", required_argument, 0, 'p'}, {"port", required_argument, 0, 'P'},
					   {"name", required_argument, 0, 'n'},      {"force", no_argument, 0, 'f'},
					   {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
	struct node_state st;
	const char *relays[NODE_TOKEN_MAX_RELAYS], *stuns[NODE_TOKEN_MAX_STUN], *pubip = NULL, *name = NULL;
	static char relay_keys[NODE_TOKEN_MAX_RELAYS][RELAY_KEY_TEXT_LEN + 1]; /* of relays[i], or "" */
	size_t nr = 0, ns = 0;
	bool force = false;
	uint64_t port = NODE_DEFAULT_PORT;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (strncmp(optarg, "ws://", 5) && strncmp(optarg, "wss://", 6))
				return cli_usage_error("init", "--relay '%s': expected a ws:// or wss:// URL", optarg);
			if (nr == NODE_TOKEN_MAX_RELAYS)
				return cli_usage_error("init", "at most %d relays", NODE_TOKEN_MAX_RELAYS);
			relay_keys[nr][0] = 0;
			relays[nr++] = optarg;
			break;
		case 'K':
			if (!nr)
				return cli_usage_error("init", "--relay-key FILE goes after the --relay URL it is for");
			if (!read_relay_key(optarg, relay_keys[nr - 1]))
				return 1;
			break;
		case 's':
			if (ns == NODE_TOKEN_MAX_STUN)
				return cli_usage_error("init", "at most %d STUN servers", NODE_TOKEN_MAX_STUN);
			stuns[ns++] = optarg;
			break;
		case 'p':
			pubip = optarg;
			break;
		case 'P':
			if (!cli_parse_uint("init", "--port", optarg, 0, 65535, &port))
				return 2;
			break;
		case 'n':
			name = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			printf("usage: atmosphere init MESH_NAME [--relay URL [--relay-key FILE]]... [--stun HOST:PORT]...\n"
			       "                       [--public-ip IP] [--port N] [--name NODE_NAME] [--force]\n"
			       "       atmosphere init --public-ip IP\n"
			       "       atmosphere init --relay URL --relay-key FILE...\n\n"
			       "Creates a mesh in $ATMOSPHERE_HOME (default ~/.atmosphere): a mesh id, a random join\n"
			       "secret and this node's key pair (files mode 0600). Refuses to replace an existing mesh\n"
			       "without --force. With --public-ip IP alone: sets this node's public address in the\n"
			       "mesh it already has (when STUN fails; restart 'serve'), or creates a mesh named\n"
			       "after the host. With --relay URL --relay-key FILE alone: gives relays of the mesh\n"
			       "it already has their keys (a relay that went mesh-token, or rotated its key).\n\n"
			       "  --relay URL        relay for signaling and fallback (repeatable; ws:// or wss://)\n"
			       "  --relay-key FILE   after --relay URL: that relay runs in mesh-token mode and this\n"
			       "                     is the key its operator gave you (a file from 'atmosphere relay\n"
			       "                     --new-key'); join codes and new members get it too\n"
			       "  --stun HOST:PORT   STUN server (repeatable; default: the five public ones)\n"
			       "  --public-ip IP     skip STUN: this node's public address is IP\n"
			       "  --port N           UDP port of 'serve' (default 7777; 0: any free port)\n"
			       "  --name NAME        this node's name (default: the host name)\n");
			return 0;
		case ':':
			return cli_usage_error("init", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("init", "unknown option '%s'", argv[optind - 1]);
		}
	}
	char host_mesh[NODE_TOKEN_MAX_NAME_LEN + 1] = "";
	if (optind == argc && nr && !pubip)
		return init_relay_keys(nr, relays, relay_keys, (int)ns + (name != NULL) + force);
	if (optind == argc && pubip) {
		int r = init_public_ip(pubip, (int)nr + (int)ns + (name != NULL) + force);
		if (r >= 0)
			return r;
		/* No mesh here yet: create one named after this host. */
		char h[64] = "";
		gethostname(h, sizeof h - 1);
		snprintf(host_mesh, sizeof host_mesh, "%.*s-mesh", NODE_TOKEN_MAX_NAME_LEN - 5, h[0] ? h : "my");
	}
	if (!host_mesh[0] && optind != argc - 1)
		return cli_usage_error("init", optind >= argc ? "missing MESH_NAME" : "unexpected argument '%s'",
				       optind >= argc ? "" : argv[optind + 1]);
	const char *mesh = host_mesh[0] ? host_mesh : argv[optind];
	if (!*mesh || strlen(mesh) > NODE_TOKEN_MAX_NAME_LEN)
		return cli_usage_error("init", "mesh name must be 1 to %d bytes", NODE_TOKEN_MAX_NAME_LEN);
	if (load(&st, "init", false))
		return 1;
	if (st.have_mesh && !force) {
		fprintf(stderr, "atmosphere init: %s already holds mesh '%s' (%s); use --force to replace it\n", st.home,
			st.mesh_name, st.mesh_id);
		return 1;
	}
	char home[NODE_PATH_MAX];
	memcpy(home, st.home, sizeof home);
	memset(&st, 0, sizeof st);
	memcpy(st.home, home, sizeof home);
	uint8_t id[6];
	RAND_bytes(id, sizeof id);
	snprintf(st.mesh_id, sizeof st.mesh_id, "mesh-%02x%02x%02x%02x%02x%02x", id[0], id[1], id[2], id[3], id[4], id[5]);
	snprintf(st.mesh_name, sizeof st.mesh_name, "%s", mesh);
	RAND_bytes(st.secret, sizeof st.secret);
	memcpy(st.mesh_key, st.secret, sizeof st.mesh_key); /* epoch 0: the PSK's root */
	node_state_new_identity(&st, name);
	for (size_t i = 0; i < nr; i++) {
		snprintf(st.relays[st.num_relays++], sizeof st.relays[0], "%s", relays[i]);
		if (relay_keys[i][0] && node_relay_key_set(&st, relays[i], relay_keys[i]) != 0) {
			fprintf(stderr, "atmosphere init: cannot keep the relay key of %s\n", relays[i]);
			return 1;
		}
		OPENSSL_cleanse(relay_keys[i], sizeof relay_keys[i]);
	}
	if (ns)
		for (size_t i = 0; i < ns; i++)
			snprintf(st.stun[st.num_stun++], sizeof st.stun[0], "%s", stuns[i]);
	else if (!pubip) /* a known public address needs no STUN */
		for (size_t i = 0; i < STUN_NUM_DEFAULT_SERVERS && st.num_stun < NODE_TOKEN_MAX_STUN; i++)
			snprintf(st.stun[st.num_stun++], sizeof st.stun[0], "%s", stun_default_servers[i]);
	if (pubip)
		snprintf(st.public_ip, sizeof st.public_ip, "%s", pubip);
	st.port = (uint16_t)port;
	st.have_mesh = true;
	/* This node founds the mesh: the root every admission leads back to. */
	memcpy(st.founder, st.pub, sizeof st.founder);
	st.have_founder = true;
	char mpath[NODE_PATH_MAX + 16];
	snprintf(mpath, sizeof mpath, "%s/members.json", st.home);
	unlink(mpath); /* a replaced mesh's members */
	char err[512];
	if (node_state_save(&st, err, sizeof err)) {
		fprintf(stderr, "atmosphere init: %s\n", err);
		return 1;
	}
	printf("✓ Created mesh: %s (%s)\n", st.mesh_name, st.mesh_id);
	printf("  node: %s (%s)\n  state: %s\n", st.node_name, st.node_id, st.home);
	if (!nr)
		printf("  no relay configured: peers behind symmetric NATs will not connect (add --relay URL)\n");
	printf("Next: atmosphere serve --port %u, then 'atmosphere join' for a join code.\n", st.port);
	node_state_wipe(&st);
	return 0;
}

/* ---- serve ---- */

/* --allow RULE: checked here, so a bad rule is a usage error, not a log
 * line; kept (borrowed from argv) for the node. */
static int add_allow(const char *cmd, char *rule, struct node_run_opts *o, char **rules)
{
	struct overlay_fw_rule r;
	char err[200];
	if (overlay_fw_parse_rule(rule, &r, err, sizeof err) < 0)
		return cli_usage_error(cmd, "--allow %s", err);
	if (o->num_allow == OVERLAY_FW_MAX_RULES)
		return cli_usage_error(cmd, "at most %d --allow rules", OVERLAY_FW_MAX_RULES);
	rules[o->num_allow++] = rule;
	o->allow = rules;
	o->tun = true;
	return 0;
}

/* --hard-nat MODE, or ATMOSPHERE_HARD_NAT (arg NULL: read that; unset is
 * fine). Returns 0, or 2 after a usage error. */
static int hard_nat_opt(const char *cmd, const char *arg, struct node_run_opts *o)
{
	const char *v = arg ? arg : getenv("ATMOSPHERE_HARD_NAT");
	enum node_hard_nat_mode m;
	if (!v)
		return 0;
	if (!node_hard_nat_mode_parse(v, &m))
		return cli_usage_error(cmd, "%s '%s': off, on or aggressive", arg ? "--hard-nat" : "ATMOSPHERE_HARD_NAT", v);
	o->hard_nat = (int)m;
	return 0;
}

#define HARD_NAT_HELP                                                                                                  \
	"  --hard-nat MODE  hard-NAT (birthday) probing when one side's NAT is symmetric and\n"                          \
	"                   the ordinary punch fails (docs/NODE.md): on (default: 256 sockets,\n"                     \
	"                   2,048 probes at 400/s, 10 s), aggressive (512 sockets, 4,096 probes\n"                   \
	"                   at 400/s, 16 s) or off (never probe; the relay carries such a pair).\n"                  \
	"                   Also ATMOSPHERE_HARD_NAT=MODE; the option wins.\n"

int cli_serve(int argc, char **argv)
{
	static const struct option lo[] = {{"port", required_argument, 0, 'P'}, {"json-log", no_argument, 0, 'j'},
					   {"tun", no_argument, 0, 't'},          {"tun-name", required_argument, 0, 'T'},
					   {"allow", required_argument, 0, 'A'},  {"relay-only", no_argument, 0, 'R'},
					   {"no-port-mapping", no_argument, 0, 'N'},
					   {"hard-nat", required_argument, 0, 'H'},
					   {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
	static char *rules[OVERLAY_FW_MAX_RULES];
	struct node_state st;
	struct node_run_opts o = {0};
	uint64_t port = 0;
	bool port_given = false;
	int c;
	if (hard_nat_opt("serve", NULL, &o))
		return 2;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case 'P':
			if (!cli_parse_uint("serve", "--port", optarg, 0, 65535, &port))
				return 2;
			port_given = true;
			break;
		case 'j':
			core_log_set_json(true);
			break;
		case 't':
			o.tun = true;
			break;
		case 'T':
			if (!*optarg || strlen(optarg) >= 16)
				return cli_usage_error("serve", "--tun-name '%s': 1 to 15 characters", optarg);
			o.tun = true;
			o.tun_name = optarg;
			break;
		case 'A':
			if (add_allow("serve", optarg, &o, rules))
				return 2;
			break;
		case 'R':
			o.relay_only = true;
			break;
		case 'N':
			o.no_port_mapping = true;
			break;
		case 'H':
			if (hard_nat_opt("serve", optarg, &o))
				return 2;
			break;
		case 'h':
			printf("usage: atmosphere serve [--port N] [--json-log] [--relay-only] [--no-port-mapping]\n"
			       "                        [--hard-nat off|on|aggressive]\n"
			       "                        [--tun [--tun-name NAME] [--allow RULE]...]\n\n"
			       "Runs the node: a UDP socket on port N (default: the one 'init' chose, 7777) for\n"
			       "direct paths and STUN, connections to the mesh's relays for signaling and fallback,\n"
			       "and a control socket in $ATMOSPHERE_HOME for the other commands. Logs to stderr.\n"
			       "Known peers reconnect by themselves. SIGINT/SIGTERM stop it.\n\n"
			       "  --relay-only     no STUN, no hole punching, no direct paths: every peer goes\n"
			       "                   through the mesh's relays (when UDP is blocked or STUN fails)\n"
			       "  --tun            the IP overlay: an interface (atmosphere0) with this node's\n"
			       "                   addresses in 100.64.0.0/10 and the mesh's IPv6 /48, so any program\n"
			       "                   reaches a peer by its overlay address ('atmosphere peers' lists\n"
			       "                   them, 'atmosphere hosts' prints /etc/hosts lines). Needs\n"
			       "                   CAP_NET_ADMIN; without it the node runs without the overlay.\n"
			       "  --tun-name NAME  the interface's name (implies --tun)\n"
			       "  --allow RULE     what members may reach here over the overlay (repeatable;\n"
			       "                   implies --tun): PEER:PROTO[/PORT[-PORT]], PEER a name, a node id\n"
			       "                   or *, PROTO tcp, udp, icmp or any; e.g. '*:icmp' 'matt:tcp/22'.\n"
			       "                   Without rules every member reaches every port; with rules, only\n"
			       "                   what they allow, and answers to what this node started.\n"
			       "  --no-port-mapping  do not ask the home router to map port N (by default the\n"
			       "                   node asks the default gateway by PCP, NAT-PMP and UPnP IGD,\n"
			       "                   renews the mapping and deletes it at exit; docs/PORTMAP.md).\n"
			       "                   Also ATMOSPHERE_PORT_MAPPING=off; --relay-only implies it.\n" HARD_NAT_HELP);
			return 0;
		case ':':
			return cli_usage_error("serve", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("serve", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
	if (load(&st, "serve", true))
		return 1;
	o.port = port_given ? (uint16_t)port : st.port; /* 0: any free port */
	if (cli_port_mapping_off())
		o.no_port_mapping = true;
	int r = node_run(&st, &o);
	node_state_wipe(&st);
	return r;
}

/* ---- join ---- */

/* "10m", "90s", "2h": a duration as people type it for --expires. */
static void fmt_secs(char *out, size_t cap, uint64_t s)
{
	if (s && s % 3600 == 0)
		snprintf(out, cap, "%lluh", (unsigned long long)(s / 3600));
	else if (s && s % 60 == 0)
		snprintf(out, cap, "%llum", (unsigned long long)(s / 60));
	else
		snprintf(out, cap, "%llus", (unsigned long long)s);
}

static int print_code(struct node_state *st, uint64_t ttl, uint64_t short_ttl, bool json)
{
	char req[160], rep[8192];
	snprintf(req, sizeof req, "{\"cmd\":\"invite\",\"expires\":%llu,\"short_expires\":%llu}", (unsigned long long)ttl,
		 (unsigned long long)short_ttl);
	int r = call_one(st, req, rep, sizeof rep);
	if (r) {
		fprintf(stderr, "atmosphere join: no node is running for %s: start 'atmosphere serve' first "
				"(the code carries its endpoints and it must be up to admit the joiner)\n",
			st->home);
		return 1;
	}
	json_object *o = json_tokener_parse(rep), *v, *s, *se, *rl;
	if (!o || !json_object_object_get_ex(o, "code", &v) || !json_object_object_get_ex(o, "short_code", &s)) {
		fprintf(stderr, "atmosphere join: %s", rep);
		json_object_put(o);
		return 1;
	}
	uint64_t sttl = json_object_object_get_ex(o, "short_expires", &se) ? (uint64_t)json_object_get_int64(se) : 0;
	const char *relay = json_object_object_get_ex(o, "relays", &rl) && json_object_array_length(rl)
				    ? json_object_get_string(json_object_array_get_idx(rl, 0))
				    : NULL;
	if (json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "short_code", json_object_new_string(json_object_get_string(s)));
		json_object_object_add(j, "code", json_object_new_string(json_object_get_string(v)));
		json_object_object_add(j, "expires_in", json_object_new_int64((int64_t)ttl));
		/* 0: the short code does not join on its own (no relay). */
		json_object_object_add(j, "short_expires_in", json_object_new_int64((int64_t)sttl));
		json_object_object_add(j, "relay", relay ? json_object_new_string(relay) : NULL);
		printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(j);
	} else {
		char d[32];
		printf("%s\n", json_object_get_string(s));
		printf("Full code: %s\n", json_object_get_string(v));
		printf("On the other machine: atmosphere join <full code>; both sides show %s.\n",
		       json_object_get_string(s));
		fmt_secs(d, sizeof d, sttl);
		if (sttl && relay)
			printf("Or type the short code there (once, within %s; this node must keep running):\n"
			       "  atmosphere join %s --relay %s\n",
			       d, json_object_get_string(s), relay);
		else
			printf("(The short code alone cannot join: the mesh has no relay to meet on.)\n");
	}
	json_object_put(o);
	return 0;
}

/* Progress of a join run by the node: {"line":...}, then {"ok":true} or
 * {"error":...}. */
static bool join_line(const char *line, void *arg)
{
	int *rc = arg;
	json_object *o = json_tokener_parse(line), *v;
	bool more = true;
	if (o && json_object_object_get_ex(o, "line", &v)) {
		printf("%s\n", json_object_get_string(v));
		fflush(stdout);
	} else if (o && json_object_object_get_ex(o, "error", &v)) {
		fprintf(stderr, "atmosphere join: %s\n", json_object_get_string(v));
		*rc = 1;
		more = false;
	} else {
		more = false;
	}
	json_object_put(o);
	return more;
}

int cli_join(int argc, char **argv)
{
	static const struct option lo[] = {{"expires", required_argument, 0, 'e'}, {"json", no_argument, 0, 'J'},
					   {"port", required_argument, 0, 'P'},    {"name", required_argument, 0, 'n'},
					   {"tun", no_argument, 0, 't'},           {"tun-name", required_argument, 0, 'T'},
					   {"allow", required_argument, 0, 'A'},   {"relay-only", no_argument, 0, 'R'},
					   {"no-port-mapping", no_argument, 0, 'N'},
					   {"hard-nat", required_argument, 0, 'H'},
					   {"short-expires", required_argument, 0, 'S'},
					   {"relay", required_argument, 0, 'r'},   {"wait", required_argument, 0, 'w'},
					   {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
	static char *rules[OVERLAY_FW_MAX_RULES];
	const char *relays[NODE_TOKEN_MAX_RELAYS];
	size_t num_relays = 0;
	uint64_t short_ms = (uint64_t)NODE_PAKE_TTL_DEFAULT_S * 1000, wait_ms = NODE_PAKE_WAIT_DEFAULT_MS;
	struct node_run_opts fw = {0};  /* collects --tun, --tun-name and --allow */
	struct node_state st;
	uint64_t ttl_ms = 24ull * 3600 * 1000, port = NODE_DEFAULT_PORT;
	bool json = false;
	const char *name = NULL;
	int c;
	if (hard_nat_opt("join", NULL, &fw))
		return 2;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (!cli_parse_duration("join", "--expires", optarg, &ttl_ms))
				return 2;
			if (ttl_ms < 60000 || ttl_ms > NODE_TOKEN_MAX_LIFETIME * 1000)
				return cli_usage_error("join", "--expires must be between 1m and 30d");
			break;
		case 'J':
			json = true;
			break;
		case 'S':
			if (!cli_parse_duration("join", "--short-expires", optarg, &short_ms))
				return 2;
			if (short_ms < 1000 || short_ms > NODE_TOKEN_MAX_LIFETIME * 1000)
				return cli_usage_error("join", "--short-expires must be between 1s and 30d");
			break;
		case 'r':
			if (strncmp(optarg, "ws://", 5) && strncmp(optarg, "wss://", 6))
				return cli_usage_error("join", "--relay '%s': expected a ws:// or wss:// URL", optarg);
			if (num_relays == NODE_TOKEN_MAX_RELAYS)
				return cli_usage_error("join", "at most %d relays", NODE_TOKEN_MAX_RELAYS);
			relays[num_relays++] = optarg;
			break;
		case 'w':
			if (!cli_parse_duration("join", "--wait", optarg, &wait_ms))
				return 2;
			if (wait_ms < 1000 || wait_ms > 3600 * 1000)
				return cli_usage_error("join", "--wait must be between 1s and 1h");
			break;
		case 'P':
			if (!cli_parse_uint("join", "--port", optarg, 0, 65535, &port))
				return 2;
			break;
		case 'n':
			name = optarg;
			break;
		case 't':
			fw.tun = true;
			break;
		case 'T':
			if (!*optarg || strlen(optarg) >= 16)
				return cli_usage_error("join", "--tun-name '%s': 1 to 15 characters", optarg);
			fw.tun = true;
			fw.tun_name = optarg;
			break;
		case 'A':
			if (add_allow("join", optarg, &fw, rules))
				return 2;
			break;
		case 'R':
			fw.relay_only = true;
			break;
		case 'N':
			fw.no_port_mapping = true;
			break;
		case 'H':
			if (hard_nat_opt("join", optarg, &fw))
				return 2;
			break;
		case 'h':
			printf("usage: atmosphere join [--expires DURATION] [--short-expires DURATION] [--json]\n"
			       "       atmosphere join CODE [--port N] [--name NODE_NAME] [--relay-only]\n"
			       "                            [--no-port-mapping] [--hard-nat off|on|aggressive]\n"
			       "                            [--tun [--tun-name NAME] [--allow RULE]...]\n"
			       "       atmosphere join MESH-XXXX-XXXX-XXXX --relay URL [--wait DURATION] [the options above]\n\n"
			       "Without CODE: asks the running node for a join code (valid 24h, or --expires) and\n"
			       "prints the short code MESH-XXXX-XXXX-XXXX and the full code. Both sides print the\n"
			       "same short code: compare it by voice. The short code also joins on its own, once,\n"
			       "within 10 minutes (or --short-expires), while this node runs: the joiner meets it\n"
			       "on the mesh's relay and proves the code without sending it (SPAKE2); one wrong try\n"
			       "voids it (docs/TOKENS.md, \"Short-code join\").\n\n"
			       "With MESH-XXXX-XXXX-XXXX: fetches the full code from the inviting node through the\n"
			       "relay given with --relay (repeatable; default: the relays of this node's mesh, if\n"
			       "any), waiting up to 30 s (--wait), then joins with it as below.\n\n"
			       "With CODE (standard or URL-safe base64): joins that mesh, trying the issuer's public\n"
			       "endpoint, hole punching and its relays at once, keeps the best path, then keeps\n"
			       "running as this machine's node (like 'serve'). If a node already runs for\n"
			       "$ATMOSPHERE_HOME, the join goes through it. --relay-only, --tun, --tun-name,\n"
			       "--allow, --no-port-mapping and --hard-nat work as they do for 'serve'.\n");
			return 0;
		case ':':
			return cli_usage_error("join", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("join", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc - 1)
		return cli_usage_error("join", "unexpected argument '%s'", argv[optind + 1]);
	if (optind == argc) {
		if (load(&st, "join", true))
			return 1;
		int r = print_code(&st, ttl_ms / 1000, short_ms / 1000, json);
		node_state_wipe(&st);
		return r;
	}
	const char *code = argv[optind];
	/* A short code: the full one comes from the inviting node first. */
	static char fetched[NODE_TOKEN_MAX_CODE_LEN + 1];
	if (node_pake_looks_like_code(code)) {
		char canon[NODE_PAKE_CODE_LEN + 1], err[512];
		if (node_pake_code_parse(canon, code) != NODE_PAKE_OK)
			return cli_usage_error("join", "'%s': %s", code, node_pake_strerror(NODE_PAKE_E_CODE));
		if (!num_relays) { /* a node that is a member already knows its mesh's relays */
			if (load(&st, "join", false))
				return 1;
			static char copies[NODE_TOKEN_MAX_RELAYS][NODE_TOKEN_MAX_URL_LEN + 1];
			for (size_t i = 0; i < st.num_relays && num_relays < NODE_TOKEN_MAX_RELAYS; i++) {
				snprintf(copies[num_relays], sizeof copies[0], "%s", st.relays[i]);
				relays[num_relays] = copies[num_relays];
				num_relays++;
			}
			node_state_wipe(&st);
		}
		if (!num_relays)
			return cli_usage_error("join", "a short code is met on the inviting mesh's relay: add --relay URL "
						       "(the inviter's 'atmosphere join' prints it)");
		printf("Fetching the join code for %s through %s...\n", canon, relays[0]);
		fflush(stdout);
		int fr = node_short_fetch(canon, relays, num_relays, (unsigned)wait_ms, fetched, sizeof fetched, err, sizeof err);
		if (fr != NODE_SHORT_OK) {
			fprintf(stderr, "atmosphere join: %s\n", err);
			return 1;
		}
		code = fetched;
		/* The code it opened must be the one the short code stands for. */
		struct node_token ft;
		char fsc[NODE_TOKEN_SHORT_CODE_LEN + 1];
		int dr = node_token_decode(&ft, NULL, code, strlen(code), (uint64_t)time(NULL));
		bool same = dr == NODE_TOKEN_OK && node_token_short_code(fsc, NULL, &ft) == NODE_TOKEN_OK && !strcmp(fsc, canon);
		node_token_cleanup(&ft);
		if (!same) {
			OPENSSL_cleanse(fetched, sizeof fetched);
			fprintf(stderr, "atmosphere join: the inviting node sent a code that does not match %s%s%s\n", canon,
				dr ? ": " : "", dr ? node_token_strerror(dr) : "");
			return 1;
		}
		printf("✓ Received the join code from the inviting node (key confirmed both ways)\n");
	} else if (num_relays) {
		return cli_usage_error("join", "--relay goes with a short code (MESH-XXXX-XXXX-XXXX): a full code "
					       "carries its relays");
	}
	/* Check the code before anything else: a bad one gets a clear error. */
	struct node_token t;
	const char *field = NULL;
	int tr = node_token_decode(&t, &field, code, strlen(code), (uint64_t)time(NULL));
	if (tr != NODE_TOKEN_OK) {
		fprintf(stderr, "atmosphere join: invalid join code: %s%s%s\n", node_token_strerror(tr), field ? ": " : "",
			field ? field : "");
		return 1;
	}
	char sc[NODE_TOKEN_SHORT_CODE_LEN + 1];
	node_token_short_code(sc, NULL, &t);
	printf("Join code %s for mesh '%s'\n", sc, t.mesh_name);
	node_token_cleanup(&t);
	if (load(&st, "join", false))
		return 1;
	/* A node already running here: let it join. */
	json_object *rq = json_object_new_object();
	json_object_object_add(rq, "cmd", json_object_new_string("join"));
	json_object_object_add(rq, "code", json_object_new_string(code));
	int rc = 0;
	int r = node_control_call(&st, json_object_to_json_string_ext(rq, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), join_line, &rc);
	json_object_put(rq);
	if (r == 0) {
		OPENSSL_cleanse(fetched, sizeof fetched);
		return rc;
	}
	/* No node here: become one. */
	if (!st.have_mesh) {
		node_state_new_identity(&st, name);
		st.port = (uint16_t)port;
	}
	struct node_run_opts o = fw;
	o.port = st.have_mesh ? st.port : (uint16_t)port;
	o.join_code = code;
	if (cli_port_mapping_off())
		o.no_port_mapping = true;
	r = node_run(&st, &o);
	node_state_wipe(&st);
	OPENSSL_cleanse(fetched, sizeof fetched);
	return r;
}

/* ---- peers, ping, send, recv ---- */

static int call_simple(const char *cmd, const char *req, char *rep, size_t cap)
{
	struct node_state st;
	if (load(&st, cmd, true))
		return 1;
	int r = call_one(&st, req, rep, cap);
	node_state_wipe(&st);
	if (r) {
		fprintf(stderr, "atmosphere %s: no node is running for %s: start 'atmosphere serve'\n", cmd, st.home);
		return 1;
	}
	return 0;
}

/* A string field of the daemon's "self" object, "-" when absent or empty. */
static const char *self_str(json_object *self, const char *key)
{
	json_object *v;
	const char *s = json_object_object_get_ex(self, key, &v) && v ? json_object_get_string(v) : NULL;
	return s && *s ? s : "-";
}

int cli_peers(int argc, char **argv)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: atmosphere peers [--json]\n\nLists the mesh's peers this node knows: node id, name,\n"
			       "overlay address (IPv4; --json has IPv6 too, and overlay_n, the collision counter\n"
			       "they derive from), path (lan, direct or relay), remote\n"
			       "endpoint or relay URL, RTT, last seen, bytes;\n"
			       "and this node's own local and public endpoints (\"self\" in --json).\n");
			return 0;
		} else
			return cli_usage_error("peers", "unexpected argument '%s'", argv[i]);
	}
	static char rep[1 << 21]; /* 1,024 peers of about 450 bytes each */
	if (call_simple("peers", "{\"cmd\":\"peers\"}", rep, sizeof rep))
		return 1;
	if (json) {
		fputs(rep, stdout);
		return 0;
	}
	json_object *o = json_tokener_parse(rep), *arr;
	if (!o || !json_object_object_get_ex(o, "peers", &arr)) {
		fprintf(stderr, "atmosphere peers: bad answer from the node\n");
		json_object_put(o);
		return 1;
	}
	size_t n = json_object_array_length(arr);
	json_object *self;
	if (json_object_object_get_ex(o, "self", &self) && self)
		printf("This node: %s (%s), local %s, public %s\n", self_str(self, "name"), self_str(self, "node_id"),
		       self_str(self, "local_endpoint"), self_str(self, "public_endpoint"));
	if (!n)
		printf("No peers yet. Share a code from 'atmosphere join'.\n");
	else
		printf("%-24s %-16s %-15s %-9s %-7s %-28s %9s %12s %10s %10s\n", "NODE ID", "NAME", "OVERLAY", "STATUS",
		       "PATH", "REMOTE", "RTT", "LAST SEEN", "IN", "OUT");
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(arr, i), *v;
		char rtt[32] = "-", seen[32] = "never";
		if (json_object_object_get_ex(p, "rtt_ms", &v) && v)
			snprintf(rtt, sizeof rtt, "%.1f ms", json_object_get_double(v));
		if (json_object_object_get_ex(p, "last_seen", &v) && json_object_get_int64(v) > 0) {
			long ago = (long)(time(NULL) - json_object_get_int64(v));
			snprintf(seen, sizeof seen, "%lds ago", ago < 0 ? 0 : ago);
		}
#define S(k) (json_object_object_get_ex(p, k, &v) ? json_object_get_string(v) : "")
		printf("%-24s %-16s %-15s %-9s %-7s %-28s %9s %12s %10s %10s\n", S("node_id"), S("name"), S("overlay_ipv4"),
		       json_object_object_get_ex(p, "connected", &v) && json_object_get_boolean(v) ? "connected" : "offline",
		       S("path"), S("remote"), rtt, seen, S("bytes_in"), S("bytes_out"));
#undef S
	}
	json_object_put(o);
	return 0;
}

/* ---- hosts ---- */

/* The collision counter of pub's entry in members.json (0 without). */
static uint32_t hosts_n(const struct node_members *t, const uint8_t pub[32])
{
	int i = t ? node_members_find(t, pub) : -1;
	return i >= 0 && t->slots[i].has_entry ? t->slots[i].m.n : 0;
}

static void hosts_line(const struct node_state *st, const char *node_id, uint32_t n, const char *name, json_object *arr)
{
	uint32_t a = overlay_addr4(st->mesh_id, node_id, n);
	uint8_t a6[16];
	char s4[INET_ADDRSTRLEN], s6[INET6_ADDRSTRLEN];
	struct in_addr in = {.s_addr = htonl(a)};
	inet_ntop(AF_INET, &in, s4, sizeof s4);
	overlay_addr6(st->mesh_id, node_id, n, a6);
	inet_ntop(AF_INET6, a6, s6, sizeof s6);
	if (arr) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "node_id", json_object_new_string(node_id));
		json_object_object_add(o, "ipv4", json_object_new_string(s4));
		json_object_object_add(o, "ipv6", json_object_new_string(s6));
		json_object_array_add(arr, o);
		return;
	}
	printf("%-15s %s %s\n%-39s %s %s\n", s4, name, node_id, s6, name, node_id);
}

int cli_hosts(int argc, char **argv)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: atmosphere hosts [--json]\n\n"
			       "Prints /etc/hosts lines for this node and every peer it knows: each member's overlay\n"
			       "addresses (IPv4 in 100.64.0.0/10, IPv6 in the mesh's /48), its name and node id.\n"
			       "Addresses are derived from the mesh and node ids and each member's collision counter\n"
			       "(its signed entry in members.json), so this works without a running node. To resolve\n"
			       "peers by name: atmosphere hosts | sudo tee -a /etc/hosts\n");
			return 0;
		} else
			return cli_usage_error("hosts", "unexpected argument '%s'", argv[i]);
	}
	struct node_state st;
	if (load(&st, "hosts", true))
		return 1;
	json_object *arr = json ? json_object_new_array() : NULL;
	if (!json)
		printf("# atmosphere mesh %s (%s): overlay addresses\n", st.mesh_name, st.mesh_id);
	/* Counters come from the members' entries (a mesh from before
	 * membership records has none: every counter is 0). */
	char err[300];
	struct node_members *mem = st.have_founder ? node_members_new(st.mesh_id, st.founder) : NULL;
	if (mem && node_members_load(&st, mem, err, sizeof err) < 0)
		fprintf(stderr, "atmosphere hosts: %s; collision counters taken as 0\n", err);
	hosts_line(&st, st.node_id, hosts_n(mem, st.pub), st.node_name, arr);
	for (size_t i = 0; i < st.num_peers; i++)
		hosts_line(&st, st.peers[i].node_id, hosts_n(mem, st.peers[i].pub),
			   st.peers[i].name[0] ? st.peers[i].name : st.peers[i].node_id, arr);
	node_members_free(mem);
	if (json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "mesh_id", json_object_new_string(st.mesh_id));
		json_object_object_add(o, "hosts", arr);
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	}
	node_state_wipe(&st);
	return 0;
}

int cli_ping(int argc, char **argv)
{
	if (want_help(argc, argv)) {
		printf("usage: atmosphere ping PEER\n\nMeasures the round trip to PEER (node id or name) over the current\n"
		       "path and says which path that is.\n");
		return 0;
	}
	if (argc != 2)
		return cli_usage_error("ping", "expected one PEER");
	json_object *rq = json_object_new_object();
	json_object_object_add(rq, "cmd", json_object_new_string("ping"));
	json_object_object_add(rq, "peer", json_object_new_string(argv[1]));
	char rep[1024];
	int r = call_simple("ping", json_object_to_json_string_ext(rq, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), rep, sizeof rep);
	json_object_put(rq);
	if (r)
		return r;
	json_object *o = json_tokener_parse(rep), *v, *p;
	int rc = 0;
	if (o && json_object_object_get_ex(o, "rtt_ms", &v) && json_object_object_get_ex(o, "path", &p)) {
		printf("%s: %.2f ms via %s path\n", argv[1], json_object_get_double(v), json_object_get_string(p));
	} else {
		fprintf(stderr, "atmosphere ping: %s\n",
			o && json_object_object_get_ex(o, "error", &v) ? json_object_get_string(v) : rep);
		rc = 1;
	}
	json_object_put(o);
	return rc;
}

int cli_send(int argc, char **argv)
{
	if (want_help(argc, argv)) {
		printf("usage: atmosphere send PEER TEXT\n       atmosphere send PEER -    (text from stdin)\n\n"
		       "Sends one message (up to 1900 bytes) to PEER, end-to-end encrypted, over the current\n"
		       "path. The peer reads it with 'atmosphere recv'.\n");
		return 0;
	}
	if (argc != 3)
		return cli_usage_error("send", "expected PEER and TEXT (or - for stdin)");
	char buf[2048];
	const char *text = argv[2];
	if (!strcmp(text, "-")) {
		size_t n = fread(buf, 1, sizeof buf - 1, stdin);
		buf[n] = 0;
		text = buf;
	}
	json_object *rq = json_object_new_object();
	json_object_object_add(rq, "cmd", json_object_new_string("send"));
	json_object_object_add(rq, "peer", json_object_new_string(argv[1]));
	json_object_object_add(rq, "text", json_object_new_string(text));
	char rep[1024];
	int r = call_simple("send", json_object_to_json_string_ext(rq, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), rep, sizeof rep);
	json_object_put(rq);
	if (r)
		return r;
	json_object *o = json_tokener_parse(rep), *v;
	int rc = 0;
	if (o && json_object_object_get_ex(o, "ok", &v)) {
		json_object *p;
		printf("sent to %s via %s path\n", argv[1],
		       json_object_object_get_ex(o, "path", &p) ? json_object_get_string(p) : "?");
	} else {
		fprintf(stderr, "atmosphere send: %s\n",
			o && json_object_object_get_ex(o, "error", &v) ? json_object_get_string(v) : rep);
		rc = 1;
	}
	json_object_put(o);
	return rc;
}

struct recv_ctx {
	bool json;
	int count;
};

static bool recv_line(const char *line, void *arg)
{
	struct recv_ctx *c = arg;
	json_object *o = json_tokener_parse(line), *f, *t;
	bool more = true;
	if (o && json_object_object_get_ex(o, "from", &f) && json_object_object_get_ex(o, "text", &t)) {
		if (c->json)
			fputs(line, stdout);
		else
			printf("%s: %s\n", json_object_get_string(f), json_object_get_string(t));
		fflush(stdout);
		c->count++;
	} else {
		more = false; /* {"end":true} */
	}
	json_object_put(o);
	return more;
}

int cli_recv(int argc, char **argv)
{
	bool follow = false;
	struct recv_ctx c = {0};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--follow") || !strcmp(argv[i], "-f"))
			follow = true;
		else if (!strcmp(argv[i], "--json"))
			c.json = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: atmosphere recv [--follow] [--json]\n\nPrints the messages other nodes sent here "
			       "with 'atmosphere send', each once.\n--follow keeps waiting for more (Ctrl-C ends it).\n");
			return 0;
		} else
			return cli_usage_error("recv", "unexpected argument '%s'", argv[i]);
	}
	struct node_state st;
	if (load(&st, "recv", true))
		return 1;
	char req[64];
	snprintf(req, sizeof req, "{\"cmd\":\"recv\",\"follow\":%s}", follow ? "true" : "false");
	int r = node_control_call(&st, req, recv_line, &c);
	node_state_wipe(&st);
	if (r) {
		fprintf(stderr, "atmosphere recv: no node is running for %s: start 'atmosphere serve'\n", st.home);
		return 1;
	}
	return 0;
}

int cli_remove(int argc, char **argv)
{
	bool json = false;
	const char *who = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: atmosphere remove PEER [--json]\n\n"
			       "Takes PEER (node id or name) out of the mesh: a removal signed by this node\n"
			       "spreads to every member, who drop its sessions and refuse its handshakes;\n"
			       "join codes it issued stop working. Members it admitted are re-admitted by\n"
			       "this node. It still knows the mesh secret: run 'atmosphere rotate-secret'\n"
			       "next (docs/NODE.md, \"Removing a member\"). --json prints the node's answer.\n");
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1])
			return cli_usage_error("remove", "unknown option '%s'", argv[i]);
		else if (!who)
			who = argv[i];
		else
			return cli_usage_error("remove", "unexpected argument '%s'", argv[i]);
	}
	if (!who)
		return cli_usage_error("remove", "expected one PEER");
	json_object *rq = json_object_new_object();
	json_object_object_add(rq, "cmd", json_object_new_string("remove"));
	json_object_object_add(rq, "peer", json_object_new_string(who));
	char rep[1024];
	int r = call_simple("remove", json_object_to_json_string_ext(rq, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), rep, sizeof rep);
	json_object_put(rq);
	if (r)
		return r;
	json_object *o = json_tokener_parse(rep), *v, *n;
	int rc = 0;
	if (o && json_object_object_get_ex(o, "removed", &v)) {
		if (json)
			fputs(rep, stdout);
		else
			printf("removed %s (%s) from the mesh; told %s connected peers now, the others when they return\n",
			       json_object_object_get_ex(o, "name", &n) ? json_object_get_string(n) : "?", json_object_get_string(v),
			       json_object_object_get_ex(o, "told", &n) ? json_object_get_string(n) : "0");
	} else {
		fprintf(stderr, "atmosphere remove: %s\n",
			o && json_object_object_get_ex(o, "error", &v) ? json_object_get_string(v) : rep);
		rc = 1;
	}
	json_object_put(o);
	return rc;
}

int cli_rotate_secret(int argc, char **argv)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: atmosphere rotate-secret [--json]\n\n"
			       "Gives the mesh a new join secret, signed by this node, and sends it inside the\n"
			       "end-to-end sessions to every member in good standing; members away get it when\n"
			       "they return. Relay sessions move to ids only members can compute, so a removed\n"
			       "member can no longer meet anyone there. Join codes issued before stop working.\n"
			       "--json prints the node's answer (epoch, told).\n");
			return 0;
		} else
			return cli_usage_error("rotate-secret", "unexpected argument '%s'", argv[i]);
	}
	char rep[512];
	if (call_simple("rotate-secret", "{\"cmd\":\"rotate\"}", rep, sizeof rep))
		return 1;
	json_object *o = json_tokener_parse(rep), *v, *t;
	int rc = 0;
	if (o && json_object_object_get_ex(o, "epoch", &v)) {
		if (json)
			fputs(rep, stdout);
		else
			printf("new mesh secret (epoch %s) sent to %s connected members; the others get it when they return\n",
			       json_object_get_string(v), json_object_object_get_ex(o, "told", &t) ? json_object_get_string(t) : "0");
	} else {
		fprintf(stderr, "atmosphere rotate-secret: %s\n",
			o && json_object_object_get_ex(o, "error", &v) ? json_object_get_string(v) : rep);
		rc = 1;
	}
	json_object_put(o);
	return rc;
}
