/* node/control.c: the control socket: one JSON request per line, answered through a command
 * table (node/control.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/bssl.h"
#include "node/control.h"
#include "node/family.h"
#include "node/internal.h"
#include "node/lazy.h"
#include "node/overlay.h"

static json_object *peer_json(struct node *node, struct node_peer *p);
static json_object *self_json(struct node *node);
static void reply(struct core_sock *s, json_object *o);
static json_object *err_json(const char *msg);
static void control_conn(void *arg);

static const char *const bday_states[] = {"idle", "asked", "open", "accepted", "probing"};
static const char *const bday_roles[] = {"none", "hard", "easy"};

/* This node's hard-NAT mode and the budget it spends (docs/NODE.md). */
static json_object *hard_nat_mode_json(const struct node *node)
{
	enum node_hard_nat_mode m = (enum node_hard_nat_mode)node->o->hard_nat;
	const struct node_bday_budget *bu = node_bday_budget(m);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "mode", json_object_new_string(node_hard_nat_mode_name(m)));
	json_object_object_add(o, "nat", json_object_new_string(node_nat_name(node->nat_kind)));
	json_object_object_add(o, "sockets", json_object_new_int64(bu->sockets));
	json_object_object_add(o, "max_probes", json_object_new_int64(bu->max_probes));
	json_object_object_add(o, "probes_per_s", json_object_new_int64((int64_t)bu->per_step * 1000 / NODE_BDAY_STEP_MS));
	json_object_object_add(o, "window_ms",
			       json_object_new_int64(bu->sockets ? NODE_BDAY_ANSWER_MS + bu->probe_ms + NODE_BDAY_SLACK_MS : 0));
	return o;
}

/* Hard-NAT probing with p: our role, the attempt's state, the last outcome,
 * and the mode's budget. */
static json_object *hard_nat_json(struct node *node, const struct node_peer *p)
{
	const struct node_bday *b = &p->bday;
	enum node_bday_role role = node_hardnat_role(node, p);
	json_object *o = hard_nat_mode_json(node);
	uint64_t t = node_now_ms();
	json_object_object_add(o, "peer_nat", json_object_new_string(node_nat_name(p->peer_nat)));
	json_object_object_add(o, "role", json_object_new_string((size_t)role < 3 ? bday_roles[role] : "none"));
	json_object_object_add(o, "state", json_object_new_string((size_t)b->state < 5 ? bday_states[b->state] : "idle"));
	json_object_object_add(o, "probes", json_object_new_int64(b->state == NODE_BDAY_PROBING ? b->probes : 0));
	json_object_object_add(o, "attempts", json_object_new_int64(b->attempts));
	json_object_object_add(o, "last_ok", b->attempts ? json_object_new_boolean(b->last_ok) : NULL);
	json_object_object_add(o, "last_probes", b->attempts ? json_object_new_int64(b->last_probes) : NULL);
	json_object *pred = NULL;
	if (b->seq_n) { /* the hard side's 'S': the ports probed first */
		pred = json_object_new_object();
		json_object_object_add(pred, "pattern", json_object_new_string("sequential"));
		json_object_object_add(pred, "last_port", json_object_new_int64(b->seq.last));
		json_object_object_add(pred, "stride", json_object_new_int64(b->seq.stride));
		json_object_object_add(pred, "opened", json_object_new_int64(b->seq.opened));
		json_object_object_add(pred, "window", json_object_new_int64(b->seq_n));
	}
	json_object_object_add(o, "prediction", pred);
	json_object *hit = NULL;
	if (b->last_hit_port) { /* easy: where the last path opened, and whether the prediction made it */
		hit = json_object_new_object();
		json_object_object_add(hit, "port", json_object_new_int64(b->last_hit_port));
		json_object_object_add(hit, "by", json_object_new_string(b->last_hit_index ? "prediction" : "random"));
		json_object_object_add(hit, "index", b->last_hit_index ? json_object_new_int64(b->last_hit_index) : NULL);
	}
	json_object_object_add(o, "last_hit", hit);
	json_object_object_add(o, "last_ms", b->attempts ? json_object_new_int64((int64_t)b->last_ms) : NULL);
	json_object_object_add(o, "next_try_in_ms",
			       role == NODE_BDAY_HARD && b->state == NODE_BDAY_IDLE && b->next_try_ms
				       ? json_object_new_int64(b->next_try_ms > t ? (int64_t)(b->next_try_ms - t) : 0)
				       : NULL);
	return o;
}

