/*
 * The layout of a shared queue's mapping (src/proc/shmqueue.c), for the
 * queue itself and for tests that stage a death inside the lock.
 */
#ifndef CONC_PROC_SHMQUEUE_INTERNAL_H
#define CONC_PROC_SHMQUEUE_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "os/shm.h"

#define CONC__SHM_MAGIC 0x434f4e43u /* set last by the creator */
#define CONC__SHM_VERSION 1u

typedef struct conc__shm {
    _Atomic uint32_t magic;
    uint32_t version;
    uint64_t item_size, capacity, map_size, items_offset;
    conc__os_robust_lock_t lock;
    /* Changed under the lock, each by one atomic release store after the
     * copy it commits (one store even on 32-bit targets). */
    _Atomic uint64_t head, tail; /* items ever taken, ever put */
    /* Under the lock. */
    uint64_t recoveries;
    uint32_t closed;
    /* Bumped under the lock; waited on outside it. */
    _Atomic uint32_t items_seq;
    _Atomic uint32_t room_seq;
    _Atomic uint32_t getters, putters; /* 1: someone may sleep on the seq */
} conc__shm_t;

#define CONC__SHM_ITEMS_OFFSET ((sizeof(conc__shm_t) + 63) & ~(size_t)63)

#endif /* CONC_PROC_SHMQUEUE_INTERNAL_H */
