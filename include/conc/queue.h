/**
 * @file conc/queue.h
 * @brief Bounded queues of fixed-size items copied by value: FIFO, LIFO and
 *        priority order (Python's `queue.Queue`, `LifoQueue`, `PriorityQueue`;
 *        RTOS message queues).
 *
 * A queue holds up to `capacity` items of `item_size` bytes each, in storage
 * given by the caller (static memory, see CONC_QUEUE_STORAGE_SIZE()) or
 * allocated by libconc. Producers put items, consumers get them, with a
 * timeout (relative nanoseconds, conc/time.h) or as non-blocking tries.
 *
 * Items are never lost or duplicated: a put that fails or times out did not
 * enqueue its item, and a get that fails or times out did not remove one.
 * When a put or get has to sleep, whoever makes room or brings an item hands
 * it over under the queue's lock, so a woken waiter always returns with its
 * item (docs/queue.md explains why this matters for cancelled tasks).
 *
 * Like Python's queue, a queue also counts unfinished tasks
 * (conc_queue_task_done(), conc_queue_join()) and can be shut down
 * (conc_queue_shutdown(), Python 3.13 semantics).
 *
 * The FIFO queue is a lock-free bounded ring on its fast path (no lock, no
 * system call while neither full nor empty); LIFO and priority queues use a
 * short internal lock. All kinds sleep only in the queue's wait queues.
 * Before sleeping, a FIFO put or get retries the ring for a few
 * microseconds (at most 16, learned per queue); a task does so only when
 * nothing else of its loop is ready and another thread uses the queue, so
 * its loop's timers and descriptors wait at most that long (docs/queue.md,
 * "Speed").
 */
#ifndef CONC_QUEUE_H
#define CONC_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/time.h"
#include "conc/waitq_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The order in which items come out of a queue. */
typedef enum conc_queue_kind {
    CONC_QUEUE_FIFO = 0,     /**< first in, first out (`queue.Queue`) */
    CONC_QUEUE_LIFO = 1,     /**< last in, first out (`queue.LifoQueue`) */
    CONC_QUEUE_PRIORITY = 2, /**< smallest first by a comparator (`queue.PriorityQueue`) */
} conc_queue_kind_t;

/**
 * Order of a priority queue: negative when item @p a must come out before
 * item @p b, positive when after, 0 when they are equal in priority (equal
 * items come out in the order they were put). @p arg is the attribute's
 * `compare_arg`. Called with the queue's internal lock held: it must be quick
 * and must not call any function of the same queue.
 */
typedef int (*conc_queue_compare_fn)(const void *a, const void *b, void *arg);

/** Options of conc_queue_init(). Start from CONC_QUEUE_ATTR_INIT. */
typedef struct conc_queue_attr {
    conc_queue_kind_t kind;        /**< CONC_QUEUE_FIFO by default */
    conc_queue_compare_fn compare; /**< required for CONC_QUEUE_PRIORITY, else NULL */
    void *compare_arg;             /**< passed to compare */
    /** Caller storage of at least conc_queue_storage_size() bytes, aligned to
     *  CONC_QUEUE_STORAGE_ALIGN, or NULL to let libconc allocate it. It must
     *  stay valid, and untouched by the caller, until conc_queue_destroy(). */
    void *storage;
    size_t storage_size; /**< size of storage in bytes; 0 when storage is NULL */
} conc_queue_attr_t;

/* clang-format off */
/** Default attributes: a FIFO queue with allocated storage. */
#define CONC_QUEUE_ATTR_INIT { CONC_QUEUE_FIFO, NULL, NULL, NULL, 0 }
/* clang-format on */

/** Alignment, in bytes, required of caller storage (64, a cache line, is
 *  better for FIFO throughput). */
#define CONC_QUEUE_STORAGE_ALIGN 8

/** @private Bytes per item slot: LIFO stores bare items; FIFO and priority
 *  queues keep an 8-byte sequence number beside each item, rounded to 8. */
#define CONC_QUEUE_SLOT_SIZE_(item_size, kind)       \
    ((kind) == CONC_QUEUE_LIFO ? (size_t)(item_size) \
                               : (size_t)8 + (((size_t)(item_size) + 7) & ~(size_t)7))

/**
 * The caller storage needed by a queue, as a constant expression for static
 * arrays:
 * @code
 * static _Alignas(CONC_QUEUE_STORAGE_ALIGN) unsigned char
 *     msgs[CONC_QUEUE_STORAGE_SIZE(sizeof(struct msg), 16, CONC_QUEUE_FIFO)];
 * @endcode
 * It does not check for overflow; conc_queue_storage_size() does.
 */
