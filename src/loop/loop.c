/*
 * The loop itself: life cycle, one iteration, run/stop.
 *
 * One iteration: wait in the poller (not at all if something is ready) and
 * dispatch descriptors; run what other threads pushed; move expired timers
 * to the ready FIFO; then run the entries that were ready at that point, in
 * order. Entries made ready while those run wait for the next iteration, so
 * a task that yields lets every other ready task run first.
 */
#include <stdlib.h>
#include <string.h>

#include "loop_internal.h"

/* The loop the calling thread runs. */
static _Thread_local conc__loop_t *running_loop;
static _Atomic int loops_running;

int conc__loops_running(void)
{
    return atomic_load_explicit(&loops_running, memory_order_seq_cst);
}

/* Skipping the poller while work is ready saves a system call per
 * iteration; polling at least every this many iterations keeps descriptors
 * from starving behind tasks that keep yielding. */
enum { POLL_EVERY = 32 };

conc__loop_t *conc__loop_of(const conc_loop_t *loop)
{
    return loop ? (conc__loop_t *)loop->impl_ : NULL;
}

conc__loop_t *conc__loop_running_here(void)
{
    return running_loop;
}

bool conc__loop_owned_here(const conc__loop_t *l)
{
    return !atomic_load_explicit(&l->running, memory_order_relaxed) || running_loop == l;
}

conc_loop_t *conc_loop_current(void)
{
    return running_loop ? running_loop->pub : NULL;
}

void conc__loop_wake(conc__loop_t *l)
{
    if (atomic_load_explicit(&l->sleeping, memory_order_seq_cst) &&
        !atomic_exchange_explicit(&l->wake_pending, 1, memory_order_acq_rel))
        conc__os_wakefd_signal(&l->wakefd);
}

static const conc__poller_ops_t *choose_poller(int kind, int *rc)
{
    const char *env = getenv("CONC_POLLER");

    *rc = 0;
    if (kind < CONC_POLLER_DEFAULT || kind > CONC_POLLER_POLL) {
        *rc = CONC_EINVAL;
        return NULL;
    }
    if (kind == CONC_POLLER_DEFAULT && env && *env) {
        if (strcmp(env, "epoll") == 0)
            kind = CONC_POLLER_EPOLL;
        else if (strcmp(env, "kqueue") == 0)
            kind = CONC_POLLER_KQUEUE;
        else if (strcmp(env, "poll") == 0)
            kind = CONC_POLLER_POLL;
        else {
            *rc = CONC_EINVAL;
            return NULL;
        }
    }
    const conc__poller_ops_t *ops = conc__poller_find(kind);
    if (!ops)
        *rc = CONC_ENOTSUP;
    return ops;
}

int conc_loop_init(conc_loop_t *loop, const conc_loop_attr_t *attr)
{
    conc_loop_attr_t defaults = CONC_LOOP_ATTR_INIT;
    int rc;

    if (!loop)
        return CONC_EINVAL;
    if (!attr)
        attr = &defaults;
    const conc__poller_ops_t *ops = choose_poller(attr->poller, &rc);
    if (!ops)
        return rc;
    conc__loop_t *l = calloc(1, sizeof *l);
    if (!l)
        return CONC_ENOMEM;
    l->pub = loop;
    l->poller_ops = ops;
    l->detect_deadlock = attr->detect_deadlock;
    conc__timerheap_init(&l->timers);
    conc__mpsc_init(&l->remote);
    /* The small structures that every iteration uses first, the ring's
     * cells (24 KiB, touched only by remote calls) last: allocated in this
     * order, the former tend to share a page. */
    rc = ops->open(&l->poller);
    if (rc != 0)
        goto fail_poller;
    rc = conc__os_wakefd_open(&l->wakefd);
    if (rc != 0)
        goto fail_wakefd;
    rc = conc__fd_init(l);
    if (rc != 0)
        goto fail_fd;
    conc__ring_cell_t *cells = malloc(CONC__RING_CELLS * sizeof *cells);
    if (!cells) {
        rc = CONC_ENOMEM;
        goto fail_cells;
    }
    conc__ring_cells_init(&l->ring, cells);
    loop->impl_ = l;
    return 0;

fail_cells:
    conc__fd_destroy(l);
fail_fd:
    conc__os_wakefd_close(&l->wakefd);
fail_wakefd:
    ops->close(l->poller);
fail_poller:
    conc__timerheap_destroy(&l->timers);
    free(l);
    return rc;
}

