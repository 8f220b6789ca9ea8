#ifndef NET_ADDR_H
#define NET_ADDR_H
/* net/addr.h: splitting what people write for an address: "host:port",
 * "[v6]:port", "ws://host:port/path". Structure only: each caller keeps its
 * own policy (whether a port is required, which hosts it takes, defaults)
 * on top. Results point into the input; nothing is allocated. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What net_hostport_split found. port_len 0: no port was written. */
struct net_hostport {
	const char *host;     /* without the brackets of "[v6]" */
	size_t host_len;
	const char *port;     /* the digits after the separating ':' (unchecked) */
	size_t port_len;
	bool bracketed;       /* written "[...]" */
	bool has_port;        /* a ':' separated a port (port_len may be 0) */
};

enum net_addr_err {
	NET_ADDR_OK = 0,
	NET_ADDR_E_UNCLOSED = -1,     /* "[" without "]" */
	NET_ADDR_E_AFTER_BRACKET = -2,/* "]" followed by something but ":PORT" */
	NET_ADDR_E_SCHEME = -3,       /* not "ws://" or "wss://" */
	NET_ADDR_E_EMPTY = -4,        /* no authority after the scheme */
};

/* net_hostport_split splits s[0..len) as "HOST", "HOST:PORT", "[V6]" or
 * "[V6]:PORT" (RFC 3986 section 3.2.2, without userinfo). An unbracketed
 * text with more than one ':' is a bare IPv6 literal without a port.
 * Returns NET_ADDR_OK or a negative enum net_addr_err. */
int net_hostport_split(struct net_hostport *out, const char *s, size_t len);

/* net_port_parse reads s[0..len) as a port: decimal digits only, 1 to
 * 65535. Returns whether it was one. */
bool net_port_parse(const char *s, size_t len, uint16_t *out);

/* A WebSocket URL's parts (RFC 6455 section 3). */
struct net_ws_url {
	bool tls;                  /* wss:// */
	const char *authority;     /* "host[:port]" or "[v6][:port]" */
	size_t authority_len;
	const char *path;          /* from the first '/', '?' or '#' to the end; "" when none */
};

/* net_ws_url_split splits s (NUL-terminated) at its scheme and authority.
 * Returns NET_ADDR_OK, NET_ADDR_E_SCHEME or NET_ADDR_E_EMPTY. */
int net_ws_url_split(struct net_ws_url *out, const char *s);

#endif
