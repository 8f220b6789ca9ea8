/* Tests for stun/client.h: discovery against our server and against
 * scripted fakes on loopback; the RFC 8489 retransmission schedule; answers
 * matched by transaction id only; per-server outcomes; the cache. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "core/udp.h"
#include "stun/client.h"
#include "t_stun.h"

/* struct disc_job: one or two stun_discover calls from one socket, run as a
 * coroutine. */
struct disc_job {
	struct stun_endpoint eps[8];
	size_t num;
	struct stun_client_opts o;
	const char *bind_ip;          /* "0.0.0.0" by default */
	int rc, rc2;
	bool twice;                   /* call again with o2, results into d2 */
	struct stun_client_opts o2;
	struct stun_discovery d, d2;
	struct stun_addr bound;
	uint64_t elapsed_ms;
};

static struct disc_job *new_job(void)
{
	struct disc_job *j = calloc(1, sizeof *j);
	cr_assert_not_null(j);
	j->o.settle_ms = -1;
	j->o.no_cache = true;
	return j;
}

static void disc_task(void *arg)
{
	struct disc_job *j = arg;
	struct sockaddr_storage a;
	socklen_t len = t_sockaddr(&a, j->bind_ip ? j->bind_ip : "0.0.0.0", 0);
	int err = 0;
	int fd = core_udp_bind((struct sockaddr *)&a, len, false);
	if (fd < 0) {
		j->rc = fd;
		return;
	}
	len = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &len);
	stun_addr_from_sockaddr(&j->bound, (struct sockaddr *)&a, len);
	struct core_udp *u = core_udp_new(fd, &err);
	uint64_t t0 = core_now_ns();
	j->rc = stun_discover(u, j->eps, j->num, &j->o, &j->d);
	j->elapsed_ms = (core_now_ns() - t0) / 1000000u;
	if (j->twice)
		j->rc2 = stun_discover(u, j->eps, j->num, &j->o2, &j->d2);
	core_udp_close(u);
}

static void add_ep(struct disc_job *j, const struct sockaddr_storage *a)
{
	j->eps[j->num++] = t_endpoint(a);
}

/* run_on_server runs j on reactor 0 of a started server while this thread
 * serves the fakes. */
static void run_on_server(struct disc_job *j, struct t_server *srv, struct t_fake **fakes, size_t num_fakes)
{
	struct t_task task = { .fn = disc_task, .arg = j };
	t_post_task(&srv->rt, &task);
	t_fake_serve(fakes, num_fakes, &task, 15000);
}

/* run_alone runs j on its own runtime while this thread serves the fakes. */
static void run_alone(struct disc_job *j, struct t_fake **fakes, size_t num_fakes)
{
	struct t_task task = { .fn = disc_task, .arg = j };
	struct t_rt rt;
	struct core_rt_opts ro = { .num_threads = 1, .shutdown_grace_ms = 1000 };
	t_rt_start(&rt, &ro, t_task_main, &task);
	t_fake_serve(fakes, num_fakes, &task, 15000);
	cr_assert_eq(t_rt_stop(&rt), 0);
}

static struct stun_addr loopback(uint16_t port)
{
	struct stun_addr a = { .family = STUN_FAMILY_IPV4, .port = port, .ip = { 127, 0, 0, 1 } };
	return a;
}

Test(stun_client, discovers_the_public_endpoint_from_our_server, .timeout = 20)
{
	struct disc_job *j = new_job();
	struct stun_server_opts o = t_opts("127.0.0.1", NULL);
	struct t_server srv;

	t_server_start(&srv, &o, 1);
	struct sockaddr_storage sa = t_server_addr(&srv, STUN_SOCK_PRIMARY);
	add_ep(j, &sa);
	run_on_server(j, &srv, NULL, 0);
	t_server_stop(&srv);

	cr_assert_eq(j->rc, 0);
	struct stun_discovery *d = &j->d;
	cr_assert_eq(d->status, 0);
	cr_assert_eq(d->winner, 0);
	cr_assert_eq(d->num_agree, 1);
	struct stun_addr want = loopback(j->bound.port);
	cr_assert(stun_addr_equal(&d->mapped, &want), "mapped is the client's own loopback address");
	cr_assert(stun_addr_equal(&d->local, &want), "a wildcard socket reports the route's source address");
	cr_assert(d->no_nat, "127.0.0.1 is a local address with the same port");
	cr_assert_eq(d->servers[0].probe.sends, 1);
	cr_assert_lt(d->servers[0].probe.rtt_us, 1000000u);
	cr_assert_not(d->from_cache);
	free(j);
}

