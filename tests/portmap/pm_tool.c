/* tests/portmap/pm_tool.c: drives portmap/ for the lab test (lab.sh).
 *
 *   pm_tool map PORT PROTOS [LIFETIME]   bind UDP PORT, map it (PROTOS: pcp,
 *                                        natpmp, upnp, all, comma-separated),
 *                                        echo every datagram back with "echo:"
 *                                        in front; SIGTERM deletes and exits
 *   pm_tool probe [TIMEOUT_MS]           what the gateway offers
 *
 * Lines on stdout: "mapped PROTO IP:PORT LIFETIME", "lost", "echoed FROM",
 * "stopped"; the portmap log (debug) goes to stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "portmap/portmap.h"

static void on_change(void *arg, const struct portmap_mapping *m)
{
	(void)arg;
	if (!m->proto) {
		printf("lost\n");
	} else {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &m->external.sin_addr, ip, sizeof ip);
		printf("mapped %s %s:%u %u\n", portmap_proto_name(m->proto), ip, ntohs(m->external.sin_port), m->lifetime_s);
	}
	fflush(stdout);
}

static unsigned parse_protos(const char *s)
{
	unsigned m = 0;
	if (strstr(s, "pcp"))
		m |= PORTMAP_PCP;
	if (strstr(s, "natpmp"))
		m |= PORTMAP_NATPMP;
	if (strstr(s, "upnp"))
		m |= PORTMAP_UPNP;
	if (strstr(s, "all"))
		m |= PORTMAP_ALL;
	return m;
}

static int do_map(uint16_t port, unsigned protos, uint32_t lifetime)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		fprintf(stderr, "pm_tool: bind UDP %u: %s\n", port, strerror(errno));
		return 1;
	}
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	int sfd = signalfd(-1, &ss, SFD_CLOEXEC);
	struct portmap_opts o = {.internal_port = port, .protos = protos, .lifetime_s = lifetime, .notify = on_change};
	int err = 0;
	struct portmap *pm = portmap_start(&o, &err);
	if (!pm) {
		fprintf(stderr, "pm_tool: portmap_start: %s\n", strerror(-err));
		return 1;
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN)
			break;
		if (p[0].revents & POLLIN) {
			uint8_t buf[1500];
			memcpy(buf, "echo:", 5);
			struct sockaddr_in from;
			socklen_t fl = sizeof from;
			ssize_t n = recvfrom(fd, buf + 5, sizeof buf - 5, 0, (struct sockaddr *)&from, &fl);
			if (n >= 0) {
				sendto(fd, buf, (size_t)n + 5, 0, (struct sockaddr *)&from, fl);
				char ip[INET_ADDRSTRLEN];
				inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
				printf("echoed %s:%u\n", ip, ntohs(from.sin_port));
				fflush(stdout);
			}
		}
	}
	portmap_stop(pm);
	printf("stopped\n");
	fflush(stdout);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	core_log_set_level(CORE_LOG_DEBUG);
	if (argc >= 4 && !strcmp(argv[1], "map"))
		return do_map((uint16_t)atoi(argv[2]), parse_protos(argv[3]), argc > 4 ? (uint32_t)atoi(argv[4]) : 0);
	if (argc >= 2 && !strcmp(argv[1], "probe")) {
		struct portmap_probe p;
		int r = portmap_probe(&p, argc > 2 ? (unsigned)atoi(argv[2]) : 2000);
		if (r < 0) {
			printf("probe: %s\n", strerror(-r));
			return 1;
		}
		printf("pcp=%d natpmp=%d upnp=%d natpmp_ip=%s upnp_ip=%s\n", p.pcp, p.natpmp, p.upnp, p.natpmp_ip, p.upnp_ip);
		return 0;
	}
	fprintf(stderr, "usage: pm_tool map PORT PROTOS [LIFETIME] | pm_tool probe [TIMEOUT_MS]\n");
	return 2;
}