static void drop_remote(conc__loop_t *l)
{
    conc__mpsc_node_t *n;

    while ((n = conc__mpsc_pop(&l->remote)) != NULL) {
        conc__remote_t *r = (conc__remote_t *)n;
        if (r->heap)
            free(r);
    }
}

static void free_finished_tasks(conc__loop_t *l)
{
    conc_task_t *t = l->finished;

    l->finished = NULL;
    while (t) {
        conc_task_t *next = t->next_task;
        conc__task_free(t);
        t = next;
    }
}

int conc_loop_destroy(conc_loop_t *loop)
{
    conc__loop_t *l = conc__loop_of(loop);

    if (!l)
        return CONC_EINVAL;
    if (atomic_load_explicit(&l->running, memory_order_relaxed))
        return CONC_EBUSY;
    conc__os_lock(&l->tasks_lock);
    bool busy = l->live != NULL;
    conc__os_unlock(&l->tasks_lock);
    if (busy)
        return CONC_EBUSY;
    /* Threads still finishing a push or a wake (they touch the loop after
     * making their entry visible) are given the moment they need. */
    while (atomic_load_explicit(&l->remote_busy, memory_order_acquire) != 0)
        conc__os_thread_yield();
    drop_remote(l);
    free(l->ring.cells);
    free_finished_tasks(l);
    conc__fd_destroy(l);
    l->poller_ops->close(l->poller);
    conc__os_wakefd_close(&l->wakefd);
    conc__timerheap_destroy(&l->timers);
    conc__entries_destroy(l);
    free(l);
    loop->impl_ = NULL;
    return 0;
}

static int enter(conc__loop_t *l)
{
    /* An exchange: two threads starting the same loop at once, one wins. */
    if (running_loop || atomic_exchange_explicit(&l->running, true, memory_order_acq_rel))
        return CONC_EBUSY;
    l->owner = conc__os_parker_self();
    running_loop = l;
    atomic_fetch_add_explicit(&loops_running, 1, memory_order_seq_cst);
    return 0;
}

static void leave(conc__loop_t *l)
{
    atomic_fetch_sub_explicit(&loops_running, 1, memory_order_seq_cst);
    running_loop = NULL;
    l->owner = NULL;
    atomic_store_explicit(&l->running, false, memory_order_release);
}

static void run_entry(conc__loop_t *l, conc__entry_t *e)
{
    conc_loop_cb fn = e->fn;
    void *arg = e->arg;

    if (e->embedded) {
        e->where = ENTRY_RUNNING;
    } else {
        /* Freed before the call: cancelling its own handle from inside the
         * callback reports CONC_ESRCH, and the entry can be reused at once. */
        bool cancelled = e->cancelled;
        conc__entry_free(l, e);
        if (cancelled)
            return;
    }
    fn(l->pub, arg);
}

/* How long the poller may sleep: not at all when work is ready. */
static int64_t poll_deadline(conc__loop_t *l, int64_t limit)
{
    if (l->ready_head || atomic_load_explicit(&l->stop, memory_order_relaxed))
        return 0;
    int64_t next = conc__timerheap_next(&l->timers);
    if (limit >= 0 && (next < 0 || limit < next))
        next = limit;
    return next;
}