Test(stun_client, first_answer_wins_and_the_others_confirm, .timeout = 20)
{
	struct disc_job *j = new_job();
	struct stun_server_opts o = t_opts("127.0.0.1", "127.0.0.2");
	struct t_server srv;

	t_server_start(&srv, &o, 1);
	for (int i = 0; i < STUN_SOCK_MAX; i++) {
		struct sockaddr_storage sa = t_server_addr(&srv, (enum stun_server_sock)i);
		add_ep(j, &sa);
	}
	run_on_server(j, &srv, NULL, 0);
	t_server_stop(&srv);

	cr_assert_eq(j->d.status, 0);
	cr_assert_eq(j->d.num_answered, 4);
	cr_assert_eq(j->d.num_agree, 4);
	for (int i = 0; i < 4; i++) {
		cr_assert(j->d.servers[i].agrees);
		cr_assert(j->d.servers[i].probe.has_other, "our RFC 5780 server offers OTHER-ADDRESS");
	}
	free(j);
}

Test(stun_client, reports_each_servers_outcome, .timeout = 30)
{
	struct disc_job *j = new_job();
	struct stun_server_opts o = t_opts("127.0.0.1", NULL);
	struct t_server srv;
	struct t_fake silent, refusing, liar;
	struct t_fake *fakes[] = { &silent, &refusing, &liar };

	t_fake_open(&silent, "127.0.0.1", NULL);
	silent.mode = T_FAKE_SILENT;
	t_fake_open(&refusing, "127.0.0.1", NULL);
	refusing.mode = T_FAKE_ERROR420;
	t_fake_open(&liar, "127.0.0.1", NULL);
	liar.mapped = loopback(4444);
	liar.mapped.ip[3] = 9;
	t_server_start(&srv, &o, 1);
	struct sockaddr_storage sa = t_server_addr(&srv, STUN_SOCK_PRIMARY);
	add_ep(j, &sa);
	add_ep(j, &silent.addrs[0]);
	cr_assert_eq(stun_endpoint_parse(&j->eps[j->num++], "no-such-server.invalid", STUN_DEFAULT_PORT), 0);
	add_ep(j, &refusing.addrs[0]);
	add_ep(j, &liar.addrs[0]);
	j->o.timeout_ms = 1200;
	run_on_server(j, &srv, fakes, 3);
	t_server_stop(&srv);

	struct stun_discovery *d = &j->d;
	char why[96];
	cr_assert_eq(d->status, 0);
	cr_assert_eq(d->num_servers, 5);
	cr_assert_eq(d->num_answered, 2, "ours and the liar");
	cr_assert_eq(d->num_agree, 1);
	cr_assert_eq(d->servers[0].probe.status, 0);
	cr_assert_eq(d->servers[1].probe.status, -ETIMEDOUT, "%s", stun_probe_strerror(&d->servers[1].probe, why, sizeof why));
	cr_assert_neq(d->servers[2].ep.err, 0, "a name that does not resolve");
	cr_assert_eq(d->servers[2].probe.status, -EDESTADDRREQ);
	cr_assert_eq(d->servers[3].probe.status, -EPROTO);
	cr_assert_eq(d->servers[3].probe.error_code, 420);
	cr_assert_eq(d->servers[4].probe.status, 0);
	cr_assert_neq(d->servers[0].agrees, d->servers[4].agrees, "exactly one of the two answers wins");
	cr_assert_geq(j->elapsed_ms, 1100, "waits for the silent server until the deadline");
	cr_assert_lt(j->elapsed_ms, 1200 + 300, "DNS and the transactions share one timeout");
	for (size_t i = 0; i < 3; i++)
		t_fake_close(fakes[i]);
	free(j);
}

/* --- retransmission -------------------------------------------------------- */

struct rtx_case {
	unsigned rto_ms, timeout_ms;
	unsigned sends; /* transmissions that fit: at 0, rto, 3 rto, 7 rto, ... */
};

