/* Plaintext and TLS streams over core_sock: see net/stream.h. */
#include "net/stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/mutex.h"
#include "core/reactor.h"
#include "net/bssl.h"

/* TLS records carry at most 16 KiB of plaintext. */
#define TLS_PLAIN_BUF 16384
#define TLS_SEND_BUF (16384 + 512)
/* The send buffer grows in these steps up to TLS_SEND_BUF: a connection
 * that only ever gets small records (pings, a paired notice) while its
 * reader waits trimmed keeps a small one. */
#define TLS_SEND_STEP 512

struct net_tls_ctx {
	SSL_CTX *ctx;
	atomic_int refs;
};

struct net_stream {
	struct core_sock *s;
	int fd;                      /* while detached */
	struct core_mutex wl;
	SSL *ssl;                    /* NULL: plaintext */
	BIO *rbio, *wbio;            /* owned by ssl; both NULL while trimmed idle */
	uint8_t *plain;              /* TLS: decrypted bytes handed out; NULL when trimmed */
	uint8_t *sendbuf;            /* TLS: ciphertext on its way out; NULL when trimmed */
	size_t sb_off, sb_len;       /* TLS: sendbuf[sb_off..sb_len) not sent yet */
	size_t sb_cap;               /* TLS: sendbuf's size, up to TLS_SEND_BUF */
	uint8_t *pend;               /* bytes fed back, returned first */
	size_t pend_len;
	bool eof;
	char *tls_err;               /* the last TLS failure, allocated on the first */
};

#define TLS_ERR_LEN 160

/* The memory BIOs: made with the stream, freed by net_stream_trim when
 * both are empty (two BIOs and their BUF_MEMs, about 290 B of heap per idle
 * connection) and made again by the next byte in or out, before any SSL_
 * call that could touch them. They only carry bytes between the engine
 * and the socket, so empty ones are interchangeable. Both or neither. */
static int bios_get(struct net_stream *st)
{
	if (st->rbio)
		return 0;
	BIO *r = BIO_new(BIO_s_mem());
	BIO *w = BIO_new(BIO_s_mem());
	if (!r || !w) {
		BIO_free(r);
		BIO_free(w);
		return -ENOMEM;
	}
	SSL_set0_rbio(st->ssl, r);
	SSL_set0_wbio(st->ssl, w);
	st->rbio = r;
	st->wbio = w;
	return 0;
}

/* BIO_pending that reads a freed (NULL) BIO as empty. */
static size_t bio_pending(const BIO *b)
{
	return b ? BIO_pending(b) : 0;
}

/* Out of line: inlined, its buffer sat in net_stream_recv's frame, which
 * an idle connection's hibernated stack copy carries (120 B of 600). */
__attribute__((noinline, cold)) static void tls_errstr(struct net_stream *st, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[120];
	if (e)
		ERR_error_string_n((uint32_t)e, buf, sizeof buf);
	else
		snprintf(buf, sizeof buf, "no detail");
	/* On the heap: a plain stream, the relay's common case, never needs
	 * it, and it would be most of an idle connection's stream. */
	if (!st->tls_err && !(st->tls_err = malloc(TLS_ERR_LEN))) {
		ERR_clear_error();
		return;
	}
	snprintf(st->tls_err, TLS_ERR_LEN, "%s: %s", what, buf);
	ERR_clear_error();
}

static struct net_tls_ctx *ctx_wrap(SSL_CTX *c)
{
	struct net_tls_ctx *t = malloc(sizeof *t);
	if (!t) {
		SSL_CTX_free(c);
		return NULL;
	}
	t->ctx = c;
	atomic_init(&t->refs, 1);
	return t;
}

static void err_to(char *errbuf, size_t len, const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char buf[120] = "unknown error";
	if (e)
		ERR_error_string_n((uint32_t)e, buf, sizeof buf);
	snprintf(errbuf, len, "%s '%s': %s", what, file ? file : "", buf);
	ERR_clear_error();
}

