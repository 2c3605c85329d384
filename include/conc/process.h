/**
 * @file conc/process.h
 * @brief Child processes: run a function in a forked child or start a
 *        program; join with a timeout, exit codes and signals, terminate and
 *        kill, and a sentinel descriptor for event loops. POSIX only.
 *
 * The C counterpart of Python's `multiprocessing.Process`; see
 * docs/process.md for the guide. Pipes between processes are in
 * conc/pipe.h.
 *
 * A `conc_process_t` is caller-allocated. Set it to CONC_PROCESS_INIT before
 * the first start; after conc_process_close() it may be started again. The
 * functions of one process object may be called from several threads at once
 * (a join here, an is_alive there), except conc_process_close(), which must
 * not race any other call on the same object.
 *
 * Only the process that started a child may join, signal or close it.
 */
#ifndef CONC_PROCESS_H
#define CONC_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "conc/error.h"
#include "conc/export.h"
#include "conc/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The function a forked child runs; its result & 0xff is the exit code. */
typedef int (*conc_process_fn)(void *arg);

/** Bytes of a process name kept by libconc, terminating NUL included. */
#define CONC_PROCESS_NAME_MAX 64

/** Options of a new process. Start from CONC_PROCESS_ATTR_INIT. */
typedef struct conc_process_attr {
    /** Name returned by conc_process_name(); NULL or "" for "Process-<n>".
     *  Copied (CONC_PROCESS_NAME_MAX - 1 bytes kept). A forked child also
     *  takes it as its OS-visible name (ps, top; 15 bytes on Linux). */
    const char *name;
} conc_process_attr_t;

/** Default options: the name "Process-<n>". */
#define CONC_PROCESS_ATTR_INIT \
    {                          \
        NULL                   \
    }

/** A child process. Caller-allocated; every field is private. */
typedef struct conc_process {
    int64_t pid_;
    int state_;
    int status_;
    int sentinel_;
    bool exact_;
    CONC_ATOMIC_(uint32_t) lock_;
    char name_[CONC_PROCESS_NAME_MAX];
} conc_process_t;

/** A process object that was never started (or has been closed). */
#define CONC_PROCESS_INIT      \
    {                          \
        0, 0, 0, -1, false, 0, \
        {                      \
            0                  \
        }                      \
    }

/**
 * @brief Run fn(arg) in a new child process made by fork().
 *
 * The child is a copy of the calling process with ONE thread: the caller's.
 * The parent's other threads do not exist in it, and any lock one of them
 * held at the fork (in libconc, the C library or the application) stays
 * locked there forever. So the function should do self-contained work
 * (compute, write to a pipe or shared memory, call async-signal-safe
 * functions, or exec a program); libconc objects that other parent threads
 * or tasks were using must not be touched. If started from inside a task,
 * fn runs as a plain thread in the child (no loop runs there), so blocking
 * libconc calls block the child's thread. The child inherits the descriptors
 * of the parent, the signal handlers and the calling thread's signal mask.
 *
 * The child ends with _exit(fn(arg) & 0xff): atexit handlers do not run and
 * stdio buffers are not flushed (they belong to the parent; fflush() what
 * the child wrote itself before returning).
 *
 * @param p     a process object at CONC_PROCESS_INIT or closed.
 * @param attr  options, or NULL for the defaults.
 * @param fn    run in the child; @param arg its argument.
 * @retval 0             the child runs; conc_process_pid() names it.
 * @retval CONC_EINVAL   @p p or @p fn is NULL.
 * @retval CONC_EBUSY    @p p names a process that was started and not closed.
 * @retval CONC_ELIMIT   the OS refused: too many processes or descriptors.
 * @retval CONC_ENOMEM   no memory.
 *
 * Does not wait for the child to run. Callable from threads and tasks.
 */
CONC_API int conc_process_start(conc_process_t *p, const conc_process_attr_t *attr,
                                conc_process_fn fn, void *arg);

