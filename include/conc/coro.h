/**
 * @file conc/coro.h
 * @brief Stackful coroutines: resume a coroutine with a value, it yields one back.
 *
 * A coroutine is a function running on its own stack that can stop in the
 * middle (conc_coro_yield()) and be continued later (conc_coro_resume()).
 * Values travel both ways: resume passes one in, yield passes one out and
 * receives the next one, so a coroutine can generate and consume values
 * (Python's generators with `send()`, Lua's coroutines). The entry function
 * may simply return: its return value is the final result and the coroutine
 * is then done.
 *
 * Coroutines are cooperative and belong to no thread: whoever resumes one runs
 * it until it yields or returns. A coroutine may resume another (nesting); the
 * inner one yields back to the outer one. A suspended coroutine may be
 * resumed by a different thread than the one that ran it last, provided the
 * hand-over is synchronised (a queue, a mutex) and happens after the
 * conc_coro_resume() that ran it has returned: a coroutine object is never
 * used by two threads at the same time.
 *
 * Stacks come in three modes (conc_coro_stack_mode_t): guard page (default),
 * canary (cheap, for very many coroutines) and caller-supplied buffer. See
 * docs/coro.md for the memory model and the limits of each.
 */
#ifndef CONC_CORO_H
#define CONC_CORO_H

#include <stddef.h>
#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Default usable stack size, in bytes, when conc_coro_attr_t::stack_size is 0. */
#define CONC_CORO_STACK_DEFAULT ((size_t)64 * 1024)
/**
 * Smallest accepted usable stack size, in bytes. Signal handlers run on the
 * stack of the coroutine they interrupt (unless the program uses
 * sigaltstack()), and a signal frame alone takes several KiB on current CPUs.
 */
#define CONC_CORO_STACK_MIN ((size_t)16 * 1024)

/** How a coroutine's stack is obtained and protected. */
typedef enum conc_coro_stack_mode {
    /**
     * A private mapping with an inaccessible guard page below it: an overflow
     * faults at once (SIGSEGV). Costs two memory-map entries per stack, so
     * Linux's default vm.max_map_count (65530) limits a process to about 32,000
     * such stacks at the same time.
     */
    CONC_CORO_STACK_GUARD = 0,
    /**
     * No guard page: a canary word pair below the stack is checked at every
     * resume and every switch back. Stacks are carved from shared mappings,
     * so the map-count limit does not apply and a suspended coroutine that
     * uses little stack costs about one page of memory. An overflow is
     * detected late (at the next switch) and aborts the process with a
     * message; memory just below the stack may already be damaged by then.
     */
    CONC_CORO_STACK_CANARY = 1,
    /**
     * The caller's buffer (conc_coro_attr_t::stack), for static allocation.
     * A canary at its low end is checked at every switch as in the canary
     * mode. The buffer must outlive the coroutine and is never freed by libconc.
     */
    CONC_CORO_STACK_BUFFER = 2,
} conc_coro_stack_mode_t;

/** Creation options. Initialise with CONC_CORO_ATTR_INIT, then set fields. */
typedef struct conc_coro_attr {
    /** Usable stack size in bytes; 0 = CONC_CORO_STACK_DEFAULT. Rounded up
     *  to whole pages in the guard and canary modes. In the buffer mode it is
     *  the buffer's size and may not be 0. */
    size_t stack_size;
    /** One of conc_coro_stack_mode_t. */
    int stack_mode;
    /** The stack buffer for CONC_CORO_STACK_BUFFER; must be NULL otherwise. */
    void *stack;
} conc_coro_attr_t;

/** Default options: a CONC_CORO_STACK_DEFAULT stack with a guard page. */
#define CONC_CORO_ATTR_INIT            \
    {                                  \
        0, CONC_CORO_STACK_GUARD, NULL \
    }

/** What a coroutine is doing (returned by conc_coro_status()). */
typedef enum conc_coro_status {
    /** Created or yielded: conc_coro_resume() continues it. */
    CONC_CORO_SUSPENDED = 1,
    /** Running now, or waiting for a coroutine it resumed to yield back. */
    CONC_CORO_RUNNING = 2,
    /** Its entry function returned; it can only be destroyed. */
    CONC_CORO_DONE = 3,
} conc_coro_status_t;

/**
 * The entry function of a coroutine.
 * @param arg the @p arg given to conc_coro_create().
 * @param in  the value passed by the first conc_coro_resume().
 * @return the final result, handed to the conc_coro_resume() that ran it last.
 */
typedef void *(*conc_coro_fn)(void *arg, void *in);

/** A coroutine. Caller-allocated; every field is private. */
typedef struct conc_coro {
    /* The switch path's fields first, in one cache line. */
    void *sp_;                 /* saved stack pointer while suspended */
    void *back_sp_;            /* saved stack pointer of the resumer */
    void **in_;                /* where the pending yield wants its value */
    void **out_;               /* where the pending resume wants its value */
    struct conc_coro *parent_; /* the coroutine that resumed it; NULL: a thread */
    uintptr_t *canary_;        /* NULL in the guard mode */
    uint32_t state_;           /* a magic number | the status; 0 when destroyed */
    uint8_t stack_mode_;
    unsigned valgrind_stack_id_;
    void *xfer_; /* the first resume's value, then the result */
    conc_coro_fn fn_;
    void *arg_;
    void *stack_lo_; /* usable stack: [stack_lo_, stack_hi_) */
    void *stack_hi_;
    void *stack_owner_;         /* mapping or slab the stack came from */
    const void *back_stack_lo_; /* the resumer's stack, for AddressSanitizer */
    size_t back_stack_size_;
    void *asan_fake_stack_;
    void *tsan_fiber_;
    void *tsan_back_fiber_;
} conc_coro_t;

