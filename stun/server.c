/* stun/server.c: the STUN server on the reactor; see server.h.
 *
 * Request processing, as RFC 8489 §6.3 and RFC 5780 §6.1 order it:
 *
 *   datagram ── oversize? ── source usable? ── stun_msg_parse (header,
 *   cookie, length, attributes) ── FINGERPRINT ── class: request? ──
 *   rate limit ── method Binding? (else 400) ── unknown comprehension-
 *   required attributes? (420) ── success response from the socket
 *   CHANGE-REQUEST selects, to the source or its RESPONSE-PORT.
 *
 * Everything before the rate limit is silent: malformed input and responses
 * are never answered, so a garbage flood costs one parse per datagram and no
 * send. */
#include "stun/server.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/reactor.h"
#include "core/udp.h"
#include "stun/addr.h"
#include "stun/msg.h"
#include "stun/ratelimit.h"
#include "stun/writer.h"

#define DEFAULT_SOFTWARE "atmosphere"
/* A waiting send that does not complete in this time is counted as failed. */
#define FALLBACK_SEND_TIMEOUT_MS 1000

/* Counters are written by their reactor only and read by any thread: a
 * relaxed load and store (no locked add) is enough for one writer. */
typedef _Atomic uint64_t counter;

static inline void bump(counter *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

static inline void set_counter(counter *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

static inline uint64_t read_counter(const counter *c)
{
	return atomic_load_explicit((counter *)c, memory_order_relaxed);
}

struct srv_thread;

struct srv_sock {
	struct srv_thread *t;
	struct core_udp *u;
	unsigned idx; /* enum stun_server_sock */
};

struct srv_thread {
	struct stun_server *s;
	struct srv_sock socks[STUN_SOCK_MAX];
	struct stun_ratelimit *rl;
	struct core_shutdown_hook hook;
	unsigned live;  /* serving coroutines still running */
	bool started;
	bool stopping;
	counter received, answered, changed, errors, fallbacks, send_errors, evictions;
	counter dropped[STUN_DROP_MAX];
};

struct stun_server {
	bool rfc5780;
	bool reuseport;
	unsigned num_socks;
	unsigned num_reactors;
	uint32_t rate, burst;
	char software[STUN_SERVER_MAX_SOFTWARE];
	size_t software_len;
	struct sockaddr_storage addrs[STUN_SOCK_MAX]; /* as bound, ports resolved */
	socklen_t addr_lens[STUN_SOCK_MAX];
	struct stun_addr saddrs[STUN_SOCK_MAX];       /* the same, for attributes */
	int first_fds[STUN_SOCK_MAX];                 /* reactor 0's, until taken over */
	struct srv_thread *threads;
};

static const char *const drop_names[STUN_DROP_MAX] = {
	[STUN_DROP_OVERSIZE] = "oversize",
	[STUN_DROP_TRUNCATED] = "truncated",
	[STUN_DROP_NOT_STUN] = "not_stun",
	[STUN_DROP_BAD_MAGIC] = "bad_magic",
	[STUN_DROP_BAD_LENGTH] = "bad_length",
	[STUN_DROP_BAD_ATTR] = "bad_attr",
	[STUN_DROP_BAD_ORDER] = "bad_order",
	[STUN_DROP_TOO_MANY_ATTRS] = "too_many_attrs",
	[STUN_DROP_BAD_FINGERPRINT] = "bad_fingerprint",
	[STUN_DROP_NOT_REQUEST] = "not_request",
	[STUN_DROP_INDICATION] = "indication",
	[STUN_DROP_BAD_SOURCE] = "bad_source",
	[STUN_DROP_RATE_LIMITED] = "rate_limited",
	[STUN_DROP_SEND_FAILED] = "send_failed",
};

const char *stun_drop_name(int reason)
{
	if (reason < 0 || reason >= STUN_DROP_MAX || !drop_names[reason])
		return "unknown";
	return drop_names[reason];
}

/* drop_of_parse maps a stun_msg_parse failure to its drop reason. */
static enum stun_drop drop_of_parse(int rc)
{
	switch (rc) {
	case STUN_E_TRUNCATED:
		return STUN_DROP_TRUNCATED;
	case STUN_E_NOT_STUN:
		return STUN_DROP_NOT_STUN;
	case STUN_E_BAD_MAGIC:
		return STUN_DROP_BAD_MAGIC;
	case STUN_E_BAD_LENGTH:
		return STUN_DROP_BAD_LENGTH;
	case STUN_E_BAD_ORDER:
		return STUN_DROP_BAD_ORDER;
	case STUN_E_TOO_MANY_ATTRS:
		return STUN_DROP_TOO_MANY_ATTRS;
	default:
		return STUN_DROP_BAD_ATTR;
	}
}

/* --- building answers ----------------------------------------------------- */

/* struct answer: what handle() decided to send. */
struct answer {
	uint8_t buf[STUN_SERVER_MAX_RESPONSE];
	size_t len;
	bool error;                   /* an error response */
	unsigned sock;                /* index of the socket to send from */
	struct sockaddr_storage to;
	socklen_t to_len;
};

/* source_of converts the sender's socket address to the address STUN
 * reports: an IPv4-mapped IPv6 source (dual-stack socket) is the IPv4
 * client it stands for. Returns false for a source that cannot be answered
 * (unknown family, port 0). */
static bool source_of(struct stun_addr *out, const struct sockaddr_storage *from, socklen_t from_len)
{
	if (stun_addr_from_sockaddr(out, (const struct sockaddr *)from, from_len) != STUN_OK)
		return false;
	if (out->family == STUN_FAMILY_IPV6) {
		static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(out->ip, v4mapped, sizeof v4mapped) == 0) {
			memmove(out->ip, out->ip + 12, 4);
			memset(out->ip + 4, 0, 12);
			out->family = STUN_FAMILY_IPV4;
		}
	}
	return out->port != 0;
}

/* set_port rewrites the port of a sockaddr_in / sockaddr_in6 in place. */
static void set_port(struct sockaddr_storage *sa, uint16_t port)
{
	if (sa->ss_family == AF_INET) {
		struct sockaddr_in sin;
		memcpy(&sin, sa, sizeof sin);
		sin.sin_port = htons(port);
		memcpy(sa, &sin, sizeof sin);
	} else {
		struct sockaddr_in6 sin6;
		memcpy(&sin6, sa, sizeof sin6);
		sin6.sin6_port = htons(port);
		memcpy(sa, &sin6, sizeof sin6);
	}
}

static void add_tail(const struct stun_server *s, struct stun_writer *w)
{
	if (s->software_len)
		stun_writer_add_software(w, s->software, s->software_len);
	stun_writer_add_fingerprint(w);
}

/* build_error writes an error response (RFC 8489 §6.3.1.1) for m. */
static size_t build_error(const struct stun_server *s, const struct stun_msg *m, uint8_t *buf, uint16_t code,
			  const char *reason, const uint16_t *unknown, size_t num_unknown)
{
	struct stun_writer w;
	size_t len = 0;

	stun_writer_init(&w, buf, STUN_SERVER_MAX_RESPONSE, stun_type_make(stun_type_method(m->type), STUN_CLASS_ERROR),
			 m->txid);
	stun_writer_add_error(&w, code, reason, strlen(reason));
	if (num_unknown)
		stun_writer_add_unknown_attrs(&w, unknown, num_unknown);
	add_tail(s, &w);
	/* Sizes are bounded by the constants above: failure is our bug. */
	return stun_writer_finish(&w, &len) == STUN_OK ? len : 0;
}

/* build_answer decides the answer to request m received on socket k from
 * src and writes it into *a. Returns false when nothing is to be sent. */
static bool build_answer(const struct stun_server *s, const struct srv_sock *k, const struct stun_msg *m,
			 const struct stun_addr *src, const struct sockaddr_storage *from, socklen_t from_len,
			 struct answer *a)
{
	uint16_t unknown[STUN_SERVER_MAX_UNKNOWN];
	size_t num_unknown;
	uint32_t change = 0;
	uint16_t port = 0;
	bool has_port;

	a->sock = k->idx;
	a->error = true;
	memcpy(&a->to, from, from_len);
	a->to_len = from_len;

	/* RFC 8489 §6.3.1: a request for a method we do not serve gets 400. */
	if (stun_type_method(m->type) != STUN_METHOD_BINDING) {
		a->len = build_error(s, m, a->buf, 400, "Bad Request: unsupported method", NULL, 0);
		return a->len > 0;
	}
	/* RFC 8489 §6.3.1: unknown comprehension-required attributes get 420
	 * listing them. Without RFC 5780 mode, CHANGE-REQUEST and RESPONSE-PORT
	 * are not understood either (RFC 5780 §6.1). */
	num_unknown = stun_msg_unknown_required(m, NULL, 0, unknown, STUN_SERVER_MAX_UNKNOWN);
	bool has_change = stun_msg_get_change_request(m, &change) == STUN_OK;
	has_port = stun_msg_get_response_port(m, &port) == STUN_OK;
	if (!s->rfc5780) {
		if (has_change && num_unknown < STUN_SERVER_MAX_UNKNOWN)
			unknown[num_unknown++] = STUN_ATTR_CHANGE_REQUEST;
		if (has_port && num_unknown < STUN_SERVER_MAX_UNKNOWN)
			unknown[num_unknown++] = STUN_ATTR_RESPONSE_PORT;
	}
	if (num_unknown) {
		a->len = build_error(s, m, a->buf, 420, "Unknown Attribute", unknown, num_unknown);
		return a->len > 0;
	}

	/* RFC 5780 §6.1: CHANGE-REQUEST picks the socket that differs in
	 * address and/or port from the one that received the request (only
	 * reached in RFC 5780 mode: otherwise it was answered with 420). */
	if (change & STUN_CHANGE_IP)
		a->sock ^= STUN_SOCK_ALT_IP;
	if (change & STUN_CHANGE_PORT)
		a->sock ^= STUN_SOCK_ALT_PORT;
	assert(a->sock < s->num_socks);
	/* RFC 5780 §7.5: RESPONSE-PORT sends the answer to the source address
	 * at that port instead. */
	if (has_port) {
		if (port == 0)
			return false;
		set_port(&a->to, port);
	}

	struct stun_writer w;
	a->error = false;
	stun_writer_init(&w, a->buf, sizeof a->buf, STUN_BINDING_SUCCESS, m->txid);
	stun_writer_add_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, src);
	if (s->rfc5780) {
		stun_writer_add_addr(&w, STUN_ATTR_RESPONSE_ORIGIN, &s->saddrs[a->sock]);
		/* OTHER-ADDRESS: differs in both address and port from the
		 * socket that received the request (RFC 5780 §7.4). */
		stun_writer_add_addr(&w, STUN_ATTR_OTHER_ADDRESS, &s->saddrs[k->idx ^ STUN_SOCK_ALT_BOTH]);
	}
	add_tail(s, &w);
	return stun_writer_finish(&w, &a->len) == STUN_OK;
}

