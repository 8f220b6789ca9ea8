/* Fuzz target for bench/punch_report.h's record parser (the lines
 * bench/punch.sh writes and `atmosphere-bench punch` reads back) and the
 * per-pair figures made from round records.
 *
 * Input: bytes, split into lines at '\n'. Properties, per line:
 *   - a refused line (-1) is refused again, and an accepted one parses the
 *     same twice (no hidden state);
 *   - an accepted record's strings are NUL-terminated inside their arrays
 *     (the lengths checked below), a round's pair is TYPE:TYPE, an ok round
 *     has a first-packet time and only such a round a direct one, the
 *     port mappings are "-", pcp, natpmp or upnp, via_mapping is -1, 0 or 1;
 *   - folding every accepted round into one pair keeps the counts in order:
 *     successes <= attempts, direct <= successes, families and the rounds
 *     that used a mapping <= direct, mappings <= successes, p50 <= p99.
 * Seeds: tests/fuzz/corpus/punchrec/; tests/bench/test_punch_report.c has
 * the malformed cases one by one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/punch_report.h"
#include "tests/fuzz/check.h"

static bool is_map(const char *s)
{
	return !strcmp(s, "-") || !strcmp(s, "pcp") || !strcmp(s, "natpmp") || !strcmp(s, "upnp");
}

static void check_round(const struct bench_punch_round *r)
{
	CHECK(strlen(r->pair) < sizeof r->pair && strchr(r->pair, ':'));
	CHECK(strlen(r->path) < sizeof r->path && r->path[0]);
	CHECK(strlen(r->family) < sizeof r->family && r->family[0]);
	CHECK(strlen(r->note) < sizeof r->note);
	CHECK(is_map(r->rob_map) && is_map(r->matt_map));
	CHECK(r->via_mapping >= -1 && r->via_mapping <= 1);
	CHECK((r->status == BENCH_PUNCH_OK) == (r->first_ms >= 0));
	CHECK(r->direct_ms < 0 || r->first_ms >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bench_punch_pair pair;
	char line[4200];
	bench_punch_pair_init(&pair, "fuzz:fuzz");
	size_t i = 0;
	while (i < size) {
		size_t n = 0;
		while (i + n < size && data[i + n] != '\n')
			n++;
		size_t take = n < sizeof line - 1 ? n : sizeof line - 1;
		memcpy(line, data + i, take);
		line[take] = '\0'; /* an embedded NUL ends the line early: fine */
		i += n + 1;
		struct bench_punch_rec a, b;
		int ra = bench_punch_rec_parse(line, &a), rb = bench_punch_rec_parse(line, &b);
		CHECK(ra == 0 || ra == -1);
		CHECK(ra == rb);
		if (ra)
			continue;
		CHECK(a.kind == b.kind);
		if (a.kind != BENCH_REC_ROUND)
			continue;
		CHECK(!memcmp(&a.u.round, &b.u.round, sizeof a.u.round));
		check_round(&a.u.round);
		bench_punch_pair_add(&pair, &a.u.round);
	}
	CHECK(pair.successes <= pair.attempts);
	CHECK(pair.num_direct <= pair.successes);
	CHECK(pair.num_ipv4 + pair.num_ipv6 <= pair.num_direct);
	CHECK(pair.num_via_mapping <= pair.num_direct);
	CHECK(pair.rob_mapped <= pair.successes && pair.matt_mapped <= pair.successes);
	struct bench_punch_times t;
	bench_punch_pair_first(&pair, &t);
	CHECK(t.p50 <= t.p99);
	bench_punch_pair_direct(&pair, &t);
	CHECK(t.p50 <= t.p99);
	const char *fam = bench_punch_pair_family(&pair);
	CHECK(!strcmp(fam, "-") || !strcmp(fam, "ipv4") || !strcmp(fam, "ipv6") || !strcmp(fam, "mixed"));
	return 0;
}
