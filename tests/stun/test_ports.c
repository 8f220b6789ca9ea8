/* Tests for stun/ports.h: stun_port_sample against a scripted fake that
 * hands out ports as a sequential NAT does, against our server on loopback
 * (no NAT: every port preserved), against silence (one timeout, then
 * nothing more), and its refusals. The classification itself is
 * tests/stun/test_nat.c's; real kernel NATs are tests/stun/natlab_ports.sh
 * and tests/node/hard_nat_seq.sh. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "core/reactor.h"
#include "stun/ports.h"
#include "t_stun.h"

struct ports_job {
	struct sockaddr_storage srv;
	socklen_t srv_len;
	size_t num;
	struct stun_client_opts o;
	struct stun_port_samples out;
	int rc;
	uint64_t elapsed_ms;
};

static struct ports_job *new_job(const struct sockaddr_storage *srv, size_t num, unsigned timeout_ms)
{
	struct ports_job *j = calloc(1, sizeof *j);
	cr_assert_not_null(j);
	j->srv = *srv;
	j->srv_len = sizeof(struct sockaddr_in);
	j->num = num;
	j->o = (struct stun_client_opts){ .timeout_ms = timeout_ms, .settle_ms = 0, .no_cache = true };
	return j;
}

static void ports_task(void *arg)
{
	struct ports_job *j = arg;
	uint64_t t0 = core_now_ns();
	j->rc = stun_port_sample(&j->srv, j->srv_len, j->num, &j->o, &j->out);
	j->elapsed_ms = (core_now_ns() - t0) / 1000000u;
}

/* Runs j against the fake f, served from the test thread. */
static void run_fake(struct ports_job *j, struct t_fake *f)
{
	struct t_fake *fakes[] = { f };
	struct t_task task = { .fn = ports_task, .arg = j };
	struct t_rt rt;
	struct core_rt_opts ro = { .num_threads = 1, .shutdown_grace_ms = 1000 };
	t_rt_start(&rt, &ro, t_task_main, &task);
	t_fake_serve(fakes, 1, &task, 15000);
	cr_assert_eq(t_rt_stop(&rt), 0);
}

Test(stun_ports, sequential_nat_gives_its_stride_and_last_port, .timeout = 20)
{
	struct t_fake f;
	t_fake_open(&f, "127.0.0.1", NULL);
	f.mapped = t_fake_saddr(&f, 0);
	f.mapped.port = 40000;
	f.seq_stride = 256;
	struct ports_job *j = new_job(&f.addrs[0], STUN_PORT_SAMPLES, 1000);
	run_fake(j, &f);
	t_fake_close(&f);
	cr_assert_eq(j->rc, 0);
	cr_assert_eq(j->out.num, STUN_PORT_SAMPLES);
	for (size_t i = 0; i < j->out.num; i++) {
		cr_assert_eq(j->out.mapped[i], 40000 + 256 * i, "sample %zu", i);
		cr_assert_neq(j->out.local[i], 0);
		for (size_t k = 0; k < i; k++)
			cr_assert_neq(j->out.local[i], j->out.local[k], "each sample from a socket of its own");
	}
	cr_assert_eq(j->out.pattern, STUN_PORTS_SEQUENTIAL);
	cr_assert_eq(j->out.stride, 256);
	cr_assert_eq(j->out.last, 40000 + 256 * (STUN_PORT_SAMPLES - 1));
	free(j);
}

Test(stun_ports, one_socket_learns_the_port_a_mapping_gets_now, .timeout = 20)
{
	struct t_fake f;
	t_fake_open(&f, "127.0.0.1", NULL);
	f.mapped = t_fake_saddr(&f, 0);
	f.mapped.port = 65535;
	f.seq_stride = -3;
	struct ports_job *j = new_job(&f.addrs[0], 1, 1000);
	run_fake(j, &f);
	t_fake_close(&f);
	cr_assert_eq(j->rc, 0);
	cr_assert_eq(j->out.num, 1);
	cr_assert_eq(j->out.last, 65535);
	cr_assert_eq(j->out.pattern, STUN_PORTS_UNKNOWN, "one sample cannot tell");
	cr_assert_eq(j->out.stride, 0);
	cr_assert_eq(f.received, 1, "one socket, one request");
	free(j);
}

Test(stun_ports, silence_ends_the_sampling_after_one_timeout, .timeout = 20)
{
	struct t_fake f;
	t_fake_open(&f, "127.0.0.1", NULL);
	f.mode = T_FAKE_SILENT;
	struct ports_job *j = new_job(&f.addrs[0], STUN_PORT_SAMPLES, 600);
	run_fake(j, &f);
	t_fake_close(&f);
	cr_assert_eq(j->rc, 0);
	cr_assert_eq(j->out.num, 0);
	cr_assert_eq(j->out.last, 0);
	cr_assert_eq(j->out.pattern, STUN_PORTS_UNKNOWN);
	cr_assert_lt(j->elapsed_ms, 600 + 300, "no second socket after a silent first: %llu ms",
		     (unsigned long long)j->elapsed_ms);
	free(j);
}

Test(stun_ports, loopback_server_preserves_every_port, .timeout = 20)
{
	struct stun_server_opts o = t_opts("127.0.0.1", NULL);
	struct t_server srv;
	t_server_start(&srv, &o, 1);
	struct sockaddr_storage sa = t_server_addr(&srv, STUN_SOCK_PRIMARY);
	struct ports_job *j = new_job(&sa, STUN_PORT_SAMPLES, 1000);
	struct t_task task = { .fn = ports_task, .arg = j };
	t_post_task(&srv.rt, &task);
	cr_assert(t_wait_until(t_task_done, &task, 15000));
	t_server_stop(&srv);
	cr_assert_eq(j->rc, 0);
	cr_assert_eq(j->out.num, STUN_PORT_SAMPLES);
	cr_assert_eq(j->out.pattern, STUN_PORTS_PRESERVING);
	cr_assert_eq(j->out.last, j->out.local[STUN_PORT_SAMPLES - 1]);
	free(j);
}

static void refused_task(void *arg)
{
	int *rc = arg;
	struct stun_port_samples s;
	struct sockaddr_storage v6 = { .ss_family = AF_INET6 }, v4;
	struct stun_feed feed;
	struct stun_client_opts o = { .timeout_ms = 100 };
	t_sockaddr(&v4, "127.0.0.1", 9);
	rc[0] = stun_port_sample(&v6, sizeof(struct sockaddr_in6), 1, &o, &s);
	rc[1] = (int)s.num;
	o.feed = &feed;
	rc[2] = stun_port_sample(&v4, sizeof(struct sockaddr_in), 1, &o, &s);
}

Test(stun_ports, refuses_ipv6_and_a_feed, .timeout = 10)
{
	int rc[3] = { 1, 1, 1 };
	t_run_in_rt(refused_task, rc, 5000);
	cr_assert_eq(rc[0], -EINVAL, "IPv6: %d", rc[0]);
	cr_assert_eq(rc[1], 0);
	cr_assert_eq(rc[2], -EINVAL, "a feed: %d", rc[2]);
}
