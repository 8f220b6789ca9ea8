#ifndef BENCH_WS_LOAD_H
#define BENCH_WS_LOAD_H
/* bench/ws_load.h: the load generator's WebSocket connection.
 *
 * Lean on purpose, so the generator is not what limits a relay: the HTTP
 * upgrade is written raw (relay/http.h's builders and parsers), frames are
 * built once and sent many times (a batch of identical masked frames for
 * throughput; a prebuilt frame whose 16-byte stamp is rewritten for each
 * latency message), and received bytes are only scanned (bench/ws_scan.h),
 * never copied. Masking follows RFC 6455 §5.3 with one random key per frame
 * buffer rather than per frame: a relay cannot tell, and must unmask all the
 * same.
 *
 * Every byte that crosses the socket is counted, in both directions, with
 * the HTTP heads apart, so wire overhead can be set against payload.
 *
 * wss:// (bench_tls): BoringSSL over memory BIOs, so every byte still moves
 * through io_uring, as net/stream.h does; not net_stream itself, because the
 * generator must count the TLS bytes on the socket apart from the WebSocket
 * bytes inside them, and because it sends a whole batch of records with one
 * send where net_stream sends each 16 KiB record on its own. On wss the
 * wire counters (tx_wire, bench_wconn_rx_wire) are the TLS bytes on the
 * socket: the TLS handshake (also in tls_hs_tx/rx) and every record, with
 * its 5-byte header, 16-byte tag and content-type byte (TLS 1.3). The
 * costs: received ciphertext is copied into the engine and decrypted into a
 * per-thread 16 KiB buffer, scanned before anything else runs on the
 * thread; ciphertext to send is copied out of the engine into a
 * per-connection buffer. A new full handshake per connection (no session
 * resumption), no close_notify at the end. The plain ws:// path is
 * unchanged: leases scanned where they lie, frames sent from the caller's
 * memory.
 *
 * The stamp: the first 16 payload bytes of a latency message are
 *   magic "ATBL" (4) | session index, little-endian (4) | scheduled send time,
 *   CLOCK_MONOTONIC ns, little-endian (8)
 * Both ends run in one process, so the clock is shared.
 *
 * Objects belong to the reactor thread that made them; functions marked
 * "suspends" run in its coroutines. One coroutine may receive while another
 * sends. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bench/ws_scan.h"
#include "core/sock.h"

#define BENCH_STAMP_LEN 16
#define BENCH_STAMP_MAGIC 0x4c425441u /* "ATBL" read little-endian */

/* Longest HTTP head the generator reads (a relay's answer, a proxied
 * request); more is a protocol error. */
#define BENCH_WCONN_HEAD_MAX 4096

struct bench_tls;
struct bench_wtls;

/* TLS versions bench_tls_new accepts. */
enum bench_tls_version {
	BENCH_TLS_1_2 = 12,
	BENCH_TLS_1_3 = 13,
};

/* bench_tls_new makes the client side of wss:// for every connection of a
 * run: TLS exactly version (min = max), servers verified against ca_file
 * (PEM; NULL: the system store) unless insecure. Returns NULL with the
 * reason in errbuf (a CA file that does not load). Shared by all threads;
 * bench_tls_free(NULL) does nothing. Does not suspend. */
struct bench_tls *bench_tls_new(const char *ca_file, bool insecure, enum bench_tls_version version, char *errbuf,
				size_t errbuf_len);
void bench_tls_free(struct bench_tls *t);

/* bench_tls_last_error returns the reason of the last TLS handshake failure
 * on this thread ("" if none): the certificate check, a version mismatch.
 * Valid until the next failure on the thread. */
const char *bench_tls_last_error(void);

/* struct bench_wconn: one connection. Caller storage: zero it, then dial or
 * accept. Counters are cumulative and read by the caller. */
struct bench_wconn {
	struct core_sock *sock;
	struct bench_wtls *tls;      /* NULL: ws:// */
	struct bench_ws_scan scan;   /* the received stream, after the HTTP head */
	uint64_t tx_wire;            /* every byte sent on the socket: HTTP head included; wss: TLS bytes */
	uint64_t rx_tls;             /* wss: every byte received on the socket */
	uint64_t tx_payload;         /* data message payload bytes sent */
	uint64_t tx_msgs;
	uint32_t hs_tx, hs_rx;       /* HTTP head bytes sent and received (inside TLS on wss) */
	uint32_t tls_hs_tx, tls_hs_rx; /* wss: TLS handshake bytes on the socket */
	int http_status;             /* the answer to our upgrade (dial), 0: none */
	bool wss;                    /* dialed over TLS (stays set after close) */
	bool close_sent;
	bool tls_failed;             /* dial: the TLS handshake failed (-EPROTO) */
};

/* bench_wconn_rx_wire returns every byte received on the socket: on ws://
 * the HTTP head and the scanned stream, on wss:// the TLS bytes. */
static inline uint64_t bench_wconn_rx_wire(const struct bench_wconn *c)
{
	return c->wss ? c->rx_tls : c->hs_rx + c->scan.n.wire;
}

/* struct bench_dial: where and how bench_wconn_dial connects. Borrowed for
 * the call. */
struct bench_dial {
	const struct sockaddr *addr;
	socklen_t addr_len;
	const struct sockaddr *src;  /* source address (port 0), NULL: the kernel's choice */
	socklen_t src_len;
	struct bench_tls *tls;       /* NULL: ws:// */
	const char *host;            /* wss: the name checked against the certificate, and
					sent as SNI unless it is an IP literal */
	const char *host_hdr;        /* the Host header */
	uint32_t sndbuf;             /* SO_SNDBUF once connected; 0: autotuning */
};

