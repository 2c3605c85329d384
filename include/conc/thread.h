/**
 * @file conc/thread.h
 * @brief Threads: create with a name, stack size and detached state; join with
 *        a timeout; identity, current and main thread, enumeration;
 *        thread-local storage with destructors; a thread-exit hook.
 *
 * The C counterpart of Python's `threading.Thread`, `_thread` and
 * `threading.local`; see docs/thread.md for the guide.
 *
 * A `conc_thread_t` is a small handle, a plain value: copy it, store it, pass
 * it around. It names a library-owned record that libconc recycles only once
 * the thread has ended and has been joined (or was detached). Every function
 * checks the handle against the record, so a stale handle (a joined thread, a
 * detached thread that ended) is never a use-after-free: it gets an error
 * code, `false` or 0, as documented per function.
 */
#ifndef CONC_THREAD_H
#define CONC_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The function a thread runs; its return value is delivered by join. */
typedef void *(*conc_thread_fn)(void *arg);

/** Attributes of a new thread. Start from CONC_THREAD_ATTR_INIT. */
typedef struct conc_thread_attr {
    /** Name shown by conc_thread_name(), `top -H`, `ps -L` and gdb; NULL or
     *  "" for the default "Thread-<ident>". Copied: need not outlive create.
     *  libconc keeps CONC_THREAD_NAME_MAX - 1 bytes; the OS shows fewer
     *  (15 bytes on Linux). */
    const char *name;
    /** Stack size in bytes, rounded up to whole pages; 0 for the platform
     *  default. Must be at least conc_thread_stack_min(). */
    size_t stack_size;
    /** Start detached ("daemon"): never joined, cleaned up when it ends. */
    bool detached;
} conc_thread_attr_t;

/** Default attributes: unnamed, default stack, joinable. */
#define CONC_THREAD_ATTR_INIT \
    {                         \
        NULL, 0, false        \
    }

/** Bytes of a thread name kept by libconc, terminating NUL included. */
#define CONC_THREAD_NAME_MAX 64

/** A handle on a thread. Fields are private. */
typedef struct conc_thread {
    struct conc__thread_rec *rec_;
    uint64_t ident_;
} conc_thread_t;

/** A handle that names no thread (what a failed call leaves behind). */
#define CONC_THREAD_INIT \
    {                    \
        0, 0             \
    }

/** The smallest stack size accepted by conc_thread_create(). */
#define CONC_THREAD_STACK_MIN (conc_thread_stack_min())

/**
 * @brief The smallest stack size, in bytes, that conc_thread_create() accepts.
 * @return the OS's minimum (PTHREAD_STACK_MIN on POSIX), at least 16 KiB.
 *
 * Never blocks. Callable from any thread.
 */
CONC_API size_t conc_thread_stack_min(void);

/**
 * @brief Start a new thread running @p fn(@p arg).
 *
 * On success @p t names the new thread, which is alive from now on
 * (conc_thread_is_alive() is true and conc_thread_enumerate() lists it even
 * before it is first scheduled). A joinable thread must be joined or detached
 * once, or its record (about 200 bytes) stays until the process ends.
 *
 * @param t     receives the handle, before the new thread starts (so the
 *              thread may read it); left unchanged on error.
 * @param attr  name, stack size and detached state; NULL for the defaults.
 * @param fn    the thread function; its return value is the thread's result.
 * @param arg   passed to @p fn.
 * @retval 0               started.
 * @retval CONC_EINVAL     @p t or @p fn is NULL, or attr->stack_size is
 *                         non-zero and below conc_thread_stack_min() (or
 *                         otherwise rejected by the OS).
 * @retval CONC_ELIMIT     the OS refused: too many threads (RLIMIT_NPROC,
 *                         kernel limits) or no memory for the stack.
 * @retval CONC_ENOMEM     no memory for the thread's record.
 *
 * Does not wait for the new thread to run. Callable from any thread.
 */
CONC_API int conc_thread_create(conc_thread_t *t, const conc_thread_attr_t *attr, conc_thread_fn fn,
                                void *arg);

/**
 * @brief Wait for a thread to end and collect its result.
 *
 * When join returns 0 the thread has finished: its function returned (or it
 * called conc_thread_exit()), the exit hook ran, its conc_tls destructors ran
 * and it left conc_thread_enumerate(). The OS thread may still be finishing
 * its last instructions (see docs/thread.md). The first successful join
 * consumes the thread; joins already waiting at that moment also get the
 * result, later ones get CONC_EINVAL.
 *
 * @param t           the thread.
 * @param result      receives fn's return value; may be NULL.
 * @param timeout_ns  relative timeout (conc/time.h): CONC_NOWAIT, a positive
 *                    value, or negative for no limit.
 * @retval 0               the thread ended; *result is set.
 * @retval CONC_ETIMEDOUT  still running at the deadline; the thread stays
 *                         joinable and may be joined again.
 * @retval CONC_EAGAIN     @p timeout_ns is CONC_NOWAIT and the thread is
 *                         still running; it stays joinable.
 * @retval CONC_EDEADLK    @p t is the calling thread.
 * @retval CONC_EINVAL     @p t is NULL or names no joinable thread: detached,
 *                         already joined, not created by conc_thread_create()
 *                         (the main thread, a foreign thread), or never set.
 * @retval CONC_ECANCELED  the calling task was cancelled (tasks only); the
 *                         thread stays joinable.
 *
 * Blocks the calling thread (a task: only itself). Callable from any thread
 * other than @p t; not from a signal handler.
 */
