/* core/udpgro: the UDP_GRO cmsg read from a recvmsg's control data, a
 * coalesced receive cut back into its datagrams (equal ones, a short last
 * one), malformed control data refused, and the real kernel's coalesced
 * receive on loopback cut back byte for byte into the UDP GSO batch that
 * was sent. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/udpgro.h"
#include "overlay/udpgso.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* Control data as the kernel writes it: cmsgs of (level, type, value
 * bytes) laid out with the CMSG macros. Returns the area's length. */
struct t_cmsg {
	int level, type;
	const void *val;
	size_t len;
};

static size_t t_ctl(uint8_t *ctl, size_t cap, const struct t_cmsg *c, size_t n)
{
	memset(ctl, 0, cap);
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		struct cmsghdr h = {.cmsg_len = CMSG_LEN(c[i].len), .cmsg_level = c[i].level, .cmsg_type = c[i].type};
		cr_assert_leq(off + CMSG_SPACE(c[i].len), cap);
		memcpy(ctl + off, &h, sizeof h);
		memcpy(ctl + off + CMSG_LEN(0), c[i].val, c[i].len);
		off += CMSG_SPACE(c[i].len);
	}
	return off;
}

static size_t t_gro_ctl(uint8_t *ctl, size_t cap, int seg)
{
	struct t_cmsg c = {SOL_UDP, UDP_GRO, &seg, sizeof seg};
	return t_ctl(ctl, cap, &c, 1);
}

/* n bytes at the very end of a page followed by a PROT_NONE page: a read
 * past them faults. */
struct t_edge {
	uint8_t *map;
	size_t page;
};

