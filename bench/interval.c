/* Live per-interval results: see bench/interval.h. */
#include "bench/interval.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bench/proc.h"
#include "bench/report.h"
#include "core/reactor.h"

struct slot {
	bool used;
	struct bench_interval_row row;
	uint64_t t0_ns, t1_ns;
	struct bench_hdr *lat;
};

struct bench_interval {
	struct bench_interval_opts o;
	pthread_mutex_t mu;
	struct bench_hdr **whist;                /* per worker: recorded into by its thread */
	struct bench_interval_counts *last;      /* per worker: cumulative at its last submission */
	struct slot slots[BENCH_INTERVAL_PENDING];
	uint64_t next;                           /* the next row to write */
	uint64_t rows;
	bool tty_shown;                          /* a terminal line is up, to be ended */
};

struct bench_interval *bench_interval_new(const struct bench_interval_opts *o, int *err)
{
	if (o->num_err > BENCH_INTERVAL_ERR_MAX || !o->period_ns || !o->num_workers) {
		*err = -EINVAL;
		return NULL;
	}
	struct bench_interval *iv = calloc(1, sizeof *iv);
	if (!iv)
		goto nomem;
	iv->o = *o;
	pthread_mutex_init(&iv->mu, NULL);
	iv->whist = calloc(o->num_workers, sizeof *iv->whist);
	iv->last = calloc(o->num_workers, sizeof *iv->last);
	if (!iv->whist || !iv->last)
		goto nomem;
	if (o->latency) {
		for (unsigned i = 0; i < o->num_workers; i++)
			if (!(iv->whist[i] = bench_hdr_new(BENCH_HDR_SIG_DEFAULT, BENCH_HDR_HIGHEST_DEFAULT, NULL)))
				goto nomem;
		for (unsigned i = 0; i < BENCH_INTERVAL_PENDING; i++)
			if (!(iv->slots[i].lat = bench_hdr_new(BENCH_HDR_SIG_DEFAULT, BENCH_HDR_HIGHEST_DEFAULT, NULL)))
				goto nomem;
	}
	return iv;
nomem:
	bench_interval_free(iv);
	*err = -ENOMEM;
	return NULL;
}

void bench_interval_free(struct bench_interval *iv)
{
	if (!iv)
		return;
	if (iv->whist)
		for (unsigned i = 0; i < iv->o.num_workers; i++)
			bench_hdr_free(iv->whist[i]);
	for (unsigned i = 0; i < BENCH_INTERVAL_PENDING; i++)
		bench_hdr_free(iv->slots[i].lat);
	free(iv->whist);
	free(iv->last);
	pthread_mutex_destroy(&iv->mu);
	free(iv);
}

struct bench_hdr *bench_interval_hist(struct bench_interval *iv, unsigned worker)
{
	return iv->whist[worker];
}

uint64_t bench_interval_rows(const struct bench_interval *iv)
{
	return iv->rows;
}

static uint64_t errors_total(const struct bench_interval *iv, const struct bench_interval_counts *c)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < iv->o.num_err; i++)
		n += c->errors[i];
	return n;
}

static bool has_stages(const struct bench_interval *iv)
{
	return iv->o.stages && iv->o.stages->num;
}

static bool has_rate_stages(const struct bench_interval *iv)
{
	return iv->o.rate_stages && iv->o.rate_stages->num;
}

static double per_s(uint64_t n, const struct bench_interval_row *r)
{
	double d = r->t1_s - r->t0_s;
	return d > 0 ? (double)n / d : NAN;
}

