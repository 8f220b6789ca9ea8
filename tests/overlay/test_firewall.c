/* overlay/firewall: rules as written, what they let in, and the answers to
 * this node's own flows. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "overlay/firewall.h"
#include "overlay/packet.h"

static const uint8_t us[4] = {100, 64, 0, 1}, them[4] = {100, 64, 0, 2};

/* An IPv4 packet from src to dst: TCP/UDP with ports, or ICMP type/id. */
static size_t pkt4(uint8_t *p, const uint8_t *src, const uint8_t *dst, uint8_t proto, uint16_t a, uint16_t b)
{
	memset(p, 0, 40);
	p[0] = 0x45;
	p[3] = 40;
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	if (proto == 1) {
		p[20] = (uint8_t)a; /* type */
		p[24] = (uint8_t)(b >> 8);
		p[25] = (uint8_t)b; /* echo id */
	} else {
		p[20] = (uint8_t)(a >> 8);
		p[21] = (uint8_t)a;
		p[22] = (uint8_t)(b >> 8);
		p[23] = (uint8_t)b;
	}
	return 40;
}

static bool in(struct overlay_fw *fw, const char *name, uint8_t proto, uint16_t a, uint16_t b, uint64_t now)
{
	uint8_t p[64];
	struct overlay_ip ip;
	size_t n = pkt4(p, them, us, proto, a, b);
	cr_assert_eq(overlay_ip_parse(p, n, &ip), OVERLAY_IP_OK);
	return overlay_fw_inbound(fw, name, "node-0123", p, &ip, now);
}

static void out(struct overlay_fw *fw, uint8_t proto, uint16_t a, uint16_t b, uint64_t now)
{
	uint8_t p[64];
	struct overlay_ip ip;
	size_t n = pkt4(p, us, them, proto, a, b);
	cr_assert_eq(overlay_ip_parse(p, n, &ip), OVERLAY_IP_OK);
	overlay_fw_outbound(fw, p, &ip, now);
}

static void add(struct overlay_fw *fw, const char *rule)
{
	struct overlay_fw_rule r;
	char err[160];
	cr_assert_eq(overlay_fw_parse_rule(rule, &r, err, sizeof err), 0, "%s", err);
	cr_assert_eq(overlay_fw_add(fw, &r), 0);
}

Test(overlay_firewall, rules_parse_as_written)
{
	struct overlay_fw_rule r;
	char err[160];
	cr_assert_eq(overlay_fw_parse_rule("matt:tcp/22", &r, err, sizeof err), 0);
	cr_assert_str_eq(r.peer, "matt");
	cr_assert_eq(r.proto, OVERLAY_FW_TCP);
	cr_assert_eq(r.port_lo, 22);
	cr_assert_eq(r.port_hi, 22);
	cr_assert_eq(overlay_fw_parse_rule("*:udp/5000-5100", &r, err, sizeof err), 0);
	cr_assert_eq(r.port_lo, 5000);
	cr_assert_eq(r.port_hi, 5100);
	cr_assert_eq(overlay_fw_parse_rule("node-ab12:any", &r, err, sizeof err), 0);
	cr_assert_eq(r.proto, OVERLAY_FW_ANY);
	cr_assert_eq(r.port_hi, 65535);
}

Test(overlay_firewall, malformed_rules_say_why)
{
	static const char *bad[] = {"", "matt", ":tcp", "matt:", "matt:sctp", "matt:icmp/1", "matt:tcp/",
				    "matt:tcp/70000", "matt:tcp/20-10", "matt:tcp/1-", "matt:tcp/x", "m*t:tcp",
				    "a b:tcp", "matt:tcp/22junk"};
	struct overlay_fw_rule r;
	char err[160];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		cr_assert_eq(overlay_fw_parse_rule(bad[i], &r, err, sizeof err), -EINVAL, "'%s' accepted", bad[i]);
		cr_assert(err[0], "no reason for '%s'", bad[i]);
	}
}

