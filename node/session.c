/* node/session.c: a peer's sending and receiving e2e sessions. */
#include "node/session.h"

void node_sessions_install(struct node_sessions *ss, const struct node_e2e_session *ns)
{
	if (ss->have_prev)
		node_e2e_session_cleanup(&ss->prev);
	ss->have_prev = ss->have_s;
	if (ss->have_s)
		ss->prev = ss->s;
	ss->s = *ns;
	ss->have_s = true;
}

bool node_sessions_ready(const struct node_sessions *ss)
{
	return ss->have_s && (ss->s.initiator || ss->s.confirmed);
}

struct node_e2e_session *node_sessions_find(struct node_sessions *ss, uint32_t idx)
{
	if (ss->have_s && ss->s.local_index == idx)
		return &ss->s;
	if (ss->have_prev && ss->prev.local_index == idx)
		return &ss->prev;
	return NULL;
}

bool node_sessions_heard_on(struct node_sessions *ss, const struct node_e2e_session *rs)
{
	if (rs != &ss->prev || node_sessions_ready(ss))
		return false;
	struct node_e2e_session tmp = ss->s;
	ss->s = ss->prev;
	ss->prev = tmp;
	return true;
}

void node_sessions_cleanup(struct node_sessions *ss)
{
	if (ss->have_s)
		node_e2e_session_cleanup(&ss->s);
	if (ss->have_prev)
		node_e2e_session_cleanup(&ss->prev);
	ss->have_s = ss->have_prev = false;
}