#define CONC_QUEUE_STORAGE_SIZE(item_size, capacity, kind) \
    (CONC_QUEUE_SLOT_SIZE_(item_size, kind) * (size_t)(capacity))

/**
 * A bounded queue. Fields are private (libconc's); initialise with
 * conc_queue_init(). The groups of fields are padded apart so that the
 * producers' and the consumers' counters do not share a cache line.
 */
typedef struct conc_queue {
    /* Set by init, then read-only, plus the "somebody may sleep" hints. */
    unsigned char *buf_;
    size_t item_size_;
    size_t capacity_;
    size_t slot_size_;
    uint64_t mask_; /* capacity - 1 when a power of two, else 0 */
    conc_queue_compare_fn compare_;
    void *compare_arg_;
    unsigned char kind_;
    unsigned char ring_;            /* the lock-free ring serves this queue */
    unsigned char owns_buf_;        /* buf_ was allocated by init */
    CONC_ATOMIC_(uintptr_t) users_; /* the one thread using the ring, or "shared" */
    CONC_ATOMIC_(uint32_t) getters_waiting_;
    CONC_ATOMIC_(uint32_t) putters_waiting_;
    CONC_ATOMIC_(uint32_t) joiners_waiting_;
    char pad0_[64];
    /* The slow path: internal lock, the three wait queues, spin learning. */
    CONC_ATOMIC_(uint32_t) lock_;
    CONC_ATOMIC_(uint32_t) spin_; /* learned spin length before sleeping */
    conc__waitq_t getters_;
    conc__waitq_t putters_;
    conc__waitq_t joiners_;
    char pad1_[64];
    CONC_ATOMIC_(uint64_t) tail_; /* items ever put | closed bit */
    char pad2_[56];
    CONC_ATOMIC_(uint64_t) head_; /* items ever removed (got or discarded) | peek bit */
    char pad3_[56];
    CONC_ATOMIC_(uint64_t) done_; /* tasks marked done (task_done, discards) */
} conc_queue_t;

/**
 * @brief The storage a queue needs, in bytes, for caller-provided storage.
 * @param item_size bytes per item.
 * @param capacity most items the queue holds.
 * @param kind the queue's order.
 * @return the size (the same as CONC_QUEUE_STORAGE_SIZE()), or 0 when an
 *         argument is invalid (zero size or capacity, unknown kind) or the
 *         size would overflow.
 *
 * Never blocks. Callable from any context, including signal handlers.
 */
CONC_API size_t conc_queue_storage_size(size_t item_size, size_t capacity, conc_queue_kind_t kind);

/**
 * @brief Initialise @p q as an empty, open queue.
 * @param q the queue; must not be in use.
 * @param item_size bytes per item (> 0); items are copied by value.
 * @param capacity most items held at once (> 0).
 * @param attr options (order, comparator, storage), or NULL for a FIFO queue
 *        with allocated storage.
 * @retval 0 success.
 * @retval CONC_EINVAL @p q NULL, zero @p item_size or @p capacity, their
 *         storage size overflowing, an unknown kind, a priority queue without
 *         comparator or a comparator for another kind, caller storage too
 *         small or misaligned (CONC_QUEUE_STORAGE_ALIGN), or a storage size
 *         without storage. Nothing is allocated and @p q is not touched.
 * @retval CONC_ENOMEM allocation of the storage failed; @p q not touched.
 *
 * Never blocks. Callable from any thread or task.
 */
CONC_API int conc_queue_init(conc_queue_t *q, size_t item_size, size_t capacity,
                             const conc_queue_attr_t *attr);

/**
 * @brief Destroy @p q, freeing storage that libconc allocated. Items still in
 *        the queue are dropped. The queue may be initialised again afterwards.
 * @param q the queue.
 * @retval 0 success; later calls on @p q return CONC_EINVAL.
 * @retval CONC_EBUSY a thread or task is blocked in put, get or join on
 *         @p q; nothing changed.
 * @retval CONC_EINVAL @p q is NULL or not initialised.
 *
 * Never blocks. Callable from any thread or task; nobody may be using @p q
 * concurrently except blocked waiters (which make it return CONC_EBUSY).
 */
CONC_API int conc_queue_destroy(conc_queue_t *q);

/**
 * @brief Copy the item at @p item into the queue, waiting up to @p timeout_ns
 *        for room while the queue is full.
 * @param q the queue.
 * @param item item_size bytes to copy in.
 * @param timeout_ns CONC_NOWAIT, a relative timeout, or CONC_FOREVER.
 * @retval 0 the item is in the queue (or already in a getter's hands).
 * @retval CONC_EAGAIN full and @p timeout_ns is CONC_NOWAIT.
 * @retval CONC_ETIMEDOUT still full at the deadline (never earlier).
 * @retval CONC_ECLOSED the queue is shut down, before or while waiting.
 * @retval CONC_ECANCELED the waiting task was cancelled (tasks only).
 * @retval CONC_EINVAL @p q or @p item NULL, or @p q not initialised.
 * On every error the item was not enqueued.
 *
 * Blocks only while full and only when @p timeout_ns is not CONC_NOWAIT.
 * Callable from any thread or task; with CONC_NOWAIT also from timer
 * callbacks. Not from signal handlers.
 */
