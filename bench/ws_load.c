/* bench/ws_load.c: the load generator's WebSocket connection (see
 * bench/ws_load.h). */
#include "bench/ws_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <time.h>

#include "core/bytes.h"
#include "core/reactor.h"
#include "net/bssl.h"
#include "relay/http.h"
#include "relay/ws_frame.h"

enum {
	TLS_RECORD_MAX = 16384,        /* plaintext bytes of one TLS record */
	TLS_OUT_MAX = 512 * 1024,      /* ciphertext per send: a 256 KiB batch and its records in one */
	TLS_OUT_ROUND = 4096,          /* the send buffer grows in pages: B sends only small frames */
	TLS_HS_ROUNDS_MAX = 64,        /* handshake flights, far more than any handshake needs */
	TLS_FLUSH_ROUNDS_MAX = 4096,   /* sends per flush */
	TLS_READ_ROUNDS_MAX = 1 << 20, /* receives per decrypted chunk */
};

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

void bench_stamp_put(uint8_t *payload, const uint8_t *mask, uint32_t session, uint64_t sched_ns)
{
	core_put_le32(payload, BENCH_STAMP_MAGIC);
	core_put_le32(payload + 4, session);
	core_put_le64(payload + 8, sched_ns);
	if (mask)
		relay_ws_unmask(payload, BENCH_STAMP_LEN, mask, 0);
}

bool bench_stamp_get(const uint8_t *head, size_t head_len, uint32_t *out_session, uint64_t *out_sched_ns)
{
	if (head_len < BENCH_STAMP_LEN || core_get_le32(head) != BENCH_STAMP_MAGIC)
		return false;
	*out_session = core_get_le32(head + 4);
	*out_sched_ns = core_get_le64(head + 8);
	return true;
}

/* --- TLS (wss://) --- */

struct bench_tls {
	SSL_CTX *ctx;
	bool verify;
};

struct bench_wtls {
	SSL *ssl;
	BIO *rbio, *wbio;              /* owned by ssl */
	uint8_t *out;                  /* ciphertext being sent */
	size_t out_cap;
	bool sending;                  /* a flush is in flight: out and the socket are taken */
};

/* Decrypted bytes: one record at a time, scanned (or copied into the head
 * buffer) before the coroutine that decrypted them suspends again, so one
 * buffer per thread serves every connection of it. */
static _Thread_local uint8_t tls_plain[TLS_RECORD_MAX];
static _Thread_local char tls_err[200];

const char *bench_tls_last_error(void)
{
	return tls_err;
}

struct bench_tls *bench_tls_new(const char *ca_file, bool insecure, enum bench_tls_version version, char *errbuf,
				size_t errbuf_len)
{
	struct bench_tls *t = calloc(1, sizeof *t);
	if (!t || !(t->ctx = SSL_CTX_new(TLS_client_method()))) {
		snprintf(errbuf, errbuf_len, "out of memory");
		free(t);
		return NULL;
	}
	uint16_t v = version == BENCH_TLS_1_2 ? TLS1_2_VERSION : TLS1_3_VERSION;
	SSL_CTX_set_min_proto_version(t->ctx, v);
	SSL_CTX_set_max_proto_version(t->ctx, v);
	t->verify = !insecure;
	SSL_CTX_set_verify(t->ctx, insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	if (!insecure) {
		int ok = ca_file ? SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL)
				 : SSL_CTX_load_verify_locations(t->ctx, "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs");
		if (ok != 1) {
			char why[120] = "no detail";
			unsigned long e = ERR_get_error();
			if (e)
				ERR_error_string_n((uint32_t)e, why, sizeof why);
			ERR_clear_error();
			snprintf(errbuf, errbuf_len, "cannot load CA certificates from '%s': %s",
				 ca_file ? ca_file : "/etc/ssl/certs", why);
			bench_tls_free(t);
			return NULL;
		}
	}
	return t;
}

