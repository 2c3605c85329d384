/*
 * The FIFO ring: a bounded multi-producer, multi-consumer array after
 * Dmitry Vyukov's design. Every slot carries a sequence word that says whose
 * turn the slot is: equal to a producer's position when the slot is free for
 * that lap, position + 1 once the item is published, position + capacity once
 * the consumer has read it out. A producer claims position p by one
 * compare-and-swap on tail_, copies its item, and publishes with one store;
 * a consumer does the same on head_. No lock, no system call.
 *
 * Positions are 64-bit counters that never wrap in practice, so the ring
 * works for any capacity >= 2 (a power of two saves the division). The
 * publishing stores are the fast side of a handshake (handshake.h): queue.c
 * pairs them with the "somebody sleeps" hints so that a producer never
 * misses a sleeping getter (and a consumer never misses a sleeping putter).
 *
 * The end of the file keeps the per-queue learned time a FIFO getter or
 * putter retries the ring before it goes to sleep.
 */
#include "queue_internal.h"
#include "waitq.h"

static inline uint64_t ring_index(const conc_queue_t *q, uint64_t pos)
{
    return q->mask_ ? pos & q->mask_ : pos % q->capacity_;
}

static inline _Atomic uint64_t *slot_seq(const conc_queue_t *q, uint64_t pos)
{
    return (_Atomic uint64_t *)(void *)conc__queue_slot(q, ring_index(q, pos));
}

static inline unsigned char *slot_item(const conc_queue_t *q, uint64_t pos)
{
    return conc__queue_slot(q, ring_index(q, pos)) + CONC__QUEUE_SEQ_SIZE;
}

void conc__ring_init(conc_queue_t *q)
{
    for (uint64_t i = 0; i < q->capacity_; i++)
        atomic_init(slot_seq(q, i), i);
}

int conc__ring_put(conc_queue_t *q, const void *item)
{
    uint64_t pos = atomic_load_explicit(&q->tail_, memory_order_relaxed);
    _Atomic uint64_t *seq;

    for (;;) {
        /* The closed bit makes every claim fail: no put after shutdown. */
        if (CONC_UNLIKELY(pos & CONC__QUEUE_CLOSED))
            return CONC_ECLOSED;
        seq = slot_seq(q, pos);
        int64_t dif = (int64_t)(atomic_load_explicit(seq, memory_order_acquire) - pos);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->tail_, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed))
                break;
        } else if (dif < 0) {
            return CONC_EAGAIN; /* the item of the previous lap is still there */
        } else {
            pos = atomic_load_explicit(&q->tail_, memory_order_relaxed);
        }
    }
    conc__queue_copy(slot_item(q, pos), item, q->item_size_);
    conc__handshake_store(seq, pos + 1, conc__queue_light(q));
    return 0;
}

/* A peek holds head_ for the few instructions of its copy; let it finish. */
static uint64_t wait_for_peek(conc_queue_t *q)
{
    uint64_t pos;

    for (int i = 1;; i++) {
        if (i % 64 == 0)
            conc__os_thread_yield();
        else
            conc__os_cpu_relax();
        pos = atomic_load_explicit(&q->head_, memory_order_relaxed);
        if (!(pos & CONC__QUEUE_PEEK))
            return pos;
    }
}

/* Claim the first published item: its position, or UINT64_MAX when the
 * ring is empty (or its first item is still being written). With peek, the
 * claim sets the peek bit instead of moving head_. */
static uint64_t claim_first(conc_queue_t *q, bool peek)
{
    uint64_t pos = atomic_load_explicit(&q->head_, memory_order_relaxed);

    for (;;) {
        if (CONC_UNLIKELY(pos & CONC__QUEUE_PEEK))
            pos = wait_for_peek(q);
        int64_t dif =
            (int64_t)(atomic_load_explicit(slot_seq(q, pos), memory_order_acquire) - (pos + 1));
        if (dif == 0) {
            /* Acquire: pairs with the release of a peek that held head_,
             * whose copy must happen before the slot is reused. */
            if (atomic_compare_exchange_weak_explicit(&q->head_, &pos,
                                                      peek ? pos | CONC__QUEUE_PEEK : pos + 1,
                                                      memory_order_acquire, memory_order_relaxed))
                return pos;
        } else if (dif < 0) {
            return UINT64_MAX;
        } else {
            pos = atomic_load_explicit(&q->head_, memory_order_relaxed);
        }
    }
}