void bench_interval_write_json(const struct bench_interval *iv, FILE *f, const struct bench_interval_row *r)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "interval", bench_report_uint(r->idx));
	json_object_object_add(o, "phase", json_object_new_string(r->warmup ? "warmup" : "run"));
	json_object_object_add(o, "t_start_s", bench_report_num(r->t0_s, 3));
	json_object_object_add(o, "t_end_s", bench_report_num(r->t1_s, 3));
	json_object_object_add(o, "workers", bench_report_uint(r->workers));
	json_object_object_add(o, "sessions_up", bench_report_uint(r->d.sessions));
	json_object_object_add(o, "sessions", bench_report_uint(iv->o.sessions_total));
	if (has_stages(iv)) {
		/* stage: 1-based, where the plan is at t_end_s; the target it
		 * ramps to, the level it asks for then, and the sessions that
		 * were sending at the workers' last look. */
		json_object_object_add(o, "stage", bench_report_uint(r->stage.stage + 1));
		json_object_object_add(o, "stage_target", bench_report_uint(r->stage.target));
		json_object_object_add(o, "stage_level", bench_report_uint(r->stage.level));
		json_object_object_add(o, "sessions_active", bench_report_uint(r->d.active));
	}
	if (has_rate_stages(iv)) {
		/* The same for --rate-stage: its stage, target and the
		 * per-session rate it asks for at t_end_s. */
		json_object_object_add(o, "rate_stage", bench_report_uint(r->rate_stage.stage + 1));
		json_object_object_add(o, "rate_target", bench_report_uint(r->rate_stage.target));
		json_object_object_add(o, "rate_level", bench_report_uint(r->rate_stage.level));
	}
	json_object_object_add(o, "msgs", bench_report_uint(r->d.msgs));
	json_object_object_add(o, "msgs_per_s", bench_report_num(per_s(r->d.msgs, r), 1));
	json_object_object_add(o, "bytes", bench_report_uint(r->d.bytes));
	json_object_object_add(o, "mb_per_s", bench_report_num(per_s(r->d.bytes, r) / 1e6, 3));
	json_object_object_add(o, "latency", r->lat ? bench_report_interval_latency(r->lat) : NULL);
	struct json_object *e = json_object_new_object();
	json_object_object_add(e, "total", bench_report_uint(errors_total(iv, &r->d)));
	for (unsigned i = 0; i < iv->o.num_err; i++)
		json_object_object_add(e, iv->o.err_names[i], bench_report_uint(r->d.errors[i]));
	json_object_object_add(o, "errors", e);
	fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* "p50 45.1us p99 80.2us", or "p50 - p99 -" without samples. */
static void latency_words(const struct bench_interval_row *r, char *out, size_t out_len)
{
	if (!r->lat || !bench_hdr_count(r->lat)) {
		snprintf(out, out_len, "p50 - p99 -");
		return;
	}
	snprintf(out, out_len, "p50 %.1fus p99 %.1fus", (double)bench_hdr_percentile(r->lat, 50.0) / 1e3,
		 (double)bench_hdr_percentile(r->lat, 99.0) / 1e3);
}

/* "errors 3 (refused 2, reset 1)", or "errors 0". */
static void error_words(const struct bench_interval *iv, const struct bench_interval_row *r, char *out, size_t out_len)
{
	uint64_t total = errors_total(iv, &r->d);
	int n = snprintf(out, out_len, "errors %llu", (unsigned long long)total);
	const char *sep = " (";
	for (unsigned i = 0; total && i < iv->o.num_err && n > 0 && (size_t)n < out_len; i++) {
		if (!r->d.errors[i])
			continue;
		n += snprintf(out + n, out_len - (size_t)n, "%s%s %llu", sep, iv->o.err_names[i],
			      (unsigned long long)r->d.errors[i]);
		sep = ", ";
	}
	if (total && n > 0 && (size_t)n < out_len)
		snprintf(out + n, out_len - (size_t)n, ")");
}

