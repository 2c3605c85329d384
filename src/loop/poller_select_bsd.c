/*
 * Which poller backends exist on macOS and the BSDs: kqueue (the default:
 * O(ready) per wait and nanosecond timeouts) and poll (portable). epoll is
 * not compiled here. meson picks this file beside the backends it lists, so
 * no source file #ifdefs a backend in or out.
 */
#include "poller.h"

const conc__poller_ops_t *conc__poller_find(int kind)
{
    switch (kind) {
    case CONC_POLLER_DEFAULT:
    case CONC_POLLER_KQUEUE:
        return &conc__poller_kqueue;
    case CONC_POLLER_POLL:
        return &conc__poller_poll;
    default:
        return NULL;
    }
}
