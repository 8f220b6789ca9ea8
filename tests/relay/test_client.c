/* relay/client against our relay server, in-process: the seed's RelayClient
 * sequence over ws:// and wss://, fragmentation, 409, bad URLs. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/reactor.h"
#include "helpers.h"
#include "relay/client.h"
#include "relay/http.h"
#include "relay/server.h"
#include "relay/ticket.h"
#include "relay/ws_frame.h"

struct relay_fixture {
	struct relay_server *srv;
	pthread_t thread;
	char url[128];
	char tls_url[128];
	char dir[64];
};

static void *serve(void *arg)
{
	relay_server_run(arg);
	return NULL;
}

/* Makes a throw-away CA and a server certificate for localhost with the
 * openssl command; false when it is not installed. */
static bool make_certs(const char *dir)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key "
		 "-out ca.pem -days 2 -subj /CN=atmos-test-ca >/dev/null 2>&1 && "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr "
		 "-subj /CN=localhost >/dev/null 2>&1 && printf 'subjectAltName=DNS:localhost\\n' > ext && "
		 "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 "
		 "-extfile ext >/dev/null 2>&1",
		 dir);
	return system(cmd) == 0;
}

/* The relay's --hibernate-ms for the next start_relay (0: its default).
 * Each test runs in a process of its own. */
static unsigned fixture_hibernate_ms;

/* keys: NULL, or one relay key: the relay runs in mesh-token mode. */
static void start_relay_keyed(struct relay_fixture *f, bool tls, const struct relay_key *keys)
{
	struct relay_opts o = {.host = "127.0.0.1", .threads = 2, .hibernate_ms = fixture_hibernate_ms};
	if (keys) {
		o.access = RELAY_ACCESS_MESH_TOKEN;
		o.keys = keys;
		o.num_keys = 1;
	}
	char cert[128], key[128], err[512];
	int e = 0;
	memset(f, 0, sizeof *f);
	if (tls) {
		snprintf(f->dir, sizeof f->dir, "/tmp/atmos-relay-client-%d", getpid());
		mkdir(f->dir, 0700);
		if (!make_certs(f->dir))
			cr_skip_test("openssl command not available to make a test CA");
		snprintf(cert, sizeof cert, "%s/srv.pem", f->dir);
		snprintf(key, sizeof key, "%s/srv.key", f->dir);
		o.tls_cert = cert;
		o.tls_key = key;
		o.plain = true;
	}
	f->srv = relay_server_new(&o, &e, err, sizeof err);
	cr_assert_not_null(f->srv, "relay_server_new: %s", err);
	if (tls) {
		snprintf(f->tls_url, sizeof f->tls_url, "wss://localhost:%u", relay_server_port(f->srv));
		snprintf(f->url, sizeof f->url, "ws://127.0.0.1:%u", relay_server_plain_port(f->srv));
	} else {
		snprintf(f->url, sizeof f->url, "ws://127.0.0.1:%u", relay_server_port(f->srv));
	}
	cr_assert_eq(pthread_create(&f->thread, NULL, serve, f->srv), 0);
}

static void start_relay(struct relay_fixture *f, bool tls)
{
	start_relay_keyed(f, tls, NULL);
}

static void stop_relay(struct relay_fixture *f)
{
	relay_server_stop(f->srv);
	pthread_join(f->thread, NULL);
	relay_server_free(f->srv);
	if (f->dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
		cr_assert_eq(system(cmd), 0);
	}
}

/* The clients run on their own runtime; results come back through here. */
struct scenario {
	const char *url_a, *url_b;
	const char *ca;
	const struct relay_key *key; /* tickets under it (mesh-token), or NULL */
	char id[64];
	size_t big;
	atomic_int done;
	int err_a, err_b;
	char errbuf[512];
	bool b_got_hello, a_got_world, big_ok, back_ok, b_paired, third_busy;
	uint16_t b_close_code;
};

