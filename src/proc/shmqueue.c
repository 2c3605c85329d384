/*
 * The queue shared between processes (conc/shmqueue.h).
 *
 * Everything lives in one shared mapping: a header, then `capacity` slots of
 * `item_size` bytes. head and tail count items ever taken and ever put; the
 * slot of position p is p % capacity. Both move only under the robust lock,
 * and each moves in one store after the copy it commits, so the queue is
 * consistent at every instant and a process that dies holding the lock
 * leaves nothing to repair: the next holder only counts the recovery and
 * wakes everyone, in case the dead process had published an item but not
 * yet woken the waiters.
 *
 * Waiting is not a process-shared condition variable: glibc's can leave a
 * signaller waiting forever for a waiter that was killed. Each side waits on
 * a sequence word instead (items_seq for getters, room_seq for putters),
 * read under the lock and bumped under the lock by whoever changes what it
 * waits for, so no wake-up is lost; the sleeper flags only save wakes, and
 * a dead sleeper's flag costs one wake, never a hang. Waits are cut into
 * slices of at most RECHECK_NS so that a waiter also notices a lock whose
 * holder died before anyone else touches the queue.
 */
#include <string.h>

#include "conc/shmqueue.h"
#include "core/internal.h"
#include "core/waitq.h"
#include "os/shm.h"
#include "shmqueue_internal.h"

#define HANDLE_MAGIC 0x53484d51u /* "SHMQ": an open conc_shmqueue_t */
#define RECHECK_NS CONC_MS(100)

static conc__shm_t *shared_of(const conc_shmqueue_t *q)
{
    return q && q->magic_ == HANDLE_MAGIC ? q->shared_ : NULL;
}

static unsigned char *slot(conc__shm_t *s, uint64_t pos)
{
    return (unsigned char *)s + s->items_offset + (size_t)(pos % s->capacity) * s->item_size;
}

/* ---- setting up ----------------------------------------------------------- */

static int size_of(size_t item_size, size_t capacity, size_t *total)
{
    if (item_size == 0 || capacity == 0)
        return CONC_EINVAL;
    if (capacity > (SIZE_MAX - CONC__SHM_ITEMS_OFFSET) / item_size)
        return CONC_EOVERFLOW;
    *total = CONC__SHM_ITEMS_OFFSET + item_size * capacity;
    return 0;
}

/* On fresh zeroed memory; the magic goes last, with release, so that an
 * opener that sees it sees a usable queue. */
static int setup(conc__shm_t *s, size_t item_size, size_t capacity, size_t total)
{
    int rc = conc__os_robust_lock_init(&s->lock);

    if (rc != 0)
        return rc;
    s->version = CONC__SHM_VERSION;
    s->item_size = item_size;
    s->capacity = capacity;
    s->map_size = total;
    s->items_offset = CONC__SHM_ITEMS_OFFSET;
    atomic_store_explicit(&s->magic, CONC__SHM_MAGIC, memory_order_release);
    return 0;
}

static void attach(conc_shmqueue_t *q, conc__shm_t *s, size_t size)
{
    q->shared_ = s;
    q->map_size_ = size;
    q->magic_ = HANDLE_MAGIC;
}

int conc_shmqueue_init(conc_shmqueue_t *q, size_t item_size, size_t capacity)
{
    size_t total;
    void *p;

    if (!q)
        return CONC_EINVAL;
    int rc = size_of(item_size, capacity, &total);
    if (rc == 0)
        rc = conc__os_shm_anon(total, &p);
    if (rc != 0)
        return rc;
    rc = setup(p, item_size, capacity, total);
    if (rc != 0) {
        conc__os_shm_unmap(p, total);
        return rc;
    }
    attach(q, p, total);
    return 0;
}