static void check_schedule(const struct rtx_case *c)
{
	struct disc_job *j = new_job();
	struct t_fake silent;
	struct t_fake *fakes[] = { &silent };

	t_fake_open(&silent, "127.0.0.1", NULL);
	silent.mode = T_FAKE_SILENT;
	add_ep(j, &silent.addrs[0]);
	j->o.rto_ms = c->rto_ms;
	j->o.timeout_ms = c->timeout_ms;
	run_alone(j, fakes, 1);
	/* Whatever is still queued on the fake arrived before the client gave up. */
	struct pollfd p = { .fd = silent.fds[0], .events = POLLIN };
	while (poll(&p, 1, 0) == 1) {
		uint8_t buf[512];
		struct sockaddr_storage from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(silent.fds[0], buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
		t_fake_handle(&silent, 0, buf, (size_t)n, &from);
	}
	cr_assert_eq(j->rc, 0);
	cr_assert_eq(j->d.status, -ETIMEDOUT, "nobody answered");
	cr_assert_eq(j->d.servers[0].probe.sends, c->sends, "rto %u, timeout %u: %u sends", c->rto_ms, c->timeout_ms,
		     j->d.servers[0].probe.sends);
	cr_assert_eq(silent.received, (int)c->sends);
	cr_assert_eq(silent.same_txid, (int)c->sends, "retransmissions reuse the transaction id");
	cr_assert_geq(j->elapsed_ms, c->timeout_ms - 20);
	cr_assert_lt(j->elapsed_ms, c->timeout_ms + 500);
	t_fake_close(&silent);
	free(j);
}

Test(stun_client, retransmits_with_rfc8489_default_rto, .timeout = 20)
{
	/* 0, 500, 1500 ms; the fourth (3500 ms) is past the deadline. */
	struct rtx_case c = { 0, 2000, 3 };
	check_schedule(&c);
}

Test(stun_client, retransmits_doubling_a_custom_rto, .timeout = 20)
{
	/* 0, 100, 300, 700 ms; 1500 is past the deadline. */
	struct rtx_case c = { 100, 1000, 4 };
	check_schedule(&c);
}

Test(stun_client, rc_transmissions_then_gives_up, .timeout = 20)
{
	/* Rc = 7: 0, 10, 30, 70, 150, 310, 630 ms, then Rm x RTO = 160 ms. */
	struct disc_job *j = new_job();
	struct t_fake silent;
	struct t_fake *fakes[] = { &silent };

	t_fake_open(&silent, "127.0.0.1", NULL);
	silent.mode = T_FAKE_SILENT;
	add_ep(j, &silent.addrs[0]);
	j->o.rto_ms = 10;
	j->o.timeout_ms = 5000;
	run_alone(j, fakes, 1);
	cr_assert_eq(j->d.servers[0].probe.sends, STUN_CLIENT_RC);
	cr_assert_eq(j->d.servers[0].probe.status, -ETIMEDOUT);
	cr_assert_lt(j->elapsed_ms, 2000, "gave up after 630 + 160 ms, long before the deadline");
	t_fake_close(&silent);
	free(j);
}

Test(stun_client, matches_answers_by_transaction_id_and_ignores_noise, .timeout = 20)
{
	struct disc_job *j = new_job();
	struct t_fake noisy;
	struct t_fake *fakes[] = { &noisy };

	t_fake_open(&noisy, "127.0.0.1", NULL);
	noisy.noise_first = true;
	noisy.mapped = loopback(7777);
	noisy.mapped.ip[3] = 9;
	add_ep(j, &noisy.addrs[0]);
	run_alone(j, fakes, 1);
	cr_assert_eq(j->d.status, 0);
	cr_assert(stun_addr_equal(&j->d.mapped, &noisy.mapped));
	cr_assert_eq(j->d.servers[0].probe.sends, 1, "the noise must not cost a retransmission");
	cr_assert_not(j->d.no_nat, "127.0.0.9 is not an interface address");
	t_fake_close(&noisy);
	free(j);
}

/* --- cache -------------------------------------------------------------------- */

Test(stun_client, caches_results_per_socket_and_server_list, .timeout = 20)
{
	struct disc_job *j = new_job();
	struct stun_server_opts o = t_opts("127.0.0.1", NULL);
	struct t_server srv;
	struct stun_server_stats st;

	stun_client_cache_clear();
	t_server_start(&srv, &o, 1);
	struct sockaddr_storage sa = t_server_addr(&srv, STUN_SOCK_PRIMARY);
	add_ep(j, &sa);
	j->o.no_cache = false;
	j->twice = true;
	j->o2 = j->o;
	run_on_server(j, &srv, NULL, 0);
	cr_assert_eq(j->rc2, 0);
	cr_assert_not(j->d.from_cache);
	cr_assert(j->d2.from_cache, "the second call within the TTL is served from the cache");
	cr_assert(stun_addr_equal(&j->d.mapped, &j->d2.mapped));
	stun_server_get_stats(srv.srv, &st);
	cr_assert_eq(st.received, 1, "the cached call sent nothing");

	/* A different server list, or no_cache, asks again. */
	j->num = 0;
	memset(&j->d, 0, sizeof j->d);
	memset(&j->d2, 0, sizeof j->d2);
	add_ep(j, &sa);
	add_ep(j, &sa);
	j->o2.no_cache = true;
	run_on_server(j, &srv, NULL, 0);
	cr_assert_not(j->d.from_cache);
	cr_assert_not(j->d2.from_cache);
	struct t_stats_want w = { &srv, -1, 5 };
	cr_assert(t_wait_until(t_stats_reached, &w, 2000));
	t_server_stop(&srv);
	free(j);
}

Test(stun_client, rejects_bad_server_counts, .timeout = 20)
{
	struct disc_job *j = new_job();
	run_alone(j, NULL, 0);
	cr_assert_eq(j->rc, -EINVAL, "no servers");
	free(j);
}

/* --- answers fed by a caller that reads the socket ------------------------------ */

/* struct feed_job: stun_discover with a feed, while a reader coroutine owns
 * the socket (as the peer node's receive loop does) and counts what it had
 * to keep for itself. */
struct feed_job {
	struct stun_endpoint eps[2];
	size_t num;
	struct sockaddr_storage app_peer;   /* sends one non-STUN datagram to the client first */
	int app_fd;
	struct stun_feed feed;
	struct core_udp *u;
	int rc, rc_busy;
	struct stun_discovery d;
	struct stun_addr bound;
	unsigned fed, kept;                 /* datagrams stun_feed_input took / left to the reader */
	bool stray_taken;
	uint8_t taken[512];                 /* the last datagram the feed took */
	size_t taken_len;
	struct sockaddr_storage taken_from;
	socklen_t taken_from_len;
	struct core_coro *main_co;
	bool reader_done;
};

static void feed_reader(void *arg)
{
	struct feed_job *j = arg;
	for (;;) {
		struct core_dgram d;
		int n = core_udp_recv(j->u, &d, -1);
		if (n < 0)
			break;
		if (stun_feed_input(&j->feed, d.data, d.len, (const struct sockaddr *)&d.from, d.from_len)) {
			j->fed++;
			j->taken_len = d.len < sizeof j->taken ? d.len : sizeof j->taken;
			memcpy(j->taken, d.data, j->taken_len);
			j->taken_from = d.from;
			j->taken_from_len = d.from_len;
		} else
			j->kept++;
		core_buf_release(&d.buf);
	}
	j->reader_done = true;
	core_unpark(j->main_co, 0);
}

/* A run that cannot start while another uses the feed. */
static void busy_run(void *arg)
{
	struct feed_job *j = arg;
	struct stun_probe p = { .to = j->eps[0].addr, .to_len = j->eps[0].addr_len };
	struct stun_client_opts o = { .feed = &j->feed, .timeout_ms = 100 };
	j->rc_busy = stun_client_run(j->u, &p, 1, &o);
}

static void feed_task(void *arg)
{
	struct feed_job *j = arg;
	struct sockaddr_storage a;
	socklen_t len = t_sockaddr(&a, "127.0.0.1", 0);
	int err = 0;
	int fd = core_udp_bind((struct sockaddr *)&a, len, false);
	cr_assert_geq(fd, 0);
	len = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &len);
	stun_addr_from_sockaddr(&j->bound, (struct sockaddr *)&a, len);
	j->u = core_udp_new(fd, &err);
	j->main_co = core_coro_current();
	stun_feed_init(&j->feed);
	/* Application traffic that reaches the socket before and during the run. */
	t_send(j->app_fd, "not stun", 8, &a);
	core_spawn(feed_reader, j);
	core_yield();
	struct stun_client_opts o = { .feed = &j->feed, .no_cache = true, .settle_ms = -1, .timeout_ms = 3000 };
	core_spawn(busy_run, j);
	j->rc = stun_discover(j->u, j->eps, j->num, &o, &j->d);
	/* The answer again, after its run: a stray for the caller. */
	j->stray_taken = j->taken_len && stun_feed_input(&j->feed, j->taken, j->taken_len,
							  (struct sockaddr *)&j->taken_from, j->taken_from_len);
	core_udp_interrupt(j->u);
	while (!j->reader_done)
		core_park(1000);
	core_udp_close(j->u);
}