static void seed_sequence(void *arg)
{
	struct scenario *s = arg;
	struct relay_client_opts o = {.ca_file = s->ca, .ticket_key = s->key};
	struct relay_client *a = NULL, *b = NULL, *c = NULL;
	struct relay_msg m;
	if (core_reactor_index(core_self()) != 0)
		return;
	s->err_a = relay_client_connect(&a, s->url_a, s->id, &o, 5000, s->errbuf, sizeof s->errbuf);
	if (s->err_a)
		goto out;
	s->err_b = relay_client_connect(&b, s->url_b, s->id, &o, 5000, s->errbuf, sizeof s->errbuf);
	if (s->err_b)
		goto out;
	/* The seed's sequence: A sends b"hello", B receives b"hello". */
	cr_assert_eq(relay_client_send(a, "hello", 5, false, 5000), 0);
	int n = relay_client_recv(b, &m, 5000);
	s->b_got_hello = n == 5 && !m.text && !memcmp(m.data, "hello", 5);
	s->b_paired = relay_client_paired(b);
	cr_assert_eq(relay_client_send(b, "world", 5, true, 5000), 0);
	n = relay_client_recv(a, &m, 5000);
	s->a_got_world = n == 5 && m.text && !memcmp(m.data, "world", 5);
	if (s->big) {
		uint8_t *big = malloc(s->big);
		for (size_t i = 0; i < s->big; i++)
			big[i] = (uint8_t)(i * 7 + (i >> 10));
		cr_assert_eq(relay_client_send(a, big, s->big, false, 10000), 0);
		n = relay_client_recv(b, &m, 10000);
		s->big_ok = (size_t)n == s->big && !memcmp(m.data, big, s->big);
		/* Back the other way, in sizes around the TLS record size: the
		 * relay gathers each frame header and its payload pieces into
		 * whole records (net/stream.c), and none may lose or move a byte. */
		static const size_t sizes[] = {1, 100, 16379, 16380, 16383, 16384, 16385, 40000, 65536, 1u << 20};
		s->back_ok = true;
		for (size_t k = 0; k < sizeof sizes / sizeof sizes[0] && k * 13 < s->big; k++) {
			const uint8_t *msg = big + k * 13; /* unaligned starts too */
			size_t len = sizes[k] <= s->big - k * 13 ? sizes[k] : s->big - k * 13;
			cr_assert_eq(relay_client_send(b, msg, len, false, 10000), 0);
			n = relay_client_recv(a, &m, 10000);
			if ((size_t)n != len || memcmp(m.data, msg, len))
				s->back_ok = false;
		}
		free(big);
	}
	char eb[256];
	s->third_busy = relay_client_connect(&c, s->url_a, s->id, &o, 5000, eb, sizeof eb) == -EBUSY;
	relay_client_close(c);
	relay_client_close(a);
	a = NULL;
	/* B learns that A left: the relay sends it a Close. */
	n = relay_client_recv(b, &m, 5000);
	if (n == -ECONNRESET)
		s->b_close_code = relay_client_close_code(b);
out:
	relay_client_close(a);
	relay_client_close(b);
	atomic_store(&s->done, 1);
}

static bool scenario_done(void *arg) { return atomic_load(&((struct scenario *)arg)->done) != 0; }

static void run_scenario(struct scenario *s)
{
	struct t_rt t;
	t_rt_start(&t, NULL, seed_sequence, s);
	cr_assert(t_wait_until(scenario_done, s, 30000));
	t_rt_stop(&t);
	cr_assert_eq(s->err_a, 0, "A connect: %s", s->errbuf);
	cr_assert_eq(s->err_b, 0, "B connect: %s", s->errbuf);
	cr_assert(s->b_got_hello, "B did not receive b\"hello\"");
	cr_assert(s->b_paired, "B did not see the paired notice");
	cr_assert(s->a_got_world, "A did not receive the text reply");
	if (s->big) {
		cr_assert(s->big_ok, "the %zu-byte message differs", s->big);
		cr_assert(s->back_ok, "a message of the size sequence back from B differs");
	}
	cr_assert(s->third_busy, "a third client must get 409 (-EBUSY)");
	cr_assert_eq(s->b_close_code, 1000, "B should get the code A closed with, got %u", s->b_close_code);
}

Test(relay_client, seed_sequence_over_ws, .timeout = 60)
{
	struct relay_fixture f;
	struct scenario s;
	memset(&s, 0, sizeof s);
	start_relay(&f, false);
	s.url_a = s.url_b = f.url;
	s.big = 4u << 20;
	snprintf(s.id, sizeof s.id, "client-ws-%d", getpid());
	run_scenario(&s);
	stop_relay(&f);
}

