/* node/birthday.c: hard-NAT probing's plan and state machine (see node/birthday.h). */
#include "node/birthday.h"

#include <string.h>

#include "node/wire.h"

_Static_assert(NODE_BDAY_PORT_MIN + NODE_BDAY_PORT_RANGE == 65536, "probes cover 1024-65535");
_Static_assert(NODE_BDAY_MAX_PROBES <= NODE_BDAY_PORT_RANGE, "distinct ports per attempt");
_Static_assert((uint64_t)NODE_BDAY_MAX_PROBES * NODE_BDAY_STEP_MS / NODE_BDAY_PER_STEP <= NODE_BDAY_PROBE_MS,
	       "the whole budget fits in the probing time");

_Static_assert(NODE_BDAY_AGGR_MAX_PROBES <= NODE_BDAY_PORT_RANGE, "distinct ports per attempt");
_Static_assert((uint64_t)NODE_BDAY_AGGR_MAX_PROBES * NODE_BDAY_STEP_MS / NODE_BDAY_PER_STEP <= NODE_BDAY_AGGR_PROBE_MS,
	       "the aggressive budget fits in its probing time");

static const struct node_bday_budget budgets[] = {
	[NODE_HARD_NAT_ON] = {NODE_BDAY_SOCKETS, NODE_BDAY_MAX_PROBES, NODE_BDAY_PER_STEP, NODE_BDAY_PROBE_MS},
	[NODE_HARD_NAT_OFF] = {0, 0, 0, 0},
	[NODE_HARD_NAT_AGGRESSIVE] = {NODE_BDAY_AGGR_SOCKETS, NODE_BDAY_AGGR_MAX_PROBES, NODE_BDAY_PER_STEP,
				      NODE_BDAY_AGGR_PROBE_MS},
};
static const char *const mode_names[] = {"on", "off", "aggressive"};

const char *node_hard_nat_mode_name(enum node_hard_nat_mode m)
{
	return (size_t)m < sizeof mode_names / sizeof mode_names[0] ? mode_names[m] : "off";
}

bool node_hard_nat_mode_parse(const char *s, enum node_hard_nat_mode *m)
{
	for (size_t i = 0; s && i < sizeof mode_names / sizeof mode_names[0]; i++)
		if (!strcmp(s, mode_names[i])) {
			*m = (enum node_hard_nat_mode)i;
			return true;
		}
	return false;
}

const struct node_bday_budget *node_bday_budget(enum node_hard_nat_mode m)
{
	return (size_t)m < sizeof budgets / sizeof budgets[0] ? &budgets[m] : &budgets[NODE_HARD_NAT_OFF];
}

static const char *const nat_names[] = {"unknown", "easy", "hard"};

const char *node_nat_name(enum node_nat_kind k)
{
	return (size_t)k < sizeof nat_names / sizeof nat_names[0] ? nat_names[k] : "unknown";
}

enum node_nat_kind node_nat_parse(const char *s)
{
	if (s && !strcmp(s, "easy"))
		return NODE_NAT_EASY;
	if (s && !strcmp(s, "hard"))
		return NODE_NAT_HARD;
	return NODE_NAT_UNKNOWN;
}

enum node_nat_kind node_nat_classify(size_t num_answered, size_t num_agree, bool no_nat)
{
	if (no_nat)
		return NODE_NAT_EASY;
	if (num_answered < 2)
		return NODE_NAT_UNKNOWN;
	return num_agree < num_answered ? NODE_NAT_HARD : NODE_NAT_EASY;
}

enum node_bday_role node_bday_role(enum node_nat_kind self, enum node_nat_kind peer)
{
	if (self == NODE_NAT_HARD && peer == NODE_NAT_EASY)
		return NODE_BDAY_HARD;
	if (self == NODE_NAT_EASY && peer == NODE_NAT_HARD)
		return NODE_BDAY_EASY;
	return NODE_BDAY_NONE; /* hard <-> hard: both random, no budget finds it */
}

double node_bday_success_p(unsigned n, unsigned k, unsigned range)
{
	if (!range || n >= range)
		return n ? 1.0 : 0.0;
	/* (1 - n/range)^k by squaring: no libm for one power. */
	double base = 1.0 - (double)n / (double)range, miss = 1.0;
	for (unsigned e = k; e; e >>= 1, base *= base)
		if (e & 1)
			miss *= base;
	return 1.0 - miss;
}

void node_bday_schedule(struct node_bday *b, uint64_t now_ms)
{
	uint64_t at = now_ms + NODE_BDAY_AFTER_MS;
	if (b->state != NODE_BDAY_IDLE || (b->gap_ms && b->next_try_ms))
		return; /* running, or backing off: a HELLO does not cut that short */
	if (!b->next_try_ms || at < b->next_try_ms)
		b->next_try_ms = at;
}

