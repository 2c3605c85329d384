/*
 * Shared by the queue's files: queue.c (the API, blocking, hand-offs,
 * task accounting, shutdown), queue_ring.c (the lock-free FIFO ring and
 * its spin learning) and queue_prio.c (the priority heap). Not installed.
 *
 * Counters (conc_queue_t): tail_ counts the items ever put, head_ the items
 * ever removed (got or discarded), so tail_ - head_ items are stored. The
 * top bit of tail_ means "shut down": setting it atomically freezes the put
 * count, so no put can slip in after a shutdown. The top bit of head_ is
 * held by a FIFO peek while it copies the first item (getters wait for it).
 */
#ifndef CONC_CORE_QUEUE_INTERNAL_H
#define CONC_CORE_QUEUE_INTERNAL_H

#include <string.h>

#include "conc/queue.h"
#include "handshake.h"
#include "internal.h"
#include "waitq.h"

#define CONC__QUEUE_CLOSED (UINT64_C(1) << 63) /* in tail_ */
#define CONC__QUEUE_PEEK (UINT64_C(1) << 63)   /* in head_ */
#define CONC__QUEUE_COUNT(x) ((x) & ~(UINT64_C(1) << 63))

/* Ring and heap slots start with this sequence word; the item follows. */
#define CONC__QUEUE_SEQ_SIZE 8

static inline conc__os_lock_t *conc__queue_lock(conc_queue_t *q)
{
    return (conc__os_lock_t *)&q->lock_;
}

static inline unsigned char *conc__queue_slot(const conc_queue_t *q, uint64_t i)
{
    return q->buf_ + i * q->slot_size_;
}

static inline unsigned char *conc__queue_item(const conc_queue_t *q, uint64_t i)
{
    return conc__queue_slot(q, i) + (q->kind_ == CONC_QUEUE_LIFO ? 0 : CONC__QUEUE_SEQ_SIZE);
}

/* Copy an item; the common small sizes become single moves instead of a
 * call to memcpy, which matters on the ring's fast path. */
static inline void conc__queue_copy(void *dst, const void *src, size_t size)
{
    switch (size) {
    case 4:
        memcpy(dst, src, 4);
        break;
    case 8:
        memcpy(dst, src, 8);
        break;
    case 16:
        memcpy(dst, src, 16);
        break;
    default:
        memcpy(dst, src, size);
    }
}

/* ---- who uses the ring --------------------------------------------------
 * users_ is 0 before the first ring operation, then the parker of the one
 * thread that has used the ring, then CONC__QUEUE_SHARED for good once a
 * second thread did. Only a shared ring goes light (handshake.h): its
 * publishes skip their barrier and its sleepers run the process barrier.
 * A ring used by one thread (tasks of one loop) keeps cheap sleeps: a
 * task's sleep is a coroutine switch, no system call, and stays one. */
#define CONC__QUEUE_SHARED UINTPTR_MAX

/* Records a new user; the change to shared is a sequentially consistent
 * update, which a sleeper that saw the old value pairs with its fence. */
void conc__queue_note_user(conc_queue_t *q, uintptr_t users);

/* Whether this publish may skip its barrier. Called before the publishing
 * store(s). The load is sequentially consistent: a thread that finds the
 * ring shared (set by another thread's update) must see it before its hint
 * load, in the order that a sleeper's fence is part of (a plain load on
 * x86 and AArch64). */
static inline bool conc__queue_light(conc_queue_t *q)
{
    uintptr_t users = atomic_load_explicit(&q->users_, memory_order_seq_cst);

    if (CONC_LIKELY(users == CONC__QUEUE_SHARED))
        return conc__handshake_light_ok();
    if (CONC_UNLIKELY(users != (uintptr_t)conc__os_parker_self()))
        conc__queue_note_user(q, users);
    return false;
}

/* ---- the lock-free ring (FIFO queues of capacity >= 2) -----------------
 * Callable with or without the queue's lock. */
void conc__ring_init(conc_queue_t *q);
/* 0, CONC_EAGAIN (full, or the slot's previous item is still being read)
 * or CONC_ECLOSED. */
int conc__ring_put(conc_queue_t *q, const void *item);
/* 0 or CONC_EAGAIN (empty, or the first item is still being written).
 * out == NULL discards the item. */
int conc__ring_get(conc_queue_t *q, void *out);
/* 0 or CONC_EAGAIN, like conc__ring_get() without removing. */
int conc__ring_peek(conc_queue_t *q, void *out);
/* Batches: claim up to count free slots (max items) with one CAS and copy
 * the items in (out). Return how many; put_many sets *rc to 0, CONC_EAGAIN
 * (full) or CONC_ECLOSED. */
size_t conc__ring_put_many(conc_queue_t *q, const void *items, size_t count, int *rc);
size_t conc__ring_get_many(conc_queue_t *q, void *out, size_t max);
/* Whether a quarter of the ring (up to a bound) is free from the tail on:
 * a spinning putter waits for that before it refills (queue_ring.c). A
 * relaxed look; the put that follows decides. */
bool conc__ring_room_for_burst(const conc_queue_t *q);
/* How long (ns) a FIFO getter or putter retries the ring before it sleeps:
 * learned per queue, 0 on a single CPU. */
int64_t conc__ring_spin_limit(const conc_queue_t *q);
/* Tell the learner how long a spin took to catch an item or slot
 * (INT64_MAX: it caught nothing). Racing updates only blur the average. */
void conc__ring_spin_learn(conc_queue_t *q, int64_t waited_ns);

/* ---- the priority heap, under the queue's lock -------------------------
 * n is the number of items in the heap before the call. */
void conc__heap_push(conc_queue_t *q, uint64_t n, uint64_t seq, const void *item);
void conc__heap_pop(conc_queue_t *q, uint64_t n, void *out);

#endif /* CONC_CORE_QUEUE_INTERNAL_H */
