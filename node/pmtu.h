#ifndef NODE_PMTU_H
#define NODE_PMTU_H
/* node/pmtu.h: the overlay MTU a direct path carries, measured (docs/
 * OVERLAY.md, "MTU").
 *
 * The relay path and any path not measured carry NODE_OVERLAY_MTU (1280,
 * IPv6's minimum). When a direct path opens, and every NODE_PMTU_EVERY_MS
 * after, the node sends one probe per size in node_pmtu_sizes: a PMTU
 * message padded so that its datagram is as large as an overlay packet of
 * that size would be, on a socket that sets DF and never fragments
 * (node_pmtu_socket). The peer answers each probe that reached it with its
 * size; the largest size answered within NODE_PMTU_WAIT_MS (two rounds, for
 * a lost probe) is the path's MTU. An older peer answers nothing: its paths
 * keep 1280, and it never gets a packet larger than it ever did.
 *
 * The state machine is pure (times in ms of the node's clock), so it is
 * tested without sockets; node/ticker.c and node/message.c drive it. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/overlay.h"

/* The probe sizes, largest first: overlay MTUs. The largest is WireGuard's
 * 1420 (an IPv6 underlay of 1,500 bytes takes 1,400 with our 33 bytes of
 * framing: 1420 + 33 + 48 > 1500). */
#define NODE_PMTU_MAX 1420
#define NODE_PMTU_NUM_SIZES 7
extern const uint16_t node_pmtu_sizes[NODE_PMTU_NUM_SIZES];

/* Timers: the second round of probes, the end of a measurement, the next
 * measurement of the same path. */
#define NODE_PMTU_ROUND_MS 500u
#define NODE_PMTU_WAIT_MS 1500u
#define NODE_PMTU_EVERY_MS (10u * 60u * 1000u)

/* The body of a PMTU message (after the type byte): 'P' or 'A', the size
 * (2 bytes, network order), and for a probe zeros up to the size. */
enum { NODE_PMTU_PROBE = 'P', NODE_PMTU_ANSWER = 'A', NODE_PMTU_HEAD_LEN = 3 };

struct node_pmtu {
	uint16_t mtu;       /* the last measurement's result; 0: none (NODE_OVERLAY_MTU) */
	uint16_t best;      /* the running measurement's largest answered size */
	uint8_t rounds;     /* probe rounds sent in the running measurement */
	uint64_t start_ms;  /* the running measurement's start; 0: none runs */
	uint64_t next_ms;   /* when the next measurement is due; 0: at once */
	uint16_t best_logged; /* the figure last logged (node/ticker.c) */
};

/* node_pmtu_reset forgets the path's figure when a direct path opens or
 * moves: it is measured at once. */
void node_pmtu_reset(struct node_pmtu *s);

/* node_pmtu_round says whether a round of probes is due at t (a
 * measurement due starts with it: node_pmtu_sent follows the sends). */
bool node_pmtu_round(const struct node_pmtu *s, uint64_t t);

/* node_pmtu_sent notes a round of probes sent at t. */
void node_pmtu_sent(struct node_pmtu *s, uint64_t t);

/* node_pmtu_answer notes an answer for size; false when no measurement
 * runs or size is not a probe size (ignored). The largest size ends the
 * measurement at once. */
bool node_pmtu_answer(struct node_pmtu *s, uint16_t size);

/* node_pmtu_tick ends a measurement whose wait is over at t and returns
 * true when it did (mtu set; no answer at all leaves NODE_OVERLAY_MTU). */
bool node_pmtu_tick(struct node_pmtu *s, uint64_t t);

/* node_pmtu_path returns the overlay MTU of a peer's packets: the measured
 * one on a direct path (direct true), else NODE_OVERLAY_MTU. */
unsigned node_pmtu_path(const struct node_pmtu *s, bool direct);

/* node_pmtu_probe_body writes the body of a probe of size into out (size
 * bytes; size >= NODE_PMTU_HEAD_LEN). */
void node_pmtu_probe_body(uint16_t size, uint8_t *out);

/* node_pmtu_parse reads a PMTU message body: its kind ('P' or 'A') and
 * size. False for anything else: a probe whose length is not its size, a
 * size that is not a probe size, an answer with a body. */
bool node_pmtu_parse(const uint8_t *m, size_t n, uint8_t *kind, uint16_t *size);

/* node_pmtu_socket makes a UDP socket of family af set DF on every datagram
 * and never fragment one (IP_PMTUDISC_PROBE): a probe larger than the path
 * is lost, not fragmented into one that arrives. Returns 0 or -errno. */
int node_pmtu_socket(int fd, int af);

#endif
