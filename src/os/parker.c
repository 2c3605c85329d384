/*
 * The per-thread parker (os.h), written once over the address wait. The
 * state word: EMPTY, PARKED (the owner is, or is about to be, asleep) or
 * NOTIFIED (a token is waiting to be consumed). Only the owning thread moves
 * the word away from NOTIFIED, so an unpark is never lost.
 */
#include "os.h"

#define EMPTY 0u
#define NOTIFIED 1u
#define PARKED UINT32_MAX

struct conc__os_parker {
    _Atomic uint32_t state;
};

_Thread_local conc__os_parker_t conc__os_self_parker CONC__TLS_FAST;

int conc__os_park(conc__os_parker_t *p, int64_t deadline_ns)
{
    /* NOTIFIED -> EMPTY consumes a token; EMPTY -> PARKED announces a sleep. */
    if (atomic_fetch_sub_explicit(&p->state, 1, memory_order_acquire) == NOTIFIED)
        return 0;
    for (;;) {
        int rc = conc__os_addr_wait(&p->state, PARKED, deadline_ns);
        uint32_t notified = NOTIFIED;

        if (atomic_compare_exchange_strong_explicit(&p->state, &notified, EMPTY,
                                                    memory_order_acquire, memory_order_relaxed))
            return 0;
        if (rc == CONC_ETIMEDOUT || (deadline_ns >= 0 && conc_now_ns() >= deadline_ns)) {
            /* Leave PARKED; a token that raced in is still taken. */
            if (atomic_exchange_explicit(&p->state, EMPTY, memory_order_acquire) == NOTIFIED)
                return 0;
            return CONC_ETIMEDOUT;
        }
    }
}

void conc__os_unpark(conc__os_parker_t *p)
{
    if (atomic_exchange_explicit(&p->state, NOTIFIED, memory_order_release) == PARKED)
        conc__os_addr_wake_one(&p->state);
}