/* A relay on "::" (dual-stack): A comes over IPv6, B over IPv4, one session. */
Test(relay_client, seed_sequence_over_ipv6_and_ipv4_on_a_dual_stack_relay, .timeout = 60)
{
	struct relay_fixture f;
	struct scenario s;
	struct relay_opts o = {.host = "::", .threads = 2};
	char err[512], url6[128];
	int e = 0;
	int probe = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 lo = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bool have_v6 = probe >= 0 && bind(probe, (struct sockaddr *)&lo, sizeof lo) == 0;
	if (probe >= 0)
		close(probe);
	if (!have_v6)
		cr_skip_test("no IPv6 loopback (::1) on this machine");
	memset(&f, 0, sizeof f);
	memset(&s, 0, sizeof s);
	f.srv = relay_server_new(&o, &e, err, sizeof err);
	cr_assert_not_null(f.srv, "relay_server_new on '::': %s", err);
	snprintf(url6, sizeof url6, "ws://[::1]:%u/", relay_server_port(f.srv));
	snprintf(f.url, sizeof f.url, "ws://127.0.0.1:%u", relay_server_port(f.srv));
	cr_assert_eq(pthread_create(&f.thread, NULL, serve, f.srv), 0);
	s.url_a = url6;
	s.url_b = f.url;
	s.big = 1u << 20;
	snprintf(s.id, sizeof s.id, "client-dual-%d", getpid());
	run_scenario(&s);
	stop_relay(&f);
}

Test(relay_client, seed_sequence_over_wss_with_test_ca_and_mixed_transports, .timeout = 60)
{
	struct relay_fixture f;
	struct scenario s;
	char ca[128];
	memset(&s, 0, sizeof s);
	start_relay(&f, true);
	snprintf(ca, sizeof ca, "%s/ca.pem", f.dir);
	s.ca = ca;
	s.url_a = f.tls_url; /* A over TLS, B in plaintext: same session */
	s.url_b = f.url;
	s.big = 1u << 20;
	snprintf(s.id, sizeof s.id, "client-wss-%d", getpid());
	run_scenario(&s);
	stop_relay(&f);
}

/* Idle spells on wss://: after each, both connections of the session have
 * waited trimmed (net_stream_trim: no TLS buffers) and hibernating (no
 * stack) in the relay, and a message must still cross each way, exact. */
enum { IDLE_SPELLS = 40, IDLE_SPELL_MS = 40, IDLE_HIBERNATE_MS = 10 };

struct idle_spells {
	const char *url, *ca;
	char id[64];
	atomic_int done;
	int err;
	char errbuf[512];
	int ok;                        /* spells whose messages arrived exact */
};

static void idle_spells_main(void *arg)
{
	struct idle_spells *s = arg;
	struct relay_client_opts o = {.ca_file = s->ca};
	struct relay_client *a = NULL, *b = NULL;
	uint8_t *msg = NULL;
	struct relay_msg m;
	static const size_t sizes[] = {1, 700, 16380, 16384, 16390, 70000};
	if (core_reactor_index(core_self()) != 0)
		return;
	if ((s->err = relay_client_connect(&a, s->url, s->id, &o, 5000, s->errbuf, sizeof s->errbuf)) ||
	    (s->err = relay_client_connect(&b, s->url, s->id, &o, 5000, s->errbuf, sizeof s->errbuf)))
		goto out;
	if (!(msg = malloc(70000))) {
		s->err = -ENOMEM;
		goto out;
	}
	for (int spell = 0; spell < IDLE_SPELLS; spell++) {
		/* Longer than --hibernate-ms: the relay trims both ends. */
		core_sleep(IDLE_SPELL_MS);
		size_t len = sizes[spell % (int)(sizeof sizes / sizeof sizes[0])];
		for (size_t i = 0; i < len; i++)
			msg[i] = (uint8_t)(i * 13 + (size_t)spell);
		bool good = true;
		for (int dir = 0; dir < 2; dir++) {
			struct relay_client *from = dir ? b : a, *to = dir ? a : b;
			msg[0] = (uint8_t)(spell * 2 + dir);
			if ((s->err = relay_client_send(from, msg, len, false, 5000)) != 0)
				goto out;
			int n = relay_client_recv(to, &m, 5000);
			if (n < 0) {
				s->err = n;
				snprintf(s->errbuf, sizeof s->errbuf, "spell %d, %s: recv %d", spell, dir ? "B->A" : "A->B", n);
				goto out;
			}
			good = good && (size_t)n == len && !memcmp(m.data, msg, len);
		}
		s->ok += good;
	}
out:
	free(msg);
	relay_client_close(a);
	relay_client_close(b);
	atomic_store(&s->done, 1);
}

