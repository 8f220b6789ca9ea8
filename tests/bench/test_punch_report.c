/* bench/punch_report: the NAT pair lists, the records bench/punch.sh writes,
 * and the figures made from them. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/punch_report.h"

/* --- pairs --- */

Test(bench_punch, default_pairs_are_the_15_unordered_ones_rob_more_restrictive)
{
	char p[BENCH_PUNCH_MAX_PAIRS][BENCH_PUNCH_PAIR_LEN];
	size_t n = bench_punch_pairs_default(p);
	cr_assert_eq(n, 15);
	cr_assert_str_eq(p[0], "none:none");
	cr_assert_str_eq(p[1], "full_cone:none");
	cr_assert_str_eq(p[4], "symmetric:none");
	cr_assert_str_eq(p[5], "full_cone:full_cone");
	cr_assert_str_eq(p[14], "symmetric:symmetric");
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			/* no pair twice, in either order */
			char rev[BENCH_PUNCH_PAIR_LEN];
			const char *c = strchr(p[j], ':');
			snprintf(rev, sizeof rev, "%s:%.*s", c + 1, (int)(c - p[j]), p[j]);
			cr_assert(strcmp(p[i], p[j]) && strcmp(p[i], rev), "%s twice", p[i]);
		}
}

struct pairs_case {
	char spec[48];
	int rc;
	size_t num;
	char first[BENCH_PUNCH_PAIR_LEN], last[BENCH_PUNCH_PAIR_LEN];
};

static const struct pairs_case pairs_cases[] = {
	{"none:none", 0, 1, "none:none", "none:none"},
	{"none:none,symmetric:full_cone", 0, 2, "none:none", "symmetric:full_cone"},
	{" none:none , symmetric:full_cone ", 0, 2, "none:none", "symmetric:full_cone"},
	{"none:none none:none", 0, 1, "none:none", "none:none"},  /* duplicates dropped */
	{"all", 0, 15, "none:none", "symmetric:symmetric"},
	{"all,none:full_cone", 0, 16, "none:none", "none:full_cone"},
	{"restricted_cone:restricted_cone", 0, 1, "restricted_cone:restricted_cone", "restricted_cone:restricted_cone"},
	{"", -1, 0, "", ""},
	{" , ", -1, 0, "", ""},
	{"none", -1, 0, "", ""},
	{"none:", -1, 0, "", ""},
	{":none", -1, 0, "", ""},
	{"none:none:none", -1, 0, "", ""},
	{"cone:none", -1, 0, "", ""},
	{"None:none", -1, 0, "", ""},
	{"none:nonex", -1, 0, "", ""},
	{"none:none;symmetric:none", -1, 0, "", ""},
};

ParameterizedTestParameters(bench_punch, pairs_parse)
{
	return cr_make_param_array(struct pairs_case, pairs_cases, sizeof pairs_cases / sizeof pairs_cases[0]);
}

ParameterizedTest(const struct pairs_case *c, bench_punch, pairs_parse)
{
	char p[BENCH_PUNCH_MAX_PAIRS][BENCH_PUNCH_PAIR_LEN];
	char err[200] = "";
	size_t n = 99;
	int rc = bench_punch_pairs_parse(c->spec, p, BENCH_PUNCH_MAX_PAIRS, &n, err, sizeof err);
	cr_assert_eq(rc, c->rc, "'%s': rc %d, want %d (%s)", c->spec, rc, c->rc, err);
	if (rc) {
		cr_assert(err[0], "'%s': no reason given", c->spec);
		cr_assert_eq(n, 0);
		return;
	}
	cr_assert_eq(n, c->num, "'%s': %zu pairs, want %zu", c->spec, n, c->num);
	cr_assert_str_eq(p[0], c->first);
	cr_assert_str_eq(p[n - 1], c->last);
}

Test(bench_punch, pairs_parse_quotes_the_bad_pair_and_honours_max)
{
	char p[BENCH_PUNCH_MAX_PAIRS][BENCH_PUNCH_PAIR_LEN];
	char err[200];
	size_t n;
	cr_assert_eq(bench_punch_pairs_parse("none:none,nat:none", p, BENCH_PUNCH_MAX_PAIRS, &n, err, sizeof err), -1);
	cr_assert(strstr(err, "'nat:none'"), "%s", err);
	cr_assert_eq(bench_punch_pairs_parse("none:none,symmetric:none", p, 1, &n, err, sizeof err), -1);
	cr_assert(strstr(err, "more than 1"), "%s", err);
}

