/* The relay server's life cycle: options, listeners bound before it runs,
 * one reactor per core, certificate reloads, the graceful stop and the
 * heap trimmer. Connections: accept.c, admit.c, upgrade.c, then the
 * session (pairing.c, conn.c, forward.c). */
#include "relay/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "net/bssl.h"
#include "net/resolve.h"
#include "relay/http.h"

static void tell(struct relay_server *srv, enum relay_event ev)
{
	if (srv->o.on_event)
		srv->o.on_event(srv->o.on_event_arg, ev);
}

static void on_stop(void *arg)
{
	struct relay_thread *th = arg;
	if (!atomic_exchange(&th->srv->stop_told, true))
		tell(th->srv, RELAY_EVENT_STOPPING);
	th->stopping = true;
	core_listener_interrupt(th->l[0]);
	core_listener_interrupt(th->l[1]);
	relay_hs_interrupt_all(th);
	relay_thread_stop_conns(th);
	if (th->trimmer)
		core_unpark(th->trimmer, -ECANCELED);
	if (th->alive)
		core_unpark(th->alive, -ECANCELED);
}

/* Gives freed heap back to the kernel after load or an attack has gone:
 * glibc keeps what 20,000 half-open connections or a held-data flood freed
 * (RSS stayed at 106-145 MB after such an attack, against 11 MB before).
 * On reactor 0, every RELAY_TRIM_EVERY_MS: when the connections are down to half
 * of the most seen since the last trim, and that was a real crowd. */

static void trim_rings(void *arg)
{
	(void)arg;
	core_buf_trim();
}

/* What a quiet tick must not see change: connections accepted,
 * handshakes under way, bytes and messages relayed (keepalive pings and
 * pongs do not count: they touch a ring page each, which the next quiet
 * tick gives back). */
static uint64_t activity(struct relay_server *srv)
{
	uint64_t a = atomic_load_explicit(&srv->total_connections, memory_order_relaxed) +
		     atomic_load_explicit(&srv->handshakes, memory_order_relaxed);
	for (unsigned i = 0; i < srv->o.threads; i++)
		a += atomic_load_explicit(&srv->th[i].bytes, memory_order_relaxed) +
		     atomic_load_explicit(&srv->th[i].msgs, memory_order_relaxed);
	return a;
}

/* A quiet relay holds idle connections, whose memory is their records
 * (docs/PERFORMANCE.md): but the rings' buffers that their handshakes and
 * last messages went through stay resident (a page or more of each of
 * the 1,024: 4 MiB, 233 B per connection at 9,000 sessions), and so do
 * the free pages between live heap objects that those connections' TLS
 * buffers and handshakes left. Both go back once the relay turned quiet;
 * the rings cost one madvise per run of free buffers, so every quiet tick
 * does them, the heap walk only the first few of a quiet spell (idle
 * connections hibernate, freeing their buffers, a second after their last
 * byte). Nothing of this runs while data moves. */
static void give_back(struct relay_server *srv, bool heap)
{
	if (heap)
		malloc_trim(0);
	core_buf_trim();
	for (unsigned i = 1; i < srv->o.threads; i++)
		core_rt_post(srv->rt, i, trim_rings, NULL);
}

