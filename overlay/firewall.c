/* overlay/firewall.c: see firewall.h. */
#include "overlay/firewall.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"

#define PROBE 8 /* slots a flow may sit in from its hash */

struct overlay_fw_flow {
	uint64_t expires_ms;    /* 0: empty */
	uint8_t family, proto;
	uint16_t rport, lport;  /* ICMP echo: lport is the echo id, rport 0 */
	uint8_t raddr[16];
};

/* What a packet is, as the firewall sees it. */
struct l4 {
	enum overlay_fw_proto proto;    /* OVERLAY_FW_ANY: something else */
	uint8_t ipproto;
	bool has_ports, icmp_echo, icmp_echo_reply, icmp_error;
	uint16_t sport, dport;          /* ICMP echo: both are the id */
};

static struct l4 classify(const uint8_t *pkt, const struct overlay_ip *ip)
{
	struct l4 l = {.proto = OVERLAY_FW_ANY, .ipproto = ip->proto};
	const uint8_t *p = pkt + ip->hdr_len;
	size_t left = ip->len - ip->hdr_len;
	if (ip->frag_off)
		return l; /* a later fragment has no transport header */
	if (ip->proto == 6 || ip->proto == 17) {
		l.proto = ip->proto == 6 ? OVERLAY_FW_TCP : OVERLAY_FW_UDP;
		if (left >= 4) {
			l.has_ports = true;
			l.sport = core_get_be16(p);
			l.dport = core_get_be16(p + 2);
		}
	} else if ((ip->version == 4 && ip->proto == 1) || (ip->version == 6 && ip->proto == 58)) {
		l.proto = OVERLAY_FW_ICMP;
		if (left >= 8) {
			uint8_t t = p[0];
			bool v4 = ip->version == 4;
			l.icmp_echo = v4 ? t == 8 : t == 128;
			l.icmp_echo_reply = v4 ? t == 0 : t == 129;
			l.icmp_error = v4 ? (t == 3 || t == 4 || t == 5 || t == 11 || t == 12) : (t >= 1 && t <= 4);
			l.sport = l.dport = core_get_be16(p + 4);
		}
	}
	return l;
}

int overlay_fw_parse_rule(const char *s, struct overlay_fw_rule *out, char *err, size_t err_len)
{
	memset(out, 0, sizeof *out);
	const char *colon = s ? strrchr(s, ':') : NULL;
	if (!colon || colon == s) {
		snprintf(err, err_len, "'%s': expected PEER:PROTO[/PORT[-PORT]], e.g. matt:tcp/22 or *:icmp", s ? s : "");
		return -EINVAL;
	}
	size_t pl = (size_t)(colon - s);
	if (pl > OVERLAY_FW_PEER_MAX) {
		snprintf(err, err_len, "'%s': the peer is longer than %d bytes", s, OVERLAY_FW_PEER_MAX);
		return -EINVAL;
	}
	memcpy(out->peer, s, pl);
	for (size_t i = 0; i < pl; i++) {
		char c = out->peer[i];
		if (!(c == '*' && pl == 1) && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
		    c != '-' && c != '_' && c != '.') {
			snprintf(err, err_len, "'%s': the peer must be a name, a node id or *", s);
			return -EINVAL;
		}
	}
	const char *proto = colon + 1, *slash = strchr(proto, '/');
	size_t prl = slash ? (size_t)(slash - proto) : strlen(proto);
	static const struct {
		const char *name;
		enum overlay_fw_proto p;
	} names[] = {{"any", OVERLAY_FW_ANY}, {"tcp", OVERLAY_FW_TCP}, {"udp", OVERLAY_FW_UDP}, {"icmp", OVERLAY_FW_ICMP}};
	bool found = false;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i].name) == prl && !strncmp(proto, names[i].name, prl)) {
			out->proto = names[i].p;
			found = true;
		}
	if (!found) {
		snprintf(err, err_len, "'%s': the protocol must be tcp, udp, icmp or any", s);
		return -EINVAL;
	}
	out->port_lo = 0;
	out->port_hi = 65535;
	if (!slash)
		return 0;
	if (out->proto != OVERLAY_FW_TCP && out->proto != OVERLAY_FW_UDP) {
		snprintf(err, err_len, "'%s': ports go with tcp or udp only", s);
		return -EINVAL;
	}
	unsigned long lo, hi;
	char *end;
	const char *p = slash + 1;
	if (*p < '0' || *p > '9')
		goto bad_port;
	lo = strtoul(p, &end, 10);
	hi = lo;
	if (*end == '-') {
		p = end + 1;
		if (*p < '0' || *p > '9')
			goto bad_port;
		hi = strtoul(p, &end, 10);
	}
	if (*end || lo > 65535 || hi > 65535 || lo > hi)
		goto bad_port;
	out->port_lo = (uint16_t)lo;
	out->port_hi = (uint16_t)hi;
	return 0;
