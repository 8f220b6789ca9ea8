/* opt/parse: numbers, durations and sizes as typed in options and config
 * files, with the exact bounds and every malformed shape. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "opt/parse.h"

Test(opt_parse, whole_numbers)
{
	uint64_t v = 7;
	cr_assert_eq(opt_parse_uint("0", 0, 10, &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(opt_parse_uint("100000", 1, 100000, &v), 0);
	cr_assert_eq(v, 100000);
	cr_assert_eq(opt_parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
	cr_assert_eq(v, UINT64_MAX);
}

Test(opt_parse, whole_numbers_out_of_range_are_erange_and_leave_out_alone)
{
	uint64_t v = 7;
	cr_assert_eq(opt_parse_uint("0", 1, 10, &v), -ERANGE);
	cr_assert_eq(opt_parse_uint("11", 1, 10, &v), -ERANGE);
	cr_assert_eq(opt_parse_uint("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE, "one past UINT64_MAX");
	cr_assert_eq(opt_parse_uint("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	cr_assert_eq(v, 7, "*out untouched on error");
}

Test(opt_parse, malformed_numbers_are_einval)
{
	static const char *bad[] = {"", " 5", "5 ", "-1", "+1", "0x10", "1e3", "12a", "a12", "1.5", "5s", "K"};
	uint64_t v = 7;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(opt_parse_uint(bad[i], 0, UINT64_MAX, &v), -EINVAL, "'%s'", bad[i]);
	cr_assert_eq(opt_parse_uint(NULL, 0, 1, &v), -EINVAL);
	cr_assert_eq(v, 7);
}

Test(opt_parse, durations_in_every_unit)
{
	struct { const char *s; uint64_t ms; } ok[] = {
		{"30", 30000}, {"30s", 30000}, {"500ms", 500}, {"0ms", 0}, {"5m", 300000},
		{"24h", 86400000}, {"7d", 604800000},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		uint64_t v = 0;
		cr_assert_eq(opt_parse_duration_ms(ok[i].s, 0, UINT64_MAX, &v), 0, "'%s'", ok[i].s);
		cr_assert_eq(v, ok[i].ms, "'%s' gave %llu ms", ok[i].s, (unsigned long long)v);
	}
}

Test(opt_parse, durations_bad_and_out_of_range)
{
	static const char *bad[] = {"", "s", "ms", "5 s", "5sec", "5S", "-5s", "5ms5", "1.5s", "5us", "5y"};
	uint64_t v = 7;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(opt_parse_duration_ms(bad[i], 0, UINT64_MAX, &v), -EINVAL, "'%s'", bad[i]);
	cr_assert_eq(opt_parse_duration_ms("99ms", 100, 1000, &v), -ERANGE);
	cr_assert_eq(opt_parse_duration_ms("2s", 100, 1000, &v), -ERANGE);
	cr_assert_eq(opt_parse_duration_ms("1s", 100, 1000, &v), 0);
	cr_assert_eq(v, 1000);
	/* 2^64 ms overflows in the multiplication, not in the digits. */
	cr_assert_eq(opt_parse_duration_ms("213503982334602d", 0, UINT64_MAX, &v), -ERANGE);
}

Test(opt_parse, sizes_with_binary_suffixes)
{
	struct { const char *s; uint64_t b; } ok[] = {
		{"16384", 16384}, {"16K", 16384}, {"16k", 16384}, {"16KiB", 16384},
		{"1M", 1048576}, {"1MiB", 1048576}, {"2G", 2147483648ull}, {"2GiB", 2147483648ull},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		uint64_t v = 0;
		cr_assert_eq(opt_parse_size(ok[i].s, 0, UINT64_MAX, &v), 0, "'%s'", ok[i].s);
		cr_assert_eq(v, ok[i].b, "'%s'", ok[i].s);
	}
	uint64_t v = 7;
	cr_assert_eq(opt_parse_size("16KB", 0, UINT64_MAX, &v), -EINVAL, "KB is ambiguous: not accepted");
	cr_assert_eq(opt_parse_size("16 K", 0, UINT64_MAX, &v), -EINVAL);
	cr_assert_eq(opt_parse_size("64K", 16, 65535, &v), -ERANGE, "65536 is one past the bound");
	cr_assert_eq(opt_parse_size("15", 16, 65535, &v), -ERANGE);
	cr_assert_eq(v, 7);
}

