#ifndef NODE_WIRE_H
#define NODE_WIRE_H
/* node/wire.h: what two nodes say to each other, and every limit and timer
 * of the node in one place.
 *
 * Packets are e2e messages (node/e2e.h) on either path: a UDP datagram, or a
 * binary WebSocket message through a relay. Inside a data message, byte 0 is
 * one of the NODE_MSG_* types below and the rest its body. A path is
 * "verified" only by an authenticated packet arriving over it. */
#include "node/token.h"

/* Node message types (byte 0 of an e2e data message's plaintext):
 *   HELLO     JSON {node_id, name, candidates: ["ip:port", ...]}
 *   WELCOME   JSON {mesh_id, mesh_name, secret, relays, stun}: admits a joiner
 *   KEEP      empty: punch, session confirmation, an older node's keepalive;
 *             NODE_KEEP_ASK: the keepalive of a direct path, which asks
 *             for NODE_KEEP_ANSWER back on the direct path (an older node
 *             ignores a KEEP's body: see NODE_KEEPALIVE_IDLE_MS)
 *   PING/PONG 16 bytes: ping id, send time (ns); PONG echoes them
 *   TEXT      the text of `atmosphere send`
 *   OBSERVED  "ip:port", the address the sender sees our direct packets
 *             come from (sent when its direct path to us opens or moves)
 *   PUNCH     empty: "punch now", the background attempt's start signal
 *   IP        an IP packet of the overlay (node/overlay.h), at most
 *             NODE_PMTU_MAX bytes, NODE_OVERLAY_MTU unless the direct
 *             path in use has been measured larger (node/pmtu.h)
 *   MEMBER    membership: an entry, a removal, a summary, a digest or a
 *             new mesh secret (node/member.h), between members only
 *   PROBE     one byte: hard-NAT probing's request 'R', accept 'A', refusal
 *             'N' and go 'G' (node/birthday.h)
 *   LINK_PROBE 'P' or 'A' + an 8-byte id: a relay link's RTT probe and its
 *             answer, sent back on the link the probe came by (node/relay_rtt.c)
 *   PMTU      'P' + size + zeros to the size: a direct path's MTU probe;
 *             'A' + size: its answer, on the direct path (node/pmtu.h)
 *   IDLE      NODE_IDLE_ASK: a lazy node's pair links with us are idle,
 *             may they close? We close ours if ours are idle too (the
 *             relay then closes the asker's), or answer NODE_IDLE_STAY
 *             (node/lazy.h); NODE_IDLE_ASK_ROOM: the same from a node at
 *             its cap of linked members; NODE_IDLE_FULL + NODE_FULL_*: the
 *             answer to a knock at a node at its cap, sent on the doorbell
 *             link (two bytes: a node without it ignores the message) */
enum { NODE_MSG_HELLO = 'H', NODE_MSG_WELCOME = 'W', NODE_MSG_KEEP = 'K', NODE_MSG_PING = 'P', NODE_MSG_PONG = 'Q',
       NODE_MSG_TEXT = 'M', NODE_MSG_OBSERVED = 'O', NODE_MSG_PUNCH = 'U', NODE_MSG_IP = 'I',
       NODE_MSG_MEMBER = 'G', NODE_MSG_PROBE = 'B', NODE_MSG_LINK_PROBE = 'L',
       NODE_MSG_PMTU = 'T', NODE_MSG_IDLE = 'Z' };
/* The one-byte bodies of a KEEP that asks and of its answer. */
enum { NODE_KEEP_ASK = 'Q', NODE_KEEP_ANSWER = 'A' };
/* The one-byte bodies of an IDLE question, of the question a node at its
 * cap of linked members asks (node/lazy.h, NODE_LAZY_MAX_LINKED: yes unless
 * used within NODE_LAZY_EVICT_AFTER_MS), and of "still in use". */
enum { NODE_IDLE_ASK = '?', NODE_IDLE_ASK_ROOM = '!', NODE_IDLE_STAY = 'S', NODE_IDLE_FULL = 'F' };
/* The second byte of NODE_IDLE_FULL: every member it links was used within
 * NODE_LAZY_EVICT_AFTER_MS (try later), or one is being asked to make room
 * (its pair link opens once there is a place). */
enum { NODE_FULL_NONE_IDLE = 'N', NODE_FULL_MAKING_ROOM = 'R' };

/* Messages that are the user's traffic (not the node's own upkeep): they
 * keep a peer's relay links at the fast probe pace (NODE_RELAY_BUSY_MS). */
static inline int node_msg_is_traffic(unsigned char type)
{
	return type == NODE_MSG_TEXT || type == NODE_MSG_IP;
}

