/*
 * Waiting for tasks: join, wait (shield), wait_for, gather, wait_any,
 * detach, and running a loop until a task is done.
 *
 * Waiting for one task goes through its joiners wait queue, so a thread, a
 * task of the same loop or a task of another loop waits the same way.
 * Waiting for several uses watchers: each task, when it finishes, sets one
 * event that the waiter sleeps on.
 */
#include <stdlib.h>

#include "conc/event.h"
#include "loop_internal.h"

int conc__task_wait_done(conc_task_t *t, int64_t deadline, bool cancellable)
{
    if (atomic_load_explicit(&t->done, memory_order_acquire))
        return 0;
    if (t == conc__task_running())
        return CONC_EDEADLK;
    /* The thread that runs t's loop, outside any task, would wait forever. */
    if (!conc__task_running() && conc__loop_running_here() == t->loop)
        return CONC_EDEADLK;
    conc__os_lock(&t->lock);
    if (atomic_load_explicit(&t->done, memory_order_relaxed)) {
        conc__os_unlock(&t->lock);
        return 0;
    }
    conc__waiter_t w;
    conc__waiter_init(&w);
    w.what = "another task";
    conc__waitq_push(&t->joiners, &w);
    return conc__waiter_sleep(&w, &t->joiners, &t->lock, deadline, cancellable);
}

bool conc__task_watch(conc_task_t *t, conc__task_watcher_t *w)
{
    conc__os_lock(&t->lock);
    bool pending = !atomic_load_explicit(&t->done, memory_order_relaxed);
    if (pending) {
        w->next = t->watchers;
        t->watchers = w;
    }
    conc__os_unlock(&t->lock);
    return pending;
}

