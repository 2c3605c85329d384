/*
 * The portable poll() backend: every POSIX system has it, and on Linux it can
 * be chosen (CONC_POLLER=poll) so that CI tests it too.
 *
 * The pollfd array is kept dense and in step with the loop's watchers: an
 * fd -> slot map makes every update O(1), and a removal moves the last slot
 * into the hole. A wait still costs O(watched descriptors) in the kernel,
 * which is why epoll and kqueue are preferred where they exist.
 *
 * Timeouts are whole milliseconds, rounded up so that a deadline is never
 * reported early. When a wait finds more ready descriptors than the caller
 * takes, the next wait resumes the scan where this one stopped, so a busy
 * descriptor at the front cannot starve the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "poller.h"

struct conc__poller {
    struct pollfd *fds; /* the watched descriptors, dense; a one-shot slot
                         * that fired holds -fd - 1, which poll() skips */
    bool *once;         /* per slot: CONC__POLL_ONESHOT */
    int n, cap;
    int *slot_of; /* fd -> 1 + its index in fds; 0 when not watched */
    int nslots;
    int next; /* where the next scan of fds starts */
};

static int poll_open(conc__poller_t **out)
{
    conc__poller_t *p = calloc(1, sizeof *p);

    if (!p)
        return CONC_ENOMEM;
    *out = p;
    return 0;
}

static void poll_close(conc__poller_t *p)
{
    if (!p)
        return;
    free(p->fds);
    free(p->once);
    free(p->slot_of);
    free(p);
}

static short to_poll(unsigned events)
{
    return (short)(((events & CONC_READABLE) ? POLLIN : 0) |
                   ((events & CONC_WRITABLE) ? POLLOUT : 0));
}

/* The descriptor of a slot, armed or not. */
static int fd_of(const struct pollfd *f)
{
    return f->fd >= 0 ? f->fd : -f->fd - 1;
}

static int slot_find(const conc__poller_t *p, int fd)
{
    return fd < p->nslots ? p->slot_of[fd] - 1 : -1;
}

static int grow_map(conc__poller_t *p, int fd)
{
    if (fd < p->nslots)
        return 0;
    int cap = p->nslots ? p->nslots : 64;
    while (cap <= fd) {
        if (cap > INT_MAX / 2)
            return CONC_ENOMEM;
        cap *= 2;
    }
    int *s = realloc(p->slot_of, (size_t)cap * sizeof *s);
    if (!s)
        return CONC_ENOMEM;
    memset(s + p->nslots, 0, (size_t)(cap - p->nslots) * sizeof *s);
    p->slot_of = s;
    p->nslots = cap;
    return 0;
}

static int grow_fds(conc__poller_t *p)
{
    if (p->n < p->cap)
        return 0;
    int cap = p->cap ? p->cap * 2 : 64;
    struct pollfd *f = realloc(p->fds, (size_t)cap * sizeof *f);
    if (!f)
        return CONC_ENOMEM;
    p->fds = f;
    bool *once = realloc(p->once, (size_t)cap * sizeof *once);
    if (!once)
        return CONC_ENOMEM; /* fds is just bigger than needed */
    p->once = once;
    p->cap = cap;
    return 0;
}

static int add(conc__poller_t *p, int fd, unsigned events)
{
    /* poll() would report a closed descriptor as POLLNVAL at every wait;
     * refuse it now, like epoll_ctl() does. */
    if (fcntl(fd, F_GETFD) < 0)
        return CONC_EINVAL;
    if (grow_map(p, fd) != 0 || grow_fds(p) != 0)
        return CONC_ENOMEM;
    p->fds[p->n] = (struct pollfd){ .fd = fd, .events = to_poll(events), .revents = 0 };
    p->once[p->n] = (events & CONC__POLL_ONESHOT) != 0;
    p->slot_of[fd] = ++p->n;
    return 0;
}

static void del(conc__poller_t *p, int fd, int slot)
{
    p->n--;
    p->fds[slot] = p->fds[p->n];
    p->once[slot] = p->once[p->n];
    p->slot_of[fd_of(&p->fds[slot])] = slot + 1;
    p->slot_of[fd] = 0;
}

static int poll_update(conc__poller_t *p, int fd, unsigned old_events, unsigned new_events)
{
    /* The map is the truth here, so old_events is not needed: a stale
     * caller cannot make the array and the map disagree. */
    (void)old_events;
    if (fd < 0)
        return CONC_EINVAL;
    int slot = slot_find(p, fd);
    if (!new_events) {
        if (slot >= 0)
            del(p, fd, slot);
        return 0;
    }
    if (slot < 0)
        return add(p, fd, new_events);
    p->fds[slot].fd = fd; /* re-arms a one-shot slot that fired */
    p->fds[slot].events = to_poll(new_events);
    p->once[slot] = (new_events & CONC__POLL_ONESHOT) != 0;
    return 0;
}

static unsigned ready_of(const struct pollfd *f)
{
    unsigned watched =
        ((f->events & POLLIN) ? CONC_READABLE : 0u) | ((f->events & POLLOUT) ? CONC_WRITABLE : 0u);

    /* An error, a hang-up or a descriptor closed behind the loop's back:
     * the reader's or writer's next call sees it. */
    if (f->revents & (POLLERR | POLLHUP | POLLNVAL))
        return watched;
    return (((f->revents & POLLIN) ? CONC_READABLE : 0u) |
            ((f->revents & POLLOUT) ? CONC_WRITABLE : 0u)) &
           watched;
}

/* Collect up to max of the nready descriptors poll() marked, starting
 * where the previous wait stopped. */
static int collect(conc__poller_t *p, int nready, conc__poll_event_t *out, int max)
{
    int got = 0;
    int i = p->next < p->n ? p->next : 0;

    for (int k = 0; k < p->n && nready > 0 && got < max; k++, i = i + 1 < p->n ? i + 1 : 0) {
        const struct pollfd *f = &p->fds[i];
        if (!f->revents)
            continue;
        nready--;
        unsigned ready = ready_of(f);
        if (!ready)
            continue;
        out[got].fd = f->fd;
        out[got].events = ready;
        got++;
        if (p->once[i])
            p->fds[i].fd = -f->fd - 1;
        p->next = i + 1;
    }
    return got;
}

static int poll_wait(conc__poller_t *p, int64_t deadline, conc__poll_event_t *out, int max)
{
    if (!out || max <= 0)
        return CONC_EINVAL;
    int n = poll(p->fds, (nfds_t)p->n, conc__os_timeout_ms(deadline));
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return 0;
        return errno == ENOMEM ? CONC_ENOMEM : CONC_EINVAL;
    }
    return n ? collect(p, n, out, max) : 0;
}

const conc__poller_ops_t conc__poller_poll = {
    "poll", CONC_POLLER_POLL, poll_open, poll_close, poll_update, poll_wait,
};