int conc__ring_get(conc_queue_t *q, void *out)
{
    uint64_t pos = claim_first(q, false);

    if (pos == UINT64_MAX)
        return CONC_EAGAIN;
    if (out)
        conc__queue_copy(out, slot_item(q, pos), q->item_size_);
    conc__handshake_store(slot_seq(q, pos), pos + q->capacity_, conc__queue_light(q));
    return 0;
}

int conc__ring_peek(conc_queue_t *q, void *out)
{
    uint64_t pos = claim_first(q, true);

    if (pos == UINT64_MAX)
        return CONC_EAGAIN;
    /* While the peek bit is set no getter can take the slot, so no producer
     * can overwrite it. */
    conc__queue_copy(out, slot_item(q, pos), q->item_size_);
    atomic_store_explicit(&q->head_, pos, memory_order_release);
    return 0;
}

/* ---- batches ------------------------------------------------------------
 * A batch claims a run of consecutive positions with one compare-and-swap,
 * then copies and publishes slot by slot with release stores: the
 * handshake's barrier, when the fast side needs one at all, comes once
 * after the run. */

/* The positions from pos on whose sequence words read want(p): how many, up
 * to max; *dif is the first mismatch (0 when all max matched). */
static size_t run_length(const conc_queue_t *q, uint64_t pos, size_t max, uint64_t add,
                         int64_t *dif)
{
    size_t n = 0;

    *dif = 0;
    for (; n < max; n++) {
        uint64_t p = pos + n;
        *dif = (int64_t)(atomic_load_explicit(slot_seq(q, p), memory_order_acquire) - (p + add));
        if (*dif != 0)
            break;
    }
    return n;
}

size_t conc__ring_put_many(conc_queue_t *q, const void *items, size_t count, int *rc)
{
    uint64_t pos = atomic_load_explicit(&q->tail_, memory_order_relaxed);
    int64_t dif;
    size_t n;

    for (;;) {
        if (CONC_UNLIKELY(pos & CONC__QUEUE_CLOSED)) {
            *rc = CONC_ECLOSED;
            return 0;
        }
        n = run_length(q, pos, count, 0, &dif);
        if (n > 0) {
            if (atomic_compare_exchange_weak_explicit(&q->tail_, &pos, pos + n,
                                                      memory_order_relaxed, memory_order_relaxed))
                break;
        } else if (dif < 0) {
            *rc = CONC_EAGAIN; /* full */
            return 0;
        } else {
            pos = atomic_load_explicit(&q->tail_, memory_order_relaxed);
        }
    }
    /* Decided before the stores: a ring that turns shared later is seen
     * by this run's hint load only through the barrier (handshake.h). */
    bool light = conc__queue_light(q);
    const unsigned char *src = items;
    for (size_t i = 0; i < n; i++, src += q->item_size_) {
        conc__queue_copy(slot_item(q, pos + i), src, q->item_size_);
        atomic_store_explicit(slot_seq(q, pos + i), pos + i + 1, memory_order_release);
    }
    conc__handshake_after_stores(light);
    *rc = 0;
    return n;
}