static uint8_t *t_edge_copy(struct t_edge *e, const void *src, size_t n)
{
	e->page = (size_t)sysconf(_SC_PAGESIZE);
	e->map = mmap(NULL, 2 * e->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(e->map, MAP_FAILED);
	cr_assert_eq(mprotect(e->map + e->page, e->page, PROT_NONE), 0);
	uint8_t *p = e->map + e->page - n;
	memcpy(p, src, n);
	return p;
}

static void t_edge_free(struct t_edge *e)
{
	munmap(e->map, 2 * e->page);
}

Test(udpgro, no_control_data_is_one_datagram)
{
	size_t seg = 99;
	cr_assert_eq(core_udpgro_seg(NULL, 0, &seg), CORE_UDPGRO_OK);
	cr_assert_eq(seg, 0);
	uint8_t data[300];
	memset(data, 7, sizeof data);
	struct core_udpgro it;
	const uint8_t *p;
	size_t n;
	core_udpgro_init(&it, data, sizeof data, 0);
	cr_assert(core_udpgro_next(&it, &p, &n));
	cr_assert_eq(p, data);
	cr_assert_eq(n, sizeof data);
	cr_assert_not(core_udpgro_next(&it, &p, &n));
	cr_assert_not(core_udpgro_next(&it, &p, &n), "the end stays the end");
	cr_assert_eq(core_udpgro_count(sizeof data, 0), 1);
}

Test(udpgro, empty_datagram_without_gro_is_still_one)
{
	uint8_t data[1] = {0};
	struct core_udpgro it;
	const uint8_t *p;
	size_t n = 5;
	core_udpgro_init(&it, data, 0, 0);
	cr_assert(core_udpgro_next(&it, &p, &n), "a zero-length datagram is a datagram");
	cr_assert_eq(n, 0);
	cr_assert_not(core_udpgro_next(&it, &p, &n));
}

Test(udpgro, reads_the_segment_size)
{
	uint8_t ctl[CORE_UDPGRO_CMSG_SPACE];
	size_t len = t_gro_ctl(ctl, sizeof ctl, 1453), seg = 0;
	cr_assert_eq(core_udpgro_seg(ctl, len, &seg), CORE_UDPGRO_OK);
	cr_assert_eq(seg, 1453);
	/* The largest a UDP payload allows. */
	len = t_gro_ctl(ctl, sizeof ctl, CORE_UDPGRO_MAX_SEG);
	cr_assert_eq(core_udpgro_seg(ctl, len, &seg), CORE_UDPGRO_OK);
	cr_assert_eq(seg, CORE_UDPGRO_MAX_SEG);
}

Test(udpgro, other_cmsgs_are_skipped)
{
	uint8_t ctl[128];
	int tos = 0x10, seg_in = 1200;
	uint8_t odd[5] = {1, 2, 3, 4, 5}; /* an unaligned value length: the next header is padded */
	struct t_cmsg c[] = {
		{SOL_IP, IP_TOS, &tos, sizeof tos},
		{SOL_SOCKET, 99, odd, sizeof odd},
		{SOL_UDP, UDP_GRO, &seg_in, sizeof seg_in},
	};
	size_t len = t_ctl(ctl, sizeof ctl, c, 3), seg = 0;
	cr_assert_eq(core_udpgro_seg(ctl, len, &seg), CORE_UDPGRO_OK);
	cr_assert_eq(seg, 1200);
	/* Without UDP_GRO among them: one datagram. */
	len = t_ctl(ctl, sizeof ctl, c, 2);
	cr_assert_eq(core_udpgro_seg(ctl, len, &seg), CORE_UDPGRO_OK);
	cr_assert_eq(seg, 0);
}

Test(udpgro, unaligned_control_data)
{
	uint8_t ctl[CORE_UDPGRO_CMSG_SPACE + 1];
	uint8_t tmp[CORE_UDPGRO_CMSG_SPACE];
	size_t len = t_gro_ctl(tmp, sizeof tmp, 700), seg = 0;
	memcpy(ctl + 1, tmp, len);
	cr_assert_eq(core_udpgro_seg(ctl + 1, len, &seg), CORE_UDPGRO_OK);
	cr_assert_eq(seg, 700);
}

/* Cutting: equal datagrams, then the short last one; each points into the
 * payload at its place. */
struct cut_case {
	size_t len, seg;
	size_t num;   /* datagrams expected */
	size_t last;  /* the last one's size */
};

static struct cut_case cut_cases[] = {
	{3 * 1200 + 500, 1200, 4, 500},  /* a short last segment */
	{3 * 1200, 1200, 3, 1200},       /* an exact multiple: no short one */
	{1200 + 1, 1200, 2, 1},          /* a last segment of one byte */
	{800, 1200, 1, 800},             /* a segment size above the payload: one datagram */
	{64 * 1024 - 1, 1, 64 * 1024 - 1, 1}, /* one byte each */
	{44 * 1453 + 1000, 1453, 45, 1000},   /* a full GSO batch of sealed overlay packets */
	{0, 1200, 0, 0},                 /* nothing with a segment size: no datagram */
};

ParameterizedTestParameters(udpgro, cuts_into_datagrams)
{
	return cr_make_param_array(struct cut_case, cut_cases, sizeof cut_cases / sizeof cut_cases[0]);
}

ParameterizedTest(struct cut_case *c, udpgro, cuts_into_datagrams)
{
	static uint8_t data[64 * 1024];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 31 + 7);
	struct core_udpgro it;
	const uint8_t *p;
	size_t n, num = 0, off = 0;
	core_udpgro_init(&it, data, c->len, c->seg);
	while (core_udpgro_next(&it, &p, &n)) {
		num++;
		cr_assert_eq(p, data + off, "len %zu seg %zu: datagram %zu not where it belongs", c->len, c->seg, num);
		if (num < c->num)
			cr_assert_eq(n, c->seg, "len %zu seg %zu: datagram %zu is %zu bytes", c->len, c->seg, num, n);
		else
			cr_assert_eq(n, c->last, "len %zu seg %zu: the last is %zu bytes, want %zu", c->len, c->seg, n, c->last);
		off += n;
		cr_assert_leq(num, c->num, "len %zu seg %zu: more than %zu datagrams", c->len, c->seg, c->num);
	}
	cr_assert_eq(num, c->num, "len %zu seg %zu: %zu datagrams, want %zu", c->len, c->seg, num, c->num);
	cr_assert_eq(off, c->len, "len %zu seg %zu: the datagrams cover %zu bytes", c->len, c->seg, off);
	cr_assert_eq(core_udpgro_count(c->len, c->seg), c->num);
}

/* Malformed control data: refused with its status, *seg 0, nothing read
 * past the area (it ends against a PROT_NONE page). */
struct bad_case {
	const char *what;
	size_t cmsg_len;     /* the header's cmsg_len; 0: CMSG_LEN(val_len) */
	int level, type;
	int ival;            /* the value, when val_len is sizeof(int) */
	size_t val_len;      /* value bytes present in the area (other than 4: ival's low bytes, then zeros) */
	int want;
};