void bench_tls_free(struct bench_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

static void wtls_free(struct bench_wtls *w)
{
	if (!w)
		return;
	SSL_free(w->ssl);
	free(w->out);
	free(w);
}

static bool is_ip_literal(const char *host)
{
	uint8_t a[16];
	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

static struct bench_wtls *wtls_new(struct bench_tls *t, const char *host)
{
	struct bench_wtls *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->ssl = SSL_new(t->ctx);
	w->rbio = BIO_new(BIO_s_mem());
	w->wbio = BIO_new(BIO_s_mem());
	if (!w->ssl || !w->rbio || !w->wbio) {
		BIO_free(w->rbio);
		BIO_free(w->wbio);
		wtls_free(w);
		return NULL;
	}
	SSL_set_bio(w->ssl, w->rbio, w->wbio);
	SSL_set_connect_state(w->ssl);
	bool ip = is_ip_literal(host);
	int ok = 1;
	/* RFC 6066 §3: SNI carries host names, never address literals. */
	if (!ip)
		ok &= SSL_set_tlsext_host_name(w->ssl, host);
	if (t->verify)
		ok &= ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(w->ssl), host) : SSL_set1_host(w->ssl, host);
	if (ok != 1) {
		wtls_free(w);
		return NULL;
	}
	return w;
}

static void tls_fail(struct bench_wconn *c, const char *what)
{
	char why[120] = "no detail";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n((uint32_t)e, why, sizeof why);
	ERR_clear_error();
	long v = SSL_get_verify_result(c->tls->ssl);
	if (v != X509_V_OK)
		snprintf(tls_err, sizeof tls_err, "%s: %s (certificate: %s)", what, why, X509_verify_cert_error_string(v));
	else
		snprintf(tls_err, sizeof tls_err, "%s: %s", what, why);
}

/* Sends every ciphertext byte the engine holds, copied out in TLS_OUT_MAX
 * pieces: a reader may add records (a TLS 1.3 key update) while a send is
 * in flight, and the engine's buffer may move when it grows, so the kernel
 * is never given the engine's own memory. One flush at a time: with wait a
 * caller waits for the flush in flight, then sends what is left; without,
 * it leaves its bytes to that flush. Returns 0 or -errno. Suspends. */
static int tls_flush(struct bench_wconn *c, bool wait, int timeout_ms)
{
	struct bench_wtls *w = c->tls;
	uint64_t deadline = core_now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
	while (w->sending) {
		if (!wait)
			return 0;
		if (timeout_ms >= 0 && core_now_ns() > deadline)
			return -ETIMEDOUT;
		core_yield();
	}
	w->sending = true;
	int rc = 0;
	for (unsigned i = 0; i < TLS_FLUSH_ROUNDS_MAX && rc == 0; i++) {
		size_t pend = BIO_pending(w->wbio);
		if (!pend)
			break;
		size_t want = pend < TLS_OUT_MAX ? pend : TLS_OUT_MAX;
		if (w->out_cap < want) {
			size_t cap = (want + TLS_OUT_ROUND - 1) / TLS_OUT_ROUND * TLS_OUT_ROUND;
			uint8_t *p = realloc(w->out, cap);
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			w->out = p;
			w->out_cap = cap;
		}
		int n = BIO_read(w->wbio, w->out, (int)want);
		if (n <= 0) {
			rc = -EIO;
			break;
		}
		int sent = core_sock_send(c->sock, w->out, (size_t)n, timeout_ms);
		if (sent < 0)
			rc = sent;
		else
			c->tx_wire += (uint64_t)n;
	}
	w->sending = false;
	return rc;
}

/* Moves one received lease of ciphertext into the engine. Returns 0,
 * -ECONNRESET at the end of the stream, or the receive's -errno. */
static int tls_pull(struct bench_wconn *c, int timeout_ms)
{
	struct core_buf b = {.gid = CORE_BUF_NONE};
	int n = core_sock_recv(c->sock, &b, timeout_ms);
	if (n <= 0)
		return n == 0 ? -ECONNRESET : n;
	c->rx_tls += b.len;
	int w = BIO_write(c->tls->rbio, b.data, (int)b.len);
	core_buf_release(&b);
	return w == n ? 0 : -ENOMEM;
}

static int time_left(uint64_t deadline, int timeout_ms)
{
	if (timeout_ms < 0)
		return -1;
	uint64_t now = core_now_ns();
	return now >= deadline ? 0 : (int)((deadline - now) / 1000000u) + 1;
}

/* The client handshake: flights out, flights in, until done. */
static int tls_handshake(struct bench_wconn *c, int timeout_ms)
{
	SSL *ssl = c->tls->ssl;
	uint64_t deadline = core_now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
	for (unsigned i = 0; i < TLS_HS_ROUNDS_MAX; i++) {
		int r = SSL_do_handshake(ssl);
		uint64_t tx0 = c->tx_wire;
		int rc = tls_flush(c, true, timeout_ms);
		c->tls_hs_tx += (uint32_t)(c->tx_wire - tx0);
		if (rc < 0)
			return rc;
		if (r == 1)
			return 0;
		if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) {
			tls_fail(c, "TLS handshake failed");
			c->tls_failed = true;
			return -EPROTO;
		}
		int left = time_left(deadline, timeout_ms);
		if (left == 0)
			return -ETIMEDOUT;
		uint64_t rx0 = c->rx_tls;
		rc = tls_pull(c, left);
		c->tls_hs_rx += (uint32_t)(c->rx_tls - rx0);
		if (rc < 0)
			return rc;
	}
	return -EPROTO;
}

/* Decrypts the next record into tls_plain. Returns its length (> 0), 0 at
 * the end of the stream (close_notify, or EOF without one, as net/stream.c
 * takes it), -EPROTO, or the receive's -errno. Suspends. */
