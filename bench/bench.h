#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H
/* bench/bench.h: the `atmosphere-bench` command's subcommands.
 *
 * Each subcommand is one function int bench_cmd_<name>(int argc, char **argv)
 * in bench/bench_<name>.c, listed in the table in bench/main.c (which also
 * prints the help). argv[0] is the subcommand's name. Return the process exit
 * code: 0 success, 1 failure (a server failed, a measurement could not be
 * taken), 2 usage error. Every subcommand answers --help; its options are
 * one table (opt/table.h) that also prints that help. */

struct bench_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

int bench_cmd_core(int argc, char **argv);
int bench_cmd_relay(int argc, char **argv);
int bench_cmd_merge(int argc, char **argv);
int bench_cmd_stun(int argc, char **argv);
int bench_cmd_punch(int argc, char **argv);
int bench_cmd_worker(int argc, char **argv);
int bench_cmd_coord(int argc, char **argv);

#endif
