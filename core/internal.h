#ifndef CORE_INTERNAL_H
#define CORE_INTERNAL_H
/* core/internal.h: shared inside core/ only. */
#include <assert.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/reactor.h"

/* user_data tags: low 3 bits of an 8-aligned pointer. 0 means "ignore". */
enum {
	UD_OP = 1,     /* struct op: a single-shot operation a coroutine awaits */
	UD_SRC = 2,    /* struct src: a multishot source */
	UD_MSG = 3,    /* struct msg: a cross-thread message (MSG_RING target) */
	UD_WAKE = 4,   /* the reactor's eventfd poll */
	UD_SLOT = 5,   /* struct send_slot: a fire-and-forget UDP send */
	UD_MASK = 7,
};

struct task {
	struct core_coro *co;
	struct core_reactor *r;
	struct task *next_ready;
	struct task *prev_all, *next_all;
	bool queued;
	bool parked;
	bool hibernate_waits;  /* core_task_hibernate_next_wait */
	int park_res;
	struct core_timer park_timer;
	core_task_fn fn;       /* for the grace-period report */
	const char *name;      /* core_task_set_name; static storage */
	struct op *op;         /* the op core_op_wait waits on, if any */
	bool interrupted;      /* core_task_interrupt: the next wait fails */
};

/* A single-shot operation on the coroutine's stack: it must outlive its CQEs
 * (cancellation included), so op_wait never returns before pending is 0. */
struct op {
	struct task *task;
	int32_t res;
	uint32_t flags;
	uint8_t pending;     /* CQEs still expected: 1, or 2 for SEND_ZC */
	bool got_res;
	bool timed_out;
	struct core_timer timer;
};

enum src_kind { SRC_RECV, SRC_ACCEPT, SRC_RECVMSG };

/* Accepted fds wait in a growable ring; above SRC_ACCEPT_PAUSE queued the
 * accept is paused and the kernel's listen backlog holds the rest. */
#define SRC_ACCEPT_PAUSE 64
#define SRC_ACCEPT_MAX 4096

/* A multishot source: a socket whose completions are queued until its owner
 * coroutine asks for them. Buffers are queued through the group's per-bid
 * links, so a queue costs no memory of its own. Sources ended by -ENOBUFS
 * wait in their group's stalled queue, served oldest first (core/src.c). */
struct src {
	/* One word of flags: with everything below, a stream socket's source
	 * is 128 bytes (static_assert below). */
	uint8_t kind;
	bool armed : 1;      /* a multishot is in flight: its final CQE not yet seen */
	bool pausing : 1;    /* a cancel of the multishot is on its way */
	bool started : 1;    /* the owner has waited once: receives may be armed */
	bool closing : 1;    /* owner closed it: free after the final CQE */
	bool eof : 1;
	bool stalled : 1;    /* ended by -ENOBUFS; on the group's stalled queue */
	bool fifo_armed : 1; /* armed from the stalled queue; counted in grp->rearming */
	bool detaching : 1;  /* owner waits for the receive to end, no re-arm */
	/* Buffers queued: the high-water mark and the share of a dry ring are
	 * counted in these, since every completion takes a whole buffer
	 * however few bytes it carries (a ring holds at most 32,768). */
	uint16_t queued_bufs;
	int err;             /* sticky error (negative errno) */
	int fd;
	int wait_res;
	struct core_reactor *r;
	struct buf_group *grp;
	int32_t head, tail;  /* queued buffer ids, -1 when empty */
	uint32_t queued_bytes;
	uint32_t high_water; /* buffers: pause (cancel the multishot) above this */
	uint16_t pause_bufs; /* queued_bufs when the last cancel went */
	/* Armed as a capped receive, one buffer per pass of the kernel
	 * (src.c). Here, not among the flags above: a ninth bit there would
	 * grow the struct by a word. */
	bool capped;
	struct task *waiter;
	struct core_timer timer;
	struct src *next_stalled, *prev_stalled;
	/* SRC_ACCEPT: accepted descriptors not taken yet, NULL until the
	 * first (struct src_accq, src.c). Out of line, as is the recvmsg
	 * template, so a stream socket, one per connection, pays for neither
	 * (core_sock 216 -> 144 B). */
	struct src_accq *accq;
	/* SRC_RECVMSG: the owner's recvmsg template; must stay valid while armed */
	struct msghdr *mh;
};
/* Every connection has one (core_sock): 128 + the sock's 8 is a 144-byte
 * heap chunk. Growing it is a decision about per-connection memory
 * (docs/PERFORMANCE.md, idle connections). */
