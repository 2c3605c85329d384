/*
 * Definitions shared by the core's source files. Not installed.
 */
#ifndef CONC_CORE_INTERNAL_H
#define CONC_CORE_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../os/os.h"

/* Invariants: checked in debug builds (NDEBUG unset), free in release. */
#define CONC_ASSERT(cond) assert(cond)

#define CONC_LIKELY(x) __builtin_expect(!!(x), 1)
#define CONC_UNLIKELY(x) __builtin_expect(!!(x), 0)

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

#endif /* CONC_CORE_INTERNAL_H */
