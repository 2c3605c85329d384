/**
 * @file conc/mutex.h
 * @brief Mutual exclusion: the plain mutex (Python's `Lock`, owned) and the
 *        recursive mutex (Python's `RLock`).
 *
 * Both are caller-allocated and need no destruction when statically
 * initialised with `CONC_MUTEX_INIT` / `CONC_RMUTEX_INIT`.
 *
 * The owner of a lock is the *context* that locked it: the calling thread
 * today, a coroutine task once the event loop runs tasks. Only the owner may
 * unlock; anybody else gets `CONC_EPERM` and the lock is left as it was.
 *
 * Locking takes one compare-and-swap when the mutex is free. A contended
 * lock spins briefly (never on a single CPU), then sleeps in the mutex's wait
 * queue. An unlock lets running threads take the lock before a sleeping one
 * (throughput), except that a waiter that has waited about 1 ms gets the lock
 * handed to it directly, so nobody starves (see docs/mutex.md).
 */
#ifndef CONC_MUTEX_H
#define CONC_MUTEX_H

#include <stdbool.h>
#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/time.h"
#include "conc/waitq_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A mutex. Fields are private (libconc's); initialise with CONC_MUTEX_INIT
 *  or conc_mutex_init(). */
typedef struct conc_mutex {
    CONC_ATOMIC_(uintptr_t) state_; /* owner's context id | flag bits; 0 = free */
    CONC_ATOMIC_(uint32_t) lock_;   /* internal lock guarding waiters_ */
    CONC_ATOMIC_(uint32_t) spin_;   /* learned spin length (adaptive spinning) */
    conc__waitq_t waiters_;
} conc_mutex_t;

/** Static initialiser of an unlocked conc_mutex_t (all zero bits). */
/* clang-format off */
#define CONC_MUTEX_INIT { 0, 0, 0, CONC__WAITQ_INIT }
/* clang-format on */

/** A recursive mutex. Fields are private; initialise with CONC_RMUTEX_INIT
 *  or conc_rmutex_init(). */
typedef struct conc_rmutex {
    conc_mutex_t mutex_;
    uint32_t depth_; /* lock count of the owner; only the owner touches it */
} conc_rmutex_t;

/** Static initialiser of an unlocked conc_rmutex_t. */
/* clang-format off */
#define CONC_RMUTEX_INIT { CONC_MUTEX_INIT, 0 }
/* clang-format on */

/** The deepest a recursive mutex may be locked by its owner. */
#define CONC_RMUTEX_DEPTH_MAX UINT32_MAX

/* ---- plain mutex ------------------------------------------------------ */

/**
 * @brief Initialise @p m as an unlocked mutex (same as CONC_MUTEX_INIT).
 * @param m the mutex; must not be in use.
 * @retval 0 success.
 * @retval CONC_EINVAL @p m is NULL.
 *
 * Never blocks. Callable from any thread or task.
 */
CONC_API int conc_mutex_init(conc_mutex_t *m);

/**
 * @brief Destroy @p m. It may be initialised again afterwards.
 * @param m the mutex.
 * @retval 0 success; later lock attempts return CONC_EINVAL.
 * @retval CONC_EBUSY @p m is locked (by anybody, the caller included) or has
 *         waiters asleep in its queue; nothing changed.
 * @retval CONC_EINVAL @p m is NULL or already destroyed.
 *
 * EBUSY is a safety net, not a synchronisation: a context that is inside
 * conc_mutex_lock() but not asleep in the queue (spinning, or just woken to
 * compete again after an unlock) is not seen, and its lock then returns
 * CONC_EINVAL. Destroy a mutex only once no context can still call it, as
 * with any object.
 *
 * Never blocks. Callable from any thread or task.
 */
CONC_API int conc_mutex_destroy(conc_mutex_t *m);

/**
 * @brief Lock @p m, waiting as long as it takes.
 * @param m the mutex.
 * @retval 0 the caller owns @p m.
 * @retval CONC_EDEADLK the caller already owns @p m (the plain mutex is not
 *         recursive; use conc_rmutex_t for that); nothing changed.
 * @retval CONC_EINVAL @p m is NULL or destroyed.
 * @retval CONC_ECANCELED only for a cancellable task context (event loop)
 *         that was cancelled while waiting; @p m is not locked.
 *
 * Blocks the current context (thread or task) while another owns @p m.
 * Callable from threads and tasks; not from timer callbacks (they must not
 * block the timer service: use conc_mutex_trylock()) nor signal handlers.
 */
CONC_API int conc_mutex_lock(conc_mutex_t *m);

/**
 * @brief Lock @p m if it is free, without waiting.
 * @param m the mutex.
 * @retval 0 the caller owns @p m.
 * @retval CONC_EBUSY another context, or the caller itself, owns @p m.
 * @retval CONC_EINVAL @p m is NULL or destroyed.
 *
 * Never blocks. Callable from threads, tasks and timer callbacks.
 */
CONC_API int conc_mutex_trylock(conc_mutex_t *m);

/**
 * @brief Lock @p m, waiting at most @p timeout_ns.
 * @param m the mutex.
 * @param timeout_ns relative timeout (conc/time.h): CONC_NOWAIT behaves as
 *        conc_mutex_trylock(), a negative value waits forever.
 * @retval 0 the caller owns @p m. A waiter to which the lock was handed at
 *         the very moment its deadline passed also gets 0 and owns @p m.
 * @retval CONC_ETIMEDOUT the deadline passed (never earlier) and @p m is
 *         not locked by the caller.
 * @retval CONC_EBUSY @p timeout_ns is CONC_NOWAIT and @p m is owned.
 * @retval CONC_EDEADLK the caller already owns @p m (a positive timeout).
 * @retval CONC_EINVAL @p m is NULL or destroyed.
 * @retval CONC_ECANCELED as for conc_mutex_lock().
 *
 * Blocks the current context up to the timeout. Callable from threads and
 * tasks; with CONC_NOWAIT also from timer callbacks.
 */
