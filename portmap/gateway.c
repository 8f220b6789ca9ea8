/* portmap/gateway.c: the default gateway, our address towards it, and which
 * external addresses a gateway may report. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "portmap/internal.h"

atomic_uint pm_refused;

uint64_t pm_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int pm_gateway(uint32_t *out_be)
{
	/* /proc/net/route: "Iface Destination Gateway Flags ...", addresses as
	 * the 32-bit value in memory order printed in hex. The default route
	 * has destination 0 and RTF_GATEWAY (0x2). */
	FILE *f = fopen("/proc/net/route", "re");
	if (!f)
		return -errno;
	char line[256];
	int rc = -ENETUNREACH;
	unsigned best_metric = ~0u;
	if (!fgets(line, sizeof line, f)) { /* header */
		fclose(f);
		return rc;
	}
	while (fgets(line, sizeof line, f)) {
		char ifname[32];
		unsigned dest, gw, flags, refcnt, use, metric, mask;
		if (sscanf(line, "%31s %x %x %x %u %u %u %x", ifname, &dest, &gw, &flags, &refcnt, &use, &metric, &mask) != 8)
			continue;
		if (dest != 0 || mask != 0 || !(flags & 0x2) || !(flags & 0x1) || gw == 0)
			continue;
		if (metric < best_metric) {
			best_metric = metric;
			*out_be = (uint32_t)gw;
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

int pm_local_addr(uint32_t gw_be, uint32_t *out_be)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(PORTMAP_PCP_SERVER_PORT)};
	to.sin_addr.s_addr = gw_be;
	struct sockaddr_in me;
	socklen_t ml = sizeof me;
	int rc = 0;
	if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0 || getsockname(fd, (struct sockaddr *)&me, &ml) != 0)
		rc = -errno;
	else
		*out_be = me.sin_addr.s_addr;
	close(fd);
	return rc;
}

bool pm_usable_external(uint32_t ip_be)
{
	uint32_t ip = ntohl(ip_be);
	if (ip == 0 || ip == 0xffffffffu)
		return false;
	if ((ip >> 24) == 127 || (ip >> 24) == 0 || (ip >> 28) >= 0xe) /* loopback, "this network", multicast, class E */
		return false;
	if ((ip >> 16) == 0xa9fe) /* link-local */
		return false;
	return true;
}

void pm_fmt_ip(uint32_t ip_be, char out[static 16])
{
	struct in_addr a = {.s_addr = ip_be};
	if (!inet_ntop(AF_INET, &a, out, 16))
		snprintf(out, 16, "?");
}

const char *portmap_proto_name(unsigned proto)
{
	switch (proto) {
	case PORTMAP_PCP: return "pcp";
	case PORTMAP_NATPMP: return "natpmp";
	case PORTMAP_UPNP: return "upnp";
	default: return "none";
	}
}
