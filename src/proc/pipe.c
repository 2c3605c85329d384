/*
 * Framed messages over a stream socket pair: a 4-byte little-endian length,
 * then the bytes. Descriptors are non-blocking; every wait goes through the
 * current context (conc_wait_fd()), so a task waits on its loop.
 *
 * A message is never torn: the timeout and cancellation apply only until
 * its first byte moves. After that, send and recv finish it, since the peer
 * (a libconc endpoint) finishes any message it has started. A header that
 * arrives in pieces is kept in the endpoint across calls, which is what lets
 * recv return CONC_EAGAIN or CONC_ETIMEDOUT in the middle of one, and leave
 * a message that does not fit in the pipe. Bytes after the header are never
 * read ahead, so the descriptor's readiness stays the endpoint's.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conc/io.h"
#include "conc/pipe.h"
#include "core/internal.h"
#include "core/waitq.h"

enum { PIPE_SEND = 1u, PIPE_RECV = 2u, PIPE_BROKEN = 4u };
#define HDR_SIZE 4u

static int set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void end_init(conc_pipe_t *end, int fd, unsigned flags)
{
    memset(end, 0, sizeof *end);
    end->fd_ = fd;
    end->flags_ = flags;
}

int conc_pipe_open(conc_pipe_t *a, conc_pipe_t *b, bool duplex)
{
    int sv[2];

    if (!a || !b || a == b)
        return CONC_EINVAL;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return errno == ENOMEM || errno == ENOBUFS ? CONC_ENOMEM : CONC_ELIMIT;
    if (set_flags(sv[0]) != 0 || set_flags(sv[1]) != 0 ||
        (!duplex && (shutdown(sv[0], SHUT_WR) != 0 || shutdown(sv[1], SHUT_RD) != 0))) {
        close(sv[0]);
        close(sv[1]);
        return CONC_ELIMIT;
    }
    end_init(a, sv[0], duplex ? PIPE_SEND | PIPE_RECV : PIPE_RECV);
    end_init(b, sv[1], duplex ? PIPE_SEND | PIPE_RECV : PIPE_SEND);
    return 0;
}

static bool can(const conc_pipe_t *end, unsigned dir)
{
    return end && end->fd_ >= 0 && (end->flags_ & dir);
}

/* Wait inside a message: no deadline and no cancellation, since stopping
 * now would tear the stream. */
static int wait_in_message(int fd, unsigned events)
{
    conc__context_t c = conc__context_current();

    return c.ops->wait_fd(c.ctx, fd, events, CONC_FOREVER, false);
}

/* Wait before a message starts: the caller's deadline applies. */
static int wait_for_start(int fd, unsigned events, int64_t timeout_ns, int64_t deadline)
{
    if (timeout_ns == CONC_NOWAIT)
        return CONC_EAGAIN;
    int r = conc_wait_fd(fd, events, conc_timeout_left(deadline));
    return r < 0 ? r : 0;
}

static int broken(conc_pipe_t *end, int rc)
{
    end->flags_ |= PIPE_BROKEN;
    return rc;
}

/* Write what is left of header + body past the first `done` bytes. */
static ssize_t write_from(int fd, const unsigned char *hdr, const void *buf, size_t len,
                          size_t done)
{
    struct iovec iov[2];
    struct msghdr msg;
    int n = 0;

    memset(&msg, 0, sizeof msg);
    if (done < HDR_SIZE) {
        iov[n].iov_base = conc__unconst(hdr + done);
        iov[n++].iov_len = HDR_SIZE - done;
        done = HDR_SIZE;
    }
    if (len) {
        iov[n].iov_base = conc__unconst((const unsigned char *)buf + (done - HDR_SIZE));
        iov[n++].iov_len = len - (done - HDR_SIZE);
    }
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    return sendmsg(fd, &msg, MSG_NOSIGNAL);
}

