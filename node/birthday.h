#ifndef NODE_BIRTHDAY_H
#define NODE_BIRTHDAY_H
/* node/birthday.h: hard-NAT probing ("birthday" probing, as Tailscale's
 * magicsock does it), the plan and the per-peer state machine. Pure: no
 * sockets, no clock; node/hardnat.c does the I/O. docs/NODE.md, "Hard NATs",
 * has the design and the numbers.
 *
 * A NAT is "hard" when its mapping depends on the destination (RFC 4787
 * APDM: two STUN servers see two different ports) and "easy" when it does
 * not (EIM, or no NAT). Between an easy NAT that filters by address and port
 * (port_restricted) and a hard one the ordinary punch cannot work: the hard
 * side's mapping toward the easy side has a port nobody can learn. So the
 * hard side opens NODE_BDAY_SOCKETS sockets, each sends one datagram with
 * TTL 2 toward the easy side's public endpoint (it opens a mapping in the
 * hard NAT, then dies before the easy NAT, where it would set the masquerade
 * trap of docs/NAT-LAB.md), and the easy side sends up to
 * NODE_BDAY_MAX_PROBES probes from its one socket (EIM: always the same
 * public endpoint) to distinct random ports of the hard side's public IP.
 * A probe that hits one of the n mappings passes both NATs (each side has
 * sent to the other's exact endpoint); the hard side answers on that socket,
 * which then carries the direct path. With n mappings spread over R ports,
 * k probes hit at least one with probability >= 1 - (1 - n/R)^k.
 *
 * Signalling, inside the e2e session (over the relay, since there is no
 * direct path): NODE_MSG_PROBE with one byte,
 *   'R' hard -> easy  request: "I am hard, you are easy: shall we?"
 *   'A' easy -> hard  accepted (or 'N': refused, busy, too soon)
 *   'G' hard -> easy  go: my sockets are open, probe me now
 * The easy side sends probes only after it accepted and only on 'G'; the
 * hard side's opening datagrams never reach the peer (TTL 2). Nothing is
 * tried when either side does not know its NAT kind, when both are hard
 * (symmetric <-> symmetric: both sides random, 1-(1-n/R)^k is nil for any
 * budget a node should spend; IPv6 is the answer there), and never by a node
 * whose peer did not say its kind in HELLO (an older node). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum node_nat_kind { NODE_NAT_UNKNOWN, NODE_NAT_EASY, NODE_NAT_HARD };

/* node_nat_name returns "unknown", "easy" or "hard" (static storage). */
const char *node_nat_name(enum node_nat_kind k);

/* node_nat_parse returns the kind a HELLO's "nat" names; anything else
 * (NULL included) is NODE_NAT_UNKNOWN. */
enum node_nat_kind node_nat_parse(const char *s);

/* node_nat_classify returns the kind a STUN discovery shows: HARD when at
 * least two servers answered and not all with the same mapped endpoint,
 * EASY when the host has no NAT (no_nat) or at least two answered alike,
 * else UNKNOWN (one server cannot tell). */
enum node_nat_kind node_nat_classify(size_t num_answered, size_t num_agree, bool no_nat);

/* `serve --hard-nat MODE`: ON (zero, the default) spends the budget of
 * docs/NODE.md, OFF never asks nor accepts, AGGRESSIVE spends a larger one. */
enum node_hard_nat_mode { NODE_HARD_NAT_ON = 0, NODE_HARD_NAT_OFF, NODE_HARD_NAT_AGGRESSIVE };

/* node_hard_nat_mode_name returns "on", "off" or "aggressive" (static). */
const char *node_hard_nat_mode_name(enum node_hard_nat_mode m);

/* node_hard_nat_mode_parse sets *m from "on", "off" or "aggressive";
 * returns false (m untouched) for anything else, NULL included. */
bool node_hard_nat_mode_parse(const char *s, enum node_hard_nat_mode *m);

/* struct node_bday_budget: what one attempt may spend. sockets: the hard
 * side's extra sockets; max_probes: the easy side's probes, per_step of
 * them every NODE_BDAY_STEP_MS, within probe_ms of the 'G'; the hard side
 * listens NODE_BDAY_ANSWER_MS + probe_ms + NODE_BDAY_SLACK_MS. Each side
 * spends its own mode's budget. All zero for OFF. */
struct node_bday_budget {
	unsigned sockets;
	uint32_t max_probes;
	uint32_t per_step;
	uint32_t probe_ms;
};

/* node_bday_budget returns the budget of mode m (static storage; OFF's is
 * all zero; an out-of-range m is treated as OFF). */
const struct node_bday_budget *node_bday_budget(enum node_hard_nat_mode m);

