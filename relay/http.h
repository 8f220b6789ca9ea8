#ifndef RELAY_HTTP_H
#define RELAY_HTTP_H
/* relay/http.h: the HTTP/1.1 surface of the seed protocol, as pure codecs.
 *
 *   GET /relay/{session_id}   upgrades to WebSocket (RFC 6455 §4)
 *   GET /health /stats /metrics   plain responses
 *   other paths 404, other methods 405, session ids outside
 *   [A-Za-z0-9_-]{1,128} 400; every response but the 101 closes.
 *
 * The server parses requests, routes them, checks the upgrade and formats
 * the answer; the client formats the upgrade request and checks the 101.
 *
 * Design: picohttpparser's. The parsers keep no state between calls: they
 * are given everything received so far and either finish, returning the
 * length of the header block, or ask for more, or reject. Results point into
 * the caller's buffer (nothing is copied, allocated or written into the
 * input) and stay valid as long as those bytes do. Cost: a call parses the
 * request line — so a stream that is not HTTP is refused at its first bad
 * byte — then looks for the blank line with memmem, and parses header lines
 * only once it is there; a peer trickling bytes costs one memmem over at
 * most RELAY_HTTP_MAX_HEADER_BYTES per read.
 *
 * Strictness, so that the relay and a proxy in front of it cannot disagree
 * on where a header ends (RFC 9112 §2.2, §5.1, §5.2, §6.3): lines end in CRLF,
 * bare CR or LF anywhere is refused, as are whitespace before a colon,
 * obsolete line folding, control characters in values, repeated or malformed
 * Content-Length, and Transfer-Encoding together with Content-Length.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* enum relay_http_limits: every HTTP limit a peer can push on, in one place.
 * WebSocket payload and message limits are the caller's, passed to
 * relay/ws_frame.h. */
enum relay_http_limits {
	/* Request or status line, headers and the blank line. Larger: 431. */
	RELAY_HTTP_MAX_HEADER_BYTES = 8192,
	/* Header lines kept per message. More: 431. */
	RELAY_HTTP_MAX_HEADERS = 32,
	/* Session ids are 1 to 128 characters of [A-Za-z0-9_-]. */
	RELAY_HTTP_MAX_SESSION_ID = 128,
	/* base64 of the 16-byte Sec-WebSocket-Key nonce, and of a SHA-1. */
	RELAY_HTTP_KEY_LEN = 24,
	RELAY_HTTP_ACCEPT_LEN = 28,
};

/* enum relay_http_status: results. RELAY_HTTP_INCOMPLETE asks for more bytes
 * and is not a failure.
 * relay_http_err_status maps each error to the status to answer it with. */
enum relay_http_status {
	RELAY_HTTP_OK = 0,
	RELAY_HTTP_INCOMPLETE = -1,
	RELAY_HTTP_E_BAD_REQUEST = -2,        /* 400: syntax of a line */
	RELAY_HTTP_E_BAD_VERSION = -3,        /* 505: not HTTP/1.x (or 1.0 upgrade) */
	RELAY_HTTP_E_TOO_LARGE = -4,          /* 431: no blank line within the limit */
	RELAY_HTTP_E_TOO_MANY_HEADERS = -5,   /* 431 */
	RELAY_HTTP_E_BAD_HOST = -6,           /* 400: missing, repeated or invalid */
	RELAY_HTTP_E_BAD_CONTENT_LENGTH = -7, /* 400: not digits, repeated, overflow */
	RELAY_HTTP_E_BAD_FRAMING = -8,        /* 400: Transfer-Encoding with C-L/1.0 */
	RELAY_HTTP_E_DUPLICATE_FIELD = -9,    /* 400: a Sec-WebSocket-* field twice */
	RELAY_HTTP_E_NOT_FOUND = -10,         /* 404: no such path */
	RELAY_HTTP_E_METHOD = -11,            /* 405: not GET */
	RELAY_HTTP_E_BAD_SESSION = -12,       /* 400: session id */
	RELAY_HTTP_E_NOT_UPGRADE = -13,       /* 426: no "Upgrade: websocket" */
	RELAY_HTTP_E_NO_CONNECTION_UPGRADE = -14, /* 400: Connection lacks upgrade */
	RELAY_HTTP_E_BAD_KEY = -15,           /* 400: Sec-WebSocket-Key */
	RELAY_HTTP_E_BAD_WS_VERSION = -16,    /* 426: Sec-WebSocket-Version not 13 */
	RELAY_HTTP_E_NOT_101 = -17,           /* client: the server refused */
	RELAY_HTTP_E_BAD_ACCEPT = -18,        /* client: wrong Sec-WebSocket-Accept */
	RELAY_HTTP_E_UNREQUESTED = -19,       /* client: extension/protocol not asked */
	RELAY_HTTP_E_NO_ROOM = -20,           /* builders: output buffer too small */
};