static void trimmer(void *arg)
{
	struct relay_thread *th = arg;
	struct relay_server *srv = th->srv;
	uint64_t peak = 0, held_peak = 0, last = activity(srv);
	unsigned tick = 0, quiet = 0;
	th->trimmer = core_coro_current();
	while (!th->stopping) {
		uint64_t a = activity(srv);
		quiet = a == last ? quiet + 1 : 0;
		last = a;
		if (quiet) {
			give_back(srv, quiet <= RELAY_TRIM_QUIET_HEAP);
			if (quiet == 1)
				core_log(CORE_LOG_DEBUG, "relay: quiet, gave freed memory back (connections %llu)",
					 (unsigned long long)atomic_load(&srv->connections));
		}
		uint64_t now = atomic_load(&srv->connections), held = atomic_load(&srv->held);
		if (now > peak)
			peak = now;
		if (held > held_peak)
			held_peak = held;
		bool crowd_gone = (peak >= RELAY_TRIM_MIN_PEAK && now <= peak / 2) ||
				  (held_peak >= (16u << 20) && held <= held_peak / 2);
		if (++tick % (RELAY_TRIM_EVERY_MS / RELAY_TRIM_TICK_MS) == 0 && crowd_gone) {
			/* The heap and the rings' buffers that a crowd filled stay
			 * resident (8 MB of rings after 20,000 half-open
			 * connections). */
			give_back(srv, true);
			core_log(CORE_LOG_DEBUG, "relay: gave freed memory back (connections %llu, most %llu)",
				 (unsigned long long)now, (unsigned long long)peak);
			peak = now;
			held_peak = held;
		}
		if (core_sleep(RELAY_TRIM_TICK_MS) == -ECANCELED)
			break;
	}
	th->trimmer = NULL;
}

/* Liveness for a watchdog (relay_opts.alive_ms). Each period reactor 0 asks
 * every other reactor to note the round (a message through its ring, which
 * it runs only if its loop turns) and, one period later, reports
 * RELAY_EVENT_ALIVE if all of them did. A reactor stuck in a long computation
 * or a blocking call answers late or never and the reports stop; so do they
 * when reactor 0 is stuck, since this runs there. */
static void alive_answer(void *arg)
{
	struct relay_thread *th = arg;
	atomic_store(&th->alive_seen, atomic_load(&th->srv->alive_round));
}

static void alive_prober(void *arg)
{
	struct relay_thread *th = arg;
	struct relay_server *srv = th->srv;
	th->alive = core_coro_current();
	for (uint64_t round = 1; !th->stopping; round++) {
		atomic_store(&srv->alive_round, round);
		for (unsigned i = 1; i < srv->o.threads; i++)
			core_rt_post(srv->rt, i, alive_answer, &srv->th[i]);
		if (core_sleep(srv->o.alive_ms) == -ECANCELED || th->stopping)
			break;
		bool all = true;
		for (unsigned i = 1; i < srv->o.threads; i++)
			all = all && atomic_load(&srv->th[i].alive_seen) == round;
		if (all)
			tell(srv, RELAY_EVENT_ALIVE);
	}
	th->alive = NULL;
}

/* Sets the client sockets' options on a listener before it binds and
 * listens (core_tcp_listen_prep), so every accepted socket inherits them,
 * the first included (Linux copies the socket at accept: no system call per
 * connection, and the window scale offered in the SYN-ACK already fits the
 * bounded buffer): no Nagle, and the bounded kernel queues (--rcvbuf,
 * --sndbuf). */
static int listener_sockopts(int fd, void *arg)
{
	const struct relay_opts *o = arg;
	/* Forwarded messages go out at once: Nagle's wait for an ACK (delayed
	 * by up to 40 ms) would add to every small message. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	/* A bounded kernel queue per client (RELAY_DEFAULT_RCVBUF): what a
	 * stranger can make the kernel hold for us, and what keeps a thousand
	 * busy sessions out of tcp_mem pressure. */
	if (o->rcvbuf != RELAY_RCVBUF_AUTO) {
		int sz = (int)(o->rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 : o->rcvbuf);
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	}
	if (o->sndbuf != RELAY_RCVBUF_AUTO) {
		int sz = (int)(o->sndbuf > INT32_MAX / 2 ? INT32_MAX / 2 : o->sndbuf);
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	}
	return 0;
}