void bench_interval_write_line(const struct bench_interval *iv, FILE *f, const struct bench_interval_row *r)
{
	char lat[64] = "", err[256];
	if (r->lat) {
		lat[0] = ' ';
		latency_words(r, lat + 1, sizeof lat - 2);
		strcat(lat, ",");
	}
	char stage[160] = "";
	int n = 0;
	error_words(iv, r, err, sizeof err);
	if (has_stages(iv))
		n = snprintf(stage, sizeof stage, " stage %zu/%zu -> %u, active %llu,", r->stage.stage + 1,
			     iv->o.stages->num, r->stage.target, (unsigned long long)r->d.active);
	if (has_rate_stages(iv) && n >= 0 && (size_t)n < sizeof stage)
		snprintf(stage + n, sizeof stage - (size_t)n, " rate stage %zu/%zu -> %u/s, at %u/s,",
			 r->rate_stage.stage + 1, iv->o.rate_stages->num, r->rate_stage.target, r->rate_stage.level);
	fprintf(f, "atmosphere-bench %s: %s %7.2f-%.2fs: up %llu/%u,%s %.0f msgs/s, %.2f MB/s,%s %s", iv->o.cmd,
		r->warmup ? "warmup" : "run   ", r->t0_s, r->t1_s, (unsigned long long)r->d.sessions, iv->o.sessions_total,
		stage, per_s(r->d.msgs, r), per_s(r->d.bytes, r) / 1e6, lat, err);
}

/* The terminal's line, short enough for 80 columns in the common case:
 * "[run 2.00-3.00s] up 10/10 | 1000 msg/s 0.06 MB/s | p50 45.0us p99 45.0us | err 3". */
static void compact_line(const struct bench_interval *iv, FILE *f, const struct bench_interval_row *r)
{
	char lat[64] = "";
	if (r->lat) {
		memcpy(lat, " | ", 4);
		latency_words(r, lat + 3, sizeof lat - 3);
	}
	fprintf(f, "[%s %.2f-%.2fs] up %llu/%u | %.0f msg/s %.2f MB/s%s | err %llu", r->warmup ? "warmup" : "run", r->t0_s,
		r->t1_s, (unsigned long long)r->d.sessions, iv->o.sessions_total, per_s(r->d.msgs, r),
		per_s(r->d.bytes, r) / 1e6, lat, (unsigned long long)errors_total(iv, &r->d));
}

/* Writes slot s's row and frees the slot. Called with the mutex held. */
static void emit(struct bench_interval *iv, struct slot *s)
{
	s->row.lat = iv->o.latency ? s->lat : NULL;
	if (has_stages(iv))
		s->row.stage = bench_stage_eval(iv->o.stages, 0, s->row.t1_ns);
	if (has_rate_stages(iv))
		s->row.rate_stage = bench_stage_eval(iv->o.rate_stages, 0, s->row.t1_ns);
	if (iv->o.live) {
		if (iv->o.tty) {
			/* Rewritten in place: \r, the line, then erase what a longer
			 * line before left (ECMA-48 EL, "\033[K"). */
			fputc('\r', iv->o.live);
			compact_line(iv, iv->o.live, &s->row);
			fputs("\033[K", iv->o.live);
			iv->tty_shown = true;
		} else {
			bench_interval_write_line(iv, iv->o.live, &s->row);
			fputc('\n', iv->o.live);
		}
		fflush(iv->o.live);
	}
	if (iv->o.json) {
		bench_interval_write_json(iv, iv->o.json, &s->row);
		if (iv->o.json_hist && s->row.lat) {
			/* For `worker`: the row's histogram, so that a coordinator
			 * merges intervals exactly (bench/coord_wire.h). */
			size_t hlen = 0;
			char *line = bench_hdr_encode(s->row.lat, &hlen);
			if (line)
				fwrite(line, 1, hlen, iv->o.json);
			free(line);
		}
		fflush(iv->o.json);
	}
	iv->rows++;
	iv->next = s->row.idx + 1;
	s->used = false;
	if (s->lat)
		bench_hdr_reset(s->lat);
}

/* Writes rows next .. last in order, those some worker never submitted
 * included; rows nobody submitted are skipped. */
static void emit_through(struct bench_interval *iv, uint64_t last)
{
	while (iv->next <= last) {
		struct slot *s = &iv->slots[iv->next % BENCH_INTERVAL_PENDING];
		if (s->used && s->row.idx == iv->next)
			emit(iv, s);
		else
			iv->next++;
	}
}

