#ifndef TOOLS_CLI_H
#define TOOLS_CLI_H
/* tools/cli.h: the `atmosphere` command's subcommands.
 *
 * Each subcommand is one function int cli_<name>(int argc, char **argv) in
 * tools/cmd_<name>.c, listed in the table in tools/main.c (which also prints
 * the help). argv[0] is the subcommand's name. Return the process exit code:
 * 0 success, 1 failure, 2 usage error. Every subcommand answers --help. */
#include <stdbool.h>
#include <stdint.h>

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

int cli_network(int argc, char **argv);
int cli_relay(int argc, char **argv);
int cli_stun_server(int argc, char **argv);
int cli_version(int argc, char **argv);
int cli_init(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_join(int argc, char **argv);
int cli_peers(int argc, char **argv);
int cli_hosts(int argc, char **argv);
int cli_ping(int argc, char **argv);
int cli_send(int argc, char **argv);
int cli_recv(int argc, char **argv);
int cli_remove(int argc, char **argv);
int cli_rotate_secret(int argc, char **argv);

/* cli_usage_error prints "atmosphere NAME: message" and a pointer to --help
 * to stderr and returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_parse_uint parses a decimal in [min, max]; false (with a message to
 * stderr naming opt) when it is not one. */
bool cli_parse_uint(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* cli_parse_duration parses "30", "30s", "500ms", "5m", "24h", "7d" into
 * milliseconds; false with a message when malformed. */
bool cli_parse_duration(const char *cmd, const char *opt, const char *s, uint64_t *out_ms);

/* cli_port_mapping_off: whether $ATMOSPHERE_PORT_MAPPING says "off" (or
 * "0", "no"): serve, join and network then leave the home router alone, as
 * with --no-port-mapping. The test suite sets it so that nothing on the
 * machine's own network is asked. */
bool cli_port_mapping_off(void);

#endif
