/**
 * @file conc/shmqueue.h
 * @brief A bounded FIFO queue shared between processes, that survives the
 *        death of any of them (Python's `multiprocessing.Queue`).
 *
 * Items are fixed-size byte blocks copied by value into shared memory: an
 * anonymous shared mapping inherited by the children this process forks
 * afterwards (conc_shmqueue_init()), or a named POSIX shared memory object
 * that unrelated processes open by name (conc_shmqueue_create(),
 * conc_shmqueue_open()). Put, get, timeouts and shutdown behave as for
 * conc_queue_t (conc/queue.h).
 *
 * Crash safety: the queue's lock is a robust process-shared mutex. A
 * process may die at any point, even holding it; the next process to take
 * the lock recovers it, and the queue is consistent at every instant
 * (an item counts as put only once the tail moves past it, in one store).
 * So a put that returned 0 is never lost, and an item is never delivered
 * twice. A put cut short by the death of its process may or may not have
 * enqueued its item; a get cut short loses the item it was taking (it was
 * the dying process's). Waiters look again at least every 100 ms, so a
 * process that died between publishing an item and waking the others
 * delays them by at most that.
 *
 * Blocking: on Linux a waiter sleeps on a futex in the shared memory; on
 * other POSIX systems it polls (50 us, then up to 1 ms between looks). In a
 * task (conc/task.h) a waiter polls through conc_sleep(), so it suspends
 * only itself, and cancellation returns CONC_ECANCELED. The queue's lock is
 * held only for a copy; if its holder is stopped (SIGSTOP, a debugger), a
 * CONC_NOWAIT put or get gives up after 10 ms with CONC_EAGAIN and a timed
 * one at its deadline with CONC_ETIMEDOUT.
 *
 * All functions are callable from threads and tasks; none from signal
 * handlers. The handle (conc_shmqueue_t) belongs to one process: children
 * forked after conc_shmqueue_init() or conc_shmqueue_open() inherit a
 * working copy.
 */
#ifndef CONC_SHMQUEUE_H
#define CONC_SHMQUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/** This process's view of a shared queue. Fields are private. */
typedef struct conc_shmqueue {
    void *shared_;    /* the mapping */
    size_t map_size_; /* its size */
    uint32_t magic_;  /* CONC__SHMQUEUE_MAGIC while usable */
} conc_shmqueue_t;

/** The longest name accepted by conc_shmqueue_create() (with its '/'). */
#define CONC_SHMQUEUE_NAME_MAX 200

/**
 * @brief Create a queue in an anonymous shared mapping, for this process
 *        and the children it forks afterwards.
 * @param q the handle to fill.
 * @param item_size bytes per item (> 0).
 * @param capacity the most items queued at once (> 0).
 * @retval 0 success.
 * @retval CONC_EINVAL @p q NULL, @p item_size or @p capacity 0.
 * @retval CONC_EOVERFLOW @p item_size times @p capacity does not fit.
 * @retval CONC_ENOMEM the mapping could not be made.
 * @retval CONC_ENOTSUP no robust process-shared lock on this platform.
 * Does not block.
 */
CONC_API int conc_shmqueue_init(conc_shmqueue_t *q, size_t item_size, size_t capacity);

/**
 * @brief Create a named queue (a POSIX shared memory object) that other
 *        processes open with conc_shmqueue_open().
 * @param q the handle to fill.
 * @param name "/" followed by up to CONC_SHMQUEUE_NAME_MAX - 1 characters,
 *        none of them '/'.
 * @param item_size bytes per item (> 0).
 * @param capacity the most items queued at once (> 0).
 * @retval 0 success; the name exists until conc_shmqueue_unlink().
 * @retval CONC_EEXIST the name exists already (nothing changed).
 * @retval CONC_EINVAL @p q or @p name NULL, a bad name, @p item_size or
 *         @p capacity 0.
 * @retval CONC_EOVERFLOW the queue's size does not fit.
 * @retval CONC_EPERM the system refused access.
 * @retval CONC_ENOMEM, CONC_ELIMIT out of memory or descriptors.
 * @retval CONC_ENOTSUP no robust process-shared lock on this platform.
 * Does not block.
 */
CONC_API int conc_shmqueue_create(conc_shmqueue_t *q, const char *name, size_t item_size,
                                  size_t capacity);