/* handle processes one datagram: counts it, decides, releases the lease,
 * sends. May suspend (only in the fallback send). */
static void handle(struct srv_thread *t, struct srv_sock *k, struct core_dgram *d)
{
	struct stun_server *s = t->s;
	struct stun_msg m;
	struct stun_addr src;
	struct answer a;
	enum stun_drop why;
	int rc;
	bool ok;

	bump(&t->received);
	if (d->truncated) {
		why = STUN_DROP_OVERSIZE;
		goto drop;
	}
	if (!source_of(&src, &d->from, d->from_len)) {
		why = STUN_DROP_BAD_SOURCE;
		goto drop;
	}
	rc = stun_msg_parse(&m, d->data, d->len);
	if (rc != STUN_OK) {
		why = drop_of_parse(rc);
		goto drop;
	}
	/* RFC 8489 §14.7: a FINGERPRINT that does not match means the
	 * datagram is not STUN after all. */
	if (stun_msg_check_fingerprint(&m) == STUN_E_BAD_FINGERPRINT) {
		why = STUN_DROP_BAD_FINGERPRINT;
		goto drop;
	}
	switch (stun_type_class(m.type)) {
	case STUN_CLASS_REQUEST:
		break;
	case STUN_CLASS_INDICATION:
		why = STUN_DROP_INDICATION;
		goto drop;
	default:
		why = STUN_DROP_NOT_REQUEST;
		goto drop;
	}
	if (!stun_ratelimit_allow(t->rl, &src, core_now_ns())) {
		why = STUN_DROP_RATE_LIMITED;
		goto drop;
	}
	ok = build_answer(s, k, &m, &src, &d->from, d->from_len, &a);
	/* m points into the lease: it is dead from here on. */
	core_buf_release(&d->buf);
	if (!ok)
		return;

	struct core_udp *out = t->socks[a.sock].u;
	rc = core_udp_sendto_nowait(out, a.buf, a.len, (struct sockaddr *)&a.to, a.to_len);
	if (rc == -ENOBUFS) {
		/* All send slots in flight: back-pressure, not failure. */
		bump(&t->fallbacks);
		rc = core_udp_sendto(out, a.buf, a.len, (struct sockaddr *)&a.to, a.to_len, FALLBACK_SEND_TIMEOUT_MS);
	}
	if (rc < 0) {
		bump(&t->dropped[STUN_DROP_SEND_FAILED]);
		return;
	}
	if (a.error) {
		bump(&t->errors);
		return;
	}
	bump(&t->answered);
	if (a.sock != k->idx || a.to_len != d->from_len || memcmp(&a.to, &d->from, a.to_len) != 0)
		bump(&t->changed);
	return;
drop:
	bump(&t->dropped[why]);
	core_buf_release(&d->buf);
}

