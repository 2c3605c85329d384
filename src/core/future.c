/*
 * Futures (conc/future.h).
 *
 * The state word holds the status and three facts, changed only by atomic
 * read-modify-writes:
 *
 *   status   PENDING, RUNNING, COMPLETING (a set_* is storing the outcome),
 *            DONE (result or error), CANCELLED, DESTROYED
 *   WAITERS  somebody used the slow path (a waiter, a done-callback, a
 *            destroyer): completing must take the lock and wake them
 *   BOUND    a producer (pool item) still holds a pointer to the future
 *   BUSY     count of threads inside the slow path after a transition
 *            (waking, running callbacks): destroy waits for zero
 *
 * Fast path: with nobody waiting, set_running/set_result are compare-and-
 * swaps and result() of a done future is one load; no lock is taken. A
 * waiter sets WAITERS under the lock before it sleeps, so a completer either
 * sees the bit (and wakes it under the lock) or the waiter sees the outcome.
 * A transition that finds WAITERS adds one BUSY in the same atomic step, so
 * a destroyer can never free the future while that thread still touches it.
 */
#include <stdlib.h>

#include "conc/future.h"
#include "future_internal.h"
#include "waitq.h"

enum {
    PENDING = 0,
    RUNNING = 1,
    COMPLETING = 2,
    DONE = 3,
    CANCELLED = 4,
    DESTROYED = 5,
    STATUS = 7,
    WAITERS = 1u << 3,
    BOUND = 1u << 4,
    BUSY_ONE = 1u << 8,
    BUSY_MASK = ~(BUSY_ONE - 1),
};

enum { DESTROYER = 1 }; /* waiter.data of a destroyer */

struct conc__future_cb {
    struct conc__future_cb *next;
    conc_future_cb fn;
    void *arg;
};

static inline uint32_t status_of(uint32_t s)
{
    return s & STATUS;
}

static inline bool complete(uint32_t s)
{
    return status_of(s) == DONE || status_of(s) == CANCELLED;
}

static inline uint32_t load(const conc_future_t *f)
{
    return atomic_load_explicit(&f->state_, memory_order_acquire);
}

static inline bool cas(conc_future_t *f, uint32_t *s, uint32_t next)
{
    return atomic_compare_exchange_weak_explicit(&f->state_, s, next, memory_order_acq_rel,
                                                 memory_order_acquire);
}

int conc_future_init(conc_future_t *f)
{
    if (!f)
        return CONC_EINVAL;
    *f = (conc_future_t)CONC_FUTURE_INIT;
    return 0;
}

void conc__future_init_bound(conc_future_t *f)
{
    *f = (conc_future_t)CONC_FUTURE_INIT;
    atomic_store_explicit(&f->state_, PENDING | BOUND, memory_order_relaxed);
}

/* ---- the slow path ------------------------------------------------------ */

/* The outcome of a complete future, as conc_future_result() reports it. */
static int outcome_of(const conc_future_t *f, uint32_t s, void **value)
{
    if (status_of(s) == CANCELLED)
        return CONC_ECANCELED;
    if (f->error_)
        return f->error_;
    *value = f->value_;
    return 0;
}

/* Under the lock, f complete: wake everyone. A consumer is handed the
 * outcome in its waiter (data, ptr), so once woken it never touches f
 * again: a destroy that follows at once cannot pull f from under it. */
static void wake_all_locked(conc_future_t *f, conc__wakelist_t *wl)
{
    uint32_t s = load(f);
    conc__waiter_t *w;

    while ((w = conc__waitq_first(&f->waiters_)) != NULL) {
        if (w->data != DESTROYER)
            w->data = (uintptr_t)(intptr_t)outcome_of(f, s, &w->ptr);
        conc__waitq_wake(&f->waiters_, w, 0, wl);
    }
}

/* Leave the slow path entered with one BUSY: wake whoever waits for the
 * count to drop (destroyers re-check, result waiters see the outcome). */