void conc__task_unwatch(conc_task_t *t, conc__task_watcher_t *w)
{
    conc__os_lock(&t->lock);
    for (conc__task_watcher_t **p = &t->watchers; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    conc__os_unlock(&t->lock);
}

static void release(conc_task_t *t)
{
    conc__loop_t *l = t->loop;

    conc__os_lock(&l->tasks_lock);
    if (t->prev_task)
        t->prev_task->next_task = t->next_task;
    else
        l->finished = t->next_task;
    if (t->next_task)
        t->next_task->prev_task = t->prev_task;
    conc__os_unlock(&l->tasks_lock);
    conc__task_free(t);
}

static int collect(conc_task_t *t, void **result)
{
    int status = t->status;

    if (result)
        *result = t->result;
    return status;
}

int conc_task_join(conc_task_t *task, void **result, int64_t timeout_ns)
{
    if (!task || task->detached)
        return CONC_EINVAL;
    int rc = conc__task_wait_done(task, conc__deadline(timeout_ns), true);
    if (rc == CONC_ECANCELED) {
        conc__task_cancel_any(task); /* as `await task` does in asyncio */
        return rc;
    }
    if (rc != 0)
        return rc;
    int status = collect(task, result);
    release(task);
    return status;
}

int conc_task_wait(conc_task_t *task, int64_t timeout_ns)
{
    if (!task || task->detached)
        return CONC_EINVAL;
    return conc__task_wait_done(task, conc__deadline(timeout_ns), true);
}

int conc_task_wait_for(conc_task_t *task, void **result, int64_t timeout_ns)
{
    if (!task || task->detached)
        return CONC_EINVAL;
    int rc = conc__task_wait_done(task, conc__deadline(timeout_ns), true);
    if (rc == 0)
        return collect(task, result);
    if (rc != CONC_ETIMEDOUT && rc != CONC_ECANCELED)
        return rc;
    /* Cancel, then wait for the end without being interruptible: the task
     * must not outlive the call that gave up on it. */
    conc__task_cancel_any(task);
    conc__task_wait_done(task, CONC_FOREVER, false);
    if (rc == CONC_ECANCELED)
        return rc; /* never swallowed by a result that arrived meanwhile */
    if (conc_task_cancelled(task))
        return CONC_ETIMEDOUT;
    return collect(task, result);
}

int conc_task_detach(conc_task_t *task)
{
    if (!task || task->detached)
        return CONC_EINVAL;
    conc__loop_t *l = task->loop;
    conc__os_lock(&l->tasks_lock);
    bool done = atomic_load_explicit(&task->done, memory_order_acquire);
    if (!done)
        task->detached = true;
    conc__os_unlock(&l->tasks_lock);
    if (done)
        release(task);
    return 0;
}

/* ---- several tasks ---- */

typedef struct multi_watch {
    conc__task_watcher_t base;
    conc_event_t *event;
} multi_watch_t;

static void multi_fired(conc__task_watcher_t *w, conc_task_t *t)
{
    (void)t;
    conc_event_set(((multi_watch_t *)w)->event);
}

typedef struct multi {
    conc_event_t event;
    multi_watch_t *watches;
    multi_watch_t small[8];
    conc_task_t *const *tasks;
    size_t n;
} multi_t;

static int check_tasks(conc_task_t *const *tasks, size_t n)
{
    if (!tasks && n > 0)
        return CONC_EINVAL;
    conc_task_t *me = conc__task_running();
    for (size_t i = 0; i < n; i++) {
        if (!tasks[i] || tasks[i]->detached)
            return CONC_EINVAL;
        if (tasks[i] == me)
            return CONC_EDEADLK;
    }
    return 0;
}

static int multi_start(multi_t *m, conc_task_t *const *tasks, size_t n)
{
    m->tasks = tasks;
    m->n = n;
    m->watches = n <= 8 ? m->small : calloc(n, sizeof *m->watches);
    if (!m->watches)
        return CONC_ENOMEM;
    conc_event_init(&m->event);
    for (size_t i = 0; i < n; i++) {
        m->watches[i].base.fn = multi_fired;
        m->watches[i].event = &m->event;
        conc__task_watch(tasks[i], &m->watches[i].base);
    }
    return 0;
}

static void multi_end(multi_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        conc__task_unwatch(m->tasks[i], &m->watches[i].base);
    conc_event_destroy(&m->event);
    if (m->watches != m->small)
        free(m->watches);
}

static void cancel_all(conc_task_t *const *tasks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        conc__task_cancel_any(tasks[i]);
}

static void wait_all_uninterrupted(conc_task_t *const *tasks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        conc__task_wait_done(tasks[i], CONC_FOREVER, false);
}

/* The status of the task that failed first, in completion order; 0 if none. */
static int first_failure(conc_task_t *const *tasks, size_t n, size_t *done)
{
    int status = 0;
    uint64_t seq = UINT64_MAX;

    *done = 0;
    for (size_t i = 0; i < n; i++) {
        if (!atomic_load_explicit(&tasks[i]->done, memory_order_acquire))
            continue;
        ++*done;
        if (tasks[i]->status != 0 && tasks[i]->done_seq < seq) {
            seq = tasks[i]->done_seq;
            status = tasks[i]->status;
        }
    }
    return status;
}

int conc_gather(conc_task_t *const *tasks, size_t n, void **results, int *statuses, unsigned flags)
{
    multi_t m;
    int rc = check_tasks(tasks, n);

    if (rc != 0)
        return rc;
    if (flags & ~CONC_GATHER_CANCEL_ON_ERROR)
        return CONC_EINVAL;
    rc = multi_start(&m, tasks, n);
    if (rc != 0)
        return rc;
    bool cancelled_rest = false;
    size_t done;
    int failure;
    for (;;) {
        conc_event_clear(&m.event); /* then look: no completion is missed */
        failure = first_failure(tasks, n, &done);
        if (done == n)
            break;
        if (failure && (flags & CONC_GATHER_CANCEL_ON_ERROR) && !cancelled_rest) {
            cancel_all(tasks, n);
            cancelled_rest = true;
        }
        rc = conc_event_wait(&m.event, CONC_FOREVER);
        if (rc == CONC_ECANCELED) {
            cancel_all(tasks, n);
            wait_all_uninterrupted(tasks, n);
            break;
        }
    }
    multi_end(&m);
    for (size_t i = 0; i < n; i++) {
        if (results)
            results[i] = tasks[i]->result;
        if (statuses)
            statuses[i] = tasks[i]->status;
    }
    return rc == CONC_ECANCELED ? rc : failure;
}

int conc_task_wait_any(conc_task_t *const *tasks, size_t n, size_t *index, int64_t timeout_ns)
{
    multi_t m;
    int64_t deadline = conc__deadline(timeout_ns);
    int rc = check_tasks(tasks, n);

    if (rc != 0)
        return rc;
    if (n == 0 || !index)
        return CONC_EINVAL;
    rc = multi_start(&m, tasks, n);
    if (rc != 0)
        return rc;
    for (;;) {
        conc_event_clear(&m.event);
        size_t i = 0;
        while (i < n && !atomic_load_explicit(&tasks[i]->done, memory_order_acquire))
            i++;
        if (i < n) {
            *index = i;
            rc = 0;
            break;
        }
        rc = conc_event_wait(&m.event, conc_timeout_left(deadline));
        if (rc == CONC_EAGAIN)
            rc = CONC_ETIMEDOUT; /* no time left: a timeout, as for conc_task_wait() */
        if (rc != 0)
            break;
    }
    multi_end(&m);
    return rc;
}

/* ---- running a loop until a task is done ---- */

CONC__HOT static bool task_is_done(void *arg)
{
    return atomic_load_explicit(&((conc_task_t *)arg)->done, memory_order_acquire);
}

int conc_loop_run_until_complete(conc_loop_t *loop, conc_task_t *task, void **result)
{
    conc__loop_t *l = conc__loop_of(loop);

    if (!l || !task || task->loop != l || task->detached)
        return CONC_EINVAL;
    int rc = conc__loop_run_until(l, task_is_done, task);
    if (rc != 0)
        return rc;
    int status = collect(task, result);
    release(task);
    return status;
}

static bool no_live_tasks(void *arg)
{
    conc__loop_t *l = arg;

    return l->nlive == 0;
}

/* Cancel what is left and let it finish: a task may catch one cancel and
 * block again to clean up, so a few rounds are allowed. */
static int finish_leftovers(conc__loop_t *l)
{
    for (int round = 0; round < 3 && l->nlive; round++) {
        for (conc_task_t *t = l->live; t; t = t->next_task)
            conc__task_cancel_any(t);
        conc__loop_run_until(l, no_live_tasks, l);
    }
    return l->nlive ? CONC_EBUSY : 0;
}

int conc_run(conc_task_fn fn, void *arg, void **result)
{
    conc_loop_t loop;
    conc_task_t *main_task;
    conc_task_attr_t attr = CONC_TASK_ATTR_INIT;

    if (!fn)
        return CONC_EINVAL;
    if (conc__loop_running_here())
        return CONC_EBUSY;
    int rc = conc_loop_init(&loop, NULL);
    if (rc != 0)
        return rc;
    attr.name = "main";
    rc = conc_task_spawn(&loop, &attr, fn, arg, &main_task);
    if (rc != 0) {
        conc_loop_destroy(&loop);
        return rc;
    }
    rc = conc_loop_run_until_complete(&loop, main_task, result);
    if (finish_leftovers(conc__loop_of(&loop)) != 0)
        return rc == 0 ? CONC_EBUSY : rc; /* the loop is left allocated */
    conc_loop_destroy(&loop);             /* also frees main_task if it was not joined */
    return rc;
}

int conc_loop_tasks(conc_loop_t *loop, conc_task_t **tasks, size_t max)
{
    conc__loop_t *l = conc__loop_of(loop);
    size_t n = 0;

    if (!l || (!tasks && max))
        return CONC_EINVAL;
    conc__os_lock(&l->tasks_lock);
    for (conc_task_t *t = l->live; t; t = t->next_task, n++)
        if (n < max)
            tasks[n] = t;
    conc__os_unlock(&l->tasks_lock);
    return (int)n;
}
