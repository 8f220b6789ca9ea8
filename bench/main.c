/* atmosphere-bench: measures the figures docs/PERFORMANCE.md records.
 * Subcommands come from one table that also prints the help (STYLE.md §11);
 * a new tool is one bench/bench_<name>.c and one row here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

#ifndef ATMOS_VERSION
#define ATMOS_VERSION "0.1.0"
#endif

static const struct bench_cmd commands[] = {
	{"core", bench_cmd_core, "coroutine switch, TCP echo and zero-copy send through the reactor"},
	{"relay", bench_cmd_relay, "load-test a relay: throughput, one-way latency, connections, wire bytes"},
	{"merge", bench_cmd_merge, "add up latency histogram files (relay --hist-out) and print percentiles"},
	{"stun", bench_cmd_stun, "STUN Binding answers/s, loss and latency of a server"},
	{"coord", bench_cmd_coord, "several generator hosts over SSH: one relay scenario, merged results"},
	{"worker", bench_cmd_worker, "one generator host of 'coord' (started by it over SSH; binary frames on stdout)"},
	{"punch", bench_cmd_punch, "NAT lab (root): time to first packet and to direct, per NAT pair; --node: RSS, keepalive"},
};

#define NUM_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: atmosphere-bench COMMAND [OPTIONS]\n\n"
		   "Measures Atmosphere beside a baseline taken in the same run, on loopback.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < NUM_COMMANDS; i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'atmosphere-bench COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("atmosphere-bench %s\n", ATMOS_VERSION);
		return 0;
	}
	for (size_t i = 0; i < NUM_COMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "atmosphere-bench: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
