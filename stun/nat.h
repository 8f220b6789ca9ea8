#ifndef STUN_NAT_H
#define STUN_NAT_H
/* stun/nat.h: NAT behaviour discovery (RFC 5780 §4, terms of RFC 4787).
 *
 * Design: after stun_discover has found the public endpoint, and when a
 * server that answered offers OTHER-ADDRESS (an RFC 5780 server), run at
 * the same time:
 *   - the mapping tests (§4.3) on the caller's socket: Binding requests to
 *     the server's other address with the primary port (test II) and with
 *     the other port (test III); comparing the mapped addresses with test
 *     I's tells endpoint-independent, address-dependent and
 *     address-and-port-dependent mapping apart;
 *   - the filtering tests (§4.4) on a fresh socket that has contacted only
 *     the primary address, so no earlier test opened the filter: requests
 *     asking for the answer from the other address and port (test II) and
 *     from the other port only (test III); which answers get through tells
 *     endpoint-independent, address-dependent and address-and-port-dependent
 *     filtering apart;
 *   - the hairpinning test (§4.5): a request to our own mapped address,
 *     which succeeds if it comes back to the socket.
 * Without an RFC 5780 server, the mapping is estimated by comparing what
 * different servers saw (the same mapped address from two server addresses
 * means endpoint-independent mapping), filtering stays unknown, and the
 * seed's type is then an estimate (see stun_nat_classify). An IPv6 socket
 * gets the same tests; its type says "firewalled" where no NAT is behind a
 * filter (stun_nat_classify_ipv6).
 *
 * Cost: the filtering tests succeed by receiving nothing, so on a
 * restrictive NAT they last the whole timeout: discovery takes about one
 * timeout more than stun_discover. One extra socket during the tests. */
#include <stdbool.h>
#include <stddef.h>

#include "stun/client.h"

/* enum stun_nat_mapping: RFC 4787 §4.1 mapping behaviour. */
enum stun_nat_mapping {
	STUN_MAPPING_UNKNOWN,
	STUN_MAPPING_ENDPOINT_INDEPENDENT,
	STUN_MAPPING_ADDRESS_DEPENDENT,
	STUN_MAPPING_ADDRESS_AND_PORT_DEPENDENT,
	/* Seen to change between servers, without the data to tell which of
	 * the two dependent kinds. */
	STUN_MAPPING_ENDPOINT_DEPENDENT,
};

/* enum stun_nat_filtering: RFC 4787 §5 filtering behaviour. */
enum stun_nat_filtering {
	STUN_FILTERING_UNKNOWN,
	STUN_FILTERING_ENDPOINT_INDEPENDENT,
	STUN_FILTERING_ADDRESS_DEPENDENT,
	STUN_FILTERING_ADDRESS_AND_PORT_DEPENDENT,
};

/* enum stun_nat_type: the seed's (RFC 3489 style) names. */
enum stun_nat_type {
	STUN_NAT_UNKNOWN,
	STUN_NAT_OPEN,            /* no NAT: the public address is our own */
	STUN_NAT_FULL_CONE,       /* EIM + EIF */
	STUN_NAT_RESTRICTED_CONE, /* EIM + ADF */
	STUN_NAT_PORT_RESTRICTED, /* EIM + APDF */
	STUN_NAT_SYMMETRIC,       /* mapping depends on the destination */
	STUN_NAT_UDP_BLOCKED,     /* no server answered */
	STUN_NAT_FIREWALLED,      /* IPv6 only: no NAT, but unsolicited inbound traffic is filtered */
};

/* Indices into stun_nat_report.tests: the first three run on the caller's
 * socket, the last three on the fresh one. */
enum {
	STUN_NAT_TEST_MAPPING_II,    /* to other ip : primary port */
	STUN_NAT_TEST_MAPPING_III,   /* to other ip : other port */
	STUN_NAT_TEST_HAIRPIN,       /* to our own mapped address */
	STUN_NAT_TEST_FILTERING_I,   /* plain, to the primary address (control) */
	STUN_NAT_TEST_FILTERING_II,  /* CHANGE-REQUEST ip and port */
	STUN_NAT_TEST_FILTERING_III, /* CHANGE-REQUEST port */
	STUN_NAT_NUM_TESTS
};

