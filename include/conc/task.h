/**
 * @file conc/task.h
 * @brief Coroutine tasks on an event loop (asyncio's Task, gather, wait_for,
 *        TaskGroup), and the bridges between tasks and threads.
 *
 * A task runs a function on its own coroutine stack (conc/coro.h) on a loop's
 * thread. When it blocks, in conc_task_sleep(), conc_wait_fd(), or in any
 * blocking call of the core (conc_queue_get(), conc_mutex_lock(),
 * conc_event_wait(), conc_future_result(), conc_sleep(), ...), only the task is
 * suspended; the loop runs its other tasks and callbacks meanwhile. Any thread
 * can wake it through those primitives.
 *
 * The loop owns its tasks: a task object stays valid until it has finished
 * and has been joined (conc_task_join()) or detached (conc_task_detach()), or
 * until its loop is destroyed.
 *
 * Cancellation (conc_task_cancel()) is a request: the task's current blocking
 * call, or its next one, returns CONC_ECANCELED once; the task can then clean
 * up (blocking again if it needs to) and return. A task that returns
 * CONC_ECANCELED after a cancel request counts as cancelled.
 */
#ifndef CONC_TASK_H
#define CONC_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conc/coro.h"
#include "conc/error.h"
#include "conc/export.h"
#include "conc/future.h"
#include "conc/io.h"
#include "conc/loop.h"
#include "conc/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A task; opaque, owned by its loop. */
typedef struct conc_task conc_task_t;

/**
 * A task's function. Returns 0 or an error code (a CONC_E* code or any other
 * negative value of the application's) that is the task's status, and may
 * store a result in @p *result (NULL before the call).
 */
typedef int (*conc_task_fn)(void *arg, void **result);

/** Task options. Initialise with CONC_TASK_ATTR_INIT. */
typedef struct conc_task_attr {
    /** Copied (up to 31 bytes); NULL gives "task-<n>". */
    const char *name;
    /** Usable stack size; 0 = CONC_CORO_STACK_DEFAULT (64 KiB). */
    size_t stack_size;
    /** A conc_coro_stack_mode_t. Tasks default to CONC_CORO_STACK_CANARY: a
     *  suspended task costs about one page and there is no limit of memory
     *  maps, so a loop can hold 100,000s of tasks. Choose
     *  CONC_CORO_STACK_GUARD for a fault at the first overflowing byte. */
    int stack_mode;
    /** A caller buffer for CONC_CORO_STACK_BUFFER, else NULL. */
    void *stack;
} conc_task_attr_t;

/** Default task options. */
#define CONC_TASK_ATTR_INIT                   \
    {                                         \
        NULL, 0, CONC_CORO_STACK_CANARY, NULL \
    }

/** What a task is doing (conc_task_state()). */
typedef enum conc_task_state {
    CONC_TASK_READY = 1,   /**< Runnable, waiting for its turn on the loop. */
    CONC_TASK_RUNNING = 2, /**< Running now (it is the caller). */
    CONC_TASK_BLOCKED = 3, /**< Suspended in a blocking call. */
    CONC_TASK_DONE = 4,    /**< Its function returned. */
} conc_task_state_t;

/* ---- spawning and collecting ------------------------------------------- */

/**
 * @brief Create a task that will run fn(arg, &result) on @p loop.
 *
 * The task is ready at once and starts on the loop's next iteration, after
 * the tasks that are already ready.
 * @param loop the loop that will run and own the task.
 * @param attr options, or NULL for CONC_TASK_ATTR_INIT.
 * @param fn the task's function; @param arg its argument.
 * @param task receives the task; NULL detaches it at once (its result is then
 *        dropped when it finishes).
 * @retval 0 spawned.
 * @retval CONC_EINVAL @p loop or @p fn NULL, the loop not initialised, or bad
 *         stack options (as conc_coro_create()).
 * @retval CONC_ENOMEM no memory for the task or its stack.
 * @retval CONC_EPERM called from a thread other than the loop's while the
 *         loop runs (use conc_task_run_threadsafe()).
 *
 * Never blocks. Callable on the loop's own thread, or from any thread while
 * the loop does not run; other threads use conc_task_run_threadsafe().
 */
