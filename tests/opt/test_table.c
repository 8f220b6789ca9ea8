/* opt/table: one option table, parsed and printed as help. A sample command
 * with one option of every kind is swept as a table of command lines; each
 * failing case prints its command line. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt/table.h"

struct t_opts {
	bool verbose;
	uint8_t level;          /* widths: every unsigned field size */
	uint16_t port;
	unsigned count;
	uint64_t big;
	uint64_t wait_ms;
	uint64_t warm_ms;
	size_t size;
	const char *name;
	unsigned color;
	unsigned num_tags;      /* --tag, repeated */
	char tags[4][8];
	bool hidden;
};

static int t_take_tag(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	struct t_opts *o = dst;
	(void)s;
	if (o->num_tags >= 4 || strlen(val) >= sizeof o->tags[0])
		return opt_usage_error(t, "--tag '%s': at most 4 tags of up to 7 bytes", val);
	strcpy(o->tags[o->num_tags++], val);
	return 0;
}

#define F(member) OPT_FIELD(struct t_opts, member)

static const struct opt_spec t_specs[] = {
	{"--verbose", OPT_FLAG, F(verbose), .help = "say more"},
	{"--level", OPT_UINT, F(level), .min = 1, .max = 200, .arg = "N", .help = "level, 1..{0} (default {1})",
	 .help_args = {200, 3}},
	{"--port", OPT_UINT, F(port), .min = 0, .max = 65535, .arg = "P", .help = "a port"},
	{"--count", OPT_UINT, F(count), .min = 10, .max = 20, .arg = "N", .help = "ten to twenty"},
	{"--big", OPT_UINT, F(big), .min = 0, .max = UINT64_MAX, .arg = "N", .help = "anything"},
	{"--wait", OPT_DURATION, F(wait_ms), .min = 100, .max = 60000, .arg = "S",
	 .help = "how long to wait; a help text\nof two lines"},
	{"--warmup", OPT_DURATION, F(warm_ms), .min = 1, .max = 1000, .zero_off = true, .arg = "S", .help = "0: none"},
	{"--size", OPT_SIZE, F(size), .min = 16, .max = 1024 * 1024, .arg = "BYTES", .help = "K/M suffixes"},
	{"--name", OPT_STRING, F(name), .arg = "TEXT", .help = "a name"},
	{"--color", OPT_CHOICE, F(color), .words = {"red", "green", "blue"}, .values = {10, 20, 30}, .arg = "C",
	 .help = "red, green or blue"},
	{"--tag", OPT_CUSTOM, .parse = t_take_tag, .arg = "T", .help = "repeat, up to 4"},
	{"--a-very-long-option-name", OPT_FLAG, F(hidden), .help = "wider than the column"},
	{"--secret", OPT_FLAG, F(hidden)},
};

static const struct opt_table t_table = {
	.prog = "prog",
	.cmd = "sub",
	.specs = t_specs,
	.num_specs = sizeof t_specs / sizeof t_specs[0],
	.head = "usage: prog sub [OPTIONS]\n\n{0} ways.\n\nOptions:\n",
	.head_args = {42},
	.foot = "\nThe end.\n",
	.column = 16,
};

/* Inline arrays: Criterion runs each case in a process of its own. */
struct t_case {
	char args[12][32];      /* after "sub"; the first empty one ends them */
	int want_rc;            /* -1 go on, 0 help, 2 usage error */
	char want_err[80];      /* a substring of stderr; "" none expected */
	/* when want_rc is -1: */
	bool verbose;
	unsigned level, port, count;
	uint64_t big, wait_ms, warm_ms, size;
	char name[16];
	unsigned color, num_tags;
	char last_tag[8];
};

/* The defaults the caller puts in before parsing. */
#define D false, 3, 0, 10, 0, 500, 50, 64, "", 10, 0, ""

