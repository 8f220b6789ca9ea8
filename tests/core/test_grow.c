/* core/grow: capacity doubles from the first size, stops at the ceiling,
 * never falls short of what is needed, and a failed grow leaves the buffer. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"

Test(core_grow, enough_room_is_a_no_op)
{
	uint8_t *b = malloc(64);
	uint8_t *was = b;
	size_t cap = 64;
	cr_assert_eq(core_grow(&b, &cap, 64, 16, 1024), 0);
	cr_assert_eq(b, was);
	cr_assert_eq(cap, 64);
	free(b);
}

Test(core_grow, doubles_from_first_size_until_it_holds_need)
{
	uint8_t *b = NULL;
	size_t cap = 0;
	cr_assert_eq(core_grow(&b, &cap, 100, 16, SIZE_MAX), 0);
	cr_assert_eq(cap, 128, "16 -> 32 -> 64 -> 128");
	memset(b, 0xab, 100);
	cr_assert_eq(core_grow(&b, &cap, 129, 16, SIZE_MAX), 0);
	cr_assert_eq(cap, 256, "doubles from the current capacity");
	cr_assert_eq(b[99], 0xab, "contents kept");
	free(b);
}

Test(core_grow, clamps_to_the_ceiling_but_not_below_need)
{
	uint8_t *b = NULL;
	size_t cap = 0;
	cr_assert_eq(core_grow(&b, &cap, 600, 512, 1000), 0);
	cr_assert_eq(cap, 1000, "1024 would overshoot the ceiling of 1000");
	cr_assert_eq(core_grow(&b, &cap, 1500, 512, 1000), 0);
	cr_assert_eq(cap, 1500, "a need above the ceiling gets exactly the need");
	free(b);
}

Test(core_grow, first_zero_means_exact)
{
	uint8_t *b = NULL;
	size_t cap = 0;
	cr_assert_eq(core_grow(&b, &cap, 77, 0, 0), 0);
	cr_assert_eq(cap, 77);
	cr_assert_eq(core_grow(&b, &cap, 80, 0, 0), 0);
	cr_assert_eq(cap, 80);
	free(b);
}

Test(core_grow, failure_leaves_buffer_and_capacity)
{
	uint8_t *b = malloc(32);
	uint8_t *was = b;
	size_t cap = 32;
	cr_assert_eq(core_grow(&b, &cap, SIZE_MAX - 8, 32, SIZE_MAX), -ENOMEM, "no allocator gives SIZE_MAX");
	cr_assert_eq(b, was);
	cr_assert_eq(cap, 32);
	free(b);
}
