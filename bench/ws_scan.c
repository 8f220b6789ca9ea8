/* bench/ws_scan.c: WebSocket stream scanner for the load generator (see
 * bench/ws_scan.h). Frame rules are relay/ws_frame.h's; this file only keeps
 * the position in the stream and the counts. */
#include "bench/ws_scan.h"

#include <string.h>

void bench_ws_scan_init(struct bench_ws_scan *s, enum relay_ws_role role)
{
	memset(s, 0, sizeof *s);
	s->role = role;
	relay_ws_msg_init(&s->msg, UINT64_MAX);
}

static bool is_control(uint8_t opcode)
{
	return opcode & 0x8;
}

static void emit_control(struct bench_ws_scan *s, bench_ws_event_fn fn, void *arg)
{
	struct bench_ws_event ev = {.data = s->ctl, .data_len = s->ctl_len, .len = s->ctl_len};
	switch (s->cur.opcode) {
	case RELAY_WS_OP_PING:
		ev.kind = BENCH_WS_EV_PING;
		break;
	case RELAY_WS_OP_PONG:
		ev.kind = BENCH_WS_EV_PONG;
		break;
	default:
		ev.kind = BENCH_WS_EV_CLOSE;
		break;
	}
	if (fn)
		fn(arg, &ev);
}

static void emit_message(struct bench_ws_scan *s, bench_ws_event_fn fn, void *arg)
{
	struct bench_ws_event ev = {.kind = BENCH_WS_EV_MESSAGE, .opcode = s->msg_opcode, .len = s->msg_len,
				    .data = s->head, .data_len = s->head_len};
	s->n.messages++;
	if (ev.opcode == RELAY_WS_OP_TEXT)
		s->n.text_messages++;
	if (fn)
		fn(arg, &ev);
	s->msg_len = 0;
	s->head_len = 0;
}

/* The current frame's payload is complete: report what it completed. */
static void frame_done(struct bench_ws_scan *s, bench_ws_event_fn fn, void *arg)
{
	s->in_frame = false;
	if (is_control(s->cur.opcode))
		emit_control(s, fn, arg);
	else if (s->cur.fin)
		emit_message(s, fn, arg);
}

/* Copies payload bytes p[0..n) at frame offset s->frame_off where they are
 * kept (the head of a message, a control payload), unmasked. */
static void keep_payload(struct bench_ws_scan *s, const uint8_t *p, size_t n)
{
	if (is_control(s->cur.opcode)) {
		/* control payloads are <= 125 bytes: checked by the header parser */
		uint8_t *dst = s->ctl + s->frame_off;
		memcpy(dst, p, n);
		if (s->cur.masked)
			relay_ws_unmask(dst, n, s->cur.mask_key, s->frame_off);
		s->ctl_len = (uint8_t)(s->frame_off + n);
		return;
	}
	if (s->head_len >= BENCH_WS_HEAD)
		return;
	size_t room = BENCH_WS_HEAD - s->head_len;
	size_t k = n < room ? n : room;
	uint8_t *dst = s->head + s->head_len;
	memcpy(dst, p, k);
	if (s->cur.masked)
		relay_ws_unmask(dst, k, s->cur.mask_key, s->frame_off);
	s->head_len = (uint8_t)(s->head_len + k);
}

int bench_ws_scan_feed(struct bench_ws_scan *s, const uint8_t *data, size_t len, bench_ws_event_fn fn, void *arg)
{
	s->n.wire += len;
	if (s->error) {
		s->n.pending += len; /* unaccountable after a broken frame */
		return s->error;
	}
	while (len) {
		if (!s->in_frame) {
			/* Gather the header: at most 14 bytes, possibly over several feeds. */
			size_t take = sizeof s->hdr - s->hdr_len;
			if (take > len)
				take = len;
			memcpy(s->hdr + s->hdr_len, data, take);
			size_t have = s->hdr_len + take;
			struct relay_ws_hdr h;
			int hl = relay_ws_frame_parse_header(&h, s->role, UINT64_MAX, s->hdr, have);
			if (hl == RELAY_WS_INCOMPLETE) {
				s->hdr_len = (uint8_t)have;
				s->n.pending += take;
				return RELAY_WS_OK;
			}
			if (hl < 0) {
				s->error = hl;
				s->n.pending += len;
				return hl;
			}
			int op = relay_ws_msg_next(&s->msg, &h);
			if (op < 0) {
				s->error = op;
				s->n.pending += len;
				return op;
			}
			/* Of the header's hl bytes, hdr_len were counted pending before. */
			size_t used = (size_t)hl - s->hdr_len;
			s->n.pending -= s->hdr_len;
			s->n.frames++;
			if (is_control(h.opcode)) {
				s->n.control += (uint64_t)hl;
				s->ctl_len = 0;
			} else {
				s->n.header += (uint64_t)hl;
				s->msg_opcode = (uint8_t)op;
			}
			s->cur = h;
			s->in_frame = true;
			s->frame_off = 0;
			s->hdr_len = 0;
			data += used;
			len -= used;
			if (h.payload_len == 0)
				frame_done(s, fn, arg);
			continue;
		}
		uint64_t left = s->cur.payload_len - s->frame_off;
		size_t n = left < len ? (size_t)left : len;
		keep_payload(s, data, n);
		if (is_control(s->cur.opcode)) {
			s->n.control += n;
		} else {
			s->n.payload += n;
			s->msg_len += n;
		}
		s->frame_off += n;
		data += n;
		len -= n;
		if (s->frame_off == s->cur.payload_len)
			frame_done(s, fn, arg);
	}
	return RELAY_WS_OK;
}
