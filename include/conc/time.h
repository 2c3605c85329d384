/**
 * @file conc/time.h
 * @brief The one time convention of libconc: relative nanosecond timeouts.
 *
 * Every blocking call takes an `int64_t` timeout in nanoseconds, relative to
 * the moment of the call:
 *  - `CONC_NOWAIT` (0): try once, never block;
 *  - a positive value: block at most that long;
 *  - `CONC_FOREVER` (any negative value): no limit.
 *
 * A call converts its timeout once, on entry, into a deadline on the monotonic
 * clock (conc_now_ns()). Spurious wake-ups, signals and internal retries never
 * stretch the wait, and changes of the wall clock never shorten or lengthen it.
 * A timed wait never returns `CONC_ETIMEDOUT` before its deadline.
 */
#ifndef CONC_TIME_H
#define CONC_TIME_H

#include <stdint.h>

#include "conc/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Try once; never block. */
#define CONC_NOWAIT ((int64_t)0)
/** Wait without limit. Any negative timeout means the same. */
#define CONC_FOREVER ((int64_t)-1)
/** Nanoseconds in @p n microseconds (as int64_t). */
#define CONC_US(n) ((int64_t)(n)*INT64_C(1000))
/** Nanoseconds in @p n milliseconds (as int64_t). */
#define CONC_MS(n) ((int64_t)(n)*INT64_C(1000000))
/** Nanoseconds in @p n seconds (as int64_t). */
#define CONC_SEC(n) ((int64_t)(n)*INT64_C(1000000000))

/**
 * The largest finite timeout, in nanoseconds (about 146 years), like Python's
 * `threading.TIMEOUT_MAX`. Larger positive timeouts are accepted and clamped to
 * it; such waits behave as `CONC_FOREVER` for any practical purpose.
 */
#define CONC_TIMEOUT_MAX (INT64_MAX / 2)

/**
 * @brief The monotonic clock, in nanoseconds since an unspecified start.
 *
 * Never goes backwards and is not affected by changes of the wall clock.
 * Never blocks. Callable from any context, including signal handlers.
 */
CONC_API int64_t conc_now_ns(void);

/**
 * @brief Sleep for @p ns nanoseconds (relative, monotonic).
 *
 * Sleeps at least @p ns nanoseconds; interruptions by signals are resumed
 * until the deadline. A zero or negative duration returns at once (a negative
 * duration is not "forever" here: sleeping forever is never what a caller of
 * sleep wants).
 *
 * @retval 0 slept.
 * @retval CONC_ECANCELED (in a task only) the task was cancelled while it slept.
 *
 * Blocks the calling thread; inside a coroutine task (conc/task.h) only the
 * task is suspended and its loop runs on. Callable from any thread and task.
 */
CONC_API int conc_sleep(int64_t ns);

/**
 * @brief Sleep until the monotonic time @p deadline_ns (as from conc_now_ns()).
 * @retval 0 slept, or the deadline had passed (returns at once).
 * @retval CONC_ECANCELED (in a task only) the task was cancelled while it slept.
 *
 * Blocks the calling thread, or inside a task only the task. Callable from any
 * thread and task.
 */
CONC_API int conc_sleep_until(int64_t deadline_ns);

/**
 * @brief Turn a relative timeout into an absolute monotonic deadline.
 *
 * @return conc_now_ns() + @p timeout_ns for a timeout >= 0 (clamped to
 *         CONC_TIMEOUT_MAX so it never overflows), or `CONC_FOREVER` for a
 *         negative timeout. Useful for callers that retry several calls
 *         against one overall deadline (see conc_timeout_left()).
 */
CONC_API int64_t conc_deadline_after(int64_t timeout_ns);

/**
 * @brief The relative timeout left until @p deadline_ns.
 * @return `CONC_FOREVER` for a negative (infinite) deadline, 0 when it has
 *         passed, else the nanoseconds left.
 */
CONC_API int64_t conc_timeout_left(int64_t deadline_ns);

#ifdef __cplusplus
}
#endif

#endif /* CONC_TIME_H */
