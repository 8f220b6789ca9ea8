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
 * against it. Pure: no I/O, no allocation. */
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

#endif
