/* overlay/udpgso.c: see udpgso.h. */
#include "overlay/udpgso.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* linux/udp.h; glibc headers before 2.29 lack it */
#endif

_Static_assert(CMSG_SPACE(sizeof(uint16_t)) <= OVERLAY_UDPGSO_CMSG_SPACE, "OVERLAY_UDPGSO_CMSG_SPACE too small");

void overlay_udpgso_reset(struct overlay_udpgso *b)
{
	memset(b, 0, sizeof *b);
}

bool overlay_udpgso_fits(const struct overlay_udpgso *b, size_t n)
{
	if (!n || n > OVERLAY_UDPGSO_MAX_LEN || n > UINT16_MAX)
		return false;
	if (!b->num)
		return true;
	return !b->closed && n <= b->seg && b->num < OVERLAY_UDPGSO_MAX_SEGS && b->len + n <= OVERLAY_UDPGSO_MAX_LEN;
}

void overlay_udpgso_add(struct overlay_udpgso *b, size_t n)
{
	if (!b->num)
		b->seg = n;
	else if (n < b->seg)
		b->closed = true;
	b->len += n;
	b->num++;
}

size_t overlay_udpgso_cmsg(void *ctl, size_t ctl_len, uint16_t seg)
{
	if (!seg || ctl_len < CMSG_SPACE(sizeof seg))
		return 0;
	memset(ctl, 0, CMSG_SPACE(sizeof seg));
	struct msghdr mh = {.msg_control = ctl, .msg_controllen = CMSG_SPACE(sizeof seg)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof seg);
	memcpy(CMSG_DATA(c), &seg, sizeof seg);
	return CMSG_SPACE(sizeof seg);
}
