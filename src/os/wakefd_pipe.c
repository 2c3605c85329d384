/*
 * The wake-up descriptor where there is no eventfd: a pipe. A byte in it is
 * the signal; signals coalesce into "the pipe is not empty". Both ends are
 * non-blocking, so that signal() never blocks on a full pipe (a full pipe is
 * readable already, so dropping the byte loses nothing) and drain() knows
 * when to stop; both are close-on-exec, so a child program never inherits
 * them.
 *
 * pipe() + fcntl() rather than pipe2(): macOS has no pipe2(), and this file
 * has no #if. The cost is a short window in which a fork() + exec() by
 * another thread could carry the descriptors into the child program.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "os.h"

static int set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int conc__os_wakefd_open(conc__os_wakefd_t *w)
{
    int p[2];

    if (pipe(p) != 0)
        return errno == ENOMEM ? CONC_ENOMEM : CONC_ELIMIT;
    if (set_flags(p[0]) != 0 || set_flags(p[1]) != 0) {
        close(p[0]);
        close(p[1]);
        return CONC_ELIMIT;
    }
    w->read_fd = p[0];
    w->write_fd = p[1];
    return 0;
}

/* Async-signal-safe: write() is, and errno is given back as it was found,
 * so an interrupted thread never sees it change. */
void conc__os_wakefd_signal(const conc__os_wakefd_t *w)
{
    const char b = 1;
    int saved = errno;
    ssize_t n;

    /* EAGAIN: the pipe is full, hence readable; the byte is not needed. */
    do
        n = write(w->write_fd, &b, 1);
    while (n < 0 && errno == EINTR);
    errno = saved;
}

/* Read until the pipe is empty. A short read means it was empty at that
 * moment, which saves the system call that would only find EAGAIN; a byte
 * written after it makes the pipe readable again, as it must. */
void conc__os_wakefd_drain(const conc__os_wakefd_t *w)
{
    char buf[512];
    ssize_t n;

    do
        n = read(w->read_fd, buf, sizeof buf);
    while (n == (ssize_t)sizeof buf || (n < 0 && errno == EINTR));
}

void conc__os_wakefd_close(conc__os_wakefd_t *w)
{
    if (w->read_fd >= 0)
        close(w->read_fd);
    if (w->write_fd >= 0 && w->write_fd != w->read_fd)
        close(w->write_fd);
    w->read_fd = w->write_fd = -1;
}
