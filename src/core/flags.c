/*
 * Event flags on the wait-queue core.
 *
 * The state word holds the 31-bit value and, in the reserved bit 31, a flag
 * saying that waiters may be queued. While the flag is set the word changes
 * only under the internal lock, so a set() can check the queued waiters in
 * FIFO order and let each consume its bits before the next one is checked,
 * all as one atomic step. Without the flag, set, clear, get and a wait whose
 * condition already holds are one atomic operation each.
 *
 * Invariant after every set(): no queued waiter's condition holds for the
 * current value. A newcomer whose condition holds may therefore take its
 * bits at once without overtaking a queued waiter that could have had them.
 *
 * A woken waiter gets the value at the moment its condition was met as its
 * wake status (>= 0, so it never looks like an error). A waiter that times
 * out leaves the flag behind; the next slow operation recomputes it.
 */
#include "conc/flags.h"

#include <limits.h>

#include "waitq.h"

#define WAITERS 0x80000000u
#define DEAD UINT32_MAX /* all bits and the flag: never a live state */
/* From a slow path that found the flag gone: use the fast path. Values are
 * >= 0 and errors small negatives, so this cannot be mistaken for either. */
#define RETRY INT_MIN

/* What a queued waiter waits for (its conc__waiter_t ptr points here). */
struct want {
    uint32_t mask;
    int options;
};

static conc__os_lock_t *lock_of(conc_flags_t *f)
{
    return &f->lock_;
}

static bool valid_mask(uint32_t mask)
{
    return mask != 0 && !(mask & ~CONC_FLAGS_MASK);
}

static bool valid_options(int options)
{
    int kind = options & (CONC_FLAGS_ANY | CONC_FLAGS_ALL);

    if (options & ~(CONC_FLAGS_ANY | CONC_FLAGS_ALL | CONC_FLAGS_CLEAR))
        return false;
    return kind == CONC_FLAGS_ANY || kind == CONC_FLAGS_ALL;
}

static bool met(uint32_t value, const struct want *want)
{
    if (want->options & CONC_FLAGS_ALL)
        return (value & want->mask) == want->mask;
    return (value & want->mask) != 0;
}

/* The bits a satisfied waiter takes away with it. */
static uint32_t consumed(uint32_t value, const struct want *want)
{
    return want->options & CONC_FLAGS_CLEAR ? value & want->mask : 0;
}

int conc_flags_init(conc_flags_t *f)
{
    if (!f)
        return CONC_EINVAL;
    atomic_init(&f->state_, 0);
    atomic_init(&f->lock_, CONC__OS_LOCK_INIT);
    f->waiters_ = (conc__waitq_t)CONC__WAITQ_INIT;
    return 0;
}

int conc_flags_destroy(conc_flags_t *f)
{
    int rc = 0;

    if (!f)
        return CONC_EINVAL;
    conc__os_lock(lock_of(f));
    if (atomic_load_explicit(&f->state_, memory_order_relaxed) == DEAD)
        rc = CONC_EINVAL;
    else if (!conc__waitq_empty(&f->waiters_))
        rc = CONC_EBUSY;
    else
        atomic_store_explicit(&f->state_, DEAD, memory_order_relaxed);
    conc__os_unlock(lock_of(f));
    return rc;
}

/* Under the lock with the flag set: nobody else changes the word. */
static int set_slow(conc_flags_t *f, uint32_t mask)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    uint32_t v, value;
    conc__waiter_t *w, *next;

    conc__os_lock(lock_of(f));
    v = atomic_load_explicit(&f->state_, memory_order_relaxed);
    if (v == DEAD || !(v & WAITERS)) {
        conc__os_unlock(lock_of(f));
        return v == DEAD ? CONC_EINVAL : RETRY;
    }
    value = (v & CONC_FLAGS_MASK) | mask;
    for (w = conc__waitq_first(&f->waiters_); w; w = next) {
        const struct want *want = w->ptr;

        next = w->next; /* waking w reuses its links */
        if (met(value, want)) {
            conc__waitq_wake(&f->waiters_, w, (int)value, &wl);
            value &= ~consumed(value, want);
        }
    }
    atomic_store_explicit(&f->state_, value | (conc__waitq_empty(&f->waiters_) ? 0 : WAITERS),
                          memory_order_release);
    conc__os_unlock(lock_of(f));
    conc__wakelist_run(&wl);
    return (int)value;
}

int conc_flags_set(conc_flags_t *f, uint32_t mask)
{
    uint32_t v;
    int rc;

    if (CONC_UNLIKELY(!f || !valid_mask(mask)))
        return CONC_EINVAL;
    do {
        v = atomic_load_explicit(&f->state_, memory_order_relaxed);
        while (!(v & WAITERS)) {
            if (atomic_compare_exchange_weak_explicit(&f->state_, &v, v | mask,
                                                      memory_order_release, memory_order_relaxed))
                return (int)(v | mask);
        }
        rc = set_slow(f, mask);
    } while (rc == RETRY);
    return rc;
}

