/* stun/ports.c: sampling the NAT's port allocation (see stun/ports.h). */
#include "stun/ports.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "core/udp.h"
#include "stun/client.h"

struct core_udp *stun_port_fresh_udp4(uint16_t *out_port)
{
	struct sockaddr_in any = {.sin_family = AF_INET}, me;
	socklen_t ml = sizeof me;
	int err = 0;
	struct core_udp *u = NULL;
	int fd = core_udp_bind((struct sockaddr *)&any, sizeof any, false);
	if (fd < 0)
		return NULL;
	if (out_port && getsockname(fd, (struct sockaddr *)&me, &ml) != 0) {
		close(fd);
		return NULL;
	}
	if (!(u = core_udp_new(fd, &err)))
		return NULL; /* core_udp_new closed fd */
	if (out_port)
		*out_port = ntohs(me.sin_port);
	return u;
}

int stun_port_sample(const struct sockaddr_storage *srv, socklen_t srv_len, size_t num,
		     const struct stun_client_opts *o, struct stun_port_samples *out)
{
	struct core_udp *socks[STUN_PORT_SAMPLES] = {0};
	int rc = 0;
	memset(out, 0, sizeof *out);
	if (srv->ss_family != AF_INET || o->feed)
		return -EINVAL;
	if (num > STUN_PORT_SAMPLES)
		num = STUN_PORT_SAMPLES;
	for (size_t i = 0; i < num; i++) {
		uint16_t local;
		if (!(socks[i] = stun_port_fresh_udp4(&local)))
			break;
		struct stun_probe p = {.to = *srv, .to_len = srv_len};
		int n = stun_client_run(socks[i], &p, 1, o);
		if (n == -ECANCELED) {
			rc = n;
			break;
		}
		if (n < 1 || p.status != 0)
			break;
		out->local[out->num] = local;
		out->mapped[out->num] = p.mapped.port;
		out->last = p.mapped.port;
		out->num++;
	}
	for (size_t i = 0; i < num; i++)
		if (socks[i])
			core_udp_close(socks[i]);
	out->pattern = stun_port_pattern_classify(out->local, out->mapped, out->num, &out->stride);
	return rc;
}
