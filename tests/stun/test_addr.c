/* Tests for stun/addr.h: sockaddr conversions. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "stun/addr.h"
#include "stun/status.h"

Test(stun_addr, round_trips_ipv4_through_sockaddr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(3478) };
	struct sockaddr_storage ss;
	socklen_t ss_len;
	struct stun_addr a;

	cr_assert_eq(inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr), 1);
	cr_assert_eq(stun_addr_from_sockaddr(&a, (const struct sockaddr *)&sin, sizeof sin), STUN_OK);
	cr_assert_eq(a.family, STUN_FAMILY_IPV4);
	cr_assert_eq(a.port, 3478);
	cr_assert_arr_eq(a.ip, ((uint8_t[]){ 192, 0, 2, 1 }), 4);
	cr_assert_eq(stun_addr_ip_len(&a), 4);

	cr_assert_eq(stun_addr_to_sockaddr(&ss, &ss_len, &a), STUN_OK);
	cr_assert_eq(ss_len, sizeof sin);
	cr_assert_arr_eq(&ss, &sin, sizeof sin);
}

Test(stun_addr, round_trips_ipv6_through_sockaddr)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(40000) };
	struct sockaddr_storage ss;
	socklen_t ss_len;
	struct stun_addr a;

	cr_assert_eq(inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr), 1);
	cr_assert_eq(stun_addr_from_sockaddr(&a, (const struct sockaddr *)&sin6, sizeof sin6), STUN_OK);
	cr_assert_eq(a.family, STUN_FAMILY_IPV6);
	cr_assert_eq(a.port, 40000);
	cr_assert_eq(stun_addr_ip_len(&a), 16);

	cr_assert_eq(stun_addr_to_sockaddr(&ss, &ss_len, &a), STUN_OK);
	cr_assert_eq(ss_len, sizeof sin6);
	cr_assert_arr_eq(&ss, &sin6, sizeof sin6);
}

Test(stun_addr, rejects_other_families_and_short_lengths)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_storage ss = { .ss_family = AF_UNIX };
	socklen_t ss_len;
	struct stun_addr a = { .family = 9 };

	cr_assert_eq(stun_addr_from_sockaddr(&a, (const struct sockaddr *)&ss, sizeof ss), STUN_E_INVALID);
	cr_assert_eq(stun_addr_from_sockaddr(&a, (const struct sockaddr *)&sin, sizeof sin - 1), STUN_E_INVALID);
	cr_assert_eq(stun_addr_from_sockaddr(&a, (const struct sockaddr *)&sin6, sizeof sin6 - 1), STUN_E_INVALID);
	cr_assert_eq(stun_addr_from_sockaddr(&a, (const struct sockaddr *)&sin, 1), STUN_E_INVALID);
	cr_assert_eq(a.family, 9, "a failed conversion wrote its output");
	cr_assert_eq(stun_addr_to_sockaddr(&ss, &ss_len, &a), STUN_E_INVALID);
	cr_assert_eq(stun_addr_ip_len(&a), 0);
}

Test(stun_addr, equal_compares_family_port_and_address_bytes)
{
	struct stun_addr a = { .family = STUN_FAMILY_IPV4, .port = 1, .ip = { 10, 0, 0, 1 } };
	struct stun_addr b = a;

	b.ip[10] = 0xff; /* beyond an IPv4 address: ignored */
	cr_assert(stun_addr_equal(&a, &b));
	b.port = 2;
	cr_assert_not(stun_addr_equal(&a, &b));
	b = a;
	b.ip[3] = 2;
	cr_assert_not(stun_addr_equal(&a, &b));
	b = a;
	b.family = STUN_FAMILY_IPV6;
	cr_assert_not(stun_addr_equal(&a, &b));
}
