/**
 * @file conc/future.h
 * @brief Futures: the result of work that completes later
 *        (`concurrent.futures.Future`).
 *
 * A future is completed exactly once, by a *producer* (a thread pool, or any
 * code calling conc_future_set_result() / conc_future_set_error()), or by a
 * cancel before the work started. *Consumers* wait for the outcome with a
 * timeout, poll it, or register done-callbacks.
 *
 * Life cycle: pending -> (running) -> done with a result or an error, or
 * pending -> cancelled. Once done or cancelled it never changes again.
 *
 * Futures are caller-allocated and cost no allocation unless more than one
 * done-callback is registered. Completing a future nobody waits on takes two
 * atomic operations and no lock; waiting goes through libconc's wait queues,
 * so tasks of the event loop will be able to wait on futures too.
 *
 * See docs/pool.md (futures section) for the guide.
 */
#ifndef CONC_FUTURE_H
#define CONC_FUTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/time.h"
#include "conc/waitq_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A future: the outcome (a `void *` result or an error code) of work that
 *  completes later; caller-allocated (see struct conc_future). */
typedef struct conc_future conc_future_t;

/** A done-callback: called once with the completed future and its argument. */
typedef void (*conc_future_cb)(conc_future_t *f, void *arg);

/** @private Extra done-callbacks beyond the first. */
struct conc__future_cb;

/** A future. Caller-allocated; all fields are private. */
struct conc_future {
    CONC_ATOMIC_(uint32_t) state_;
    CONC_ATOMIC_(uint32_t) lock_;
    int error_;
    void *value_;
    conc__waitq_t waiters_;
    conc_future_cb cb_fn_;
    void *cb_arg_;
    struct conc__future_cb *cb_more_;
};

/** Static initialiser of a pending future, equivalent to conc_future_init(). */
#define CONC_FUTURE_INIT                      \
    {                                         \
        0, 0, 0, 0, CONC__WAITQ_INIT, 0, 0, 0 \
    }

/**
 * @brief Initialise @p f as a pending future.
 *
 * The storage must not be in use (no waiters, no producer): a fresh, a
 * destroyed, or a completed-and-destroyed future.
 *
 * @retval 0 success.
 * @retval CONC_EINVAL @p f is NULL.
 *
 * Never blocks. Callable from any thread, task or timer callback.
 */
CONC_API int conc_future_init(conc_future_t *f);

/**
 * @brief Destroy a future before its storage is freed or reused.
 *
 * Frees done-callbacks that never ran (the future never completed). If the
 * future was cancelled while a thread pool still holds it queued, waits until
 * a worker (or the pool's shutdown) has let go of it; if done-callbacks are
 * still running in the completing thread, waits for them.
 *
 * @retval 0 success; the storage may be freed or reused.
 * @retval CONC_EBUSY a thread or task is blocked in conc_future_result() or
 *         conc_future_wait(), or the future belongs to a pool that has not
 *         finished with it (pending or running: cancel it or wait for it).
 *         Nothing changed.
 * @retval CONC_EINVAL @p f is NULL or already destroyed.
 *
 * Blocks only in the two short waits above. Callable from any thread or task;
 * not from the future's own done-callback.
 */
CONC_API int conc_future_destroy(conc_future_t *f);

/**
 * @brief Wait up to @p timeout_ns for the future to complete and return its
 *        outcome.
 *
 * @param f the future.
 * @param value receives the result on success (may be NULL); untouched
 *        otherwise.
 * @param timeout_ns CONC_NOWAIT, a relative timeout, or CONC_FOREVER.
 * @retval 0 done with a result (stored in *value).
 * @retval <0 done with an error: the code given to conc_future_set_error()
 *         (for a pool: what the work function returned).
 * @retval CONC_ECANCELED the future was cancelled (or the waiting task was).
 * @retval CONC_EAGAIN not complete and @p timeout_ns is CONC_NOWAIT.
 * @retval CONC_ETIMEDOUT not complete at the deadline (never earlier).
 * @retval CONC_EINVAL @p f is NULL or destroyed.
 * A producer may set any error code, CONC_ETIMEDOUT or CONC_EAGAIN included;
 * conc_future_done() tells those apart from "not complete yet".
 *
 * Blocks unless @p timeout_ns is CONC_NOWAIT or the future is complete.
 * Callable from any thread or task; with CONC_NOWAIT also from timer callbacks.
 */