enum node_bday_role { NODE_BDAY_NONE, NODE_BDAY_HARD, NODE_BDAY_EASY };

/* node_bday_role returns this node's part with a peer: HARD (opens the
 * sockets) when self is hard and the peer easy, EASY (sends the probes) the
 * other way round, NONE otherwise (unknown on either side, or both hard). */
enum node_bday_role node_bday_role(enum node_nat_kind self, enum node_nat_kind peer);

/* struct node_bday_seq: a hard side's port-allocation prediction, sent as
 * NODE_MSG_PROBE 'S' before its 'G': the public port its NAT last mapped
 * (seen by STUN), the stride of its sequential allocation and how many
 * mappings it has just made (its opening datagrams: one per socket and
 * public candidate of the peer, at most NODE_BDAY_SOCKETS_MAX). A peer that sends no 'S' (an older node, or
 * a NAT that allocates at random) gets random probes, as before; an older
 * node drops the 'S' unread (it takes only one-byte probing messages). */
struct node_bday_seq {
	uint16_t last;
	int16_t stride;         /* 0: no prediction */
	uint16_t opened;
};

#define NODE_BDAY_SEQ_LEN 7             /* 'S', last, stride, opened: big-endian u16, i16, u16 */
#define NODE_BDAY_SEQ_SLACK 64          /* window past the opened sockets: other hosts behind the NAT */

/* node_bday_seq_encode writes the 'S' message of s to out. */
void node_bday_seq_encode(const struct node_bday_seq *s, uint8_t out[NODE_BDAY_SEQ_LEN]);

/* node_bday_seq_parse reads an 'S' message of n bytes into *s; false (s
 * untouched) unless n is NODE_BDAY_SEQ_LEN, the stride is not 0 and opened
 * is 1..NODE_BDAY_SOCKETS_MAX. */
bool node_bday_seq_parse(const uint8_t *m, size_t n, struct node_bday_seq *s);

enum node_bday_state {
	NODE_BDAY_IDLE,
	NODE_BDAY_ASKED,        /* hard: 'R' sent, waiting for 'A' */
	NODE_BDAY_OPEN,         /* hard: sockets open, 'G' sent, listening on them */
	NODE_BDAY_ACCEPTED,     /* easy: 'A' sent, waiting for 'G' */
	NODE_BDAY_PROBING,      /* easy: sending probes */
};

/* struct node_bday: one peer's probing state. Zero is a valid idle state
 * with nothing scheduled. */
struct node_bday {
	enum node_bday_state state;
	uint64_t since_ms;      /* the current state began */
	uint64_t until_ms;      /* ... and ends, whatever happens */
	uint64_t next_try_ms;   /* hard: no request before (0: none scheduled) */
	uint32_t gap_ms;        /* hard: the backoff after a failed attempt (0: none failed) */
	uint64_t last_accept_ms;/* easy: the last request accepted (0: never) */
	uint32_t probes;        /* easy: sent in this attempt */
	uint32_t port_start, port_stride;       /* easy: this attempt's port sequence */
	uint32_t max_probes, per_step;          /* easy: this attempt's budget (node_bday_go) */
	struct node_bday_seq seq;               /* easy: the hard side's prediction (stride 0: none) */
	uint32_t seq_from, seq_n;               /* easy: probes seq_from.. seq_from+seq_n-1 follow it */
	/* Outcome of the last finished attempt (logs, tests). */
	unsigned attempts;
	bool last_ok;
	uint32_t last_probes;
	uint64_t last_ms;
	/* easy, the last attempt that opened a path: the peer's port it opened
	 * to (0: none) and that port's place k (1..) in the prediction's window,
	 * 0 when it was not in it (a random probe, or no prediction). */
	uint16_t last_hit_port;
	uint32_t last_hit_index;
};

/* node_bday_success_p returns 1 - (1 - n/range)^k: the chance that k
 * probes to random ports of range hit at least one of n mappings (a lower
 * bound when the probes' ports are distinct, as ours are). */
double node_bday_success_p(unsigned n, unsigned k, unsigned range);

/* node_bday_schedule plans a first request NODE_BDAY_AFTER_MS from now (the
 * ordinary punch has had that long), unless one is planned sooner or an
 * attempt runs. Called on a peer's HELLO and when its direct path dies. */
void node_bday_schedule(struct node_bday *b, uint64_t now_ms);

/* node_bday_should_ask says whether the hard side sends 'R' now: it is
 * HARD, idle, the peer is not direct, no other attempt runs on this node
 * (busy), and the scheduled time has come. */
bool node_bday_should_ask(const struct node_bday *b, enum node_bday_role role, bool direct_ok, bool busy,
			  uint64_t now_ms);

