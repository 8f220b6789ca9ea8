/* overlay/table: cryptokey routing: owners found, strangers not, a source
 * address accepted only from its owner, collisions reported. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>

#include "overlay/addr.h"
#include "overlay/table.h"

Test(overlay_table, owners_of_both_families_are_found)
{
	struct overlay_table t;
	cr_assert_eq(overlay_table_init(&t, 2000), 0);
	char id[32];
	for (uint32_t i = 0; i < 1000; i++) {
		snprintf(id, sizeof id, "n%u", i);
		uint32_t a = overlay_addr4("m", id, 0);
		uint8_t a4[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a}, a6[16];
		overlay_addr6("m", id, 0, a6);
		int r = overlay_table_add(&t, 4, a4, i);
		cr_assert(r == 0 || r == -EEXIST);
		cr_assert_eq(overlay_table_add(&t, 6, a6, i), 0);
	}
	for (uint32_t i = 0; i < 1000; i++) {
		snprintf(id, sizeof id, "n%u", i);
		uint8_t a6[16];
		overlay_addr6("m", id, 0, a6);
		uint32_t peer = 99999;
		cr_assert(overlay_table_lookup(&t, 6, a6, &peer));
		cr_assert_eq(peer, i);
		cr_assert(overlay_table_src_ok(&t, 6, a6, i));
		cr_assert_not(overlay_table_src_ok(&t, 6, a6, i + 1), "another member's source address");
	}
	uint8_t stranger[4] = {100, 64, 0, 0};
	uint32_t peer;
	cr_assert_not(overlay_table_lookup(&t, 4, stranger, &peer));
	cr_assert_not(overlay_table_src_ok(&t, 4, stranger, 0));
	overlay_table_free(&t);
}

Test(overlay_table, a_collision_is_reported_and_the_first_owner_kept)
{
	struct overlay_table t;
	cr_assert_eq(overlay_table_init(&t, 4), 0);
	uint8_t a[4] = {100, 64, 1, 2};
	cr_assert_eq(overlay_table_add(&t, 4, a, 1), 0);
	cr_assert_eq(overlay_table_add(&t, 4, a, 1), 0, "the same owner again is fine");
	cr_assert_eq(overlay_table_add(&t, 4, a, 2), -EEXIST);
	uint32_t peer;
	cr_assert(overlay_table_lookup(&t, 4, a, &peer));
	cr_assert_eq(peer, 1);
	overlay_table_free(&t);
}

Test(overlay_table, full_tables_and_bad_families_refuse)
{
	struct overlay_table t;
	cr_assert_eq(overlay_table_init(&t, 2), 0);
	uint8_t a[16] = {100, 64, 0, 1}, b[16] = {100, 64, 0, 2}, c[16] = {100, 64, 0, 3};
	cr_assert_eq(overlay_table_add(&t, 4, a, 1), 0);
	cr_assert_eq(overlay_table_add(&t, 4, b, 2), 0);
	cr_assert_eq(overlay_table_add(&t, 4, c, 3), -ENOSPC);
	cr_assert_eq(overlay_table_add(&t, 5, c, 3), -EINVAL);
	overlay_table_clear(&t);
	cr_assert_eq(t.count, 0);
	uint32_t peer;
	cr_assert_not(overlay_table_lookup(&t, 4, a, &peer), "cleared");
	cr_assert_eq(overlay_table_add(&t, 4, c, 3), 0);
	overlay_table_free(&t);
	cr_assert_eq(overlay_table_init(&t, 0), -EINVAL);
}
