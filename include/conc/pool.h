/**
 * @file conc/pool.h
 * @brief A thread pool executor (`concurrent.futures.ThreadPoolExecutor`).
 *
 * Work items (a function and its argument) are queued through a libconc
 * bounded queue (conc/queue.h) and run by worker threads. Each submission can
 * come with a caller-allocated future (conc/future.h) that receives the
 * function's result or error and can be cancelled until a worker starts it.
 *
 * The worker count is fixed, or bounded-dynamic: between `min_workers` and
 * `max_workers`, a worker being started when work arrives and no worker is
 * idle, and workers above the minimum exiting after `idle_timeout_ns` without
 * work. A default shared pool sized to the CPU count is created on first use
 * of conc_pool_default().
 *
 * See docs/pool.md for the guide.
 */
#ifndef CONC_POOL_H
#define CONC_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/future.h"
#include "conc/queue.h"
#include "conc/time.h"
#include "conc/waitq_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A unit of work: compute from @p arg, store a result in @p *result (it
 * starts as NULL) and return 0, or return a negative error code (usually a
 * CONC_E* code) that the work's future will report. Non-negative returns
 * count as success.
 */
typedef int (*conc_pool_fn)(void *arg, void **result);

/** Options of conc_pool_init(). Start from CONC_POOL_ATTR_INIT. */
typedef struct conc_pool_attr {
    /** The most workers; 0: the number of CPUs available. */
    int max_workers;
    /** Workers kept even when idle. Negative (the default): equal to
     *  max_workers, a fixed pool whose workers all start at init. */
    int min_workers;
    /** How long a worker above min_workers waits for work before it exits;
     *  0 or negative: 10 seconds. */
    int64_t idle_timeout_ns;
    /** Queued items before conc_pool_submit() blocks; 0: 1024 per worker. */
    size_t queue_capacity;
    /** Prefix of the workers' thread names (shown by top, gdb); NULL: "conc-pool". */
    const char *name;
} conc_pool_attr_t;

/** Default attributes: a fixed pool of one worker per CPU. */
#define CONC_POOL_ATTR_INIT \
    {                       \
        0, -1, 0, 0, NULL   \
    }

/** @private */
struct conc__pool_worker;

/** A thread pool. Caller-allocated; all fields are private. */
typedef struct conc_pool {
    conc_queue_t queue_;
    CONC_ATOMIC_(uint32_t) lock_;
    CONC_ATOMIC_(uint32_t) state_;
    CONC_ATOMIC_(int) workers_; /* started and not exited or retiring */
    CONC_ATOMIC_(int) idle_;    /* idle tokens: workers waiting for work */
    int live_;                  /* threads that may still touch the pool */
    int min_, max_;
    int64_t idle_timeout_;
    conc__waitq_t exit_waiters_;
    struct conc__pool_worker *all_;
    char name_[16];
    uint32_t magic_;
} conc_pool_t;

/**
 * @brief Initialise a pool and start its fixed (minimum) workers.
 * @param p the pool storage; not in use.
 * @param attr options, or NULL for CONC_POOL_ATTR_INIT.
 * @retval 0 success.
 * @retval CONC_EINVAL @p p NULL, negative max_workers, or min_workers above
 *         max_workers.
 * @retval CONC_ENOMEM no memory for the queue or the workers.
 * @retval CONC_ELIMIT the OS refused to start a worker thread.
 * On error nothing is left running or allocated.
 *
 * Never blocks (beyond thread creation). Callable from any thread.
 */
CONC_API int conc_pool_init(conc_pool_t *p, const conc_pool_attr_t *attr);

/**
 * @brief Queue fn(arg) to run on a worker.
 *
 * @param p the pool.
 * @param fn the work; its return code is the future's error when negative.
 * @param arg passed to @p fn.
 * @param future caller storage for the work's future, or NULL when the
 *        caller needs neither the result nor cancellation (errors returned by
 *        @p fn are then dropped). The call initialises it; it must not be in
 *        use. It completes with fn's result or error, or as cancelled. Call
 *        conc_future_destroy() on it before reusing or freeing the storage.
 * @retval 0 queued.
 * @retval CONC_ECLOSED the pool was shut down.
 * @retval CONC_EINVAL @p p or @p fn NULL, or @p p not initialised.
 * @retval CONC_ELIMIT, CONC_ENOMEM a dynamic pool without any worker could
 *         not start one.
 * On error nothing was queued and the future (if any) is completed with the
 * same error.
 *
 * Blocks while the pool's queue is full (backpressure). Callable from any
 * thread; from a worker of the same pool it can deadlock when the queue is
 * full and every worker does the same: use conc_pool_try_submit() there.
 */
