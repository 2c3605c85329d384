/* Waiters and wait queues; the protocol is described in waitq.h. */
#include "activity.h"
#include "thread_internal.h"
#include "waitq.h"

static int thread_block(void *ctx, int64_t deadline_ns, bool cancellable)
{
    (void)cancellable; /* threads are not cancelled by libconc */
    return conc__os_park(ctx, deadline_ns);
}

static void thread_wake(void *ctx)
{
    conc__os_unpark(ctx);
}

static int thread_wait_fd(void *ctx, int fd, unsigned events, int64_t deadline_ns, bool cancellable)
{
    (void)ctx;
    (void)cancellable;
    return conc__os_fd_wait(fd, events, deadline_ns);
}

static const conc__context_ops_t thread_context_ops = { thread_block, thread_wake, thread_wait_fd,
                                                        NULL, NULL };

/* The task context installed by the loop module; NULL ops on plain threads.
 * Not static: conc__context_id() (waitq.h) reads it inline. */
_Thread_local conc__context_t conc__installed_context CONC__TLS_FAST;
_Thread_local const char *conc__blocking_what;

conc__context_t conc__context_current(void)
{
    if (conc__installed_context.ops)
        return conc__installed_context;
    return (conc__context_t){ &thread_context_ops, conc__os_parker_self() };
}

void conc__waiter_init(conc__waiter_t *w)
{
    w->next = w->prev = NULL;
    atomic_init(&w->state, CONC__WAITING);
    w->status = 0;
    w->data = 0;
    w->ptr = NULL;
    w->since_ns = 0;
    w->what = NULL;
    w->counted = false;
    w->context = conc__context_current();
}

void conc__waitq_push(conc__waitq_t *q, conc__waiter_t *w)
{
    w->next = NULL;
    w->prev = q->tail_;
    if (q->tail_)
        q->tail_->next = w;
    else
        q->head_ = w;
    q->tail_ = w;
}

void conc__waitq_remove(conc__waitq_t *q, conc__waiter_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head_ = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail_ = w->prev;
    w->next = w->prev = NULL;
}

void conc__waitq_wake(conc__waitq_t *q, conc__waiter_t *w, int status, conc__wakelist_t *wl)
{
    conc__waitq_remove(q, w);
    if (w->counted) {
        /* Woken means able to act again, from now on: uncount it here,
         * not when it gets to run. */
        w->counted = false;
        atomic_fetch_sub_explicit(&conc__parked_forever, 1, memory_order_seq_cst);
    }
    w->status = status;
    w->next = wl->head;
    wl->head = w;
    /* From here the waiter may observe WOKEN, but it cannot return before
     * conc__wakelist_run() has delivered its wake, so w stays valid. */
    atomic_store_explicit(&w->state, CONC__WOKEN, memory_order_release);
}

int conc__waitq_wake_n(conc__waitq_t *q, int n, int status, conc__wakelist_t *wl)
{
    int woken = 0;

    while ((n < 0 || woken < n) && q->head_) {
        conc__waitq_wake(q, q->head_, status, wl);
        woken++;
    }
    return woken;
}

void conc__wakelist_run(conc__wakelist_t *wl)
{
    conc__waiter_t *w = wl->head;

    wl->head = NULL;
    while (w) {
        /* Read everything needed from w before the wake lets it return. */
        conc__waiter_t *next = w->next;
        conc__context_t c = w->context;

        c.ops->wake(c.ctx);
        w = next;
    }
}

static bool woken(conc__waiter_t *w)
{
    return atomic_load_explicit(&w->state, memory_order_acquire) == CONC__WOKEN;
}

/* w was dequeued by a waker whose wake may still be on its way: take it, so
 * that it is not left behind for a later, unrelated block of this context. */
static int await_delivery(conc__waiter_t *w)
{
    while (w->context.ops->block(w->context.ctx, CONC_FOREVER, false) != 0)
        ;
    return w->status;
}

static int sleep_on(conc__waiter_t *w, conc__waitq_t *q, conc__os_lock_t *lock, int64_t deadline_ns,
                    bool cancellable);

/* The wait completed although block() reported a cancellation: the request
 * stays for the context's next block (once per request). */
static void give_back(conc__waiter_t *w, int rc)
{
    if (rc == CONC_ECANCELED && w->context.ops->uncancel)
        w->context.ops->uncancel(w->context.ctx);
}

/* A thread known to libconc that sleeps without a deadline cannot act until
 * something wakes it: the event loop's deadlock check counts such threads
 * (activity.h). Counted here, under the object's lock, before it can be
 * woken; uncounted by its waker (conc__waitq_wake()), under the same lock. */
int conc__waiter_sleep(conc__waiter_t *w, conc__waitq_t *q, conc__os_lock_t *lock,
                       int64_t deadline_ns, bool cancellable)
{
    if (deadline_ns < 0 && w->context.ops == &thread_context_ops && conc__thread_self_rec()) {
        w->counted = true;
        atomic_fetch_add_explicit(&conc__parked_forever, 1, memory_order_seq_cst);
    }
    return sleep_on(w, q, lock, deadline_ns, cancellable);
}

static int sleep_on(conc__waiter_t *w, conc__waitq_t *q, conc__os_lock_t *lock, int64_t deadline_ns,
                    bool cancellable)
{
    conc__os_unlock(lock);
    for (;;) {
        conc__blocking_what = w->what;
        int rc = w->context.ops->block(w->context.ctx, deadline_ns, cancellable);

        if (rc == 0) {
            if (woken(w))
                return w->status;
            continue; /* spurious */
        }
        /* Already dequeued by a waker: its wake is on the way; the object
         * (which may be destroyed once its queue is empty) is not touched. */
        if (woken(w)) {
            give_back(w, rc);
            return await_delivery(w);
        }
        conc__os_lock(lock);
        if (!woken(w)) {
            conc__waitq_remove(q, w);
            conc__os_unlock(lock);
            return rc;
        }
        conc__os_unlock(lock);
        give_back(w, rc);
        return await_delivery(w);
    }
}
