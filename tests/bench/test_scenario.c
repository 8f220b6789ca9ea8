/* bench/scenario: size distributions (parsing, the seeded sampler) and
 * scenario files (good ones, and each malformed kind with its line). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "bench/relay_opts.h"
#include "bench/scenario.h"

static struct bench_size_dist dist(const char *s)
{
	struct bench_size_dist d;
	char err[200];
	cr_assert_eq(bench_size_dist_parse(s, 16, 65536, &d, err, sizeof err), 0, "'%s': %s", s, err);
	return d;
}

Test(bench_size, fixed_list_and_range)
{
	struct bench_size_dist d = dist("1400");
	cr_assert_eq(d.kind, BENCH_SIZE_FIXED);
	cr_assert_eq(d.size[0], 1400);
	d = dist("64:50,1400:40,16K:10");
	cr_assert_eq(d.kind, BENCH_SIZE_LIST);
	cr_assert_eq(d.num, 3);
	cr_assert_eq(d.size[2], 16384);
	cr_assert_eq(d.weight[1], 40);
	cr_assert_eq(d.total_weight, 100);
	cr_assert_eq(bench_size_dist_max(&d), 16384);
	cr_assert_eq(bench_size_dist_min(&d), 64);
	d = dist("64-1400");
	cr_assert_eq(d.kind, BENCH_SIZE_RANGE);
	cr_assert_eq(d.size[0], 64);
	cr_assert_eq(d.size[1], 1400);
	cr_assert_float_eq(bench_size_dist_mean(&d), 732.0, 1e-9);
}

struct bad_size {
	char s[128];
	char why[48];
};

static const struct bad_size bad_sizes[] = {
	{"", "expected a size"},
	{"15", "expected a size from 16"},
	{"65537", "expected a size from 16"},
	{"abc", "expected a size"},
	{"1400-64", "minimum is above the maximum"},
	{"64-", "expected MIN-MAX"},
	{"-64", "expected MIN-MAX"},
	{"64:", "entry 1 '64:': expected a weight"},
	{"64:0", "expected a weight"},
	{"64:50,", "entry 2 '': expected SIZE:WEIGHT"},
	{"64:50,1400", "entry 2 '1400': expected SIZE:WEIGHT"},
	{"8:50", "entry 1 '8:50': expected a size"},
	{"64:x", "expected a weight"},
	{"64:1000001", "expected a weight"},
	{"64:1,64:1,64:1,64:1,64:1,64:1,64:1,64:1,64:1,64:1,64:1,64:1,64:1,64:1,64:1,64:1,64:1", "more than 16"},
};

ParameterizedTestParameters(bench_size, refuses_bad_strings)
{
	return cr_make_param_array(struct bad_size, bad_sizes, sizeof bad_sizes / sizeof bad_sizes[0]);
}

ParameterizedTest(const struct bad_size *c, bench_size, refuses_bad_strings)
{
	struct bench_size_dist d = {.num = 99};
	char err[200] = "";
	cr_assert_eq(bench_size_dist_parse(c->s, 16, 65536, &d, err, sizeof err), -1, "'%s' was accepted", c->s);
	cr_assert(strstr(err, c->why), "'%s': reason '%s' lacks '%s'", c->s, err, c->why);
	cr_assert_eq(d.num, 99, "'%s': written on failure", c->s);
}

/* 100000 draws of 50/40/10: each share within 1 % (absolute) of its weight;
 * the binomial's standard deviation is at most 0.16 %, so this is over 6
 * sigma for any seed, and the seed is fixed anyway. */
Test(bench_size, weights_respected_for_a_fixed_seed)
{
	struct bench_size_dist d = dist("64:50,1400:40,16K:10");
	uint64_t st = bench_size_rng_seed(42, 7), n[3] = {0};
	const uint64_t draws = 100000;
	for (uint64_t i = 0; i < draws; i++) {
		uint32_t s = bench_size_dist_sample(&d, &st);
		cr_assert(s == 64 || s == 1400 || s == 16384, "drew %u", s);
		n[s == 64 ? 0 : s == 1400 ? 1 : 2]++;
	}
	const double want[3] = {0.5, 0.4, 0.1};
	for (int i = 0; i < 3; i++)
		cr_assert_float_eq((double)n[i] / (double)draws, want[i], 0.01, "entry %d: %llu of %llu", i,
				   (unsigned long long)n[i], (unsigned long long)draws);
}

