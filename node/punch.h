#ifndef NODE_PUNCH_H
#define NODE_PUNCH_H
/* node/punch.h: the schedule of hole punching. After a punch window fails
 * (NODE_PUNCH_WINDOW_MS after a HELLO) a pair on the relay keeps trying
 * direct in short windows (NODE_REPUNCH_WINDOW_MS) that both sides run at
 * once: the lower node id leads and starts the other with NODE_MSG_PUNCH.
 * The gaps between windows start at NODE_REPUNCH_FIRST_MS and double up to
 * NODE_REPUNCH_MAX_MS; a lost direct path or a new HELLO restarts them. */
#include <stdbool.h>
#include <stdint.h>

/* node_punch_next_gap returns the gap before the next background window
 * given the last one (0: none yet). */
uint32_t node_punch_next_gap(uint32_t gap_ms);

/* node_punch_leads says whether this node (self_id) leads the background
 * attempts with peer_id: the lower id does, so exactly one side of a pair. */
bool node_punch_leads(const char *self_id, const char *peer_id);

/* node_punch_request_ok says whether a peer's NODE_MSG_PUNCH at now_ms
 * starts a window: we have candidates and no direct path, no window runs
 * (punch_until_ms), and the last request that started one is at least half
 * a first gap old, so a repeating peer cannot make us a packet reflector. */
bool node_punch_request_ok(bool direct_ok, bool have_cand, uint64_t now_ms, uint64_t punch_until_ms,
			   uint64_t last_req_ms);

#endif