static void reactor_main(void *arg)
{
	struct relay_server *srv = arg;
	unsigned idx = core_reactor_index(core_self());
	struct relay_thread *th = &srv->th[idx];
	int err = 0;

	for (int w = 0; w < 2; w++) {
		int fd = srv->listen_fds[idx * 2 + w];
		if (fd < 0)
			continue;
		srv->listen_fds[idx * 2 + w] = -1;
		th->l[w] = core_listener_new(fd, &err);
		if (!th->l[w] || relay_accept_start(th, w, w == 0 && srv->tls) != 0) {
			core_log(CORE_LOG_ERR, "relay: reactor %u: %s", idx, strerror(ENOMEM));
			core_rt_shutdown(srv->rt);
			return;
		}
	}
	core_on_shutdown(&th->hook, on_stop, th);
	if (idx == 0)
		core_spawn(trimmer, th);
	if (idx == 0 && srv->o.alive_ms && srv->o.on_event)
		core_spawn(alive_prober, th);
	if (srv->o.on_reactor_start)
		core_spawn(srv->o.on_reactor_start, srv->o.on_reactor_start_arg);
	/* Every listener was bound before the reactors started; this one
	 * accepts now. The last to get here tells the supervisor. */
	if (atomic_fetch_add(&srv->reactors_up, 1) + 1 == srv->o.threads)
		tell(srv, RELAY_EVENT_READY);
	/* The hook lives in th, which outlives the runtime: it stays
	 * registered until the reactor ends. */
}

static void on_hup(void *arg)
{
	struct relay_server *srv = arg;
	char msg[512];
	/* A supervisor waits for READY after RELOADING, even when there is
	 * nothing to reload. */
	tell(srv, RELAY_EVENT_RELOADING);
	if (!srv->o.tls_cert)
		core_log(CORE_LOG_INFO, "relay: SIGHUP: no certificate to reload");
	else if (relay_server_reload_tls(srv, msg, sizeof msg) == 0)
		core_log(CORE_LOG_INFO, "relay: SIGHUP: reloaded certificate %s", srv->o.tls_cert);
	else
		core_log(CORE_LOG_ERR, "relay: SIGHUP: keeping the old certificate: %s", msg);
	tell(srv, RELAY_EVENT_READY);
}

int relay_server_reload_tls(struct relay_server *srv, char *errbuf, size_t len)
{
	struct net_tls_ctx *c = net_tls_server_ctx_new(srv->o.tls_cert, srv->o.tls_key, errbuf, len);
	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&srv->tls_lock);
	struct net_tls_ctx *old = srv->tls;
	srv->tls = c;
	pthread_mutex_unlock(&srv->tls_lock);
	net_tls_ctx_free(old);
	return 0;
}

uint16_t relay_server_plain_port(const struct relay_server *srv)
{
	return srv->plain_port;
}

/* ---- life cycle ---- */

struct relay_server *relay_server_new(const struct relay_opts *opts, int *err, char *errbuf, size_t errlen)
{
	struct relay_server *srv = calloc(1, sizeof *srv);
	struct core_rt_opts ro = {0};
	struct sockaddr_storage addr;
	socklen_t alen;

	errbuf[0] = 0;
	if (!srv) {
		*err = -ENOMEM;
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&srv->ip_lock, NULL);
	pthread_mutex_init(&srv->tls_lock, NULL);
	srv->o = *opts;
	srv->o.trusted_proxies = NULL; /* a copy is made below: relay_server_free frees it */
	struct relay_opts *o = &srv->o;
	relay_quota_init(srv);
	if (!o->host)
		o->host = "0.0.0.0";
	if (!o->max_message)
		o->max_message = RELAY_DEFAULT_MAX_MESSAGE;
	if (!o->hold_bytes)
		o->hold_bytes = RELAY_DEFAULT_HOLD_BYTES;
	if (!o->hold_total)
		o->hold_total = RELAY_DEFAULT_HOLD_TOTAL;
	if (!o->stuck_total)
		o->stuck_total = RELAY_DEFAULT_STUCK_TOTAL;
	if (!o->max_sessions)
		o->max_sessions = RELAY_DEFAULT_MAX_SESSIONS;
	if (!o->max_conns_per_ip)
		o->max_conns_per_ip = RELAY_DEFAULT_MAX_CONNS_PER_IP;
	if (!o->rcvbuf)
		o->rcvbuf = RELAY_DEFAULT_RCVBUF;
	if (!o->sndbuf)
		o->sndbuf = RELAY_DEFAULT_SNDBUF;
	if (!o->handshake_ms)
		o->handshake_ms = RELAY_DEFAULT_HANDSHAKE_MS;
	if (!o->ping_ms)
		o->ping_ms = RELAY_DEFAULT_PING_MS;
	if (!o->idle_ms)
		o->idle_ms = RELAY_DEFAULT_IDLE_MS;
	if (!o->write_ms)
		o->write_ms = RELAY_DEFAULT_WRITE_MS;
	if (!o->hibernate_ms)
		o->hibernate_ms = RELAY_DEFAULT_HIBERNATE_MS;
	if (!o->max_header || o->max_header > RELAY_HTTP_MAX_HEADER_BYTES)
		o->max_header = RELAY_HTTP_MAX_HEADER_BYTES;

