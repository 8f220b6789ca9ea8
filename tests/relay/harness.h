#ifndef TESTS_RELAY_HARNESS_H
#define TESTS_RELAY_HARNESS_H
/* tests/relay/harness.h: helpers shared by the relay's Criterion suites
 * (compiled into every tests/relay/test_*.c executable). */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/server.h"

/* struct t_relay is a relay running on a background thread. */
struct t_relay {
	struct relay_server *srv;
	pthread_t thread;
	int ret;
	uint16_t port;
};

/* t_relay_start starts a relay on 127.0.0.1, port 0, with o (threads 0
 * becomes 2, the machine's core count, so hand-offs happen; session logs and
 * signal handling off). Skips the test when io_uring is unavailable, fails
 * it when the relay cannot start. */
void t_relay_start(struct t_relay *r, struct relay_opts *o);

/* t_relay_stop stops the relay, joins its thread, expects relay_server_run
 * to have returned 0 and frees it. */
void t_relay_stop(struct t_relay *r);

/* t_pattern returns len malloc'd pseudo-random bytes (never NULL), the same
 * for the same seed. */
uint8_t *t_pattern(size_t len, unsigned seed);

/* t_utf8_text returns len malloc'd bytes of valid UTF-8 with 1- to 4-byte
 * characters (never NULL), the same for the same seed. */
uint8_t *t_utf8_text(size_t len, unsigned seed);

/* t_first_diff returns the index of the first byte where a and b differ,
 * len when they are equal. */
size_t t_first_diff(const uint8_t *a, const uint8_t *b, size_t len);

/* t_write_all writes everything to a blocking socket; 0 or -errno
 * (EPIPE/ECONNRESET when refused). */
int t_write_all(int fd, const void *buf, size_t len);

/* t_ms_left returns the milliseconds to a t_now_ns() deadline, rounded up,
 * 0 once it passed. */
int t_ms_left(uint64_t deadline);

#endif
