/* Source networks: see relay/cidr.h. */
#include "relay/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const uint8_t V4_MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int relay_cidr_parse(struct relay_cidr *out, const char *text, size_t len)
{
	char a[RELAY_CIDR_MAX_TEXT];
	struct relay_cidr n = {0};
	unsigned max, plen;
	const char *slash = memchr(text, '/', len);
	size_t alen = slash ? (size_t)(slash - text) : len;
	if (!alen || alen >= sizeof a || memchr(text, 0, len))
		return -EINVAL;
	memcpy(a, text, alen);
	a[alen] = 0;
	if (inet_pton(AF_INET, a, n.addr + 12) == 1) {
		memcpy(n.addr, V4_MAPPED, 12);
		n.v4 = true;
		max = 32;
	} else if (inet_pton(AF_INET6, a, n.addr) == 1) {
		max = 128;
	} else {
		return -EINVAL;
	}
	plen = max;
	if (slash) {
		const char *p = slash + 1, *end = text + len;
		/* 1 to 3 digits, no leading zero but "0" itself. */
		if (p == end || end - p > 3 || (p[0] == '0' && end - p > 1))
			return -EINVAL;
		plen = 0;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			plen = plen * 10 + (unsigned)(*p - '0');
		}
		if (plen > max)
			return -EINVAL;
	}
	n.prefix_len = (uint8_t)(plen + (n.v4 ? 96 : 0));
	/* No host bits past the prefix. */
	for (unsigned bit = n.prefix_len; bit < 128; bit++)
		if (n.addr[bit / 8] & (0x80u >> (bit % 8)))
			return -EINVAL;
	*out = n;
	return 0;
}

const char *relay_cidr_format(const struct relay_cidr *n, char out[static RELAY_CIDR_MAX_TEXT])
{
	char a[INET6_ADDRSTRLEN];
	if (n->v4)
		inet_ntop(AF_INET, n->addr + 12, a, sizeof a);
	else
		inet_ntop(AF_INET6, n->addr, a, sizeof a);
	snprintf(out, RELAY_CIDR_MAX_TEXT, "%s/%u", a, (unsigned)(n->v4 ? n->prefix_len - 96 : n->prefix_len));
	return out;
}

bool relay_cidr_match(const struct relay_cidr *n, const uint8_t addr[static 16])
{
	unsigned full = n->prefix_len / 8, rest = n->prefix_len % 8;
	if (memcmp(n->addr, addr, full))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (addr[full] & mask) == n->addr[full];
}

bool relay_cidr_match_any(const struct relay_cidr *nets, size_t num_nets, const uint8_t addr[static 16])
{
	for (size_t i = 0; i < num_nets; i++)
		if (relay_cidr_match(&nets[i], addr))
			return true;
	return false;
}
