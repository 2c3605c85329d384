/*
 * Condition variables. A wait queues its waiter *before* releasing the
 * mutex, so a notify that follows the release (under the same mutex, or
 * after it) finds the waiter: no notify is lost. state_ lets a notify that
 * finds nobody waiting cost a single load: waiters set it under lock_, and
 * a notify that empties the queue clears it. It may say "waiters" when the
 * last one has just timed out; the next notify then clears it.
 */
#include "mutex_internal.h"

#include "conc/cond.h"

enum { NO_WAITERS = 0, MAYBE_WAITERS = 1, DESTROYED = 2 };

/* The mutex a wait releases and takes again: plain (r == NULL) or recursive. */
struct held {
    conc_mutex_t *m;
    conc_rmutex_t *r;
    uintptr_t me;
    uint32_t depth;
};

static struct held held_plain(conc_mutex_t *m)
{
    return (struct held){ m, NULL, conc__context_id(), 0 };
}

static struct held held_recursive(conc_rmutex_t *r)
{
    return (struct held){ r ? &r->mutex_ : NULL, r, conc__context_id(), 0 };
}

static void release(struct held *h)
{
    if (h->r)
        h->depth = conc__rmutex_release_all(h->r, h->me);
    else
        conc__mutex_unlock_as(h->m, h->me);
}

/* Not cancellable and without deadline: a wait returns holding its mutex. */
static int reacquire(struct held *h)
{
    if (h->r)
        return conc__rmutex_restore(h->r, h->me, h->depth);
    return conc__mutex_lock_until(h->m, h->me, CONC_FOREVER, false);
}

static bool destroyed(conc_cond_t *c)
{
    return atomic_load_explicit(&c->state_, memory_order_relaxed) == DESTROYED;
}

/* Common entry checks of every wait; 0 when the wait may go ahead. */
static int check_wait(conc_cond_t *c, struct held *h)
{
    if (!c || !h->m)
        return CONC_EINVAL;
    if (destroyed(c))
        return CONC_EINVAL;
    return conc__mutex_owner(h->m) == h->me ? 0 : CONC_EPERM;
}

int conc_cond_init(conc_cond_t *c)
{
    if (!c)
        return CONC_EINVAL;
    atomic_init(&c->lock_, CONC__OS_LOCK_INIT);
    atomic_init(&c->state_, NO_WAITERS);
    c->waiters_ = (conc__waitq_t)CONC__WAITQ_INIT;
    return 0;
}

int conc_cond_destroy(conc_cond_t *c)
{
    int rc = 0;

    if (!c)
        return CONC_EINVAL;
    conc__os_lock(&c->lock_);
    if (destroyed(c))
        rc = CONC_EINVAL;
    else if (!conc__waitq_empty(&c->waiters_))
        rc = CONC_EBUSY;
    else
        atomic_store_explicit(&c->state_, DESTROYED, memory_order_relaxed);
    conc__os_unlock(&c->lock_);
    return rc;
}

/* One wait until notified or the deadline; returns holding the mutex
 * unless the mutex itself was destroyed meanwhile. */
static int wait_until(conc_cond_t *c, struct held *h, int64_t deadline)
{
    conc__waiter_t w;
    int rc, relock;

    /* A wait that cannot wait does not give the mutex away either. */
    if (deadline >= 0 && conc_now_ns() >= deadline)
        return CONC_ETIMEDOUT;
    conc__os_lock(&c->lock_);
    if (destroyed(c)) {
        conc__os_unlock(&c->lock_);
        return CONC_EINVAL;
    }
    conc__waiter_init(&w);
    conc__waitq_push(&c->waiters_, &w);
    atomic_store_explicit(&c->state_, MAYBE_WAITERS, memory_order_seq_cst);
    conc__os_unlock(&c->lock_);
    /* Queued first, released second: a notify from here on reaches w (its
     * wake is a token the sleep below consumes even if it came already). */
    release(h);
    conc__os_lock(&c->lock_);
    w.what = "condition";
    rc = conc__waiter_sleep(&w, &c->waiters_, &c->lock_, deadline, true);
    relock = reacquire(h);
    return relock ? relock : rc;
}

static int wait_for(conc_cond_t *c, struct held *h, conc_cond_pred_fn pred, void *arg,
                    int64_t timeout_ns)
{
    int64_t deadline = conc__deadline(timeout_ns);

    /* The predicate is evaluated after every wait, a timed-out one too:
     * the mutex was released, so its last value is the one that counts.
     * "late" is read before each evaluation, so a false answer ends the
     * call only when it was computed after the deadline. */
    for (;;) {
        bool late = deadline >= 0 && conc_now_ns() >= deadline;
        if (pred(arg))
            return 1;
        if (late)
            return 0;
        int rc = wait_until(c, h, deadline);
        if (rc != 0 && rc != CONC_ETIMEDOUT)
            return rc;
    }
}

int conc_cond_wait(conc_cond_t *c, conc_mutex_t *m, int64_t timeout_ns)
{
    struct held h = held_plain(m);
    int rc = check_wait(c, &h);

    return rc ? rc : wait_until(c, &h, conc__deadline(timeout_ns));
}

int conc_cond_wait_r(conc_cond_t *c, conc_rmutex_t *r, int64_t timeout_ns)
{
    struct held h = held_recursive(r);
    int rc = check_wait(c, &h);

    return rc ? rc : wait_until(c, &h, conc__deadline(timeout_ns));
}

int conc_cond_wait_for(conc_cond_t *c, conc_mutex_t *m, conc_cond_pred_fn pred, void *arg,
                       int64_t timeout_ns)
{
    struct held h = held_plain(m);
    int rc = pred ? check_wait(c, &h) : CONC_EINVAL;

    return rc ? rc : wait_for(c, &h, pred, arg, timeout_ns);
}

int conc_cond_wait_for_r(conc_cond_t *c, conc_rmutex_t *r, conc_cond_pred_fn pred, void *arg,
                         int64_t timeout_ns)
{
    struct held h = held_recursive(r);
    int rc = pred ? check_wait(c, &h) : CONC_EINVAL;

    return rc ? rc : wait_for(c, &h, pred, arg, timeout_ns);
}

static int notify_slow(conc_cond_t *c, int n)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;

    conc__os_lock(&c->lock_);
    if (destroyed(c)) {
        conc__os_unlock(&c->lock_);
        return CONC_EINVAL;
    }
    conc__waitq_wake_n(&c->waiters_, n, 0, &wl);
    if (conc__waitq_empty(&c->waiters_))
        atomic_store_explicit(&c->state_, NO_WAITERS, memory_order_relaxed);
    conc__os_unlock(&c->lock_);
    conc__wakelist_run(&wl);
    return 0;
}

/* The load is acquire: a waiter's "queued" store precedes its release of
 * the mutex, which precedes the notifier's changes to the state it tests. */
static bool nobody_waits(conc_cond_t *c)
{
    return atomic_load_explicit(&c->state_, memory_order_acquire) == NO_WAITERS;
}

int conc_cond_notify(conc_cond_t *c, int n)
{
    if (!c || n < 0)
        return CONC_EINVAL;
    if (nobody_waits(c))
        return 0;
    return notify_slow(c, n);
}

int conc_cond_notify_all(conc_cond_t *c)
{
    if (!c)
        return CONC_EINVAL;
    if (nobody_waits(c))
        return 0;
    return notify_slow(c, -1);
}
