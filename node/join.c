/* node/join.c: joining a mesh (the joiner's side) and issuing invites (the issuer's side);
 * the join's output. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "net/b64.h"
#include "net/bssl.h"
#include "node/family.h"
#include "node/internal.h"
#include "node/overlay.h"

void node_say(struct node *node, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (node->join_out) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "line", json_object_new_string(line));
		const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		char buf[700];
		int n = snprintf(buf, sizeof buf, "%s\n", s);
		node_overlay_flush(node); /* the send may wait on the CLI */
		core_sock_send(node->join_out, buf, (size_t)n, 2000);
		json_object_put(o);
	} else {
		printf("%s\n", line);
		fflush(stdout);
	}
}

/* The join's last line, once the mesh admitted us and the path is decided. */
void node_join_finish(struct node *node)
{
	if (!node->joining || !node->welcomed || !(node->said_direct || node->said_relay))
		return;
	node_say(node, "✓ Joined mesh: %s", node->st->mesh_name);
	node->joining = false;
	if (node->join_out) {
		const char *done = "{\"ok\":true}\n";
		node_overlay_flush(node);
		core_sock_send(node->join_out, done, strlen(done), 1000);
		core_sock_close(node->join_out);
		node->join_out = NULL;
	}
}

void node_on_welcome(struct node *node, struct node_peer *p, json_object *o)
{
	json_object *v, *arr;
	struct node_state *st = node->st;
	uint8_t sec[64];
	size_t sl = 0;
	if (!node->joining || p != node->issuer)
		return;
	if (!json_object_object_get_ex(o, "secret", &v) ||
	    net_b64_decode(sec, sizeof sec, &sl, json_object_get_string(v), strlen(json_object_get_string(v))) != 0 ||
	    sl != NODE_TOKEN_SECRET_LEN)
		return;
	memcpy(st->secret, sec, NODE_TOKEN_SECRET_LEN);
	memcpy(st->mesh_key, sec, NODE_TOKEN_SECRET_LEN);
	st->secret_epoch = 0;
	if (json_object_object_get_ex(o, "mesh_key", &v) && json_object_is_type(v, json_type_string) &&
	    net_b64_decode(sec, sizeof sec, &sl, json_object_get_string(v), strlen(json_object_get_string(v))) == 0 &&
	    sl == NODE_TOKEN_SECRET_LEN)
		memcpy(st->mesh_key, sec, NODE_TOKEN_SECRET_LEN);
	OPENSSL_cleanse(sec, sizeof sec);
	snprintf(st->mesh_id, sizeof st->mesh_id, "%s", node->tok.mesh_id);
	snprintf(st->mesh_name, sizeof st->mesh_name, "%s", node->tok.mesh_name);
	if (json_object_object_get_ex(o, "relays", &arr) && json_object_is_type(arr, json_type_array)) {
		st->num_relays = 0;
		for (size_t i = 0; i < json_object_array_length(arr) && st->num_relays < NODE_TOKEN_MAX_RELAYS; i++)
			snprintf(st->relays[st->num_relays++], sizeof st->relays[0], "%s",
				 json_object_get_string(json_object_array_get_idx(arr, i)));
	}
	if (json_object_object_get_ex(o, "relay_keys", &arr) && json_object_is_type(arr, json_type_object)) {
		json_object_object_foreach(arr, url, kv) {
			if (json_object_is_type(kv, json_type_string) &&
			    node_relay_key_set(st, url, json_object_get_string(kv)) != 0)
				core_log(CORE_LOG_WARN, "join: the relay key given for %.200s is not a relay key: ignored", url);
		}
	}
	if (json_object_object_get_ex(o, "stun", &arr) && json_object_is_type(arr, json_type_array)) {
		st->num_stun = 0;
		for (size_t i = 0; i < json_object_array_length(arr) && st->num_stun < NODE_TOKEN_MAX_STUN; i++)
			snprintf(st->stun[st->num_stun++], sizeof st->stun[0], "%s",
				 json_object_get_string(json_object_array_get_idx(arr, i)));
	}
	st->have_mesh = true;
	/* Our admission (node/member.h): with it, the mesh's other members
	 * learn of us and we of them, through whichever member we talk to. */
	node_gossip_on_welcome(node, o);
	node_token_mesh_psk(node->mesh_psk, st->mesh_key);
	memcpy(p->psk, node->mesh_psk, 32);
	node_peer_remember(node, p);
	node_save_state(node);
	node->joined = true;
	node->welcomed = true;
	node_overlay_start(node); /* the mesh is known now: its addresses can be derived */
	/* The issuer is who we learn the mesh from (node/lazy.h: its links
	 * stay while membership syncs). */
	p->want_ms = node_now_ms();
	/* From now on the pair sessions carry relay traffic; the invite's
	 * inboxes are given back so the issuer can reopen them (unless the
	 * mesh has no relay of its own: then they stay). */
	node_link_open_pair(node, p);
	if (st->num_relays)
		for (size_t i = 0; i < node->links_hi; i++) {
			struct node_link *jl = &node->links[i];
			if (!jl->used || !jl->join || jl->peer != p)
				continue;
			jl->peer = NULL;
			node_link_close(jl);
		}
	if (p->relay && !p->relay->used)
		p->relay = NULL;
	node_pick_relay(node, p);
	node_gossip_session(node, p);
	node_join_finish(node);
}