CONC_API int conc_task_spawn(conc_loop_t *loop, const conc_task_attr_t *attr, conc_task_fn fn,
                             void *arg, conc_task_t **task);

/**
 * @brief Wait for @p task to finish, collect its result and release it.
 *
 * @param task the task.
 * @param result if not NULL, receives the task's result.
 * @param timeout_ns relative timeout (conc/time.h).
 * @return the task's status (what its function returned: 0, or its error),
 *         and then @p task is released.
 * @retval CONC_ETIMEDOUT the timeout passed first; the task is not released.
 * @retval CONC_ECANCELED the caller is a task and was cancelled while waiting;
 *         @p task is cancelled too (as asyncio's `await task` does) and not
 *         released: join it again or detach it.
 * @retval CONC_EINVAL @p task NULL, or already released.
 * @retval CONC_EDEADLK the caller is @p task itself.
 *
 * Blocks (a task: only itself). Callable from tasks of any loop and from
 * threads; a thread must not be the one running the task's loop.
 */
CONC_API int conc_task_join(conc_task_t *task, void **result, int64_t timeout_ns);

/**
 * @brief Wait for @p task to finish without collecting it, and without
 *        cancelling it if the waiter is cancelled (asyncio's `shield`).
 * @retval 0 the task has finished (conc_task_result() reads it).
 * @retval CONC_ETIMEDOUT, CONC_ECANCELED (the caller was cancelled; the task
 *         runs on), CONC_EINVAL, CONC_EDEADLK as for conc_task_join().
 */
CONC_API int conc_task_wait(conc_task_t *task, int64_t timeout_ns);

/**
 * @brief Wait for @p task at most @p timeout_ns; on timeout cancel it and wait
 *        until it has finished (asyncio's `wait_for`).
 *
 * Does not release the task.
 * @return the task's status when it finished in time, or finished with
 *         a result despite the cancel;
 * @retval CONC_ETIMEDOUT the timeout passed and the task ended cancelled.
 * @retval CONC_ECANCELED the caller itself was cancelled: the task is cancelled
 *         too and awaited, and the caller's cancellation is always reported,
 *         never swallowed by a result that arrived at the same time.
 * @retval CONC_EINVAL, CONC_EDEADLK as for conc_task_join().
 *
 * Blocks; callable from tasks and threads, as conc_task_join().
 */
CONC_API int conc_task_wait_for(conc_task_t *task, void **result, int64_t timeout_ns);

/**
 * @brief Release a task: when it has finished (or at once if it has) its
 *        memory is freed and its result dropped.
 * @retval 0 detached; @p task must not be used again.
 * @retval CONC_EINVAL @p task NULL or already released.
 * Never blocks. Callable on the task's loop thread, or from any thread while
 * the loop does not run.
 */
CONC_API int conc_task_detach(conc_task_t *task);

/* ---- inside a task ------------------------------------------------------ */

/** @brief The task running now, or NULL outside tasks. Never blocks. */
CONC_API conc_task_t *conc_task_current(void);

/**
 * @brief Suspend the calling task for @p ns (never less).
 * @retval 0 slept.
 * @retval CONC_ECANCELED cancelled while sleeping.
 * @retval CONC_EPERM not called from a task (threads use conc_sleep(), which
 *         also works in tasks, reporting cancellation the same way).
 */
CONC_API int conc_task_sleep(int64_t ns);

/**
 * @brief Let the loop run the other ready tasks and callbacks, then continue.
 * @retval 0 resumed.
 * @retval CONC_ECANCELED a cancel request was pending (it is consumed).
 * @retval CONC_EPERM not called from a task.
 */
CONC_API int conc_task_yield(void);

/* ---- cancellation ------------------------------------------------------- */

/**
 * @brief Request cancellation of @p task.
 * @retval 0 requested: its current or next blocking call returns
 *         CONC_ECANCELED (once per request).
 * @retval 1 the task has already finished: nothing is done.
 * @retval CONC_EINVAL @p task NULL or released.
 * Never blocks. Callable from any thread: from a thread other than the one
 * running the task's loop, the request travels through the loop's
 * thread-safe queue (conc_loop_call_soon_threadsafe()) and takes effect at
 * the loop's next iteration; 0 then means "sent".
 */
CONC_API int conc_task_cancel(conc_task_t *task);