/* relay_http_strerror returns a static description of a relay_http_status. */
const char *relay_http_strerror(int err);

/* relay_http_err_status returns the HTTP status a server answers the error
 * with (400, 404, 405, 426, 431 or 505), or 0 for values that are not
 * request errors (OK, INCOMPLETE, client-side and builder errors). */
int relay_http_err_status(int err);

/* struct relay_http_span is a run of bytes inside a parsed input. ptr is
 * NULL when the field was absent; a present but empty field has len 0. */
struct relay_http_span {
	const char *ptr;
	size_t len;
};

/* struct relay_http_header is one field line of a parsed head. */
struct relay_http_header {
	struct relay_http_span name;    /* as sent; compare case-insensitively */
	struct relay_http_span value;   /* surrounding whitespace removed */
};

/* struct relay_http_req is a parsed request head. Every span points into the
 * buffer given to relay_http_parse_request and is valid while it is. It is
 * about 1.2 KiB, mostly the header array: parse onto the stack while
 * handling the handshake and keep only what the session needs. */
struct relay_http_req {
	struct relay_http_span method;
	struct relay_http_span target;          /* request-target, query included */
	int minor_version;                      /* HTTP/1.minor_version */
	/* Fields the relay acts on; absent ones have ptr NULL. */
	struct relay_http_span host;
	struct relay_http_span ws_key;          /* Sec-WebSocket-Key */
	struct relay_http_span ws_version;      /* Sec-WebSocket-Version */
	struct relay_http_span x_forwarded_for; /* the last such line: its last
						   element is the nearest proxy's */
	bool upgrade_websocket;                 /* an Upgrade line lists websocket */
	bool connection_upgrade;                /* a Connection line lists upgrade */
	bool has_content_length;
	bool has_transfer_encoding;
	uint64_t content_length;
	size_t num_headers;
	struct relay_http_header headers[RELAY_HTTP_MAX_HEADERS];
};

/* relay_http_parse_request parses the request head at the start of
 * buf[0..len). Returns the length of the head (request line, headers, blank
 * line; the body or next bytes start there) and fills *out; or
 * RELAY_HTTP_INCOMPLETE when more bytes are needed; or a negative
 * RELAY_HTTP_E_* error, possibly before the head is complete (a bad request
 * line is refused at its first bad byte). Besides syntax it refuses heads
 * over RELAY_HTTP_MAX_HEADER_BYTES or RELAY_HTTP_MAX_HEADERS, major versions
 * other than 1, HTTP/1.1 without exactly one valid Host, bad or repeated
 * Content-Length, Transfer-Encoding with Content-Length or in HTTP/1.0, and a
 * repeated Sec-WebSocket-Key or -Version. *out is unspecified unless the
 * return is positive. */
int relay_http_parse_request(struct relay_http_req *out, const uint8_t *buf, size_t len);

/* relay_http_header_find returns the first header named name (compared
 * case-insensitively) among hdrs[0..num_hdrs), or NULL. */
const struct relay_http_header *relay_http_header_find(const struct relay_http_header *hdrs,
						       size_t num_hdrs, const char *name);

