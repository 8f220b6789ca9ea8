#include "net/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *net_config_strerror(int status)
{
	switch (status) {
	case NET_CONFIG_OK: return "ok";
	case NET_CONFIG_E_TOO_LARGE: return "file too large (limit 64 KiB)";
	case NET_CONFIG_E_TOO_MANY: return "too many settings (limit 128)";
	case NET_CONFIG_E_BAD_NAME: return "bad setting name (expected an option name such as 'port' or 'tls-cert')";
	case NET_CONFIG_E_BAD_VALUE: return "bad value (control characters, unbalanced quotes, or over 1024 bytes)";
	case NET_CONFIG_E_NUL: return "NUL byte in the file";
	case NET_CONFIG_E_IO: return "cannot read the file";
	default: return "unknown error";
	}
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static int parse_line(struct net_config *out, const char *p, size_t n, unsigned line)
{
	size_t i = 0, j;
	while (i < n && is_space(p[i]))
		i++;
	if (i == n || p[i] == '#')
		return NET_CONFIG_OK;
	if (out->num_entries == NET_CONFIG_MAX_ENTRIES)
		return NET_CONFIG_E_TOO_MANY;
	struct net_config_entry *e = &out->entries[out->num_entries];
	j = i;
	while (j < n && ((p[j] >= 'a' && p[j] <= 'z') || (p[j] >= '0' && p[j] <= '9') || p[j] == '-'))
		j++;
	if (j == i || j - i > NET_CONFIG_MAX_NAME)
		return NET_CONFIG_E_BAD_NAME;
	memcpy(e->name, p + i, j - i);
	e->name[j - i] = 0;
	e->line = line;
	i = j;
	while (i < n && is_space(p[i]))
		i++;
	if (i == n || p[i] == '#') {
		e->has_value = 0;
		e->value[0] = 0;
		out->num_entries++;
		return NET_CONFIG_OK;
	}
	if (p[i] != '=')
		return NET_CONFIG_E_BAD_NAME;
	i++;
	while (i < n && is_space(p[i]))
		i++;
	size_t vs, ve;
	if (i < n && p[i] == '"') {
		vs = ++i;
		while (i < n && p[i] != '"')
			i++;
		if (i == n)
			return NET_CONFIG_E_BAD_VALUE;
		ve = i++;
		while (i < n && is_space(p[i]))
			i++;
		if (i < n && p[i] != '#')
			return NET_CONFIG_E_BAD_VALUE;
	} else {
		vs = i;
		while (i < n && p[i] != '#')
			i++;
		ve = i;
		while (ve > vs && is_space(p[ve - 1]))
			ve--;
	}
	if (ve - vs > NET_CONFIG_MAX_VALUE)
		return NET_CONFIG_E_BAD_VALUE;
	for (size_t k = vs; k < ve; k++)
		if ((unsigned char)p[k] < 0x20 && p[k] != '\t')
			return NET_CONFIG_E_BAD_VALUE;
	memcpy(e->value, p + vs, ve - vs);
	e->value[ve - vs] = 0;
	e->has_value = 1;
	out->num_entries++;
	return NET_CONFIG_OK;
}

static int fail(struct net_config *out, unsigned line, int status)
{
	if (!out->num_errors)
		out->err_line = line;
	if (out->num_errors < NET_CONFIG_MAX_ERRORS)
		out->errors[out->num_errors++] = (struct net_config_error){.line = line, .status = status};
	return status;
}

int net_config_parse(struct net_config *out, const char *text, size_t len)
{
	size_t start = 0;
	unsigned line = 1;
	int first = NET_CONFIG_OK;
	out->num_entries = 0;
	out->num_errors = 0;
	out->err_line = 0;
	if (len > NET_CONFIG_MAX_BYTES)
		return fail(out, 0, NET_CONFIG_E_TOO_LARGE);
	if (memchr(text, 0, len)) {
		const char *z = memchr(text, 0, len);
		for (const char *q = text; q < z; q++)
			line += *q == '\n';
		return fail(out, line, NET_CONFIG_E_NUL);
	}
	while (start <= len) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - text) : len;
		int r = parse_line(out, text + start, end - start, line);
		if (r) {
			fail(out, line, r);
			if (first == NET_CONFIG_OK)
				first = r;
			if (r == NET_CONFIG_E_TOO_MANY)
				break;
		}
		if (!nl)
			break;
		start = end + 1;
		line++;
	}
	return first;
}

int net_config_load(struct net_config *out, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	if (!f)
		return NET_CONFIG_E_IO;
	buf = malloc(NET_CONFIG_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		errno = ENOMEM;
		return NET_CONFIG_E_IO;
	}
	n = fread(buf, 1, NET_CONFIG_MAX_BYTES + 1, f);
	int bad = ferror(f);
	fclose(f);
	int r = bad ? NET_CONFIG_E_IO : net_config_parse(out, buf, n);
	free(buf);
	return r;
}