static json_object *peer_json(struct node *node, struct node_peer *p)
{
	json_object *o = json_object_new_object();
	char a[NODE_TOKEN_MAX_URL_LEN + 1] = "";
	enum node_path_kind k = node_peer_path(p);
	json_object_object_add(o, "node_id", json_object_new_string(p->node_id));
	json_object_object_add(o, "name", json_object_new_string(p->name));
	node_overlay_peer_addrs(node, p->pub, p->node_id, o);
	json_object_object_add(o, "connected", json_object_new_boolean(k != NODE_PATH_NONE && node_peer_ready(p)));
	json_object_object_add(o, "path", json_object_new_string(node_path_name(k)));
	/* The overlay MTU of packets to this peer now (node/pmtu.h), and the
	 * direct path's measured figure (null: not measured, or none). */
	json_object_object_add(o, "mtu", json_object_new_int((int)node_pmtu_path(&p->pmtu, p->direct_ok)));
	json_object_object_add(o, "direct_mtu", p->direct_ok && p->pmtu.mtu ? json_object_new_int(p->pmtu.mtu) : NULL);
	if (k == NODE_PATH_RELAY)
		node_copy_str(a, sizeof a, p->relay->url);
	else if (p->direct_ok)
		node_fmt_addr(&p->direct, a, sizeof a);
	json_object_object_add(o, "remote", json_object_new_string(a));
	/* The underlay family of a direct path (node/family.h); null on the relay. */
	const char *fam = k == NODE_PATH_DIRECT || k == NODE_PATH_LAN ? node_family_name(p->direct.ss_family) : NULL;
	json_object_object_add(o, "family", fam ? json_object_new_string(fam) : NULL);
	json_object_object_add(o, "candidates", node_peer_candidates_json(p));
	/* The relay that carries (or would carry) relayed traffic. */
	json_object_object_add(o, "relay", p->relay && p->relay->used && p->relay->peer == p
						   ? json_object_new_string(p->relay->url) : NULL);
	/* Every relay where the peer is there too (paired): where traffic
	 * can move if the one in use fails. */
	json_object *rl = json_object_new_array();
	for (size_t i = 0; i < node->links_hi; i++)
		if (node->links[i].peer == p && node_link_paired(&node->links[i]))
			json_object_array_add(rl, json_object_new_string(node->links[i].url));
	json_object_object_add(o, "relays_paired", rl);
	/* Links kept on the previous epoch's pair session until the peer shows
	 * it has the current secret (docs/NODE.md, "Removing a member"). */
	json_object_object_add(o, "catchup_links", json_object_new_int64((int64_t)node_peer_catchup_links(node, p)));
	/* Each relay's measured RTT to the peer (ms, EWMA; null: none yet). */
	json_object_object_add(o, "relay_rtts", node_relay_rtts_json(node, p));
	json_object_object_add(o, "rtt_ms", p->rtt_ms > 0 ? json_object_new_double(p->rtt_ms) : NULL);
	json_object_object_add(o, "last_seen", json_object_new_int64((int64_t)p->last_seen_unix));
	/* Wall-clock ms of the first authenticated packet from it, and since
	 * when the current direct path is open (null: none). */
	json_object_object_add(o, "first_session_at_ms", p->first_session_unix_ms
				       ? json_object_new_int64((int64_t)p->first_session_unix_ms) : NULL);
	json_object_object_add(o, "direct_since_ms", p->direct_ok && p->direct_since_unix_ms
				       ? json_object_new_int64((int64_t)p->direct_since_unix_ms) : NULL);
	json_object_object_add(o, "bytes_in", json_object_new_int64((int64_t)p->bytes_in));
	json_object_object_add(o, "bytes_out", json_object_new_int64((int64_t)p->bytes_out));
	json_object_object_add(o, "hard_nat", hard_nat_json(node, p));
	return o;
}