Test(bench_size, range_is_uniform_and_inclusive)
{
	struct bench_size_dist d = dist("100-109");
	uint64_t st = bench_size_rng_seed(1, 0), n[10] = {0};
	for (int i = 0; i < 100000; i++) {
		uint32_t s = bench_size_dist_sample(&d, &st);
		cr_assert(s >= 100 && s <= 109, "drew %u", s);
		n[s - 100]++;
	}
	for (int i = 0; i < 10; i++)
		cr_assert(n[i] > 9500 && n[i] < 10500, "size %d drawn %llu times of 100000", 100 + i,
			  (unsigned long long)n[i]);
}

Test(bench_size, same_seed_same_sizes_other_seed_other_sizes)
{
	struct bench_size_dist d = dist("16-65536");
	uint64_t a = bench_size_rng_seed(9, 3), b = bench_size_rng_seed(9, 3), c = bench_size_rng_seed(10, 3),
		 e = bench_size_rng_seed(9, 4);
	int same_c = 0, same_e = 0;
	for (int i = 0; i < 64; i++) {
		uint32_t x = bench_size_dist_sample(&d, &a);
		cr_assert_eq(x, bench_size_dist_sample(&d, &b), "draw %d differs for one seed", i);
		same_c += x == bench_size_dist_sample(&d, &c);
		same_e += x == bench_size_dist_sample(&d, &e);
	}
	cr_assert_lt(same_c, 4, "another seed draws the same sizes");
	cr_assert_lt(same_e, 4, "another session draws the same sizes");
}

Test(bench_size, fixed_draws_leave_the_stream_alone)
{
	struct bench_size_dist d = dist("1400");
	uint64_t st = 5;
	cr_assert_eq(bench_size_dist_sample(&d, &st), 1400);
	cr_assert_eq(st, 5);
}

/* --- scenario files, against the relay's own option table --- */

static int parse_opts(int argc, char **argv, struct bench_relay_opts *o)
{
	return bench_relay_opts_parse(o, argc, argv, stdout);
}