CONC__HOT static int iterate(conc__loop_t *l, int64_t limit, unsigned *skipped)
{
    int64_t deadline = poll_deadline(l, limit);
    int rc = 0;

    if (deadline != 0 || ++*skipped >= POLL_EVERY || l->nwatched) {
        *skipped = 0;
        if (deadline != 0) {
            /* Dekker with conc__loop_wake(): either the pusher sees
             * sleeping and signals, or this check sees its entry. */
            atomic_store_explicit(&l->sleeping, 1, memory_order_seq_cst);
            if (conc__remote_maybe_nonempty(l))
                deadline = 0;
        }
        int n = conc__fd_poll(l, deadline);
        atomic_store_explicit(&l->sleeping, 0, memory_order_relaxed);
        /* A poller that fails would fail again at once: the run ends with
         * the error after this iteration's callbacks, instead of spinning. */
        if (CONC_UNLIKELY(n < 0))
            rc = n == CONC_ENOMEM ? CONC_ENOMEM : CONC_EIO;
    }
    /* The check first: nothing it says empty could be drained. */
    if (conc__remote_maybe_nonempty(l))
        conc__remote_drain(l);
    if (conc__timerheap_count(&l->timers))
        conc__timers_expire(l, conc_now_ns());
    for (size_t n = l->ready_count; n > 0; n--) {
        conc__entry_t *e = conc__ready_pop(l);
        run_entry(l, e);
    }
    return rc;
}

int conc_loop_run_forever(conc_loop_t *loop)
{
    conc__loop_t *l = conc__loop_of(loop);
    unsigned skipped = 0;

    if (!l)
        return CONC_EINVAL;
    int rc = enter(l);
    if (rc != 0)
        return rc;
    /* At least one iteration: a stop made before the run ends it after
     * the callbacks already due (as conc_loop_stop() documents). */
    do
        rc = iterate(l, CONC_FOREVER, &skipped);
    while (rc == 0 && !atomic_load_explicit(&l->stop, memory_order_acquire));
    atomic_store_explicit(&l->stop, 0, memory_order_relaxed);
    leave(l);
    return rc;
}

int conc_loop_run_once(conc_loop_t *loop, int64_t timeout_ns)
{
    conc__loop_t *l = conc__loop_of(loop);
    unsigned skipped = POLL_EVERY;

    if (!l)
        return CONC_EINVAL;
    int rc = enter(l);
    if (rc != 0)
        return rc;
    int64_t limit = timeout_ns < 0 ? CONC_FOREVER : conc__deadline(timeout_ns);
    if (timeout_ns == 0)
        limit = 0;
    rc = iterate(l, limit, &skipped);
    leave(l);
    return rc;
}

/* Used by conc_loop_run_until_complete(): iterate until done(arg), or until
 * nothing can ever happen again. */
CONC__HOT int conc__loop_run_until(conc__loop_t *l, bool (*done)(void *), void *arg)
{
    unsigned skipped = 0;
    int64_t recheck = 0;
    int rc = enter(l);

    if (rc != 0)
        return rc;
    while (!done(arg)) {
        int64_t limit = CONC_FOREVER;
        /* Descriptors watched: not quiet (checked inline, before the call). */
        if (!l->ready_head && !l->nwatched && conc__loop_quiet(l)) {
            if (conc__loop_deadlocked(l)) {
                rc = CONC_EDEADLK;
                break;
            }
            /* Only other threads can still act, and one that later blocks
             * for good wakes nobody: look again, less and less often
             * (1 ms doubling to 1 s), so such a deadlock is still found. */
            recheck = recheck ? recheck * 2 : CONC_MS(1);
            if (recheck > CONC_SEC(1))
                recheck = CONC_SEC(1);
            limit = conc__deadline(recheck);
        } else {
            recheck = 0;
        }
        if ((rc = iterate(l, limit, &skipped)) != 0) {
            if (done(arg))
                rc = 0; /* the task finished all the same */
            break;
        }
    }
    leave(l);
    return rc;
}

int conc_loop_stop(conc_loop_t *loop)
{
    conc__loop_t *l = conc__loop_of(loop);

    if (!l)
        return CONC_EINVAL;
    /* Counted as a remote caller: the loop may see the flag, return and be
     * destroyed while this thread is still waking it; conc_loop_destroy()
     * waits for remote_busy. Atomics only: fine in a signal handler. */
    atomic_fetch_add_explicit(&l->remote_busy, 1, memory_order_acquire);
    atomic_store_explicit(&l->stop, 1, memory_order_release);
    conc__loop_wake(l);
    atomic_fetch_sub_explicit(&l->remote_busy, 1, memory_order_release);
    return 0;
}

const char *conc_loop_poller_name(const conc_loop_t *loop)
{
    const conc__loop_t *l = conc__loop_of(loop);

    return l ? l->poller_ops->name : NULL;
}
