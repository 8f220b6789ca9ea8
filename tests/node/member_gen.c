/* node_member_gen HOME N: writes HOME/members.json holding the founder's
 * entry (HOME must be the state of the node that ran `init`) and N more
 * members admitted by it, each with a fresh key and an endpoint on
 * 127.0.0.2 where nobody answers: N offline members. For measuring what a
 * member costs a node (docs/NODE.md, "How many members"); not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/bssl.h"
#include "node/member.h"
#include "node/state.h"

int main(int argc, char **argv)
{
	static struct node_state st;
	char err[512];
	if (argc != 3) {
		fprintf(stderr, "usage: node_member_gen HOME N\n");
		return 2;
	}
	snprintf(st.home, sizeof st.home, "%s", argv[1]);
	int n = atoi(argv[2]);
	if (node_state_load(&st, err, sizeof err) != 0 || !st.have_founder || memcmp(st.founder, st.pub, 32)) {
		fprintf(stderr, "node_member_gen: %s is not the state of a mesh's founder\n", argv[1]);
		return 1;
	}
	struct node_members *t = node_members_new(st.mesh_id, st.pub);
	uint8_t fpub[32], fpriv[64];
	node_member_keys(fpub, fpriv, st.priv);
	struct node_member m;
	memset(&m, 0, sizeof m);
	memcpy(m.pub, st.pub, 32);
	memcpy(m.sign_pub, fpub, 32);
	m.version = 1;
	snprintf(m.node_id, sizeof m.node_id, "%s", st.node_id);
	snprintf(m.name, sizeof m.name, "%s", st.node_name);
	memcpy(m.admitter, st.pub, 32);
	node_member_admit(m.admit_sig, fpriv, st.mesh_id, m.pub, m.sign_pub, m.node_id);
	node_member_sign(&m, fpriv, st.mesh_id);
	if (node_members_merge_entry(t, &m, NULL) != NODE_MEMBER_CHANGED) {
		fprintf(stderr, "node_member_gen: the founder's entry does not merge\n");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		uint8_t x[32], spub[32], spriv[64];
		RAND_bytes(x, sizeof x);
		memset(&m, 0, sizeof m);
		X25519_public_from_private(m.pub, x);
		node_member_keys(spub, spriv, x);
		memcpy(m.sign_pub, spub, 32);
		m.version = 1;
		snprintf(m.node_id, sizeof m.node_id, "node-gen%05d", i);
		snprintf(m.name, sizeof m.name, "gen%05d", i);
		snprintf(m.eps[0], sizeof m.eps[0], "127.0.0.2:%d", 20000 + i);
		m.num_eps = 1;
		node_member_sign(&m, spriv, st.mesh_id);
		memcpy(m.admitter, st.pub, 32);
		node_member_admit(m.admit_sig, fpriv, st.mesh_id, m.pub, m.sign_pub, m.node_id);
		int r = node_members_merge_entry(t, &m, NULL);
		if (r != NODE_MEMBER_CHANGED) {
			fprintf(stderr, "node_member_gen: member %d: %s\n", i, node_member_strerror(r));
			return 1;
		}
	}
	if (node_members_save(&st, t, err, sizeof err) != 0) {
		fprintf(stderr, "node_member_gen: %s\n", err);
		return 1;
	}
	printf("%zu members in %s/members.json\n", t->num, st.home);
	node_members_free(t);
	node_state_wipe(&st);
	return 0;
}
