/* node/family.c: per-family path choice (node/family.h). */
#include "node/family.h"

#include <string.h>

#include "node/wire.h"

const char *node_family_name(sa_family_t family)
{
	return family == AF_INET ? "ipv4" : family == AF_INET6 ? "ipv6" : NULL;
}

unsigned node_family_direct_rank(bool lan, bool ipv6)
{
	return lan ? 3 : ipv6 ? 2 : 1;
}

bool node_family_direct_moves(unsigned cur_rank, unsigned from_rank, uint64_t cur_quiet_ms)
{
	return from_rank > cur_rank || cur_quiet_ms > NODE_DIRECT_STALE_MS;
}

enum node_family_refusal node_family_v6_refusal(const uint8_t addr[static 16])
{
	static const uint8_t zero[16], mapped[12] = {[10] = 0xff, [11] = 0xff};
	static const uint8_t loopback[16] = {[15] = 1};
	if (!memcmp(addr, zero, 16))
		return NODE_REFUSE_UNSPECIFIED;
	if (!memcmp(addr, loopback, 16))
		return NODE_REFUSE_LOOPBACK;
	if (!memcmp(addr, mapped, 12))
		return NODE_REFUSE_V4_MAPPED;
	if (addr[0] == 0xff)
		return NODE_REFUSE_MULTICAST;
	if (addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80)
		return NODE_REFUSE_LINK_LOCAL;
	return NODE_REFUSE_NONE;
}

bool node_family_v6_candidate(const uint8_t addr[static 16])
{
	return node_family_v6_refusal(addr) == NODE_REFUSE_NONE;
}

const char *node_family_refusal_name(enum node_family_refusal r)
{
	static const char *const names[NODE_REFUSE_COUNT] = {
		[NODE_REFUSE_NONE] = "none",           [NODE_REFUSE_MALFORMED] = "malformed",
		[NODE_REFUSE_OVERLAY] = "overlay",     [NODE_REFUSE_UNSPECIFIED] = "unspecified",
		[NODE_REFUSE_LOOPBACK] = "loopback",   [NODE_REFUSE_MULTICAST] = "multicast",
		[NODE_REFUSE_LINK_LOCAL] = "link_local", [NODE_REFUSE_V4_MAPPED] = "v4_mapped",
		[NODE_REFUSE_SELF] = "self",
	};
	return (unsigned)r < NODE_REFUSE_COUNT ? names[r] : "?";
}

bool node_family_v6_private(const uint8_t addr[static 16])
{
	return (addr[0] & 0xfe) == 0xfc;
}