CONC_API int conc_pool_submit(conc_pool_t *p, conc_pool_fn fn, void *arg, conc_future_t *future);

/**
 * @brief conc_pool_submit() that never blocks.
 * @retval CONC_EAGAIN the queue is full; nothing queued (the future, if any,
 *         is completed with CONC_EAGAIN).
 * Otherwise as conc_pool_submit(). Callable from any thread, from workers and
 * from timer callbacks.
 */
CONC_API int conc_pool_try_submit(conc_pool_t *p, conc_pool_fn fn, void *arg,
                                  conc_future_t *future);

/**
 * @brief Apply @p fn to every argument, in parallel: `fn(args[i], &results[i])`.
 *
 * The items are split in chunks run by the workers; the calling thread runs
 * chunks too, so map makes progress even when every worker is busy (or when
 * called from a worker of the same pool). Returns when every item has run.
 *
 * @param p the pool.
 * @param fn applied to each argument.
 * @param args the n arguments (may be NULL when @p n is 0).
 * @param results receives the n results (each starts as NULL), or NULL to
 *        drop them.
 * @param n the number of items.
 * @retval 0 every call succeeded.
 * @retval <0 the error returned by the failing call with the lowest index
 *         (every item still ran).
 * @retval CONC_ECLOSED the pool was shut down; nothing ran.
 * @retval CONC_EINVAL @p p or @p fn NULL, @p args NULL with n > 0, or @p p
 *         not initialised.
 * @retval CONC_ENOMEM no memory for the bookkeeping; nothing ran.
 *
 * Blocks until all items have run. Callable from any thread, including the
 * pool's own workers.
 */
CONC_API int conc_pool_map(conc_pool_t *p, conc_pool_fn fn, void *const *args, void **results,
                           size_t n);

/**
 * @brief Stop accepting work; optionally cancel what has not started; and
 *        optionally wait for the workers to finish.
 *
 * From now on submit returns CONC_ECLOSED. Queued work still runs, unless
 * @p cancel_pending: then every queued item not yet taken by a worker is
 * dropped and its future cancelled (items without a future are dropped
 * silently). Work already running is never interrupted. Calling it again is
 * allowed (e.g. to wait after a first call that did not).
 *
 * @param p the pool.
 * @param wait block until every worker has exited.
 * @param cancel_pending cancel queued work instead of running it.
 * @retval 0 success.
 * @retval CONC_EDEADLK @p wait from one of the pool's own workers (the pool is
 *         still shut down, just not waited for).
 * @retval CONC_EINVAL @p p NULL or not initialised.
 *
 * Blocks only with @p wait. Callable from any thread; from a worker of the
 * pool, or a timer callback, only with @p wait false.
 */
CONC_API int conc_pool_shutdown(conc_pool_t *p, bool wait, bool cancel_pending);

/**
 * @brief Shut the pool down (queued work still runs), wait for its workers,
 *        and free its resources.
 * @retval 0 success; the storage may be reused.
 * @retval CONC_EDEADLK called from one of the pool's own workers.
 * @retval CONC_EPERM @p p is the default pool, which is never destroyed.
 * @retval CONC_EINVAL @p p NULL, not initialised, or already destroyed.
 *
 * Blocks until the queued work has run. Callable from any thread but the
 * pool's workers. No other call on @p p may be in progress or follow.
 */
CONC_API int conc_pool_destroy(conc_pool_t *p);

/**
 * @brief The default shared pool: fixed, one worker per CPU, created on first
 *        call. Never destroyed (its threads end with the process); it may be
 *        shut down, after which it refuses work for the rest of the process.
 * @return the pool, or NULL if it could not be created (no memory or
 *         threads); a later call tries again.
 *
 * Never blocks (beyond creating the pool once). Callable from any thread.
 */
CONC_API conc_pool_t *conc_pool_default(void);

/** @brief The number of worker threads now (0 for NULL). Never blocks. */
CONC_API int conc_pool_workers(const conc_pool_t *p);

#ifdef __cplusplus
}
#endif

#endif /* CONC_POOL_H */
