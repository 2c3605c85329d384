/**
 * @file conc/io.h
 * @brief Waiting for a file descriptor, from a thread or from a task.
 *
 * conc_wait_fd() is the one call that blocks on a file descriptor. On a
 * thread it sleeps in the OS (poll); inside a coroutine task it suspends only
 * the task while its loop watches the descriptor with its poller (epoll,
 * kqueue or poll), so the same code serves both.
 */
#ifndef CONC_IO_H
#define CONC_IO_H

#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The descriptor has data to read, or end of file, or an error. */
#define CONC_READABLE 1u
/** The descriptor can take more data, or has an error. */
#define CONC_WRITABLE 2u

/**
 * @brief Wait until @p fd is readable or writable.
 *
 * @param fd the descriptor; it stays open and owned by the caller.
 * @param events CONC_READABLE, CONC_WRITABLE or both.
 * @param timeout_ns relative timeout (conc/time.h); CONC_NOWAIT polls once.
 * @return the events that are ready (a positive mask, a subset of @p events).
 *         An error or hang-up on @p fd (peer closed) reports every requested
 *         event, so that the caller's next read() or write() returns it.
 * @retval CONC_EINVAL @p fd is negative or not open, or @p events has no
 *         known bit or an unknown one.
 * @retval CONC_ETIMEDOUT the deadline passed first (never early).
 * @retval CONC_ECANCELED (in a task) the task was cancelled while waiting.
 * @retval CONC_EBUSY (in a task) the task's loop already watches @p fd for
 *         the same event for someone else (conc_loop_add_reader(), or another
 *         task waiting on it): a descriptor has one watcher per direction.
 *
 * Blocks the calling thread, or inside a task only the task. Callable from
 * threads and tasks; not from signal handlers. The descriptor may be in
 * blocking or non-blocking mode; readiness is level-triggered, and another
 * reader may still empty it first, so read non-blocking after a wake.
 */
CONC_API int conc_wait_fd(int fd, unsigned events, int64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif /* CONC_IO_H */
