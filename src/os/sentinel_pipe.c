/*
 * The end-of-child sentinel as a pipe (see sentinel.h): the parent keeps the
 * read end, the child inherits the write end, and end of file on the read
 * end says every copy of the write end is closed.
 *
 * Both ends are close-on-exec, so programs started by other threads do not
 * inherit them (pipe() + fcntl() leaves a short window, as in
 * wakefd_pipe.c). A program started by posix_spawn() keeps the write end
 * through a file action that duplicates it onto itself, which clears the
 * flag (POSIX 2024; where the C library still closes it, end of file comes
 * at exec and the waiter falls back to polling the child).
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "sentinel.h"

static int set_cloexec_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int conc__os_pipe_sentinel_prepare(conc__os_sentinel_t *s)
{
    int p[2];

    s->fd = s->child_fd = -1;
    s->exact = false;
    if (pipe(p) != 0)
        return errno == ENOMEM ? CONC_ENOMEM : CONC_ELIMIT;
    if (set_cloexec_nonblock(p[0]) != 0 || set_cloexec_nonblock(p[1]) != 0) {
        close(p[0]);
        close(p[1]);
        return CONC_ELIMIT;
    }
    s->fd = p[0];
    s->child_fd = p[1];
    return 0;
}

void conc__os_pipe_sentinel_in_child(conc__os_sentinel_t *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

int conc__os_pipe_sentinel_attach(conc__os_sentinel_t *s, pid_t pid)
{
    (void)pid;
    if (s->child_fd >= 0)
        close(s->child_fd);
    s->child_fd = -1;
    return 0;
}

void conc__os_pipe_sentinel_close(conc__os_sentinel_t *s)
{
    if (s->fd >= 0)
        close(s->fd);
    if (s->child_fd >= 0)
        close(s->child_fd);
    s->fd = s->child_fd = -1;
}
