/* node/state.c: state.json and $ATMOSPHERE_HOME (node/state.h). */
#include "node/state.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "net/b64.h"
#include "net/bssl.h"
#include "node/member.h"

void node_home(char out[NODE_PATH_MAX])
{
	const char *h = getenv("ATMOSPHERE_HOME");
	if (h && *h) {
		snprintf(out, NODE_PATH_MAX, "%s", h);
		return;
	}
	h = getenv("HOME");
	snprintf(out, NODE_PATH_MAX, "%s/.atmosphere", h && *h ? h : ".");
}

void node_control_path(const struct node_state *st, char out[NODE_PATH_MAX])
{
	size_t n = strnlen(st->home, NODE_PATH_MAX - 14);
	memcpy(out, st->home, n);
	memcpy(out + n, "/control.sock", 14);
}

static void put_b64(json_object *o, const char *k, const uint8_t *d, size_t n)
{
	char buf[128];
	size_t l;
	net_b64_encode(buf, sizeof buf, &l, d, n, NET_B64_STD, true);
	json_object_object_add(o, k, json_object_new_string(buf));
}

static bool get_b64(json_object *o, const char *k, uint8_t *out, size_t n)
{
	json_object *v;
	size_t l = 0;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return false;
	const char *s = json_object_get_string(v);
	return net_b64_decode(out, n, &l, s, strlen(s)) == 0 && l == n;
}

static bool get_str(json_object *o, const char *k, char *out, size_t cap)
{
	json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return false;
	const char *s = json_object_get_string(v);
	if (strlen(s) >= cap)
		return false;
	memcpy(out, s, strlen(s) + 1);
	return true;
}

static uint64_t get_u64(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) ? (uint64_t)json_object_get_int64(v) : 0;
}

/* "catchup": {"epoch", "secret", "until", "peers": [keys]} (optional). A
 * malformed one is dropped whole: catching up is a courtesy, the node runs
 * without it. */
static void load_catchup(json_object *root, struct node_state *st)
{
	json_object *c, *arr;
	st->num_catchup = 0;
	if (!json_object_object_get_ex(root, "catchup", &c) || !json_object_is_type(c, json_type_object) ||
	    !get_b64(c, "secret", st->catchup_secret, sizeof st->catchup_secret) ||
	    !json_object_object_get_ex(c, "peers", &arr) || !json_object_is_type(arr, json_type_array))
		goto none;
	st->catchup_epoch = (uint32_t)get_u64(c, "epoch");
	st->catchup_until = get_u64(c, "until");
	if (st->catchup_epoch >= st->secret_epoch)
		goto none; /* not the epoch before ours */
	for (size_t i = 0; i < json_object_array_length(arr) && st->num_catchup < NODE_CATCHUP_MAX_PEERS; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		size_t l = 0;
		const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
		if (net_b64_decode(st->catchup_peers[st->num_catchup], 32, &l, s, strlen(s)) == 0 && l == 32)
			st->num_catchup++;
	}
	if (st->num_catchup)
		return;
none:
	node_state_catchup_clear(st);
}

