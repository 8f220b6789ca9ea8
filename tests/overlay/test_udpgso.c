/* overlay/udpgso: the rules a UDP GSO batch keeps (equal segments, a
 * shorter one only last, at most 64 of them and one UDP payload in all)
 * and the UDP_SEGMENT cmsg as the kernel reads it. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "overlay/udpgso.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

/* The sealed size of a full overlay packet: 1420 + type byte + 32. */
#define FULL 1453

Test(udpgso, empty_batch_takes_any_datagram)
{
	struct overlay_udpgso b;
	overlay_udpgso_reset(&b);
	cr_assert(overlay_udpgso_fits(&b, 1));
	cr_assert(overlay_udpgso_fits(&b, FULL));
	cr_assert(overlay_udpgso_fits(&b, OVERLAY_UDPGSO_MAX_LEN));
	cr_assert_not(overlay_udpgso_fits(&b, 0), "an empty datagram has no segment size");
	cr_assert_not(overlay_udpgso_fits(&b, OVERLAY_UDPGSO_MAX_LEN + 1));
}

Test(udpgso, equal_segments_then_one_shorter_closes)
{
	struct overlay_udpgso b;
	overlay_udpgso_reset(&b);
	for (int i = 0; i < 3; i++) {
		cr_assert(overlay_udpgso_fits(&b, FULL));
		overlay_udpgso_add(&b, FULL);
	}
	cr_assert_eq(b.seg, FULL);
	cr_assert_not(overlay_udpgso_fits(&b, FULL + 1), "a larger segment cannot join");
	cr_assert(overlay_udpgso_fits(&b, 100));
	overlay_udpgso_add(&b, 100);
	cr_assert_eq(b.num, 4);
	cr_assert_eq(b.len, 3 * FULL + 100);
	cr_assert_not(overlay_udpgso_fits(&b, 100), "nothing after the short last segment");
	cr_assert_not(overlay_udpgso_fits(&b, FULL));
}

Test(udpgso, small_first_segment_sets_the_size)
{
	struct overlay_udpgso b;
	overlay_udpgso_reset(&b);
	overlay_udpgso_add(&b, 200);
	cr_assert_not(overlay_udpgso_fits(&b, FULL), "segments after the first are never larger");
	cr_assert(overlay_udpgso_fits(&b, 200));
}

Test(udpgso, at_most_one_udp_payload)
{
	struct overlay_udpgso b;
	overlay_udpgso_reset(&b);
	size_t n = 0;
	while (overlay_udpgso_fits(&b, FULL)) {
		overlay_udpgso_add(&b, FULL);
		n++;
	}
	cr_assert_eq(n, OVERLAY_UDPGSO_MAX_LEN / FULL, "%zu full segments", n);
	cr_assert_leq(b.len, OVERLAY_UDPGSO_MAX_LEN);
	/* A last shorter one still fits if it stays under the limit. */
	size_t room = OVERLAY_UDPGSO_MAX_LEN - b.len;
	cr_assert(overlay_udpgso_fits(&b, room));
	cr_assert_not(overlay_udpgso_fits(&b, room + 1));
}

Test(udpgso, at_most_64_segments)
{
	struct overlay_udpgso b;
	overlay_udpgso_reset(&b);
	for (int i = 0; i < OVERLAY_UDPGSO_MAX_SEGS; i++) {
		cr_assert(overlay_udpgso_fits(&b, 100), "segment %d", i);
		overlay_udpgso_add(&b, 100);
	}
	cr_assert_not(overlay_udpgso_fits(&b, 100), "the kernel refuses a 65th segment (UDP_MAX_SEGMENTS)");
	cr_assert_not(overlay_udpgso_fits(&b, 50));
	overlay_udpgso_reset(&b);
	cr_assert_eq(b.num, 0);
	cr_assert(overlay_udpgso_fits(&b, FULL));
}

Test(udpgso, cmsg_is_udp_segment_with_the_size)
{
	uint8_t ctl[OVERLAY_UDPGSO_CMSG_SPACE];
	memset(ctl, 0xa5, sizeof ctl);
	size_t n = overlay_udpgso_cmsg(ctl, sizeof ctl, FULL);
	cr_assert_eq(n, CMSG_SPACE(sizeof(uint16_t)));
	struct msghdr mh = {.msg_control = ctl, .msg_controllen = n};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	cr_assert_not_null(c);
	cr_assert_eq(c->cmsg_level, SOL_UDP);
	cr_assert_eq(c->cmsg_type, UDP_SEGMENT);
	cr_assert_eq(c->cmsg_len, CMSG_LEN(sizeof(uint16_t)));
	uint16_t seg;
	memcpy(&seg, CMSG_DATA(c), sizeof seg);
	cr_assert_eq(seg, FULL);
	cr_assert_null(CMSG_NXTHDR(&mh, c), "one cmsg only");
}

Test(udpgso, cmsg_refuses_zero_size_and_small_buffer)
{
	uint8_t ctl[OVERLAY_UDPGSO_CMSG_SPACE];
	cr_assert_eq(overlay_udpgso_cmsg(ctl, sizeof ctl, 0), 0);
	cr_assert_eq(overlay_udpgso_cmsg(ctl, CMSG_SPACE(sizeof(uint16_t)) - 1, FULL), 0);
}

/* The cmsg works: the kernel takes a batch of 3 + 1 shorter on loopback
 * and delivers 4 datagrams of those sizes (skipped where the kernel has no
 * UDP GSO). */
Test(udpgso, kernel_cuts_a_batch_on_loopback)
{
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert(rx >= 0 && tx >= 0);
	int seg = 0;
	socklen_t sl = sizeof seg;
	if (getsockopt(tx, SOL_UDP, UDP_SEGMENT, &seg, &sl) != 0) {
		close(rx);
		close(tx);
		cr_skip_test("no UDP_SEGMENT in this kernel");
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	cr_assert_eq(bind(rx, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(getsockname(rx, (struct sockaddr *)&a, &al), 0);
	static uint8_t buf[3 * FULL + 100];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i * 7);
	struct overlay_udpgso b;
	overlay_udpgso_reset(&b);
	for (int i = 0; i < 3; i++)
		overlay_udpgso_add(&b, FULL);
	overlay_udpgso_add(&b, 100);
	uint8_t ctl[OVERLAY_UDPGSO_CMSG_SPACE];
	struct iovec iov = {.iov_base = buf, .iov_len = b.len};
	struct msghdr mh = {.msg_name = &a, .msg_namelen = sizeof a, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl};
	mh.msg_controllen = overlay_udpgso_cmsg(ctl, sizeof ctl, (uint16_t)b.seg);
	cr_assert_eq(sendmsg(tx, &mh, 0), (ssize_t)b.len);
	uint8_t got[4096];
	size_t off = 0;
	for (int i = 0; i < 4; i++) {
		ssize_t n = recv(rx, got, sizeof got, MSG_DONTWAIT);
		cr_assert_eq(n, i < 3 ? FULL : 100, "datagram %d: %zd bytes", i, n);
		cr_assert_eq(memcmp(got, buf + off, (size_t)n), 0, "datagram %d's bytes", i);
		off += (size_t)n;
	}
	cr_assert_lt(recv(rx, got, sizeof got, MSG_DONTWAIT), 0, "no fifth datagram");
	close(rx);
	close(tx);
}
