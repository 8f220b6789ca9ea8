/* stun/client.h on a UDP_GRO socket (core_udp_enable_gro): the node's
 * first discovery reads its sockets before their readers start, and two
 * answers of one server of the same size may reach it as one receive (a
 * NIC's GRO merges datagrams of one flow; here the fake server sends them
 * as one UDP GSO batch, which loopback delivers whole). The client cuts the
 * receive (core/udpgro.h) and takes both answers. */
#include <criterion/criterion.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <stdlib.h>

#include "core/udp.h"
#include "stun/client.h"
#include "t_stun.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

struct gro_case {
	int srv_fd;
	bool gro;         /* the client's socket has UDP_GRO */
	int enable_rc, rc;
	bool saw_batch;   /* the server did send one batch of two answers */
	struct stun_endpoint eps[2];
	struct stun_discovery d;
};

/* A Binding success answer to req (32 bytes: header and XOR-MAPPED-ADDRESS). */
static size_t answer(uint8_t *out, const uint8_t *req, const struct sockaddr_in *from)
{
	memset(out, 0, 32);
	out[0] = 0x01, out[1] = 0x01, out[3] = 12;
	memcpy(out + 4, req + 4, 16); /* magic cookie, transaction id */
	uint8_t *a = out + 20;
	a[1] = 0x20, a[3] = 8, a[5] = 1;
	uint16_t xp = (uint16_t)(ntohs(from->sin_port) ^ 0x2112);
	uint32_t xa = ntohl(from->sin_addr.s_addr) ^ 0x2112A442u;
	a[6] = (uint8_t)(xp >> 8), a[7] = (uint8_t)xp;
	a[8] = (uint8_t)(xa >> 24), a[9] = (uint8_t)(xa >> 16), a[10] = (uint8_t)(xa >> 8), a[11] = (uint8_t)xa;
	return 32;
}

/* Waits for the first two requests (the same server listed twice, so one
 * from each probe), answers them and ends: retransmissions go unanswered. */
static void *server(void *arg)
{
	struct gro_case *c = arg;
	uint8_t req[2][512], out[64];
	struct sockaddr_in from[2];
	for (int n = 0; n < 2;) {
		socklen_t fl = sizeof from[n];
		if (recvfrom(c->srv_fd, req[n], sizeof req[n], 0, (struct sockaddr *)&from[n], &fl) < 20)
			return NULL;
		n++;
	}
	size_t l = answer(out, req[0], &from[0]);
	answer(out + l, req[1], &from[1]);
	uint16_t seg = (uint16_t)l;
	union {
		uint8_t b[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr al;
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct iovec iov = {out, 2 * l};
	struct msghdr mh = {.msg_name = &from[0], .msg_namelen = sizeof from[0], .msg_iov = &iov,
			    .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
	struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
	h->cmsg_level = SOL_UDP, h->cmsg_type = UDP_SEGMENT, h->cmsg_len = CMSG_LEN(sizeof seg);
	memcpy(CMSG_DATA(h), &seg, sizeof seg);
	c->saw_batch = sendmsg(c->srv_fd, &mh, 0) == (ssize_t)(2 * l);
	return NULL;
}

static void client(void *arg)
{
	struct gro_case *c = arg;
	struct sockaddr_storage a;
	socklen_t len = t_sockaddr(&a, "127.0.0.1", 0);
	int err = 0, fd = core_udp_bind((struct sockaddr *)&a, len, false);
	if (fd < 0) {
		c->rc = fd;
		return;
	}
	struct core_udp *u = core_udp_new(fd, &err);
	c->enable_rc = c->gro ? core_udp_enable_gro(u) : 0;
	/* The server answers the first transmissions only: answers not taken
	 * from that receive never come again. */
	struct stun_client_opts o = {.timeout_ms = 1500, .settle_ms = -1, .no_cache = true};
	c->rc = stun_discover(u, c->eps, 2, &o, &c->d);
	core_udp_close(u);
}

static void run(struct gro_case *c)
{
	struct sockaddr_storage sa;
	socklen_t sl;
	c->srv_fd = t_udp_on("127.0.0.1", &sa, &sl);
	c->eps[0] = t_endpoint(&sa);
	c->eps[1] = t_endpoint(&sa); /* the same server twice: two answers from one address */
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, server, c), 0);
	struct t_task task = {.fn = client, .arg = c};
	struct t_rt rt;
	struct core_rt_opts ro = {.num_threads = 1, .shutdown_grace_ms = 1000, .udp_gro_bufs = 16};
	t_rt_start(&rt, &ro, t_task_main, &task);
	cr_assert(t_wait_until(t_task_done, &task, 10000), "the discovery did not end");
	cr_assert_eq(t_rt_stop(&rt), 0);
	shutdown(c->srv_fd, SHUT_RDWR);
	close(c->srv_fd);
	pthread_join(th, NULL);
}

Test(stun_client_gro, two_answers_in_one_coalesced_receive_are_both_taken, .timeout = 20)
{
	struct gro_case *c = calloc(1, sizeof *c);
	cr_assert_not_null(c);
	c->gro = true;
	run(c);
	cr_assert_eq(c->enable_rc, 0, "core_udp_enable_gro: %d", c->enable_rc);
	cr_assert(c->saw_batch, "the server could not send its GSO batch");
	cr_assert_eq(c->rc, 0, "stun_discover: %d", c->rc);
	cr_assert_eq(c->d.status, 0, "discovery status %d (answers not cut from the coalesced receive)", c->d.status);
	cr_assert_eq(c->d.num_answered, 2, "answered %zu of 2", c->d.num_answered);
	free(c);
}

/* The same batch to a socket without UDP_GRO: the kernel cuts it, and the
 * client sees the same two answers (the case above changes only the
 * receive). */
Test(stun_client_gro, the_same_batch_without_udp_gro_gives_the_same_answers, .timeout = 20)
{
	struct gro_case *c = calloc(1, sizeof *c);
	cr_assert_not_null(c);
	run(c);
	cr_assert(c->saw_batch);
	cr_assert_eq(c->rc, 0);
	cr_assert_eq(c->d.status, 0);
	cr_assert_eq(c->d.num_answered, 2);
	free(c);
}