/* Lazy relay links (node/lazy.h): the mode, its threshold, and the links
 * by kind (up: connected to the relay, waiting or paired). */
static json_object *lazy_json(struct node *node)
{
	json_object *o = json_object_new_object();
	size_t pair = 0, pair_up = 0, doorbells_up = 0, calls = 0, ring = 0;
	for (size_t i = 0; i < node->links_hi; i++) {
		const struct node_link *l = &node->links[i];
		if (!l->used || l->closing)
			continue;
		if (l->doorbell)
			doorbells_up += l->up;
		else if (l->call)
			calls++;
		else if (node_lazy_is_pair_link(l)) {
			pair++;
			pair_up += l->up;
		}
	}
	for (size_t i = 0; i < node->peers_hi; i++)
		ring += node->peers[i].used && node->peers[i].ring;
	json_object_object_add(o, "enabled", json_object_new_boolean(node_lazy(node)));
	json_object_object_add(o, "members", json_object_new_int64((int64_t)node->lazy_members));
	json_object_object_add(o, "lazy_above", json_object_new_int64((int64_t)node->lazy_at));
	json_object_object_add(o, "ring_neighbours", json_object_new_int64((int64_t)ring));
	json_object_object_add(o, "pair_links", json_object_new_int64((int64_t)pair));
	json_object_object_add(o, "pair_links_up", json_object_new_int64((int64_t)pair_up));
	json_object_object_add(o, "doorbells_up", json_object_new_int64((int64_t)doorbells_up));
	json_object_object_add(o, "calls", json_object_new_int64((int64_t)calls));
	/* The cap on members linked on demand, and the wants it refused (a
	 * `send` waiting for a place counts each retry). */
	json_object_object_add(o, "max_linked", json_object_new_int64((int64_t)node->lazy_max_linked));
	json_object_object_add(o, "refused", json_object_new_int64((int64_t)node->lazy_refused));
	return o;
}

