/*
 * The POSIX part of the OS layer: threads, thread-local keys, the monotonic
 * clock, sleeping, stacks. Linux-specific pieces live in linux.c, the
 * fallbacks for other POSIX systems in posix_other.c; meson.build picks one.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "os.h"
#include "timespec.h"

_Static_assert(sizeof(pthread_t) <= sizeof(uintptr_t), "pthread_t must fit a uintptr_t");
_Static_assert(sizeof(pthread_key_t) <= sizeof(uintptr_t), "pthread_key_t must fit a uintptr_t");

static pthread_t thread_from_handle(conc__os_thread_t t)
{
    pthread_t pt;
    memcpy(&pt, &t.handle, sizeof pt);
    return pt;
}

static int error_from_errno(int e)
{
    switch (e) {
    case 0:
        return 0;
    case EAGAIN:
        return CONC_ELIMIT;
    case ENOMEM:
        return CONC_ENOMEM;
    case EDEADLK:
        return CONC_EDEADLK;
    case ESRCH:
        return CONC_ESRCH;
    case EPERM:
        return CONC_EPERM;
    default:
        return CONC_EINVAL;
    }
}

static size_t round_up_to_page(size_t n)
{
    size_t page = conc__os_page_size();
    return (n + page - 1) / page * page;
}

int conc__os_thread_start(conc__os_thread_t *t, conc__os_thread_fn fn, void *arg, size_t stack_size,
                          bool detached)
{
    pthread_attr_t attr;
    pthread_t pt;
    int err = pthread_attr_init(&attr);

    if (err)
        return error_from_errno(err);
    if (stack_size)
        err = pthread_attr_setstacksize(&attr, round_up_to_page(stack_size));
    if (!err && detached)
        err = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (!err)
        err = pthread_create(&pt, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (err)
        return error_from_errno(err);
    t->handle = 0;
    memcpy(&t->handle, &pt, sizeof pt);
    return 0;
}

int conc__os_thread_join(conc__os_thread_t t, void **result)
{
    return error_from_errno(pthread_join(thread_from_handle(t), result));
}

int conc__os_thread_detach(conc__os_thread_t t)
{
    return error_from_errno(pthread_detach(thread_from_handle(t)));
}

_Noreturn void conc__os_thread_exit(void)
{
    pthread_exit(NULL);
}

void conc__os_thread_yield(void)
{
    sched_yield();
}

size_t conc__os_thread_min_stack(void)
{
    long min = sysconf(_SC_THREAD_STACK_MIN);

    return min > 0 ? (size_t)min : (size_t)16384;
}

size_t conc__os_page_size(void)
{
    static _Atomic size_t cached;
    size_t page = atomic_load_explicit(&cached, memory_order_relaxed);

    if (!page) {
        long p = sysconf(_SC_PAGESIZE);
        page = p > 0 ? (size_t)p : 4096;
        atomic_store_explicit(&cached, page, memory_order_relaxed);
    }
    return page;
}

int conc__os_tls_create(conc__os_tls_key_t *key, void (*destructor)(void *))
{
    pthread_key_t k;
    int err = pthread_key_create(&k, destructor);

    if (err)
        return error_from_errno(err);
    key->handle = (uintptr_t)k;
    return 0;
}

void conc__os_tls_delete(conc__os_tls_key_t key)
{
    pthread_key_delete((pthread_key_t)key.handle);
}

void *conc__os_tls_get(conc__os_tls_key_t key)
{
    return pthread_getspecific((pthread_key_t)key.handle);
}

int conc__os_tls_set(conc__os_tls_key_t key, void *value)
{
    return error_from_errno(pthread_setspecific((pthread_key_t)key.handle, value));
}

int64_t conc_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

void conc__os_sleep_until(int64_t deadline_ns)
{
    struct timespec ts;
    bool fits;

    /* Absolute sleep: an interrupted call resumes against the same deadline.
     * A deadline past what time_t holds sleeps to that limit, again. */
    do {
        fits = conc__os_timespec_of(deadline_ns, &ts);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
    } while (!fits);
}

int conc__os_stack_map(size_t size, bool guard, void **base_out)
{
    size_t page = conc__os_page_size();
    size_t total = round_up_to_page(size) + (guard ? page : 0);
    char *mem = mmap(NULL, total, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (mem == MAP_FAILED)
        return CONC_ENOMEM;
    if (guard && mprotect(mem, page, PROT_NONE) != 0) {
        munmap(mem, total);
        return CONC_ENOMEM;
    }
    *base_out = mem + (guard ? page : 0);
    return 0;
}

void conc__os_stack_unmap(void *base, size_t size, bool guard)
{
    size_t page = conc__os_page_size();
    char *mem = (char *)base - (guard ? page : 0);

    munmap(mem, round_up_to_page(size) + (guard ? page : 0));
}

void conc__os_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause");
#elif defined(__aarch64__) || (defined(__arm__) && __ARM_ARCH >= 7)
    __asm__ __volatile__("yield");
#elif defined(__riscv)
    __asm__ __volatile__(".insn i 0x0F, 0, x0, x0, 0x010"); /* pause hint */
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}
