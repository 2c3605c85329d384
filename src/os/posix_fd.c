/* Waiting for a file descriptor on a POSIX thread: poll(2). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conc/io.h"
#include "os.h"

int conc__os_timeout_ms(int64_t deadline_ns)
{
    if (deadline_ns < 0)
        return -1;
    int64_t left = deadline_ns - conc_now_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static unsigned ready_events(short revents, unsigned wanted)
{
    unsigned ready = 0;

    if (revents & (POLLERR | POLLHUP))
        return wanted; /* let the caller's read or write see the condition */
    if (revents & POLLIN)
        ready |= CONC_READABLE;
    if (revents & POLLOUT)
        ready |= CONC_WRITABLE;
    return ready & wanted;
}

int conc__os_fd_wait(int fd, unsigned events, int64_t deadline_ns)
{
    struct pollfd p = { .fd = fd, .events = 0, .revents = 0 };

    if (events & CONC_READABLE)
        p.events |= POLLIN;
    if (events & CONC_WRITABLE)
        p.events |= POLLOUT;
    for (;;) {
        int timeout = conc__os_timeout_ms(deadline_ns);
        int n = poll(&p, 1, timeout);

        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return CONC_EINVAL;
        }
        if (n == 0) {
            if (timeout == 0 || conc_now_ns() >= deadline_ns)
                return CONC_ETIMEDOUT;
            continue; /* woke a little early: the clock decides */
        }
        if (p.revents & POLLNVAL)
            return CONC_EINVAL;
        unsigned ready = ready_events(p.revents, events);
        if (ready)
            return (int)ready;
    }
}

bool conc__os_fd_is_open(int fd)
{
    return fd >= 0 && fcntl(fd, F_GETFD) != -1;
}

int conc__os_fd_set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0)
        return CONC_EINVAL;
    if (flags & O_NONBLOCK)
        return 0;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 ? 0 : CONC_EINVAL;
}

static int io_error(int err)
{
    if (err == EAGAIN || err == EWOULDBLOCK)
        return CONC_EAGAIN;
    if (err == EPIPE || err == ECONNRESET)
        return CONC_ECLOSED;
    return err == EBADF ? CONC_EINVAL : CONC_EIO;
}

bool conc__os_fd_is_socket(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* recv() and send() on a socket: they skip the file layer that read() and
 * write() go through (about 40 ns a call on the development machine), and
 * send() takes MSG_NOSIGNAL. */
int conc__os_fd_read(int fd, void *buf, size_t cap, size_t *n, bool socket)
{
    for (;;) {
        ssize_t r = socket ? conc__os_sys_recv(fd, buf, cap) : conc__os_sys_read(fd, buf, cap);
        if (r >= 0) {
            *n = (size_t)r;
            return 0;
        }
        if (errno != EINTR)
            return io_error(errno);
    }
}

int conc__os_fd_write(int fd, const void *buf, size_t len, size_t *n, bool socket)
{
    for (;;) {
        ssize_t r = socket ? conc__os_sys_send(fd, buf, len) : conc__os_sys_write(fd, buf, len);
        if (r >= 0) {
            *n = (size_t)r;
            return 0;
        }
        if (errno != EINTR)
            return io_error(errno);
    }
}

int conc__os_fd_close(int fd)
{
    return close(fd) == 0 || errno == EINTR ? 0 : CONC_EINVAL;
}
