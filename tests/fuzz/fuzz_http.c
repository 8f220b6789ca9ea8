/* Fuzz target for relay/http: every input is parsed as a request and as a
 * response. Properties, not only survival:
 *   - a parse consumes at most len and at most RELAY_HTTP_MAX_HEADER_BYTES;
 *     "incomplete" only below that limit;
 *   - every span of the result lies inside the consumed bytes;
 *   - the result is the same on exactly the consumed bytes, and one byte
 *     less is incomplete (the head ends at its last byte);
 *   - a route's session id lies inside the target and is valid;
 *   - an accepted upgrade round-trips: the 101 we build parses and passes
 *     the client's check with the request's key;
 *   - the error response for any failure parses back with its status.
 * Seeds: tests/fuzz/corpus/http/ (bad-* must fail, see tests/relay/test_http.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/http.h"
#include "tests/fuzz/check.h"

static const uint8_t *lo, *hi;

static void check_span(struct relay_http_span s)
{
	if (!s.ptr) {
		CHECK(s.len == 0);
		return;
	}
	CHECK((const uint8_t *)s.ptr >= lo && (const uint8_t *)s.ptr <= hi);
	CHECK(s.len <= (size_t)(hi - (const uint8_t *)s.ptr));
}

static void check_headers(const struct relay_http_header *h, size_t num)
{
	CHECK(num <= RELAY_HTTP_MAX_HEADERS);
	for (size_t i = 0; i < num; i++) {
		check_span(h[i].name);
		check_span(h[i].value);
		CHECK(h[i].name.len > 0);
	}
}

static void check_status(int rc, size_t len)
{
	CHECK(rc >= RELAY_HTTP_E_NO_ROOM);
	CHECK(rc <= (int)len && rc <= RELAY_HTTP_MAX_HEADER_BYTES);
	CHECK(rc != RELAY_HTTP_OK);
	if (rc == RELAY_HTTP_INCOMPLETE)
		CHECK(len < RELAY_HTTP_MAX_HEADER_BYTES);
}

static void check_error_response(int err)
{
	static struct relay_http_resp resp;
	uint8_t out[512];
	if (!relay_http_err_status(err))
		return;
	int n = relay_http_error_response_build(out, sizeof out, err);
	CHECK(n > 0);
	int head = relay_http_parse_response(&resp, out, (size_t)n);
	CHECK(head > 0);
	CHECK(resp.status == relay_http_err_status(err));
	CHECK(resp.content_length == (uint64_t)(n - head));
}

static void fuzz_request(const uint8_t *data, size_t size)
{
	static struct relay_http_req req, again;
	int n = relay_http_parse_request(&req, data, size);
	check_status(n, size);
	if (n <= 0) {
		check_error_response(n);
		return;
	}
	lo = data;
	hi = data + n;
	check_span(req.method);
	check_span(req.target);
	check_span(req.host);
	check_span(req.ws_key);
	check_span(req.ws_version);
	check_span(req.x_forwarded_for);
	check_headers(req.headers, req.num_headers);
	CHECK(req.method.len > 0 && req.target.len > 0);
	CHECK(req.minor_version >= 0 && req.minor_version <= 9);

	CHECK(relay_http_parse_request(&again, data, (size_t)n) == n);
	CHECK(again.num_headers == req.num_headers && again.host.ptr == req.host.ptr);
	CHECK(relay_http_parse_request(&again, data, (size_t)n - 1) == RELAY_HTTP_INCOMPLETE);

	struct relay_http_span id;
	int route = relay_http_route(&id, &req);
	if (route == RELAY_HTTP_ROUTE_RELAY) {
		CHECK(id.ptr >= req.target.ptr && id.ptr + id.len <= req.target.ptr + req.target.len);
		CHECK(relay_session_id_valid(id.ptr, id.len));
	} else {
		CHECK(id.ptr == NULL && id.len == 0);
		if (route < 0)
			check_error_response(route);
	}

	char accept[RELAY_HTTP_ACCEPT_LEN + 1];
	int rc = relay_http_check_upgrade(accept, &req);
	if (rc != RELAY_HTTP_OK) {
		check_error_response(rc);
		return;
	}
	CHECK(strlen(accept) == RELAY_HTTP_ACCEPT_LEN);
	uint8_t out[256];
	static struct relay_http_resp resp;
	int m = relay_http_upgrade_response_build(out, sizeof out, accept);
	CHECK(m > 0);
	CHECK(relay_http_parse_response(&resp, out, (size_t)m) == m);
	CHECK(relay_http_check_upgrade_response(&resp, req.ws_key.ptr, req.ws_key.len) ==
	      RELAY_HTTP_OK);
}

static void fuzz_response(const uint8_t *data, size_t size)
{
	static struct relay_http_resp resp;
	int n = relay_http_parse_response(&resp, data, size);
	check_status(n, size);
	if (n <= 0)
		return;
	lo = data;
	hi = data + n;
	check_span(resp.reason);
	check_span(resp.ws_accept);
	check_span(resp.ws_extensions);
	check_span(resp.ws_protocol);
	check_headers(resp.headers, resp.num_headers);
	CHECK(resp.status >= 100 && resp.status <= 599);
	CHECK(relay_http_parse_response(&resp, data, (size_t)n - 1) == RELAY_HTTP_INCOMPLETE);
	/* Whatever the server sent, checking it must not crash. */
	(void)relay_http_check_upgrade_response(&resp, "dGhlIHNhbXBsZSBub25jZQ==", 24);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_request(data, size);
	fuzz_response(data, size);
	return 0;
}
