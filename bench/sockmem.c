/* TCP socket memory, the machine's and one process's: see bench/sockmem.h. */
#include "bench/sockmem.h"

#include <dirent.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/stats.h"

int bench_sockstat_parse(const char *text, uint64_t *out_pages)
{
	/* "TCP: inuse 1 orphan 0 tw 11 alloc 24 mem 0" */
	const char *line = strstr(text, "TCP: ");
	if (!line || (line != text && line[-1] != '\n'))
		return -EINVAL;
	const char *end = strchr(line, '\n');
	size_t len = end ? (size_t)(end - line) : strlen(line);
	for (const char *p = line; p + 5 <= line + len; p++) {
		if (strncmp(p, " mem ", 5) != 0)
			continue;
		char *stop;
		errno = 0;
		unsigned long long v = strtoull(p + 5, &stop, 10);
		if (stop == p + 5 || errno)
			return -EINVAL;
		*out_pages = v;
		return 0;
	}
	return -EINVAL;
}

/* Reads a small /proc file into buf (NUL-terminated). Returns 0 or -errno. */
static int read_small(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	size_t n = fread(buf, 1, cap - 1, f);
	int err = ferror(f) ? -EIO : 0;
	fclose(f);
	buf[n] = '\0';
	return err;
}

int bench_sockstat_tcp_bytes(uint64_t *out)
{
	char buf[1024];
	uint64_t pages;
	int err = read_small("/proc/net/sockstat", buf, sizeof buf);
	if (!err)
		err = bench_sockstat_parse(buf, &pages);
	if (err)
		return err;
	*out = pages * (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}

int bench_tcp_mem_pressure_bytes(uint64_t *out)
{
	char buf[128];
	unsigned long long lo, pressure, hi;
	int err = read_small("/proc/sys/net/ipv4/tcp_mem", buf, sizeof buf);
	if (err)
		return err;
	if (sscanf(buf, "%llu %llu %llu", &lo, &pressure, &hi) != 3)
		return -EINVAL;
	*out = (uint64_t)pressure * (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}

int bench_sockset_load(struct bench_sockset *set, int pid)
{
	char path[64], link[64];
	size_t cap = 0;
	int err = 0;
	set->ino = NULL;
	set->num = 0;
	snprintf(path, sizeof path, "/proc/%d/fd", pid);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	for (struct dirent *e; (e = readdir(d));) {
		unsigned long long ino;
		if (e->d_name[0] == '.')
			continue;
		ssize_t n = readlinkat(dirfd(d), e->d_name, link, sizeof link - 1);
		if (n <= 0)
			continue; /* closed meanwhile */
		link[n] = '\0';
		if (sscanf(link, "socket:[%llu]", &ino) != 1)
			continue;
		if (set->num == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			uint64_t *p = realloc(set->ino, ncap * sizeof *p);
			if (!p) {
				err = -ENOMEM;
				break;
			}
			set->ino = p;
			cap = ncap;
		}
		set->ino[set->num++] = ino;
	}
	closedir(d);
	if (err) {
		bench_sockset_cleanup(set);
		return err;
	}
	bench_sort_u64(set->ino, set->num);
	return (int)set->num;
}

void bench_sockset_cleanup(struct bench_sockset *set)
{
	free(set->ino);
	set->ino = NULL;
	set->num = 0;
}

static int has_ino(const struct bench_sockset *set, uint64_t ino)
{
	size_t lo = 0, hi = set->num;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (set->ino[mid] < ino)
			lo = mid + 1;
		else if (set->ino[mid] > ino)
			hi = mid;
		else
			return 1;
	}
	return 0;
}

/* One dump of family's TCP sockets (every state) with their memory;
 * adds those in set. Returns the count found, or -errno. */
static int dump_family(int fd, uint8_t family, const struct bench_sockset *set, uint64_t *sum)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nh = {.nlmsg_len = sizeof msg, .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
		.req = {.sdiag_family = family, .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0u,
			.idiag_ext = 1u << (INET_DIAG_SKMEMINFO - 1)},
	};
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
	if (sendto(fd, &msg, sizeof msg, 0, (struct sockaddr *)&nl, sizeof nl) < 0)
		return -errno;
	static _Alignas(struct nlmsghdr) char buf[64 * 1024];
	int found = 0;
	/* Bounded: a dump of a million sockets is under 4,000 reads of 64 KiB. */
	for (unsigned reads = 0; reads < 100000u; reads++) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		size_t len = (size_t)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return found;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				return e->error ? e->error : -EIO;
			}
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			if (!has_ino(set, m->idiag_inode))
				continue;
			int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
			for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				if (a->rta_type != INET_DIAG_SKMEMINFO ||
				    RTA_PAYLOAD(a) < SK_MEMINFO_WMEM_QUEUED * sizeof(uint32_t) + sizeof(uint32_t))
					continue;
				const uint32_t *mi = RTA_DATA(a);
				*sum += (uint64_t)mi[SK_MEMINFO_RMEM_ALLOC] + mi[SK_MEMINFO_FWD_ALLOC] +
					mi[SK_MEMINFO_WMEM_QUEUED];
				found++;
			}
		}
	}
	return -EIO;
}

int bench_sockset_tcp_bytes(const struct bench_sockset *set, uint64_t *out)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	uint64_t sum = 0;
	int n4 = dump_family(fd, AF_INET, set, &sum);
	int n6 = n4 < 0 ? n4 : dump_family(fd, AF_INET6, set, &sum);
	close(fd);
	if (n6 < 0)
		return n6;
	*out = sum;
	return n4 + n6;
}