/**
 * @brief Open a named queue made by conc_shmqueue_create() in any process.
 * @retval 0 success.
 * @retval CONC_ENOENT no such name.
 * @retval CONC_EAGAIN the name exists but its creator has not finished
 *         setting it up (try again).
 * @retval CONC_EINVAL @p q or @p name NULL, a bad name, or a shared memory
 *         object that is not such a queue.
 * @retval CONC_EPERM, CONC_ENOMEM, CONC_ELIMIT as for conc_shmqueue_create().
 * Does not block.
 */
CONC_API int conc_shmqueue_open(conc_shmqueue_t *q, const char *name);

/**
 * @brief Remove a queue's name. Processes that have it open keep using it;
 *        the memory goes when the last of them closes it.
 * @retval 0 success. @retval CONC_ENOENT no such name.
 * @retval CONC_EINVAL NULL or a bad name. @retval CONC_EPERM refused.
 */
CONC_API int conc_shmqueue_unlink(const char *name);

/**
 * @brief Close this process's view of the queue (the queue lives on in the
 *        others). Must not be called while a thread or task of this process
 *        is blocked on @p q.
 * @retval 0 success; later calls on @p q return CONC_EINVAL.
 * @retval CONC_EINVAL @p q NULL, never opened or already closed.
 */
CONC_API int conc_shmqueue_close(conc_shmqueue_t *q);

/**
 * @brief Put a copy of @p item (item_size bytes), waiting up to
 *        @p timeout_ns while the queue is full.
 * @retval 0 the item is in the queue: no process's death can lose it now.
 * @retval CONC_EAGAIN full and @p timeout_ns is CONC_NOWAIT.
 * @retval CONC_ETIMEDOUT still full at the deadline (never earlier).
 * @retval CONC_ECLOSED the queue is shut down, before or while waiting.
 * @retval CONC_ECANCELED the waiting task was cancelled (tasks only).
 * @retval CONC_EINVAL @p q or @p item NULL, or @p q not open.
 * Blocks (see the file comment) unless @p timeout_ns is CONC_NOWAIT.
 */
CONC_API int conc_shmqueue_put(conc_shmqueue_t *q, const void *item, int64_t timeout_ns);

/**
 * @brief Take the oldest item into @p out (item_size bytes), waiting up to
 *        @p timeout_ns while the queue is empty.
 * @retval 0 an item was removed into @p out.
 * @retval CONC_EAGAIN empty and @p timeout_ns is CONC_NOWAIT.
 * @retval CONC_ETIMEDOUT still empty at the deadline (never earlier).
 * @retval CONC_ECLOSED shut down and empty.
 * @retval CONC_ECANCELED the waiting task was cancelled (tasks only).
 * @retval CONC_EINVAL @p q or @p out NULL, or @p q not open.
 * Blocks (see the file comment) unless @p timeout_ns is CONC_NOWAIT.
 */
CONC_API int conc_shmqueue_get(conc_shmqueue_t *q, void *out, int64_t timeout_ns);

/**
 * @brief Shut the queue down for every process: puts return CONC_ECLOSED
 *        from now on (blocked putters wake with it); gets return the items
 *        left, then CONC_ECLOSED. Calling it again is allowed.
 * @retval 0 success. @retval CONC_EINVAL @p q NULL or not open.
 * Does not block (beyond the queue's short internal lock).
 */
CONC_API int conc_shmqueue_shutdown(conc_shmqueue_t *q);

/** @brief Items in the queue now (a snapshot); 0 for NULL or a closed handle. */
CONC_API size_t conc_shmqueue_qsize(conc_shmqueue_t *q);

/** @brief The queue's capacity; 0 for NULL or a closed handle. */
CONC_API size_t conc_shmqueue_capacity(const conc_shmqueue_t *q);

/** @brief The queue's item size; 0 for NULL or a closed handle. */
CONC_API size_t conc_shmqueue_item_size(const conc_shmqueue_t *q);

/**
 * @brief How many times a process found the queue's lock held by a process
 *        that had died, and recovered it (for monitoring and tests).
 * @return the count since the queue was created; 0 for NULL or a closed handle.
 */
CONC_API uint64_t conc_shmqueue_recoveries(conc_shmqueue_t *q);

#ifdef __cplusplus
}
#endif

#endif /* CONC_SHMQUEUE_H */
