/*
 * The priority queue's store: a binary min-heap of slots, each holding the
 * item's insertion sequence number and the item. Ordering by (comparator,
 * sequence) makes equal items come out in the order they were put, which a
 * bare heap would not guarantee. Called under the queue's lock.
 *
 * Both operations move a "hole" instead of swapping, so an item is copied
 * once per level and no scratch slot is needed.
 */
#include "queue_internal.h"

static uint64_t slot_seqno(const unsigned char *slot)
{
    uint64_t seq;

    memcpy(&seq, slot, sizeof seq);
    return seq;
}

/* Does the item (with its sequence number) come out before the slot's? */
static bool before(const conc_queue_t *q, const void *item, uint64_t seq, const unsigned char *slot)
{
    int c = q->compare_(item, slot + CONC__QUEUE_SEQ_SIZE, q->compare_arg_);

    return c != 0 ? c < 0 : seq < slot_seqno(slot);
}

static bool slot_before(const conc_queue_t *q, const unsigned char *a, const unsigned char *b)
{
    return before(q, a + CONC__QUEUE_SEQ_SIZE, slot_seqno(a), b);
}

void conc__heap_push(conc_queue_t *q, uint64_t n, uint64_t seq, const void *item)
{
    uint64_t hole = n;

    while (hole > 0) {
        uint64_t parent = (hole - 1) / 2;
        if (!before(q, item, seq, conc__queue_slot(q, parent)))
            break;
        memcpy(conc__queue_slot(q, hole), conc__queue_slot(q, parent), q->slot_size_);
        hole = parent;
    }
    memcpy(conc__queue_slot(q, hole), &seq, sizeof seq);
    memcpy(conc__queue_item(q, hole), item, q->item_size_);
}

void conc__heap_pop(conc_queue_t *q, uint64_t n, void *out)
{
    uint64_t last = n - 1, hole = 0;
    const unsigned char *moved = conc__queue_slot(q, last);

    if (out)
        memcpy(out, conc__queue_item(q, 0), q->item_size_);
    /* Sift the hole down to where the last slot fits; children stay below
     * `last`, so the last slot is read in place until it is moved. */
    for (;;) {
        uint64_t child = 2 * hole + 1;
        if (child >= last)
            break;
        if (child + 1 < last &&
            slot_before(q, conc__queue_slot(q, child + 1), conc__queue_slot(q, child)))
            child++;
        if (!slot_before(q, conc__queue_slot(q, child), moved))
            break;
        memcpy(conc__queue_slot(q, hole), conc__queue_slot(q, child), q->slot_size_);
        hole = child;
    }
    if (hole != last)
        memcpy(conc__queue_slot(q, hole), moved, q->slot_size_);
}