static bool idle_spells_done(void *arg) { return atomic_load(&((struct idle_spells *)arg)->done) != 0; }

Test(relay_client, wss_session_trimmed_while_idle_forwards_both_ways_after_each_spell, .timeout = 90)
{
	struct relay_fixture f;
	struct idle_spells s;
	char ca[128];
	memset(&s, 0, sizeof s);
	fixture_hibernate_ms = IDLE_HIBERNATE_MS;
	start_relay(&f, true);
	snprintf(ca, sizeof ca, "%s/ca.pem", f.dir);
	s.ca = ca;
	s.url = f.tls_url;
	snprintf(s.id, sizeof s.id, "client-wss-idle-%d", getpid());
	struct t_rt t;
	t_rt_start(&t, NULL, idle_spells_main, &s);
	cr_assert(t_wait_until(idle_spells_done, &s, 60000), "the spells did not finish");
	t_rt_stop(&t);
	stop_relay(&f);
	cr_assert_eq(s.err, 0, "error %d: %s", s.err, s.errbuf);
	cr_assert_eq(s.ok, IDLE_SPELLS, "%d of %d spells delivered both messages exact", s.ok, IDLE_SPELLS);
}

struct refusal {
	const char *url, *ca, *id;
	const struct relay_key *key;
	int err;
	char msg[512];
	atomic_int done;
};

static void connect_once(void *arg)
{
	struct refusal *r = arg;
	struct relay_client_opts o = {.ca_file = r->ca, .ticket_key = r->key};
	struct relay_client *c = NULL;
	if (core_reactor_index(core_self()) != 0)
		return;
	r->err = relay_client_connect(&c, r->url, r->id, &o, 5000, r->msg, sizeof r->msg);
	relay_client_close(c);
	atomic_store(&r->done, 1);
}

static bool refusal_done(void *arg) { return atomic_load(&((struct refusal *)arg)->done) != 0; }

static int try_connect_keyed(const char *url, const struct relay_key *key, const char *id, char *msg, size_t len)
{
	struct refusal r = {.url = url, .key = key, .id = id};
	struct t_rt t;
	t_rt_start(&t, NULL, connect_once, &r);
	cr_assert(t_wait_until(refusal_done, &r, 20000));
	t_rt_stop(&t);
	snprintf(msg, len, "%s", r.msg);
	return r.err;
}

static int try_connect(const char *url, const char *ca, const char *id, char *msg, size_t len)
{
	struct refusal r = {.url = url, .ca = ca, .id = id};
	struct t_rt t;
	t_rt_start(&t, NULL, connect_once, &r);
	cr_assert(t_wait_until(refusal_done, &r, 20000));
	t_rt_stop(&t);
	snprintf(msg, len, "%s", r.msg);
	return r.err;
}

/* A mesh-token relay: a client holding the relay key pairs and forwards
 * (fresh tickets each connect, the third one included, which then gets
 * 409); without a key, or with another one, the relay says 401 and the
 * client -EACCES. */
Test(relay_client, mesh_token_relay_needs_the_key, .timeout = 60)
{
	struct relay_fixture f;
	struct scenario s;
	struct relay_key key, other;
	uint8_t secret[RELAY_KEY_LEN];
	char msg[512];
	memset(secret, 0x11, sizeof secret);
	relay_key_init(&key, secret);
	memset(secret, 0x22, sizeof secret);
	relay_key_init(&other, secret);
	memset(&s, 0, sizeof s);
	start_relay_keyed(&f, false, &key);
	s.url_a = s.url_b = f.url;
	s.key = &key;
	s.big = 64u << 10;
	snprintf(s.id, sizeof s.id, "client-token-%d", getpid());
	run_scenario(&s);
	cr_assert_eq(try_connect_keyed(f.url, NULL, "client-token-none", msg, sizeof msg), -EACCES, "%s", msg);
	cr_assert(strstr(msg, "401"), "message: %s", msg);
	cr_assert_eq(try_connect_keyed(f.url, &other, "client-token-other", msg, sizeof msg), -EACCES, "%s", msg);
	struct relay_stats st;
	relay_server_stats(f.srv, &st);
	cr_assert_eq(st.refused_no_ticket, 1);
	cr_assert_eq(st.refused_unknown_key, 1);
	cr_assert_eq(st.total_sessions, 1);
	stop_relay(&f);
}

