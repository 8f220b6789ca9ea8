/* relay/client against a wslay server: our C client (relay_client_connect,
 * _send, _recv, _close on the reactor) talks to a relay-protocol endpoint
 * that is not our relay but a wslay server (tests/relay/wslay_peer.h) on a
 * background thread. The server sends the paired notice, a ping and a
 * message in 1,000-byte fragments, echoes every message with its type, and
 * closes with 4000 when asked. What is asserted comes from relay/client.h
 * and RFC 6455: the notice is recognised and not returned, pings are
 * answered, fragments arrive as one message, every length encoding and both
 * types survive the round trip, and the server's Close code reaches
 * relay_client_close_code.
 *
 * Every wait polls with a deadline; every test has a .timeout. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/reactor.h"
#include "harness.h"
#include "helpers.h"
#include "relay/client.h"
#include "relay/server.h"
#include "wslay_peer.h"

enum {
	T_WAIT_MS = 10000,
	T_MAX_MSG = 4 * 1024 * 1024,
	T_FRAG_LEN = 100000, /* the server's fragmented message */
};

static void t_suite_init(void)
{
	signal(SIGPIPE, SIG_IGN);
}

TestSuite(client_wslay, .init = t_suite_init, .timeout = 60);

/* ------------------------------------------------------------------ */
/* The wslay server: one connection, on its own thread. */

struct t_server {
	int lfd;
	uint16_t port;
	pthread_t thread;
	const char *id;
	char err[256];
	unsigned echoed;
	bool got_pong;          /* the client answered our ping, same payload */
	uint16_t close_received;/* the code the client's Close carried */
	bool close_sent;
};

static void *t_server_main(void *arg)
{
	struct t_server *s = arg;
	char notice[256];
	struct t_wslay_msg m;
	uint8_t *frag = t_pattern(T_FRAG_LEN, 42);
	struct t_wslay_peer *p = t_wslay_accept(s->lfd, s->id, T_MAX_MSG, T_WAIT_MS, s->err, sizeof s->err);
	if (!p)
		goto out;
	snprintf(notice, sizeof notice, RELAY_PAIRED_MESSAGE_FMT, s->id);
	t_wslay_queue(p, T_WSLAY_TEXT, notice, strlen(notice));
	t_wslay_queue(p, T_WSLAY_PING, "srv", 3);
	t_wslay_queue_fragmented(p, T_WSLAY_BINARY, frag, T_FRAG_LEN, 1000, NULL);
	for (;;) {
		int err = t_wslay_recv(p, NULL, &m, T_WAIT_MS);
		if (err) {
			snprintf(s->err, sizeof s->err, "server recv: %s", strerror(-err));
			break;
		}
		if (m.opcode == T_WSLAY_PONG) {
			s->got_pong = m.len == 3 && !memcmp(m.data, "srv", 3);
		} else if (m.opcode == T_WSLAY_CLOSE) {
			s->close_received = m.close_code;
			t_wslay_msg_cleanup(&m);
			break;
		} else if (m.opcode == T_WSLAY_TEXT && m.len == 8 && !memcmp(m.data, "close-me", 8)) {
			t_wslay_queue_close(p, 4000, "asked to");
		} else if (m.opcode == T_WSLAY_TEXT || m.opcode == T_WSLAY_BINARY) {
			t_wslay_queue(p, m.opcode, m.data, m.len);
			s->echoed++;
		}
		t_wslay_msg_cleanup(&m);
	}
	/* wslay queued its answer to the client's Close: send it. */
	t_wslay_flush(p, T_WAIT_MS);
	s->close_sent = t_wslay_close_sent(p);
out:
	t_wslay_free(p);
	free(frag);
	return NULL;
}

static void t_server_start(struct t_server *s, const char *id)
{
	memset(s, 0, sizeof *s);
	s->id = id;
	s->lfd = t_listen_tcp(&s->port);
	cr_assert_eq(pthread_create(&s->thread, NULL, t_server_main, s), 0);
}

static void t_server_join(struct t_server *s)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

/* ------------------------------------------------------------------ */
/* Our client, in a coroutine on reactor 0. */