/* relay_session_id_valid says whether id[0..len) is a session id: 1 to
 * RELAY_HTTP_MAX_SESSION_ID characters of [A-Za-z0-9_-]. */
bool relay_session_id_valid(const char *id, size_t len);

/* enum relay_http_route names what a request asks for; see relay_http_route. */
enum relay_http_route {
	RELAY_HTTP_ROUTE_RELAY,     /* GET /relay/{session_id} */
	RELAY_HTTP_ROUTE_HEALTH,    /* GET /health */
	RELAY_HTTP_ROUTE_STATS,     /* GET /stats */
	RELAY_HTTP_ROUTE_METRICS,   /* GET /metrics */
};

/* relay_http_route classifies a parsed request by its path (the target up to
 * any '?'). Returns an enum relay_http_route, with *out_session_id set to the
 * id (pointing into req's input) for RELAY_HTTP_ROUTE_RELAY and to
 * {NULL, 0} otherwise; or RELAY_HTTP_E_NOT_FOUND for another path,
 * RELAY_HTTP_E_METHOD for a known path without GET, RELAY_HTTP_E_BAD_SESSION
 * for /relay/ followed by an invalid id — checked in that order. Whether the
 * relay route is a valid upgrade is relay_http_check_upgrade's job. */
int relay_http_route(struct relay_http_span *out_session_id, const struct relay_http_req *req);

/* relay_http_accept_compute writes the Sec-WebSocket-Accept value for a
 * Sec-WebSocket-Key (RFC 6455 §4.2.2 step 5.4: base64 of the SHA-1 of the
 * key, as sent, followed by the protocol GUID), NUL-terminated. */
void relay_http_accept_compute(char out[static RELAY_HTTP_ACCEPT_LEN + 1], const char *key,
			       size_t key_len);

/* relay_http_check_upgrade checks that req is a WebSocket opening handshake
 * the relay accepts (RFC 6455 §4.2.1) and writes the Sec-WebSocket-Accept
 * value for its key to out_accept (NUL-terminated). Returns RELAY_HTTP_OK, or
 * the first failed rule: RELAY_HTTP_E_METHOD (not GET),
 * RELAY_HTTP_E_BAD_VERSION (not HTTP/1.1 or later), RELAY_HTTP_E_NOT_UPGRADE,
 * RELAY_HTTP_E_NO_CONNECTION_UPGRADE, RELAY_HTTP_E_BAD_KEY (absent or not the
 * base64 of 16 bytes), RELAY_HTTP_E_BAD_WS_VERSION (not 13). The host and the
 * path are the caller's to check. out_accept is written only on success. */
int relay_http_check_upgrade(char out_accept[static RELAY_HTTP_ACCEPT_LEN + 1],
			     const struct relay_http_req *req);

/* struct relay_http_resp is a parsed response head; spans point into the
 * buffer given to relay_http_parse_response and are valid while it is. */
struct relay_http_resp {
	int minor_version;
	int status;                             /* 100..599 */
	struct relay_http_span reason;          /* may be empty */
	struct relay_http_span ws_accept;       /* Sec-WebSocket-Accept */
	struct relay_http_span ws_extensions;   /* Sec-WebSocket-Extensions */
	struct relay_http_span ws_protocol;     /* Sec-WebSocket-Protocol */
	bool upgrade_websocket;
	bool connection_upgrade;
	bool has_content_length;
	bool has_transfer_encoding;
	uint64_t content_length;
	size_t num_headers;
	struct relay_http_header headers[RELAY_HTTP_MAX_HEADERS];
};

/* relay_http_parse_response parses the response head at the start of
 * buf[0..len), as relay_http_parse_request does a request: returns the head's
 * length (the WebSocket stream or body starts there), RELAY_HTTP_INCOMPLETE,
 * or a negative RELAY_HTTP_E_* error (syntax, size, version, Content-Length,
 * framing, a repeated Sec-WebSocket-Accept). *out is unspecified unless the
 * return is positive. */