Test(relay_client, refuses_bad_urls_and_ids_with_a_message, .timeout = 30)
{
	char msg[512];
	cr_assert_eq(try_connect("http://127.0.0.1:1", NULL, "x", msg, sizeof msg), -EINVAL);
	cr_assert(strstr(msg, "ws://"), "message: %s", msg);
	cr_assert_eq(try_connect("ws://127.0.0.1:99999", NULL, "x", msg, sizeof msg), -EINVAL);
	cr_assert_eq(try_connect("ws://127.0.0.1:1", NULL, "bad/id", msg, sizeof msg), -EINVAL);
	cr_assert(strstr(msg, "session id"), "message: %s", msg);
	/* IPv6 literals: brackets closed, a ':' before the port, a port in
	 * range, and never unbracketed with a port. */
	static const char *const bad6[] = {"ws://[::1", "ws://[::1/relay", "ws://[::1]8080", "ws://[::1]:",
					   "ws://[::1]:65536", "ws://::1:8080", "ws://[]:80"};
	for (size_t i = 0; i < sizeof bad6 / sizeof bad6[0]; i++) {
		cr_assert_eq(try_connect(bad6[i], NULL, "x", msg, sizeof msg), -EINVAL, "%s", bad6[i]);
		cr_assert(strstr(msg, "malformed"), "%s: message: %s", bad6[i], msg);
	}
}

Test(relay_client, connection_refused_is_reported, .timeout = 30)
{
	char msg[512], url[64];
	uint16_t port;
	int fd = t_listen_tcp(&port);
	close(fd); /* nothing listens there now */
	snprintf(url, sizeof url, "ws://127.0.0.1:%u", port);
	cr_assert_eq(try_connect(url, NULL, "x", msg, sizeof msg), -ECONNREFUSED);
}

Test(relay_client, wss_rejects_a_certificate_from_an_unknown_ca, .timeout = 60)
{
	struct relay_fixture f;
	char msg[512];
	start_relay(&f, true);
	/* No CA file: the system store does not know our throw-away CA. */
	int r = try_connect(f.tls_url, NULL, "x", msg, sizeof msg);
	stop_relay(&f);
	cr_assert_eq(r, -EPROTO, "got %d: %s", r, msg);
	cr_assert(strstr(msg, "CERTIFICATE") || strstr(msg, "certificate"), "message: %s", msg);
}

/* A scripted relay for relay_client_try_recv: a blocking thread that
 * answers the upgrade, then writes frames in the groups the client's
 * steps ask for (each group in one write, so they arrive together). */
struct script {
	int lfd;
	uint16_t port;
	atomic_int step;        /* the client's progress: the server waits for it */
	bool got_pong;
	/* the client's results */
	int r[10];
	char text[10][16];
	atomic_int done;
};

static size_t frame(uint8_t *out, bool fin, uint8_t op, const char *s)
{
	int n = relay_ws_frame_build(out, 64, fin, op, (const uint8_t *)s, strlen(s), NULL);
	cr_assert_gt(n, 0);
	return (size_t)n;
}

static bool step_is(void *arg, int want)
{
	return atomic_load(&((struct script *)arg)->step) >= want;
}
static bool step2(void *arg) { return step_is(arg, 2); }

