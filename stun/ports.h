#ifndef STUN_PORTS_H
#define STUN_PORTS_H
/* stun/ports.h: sampling the NAT's port allocation (IPv4), shared by
 * `atmosphere network` (its "port allocation" line) and the node (which
 * predicts its hard NAT's next ports for hard-NAT probing, docs/NODE.md).
 *
 * Design: ask one STUN server from a few fresh sockets (port 0: each a new
 * mapping in the NAT), one after another, each kept open until the end (a
 * local port the kernel reused would reuse its mapping), and name the
 * pattern of the mapped ports with stun_port_pattern_classify (stun/nat.h).
 * Cost: at most `num` sockets at once and `num` transactions in a row, each
 * within the caller's timeout; the first socket without an answer ends the
 * sampling (the server is gone, or the path: more would only wait). */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun/nat.h"

struct core_udp;

/* struct stun_port_samples: what one sampling saw, in the order the sockets
 * were opened. last is the mapped port of the last answer (0: none): the
 * port the NAT handed out most recently, as far as we know. */
struct stun_port_samples {
	size_t num;
	uint16_t local[STUN_PORT_SAMPLES];
	uint16_t mapped[STUN_PORT_SAMPLES];
	enum stun_port_pattern pattern;
	int stride;             /* SEQUENTIAL's stride, else 0 */
	uint16_t last;
};

/* stun_port_fresh_udp4 opens an IPv4 UDP socket on a port of the kernel's
 * choice (a new mapping in the NAT, once it sends) and writes that port to
 * *out_port when not NULL. NULL when it cannot. Does not suspend. */
struct core_udp *stun_port_fresh_udp4(uint16_t *out_port);

/* stun_port_sample asks the server at srv (IPv4) from up to num fresh
 * sockets (at most STUN_PORT_SAMPLES), each transaction under o (the caller
 * picks a short timeout; o->feed must be NULL: the fresh sockets read their
 * own answers), and fills *out: the answers, their pattern and stride (UNKNOWN
 * below STUN_PORT_MIN_SAMPLES answers) and the last mapped port. num = 1
 * just learns the port a new mapping gets now. Returns 0 (even when nobody
 * answered: out->num says), -EINVAL for a srv that is not IPv4, or
 * -ECANCELED (the runtime is shutting down; *out holds what came before).
 * Suspends. */
int stun_port_sample(const struct sockaddr_storage *srv, socklen_t srv_len, size_t num,
		     const struct stun_client_opts *o, struct stun_port_samples *out);

#endif
