/*
 * The event loop's private structures, shared by the files of src/loop/.
 *
 * Threads: everything here belongs to the loop's thread except the remote
 * queue (mpsc.h), the task park words, a task's completion lock and waiters,
 * and the counters documented as atomic. docs/loop.md describes the design.
 */
#ifndef CONC_LOOP_INTERNAL_H
#define CONC_LOOP_INTERNAL_H

#include "conc/coro.h"
#include "conc/loop.h"
#include "conc/task.h"
#include "core/timerheap.h"
#include "core/waitq.h"
#include "mpsc.h"
#include "remote_ring.h"
#include "poller.h"

typedef struct conc__loop conc__loop_t;

/*
 * A runnable entry: a callback (from call_soon/later/at), or the step of a
 * task (embedded in the task). Entries sit in the ready FIFO, in the timer
 * heap, or on the free list. seq names the scheduling, so a stale handle
 * (whose entry ran, was cancelled, or was reused) is recognised.
 */
typedef struct conc__entry {
    /* What running and queueing it use first, in one cache line. */
    struct conc__entry *next; /* ready FIFO or free list */
    conc_loop_cb fn;
    void *arg;
    uint8_t where;       /* ENTRY_FREE, ENTRY_READY, ENTRY_TIMED */
    bool cancelled;      /* a READY entry that must be skipped */
    bool embedded;       /* part of a task: never on the free list */
    conc__loop_t *owner; /* checked when a handle is cancelled */
    uint64_t seq;        /* 0 while free */
    struct conc__timer_node tnode;
} conc__entry_t;

enum { ENTRY_FREE = 0, ENTRY_READY = 1, ENTRY_TIMED = 2, ENTRY_RUNNING = 3 };

/* A node of the remote (thread-safe) queue. */
typedef struct conc__remote {
    conc__mpsc_node_t node; /* first: the queue gives back this address */
    conc_loop_cb fn;
    void *arg;
    bool heap; /* malloc()ed by call_soon_threadsafe; freed after running */
} conc__remote_t;

/* What one descriptor is watched for, and by whom. */
typedef struct conc__fdwatch {
    conc_fd_cb read_fn, write_fn;
    void *read_arg, *write_arg;
    conc_task_t *read_task, *write_task; /* tasks in conc_wait_fd() */
    unsigned events;                     /* what the poller was told (0: nothing registered) */
    bool armed;                          /* false: a one-shot registration that has fired */
    bool owned;   /* a conc_io_t owns it: its registration may stay (taskio.c) */
    bool counted; /* has watchers: counted in the loop's nwatched */
} conc__fdwatch_t;

/* Called with the task's lock held when it finishes (taskgroups, gather). */
typedef struct conc__task_watcher {
    struct conc__task_watcher *next;
    void (*fn)(struct conc__task_watcher *w, conc_task_t *t);
} conc__task_watcher_t;

/* Park word of a task (the same three states as the OS parker). */
enum { PARK_EMPTY = 0, PARK_PARKED = 1, PARK_NOTIFIED = 2 };
/* Why a parked task was made ready by the loop rather than by a wake. */
enum { WAKE_NONE = 0, WAKE_TIMEOUT = 1, WAKE_CANCEL = 2, WAKE_FD = 3 };

struct conc_task {
    conc_coro_t coro;
    conc__loop_t *loop;
    /* What every block and wake uses, next to loop and step: fewer cache
     * lines per switch. */
    _Atomic uint32_t park; /* PARK_* */
    uint8_t state;         /* conc_task_state_t */
    uint8_t wake_reason;   /* WAKE_*, set by the loop when it readies */
    bool cancellable;      /* the current block may be cancelled */
    bool started;          /* its function has been entered */
    int cancel_requests;   /* not yet delivered */
    int wait_fd;           /* what the task waits on, for conc_loop_dump() */
    unsigned fd_ready;     /* set by the loop when the fd it waits on fires */
    const char *wait_what;
    conc__entry_t step;     /* in the ready FIFO while READY */
    conc__entry_t deadline; /* in the timer heap while a timed block waits */
    conc__remote_t remote;  /* woken from another thread: queued here */
    bool detached;          /* released by its owner: free when done */
    bool cancel_seen;       /* at least one cancel was requested */
    int status;
    void *result;
    conc_task_fn fn;
    void *arg;
    uint64_t done_seq; /* completion order, for gather's "first failure" */
    /* Completion, observable from any thread. */
    conc__os_lock_t lock;
    _Atomic bool done;
    conc__waitq_t joiners;
    conc__task_watcher_t *watchers;
    /* The loop's lists (under the loop's tasks_lock). */
    conc_task_t *prev_task, *next_task;
    char name[32];
};

struct conc__loop {
    /* What every iteration reads or writes, together at the front (the
     * loop's thread only): after a system call, each further cache line
     * (or page) the loop touches costs a miss. */
    conc_loop_t *pub;
    const conc__poller_ops_t *poller_ops;
    conc__poller_t *poller;
    conc__os_wakefd_t wakefd;

