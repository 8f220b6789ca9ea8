#ifndef TESTS_RELAY_WSLAY_PEER_H
#define TESTS_RELAY_WSLAY_PEER_H
/* tests/relay/wslay_peer.h: a WebSocket client or server built on wslay's
 * event API (Debian's libwslay 1.1.1), used only by tests as a second,
 * independent RFC 6455 implementation to hold our relay and our client
 * against. It shares no code with relay/: the upgrade, the
 * Sec-WebSocket-Accept computation and the framing are its own (the framing
 * is wslay's).
 *
 * A peer is one non-blocking TCP socket driven by poll(). wslay reads
 * through recv_callback and writes through send_callback (1.1.1 has no
 * wslay_event_write). Every message wslay delivers (text, binary, ping,
 * pong, close) is copied into a queue that t_wslay_recv pops from; wslay
 * answers pings and Close frames by itself, as its documentation says.
 *
 * Nothing here sleeps: every wait is a poll() with a deadline. Functions
 * return 0 or -errno (-ETIMEDOUT at the deadline, -ECONNRESET when the
 * connection ended before what was waited for). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* wslay's opcodes (RFC 6455 §5.2), repeated so tests need not include
 * wslay.h. */
enum t_wslay_opcode {
	T_WSLAY_CONTINUATION = 0x0,
	T_WSLAY_TEXT = 0x1,
	T_WSLAY_BINARY = 0x2,
	T_WSLAY_CLOSE = 0x8,
	T_WSLAY_PING = 0x9,
	T_WSLAY_PONG = 0xA,
};

/* struct t_wslay_msg is one message as wslay delivered it. data is
 * malloc'd (never NULL) and belongs to the caller: t_wslay_msg_cleanup. */
struct t_wslay_msg {
	uint8_t *data;
	size_t len;
	uint8_t opcode;          /* enum t_wslay_opcode */
	uint16_t close_code;     /* CLOSE only: 0 when the frame had no code */
	unsigned num_frames;     /* frames the message came in (data messages) */
};

void t_wslay_msg_cleanup(struct t_wslay_msg *m);

struct t_wslay_peer;

/* t_wslay_connect connects to 127.0.0.1:port, sends the upgrade request for
 * /relay/{session_id} and checks the 101 answer and its Sec-WebSocket-Accept.
 * max_recv_msg_len is set with wslay_event_config_set_max_recv_msg_length
 * (a bigger message makes wslay close with 1009). Returns the peer, or NULL
 * with the HTTP status line (or the reason) in errbuf. */
struct t_wslay_peer *t_wslay_connect(uint16_t port, const char *session_id, uint64_t max_recv_msg_len,
				     int timeout_ms, char *errbuf, size_t errbuf_len);

/* t_wslay_accept waits for a connection on listen_fd, expects the upgrade
 * request for /relay/{session_id}, answers 101 and returns a peer in wslay's
 * server role (it reads masked frames and sends unmasked ones); NULL with
 * the reason in errbuf. The same calls then drive it as a client. */
struct t_wslay_peer *t_wslay_accept(int listen_fd, const char *session_id, uint64_t max_recv_msg_len,
				    int timeout_ms, char *errbuf, size_t errbuf_len);

/* t_wslay_queue queues one unfragmented message (wslay copies data). Returns
 * 0 or -EINVAL (wslay refused it: a control frame over 125 bytes, or a Close
 * already queued). Nothing is sent until t_wslay_flush or t_wslay_recv. */
int t_wslay_queue(struct t_wslay_peer *p, uint8_t opcode, const void *data, size_t len);

/* t_wslay_queue_fragmented queues a message that
 * wslay_event_queue_fragmented_msg sends in frames of at most frag_len
 * payload bytes (wslay's own cap is 4,096). data is borrowed until the last
 * frame went out. One fragmented message at a time. When ping_midway is not
 * NULL, a ping with that payload is queued from wslay's read callback once
 * half the message was read: wslay sends it between two fragments. */
int t_wslay_queue_fragmented(struct t_wslay_peer *p, uint8_t opcode, const void *data, size_t len,
			     size_t frag_len, const char *ping_midway);

/* t_wslay_queue_close queues a Close with code (0: no payload) and reason. */
int t_wslay_queue_close(struct t_wslay_peer *p, uint16_t code, const char *reason);

/* t_wslay_flush sends everything queued, reading meanwhile. Returns 0,
 * -ETIMEDOUT, or -ECONNRESET / -EPIPE when the connection failed. */
int t_wslay_flush(struct t_wslay_peer *p, int timeout_ms);

/* t_wslay_recv pops the next message into *out, reading and sending as
 * needed until one arrives. other, when not NULL, is driven in the same
 * loop (it may be the sender of what p waits for). */
int t_wslay_recv(struct t_wslay_peer *p, struct t_wslay_peer *other, struct t_wslay_msg *out, int timeout_ms);

/* t_wslay_recv_data is t_wslay_recv skipping pings and pongs (wslay answers
 * pings by itself). */
int t_wslay_recv_data(struct t_wslay_peer *p, struct t_wslay_peer *other, struct t_wslay_msg *out,
		      int timeout_ms);

/* t_wslay_wait_eof drives p until the relay closed the TCP connection. */
int t_wslay_wait_eof(struct t_wslay_peer *p, int timeout_ms);

/* t_wslay_close_sent / t_wslay_close_received report wslay's view. */
bool t_wslay_close_sent(const struct t_wslay_peer *p);
bool t_wslay_close_received(const struct t_wslay_peer *p);

/* t_wslay_fd returns the socket (tests that drop the connection abruptly). */
int t_wslay_fd(const struct t_wslay_peer *p);

/* t_wslay_free closes the socket and frees everything. NULL: no-op. */
void t_wslay_free(struct t_wslay_peer *p);

#endif
