/*
 * The plain mutex. One word says everything the fast paths need:
 *
 *   state_ = owner context id | PARKED | DESTROYED      (mutex_internal.h)
 *
 * lock is one CAS 0 -> me, unlock one CAS me -> 0; the unlock CAS also
 * checks ownership for free and fails over to the slow path as soon as
 * PARKED says somebody may sleep in the wait queue.
 *
 * Contended: spin for a bounded, learned number of pauses (not at all on a
 * single CPU, where the owner cannot run while we spin, nor while others
 * already sleep), then queue a waiter and sleep through the wait-queue core,
 * so any context (thread, later a task) can wait. An unlock that finds
 * waiters wakes the first one:
 *  - normally with RETRY: the lock is left free, running contexts may barge
 *    in before the sleeper wakes (this is what makes a contended lock fast);
 *    a sleeper that loses the race queues again, keeping its first-queued time;
 *  - with HANDOFF once that first-queued time is FAIR_NS old: the lock is
 *    given to the waiter directly (state_ = its id), so nobody starves.
 *    A hand-off that races the waiter's deadline wins: the waiter owns the
 *    lock and returns 0, so no wake-up is lost.
 * Invariant, under lock_: waiters queued => PARKED set. PARKED may be stale
 * (the last waiter timed out); the next unlock then clears it.
 */
#include "mutex_internal.h"

/* Hand-off age: long enough that barging keeps its throughput, short enough
 * that a waiter's latency stays bounded (docs/mutex.md). */
#define FAIR_NS CONC_US(1000)
/* Spin budget in pauses: at least SPIN_MIN, twice the learned average, at
 * most SPIN_MAX (a few microseconds: about what a sleep and wake-up cost). */
#define SPIN_MIN 16
#define SPIN_MAX 256

enum { HANDOFF = 1, RETRY = 2 };

#define OWNER_OF(s) ((s) & ~CONC__MUTEX_FLAGS)

static conc__os_lock_t *guard(conc_mutex_t *m)
{
    return &m->lock_;
}

int conc_mutex_init(conc_mutex_t *m)
{
    if (!m)
        return CONC_EINVAL;
    atomic_init(&m->state_, 0);
    atomic_init(&m->lock_, CONC__OS_LOCK_INIT);
    atomic_init(&m->spin_, 0);
    m->waiters_ = (conc__waitq_t)CONC__WAITQ_INIT;
    return 0;
}

static int destroy_locked(conc_mutex_t *m)
{
    uintptr_t s = atomic_load_explicit(&m->state_, memory_order_relaxed);

    do {
        if (s & CONC__MUTEX_DESTROYED)
            return CONC_EINVAL;
        if (OWNER_OF(s) || !conc__waitq_empty(&m->waiters_))
            return CONC_EBUSY;
        /* A CAS, not a store: a context may lock it meanwhile (fast path). */
    } while (!atomic_compare_exchange_weak_explicit(&m->state_, &s, CONC__MUTEX_DESTROYED,
                                                    memory_order_relaxed, memory_order_relaxed));
    return 0;
}

int conc_mutex_destroy(conc_mutex_t *m)
{
    int rc;

    if (!m)
        return CONC_EINVAL;
    conc__os_lock(guard(m));
    rc = destroy_locked(m);
    conc__os_unlock(guard(m));
    return rc;
}

int conc__mutex_try(conc_mutex_t *m, uintptr_t me)
{
    uintptr_t s = atomic_load_explicit(&m->state_, memory_order_relaxed);

    for (;;) {
        if (s & CONC__MUTEX_DESTROYED)
            return CONC_EINVAL;
        if (OWNER_OF(s))
            return OWNER_OF(s) == me ? CONC_EDEADLK : CONC_EBUSY;
        /* Free, maybe with PARKED: keep the flag, it belongs to the queue. */
        if (atomic_compare_exchange_weak_explicit(&m->state_, &s, s | me, memory_order_acquire,
                                                  memory_order_relaxed))
            return 0;
    }
}

