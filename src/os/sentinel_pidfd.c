/*
 * The end-of-child sentinel on Linux: a pidfd (pidfd_open(2), Linux 5.3),
 * readable exactly when the child has ended. Opening it after fork() or
 * posix_spawn() is safe: the child stays a zombie until libconc reaps it, so
 * its pid cannot be reused meanwhile.
 *
 * Kernels without pidfd_open() (or a seccomp filter refusing it) get the
 * pipe sentinel instead; which one works is probed once.
 */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sentinel.h"

#ifndef SYS_pidfd_open
#    define SYS_pidfd_open 434 /* the same number on every architecture */
#endif

_Atomic bool conc__os_sentinel_force_pipe;

static int pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Whether pidfd_open() works here: asked once, on the first start. */
static bool pidfd_works(void)
{
    static _Atomic int works; /* 1 yes, -1 no, 0 not known yet */
    int w = atomic_load_explicit(&works, memory_order_relaxed);

    if (w == 0) {
        int fd = pidfd_open(getpid());
        if (fd >= 0) {
            close(fd);
            w = 1;
        } else {
            /* Out of descriptors says nothing about support: ask again. */
            if (errno == EMFILE || errno == ENFILE)
                return false;
            w = -1;
        }
        atomic_store_explicit(&works, w, memory_order_relaxed);
    }
    return w > 0;
}

int conc__os_sentinel_prepare(conc__os_sentinel_t *s)
{
    if (atomic_load_explicit(&conc__os_sentinel_force_pipe, memory_order_relaxed) || !pidfd_works())
        return conc__os_pipe_sentinel_prepare(s);
    s->fd = s->child_fd = -1;
    s->exact = true;
    return 0;
}

void conc__os_sentinel_in_child(conc__os_sentinel_t *s)
{
    if (!s->exact)
        conc__os_pipe_sentinel_in_child(s);
}

int conc__os_sentinel_attach(conc__os_sentinel_t *s, pid_t pid)
{
    if (!s->exact)
        return conc__os_pipe_sentinel_attach(s, pid);
    s->fd = pidfd_open(pid); /* close-on-exec by default */
    if (s->fd < 0)
        return errno == ENOMEM ? CONC_ENOMEM : CONC_ELIMIT;
    return 0;
}

void conc__os_sentinel_close(conc__os_sentinel_t *s)
{
    conc__os_pipe_sentinel_close(s);
}