/* bench_wconn_dial connects to d->addr (from d->src, core_tcp_connect_from),
 * runs the TLS handshake on wss, sends the upgrade for path and reads the
 * answer. Bytes after a 101 head go to the scanner (client role), calling
 * fn. Returns 0; or -ECONNREFUSED, -ETIMEDOUT (connect, handshake or answer),
 * -ECONNRESET (closed before answering), -ECONNABORTED (an answer other than
 * 101: c->http_status holds it), -EPROTO (a failed TLS handshake, with
 * c->tls_failed set and the reason in bench_tls_last_error; an answer that
 * is not HTTP, a bad Sec-WebSocket-Accept, a head over BENCH_WCONN_HEAD_MAX),
 * -EADDRNOTAVAIL (d->src is not local), or another -errno. On failure the
 * socket is closed. Suspends. */
int bench_wconn_dial(struct bench_wconn *c, const struct bench_dial *d, const char *path, int timeout_ms,
		     bench_ws_event_fn fn, void *arg);

/* bench_wconn_accept is the server side of a baseline (ws:// only): it
 * takes ownership of the accepted fd, reads an upgrade request for /relay/{id}, copies the id to
 * id_out (NUL-terminated, at most 128 characters) and answers 101. Bytes
 * after the request go to the scanner (server role: masked frames). Returns
 * 0; -EPROTO for a request it does not accept (answered with the relay's
 * error status), or -errno; on failure the fd is closed. Suspends. */
int bench_wconn_accept(struct bench_wconn *c, int fd, char id_out[static 129], int timeout_ms, bench_ws_event_fn fn,
		       void *arg);

/* bench_wconn_detach hands an accepted ws:// connection to another reactor
 * (the sink, --direction ba/both): it stops receiving on c, frees its
 * socket (c->sock becomes NULL; the counters stay) and returns the fd,
 * still open, with the bytes already received but not scanned in a
 * malloc'd *rest (*rest_len bytes; NULL when none; the caller frees it).
 * Returns the fd, or -ENOMEM (the fd is then closed). Not for wss://
 * (-EINVAL, nothing changed). Suspends. */
int bench_wconn_detach(struct bench_wconn *c, uint8_t **rest, size_t *rest_len);

/* bench_wconn_adopt takes a detached connection on the reactor that will
 * use it: wraps fd (owned from here on, closed on failure) and scans
 * rest[0..rest_len) (borrowed), calling fn for each event. Returns 0,
 * -EPROTO when those bytes broke the framing rules, or -errno; on failure
 * the fd is closed and c holds no socket. Does not suspend. */
int bench_wconn_adopt(struct bench_wconn *c, int fd, const uint8_t *rest, size_t rest_len, bench_ws_event_fn fn,
		      void *arg);

/* bench_wconn_send sends buf[0..len), num_msgs data messages holding
 * payload_len payload bytes in all (for the counters). Returns 0 or -errno
 * (wss: -EPROTO when encryption fails). buf is free again on return. One
 * sender at a time per connection (the caller serialises). Suspends. */
int bench_wconn_send(struct bench_wconn *c, const void *buf, size_t len, uint64_t payload_len, uint32_t num_msgs,
		     int timeout_ms);

/* bench_wconn_send_control sends one control frame (ping, pong or close)
 * with payload[0..len) (len <= 125), masked when masked. A close marks
 * close_sent. Returns 0 or -errno. Suspends. */
int bench_wconn_send_control(struct bench_wconn *c, uint8_t opcode, const uint8_t *payload, size_t len, bool masked,
			     int timeout_ms);

/* bench_wconn_recv receives one buffer and scans it, calling fn for each
 * event. Returns the bytes received (> 0), 0 at end of stream, -EPROTO when
 * the stream broke the framing rules, or -errno (-ETIMEDOUT...). Suspends. */
int bench_wconn_recv(struct bench_wconn *c, int timeout_ms, bench_ws_event_fn fn, void *arg);

/* bench_wconn_close closes the socket and frees the TLS state (no Close
 * frame: see bench_wconn_send_control; no close_notify). Must not run while
 * another coroutine is inside a call on c. Counters stay readable. Does not
 * suspend. */
void bench_wconn_close(struct bench_wconn *c);

/* bench_rand_u64 returns 64 random bits from a per-thread xorshift seeded
 * from getrandom: for nonces and mask keys, not for secrets. */
uint64_t bench_rand_u64(void);

/* bench_frames_build writes num_frames identical binary frames of
 * payload_len filler bytes, masked with mask (NULL: unmasked, as a server
 * sends), into out[0..out_cap). Returns the bytes written, 0 when they do not
 * fit. Pure. */
size_t bench_frames_build(uint8_t *out, size_t out_cap, size_t payload_len, uint32_t num_frames,
			  const uint8_t *mask);

/* bench_frame_header_len returns the header bytes of a frame of payload_len
 * bytes, masked or not: 2, 4 or 10, plus 4 for the mask key. Pure. */
size_t bench_frame_header_len(uint64_t payload_len, bool masked);

/* bench_stamp_put writes a stamp into the first BENCH_STAMP_LEN payload
 * bytes of a frame masked with mask (NULL: unmasked). Pure. */
void bench_stamp_put(uint8_t *payload, const uint8_t *mask, uint32_t session, uint64_t sched_ns);

/* bench_stamp_get reads an unmasked stamp from a message's first bytes.
 * Returns false when head is shorter than a stamp or lacks the magic. Pure. */
bool bench_stamp_get(const uint8_t *head, size_t head_len, uint32_t *out_session, uint64_t *out_sched_ns);

#endif
