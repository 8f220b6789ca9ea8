#ifndef NET_CONFIG_H
#define NET_CONFIG_H
/* net/config.h: the configuration file format of every atmosphere command.
 *
 * One setting per line, "name = value", where name is a command-line option
 * without its leading dashes (so the file and the command line share one
 * vocabulary and one parser: the CLI turns each line into "--name value"
 * before its own arguments, which therefore win). "name" alone sets a flag.
 * Blank lines and lines starting with '#' are ignored; values may be wrapped
 * in double quotes to keep leading/trailing spaces or a '#'. Example:
 *
 *     # /etc/atmosphere/relay.conf
 *     host = 0.0.0.0
 *     port = 443
 *     tls-cert = /etc/letsencrypt/live/relay.example.org/fullchain.pem
 *     quiet
 *
 * A pure parser: no I/O except net_config_load, which reads the file. */
#include <stddef.h>
#include <stdint.h>

enum {
	NET_CONFIG_MAX_BYTES = 64 * 1024, /* a larger file is refused */
	NET_CONFIG_MAX_ENTRIES = 128,
	NET_CONFIG_MAX_NAME = 40,
	NET_CONFIG_MAX_VALUE = 1024,
	NET_CONFIG_MAX_ERRORS = 16,    /* bad lines recorded; parsing goes on past them */
};

enum net_config_status {
	NET_CONFIG_OK = 0,
	NET_CONFIG_E_TOO_LARGE = -1,   /* file over NET_CONFIG_MAX_BYTES */
	NET_CONFIG_E_TOO_MANY = -2,    /* more than NET_CONFIG_MAX_ENTRIES settings */
	NET_CONFIG_E_BAD_NAME = -3,    /* not [a-z0-9-]+, or too long */
	NET_CONFIG_E_BAD_VALUE = -4,   /* control bytes, bad quoting, too long */
	NET_CONFIG_E_NUL = -5,         /* a NUL byte in the file */
	NET_CONFIG_E_IO = -6,          /* net_config_load: cannot read the file */
};

struct net_config_entry {
	char name[NET_CONFIG_MAX_NAME + 1];
	char value[NET_CONFIG_MAX_VALUE + 1];
	int has_value;                 /* 0 for a bare flag */
	unsigned line;
};

/* One bad line: what was wrong with it. */
struct net_config_error {
	unsigned line;                 /* 1-based; 0 for the whole file */
	int status;                    /* a NET_CONFIG_E_* */
};

struct net_config {
	struct net_config_entry entries[NET_CONFIG_MAX_ENTRIES];
	size_t num_entries;
	unsigned err_line;             /* line of the first error (1-based) */
	/* Every bad line, in order (the first NET_CONFIG_MAX_ERRORS of them):
	 * a checker reports them all at once instead of one per run. */
	struct net_config_error errors[NET_CONFIG_MAX_ERRORS];
	size_t num_errors;
};

/* net_config_parse parses text[0..len) into *out (about 130 KiB: heap or
 * static storage). Returns NET_CONFIG_OK or the first error, with
 * out->err_line set. A bad line is skipped and parsing goes on, so
 * out->entries holds every good line and out->errors every bad one
 * (a file too large or with a NUL byte is one error for the whole file; past
 * NET_CONFIG_MAX_ENTRIES parsing stops). */
int net_config_parse(struct net_config *out, const char *text, size_t len);

/* net_config_load reads and parses a file. On NET_CONFIG_E_IO errno says why. */
int net_config_load(struct net_config *out, const char *path);

/* net_config_strerror describes a status. */
const char *net_config_strerror(int status);

#endif