CONC_API int conc_queue_put(conc_queue_t *q, const void *item, int64_t timeout_ns);

/**
 * @brief conc_queue_put() with CONC_NOWAIT: CONC_EAGAIN when full.
 *
 * Never blocks. Same return codes and contexts as conc_queue_put().
 */
CONC_API int conc_queue_try_put(conc_queue_t *q, const void *item);

/**
 * @brief Remove the next item (in the queue's order) into @p out, waiting up
 *        to @p timeout_ns for one while the queue is empty.
 * @param q the queue.
 * @param out item_size bytes receiving the item.
 * @param timeout_ns CONC_NOWAIT, a relative timeout, or CONC_FOREVER.
 * @retval 0 an item was removed into @p out.
 * @retval CONC_EAGAIN empty and @p timeout_ns is CONC_NOWAIT.
 * @retval CONC_ETIMEDOUT still empty at the deadline (never earlier).
 * @retval CONC_ECLOSED the queue is shut down and empty (a normal shutdown
 *         lets the items left be got first; an immediate one discards them).
 * @retval CONC_ECANCELED the waiting task was cancelled (tasks only).
 * @retval CONC_EINVAL @p q or @p out NULL, or @p q not initialised.
 * On every error no item was removed and @p out is unchanged.
 *
 * Blocks only while empty and only when @p timeout_ns is not CONC_NOWAIT.
 * Callable from any thread or task; with CONC_NOWAIT also from timer
 * callbacks. Not from signal handlers.
 */
CONC_API int conc_queue_get(conc_queue_t *q, void *out, int64_t timeout_ns);

/**
 * @brief conc_queue_get() with CONC_NOWAIT: CONC_EAGAIN when empty.
 *
 * Never blocks. Same return codes and contexts as conc_queue_get().
 */
CONC_API int conc_queue_try_get(conc_queue_t *q, void *out);

/**
 * @brief Put the @p count items of the array @p items, in array order,
 *        waiting up to @p timeout_ns for room whenever the queue is full.
 * @param q the queue.
 * @param items @p count items of item_size bytes each, back to back.
 * @param count how many items to put; 0 puts nothing and returns 0.
 * @param put receives how many items went in: always the first `*put` of
 *        the array, 0 to @p count. Required, because a call that fails may
 *        have put some.
 * @param timeout_ns CONC_NOWAIT (put what fits now), a relative timeout for
 *        the whole call, or CONC_FOREVER.
 * @retval 0 all @p count items are in the queue (or in getters' hands).
 * @retval CONC_EAGAIN full before all went in, with CONC_NOWAIT.
 * @retval CONC_ETIMEDOUT full at the deadline before all went in.
 * @retval CONC_ECLOSED the queue was shut down before all went in.
 * @retval CONC_ECANCELED the waiting task was cancelled (tasks only).
 * @retval CONC_EINVAL @p q, @p items or @p put NULL, @p q not initialised,
 *         or the array's size overflowing; nothing was put.
 * On every error the items from `items[*put]` on were not enqueued: the
 * caller still owns them, nothing is lost or put twice.
 *
 * On a FIFO queue, the items of one call keep their order, and each run of
 * them that finds room at once goes in with one atomic claim; items of other
 * producers may come between two runs. Blocks only while full and only
 * when @p timeout_ns is not CONC_NOWAIT. Callable from any thread or task;
 * with CONC_NOWAIT also from timer callbacks. Not from signal handlers.
 */
CONC_API int conc_queue_put_many(conc_queue_t *q, const void *items, size_t count, size_t *put,
                                 int64_t timeout_ns);

