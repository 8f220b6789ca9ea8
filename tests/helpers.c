#include "helpers.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t t_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int t_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and the DIR's own descriptor */
}

long t_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

bool t_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
	uint64_t end = t_now_ns() + (uint64_t)timeout_ms * 1000000u;
	while (!cond(arg)) {
		if (t_now_ns() > end)
			return false;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return true;
}

static int bind_any(int type, uint16_t *out_port)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0, "socket: %s", strerror(errno));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind: %s", strerror(errno));
	socklen_t l = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &l);
	*out_port = ntohs(a.sin_port);
	return fd;
}

int t_listen_tcp(uint16_t *out_port)
{
	int fd = bind_any(SOCK_STREAM, out_port);
	cr_assert(listen(fd, 4096) == 0);
	return fd;
}

int t_bind_udp(uint16_t *out_port)
{
	return bind_any(SOCK_DGRAM, out_port);
}

int t_connect_tcp(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
	return fd;
}

int t_read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		got += (size_t)n;
	}
	return 0;
}

static void *rt_thread(void *arg)
{
	struct t_rt *t = arg;
	t->ret = core_rt_run(t->rt, t->fn, t->arg);
	return NULL;
}

void t_rt_start(struct t_rt *t, const struct core_rt_opts *opts, core_task_fn fn, void *arg)
{
	struct core_rt_opts def = {.num_threads = 2};
	int err = 0;
	t->rt = core_rt_new(opts ? opts : &def, &err);
	cr_assert_not_null(t->rt, "core_rt_new: %s", core_rt_explain(err));
	t->fn = fn;
	t->arg = arg;
	cr_assert_eq(pthread_create(&t->thread, NULL, rt_thread, t), 0);
}

int t_rt_join(struct t_rt *t)
{
	pthread_join(t->thread, NULL);
	core_rt_free(t->rt);
	t->rt = NULL;
	return t->ret;
}

int t_rt_stop(struct t_rt *t)
{
	core_rt_shutdown(t->rt);
	return t_rt_join(t);
}
