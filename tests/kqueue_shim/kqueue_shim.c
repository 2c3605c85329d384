/*
 * kqueue() and kevent() over epoll, for tests only: enough of their BSD
 * behaviour (kqueue(2) of FreeBSD) to compile and run src/loop/poll_kqueue.c
 * on Linux, where the real thing does not exist.
 *
 * What it keeps from kqueue:
 *  - a filter is one (descriptor, EVFILT_READ or EVFILT_WRITE) pair; EV_ADD
 *    adds or re-adds it, EV_DELETE of a filter that is not there is ENOENT,
 *    a descriptor that is not open is EBADF, any other filter EINVAL;
 *  - with no room for results, changes apply in order and the first that
 *    fails makes kevent() return -1 with its errno (with room, it becomes an
 *    EV_ERROR event, and the rest still apply);
 *  - closing a descriptor removes its filters: a change to a number whose
 *    registration the kernel dropped starts from nothing;
 *  - a wait reports each firing filter as its own event, a hang-up or error
 *    as EV_EOF on every filter of the descriptor, the peer's shutdown of
 *    its writing side as EV_EOF on EVFILT_READ only; a NULL timeout waits
 *    forever, and a wait is never shorter than its timeout.
 * What it does not: regular files (epoll refuses them: EINVAL here, where a
 * BSD would watch them), dup()ed descriptors (epoll follows the open file,
 * kqueue the number), other filters and flags.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "sys/event.h"

enum { READ_BIT = 1, WRITE_BIT = 2, WAIT_MAX = 256 };

/* One kqueue: its epoll descriptor and, per descriptor number, which
 * filters it has (READ_BIT, WRITE_BIT). */
struct shim_kq {
    int epfd;
    unsigned char *filters;
    int cap;
    struct shim_kq *next;
};

static pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_kq *shim_all;

/* Under shim_lock. A closed kqueue's number may come back from a later
 * kqueue(): its record is then reused, emptied. */
static struct shim_kq *find_kq(int kq)
{
    for (struct shim_kq *k = shim_all; k; k = k->next)
        if (k->epfd == kq)
            return k;
    return NULL;
}

int kqueue(void)
{
    int ep = epoll_create1(0);

    if (ep < 0)
        return -1;
    pthread_mutex_lock(&shim_lock);
    struct shim_kq *k = find_kq(ep);
    if (k) {
        memset(k->filters, 0, (size_t)k->cap);
    } else if ((k = calloc(1, sizeof *k)) != NULL) {
        k->epfd = ep;
        k->next = shim_all;
        shim_all = k;
    }
    pthread_mutex_unlock(&shim_lock);
    if (!k) {
        close(ep);
        errno = ENOMEM;
        return -1;
    }
    return ep;
}

static int reserve(struct shim_kq *k, int fd)
{
    if (fd < k->cap)
        return 0;
    int cap = fd + 64;
    unsigned char *f = realloc(k->filters, (size_t)cap);
    if (!f)
        return ENOMEM;
    memset(f + k->cap, 0, (size_t)(cap - k->cap));
    k->filters = f;
    k->cap = cap;
    return 0;
}

static uint32_t epoll_events_of(unsigned bits)
{
    return (bits & READ_BIT ? EPOLLIN | EPOLLRDHUP : 0) | (bits & WRITE_BIT ? EPOLLOUT : 0);
}

/* Make the kernel watch exactly `bits` of fd, which the record says it
 * watched `old` of; 0 or an errno. */
static int set_bits(struct shim_kq *k, int fd, unsigned old, unsigned bits)
{
    struct epoll_event e = { .events = epoll_events_of(bits), .data.fd = fd };
    int op = bits == 0 ? EPOLL_CTL_DEL : old == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;

    if (epoll_ctl(k->epfd, op, fd, &e) == 0)
        return 0;
    if (op == EPOLL_CTL_ADD && errno == EEXIST) /* a stale registration of this number */
        return epoll_ctl(k->epfd, EPOLL_CTL_MOD, fd, &e) == 0 ? 0 : errno;
    return errno == EPERM ? EINVAL : errno;
}