/**
 * @brief Create a suspended coroutine that will run fn(arg, in) on its own stack.
 *
 * Nothing runs until the first conc_coro_resume(). The stack is reserved but
 * committed lazily by the OS: a coroutine costs the pages its stack really
 * touches. Freed stacks are cached and reused by later creations.
 *
 * @param co   the object to initialise (caller-allocated).
 * @param attr options, or NULL for CONC_CORO_ATTR_INIT.
 * @param fn   the entry function.
 * @param arg  passed to @p fn unchanged.
 * @retval 0 success; @p co is suspended.
 * @retval CONC_EINVAL @p co or @p fn is NULL; an unknown stack mode; a stack
 *         size below CONC_CORO_STACK_MIN (after alignment of a buffer) or too
 *         large to round up; a buffer mode without a buffer, or a buffer given
 *         in another mode. @p co is left untouched.
 * @retval CONC_ENOMEM no memory for the stack: the address space or memory is
 *         exhausted, or (Linux) the process reached its limit of memory maps,
 *         vm.max_map_count (65530 by default; every guard-page stack uses two
 *         maps, so about 32,000 guard-page coroutines at once). Hint: use
 *         CONC_CORO_STACK_CANARY stacks for very many coroutines, or raise the
 *         limit (`sysctl vm.max_map_count=262144`). @p co is left untouched.
 *
 * Does not block (it may take the stack cache's short internal lock). Callable
 * from a thread or a coroutine, and from a timer callback; not from a signal
 * handler.
 */
CONC_API int conc_coro_create(conc_coro_t *co, const conc_coro_attr_t *attr, conc_coro_fn fn,
                              void *arg);

/**
 * @brief Run a suspended coroutine until it yields or returns.
 *
 * The caller (a thread or another coroutine) is suspended meanwhile. On the
 * first resume @p in becomes the entry function's second argument; later it is
 * what the pending conc_coro_yield() receives.
 *
 * @param co  the coroutine.
 * @param in  a value handed to the coroutine.
 * @param out if not NULL, receives the value the coroutine yielded, or its
 *            final result if it returned (then conc_coro_status() is
 *            CONC_CORO_DONE).
 * @retval 0 the coroutine yielded or returned.
 * @retval CONC_EINVAL @p co is NULL, not created or destroyed, or done.
 * @retval CONC_EBUSY @p co is running: it is the caller itself, or it is
 *         waiting for a coroutine it resumed (directly or not) to yield.
 *
 * Blocks the caller for as long as the coroutine runs, without any system call.
 * Callable from a thread or a coroutine; not from a signal handler. Aborts the
 * process with a message on stderr if the canary below a canary-mode or
 * buffer stack is found overwritten (a stack overflow already corrupted memory).
 */
CONC_API int conc_coro_resume(conc_coro_t *co, void *in, void **out);

/**
 * @brief Suspend the current coroutine, handing a value to its resumer.
 *
 * The pending conc_coro_resume() returns 0 with @p out; the next resume
 * continues here with its value stored in @p *in.
 *
 * @param out the value handed to the resumer.
 * @param in  if not NULL, receives the value of the resume that continues it.
 * @retval 0 resumed again.
 * @retval CONC_EPERM the caller is not a coroutine (a plain thread).
 *
 * Returns only when some thread or coroutine resumes the coroutine again; a
 * coroutine never resumed again is never continued (see conc_coro_destroy()).
 * Callable from a coroutine only.
 */
CONC_API int conc_coro_yield(void *out, void **in);

/**
 * @brief What a coroutine is doing.
 * @return CONC_CORO_SUSPENDED, CONC_CORO_RUNNING or CONC_CORO_DONE.
 * @retval CONC_EINVAL @p co is NULL, not created or destroyed.
 *
 * Never blocks. Callable from a thread or a coroutine; reading the status of a
 * coroutine that another thread may be switching at the same time is a race.
 */
CONC_API int conc_coro_status(const conc_coro_t *co);

/**
 * @brief The coroutine that is running on the calling thread now.
 * @return the innermost running coroutine, or NULL on a thread's own stack.
 *
 * Never blocks. Callable from anywhere but a signal handler.
 */
CONC_API conc_coro_t *conc_coro_current(void);

/**
 * @brief Destroy a coroutine that is suspended or done, and release its stack.
 *
 * A suspended coroutine is abandoned where it stands: it is not unwound, no
 * code of it runs again, and whatever it had on its stack (pointers to memory
 * it allocated, locks it holds) is forgotten. Its stack goes back to the cache
 * of freed stacks (or, past the cache's limit, to the OS); a caller-supplied
 * buffer is simply no longer used and may be reused at once.
 *
 * @retval 0 destroyed; @p co may be reused for conc_coro_create().
 * @retval CONC_EINVAL @p co is NULL, not created or already destroyed.
 * @retval CONC_EBUSY @p co is running (the caller itself, or one of the
 *         coroutines waiting for it); nothing is changed.
 *
 * Does not block (it may take the stack cache's short internal lock). Callable
 * from a thread or a coroutine (for another coroutine); not from a signal
 * handler.
 */
CONC_API int conc_coro_destroy(conc_coro_t *co);

#ifdef __cplusplus
}
#endif

#endif /* CONC_CORO_H */
