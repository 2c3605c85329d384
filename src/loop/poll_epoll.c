/*
 * The epoll backend (Linux), the default there: O(ready) per wait however
 * many descriptors are watched. One level-triggered registration per
 * descriptor holds both directions; its user data carries the descriptor and
 * the watched mask, so an error or hang-up can be reported as every watched
 * event without a lookup.
 *
 * Why epoll_pwait2() for a deadline: epoll_wait() takes milliseconds, so a
 * timer due in 300 us would wake the loop up to 1 ms late, and the round-up
 * (a deadline must never be reported early) makes every short wait at least
 * 1 ms. epoll_pwait2() (Linux 5.11) takes a timespec. Older kernels answer
 * ENOSYS, and some container seccomp profiles EPERM for system calls they do
 * not know; either makes the backend fall back to epoll_wait() for good.
 * Without a deadline (or with one that has passed) epoll_wait() is exact.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "poller.h"

/* The most events one wait collects; bounds the kernel-side buffer. */
enum { BATCH_MAX = 4096, FIRST_BATCH = 64 };

struct conc__poller {
    int epfd;
    bool no_pwait2; /* the kernel refused epoll_pwait2() once */
    struct epoll_event *ev;
    int ev_cap;
};

static int reserve(conc__poller_t *p, int max)
{
    if (CONC_LIKELY(max <= p->ev_cap))
        return 0;
    struct epoll_event *ev = realloc(p->ev, (size_t)max * sizeof *ev);
    if (!ev)
        return CONC_ENOMEM;
    p->ev = ev;
    p->ev_cap = max;
    return 0;
}

static int epoll_open(conc__poller_t **out)
{
    conc__poller_t *p = calloc(1, sizeof *p);

    if (!p)
        return CONC_ENOMEM;
    /* The event buffer now, next to p: the loop's first waits use it. */
    if (reserve(p, FIRST_BATCH) != 0) {
        free(p);
        return CONC_ENOMEM;
    }
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
        int err = errno;
        free(p->ev);
        free(p);
        return err == ENOMEM ? CONC_ENOMEM : CONC_ELIMIT;
    }
    *out = p;
    return 0;
}

static void epoll_close_(conc__poller_t *p)
{
    if (!p)
        return;
    close(p->epfd);
    free(p->ev);
    free(p);
}

static int ctl(conc__poller_t *p, int op, int fd, unsigned events)
{
    struct epoll_event e = { 0 };

    e.events = ((events & CONC_READABLE) ? EPOLLIN : 0u) |
               ((events & CONC_WRITABLE) ? EPOLLOUT : 0u) |
               ((events & CONC__POLL_ONESHOT) ? EPOLLONESHOT : 0u);
    e.data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)events << 32;
    return epoll_ctl(p->epfd, op, fd, &e);
}

static int error_of(int err)
{
    if (err == ENOMEM || err == ENOSPC) /* ENOSPC: the max_user_watches limit */
        return CONC_ENOMEM;
    return CONC_EINVAL; /* EBADF; EPERM: a regular file or directory */
}

static int epoll_update(conc__poller_t *p, int fd, unsigned old_events, unsigned new_events)
{
    if (fd < 0)
        return CONC_EINVAL;
    if (!new_events) {
        if (!old_events || ctl(p, EPOLL_CTL_DEL, fd, 0) == 0)
            return 0;
        /* Closed already: the kernel dropped the registration with it. */
        return errno == EBADF || errno == ENOENT ? 0 : error_of(errno);
    }
    int op = old_events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (ctl(p, op, fd, new_events) == 0)
        return 0;
    /* The kernel's view can differ from the loop's when a descriptor was
     * closed and its number reused (ENOENT on MOD), or closed while a dup
     * kept the registration alive (EEXIST on ADD): do the other operation. */
    if (op == EPOLL_CTL_MOD && errno == ENOENT)
        op = EPOLL_CTL_ADD;
    else if (op == EPOLL_CTL_ADD && errno == EEXIST)
        op = EPOLL_CTL_MOD;
    else
        return error_of(errno);
    return ctl(p, op, fd, new_events) == 0 ? 0 : error_of(errno);
}

static int wait_pwait2(conc__poller_t *p, int64_t deadline, int max)
{
    struct timespec ts, *tsp = NULL;

    if (deadline >= 0) {
        /* Relative to a "now" read before the kernel reads its own, so the
         * kernel's deadline is at or after ours. */
        int64_t left = deadline - conc_now_ns();
        if (left < 0)
            left = 0;
        ts.tv_sec = (time_t)(left / 1000000000);
        ts.tv_nsec = (long)(left % 1000000000);
        tsp = &ts;
    }
    return epoll_pwait2(p->epfd, p->ev, max, tsp, NULL);
}

static int do_wait(conc__poller_t *p, int64_t deadline, int max)
{
    /* No deadline, or none left to wait: epoll_wait() says that exactly,
     * without a clock read or the timespec. */
    if (deadline <= 0)
        return epoll_wait(p->epfd, p->ev, max, deadline < 0 ? -1 : 0);
    if (CONC_LIKELY(!p->no_pwait2)) {
        int n = wait_pwait2(p, deadline, max);
        if (n >= 0 || (errno != ENOSYS && errno != EPERM))
            return n;
        p->no_pwait2 = true;
    }
    return epoll_wait(p->epfd, p->ev, max, conc__os_timeout_ms(deadline));
}

static unsigned ready_of(const struct epoll_event *e)
{
    unsigned watched = (unsigned)(e->data.u64 >> 32) & (CONC_READABLE | CONC_WRITABLE);

    if (e->events & (EPOLLERR | EPOLLHUP))
        return watched; /* the reader's or writer's next call sees it */
    return (((e->events & EPOLLIN) ? CONC_READABLE : 0u) |
            ((e->events & EPOLLOUT) ? CONC_WRITABLE : 0u)) &
           watched;
}

CONC__HOT static int epoll_wait_(conc__poller_t *p, int64_t deadline, conc__poll_event_t *out,
                                 int max)
{
    if (!out || max <= 0)
        return CONC_EINVAL;
    if (max > BATCH_MAX)
        max = BATCH_MAX;
    if (reserve(p, max) != 0)
        return CONC_ENOMEM;
    int n = do_wait(p, deadline, max);
    if (n < 0)
        return errno == EINTR ? 0 : CONC_EINVAL;
    int got = 0;
    for (int i = 0; i < n; i++) {
        unsigned ready = ready_of(&p->ev[i]);
        if (!ready)
            continue;
        out[got].fd = (int)(uint32_t)p->ev[i].data.u64;
        out[got].events = ready;
        got++;
    }
    return got;
}

const conc__poller_ops_t conc__poller_epoll = {
    "epoll", CONC_POLLER_EPOLL, epoll_open, epoll_close_, epoll_update, epoll_wait_,
};
