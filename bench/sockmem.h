#ifndef BENCH_SOCKMEM_H
#define BENCH_SOCKMEM_H
/* bench/sockmem.h: TCP socket memory, the machine's and one process's
 * (issue 13: socket memory stays bounded under fast and stalled readers).
 *
 * The machine's: /proc/net/sockstat's "TCP: ... mem N", in pages, the
 * counter the kernel compares with net.ipv4.tcp_mem (its second value is
 * the pressure mark, past which every TCP socket is pruned). It counts
 * every process, the load generator's sockets and anyone else's included.
 *
 * One process's: the sockets among its descriptors, found once by their
 * inodes in /proc/PID/fd (bench_sockset_load), then summed from the
 * kernel's socket diagnostics (NETLINK_SOCK_DIAG, INET_DIAG_SKMEMINFO) on
 * each sample: receive queue + forward allocation + send queue
 * (rmem_alloc + fwd_alloc + wmem_queued), what a socket has charged to
 * that counter. Sockets opened after the load are not counted. A sample
 * dumps every TCP socket of the machine: 15-50 ms of CPU with 1,000 busy
 * relay sessions (about 5,000 sockets) and 45-105 ms with 5,000, measured
 * while they ran, so callers take one, not a series.
 *
 * Functions return 0 or a count on success, -errno on failure. */
#include <stddef.h>
#include <stdint.h>

/* bench_sockstat_parse reads the TCP "mem" field, in pages, from the text
 * of /proc/net/sockstat. Returns 0 and sets *out_pages, or -EINVAL when
 * the text has no "TCP:" line with a "mem" field. */
int bench_sockstat_parse(const char *text, uint64_t *out_pages);

/* bench_sockstat_tcp_bytes returns the machine's TCP socket memory in
 * bytes (pages times the page size) in *out, or -errno. */
int bench_sockstat_tcp_bytes(uint64_t *out);

/* bench_tcp_mem_pressure_bytes returns net.ipv4.tcp_mem's pressure mark in
 * bytes in *out, or -errno. */
int bench_tcp_mem_pressure_bytes(uint64_t *out);

/* One process's socket inodes, sorted. */
struct bench_sockset {
	uint64_t *ino;
	size_t num;
};

/* bench_sockset_load fills set with the socket inodes among pid's open
 * descriptors. Returns their count, or -errno (set is then empty). The
 * caller frees with bench_sockset_cleanup. */
int bench_sockset_load(struct bench_sockset *set, int pid);

void bench_sockset_cleanup(struct bench_sockset *set);

/* bench_sockset_tcp_bytes sums the memory charged by set's TCP sockets
 * (IPv4 and IPv6) into *out. Returns the number of sockets found, or
 * -errno. */
int bench_sockset_tcp_bytes(const struct bench_sockset *set, uint64_t *out);

#endif
