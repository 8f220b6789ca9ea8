#ifndef STUN_LIFETIME_H
#define STUN_LIFETIME_H
/* stun/lifetime.h: how long a NAT keeps an idle UDP mapping (RFC 5780
 * §4.6, Binding Lifetime Discovery), the part without I/O: which idle
 * times to test, and what their outcomes say together.
 *
 * The measurement (`atmosphere network --mapping-lifetime`) tests every
 * checkpoint at once, each from a fresh socket X: X asks the server for
 * its mapped port P, stays silent for the checkpoint's idle time, then a
 * second socket asks the server to answer at P (RESPONSE-PORT). X hears
 * that answer only if the mapping still exists. Fresh sockets because an
 * answer that gets through refreshes the mapping (Linux conntrack does):
 * one socket tested twice would measure from the last answer. The whole
 * test lasts about the largest checkpoint plus a second.
 *
 * Pure: no I/O, no allocation. */
#include <stdbool.h>
#include <stddef.h>

enum {
	STUN_LIFETIME_MAX_CHECKS = 16,    /* the ladder's 15 rungs, and max_s when it is none of them */
	STUN_LIFETIME_DEFAULT_MAX_S = 120,
	STUN_LIFETIME_LIMIT_S = 300,      /* the largest max_s accepted (the ladder's top) */
};

/* What one checkpoint found. */
enum stun_lifetime_outcome {
	STUN_LIFETIME_UNTESTED = 0,   /* no mapping to test (X got no answer), or a socket error */
	STUN_LIFETIME_ALIVE,          /* the answer reached X after idle_s seconds of silence */
	STUN_LIFETIME_EXPIRED,        /* it did not, in any of the retransmissions */
};

struct stun_lifetime_check {
	unsigned idle_s;
	enum stun_lifetime_outcome outcome;
};

/* struct stun_lifetime_result: the interval the mapping's idle lifetime
 * lies in, [min_s, max_s) seconds. */
struct stun_lifetime_result {
	bool measured;            /* some checkpoint has an outcome; else the rest is zero */
	unsigned min_s;           /* the largest idle time it survived; 0: it survived none */
	unsigned max_s;           /* the smallest larger idle time it did not survive; 0: none (it
	                           * outlived every checkpoint: "more than min_s") */
	size_t num_contradicting; /* expired checkpoints below min_s (lost answers, or a NAT that
	                           * does not expire mappings by idle time alone) */
};

/* stun_lifetime_ladder writes the idle times to test, in increasing
 * order, for a test of at most max_s seconds: those of 1, 2, 3, 5, 8, 13,
 * 20, 30, 45, 60, 90, 120, 180, 240, 300 that are <= max_s, then max_s
 * itself when it is not one of them (so that "more than max_s" can be
 * said). Returns how many (0 when max_s is 0; max_s above
 * STUN_LIFETIME_LIMIT_S counts as the limit). */
size_t stun_lifetime_ladder(unsigned max_s, unsigned out_idle_s[static STUN_LIFETIME_MAX_CHECKS]);

/* stun_lifetime_combine reads checks[0..num) (any order) into *out: the
 * lower bound is the largest idle time the mapping survived (an answer
 * that arrived proves it), the upper bound the smallest larger one it did
 * not survive. Expired checkpoints below the lower bound are counted, not
 * believed. */
void stun_lifetime_combine(const struct stun_lifetime_check *checks, size_t num, struct stun_lifetime_result *out);

/* stun_lifetime_describe writes r for people into buf and returns buf:
 * "between 30 and 45 s", "more than 120 s", "less than 1 s",
 * "not measured". */
const char *stun_lifetime_describe(const struct stun_lifetime_result *r, char *buf, size_t cap);

#endif
