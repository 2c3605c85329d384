/**
 * @file conc/loop.h
 * @brief The event loop: callbacks, timers, file descriptors and coroutine
 *        tasks on one thread (Python's asyncio event loop).
 *
 * A loop runs on the thread that calls one of its run functions. It runs, in
 * order, on each iteration:
 *  1. the callbacks that are ready (conc_loop_call_soon(), expired timers,
 *     thread-safe submissions, ready descriptors), first in, first out;
 *  2. the tasks that are ready (conc/task.h), in the order they became ready;
 *  3. then, when nothing is ready, it sleeps in its poller (epoll, kqueue or
 *     poll) until the earliest timer, a descriptor, or a wake-up from another
 *     thread.
 *
 * Everything here is single-threaded except conc_loop_call_soon_threadsafe()
 * and conc_loop_stop(), and except that any thread may wake a task blocked on
 * a core primitive (conc/queue.h, conc/mutex.h, ...).
 */
#ifndef CONC_LOOP_H
#define CONC_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An event loop. Caller-allocated; the field is private (the loop's state
 *  lives in memory that conc_loop_init() allocates). */
typedef struct conc_loop {
    void *impl_;
} conc_loop_t;

/** Which readiness backend a loop uses. */
typedef enum conc_poller_kind {
    /** The platform's best: epoll on Linux, kqueue on BSD and macOS, else
     *  poll. The environment variable CONC_POLLER (`epoll`, `kqueue` or
     *  `poll`) overrides it, so one binary can be tested on each. */
    CONC_POLLER_DEFAULT = 0,
    CONC_POLLER_EPOLL = 1,  /**< Linux epoll. */
    CONC_POLLER_KQUEUE = 2, /**< BSD and macOS kqueue. */
    CONC_POLLER_POLL = 3,   /**< POSIX poll(): portable, O(n) per wait. */
} conc_poller_kind_t;

/** Loop options. Initialise with CONC_LOOP_ATTR_INIT. */
typedef struct conc_loop_attr {
    /** One of conc_poller_kind_t. */
    int poller;
    /** Let conc_loop_run_until_complete() report CONC_EDEADLK when no task can
     *  ever be woken (docs/loop.md says exactly what is checked). On by
     *  default; turn it off when threads that libconc has never seen (made
     *  by pthread_create() and never calling a conc_thread_* function) may
     *  wake the loop's tasks, since the check cannot see them. */
    bool detect_deadlock;
} conc_loop_attr_t;

/** Default loop options. */
#define CONC_LOOP_ATTR_INIT       \
    {                             \
        CONC_POLLER_DEFAULT, true \
    }

/** A callback run by the loop. */
typedef void (*conc_loop_cb)(conc_loop_t *loop, void *arg);
/** A descriptor callback: @p events is CONC_READABLE or CONC_WRITABLE (conc/io.h). */
typedef void (*conc_fd_cb)(conc_loop_t *loop, int fd, unsigned events, void *arg);

/** Names one scheduled callback so it can be cancelled. A plain value: copy
 *  it freely; a handle whose callback ran or was cancelled is simply stale,
 *  and cancelling it is reported, never undefined. All fields private. */
typedef struct conc_handle {
    void *node_;
    uint64_t seq_;
} conc_handle_t;

/** A handle that names nothing. */
#define CONC_HANDLE_NONE \
    {                    \
        NULL, 0          \
    }

/**
 * @brief Initialise a loop.
 * @param loop caller-allocated.
 * @param attr options or NULL for the defaults.
 * @retval 0 success.
 * @retval CONC_EINVAL @p loop NULL, or an unknown poller kind, or a CONC_POLLER
 *         environment variable naming no backend.
 * @retval CONC_ENOTSUP the requested poller is not compiled for this platform.
 * @retval CONC_ENOMEM, CONC_ELIMIT no memory, or no file descriptors left.
 *
 * Does not block. Callable from any thread (the loop is not bound to a thread
 * until it runs).
 */
