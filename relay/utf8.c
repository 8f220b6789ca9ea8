#include "relay/utf8.h"

#include <string.h>

/* The DFA of RFC 3629 §4, one state per "what may come next":
 *
 *   state    after            next byte must be        then
 *   ACCEPT   a whole char     00..7F                   ACCEPT
 *                             C2..DF                   NEED1
 *                             E0 / E1..EC,EE..EF / ED  E0 / NEED2 / ED
 *                             F0 / F1..F3 / F4         F0 / NEED3 / F4
 *   NEED1    lead, 1 to go    80..BF                   ACCEPT
 *   NEED2    lead, 2 to go    80..BF                   NEED1
 *   NEED3    F1..F3           80..BF                   NEED2
 *   E0       E0               A0..BF (else overlong)   NEED1
 *   ED       ED               80..9F (else surrogate)  NEED1
 *   F0       F0               90..BF (else overlong)   NEED2
 *   F4       F4               80..8F (else > 10FFFF)   NEED2
 *
 * Anything else goes to REJECT, which never leaves. Bytes are grouped into
 * the twelve classes that the table above distinguishes. */
enum { ACCEPT, REJECT, NEED1, NEED2, NEED3, E0, ED, F0, F4 };
enum {
	C_ASCII, /* 00..7F */
	C_80,    /* 80..8F */
	C_90,    /* 90..9F */
	C_A0,    /* A0..BF */
	C_BAD,   /* C0, C1, F5..FF: never valid */
	C_2B,    /* C2..DF */
	C_E0,
	C_3B,    /* E1..EC, EE..EF */
	C_ED,
	C_F0,
	C_4B,    /* F1..F3 */
	C_F4,
	NUM_CLASSES
};

/* Shift encoding: a state is stored as 6 * its index, and the row of a class
 * holds, in bits [6s, 6s + 6), the stored successor of state s. Stepping is
 * (row >> state) & 63. Nine states use 54 bits. */
#define SUCC(st, next) ((uint64_t)((next) * 6) << ((st) * 6))
#define ROW(a, r, n1, n2, n3, e0, ed, f0, f4)                                  \
	(SUCC(ACCEPT, a) | SUCC(REJECT, r) | SUCC(NEED1, n1) | SUCC(NEED2, n2) | \
	 SUCC(NEED3, n3) | SUCC(E0, e0) | SUCC(ED, ed) | SUCC(F0, f0) | SUCC(F4, f4))
#define R REJECT
#define LEAD(to) ROW(to, R, R, R, R, R, R, R, R)

static const uint64_t class_row[NUM_CLASSES] = {
	/*            ACCEPT REJ NEED1   NEED2  NEED3  E0     ED     F0     F4 */
	[C_ASCII] = ROW(ACCEPT, R, R,      R,     R,     R,     R,     R,     R),
	[C_80]    = ROW(R,      R, ACCEPT, NEED1, NEED2, R,     NEED1, R,     NEED2),
	[C_90]    = ROW(R,      R, ACCEPT, NEED1, NEED2, R,     NEED1, NEED2, R),
	[C_A0]    = ROW(R,      R, ACCEPT, NEED1, NEED2, NEED1, R,     NEED2, R),
	[C_BAD]   = LEAD(R),
	[C_2B]    = LEAD(NEED1),
	[C_E0]    = LEAD(E0),
	[C_3B]    = LEAD(NEED2),
	[C_ED]    = LEAD(ED),
	[C_F0]    = LEAD(F0),
	[C_4B]    = LEAD(NEED3),
	[C_F4]    = LEAD(F4),
};

#define CLS(b)                                                              \
	((b) < 0x80   ? C_ASCII                                              \
	 : (b) < 0x90 ? C_80                                                 \
	 : (b) < 0xA0 ? C_90                                                 \
	 : (b) < 0xC0 ? C_A0                                                 \
	 : (b) < 0xC2 ? C_BAD                                                \
	 : (b) < 0xE0 ? C_2B                                                 \
	 : (b) == 0xE0 ? C_E0                                                \
	 : (b) == 0xED ? C_ED                                                \
	 : (b) < 0xF0 ? C_3B                                                 \
	 : (b) == 0xF0 ? C_F0                                                \
	 : (b) < 0xF4 ? C_4B                                                 \
	 : (b) == 0xF4 ? C_F4                                                \
	 : C_BAD)
#define CLS4(b) CLS(b), CLS((b) + 1), CLS((b) + 2), CLS((b) + 3)
#define CLS16(b) CLS4(b), CLS4((b) + 4), CLS4((b) + 8), CLS4((b) + 12)
#define CLS64(b) CLS16(b), CLS16((b) + 16), CLS16((b) + 32), CLS16((b) + 48)

static const uint8_t byte_class[256] = {
	CLS64(0x00), CLS64(0x40), CLS64(0x80), CLS64(0xC0),
};

#define STORED(s) ((uint32_t)(s) * 6)
#define HIGH_BITS 0x8080808080808080ull

void relay_utf8_init(struct relay_utf8 *v)
{
	v->state = STORED(ACCEPT);
}

int relay_utf8_feed(struct relay_utf8 *v, const uint8_t *data, size_t len)
{
	uint64_t s = v->state;
	size_t i = 0;

	while (i < len) {
		/* Between characters, skip ASCII 16 bytes at a time: most text
		 * the relay carries is JSON. */
		if (s == STORED(ACCEPT)) {
			while (len - i >= 16) {
				uint64_t a, b;
				memcpy(&a, data + i, 8);
				memcpy(&b, data + i + 8, 8);
				if ((a | b) & HIGH_BITS)
					break;
				i += 16;
			}
		}
		/* Then step the DFA over up to 16 bytes without branching on the
		 * state; REJECT is absorbing, so one test per block suffices. */
		size_t stop = len - i > 16 ? i + 16 : len;
		for (; i < stop; i++)
			s = (class_row[byte_class[data[i]]] >> s) & 63;
		if (s == STORED(REJECT))
			break;
	}
	v->state = (uint32_t)s;
	return s == STORED(REJECT) ? RELAY_UTF8_E_INVALID : RELAY_UTF8_OK;
}

int relay_utf8_finish(const struct relay_utf8 *v)
{
	if (v->state == STORED(ACCEPT))
		return RELAY_UTF8_OK;
	if (v->state == STORED(REJECT))
		return RELAY_UTF8_E_INVALID;
	return RELAY_UTF8_E_TRUNCATED;
}

int relay_utf8_validate(const uint8_t *data, size_t len)
{
	struct relay_utf8 v;
	relay_utf8_init(&v);
	relay_utf8_feed(&v, data, len);
	return relay_utf8_finish(&v);
}
