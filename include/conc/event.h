/**
 * @file conc/event.h
 * @brief Events: a flag that threads and tasks wait for (Python's `Event`).
 *
 * An event is either set or clear. conc_event_set() sets it and wakes every
 * current waiter; conc_event_clear() clears it; conc_event_wait() returns at
 * once while it is set and otherwise waits until somebody sets it.
 *
 * As in Python, a waiter woken by a set() returns 0 even if clear() follows
 * immediately: a set() is never missed by those who were waiting for it,
 * however briefly the event stayed set.
 *
 * conc_event_is_set() and conc_event_wait() on a set event are one atomic
 * load; set() and clear() take no lock unless somebody waits.
 * See docs/event.md.
 */
#ifndef CONC_EVENT_H
#define CONC_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/time.h"
#include "conc/waitq_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An event. Fields are private (libconc's); initialise with CONC_EVENT_INIT
 *  or conc_event_init(). */
typedef struct conc_event {
    CONC_ATOMIC_(uint32_t) state_; /* set bit | "waiters queued" bit */
    CONC_ATOMIC_(uint32_t) lock_;  /* internal lock guarding waiters_ */
    conc__waitq_t waiters_;
} conc_event_t;

/** Static initialiser of a clear event. */
#define CONC_EVENT_INIT        \
    {                          \
        0, 0, CONC__WAITQ_INIT \
    }

/**
 * @brief Initialise @p e as a clear event (same as CONC_EVENT_INIT).
 * @param e the event; must not be in use.
 * @retval 0 success.
 * @retval CONC_EINVAL @p e is NULL.
 *
 * Never blocks. Callable from any context.
 */
CONC_API int conc_event_init(conc_event_t *e);

/**
 * @brief Destroy @p e. It may be initialised again afterwards.
 * @param e the event.
 * @retval 0 success; later calls on @p e return CONC_EINVAL (is_set: false).
 * @retval CONC_EBUSY somebody waits on @p e; nothing changed.
 * @retval CONC_EINVAL @p e is NULL or already destroyed.
 *
 * Never blocks. Callable from any thread or task. No other call may be in
 * progress on @p e (only waiters are detected).
 */
CONC_API int conc_event_destroy(conc_event_t *e);

/**
 * @brief Set @p e and wake all its current waiters.
 * @param e the event.
 * @retval 0 success (also when it was set already).
 * @retval CONC_EINVAL @p e is NULL or destroyed.
 *
 * Never blocks. Callable from any thread or task and from timer callbacks.
 */
CONC_API int conc_event_set(conc_event_t *e);

/**
 * @brief Clear @p e; later waiters wait until the next set().
 * @param e the event.
 * @retval 0 success (also when it was clear already).
 * @retval CONC_EINVAL @p e is NULL or destroyed.
 *
 * Never blocks. Callable from any thread or task and from timer callbacks.
 */
CONC_API int conc_event_clear(conc_event_t *e);

/**
 * @brief Whether @p e is set.
 * @param e the event.
 * @return true when set; false when clear, destroyed or @p e is NULL.
 *
 * A snapshot. Never blocks. Callable from any context, including signal
 * handlers.
 */
CONC_API bool conc_event_is_set(conc_event_t *e);

/**
 * @brief Wait until @p e is set, at most @p timeout_ns.
 * @param e the event.
 * @param timeout_ns relative timeout (conc/time.h): CONC_NOWAIT only tests,
 *        a negative value waits forever.
 * @retval 0 @p e was set: at the call, or by a set() that woke the caller
 *         (even if it has been cleared again since, and even if the deadline
 *         passed just as it was woken).
 * @retval CONC_EAGAIN @p timeout_ns is CONC_NOWAIT and @p e is clear.
 * @retval CONC_ETIMEDOUT the deadline passed (never earlier) and no set()
 *         woke the caller.
 * @retval CONC_EINVAL @p e is NULL or destroyed.
 * @retval CONC_ECANCELED only for a cancellable task context (event loop)
 *         that was cancelled while waiting.
 *
 * Blocks the current context (thread or task) up to the timeout while @p e
 * is clear. Callable from threads and tasks; with CONC_NOWAIT also from timer
 * callbacks.
 */
CONC_API int conc_event_wait(conc_event_t *e, int64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif /* CONC_EVENT_H */
