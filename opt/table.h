#ifndef OPT_TABLE_H
#define OPT_TABLE_H
/* opt/table.h: a command's options as one table, parsed and documented from
 * the same rows.
 *
 * Each option is listed once: its name, the kind of value it takes (none, a
 * whole number, a duration or a size within a range, a string, one of a few
 * words, or anything a callback checks), where the value goes (a field of
 * the caller's options struct, by offset, so a table is static const data
 * that a man page generator could read too) and its help line. --help's
 * text is the table's head, one block per option in table order, and its
 * foot.
 *
 * Syntax: "--name value" and "--name=value"; flags take no value; "--help"
 * and "-h" print the help and stop; a later option of the same name
 * overrides an earlier one (a callback sees each). Names are matched whole:
 * no abbreviations, no clustering, no argument permutation -- a value may
 * start with '-'. The loop is our own rather than getopt_long so that
 * usage errors keep the command's own words and nothing global changes.
 *
 * Errors print one line to stderr, "PROG CMD: ..." (and for usage mistakes
 * a pointer to --help), and make opt_table_parse return 2, the usage exit
 * status. Nothing here allocates. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum opt_kind {
	OPT_FLAG,       /* no value: the bool field becomes true */
	OPT_UINT,       /* a decimal in [min, max] (opt/parse.h), into an unsigned field of any width */
	OPT_DURATION,   /* "3", "3s", "500ms", "2m" in [min, max] ms, into an unsigned field */
	OPT_SIZE,       /* bytes, "16K", "1M" in [min, max], into an unsigned field */
	OPT_STRING,     /* the value itself, into a const char * field, borrowed from argv */
	OPT_CHOICE,     /* one of words[], into an unsigned field: the matching values[] */
	OPT_CUSTOM,     /* parse(table, spec, dst, value) checks and stores */
};

/* OPT_MAX_CHOICES: words an OPT_CHOICE option accepts at the most.
 * OPT_HELP_ARGS: numbers a help text may quote, as {0} .. {3}. */
#define OPT_MAX_CHOICES 8
#define OPT_HELP_ARGS 4

struct opt_spec;
struct opt_table;

/* opt_custom_fn checks value, given to the option spec of table t, and
 * stores it into the options struct dst. Returns 0, or 2 after printing why
 * (opt_usage_error). */
typedef int (*opt_custom_fn)(const struct opt_table *t, const struct opt_spec *spec, void *dst, const char *value);

/* struct opt_spec: one option. Fields not named in a row are zero. */
struct opt_spec {
	const char *name;       /* "--sessions" */
	enum opt_kind kind;
	size_t off, size;       /* the destination field: OPT_FIELD(struct, member) */
	uint64_t min, max;      /* OPT_UINT, OPT_DURATION (ms), OPT_SIZE: the accepted range */
	bool zero_off;          /* OPT_DURATION: a bare "0" is also accepted and stores 0 (off) */
	const char *words[OPT_MAX_CHOICES];    /* OPT_CHOICE, NULL-terminated when fewer */
	unsigned values[OPT_MAX_CHOICES];
	opt_custom_fn parse;    /* OPT_CUSTOM */
	const char *arg;        /* in the help: "N", "S", "HOST:PORT"; NULL for flags */
	/* The help text; "\n" starts a continuation line; {0}..{3} print
	 * help_args[0..3] in decimal. NULL: a hidden option (accepted, not
	 * listed). */
	const char *help;
	uint64_t help_args[OPT_HELP_ARGS];
};

/* OPT_FIELD(type, member): the destination of a row. */
#define OPT_FIELD(type, member) .off = offsetof(type, member), .size = sizeof(((type *)0)->member)

/* struct opt_table: one command's options and help. */
struct opt_table {
	const char *prog;       /* "atmosphere-bench" */
	const char *cmd;        /* "relay", "stun --client" */
	const struct opt_spec *specs;
	size_t num_specs;       /* at most 64 */
	const char *head;       /* the help up to and including "Options:\n"; {0}..{3} as above */
	uint64_t head_args[OPT_HELP_ARGS];
	const char *foot;       /* after the options, or NULL */
	int column;             /* where option help texts start */
};

/* opt_table_parse applies argv[1..argc) (argv[0] is the command) to the
 * options struct dst, which holds the defaults on entry. Returns -1 when
 * the command should go on, 0 after printing the help to help_out, 2 after
 * printing a usage error to stderr; dst may then be partly written. When
 * out_seen is not NULL, bit i of *out_seen says specs[i] was given. */
int opt_table_parse(const struct opt_table *t, void *dst, int argc, char **argv, FILE *help_out,
		    uint64_t *out_seen);

/* opt_table_seen returns whether the option named name was given, from the
 * seen bits opt_table_parse wrote. */
bool opt_table_seen(const struct opt_table *t, uint64_t seen, const char *name);

/* opt_table_help prints the whole help text to f. */
void opt_table_help(const struct opt_table *t, FILE *f);

/* opt_usage_error prints "PROG CMD: message" and "Try 'PROG CMD --help'."
 * to stderr and returns 2. */
int opt_usage_error(const struct opt_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
