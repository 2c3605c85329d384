/*
 * Coroutine stacks: where they come from (a guard-page mapping, a slot of a
 * shared canary slab, or the caller's buffer), the cache of freed ones, and
 * the canary below unguarded stacks.
 */
#ifndef CONC_CORO_STACK_H
#define CONC_CORO_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conc/coro.h"

/* Stack tops and frames are kept 16-byte aligned on every ABI. */
#define CONC__STACK_ALIGN ((uintptr_t)16)
/* Two words just below an unguarded stack, which an overflow overwrites
 * first. The space reserved for them is a whole alignment unit, so that
 * the stack above stays aligned on 32-bit systems too. */
#define CONC__CANARY_WORDS 2
#define CONC__CANARY_BYTES ((size_t)CONC__STACK_ALIGN)

typedef struct conc__stack {
    void *lo;          /* lowest usable byte */
    void *hi;          /* one past the highest, CONC__STACK_ALIGN-aligned */
    void *owner;       /* the guard mapping or the slab; NULL for a buffer */
    uintptr_t *canary; /* the canary just below lo; NULL with a guard page */
    int mode;          /* conc_coro_stack_mode_t */
} conc__stack_t;

/* Obtain a stack as attr says. CONC_EINVAL for bad attributes, CONC_ENOMEM
 * when the OS refuses memory or memory maps. *st is written on success only. */
int conc__stack_get(conc__stack_t *st, const conc_coro_attr_t *attr);
/* Give a stack back: to the cache, to the OS, or (a buffer) just forget it. */
void conc__stack_put(const conc__stack_t *st);

/* Canary-mode stacks, carved from shared slabs (stack_slab.c). `size` is a
 * multiple of the page size. */
int conc__slab_get(conc__stack_t *st, size_t size);
void conc__slab_put(const conc__stack_t *st);

/* The canary mixes its own address in, so a stale copy elsewhere never
 * passes for it. */
#define CONC__CANARY_K0 ((uintptr_t)UINT64_C(0x5be0cd19137e2179))
#define CONC__CANARY_K1 ((uintptr_t)UINT64_C(0x1f83d9abfb41bd6b))

static inline void conc__canary_set(uintptr_t *c)
{
    c[0] = CONC__CANARY_K0 ^ (uintptr_t)c;
    c[1] = CONC__CANARY_K1 ^ (uintptr_t)c;
}

/* Checked at every switch into and out of a coroutine. */
static inline bool conc__canary_ok(const uintptr_t *c)
{
    return c[0] == (CONC__CANARY_K0 ^ (uintptr_t)c) && c[1] == (CONC__CANARY_K1 ^ (uintptr_t)c);
}

/* Report an overwritten canary on stderr and abort: memory next to the
 * stack is already damaged, so no return code could make continuing safe. */
__attribute__((noreturn, cold)) void conc__canary_fail(const void *coro, const uintptr_t *c);

#endif /* CONC_CORO_STACK_H */