	if (o->budget_bytes && !o->budget_period_s && !o->budget_monthly) {
		*err = -EINVAL;
		snprintf(errbuf, errlen, "a byte budget needs its period (--budget BYTES/PERIOD)");
		goto fail;
	}
	if (o->budget_start_day > 31 || (o->budget_start_day && !o->budget_monthly)) {
		*err = -EINVAL;
		snprintf(errbuf, errlen, "--budget-start is a day of the month, 1 to 31, for a monthly budget (BYTES/month)");
		goto fail;
	}
	if (!!o->tls_cert != !!o->tls_key) {
		*err = -EINVAL;
		snprintf(errbuf, errlen, "--tls-cert and --tls-key go together");
		goto fail;
	}
	if (o->plain && !o->tls_cert) {
		*err = -EINVAL;
		snprintf(errbuf, errlen, "--plain-port only makes sense with --tls-cert/--tls-key (the main port is already plain)");
		goto fail;
	}
	if (o->proxy_protocol > RELAY_PROXY_HEADER_OFF) {
		*err = -EINVAL;
		snprintf(errbuf, errlen, "unknown PROXY protocol mode %d", (int)o->proxy_protocol);
		goto fail;
	}
	if (o->num_trusted_proxies) {
		/* Ours, so the caller's array need not outlive the server. */
		struct relay_cidr *tp = calloc(o->num_trusted_proxies, sizeof *tp);
		if (!tp) {
			*err = -ENOMEM;
			goto fail;
		}
		memcpy(tp, opts->trusted_proxies, o->num_trusted_proxies * sizeof *tp);
		o->trusted_proxies = tp;
	}
	if (o->tls_cert && relay_server_reload_tls(srv, errbuf, errlen) != 0) {
		*err = -EINVAL;
		goto fail;
	}
	if ((*err = relay_access_init(srv, errbuf, errlen)) != 0)
		goto fail;
	ro.num_threads = o->threads;
	ro.stream_bufs_max = o->ring_max ? o->ring_max : RELAY_DEFAULT_STREAM_BUFS_MAX;
	ro.stream_recv_batched = o->batched_reads;
	ro.handle_signals = o->handle_signals;
	ro.on_hup = on_hup;
	ro.on_hup_arg = srv;
	srv->rt = core_rt_new(&ro, err);
	if (!srv->rt) {
		snprintf(errbuf, errlen, "%s", core_rt_explain(*err));
		goto fail;
	}
	o->threads = core_rt_threads(srv->rt);
	/* Descriptors: client connections may use all but a reserve for the
	 * listeners, the STUN sockets, each reactor's own and a reload's
	 * certificate files, so accept() never meets EMFILE (which also
	 * breaks those) while the budget has room. */
	struct rlimit rl;
	uint64_t fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? rl.rlim_cur : 1u << 20;
	uint64_t reserve = RELAY_FD_RESERVE + (uint64_t)RELAY_FD_RESERVE_PER_THREAD * o->threads;
	srv->max_conns = (uint64_t)o->max_sessions * RELAY_CONNS_PER_SESSION + RELAY_CONNS_SPARE;
	if (fds > reserve && fds - reserve < srv->max_conns)
		srv->max_conns = fds - reserve;
	if (!o->max_handshakes)
		o->max_handshakes = (unsigned)(srv->max_conns / 2 ? srv->max_conns / 2 : 1);
	srv->th = calloc(o->threads, sizeof *srv->th);
	srv->listen_fds = malloc(o->threads * 2 * sizeof(int));
	if (!srv->th || !srv->listen_fds) {
		*err = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < o->threads; i++) {
		srv->th[i].srv = srv;
		srv->th[i].idx = i;
		srv->listen_fds[2 * i] = srv->listen_fds[2 * i + 1] = -1;
	}
	/* Once the threads' byte counters exist, before any port is taken. */
	if ((*err = relay_budget_load(srv, errbuf, errlen)) != 0)
		goto fail;
	for (int w = 0; w < (o->plain ? 2 : 1); w++) {
		uint16_t want = w == 0 ? o->port : o->plain_port;
		*err = net_resolve_now(o->host, want, SOCK_STREAM, true, &addr, &alen, errbuf, errlen);
		if (*err) {
			*err = -EINVAL;
			goto fail;
		}
		/* One SO_REUSEPORT listener per reactor; with port 0 the first
		 * picks the port and the others join it. */
		for (unsigned i = 0; i < o->threads; i++) {
			int fd = core_tcp_listen_prep((struct sockaddr *)&addr, alen, RELAY_LISTEN_BACKLOG, true,
						      listener_sockopts, (void *)o);
			if (fd < 0) {
				*err = fd;
				snprintf(errbuf, errlen, "cannot listen on %s port %u: %s%s", o->host, want, strerror(-fd),
					 fd == -EADDRINUSE ? " (another program uses that port: pick another with --port)"
					 : fd == -EACCES   ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
							   : "");
				goto fail;
			}
			srv->listen_fds[2 * i + (unsigned)w] = fd;
			if (i == 0) {
				struct sockaddr_storage got;
				socklen_t gl = sizeof got;
				getsockname(fd, (struct sockaddr *)&got, &gl);
				uint16_t port = ntohs(((struct sockaddr_in *)&got)->sin_port); /* same offset in v6 */
				if (w == 0)
					srv->port = port;
				else
					srv->plain_port = port;
				((struct sockaddr_in *)&addr)->sin_port = htons(port);
			}
		}
	}
	RAND_bytes((uint8_t *)&srv->hash_seed, sizeof srv->hash_seed);
	return srv;
fail:
	if (!errbuf[0])
		snprintf(errbuf, errlen, "%s", strerror(-*err));
	relay_server_free(srv);
	return NULL;
}

