/*
 * Shared memory and process-shared synchronisation, for the queue shared
 * between processes (src/proc/shmqueue.c). Part of the OS layer: only the
 * files implementing it include platform headers.
 */
#ifndef CONC_OS_SHM_H
#define CONC_OS_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "os.h"

/* Map size bytes of zeroed memory shared with the children this process
 * forks afterwards. CONC_ENOMEM. */
int conc__os_shm_anon(size_t size, void **out);
/* Create the named mapping (a POSIX shared memory object) of size zeroed
 * bytes and map it. CONC_EEXIST when the name exists, CONC_EINVAL for a bad
 * name, CONC_EPERM, CONC_ENOMEM, CONC_ELIMIT. */
int conc__os_shm_create(const char *name, size_t size, void **out);
/* Map an existing named mapping; *size gets its size. CONC_ENOENT,
 * CONC_EAGAIN for one not sized yet (its creator is between shm_open() and
 * ftruncate()), CONC_EINVAL, CONC_EPERM, CONC_ENOMEM. */
int conc__os_shm_open(const char *name, void **out, size_t *size);
void conc__os_shm_unmap(void *p, size_t size);
/* Remove the name; processes that mapped it keep their mapping.
 * CONC_ENOENT, CONC_EINVAL, CONC_EPERM. */
int conc__os_shm_unlink(const char *name);

/* A lock in shared memory that survives the death of its holder: the next
 * process to lock it learns that (CONC__OS_LOCK_RECOVERED) and gets it. */
typedef struct conc__os_robust_lock {
    _Alignas(16) unsigned char opaque[64];
} conc__os_robust_lock_t;

enum { CONC__OS_LOCK_RECOVERED = 1 };

/* On zeroed shared memory, once, before any other process uses it.
 * CONC_ENOTSUP where the platform has no robust process-shared lock. */
int conc__os_robust_lock_init(conc__os_robust_lock_t *l);
/* 0, or CONC__OS_LOCK_RECOVERED: the previous holder died holding it, the
 * caller holds it now and it is consistent again (what it protects is the
 * caller's to repair). CONC_ETIMEDOUT when the monotonic deadline (negative:
 * none) passes first, as it does while a stopped process (SIGSTOP, a
 * debugger) holds it. CONC_EINVAL for memory that is not such a lock. */
int conc__os_robust_lock(conc__os_robust_lock_t *l, int64_t deadline_ns);
void conc__os_robust_unlock(conc__os_robust_lock_t *l);

/* conc__os_addr_wait()/wake for a word in memory shared between processes. */
int conc__os_shared_wait(_Atomic uint32_t *addr, uint32_t expected, int64_t deadline_ns);
void conc__os_shared_wake_all(_Atomic uint32_t *addr);

#endif /* CONC_OS_SHM_H */
