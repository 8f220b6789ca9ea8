/* stun/resolve.c: server names, and their resolution through net/resolve.h. */
#include "stun/resolve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"
#include "net/resolve.h"

const char *const stun_default_servers[STUN_NUM_DEFAULT_SERVERS] = {
	"stun.l.google.com:19302",
	"stun1.l.google.com:19302",
	"stun2.l.google.com:19302",
	"stun.cloudflare.com:3478",
	"stun.stunprotocol.org:3478",
};

/* --- parsing ---------------------------------------------------------------- */

int stun_endpoint_parse(struct stun_endpoint *out, const char *text, uint16_t default_port)
{
	const char *s = text, *end = text + strlen(text);
	struct net_hostport hp;
	uint16_t p = default_port;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (net_hostport_split(&hp, s, (size_t)(end - s)) != NET_ADDR_OK)
		return -EINVAL;
	if (hp.host_len == 0 || hp.host_len > STUN_HOST_MAX)
		return -EINVAL;
	if (hp.has_port && !net_port_parse(hp.port, hp.port_len, &p))
		return -EINVAL;
	if (p == 0)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	memcpy(out->host, hp.host, hp.host_len);
	out->port = p;
	snprintf(out->text, sizeof out->text, memchr(hp.host, ':', hp.host_len) ? "[%s]:%u" : "%s:%u", out->host, p);
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