/* State sizes (state.json and the daemon's tables). */
enum {
	/* Members a node keeps a peer for (node/member.h has the table of
	 * NODE_MEMBER_MAX records). docs/NODE.md, "How many members", has the
	 * cost of each. */
	NODE_MAX_PEERS = 1024,
	NODE_MAX_INVITES = 16,
	NODE_DEFAULT_PORT = 7777,
	NODE_PATH_MAX = 512,
};

/* Limits a stranger or a local client can push on. */
#define NODE_MAX_MESSAGE_LEN 2048      /* plaintext of one node message, type byte included */
#define NODE_MAX_TEXT_LEN 1900         /* `atmosphere send` text */
#define NODE_CONTROL_MAX_REQUEST 8192  /* one control request line */
#define NODE_MAX_INBOX_MSGS 256        /* texts waiting for `atmosphere recv`; the oldest goes */
#define NODE_MAX_CAND 8                /* candidates per peer; the oldest goes */
/* A link per relay for every peer (pair sessions) and every invite
 * (inboxes); a joiner's links to its invite's inbox fit in the spare peers. */
#define NODE_MAX_LINKS                                                                                             \
	((NODE_MAX_PEERS + 8 + NODE_MAX_INVITES + NODE_PAKE_MAX_OFFERS + NODE_CATCHUP_MAX_PEERS) * NODE_TOKEN_MAX_RELAYS)
/* Catching up after a rotation (docs/NODE.md, "Removing a member"): a
 * member that took a new secret keeps, for at most NODE_CATCHUP_MAX_PEERS
 * peers that have not shown they have it, a link per relay on the previous
 * epoch's pair session, where a member that was away still looks; the
 * previous secret is kept at most NODE_CATCHUP_KEEP_S (30 days), and only
 * while such a peer is left. */
#define NODE_CATCHUP_MAX_PEERS 64
#define NODE_CATCHUP_KEEP_S (30u * 86400u)
/* Short codes (node/short_code.c, docs/TOKENS.md "Short-code join"): at
 * most 8 waiting at once (a ninth replaces the one expiring first), each
 * alive 10 min by default (at most the full code's life), one exchange
 * each, which must end within 10 s of its START; a joiner waits 30 s by
 * default for the inviting node to answer. */
#define NODE_PAKE_MAX_OFFERS 8
#define NODE_PAKE_TTL_DEFAULT_S 600
#define NODE_PAKE_STEP_MS 10000
#define NODE_PAKE_WAIT_DEFAULT_MS 30000
/* Initiations cost two X25519 each: a flood of them is capped, so it cannot
 * take the node's CPU from live sessions (their data packets are not). */
#define NODE_INIT_RATE_PER_S 50
#define NODE_INIT_BURST 100

/* Membership traffic (node/gossip.c, docs/NODE.md "Membership"). Each
 * message is one entry (at most 1,455 bytes; 1,451 with collision counter
 * 0, 1,258 without IPv6 endpoints either), removal (129), summary (41), new secret (133) or digest of
 * up to 39 members (1,977). Sent: a summary per session (and rekey),
 * answered only when the tables differ; at most 2 digest messages
 * and 16 records per peer per tick (80 records/s, ~116 KB/s at most while
 * a peer catches up; nothing when in sync). Received: each peer may send
 * 120 a second (burst 240) and the whole node takes 1,000 a second; the
 * rest is dropped before any signature is checked (anti-entropy repairs
 * it at the next rekey). */
#define NODE_MEMBER_DIGEST_PER_TICK 2
#define NODE_MEMBER_SEND_PER_TICK 16
#define NODE_MEMBER_RX_PER_S 120
#define NODE_MEMBER_RX_BURST 240
#define NODE_MEMBER_RX_NODE_PER_S 1000
#define NODE_MEMBER_SUMMARY_GAP_MS 1000 /* summaries to a peer: at most one a second */
/* A summary can be lost (sent on a join link that closes, a UDP drop):
 * while the peer's has not arrived, ours is sent again after 3 s, three
 * times a session at most; a peer's summary is answered with ours when we
 * have sent none this session. */
#define NODE_MEMBER_SUMMARY_RETRY_MS 3000
#define NODE_MEMBER_SUMMARY_TRIES 3
/* Digests to a peer: at most one started every 30 s (two tables that
 * cannot converge, a conflict, cost one digest a rekey, not a loop). */
#define NODE_MEMBER_DIGEST_GAP_MS 30000
#define NODE_MEMBER_SAVE_MS 2000        /* members.json: at most every 2 s */

