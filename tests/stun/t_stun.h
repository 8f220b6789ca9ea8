#ifndef TESTS_STUN_T_STUN_H
#define TESTS_STUN_T_STUN_H
/* Helpers shared by the STUN server and client tests (t_ prefix): a server
 * running on a test runtime, and a blocking client socket speaking raw STUN
 * built with the codec. Header-only: each test executable links helpers.c
 * only. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/reactor.h"
#include "helpers.h"
#include "stun/msg.h"
#include "stun/resolve.h"
#include "stun/server.h"
#include "stun/writer.h"

/* t_sockaddr fills a sockaddr for ip (a literal) and port. */
static inline socklen_t t_sockaddr(struct sockaddr_storage *out, const char *ip, uint16_t port)
{
	memset(out, 0, sizeof *out);
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		cr_assert_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1, "bad literal %s", ip);
		return sizeof *s6;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)out;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET, ip, &s4->sin_addr), 1, "bad literal %s", ip);
	return sizeof *s4;
}

static inline uint16_t t_port_of(const struct sockaddr_storage *sa)
{
	return sa->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)sa)->sin_port)
					: ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
}

/* t_udp_on binds a blocking UDP socket to ip:0 and returns it; its address
 * goes to *out. */
static inline int t_udp_on(const char *ip, struct sockaddr_storage *out, socklen_t *out_len)
{
	socklen_t len = t_sockaddr(out, ip, 0);
	int fd = socket(out->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0, "socket: %s", strerror(errno));
	cr_assert_eq(bind(fd, (struct sockaddr *)out, len), 0, "bind %s: %s", ip, strerror(errno));
	*out_len = sizeof *out;
	getsockname(fd, (struct sockaddr *)out, out_len);
	return fd;
}

/* t_recv_from waits up to timeout_ms for one datagram. Returns its length,
 * or -1 on timeout. */
static inline ssize_t t_recv_from(int fd, uint8_t *buf, size_t cap, struct sockaddr_storage *from, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	socklen_t fl = sizeof *from;
	return recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &fl);
}

/* struct t_req: a request being built (a writer over buf). */
struct t_req {
	uint8_t buf[512];
	uint8_t txid[STUN_TXID_LEN];
	struct stun_writer w;
	size_t len;
};

static inline void t_req_init(struct t_req *r, uint16_t type)
{
	stun_txid_generate(r->txid);
	stun_writer_init(&r->w, r->buf, sizeof r->buf, type, r->txid);
}

/* t_req_finish closes the request with FINGERPRINT (when fp) and returns its
 * length. */
static inline size_t t_req_finish(struct t_req *r, bool fp)
{
	if (fp)
		stun_writer_add_fingerprint(&r->w);
	cr_assert_eq(stun_writer_finish(&r->w, &r->len), STUN_OK);
	return r->len;
}

static inline void t_send(int fd, const void *buf, size_t len, const struct sockaddr_storage *to)
{
	socklen_t tl = to->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	cr_assert_eq(sendto(fd, buf, len, 0, (const struct sockaddr *)to, tl), (ssize_t)len, "sendto: %s",
		     strerror(errno));
}

/* t_expect_answer receives the answer to r and parses it into *m (which
 * borrows buf). Fails the test on timeout, wrong txid or bad fingerprint. */
static inline void t_expect_answer(int fd, const struct t_req *r, uint8_t *buf, size_t cap, struct stun_msg *m,
				   struct sockaddr_storage *from)
{
	struct sockaddr_storage f;
	ssize_t n = t_recv_from(fd, buf, cap, from ? from : &f, 5000);
	cr_assert_gt(n, 0, "no answer within 5 s");
	int rc = stun_msg_parse(m, buf, (size_t)n);
	cr_assert_eq(rc, STUN_OK, "answer does not parse: %s", stun_strerror(rc));
	cr_assert_eq(memcmp(m->txid, r->txid, STUN_TXID_LEN), 0, "transaction id differs");
	cr_assert_eq(stun_msg_check_fingerprint(m), STUN_OK, "answer's FINGERPRINT");
}

/* struct t_server: a stun_server served by every reactor of a test runtime. */
struct t_server {
	struct stun_server *srv;
	struct t_rt rt;
	atomic_int started;
	atomic_int start_err;
	unsigned threads;
	core_task_fn extra;     /* also run on reactor 0, if set */
	void *extra_arg;
};