struct t_client {
	char url[64];
	const char *id;
	atomic_int done;
	int err;
	char errbuf[512];
	const char *failed;     /* what went wrong first, NULL if nothing */
	size_t failed_len;
	bool paired, frag_ok;
	uint16_t close_code;
	int last_recv;
};

static const size_t t_sizes[] = {0, 125, 126, 65535, 65536, 1u << 20};

static void t_client_main(void *arg)
{
	struct t_client *c = arg;
	struct relay_client_opts o = {.max_message = T_MAX_MSG};
	struct relay_client *rc = NULL;
	struct relay_msg m;
	if (core_reactor_index(core_self()) != 0)
		return;
	c->err = relay_client_connect(&rc, c->url, c->id, &o, T_WAIT_MS, c->errbuf, sizeof c->errbuf);
	if (c->err)
		goto out;
	/* The notice is not data: the first message is the fragmented one. */
	int n = relay_client_recv(rc, &m, T_WAIT_MS);
	uint8_t *frag = t_pattern(T_FRAG_LEN, 42);
	c->frag_ok = n == T_FRAG_LEN && !m.text && t_first_diff(m.data, frag, T_FRAG_LEN) == T_FRAG_LEN;
	free(frag);
	c->paired = relay_client_paired(rc);
	for (size_t i = 0; i < 2 * sizeof t_sizes / sizeof t_sizes[0] && !c->failed; i++) {
		bool text = i % 2;
		size_t len = t_sizes[i / 2];
		uint8_t *msg = text ? t_utf8_text(len, (unsigned)i) : t_pattern(len, (unsigned)i);
		if (relay_client_send(rc, msg, len, text, T_WAIT_MS)) {
			c->failed = "send", c->failed_len = len;
		} else {
			n = relay_client_recv(rc, &m, T_WAIT_MS);
			if (n < 0 || (size_t)n != len || m.text != text || t_first_diff(m.data, msg, len) != len)
				c->failed = text ? "text echo" : "binary echo", c->failed_len = len;
		}
		free(msg);
	}
	/* The server closes with 4000 when asked. */
	if (!c->failed && relay_client_send(rc, "close-me", 8, true, T_WAIT_MS) == 0) {
		c->last_recv = relay_client_recv(rc, &m, T_WAIT_MS);
		c->close_code = relay_client_close_code(rc);
	}
out:
	relay_client_close(rc);
	atomic_store(&c->done, 1);
}

static bool t_client_done(void *arg)
{
	return atomic_load(&((struct t_client *)arg)->done) != 0;
}

Test(client_wslay, our_client_against_a_wslay_server)
{
	struct t_server s;
	struct t_client c;
	struct t_rt rt;
	memset(&c, 0, sizeof c);
	t_server_start(&s, "wslay-server");
	snprintf(c.url, sizeof c.url, "ws://127.0.0.1:%u", s.port);
	c.id = "wslay-server";
	t_rt_start(&rt, NULL, t_client_main, &c);
	cr_assert(t_wait_until(t_client_done, &c, 40000), "the client did not finish");
	t_rt_stop(&rt);
	t_server_join(&s);
	cr_assert_eq(c.err, 0, "connect: %s (server: %s)", c.errbuf, s.err);
	cr_assert(c.frag_ok, "the server's fragmented message did not arrive whole");
	cr_assert(c.paired, "the paired notice was not recognised");
	cr_assert_null(c.failed, "%s of %zu bytes failed", c.failed, c.failed_len);
	cr_assert_eq(s.echoed, 2 * sizeof t_sizes / sizeof t_sizes[0]);
	cr_assert(s.got_pong, "the client did not answer the server's ping with its payload");
	cr_assert_eq(c.last_recv, -ECONNRESET, "recv after the server's Close returned %d", c.last_recv);
	cr_assert_eq(c.close_code, 4000, "the client saw Close %u", c.close_code);
	/* The client answered the server's Close with the same code (§5.5.1). */
	cr_assert(s.close_sent);
	cr_assert_eq(s.close_received, 4000, "the client's Close carried %u (%s)", s.close_received, s.err);
}
