/* relay/server against wslay: our relay in-process (relay_server_new on
 * 127.0.0.1 port 0, relay_server_run on a background thread) with a wslay
 * client (tests/relay/wslay_peer.h) on both ends of each session. wslay is an
 * independent RFC 6455 implementation, so what passes here is not our codec
 * agreeing with itself. What is asserted comes from docs/RELAY.md's protocol
 * section: the paired notice, text and binary messages of every length
 * encoding in both directions, frame for frame (fragments sent with
 * wslay_event_queue_fragmented_msg arrive as the same frames), pings answered
 * per hop both ways, and Close codes carried to the peer.
 *
 * Every wait polls with a deadline; every test has a .timeout. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "helpers.h"
#include "relay/server.h"
#include "wslay_peer.h"

enum {
	T_WAIT_MS = 10000,
	/* wslay's receive limit in these tests: above the largest message sent
	 * (1 MiB), far below wslay's 2 GiB default. */
	T_MAX_MSG = 4 * 1024 * 1024,
};

static void t_suite_init(void)
{
	signal(SIGPIPE, SIG_IGN);
}

TestSuite(wslay_interop, .init = t_suite_init, .timeout = 60);

/* ------------------------------------------------------------------ */
/* A paired session of two wslay clients. */

struct t_pair {
	struct t_relay relay;
	struct t_wslay_peer *a, *b;
	char id[64];
};

static struct t_wslay_peer *t_connect(struct t_relay *r, const char *id, uint64_t max_msg)
{
	char eb[256];
	struct t_wslay_peer *p = t_wslay_connect(r->port, id, max_msg, T_WAIT_MS, eb, sizeof eb);
	cr_assert_not_null(p, "wslay client for session %s: %s", id, eb);
	return p;
}

static void t_expect_paired(struct t_wslay_peer *p, const char *id)
{
	struct t_wslay_msg m;
	char want[256];
	snprintf(want, sizeof want, RELAY_PAIRED_MESSAGE_FMT, id);
	cr_assert_eq(t_wslay_recv_data(p, NULL, &m, T_WAIT_MS), 0, "no paired notice");
	cr_assert_eq(m.opcode, T_WSLAY_TEXT, "paired notice opcode %u", m.opcode);
	cr_assert_eq(m.len, strlen(want), "paired notice: %.*s", (int)m.len, (const char *)m.data);
	cr_assert_arr_eq(m.data, want, m.len, "paired notice: %.*s", (int)m.len, (const char *)m.data);
	t_wslay_msg_cleanup(&m);
}

/* t_pair_open starts a relay with o and pairs two wslay clients whose
 * receive limit is max_msg; both have seen the paired notice. */
static void t_pair_open(struct t_pair *s, struct relay_opts *o, const char *id, uint64_t max_msg)
{
	memset(s, 0, sizeof *s);
	snprintf(s->id, sizeof s->id, "%s", id);
	t_relay_start(&s->relay, o);
	s->a = t_connect(&s->relay, id, max_msg);
	s->b = t_connect(&s->relay, id, max_msg);
	t_expect_paired(s->a, id);
	t_expect_paired(s->b, id);
}

static void t_pair_close(struct t_pair *s)
{
	t_wslay_free(s->a);
	t_wslay_free(s->b);
	t_relay_stop(&s->relay);
}

/* ------------------------------------------------------------------ */
/* Checks. */

/* t_expect_msg receives the next data message on to (driving from too) and
 * checks it is exactly opcode/data/len in num_frames frames. */
static void t_expect_msg(struct t_wslay_peer *to, struct t_wslay_peer *from, uint8_t opcode, const uint8_t *data,
			 size_t len, unsigned num_frames)
{
	struct t_wslay_msg m;
	int err = t_wslay_recv_data(to, from, &m, T_WAIT_MS);
	cr_assert_eq(err, 0, "waiting for a %zu-byte message: %s", len, strerror(-err));
	cr_assert_eq(m.opcode, opcode, "opcode %u, want %u (close code %u)", m.opcode, opcode, m.close_code);
	cr_assert_eq(m.len, len, "length %zu, want %zu", m.len, len);
	size_t d = t_first_diff(m.data, data, len);
	cr_assert_eq(d, len, "payload differs at byte %zu of %zu", d, len);
	cr_assert_eq(m.num_frames, num_frames, "%u frames, want %u", m.num_frames, num_frames);
	t_wslay_msg_cleanup(&m);
}

