/* stun/nat.c: NAT behaviour discovery; see nat.h.
 *
 *   stun_discover (test I to every server, caller's socket)
 *        │  M1 = mapped address seen by the RFC 5780 server S (ip1:port1),
 *        │  O  = S's OTHER-ADDRESS (ip2:port2)
 *        ├── caller's socket ── mapping II:  to ip2:port1 → M2
 *        │                  ── mapping III: to ip2:port2 → M3
 *        │                  ── hairpin:     to M1, expecting our own request
 *        └── fresh socket   ── filtering I:   to ip1:port1 (control)
 *                           ── filtering II:  to ip1:port1, answer from ip2:port2
 *                           ── filtering III: to ip1:port1, answer from ip1:port2
 *
 *   mapping   (RFC 5780 §4.3): M2 == M1: endpoint-independent;
 *                              else M3 == M2: address-dependent;
 *                              else address-and-port-dependent.
 *   filtering (RFC 5780 §4.4): II answered: endpoint-independent;
 *                              else III answered: address-dependent;
 *                              else (I answered) address-and-port-dependent. */
#include "stun/nat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/reactor.h"
#include "core/udp.h"

const char *stun_nat_type_name(enum stun_nat_type t)
{
	switch (t) {
	case STUN_NAT_OPEN:
		return "open";
	case STUN_NAT_FULL_CONE:
		return "full_cone";
	case STUN_NAT_RESTRICTED_CONE:
		return "restricted_cone";
	case STUN_NAT_PORT_RESTRICTED:
		return "port_restricted";
	case STUN_NAT_SYMMETRIC:
		return "symmetric";
	case STUN_NAT_UDP_BLOCKED:
		return "udp_blocked";
	case STUN_NAT_FIREWALLED:
		return "firewalled";
	default:
		return "unknown";
	}
}

const char *stun_nat_mapping_name(enum stun_nat_mapping m)
{
	switch (m) {
	case STUN_MAPPING_ENDPOINT_INDEPENDENT:
		return "endpoint_independent";
	case STUN_MAPPING_ADDRESS_DEPENDENT:
		return "address_dependent";
	case STUN_MAPPING_ADDRESS_AND_PORT_DEPENDENT:
		return "address_and_port_dependent";
	case STUN_MAPPING_ENDPOINT_DEPENDENT:
		return "endpoint_dependent";
	default:
		return "unknown";
	}
}

const char *stun_port_pattern_name(enum stun_port_pattern p)
{
	switch (p) {
	case STUN_PORTS_PRESERVING:
		return "preserving";
	case STUN_PORTS_SEQUENTIAL:
		return "sequential";
	case STUN_PORTS_RANDOM:
		return "random";
	default:
		return "unknown";
	}
}

/* The step from port a to port b, mod 65536, as -32768..32767. */
static int port_step(uint16_t a, uint16_t b)
{
	int d = ((int)b - (int)a) & 0xffff;
	return d >= 0x8000 ? d - 0x10000 : d;
}

enum stun_port_pattern stun_port_pattern_classify(const uint16_t *local, const uint16_t *mapped, size_t n, int *stride)
{
	size_t same = 0;
	if (stride)
		*stride = 0;
	if (n < STUN_PORT_MIN_SAMPLES)
		return STUN_PORTS_UNKNOWN;
	for (size_t i = 0; i < n; i++)
		same += mapped[i] == local[i];
	if (same == n)
		return STUN_PORTS_PRESERVING;
	/* The stride: the step most of them take (with n >= 3 there are at
	 * least two steps; the first two that agree name it). */
	int s = 0;
	for (size_t i = 1; i + 1 < n && !s; i++)
		for (size_t k = i + 1; k < n && !s; k++)
			if (port_step(mapped[i - 1], mapped[i]) == port_step(mapped[k - 1], mapped[k]))
				s = port_step(mapped[i - 1], mapped[i]);
	if (!s || s > STUN_PORT_MAX_STRIDE || s < -STUN_PORT_MAX_STRIDE)
		return STUN_PORTS_RANDOM;
	size_t odd = 0;
	for (size_t i = 1; i < n; i++) {
		int d = port_step(mapped[i - 1], mapped[i]);
		if (d == s)
			continue;
		if (d % s || d / s < 2 || d / s > 4)
			return STUN_PORTS_RANDOM;
		odd++;
	}
	if (odd > 1)
		return STUN_PORTS_RANDOM;
	if (stride)
		*stride = s;
	return STUN_PORTS_SEQUENTIAL;
}

