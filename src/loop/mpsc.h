/*
 * An intrusive multi-producer, single-consumer queue (after Dmitry Vyukov's
 * design): a push is one atomic exchange plus one store, never a lock and
 * never a loop, so any thread can hand work to a loop without waiting for it.
 * The consumer is the loop's thread.
 *
 * Between a producer's exchange and its link store the queue looks empty
 * to the consumer beyond that point; conc__mpsc_maybe_nonempty() still says
 * "not empty" then, so the loop polls again instead of sleeping.
 */
#ifndef CONC_LOOP_MPSC_H
#define CONC_LOOP_MPSC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct conc__mpsc_node {
    _Atomic(struct conc__mpsc_node *) next;
} conc__mpsc_node_t;

typedef struct conc__mpsc {
    _Atomic(conc__mpsc_node_t *) head; /* producers push here */
    conc__mpsc_node_t *tail;           /* the consumer pops here */
    conc__mpsc_node_t stub;
} conc__mpsc_t;

static inline void conc__mpsc_init(conc__mpsc_t *q)
{
    atomic_init(&q->stub.next, NULL);
    atomic_init(&q->head, &q->stub);
    q->tail = &q->stub;
}

/* Any thread. Sequentially consistent, so that a producer's later check of
 * "is the loop asleep?" cannot be ordered before its push. */
static inline void conc__mpsc_push(conc__mpsc_t *q, conc__mpsc_node_t *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    conc__mpsc_node_t *prev = atomic_exchange_explicit(&q->head, n, memory_order_seq_cst);
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

/* Consumer only: the oldest node, or NULL (empty, or a push in progress). */
static inline conc__mpsc_node_t *conc__mpsc_pop(conc__mpsc_t *q)
{
    conc__mpsc_node_t *tail = q->tail;
    conc__mpsc_node_t *next = atomic_load_explicit(&tail->next, memory_order_acquire);

    if (tail == &q->stub) {
        if (!next)
            return NULL;
        q->tail = next;
        tail = next;
        next = atomic_load_explicit(&tail->next, memory_order_acquire);
    }
    if (next) {
        q->tail = next;
        return tail;
    }
    if (tail != atomic_load_explicit(&q->head, memory_order_acquire))
        return NULL; /* a producer has not linked its node yet */
    conc__mpsc_push(q, &q->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        q->tail = next;
        return tail;
    }
    return NULL;
}

/* Consumer only: false only when nothing was pushed and not popped. */
static inline bool conc__mpsc_maybe_nonempty(conc__mpsc_t *q)
{
    return q->tail != &q->stub || atomic_load_explicit(&q->head, memory_order_seq_cst) != &q->stub;
}

#endif /* CONC_LOOP_MPSC_H */
