/*
 * The OS layer's specifics for POSIX systems other than Linux (macOS, the
 * BSDs): address waits on a hashed table of mutex + condition variable
 * buckets, thread names and ids through the platform's own calls. Condition
 * variables use CLOCK_MONOTONIC where the system allows it; elsewhere (macOS)
 * waits are sliced so a wall-clock jump cannot stretch a deadline.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__APPLE__)
#    include <pthread.h>
#elif defined(__FreeBSD__) || defined(__OpenBSD__)
#    include <pthread_np.h>
#endif

#include "os.h"
#include "shm.h"
#include "timespec.h"

#define BUCKETS 256

struct bucket {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int waiters;
};

static struct bucket buckets[BUCKETS];
static pthread_once_t buckets_once = PTHREAD_ONCE_INIT;

static void buckets_init(void)
{
    for (int i = 0; i < BUCKETS; i++) {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
#if !defined(__APPLE__)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
#endif
        pthread_mutex_init(&buckets[i].lock, NULL);
        pthread_cond_init(&buckets[i].cond, &attr);
        pthread_condattr_destroy(&attr);
    }
}

static struct bucket *bucket_for(const void *addr)
{
    uintptr_t h = (uintptr_t)addr;

    pthread_once(&buckets_once, buckets_init);
    h ^= h >> 17;
    h *= UINT64_C(0x9e3779b97f4a7c15) & UINTPTR_MAX;
    return &buckets[(h >> 8) % BUCKETS];
}

static void timed_cond_wait(struct bucket *b, int64_t deadline_ns)
{
#if defined(__APPLE__)
    /* No monotonic condvar clock: wait relative slices of at most 50 ms. */
    int64_t left = deadline_ns - conc_now_ns();
    if (left > CONC_MS(50))
        left = CONC_MS(50);
    struct timespec rel = { (time_t)(left / 1000000000), (long)(left % 1000000000) };
    pthread_cond_timedwait_relative_np(&b->cond, &b->lock, &rel);
#else
    struct timespec ts;

    /* Past what time_t holds: wait untimed (callers re-check the clock). */
    if (conc__os_timespec_of(deadline_ns, &ts))
        pthread_cond_timedwait(&b->cond, &b->lock, &ts);
    else
        pthread_cond_wait(&b->cond, &b->lock);
#endif
}

int conc__os_addr_wait(_Atomic uint32_t *addr, uint32_t expected, int64_t deadline_ns)
{
    struct bucket *b = bucket_for(addr);
    int rc = 0;

    pthread_mutex_lock(&b->lock);
    if (atomic_load(addr) == expected) {
        b->waiters++;
        if (deadline_ns < 0)
            pthread_cond_wait(&b->cond, &b->lock);
        else if (conc_now_ns() >= deadline_ns)
            rc = CONC_ETIMEDOUT;
        else
            timed_cond_wait(b, deadline_ns);
        b->waiters--;
        if (!rc && deadline_ns >= 0 && conc_now_ns() >= deadline_ns)
            rc = CONC_ETIMEDOUT;
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}

/* A bucket is shared by unrelated addresses, so every wake is a broadcast;
 * waiters re-check their own words. */
void conc__os_addr_wake_one(_Atomic uint32_t *addr)
{
    conc__os_addr_wake_all(addr);
}

void conc__os_addr_wake_all(_Atomic uint32_t *addr)
{
    struct bucket *b = bucket_for(addr);

    pthread_mutex_lock(&b->lock);
    if (b->waiters)
        pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

uint64_t conc__os_thread_native_id(void)
{
#if defined(__APPLE__)
    uint64_t id = 0;
    pthread_threadid_np(NULL, &id);
    return id;
#else
    return (uint64_t)(uintptr_t)pthread_self();
#endif
}

void conc__os_thread_set_name(const char *name)
{
#if defined(__APPLE__)
    pthread_setname_np(name);
#elif defined(__FreeBSD__) || defined(__OpenBSD__)
    pthread_set_name_np(pthread_self(), name);
#else
    (void)name;
#endif
}

void conc__os_thread_precise_timers(void)
{
}

int conc__os_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* No portable process-wide barrier: both sides of a handshake use fences. */
bool conc__os_process_barrier_init(void)
{
    return false;
}

bool conc__os_process_barrier(void)
{
    return false; /* never called: init said there is none */
}

/* Words shared between processes: no portable process-shared futex exists,
 * so a waiter polls the word, sleeping 50 us at first and at most 1 ms
 * between looks (documented in docs/shmqueue.md); a wake is then nothing. */
int conc__os_shared_wait(_Atomic uint32_t *addr, uint32_t expected, int64_t deadline_ns)
{
    int64_t nap = CONC_US(50);

    while (atomic_load(addr) == expected) {
        int64_t now = conc_now_ns();
        if (deadline_ns >= 0 && now >= deadline_ns)
            return CONC_ETIMEDOUT;
        int64_t until = now + nap;
        conc__os_sleep_until(deadline_ns >= 0 && deadline_ns < until ? deadline_ns : until);
        if (nap < CONC_MS(1))
            nap *= 2;
    }
    return 0;
}

void conc__os_shared_wake_all(_Atomic uint32_t *addr)
{
    (void)addr;
}
