/* bench/metrics.c: a relay's /metrics before and after a run
 * (bench/metrics.h). */
#include "bench/metrics.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/resolve.h"
#include "relay/http.h"

/* The families each figure sums (bench/metrics.h). */
static const struct {
	enum bench_metrics_fig fig;
	const char *name;
} families[] = {
	{BENCH_MET_SESSIONS, "atmosphere_relay_sessions_total"},
	{BENCH_MET_MESSAGES, "atmosphere_relay_messages_relayed_total"},
	{BENCH_MET_BYTES, "atmosphere_relay_bytes_relayed_total"},
	{BENCH_MET_DROPS, "atmosphere_relay_rejected_total"},
	{BENCH_MET_DROPS, "atmosphere_relay_closes_total"},
	{BENCH_MET_DROPS, "atmosphere_relay_stuck_shed_total"},
};

const char *bench_metrics_fig_name(enum bench_metrics_fig f)
{
	static const char *const names[BENCH_MET_NUM] = {"sessions", "messages", "bytes", "drops"};
	return f < BENCH_MET_NUM ? names[f] : "?";
}

int bench_metrics_parse_url(const char *url, struct bench_metrics_target *out, char *errbuf, size_t errbuf_len)
{
	memset(out, 0, sizeof *out);
	for (const char *q = url; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f) {
			snprintf(errbuf, errbuf_len, "a blank or control character in the URL");
			return -1;
		}
	if (strncmp(url, "http://", 7) != 0) {
		snprintf(errbuf, errbuf_len, "%s", !strncmp(url, "https://", 8) ? "https is not scraped: give an http:// URL"
										: "expected http://HOST[:PORT][/PATH]");
		return -1;
	}
	const char *h = url + 7, *slash = strchr(h, '/');
	size_t auth_len = slash ? (size_t)(slash - h) : strlen(h);
	const char *hend, *colon;
	if (auth_len && h[0] == '[') {
		const char *rb = memchr(h, ']', auth_len);
		if (!rb) {
			snprintf(errbuf, errbuf_len, "an IPv6 literal without ']'");
			return -1;
		}
		hend = rb;
		h++;
		colon = rb + 1 < url + 7 + auth_len ? rb + 1 : NULL;
		if (colon && *colon != ':') {
			snprintf(errbuf, errbuf_len, "text after ']' that is not ':PORT'");
			return -1;
		}
	} else {
		colon = memchr(h, ':', auth_len);
		hend = colon ? colon : h + auth_len;
	}
	size_t hl = (size_t)(hend - h);
	if (hl == 0 || hl > BENCH_METRICS_HOST_MAX) {
		snprintf(errbuf, errbuf_len, hl ? "host name too long" : "no host");
		return -1;
	}
	memcpy(out->host, h, hl);
	out->port = 80;
	if (colon) {
		const char *p = colon + 1, *pend = url + 7 + auth_len;
		unsigned long v = 0;
		if (p == pend) {
			snprintf(errbuf, errbuf_len, "no port after ':'");
			return -1;
		}
		for (; p < pend; p++) {
			if (*p < '0' || *p > '9' || (v = v * 10 + (unsigned long)(*p - '0')) > 65535) {
				snprintf(errbuf, errbuf_len, "the port must be 1 to 65535");
				return -1;
			}
		}
		if (v == 0) {
			snprintf(errbuf, errbuf_len, "the port must be 1 to 65535");
			return -1;
		}
		out->port = (uint16_t)v;
	}
	const char *path = slash ? slash : "/";
	if (strlen(path) > BENCH_METRICS_PATH_MAX) {
		snprintf(errbuf, errbuf_len, "path too long");
		return -1;
	}
	strcpy(out->path, path);
	return 0;
}