Test(opt_parse, rates_with_and_without_burst)
{
	struct { const char *s; uint64_t rate, burst; } ok[] = {
		{"1M", 1048576, 1048576}, {"1M/s", 1048576, 1048576}, {"512K/s:4M", 524288, 4194304},
		{"100000", 100000, 100000}, {"2G:1G", 2147483648ull, 1073741824ull}, {"1T/s", 1ull << 40, 1ull << 40},
		{"64KiB/s:64KiB", 65536, 65536},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		uint64_t r = 0, b = 0;
		cr_assert_eq(opt_parse_rate(ok[i].s, 1, UINT64_MAX, &r, &b), 0, "'%s'", ok[i].s);
		cr_assert_eq(r, ok[i].rate, "'%s' rate %llu", ok[i].s, (unsigned long long)r);
		cr_assert_eq(b, ok[i].burst, "'%s' burst %llu", ok[i].s, (unsigned long long)b);
	}
}

Test(opt_parse, rates_malformed_and_out_of_range)
{
	static const char *bad[] = {"", "/s", ":", "1M:", ":1M", "1M/s/s", "1M/h", "1MB/s", "1 M", "-1M",
				    "1M:2M:3M", "1M/s:4M/s", "1.5M", "M", "1M/", "fast", "1M:x"};
	uint64_t r = 7, b = 7;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(opt_parse_rate(bad[i], 1, UINT64_MAX, &r, &b), -EINVAL, "'%s'", bad[i]);
	cr_assert_eq(opt_parse_rate(NULL, 1, UINT64_MAX, &r, &b), -EINVAL);
	cr_assert_eq(opt_parse_rate("0", 1, UINT64_MAX, &r, &b), -ERANGE);
	cr_assert_eq(opt_parse_rate("1M:0", 1, UINT64_MAX, &r, &b), -ERANGE, "burst below min");
	cr_assert_eq(opt_parse_rate("2G", 1, 1u << 30, &r, &b), -ERANGE);
	cr_assert_eq(opt_parse_rate("99999999999T", 1, UINT64_MAX, &r, &b), -ERANGE, "overflows in the multiply");
	cr_assert_eq(opt_parse_rate("1M:99999999999999999999999", 1, UINT64_MAX, &r, &b), -ERANGE);
	cr_assert_eq(r, 7, "*out untouched on error");
	cr_assert_eq(b, 7);
}

Test(opt_parse, budgets_per_period)
{
	struct { const char *s; uint64_t bytes, period_s; } ok[] = {
		{"500G/month", 500ull << 30, 30 * 86400}, {"1T/30d", 1ull << 40, 30 * 86400},
		{"100M/1h", 100ull << 20, 3600}, {"1M/hour", 1 << 20, 3600}, {"2G/day", 2ull << 30, 86400},
		{"3G/week", 3ull << 30, 7 * 86400}, {"4096/90s", 4096, 90}, {"1K/1", 1024, 1},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		uint64_t n = 0, p = 0;
		cr_assert_eq(opt_parse_budget(ok[i].s, 1, UINT64_MAX, &n, &p), 0, "'%s'", ok[i].s);
		cr_assert_eq(n, ok[i].bytes, "'%s'", ok[i].s);
		cr_assert_eq(p, ok[i].period_s, "'%s'", ok[i].s);
	}
	static const char *bad[] = {"", "1G", "1G/", "/month", "1G/months", "1G/1.5d", "1G/1500ms", "1GB/day",
				    "1G/day/day", "1 G/day", "1G/ day"};
	uint64_t n = 7, p = 7;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(opt_parse_budget(bad[i], 1, UINT64_MAX, &n, &p), -EINVAL, "'%s'", bad[i]);
	cr_assert_eq(opt_parse_budget("1G/367d", 1, UINT64_MAX, &n, &p), -ERANGE);
	cr_assert_eq(opt_parse_budget("1G/0s", 1, UINT64_MAX, &n, &p), -ERANGE);
	cr_assert_eq(opt_parse_budget("0/day", 1, UINT64_MAX, &n, &p), -ERANGE);
	cr_assert_eq(n, 7);
	cr_assert_eq(p, 7);
}