static char *write_tmp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof path, "/tmp/atmos-scen-%d.conf", (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* The options of the staged file below (config syntax or JSON), with
 * --rate 50 on the command line over the file's 20. */
static void assert_staged(const struct bench_relay_opts *o)
{
	cr_assert_eq(o->mode, BENCH_RELAY_LATENCY);
	cr_assert_eq(o->sizes.kind, BENCH_SIZE_LIST);
	cr_assert_eq(o->size, 16384);
	cr_assert_eq(o->seed, 7);
	cr_assert_eq(o->direction, BENCH_RELAY_BOTH);
	cr_assert_eq(o->stages.num, 3);
	cr_assert_eq(o->sessions, 4, "--sessions defaults to the peak");
	cr_assert_eq(o->duration_ms, 4000, "--duration defaults to the stages' total");
	cr_assert_eq(o->warmup_ms, 0);
	cr_assert_eq(o->idle_sessions, 3);
	cr_assert_eq(o->rate, 50, "the command line wins over the file");
	cr_assert(o->json);
}

Test(bench_scenario, file_sets_options_and_flags_override_it)
{
	char *path = write_tmp("# a staged latency run\n"
			       "url = ws://127.0.0.1:9\n"
			       "mode = latency\n"
			       "\n"
			       "size = 64:50,1400:40,16K:10\n"
			       "seed = 7\n"
			       "direction = both\n"
			       "stage = 1s:4,2s:4,1s:0\n"
			       "idle-sessions = 3\n"
			       "rate = 20\n"
			       "json\n");
	char *argv[] = {"relay", "--scenario", path, "--rate", "50"};
	struct bench_relay_opts o;
	cr_assert_eq(parse_opts(5, argv, &o), -1);
	assert_staged(&o);
	bench_relay_opts_cleanup(&o);
	unlink(path);
}

struct bad_file {
	char text[200];
	unsigned line;
	char why[64];
};

static const struct bad_file bad_files[] = {
	{"mode = latency\nbogus = 1\n", 2, "unknown setting 'bogus'"},
	{"mode = latency\n\n\nsessions = 0\n", 4, "sessions '0': out of range"},
	{"sessions = ten\n", 1, "sessions 'ten': expected a whole number"},
	{"mode = latency\nduration = 5x\n", 2, "duration '5x': expected a duration"},
	{"mode = fast\n", 1, "mode 'fast': not one of"},
	{"# c\njson = yes\n", 2, "'json' is a flag"},
	{"rate\n", 1, "'rate' needs a value"},
	{"size = 64:50,1400\n", 1, "size '64:50,1400': entry 2"},
	{"mode = latency\nstage = 1s:4,2x:1\n", 2, "stage '1s:4,2x:1': stage 2: duration"},
	{"url = http://x\n", 1, "url 'http://x'"},
	{"threshold = p99<\n", 1, "threshold 'p99<'"},
	{"scenario = other.conf\n", 1, "cannot name another"},
	{"mode = latency\nBad Name = 1\n", 2, "bad setting name"},
	{"label = \"open\n", 1, "bad value"},
	{"direction = up\n", 1, "direction 'up': not one of"},
	{"mode = latency\nchurn = 0/s\n", 2, "churn '0/s': expected N/s"},
	{"mode = latency\nthink = 2x\n", 2, "think '2x': expected a duration"},
	{"mode = latency\n\nrate-stage = 1s:x\n", 3, "rate-stage '1s:x': stage 1: target"},
	{"rate-stage = 1s:100001\n", 1, "rate-stage '1s:100001': stage 1: target"},
	{"mode = latency\nrate_stage = 1s:1\n", 2, "bad setting name"},        /* the option's own name: rate-stage */
};

ParameterizedTestParameters(bench_scenario, malformed_files_name_the_line_and_reason)
{
	return cr_make_param_array(struct bad_file, bad_files, sizeof bad_files / sizeof bad_files[0]);
}

ParameterizedTest(const struct bad_file *c, bench_scenario, malformed_files_name_the_line_and_reason)
{
	static struct bench_scenario sc;
	char err[600] = "", want[16];
	unsigned line = 999;
	cr_assert_eq(bench_scenario_parse(&sc, bench_relay_opts_table(), bench_relay_opts_check, c->text,
					  strlen(c->text), &line, err, sizeof err),
		     -1, "accepted: %s", c->text);
	cr_assert_eq(line, c->line, "%s: line %u", err, line);
	snprintf(want, sizeof want, "line %u: ", c->line);
	cr_assert(!strncmp(err, want, strlen(want)), "'%s' does not start with '%s'", err, want);
	cr_assert(strstr(err, c->why), "'%s' lacks '%s'", err, c->why);
}

/* The same settings as a JSON object: strings, whole numbers, true for a
 * flag, a list for an option given several times; the command line still
 * wins. */
Test(bench_scenario, json_file_sets_options_as_the_config_syntax_does)
{
	char *path = write_tmp("  {\"url\": \"ws://127.0.0.1:9\", \"mode\": \"latency\",\n"
			       "   \"size\": \"64:50,1400:40,16K:10\", \"seed\": 7, \"direction\": \"both\",\n"
			       "   \"stage\": \"1s:4,2s:4,1s:0\", \"idle-sessions\": 3, \"rate\": 20, \"json\": true,\n"
			       "   \"threshold\": [\"p99<5ms\", \"delivered>=99.9%\"]}\n");
	char *argv[] = {"relay", "--scenario", path, "--rate", "50"};
	struct bench_relay_opts o;
	cr_assert_eq(parse_opts(5, argv, &o), -1);
	assert_staged(&o);
	cr_assert_eq(o.num_thresholds, 2, "a list gives the option once per element");
	bench_relay_opts_cleanup(&o);
	unlink(path);
}

static const struct bad_file bad_json[] = {
	{"{\"mode\": \"latency\", \"bogus\": 1}", 0, "JSON: unknown setting 'bogus'"},
	{"{\"sessions\": 0}", 0, "JSON: sessions '0': out of range"},
	{"{\"sessions\": -1}", 0, "JSON: 'sessions': expected a whole number"},
	{"{\"sessions\": 1.5}", 0, "JSON: 'sessions': expected a string, a whole number"},
	{"{\"json\": \"yes\"}", 0, "JSON: 'json' is a flag: its value is true"},
	{"{\"json\": false}", 0, "JSON: 'json': false"},
	{"{\"rate\": true}", 0, "JSON: 'rate' needs a value"},
	{"{\"stage\": \"1s:4,2x:1\", \"mode\": \"latency\"}", 0, "JSON: stage '1s:4,2x:1': stage 2: duration"},
	{"{\"scenario\": \"other.json\"}", 0, "JSON: a scenario file cannot name another one"},
	{"{\"threshold\": []}", 0, "JSON: 'threshold': an empty list"},
	{"{\"threshold\": [[\"p99<5ms\"]]}", 0, "JSON: 'threshold': expected a string"},
	{"{\"mode\": \"latency\",}", 0, "JSON: byte "},
	{"{\"mode\": \"latency\"} x", 0, "JSON: byte 20: "},
	{"{\"mode\": \"lat\\u0000ency\"}", 0, "JSON: 'mode': a value over"},
	{"{\"label\": {\"a\": 1}}", 0, "JSON: 'label': expected a string"},
};

ParameterizedTestParameters(bench_scenario, malformed_json_files_name_the_setting_and_reason)
{
	return cr_make_param_array(struct bad_file, bad_json, sizeof bad_json / sizeof bad_json[0]);
}

ParameterizedTest(const struct bad_file *c, bench_scenario, malformed_json_files_name_the_setting_and_reason)
{
	static struct bench_scenario sc;
	char err[600] = "";
	unsigned line = 999;
	cr_assert_eq(bench_scenario_parse(&sc, bench_relay_opts_table(), bench_relay_opts_check, c->text,
					  strlen(c->text), &line, err, sizeof err),
		     -1, "accepted: %s", c->text);
	cr_assert_eq(line, 0, "%s: line %u", err, line);
	cr_assert(!strncmp(err, c->why, strlen(c->why)), "'%s' does not start with '%s'", err, c->why);
}

Test(bench_scenario, a_missing_file_is_a_usage_error)
{
	char *argv[] = {"relay", "--url", "ws://h:1", "--scenario", "/nonexistent/atmos.scenario"};
	struct bench_relay_opts o;
	cr_assert_eq(parse_opts(5, argv, &o), 2);
}

Test(bench_scenario, a_bad_file_stops_the_command)
{
	char *path = write_tmp("url = ws://127.0.0.1:9\nmode = latency\nstage = 1s\n");
	char *argv[] = {"relay", "--scenario", path};
	struct bench_relay_opts o;
	cr_assert_eq(parse_opts(3, argv, &o), 2);
	unlink(path);
}

/* --- churn --- */

Test(bench_churn, parses_rates)
{
	uint32_t r = 0;
	char err[160];
	cr_assert_eq(bench_churn_parse("5/s", &r, err, sizeof err), 0);
	cr_assert_eq(r, 5);
	cr_assert_eq(bench_churn_parse("10000", &r, err, sizeof err), 0);
	cr_assert_eq(r, 10000);
	static const char *const bad[] = {"", "/s", "0/s", "10001/s", "5/m", "x/s", "-1/s", "5 /s", "5/s/s"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = 77;
		err[0] = '\0';
		cr_assert_eq(bench_churn_parse(bad[i], &r, err, sizeof err), -1, "'%s' was accepted", bad[i]);
		cr_assert(strstr(err, "expected N/s"), "'%s': %s", bad[i], err);
		cr_assert_eq(r, 77, "'%s': written on failure", bad[i]);
	}
}

/* 4/s over 10 sessions: replacement i at i/4 s, victims in turn, so over
 * 5 s each session is replaced exactly twice, 2.5 s apart. */
Test(bench_churn, schedule_replaces_every_session_in_turn_at_the_rate)
{
	const uint64_t t0 = 777, S = 1000000000ull;
	unsigned times[10] = {0};
	uint64_t last[10] = {0};
	for (uint64_t i = 0; bench_churn_time(t0, 4, i) < t0 + 5 * S; i++) {
		uint64_t t = bench_churn_time(t0, 4, i);
		cr_assert_eq(t, t0 + i * S / 4, "replacement %llu at %llu", (unsigned long long)i, (unsigned long long)t);
		uint32_t k = bench_churn_victim(i, 10);
		cr_assert_lt(k, 10);
		if (times[k])
			cr_assert_eq(t - last[k], 5 * S / 2, "session %u replaced %llu ns after the last time", k,
				     (unsigned long long)(t - last[k]));
		last[k] = t;
		times[k]++;
	}
	for (int k = 0; k < 10; k++)
		cr_assert_eq(times[k], 2, "session %d replaced %u times in 5 s", k, times[k]);
}

/* think and rate-stage in a file: parsed as on the command
 * line; --rate defaults to the rate stages' peak and --duration to the
 * longer plan. */
Test(bench_scenario, think_and_rate_stage_from_a_file)
{
	char *path = write_tmp("url = ws://127.0.0.1:9\n"
			       "mode = latency\n"
			       "think = 0:50,40ms:50\n"
			       "rate-stage = 1s:100,3s:100,1s:0\n"
			       "stage = 1s:2\n");
	char *argv[] = {"relay", "--scenario", path};
	struct bench_relay_opts o;
	cr_assert_eq(parse_opts(3, argv, &o), -1);
	cr_assert_eq(o.think.kind, BENCH_SIZE_LIST);
	cr_assert_eq(o.think.size[1], 40);
	cr_assert_eq(o.rate_stages.num, 3);
	cr_assert_eq(o.rate, 100, "--rate defaults to the rate stages' peak");
	cr_assert_eq(o.duration_ms, 5000, "--duration: the longer plan");
	cr_assert_eq(o.warmup_ms, 0);
	cr_assert_eq(o.sessions, 2);
	bench_relay_opts_cleanup(&o);
	unlink(path);
}
