#ifndef BENCH_COORD_SSH_H
#define BENCH_COORD_SSH_H
/* bench/coord_ssh.h: how `atmosphere-bench coord` starts a worker on a
 * host: the remote command line and the SSH child.
 *
 * Design: SSH hands the remote side one string that the user's login shell
 * parses, so every word of the worker's command (the relay options came
 * from our own command line, any bytes) is single-quoted, ' written as
 * '\''. That is the only quoting POSIX shells agree on, and it leaves no
 * byte special inside the quotes. The SSH client is whatever --ssh-cmd
 * names, split at blanks (no quoting of its own: a key path with a blank
 * needs an ~/.ssh/config entry instead), followed by the host and that
 * string; it runs with stdin on /dev/null and its stdout and stderr on
 * pipes the caller reads. */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum bench_coord_ssh_limits {
	BENCH_COORD_SSH_ARGS_MAX = 32,   /* words of --ssh-cmd */
};

/* bench_coord_remote_command returns "'WORKER_BIN' 'worker' '--start-at'
 * 'NS' '--' 'ARG'..." for argv[0..argc), every word single-quoted; the
 * caller frees it. NULL when out of memory. */
char *bench_coord_remote_command(const char *worker_bin, uint64_t start_at_ns, int argc, char *const *argv);

/* bench_coord_ssh_spawn starts ssh_cmd's words, then host, then remote, as
 * one process: stdin /dev/null, stdout on *out_fd and stderr on *err_fd
 * (read ends, close-on-exec, the caller closes them). Returns the child's
 * pid, or -1 with the reason in errbuf (an empty or too long --ssh-cmd,
 * pipe or fork failing). A command that cannot be executed is not known
 * here: the child says so on stderr and exits 255, as ssh does. */
pid_t bench_coord_ssh_spawn(const char *ssh_cmd, const char *host, const char *remote, int *out_fd, int *err_fd,
			    char *errbuf, size_t errbuf_len);

#endif