/* --- records --- */

Test(bench_punch, round_record_fields)
{
	struct bench_punch_rec r;
	cr_assert_eq(bench_punch_rec_parse("round\tport_restricted:full_cone\t2\tok\t75\t609\tdirect\t-\n", &r), 0);
	cr_assert_eq(r.kind, BENCH_REC_ROUND);
	cr_assert_str_eq(r.u.round.pair, "port_restricted:full_cone");
	cr_assert_eq(r.u.round.round, 2);
	cr_assert_eq(r.u.round.status, BENCH_PUNCH_OK);
	cr_assert_eq(r.u.round.first_ms, 75);
	cr_assert_eq(r.u.round.direct_ms, 609);
	cr_assert_str_eq(r.u.round.path, "direct");
	cr_assert_str_eq(r.u.round.note, "");

	cr_assert_eq(bench_punch_rec_parse("round\tsymmetric:symmetric\t1\tok\t67\t-\trelay\tno direct path", &r), 0);
	cr_assert_eq(r.u.round.direct_ms, -1);
	cr_assert_str_eq(r.u.round.path, "relay");
	cr_assert_str_eq(r.u.round.note, "no direct path");

	cr_assert_eq(bench_punch_rec_parse("round\tnone:none\t3\tfail\t-\t-\tabsent/none\tsetup: x", &r), 0);
	cr_assert_eq(r.u.round.status, BENCH_PUNCH_FAIL);
	cr_assert_eq(r.u.round.first_ms, -1);
	cr_assert_eq(bench_punch_rec_parse("round\tnone:none\t4\tskipped\t-\t-\t-\tover the budget", &r), 0);
	cr_assert_eq(r.u.round.status, BENCH_PUNCH_SKIPPED);
}

Test(bench_punch, round_record_path_family_and_mappings)
{
	struct bench_punch_rec r;
	cr_assert_eq(bench_punch_rec_parse("round\tsymmetric:symmetric\t1\tok\t80\t900\tdirect\tipv4\tpcp\t-\tyes\t-\n",
					   &r), 0);
	cr_assert_str_eq(r.u.round.family, "ipv4");
	cr_assert_str_eq(r.u.round.rob_map, "pcp");
	cr_assert_str_eq(r.u.round.matt_map, "-");
	cr_assert_eq(r.u.round.via_mapping, 1);
	cr_assert_str_eq(r.u.round.note, "");
	cr_assert_eq(bench_punch_rec_parse("round\tnone:none\t2\tok\t80\t-\trelay\t-\t-\tupnp\tno\tno direct", &r), 0);
	cr_assert_str_eq(r.u.round.family, "-");
	cr_assert_str_eq(r.u.round.matt_map, "upnp");
	cr_assert_eq(r.u.round.via_mapping, 0);
	cr_assert_str_eq(r.u.round.note, "no direct");
	cr_assert_eq(bench_punch_rec_parse("round\tnone:none\t3\tok\t80\t700\tdirect\tipv6/ipv4\tnatpmp\tpcp\t-\t-", &r), 0);
	cr_assert_str_eq(r.u.round.family, "ipv6/ipv4");
	cr_assert_eq(r.u.round.via_mapping, -1);
	/* The 8-field record: nothing known about family and mappings. */
	cr_assert_eq(bench_punch_rec_parse("round\tnone:none\t4\tok\t80\t700\tdirect\t-", &r), 0);
	cr_assert_str_eq(r.u.round.family, "-");
	cr_assert_str_eq(r.u.round.rob_map, "-");
	cr_assert_eq(r.u.round.via_mapping, -1);
}