/* ------------------------------------------------------------------ */
/* Pairing. */

Test(wslay_interop, paired_notice_to_both)
{
	struct t_pair s;
	struct relay_opts o = {0};
	/* t_pair_open asserts the exact notice on both sides. */
	t_pair_open(&s, &o, "wslay-pair_1", T_MAX_MSG);
	t_pair_close(&s);
}

Test(wslay_interop, held_messages_follow_the_notice)
{
	struct t_relay r;
	struct relay_opts o = {0};
	uint8_t *msg = t_pattern(3000, 7);
	t_relay_start(&r, &o);
	struct t_wslay_peer *a = t_connect(&r, "held", T_MAX_MSG);
	cr_assert_eq(t_wslay_queue(a, T_WSLAY_BINARY, msg, 3000), 0);
	cr_assert_eq(t_wslay_queue(a, T_WSLAY_TEXT, "second", 6), 0);
	cr_assert_eq(t_wslay_flush(a, T_WAIT_MS), 0);
	struct t_wslay_peer *b = t_connect(&r, "held", T_MAX_MSG);
	/* §4: held messages come right after the notice, in order. */
	t_expect_paired(b, "held");
	t_expect_msg(b, a, T_WSLAY_BINARY, msg, 3000, 1);
	t_expect_msg(b, a, T_WSLAY_TEXT, (const uint8_t *)"second", 6, 1);
	t_expect_paired(a, "held");
	t_wslay_free(a);
	t_wslay_free(b);
	t_relay_stop(&r);
	free(msg);
}

/* ------------------------------------------------------------------ */
/* Messages of every length encoding (RFC 6455 §5.2: 7-bit up to 125, 16-bit
 * from 126 to 65535, 64-bit from 65536), both types, both directions. */

struct t_size_case {
	size_t len;
	bool text;
};