static struct bad_case bad_cases[] = {
	{"cmsg_len shorter than its header", 8, SOL_UDP, UDP_GRO, 1200, 4, CORE_UDPGRO_E_CMSG},
	{"cmsg_len zero", 0xffff0000, SOL_UDP, UDP_GRO, 1200, 4, CORE_UDPGRO_E_CMSG},
	{"cmsg_len past the area", 64, SOL_UDP, UDP_GRO, 1200, 4, CORE_UDPGRO_E_CMSG},
	{"another cmsg's cmsg_len past the area", 4096, SOL_IP, IP_TOS, 0, 4, CORE_UDPGRO_E_CMSG},
	{"segment size zero", 0, SOL_UDP, UDP_GRO, 0, 4, CORE_UDPGRO_E_SEG},
	{"segment size negative", 0, SOL_UDP, UDP_GRO, -1200, 4, CORE_UDPGRO_E_SEG},
	{"segment size above a UDP payload", 0, SOL_UDP, UDP_GRO, CORE_UDPGRO_MAX_SEG + 1, 4, CORE_UDPGRO_E_SEG},
	{"segment size INT_MAX", 0, SOL_UDP, UDP_GRO, 0x7fffffff, 4, CORE_UDPGRO_E_SEG},
	{"value of two bytes", 0, SOL_UDP, UDP_GRO, 1200, 2, CORE_UDPGRO_E_SEG},
	{"value of eight bytes", 0, SOL_UDP, UDP_GRO, 1200, 8, CORE_UDPGRO_E_SEG},
};

ParameterizedTestParameters(udpgro, refuses_malformed_control_data)
{
	return cr_make_param_array(struct bad_case, bad_cases, sizeof bad_cases / sizeof bad_cases[0]);
}

ParameterizedTest(struct bad_case *c, udpgro, refuses_malformed_control_data)
{
	uint8_t ctl[64], val[8];
	memset(ctl, 0, sizeof ctl);
	memset(val, 0, sizeof val);
	memcpy(val, &c->ival, c->val_len < sizeof c->ival ? c->val_len : sizeof c->ival);
	/* 0xffff0000 stands for a cmsg_len of 0 (0 in the table means "the right one"). */
	size_t cl = c->cmsg_len == 0xffff0000 ? 0 : c->cmsg_len ? c->cmsg_len : CMSG_LEN(c->val_len);
	struct cmsghdr h = {.cmsg_len = cl, .cmsg_level = c->level, .cmsg_type = c->type};
	memcpy(ctl, &h, sizeof h);
	memcpy(ctl + CMSG_LEN(0), val, c->val_len);
	size_t len = CMSG_LEN(c->val_len), seg = 77;
	struct t_edge e;
	uint8_t *p = t_edge_copy(&e, ctl, len);
	int st = core_udpgro_seg(p, len, &seg);
	cr_assert_eq(st, c->want, "%s: %s, want %s", c->what, core_udpgro_strerror(st), core_udpgro_strerror(c->want));
	cr_assert_eq(seg, 0, "%s: a refused area leaves no segment size", c->what);
	t_edge_free(&e);
}

Test(udpgro, two_gro_cmsgs_are_refused)
{
	uint8_t ctl[128];
	int a = 1200, b = 600;
	struct t_cmsg c[] = {{SOL_UDP, UDP_GRO, &a, sizeof a}, {SOL_UDP, UDP_GRO, &b, sizeof b}};
	size_t len = t_ctl(ctl, sizeof ctl, c, 2), seg = 0;
	cr_assert_eq(core_udpgro_seg(ctl, len, &seg), CORE_UDPGRO_E_CMSG);
	cr_assert_eq(seg, 0);
}

/* Every proper prefix of a valid area, each outcome the one it must be:
 * where a cmsg header is whole but claims more bytes than are there, the
 * area is refused; everywhere else it is read: a header cut short is
 * padding (no segment size, one datagram), and a cmsg missing only its
 * padding is whole (the segment size, once the UDP_GRO one is). So an
 * implementation that refuses what it can read fails, as does one that
 * reads a segment size from bytes that are not there. */
