#include "relay/http.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "net/bssl.h"

/* RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key before hashing. */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

const char *relay_http_strerror(int err)
{
	switch (err) {
	case RELAY_HTTP_OK: return "ok";
	case RELAY_HTTP_INCOMPLETE: return "incomplete header block";
	case RELAY_HTTP_E_BAD_REQUEST: return "malformed start line or header line";
	case RELAY_HTTP_E_BAD_VERSION: return "HTTP version not supported";
	case RELAY_HTTP_E_TOO_LARGE: return "header block too large";
	case RELAY_HTTP_E_TOO_MANY_HEADERS: return "too many header lines";
	case RELAY_HTTP_E_BAD_HOST: return "Host missing, repeated or invalid";
	case RELAY_HTTP_E_BAD_CONTENT_LENGTH: return "Content-Length invalid or repeated";
	case RELAY_HTTP_E_BAD_FRAMING: return "Transfer-Encoding with Content-Length or in HTTP/1.0";
	case RELAY_HTTP_E_DUPLICATE_FIELD: return "Sec-WebSocket field repeated";
	case RELAY_HTTP_E_NOT_FOUND: return "no such path";
	case RELAY_HTTP_E_METHOD: return "method not allowed";
	case RELAY_HTTP_E_BAD_SESSION: return "session id must be 1-128 characters of A-Z a-z 0-9 _ -";
	case RELAY_HTTP_E_NOT_UPGRADE: return "WebSocket upgrade required";
	case RELAY_HTTP_E_NO_CONNECTION_UPGRADE: return "Connection does not list upgrade";
	case RELAY_HTTP_E_BAD_KEY: return "Sec-WebSocket-Key missing or not 16 bytes of base64";
	case RELAY_HTTP_E_BAD_WS_VERSION: return "Sec-WebSocket-Version must be 13";
	case RELAY_HTTP_E_NOT_101: return "server did not switch protocols";
	case RELAY_HTTP_E_BAD_ACCEPT: return "Sec-WebSocket-Accept missing or wrong";
	case RELAY_HTTP_E_UNREQUESTED: return "server chose an extension or subprotocol not offered";
	case RELAY_HTTP_E_NO_ROOM: return "output buffer too small";
	}
	return "unknown error";
}

int relay_http_err_status(int err)
{
	switch (err) {
	case RELAY_HTTP_E_BAD_REQUEST:
	case RELAY_HTTP_E_BAD_HOST:
	case RELAY_HTTP_E_BAD_CONTENT_LENGTH:
	case RELAY_HTTP_E_BAD_FRAMING:
	case RELAY_HTTP_E_DUPLICATE_FIELD:
	case RELAY_HTTP_E_BAD_SESSION:
	case RELAY_HTTP_E_NO_CONNECTION_UPGRADE:
	case RELAY_HTTP_E_BAD_KEY:
		return 400;
	case RELAY_HTTP_E_NOT_FOUND:
		return 404;
	case RELAY_HTTP_E_METHOD:
		return 405;
	case RELAY_HTTP_E_NOT_UPGRADE:
	case RELAY_HTTP_E_BAD_WS_VERSION:
		return 426;
	case RELAY_HTTP_E_TOO_LARGE:
	case RELAY_HTTP_E_TOO_MANY_HEADERS:
		return 431;
	case RELAY_HTTP_E_BAD_VERSION:
		return 505;
	}
	return 0;
}

const char *relay_http_reason(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Unknown";
}

/* Byte classes (RFC 9110 §5.6.2, §5.5; RFC 9112 §3.2; RFC 3986 §3.2.2). */

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(uint8_t c)
{
	return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'z');
}

/* tchar: what method and field names are made of. */
static bool is_tchar(uint8_t c)
{
	if (is_alnum(c))
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return true;
	}
	return false;
}

/* field-vchar, SP and HTAB: what a field value or reason phrase may hold.
 * Excludes NUL, CR, LF, the other controls and DEL. */