void bench_interval_submit(struct bench_interval *iv, unsigned worker, uint64_t idx, bool warmup, uint64_t t0_ns,
			   uint64_t t1_ns, const struct bench_interval_counts *cum)
{
	struct bench_interval_counts *last = &iv->last[worker];
	struct bench_hdr *wh = iv->whist[worker];
	pthread_mutex_lock(&iv->mu);
	if (idx < iv->next) {
		/* Its row was forced out without this worker: the growth is
		 * dropped, not carried into a later row. */
		goto done;
	}
	if (idx >= iv->next + BENCH_INTERVAL_PENDING)
		emit_through(iv, idx - BENCH_INTERVAL_PENDING);
	struct slot *s = &iv->slots[idx % BENCH_INTERVAL_PENDING];
	if (!s->used) {
		struct bench_hdr *lat = s->lat;
		memset(s, 0, sizeof *s);
		s->lat = lat;
		s->used = true;
		s->row.idx = idx;
		s->row.warmup = warmup;
		s->row.t0_s = (double)t0_ns / 1e9;
		s->row.t1_s = (double)t1_ns / 1e9;
		s->row.t1_ns = t1_ns;
	}
	if (wh)
		bench_hdr_merge(s->lat, wh); /* same layout by construction */
	s->row.workers++;
	s->row.d.sessions += cum->sessions;
	s->row.d.active += cum->active;
	s->row.d.msgs += cum->msgs - last->msgs;
	s->row.d.bytes += cum->bytes - last->bytes;
	for (unsigned i = 0; i < iv->o.num_err; i++)
		s->row.d.errors[i] += cum->errors[i] - last->errors[i];
	/* Rows complete from the next one on go out in order. */
	for (;;) {
		struct slot *n = &iv->slots[iv->next % BENCH_INTERVAL_PENDING];
		if (!n->used || n->row.idx != iv->next || n->row.workers < iv->o.num_workers)
			break;
		emit(iv, n);
	}
done:
	*last = *cum;
	if (wh)
		bench_hdr_reset(wh);
	pthread_mutex_unlock(&iv->mu);
}

void bench_interval_finish(struct bench_interval *iv)
{
	pthread_mutex_lock(&iv->mu);
	uint64_t top = 0;
	bool any = false;
	for (unsigned i = 0; i < BENCH_INTERVAL_PENDING; i++)
		if (iv->slots[i].used && (!any || iv->slots[i].row.idx > top)) {
			top = iv->slots[i].row.idx;
			any = true;
		}
	if (any)
		emit_through(iv, top);
	if (iv->tty_shown && iv->o.live) {
		fputc('\n', iv->o.live);
		fflush(iv->o.live);
		iv->tty_shown = false;
	}
	pthread_mutex_unlock(&iv->mu);
}

uint64_t bench_interval_next_boundary(const struct bench_load *l, uint64_t period_ns, uint64_t t)
{
	uint64_t end = t < l->t_meas0 ? l->t_meas0 : l->t_meas1;
	if (t >= l->t_meas1)
		return l->t_meas1;
	return end - t > period_ns ? t + period_ns : end;
}

void bench_interval_ticker_main(void *arg)
{
	struct bench_interval_ticker *t = arg;
	const struct bench_load *l = t->load;
	bench_load_wait(l, BENCH_LOAD_RUN, 10);
	if (bench_load_phase(l) != BENCH_LOAD_RUN)
		return; /* the run never started */
	uint64_t period = t->iv->o.period_ns;
	uint64_t start = l->t_run0;
	/* One pass per interval; the timeline bounds the count. */
	for (uint64_t k = 0; start < l->t_meas1 && k < UINT64_MAX / 2; k++) {
		uint64_t end = bench_interval_next_boundary(l, period, start);
		for (uint64_t now = bench_mono_ns(); now < end; now = bench_mono_ns()) {
			if (bench_load_phase(l) >= t->stop_phase)
				return;
			uint64_t ms = (end - now + 999999u) / 1000000u;
			if (core_sleep(ms > 100 ? 100 : (unsigned)ms) == -ECANCELED)
				return;
		}
		struct bench_interval_counts c;
		memset(&c, 0, sizeof c);
		t->snap(t->arg, &c);
		bench_interval_submit(t->iv, t->worker, k, end <= l->t_meas0 && l->t_meas0 > l->t_run0, start - l->t_run0,
				      end - l->t_run0, &c);
		start = end;
	}
}
