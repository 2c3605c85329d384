/*
 * Coroutine stacks by mode: guard-page mappings (with a cache of freed ones),
 * canary slabs (stack_slab.c) and caller-supplied buffers.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../os/os.h"
#include "stack.h"

/*
 * Freed guard-page stacks kept for reuse, so that creating a coroutine
 * usually costs no system call. Bounded, so that a burst of coroutines does
 * not pin its memory and map entries for good.
 */
#define GUARD_CACHE_MAX 32

/* The record of a cached stack lives in the stack's own top bytes. */
struct cached_stack {
    struct cached_stack *next;
    size_t size;
};

static conc__os_lock_t guard_lock = CONC__OS_LOCK_INIT;
static struct cached_stack *guard_cache;
static unsigned guard_cached;

/* Whole pages; 0 when the size cannot be rounded without overflow. */
static size_t page_round(size_t size)
{
    size_t page = conc__os_page_size();

    if (size > SIZE_MAX - (page - 1))
        return 0;
    return (size + page - 1) & ~(page - 1);
}

static struct cached_stack *guard_cache_take(size_t size)
{
    struct cached_stack **p, *c = NULL;

    conc__os_lock(&guard_lock);
    for (p = &guard_cache; *p; p = &(*p)->next) {
        if ((*p)->size == size) {
            c = *p;
            *p = c->next;
            guard_cached--;
            break;
        }
    }
    conc__os_unlock(&guard_lock);
    return c;
}

static int guard_get(conc__stack_t *st, size_t size)
{
    struct cached_stack *c = guard_cache_take(size);
    void *lo;

    if (c) {
        lo = (char *)(c + 1) - size;
    } else {
        int rc = conc__os_stack_map(size, true, &lo);
        if (rc)
            return rc;
    }
    st->lo = lo;
    st->hi = (char *)lo + size;
    st->owner = lo;
    st->canary = NULL;
    st->mode = CONC_CORO_STACK_GUARD;
    return 0;
}

static void guard_put(const conc__stack_t *st)
{
    size_t size = (size_t)((char *)st->hi - (char *)st->lo);
    struct cached_stack *c = (struct cached_stack *)st->hi - 1;
    bool cached = false;

    c->size = size;
    conc__os_lock(&guard_lock);
    if (guard_cached < GUARD_CACHE_MAX) {
        c->next = guard_cache;
        guard_cache = c;
        guard_cached++;
        cached = true;
    }
    conc__os_unlock(&guard_lock);
    if (!cached)
        conc__os_stack_unmap(st->lo, size, true);
}

/* The caller's buffer: the canary at its aligned low end, the stack above. */
static int buffer_get(conc__stack_t *st, const conc_coro_attr_t *attr)
{
    char *start = attr->stack;
    char *lo, *hi;

    if (!start || attr->stack_size < CONC_CORO_STACK_MIN ||
        attr->stack_size > UINTPTR_MAX - (uintptr_t)start)
        return CONC_EINVAL;
    lo = start + (-(uintptr_t)start & (CONC__STACK_ALIGN - 1)) + CONC__CANARY_BYTES;
    hi = start + attr->stack_size;
    hi -= (uintptr_t)hi & (CONC__STACK_ALIGN - 1);
    if (hi < lo || (size_t)(hi - lo) < CONC_CORO_STACK_MIN)
        return CONC_EINVAL;
    st->canary = (uintptr_t *)(void *)lo - CONC__CANARY_WORDS;
    conc__canary_set(st->canary);
    st->lo = lo;
    st->hi = hi;
    st->owner = NULL;
    st->mode = CONC_CORO_STACK_BUFFER;
    return 0;
}

int conc__stack_get(conc__stack_t *st, const conc_coro_attr_t *attr)
{
    size_t size = attr->stack_size ? attr->stack_size : CONC_CORO_STACK_DEFAULT;

    switch (attr->stack_mode) {
    case CONC_CORO_STACK_GUARD:
        if (attr->stack || size < CONC_CORO_STACK_MIN || !page_round(size))
            return CONC_EINVAL;
        return guard_get(st, page_round(size));
    case CONC_CORO_STACK_CANARY:
        /* The canary comes on top of the requested size. */
        if (attr->stack || size < CONC_CORO_STACK_MIN || size > SIZE_MAX / 2)
            return CONC_EINVAL;
        return conc__slab_get(st, page_round(size + CONC__CANARY_BYTES));
    case CONC_CORO_STACK_BUFFER:
        return buffer_get(st, attr);
    default:
        return CONC_EINVAL;
    }
}

void conc__stack_put(const conc__stack_t *st)
{
    if (st->mode == CONC_CORO_STACK_GUARD)
        guard_put(st);
    else if (st->mode == CONC_CORO_STACK_CANARY)
        conc__slab_put(st);
}

void conc__canary_fail(const void *coro, const uintptr_t *c)
{
    fprintf(stderr,
            "libconc: stack overflow in coroutine %p: the canary below its stack (at %p) "
            "was overwritten; memory below that stack is corrupt. Aborting.\n",
            coro, (const void *)c);
    fflush(stderr);
    abort();
}
