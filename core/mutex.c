#include "core/mutex.h"

#include <errno.h>
#include <stddef.h>

#include "core/coro.h"
#include "core/reactor.h"

struct core_mutex_waiter {
	struct core_mutex_waiter *next;
	struct core_coro *co;
	bool queued;
};

static void unlink_waiter(struct core_mutex *m, struct core_mutex_waiter *w)
{
	struct core_mutex_waiter **pp = &m->head, *prev = NULL;
	while (*pp && *pp != w) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = w->next;
	if (m->tail == w)
		m->tail = prev;
	w->queued = false;
}

int core_mutex_lock(struct core_mutex *m, int timeout_ms)
{
	if (!m->held) {
		m->held = true;
		return 0;
	}
	struct core_mutex_waiter w = {.co = core_coro_current(), .queued = true};
	if (m->tail)
		m->tail->next = &w;
	else
		m->head = &w;
	m->tail = &w;
	int res = core_park(timeout_ms);
	if (res == 0)
		return 0; /* ownership handed over by unlock */
	/* Timed out or cancelled: we may still be queued. An unlock that found
	 * us not parked skipped us, so we own nothing. */
	if (w.queued)
		unlink_waiter(m, &w);
	return res;
}

void core_mutex_unlock(struct core_mutex *m)
{
	while (m->head) {
		struct core_mutex_waiter *w = m->head;
		m->head = w->next;
		if (!m->head)
			m->tail = NULL;
		w->queued = false;
		if (core_unpark(w->co, 0))
			return; /* still held, now by w */
	}
	m->held = false;
}