Test(stun_client, feed_hands_answers_to_a_run_that_does_not_read, .timeout = 20)
{
	struct feed_job *j = calloc(1, sizeof *j);
	struct t_fake noisy;
	struct t_fake *fakes[] = { &noisy };
	socklen_t l;

	cr_assert_not_null(j);
	t_fake_open(&noisy, "127.0.0.1", NULL);
	noisy.noise_first = true;
	noisy.mapped = loopback(5555);
	noisy.mapped.ip[3] = 7;
	j->eps[j->num++] = t_endpoint(&noisy.addrs[0]);
	j->app_fd = t_udp_on("127.0.0.1", &j->app_peer, &l);
	struct t_task task = { .fn = feed_task, .arg = j };
	struct t_rt rt;
	struct core_rt_opts ro = { .num_threads = 1, .shutdown_grace_ms = 1000 };
	t_rt_start(&rt, &ro, t_task_main, &task);
	t_fake_serve(fakes, 1, &task, 15000);
	cr_assert_eq(t_rt_stop(&rt), 0);

	cr_assert_eq(j->rc, 0);
	cr_assert_eq(j->d.status, 0, "the answer reached the run through the feed");
	cr_assert(stun_addr_equal(&j->d.mapped, &noisy.mapped));
	cr_assert_eq(j->d.servers[0].probe.sends, 1, "fed answers cost no retransmission");
	cr_assert_eq(j->fed, 1, "exactly the answer was taken");
	cr_assert_geq(j->kept, 3, "the reader keeps its own datagram, the wrong-txid answer and the garbage (kept %u)",
		      j->kept);
	cr_assert_gt(j->taken_len, 0);
	cr_assert_not(j->stray_taken, "the same answer after its run is left to the caller");
	cr_assert_eq(j->rc_busy, -EBUSY, "one run at a time per feed");
	cr_assert_null(j->feed.probes, "the feed is free again");
	close(j->app_fd);
	t_fake_close(&noisy);
	free(j);
}

