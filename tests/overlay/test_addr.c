/* overlay/addr: derived overlay addresses stay inside their prefixes, are
 * stable, differ between members and meshes, and the counter moves them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "overlay/addr.h"

Test(overlay_addr, v4_is_inside_100_64_slash_10_and_not_its_ends)
{
	char id[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(id, sizeof id, "node-%d", i);
		uint32_t a = overlay_addr4("mesh-0123456789ab", id, 0);
		cr_assert_eq(a & 0xffc00000u, 0x64400000u, "%08x outside 100.64.0.0/10", a);
		cr_assert_neq(a, 0x64400000u);
		cr_assert_neq(a, 0x647fffffu);
		cr_assert(overlay_in_mesh4(a));
	}
	cr_assert_not(overlay_in_mesh4(0x64800000u), "100.128.0.0 is outside");
	cr_assert_not(overlay_in_mesh4(0x643fffffu), "100.63.255.255 is outside");
}

Test(overlay_addr, same_inputs_same_addresses_different_inputs_different)
{
	cr_assert_eq(overlay_addr4("m", "a", 0), overlay_addr4("m", "a", 0));
	cr_assert_neq(overlay_addr4("m", "a", 0), overlay_addr4("m", "b", 0));
	cr_assert_neq(overlay_addr4("m", "a", 0), overlay_addr4("n", "a", 0), "another mesh, another address");
	cr_assert_neq(overlay_addr4("m", "a", 0), overlay_addr4("m", "a", 1), "the collision counter moves it");
	cr_assert_neq(overlay_addr4("ab", "c", 0), overlay_addr4("a", "bc", 0), "fields are kept apart");
	uint8_t x[16], y[16];
	overlay_addr6("m", "a", 0, x);
	overlay_addr6("m", "a", 0, y);
	cr_assert_arr_eq(x, y, 16);
	overlay_addr6("m", "a", 1, y);
	cr_assert(memcmp(x, y, 16) != 0);
}

Test(overlay_addr, v6_is_a_ula_slash_48_of_the_mesh_with_subnet_0)
{
	uint8_t p[16], a[16], b[16];
	overlay_prefix6("mesh-0123456789ab", p);
	cr_assert_eq(p[0], 0xfd, "RFC 4193: fd00::/8");
	for (int i = 6; i < 16; i++)
		cr_assert_eq(p[i], 0, "a /48: byte %d zero", i);
	overlay_addr6("mesh-0123456789ab", "node-a", 0, a);
	overlay_addr6("mesh-0123456789ab", "node-b", 0, b);
	cr_assert(overlay_in_mesh6(p, a));
	cr_assert(overlay_in_mesh6(p, b));
	cr_assert_eq(a[6], 0);
	cr_assert_eq(a[7], 0, "subnet id 0");
	cr_assert(memcmp(a + 8, b + 8, 8) != 0);
	uint8_t q[16];
	overlay_prefix6("mesh-other", q);
	cr_assert(memcmp(p, q, 6) != 0, "another mesh, another /48");
	cr_assert_not(overlay_in_mesh6(q, a));
}

Test(overlay_addr, v4_collisions_in_a_big_mesh_are_as_rare_as_22_bits_allow)
{
	/* 1,000 members in 2^22 - 2 addresses: about n^2 / 2^23 = 0.12
	 * expected colliding pairs. Over 30 meshes expect ~3.6; far more
	 * would mean the derivation is not using its 22 bits. */
	static uint32_t seen[1000];
	int pairs = 0;
	char mesh[32], id[32];
	for (int m = 0; m < 30; m++) {
		snprintf(mesh, sizeof mesh, "mesh-%d", m);
		for (int i = 0; i < 1000; i++) {
			snprintf(id, sizeof id, "node-%d", i);
			seen[i] = overlay_addr4(mesh, id, 0);
			for (int j = 0; j < i; j++)
				pairs += seen[j] == seen[i];
		}
	}
	cr_assert_lt(pairs, 20, "%d colliding pairs in 30 meshes of 1,000", pairs);
}