CONC_API int conc_mutex_timedlock(conc_mutex_t *m, int64_t timeout_ns);

/**
 * @brief Unlock @p m, which the caller owns.
 * @param m the mutex.
 * @retval 0 success.
 * @retval CONC_EPERM the caller does not own @p m (somebody else does, or
 *         nobody); nothing changed.
 * @retval CONC_EINVAL @p m is NULL.
 *
 * Never blocks (it may wake one waiter). Callable from the owning thread or
 * task only.
 */
CONC_API int conc_mutex_unlock(conc_mutex_t *m);

/**
 * @brief Whether @p m is locked by anybody (Python's `Lock.locked()`).
 * @return true when locked; false when free, destroyed or @p m is NULL.
 *
 * A snapshot: another context may lock or unlock it the next moment.
 * Never blocks. Callable from any context.
 */
CONC_API bool conc_mutex_locked(conc_mutex_t *m);

/**
 * @brief Whether the calling context owns @p m (for assertions).
 * @return true when the caller owns @p m; false otherwise or if @p m is NULL.
 *
 * Exact, not a snapshot: no other context can change the answer.
 * Never blocks. Callable from any thread or task.
 */
CONC_API bool conc_mutex_owned_by_me(conc_mutex_t *m);

/* ---- recursive mutex -------------------------------------------------- */

/**
 * @brief Initialise @p r as an unlocked recursive mutex (same as CONC_RMUTEX_INIT).
 * @retval 0 success.
 * @retval CONC_EINVAL @p r is NULL.
 *
 * Never blocks. Callable from any thread or task.
 */
CONC_API int conc_rmutex_init(conc_rmutex_t *r);

/**
 * @brief Destroy @p r. It may be initialised again afterwards.
 * @retval 0 success; later lock attempts return CONC_EINVAL.
 * @retval CONC_EBUSY @p r is locked or has waiters; nothing changed.
 * @retval CONC_EINVAL @p r is NULL or already destroyed.
 *
 * Never blocks. Callable from any thread or task.
 */
CONC_API int conc_rmutex_destroy(conc_rmutex_t *r);

/**
 * @brief Lock @p r, or lock it once more if the caller already owns it.
 * @retval 0 the caller owns @p r; its depth grew by one.
 * @retval CONC_EOVERFLOW the caller owns @p r CONC_RMUTEX_DEPTH_MAX times
 *         already; nothing changed.
 * @retval CONC_EINVAL @p r is NULL or destroyed.
 * @retval CONC_ECANCELED as for conc_mutex_lock().
 *
 * Blocks the current context while another owns @p r. Callable from threads
 * and tasks; not from timer callbacks nor signal handlers.
 */
CONC_API int conc_rmutex_lock(conc_rmutex_t *r);

/**
 * @brief Lock @p r if it is free or already the caller's, without waiting.
 * @retval 0 the caller owns @p r; its depth grew by one.
 * @retval CONC_EBUSY another context owns @p r.
 * @retval CONC_EOVERFLOW as for conc_rmutex_lock().
 * @retval CONC_EINVAL @p r is NULL or destroyed.
 *
 * Never blocks. Callable from threads, tasks and timer callbacks.
 */
CONC_API int conc_rmutex_trylock(conc_rmutex_t *r);

/**
 * @brief Lock @p r (or re-lock it), waiting at most @p timeout_ns.
 * @param r the recursive mutex.
 * @param timeout_ns relative timeout: CONC_NOWAIT behaves as
 *        conc_rmutex_trylock(), a negative value waits forever.
 * @retval 0 the caller owns @p r; its depth grew by one.
 * @retval CONC_ETIMEDOUT the deadline passed (never earlier); nothing changed.
 * @retval CONC_EBUSY @p timeout_ns is CONC_NOWAIT and another context owns @p r.
 * @retval CONC_EOVERFLOW as for conc_rmutex_lock().
 * @retval CONC_EINVAL @p r is NULL or destroyed.
 * @retval CONC_ECANCELED as for conc_mutex_lock().
 *
 * Blocks the current context up to the timeout. Callable from threads and
 * tasks; with CONC_NOWAIT also from timer callbacks.
 */
CONC_API int conc_rmutex_timedlock(conc_rmutex_t *r, int64_t timeout_ns);

/**
 * @brief Undo one lock of @p r; the last one releases it.
 * @retval 0 success.
 * @retval CONC_EPERM the caller does not own @p r (another context does, or
 *         nobody); nothing changed.
 * @retval CONC_EINVAL @p r is NULL.
 *
 * Never blocks. Callable from the owning thread or task only.
 */
CONC_API int conc_rmutex_unlock(conc_rmutex_t *r);

/**
 * @brief Whether @p r is locked by anybody (a snapshot).
 * @return true when locked; false when free, destroyed or @p r is NULL.
 *
 * Never blocks. Callable from any context.
 */
CONC_API bool conc_rmutex_locked(conc_rmutex_t *r);

/**
 * @brief Whether the calling context owns @p r (for assertions).
 * @return true when the caller owns @p r.
 *
 * Never blocks. Callable from any thread or task.
 */
CONC_API bool conc_rmutex_owned_by_me(conc_rmutex_t *r);

/**
 * @brief How many times the calling context holds @p r.
 * @return the depth (>= 1) when the caller owns @p r, else 0.
 *
 * Never blocks. Callable from any thread or task.
 */
CONC_API uint32_t conc_rmutex_depth(conc_rmutex_t *r);

#ifdef __cplusplus
}
#endif

#endif /* CONC_MUTEX_H */