/* "/" and then 1 to CONC_SHMQUEUE_NAME_MAX - 1 characters, no other '/'. */
static bool valid_name(const char *name)
{
    if (!name || name[0] != '/')
        return false;
    size_t n = strnlen(name, CONC_SHMQUEUE_NAME_MAX + 1);
    return n > 1 && n <= CONC_SHMQUEUE_NAME_MAX && !strchr(name + 1, '/');
}

int conc_shmqueue_create(conc_shmqueue_t *q, const char *name, size_t item_size, size_t capacity)
{
    size_t total;
    void *p;

    if (!q || !valid_name(name))
        return CONC_EINVAL;
    int rc = size_of(item_size, capacity, &total);
    if (rc == 0)
        rc = conc__os_shm_create(name, total, &p);
    if (rc != 0)
        return rc;
    rc = setup(p, item_size, capacity, total);
    if (rc != 0) {
        conc__os_shm_unmap(p, total);
        conc__os_shm_unlink(name);
        return rc;
    }
    attach(q, p, total);
    return 0;
}

/* A mapping that claims to be a queue must agree with itself. */
static bool plausible(const conc__shm_t *s, size_t size)
{
    size_t total;

    return s->version == CONC__SHM_VERSION && s->map_size == size &&
           s->items_offset == CONC__SHM_ITEMS_OFFSET &&
           size_of(s->item_size, s->capacity, &total) == 0 && total == size;
}

/* 0 for a usable queue, CONC_EAGAIN while its creator is still setting it
 * up (no magic yet), CONC_EINVAL for anything else. */
static int check_mapping(const conc__shm_t *s, size_t size)
{
    if (size < sizeof *s)
        return CONC_EINVAL;
    uint32_t magic = atomic_load_explicit(&s->magic, memory_order_acquire);
    if (magic == 0)
        return CONC_EAGAIN;
    return magic == CONC__SHM_MAGIC && plausible(s, size) ? 0 : CONC_EINVAL;
}

int conc_shmqueue_open(conc_shmqueue_t *q, const char *name)
{
    size_t size;
    void *p;

    if (!q || !valid_name(name))
        return CONC_EINVAL;
    int rc = conc__os_shm_open(name, &p, &size);
    if (rc != 0)
        return rc;
    conc__shm_t *s = p;
    rc = check_mapping(s, size);
    if (rc != 0) {
        conc__os_shm_unmap(p, size);
        return rc;
    }
    attach(q, s, size);
    return 0;
}

int conc_shmqueue_unlink(const char *name)
{
    return valid_name(name) ? conc__os_shm_unlink(name) : CONC_EINVAL;
}

int conc_shmqueue_close(conc_shmqueue_t *q)
{
    conc__shm_t *s = shared_of(q);

    if (!s)
        return CONC_EINVAL;
    q->magic_ = 0;
    q->shared_ = NULL;
    conc__os_shm_unmap(s, q->map_size_);
    return 0;
}

/* ---- the lock and the waits ---------------------------------------------- */

/* Under the lock. *sleepers is a flag, not a count: a sleeper sets it
 * before it sleeps; the first bump after that clears it and wakes all. A
 * sleeper read its seq under the lock, so a bump that cleared its flag
 * before it slept has also moved the seq, and its futex wait returns at
 * once. (A count, decremented only when the sleeper runs again, made every
 * operation of a busy machine pay a wake call; a dead sleeper in it, for
 * ever.) */
static void bump(_Atomic uint32_t *seq, _Atomic uint32_t *sleepers)
{
    atomic_fetch_add_explicit(seq, 1, memory_order_seq_cst);
    if (atomic_load_explicit(sleepers, memory_order_seq_cst) &&
        atomic_exchange_explicit(sleepers, 0, memory_order_seq_cst))
        conc__os_shared_wake_all(seq);
}

/* How long a call that must not wait for items may wait for the lock:
 * the holder only copies an item, unless it is stopped (SIGSTOP, a
 * debugger); then CONC_NOWAIT gives up instead of hanging. */
#define NOWAIT_LOCK_NS CONC_MS(10)

