/*
 * The mode of the fast-path/sleeper handshake (handshake.h), chosen once.
 */
#include "handshake.h"

#include "conc/time.h"
#include "internal.h"

_Atomic int conc__handshake_mode;

void conc__handshake_init(void)
{
    if (CONC_LIKELY(atomic_load_explicit(&conc__handshake_mode, memory_order_acquire) != 0))
        return;
    int mode = conc__handshake_arch_pays() && conc__os_process_barrier_init() ? 1 : -1;
    int unset = 0;
    /* Racing first calls agree: registering the barrier twice is harmless. */
    atomic_compare_exchange_strong(&conc__handshake_mode, &unset, mode);
}

void conc__handshake_sleeper(bool light)
{
    if (!light) {
        atomic_thread_fence(memory_order_seq_cst);
        return;
    }
    if (CONC_LIKELY(conc__os_process_barrier()))
        return;
    /* The barrier failed after it was registered (a seccomp filter added
     * later): from now on every fast side uses its own barrier. One that
     * went light a moment ago finishes its few instructions (publish, then
     * hint load) long before this nap ends, and the caller's look after it
     * sees the publish; this is the best that can be done without the
     * barrier, and it happens at most once per process. */
    atomic_store_explicit(&conc__handshake_mode, -1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
    conc__os_sleep_until(conc_now_ns() + CONC_MS(1)); /* the thread: a task holds a lock here */
}
