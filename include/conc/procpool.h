/**
 * @file conc/procpool.h
 * @brief A pool of worker processes (Python's
 *        `concurrent.futures.ProcessPoolExecutor` and `multiprocessing.Pool`).
 *
 * N worker processes, forked when the pool starts, run functions of this
 * program on byte buffers: submit copies the argument into the job, a worker
 * runs fn on it and sends the result bytes back, and the job's future
 * completes with them. CPU-bound work then runs on every core without
 * sharing memory, as in Python where the GIL makes threads useless for it.
 *
 * Inside, the pool is itself a libconc program: one thread runs an event
 * loop with one task per worker; each task takes jobs from a conc_queue_t
 * and talks to its worker through a conc_pipe_t. A worker that dies (a crash,
 * a kill, an _exit in fn) is noticed when its pipe closes: its job fails with
 * CONC_EIO and a new worker replaces it, so callers never hang on it.
 *
 * Workers are forked children (conc/process.h explains what that means
 * for the parent's other threads): fn must be a function of the program
 * (the same address is valid in the child), must not rely on locks or
 * libconc objects that other threads of the parent may hold, and
 * communicates only through its argument and result bytes. Workers are
 * started by the pool's thread; every later worker also closes its copies
 * of the other workers' pipes, so that a worker sees the end of its own pipe.
 */
#ifndef CONC_PROCPOOL_H
#define CONC_PROCPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Work run in a worker process: read @p arg_len bytes at @p arg, write at
 * most @p out_cap bytes of result at @p out and their number in *out_len
 * (0 when it has no result). Return 0, or a negative code that becomes the
 * future's error (its result bytes are then dropped).
 */
typedef int (*conc_procpool_fn)(const void *arg, size_t arg_len, void *out, size_t out_cap,
                                size_t *out_len);

/** Options of conc_procpool_init(). Start from CONC_PROCPOOL_ATTR_INIT. */
typedef struct conc_procpool_attr {
    int workers;       /**< worker processes; 0: conc_cpu_count() */
    size_t max_arg;    /**< largest argument, bytes; 0: 64 KiB */
    size_t max_result; /**< largest result, bytes; 0: 64 KiB */
} conc_procpool_attr_t;

/** The default options. */
#define CONC_PROCPOOL_ATTR_INIT \
    {                           \
        0, 0, 0                 \
    }

/** A pool of worker processes. Caller-allocated; fields are private. */
typedef struct conc_procpool {
    void *impl_;
} conc_procpool_t;

/**
 * The value of a completed job's future (conc_future_result()): its result
 * bytes. Allocated by the pool; the caller releases it with free().
 */
typedef struct conc_procpool_result {
    size_t len;           /**< bytes in data */
    unsigned char data[]; /**< what fn wrote */
} conc_procpool_result_t;

/**
 * @brief Start the pool: its thread and its worker processes.
 * @param p the pool to initialise.
 * @param attr options, or NULL for the defaults.
 * @retval 0 the workers run.
 * @retval CONC_EINVAL @p p NULL, negative workers, or more than 1024.
 * @retval CONC_ELIMIT the system refused a process, a thread or descriptors.
 * @retval CONC_ENOMEM no memory.
 * Blocks until every worker has been started. Callable from threads (not
 * from a task: the pool's workers are forked by its own thread).
 */
CONC_API int conc_procpool_init(conc_procpool_t *p, const conc_procpool_attr_t *attr);

/**
 * @brief Queue fn on a copy of @p arg_len bytes at @p arg.
 * @param p the pool.
 * @param fn the work (a function of this program).
 * @param arg the argument bytes, copied; may be NULL when @p arg_len is 0.
 * @param arg_len their number, at most the pool's max_arg.
 * @param future caller storage for the job's future, or NULL when nobody
 *        needs the result. The call initialises it. It completes with a
 *        conc_procpool_result_t * (free() it), with fn's negative return
 *        code, with CONC_EIO when the worker died running the job (or
 *        when the pool broke before a worker took it, see below), or as
 *        cancelled (conc_future_cancel() before a worker takes it, or
 *        conc_procpool_shutdown() without waiting). Destroy it with
 *        conc_future_destroy() once done.
 * @retval 0 queued.
 * @retval CONC_ECLOSED the pool was shut down.
 * @retval CONC_EIO the pool is broken: every worker died and no
 *         replacement could be started (out of processes or descriptors).
 *         The jobs queued at that moment failed with CONC_EIO too.
 * @retval CONC_EOVERFLOW @p arg_len is larger than the pool's max_arg.
 * @retval CONC_EINVAL @p p or @p fn NULL, @p arg NULL with @p arg_len > 0.
 * @retval CONC_ENOMEM no memory for the job.
 * On error nothing was queued and the future (if any) completed with the
 * same error. Blocks while 1024 jobs per worker are queued (backpressure);
 * in a task, only the task. Callable from threads and tasks.
 */
CONC_API int conc_procpool_submit(conc_procpool_t *p, conc_procpool_fn fn, const void *arg,
                                  size_t arg_len, conc_future_t *future);

/**
 * @brief Apply fn to @p n arguments of @p arg_size bytes each (an array),
 *        and wait for all of them (`Pool.map`).
 * @param p the pool.
 * @param fn the work.
 * @param args @p n arguments of @p arg_size bytes each, one after the other.
 * @param arg_size bytes per argument (> 0, at most the pool's max_arg).
 * @param n the number of jobs.
 * @param results n slots of @p result_size bytes that receive the results in
 *        order (a result longer than the slot fails with CONC_EOVERFLOW), or
 *        NULL to drop them.
 * @param result_size bytes per result slot (> 0 when @p results is given).
 * @param statuses n ints that receive each job's status, or NULL.
 * @retval 0 every job succeeded.
 * @retval <0 the error of the failing job with the lowest index (every job
 *         still ran).
 * @retval CONC_ECLOSED the pool was shut down; nothing ran.
 * @retval CONC_EINVAL NULL arguments with n > 0, or @p arg_size 0.
 * @retval CONC_EOVERFLOW @p arg_size is larger than the pool's max_arg.
 * @retval CONC_ENOMEM no memory for the bookkeeping; nothing ran.
 * Blocks until every job finished. Callable from threads and tasks.
 */
CONC_API int conc_procpool_map(conc_procpool_t *p, conc_procpool_fn fn, const void *args,
                               size_t arg_size, size_t n, void *results, size_t result_size,
                               int *statuses);

/**
 * @brief Stop accepting jobs; with @p wait, finish every queued job first,
 *        otherwise cancel the queued jobs (their futures are cancelled) and
 *        only finish the running ones. Then the workers exit and are reaped.
 * @retval 0 done (also when already shut down).
 * @retval CONC_EINVAL @p p NULL or not initialised.
 * Blocks until the workers are gone. Callable from threads and tasks (not
 * from a worker).
 */
CONC_API int conc_procpool_shutdown(conc_procpool_t *p, bool wait);

/**
 * @brief Shut the pool down (waiting for queued jobs, if not done yet) and
 *        release it. @retval 0 success. @retval CONC_EINVAL NULL or not
 *        initialised.
 */
CONC_API int conc_procpool_destroy(conc_procpool_t *p);

/** @brief The pool's number of workers; 0 for NULL. */
CONC_API int conc_procpool_workers(const conc_procpool_t *p);

/** @brief How many workers died and were replaced since the pool started. */
CONC_API unsigned long conc_procpool_replaced(const conc_procpool_t *p);

#ifdef __cplusplus
}
#endif

#endif /* CONC_PROCPOOL_H */
