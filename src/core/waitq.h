/*
 * Waiters and wait queues: the one mechanism every blocking primitive uses
 * (DESIGN.md section 2).
 *
 * A waiter is whatever is blocked now. On an OS thread it is the thread's
 * parker; inside a coroutine task (the loop module) it is the task. The core
 * never knows which: it asks the current *context* how to block, through
 * the conc__context_t hook below, and wakes a waiter through the context
 * that was current when the waiter blocked.
 *
 * Protocol, for a primitive with its own internal lock (conc__os_lock_t):
 *
 *   lock(&obj->lock);
 *   if (fast condition) { ...; unlock; return 0; }
 *   conc__waiter_t w;
 *   conc__waiter_init(&w);            // binds w to the current context
 *   w.data = ...;                     // what w waits for, if the waker needs it
 *   conc__waitq_push(&obj->waiters, &w);
 *   rc = conc__waiter_sleep(&w, &obj->waiters, &obj->lock, deadline);
 *   // lock is NOT held here; rc is the status the waker passed, or
 *   // CONC_ETIMEDOUT / CONC_ECANCELED if w removed itself from the queue.
 *
 * and the waker, under the same lock:
 *
 *   conc__wakelist_t wl = CONC__WAKELIST_INIT;
 *   lock(&obj->lock);
 *   conc__waiter_t *w = conc__waitq_first(&obj->waiters);
 *   if (w) conc__waitq_wake(&obj->waiters, w, status, &wl);
 *   unlock(&obj->lock);
 *   conc__wakelist_run(&wl);          // the system calls happen unlocked
 *
 * A wake-up and a timeout racing each other: whichever takes the object's
 * lock first decides. If the waiter is still queued when its deadline passes,
 * it removes itself and returns CONC_ETIMEDOUT: nobody woke it, nothing is
 * lost. If the waker dequeued it first, conc__waiter_sleep() returns the
 * waker's status even though the deadline passed, so whatever the waker
 * handed over (a lock, a permit, a "try again") is consumed, never dropped.
 * A waiter never returns before its wake has been fully delivered, so its
 * storage (usually on its stack) may be reused at once.
 */
#ifndef CONC_CORE_WAITQ_H
#define CONC_CORE_WAITQ_H

#include "conc/waitq_types.h"
#include "internal.h"

/* How a context blocks and is woken. The default context of every thread
 * parks on the thread's parker; the loop module installs one per task. */
typedef struct conc__context_ops {
    /* Block the current context until wake() or the deadline. Returns 0 only
     * after consuming a wake (never spuriously: the waiter's storage may be
     * released as soon as it sees its wake), CONC_ETIMEDOUT at the deadline,
     * or CONC_ECANCELED when cancellable and the context was cancelled. */
    int (*block)(void *ctx, int64_t deadline_ns, bool cancellable);
    /* Make the blocked context runnable again. Callable from any thread,
     * with or without locks held. Wakes are tokens: one before the block is
     * not lost. */
    void (*wake)(void *ctx);
    /* Block the current context until fd is ready for one of the events
     * (CONC_READABLE, CONC_WRITABLE), the deadline passes, or (when
     * cancellable) the context is cancelled. Returns the ready events (> 0),
     * CONC_ETIMEDOUT, CONC_ECANCELED, CONC_EINVAL for a bad fd, or CONC_EBUSY
     * when the context cannot watch fd (a task's loop already watches it
     * for another owner). See conc_wait_fd(). */
    int (*wait_fd)(void *ctx, int fd, unsigned events, int64_t deadline_ns, bool cancellable);
    /* Give back the cancel request that a block() returning CONC_ECANCELED
     * consumed, when the wait completed anyway (a waker had dequeued it).
     * NULL for contexts that are never cancelled. */
    void (*uncancel)(void *ctx);
    /* True when nothing else the context's scheduler could run is ready (no
     * other task or callback of a task's loop), so that spinning a few
     * microseconds before a block delays nobody. NULL: never. */
    bool (*alone)(void *ctx);
} conc__context_ops_t;

