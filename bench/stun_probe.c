/* bench/stun_probe.c: hand-built STUN requests and answers (see
 * bench/stun_probe.h). */
#include "bench/stun_probe.h"

#include <netinet/in.h>
#include <string.h>

#define XOR_MAPPED_ADDRESS 0x0020u

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void bench_stun_request(uint8_t out[static BENCH_STUN_HEADER_LEN], uint32_t tag, uint64_t t_ns)
{
	put16(out, BENCH_STUN_BINDING_REQUEST);
	put16(out + 2, 0);
	put32(out + 4, BENCH_STUN_MAGIC);
	put32(out + 8, tag);
	put32(out + 12, (uint32_t)(t_ns >> 32));
	put32(out + 16, (uint32_t)t_ns);
}

bool bench_stun_answer_check(const uint8_t *buf, size_t len, uint32_t tag, uint64_t *out_t_ns, bool *out_error)
{
	/* RFC 8489 §6.3: the two top bits zero, the cookie, a length that is
	 * the rest of the datagram and a multiple of 4. */
	if (len < BENCH_STUN_HEADER_LEN || (buf[0] & 0xc0))
		return false;
	uint32_t type = get16(buf), mlen = get16(buf + 2);
	if (get32(buf + 4) != BENCH_STUN_MAGIC || mlen % 4 || mlen != len - BENCH_STUN_HEADER_LEN)
		return false;
	if (type != BENCH_STUN_BINDING_SUCCESS && type != 0x0111u)
		return false;
	if (get32(buf + 8) != tag)
		return false;
	*out_t_ns = (uint64_t)get32(buf + 12) << 32 | get32(buf + 16);
	*out_error = type == 0x0111u;
	return true;
}

size_t bench_stun_reflect(const uint8_t *req, size_t req_len, const struct sockaddr *from, uint8_t *out,
			  size_t out_cap)
{
	if (req_len < BENCH_STUN_HEADER_LEN || get16(req) != BENCH_STUN_BINDING_REQUEST ||
	    get32(req + 4) != BENCH_STUN_MAGIC)
		return 0;
	size_t alen = from->sa_family == AF_INET6 ? 20 : 8;
	size_t len = BENCH_STUN_HEADER_LEN + 4 + alen;
	if (out_cap < len)
		return 0;
	memcpy(out, req, BENCH_STUN_HEADER_LEN); /* cookie and transaction id */
	put16(out, BENCH_STUN_BINDING_SUCCESS);
	put16(out + 2, (uint32_t)(4 + alen));
	uint8_t *a = out + BENCH_STUN_HEADER_LEN;
	put16(a, XOR_MAPPED_ADDRESS);
	put16(a + 2, (uint32_t)alen);
	a[4] = 0;
	/* §14.2: the port XORed with the cookie's top half, the address with
	 * the cookie (IPv4) or the cookie and transaction id (IPv6). */
	if (from->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)from;
		a[5] = 0x02;
		put16(a + 6, ntohs(s6->sin6_port) ^ (BENCH_STUN_MAGIC >> 16));
		for (int i = 0; i < 16; i++)
			a[8 + i] = s6->sin6_addr.s6_addr[i] ^ out[4 + i];
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)from;
		a[5] = 0x01;
		put16(a + 6, ntohs(s4->sin_port) ^ (BENCH_STUN_MAGIC >> 16));
		put32(a + 8, ntohl(s4->sin_addr.s_addr) ^ BENCH_STUN_MAGIC);
	}
	return len;
}
