/* Fuzz target for bench/hist.h's histogram line (what `atmosphere-bench
 * merge` reads from files it is handed).
 *
 * Input: the bytes of a file. Properties:
 *   - the status is OK or one of enum bench_hdr_status, with a reason and
 *     an offset inside the input; a refused input leaves no histogram;
 *   - an accepted line re-encodes canonically: encoding it and parsing that
 *     gives the same figures, and encoding again the same bytes;
 *   - its figures are consistent: the buckets add up to count, min <= every
 *     percentile <= max, percentiles do not decrease with p, p0 is min and
 *     p100 max;
 *   - merging it into an empty histogram of its layout changes nothing.
 * Seeds: tests/fuzz/corpus/hist/ (bad-* must be refused and ok-* accepted:
 * tests/bench/live_smoke.sh checks them through `atmosphere-bench merge`;
 * tests/bench/test_hist.c has the malformed cases one by one). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/hist.h"
#include "tests/fuzz/check.h"

static void check_figures(const struct bench_hdr *h)
{
	uint64_t total = 0;
	for (size_t i = 0; i < bench_hdr_num_buckets(h); i++) {
		uint64_t n = bench_hdr_bucket_count(h, i);
		CHECK(total + n >= total);
		total += n;
	}
	CHECK(total == bench_hdr_count(h));
	if (!bench_hdr_count(h)) {
		CHECK(bench_hdr_min(h) == 0 && bench_hdr_max(h) == 0 && bench_hdr_sum(h) == 0);
		CHECK(bench_hdr_percentile(h, 50.0) == 0);
		return;
	}
	static const double ps[] = {0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0};
	uint64_t prev = 0;
	for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
		uint64_t v = bench_hdr_percentile(h, ps[k]);
		CHECK(v >= bench_hdr_min(h) && v <= bench_hdr_max(h));
		CHECK(v >= prev);
		prev = v;
	}
	CHECK(bench_hdr_percentile(h, 0.0) == bench_hdr_min(h));
	CHECK(bench_hdr_percentile(h, 100.0) == bench_hdr_max(h));
}

static bool same_figures(const struct bench_hdr *a, const struct bench_hdr *b)
{
	return bench_hdr_same_layout(a, b) && bench_hdr_count(a) == bench_hdr_count(b) &&
	       bench_hdr_min(a) == bench_hdr_min(b) && bench_hdr_max(a) == bench_hdr_max(b) &&
	       bench_hdr_sum(a) == bench_hdr_sum(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bench_hdr *h = (struct bench_hdr *)&h; /* must become NULL on failure */
	struct bench_hdr_error err;
	memset(&err, 0, sizeof err);
	enum bench_hdr_status st = bench_hdr_parse((const char *)data, size, &h, &err);
	if (st != BENCH_HDR_OK) {
		CHECK(st >= BENCH_HDR_E_TOO_LONG && st <= BENCH_HDR_E_SYNTAX);
		CHECK(h == NULL);
		CHECK(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof err.msg) != NULL);
		CHECK(err.off <= size);
		CHECK(strcmp(bench_hdr_strerror(st), "unknown status") != 0);
		return 0;
	}
	CHECK(h != NULL);
	check_figures(h);

	size_t len = 0, len2 = 0;
	char *line = bench_hdr_encode(h, &len);
	CHECK(line != NULL && len > 0 && line[len - 1] == '\n' && strlen(line) == len);
	struct bench_hdr *back = NULL;
	CHECK(bench_hdr_parse(line, len, &back, &err) == BENCH_HDR_OK);
	CHECK(same_figures(h, back));
	char *again = bench_hdr_encode(back, &len2);
	CHECK(again != NULL && len2 == len && memcmp(line, again, len) == 0);

	struct bench_hdr *m = bench_hdr_new(bench_hdr_sig_digits(h), bench_hdr_highest(h), NULL);
	CHECK(m != NULL);
	CHECK(bench_hdr_merge(m, h) == 0);
	CHECK(same_figures(m, h));
	char *merged = bench_hdr_encode(m, &len2);
	CHECK(merged != NULL && len2 == len && memcmp(line, merged, len) == 0);

	free(merged);
	bench_hdr_free(m);
	free(again);
	bench_hdr_free(back);
	free(line);
	bench_hdr_free(h);
	return 0;
}
