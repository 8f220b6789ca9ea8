/* net/config: the "name = value" file format shared with the command line. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/config.h"

static struct net_config cfg; /* 130 KiB: not on the stack */

static int parse(const char *s)
{
	return net_config_parse(&cfg, s, strlen(s));
}

Test(net_config, parses_names_values_flags_and_comments)
{
	cr_assert_eq(parse("# a relay\n\nhost = 0.0.0.0\nport=8080  # trailing\n  quiet\n"
			   "tls-cert = \"/etc/a b.pem\" # quoted keeps spaces\nempty =\n"),
		     NET_CONFIG_OK);
	cr_assert_eq(cfg.num_entries, 5);
	cr_assert_str_eq(cfg.entries[0].name, "host");
	cr_assert_str_eq(cfg.entries[0].value, "0.0.0.0");
	cr_assert_eq(cfg.entries[0].line, 3);
	cr_assert_str_eq(cfg.entries[1].value, "8080");
	cr_assert_str_eq(cfg.entries[2].name, "quiet");
	cr_assert_eq(cfg.entries[2].has_value, 0);
	cr_assert_str_eq(cfg.entries[3].value, "/etc/a b.pem");
	cr_assert_eq(cfg.entries[4].has_value, 1);
	cr_assert_str_eq(cfg.entries[4].value, "");
}

Test(net_config, repeated_names_are_kept_in_order)
{
	cr_assert_eq(parse("stun = a:1\nstun = b:2\n"), NET_CONFIG_OK);
	cr_assert_eq(cfg.num_entries, 2);
	cr_assert_str_eq(cfg.entries[1].value, "b:2");
}

Test(net_config, reports_the_line_of_an_error)
{
	cr_assert_eq(parse("port = 1\n\nHost = x\n"), NET_CONFIG_E_BAD_NAME);
	cr_assert_eq(cfg.err_line, 3);
}

/* A checker reports every bad line in one run: parsing goes on past one,
 * keeps the good lines and records each bad one with its line and reason. */
Test(net_config, records_every_bad_line_and_keeps_the_good_ones)
{
	cr_assert_eq(parse("port = 1\nPort = 2\nhost = \"x\n# fine\nquiet\n= v\nthreads = 2\n"),
		     NET_CONFIG_E_BAD_NAME);
	cr_assert_eq(cfg.err_line, 2);
	cr_assert_eq(cfg.num_errors, 3);
	cr_assert_eq(cfg.errors[0].line, 2);
	cr_assert_eq(cfg.errors[0].status, NET_CONFIG_E_BAD_NAME);
	cr_assert_eq(cfg.errors[1].line, 3);
	cr_assert_eq(cfg.errors[1].status, NET_CONFIG_E_BAD_VALUE);
	cr_assert_eq(cfg.errors[2].line, 6);
	cr_assert_eq(cfg.errors[2].status, NET_CONFIG_E_BAD_NAME);
	cr_assert_eq(cfg.num_entries, 3);
	cr_assert_str_eq(cfg.entries[0].name, "port");
	cr_assert_str_eq(cfg.entries[1].name, "quiet");
	cr_assert_eq(cfg.entries[1].line, 5);
	cr_assert_str_eq(cfg.entries[2].name, "threads");
	/* A good file leaves no error behind from an earlier parse. */
	cr_assert_eq(parse("port = 1\n"), NET_CONFIG_OK);
	cr_assert_eq(cfg.num_errors, 0);
	cr_assert_eq(cfg.err_line, 0);
}

Test(net_config, records_at_most_max_errors)
{
	char many[(NET_CONFIG_MAX_ERRORS + 4) * 4 + 1] = "";
	for (int i = 0; i < NET_CONFIG_MAX_ERRORS + 4; i++)
		strcat(many, "= x\n");
	cr_assert_eq(parse(many), NET_CONFIG_E_BAD_NAME);
	cr_assert_eq(cfg.num_errors, NET_CONFIG_MAX_ERRORS);
	cr_assert_eq(cfg.errors[NET_CONFIG_MAX_ERRORS - 1].line, NET_CONFIG_MAX_ERRORS);
}

Test(net_config, refuses_oversized_files_and_too_many_settings)
{
	size_t n = NET_CONFIG_MAX_BYTES + 1;
	char *big = malloc(n);
	memset(big, '#', n);
	cr_assert_eq(net_config_parse(&cfg, big, n), NET_CONFIG_E_TOO_LARGE);
	free(big);
	char many[NET_CONFIG_MAX_ENTRIES * 8 + 16] = "";
	for (int i = 0; i <= NET_CONFIG_MAX_ENTRIES; i++)
		strcat(many, "quiet\n");
	cr_assert_eq(parse(many), NET_CONFIG_E_TOO_MANY);
}

Test(net_config, refuses_a_value_over_the_limit)
{
	char line[NET_CONFIG_MAX_VALUE + 32];
	memset(line, 'x', sizeof line);
	memcpy(line, "host = ", 7);
	line[sizeof line - 1] = 0;
	cr_assert_eq(parse(line), NET_CONFIG_E_BAD_VALUE);
}

/* Every file in tests/net/malformed_config is refused (not parsed into
 * something else). */
Test(net_config, refuses_every_file_of_the_malformed_corpus)
{
	char dir[512];
	snprintf(dir, sizeof dir, "%s", __FILE__);
	*strrchr(dir, '/') = 0;
	strcat(dir, "/malformed_config");
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "%s", dir);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		int r = net_config_load(&cfg, path);
		cr_assert(r < 0 && r != NET_CONFIG_E_IO, "%s was accepted (%d)", e->d_name, r);
		n++;
	}
	closedir(d);
	cr_assert_geq(n, 7);
}