static_assert(sizeof(struct src) <= 128, "struct src outgrew a connection's budget");

/* A ring of provided buffers. It has room for num buffers (ring entries
 * and MAP_NORESERVE memory), of which `active` circulate: in the ring or
 * out (queued or leased). It starts at `base` and grows under pressure up
 * to num (core_buf_group_grow); a buffer that comes back while far more
 * circulate than are out is parked instead: its pages go back to the
 * kernel (in batches) and it leaves circulation (core_buf_group_put). With num ==
 * base the ring is fixed. */
/* buf_group.out[bid]: in the ring (or never provided), out of it with a
 * source or a reader, or parked (out of circulation). */
enum { OUT_FREE = 0, OUT_TAKEN = 1, OUT_PARKED = 2 };

struct buf_group {
	struct io_uring_buf_ring *br;
	uint8_t *mem;
	size_t mem_len, ring_len;
	unsigned num, size, mask;
	uint16_t bgid;
	unsigned active;      /* buffers in circulation, base..num */
	unsigned base;        /* circulation never shrinks below this */
	unsigned fresh;       /* buffer ids from here up were never provided */
	uint16_t *parked;     /* ids taken out of circulation, a stack (num - base; NULL when fixed) */
	unsigned num_parked;
	unsigned parked_resident; /* the top of that stack whose pages are not given back yet */
	unsigned in_ring;     /* buffers given to the kernel and not yet seen in a CQE */
	int32_t *next;        /* per-bid queue link */
	uint32_t *len;        /* per-bid received length */
	uint8_t *out;         /* per-bid: OUT_TAKEN while out of the ring (queued or leased), OUT_PARKED */
	/* Sources ended by -ENOBUFS, first come first served: each returned
	 * buffer re-arms the oldest, and no more are re-armed than there are
	 * free buffers (a dry ring does not become a storm of -ENOBUFS). */
	struct src *stalled, *stalled_tail;
	unsigned rearming;    /* sources re-armed from that queue, first CQE not yet seen */
	/* Under pressure (someone stalled, or turns in flight) each source's
	 * share of the ring is active / busy buffers, at least one; a ring that
	 * may grow grows to what busy sources hold before they pause
	 * (core/src.c). */
	unsigned busy;        /* sources holding a buffer or stalled, each once */
	/* Stream receives are capped, one buffer per pass of the kernel
	 * (core/src.c), unless the kernel refused one or a test turned them
	 * off. */
	bool uncapped;
	/* Test seam: capped receives carry a flag no kernel knows, so the
	 * kernel refuses them with -EINVAL as one without capped receives
	 * does (tests/core/test_src_fairness.c). */
	bool refuse_capped_for_test;
};

struct msg {
	core_task_fn fn;
	void *arg;
	unsigned target;     /* reactor index, to reroute when MSG_RING fails */
	struct msg *next;
};

#define SEND_SLOT_SIZE 2048
#define SEND_SLOTS 512

struct send_slot {
	struct send_slot *next;
	struct msghdr mh;
	struct iovec iov;
	struct sockaddr_storage to;
	uint8_t data[SEND_SLOT_SIZE];
};

/* A reactor's timers: a 1-based binary min-heap of slots ordered by
 * deadline. The deadline is kept in the slot beside the pointer, so sifting
 * compares without reading the timers (reactor.c says why); each armed
 * timer's heap_idx is its slot's index, 0 when not armed. */
struct timer_slot {
	uint64_t deadline_ns;
	struct core_timer *t;
};
struct core_timer_heap {
	struct timer_slot *slot;  /* slot[1..len]; slot[0] unused */
	unsigned len, cap;
};