struct net_tls_ctx *net_tls_server_ctx_new(const char *cert_file, const char *key_file, char *errbuf, size_t len)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	if (!c) {
		snprintf(errbuf, len, "out of memory");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
	if (SSL_CTX_use_certificate_chain_file(c, cert_file) != 1) {
		err_to(errbuf, len, "cannot load certificate chain", cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(c, key_file, SSL_FILETYPE_PEM) != 1) {
		err_to(errbuf, len, "cannot load private key", key_file);
		goto fail;
	}
	if (SSL_CTX_check_private_key(c) != 1) {
		snprintf(errbuf, len, "private key '%s' does not match certificate '%s'", key_file, cert_file);
		ERR_clear_error();
		goto fail;
	}
	return ctx_wrap(c);
fail:
	SSL_CTX_free(c);
	return NULL;
}

struct net_tls_ctx *net_tls_client_ctx_new(const char *ca_file, char *errbuf, size_t len)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	if (!c) {
		snprintf(errbuf, len, "out of memory");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	int ok = ca_file ? SSL_CTX_load_verify_locations(c, ca_file, NULL)
			 : SSL_CTX_load_verify_locations(c, "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs");
	if (ok != 1) {
		err_to(errbuf, len, "cannot load CA certificates", ca_file ? ca_file : "/etc/ssl/certs");
		SSL_CTX_free(c);
		return NULL;
	}
	return ctx_wrap(c);
}

struct net_tls_ctx *net_tls_ctx_ref(struct net_tls_ctx *ctx)
{
	atomic_fetch_add(&ctx->refs, 1);
	return ctx;
}

void net_tls_ctx_free(struct net_tls_ctx *ctx)
{
	if (ctx && atomic_fetch_sub(&ctx->refs, 1) == 1) {
		SSL_CTX_free(ctx->ctx);
		free(ctx);
	}
}

struct net_stream *net_stream_new(struct core_sock *s, struct net_tls_ctx *tls, bool server, const char *hostname,
				  int *err)
{
	struct net_stream *st = calloc(1, sizeof *st);
	if (!st)
		goto nomem;
	st->s = s;
	st->fd = -1;
	if (!tls)
		return st;
	st->ssl = SSL_new(tls->ctx);
	/* plain and sendbuf come with the first receive and send: a
	 * connection that sends nothing before it goes idle never has them. */
	if (!st->ssl || bios_get(st) != 0)
		goto fail;
	/* After the handshake the connection's copy of the configuration
	 * (certificate chain references, key, cipher and curve lists: 704 B
	 * per server connection, measured) is freed: nothing here reads it
	 * later, and we never renegotiate. */
	SSL_set_shed_handshake_config(st->ssl, 1);
	if (server) {
		SSL_set_accept_state(st->ssl);
	} else {
		SSL_set_connect_state(st->ssl);
		if (hostname) {
			SSL_set_tlsext_host_name(st->ssl, hostname);
			SSL_set1_host(st->ssl, hostname);
		}
	}
	return st;
fail:
	net_stream_close(st);
	*err = -ENOMEM;
	return NULL;
nomem:
	core_sock_close(s);
	*err = -ENOMEM;
	return NULL;
}

bool net_stream_is_tls(const struct net_stream *st) { return st->ssl != NULL; }
struct core_sock *net_stream_sock(struct net_stream *st) { return st->s; }
bool net_stream_recv_queued(const struct net_stream *st)
{
	if (st->ssl || !st->s)
		return false;
	return st->pend || core_sock_recv_queued(st->s);
}

const char *net_stream_tls_error(const struct net_stream *st) { return st->tls_err ? st->tls_err : ""; }

/* Sends everything the TLS engine has queued: what a try left in sendbuf,
 * then the engine's buffer. wait false: what the socket takes within
 * timeout_ms (0: now), returning 1 when bytes are left; wait true: all of
 * it, or -ETIMEDOUT. Caller holds the write lock. */
static int flush_tls_some(struct net_stream *st, bool wait, int timeout_ms)
{
	uint64_t deadline = core_deadline_ns(timeout_ms);
	for (;;) {
		if (st->sb_off == st->sb_len) {
			size_t want = bio_pending(st->wbio);
			if (!want)
				return 0;
			if (want > TLS_SEND_BUF)
				want = TLS_SEND_BUF;
			if (st->sb_cap < want) {
				size_t cap = (want + TLS_SEND_STEP - 1) / TLS_SEND_STEP * TLS_SEND_STEP;
				cap = cap < TLS_SEND_BUF ? cap : TLS_SEND_BUF;
				uint8_t *nb = realloc(st->sendbuf, cap); /* empty: nothing to keep */
				if (!nb)
					return -ENOMEM;
				st->sendbuf = nb;
				st->sb_cap = cap;
			}
			int n = BIO_read(st->wbio, st->sendbuf, (int)st->sb_cap);
			if (n <= 0)
				return 0;
			st->sb_off = 0;
			st->sb_len = (size_t)n;
		}
		struct iovec iov = {.iov_base = st->sendbuf + st->sb_off, .iov_len = st->sb_len - st->sb_off};
		/* One budget for the whole flush, not one per record. */
		int r = core_sock_sendv_for(st->s, &iov, 1, core_deadline_left_ms(deadline));
		if (r < 0)
			return r;
		st->sb_off += (size_t)r;
		if (st->sb_off < st->sb_len) {
			if (!wait)
				return 1;
			if (core_deadline_left_ms(deadline) == 0)
				return -ETIMEDOUT;
		}
	}
}

static int flush_tls(struct net_stream *st, int timeout_ms)
{
	return flush_tls_some(st, true, timeout_ms);
}

static int flush_tls_locked(struct net_stream *st, int timeout_ms)
{
	if (!bio_pending(st->wbio) && st->sb_off == st->sb_len)
		return 0;
	int r = core_mutex_lock(&st->wl, timeout_ms);
	if (r < 0)
		return r;
	r = flush_tls(st, timeout_ms);
	core_mutex_unlock(&st->wl);
	return r;
}

/* The reader's flush of records the engine made while reading (TLS 1.3
 * tickets, key updates): skipped while a writer holds the lock, which
 * drains the engine's whole buffer itself -- a forwarder stuck on a
 * client that reads slowly must not stop that client's own reader (its
 * pongs included) for up to --write-timeout. */
static int reader_flush(struct net_stream *st, int timeout_ms)
{
	return core_mutex_held(&st->wl) ? 0 : flush_tls_locked(st, timeout_ms);
}

/* Reads one lease of ciphertext into the TLS engine. */
static int pull_tls(struct net_stream *st, int timeout_ms)
{
	struct core_buf b;
	int n = core_sock_recv(st->s, &b, timeout_ms);
	if (n <= 0)
		return n == 0 ? -ECONNRESET : n;
	if (bios_get(st) != 0) {
		core_buf_release(&b);
		return -ENOMEM;
	}
	int w = BIO_write(st->rbio, b.data, (int)b.len);
	core_buf_release(&b);
	return w == n ? 0 : -ENOMEM;
}

/* Plaintext buffers come from a process-wide pool of mapped slabs, not
 * from the heap: a trimmed heap chunk would leave its touched pages
 * resident in a hole between live objects (850 B per idle connection
 * at 9,000 wss:// sessions, measured against mapped buffers), and a
 * mapping per buffer would cost a VMA per busy stream (vm.max_map_count is
 * 65,530; each connection's stack already takes two). A freed buffer's
 * pages go back to the kernel (one madvise per idle spell, as the stack's);
 * slabs stay mapped: address space for the most streams ever busy at once.
 * Streams move between reactors, hence one pool and a mutex, taken once per
 * idle spell. */
#define PLAIN_SLAB_BUFS 64

static pthread_mutex_t plain_mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t **plain_pool;      /* free buffers */
static size_t plain_num_free, plain_num_all;

static uint8_t *plain_new(void)
{
	uint8_t *p = NULL;
	pthread_mutex_lock(&plain_mu);
	if (!plain_num_free) {
		/* The free list can hold every buffer: a free never fails. */
		uint8_t **pool = realloc(plain_pool, (plain_num_all + PLAIN_SLAB_BUFS) * sizeof *pool);
		if (!pool)
			goto out;
		plain_pool = pool;
		void *slab = mmap(NULL, (size_t)PLAIN_SLAB_BUFS * TLS_PLAIN_BUF, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (slab == MAP_FAILED)
			goto out;
		for (size_t i = 0; i < PLAIN_SLAB_BUFS; i++)
			plain_pool[plain_num_free++] = (uint8_t *)slab + i * TLS_PLAIN_BUF;
		plain_num_all += PLAIN_SLAB_BUFS;
	}
	p = plain_pool[--plain_num_free];
out:
	pthread_mutex_unlock(&plain_mu);
	return p;
}

static void plain_free(uint8_t *p)
{
	if (!p)
		return;
	madvise(p, TLS_PLAIN_BUF, MADV_DONTNEED);
	pthread_mutex_lock(&plain_mu);
	plain_pool[plain_num_free++] = p;
	pthread_mutex_unlock(&plain_mu);
}

/* The receive's wait for ciphertext: 1 when the engine got more, 0 at the
 * end of the stream (st->eof set), or -errno. */
static int pull_more(struct net_stream *st, uint64_t deadline)
{
	int left = core_deadline_left_ms(deadline);
	if (left == 0)
		return -ETIMEDOUT;
	int pr = pull_tls(st, left);
	if (pr == -ECONNRESET) {
		st->eof = true; /* EOF without close_notify: treat as end */
		return 0;
	}
	return pr < 0 ? pr : 1;
}

int net_stream_handshake(struct net_stream *st, int timeout_ms)
{
	uint64_t deadline = core_deadline_ns(timeout_ms);
	if (!st->ssl)
		return 0;
	if (bios_get(st) != 0)
		return -ENOMEM;
	for (;;) {
		int r = SSL_do_handshake(st->ssl);
		int fr = flush_tls_locked(st, timeout_ms);
		if (fr < 0)
			return fr;
		if (r == 1)
			return 0;
		int e = SSL_get_error(st->ssl, r);
		if (e != SSL_ERROR_WANT_READ) {
			tls_errstr(st, "TLS handshake failed");
			return -EPROTO;
		}
		int left = core_deadline_left_ms(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		int pr = pull_tls(st, left);
		if (pr < 0)
			return pr;
	}
}

int net_stream_feed(struct net_stream *st, const uint8_t *data, size_t len)
{
	if (!len)
		return 0;
	uint8_t *p = malloc(st->pend_len + len);
	if (!p)
		return -ENOMEM;
	memcpy(p, data, len);
	if (st->pend_len)
		memcpy(p + len, st->pend, st->pend_len);
	free(st->pend);
	st->pend = p;
	st->pend_len += len;
	return 0;
}

int net_stream_feed_wire(struct net_stream *st, const uint8_t *data, size_t len)
{
	if (!len)
		return 0;
	if (st->ssl) /* ciphertext: the engine's read BIO comes before the socket */
		return bios_get(st) == 0 && BIO_write(st->rbio, data, (int)len) == (int)len ? 0 : -ENOMEM;
	/* After what was fed this way before: wire order. */
	uint8_t *p = realloc(st->pend, st->pend_len + len);
	if (!p)
		return -ENOMEM;
	memcpy(p + st->pend_len, data, len);
	st->pend = p;
	st->pend_len += len;
	return 0;
}

int net_stream_recv(struct net_stream *st, struct net_chunk *out, int timeout_ms)
{
	out->lease.gid = CORE_BUF_NONE;
	if (st->pend) {
		/* Handed out whole; net_stream_release frees it. */
		out->data = st->pend;
		out->len = st->pend_len;
		st->pend = NULL;
		st->pend_len = 0;
		out->lease.data = out->data; /* marks "free me" for release */
		return (int)out->len;
	}
	if (!st->ssl) {
		int n = core_sock_recv(st->s, &out->lease, timeout_ms);
		out->data = out->lease.data;
		out->len = n > 0 ? (size_t)n : 0;
		return n;
	}
	if (st->eof)
		return 0;
	uint64_t deadline = core_deadline_ns(timeout_ms);
	for (;;) {
		if (!st->plain) {
			/* Trimmed (net_stream_trim): wait for ciphertext before
			 * taking the buffer back, so an idle wait holds none. The
			 * engine reads no further ahead than the record it needs,
			 * so with nothing decrypted and nothing in the read BIO,
			 * SSL_read could only ask for more. */
			if (!SSL_has_pending(st->ssl) && !bio_pending(st->rbio)) {
				int pr = pull_more(st, deadline);
				if (pr != 1)
					return pr;
			}
			if (!(st->plain = plain_new()))
				return -ENOMEM;
		}
		if (bios_get(st) != 0)
			return -ENOMEM;
		int r = SSL_read(st->ssl, st->plain, TLS_PLAIN_BUF);
		if (r > 0) {
			/* Reading may have produced records to send (TLS 1.3 key
			 * updates, tickets). */
			reader_flush(st, timeout_ms);
			out->data = st->plain;
			out->len = (size_t)r;
			out->lease.data = NULL;
			return r;
		}
		int e = SSL_get_error(st->ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN) {
			st->eof = true;
			return 0;
		}
		if (e != SSL_ERROR_WANT_READ) {
			tls_errstr(st, "TLS read failed");
			return -EPROTO;
		}
		int fr = reader_flush(st, timeout_ms);
		if (fr < 0)
			return fr;
		int pr = pull_more(st, deadline);
		if (pr != 1)
			return pr;
	}
}

void net_stream_release(struct net_stream *st, struct net_chunk *c)
{
	(void)st;
	if (c->lease.gid != CORE_BUF_NONE)
		core_buf_release(&c->lease);
	else if (c->lease.data)
		free(c->lease.data); /* a fed-back buffer */
	c->lease.data = NULL;
	c->lease.gid = CORE_BUF_NONE;
	c->data = NULL;
	c->len = 0;
}

int net_stream_lock_write(struct net_stream *st, int timeout_ms)
{
	return core_mutex_lock(&st->wl, timeout_ms);
}

void net_stream_unlock_write(struct net_stream *st)
{
	core_mutex_unlock(&st->wl);
}

/* Seals len bytes as TLS records (SSL_write takes them all into the memory
 * BIO at once) and sends them. Suspends in the send only. */
static int write_records(struct net_stream *st, const uint8_t *p, size_t len, uint64_t deadline)
{
	while (len) {
		int chunk = len > TLS_PLAIN_BUF ? TLS_PLAIN_BUF : (int)len;
		int w = SSL_write(st->ssl, p, chunk);
		if (w <= 0) {
			tls_errstr(st, "TLS write failed");
			return -EPROTO;
		}
		p += w;
		len -= (size_t)w;
		/* Keep the engine's buffer small: send each record. */
		int r = flush_tls(st, core_deadline_left_ms(deadline));
		if (r < 0)
			return r;
	}
	return 0;
}

/* Where the pieces of one sendv are gathered into whole records: a frame
 * header and its payload make one record, not two (each record costs a
 * header, a tag, a send and the peer's decrypt call). Per thread, not per
 * stream: it is only used between the copy and SSL_write, which does not
 * suspend, so no coroutine can find it half full. */
static _Thread_local uint8_t tls_stage[TLS_PLAIN_BUF];

int net_stream_sendv_locked(struct net_stream *st, struct iovec *iov, int n, int timeout_ms)
{
	if (!st->s)
		return -EPIPE;
	if (!st->ssl) {
		int r = core_sock_sendv(st->s, iov, n, timeout_ms);
		return r < 0 ? r : 0;
	}
	if (bios_get(st) != 0)
		return -ENOMEM;
	uint64_t deadline = core_deadline_ns(timeout_ms);
	size_t staged = 0;
	for (int i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;
		while (left) {
			if (!staged && left >= TLS_PLAIN_BUF) {
				/* Whole records straight from the caller's memory. */
				size_t whole = left - left % TLS_PLAIN_BUF;
				int r = write_records(st, p, whole, deadline);
				if (r < 0)
					return r;
				p += whole;
				left -= whole;
				continue;
			}
			size_t take = TLS_PLAIN_BUF - staged < left ? TLS_PLAIN_BUF - staged : left;
			memcpy(tls_stage + staged, p, take);
			staged += take;
			p += take;
			left -= take;
			if (staged == TLS_PLAIN_BUF) {
				int r = write_records(st, tls_stage, staged, deadline);
				if (r < 0)
					return r;
				staged = 0;
			}
		}
	}
	return staged ? write_records(st, tls_stage, staged, deadline) : 0;
}

int net_stream_sendv_try_locked(struct net_stream *st, const struct iovec *iov, int n, int wait_ms, size_t *consumed)
{
	*consumed = 0;
	if (!st->s)
		return -EPIPE;
	if (!st->ssl) {
		size_t total = 0;
		for (int i = 0; i < n; i++)
			total += iov[i].iov_len;
		int r = core_sock_sendv_for(st->s, iov, n, wait_ms);
		if (r < 0)
			return r;
		*consumed = (size_t)r;
		return (size_t)r < total ? 1 : 0;
	}
	if (bios_get(st) != 0)
		return -ENOMEM;
	/* Encrypt it all into the engine (the copy TLS makes anyway): the
	 * caller's memory is free at once, whatever the socket takes. */
	for (int i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;
		while (left) {
			int chunk = left > TLS_PLAIN_BUF ? TLS_PLAIN_BUF : (int)left;
			int w = SSL_write(st->ssl, p, chunk);
			if (w <= 0) {
				tls_errstr(st, "TLS write failed");
				return -EPROTO;
			}
			p += w;
			left -= (size_t)w;
			*consumed += (size_t)w;
		}
	}
	return flush_tls_some(st, false, wait_ms);
}

int net_stream_flush_locked(struct net_stream *st, int timeout_ms)
{
	if (!st->s)
		return -EPIPE;
	return st->ssl ? flush_tls(st, timeout_ms) : 0;
}

int net_stream_sendv(struct net_stream *st, struct iovec *iov, int n, int timeout_ms)
{
	uint64_t deadline = core_deadline_ns(timeout_ms);
	int r = core_mutex_lock(&st->wl, timeout_ms);
	if (r < 0)
		return r;
	r = net_stream_sendv_locked(st, iov, n, core_deadline_left_ms(deadline));
	core_mutex_unlock(&st->wl);
	return r;
}

int net_stream_send(struct net_stream *st, const void *data, size_t len, int timeout_ms)
{
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	return net_stream_sendv(st, &iov, 1, timeout_ms);
}

/* Keeps bytes taken off the socket (rest, consumed) for the next reads:
 * ciphertext goes into the TLS engine, plaintext after anything fed back
 * earlier. */
static int keep_received(struct net_stream *st, uint8_t *rest, size_t rest_len)
{
	int r = 0;
	if (rest_len) {
		if (st->ssl) {
			r = bios_get(st) == 0 && BIO_write(st->rbio, rest, (int)rest_len) == (int)rest_len ? 0 : -ENOMEM;
		} else if (!st->pend) {
			st->pend = rest; /* taken as is */
			st->pend_len = rest_len;
			return 0;
		} else {
			uint8_t *p = realloc(st->pend, st->pend_len + rest_len);
			if (!p) {
				r = -ENOMEM;
			} else {
				memcpy(p + st->pend_len, rest, rest_len);
				st->pend = p;
				st->pend_len += rest_len;
			}
		}
	}
	free(rest);
	return r;
}

int net_stream_detach(struct net_stream *st)
{
	uint8_t *rest = NULL;
	size_t rest_len = 0;
	int fd = core_sock_detach(st->s, &rest, &rest_len);
	st->s = NULL;
	if (fd < 0)
		return fd;
	st->fd = fd;
	return keep_received(st, rest, rest_len);
}

int net_stream_recv_pause(struct net_stream *st)
{
	uint8_t *rest = NULL;
	size_t rest_len = 0;
	if (!st->s)
		return -EPIPE;
	int r = core_sock_recv_pause(st->s, &rest, &rest_len);
	if (r < 0)
		return r;
	return keep_received(st, rest, rest_len);
}

/* Frees the spare capacity of an empty memory BIO. A mem BIO keeps its
 * buffer at the largest size it ever held (the handshake flight, or a whole
 * ring buffer of ciphertext on a busy connection); BUF_MEM is a public
 * struct and the BIO grows it again from NULL on the next write. */
static void bio_trim(BIO *b)
{
	BUF_MEM *m = NULL;
	if (!b || BIO_get_mem_ptr(b, &m) != 1 || !m || m->length)
		return;
	OPENSSL_free(m->data);
	m->data = NULL;
	m->max = 0;
}

void net_stream_trim(struct net_stream *st)
{
	if (!st->ssl)
		return;
	plain_free(st->plain);
	st->plain = NULL;
	bio_trim(st->rbio);
	bio_trim(st->wbio);
	/* A writer suspended in a send is sending from sendbuf, and looks
	 * at the write BIO again when it resumes. */
	if (core_mutex_held(&st->wl))
		return;
	if (st->sb_off == st->sb_len) {
		free(st->sendbuf);
		st->sendbuf = NULL;
		st->sb_off = st->sb_len = st->sb_cap = 0;
	}
	if (st->rbio && !bio_pending(st->rbio) && !bio_pending(st->wbio)) {
		SSL_set0_rbio(st->ssl, NULL); /* frees it */
		SSL_set0_wbio(st->ssl, NULL);
		st->rbio = st->wbio = NULL;
	}
}

size_t net_stream_tls_held_bytes(const struct net_stream *st)
{
	size_t n = 0;
	BUF_MEM *m = NULL;
	if (!st->ssl)
		return 0;
	n += st->plain ? TLS_PLAIN_BUF : 0;
	n += st->sb_cap;
	if (st->rbio && BIO_get_mem_ptr(st->rbio, &m) == 1 && m)
		n += m->max;
	m = NULL;
	if (st->wbio && BIO_get_mem_ptr(st->wbio, &m) == 1 && m)
		n += m->max;
	return n;
}

size_t net_stream_kept_bytes(const struct net_stream *st)
{
	return st->pend_len + (st->ssl ? bio_pending(st->rbio) : 0);
}

int net_stream_wait_readable(struct net_stream *st, int timeout_ms)
{
	if (st->pend || st->eof || (st->ssl && (SSL_has_pending(st->ssl) || bio_pending(st->rbio))))
		return 0;
	return st->s ? core_sock_wait_readable(st->s, timeout_ms) : -EPIPE;
}

int net_stream_wait_hangup(struct net_stream *st, int timeout_ms)
{
	return st->s ? core_sock_wait_hangup(st->s, timeout_ms) : -EPIPE;
}

int net_stream_attach(struct net_stream *st)
{
	int err = 0;
	st->s = core_sock_new(st->fd, &err);
	st->fd = -1;
	return st->s ? 0 : err;
}

void net_stream_interrupt(struct net_stream *st)
{
	if (st->s)
		core_sock_interrupt(st->s);
}

void net_stream_shutdown(struct net_stream *st)
{
	if (!st->s)
		return;
	if (st->ssl && SSL_is_init_finished(st->ssl) && bios_get(st) == 0) {
		SSL_shutdown(st->ssl);
		/* Best effort: a peer that stopped reading does not hold us. */
		if (core_mutex_lock(&st->wl, 200) == 0) {
			flush_tls(st, 200);
			core_mutex_unlock(&st->wl);
		}
	}
	core_sock_shutdown_write(st->s);
}

void net_stream_close(struct net_stream *st)
{
	if (!st)
		return;
	core_sock_close(st->s);
	if (st->fd >= 0)
		close(st->fd);
	SSL_free(st->ssl);
	plain_free(st->plain);
	free(st->sendbuf);
	free(st->pend);
	free(st->tls_err);
	free(st);
}
