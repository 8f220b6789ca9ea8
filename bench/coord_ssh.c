/* Starting a worker over SSH: see bench/coord_ssh.h. */
#include "bench/coord_ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Single-quotes s for the remote shell: ' becomes '\''. */
static int append_quoted(char **cmd, size_t *len, size_t *cap, const char *s)
{
	size_t need = *len + 4 * strlen(s) + 4;
	if (need > *cap) {
		size_t ncap = need * 2;
		char *n = realloc(*cmd, ncap);
		if (!n)
			return -1;
		*cmd = n;
		*cap = ncap;
	}
	char *p = *cmd + *len;
	if (*len)
		*p++ = ' ';
	*p++ = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = *s;
		}
	}
	*p++ = '\'';
	*p = '\0';
	*len = (size_t)(p - *cmd);
	return 0;
}

char *bench_coord_remote_command(const char *worker_bin, uint64_t start_at, int rargc, char *const *rargv)
{
	char *cmd = NULL, num[32];
	size_t len = 0, cap = 0;
	snprintf(num, sizeof num, "%llu", (unsigned long long)start_at);
	const char *head[] = {worker_bin, "worker", "--start-at", num, "--"};
	for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
		if (append_quoted(&cmd, &len, &cap, head[i]))
			goto nomem;
	for (int i = 0; i < rargc; i++)
		if (append_quoted(&cmd, &len, &cap, rargv[i]))
			goto nomem;
	return cmd;
nomem:
	free(cmd);
	return NULL;
}

pid_t bench_coord_ssh_spawn(const char *ssh_cmd, const char *host, const char *remote, int *out_fd, int *err_fd,
			    char *errbuf, size_t errbuf_len)
{
	char *words = strdup(ssh_cmd);
	char *argv[BENCH_COORD_SSH_ARGS_MAX + 3];
	int argc = 0, outp[2] = {-1, -1}, errp[2] = {-1, -1};
	pid_t pid = -1;
	if (!words) {
		snprintf(errbuf, errbuf_len, "out of memory");
		return -1;
	}
	for (char *save = NULL, *w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (argc == BENCH_COORD_SSH_ARGS_MAX) {
			snprintf(errbuf, errbuf_len, "--ssh-cmd '%s': more than %d words", ssh_cmd, BENCH_COORD_SSH_ARGS_MAX);
			goto out;
		}
		argv[argc++] = w;
	}
	if (!argc) {
		snprintf(errbuf, errbuf_len, "--ssh-cmd is empty");
		goto out;
	}
	argv[argc++] = (char *)host;
	argv[argc++] = (char *)remote;
	argv[argc] = NULL;
	if (pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
		snprintf(errbuf, errbuf_len, "pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(errbuf, errbuf_len, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(outp[1], 1) < 0 || dup2(errp[1], 2) < 0)
			_exit(255);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "exec '%s': %s\n", argv[0], strerror(errno));
		_exit(255);
	}
	*out_fd = outp[0];
	*err_fd = errp[0];
	outp[0] = errp[0] = -1;
out:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	free(words);
	return pid;
}