const char *stun_nat_filtering_name(enum stun_nat_filtering f)
{
	switch (f) {
	case STUN_FILTERING_ENDPOINT_INDEPENDENT:
		return "endpoint_independent";
	case STUN_FILTERING_ADDRESS_DEPENDENT:
		return "address_dependent";
	case STUN_FILTERING_ADDRESS_AND_PORT_DEPENDENT:
		return "address_and_port_dependent";
	default:
		return "unknown";
	}
}

enum stun_nat_type stun_nat_classify(bool answered, bool no_nat, enum stun_nat_mapping mapping,
				     enum stun_nat_filtering filtering, bool *out_estimated)
{
	*out_estimated = false;
	if (!answered)
		return STUN_NAT_UDP_BLOCKED;
	if (no_nat)
		return STUN_NAT_OPEN;
	switch (mapping) {
	case STUN_MAPPING_ADDRESS_DEPENDENT:
	case STUN_MAPPING_ADDRESS_AND_PORT_DEPENDENT:
	case STUN_MAPPING_ENDPOINT_DEPENDENT:
		return STUN_NAT_SYMMETRIC;
	case STUN_MAPPING_ENDPOINT_INDEPENDENT:
		break;
	default:
		return STUN_NAT_UNKNOWN;
	}
	switch (filtering) {
	case STUN_FILTERING_ENDPOINT_INDEPENDENT:
		return STUN_NAT_FULL_CONE;
	case STUN_FILTERING_ADDRESS_DEPENDENT:
		return STUN_NAT_RESTRICTED_CONE;
	case STUN_FILTERING_ADDRESS_AND_PORT_DEPENDENT:
		return STUN_NAT_PORT_RESTRICTED;
	default:
		/* Assume the most restrictive cone: the traversal layer then
		 * does what works for all three. */
		*out_estimated = true;
		return STUN_NAT_PORT_RESTRICTED;
	}
}

enum stun_nat_type stun_nat_classify_ipv6(bool answered, bool no_nat, enum stun_nat_mapping mapping,
					  enum stun_nat_filtering filtering, bool *out_estimated)
{
	if (!answered || !no_nat)
		return stun_nat_classify(answered, no_nat, mapping, filtering, out_estimated);
	*out_estimated = false;
	switch (filtering) {
	case STUN_FILTERING_ENDPOINT_INDEPENDENT:
		return STUN_NAT_OPEN;
	case STUN_FILTERING_ADDRESS_DEPENDENT:
	case STUN_FILTERING_ADDRESS_AND_PORT_DEPENDENT:
		return STUN_NAT_FIREWALLED;
	default:
		*out_estimated = true;
		return STUN_NAT_OPEN;
	}
}

static bool same_ip(const struct stun_addr *a, const struct stun_addr *b)
{
	return a->family == b->family && memcmp(a->ip, b->ip, stun_addr_ip_len(a)) == 0;
}

static void set_probe_to(struct stun_probe *p, const struct stun_addr *ip_from, uint16_t port)
{
	struct stun_addr a = *ip_from;
	a.port = port;
	stun_addr_to_sockaddr(&p->to, &p->to_len, &a);
}

/* pick_rfc5780 returns the index of the first server whose answer offers a
 * usable OTHER-ADDRESS (another ip and another port), or SIZE_MAX. */
