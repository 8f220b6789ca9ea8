/* bench/stage.c: stage plans (see bench/stage.h). */
#include "bench/stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt/parse.h"

__extension__ typedef unsigned __int128 u128;

int bench_stage_parse(const char *s, uint32_t max_target, struct bench_stage_plan *out, char *errbuf,
		      size_t errbuf_len)
{
	struct bench_stage_plan p = {0};
	const char *at = s;
	if (!*s) {
		snprintf(errbuf, errbuf_len, "expected DURATION:TARGET[,DURATION:TARGET]..., e.g. 30s:100,1m:100,10s:0");
		return -1;
	}
	for (;;) {
		const char *end = strchr(at, ',');
		size_t len = end ? (size_t)(end - at) : strlen(at);
		char item[64], *colon;
		uint64_t ms, target;
		if (len == 0 || len >= sizeof item) {
			snprintf(errbuf, errbuf_len, "stage %zu is empty or too long", p.num + 1);
			return -1;
		}
		memcpy(item, at, len);
		item[len] = '\0';
		colon = strchr(item, ':');
		if (!colon) {
			snprintf(errbuf, errbuf_len, "stage %zu '%s': expected DURATION:TARGET", p.num + 1, item);
			return -1;
		}
		*colon = '\0';
		if (p.num == BENCH_STAGE_MAX) {
			snprintf(errbuf, errbuf_len, "more than %d stages", BENCH_STAGE_MAX);
			return -1;
		}
		if (opt_parse_duration_ms(item, 0, BENCH_STAGE_DURATION_MAX_MS, &ms)) {
			snprintf(errbuf, errbuf_len, "stage %zu: duration '%s': expected 0 to 24h, e.g. 30s, 2m, 500ms",
				 p.num + 1, item);
			return -1;
		}
		if (opt_parse_uint(colon + 1, 0, max_target, &target)) {
			snprintf(errbuf, errbuf_len, "stage %zu: target '%s': expected 0 to %u", p.num + 1, colon + 1,
				 max_target);
			return -1;
		}
		p.st[p.num].duration_ns = ms * 1000000u;
		p.st[p.num].target = (uint32_t)target;
		p.num++;
		if (!end)
			break;
		at = end + 1;
	}
	*out = p;
	return 0;
}

uint64_t bench_stage_total_ns(const struct bench_stage_plan *p)
{
	uint64_t t = 0;
	for (size_t i = 0; i < p->num; i++)
		t += p->st[i].duration_ns;
	return t;
}

uint32_t bench_stage_peak(const struct bench_stage_plan *p)
{
	uint32_t m = 0;
	for (size_t i = 0; i < p->num; i++)
		if (p->st[i].target > m)
			m = p->st[i].target;
	return m;
}

struct bench_stage_at bench_stage_eval(const struct bench_stage_plan *p, uint64_t t0_ns, uint64_t t_ns)
{
	struct bench_stage_at at = {.stage = 0, .target = p->st[0].target, .level = 0};
	if (t_ns < t0_ns)
		return at;
	uint64_t dt = t_ns - t0_ns;
	uint32_t from = 0;
	for (size_t i = 0; i < p->num; i++) {
		const struct bench_stage *st = &p->st[i];
		if (dt < st->duration_ns) {
			/* from + (target - from) * dt / duration, rounded down either way. */
			at.stage = i;
			at.target = st->target;
			if (st->target >= from)
				at.level = from + (uint32_t)((u128)(st->target - from) * dt / st->duration_ns);
			else
				at.level = from - (uint32_t)(((u128)(from - st->target) * dt + st->duration_ns - 1) /
							     st->duration_ns);
			return at;
		}
		dt -= st->duration_ns;
		from = st->target;
	}
	at.stage = p->num - 1;
	at.target = p->st[p->num - 1].target;
	at.level = at.target;
	return at;
}

bool bench_stage_active(const struct bench_stage_plan *p, uint64_t t0_ns, uint64_t t_ns, uint32_t k)
{
	return bench_stage_eval(p, t0_ns, t_ns).level > k;
}

uint64_t bench_stage_credit0(uint32_t grid_rate)
{
	return grid_rate ? grid_rate - 1u : 0;
}

bool bench_stage_thin(const struct bench_stage_plan *p, uint64_t t0_ns, uint64_t t_ns, uint32_t grid_rate,
		      uint64_t *credit)
{
	uint32_t level = bench_stage_eval(p, t0_ns, t_ns).level;
	/* *credit < grid_rate between calls, so one slot sends at most once. */
	*credit += level < grid_rate ? level : grid_rate;
	if (!grid_rate || *credit < grid_rate)
		return false;
	*credit -= grid_rate;
	return true;
}
