/* tests/relay/harness.c: see harness.h. */
#include "harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "helpers.h"

static void *t_relay_main(void *arg)
{
	struct t_relay *r = arg;
	r->ret = relay_server_run(r->srv);
	return NULL;
}

void t_relay_start(struct t_relay *r, struct relay_opts *o)
{
	char eb[512] = "";
	int err = 0;
	o->host = "127.0.0.1";
	o->port = 0;
	if (!o->threads)
		o->threads = 2;
	o->log_sessions = false;
	o->handle_signals = false;
	memset(r, 0, sizeof *r);
	r->srv = relay_server_new(o, &err, eb, sizeof eb);
	if (!r->srv && (err == -ENOSYS || err == -EPERM))
		cr_skip_test("io_uring unavailable: %s", eb);
	cr_assert_not_null(r->srv, "relay_server_new: %s (%d)", eb, err);
	r->port = relay_server_port(r->srv);
	cr_assert_neq(r->port, 0);
	cr_assert_eq(pthread_create(&r->thread, NULL, t_relay_main, r), 0);
}

void t_relay_stop(struct t_relay *r)
{
	relay_server_stop(r->srv);
	pthread_join(r->thread, NULL);
	cr_expect_eq(r->ret, 0, "relay_server_run returned %d", r->ret);
	relay_server_free(r->srv);
	r->srv = NULL;
}

uint8_t *t_pattern(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len ? len : 1);
	uint32_t x = 2463534242u ^ (seed * 2654435761u);
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	return p;
}

/* Valid UTF-8 of exactly len bytes, with 1- to 4-byte characters. */
uint8_t *t_utf8_text(size_t len, unsigned seed)
{
	static const char *chars[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "Z", " ", "\xd0\xaf",
				      "\xe2\x9c\x93", "\xf4\x8f\xbf\xbf", "\x7f"};
	uint8_t *p = malloc(len ? len : 1);
	size_t i = 0;
	unsigned k = seed;
	while (i < len) {
		const char *c = chars[k++ % 10];
		size_t cl = strlen(c);
		if (cl > len - i)
			c = "q", cl = 1;
		memcpy(p + i, c, cl);
		i += cl;
	}
	return p;
}

size_t t_first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return i;
	return len;
}

/* Writes everything; -errno on failure (EPIPE/ECONNRESET when refused). */
int t_write_all(int fd, const void *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, (const uint8_t *)buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

int t_ms_left(uint64_t deadline)
{
	uint64_t now = t_now_ns();
	return now >= deadline ? 0 : (int)((deadline - now) / 1000000u) + 1;
}
