#ifndef BENCH_WS_SCAN_H
#define BENCH_WS_SCAN_H
/* bench/ws_scan.h: the load generator's view of a received WebSocket stream.
 *
 * The load generator does not keep the messages it receives: it needs their
 * boundaries, the first few payload bytes of each (where the sender stamped
 * its schedule), control frames to answer, and an exact count of what the
 * bytes on the wire were spent on. The scanner is fed received bytes in
 * pieces that may split anywhere (a header, a stamp, a control payload) and
 * calls back once per complete message or control frame. It never copies a
 * payload beyond BENCH_WS_HEAD bytes, does no I/O and allocates nothing.
 *
 * Wire accounting: every byte fed lands in exactly one of
 *   header    headers of text/binary/continuation frames
 *   payload   payload of text/binary/continuation frames
 *   control   whole ping/pong/close frames, header included
 * once the frame it belongs to has been decoded that far; bytes of a header
 * still incomplete are `pending`. So at any time
 *   wire == header + payload + control + pending.
 *
 * Masking: a client role expects unmasked frames from a server, a server
 * role masked ones (RFC 6455 §5.1); the scanner unmasks what it copies out
 * (the head and control payloads), never the payload it skips. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/ws_frame.h"

/* Payload bytes of a message kept for the callback: the send stamp. */
#define BENCH_WS_HEAD 16

enum bench_ws_event_kind {
	BENCH_WS_EV_MESSAGE,   /* a complete text or binary message */
	BENCH_WS_EV_PING,
	BENCH_WS_EV_PONG,
	BENCH_WS_EV_CLOSE,
};

/* struct bench_ws_event: what the callback is given. data points into the
 * scanner and is valid during the callback only. */
struct bench_ws_event {
	enum bench_ws_event_kind kind;
	uint8_t opcode;          /* messages: RELAY_WS_OP_TEXT or _BINARY */
	uint64_t len;            /* payload bytes, over all fragments */
	const uint8_t *data;     /* messages: the first min(len, BENCH_WS_HEAD)
				    payload bytes; control frames: the whole
				    payload (<= 125 bytes); unmasked */
	size_t data_len;
};

typedef void (*bench_ws_event_fn)(void *arg, const struct bench_ws_event *ev);

/* struct bench_ws_counts: byte and frame counters, cumulative. */
struct bench_ws_counts {
	uint64_t wire;           /* every byte fed */
	uint64_t header;         /* data frame headers */
	uint64_t payload;        /* data frame payload */
	uint64_t control;        /* control frames, header and payload */
	uint64_t pending;        /* bytes of a header not yet complete */
	uint64_t frames;         /* data and control frames whose header was decoded */
	uint64_t messages;       /* complete text and binary messages */
	uint64_t text_messages;  /* of which text */
};

/* struct bench_ws_scan: caller storage, about 200 bytes; initialise with
 * bench_ws_scan_init. Fields other than n are private. */
struct bench_ws_scan {
	struct bench_ws_counts n;
	enum relay_ws_role role;
	int error;                        /* sticky: the first RELAY_WS_E_* */
	struct relay_ws_msg_state msg;
	struct relay_ws_hdr cur;          /* the frame being read, when in_frame */
	bool in_frame;
	uint64_t frame_off;               /* payload bytes of cur read so far */
	uint64_t msg_len;                 /* payload bytes of the open message */
	uint8_t hdr[RELAY_WS_MAX_HEADER_LEN];
	uint8_t hdr_len;
	uint8_t head_len;
	uint8_t ctl_len;
	uint8_t msg_opcode;               /* TEXT or BINARY of the open message */
	uint8_t head[BENCH_WS_HEAD];
	uint8_t ctl[RELAY_WS_MAX_CONTROL_PAYLOAD];
};

/* bench_ws_scan_init starts a scanner for a stream received in role (the
 * role of the end that receives it). */
void bench_ws_scan_init(struct bench_ws_scan *s, enum relay_ws_role role);

/* bench_ws_scan_feed scans data[0..len), calling fn(arg, ev) for each
 * complete message and control frame in order (fn may be NULL). Returns
 * RELAY_WS_OK, or the first RELAY_WS_E_* the stream broke with: the scanner
 * then counts further bytes as wire only and reports the same error again.
 * Does not suspend. */
int bench_ws_scan_feed(struct bench_ws_scan *s, const uint8_t *data, size_t len, bench_ws_event_fn fn, void *arg);

#endif