/* Timers. */
#define NODE_TICK_MS 200
/* On a direct path each side sends a keepalive that asks for an answer
 * (KEEP NODE_KEEP_ASK, 62 B at the wire; the peer answers with KEEP
 * NODE_KEEP_ANSWER) when it has sent nothing on the path for the pace
 * (node_path_direct_every): NODE_KEEPALIVE_MS while the peer had traffic
 * within NODE_DIRECT_BUSY_MS (and for one closing keepalive after that
 * window) or while a send waits for its answer, else NODE_KEEPALIVE_IDLE_MS.
 * An answer counts as the answering side's send, so an idle pair exchanges
 * one keepalive and its answer every 12 s (~10 B/s at the wire, both ways),
 * not one each way every 2 s (61 B/s). A direct path is dead, back to the
 * relay, NODE_DIRECT_DEAD_MS after the first send that asks (a keepalive,
 * the user's traffic) and is still unanswered, in either regime: the
 * silence counts from that send, never from the regime, so going idle
 * cannot forgive a path that died while busy (the relay's rule, below).
 * The idle pace must keep the NATs' mappings of the path open: 12 s is
 * well under half of the shortest UDP timeouts found in practice (Linux
 * conntrack's 30 s for a flow not yet seen both ways, many home routers'
 * 30 s), and a lost keepalive leaves a send waiting, so the next goes 2 s
 * later: a mapping sees a packet each way at least every ~14 s. It also
 * bounds how late an idle path's death is noticed: 12 + 6.5 s after the
 * last answer at worst (tests/node/recovery allows 20 s). An older node
 * never answers and sends its own keepalive every 2 s, counting its silence
 * from its last packet in: a peer gets the idle pace only once it has sent
 * a KEEP with a body (it then answers, and counts silence like this), and
 * the fast pace again after it restarts until it shows that again. */
#define NODE_KEEPALIVE_MS 2000
#define NODE_KEEPALIVE_IDLE_MS 12000
#define NODE_DIRECT_BUSY_MS 15000
#define NODE_DIRECT_DEAD_MS 6500        /* three fast keepalives unanswered: back to the relay */
#define NODE_PUNCH_WINDOW_MS 10000
#define NODE_PUNCH_EVERY_MS 250
/* On the relay, keep trying direct in the background: a short punch both
 * sides run at once (the lower node id leads and starts the other with
 * NODE_MSG_PUNCH over the relay): at once when a direct path is lost, then after
 * gaps of 15 s doubling up to 2 min; new candidates (a HELLO) start the
 * sequence again after their own punch window. A pair that cannot go direct
 * (symmetric NATs) then costs a few bytes a second. */
#define NODE_REPUNCH_FIRST_MS 15000
#define NODE_REPUNCH_MAX_MS 120000
#define NODE_REPUNCH_WINDOW_MS 1500
#define NODE_HANDSHAKE_RETRY_MS 2000
/* On the relay path every paired link of the peer carries a probe
 * (node/relay_rtt.c, answered by the peer) so that silence means something:
 * a link that brings nothing back for NODE_RELAY_SILENT_MS after a send that
 * asks for an answer (a probe, or the user's traffic) is a relay that stopped
 * forwarding; it is passed over for NODE_RELAY_SILENT_HOLD_MS. The pace
 * (node_path_relay_every) is NODE_RELAY_PROBE_MS while the peer had traffic
 * within NODE_RELAY_BUSY_MS or while such a send waits for its answer, else
 * NODE_RELAY_PROBE_IDLE_MS. The silence counts from the first unanswered
 * send, never from the regime, so a link going idle cannot forgive a relay
 * that froze while it was busy (the cause of bedeb41's revert). */
#define NODE_RELAY_SILENT_MS 6500
#define NODE_RELAY_SILENT_HOLD_MS 60000
#define NODE_RELAY_BUSY_MS 15000
/* Relay RTT probes (node/relay_rtt.c): see above on the relay path; every
 * 30 s otherwise. */
#define NODE_RELAY_PROBE_MS 2000
#define NODE_RELAY_PROBE_IDLE_MS 30000
/* A peer that does not answer (a member that is offline) is retried every
 * 2 s five times, then at gaps doubling up to 30 s: 1,000 offline members
 * then cost ~33 initiations a second, not 500. A relay's paired notice (the
 * peer came back) sends the initiation at once whatever the gap. */