struct core_reactor {
	struct io_uring ring;
	struct core_rt *rt;
	unsigned idx;
	pthread_t thread;
	uint64_t now;
	uint64_t passes;     /* loop iterations so far (core_pass) */
	int wake_fd;
	bool stopping;
	bool torn_down;      /* operations are cancelled and new ones refused */
	unsigned live;       /* coroutines alive */
	unsigned inflight;   /* CQEs expected for internal bookkeeping (wake poll) */
	struct task *ready_head, *ready_tail;
	struct task *all;
	struct core_timer_heap timers;
	struct core_shutdown_hook hooks;
	struct buf_group stream, dgram;
	struct buf_group gro;  /* core_rt_opts.udp_gro_bufs; num 0 when none */
	struct send_slot *free_slots;
	unsigned num_slots;
	pthread_mutex_t inbox_lock;
	struct msg *inbox;
	int start_err;
	bool started;
};

struct core_rt {
	struct core_rt_opts o;
	struct core_reactor *r;   /* array of o.num_threads */
	atomic_bool shutdown;
	atomic_uint abandoned;
	core_task_fn main_fn;
	void *main_arg;
	bool ran;
};

/* reactor.c */
struct io_uring_sqe *core_get_sqe(struct core_reactor *r);
void core_make_ready(struct task *t);
struct task *core_current_task(void);
/* core_op_start readies op (on the caller's stack) for one operation of the
 * current task and returns its SQE (user_data still 0), or NULL once the
 * reactor is torn down. core_op_wait then waits for its last CQE. */
struct io_uring_sqe *core_op_start(struct core_reactor *r, struct op *op);
int core_op_wait(struct core_reactor *r, struct op *op, int timeout_ms);
static inline uint64_t ud_pack(void *p, unsigned tag) { return (uint64_t)(uintptr_t)p | tag; }
/* core_timer_heap_set arms t at deadline_ns in h, or moves it there if it
 * is armed already; sets t->deadline_ns and t->heap_idx, not fn or arg.
 * Returns 0, or -ENOMEM (t is then unchanged: an unarmed timer stays
 * unarmed; an armed one never needs memory). core_timer_heap_remove disarms
 * t if armed; core_timer_heap_cleanup frees h's array (timers still in it
 * keep a stale heap_idx). No clock, no reactor: core_timer_arm and
 * core_timer_cancel apply them to the calling thread's reactor, and the
 * unit tests to heaps of their own. */
int core_timer_heap_set(struct core_timer_heap *h, struct core_timer *t, uint64_t deadline_ns);
void core_timer_heap_remove(struct core_timer_heap *h, struct core_timer *t);
void core_timer_heap_cleanup(struct core_timer_heap *h);

/* buf.c */
/* core_buf_group_init registers a ring with room for num buffers of size
 * bytes, base of them provided now (base <= num, both powers of 2 or base
 * == num). 0 or -errno. */
int core_buf_group_init(struct core_reactor *r, struct buf_group *g, uint16_t bgid, unsigned num, unsigned base,
			unsigned size);
/* core_buf_group_grow provides more buffers until want circulate (at most
 * num); returns how many it added. */
unsigned core_buf_group_grow(struct buf_group *g, unsigned want);
void core_buf_group_cleanup(struct core_reactor *r, struct buf_group *g);
void core_buf_group_put(struct buf_group *g, uint16_t bid);
struct buf_group *core_buf_group_of(struct core_reactor *r, uint8_t gid);

/* src.c */
void core_src_init(struct src *s, struct core_reactor *r, uint8_t kind, int fd, struct buf_group *grp);
/* core_src_accq_len: accepted descriptors queued on s (SRC_ACCEPT), 0 for other kinds. */
unsigned core_src_accq_len(const struct src *s);
void core_src_complete(struct src *s, const struct io_uring_cqe *cqe);
int core_src_arm(struct src *s);
int core_src_wait(struct src *s, int timeout_ms);
void core_src_close(struct src *s);
int core_src_detach(struct src *s);
/* core_src_pause ends s's receive and waits until the kernel has none in
 * flight; the next core_src_wait re-arms it. Queued buffers stay queued.
 * Suspends. */
void core_src_pause(struct src *s);
/* core_src_rearm_stalled re-arms stalled sources, oldest first, while the
 * ring has more free buffers than re-armed sources still to report. */
void core_src_rearm_stalled(struct buf_group *g);
bool core_src_pop_buf(struct src *s, uint16_t *bid, uint32_t *len);
int core_src_accq_pop(struct src *s);

/* udp.c */
void core_slot_complete(struct core_reactor *r, struct send_slot *slot, int res);

#endif
