/*
 * A stand-in for the BSD <sys/event.h>, for tests only: just what
 * src/loop/poll_kqueue.c uses, so that the kqueue backend is compiled and
 * run on Linux over kqueue_shim.c. Constants follow FreeBSD's values; the
 * backend uses the names only. Not installed, not part of libconc.
 */
#ifndef CONC_TEST_KQUEUE_SHIM_SYS_EVENT_H
#define CONC_TEST_KQUEUE_SHIM_SYS_EVENT_H

#include <stdint.h>
#include <time.h>

struct kevent {
    uintptr_t ident;      /* the descriptor */
    short filter;         /* EVFILT_READ or EVFILT_WRITE */
    unsigned short flags; /* EV_* */
    unsigned int fflags;
    intptr_t data;
    void *udata;
};

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)

#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

#define EV_SET(kevp, a, b, c, d, e, f)         \
    do {                                       \
        struct kevent *kev_set_ = (kevp);      \
        kev_set_->ident = (a);                 \
        kev_set_->filter = (short)(b);         \
        kev_set_->flags = (unsigned short)(c); \
        kev_set_->fflags = (d);                \
        kev_set_->data = (e);                  \
        kev_set_->udata = (f);                 \
    } while (0)

int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
           int nevents, const struct timespec *timeout);

#endif /* CONC_TEST_KQUEUE_SHIM_SYS_EVENT_H */