static size_t pick_rfc5780(const struct stun_discovery *d)
{
	for (size_t i = 0; i < d->num_servers; i++) {
		const struct stun_probe *p = &d->servers[i].probe;
		struct stun_addr srv;
		if (p->status != 0 || !p->has_other || d->servers[i].ep.err ||
		    stun_addr_from_sockaddr(&srv, (const struct sockaddr *)&d->servers[i].ep.addr,
					    d->servers[i].ep.addr_len) != STUN_OK)
			continue;
		if (p->other.family == srv.family && !same_ip(&p->other, &srv) && p->other.port != srv.port)
			return i;
	}
	return SIZE_MAX;
}

/* estimate_mapping compares what different servers saw (no RFC 5780 server). */
static enum stun_nat_mapping estimate_mapping(const struct stun_discovery *d)
{
	enum stun_nat_mapping m = STUN_MAPPING_UNKNOWN;
	bool same_from_two_ips = false;

	for (size_t i = 0; i < d->num_servers; i++) {
		const struct stun_server_result *a = &d->servers[i];
		struct stun_addr sa, sb;
		if (a->probe.status != 0 ||
		    stun_addr_from_sockaddr(&sa, (const struct sockaddr *)&a->ep.addr, a->ep.addr_len) != STUN_OK)
			continue;
		for (size_t j = i + 1; j < d->num_servers; j++) {
			const struct stun_server_result *b = &d->servers[j];
			if (b->probe.status != 0 ||
			    stun_addr_from_sockaddr(&sb, (const struct sockaddr *)&b->ep.addr, b->ep.addr_len) != STUN_OK ||
			    stun_addr_equal(&sa, &sb))
				continue;
			if (!stun_addr_equal(&a->probe.mapped, &b->probe.mapped)) {
				/* Same server ip, other port, other mapping: the
				 * port alone changes the mapping. */
				if (same_ip(&sa, &sb))
					return STUN_MAPPING_ADDRESS_AND_PORT_DEPENDENT;
				m = STUN_MAPPING_ENDPOINT_DEPENDENT;
			} else if (!same_ip(&sa, &sb)) {
				same_from_two_ips = true;
			}
		}
	}
	if (m == STUN_MAPPING_UNKNOWN && same_from_two_ips)
		m = STUN_MAPPING_ENDPOINT_INDEPENDENT;
	return m;
}

/* The filtering tests run on their own socket in their own coroutine, at
 * the same time as the mapping tests. */
struct side_run {
	struct core_udp *u;
	struct stun_probe *probes;
	size_t num;
	const struct stun_client_opts *o;
	int rc;
	bool done;
	struct core_coro *parent;
	bool parent_parked;
};

static void side_main(void *arg)
{
	struct side_run *s = arg;
	s->rc = stun_client_run(s->u, s->probes, s->num, s->o);
	s->done = true;
	if (s->parent_parked)
		core_unpark(s->parent, 0);
}

/* open_fresh binds a new socket of u's family on the wildcard, port 0. */
static struct core_udp *open_fresh(struct core_udp *u, int *err)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof a;

	if (getsockname(core_udp_fd(u), (struct sockaddr *)&a, &len) != 0) {
		*err = -errno;
		return NULL;
	}
	struct stun_addr any = { .family = a.ss_family == AF_INET6 ? STUN_FAMILY_IPV6 : STUN_FAMILY_IPV4 };
	stun_addr_to_sockaddr(&a, &len, &any);
	int fd = core_udp_bind((struct sockaddr *)&a, len, false);
	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	return core_udp_new(fd, err);
}