static inline void t_server_main(void *arg)
{
	struct t_server *t = arg;
	int rc = stun_server_start(t->srv);
	if (rc < 0)
		atomic_store(&t->start_err, rc);
	atomic_fetch_add(&t->started, 1);
	if (t->extra && core_reactor_index(core_self()) == 0)
		core_spawn(t->extra, t->extra_arg);
}

static inline bool t_server_all_started(void *arg)
{
	struct t_server *t = arg;
	return (unsigned)atomic_load(&t->started) == t->threads;
}

/* t_server_start_with creates the server from o (num_reactors set to
 * threads) and starts it on a runtime of that many threads; extra(arg), if
 * not NULL, is spawned on reactor 0 once the server runs there. */
static inline void t_server_start_with(struct t_server *t, struct stun_server_opts *o, unsigned threads,
				       core_task_fn extra, void *arg)
{
	int err = 0;
	struct core_rt_opts ro = { .num_threads = threads, .shutdown_grace_ms = 1000 };
	memset(t, 0, sizeof *t);
	t->extra = extra;
	t->extra_arg = arg;
	t->threads = threads;
	o->num_reactors = threads;
	t->srv = stun_server_new(o, &err);
	cr_assert_not_null(t->srv, "stun_server_new: %s", strerror(-err));
	t_rt_start(&t->rt, &ro, t_server_main, t);
	cr_assert(t_wait_until(t_server_all_started, t, 5000), "server did not start");
	cr_assert_eq(atomic_load(&t->start_err), 0, "stun_server_start: %s", strerror(-atomic_load(&t->start_err)));
}

static inline void t_server_start(struct t_server *t, struct stun_server_opts *o, unsigned threads)
{
	t_server_start_with(t, o, threads, NULL, NULL);
}

static inline void t_server_stop(struct t_server *t)
{
	cr_assert_eq(t_rt_stop(&t->rt), 0);
	stun_server_free(t->srv);
	t->srv = NULL;
}

static inline struct sockaddr_storage t_server_addr(struct t_server *t, enum stun_server_sock which)
{
	struct sockaddr_storage a;
	socklen_t l;
	cr_assert_eq(stun_server_addr(t->srv, which, &a, &l), 0);
	return a;
}

/* t_opts returns options for ip:0, no rate limit; alt_ip (or NULL) turns on
 * RFC 5780 mode with the alternate port also picked by the kernel. */
static inline struct stun_server_opts t_opts(const char *ip, const char *alt_ip)
{
	struct stun_server_opts o;
	memset(&o, 0, sizeof o);
	o.addr_len = t_sockaddr(&o.addr, ip, 0);
	if (alt_ip)
		o.alt_addr_len = t_sockaddr(&o.alt_addr, alt_ip, 0);
	return o;
}

struct t_stats_want {
	struct t_server *t;
	int reason;      /* enum stun_drop, or -1 for "answered" */
	uint64_t count;
};

static inline bool t_stats_reached(void *arg)
{
	struct t_stats_want *w = arg;
	struct stun_server_stats st;
	stun_server_get_stats(w->t->srv, &st);
	uint64_t v = w->reason < 0 ? st.answered : st.dropped[w->reason];
	return v >= w->count;
}

/* struct t_task: a coroutine run on reactor 0 of a test runtime. */
struct t_task {
	core_task_fn fn;
	void *arg;
	atomic_int done;
};

static inline void t_task_main(void *arg)
{
	struct t_task *t = arg;
	if (core_reactor_index(core_self()) != 0)
		return;
	t->fn(t->arg);
	atomic_store(&t->done, 1);
}

static inline bool t_task_done(void *arg)
{
	return atomic_load(&((struct t_task *)arg)->done) != 0;
}

/* t_run_in_rt runs fn(arg) as a coroutine of a fresh one-thread runtime and
 * returns once it has finished (failing the test after timeout_ms). */
