/* node/punch.c: hole punching: punch windows and the background repunch schedule. */
#include <string.h>

#include "node/internal.h"

uint32_t node_punch_next_gap(uint32_t gap_ms)
{
	if (!gap_ms)
		return NODE_REPUNCH_FIRST_MS;
	return gap_ms >= NODE_REPUNCH_MAX_MS / 2 ? NODE_REPUNCH_MAX_MS : gap_ms * 2;
}

bool node_punch_leads(const char *self_id, const char *peer_id)
{
	return strcmp(self_id, peer_id) < 0;
}

bool node_punch_request_ok(bool direct_ok, bool have_cand, uint64_t now_ms, uint64_t punch_until_ms,
			   uint64_t last_req_ms)
{
	return !direct_ok && have_cand && now_ms >= punch_until_ms && now_ms >= last_req_ms + NODE_REPUNCH_FIRST_MS / 2;
}

/* Opens a punch window of ms from t (low-TTL opener first again). */
void node_punch_start(struct node_peer *p, uint64_t t, uint64_t ms)
{
	p->punch_until_ms = t + ms;
	p->next_punch_ms = 0;
	p->ttl_sent = false;
}

void node_punch(struct node *node, struct node_peer *p, uint64_t t)
{
	if (node->o->relay_only || !p->ss.have_s || !p->num_cand || t < p->next_punch_ms)
		return;
	p->next_punch_ms = t + NODE_PUNCH_EVERY_MS;
	for (int i = 0; i < p->num_cand; i++) {
		if (p->direct_ok && node_same_addr(&p->cand[i], &p->direct))
			continue;
		node_peer_send_to(node, p, NODE_MSG_KEEP, NULL, 0, &p->cand[i], p->cand_len[i], p->ttl_sent ? 0 : 2);
	}
	p->ttl_sent = true;
}