CONC_API int conc_loop_init(conc_loop_t *loop, const conc_loop_attr_t *attr);

/**
 * @brief Release a loop that is not running.
 *
 * Callbacks still scheduled are dropped without being called; descriptor
 * watchers are removed (the descriptors are not closed); tasks that finished
 * but were never joined are released.
 *
 * @retval 0 destroyed; the storage may be reused.
 * @retval CONC_EBUSY the loop is running, or it still has tasks that have not
 *         finished: nothing is released. conc_loop_tasks() lists them; cancel
 *         them and run the loop until they finish.
 * @retval CONC_EINVAL @p loop NULL or not initialised.
 *
 * Waits (briefly) for other threads still inside conc_loop_call_soon_threadsafe()
 * or waking one of its tasks. Callable from any thread but not from inside the
 * loop.
 */
CONC_API int conc_loop_destroy(conc_loop_t *loop);

/**
 * @brief Run until conc_loop_stop().
 * @retval 0 stopped.
 * @retval CONC_EBUSY the loop already runs, or the calling thread already runs
 *         another loop (one loop per thread at a time).
 * @retval CONC_EINVAL @p loop NULL or not initialised.
 * @retval CONC_EIO the loop's poller failed (its descriptor was closed or
 *         replaced behind the loop's back, for example); CONC_ENOMEM when the
 *         kernel lacked memory for the wait. The callbacks already due ran;
 *         nothing is lost, and the loop may be run again once the cause is
 *         gone. A poller that fails makes the run return instead of spinning.
 *
 * Blocks the calling thread, which runs the loop's callbacks and tasks. Not
 * callable from a task or a callback.
 */
CONC_API int conc_loop_run_forever(conc_loop_t *loop);

/**
 * @brief Run one iteration: ready callbacks and tasks, then wait for I/O or a
 *        timer at most @p timeout_ns if nothing was ready.
 * @retval 0 the iteration ran.
 * @retval CONC_EBUSY, CONC_EINVAL, CONC_EIO, CONC_ENOMEM as for
 *         conc_loop_run_forever() (the iteration's callbacks ran).
 */
CONC_API int conc_loop_run_once(conc_loop_t *loop, int64_t timeout_ns);

/**
 * @brief Ask the loop to return from conc_loop_run_forever() after the current
 *        iteration (or the next one, if it is not running now).
 * @retval 0 success.
 * @retval CONC_EINVAL @p loop NULL or not initialised.
 *
 * Never blocks. Callable from any thread, task or callback, and from a signal
 * handler (it only sets a flag and writes to the loop's wake-up descriptor).
 */
CONC_API int conc_loop_stop(conc_loop_t *loop);

/**
 * @brief The loop running on the calling thread, or NULL.
 *
 * Never blocks. Callable from anywhere.
 */
CONC_API conc_loop_t *conc_loop_current(void);

/**
 * @brief Schedule fn(loop, arg) to run on the next iteration.
 *
 * Ready callbacks run in the order they were scheduled.
 * @param loop the loop.
 * @param fn the callback; @param arg its argument.
 * @param handle if not NULL, receives a handle for conc_loop_cancel().
 * @retval 0 scheduled.
 * @retval CONC_EINVAL @p loop or @p fn NULL.
 * @retval CONC_ENOMEM no memory for the entry.
 *
 * Never blocks. Callable only on the loop's own thread (from its tasks and
 * callbacks, or before it runs); other threads use
 * conc_loop_call_soon_threadsafe() (CONC_EPERM while the loop runs on another
 * thread).
 */
CONC_API int conc_loop_call_soon(conc_loop_t *loop, conc_loop_cb fn, void *arg,
                                 conc_handle_t *handle);

/**
 * @brief Schedule fn(loop, arg) to run once @p delay_ns have passed (never
 *        earlier). Callbacks due at the same time run in the order they
 *        were scheduled.
 * @retval CONC_EINVAL also for a negative delay.
 * Otherwise as conc_loop_call_soon().
 */
