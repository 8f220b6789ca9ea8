/* Fuzz the e2e receive path with fixed keys: classify, then the handshake
 * consumers and decrypt on a live session, as a node does for any datagram
 * from anywhere. Properties: no crash or sanitizer report; classify's verdict
 * bounds what the later steps accept; nothing random ever authenticates. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/e2e.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct node_e2e_keypair a, b;
static struct node_e2e_session sa, sb;
static struct node_e2e_handshake pending;
static uint8_t psk[32];

/* A fixed session between a and b, made once. */
static void setup(void)
{
	static int done;
	uint8_t pa[32], pb[32], ea[32], eb[32], ts[12] = {0};
	uint8_t init[NODE_E2E_INIT_LEN], resp[NODE_E2E_RESPONSE_LEN];
	struct node_e2e_handshake hi, hr;
	struct node_e2e_init_info info;
	if (done)
		return;
	done = 1;
	for (int i = 0; i < 32; i++) {
		pa[i] = (uint8_t)(i + 1);
		pb[i] = (uint8_t)(i + 101);
		ea[i] = (uint8_t)(i + 51);
		eb[i] = (uint8_t)(i + 151);
		psk[i] = (uint8_t)(200 - i);
	}
	node_e2e_keypair_init(&a, pa);
	node_e2e_keypair_init(&b, pb);
	CHECK(node_e2e_init_create(&hi, init, &a, b.pub, ea, 7, ts, NULL) == NODE_E2E_OK);
	CHECK(node_e2e_init_consume(&hr, &info, &b, init, sizeof init) == NODE_E2E_OK);
	CHECK(node_e2e_response_create(&hr, resp, &sb, psk, eb, 9, 0) == NODE_E2E_OK);
	CHECK(node_e2e_response_consume(&hi, &sa, resp, sizeof resp, psk, 0) == NODE_E2E_OK);
	/* A handshake of a's still waiting for its response. */
	CHECK(node_e2e_init_create(&pending, init, &a, b.pub, eb, 11, ts, NULL) == NODE_E2E_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t ridx = 0;
	static uint8_t out[NODE_E2E_MAX_PACKET_LEN];
	size_t out_len = 0;
	setup();
	int type = node_e2e_classify(data, size, &ridx);
	if (type < 0)
		return 0;
	if (type == NODE_E2E_MSG_INIT) {
		struct node_e2e_handshake hs;
		struct node_e2e_init_info info;
		/* Random bytes cannot carry a valid mac1 for b's key. */
		int r = node_e2e_init_consume(&hs, &info, &b, data, size);
		if (r == NODE_E2E_OK)
			node_e2e_handshake_cleanup(&hs);
	} else if (type == NODE_E2E_MSG_RESPONSE) {
		struct node_e2e_handshake copy = pending;
		struct node_e2e_session s;
		int r = node_e2e_response_consume(&copy, &s, data, size, psk, 0);
		CHECK(r != NODE_E2E_OK || size == NODE_E2E_RESPONSE_LEN);
		if (r == NODE_E2E_OK)
			node_e2e_session_cleanup(&s);
	} else {
		CHECK(type == NODE_E2E_MSG_DATA);
		struct node_e2e_session copy = sb;
		int r = node_e2e_decrypt(&copy, out, sizeof out, &out_len, data, size, 1);
		/* Forging a Poly1305 tag by chance is not a thing a fuzzer does. */
		CHECK(r != NODE_E2E_OK);
	}
	return 0;
}