typedef struct conc__context {
    const conc__context_ops_t *ops;
    void *ctx; /* also the identity of the owner of a mutex */
} conc__context_t;

/* The context running now: a task's while the loop runs one, else the
 * calling thread's own. */
conc__context_t conc__context_current(void);
/* What the current context is blocking on while conc__waiter_sleep() blocks
 * it (the waiter's `what`), for the loop's task dump. */
extern _Thread_local const char *conc__blocking_what;
/* The installed task context (waitq.c); NULL ops on plain threads. */
extern _Thread_local conc__context_t conc__installed_context CONC__TLS_FAST;
/* Install (or, with NULL ops, remove) the calling thread's current context.
 * Used by the loop module while it runs a task; returns the previous one.
 * Inline: the loop calls it twice per task step. */
static inline conc__context_t conc__context_switch(conc__context_t next)
{
    conc__context_t prev = conc__installed_context;

    conc__installed_context = next;
    return prev;
}
/* An identity for the current context, usable as a lock owner; never 0.
 * Inline, without calls: every mutex lock and unlock asks for it. */
static inline uintptr_t conc__context_id(void)
{
    if (conc__installed_context.ops)
        return (uintptr_t)conc__installed_context.ctx;
    return (uintptr_t)conc__os_parker_self();
}

enum { CONC__WAITING = 0, CONC__WOKEN = 1 };

typedef struct conc__waiter {
    struct conc__waiter *next, *prev;
    _Atomic uint32_t state; /* CONC__WAITING, then CONC__WOKEN by the waker */
    int status;             /* what the waker passed; read after WOKEN */
    uintptr_t data;         /* primitive-specific: a mask, a count, ... */
    void *ptr;              /* primitive-specific: an item buffer, ... */
    int64_t since_ns;       /* when the waiter first queued (fairness) */
    const char *what;       /* what it waits on, for task dumps ("mutex") */
    bool counted;           /* in conc__parked_forever until woken (activity.h) */
    conc__context_t context;
} conc__waiter_t;

void conc__waiter_init(conc__waiter_t *w);

static inline bool conc__waitq_empty(const conc__waitq_t *q)
{
    return q->head_ == NULL;
}

static inline conc__waiter_t *conc__waitq_first(const conc__waitq_t *q)
{
    return q->head_;
}

void conc__waitq_push(conc__waitq_t *q, conc__waiter_t *w);
void conc__waitq_remove(conc__waitq_t *q, conc__waiter_t *w);

/* Waiters dequeued under a lock, woken after it is released. */
typedef struct conc__wakelist {
    conc__waiter_t *head;
} conc__wakelist_t;
#define CONC__WAKELIST_INIT \
    {                       \
        NULL                \
    }

/* Under the object's lock: dequeue w, record status for it, queue its wake. */
void conc__waitq_wake(conc__waitq_t *q, conc__waiter_t *w, int status, conc__wakelist_t *wl);
/* Under the object's lock: wake up to n waiters from the front (n < 0: all)
 * with the same status. Returns how many were woken. */
int conc__waitq_wake_n(conc__waitq_t *q, int n, int status, conc__wakelist_t *wl);
/* After releasing the lock: deliver the wakes. */
void conc__wakelist_run(conc__wakelist_t *wl);

/*
 * Called with *lock held and w queued on q. Releases the lock, blocks the
 * current context, and returns without the lock: the waker's status, or
 * CONC_ETIMEDOUT / CONC_ECANCELED after w removed itself from q. Pass
 * cancellable=false for waits that must not be interrupted by a task's
 * cancellation (clean-up paths).
 */
int conc__waiter_sleep(conc__waiter_t *w, conc__waitq_t *q, conc__os_lock_t *lock,
                       int64_t deadline_ns, bool cancellable);

#endif /* CONC_CORE_WAITQ_H */