static inline void t_run_in_rt(core_task_fn fn, void *arg, int timeout_ms)
{
	struct t_task task = { .fn = fn, .arg = arg };
	struct t_rt rt;
	struct core_rt_opts ro = { .num_threads = 1, .shutdown_grace_ms = 1000 };
	t_rt_start(&rt, &ro, t_task_main, &task);
	cr_assert(t_wait_until(t_task_done, &task, timeout_ms), "task did not finish in %d ms", timeout_ms);
	cr_assert_eq(t_rt_stop(&rt), 0);
}

/* --- fake servers, run by the test thread ----------------------------------
 * A scripted STUN server on one socket, or four (RFC 5780 layout: ip:p1,
 * ip:p2, alt:p1, alt:p2) that imitates a NAT: the mapped port it reports
 * depends on the socket asked (mapping behaviour) and it answers
 * CHANGE-REQUESTs only as far as the imitated filtering would let them
 * through. */
enum t_fake_mode { T_FAKE_ANSWER, T_FAKE_SILENT, T_FAKE_ERROR420 };
enum t_fake_kind { T_EI, T_AD, T_APD }; /* endpoint-independent, address-, address-and-port-dependent */

struct t_fake {
	int fds[4];
	struct sockaddr_storage addrs[4];
	int num;
	enum t_fake_mode mode;
	enum t_fake_kind mapping, filtering;
	struct stun_addr mapped;  /* reported; the port moves with mapping */
	bool noise_first;         /* precede each answer with a wrong-txid answer and garbage */
	int seq_stride;           /* not 0: after each answer mapped.port moves by it (a sequential NAT) */
	int received;
	int same_txid;            /* requests carrying the first request's txid */
	uint8_t first_txid[STUN_TXID_LEN];
};

/* t_fake_open zeroes *f (mode answer, endpoint-independent everything) and
 * binds one socket on ip (alt_ip NULL) or the four-socket layout. */
static inline void t_fake_open(struct t_fake *f, const char *ip, const char *alt_ip)
{
	socklen_t l;
	memset(f, 0, sizeof *f);
	f->fds[0] = t_udp_on(ip, &f->addrs[0], &l);
	f->num = 1;
	if (!alt_ip)
		return;
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_storage a;
		f->fds[1] = t_udp_on(ip, &f->addrs[1], &l);
		socklen_t al = t_sockaddr(&a, alt_ip, t_port_of(&f->addrs[0]));
		f->fds[2] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		f->fds[3] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		bool ok = bind(f->fds[2], (struct sockaddr *)&a, al) == 0;
		f->addrs[2] = a;
		al = t_sockaddr(&a, alt_ip, t_port_of(&f->addrs[1]));
		ok = ok && bind(f->fds[3], (struct sockaddr *)&a, al) == 0;
		f->addrs[3] = a;
		if (ok) {
			f->num = 4;
			return;
		}
		for (int i = 1; i < 4; i++)
			close(f->fds[i]);
	}
	cr_assert_fail("no port pair free on both %s and %s", ip, alt_ip);
}

static inline void t_fake_close(struct t_fake *f)
{
	for (int i = 0; i < f->num; i++)
		close(f->fds[i]);
}

static inline struct stun_addr t_fake_saddr(const struct t_fake *f, int i)
{
	struct stun_addr a;
	stun_addr_from_sockaddr(&a, (const struct sockaddr *)&f->addrs[i], sizeof f->addrs[i]);
	return a;
}