/**
 * @brief Start a program in a child process (posix_spawn()).
 *
 * A @p path without a slash is searched in PATH, as a shell does; with a
 * slash it is used as it is. The program starts with every signal at its
 * default action and an empty signal mask; it inherits the caller's
 * descriptors that are not close-on-exec (libconc's own are all
 * close-on-exec) and, off Linux, the write end of the sentinel pipe.
 *
 * @param p     a process object at CONC_PROCESS_INIT or closed.
 * @param attr  options, or NULL for the defaults.
 * @param path  the program.
 * @param argv  its arguments, NULL-terminated, argv[0] first; NULL for
 *              { path, NULL }.
 * @param envp  its environment, NULL-terminated; NULL to pass the caller's.
 * @retval 0             the program runs.
 * @retval CONC_ENOENT   the program does not exist (no such file, or not
 *                       found in PATH).
 * @retval CONC_EPERM    it cannot be executed (permission denied: no execute
 *                       permission, or a directory).
 * @retval CONC_EINVAL   @p p or @p path NULL, @p path empty, or not an
 *                       executable format.
 *                       On every error nothing is left behind: no child, no
 *                       zombie.
 * @retval CONC_EBUSY    @p p names a process that was started and not closed.
 * @retval CONC_ELIMIT   the OS refused: too many processes or descriptors.
 * @retval CONC_ENOMEM   no memory.
 *
 * Where the C library reports a failed exec only through the child's exit
 * status, the spawn succeeds and the child exits with code 127 (glibc and
 * musl report it as CONC_EINVAL). Does not wait for the program to run.
 * Callable from threads and tasks.
 */
CONC_API int conc_process_spawn(conc_process_t *p, const conc_process_attr_t *attr,
                                const char *path, char *const argv[], char *const envp[]);

/**
 * @brief Wait for the child to end and reap it.
 *
 * Once it returns 0 the exit code is known (conc_process_exitcode()) and the
 * child is no longer a zombie. Several threads may join the same process.
 *
 * @param p the process.
 * @param timeout_ns relative timeout (conc/time.h).
 * @retval 0               the child has ended.
 * @retval CONC_ETIMEDOUT  still running at the deadline (never early).
 * @retval CONC_EAGAIN     @p timeout_ns is CONC_NOWAIT and the child runs.
 * @retval CONC_ESRCH      @p p was never started, or is closed.
 * @retval CONC_EINVAL     @p p is NULL.
 * @retval CONC_ECANCELED  (in a task) the task was cancelled while waiting.
 * @retval CONC_EBUSY      (in a task) its loop already watches the sentinel
 *                         for someone else (a reader callback, another task
 *                         joining the same process).
 *
 * Blocks the calling thread (poll() on the sentinel), or in a task only the
 * task (the loop watches the sentinel). Callable from threads and tasks; not
 * from signal handlers.
 */
CONC_API int conc_process_join(conc_process_t *p, int64_t timeout_ns);

/**
 * @brief Whether the child is still running (reaps it if it has ended).
 * @return true while it runs; false once it has ended, and for NULL, never
 *         started or closed objects.
 *
 * Never blocks. Callable from threads and tasks.
 */
CONC_API bool conc_process_is_alive(conc_process_t *p);

/**
 * @brief How the child ended.
 *
 * @param p the process.
 * The code follows Python's `Process.exitcode`: 0..255 is the status the
 * child exited with; a negative value -N means signal N ended it (-9 for
 * SIGKILL). The code comes through @p code, not the return value, because
 * negative return values are libconc error codes (CONC_EINVAL is -1, as is
 * -SIGHUP).
 *
 * @param code receives the code.
 * @retval 0             the child has ended; *code is set.
 * @retval CONC_EAGAIN   it still runs (does not wait; use conc_process_join()).
 * @retval CONC_ESRCH    never started or closed; or the child was reaped by
 *                       someone else (SIGCHLD ignored, or a waitpid(-1)
 *                       elsewhere), so its status is lost.
 * @retval CONC_EINVAL   @p p or @p code is NULL.
 *
 * Never blocks. Callable from threads and tasks.
 */
