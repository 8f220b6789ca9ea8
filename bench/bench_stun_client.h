#ifndef BENCH_BENCH_STUN_CLIENT_H
#define BENCH_BENCH_STUN_CLIENT_H
/* bench/bench_stun_client.h: `atmosphere-bench stun --client`, what one
 * public-endpoint discovery (stun_discover, stun/client.h) costs (issue 6:
 * "< 1 MB, ~1 KB (seed)").
 *
 * Bytes: the client's socket talks to one counting forwarder per server
 * (loopback), which passes each datagram unchanged to the real server from
 * one shared upstream socket and the answers back, counting UDP payload
 * bytes and datagrams both ways. With one upstream socket every server sees
 * the same source, so they agree on the mapped address as they would
 * without the forwarder.
 *
 * Memory, in this process: VmRSS and the heap in use (mallinfo2) before the
 * runtime, after it started, after the first discovery and after the rest;
 * the client's own storage by sizeof. Of a whole process: the peak RSS
 * (wait4's ru_maxrss) of `atmosphere network --json --stun ...` beside
 * `atmosphere --version`, the same binary doing nothing.
 *
 * Bounded: every discovery has the client's own deadline, the child
 * processes 20 s each. */

/* bench_stun_client_cmd runs the measurement with argv as given to
 * `atmosphere-bench stun` (it contains --client). Returns the exit status:
 * 0 measured, 1 could not run, 2 usage. */
int bench_stun_client_cmd(int argc, char **argv);

#endif