/* This node: endpoints (as the peers are told them) and relays. */
static json_object *self_json(struct node *node)
{
	json_object *o = json_object_new_object(), *rl = json_object_new_array();
	json_object_object_add(o, "node_id", json_object_new_string(node->st->node_id));
	json_object_object_add(o, "name", json_object_new_string(node->st->node_name));
	node_overlay_peer_addrs(node, node->st->pub, node->st->node_id, o);
	json_object_object_add(o, "overlay", node_overlay_json(node));
	json_object_object_add(o, "port", json_object_new_int(node->port));
	json_object_object_add(o, "local_endpoint", json_object_new_string(node->local_ep));
	json_object_object_add(o, "public_endpoint", json_object_new_string(node->public_ep));
	json_object_object_add(o, "ipv6_port", node->udp6 ? json_object_new_int(node->port6) : NULL);
	json_object_object_add(o, "public_endpoint_ipv6", node->public_ep6[0] ? json_object_new_string(node->public_ep6) : NULL);
	json_object_object_add(o, "public_endpoint_changed", json_object_new_int64((int64_t)node->public_changed_unix));
	json_object_object_add(o, "stun_refreshes", json_object_new_int64(node->stun_refreshes));
	json_object_object_add(o, "stun6_refreshes", json_object_new_int64(node->stun6_refreshes));
	json_object *refused = json_object_new_object();
	for (int r = NODE_REFUSE_NONE + 1; r < NODE_REFUSE_COUNT; r++)
		json_object_object_add(refused, node_family_refusal_name((enum node_family_refusal)r),
				       json_object_new_int64((int64_t)node->cand_refused[r]));
	json_object_object_add(o, "candidates_refused", refused);
	json_object_object_add(o, "mapped_endpoint", node->mapped_ep[0] ? json_object_new_string(node->mapped_ep) : NULL);
	json_object_object_add(o, "port_mapping", node->mapped_proto[0] ? json_object_new_string(node->mapped_proto) : NULL);
	json_object *hn = hard_nat_mode_json(node);
	json_object *pa = NULL;
	if (node->ports.num) { /* our NAT's port allocation (IPv4), null before it was sampled */
		pa = json_object_new_object();
		json_object_object_add(pa, "pattern", json_object_new_string(stun_port_pattern_name(node->ports.pattern)));
		json_object_object_add(pa, "stride", node->ports.pattern == STUN_PORTS_SEQUENTIAL
							     ? json_object_new_int(node->ports.stride)
							     : NULL);
		json_object_object_add(pa, "last_port", json_object_new_int(node->ports.last));
	}
	json_object_object_add(hn, "port_allocation", pa);
	json_object_object_add(o, "hard_nat", hn);
	json_object_object_add(o, "lazy_links", lazy_json(node));
	for (size_t i = 0; i < node->st->num_relays; i++) {
		json_object *r = json_object_new_object();
		size_t up = 0;
		for (size_t k = 0; k < node->links_hi; k++)
			up += node->links[k].used && node->links[k].up && !strcmp(node->links[k].url, node->st->relays[i]);
		json_object_object_add(r, "url", json_object_new_string(node->st->relays[i]));
		json_object_object_add(r, "links_up", json_object_new_int64((int64_t)up));
		json_object_array_add(rl, r);
	}
	json_object_object_add(o, "relays", rl);
	json_object_object_add(o, "secret_epoch", json_object_new_int64(node->st->secret_epoch));
	/* The previous epoch kept for members that may still be on it. */
	json_object *cu = NULL;
	if (node->st->num_catchup) {
		cu = json_object_new_object();
		json_object_object_add(cu, "epoch", json_object_new_int64(node->st->catchup_epoch));
		json_object_object_add(cu, "members", json_object_new_int64((int64_t)node->st->num_catchup));
		json_object_object_add(cu, "until", json_object_new_int64((int64_t)node->st->catchup_until));
	}
	json_object_object_add(o, "catchup", cu);
	return o;
}

static void reply(struct core_sock *s, json_object *o)
{
	const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t l = strlen(t);
	char *line = malloc(l + 2);
	memcpy(line, t, l);
	line[l] = '\n';
	core_sock_send(s, line, l + 1, 2000);
	free(line);
	json_object_put(o);
}

static json_object *err_json(const char *msg)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

/* ---- the protocol: parsing and the command table ---- */

/* A command answers on s; it returns true when it keeps s (a join in
 * progress writes its lines there later), false to have it closed. It may
 * suspend (ping waits for the answer, recv --follow for the client). */
typedef bool (*control_fn)(struct node *node, struct core_sock *s, json_object *req);

struct control_cmd {
	const char *name;
	control_fn fn;
};

static bool cmd_peers(struct node *node, struct core_sock *s, json_object *req);
static bool cmd_status(struct node *node, struct core_sock *s, json_object *req);
static bool cmd_invite(struct node *node, struct core_sock *s, json_object *req);
static bool cmd_ping(struct node *node, struct core_sock *s, json_object *req);
static bool cmd_send(struct node *node, struct core_sock *s, json_object *req);
static bool cmd_recv(struct node *node, struct core_sock *s, json_object *req);
static bool cmd_join(struct node *node, struct core_sock *s, json_object *req);
static bool cmd_remove(struct node *node, struct core_sock *s, json_object *req);
static bool cmd_rotate(struct node *node, struct core_sock *s, json_object *req);

static const struct control_cmd commands[] = {
	{"peers", cmd_peers}, {"status", cmd_status}, {"invite", cmd_invite}, {"ping", cmd_ping},
	{"send", cmd_send},   {"recv", cmd_recv},     {"join", cmd_join},   {"remove", cmd_remove},
	{"rotate", cmd_rotate},
};