static enum stun_nat_filtering judge_filtering(const struct stun_nat_report *r, const struct stun_addr *srv,
					       const struct stun_addr *other, char *note, size_t cap)
{
	const struct stun_probe *f1 = &r->tests[STUN_NAT_TEST_FILTERING_I];
	const struct stun_probe *f2 = &r->tests[STUN_NAT_TEST_FILTERING_II];
	const struct stun_probe *f3 = &r->tests[STUN_NAT_TEST_FILTERING_III];

	if (f2->status == -EPROTO || f3->status == -EPROTO) {
		snprintf(note, cap, "the RFC 5780 server refused CHANGE-REQUEST (error %u): filtering not tested",
			 f2->status == -EPROTO ? f2->error_code : f3->error_code);
		return STUN_FILTERING_UNKNOWN;
	}
	/* An answer counts only if it really came from where we asked. */
	if (f2->status == 0 && same_ip(&f2->from, other) && f2->from.port == other->port)
		return STUN_FILTERING_ENDPOINT_INDEPENDENT;
	if (f3->status == 0 && same_ip(&f3->from, srv) && f3->from.port == other->port)
		return STUN_FILTERING_ADDRESS_DEPENDENT;
	if (f1->status == 0)
		return STUN_FILTERING_ADDRESS_AND_PORT_DEPENDENT;
	snprintf(note, cap, "the filtering tests got no answer at all (the server stopped answering?)");
	return STUN_FILTERING_UNKNOWN;
}