int node_join_begin(struct node *node, const char *code, char *err, size_t err_len)
{
	const char *field = NULL;
	int r = node_token_decode(&node->tok, &field, code, strlen(code), (uint64_t)time(NULL));
	if (r != NODE_TOKEN_OK) {
		snprintf(err, err_len, "invalid join code: %s%s%s", node_token_strerror(r), field ? ": " : "",
			 field ? field : "");
		return -EINVAL;
	}
	if (node->st->have_mesh && strcmp(node->st->mesh_id, node->tok.mesh_id) && node->st->num_peers) {
		snprintf(err, err_len, "this node already belongs to mesh %s; use another ATMOSPHERE_HOME",
			 node->st->mesh_name);
		return -EEXIST;
	}
	struct node_peer *p = node_peer_by_pub(node, node->tok.node_pub);
	if (!p)
		p = node_peer_new(node, node->tok.node_pub);
	if (!p) {
		snprintf(err, err_len, "too many peers");
		return -ENOSPC;
	}
	snprintf(p->node_id, sizeof p->node_id, "%s", node->tok.node_id);
	node_token_join_psk(p->psk, node->tok.invite_key);
	struct sockaddr_storage a;
	socklen_t al;
	node->issuer = p;
	node->joining = true;
	node->join_started_ms = node_now_ms();
	node->issuer_session_ms = 0;
	node->said_direct = node->said_relay = node->welcomed = false;
	/* The code's endpoints are candidates like a HELLO's: refused and
	 * counted the same way (node_cand_accept). */
	if (node->tok.public_endpoint[0] && node_cand_accept(node, p, node->tok.public_endpoint, &a, &al)) {
		node_say(node, "Joining mesh via public endpoint: %s", node->tok.public_endpoint);
		node_peer_add_candidate(p, &a, al);
	}
	if (node->tok.endpoint[0] && node_cand_accept(node, p, node->tok.endpoint, &a, &al))
		node_peer_add_candidate(p, &a, al);
	/* The issuer's IPv6 endpoints, tried beside the IPv4 ones (node/family.h). */
	for (size_t i = 0; i < node->tok.num_ipv6_endpoints; i++)
		if (node_cand_accept(node, p, node->tok.ipv6_endpoints[i], &a, &al) && a.ss_family == AF_INET6)
			node_peer_add_candidate(p, &a, al);
	node_say(node, "Attempting direct P2P connection...");
	char sid[72];
	node_inbox_session(sid, node->tok.invite_key);
	/* Keys of the code's mesh-token relays: the inbox links need them,
	 * and the node keeps them (state.json) for the mesh's sessions. */
	for (size_t i = 0; i < node->tok.num_relay_keys; i++)
		if (node->tok.relay_keys[i][0])
			node_relay_key_set(node->st, node->tok.relay_urls[i], node->tok.relay_keys[i]);
	/* The invite's inbox on every relay of the code: whichever the issuer
	 * can reach. */
	for (size_t i = 0; i < node->tok.num_relay_urls; i++) {
		struct node_link *l = node_link_open(node, node->tok.relay_urls[i], sid, false, p);
		if (l)
			l->join = true;
	}
	uint8_t app[NODE_E2E_INIT_APP_LEN] = {0};
	node_token_claim(app, &node->tok);
	node_handshake_start(node, p, app);
	return 0;
}

