/* bench/scenario.c: size distributions and scenario files (see
 * bench/scenario.h). */
#include "bench/scenario.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "bench/sched.h"
#include "opt/parse.h"

/* --- sizes --- */

/* What a distribution is made of: sizes (--size) or durations in ms
 * (--think, bench/think.h); the syntax and the sampler are the same. */
struct dist_unit {
	const char *noun;     /* "size" */
	const char *upper;    /* "SIZE", in "SIZE:WEIGHT" */
	const char *unit;     /* "bytes" */
	const char *hint;     /* " (K, M suffixes)" */
	int (*read)(const char *s, uint32_t min, uint32_t max, uint64_t *out);
};

static int read_size(const char *s, uint32_t min, uint32_t max, uint64_t *out)
{
	return opt_parse_size(s, min, max, out);
}

static int read_ms(const char *s, uint32_t min, uint32_t max, uint64_t *out)
{
	return opt_parse_duration_ms(s, min, max, out);
}

static const struct dist_unit sizes_unit = {"size", "SIZE", "bytes", " (K, M suffixes)", read_size};
static const struct dist_unit ms_unit = {"duration", "DURATION", "ms", " (ms, s, m suffixes)", read_ms};

static int parse_one(const struct dist_unit *u, const char *s, size_t len, uint32_t min, uint32_t max, uint32_t *out)
{
	char buf[32];
	uint64_t v;
	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (u->read(buf, min, max, &v))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int dist_parse(const struct dist_unit *u, const char *s, uint32_t min, uint32_t max,
		      struct bench_size_dist *out, char *errbuf, size_t errbuf_len)
{
	struct bench_size_dist d = {0};
	const char *dash = strchr(s, '-');
	bool list = strchr(s, ':') || strchr(s, ',');
	if (!list && !dash) {
		d.kind = BENCH_SIZE_FIXED;
		d.num = 1;
		if (parse_one(u, s, strlen(s), min, max, &d.size[0])) {
			snprintf(errbuf, errbuf_len, "expected a %s from %u to %u %s%s, %s:WEIGHT,... or MIN-MAX", u->noun,
				 min, max, u->unit, u->hint, u->upper);
			return -1;
		}
		*out = d;
		return 0;
	}
	if (!list) {
		d.kind = BENCH_SIZE_RANGE;
		d.num = 2;
		if (parse_one(u, s, (size_t)(dash - s), min, max, &d.size[0]) ||
		    parse_one(u, dash + 1, strlen(dash + 1), min, max, &d.size[1])) {
			snprintf(errbuf, errbuf_len, "range '%s': expected MIN-MAX, both %ss from %u to %u %s", s, u->noun,
				 min, max, u->unit);
			return -1;
		}
		if (d.size[0] > d.size[1]) {
			snprintf(errbuf, errbuf_len, "range '%s': the minimum is above the maximum", s);
			return -1;
		}
		*out = d;
		return 0;
	}
	d.kind = BENCH_SIZE_LIST;
	const char *at = s;
	for (;;) {
		const char *end = strchr(at, ',');
		size_t len = end ? (size_t)(end - at) : strlen(at);
		const char *colon = memchr(at, ':', len);
		uint64_t w;
		char wbuf[16];
		if (d.num == BENCH_SIZE_DIST_MAX) {
			snprintf(errbuf, errbuf_len, "more than %d %s:WEIGHT entries", BENCH_SIZE_DIST_MAX, u->upper);
			return -1;
		}
		if (!colon) {
			snprintf(errbuf, errbuf_len, "entry %zu '%.*s': expected %s:WEIGHT", d.num + 1,
				 (int)(len > 32 ? 32 : len), at, u->upper);
			return -1;
		}
		if (parse_one(u, at, (size_t)(colon - at), min, max, &d.size[d.num])) {
			snprintf(errbuf, errbuf_len, "entry %zu '%.*s': expected a %s from %u to %u %s", d.num + 1,
				 (int)(len > 32 ? 32 : len), at, u->noun, min, max, u->unit);
			return -1;
		}
		size_t wlen = len - (size_t)(colon + 1 - at);
		if (wlen == 0 || wlen >= sizeof wbuf) {
			w = 0;
		} else {
			memcpy(wbuf, colon + 1, wlen);
			wbuf[wlen] = '\0';
			if (opt_parse_uint(wbuf, 1, BENCH_SIZE_WEIGHT_MAX, &w))
				w = 0;
		}
		if (!w) {
			snprintf(errbuf, errbuf_len, "entry %zu '%.*s': expected a weight from 1 to %d", d.num + 1,
				 (int)(len > 32 ? 32 : len), at, BENCH_SIZE_WEIGHT_MAX);
			return -1;
		}
		d.weight[d.num++] = (uint32_t)w;
		d.total_weight += w;
		if (!end)
			break;
		at = end + 1;
	}
	*out = d;
	return 0;
}

int bench_size_dist_parse(const char *s, uint32_t min, uint32_t max, struct bench_size_dist *out, char *errbuf,
			  size_t errbuf_len)
{
	return dist_parse(&sizes_unit, s, min, max, out, errbuf, errbuf_len);
}

int bench_ms_dist_parse(const char *s, uint32_t min_ms, uint32_t max_ms, struct bench_size_dist *out, char *errbuf,
			size_t errbuf_len)
{
	return dist_parse(&ms_unit, s, min_ms, max_ms, out, errbuf, errbuf_len);
}

uint32_t bench_size_dist_max(const struct bench_size_dist *d)
{
	uint32_t m = d->size[0];
	for (size_t i = 1; i < d->num; i++)
		if (d->size[i] > m)
			m = d->size[i];
	return m;
}

uint32_t bench_size_dist_min(const struct bench_size_dist *d)
{
	uint32_t m = d->size[0];
	for (size_t i = 1; i < d->num; i++)
		if (d->size[i] < m)
			m = d->size[i];
	return m;
}

double bench_size_dist_mean(const struct bench_size_dist *d)
{
	switch (d->kind) {
	case BENCH_SIZE_RANGE:
		return ((double)d->size[0] + (double)d->size[1]) / 2;
	case BENCH_SIZE_LIST: {
		double sum = 0;
		for (size_t i = 0; i < d->num; i++)
			sum += (double)d->size[i] * d->weight[i];
		return sum / (double)d->total_weight;
	}
	default:
		return d->size[0];
	}
}

uint64_t bench_size_rng_seed(uint64_t seed, uint64_t k)
{
	uint64_t st = seed ^ (k * 0xd1342543de82ef95ull);
	return bench_size_rng_next(&st);
}

/* splitmix64 (Steele, Lea, Flood 2014): one add and a mix per draw, every
 * state a distinct output; enough for picking sizes, not for secrets. */
uint64_t bench_size_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

__extension__ typedef unsigned __int128 u128;

/* A draw in [0, n) by multiply-shift (Lemire): the bias is below n / 2^64,
 * far under anything a run can measure. */
static uint64_t below(uint64_t *state, uint64_t n)
{
	return (uint64_t)(((u128)bench_size_rng_next(state) * n) >> 64);
}

uint32_t bench_size_dist_sample(const struct bench_size_dist *d, uint64_t *state)
{
	switch (d->kind) {
	case BENCH_SIZE_RANGE:
		return d->size[0] + (uint32_t)below(state, (uint64_t)d->size[1] - d->size[0] + 1);
	case BENCH_SIZE_LIST: {
		uint64_t x = below(state, d->total_weight);
		for (size_t i = 0; i < d->num; i++) {
			if (x < d->weight[i])
				return d->size[i];
			x -= d->weight[i];
		}
		return d->size[d->num - 1]; /* not reached: the weights add up to total_weight */
	}
	default:
		return d->size[0];
	}
}

/* --- churn --- */

int bench_churn_parse(const char *s, uint32_t *out_rate, char *errbuf, size_t errbuf_len)
{
	char buf[24];
	size_t len = strlen(s);
	uint64_t v;
	if (len >= 2 && !strcmp(s + len - 2, "/s"))
		len -= 2;
	if (len == 0 || len >= sizeof buf)
		goto bad;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (opt_parse_uint(buf, 1, BENCH_CHURN_MAX_RATE, &v))
		goto bad;
	*out_rate = (uint32_t)v;
	return 0;
bad:
	snprintf(errbuf, errbuf_len, "expected N/s, sessions replaced per second, N from 1 to %u",
		 BENCH_CHURN_MAX_RATE);
	return -1;
}

uint64_t bench_churn_time(uint64_t start_ns, uint32_t rate, uint64_t i)
{
	struct bench_sched sch = {.start_ns = start_ns, .rate = rate};
	return bench_sched_time(&sch, i);
}

uint32_t bench_churn_victim(uint64_t i, uint32_t num_sessions)
{
	return (uint32_t)(i % num_sessions);
}

/* --- the scenario file --- */

static const struct opt_spec *find_spec(const struct opt_table *t, const char *name)
{
	for (size_t i = 0; i < t->num_specs; i++)
		if (t->specs[i].help && !strcmp(t->specs[i].name + 2, name))
			return &t->specs[i];
	return NULL;
}

/* Checks one value the way opt/table.h will read it, so the reason can
 * carry the line. Returns 0 or -1 with the reason in errbuf. */
static int check_value(const struct opt_spec *sp, bench_scenario_check_fn check, const char *name,
		       const char *v, char *errbuf, size_t errbuf_len)
{
	uint64_t n;
	int r = 0;
	switch (sp->kind) {
	case OPT_UINT:
		r = opt_parse_uint(v, sp->min, sp->max, &n);
		break;
	case OPT_DURATION:
		r = (sp->zero_off && !strcmp(v, "0")) ? 0 : opt_parse_duration_ms(v, sp->min, sp->max, &n);
		break;
	case OPT_SIZE:
		r = opt_parse_size(v, sp->min, sp->max, &n);
		break;
	case OPT_CHOICE:
		r = -EINVAL;
		for (size_t i = 0; i < OPT_MAX_CHOICES && sp->words[i]; i++)
			if (!strcmp(sp->words[i], v))
				r = 0;
		if (r) {
			snprintf(errbuf, errbuf_len, "%s '%s': not one of the accepted words (see --help)", name, v);
			return -1;
		}
		return 0;
	case OPT_CUSTOM:
		if (check) {
			char why[200];
			if (check(name, v, why, sizeof why)) {
				snprintf(errbuf, errbuf_len, "%s '%s': %s", name, v, why);
				return -1;
			}
		}
		return 0;
	default:
		return 0;
	}
	if (r == -ERANGE) {
		snprintf(errbuf, errbuf_len, "%s '%s': out of range (%llu to %llu%s)", name, v, (unsigned long long)sp->min,
			 (unsigned long long)sp->max, sp->kind == OPT_DURATION ? " ms" : "");
		return -1;
	}
	if (r) {
		snprintf(errbuf, errbuf_len, "%s '%s': expected %s", name, v,
			 sp->kind == OPT_UINT ? "a whole number" : sp->kind == OPT_DURATION ? "a duration such as 30s or 500ms"
											 : "a size such as 1400 or 16K");
		return -1;
	}
	return 0;
}

/* Checks entry i of out->cfg against t and appends it to argv. where is
 * "line N" (config syntax) or "JSON" (a JSON file: no lines). Returns 0 or
 * -1 with "WHERE: reason" in errbuf. */
static int take_entry(struct bench_scenario *out, size_t i, const struct opt_table *t, bench_scenario_check_fn check,
		      const char *where, bool json, char *errbuf, size_t errbuf_len)
{
	char why[320];
	struct net_config_entry *e = &out->cfg.entries[i];
	const struct opt_spec *sp = find_spec(t, e->name);
	if (!strcmp(e->name, "scenario")) {
		snprintf(errbuf, errbuf_len, "%s: a scenario file cannot name another one", where);
		return -1;
	}
	if (!sp) {
		snprintf(errbuf, errbuf_len, "%s: unknown setting '%s' (the names are the options of "
			 "'%s %s --help', without the dashes)", where, e->name, t->prog, t->cmd);
		return -1;
	}
	if (sp->kind == OPT_FLAG && e->has_value) {
		if (json)
			snprintf(errbuf, errbuf_len, "%s: '%s' is a flag: its value is true", where, e->name);
		else
			snprintf(errbuf, errbuf_len, "%s: '%s' is a flag: write it alone, without '= %s'", where,
				 e->name, e->value);
		return -1;
	}
	if (sp->kind != OPT_FLAG && !e->has_value) {
		if (json)
			snprintf(errbuf, errbuf_len, "%s: '%s' needs a value: \"%s\": \"%s\"", where, e->name, e->name,
				 sp->arg ? sp->arg : "VALUE");
		else
			snprintf(errbuf, errbuf_len, "%s: '%s' needs a value: %s = %s", where, e->name, e->name,
				 sp->arg ? sp->arg : "VALUE");
		return -1;
	}
	if (sp->kind != OPT_FLAG && check_value(sp, check, e->name, e->value, why, sizeof why)) {
		snprintf(errbuf, errbuf_len, "%s: %s", where, why);
		return -1;
	}
	/* "--" and the name (at most NET_CONFIG_MAX_NAME: the flag has room);
	 * a copy, not snprintf: name and flag are parts of one object. */
	memcpy(out->flag[i], "--", 2);
	memcpy(out->flag[i] + 2, e->name, strnlen(e->name, NET_CONFIG_MAX_NAME) + 1);
	out->argv[out->argc++] = out->flag[i];
	if (e->has_value)
		out->argv[out->argc++] = e->value;
	return 0;
}

/* One JSON value of key into entry *n: a string, a whole number >= 0 (its
 * decimal text) or true (a flag). Returns 0 or -1 with the reason. */
static int json_entry(struct bench_scenario *out, size_t *n, const char *key, struct json_object *v, char *errbuf,
		      size_t errbuf_len)
{
	if (*n >= NET_CONFIG_MAX_ENTRIES) {
		snprintf(errbuf, errbuf_len, "JSON: more than %d settings", NET_CONFIG_MAX_ENTRIES);
		return -1;
	}
	struct net_config_entry *e = &out->cfg.entries[*n];
	if (strlen(key) > NET_CONFIG_MAX_NAME) {
		snprintf(errbuf, errbuf_len, "JSON: a setting name over %d characters", NET_CONFIG_MAX_NAME);
		return -1;
	}
	snprintf(e->name, sizeof e->name, "%s", key);
	e->line = 0;
	e->has_value = 1;
	switch (json_object_get_type(v)) {
	case json_type_string: {
		const char *str = json_object_get_string(v);
		size_t len = (size_t)json_object_get_string_len(v);
		if (len > NET_CONFIG_MAX_VALUE || strlen(str) != len) {
			snprintf(errbuf, errbuf_len, "JSON: '%s': a value over %d bytes, or with a NUL", key,
				 NET_CONFIG_MAX_VALUE);
			return -1;
		}
		memcpy(e->value, str, len + 1);
		break;
	}
	case json_type_int: {
		int64_t x = json_object_get_int64(v);
		if (x < 0 || x == INT64_MAX) { /* INT64_MAX: json-c's saturation of a larger number */
			snprintf(errbuf, errbuf_len, "JSON: '%s': expected a whole number from 0 to 2^63-2", key);
			return -1;
		}
		snprintf(e->value, sizeof e->value, "%lld", (long long)x);
		break;
	}
	case json_type_boolean:
		if (!json_object_get_boolean(v)) {
			snprintf(errbuf, errbuf_len, "JSON: '%s': false: leave the setting out instead", key);
			return -1;
		}
		e->has_value = 0;
		e->value[0] = '\0';
		break;
	default:
		snprintf(errbuf, errbuf_len, "JSON: '%s': expected a string, a whole number, true, or a list of them",
			 key);
		return -1;
	}
	(*n)++;
	return 0;
}

/* A JSON scenario: one object {"name": value, ...}, value as json_entry
 * takes it, or an array of such values (the option given once each, in
 * order: "threshold": ["p99<5ms", "errors<0.1%"]). */
static int json_parse(struct bench_scenario *out, const struct opt_table *t, bench_scenario_check_fn check,
		      const char *text, size_t len, char *errbuf, size_t errbuf_len)
{
	int rc = -1;
	size_t n = 0;
	struct json_object *root = NULL;
	struct json_tokener *tok = NULL;
	if (len > NET_CONFIG_MAX_BYTES) {
		snprintf(errbuf, errbuf_len, "JSON: file over %d bytes", NET_CONFIG_MAX_BYTES);
		return -1;
	}
	if (memchr(text, '\0', len)) {
		snprintf(errbuf, errbuf_len, "JSON: a NUL byte in the file");
		return -1;
	}
	tok = json_tokener_new();
	if (!tok) {
		snprintf(errbuf, errbuf_len, "JSON: out of memory");
		return -1;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT); /* no trailing commas, single quotes, NaN */
	root = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	while (root && end < len && strchr(" \t\r\n", text[end]))
		end++;
	if (!root || jerr != json_tokener_success || end != len) {
		bool bad = !root || jerr != json_tokener_success;
		snprintf(errbuf, errbuf_len, "JSON: byte %zu: %s", bad ? json_tokener_get_parse_end(tok) : end,
			 bad ? json_tokener_error_desc(jerr) : "data after the object");
		goto out;
	}
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(errbuf, errbuf_len, "JSON: expected one object of settings, {\"name\": value, ...}");
		goto out;
	}
	json_object_object_foreach(root, key, val) {
		if (json_object_is_type(val, json_type_array)) {
			size_t k = json_object_array_length(val);
			if (!k) {
				snprintf(errbuf, errbuf_len, "JSON: '%s': an empty list", key);
				goto out;
			}
			for (size_t j = 0; j < k; j++)
				if (json_entry(out, &n, key, json_object_array_get_idx(val, j), errbuf, errbuf_len))
					goto out;
		} else if (json_entry(out, &n, key, val, errbuf, errbuf_len)) {
			goto out;
		}
	}
	out->cfg.num_entries = n;
	for (size_t i = 0; i < n; i++)
		if (take_entry(out, i, t, check, "JSON", true, errbuf, errbuf_len))
			goto out;
	rc = 0;
out:
	json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

int bench_scenario_parse(struct bench_scenario *out, const struct opt_table *t, bench_scenario_check_fn check,
			 const char *text, size_t len, unsigned *out_line, char *errbuf, size_t errbuf_len)
{
	char where[32];
	out->argc = 0;
	out->cfg.num_entries = 0;
	size_t first = 0;
	while (first < len && strchr(" \t\r\n", text[first]) && text[first])
		first++;
	if (first < len && text[first] == '{') {
		*out_line = 0;
		return json_parse(out, t, check, text, len, errbuf, errbuf_len);
	}
	int rc = net_config_parse(&out->cfg, text, len);
	if (rc != NET_CONFIG_OK) {
		*out_line = out->cfg.err_line;
		snprintf(errbuf, errbuf_len, "line %u: %s", out->cfg.err_line, net_config_strerror(rc));
		return -1;
	}
	for (size_t i = 0; i < out->cfg.num_entries; i++) {
		struct net_config_entry *e = &out->cfg.entries[i];
		*out_line = e->line;
		snprintf(where, sizeof where, "line %u", e->line);
		if (take_entry(out, i, t, check, where, false, errbuf, errbuf_len))
			return -1;
	}
	*out_line = 0;
	return 0;
}

struct bench_scenario *bench_scenario_load(const char *path, const struct opt_table *t,
					   bench_scenario_check_fn check, char *errbuf, size_t errbuf_len)
{
	char why[400];
	unsigned line;
	struct bench_scenario *sc = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(errbuf, errbuf_len, "%s: %s", path, strerror(errno));
		return NULL;
	}
	text = malloc(NET_CONFIG_MAX_BYTES + 1);
	sc = calloc(1, sizeof *sc);
	if (!text || !sc) {
		snprintf(errbuf, errbuf_len, "%s: out of memory", path);
		goto fail;
	}
	len = fread(text, 1, NET_CONFIG_MAX_BYTES + 1, f);
	if (ferror(f)) {
		snprintf(errbuf, errbuf_len, "%s: cannot read it", path);
		goto fail;
	}
	/* One byte over the limit is enough for net_config_parse to refuse it. */
	if (bench_scenario_parse(sc, t, check, text, len, &line, why, sizeof why)) {
		snprintf(errbuf, errbuf_len, "%s: %s", path, why);
		goto fail;
	}
	free(text);
	fclose(f);
	return sc;
fail:
	free(sc);
	free(text);
	fclose(f);
	return NULL;
}

void bench_scenario_free(struct bench_scenario *sc)
{
	free(sc);
}
