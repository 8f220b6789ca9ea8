/* stun/resolve.c: server names, and their resolution through net/resolve.h. */
#include "stun/resolve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/resolve.h"

const char *const stun_default_servers[STUN_NUM_DEFAULT_SERVERS] = {
	"stun.l.google.com:19302",
	"stun1.l.google.com:19302",
	"stun2.l.google.com:19302",
	"stun.cloudflare.com:3478",
	"stun.stunprotocol.org:3478",
};

/* --- parsing ---------------------------------------------------------------- */

static bool parse_port(const char *s, size_t len, uint16_t *out)
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

int stun_endpoint_parse(struct stun_endpoint *out, const char *text, uint16_t default_port)
{
	const char *s = text, *end = text + strlen(text);
	const char *host, *host_end, *port = NULL, *port_end = NULL;
	uint16_t p = default_port;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (*s == '[') {
		/* "[v6]" or "[v6]:port" (RFC 3986 §3.2.2). */
		host = s + 1;
		host_end = memchr(host, ']', (size_t)(end - host));
		if (!host_end)
			return -EINVAL;
		if (host_end + 1 < end) {
			if (host_end[1] != ':')
				return -EINVAL;
			port = host_end + 2;
			port_end = end;
		}
	} else {
		const char *colon = memchr(s, ':', (size_t)(end - s));
		host = s;
		host_end = end;
		/* One colon separates the port; more make a bare IPv6 literal. */
		if (colon && !memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
			host_end = colon;
			port = colon + 1;
			port_end = end;
		}
	}
	size_t host_len = (size_t)(host_end - host);
	if (host_len == 0 || host_len > STUN_HOST_MAX)
		return -EINVAL;
	if (port && !parse_port(port, (size_t)(port_end - port), &p))
		return -EINVAL;
	if (p == 0)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	memcpy(out->host, host, host_len);
	out->port = p;
	snprintf(out->text, sizeof out->text, memchr(host, ':', host_len) ? "[%s]:%u" : "%s:%u", out->host, p);
	out->err = -EINPROGRESS;
	return 0;
}

int stun_endpoint_parse_list(struct stun_endpoint *out, size_t max, const char *list, size_t *out_bad)
{
	size_t n = 0, item = 0;
	const char *s = list;

	while (*s) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		char buf[STUN_HOST_MAX + 16];
		bool blank = strspn(s, " \t") >= len;
		if (!blank) {
			if (len >= sizeof buf) {
				*out_bad = item;
				return -EINVAL;
			}
			if (n == max)
				return -E2BIG;
			memcpy(buf, s, len);
			buf[len] = 0;
			if (stun_endpoint_parse(&out[n], buf, STUN_DEFAULT_PORT) != 0) {
				*out_bad = item;
				return -EINVAL;
			}
			n++;
		}
		item++;
		s += len;
		if (*s == ',')
			s++;
	}
	return (int)n;
}

/* --- resolution ---------------------------------------------------------------- */

int stun_resolve(struct stun_endpoint *eps, size_t num, int family, int timeout_ms)
{
	struct net_resolve_req *reqs = calloc(num ? num : 1, sizeof *reqs);

	if (!reqs)
		return -ENOMEM;
	for (size_t i = 0; i < num; i++) {
		reqs[i].host = eps[i].host;
		reqs[i].port = eps[i].port;
	}
	int rc = net_resolve_many(reqs, num, family, timeout_ms < 0 ? 0 : timeout_ms);
	/* -ENOMEM is the only return that leaves the requests unwritten. */
	for (size_t i = 0; rc != -ENOMEM && i < num; i++) {
		eps[i].err = reqs[i].err;
		if (reqs[i].err == 0) {
			eps[i].addr = reqs[i].addr;
			eps[i].addr_len = reqs[i].addr_len;
		}
	}
	free(reqs);
	return rc;
}
