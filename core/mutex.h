#ifndef CORE_MUTEX_H
#define CORE_MUTEX_H
/* core/mutex.h: a mutex between coroutines of one reactor.
 *
 * Serialises a resource across suspension points, e.g. writes to one socket
 * from two coroutines (a stream socket must not see two sends interleave).
 * FIFO hand-off: release passes ownership to the longest waiter. No atomics:
 * all users run on the same reactor thread. Caller storage; zero-initialised
 * is unlocked. */
#include <stdbool.h>

struct core_mutex_waiter;

struct core_mutex {
	bool held;
	struct core_mutex_waiter *head, *tail;
};

/* core_mutex_lock takes m, waiting at most timeout_ms (< 0: forever).
 * Returns 0, -ETIMEDOUT, or -ECANCELED (runtime torn down). Suspends. */
int core_mutex_lock(struct core_mutex *m, int timeout_ms);

/* core_mutex_held returns whether some coroutine holds m now. */
static inline bool core_mutex_held(const struct core_mutex *m)
{
	return m->held;
}

/* core_mutex_unlock releases m or hands it to the next waiter. Does not
 * suspend. */
void core_mutex_unlock(struct core_mutex *m);

#endif
