/* atmosphere: the command-line entry point. Subcommands come from one table
 * that also prints the help (STYLE.md §11). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "opt/parse.h"
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
	{"hosts", cli_hosts, "print /etc/hosts lines for the mesh's overlay addresses"},
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
	if (opt_parse_uint(s, min, max, out) == 0)
		return true;
	fprintf(stderr, "atmosphere %s: %s '%s': expected a whole number from %llu to %llu\n", cmd, opt, s ? s : "",
		(unsigned long long)min, (unsigned long long)max);
	return false;
}

bool cli_port_mapping_off(void)
{
	const char *v = getenv("ATMOSPHERE_PORT_MAPPING");
	return v && (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no"));
}

bool cli_parse_duration(const char *cmd, const char *opt, const char *s, uint64_t *out_ms)
{
	int r = opt_parse_duration_ms(s, 0, UINT64_MAX, out_ms);
	if (r == 0)
		return true;
	if (r == -ERANGE)
		fprintf(stderr, "atmosphere %s: %s '%s': too long\n", cmd, opt, s);
	else
		fprintf(stderr, "atmosphere %s: %s '%s': expected a duration such as 500ms, 30s, 5m, 24h or 7d\n", cmd,
			opt, s ? s : "");
	return false;
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