/* Take the lock before the deadline (negative: none); after the death of a
 * holder, count it and wake everyone (it may have published an item without
 * waking anybody). */
static int lock(conc__shm_t *s, int64_t deadline)
{
    int rc = conc__os_robust_lock(&s->lock, deadline);

    if (rc == CONC__OS_LOCK_RECOVERED) {
        s->recoveries++;
        bump(&s->items_seq, &s->getters);
        bump(&s->room_seq, &s->putters);
        rc = 0;
    }
    return rc;
}

static void unlock(conc__shm_t *s)
{
    conc__os_robust_unlock(&s->lock);
}

/* Inside a task: poll with conc_sleep(), which suspends only the task (and
 * returns CONC_ECANCELED when it is cancelled). */
static int task_wait(_Atomic uint32_t *seq, uint32_t seen, int64_t until)
{
    int64_t nap = CONC_US(50);

    while (atomic_load_explicit(seq, memory_order_acquire) == seen) {
        int64_t now = conc_now_ns();
        if (now >= until)
            return CONC_ETIMEDOUT;
        int rc = conc_sleep(until - now < nap ? until - now : nap);
        if (rc != 0)
            return rc;
        nap = nap * 2 < CONC_MS(1) ? nap * 2 : CONC_MS(1);
    }
    return 0;
}

/* Sleep until *seq moves from seen, the deadline, or the end of a recheck
 * slice (then 0: the caller looks again). Registered in *sleepers. */
static int wait_change(_Atomic uint32_t *seq, _Atomic uint32_t *sleepers, uint32_t seen,
                       int64_t deadline)
{
    int64_t until = conc_now_ns() + RECHECK_NS;
    bool last_slice = deadline >= 0 && deadline <= until;
    int rc;

    if (last_slice)
        until = deadline;
    if (conc__installed_context.ops) {
        rc = task_wait(seq, seen, until);
    } else {
        atomic_store_explicit(sleepers, 1, memory_order_seq_cst);
        rc = conc__os_shared_wait(seq, seen, until);
    }
    return rc == CONC_ETIMEDOUT && !last_slice ? 0 : rc;
}

/* After a put (get) found the queue full (empty), with the lock released:
 * 0 to look again once *seq moved from seen or a recheck slice ended, else
 * what ends the call: CONC_EAGAIN for CONC_NOWAIT, CONC_ETIMEDOUT past the
 * deadline, CONC_ECANCELED for a cancelled task. */
static int await_turn(_Atomic uint32_t *seq, _Atomic uint32_t *sleepers, uint32_t seen,
                      int64_t timeout_ns, int64_t deadline)
{
    if (timeout_ns == CONC_NOWAIT)
        return CONC_EAGAIN;
    if (deadline >= 0 && conc_now_ns() >= deadline)
        return CONC_ETIMEDOUT;
    int rc = wait_change(seq, sleepers, seen, deadline);
    return rc == CONC_ECANCELED ? rc : 0; /* a timeout is seen on the next look */
}

static int64_t deadline_of(int64_t timeout_ns)
{
    return timeout_ns == CONC_NOWAIT ? 0 : conc__deadline(timeout_ns);
}

/* The lock for a put or get: within the caller's deadline; CONC_NOWAIT gets
 * NOWAIT_LOCK_NS and then reports CONC_EAGAIN (would block); a timed call
 * that runs out reports CONC_ETIMEDOUT, never before its deadline. */
static int lock_for(conc__shm_t *s, int64_t timeout_ns, int64_t deadline)
{
    for (;;) {
        int64_t until = timeout_ns == CONC_NOWAIT ? conc__deadline(NOWAIT_LOCK_NS) : deadline;
        int rc = lock(s, until);
        if (rc != CONC_ETIMEDOUT)
            return rc;
        if (timeout_ns == CONC_NOWAIT)
            return CONC_EAGAIN;
        if (conc_now_ns() >= deadline)
            return CONC_ETIMEDOUT;
    }
}

/* ---- put and get ------------------------------------------------------------ */