Test(overlay_firewall, without_rules_every_member_gets_in)
{
	struct overlay_fw fw;
	cr_assert_eq(overlay_fw_init(&fw), 0);
	cr_assert(in(&fw, "matt", 6, 40000, 22, 0));
	cr_assert(in(&fw, "matt", 17, 40000, 53, 0));
	overlay_fw_free(&fw);
}

Test(overlay_firewall, a_rule_opens_its_peer_protocol_and_ports_only)
{
	struct overlay_fw fw;
	cr_assert_eq(overlay_fw_init(&fw), 0);
	add(&fw, "matt:tcp/22");
	add(&fw, "*:udp/5000-5100");
	add(&fw, "ana:icmp");
	cr_assert(in(&fw, "matt", 6, 40000, 22, 0));
	cr_assert_not(in(&fw, "matt", 6, 40000, 23, 0), "another port");
	cr_assert_not(in(&fw, "rob", 6, 40000, 22, 0), "another peer");
	cr_assert_not(in(&fw, "matt", 17, 40000, 22, 0), "another protocol");
	cr_assert(in(&fw, "rob", 17, 1, 5000, 0));
	cr_assert(in(&fw, "rob", 17, 1, 5100, 0));
	cr_assert_not(in(&fw, "rob", 17, 1, 5101, 0));
	cr_assert(in(&fw, "ana", 1, 8, 7, 0), "ana may ping");
	cr_assert_not(in(&fw, "matt", 1, 8, 7, 0), "matt may not");
	cr_assert(in(&fw, "matt", 1, 3, 0, 0), "an ICMP error always passes");
	overlay_fw_free(&fw);
}

Test(overlay_firewall, answers_to_our_flows_come_back_until_idle)
{
	struct overlay_fw fw;
	cr_assert_eq(overlay_fw_init(&fw), 0);
	add(&fw, "nobody:tcp/1");
	cr_assert_not(in(&fw, "matt", 6, 80, 40000, 0), "nothing asked for this");
	out(&fw, 6, 40000, 80, 1000); /* we connect to matt:80 from port 40000 */
	cr_assert(in(&fw, "matt", 6, 80, 40000, 2000), "the answer");
	cr_assert_not(in(&fw, "matt", 6, 81, 40000, 2000), "another remote port");
	cr_assert_not(in(&fw, "matt", 17, 80, 40000, 2000), "another protocol");
	cr_assert(in(&fw, "matt", 6, 80, 40000, 2000 + OVERLAY_FW_TCP_IDLE_MS - 1), "traffic keeps it open");
	cr_assert_not(in(&fw, "matt", 6, 80, 40000, 2000 + 2 * OVERLAY_FW_TCP_IDLE_MS), "idle too long");
	out(&fw, 1, 8, 77, 5000); /* we ping with id 77 */
	cr_assert(in(&fw, "matt", 1, 0, 77, 6000), "the echo reply");
	cr_assert_not(in(&fw, "matt", 1, 0, 78, 6000), "another id");
	cr_assert_not(in(&fw, "matt", 1, 8, 77, 6000), "an echo request is not an answer");
	overlay_fw_free(&fw);
}

Test(overlay_firewall, a_full_flow_table_forgets_the_oldest_not_the_newest)
{
	struct overlay_fw fw;
	cr_assert_eq(overlay_fw_init(&fw), 0);
	add(&fw, "nobody:tcp/1");
	for (uint32_t i = 0; i < 3 * OVERLAY_FW_FLOWS; i++)
		out(&fw, 17, (uint16_t)(1024 + i % 60000), (uint16_t)(i / 60000 + 1), i);
	uint32_t last = 3 * OVERLAY_FW_FLOWS - 1;
	cr_assert(in(&fw, "matt", 17, (uint16_t)(last / 60000 + 1), (uint16_t)(1024 + last % 60000), last + 1),
		  "the newest flow is kept");
	overlay_fw_free(&fw);
}