Test(udpgro, every_prefix_is_padding_or_refused)
{
	uint8_t ctl[128];
	int tos = 1, s = 1200;
	struct t_cmsg c[] = {{SOL_IP, IP_TOS, &tos, sizeof tos}, {SOL_UDP, UDP_GRO, &s, sizeof s}};
	size_t len = t_ctl(ctl, sizeof ctl, c, 2);
	/* Where each cmsg begins (t_ctl lays them CMSG_SPACE apart) and the
	 * bytes its header claims. */
	const size_t at[2] = {0, CMSG_SPACE(sizeof tos)};
	const size_t claims[2] = {CMSG_LEN(sizeof tos), CMSG_LEN(sizeof s)};
	unsigned num_read = 0, num_refused = 0;
	for (size_t k = 0; k < len; k++) {
		bool overrun = false;
		for (size_t i = 0; i < 2; i++)
			if (k >= at[i] + sizeof(struct cmsghdr) && k < at[i] + claims[i])
				overrun = true;
		/* The UDP_GRO cmsg is whole from CMSG_SPACE(4) + CMSG_LEN(4) on
		 * (the last cmsg's padding may be missing). */
		bool whole = k >= at[1] + claims[1];
		struct t_edge e;
		uint8_t *p = t_edge_copy(&e, ctl, k);
		size_t seg = 77;
		int st = core_udpgro_seg(p, k, &seg);
		if (overrun) {
			cr_assert_eq(st, CORE_UDPGRO_E_CMSG, "prefix %zu (a header claiming bytes past it): %s, seg %zu", k,
				     core_udpgro_strerror(st), seg);
			cr_assert_eq(seg, 0, "prefix %zu: a refused area leaves no segment size", k);
			num_refused++;
		} else {
			cr_assert_eq(st, CORE_UDPGRO_OK, "prefix %zu (%s): %s", k,
				     whole ? "the UDP_GRO cmsg whole" : "no header claiming bytes past it", core_udpgro_strerror(st));
			cr_assert_eq(seg, whole ? 1200u : 0u, "prefix %zu: seg %zu", k, seg);
			num_read++;
		}
		t_edge_free(&e);
	}
	/* Both kinds were seen: 4 refused per cmsg (16..19 and 40..43 on LP64). */
	size_t want_refused = claims[0] + claims[1] - 2 * sizeof(struct cmsghdr);
	cr_assert_eq(num_refused, want_refused, "%u prefixes refused, want %zu", num_refused, want_refused);
	cr_assert_eq(num_read + num_refused, len);
	size_t seg = 0;
	cr_assert_eq(core_udpgro_seg(ctl, len, &seg), CORE_UDPGRO_OK);
	cr_assert_eq(seg, 1200);
}

Test(udpgro, strerror_names_every_status)
{
	cr_assert_str_eq(core_udpgro_strerror(CORE_UDPGRO_OK), "ok");
	cr_assert_str_eq(core_udpgro_strerror(CORE_UDPGRO_E_CMSG), "malformed control data");
	cr_assert_str_eq(core_udpgro_strerror(CORE_UDPGRO_E_SEG), "bad segment size");
	cr_assert_str_eq(core_udpgro_strerror(-99), "unknown status");
}

/* --- the real kernel: a UDP GSO batch on loopback to a UDP_GRO socket ---- */

/* The loopback address of family at port, in *a; its length. */
static socklen_t t_loopback(int family, uint16_t port, struct sockaddr_storage *a)
{
	memset(a, 0, sizeof *a);
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)a;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof *s4;
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)a;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	s6->sin6_addr = in6addr_loopback;
	return sizeof *s6;
}

static int t_udp(int family, uint16_t *port)
{
	struct sockaddr_storage a;
	socklen_t len = t_loopback(family, 0, &a);
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, len) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&a)->sin_port : ((struct sockaddr_in6 *)&a)->sin6_port);
	return fd;
}

/* Sends num_full datagrams of seg bytes and one of last bytes as one UDP
 * GSO batch from a fresh socket to port, and reads them back on rx (with
 * UDP_GRO or without) until all bytes came or 2 s passed. Each receive is cut
 * by the splitter; what it yields must be the datagrams sent, in order,
 * byte for byte. Returns the receives it took. */
