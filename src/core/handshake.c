/*
 * The mode of the fast-path/sleeper handshake (handshake.h), chosen once.
 */
#include "handshake.h"

#include "internal.h"

_Atomic int conc__handshake_mode;

void conc__handshake_init(void)
{
    if (CONC_LIKELY(atomic_load_explicit(&conc__handshake_mode, memory_order_acquire) != 0))
        return;
    int mode = conc__os_process_barrier_init() ? 1 : -1;
    int unset = 0;
    /* Racing first calls agree: registering the barrier twice is harmless. */
    atomic_compare_exchange_strong(&conc__handshake_mode, &unset, mode);
}

void conc__handshake_sleeper(bool light)
{
    if (light)
        conc__os_process_barrier();
    else
        atomic_thread_fence(memory_order_seq_cst);
}
