/*
 * Barriers on the wait-queue core.
 *
 * Generations need no bookkeeping in the waiters: the party that completes a
 * cycle dequeues every waiter of that cycle at once, handing each its outcome,
 * so a fast party re-entering at once is queued as a new waiter of the next
 * cycle and cannot be confused with the one it left.
 *
 * The action runs without the internal lock (it is user code: it may block,
 * or later suspend a task, and it may call abort() or reset()). While it
 * runs the state is TRIPPING: the waiters of the cycle are already dequeued
 * but not yet woken, parties arriving meanwhile wait in entry_ for the next
 * cycle, and an abort (or an expired entry timeout) is remembered in
 * break_pending_ and applied when the action is done. The outcome of the
 * action reaches the dequeued waiters through their conc__waiter_t data
 * field, written before their wakes are delivered; one that timed out during
 * the action waits for that delivery inside conc__waiter_sleep(), as the
 * wait-queue protocol requires, and so still gets the outcome.
 *
 * A waiter whose deadline passes removes itself and then breaks the cycle it
 * was in, unless that cycle has already ended (the generation moved on). In
 * the window between the two, the party completing the cycle finds fewer
 * waiters queued than arrived and breaks the cycle itself instead of tripping
 * it, so a timed-out party never counts as released.
 */
#include "conc/barrier.h"

#include "waitq.h"

enum { FILLING, TRIPPING, BROKEN, DEAD };
enum { RELEASED = 1, RETRY = 2 }; /* wake statuses besides CONC_EBROKEN */
enum { ACTION_FAILED = 1 };       /* in w->data of a RELEASED waiter */

static conc__os_lock_t *lock_of(conc_barrier_t *b)
{
    return &b->lock_;
}

static int state(conc_barrier_t *b)
{
    return atomic_load_explicit(&b->state_, memory_order_relaxed);
}

static void set_state(conc_barrier_t *b, int s)
{
    atomic_store_explicit(&b->state_, s, memory_order_relaxed);
}

static void set_count(conc_barrier_t *b, int n)
{
    atomic_store_explicit(&b->count_, n, memory_order_relaxed);
}

int conc_barrier_init(conc_barrier_t *b, int parties, conc_barrier_action_fn action, void *arg)
{
    if (!b || parties < 1)
        return CONC_EINVAL;
    atomic_init(&b->lock_, CONC__OS_LOCK_INIT);
    atomic_init(&b->state_, FILLING);
    atomic_init(&b->count_, 0);
    b->parties_ = parties;
    b->generation_ = 0;
    b->break_pending_ = false;
    b->runner_ = 0;
    b->action_ = action;
    b->arg_ = arg;
    b->waiters_ = (conc__waitq_t)CONC__WAITQ_INIT;
    b->entry_ = (conc__waitq_t)CONC__WAITQ_INIT;
    return 0;
}

int conc_barrier_destroy(conc_barrier_t *b)
{
    int rc = 0;

    if (!b)
        return CONC_EINVAL;
    conc__os_lock(lock_of(b));
    if (state(b) == DEAD)
        rc = CONC_EINVAL;
    else if (state(b) == TRIPPING || atomic_load_explicit(&b->count_, memory_order_relaxed) ||
             !conc__waitq_empty(&b->waiters_))
        rc = CONC_EBUSY;
    else
        set_state(b, DEAD);
    conc__os_unlock(lock_of(b));
    return rc;
}

/* Under the lock, FILLING: end the cycle as broken. */
static void break_cycle(conc_barrier_t *b, conc__wakelist_t *wl)
{
    conc__waitq_wake_n(&b->waiters_, -1, CONC_EBROKEN, wl);
    set_state(b, BROKEN);
    set_count(b, 0);
    b->generation_++;
}

/* Under the lock: a party gave up (timeout, NOWAIT, cancellation). */
static void give_up_breaks(conc_barrier_t *b, conc__wakelist_t *wl)
{
    if (state(b) == TRIPPING)
        b->break_pending_ = true;
    else if (state(b) == FILLING)
        break_cycle(b, wl);
}

static int queued(const conc__waitq_t *q)
{
    int n = 0;

    for (const conc__waiter_t *w = conc__waitq_first(q); w; w = w->next)
        n++;
    return n;
}

/* Under the lock: release every queued waiter with the status RELEASED.
 * Their wakes go to wl; they are also chained through their ptr fields
 * (ours to use), so that the outcome of the action can be written into them
 * before the wakes are delivered. Returns the chain. */
static conc__waiter_t *release_all(conc_barrier_t *b, conc__wakelist_t *wl)
{
    conc__waiter_t *chain = NULL, *w;

    while ((w = conc__waitq_first(&b->waiters_))) {
        w->ptr = chain;
        chain = w;
        conc__waitq_wake(&b->waiters_, w, RELEASED, wl);
    }
    return chain;
}

static void mark_action_failed(conc__waiter_t *chain)
{
    for (conc__waiter_t *w = chain; w; w = w->ptr)
        w->data = ACTION_FAILED;
}

static int run_action(conc_barrier_t *b, int index, conc__waiter_t *released, conc__wakelist_t *wl)
{
    bool ok;

    set_state(b, TRIPPING);
    b->runner_ = conc__context_id();
    conc__os_unlock(lock_of(b));
    ok = b->action_(b->arg_) == 0;
    conc__os_lock(lock_of(b));
    if (!ok)
        mark_action_failed(released);
    set_state(b, ok && !b->break_pending_ ? FILLING : BROKEN);
    b->break_pending_ = false;
    b->runner_ = 0;
    conc__waitq_wake_n(&b->entry_, -1, RETRY, wl);
    return ok ? index : CONC_EBROKEN;
}