int stun_nat_discover(struct core_udp *u, const struct stun_endpoint *servers, size_t num,
		      const struct stun_client_opts *o, struct stun_nat_report *out)
{
	struct stun_discovery *d = &out->disc;
	struct stun_client_opts po = *o;
	struct core_udp *fresh = NULL;
	struct stun_addr srv, other, m1;
	int rc;

	memset(out, 0, sizeof *out);
	out->hairpinning = -1;
	out->port_preserving = -1;
	out->rfc5780_server = SIZE_MAX;
	for (size_t i = 0; i < STUN_NAT_NUM_TESTS; i++)
		out->tests[i].status = -EINPROGRESS;
	rc = stun_discover(u, servers, num, o, d);
	if (rc < 0)
		return rc;
	if (d->status != 0) {
		out->type = stun_nat_classify(false, false, STUN_MAPPING_UNKNOWN, STUN_FILTERING_UNKNOWN, &out->estimated);
		if (d->status == -ENOENT) {
			out->type = STUN_NAT_UNKNOWN;
			snprintf(out->note, sizeof out->note, "no STUN server name could be resolved");
		}
		return 0;
	}
	out->port_preserving = d->mapped.port == d->local.port;

	/* Phase 2: every test at once; negative results need the whole
	 * timeout, so wait for all of them. */
	po.settle_ms = -1;
	struct stun_probe *t = out->tests;
	size_t s = pick_rfc5780(d);
	struct side_run side = { .parent = core_coro_current(), .o = &po, .done = true };
	if (s != SIZE_MAX) {
		out->rfc5780 = true;
		out->rfc5780_server = s;
		stun_addr_from_sockaddr(&srv, (const struct sockaddr *)&d->servers[s].ep.addr, d->servers[s].ep.addr_len);
		other = d->servers[s].probe.other;
		m1 = d->servers[s].probe.mapped;
		set_probe_to(&t[STUN_NAT_TEST_MAPPING_II], &other, srv.port);
		set_probe_to(&t[STUN_NAT_TEST_MAPPING_III], &other, other.port);
		for (size_t i = STUN_NAT_TEST_FILTERING_I; i <= STUN_NAT_TEST_FILTERING_III; i++)
			set_probe_to(&t[i], &srv, srv.port);
		t[STUN_NAT_TEST_FILTERING_II].change = STUN_CHANGE_IP | STUN_CHANGE_PORT;
		t[STUN_NAT_TEST_FILTERING_III].change = STUN_CHANGE_PORT;
		int err = 0;
		fresh = open_fresh(u, &err);
		if (fresh) {
			side.u = fresh;
			side.probes = &t[STUN_NAT_TEST_FILTERING_I];
			side.num = 3;
			side.done = false;
			if (core_spawn(side_main, &side) != 0)
				side.done = true;
		}
		if (side.done)
			snprintf(out->note, sizeof out->note, "could not open a second socket for the filtering tests: %s",
				 strerror(-err));
	}
	struct stun_addr self = d->mapped;
	set_probe_to(&t[STUN_NAT_TEST_HAIRPIN], &self, self.port);
	t[STUN_NAT_TEST_HAIRPIN].hairpin = true;
	if (out->rfc5780)
		rc = stun_client_run(u, &t[STUN_NAT_TEST_MAPPING_II], 3, &po);
	else
		rc = stun_client_run(u, &t[STUN_NAT_TEST_HAIRPIN], 1, &po);
	/* The side coroutine uses this stack: never leave before it ends. */
	while (!side.done) {
		side.parent_parked = true;
		int r = core_park(-1);
		side.parent_parked = false;
		if (r == -ECANCELED && !side.done)
			core_yield(); /* torn down: park returns at once; let it finish */
	}
	core_udp_close(fresh);
	if (rc < 0)
		return rc;
	if (side.rc < 0 && side.rc != -ECANCELED)
		snprintf(out->note, sizeof out->note, "filtering tests: socket error: %s", strerror(-side.rc));
	if (side.rc == -ECANCELED)
		return -ECANCELED;

	/* Mapping. */
	if (d->no_nat) {
		out->mapping = STUN_MAPPING_ENDPOINT_INDEPENDENT;
	} else if (out->rfc5780 && t[STUN_NAT_TEST_MAPPING_II].status == 0) {
		const struct stun_probe *m2 = &t[STUN_NAT_TEST_MAPPING_II], *m3 = &t[STUN_NAT_TEST_MAPPING_III];
		if (stun_addr_equal(&m2->mapped, &m1))
			out->mapping = STUN_MAPPING_ENDPOINT_INDEPENDENT;
		else if (m3->status == 0)
			out->mapping = stun_addr_equal(&m3->mapped, &m2->mapped) ? STUN_MAPPING_ADDRESS_DEPENDENT
										 : STUN_MAPPING_ADDRESS_AND_PORT_DEPENDENT;
		else
			out->mapping = STUN_MAPPING_ENDPOINT_DEPENDENT;
	} else {
		out->mapping = estimate_mapping(d);
		if (out->mapping == STUN_MAPPING_UNKNOWN && !out->note[0])
			snprintf(out->note, sizeof out->note,
				 "mapping unknown: it needs an RFC 5780 server (one offering OTHER-ADDRESS) or "
				 "answers from two servers on different addresses");
	}

	/* Filtering. */
	if (out->rfc5780 && fresh)
		out->filtering = judge_filtering(out, &srv, &other, out->note, sizeof out->note);
	else if (!out->note[0])
		snprintf(out->note, sizeof out->note,
			 "filtering not tested: no server offered RFC 5780 (OTHER-ADDRESS); the type assumes the "
			 "most restrictive cone");

	/* Hairpinning: a send error says nothing either way. */
	if (t[STUN_NAT_TEST_HAIRPIN].status == 0)
		out->hairpinning = 1;
	else if (t[STUN_NAT_TEST_HAIRPIN].status == -ETIMEDOUT)
		out->hairpinning = 0;

	if (d->mapped.family == STUN_FAMILY_IPV6) {
		out->type = stun_nat_classify_ipv6(true, d->no_nat, out->mapping, out->filtering, &out->estimated);
		if (d->no_nat && out->filtering == STUN_FILTERING_UNKNOWN)
			snprintf(out->note, sizeof out->note,
				 "no NAT on IPv6; whether a firewall filters unsolicited inbound traffic is not known: "
				 "no server offered RFC 5780 (OTHER-ADDRESS) over IPv6");
	} else {
		out->type = stun_nat_classify(true, d->no_nat, out->mapping, out->filtering, &out->estimated);
	}
	return 0;
}