static size_t t_roundtrip(int family, int rx, uint16_t port, size_t seg, size_t num_full, size_t last)
{
	static uint8_t sent[65536], got[65536 + 1];
	size_t total = seg * num_full + last;
	cr_assert_leq(total, OVERLAY_UDPGSO_MAX_LEN);
	for (size_t i = 0; i < total; i++)
		sent[i] = (uint8_t)(i * 131 + i / 251);
	uint16_t txport;
	int tx = t_udp(family, &txport);
	cr_assert_geq(tx, 0);
	struct sockaddr_storage to;
	socklen_t tolen = t_loopback(family, port, &to);
	uint8_t txctl[OVERLAY_UDPGSO_CMSG_SPACE];
	struct iovec iov = {.iov_base = sent, .iov_len = total};
	struct msghdr mh = {.msg_name = &to, .msg_namelen = tolen, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = txctl,
			    .msg_controllen = overlay_udpgso_cmsg(txctl, sizeof txctl, (uint16_t)seg)};
	ssize_t w = sendmsg(tx, &mh, 0);
	if (w < 0 && (errno == EINVAL || errno == EIO || errno == ENOPROTOOPT))
		cr_skip_test("the kernel refused a UDP GSO send on loopback (UDP_SEGMENT, Linux 4.18): %s", strerror(errno));
	cr_assert_eq(w, (ssize_t)total, "GSO send: %s", w < 0 ? strerror(errno) : "short");

	size_t off = 0, receives = 0, num = 0;
	while (off < total) {
		struct pollfd p = {.fd = rx, .events = POLLIN};
		cr_assert_eq(poll(&p, 1, 2000), 1, "%zu of %zu bytes came back", off, total);
		uint8_t ctl[CORE_UDPGRO_CMSG_SPACE];
		struct iovec riov = {.iov_base = got, .iov_len = sizeof got};
		struct msghdr rmh = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
		ssize_t r = recvmsg(rx, &rmh, 0);
		cr_assert_gt(r, 0, "recvmsg: %s", strerror(errno));
		cr_assert_not(rmh.msg_flags & (MSG_TRUNC | MSG_CTRUNC), "a receive was cut");
		receives++;
		size_t s;
		cr_assert_eq(core_udpgro_seg(ctl, rmh.msg_controllen, &s), CORE_UDPGRO_OK);
		struct core_udpgro it;
		const uint8_t *d;
		size_t n;
		core_udpgro_init(&it, got, (size_t)r, s);
		while (core_udpgro_next(&it, &d, &n)) {
			size_t want = num < num_full ? seg : last;
			cr_assert_eq(n, want, "datagram %zu is %zu bytes, sent %zu", num, n, want);
			cr_assert_leq(off + n, total);
			cr_assert_eq(memcmp(d, sent + off, n), 0, "datagram %zu differs from what was sent", num);
			off += n;
			num++;
		}
	}
	cr_assert_eq(num, num_full + (last ? 1 : 0));
	close(tx);
	return receives;
}

static void t_kernel_gro(int family)
{
	uint16_t port;
	int rx = t_udp(family, &port);
	if (rx == -EADDRNOTAVAIL || rx == -EAFNOSUPPORT)
		cr_skip_test("no loopback for this family: %s", strerror(-rx));
	cr_assert_geq(rx, 0);
	int one = 1;
	if (setsockopt(rx, SOL_UDP, UDP_GRO, &one, sizeof one) != 0)
		cr_skip_test("the kernel has no UDP_GRO (Linux 5.0): %s", strerror(errno));
	/* 20 sealed overlay packets and a short one: one receive, cut back. */
	size_t receives = t_roundtrip(family, rx, port, 1453, 20, 333);
	cr_assert_eq(receives, 1, "a GSO batch to a UDP_GRO socket came as %zu receives, want 1", receives);
	/* An exact multiple, 64 segments (the kernel's most). */
	receives = t_roundtrip(family, rx, port, 1000, 64, 0);
	cr_assert_eq(receives, 1, "64 x 1000 bytes came as %zu receives", receives);
	close(rx);

	/* The same batch to a socket without UDP_GRO: the kernel cuts it, one
	 * receive per datagram, no cmsg (the splitter yields each whole). */
	rx = t_udp(family, &port);
	cr_assert_geq(rx, 0);
	receives = t_roundtrip(family, rx, port, 1453, 20, 333);
	cr_assert_eq(receives, 21, "without UDP_GRO: %zu receives, want 21", receives);
	close(rx);
}

Test(udpgro, kernel_gso_batch_comes_back_whole_ipv4, .timeout = 20)
{
	t_kernel_gro(AF_INET);
}

Test(udpgro, kernel_gso_batch_comes_back_whole_ipv6, .timeout = 20)
{
	t_kernel_gro(AF_INET6);
}