    /* The ready FIFO: callbacks and task steps, in order. */
    conc__entry_t *ready_head, *ready_tail;
    size_t ready_count;

    /* Descriptors. */
    conc__fdwatch_t *fds;
    int nfds_cap;
    int events_cap;
    size_t nwatched; /* descriptors with watchers (callbacks or tasks) */
    conc__poll_event_t *events;

    /* Running. */
    bool detect_deadlock;
    _Atomic bool running; /* read by other threads (conc__loop_owned_here) */
    conc_task_t *current;
    size_t nlive;
    size_t nblocked_forever; /* for deadlock detection */

    conc__timerheap_t timers;
    size_t timer_entries; /* callbacks in the heap (not task deadlines) */
    uint64_t next_seq;

    /* Free entries and the chunks they come from. */
    conc__entry_t *free_entries;
    void **chunks;
    size_t nchunks, chunks_cap;

    const void *owner; /* the running thread's parker */

    /* Cross-thread entry points. */
    conc__remote_ring_t ring;   /* call_soon_threadsafe() while not full */
    conc__mpsc_t remote;        /* task wake-ups, and the ring's overflow */
    _Atomic long remote_linked; /* nodes pushed on `remote`, not yet popped:
                                 * while any, callbacks queue behind them */
    /* Written by the loop every iteration, read by every remote call; kept
     * apart from remote_busy, which every remote call writes twice. */
    char pad_remote_[64];
    _Atomic int sleeping;     /* the loop is (about to be) in its poller */
    _Atomic int wake_pending; /* the wake-up descriptor was signalled */
    char pad_busy_[64];
    _Atomic int remote_busy; /* threads inside a remote push or wake */
    char pad_stop_[64];
    _Atomic int stop;

    /* Tasks: live (not finished) and finished-but-kept, under tasks_lock
     * (nlive above too). */
    conc__os_lock_t tasks_lock;
    conc_task_t *live, *finished;
    uint64_t task_counter;
};

/* ---- loop.c ---- */
conc__loop_t *conc__loop_of(const conc_loop_t *loop);
/* True when the calling thread may use the loop's single-threaded API: it
 * runs the loop, or nobody does. */
bool conc__loop_owned_here(const conc__loop_t *l);
/* The loop the calling thread runs (NULL if none). */
conc__loop_t *conc__loop_running_here(void);
/* Wake the loop from another thread if it sleeps (coalesced). */
void conc__loop_wake(conc__loop_t *l);
/* Run l until done(arg), or CONC_EDEADLK when nothing can happen any more. */
int conc__loop_run_until(conc__loop_t *l, bool (*done)(void *), void *arg);

/* ---- loop_calls.c ---- */
conc__entry_t *conc__entry_alloc(conc__loop_t *l);
void conc__entry_free(conc__loop_t *l, conc__entry_t *e);
void conc__entries_destroy(conc__loop_t *l);
int conc__timer_add(conc__loop_t *l, conc__entry_t *e, int64_t when);
void conc__timer_remove(conc__loop_t *l, conc__entry_t *e);
/* Move expired timers to the ready FIFO. */
void conc__timers_expire(conc__loop_t *l, int64_t now);
/* Push a remote node from any thread and wake the loop. */
void conc__remote_push(conc__loop_t *l, conc__remote_t *r);
/* Move everything other threads pushed to the ready FIFO (or run task wakes). */
void conc__remote_drain(conc__loop_t *l);

/* Inline: the loop does these for every entry it runs. */
static inline void conc__ready_push(conc__loop_t *l, conc__entry_t *e)
{
    e->where = ENTRY_READY;
    e->next = NULL;
    if (l->ready_tail)
        l->ready_tail->next = e;
    else
        l->ready_head = e;
    l->ready_tail = e;
    l->ready_count++;
}

static inline conc__entry_t *conc__ready_pop(conc__loop_t *l)
{
    conc__entry_t *e = l->ready_head;

    if (e) {
        l->ready_head = e->next;
        if (!l->ready_head)
            l->ready_tail = NULL;
        l->ready_count--;
        e->next = NULL;
    }
    return e;
}

/* The loop's thread: false only when nothing from other threads is queued. */
static inline bool conc__remote_maybe_nonempty(conc__loop_t *l)
{
    return conc__ring_maybe_nonempty(&l->ring) || conc__mpsc_maybe_nonempty(&l->remote);
}

/* ---- loop_fd.c ---- */
int conc__fd_init(conc__loop_t *l);
void conc__fd_destroy(conc__loop_t *l);
/* Wait for descriptor events up to deadline and dispatch them. */
int conc__fd_poll(conc__loop_t *l, int64_t deadline);
int conc__task_wait_fd(void *ctx, int fd, unsigned events, int64_t deadline, bool cancellable);
/* Wait for events on fd, owned by l (conc__fd_own()): in a task of l,
 * without re-arming the registration; elsewhere as conc_wait_fd(). */
