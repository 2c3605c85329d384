/*
 * The thin OS layer. Everything libconc needs from the operating system or
 * RTOS goes through this header, and only files under src/os/ include
 * platform headers. A port implements every function here in one file (or a
 * few, one concept each) and lists them in meson.build; docs/porting.md
 * describes each contract.
 *
 * All functions return 0 or a negative CONC_E* code where they can fail.
 * Deadlines are absolute monotonic nanoseconds (conc_now_ns()); a negative
 * deadline means "no deadline".
 */
#ifndef CONC_OS_H
#define CONC_OS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conc/error.h"
#include "conc/time.h"

#define CONC_HIDDEN __attribute__((visibility("hidden")))
/* Thread-locals read on lock fast paths: initial-exec avoids a call to
 * __tls_get_addr in the shared library. They are a few bytes, well within
 * the static TLS that loaders reserve even for dlopen()ed libraries. */
#define CONC__TLS_FAST __attribute__((tls_model("initial-exec")))

/* ---- threads ---------------------------------------------------------- */

/* An OS thread handle. Wide enough for pthread_t, HANDLE or an RTOS id. */
typedef struct conc__os_thread {
    uintptr_t handle;
} conc__os_thread_t;

typedef void *(*conc__os_thread_fn)(void *arg);

/*
 * Start a thread running fn(arg). stack_size 0 means the platform default.
 * Returns CONC_ELIMIT when the OS refuses for lack of resources,
 * CONC_EINVAL for a stack size the OS rejects, CONC_ENOMEM.
 */
int conc__os_thread_start(conc__os_thread_t *t, conc__os_thread_fn fn, void *arg, size_t stack_size,
                          bool detached);
/* Wait for a joinable thread to end; *result gets fn's return value. */
int conc__os_thread_join(conc__os_thread_t t, void **result);
int conc__os_thread_detach(conc__os_thread_t t);
/* End the calling thread at once, as if its fn had returned (TLS destructors
 * run). For libconc's conc_thread_exit(). */
_Noreturn void conc__os_thread_exit(void);
/* Name the calling thread as seen by the OS (top -H, gdb); truncated to the
 * platform's limit (15 bytes on Linux). */
void conc__os_thread_set_name(const char *name);
/* Ask the OS to wake the calling thread as close to its deadlines as it can
 * (Linux otherwise adds up to 50 us of "timer slack" to every sleep). For
 * the timer service; a no-op where the OS has no such knob. */
void conc__os_thread_precise_timers(void);
/* The kernel's id of the calling thread (Linux TID), for ps, top, gdb. */
uint64_t conc__os_thread_native_id(void);
void conc__os_thread_yield(void);
/* The smallest stack size the OS accepts for a new thread. */
size_t conc__os_thread_min_stack(void);
/* Number of CPUs available to this process (at least 1). */
int conc__os_cpu_count(void);
size_t conc__os_page_size(void);

/* ---- thread-local storage ----------------------------------------------
 * Dynamic keys with destructors run at thread exit, for conc_tls_*. Static
 * per-thread data inside libconc uses C11 _Thread_local instead. */
typedef struct conc__os_tls_key {
    uintptr_t handle;
} conc__os_tls_key_t;

int conc__os_tls_create(conc__os_tls_key_t *key, void (*destructor)(void *));
void conc__os_tls_delete(conc__os_tls_key_t key);
void *conc__os_tls_get(conc__os_tls_key_t key);
int conc__os_tls_set(conc__os_tls_key_t key, void *value);

/* ---- time -------------------------------------------------------------- */

/* conc_now_ns() is implemented by the OS layer (monotonic clock). */
/* Sleep until the monotonic deadline; resumes after signals. */
void conc__os_sleep_until(int64_t deadline_ns);

/* ---- file descriptors ------------------------------------------------- */

/* Block the calling thread until fd is ready for one of events
 * (CONC_READABLE | CONC_WRITABLE, conc/io.h) or the deadline passes; signals
 * do not stretch the deadline. Returns the ready events (> 0; an error or
 * hang-up on fd reports every requested event, so the caller's next read or
 * write sees it), CONC_ETIMEDOUT, or CONC_EINVAL when fd is not open. */
int conc__os_fd_wait(int fd, unsigned events, int64_t deadline_ns);
/* A deadline as the milliseconds timeout of poll() and epoll_wait(): -1 for
 * none (negative), 0 when passed, else rounded up (so a wait never ends
 * before the deadline) and capped at INT_MAX. */
int conc__os_timeout_ms(int64_t deadline_ns);
/* Whether fd is an open descriptor of this process. */
bool conc__os_fd_is_open(int fd);
/* Make fd non-blocking: 0 or CONC_EINVAL. */
int conc__os_fd_set_nonblock(int fd);
/* Whether fd is a socket (fstat()); false for a descriptor not open. */
bool conc__os_fd_is_socket(int fd);
/* One read or write on a non-blocking descriptor, EINTR retried: recv() and
 * send() for a socket (`socket`, from conc__os_fd_is_socket()), read() and
 * write() for anything else. 0 with *n bytes (a read of 0 is end of file);
 * CONC_EAGAIN when it would block; CONC_ECLOSED when the peer is gone
 * (EPIPE, ECONNRESET; writes never raise SIGPIPE on sockets); CONC_EIO for
 * another error. */