size_t conc__ring_get_many(conc_queue_t *q, void *out, size_t max)
{
    uint64_t pos = atomic_load_explicit(&q->head_, memory_order_relaxed);
    int64_t dif;
    size_t n;

    for (;;) {
        if (CONC_UNLIKELY(pos & CONC__QUEUE_PEEK))
            pos = wait_for_peek(q);
        n = run_length(q, pos, max, 1, &dif);
        if (n > 0) {
            /* Acquire, as in claim_first(): a peek's copy came first. */
            if (atomic_compare_exchange_weak_explicit(&q->head_, &pos, pos + n,
                                                      memory_order_acquire, memory_order_relaxed))
                break;
        } else if (dif < 0) {
            return 0; /* empty, or the first item is still being written */
        } else {
            pos = atomic_load_explicit(&q->head_, memory_order_relaxed);
        }
    }
    bool light = conc__queue_light(q); /* before the stores, as above */
    unsigned char *dst = out;
    for (size_t i = 0; i < n; i++, dst += q->item_size_) {
        conc__queue_copy(dst, slot_item(q, pos + i), q->item_size_);
        atomic_store_explicit(slot_seq(q, pos + i), pos + i + q->capacity_, memory_order_release);
    }
    conc__handshake_after_stores(light);
    return n;
}

/* ---- refilling a full ring in bursts ------------------------------------
 * A putter that spins on a full ring and takes each slot the moment it is
 * freed works in the very cache line the getter is reading: every item then
 * moves that line between the two CPUs two or three times, and a ring that
 * runs full (the getter is the slower side) falls from the getter's own
 * speed to a fifth of it (measured: 85 M items/s down to 14 M). A spinning
 * putter therefore waits, for a short while, until a quarter of the ring is
 * free (at most RING_BURST_MAX slots), then refills it in one burst: it
 * writes lines the getter left long ago while the getter reads lines
 * written long ago. It looks at the sequence word of the burst's last slot,
 * which the getter writes once, when it gets there. */
#define RING_BURST_MAX 256

bool conc__ring_room_for_burst(const conc_queue_t *q)
{
    uint64_t tail = atomic_load_explicit(&q->tail_, memory_order_relaxed);
    uint64_t burst = q->capacity_ / 4;

    if (tail & CONC__QUEUE_CLOSED)
        return true; /* let the put report it */
    burst = burst > RING_BURST_MAX ? RING_BURST_MAX : burst ? burst : 1;
    uint64_t last = tail + burst - 1;
    return (int64_t)(atomic_load_explicit(slot_seq(q, last), memory_order_relaxed) - last) >= 0;
}

/* ---- how long to retry the ring before sleeping ------------------------ */

/* The learned spin (conc_queue_t.spin_, an average in ns) stays within these. */
#define SPIN_MIN_NS 3000
#define SPIN_MAX_NS 16000

int64_t conc__ring_spin_limit(const conc_queue_t *q)
{
    int64_t limit =
        SPIN_MIN_NS + 2 * (int64_t)atomic_load_explicit(&q->spin_, memory_order_relaxed);

    if (conc__single_cpu())
        return 0; /* the peer cannot run while we spin */
    /* In a task, only while no other task of its loop is ready and another
     * thread uses the ring: an item from a task of its own loop cannot come
     * while it spins. */
    const conc__context_ops_t *ops = conc__installed_context.ops;
    if (ops && !(ops->alone && ops->alone(conc__installed_context.ctx) &&
                 atomic_load_explicit(&q->users_, memory_order_relaxed) == CONC__QUEUE_SHARED))
        return 0;
    return limit < SPIN_MAX_NS ? limit : SPIN_MAX_NS;
}

/* Move the average an eighth of the way towards how long the last spin
 * needed to catch an item (or a slot), or towards 0 when it caught nothing:
 * a peer that keeps up makes the spin longer, a slow or descheduled peer
 * (or one that cannot run while we spin) makes it short. SPIN_MIN_NS, about
 * the time a woken thread takes to run again, is always allowed, so that
 * two threads that fell asleep in turn find their way back to spinning. */
void conc__ring_spin_learn(conc_queue_t *q, int64_t waited_ns)
{
    int64_t avg = atomic_load_explicit(&q->spin_, memory_order_relaxed);
    int64_t target = waited_ns <= SPIN_MAX_NS ? waited_ns : 0;

    atomic_store_explicit(&q->spin_, (uint32_t)(avg + (target - avg) / 8), memory_order_relaxed);
}