/* t_fake_handle answers one request received on socket i. */
static inline void t_fake_handle(struct t_fake *f, int i, const uint8_t *buf, size_t len,
				 const struct sockaddr_storage *from)
{
	struct stun_msg m;
	struct stun_writer w;
	uint8_t out[512];
	size_t out_len;
	uint32_t change = 0;

	if (stun_msg_parse(&m, buf, len) != STUN_OK || stun_type_class(m.type) != STUN_CLASS_REQUEST)
		return;
	if (f->received++ == 0)
		memcpy(f->first_txid, m.txid, STUN_TXID_LEN);
	if (memcmp(f->first_txid, m.txid, STUN_TXID_LEN) == 0)
		f->same_txid++;
	if (f->mode == T_FAKE_SILENT)
		return;
	int from_sock = i;
	if (stun_msg_get_change_request(&m, &change) == STUN_OK && change) {
		if (f->num != 4)
			return;
		if (f->filtering == T_APD || (f->filtering == T_AD && (change & STUN_CHANGE_IP)))
			return; /* the imitated NAT would drop it */
		from_sock = i ^ ((change & STUN_CHANGE_IP) ? 2 : 0) ^ ((change & STUN_CHANGE_PORT) ? 1 : 0);
	}
	if (f->noise_first) {
		uint8_t other[STUN_TXID_LEN];
		stun_txid_generate(other);
		stun_writer_init(&w, out, sizeof out, STUN_BINDING_SUCCESS, other);
		stun_writer_add_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &f->mapped);
		stun_writer_finish(&w, &out_len);
		t_send(f->fds[from_sock], out, out_len, from);
		t_send(f->fds[from_sock], "garbage!", 8, from);
	}
	if (f->mode == T_FAKE_ERROR420) {
		stun_writer_init(&w, out, sizeof out, STUN_BINDING_ERROR, m.txid);
		stun_writer_add_error(&w, 420, "Unknown Attribute", 17);
	} else {
		struct stun_addr mapped = f->mapped;
		if (f->mapping == T_AD)
			mapped.port = (uint16_t)(mapped.port + (i >> 1));
		else if (f->mapping == T_APD)
			mapped.port = (uint16_t)(mapped.port + i);
		f->mapped.port = (uint16_t)(f->mapped.port + f->seq_stride);
		stun_writer_init(&w, out, sizeof out, STUN_BINDING_SUCCESS, m.txid);
		stun_writer_add_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped);
		if (f->num == 4) {
			struct stun_addr origin = t_fake_saddr(f, from_sock), other = t_fake_saddr(f, i ^ 3);
			stun_writer_add_addr(&w, STUN_ATTR_RESPONSE_ORIGIN, &origin);
			stun_writer_add_addr(&w, STUN_ATTR_OTHER_ADDRESS, &other);
		}
	}
	stun_writer_add_fingerprint(&w);
	cr_assert_eq(stun_writer_finish(&w, &out_len), STUN_OK);
	t_send(f->fds[from_sock], out, out_len, from);
}

/* t_fake_serve answers whatever reaches fakes[0..n) until task is done
 * (failing the test after timeout_ms). */
static inline void t_fake_serve(struct t_fake **fakes, size_t n, struct t_task *task, int timeout_ms)
{
	uint64_t end = t_now_ns() + (uint64_t)timeout_ms * 1000000u;
	while (!t_task_done(task)) {
		struct pollfd p[16];
		int k = 0;
		cr_assert(t_now_ns() < end, "client did not finish in %d ms", timeout_ms);
		for (size_t j = 0; j < n; j++)
			for (int i = 0; i < fakes[j]->num; i++)
				p[k++] = (struct pollfd){ .fd = fakes[j]->fds[i], .events = POLLIN };
		if (poll(p, (nfds_t)k, 10) <= 0)
			continue;
		k = 0;
		for (size_t j = 0; j < n; j++)
			for (int i = 0; i < fakes[j]->num; i++, k++) {
				if (!(p[k].revents & POLLIN))
					continue;
				uint8_t buf[1024];
				struct sockaddr_storage from;
				socklen_t fl = sizeof from;
				ssize_t len = recvfrom(fakes[j]->fds[i], buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
				if (len > 0)
					t_fake_handle(fakes[j], i, buf, (size_t)len, &from);
			}
	}
}

/* t_post_task starts task on reactor 0 of a running runtime (from the test
 * thread). */
static inline void t_post_task(struct t_rt *rt, struct t_task *task)
{
	atomic_store(&task->done, 0);
	cr_assert_eq(core_rt_post(rt->rt, 0, t_task_main, task), 0);
}

/* t_endpoint returns an endpoint for a bound address (no DNS). */
static inline struct stun_endpoint t_endpoint(const struct sockaddr_storage *a)
{
	struct stun_endpoint ep;
	char text[80], ip[INET6_ADDRSTRLEN];
	const void *src = a->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)a)->sin_addr
						  : (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr;
	inet_ntop(a->ss_family, src, ip, sizeof ip);
	snprintf(text, sizeof text, a->ss_family == AF_INET ? "%s:%u" : "[%s]:%u", ip, t_port_of(a));
	cr_assert_eq(stun_endpoint_parse(&ep, text, STUN_DEFAULT_PORT), 0, "%s", text);
	return ep;
}

#endif
