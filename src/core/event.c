/*
 * Events on the wait-queue core.
 *
 * The state word has a SET bit and a WAITERS bit ("waiters may be queued").
 * WAITERS is only ever set while SET is clear, under the internal lock, and
 * only the slow set() clears it (again under the lock, storing SET at the
 * same time). So without WAITERS, set, clear, is_set and a wait on a set
 * event never take the lock. A set() that finds WAITERS wakes every queued
 * waiter with status 0, which is what makes a woken waiter return 0 even if
 * clear() follows at once (Python's semantics).
 *
 * A waiter that times out leaves WAITERS behind; the next set() pays one trip
 * through the lock and finds nobody to wake.
 */
#include "conc/event.h"

#include "waitq.h"

#define SET 1u
#define WAITERS 2u
#define DEAD 4u /* never combined with the other bits */

static conc__os_lock_t *lock_of(conc_event_t *e)
{
    return &e->lock_;
}

int conc_event_init(conc_event_t *e)
{
    if (!e)
        return CONC_EINVAL;
    atomic_init(&e->state_, 0);
    atomic_init(&e->lock_, CONC__OS_LOCK_INIT);
    e->waiters_ = (conc__waitq_t)CONC__WAITQ_INIT;
    return 0;
}

int conc_event_destroy(conc_event_t *e)
{
    int rc = 0;

    if (!e)
        return CONC_EINVAL;
    conc__os_lock(lock_of(e));
    if (atomic_load_explicit(&e->state_, memory_order_relaxed) == DEAD)
        rc = CONC_EINVAL;
    else if (!conc__waitq_empty(&e->waiters_))
        rc = CONC_EBUSY;
    else
        atomic_store_explicit(&e->state_, DEAD, memory_order_relaxed);
    conc__os_unlock(lock_of(e));
    return rc;
}

static int set_slow(conc_event_t *e)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;

    conc__os_lock(lock_of(e));
    if (atomic_load_explicit(&e->state_, memory_order_relaxed) == DEAD) {
        conc__os_unlock(lock_of(e));
        return CONC_EINVAL;
    }
    conc__waitq_wake_n(&e->waiters_, -1, 0, &wl);
    atomic_store_explicit(&e->state_, SET, memory_order_release);
    conc__os_unlock(lock_of(e));
    conc__wakelist_run(&wl);
    return 0;
}

int conc_event_set(conc_event_t *e)
{
    uint32_t v;

    if (CONC_UNLIKELY(!e))
        return CONC_EINVAL;
    v = atomic_load_explicit(&e->state_, memory_order_relaxed);
    for (;;) {
        if (v & (WAITERS | DEAD))
            return set_slow(e);
        if (v & SET)
            return 0;
        if (atomic_compare_exchange_weak_explicit(&e->state_, &v, SET, memory_order_release,
                                                  memory_order_relaxed))
            return 0;
    }
}

int conc_event_clear(conc_event_t *e)
{
    if (CONC_UNLIKELY(!e))
        return CONC_EINVAL;
    /* Under WAITERS the SET bit is already clear: this changes nothing then,
     * and on a destroyed event it changes nothing either. */
    if (atomic_fetch_and_explicit(&e->state_, ~SET, memory_order_relaxed) == DEAD)
        return CONC_EINVAL;
    return 0;
}

bool conc_event_is_set(conc_event_t *e)
{
    return e && (atomic_load_explicit(&e->state_, memory_order_acquire) & SET);
}

/* Under the lock: 0 if set, 1 after announcing a waiter, or CONC_EINVAL. */
static int check_or_flag(conc_event_t *e)
{
    uint32_t v = atomic_load_explicit(&e->state_, memory_order_acquire);

    for (;;) {
        if (v == DEAD)
            return CONC_EINVAL;
        if (v & SET)
            return 0;
        if (v & WAITERS)
            return 1;
        if (atomic_compare_exchange_weak_explicit(&e->state_, &v, WAITERS, memory_order_acquire,
                                                  memory_order_acquire))
            return 1;
    }
}

static int wait_slow(conc_event_t *e, int64_t timeout_ns)
{
    int64_t deadline = conc__deadline(timeout_ns);
    conc__waiter_t w;
    int rc;

    if (timeout_ns == CONC_NOWAIT)
        return atomic_load_explicit(&e->state_, memory_order_relaxed) == DEAD ? CONC_EINVAL
                                                                              : CONC_EAGAIN;
    conc__os_lock(lock_of(e));
    rc = check_or_flag(e);
    if (rc <= 0) {
        conc__os_unlock(lock_of(e));
        return rc;
    }
    conc__waiter_init(&w);
    conc__waitq_push(&e->waiters_, &w);
    w.what = "event";
    return conc__waiter_sleep(&w, &e->waiters_, lock_of(e), deadline, true);
}

int conc_event_wait(conc_event_t *e, int64_t timeout_ns)
{
    if (CONC_UNLIKELY(!e))
        return CONC_EINVAL;
    if (CONC_LIKELY(atomic_load_explicit(&e->state_, memory_order_acquire) & SET))
        return 0;
    return wait_slow(e, timeout_ns);
}