CONC_API int conc_thread_join(conc_thread_t *t, void **result, int64_t timeout_ns);

/**
 * @brief Let a thread clean up by itself when it ends; it can no longer be joined.
 *
 * A thread that has already ended is cleaned up at once.
 *
 * @retval 0             detached.
 * @retval CONC_EINVAL   @p t is NULL or names no joinable thread (already
 *                       detached or joined, main or foreign thread).
 * @retval CONC_EBUSY    another thread is blocked in conc_thread_join() on @p t.
 *
 * Never blocks. Callable from any thread, including @p t itself.
 */
CONC_API int conc_thread_detach(conc_thread_t *t);

/**
 * @brief Whether the thread is alive: from create until its function returned
 *        and its exit processing (hook, conc_tls destructors) finished.
 * @return false also for NULL or a handle whose record is gone.
 *
 * Never blocks. Callable from any thread.
 */
CONC_API bool conc_thread_is_alive(const conc_thread_t *t);

/**
 * @brief libconc's identity of the thread: unique in the process, never reused.
 * @return the ident (the main thread's is the smallest), 0 for NULL or an
 *         empty handle. Works on stale handles too.
 *
 * Never blocks. Callable from any context, including signal handlers.
 */
CONC_API uint64_t conc_thread_ident(const conc_thread_t *t);

/**
 * @brief The kernel's id of the thread (the TID on Linux, as in `ps -L`,
 *        `top -H`, gdb and /proc/self/task).
 *
 * A freshly created thread publishes its id when it first runs; if it has not
 * yet, this call waits for it (a few microseconds). The id stays available
 * after the thread ended, until it is joined or detached.
 *
 * @return the native id; 0 for NULL or a handle whose record is gone.
 *
 * May block briefly (see above). Callable from any thread.
 */
CONC_API uint64_t conc_thread_native_id(const conc_thread_t *t);

/**
 * @brief Copy the thread's name into @p buf (always NUL-terminated, cut to fit).
 *
 * Unnamed threads are called "Thread-<ident>", the main thread "MainThread",
 * threads not created by libconc "Dummy-<ident>" (like Python).
 *
 * @retval 0            @p buf holds the name.
 * @retval CONC_EINVAL  @p t or @p buf is NULL, @p size is 0, or @p t is empty.
 * @retval CONC_ESRCH   the thread's record is gone (joined, or detached and
 *                      ended); @p buf is left unchanged.
 *
 * Never blocks. Callable from any thread.
 */
CONC_API int conc_thread_name(const conc_thread_t *t, char *buf, size_t size);

/**
 * @brief Rename the calling thread, for libconc and for the OS.
 *
 * @param name  the new name; libconc keeps CONC_THREAD_NAME_MAX - 1 bytes,
 *              the OS fewer (15 on Linux). "" restores the default name for
 *              libconc (the OS name is then left as it was).
 * @retval 0            renamed.
 * @retval CONC_EINVAL  @p name is NULL.
 * @retval CONC_ENOMEM  the calling thread, not created by libconc, could not
 *                      be registered (see conc_thread_current()).
 *
 * Never blocks. Callable from any thread.
 */
CONC_API int conc_thread_set_name_current(const char *name);

/**
 * @brief A handle on the calling thread.
 *
 * Works in every thread. A thread not created by libconc is registered on
 * its first call (it then appears in conc_thread_enumerate(), named
 * "Dummy-<ident>", and cannot be joined) and unregistered when it exits.
 *
 * @return the handle; an empty handle (ident 0) only if registering a foreign
 *         thread ran out of memory.
 *
 * Never blocks. Callable from any thread; not from a signal handler.
 */
CONC_API conc_thread_t conc_thread_current(void);

/**
 * @brief A handle on the main thread: the thread that loaded libconc (for a
 *        program linked with it, the thread that runs main()).
 *
 * The main thread cannot be joined or detached. It stays alive until the
 * process exits (or until it ends through pthread_exit()).
 *
 * Never blocks. Callable from any thread.
 */
CONC_API conc_thread_t conc_thread_main(void);

/**
 * @brief List the live threads known to libconc.
 *
 * Live threads are those created by conc_thread_create() and not yet ended,
 * the main thread, and foreign threads registered by conc_thread_current().
 * The list is one consistent snapshot, in no particular order.
 *
 * @param handles  receives up to @p max handles; may be NULL when @p max is 0.
 * @param max      capacity of @p handles.
 * @return the number of live threads (which may exceed @p max: call again
 *         with a larger array), or CONC_EINVAL when @p handles is NULL and
 *         @p max is not 0.
 *
 * Never blocks for long (a short internal lock). Callable from any thread.
 */