Test(bench_punch, node_records_fields)
{
	struct bench_punch_rec r;
	cr_assert_eq(bench_punch_rec_parse("mem\thub\t8\t7312\t7400\t1210", &r), 0);
	cr_assert_eq(r.kind, BENCH_REC_MEM);
	cr_assert_str_eq(r.u.mem.role, "hub");
	cr_assert_eq(r.u.mem.peers, 8);
	cr_assert_eq(r.u.mem.rss_kib, 7312);
	cr_assert_eq(r.u.mem.hwm_kib, 7400);
	cr_assert_eq(r.u.mem.anon_kib, 1210);
	cr_assert_eq(bench_punch_rec_parse("wire\tdirect\t1\t10060\t398\t6\t399\t7\t1\t2\t3\t4\t230\t231\n", &r), 0);
	cr_assert_eq(r.kind, BENCH_REC_WIRE);
	const struct bench_node_wire *w = &r.u.wire;
	cr_assert_str_eq(w->path, "direct");
	cr_assert_eq(w->peers, 1);
	cr_assert_eq(w->ms, 10060);
	cr_assert_eq(w->udp_in_b, 398);
	cr_assert_eq(w->udp_in_p, 6);
	cr_assert_eq(w->udp_out_b, 399);
	cr_assert_eq(w->udp_out_p, 7);
	cr_assert_eq(w->tcp_in_b, 1);
	cr_assert_eq(w->tcp_in_p, 2);
	cr_assert_eq(w->tcp_out_b, 3);
	cr_assert_eq(w->tcp_out_p, 4);
	cr_assert_eq(w->self_in, 230);
	cr_assert_eq(w->self_out, 231);
	cr_assert_eq(bench_punch_rec_parse("fail\tjoin\tp1 not on a direct path", &r), 0);
	cr_assert_eq(r.kind, BENCH_REC_FAIL);
	cr_assert_str_eq(r.u.fail.stage, "join");
	cr_assert_eq(bench_punch_rec_parse("done\n", &r), 0);
	cr_assert_eq(r.kind, BENCH_REC_DONE);
}

/* Every malformed line is refused, whatever field is wrong. (Criterion runs
 * each case in a fresh process: parameters hold the text, not pointers.) */
struct bad_line {
	char line[128];
};

static const struct bad_line bad_lines[] = {
	{""},
	{"\n"},
	{"dune"},
	{"done\textra"},
	{"round\tnone:none\t1\tok\t75\t609\tdirect"},              /* a field short */
	{"round\tnone:none\t1\tok\t75\t609\tdirect\t-\tmore"},     /* a field over */
	{"round\tnone\t1\tok\t75\t609\tdirect\t-"},
	{"round\tnone:nat\t1\tok\t75\t609\tdirect\t-"},
	{"round\tnone:none\tx\tok\t75\t609\tdirect\t-"},
	{"round\tnone:none\t1\tmaybe\t75\t609\tdirect\t-"},
	{"round\tnone:none\t1\tok\t-\t609\tdirect\t-"},            /* ok without a first packet */
	{"round\tnone:none\t1\tfail\t75\t-\tdirect\t-"},           /* failed with one */
	{"round\tnone:none\t1\tok\t7x\t609\tdirect\t-"},
	{"round\tnone:none\t1\tok\t-5\t609\tdirect\t-"},
	{"round\tnone:none\t1\tok\t75\t609\t\t-"},                 /* empty path */
	{"round\tnone:none\t1\tok\t75\t99999999999999999999999\tdirect\t-"},
	{"round\tnone:none\t1\tok\t75\t609\tdirect\tipv4\tpcp\t-\tyes"},         /* 11 fields */
	{"round\tnone:none\t1\tok\t75\t609\tdirect\tipv4\tpcp\t-\tyes\t-\tx"}, /* 13 fields */
	{"round\tnone:none\t1\tok\t75\t609\tdirect\t\tpcp\t-\tyes\t-"},       /* empty family */
	{"round\tnone:none\t1\tok\t75\t609\tdirect\tipv4\tigd\t-\tyes\t-"},   /* unknown protocol */
	{"round\tnone:none\t1\tok\t75\t609\tdirect\tipv4\tpcp\t\tyes\t-"},    /* empty map */
	{"round\tnone:none\t1\tok\t75\t609\tdirect\tipv4\tpcp\t-\tmaybe\t-"}, /* via not yes/no/- */
	{"mem\thub\t1\t5000"},
	{"mem\thub\t1\t5000\t5000"},
	{"mem\tpeer\t1\t5000\t5000\t900"},
	{"mem\thub\t1\t5000\t5000\t"},
	{"mem\thub\t1\t5000\t5000\t6000"},
	{"wire\tdirect\t1\t10060\t398\t6\t399\t7\t1\t2\t3\t4\t230"},
	{"wire\tdirect\t0\t10060\t398\t6\t399\t7\t1\t2\t3\t4\t230\t231"},   /* no peers */
	{"wire\tdirect\t1\t0\t398\t6\t399\t7\t1\t2\t3\t4\t230\t231"},       /* no time */
	{"wire\t\t1\t10060\t398\t6\t399\t7\t1\t2\t3\t4\t230\t231"},
	{"wire\tdirect\t1\t10060\t398\t6\t399\t7\t1\t2\t3\t4\t230\t+1"},
	{"fail\tjoin"},
};

