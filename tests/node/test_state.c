/* Tests for node/state.h's catch-up record (docs/NODE.md, "Catching up
 * through a relay"): the peers still owed the previous epoch's pair
 * session, the previous secret kept only while one is left and until the
 * deadline, and its round trip through state.json, malformed ones dropped. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/state.h"

static struct node_state *st;
static char dir[] = "/tmp/atmos-test-state.XXXXXX";

static void setup(void)
{
	st = calloc(1, sizeof *st);
	cr_assert(st);
	cr_assert(mkdtemp(dir));
	snprintf(st->home, sizeof st->home, "%s/home", dir);
	st->have_mesh = true;
	strcpy(st->mesh_id, "mesh-0011223344556677");
	strcpy(st->mesh_name, "lab");
	memset(st->secret, 0x22, sizeof st->secret);
	memset(st->mesh_key, 0x11, sizeof st->mesh_key);
	node_state_new_identity(st, "ana");
	st->secret_epoch = 2;
	memset(st->rot_rotator, 0x33, 32);
	memset(st->rot_sig, 0x44, 64);
	st->catchup_epoch = 1;
	memset(st->catchup_secret, 0x55, sizeof st->catchup_secret);
	st->catchup_until = 2000;
	memset(st->catchup_peers[0], 0xa1, 32);
	memset(st->catchup_peers[1], 0xa2, 32);
	st->num_catchup = 2;
}

static void teardown(void)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
	strcpy(dir, "/tmp/atmos-test-state.XXXXXX");
	free(st);
}

static const uint8_t zero[32];

TestSuite(state_catchup, .init = setup, .fini = teardown);

Test(state_catchup, has_until_the_deadline)
{
	uint8_t a1[32], other[32];
	memset(a1, 0xa1, 32);
	memset(other, 0xb0, 32);
	cr_assert(node_state_catchup_has(st, a1, 1999));
	cr_assert_not(node_state_catchup_has(st, a1, 2000), "kept past its deadline");
	cr_assert_not(node_state_catchup_has(st, other, 1000), "a peer never listed");
}

Test(state_catchup, the_last_drop_wipes_the_previous_secret)
{
	uint8_t a1[32], a2[32];
	memset(a1, 0xa1, 32);
	memset(a2, 0xa2, 32);
	cr_assert(node_state_catchup_drop(st, a1));
	cr_assert_not(node_state_catchup_drop(st, a1), "dropped twice");
	cr_assert_eq(st->num_catchup, 1);
	cr_assert(node_state_catchup_has(st, a2, 1000));
	cr_assert_neq(memcmp(st->catchup_secret, zero, 32), 0, "wiped while a peer is left");
	cr_assert(node_state_catchup_drop(st, a2));
	cr_assert_eq(st->num_catchup, 0);
	cr_assert_eq(memcmp(st->catchup_secret, zero, 32), 0, "the previous secret outlived the last peer");
	cr_assert_not(node_state_catchup_has(st, a2, 1000));
}

Test(state_catchup, clear_forgets_everything)
{
	cr_assert(node_state_catchup_clear(st));
	cr_assert_eq(st->num_catchup, 0);
	cr_assert_eq(memcmp(st->catchup_secret, zero, 32), 0);
	cr_assert_not(node_state_catchup_clear(st), "nothing left to clear");
}

static void reload(struct node_state *out)
{
	char err[300] = "";
	memset(out, 0, sizeof *out);
	strcpy(out->home, st->home);
	cr_assert_eq(node_state_load(out, err, sizeof err), 0, "load: %s", err);
}

Test(state_catchup, survives_save_and_load)
{
	char err[300] = "";
	struct node_state *b = calloc(1, sizeof *b);
	cr_assert_eq(node_state_save(st, err, sizeof err), 0, "save: %s", err);
	reload(b);
	cr_assert_eq(b->num_catchup, 2);
	cr_assert_eq(b->catchup_epoch, 1);
	cr_assert_eq(b->catchup_until, 2000);
	cr_assert_eq(memcmp(b->catchup_secret, st->catchup_secret, 32), 0);
	cr_assert_eq(memcmp(b->catchup_peers, st->catchup_peers, 64), 0);
	/* Nothing kept: nothing written, and nothing read back. */
	node_state_catchup_clear(st);
	cr_assert_eq(node_state_save(st, err, sizeof err), 0, "save: %s", err);
	reload(b);
	cr_assert_eq(b->num_catchup, 0);
	cr_assert_eq(memcmp(b->catchup_secret, zero, 32), 0);
	free(b);
}

/* Writes state.json with "catchup": value (text) in place of ours. */
static void write_with(const char *value)
{
	char err[300] = "", path[700];
	node_state_catchup_clear(st);
	cr_assert_eq(node_state_save(st, err, sizeof err), 0, "save: %s", err);
	snprintf(path, sizeof path, "%s/state.json", st->home);
	FILE *f = fopen(path, "r+");
	cr_assert(f);
	char buf[8192];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	char *end = strrchr(buf, '}');
	cr_assert(end);
	snprintf(end, sizeof buf - (size_t)(end - buf), ", \"catchup\": %s }\n", value);
	rewind(f);
	fputs(buf, f);
	fclose(f);
}

Test(state_catchup, malformed_records_are_dropped_whole)
{
	static const char *bad[] = {
		"7",
		"{}",
		"{\"epoch\": 1, \"until\": 2000, \"peers\": [\"oaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaE=\"]}",
		"{\"epoch\": 1, \"secret\": \"short\", \"until\": 2000, \"peers\": []}",
		("{\"epoch\": 2, \"secret\": \"VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVU=\", \"until\": 2000, "
		 "\"peers\": [\"oaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaE=\"]}"),
		"{\"epoch\": 1, \"secret\": \"VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVU=\", \"until\": 2000, \"peers\": \"x\"}",
		"{\"epoch\": 1, \"secret\": \"VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVU=\", \"until\": 2000, \"peers\": [3, \"zz\", null]}",
	};
	struct node_state *b = calloc(1, sizeof *b);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_with(bad[i]);
		reload(b);
		cr_assert_eq(b->num_catchup, 0, "kept a catch-up from %s", bad[i]);
		cr_assert_eq(memcmp(b->catchup_secret, zero, 32), 0, "kept a secret from %s", bad[i]);
		cr_assert_eq(b->secret_epoch, 2, "the rest of the state suffered from %s", bad[i]);
	}
	/* The same record well formed is read (the corpus above is not
	 * refused for another reason). */
	write_with("{\"epoch\": 1, \"secret\": \"VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVU=\", \"until\": 2000, "
		   "\"peers\": [\"oaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaE=\", 3]}");
	reload(b);
	cr_assert_eq(b->num_catchup, 1);
	cr_assert_eq(memcmp(b->catchup_peers[0], st->catchup_peers[0], 32), 0);
	free(b);
}
