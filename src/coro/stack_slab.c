/*
 * Canary-mode stacks for very many coroutines: slots carved from large
 * shared mappings ("slabs"), not one mapping each.
 *
 * Why: a mapping per stack costs a kernel map entry (two with a guard page)
 * and at least two dirty pages per coroutine (the top of the stack and the
 * canary at its bottom). Here, one slab of n slots of `stride` bytes:
 *
 *   base          base + page       base + page + stride
 *   | lead page   | slot 0          | slot 1          | ...
 *            [c0]|            [c1]|            [c2]|
 *
 * The canary of slot i (CONC__CANARY_BYTES) sits just below the slot, in
 * the top bytes of slot i-1 (of the lead page for slot 0), and slot i's
 * usable stack is [slot, slot + stride - CONC__CANARY_BYTES). So the page a
 * coroutine dirties anyway, the top of its stack, also holds its upper
 * neighbour's canary: a suspended coroutine that uses little stack costs one
 * page. Memory is committed lazily, slots never used are never touched, and
 * adjacent slabs merge into few kernel map entries.
 *
 * Freed slots are cached in their slab; a slab whose slots are all free is
 * unmapped unless its pool keeps SLAB_SPARES_MAX such spares already. Pools
 * group slabs by stride.
 */
#include <stdlib.h>

#include "../os/os.h"
#include "stack.h"

/* Slabs of about this many bytes, and at most this many slots. */
#define SLAB_BYTES ((size_t)4 << 20)
#define SLAB_SLOTS_MAX 64u
/* Entirely free slabs kept per pool, ready for the next burst. A burst of
 * short tasks (an event loop spawning a thousand handlers, say) frees and
 * then needs again many slabs; unmapping them all makes the next burst pay
 * a page fault for every fresh stack, about ten times the cost of the rest
 * of a spawn on a virtual machine. 16 slabs are 64 MiB of address space;
 * what they keep committed is only what the burst before touched. */
#define SLAB_SPARES_MAX 16u

struct pool;

struct slab {
    struct slab *next, *prev; /* in pool->avail while a slot is free */
    struct pool *pool;
    char *base;
    size_t map_size;
    uint32_t nslots;
    uint32_t used;
    uint32_t fresh; /* slots [fresh, nslots) were never handed out */
    void *free;     /* freed slots, linked through the word below their top */
};

struct pool {
    struct pool *next;
    size_t stride;
    struct slab *avail; /* slabs with at least one free slot */
    unsigned spares;    /* how many of them are entirely free */
};

static conc__os_lock_t slab_lock = CONC__OS_LOCK_INIT;
static struct pool *pools;

static void **free_link(void *hi)
{
    return (void **)hi - 1;
}

static void avail_insert(struct pool *p, struct slab *s)
{
    s->prev = NULL;
    s->next = p->avail;
    if (p->avail)
        p->avail->prev = s;
    p->avail = s;
}

static void avail_remove(struct pool *p, struct slab *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        p->avail = s->next;
    if (s->next)
        s->next->prev = s->prev;
}

/* Under slab_lock. Pools are few (one per stack size in use) and live for
 * the whole process. */
static struct pool *pool_of(size_t stride)
{
    struct pool *p;

    for (p = pools; p; p = p->next)
        if (p->stride == stride)
            return p;
    p = calloc(1, sizeof *p);
    if (p) {
        p->stride = stride;
        p->next = pools;
        pools = p;
    }
    return p;
}

/* Not under the lock: the system call may take a while. */
static struct slab *slab_new(struct pool *p)
{
    size_t page = conc__os_page_size();
    size_t n = SLAB_BYTES / p->stride;
    struct slab *s = calloc(1, sizeof *s);
    void *base;

    if (!s)
        return NULL;
    n = n < 1 ? 1 : n > SLAB_SLOTS_MAX ? SLAB_SLOTS_MAX : n;
    if (p->stride > (SIZE_MAX - page) / n ||
        conc__os_stack_map(page + n * p->stride, false, &base) != 0) {
        free(s);
        return NULL;
    }
    s->pool = p;
    s->base = base;
    s->map_size = page + n * p->stride;
    s->nslots = (uint32_t)n;
    return s;
}

/* Under slab_lock: hand out a slot of s, which has one free. */
static char *slab_take(struct pool *p, struct slab *s)
{
    char *slot;

    if (s->free) {
        slot = s->free;
        s->free = *free_link(slot + p->stride - CONC__CANARY_BYTES);
    } else {
        slot = s->base + conc__os_page_size() + (size_t)s->fresh++ * p->stride;
    }
    if (s->used++ == 0)
        p->spares--;
    if (s->used == s->nslots)
        avail_remove(p, s);
    return slot;
}

/* Under slab_lock, with a new slab: publish it, counted as a spare. */
static void slab_publish(struct pool *p, struct slab *s)
{
    avail_insert(p, s);
    p->spares++;
}

int conc__slab_get(conc__stack_t *st, size_t stride)
{
    struct pool *p;
    char *slot;

    conc__os_lock(&slab_lock);
    p = pool_of(stride);
    while (p && !p->avail) {
        struct slab *s;

        conc__os_unlock(&slab_lock);
        s = slab_new(p);
        if (!s)
            return CONC_ENOMEM;
        conc__os_lock(&slab_lock);
        slab_publish(p, s);
    }
    if (!p) {
        conc__os_unlock(&slab_lock);
        return CONC_ENOMEM;
    }
    st->owner = p->avail;
    slot = slab_take(p, p->avail);
    conc__os_unlock(&slab_lock);

    st->lo = slot;
    st->hi = slot + stride - CONC__CANARY_BYTES;
    st->canary = (uintptr_t *)slot - CONC__CANARY_WORDS;
    st->mode = CONC_CORO_STACK_CANARY;
    conc__canary_set(st->canary);
    return 0;
}

void conc__slab_put(const conc__stack_t *st)
{
    struct slab *s = st->owner;
    struct pool *p = s->pool;
    bool unmap = false;

    conc__os_lock(&slab_lock);
    *free_link(st->hi) = s->free;
    s->free = st->lo;
    if (s->used-- == s->nslots)
        avail_insert(p, s);
    if (s->used == 0) {
        if (p->spares >= SLAB_SPARES_MAX) {
            avail_remove(p, s);
            unmap = true;
        } else {
            p->spares++;
        }
    }
    conc__os_unlock(&slab_lock);
    if (unmap) {
        conc__os_stack_unmap(s->base, s->map_size, false);
        free(s);
    }
}
