/*
 * Descriptors owned by a loop (conc/taskio.h). The loop's descriptor table
 * marks an owned descriptor; a task's wait on it then keeps a plain
 * level-triggered registration between waits instead of a one-shot one
 * re-armed at every wait (loop_fd.c). Reads and writes go through the OS
 * layer; waits in a task of the owning loop go straight to the loop's table
 * (conc__fd_wait_owned()), others through conc_wait_fd(), so other threads
 * can use the handle too.
 */
#include "conc/taskio.h"
#include "core/internal.h"
#include "loop_internal.h"

/* A read or write takes its deadline at its first wait, not on entry: when
 * the data (or the room) is there, which is the common case, it reads no
 * clock. */
#define NOT_TAKEN INT64_MIN

static bool open_handle(const conc_io_t *io)
{
    return io && io->fd_ >= 0 && io->loop_;
}

int conc_io_open(conc_io_t *io, int fd)
{
    if (!io || fd < 0)
        return CONC_EINVAL;
    conc__loop_t *l = conc__loop_running_here();
    if (!l)
        return CONC_EPERM;
    int rc = conc__os_fd_set_nonblock(fd);
    if (rc == 0)
        rc = conc__fd_own(l, fd);
    if (rc != 0)
        return rc;
    io->fd_ = fd;
    io->socket_ = conc__os_fd_is_socket(fd);
    io->loop_ = l;
    return 0;
}

CONC__HOT int conc_io_wait(conc_io_t *io, unsigned events, int64_t timeout_ns)
{
    if (!open_handle(io))
        return CONC_EINVAL;
    return conc__fd_wait_owned(io->loop_, io->fd_, events, conc__deadline(timeout_ns));
}

CONC__HOT int conc_io_read(conc_io_t *io, void *buf, size_t cap, size_t *got, int64_t timeout_ns)
{
    if (!open_handle(io) || !got || (!buf && cap))
        return CONC_EINVAL;
    if (cap == 0) { /* as read() does; a recv() of 0 bytes would drop a datagram */
        *got = 0;
        return 0;
    }
    int64_t deadline = NOT_TAKEN;
    for (;;) {
        int rc = conc__os_fd_read(io->fd_, buf, cap, got, io->socket_);
        if (rc == CONC_ECLOSED) { /* a reset: for a reader, the end of the stream */
            *got = 0;
            return 0;
        }
        if (rc != CONC_EAGAIN)
            return rc;
        if (timeout_ns == CONC_NOWAIT)
            return CONC_EAGAIN;
        if (deadline == NOT_TAKEN)
            deadline = conc__deadline(timeout_ns);
        rc = conc__fd_wait_owned(io->loop_, io->fd_, CONC_READABLE, deadline);
        if (rc < 0)
            return rc;
    }
}

CONC__HOT int conc_io_write(conc_io_t *io, const void *buf, size_t len, size_t *done,
                            int64_t timeout_ns)
{
    size_t off = 0;
    int rc = 0;

    if (!open_handle(io) || (!buf && len))
        return CONC_EINVAL;
    int64_t deadline = NOT_TAKEN;
    while (off < len) {
        size_t n;
        rc = conc__os_fd_write(io->fd_, (const unsigned char *)buf + off, len - off, &n,
                               io->socket_);
        if (rc == 0) {
            off += n;
            continue;
        }
        if (rc != CONC_EAGAIN)
            break;
        if (deadline == NOT_TAKEN)
            deadline = conc__deadline(timeout_ns);
        rc = conc__fd_wait_owned(io->loop_, io->fd_, CONC_WRITABLE, deadline);
        if (rc < 0)
            break;
        rc = 0;
    }
    if (done)
        *done = off;
    return rc;
}

int conc_io_release(conc_io_t *io)
{
    if (!open_handle(io))
        return CONC_EINVAL;
    if (!conc__loop_owned_here(io->loop_))
        return CONC_EPERM;
    int fd = io->fd_;
    conc__fd_disown(io->loop_, fd);
    io->fd_ = -1;
    io->loop_ = NULL;
    return fd;
}

int conc_io_close(conc_io_t *io)
{
    int fd = conc_io_release(io);

    return fd < 0 ? fd : conc__os_fd_close(fd);
}
