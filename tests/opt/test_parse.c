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