/* --- serving -------------------------------------------------------------- */

static void stop_thread(void *arg)
{
	struct srv_thread *t = arg;
	t->stopping = true;
	for (unsigned i = 0; i < t->s->num_socks; i++)
		if (t->socks[i].u)
			core_udp_interrupt(t->socks[i].u);
}

/* close_thread closes the reactor's sockets, once no coroutine uses them:
 * an answer may leave from any of them. */
static void close_thread(struct srv_thread *t)
{
	core_shutdown_hook_remove(&t->hook);
	for (unsigned i = 0; i < STUN_SOCK_MAX; i++) {
		core_udp_close(t->socks[i].u);
		t->socks[i].u = NULL;
	}
	stun_ratelimit_free(t->rl);
	t->rl = NULL;
}

static void serve(void *arg)
{
	struct srv_sock *k = arg;
	struct srv_thread *t = k->t;
	struct core_dgram d;

	while (!t->stopping) {
		int n = core_udp_recv(k->u, &d, -1);
		if (n < 0) {
			if (n != -ECANCELED && !t->stopping)
				core_log(CORE_LOG_ERR, "stun server: receive failed: %s", strerror(-n));
			break;
		}
		/* Drain the batch; the answers leave together at the next
		 * submission. */
		do
			handle(t, k, &d);
		while (core_udp_try_recv(k->u, &d) >= 0);
		set_counter(&t->send_errors, core_udp_send_errors());
		set_counter(&t->evictions, stun_ratelimit_evictions(t->rl));
	}
	if (--t->live == 0)
		close_thread(t);
}