static int clear_slow(conc_flags_t *f, uint32_t mask)
{
    uint32_t v, value;

    conc__os_lock(lock_of(f));
    v = atomic_load_explicit(&f->state_, memory_order_relaxed);
    if (v == DEAD || !(v & WAITERS)) {
        conc__os_unlock(lock_of(f));
        return v == DEAD ? CONC_EINVAL : RETRY;
    }
    value = v & ~mask & CONC_FLAGS_MASK;
    atomic_store_explicit(&f->state_, value | (conc__waitq_empty(&f->waiters_) ? 0 : WAITERS),
                          memory_order_relaxed);
    conc__os_unlock(lock_of(f));
    return (int)(v & CONC_FLAGS_MASK);
}

int conc_flags_clear(conc_flags_t *f, uint32_t mask)
{
    uint32_t v;
    int rc;

    if (CONC_UNLIKELY(!f || !valid_mask(mask)))
        return CONC_EINVAL;
    do {
        v = atomic_load_explicit(&f->state_, memory_order_relaxed);
        while (!(v & WAITERS)) {
            if (atomic_compare_exchange_weak_explicit(&f->state_, &v, v & ~mask,
                                                      memory_order_relaxed, memory_order_relaxed))
                return (int)v;
        }
        rc = clear_slow(f, mask);
    } while (rc == RETRY);
    return rc;
}

int conc_flags_get(conc_flags_t *f)
{
    uint32_t v;

    if (!f)
        return CONC_EINVAL;
    v = atomic_load_explicit(&f->state_, memory_order_acquire);
    return v == DEAD ? CONC_EINVAL : (int)(v & CONC_FLAGS_MASK);
}

/*
 * Take the bits if the condition holds. *v is the caller's view of the word
 * and is refreshed. Returns 1 when the condition holds and was taken (*value
 * set), 0 when it does not hold, and -1 when it holds but the bits must be
 * consumed under the lock because waiters are queued (and locked is false).
 */
static int try_take(conc_flags_t *f, uint32_t *v, const struct want *want, bool locked,
                    uint32_t *value)
{
    for (;;) {
        uint32_t val = *v & CONC_FLAGS_MASK;

        if (!met(val, want))
            return 0;
        if (!(want->options & CONC_FLAGS_CLEAR)) {
            *value = val;
            return 1;
        }
        if ((*v & WAITERS) && !locked)
            return -1;
        if (atomic_compare_exchange_weak_explicit(&f->state_, v, *v & ~consumed(val, want),
                                                  memory_order_acquire, memory_order_acquire)) {
            *value = val;
            return 1;
        }
    }
}

static int wait_slow(conc_flags_t *f, struct want *want, uint32_t *value, int64_t timeout_ns)
{
    int64_t deadline = conc__deadline(timeout_ns);
    conc__waiter_t w;
    uint32_t v;
    int rc;

    conc__os_lock(lock_of(f));
    v = atomic_load_explicit(&f->state_, memory_order_acquire);
    for (;;) {
        if (v == DEAD) {
            conc__os_unlock(lock_of(f));
            return CONC_EINVAL;
        }
        if (try_take(f, &v, want, true, value)) {
            conc__os_unlock(lock_of(f));
            return 0;
        }
        if (timeout_ns == CONC_NOWAIT) {
            conc__os_unlock(lock_of(f));
            return CONC_EAGAIN;
        }
        if ((v & WAITERS) ||
            atomic_compare_exchange_weak_explicit(&f->state_, &v, v | WAITERS, memory_order_acquire,
                                                  memory_order_acquire))
            break;
    }
    conc__waiter_init(&w);
    w.ptr = want;
    conc__waitq_push(&f->waiters_, &w);
    w.what = "event flags";
    rc = conc__waiter_sleep(&w, &f->waiters_, lock_of(f), deadline, true);
    if (rc < 0)
        return rc;
    *value = (uint32_t)rc; /* the value when set() met our condition */
    return 0;
}

int conc_flags_wait(conc_flags_t *f, uint32_t mask, int options, uint32_t *value,
                    int64_t timeout_ns)
{
    struct want want = { mask, options };
    uint32_t v, seen;
    int rc;

    if (CONC_UNLIKELY(!f || !valid_mask(mask) || !valid_options(options)))
        return CONC_EINVAL;
    v = atomic_load_explicit(&f->state_, memory_order_acquire);
    if (CONC_UNLIKELY(v == DEAD))
        return CONC_EINVAL;
    rc = try_take(f, &v, &want, false, &seen);
    if (rc == 0 && timeout_ns == CONC_NOWAIT)
        return CONC_EAGAIN;
    if (rc <= 0) {
        rc = wait_slow(f, &want, &seen, timeout_ns);
        if (rc < 0)
            return rc;
    }
    if (value)
        *value = seen;
    return 0;
}