CONC_API int conc_thread_enumerate(conc_thread_t *handles, size_t max);

/**
 * @brief The number of live threads, as conc_thread_enumerate() counts them.
 *
 * Never blocks for long. Callable from any thread.
 */
CONC_API int conc_thread_active_count(void);

/**
 * @brief Offer the CPU to other runnable threads.
 *
 * Callable from any thread.
 */
CONC_API void conc_thread_yield(void);

/**
 * @brief End the calling thread as if its function had returned @p result.
 *
 * The exit hook, the conc_tls destructors and the wake-up of joiners happen
 * as on a normal return. Does not return on success.
 *
 * @retval CONC_EINVAL  the calling thread was not created by
 *                      conc_thread_create() (main or foreign thread).
 *
 * Callable from a thread created by libconc.
 */
CONC_API int conc_thread_exit(void *result);

/**
 * @brief The thread-exit hook: called in every thread created by
 *        conc_thread_create() when its function returns.
 *
 * @param thread  the ending thread (the caller itself; alive, still listed).
 * @param result  the thread function's return value.
 * @param arg     the pointer given to conc_thread_set_exit_hook().
 */
typedef void (*conc_thread_exit_hook_fn)(const conc_thread_t *thread, void *result, void *arg);

/**
 * @brief Install the thread-exit hook (NULL removes it), like Python's
 *        `threading.excepthook`.
 *
 * The hook runs in the ending thread, after its function returned (or it
 * called conc_thread_exit()), before its conc_tls destructors, before it
 * leaves conc_thread_enumerate() and before any join returns. It runs for
 * detached threads too, not for the main thread nor for foreign threads.
 * Threads that are already running their exit path use the hook they read
 * when they started it. The hook may use any libconc call, but joining its
 * own thread returns CONC_EDEADLK.
 *
 * Never blocks. Callable from any thread.
 */
CONC_API void conc_thread_set_exit_hook(conc_thread_exit_hook_fn fn, void *arg);

/**
 * @brief Read the installed exit hook (to chain to it); NULLs when none.
 * @param fn   receives the hook; may be NULL.
 * @param arg  receives its argument; may be NULL.
 *
 * Never blocks. Callable from any thread.
 */
CONC_API void conc_thread_get_exit_hook(conc_thread_exit_hook_fn *fn, void **arg);

/* ---- thread-local storage ---------------------------------------------- */

/** Most keys that may exist at once. */
#define CONC_TLS_KEYS_MAX 1024
/** Rounds of destructor calls at thread exit (destructors may set values). */
#define CONC_TLS_DESTRUCTOR_ITERATIONS 4

/** A thread-local storage key. Fields are private; zero is never a valid key. */
typedef struct conc_tls_key {
    uint32_t index_;
    uint32_t gen_;
} conc_tls_key_t;

/** An invalid key, for static initialisation. */
#define CONC_TLS_KEY_INIT \
    {                     \
        0, 0              \
    }

/** Called at thread exit with a thread's non-NULL value of a key. */
typedef void (*conc_tls_destructor_fn)(void *value);

/**
 * @brief Create a key: a slot that holds one pointer per thread, NULL at first.
 *
 * At the exit of every thread whose value is not NULL, @p destructor (if not
 * NULL) is called in that thread with the value. For threads created by
 * libconc this happens before join returns; for other threads when they exit.
 *
 * @retval 0            created; @p key is set.
 * @retval CONC_EINVAL  @p key is NULL.
 * @retval CONC_ELIMIT  CONC_TLS_KEYS_MAX keys exist already.
 *
 * Never blocks for long. Callable from any thread.
 */
CONC_API int conc_tls_create(conc_tls_key_t *key, conc_tls_destructor_fn destructor);

/**
 * @brief Delete a key. Values still set in threads are forgotten, their
 *        destructors are not called (as with pthread_key_delete()).
 *
 * @retval 0            deleted.
 * @retval CONC_EINVAL  @p key is not a live key (never created, or deleted).
 *
 * Never blocks for long. Callable from any thread, not while another thread
 * is using the key.
 */
CONC_API int conc_tls_delete(conc_tls_key_t key);

/**
 * @brief Read the calling thread's value of @p key.
 *
 * @param key    a key from conc_tls_create().
 * @param value  receives the value, NULL if this thread never set one.
 * @retval 0            *value is set.
 * @retval CONC_EINVAL  @p value is NULL or @p key is not a live key.
 *
 * Never blocks. Callable from any thread.
 */
CONC_API int conc_tls_get(conc_tls_key_t key, void **value);

/**
 * @brief Set the calling thread's value of @p key.
 *
 * @retval 0            set.
 * @retval CONC_EINVAL  @p key is not a live key.
 * @retval CONC_ENOMEM  no memory for this thread's value table (the first
 *                      value set in a thread, or a key of a higher index).
 *
 * Never blocks. Callable from any thread, also from a key's destructor.
 */
CONC_API int conc_tls_set(conc_tls_key_t key, void *value);

#ifdef __cplusplus
}
#endif

#endif /* CONC_THREAD_H */
