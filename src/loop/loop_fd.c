/*
 * Descriptors: reader and writer callbacks, tasks in conc_wait_fd(), and the
 * dispatch of what the poller reports.
 *
 * The loop keeps, per descriptor, who watches it for reading and for writing
 * (a callback or a task, never both: a second watcher of the same direction
 * is CONC_EBUSY) and tells the poller only what changed.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "loop_internal.h"

enum { FIRST_EVENTS = 64, MAX_EVENTS = 4096 };

int conc__fd_init(conc__loop_t *l)
{
    l->events = malloc(FIRST_EVENTS * sizeof *l->events);
    if (!l->events)
        return CONC_ENOMEM;
    l->events_cap = FIRST_EVENTS;
    int rc = l->poller_ops->update(l->poller, l->wakefd.read_fd, 0, CONC_READABLE);
    if (rc != 0) {
        free(l->events);
        l->events = NULL;
    }
    return rc;
}

void conc__fd_destroy(conc__loop_t *l)
{
    /* The poller is closed next, which forgets every registration; the
     * descriptors themselves belong to the application. */
    free(l->fds);
    free(l->events);
    l->fds = NULL;
    l->events = NULL;
    l->nfds_cap = 0;
}

/* The watcher slot of fd, growing the table for an open descriptor; NULL
 * with *rc set: CONC_EINVAL for a descriptor that is not open (checked
 * before growing, so a huge bogus number allocates nothing) or is the
 * loop's own wake-up descriptor, CONC_ENOMEM. */
static conc__fdwatch_t *slot_for(conc__loop_t *l, int fd, int *rc);

static conc__fdwatch_t *watch_of(conc__loop_t *l, int fd)
{
    if (fd < l->nfds_cap)
        return &l->fds[fd];
    int cap = l->nfds_cap ? l->nfds_cap : 64;
    while (cap <= fd) {
        if (cap > INT_MAX / 2)
            return NULL;
        cap *= 2;
    }
    conc__fdwatch_t *fds = realloc(l->fds, (size_t)cap * sizeof *fds);
    if (!fds)
        return NULL;
    memset(fds + l->nfds_cap, 0, (size_t)(cap - l->nfds_cap) * sizeof *fds);
    l->fds = fds;
    l->nfds_cap = cap;
    return &l->fds[fd];
}

static conc__fdwatch_t *slot_for(conc__loop_t *l, int fd, int *rc)
{
    *rc = CONC_EINVAL;
    if (fd == l->wakefd.read_fd || fd == l->wakefd.write_fd)
        return NULL;
    if (fd >= l->nfds_cap && !conc__os_fd_is_open(fd))
        return NULL;
    conc__fdwatch_t *w = watch_of(l, fd);
    if (!w)
        *rc = CONC_ENOMEM;
    return w;
}

static unsigned wanted_events(const conc__fdwatch_t *w)
{
    return ((w->read_fn || w->read_task) ? CONC_READABLE : 0) |
           ((w->write_fn || w->write_task) ? CONC_WRITABLE : 0);
}

/* One task alone (no callback, no second task) watches fd: its
 * registration can be one-shot (CONC__POLL_ONESHOT in poller.h). */
static bool one_task_alone(const conc__fdwatch_t *w)
{
    if (w->read_fn || w->write_fn)
        return false;
    return !w->read_task || !w->write_task || w->read_task == w->write_task;
}

static void set_counted(conc__loop_t *l, conc__fdwatch_t *w, bool watched)
{
    if (watched != w->counted)
        l->nwatched += watched ? 1 : (size_t)-1;
    w->counted = watched;
}

/* Tell the poller what fd's watchers want now. A one-shot registration
 * that has fired watches nothing any more: it is left in place, so that
 * the task's next wait on fd re-arms it with one call. */
static __attribute__((noinline)) int sync_events(conc__loop_t *l, int fd)
{
    conc__fdwatch_t *w = &l->fds[fd];
    unsigned want = wanted_events(w);
    unsigned target = want && one_task_alone(w) && !w->owned ? want | CONC__POLL_ONESHOT : want;

    if (!target && w->owned) {
        /* Kept as it is: the next wait on this descriptor needs no call. An
         * event that nobody waits for removes it (reported()). */
    } else if (!target) {
        if (w->events && w->armed)
            l->poller_ops->update(l->poller, fd, w->events, 0); /* cannot fail that matters */
        if (w->armed)
            w->events = 0;
    } else if (target != w->events || !w->armed) {
        int rc = l->poller_ops->update(l->poller, fd, w->events, target);
        if (rc != 0)
            return rc;
        w->events = target;
        w->armed = true;
    }
    set_counted(l, w, want != 0);
    return 0;
}

/* Forget whatever registration fd has while nobody watches it. */
static void drop_registration(conc__loop_t *l, int fd)
{
    conc__fdwatch_t *w = &l->fds[fd];

    if (!wanted_events(w) && w->events) {
        l->poller_ops->update(l->poller, fd, w->events, 0);
        w->events = 0;
        w->armed = false;
    }
}