int conc_pipe_send(conc_pipe_t *end, const void *buf, size_t len, int64_t timeout_ns)
{
    if (!can(end, PIPE_SEND) || (!buf && len))
        return CONC_EINVAL;
    if (end->flags_ & PIPE_BROKEN)
        return CONC_EIO;
    if (len > CONC_PIPE_MSG_MAX)
        return CONC_EOVERFLOW;
    int64_t deadline = conc__deadline(timeout_ns);
    unsigned char hdr[HDR_SIZE] = { (unsigned char)len, (unsigned char)(len >> 8),
                                    (unsigned char)(len >> 16), (unsigned char)(len >> 24) };
    size_t total = HDR_SIZE + len, done = 0;

    while (done < total) {
        ssize_t n = write_from(end->fd_, hdr, buf, len, done);
        int r;

        if (n >= 0) {
            done += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EPIPE || errno == ECONNRESET)
            return done ? broken(end, CONC_ECLOSED) : CONC_ECLOSED;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return broken(end, CONC_EIO);
        if (done == 0)
            r = wait_for_start(end->fd_, CONC_WRITABLE, timeout_ns, deadline);
        else
            r = wait_in_message(end->fd_, CONC_WRITABLE);
        if (r < 0)
            return done ? broken(end, r) : r;
    }
    return 0;
}

/* Read the header, or what is left of it. 0 when complete. */
static int recv_header(conc_pipe_t *end, int64_t timeout_ns, int64_t deadline)
{
    while (end->rx_have_ < HDR_SIZE) {
        ssize_t n = read(end->fd_, end->rx_hdr_ + end->rx_have_, HDR_SIZE - end->rx_have_);
        int r;

        if (n > 0) {
            end->rx_have_ += (unsigned)n;
            continue;
        }
        if (n == 0)
            return end->rx_have_ ? broken(end, CONC_EIO) : CONC_ECLOSED;
        if (errno == EINTR)
            continue;
        if (errno == ECONNRESET)
            return end->rx_have_ ? broken(end, CONC_EIO) : CONC_ECLOSED;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return broken(end, CONC_EIO);
        r = wait_for_start(end->fd_, CONC_READABLE, timeout_ns, deadline);
        if (r < 0)
            return r;
    }
    const unsigned char *h = end->rx_hdr_;
    end->rx_len_ =
        (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
    return end->rx_len_ > CONC_PIPE_MSG_MAX ? broken(end, CONC_EIO) : 0;
}

static int recv_body(conc_pipe_t *end, unsigned char *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = read(end->fd_, buf + done, len - done);
        int r;

        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return broken(end, CONC_EIO);
        r = wait_in_message(end->fd_, CONC_READABLE);
        if (r < 0)
            return broken(end, r);
    }
    return 0;
}

int conc_pipe_recv(conc_pipe_t *end, void *buf, size_t cap, size_t *len, int64_t timeout_ns)
{
    if (!can(end, PIPE_RECV) || !len || (!buf && cap))
        return CONC_EINVAL;
    if (end->flags_ & PIPE_BROKEN)
        return CONC_EIO;
    int64_t deadline = conc__deadline(timeout_ns);
    int rc = recv_header(end, timeout_ns, deadline);
    if (rc != 0)
        return rc;
    *len = end->rx_len_;
    if (end->rx_len_ > cap)
        return CONC_EOVERFLOW;
    rc = recv_body(end, buf, end->rx_len_);
    end->rx_have_ = 0;
    return rc;
}

int conc_pipe_fd(const conc_pipe_t *end)
{
    return can(end, PIPE_SEND | PIPE_RECV) ? end->fd_ : CONC_EINVAL;
}

int conc_pipe_close(conc_pipe_t *end)
{
    if (!end)
        return CONC_EINVAL;
    if (can(end, PIPE_SEND | PIPE_RECV))
        close(end->fd_);
    end_init(end, -1, 0);
    return 0;
}
