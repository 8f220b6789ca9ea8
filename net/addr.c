/* Splitting host:port and WebSocket URLs: see net/addr.h. */
#include "net/addr.h"

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
