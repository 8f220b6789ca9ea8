/* bench/punch_report.c: pairs, records and figures of `atmosphere-bench
 * punch` (bench/punch_report.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/punch_report.h"
#include "bench/stats.h"

const char *const bench_punch_types[BENCH_PUNCH_NUM_TYPES] = {"none", "full_cone", "restricted_cone",
							      "port_restricted", "symmetric"};

enum { LINE_MAX_LEN = 2048, MAX_FIELDS = 16 };

static void copy_cut(char *dst, size_t dst_len, const char *src)
{
	size_t n = strlen(src);
	if (n >= dst_len)
		n = dst_len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

size_t bench_punch_pairs_default(char out[][BENCH_PUNCH_PAIR_LEN])
{
	size_t n = 0;
	/* As tests/node/pairs.sh with ND_ORDER=one: Rob on the more restrictive
	 * NAT of each unordered pair. */
	for (size_t m = 0; m < BENCH_PUNCH_NUM_TYPES; m++)
		for (size_t r = m; r < BENCH_PUNCH_NUM_TYPES; r++)
			snprintf(out[n++], BENCH_PUNCH_PAIR_LEN, "%s:%s", bench_punch_types[r], bench_punch_types[m]);
	return n;
}

static bool is_type(const char *s, size_t len)
{
	for (size_t i = 0; i < BENCH_PUNCH_NUM_TYPES; i++)
		if (strlen(bench_punch_types[i]) == len && !memcmp(bench_punch_types[i], s, len))
			return true;
	return false;
}

/* A pair is "TYPE:TYPE", exactly. */
static bool is_pair(const char *s, size_t len)
{
	const char *colon = memchr(s, ':', len);
	if (!colon)
		return false;
	size_t a = (size_t)(colon - s);
	return is_type(s, a) && is_type(colon + 1, len - a - 1);
}

int bench_punch_pairs_parse(const char *spec, char out[][BENCH_PUNCH_PAIR_LEN], size_t max, size_t *out_num,
			    char *err, size_t err_len)
{
	size_t n = 0;
	const char *s = spec ? spec : "";
	*out_num = 0;
	while (*s) {
		size_t skip = strspn(s, ", ");
		s += skip;
		if (!*s)
			break;
		size_t len = strcspn(s, ", ");
		char one[BENCH_PUNCH_PAIR_LEN * 16];
		char all[BENCH_PUNCH_MAX_PAIRS][BENCH_PUNCH_PAIR_LEN];
		size_t num_add = 0;
		if (len == 3 && !memcmp(s, "all", 3)) {
			num_add = bench_punch_pairs_default(all);
		} else if (len < BENCH_PUNCH_PAIR_LEN && is_pair(s, len)) {
			memcpy(all[0], s, len);
			all[0][len] = '\0';
			num_add = 1;
		} else {
			copy_cut(one, len + 1 < sizeof one ? len + 1 : sizeof one, s);
			snprintf(err, err_len, "'%s' is not ROB:MATT with each one of none, full_cone, restricted_cone, "
					       "port_restricted, symmetric (or 'all')", one);
			return -1;
		}
		for (size_t i = 0; i < num_add; i++) {
			bool dup = false;
			for (size_t j = 0; j < n && !dup; j++)
				dup = !strcmp(out[j], all[i]);
			if (dup)
				continue;
			if (n >= max) {
				snprintf(err, err_len, "more than %zu pairs", max);
				return -1;
			}
			memcpy(out[n++], all[i], BENCH_PUNCH_PAIR_LEN);
		}
		s += len;
	}
	if (!n) {
		snprintf(err, err_len, "no pair given");
		return -1;
	}
	*out_num = n;
	return 0;
}

/* --- records --- */