/* --- RESPONSE-PORT from another socket (mapping lifetime, RFC 5780 §4.6) --- */

struct via_job {
	struct sockaddr_storage server;
	socklen_t server_len;
	uint16_t x_port, y_port;
	struct stun_probe named, unnamed;  /* RESPONSE-PORT = x's port; none */
};

static struct core_udp *loopback_udp(uint16_t *out_port)
{
	struct sockaddr_storage a;
	socklen_t len = t_sockaddr(&a, "127.0.0.1", 0);
	int err = 0;
	int fd = core_udp_bind((struct sockaddr *)&a, len, false);
	cr_assert_geq(fd, 0);
	len = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &len);
	*out_port = t_port_of(&a);
	struct core_udp *u = core_udp_new(fd, &err);
	cr_assert_not_null(u);
	return u;
}

static void via_task(void *arg)
{
	struct via_job *j = arg;
	struct core_udp *x = loopback_udp(&j->x_port), *y = loopback_udp(&j->y_port);
	struct stun_client_opts o = { .timeout_ms = 600, .rto_ms = 100, .settle_ms = -1, .no_cache = true };
	j->named = (struct stun_probe){ .to = j->server, .to_len = j->server_len, .response_port = j->x_port, .via = y };
	stun_client_run(x, &j->named, 1, &o);
	/* Without the attribute the answer goes to y, which nobody reads. */
	j->unnamed = (struct stun_probe){ .to = j->server, .to_len = j->server_len, .via = y };
	stun_client_run(x, &j->unnamed, 1, &o);
	core_udp_close(y);
	core_udp_close(x);
}

static void run_via(struct via_job *j, const char *alt_ip)
{
	struct stun_server_opts so = t_opts("127.0.0.1", alt_ip);
	struct t_server srv;
	t_server_start(&srv, &so, 1);
	j->server = t_server_addr(&srv, STUN_SOCK_PRIMARY);
	j->server_len = sizeof(struct sockaddr_in);
	struct t_task task = { .fn = via_task, .arg = j };
	t_post_task(&srv.rt, &task);
	t_fake_serve(NULL, 0, &task, 15000);
	t_server_stop(&srv);
}

Test(stun_client, response_port_answers_the_named_socket, .timeout = 20)
{
	struct via_job *j = calloc(1, sizeof *j);
	cr_assert_not_null(j);
	run_via(j, "127.0.0.2");
	cr_assert_eq(j->named.status, 0, "x heard the answer to y's request (status %d)", j->named.status);
	cr_assert_eq(j->named.mapped.port, j->y_port, "the request came from y");
	cr_assert_eq(j->unnamed.status, -ETIMEDOUT, "without RESPONSE-PORT the answer went to y");
	cr_assert_geq(j->unnamed.sends, 2, "sent (and retransmitted) from y");
	free(j);
}

Test(stun_client, response_port_refused_without_rfc5780, .timeout = 20)
{
	struct via_job *j = calloc(1, sizeof *j);
	cr_assert_not_null(j);
	run_via(j, NULL);
	/* The 420 goes to y: x hears nothing. */
	cr_assert_eq(j->named.status, -ETIMEDOUT);
	free(j);
}
