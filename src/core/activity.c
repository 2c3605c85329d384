/* The activity counters behind the event loop's deadlock check. */
#include "activity.h"
#include "conc/thread.h"
#include "thread_internal.h"

_Atomic long conc__parked_forever;
_Atomic long conc__pool_items;

bool conc__others_may_act(void)
{
    if (atomic_load_explicit(&conc__pool_items, memory_order_seq_cst) > 0)
        return true;
    if (!conc__timer_service_idle())
        return true;
    long parked = atomic_load_explicit(&conc__parked_forever, memory_order_seq_cst);
    long live = conc_thread_active_count();
    long self = conc__thread_self_rec() ? 1 : 0;
    return live - self - parked > 0;
}
