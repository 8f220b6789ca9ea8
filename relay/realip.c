/* The client's address behind a load balancer: which peers are trusted to
 * name it (--trusted-proxy), and what they named, from a PROXY header
 * (relay/proxy_proto.h) or an X-Forwarded-For field. Everything here is
 * computation on addresses: the reading is upgrade.c's. */
#include "relay/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "relay/proxy_proto.h"

/* The 16-byte form relay/cidr.h matches: IPv4 as ::ffff:a.b.c.d. */
static void cidr_form(const struct sockaddr_storage *a, uint8_t out[16])
{
	memset(out, 0, 16);
	if (a->ss_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)a)->sin_addr, 4);
	} else if (a->ss_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
	}
}

bool relay_proxy_trusted(const struct relay_server *srv, const struct sockaddr_storage *peer)
{
	uint8_t k[16];
	if (!srv->o.num_trusted_proxies || (peer->ss_family != AF_INET && peer->ss_family != AF_INET6))
		return false;
	cidr_form(peer, k);
	return relay_cidr_match_any(srv->o.trusted_proxies, srv->o.num_trusted_proxies, k);
}

bool relay_client_addr_from_proxy(const struct relay_proxy_hdr *h, uint8_t out[16])
{
	struct sockaddr_storage a = {0};
	if (h->local || h->family == RELAY_PROXY_AF_UNSPEC)
		return false;
	if (h->family == RELAY_PROXY_AF_INET) {
		a.ss_family = AF_INET;
		memcpy(&((struct sockaddr_in *)&a)->sin_addr, h->src_addr, 4);
	} else {
		a.ss_family = AF_INET6;
		memcpy(&((struct sockaddr_in6 *)&a)->sin6_addr, h->src_addr, 16);
	}
	relay_addr_key(&a, out);
	return true;
}

/* One element of X-Forwarded-For, OWS trimmed: an IPv4 or IPv6 address
 * as inet_pton reads it, or IPv6 in brackets (RFC 7239 style, which some
 * proxies also use here). Ports and obfuscated identifiers are not
 * addresses. */
static bool xff_element(const char *s, size_t n, struct sockaddr_storage *a)
{
	char tmp[INET6_ADDRSTRLEN];
	while (n && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, tmp, &((struct sockaddr_in *)a)->sin_addr) == 1) {
		a->ss_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, tmp, &((struct sockaddr_in6 *)a)->sin6_addr) == 1) {
		a->ss_family = AF_INET6;
		return true;
	}
	return false;
}

int relay_client_addr_from_xff(const struct relay_server *srv, const char *v, size_t len, uint8_t out[16])
{
	/* Right to left: the last element was written by the trusted peer
	 * itself (HAProxy's `option forwardfor` adds its own line last); an
	 * element that is another trusted proxy passes the word on to the
	 * one before it. Everything further left is the client's to write. */
	size_t end = len;
	for (unsigned hops = 0; hops < RELAY_XFF_MAX_HOPS; hops++) {
		size_t start = end;
		while (start > 0 && v[start - 1] != ',')
			start--;
		struct sockaddr_storage a;
		if (!xff_element(v + start, end - start, &a))
			return -EINVAL;
		if (start == 0 || !relay_proxy_trusted(srv, &a)) {
			relay_addr_key(&a, out);
			return 0;
		}
		end = start - 1;
	}
	return -EINVAL;
}
