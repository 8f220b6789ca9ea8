#ifndef NODE_OVERLAY_H
#define NODE_OVERLAY_H
/* node/overlay.h: the IP overlay on a running node (docs/OVERLAY.md).
 *
 * With `serve --tun` the node opens a TUN interface, gives it this node's
 * overlay addresses (overlay/addr.h) and routes the mesh's prefixes to it.
 * A packet the kernel routes there is checked, matched to the member that
 * owns its destination (overlay/table.h) and sent to it sealed as a
 * NODE_MSG_IP message on the peer's best path; one that arrives from a
 * member is delivered to the TUN only if its source address is that
 * member's and its destination ours. Node-only; the functions take the
 * node (node/internal.h). */
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node;
struct node_peer;

/* The overlay's MTU on the relay path and on a direct path not measured
 * yet: IPv6's minimum, so a packet plus the e2e and UDP/IP overhead fits a
 * 1,500-byte underlay, and the relay path needs no discovery. The interface
 * itself has NODE_PMTU_MAX (node/pmtu.h): a larger packet to a peer whose
 * path carries less gets "packet too big" with that peer's figure
 * (docs/OVERLAY.md, "MTU"). */
#define NODE_OVERLAY_MTU 1280

/* node_overlay_switched_on returns whether the offload switch name (an
 * environment variable: ATMOSPHERE_TUN_OFFLOAD, ATMOSPHERE_TUN_GRO,
 * ATMOSPHERE_UDP_GSO, ATMOSPHERE_UDP_GRO) is on: anything but "off". For
 * measuring what each offload brings. */
bool node_overlay_switched_on(const char *name);

/* node_overlay_start opens and configures the interface when the node was
 * asked to (node_run_opts.tun). A failure (no CAP_NET_ADMIN, no
 * /dev/net/tun) is logged with how to fix it and the node goes on without
 * the overlay. Runs on the reactor, once the mesh is known. */
void node_overlay_start(struct node *node);

/* node_overlay_tick keeps the routing table in step with the peers (their
 * ids can be learnt at any time, and each member's collision counter is
 * the one of its entry) and the interface's addresses with this node's
 * counter (it moves when its address collided: docs/OVERLAY.md,
 * "Collisions"). Called by the ticker. */
void node_overlay_tick(struct node *node);

/* node_overlay_deliver hands an IP packet that peer p sent (the body of a
 * NODE_MSG_IP message) to the TUN, or drops and counts it. */
void node_overlay_deliver(struct node *node, struct node_peer *p, const uint8_t *pkt, size_t n);

/* node_overlay_batch_begin and _end bracket the packets a UDP reader
 * finds queued, or the messages a relay link's reader has received already
 * (relay_client_try_recv): inside a batch, node_overlay_deliver may hold a
 * packet to coalesce it with the next ones of its flow, up to
 * OVERLAY_GRO_FLOWS flows at once (overlay/gro.h, with offloads on); _end
 * writes what is held. Call _end before anything that waits for
 * more traffic, so that no packet waits for the next one. Batches may
 * nest (each reader its own); either end flushes. */
void node_overlay_batch_begin(struct node *node);
void node_overlay_batch_end(struct node *node);
/* node_overlay_flush writes what the coalescer holds, inside a batch or
 * not: every send that may wait calls it first (node/peer.c,
 * node/relay_link.c, and the control socket's sends in node/message.c and
 * node/join.c), so a held packet never waits on another send. */
void node_overlay_flush(struct node *node);

/* node_overlay_json: this node's overlay state for `status` (NULL when
 * the overlay is off); node_overlay_peer_addrs adds a peer's overlay
 * addresses and the collision counter they derive from (its entry's) to its
 * `peers` entry: overlay_ipv4, overlay_ipv6, overlay_n (derived: shown with
 * or without a TUN). */
json_object *node_overlay_json(struct node *node);
void node_overlay_peer_addrs(const struct node *node, const uint8_t pub[32], const char *node_id, json_object *o);

/* node_overlay_owns: whether a is this node's overlay address or a
 * member's (when the overlay is on). Such an address is never a candidate
 * or a direct path: the overlay would carry itself. */
struct sockaddr_storage;
bool node_overlay_owns(const struct node *node, const struct sockaddr_storage *a);

/* node_overlay_stop closes the interface (its addresses and routes go with
 * it). */
void node_overlay_stop(struct node *node);

#endif
