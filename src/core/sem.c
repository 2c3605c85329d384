/*
 * Counting semaphores on the wait-queue core.
 *
 * The state word holds the count shifted left by one and, in bit 0, a flag
 * saying that waiters may be queued. The invariant that makes the fast paths
 * safe: while the flag is set the count is 0 and the word changes only under
 * the internal lock. So, without the flag, acquire and release are a single
 * compare-and-swap on the count; with it, release hands permits to the queued
 * waiters one by one (FIFO) under the lock, and a newcomer cannot overtake
 * them because it sees a count of 0.
 *
 * A waiter that times out leaves the flag set (it cannot know whether it was
 * the last one without taking the lock again). That costs the next release one
 * trip through the lock, which clears the flag when it finds no waiter.
 */
#include "conc/sem.h"

#include "waitq.h"

#define WAITERS 1u
#define ONE 2u /* one permit in the state word */
/* Flag set with a non-zero count: impossible for a live semaphore. */
#define DEAD UINT32_MAX

enum { HANDED = 1 }; /* wake status: a permit was handed to the waiter */

static conc__os_lock_t *lock_of(conc_sem_t *s)
{
    return &s->lock_;
}

static int init(conc_sem_t *s, int value, uint32_t limit)
{
    if (!s || value < 0)
        return CONC_EINVAL;
    atomic_init(&s->state_, (uint32_t)value * ONE);
    atomic_init(&s->lock_, CONC__OS_LOCK_INIT);
    s->limit_ = limit;
    s->waiters_ = (conc__waitq_t)CONC__WAITQ_INIT;
    return 0;
}

int conc_sem_init(conc_sem_t *s, int value)
{
    return init(s, value, CONC_SEM_VALUE_MAX);
}

int conc_sem_init_bounded(conc_sem_t *s, int value)
{
    return init(s, value, (uint32_t)value);
}

int conc_sem_destroy(conc_sem_t *s)
{
    int rc = 0;

    if (!s)
        return CONC_EINVAL;
    conc__os_lock(lock_of(s));
    if (atomic_load_explicit(&s->state_, memory_order_relaxed) == DEAD)
        rc = CONC_EINVAL;
    else if (!conc__waitq_empty(&s->waiters_))
        rc = CONC_EBUSY;
    else
        atomic_store_explicit(&s->state_, DEAD, memory_order_relaxed);
    conc__os_unlock(lock_of(s));
    return rc;
}

/* Take a permit if the count is positive and no waiter is queued; *v is the
 * caller's last view of the state word and is refreshed. */
static bool try_take(conc_sem_t *s, uint32_t *v)
{
    while (*v >= ONE && !(*v & WAITERS)) {
        if (atomic_compare_exchange_weak_explicit(&s->state_, v, *v - ONE, memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    }
    return false;
}

/* Under the lock: take a permit, or set the flag and report that the caller
 * must queue. Returns 0 (taken), 1 (queue) or CONC_EINVAL. */
static int take_or_flag(conc_sem_t *s)
{
    uint32_t v = atomic_load_explicit(&s->state_, memory_order_relaxed);

    for (;;) {
        if (v == DEAD)
            return CONC_EINVAL;
        if (try_take(s, &v))
            return 0;
        if (v == WAITERS)
            return 1;
        /* v is 0 here (try_take leaves only on 0, the flag or DEAD). */
        if (atomic_compare_exchange_weak_explicit(&s->state_, &v, WAITERS, memory_order_relaxed,
                                                  memory_order_relaxed))
            return 1;
    }
}

static int acquire_slow(conc_sem_t *s, int64_t timeout_ns)
{
    int64_t deadline = conc__deadline(timeout_ns);
    conc__waiter_t w;
    int rc;

    if (timeout_ns == CONC_NOWAIT) {
        /* The fast path saw no permit at one instant: that is the answer. */
        if (atomic_load_explicit(&s->state_, memory_order_relaxed) == DEAD)
            return CONC_EINVAL;
        return CONC_EAGAIN;
    }
    conc__os_lock(lock_of(s));
    rc = take_or_flag(s);
    if (rc <= 0) {
        conc__os_unlock(lock_of(s));
        return rc;
    }
    conc__waiter_init(&w);
    conc__waitq_push(&s->waiters_, &w);
    w.what = "semaphore";
    rc = conc__waiter_sleep(&w, &s->waiters_, lock_of(s), deadline, true);
    /* HANDED: the permit is ours even if the deadline passed meanwhile. */
    return rc == HANDED ? 0 : rc;
}

int conc_sem_acquire(conc_sem_t *s, int64_t timeout_ns)
{
    uint32_t v;

    if (CONC_UNLIKELY(!s))
        return CONC_EINVAL;
    v = atomic_load_explicit(&s->state_, memory_order_relaxed);
    if (CONC_LIKELY(try_take(s, &v)))
        return 0;
    return acquire_slow(s, timeout_ns);
}

/* Returned by release_slow() when the flag vanished before it got the lock. */
#define RETRY 1

static int release_slow(conc_sem_t *s, uint32_t n)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    uint32_t v;

    conc__os_lock(lock_of(s));
    v = atomic_load_explicit(&s->state_, memory_order_relaxed);
    if (v == DEAD || v != WAITERS) {
        conc__os_unlock(lock_of(s));
        return v == DEAD ? CONC_EINVAL : RETRY;
    }
    /* The count is 0 under the flag, so only n itself can exceed the limit. */
    if (n > s->limit_) {
        conc__os_unlock(lock_of(s));
        return CONC_EOVERFLOW;
    }
    while (n > 0 && !conc__waitq_empty(&s->waiters_)) {
        conc__waitq_wake(&s->waiters_, conc__waitq_first(&s->waiters_), HANDED, &wl);
        n--;
    }
    if (conc__waitq_empty(&s->waiters_))
        atomic_store_explicit(&s->state_, n * ONE, memory_order_release);
    conc__os_unlock(lock_of(s));
    conc__wakelist_run(&wl);
    return 0;
}

int conc_sem_release(conc_sem_t *s, int n)
{
    uint32_t v, count;
    int rc;

    if (CONC_UNLIKELY(!s || n <= 0))
        return CONC_EINVAL;
    do {
        v = atomic_load_explicit(&s->state_, memory_order_relaxed);
        while (!(v & WAITERS)) {
            count = v / ONE;
            if ((uint32_t)n > s->limit_ - count)
                return CONC_EOVERFLOW;
            if (atomic_compare_exchange_weak_explicit(&s->state_, &v, v + (uint32_t)n * ONE,
                                                      memory_order_release, memory_order_relaxed))
                return 0;
        }
        rc = release_slow(s, (uint32_t)n);
    } while (rc == RETRY);
    return rc;
}

int conc_sem_value(conc_sem_t *s)
{
    uint32_t v;

    if (!s)
        return CONC_EINVAL;
    v = atomic_load_explicit(&s->state_, memory_order_relaxed);
    if (v == DEAD)
        return CONC_EINVAL;
    return (int)(v / ONE);
}
