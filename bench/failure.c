/* The servers' failure record: see bench/failure.h. */
#include "bench/failure.h"

#include <stdio.h>
#include <string.h>

void bench_failure_note(struct bench_failure *f, const char *what, int err)
{
	if (atomic_fetch_add(&f->count, 1) == 0) {
		atomic_store(&f->first_what, what);
		atomic_store(&f->first_err, err);
	}
}

bool bench_failure_report(struct bench_failure *f, const char *server)
{
	int n = atomic_load(&f->count);
	if (!n)
		return false;
	int err = atomic_load(&f->first_err);
	fprintf(stderr, "atmosphere-bench core: %s failed %d time(s); first: %s: %s\n", server, n,
		atomic_load(&f->first_what), err ? strerror(-err) : "unexpected data");
	return true;
}