/* struct stun_nat_report: what stun_nat_discover found. */
struct stun_nat_report {
	struct stun_discovery disc;
	enum stun_nat_mapping mapping;
	enum stun_nat_filtering filtering;
	enum stun_nat_type type;
	bool estimated;           /* type not fully established by RFC 5780 tests */
	bool rfc5780;             /* the RFC 5780 tests ran */
	size_t rfc5780_server;    /* with rfc5780: index of their server in disc.servers */
	int hairpinning;          /* 1 yes, 0 no, -1 not tested */
	int port_preserving;      /* 1 the public port is the local port, 0 not, -1 unknown */
	struct stun_probe tests[STUN_NAT_NUM_TESTS];  /* indexed by STUN_NAT_TEST_* (status -EINPROGRESS: not run) */
	char note[192];           /* why something is unknown or estimated, for people; may be empty */
};


/* stun_nat_discover runs stun_discover(u, servers, num, o) and then the
 * behaviour tests above, filling *out. Returns 0 when *out is filled (also
 * when nothing answered: out->type is then STUN_NAT_UDP_BLOCKED), -EINVAL,
 * -ECANCELED at shutdown, or a socket's -errno. Suspends for at most
 * o->timeout_ms when nothing answers, twice that otherwise (discovery, then
 * the behaviour tests). u is borrowed. */
int stun_nat_discover(struct core_udp *u, const struct stun_endpoint *servers, size_t num,
		      const struct stun_client_opts *o, struct stun_nat_report *out);

/* stun_nat_classify names the seed's type for a behaviour: answered false
 * is udp_blocked; no_nat is open; a destination-dependent mapping is
 * symmetric; endpoint-independent mapping is full_cone, restricted_cone or
 * port_restricted by its filtering, and port_restricted (the most common
 * and the most restrictive cone) with *out_estimated set when filtering is
 * unknown; an unknown mapping is unknown. Pure. */
enum stun_nat_type stun_nat_classify(bool answered, bool no_nat, enum stun_nat_mapping mapping,
				     enum stun_nat_filtering filtering, bool *out_estimated);

/* stun_nat_classify_ipv6 is stun_nat_classify for an IPv6 endpoint. There a
 * public address without NAT is the rule (RFC 7157), and what decides
 * whether a peer can reach us is the stateful firewall most routers run
 * (RFC 6092): with no_nat, endpoint-independent filtering is open,
 * address(-and-port)-dependent filtering firewalled, unknown filtering
 * open with *out_estimated set. The rest is stun_nat_classify's. IPv4 keeps
 * the seed's names, where no NAT is open whatever filters. Pure. */
enum stun_nat_type stun_nat_classify_ipv6(bool answered, bool no_nat, enum stun_nat_mapping mapping,
					  enum stun_nat_filtering filtering, bool *out_estimated);

/* enum stun_port_pattern: how the NAT picks the public port of a new
 * mapping (IPv4; `atmosphere network` asks one server from a few fresh
 * sockets, one after another, and looks at the ports it is told). */
enum stun_port_pattern {
	STUN_PORTS_UNKNOWN,     /* too few answers, or no NAT */
	STUN_PORTS_PRESERVING,  /* the public port is the local port */
	STUN_PORTS_SEQUENTIAL,  /* each new mapping's port is the last one's plus a stride */
	STUN_PORTS_RANDOM,      /* neither */
};

enum {
	STUN_PORT_SAMPLES = 6,        /* fresh sockets asked */
	STUN_PORT_MIN_SAMPLES = 3,    /* answers needed to tell */
	STUN_PORT_MAX_STRIDE = 1024,  /* a larger step is not "sequential" */
};

/* stun_port_pattern_classify names the pattern of n mappings, in the order
 * they were made: local[i] the socket's port, mapped[i] what the server saw.
 * PRESERVING when every mapped port is its local port; SEQUENTIAL when the
 * steps between consecutive mapped ports (mod 65536, signed) share one
 * stride s (0 < |s| <= STUN_PORT_MAX_STRIDE) that at least all but one of
 * them equal, the odd one being 2 to 4 times s (another host's mapping came
 * in between); RANDOM otherwise; UNKNOWN below STUN_PORT_MIN_SAMPLES.
 * *stride (may be NULL) gets s, or 0 for any other pattern. Pure. */
enum stun_port_pattern stun_port_pattern_classify(const uint16_t *local, const uint16_t *mapped, size_t n, int *stride);

/* "unknown", "preserving", "sequential", "random" (static). */
const char *stun_port_pattern_name(enum stun_port_pattern p);

/* Names for JSON and people: snake_case, never NULL ("unknown" outside the
 * enums). */
const char *stun_nat_type_name(enum stun_nat_type t);
const char *stun_nat_mapping_name(enum stun_nat_mapping m);
const char *stun_nat_filtering_name(enum stun_nat_filtering f);

#endif