CONC_API int conc_future_result(conc_future_t *f, void **value, int64_t timeout_ns);

/**
 * @brief Wait up to @p timeout_ns for the future to complete, whatever the
 *        outcome.
 * @retval 0 complete (done or cancelled).
 * @retval CONC_EAGAIN not complete and @p timeout_ns is CONC_NOWAIT.
 * @retval CONC_ETIMEDOUT not complete at the deadline (never earlier).
 * @retval CONC_ECANCELED the waiting task was cancelled (tasks only).
 * @retval CONC_EINVAL @p f is NULL or destroyed.
 *
 * Same blocking and contexts as conc_future_result().
 */
CONC_API int conc_future_wait(conc_future_t *f, int64_t timeout_ns);

/** @brief True when complete: done with a result or an error, or cancelled.
 *  Never blocks; any context (false for NULL). */
CONC_API bool conc_future_done(const conc_future_t *f);

/** @brief True when the future was cancelled. Never blocks; any context. */
CONC_API bool conc_future_cancelled(const conc_future_t *f);

/** @brief True while the producer runs the work (after conc_future_set_running(),
 *  before completion). Never blocks; any context. */
CONC_API bool conc_future_running(const conc_future_t *f);

/**
 * @brief Cancel the future if its work has not started.
 *
 * A pending future becomes cancelled: waiters wake with CONC_ECANCELED,
 * done-callbacks run (in the calling thread), and a pool will not run the
 * work.
 *
 * @retval 0 cancelled now, or already cancelled before.
 * @retval CONC_EBUSY the work is running or the future is done: it cannot be
 *         cancelled any more.
 * @retval CONC_EINVAL @p f is NULL or destroyed.
 *
 * Never blocks (it runs the done-callbacks). Callable from any thread, task
 * or timer callback.
 */
CONC_API int conc_future_cancel(conc_future_t *f);

/**
 * @brief Register @p fn(@p f, @p arg) to run once when the future completes.
 *
 * Runs in the thread that completes the future (set_result, set_error or
 * cancel), after waiters were woken, in the order of registration; if the
 * future is already complete, runs at once in the caller.
 *
 * @retval 0 registered (or already run).
 * @retval CONC_EINVAL @p f or @p fn is NULL, or @p f destroyed.
 * @retval CONC_ENOMEM no memory for a second or later callback.
 *
 * Never blocks. Callable from any thread, task or timer callback.
 */
CONC_API int conc_future_add_done_callback(conc_future_t *f, conc_future_cb fn, void *arg);

/**
 * @brief Producer: mark the work as started, so it can no longer be cancelled
 *        (Python's `set_running_or_notify_cancel()`).
 * @retval 0 now running.
 * @retval CONC_ECANCELED the future was cancelled: do not run the work.
 * @retval CONC_EBUSY already running or done.
 * @retval CONC_EINVAL @p f is NULL or destroyed.
 *
 * Never blocks. Callable from any thread, task or timer callback.
 */
CONC_API int conc_future_set_running(conc_future_t *f);

/**
 * @brief Producer: complete the future with a result; wakes the waiters, then
 *        runs the done-callbacks in the calling thread.
 * @retval 0 done.
 * @retval CONC_EBUSY already completed by an earlier set: the first one stays.
 * @retval CONC_ECANCELED the future was cancelled; @p value is dropped.
 * @retval CONC_EINVAL @p f is NULL or destroyed.
 *
 * Never blocks (runs the callbacks). Callable from any thread, task or timer
 * callback.
 */
CONC_API int conc_future_set_result(conc_future_t *f, void *value);

/**
 * @brief Producer: complete the future with an error code (negative, usually
 *        a CONC_E* code) that conc_future_result() will return.
 * @retval 0 done.
 * @retval CONC_EBUSY already completed by an earlier set.
 * @retval CONC_ECANCELED the future was cancelled.
 * @retval CONC_EINVAL @p f is NULL or destroyed, or @p error is not negative.
 *
 * Never blocks (runs the callbacks). Callable from any thread, task or timer
 * callback.
 */
CONC_API int conc_future_set_error(conc_future_t *f, int error);

#ifdef __cplusplus
}
#endif

#endif /* CONC_FUTURE_H */
