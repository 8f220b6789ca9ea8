#ifndef OVERLAY_FIREWALL_H
#define OVERLAY_FIREWALL_H
/* overlay/firewall.h: which members may reach which of this node's ports.
 *
 * Rules say what may come *in* from the overlay; what this node sends out
 * is never restricted, and the answers to it come back (connection
 * tracking). With no rule, every member may reach everything (the mesh's
 * default; strangers reach nothing anyway: only members have sessions).
 * With rules, an inbound packet passes when
 *   - a rule matches its sender and its protocol and destination port, or
 *   - it answers a flow this node started (same protocol, addresses and
 *     ports, or ICMP echo id) within the flow's idle time, or
 *   - it is an ICMP error (it only informs sockets that already exist);
 * otherwise it is refused, and the caller answers with ICMP
 * "administratively prohibited" so the sender fails fast.
 *
 * Rule syntax (`serve --allow RULE`, repeatable):
 *   PEER:PROTO[/PORT[-PORT]]
 *   PEER   a member's name or node id, or * for every member
 *   PROTO  tcp, udp, icmp (echo: ping) or any; ports only with tcp or udp
 * e.g. "*:icmp", "matt:tcp/22", "ana:udp/5000-5100", "rob:any".
 *
 * Flow tracking is a fixed table allocated at init (no allocation per
 * packet); when full, the oldest flow in a probe window gives way.
 * Times are the caller's (milliseconds), so the rules are testable. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "overlay/packet.h"

#define OVERLAY_FW_MAX_RULES 64
#define OVERLAY_FW_PEER_MAX 64          /* a rule's PEER, bytes */
#define OVERLAY_FW_FLOWS 4096           /* tracked flows */
#define OVERLAY_FW_TCP_IDLE_MS (15 * 60 * 1000)
#define OVERLAY_FW_UDP_IDLE_MS (3 * 60 * 1000)
#define OVERLAY_FW_ICMP_IDLE_MS (30 * 1000)

enum overlay_fw_proto { OVERLAY_FW_ANY, OVERLAY_FW_TCP, OVERLAY_FW_UDP, OVERLAY_FW_ICMP };

struct overlay_fw_rule {
	char peer[OVERLAY_FW_PEER_MAX + 1];     /* "*" for any member */
	enum overlay_fw_proto proto;
	uint16_t port_lo, port_hi;              /* 0-65535 when none given */
};

struct overlay_fw_flow;

struct overlay_fw {
	struct overlay_fw_rule rules[OVERLAY_FW_MAX_RULES];
	unsigned num_rules;
	struct overlay_fw_flow *flows;          /* owned; OVERLAY_FW_FLOWS */
};

/* overlay_fw_parse_rule parses one rule. Returns 0, or -EINVAL with the
 * reason in err. */
int overlay_fw_parse_rule(const char *s, struct overlay_fw_rule *out, char *err, size_t err_len);

/* overlay_fw_init empties fw and allocates its flow table: 0 or -ENOMEM.
 * overlay_fw_free releases it. */
int overlay_fw_init(struct overlay_fw *fw);
void overlay_fw_free(struct overlay_fw *fw);

/* overlay_fw_add adds a rule: 0, or -ENOSPC past OVERLAY_FW_MAX_RULES. */
int overlay_fw_add(struct overlay_fw *fw, const struct overlay_fw_rule *r);

/* overlay_fw_outbound records the flow of a packet this node sends (pkt
 * parsed into ip) at time now_ms. */
void overlay_fw_outbound(struct overlay_fw *fw, const uint8_t *pkt, const struct overlay_ip *ip, uint64_t now_ms);

/* overlay_fw_inbound decides a packet from the member called name (or
 * with node id id): true when it may pass. */
bool overlay_fw_inbound(struct overlay_fw *fw, const char *name, const char *id, const uint8_t *pkt,
			const struct overlay_ip *ip, uint64_t now_ms);

#endif