/* ---- spinning ---------------------------------------------------------- */

static int spin_limit(conc_mutex_t *m)
{
    uint32_t avg = atomic_load_explicit(&m->spin_, memory_order_relaxed);
    uint32_t limit = SPIN_MIN + 2 * avg;

    /* A task never spins: the owner may be another task of its own loop,
     * which cannot run until this one suspends. */
    if (conc__single_cpu() || conc__installed_context.ops)
        return 0;
    return limit < SPIN_MAX ? (int)limit : SPIN_MAX;
}

/* Move the learned average an eighth of the way towards what this round
 * needed: spins that succeed late raise the limit, spins that fail lower it
 * (a lock held long or by a descheduled owner is not worth spinning on). */
static void spin_learn(conc_mutex_t *m, int needed, bool acquired)
{
    int32_t avg = (int32_t)atomic_load_explicit(&m->spin_, memory_order_relaxed);
    int32_t target = acquired ? needed : 0;

    atomic_store_explicit(&m->spin_, (uint32_t)(avg + (target - avg) / 8), memory_order_relaxed);
}

/*
 * Test-and-test-and-set with exponential backoff: read the word (no write,
 * so the owner keeps its cache line), pausing 1, 2, 4 ... 32 times between
 * reads, and try one CAS when the owner has let go. Nobody spins while
 * others sleep: then the lock is heavily contended, spinning would only
 * steal cache lines and CPU time from the owner, and the sleepers are
 * ahead anyway (the same rule as parking_lot and WTF::Lock).
 */
static bool spin(conc_mutex_t *m, uintptr_t me)
{
    int limit = spin_limit(m);
    int spent = 0, step = 1;

    while (spent < limit) {
        for (int i = 0; i < step; i++)
            conc__os_cpu_relax();
        spent += step;
        if (step < 32)
            step *= 2;
        uintptr_t s = atomic_load_explicit(&m->state_, memory_order_relaxed);
        if (s & CONC__MUTEX_PARKED)
            return false;
        if (OWNER_OF(s))
            continue;
        int rc = conc__mutex_try(m, me);
        if (rc == 0) {
            spin_learn(m, spent, true);
            return true;
        }
        if (rc != CONC_EBUSY)
            return false; /* destroyed: the caller reports it */
    }
    if (limit)
        spin_learn(m, limit, false);
    return false;
}

/* ---- sleeping ---------------------------------------------------------- */

/* Under lock_: take the lock if free, else make sure PARKED is set so the
 * owner's unlock will look at the queue. 0 taken, CONC_EBUSY go to sleep,
 * or the error of conc__mutex_try(). */
static int take_or_flag(conc_mutex_t *m, uintptr_t me)
{
    for (;;) {
        int rc = conc__mutex_try(m, me);
        if (rc != CONC_EBUSY)
            return rc;
        uintptr_t s = atomic_load_explicit(&m->state_, memory_order_relaxed);
        if (!OWNER_OF(s))
            continue; /* released meanwhile: try again */
        if ((s & CONC__MUTEX_PARKED) ||
            atomic_compare_exchange_weak_explicit(&m->state_, &s, s | CONC__MUTEX_PARKED,
                                                  memory_order_relaxed, memory_order_relaxed))
            return CONC_EBUSY;
    }
}

/* Queue and sleep once. Returns 0 when the lock is ours (taken or handed
 * over), RETRY when woken to compete again, or an error. *since keeps the
 * first-queued time across rounds: it is what earns the hand-off. */
static int park(conc_mutex_t *m, uintptr_t me, int64_t deadline, bool cancellable, int64_t *since)
{
    conc__waiter_t w;
    int rc;

    if (deadline >= 0 && conc_now_ns() >= deadline)
        return CONC_ETIMEDOUT;
    if (*since < 0)
        *since = conc_now_ns();
    conc__os_lock(guard(m));
    rc = take_or_flag(m, me);
    if (rc != CONC_EBUSY) {
        conc__os_unlock(guard(m));
        return rc;
    }
    conc__waiter_init(&w);
    CONC_ASSERT((uintptr_t)w.context.ctx == me);
    w.since_ns = *since;
    conc__waitq_push(&m->waiters_, &w);
    w.what = "mutex";
    rc = conc__waiter_sleep(&w, &m->waiters_, guard(m), deadline, cancellable);
    return rc == HANDOFF ? 0 : rc;
}

