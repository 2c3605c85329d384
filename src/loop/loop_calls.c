/*
 * Callbacks: the ready FIFO, the timer heap (core/timerheap.h, the same
 * structure as the timer service) and the remote queue that other threads
 * push to.
 *
 * Entries come from chunks owned by the loop and are recycled through a free
 * list, never returned to malloc() before the loop is destroyed: a handle
 * (entry, seq) can therefore always be checked, even long after its entry
 * ran, without touching freed memory.
 */
#include <stdlib.h>

#include "loop_internal.h"

enum { CHUNK_ENTRIES = 256 };

#define ENTRY_OF_TNODE(n) ((conc__entry_t *)((char *)(n)-offsetof(conc__entry_t, tnode)))

static int grow_entries(conc__loop_t *l)
{
    if (l->nchunks == l->chunks_cap) {
        size_t cap = l->chunks_cap ? l->chunks_cap * 2 : 16;
        void **chunks = realloc(l->chunks, cap * sizeof *chunks);
        if (!chunks)
            return CONC_ENOMEM;
        l->chunks = chunks;
        l->chunks_cap = cap;
    }
    conc__entry_t *chunk = calloc(CHUNK_ENTRIES, sizeof *chunk);
    if (!chunk)
        return CONC_ENOMEM;
    l->chunks[l->nchunks++] = chunk;
    for (int i = CHUNK_ENTRIES - 1; i >= 0; i--) {
        chunk[i].owner = l;
        chunk[i].next = l->free_entries;
        l->free_entries = &chunk[i];
    }
    return 0;
}

conc__entry_t *conc__entry_alloc(conc__loop_t *l)
{
    if (CONC_UNLIKELY(!l->free_entries) && grow_entries(l) != 0)
        return NULL;
    conc__entry_t *e = l->free_entries;
    l->free_entries = e->next;
    e->next = NULL;
    e->seq = ++l->next_seq;
    e->cancelled = false;
    e->embedded = false;
    return e;
}

void conc__entry_free(conc__loop_t *l, conc__entry_t *e)
{
    e->where = ENTRY_FREE;
    e->seq = 0;
    e->next = l->free_entries;
    l->free_entries = e;
}

void conc__entries_destroy(conc__loop_t *l)
{
    for (size_t i = 0; i < l->nchunks; i++)
        free(l->chunks[i]);
    free(l->chunks);
    l->chunks = NULL;
    l->nchunks = l->chunks_cap = 0;
    l->free_entries = NULL;
}

int conc__timer_add(conc__loop_t *l, conc__entry_t *e, int64_t when)
{
    int rc = conc__timerheap_insert(&l->timers, &e->tnode, when);

    if (rc == 0)
        e->where = ENTRY_TIMED;
    return rc;
}

void conc__timer_remove(conc__loop_t *l, conc__entry_t *e)
{
    if (e->where == ENTRY_TIMED) {
        conc__timerheap_remove(&l->timers, &e->tnode);
        e->where = ENTRY_FREE;
    }
}

void conc__timers_expire(conc__loop_t *l, int64_t now)
{
    conc__tnode_t *n;

    while ((n = conc__timerheap_pop_expired(&l->timers, now)) != NULL) {
        conc__entry_t *e = ENTRY_OF_TNODE(n);
        if (e->embedded) {
            /* A task's deadline: decided now, so that no stale expiry can
             * outlive the block it was for. */
            e->where = ENTRY_FREE;
            e->fn(l->pub, e->arg);
            continue;
        }
        l->timer_entries--;
        conc__ready_push(l, e);
    }
}

static int schedule(conc_loop_t *loop, int64_t when, conc_loop_cb fn, void *arg,
                    conc_handle_t *handle)
{
    conc__loop_t *l = conc__loop_of(loop);

    if (!l || !fn)
        return CONC_EINVAL;
    if (!conc__loop_owned_here(l))
        return CONC_EPERM;
    conc__entry_t *e = conc__entry_alloc(l);
    if (!e)
        return CONC_ENOMEM;
    e->fn = fn;
    e->arg = arg;
    if (when < 0) {
        conc__ready_push(l, e);
    } else {
        /* Keep the room reserved for every live task's deadline (a timed
         * block must never fail to queue it): a callback timer takes its
         * own slot on top. */
        int rc = conc__timerheap_reserve(&l->timers, l->nlive + 1);
        if (rc == 0)
            rc = conc__timer_add(l, e, when);
        if (rc != 0) {
            conc__entry_free(l, e);
            return rc;
        }
        l->timer_entries++;
    }
    if (handle)
        *handle = (conc_handle_t){ e, e->seq };
    return 0;
}