/** @brief Number of cancel requests made and not yet delivered to @p task. */
CONC_API int conc_task_cancelling(const conc_task_t *task);

/* ---- inspecting --------------------------------------------------------- */

/** @brief The task's state (conc_task_state_t), or CONC_EINVAL. */
CONC_API int conc_task_state(const conc_task_t *task);
/** @brief True once the task's function has returned. */
CONC_API bool conc_task_done(const conc_task_t *task);
/** @brief True when the task finished with CONC_ECANCELED after a cancel request. */
CONC_API bool conc_task_cancelled(const conc_task_t *task);
/** @brief The task's name (valid as long as the task). NULL for NULL. */
CONC_API const char *conc_task_name(const conc_task_t *task);
/** @brief The loop the task belongs to. */
CONC_API conc_loop_t *conc_task_loop(const conc_task_t *task);

/**
 * @brief Read a finished task's outcome without releasing it.
 * @return the task's status; @p result receives its result.
 * @retval CONC_EAGAIN the task has not finished.
 * @retval CONC_EINVAL @p task NULL or released.
 */
CONC_API int conc_task_result(const conc_task_t *task, void **result);

/* ---- several tasks ------------------------------------------------------ */

/** conc_gather() option: cancel the other tasks at the first failure. */
#define CONC_GATHER_CANCEL_ON_ERROR 1u

/**
 * @brief Wait for all @p n tasks to finish (asyncio's `gather`).
 *
 * @param tasks the tasks; @param n how many.
 * @param results if not NULL, results[i] receives task i's result.
 * @param statuses if not NULL, statuses[i] receives task i's status.
 * @param flags 0, or CONC_GATHER_CANCEL_ON_ERROR.
 * @return 0 when every task returned 0, else the status of the first task to
 *         fail (in time order); it is reported after all have finished.
 * @retval CONC_ECANCELED the caller was cancelled: every task is cancelled
 *         and awaited, then this is returned.
 * @retval CONC_EINVAL @p tasks NULL with @p n > 0, a NULL or released task.
 * @retval CONC_EDEADLK the caller is one of the tasks.
 * No task is released. Blocks; callable from tasks and threads, as
 * conc_task_join().
 */
CONC_API int conc_gather(conc_task_t *const *tasks, size_t n, void **results, int *statuses,
                         unsigned flags);

/**
 * @brief Wait until the first of @p n tasks finishes (asyncio's
 *        `wait(..., return_when=FIRST_COMPLETED)`).
 * @param tasks the tasks; @param n how many (at least 1).
 * @param timeout_ns relative timeout (conc/time.h).
 * @param index receives the position of a finished task (the lowest one if
 *        several have finished).
 * @retval 0 one has finished.
 * @retval CONC_ETIMEDOUT, CONC_ECANCELED (the tasks are not cancelled),
 *         CONC_EINVAL, CONC_EDEADLK as for conc_task_wait().
 */
CONC_API int conc_task_wait_any(conc_task_t *const *tasks, size_t n, size_t *index,
                                int64_t timeout_ns);

/* ---- task groups: structured concurrency -------------------------------- */

/** A task group (asyncio's TaskGroup). Caller-allocated; fields private. */
typedef struct conc_taskgroup {
    void *impl_;
} conc_taskgroup_t;

/**
 * @brief Start a group of tasks on @p loop.
 * @retval 0, CONC_EINVAL, CONC_ENOMEM.
 */
CONC_API int conc_taskgroup_init(conc_taskgroup_t *g, conc_loop_t *loop);

/**
 * @brief Spawn a task into the group (as conc_task_spawn()). The group keeps
 *        it; @p task (may be NULL) receives a pointer valid until the group
 *        is destroyed.
 * @retval CONC_ECLOSED the group has failed or is being waited for after a
 *         failure: no new task is started (asyncio raises likewise).
 */
CONC_API int conc_taskgroup_spawn(conc_taskgroup_t *g, const conc_task_attr_t *attr,
                                  conc_task_fn fn, void *arg, conc_task_t **task);

/**
 * @brief Wait for every task of the group. The first task to fail cancels
 *        all the others; the wait then still waits for all of them.
 * @return 0 when all returned 0; else the status of the first failure.
 * @retval CONC_ECANCELED the caller was cancelled: all tasks are cancelled and
 *         awaited first.
 * Blocks; callable from tasks and threads.
 */
