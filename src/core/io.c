/* conc_wait_fd(): blocking on a descriptor through the current context, so
 * a task waits on its loop's poller and a thread in poll(). */
#include "conc/io.h"
#include "waitq.h"

int conc_wait_fd(int fd, unsigned events, int64_t timeout_ns)
{
    if (fd < 0 || events == 0 || (events & ~(CONC_READABLE | CONC_WRITABLE)))
        return CONC_EINVAL;
    int64_t deadline = conc__deadline(timeout_ns);
    conc__context_t c = conc__context_current();
    return c.ops->wait_fd(c.ctx, fd, events, deadline, true);
}