/* Under the lock: the last party arrived. Returns without the lock. */
static int trip(conc_barrier_t *b, int index)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    int rc = index;

    if (queued(&b->waiters_) != b->parties_ - 1) {
        /* A waiter timed out and is about to break the cycle: it was not
         * there when the last party came, so the cycle cannot complete. */
        break_cycle(b, &wl);
        rc = CONC_EBROKEN;
    } else {
        set_count(b, 0);
        b->generation_++;
        conc__waiter_t *released = release_all(b, &wl);

        if (b->action_)
            rc = run_action(b, index, released, &wl);
    }
    conc__os_unlock(lock_of(b));
    conc__wakelist_run(&wl);
    return rc;
}

/* Under the lock, FILLING: join the cycle. Returns without the lock. */
static int arrive(conc_barrier_t *b, int64_t deadline, bool nowait)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    int index = atomic_load_explicit(&b->count_, memory_order_relaxed);
    uint32_t generation = b->generation_;
    conc__waiter_t w;
    int rc;

    set_count(b, index + 1);
    if (index + 1 == b->parties_)
        return trip(b, index);
    if (nowait) {
        break_cycle(b, &wl);
        conc__os_unlock(lock_of(b));
        conc__wakelist_run(&wl);
        return CONC_EAGAIN;
    }
    conc__waiter_init(&w);
    conc__waitq_push(&b->waiters_, &w);
    w.what = "barrier";
    rc = conc__waiter_sleep(&w, &b->waiters_, lock_of(b), deadline, true);
    if (rc == RELEASED)
        return w.data == ACTION_FAILED ? CONC_EBROKEN : index;
    if (rc == CONC_EBROKEN)
        return rc;
    /* Timed out or cancelled, and no longer queued. */
    conc__os_lock(lock_of(b));
    if (b->generation_ == generation && state(b) == FILLING)
        break_cycle(b, &wl);
    conc__os_unlock(lock_of(b));
    conc__wakelist_run(&wl);
    return rc;
}

/* Under the lock, TRIPPING: wait for the running action to finish. Returns
 * without the lock: RETRY to arrive again, or an error. */
static int wait_for_next_cycle(conc_barrier_t *b, int64_t deadline, bool nowait)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    conc__waiter_t w;
    int rc;

    if (b->runner_ == conc__context_id()) {
        conc__os_unlock(lock_of(b));
        return CONC_EDEADLK;
    }
    if (nowait) {
        b->break_pending_ = true;
        conc__os_unlock(lock_of(b));
        return CONC_EAGAIN;
    }
    conc__waiter_init(&w);
    conc__waitq_push(&b->entry_, &w);
    w.what = "barrier";
    rc = conc__waiter_sleep(&w, &b->entry_, lock_of(b), deadline, true);
    if (rc == RETRY)
        return rc;
    conc__os_lock(lock_of(b));
    give_up_breaks(b, &wl);
    conc__os_unlock(lock_of(b));
    conc__wakelist_run(&wl);
    return rc;
}

int conc_barrier_wait(conc_barrier_t *b, int64_t timeout_ns)
{
    int64_t deadline = conc__deadline(timeout_ns);
    bool nowait = timeout_ns == CONC_NOWAIT;
    int rc;

    if (!b)
        return CONC_EINVAL;
    for (;;) {
        conc__os_lock(lock_of(b));
        switch (state(b)) {
        case FILLING:
            return arrive(b, deadline, nowait);
        case TRIPPING:
            rc = wait_for_next_cycle(b, deadline, nowait);
            if (rc != RETRY)
                return rc;
            break;
        case BROKEN:
            conc__os_unlock(lock_of(b));
            return CONC_EBROKEN;
        default:
            conc__os_unlock(lock_of(b));
            return CONC_EINVAL;
        }
    }
}

int conc_barrier_abort(conc_barrier_t *b)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    int rc = 0;

    if (!b)
        return CONC_EINVAL;
    conc__os_lock(lock_of(b));
    if (state(b) == DEAD)
        rc = CONC_EINVAL;
    else
        give_up_breaks(b, &wl);
    conc__os_unlock(lock_of(b));
    conc__wakelist_run(&wl);
    return rc;
}

int conc_barrier_reset(conc_barrier_t *b)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    int rc = 0;

    if (!b)
        return CONC_EINVAL;
    conc__os_lock(lock_of(b));
    switch (state(b)) {
    case TRIPPING:
        b->break_pending_ = false;
        break;
    case FILLING:
    case BROKEN:
        conc__waitq_wake_n(&b->waiters_, -1, CONC_EBROKEN, &wl);
        set_state(b, FILLING);
        set_count(b, 0);
        b->generation_++;
        break;
    default:
        rc = CONC_EINVAL;
    }
    conc__os_unlock(lock_of(b));
    conc__wakelist_run(&wl);
    return rc;
}

int conc_barrier_n_waiting(conc_barrier_t *b)
{
    if (!b || state(b) == DEAD)
        return CONC_EINVAL;
    return atomic_load_explicit(&b->count_, memory_order_relaxed);
}

bool conc_barrier_broken(conc_barrier_t *b)
{
    return b && state(b) == BROKEN;
}

int conc_barrier_parties(conc_barrier_t *b)
{
    if (!b || state(b) == DEAD)
        return CONC_EINVAL;
    return b->parties_;
}
