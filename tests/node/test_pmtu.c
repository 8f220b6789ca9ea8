/* node/pmtu: a direct path's overlay MTU, measured by probes of the
 * overlay's sizes (the state machine and the message codec; the sockets
 * are tests/node/path_mtu.sh's). */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/pmtu.h"

Test(pmtu, sizes_are_largest_first_within_the_bounds)
{
	cr_assert_eq(node_pmtu_sizes[0], NODE_PMTU_MAX);
	for (size_t i = 1; i < NODE_PMTU_NUM_SIZES; i++)
		cr_assert_lt(node_pmtu_sizes[i], node_pmtu_sizes[i - 1]);
	cr_assert_gt(node_pmtu_sizes[NODE_PMTU_NUM_SIZES - 1], NODE_OVERLAY_MTU);
}

Test(pmtu, an_unmeasured_path_and_the_relay_carry_1280)
{
	struct node_pmtu s = {0};
	cr_assert_eq(node_pmtu_path(&s, true), NODE_OVERLAY_MTU);
	s.mtu = 1400;
	cr_assert_eq(node_pmtu_path(&s, true), 1400);
	cr_assert_eq(node_pmtu_path(&s, false), NODE_OVERLAY_MTU, "the relay path is never measured");
}

Test(pmtu, a_new_path_is_measured_at_once)
{
	struct node_pmtu s = {0};
	cr_assert(node_pmtu_round(&s, 5));
	node_pmtu_sent(&s, 5);
	cr_assert(!node_pmtu_round(&s, 5 + NODE_PMTU_ROUND_MS - 1), "no second round before its time");
	cr_assert(node_pmtu_round(&s, 5 + NODE_PMTU_ROUND_MS), "a second round for lost probes");
	node_pmtu_sent(&s, 5 + NODE_PMTU_ROUND_MS);
	cr_assert(!node_pmtu_round(&s, 5 + NODE_PMTU_WAIT_MS - 1), "two rounds at most");
}

Test(pmtu, the_largest_answer_is_the_figure)
{
	struct node_pmtu s = {0};
	node_pmtu_sent(&s, 100);
	cr_assert(node_pmtu_answer(&s, 1320));
	cr_assert(node_pmtu_answer(&s, 1360));
	cr_assert(node_pmtu_answer(&s, 1300), "a smaller answer is taken, not used");
	cr_assert(!node_pmtu_tick(&s, 100 + NODE_PMTU_WAIT_MS - 1), "the wait is not over");
	cr_assert_eq(node_pmtu_path(&s, true), NODE_OVERLAY_MTU, "no figure before the end");
	cr_assert(node_pmtu_tick(&s, 100 + NODE_PMTU_WAIT_MS));
	cr_assert_eq(s.mtu, 1360);
	cr_assert_eq(node_pmtu_path(&s, true), 1360);
	cr_assert(!node_pmtu_round(&s, 100 + NODE_PMTU_WAIT_MS + 1), "measured: not again at once");
	cr_assert(node_pmtu_round(&s, 100 + NODE_PMTU_WAIT_MS + NODE_PMTU_EVERY_MS), "again after the period");
}

Test(pmtu, the_largest_size_ends_the_measurement_early)
{
	struct node_pmtu s = {0};
	node_pmtu_sent(&s, 100);
	cr_assert(node_pmtu_answer(&s, NODE_PMTU_MAX));
	cr_assert(!node_pmtu_round(&s, 100 + NODE_PMTU_ROUND_MS), "nothing larger to try");
	cr_assert(node_pmtu_tick(&s, 101));
	cr_assert_eq(node_pmtu_path(&s, true), NODE_PMTU_MAX);
}

Test(pmtu, no_answer_keeps_1280)
{
	struct node_pmtu s = {0};
	node_pmtu_sent(&s, 100);
	cr_assert(node_pmtu_tick(&s, 100 + NODE_PMTU_WAIT_MS));
	cr_assert_eq(s.mtu, 0);
	cr_assert_eq(node_pmtu_path(&s, true), NODE_OVERLAY_MTU);
}