/* node_bday_asked records the 'R' sent at now_ms (ASKED for
 * NODE_BDAY_ANSWER_MS). */
void node_bday_asked(struct node_bday *b, uint64_t now_ms);

/* node_bday_accept decides a peer's 'R' at now_ms: true (ACCEPTED for
 * NODE_BDAY_ANSWER_MS) when this node is EASY, idle, not direct with the
 * peer, not busy with another attempt, and accepted none from this peer for
 * NODE_BDAY_ACCEPT_GAP_MS. A peer cannot make us probe more often. */
bool node_bday_accept(struct node_bday *b, enum node_bday_role role, bool direct_ok, bool busy, uint64_t now_ms);

/* node_bday_open records the peer's 'A' at now_ms: true (OPEN for
 * NODE_BDAY_ANSWER_MS + bu->probe_ms + NODE_BDAY_SLACK_MS) when it answers
 * our 'R' (state ASKED). bu: this node's budget, borrowed. */
bool node_bday_open(struct node_bday *b, uint64_t now_ms, const struct node_bday_budget *bu);

/* node_bday_go records the peer's 'G' at now_ms: true (PROBING for
 * bu->probe_ms, at most bu->max_probes, with the port sequence drawn from
 * r1, r2) when we accepted its request (state ACCEPTED). bu: borrowed. */
bool node_bday_go(struct node_bday *b, uint64_t now_ms, uint32_t r1, uint32_t r2, const struct node_bday_budget *bu);

/* node_bday_due returns how many probes to send at now_ms: the pace is
 * the budget's per_step every NODE_BDAY_STEP_MS from the 'G', a late caller
 * gets at most two steps' worth at once, and the total never passes the
 * budget's max_probes. 0 outside PROBING or after the deadline. */
uint32_t node_bday_due(const struct node_bday *b, uint64_t now_ms);

/* node_bday_predict records the hard side's prediction s (easy side,
 * ACCEPTED or PROBING; false otherwise): the next min(opened +
 * NODE_BDAY_SEQ_SLACK, the probes left) probes go to last + stride*k
 * (node_bday_seq_window's ports), the rest to random ports. */
bool node_bday_predict(struct node_bday *b, const struct node_bday_seq *s);

/* node_bday_next_port returns the port of the next probe and counts it:
 * inside a prediction's window, its next port; otherwise probe i goes to NODE_BDAY_PORT_MIN + (start + i * stride) mod the range;
 * stride is coprime with the range, so no port repeats within an attempt. */
uint16_t node_bday_next_port(struct node_bday *b);

/* node_bday_seq_window plans the first probes toward a hard side whose NAT
 * allocates ports sequentially (`atmosphere network` says "sequential,
 * stride s"): the ports last + s*k for k = 1, 2, ... up to opened + slack
 * (the sockets the hard side just opened, plus room for other hosts'
 * allocations behind the same NAT), each folded into NODE_BDAY_PORT_MIN..
 * 65535 (a step past 65535 or below 1024 wraps around that range, as NATs
 * allocate). Writes at most min(cap, budget) ports to out and returns how
 * many; never a port twice (it stops when the sequence comes back to a port
 * it gave). 0 when stride is 0 (random or unknown: probe as today). The
 * caller probes these first and then random ports for the rest of its
 * budget. Pure. */
size_t node_bday_seq_window(uint16_t last, int32_t stride, uint32_t opened, uint32_t slack, uint32_t budget,
			    uint16_t *out, size_t cap);

/* node_bday_seq_index returns k (1..b->seq_n) when port is the k-th port
 * of b's prediction window (node_bday_seq_window's out[k-1]), else 0 (no
 * prediction, or a port outside it: a random probe hit). Pure. */
uint32_t node_bday_seq_index(const struct node_bday *b, uint16_t port);

/* node_bday_hit records, on the easy side, that the path opened to the
 * peer's port (node_bday_seq_index says whether the prediction made it):
 * last_hit_port and last_hit_index until the next accepted attempt. */
void node_bday_hit(struct node_bday *b, uint16_t port);

/* node_bday_expired says whether the running state's time is up. */
bool node_bday_expired(const struct node_bday *b, uint64_t now_ms);

/* node_bday_finish ends the attempt (ok: a direct path came of it) and
 * goes IDLE. A failed attempt of the hard side plans the next one after a
 * gap that starts at NODE_BDAY_FIRST_GAP_MS and doubles up to
 * NODE_BDAY_MAX_GAP_MS; a success clears the backoff (next_try 0: the next
 * try waits for node_bday_schedule). */
void node_bday_finish(struct node_bday *b, bool ok, uint64_t now_ms);

#endif
