/* Adding up the workers' rows and summaries: see bench/coord_merge.h. */
#include "bench/coord_merge.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Parses s[0..len) as one JSON object; NULL with the reason in errbuf. */
static struct json_object *parse_object(const char *s, size_t len, char *errbuf, size_t errbuf_len)
{
	if (len > INT32_MAX) {
		snprintf(errbuf, errbuf_len, "too long");
		return NULL;
	}
	struct json_tokener *tok = json_tokener_new();
	if (!tok) {
		snprintf(errbuf, errbuf_len, "out of memory");
		return NULL;
	}
	struct json_object *o = json_tokener_parse_ex(tok, s, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!o || jerr != json_tokener_success) {
		snprintf(errbuf, errbuf_len, "not JSON: %s",
			 jerr == json_tokener_continue ? "truncated" : json_tokener_error_desc(jerr));
		json_object_put(o);
		return NULL;
	}
	for (; used < len; used++) /* a final newline or blanks only */
		if (!strchr(" \t\r\n", s[used])) {
			snprintf(errbuf, errbuf_len, "bytes after the JSON object at %zu", used);
			json_object_put(o);
			return NULL;
		}
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(errbuf, errbuf_len, "not a JSON object");
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The unsigned integer at key in o (a nested "a.b" path is two calls). */
static int get_uint(struct json_object *o, const char *key, uint64_t *out, char *errbuf, size_t errbuf_len)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0) {
		snprintf(errbuf, errbuf_len, "\"%s\": expected an unsigned integer", key);
		return -1;
	}
	*out = json_object_get_uint64(v);
	return 0;
}

/* The number at key in o; NAN for null (or a missing key when optional). */
static int get_num(struct json_object *o, const char *key, bool optional, double *out, char *errbuf,
		   size_t errbuf_len)
{
	struct json_object *v = NULL;
	bool has = o && json_object_object_get_ex(o, key, &v);
	if ((!has && optional) || (has && !v)) {
		*out = NAN;
		return 0;
	}
	if (!has || !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))) {
		snprintf(errbuf, errbuf_len, "\"%s\": expected a number", key);
		return -1;
	}
	*out = json_object_get_double(v);
	return 0;
}

