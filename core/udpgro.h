#ifndef CORE_UDPGRO_H
#define CORE_UDPGRO_H
/* core/udpgro.h: cutting a UDP GRO receive into its datagrams, the
 * receive side of overlay/udpgso.h (UDP_GRO, Linux 5.0: udp(7);
 * net/ipv4/udp.c, udp_cmsg_recv). In core, beside core_udp_enable_gro,
 * because every reader of a UDP_GRO socket needs it: the node's readers
 * and the STUN client that reads the same socket before them.
 *
 * With UDP_GRO set on a socket, the kernel may hand one receive holding
 * several datagrams of one sender laid end to end: a UDP GSO batch that
 * reached us whole (loopback, veth) or datagrams the receiving device's
 * GRO coalesced. A UDP_GRO cmsg (SOL_UDP, an int) then gives their size:
 * every datagram but the last has it, the last may be shorter. A receive
 * without that cmsg is one datagram, as on a socket without UDP_GRO.
 *
 * core_udpgro_seg reads the segment size from a recvmsg's control data;
 * the iterator cuts the payload into its datagrams, in order, pointing into
 * the payload (no copy, no allocation). Control data is the kernel's but is
 * parsed as if it were anyone's (tests/fuzz/fuzz_udpgro.c): a cmsg header
 * that overruns the area, a UDP_GRO cmsg of the wrong length, twice, or
 * with a size of 0 or above CORE_UDPGRO_MAX_SEG is refused, and the
 * caller drops the whole receive (it cannot know where its datagrams end).
 * No I/O. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest segment size: one UDP payload (the kernel's gso_size is 16
 * bits). */
#define CORE_UDPGRO_MAX_SEG 65535

/* The control area a receive needs for the UDP_GRO cmsg
 * (CMSG_SPACE(sizeof(int)), 24 bytes on LP64), with room to spare. */
#define CORE_UDPGRO_CMSG_SPACE 64

enum core_udpgro_status {
	CORE_UDPGRO_OK = 0,
	CORE_UDPGRO_E_CMSG = -1, /* a cmsg header shorter than itself or past the area; UDP_GRO twice */
	CORE_UDPGRO_E_SEG = -2,  /* UDP_GRO's value not one int, or 0, negative, or over CORE_UDPGRO_MAX_SEG */
};

/* core_udpgro_strerror names a status ("ok", "malformed control data",
 * "bad segment size"); static storage. */
const char *core_udpgro_strerror(int status);

/* core_udpgro_seg reads the UDP_GRO segment size from ctl[0..ctl_len)
 * (a recvmsg's control data) into *out_seg: 0 when there is no UDP_GRO
 * cmsg (the receive is one datagram). Other cmsgs are skipped. Returns
 * CORE_UDPGRO_OK or a negative status (*out_seg is then 0). */
int core_udpgro_seg(const void *ctl, size_t ctl_len, size_t *out_seg);

/* An iterator over one receive's datagrams. */
struct core_udpgro {
	const uint8_t *data; /* the receive's payload, borrowed */
	size_t len;
	size_t seg;          /* every datagram but the last; 0: one datagram of len */
	size_t off;          /* the next datagram's offset */
	bool done;
};

/* core_udpgro_init starts it over data[0..len) cut into datagrams of seg
 * bytes (from core_udpgro_seg; 0 for a single datagram, which may be
 * empty). data must stay put until the iterator is done. */
void core_udpgro_init(struct core_udpgro *it, const uint8_t *data, size_t len, size_t seg);

/* core_udpgro_next points *out at the next datagram (inside data) and
 * sets *out_len; returns false when there are no more. With seg > 0 every
 * datagram is seg bytes but the last, which is 1..seg bytes; an empty
 * payload then has none. */
bool core_udpgro_next(struct core_udpgro *it, const uint8_t **out, size_t *out_len);

/* core_udpgro_count returns how many datagrams a payload of len bytes
 * cut by seg holds (what the iterator will hand out). */
size_t core_udpgro_count(size_t len, size_t seg);

#endif