Test(pmtu, answers_outside_a_measurement_or_of_other_sizes_change_nothing)
{
	struct node_pmtu s = {0};
	cr_assert(!node_pmtu_answer(&s, 1400), "no measurement runs");
	cr_assert_eq(s.best, 0);
	node_pmtu_sent(&s, 100);
	cr_assert(!node_pmtu_answer(&s, 1500), "not a probe size");
	cr_assert(!node_pmtu_answer(&s, 1281));
	cr_assert(!node_pmtu_answer(&s, 9000));
	cr_assert(node_pmtu_tick(&s, 100 + NODE_PMTU_WAIT_MS));
	cr_assert_eq(node_pmtu_path(&s, true), NODE_OVERLAY_MTU);
}

Test(pmtu, a_reset_forgets_the_figure)
{
	struct node_pmtu s = {0};
	node_pmtu_sent(&s, 100);
	node_pmtu_answer(&s, 1400);
	node_pmtu_tick(&s, 100 + NODE_PMTU_WAIT_MS);
	node_pmtu_reset(&s);
	cr_assert_eq(node_pmtu_path(&s, true), NODE_OVERLAY_MTU);
	cr_assert(node_pmtu_round(&s, 200), "the new path is measured at once");
}

Test(pmtu, a_probe_round_trips)
{
	uint8_t body[NODE_PMTU_MAX], kind;
	uint16_t size;
	for (size_t i = 0; i < NODE_PMTU_NUM_SIZES; i++) {
		node_pmtu_probe_body(node_pmtu_sizes[i], body);
		cr_assert(node_pmtu_parse(body, node_pmtu_sizes[i], &kind, &size));
		cr_assert_eq(kind, NODE_PMTU_PROBE);
		cr_assert_eq(size, node_pmtu_sizes[i]);
	}
	const uint8_t answer[] = {NODE_PMTU_ANSWER, 1340 >> 8, 1340 & 0xff};
	cr_assert(node_pmtu_parse(answer, sizeof answer, &kind, &size));
	cr_assert_eq(kind, NODE_PMTU_ANSWER);
	cr_assert_eq(size, 1340);
}

Test(pmtu, malformed_bodies_are_refused)
{
	uint8_t body[NODE_PMTU_MAX + 8], kind;
	uint16_t size;
	node_pmtu_probe_body(1400, body);
	cr_assert(!node_pmtu_parse(body, 1399, &kind, &size), "a probe shorter than its size");
	cr_assert(!node_pmtu_parse(body, 1401, &kind, &size), "a probe longer than its size");
	cr_assert(!node_pmtu_parse(body, 0, &kind, &size), "empty");
	cr_assert(!node_pmtu_parse(body, 2, &kind, &size), "no size");
	const uint8_t odd[] = {NODE_PMTU_ANSWER, 1333 >> 8, 1333 & 0xff};
	cr_assert(!node_pmtu_parse(odd, sizeof odd, &kind, &size), "not a probe size");
	const uint8_t big[] = {NODE_PMTU_ANSWER, 0xff, 0xff};
	cr_assert(!node_pmtu_parse(big, sizeof big, &kind, &size), "65535");
	const uint8_t longer[] = {NODE_PMTU_ANSWER, 1340 >> 8, 1340 & 0xff, 0};
	cr_assert(!node_pmtu_parse(longer, sizeof longer, &kind, &size), "an answer with a body");
	const uint8_t other[] = {'Z', 1340 >> 8, 1340 & 0xff};
	cr_assert(!node_pmtu_parse(other, sizeof other, &kind, &size), "another kind");
}

/* The socket option: DF on every datagram, none fragmented; a datagram
 * larger than the interface's MTU fails instead of leaving in fragments. */
Test(pmtu, a_probe_socket_sets_df_and_never_fragments_by_option)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(node_pmtu_socket(fd, AF_INET), 0);
	int v = -1;
	socklen_t l = sizeof v;
	cr_assert_eq(getsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, &l), 0);
	cr_assert_eq(v, IP_PMTUDISC_PROBE);
	close(fd);
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd >= 0) {
		cr_assert_eq(node_pmtu_socket(fd, AF_INET6), 0);
		l = sizeof v;
		cr_assert_eq(getsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, &l), 0);
		cr_assert_eq(v, IPV6_PMTUDISC_PROBE);
		close(fd);
	}
}