int conc__fd_own(conc__loop_t *l, int fd)
{
    int rc;
    conc__fdwatch_t *w = slot_for(l, fd, &rc);

    if (!w)
        return rc;
    if (w->owned)
        return CONC_EBUSY;
    /* What the table remembers of an earlier descriptor with this number
     * goes: the owner starts from a fresh registration. */
    drop_registration(l, fd);
    w->owned = true;
    return 0;
}

void conc__fd_disown(conc__loop_t *l, int fd)
{
    if (fd < 0 || fd >= l->nfds_cap || !l->fds[fd].owned)
        return;
    l->fds[fd].owned = false;
    drop_registration(l, fd);
    if (wanted_events(&l->fds[fd]))
        sync_events(l, fd); /* callbacks stay, registered the usual way */
}

static bool direction_taken(const conc__fdwatch_t *w, unsigned events)
{
    if ((events & CONC_READABLE) && (w->read_fn || w->read_task))
        return true;
    return (events & CONC_WRITABLE) && (w->write_fn || w->write_task);
}

static int add_callback(conc_loop_t *loop, int fd, unsigned dir, conc_fd_cb fn, void *arg)
{
    conc__loop_t *l = conc__loop_of(loop);

    if (!l || !fn || fd < 0)
        return CONC_EINVAL;
    if (!conc__loop_owned_here(l))
        return CONC_EPERM;
    int rc;
    conc__fdwatch_t *w = slot_for(l, fd, &rc);
    if (!w)
        return rc;
    if (direction_taken(w, dir))
        return CONC_EBUSY;
    if (dir == CONC_READABLE) {
        w->read_fn = fn;
        w->read_arg = arg;
    } else {
        w->write_fn = fn;
        w->write_arg = arg;
    }
    rc = sync_events(l, fd);
    if (rc != 0) {
        w = &l->fds[fd];
        if (dir == CONC_READABLE)
            w->read_fn = NULL;
        else
            w->write_fn = NULL;
    }
    return rc;
}

static int remove_callback(conc_loop_t *loop, int fd, unsigned dir)
{
    conc__loop_t *l = conc__loop_of(loop);

    if (!l || fd < 0)
        return CONC_EINVAL;
    if (!conc__loop_owned_here(l))
        return CONC_EPERM;
    if (fd >= l->nfds_cap)
        return CONC_ESRCH;
    conc__fdwatch_t *w = &l->fds[fd];
    conc_fd_cb *slot = dir == CONC_READABLE ? &w->read_fn : &w->write_fn;
    if (!*slot)
        return CONC_ESRCH;
    *slot = NULL;
    sync_events(l, fd); /* removing cannot fail that matters */
    return 0;
}

int conc_loop_add_reader(conc_loop_t *loop, int fd, conc_fd_cb fn, void *arg)
{
    return add_callback(loop, fd, CONC_READABLE, fn, arg);
}

int conc_loop_add_writer(conc_loop_t *loop, int fd, conc_fd_cb fn, void *arg)
{
    return add_callback(loop, fd, CONC_WRITABLE, fn, arg);
}

int conc_loop_remove_reader(conc_loop_t *loop, int fd)
{
    return remove_callback(loop, fd, CONC_READABLE);
}

int conc_loop_remove_writer(conc_loop_t *loop, int fd)
{
    return remove_callback(loop, fd, CONC_WRITABLE);
}

/* The poller reported fd: a one-shot registration is spent now; one that
 * nobody watches any more (a backend that ignores one-shot) is removed. */
static void reported(conc__loop_t *l, int fd)
{
    conc__fdwatch_t *w = &l->fds[fd];

    if (w->events & CONC__POLL_ONESHOT)
        w->armed = false;
    if (!wanted_events(w) && w->events) {
        l->poller_ops->update(l->poller, fd, w->events, 0);
        w->events = 0;
        w->armed = false;
    }
}

static void dispatch_one(conc__loop_t *l, int fd, unsigned events, unsigned dir)
{
    if (!(events & dir) || fd >= l->nfds_cap)
        return;
    /* Re-read the slot each time: a callback may add or remove watchers,
     * which can move the table. */
    conc__fdwatch_t *w = &l->fds[fd];
    conc_task_t *t = dir == CONC_READABLE ? w->read_task : w->write_task;
    if (t) {
        conc__task_fd_ready(t, dir);
        return;
    }
    conc_fd_cb fn = dir == CONC_READABLE ? w->read_fn : w->write_fn;
    void *arg = dir == CONC_READABLE ? w->read_arg : w->write_arg;
    if (fn)
        fn(l->pub, fd, dir, arg);
}

/* One reported descriptor. The common case first: one task waits on a
 * descriptor for just what was reported, and its registration stays (a
 * level-triggered one, or one-shot and now spent): the task is made ready
 * with no other work. */