/**
 * @brief Remove up to @p max items (in the queue's order) into the array
 *        @p out, waiting up to @p timeout_ns for the first one while the
 *        queue is empty; the rest are what is there at that moment.
 * @param q the queue.
 * @param out room for @p max items of item_size bytes each.
 * @param max most items to take (> 0).
 * @param got receives how many were taken: 1 to @p max on success, 0 on
 *        any error. Required.
 * @param timeout_ns CONC_NOWAIT, a relative timeout, or CONC_FOREVER.
 * @retval 0 `*got` (>= 1) items were removed into `out[0 .. *got)`.
 * @retval CONC_EAGAIN empty and @p timeout_ns is CONC_NOWAIT.
 * @retval CONC_ETIMEDOUT still empty at the deadline (never earlier).
 * @retval CONC_ECLOSED the queue is shut down and empty.
 * @retval CONC_ECANCELED the waiting task was cancelled (tasks only).
 * @retval CONC_EINVAL @p q, @p out or @p got NULL, @p max 0, @p q not
 *         initialised, or the array's size overflowing.
 * On every error no item was removed and @p out is unchanged.
 *
 * Each item taken counts as one task for conc_queue_task_done(). On a FIFO
 * queue, the items found without waiting are taken with one atomic claim,
 * so a consumer draining a busy queue pays one claim per batch, not per
 * item.
 * Blocks only while empty and only when @p timeout_ns is not CONC_NOWAIT.
 * Callable from any thread or task; with CONC_NOWAIT also from timer
 * callbacks. Not from signal handlers.
 */
CONC_API int conc_queue_get_many(conc_queue_t *q, void *out, size_t max, size_t *got,
                                 int64_t timeout_ns);

/**
 * @brief Copy the item conc_queue_get() would return next into @p out,
 *        without removing it.
 * @retval 0 copied.
 * @retval CONC_EAGAIN the queue is empty.
 * @retval CONC_ECLOSED the queue is empty and shut down.
 * @retval CONC_EINVAL @p q or @p out NULL, or @p q not initialised.
 *
 * Never blocks (on a FIFO queue it holds off other getters for the time of
 * the copy). With other consumers running, the item seen may be taken by
 * one of them before the caller's next get. Callable from any thread, task
 * or timer callback.
 */
CONC_API int conc_queue_peek(conc_queue_t *q, void *out);

/**
 * @brief The number of items in the queue now (0 for NULL).
 *
 * With concurrent producers or consumers the value may be stale on return,
 * as in Python. Never blocks. Callable from any thread, task or timer callback.
 */
CONC_API size_t conc_queue_qsize(const conc_queue_t *q);

/** @brief conc_queue_qsize() == 0 (true for NULL). Never blocks; any context but signal
 *  handlers. */
CONC_API bool conc_queue_empty(const conc_queue_t *q);

/** @brief conc_queue_qsize() == capacity (false for NULL). Never blocks; any context but signal
 *  handlers. */
CONC_API bool conc_queue_full(const conc_queue_t *q);

/**
 * @brief Mark one task done: a consumer calls it once per item it got, when
 *        it has finished processing the item (Python's `task_done()`).
 * @retval 0 success; if no unfinished task is left, joiners are released.
 * @retval CONC_EOVERFLOW called more times than items were put; nothing
 *         changed.
 * @retval CONC_EINVAL @p q NULL or not initialised.
 *
 * Never blocks. Callable from any thread, task or timer callback.
 */
CONC_API int conc_queue_task_done(conc_queue_t *q);

/**
 * @brief Wait until every item ever put has been marked done by
 *        conc_queue_task_done() (or discarded by an immediate shutdown).
 * @param q the queue.
 * @param timeout_ns CONC_NOWAIT, a relative timeout, or CONC_FOREVER.
 * @retval 0 no unfinished task (at some moment during the call).
 * @retval CONC_EAGAIN unfinished tasks and @p timeout_ns is CONC_NOWAIT.
 * @retval CONC_ETIMEDOUT unfinished tasks at the deadline (never earlier).
 * @retval CONC_ECANCELED the waiting task was cancelled (tasks only).
 * @retval CONC_EINVAL @p q NULL or not initialised.
 *
 * Blocks unless @p timeout_ns is CONC_NOWAIT. Callable from any thread or
 * task; with CONC_NOWAIT also from timer callbacks.
 */
CONC_API int conc_queue_join(conc_queue_t *q, int64_t timeout_ns);

/**
 * @brief Shut the queue down (Python 3.13's `shutdown(immediate)`).
 *
 * From now on every put returns CONC_ECLOSED, and putters blocked now wake
 * with CONC_ECLOSED. With @p immediate false, getters still get the items
 * left, then CONC_ECLOSED. With @p immediate true, the items left are
 * discarded and counted as done for conc_queue_join(), and every getter,
 * blocked or future, returns CONC_ECLOSED. Calling it again is allowed (an
 * immediate shutdown after a normal one discards what is left).
 *
 * @retval 0 success.
 * @retval CONC_EINVAL @p q NULL or not initialised.
 *
 * Does not block (it may wait a few instructions for a put that is copying
 * its item in). Callable from any thread or task or timer callback.
 */
CONC_API int conc_queue_shutdown(conc_queue_t *q, bool immediate);

#ifdef __cplusplus
}
#endif

#endif /* CONC_QUEUE_H */