int relay_http_parse_response(struct relay_http_resp *out, const uint8_t *buf, size_t len);

/* relay_http_check_upgrade_response checks the server's answer to an upgrade
 * request sent with Sec-WebSocket-Key key[0..key_len) and no extensions or
 * subprotocols (RFC 6455 §4.1, client steps 1-6). Returns RELAY_HTTP_OK, or
 * RELAY_HTTP_E_NOT_101, RELAY_HTTP_E_NOT_UPGRADE,
 * RELAY_HTTP_E_NO_CONNECTION_UPGRADE, RELAY_HTTP_E_BAD_ACCEPT,
 * RELAY_HTTP_E_UNREQUESTED. */
int relay_http_check_upgrade_response(const struct relay_http_resp *resp, const char *key,
				      size_t key_len);

/* relay_http_key_encode writes the Sec-WebSocket-Key for a 16-byte nonce,
 * which the caller draws at random for each connection (§4.1), as 24 base64
 * characters and a NUL. */
void relay_http_key_encode(char out[static RELAY_HTTP_KEY_LEN + 1], const uint8_t nonce[static 16]);

/* The builders below write into out[0..out_cap), never past it, and return
 * the number of bytes written (no NUL is added), or RELAY_HTTP_E_NO_ROOM when
 * the message does not fit (out is then unspecified). */

/* relay_http_upgrade_request_build formats the client's opening handshake
 * for host (host[:port]) and path, with the key from relay_http_key_encode.
 * Returns RELAY_HTTP_E_BAD_REQUEST when host or path hold bytes that cannot
 * appear there (so configuration cannot inject header lines). */
int relay_http_upgrade_request_build(uint8_t *out, size_t out_cap, const char *host,
				     const char *path,
				     const char key[static RELAY_HTTP_KEY_LEN + 1]);

/* relay_http_upgrade_response_build formats "101 Switching Protocols" with
 * the accept value from relay_http_check_upgrade. */
int relay_http_upgrade_response_build(uint8_t *out, size_t out_cap,
				      const char accept[static RELAY_HTTP_ACCEPT_LEN + 1]);

/* struct relay_http_response describes a plain response. reason NULL means
 * the standard phrase for status; content_type NULL sends none (fine with an
 * empty body); extra_headers, NULL or complete "Name: value\r\n" lines, go
 * after the fixed ones. Content-Length and "Connection: close" are always
 * sent: the relay serves one plain request per connection. */
struct relay_http_response {
	int status;                 /* 100..599 */
	const char *reason;
	const char *content_type;
	const char *extra_headers;
	const uint8_t *body;        /* may be NULL when body_len is 0 */
	size_t body_len;
	/* Send "Connection: Upgrade, close": RFC 9110 §7.8 asks for the option
	 * whenever extra_headers carries an Upgrade line (426 responses). */
	bool upgrade_option;
};

/* relay_http_response_build formats resp. Returns RELAY_HTTP_E_BAD_REQUEST
 * for a status outside 100..599 or a reason, content type or extra headers
 * holding CR, LF or other control bytes (extra_headers may hold CRLF only as
 * line ends, and must end with one). */
int relay_http_response_build(uint8_t *out, size_t out_cap, const struct relay_http_response *resp);

/* relay_http_error_response_build formats the answer to a request error
 * err (one with a relay_http_err_status): that status, a one-line text body
 * saying what was wrong, and the headers the status requires — "Allow: GET"
 * for 405, "Upgrade: websocket" and "Sec-WebSocket-Version: 13" for 426
 * (RFC 9110 §15.5.6, RFC 6455 §4.4). Returns RELAY_HTTP_E_BAD_REQUEST for an
 * err without a status. */
int relay_http_error_response_build(uint8_t *out, size_t out_cap, int err);

/* relay_http_reason returns the standard reason phrase for the statuses the
 * relay uses, "Unknown" for others. */
const char *relay_http_reason(int status);

#endif