static void busy_exit(conc_future_t *f)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;

    conc__os_lock(&f->lock_);
    atomic_fetch_sub_explicit(&f->state_, BUSY_ONE, memory_order_acq_rel);
    wake_all_locked(f, &wl);
    conc__os_unlock(&f->lock_);
    conc__wakelist_run(&wl);
}

/* Callbacks were registered in reverse; run them in registration order. */
static void run_callbacks(conc_future_t *f, conc_future_cb fn, void *arg,
                          struct conc__future_cb *more)
{
    struct conc__future_cb *rev = NULL;

    if (fn)
        fn(f, arg);
    while (more) {
        struct conc__future_cb *next = more->next;
        more->next = rev;
        rev = more;
        more = next;
    }
    while (rev) {
        struct conc__future_cb *next = rev->next;
        rev->fn(f, rev->arg);
        free(rev);
        rev = next;
    }
}

/* After a completing transition that found WAITERS (and added a BUSY). */
static void complete_slow(conc_future_t *f)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    conc_future_cb fn;
    void *arg;
    struct conc__future_cb *more;

    conc__os_lock(&f->lock_);
    fn = f->cb_fn_;
    arg = f->cb_arg_;
    more = f->cb_more_;
    f->cb_fn_ = NULL;
    f->cb_more_ = NULL;
    wake_all_locked(f, &wl);
    conc__os_unlock(&f->lock_);
    conc__wakelist_run(&wl);
    run_callbacks(f, fn, arg, more);
    busy_exit(f);
}

/* Under the lock: set WAITERS unless the future completed meanwhile.
 * Returns the state seen. */
static uint32_t mark_waiters(conc_future_t *f)
{
    uint32_t s = load(f);

    while (!complete(s) && status_of(s) != DESTROYED && !(s & WAITERS) && !cas(f, &s, s | WAITERS))
        ;
    return s;
}

/* ---- transitions --------------------------------------------------------- */

/* From COMPLETING (owned by the caller) to DONE; clears BOUND: the producer
 * lets go. Only the fact bits can change meanwhile. */
static void finish(conc_future_t *f, uint32_t s)
{
    uint32_t next;

    do {
        next = DONE | (s & (WAITERS | BUSY_MASK));
        if (s & WAITERS)
            next += BUSY_ONE;
    } while (!cas(f, &s, next));
    if (s & WAITERS)
        complete_slow(f);
}

/* The producer of a cancelled, bound future lets go of it. */
static void release(conc_future_t *f)
{
    uint32_t s = load(f);
    uint32_t next;

    do {
        if (!(s & BOUND))
            return;
        next = s & ~(uint32_t)BOUND;
        if (s & WAITERS)
            next += BUSY_ONE;
    } while (!cas(f, &s, next));
    if (s & WAITERS)
        busy_exit(f);
}

int conc_future_cancel(conc_future_t *f)
{
    uint32_t s, next;

    if (!f)
        return CONC_EINVAL;
    s = load(f);
    for (;;) {
        switch (status_of(s)) {
        case PENDING:
            /* BOUND stays: a pool still holds the item until a worker (or
             * its shutdown) reaches it. */
            next = CANCELLED | (s & ~(uint32_t)STATUS);
            if (s & WAITERS)
                next += BUSY_ONE;
            if (!cas(f, &s, next))
                continue;
            if (s & WAITERS)
                complete_slow(f);
            return 0;
        case CANCELLED:
            return 0;
        case DESTROYED:
            return CONC_EINVAL;
        default:
            return CONC_EBUSY;
        }
    }
}

int conc_future_set_running(conc_future_t *f)
{
    uint32_t s;

    if (!f)
        return CONC_EINVAL;
    s = load(f);
    for (;;) {
        switch (status_of(s)) {
        case PENDING:
            if (cas(f, &s, (s & ~(uint32_t)STATUS) | RUNNING))
                return 0;
            continue;
        case CANCELLED:
            release(f);
            return CONC_ECANCELED;
        case DESTROYED:
            return CONC_EINVAL;
        default:
            return CONC_EBUSY;
        }
    }
}

