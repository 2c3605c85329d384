/**
 * @file conc/cond.h
 * @brief Condition variables (Python's `threading.Condition`), usable with a
 *        plain conc_mutex_t or a recursive conc_rmutex_t.
 *
 * A condition variable lets a context sleep until another one tells it that
 * shared state, protected by a mutex, may have changed. The waiter holds the
 * mutex, checks its predicate, and waits; the wait releases the mutex while
 * sleeping and holds it again when it returns, in every case (notified,
 * timed out, cancelled). Change the state under the mutex, then notify: a
 * notify that comes after a waiter released its mutex always reaches it.
 * A notify that comes when nobody waits is not remembered.
 *
 * The functions with the `_r` suffix take a recursive mutex: it is released
 * completely during the wait, whatever its depth, and re-locked to the same
 * depth before they return.
 */
#ifndef CONC_COND_H
#define CONC_COND_H

#include <stdbool.h>
#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/mutex.h"
#include "conc/time.h"
#include "conc/waitq_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A condition variable. Fields are private; initialise with CONC_COND_INIT
 *  or conc_cond_init(). */
typedef struct conc_cond {
    CONC_ATOMIC_(uint32_t) lock_;  /* internal lock guarding waiters_ */
    CONC_ATOMIC_(uint32_t) state_; /* no waiters / waiters may be queued / destroyed */
    conc__waitq_t waiters_;
} conc_cond_t;

/** Static initialiser of a conc_cond_t (all zero bits). */
/* clang-format off */
#define CONC_COND_INIT { 0, 0, CONC__WAITQ_INIT }
/* clang-format on */

/** A predicate for conc_cond_wait_for(): true when the awaited state holds.
 *  It runs with the mutex held. */
typedef bool (*conc_cond_pred_fn)(void *arg);

/**
 * @brief Initialise @p c (same as CONC_COND_INIT).
 * @retval 0 success.
 * @retval CONC_EINVAL @p c is NULL.
 *
 * Never blocks. Callable from any thread or task.
 */
CONC_API int conc_cond_init(conc_cond_t *c);

/**
 * @brief Destroy @p c. It may be initialised again afterwards.
 * @retval 0 success; later waits and notifies return CONC_EINVAL.
 * @retval CONC_EBUSY contexts are waiting on @p c; nothing changed.
 * @retval CONC_EINVAL @p c is NULL or already destroyed.
 *
 * Never blocks. Callable from any thread or task.
 */
CONC_API int conc_cond_destroy(conc_cond_t *c);

/**
 * @brief Release @p m, sleep until notified or until the timeout, and lock
 *        @p m again.
 * @param c the condition variable.
 * @param m a mutex the caller owns.
 * @param timeout_ns relative timeout (conc/time.h). CONC_NOWAIT returns
 *        CONC_ETIMEDOUT at once without releasing @p m; negative waits forever.
 * @retval 0 notified. The state may still not be what the caller waits for
 *         (another context may have been faster): re-check it, or use
 *         conc_cond_wait_for().
 * @retval CONC_ETIMEDOUT the deadline passed (never earlier).
 * @retval CONC_EPERM the caller does not own @p m; nothing changed.
 * @retval CONC_EINVAL @p c or @p m is NULL, @p c is destroyed (nothing
 *         changed), or @p m was destroyed during the wait (then it is not held).
 * @retval CONC_ECANCELED only for a cancellable task context (event loop)
 *         cancelled while waiting.
 *
 * In every case but CONC_EINVAL the caller holds @p m again on return: after
 * a timeout or a cancellation that may take longer than the deadline, when
 * another context holds @p m at that moment.
 *
 * Blocks the current context. Callable from threads and tasks; not from
 * timer callbacks nor signal handlers.
 */
CONC_API int conc_cond_wait(conc_cond_t *c, conc_mutex_t *m, int64_t timeout_ns);

/**
 * @brief Wait until @p pred(@p arg) is true or the timeout passes (Python's
 *        `Condition.wait_for()`).
 * @param c the condition variable.
 * @param m a mutex the caller owns; @p pred always runs with it held.
 * @param pred the predicate; evaluated first, then after every wake-up.
 * @param arg passed to @p pred.
 * @param timeout_ns relative timeout for the whole call: one deadline is
 *        computed on entry, so wake-ups that find the predicate still false
 *        never extend the wait. With CONC_NOWAIT it evaluates @p pred
 *        once and neither blocks nor releases @p m.
 * @retval 1 the predicate's last value was true (it may have been true at
 *         once; then the call did not wait).
 * @retval 0 the predicate's last value was false: it was evaluated one last
 *         time once the deadline had passed (never earlier).
 * @retval CONC_EPERM the caller does not own @p m; nothing evaluated.
 * @retval CONC_EINVAL @p c, @p m or @p pred is NULL, @p c is destroyed, or
 *         @p m was destroyed during the wait.
 * @retval CONC_ECANCELED as for conc_cond_wait(); @p m is held again.
 *
 * A timeout is therefore not an error here: test the result for 1. Blocks
 * the current context. Callable from threads and tasks.
 */
CONC_API int conc_cond_wait_for(conc_cond_t *c, conc_mutex_t *m, conc_cond_pred_fn pred, void *arg,
                                int64_t timeout_ns);

/**
 * @brief conc_cond_wait() with a recursive mutex, released completely during
 *        the wait and locked again to the same depth before returning.
 * @retval 0, CONC_ETIMEDOUT, CONC_EPERM, CONC_EINVAL, CONC_ECANCELED as for
 *         conc_cond_wait().
 *
 * Blocks the current context. Callable from threads and tasks.
 */
CONC_API int conc_cond_wait_r(conc_cond_t *c, conc_rmutex_t *r, int64_t timeout_ns);

/**
 * @brief conc_cond_wait_for() with a recursive mutex, released completely
 *        during each wait and locked again to the same depth.
 * @retval 1, 0, CONC_EPERM, CONC_EINVAL, CONC_ECANCELED as for
 *         conc_cond_wait_for().
 *
 * Blocks the current context. Callable from threads and tasks.
 */
CONC_API int conc_cond_wait_for_r(conc_cond_t *c, conc_rmutex_t *r, conc_cond_pred_fn pred,
                                  void *arg, int64_t timeout_ns);

/**
 * @brief Wake up to @p n of the contexts waiting on @p c, oldest first.
 * @param c the condition.
 * @param n how many to wake at most; 0 wakes nobody.
 * @retval 0 success (also when nobody waited: the notify is not remembered).
 * @retval CONC_EINVAL @p c is NULL, @p n is negative, or @p c is destroyed.
 *
 * Holding the mutex is not required, but the state the waiters test must be
 * changed under it. Costs one atomic load when nobody waits. Never blocks.
 * Callable from threads, tasks, timer callbacks and any other thread.
 */
CONC_API int conc_cond_notify(conc_cond_t *c, int n);

/**
 * @brief Wake every context waiting on @p c.
 * @retval 0 success.
 * @retval CONC_EINVAL @p c is NULL or destroyed.
 *
 * Never blocks. Callable from threads, tasks, timer callbacks and any other
 * thread.
 */
CONC_API int conc_cond_notify_all(conc_cond_t *c);

#ifdef __cplusplus
}
#endif

#endif /* CONC_COND_H */
