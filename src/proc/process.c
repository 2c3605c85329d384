/*
 * A child process after its start: reaping, join, exit codes, signals,
 * close. Every change of state_ happens under the object's lock, and the
 * child is only reaped under it, so a signal is never sent to a pid that has
 * been reaped (and might already name another process).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "conc/io.h"
#include "core/waitq.h"
#include "process_internal.h"

/* How often join re-checks a child whose sentinel is a pipe (not exact). */
#define PIPE_RECHECK_NS CONC_MS(50)
/* Pause when the sentinel is readable but the child has not ended. */
#define NOT_ENDED_PAUSE_NS CONC_MS(5)

static void reap_locked(conc_process_t *p)
{
    int status = 0;
    pid_t r;

    if (p->state_ != CONC__PROC_RUNNING)
        return;
    do
        r = waitpid((pid_t)p->pid_, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return;
    if (r < 0) {
        p->state_ = CONC__PROC_LOST; /* ECHILD: reaped elsewhere */
        return;
    }
    p->status_ = WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
    p->state_ = CONC__PROC_ENDED;
}

/* The state after reaping the child if it has ended. */
static int poll_state(conc_process_t *p)
{
    conc__os_lock(&p->lock_);
    reap_locked(p);
    int state = p->state_;
    conc__os_unlock(&p->lock_);
    return state;
}

static int64_t min_timeout(int64_t a, int64_t b)
{
    return a < 0 || a > b ? b : a;
}

static int join_slow(conc_process_t *p, int64_t deadline)
{
    for (;;) {
        int64_t left = conc_timeout_left(deadline);
        int64_t slice = p->exact_ ? left : min_timeout(left, PIPE_RECHECK_NS);
        int r = conc_wait_fd(p->sentinel_, CONC_READABLE, slice);

        if (r < 0 && r != CONC_ETIMEDOUT)
            return r;
        if (poll_state(p) != CONC__PROC_RUNNING)
            return 0;
        if (deadline >= 0 && conc_now_ns() >= deadline)
            return CONC_ETIMEDOUT;
        if (r == CONC_ETIMEDOUT)
            continue; /* a re-check slice of a pipe sentinel */
        /* Readable, yet running: a pipe closed early (see sentinel.h). */
        r = conc_sleep(min_timeout(conc_timeout_left(deadline), NOT_ENDED_PAUSE_NS));
        if (r < 0)
            return r;
    }
}

int conc_process_join(conc_process_t *p, int64_t timeout_ns)
{
    if (!p)
        return CONC_EINVAL;
    int64_t deadline = conc__deadline(timeout_ns);
    int state = poll_state(p);

    if (state == CONC__PROC_NEW)
        return CONC_ESRCH;
    if (state != CONC__PROC_RUNNING)
        return 0;
    if (timeout_ns == CONC_NOWAIT)
        return CONC_EAGAIN;
    return join_slow(p, deadline);
}

bool conc_process_is_alive(conc_process_t *p)
{
    return p && poll_state(p) == CONC__PROC_RUNNING;
}

int conc_process_exitcode(conc_process_t *p, int *code)
{
    if (!p || !code)
        return CONC_EINVAL;
    conc__os_lock(&p->lock_);
    reap_locked(p);
    int state = p->state_, status = p->status_;
    conc__os_unlock(&p->lock_);
    switch (state) {
    case CONC__PROC_RUNNING:
        return CONC_EAGAIN;
    case CONC__PROC_ENDED:
        *code = status;
        return 0;
    default:
        return CONC_ESRCH;
    }
}

static int send_signal(conc_process_t *p, int sig)
{
    if (!p)
        return CONC_EINVAL;
    conc__os_lock(&p->lock_);
    reap_locked(p);
    int state = p->state_;
    if (state == CONC__PROC_RUNNING)
        kill((pid_t)p->pid_, sig);
    conc__os_unlock(&p->lock_);
    return state == CONC__PROC_NEW ? CONC_ESRCH : 0;
}

int conc_process_terminate(conc_process_t *p)
{
    return send_signal(p, SIGTERM);
}

int conc_process_kill(conc_process_t *p)
{
    return send_signal(p, SIGKILL);
}

int conc_process_close(conc_process_t *p)
{
    if (!p)
        return CONC_EINVAL;
    conc__os_lock(&p->lock_);
    reap_locked(p);
    if (p->state_ == CONC__PROC_RUNNING) {
        conc__os_unlock(&p->lock_);
        return CONC_EBUSY;
    }
    if (p->state_ != CONC__PROC_NEW) {
        conc__os_sentinel_t s = { p->sentinel_, -1, p->exact_ };
        conc__os_sentinel_close(&s);
        p->state_ = CONC__PROC_NEW;
        p->pid_ = 0;
        p->status_ = 0;
        p->sentinel_ = -1;
        p->exact_ = false;
        memset(p->name_, 0, sizeof p->name_);
    }
    conc__os_unlock(&p->lock_);
    return 0;
}

int conc_process_sentinel(const conc_process_t *p)
{
    if (!p)
        return CONC_EINVAL;
    conc_process_t *q = conc__unconst(p); /* for the lock only */
    conc__os_lock(&q->lock_);
    int fd = q->state_ == CONC__PROC_NEW ? CONC_ESRCH : q->sentinel_;
    conc__os_unlock(&q->lock_);
    return fd;
}

int64_t conc_process_pid(const conc_process_t *p)
{
    /* Written only by start and close, which no other call may race. */
    return p ? p->pid_ : 0;
}

const char *conc_process_name(const conc_process_t *p)
{
    return p ? p->name_ : NULL;
}