size_t node_control_num_cmds(void)
{
	return sizeof commands / sizeof commands[0];
}

const char *node_control_cmd_name(size_t i)
{
	return i < node_control_num_cmds() ? commands[i].name : NULL;
}

const char *node_control_strerror(int status)
{
	switch (status) {
	case NODE_CONTROL_OK:
		return "ok";
	case NODE_CONTROL_E_TOO_LONG:
		return "request too long";
	case NODE_CONTROL_E_NOT_JSON:
		return "request is not a JSON object";
	case NODE_CONTROL_E_NO_CMD:
		return "request has no \"cmd\"";
	case NODE_CONTROL_E_UNKNOWN_CMD:
		return "unknown command";
	default:
		return "unknown status";
	}
}

static const struct control_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < node_control_num_cmds(); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int node_control_parse(const char *req, size_t len, struct json_object **out_req, const char **out_cmd)
{
	*out_req = NULL;
	*out_cmd = NULL;
	if (len >= NODE_CONTROL_MAX_REQUEST)
		return NODE_CONTROL_E_TOO_LONG;
	/* A C string, as the line read from the socket is. */
	const char *nul = memchr(req, 0, len);
	size_t n = nul ? (size_t)(nul - req) : len;
	char *buf = malloc(n + 1);
	if (!buf)
		return NODE_CONTROL_E_NOT_JSON;
	memcpy(buf, req, n);
	buf[n] = 0;
	json_object *o = json_tokener_parse(buf), *v;
	free(buf);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NODE_CONTROL_E_NOT_JSON;
	}
	if (!json_object_object_get_ex(o, "cmd", &v)) {
		json_object_put(o);
		return NODE_CONTROL_E_NO_CMD;
	}
	/* json_object_get_string gives NULL for a JSON null ({"cmd":null}). */
	const char *name = json_object_get_string(v);
	const struct control_cmd *c = name ? find_cmd(name) : NULL;
	if (!c) {
		json_object_put(o);
		return NODE_CONTROL_E_UNKNOWN_CMD;
	}
	*out_req = o;
	*out_cmd = c->name;
	return NODE_CONTROL_OK;
}

/* ---- the commands ---- */

static bool cmd_peers(struct node *node, struct core_sock *s, json_object *req)
{
	(void)req;
	json_object *r = json_object_new_object(), *arr = json_object_new_array();
	for (size_t i = 0; i < node->peers_hi; i++)
		if (node->peers[i].used && node->peers[i].node_id[0])
			json_object_array_add(arr, peer_json(node, &node->peers[i]));
	json_object_object_add(r, "peers", arr);
	json_object_object_add(r, "self", self_json(node));
	reply(s, r);
	return false;
}

static bool cmd_status(struct node *node, struct core_sock *s, json_object *req)
{
	(void)req;
	json_object *r = json_object_new_object();
	json_object_object_add(r, "node_id", json_object_new_string(node->st->node_id));
	json_object_object_add(r, "name", json_object_new_string(node->st->node_name));
	json_object_object_add(r, "mesh", json_object_new_string(node->st->mesh_name));
	json_object_object_add(r, "port", json_object_new_int(node->port));
	json_object_object_add(r, "local_endpoint", json_object_new_string(node->local_ep));
	json_object_object_add(r, "public_endpoint", json_object_new_string(node->public_ep));
	json_object_object_add(r, "public_endpoint_changed", json_object_new_int64((int64_t)node->public_changed_unix));
	json_object_object_add(r, "overlay", node_overlay_json(node));
	reply(s, r);
	return false;
}

