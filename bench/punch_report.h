#ifndef BENCH_PUNCH_REPORT_H
#define BENCH_PUNCH_REPORT_H
/* bench/punch_report.h: the logic of `atmosphere-bench punch` that does no
 * I/O: which NAT pairs to run, the records bench/punch.sh writes (one a line,
 * tab-separated; the script's header documents them) and the figures made
 * from them. bench/bench_punch.c runs the script and prints the results.
 *
 * Times are milliseconds from the moment the joiner starts `atmosphere join
 * CODE`; percentiles are nearest-rank over the rounds that reached the event
 * (with three rounds, p99 is the slowest). Nothing here allocates. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	BENCH_PUNCH_NUM_TYPES = 5,
	BENCH_PUNCH_MAX_PAIRS = 25,      /* every ordered pair of the five types */
	BENCH_PUNCH_MAX_ROUNDS = 100,
	BENCH_PUNCH_PAIR_LEN = 40,       /* "restricted_cone:restricted_cone" and NUL */
	BENCH_PUNCH_PATH_LEN = 24,
	BENCH_PUNCH_MAP_LEN = 8,         /* "natpmp" and NUL */
	BENCH_PUNCH_NOTE_LEN = 200,
};

/* bench_punch_types: the NAT types of natlab/lab.sh, least restrictive
 * first. */
extern const char *const bench_punch_types[BENCH_PUNCH_NUM_TYPES];

/* bench_punch_pairs_default writes the 15 unordered pairs "ROB:MATT", Rob
 * behind the more restrictive NAT (the joiner must get through the issuer's
 * NAT), in the order of tests/node/pairs.sh; returns 15. out needs room for
 * 15. */
size_t bench_punch_pairs_default(char out[][BENCH_PUNCH_PAIR_LEN]);

/* bench_punch_pairs_parse parses a comma- or space-separated list of
 * "ROB:MATT" pairs of those types (or "all": the default list) into out;
 * *out_num gets how many. Duplicates are dropped. Returns 0, or -1 with the
 * reason in err (quoting the bad pair) when a pair is malformed, names an
 * unknown type, or there are none or more than max. */
int bench_punch_pairs_parse(const char *spec, char out[][BENCH_PUNCH_PAIR_LEN], size_t max, size_t *out_num,
			    char *err, size_t err_len);

enum bench_punch_status { BENCH_PUNCH_OK, BENCH_PUNCH_FAIL, BENCH_PUNCH_SKIPPED };

/* struct bench_punch_round: one "round" record. first_ms and direct_ms are
 * -1 when the event was not reached. The record has 8 fields (PAIR to NOTE)
 * or 12, with FAMILY ROBMAP MATTMAP VIA before NOTE; with 8 those read as
 * "-" (family, maps) and -1 (via_mapping): not known. */
struct bench_punch_round {
	char pair[BENCH_PUNCH_PAIR_LEN];
	unsigned round;
	enum bench_punch_status status;
	int64_t first_ms, direct_ms;
	char path[BENCH_PUNCH_PATH_LEN];
	/* The underlay family both sides list for the path at the end of the
	 * round ("ipv4", "ipv6"; "A/B" when they differ; "-" for none, e.g.
	 * on the relay). */
	char family[BENCH_PUNCH_PATH_LEN];
	/* The port mapping each node held at the end ("pcp", "natpmp",
	 * "upnp"; "-" for none). */
	char rob_map[BENCH_PUNCH_MAP_LEN], matt_map[BENCH_PUNCH_MAP_LEN];
	/* 1 when a side's direct path goes to the other's mapped endpoint, 0
	 * when not, -1 when not known ("-"). */
	int via_mapping;
	char note[BENCH_PUNCH_NOTE_LEN];
};

/* struct bench_node_mem: a "mem" record (role "hub" or "joiner"). */
struct bench_node_mem {
	char role[8];
	unsigned peers;
	uint64_t rss_kib, hwm_kib;
	uint64_t anon_kib;      /* RssAnon: private pages, no shared library pages */
};

/* struct bench_node_wire: a "wire" record: the hub's traffic over one idle
 * window of ms milliseconds with peers peers on path. Bytes are IP bytes
 * (headers included); self_* are the daemon's own e2e byte counters. */
struct bench_node_wire {
	char path[BENCH_PUNCH_PATH_LEN];
	unsigned peers;
	uint64_t ms;
	uint64_t udp_in_b, udp_in_p, udp_out_b, udp_out_p;
	uint64_t tcp_in_b, tcp_in_p, tcp_out_b, tcp_out_p;
	uint64_t self_in, self_out;
};

