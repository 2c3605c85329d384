/*
 * Tasks: spawning, running on the loop, blocking and waking (the context
 * that the core's wait queues use), sleep, yield, cancel, inspection.
 *
 * A task's park word works like the OS parker: a wake is a token. Whoever
 * moves a task out of PARKED schedules it, exactly once: a waker (any
 * thread) by exchanging in NOTIFIED, the loop by compare-and-swapping
 * PARKED to EMPTY when the deadline of the block passes or the task is
 * cancelled. A wake that loses that race leaves its token behind, and the
 * core's waiter protocol (core/waitq.c) collects it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop_internal.h"

static _Atomic uint64_t done_counter;

static int task_block_op(void *ctx, int64_t deadline, bool cancellable);
static void task_wake_op(void *ctx);
static void task_uncancel_op(void *ctx)
{
    ((conc_task_t *)ctx)->cancel_requests++;
}

/* Descriptors and timers are not looked at: they wait at most the spin. */
static bool task_alone_op(void *ctx)
{
    conc_task_t *t = ctx;

    return t->loop->ready_count == 0 && t->cancel_requests == 0 &&
           !conc__remote_maybe_nonempty(t->loop);
}

const conc__context_ops_t conc__task_context_ops = { task_block_op, task_wake_op,
                                                     conc__task_wait_fd, task_uncancel_op,
                                                     task_alone_op };

conc_task_t *conc_task_current(void)
{
    return conc__task_running();
}

void conc__task_make_ready(conc_task_t *t)
{
    t->state = CONC_TASK_READY;
    conc__ready_push(t->loop, &t->step);
}

void conc__task_free(conc_task_t *t)
{
    free(t);
}

/* ---- finishing ---- */

static void unlink_task(conc_task_t **list, conc_task_t *t)
{
    if (t->prev_task)
        t->prev_task->next_task = t->next_task;
    else
        *list = t->next_task;
    if (t->next_task)
        t->next_task->prev_task = t->prev_task;
    t->prev_task = t->next_task = NULL;
}

static void link_task(conc_task_t **list, conc_task_t *t)
{
    t->prev_task = NULL;
    t->next_task = *list;
    if (*list)
        (*list)->prev_task = t;
    *list = t;
}

static void finish(conc_task_t *t)
{
    conc__loop_t *l = t->loop;
    conc__wakelist_t wl = CONC__WAKELIST_INIT;

    conc_coro_destroy(&t->coro);
    t->state = CONC_TASK_DONE;
    t->done_seq = atomic_fetch_add_explicit(&done_counter, 1, memory_order_relaxed);
    conc__os_lock(&l->tasks_lock);
    unlink_task(&l->live, t);
    l->nlive--;
    bool free_now = t->detached;
    if (!free_now)
        link_task(&l->finished, t);
    conc__os_unlock(&l->tasks_lock);

    conc__os_lock(&t->lock);
    atomic_store_explicit(&t->done, true, memory_order_release);
    while (t->watchers) {
        conc__task_watcher_t *w = t->watchers;
        t->watchers = w->next;
        w->next = NULL;
        w->fn(w, t);
    }
    conc__waitq_wake_n(&t->joiners, -1, 0, &wl);
    conc__os_unlock(&t->lock);
    /* From here a joiner on another thread may release t: not touched. */
    conc__wakelist_run(&wl);
    if (free_now)
        conc__task_free(t);
}

/* ---- running ---- */

static void *task_entry(void *arg, void *in)
{
    conc_task_t *t = arg;
    void *result = NULL;

    (void)in;
    t->status = t->fn(t->arg, &result);
    t->result = result;
    return NULL;
}

CONC__HOT static void task_step(conc_loop_t *loop, void *arg)
{
    conc_task_t *t = arg;
    conc__loop_t *l = t->loop;

    (void)loop;
    if (CONC_UNLIKELY(t->cancel_requests) && conc_coro_status(&t->coro) == CONC_CORO_SUSPENDED &&
        !t->started) {
        /* Cancelled before it ever ran: it never runs (as in asyncio). */
        t->cancel_requests--;
        t->status = CONC_ECANCELED;
        finish(t);
        return;
    }
    t->started = true;
    t->state = CONC_TASK_RUNNING;
    l->current = t;
    conc__context_t prev = conc__context_switch((conc__context_t){ &conc__task_context_ops, t });
    conc_coro_resume(&t->coro, NULL, NULL);
    conc__context_switch(prev);
    l->current = NULL;
    if (conc_coro_status(&t->coro) == CONC_CORO_DONE)
        finish(t);
}