int conc__mutex_lock_until(conc_mutex_t *m, uintptr_t me, int64_t deadline_ns, bool cancellable)
{
    int64_t since = -1;

    if (!m)
        return CONC_EINVAL;
    CONC_ASSERT(me && !(me & CONC__MUTEX_FLAGS));
    for (;;) {
        int rc = conc__mutex_try(m, me);
        if (rc != CONC_EBUSY)
            return rc;
        if (spin(m, me))
            return 0;
        rc = park(m, me, deadline_ns, cancellable, &since);
        if (rc != RETRY)
            return rc;
    }
}

/* ---- the public fast paths --------------------------------------------- */

int conc_mutex_lock(conc_mutex_t *m)
{
    uintptr_t me = conc__context_id();

    if (CONC_LIKELY(m != NULL && conc__mutex_cas_lock(m, me)))
        return 0;
    return conc__mutex_lock_until(m, me, CONC_FOREVER, true);
}

int conc_mutex_trylock(conc_mutex_t *m)
{
    uintptr_t me = conc__context_id();
    int rc;

    if (CONC_LIKELY(m != NULL && conc__mutex_cas_lock(m, me)))
        return 0;
    if (!m)
        return CONC_EINVAL;
    rc = conc__mutex_try(m, me);
    return rc == CONC_EDEADLK ? CONC_EBUSY : rc;
}

int conc_mutex_timedlock(conc_mutex_t *m, int64_t timeout_ns)
{
    uintptr_t me = conc__context_id();

    if (timeout_ns == CONC_NOWAIT)
        return conc_mutex_trylock(m);
    if (CONC_LIKELY(m != NULL && conc__mutex_cas_lock(m, me)))
        return 0;
    return conc__mutex_lock_until(m, me, conc__deadline(timeout_ns), true);
}

/* ---- unlocking --------------------------------------------------------- */

static bool fair_due(const conc__waiter_t *w)
{
    return conc_now_ns() - w->since_ns >= FAIR_NS;
}

/* Called as the owner with PARKED set. The owner's state cannot change
 * under lock_ (only flags are set, and only under lock_), so a plain store
 * publishes the next state. */
static void unlock_contended(conc_mutex_t *m)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    conc__waiter_t *w;
    uintptr_t next = 0;

    conc__os_lock(guard(m));
    w = conc__waitq_first(&m->waiters_);
    if (w) {
        int status = RETRY;
        if (fair_due(w)) {
            next = (uintptr_t)w->context.ctx;
            status = HANDOFF;
        }
        if (w->next)
            next |= CONC__MUTEX_PARKED;
        conc__waitq_wake(&m->waiters_, w, status, &wl);
    }
    atomic_store_explicit(&m->state_, next, memory_order_release);
    conc__os_unlock(guard(m));
    conc__wakelist_run(&wl);
}

int conc__mutex_unlock_as(conc_mutex_t *m, uintptr_t me)
{
    if (conc__mutex_cas_unlock(m, me))
        return 0;
    if (conc__mutex_owner(m) != me)
        return CONC_EPERM;
    unlock_contended(m);
    return 0;
}

int conc_mutex_unlock(conc_mutex_t *m)
{
    if (CONC_UNLIKELY(m == NULL))
        return CONC_EINVAL;
    return conc__mutex_unlock_as(m, conc__context_id());
}

bool conc_mutex_locked(conc_mutex_t *m)
{
    return m && conc__mutex_owner(m) != 0;
}

bool conc_mutex_owned_by_me(conc_mutex_t *m)
{
    return m && conc__mutex_owner(m) == conc__context_id();
}
