/*
 * What mutex.c shares with rmutex.c and cond.c: the layout of the state word
 * and the lock operations for a given owner id and deadline, so that the
 * recursive mutex and the condition variable build on the plain mutex
 * without converting timeouts twice.
 */
#ifndef CONC_CORE_MUTEX_INTERNAL_H
#define CONC_CORE_MUTEX_INTERNAL_H

#include "conc/mutex.h"
#include "waitq.h"

/*
 * state_ = owner | flags. The owner is a context id (conc__context_id()),
 * the address of a parker or of a task, so at least 4-byte aligned: the two
 * low bits are free for flags.
 */
#define CONC__MUTEX_PARKED ((uintptr_t)1)    /* waiters may be queued */
#define CONC__MUTEX_DESTROYED ((uintptr_t)2) /* never set with an owner */
#define CONC__MUTEX_FLAGS ((uintptr_t)3)

/* The owner's id, 0 when free. Exact when compared with the caller's id:
 * only the caller can make itself the owner or stop being it. */
static inline uintptr_t conc__mutex_owner(conc_mutex_t *m)
{
    return atomic_load_explicit(&m->state_, memory_order_relaxed) & ~CONC__MUTEX_FLAGS;
}

/* The fast path of every lock: free (no flags either) -> mine, one CAS. */
static inline bool conc__mutex_cas_lock(conc_mutex_t *m, uintptr_t me)
{
    uintptr_t free_state = 0;

    return atomic_compare_exchange_strong_explicit(&m->state_, &free_state, me,
                                                   memory_order_acquire, memory_order_relaxed);
}

/* The fast path of every unlock: mine without flags -> free, one CAS. */
static inline bool conc__mutex_cas_unlock(conc_mutex_t *m, uintptr_t me)
{
    uintptr_t mine = me;

    return atomic_compare_exchange_strong_explicit(&m->state_, &mine, 0, memory_order_release,
                                                   memory_order_relaxed);
}

/* One attempt: 0 locked by me, CONC_EBUSY owned by another, CONC_EDEADLK
 * owned by me already, CONC_EINVAL destroyed. */
int conc__mutex_try(conc_mutex_t *m, uintptr_t me);

/* Lock for me until the absolute deadline (negative: none). Same codes as
 * conc__mutex_try() except CONC_EBUSY, plus CONC_ETIMEDOUT and, when
 * cancellable, CONC_ECANCELED. */
int conc__mutex_lock_until(conc_mutex_t *m, uintptr_t me, int64_t deadline_ns, bool cancellable);

/* 0, or CONC_EPERM when me does not own m. */
int conc__mutex_unlock_as(conc_mutex_t *m, uintptr_t me);

/* A condition wait releases a recursive mutex whatever its depth (the
 * caller owns r) and restores that depth afterwards, waiting for the mutex
 * without a deadline and without cancellation: 0, or CONC_EINVAL when r was
 * destroyed meanwhile. */
uint32_t conc__rmutex_release_all(conc_rmutex_t *r, uintptr_t me);
int conc__rmutex_restore(conc_rmutex_t *r, uintptr_t me, uint32_t depth);

#endif /* CONC_CORE_MUTEX_INTERNAL_H */