static int tls_recv(struct bench_wconn *c, int timeout_ms)
{
	struct bench_wtls *w = c->tls;
	uint64_t deadline = core_now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
	/* Records the engine wrote while reading (a key update) leave before
	 * anything is decrypted: once tls_plain holds bytes nothing may
	 * suspend until they are scanned. */
	if (BIO_pending(w->wbio)) {
		int rc = tls_flush(c, false, timeout_ms);
		if (rc < 0)
			return rc;
	}
	for (unsigned i = 0; i < TLS_READ_ROUNDS_MAX; i++) {
		int r = SSL_read(w->ssl, tls_plain, sizeof tls_plain);
		if (r > 0)
			return r;
		int e = SSL_get_error(w->ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (e != SSL_ERROR_WANT_READ) {
			tls_fail(c, "TLS read failed");
			return -EPROTO;
		}
		int left = time_left(deadline, timeout_ms);
		if (left == 0)
			return -ETIMEDOUT;
		int rc = tls_pull(c, left);
		if (rc == -ECONNRESET)
			return 0;
		if (rc < 0)
			return rc;
	}
	return -EPROTO;
}

/* Encrypts buf[0..len) into records and sends them. */
static int tls_send(struct bench_wconn *c, const void *buf, size_t len, int timeout_ms)
{
	if (len > INT_MAX)
		return -EINVAL;
	if (len && SSL_write(c->tls->ssl, buf, (int)len) != (int)len) {
		tls_fail(c, "TLS write failed");
		return -EPROTO;
	}
	return tls_flush(c, true, timeout_ms);
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
	if (c->tls)
		return tls_send(c, buf, len, timeout_ms); /* counts the TLS bytes */
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

/* One received piece: a lease on ws://, decrypted bytes in tls_plain on
 * wss:// (valid until the coroutine suspends). */
static int recv_piece(struct bench_wconn *c, struct core_buf *b, int timeout_ms)
{
	if (!c->tls)
		return core_sock_recv(c->sock, b, timeout_ms);
	int n = tls_recv(c, timeout_ms);
	b->data = tls_plain;
	b->len = n > 0 ? (uint32_t)n : 0;
	return n;
}

static void release_piece(struct bench_wconn *c, struct core_buf *b)
{
	if (!c->tls)
		core_buf_release(b);
}

static int read_head(struct bench_wconn *c, uint8_t *acc, head_parse_fn parse, void *parsed, int timeout_ms,
		     bench_ws_event_fn fn, void *arg)
{
	size_t acc_len = 0;
	for (;;) {
		struct core_buf b = {.gid = CORE_BUF_NONE};
		int n = recv_piece(c, &b, timeout_ms);
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
			release_piece(c, &b);
			continue;
		}
		if (hl < 0) {
			c->hs_rx += (uint32_t)b.len;
			release_piece(c, &b);
			return -EPROTO;
		}
		/* Of this lease, the head's part counts as handshake, the rest is stream. */
		size_t head_in_lease = (size_t)hl - (acc_len - take);
		c->hs_rx += (uint32_t)head_in_lease;
		int rc = bench_ws_scan_feed(&c->scan, b.data + head_in_lease, b.len - head_in_lease, fn, arg);
		release_piece(c, &b);
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

int bench_wconn_dial(struct bench_wconn *c, const struct bench_dial *d, const char *path, int timeout_ms,
		     bench_ws_event_fn fn, void *arg)
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
	int req_len = relay_http_upgrade_request_build(req, sizeof req, d->host_hdr, path, key);
	if (req_len < 0)
		return -EINVAL;

	int fd = core_tcp_connect_from(d->addr, d->addr_len, d->src, d->src_len, timeout_ms);
	if (fd < 0)
		return fd;
	set_nodelay(fd);
	if (d->sndbuf) {
		int sz = (int)d->sndbuf;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz) != 0) {
			err = -errno;
			close(fd);
			return err;
		}
	}
	c->sock = core_sock_new(fd, &err);
	if (!c->sock)
		return err;
	if (d->tls) {
		c->wss = true;
		c->tls = wtls_new(d->tls, d->host);
		if (!c->tls) {
			err = -ENOMEM;
			goto fail;
		}
		err = tls_handshake(c, timeout_ms);
		if (err)
			goto fail;
	}
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
	bench_wconn_close(c);
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

int bench_wconn_detach(struct bench_wconn *c, uint8_t **rest, size_t *rest_len)
{
	*rest = NULL;
	*rest_len = 0;
	if (c->tls || !c->sock)
		return -EINVAL;
	int fd = core_sock_detach(c->sock, rest, rest_len);
	c->sock = NULL; /* freed by core_sock_detach either way */
	return fd;
}

int bench_wconn_adopt(struct bench_wconn *c, int fd, const uint8_t *rest, size_t rest_len, bench_ws_event_fn fn,
		      void *arg)
{
	int err = 0;
	c->sock = core_sock_new(fd, &err);
	if (!c->sock)
		return err;
	if (rest_len && bench_ws_scan_feed(&c->scan, rest, rest_len, fn, arg) < 0) {
		core_sock_close(c->sock);
		c->sock = NULL;
		return -EPROTO;
	}
	return 0;
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
	if (c->tls) {
		int n = tls_recv(c, timeout_ms);
		if (n <= 0)
			return n;
		int rc = bench_ws_scan_feed(&c->scan, tls_plain, (size_t)n, fn, arg);
		return rc < 0 ? -EPROTO : n;
	}
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
	wtls_free(c->tls);
	c->tls = NULL;
}
