/**
 * @file conc/waitq_types.h
 * @brief Private storage types embedded in libconc's caller-allocated objects.
 *
 * Users never touch these fields; they are declared here only so that objects
 * such as conc_mutex_t can live on the stack, in static memory or inside
 * other structs. Their layout may change between releases.
 */
#ifndef CONC_WAITQ_TYPES_H
#define CONC_WAITQ_TYPES_H

#include <stdint.h>

#include "conc/export.h"

struct conc__waiter;

/** @private A FIFO of blocked waiters (threads, later also tasks). */
typedef struct conc__waitq {
    struct conc__waiter *head_;
    struct conc__waiter *tail_;
} conc__waitq_t;

/** @private Static initialiser for an empty conc__waitq_t. */
#define CONC__WAITQ_INIT \
    {                    \
        0, 0             \
    }

#endif /* CONC_WAITQ_TYPES_H */