static bool cmd_invite(struct node *node, struct core_sock *s, json_object *req)
{
	char code[NODE_TOKEN_MAX_CODE_LEN + 1], sc[NODE_TOKEN_SHORT_CODE_LEN + 1], err[256];
	json_object *v;
	uint64_t ttl = json_object_object_get_ex(req, "expires", &v) ? (uint64_t)json_object_get_int64(v) : 86400;
	uint64_t sttl = json_object_object_get_ex(req, "short_expires", &v) ? (uint64_t)json_object_get_int64(v)
									    : NODE_PAKE_TTL_DEFAULT_S;
	bool works = false;
	if (node_issue_code(node, ttl, sttl, code, sizeof code, sc, &works, err, sizeof err) == 0) {
		json_object *r = json_object_new_object(), *rl = json_object_new_array();
		json_object_object_add(r, "code", json_object_new_string(code));
		json_object_object_add(r, "short_code", json_object_new_string(sc));
		/* How long the short code opens the code through a relay (0: it
		 * does not, the mesh has no relay), and where. */
		json_object_object_add(r, "short_expires", json_object_new_int64(works ? (int64_t)(sttl < ttl ? sttl : ttl) : 0));
		for (size_t i = 0; works && i < node->st->num_relays; i++)
			json_object_array_add(rl, json_object_new_string(node->st->relays[i]));
		json_object_object_add(r, "relays", rl);
		reply(s, r);
	} else {
		reply(s, err_json(err));
	}
	return false;
}

/* The peer a ping or send names, when it is connected; otherwise answers
 * the error and returns NULL. With lazy relay links (node/lazy.h) a member
 * without a session now is called, and given NODE_LAZY_CONNECT_MS. */
static struct node_peer *connected_peer(struct node *node, struct core_sock *s, json_object *req)
{
	json_object *v;
	const char *who = json_object_object_get_ex(req, "peer", &v) ? json_object_get_string(v) : "";
	struct node_peer *p = node_peer_by_name(node, who);
	if (p && node_lazy(node) && !node_lazy_reachable(p)) {
		uint64_t end = node_now_ms() + NODE_LAZY_CONNECT_MS;
		uint8_t pub[32];
		memcpy(pub, p->pub, 32); /* the slot may be freed and reused while we wait */
		p->idle.full = 0; /* what the member answers to this wait's calls */
		if (!p->hs_live)
			node_handshake_start(node, p, NULL);
		while (node_peer_holds(p, pub) && node_now_ms() < end && !node->stopping &&
		       !node_lazy_reachable(p) && p->idle.full != NODE_FULL_NONE_IDLE) {
			node_lazy_want(node, p);
			core_sleep(50);
		}
		if (!node_peer_holds(p, pub)) {
			p = NULL;
		} else if (!node_lazy_reachable(p)) {
			char m[300];
			if (p->idle.full == NODE_FULL_NONE_IDLE)
				snprintf(m, sizeof m,
					 "'%s' not linked: it answered that it links the most members it allows at once "
					 "(its ATMOSPHERE_LAZY_MAX_LINKED) and none can make room now (each used within "
					 "%u s, or kept for the mesh): try again later",
					 who, NODE_LAZY_EVICT_AFTER_MS / 1000);
			else if (p->idle.full == NODE_FULL_MAKING_ROOM)
				snprintf(m, sizeof m,
					 "'%s' not linked within %u s: it is at its cap of members linked at once and "
					 "was making room: try again",
					 who, NODE_LAZY_CONNECT_MS / 1000);
			else if (node->lazy_refused_ms + NODE_LAZY_CONNECT_MS >= end && !node_peer_has_links(node, p))
				snprintf(m, sizeof m,
					 "'%s' not linked: %llu members are linked at once already, the most "
					 "(ATMOSPHERE_LAZY_MAX_LINKED), and none was idle for %u s to make room",
					 who, (unsigned long long)node->lazy_max_linked, NODE_LAZY_EVICT_AFTER_MS / 1000);
			else
				snprintf(m, sizeof m, "'%s' did not answer within %u s (called at its doorbell on the mesh's relays)",
					 who, NODE_LAZY_CONNECT_MS / 1000);
			reply(s, err_json(m));
			return NULL;
		}
	}
	if (!p || !node_peer_ready(p) || node_peer_path(p) == NODE_PATH_NONE) {
		char m[200];
		snprintf(m, sizeof m, "no connected peer '%s' (see atmosphere peers)", who);
		reply(s, err_json(m));
		return NULL;
	}
	return p;
}

