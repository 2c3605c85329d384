/*
 * The kqueue backend (macOS, FreeBSD, OpenBSD, NetBSD, DragonFly), the
 * default there: O(ready) per wait, nanosecond timeouts.
 *
 * A descriptor watched both ways is two kernel filters, EVFILT_READ and
 * EVFILT_WRITE, added and deleted one at a time: with no room for results,
 * kevent() stops at the first change that fails, so one change per call is
 * the portable way to know which one failed (EV_RECEIPT would batch them but
 * not every BSD has it). A wait reports each firing filter as its own event,
 * so a descriptor ready both ways may appear twice in one batch.
 *
 * EV_EOF (the peer closed, or a pipe's other end is gone) and a pending
 * socket error make the filter fire, with no extra work: read() then returns
 * 0 or the error, write() fails with EPIPE. A hang-up sets EV_EOF on both
 * filters of a socket, so every watched event is reported. EV_ERROR marks a
 * change that failed; a wait submits no changes, but should a system report
 * one anyway it is passed on as the filter's event so the caller's next call
 * sees the error rather than the loop dropping it.
 *
 * A kqueue is not inherited by fork() on these systems, and it is marked
 * close-on-exec too, so no child ever holds it.
 *
 * This file is compiled where meson finds a BSD-like host, and on Linux by
 * the test suite over a stand-in for kqueue() and kevent()
 * (tests/kqueue_shim/), which runs test_poller on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "poller.h"

/* The most events one wait collects; bounds the result buffer. */
enum { BATCH_MAX = 4096 };
/* Longer timeouts are cut to this (some kernels reject huge ones): the wait
 * then ends early with nothing, which the loop allows (it re-checks). */
#define MAX_WAIT_NS ((int64_t)86400 * 1000000000)

struct conc__poller {
    int kq;
    struct kevent *ev;
    int ev_cap;
};

static int kq_open(conc__poller_t **out)
{
    conc__poller_t *p = calloc(1, sizeof *p);

    if (!p)
        return CONC_ENOMEM;
    p->kq = kqueue();
    if (p->kq < 0) {
        int err = errno;
        free(p);
        return err == ENOMEM ? CONC_ENOMEM : CONC_ELIMIT;
    }
    if (fcntl(p->kq, F_SETFD, FD_CLOEXEC) != 0) {
        close(p->kq);
        free(p);
        return CONC_ELIMIT;
    }
    *out = p;
    return 0;
}

static void kq_close(conc__poller_t *p)
{
    if (!p)
        return;
    close(p->kq);
    free(p->ev);
    free(p);
}

static int filter_of(unsigned dir)
{
    return dir == CONC_READABLE ? EVFILT_READ : EVFILT_WRITE;
}

/* One change, applied at once; 0 or -1 with errno. */
static int change(conc__poller_t *p, int fd, unsigned dir, int flags)
{
    struct kevent kev;
    int rc;

    /* udata 0, not NULL: it is an integer on older NetBSD. */
    EV_SET(&kev, (uintptr_t)fd, filter_of(dir), flags, 0, 0, 0);
    do
        rc = kevent(p->kq, &kev, 1, NULL, 0, NULL);
    while (rc < 0 && errno == EINTR);
    return rc;
}

static int error_of(int err)
{
    return err == ENOMEM ? CONC_ENOMEM : CONC_EINVAL; /* EBADF, EINVAL, ... */
}

/* Add the filters of the directions in add; on failure take back those
 * added so far that old_events did not have, so the kernel is left as the
 * caller's old_events says. */
static int add_filters(conc__poller_t *p, int fd, unsigned add, unsigned old_events)
{
    static const unsigned dirs[2] = { CONC_READABLE, CONC_WRITABLE };
    unsigned done = 0;

    for (int i = 0; i < 2; i++) {
        if (!(add & dirs[i]))
            continue;
        if (change(p, fd, dirs[i], EV_ADD) != 0) {
            int rc = error_of(errno);
            if (done & ~old_events & CONC_READABLE) /* only it can come before */
                change(p, fd, CONC_READABLE, EV_DELETE);
            return rc;
        }
        done |= dirs[i];
    }
    return 0;
}

static int kq_update(conc__poller_t *p, int fd, unsigned old_events, unsigned new_events)
{
    if (fd < 0)
        return CONC_EINVAL;
    /* An update from or to a one-shot registration re-arms: the descriptor
     * may have been closed and its number reused since the one-shot fired
     * (the loop keeps a spent one), and closing it removed its filters, so
     * every wanted filter is added again (adding one that is there only
     * updates it). */
    unsigned add =
        (old_events | new_events) & CONC__POLL_ONESHOT ? new_events : new_events & ~old_events;
    int rc = add_filters(p, fd, add & (CONC_READABLE | CONC_WRITABLE), old_events);
    if (rc != 0)
        return rc;
    /* A delete fails only when the filter is gone already: closing a
     * descriptor removes its filters (ENOENT, or EBADF once closed). */
    unsigned drop = old_events & ~new_events;
    if (drop & CONC_READABLE)
        change(p, fd, CONC_READABLE, EV_DELETE);
    if (drop & CONC_WRITABLE)
        change(p, fd, CONC_WRITABLE, EV_DELETE);
    return 0;
}

static struct timespec *timeout_of(int64_t deadline, struct timespec *ts)
{
    if (deadline < 0)
        return NULL;
    int64_t left = deadline - conc_now_ns();
    if (left < 0)
        left = 0;
    if (left > MAX_WAIT_NS)
        left = MAX_WAIT_NS;
    ts->tv_sec = (time_t)(left / 1000000000);
    ts->tv_nsec = (long)(left % 1000000000);
    return ts;
}

static int reserve(conc__poller_t *p, int max)
{
    if (CONC_LIKELY(max <= p->ev_cap))
        return 0;
    struct kevent *ev = realloc(p->ev, (size_t)max * sizeof *ev);
    if (!ev)
        return CONC_ENOMEM;
    p->ev = ev;
    p->ev_cap = max;
    return 0;
}

static unsigned ready_of(const struct kevent *e)
{
    /* EV_EOF and EV_ERROR need nothing more than reporting the filter's
     * direction: the caller's read() or write() returns the condition. */
    if (e->filter == EVFILT_READ)
        return CONC_READABLE;
    if (e->filter == EVFILT_WRITE)
        return CONC_WRITABLE;
    return 0;
}

static int kq_wait(conc__poller_t *p, int64_t deadline, conc__poll_event_t *out, int max)
{
    struct timespec ts;

    if (!out || max <= 0)
        return CONC_EINVAL;
    if (max > BATCH_MAX)
        max = BATCH_MAX;
    if (reserve(p, max) != 0)
        return CONC_ENOMEM;
    int n = kevent(p->kq, NULL, 0, p->ev, max, timeout_of(deadline, &ts));
    if (n < 0)
        return errno == EINTR ? 0 : error_of(errno);
    int got = 0;
    for (int i = 0; i < n; i++) {
        unsigned ready = ready_of(&p->ev[i]);
        if (!ready)
            continue;
        out[got].fd = (int)p->ev[i].ident;
        out[got].events = ready;
        got++;
    }
    return got;
}

const conc__poller_ops_t conc__poller_kqueue = {
    "kqueue", CONC_POLLER_KQUEUE, kq_open, kq_close, kq_update, kq_wait,
};
