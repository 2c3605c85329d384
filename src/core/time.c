/* The relative-timeout helpers of conc/time.h; the clock itself is the OS layer's. */
#include "conc/time.h"
#include "internal.h"

int64_t conc_deadline_after(int64_t timeout_ns)
{
    return conc__deadline(timeout_ns);
}

int64_t conc_timeout_left(int64_t deadline_ns)
{
    if (deadline_ns < 0)
        return CONC_FOREVER;
    int64_t left = deadline_ns - conc_now_ns();
    return left > 0 ? left : 0;
}

int conc_sleep_until(int64_t deadline_ns)
{
    if (deadline_ns > conc_now_ns())
        conc__os_sleep_until(deadline_ns);
    return 0;
}

int conc_sleep(int64_t ns)
{
    if (ns <= 0)
        return 0;
    return conc_sleep_until(conc__deadline(ns));
}
