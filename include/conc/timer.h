/**
 * @file conc/timer.h
 * @brief Software timers: one-shot and periodic callbacks run by one timer
 *        service thread (`threading.Timer`, FreeRTOS/Zephyr software timers).
 *
 * Every timer of the process is driven by a single service thread, started on
 * first use. Callbacks run on that thread, one at a time, in deadline order
 * (ties in the order the timers were started). A callback that blocks or runs
 * long delays every other timer: keep callbacks short, or hand the work to a
 * thread pool (conc/pool.h).
 *
 * A timer never fires before its deadline. Periodic timers keep their phase:
 * each expiry is scheduled at the previous *deadline* plus the period, not at
 * the time the callback ran, so they do not drift. When the service falls
 * behind by whole periods (a slow callback, a suspended machine) the missed
 * expiries are skipped, not run in a burst: the next deadline is the first
 * one of the original phase that is still in the future.
 *
 * See docs/timer.md for the guide.
 */
#ifndef CONC_TIMER_H
#define CONC_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @private A timer's place in libconc's timer structure. */
struct conc__timer_node {
    int64_t deadline_;
    uint64_t seq_;
    size_t index_; /* 1 + position in the heap; 0 while not queued */
};

/** A one-shot or periodic timer run by the timer service; caller-allocated
 *  (see struct conc_timer). */
typedef struct conc_timer conc_timer_t;

/**
 * A timer callback. @p timer is the timer that fired (so one callback can
 * serve many timers, and can cancel or restart its own), @p arg the argument
 * given to conc_timer_init(). Runs on the timer service thread.
 */
typedef void (*conc_timer_fn)(conc_timer_t *timer, void *arg);

/**
 * What a timer is doing: a set of bits, returned by conc_timer_state(),
 * conc_timer_cancel() and conc_timer_restart() (which report what they
 * found). PENDING and RUNNING can be set together: a periodic timer is armed
 * for its next expiry while its callback runs, and so is a timer restarted
 * while running. FIRED is only reported alone.
 */
enum conc_timer_state {
    /** Not started since init or the last cancel (no bit set). */
    CONC_TIMER_IDLE = 0,
    /** Armed and waiting for a deadline; the callback has not run for that
     *  expiry. A cancel that reports this bit guarantees it never will. */
    CONC_TIMER_PENDING = 1,
    /** The callback is running right now on the service thread. */
    CONC_TIMER_RUNNING = 2,
    /** A one-shot timer whose callback already ran to completion (and that
     *  is neither pending nor running). */
    CONC_TIMER_FIRED = 4,
};

/** A software timer. Caller-allocated; all fields are private. */
struct conc_timer {
    struct conc__timer_node node_;
    conc_timer_fn fn_;
    void *arg_;
    int64_t period_;
    uint32_t flags_;
    uint32_t magic_;
};

/** @private */
#define CONC__TIMER_MAGIC 0x746d7231u

/**
 * Static initialiser, equivalent to conc_timer_init(&t, fn, arg):
 * `static conc_timer_t t = CONC_TIMER_INITIALIZER(on_tick, NULL);`
 */
#define CONC_TIMER_INITIALIZER(fn, arg)                   \
    {                                                     \
        { 0, 0, 0 }, (fn), (arg), 0, 0, CONC__TIMER_MAGIC \
    }

/**
 * @brief Initialise an idle timer that will call @p fn(timer, @p arg).
 *
 * Must not be called on a timer that is in use (pending or running).
 *
 * @param t   the timer storage.
 * @param fn  the callback; not NULL.
 * @param arg passed to @p fn unchanged.
 * @retval 0 success.
 * @retval CONC_EINVAL @p t or @p fn is NULL.
 *
 * Never blocks. Callable from any thread and from timer callbacks.
 */
CONC_API int conc_timer_init(conc_timer_t *t, conc_timer_fn fn, void *arg);

