/* Relay session ids from secrets: see node/session_id.h. */
#include "node/session_id.h"

#include <stdio.h>
#include <string.h>

#include "net/bssl.h"

static void hex20(char *out, const uint8_t d[static 20])
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < 20; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[NODE_SESSION_ID_LEN] = 0;
}

void node_inbox_session_id(char out[static NODE_SESSION_ID_LEN + 1], const uint8_t invite_key[static 32])
{
	uint8_t h[32];
	unsigned hl = 32;
	HMAC(EVP_sha256(), invite_key, 32, (const uint8_t *)"atmosphere v1 relay inbox", 25, h, &hl);
	hex20(out, h);
	OPENSSL_cleanse(h, sizeof h);
}

void node_pair_session_id(char out[static NODE_SESSION_ID_LEN + 1], const uint8_t secret[static 32], const char *a,
			  const char *b)
{
	uint8_t h[32];
	unsigned hl = 32;
	char msg[200];
	if (strcmp(a, b) > 0) {
		const char *t = a;
		a = b;
		b = t;
	}
	int n = snprintf(msg, sizeof msg, "atmosphere v1 relay pair %s %s", a, b);
	if (n < 0 || (size_t)n >= sizeof msg)
		n = (int)sizeof msg - 1;
	HMAC(EVP_sha256(), secret, 32, (const uint8_t *)msg, (size_t)n, h, &hl);
	hex20(out, h);
	OPENSSL_cleanse(h, sizeof h);
}

void node_doorbell_session_id(char out[static NODE_SESSION_ID_LEN + 1], const uint8_t secret[static 32],
			      const char *node_id)
{
	uint8_t h[32];
	unsigned hl = 32;
	char msg[160];
	int n = snprintf(msg, sizeof msg, "atmosphere v1 relay doorbell %s", node_id);
	if (n < 0 || (size_t)n >= sizeof msg)
		n = (int)sizeof msg - 1;
	HMAC(EVP_sha256(), secret, 32, (const uint8_t *)msg, (size_t)n, h, &hl);
	hex20(out, h);
	OPENSSL_cleanse(h, sizeof h);
}