ParameterizedTestParameters(bench_punch, refuses_malformed_records)
{
	return cr_make_param_array(struct bad_line, bad_lines, sizeof bad_lines / sizeof bad_lines[0]);
}

ParameterizedTest(const struct bad_line *c, bench_punch, refuses_malformed_records)
{
	struct bench_punch_rec r;
	cr_assert_eq(bench_punch_rec_parse(c->line, &r), -1, "accepted '%s'", c->line);
}

Test(bench_punch, refuses_a_line_longer_than_its_buffer)
{
	static char line[4000];
	memset(line, 'x', sizeof line - 1);
	memcpy(line, "fail\tstage\t", 11);
	struct bench_punch_rec r;
	cr_assert_eq(bench_punch_rec_parse(line, &r), -1);
	line[600] = '\0';
	cr_assert_eq(bench_punch_rec_parse(line, &r), 0);
	cr_assert_eq(strlen(r.u.fail.reason), BENCH_PUNCH_NOTE_LEN - 1, "cut to the field");
}

/* --- figures --- */

static void add(struct bench_punch_pair *p, const char *line)
{
	struct bench_punch_rec r;
	cr_assert_eq(bench_punch_rec_parse(line, &r), 0, "%s", line);
	bench_punch_pair_add(p, &r.u.round);
}

Test(bench_punch, pair_counts_and_percentiles)
{
	struct bench_punch_pair p;
	struct bench_punch_times t;
	bench_punch_pair_init(&p, "port_restricted:full_cone");
	add(&p, "round\tport_restricted:full_cone\t1\tok\t300\t900\tdirect\t-");
	add(&p, "round\tport_restricted:full_cone\t2\tok\t100\t700\tdirect\t-");
	add(&p, "round\tport_restricted:full_cone\t3\tok\t200\t-\trelay\tno direct");
	add(&p, "round\tport_restricted:full_cone\t4\tfail\t-\t-\tnone\tno ping");
	add(&p, "round\tport_restricted:full_cone\t5\tskipped\t-\t-\t-\tbudget");
	cr_assert_eq(p.attempts, 4);
	cr_assert_eq(p.successes, 3);
	cr_assert_eq(p.skipped, 1);
	cr_assert_eq(p.num_direct, 2);
	cr_assert_eq(p.num_relay, 1);
	bench_punch_pair_first(&p, &t);
	cr_assert_eq(t.num, 3);
	cr_assert_eq(t.p50, 200);
	cr_assert_eq(t.p99, 300);
	bench_punch_pair_direct(&p, &t);
	cr_assert_eq(t.num, 2);
	cr_assert_eq(t.p50, 700, "nearest rank: the lower of two");
	cr_assert_eq(t.p99, 900);
	cr_assert_str_eq(bench_punch_pair_path(&p), "direct");
}

Test(bench_punch, pair_path_majority)
{
	struct bench_punch_pair p;
	struct bench_punch_times t;
	bench_punch_pair_init(&p, "symmetric:symmetric");
	cr_assert_str_eq(bench_punch_pair_path(&p), "none");
	bench_punch_pair_direct(&p, &t);
	cr_assert_eq(t.num, 0);
	cr_assert_eq(t.p50, 0);
	add(&p, "round\tsymmetric:symmetric\t1\tfail\t-\t-\tnone\tx");
	cr_assert_str_eq(bench_punch_pair_path(&p), "none");
	add(&p, "round\tsymmetric:symmetric\t2\tok\t70\t-\trelay\t-");
	cr_assert_str_eq(bench_punch_pair_path(&p), "relay");
	add(&p, "round\tsymmetric:symmetric\t3\tok\t70\t800\tdirect\t-");
	cr_assert_str_eq(bench_punch_pair_path(&p), "mixed");
	add(&p, "round\tsymmetric:symmetric\t4\tok\t70\t-\trelay/none\t-");
	cr_assert_str_eq(bench_punch_pair_path(&p), "mixed");
	cr_assert_eq(p.num_other, 1);
}

