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

/* --- the garbage flood --------------------------------------------------- */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void fill_random(uint8_t *p, size_t n, uint64_t *rng)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(xorshift(rng) >> 32);
}

/* header writes a Binding header with a random transaction id. */
static void header(uint8_t *out, uint32_t type, uint32_t len, uint32_t cookie, uint64_t *rng)
{
	put16(out, type);
	put16(out + 2, len);
	put32(out + 4, cookie);
	fill_random(out + 8, 12, rng);
}

/* with_attr writes a Binding header whose length field says len_field,
 * followed by one 4-byte attribute of type attr with random value: 28 bytes. */
static void with_attr(uint8_t *out, uint32_t len_field, uint32_t attr, uint64_t *rng)
{
	header(out, BENCH_STUN_BINDING_REQUEST, len_field, BENCH_STUN_MAGIC, rng);
	put16(out + 20, attr);
	put16(out + 22, 4);
	fill_random(out + 24, 4, rng);
}

size_t bench_stun_garbage(uint8_t *out, size_t cap, enum bench_stun_garbage kind, uint64_t *rng)
{
	size_t len;
	switch (kind) {
	case BENCH_STUN_GARBAGE_RANDOM:
		len = 1 + (size_t)(xorshift(rng) % BENCH_STUN_GARBAGE_RANDOM_MAX);
		if (cap < len)
			return 0;
		fill_random(out, len, rng);
		return len;
	case BENCH_STUN_GARBAGE_SHORT:
		/* RFC 8489 §6.3: shorter than its length field says. */
		len = BENCH_STUN_HEADER_LEN;
		if (cap < len)
			return 0;
		header(out, BENCH_STUN_BINDING_REQUEST, 8, BENCH_STUN_MAGIC, rng);
		return len;
	case BENCH_STUN_GARBAGE_BAD_MAGIC:
		/* RFC 8489 §5: any cookie but 0x2112A442 (an RFC 3489 request
		 * looks like this). */
		len = BENCH_STUN_HEADER_LEN;
		if (cap < len)
			return 0;
		header(out, BENCH_STUN_BINDING_REQUEST, 0, BENCH_STUN_MAGIC ^ (1u + (uint32_t)(xorshift(rng) >> 40)),
		       rng);
		return len;
	case BENCH_STUN_GARBAGE_BAD_LENGTH:
		/* RFC 8489 §6.3: longer than its length field says. */
		len = BENCH_STUN_HEADER_LEN + 8;
		if (cap < len)
			return 0;
		with_attr(out, 4, BENCH_STUN_GARBAGE_ATTR_OPTIONAL, rng);
		return len;
	case BENCH_STUN_GARBAGE_UNKNOWN_ATTR:
		/* RFC 8489 §6.3.1: an unknown attribute below 0x8000 gets a 420. */
		len = BENCH_STUN_HEADER_LEN + 8;
		if (cap < len)
			return 0;
		with_attr(out, 8, BENCH_STUN_GARBAGE_ATTR_REQUIRED, rng);
		return len;
	case BENCH_STUN_GARBAGE_OVERSIZE:
		/* Well-formed, so only its size stands in the way. */
		len = BENCH_STUN_GARBAGE_MAX;
		if (cap < len)
			return 0;
		header(out, BENCH_STUN_BINDING_REQUEST, (uint32_t)(len - BENCH_STUN_HEADER_LEN), BENCH_STUN_MAGIC, rng);
		put16(out + 20, BENCH_STUN_GARBAGE_ATTR_OPTIONAL);
		put16(out + 22, (uint32_t)(len - BENCH_STUN_HEADER_LEN - 4));
		fill_random(out + 24, len - 24, rng);
		return len;
	default:
		return 0;
	}
}

const char *bench_stun_garbage_name(int kind)
{
	static const char *const names[BENCH_STUN_GARBAGE_KINDS] = {
		[BENCH_STUN_GARBAGE_RANDOM] = "random",
		[BENCH_STUN_GARBAGE_SHORT] = "short",
		[BENCH_STUN_GARBAGE_BAD_MAGIC] = "bad_magic",
		[BENCH_STUN_GARBAGE_BAD_LENGTH] = "bad_length",
		[BENCH_STUN_GARBAGE_UNKNOWN_ATTR] = "unknown_attr",
		[BENCH_STUN_GARBAGE_OVERSIZE] = "oversize",
	};
	if (kind < 0 || kind >= BENCH_STUN_GARBAGE_KINDS)
		return "unknown";
	return names[kind];
}