static const struct t_case t_cases[] = {
	{{""}, -1, "", D},
	{{"--verbose"}, -1, "", true, 3, 0, 10, 0, 500, 50, 64, "", 10, 0, ""},
	/* ranges, at both ends and one past */
	{{"--level", "1"}, -1, "", false, 1, 0, 10, 0, 500, 50, 64, "", 10, 0, ""},
	{{"--level", "200"}, -1, "", false, 200, 0, 10, 0, 500, 50, 64, "", 10, 0, ""},
	{{"--level", "0"}, 2, "sub: --level '0': expected a whole number from 1 to 200", D},
	{{"--level", "201"}, 2, "--level '201': expected a whole number from 1 to 200", D},
	{{"--level", "-1"}, 2, "expected a whole number", D},
	{{"--port", "65535"}, -1, "", false, 3, 65535, 10, 0, 500, 50, 64, "", 10, 0, ""},
	{{"--port", "65536"}, 2, "from 0 to 65535", D},
	{{"--count", "9"}, 2, "from 10 to 20", D},
	{{"--count", "20"}, -1, "", false, 3, 0, 20, 0, 500, 50, 64, "", 10, 0, ""},
	{{"--big", "18446744073709551615"}, -1, "", false, 3, 0, 10, UINT64_MAX, 500, 50, 64, "", 10, 0, ""},
	{{"--wait", "2s"}, -1, "", false, 3, 0, 10, 0, 2000, 50, 64, "", 10, 0, ""},
	{{"--wait", "1m"}, -1, "", false, 3, 0, 10, 0, 60000, 50, 64, "", 10, 0, ""},
	{{"--wait", "99ms"}, 2, "--wait '99ms': expected a duration from 100 ms to 60 s", D},
	{{"--wait", "61"}, 2, "expected a duration", D},
	{{"--warmup", "0"}, -1, "", false, 3, 0, 10, 0, 500, 0, 64, "", 10, 0, ""},
	{{"--warmup", "0ms"}, 2, "--warmup '0ms': expected a duration from 1 ms", D},
	{{"--warmup", "1ms"}, -1, "", false, 3, 0, 10, 0, 500, 1, 64, "", 10, 0, ""},
	{{"--size", "16"}, -1, "", false, 3, 0, 10, 0, 500, 50, 16, "", 10, 0, ""},
	{{"--size", "1M"}, -1, "", false, 3, 0, 10, 0, 500, 50, 1048576, "", 10, 0, ""},
	{{"--size", "15"}, 2, "--size '15': expected a size from 16 to 1048576 bytes", D},
	{{"--size", "1G"}, 2, "expected a size", D},
	{{"--color", "blue"}, -1, "", false, 3, 0, 10, 0, 500, 50, 64, "", 30, 0, ""},
	{{"--color", "pink"}, 2, "--color 'pink': expected red, green or blue", D},
	{{"--name", "x y"}, -1, "", false, 3, 0, 10, 0, 500, 50, 64, "x y", 10, 0, ""},
	{{"--name", "--verbose"}, -1, "", false, 3, 0, 10, 0, 500, 50, 64, "--verbose", 10, 0, ""}, /* a value */
	{{"--name", ""}, -1, "", false, 3, 0, 10, 0, 500, 50, 64, "", 10, 0, ""},
	/* --opt=value, everywhere --opt value works */
	{{"--level=7", "--wait=3s", "--size=2K", "--color=green", "--name=a=b", "--tag=t1"}, -1, "", false, 7, 0, 10,
	 0, 3000, 50, 2048, "a=b", 20, 1, "t1"},
	{{"--level="}, 2, "--level '': expected a whole number", D},
	{{"--verbose=1"}, 2, "--verbose takes no value", D},
	/* repeated: the last value wins; a callback sees each */
	{{"--level", "5", "--level", "6"}, -1, "", false, 6, 0, 10, 0, 500, 50, 64, "", 10, 0, ""},
	{{"--tag", "a", "--tag", "b", "--tag", "c"}, -1, "", false, 3, 0, 10, 0, 500, 50, 64, "", 10, 3, "c"},
	{{"--tag", "a", "--tag", "b", "--tag", "c", "--tag", "d"}, -1, "", false, 3, 0, 10, 0, 500, 50, 64, "", 10, 4,
	 "d"},
	{{"--tag", "a", "--tag", "b", "--tag", "c", "--tag", "d", "--tag", "e"}, 2, "at most 4 tags", D},
	{{"--tag", "eightbyt"}, 2, "--tag 'eightbyt'", D},
	/* missing values, unknown options */
	{{"--level"}, 2, "sub: --level needs a value\nTry 'prog sub --help'.", D},
	{{"--verbose", "--wait"}, 2, "--wait needs a value", D},
	{{"--frobnicate"}, 2, "prog sub: unknown option '--frobnicate'\nTry 'prog sub --help'.", D},
	{{"--frob=1"}, 2, "unknown option '--frob=1'", D},
	{{"--leve", "1"}, 2, "unknown option '--leve'", D},               /* no abbreviations */
	{{"-v"}, 2, "unknown option '-v'", D},
	{{"stray"}, 2, "unknown option 'stray'", D},
	{{"--help=1"}, 2, "unknown option '--help=1'", D},
	/* hidden options are accepted */
	{{"--secret"}, -1, "", D},
	/* help stops at once; errors before it win */
	{{"--help"}, 0, "", D},
	{{"-h", "--frobnicate"}, 0, "", D},
	{{"--level", "0", "--help"}, 2, "--level '0'", D},
};

ParameterizedTestParameters(opt_table, parse)
{
	return cr_make_param_array(struct t_case, t_cases, sizeof t_cases / sizeof t_cases[0]);
}

