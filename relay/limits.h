#ifndef RELAY_LIMITS_H
#define RELAY_LIMITS_H
/* relay/limits.h: the relay's internal limits and timings, in one place.
 * The ones an operator sets (with their defaults) are relay_opts and
 * enum relay_defaults in relay/server.h; the HTTP head's size and field
 * count are the codec's (RELAY_HTTP_MAX_HEADER_BYTES, relay/http.h).
 * Shared inside relay/ only. */

/* Forwarding (forward.c). */
enum {
	/* Frames gathered per sendmsg: a 16 KiB buffer of tiny frames is split
	 * into several sends beyond this. */
	RELAY_FWD_MAX_IOV = 64,
	/* Received buffers forwarded together when they are already queued.
	 * Three 16 KiB ring buffers and their frame headers stay under 64 KiB
	 * per sendmsg, the most one TCP (GSO) segment carries; with four, each
	 * send became a 64 KiB segment and a small tail, and one busy session
	 * on loopback got 1,051 MB/s against 3,057 with three (medians of 5
	 * alternating runs, docs/PERFORMANCE.md); 100 sessions were level. */
	RELAY_FWD_BATCH = 3,
	/* How long a forward may wait for the peer's socket while it holds
	 * receive buffers. A reader that is only slower than its writer takes
	 * the bytes within it (no copy); one that stalls longer costs a copy of
	 * what is left and of the writer's queue, and from then on no ring
	 * buffer at all. */
	RELAY_FWD_GRACE_MS = 20,
	/* A hold starts this small and doubles up to --hold. */
	RELAY_HOLD_MIN = 4096,
};

/* Goodbyes (conn.c, pairing.c). */
enum {
	/* How long a Close frame of ours may wait for the socket. */
	RELAY_GOODBYE_MS = 1000,
	/* How long we wait for the client's own Close after ours (RFC 6455
	 * section 7.1.1: the server closes TCP first, once the handshake is
	 * done). */
	RELAY_LINGER_MS = 1000,
};

/* A client waiting for its peer with its hold full (conn.c): not read, and
 * watched for its hang-up. */
enum {
	/* It gets an empty ping this often. One that left while we refused its
	 * data never sends a FIN we can see (its FIN waits behind that data in
	 * its own kernel); the ping makes its kernel answer with a reset, so
	 * it is closed within about this long, not at --idle-timeout. */
	RELAY_PARK_PROBE_MS = 1000,
	/* How long that ping may wait for room in the socket; a 2-byte frame
	 * that cannot go within it ends the connection. */
	RELAY_PARK_PROBE_SEND_MS = 200,
};

/* Handshakes (upgrade.c). */
enum {
	/* A handshake still waiting for its head after this long waits with no
	 * stack (a client sends its request right after connecting; one that
	 * has not is slow, or slowloris). */
	RELAY_HS_HIBERNATE_MS = 50,
	/* A head's buffer starts this small and grows with what arrives. */
	RELAY_HS_HEAD_MIN = 64,
};

/* Admission (admit.c, server.c). */
enum {
	/* Buckets of the per-address connection counts. */
	RELAY_IP_BUCKETS = 4096,
	/* Connections per session, and beyond them for handshakes and status
	 * requests: the connection cap is max_sessions * 2 + 1024, or the
	 * descriptor budget when that is lower. */
	RELAY_CONNS_PER_SESSION = 2,
	RELAY_CONNS_SPARE = 1024,
	/* Descriptors kept out of the connections' budget (RLIMIT_NOFILE):
	 * listeners, STUN sockets, a reload's certificate files, and this many
	 * more per reactor (its io_uring, eventfd, signalfd...). */
	RELAY_FD_RESERVE = 64,
	RELAY_FD_RESERVE_PER_THREAD = 16,
	/* Pending connections per listener (listen(2)'s backlog). */
	RELAY_LISTEN_BACKLOG = 4096,
};

/* Quotas (quota.c). */
enum {
	/* A throttle wait this long or longer pauses the receive (its queued
	 * bytes leave the ring for the heap); a shorter one only sleeps,
	 * keeping at most a queue (64 KiB) of ring buffers meanwhile. */
	RELAY_QUOTA_PAUSE_MS = 5,
	/* A paused receive may have taken the socket's whole buffer (MiBs)
	 * before its pause landed: under a limit that chunk is forwarded and
	 * charged this much at a time. */
	RELAY_QUOTA_SLICE = 64 * 1024,
};

/* Behind load balancers (realip.c, upgrade.c). */
enum {
	/* X-Forwarded-For elements walked right to left past trusted
	 * proxies (a chain of balancers) before the client's. */
	RELAY_XFF_MAX_HOPS = 8,
};

/* The heap trimmer (server.c): every TRIM_EVERY_MS, when the connections
 * are down to half of the most seen since the last trim, and that was at
 * least TRIM_MIN_PEAK. It looks every TRIM_TICK_MS: a tick with no new
 * connection, handshake or relayed byte since the last is quiet, and each
 * quiet tick gives back the receive rings' free pages, the first
 * TRIM_QUIET_HEAP of a quiet spell the heap's free pages too. */
enum {
	RELAY_TRIM_EVERY_MS = 5000,
	RELAY_TRIM_MIN_PEAK = 256,
	RELAY_TRIM_TICK_MS = 1000,
	RELAY_TRIM_QUIET_HEAP = 3,
};

#endif