int conc__os_fd_read(int fd, void *buf, size_t cap, size_t *n, bool socket);
int conc__os_fd_write(int fd, const void *buf, size_t len, size_t *n, bool socket);
/* close(): 0, or CONC_EINVAL for a descriptor that was not open. */
int conc__os_fd_close(int fd);
/* The bare system calls under conc__os_fd_read/write: read(), recv(),
 * send() with MSG_NOSIGNAL, write(); -1 and errno on failure, as the calls
 * themselves.
 * Not thread cancellation points where the platform allows
 * (sysio_linux.c). */
ssize_t conc__os_sys_read(int fd, void *buf, size_t cap);
ssize_t conc__os_sys_recv(int fd, void *buf, size_t cap);
ssize_t conc__os_sys_send(int fd, const void *buf, size_t len);
ssize_t conc__os_sys_write(int fd, const void *buf, size_t len);

/* ---- wake-up descriptor ---------------------------------------------
 * A descriptor that another thread (or a signal handler) makes readable to
 * wake a loop sleeping in its poller: an eventfd on Linux (one descriptor),
 * a non-blocking pipe elsewhere. Both ends are close-on-exec. */
typedef struct conc__os_wakefd {
    int read_fd;  /* what the poller watches */
    int write_fd; /* what signal() writes; equal to read_fd for an eventfd */
} conc__os_wakefd_t;

/* CONC_ELIMIT when out of descriptors, CONC_ENOMEM. */
int conc__os_wakefd_open(conc__os_wakefd_t *w);
/* Make read_fd readable. Async-signal-safe; never blocks (a full pipe is
 * already readable, so the write may be dropped). */
void conc__os_wakefd_signal(const conc__os_wakefd_t *w);
/* Consume every pending signal, so read_fd is no longer readable. */
void conc__os_wakefd_drain(const conc__os_wakefd_t *w);
void conc__os_wakefd_close(conc__os_wakefd_t *w);

/* ---- address wait: the one blocking primitive ------------------------
 * Block while *addr == expected, until woken or the deadline passes. May
 * return spuriously; callers re-check their condition. Returns 0 when woken
 * (or the value differed), CONC_ETIMEDOUT when the deadline passed. A wake on
 * an address nobody waits on is a no-op, and memory at addr may already be
 * reused by then: implementations must not write through it. Linux maps this
 * to the futex; other POSIX systems to a hashed table of condvars.
 */
int conc__os_addr_wait(_Atomic uint32_t *addr, uint32_t expected, int64_t deadline_ns);
void conc__os_addr_wake_one(_Atomic uint32_t *addr);
void conc__os_addr_wake_all(_Atomic uint32_t *addr);

/* ---- the parker: one per thread ---------------------------------------
 * A binary token: unpark() makes it available (idempotent), park() consumes
 * it or blocks until it is made available or the deadline passes. An unpark
 * that comes before the park is not lost. The parker of a thread lives as long
 * as the thread; waking code may unpark it from any thread.
 */
typedef struct conc__os_parker conc__os_parker_t;

/* Inline: lock fast paths ask for it on every call (conc__context_id()). */
extern _Thread_local struct conc__os_parker conc__os_self_parker CONC__TLS_FAST;
static inline conc__os_parker_t *conc__os_parker_self(void)
{
    return &conc__os_self_parker;
}
/* Returns 0 when the token was consumed, CONC_ETIMEDOUT at the deadline. */
int conc__os_park(conc__os_parker_t *p, int64_t deadline_ns);
void conc__os_unpark(conc__os_parker_t *p);

/* ---- the small internal lock --------------------------------------------
 * A 32-bit word, zero when unlocked (so static initialisation is {0}). Meant
 * for short critical sections inside libconc; not recursive, not fair. */
typedef _Atomic uint32_t conc__os_lock_t;
#define CONC__OS_LOCK_INIT 0u

void conc__os_lock_slow(conc__os_lock_t *l);
void conc__os_unlock_slow(conc__os_lock_t *l);

static inline bool conc__os_trylock(conc__os_lock_t *l)
{
    uint32_t unlocked = 0;
    return atomic_compare_exchange_strong_explicit(l, &unlocked, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

static inline void conc__os_lock(conc__os_lock_t *l)
{
    if (!conc__os_trylock(l))
        conc__os_lock_slow(l);
}

static inline void conc__os_unlock(conc__os_lock_t *l)
{
    /* 1 = locked without waiters; 2 = waiters may sleep on the word. */
    if (atomic_exchange_explicit(l, 0, memory_order_release) != 1)
        conc__os_unlock_slow(l);
}

/* ---- memory for stacks ------------------------------------------------- */

/* Reserve size bytes (a multiple of the page size) of read-write memory,
 * committed lazily, with an inaccessible guard page below it when guard is
 * true. *base_out is the lowest usable address. */
int conc__os_stack_map(size_t size, bool guard, void **base_out);
void conc__os_stack_unmap(void *base, size_t size, bool guard);

/* ---- spinning ---------------------------------------------------------- */

/* A hint to the CPU inside a spin loop (pause/yield instruction). */
void conc__os_cpu_relax(void);

/* ---- asymmetric barriers ---------------------------------------------------
 * A full memory barrier run on every thread of the process that is running
 * now (Linux membarrier()), so that the frequent side of a store-then-load
 * handshake needs no barrier instruction and the rare side pays for both.
 * Init registers the process once: true when the barrier is available (then
 * for good), false when it is not (the caller uses fences on both sides). */
bool conc__os_process_barrier_init(void);
/* False if the barrier failed (a seccomp filter installed after init). */
bool conc__os_process_barrier(void);

#endif /* CONC_OS_H */