int node_state_load(struct node_state *st, char *err, size_t err_len)
{
	char path[NODE_PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/state.json", st->home);
	json_object *root = json_object_from_file(path);
	if (!root) {
		if (access(path, F_OK) != 0)
			return -ENOENT;
		snprintf(err, err_len, "%s is not valid JSON: %s", path, json_util_get_last_err());
		return -EINVAL;
	}
	json_object *v, *arr;
	bool ok = get_str(root, "mesh_id", st->mesh_id, sizeof st->mesh_id) &&
		  get_str(root, "mesh_name", st->mesh_name, sizeof st->mesh_name) &&
		  get_b64(root, "secret", st->secret, sizeof st->secret) &&
		  get_str(root, "node_id", st->node_id, sizeof st->node_id) &&
		  get_str(root, "node_name", st->node_name, sizeof st->node_name) &&
		  get_b64(root, "private_key", st->priv, sizeof st->priv);
	if (!ok) {
		snprintf(err, err_len, "%s lacks a field or has a malformed one (mesh_id, mesh_name, secret, node_id, node_name, private_key)",
			 path);
		json_object_put(root);
		return -EINVAL;
	}
	X25519_public_from_private(st->pub, st->priv);
	get_str(root, "public_ip", st->public_ip, sizeof st->public_ip);
	st->port = (uint16_t)get_u64(root, "port");
	st->created_at = get_u64(root, "created_at");
	st->num_relays = st->num_stun = st->num_peers = st->num_invites = 0;
	if (json_object_object_get_ex(root, "relays", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arr) && st->num_relays < NODE_TOKEN_MAX_RELAYS; i++) {
			v = json_object_array_get_idx(arr, i);
			snprintf(st->relays[st->num_relays++], sizeof st->relays[0], "%s", json_object_get_string(v));
		}
	/* Optional: {"URL": "KEY", ...}, keys of mesh-token relays. */
	st->num_relay_keys = 0;
	if (json_object_object_get_ex(root, "relay_keys", &arr) && json_object_is_type(arr, json_type_object)) {
		json_object_object_foreach(arr, url, kv) {
			if (!json_object_is_type(kv, json_type_string) ||
			    node_relay_key_set(st, url, json_object_get_string(kv)) != 0) {
				snprintf(err, err_len, "state.json: relay_keys: the key of '%.200s' is not a relay key", url);
				json_object_put(root);
				return -EINVAL;
			}
		}
	}
	if (json_object_object_get_ex(root, "stun", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arr) && st->num_stun < NODE_TOKEN_MAX_STUN; i++) {
			v = json_object_array_get_idx(arr, i);
			snprintf(st->stun[st->num_stun++], sizeof st->stun[0], "%s", json_object_get_string(v));
		}
	if (json_object_object_get_ex(root, "peers", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arr) && st->num_peers < NODE_MAX_PEERS; i++) {
			json_object *p = json_object_array_get_idx(arr, i);
			struct node_known_peer *kp = &st->peers[st->num_peers];
			memset(kp, 0, sizeof *kp);
			if (!get_str(p, "node_id", kp->node_id, sizeof kp->node_id) || !get_b64(p, "public_key", kp->pub, 32))
				continue;
			get_str(p, "name", kp->name, sizeof kp->name);
			get_str(p, "endpoint", kp->endpoint, sizeof kp->endpoint);
			get_str(p, "public_endpoint", kp->public_endpoint, sizeof kp->public_endpoint);
			st->num_peers++;
		}
	if (json_object_object_get_ex(root, "invites", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arr) && st->num_invites < NODE_MAX_INVITES; i++) {
			json_object *p = json_object_array_get_idx(arr, i);
			struct node_invite *in = &st->invites[st->num_invites];
			if (!get_b64(p, "id", in->id, sizeof in->id))
				continue;
			in->created_at = get_u64(p, "created_at");
			in->expires_at = get_u64(p, "expires_at");
			st->num_invites++;
		}
	if (!get_b64(root, "mesh_key", st->mesh_key, sizeof st->mesh_key))
		memcpy(st->mesh_key, st->secret, sizeof st->mesh_key); /* never rotated */
	st->secret_epoch = (uint32_t)get_u64(root, "secret_epoch");
	if (st->secret_epoch && (!json_object_object_get_ex(root, "rotation", &v) ||
				 !get_b64(v, "rotator", st->rot_rotator, sizeof st->rot_rotator) ||
				 !get_b64(v, "sig", st->rot_sig, sizeof st->rot_sig)))
		st->secret_epoch = 0; /* without its record, a rotation cannot be passed on */
	load_catchup(root, st);
	st->have_founder = get_b64(root, "founder", st->founder, sizeof st->founder);
	st->have_admission = json_object_object_get_ex(root, "admission", &v) &&
			     get_b64(v, "admitter", st->admitter, sizeof st->admitter) &&
			     get_b64(v, "sig", st->admit_sig, sizeof st->admit_sig);
	st->have_mesh = true;
	json_object_put(root);
	return 0;
}

static int write_json(const char *home, const char *name, json_object *root, char *err, size_t err_len);

int node_state_save(const struct node_state *st, char *err, size_t err_len)
{
	json_object *root = json_object_new_object(), *arr;
	int ret = 0;

	if (mkdir(st->home, 0700) != 0 && errno != EEXIST) {
		snprintf(err, err_len, "cannot create %s: %s", st->home, strerror(errno));
		json_object_put(root);
		return -errno;
	}
	json_object_object_add(root, "version", json_object_new_int(1));
	json_object_object_add(root, "mesh_id", json_object_new_string(st->mesh_id));
	json_object_object_add(root, "mesh_name", json_object_new_string(st->mesh_name));
	put_b64(root, "secret", st->secret, sizeof st->secret);
	json_object_object_add(root, "node_id", json_object_new_string(st->node_id));
	json_object_object_add(root, "node_name", json_object_new_string(st->node_name));
	put_b64(root, "private_key", st->priv, sizeof st->priv);
	put_b64(root, "public_key", st->pub, sizeof st->pub);
	json_object_object_add(root, "public_ip", json_object_new_string(st->public_ip));
	json_object_object_add(root, "port", json_object_new_int(st->port));
	json_object_object_add(root, "created_at", json_object_new_int64((int64_t)st->created_at));
	arr = json_object_new_array();
	for (size_t i = 0; i < st->num_relays; i++)
		json_object_array_add(arr, json_object_new_string(st->relays[i]));
	json_object_object_add(root, "relays", arr);
	if (st->num_relay_keys) {
		json_object *keys = json_object_new_object();
		for (size_t i = 0; i < st->num_relay_keys; i++)
			json_object_object_add(keys, st->relay_keys[i].url, json_object_new_string(st->relay_keys[i].key));
		json_object_object_add(root, "relay_keys", keys);
	}
	arr = json_object_new_array();
	for (size_t i = 0; i < st->num_stun; i++)
		json_object_array_add(arr, json_object_new_string(st->stun[i]));
	json_object_object_add(root, "stun", arr);
	arr = json_object_new_array();
	for (size_t i = 0; i < st->num_peers; i++) {
		const struct node_known_peer *kp = &st->peers[i];
		json_object *p = json_object_new_object();
		json_object_object_add(p, "node_id", json_object_new_string(kp->node_id));
		json_object_object_add(p, "name", json_object_new_string(kp->name));
		put_b64(p, "public_key", kp->pub, 32);
		json_object_object_add(p, "endpoint", json_object_new_string(kp->endpoint));
		json_object_object_add(p, "public_endpoint", json_object_new_string(kp->public_endpoint));
		json_object_array_add(arr, p);
	}
	json_object_object_add(root, "peers", arr);
	arr = json_object_new_array();
	for (size_t i = 0; i < st->num_invites; i++) {
		json_object *p = json_object_new_object();
		put_b64(p, "id", st->invites[i].id, sizeof st->invites[i].id);
		json_object_object_add(p, "created_at", json_object_new_int64((int64_t)st->invites[i].created_at));
		json_object_object_add(p, "expires_at", json_object_new_int64((int64_t)st->invites[i].expires_at));
		json_object_array_add(arr, p);
	}
	json_object_object_add(root, "invites", arr);
	put_b64(root, "mesh_key", st->mesh_key, sizeof st->mesh_key);
	json_object_object_add(root, "secret_epoch", json_object_new_int64(st->secret_epoch));
	if (st->secret_epoch) {
		json_object *r = json_object_new_object();
		put_b64(r, "rotator", st->rot_rotator, sizeof st->rot_rotator);
		put_b64(r, "sig", st->rot_sig, sizeof st->rot_sig);
		json_object_object_add(root, "rotation", r);
	}
	if (st->num_catchup) {
		json_object *c = json_object_new_object();
		json_object_object_add(c, "epoch", json_object_new_int64(st->catchup_epoch));
		put_b64(c, "secret", st->catchup_secret, sizeof st->catchup_secret);
		json_object_object_add(c, "until", json_object_new_int64((int64_t)st->catchup_until));
		arr = json_object_new_array();
		for (size_t i = 0; i < st->num_catchup; i++) {
			char b[64];
			size_t l;
			net_b64_encode(b, sizeof b, &l, st->catchup_peers[i], 32, NET_B64_STD, true);
			json_object_array_add(arr, json_object_new_string(b));
		}
		json_object_object_add(c, "peers", arr);
		json_object_object_add(root, "catchup", c);
	}
	if (st->have_founder)
		put_b64(root, "founder", st->founder, sizeof st->founder);
	if (st->have_admission) {
		json_object *a = json_object_new_object();
		put_b64(a, "admitter", st->admitter, sizeof st->admitter);
		put_b64(a, "sig", st->admit_sig, sizeof st->admit_sig);
		json_object_object_add(root, "admission", a);
	}
	ret = write_json(st->home, "state.json", root, err, err_len);
	json_object_put(root);
	return ret;
}

/* Writes root to home/name atomically: a temporary file (0600), fsync,
 * rename. */
static int write_json(const char *home, const char *name, json_object *root, char *err, size_t err_len)
{
	char path[NODE_PATH_MAX + 32], tmp[NODE_PATH_MAX + 48];
	int ret = 0;
	const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	snprintf(path, sizeof path, "%s/%s", home, name);
	snprintf(tmp, sizeof tmp, "%s/.%s.%d", home, name, getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
		ret = -errno;
		snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		ret = -errno;
		snprintf(err, err_len, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
	}
out:
	return ret;
}

void node_state_new_identity(struct node_state *st, const char *name)
{
	uint8_t id[8];
	RAND_bytes(st->priv, sizeof st->priv);
	X25519_public_from_private(st->pub, st->priv);
	RAND_bytes(id, sizeof id);
	snprintf(st->node_id, sizeof st->node_id, "node-%02x%02x%02x%02x%02x%02x%02x%02x", id[0], id[1], id[2], id[3],
		 id[4], id[5], id[6], id[7]);
	char host[65] = "node";
	if (!name) {
		gethostname(host, sizeof host - 1);
		host[sizeof host - 1] = 0;
		name = host;
	}
	snprintf(st->node_name, sizeof st->node_name, "%s", name);
	st->created_at = (uint64_t)time(NULL);
}

bool node_state_add_peer(struct node_state *st, const struct node_known_peer *p)
{
	for (size_t i = 0; i < st->num_peers; i++)
		if (!strcmp(st->peers[i].node_id, p->node_id)) {
			st->peers[i] = *p;
			return true;
		}
	if (st->num_peers == NODE_MAX_PEERS)
		return false;
	st->peers[st->num_peers++] = *p;
	return true;
}

bool node_state_remove_peer(struct node_state *st, const uint8_t pub[32])
{
	for (size_t i = 0; i < st->num_peers; i++)
		if (!CRYPTO_memcmp(st->peers[i].pub, pub, 32)) {
			memmove(&st->peers[i], &st->peers[i + 1], (st->num_peers - i - 1) * sizeof st->peers[0]);
			st->num_peers--;
			return true;
		}
	return false;
}

bool node_state_catchup_has(const struct node_state *st, const uint8_t pub[32], uint64_t now_s)
{
	if (now_s >= st->catchup_until)
		return false;
	for (size_t i = 0; i < st->num_catchup; i++)
		if (!CRYPTO_memcmp(st->catchup_peers[i], pub, 32))
			return true;
	return false;
}

bool node_state_catchup_drop(struct node_state *st, const uint8_t pub[32])
{
	for (size_t i = 0; i < st->num_catchup; i++)
		if (!CRYPTO_memcmp(st->catchup_peers[i], pub, 32)) {
			memmove(st->catchup_peers[i], st->catchup_peers[i + 1], (st->num_catchup - i - 1) * 32);
			if (!--st->num_catchup)
				node_state_catchup_clear(st);
			return true;
		}
	return false;
}

bool node_state_catchup_clear(struct node_state *st)
{
	bool had = st->num_catchup > 0;
	st->num_catchup = 0;
	st->catchup_epoch = 0;
	st->catchup_until = 0;
	OPENSSL_cleanse(st->catchup_secret, sizeof st->catchup_secret);
	return had;
}

int node_members_load(const struct node_state *st, struct node_members *t, char *err, size_t err_len)
{
	char path[NODE_PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/members.json", st->home);
	json_object *root = json_object_from_file(path), *ents, *rems;
	if (!root) {
		if (access(path, F_OK) != 0)
			return 0;
		snprintf(err, err_len, "%s is not valid JSON: %s", path, json_util_get_last_err());
		return -EINVAL;
	}
	bool have_e = json_object_object_get_ex(root, "entries", &ents) && json_object_is_type(ents, json_type_array);
	bool have_r = json_object_object_get_ex(root, "removals", &rems) && json_object_is_type(rems, json_type_array);
	size_t ne = have_e ? json_object_array_length(ents) : 0, nr = have_r ? json_object_array_length(rems) : 0;
	int merged = 0;
	static struct node_member_msg m;
	/* Passes until one merges nothing: an entry can depend on an admitter
	 * listed after it (a re-admission), a removal on its remover. */
	for (bool again = true; again;) {
		again = false;
		for (size_t i = 0; i < ne + nr; i++) {
			json_object *v = json_object_array_get_idx(i < ne ? ents : rems, i < ne ? i : i - ne);
			uint8_t buf[NODE_MEMBER_MAX_MSG + 4];
			size_t l = 0;
			const char *b = json_object_get_string(v);
			if (!b || net_b64_decode(buf, sizeof buf, &l, b, strlen(b)) != 0 || node_member_parse(&m, buf, l) != 0)
				continue;
			int r = m.kind == 'E' ? node_members_merge_entry(t, &m.entry, NULL)
			      : m.kind == 'R' ? node_members_merge_removal(t, m.removal.target, m.removal.remover, m.removal.sig, NULL)
					      : NODE_MEMBER_UNCHANGED;
			if (r == NODE_MEMBER_CHANGED) {
				merged++;
				again = true;
			}
		}
	}
	json_object_put(root);
	return merged;
}

static json_object *b64_string(const uint8_t *d, size_t n)
{
	char buf[2 * NODE_MEMBER_MAX_MSG];
	size_t l;
	net_b64_encode(buf, sizeof buf, &l, d, n, NET_B64_STD, true);
	return json_object_new_string(buf);
}

int node_members_save(const struct node_state *st, const struct node_members *t, char *err, size_t err_len)
{
	json_object *root = json_object_new_object(), *ents = json_object_new_array(), *rems = json_object_new_array();
	uint8_t buf[NODE_MEMBER_MAX_MSG];
	size_t l;
	for (size_t i = 0; i < t->num; i++) {
		const struct node_member_slot *s = &t->slots[i];
		if (s->has_entry && node_member_encode_entry(buf, sizeof buf, &l, &s->m) == 0)
			json_object_array_add(ents, b64_string(buf, l));
		if (s->has_entry && s->has_spare) {
			/* The spare admission travels as a second copy of the entry. */
			struct node_member m2 = s->m;
			memcpy(m2.admitter, s->spare_admitter, 32);
			memcpy(m2.admit_sig, s->spare_sig, 64);
			if (node_member_encode_entry(buf, sizeof buf, &l, &m2) == 0)
				json_object_array_add(ents, b64_string(buf, l));
		}
		if (s->removed && node_member_encode_removal(buf, sizeof buf, &l, s->m.pub, s->remover, s->remove_sig) == 0)
			json_object_array_add(rems, b64_string(buf, l));
	}
	json_object_object_add(root, "mesh_id", json_object_new_string(t->mesh_id));
	json_object_object_add(root, "entries", ents);
	json_object_object_add(root, "removals", rems);
	int r = write_json(st->home, "members.json", root, err, err_len);
	json_object_put(root);
	return r;
}

int node_relay_key_set(struct node_state *st, const char *url, const char *key_text)
{
	struct relay_key k;
	size_t i = 0;
	if (key_text[0] && relay_key_parse(&k, key_text, strlen(key_text)) != RELAY_TICKET_OK)
		return -EINVAL;
	relay_key_cleanup(&k);
	if (strlen(url) > NODE_TOKEN_MAX_URL_LEN)
		return -EINVAL;
	while (i < st->num_relay_keys && strcmp(st->relay_keys[i].url, url))
		i++;
	if (!key_text[0]) {
		if (i < st->num_relay_keys) {
			OPENSSL_cleanse(&st->relay_keys[i], sizeof st->relay_keys[i]);
			st->relay_keys[i] = st->relay_keys[--st->num_relay_keys];
			OPENSSL_cleanse(&st->relay_keys[st->num_relay_keys], sizeof st->relay_keys[0]);
		}
		return 0;
	}
	if (i == NODE_TOKEN_MAX_RELAYS)
		return -ENOSPC;
	snprintf(st->relay_keys[i].url, sizeof st->relay_keys[i].url, "%s", url);
	snprintf(st->relay_keys[i].key, sizeof st->relay_keys[i].key, "%s", key_text);
	if (i == st->num_relay_keys)
		st->num_relay_keys++;
	return 0;
}

bool node_relay_key_find(const struct node_state *st, const char *url, struct relay_key *out)
{
	for (size_t i = 0; i < st->num_relay_keys; i++)
		if (!strcmp(st->relay_keys[i].url, url))
			return relay_key_parse(out, st->relay_keys[i].key, strlen(st->relay_keys[i].key)) == RELAY_TICKET_OK;
	return false;
}

void node_state_wipe(struct node_state *st)
{
	OPENSSL_cleanse(st->relay_keys, sizeof st->relay_keys);
	OPENSSL_cleanse(st->secret, sizeof st->secret);
	OPENSSL_cleanse(st->mesh_key, sizeof st->mesh_key);
	OPENSSL_cleanse(st->catchup_secret, sizeof st->catchup_secret);
	OPENSSL_cleanse(st->priv, sizeof st->priv);
}
