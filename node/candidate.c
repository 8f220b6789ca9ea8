/* node/candidate.c: what became of each of a peer's candidates (tried,
 * answered), for `peers --json`. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>

#include "node/family.h"
#include "node/internal.h"
#include "node/overlay.h"

/* Whether a is our own IPv4 socket: an address of ours (loopback, or one
 * of our interfaces') with this node's own port. Every node lists its
 * interfaces, loopback too (two nodes on one host meet there), so a peer
 * on another host that uses our port lists what, here, is our own socket:
 * its loopback address, a bridge every host of its kind has (Docker's
 * 172.17.0.1), or a private address that happens to be ours too. Punching
 * it would only talk to ourselves. */
static bool is_self(const struct node *node, const struct sockaddr_storage *a)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)a;
	if (a->ss_family != AF_INET || ntohs(in->sin_port) != node->port)
		return false;
	if ((ntohl(in->sin_addr.s_addr) >> 24) == 127)
		return true;
	struct ifaddrs *ifs = NULL;
	bool ours = false;
	if (getifaddrs(&ifs) != 0)
		return false;
	for (struct ifaddrs *i = ifs; i && !ours; i = i->ifa_next)
		ours = i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		       ((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == in->sin_addr.s_addr;
	freeifaddrs(ifs);
	return ours;
}

/* Parses a candidate a peer announced (HELLO) or a join code carries (s,
 * NULL when it is not a string) into a/al and says whether it may be
 * punched: not malformed, not our overlay's, not our own socket, and for
 * IPv6 an address with global reach (node/family.h). A refusal counts
 * under its reason in node->cand_refused (`peers --json`
 * self.candidates_refused) and is logged, but for an overlay address or
 * our own socket (a peer lists its interfaces: that is no attack). */
bool node_cand_accept(struct node *node, const struct node_peer *p, const char *s, struct sockaddr_storage *a,
		      socklen_t *al)
{
	enum node_family_refusal why = NODE_REFUSE_NONE;
	if (!s || !node_parse_ep(s, a, al))
		why = NODE_REFUSE_MALFORMED;
	else if (node_overlay_owns(node, a))
		why = NODE_REFUSE_OVERLAY;
	else if (is_self(node, a))
		why = NODE_REFUSE_SELF;
	else if (a->ss_family == AF_INET6)
		why = node_family_v6_refusal(((struct sockaddr_in6 *)a)->sin6_addr.s6_addr);
	if (why == NODE_REFUSE_NONE)
		return true;
	node->cand_refused[why]++;
	if (why != NODE_REFUSE_OVERLAY && why != NODE_REFUSE_SELF)
		core_log(CORE_LOG_INFO, "peer %s: candidate %.80s refused: %s", node_peer_name(p),
			 s ? s : "(not a string)", node_family_refusal_name(why));
	return false;
}

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