int node_issue_code(struct node *node, uint64_t ttl_s, uint64_t short_ttl_s, char *code, size_t cap, char *shortc,
		    bool *short_works, char *err, size_t err_len)
{
	struct node_token t;
	struct node_state *st = node->st;
	const char *field = NULL;
	size_t len;
	memset(&t, 0, sizeof t);
	snprintf(t.mesh_id, sizeof t.mesh_id, "%s", st->mesh_id);
	snprintf(t.mesh_name, sizeof t.mesh_name, "%s", st->mesh_name);
	node_copy_str(t.endpoint, sizeof t.endpoint, node->local_ep);
	/* A router's mapping is reachable unsolicited, the STUN-mapped
	 * endpoint only by punching: the code carries the mapping when there
	 * is one (the HELLO carries both). */
	node_copy_str(t.public_endpoint, sizeof t.public_endpoint, node->mapped_ep[0] ? node->mapped_ep : node->public_ep);
	if (!node->o->relay_only)
		node_udp6_token_endpoints(node, &t);
	bool any_key = false;
	for (size_t i = 0; i < st->num_relays; i++) {
		for (size_t k = 0; k < st->num_relay_keys; k++)
			if (!strcmp(st->relay_keys[k].url, st->relays[i])) {
				snprintf(t.relay_keys[i], sizeof t.relay_keys[i], "%s", st->relay_keys[k].key);
				any_key = true;
			}
		snprintf(t.relay_urls[t.num_relay_urls++], sizeof t.relay_urls[0], "%s", st->relays[i]);
	}
	/* The optional member only when some relay wants tickets: codes for
	 * open relays stay readable by older nodes. */
	t.num_relay_keys = any_key ? t.num_relay_urls : 0;
	for (size_t i = 0; i < st->num_stun; i++)
		snprintf(t.stun[t.num_stun++], sizeof t.stun[0], "%s", st->stun[i]);
	t.created_at = (uint64_t)time(NULL);
	t.expires_at = t.created_at + ttl_s;
	snprintf(t.node_id, sizeof t.node_id, "%s", st->node_id);
	memcpy(t.node_pub, st->pub, 32);
	RAND_bytes(t.invite_id, sizeof t.invite_id);
	int r = node_token_encode(code, cap, &len, &t, &field, st->secret);
	if (r == NODE_TOKEN_OK)
		r = node_token_short_code(shortc, &field, &t);
	if (r != NODE_TOKEN_OK) {
		snprintf(err, err_len, "cannot make a join code: %s%s%s", node_token_strerror(r), field ? ": " : "",
			 field ? field : "");
		node_token_cleanup(&t);
		return -EINVAL;
	}
	/* Remember the invite (dropping expired ones) and wait for its joiner. */
	size_t k = 0;
	for (size_t i = 0; i < st->num_invites; i++)
		if (st->invites[i].expires_at > t.created_at)
			st->invites[k++] = st->invites[i];
	st->num_invites = k;
	if (st->num_invites == NODE_MAX_INVITES)
		memmove(st->invites, st->invites + 1, --st->num_invites * sizeof st->invites[0]);
	struct node_invite *in = &st->invites[st->num_invites++];
	memcpy(in->id, t.invite_id, sizeof in->id);
	in->created_at = t.created_at;
	in->expires_at = t.expires_at;
	node_save_state(node);
	if (node->udp) {
		char sid[72];
		node_inbox_session(sid, t.invite_key);
		for (size_t i = 0; i < st->num_relays; i++)
			node_link_open_inbox(node, st->relays[i], sid, t.expires_at);
	}
	/* The short code opens the same code through a relay, for a shorter
	 * while and once (node/short_code.c); without a relay it is only the
	 * checksum to compare. */
	*short_works = short_ttl_s > 0 &&
		       node_offer_add(node, shortc, code, len, t.invite_id, (short_ttl_s < ttl_s ? short_ttl_s : ttl_s) * 1000) == 0;
	node_token_cleanup(&t);
	return 0;
}

/* Reopens the inboxes of the invites still in date (after a restart). */
void node_open_inboxes(struct node *node)
{
	struct node_state *st = node->st;
	uint64_t now = (uint64_t)time(NULL);
	for (size_t i = 0; i < st->num_invites; i++) {
		uint8_t key[32];
		char sid[72];
		if (st->invites[i].expires_at <= now)
			continue;
		if (node_token_invite_key(key, st->secret, st->mesh_id, st->invites[i].id, st->invites[i].created_at,
					 st->invites[i].expires_at) != NODE_TOKEN_OK)
			continue;
		node_inbox_session(sid, key);
		OPENSSL_cleanse(key, sizeof key);
		for (size_t j = 0; j < st->num_relays; j++)
			node_link_open_inbox(node, st->relays[j], sid, st->invites[i].expires_at);
	}
}
