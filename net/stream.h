#ifndef NET_STREAM_H
#define NET_STREAM_H
/* net/stream.h: a byte stream over a core_sock, in plaintext or TLS.
 *
 * Plaintext streams hand out the receive leases themselves and send from
 * the caller's memory: zero copies. TLS streams (BoringSSL, TLS 1.2 and 1.3,
 * over memory BIOs so every byte still moves through io_uring) decrypt into
 * a per-stream 16 KiB buffer and encrypt into a per-stream send buffer:
 * the two copies TLS needs anyway. Both come with the first receive and
 * send and go with net_stream_trim, as do the memory BIOs themselves when
 * they are empty (made again by the next byte in or out; plaintext buffers
 * come from a mapped pool whose freed pages go back to the kernel); after
 * the handshake BoringSSL's copy of the configuration is shed.
 * An idle, trimmed TLS stream then costs about 2.6 KiB of heap beyond a
 * plaintext one: BoringSSL's state (docs/PERFORMANCE.md).
 *
 * Writes are serialised by the stream's own coroutine mutex, so two
 * coroutines (a session's reader answering a ping, its peer forwarding) may
 * write to one stream; one coroutine at a time may read. Objects belong to
 * the reactor that created them. Functions marked "suspends" must run in a
 * coroutine of that reactor; timeout_ms < 0 means none. Errors are -errno;
 * TLS failures are -EPROTO (net_stream_tls_error says more). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/buf.h"
#include "core/sock.h"

struct net_stream;
struct net_tls_ctx;

/* A received chunk: data[0..len) is the caller's until net_stream_release
 * (or, for TLS, until the next receive on the stream). */
struct net_chunk {
	uint8_t *data;
	size_t len;
	struct core_buf lease;   /* plaintext streams: the receive buffer */
};

/* net_tls_server_ctx_new loads a PEM certificate chain and key. NULL and a
 * message in errbuf when they do not load or do not match. Thread-safe to
 * share; reference counted (net_tls_ctx_free drops one reference). */
struct net_tls_ctx *net_tls_server_ctx_new(const char *cert_file, const char *key_file, char *errbuf,
					   size_t errbuf_len);

/* net_tls_client_ctx_new verifies servers against ca_file (PEM), or the
 * system store (/etc/ssl/certs) when ca_file is NULL. */
struct net_tls_ctx *net_tls_client_ctx_new(const char *ca_file, char *errbuf, size_t errbuf_len);

/* net_tls_ctx_ref adds a reference; net_tls_ctx_free drops one. */
struct net_tls_ctx *net_tls_ctx_ref(struct net_tls_ctx *ctx);
void net_tls_ctx_free(struct net_tls_ctx *ctx);

/* net_stream_new wraps s (takes ownership). tls NULL: plaintext. For TLS,
 * server says which side we are and hostname (client only) is verified
 * against the certificate and sent as SNI. NULL + *err (-ENOMEM) on failure;
 * s is then closed. */
struct net_stream *net_stream_new(struct core_sock *s, struct net_tls_ctx *tls, bool server, const char *hostname,
				  int *err);

/* net_stream_handshake runs the TLS handshake (no-op for plaintext). 0 or
 * -errno (-EPROTO: see net_stream_tls_error). Suspends. */
int net_stream_handshake(struct net_stream *st, int timeout_ms);

/* net_stream_feed gives bytes back to the stream: the next
 * net_stream_recv returns them, as they are, before anything new (in front
 * of any fed earlier). On TLS streams too: they are plaintext (the bytes
 * after an HTTP head, say). 0 or -ENOMEM. */
int net_stream_feed(struct net_stream *st, const uint8_t *data, size_t len);

/* net_stream_feed_wire gives the stream bytes that were read off its socket
 * before the stream read any (what followed a PROXY protocol header): the
 * peer's next bytes on the wire. A TLS stream's engine reads them before the
 * socket (the handshake included); a plaintext stream returns them first.
 * Successive calls keep wire order (each after the last). 0 or -ENOMEM.
 * Does not suspend. */
int net_stream_feed_wire(struct net_stream *st, const uint8_t *data, size_t len);

/* net_stream_recv returns the next chunk: its length (> 0), 0 at the end of
 * the stream (TLS: close_notify or EOF), or -errno. Suspends. */
int net_stream_recv(struct net_stream *st, struct net_chunk *out, int timeout_ms);

/* net_stream_wait_readable waits, without receiving, until net_stream_recv
 * has something to act on: bytes fed back or held by the TLS engine, or the
 * socket's next bytes, end or error (on TLS streams a part of a record is
 * enough: net_stream_recv then waits for the rest). 0, -ETIMEDOUT or
 * -ECANCELED (net_stream_interrupt), -EPIPE while detached. Holds no buffer and few frames: where
 * an idle reader waits hibernating (core_task_hibernate_next_wait), its
 * stack copy is smaller than net_stream_recv's. Suspends. */
int net_stream_wait_readable(struct net_stream *st, int timeout_ms);

/* net_stream_release gives a chunk back. */
void net_stream_release(struct net_stream *st, struct net_chunk *c);