int conc_loop_call_soon(conc_loop_t *loop, conc_loop_cb fn, void *arg, conc_handle_t *handle)
{
    return schedule(loop, -1, fn, arg, handle);
}

int conc_loop_call_at(conc_loop_t *loop, int64_t when_ns, conc_loop_cb fn, void *arg,
                      conc_handle_t *handle)
{
    if (when_ns < 0)
        return CONC_EINVAL;
    return schedule(loop, when_ns, fn, arg, handle);
}

int conc_loop_call_later(conc_loop_t *loop, int64_t delay_ns, conc_loop_cb fn, void *arg,
                         conc_handle_t *handle)
{
    if (delay_ns < 0)
        return CONC_EINVAL;
    if (delay_ns > CONC_TIMEOUT_MAX)
        delay_ns = CONC_TIMEOUT_MAX;
    return schedule(loop, conc_now_ns() + delay_ns, fn, arg, handle);
}

int conc_loop_cancel(conc_loop_t *loop, conc_handle_t handle)
{
    conc__loop_t *l = conc__loop_of(loop);
    conc__entry_t *e = handle.node_;

    if (!l)
        return CONC_EINVAL;
    if (!conc__loop_owned_here(l))
        return CONC_EPERM;
    if (!e)
        return CONC_ESRCH;
    if (e->owner != l)
        return CONC_EINVAL;
    if (e->seq != handle.seq_ || e->cancelled)
        return CONC_ESRCH;
    if (e->where == ENTRY_TIMED) {
        conc__timerheap_remove(&l->timers, &e->tnode);
        l->timer_entries--;
        conc__entry_free(l, e);
        return 0;
    }
    if (e->where == ENTRY_READY) {
        e->cancelled = true; /* skipped, then freed, when its turn comes */
        return 0;
    }
    return CONC_ESRCH; /* running now */
}

/* ---- the remote queue ---- */

/* Everything from other threads runs in the order each thread queued it:
 * the ring is used only while no linked node is waiting (remote_linked),
 * and the loop pops linked nodes only once the ring is empty. */
void conc__remote_push(conc__loop_t *l, conc__remote_t *r)
{
    atomic_fetch_add_explicit(&l->remote_linked, 1, memory_order_seq_cst);
    conc__mpsc_push(&l->remote, &r->node);
    conc__loop_wake(l);
}

static bool ring_usable(conc__loop_t *l)
{
    return atomic_load_explicit(&l->remote_linked, memory_order_seq_cst) == 0;
}

int conc_loop_call_soon_threadsafe(conc_loop_t *loop, conc_loop_cb fn, void *arg)
{
    conc__loop_t *l = conc__loop_of(loop);

    if (!l || !fn)
        return CONC_EINVAL;
    atomic_fetch_add_explicit(&l->remote_busy, 1, memory_order_acquire);
    int rc = 0;
    if (ring_usable(l) && conc__ring_push(&l->ring, fn, arg)) {
        conc__loop_wake(l);
    } else {
        conc__remote_t *r = malloc(sizeof *r);
        if (r) {
            r->fn = fn;
            r->arg = arg;
            r->heap = true;
            conc__remote_push(l, r);
        } else {
            rc = CONC_ENOMEM;
        }
    }
    atomic_fetch_sub_explicit(&l->remote_busy, 1, memory_order_release);
    return rc;
}

/* Runs what other threads queued before it started, in push order: a
 * callback that queues itself again from the loop's thread runs in the next
 * iteration (as with conc_loop_call_soon()), so timers and descriptors are
 * never starved by it. */
void conc__remote_drain(conc__loop_t *l)
{
    uint64_t ring_end = atomic_load_explicit(&l->ring.tail, memory_order_acquire);
    long linked = atomic_load_explicit(&l->remote_linked, memory_order_acquire);
    conc_loop_cb fn;
    void *arg;

    while (l->ring.head != ring_end) {
        /* A cell still being written keeps everything behind it (the
         * linked nodes may be the same thread's later calls): next time. */
        if (!conc__ring_pop(&l->ring, &fn, &arg))
            return;
        fn(l->pub, arg);
    }
    for (; linked > 0; linked--) {
        conc__mpsc_node_t *node = conc__mpsc_pop(&l->remote);
        if (!node)
            return;
        atomic_fetch_sub_explicit(&l->remote_linked, 1, memory_order_seq_cst);
        conc__remote_t *r = (conc__remote_t *)node;
        fn = r->fn;
        arg = r->arg;
        if (r->heap)
            free(r);
        fn(l->pub, arg);
    }
}
