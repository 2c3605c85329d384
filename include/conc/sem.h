/**
 * @file conc/sem.h
 * @brief Counting semaphores: Python's `Semaphore` and `BoundedSemaphore`.
 *
 * A semaphore holds a count of permits. conc_sem_acquire() takes one, waiting
 * while there is none; conc_sem_release() gives permits back. A *bounded*
 * semaphore also remembers its initial value as a limit: a release that
 * would take the count above it is refused with `CONC_EOVERFLOW` (the usual
 * sign of releasing more often than acquiring).
 *
 * Permits go to waiters in FIFO order and are handed over directly: while
 * somebody waits, a released permit belongs to the first waiter at once, and
 * a newcomer cannot take it first. A waiter whose timeout expires at the very
 * moment a permit is handed to it keeps the permit (the call returns 0), so
 * permits are never lost nor duplicated.
 *
 * When nobody waits, acquire and release are one compare-and-swap each.
 * See docs/sem.md.
 */
#ifndef CONC_SEM_H
#define CONC_SEM_H

#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/time.h"
#include "conc/waitq_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The largest count a semaphore can hold (and the largest release(n)). */
#define CONC_SEM_VALUE_MAX INT32_MAX

/** A counting semaphore. Fields are private (libconc's); initialise with
 *  CONC_SEM_INIT(), CONC_SEM_BOUNDED_INIT(), conc_sem_init() or
 *  conc_sem_init_bounded(). */
typedef struct conc_sem {
    CONC_ATOMIC_(uint32_t) state_; /* count << 1 | "waiters queued" bit */
    CONC_ATOMIC_(uint32_t) lock_;  /* internal lock guarding waiters_ */
    uint32_t limit_;               /* largest count allowed */
    conc__waitq_t waiters_;
} conc_sem_t;

/** @private The state word of a fresh semaphore. A negative @p value does not
 *  compile (negative array size), so a constant is required. */
#define CONC__SEM_STATE_(value) \
    ((uint32_t)(value)*2u + 0u * (uint32_t)sizeof(char[(value) >= 0 ? 1 : -1]))

/** Static initialiser of a semaphore holding @p value permits (a constant
 *  expression, 0 <= value <= CONC_SEM_VALUE_MAX). */
#define CONC_SEM_INIT(value)                                                       \
    {                                                                              \
        CONC__SEM_STATE_(value), 0, (uint32_t)CONC_SEM_VALUE_MAX, CONC__WAITQ_INIT \
    }

/** Static initialiser of a bounded semaphore: @p value permits, and never
 *  more than @p value. */
#define CONC_SEM_BOUNDED_INIT(value)                                    \
    {                                                                   \
        CONC__SEM_STATE_(value), 0, (uint32_t)(value), CONC__WAITQ_INIT \
    }

/**
 * @brief Initialise @p s with @p value permits (Python's `Semaphore(value)`).
 * @param s the semaphore; must not be in use.
 * @param value the initial count, 0 .. CONC_SEM_VALUE_MAX.
 * @retval 0 success.
 * @retval CONC_EINVAL @p s is NULL or @p value is negative.
 *
 * Never blocks. Callable from any context.
 */
CONC_API int conc_sem_init(conc_sem_t *s, int value);

/**
 * @brief Initialise @p s as a bounded semaphore (Python's `BoundedSemaphore`):
 *        @p value permits, and @p value is also the most it may ever hold.
 * @param s the semaphore; must not be in use.
 * @param value the initial count and limit, 0 .. CONC_SEM_VALUE_MAX.
 * @retval 0 success.
 * @retval CONC_EINVAL @p s is NULL or @p value is negative.
 *
 * Never blocks. Callable from any context.
 */
CONC_API int conc_sem_init_bounded(conc_sem_t *s, int value);

/**
 * @brief Destroy @p s. It may be initialised again afterwards.
 * @param s the semaphore.
 * @retval 0 success; later calls on @p s return CONC_EINVAL.
 * @retval CONC_EBUSY somebody waits on @p s; nothing changed.
 * @retval CONC_EINVAL @p s is NULL or already destroyed.
 *
 * Never blocks. Callable from any thread or task. No other call may be in
 * progress on @p s (only waiters are detected).
 */
CONC_API int conc_sem_destroy(conc_sem_t *s);

/**
 * @brief Take one permit, waiting at most @p timeout_ns for one.
 * @param s the semaphore.
 * @param timeout_ns relative timeout (conc/time.h): CONC_NOWAIT tries once,
 *        a negative value waits forever.
 * @retval 0 the caller has one permit. Also when the permit was handed over
 *         at the very moment the deadline passed.
 * @retval CONC_EAGAIN @p timeout_ns is CONC_NOWAIT and no permit is free.
 * @retval CONC_ETIMEDOUT the deadline passed (never earlier) without a permit.
 * @retval CONC_EINVAL @p s is NULL or destroyed.
 * @retval CONC_ECANCELED only for a cancellable task context (event loop)
 *         that was cancelled while waiting; no permit was taken.
 *
 * Blocks the current context (thread or task) up to the timeout. Callable
 * from threads and tasks; with CONC_NOWAIT also from timer callbacks.
 */
CONC_API int conc_sem_acquire(conc_sem_t *s, int64_t timeout_ns);

/**
 * @brief Give back @p n permits, waking up to @p n waiters (FIFO).
 * @param s the semaphore.
 * @param n how many permits, >= 1.
 * @retval 0 success.
 * @retval CONC_EINVAL @p s is NULL or destroyed, or @p n <= 0.
 * @retval CONC_EOVERFLOW the count would exceed the limit of a bounded
 *         semaphore, or CONC_SEM_VALUE_MAX; nothing changed (all or nothing:
 *         no part of @p n is released).
 *
 * Never blocks. Callable from any thread or task, from timer callbacks and
 * from another thread than the one that acquired (a semaphore has no owner).
 */
CONC_API int conc_sem_release(conc_sem_t *s, int n);

/**
 * @brief The number of free permits now (Python's `Semaphore._value`).
 * @param s the semaphore.
 * @return the count (>= 0; 0 whenever somebody waits), or CONC_EINVAL when
 *         @p s is NULL or destroyed.
 *
 * A snapshot. Never blocks. Callable from any context.
 */
CONC_API int conc_sem_value(conc_sem_t *s);

#ifdef __cplusplus
}
#endif

#endif /* CONC_SEM_H */