enum bench_prom_status bench_metrics_from_text(const char *body, size_t len, struct bench_metrics_snap *out,
					       struct bench_prom_error *err)
{
	struct bench_prom_cursor c;
	struct bench_prom_sample s;
	memset(out, 0, sizeof *out);
	enum bench_prom_status st = bench_prom_init(&c, body, len);
	if (st != BENCH_PROM_OK) {
		if (err) {
			*err = (struct bench_prom_error){.line = 0};
			snprintf(err->msg, sizeof err->msg, "%s", bench_prom_strerror(st));
		}
		return st;
	}
	/* Bounded: every sample consumes at least a line of the body. */
	while ((st = bench_prom_next(&c, &s, err)) == BENCH_PROM_OK)
		for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
			if (bench_prom_span_eq(s.name, families[i].name)) {
				out->found[families[i].fig] = true;
				out->v[families[i].fig] += s.value;
			}
	return st == BENCH_PROM_END ? BENCH_PROM_OK : st;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits for fd to be ready for events until deadline (ms). Returns 0,
 * -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, (int)(deadline - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* Connects to t with a deadline; returns the fd or -errno. */
static int connect_to(const struct bench_metrics_target *t, uint64_t deadline, char *why, size_t why_len)
{
	struct sockaddr_storage a;
	socklen_t alen;
	char rerr[300];
	if (net_resolve_now(t->host, t->port, SOCK_STREAM, false, &a, &alen, rerr, sizeof rerr) != 0) {
		snprintf(why, why_len, "%s", rerr);
		return -ENOENT;
	}
	int fd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int e = -errno;
		snprintf(why, why_len, "socket: %s", strerror(-e));
		return e;
	}
	int rc = connect(fd, (struct sockaddr *)&a, alen) == 0 ? 0 : -errno;
	if (rc == -EINPROGRESS) {
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		rc = wait_fd(fd, POLLOUT, deadline);
		if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0)
			rc = -soerr;
	}
	if (rc < 0) {
		snprintf(why, why_len, "connect: %s", strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}

/* Sends the request and reads the answer into a heap buffer (*out, *out_len)
 * until EOF, or until the head and Content-Length bytes arrived. */
static int exchange(int fd, const struct bench_metrics_target *t, uint64_t deadline, char **out, size_t *out_len,
		    char *why, size_t why_len)
{
	char req[BENCH_METRICS_HOST_MAX + BENCH_METRICS_PATH_MAX + 128];
	bool v6 = strchr(t->host, ':') != NULL;
	int rl = snprintf(req, sizeof req,
			  "GET %s HTTP/1.1\r\nHost: %s%s%s:%u\r\nAccept: text/plain\r\nConnection: close\r\n\r\n", t->path,
			  v6 ? "[" : "", t->host, v6 ? "]" : "", t->port);
	for (size_t done = 0; done < (size_t)rl;) {
		ssize_t n = send(fd, req + done, (size_t)rl - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN) {
			int rc = wait_fd(fd, POLLOUT, deadline);
			if (rc < 0) {
				snprintf(why, why_len, "send: %s", strerror(-rc));
				return rc;
			}
			continue;
		}
		if (n < 0) {
			int e = errno;
			snprintf(why, why_len, "send: %s", strerror(e));
			return -e;
		}
		done += (size_t)n;
	}
	size_t cap = 16384, len = 0, want = SIZE_MAX;
	const size_t max = (size_t)BENCH_PROM_BODY_MAX + RELAY_HTTP_MAX_HEADER_BYTES;
	char *b = malloc(cap);
	if (!b) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	/* Bounded by max bytes and the deadline. */
	while (len < want) {
		if (len == cap) {
			if (cap >= max) {
				snprintf(why, why_len, "answer longer than %zu bytes", max);
				free(b);
				return -EMSGSIZE;
			}
			char *nb = realloc(b, cap * 2);
			if (!nb) {
				snprintf(why, why_len, "out of memory");
				free(b);
				return -ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
		ssize_t n = recv(fd, b + len, cap - len, 0);
		if (n < 0 && errno == EAGAIN) {
			int rc = wait_fd(fd, POLLIN, deadline);
			if (rc < 0) {
				snprintf(why, why_len, "reading the answer: %s", strerror(-rc));
				free(b);
				return rc;
			}
			continue;
		}
		if (n < 0) {
			int e = errno;
			snprintf(why, why_len, "reading the answer: %s", strerror(e));
			free(b);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (want == SIZE_MAX) {
			struct relay_http_resp resp;
			int hl = relay_http_parse_response(&resp, (const uint8_t *)b, len);
			if (hl > 0 && resp.has_content_length && resp.content_length <= max)
				want = (size_t)hl + (size_t)resp.content_length;
		}
	}
	*out = b;
	*out_len = len;
	return 0;
}

int bench_metrics_scrape(const struct bench_metrics_target *t, struct bench_metrics_snap *out, char *why,
			 size_t why_len)
{
	uint64_t deadline = now_ms() + BENCH_METRICS_TIMEOUT_MS;
	char *b = NULL;
	size_t len = 0;
	int rc = -1;
	memset(out, 0, sizeof *out);
	int fd = connect_to(t, deadline, why, why_len);
	if (fd < 0)
		return -1;
	if (exchange(fd, t, deadline, &b, &len, why, why_len) < 0)
		goto out;
	struct relay_http_resp resp;
	int hl = relay_http_parse_response(&resp, (const uint8_t *)b, len);
	if (hl <= 0) {
		snprintf(why, why_len, "%s", hl == RELAY_HTTP_INCOMPLETE ? "the answer ended inside its head"
									 : "the answer is not HTTP");
		goto out;
	}
	if (resp.status != 200) {
		snprintf(why, why_len, "HTTP %d", resp.status);
		goto out;
	}
	if (resp.has_transfer_encoding) {
		snprintf(why, why_len, "a chunked body (not read)");
		goto out;
	}
	size_t body = len - (size_t)hl;
	if (resp.has_content_length && resp.content_length != body) {
		snprintf(why, why_len, "the body ended after %zu of %llu bytes", body,
			 (unsigned long long)resp.content_length);
		goto out;
	}
	struct bench_prom_error perr;
	if (bench_metrics_from_text(b + hl, body, out, &perr) != BENCH_PROM_OK) {
		snprintf(why, why_len, "not Prometheus text: line %zu: %s", perr.line, perr.msg);
		goto out;
	}
	rc = 0;
out:
	free(b);
	close(fd);
	return rc;
}