/**
 * @brief Destroy a timer: cancel it, and wait until its callback has finished
 *        if it is running now.
 *
 * Called from the timer's own callback it does not wait (that would never
 * end): the timer is destroyed at once and the callback may even free its
 * storage before returning; the service does not touch it afterwards.
 *
 * @retval 0 success; the storage may be reused or freed.
 * @retval CONC_EINVAL @p t is NULL, not initialised, already destroyed, or
 *         being destroyed by another thread.
 *
 * Blocks while the timer's callback is running on the service thread (never
 * when called from that callback itself). Callable from any thread and from
 * timer callbacks.
 */
CONC_API int conc_timer_destroy(conc_timer_t *t);

/**
 * @brief Start an idle timer: first expiry after @p delay_ns, then every
 *        @p period_ns (0: one-shot).
 *
 * Starts the timer service thread on first use. Calling it from the timer's
 * own callback re-arms the timer (a one-shot timer that restarts itself).
 *
 * @param t         the timer.
 * @param delay_ns  relative delay, >= 0 (0: as soon as the service gets to it).
 * @param period_ns 0 for a one-shot timer, else the period (> 0).
 * @retval 0 started.
 * @retval CONC_EBUSY the timer is already pending (use conc_timer_restart()).
 * @retval CONC_EINVAL @p t NULL, not initialised or destroyed, or a negative
 *         delay or period.
 * @retval CONC_ENOMEM the timer structure could not grow.
 * @retval CONC_ELIMIT the service thread could not be started.
 * @retval CONC_ECLOSED conc_timer_service_shutdown() is in progress.
 *
 * Never blocks. Callable from any thread and from timer callbacks.
 */
CONC_API int conc_timer_start(conc_timer_t *t, int64_t delay_ns, int64_t period_ns);

/**
 * @brief Cancel the timer if pending and start it again with a new delay and
 *        period, atomically (no expiry can slip in between).
 *
 * Works in every state, including from the timer's own callback.
 *
 * @return the state found before the restart (conc_timer_state bits >= 0,
 *         as reported by conc_timer_cancel()), or:
 * @retval CONC_EINVAL @p t NULL, not initialised or destroyed, or a negative
 *         delay or period.
 * @retval CONC_ENOMEM, CONC_ELIMIT, CONC_ECLOSED as for conc_timer_start();
 *         the timer is then unchanged.
 *
 * Never blocks. Callable from any thread and from timer callbacks.
 */
CONC_API int conc_timer_restart(conc_timer_t *t, int64_t delay_ns, int64_t period_ns);

/**
 * @brief Stop a timer: a pending expiry is removed and a periodic timer does
 *        not fire again. Does not wait for a running callback.
 *
 * @return the state the timer was in (conc_timer_state bits, >= 0), which
 *  says what happened:
 *  - `CONC_TIMER_PENDING` set: an expiry was pending; its callback had not
 *    run and now never will;
 *  - `CONC_TIMER_RUNNING` set: the callback is running right now; it is not
 *    interrupted, and will not be called again (unless it restarts its own
 *    timer, which then wins as the later request). Both bits are set when a
 *    periodic (or restarted) timer is cancelled while its callback runs;
 *  - `CONC_TIMER_FIRED`: a one-shot timer whose callback already ran;
 *  - `CONC_TIMER_IDLE`: the timer was not started (or already cancelled).
 *  Afterwards the timer is idle: a second cancel returns CONC_TIMER_IDLE, or
 *  CONC_TIMER_FIRED once a running one-shot callback has finished (a
 *  cancelled periodic timer whose last callback finished reports FIRED too).
 * @retval CONC_EINVAL @p t NULL, not initialised or destroyed.
 *
 * Never blocks. Callable from any thread and from timer callbacks (a callback
 * may cancel its own timer: it gets CONC_TIMER_RUNNING, with
 * CONC_TIMER_PENDING for a periodic timer).
 */
