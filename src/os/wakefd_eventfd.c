/*
 * The wake-up descriptor on Linux: one eventfd. Its 64-bit counter is the
 * signal, so any number of signals coalesce into one readable state, and it
 * costs one descriptor where a pipe costs two (and a 64 KiB kernel buffer).
 * Non-blocking, so that signal() can never block and drain() knows when to
 * stop; close-on-exec, so a child program never inherits it.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "os.h"

int conc__os_wakefd_open(conc__os_wakefd_t *w)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    if (fd < 0)
        return errno == ENOMEM ? CONC_ENOMEM : CONC_ELIMIT;
    w->read_fd = w->write_fd = fd;
    return 0;
}

/* Async-signal-safe: write() is, and errno is given back as it was found,
 * so an interrupted thread never sees it change. */
void conc__os_wakefd_signal(const conc__os_wakefd_t *w)
{
    const uint64_t one = 1;
    int saved = errno;
    ssize_t n;

    /* EAGAIN means the counter is at its maximum: readable anyway. */
    do
        n = write(w->write_fd, &one, sizeof one);
    while (n < 0 && errno == EINTR);
    errno = saved;
}

/*
 * One successful read returns the counter and resets it to zero, which
 * consumes every signal given so far; a second read would only find EAGAIN
 * (one more system call per wake-up for nothing). A signal given after the
 * read makes the descriptor readable again, as it must.
 */
void conc__os_wakefd_drain(const conc__os_wakefd_t *w)
{
    uint64_t count;
    ssize_t n;

    do
        n = read(w->read_fd, &count, sizeof count);
    while (n < 0 && errno == EINTR);
}

void conc__os_wakefd_close(conc__os_wakefd_t *w)
{
    if (w->read_fd >= 0)
        close(w->read_fd);
    w->read_fd = w->write_fd = -1;
}
