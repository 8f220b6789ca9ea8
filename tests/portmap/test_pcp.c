/* Tests for portmap/pcp.h: MAP and ANNOUNCE requests laid out field by
 * field (RFC 6887 §7.1, §11.1), responses parsed, every prefix of a valid
 * response refused, inputs ending against a PROT_NONE page, and the §11.4
 * matching rules. The lab test (tests/portmap/lab.sh) checks the same codec
 * against miniupnpd. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "portmap/pcp.h"

/* A MAP request: client 10.1.0.2, nonce 01..0c, UDP, internal 7777,
 * suggested external 7777, no address preference, 7200 s. */
static const uint8_t v_request[60] = {
	0x02, 0x01, 0x00, 0x00,                         /* version 2, R=0 MAP, reserved */
	0x00, 0x00, 0x1c, 0x20,                         /* requested lifetime 7200 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,       /* client IP ::ffff: */
	10, 1, 0, 2,                                    /*   10.1.0.2 */
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,          /* nonce */
	17, 0, 0, 0,                                    /* protocol UDP, reserved */
	0x1e, 0x61, 0x1e, 0x61,                         /* internal 7777, suggested 7777 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,       /* suggested ::ffff:0.0.0.0 */
	0, 0, 0, 0,
};

/* Its SUCCESS response: external 198.51.100.10:7777 for 3600 s, epoch 42. */
static const uint8_t v_response[60] = {
	0x02, 0x81, 0x00, 0x00,                         /* version 2, R=1 MAP, reserved, SUCCESS */
	0x00, 0x00, 0x0e, 0x10,                         /* lifetime 3600 */
	0x00, 0x00, 0x00, 0x2a,                         /* epoch 42 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,             /* reserved */
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,          /* nonce */
	17, 0, 0, 0,                                    /* protocol, reserved */
	0x1e, 0x61, 0x1e, 0x61,                         /* internal 7777, assigned 7777 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	198, 51, 100, 10,                               /* assigned ::ffff:198.51.100.10 */
};

static struct portmap_pcp_map_req v_req(void)
{
	struct portmap_pcp_map_req r = {.protocol = 17, .internal_port = 7777, .suggested_port = 7777, .lifetime = 7200};
	for (int i = 0; i < 12; i++)
		r.nonce[i] = (uint8_t)(i + 1);
	portmap_pcp_v4(r.client_ip, htonl(0x0a010002));
	portmap_pcp_v4(r.suggested_ip, 0);
	return r;
}

/* Copies n bytes to the end of a page followed by a PROT_NONE page: a read
 * past the input faults. */
static const uint8_t *t_at_edge(const uint8_t *src, size_t n)
{
	static uint8_t *map;
	long page = sysconf(_SC_PAGESIZE);
	if (!map) {
		map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		cr_assert(map != MAP_FAILED);
		cr_assert(mprotect(map + page, (size_t)page, PROT_NONE) == 0);
	}
	uint8_t *p = map + page - n;
	memcpy(p, src, n);
	return p;
}

Test(portmap_pcp, encodes_map_request_field_by_field)
{
	struct portmap_pcp_map_req r = v_req();
	uint8_t out[64];
	cr_assert_eq(portmap_pcp_map_encode(out, sizeof out, &r), 60);
	cr_assert_arr_eq(out, v_request, sizeof v_request);
}

Test(portmap_pcp, map_request_needs_room_and_a_port)
{
	struct portmap_pcp_map_req r = v_req();
	uint8_t out[64];
	cr_assert_eq(portmap_pcp_map_encode(out, 59, &r), PORTMAP_PCP_E_NO_ROOM);
	r.internal_port = 0;
	cr_assert_eq(portmap_pcp_map_encode(out, sizeof out, &r), PORTMAP_PCP_E_INVALID);
	r = v_req();
	r.protocol = 0;
	cr_assert_eq(portmap_pcp_map_encode(out, sizeof out, &r), PORTMAP_PCP_E_INVALID);
}

Test(portmap_pcp, delete_is_a_map_with_lifetime_zero)
{
	struct portmap_pcp_map_req r = v_req();
	r.lifetime = 0;
	uint8_t out[64];
	cr_assert_eq(portmap_pcp_map_encode(out, sizeof out, &r), 60);
	cr_assert_eq(out[4] | out[5] | out[6] | out[7], 0);
	cr_assert_arr_eq(out + 24, v_request + 24, 36, "the body (nonce, port) is the mapping's");
}

Test(portmap_pcp, encodes_announce)
{
	uint8_t ip[16], out[24];
	portmap_pcp_v4(ip, htonl(0x0a010002));
	cr_assert_eq(portmap_pcp_announce_encode(out, 23, ip), PORTMAP_PCP_E_NO_ROOM);
	cr_assert_eq(portmap_pcp_announce_encode(out, sizeof out, ip), 24);
	cr_assert_eq(out[0], 2);
	cr_assert_eq(out[1], 0, "R=0, opcode ANNOUNCE");
	cr_assert_arr_eq(out + 8, v_request + 8, 16);
}