/* One change; 0 or an errno. Under shim_lock. */
static int apply(struct shim_kq *k, const struct kevent *c)
{
    int fd = (int)c->ident;
    unsigned bit = c->filter == EVFILT_READ ? READ_BIT : c->filter == EVFILT_WRITE ? WRITE_BIT : 0;

    if (!bit || !(c->flags & (EV_ADD | EV_DELETE)))
        return EINVAL;
    if (fd < 0 || fcntl(fd, F_GETFD) < 0)
        return EBADF;
    if (reserve(k, fd) != 0)
        return ENOMEM;
    unsigned old = k->filters[fd];
    if ((c->flags & EV_DELETE) && !(old & bit))
        return ENOENT;
    unsigned bits = c->flags & EV_ADD ? old | bit : old & ~bit;
    int err = set_bits(k, fd, old, bits);
    if (err == ENOENT && old) {
        /* Closing fd dropped the kernel's registration, and kqueue's
         * filters with it: this number starts from nothing. */
        k->filters[fd] = 0;
        if (c->flags & EV_DELETE)
            return ENOENT;
        bits = bit;
        err = set_bits(k, fd, 0, bits);
    }
    if (err == 0)
        k->filters[fd] = (unsigned char)bits;
    return err;
}

static void put_event(struct kevent *out, int fd, short filter, unsigned short flags, intptr_t data)
{
    EV_SET(out, (uintptr_t)fd, filter, flags, 0, data, NULL);
}

/* Milliseconds for epoll_wait(), rounded up: never shorter. */
static int timeout_ms(const struct timespec *t)
{
    if (!t)
        return -1;
    long long ms = (long long)t->tv_sec * 1000 + (t->tv_nsec + 999999) / 1000000;
    return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
           int nevents, const struct timespec *timeout)
{
    int got = 0;

    pthread_mutex_lock(&shim_lock);
    struct shim_kq *k = find_kq(kq);
    for (int i = 0; k && i < nchanges; i++) {
        int err = apply(k, &changelist[i]);
        if (err == 0)
            continue;
        if (got >= nevents) {
            pthread_mutex_unlock(&shim_lock);
            errno = err;
            return -1;
        }
        put_event(&eventlist[got++], (int)changelist[i].ident, changelist[i].filter, EV_ERROR, err);
    }
    pthread_mutex_unlock(&shim_lock);
    if (!k) {
        errno = EBADF;
        return -1;
    }
    if (got > 0 || nevents <= 0)
        return got;

    struct epoll_event ev[WAIT_MAX];
    int n = epoll_wait(kq, ev, nevents < WAIT_MAX ? nevents : WAIT_MAX, timeout_ms(timeout));
    if (n < 0)
        return -1;
    pthread_mutex_lock(&shim_lock);
    for (int i = 0; i < n; i++) {
        int fd = ev[i].data.fd;
        unsigned bits = fd < k->cap ? k->filters[fd] : 0;
        /* The peer's shutdown of its writing side ends only our reading
         * side (EV_EOF on EVFILT_READ); a hang-up or an error, both. */
        bool hup = ev[i].events & (EPOLLHUP | EPOLLERR);
        bool eof_read = hup || (ev[i].events & EPOLLRDHUP);
        if ((bits & READ_BIT) && (ev[i].events & EPOLLIN || eof_read) && got < nevents)
            put_event(&eventlist[got++], fd, EVFILT_READ, eof_read ? EV_EOF : 0, 0);
        if ((bits & WRITE_BIT) && (ev[i].events & EPOLLOUT || hup) && got < nevents)
            put_event(&eventlist[got++], fd, EVFILT_WRITE, hup ? EV_EOF : 0, 0);
    }
    pthread_mutex_unlock(&shim_lock);
    return got;
}
