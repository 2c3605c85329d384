/**
 * @file conc/barrier.h
 * @brief Barriers: a fixed number of parties meet before any goes on
 *        (Python's `threading.Barrier`).
 *
 * Each party calls conc_barrier_wait(). The first parties-1 callers wait;
 * the last to arrive runs the optional action (once per cycle, in its own
 * thread or task, before anybody is released) and then releases them all.
 * The barrier is then ready for the next cycle ("generation") at once: a
 * fast party that comes back immediately belongs to the next cycle, never to
 * the one it just left.
 *
 * conc_barrier_wait() returns the caller's arrival index, 0 .. parties-1,
 * on success (0 for the first to arrive, parties-1 for the last, which ran
 * the action): test `rc >= 0`; errors are negative.
 *
 * The barrier *breaks*, as in Python, when the action fails (returns
 * non-zero), when a waiting party's timeout expires, or on conc_barrier_abort():
 * every party waiting then returns CONC_EBROKEN, and so does every later
 * arrival until conc_barrier_reset(). conc_barrier_reset() also releases the
 * current waiters with CONC_EBROKEN, and leaves the barrier whole and empty.
 * See docs/barrier.md.
 */
#ifndef CONC_BARRIER_H
#define CONC_BARRIER_H

#include <stdbool.h>
#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/time.h"
#include "conc/waitq_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The action run by the last party of each cycle. Return 0 for success;
 *  any other value breaks the barrier (every party gets CONC_EBROKEN). */
typedef int (*conc_barrier_action_fn)(void *arg);

/** A barrier. Fields are private (libconc's); initialise with
 *  CONC_BARRIER_INIT() or conc_barrier_init(). */
typedef struct conc_barrier {
    CONC_ATOMIC_(uint32_t) lock_; /* internal lock guarding the rest */
    CONC_ATOMIC_(int) state_;     /* filling, tripping (action runs), broken, dead */
    CONC_ATOMIC_(int) count_;     /* parties arrived in this cycle */
    int parties_;
    uint32_t generation_; /* cycles begun (a trip, break or reset ends one) */
    bool break_pending_;  /* abort or timeout while the action ran */
    uintptr_t runner_;    /* context running the action */
    conc_barrier_action_fn action_;
    void *arg_;
    conc__waitq_t waiters_; /* arrived, waiting for the cycle to end */
    conc__waitq_t entry_;   /* came while the action ran: next cycle */
} conc_barrier_t;

/** @private A positive constant @p parties, or a compile error. */
#define CONC__BARRIER_PARTIES_(parties) \
    ((int)(parties) + 0 * (int)sizeof(char[(parties) >= 1 ? 1 : -1]))

/** Static initialiser of a barrier for @p parties parties (a constant >= 1)
 *  with an optional @p action (NULL for none) called with @p arg. */
#define CONC_BARRIER_INIT(parties, action, arg)                                               \
    {                                                                                         \
        0, 0, 0, CONC__BARRIER_PARTIES_(parties), 0, 0, 0, (action), (arg), CONC__WAITQ_INIT, \
            CONC__WAITQ_INIT                                                                  \
    }

/**
 * @brief Initialise @p b for @p parties parties.
 * @param b the barrier; must not be in use.
 * @param parties how many parties each cycle waits for, >= 1.
 * @param action run by the last party to arrive in each cycle, before the
 *        others are released; NULL for none. It runs without any libconc
 *        lock held and may call conc_barrier_abort(), conc_barrier_reset()
 *        and the queries on @p b (conc_barrier_wait() on @p b from the
 *        action returns CONC_EDEADLK).
 * @param arg passed to @p action.
 * @retval 0 success.
 * @retval CONC_EINVAL @p b is NULL or @p parties < 1.
 *
 * Never blocks. Callable from any context.
 */
CONC_API int conc_barrier_init(conc_barrier_t *b, int parties, conc_barrier_action_fn action,
                               void *arg);