CONC_API int conc_loop_call_later(conc_loop_t *loop, int64_t delay_ns, conc_loop_cb fn, void *arg,
                                  conc_handle_t *handle);

/**
 * @brief Schedule fn(loop, arg) at the monotonic time @p when_ns (conc_now_ns()).
 *        A time in the past runs on the next iteration.
 * @retval CONC_EINVAL also for a negative time.
 * Otherwise as conc_loop_call_soon().
 */
CONC_API int conc_loop_call_at(conc_loop_t *loop, int64_t when_ns, conc_loop_cb fn, void *arg,
                               conc_handle_t *handle);

/**
 * @brief Cancel a scheduled callback.
 * @retval 0 cancelled: it will not run.
 * @retval CONC_ESRCH nothing to cancel: the callback already ran (or is
 *         running), was already cancelled, or the handle is CONC_HANDLE_NONE.
 * @retval CONC_EINVAL @p loop NULL, or the handle belongs to another loop.
 *
 * Never blocks. Callable on the loop's own thread only (CONC_EPERM otherwise).
 */
CONC_API int conc_loop_cancel(conc_loop_t *loop, conc_handle_t handle);

/**
 * @brief Schedule fn(loop, arg) from any thread.
 *
 * The entry goes on a lock-free queue and the loop is woken if it sleeps.
 * Wake-ups coalesce; entries never do: N successful calls run N callbacks, in
 * the order each thread made them.
 *
 * @retval 0 scheduled.
 * @retval CONC_EINVAL @p loop or @p fn NULL, or the loop is not initialised.
 * @retval CONC_ENOMEM no memory for the entry.
 *
 * Never blocks (it allocates). Callable from any thread, task or callback. Not
 * from a signal handler (it allocates); a signal handler calls conc_loop_stop()
 * or writes to a descriptor the loop watches.
 */
CONC_API int conc_loop_call_soon_threadsafe(conc_loop_t *loop, conc_loop_cb fn, void *arg);

/**
 * @brief Call fn(loop, fd, CONC_READABLE, arg) whenever @p fd is readable
 *        (level-triggered: again on every iteration while data remains).
 * @retval 0 watching.
 * @retval CONC_EBUSY @p fd already has a reader (a callback, or a task in
 *         conc_wait_fd()); remove it first.
 * @retval CONC_EINVAL @p loop or @p fn NULL, @p fd negative or not open, or a
 *         descriptor the poller cannot watch (a regular file under epoll).
 * @retval CONC_ENOMEM no memory.
 *
 * Never blocks. Callable on the loop's own thread only (CONC_EPERM otherwise).
 */
CONC_API int conc_loop_add_reader(conc_loop_t *loop, int fd, conc_fd_cb fn, void *arg);
/**
 * @brief Stop watching @p fd for reading.
 * @retval 0 removed. @retval CONC_ESRCH @p fd had no reader callback.
 * @retval CONC_EINVAL @p loop NULL or @p fd negative.
 * Callable on the loop's own thread only (CONC_EPERM otherwise). Remove a
 * descriptor's watchers before closing it.
 */
CONC_API int conc_loop_remove_reader(conc_loop_t *loop, int fd);
/** @brief As conc_loop_add_reader(), for writability (CONC_WRITABLE). */
CONC_API int conc_loop_add_writer(conc_loop_t *loop, int fd, conc_fd_cb fn, void *arg);
/** @brief As conc_loop_remove_reader(), for the writer callback. */
CONC_API int conc_loop_remove_writer(conc_loop_t *loop, int fd);

/**
 * @brief The name of the loop's poller backend: "epoll", "kqueue" or "poll".
 * @return a static string, or NULL when @p loop is NULL or not initialised.
 */
CONC_API const char *conc_loop_poller_name(const conc_loop_t *loop);

#ifdef __cplusplus
}
#endif

#endif /* CONC_LOOP_H */
