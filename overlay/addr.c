/* overlay/addr.c: see addr.h. */
#include "overlay/addr.h"

#include <string.h>

#include <openssl/sha.h>

/* SHA-256 over label 0 mesh [0 node 0 n(be32)]: the zero bytes keep the
 * fields apart ("ab"+"c" and "a"+"bc" hash differently). */
static void derive(const char *label, const char *mesh_id, const char *node_id, uint32_t n,
		   uint8_t out[SHA256_DIGEST_LENGTH])
{
	SHA256_CTX c;
	static const uint8_t zero = 0;
	SHA256_Init(&c);
	SHA256_Update(&c, label, strlen(label));
	SHA256_Update(&c, &zero, 1);
	SHA256_Update(&c, mesh_id, strlen(mesh_id));
	if (node_id) {
		uint8_t nb[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
		SHA256_Update(&c, &zero, 1);
		SHA256_Update(&c, node_id, strlen(node_id));
		SHA256_Update(&c, &zero, 1);
		SHA256_Update(&c, nb, sizeof nb);
	}
	SHA256_Final(out, &c);
}

uint32_t overlay_addr4(const char *mesh_id, const char *node_id, uint32_t n)
{
	uint8_t h[SHA256_DIGEST_LENGTH];
	derive("atmosphere-v4", mesh_id, node_id, n, h);
	const uint32_t mask = (1u << (32 - OVERLAY_V4_PREFIX_LEN)) - 1;
	uint32_t host = ((uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3]) & mask;
	/* 2^22 - 2 usable host parts: map onto 1 .. mask - 1 without a
	 * second hash (the bias is 2 in 4 million). */
	if (host == 0)
		host = 1;
	else if (host == mask)
		host = mask - 1;
	return OVERLAY_V4_PREFIX | host;
}

void overlay_prefix6(const char *mesh_id, uint8_t out[16])
{
	uint8_t h[SHA256_DIGEST_LENGTH];
	derive("atmosphere-v6", mesh_id, NULL, 0, h);
	memset(out, 0, 16);
	out[0] = 0xfd; /* RFC 4193: fc00::/7 with L = 1 */
	memcpy(out + 1, h, 5);
}

void overlay_addr6(const char *mesh_id, const char *node_id, uint32_t n, uint8_t out[16])
{
	uint8_t h[SHA256_DIGEST_LENGTH];
	overlay_prefix6(mesh_id, out);
	derive("atmosphere-iid", mesh_id, node_id, n, h);
	memcpy(out + 8, h, 8);
	/* Never the subnet-router anycast address (interface id 0). */
	if (!memcmp(out + 8, "\0\0\0\0\0\0\0\0", 8))
		out[15] = 1;
}

int overlay_in_mesh4(uint32_t addr)
{
	return (addr >> (32 - OVERLAY_V4_PREFIX_LEN)) == (OVERLAY_V4_PREFIX >> (32 - OVERLAY_V4_PREFIX_LEN));
}

int overlay_in_mesh6(const uint8_t prefix[16], const uint8_t addr[16])
{
	return !memcmp(prefix, addr, OVERLAY_V6_PREFIX_LEN / 8);
}
