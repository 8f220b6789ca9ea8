/* node/short_join.c: the joiner's side of a short-code join (node_short_fetch
 * in node/node.h): meet the inviting node on a relay, run the exchange of
 * node/pake.h, receive the full code. Its own small runtime, before the
 * node starts: what follows is the join with the full code. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/reactor.h"
#include "net/bssl.h"
#include "node/node.h"
#include "node/pake.h"
#include "node/token.h"
#include "node/wire.h"
#include "relay/client.h"

struct fetch {
	const char *code; /* canonical */
	const char *const *relays;
	size_t num_relays;
	unsigned timeout_ms;
	char *out;
	size_t cap;
	char *err;
	size_t err_len;
	int rc;           /* 0, or enum node_short_fetch_status */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int send_msg(struct relay_client *c, const struct node_pake_msg *m)
{
	uint8_t buf[NODE_PAKE_MAX_MSG];
	size_t n = 0;
	if (node_pake_msg_write(buf, sizeof buf, &n, m) != NODE_PAKE_OK)
		return -EINVAL;
	return relay_client_send(c, buf, n, false, 5000);
}

/* Waits for the next message of ours until deadline; other bytes are
 * skipped (they are nobody's answer). Returns 0, or -ETIMEDOUT /
 * -ECONNRESET / -errno. */
static int recv_msg(struct relay_client *c, struct node_pake_msg *m, uint64_t deadline)
{
	for (;;) {
		uint64_t t = now_ms();
		if (t >= deadline)
			return -ETIMEDOUT;
		struct relay_msg rm;
		int n = relay_client_recv(c, &rm, (int)(deadline - t));
		if (n < 0)
			return n;
		if (!rm.text && node_pake_msg_parse(m, rm.data, rm.len) == NODE_PAKE_OK)
			return 0;
	}
}

static const char *refusal(uint8_t reason)
{
	switch (reason) {
	case NODE_PAKE_REFUSE_USED:
		return "the code was already used";
	case NODE_PAKE_REFUSE_DEAD:
		return "the code is void: join attempts with a wrong code used up its tries";
	case NODE_PAKE_REFUSE_EXPIRED:
		return "the code has expired";
	default:
		return "another join with this code is under way";
	}
}

/* One relay: returns 0 (done: fetched, or a final failure in f->rc), or
 * -errno to try the next relay. */
