/* Splitting host:port and WebSocket URLs: see net/addr.h. */
#include "net/addr.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <string.h>

int net_hostport_split(struct net_hostport *out, const char *s, size_t len)
{
	memset(out, 0, sizeof *out);
	if (len && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close)
			return NET_ADDR_E_UNCLOSED;
		out->host = s + 1;
		out->host_len = (size_t)(close - s) - 1;
		out->bracketed = true;
		if (close + 1 < s + len) {
			if (close[1] != ':')
				return NET_ADDR_E_AFTER_BRACKET;
			out->has_port = true;
			out->port = close + 2;
			out->port_len = len - (size_t)(out->port - s);
		}
		return NET_ADDR_OK;
	}
	out->host = s;
	out->host_len = len;
	const char *colon = memchr(s, ':', len);
	/* One colon separates the port; more make a bare IPv6 literal. */
	if (colon && !memchr(colon + 1, ':', len - (size_t)(colon - s) - 1)) {
		out->host_len = (size_t)(colon - s);
		out->has_port = true;
		out->port = colon + 1;
		out->port_len = len - (size_t)(out->port - s);
	}
	return NET_ADDR_OK;
}

bool net_port_parse(const char *s, size_t len, uint16_t *out)
{
	unsigned long v = 0;
	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

int net_ws_url_split(struct net_ws_url *out, const char *s)
{
	const char *a;
	memset(out, 0, sizeof *out);
	if (!strncmp(s, "ws://", 5)) {
		a = s + 5;
	} else if (!strncmp(s, "wss://", 6)) {
		a = s + 6;
		out->tls = true;
	} else {
		return NET_ADDR_E_SCHEME;
	}
	size_t alen = strcspn(a, "/?#");
	if (alen == 0)
		return NET_ADDR_E_EMPTY;
	out->authority = a;
	out->authority_len = alen;
	out->path = a + alen;
	return NET_ADDR_OK;
}

/* ::ffff:0:0/96 (RFC 4291 section 2.5.5.2). */
static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void net_addr_key(const struct sockaddr *sa, socklen_t sa_len, uint8_t out[static 16])
{
	memset(out, 0, 16);
	if (sa_len >= (socklen_t)sizeof(struct sockaddr_in) && sa->sa_family == AF_INET) {
		struct sockaddr_in sin;
		memcpy(&sin, sa, sizeof sin);
		memcpy(out, v4mapped, sizeof v4mapped);
		memcpy(out + 12, &sin.sin_addr, 4);
	} else if (sa_len >= (socklen_t)sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;
		memcpy(&sin6, sa, sizeof sin6);
		memcpy(out, &sin6.sin6_addr, 16);
	}
}

bool net_addr_key_is_v4(const uint8_t key[static 16])
{
	return memcmp(key, v4mapped, sizeof v4mapped) == 0;
}

void net_addr_key_limit(const uint8_t key[static 16], uint8_t out[static 16])
{
	if (out != key)
		memcpy(out, key, 16);
	static_assert(NET_ADDR_IPV6_LIMIT_PREFIX % 8 == 0 && NET_ADDR_IPV6_LIMIT_PREFIX <= 128, "whole bytes");
	if (!net_addr_key_is_v4(key))
		memset(out + NET_ADDR_IPV6_LIMIT_PREFIX / 8, 0, 16 - NET_ADDR_IPV6_LIMIT_PREFIX / 8);
}

const char *net_addr_key_str(const uint8_t key[static 16], char out[static NET_ADDR_KEY_STRLEN])
{
	bool v4 = net_addr_key_is_v4(key);
	if (!inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? key + 12 : key, out, NET_ADDR_KEY_STRLEN))
		memcpy(out, "?", 2);
	return out;
}
