/* node/pmtu.c: a direct path's overlay MTU (node/pmtu.h). */
#include "node/pmtu.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

const uint16_t node_pmtu_sizes[NODE_PMTU_NUM_SIZES] = {1420, 1400, 1380, 1360, 1340, 1320, 1300};

static bool is_size(uint16_t size)
{
	for (size_t i = 0; i < NODE_PMTU_NUM_SIZES; i++)
		if (node_pmtu_sizes[i] == size)
			return true;
	return false;
}

void node_pmtu_reset(struct node_pmtu *s)
{
	memset(s, 0, sizeof *s);
}

bool node_pmtu_round(const struct node_pmtu *s, uint64_t t)
{
	if (!s->start_ms)
		return t >= s->next_ms;
	return s->rounds < 2 && t - s->start_ms >= NODE_PMTU_ROUND_MS && s->best != NODE_PMTU_MAX;
}

void node_pmtu_sent(struct node_pmtu *s, uint64_t t)
{
	if (!s->start_ms) {
		s->start_ms = t ? t : 1;
		s->best = 0;
		s->rounds = 0;
	}
	s->rounds++;
}

bool node_pmtu_answer(struct node_pmtu *s, uint16_t size)
{
	if (!s->start_ms || !is_size(size))
		return false;
	if (size > s->best)
		s->best = size;
	return true;
}

bool node_pmtu_tick(struct node_pmtu *s, uint64_t t)
{
	if (!s->start_ms || (s->best != NODE_PMTU_MAX && t - s->start_ms < NODE_PMTU_WAIT_MS))
		return false;
	s->mtu = s->best;
	s->start_ms = 0;
	s->next_ms = t + NODE_PMTU_EVERY_MS;
	return true;
}

unsigned node_pmtu_path(const struct node_pmtu *s, bool direct)
{
	return direct && s->mtu > NODE_OVERLAY_MTU ? s->mtu : NODE_OVERLAY_MTU;
}

void node_pmtu_probe_body(uint16_t size, uint8_t *out)
{
	memset(out, 0, size);
	out[0] = NODE_PMTU_PROBE;
	out[1] = (uint8_t)(size >> 8);
	out[2] = (uint8_t)size;
}

bool node_pmtu_parse(const uint8_t *m, size_t n, uint8_t *kind, uint16_t *size)
{
	if (n < NODE_PMTU_HEAD_LEN)
		return false;
	uint16_t sz = (uint16_t)(m[1] << 8 | m[2]);
	if (!is_size(sz))
		return false;
	if (m[0] == NODE_PMTU_PROBE && n != sz)
		return false;
	if (m[0] == NODE_PMTU_ANSWER && n != NODE_PMTU_HEAD_LEN)
		return false;
	if (m[0] != NODE_PMTU_PROBE && m[0] != NODE_PMTU_ANSWER)
		return false;
	*kind = m[0];
	*size = sz;
	return true;
}

int node_pmtu_socket(int fd, int af)
{
	int v = af == AF_INET6 ? IPV6_PMTUDISC_PROBE : IP_PMTUDISC_PROBE;
	int rc = af == AF_INET6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof v)
				: setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v);
	return rc == 0 ? 0 : -errno;
}
