/*
 * Definitions shared by the core's source files. Not installed.
 */
#ifndef CONC_CORE_INTERNAL_H
#define CONC_CORE_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../os/os.h"

/* Invariants: checked in debug builds (NDEBUG unset), free in release. */
#define CONC_ASSERT(cond) assert(cond)

#define CONC_LIKELY(x) __builtin_expect(!!(x), 1)
#define CONC_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Code that every loop iteration or task switch runs: the compiler and the
 * linker group it (.text.hot), so that the hot path spans few pages of code.
 * That matters where every system call flushes the TLB (page-table
 * isolation without PCID): each page touched afterwards costs a walk. */
#define CONC__HOT __attribute__((hot))

/* The monotonic deadline of a relative timeout (conc/time.h convention):
 * negative means none. Internal callers use this, never conc_now_ns() + t. */
static inline int64_t conc__deadline(int64_t timeout_ns)
{
    if (timeout_ns < 0)
        return CONC_FOREVER;
    if (timeout_ns > CONC_TIMEOUT_MAX)
        timeout_ns = CONC_TIMEOUT_MAX;
    return conc_now_ns() + timeout_ns;
}

/* True on a machine (or affinity mask) with one CPU: spinning there only
 * burns the time slice of the thread being waited for, so lock and queue
 * fast paths skip it. The count is read once and cached. */
static inline bool conc__single_cpu(void)
{
    static _Atomic int cached; /* 0 unknown, else the count */
    int n = atomic_load_explicit(&cached, memory_order_relaxed);

    if (CONC_UNLIKELY(!n)) {
        n = conc__os_cpu_count();
        atomic_store_explicit(&cached, n, memory_order_relaxed);
    }
    return n == 1;
}

/* A pointer without its const, for interfaces that take a non-const pointer
 * but only read through it (struct iovec for sendmsg(), posix_spawn()'s
 * argv): copied, not cast, so no integer-to-pointer cast is needed. */
static inline void *conc__unconst(const void *p)
{
    void *q;

    memcpy(&q, &p, sizeof q);
    return q;
}

#endif /* CONC_CORE_INTERNAL_H */
