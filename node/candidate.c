/* node/candidate.c: what became of each of a peer's candidates (tried,
 * answered), for `peers --json`. */
#include "node/family.h"
#include "node/internal.h"

void node_cand_mark(struct node_peer *p, const struct sockaddr_storage *a, uint8_t flag)
{
	for (int i = 0; i < p->num_cand; i++)
		if (node_same_addr(&p->cand[i], a)) {
			p->cand_flags[i] |= flag;
			return;
		}
}

/* [{"address", "family", "tried", "answered"}...]: tried, a datagram went
 * to it (punch or opener); answered, a verified packet came from it. */
json_object *node_peer_candidates_json(const struct node_peer *p)
{
	json_object *arr = json_object_new_array();
	char a[64];
	for (int i = 0; i < p->num_cand; i++) {
		json_object *c = json_object_new_object();
		const char *fam = node_family_name(p->cand[i].ss_family);
		node_fmt_addr(&p->cand[i], a, sizeof a);
		json_object_object_add(c, "address", json_object_new_string(a));
		json_object_object_add(c, "family", fam ? json_object_new_string(fam) : NULL);
		json_object_object_add(c, "tried", json_object_new_boolean(p->cand_flags[i] & NODE_CAND_TRIED));
		json_object_object_add(c, "answered", json_object_new_boolean(p->cand_flags[i] & NODE_CAND_ANSWERED));
		json_object_array_add(arr, c);
	}
	return arr;
}
