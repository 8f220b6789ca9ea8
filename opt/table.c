/* Table-driven option parsing and help: see opt/table.h. */
#include "opt/table.h"

#include <assert.h>
#include <stdarg.h>
#include <string.h>

#include "opt/parse.h"

int opt_usage_error(const struct opt_table *t, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s %s: ", t->prog, t->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s %s --help'.\n", t->prog, t->cmd);
	return 2;
}

/* Writes v into the unsigned field of size bytes at p (the range checks
 * made sure it fits). */
static void store_uint(void *p, size_t size, uint64_t v)
{
	switch (size) {
	case 1: {
		uint8_t x = (uint8_t)v;
		memcpy(p, &x, 1);
		break;
	}
	case 2: {
		uint16_t x = (uint16_t)v;
		memcpy(p, &x, 2);
		break;
	}
	case 4: {
		uint32_t x = (uint32_t)v;
		memcpy(p, &x, 4);
		break;
	}
	default:
		assert(size == 8);
		memcpy(p, &v, 8);
		break;
	}
}

/* The words of a choice as "a, b or c". */
static void words_list(const struct opt_spec *s, char *out, size_t out_len)
{
	size_t n = 0, used = 0;
	while (n < OPT_MAX_CHOICES && s->words[n])
		n++;
	out[0] = '\0';
	for (size_t i = 0; i < n && used < out_len; i++) {
		const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
		int w = snprintf(out + used, out_len - used, "%s%s", sep, s->words[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static int apply(const struct opt_table *t, const struct opt_spec *s, void *dst, const char *val)
{
	uint8_t *field = (uint8_t *)dst + s->off;
	uint64_t v;
	switch (s->kind) {
	case OPT_FLAG: {
		bool yes = true;
		assert(s->size == sizeof yes);
		memcpy(field, &yes, sizeof yes);
		return 0;
	}
	case OPT_STRING:
		assert(s->size == sizeof val);
		memcpy(field, &val, sizeof val);
		return 0;
	case OPT_UINT:
		if (opt_parse_uint(val, s->min, s->max, &v) != 0) {
			fprintf(stderr, "%s %s: %s '%s': expected a whole number from %llu to %llu\n", t->prog, t->cmd,
				s->name, val, (unsigned long long)s->min, (unsigned long long)s->max);
			return 2;
		}
		break;
	case OPT_DURATION:
		if (s->zero_off && !strcmp(val, "0")) {
			v = 0;
		} else if (opt_parse_duration_ms(val, s->min, s->max, &v) != 0) {
			fprintf(stderr,
				"%s %s: %s '%s': expected a duration from %llu ms to %llu s, such as 3, 3s or 500ms\n",
				t->prog, t->cmd, s->name, val, (unsigned long long)s->min,
				(unsigned long long)(s->max / 1000));
			return 2;
		}
		break;
	case OPT_SIZE:
		if (opt_parse_size(val, s->min, s->max, &v) != 0) {
			fprintf(stderr, "%s %s: %s '%s': expected a size from %llu to %llu bytes, such as 16384 or 16K\n",
				t->prog, t->cmd, s->name, val, (unsigned long long)s->min, (unsigned long long)s->max);
			return 2;
		}
		break;
	case OPT_CHOICE: {
		size_t i = 0;
		while (i < OPT_MAX_CHOICES && s->words[i] && strcmp(s->words[i], val))
			i++;
		if (i == OPT_MAX_CHOICES || !s->words[i]) {
			char list[256];
			words_list(s, list, sizeof list);
			return opt_usage_error(t, "%s '%s': expected %s", s->name, val, list);
		}
		v = s->values[i];
		break;
	}
	default:
		assert(s->kind == OPT_CUSTOM && s->parse);
		return s->parse(t, s, dst, val);
	}
	store_uint(field, s->size, v);
	return 0;
}

int opt_table_parse(const struct opt_table *t, void *dst, int argc, char **argv, FILE *help_out,
		    uint64_t *out_seen)
{
	uint64_t seen = 0;
	assert(t->num_specs <= 64);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			opt_table_help(t, help_out);
			return 0;
		}
		/* "--name=value": the name is what comes before the first '='. */
		const char *eq = strncmp(a, "--", 2) ? NULL : strchr(a, '=');
		size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
		size_t k = 0;
		while (k < t->num_specs && (strlen(t->specs[k].name) != name_len || strncmp(t->specs[k].name, a, name_len)))
			k++;
		if (k == t->num_specs)
			return opt_usage_error(t, "unknown option '%s'", a);
		const struct opt_spec *s = &t->specs[k];
		const char *val = NULL;
		if (s->kind == OPT_FLAG) {
			if (eq)
				return opt_usage_error(t, "%s takes no value", s->name);
		} else if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return opt_usage_error(t, "%s needs a value", a);
		}
		int rc = apply(t, s, dst, val);
		if (rc)
			return rc;
		seen |= 1ull << k;
	}
	if (out_seen)
		*out_seen = seen;
	return -1;
}

bool opt_table_seen(const struct opt_table *t, uint64_t seen, const char *name)
{
	for (size_t k = 0; k < t->num_specs; k++)
		if (!strcmp(t->specs[k].name, name))
			return (seen >> k) & 1;
	return false;
}

/* Prints text with {0}..{3} replaced by args, and after every '\n' that
 * is not the last character, indent spaces. */
static void print_text(FILE *f, const char *text, const uint64_t args[static OPT_HELP_ARGS], int indent)
{
	for (const char *p = text; *p; p++) {
		if (p[0] == '{' && p[1] >= '0' && p[1] < '0' + OPT_HELP_ARGS && p[2] == '}') {
			fprintf(f, "%llu", (unsigned long long)args[p[1] - '0']);
			p += 2;
			continue;
		}
		fputc(*p, f);
		if (*p == '\n' && p[1])
			fprintf(f, "%*s", indent, "");
	}
}

void opt_table_help(const struct opt_table *t, FILE *f)
{
	if (t->head)
		print_text(f, t->head, t->head_args, 0);
	for (size_t k = 0; k < t->num_specs; k++) {
		const struct opt_spec *s = &t->specs[k];
		if (!s->help)
			continue;
		int n = fprintf(f, "  %s%s%s", s->name, s->arg ? " " : "", s->arg ? s->arg : "");
		fprintf(f, "%*s", n < t->column ? t->column - n : 1, "");
		print_text(f, s->help, s->help_args, t->column);
		fputc('\n', f);
	}
	if (t->foot)
		print_text(f, t->foot, (const uint64_t[OPT_HELP_ARGS]){0}, 0);
}