bool node_bday_should_ask(const struct node_bday *b, enum node_bday_role role, bool direct_ok, bool busy,
			  uint64_t now_ms)
{
	return role == NODE_BDAY_HARD && b->state == NODE_BDAY_IDLE && !direct_ok && !busy && b->next_try_ms &&
	       now_ms >= b->next_try_ms;
}

static void enter(struct node_bday *b, enum node_bday_state st, uint64_t now_ms, uint64_t ms)
{
	b->state = st;
	b->since_ms = now_ms;
	b->until_ms = now_ms + ms;
}

void node_bday_asked(struct node_bday *b, uint64_t now_ms)
{
	enter(b, NODE_BDAY_ASKED, now_ms, NODE_BDAY_ANSWER_MS);
}

bool node_bday_accept(struct node_bday *b, enum node_bday_role role, bool direct_ok, bool busy, uint64_t now_ms)
{
	if (role != NODE_BDAY_EASY || b->state != NODE_BDAY_IDLE || direct_ok || busy)
		return false;
	if (b->last_accept_ms && now_ms < b->last_accept_ms + NODE_BDAY_ACCEPT_GAP_MS)
		return false;
	b->last_accept_ms = now_ms;
	memset(&b->seq, 0, sizeof b->seq);
	b->seq_from = b->seq_n = 0;
	b->last_hit_port = 0;
	b->last_hit_index = 0;
	enter(b, NODE_BDAY_ACCEPTED, now_ms, NODE_BDAY_ANSWER_MS);
	return true;
}

bool node_bday_open(struct node_bday *b, uint64_t now_ms, const struct node_bday_budget *bu)
{
	if (b->state != NODE_BDAY_ASKED || !bu->sockets)
		return false;
	/* 'G' may take up to an answer time to arrive; then the easy side
	 * probes for NODE_BDAY_PROBE_MS, and its last probes are in flight. */
	enter(b, NODE_BDAY_OPEN, now_ms, NODE_BDAY_ANSWER_MS + bu->probe_ms + NODE_BDAY_SLACK_MS);
	return true;
}

/* Whether s shares no factor with the range (2^10 * 3^2 * 7). */
static bool coprime(uint32_t s)
{
	return s % 2 && s % 3 && s % 7;
}

bool node_bday_go(struct node_bday *b, uint64_t now_ms, uint32_t r1, uint32_t r2, const struct node_bday_budget *bu)
{
	if (b->state != NODE_BDAY_ACCEPTED || !bu->max_probes)
		return false;
	enter(b, NODE_BDAY_PROBING, now_ms, bu->probe_ms);
	b->probes = 0;
	b->max_probes = bu->max_probes > NODE_BDAY_PORT_RANGE ? NODE_BDAY_PORT_RANGE : bu->max_probes;
	b->per_step = bu->per_step;
	if (b->seq_n > b->max_probes)
		b->seq_n = b->max_probes;
	b->port_start = r1 % NODE_BDAY_PORT_RANGE;
	uint32_t s = r2 % NODE_BDAY_PORT_RANGE;
	while (!coprime(s)) /* at most 6 steps: 2 * 3 * 7 = 42 has none longer */
		s = (s + 1) % NODE_BDAY_PORT_RANGE;
	b->port_stride = s;
	return true;
}

uint32_t node_bday_due(const struct node_bday *b, uint64_t now_ms)
{
	if (b->state != NODE_BDAY_PROBING || now_ms >= b->until_ms || b->probes >= b->max_probes)
		return 0;
	uint64_t steps = (now_ms - b->since_ms) / NODE_BDAY_STEP_MS + 1;
	uint64_t target = steps * b->per_step;
	if (target > b->max_probes)
		target = b->max_probes;
	if (target <= b->probes)
		return 0;
	uint64_t due = target - b->probes;
	return (uint32_t)(due > 2ull * b->per_step ? 2ull * b->per_step : due);
}

/* The port stride*k from last, folded into the probed range. */
static uint16_t fold(uint16_t last, int32_t stride, uint32_t k)
{
	const int64_t range = NODE_BDAY_PORT_RANGE;
	int64_t base = (((int64_t)last - NODE_BDAY_PORT_MIN) % range + range) % range;
	return (uint16_t)(NODE_BDAY_PORT_MIN + ((base + (stride % range) * (int64_t)k) % range + range) % range);
}

