/* core/udpgro.c: see udpgro.h. */
#include "core/udpgro.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>

#ifndef UDP_GRO
#define UDP_GRO 104 /* linux/udp.h; glibc headers before 2.29 lack it */
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

_Static_assert(CMSG_SPACE(sizeof(int)) <= CORE_UDPGRO_CMSG_SPACE, "CORE_UDPGRO_CMSG_SPACE too small");

const char *core_udpgro_strerror(int status)
{
	switch (status) {
	case CORE_UDPGRO_OK:
		return "ok";
	case CORE_UDPGRO_E_CMSG:
		return "malformed control data";
	case CORE_UDPGRO_E_SEG:
		return "bad segment size";
	default:
		return "unknown status";
	}
}

/* The walk cmsg(3)'s CMSG_NXTHDR does, with every bound checked against
 * ctl_len and headers copied out (ctl need not be aligned): a header is
 * CMSG_LEN(0) bytes at least and lies inside the area; the next starts
 * CMSG_ALIGN(cmsg_len) further on; fewer bytes than a header at the end
 * are padding. */
int core_udpgro_seg(const void *ctl, size_t ctl_len, size_t *out_seg)
{
	const uint8_t *p = ctl;
	size_t off = 0, seg = 0;
	bool seen = false;

	*out_seg = 0;
	while (ctl_len - off >= sizeof(struct cmsghdr)) {
		struct cmsghdr h;
		memcpy(&h, p + off, sizeof h);
		if (h.cmsg_len < CMSG_LEN(0) || h.cmsg_len > ctl_len - off)
			return CORE_UDPGRO_E_CMSG;
		if (h.cmsg_level == SOL_UDP && h.cmsg_type == UDP_GRO) {
			int v;
			if (seen)
				return CORE_UDPGRO_E_CMSG;
			seen = true;
			/* udp_cmsg_recv: put_cmsg(msg, SOL_UDP, UDP_GRO, sizeof(int), &gso_size). */
			if (h.cmsg_len - CMSG_LEN(0) != sizeof v)
				return CORE_UDPGRO_E_SEG;
			memcpy(&v, p + off + CMSG_LEN(0), sizeof v);
			if (v <= 0 || v > CORE_UDPGRO_MAX_SEG)
				return CORE_UDPGRO_E_SEG;
			seg = (size_t)v;
		}
		size_t step = CMSG_ALIGN(h.cmsg_len);
		if (step >= ctl_len - off)
			break;
		off += step;
	}
	*out_seg = seg;
	return CORE_UDPGRO_OK;
}

void core_udpgro_init(struct core_udpgro *it, const uint8_t *data, size_t len, size_t seg)
{
	it->data = data;
	it->len = len;
	it->seg = seg;
	it->off = 0;
	it->done = false;
}

bool core_udpgro_next(struct core_udpgro *it, const uint8_t **out, size_t *out_len)
{
	if (it->done)
		return false;
	if (!it->seg) {
		/* One datagram, possibly empty. */
		it->done = true;
		*out = it->data;
		*out_len = it->len;
		return true;
	}
	if (it->off >= it->len) {
		it->done = true;
		return false;
	}
	size_t left = it->len - it->off, n = left < it->seg ? left : it->seg;
	*out = it->data + it->off;
	*out_len = n;
	it->off += n;
	return true;
}

size_t core_udpgro_count(size_t len, size_t seg)
{
	if (!seg)
		return 1;
	return len / seg + (len % seg != 0);
}