#define NODE_HANDSHAKE_FAST_TRIES 5
#define NODE_HANDSHAKE_RETRY_MAX_MS 30000
#define NODE_RTT_EVERY_MS 30000         /* a 17-byte ping for `peers`' RTT column (`ping` measures now) */
/* A direct address silent this long gives way to another that works (the
 * peer's NAT rebound it, or the peer roamed): two fast keepalive intervals
 * and some slack, so an address that works is never left for another. On
 * an idle path (keepalives 12 s apart) "silent" is counted only while a
 * send of ours waits for its answer, or for the peer's own asking keepalive
 * from the other address (node_path_direct_quiet): punch packets from
 * another address of the peer do not move an idle path that works, and a
 * peer that roamed while idle is followed at its first keepalive. */
#define NODE_DIRECT_STALE_MS 4500
/* The public endpoint is re-discovered every 60 s +- 15 s, and 1 s after a
 * sign that the mapping changed, but never twice within 5 s. */
#define NODE_STUN_REFRESH_MS 60000
#define NODE_STUN_REFRESH_JITTER_MS 15000
#define NODE_STUN_REFRESH_SOON_MS 1000
#define NODE_STUN_REFRESH_MIN_MS 5000
/* The port-allocation sample (node_ports_measure): STUN_PORT_SAMPLES fresh
 * sockets, one transaction of at most NODE_PORTS_SAMPLE_MS each, in the
 * background after the first discovery (at most 6 s, 6 sockets); the hard
 * side's one fresh look before its hard-NAT sockets (node_ports_last) waits
 * at most NODE_PORTS_LAST_MS, inside the easy side's NODE_BDAY_ANSWER_MS. */
#define NODE_PORTS_SAMPLE_MS 1000
#define NODE_PORTS_LAST_MS 500
#define NODE_JOIN_TIMEOUT_MS 60000      /* a join the mesh does not answer fails */
#define NODE_PUNCH_MS_DEFAULT 3000      /* direct tries before a join says "P2P failed" */

/* Hard-NAT probing (node/birthday.h; docs/NODE.md "Hard NATs" has the
 * numbers). Per attempt the hard side holds NODE_BDAY_SOCKETS extra
 * sockets for at most NODE_BDAY_ANSWER_MS + NODE_BDAY_PROBE_MS +
 * NODE_BDAY_SLACK_MS (10 s) and sends one 48-byte datagram from each (TTL
 * NODE_BDAY_OPEN_TTL); the easy side sends at most NODE_BDAY_MAX_PROBES
 * probes of 48 bytes, 400 a second (30 KB/s with IP headers), for at most
 * NODE_BDAY_PROBE_MS. With 256 mappings over the 64,512 ports a Linux
 * masquerade draws from, 2,048 probes hit with p >= 1 - (1 - 256/64512)^2048
 * = 0.9997 (1,024: 0.983); the expected probe count to a hit is ~250. One
 * attempt at a time per node (either role); the easy side accepts at most
 * one request per peer per NODE_BDAY_ACCEPT_GAP_MS; the hard side asks
 * NODE_BDAY_AFTER_MS after a HELLO (the ordinary punch opens a path within
 * about a second when it can) and, after a failure, after gaps from
 * NODE_BDAY_FIRST_GAP_MS doubling to NODE_BDAY_MAX_GAP_MS. */
#define NODE_BDAY_SOCKETS 256
#define NODE_BDAY_MAX_PROBES 2048
#define NODE_BDAY_STEP_MS 20
#define NODE_BDAY_PER_STEP 8            /* 400 probes a second */
#define NODE_BDAY_PROBE_MS 6000         /* the easy side's probing, from 'G' */
#define NODE_BDAY_ANSWER_MS 3000        /* for 'A' after 'R', for 'G' after 'A' */
#define NODE_BDAY_SLACK_MS 1000         /* the hard side listens this much longer */
#define NODE_BDAY_AFTER_MS 5000
#define NODE_BDAY_FIRST_GAP_MS 60000
#define NODE_BDAY_MAX_GAP_MS 960000
#define NODE_BDAY_ACCEPT_GAP_MS 30000
#define NODE_BDAY_PORT_MIN 1024         /* probes go to 1024-65535: where NATs map */
#define NODE_BDAY_PORT_RANGE 64512
#define NODE_BDAY_OPEN_TTL 2            /* past our NAT, dead before the peer's (docs/NAT-LAB.md) */
/* `serve --hard-nat aggressive` (node_bday_budget): twice the sockets, twice
 * the probes at the same 400/s, and the window that takes (3 + 12 + 1 s). */
#define NODE_BDAY_AGGR_SOCKETS 512
#define NODE_BDAY_AGGR_MAX_PROBES 4096
#define NODE_BDAY_AGGR_PROBE_MS 12000
#define NODE_BDAY_SOCKETS_MAX NODE_BDAY_AGGR_SOCKETS

#endif
