#ifndef NODE_FAMILY_H
#define NODE_FAMILY_H
/* node/family.h: the node's IPv6 underlay: which address family a direct
 * path uses, which one wins when both work, which IPv6 addresses are
 * candidates at all. Pure functions of addresses and path state, tested
 * without sockets; node/udp6.c and node/path.c apply them.
 *
 * Design: one UDP socket per family on the same port (node->udp for IPv4,
 * node->udp6 with IPV6_V6ONLY for IPv6), so IPv4 addresses stay plain
 * sockaddr_in everywhere and a host without IPv6 loses nothing. Punching
 * sends to every candidate of both families in the same window (the two
 * families are tried at once, none waits for the other), and the direct
 * path takes the best class that has answered:
 *
 *   lan (private IPv4, unique local IPv6)  >  direct IPv6  >  direct IPv4
 *
 * IPv6 beats public IPv4 because it has no NAT mapping to expire or rebind
 * (home routers filter, RFC 6092, but a punched pinhole keeps its address
 * and port). The cost: a second socket and reader coroutine per node, and
 * up to twice the punch datagrams while both families have candidates. */
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* node_family_name returns "ipv4" or "ipv6" for an AF_INET / AF_INET6
 * sa_family, NULL for anything else (static storage). */
const char *node_family_name(sa_family_t family);

/* node_family_direct_rank orders direct paths: 3 for a LAN address, 2 for
 * IPv6, 1 for public IPv4; higher is better. */
unsigned node_family_direct_rank(bool lan, bool ipv6);

/* node_family_direct_moves says whether a verified packet from another
 * address (rank from_rank, node_family_direct_rank) moves the direct path
 * from the one in use (cur_rank, quiet for cur_quiet_ms): to a strictly
 * better rank at once (IPv6 that answers while we were on public IPv4), or
 * to any address once cur has been quiet for more than
 * NODE_DIRECT_STALE_MS (a dead IPv6 pinhole falls back to IPv4, and the
 * other way round). Never between two that both work at the same rank. */
bool node_family_direct_moves(unsigned cur_rank, unsigned from_rank, uint64_t cur_quiet_ms);

/* node_family_v6_candidate says whether a 16-byte IPv6 address may be a
 * direct path's candidate (ours announced, or a peer's punched): unicast
 * with global reach; not unspecified, loopback, link-local (fe80::/10: it
 * needs a zone), multicast (ff00::/8) or IPv4-mapped (::ffff:0:0/96: an
 * IPv4 address, handled by the IPv4 socket). */
bool node_family_v6_candidate(const uint8_t addr[static 16]);

/* Why a peer's announced candidate was refused (counted per reason in
 * `peers --json` self.candidates_refused, names by
 * node_family_refusal_name). */
enum node_family_refusal {
	NODE_REFUSE_NONE = 0,    /* accepted */
	NODE_REFUSE_MALFORMED,   /* not a string "a.b.c.d:port" / "[v6]:port" */
	NODE_REFUSE_OVERLAY,     /* one of our overlay's addresses */
	NODE_REFUSE_UNSPECIFIED, /* :: */
	NODE_REFUSE_LOOPBACK,    /* ::1 */
	NODE_REFUSE_MULTICAST,   /* ff00::/8 */
	NODE_REFUSE_LINK_LOCAL,  /* fe80::/10 */
	NODE_REFUSE_V4_MAPPED,   /* ::ffff:0:0/96 */
	NODE_REFUSE_SELF,        /* an address of ours with our own port: this node's socket */
	NODE_REFUSE_COUNT
};

/* node_family_v6_refusal says why a 16-byte IPv6 address may not be a
 * candidate (NODE_REFUSE_NONE when it may: node_family_v6_candidate). */
enum node_family_refusal node_family_v6_refusal(const uint8_t addr[static 16]);

/* node_family_refusal_name: a static lower-case name ("loopback", ...);
 * "none" for NODE_REFUSE_NONE, "?" out of range. */
const char *node_family_refusal_name(enum node_family_refusal r);

/* node_family_v6_private says whether a 16-byte IPv6 address is a unique
 * local one (fc00::/7, RFC 4193): routed inside a site only, so a path to
 * it is a "lan" path, as to a private IPv4 address. */
bool node_family_v6_private(const uint8_t addr[static 16]);

#endif