Test(portmap_pcp, parses_map_success)
{
	struct portmap_pcp_response r;
	cr_assert_eq(portmap_pcp_parse(&r, t_at_edge(v_response, sizeof v_response), sizeof v_response), PORTMAP_PCP_OK);
	cr_assert_eq(r.opcode, PORTMAP_PCP_OP_MAP);
	cr_assert_eq(r.result, PORTMAP_PCP_SUCCESS);
	cr_assert_eq(r.lifetime, 3600);
	cr_assert_eq(r.epoch, 42);
	cr_assert_eq(r.protocol, 17);
	cr_assert_eq(r.internal_port, 7777);
	cr_assert_eq(r.external_port, 7777);
	uint32_t ip;
	cr_assert(portmap_pcp_is_v4(r.external_ip, &ip));
	cr_assert_eq(ntohl(ip), 0xc633640a);
	cr_assert_eq(r.num_options, 0);
	struct portmap_pcp_map_req q = v_req();
	cr_assert(portmap_pcp_response_matches(&r, &q));
}

Test(portmap_pcp, every_proper_prefix_is_refused)
{
	for (size_t n = 0; n < sizeof v_response; n++) {
		struct portmap_pcp_response r;
		memset(&r, 0x5a, sizeof r);
		int s = portmap_pcp_parse(&r, t_at_edge(v_response, n), n);
		cr_assert(s == PORTMAP_PCP_E_TRUNCATED || s == PORTMAP_PCP_E_BAD_LENGTH, "prefix %zu: %d", n, s);
		cr_assert_eq(r.opcode, 0x5a, "prefix %zu: output touched on failure", n);
	}
}

struct bad_case {
	const char *what;
	size_t off;      /* byte to change */
	uint8_t value;
	int status;
};

static struct bad_case bad_cases[] = {
	{"NAT-PMP version", 0, 0, PORTMAP_PCP_E_VERSION},
	{"PCP version 1", 0, 1, PORTMAP_PCP_E_VERSION},
	{"version 3", 0, 3, PORTMAP_PCP_E_VERSION},
	{"R bit clear", 1, 0x01, PORTMAP_PCP_E_NOT_RESPONSE},
	{"PEER opcode", 1, 0x82, PORTMAP_PCP_E_OPCODE},
	{"unassigned opcode", 1, 0xff, PORTMAP_PCP_E_OPCODE},
};

ParameterizedTestParameters(portmap_pcp, refuses_bad_header)
{
	return cr_make_param_array(struct bad_case, bad_cases, sizeof bad_cases / sizeof bad_cases[0]);
}

ParameterizedTest(struct bad_case *c, portmap_pcp, refuses_bad_header)
{
	uint8_t m[sizeof v_response];
	memcpy(m, v_response, sizeof m);
	m[c->off] = c->value;
	struct portmap_pcp_response r;
	cr_assert_eq(portmap_pcp_parse(&r, m, sizeof m), c->status, "%s", c->what);
}

Test(portmap_pcp, refuses_bad_lengths)
{
	uint8_t m[PORTMAP_PCP_MAX_MSG_LEN + 4];
	memset(m, 0, sizeof m);
	memcpy(m, v_response, sizeof v_response);
	struct portmap_pcp_response r;
	cr_assert_eq(portmap_pcp_parse(&r, m, 62), PORTMAP_PCP_E_BAD_LENGTH, "not a multiple of 4");
	/* Zero padding is an option of code 0 and length 0: framing is fine. */
	cr_assert_eq(portmap_pcp_parse(&r, m, PORTMAP_PCP_MAX_MSG_LEN), PORTMAP_PCP_E_TOO_MANY_OPTIONS);
	cr_assert_eq(portmap_pcp_parse(&r, m, PORTMAP_PCP_MAX_MSG_LEN + 4), PORTMAP_PCP_E_BAD_LENGTH);
}

Test(portmap_pcp, walks_options)
{
	uint8_t m[sizeof v_response + 16];
	memcpy(m, v_response, sizeof v_response);
	/* PREFER_FAILURE (code 2, no data), then a 3-byte unknown option
	 * padded to 4. */
	uint8_t opts[16] = {2, 0, 0, 0, 0x80, 0, 0, 3, 0xaa, 0xbb, 0xcc, 0, 0, 0, 0, 0};
	memcpy(m + sizeof v_response, opts, sizeof opts);
	struct portmap_pcp_response r;
	cr_assert_eq(portmap_pcp_parse(&r, t_at_edge(m, sizeof v_response + 12), sizeof v_response + 12), PORTMAP_PCP_OK);
	cr_assert_eq(r.num_options, 2);
	/* An option whose length runs past the end. */
	m[sizeof v_response + 7] = 9;
	cr_assert_eq(portmap_pcp_parse(&r, t_at_edge(m, sizeof v_response + 12), sizeof v_response + 12),
		     PORTMAP_PCP_E_BAD_OPTION);
}

