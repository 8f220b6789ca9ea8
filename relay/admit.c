/* Admission: which connections the relay takes (the descriptor budget,
 * the per-address cap) and the one place that gives their count back; the
 * log limits for what strangers cause. */
#include "relay/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "net/addr.h"
#include "relay/http.h"


void relay_addr_key(const struct sockaddr_storage *a, uint8_t out[16])
{
	net_addr_key((const struct sockaddr *)a, sizeof *a, out);
}

static unsigned addr_bucket(const uint8_t k[16])
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ k[i]) * 16777619u;
	return h % RELAY_IP_BUCKETS;
}

/* Returns false when the source is over its limit. The count is per
 * net_addr_key_limit: an IPv4 address, or an IPv6 /64 (net/addr.h says why). */
static bool ip_acquire(struct relay_server *srv, const uint8_t key[16])
{
	bool ok = true;
	uint8_t k[16];
	net_addr_key_limit(key, k);
	unsigned b = addr_bucket(k);
	pthread_mutex_lock(&srv->ip_lock);
	struct ip_count *c = srv->ips[b];
	while (c && memcmp(c->addr, k, 16))
		c = c->next;
	if (!c) {
		c = calloc(1, sizeof *c);
		if (c) {
			memcpy(c->addr, k, 16);
			c->next = srv->ips[b];
			srv->ips[b] = c;
		}
	}
	if (!c || c->count >= srv->o.max_conns_per_ip)
		ok = false;
	else
		c->count++;
	pthread_mutex_unlock(&srv->ip_lock);
	return ok;
}

static void ip_release(struct relay_server *srv, const uint8_t key[16])
{
	uint8_t k[16];
	net_addr_key_limit(key, k);
	unsigned b = addr_bucket(k);
	pthread_mutex_lock(&srv->ip_lock);
	struct ip_count **pp = &srv->ips[b];
	while (*pp && memcmp((*pp)->addr, k, 16))
		pp = &(*pp)->next;
	if (*pp && --(*pp)->count == 0) {
		struct ip_count *dead = *pp;
		*pp = dead->next;
		free(dead);
	}
	pthread_mutex_unlock(&srv->ip_lock);
}

struct ip_count *relay_ip_entry(struct relay_server *srv, const uint8_t key[16])
{
	/* The entry is per net_addr_key_limit, as ip_acquire made it: an IPv6
	 * client's --ip-rate is its /64's. */
	uint8_t k[16];
	net_addr_key_limit(key, k);
	pthread_mutex_lock(&srv->ip_lock);
	struct ip_count *c = srv->ips[addr_bucket(k)];
	while (c && memcmp(c->addr, k, 16))
		c = c->next;
	pthread_mutex_unlock(&srv->ip_lock);
	return c;
}

struct core_log_limit relay_log_refused = {.burst = 10};
struct core_log_limit relay_log_protocol = {.burst = 10};
struct core_log_limit relay_log_accept = {.burst = 1};

const char *relay_addr_key_str(const uint8_t key[16], char out[static 46])
{
	return net_addr_key_str(key, out);
}

int relay_admit(struct relay_server *srv, const uint8_t key[16], unsigned slack)
{
	/* Count first, then check: two reactors cannot both take the last
	 * place. */
	if (atomic_fetch_add(&srv->connections, 1) >= srv->max_conns + slack) {
		atomic_fetch_sub(&srv->connections, 1);
		return RELAY_ADMIT_BUDGET;
	}
	if (key && !ip_acquire(srv, key)) {
		atomic_fetch_sub(&srv->connections, 1);
		return RELAY_ADMIT_PER_IP;
	}
	atomic_fetch_add(&srv->total_connections, 1);
	return RELAY_ADMITTED;
}

int relay_admit_addr(struct relay_server *srv, const uint8_t key[16])
{
	return ip_acquire(srv, key) ? RELAY_ADMITTED : RELAY_ADMIT_PER_IP;
}

void relay_release(struct relay_server *srv, const uint8_t key[16])
{
	atomic_fetch_sub(&srv->connections, 1);
	if (key)
		ip_release(srv, key);
}