static int set_outcome(conc_future_t *f, void *value, int error)
{
    uint32_t s = load(f);

    for (;;) {
        switch (status_of(s)) {
        case PENDING:
        case RUNNING:
            if (cas(f, &s, (s & ~(uint32_t)STATUS) | COMPLETING))
                break;
            continue;
        case CANCELLED:
            release(f);
            return CONC_ECANCELED;
        case DESTROYED:
            return CONC_EINVAL;
        default:
            return CONC_EBUSY;
        }
        break;
    }
    f->value_ = value;
    f->error_ = error;
    finish(f, (s & ~(uint32_t)STATUS) | COMPLETING);
    return 0;
}

int conc_future_set_result(conc_future_t *f, void *value)
{
    if (!f)
        return CONC_EINVAL;
    return set_outcome(f, value, 0);
}

int conc_future_set_error(conc_future_t *f, int error)
{
    if (!f || error >= 0)
        return CONC_EINVAL;
    return set_outcome(f, NULL, error);
}

/* ---- consumers ------------------------------------------------------------ */

bool conc_future_done(const conc_future_t *f)
{
    return f && complete(load(f));
}

bool conc_future_cancelled(const conc_future_t *f)
{
    return f && status_of(load(f)) == CANCELLED;
}

bool conc_future_running(const conc_future_t *f)
{
    uint32_t st = f ? status_of(load(f)) : PENDING;

    return st == RUNNING || st == COMPLETING;
}

/* Block until complete or the deadline; 0 when complete, with the outcome
 * in *outcome (and *value). */
static int wait_slow(conc_future_t *f, int64_t deadline, int *outcome, void **value)
{
    conc__waiter_t w;
    uint32_t s;
    int rc;

    conc__os_lock(&f->lock_);
    s = mark_waiters(f);
    if (complete(s) || status_of(s) == DESTROYED) {
        rc = complete(s) ? 0 : CONC_EINVAL;
        if (!rc)
            *outcome = outcome_of(f, s, value);
        conc__os_unlock(&f->lock_);
        return rc;
    }
    conc__waiter_init(&w);
    conc__waitq_push(&f->waiters_, &w);
    w.what = "future";
    rc = conc__waiter_sleep(&w, &f->waiters_, &f->lock_, deadline, true);
    if (rc)
        return rc;
    /* Woken only by the completion, which handed the outcome over. */
    *outcome = (int)(intptr_t)w.data;
    *value = w.ptr;
    return 0;
}

/* Returns 0 once complete (the outcome in *outcome and *value), else why
 * not. */
static int await(conc_future_t *f, int64_t timeout_ns, int *outcome, void **value)
{
    uint32_t s = load(f);

    if (complete(s)) {
        *outcome = outcome_of(f, s, value);
        return 0;
    }
    if (status_of(s) == DESTROYED)
        return CONC_EINVAL;
    if (timeout_ns == CONC_NOWAIT)
        return CONC_EAGAIN;
    return wait_slow(f, conc__deadline(timeout_ns), outcome, value);
}

int conc_future_wait(conc_future_t *f, int64_t timeout_ns)
{
    int outcome;
    void *value;

    if (!f)
        return CONC_EINVAL;
    return await(f, timeout_ns, &outcome, &value);
}

int conc_future_result(conc_future_t *f, void **value, int64_t timeout_ns)
{
    void *v = NULL;
    int outcome = 0;
    int rc;

    if (!f)
        return CONC_EINVAL;
    rc = await(f, timeout_ns, &outcome, &v);
    if (rc)
        return rc;
    if (!outcome && value)
        *value = v;
    return outcome;
}

