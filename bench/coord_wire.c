/* The worker -> coordinator frame codec: see bench/coord_wire.h. */
#include "bench/coord_wire.h"

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static bool known_type(unsigned t)
{
	switch (t) {
	case BENCH_WIRE_HELLO:
	case BENCH_WIRE_INTERVAL:
	case BENCH_WIRE_IHIST:
	case BENCH_WIRE_SUMMARY:
	case BENCH_WIRE_HIST:
	case BENCH_WIRE_END:
		return true;
	default:
		return false;
	}
}

enum bench_wire_status bench_wire_frame_parse(const uint8_t *buf, size_t len, struct bench_wire_frame *out,
					      size_t *out_used)
{
	/* Header fields in order, each checked as soon as its byte is there,
	 * so a stream that is not ours is refused at its first bytes. */
	if (len >= 1 && buf[0] != 'A')
		return BENCH_WIRE_E_MAGIC;
	if (len >= 2 && buf[1] != 'W')
		return BENCH_WIRE_E_MAGIC;
	if (len >= 3 && buf[2] != BENCH_WIRE_VERSION)
		return BENCH_WIRE_E_VERSION;
	if (len >= 4 && !known_type(buf[3]))
		return BENCH_WIRE_E_TYPE;
	if (len < BENCH_WIRE_HEADER_LEN)
		return BENCH_WIRE_AGAIN;
	uint32_t plen = get_u32(buf + 4);
	if (plen > BENCH_WIRE_PAYLOAD_MAX)
		return BENCH_WIRE_E_TOO_LONG;
	if (len - BENCH_WIRE_HEADER_LEN < plen)
		return BENCH_WIRE_AGAIN;
	out->type = (enum bench_wire_type)buf[3];
	out->payload = buf + BENCH_WIRE_HEADER_LEN;
	out->payload_len = plen;
	*out_used = BENCH_WIRE_HEADER_LEN + (size_t)plen;
	return BENCH_WIRE_OK;
}

int bench_wire_header_encode(uint8_t out[static BENCH_WIRE_HEADER_LEN], enum bench_wire_type type, size_t payload_len)
{
	if (payload_len > BENCH_WIRE_PAYLOAD_MAX)
		return -1;
	uint32_t n = (uint32_t)payload_len;
	out[0] = 'A';
	out[1] = 'W';
	out[2] = BENCH_WIRE_VERSION;
	out[3] = (uint8_t)type;
	out[4] = (uint8_t)(n >> 24);
	out[5] = (uint8_t)(n >> 16);
	out[6] = (uint8_t)(n >> 8);
	out[7] = (uint8_t)n;
	return 0;
}

void bench_wire_u64_encode(uint8_t out[static 8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

enum bench_wire_status bench_wire_hello_parse(const struct bench_wire_frame *f, uint64_t *out_clock_ns,
					      char version[static BENCH_WIRE_HELLO_TEXT_MAX + 1])
{
	/* u64 clock, then 1..HELLO_TEXT_MAX printable ASCII bytes. */
	if (f->type != BENCH_WIRE_HELLO || f->payload_len < 9 || f->payload_len > 8 + BENCH_WIRE_HELLO_TEXT_MAX)
		return BENCH_WIRE_E_PAYLOAD;
	size_t n = f->payload_len - 8;
	for (size_t i = 0; i < n; i++)
		if (f->payload[8 + i] < 0x20 || f->payload[8 + i] > 0x7e)
			return BENCH_WIRE_E_PAYLOAD;
	*out_clock_ns = (uint64_t)get_u32(f->payload) << 32 | get_u32(f->payload + 4);
	for (size_t i = 0; i < n; i++)
		version[i] = (char)f->payload[8 + i];
	version[n] = '\0';
	return BENCH_WIRE_OK;
}

enum bench_wire_status bench_wire_end_parse(const struct bench_wire_frame *f, uint8_t *out_status,
					    uint64_t *out_cpu_ns, const uint8_t **out_text, size_t *out_text_len)
{
	/* u8 status, u64 CPU ns, 0..END_TEXT_MAX bytes of text. */
	if (f->type != BENCH_WIRE_END || f->payload_len < 9 || f->payload_len > 9 + BENCH_WIRE_END_TEXT_MAX)
		return BENCH_WIRE_E_PAYLOAD;
	*out_status = f->payload[0];
	*out_cpu_ns = (uint64_t)get_u32(f->payload + 1) << 32 | get_u32(f->payload + 5);
	*out_text = f->payload + 9;
	*out_text_len = f->payload_len - 9;
	return BENCH_WIRE_OK;
}

bool bench_wire_next_ok(int prev, enum bench_wire_type type)
{
	switch (prev) {
	case 0:
		return type == BENCH_WIRE_HELLO;
	case BENCH_WIRE_HELLO:
		return type == BENCH_WIRE_INTERVAL || type == BENCH_WIRE_SUMMARY || type == BENCH_WIRE_HIST ||
		       type == BENCH_WIRE_END;
	case BENCH_WIRE_INTERVAL:
		return type == BENCH_WIRE_INTERVAL || type == BENCH_WIRE_IHIST || type == BENCH_WIRE_SUMMARY ||
		       type == BENCH_WIRE_HIST || type == BENCH_WIRE_END;
	case BENCH_WIRE_IHIST:
		return type == BENCH_WIRE_INTERVAL || type == BENCH_WIRE_SUMMARY || type == BENCH_WIRE_HIST ||
		       type == BENCH_WIRE_END;
	case BENCH_WIRE_SUMMARY:
		return type == BENCH_WIRE_HIST || type == BENCH_WIRE_END;
	case BENCH_WIRE_HIST:
		return type == BENCH_WIRE_END;
	default: /* END, or anything else: nothing may follow */
		return false;
	}
}

const char *bench_wire_strerror(enum bench_wire_status status)
{
	switch (status) {
	case BENCH_WIRE_OK:
		return "ok";
	case BENCH_WIRE_AGAIN:
		return "truncated frame";
	case BENCH_WIRE_E_MAGIC:
		return "not a worker stream (bad magic)";
	case BENCH_WIRE_E_VERSION:
		return "unsupported wire version";
	case BENCH_WIRE_E_TYPE:
		return "unknown frame type";
	case BENCH_WIRE_E_TOO_LONG:
		return "frame too long";
	case BENCH_WIRE_E_PAYLOAD:
		return "malformed frame payload";
	case BENCH_WIRE_E_ORDER:
		return "frame out of order";
	}
	return "unknown status";
}
