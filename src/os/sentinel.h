/*
 * The end-of-child descriptor of a process (src/proc/process.c): a
 * descriptor that becomes readable when a child process ends, so a thread can
 * poll it and a loop can watch it.
 *
 * Linux gives a pidfd (sentinel_pidfd.c): readable exactly when the child has
 * ended. Elsewhere, and on Linux kernels without pidfd_open(), it is the read
 * end of a pipe whose write end only the child holds (sentinel_pipe.c): end
 * of file once every copy of the write end is closed. That happens when the
 * child ends, but may come earlier (a started function that closes it or
 * calls exec) or later (a grandchild, or a program forked by another thread
 * at the wrong moment, keeps a copy), so `exact` is false and the waiter
 * re-checks the child itself now and then.
 *
 * Order of calls: prepare() before fork/posix_spawn; in a forked child,
 * in_child() (async-signal-safe); in the parent after a successful start,
 * attach(pid); close() when done, or after a failed start.
 */
#ifndef CONC_OS_SENTINEL_H
#define CONC_OS_SENTINEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "os.h"

typedef struct conc__os_sentinel {
    int fd;       /* the parent's readable descriptor, -1 before attach (pidfd) */
    int child_fd; /* the descriptor the child must keep open, or -1 */
    bool exact;   /* readable means the child has ended, never earlier or later */
} conc__os_sentinel_t;

/* CONC_ELIMIT when out of descriptors, CONC_ENOMEM. */
int conc__os_sentinel_prepare(conc__os_sentinel_t *s);
/* In a forked child: drop the parent's end. Async-signal-safe. */
void conc__os_sentinel_in_child(conc__os_sentinel_t *s);
/* In the parent once the child runs. CONC_ELIMIT when out of descriptors:
 * the caller must then end the child itself. */
int conc__os_sentinel_attach(conc__os_sentinel_t *s, pid_t pid);
/* Close every descriptor the sentinel still holds; idempotent. */
void conc__os_sentinel_close(conc__os_sentinel_t *s);

/* The pipe implementation, for every platform (sentinel_pipe.c). */
int conc__os_pipe_sentinel_prepare(conc__os_sentinel_t *s);
void conc__os_pipe_sentinel_in_child(conc__os_sentinel_t *s);
int conc__os_pipe_sentinel_attach(conc__os_sentinel_t *s, pid_t pid);
void conc__os_pipe_sentinel_close(conc__os_sentinel_t *s);

/* Tests set this to run the pipe sentinel where a better one exists. */
extern _Atomic bool conc__os_sentinel_force_pipe;

#endif /* CONC_OS_SENTINEL_H */
