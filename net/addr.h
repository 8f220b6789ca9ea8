#ifndef NET_ADDR_H
#define NET_ADDR_H
/* net/addr.h: splitting what people write for an address: "host:port",
 * "[v6]:port", "ws://host:port/path". Structure only: each caller keeps its
 * own policy (whether a port is required, which hosts it takes, defaults)
 * on top. Results point into the input; nothing is allocated.
 * Also the 16-byte address keys that per-source limits count under (both
 * families in one form; IPv6 by /64). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

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

/* --- Address keys: one 16-byte form for per-source accounting ---------- */

/* net_addr_key writes sa's IP address as 16 bytes: an IPv6 address as is,
 * an IPv4 address as its IPv4-mapped form ::ffff:a.b.c.d, which is also how
 * a dual-stack ("::") socket sees an IPv4 client, so one client has one key
 * on either kind of socket. Another family, or an sa_len too short for its
 * family, gives all zeros (::, never a client's address). Pure. */
void net_addr_key(const struct sockaddr *sa, socklen_t sa_len, uint8_t out[static 16]);

/* net_addr_key_is_v4 returns whether key is an IPv4 address (::ffff:0:0/96). */
bool net_addr_key_is_v4(const uint8_t key[static 16]);

/* The prefix an IPv6 source is counted by (bits; see net_addr_key_limit). */
enum { NET_ADDR_IPV6_LIMIT_PREFIX = 64 };

/* net_addr_key_limit writes the key a per-source limit counts key under: an
 * IPv4 address stays itself; an IPv6 address becomes its /64
 * (NET_ADDR_IPV6_LIMIT_PREFIX: the low 64 bits zeroed). Why /64: it is the smallest network IPv6 hands a host
 * (SLAAC, RFC 4291 section 2.5.1; a /64 per customer link, RFC 6177), so
 * one host can source from all of its 2^64 addresses, and privacy addresses
 * (RFC 8981) change by themselves; a per-address cap on IPv6 would cap
 * nothing. The cost: hosts behind one router share their LAN's /64, as
 * hosts behind one IPv4 NAT share its address. Pure; out may be key. */
void net_addr_key_limit(const uint8_t key[static 16], uint8_t out[static 16]);

/* net_addr_key_str writes key as text ("192.0.2.1", "2001:db8::1") into
 * out (NET_ADDR_KEY_STRLEN bytes suffice) and returns out. */
enum { NET_ADDR_KEY_STRLEN = 46 };
const char *net_addr_key_str(const uint8_t key[static 16], char out[static NET_ADDR_KEY_STRLEN]);

#endif
