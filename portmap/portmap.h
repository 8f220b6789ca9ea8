#ifndef PORTMAP_PORTMAP_H
#define PORTMAP_PORTMAP_H
/* portmap/portmap.h: asking the home router for a UDP port mapping, by PCP
 * (RFC 6887), NAT-PMP (RFC 6886) and UPnP IGD, whichever answers first;
 * renewing it; deleting it at the end. docs/PORTMAP.md describes the
 * behaviour on the wire.
 *
 * Design: one helper thread per mapping, never the reactor. Debian's
 * miniupnpc blocks (SSDP discovery waits out its timeout; the SOAP calls are
 * blocking HTTP with 3 s socket timeouts) and libnatpmp, although it has a
 * non-blocking socket, keeps its retry clock in its own struct; putting them
 * on the reactor would need an adapter per library for a few packets an
 * hour. So the helper thread runs PCP (our codec, portmap/pcp.h) and NAT-PMP
 * side by side with poll(2) on their two sockets, and a second, short-lived
 * thread runs the UPnP discovery and AddPortMapping, which cannot be
 * interrupted; the first protocol that maps wins; UPnP skips its
 * AddPortMapping once another has won; a loser that maps anyway is deleted
 * again, or, when it mapped the same external port (one table on the
 * gateway), kept as a co-owner and deleted with the winner at the end. Every attempt is bounded (PORTMAP_ATTEMPT_MS); the
 * mapping is renewed at half its lifetime through the protocol that holds
 * it (the cache: the gateway, the protocol, PCP's nonce, the IGD's control
 * URL), and all three are tried again when a renewal fails. Results reach
 * the caller through a callback on the helper thread (the node posts them
 * to its reactor with core_rt_post).
 *
 * Only the default gateway is contacted (PCP and NAT-PMP on its UDP port
 * 5351, UPnP's description and control URLs only when their host is the
 * gateway), plus SSDP multicast on the LAN.
 *
 * Cost: one thread (and for the first seconds of each attempt a second one)
 * per mapping, idle between renewals; two UDP sockets during an attempt. */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* The protocols, as a mask. */
enum portmap_proto {
	PORTMAP_PCP = 1,
	PORTMAP_NATPMP = 2,
	PORTMAP_UPNP = 4,
	PORTMAP_ALL = 7,
};

/* Bounds and timers, in one place. */
enum {
	/* One attempt (all protocols at once) ends after this long. */
	PORTMAP_ATTEMPT_MS = 3000,
	/* UPnP's SSDP discovery waits this long for answers (inside the
	 * attempt; miniupnpc's own HTTP calls add up to 3 s each). */
	PORTMAP_SSDP_MS = 2000,
	/* Lifetime asked for (seconds); the gateway may grant less. */
	PORTMAP_LIFETIME_S = 7200,
	/* Granted lifetimes below this are treated as this: a gateway that
	 * grants 0 or 1 s would otherwise make us renew in a loop. */
	PORTMAP_MIN_RENEW_S = 2,
	/* After an attempt where no protocol answered: the next after 2 min,
	 * doubling up to 32 min. */
	PORTMAP_RETRY_MIN_S = 120,
	PORTMAP_RETRY_MAX_S = 1920,
	/* Deleting at the end waits at most this long per protocol. */
	PORTMAP_DELETE_MS = 1000,
	/* After a protocol won, how long the others' requests already out
	 * may still answer (their mappings are then undone or shared). */
	PORTMAP_GRACE_MS = 300,
};

/* portmap_proto_name returns "pcp", "natpmp", "upnp", or "none". */
const char *portmap_proto_name(unsigned proto);

/* struct portmap_mapping: a mapping the gateway granted. */
struct portmap_mapping {
	unsigned proto;                 /* one of enum portmap_proto; 0: no mapping (lost) */
	struct sockaddr_in external;    /* the gateway's public address and port */
	uint16_t internal_port;
	uint32_t lifetime_s;            /* granted; 0 for a permanent UPnP lease */
	uint32_t gateway_be;            /* the gateway asked (network order) */
};

/* portmap_notify_fn is called on the helper thread each time the mapping
 * appears, changes (address, port, protocol) or is lost (m->proto == 0);
 * not on renewals that change nothing. It must not block for long. */
typedef void (*portmap_notify_fn)(void *arg, const struct portmap_mapping *m);

/* struct portmap_opts: what portmap_start maps and whom it tells. */
struct portmap_opts {
	uint16_t internal_port;         /* our UDP port; required */
	unsigned protos;                /* enum portmap_proto mask; 0: all */
	uint32_t lifetime_s;            /* 0: PORTMAP_LIFETIME_S */
	unsigned attempt_ms;            /* 0: PORTMAP_ATTEMPT_MS */
	portmap_notify_fn notify;
	void *arg;
};

struct portmap;

/* portmap_start starts mapping o->internal_port on a helper thread and
 * returns at once. Returns NULL and sets *err (-errno) when the thread or
 * its resources cannot be made, -EINVAL without a port. o is copied. Does not
 * suspend or block. */
struct portmap *portmap_start(const struct portmap_opts *o, int *err);

/* portmap_stop_begin tells the helper thread to delete the mapping it holds
 * and returns at once, so the deletion runs while the caller winds down the
 * rest; portmap_stop then only waits for what is left of it. Does not block
 * or suspend; any thread. NULL is a no-op. */
void portmap_stop_begin(struct portmap *pm);

/* portmap_stop tells the helper thread to delete the mapping it holds, waits
 * for it (at most PORTMAP_DELETE_MS per protocol, plus whatever a UPnP call
 * already in flight still needs, bounded by miniupnpc's 3 s timeouts) and
 * frees pm. Blocks: call it off the reactor (after core_rt_run returns).
 * NULL is a no-op. notify is not called after it returns. */
void portmap_stop(struct portmap *pm);

/* struct portmap_probe: what the gateway offers (`atmosphere network`). */
struct portmap_probe {
	bool pcp, natpmp, upnp;
	bool have_gateway;
	uint32_t gateway_be;
	char upnp_ip[16];               /* the IGD's external IP, "" if none */
	char natpmp_ip[16];             /* NAT-PMP's public address, "" if none */
};

/* portmap_probe asks the default gateway, at once by all three protocols,
 * whether it speaks them, without creating any mapping (PCP ANNOUNCE,
 * NAT-PMP's public-address request, SSDP and the IGD's GetExternalIPAddress).
 * Waits at most timeout_ms (plus a UPnP SOAP call in flight). Returns 0
 * (*out filled; all false when nothing answered) or -errno (no default
 * route: -ENETUNREACH). Blocks: call it off the reactor. */
int portmap_probe(struct portmap_probe *out, unsigned timeout_ms);

#endif