/* Under the lock, not complete: add a callback. May drop the lock to
 * allocate; returns with it released. 1 when the caller must run fn now. */
static int add_callback_locked(conc_future_t *f, conc_future_cb fn, void *arg)
{
    struct conc__future_cb *node;
    uint32_t s;

    if (!f->cb_fn_) {
        f->cb_fn_ = fn;
        f->cb_arg_ = arg;
        conc__os_unlock(&f->lock_);
        return 0;
    }
    conc__os_unlock(&f->lock_);
    node = malloc(sizeof *node);
    if (!node)
        return CONC_ENOMEM;
    *node = (struct conc__future_cb){ NULL, fn, arg };
    conc__os_lock(&f->lock_);
    s = load(f);
    if (!complete(s) && status_of(s) != DESTROYED) {
        node->next = f->cb_more_;
        f->cb_more_ = node;
        node = NULL;
    }
    conc__os_unlock(&f->lock_);
    if (!node)
        return 0;
    free(node);
    return complete(s) ? 1 : CONC_EINVAL;
}

int conc_future_add_done_callback(conc_future_t *f, conc_future_cb fn, void *arg)
{
    uint32_t s;
    int rc = 1;

    if (!f || !fn)
        return CONC_EINVAL;
    s = load(f);
    if (!complete(s)) {
        if (status_of(s) == DESTROYED)
            return CONC_EINVAL;
        conc__os_lock(&f->lock_);
        s = mark_waiters(f);
        if (complete(s) || status_of(s) == DESTROYED) {
            conc__os_unlock(&f->lock_);
            rc = complete(s) ? 1 : CONC_EINVAL;
        } else {
            rc = add_callback_locked(f, fn, arg);
        }
    }
    if (rc != 1)
        return rc;
    fn(f, arg);
    return 0;
}

/* ---- destroy ----------------------------------------------------------------- */

static bool has_consumers(const conc_future_t *f)
{
    for (conc__waiter_t *w = conc__waitq_first(&f->waiters_); w; w = w->next)
        if (w->data != DESTROYER)
            return true;
    return false;
}

static void free_unrun_callbacks(conc_future_t *f)
{
    while (f->cb_more_) {
        struct conc__future_cb *next = f->cb_more_->next;
        free(f->cb_more_);
        f->cb_more_ = next;
    }
}

/* Under the lock: sleep until a producer or a completing thread leaves. */
static void await_release(conc_future_t *f)
{
    conc__waiter_t w;

    conc__waiter_init(&w);
    w.data = DESTROYER;
    conc__waitq_push(&f->waiters_, &w);
    w.what = "future";
    conc__waiter_sleep(&w, &f->waiters_, &f->lock_, CONC_FOREVER, false);
    conc__os_lock(&f->lock_);
}

static int destroy_slow(conc_future_t *f)
{
    int rc = 0;

    conc__os_lock(&f->lock_);
    for (;;) {
        uint32_t s = load(f);

        if (status_of(s) == DESTROYED) {
            rc = CONC_EINVAL;
        } else if (((s & BOUND) && status_of(s) != CANCELLED) || has_consumers(f)) {
            rc = CONC_EBUSY;
        } else if (s & (BOUND | BUSY_MASK)) {
            if ((s & WAITERS) || cas(f, &s, s | WAITERS))
                await_release(f);
            continue;
        } else {
            free_unrun_callbacks(f);
            atomic_store_explicit(&f->state_, DESTROYED, memory_order_release);
        }
        break;
    }
    conc__os_unlock(&f->lock_);
    return rc;
}

int conc_future_destroy(conc_future_t *f)
{
    uint32_t s;

    if (!f)
        return CONC_EINVAL;
    s = load(f);
    while (!(s & (WAITERS | BOUND))) {
        if (status_of(s) == DESTROYED)
            return CONC_EINVAL;
        if (cas(f, &s, DESTROYED))
            return 0;
    }
    return destroy_slow(f);
}
