/*
 * Which poller backends exist on Linux: epoll (the default: O(ready) per
 * wait and nanosecond timeouts) and poll (portable, selectable so that CI
 * tests it on Linux too). kqueue is not compiled here. meson picks this file
 * beside the backends it lists, so no source file #ifdefs a backend in or
 * out; the CONC_POLLER environment variable is read by the loop, not here.
 */
#include "poller.h"

const conc__poller_ops_t *conc__poller_find(int kind)
{
    switch (kind) {
    case CONC_POLLER_DEFAULT:
    case CONC_POLLER_EPOLL:
        return &conc__poller_epoll;
    case CONC_POLLER_POLL:
        return &conc__poller_poll;
    default:
        return NULL;
    }
}
