#ifndef BENCH_COORD_WIRE_H
#define BENCH_COORD_WIRE_H
/* bench/coord_wire.h: the stream `atmosphere-bench worker` writes to its
 * stdout and `atmosphere-bench coord` reads through SSH (docs/BENCH.md,
 * "Several generator hosts").
 *
 * Design: a sequence of frames, each an 8-byte header and a payload:
 *
 *    0      1      2         3      4 .. 7
 *   +------+------+---------+------+---------------------+----------+
 *   | 'A'  | 'W'  | version | type | payload length (BE) | payload  |
 *   +------+------+---------+------+---------------------+----------+
 *
 * version is 1; type one of enum bench_wire_type; the length at most
 * BENCH_WIRE_PAYLOAD_MAX. Payloads are text (the interval and summary
 * JSON lines of `relay`, the histogram line of bench/hist.h) except HELLO
 * (the worker's clock and version) and END (its exit status, the CPU time
 * its generator used and the tail of its error output). Every frame carries the version so a reader can
 * stop at the first frame it does not understand rather than guess.
 *
 * A stream is HELLO, then INTERVAL frames each optionally followed by its
 * IHIST, then SUMMARY and HIST (either may be missing when the run failed),
 * then END, and nothing after it (bench_wire_next_ok).
 *
 * The codec does no I/O; the parser only reads its input and never
 * allocates: a parsed frame points into the caller's buffer. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bench_wire_limits {
	BENCH_WIRE_VERSION = 1,
	BENCH_WIRE_HEADER_LEN = 8,
	BENCH_WIRE_PAYLOAD_MAX = 16 << 20,  /* a full-range histogram line of the default layout is ~1 MiB */
	BENCH_WIRE_HELLO_TEXT_MAX = 64,     /* the version text in HELLO */
	BENCH_WIRE_END_TEXT_MAX = 4096,     /* the error output tail in END */
};

enum bench_wire_type {
	BENCH_WIRE_HELLO = 'V',     /* u64 BE worker CLOCK_REALTIME ns, then its version text */
	BENCH_WIRE_INTERVAL = 'I',  /* one interval JSON line of `relay --json-interval`, no newline */
	BENCH_WIRE_IHIST = 'L',     /* the latency histogram line of the INTERVAL before it */
	BENCH_WIRE_SUMMARY = 'S',   /* the `relay --json` summary object */
	BENCH_WIRE_HIST = 'H',      /* the measured window's histogram line (`relay --hist-out`) */
	BENCH_WIRE_END = 'E',       /* u8 exit status, u64 BE generator CPU ns, then the tail of its error output */
};

enum bench_wire_status {
	BENCH_WIRE_OK = 0,
	BENCH_WIRE_AGAIN = 1,          /* a proper prefix of a frame: need more bytes */
	BENCH_WIRE_E_MAGIC = -1,       /* not "AW": not our stream (a login banner, a shell error) */
	BENCH_WIRE_E_VERSION = -2,     /* a version this reader does not know */
	BENCH_WIRE_E_TYPE = -3,        /* an unknown frame type */
	BENCH_WIRE_E_TOO_LONG = -4,    /* payload length over BENCH_WIRE_PAYLOAD_MAX */
	BENCH_WIRE_E_PAYLOAD = -5,     /* HELLO or END payload malformed */
	BENCH_WIRE_E_ORDER = -6,       /* a frame out of the stream's order */
};

/* struct bench_wire_frame: a parsed frame; payload points into the parsed
 * buffer and is valid as long as it is. */
struct bench_wire_frame {
	enum bench_wire_type type;
	const uint8_t *payload;
	size_t payload_len;
};

/* bench_wire_frame_parse reads one frame from buf[0..len). Returns
 * BENCH_WIRE_OK with *out filled and *out_used its size in bytes,
 * BENCH_WIRE_AGAIN when buf is a proper prefix of a frame (nothing
 * written), or a negative status when the bytes cannot start a frame
 * (checked in header order: magic, version, type, length). */
enum bench_wire_status bench_wire_frame_parse(const uint8_t *buf, size_t len, struct bench_wire_frame *out,
					      size_t *out_used);

/* bench_wire_header_encode writes the header of a frame of type with
 * payload_len bytes of payload into out (BENCH_WIRE_HEADER_LEN bytes).
 * Returns 0, or -1 when payload_len is over BENCH_WIRE_PAYLOAD_MAX. */
int bench_wire_header_encode(uint8_t out[static BENCH_WIRE_HEADER_LEN], enum bench_wire_type type, size_t payload_len);

/* bench_wire_u64_encode writes v big-endian into out: the clock of HELLO
 * and the CPU time of END. */
void bench_wire_u64_encode(uint8_t out[static 8], uint64_t v);

/* bench_wire_hello_parse reads a HELLO payload: the worker's clock (ns
 * since the epoch) and its version text (printable ASCII, at most
 * BENCH_WIRE_HELLO_TEXT_MAX bytes), copied NUL-terminated into version.
 * Returns BENCH_WIRE_OK or BENCH_WIRE_E_PAYLOAD. */
enum bench_wire_status bench_wire_hello_parse(const struct bench_wire_frame *f, uint64_t *out_clock_ns,
					      char version[static BENCH_WIRE_HELLO_TEXT_MAX + 1]);

/* bench_wire_end_parse reads an END payload: the exit status, the CPU
 * time (user + system, ns) the worker and its generator used, and the
 * error text (at most BENCH_WIRE_END_TEXT_MAX bytes, any bytes; borrowed
 * from the frame). Returns BENCH_WIRE_OK or BENCH_WIRE_E_PAYLOAD. */
enum bench_wire_status bench_wire_end_parse(const struct bench_wire_frame *f, uint8_t *out_status,
					    uint64_t *out_cpu_ns, const uint8_t **out_text, size_t *out_text_len);

/* bench_wire_next_ok says whether a frame of type may follow one of prev in
 * a stream; prev 0 is the stream's start. */
bool bench_wire_next_ok(int prev, enum bench_wire_type type);

/* bench_wire_strerror returns a short description of status. */
const char *bench_wire_strerror(enum bench_wire_status status);

#endif