/* The deadline of a block passed (run from the timer heap's expiry). */
static void task_timeout(conc_loop_t *loop, void *arg)
{
    conc_task_t *t = arg;
    uint32_t parked = PARK_PARKED;

    (void)loop;
    if (atomic_compare_exchange_strong_explicit(&t->park, &parked, PARK_EMPTY, memory_order_acq_rel,
                                                memory_order_acquire)) {
        t->wake_reason = WAKE_TIMEOUT;
        conc__task_make_ready(t);
    }
}

/* A wake from another thread, arriving through the remote queue. */
static void task_remote_ready(conc_loop_t *loop, void *arg)
{
    (void)loop;
    conc__task_make_ready(arg);
}

static int make_coro(conc_task_t *t, const conc_task_attr_t *attr)
{
    conc_coro_attr_t ca = CONC_CORO_ATTR_INIT;

    ca.stack_size = attr->stack_size;
    ca.stack_mode = attr->stack_mode;
    ca.stack = attr->stack;
    return conc_coro_create(&t->coro, &ca, task_entry, t);
}

static void init_entries(conc_task_t *t, conc__loop_t *l)
{
    t->step.owner = t->deadline.owner = l;
    t->step.embedded = t->deadline.embedded = true;
    t->step.fn = task_step;
    t->deadline.fn = task_timeout;
    t->step.arg = t->deadline.arg = t;
    t->remote.fn = task_remote_ready;
    t->remote.arg = t;
    t->remote.heap = false;
}

int conc_task_spawn(conc_loop_t *loop, const conc_task_attr_t *attr, conc_task_fn fn, void *arg,
                    conc_task_t **task)
{
    conc__loop_t *l = conc__loop_of(loop);
    conc_task_attr_t defaults = CONC_TASK_ATTR_INIT;

    if (!l || !fn)
        return CONC_EINVAL;
    if (!conc__loop_owned_here(l))
        return CONC_EPERM;
    if (!attr)
        attr = &defaults;
    /* Room in the heap for every task's deadline: a block never fails. */
    if (conc__timerheap_reserve(&l->timers, l->nlive + 1) != 0)
        return CONC_ENOMEM;
    conc_task_t *t = calloc(1, sizeof *t);
    if (!t)
        return CONC_ENOMEM;
    int rc = make_coro(t, attr);
    if (rc != 0) {
        free(t);
        return rc;
    }
    t->loop = l;
    t->fn = fn;
    t->arg = arg;
    t->wait_fd = -1;
    t->detached = task == NULL;
    init_entries(t, l);
    atomic_init(&t->park, PARK_EMPTY);
    atomic_init(&t->done, false);
    conc__os_lock(&l->tasks_lock);
    uint64_t n = ++l->task_counter;
    link_task(&l->live, t);
    l->nlive++;
    conc__os_unlock(&l->tasks_lock);
    if (attr->name)
        snprintf(t->name, sizeof t->name, "%s", attr->name);
    else
        snprintf(t->name, sizeof t->name, "task-%llu", (unsigned long long)n);
    conc__task_make_ready(t);
    if (task)
        *task = t;
    return 0;
}

/* ---- blocking and waking (the context ops) ---- */

CONC__HOT int conc__task_block(void *ctx, int64_t deadline, bool cancellable)
{
    return conc__task_block_here(ctx, deadline, cancellable, false);
}

CONC__HOT static int task_block_op(void *ctx, int64_t deadline, bool cancellable)
{
    conc_task_t *t = ctx;
    const char *what = conc__blocking_what;

    conc__blocking_what = NULL;
    t->wait_what = what ? what : "a core primitive";
    int rc = conc__task_block(ctx, deadline, cancellable);
    t->wait_what = NULL;
    return rc;
}

CONC__HOT void conc__task_fd_ready(conc_task_t *t, unsigned dir)
{
    uint32_t parked = PARK_PARKED;

    t->fd_ready |= dir;
    /* As a timeout does: only a parked task is readied, and without a
     * token. One that is not parked has been readied already (by a wake,
     * a timeout or a cancel) and looks at fd_ready when it runs. */
    if (atomic_compare_exchange_strong_explicit(&t->park, &parked, PARK_EMPTY, memory_order_acq_rel,
                                                memory_order_acquire)) {
        t->wake_reason = WAKE_FD;
        conc__task_make_ready(t);
    }
}

