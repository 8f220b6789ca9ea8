#ifndef BENCH_STUN_PROBE_H
#define BENCH_STUN_PROBE_H
/* bench/stun_probe.h: the STUN messages of `atmosphere-bench stun`, built
 * and checked by hand (RFC 8489 §5-6) so the generator costs as little as a
 * STUN client can: a request is the 20-byte header alone, an answer is
 * recognised by its header and transaction id, and nothing else is parsed.
 *
 *   Binding request: type 0x0001, length 0, magic cookie 0x2112A442, and a
 *   96-bit transaction id = tag (4 bytes, per run) | send time (8 bytes,
 *   CLOCK_MONOTONIC ns, big-endian): the answer carries the id back, so the
 *   latency needs no table of outstanding requests.
 *
 * The reflector builds the cheapest complete answer, a Binding success with
 * XOR-MAPPED-ADDRESS (§14.2): the load generator's ceiling is measured
 * against it.
 *
 * The garbage flood (`--garbage-rate`) mixes six kinds of datagram a STUN
 * server must survive, each built to fail (or be answered) for one stated
 * reason, the first check of RFC 8489 §6.3 it trips (tests/bench/
 * test_stun_probe.c decodes each with stun/msg.h). Pure: no I/O, no
 * allocation. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define BENCH_STUN_HEADER_LEN 20
#define BENCH_STUN_MAGIC 0x2112A442u
#define BENCH_STUN_BINDING_REQUEST 0x0001u
#define BENCH_STUN_BINDING_SUCCESS 0x0101u
/* Largest answer the reflector writes: header + XOR-MAPPED-ADDRESS (IPv6). */
#define BENCH_STUN_REFLECT_MAX (BENCH_STUN_HEADER_LEN + 4 + 20)

/* bench_stun_request writes a Binding request with transaction id tag | t_ns. */
void bench_stun_request(uint8_t out[static BENCH_STUN_HEADER_LEN], uint32_t tag, uint64_t t_ns);

/* bench_stun_answer_check says whether buf[0..len) is a Binding success
 * (or error: *out_error set) whose header is well-formed (magic, a length
 * that matches the datagram and is a multiple of 4) and whose transaction id
 * carries tag; then *out_t_ns is the time it was stamped with. */
bool bench_stun_answer_check(const uint8_t *buf, size_t len, uint32_t tag, uint64_t *out_t_ns, bool *out_error);

/* bench_stun_reflect answers the Binding request req[0..req_len) from
 * `from` (AF_INET or AF_INET6) with a success carrying XOR-MAPPED-ADDRESS,
 * into out[0..out_cap). Returns the answer's length, or 0 for anything that
 * is not a Binding request with the magic cookie (then: no answer). */
size_t bench_stun_reflect(const uint8_t *req, size_t req_len, const struct sockaddr *from, uint8_t *out,
			  size_t out_cap);

/* enum bench_stun_garbage: the flood's kinds, and what our server does
 * with each (stun/server.h, enum stun_drop). */
enum bench_stun_garbage {
	BENCH_STUN_GARBAGE_RANDOM,       /* 1..548 random bytes: not STUN (dropped as not_stun, bad_magic,
					  * or truncated under 20 bytes) */
	BENCH_STUN_GARBAGE_SHORT,        /* a bare 20-byte Binding header announcing 8 bytes of attributes
					  * that are not there: truncated */
	BENCH_STUN_GARBAGE_BAD_MAGIC,    /* a Binding request whose cookie is wrong: bad_magic */
	BENCH_STUN_GARBAGE_BAD_LENGTH,   /* the length field says 4, 8 attribute bytes follow: bad_length */
	BENCH_STUN_GARBAGE_UNKNOWN_ATTR, /* a well-formed Binding request with an unknown comprehension-
					  * required attribute (0x7ff0): answered with a 420 error */
	BENCH_STUN_GARBAGE_OVERSIZE,     /* a well-formed Binding request padded to BENCH_STUN_GARBAGE_MAX
					  * bytes with a comprehension-optional attribute: over a 2 KiB
					  * receive buffer (oversize) */
	BENCH_STUN_GARBAGE_KINDS
};
/* Largest garbage datagram (the OVERSIZE kind); above the 2 KiB datagram
 * buffers of core/udp.h, below loopback's MTU so it is one IP packet. */
#define BENCH_STUN_GARBAGE_MAX 4000
/* Longest datagram of the RANDOM kind: a typical minimum-MTU UDP payload. */
#define BENCH_STUN_GARBAGE_RANDOM_MAX 548
/* Unknown comprehension-required and -optional attribute types used. */
#define BENCH_STUN_GARBAGE_ATTR_REQUIRED 0x7ff0u
#define BENCH_STUN_GARBAGE_ATTR_OPTIONAL 0xfff0u

/* bench_stun_garbage writes one datagram of the given kind into
 * out[0..cap), drawing random bytes from the xorshift64 state *rng (nonzero;
 * advanced). Returns its length, or 0 when cap is too small or kind unknown.
 * Transaction ids are random, so no answer can pass for the run's. */
size_t bench_stun_garbage(uint8_t *out, size_t cap, enum bench_stun_garbage kind, uint64_t *rng);

/* bench_stun_garbage_name returns a short snake_case name for kind ("random",
 * "short", ...), "unknown" outside the enum. Never NULL. */
const char *bench_stun_garbage_name(int kind);

#endif