int conc_shmqueue_put(conc_shmqueue_t *q, const void *item, int64_t timeout_ns)
{
    conc__shm_t *s = shared_of(q);

    if (!s || !item)
        return CONC_EINVAL;
    int64_t deadline = deadline_of(timeout_ns);
    for (;;) {
        int rc = lock_for(s, timeout_ns, deadline);
        if (rc != 0)
            return rc;
        if (s->closed) {
            unlock(s);
            return CONC_ECLOSED;
        }
        uint64_t tail = atomic_load_explicit(&s->tail, memory_order_relaxed);
        if (tail - atomic_load_explicit(&s->head, memory_order_relaxed) < s->capacity) {
            memcpy(slot(s, tail), item, s->item_size);
            /* The commit: from here no death can lose the item. */
            atomic_store_explicit(&s->tail, tail + 1, memory_order_release);
            bump(&s->items_seq, &s->getters);
            unlock(s);
            return 0;
        }
        uint32_t seen = atomic_load_explicit(&s->room_seq, memory_order_relaxed);
        unlock(s);
        if ((rc = await_turn(&s->room_seq, &s->putters, seen, timeout_ns, deadline)) != 0)
            return rc;
    }
}

int conc_shmqueue_get(conc_shmqueue_t *q, void *out, int64_t timeout_ns)
{
    conc__shm_t *s = shared_of(q);

    if (!s || !out)
        return CONC_EINVAL;
    int64_t deadline = deadline_of(timeout_ns);
    for (;;) {
        int rc = lock_for(s, timeout_ns, deadline);
        if (rc != 0)
            return rc;
        uint64_t head = atomic_load_explicit(&s->head, memory_order_relaxed);
        if (atomic_load_explicit(&s->tail, memory_order_relaxed) != head) {
            memcpy(out, slot(s, head), s->item_size);
            atomic_store_explicit(&s->head, head + 1, memory_order_release);
            bump(&s->room_seq, &s->putters);
            unlock(s);
            return 0;
        }
        bool closed = s->closed;
        uint32_t seen = atomic_load_explicit(&s->items_seq, memory_order_relaxed);
        unlock(s);
        if (closed)
            return CONC_ECLOSED;
        if ((rc = await_turn(&s->items_seq, &s->getters, seen, timeout_ns, deadline)) != 0)
            return rc;
    }
}

int conc_shmqueue_shutdown(conc_shmqueue_t *q)
{
    conc__shm_t *s = shared_of(q);

    if (!s)
        return CONC_EINVAL;
    int rc = lock(s, CONC_FOREVER);
    if (rc != 0)
        return rc;
    s->closed = 1;
    bump(&s->items_seq, &s->getters);
    bump(&s->room_seq, &s->putters);
    unlock(s);
    return 0;
}

/* ---- inspection ------------------------------------------------------------- */

size_t conc_shmqueue_qsize(conc_shmqueue_t *q)
{
    conc__shm_t *s = shared_of(q);

    if (!s || lock(s, CONC_FOREVER) != 0)
        return 0;
    size_t n = (size_t)(atomic_load_explicit(&s->tail, memory_order_relaxed) -
                        atomic_load_explicit(&s->head, memory_order_relaxed));
    unlock(s);
    return n;
}

size_t conc_shmqueue_capacity(const conc_shmqueue_t *q)
{
    const conc__shm_t *s = shared_of(q);

    return s ? (size_t)s->capacity : 0;
}

size_t conc_shmqueue_item_size(const conc_shmqueue_t *q)
{
    const conc__shm_t *s = shared_of(q);

    return s ? (size_t)s->item_size : 0;
}

uint64_t conc_shmqueue_recoveries(conc_shmqueue_t *q)
{
    conc__shm_t *s = shared_of(q);

    if (!s || lock(s, CONC_FOREVER) != 0)
        return 0;
    uint64_t n = s->recoveries;
    unlock(s);
    return n;
}
