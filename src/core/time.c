/* The relative-timeout helpers of conc/time.h; the clock itself is the OS layer's. */
#include "conc/time.h"
#include "internal.h"
#include "waitq.h"

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

/* In a task: suspend the task through its context; only a cancellation
 * ends the sleep early. A stray wake token (0) just blocks again. */
static int context_sleep(conc__context_t c, int64_t deadline_ns)
{
    int rc;

    do {
        conc__blocking_what = "sleep";
        rc = c.ops->block(c.ctx, deadline_ns, true);
    } while (rc == 0);
    return rc == CONC_ETIMEDOUT ? 0 : rc;
}

int conc_sleep_until(int64_t deadline_ns)
{
    if (conc__installed_context.ops)
        return context_sleep(conc__installed_context, deadline_ns < 0 ? 0 : deadline_ns);
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