int conc__fd_wait_owned(conc__loop_t *l, int fd, unsigned events, int64_t deadline);

/* ---- task.c ---- */
extern const conc__context_ops_t conc__task_context_ops;
void conc__task_make_ready(conc_task_t *t);
void conc__task_free(conc_task_t *t);
/* The task running on this thread (NULL outside tasks). */
static inline conc_task_t *conc__task_running(void)
{
    conc__context_t c = conc__installed_context;

    return c.ops == &conc__task_context_ops ? (conc_task_t *)c.ctx : NULL;
}
/* The loop saw what t waits for on a descriptor (dir): note it and ready t
 * if it is parked. */
void conc__task_fd_ready(conc_task_t *t, unsigned dir);
/* Block the running task (the context op). */
int conc__task_block(void *ctx, int64_t deadline, bool cancellable);

static inline bool conc__task_take_token(conc_task_t *t)
{
    return atomic_exchange_explicit(&t->park, PARK_EMPTY, memory_order_acq_rel) == PARK_NOTIFIED;
}

/* Block the running task t until a wake, its deadline or (if cancellable)
 * a cancel: 0 (a wake; maybe a stale one), CONC_ETIMEDOUT, CONC_ECANCELED,
 * CONC_EPERM in a coroutine nested in t. Inline for the descriptor waits
 * (loop_fd.c), which know already that t runs on its own coroutine
 * (on_own_coro); conc__task_block() is the out-of-line one. */
static inline __attribute__((always_inline)) int
conc__task_block_here(conc_task_t *t, int64_t deadline, bool cancellable, bool on_own_coro)
{
    conc__loop_t *l = t->loop;

    /* A token left by an earlier wake: only wakers write NOTIFIED, so a
     * load that sees it can take it; one that misses a wake arriving now
     * is the same as an exchange made just before it (the CAS below then
     * fails and takes it). */
    if (atomic_load_explicit(&t->park, memory_order_acquire) == PARK_NOTIFIED) {
        conc__task_take_token(t);
        return 0;
    }
    if (cancellable && t->cancel_requests) {
        t->cancel_requests--;
        return CONC_ECANCELED;
    }
    if (deadline >= 0 && deadline <= conc_now_ns())
        return CONC_ETIMEDOUT;
    if (!on_own_coro && conc_coro_current() != &t->coro)
        return CONC_EPERM; /* a coroutine nested in the task cannot suspend it */
    t->wake_reason = WAKE_NONE;
    t->cancellable = cancellable;
    if (deadline >= 0)
        conc__timer_add(l, &t->deadline, deadline); /* room reserved at spawn */
    uint32_t empty = PARK_EMPTY;
    if (!atomic_compare_exchange_strong_explicit(&t->park, &empty, PARK_PARKED,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        conc__timer_remove(l, &t->deadline); /* a wake came in meanwhile */
        conc__task_take_token(t);
        return 0;
    }
    t->state = CONC_TASK_BLOCKED;
    if (deadline < 0)
        l->nblocked_forever++;
    conc_coro_yield(NULL, NULL);
    if (deadline < 0)
        l->nblocked_forever--;
    else
        conc__timer_remove(l, &t->deadline); /* in the heap only with a deadline */
    if (t->wake_reason == WAKE_TIMEOUT)
        return CONC_ETIMEDOUT;
    if (t->wake_reason == WAKE_CANCEL) {
        t->cancel_requests--;
        return CONC_ECANCELED;
    }
    if (t->wake_reason != WAKE_FD) /* WAKE_FD: readied by the loop, no token */
        conc__task_take_token(t);
    return 0;
}

/* ---- task_wait.c ---- */
/* Wait until t is done; ECANCELED only when cancellable. */
int conc__task_wait_done(conc_task_t *t, int64_t deadline, bool cancellable);
bool conc__task_watch(conc_task_t *t, conc__task_watcher_t *w);
void conc__task_unwatch(conc_task_t *t, conc__task_watcher_t *w);
/* Cancel, from any thread (a remote request when not on the loop). */
int conc__task_cancel_any(conc_task_t *t);

/* How many loops run now, in the whole process. */
int conc__loops_running(void);

/* ---- loop_dump.c ---- */
/* ---- loop_fd.c: descriptors owned by a conc_io_t (taskio.c) ---- */
/* CONC_EINVAL (not open, the loop's own), CONC_EBUSY (owned already),
 * CONC_ENOMEM. */
int conc__fd_own(conc__loop_t *l, int fd);
void conc__fd_disown(conc__loop_t *l, int fd);

/* True when no task of l can ever be woken (see docs/loop.md). */
bool conc__loop_deadlocked(conc__loop_t *l);
/* True when deadlock detection is on and nothing inside l can act: only
 * other threads (or other loops) could still wake its tasks. */
bool conc__loop_quiet(conc__loop_t *l);

#endif /* CONC_LOOP_INTERNAL_H */