/**
 * @brief Destroy @p b. It may be initialised again afterwards.
 * @param b the barrier.
 * @retval 0 success; later calls on @p b return CONC_EINVAL.
 * @retval CONC_EBUSY some party waits on @p b or its action is running;
 *         nothing changed.
 * @retval CONC_EINVAL @p b is NULL or already destroyed.
 *
 * Never blocks. Callable from any thread or task. No other call may be in
 * progress on @p b (only waiters and the action are detected).
 */
CONC_API int conc_barrier_destroy(conc_barrier_t *b);

/**
 * @brief Arrive at @p b and wait, at most @p timeout_ns, for the other
 *        parties of this cycle.
 * @param b the barrier.
 * @param timeout_ns relative timeout (conc/time.h); a negative value waits
 *        forever. As in Python, a timeout that expires breaks the barrier.
 * @return the caller's arrival index in this cycle, 0 .. parties-1 (>= 0):
 *         success; the last to arrive (index parties-1) ran the action.
 * @retval CONC_EBROKEN the barrier is broken: it was when the caller came,
 *         or broke while it waited (abort, reset, the action failed, another
 *         party's timeout). The last party gets it too when its action fails.
 * @retval CONC_ETIMEDOUT the caller's deadline passed (never earlier) before
 *         the cycle completed; the caller broke the barrier, the others get
 *         CONC_EBROKEN.
 * @retval CONC_EAGAIN @p timeout_ns is CONC_NOWAIT and the caller is not the
 *         last party: it would have to wait, so, as with any expired
 *         timeout, the barrier breaks.
 * @retval CONC_EDEADLK called on @p b from @p b's own action.
 * @retval CONC_EINVAL @p b is NULL or destroyed.
 * @retval CONC_ECANCELED only for a cancellable task context (event loop)
 *         that was cancelled while waiting; it breaks the barrier like a
 *         timeout.
 *
 * Blocks the current context (thread or task) up to the timeout. Callable
 * from threads and tasks; not from timer callbacks nor signal handlers.
 */
CONC_API int conc_barrier_wait(conc_barrier_t *b, int64_t timeout_ns);

/**
 * @brief Break @p b: every waiting party returns CONC_EBROKEN, and so do
 *        later arrivals until conc_barrier_reset().
 * @param b the barrier.
 * @retval 0 success (also when already broken). Called while an action
 *         runs, the cycle of that action still completes (all its parties
 *         had arrived) and the barrier is broken right after it.
 * @retval CONC_EINVAL @p b is NULL or destroyed.
 *
 * Never blocks. Callable from any thread or task, from timer callbacks and
 * from the barrier's own action.
 */
CONC_API int conc_barrier_abort(conc_barrier_t *b);

/**
 * @brief Return @p b to its initial state: the parties waiting now return
 *        CONC_EBROKEN, and the barrier is whole and empty again.
 * @param b the barrier.
 * @retval 0 success. Called while an action runs, it cancels a pending
 *         abort and leaves that cycle alone (all its parties had arrived).
 * @retval CONC_EINVAL @p b is NULL or destroyed.
 *
 * Never blocks. Callable from any thread or task, from timer callbacks and
 * from the barrier's own action.
 */
CONC_API int conc_barrier_reset(conc_barrier_t *b);

/**
 * @brief How many parties are waiting in the current cycle.
 * @return 0 .. parties-1, or CONC_EINVAL when @p b is NULL or destroyed.
 *
 * A snapshot. Never blocks. Callable from any context.
 */
CONC_API int conc_barrier_n_waiting(conc_barrier_t *b);

/**
 * @brief Whether @p b is broken.
 * @return true when broken; false when whole, destroyed or @p b is NULL.
 *
 * A snapshot. Never blocks. Callable from any context.
 */
CONC_API bool conc_barrier_broken(conc_barrier_t *b);

/**
 * @brief The number of parties of @p b.
 * @return parties (>= 1), or CONC_EINVAL when @p b is NULL or destroyed.
 *
 * Never blocks. Callable from any context.
 */
CONC_API int conc_barrier_parties(conc_barrier_t *b);

#ifdef __cplusplus
}
#endif

#endif /* CONC_BARRIER_H */
