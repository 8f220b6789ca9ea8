#ifndef BENCH_FAILURE_H
#define BENCH_FAILURE_H
/* bench/failure.h: how the core bench's servers (uring_server.h,
 * thread_server.h) record that they failed. Any thread notes a failure
 * (lock-free); the first one's cause is kept for the report, the rest are
 * counted. Caller storage, zeroed before use. */
#include <stdatomic.h>
#include <stdbool.h>

struct bench_failure {
	atomic_int count;
	atomic_int first_err;       /* -errno of the first failure */
	_Atomic(const char *) first_what;
};

/* bench_failure_note counts one failure of what (a static string: the call
 * that failed) with -errno err (0: unexpected data). */
void bench_failure_note(struct bench_failure *f, const char *what, int err);

/* bench_failure_report returns false when nothing failed; otherwise prints
 * "atmosphere-bench core: SERVER failed N time(s); first: WHAT: REASON" to
 * stderr and returns true. */
bool bench_failure_report(struct bench_failure *f, const char *server);

#endif