Test(bench_punch, pair_families_and_mappings)
{
	struct bench_punch_pair p;
	bench_punch_pair_init(&p, "symmetric:symmetric");
	cr_assert_str_eq(bench_punch_pair_family(&p), "-");
	add(&p, "round\tsymmetric:symmetric\t1\tok\t80\t900\tdirect\tipv6\tpcp\tpcp\tno\t-");
	cr_assert_str_eq(bench_punch_pair_family(&p), "ipv6");
	add(&p, "round\tsymmetric:symmetric\t2\tok\t80\t900\tdirect\tipv4\tpcp\t-\tyes\t-");
	cr_assert_str_eq(bench_punch_pair_family(&p), "mixed");
	/* A relay round's family and via count nothing; its mappings count. */
	add(&p, "round\tsymmetric:symmetric\t3\tok\t80\t-\trelay\t-\t-\tupnp\tno\t-");
	add(&p, "round\tsymmetric:symmetric\t4\tfail\t-\t-\tnone\t-\tpcp\tpcp\tno\tsetup");
	cr_assert_eq(p.num_ipv4, 1);
	cr_assert_eq(p.num_ipv6, 1);
	cr_assert_eq(p.rob_mapped, 2, "successful rounds only");
	cr_assert_eq(p.matt_mapped, 2);
	cr_assert_eq(p.num_via_mapping, 1);
	bench_punch_pair_init(&p, "none:none");
	add(&p, "round\tnone:none\t1\tok\t80\t900\tdirect\tipv4\t-\t-\tno\t-");
	add(&p, "round\tnone:none\t2\tok\t80\t900\tdirect\t-\t-\t-\t-\t-");
	cr_assert_str_eq(bench_punch_pair_family(&p), "mixed", "one direct round of unknown family");
}

Test(bench_punch, pair_keeps_counting_past_the_time_arrays)
{
	struct bench_punch_pair p;
	struct bench_punch_times t;
	char line[128];
	bench_punch_pair_init(&p, "none:none");
	for (unsigned i = 1; i <= BENCH_PUNCH_MAX_ROUNDS + 5; i++) {
		snprintf(line, sizeof line, "round\tnone:none\t%u\tok\t%u\t%u\tdirect\t-", i, i, 10 * i);
		add(&p, line);
	}
	cr_assert_eq(p.successes, BENCH_PUNCH_MAX_ROUNDS + 5);
	cr_assert_eq(p.num_direct, BENCH_PUNCH_MAX_ROUNDS + 5);
	bench_punch_pair_first(&p, &t);
	cr_assert_eq(t.num, BENCH_PUNCH_MAX_ROUNDS);
	cr_assert_eq(t.p50, 50);
	cr_assert_eq(t.p99, 99);
	bench_punch_pair_direct(&p, &t);
	cr_assert_eq(t.num, BENCH_PUNCH_MAX_ROUNDS);
	cr_assert_eq(t.p99, 990);
}

Test(bench_punch, wire_rates_per_peer)
{
	/* 8 peers, 20 s: 1,600 B in, 1,440 B out on UDP (20 packets each way),
	 * 400 B each way on TCP; the daemon saw 1,040 + 880 e2e bytes. */
	struct bench_node_wire w = {.peers = 8, .ms = 20000, .udp_in_b = 1600, .udp_in_p = 20, .udp_out_b = 1440,
				    .udp_out_p = 20, .tcp_in_b = 400, .tcp_in_p = 5, .tcp_out_b = 400, .tcp_out_p = 5,
				    .self_in = 1040, .self_out = 880};
	cr_assert_eq(bench_node_wire_total(&w), 3840);
	cr_assert_eq(bench_node_wire_out(&w), 1840);
	cr_assert_eq(bench_node_wire_udp(&w), 3040);
	cr_assert_float_eq(bench_node_wire_rate(&w, bench_node_wire_total(&w)), 24.0, 1e-9);
	cr_assert_float_eq(bench_node_wire_rate(&w, bench_node_wire_out(&w)), 11.5, 1e-9);
	cr_assert_float_eq(bench_node_wire_header_per_packet(&w), 28.0, 1e-9);
	struct bench_node_wire none = {.peers = 0, .ms = 0};
	cr_assert_eq(bench_node_wire_rate(&none, 100), 0.0);
	cr_assert(isnan(bench_node_wire_header_per_packet(&none)));
}