static void *script_server(void *arg)
{
	struct script *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	cr_assert_geq(fd, 0);
	uint8_t buf[4096];
	size_t len = 0;
	struct relay_http_req req;
	int hl;
	while ((hl = relay_http_parse_request(&req, buf, len)) == RELAY_HTTP_INCOMPLETE) {
		ssize_t n = read(fd, buf + len, sizeof buf - len);
		cr_assert_gt(n, 0);
		len += (size_t)n;
	}
	char acc[RELAY_HTTP_ACCEPT_LEN + 1];
	cr_assert_eq(relay_http_check_upgrade(acc, &req), RELAY_HTTP_OK);
	int n = relay_http_upgrade_response_build(buf, sizeof buf, acc);
	cr_assert_eq(write(fd, buf, (size_t)n), n);
	/* Group 1: binary "one", binary "two", text "three" in two
	 * fragments, a ping, binary "four", then the first fragment of
	 * "abcd". */
	size_t o = 0;
	o += frame(buf + o, true, RELAY_WS_OP_BINARY, "one");
	o += frame(buf + o, true, RELAY_WS_OP_BINARY, "two");
	o += frame(buf + o, false, RELAY_WS_OP_TEXT, "thr");
	o += frame(buf + o, true, RELAY_WS_OP_CONTINUATION, "ee");
	o += frame(buf + o, true, RELAY_WS_OP_PING, "p");
	o += frame(buf + o, true, RELAY_WS_OP_BINARY, "four");
	o += frame(buf + o, false, RELAY_WS_OP_BINARY, "ab");
	cr_assert_eq(write(fd, buf, o), (ssize_t)o);
	/* Group 2, once the client found "ab" incomplete: the rest. */
	cr_assert(t_wait_until(step2, s, 10000));
	o = frame(buf, true, RELAY_WS_OP_CONTINUATION, "cd");
	cr_assert_eq(write(fd, buf, o), (ssize_t)o);
	/* The pong came (masked, 2 + 4 + 1 bytes). */
	uint8_t pong[7];
	if (t_read_full(fd, pong, sizeof pong) == 0)
		s->got_pong = (pong[0] & 0x0f) == RELAY_WS_OP_PONG;
	close(fd);
	return NULL;
}

static void script_client(void *arg)
{
	struct script *s = arg;
	if (core_reactor_index(core_self()) != 0)
		return;
	struct relay_client *c = NULL;
	struct relay_msg m;
	char url[64], err[256];
	snprintf(url, sizeof url, "ws://127.0.0.1:%u", s->port);
	s->r[0] = relay_client_connect(&c, url, "try-recv", NULL, 5000, err, sizeof err);
	if (s->r[0])
		goto out;
	/* What one waiting receive brought in is taken without waiting. */
	static const int kinds[] = {0, 0, 1, 1, 1, 0, 1}; /* 0: recv, 1: try_recv */
	for (int i = 1; i <= 6; i++) {
		int r = kinds[i] == 0 ? relay_client_recv(c, &m, 5000) : relay_client_try_recv(c, &m);
		s->r[i] = r;
		if (r > 0)
			snprintf(s->text[i], sizeof s->text[i], "%s%.*s", m.text ? "t:" : "", r, m.data);
		if (i == 6)
			atomic_store(&s->step, 2);
	}
	s->r[7] = relay_client_recv(c, &m, 5000);
	if (s->r[7] > 0)
		snprintf(s->text[7], sizeof s->text[7], "%.*s", s->r[7], m.data);
	s->r[8] = relay_client_try_recv(c, &m);
out:
	relay_client_close(c);
	atomic_store(&s->done, 1);
}

static bool script_done(void *arg) { return atomic_load(&((struct script *)arg)->done) != 0; }

Test(relay_client, try_recv_takes_what_has_arrived_and_leaves_pings_to_recv, .timeout = 30)
{
	struct script s;
	memset(&s, 0, sizeof s);
	s.lfd = t_listen_tcp(&s.port);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, script_server, &s), 0);
	struct t_rt t;
	t_rt_start(&t, NULL, script_client, &s);
	cr_assert(t_wait_until(script_done, &s, 20000));
	t_rt_stop(&t);
	pthread_join(th, NULL);
	close(s.lfd);
	cr_assert_eq(s.r[0], 0, "connect");
	cr_assert_str_eq(s.text[1], "one", "the waiting receive");
	cr_assert_str_eq(s.text[2], "two", "taken without waiting");
	cr_assert_str_eq(s.text[3], "t:three", "a fragmented message, whole");
	cr_assert_eq(s.r[4], -EAGAIN, "a ping next: left to the waiting receive (%d, %s)", s.r[4], s.text[4]);
	cr_assert_str_eq(s.text[5], "four", "the waiting receive answers the ping and goes on");
	cr_assert_eq(s.r[6], -EAGAIN, "half a message: nothing yet");
	cr_assert_str_eq(s.text[7], "abcd", "the half kept for the next receive");
	cr_assert_eq(s.r[8], -EAGAIN, "nothing more");
	cr_assert(s.got_pong, "the ping was answered");
}