static bool cmd_send(struct node *node, struct core_sock *s, json_object *req)
{
	json_object *v;
	struct node_peer *p = connected_peer(node, s, req);
	if (!p)
		return false;
	const char *text = json_object_object_get_ex(req, "text", &v) ? json_object_get_string(v) : "";
	size_t tl = strlen(text);
	int r = tl > NODE_MAX_TEXT_LEN ? -EMSGSIZE : node_peer_send(node, p, NODE_MSG_TEXT, text, tl);
	json_object *rr = r == 0 ? json_object_new_object() : err_json(strerror(-r));
	if (r == 0) {
		json_object_object_add(rr, "ok", json_object_new_boolean(1));
		json_object_object_add(rr, "path", json_object_new_string(node_path_name(node_peer_path(p))));
	}
	reply(s, rr);
	return false;
}

static bool cmd_ping(struct node *node, struct core_sock *s, json_object *req)
{
	struct node_peer *p = connected_peer(node, s, req);
	if (!p)
		return false;
	uint8_t body[16];
	uint64_t sent = core_now_ns();
	RAND_bytes((uint8_t *)&p->ping_id, 8);
	memcpy(body, &p->ping_id, 8);
	memcpy(body + 8, &sent, 8);
	double before = p->rtt_ms;
	p->rtt_ms = 0;
	node_peer_send(node, p, NODE_MSG_PING, body, 16);
	p->ping_waiter = core_coro_current();
	core_park(5000);
	p->ping_waiter = NULL;
	if (p->rtt_ms > 0) {
		json_object *rr = json_object_new_object();
		json_object_object_add(rr, "rtt_ms", json_object_new_double(p->rtt_ms));
		json_object_object_add(rr, "path", json_object_new_string(node_path_name(node_peer_path(p))));
		reply(s, rr);
	} else {
		p->rtt_ms = before;
		reply(s, err_json("no answer within 5 s"));
	}
	return false;
}

static bool cmd_recv(struct node *node, struct core_sock *s, json_object *req)
{
	json_object *v;
	bool follow = json_object_object_get_ex(req, "follow", &v) && json_object_get_boolean(v);
	while (node->inbox_len) {
		struct node_text_msg *tm = &node->inbox[node->inbox_head];
		json_object *r = json_object_new_object();
		json_object_object_add(r, "from", json_object_new_string(tm->from));
		json_object_object_add(r, "text", json_object_new_string(tm->text));
		free(tm->text);
		node->inbox_head = (node->inbox_head + 1) % NODE_MAX_INBOX_MSGS;
		node->inbox_len--;
		reply(s, r);
	}
	if (follow) {
		struct node_follower f = {.s = s, .next = node->followers};
		node->followers = &f;
		/* Until the client goes away. */
		struct core_buf b;
		while (!node->stopping && core_sock_recv(s, &b, -1) > 0)
			core_buf_release(&b);
		struct node_follower **pp = &node->followers;
		while (*pp != &f)
			pp = &(*pp)->next;
		*pp = f.next;
	} else {
		reply(s, json_tokener_parse("{\"end\":true}"));
	}
	return false;
}

static bool cmd_join(struct node *node, struct core_sock *s, json_object *req)
{
	json_object *v;
	const char *code = json_object_object_get_ex(req, "code", &v) ? json_object_get_string(v) : "";
	char err[300];
	if (node->joining) {
		reply(s, err_json("a join is already in progress"));
		return false;
	}
	node->join_out = s;
	if (node_join_begin(node, code, err, sizeof err) != 0) {
		node->join_out = NULL;
		reply(s, err_json(err));
		return false;
	}
	return true; /* the join owns the socket now */
}

