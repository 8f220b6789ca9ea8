#ifndef RELAY_CLIENT_H
#define RELAY_CLIENT_H
/* relay/client.h: a client of the seed's relay protocol, on the reactor.
 *
 * The seed's RelayClient: connect to ws://HOST:PORT or wss://HOST:PORT plus
 * a session id (path /relay/{id}), send bytes, receive bytes, disconnect.
 * Works with any relay that speaks that protocol. Frames are masked with a
 * fresh random key each (RFC 6455 §5.3); pings are answered; the relay's
 * paired notice is recognised and not returned as data. wss:// verifies the
 * server certificate and host name against the system store or a CA file.
 *
 * Objects belong to the reactor that made them; calls that suspend must run
 * in its coroutines. One coroutine may receive while others send. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct relay_client;
struct relay_key;

struct relay_client_opts {
	const char *ca_file;       /* wss:// trust anchors; NULL: system store */
	/* A relay in mesh-token mode: each connect presents a fresh ticket
	 * (relay/ticket.h: this key, the session id, RELAY_TICKET_DEFAULT_TTL,
	 * a random nonce) as ?ticket= in the request. NULL: none, as the
	 * seed's clients. Borrowed for the call. */
	const struct relay_key *ticket_key;
	size_t max_message;        /* largest message accepted; 0: 16 MiB */
	bool deliver_notices;      /* return the relay's paired notice as text */
};

/* A received message: data[0..len) belongs to the client and is valid until
 * the next relay_client_recv or relay_client_try_recv. */
struct relay_msg {
	const uint8_t *data;
	size_t len;
	bool text;
};

/* relay_client_connect connects and upgrades. Returns 0 and *out, or
 * -EINVAL (bad URL or id: errbuf says), -ENOENT (name), -ECONNREFUSED,
 * -ETIMEDOUT, -EPROTO (TLS or handshake failure, errbuf says), -EBUSY (409:
 * the session already has two clients), -EACCES (401 or 403: the relay
 * wants a ticket, or another key, or does not serve this network).
 * Suspends. */
int relay_client_connect(struct relay_client **out, const char *url, const char *session_id,
			 const struct relay_client_opts *opts, int timeout_ms, char *errbuf, size_t errbuf_len);

/* relay_client_send sends one message (binary, or text when text is true:
 * data must then be UTF-8). Returns 0 or -errno. Suspends. */
int relay_client_send(struct relay_client *c, const void *data, size_t len, bool text, int timeout_ms);

/* relay_client_recv waits for the next message. Returns its length (>= 0),
 * -ETIMEDOUT, -ECONNRESET when the relay or peer closed (relay_client_close_code
 * says how), -EMSGSIZE, -EPROTO. Suspends. */
int relay_client_recv(struct relay_client *c, struct relay_msg *out, int timeout_ms);

/* relay_client_try_recv returns the next message if it needs no wait: it
 * is complete in what was received already or, on a ws:// stream, in what
 * the socket has queued (several messages often come in one read). Returns
 * its length as relay_client_recv does, or -EAGAIN when no message is
 * complete yet, or the next frame is a ping or a Close (their answers are
 * sends: relay_client_recv handles them); otherwise relay_client_recv's
 * errors. A message begun in fragments is kept for the next receive. Does
 * not suspend: a reader can take what has arrived as one batch. */
int relay_client_try_recv(struct relay_client *c, struct relay_msg *out);

/* relay_client_paired says whether the relay reported the peer connected. */
bool relay_client_paired(const struct relay_client *c);

/* relay_client_close_code returns the code of the Close frame received
 * (0 if none). */
uint16_t relay_client_close_code(const struct relay_client *c);

/* relay_client_interrupt wakes a coroutine blocked in relay_client_recv. */
void relay_client_interrupt(struct relay_client *c);

/* relay_client_probe checks that the relay at url answers: it connects
 * (TLS for wss://), sends GET /health and expects 200 with "status": "ok".
 * On 0, *out_rtt_us is the TCP connect time and *out_sessions the relay's
 * session count. Otherwise -errno with the reason in errbuf. Suspends. */
int relay_client_probe(const char *url, const char *ca_file, int timeout_ms, uint32_t *out_rtt_us,
		       int64_t *out_sessions, char *errbuf, size_t errbuf_len);

/* relay_client_close sends Close 1000 (best effort, bounded), closes and
 * frees. NULL: no-op. Suspends. */
void relay_client_close(struct relay_client *c);

#endif
