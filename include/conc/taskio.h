/**
 * @file conc/taskio.h
 * @brief Descriptors owned by an event loop: the fast way for tasks to wait
 *        on a socket or pipe they use again and again.
 *
 * conc_wait_fd() (conc/io.h) takes a bare descriptor, so the loop cannot know
 * whether it was closed and its number reused between two waits: it must
 * re-arm its registration with one system call per wait (docs/loop.md). A
 * conc_io_t tells the loop that the descriptor stays the same until
 * conc_io_close(): between waits the registration is kept, and a wait after
 * a read that found nothing costs no system call besides the poller's own.
 * That is how libuv's uv_poll_t and Go's netpoller avoid the cost, and why
 * they too require closing through them.
 *
 * Rules: open the handle in a task (or on the thread running the loop), use
 * it from tasks of that loop, and close it with conc_io_close() (or
 * conc_io_release()) instead of close(): closing the descriptor behind the
 * loop's back and reusing its number could make a later wait on the new
 * descriptor miss its events. Other threads may use the descriptor through
 * the handle too: their waits fall back to conc_wait_fd().
 */
#ifndef CONC_TASKIO_H
#define CONC_TASKIO_H

#include <stddef.h>
#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/io.h"
#include "conc/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A descriptor owned by a loop. Caller-allocated; fields are private. */
typedef struct conc_io {
    int fd_;
    int socket_; /* a socket: recv()/send(), not read()/write() */
    void *loop_;
} conc_io_t;

/**
 * @brief Take ownership of @p fd for the loop running on this thread, and
 *        make it non-blocking.
 * @retval 0 success.
 * @retval CONC_EINVAL @p io NULL, @p fd not an open descriptor, or the loop's
 *         own.
 * @retval CONC_EPERM no loop runs on this thread.
 * @retval CONC_EBUSY another conc_io_t of this loop owns @p fd.
 * @retval CONC_ENOMEM no memory for the loop's table.
 * Never blocks. Callable from tasks and callbacks of the loop. Asks the
 * kernel once whether @p fd is a socket: reads and writes then use recv()
 * and send(), a little cheaper than read() and write(), and nothing else
 * pays for a failed send() first.
 */
CONC_API int conc_io_open(conc_io_t *io, int fd);

/**
 * @brief Wait until the descriptor is readable and/or writable, as
 *        conc_wait_fd(); in a task of the owning loop, without re-arming
 *        the registration.
 * @return the ready events (> 0), or the codes of conc_wait_fd(), or
 *         CONC_EINVAL for a closed handle.
 */
CONC_API int conc_io_wait(conc_io_t *io, unsigned events, int64_t timeout_ns);

/**
 * @brief Read up to @p cap bytes; when nothing is there, wait (up to
 *        @p timeout_ns) and try again.
 * @param io an open handle.
 * @param buf where the bytes go; may be NULL when @p cap is 0.
 * @param cap the size of @p buf. 0 returns 0 at once with *got 0 and reads
 *        nothing (a queued datagram stays queued).
 * @param got receives the bytes read: 0 means end of file (when @p cap > 0).
 * @param timeout_ns relative timeout (conc/time.h) while nothing is there.
 * @retval 0 read (or end of file).
 * @retval CONC_EAGAIN nothing to read and @p timeout_ns is CONC_NOWAIT.
 * @retval CONC_ETIMEDOUT nothing arrived before the deadline.
 * @retval CONC_ECANCELED the waiting task was cancelled.
 * @retval CONC_EIO the read failed (reset connection, ...).
 * @retval CONC_EINVAL NULL @p io or @p got, @p buf NULL with @p cap > 0, or
 *         a closed handle.
 * Blocks only while nothing is there (a task: only the task).
 */
CONC_API int conc_io_read(conc_io_t *io, void *buf, size_t cap, size_t *got, int64_t timeout_ns);

/**
 * @brief Write all @p len bytes, waiting while the descriptor is full.
 * @param io an open handle.
 * @param buf the bytes; may be NULL when @p len is 0.
 * @param len their number.
 * @param timeout_ns relative timeout (conc/time.h) for the whole write.
 * @param done if not NULL, receives the bytes written (all of them on 0; on
 *        an error, what went out before it).
 * @retval 0 everything was written.
 * @retval CONC_ETIMEDOUT the descriptor stayed full until the deadline (with
 *         CONC_NOWAIT: it was full, at once).
 * @retval CONC_ECANCELED the waiting task was cancelled.
 * @retval CONC_ECLOSED the peer is gone (EPIPE, reset). A socket never
 *         raises SIGPIPE (the write is a send() with MSG_NOSIGNAL); a pipe
 *         whose reader is gone does, as write() does, unless the process
 *         ignores or blocks it.
 * @retval CONC_EIO another write error.
 * @retval CONC_EINVAL NULL @p io, @p buf NULL with @p len > 0, or a closed
 *         handle.
 */
CONC_API int conc_io_write(conc_io_t *io, const void *buf, size_t len, size_t *done,
                           int64_t timeout_ns);

/**
 * @brief Give the descriptor back: the loop forgets it; it stays open.
 * @return the descriptor (>= 0), CONC_EINVAL for NULL or a closed handle,
 *         CONC_EPERM from another thread while the owning loop runs.
 * Call it from the thread running the owning loop (or when that loop does not
 * run), with no task waiting on the handle, and before the loop is
 * destroyed.
 */
CONC_API int conc_io_release(conc_io_t *io);

/**
 * @brief conc_io_release(), then close() the descriptor.
 * @retval 0 closed. @retval CONC_EINVAL NULL or a closed handle.
 * @retval CONC_EPERM as for conc_io_release() (nothing is closed).
 */
CONC_API int conc_io_close(conc_io_t *io);

#ifdef __cplusplus
}
#endif

#endif /* CONC_TASKIO_H */
