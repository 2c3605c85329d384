/**
 * @file conc/pipe.h
 * @brief Pipes between processes (or threads, or tasks) carrying framed
 *        messages: byte buffers that arrive whole, one send one receive.
 *        POSIX only.
 *
 * The C counterpart of Python's `multiprocessing.Pipe()` and its
 * `Connection.send_bytes()` / `recv_bytes()`; see docs/pipe.md.
 *
 * conc_pipe_open() gives two connected endpoints. Open the pipe before
 * conc_process_start(); then each process closes the endpoint it does not
 * use. An endpoint serves one sender and one receiver at a time: two
 * threads or tasks sending on the same endpoint at once must serialise
 * (a conc_mutex_t), or their messages could interleave.
 *
 * Blocking calls wait through conc_wait_fd(), so inside a task they suspend
 * only the task. The descriptor is non-blocking and close-on-exec.
 */
#ifndef CONC_PIPE_H
#define CONC_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The largest message, in bytes (1 GiB). The length header has 4 bytes. */
#define CONC_PIPE_MSG_MAX ((size_t)1 << 30)

/** One endpoint of a pipe. Caller-allocated; every field is private. */
typedef struct conc_pipe {
    int fd_;
    unsigned flags_;
    uint32_t rx_len_;
    unsigned rx_have_;
    unsigned char rx_hdr_[4];
} conc_pipe_t;

/** An endpoint that is not open (what close leaves behind). */
#define CONC_PIPE_INIT \
    {                  \
        -1, 0, 0, 0,   \
        {              \
            0          \
        }              \
    }

/**
 * @brief Create a pipe: two connected endpoints.
 *
 * A duplex pipe (a socket pair) carries messages both ways. A one-way pipe
 * (@p duplex false) carries them from @p b to @p a only, as Python's
 * `Pipe(duplex=False)` returns (receiver, sender).
 *
 * @param a, b receive the endpoints; left unchanged on error.
 * @param duplex both ways, or from @p b to @p a only.
 * @retval 0            open.
 * @retval CONC_EINVAL  @p a or @p b is NULL, or they are the same object.
 * @retval CONC_ELIMIT  out of descriptors.
 * @retval CONC_ENOMEM  no memory (in the kernel).
 *
 * Never blocks. Callable from threads and tasks.
 */
CONC_API int conc_pipe_open(conc_pipe_t *a, conc_pipe_t *b, bool duplex);

/**
 * @brief Send one message of @p len bytes.
 *
 * The message arrives whole or not at all: a message is never half-sent.
 * The timeout bounds the wait for the pipe to take the first byte; once the
 * message has started, send finishes it, waiting as long as the peer keeps
 * the pipe open (it is reading), and a task's cancellation waits for the end
 * of the message. Zero-length messages are allowed.
 *
 * @param end   an open endpoint that can send.
 * @param buf   the bytes; may be NULL when @p len is 0.
 * @param len   at most CONC_PIPE_MSG_MAX.
 * @param timeout_ns relative timeout (conc/time.h) for the start.
 * @retval 0               sent (the peer may not have read it yet).
 * @retval CONC_EOVERFLOW  @p len > CONC_PIPE_MSG_MAX; nothing sent.
 * @retval CONC_ETIMEDOUT  the pipe stayed full until the deadline (never
 *                         early); nothing sent.
 * @retval CONC_EAGAIN     @p timeout_ns is CONC_NOWAIT and the pipe is full.
 * @retval CONC_ECLOSED    the peer closed its endpoint (or ended); the
 *                         message may have been partly written into the void.
 * @retval CONC_ECANCELED  (in a task) cancelled before the message started.
 * @retval CONC_EBUSY      (in a task) the loop already watches the descriptor
 *                         for writing for someone else.
 * @retval CONC_EIO        the endpoint is broken (see conc_pipe_recv()), or
 *                         an unexpected error of the OS broke it now; every
 *                         later send and recv returns CONC_EIO too.
 * @retval CONC_EINVAL     @p end NULL, not open, or receive-only; @p buf NULL
 *                         with @p len > 0.
 *
 * Blocks the calling thread, or in a task only the task. Callable from
 * threads and tasks; not from signal handlers.
 */
CONC_API int conc_pipe_send(conc_pipe_t *end, const void *buf, size_t len, int64_t timeout_ns);

/**
 * @brief Receive one message into @p buf.
 *
 * The timeout bounds the wait for the message to start arriving; once its
 * header is in, recv reads the whole message (the sender finishes what it
 * started). A message longer than @p cap is not consumed: recv reports its
 * size in @p *len and leaves it in the pipe, so the caller can retry with a
 * larger buffer (pass @p cap 0 to learn the size of the next message).
 *
 * @param end   an open endpoint that can receive.
 * @param buf   where the message goes; may be NULL when @p cap is 0.
 * @param cap   the size of @p buf.
 * @param len   receives the message's length (also on CONC_EOVERFLOW).
 * @param timeout_ns relative timeout (conc/time.h) for the start.
 * @retval 0               received; *len bytes of @p buf hold it.
 * @retval CONC_EOVERFLOW  the next message has *len > @p cap bytes; it stays
 *                         in the pipe.
 * @retval CONC_ETIMEDOUT  no message started before the deadline (never
 *                         early). Bytes of a header that arrived are kept.
 * @retval CONC_EAGAIN     @p timeout_ns is CONC_NOWAIT and no whole header
 *                         is there.
 * @retval CONC_ECLOSED    the peer closed its endpoint and every message has
 *                         been received (end of file between messages).
 * @retval CONC_EIO        the stream broke: end of file inside a message, or
 *                         a header above CONC_PIPE_MSG_MAX (not a libconc
 *                         peer). Every later recv returns CONC_EIO too.
 * @retval CONC_ECANCELED  (in a task) cancelled before the message started.
 * @retval CONC_EBUSY      (in a task) the loop already watches the descriptor
 *                         for reading for someone else (a reader callback).
 * @retval CONC_EINVAL     @p end or @p len NULL, @p end not open or send-only,
 *                         @p buf NULL with @p cap > 0.
 *
 * Blocks the calling thread, or in a task only the task. Callable from
 * threads and tasks; not from signal handlers.
 */
CONC_API int conc_pipe_recv(conc_pipe_t *end, void *buf, size_t cap, size_t *len,
                            int64_t timeout_ns);

/**
 * @brief The endpoint's descriptor, to watch with conc_loop_add_reader() or
 *        conc_wait_fd() (readable: a message, end of file or an error is
 *        there). Do not read, write or close it directly.
 *
 * libconc never buffers received bytes beyond the current header, so
 * readiness of the descriptor is readiness of the endpoint.
 * @return the descriptor (>= 0).
 * @retval CONC_EINVAL @p end NULL or not open.
 *
 * Never blocks. Callable from any context.
 */
CONC_API int conc_pipe_fd(const conc_pipe_t *end);

/**
 * @brief Close an endpoint. The peer's recv then returns CONC_ECLOSED (after
 *        the messages already sent) and its send CONC_ECLOSED.
 *
 * The endpoint returns to CONC_PIPE_INIT.
 * @retval 0            closed; also for an endpoint that is not open (close
 *                      is idempotent, for cleanup paths).
 * @retval CONC_EINVAL  @p end is NULL.
 *
 * Never blocks. Must not race other calls on the same endpoint; remove loop
 * watchers of its descriptor first.
 */
CONC_API int conc_pipe_close(conc_pipe_t *end);

#ifdef __cplusplus
}
#endif

#endif /* CONC_PIPE_H */