Test(portmap_pcp, error_without_body_keeps_the_result)
{
	/* A server that could not parse the request may send the header
	 * alone, result MALFORMED_REQUEST, and a long error lifetime. */
	uint8_t m[24];
	memcpy(m, v_response, sizeof m);
	m[3] = PORTMAP_PCP_MALFORMED_REQUEST;
	struct portmap_pcp_response r;
	cr_assert_eq(portmap_pcp_parse(&r, t_at_edge(m, sizeof m), sizeof m), PORTMAP_PCP_OK);
	cr_assert_eq(r.result, PORTMAP_PCP_MALFORMED_REQUEST);
	cr_assert(portmap_pcp_result_is_long_lived(r.result));
	struct portmap_pcp_map_req q = v_req();
	cr_assert(portmap_pcp_response_matches(&r, &q));
	/* A SUCCESS without its body is truncated. */
	m[3] = 0;
	cr_assert_eq(portmap_pcp_parse(&r, m, sizeof m), PORTMAP_PCP_E_TRUNCATED);
}

Test(portmap_pcp, matching_checks_nonce_protocol_port)
{
	struct portmap_pcp_response r;
	cr_assert_eq(portmap_pcp_parse(&r, v_response, sizeof v_response), PORTMAP_PCP_OK);
	struct portmap_pcp_map_req q = v_req();
	q.nonce[11] ^= 1;
	cr_assert_not(portmap_pcp_response_matches(&r, &q), "nonce");
	q = v_req();
	q.protocol = 6;
	cr_assert_not(portmap_pcp_response_matches(&r, &q), "protocol");
	q = v_req();
	q.internal_port = 7778;
	cr_assert_not(portmap_pcp_response_matches(&r, &q), "internal port");
	uint8_t m[24];
	memcpy(m, v_response, sizeof m);
	m[1] = 0x80; /* ANNOUNCE response */
	cr_assert_eq(portmap_pcp_parse(&r, m, sizeof m), PORTMAP_PCP_OK);
	cr_assert_eq(r.opcode, PORTMAP_PCP_OP_ANNOUNCE);
	q = v_req();
	cr_assert_not(portmap_pcp_response_matches(&r, &q), "an ANNOUNCE is not a MAP answer");
}

Test(portmap_pcp, names_results)
{
	cr_assert_str_eq(portmap_pcp_result_str(0), "SUCCESS");
	cr_assert_str_eq(portmap_pcp_result_str(13), "EXCESSIVE_REMOTE_PEERS");
	cr_assert_str_eq(portmap_pcp_result_str(14), "UNKNOWN");
	cr_assert_not(portmap_pcp_result_is_long_lived(PORTMAP_PCP_NO_RESOURCES));
	cr_assert(portmap_pcp_result_is_long_lived(PORTMAP_PCP_NOT_AUTHORIZED));
	for (int s = 0; s >= -10; s--)
		cr_assert_not_null(portmap_pcp_strerror(s));
}

/* Each file in tests/fuzz/corpus/pcp (tests/portmap/make_pcp_corpus.py) is
 * named for what parsing it must give: ok-* parse, bad-<status>-* fail with
 * that status: the malformed-input corpus. */
static int t_status_named(const char *name)
{
	static const struct {
		const char *prefix;
		int status;
	} names[] = {
		{"bad-truncated-", PORTMAP_PCP_E_TRUNCATED},
		{"bad-length-", PORTMAP_PCP_E_BAD_LENGTH},
		{"bad-version-", PORTMAP_PCP_E_VERSION},
		{"bad-not_response-", PORTMAP_PCP_E_NOT_RESPONSE},
		{"bad-opcode-", PORTMAP_PCP_E_OPCODE},
		{"bad-option-", PORTMAP_PCP_E_BAD_OPTION},
		{"bad-too_many_options-", PORTMAP_PCP_E_TOO_MANY_OPTIONS},
		{"ok-", PORTMAP_PCP_OK},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strncmp(name, names[i].prefix, strlen(names[i].prefix)) == 0)
			return names[i].status;
	cr_assert_fail("corpus file %s: name says no status", name);
	return 1;
}

Test(portmap_pcp, corpus_files_get_the_status_their_name_says)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", __FILE__);
	char *slash = strrchr(dir, '/');
	cr_assert_not_null(slash, "__FILE__ is %s", __FILE__);
	snprintf(slash, sizeof dir - (size_t)(slash - dir), "/../fuzz/corpus/pcp");
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "cannot open %s", dir);
	int num_bad = 0, num_ok = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[PATH_MAX + 256];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		cr_assert_not_null(f, "%s", path);
		static uint8_t data[2 * PORTMAP_PCP_MAX_MSG_LEN];
		size_t len = fread(data, 1, sizeof data, f);
		fclose(f);
		int want = t_status_named(e->d_name);
		struct portmap_pcp_response r;
		int rc = portmap_pcp_parse(&r, t_at_edge(data, len), len);
		cr_assert_eq(rc, want, "%s: got %d (%s), want %d (%s)", e->d_name, rc, portmap_pcp_strerror(rc), want,
			     portmap_pcp_strerror(want));
		want == PORTMAP_PCP_OK ? num_ok++ : num_bad++;
	}
	closedir(d);
	cr_assert_geq(num_bad, 10, "only %d bad-* files in %s", num_bad, dir);
	cr_assert_geq(num_ok, 5, "only %d ok-* files in %s", num_ok, dir);
}