enum bench_punch_rec_kind { BENCH_REC_ROUND, BENCH_REC_MEM, BENCH_REC_WIRE, BENCH_REC_FAIL, BENCH_REC_DONE };

struct bench_punch_rec {
	enum bench_punch_rec_kind kind;
	union {
		struct bench_punch_round round;
		struct bench_node_mem mem;
		struct bench_node_wire wire;
		struct {
			char stage[24];
			char reason[BENCH_PUNCH_NOTE_LEN];
		} fail;
	} u;
};

/* bench_punch_rec_parse parses one record line (a trailing newline is
 * allowed) into out. Returns 0, or -1 when the line is not a well-formed
 * record (unknown kind, wrong field count, a number that is not one, a pair
 * that is not "TYPE:TYPE"). Text fields too long for out are cut. */
int bench_punch_rec_parse(const char *line, struct bench_punch_rec *out);

/* struct bench_punch_pair: the rounds of one pair, added one by one. */
struct bench_punch_pair {
	char name[BENCH_PUNCH_PAIR_LEN];
	unsigned attempts;                   /* rounds run (skipped ones are not) */
	unsigned successes;                  /* rounds whose first packet arrived */
	unsigned skipped;
	unsigned num_direct;                 /* rounds that reached the direct path */
	unsigned num_relay, num_other;       /* final path of the successful rounds */
	unsigned num_ipv4, num_ipv6;         /* direct rounds ending on that family, both sides */
	unsigned rob_mapped, matt_mapped;    /* successful rounds where it held a port mapping */
	unsigned num_via_mapping;            /* direct rounds whose path used a mapped endpoint */
	uint64_t first_ms[BENCH_PUNCH_MAX_ROUNDS];
	uint64_t direct_ms[BENCH_PUNCH_MAX_ROUNDS];
	unsigned num_first;
};

/* bench_punch_pair_init empties p and names it. */
void bench_punch_pair_init(struct bench_punch_pair *p, const char *name);

/* bench_punch_pair_add counts one round of p's pair; rounds past
 * BENCH_PUNCH_MAX_ROUNDS are counted but their times dropped. */
void bench_punch_pair_add(struct bench_punch_pair *p, const struct bench_punch_round *r);

/* struct bench_punch_times: nearest-rank p50 and p99 of the rounds that
 * reached an event; num 0 (and p50 = p99 = 0) when none did. */
struct bench_punch_times {
	size_t num;
	uint64_t p50, p99;
};

/* bench_punch_pair_first / _direct summarise the time to the first packet
 * and to the direct path. */
void bench_punch_pair_first(const struct bench_punch_pair *p, struct bench_punch_times *out);
void bench_punch_pair_direct(const struct bench_punch_pair *p, struct bench_punch_times *out);

/* bench_punch_pair_path returns the path p reached: "direct" when most
 * successful rounds ended on it, else "relay" when most ended there, else
 * "mixed" when they disagree, "none" when no round succeeded. */
const char *bench_punch_pair_path(const struct bench_punch_pair *p);

/* bench_punch_pair_family returns the family of p's direct rounds: "ipv4"
 * or "ipv6" when every direct round ended on it, "mixed" when they differ,
 * "-" when none was direct or none said. */
const char *bench_punch_pair_family(const struct bench_punch_pair *p);

/* bench_node_wire_rate returns bytes per second per peer of bytes counted
 * over w's window: bytes * 1000 / ms / peers (0 when ms or peers is 0). */
double bench_node_wire_rate(const struct bench_node_wire *w, uint64_t bytes);

/* bench_node_wire_total / _out / _udp: the window's bytes, all of them,
 * those the hub sent, and those on UDP. */
uint64_t bench_node_wire_total(const struct bench_node_wire *w);
uint64_t bench_node_wire_out(const struct bench_node_wire *w);
uint64_t bench_node_wire_udp(const struct bench_node_wire *w);

/* bench_node_wire_header_per_packet is the cross-check of the two counts
 * on a direct path: (UDP bytes at the wire - the daemon's bytes) per UDP
 * packet, which is 28 (IPv4 + UDP headers) when both count the same packets.
 * Returns NAN when there were no UDP packets. */
double bench_node_wire_header_per_packet(const struct bench_node_wire *w);

#endif