ParameterizedTest(const struct t_case *c, opt_table, parse)
{
	char *argv[16] = {"sub"};
	char line[256] = "sub";
	int argc = 1;
	for (; argc <= 12 && c->args[argc - 1][0]; argc++) {
		argv[argc] = (char *)c->args[argc - 1];
		strncat(line, " ", sizeof line - strlen(line) - 1);
		strncat(line, argv[argc], sizeof line - strlen(line) - 1);
	}
	/* "--name ''": an empty value is still a value. */
	if (argc == 2 && !strcmp(argv[1], "--name")) {
		argv[argc++] = "";
	}
	struct t_opts o = {.level = 3, .count = 10, .wait_ms = 500, .warm_ms = 50, .size = 64, .name = "", .color = 10};
	char *err = NULL, *help = NULL;
	size_t err_len = 0, help_len = 0;
	FILE *mem = open_memstream(&err, &err_len), *hmem = open_memstream(&help, &help_len);
	cr_assert(mem && hmem);
	FILE *saved = stderr;
	stderr = mem;
	int rc = opt_table_parse(&t_table, &o, argc, argv, hmem, NULL);
	stderr = saved;
	fclose(mem);
	fclose(hmem);
	cr_assert_eq(rc, c->want_rc, "%s: returned %d, want %d (stderr: %s)", line, rc, c->want_rc, err);
	if (c->want_err[0])
		cr_assert_not_null(strstr(err, c->want_err), "%s: stderr '%s' lacks '%s'", line, err, c->want_err);
	else
		cr_assert_eq(err_len, 0, "%s: unexpected stderr '%s'", line, err);
	cr_assert_eq(help_len > 0, rc == 0, "%s: help printed %zu bytes", line, help_len);
	free(err);
	free(help);
	if (rc != -1)
		return;
	cr_assert_eq(o.verbose, c->verbose, "%s: verbose", line);
	cr_assert_eq(o.level, c->level, "%s: level %u", line, o.level);
	cr_assert_eq(o.port, c->port, "%s: port %u", line, o.port);
	cr_assert_eq(o.count, c->count, "%s: count %u", line, o.count);
	cr_assert_eq(o.big, c->big, "%s: big", line);
	cr_assert_eq(o.wait_ms, c->wait_ms, "%s: wait %llu", line, (unsigned long long)o.wait_ms);
	cr_assert_eq(o.warm_ms, c->warm_ms, "%s: warmup %llu", line, (unsigned long long)o.warm_ms);
	cr_assert_eq(o.size, c->size, "%s: size %zu", line, o.size);
	cr_assert_str_eq(o.name, c->name, "%s: name", line);
	cr_assert_eq(o.color, c->color, "%s: color %u", line, o.color);
	cr_assert_eq(o.num_tags, c->num_tags, "%s: tags %u", line, o.num_tags);
	if (c->num_tags)
		cr_assert_str_eq(o.tags[o.num_tags - 1], c->last_tag, "%s: last tag", line);
}

Test(opt_table, seen_bits_name_the_options_given)
{
	char *argv[] = {"sub", "--wait", "2s", "--verbose", "--wait=3s"};
	struct t_opts o = {0};
	uint64_t seen = 0;
	cr_assert_eq(opt_table_parse(&t_table, &o, 5, argv, stdout, &seen), -1);
	cr_assert(opt_table_seen(&t_table, seen, "--wait"));
	cr_assert(opt_table_seen(&t_table, seen, "--verbose"));
	cr_assert_not(opt_table_seen(&t_table, seen, "--level"));
	cr_assert_not(opt_table_seen(&t_table, seen, "--no-such-option"));
	cr_assert_eq(seen, (1u << 0) | (1u << 5));
}

Test(opt_table, help_is_generated_from_the_rows)
{
	static const char want[] =
		"usage: prog sub [OPTIONS]\n\n"
		"42 ways.\n\n"
		"Options:\n"
		"  --verbose     say more\n"
		"  --level N     level, 1..200 (default 3)\n"
		"  --port P      a port\n"
		"  --count N     ten to twenty\n"
		"  --big N       anything\n"
		"  --wait S      how long to wait; a help text\n"
		"                of two lines\n"
		"  --warmup S    0: none\n"
		"  --size BYTES  K/M suffixes\n"
		"  --name TEXT   a name\n"
		"  --color C     red, green or blue\n"
		"  --tag T       repeat, up to 4\n"
		"  --a-very-long-option-name wider than the column\n"
		"\nThe end.\n";
	char *got = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&got, &len);
	cr_assert_not_null(f);
	opt_table_help(&t_table, f);
	fclose(f);
	cr_assert_str_eq(got, want);
	free(got);
}
