/*
 * Which poller backends exist on a POSIX system that meson does not know
 * better (neither Linux nor BSD-like): poll() only, which every POSIX system
 * has. A port that adds a faster backend (event ports on illumos, say) gives
 * it its own file and its own poller_select_*.c.
 */
#include "poller.h"

const conc__poller_ops_t *conc__poller_find(int kind)
{
    switch (kind) {
    case CONC_POLLER_DEFAULT:
    case CONC_POLLER_POLL:
        return &conc__poller_poll;
    default:
        return NULL;
    }
}
