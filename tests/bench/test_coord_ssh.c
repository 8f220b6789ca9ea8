/* bench/coord_ssh: the remote command survives a real shell word for word
 * (quotes, $, backquotes, backslashes, blanks, newlines, empty words), and
 * the SSH child runs --ssh-cmd's words, then the host, then that command.
 * "ssh" here is /bin/sh -c 'eval "$1"' (the host word is $0), which does
 * what a remote login shell does with the string. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/coord_ssh.h"

/* Reads fd to its end into buf; returns the length. */
static size_t t_drain(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		cr_assert_lt(len, cap, "more output than expected");
	}
	close(fd);
	return len;
}

/* A "worker" that prints its arguments, NUL-terminated each. */
static void t_printer(char path[static 64])
{
	snprintf(path, 64, "/tmp/coord-ssh-test.%d", (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "#!/bin/sh\nprintf '%%s\\0' \"$@\"\n");
	fclose(f);
	cr_assert_eq(chmod(path, 0700), 0);
}

Test(coord_ssh, every_word_reaches_the_worker_unchanged)
{
	char printer[64];
	t_printer(printer);
	char *args[] = {"--url", "ws://h:1", "--label", "it's a \"test\" $HOME `id` \\n\\", "", "two\nlines", "'", "*"};
	int n = (int)(sizeof args / sizeof args[0]);
	char *cmd = bench_coord_remote_command(printer, UINT64_C(1764968400123456789), n, args);
	cr_assert_not_null(cmd);
	int out = -1, err = -1;
	char why[160];
	pid_t pid = bench_coord_ssh_spawn("/bin/sh -c", "eval \"$0\"", cmd, &out, &err, why, sizeof why);
	free(cmd);
	cr_assert_gt(pid, 0, "%s", why);
	char buf[4096], ebuf[1024];
	size_t len = t_drain(out, buf, sizeof buf);
	size_t elen = t_drain(err, ebuf, sizeof ebuf);
	int ws;
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	unlink(printer);
	cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "exit %d: %.*s", ws, (int)elen, ebuf);
	const char *want[] = {"worker", "--start-at", "1764968400123456789", "--"};
	size_t off = 0;
	for (size_t i = 0; i < 4 + (size_t)n; i++) {
		const char *w = i < 4 ? want[i] : args[i - 4];
		cr_assert_lt(off, len, "word %zu missing", i);
		cr_assert_str_eq(buf + off, w, "word %zu", i);
		off += strlen(w) + 1;
	}
	cr_assert_eq(off, len, "extra words");
}

Test(coord_ssh, a_command_that_cannot_run_exits_255_saying_why)
{
	int out = -1, err = -1;
	char why[160];
	pid_t pid = bench_coord_ssh_spawn("/nonexistent/ssh -o BatchMode=yes", "host", "true", &out, &err, why,
					  sizeof why);
	cr_assert_gt(pid, 0, "%s", why);
	char buf[64], ebuf[512];
	cr_assert_eq(t_drain(out, buf, sizeof buf), 0);
	size_t elen = t_drain(err, ebuf, sizeof ebuf - 1);
	ebuf[elen] = '\0';
	int ws;
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 255);
	cr_assert(strstr(ebuf, "/nonexistent/ssh"), "%s", ebuf);
}

Test(coord_ssh, refuses_an_empty_or_overlong_ssh_cmd)
{
	int out = -1, err = -1;
	char why[160] = "";
	cr_assert_eq(bench_coord_ssh_spawn(" \t ", "host", "true", &out, &err, why, sizeof why), -1);
	cr_assert(strstr(why, "empty"), "%s", why);
	char many[BENCH_COORD_SSH_ARGS_MAX * 2 + 8] = "";
	for (int i = 0; i <= BENCH_COORD_SSH_ARGS_MAX; i++)
		strcat(many, "x ");
	cr_assert_eq(bench_coord_ssh_spawn(many, "host", "true", &out, &err, why, sizeof why), -1);
	cr_assert(strstr(why, "words"), "%s", why);
}