static void dispatch(conc__loop_t *l, int fd, unsigned ev)
{
    conc__fdwatch_t *w = &l->fds[fd];
    conc_task_t *t = ev == CONC_READABLE   ? w->read_task
                     : ev == CONC_WRITABLE ? w->write_task
                                           : NULL;

    if (t && !w->read_fn && !w->write_fn) {
        if (w->events & CONC__POLL_ONESHOT)
            w->armed = false;
        conc__task_fd_ready(t, ev);
        return;
    }
    reported(l, fd);
    dispatch_one(l, fd, ev, CONC_READABLE);
    dispatch_one(l, fd, ev, CONC_WRITABLE);
}

static void grow_events(conc__loop_t *l)
{
    if (l->events_cap <= 0 || l->events_cap >= MAX_EVENTS)
        return;
    conc__poll_event_t *ev = realloc(l->events, (size_t)l->events_cap * 2 * sizeof *ev);
    if (ev) {
        l->events = ev;
        l->events_cap *= 2;
    }
}

CONC__HOT int conc__fd_poll(conc__loop_t *l, int64_t deadline)
{
    int n = l->poller_ops->wait(l->poller, deadline, l->events, l->events_cap);

    if (n < 0)
        return n;
    for (int i = 0; i < n; i++) {
        int fd = l->events[i].fd;
        unsigned ev = l->events[i].events;
        if (fd == l->wakefd.read_fd) {
            conc__os_wakefd_drain(&l->wakefd);
            atomic_store_explicit(&l->wake_pending, 0, memory_order_seq_cst);
            continue;
        }
        if (CONC_LIKELY(fd < l->nfds_cap))
            dispatch(l, fd, ev);
    }
    if (n == l->events_cap)
        grow_events(l);
    return n;
}

static void set_task(conc__fdwatch_t *w, unsigned events, conc_task_t *t)
{
    if (events & CONC_READABLE)
        w->read_task = t;
    if (events & CONC_WRITABLE)
        w->write_task = t;
}

/* Tell the poller that a task now waits on fd (its watcher is set). An
 * owned descriptor whose registration is exactly what is wanted needs no
 * call: the common case of a conc_io_t waited on again and again. */
static inline __attribute__((always_inline)) int watch_start(conc__loop_t *l, int fd)
{
    conc__fdwatch_t *w = &l->fds[fd];

    if (w->owned && w->armed && w->events == wanted_events(w)) {
        set_counted(l, w, true);
        return 0;
    }
    return sync_events(l, fd);
}

/* The task's watcher was cleared: an owned descriptor that nobody else
 * watches keeps its registration as it is (sync_events() would too). */
static inline __attribute__((always_inline)) void watch_stop(conc__loop_t *l, int fd)
{
    conc__fdwatch_t *w = &l->fds[fd];

    if (w->owned && !wanted_events(w)) {
        set_counted(l, w, false);
        return;
    }
    sync_events(l, fd);
}

/* Wait in task t (running, on its own coroutine) for events on fd, whose
 * slot exists. */
static inline __attribute__((always_inline)) int wait_slot(conc_task_t *t, conc__loop_t *l, int fd,
                                                           unsigned events, int64_t deadline,
                                                           bool cancellable)
{
    conc__fdwatch_t *w = &l->fds[fd];
    int rc;

    if (direction_taken(w, events))
        return CONC_EBUSY;
    set_task(w, events, t);
    rc = watch_start(l, fd);
    if (rc != 0) {
        set_task(&l->fds[fd], events, NULL);
        return rc;
    }
    t->fd_ready = 0;
    t->wait_fd = fd;
    t->wait_what = events == CONC_READABLE   ? "fd readable"
                   : events == CONC_WRITABLE ? "fd writable"
                                             : "fd readable or writable";
    for (;;) {
        rc = conc__task_block_here(t, deadline, cancellable, true);
        if (rc != 0)
            break;
        if (t->fd_ready & events) {
            rc = (int)(t->fd_ready & events);
            break;
        }
    }
    set_task(&l->fds[fd], events, NULL);
    watch_stop(l, fd);
    t->wait_what = NULL;
    return rc;
}

CONC__HOT int conc__task_wait_fd(void *ctx, int fd, unsigned events, int64_t deadline,
                                 bool cancellable)
{
    conc_task_t *t = ctx;
    conc__loop_t *l = t->loop;

    if (conc_coro_current() != &t->coro)
        return CONC_EPERM; /* inside a coroutine of the task's own */
    int rc;
    if (!slot_for(l, fd, &rc))
        return rc;
    return wait_slot(t, l, fd, events, deadline, cancellable);
}

CONC__HOT int conc__fd_wait_owned(conc__loop_t *l, int fd, unsigned events, int64_t deadline)
{
    conc_task_t *t = conc__task_running();

    /* Elsewhere than in a task of l on its own coroutine, or for a handle
     * the loop does not own (any more): the general way. */
    if (CONC_UNLIKELY(!t || t->loop != l || fd >= l->nfds_cap || !l->fds[fd].owned ||
                      conc_coro_current() != &t->coro))
        return conc_wait_fd(fd, events, conc_timeout_left(deadline));
    if (events == 0 || (events & ~(CONC_READABLE | CONC_WRITABLE)))
        return CONC_EINVAL;
    return wait_slot(t, l, fd, events, deadline, true);
}