CONC_API int conc_process_exitcode(conc_process_t *p, int *code);

/**
 * @brief Ask the child to end: send it SIGTERM.
 * @retval 0            sent, or the child had already ended (nothing sent:
 *                      an ended child's pid is never signalled, as it may
 *                      belong to another process by then).
 * @retval CONC_ESRCH   never started or closed.
 * @retval CONC_EINVAL  @p p is NULL.
 *
 * Never blocks (join to wait for the end). Callable from threads and tasks.
 */
CONC_API int conc_process_terminate(conc_process_t *p);

/**
 * @brief End the child at once: send it SIGKILL. As conc_process_terminate().
 * @retval 0 sent or already ended. @retval CONC_ESRCH never started or closed.
 * @retval CONC_EINVAL @p p is NULL.
 *
 * Never blocks. Callable from threads and tasks.
 */
CONC_API int conc_process_kill(conc_process_t *p);

/**
 * @brief Release the process object: reap the child and close the sentinel.
 *
 * The object returns to CONC_PROCESS_INIT (it may be started again).
 * @retval 0            released; also for a never-started or already closed
 *                      object (close is idempotent, for cleanup paths).
 * @retval CONC_EBUSY   the child still runs: nothing is released. Join it (or
 *                      kill and join it) first.
 * @retval CONC_EINVAL  @p p is NULL.
 *
 * Never blocks. Must not race other calls on the same object.
 */
CONC_API int conc_process_close(conc_process_t *p);

/**
 * @brief A descriptor that becomes readable when the child ends.
 *
 * Watch it with conc_loop_add_reader() or conc_wait_fd(); it stays readable
 * once the child has ended, until conc_process_close() closes it. Do not
 * read from or close it. Linux gives a pidfd, exact. Elsewhere it is a pipe
 * that only the child holds: it also becomes readable if the child closes
 * it early (a function that calls exec), and late if a grandchild inherited
 * it; conc_process_join() copes with both, a loop callback should confirm
 * with conc_process_is_alive().
 *
 * @return the descriptor (>= 0).
 * @retval CONC_ESRCH never started or closed. @retval CONC_EINVAL @p p NULL.
 *
 * Never blocks. Callable from threads and tasks.
 */
CONC_API int conc_process_sentinel(const conc_process_t *p);

/**
 * @brief The child's process id.
 * @return the pid (> 0), also after the child ended until close; 0 for NULL,
 *         never started or closed objects.
 *
 * Never blocks. Callable from any context.
 */
CONC_API int64_t conc_process_pid(const conc_process_t *p);

/**
 * @brief The process's name (see conc_process_attr_t).
 * @return the name; "" for a never-started or closed object; NULL for NULL.
 *         Valid until the object is closed or started again.
 *
 * Never blocks. Callable from any context.
 */
CONC_API const char *conc_process_name(const conc_process_t *p);

/**
 * @brief The id of the calling process (getpid()).
 *
 * Never blocks. Callable from any context, including signal handlers.
 */
CONC_API int64_t conc_process_self_id(void);

/**
 * @brief The id of the calling process's parent (getppid()); 1 or a
 *        subreaper's id once the parent has ended.
 *
 * Never blocks. Callable from any context, including signal handlers.
 */
CONC_API int64_t conc_process_parent_id(void);

/**
 * @brief The number of CPUs this process may run on (at least 1).
 *
 * Like Python's `os.process_cpu_count()`: on Linux the CPUs of the affinity
 * mask (taskset, cgroups cpusets), elsewhere the CPUs online. The natural
 * size of a pool of worker processes.
 *
 * Never blocks. Callable from any context.
 */
CONC_API int conc_cpu_count(void);

#ifdef __cplusplus
}
#endif

#endif /* CONC_PROCESS_H */
