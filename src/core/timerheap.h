/*
 * The timer structure: a 4-ary min-heap of intrusive timer nodes, ordered by
 * (deadline, insertion sequence). Shared by the timer service (timer.c) and
 * the event loop (src/loop), so it knows nothing about threads or callbacks and
 * takes no locks: its owner serialises access.
 *
 *   insert            O(log4 n)   (amortised: the array doubles when full)
 *   remove (cancel)   O(log4 n)   a node records its own position
 *   next deadline     O(1)
 *   pop expired       O(log4 n)   earliest first, ties in insertion order
 *
 * Deadlines are absolute monotonic nanoseconds (conc_now_ns()). pop_expired()
 * returns only nodes whose deadline is <= the "now" it is given, so a timer
 * never fires before its deadline. docs/timer.md says why a heap and not a
 * timing wheel (measured).
 */
#ifndef CONC_CORE_TIMERHEAP_H
#define CONC_CORE_TIMERHEAP_H

#include "conc/timer.h" /* struct conc__timer_node, embedded in public objects */
#include "internal.h"

typedef struct conc__timer_node conc__tnode_t;

/* One heap slot: the key is copied next to the node pointer so that sifting
 * compares deadlines without touching the nodes (one cache line holds the
 * four children of a slot). */
typedef struct conc__theap_slot {
    int64_t deadline;
    conc__tnode_t *node;
} conc__theap_slot_t;

typedef struct conc__timerheap {
    conc__theap_slot_t *slots; /* logical slot 0 is the root */
    void *mem;                 /* the allocation behind slots */
    size_t len, cap;
    uint64_t next_seq;
} conc__timerheap_t;

#define CONC__TIMERHEAP_INIT \
    {                        \
        NULL, NULL, 0, 0, 1  \
    }

void conc__timerheap_init(conc__timerheap_t *h);
/* Frees the storage. Nodes still queued are forgotten (marked unqueued). */
void conc__timerheap_destroy(conc__timerheap_t *h);
/* Make room for n more nodes, so that that many inserts cannot fail. */
int conc__timerheap_reserve(conc__timerheap_t *h, size_t n);

/* Queue n (which must not be queued) at deadline. CONC_ENOMEM when the
 * array cannot grow; h and n are then unchanged. */
int conc__timerheap_insert(conc__timerheap_t *h, conc__tnode_t *n, int64_t deadline);
/* Unqueue n. Returns false (and does nothing) when n was not queued. */
bool conc__timerheap_remove(conc__timerheap_t *h, conc__tnode_t *n);
/* The earliest node when its deadline is <= now, unqueued; else NULL. */
conc__tnode_t *conc__timerheap_pop_expired(conc__timerheap_t *h, int64_t now);

static inline bool conc__tnode_queued(const conc__tnode_t *n)
{
    return n->index_ != 0;
}

/* The earliest deadline, or CONC_FOREVER (negative) when empty. */
static inline int64_t conc__timerheap_next(const conc__timerheap_t *h)
{
    return h->len ? h->slots[0].deadline : CONC_FOREVER;
}

/* The earliest node (still queued), or NULL. */
static inline conc__tnode_t *conc__timerheap_first(const conc__timerheap_t *h)
{
    return h->len ? h->slots[0].node : NULL;
}

static inline size_t conc__timerheap_count(const conc__timerheap_t *h)
{
    return h->len;
}

#endif /* CONC_CORE_TIMERHEAP_H */
