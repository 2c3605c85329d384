/*
 * The readiness backends of the event loop, behind one small interface.
 * One file per backend (poll_epoll.c, poll_kqueue.c, poll_poll.c); meson
 * compiles those the platform has and one poller_select_*.c that knows which
 * exist, so no source file #ifdefs a backend in or out.
 *
 * A poller is owned by one loop and used by its thread only. It watches a set
 * of descriptors, each for CONC_READABLE and/or CONC_WRITABLE (conc/io.h),
 * level-triggered: a descriptor that stays ready is reported by every wait.
 */
#ifndef CONC_LOOP_POLLER_H
#define CONC_LOOP_POLLER_H

#include <stdint.h>

#include "conc/io.h"
#include "conc/loop.h"
#include "core/internal.h"

typedef struct conc__poll_event {
    int fd;
    /* What is ready, a subset of what is watched. An error or hang-up on fd
     * reports every watched event, so the reader or writer sees it. */
    unsigned events;
} conc__poll_event_t;

typedef struct conc__poller conc__poller_t; /* private to each backend */

/*
 * With the events of an update: report fd at most once, then stop watching
 * it (keeping the registration, so that the next update re-arms it with one
 * call) until the next update. What a task's conc_wait_fd() wants: one
 * system call per wait instead of a registration and a removal, and safe
 * when the descriptor is closed and its number reused between waits (the
 * re-arm of a number the kernel forgot becomes a fresh registration). A
 * backend may ignore it and keep watching; the loop then removes the
 * registration when an event arrives that nobody waits for.
 */
#define CONC__POLL_ONESHOT 0x100u

typedef struct conc__poller_ops {
    const char *name; /* "epoll", "kqueue", "poll" */
    int kind;         /* a conc_poller_kind_t */
    /* CONC_ENOMEM, CONC_ELIMIT (no descriptors left). */
    int (*open)(conc__poller_t **out);
    void (*close)(conc__poller_t *p);
    /*
     * Change what fd is watched for, from old_events (0: not watched) to
     * new_events (0: stop watching). The loop keeps the per-fd state and
     * always passes the truth as old_events. Returns 0, CONC_EINVAL for a
     * descriptor that is not open or cannot be watched (a regular file under
     * epoll), CONC_ENOMEM. Stopping a descriptor already closed is not an
     * error (0).
     */
    int (*update)(conc__poller_t *p, int fd, unsigned old_events, unsigned new_events);
    /*
     * Wait until something is ready or the monotonic deadline passes
     * (negative: no deadline; <= now: do not block), and store up to max
     * events. Returns how many (0 on timeout or when a signal interrupted
     * the wait), or a negative code on failure. It may return before the
     * deadline with nothing (the loop re-checks its timers), but never
     * makes the loop late by more than the backend's clock granularity.
     */
    int (*wait)(conc__poller_t *p, int64_t deadline_ns, conc__poll_event_t *out, int max);
} conc__poller_ops_t;

/* poller_select_*.c: the backend for a conc_poller_kind_t (CONC_POLLER_DEFAULT
 * gives the platform's best), or NULL when it is not compiled here. */
const conc__poller_ops_t *conc__poller_find(int kind);

/* The backends; each exists only where its file is compiled. */
extern const conc__poller_ops_t conc__poller_epoll;
extern const conc__poller_ops_t conc__poller_kqueue;
extern const conc__poller_ops_t conc__poller_poll;

#endif /* CONC_LOOP_POLLER_H */
