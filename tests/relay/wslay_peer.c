/* tests/relay/wslay_peer.c: see wslay_peer.h. The adapter has the shape of
 * h2o's lib/websocket.c: wslay's callbacks read and write a non-blocking
 * socket and report EAGAIN as WSLAY_ERR_WOULDBLOCK. */
#include "wslay_peer.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "harness.h"
#include "helpers.h"
#include "net/bssl.h"

/* What one peer may hold: the HTTP answer head, and the queue of received
 * messages not yet popped. */
enum {
	T_WSLAY_MAX_HEAD = 4096,
	T_WSLAY_MAX_QUEUED = 64,
};

struct t_wslay_source {
	const uint8_t *data;
	size_t len, off, frag_len;
	const char *ping_midway;
};

struct t_wslay_peer {
	int fd;
	wslay_event_context_ptr ctx;
	/* Bytes read past the HTTP head, fed to wslay before the socket. */
	uint8_t pre[T_WSLAY_MAX_HEAD];
	size_t pre_beg, pre_end;
	struct t_wslay_msg q[T_WSLAY_MAX_QUEUED];
	size_t q_beg, q_len;
	unsigned frames;         /* data frames of the message being received */
	struct t_wslay_source *src;
	bool eof, failed;
};

void t_wslay_msg_cleanup(struct t_wslay_msg *m)
{
	free(m->data);
	memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ */
/* wslay callbacks. */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user_data)
{
	struct t_wslay_peer *p = user_data;
	(void)flags;
	if (p->pre_beg < p->pre_end) {
		size_t n = p->pre_end - p->pre_beg;
		if (n > len)
			n = len;
		memcpy(buf, p->pre + p->pre_beg, n);
		p->pre_beg += n;
		return (ssize_t)n;
	}
	ssize_t n;
	do
		n = recv(p->fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return n;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	/* End of stream or a reset: wslay stops reading. */
	p->eof = true;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user_data)
{
	struct t_wslay_peer *p = user_data;
	int sflags = MSG_NOSIGNAL | ((flags & WSLAY_MSG_MORE) ? MSG_MORE : 0);
	ssize_t n;
	do
		n = send(p->fd, data, len, sflags);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	} else {
		p->failed = true;
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	}
	return -1;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user_data)
{
	(void)ctx;
	(void)user_data;
	return getrandom(buf, len, 0) == (ssize_t)len ? 0 : -1;
}

static void frame_start_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_frame_recv_start_arg *arg,
			   void *user_data)
{
	struct t_wslay_peer *p = user_data;
	(void)ctx;
	if (!wslay_is_ctrl_frame(arg->opcode))
		p->frames++;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user_data)
{
	struct t_wslay_peer *p = user_data;
	(void)ctx;
	if (p->q_len == T_WSLAY_MAX_QUEUED) {
		/* A test that lets this many pile up is wrong; fail loudly. */
		p->failed = true;
		return;
	}
	struct t_wslay_msg *m = &p->q[(p->q_beg + p->q_len++) % T_WSLAY_MAX_QUEUED];
	m->data = malloc(arg->msg_length ? arg->msg_length : 1);
	if (arg->msg_length)
		memcpy(m->data, arg->msg, arg->msg_length);
	m->len = arg->msg_length;
	m->opcode = arg->opcode;
	m->close_code = arg->status_code;
	m->num_frames = 0;
	if (!wslay_is_ctrl_frame(arg->opcode)) {
		m->num_frames = p->frames;
		p->frames = 0;
	}
}

static ssize_t fragment_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
			   const union wslay_event_msg_source *source, int *eof, void *user_data)
{
	struct t_wslay_source *s = source->data;
	(void)user_data;
	size_t n = s->len - s->off;
	if (n > s->frag_len)
		n = s->frag_len;
	if (n > len)
		n = len;
	if (s->ping_midway && s->off >= s->len / 2) {
		struct wslay_event_msg ping = {
			.opcode = WSLAY_PING, .msg = (const uint8_t *)s->ping_midway, .msg_length = strlen(s->ping_midway)};
		if (wslay_event_queue_msg(ctx, &ping)) {
			wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
			return -1;
		}
		s->ping_midway = NULL;
	}
	memcpy(buf, s->data + s->off, n);
	s->off += n;
	if (s->off == s->len)
		*eof = 1;
	return (ssize_t)n;
}

/* ------------------------------------------------------------------ */
/* The upgrade (RFC 6455 §4.1), written without relay/http.h. */