uint16_t relay_server_port(const struct relay_server *srv)
{
	return srv->port;
}

unsigned relay_server_threads(const struct relay_server *srv)
{
	return srv->o.threads;
}

int relay_server_run(struct relay_server *srv)
{
	srv->started_ns = core_now_ns();
	relay_budget_saver_start(srv);
	int r = core_rt_run(srv->rt, reactor_main, srv);
	/* The reactors have stopped: the count is final. */
	relay_budget_saver_stop(srv);
	return r;
}

void relay_server_stop(struct relay_server *srv)
{
	core_rt_shutdown(srv->rt);
}

void relay_server_free(struct relay_server *srv)
{
	if (!srv)
		return;
	if (srv->listen_fds)
		for (unsigned i = 0; i < srv->o.threads * 2; i++)
			if (srv->listen_fds[i] >= 0)
				close(srv->listen_fds[i]);
	net_tls_ctx_free(srv->tls);
	pthread_mutex_destroy(&srv->tls_lock);
	if (srv->th)
		for (unsigned i = 0; i < srv->o.threads; i++) {
			free(srv->th[i].buckets);
		}
	for (unsigned b = 0; b < RELAY_IP_BUCKETS; b++)
		while (srv->ips[b]) {
			struct ip_count *n = srv->ips[b]->next;
			free(srv->ips[b]);
			srv->ips[b] = n;
		}
	free((struct relay_cidr *)srv->o.trusted_proxies);
	free(srv->th);
	free(srv->listen_fds);
	core_rt_free(srv->rt);
	relay_access_cleanup(srv);
	pthread_mutex_destroy(&srv->ip_lock);
	relay_quota_cleanup(srv);
	free(srv);
}
