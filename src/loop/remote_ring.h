/*
 * A bounded multi-producer, single-consumer ring of callbacks (after Dmitry
 * Vyukov's bounded queue): the allocation-free fast path of
 * conc_loop_call_soon_threadsafe(). A push claims a cell with one
 * compare-and-swap on the tail and publishes it with a release store of the
 * cell's sequence number; the loop's thread pops in order.
 *
 * Why not only the linked queue (mpsc.h): its nodes must be allocated by the
 * calling thread and freed by the loop's, and that cross-thread malloc/free
 * pair was half the cost of a call. The linked queue stays as the overflow
 * when the ring is full, and for nodes embedded in tasks (their wake-ups).
 */
#ifndef CONC_LOOP_REMOTE_RING_H
#define CONC_LOOP_REMOTE_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "conc/loop.h"

enum { CONC__RING_CELLS = 1024 }; /* a power of two */

typedef struct conc__ring_cell {
    _Atomic uint64_t seq; /* pos: free for push pos; pos + 1: holds item pos */
    conc_loop_cb fn;
    void *arg;
} conc__ring_cell_t;

/* The cells pointer (read by everyone, written once), tail (producers) and
 * head (the consumer) each 64 bytes from the others, so that no write of
 * one side evicts a line the other side reads on every call. Padding, not
 * _Alignas: the loop is calloc()ed, which promises less alignment. */
typedef struct conc__remote_ring {
    conc__ring_cell_t *cells;
    char pad0_[64];
    _Atomic uint64_t tail; /* producers */
    char pad1_[64];
    uint64_t head; /* the consumer */
    char pad2_[64];
} conc__remote_ring_t;

static inline void conc__ring_cells_init(conc__remote_ring_t *r, conc__ring_cell_t *cells)
{
    for (uint64_t i = 0; i < CONC__RING_CELLS; i++)
        atomic_init(&cells[i].seq, i);
    r->cells = cells;
    r->head = 0;
    atomic_init(&r->tail, 0);
}

/* Any thread: false when the ring is full. The claim is sequentially
 * consistent so that the pusher's later "is the loop asleep?" check cannot
 * be ordered before it (the loop's side: conc__ring_maybe_nonempty()). */
static inline bool conc__ring_push(conc__remote_ring_t *r, conc_loop_cb fn, void *arg)
{
    uint64_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);

    for (;;) {
        conc__ring_cell_t *c = &r->cells[pos & (CONC__RING_CELLS - 1)];
        int64_t dif = (int64_t)(atomic_load_explicit(&c->seq, memory_order_acquire) - pos);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&r->tail, &pos, pos + 1, memory_order_seq_cst,
                                                      memory_order_relaxed)) {
                c->fn = fn;
                c->arg = arg;
                atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
                return true;
            }
        } else if (dif < 0) {
            return false;
        } else {
            pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
        }
    }
}

/* The loop's thread: the oldest callback, or false when the ring is empty
 * or its oldest cell is still being written. */
static inline bool conc__ring_pop(conc__remote_ring_t *r, conc_loop_cb *fn, void **arg)
{
    conc__ring_cell_t *c = &r->cells[r->head & (CONC__RING_CELLS - 1)];

    if (atomic_load_explicit(&c->seq, memory_order_acquire) != r->head + 1)
        return false;
    *fn = c->fn;
    *arg = c->arg;
    atomic_store_explicit(&c->seq, r->head + CONC__RING_CELLS, memory_order_release);
    r->head++;
    return true;
}

/* The loop's thread: false only when every claimed cell has been popped. */
static inline bool conc__ring_maybe_nonempty(conc__remote_ring_t *r)
{
    return atomic_load_explicit(&r->tail, memory_order_seq_cst) != r->head;
}

#endif /* CONC_LOOP_REMOTE_RING_H */
