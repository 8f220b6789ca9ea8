/* bench/ws_load.c: the load generator's WebSocket connection (see
 * bench/ws_load.h). */
#include "bench/ws_load.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "relay/http.h"
#include "relay/ws_frame.h"

/* --- randomness for nonces and mask keys --- */

static _Thread_local uint64_t rng;

uint64_t bench_rand_u64(void)
{
	if (!rng) {
		if (getrandom(&rng, sizeof rng, 0) != (ssize_t)sizeof rng || !rng) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&ts;
			rng |= 1;
		}
	}
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

/* --- pure frame and stamp builders --- */

size_t bench_frame_header_len(uint64_t payload_len, bool masked)
{
	size_t n = payload_len < 126 ? 2 : payload_len <= 0xffff ? 4 : 10;
	return n + (masked ? 4 : 0);
}

size_t bench_frames_build(uint8_t *out, size_t out_cap, size_t payload_len, uint32_t num_frames, const uint8_t *mask)
{
	uint8_t hdr[RELAY_WS_MAX_HEADER_LEN];
	int hl = relay_ws_frame_build_header(hdr, true, RELAY_WS_OP_BINARY, payload_len, mask);
	if (hl < 0)
		return 0;
	size_t frame = (size_t)hl + payload_len;
	if (num_frames == 0 || frame > out_cap / num_frames)
		return 0;
	/* The first frame is built, the others copied from it. */
	memcpy(out, hdr, (size_t)hl);
	for (size_t i = 0; i < payload_len; i++)
		out[(size_t)hl + i] = (uint8_t)('a' + i % 26);
	if (mask)
		relay_ws_unmask(out + hl, payload_len, mask, 0);
	for (uint32_t f = 1; f < num_frames; f++)
		memcpy(out + (size_t)f * frame, out, frame);
	return (size_t)num_frames * frame;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void bench_stamp_put(uint8_t *payload, const uint8_t *mask, uint32_t session, uint64_t sched_ns)
{
	put_le32(payload, BENCH_STAMP_MAGIC);
	put_le32(payload + 4, session);
	put_le64(payload + 8, sched_ns);
	if (mask)
		relay_ws_unmask(payload, BENCH_STAMP_LEN, mask, 0);
}

bool bench_stamp_get(const uint8_t *head, size_t head_len, uint32_t *out_session, uint64_t *out_sched_ns)
{
	if (head_len < BENCH_STAMP_LEN || get_le(head, 4) != BENCH_STAMP_MAGIC)
		return false;
	*out_session = (uint32_t)get_le(head + 4, 4);
	*out_sched_ns = get_le(head + 8, 8);
	return true;
}

/* --- I/O --- */

static void set_nodelay(int fd)
{
	/* Latency messages are small: Nagle would hold them for an ACK. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int send_raw(struct bench_wconn *c, const void *buf, size_t len, int timeout_ms)
{
	int w = core_sock_send(c->sock, buf, len, timeout_ms);
	if (w < 0)
		return w;
	c->tx_wire += len;
	return 0;
}

/* An HTTP head arrives in leases: they are copied into acc until the head
 * parses; the bytes after it (in acc, and in a lease only partly copied)
 * then go to the scanner. parse returns the head length, RELAY_HTTP_INCOMPLETE
 * or an error. Returns the head length, -EPROTO, or the receive's -errno
 * (-ECONNRESET for an end of stream). */
typedef int (*head_parse_fn)(void *out, const uint8_t *buf, size_t len);

static int read_head(struct bench_wconn *c, uint8_t *acc, head_parse_fn parse, void *parsed, int timeout_ms,
		     bench_ws_event_fn fn, void *arg)
{
	size_t acc_len = 0;
	for (;;) {
		struct core_buf b = {.gid = CORE_BUF_NONE};
		int n = core_sock_recv(c->sock, &b, timeout_ms);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0)
			return n;
		size_t take = b.len < BENCH_WCONN_HEAD_MAX - acc_len ? b.len : BENCH_WCONN_HEAD_MAX - acc_len;
		memcpy(acc + acc_len, b.data, take);
		acc_len += take;
		int hl = parse(parsed, acc, acc_len);
		if (hl == RELAY_HTTP_INCOMPLETE && acc_len < BENCH_WCONN_HEAD_MAX) {
			c->hs_rx += (uint32_t)b.len;
			core_buf_release(&b);
			continue;
		}
		if (hl < 0) {
			c->hs_rx += (uint32_t)b.len;
			core_buf_release(&b);
			return -EPROTO;
		}
		/* Of this lease, the head's part counts as handshake, the rest is stream. */
		size_t head_in_lease = (size_t)hl - (acc_len - take);
		c->hs_rx += (uint32_t)head_in_lease;
		int rc = bench_ws_scan_feed(&c->scan, b.data + head_in_lease, b.len - head_in_lease, fn, arg);
		core_buf_release(&b);
		return rc < 0 ? -EPROTO : hl;
	}
}

static int parse_resp(void *out, const uint8_t *buf, size_t len)
{
	return relay_http_parse_response(out, buf, len);
}

static int parse_req(void *out, const uint8_t *buf, size_t len)
{
	return relay_http_parse_request(out, buf, len);
}

int bench_wconn_dial(struct bench_wconn *c, const struct sockaddr *addr, socklen_t addr_len, const char *host_hdr,
		     const char *path, int timeout_ms, bench_ws_event_fn fn, void *arg)
{
	uint8_t req[512], acc[BENCH_WCONN_HEAD_MAX], nonce[16];
	char key[RELAY_HTTP_KEY_LEN + 1];
	struct relay_http_resp resp;
	int err = 0;

	bench_ws_scan_init(&c->scan, RELAY_WS_ROLE_CLIENT);
	uint64_t r0 = bench_rand_u64(), r1 = bench_rand_u64();
	memcpy(nonce, &r0, 8);
	memcpy(nonce + 8, &r1, 8);
	relay_http_key_encode(key, nonce);
	int req_len = relay_http_upgrade_request_build(req, sizeof req, host_hdr, path, key);
	if (req_len < 0)
		return -EINVAL;

	int fd = core_tcp_connect(addr, addr_len, timeout_ms);
	if (fd < 0)
		return fd;
	set_nodelay(fd);
	c->sock = core_sock_new(fd, &err);
	if (!c->sock)
		return err;
	err = send_raw(c, req, (size_t)req_len, timeout_ms);
	if (err)
		goto fail;
	c->hs_tx = (uint32_t)req_len;
	int hl = read_head(c, acc, parse_resp, &resp, timeout_ms, fn, arg);
	if (hl < 0) {
		err = hl;
		goto fail;
	}
	c->http_status = resp.status;
	if (resp.status != 101) {
		err = -ECONNABORTED;
		goto fail;
	}
	if (relay_http_check_upgrade_response(&resp, key, RELAY_HTTP_KEY_LEN) != RELAY_HTTP_OK) {
		err = -EPROTO;
		goto fail;
	}
	return 0;
fail:
	core_sock_close(c->sock);
	c->sock = NULL;
	return err;
}

int bench_wconn_accept(struct bench_wconn *c, int fd, char id_out[static 129], int timeout_ms, bench_ws_event_fn fn,
		       void *arg)
{
	uint8_t acc[BENCH_WCONN_HEAD_MAX], resp[512];
	struct relay_http_req req;
	struct relay_http_span id;
	char accept[RELAY_HTTP_ACCEPT_LEN + 1];
	int err = 0, rc;

	bench_ws_scan_init(&c->scan, RELAY_WS_ROLE_SERVER);
	set_nodelay(fd);
	c->sock = core_sock_new(fd, &err);
	if (!c->sock)
		return err;
	int hl = read_head(c, acc, parse_req, &req, timeout_ms, fn, arg);
	if (hl < 0) {
		err = hl;
		goto fail;
	}
	rc = relay_http_route(&id, &req);
	if (rc == RELAY_HTTP_ROUTE_RELAY)
		rc = relay_http_check_upgrade(accept, &req);
	else if (rc >= 0)
		rc = RELAY_HTTP_E_NOT_FOUND;
	if (rc != RELAY_HTTP_OK) {
		int n = relay_http_error_response_build(resp, sizeof resp, rc);
		if (n > 0)
			send_raw(c, resp, (size_t)n, timeout_ms);
		err = -EPROTO;
		goto fail;
	}
	memcpy(id_out, id.ptr, id.len); /* <= RELAY_HTTP_MAX_SESSION_ID: checked by the route */
	id_out[id.len] = '\0';
	int n = relay_http_upgrade_response_build(resp, sizeof resp, accept);
	if (n < 0) {
		err = -EPROTO;
		goto fail;
	}
	err = send_raw(c, resp, (size_t)n, timeout_ms);
	if (err)
		goto fail;
	c->hs_tx = (uint32_t)n;
	c->http_status = 101;
	return 0;
fail:
	core_sock_close(c->sock);
	c->sock = NULL;
	return err;
}

int bench_wconn_send(struct bench_wconn *c, const void *buf, size_t len, uint64_t payload_len, uint32_t num_msgs,
		     int timeout_ms)
{
	int rc = send_raw(c, buf, len, timeout_ms);
	if (rc)
		return rc;
	c->tx_payload += payload_len;
	c->tx_msgs += num_msgs;
	return 0;
}

int bench_wconn_send_control(struct bench_wconn *c, uint8_t opcode, const uint8_t *payload, size_t len, bool masked,
			     int timeout_ms)
{
	uint8_t frame[RELAY_WS_MAX_HEADER_LEN + RELAY_WS_MAX_CONTROL_PAYLOAD];
	uint64_t r = bench_rand_u64();
	uint8_t mask[4];
	memcpy(mask, &r, 4);
	int n = relay_ws_frame_build(frame, sizeof frame, true, opcode, payload, len, masked ? mask : NULL);
	if (n < 0)
		return -EINVAL;
	if (opcode == RELAY_WS_OP_CLOSE)
		c->close_sent = true;
	return send_raw(c, frame, (size_t)n, timeout_ms);
}

int bench_wconn_recv(struct bench_wconn *c, int timeout_ms, bench_ws_event_fn fn, void *arg)
{
	struct core_buf b = {.gid = CORE_BUF_NONE};
	int n = core_sock_recv(c->sock, &b, timeout_ms);
	if (n <= 0)
		return n;
	int rc = bench_ws_scan_feed(&c->scan, b.data, b.len, fn, arg);
	core_buf_release(&b);
	return rc < 0 ? -EPROTO : n;
}

void bench_wconn_close(struct bench_wconn *c)
{
	core_sock_close(c->sock);
	c->sock = NULL;
}