static bool parse_u64(const char *s, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_unsigned(const char *s, unsigned *out)
{
	uint64_t v;
	if (!parse_u64(s, &v) || v > 1000000)
		return false;
	*out = (unsigned)v;
	return true;
}

/* "-" is "not reached" (-1). */
static bool parse_ms(const char *s, int64_t *out)
{
	uint64_t v;
	if (!strcmp(s, "-")) {
		*out = -1;
		return true;
	}
	if (!parse_u64(s, &v) || v > INT64_MAX)
		return false;
	*out = (int64_t)v;
	return true;
}

/* A port-mapping protocol as `peers --json` names it, or "-". */
static bool is_map(const char *s)
{
	return !strcmp(s, "-") || !strcmp(s, "pcp") || !strcmp(s, "natpmp") || !strcmp(s, "upnp");
}

int bench_punch_rec_parse(const char *line, struct bench_punch_rec *out)
{
	char buf[LINE_MAX_LEN];
	char *f[MAX_FIELDS];
	size_t len = strlen(line), nf = 0;
	if (len && line[len - 1] == '\n')
		len--;
	if (len >= sizeof buf)
		return -1;
	memcpy(buf, line, len);
	buf[len] = '\0';
	for (char *p = buf;;) {
		if (nf == MAX_FIELDS)
			return -1;
		f[nf++] = p;
		char *tab = strchr(p, '\t');
		if (!tab)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	memset(out, 0, sizeof *out);
	if (!strcmp(f[0], "round") && (nf == 8 || nf == 12)) {
		struct bench_punch_round *r = &out->u.round;
		out->kind = BENCH_REC_ROUND;
		if (strlen(f[1]) >= sizeof r->pair || !is_pair(f[1], strlen(f[1])) || !parse_unsigned(f[2], &r->round) ||
		    !parse_ms(f[4], &r->first_ms) || !parse_ms(f[5], &r->direct_ms) || !*f[6])
			return -1;
		r->via_mapping = -1;
		strcpy(r->family, "-");
		strcpy(r->rob_map, "-");
		strcpy(r->matt_map, "-");
		if (nf == 12) {
			if (!*f[7] || !is_map(f[8]) || !is_map(f[9]))
				return -1;
			if (!strcmp(f[10], "yes"))
				r->via_mapping = 1;
			else if (!strcmp(f[10], "no"))
				r->via_mapping = 0;
			else if (strcmp(f[10], "-"))
				return -1;
			copy_cut(r->family, sizeof r->family, f[7]);
			strcpy(r->rob_map, f[8]);
			strcpy(r->matt_map, f[9]);
			f[7] = f[11]; /* the note */
		}
		strcpy(r->pair, f[1]);
		if (!strcmp(f[3], "ok"))
			r->status = BENCH_PUNCH_OK;
		else if (!strcmp(f[3], "fail"))
			r->status = BENCH_PUNCH_FAIL;
		else if (!strcmp(f[3], "skipped"))
			r->status = BENCH_PUNCH_SKIPPED;
		else
			return -1;
		/* A round succeeded when its first packet arrived: it has a time. */
		if ((r->status == BENCH_PUNCH_OK) != (r->first_ms >= 0) || (r->direct_ms >= 0 && r->first_ms < 0))
			return -1;
		copy_cut(r->path, sizeof r->path, f[6]);
		copy_cut(r->note, sizeof r->note, strcmp(f[7], "-") ? f[7] : "");
		return 0;
	}
	if (!strcmp(f[0], "mem") && nf == 6) {
		struct bench_node_mem *m = &out->u.mem;
		out->kind = BENCH_REC_MEM;
		if ((strcmp(f[1], "hub") && strcmp(f[1], "joiner")) || !parse_unsigned(f[2], &m->peers) ||
		    !parse_u64(f[3], &m->rss_kib) || !parse_u64(f[4], &m->hwm_kib) || !parse_u64(f[5], &m->anon_kib) ||
		    m->anon_kib > m->rss_kib)
			return -1;
		strcpy(m->role, f[1]);
		return 0;
	}
	if (!strcmp(f[0], "wire") && nf == 14) {
		struct bench_node_wire *w = &out->u.wire;
		uint64_t *v[] = {&w->ms, &w->udp_in_b, &w->udp_in_p, &w->udp_out_b, &w->udp_out_p, &w->tcp_in_b,
				 &w->tcp_in_p, &w->tcp_out_b, &w->tcp_out_p, &w->self_in, &w->self_out};
		out->kind = BENCH_REC_WIRE;
		if (!*f[1] || strlen(f[1]) >= sizeof w->path || !parse_unsigned(f[2], &w->peers) || !w->peers)
			return -1;
		for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
			if (!parse_u64(f[3 + i], v[i]))
				return -1;
		if (!w->ms)
			return -1;
		strcpy(w->path, f[1]);
		return 0;
	}
	if (!strcmp(f[0], "fail") && nf == 3) {
		out->kind = BENCH_REC_FAIL;
		copy_cut(out->u.fail.stage, sizeof out->u.fail.stage, f[1]);
		copy_cut(out->u.fail.reason, sizeof out->u.fail.reason, f[2]);
		return 0;
	}
	if (!strcmp(f[0], "done") && nf == 1) {
		out->kind = BENCH_REC_DONE;
		return 0;
	}
	return -1;
}

/* --- figures --- */

void bench_punch_pair_init(struct bench_punch_pair *p, const char *name)
{
	memset(p, 0, sizeof *p);
	copy_cut(p->name, sizeof p->name, name);
}

void bench_punch_pair_add(struct bench_punch_pair *p, const struct bench_punch_round *r)
{
	if (r->status == BENCH_PUNCH_SKIPPED) {
		p->skipped++;
		return;
	}
	p->attempts++;
	if (r->status != BENCH_PUNCH_OK)
		return;
	p->successes++;
	p->rob_mapped += strcmp(r->rob_map, "-") != 0;
	p->matt_mapped += strcmp(r->matt_map, "-") != 0;
	if (r->direct_ms >= 0) {
		p->num_ipv4 += !strcmp(r->family, "ipv4");
		p->num_ipv6 += !strcmp(r->family, "ipv6");
		p->num_via_mapping += r->via_mapping == 1;
	}
	if (!strcmp(r->path, "relay"))
		p->num_relay++;
	else if (r->direct_ms < 0)
		p->num_other++;
	/* Times of rounds past the array are dropped; the counts stay. */
	if (p->num_first < BENCH_PUNCH_MAX_ROUNDS)
		p->first_ms[p->num_first++] = (uint64_t)r->first_ms;
	if (r->direct_ms >= 0) {
		if (p->num_direct < BENCH_PUNCH_MAX_ROUNDS)
			p->direct_ms[p->num_direct] = (uint64_t)r->direct_ms;
		p->num_direct++;
	}
}

static void times(const uint64_t *v, size_t num, struct bench_punch_times *out)
{
	uint64_t s[BENCH_PUNCH_MAX_ROUNDS];
	if (num > BENCH_PUNCH_MAX_ROUNDS)
		num = BENCH_PUNCH_MAX_ROUNDS;
	memcpy(s, v, num * sizeof *v);
	bench_sort_u64(s, num);
	out->num = num;
	out->p50 = bench_percentile_sorted(s, num, 50);
	out->p99 = bench_percentile_sorted(s, num, 99);
}

void bench_punch_pair_first(const struct bench_punch_pair *p, struct bench_punch_times *out)
{
	times(p->first_ms, p->num_first, out);
}

void bench_punch_pair_direct(const struct bench_punch_pair *p, struct bench_punch_times *out)
{
	times(p->direct_ms, p->num_direct, out);
}

const char *bench_punch_pair_path(const struct bench_punch_pair *p)
{
	if (!p->successes)
		return "none";
	if (2 * p->num_direct > p->successes)
		return "direct";
	if (2 * p->num_relay > p->successes)
		return "relay";
	return "mixed";
}

const char *bench_punch_pair_family(const struct bench_punch_pair *p)
{
	if (!p->num_ipv4 && !p->num_ipv6)
		return "-";
	if (p->num_ipv4 == p->num_direct)
		return "ipv4";
	if (p->num_ipv6 == p->num_direct)
		return "ipv6";
	return "mixed";
}

double bench_node_wire_rate(const struct bench_node_wire *w, uint64_t bytes)
{
	if (!w->ms || !w->peers)
		return 0;
	return (double)bytes * 1000.0 / (double)w->ms / (double)w->peers;
}

uint64_t bench_node_wire_total(const struct bench_node_wire *w)
{
	return w->udp_in_b + w->udp_out_b + w->tcp_in_b + w->tcp_out_b;
}

uint64_t bench_node_wire_out(const struct bench_node_wire *w)
{
	return w->udp_out_b + w->tcp_out_b;
}

uint64_t bench_node_wire_udp(const struct bench_node_wire *w)
{
	return w->udp_in_b + w->udp_out_b;
}

double bench_node_wire_header_per_packet(const struct bench_node_wire *w)
{
	uint64_t pk = w->udp_in_p + w->udp_out_p;
	if (!pk)
		return NAN;
	return ((double)bench_node_wire_udp(w) - (double)(w->self_in + w->self_out)) / (double)pk;
}
