/**
 * @file conc/flags.h
 * @brief Event flags (RTOS event groups): 31 bits that threads and tasks set,
 *        clear and wait for.
 *
 * A conc_flags_t holds a 31-bit value. conc_flags_set() ORs bits in,
 * conc_flags_clear() clears bits, conc_flags_wait() waits until any or all
 * bits of a mask are set and can clear the bits it matched atomically as it
 * returns, so that each occurrence of a bit is consumed by exactly one waiter
 * (FreeRTOS `xEventGroupWaitBits`, CMSIS-RTOS2 `osEventFlagsWait`, Zephyr
 * `k_event`).
 *
 * Bit 31 is reserved: every result that carries a value is a non-negative
 * `int`, and a negative one is an error code. A mask using bit 31, or an empty
 * mask, is CONC_EINVAL.
 *
 * Ordering: one conc_flags_set() checks the queued waiters in FIFO order
 * against the new value and releases every one whose condition holds; a
 * waiter with CONC_FLAGS_CLEAR consumes its bits *before* the waiters queued
 * behind it are checked, so two waiters never both consume the same bits.
 * See docs/flags.md.
 */
#ifndef CONC_FLAGS_H
#define CONC_FLAGS_H

#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/time.h"
#include "conc/waitq_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The usable bits: 0 .. 30. */
#define CONC_FLAGS_MASK 0x7FFFFFFFu

/** conc_flags_wait() options: exactly one of CONC_FLAGS_ANY and
 *  CONC_FLAGS_ALL, optionally with CONC_FLAGS_CLEAR. */
enum conc_flags_option {
    CONC_FLAGS_ANY = 1,  /**< wake when at least one bit of the mask is set */
    CONC_FLAGS_ALL = 2,  /**< wake when every bit of the mask is set */
    CONC_FLAGS_CLEAR = 4 /**< clear the matched bits atomically on return */
};

/** Event flags. Fields are private (libconc's); initialise with
 *  CONC_FLAGS_INIT or conc_flags_init(). */
typedef struct conc_flags {
    CONC_ATOMIC_(uint32_t) state_; /* value | bit 31: "waiters queued" */
    CONC_ATOMIC_(uint32_t) lock_;  /* internal lock guarding waiters_ */
    conc__waitq_t waiters_;
} conc_flags_t;

/** Static initialiser of event flags with every bit clear. */
#define CONC_FLAGS_INIT        \
    {                          \
        0, 0, CONC__WAITQ_INIT \
    }

/**
 * @brief Initialise @p f with every bit clear (same as CONC_FLAGS_INIT).
 * @param f the flags; must not be in use.
 * @retval 0 success.
 * @retval CONC_EINVAL @p f is NULL.
 *
 * Never blocks. Callable from any context.
 */
CONC_API int conc_flags_init(conc_flags_t *f);

/**
 * @brief Destroy @p f. It may be initialised again afterwards.
 * @param f the flags.
 * @retval 0 success; later calls on @p f return CONC_EINVAL.
 * @retval CONC_EBUSY somebody waits on @p f; nothing changed.
 * @retval CONC_EINVAL @p f is NULL or already destroyed.
 *
 * Never blocks. Callable from any thread or task. No other call may be in
 * progress on @p f (only waiters are detected).
 */
CONC_API int conc_flags_destroy(conc_flags_t *f);

/**
 * @brief Set the bits of @p mask and release the waiters this satisfies.
 * @param f the flags.
 * @param mask the bits to set: non-zero, bit 31 clear.
 * @return the value of @p f when the call returns (>= 0): the old value
 *         with @p mask set, minus the bits that released waiters consumed
 *         with CONC_FLAGS_CLEAR.
 * @retval CONC_EINVAL @p f is NULL or destroyed, or @p mask is 0 or uses
 *         bit 31; nothing changed.
 *
 * Never blocks. Callable from any thread or task and from timer callbacks.
 */
CONC_API int conc_flags_set(conc_flags_t *f, uint32_t mask);

/**
 * @brief Clear the bits of @p mask.
 * @param f the flags.
 * @param mask the bits to clear: non-zero, bit 31 clear.
 * @return the value of @p f *before* the call (>= 0).
 * @retval CONC_EINVAL @p f is NULL or destroyed, or @p mask is 0 or uses
 *         bit 31; nothing changed.
 *
 * Never blocks. Callable from any thread or task and from timer callbacks.
 */
CONC_API int conc_flags_clear(conc_flags_t *f, uint32_t mask);

/**
 * @brief The current value of @p f.
 * @param f the flags.
 * @return the value (>= 0), or CONC_EINVAL when @p f is NULL or destroyed.
 *
 * A snapshot. Never blocks. Callable from any context.
 */
CONC_API int conc_flags_get(conc_flags_t *f);

/**
 * @brief Wait until any (CONC_FLAGS_ANY) or all (CONC_FLAGS_ALL) bits of
 *        @p mask are set, at most @p timeout_ns.
 * @param f the flags.
 * @param mask the bits waited for: non-zero, bit 31 clear.
 * @param options CONC_FLAGS_ANY or CONC_FLAGS_ALL, optionally ORed with
 *        CONC_FLAGS_CLEAR to clear the matched bits (mask & value) atomically
 *        with the return.
 * @param[out] value if not NULL, receives the value of @p f at the moment
 *        the condition was met (before any clearing by this call); untouched
 *        on error.
 * @param timeout_ns relative timeout (conc/time.h): CONC_NOWAIT only tests,
 *        a negative value waits forever.
 * @retval 0 the condition was met (and the bits consumed with
 *         CONC_FLAGS_CLEAR). Also when it was met by a set() at the very
 *         moment the deadline passed.
 * @retval CONC_EAGAIN @p timeout_ns is CONC_NOWAIT and the condition does
 *         not hold.
 * @retval CONC_ETIMEDOUT the deadline passed (never earlier) and the
 *         condition was not met for the caller; nothing was cleared.
 * @retval CONC_EINVAL @p f is NULL or destroyed, @p mask is 0 or uses
 *         bit 31, or @p options is not one of the combinations above.
 * @retval CONC_ECANCELED only for a cancellable task context (event loop)
 *         that was cancelled while waiting; nothing was cleared.
 *
 * Blocks the current context (thread or task) up to the timeout. Callable
 * from threads and tasks; with CONC_NOWAIT also from timer callbacks.
 */
CONC_API int conc_flags_wait(conc_flags_t *f, uint32_t mask, int options, uint32_t *value,
                             int64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif /* CONC_FLAGS_H */
