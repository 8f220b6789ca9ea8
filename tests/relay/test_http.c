/* relay/http: request and response heads parsed field by field, every proper
 * prefix incomplete and heads ending against a PROT_NONE page, every byte
 * class in every position, the limits, the RFC 6455 §4 handshake both ways
 * (with the RFC's accept example), routing, and the builders' room checks. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "relay/http.h"

/* Copies len bytes so that they end where a PROT_NONE page begins: a read
 * past the end faults. Release with guard_free. */
static uint8_t *guarded_copy(const void *src, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (len + page - 1) / page * page + page;
	uint8_t *base = mmap(NULL, span + page, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(base, MAP_FAILED);
	cr_assert_eq(mprotect(base + span, page, PROT_NONE), 0);
	uint8_t *p = base + span - len;
	if (len)
		memcpy(p, src, len);
	return p;
}

static void guard_free(uint8_t *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (len + page - 1) / page * page + page;
	munmap(p + len - span, span + page);
}

static int parse_req_str(struct relay_http_req *r, const char *s)
{
	return relay_http_parse_request(r, (const uint8_t *)s, strlen(s));
}

static bool span_is(struct relay_http_span s, const char *want)
{
	if (!want)
		return s.ptr == NULL;
	return s.ptr && s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

#define cr_assert_span(s, want)                                                        \
	do {                                                                           \
		const char *want_ = (want);                                            \
		cr_assert(span_is((s), want_), "%s is \"%.*s\", want \"%s\"", #s,     \
			  (int)(s).len, (s).ptr ? (s).ptr : "(absent)",                 \
			  want_ ? want_ : "(absent)");                                  \
	} while (0)

/* RFC 6455 §1.2 / §4.1: the sample opening handshake. */
#define RFC_REQUEST                                                                  \
	"GET /chat HTTP/1.1\r\n"                                                     \
	"Host: server.example.com\r\n"                                               \
	"Upgrade: websocket\r\n"                                                     \
	"Connection: Upgrade\r\n"                                                    \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                            \
	"Origin: http://example.com\r\n"                                             \
	"Sec-WebSocket-Protocol: chat, superchat\r\n"                                \
	"Sec-WebSocket-Version: 13\r\n"                                              \
	"\r\n"
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define RFC_RESPONSE                                                                 \
	"HTTP/1.1 101 Switching Protocols\r\n"                                       \
	"Upgrade: websocket\r\n"                                                     \
	"Connection: Upgrade\r\n"                                                    \
	"Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"                                   \
	"\r\n"

/* A relay upgrade with every field the relay reads. */
#define RELAY_REQUEST                                                                \
	"GET /relay/abc_DEF-123?v=1 HTTP/1.1\r\n"                                    \
	"host:relay.example.com:8443 \r\n"                                           \
	"UPGRADE: WebSocket\r\n"                                                     \
	"Connection: keep-alive,  Upgrade\r\n"                                       \
	"Sec-WebSocket-Version: 13\r\n"                                              \
	"sec-websocket-key:   x3JJHMbDL1EzLkh9GBhXDw==\t\r\n"                        \
	"X-Forwarded-For: 198.51.100.1\r\n"                                          \
	"X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\n"                                 \
	"Content-Length: 0\r\n"                                                      \
	"\r\n"

Test(relay_http, parses_rfc6455_sample_request_field_by_field)
{
	struct relay_http_req r;
	const char *s = RFC_REQUEST;
	uint8_t *buf = guarded_copy(s, strlen(s));
	int n = relay_http_parse_request(&r, buf, strlen(s));
	cr_assert_eq(n, (int)strlen(s));
	cr_assert_span(r.method, "GET");
	cr_assert_span(r.target, "/chat");
	cr_assert_eq(r.minor_version, 1);
	cr_assert_span(r.host, "server.example.com");
	cr_assert(r.upgrade_websocket);
	cr_assert(r.connection_upgrade);
	cr_assert_span(r.ws_key, "dGhlIHNhbXBsZSBub25jZQ==");
	cr_assert_span(r.ws_version, "13");
	cr_assert_span(r.x_forwarded_for, NULL);
	cr_assert_not(r.has_content_length);
	cr_assert_not(r.has_transfer_encoding);
	cr_assert_eq(r.num_headers, 7);
	cr_assert_span(r.headers[4].name, "Origin");
	cr_assert_span(r.headers[4].value, "http://example.com");
	cr_assert_span(r.headers[5].value, "chat, superchat");
	/* Spans point into the input. */
	cr_assert_eq((const uint8_t *)r.method.ptr, buf);
	cr_assert_eq((const uint8_t *)r.ws_key.ptr, buf + (strstr(s, "dGhlIHNh") - s));

	char accept[RELAY_HTTP_ACCEPT_LEN + 1];
	cr_assert_eq(relay_http_check_upgrade(accept, &r), RELAY_HTTP_OK);
	cr_assert_str_eq(accept, RFC_ACCEPT);
	guard_free(buf, strlen(s));
}

Test(relay_http, parses_relay_request_with_case_and_whitespace_variants)
{
	struct relay_http_req r;
	int n = parse_req_str(&r, RELAY_REQUEST "leftover frame bytes");
	cr_assert_eq(n, (int)strlen(RELAY_REQUEST), "head length %d", n);
	cr_assert_span(r.target, "/relay/abc_DEF-123?v=1");
	cr_assert_span(r.host, "relay.example.com:8443");
	cr_assert(r.upgrade_websocket);
	cr_assert(r.connection_upgrade);
	cr_assert_span(r.ws_key, "x3JJHMbDL1EzLkh9GBhXDw==");
	cr_assert_span(r.x_forwarded_for, "203.0.113.7, 10.0.0.1");
	cr_assert(r.has_content_length);
	cr_assert_eq(r.content_length, 0);
	cr_assert_eq(r.num_headers, 8);

	const struct relay_http_header *h =
		relay_http_header_find(r.headers, r.num_headers, "x-forwarded-FOR");
	cr_assert_not_null(h);
	cr_assert_span(h->value, "198.51.100.1");
	cr_assert_null(relay_http_header_find(r.headers, r.num_headers, "Origin"));

	char accept[RELAY_HTTP_ACCEPT_LEN + 1];
	cr_assert_eq(relay_http_check_upgrade(accept, &r), RELAY_HTTP_OK);
	/* RFC 6455 §1.3's second example key. */
	cr_assert_str_eq(accept, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");

	struct relay_http_span id;
	cr_assert_eq(relay_http_route(&id, &r), RELAY_HTTP_ROUTE_RELAY);
	cr_assert_span(id, "abc_DEF-123");
}

Test(relay_http, every_proper_prefix_is_incomplete)
{
	static const char *const heads[] = {
		RFC_REQUEST, RELAY_REQUEST, "GET / HTTP/1.0\r\n\r\n", "GET /health HTTP/1.1\r\nHost:\r\n\r\n",
	};
	for (size_t k = 0; k < sizeof heads / sizeof heads[0]; k++) {
		size_t len = strlen(heads[k]);
		for (size_t cut = 0; cut < len; cut++) {
			struct relay_http_req r;
			uint8_t *buf = guarded_copy(heads[k], cut);
			int rc = relay_http_parse_request(&r, buf, cut);
			cr_assert_eq(rc, RELAY_HTTP_INCOMPLETE, "head %zu cut at %zu gives %d (%s)", k,
				     cut, rc, relay_http_strerror(rc));
			guard_free(buf, cut);
		}
		struct relay_http_req r;
		uint8_t *buf = guarded_copy(heads[k], len);
		cr_assert_eq(relay_http_parse_request(&r, buf, len), (int)len, "head %zu", k);
		guard_free(buf, len);
	}
}

Test(relay_http, every_proper_prefix_of_a_response_is_incomplete)
{
	static const char *const heads[] = {
		RFC_RESPONSE, "HTTP/1.1 204\r\n\r\n", "HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\n\r\n",
	};
	for (size_t k = 0; k < sizeof heads / sizeof heads[0]; k++) {
		size_t len = strlen(heads[k]);
		for (size_t cut = 0; cut < len; cut++) {
			struct relay_http_resp r;
			uint8_t *buf = guarded_copy(heads[k], cut);
			int rc = relay_http_parse_response(&r, buf, cut);
			cr_assert_eq(rc, RELAY_HTTP_INCOMPLETE, "head %zu cut at %zu gives %d", k, cut, rc);
			guard_free(buf, cut);
		}
		struct relay_http_resp r;
		uint8_t *buf = guarded_copy(heads[k], len);
		cr_assert_eq(relay_http_parse_response(&r, buf, len), (int)len, "head %zu", k);
		guard_free(buf, len);
	}
}

/* ------------------------------------------------------------------ */
/* Every byte in every position: the head template has one '@' where the
 * byte goes; ok() says whether the byte is allowed there. */

static bool is_tchar(unsigned c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", (int)c));
}
static bool is_vchar_or_obs(unsigned c)
{
	return c > 0x20 && c != 0x7f;
}
static bool in_value(unsigned c)
{
	return c == '\t' || c == ' ' || is_vchar_or_obs(c);
}
static bool in_target(unsigned c)
{
	return c > 0x20 && c < 0x7f;
}
static bool in_host(unsigned c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("-._~!$&'()*+,;=:%[]", (int)c));
}
/* A ':' in a name ends it early, leaving a valid line. */
static bool in_name(unsigned c)
{
	return is_tchar(c) || c == ':';
}

struct byte_position {
	char name[32];
	char head[96];
	int bad;                 /* error for a refused byte */
	int which;               /* 0 tchar, 1 target, 2 name, 3 value, 4 host */
};

static struct byte_position positions[] = {
	{ "method", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST, 0 },
	{ "target", "GET /re@ay HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST, 1 },
	{ "field name", "GET / HTTP/1.1\r\nHost: a\r\nX-T@st: v\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST, 2 },
	{ "field value", "GET / HTTP/1.1\r\nHost: a\r\nX-Test: a@b\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST, 3 },
	{ "host", "GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", RELAY_HTTP_E_BAD_HOST, 4 },
};

ParameterizedTestParameters(relay_http, refuses_forbidden_bytes_in_each_position)
{
	return cr_make_param_array(struct byte_position, positions,
				   sizeof positions / sizeof positions[0]);
}

ParameterizedTest(struct byte_position *p, relay_http, refuses_forbidden_bytes_in_each_position)
{
	size_t len = strlen(p->head);
	size_t at = (size_t)(strchr(p->head, '@') - p->head);
	for (unsigned c = 0; c < 256; c++) {
		bool ok;
		switch (p->which) {
		case 0: ok = is_tchar(c); break;
		case 1: ok = in_target(c); break;
		case 2: ok = in_name(c); break;
		case 3: ok = in_value(c); break;
		default: ok = in_host(c); break;
		}
		/* In Host, bytes no field value may hold fail as syntax. */
		int bad = p->which == 4 && !in_value(c) ? RELAY_HTTP_E_BAD_REQUEST : p->bad;
		uint8_t *buf = guarded_copy(p->head, len);
		buf[at] = (uint8_t)c;
		struct relay_http_req r;
		int rc = relay_http_parse_request(&r, buf, len);
		if (ok)
			cr_assert_eq(rc, (int)len, "%s: byte 0x%02x refused with %d (%s)", p->name, c, rc,
				     relay_http_strerror(rc));
		else
			cr_assert_eq(rc, bad, "%s: byte 0x%02x gives %d (%s), want %d", p->name, c, rc,
				     relay_http_strerror(rc), bad);
		guard_free(buf, len);
	}
}

Test(relay_http, refuses_forbidden_bytes_in_reason_phrase)
{
	char head[] = "HTTP/1.1 200 O@\r\n\r\n";
	size_t len = strlen(head);
	for (unsigned c = 0; c < 256; c++) {
		head[14] = (char)c;
		struct relay_http_resp r;
		int rc = relay_http_parse_response(&r, (const uint8_t *)head, len);
		if (in_value(c))
			cr_assert_eq(rc, (int)len, "byte 0x%02x", c);
		else
			cr_assert_eq(rc, RELAY_HTTP_E_BAD_REQUEST, "byte 0x%02x gives %d", c, rc);
	}
}

/* ------------------------------------------------------------------ */
/* Malformed heads, each with its error. */

struct bad_request {
	char name[48];
	char head[200];
	int want;
};

static struct bad_request bad_requests[] = {
	{ "empty method", " / HTTP/1.1\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "leading empty line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "tab after method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "empty target", "GET  HTTP/1.1\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "no version", "GET /\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "version without minor", "GET / HTTP/1\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "two-digit minor", "GET / HTTP/1.10\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "HTTP/2.0", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", RELAY_HTTP_E_BAD_VERSION },
	{ "HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", RELAY_HTTP_E_BAD_VERSION },
	{ "bare LF after request line", "GET / HTTP/1.1\nHost: a\n\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "space before CRLF", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "bare LF in field line", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "bare CR in field line", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "obsolete folding", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "no colon", "GET / HTTP/1.1\r\nHost: a\r\nJunk\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "empty name", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST },
	{ "missing Host in 1.1", "GET / HTTP/1.1\r\nX: y\r\n\r\n", RELAY_HTTP_E_BAD_HOST },
	{ "two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", RELAY_HTTP_E_BAD_HOST },
	{ "Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", RELAY_HTTP_E_BAD_HOST },
	{ "Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", RELAY_HTTP_E_BAD_HOST },
	{ "Content-Length twice", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
	  RELAY_HTTP_E_BAD_CONTENT_LENGTH },
	{ "Content-Length list", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n",
	  RELAY_HTTP_E_BAD_CONTENT_LENGTH },
	{ "Content-Length signed", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n",
	  RELAY_HTTP_E_BAD_CONTENT_LENGTH },
	{ "Content-Length empty", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
	  RELAY_HTTP_E_BAD_CONTENT_LENGTH },
	{ "Content-Length 2^64", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n",
	  RELAY_HTTP_E_BAD_CONTENT_LENGTH },
	{ "Transfer-Encoding and Content-Length",
	  "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
	  RELAY_HTTP_E_BAD_FRAMING },
	{ "Transfer-Encoding in 1.0", "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	  RELAY_HTTP_E_BAD_FRAMING },
	{ "Sec-WebSocket-Key twice", "GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: a\r\nSec-WebSocket-Key: a\r\n\r\n",
	  RELAY_HTTP_E_DUPLICATE_FIELD },
	{ "Sec-WebSocket-Version twice",
	  "GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n\r\n",
	  RELAY_HTTP_E_DUPLICATE_FIELD },
	{ "TLS ClientHello", "\x16\x03\x01\x02\x00\x01", RELAY_HTTP_E_BAD_REQUEST },
};

ParameterizedTestParameters(relay_http, rejects_malformed_requests)
{
	return cr_make_param_array(struct bad_request, bad_requests,
				   sizeof bad_requests / sizeof bad_requests[0]);
}

ParameterizedTest(struct bad_request *b, relay_http, rejects_malformed_requests)
{
	struct relay_http_req r;
	size_t len = strlen(b->head);
	uint8_t *buf = guarded_copy(b->head, len);
	int rc = relay_http_parse_request(&r, buf, len);
	cr_assert_eq(rc, b->want, "%s: got %d (%s), want %d (%s)", b->name, rc,
		     relay_http_strerror(rc), b->want, relay_http_strerror(b->want));
	cr_assert_neq(relay_http_err_status(rc), 0, "%s: no status for %d", b->name, rc);
	guard_free(buf, len);
}

Test(relay_http, accepts_empty_host_and_http10_without_host)
{
	struct relay_http_req r;
	cr_assert_gt(parse_req_str(&r, "GET / HTTP/1.1\r\nHost:\r\n\r\n"), 0);
	cr_assert_span(r.host, "");
	cr_assert_gt(parse_req_str(&r, "GET /stats HTTP/1.0\r\n\r\n"), 0);
	cr_assert_eq(r.minor_version, 0);
	cr_assert_span(r.host, NULL);
	cr_assert_eq(r.num_headers, 0);
	/* Higher minor versions are HTTP/1.1 to us (RFC 9110 §2.5). */
	cr_assert_gt(parse_req_str(&r, "GET / HTTP/1.9\r\nHost: a\r\n\r\n"), 0);
	cr_assert_eq(r.minor_version, 9);
}

Test(relay_http, returns_head_length_before_a_body)
{
	static const char head[] = "POST /health HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
	struct relay_http_req r;
	cr_assert_eq(parse_req_str(&r, "POST /health HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"),
		     (int)sizeof head - 1);
	cr_assert_eq(r.content_length, 5);
	cr_assert_eq(parse_req_str(&r, "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n"),
		     (int)strlen("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n"));
	cr_assert_eq(r.content_length, UINT64_MAX);
}

/* ------------------------------------------------------------------ */
/* Limits. */

/* Writes a request of exactly len bytes padded by one header, into buf. */
static size_t sized_request(char *buf, size_t len)
{
	static const char pre[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
	static const char post[] = "\r\n\r\n";
	size_t fixed = sizeof pre - 1 + sizeof post - 1;
	cr_assert_geq(len, fixed);
	memcpy(buf, pre, sizeof pre - 1);
	memset(buf + sizeof pre - 1, 'p', len - fixed);
	memcpy(buf + len - (sizeof post - 1), post, sizeof post - 1);
	return len;
}

Test(relay_http, limits_header_block_size)
{
	char *buf = malloc(RELAY_HTTP_MAX_HEADER_BYTES * 2);
	struct relay_http_req r;
	size_t len = sized_request(buf, RELAY_HTTP_MAX_HEADER_BYTES);
	cr_assert_eq(relay_http_parse_request(&r, (uint8_t *)buf, len), (int)len, "at the limit");
	/* Incomplete below the limit, too large at it. */
	cr_assert_eq(relay_http_parse_request(&r, (uint8_t *)buf, len - 1), RELAY_HTTP_INCOMPLETE);
	len = sized_request(buf, RELAY_HTTP_MAX_HEADER_BYTES + 1);
	cr_assert_eq(relay_http_parse_request(&r, (uint8_t *)buf, len - 1), RELAY_HTTP_E_TOO_LARGE);
	cr_assert_eq(relay_http_parse_request(&r, (uint8_t *)buf, len), RELAY_HTTP_E_TOO_LARGE);
	/* A request line that never ends. */
	memset(buf, 'A', RELAY_HTTP_MAX_HEADER_BYTES * 2);
	memcpy(buf, "GET /", 5);
	cr_assert_eq(relay_http_parse_request(&r, (uint8_t *)buf, RELAY_HTTP_MAX_HEADER_BYTES - 1),
		     RELAY_HTTP_INCOMPLETE);
	cr_assert_eq(relay_http_parse_request(&r, (uint8_t *)buf, RELAY_HTTP_MAX_HEADER_BYTES * 2),
		     RELAY_HTTP_E_TOO_LARGE);
	cr_assert_eq(relay_http_err_status(RELAY_HTTP_E_TOO_LARGE), 431);
	free(buf);
}

Test(relay_http, limits_number_of_headers)
{
	char buf[2048] = "GET / HTTP/1.1\r\nHost: a\r\n";
	for (int i = 1; i < RELAY_HTTP_MAX_HEADERS; i++)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "X-%d: v\r\n", i);
	size_t base = strlen(buf);
	struct relay_http_req r;
	strcat(buf, "\r\n");
	cr_assert_gt(parse_req_str(&r, buf), 0);
	cr_assert_eq(r.num_headers, RELAY_HTTP_MAX_HEADERS);
	strcpy(buf + base, "X-Last: v\r\n\r\n");
	cr_assert_eq(parse_req_str(&r, buf), RELAY_HTTP_E_TOO_MANY_HEADERS);
	cr_assert_eq(relay_http_err_status(RELAY_HTTP_E_TOO_MANY_HEADERS), 431);
}

/* ------------------------------------------------------------------ */
/* The server's handshake checks (RFC 6455 §4.2.1). */

struct upgrade_case {
	char name[48];
	char head[300];
	int want;
	int status;
};

#define UPGRADE_HEAD(method, version, fields)                                        \
	method " /relay/s HTTP/1." version "\r\nHost: a\r\n" fields "\r\n"
#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define VER "Sec-WebSocket-Version: 13\r\n"
#define UPG "Upgrade: websocket\r\n"
#define CONN "Connection: Upgrade\r\n"

static struct upgrade_case upgrade_cases[] = {
	{ "complete", UPGRADE_HEAD("GET", "1", UPG CONN KEY VER), RELAY_HTTP_OK, 0 },
	{ "upgrade among other tokens", UPGRADE_HEAD("GET", "1", "Upgrade: h2c, WEBSOCKET\r\n" CONN KEY VER),
	  RELAY_HTTP_OK, 0 },
	{ "connection over two lines", UPGRADE_HEAD("GET", "1", UPG "Connection: keep-alive\r\nConnection: ,upgrade,\r\n" KEY VER),
	  RELAY_HTTP_OK, 0 },
	{ "rejects POST", UPGRADE_HEAD("POST", "1", UPG CONN KEY VER), RELAY_HTTP_E_METHOD, 405 },
	{ "rejects lowercase get", UPGRADE_HEAD("get", "1", UPG CONN KEY VER), RELAY_HTTP_E_METHOD, 405 },
	{ "rejects HTTP/1.0", UPGRADE_HEAD("GET", "0", UPG CONN KEY VER), RELAY_HTTP_E_BAD_VERSION, 505 },
	{ "rejects missing upgrade", UPGRADE_HEAD("GET", "1", CONN KEY VER), RELAY_HTTP_E_NOT_UPGRADE, 426 },
	{ "rejects other protocol", UPGRADE_HEAD("GET", "1", "Upgrade: h2c\r\n" CONN KEY VER),
	  RELAY_HTTP_E_NOT_UPGRADE, 426 },
	{ "rejects websocket as substring", UPGRADE_HEAD("GET", "1", "Upgrade: websockets\r\n" CONN KEY VER),
	  RELAY_HTTP_E_NOT_UPGRADE, 426 },
	{ "rejects missing connection", UPGRADE_HEAD("GET", "1", UPG KEY VER),
	  RELAY_HTTP_E_NO_CONNECTION_UPGRADE, 400 },
	{ "rejects connection keep-alive", UPGRADE_HEAD("GET", "1", UPG "Connection: keep-alive\r\n" KEY VER),
	  RELAY_HTTP_E_NO_CONNECTION_UPGRADE, 400 },
	{ "rejects missing key", UPGRADE_HEAD("GET", "1", UPG CONN VER), RELAY_HTTP_E_BAD_KEY, 400 },
	{ "rejects empty key", UPGRADE_HEAD("GET", "1", UPG CONN "Sec-WebSocket-Key:\r\n" VER),
	  RELAY_HTTP_E_BAD_KEY, 400 },
	{ "rejects key of 10 bytes", UPGRADE_HEAD("GET", "1", UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\n" VER),
	  RELAY_HTTP_E_BAD_KEY, 400 },
	{ "rejects key of 17 bytes", UPGRADE_HEAD("GET", "1", UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZSE=\r\n" VER),
	  RELAY_HTTP_E_BAD_KEY, 400 },
	{ "rejects key not base64", UPGRADE_HEAD("GET", "1", UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q==\r\n" VER),
	  RELAY_HTTP_E_BAD_KEY, 400 },
	{ "rejects missing version", UPGRADE_HEAD("GET", "1", UPG CONN KEY), RELAY_HTTP_E_BAD_WS_VERSION, 426 },
	{ "rejects version 8", UPGRADE_HEAD("GET", "1", UPG CONN KEY "Sec-WebSocket-Version: 8\r\n"),
	  RELAY_HTTP_E_BAD_WS_VERSION, 426 },
	{ "rejects version 13 in a list", UPGRADE_HEAD("GET", "1", UPG CONN KEY "Sec-WebSocket-Version: 13, 8\r\n"),
	  RELAY_HTTP_E_BAD_WS_VERSION, 426 },
};

ParameterizedTestParameters(relay_http, checks_upgrade_requests)
{
	return cr_make_param_array(struct upgrade_case, upgrade_cases,
				   sizeof upgrade_cases / sizeof upgrade_cases[0]);
}

ParameterizedTest(struct upgrade_case *c, relay_http, checks_upgrade_requests)
{
	struct relay_http_req r;
	cr_assert_gt(parse_req_str(&r, c->head), 0, "%s: does not parse", c->name);
	char accept[RELAY_HTTP_ACCEPT_LEN + 1] = "untouched";
	int rc = relay_http_check_upgrade(accept, &r);
	cr_assert_eq(rc, c->want, "%s: got %d (%s)", c->name, rc, relay_http_strerror(rc));
	if (rc == RELAY_HTTP_OK)
		cr_assert_str_eq(accept, RFC_ACCEPT, "%s", c->name);
	else
		cr_assert_str_eq(accept, "untouched", "%s: accept written on error", c->name);
	cr_assert_eq(relay_http_err_status(rc), c->status, "%s", c->name);
}

/* ------------------------------------------------------------------ */
/* Routing and session ids. */

struct route_case {
	char head[160];
	int want;
	char session[140];
};

static struct route_case route_cases[] = {
	{ "GET /health HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_ROUTE_HEALTH, "" },
	{ "GET /stats HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_ROUTE_STATS, "" },
	{ "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_ROUTE_METRICS, "" },
	{ "GET /relay/a HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_ROUTE_RELAY, "a" },
	{ "GET /relay/Ab-_9?t=x HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_ROUTE_RELAY, "Ab-_9" },
	{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_NOT_FOUND, "" },
	{ "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_NOT_FOUND, "" },
	{ "GET /Health HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_NOT_FOUND, "" },
	{ "GET /relay HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_NOT_FOUND, "" },
	{ "GET http://a/health HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_NOT_FOUND, "" },
	{ "POST /health HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_METHOD, "" },
	{ "HEAD /stats HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_METHOD, "" },
	{ "DELETE /relay/!! HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_METHOD, "" },
	{ "POST /nowhere HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_NOT_FOUND, "" },
	{ "GET /relay/ HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_BAD_SESSION, "" },
	{ "GET /relay/a/b HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_BAD_SESSION, "" },
	{ "GET /relay/a.b HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_BAD_SESSION, "" },
	{ "GET /relay/a%20b HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_BAD_SESSION, "" },
	{ "GET /relay/?x HTTP/1.1\r\nHost: a\r\n\r\n", RELAY_HTTP_E_BAD_SESSION, "" },
};

ParameterizedTestParameters(relay_http, routes_requests)
{
	return cr_make_param_array(struct route_case, route_cases,
				   sizeof route_cases / sizeof route_cases[0]);
}

ParameterizedTest(struct route_case *c, relay_http, routes_requests)
{
	struct relay_http_req r;
	cr_assert_gt(parse_req_str(&r, c->head), 0, "%s", c->head);
	struct relay_http_span id = { "junk", 4 };
	int rc = relay_http_route(&id, &r);
	cr_assert_eq(rc, c->want, "%s: got %d", c->head, rc);
	if (rc == RELAY_HTTP_ROUTE_RELAY)
		cr_assert_span(id, c->session);
	else
		cr_assert(id.ptr == NULL && id.len == 0, "%s: session id set", c->head);
}

Test(relay_http, validates_session_ids)
{
	char id[RELAY_HTTP_MAX_SESSION_ID + 2];
	memset(id, 'x', sizeof id);
	cr_assert(relay_session_id_valid(id, RELAY_HTTP_MAX_SESSION_ID));
	cr_assert_not(relay_session_id_valid(id, RELAY_HTTP_MAX_SESSION_ID + 1));
	cr_assert_not(relay_session_id_valid(id, 0));
	cr_assert_not(relay_session_id_valid(NULL, 0));
	cr_assert(relay_session_id_valid("a", 1));
	cr_assert(relay_session_id_valid("AZaz09_-", 8));
	for (unsigned c = 0; c < 256; c++) {
		char s[3] = { 'a', (char)c, 'b' };
		bool want = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			    (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
		cr_assert_eq(relay_session_id_valid(s, 3), want, "byte 0x%02x", c);
	}
}

/* ------------------------------------------------------------------ */
/* The client side. */

Test(relay_http, parses_rfc6455_sample_response_field_by_field)
{
	struct relay_http_resp r;
	static const char s[] = RFC_RESPONSE "\x81\x05Hello";
	int n = relay_http_parse_response(&r, (const uint8_t *)s, sizeof s - 1);
	cr_assert_eq(n, (int)strlen(RFC_RESPONSE));
	cr_assert_eq(r.minor_version, 1);
	cr_assert_eq(r.status, 101);
	cr_assert_span(r.reason, "Switching Protocols");
	cr_assert(r.upgrade_websocket);
	cr_assert(r.connection_upgrade);
	cr_assert_span(r.ws_accept, RFC_ACCEPT);
	cr_assert_span(r.ws_extensions, NULL);
	cr_assert_span(r.ws_protocol, NULL);
	cr_assert_eq(r.num_headers, 3);
	static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
	cr_assert_eq(relay_http_check_upgrade_response(&r, key, sizeof key - 1), RELAY_HTTP_OK);
}

struct response_case {
	char name[48];
	char head[200];
	int parse;      /* RELAY_HTTP_OK for "parses", else the error */
	int check;      /* relay_http_check_upgrade_response with the RFC key */
};

#define R101 "HTTP/1.1 101 Switching Protocols\r\n"
#define RUPG "Upgrade: websocket\r\n"
#define RCONN "Connection: Upgrade\r\n"
#define RACC "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"

static struct response_case response_cases[] = {
	{ "rfc sample", R101 RUPG RCONN RACC "\r\n", RELAY_HTTP_OK, RELAY_HTTP_OK },
	{ "no reason", "HTTP/1.1 101\r\n" RUPG RCONN RACC "\r\n", RELAY_HTTP_OK, RELAY_HTTP_OK },
	{ "empty extensions", R101 RUPG RCONN RACC "Sec-WebSocket-Extensions:\r\n\r\n", RELAY_HTTP_OK,
	  RELAY_HTTP_OK },
	{ "refused", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", RELAY_HTTP_OK, RELAY_HTTP_E_NOT_101 },
	{ "no upgrade", R101 RCONN RACC "\r\n", RELAY_HTTP_OK, RELAY_HTTP_E_NOT_UPGRADE },
	{ "no connection", R101 RUPG RACC "\r\n", RELAY_HTTP_OK, RELAY_HTTP_E_NO_CONNECTION_UPGRADE },
	{ "no accept", R101 RUPG RCONN "\r\n", RELAY_HTTP_OK, RELAY_HTTP_E_BAD_ACCEPT },
	{ "wrong accept", R101 RUPG RCONN "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOp=\r\n\r\n",
	  RELAY_HTTP_OK, RELAY_HTTP_E_BAD_ACCEPT },
	{ "extension chosen", R101 RUPG RCONN RACC "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
	  RELAY_HTTP_OK, RELAY_HTTP_E_UNREQUESTED },
	{ "protocol chosen", R101 RUPG RCONN RACC "Sec-WebSocket-Protocol: chat\r\n\r\n", RELAY_HTTP_OK,
	  RELAY_HTTP_E_UNREQUESTED },
	{ "accept twice", R101 RUPG RCONN RACC RACC "\r\n", RELAY_HTTP_E_DUPLICATE_FIELD, 0 },
	{ "four-digit status", "HTTP/1.1 1010 Switching\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST, 0 },
	{ "status 600", "HTTP/1.1 600 No\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST, 0 },
	{ "status 099", "HTTP/1.1 099 No\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST, 0 },
	{ "two-digit status", "HTTP/1.1 20 OK\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST, 0 },
	{ "HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", RELAY_HTTP_E_BAD_VERSION, 0 },
	{ "bare LF", "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\n", RELAY_HTTP_E_BAD_REQUEST, 0 },
	{ "control byte in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", RELAY_HTTP_E_BAD_REQUEST, 0 },
	{ "Content-Length twice", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	  RELAY_HTTP_E_BAD_CONTENT_LENGTH, 0 },
	{ "TE and CL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
	  RELAY_HTTP_E_BAD_FRAMING, 0 },
};

ParameterizedTestParameters(relay_http, parses_and_checks_responses)
{
	return cr_make_param_array(struct response_case, response_cases,
				   sizeof response_cases / sizeof response_cases[0]);
}

ParameterizedTest(struct response_case *c, relay_http, parses_and_checks_responses)
{
	struct relay_http_resp r;
	size_t len = strlen(c->head);
	uint8_t *buf = guarded_copy(c->head, len);
	int n = relay_http_parse_response(&r, buf, len);
	if (c->parse != RELAY_HTTP_OK) {
		cr_assert_eq(n, c->parse, "%s: parse gives %d (%s)", c->name, n, relay_http_strerror(n));
	} else {
		cr_assert_eq(n, (int)len, "%s: parse gives %d (%s)", c->name, n, relay_http_strerror(n));
		int rc = relay_http_check_upgrade_response(&r, "dGhlIHNhbXBsZSBub25jZQ==", 24);
		cr_assert_eq(rc, c->check, "%s: check gives %d (%s)", c->name, rc, relay_http_strerror(rc));
	}
	guard_free(buf, len);
}

/* ------------------------------------------------------------------ */
/* Builders. */

Test(relay_http, encodes_the_rfc_sample_nonce_as_key)
{
	char key[RELAY_HTTP_KEY_LEN + 1];
	relay_http_key_encode(key, (const uint8_t *)"the sample nonce");
	cr_assert_str_eq(key, "dGhlIHNhbXBsZSBub25jZQ==");
}

Test(relay_http, builds_upgrade_response_byte_for_byte)
{
	uint8_t out[256];
	int n = relay_http_upgrade_response_build(out, sizeof out, RFC_ACCEPT);
	cr_assert_eq(n, (int)strlen(RFC_RESPONSE));
	cr_assert_arr_eq(out, RFC_RESPONSE, (size_t)n);
	/* Room is checked for every byte, and nothing is written past it. */
	for (size_t cap = 0; cap < (size_t)n; cap++) {
		memset(out, 0xcc, sizeof out);
		cr_assert_eq(relay_http_upgrade_response_build(out, cap, RFC_ACCEPT), RELAY_HTTP_E_NO_ROOM,
			     "cap %zu", cap);
		for (size_t i = cap; i < sizeof out; i++)
			cr_assert_eq(out[i], 0xcc, "cap %zu: wrote byte %zu", cap, i);
	}
	char short_accept[RELAY_HTTP_ACCEPT_LEN + 1] = "short";
	cr_assert_eq(relay_http_upgrade_response_build(out, sizeof out, short_accept),
		     RELAY_HTTP_E_BAD_REQUEST);
}

Test(relay_http, handshake_round_trips_between_client_and_server_builders)
{
	uint8_t nonce[16];
	for (int i = 0; i < 16; i++)
		nonce[i] = (uint8_t)(i * 17 + 3);
	char key[RELAY_HTTP_KEY_LEN + 1];
	relay_http_key_encode(key, nonce);

	uint8_t req_buf[512];
	int n = relay_http_upgrade_request_build(req_buf, sizeof req_buf, "relay.example.com:443",
						 "/relay/session_1", key);
	cr_assert_gt(n, 0);
	for (size_t cap = 0; cap < (size_t)n; cap++)
		cr_assert_eq(relay_http_upgrade_request_build(req_buf, cap, "relay.example.com:443",
							      "/relay/session_1", key),
			     RELAY_HTTP_E_NO_ROOM, "cap %zu", cap);
	n = relay_http_upgrade_request_build(req_buf, sizeof req_buf, "relay.example.com:443",
					     "/relay/session_1", key);

	struct relay_http_req req;
	cr_assert_eq(relay_http_parse_request(&req, req_buf, (size_t)n), n);
	struct relay_http_span id;
	cr_assert_eq(relay_http_route(&id, &req), RELAY_HTTP_ROUTE_RELAY);
	cr_assert_span(id, "session_1");
	char accept[RELAY_HTTP_ACCEPT_LEN + 1];
	cr_assert_eq(relay_http_check_upgrade(accept, &req), RELAY_HTTP_OK);

	uint8_t resp_buf[256];
	int m = relay_http_upgrade_response_build(resp_buf, sizeof resp_buf, accept);
	cr_assert_gt(m, 0);
	struct relay_http_resp resp;
	cr_assert_eq(relay_http_parse_response(&resp, resp_buf, (size_t)m), m);
	cr_assert_eq(relay_http_check_upgrade_response(&resp, key, strlen(key)), RELAY_HTTP_OK);
	/* Another key's accept does not match. */
	cr_assert_eq(relay_http_check_upgrade_response(&resp, "dGhlIHNhbXBsZSBub25jZQ==", 24),
		     RELAY_HTTP_E_BAD_ACCEPT);
}

Test(relay_http, request_builder_refuses_header_injection)
{
	char key[RELAY_HTTP_KEY_LEN + 1];
	relay_http_key_encode(key, (const uint8_t *)"the sample nonce");
	uint8_t out[512];
	cr_assert_eq(relay_http_upgrade_request_build(out, sizeof out, "a\r\nX: y", "/relay/s", key),
		     RELAY_HTTP_E_BAD_REQUEST);
	cr_assert_eq(relay_http_upgrade_request_build(out, sizeof out, "a", "/relay/s x", key),
		     RELAY_HTTP_E_BAD_REQUEST);
	cr_assert_eq(relay_http_upgrade_request_build(out, sizeof out, "a", "relay/s", key),
		     RELAY_HTTP_E_BAD_REQUEST);
	cr_assert_eq(relay_http_upgrade_request_build(out, sizeof out, "a", "", key),
		     RELAY_HTTP_E_BAD_REQUEST);
	char short_key[RELAY_HTTP_KEY_LEN + 1] = "short";
	cr_assert_eq(relay_http_upgrade_request_build(out, sizeof out, "a", "/", short_key),
		     RELAY_HTTP_E_BAD_REQUEST);
}

Test(relay_http, builds_plain_responses_that_parse_back)
{
	static const char body[] = "{\"ok\":true}\n";
	static const char want[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: application/json\r\n"
				   "Content-Length: 12\r\n"
				   "Connection: close\r\n"
				   "Cache-Control: no-store\r\n"
				   "\r\n"
				   "{\"ok\":true}\n";
	struct relay_http_response spec = {
		.status = 200,
		.content_type = "application/json",
		.extra_headers = "Cache-Control: no-store\r\n",
		.body = (const uint8_t *)body,
		.body_len = sizeof body - 1,
	};
	uint8_t out[512];
	int n = relay_http_response_build(out, sizeof out, &spec);
	cr_assert_eq(n, (int)sizeof want - 1);
	cr_assert_arr_eq(out, want, sizeof want - 1);
	for (size_t cap = 0; cap < (size_t)n; cap++) {
		memset(out, 0xcc, sizeof out);
		cr_assert_eq(relay_http_response_build(out, cap, &spec), RELAY_HTTP_E_NO_ROOM, "cap %zu", cap);
		for (size_t i = cap; i < sizeof out; i++)
			cr_assert_eq(out[i], 0xcc, "cap %zu: wrote byte %zu", cap, i);
	}
	n = relay_http_response_build(out, sizeof out, &spec);
	struct relay_http_resp r;
	cr_assert_eq(relay_http_parse_response(&r, out, (size_t)n), n - (int)spec.body_len);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.content_length, spec.body_len);

	struct relay_http_response empty = { .status = 204 };
	n = relay_http_response_build(out, sizeof out, &empty);
	static const char want204[] = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	cr_assert_eq(n, (int)sizeof want204 - 1);
	cr_assert_arr_eq(out, want204, sizeof want204 - 1);
}

Test(relay_http, response_builder_refuses_malformed_pieces)
{
	uint8_t out[512];
	struct relay_http_response bad[] = {
		{ .status = 99 },
		{ .status = 600 },
		{ .status = 200, .reason = "O\r\nK" },
		{ .status = 200, .content_type = "text/plain\r\nX: y" },
		{ .status = 200, .extra_headers = "X: y" },
		{ .status = 200, .extra_headers = "X: y\r\n\r\n" },
		{ .status = 200, .extra_headers = "X: y\nZ: w\r\n" },
		{ .status = 200, .extra_headers = "X : y\r\n" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(relay_http_response_build(out, sizeof out, &bad[i]), RELAY_HTTP_E_BAD_REQUEST,
			     "case %zu", i);
}

Test(relay_http, error_responses_carry_the_headers_their_status_requires)
{
	uint8_t out[512];
	struct relay_http_resp r;
	int n;

	n = relay_http_error_response_build(out, sizeof out, RELAY_HTTP_E_METHOD);
	cr_assert_gt(n, 0);
	cr_assert_gt(relay_http_parse_response(&r, out, (size_t)n), 0);
	cr_assert_eq(r.status, 405);
	const struct relay_http_header *h = relay_http_header_find(r.headers, r.num_headers, "Allow");
	cr_assert_not_null(h);
	cr_assert_span(h->value, "GET");

	n = relay_http_error_response_build(out, sizeof out, RELAY_HTTP_E_BAD_WS_VERSION);
	cr_assert_gt(relay_http_parse_response(&r, out, (size_t)n), 0);
	cr_assert_eq(r.status, 426);
	cr_assert(r.upgrade_websocket);
	cr_assert(r.connection_upgrade);
	h = relay_http_header_find(r.headers, r.num_headers, "Sec-WebSocket-Version");
	cr_assert_not_null(h);
	cr_assert_span(h->value, "13");

	n = relay_http_error_response_build(out, sizeof out, RELAY_HTTP_E_BAD_SESSION);
	int head = relay_http_parse_response(&r, out, (size_t)n);
	cr_assert_gt(head, 0);
	cr_assert_eq(r.status, 400);
	cr_assert_eq(r.content_length, (uint64_t)(n - head));
	h = relay_http_header_find(r.headers, r.num_headers, "Connection");
	cr_assert_span(h->value, "close");

	cr_assert_eq(relay_http_error_response_build(out, sizeof out, RELAY_HTTP_E_NO_ROOM),
		     RELAY_HTTP_E_BAD_REQUEST);
	cr_assert_eq(relay_http_error_response_build(out, 10, RELAY_HTTP_E_NOT_FOUND), RELAY_HTTP_E_NO_ROOM);
}

Test(relay_http, every_error_has_a_message_and_server_errors_a_status)
{
	for (int err = RELAY_HTTP_INCOMPLETE; err >= RELAY_HTTP_E_NO_ROOM; err--) {
		cr_assert_str_neq(relay_http_strerror(err), "unknown error", "error %d", err);
		int status = relay_http_err_status(err);
		bool client_side = err == RELAY_HTTP_INCOMPLETE || err == RELAY_HTTP_E_NOT_101 ||
				   err == RELAY_HTTP_E_BAD_ACCEPT || err == RELAY_HTTP_E_UNREQUESTED ||
				   err == RELAY_HTTP_E_NO_ROOM;
		cr_assert_eq(status == 0, client_side, "error %d -> %d", err, status);
		if (status)
			cr_assert_str_neq(relay_http_reason(status), "Unknown", "status %d", status);
	}
}

/* ------------------------------------------------------------------ */
/* The fuzz corpus: files named bad-req-* must fail relay_http_parse_request,
 * bad-upgrade-* must parse and then fail relay_http_check_upgrade, and
 * bad-resp-* must fail relay_http_parse_response. */

Test(relay_http, rejects_every_malformed_corpus_file)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", __FILE__);
	char *slash = strrchr(dir, '/');
	cr_assert_not_null(slash, "__FILE__ is %s", __FILE__);
	snprintf(slash, sizeof dir - (size_t)(slash - dir), "/../fuzz/corpus/http");
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "cannot open %s", dir);

	int num_bad = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "bad-", 4) != 0)
			continue;
		char path[PATH_MAX + 256];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		cr_assert_not_null(f, "%s", path);
		enum { MAX_FILE = 1 << 16 };
		uint8_t *data = malloc(MAX_FILE);
		size_t len = fread(data, 1, MAX_FILE, f);
		fclose(f);
		cr_assert_lt(len, MAX_FILE, "%s is too big for this test", path);

		int rc;
		if (strncmp(e->d_name, "bad-req-", 8) == 0) {
			struct relay_http_req r;
			rc = relay_http_parse_request(&r, data, len);
		} else if (strncmp(e->d_name, "bad-upgrade-", 12) == 0) {
			struct relay_http_req r;
			char accept[RELAY_HTTP_ACCEPT_LEN + 1];
			int n = relay_http_parse_request(&r, data, len);
			cr_assert_gt(n, 0, "%s does not parse: %s", e->d_name, relay_http_strerror(n));
			rc = relay_http_check_upgrade(accept, &r);
		} else {
			cr_assert(strncmp(e->d_name, "bad-resp-", 9) == 0,
				  "%s: name it bad-req-, bad-upgrade- or bad-resp-", e->d_name);
			struct relay_http_resp r;
			rc = relay_http_parse_response(&r, data, len);
		}
		cr_assert_lt(rc, RELAY_HTTP_INCOMPLETE, "%s was accepted (%d)", e->d_name, rc);
		cr_log_info("%s: %s", e->d_name, relay_http_strerror(rc));
		free(data);
		num_bad++;
	}
	closedir(d);
	cr_assert_gt(num_bad, 0, "no bad-* files in %s", dir);
}