static bool is_field_byte(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* request-target: visible ASCII; non-ASCII must arrive percent-encoded. */
static bool is_target_byte(uint8_t c)
{
	return c > 0x20 && c < 0x7f;
}

/* Host: reg-name or IP literal, optional port: unreserved, sub-delims, '%',
 * ':', '[', ']'. Refuses what could confuse logs or virtual hosting
 * (whitespace, '/', '@', '\\', quotes). */
static bool is_host_byte(uint8_t c)
{
	if (is_alnum(c))
		return true;
	switch (c) {
	case '-': case '.': case '_': case '~': case '!': case '$': case '&': case '\'':
	case '(': case ')': case '*': case '+': case ',': case ';': case '=': case ':':
	case '%': case '[': case ']':
		return true;
	}
	return false;
}

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static struct relay_http_span span(const uint8_t *p, size_t len)
{
	return (struct relay_http_span){ .ptr = (const char *)p, .len = len };
}

static bool span_eq(struct relay_http_span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.ptr && s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static bool span_ieq(struct relay_http_span s, const char *lit)
{
	size_t n = strlen(lit);
	if (!s.ptr || s.len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((uint8_t)s.ptr[i]) != lower((uint8_t)lit[i]))
			return false;
	return true;
}

static bool all_bytes(const char *p, size_t len, bool (*ok)(uint8_t))
{
	for (size_t i = 0; i < len; i++)
		if (!ok((uint8_t)p[i]))
			return false;
	return true;
}

/* RFC 9110 §5.6.1: a #list is comma-separated elements with optional
 * whitespace, empty elements allowed. Tokens compare case-insensitively
 * (§7.6.1 Connection options, §7.8 Upgrade protocol names). */
static bool list_has_token(struct relay_http_span v, const char *tok)
{
	size_t i = 0;
	while (i < v.len) {
		while (i < v.len && (is_ows((uint8_t)v.ptr[i]) || v.ptr[i] == ','))
			i++;
		size_t start = i;
		while (i < v.len && v.ptr[i] != ',')
			i++;
		size_t end = i;
		while (end > start && is_ows((uint8_t)v.ptr[end - 1]))
			end--;
		if (span_ieq((struct relay_http_span){ v.ptr + start, end - start }, tok))
			return true;
	}
	return false;
}

/* RFC 9110 §8.6: Content-Length = 1*DIGIT. */
static bool parse_content_length(uint64_t *out, struct relay_http_span v)
{
	uint64_t n = 0;
	if (v.len == 0)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		uint8_t c = (uint8_t)v.ptr[i];
		if (!is_digit(c) || n > (UINT64_MAX - (c - '0')) / 10)
			return false;
		n = n * 10 + (c - '0');
	}
	*out = n;
	return true;
}

/* The start lines. Each step returns RELAY_HTTP_INCOMPLETE when the bytes
 * run out before a verdict, so that every proper prefix of a valid head is
 * incomplete, and an error at the first byte that cannot be right. */

static int expect_byte(const uint8_t *buf, size_t n, size_t *pos, uint8_t c)
{
	if (*pos == n)
		return RELAY_HTTP_INCOMPLETE;
	if (buf[*pos] != c)
		return RELAY_HTTP_E_BAD_REQUEST;
	(*pos)++;
	return RELAY_HTTP_OK;
}

/* RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive. A
 * major version other than 1 is well-formed but not ours: 505. */
static int parse_version(int *out_minor, const uint8_t *buf, size_t n, size_t *pos)
{
	static const char name[] = "HTTP/";
	int rc;
	for (size_t k = 0; k < sizeof name - 1; k++)
		if ((rc = expect_byte(buf, n, pos, (uint8_t)name[k])) != RELAY_HTTP_OK)
			return rc;
	if (*pos == n)
		return RELAY_HTTP_INCOMPLETE;
	if (!is_digit(buf[*pos]))
		return RELAY_HTTP_E_BAD_REQUEST;
	if (buf[*pos] != '1')
		return RELAY_HTTP_E_BAD_VERSION;
	(*pos)++;
	if ((rc = expect_byte(buf, n, pos, '.')) != RELAY_HTTP_OK)
		return rc;
	if (*pos == n)
		return RELAY_HTTP_INCOMPLETE;
	if (!is_digit(buf[*pos]))
		return RELAY_HTTP_E_BAD_REQUEST;
	*out_minor = buf[*pos] - '0';
	(*pos)++;
	return RELAY_HTTP_OK;
}

static int expect_crlf(const uint8_t *buf, size_t n, size_t *pos)
{
	int rc = expect_byte(buf, n, pos, '\r');
	return rc != RELAY_HTTP_OK ? rc : expect_byte(buf, n, pos, '\n');
}

/* RFC 9112 §3: request-line = method SP request-target SP HTTP-version CRLF,
 * single spaces. */
static int parse_request_line(struct relay_http_req *out, const uint8_t *buf, size_t n,
			      size_t *pos)
{
	size_t i = 0;
	while (i < n && is_tchar(buf[i]))
		i++;
	if (i == n)
		return RELAY_HTTP_INCOMPLETE;
	if (i == 0 || buf[i] != ' ')
		return RELAY_HTTP_E_BAD_REQUEST;
	out->method = span(buf, i);

	size_t t = ++i;
	while (i < n && is_target_byte(buf[i]))
		i++;
	if (i == n)
		return RELAY_HTTP_INCOMPLETE;
	if (i == t || buf[i] != ' ')
		return RELAY_HTTP_E_BAD_REQUEST;
	out->target = span(buf + t, i - t);
	i++;

	int rc = parse_version(&out->minor_version, buf, n, &i);
	if (rc == RELAY_HTTP_OK)
		rc = expect_crlf(buf, n, &i);
	*pos = i;
	return rc;
}

/* RFC 9112 §4: status-line = HTTP-version SP status-code SP [reason-phrase]
 * CRLF. A missing SP before an empty reason is tolerated, as most clients
 * do. */
static int parse_status_line(struct relay_http_resp *out, const uint8_t *buf, size_t n,
			     size_t *pos)
{
	size_t i = 0;
	int rc = parse_version(&out->minor_version, buf, n, &i);
	if (rc == RELAY_HTTP_OK)
		rc = expect_byte(buf, n, &i, ' ');
	if (rc != RELAY_HTTP_OK)
		return rc;
	int status = 0;
	for (int k = 0; k < 3; k++, i++) {
		if (i == n)
			return RELAY_HTTP_INCOMPLETE;
		/* RFC 9110 §15: the first digit is the class, 1 to 5. */
		if (!is_digit(buf[i]) || (k == 0 && (buf[i] < '1' || buf[i] > '5')))
			return RELAY_HTTP_E_BAD_REQUEST;
		status = status * 10 + (buf[i] - '0');
	}
	out->status = status;
	if (i == n)
		return RELAY_HTTP_INCOMPLETE;
	size_t r = i;
	if (buf[i] == ' ') {
		r = ++i;
		while (i < n && is_field_byte(buf[i]))
			i++;
	}
	out->reason = span(buf + r, i - r);
	rc = expect_crlf(buf, n, &i);
	*pos = i;
	return rc;
}

/* Finds the blank line ending the head, searching from the CRLF that ends
 * the start line at pos - 2 (a head without fields is that CRLF and the
 * blank line). Sets *end past the blank line. */
static int find_head_end(size_t *end, const uint8_t *buf, size_t n, size_t pos)
{
	const uint8_t *hit = memmem(buf + pos - 2, n - (pos - 2), "\r\n\r\n", 4);
	if (!hit)
		return n == RELAY_HTTP_MAX_HEADER_BYTES ? RELAY_HTTP_E_TOO_LARGE
							: RELAY_HTTP_INCOMPLETE;
	*end = (size_t)(hit - buf) + 4;
	return RELAY_HTTP_OK;
}

/* RFC 9112 §5: field-line = field-name ":" OWS field-value OWS CRLF.
 * Parses the lines in buf[i..lines_end); buf[lines_end] must be a byte that
 * is neither tchar nor field byte (the blank line's CR, or a string's NUL),
 * which bounds every scan below. */
static int parse_fields(struct relay_http_header *hdrs, size_t *out_num, const uint8_t *buf,
			size_t i, size_t lines_end)
{
	size_t num = 0;
	while (i < lines_end) {
		size_t name = i;
		while (is_tchar(buf[i]))
			i++;
		/* §5.1: no whitespace between name and colon (400); §5.2: a
		 * line starting with SP or HTAB is obsolete folding, which we
		 * refuse rather than unfold (400). Both leave no name here. */
		if (i == name || buf[i] != ':')
			return RELAY_HTTP_E_BAD_REQUEST;
		size_t name_end = i++;
		while (is_ows(buf[i]))
			i++;
		size_t value = i;
		while (is_field_byte(buf[i]))
			i++;
		/* §2.2: a bare CR, a bare LF or a control byte in a value. */
		if (buf[i] != '\r' || buf[i + 1] != '\n')
			return RELAY_HTTP_E_BAD_REQUEST;
		size_t value_end = i;
		while (value_end > value && is_ows(buf[value_end - 1]))
			value_end--;
		if (num == RELAY_HTTP_MAX_HEADERS)
			return RELAY_HTTP_E_TOO_MANY_HEADERS;
		hdrs[num].name = span(buf + name, name_end - name);
		hdrs[num].value = span(buf + value, value_end - value);
		num++;
		i += 2;
	}
	*out_num = num;
	return RELAY_HTTP_OK;
}

static int parse_head_rest(size_t *out_end, struct relay_http_header *hdrs, size_t *out_num,
			   const uint8_t *buf, size_t n, size_t pos)
{
	size_t end;
	int rc = find_head_end(&end, buf, n, pos);
	if (rc != RELAY_HTTP_OK)
		return rc;
	rc = parse_fields(hdrs, out_num, buf, pos, end - 2);
	*out_end = end;
	return rc;
}

/* The framing fields both directions share. */
static int apply_framing(bool *has_cl, uint64_t *cl, bool *has_te,
			 const struct relay_http_header *h)
{
	if (span_ieq(h->name, "content-length")) {
		/* RFC 9112 §6.3 item 5: several or invalid lengths are
		 * unrecoverable framing errors (400). */
		if (*has_cl || !parse_content_length(cl, h->value))
			return RELAY_HTTP_E_BAD_CONTENT_LENGTH;
		*has_cl = true;
	} else if (span_ieq(h->name, "transfer-encoding")) {
		*has_te = true;
	}
	return RELAY_HTTP_OK;
}

/* Sets *dst to v, refusing a second occurrence. */
static int set_once(struct relay_http_span *dst, struct relay_http_span v, int err)
{
	if (dst->ptr)
		return err;
	*dst = v;
	return RELAY_HTTP_OK;
}

static int apply_request_fields(struct relay_http_req *r)
{
	for (size_t k = 0; k < r->num_headers; k++) {
		const struct relay_http_header *h = &r->headers[k];
		int rc = RELAY_HTTP_OK;
		if (span_ieq(h->name, "host")) {
			/* RFC 9112 §3.2: more than one Host, or an invalid
			 * one, is a 400. An empty value is allowed. */
			if (!all_bytes(h->value.ptr, h->value.len, is_host_byte))
				return RELAY_HTTP_E_BAD_HOST;
			rc = set_once(&r->host, h->value, RELAY_HTTP_E_BAD_HOST);
		} else if (span_ieq(h->name, "upgrade")) {
			r->upgrade_websocket |= list_has_token(h->value, "websocket");
		} else if (span_ieq(h->name, "connection")) {
			r->connection_upgrade |= list_has_token(h->value, "upgrade");
		} else if (span_ieq(h->name, "sec-websocket-key")) {
			/* RFC 6455 §11.3.1: MUST NOT appear more than once. */
			rc = set_once(&r->ws_key, h->value, RELAY_HTTP_E_DUPLICATE_FIELD);
		} else if (span_ieq(h->name, "sec-websocket-version")) {
			/* §11.3.5: at most once in a request. */
			rc = set_once(&r->ws_version, h->value, RELAY_HTTP_E_DUPLICATE_FIELD);
		} else if (span_ieq(h->name, "x-forwarded-for")) {
			r->x_forwarded_for = h->value;
		} else {
			rc = apply_framing(&r->has_content_length, &r->content_length,
					   &r->has_transfer_encoding, h);
		}
		if (rc != RELAY_HTTP_OK)
			return rc;
	}
	/* RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400. */
	if (r->minor_version >= 1 && !r->host.ptr)
		return RELAY_HTTP_E_BAD_HOST;
	/* §6.1: Transfer-Encoding with Content-Length is a smuggling vector,
	 * and HTTP/1.0 has no Transfer-Encoding: treat both as faulty. */
	if (r->has_transfer_encoding && (r->has_content_length || r->minor_version == 0))
		return RELAY_HTTP_E_BAD_FRAMING;
	return RELAY_HTTP_OK;
}

static int apply_response_fields(struct relay_http_resp *r)
{
	for (size_t k = 0; k < r->num_headers; k++) {
		const struct relay_http_header *h = &r->headers[k];
		int rc = RELAY_HTTP_OK;
		if (span_ieq(h->name, "upgrade")) {
			r->upgrade_websocket |= list_has_token(h->value, "websocket");
		} else if (span_ieq(h->name, "connection")) {
			r->connection_upgrade |= list_has_token(h->value, "upgrade");
		} else if (span_ieq(h->name, "sec-websocket-accept")) {
			/* RFC 6455 §11.3.3: MUST NOT appear more than once. */
			rc = set_once(&r->ws_accept, h->value, RELAY_HTTP_E_DUPLICATE_FIELD);
		} else if (span_ieq(h->name, "sec-websocket-extensions")) {
			if (!r->ws_extensions.ptr || !r->ws_extensions.len)
				r->ws_extensions = h->value;
		} else if (span_ieq(h->name, "sec-websocket-protocol")) {
			/* §11.3.4: at most once in a response. */
			rc = set_once(&r->ws_protocol, h->value, RELAY_HTTP_E_DUPLICATE_FIELD);
		} else {
			rc = apply_framing(&r->has_content_length, &r->content_length,
					   &r->has_transfer_encoding, h);
		}
		if (rc != RELAY_HTTP_OK)
			return rc;
	}
	if (r->has_transfer_encoding && (r->has_content_length || r->minor_version == 0))
		return RELAY_HTTP_E_BAD_FRAMING;
	return RELAY_HTTP_OK;
}

int relay_http_parse_request(struct relay_http_req *out, const uint8_t *buf, size_t len)
{
	/* Only the first MAX_HEADER_BYTES can hold the head; a head not done
	 * by then is too large, whatever follows. */
	size_t n = len < RELAY_HTTP_MAX_HEADER_BYTES ? len : RELAY_HTTP_MAX_HEADER_BYTES;
	size_t pos = 0, end = 0;

	memset(out, 0, offsetof(struct relay_http_req, headers));
	int rc = parse_request_line(out, buf, n, &pos);
	if (rc == RELAY_HTTP_INCOMPLETE && n == RELAY_HTTP_MAX_HEADER_BYTES)
		return RELAY_HTTP_E_TOO_LARGE;
	if (rc != RELAY_HTTP_OK)
		return rc;
	rc = parse_head_rest(&end, out->headers, &out->num_headers, buf, n, pos);
	if (rc != RELAY_HTTP_OK)
		return rc;
	rc = apply_request_fields(out);
	return rc != RELAY_HTTP_OK ? rc : (int)end;
}

int relay_http_parse_response(struct relay_http_resp *out, const uint8_t *buf, size_t len)
{
	size_t n = len < RELAY_HTTP_MAX_HEADER_BYTES ? len : RELAY_HTTP_MAX_HEADER_BYTES;
	size_t pos = 0, end = 0;

	memset(out, 0, offsetof(struct relay_http_resp, headers));
	int rc = parse_status_line(out, buf, n, &pos);
	if (rc == RELAY_HTTP_INCOMPLETE && n == RELAY_HTTP_MAX_HEADER_BYTES)
		return RELAY_HTTP_E_TOO_LARGE;
	if (rc != RELAY_HTTP_OK)
		return rc;
	rc = parse_head_rest(&end, out->headers, &out->num_headers, buf, n, pos);
	if (rc != RELAY_HTTP_OK)
		return rc;
	rc = apply_response_fields(out);
	return rc != RELAY_HTTP_OK ? rc : (int)end;
}

const struct relay_http_header *relay_http_header_find(const struct relay_http_header *hdrs,
						       size_t num_hdrs, const char *name)
{
	for (size_t k = 0; k < num_hdrs; k++)
		if (span_ieq(hdrs[k].name, name))
			return &hdrs[k];
	return NULL;
}

static bool is_session_byte(uint8_t c)
{
	return is_alnum(c) || c == '_' || c == '-';
}

bool relay_session_id_valid(const char *id, size_t len)
{
	return len >= 1 && len <= RELAY_HTTP_MAX_SESSION_ID && all_bytes(id, len, is_session_byte);
}

int relay_http_route(struct relay_http_span *out_session_id, const struct relay_http_req *req)
{
	static const char relay_prefix[] = "/relay/";
	const size_t prefix_len = sizeof relay_prefix - 1;
	struct relay_http_span path = req->target;
	const char *q = path.ptr ? memchr(path.ptr, '?', path.len) : NULL;
	if (q)
		path.len = (size_t)(q - path.ptr);

	*out_session_id = (struct relay_http_span){ 0 };
	int route;
	struct relay_http_span id = { 0 };
	if (span_eq(path, "/health")) {
		route = RELAY_HTTP_ROUTE_HEALTH;
	} else if (span_eq(path, "/stats")) {
		route = RELAY_HTTP_ROUTE_STATS;
	} else if (span_eq(path, "/metrics")) {
		route = RELAY_HTTP_ROUTE_METRICS;
	} else if (path.ptr && path.len >= prefix_len &&
		   memcmp(path.ptr, relay_prefix, prefix_len) == 0) {
		route = RELAY_HTTP_ROUTE_RELAY;
		id = (struct relay_http_span){ path.ptr + prefix_len, path.len - prefix_len };
	} else {
		return RELAY_HTTP_E_NOT_FOUND;
	}
	/* RFC 9110 §9.1: methods are case-sensitive. */
	if (!span_eq(req->method, "GET"))
		return RELAY_HTTP_E_METHOD;
	if (route == RELAY_HTTP_ROUTE_RELAY && !relay_session_id_valid(id.ptr, id.len))
		return RELAY_HTTP_E_BAD_SESSION;
	*out_session_id = id;
	return route;
}

void relay_http_accept_compute(char out[static RELAY_HTTP_ACCEPT_LEN + 1], const char *key,
			       size_t key_len)
{
	uint8_t digest[SHA_DIGEST_LENGTH];
	uint8_t b64[RELAY_HTTP_ACCEPT_LEN + 1];
	SHA_CTX sha;

	SHA1_Init(&sha);
	SHA1_Update(&sha, key, key_len);
	SHA1_Update(&sha, WS_GUID, sizeof WS_GUID - 1);
	SHA1_Final(digest, &sha);
	EVP_EncodeBlock(b64, digest, sizeof digest);
	memcpy(out, b64, sizeof b64);
}

/* RFC 6455 §4.2.1 item 5: "a base64-encoded value that, when decoded, is 16
 * bytes in length" — 24 characters, "==" padded. */
static bool key_valid(struct relay_http_span key)
{
	uint8_t nonce[18];
	size_t nonce_len = 0;
	if (!key.ptr || key.len != RELAY_HTTP_KEY_LEN)
		return false;
	if (!EVP_DecodeBase64(nonce, &nonce_len, sizeof nonce, (const uint8_t *)key.ptr, key.len))
		return false;
	return nonce_len == 16;
}

/* RFC 6455 §4.2.1, the server's checks in the RFC's order. */
int relay_http_check_upgrade(char out_accept[static RELAY_HTTP_ACCEPT_LEN + 1],
			     const struct relay_http_req *req)
{
	/* 1. "An HTTP/1.1 or higher GET request". */
	if (!span_eq(req->method, "GET"))
		return RELAY_HTTP_E_METHOD;
	if (req->minor_version < 1)
		return RELAY_HTTP_E_BAD_VERSION;
	/* 2. A Host field: relay_http_parse_request already requires exactly
	 * one valid Host in HTTP/1.1. */
	/* 3. An Upgrade field containing "websocket", case-insensitively. */
	if (!req->upgrade_websocket)
		return RELAY_HTTP_E_NOT_UPGRADE;
	/* 4. A Connection field that includes the token "Upgrade". */
	if (!req->connection_upgrade)
		return RELAY_HTTP_E_NO_CONNECTION_UPGRADE;
	/* 5. Sec-WebSocket-Key: base64 of 16 bytes. */
	if (!key_valid(req->ws_key))
		return RELAY_HTTP_E_BAD_KEY;
	/* 6. Sec-WebSocket-Version: 13 (§4.4 otherwise: 426 naming 13). */
	if (!span_eq(req->ws_version, "13"))
		return RELAY_HTTP_E_BAD_WS_VERSION;
	/* 7-10 (Origin, protocols, extensions) are optional; the relay offers
	 * none. §4.2.2 step 5.4: the accept value. */
	relay_http_accept_compute(out_accept, req->ws_key.ptr, req->ws_key.len);
	return RELAY_HTTP_OK;
}

/* RFC 6455 §4.1, the client's checks of the server's handshake. */
int relay_http_check_upgrade_response(const struct relay_http_resp *resp, const char *key,
				      size_t key_len)
{
	char expected[RELAY_HTTP_ACCEPT_LEN + 1];

	/* 1. Anything but 101 means the handshake did not complete. */
	if (resp->status != 101)
		return RELAY_HTTP_E_NOT_101;
	/* 2. Upgrade: websocket, case-insensitively. */
	if (!resp->upgrade_websocket)
		return RELAY_HTTP_E_NOT_UPGRADE;
	/* 3. Connection: Upgrade, case-insensitively. */
	if (!resp->connection_upgrade)
		return RELAY_HTTP_E_NO_CONNECTION_UPGRADE;
	/* 4. Sec-WebSocket-Accept is the accept value of our key. It is public
	 * (derived from a key we sent in clear), so memcmp is fine. */
	relay_http_accept_compute(expected, key, key_len);
	if (!resp->ws_accept.ptr || resp->ws_accept.len != RELAY_HTTP_ACCEPT_LEN ||
	    memcmp(resp->ws_accept.ptr, expected, RELAY_HTTP_ACCEPT_LEN) != 0)
		return RELAY_HTTP_E_BAD_ACCEPT;
	/* 5-6. We offer no extension and no subprotocol, so none may be
	 * chosen. */
	if ((resp->ws_extensions.ptr && resp->ws_extensions.len) || resp->ws_protocol.ptr)
		return RELAY_HTTP_E_UNREQUESTED;
	return RELAY_HTTP_OK;
}

void relay_http_key_encode(char out[static RELAY_HTTP_KEY_LEN + 1], const uint8_t nonce[static 16])
{
	uint8_t b64[RELAY_HTTP_KEY_LEN + 1];
	EVP_EncodeBlock(b64, nonce, 16);
	memcpy(out, b64, sizeof b64);
}

/* Builders write through a writer that checks room for every piece and
 * remembers the first overflow. */
struct writer {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool overflow;
};

static void put(struct writer *w, const void *s, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return;
	}
	if (n)
		memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void put_str(struct writer *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_u64(struct writer *w, uint64_t v)
{
	char digits[20];
	size_t i = sizeof digits;
	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(w, digits + i, sizeof digits - i);
}

static int writer_done(const struct writer *w)
{
	if (w->overflow || w->len > INT_MAX)
		return RELAY_HTTP_E_NO_ROOM;
	return (int)w->len;
}

int relay_http_upgrade_request_build(uint8_t *out, size_t out_cap, const char *host,
				     const char *path,
				     const char key[static RELAY_HTTP_KEY_LEN + 1])
{
	size_t path_len = strlen(path);
	if (path_len == 0 || path[0] != '/' || !all_bytes(path, path_len, is_target_byte) ||
	    !all_bytes(host, strlen(host), is_host_byte) ||
	    strnlen(key, RELAY_HTTP_KEY_LEN + 1) != RELAY_HTTP_KEY_LEN)
		return RELAY_HTTP_E_BAD_REQUEST;

	struct writer w = { .p = out, .cap = out_cap };
	put_str(&w, "GET ");
	put_str(&w, path);
	put_str(&w, " HTTP/1.1\r\nHost: ");
	put_str(&w, host);
	put_str(&w, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
	put(&w, key, RELAY_HTTP_KEY_LEN);
	put_str(&w, "\r\nSec-WebSocket-Version: 13\r\n\r\n");
	return writer_done(&w);
}

int relay_http_upgrade_response_build(uint8_t *out, size_t out_cap,
				      const char accept[static RELAY_HTTP_ACCEPT_LEN + 1])
{
	if (strnlen(accept, RELAY_HTTP_ACCEPT_LEN + 1) != RELAY_HTTP_ACCEPT_LEN)
		return RELAY_HTTP_E_BAD_REQUEST;
	struct writer w = { .p = out, .cap = out_cap };
	put_str(&w, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\nSec-WebSocket-Accept: ");
	put(&w, accept, RELAY_HTTP_ACCEPT_LEN);
	put_str(&w, "\r\n\r\n");
	return writer_done(&w);
}

/* extra_headers must be whole field lines: parse them as we would a peer's
 * (the string's NUL bounds the scan as a blank line's CR would). */
static bool extra_headers_valid(const char *extra)
{
	struct relay_http_header scratch[RELAY_HTTP_MAX_HEADERS];
	size_t num;
	return parse_fields(scratch, &num, (const uint8_t *)extra, 0, strlen(extra)) ==
	       RELAY_HTTP_OK;
}

int relay_http_response_build(uint8_t *out, size_t out_cap, const struct relay_http_response *resp)
{
	const char *reason = resp->reason ? resp->reason : relay_http_reason(resp->status);
	if (resp->status < 100 || resp->status > 599 ||
	    !all_bytes(reason, strlen(reason), is_field_byte) ||
	    (resp->content_type &&
	     !all_bytes(resp->content_type, strlen(resp->content_type), is_field_byte)) ||
	    (resp->extra_headers && !extra_headers_valid(resp->extra_headers)))
		return RELAY_HTTP_E_BAD_REQUEST;

	struct writer w = { .p = out, .cap = out_cap };
	put_str(&w, "HTTP/1.1 ");
	put_u64(&w, (uint64_t)resp->status);
	put_str(&w, " ");
	put_str(&w, reason);
	put_str(&w, "\r\n");
	if (resp->content_type) {
		put_str(&w, "Content-Type: ");
		put_str(&w, resp->content_type);
		put_str(&w, "\r\n");
	}
	put_str(&w, "Content-Length: ");
	put_u64(&w, resp->body_len);
	put_str(&w, resp->upgrade_option ? "\r\nConnection: Upgrade, close\r\n"
					 : "\r\nConnection: close\r\n");
	if (resp->extra_headers)
		put_str(&w, resp->extra_headers);
	put_str(&w, "\r\n");
	put(&w, resp->body, resp->body_len);
	return writer_done(&w);
}

int relay_http_error_response_build(uint8_t *out, size_t out_cap, int err)
{
	int status = relay_http_err_status(err);
	if (!status)
		return RELAY_HTTP_E_BAD_REQUEST;

	/* The body says what was wrong, for whoever runs curl against us. */
	const char *msg = relay_http_strerror(err);
	size_t msg_len = strlen(msg);
	uint8_t body[128];
	if (msg_len + 1 > sizeof body)
		msg_len = sizeof body - 1;
	memcpy(body, msg, msg_len);
	body[msg_len] = '\n';

	struct relay_http_response resp = {
		.status = status,
		.content_type = "text/plain; charset=utf-8",
		.body = body,
		.body_len = msg_len + 1,
	};
	if (status == 405) {
		/* RFC 9110 §15.5.6: a 405 MUST list the allowed methods. */
		resp.extra_headers = "Allow: GET\r\n";
	} else if (status == 426) {
		/* RFC 9110 §15.5.22: a 426 MUST send Upgrade; RFC 6455 §4.4:
		 * name the version we speak. */
		resp.extra_headers = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
		resp.upgrade_option = true;
	}
	return relay_http_response_build(out, out_cap, &resp);
}