CONC_API int conc_taskgroup_wait(conc_taskgroup_t *g);

/**
 * @brief Release the group and its tasks.
 * @retval 0 released.
 * @retval CONC_EBUSY some task has not finished; call conc_taskgroup_wait().
 */
CONC_API int conc_taskgroup_destroy(conc_taskgroup_t *g);

/* ---- running a loop until a task finishes ------------------------------- */

/**
 * @brief Run @p loop until @p task finishes, then join it (as conc_task_join()).
 * @return the task's status, with its result in @p result.
 * @retval CONC_EDEADLK every task of the loop is blocked and nothing can wake
 *         any of them (see docs/loop.md for exactly what is checked); the
 *         task is not released and conc_loop_dump() shows who waits on what.
 * @retval CONC_EBUSY, CONC_EINVAL, CONC_EIO, CONC_ENOMEM as for
 *         conc_loop_run_forever(); the task is still the loop's.
 * Blocks the calling thread, which runs the loop.
 */
CONC_API int conc_loop_run_until_complete(conc_loop_t *loop, conc_task_t *task, void **result);

/**
 * @brief Run fn(arg, result) as the main task of a fresh loop and return its
 *        status (Python's asyncio.run()).
 *
 * When the main task finishes, the other tasks still pending are cancelled and
 * run until they finish; then the loop is destroyed.
 * @retval CONC_EDEADLK as for conc_loop_run_until_complete().
 * @retval CONC_EBUSY the calling thread already runs a loop.
 */
CONC_API int conc_run(conc_task_fn fn, void *arg, void **result);

/**
 * @brief List the tasks of @p loop that have not finished.
 * @return how many there are (may exceed @p max; only @p max are stored).
 * @retval CONC_EINVAL @p loop NULL or not initialised.
 */
CONC_API int conc_loop_tasks(conc_loop_t *loop, conc_task_t **tasks, size_t max);

/**
 * @brief Write a human-readable list of the loop's tasks into @p buf: one line
 *        per task with its name, its state and, for a blocked task, what it
 *        waits on ("sleep", "fd 7 readable", "join task-3", "queue", ...).
 * @return the length of the full text (like snprintf: it may exceed @p size).
 * @retval CONC_EINVAL @p loop NULL or not initialised.
 */
CONC_API int conc_loop_dump(conc_loop_t *loop, char *buf, size_t size);

/* ---- bridges between threads and tasks ---------------------------------- */

/** The function type run in the pool by conc_task_to_thread() (conc/pool.h). */
typedef int (*conc_blocking_fn)(void *arg, void **result);

/**
 * @brief Run blocking work fn(arg, &result) on the default thread pool and
 *        suspend the calling task until it is done (asyncio's to_thread).
 * @return fn's status, with its result in @p result.
 * @retval CONC_ECANCELED the task was cancelled while waiting: the work keeps
 *         running in the pool (it cannot be interrupted) and its result is
 *         dropped.
 * Callable from a task, or from a thread (then it simply waits).
 */
CONC_API int conc_task_to_thread(conc_blocking_fn fn, void *arg, void **result);

/**
 * @brief From any thread, spawn fn(arg) as a task on @p loop, which runs on
 *        another thread, and get its outcome through @p future
 *        (asyncio's run_coroutine_threadsafe).
 *
 * @param loop the loop (running on another thread, or not yet).
 * @param attr task options or NULL; the name is copied.
 * @param fn the task's function; @param arg its argument.
 * @param future a future that is not in use (fresh or destroyed); it completes
 *        with the task's result (status 0) or its status as the error.
 *        Cancelling the future (conc_future_cancel()) before the task starts
 *        prevents it.
 * @retval 0 submitted.
 * @retval CONC_EINVAL, CONC_ENOMEM.
 * Never blocks. Callable from any thread.
 */
CONC_API int conc_task_run_threadsafe(conc_loop_t *loop, const conc_task_attr_t *attr,
                                      conc_task_fn fn, void *arg, conc_future_t *future);

#ifdef __cplusplus
}
#endif

#endif /* CONC_TASK_H */
