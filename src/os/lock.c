/*
 * The slow paths of the small internal lock (os.h), written once over the
 * address wait so every port gets them. Word values: 0 unlocked, 1 locked,
 * 2 locked and a waiter may be asleep on the word.
 */
#include "os.h"

#define SPINS 100

void conc__os_lock_slow(conc__os_lock_t *l)
{
    /* Critical sections under this lock are a few dozen instructions, so a
     * short spin usually wins before any system call. */
    for (int i = 0; i < SPINS; i++) {
        if (atomic_load_explicit(l, memory_order_relaxed) == 0 && conc__os_trylock(l))
            return;
        conc__os_cpu_relax();
    }
    while (atomic_exchange_explicit(l, 2, memory_order_acquire) != 0)
        conc__os_addr_wait(l, 2, CONC_FOREVER);
}

void conc__os_unlock_slow(conc__os_lock_t *l)
{
    conc__os_addr_wake_one(l);
}