static int try_relay(struct fetch *f, const char *url, uint64_t deadline)
{
	char sid[NODE_PAKE_SESSION_ID_LEN + 1], cerr[256];
	struct relay_client *c = NULL;
	struct node_pake *p = NULL;
	struct node_pake_msg m;
	uint8_t mine[NODE_PAKE_SPAKE_LEN], confirm[NODE_PAKE_CONFIRM_LEN];
	int e, r;
	node_pake_session_id(sid, f->code);
	struct relay_client_opts o = {.max_message = NODE_PAKE_MAX_MSG};
	uint64_t t = now_ms();
	/* A connection gets at most 5 s of the relay's share, at least 0.1 s. */
	int budget = deadline > t + 100 ? (int)(deadline - t) : 100;
	cerr[0] = 0;
	r = relay_client_connect(&c, url, sid, &o, budget < 5000 ? budget : 5000, cerr, sizeof cerr);
	if (r) {
		snprintf(f->err, f->err_len, "relay %s: %s", url, cerr[0] ? cerr : strerror(-r));
		return r;
	}
	p = node_pake_new(NODE_PAKE_JOINER, f->code, &e);
	if (!p || node_pake_start(p, mine) != NODE_PAKE_OK) {
		r = -ENOMEM;
		snprintf(f->err, f->err_len, "%s", node_pake_strerror(p ? NODE_PAKE_E_INTERNAL : e));
		goto out;
	}
	/* The relay holds it until the inviting node is there. */
	if ((r = send_msg(c, &(struct node_pake_msg){.type = NODE_PAKE_START, .spake = mine})) != 0) {
		snprintf(f->err, f->err_len, "relay %s: sending: %s", url, strerror(-r));
		goto out;
	}
	do {
		r = recv_msg(c, &m, deadline);
	} while (r == 0 && m.type != NODE_PAKE_REPLY && m.type != NODE_PAKE_REFUSED);
	if (r) {
		snprintf(f->err, f->err_len,
			 r == -ETIMEDOUT ? "no answer through %s: is the inviting node running ('atmosphere serve'), is this "
					   "its mesh's relay, and is the code still valid (it expires, 10 min by default)?"
					 : "relay %s closed the session before the inviting node answered",
			 url);
		goto out;
	}
	if (m.type == NODE_PAKE_REFUSED) {
		snprintf(f->err, f->err_len, "the inviting node refused the code: %s; ask for a new one ('atmosphere join')",
			 refusal(m.reason));
		f->rc = NODE_SHORT_REFUSED;
		r = 0;
		goto out;
	}
	/* From here on this exchange cost one of the code's tries. Our
	 * confirmation goes even when theirs fails, so that the inviting node
	 * can log why (it opens nothing: a wrong key). */
	bool keyed = node_pake_finish(p, m.spake) == NODE_PAKE_OK && node_pake_confirm(p, confirm) == NODE_PAKE_OK;
	if (!keyed || node_pake_check(p, m.confirm) != NODE_PAKE_OK) {
		if (keyed)
			send_msg(c, &(struct node_pake_msg){.type = NODE_PAKE_CONFIRM, .confirm = confirm});
		snprintf(f->err, f->err_len, "wrong code: %s does not match the inviting node's (check it and try again: a "
					     "code allows %d tries, then it is void)", f->code, NODE_PAKE_MAX_TRIES);
		f->rc = NODE_SHORT_WRONG;
		r = 0;
		goto out;
	}
	if ((r = send_msg(c, &(struct node_pake_msg){.type = NODE_PAKE_CONFIRM, .confirm = confirm})) != 0) {
		snprintf(f->err, f->err_len, "relay %s: sending: %s", url, strerror(-r));
		f->rc = NODE_SHORT_FAILED;
		r = 0;
		goto out;
	}
	do {
		r = recv_msg(c, &m, deadline);
	} while (r == 0 && m.type != NODE_PAKE_SEALED);
	size_t n = 0;
	if (r || node_pake_open(p, (uint8_t *)f->out, f->cap - 1, &n, m.sealed, m.sealed_len) != NODE_PAKE_OK) {
		snprintf(f->err, f->err_len, r ? "the inviting node confirmed the code but sent nothing through %s"
					       : "the code received through %s does not open (tampered with)",
			 url);
		f->rc = NODE_SHORT_FAILED;
		r = 0;
		goto out;
	}
	f->out[n] = 0;
	f->rc = 0;
	r = 0;
out:
	OPENSSL_cleanse(confirm, sizeof confirm);
	node_pake_free(p);
	relay_client_close(c);
	return r;
}

static void fetch_main(void *arg)
{
	struct fetch *f = arg;
	uint64_t deadline = now_ms() + f->timeout_ms;
	f->rc = NODE_SHORT_NO_ANSWER;
	for (size_t i = 0; i < f->num_relays; i++) {
		/* Each relay its share of the time left, the last all of it. */
		uint64_t t = now_ms();
		if (t >= deadline)
			break;
		uint64_t until = t + (deadline - t) / (f->num_relays - i);
		if (try_relay(f, f->relays[i], until) == 0)
			break;
	}
	core_rt_shutdown(core_reactor_rt(core_self()));
}

int node_short_fetch(const char *code, const char *const *relays, size_t num_relays, unsigned timeout_ms, char *out,
		     size_t cap, char *err, size_t err_len)
{
	char canon[NODE_PAKE_CODE_LEN + 1];
	if (node_pake_code_parse(canon, code) != NODE_PAKE_OK) {
		snprintf(err, err_len, "'%s': %s", code, node_pake_strerror(NODE_PAKE_E_CODE));
		return NODE_SHORT_FAILED;
	}
	if (!num_relays) {
		snprintf(err, err_len, "a short code is met on the inviting mesh's relay: give it with --relay URL");
		return NODE_SHORT_FAILED;
	}
	struct fetch f = {.code = canon, .relays = relays, .num_relays = num_relays, .timeout_ms = timeout_ms,
			  .out = out, .cap = cap, .err = err, .err_len = err_len};
	struct core_rt_opts ro = {.num_threads = 1, .shutdown_grace_ms = 500, .stream_bufs = 16, .dgram_bufs = 16};
	int e = 0;
	struct core_rt *rt = core_rt_new(&ro, &e);
	if (!rt) {
		snprintf(err, err_len, "%s", core_rt_explain(e));
		return NODE_SHORT_FAILED;
	}
	e = core_rt_run(rt, fetch_main, &f);
	core_rt_free(rt);
	if (e < 0 && f.rc == 0)
		f.rc = NODE_SHORT_FAILED;
	if (f.rc)
		OPENSSL_cleanse(out, cap);
	return f.rc;
}