/* bind_one binds a UDP socket to addr (reading the chosen port back into
 * *addr). Returns the fd or -errno. */
/* Socket buffers asked for on every server socket. The kernel's default
 * (rmem_default, 208 KiB on Debian) holds about 600 queued datagrams: a burst
 * of garbage then crowds valid requests out before we read them (measured:
 * bench/run's STUN flood rows; coturn asks for 4 MiB for the same reason).
 * net.core.rmem_max / wmem_max cap what we get; not forced beyond them. */
#define STUN_SERVER_SOCKBUF (4 * 1024 * 1024)

static int bind_one(struct sockaddr_storage *addr, socklen_t *addr_len, bool reuseport)
{
	int fd = core_udp_bind((struct sockaddr *)addr, *addr_len, reuseport);
	if (fd < 0)
		return fd;
	int sz = STUN_SERVER_SOCKBUF;
	/* Best effort: a smaller buffer still works, as before. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	socklen_t l = sizeof *addr;
	if (getsockname(fd, (struct sockaddr *)addr, &l) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	*addr_len = l;
	return fd;
}

static uint16_t port_of(const struct sockaddr_storage *sa)
{
	struct stun_addr a;
	if (stun_addr_from_sockaddr(&a, (const struct sockaddr *)sa, sizeof *sa) != STUN_OK)
		return 0;
	return a.port;
}

static bool is_wildcard(const struct stun_addr *a)
{
	static const uint8_t zero[16];
	return memcmp(a->ip, zero, stun_addr_ip_len(a)) == 0;
}

static void close_first(struct stun_server *s)
{
	for (unsigned i = 0; i < STUN_SOCK_MAX; i++) {
		if (s->first_fds[i] >= 0)
			close(s->first_fds[i]);
		s->first_fds[i] = -1;
	}
}

/* bind_first binds reactor 0's sockets. With RFC 5780 and ports left to the
 * kernel, the ports chosen on the primary address may be taken on the
 * alternate one: try again with new ports. */
static int bind_first(struct stun_server *s, const struct stun_server_opts *o)
{
	bool pick = port_of(&o->addr) == 0 || (s->rfc5780 && port_of(&o->alt_addr) == 0);
	int fd = 0;

	for (unsigned attempt = 0; attempt < STUN_SERVER_BIND_TRIES; attempt++) {
		struct sockaddr_storage ip = o->addr, alt = o->alt_addr;
		socklen_t ip_len = o->addr_len, alt_len = o->alt_addr_len;
		uint16_t port = port_of(&o->addr);
		uint16_t alt_port = s->rfc5780 ? port_of(&o->alt_addr) : 0;

		for (unsigned i = 0; i < s->num_socks; i++) {
			s->addrs[i] = (i & STUN_SOCK_ALT_IP) ? alt : ip;
			s->addr_lens[i] = (i & STUN_SOCK_ALT_IP) ? alt_len : ip_len;
			set_port(&s->addrs[i], (i & STUN_SOCK_ALT_PORT) ? alt_port : port);
			fd = bind_one(&s->addrs[i], &s->addr_lens[i], s->reuseport);
			if (fd < 0)
				break;
			s->first_fds[i] = fd;
			/* Ports picked by the kernel on the primary address
			 * are reused on the alternate one. */
			if (i == STUN_SOCK_PRIMARY)
				port = port_of(&s->addrs[i]);
			if (i == STUN_SOCK_ALT_PORT)
				alt_port = port_of(&s->addrs[i]);
		}
		if (fd >= 0)
			break;
		close_first(s);
		if (!pick || fd != -EADDRINUSE)
			return fd;
	}
	if (fd < 0)
		return fd;
	for (unsigned i = 0; i < s->num_socks; i++)
		stun_addr_from_sockaddr(&s->saddrs[i], (struct sockaddr *)&s->addrs[i], s->addr_lens[i]);
	return 0;
}

struct stun_server *stun_server_new(const struct stun_server_opts *o, int *err)
{
	struct stun_server *s = NULL;
	struct stun_addr a, b;
	const char *sw = o->software ? o->software : DEFAULT_SOFTWARE;
	int rc = -EINVAL;

	/* Check everything before allocating. */
	if (o->num_reactors < 1 || o->num_reactors > STUN_SERVER_MAX_REACTORS || (o->rate > 0 && o->burst == 0) ||
	    strlen(sw) > STUN_SERVER_MAX_SOFTWARE ||
	    stun_addr_from_sockaddr(&a, (const struct sockaddr *)&o->addr, o->addr_len) != STUN_OK)
		goto fail;
	if (o->alt_addr_len) {
		/* RFC 5780 §6: a second address, and ports that differ, so that
		 * each of the four combinations names a distinct socket. */
		if (stun_addr_from_sockaddr(&b, (const struct sockaddr *)&o->alt_addr, o->alt_addr_len) != STUN_OK ||
		    a.family != b.family || is_wildcard(&a) || is_wildcard(&b) ||
		    memcmp(a.ip, b.ip, stun_addr_ip_len(&a)) == 0 || (a.port != 0 && a.port == b.port))
			goto fail;
	}
	rc = -ENOMEM;
	s = calloc(1, sizeof *s);
	if (!s)
		goto fail;
	for (unsigned i = 0; i < STUN_SOCK_MAX; i++)
		s->first_fds[i] = -1;
	s->threads = calloc(o->num_reactors, sizeof *s->threads);
	if (!s->threads)
		goto fail;
	s->rfc5780 = o->alt_addr_len != 0;
	s->num_socks = s->rfc5780 ? STUN_SOCK_MAX : 1;
	s->num_reactors = o->num_reactors;
	s->reuseport = o->num_reactors > 1;
	s->rate = o->rate;
	s->burst = o->burst;
	s->software_len = strlen(sw);
	memcpy(s->software, sw, s->software_len);
	for (unsigned i = 0; i < o->num_reactors; i++)
		s->threads[i].s = s;
	rc = bind_first(s, o);
	if (rc < 0)
		goto fail;
	return s;
fail:
	stun_server_free(s);
	*err = rc;
	return NULL;
}

int stun_server_start(struct stun_server *s)
{
	struct core_reactor *r = core_self();
	unsigned idx = r ? core_reactor_index(r) : s->num_reactors;
	struct srv_thread *t;
	int rc = 0;

	if (idx >= s->num_reactors || s->threads[idx].started)
		return -EINVAL;
	t = &s->threads[idx];
	t->rl = stun_ratelimit_new(s->rate, s->burst, &rc);
	if (!t->rl)
		return rc;
	for (unsigned i = 0; i < s->num_socks; i++) {
		int fd;
		if (idx == 0) {
			fd = s->first_fds[i];
			s->first_fds[i] = -1;
		} else {
			struct sockaddr_storage addr = s->addrs[i];
			socklen_t len = s->addr_lens[i];
			fd = bind_one(&addr, &len, true);
		}
		if (fd < 0) {
			rc = fd;
			goto fail;
		}
		t->socks[i].t = t;
		t->socks[i].idx = i;
		t->socks[i].u = core_udp_new(fd, &rc);
		if (!t->socks[i].u)
			goto fail;
	}
	for (unsigned i = 0; i < s->num_socks; i++) {
		rc = core_spawn(serve, &t->socks[i]);
		if (rc < 0) {
			/* The ones already spawned stop through the hook. */
			if (t->live == 0)
				goto fail;
			core_log(CORE_LOG_ERR, "stun server: reactor %u serves only %u of its sockets: %s", idx, t->live,
				 strerror(-rc));
			break;
		}
		t->live++;
	}
	core_on_shutdown(&t->hook, stop_thread, t);
	t->started = true;
	return 0;
fail:
	close_thread(t);
	return rc;
}

bool stun_server_rfc5780(const struct stun_server *s)
{
	return s->rfc5780;
}

int stun_server_addr(const struct stun_server *s, enum stun_server_sock which, struct sockaddr_storage *out,
		     socklen_t *out_len)
{
	if ((unsigned)which >= s->num_socks)
		return -ENOENT;
	*out = s->addrs[which];
	*out_len = s->addr_lens[which];
	return 0;
}

void stun_server_get_stats(const struct stun_server *s, struct stun_server_stats *out)
{
	memset(out, 0, sizeof *out);
	for (unsigned i = 0; i < s->num_reactors; i++) {
		const struct srv_thread *t = &s->threads[i];
		out->received += read_counter(&t->received);
		out->answered += read_counter(&t->answered);
		out->changed += read_counter(&t->changed);
		out->errors += read_counter(&t->errors);
		out->send_fallbacks += read_counter(&t->fallbacks);
		out->send_errors += read_counter(&t->send_errors);
		out->evictions += read_counter(&t->evictions);
		for (unsigned j = 0; j < STUN_DROP_MAX; j++)
			out->dropped[j] += read_counter(&t->dropped[j]);
	}
}

void stun_server_free(struct stun_server *s)
{
	if (!s)
		return;
	close_first(s);
	if (s->threads)
		for (unsigned i = 0; i < s->num_reactors; i++)
			stun_ratelimit_free(s->threads[i].rl);
	free(s->threads);
	free(s);
}