/* Finds header name (case-insensitive) in head and copies its value. */
static bool header_value(const char *head, const char *name, char *out, size_t out_len)
{
	size_t nl = strlen(name);
	for (const char *line = strstr(head, "\r\n"); line; line = strstr(line, "\r\n")) {
		line += 2;
		if (strncasecmp(line, name, nl) || line[nl] != ':')
			continue;
		const char *v = line + nl + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		const char *end = strstr(v, "\r\n");
		size_t vl = end ? (size_t)(end - v) : strlen(v);
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		if (vl >= out_len)
			return false;
		memcpy(out, v, vl);
		out[vl] = 0;
		return true;
	}
	return false;
}

/* RFC 6455 §4.1/§4.2.2: the accept value is base64(SHA-1(key + GUID)). */
static void accept_for(const char *key, char out[static 29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	uint8_t digest[SHA_DIGEST_LENGTH];
	SHA_CTX sha;
	SHA1_Init(&sha);
	SHA1_Update(&sha, key, strlen(key));
	SHA1_Update(&sha, guid, sizeof guid - 1);
	SHA1_Final(digest, &sha);
	EVP_EncodeBlock((uint8_t *)out, digest, sizeof digest);
}

/* Reads an HTTP head (through the blank line) into head, NUL-terminated;
 * bytes after it go to p->pre for wslay. */
static int read_head(struct t_wslay_peer *p, char head[static T_WSLAY_MAX_HEAD + 1], uint64_t deadline,
		     char *errbuf, size_t errbuf_len)
{
	size_t len = 0;
	char *end = NULL;
	while (!end) {
		struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
		int left = t_ms_left(deadline);
		if (!left || poll(&pfd, 1, left) == 0)
			return -ETIMEDOUT;
		ssize_t r = recv(p->fd, head + len, T_WSLAY_MAX_HEAD - len, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			snprintf(errbuf, errbuf_len, "connection ended after %zu bytes of the HTTP head", len);
			return -ECONNRESET;
		}
		len += (size_t)r;
		head[len] = 0;
		end = strstr(head, "\r\n\r\n");
		if (!end && len == T_WSLAY_MAX_HEAD)
			return -EPROTO;
	}
	size_t head_len = (size_t)(end + 4 - head);
	memcpy(p->pre, head + head_len, len - head_len);
	p->pre_end = len - head_len;
	end[2] = 0; /* keep the last header's CRLF for header_value */
	return 0;
}

static int upgrade(struct t_wslay_peer *p, const char *session_id, uint64_t deadline, char *errbuf,
		   size_t errbuf_len)
{
	uint8_t nonce[16];
	char key[32], expect[29], got[64], req[512], head[T_WSLAY_MAX_HEAD + 1];
	if (getrandom(nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce)
		return -EIO;
	EVP_EncodeBlock((uint8_t *)key, nonce, sizeof nonce);
	int n = snprintf(req, sizeof req,
			 "GET /relay/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
			 session_id, key);
	if (n < 0 || (size_t)n >= sizeof req)
		return -EINVAL;
	int err = t_write_all(p->fd, req, (size_t)n);
	if (!err)
		err = read_head(p, head, deadline, errbuf, errbuf_len);
	if (err)
		return err;
	if (strncmp(head, "HTTP/1.1 101 ", 13)) {
		const char *eol = strstr(head, "\r\n");
		snprintf(errbuf, errbuf_len, "%.*s", eol ? (int)(eol - head) : (int)strlen(head), head);
		return -EPROTO;
	}
	accept_for(key, expect);
	if (!header_value(head, "Sec-WebSocket-Accept", got, sizeof got) || strcmp(got, expect)) {
		snprintf(errbuf, errbuf_len, "Sec-WebSocket-Accept: want %s", expect);
		return -EPROTO;
	}
	return 0;
}

/* The server side of the upgrade: a GET of /relay/{session_id} with a key;
 * answers 101. */
static int answer_upgrade(struct t_wslay_peer *p, const char *session_id, uint64_t deadline, char *errbuf,
			  size_t errbuf_len)
{
	char head[T_WSLAY_MAX_HEAD + 1], key[64], accept[29], want[256], resp[256];
	int err = read_head(p, head, deadline, errbuf, errbuf_len);
	if (err)
		return err;
	int n = snprintf(want, sizeof want, "GET /relay/%s HTTP/1.1\r\n", session_id);
	if (n < 0 || (size_t)n >= sizeof want || strncmp(head, want, (size_t)n)) {
		snprintf(errbuf, errbuf_len, "request line: %.*s", (int)strcspn(head, "\r"), head);
		return -EPROTO;
	}
	if (!header_value(head, "Sec-WebSocket-Key", key, sizeof key)) {
		snprintf(errbuf, errbuf_len, "no Sec-WebSocket-Key");
		return -EPROTO;
	}
	accept_for(key, accept);
	n = snprintf(resp, sizeof resp,
		     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		     "Sec-WebSocket-Accept: %s\r\n\r\n",
		     accept);
	return t_write_all(p->fd, resp, (size_t)n);
}

static const struct wslay_event_callbacks peer_cbs = {
	.recv_callback = recv_cb,
	.send_callback = send_cb,
	.genmask_callback = genmask_cb,
	.on_frame_recv_start_callback = frame_start_cb,
	.on_msg_recv_callback = msg_cb,
};

/* Finishes a peer whose upgrade is done: non-blocking socket, wslay
 * context of the role, the receive limit. */
static int start_wslay(struct t_wslay_peer *p, bool server, uint64_t max_recv_msg_len)
{
	/* From here wslay's callbacks expect EAGAIN rather than blocking. */
	if (fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	int r = server ? wslay_event_context_server_init(&p->ctx, &peer_cbs, p)
		       : wslay_event_context_client_init(&p->ctx, &peer_cbs, p);
	if (r)
		return -ENOMEM;
	/* STYLE.md §4: wslay's limit is always set, never its 2 GiB default. */
	wslay_event_config_set_max_recv_msg_length(p->ctx, max_recv_msg_len);
	return 0;
}

struct t_wslay_peer *t_wslay_accept(int listen_fd, const char *session_id, uint64_t max_recv_msg_len,
				    int timeout_ms, char *errbuf, size_t errbuf_len)
{
	uint64_t deadline = t_now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct pollfd pfd = {.fd = listen_fd, .events = POLLIN};
	snprintf(errbuf, errbuf_len, "?");
	if (poll(&pfd, 1, timeout_ms) != 1) {
		snprintf(errbuf, errbuf_len, "no connection in %d ms", timeout_ms);
		return NULL;
	}
	struct t_wslay_peer *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->fd = accept(listen_fd, NULL, NULL);
	if (p->fd < 0 || answer_upgrade(p, session_id, deadline, errbuf, errbuf_len) ||
	    start_wslay(p, true, max_recv_msg_len)) {
		t_wslay_free(p);
		return NULL;
	}
	return p;
}

struct t_wslay_peer *t_wslay_connect(uint16_t port, const char *session_id, uint64_t max_recv_msg_len,
				     int timeout_ms, char *errbuf, size_t errbuf_len)
{
	uint64_t deadline = t_now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct t_wslay_peer *p = calloc(1, sizeof *p);
	int one = 1;
	snprintf(errbuf, errbuf_len, "?");
	if (!p)
		return NULL;
	p->fd = t_connect_tcp(port);
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	int err = upgrade(p, session_id, deadline, errbuf, errbuf_len);
	if (err == -ETIMEDOUT)
		snprintf(errbuf, errbuf_len, "no answer to the upgrade in %d ms", timeout_ms);
	if (err || start_wslay(p, false, max_recv_msg_len)) {
		t_wslay_free(p);
		return NULL;
	}
	return p;
}

/* ------------------------------------------------------------------ */
/* Queueing and the poll loop. */

int t_wslay_queue(struct t_wslay_peer *p, uint8_t opcode, const void *data, size_t len)
{
	struct wslay_event_msg m = {.opcode = opcode, .msg = data, .msg_length = len};
	return wslay_event_queue_msg(p->ctx, &m) ? -EINVAL : 0;
}

int t_wslay_queue_fragmented(struct t_wslay_peer *p, uint8_t opcode, const void *data, size_t len,
			     size_t frag_len, const char *ping_midway)
{
	if (p->src && p->src->off < p->src->len)
		return -EBUSY;
	free(p->src);
	p->src = calloc(1, sizeof *p->src);
	if (!p->src || !frag_len)
		return -EINVAL;
	*p->src = (struct t_wslay_source){.data = data, .len = len, .frag_len = frag_len, .ping_midway = ping_midway};
	struct wslay_event_fragmented_msg m = {
		.opcode = opcode, .source = {.data = p->src}, .read_callback = fragment_cb};
	return wslay_event_queue_fragmented_msg(p->ctx, &m) ? -EINVAL : 0;
}

int t_wslay_queue_close(struct t_wslay_peer *p, uint16_t code, const char *reason)
{
	size_t rl = reason ? strlen(reason) : 0;
	return wslay_event_queue_close(p->ctx, code, (const uint8_t *)reason, rl) ? -EINVAL : 0;
}

/* One round: feeds bytes read past the head, then polls p (and other) for
 * what wslay wants, at most timeout_ms, and runs wslay on what is ready. */
static int step(struct t_wslay_peer **ps, size_t num, int timeout_ms)
{
	struct pollfd pfd[2];
	for (size_t i = 0; i < num; i++) {
		struct t_wslay_peer *p = ps[i];
		if (p->pre_beg < p->pre_end) {
			/* Bytes that came with the HTTP answer: no poll, the caller
			 * looks at what they made before waiting. */
			(void)wslay_event_recv(p->ctx);
			return 0;
		}
	}
	for (size_t i = 0; i < num; i++) {
		struct t_wslay_peer *p = ps[i];
		pfd[i] = (struct pollfd){.fd = p->fd, .events = 0};
		if (wslay_event_want_read(p->ctx) && !p->eof)
			pfd[i].events |= POLLIN;
		if (wslay_event_want_write(p->ctx))
			pfd[i].events |= POLLOUT;
		if (!pfd[i].events)
			pfd[i].fd = -1;
	}
	int r = poll(pfd, (nfds_t)num, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	for (size_t i = 0; i < num; i++) {
		struct t_wslay_peer *p = ps[i];
		/* A failing recv or send (end of stream included) is recorded in
		 * p->eof / p->failed; wslay's return value adds nothing. */
		if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
			(void)wslay_event_recv(p->ctx);
		if ((pfd[i].revents & (POLLOUT | POLLERR)) && wslay_event_want_write(p->ctx))
			(void)wslay_event_send(p->ctx);
	}
	return 0;
}

int t_wslay_flush(struct t_wslay_peer *p, int timeout_ms)
{
	uint64_t deadline = t_now_ns() + (uint64_t)timeout_ms * 1000000u;
	while (wslay_event_want_write(p->ctx)) {
		if (p->failed)
			return -EPIPE;
		int left = t_ms_left(deadline);
		if (!left)
			return -ETIMEDOUT;
		int err = step(&p, 1, left);
		if (err)
			return err;
	}
	return p->failed ? -EPIPE : 0;
}

int t_wslay_recv(struct t_wslay_peer *p, struct t_wslay_peer *other, struct t_wslay_msg *out, int timeout_ms)
{
	uint64_t deadline = t_now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct t_wslay_peer *ps[2] = {p, other};
	while (!p->q_len) {
		if (p->eof && p->pre_beg == p->pre_end)
			return -ECONNRESET;
		if (p->failed)
			return -EPROTO;
		int left = t_ms_left(deadline);
		if (!left)
			return -ETIMEDOUT;
		int err = step(ps, other ? 2 : 1, left);
		if (err)
			return err;
	}
	*out = p->q[p->q_beg];
	p->q_beg = (p->q_beg + 1) % T_WSLAY_MAX_QUEUED;
	p->q_len--;
	return 0;
}

int t_wslay_recv_data(struct t_wslay_peer *p, struct t_wslay_peer *other, struct t_wslay_msg *out,
		      int timeout_ms)
{
	uint64_t deadline = t_now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		int left = t_ms_left(deadline);
		int err = left ? t_wslay_recv(p, other, out, left) : -ETIMEDOUT;
		if (err || (out->opcode != T_WSLAY_PING && out->opcode != T_WSLAY_PONG))
			return err;
		t_wslay_msg_cleanup(out);
	}
}

int t_wslay_wait_eof(struct t_wslay_peer *p, int timeout_ms)
{
	uint64_t deadline = t_now_ns() + (uint64_t)timeout_ms * 1000000u;
	while (!p->eof) {
		int left = t_ms_left(deadline);
		if (!left)
			return -ETIMEDOUT;
		if (!wslay_event_want_read(p->ctx) && !wslay_event_want_write(p->ctx)) {
			/* wslay stopped reading (Close received): read the socket
			 * ourselves until the relay ends it. */
			uint8_t buf[4096];
			struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
			if (poll(&pfd, 1, left) <= 0)
				continue;
			ssize_t n = recv(p->fd, buf, sizeof buf, 0);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				p->eof = true;
			continue;
		}
		int err = step(&p, 1, left);
		if (err)
			return err;
	}
	return 0;
}

bool t_wslay_close_sent(const struct t_wslay_peer *p)
{
	return wslay_event_get_close_sent(p->ctx);
}

bool t_wslay_close_received(const struct t_wslay_peer *p)
{
	return wslay_event_get_close_received(p->ctx);
}

int t_wslay_fd(const struct t_wslay_peer *p)
{
	return p->fd;
}

void t_wslay_free(struct t_wslay_peer *p)
{
	if (!p)
		return;
	while (p->q_len) {
		t_wslay_msg_cleanup(&p->q[p->q_beg]);
		p->q_beg = (p->q_beg + 1) % T_WSLAY_MAX_QUEUED;
		p->q_len--;
	}
	if (p->ctx)
		wslay_event_context_free(p->ctx);
	if (p->fd >= 0)
		close(p->fd);
	free(p->src);
	free(p);
}