static bool cmd_remove(struct node *node, struct core_sock *s, json_object *req)
{
	json_object *v;
	const char *who = json_object_object_get_ex(req, "peer", &v) ? json_object_get_string(v) : NULL;
	reply(s, node_gossip_remove(node, who ? who : ""));
	return false;
}

static bool cmd_rotate(struct node *node, struct core_sock *s, json_object *req)
{
	(void)req;
	reply(s, node_gossip_rotate(node));
	return false;
}

/* ---- the socket ---- */

struct control_client {
	struct node *node;
	int fd;
};

static void control_conn(void *arg)
{
	core_task_set_name("control client");
	struct control_client *cc = arg;
	struct node *node = cc->node;
	int fd = cc->fd, e = 0;
	free(cc);
	struct core_sock *s = core_sock_new(fd, &e);
	char req[NODE_CONTROL_MAX_REQUEST];
	size_t len = 0;
	bool keep = false;
	if (!s)
		return;
	/* Listed while this coroutine serves it: a stop interrupts its waits
	 * (a request half read, `recv --follow`) instead of the runtime's grace. */
	struct node_follower me = {.s = s, .co = core_coro_current(), .next = node->ctl_conns};
	node->ctl_conns = &me;
	if (node->stopping)
		goto out; /* accepted just before the stop, started after it */
	while (len < sizeof req - 1) {
		struct core_buf b;
		int n = node->stopping ? -ECANCELED : core_sock_recv(s, &b, 5000);
		if (n <= 0)
			goto out;
		size_t take = b.len < sizeof req - 1 - len ? b.len : sizeof req - 1 - len;
		memcpy(req + len, b.data, take);
		len += take;
		core_buf_release(&b);
		if (memchr(req, '\n', len))
			break;
	}
	json_object *o;
	const char *name;
	if (node_control_parse(req, len, &o, &name) != NODE_CONTROL_OK) {
		reply(s, err_json("unknown request"));
		goto out;
	}
	keep = find_cmd(name)->fn(node, s, o);
	json_object_put(o);
out:
	for (struct node_follower **pp = &node->ctl_conns; *pp; pp = &(*pp)->next)
		if (*pp == &me) {
			*pp = me.next;
			break;
		}
	if (!keep)
		core_sock_close(s);
}

void node_control_server(void *arg)
{
	core_task_set_name("control server");
	struct node *node = arg;
	while (!node->stopping) {
		int fd = core_listener_accept(node->ctl, -1);
		if (fd < 0)
			break;
		struct control_client *cc = malloc(sizeof *cc);
		if (!cc) {
			close(fd);
			continue;
		}
		cc->node = node;
		cc->fd = fd;
		core_spawn(control_conn, cc);
	}
	/* Orderly shutdown, on the reactor: no more clients, and the socket
	 * file goes with the listener (a client finds no stale socket). */
	core_listener_close(node->ctl);
	node->ctl = NULL;
	if (node->ctl_created) {
		char path[NODE_PATH_MAX];
		node_control_path(node->st, path);
		unlink(path);
		node->ctl_created = false;
	}
}

/* ---- the client side ---- */

int node_control_call(const struct node_state *st, const char *request, node_line_fn on_line, void *arg)
{
	char path[NODE_PATH_MAX];
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	node_control_path(st, path);
	if (strlen(path) >= sizeof a.sun_path)
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	size_t rl = strlen(request);
	if (write(fd, request, rl) != (ssize_t)rl || write(fd, "\n", 1) != 1) {
		int e = -errno;
		close(fd);
		return e;
	}
	FILE *f = fdopen(fd, "r");
	/* A line is as long as it is: `peers` of a 1,000-member mesh is about
	 * half a megabyte. */
	char *line = NULL;
	size_t cap = 0;
	int ret = -EPIPE;
	while (getline(&line, &cap, f) > 0) {
		ret = 0;
		if (!on_line(line, arg))
			break;
	}
	free(line);
	fclose(f);
	return ret;
}