/* net_stream_sendv writes all bytes of iov[0..n) (iov may be modified);
 * timeout_ms bounds the whole call. Returns 0 or -errno. Suspends. */
int net_stream_sendv(struct net_stream *st, struct iovec *iov, int n, int timeout_ms);
int net_stream_send(struct net_stream *st, const void *data, size_t len, int timeout_ms);

/* net_stream_lock_write / unlock: hold the write side across several sends
 * (net_stream_sendv_locked). lock returns 0 or -ETIMEDOUT/-ECANCELED.
 * Suspends. */
int net_stream_lock_write(struct net_stream *st, int timeout_ms);
void net_stream_unlock_write(struct net_stream *st);
int net_stream_sendv_locked(struct net_stream *st, struct iovec *iov, int n, int timeout_ms);

/* net_stream_sendv_try_locked writes iov[0..n) as far as st can take it
 * within wait_ms (0: without waiting), and sets *consumed to how many of
 * the caller's bytes it is done with (their memory is free again).
 * Plaintext: what the socket took; the caller keeps the rest and sends it
 * later. TLS: all of them, encrypted into the stream's own buffer, of which
 * what the socket did not take waits for net_stream_flush_locked (or the
 * next send). Returns 0 when nothing is left to send, 1 when something is,
 * or -errno. For a forwarder that must not wait long while it holds
 * receive buffers. Caller holds the write lock. Suspends. */
int net_stream_sendv_try_locked(struct net_stream *st, const struct iovec *iov, int n, int wait_ms, size_t *consumed);

/* net_stream_flush_locked sends what st still holds of earlier writes (TLS
 * ciphertext a try left). 0 or -errno. Caller holds the write lock.
 * Suspends. */
int net_stream_flush_locked(struct net_stream *st, int timeout_ms);

/* net_stream_detach prepares st to move to another reactor: it stops
 * receiving, keeps every byte already received (plaintext, or ciphertext
 * inside the TLS state) and lets go of the reactor's socket object, keeping
 * the fd. Nothing may use st until net_stream_attach on the new reactor.
 * Returns 0 or -errno (st is then closed). Suspends. */
int net_stream_detach(struct net_stream *st);

/* net_stream_attach binds a detached st to the calling reactor. 0 or
 * -ENOMEM (st is then closed... by the caller with net_stream_close). */
int net_stream_attach(struct net_stream *st);

/* net_stream_recv_pause stops receiving until the next net_stream_recv,
 * keeping what was already received (core_sock_recv_pause: the stream then
 * holds no ring buffer; about 64 KiB of heap). 0 or -errno; after an
 * error bytes may be lost: close the stream. Suspends. */
int net_stream_recv_pause(struct net_stream *st);

/* net_stream_trim frees what a TLS stream holds only to move bytes: its
 * plaintext buffer (16 KiB) and ciphertext send buffer (up to 16.5 KiB),
 * allocated again by the next receive or send that needs them, and the spare capacity of its
 * memory BIOs, or the BIOs themselves when both are empty and no writer
 * holds the write lock; ciphertext still to be sent, and a send buffer a
 * writer is using, stay. For a connection about to wait idle: the next receive waits
 * for bytes before it allocates. Invalidates the chunk of the last receive
 * (release it first). No-op on plaintext streams. Does not suspend. */
void net_stream_trim(struct net_stream *st);

/* net_stream_tls_held_bytes returns the bytes of the buffers
 * net_stream_trim frees that st holds now (their capacity); 0 for
 * plaintext. For tests and figures. */
size_t net_stream_tls_held_bytes(const struct net_stream *st);

/* net_stream_kept_bytes returns how many received bytes st holds in its
 * own memory, not yet read (after net_stream_feed or _recv_pause). */
size_t net_stream_kept_bytes(const struct net_stream *st);

/* net_stream_wait_hangup waits, without receiving, for the peer to close or
 * reset (-EPIPE), timeout_ms (-ETIMEDOUT) or net_stream_interrupt
 * (-ECANCELED). Suspends. */
int net_stream_wait_hangup(struct net_stream *st, int timeout_ms);

bool net_stream_is_tls(const struct net_stream *st);

/* net_stream_recv_queued returns whether net_stream_recv would return data
 * (> 0) at once, without suspending: a received buffer or fed-back bytes
 * are waiting. Always false on TLS streams (not worth the engine's state). */
bool net_stream_recv_queued(const struct net_stream *st);
struct core_sock *net_stream_sock(struct net_stream *st);

/* net_stream_tls_error describes the last TLS failure on st ("" if none). */
const char *net_stream_tls_error(const struct net_stream *st);

/* net_stream_interrupt wakes a reader waiting in net_stream_recv or
 * net_stream_wait_hangup (-ECANCELED). net_stream_shutdown sends FIN (TLS: close_notify first,
 * best effort); close frees (NULL: no-op). */
void net_stream_interrupt(struct net_stream *st);
void net_stream_shutdown(struct net_stream *st);
void net_stream_close(struct net_stream *st);

#endif