ParameterizedTestParameters(wslay_interop, sizes)
{
	static struct t_size_case cases[] = {
		{0, false},     {125, false},   {126, false},   {65535, false},   {65536, false},   {1 << 20, false},
		{0, true},      {125, true},    {126, true},    {65535, true},    {65536, true},    {1 << 20, true},
	};
	return cr_make_param_array(struct t_size_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct t_size_case *c, wslay_interop, sizes)
{
	struct t_pair s;
	struct relay_opts o = {0};
	uint8_t opcode = c->text ? T_WSLAY_TEXT : T_WSLAY_BINARY;
	uint8_t *ab = c->text ? t_utf8_text(c->len, 1) : t_pattern(c->len, 1);
	uint8_t *ba = c->text ? t_utf8_text(c->len, 2) : t_pattern(c->len, 2);
	t_pair_open(&s, &o, "sizes", T_MAX_MSG);
	cr_assert_eq(t_wslay_queue(s.a, opcode, ab, c->len), 0);
	t_expect_msg(s.b, s.a, opcode, ab, c->len, 1);
	cr_assert_eq(t_wslay_queue(s.b, opcode, ba, c->len), 0);
	t_expect_msg(s.a, s.b, opcode, ba, c->len, 1);
	/* Both ways at once, then the next message still lines up. */
	cr_assert_eq(t_wslay_queue(s.a, opcode, ab, c->len), 0);
	cr_assert_eq(t_wslay_queue(s.b, opcode, ba, c->len), 0);
	t_expect_msg(s.b, s.a, opcode, ab, c->len, 1);
	t_expect_msg(s.a, s.b, opcode, ba, c->len, 1);
	cr_assert_eq(t_wslay_queue(s.a, T_WSLAY_TEXT, "after", 5), 0);
	t_expect_msg(s.b, s.a, T_WSLAY_TEXT, (const uint8_t *)"after", 5, 1);
	t_pair_close(&s);
	free(ab);
	free(ba);
}

/* ------------------------------------------------------------------ */
/* Fragmentation (§5.4): wslay_event_queue_fragmented_msg sends a TEXT or
 * BINARY frame without FIN, then CONTINUATION frames; the relay forwards
 * them frame for frame, so the receiving wslay sees the same frames. */

struct t_frag_case {
	size_t len, frag_len;
	bool text;
};

ParameterizedTestParameters(wslay_interop, fragmented)
{
	static struct t_frag_case cases[] = {
		{10, 1, false},          /* one byte per frame */
		{200000, 4096, false},   /* wslay's largest fragment */
		{200000, 1000, true},    /* UTF-8 split inside characters */
		{1 << 20, 4096, true},
		{65536, 65536, false},   /* one frame: FIN on the first */
		{4097, 4096, true},      /* the last fragment is one byte */
	};
	return cr_make_param_array(struct t_frag_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct t_frag_case *c, wslay_interop, fragmented)
{
	struct t_pair s;
	struct relay_opts o = {0};
	uint8_t opcode = c->text ? T_WSLAY_TEXT : T_WSLAY_BINARY;
	uint8_t *msg = c->text ? t_utf8_text(c->len, 3) : t_pattern(c->len, 3);
	/* wslay reads at most 4,096 bytes per frame from the source. */
	size_t per_frame = c->frag_len < 4096 ? c->frag_len : 4096;
	unsigned frames = (unsigned)((c->len + per_frame - 1) / per_frame);
	t_pair_open(&s, &o, "fragmented", T_MAX_MSG);
	cr_assert_eq(t_wslay_queue_fragmented(s.a, opcode, msg, c->len, c->frag_len, NULL), 0);
	t_expect_msg(s.b, s.a, opcode, msg, c->len, frames);
	/* And back, with an unfragmented message after it. */
	cr_assert_eq(t_wslay_queue_fragmented(s.b, opcode, msg, c->len, c->frag_len, NULL), 0);
	cr_assert_eq(t_wslay_queue(s.b, T_WSLAY_BINARY, "x", 1), 0);
	t_expect_msg(s.a, s.b, opcode, msg, c->len, frames);
	t_expect_msg(s.a, s.b, T_WSLAY_BINARY, (const uint8_t *)"x", 1, 1);
	t_pair_close(&s);
	free(msg);
}

/* ------------------------------------------------------------------ */
/* Pings are per hop (docs/RELAY.md §5). */

static void t_expect_pong(struct t_wslay_peer *p, const char *data)
{
	struct t_wslay_msg m;
	size_t len = strlen(data);
	cr_assert_eq(t_wslay_recv(p, NULL, &m, T_WAIT_MS), 0, "no pong for \"%s\"", data);
	cr_assert_eq(m.opcode, T_WSLAY_PONG, "opcode %u, want a pong", m.opcode);
	cr_assert_eq(m.len, len, "pong of %zu bytes: %.*s", m.len, (int)m.len, (const char *)m.data);
	cr_assert_arr_eq(m.data, data, len);
	t_wslay_msg_cleanup(&m);
}

Test(wslay_interop, relay_answers_wslay_ping_and_keeps_it)
{
	struct t_pair s;
	struct relay_opts o = {0};
	struct t_wslay_msg m;
	t_pair_open(&s, &o, "ping", T_MAX_MSG);
	/* §5.5.3: the pong carries the ping's application data. */
	cr_assert_eq(t_wslay_queue(s.a, T_WSLAY_PING, "are you there", 13), 0);
	t_expect_pong(s.a, "are you there");
	cr_assert_eq(t_wslay_queue(s.a, T_WSLAY_PING, NULL, 0), 0);
	t_expect_pong(s.a, "");
	/* Two pings back to back: §5.5.3 lets an endpoint answer only the most
	 * recent one (the relay does when both arrive in one read), so the
	 * pong that must come is the second's. */
	cr_assert_eq(t_wslay_queue(s.a, T_WSLAY_PING, "first", 5), 0);
	cr_assert_eq(t_wslay_queue(s.a, T_WSLAY_PING, "second", 6), 0);
	cr_assert_eq(t_wslay_recv(s.a, NULL, &m, T_WAIT_MS), 0);
	cr_assert_eq(m.opcode, T_WSLAY_PONG);
	if (m.len == 5) {
		cr_assert_arr_eq(m.data, "first", 5);
		t_expect_pong(s.a, "second");
	} else {
		cr_assert_eq(m.len, 6, "pong of %zu bytes", m.len);
		cr_assert_arr_eq(m.data, "second", 6);
	}
	t_wslay_msg_cleanup(&m);
	/* Not forwarded: the first thing b gets after the notice is a's next
	 * message, and no ping or pong came before it. */
	cr_assert_eq(t_wslay_queue(s.a, T_WSLAY_TEXT, "data", 4), 0);
	cr_assert_eq(t_wslay_recv(s.b, s.a, &m, T_WAIT_MS), 0);
	cr_assert_eq(m.opcode, T_WSLAY_TEXT, "b got opcode %u before the data", m.opcode);
	cr_assert_arr_eq(m.data, "data", 4);
	t_wslay_msg_cleanup(&m);
	t_pair_close(&s);
}

Test(wslay_interop, ping_between_fragments)
{
	struct t_pair s;
	struct relay_opts o = {0};
	uint8_t *msg = t_pattern(100000, 9);
	t_pair_open(&s, &o, "ping-frag", T_MAX_MSG);
	/* §5.4: control frames may come between fragments. The relay answers
	 * the ping and forwards the message's 100 frames without it. */
	cr_assert_eq(t_wslay_queue_fragmented(s.a, T_WSLAY_BINARY, msg, 100000, 1000, "mid"), 0);
	t_expect_msg(s.b, s.a, T_WSLAY_BINARY, msg, 100000, 100);
	t_expect_pong(s.a, "mid");
	t_pair_close(&s);
	free(msg);
}

Test(wslay_interop, wslay_answers_relay_keepalive)
{
	struct t_pair s;
	/* The relay pings a client silent for ping_ms and ends it when no
	 * answer comes within another interval. */
	struct relay_opts o = {.ping_ms = 200};
	struct t_wslay_msg m;
	t_pair_open(&s, &o, "keepalive", T_MAX_MSG);
	/* Three pings in a row on a: wslay answered the first two, or the
	 * relay would have closed instead of pinging again. */
	for (int i = 0; i < 3; i++) {
		/* b is driven too, so it answers its own pings. */
		cr_assert_eq(t_wslay_recv(s.a, s.b, &m, T_WAIT_MS), 0, "ping %d", i);
		cr_assert_eq(m.opcode, T_WSLAY_PING, "ping %d: opcode %u (close code %u)", i, m.opcode,
			     m.close_code);
		t_wslay_msg_cleanup(&m);
	}
	/* b was silent as long: it was pinged too and is still paired. */
	cr_assert_eq(t_wslay_queue(s.a, T_WSLAY_TEXT, "still here", 10), 0);
	t_expect_msg(s.b, s.a, T_WSLAY_TEXT, (const uint8_t *)"still here", 10, 1);
	cr_assert_eq(t_wslay_queue(s.b, T_WSLAY_TEXT, "me too", 6), 0);
	t_expect_msg(s.a, s.b, T_WSLAY_TEXT, (const uint8_t *)"me too", 6, 1);
	t_pair_close(&s);
}

/* ------------------------------------------------------------------ */
/* Close codes (docs/RELAY.md §6): the peer gets the code the leaving client
 * closed with; the relay echoes the code to the closer; 1001 when a client
 * just drops its TCP connection. */

static void t_close_case(uint16_t code, const char *reason, uint16_t want_peer)
{
	struct t_pair s;
	struct relay_opts o = {0};
	struct t_wslay_msg m;
	t_pair_open(&s, &o, "close", T_MAX_MSG);
	cr_assert_eq(t_wslay_queue_close(s.a, code, reason), 0);
	cr_assert_eq(t_wslay_flush(s.a, T_WAIT_MS), 0);
	cr_assert(t_wslay_close_sent(s.a));
	/* The closer gets its own code back. */
	cr_assert_eq(t_wslay_recv_data(s.a, NULL, &m, T_WAIT_MS), 0);
	cr_assert_eq(m.opcode, T_WSLAY_CLOSE, "closer got opcode %u", m.opcode);
	cr_assert_eq(m.close_code, code ? code : want_peer, "closer got %u", m.close_code);
	t_wslay_msg_cleanup(&m);
	/* The peer gets a Close with the code; wslay answers it. */
	cr_assert_eq(t_wslay_recv_data(s.b, NULL, &m, T_WAIT_MS), 0);
	cr_assert_eq(m.opcode, T_WSLAY_CLOSE, "peer got opcode %u", m.opcode);
	cr_assert_eq(m.close_code, want_peer, "peer got %u, want %u", m.close_code, want_peer);
	t_wslay_msg_cleanup(&m);
	cr_assert(t_wslay_close_received(s.b));
	cr_assert_eq(t_wslay_flush(s.b, T_WAIT_MS), 0);
	cr_assert(t_wslay_close_sent(s.b));
	/* Then the relay closes both TCP connections. */
	cr_assert_eq(t_wslay_wait_eof(s.a, T_WAIT_MS), 0);
	cr_assert_eq(t_wslay_wait_eof(s.b, T_WAIT_MS), 0);
	t_pair_close(&s);
}

Test(wslay_interop, close_1000_reaches_peer)
{
	t_close_case(1000, "bye", 1000);
}

Test(wslay_interop, close_4000_reaches_peer)
{
	t_close_case(4000, "", 4000);
}

Test(wslay_interop, close_without_code_is_1000_to_peer)
{
	/* wslay sends an empty Close for code 0; the peer gets 1000. */
	t_close_case(0, NULL, 1000);
}

Test(wslay_interop, dropped_connection_is_1001_to_peer)
{
	struct t_pair s;
	struct relay_opts o = {0};
	struct t_wslay_msg m;
	t_pair_open(&s, &o, "drop", T_MAX_MSG);
	shutdown(t_wslay_fd(s.a), SHUT_RDWR);
	cr_assert_eq(t_wslay_recv_data(s.b, NULL, &m, T_WAIT_MS), 0);
	cr_assert_eq(m.opcode, T_WSLAY_CLOSE);
	cr_assert_eq(m.close_code, 1001, "peer got %u", m.close_code);
	t_wslay_msg_cleanup(&m);
	t_pair_close(&s);
}

Test(wslay_interop, wslay_limit_1009_reaches_sender)
{
	struct t_relay r;
	struct relay_opts o = {0};
	struct t_wslay_msg m = {0};
	int err;
	uint8_t *msg = t_pattern(2048, 5);
	t_relay_start(&r, &o);
	struct t_wslay_peer *a = t_connect(&r, "limit", T_MAX_MSG);
	/* b accepts 1 KiB: wslay closes with 1009 on a bigger message, and the
	 * relay hands that code to a. */
	struct t_wslay_peer *b = t_connect(&r, "limit", 1024);
	t_expect_paired(a, "limit");
	t_expect_paired(b, "limit");
	cr_assert_eq(t_wslay_queue(a, T_WSLAY_BINARY, msg, 1024), 0);
	t_expect_msg(b, a, T_WSLAY_BINARY, msg, 1024, 1);
	cr_assert_eq(t_wslay_queue(a, T_WSLAY_BINARY, msg, 2048), 0);
	cr_assert_eq(t_wslay_flush(a, T_WAIT_MS), 0);
	/* b's wslay refuses the frame by its header, sends Close 1009 and
	 * stops reading; the relay echoes and ends the connection. */
	cr_assert_eq(t_wslay_wait_eof(b, T_WAIT_MS), 0);
	cr_assert(t_wslay_close_sent(b));
	err = t_wslay_recv(b, NULL, &m, T_WAIT_MS);
	cr_assert_eq(err, -ECONNRESET, "b delivered opcode %u, %zu bytes, over its limit", m.opcode, m.len);
	cr_assert_eq(t_wslay_recv_data(a, NULL, &m, T_WAIT_MS), 0);
	cr_assert_eq(m.opcode, T_WSLAY_CLOSE);
	cr_assert_eq(m.close_code, 1009, "sender got %u", m.close_code);
	t_wslay_msg_cleanup(&m);
	t_wslay_free(a);
	t_wslay_free(b);
	t_relay_stop(&r);
	free(msg);
}