bad_port:
	snprintf(err, err_len, "'%s': a port is 0-65535, a range LOW-HIGH with LOW <= HIGH", s);
	return -EINVAL;
}

int overlay_fw_init(struct overlay_fw *fw)
{
	memset(fw, 0, sizeof *fw);
	fw->flows = calloc(OVERLAY_FW_FLOWS, sizeof *fw->flows);
	return fw->flows ? 0 : -ENOMEM;
}

void overlay_fw_free(struct overlay_fw *fw)
{
	free(fw->flows);
	fw->flows = NULL;
	fw->num_rules = 0;
}

int overlay_fw_add(struct overlay_fw *fw, const struct overlay_fw_rule *r)
{
	if (fw->num_rules == OVERLAY_FW_MAX_RULES)
		return -ENOSPC;
	fw->rules[fw->num_rules++] = *r;
	return 0;
}

static void make_key(struct overlay_fw_flow *k, int family, uint8_t proto, const uint8_t *raddr, uint16_t rport,
		     uint16_t lport)
{
	memset(k, 0, sizeof *k);
	k->family = (uint8_t)family;
	k->proto = proto;
	memcpy(k->raddr, raddr, family == 4 ? 4 : 16);
	k->rport = rport;
	k->lport = lport;
}

static uint32_t key_hash(const struct overlay_fw_flow *k)
{
	uint32_t h = 2166136261u;
	const uint8_t *b = (const uint8_t *)&k->family;
	size_t n = sizeof *k - offsetof(struct overlay_fw_flow, family);
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static bool same(const struct overlay_fw_flow *a, const struct overlay_fw_flow *b)
{
	return !memcmp(&a->family, &b->family, sizeof *a - offsetof(struct overlay_fw_flow, family));
}

static uint64_t idle_ms(uint8_t ipproto)
{
	return ipproto == 6 ? OVERLAY_FW_TCP_IDLE_MS : ipproto == 17 ? OVERLAY_FW_UDP_IDLE_MS : OVERLAY_FW_ICMP_IDLE_MS;
}

void overlay_fw_outbound(struct overlay_fw *fw, const uint8_t *pkt, const struct overlay_ip *ip, uint64_t now_ms)
{
	if (!fw->num_rules || !fw->flows)
		return; /* nothing is filtered: nothing to remember */
	struct l4 l = classify(pkt, ip);
	struct overlay_fw_flow k;
	if (l.has_ports)
		make_key(&k, ip->version, l.ipproto, ip->dst, l.dport, l.sport);
	else if (l.icmp_echo)
		make_key(&k, ip->version, l.ipproto, ip->dst, 0, l.sport);
	else
		return;
	k.expires_ms = now_ms + idle_ms(l.ipproto);
	uint32_t h = key_hash(&k);
	struct overlay_fw_flow *victim = NULL;
	for (unsigned i = 0; i < PROBE; i++) {
		struct overlay_fw_flow *f = &fw->flows[(h + i) % OVERLAY_FW_FLOWS];
		if (f->expires_ms && same(f, &k)) {
			f->expires_ms = k.expires_ms; /* refreshed */
			return;
		}
		if (!victim || f->expires_ms < victim->expires_ms)
			victim = f; /* empty (0) or expired first, else the oldest */
	}
	*victim = k;
}

static bool rule_matches(const struct overlay_fw_rule *r, const char *name, const char *id, const struct l4 *l)
{
	if (strcmp(r->peer, "*") && strcmp(r->peer, name) && strcmp(r->peer, id))
		return false;
	if (r->proto == OVERLAY_FW_ANY)
		return true;
	if (r->proto != l->proto)
		return false;
	if (r->proto == OVERLAY_FW_ICMP)
		return true;
	return l->has_ports && l->dport >= r->port_lo && l->dport <= r->port_hi;
}

bool overlay_fw_inbound(struct overlay_fw *fw, const char *name, const char *id, const uint8_t *pkt,
			const struct overlay_ip *ip, uint64_t now_ms)
{
	if (!fw->num_rules)
		return true;
	struct l4 l = classify(pkt, ip);
	if (l.icmp_error)
		return true;
	for (unsigned i = 0; i < fw->num_rules; i++)
		if (rule_matches(&fw->rules[i], name, id, &l))
			return true;
	struct overlay_fw_flow k;
	if (!fw->flows)
		return false;
	if (l.has_ports)
		make_key(&k, ip->version, l.ipproto, ip->src, l.sport, l.dport);
	else if (l.icmp_echo_reply)
		make_key(&k, ip->version, l.ipproto, ip->src, 0, l.dport);
	else
		return false;
	uint32_t h = key_hash(&k);
	for (unsigned i = 0; i < PROBE; i++) {
		struct overlay_fw_flow *f = &fw->flows[(h + i) % OVERLAY_FW_FLOWS];
		if (f->expires_ms > now_ms && same(f, &k)) {
			f->expires_ms = now_ms + idle_ms(l.ipproto); /* an answered flow stays open */
			return true;
		}
	}
	return false;
}
