/* The accept loop: a listener per reactor and port, admission, socket
 * options, and a coroutine per accepted connection. */
#include "relay/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "net/addr.h"
#include "relay/http.h"

/* Answers a refused connection at once, without reading its request:
 * nonblocking, one send, then close. */
static void refuse_now(int fd, const char *status_line)
{
	char buf[256];
	int n = snprintf(buf, sizeof buf, "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status_line);
	if (send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* it is being refused anyway */
	}
	close(fd);
}

/* Passes the accept loop waits, at most, for a handshake to have had its
 * chance to read before it sheds one that has not (relay_hs_shed_oldest). */
#define SHED_WAIT_PASSES 3

/* Past the descriptor budget, or too many heads being read. Those already
 * shed but not yet closed have made their room: counting them again would
 * shed one more live handshake per newcomer. */
static bool over_limit(struct relay_server *srv)
{
	uint64_t pending = atomic_load(&srv->shed_pending);
	return atomic_load(&srv->connections) >= srv->max_conns + pending ||
	       atomic_load(&srv->handshakes) >= srv->o.max_handshakes + pending;
}

struct accept_arg {
	struct relay_thread *th;
	int which;      /* 0: --port, 1: --plain-port */
	bool tls;
};

static void accept_loop(void *arg)
{
	struct accept_arg aa = *(struct accept_arg *)arg;
	struct relay_thread *th = aa.th;
	struct relay_server *srv = th->srv;
	free(arg);
	struct core_listener *l = th->l[aa.which];
	while (!th->stopping) {
		int fd = core_listener_accept(l, -1);
		if (fd == -ECANCELED)
			break;
		if (fd < 0) {
			/* EMFILE/ENFILE: out of descriptors; back off briefly. */
			core_log_limited(&relay_log_accept, CORE_LOG_WARN, "relay: accept: %s", strerror(-fd));
			core_sleep(50);
			continue;
		}
		struct sockaddr_storage addr;
		socklen_t al = sizeof addr;
		struct relay_upgrade_arg *a = malloc(sizeof *a);
		if (!a || getpeername(fd, (struct sockaddr *)&addr, &al) != 0) {
			free(a);
			close(fd);
			continue;
		}
		relay_addr_key(&addr, a->ip);
		/* A trusted proxy's connections count against the budget now and
		 * against their client's --max-conns-per-ip once its address is
		 * known (upgrade.c), never against the proxy's own. */
		a->via_proxy = relay_proxy_trusted(srv, &addr);
		/* Past the descriptor budget, or too many heads being read: the
		 * oldest handshake of this thread makes room (slowloris from
		 * many addresses must not lock legitimate clients out until
		 * its handshakes time out). */
		if (over_limit(srv)) {
			/* While none is sheddable yet (every handshake of this
			 * thread is still to read once: a burst of accepts runs
			 * ahead of their reads), let a pass or two read them, so
			 * that a client whose head is waiting finishes rather
			 * than being shed; then shed the oldest anyway. */
			for (unsigned waited = 0;; waited++) {
				enum relay_shed sh = relay_hs_shed_oldest(th, waited >= SHED_WAIT_PASSES);
				if (sh != RELAY_SHED_TOO_YOUNG || !over_limit(srv))
					break;
				core_yield();
			}
			/* Then let the shed one close its descriptor, and those
			 * accepted but not yet run start their heads (and become
			 * sheddable), before the next accept: a burst queued by
			 * multishot accept otherwise runs on ahead of them. */
			core_yield();
		}
		/* A shed connection closes when its coroutine next runs: until
		 * then its place is already a newcomer's (the descriptor reserve
		 * covers the overlap). */
		int adm = relay_admit(srv, a->via_proxy ? NULL : a->ip, (unsigned)atomic_load(&srv->shed_pending));
		if (adm != RELAY_ADMITTED) {
			char ip[46];
			core_log_limited(&relay_log_refused, CORE_LOG_INFO, "relay: refused %s: 429 Too Many Requests (%s%s)",
					 relay_addr_key_str(a->ip, ip),
					 adm == RELAY_ADMIT_BUDGET ? "connection limit" : "--max-conns-per-ip reached",
					 adm == RELAY_ADMIT_PER_IP && !net_addr_key_is_v4(a->ip) ? " by its /64" : "");
			atomic_fetch_add(&srv->rejected_limit, 1);
			refuse_now(fd, "429 Too Many Requests");
			free(a);
			continue;
		}
		a->th = th;
		a->fd = fd;
		a->tls = aa.tls;
		/* A handshake from now, not from when its coroutine first runs:
		 * a burst of accepts runs before any of them, and counted late
		 * they never met the limit above (15,000 heads at once against
		 * --max-handshakes 9,952, seen). */
		atomic_fetch_add(&srv->handshakes, 1);
		if (core_spawn(relay_upgrade_run, a) != 0) {
			atomic_fetch_sub(&srv->handshakes, 1);
			relay_release(srv, a->via_proxy ? NULL : a->ip);
			close(fd);
			free(a);
		}
	}
	th->l[aa.which] = NULL;
	core_listener_close(l);
}

int relay_accept_start(struct relay_thread *th, int which, bool tls)
{
	struct accept_arg *aa = malloc(sizeof *aa);
	if (!aa)
		return -ENOMEM;
	aa->th = th;
	aa->which = which;
	aa->tls = tls;
	if (core_spawn(accept_loop, aa) != 0) {
		free(aa);
		return -ENOMEM;
	}
	return 0;
}
