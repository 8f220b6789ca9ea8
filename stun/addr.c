/* stun/addr.c: struct stun_addr helpers and sockaddr conversions. */
#include "stun/addr.h"

#include <string.h>

size_t stun_addr_ip_len(const struct stun_addr *addr)
{
	switch (addr->family) {
	case STUN_FAMILY_IPV4:
		return 4;
	case STUN_FAMILY_IPV6:
		return 16;
	default:
		return 0;
	}
}

bool stun_addr_equal(const struct stun_addr *a, const struct stun_addr *b)
{
	size_t n = stun_addr_ip_len(a);
	return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, n) == 0;
}

int stun_addr_from_sockaddr(struct stun_addr *out, const struct sockaddr *sa, socklen_t sa_len)
{
	struct stun_addr a = { 0 };

	if (sa_len < (socklen_t)sizeof(sa_family_t))
		return STUN_E_INVALID;
	switch (sa->sa_family) {
	case AF_INET: {
		struct sockaddr_in sin;
		if (sa_len < (socklen_t)sizeof sin)
			return STUN_E_INVALID;
		/* Copy out rather than cast: sa may be any sockaddr buffer. */
		memcpy(&sin, sa, sizeof sin);
		a.family = STUN_FAMILY_IPV4;
		a.port = ntohs(sin.sin_port);
		memcpy(a.ip, &sin.sin_addr, 4);
		break;
	}
	case AF_INET6: {
		struct sockaddr_in6 sin6;
		if (sa_len < (socklen_t)sizeof sin6)
			return STUN_E_INVALID;
		memcpy(&sin6, sa, sizeof sin6);
		a.family = STUN_FAMILY_IPV6;
		a.port = ntohs(sin6.sin6_port);
		memcpy(a.ip, &sin6.sin6_addr, 16);
		break;
	}
	default:
		return STUN_E_INVALID;
	}
	*out = a;
	return STUN_OK;
}

int stun_addr_to_sockaddr(struct sockaddr_storage *out, socklen_t *out_len, const struct stun_addr *addr)
{
	switch (addr->family) {
	case STUN_FAMILY_IPV4: {
		struct sockaddr_in sin = { 0 };
		sin.sin_family = AF_INET;
		sin.sin_port = htons(addr->port);
		memcpy(&sin.sin_addr, addr->ip, 4);
		memset(out, 0, sizeof *out);
		memcpy(out, &sin, sizeof sin);
		*out_len = (socklen_t)sizeof sin;
		return STUN_OK;
	}
	case STUN_FAMILY_IPV6: {
		struct sockaddr_in6 sin6 = { 0 };
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(addr->port);
		memcpy(&sin6.sin6_addr, addr->ip, 16);
		memset(out, 0, sizeof *out);
		memcpy(out, &sin6, sizeof sin6);
		*out_len = (socklen_t)sizeof sin6;
		return STUN_OK;
	}
	default:
		return STUN_E_INVALID;
	}
}
