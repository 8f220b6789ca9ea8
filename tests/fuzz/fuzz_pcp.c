/* Fuzz target for the PCP response parser (portmap/pcp.h): what a gateway,
 * or anything on the LAN spoofing one, sends to the node.
 *
 * Survival is not the bar; these must hold:
 *   - the status is OK or one of enum portmap_pcp_status, with a text;
 *   - a failed parse leaves its output untouched;
 *   - a parsed response is a version-2, R=1, ANNOUNCE or MAP message of
 *     24..1100 bytes, a multiple of 4, whose header fields are the input's,
 *     with at most PORTMAP_PCP_MAX_OPTIONS options;
 *   - a MAP response with a body carries the input's nonce, protocol, ports
 *     and address; written again (header and body, no options) it parses to
 *     the same fields, and it matches a request made from its own fields
 *     (RFC 6887 §11.4) but not one with another nonce;
 *   - a request encoded from those fields is 60 bytes and does not parse as
 *     a response (its R bit is clear).
 * A broken property aborts, which libFuzzer and the replay test report. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "portmap/pcp.h"
#include "tests/fuzz/check.h"

static void check_map_roundtrip(const struct portmap_pcp_response *r)
{
	uint8_t m[PORTMAP_PCP_HEADER_LEN + PORTMAP_PCP_MAP_LEN];
	memset(m, 0, sizeof m);
	m[0] = PORTMAP_PCP_VERSION;
	m[1] = 0x80 | PORTMAP_PCP_OP_MAP;
	m[3] = r->result;
	core_put_be32(m + 4, r->lifetime);
	core_put_be32(m + 8, r->epoch);
	memcpy(m + 24, r->nonce, PORTMAP_PCP_NONCE_LEN);
	m[36] = r->protocol;
	core_put_be16(m + 40, r->internal_port);
	core_put_be16(m + 42, r->external_port);
	memcpy(m + 44, r->external_ip, 16);
	struct portmap_pcp_response again;
	CHECK(portmap_pcp_parse(&again, m, sizeof m) == PORTMAP_PCP_OK);
	CHECK(again.has_body && again.opcode == r->opcode && again.result == r->result && again.lifetime == r->lifetime &&
	      again.epoch == r->epoch && again.protocol == r->protocol && again.internal_port == r->internal_port &&
	      again.external_port == r->external_port && again.num_options == 0);
	CHECK(!memcmp(again.nonce, r->nonce, sizeof r->nonce) && !memcmp(again.external_ip, r->external_ip, 16));

	struct portmap_pcp_map_req q = {.protocol = r->protocol, .internal_port = r->internal_port, .lifetime = 60};
	memcpy(q.nonce, r->nonce, sizeof q.nonce);
	CHECK(portmap_pcp_response_matches(r, &q));
	q.nonce[0] ^= 0x01;
	CHECK(!portmap_pcp_response_matches(r, &q));
	q.nonce[0] ^= 0x01;
	uint8_t req[64];
	int n = portmap_pcp_map_encode(req, sizeof req, &q);
	if (!q.protocol || !q.internal_port) {
		CHECK(n == PORTMAP_PCP_E_INVALID);
		return;
	}
	CHECK(n == 60);
	struct portmap_pcp_response back;
	CHECK(portmap_pcp_parse(&back, req, (size_t)n) == PORTMAP_PCP_E_NOT_RESPONSE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct portmap_pcp_response r, untouched;
	memset(&r, 0xa5, sizeof r);
	untouched = r;
	int rc = portmap_pcp_parse(&r, data, size);
	CHECK(rc <= 0 && rc >= PORTMAP_PCP_E_INVALID);
	CHECK(portmap_pcp_strerror(rc) != NULL);
	if (rc != PORTMAP_PCP_OK) {
		CHECK(!memcmp(&r, &untouched, sizeof r));
		return 0;
	}
	CHECK(size >= PORTMAP_PCP_HEADER_LEN && size <= PORTMAP_PCP_MAX_MSG_LEN && size % 4 == 0);
	CHECK(data[0] == PORTMAP_PCP_VERSION && (data[1] & 0x80));
	CHECK(r.opcode == (data[1] & 0x7f));
	CHECK(r.opcode == PORTMAP_PCP_OP_ANNOUNCE || r.opcode == PORTMAP_PCP_OP_MAP);
	CHECK(r.result == data[3]);
	CHECK(r.lifetime == core_get_be32(data + 4) && r.epoch == core_get_be32(data + 8));
	CHECK(r.num_options <= PORTMAP_PCP_MAX_OPTIONS);
	CHECK(portmap_pcp_result_str(r.result) != NULL);
	if (r.opcode == PORTMAP_PCP_OP_MAP && size >= PORTMAP_PCP_HEADER_LEN + PORTMAP_PCP_MAP_LEN) {
		CHECK(!memcmp(r.nonce, data + 24, PORTMAP_PCP_NONCE_LEN));
		CHECK(r.protocol == data[36]);
		CHECK(r.internal_port == core_get_be16(data + 40) && r.external_port == core_get_be16(data + 42));
		CHECK(!memcmp(r.external_ip, data + 44, 16));
		CHECK(r.has_body);
		check_map_roundtrip(&r);
	} else if (r.opcode == PORTMAP_PCP_OP_MAP) {
		/* Only an error may come without its body, and it answers any
		 * MAP request. */
		CHECK(r.result != PORTMAP_PCP_SUCCESS && !r.has_body);
		struct portmap_pcp_map_req q = {.protocol = 17, .internal_port = 1};
		CHECK(portmap_pcp_response_matches(&r, &q));
	}
	return 0;
}