CONC_API int conc_timer_cancel(conc_timer_t *t);

/**
 * @brief The timer's current state (conc_timer_state bits).
 *
 * @retval >=0 the state: CONC_TIMER_IDLE, CONC_TIMER_FIRED, or PENDING and/or
 *         RUNNING.
 * @retval CONC_EINVAL @p t NULL, not initialised or destroyed.
 *
 * Never blocks. Callable from any thread and from timer callbacks.
 */
CONC_API int conc_timer_state(const conc_timer_t *t);

/**
 * @brief The monotonic deadline (conc_now_ns() time base) of the timer's next
 *        expiry, or CONC_FOREVER (negative) when it is not pending.
 *
 * Never blocks. Callable from any thread and from timer callbacks.
 */
CONC_API int64_t conc_timer_deadline(const conc_timer_t *t);

/**
 * A handle to a call scheduled with conc_timer_once(). Plain data, no
 * resources: it may be copied, dropped, or kept after the call ran.
 */
typedef struct conc_timer_handle {
    void *rec_;
    uint64_t id_;
} conc_timer_handle_t;

/** An empty handle (conc_timer_once_cancel() on it returns CONC_TIMER_IDLE). */
#define CONC_TIMER_HANDLE_INIT \
    {                          \
        0, 0                   \
    }

/**
 * @brief Run @p fn(@p arg) once on the timer service after @p delay_ns,
 *        without a caller-allocated timer (Python's `threading.Timer(d, fn)`).
 *
 * The library owns the timer and reuses its memory once the call has run or
 * was cancelled.
 *
 * @param delay_ns relative delay in nanoseconds (>= 0).
 * @param fn the callback; runs on the timer service thread.
 * @param arg passed to @p fn.
 * @param handle where to store a handle for conc_timer_once_cancel(), or NULL.
 * @retval 0 scheduled.
 * @retval CONC_EINVAL @p fn NULL or @p delay_ns negative.
 * @retval CONC_ENOMEM, CONC_ELIMIT, CONC_ECLOSED as for conc_timer_start().
 *
 * Never blocks. Callable from any thread and from timer callbacks.
 */
CONC_API int conc_timer_once(int64_t delay_ns, void (*fn)(void *arg), void *arg,
                             conc_timer_handle_t *handle);

/**
 * @brief Cancel a call scheduled with conc_timer_once().
 *
 * @return what was found (one conc_timer_state value, >= 0):
 *  - `CONC_TIMER_PENDING`: cancelled; fn will not run. The handle is emptied;
 *  - `CONC_TIMER_RUNNING`: fn is running now; it is not interrupted;
 *  - `CONC_TIMER_FIRED`: fn already ran;
 *  - `CONC_TIMER_IDLE`: the handle is empty (CONC_TIMER_HANDLE_INIT, already
 *    cancelled through this handle, or issued before a service shutdown).
 * @retval CONC_EINVAL @p handle is NULL.
 *
 * Never blocks. Callable from any thread and from timer callbacks.
 */
CONC_API int conc_timer_once_cancel(conc_timer_handle_t *handle);

/**
 * @brief Stop the timer service thread and free its memory.
 *
 * Every pending timer is cancelled (it becomes idle; calls scheduled with
 * conc_timer_once() are discarded without running), a running callback is
 * waited for, the thread is joined and the service's memory is released. The
 * service starts again on the next conc_timer_start(). Meant for the end of a
 * program or a test, so that leak checkers see a clean process; not required.
 *
 * @retval 0 success (also when the service was not running).
 * @retval CONC_EDEADLK called from a timer callback.
 *
 * Blocks until the running callback (if any) has returned. Callable from any
 * thread except the timer service thread. Starting timers while it runs
 * fails with CONC_ECLOSED.
 */
CONC_API int conc_timer_service_shutdown(void);

#ifdef __cplusplus
}
#endif

#endif /* CONC_TIMER_H */
