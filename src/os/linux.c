/*
 * Linux specifics of the OS layer: the futex behind address waits, kernel
 * thread ids and names, and the affinity-aware CPU count.
 */
#include <errno.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "os.h"
#include "shm.h"
#include "timespec.h"

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
    /* The kernel wants the plain word's address; copying the pointer drops
     * the _Atomic qualifier without a cast the compiler would flag. */
    uint32_t *word;

    memcpy(&word, &addr, sizeof word);
    return syscall(SYS_futex, word, op, val, ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

int conc__os_addr_wait(_Atomic uint32_t *addr, uint32_t expected, int64_t deadline_ns)
{
    struct timespec ts, *tsp = NULL;

    if (deadline_ns >= 0 && conc__os_timespec_of(deadline_ns, &ts))
        tsp = &ts;
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
     * retry after EINTR never stretches the wait. */
    if (futex(addr, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, tsp) == 0)
        return 0;
    if (errno == ETIMEDOUT)
        return CONC_ETIMEDOUT;
    return 0; /* EAGAIN (value changed) or EINTR: the caller re-checks */
}

void conc__os_addr_wake_one(_Atomic uint32_t *addr)
{
    futex(addr, FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG, 1, NULL);
}

void conc__os_addr_wake_all(_Atomic uint32_t *addr)
{
    futex(addr, FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG, INT32_MAX, NULL);
}

uint64_t conc__os_thread_native_id(void)
{
    return (uint64_t)syscall(SYS_gettid);
}

void conc__os_thread_set_name(const char *name)
{
    char buf[16];

    /* The kernel keeps 15 bytes; longer names are cut, not refused. */
    strncpy(buf, name, sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    pthread_setname_np(pthread_self(), buf);
}

void conc__os_thread_precise_timers(void)
{
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
}

int conc__os_cpu_count(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

bool conc__os_process_barrier_init(void)
{
    /* The expedited barrier interrupts only the CPUs running this process's
     * threads (the plain one waits for an RCU grace period: milliseconds). */
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

    return cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
           syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

bool conc__os_process_barrier(void)
{
    return syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
}

/* The same, for words shared between processes: a futex without the
 * private flag is keyed by the physical page, not the address space. */
int conc__os_shared_wait(_Atomic uint32_t *addr, uint32_t expected, int64_t deadline_ns)
{
    struct timespec ts, *tsp = NULL;

    if (deadline_ns >= 0 && conc__os_timespec_of(deadline_ns, &ts))
        tsp = &ts;
    if (futex(addr, FUTEX_WAIT_BITSET, expected, tsp) == 0)
        return 0;
    return errno == ETIMEDOUT ? CONC_ETIMEDOUT : 0;
}

void conc__os_shared_wake_all(_Atomic uint32_t *addr)
{
    futex(addr, FUTEX_WAKE_BITSET, INT32_MAX, NULL);
}