/* The object at key in o, or NULL (also for JSON null). */
static struct json_object *get_obj(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

const char *const bench_coord_err_kinds[BENCH_COORD_ERR_KINDS] = {
	"refused", "timeout", "http_409", "http_429", "http_503", "http_other", "closed", "reset", "proto", "tls", "io",
};

int bench_coord_row_parse(const char *s, size_t len, struct bench_coord_row *out, char *errbuf, size_t errbuf_len)
{
	struct json_object *o = parse_object(s, len, errbuf, errbuf_len);
	if (!o)
		return -1;
	struct bench_coord_row r = {0};
	int rc = -1;
	struct json_object *phase, *lat, *errs = get_obj(o, "errors");
	if (get_uint(o, "interval", &r.idx, errbuf, errbuf_len) ||
	    get_num(o, "t_start_s", false, &r.t0_s, errbuf, errbuf_len) ||
	    get_num(o, "t_end_s", false, &r.t1_s, errbuf, errbuf_len) ||
	    get_uint(o, "sessions_up", &r.sessions_up, errbuf, errbuf_len) ||
	    get_uint(o, "sessions", &r.sessions, errbuf, errbuf_len) ||
	    get_uint(o, "msgs", &r.msgs, errbuf, errbuf_len) || get_uint(o, "bytes", &r.bytes, errbuf, errbuf_len) ||
	    get_uint(errs, "total", &r.errors, errbuf, errbuf_len))
		goto out;
	if (!json_object_object_get_ex(o, "phase", &phase) || !json_object_is_type(phase, json_type_string)) {
		snprintf(errbuf, errbuf_len, "\"phase\": expected \"warmup\" or \"run\"");
		goto out;
	}
	const char *ph = json_object_get_string(phase);
	if (strcmp(ph, "warmup") && strcmp(ph, "run")) {
		snprintf(errbuf, errbuf_len, "\"phase\": expected \"warmup\" or \"run\"");
		goto out;
	}
	r.warmup = !strcmp(ph, "warmup");
	/* Each kind is optional (an older worker wrote the total only), but
	 * when present an unsigned integer. */
	for (size_t k = 0; k < BENCH_COORD_ERR_KINDS; k++) {
		struct json_object *v;
		if (json_object_object_get_ex(errs, bench_coord_err_kinds[k], &v) &&
		    get_uint(errs, bench_coord_err_kinds[k], &r.err_kind[k], errbuf, errbuf_len))
			goto out;
	}
	if ((lat = get_obj(o, "latency")) && get_uint(lat, "samples", &r.samples, errbuf, errbuf_len))
		goto out;
	if (isnan(r.t0_s) || isnan(r.t1_s) || r.t0_s < 0 || r.t1_s < r.t0_s) {
		snprintf(errbuf, errbuf_len, "\"t_start_s\", \"t_end_s\": not an interval");
		goto out;
	}
	*out = r;
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void bench_coord_row_add(struct bench_coord_row *acc, const struct bench_coord_row *r)
{
	acc->sessions_up = add_sat(acc->sessions_up, r->sessions_up);
	acc->sessions = add_sat(acc->sessions, r->sessions);
	acc->msgs = add_sat(acc->msgs, r->msgs);
	acc->bytes = add_sat(acc->bytes, r->bytes);
	acc->errors = add_sat(acc->errors, r->errors);
	for (size_t k = 0; k < BENCH_COORD_ERR_KINDS; k++)
		acc->err_kind[k] = add_sat(acc->err_kind[k], r->err_kind[k]);
	acc->samples = add_sat(acc->samples, r->samples);
	if (r->t0_s < acc->t0_s)
		acc->t0_s = r->t0_s;
	if (r->t1_s > acc->t1_s)
		acc->t1_s = r->t1_s;
}

void bench_coord_summary_init(struct bench_coord_summary *acc)
{
	*acc = (struct bench_coord_summary){0};
}

int bench_coord_summary_parse(const char *s, size_t len, struct bench_coord_summary *out, char *errbuf,
			      size_t errbuf_len)
{
	struct json_object *o = parse_object(s, len, errbuf, errbuf_len);
	if (!o)
		return -1;
	struct bench_coord_summary r = {0};
	int rc = -1;
	struct json_object *setup = get_obj(o, "setup"), *errs = get_obj(o, "errors");
	struct json_object *lat = get_obj(o, "latency"), *thr = get_obj(o, "throughput");
	if (get_uint(o, "sessions", &r.sessions, errbuf, errbuf_len) ||
	    get_uint(setup, "sessions_up", &r.sessions_up, errbuf, errbuf_len) ||
	    get_uint(errs, "total", &r.errors, errbuf, errbuf_len) ||
	    get_num(o, "bench_cpu", true, &r.bench_cpu, errbuf, errbuf_len))
		goto out;
	struct json_object *started = NULL;
	if (json_object_object_get_ex(o, "started_unix_ns", &started) && started &&
	    get_uint(o, "started_unix_ns", &r.started_unix_ns, errbuf, errbuf_len))
		goto out;
	r.msgs_per_s = r.mb_per_s = NAN;
	r.measured_s = 0;
	if (lat) {
		r.latency = true;
		if (get_uint(lat, "sent", &r.sent, errbuf, errbuf_len) ||
		    get_uint(lat, "received", &r.received, errbuf, errbuf_len) ||
		    get_num(lat, "measured_s", false, &r.measured_s, errbuf, errbuf_len))
			goto out;
		/* The latency summary has no rates of its own: received over
		 * the measured time, as `relay` counts its msgs/s. */
		if (r.measured_s > 0)
			r.msgs_per_s = (double)r.received / r.measured_s;
	} else if (thr) {
		if (get_num(thr, "measured_s", false, &r.measured_s, errbuf, errbuf_len) ||
		    get_num(thr, "msgs_per_s", false, &r.msgs_per_s, errbuf, errbuf_len) ||
		    get_num(thr, "mb_per_s", false, &r.mb_per_s, errbuf, errbuf_len))
			goto out;
	}
	if (isnan(r.measured_s) || r.measured_s < 0) {
		snprintf(errbuf, errbuf_len, "\"measured_s\": not a duration");
		goto out;
	}
	*out = r;
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

void bench_coord_summary_add(struct bench_coord_summary *acc, const struct bench_coord_summary *s)
{
	bool first = !acc->num;
	acc->num++;
	acc->latency |= s->latency;
	acc->sessions = add_sat(acc->sessions, s->sessions);
	acc->sessions_up = add_sat(acc->sessions_up, s->sessions_up);
	acc->sent = add_sat(acc->sent, s->sent);
	acc->received = add_sat(acc->received, s->received);
	acc->errors = add_sat(acc->errors, s->errors);
	if (s->measured_s > acc->measured_s)
		acc->measured_s = s->measured_s;
	if (first) {
		acc->msgs_per_s = s->msgs_per_s;
		acc->mb_per_s = s->mb_per_s;
		acc->bench_cpu = s->bench_cpu;
	} else {
		acc->msgs_per_s += s->msgs_per_s;
		acc->mb_per_s += s->mb_per_s;
		acc->bench_cpu += s->bench_cpu;
	}
}

void bench_coord_threshold_input(const struct bench_coord_summary *sum, const struct bench_hdr *hist,
				 struct bench_threshold_input *in)
{
	bool lat = hist && bench_hdr_count(hist);
	in->p50_ns = lat ? (double)bench_hdr_percentile(hist, 50.0) : NAN;
	in->p90_ns = lat ? (double)bench_hdr_percentile(hist, 90.0) : NAN;
	in->p99_ns = lat ? (double)bench_hdr_percentile(hist, 99.0) : NAN;
	in->p999_ns = lat ? (double)bench_hdr_percentile(hist, 99.9) : NAN;
	in->max_ns = lat ? (double)bench_hdr_max(hist) : NAN;
	in->errors = (double)sum->errors;
	/* As `relay`: two connection attempts per session and every message sent. */
	in->operations = 2.0 * (double)sum->sessions + (double)sum->sent;
	in->delivered_pct = NAN;
	if (sum->latency && sum->sent)
		in->delivered_pct = 100.0 * (double)(sum->received < sum->sent ? sum->received : sum->sent) /
				    (double)sum->sent;
	in->msgs_per_s = sum->msgs_per_s;
	in->mb_per_s = sum->mb_per_s;
}