uint16_t node_bday_next_port(struct node_bday *b)
{
	uint32_t i = b->probes++;
	if (b->seq_n && i >= b->seq_from && i - b->seq_from < b->seq_n)
		return fold(b->seq.last, b->seq.stride, i - b->seq_from + 1);
	if (i >= b->seq_from + b->seq_n)
		i -= b->seq_n; /* the random sequence goes on where it left off */
	uint64_t off = ((uint64_t)b->port_start + (uint64_t)i * b->port_stride) % NODE_BDAY_PORT_RANGE;
	return (uint16_t)(NODE_BDAY_PORT_MIN + off);
}

bool node_bday_expired(const struct node_bday *b, uint64_t now_ms)
{
	return b->state != NODE_BDAY_IDLE && now_ms >= b->until_ms;
}

void node_bday_finish(struct node_bday *b, bool ok, uint64_t now_ms)
{
	bool hard = b->state == NODE_BDAY_ASKED || b->state == NODE_BDAY_OPEN;
	b->attempts++;
	b->last_ok = ok;
	b->last_probes = b->probes;
	b->last_ms = now_ms - b->since_ms;
	b->state = NODE_BDAY_IDLE;
	if (ok) {
		b->gap_ms = 0;
		b->next_try_ms = 0;
	} else if (hard) {
		b->gap_ms = !b->gap_ms ? NODE_BDAY_FIRST_GAP_MS
			    : b->gap_ms >= NODE_BDAY_MAX_GAP_MS / 2 ? NODE_BDAY_MAX_GAP_MS
								     : b->gap_ms * 2;
		b->next_try_ms = now_ms + b->gap_ms;
	}
}

size_t node_bday_seq_window(uint16_t last, int32_t stride, uint32_t opened, uint32_t slack, uint32_t budget,
			    uint16_t *out, size_t cap)
{
	const int64_t range = NODE_BDAY_PORT_RANGE;
	uint64_t want = (uint64_t)opened + slack;
	if (want > budget)
		want = budget;
	if (want > cap)
		want = cap;
	if (stride % range == 0)
		return 0;
	size_t n = 0;
	for (uint32_t k = 1; k <= want; k++) {
		uint16_t port = fold(last, stride, k);
		if (port == fold(last, stride, 0))
			break; /* came round: the ports from here on repeat */
		out[n++] = port;
	}
	return n;
}

void node_bday_seq_encode(const struct node_bday_seq *s, uint8_t out[NODE_BDAY_SEQ_LEN])
{
	uint16_t st = (uint16_t)s->stride;
	out[0] = 'S';
	out[1] = (uint8_t)(s->last >> 8);
	out[2] = (uint8_t)s->last;
	out[3] = (uint8_t)(st >> 8);
	out[4] = (uint8_t)st;
	out[5] = (uint8_t)(s->opened >> 8);
	out[6] = (uint8_t)s->opened;
}

bool node_bday_seq_parse(const uint8_t *m, size_t n, struct node_bday_seq *s)
{
	if (n != NODE_BDAY_SEQ_LEN || m[0] != 'S')
		return false;
	uint16_t st = (uint16_t)(m[3] << 8 | m[4]);
	uint16_t opened = (uint16_t)(m[5] << 8 | m[6]);
	if (!st || !opened || opened > NODE_BDAY_SOCKETS_MAX)
		return false;
	s->last = (uint16_t)(m[1] << 8 | m[2]);
	s->stride = (int16_t)(st > INT16_MAX ? (int32_t)st - 65536 : (int32_t)st);
	s->opened = opened;
	return true;
}

bool node_bday_predict(struct node_bday *b, const struct node_bday_seq *s)
{
	if ((b->state != NODE_BDAY_ACCEPTED && b->state != NODE_BDAY_PROBING) || !s->stride || b->seq_n)
		return false;
	b->seq = *s;
	b->seq_from = b->state == NODE_BDAY_PROBING ? b->probes : 0;
	uint32_t left = b->state == NODE_BDAY_PROBING ? b->max_probes - b->probes : NODE_BDAY_PORT_RANGE;
	uint32_t want = (uint32_t)s->opened + NODE_BDAY_SEQ_SLACK;
	b->seq_n = want < left ? want : left;
	return true;
}

uint32_t node_bday_seq_index(const struct node_bday *b, uint16_t port)
{
	if (!b->seq_n || !b->seq.stride)
		return 0;
	/* seq_n <= NODE_BDAY_SOCKETS_MAX + NODE_BDAY_SEQ_SLACK: a short scan. */
	for (uint32_t k = 1; k <= b->seq_n; k++)
		if (fold(b->seq.last, b->seq.stride, k) == port)
			return k;
	return 0;
}

void node_bday_hit(struct node_bday *b, uint16_t port)
{
	b->last_hit_port = port;
	b->last_hit_index = node_bday_seq_index(b, port);
}
