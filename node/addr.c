/* node/addr.c: addresses: formatting, parsing and classifying endpoints; this node's candidates. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node/family.h"
#include "node/internal.h"
#include "node/overlay.h"

uint64_t node_now_ms(void) { return core_now_ns() / 1000000u; }

uint64_t node_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Copies src into dst[cap], cutting it short if it must (never unterminated). */
void node_copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = 0;
}

void node_fmt_addr(const struct sockaddr_storage *a, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (a->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, ip, sizeof ip);
		snprintf(out, cap, "%s:%u", ip, ntohs(((const struct sockaddr_in *)a)->sin_port));
	} else if (a->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, ip, sizeof ip);
		snprintf(out, cap, "[%s]:%u", ip, ntohs(((const struct sockaddr_in6 *)a)->sin6_port));
	} else {
		snprintf(out, cap, "?");
	}
}

bool node_parse_ep(const char *s, struct sockaddr_storage *out, socklen_t *len)
{
	struct stun_endpoint e;
	if (!s || !*s || stun_endpoint_parse(&e, s, 0) != 0 || !e.port)
		return false;
	struct sockaddr_in *v4 = (struct sockaddr_in *)out;
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, e.host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(e.port);
		*len = sizeof *v4;
		return true;
	}
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET6, e.host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(e.port);
		*len = sizeof *v6;
		return true;
	}
	return false;
}

bool node_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

/* Private, loopback and link-local addresses make a "lan" path; in IPv6,
 * unique local ones (node/family.h). */
bool node_is_lan(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET6)
		return node_family_v6_private(((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr);
	if (a->ss_family != AF_INET)
		return false;
	uint32_t ip = ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr);
	return (ip >> 24) == 10 || (ip >> 24) == 127 || (ip >> 20) == 0xac1 || (ip >> 16) == 0xc0a8 ||
	       (ip >> 16) == 0xa9fe;
}

/* This node's candidates: every IPv4 interface address with our port (but
 * the overlay's), then the STUN-mapped endpoint, then the one the home
 * router maps for us, then the IPv6 ones (node/udp6.c). */
json_object *node_candidates_json(struct node *node)
{
	json_object *arr = json_object_new_array();
	struct ifaddrs *ifs = NULL, *i;
	char buf[64];
	if (node->o->relay_only)
		return arr; /* no direct path wanted: nothing for peers to punch */
	if (getifaddrs(&ifs) == 0) {
		for (i = ifs; i; i = i->ifa_next) {
			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP))
				continue;
			struct sockaddr_storage a;
			memcpy(&a, i->ifa_addr, sizeof(struct sockaddr_in));
			/* Never the overlay's own interface: a direct path through
			 * the overlay would carry the overlay inside itself. */
			if (node_overlay_owns(node, &a))
				continue;
			((struct sockaddr_in *)&a)->sin_port = htons(node->port);
			node_fmt_addr(&a, buf, sizeof buf);
			json_object_array_add(arr, json_object_new_string(buf));
		}
		freeifaddrs(ifs);
	}
	if (node->public_ep[0])
		json_object_array_add(arr, json_object_new_string(node->public_ep));
	if (node->mapped_ep[0] && strcmp(node->mapped_ep, node->public_ep) != 0)
		json_object_array_add(arr, json_object_new_string(node->mapped_ep));
	node_udp6_candidates(node, arr); /* IPv6, last: the IPv4 ones keep their places */
	return arr;
}

void node_local_endpoint(struct node *node)
{
	/* The address the default route leaves from, with our port. */
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(0xC0000201)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage a;
	socklen_t al = sizeof a;
	if (fd >= 0 && connect(fd, (struct sockaddr *)&dst, sizeof dst) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0) {
		((struct sockaddr_in *)&a)->sin_port = htons(node->port);
		node_fmt_addr(&a, node->local_ep, sizeof node->local_ep);
	} else {
		snprintf(node->local_ep, sizeof node->local_ep, "127.0.0.1:%u", node->port);
	}
	if (fd >= 0)
		close(fd);
}
