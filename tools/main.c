/* atmosphere: the command-line entry point. Subcommands come from one table
 * that also prints the help (STYLE.md §11). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/parse.h"
#include "net/config.h"
#include "tools/cli.h"

#ifndef ATMOS_VERSION
#define ATMOS_VERSION "0.1.0"
#endif

static const struct cli_cmd commands[] = {
	{"network", cli_network, "show local and public address, NAT type and STUN reachability"},
	{"init", cli_init, "create a mesh (id, join secret, this node's keys)"},
	{"serve", cli_serve, "run this machine's node"},
	{"join", cli_join, "print a join code, or join a mesh with one"},
	{"peers", cli_peers, "list the mesh's peers and their paths"},
	{"ping", cli_ping, "round trip to a peer over the current path"},
	{"send", cli_send, "send a message to a peer"},
	{"recv", cli_recv, "print messages other nodes sent here"},
	{"remove", cli_remove, "take a member out of the mesh"},
	{"rotate-secret", cli_rotate_secret, "give the mesh a new join secret (after a removal)"},
	{"relay", cli_relay, "run a WebSocket relay (and optionally a STUN server)"},
	{"stun-server", cli_stun_server, "run a STUN server (RFC 8489, RFC 5780 with a second address)"},
	{"version", cli_version, "print the version"},
};

#define NUM_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: atmosphere COMMAND [OPTIONS]\n\n"
		   "Peer-to-peer connectivity for Linux: STUN, NAT traversal, relays.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < NUM_COMMANDS; i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'atmosphere COMMAND --help' for a command's options.\n");
}

int cli_version(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: atmosphere version\n\nPrints the version of this build.\n");
		return 0;
	}
	if (argc > 1)
		return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
	printf("atmosphere %s\n", ATMOS_VERSION);
	return 0;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "atmosphere %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'atmosphere %s --help'.\n", cmd);
	return 2;
}

bool cli_parse_uint(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (core_parse_uint(s, min, max, out) == 0)
		return true;
	fprintf(stderr, "atmosphere %s: %s '%s': expected a whole number from %llu to %llu\n", cmd, opt, s ? s : "",
		(unsigned long long)min, (unsigned long long)max);
	return false;
}

bool cli_parse_duration(const char *cmd, const char *opt, const char *s, uint64_t *out_ms)
{
	int r = core_parse_duration_ms(s, 0, UINT64_MAX, out_ms);
	if (r == 0)
		return true;
	if (r == -ERANGE)
		fprintf(stderr, "atmosphere %s: %s '%s': too long\n", cmd, opt, s);
	else
		fprintf(stderr, "atmosphere %s: %s '%s': expected a duration such as 500ms, 30s, 5m, 24h or 7d\n", cmd,
			opt, s ? s : "");
	return false;
}

int cli_config_expand(const char *cmd, int argc, char **argv, int *out_argc, char ***out_argv)
{
	const char *path = NULL;
	int at = -1, skip = 0;
	*out_argc = argc;
	*out_argv = argv;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			break;
		} else if (!strcmp(argv[i], "--config")) {
			if (i + 1 >= argc)
				return cli_usage_error(cmd, "option '--config' needs a value");
			path = argv[i + 1];
			at = i;
			skip = 2;
			break;
		} else if (!strncmp(argv[i], "--config=", 9)) {
			path = argv[i] + 9;
			at = i;
			skip = 1;
			break;
		}
	}
	if (!path)
		return 0;
	static struct net_config cfg;
	int r = net_config_load(&cfg, path);
	if (r == NET_CONFIG_E_IO) {
		fprintf(stderr, "atmosphere %s: cannot read config file '%s': %s\n", cmd, path, strerror(errno));
		return 2;
	}
	if (r != NET_CONFIG_OK) {
		fprintf(stderr, "atmosphere %s: %s:%u: %s\n", cmd, path, cfg.err_line, net_config_strerror(r));
		return 2;
	}
	char **nv = calloc((size_t)argc + 2 * cfg.num_entries + 1, sizeof *nv);
	if (!nv) {
		fprintf(stderr, "atmosphere %s: out of memory\n", cmd);
		return 2;
	}
	int n = 0;
	nv[n++] = argv[0];
	for (size_t i = 0; i < cfg.num_entries; i++) {
		const struct net_config_entry *e = &cfg.entries[i];
		size_t l = strlen(e->name) + 3;
		char *opt = malloc(l);
		if (!opt)
			return 2;
		snprintf(opt, l, "--%s", e->name);
		nv[n++] = opt;
		if (e->has_value)
			nv[n++] = strdup(e->value);
	}
	for (int i = 1; i < argc; i++)
		if (i < at || i >= at + skip)
			nv[n++] = argv[i];
	nv[n] = NULL;
	*out_argc = n;
	*out_argv = nv;
	return 0;
}

void cli_config_free(char **argv, char **orig)
{
	if (argv == orig)
		return;
	/* Strings we made are the ones not found in orig. */
	for (int i = 1; argv[i]; i++) {
		bool ours = true;
		for (int j = 0; orig[j]; j++)
			if (argv[i] == orig[j])
				ours = false;
		if (ours)
			free(argv[i]);
	}
	free(argv);
}

int main(int argc, char **argv)
{
	/* ATMOSPHERE_LOG=debug|info|warn|error sets the log level of every command. */
	const char *lvl = getenv("ATMOSPHERE_LOG");
	if (lvl) {
		if (!strcmp(lvl, "debug"))
			core_log_set_level(CORE_LOG_DEBUG);
		else if (!strcmp(lvl, "warn"))
			core_log_set_level(CORE_LOG_WARN);
		else if (!strcmp(lvl, "error"))
			core_log_set_level(CORE_LOG_ERR);
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		return cli_version(1, argv + 1);
	for (size_t i = 0; i < NUM_COMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "atmosphere: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