CONC__HOT static void task_wake_op(void *ctx)
{
    conc_task_t *t = ctx;
    conc__loop_t *l = t->loop;

    if (conc__loop_running_here() == l) {
        if (atomic_exchange_explicit(&t->park, PARK_NOTIFIED, memory_order_acq_rel) == PARK_PARKED)
            conc__task_make_ready(t);
        return;
    }
    /* Another thread: the loop must outlive this call (conc_loop_destroy()
     * waits for remote_busy), and the task is queued to its loop. */
    atomic_fetch_add_explicit(&l->remote_busy, 1, memory_order_acquire);
    if (atomic_exchange_explicit(&t->park, PARK_NOTIFIED, memory_order_acq_rel) == PARK_PARKED)
        conc__remote_push(l, &t->remote);
    atomic_fetch_sub_explicit(&l->remote_busy, 1, memory_order_release);
}

/* ---- inside a task ---- */

int conc_task_sleep(int64_t ns)
{
    conc_task_t *t = conc__task_running();

    if (!t)
        return CONC_EPERM;
    int64_t deadline = conc__deadline(ns < 0 ? 0 : ns);
    const char *prev = t->wait_what;
    int rc;

    t->wait_what = "sleep";
    do
        rc = conc__task_block(t, deadline, true);
    while (rc == 0);
    t->wait_what = prev;
    return rc == CONC_ETIMEDOUT ? 0 : rc;
}

int conc_task_yield(void)
{
    conc_task_t *t = conc__task_running();

    if (!t)
        return CONC_EPERM;
    if (t->cancel_requests) {
        t->cancel_requests--;
        return CONC_ECANCELED;
    }
    if (conc_coro_current() != &t->coro)
        return CONC_EPERM;
    conc__task_make_ready(t);
    conc_coro_yield(NULL, NULL);
    if (t->cancel_requests) {
        t->cancel_requests--;
        return CONC_ECANCELED;
    }
    return 0;
}

/* ---- cancellation ---- */

static int cancel_here(conc_task_t *t)
{
    uint32_t parked = PARK_PARKED;

    if (t->state == CONC_TASK_DONE)
        return 1;
    t->cancel_requests++;
    t->cancel_seen = true;
    if (t->state == CONC_TASK_BLOCKED && t->cancellable &&
        atomic_compare_exchange_strong_explicit(&t->park, &parked, PARK_EMPTY, memory_order_acq_rel,
                                                memory_order_acquire)) {
        t->wake_reason = WAKE_CANCEL;
        conc__task_make_ready(t);
    }
    return 0;
}

static void cancel_remote(conc_loop_t *loop, void *arg)
{
    (void)loop;
    cancel_here(arg);
}

int conc__task_cancel_any(conc_task_t *t)
{
    conc__loop_t *l = t->loop;

    if (atomic_load_explicit(&t->done, memory_order_acquire))
        return 1;
    if (conc__loop_owned_here(l))
        return cancel_here(t);
    return conc_loop_call_soon_threadsafe(l->pub, cancel_remote, t);
}

int conc_task_cancel(conc_task_t *task)
{
    if (!task)
        return CONC_EINVAL;
    return conc__task_cancel_any(task);
}

int conc_task_cancelling(const conc_task_t *task)
{
    return task ? task->cancel_requests : CONC_EINVAL;
}

/* ---- inspection ---- */

int conc_task_state(const conc_task_t *task)
{
    return task ? task->state : CONC_EINVAL;
}

bool conc_task_done(const conc_task_t *task)
{
    return task && atomic_load_explicit(&task->done, memory_order_acquire);
}

bool conc_task_cancelled(const conc_task_t *task)
{
    return conc_task_done(task) && task->status == CONC_ECANCELED && task->cancel_seen;
}

const char *conc_task_name(const conc_task_t *task)
{
    return task ? task->name : NULL;
}

conc_loop_t *conc_task_loop(const conc_task_t *task)
{
    return task ? task->loop->pub : NULL;
}

int conc_task_result(const conc_task_t *task, void **result)
{
    if (!task)
        return CONC_EINVAL;
    if (!atomic_load_explicit(&task->done, memory_order_acquire))
        return CONC_EAGAIN;
    if (result)
        *result = task->result;
    return task->status;
}
